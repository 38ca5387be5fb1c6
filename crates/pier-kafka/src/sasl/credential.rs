//! What Pier stores per user: SCRAM keys, never a password. A leaked store
//! lets no one log in (the `StoredKey` is a hash of the key a proof needs) and
//! costs an attacker a PBKDF2 run per password guess.

use std::sync::OnceLock;

use subtle::ConstantTimeEq;

use super::crypto::ScramHash;
use super::{Mechanism, SaslError};

/// Kafka's `ScramMechanism` minimum; lower counts make guessing cheap.
pub const SCRAM_ITERATIONS_MIN: u32 = 4_096;
/// Kafka's `ScramMechanism` maximum. PLAIN runs PBKDF2 on every login, so
/// this bounds the CPU one login attempt can cost the broker.
pub const SCRAM_ITERATIONS_MAX: u32 = 16_384;
/// Twice Kafka's minimum: slower to guess, still cheap for a PLAIN login.
pub const SCRAM_ITERATIONS_DEFAULT: u32 = 8_192;
/// Salt length of new credentials, as Kafka's `ScramFormatter` (24 bytes).
pub const SCRAM_SALT_BYTES: usize = 24;

/// What is stored for one user and one SCRAM hash: never the password.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScramCredential {
    pub salt: Vec<u8>,
    pub iterations: u32,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

impl ScramCredential {
    /// A fresh random salt per credential, so equal passwords do not give
    /// equal keys and one precomputed table cannot attack every user.
    pub fn new(mechanism: Mechanism, password: &str, iterations: u32) -> Result<Self, SaslError> {
        let salt: [u8; SCRAM_SALT_BYTES] = rand::random();
        Self::with_salt(mechanism, password, &salt, iterations)
    }

    /// Reproduces a credential made elsewhere (Kafka's `kafka-configs`, test
    /// vectors), where the salt is given.
    pub fn with_salt(
        mechanism: Mechanism,
        password: &str,
        salt: &[u8],
        iterations: u32,
    ) -> Result<Self, SaslError> {
        let hash = ScramHash::of(mechanism)?;
        check_iterations(iterations)?;
        let (stored_key, server_key) = hash.keys(password, salt, iterations);
        Ok(Self {
            salt: salt.to_vec(),
            iterations,
            stored_key,
            server_key,
        })
    }

    /// Whether `password` matches: how PLAIN logs in against SCRAM keys.
    /// Constant-time, so the comparison leaks nothing about the keys; an
    /// iteration count outside the limits (a corrupt store) never matches
    /// rather than costing unbounded CPU.
    #[must_use]
    pub fn verify(&self, mechanism: Mechanism, password: &str) -> bool {
        let Ok(hash) = ScramHash::of(mechanism) else {
            return false;
        };
        if check_iterations(self.iterations).is_err() {
            return false;
        }
        let (stored_key, server_key) = hash.keys(password, &self.salt, self.iterations);
        let same = stored_key.ct_eq(&self.stored_key) & server_key.ct_eq(&self.server_key);
        same.into()
    }

    /// Stands in for a user that does not exist, so the exchange looks the
    /// same as for a real one: a salt that is stable per name within this
    /// process (a retry sees the same salt) and keys no password derives.
    pub(crate) fn decoy(hash: ScramHash, user: &str) -> Self {
        let label: &[u8] = match hash {
            ScramHash::Sha256 => b"SCRAM-SHA-256",
            ScramHash::Sha512 => b"SCRAM-SHA-512",
        };
        let mut input = Vec::with_capacity(label.len() + 1 + user.len());
        input.extend_from_slice(label);
        input.push(0);
        input.extend_from_slice(user.as_bytes());
        let mut salt = ScramHash::Sha256.hmac(decoy_secret(), &input);
        salt.truncate(SCRAM_SALT_BYTES);
        Self {
            salt,
            iterations: SCRAM_ITERATIONS_DEFAULT,
            stored_key: vec![0; hash.output_bytes()],
            server_key: vec![0; hash.output_bytes()],
        }
    }
}

/// Per-process key for decoy salts: without it anyone could compute the
/// decoy salt of a name and compare it with the one the server sends.
fn decoy_secret() -> &'static [u8; 32] {
    static SECRET: OnceLock<[u8; 32]> = OnceLock::new();
    SECRET.get_or_init(rand::random)
}

