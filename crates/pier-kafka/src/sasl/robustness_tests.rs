//! Input no client should send: cut-off messages and arbitrary bytes must
//! give an error (or a valid step), never a panic or a login.

use proptest::prelude::*;

use super::test_support::{
    ALICE_PASSWORD, SCRAMS, after_first, alice_client, alice_lookup, fixed_exchange,
};
use super::*;

#[test]
fn every_prefix_of_valid_messages_is_refused_or_a_valid_step() {
    let client = alice_client(Mechanism::ScramSha256, ALICE_PASSWORD);
    let first = client.first_message();
    for end in 0..first.len() {
        match fixed_exchange(Mechanism::ScramSha256).step(&first[..end], &alice_lookup) {
            Err(_) | Ok(Step::Challenge(_)) => {}
            Ok(done) => panic!("prefix {end} of client-first gave {done:?}"),
        }
    }
    let (_, client_final, _) = after_first(&client, Mechanism::ScramSha256);
    // The proof's base64 padding is optional, so the cut before `=` is whole.
    let unpadded = client_final.len() - 1;
    assert_eq!(client_final[unpadded], b'=');
    for end in 0..unpadded {
        let (mut exchange, _, _) = after_first(&client, Mechanism::ScramSha256);
        let result = exchange.step(&client_final[..end], &alice_lookup);
        assert!(
            result.is_err(),
            "prefix {end} of client-final gave {result:?}"
        );
    }
}

/// Text close enough to SCRAM to get past the first checks.
fn scramish() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..96),
        "[nyp]=?,(a=[a-z=23CD]{0,5})?,[nm]=[a-z=23CD]{0,6},r=[!-~]{0,8}(,[a-z]{1,9}=[!-~]{0,6}){0,2}"
            .prop_map(String::into_bytes),
        "c=[a-zA-Z0-9+/=]{0,8},r=[!-~]{0,40}(,[a-z]=[a-z]*)?,p=[a-zA-Z0-9+/=]{0,90}"
            .prop_map(String::into_bytes),
    ]
}

proptest! {
    #[test]
    fn arbitrary_first_messages_never_panic(mechanism in prop::sample::select(&Mechanism::ALL[..]), message in scramish()) {
        let mut exchange = Exchange::new(mechanism);
        match exchange.step(&message, &alice_lookup) {
            Ok(Step::Challenge(_)) => prop_assert!(mechanism != Mechanism::Plain),
            // A first message can only log in with PLAIN, and only as alice.
            Ok(Step::Done { user, .. }) => prop_assert!(mechanism == Mechanism::Plain && user == "alice"),
            Err(_) => prop_assert!(exchange.is_ended()),
        }
    }

    #[test]
    fn arbitrary_final_messages_never_panic_nor_authenticate(mechanism in prop::sample::select(&SCRAMS[..]), message in scramish()) {
        let client = alice_client(mechanism, ALICE_PASSWORD);
        let (mut exchange, _, _) = after_first(&client, mechanism);
        prop_assert!(exchange.step(&message, &alice_lookup).is_err());
        prop_assert_eq!(exchange.step(&message, &alice_lookup), Err(SaslError::ExchangeEnded));
    }
}
