//! A known user and a small SCRAM client, written from RFC 5802 rather than
//! from the server, to drive whole exchanges in tests.

use std::sync::OnceLock;

use super::crypto::{ScramHash, base64_decode, base64_encode};
use super::{
    Exchange, Malformed, Mechanism, SCRAM_ITERATIONS_MIN, SaslError, Step, UserCredentials,
};

pub(super) const ALICE_PASSWORD: &str = "correct horse battery staple";

/// Computed once: PBKDF2 is slow in test builds.
pub(super) fn alice() -> &'static UserCredentials {
    static ALICE: OnceLock<UserCredentials> = OnceLock::new();
    ALICE.get_or_init(|| UserCredentials::new(ALICE_PASSWORD, SCRAM_ITERATIONS_MIN).unwrap())
}

/// Knows only "alice".
pub(super) fn alice_lookup(user: &str) -> Option<UserCredentials> {
    (user == "alice").then(|| alice().clone())
}

/// The client side of one SCRAM exchange.
pub(super) struct ScramClient {
    hash: ScramHash,
    password: String,
    gs2_header: String,
    bare: String,
}

impl ScramClient {
    /// `user` as it goes on the wire, so tests can send escapes.
    pub(super) fn new(mechanism: Mechanism, user: &str, password: &str, nonce: &str) -> Self {
        Self {
            hash: ScramHash::of(mechanism).unwrap(),
            password: password.to_owned(),
            gs2_header: "n,,".to_owned(),
            bare: format!("n={user},r={nonce}"),
        }
    }

    /// Uses another gs2 header, such as `y,,` or one with `a=`.
    pub(super) fn with_gs2_header(mut self, gs2_header: &str) -> Self {
        gs2_header.clone_into(&mut self.gs2_header);
        self
    }

    pub(super) fn first_message(&self) -> Vec<u8> {
        format!("{}{}", self.gs2_header, self.bare).into_bytes()
    }

    /// The client-final message for `server_first`, and the server-final
    /// message a server that knows the password must answer.
    pub(super) fn final_message(&self, server_first: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let server_first = std::str::from_utf8(server_first).unwrap();
        let mut fields = server_first.split(',');
        let nonce = fields.next().unwrap().strip_prefix("r=").unwrap();
        let salt = base64_decode(fields.next().unwrap().strip_prefix("s=").unwrap()).unwrap();
        let iterations = fields
            .next()
            .unwrap()
            .strip_prefix("i=")
            .unwrap()
            .parse()
            .unwrap();
        let hash = self.hash;
        let salted = hash.salted_password(&self.password, &salt, iterations);
        let client_key = hash.hmac(&salted, b"Client Key");
        let server_key = hash.hmac(&salted, b"Server Key");
        let without_proof = format!("c={},r={nonce}", base64_encode(self.gs2_header.as_bytes()));
        let auth_message = format!("{},{server_first},{without_proof}", self.bare);
        let signature = hash.hmac(&hash.digest(&client_key), auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(k, s)| k ^ s)
            .collect();
        let client_final = format!("{without_proof},p={}", base64_encode(&proof));
        let server_final = format!(
            "v={}",
            base64_encode(&hash.hmac(&server_key, auth_message.as_bytes()))
        );
        (client_final.into_bytes(), server_final.into_bytes())
    }
}

pub(super) const SCRAMS: [Mechanism; 2] = [Mechanism::ScramSha256, Mechanism::ScramSha512];
pub(super) const CLIENT_NONCE: &str = "fyko+d2lbbFgONRv9qkxdawL";
pub(super) const SERVER_NONCE: &str = "3rfcNHYJY1ZVvWVs7j";

pub(super) fn challenge(step: Result<Step, SaslError>) -> Vec<u8> {
    match step {
        Ok(Step::Challenge(bytes)) => bytes,
        other => panic!("expected a challenge, got {other:?}"),
    }
}

pub(super) fn fixed_exchange(mechanism: Mechanism) -> Exchange {
    Exchange::with_server_nonce(mechanism, Some(SERVER_NONCE.to_owned()))
}

/// Runs the first step; returns the exchange and the final message the
/// client would send, with the server-final message it expects.
pub(super) fn after_first(
    client: &ScramClient,
    mechanism: Mechanism,
) -> (Exchange, Vec<u8>, Vec<u8>) {
    let mut exchange = fixed_exchange(mechanism);
    let server_first = challenge(exchange.step(&client.first_message(), &alice_lookup));
    let (client_final, server_final) = client.final_message(&server_first);
    (exchange, client_final, server_final)
}

pub(super) fn alice_client(mechanism: Mechanism, password: &str) -> ScramClient {
    ScramClient::new(mechanism, "alice", password, CLIENT_NONCE)
}

pub(super) fn malformed(mechanism: Mechanism, problem: Malformed) -> SaslError {
    SaslError::Malformed { mechanism, problem }
}