fn check_iterations(iterations: u32) -> Result<(), SaslError> {
    if (SCRAM_ITERATIONS_MIN..=SCRAM_ITERATIONS_MAX).contains(&iterations) {
        Ok(())
    } else {
        Err(SaslError::IterationsOutOfRange {
            iterations,
            min: SCRAM_ITERATIONS_MIN,
            max: SCRAM_ITERATIONS_MAX,
        })
    }
}

/// Both SCRAM credentials of a user, so a client may pick either mechanism.
/// PLAIN is verified against `sha512`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UserCredentials {
    pub sha256: ScramCredential,
    pub sha512: ScramCredential,
}

impl UserCredentials {
    pub fn new(password: &str, iterations: u32) -> Result<Self, SaslError> {
        Ok(Self {
            sha256: ScramCredential::new(Mechanism::ScramSha256, password, iterations)?,
            sha512: ScramCredential::new(Mechanism::ScramSha512, password, iterations)?,
        })
    }

    pub(crate) fn for_hash(&self, hash: ScramHash) -> &ScramCredential {
        match hash {
            ScramHash::Sha256 => &self.sha256,
            ScramHash::Sha512 => &self.sha512,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iterations_at_the_limits_are_accepted_and_beyond_refused() {
        let make = |i| ScramCredential::with_salt(Mechanism::ScramSha256, "pw", b"salt", i);
        assert!(make(SCRAM_ITERATIONS_MIN).is_ok());
        let low = make(SCRAM_ITERATIONS_MIN - 1).unwrap_err();
        assert!(matches!(
            low,
            SaslError::IterationsOutOfRange {
                iterations: 4_095,
                ..
            }
        ));
        let high = make(SCRAM_ITERATIONS_MAX + 1).unwrap_err();
        assert!(matches!(
            high,
            SaslError::IterationsOutOfRange {
                iterations: 16_385,
                ..
            }
        ));
    }

    #[test]
    fn plain_has_no_scram_credential() {
        let err = ScramCredential::new(Mechanism::Plain, "pw", SCRAM_ITERATIONS_MIN).unwrap_err();
        assert_eq!(err, SaslError::NotScram(Mechanism::Plain));
    }

    #[test]
    fn verify_accepts_the_password_only() {
        let credential =
            ScramCredential::new(Mechanism::ScramSha512, "s3cret", SCRAM_ITERATIONS_MIN).unwrap();
        assert_eq!(credential.salt.len(), SCRAM_SALT_BYTES);
        assert!(credential.verify(Mechanism::ScramSha512, "s3cret"));
        assert!(!credential.verify(Mechanism::ScramSha512, "s3cret "));
        assert!(!credential.verify(Mechanism::ScramSha256, "s3cret"));
        assert!(!credential.verify(Mechanism::Plain, "s3cret"));
    }

    #[test]
    fn verify_refuses_a_corrupt_iteration_count() {
        let mut credential =
            ScramCredential::with_salt(Mechanism::ScramSha256, "pw", b"salt", 4_096).unwrap();
        credential.iterations = u32::MAX;
        assert!(!credential.verify(Mechanism::ScramSha256, "pw"));
    }

    #[test]
    fn new_salts_differ_so_equal_passwords_give_different_keys() {
        let a = UserCredentials::new("same", SCRAM_ITERATIONS_MIN).unwrap();
        let b = UserCredentials::new("same", SCRAM_ITERATIONS_MIN).unwrap();
        assert_ne!(a.sha256.stored_key, b.sha256.stored_key);
        assert_ne!(a.sha256.salt, a.sha512.salt);
    }

    #[test]
    fn decoy_salt_is_stable_per_name_and_differs_between_names() {
        let a = ScramCredential::decoy(ScramHash::Sha256, "ghost");
        assert_eq!(a, ScramCredential::decoy(ScramHash::Sha256, "ghost"));
        assert_ne!(
            a.salt,
            ScramCredential::decoy(ScramHash::Sha256, "ghost2").salt
        );
        assert_ne!(
            a.salt,
            ScramCredential::decoy(ScramHash::Sha512, "ghost").salt
        );
        assert_eq!(a.salt.len(), SCRAM_SALT_BYTES);
    }
}
