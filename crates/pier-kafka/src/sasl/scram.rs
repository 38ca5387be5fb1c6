//! The SCRAM server (RFC 5802) in its two waits: for the client's first
//! message, then for its proof. Each wait is a type, and receiving a message
//! consumes it, so a message can be answered only once.

use subtle::ConstantTimeEq;

use super::credential::ScramCredential;
use super::crypto::{ScramHash, base64_decode, base64_encode};
use super::scram_msg::{parse_client_final, parse_client_first};
use super::{CredentialLookup, Malformed, Mechanism, SaslError};

/// Random bytes in the server's half of the nonce (RFC 5802 wants it
/// unpredictable; 24 bytes is 32 base64 characters, no padding, no comma).
const SERVER_NONCE_BYTES: usize = 24;

/// Waiting for `client-first-message`.
#[derive(Debug)]
pub(super) struct AwaitingFirst {
    mechanism: Mechanism,
    hash: ScramHash,
    server_nonce: String,
}

/// Sent `server-first-message`; waiting for `client-final-message`.
pub(super) struct AwaitingFinal {
    mechanism: Mechanism,
    hash: ScramHash,
    user: String,
    /// False for a made-up user: the exchange runs on to the proof with a
    /// decoy credential, then fails just like a wrong password.
    known: bool,
    credential: ScramCredential,
    gs2_header: String,
    nonce: String,
    /// `client-first-message-bare "," server-first-message`, the start of
    /// the AuthMessage.
    auth_message_start: String,
}

impl std::fmt::Debug for AwaitingFinal {
    // Keys and the user's existence stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwaitingFinal")
            .field("mechanism", &self.mechanism)
            .finish_non_exhaustive()
    }
}

impl AwaitingFirst {
    /// `server_nonce` is fixed only by tests replaying a known exchange.
    pub(super) fn new(hash: ScramHash, server_nonce: Option<String>) -> Self {
        let server_nonce = server_nonce.unwrap_or_else(|| {
            let nonce: [u8; SERVER_NONCE_BYTES] = rand::random();
            base64_encode(&nonce)
        });
        Self {
            mechanism: hash.mechanism(),
            hash,
            server_nonce,
        }
    }

    /// Answers with `r=<client+server nonce>,s=<salt>,i=<iterations>`.
    pub(super) fn receive(
        self,
        message: &[u8],
        users: &dyn CredentialLookup,
    ) -> Result<(Vec<u8>, AwaitingFinal), SaslError> {
        let message = utf8(self.mechanism, message)?;
        let first = parse_client_first(self.mechanism, message)?;
        let stored = users.credentials(&first.user);
        let known = stored.is_some();
        let credential = match stored {
            Some(credentials) => credentials.for_hash(self.hash).clone(),
            None => ScramCredential::decoy(self.hash, &first.user),
        };
        let nonce = format!("{}{}", first.client_nonce, self.server_nonce);
        let server_first = format!(
            "r={nonce},s={},i={}",
            base64_encode(&credential.salt),
            credential.iterations
        );
        let next = AwaitingFinal {
            mechanism: self.mechanism,
            hash: self.hash,
            user: first.user,
            known,
            credential,
            gs2_header: first.gs2_header.to_owned(),
            nonce,
            auth_message_start: format!("{},{server_first}", first.bare),
        };
        Ok((server_first.into_bytes(), next))
    }
}

impl AwaitingFinal {
    /// Checks the proof; returns the user and `v=<server signature>`, which
    /// proves to the client that the server knows its keys too.
    pub(super) fn receive(self, message: &[u8]) -> Result<(String, Vec<u8>), SaslError> {
        let bad = |problem| SaslError::Malformed {
            mechanism: self.mechanism,
            problem,
        };
        let message = utf8(self.mechanism, message)?;
        let last = parse_client_final(self.mechanism, message)?;
        let channel_binding =
            base64_decode(last.channel_binding).ok_or(bad(Malformed::Base64("c=")))?;
        if channel_binding != self.gs2_header.as_bytes() {
            return Err(bad(Malformed::ChannelBinding));
        }
        // Kafka accepts a final nonce that *ends with* the full nonce
        // (`ScramSaslServer`), because librdkafka (kcat, confluent-kafka
        // up to at least 2.0) sends its own nonce once more in front of it;
        // the whole nonce, server part included, must still be there.
        if !last.nonce.ends_with(&self.nonce) {
            return Err(bad(Malformed::WrongNonce));
        }
        let proof = base64_decode(last.proof).ok_or(bad(Malformed::Base64("p=")))?;
        if proof.len() != self.hash.output_bytes() {
            return Err(bad(Malformed::Proof));
        }
        let auth_message = format!("{},{}", self.auth_message_start, last.without_proof);
        let client_signature = self
            .hash
            .hmac(&self.credential.stored_key, auth_message.as_bytes());
        let client_key: Vec<u8> = proof
            .iter()
            .zip(&client_signature)
            .map(|(p, s)| p ^ s)
            .collect();
        let proven: bool = self
            .hash
            .digest(&client_key)
            .ct_eq(&self.credential.stored_key)
            .into();
        if !(self.known && proven) {
            return Err(SaslError::InvalidCredentials(self.mechanism));
        }
        let server_signature = self
            .hash
            .hmac(&self.credential.server_key, auth_message.as_bytes());
        Ok((
            self.user,
            format!("v={}", base64_encode(&server_signature)).into_bytes(),
        ))
    }
}

fn utf8(mechanism: Mechanism, message: &[u8]) -> Result<&str, SaslError> {
    std::str::from_utf8(message).map_err(|_| SaslError::Malformed {
        mechanism,
        problem: Malformed::NotUtf8,
    })
}
