//! Any bytes as one SASL exchange: the first byte picks the mechanism, the
//! rest is up to three client messages split at 0xFF (never valid UTF-8, so
//! it cannot hide inside a real message). Every step must return, never
//! panic, and an error must end the exchange.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pier_kafka::sasl::{Exchange, Mechanism, SCRAM_ITERATIONS_MIN, Step, UserCredentials};

/// Computed once: PBKDF2 per input would leave no time for fuzzing.
fn alice() -> &'static UserCredentials {
    static ALICE: OnceLock<UserCredentials> = OnceLock::new();
    ALICE.get_or_init(|| UserCredentials::new("alice-password", SCRAM_ITERATIONS_MIN).unwrap())
}

fn lookup(user: &str) -> Option<UserCredentials> {
    (user == "alice").then(|| alice().clone())
}

/// The server's nonce is random, so the fuzzer could never echo it; it
/// writes `NONCE` instead and gets past the nonce check to the proof.
fn splice_nonce(message: &[u8], nonce: Option<&[u8]>) -> Vec<u8> {
    let marker = b"NONCE";
    match (
        nonce,
        message.windows(marker.len()).position(|w| w == marker),
    ) {
        (Some(nonce), Some(at)) => [&message[..at], nonce, &message[at + marker.len()..]].concat(),
        _ => message.to_vec(),
    }
}

/// `r=<nonce>` opens every server-first message.
fn nonce_of(challenge: &[u8]) -> Option<Vec<u8>> {
    let rest = challenge.strip_prefix(b"r=")?;
    let end = rest.iter().position(|&b| b == b',').unwrap_or(rest.len());
    Some(rest[..end].to_vec())
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, messages)) = data.split_first() else {
        return;
    };
    let mechanism = Mechanism::ALL[usize::from(selector) % Mechanism::ALL.len()];
    let mut exchange = Exchange::new(mechanism);
    let mut nonce = None;
    for message in messages.split(|&b| b == 0xFF).take(3) {
        let message = splice_nonce(message, nonce.as_deref());
        match exchange.step(&message, &lookup) {
            Ok(Step::Challenge(challenge)) => nonce = nonce_of(&challenge),
            Ok(Step::Done { user, .. }) => {
                assert_eq!(user, "alice", "only alice can authenticate");
                assert!(exchange.is_ended());
            }
            Err(_) => assert!(exchange.is_ended(), "an error must end the exchange"),
        }
    }
});
