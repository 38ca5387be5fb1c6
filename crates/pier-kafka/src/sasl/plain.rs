//! SASL PLAIN (RFC 4616): the password travels in the clear (so only over
//! TLS or a trusted network) and is checked against the stored SCRAM-SHA-512
//! keys, since Pier keeps no passwords.

use super::credential::ScramCredential;
use super::crypto::ScramHash;
use super::{CredentialLookup, Malformed, Mechanism, SaslError};

/// Checks `[authzid] NUL authcid NUL passwd`; returns the user name.
pub(super) fn authenticate(
    message: &[u8],
    users: &dyn CredentialLookup,
) -> Result<String, SaslError> {
    let bad = |problem| SaslError::Malformed {
        mechanism: Mechanism::Plain,
        problem,
    };
    let message = std::str::from_utf8(message).map_err(|_| bad(Malformed::NotUtf8))?;
    let mut fields = message.split('\0');
    let (Some(authzid), Some(user), Some(password), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(bad(Malformed::Expected("authzid NUL authcid NUL passwd")));
    };
    if user.is_empty() {
        return Err(bad(Malformed::Empty("user name")));
    }
    if password.is_empty() {
        return Err(bad(Malformed::Empty("password")));
    }
    if !authzid.is_empty() && authzid != user {
        return Err(SaslError::AuthzidMismatch(Mechanism::Plain));
    }
    // An unknown user costs the same PBKDF2 run as a known one, so the time
    // to answer does not tell a client which names exist.
    let stored = users.credentials(user);
    let known = stored.is_some();
    let credential = match stored {
        Some(credentials) => credentials.sha512,
        None => ScramCredential::decoy(ScramHash::Sha512, user),
    };
    let matches = credential.verify(Mechanism::ScramSha512, password);
    if known && matches {
        Ok(user.to_owned())
    } else {
        Err(SaslError::InvalidCredentials(Mechanism::Plain))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{ALICE_PASSWORD, alice_lookup};
    use super::super::{Exchange, Step};
    use super::*;

    fn plain(message: &[u8]) -> Result<Step, SaslError> {
        Exchange::new(Mechanism::Plain).step(message, &alice_lookup)
    }

    fn done(user: &str) -> Step {
        Step::Done {
            user: user.to_owned(),
            reply: Vec::new(),
        }
    }

    #[test]
    fn plain_accepts_the_right_password_with_or_without_authzid() {
        let message = format!("\0alice\0{ALICE_PASSWORD}");
        assert_eq!(plain(message.as_bytes()), Ok(done("alice")));
        let message = format!("alice\0alice\0{ALICE_PASSWORD}");
        assert_eq!(plain(message.as_bytes()), Ok(done("alice")));
    }

    #[test]
    fn plain_wrong_password_and_unknown_user_give_the_same_error() {
        let wrong = plain(b"\0alice\0not-the-password").unwrap_err();
        let unknown = plain(format!("\0bob\0{ALICE_PASSWORD}").as_bytes()).unwrap_err();
        assert_eq!(wrong, SaslError::InvalidCredentials(Mechanism::Plain));
        assert_eq!(wrong, unknown);
        assert_eq!(wrong.to_string(), unknown.to_string());
    }

    #[test]
    fn plain_refuses_an_authzid_other_than_the_user() {
        let message = format!("admin\0alice\0{ALICE_PASSWORD}");
        assert_eq!(
            plain(message.as_bytes()),
            Err(SaslError::AuthzidMismatch(Mechanism::Plain))
        );
    }

    #[test]
    fn plain_refuses_wrong_shapes() {
        let malformed = |problem| {
            Err(SaslError::Malformed {
                mechanism: Mechanism::Plain,
                problem,
            })
        };
        let shape = Malformed::Expected("authzid NUL authcid NUL passwd");
        assert_eq!(plain(b""), malformed(shape));
        assert_eq!(plain(b"alice\0pw"), malformed(shape));
        assert_eq!(plain(b"\0alice\0pw\0extra"), malformed(shape));
        assert_eq!(plain(b"\0\0pw"), malformed(Malformed::Empty("user name")));
        assert_eq!(plain(b"\0alice\0"), malformed(Malformed::Empty("password")));
        assert_eq!(plain(b"\0alice\0\xff"), malformed(Malformed::NotUtf8));
    }
}
