//! SASL authentication for Kafka's `SaslHandshake` and `SaslAuthenticate`:
//! PLAIN (RFC 4616) and SCRAM-SHA-256/512 (RFC 5802, RFC 7677).
//!
//! Sans-IO: the connection hands each client message to [`Exchange::step`]
//! and sends back what it returns. Nothing here touches a socket or a clock,
//! so every exchange can be replayed byte for byte in tests and fuzzing.
//!
//! Pier stores only SCRAM keys ([`UserCredentials`]), never passwords; PLAIN
//! checks the password it carries by deriving the SCRAM-SHA-512 keys again.

mod credential;
mod crypto;
mod error;
mod plain;
#[cfg(test)]
mod robustness_tests;
mod scram;
mod scram_msg;
#[cfg(test)]
mod scram_tests;
#[cfg(test)]
mod test_support;

pub use credential::{
    SCRAM_ITERATIONS_DEFAULT, SCRAM_ITERATIONS_MAX, SCRAM_ITERATIONS_MIN, SCRAM_SALT_BYTES,
    ScramCredential, UserCredentials,
};
pub use error::{Malformed, SaslError};

use crypto::ScramHash;
use scram::{AwaitingFinal, AwaitingFirst};

/// Largest client message accepted. Real ones are well under 1 KiB; the
/// limit keeps a hostile client from making the broker parse, copy or
/// base64-decode megabytes per step.
pub const SASL_MESSAGE_MAX_BYTES: usize = 8 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    ScramSha256,
    ScramSha512,
}

impl Mechanism {
    /// In the order SaslHandshake advertises them.
    pub const ALL: [Mechanism; 3] = [Self::Plain, Self::ScramSha256, Self::ScramSha512];

    /// Exact, case-sensitive names, as Kafka compares them.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|mechanism| mechanism.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

impl std::fmt::Display for Mechanism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Where an exchange finds a user's credentials; the broker backs it with
/// its store, tests with a closure.
pub trait CredentialLookup {
    fn credentials(&self, user: &str) -> Option<UserCredentials>;
}

impl<F: Fn(&str) -> Option<UserCredentials>> CredentialLookup for F {
    fn credentials(&self, user: &str) -> Option<UserCredentials> {
        self(user)
    }
}

/// What to do after a client message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send these bytes back (SaslAuthenticate `auth_bytes`) and wait for
    /// the next message.
    Challenge(Vec<u8>),
    /// Authenticated as `user`; send `reply` (empty for PLAIN, the
    /// server-final `v=...` for SCRAM, which lets the client check the
    /// server too).
    Done { user: String, reply: Vec<u8> },
}

/// One client's exchange, created once SaslHandshake picked a mechanism.
#[derive(Debug)]
pub struct Exchange {
    mechanism: Mechanism,
    state: State,
}

#[derive(Debug)]
enum State {
    Plain,
    ScramFirst(AwaitingFirst),
    ScramFinal(Box<AwaitingFinal>),
    /// Done or failed: a client gets one attempt per exchange, so a failure
    /// cannot be retried within it and a success cannot be replayed.
    Ended,
}

impl Exchange {
    pub fn new(mechanism: Mechanism) -> Self {
        Self::with_server_nonce(mechanism, None)
    }

    /// `server_nonce` is fixed only by tests replaying a known exchange.
    fn with_server_nonce(mechanism: Mechanism, server_nonce: Option<String>) -> Self {
        let state = match mechanism {
            Mechanism::Plain => State::Plain,
            Mechanism::ScramSha256 => {
                State::ScramFirst(AwaitingFirst::new(ScramHash::Sha256, server_nonce))
            }
            Mechanism::ScramSha512 => {
                State::ScramFirst(AwaitingFirst::new(ScramHash::Sha512, server_nonce))
            }
        };
        Self { mechanism, state }
    }

    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// Whether the exchange succeeded or failed: no further message is
    /// expected.
    pub fn is_ended(&self) -> bool {
        matches!(self.state, State::Ended)
    }

    /// Feeds the client's next message. Any error ends the exchange (further
    /// steps return [`SaslError::ExchangeEnded`]).
    pub fn step(
        &mut self,
        client_message: &[u8],
        users: &dyn CredentialLookup,
    ) -> Result<Step, SaslError> {
        let state = std::mem::replace(&mut self.state, State::Ended);
        if matches!(state, State::Ended) {
            return Err(SaslError::ExchangeEnded);
        }
        if client_message.len() > SASL_MESSAGE_MAX_BYTES {
            return Err(SaslError::MessageTooLarge {
                size_bytes: client_message.len(),
                max_bytes: SASL_MESSAGE_MAX_BYTES,
            });
        }
        match state {
            State::Plain => {
                let user = plain::authenticate(client_message, users)?;
                Ok(Step::Done {
                    user,
                    reply: Vec::new(),
                })
            }
            State::ScramFirst(first) => {
                let (challenge, next) = first.receive(client_message, users)?;
                self.state = State::ScramFinal(Box::new(next));
                Ok(Step::Challenge(challenge))
            }
            State::ScramFinal(last) => {
                let (user, reply) = last.receive(client_message)?;
                Ok(Step::Done { user, reply })
            }
            State::Ended => Err(SaslError::ExchangeEnded),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mechanism_names_are_kafkas_exactly() {
        for mechanism in Mechanism::ALL {
            assert_eq!(Mechanism::from_name(mechanism.name()), Some(mechanism));
        }
        assert_eq!(Mechanism::ScramSha256.to_string(), "SCRAM-SHA-256");
        assert_eq!(Mechanism::from_name("plain"), None);
        assert_eq!(Mechanism::from_name("SCRAM-SHA-1"), None);
        assert_eq!(Mechanism::from_name("GSSAPI"), None);
    }

    #[test]
    fn debug_output_shows_no_keys() {
        let credentials = test_support::alice().clone();
        let users = move |_: &str| Some(credentials.clone());
        let mut exchange = Exchange::new(Mechanism::ScramSha256);
        exchange.step(b"n,,n=alice,r=abc", &users).unwrap();
        let debug = format!("{exchange:?}");
        assert!(debug.contains("ScramSha256"), "{debug}");
        assert!(
            !debug.contains("stored_key") && !debug.contains("alice"),
            "{debug}"
        );
    }
}
