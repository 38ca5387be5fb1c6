//! The few primitives SCRAM is built from, chosen at run time by hash so the
//! state machine above stays free of generics.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_PAD_INDIFFERENT};
use hmac::{EagerHash, Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256, Sha512};

use super::{Mechanism, SaslError};

/// The hash behind a SCRAM mechanism.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScramHash {
    Sha256,
    Sha512,
}

impl ScramHash {
    pub(crate) fn of(mechanism: Mechanism) -> Result<Self, SaslError> {
        match mechanism {
            Mechanism::ScramSha256 => Ok(Self::Sha256),
            Mechanism::ScramSha512 => Ok(Self::Sha512),
            Mechanism::Plain => Err(SaslError::NotScram(mechanism)),
        }
    }

    pub(crate) fn mechanism(self) -> Mechanism {
        match self {
            Self::Sha256 => Mechanism::ScramSha256,
            Self::Sha512 => Mechanism::ScramSha512,
        }
    }

    /// Length of a digest, and so of every key and proof.
    pub(crate) fn output_bytes(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }

    pub(crate) fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => Sha256::digest(data).to_vec(),
            Self::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    pub(crate) fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => hmac_with::<Sha256>(key, data),
            Self::Sha512 => hmac_with::<Sha512>(key, data),
        }
    }

    /// RFC 5802's `Hi(password, salt, i)`: PBKDF2 with one block of output.
    /// The password is used as UTF-8 bytes without `SASLprep`, as Kafka does,
    /// so credentials made by Kafka's tools verify here too.
    pub(crate) fn salted_password(self, password: &str, salt: &[u8], iterations: u32) -> Vec<u8> {
        let mut out = vec![0; self.output_bytes()];
        match self {
            Self::Sha256 => {
                pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut out);
            }
            Self::Sha512 => {
                pbkdf2::pbkdf2_hmac::<Sha512>(password.as_bytes(), salt, iterations, &mut out);
            }
        }
        out
    }

    /// `(StoredKey, ServerKey)` for a password: all a server keeps.
    pub(crate) fn keys(self, password: &str, salt: &[u8], iterations: u32) -> (Vec<u8>, Vec<u8>) {
        let salted = self.salted_password(password, salt, iterations);
        let client_key = self.hmac(&salted, b"Client Key");
        let server_key = self.hmac(&salted, b"Server Key");
        (self.digest(&client_key), server_key)
    }
}

fn hmac_with<D: EagerHash>(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC hashes long keys and pads short ones, so no key length is invalid.
    let mut mac = <Hmac<D> as KeyInit>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Lenient about padding because Java's decoder, which Kafka clients are
/// tested against, is.
pub(crate) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    STANDARD_PAD_INDIFFERENT.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpadded_base64_is_accepted() {
        assert_eq!(base64_decode("biws"), Some(b"n,,".to_vec()));
        assert_eq!(base64_decode("eSws"), Some(b"y,,".to_vec()));
        assert_eq!(base64_decode("YQ"), Some(b"a".to_vec()));
        assert_eq!(base64_decode("not base64!"), None);
    }
}
