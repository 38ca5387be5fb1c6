//! What can go wrong in an exchange. The text of each error goes back to the
//! client in `SaslAuthenticate`'s `error_message`, so none of it may say
//! whether a user exists.

use super::Mechanism;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    /// Unknown user and wrong password share this one error (and, for SCRAM,
    /// the same moment: the proof), so a client cannot probe for user names.
    #[error(
        "Authentication failed during authentication due to invalid credentials with SASL mechanism {0}"
    )]
    InvalidCredentials(Mechanism),
    #[error("malformed {mechanism} message: {problem}")]
    Malformed {
        mechanism: Mechanism,
        problem: Malformed,
    },
    /// Impersonation (acting for another user) needs authorization rules
    /// Pier does not have.
    #[error("{0}: the authorization id must be empty or equal to the user name")]
    AuthzidMismatch(Mechanism),
    #[error("SCRAM channel binding (gs2 header `p=`) is not supported; use `n,,`")]
    ChannelBindingUnsupported,
    #[error("delegation-token authentication (SCRAM extension tokenauth=true) is not supported")]
    TokenAuthUnsupported,
    #[error("SASL message of {size_bytes} bytes is larger than the limit of {max_bytes} bytes")]
    MessageTooLarge { size_bytes: usize, max_bytes: usize },
    #[error("the SASL exchange already ended; no further message is expected")]
    ExchangeEnded,
    #[error("SCRAM iteration count {iterations} is outside {min}..={max}")]
    IterationsOutOfRange { iterations: u32, min: u32, max: u32 },
    #[error("{0} is not a SCRAM mechanism")]
    NotScram(Mechanism),
}

/// Which part of a client message broke the grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("not UTF-8")]
    NotUtf8,
    /// A required part is missing, usually because the message was cut short.
    #[error("truncated or out of order: expected {0}")]
    Expected(&'static str),
    #[error("PLAIN {0} is empty")]
    Empty(&'static str),
    #[error("bad gs2 header")]
    Gs2Header,
    #[error("bad user name (empty, or `=` not escaped as =2C or =3D)")]
    Username,
    #[error("bad nonce (empty, or not printable ASCII)")]
    Nonce,
    #[error("wrong nonce")]
    WrongNonce,
    #[error("bad base64 in {0}")]
    Base64(&'static str),
    #[error("bad proof (wrong length)")]
    Proof,
    #[error("channel binding `c=` does not match the gs2 header of the first message")]
    ChannelBinding,
    #[error("mandatory extension `m=` is not supported")]
    MandatoryExtension,
    #[error("bad extension (expected key=value)")]
    Extension,
}
