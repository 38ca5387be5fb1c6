//! Whole SCRAM exchanges: the RFC 7677 vector, round trips against the test
//! client, and every refusal.

use super::crypto::base64_decode;
use super::test_support::{
    ALICE_PASSWORD, CLIENT_NONCE, SCRAMS, SERVER_NONCE, ScramClient, after_first, alice_client,
    alice_lookup, challenge, fixed_exchange, malformed,
};
use super::*;

#[test]
fn rfc_7677_sha256_vector_is_reproduced() {
    let salt = base64_decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
    let credentials = UserCredentials {
        sha256: ScramCredential::with_salt(Mechanism::ScramSha256, "pencil", &salt, 4096).unwrap(),
        sha512: ScramCredential::with_salt(Mechanism::ScramSha512, "pencil", &salt, 4096).unwrap(),
    };
    let users = move |user: &str| (user == "user").then(|| credentials.clone());
    let server_nonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    let mut exchange =
        Exchange::with_server_nonce(Mechanism::ScramSha256, Some(server_nonce.into()));
    let server_first = challenge(exchange.step(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO", &users));
    assert_eq!(
        server_first,
        b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    );
    let client_final = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
        p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    let done = exchange.step(client_final, &users).unwrap();
    let reply = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".to_vec();
    assert_eq!(
        done,
        Step::Done {
            user: "user".into(),
            reply
        }
    );
    assert!(exchange.is_ended());
}

#[test]
fn round_trip_with_the_test_client_for_both_hashes() {
    for mechanism in SCRAMS {
        let client = alice_client(mechanism, ALICE_PASSWORD);
        let (mut exchange, client_final, server_final) = after_first(&client, mechanism);
        let done = exchange.step(&client_final, &alice_lookup).unwrap();
        assert_eq!(
            done,
            Step::Done {
                user: "alice".into(),
                reply: server_final
            }
        );
    }
}

#[test]
fn y_gs2_header_round_trips_and_must_be_repeated_in_c() {
    let client = alice_client(Mechanism::ScramSha512, ALICE_PASSWORD).with_gs2_header("y,,");
    let (mut exchange, client_final, _) = after_first(&client, Mechanism::ScramSha512);
    assert!(client_final.starts_with(b"c=eSws,"));
    assert!(matches!(
        exchange.step(&client_final, &alice_lookup),
        Ok(Step::Done { .. })
    ));

    let (mut exchange, client_final, _) = after_first(&client, Mechanism::ScramSha512);
    let downgraded = [b"c=biws".as_slice(), &client_final[6..]].concat();
    let err = exchange.step(&downgraded, &alice_lookup).unwrap_err();
    assert_eq!(
        err,
        malformed(Mechanism::ScramSha512, Malformed::ChannelBinding)
    );
}

#[test]
fn authzid_equal_to_the_user_is_accepted() {
    let client = alice_client(Mechanism::ScramSha256, ALICE_PASSWORD).with_gs2_header("n,a=alice,");
    let (mut exchange, client_final, _) = after_first(&client, Mechanism::ScramSha256);
    assert!(matches!(
        exchange.step(&client_final, &alice_lookup),
        Ok(Step::Done { .. })
    ));
    let other = b"n,a=bob,n=alice,r=x";
    let err = fixed_exchange(Mechanism::ScramSha256)
        .step(other, &alice_lookup)
        .unwrap_err();
    assert_eq!(err, SaslError::AuthzidMismatch(Mechanism::ScramSha256));
}

#[test]
fn escaped_user_names_are_looked_up_decoded() {
    let credentials = super::test_support::alice().clone();
    let users = move |user: &str| (user == "a,b=c").then(|| credentials.clone());
    let client = ScramClient::new(Mechanism::ScramSha256, "a=2Cb=3Dc", ALICE_PASSWORD, "n0nce");
    let mut exchange = fixed_exchange(Mechanism::ScramSha256);
    let (client_final, _) =
        client.final_message(&challenge(exchange.step(&client.first_message(), &users)));
    let done = exchange.step(&client_final, &users).unwrap();
    assert!(matches!(done, Step::Done { user, .. } if user == "a,b=c"));
}

#[test]
fn wrong_password_fails_at_the_proof() {
    for mechanism in SCRAMS {
        let client = alice_client(mechanism, "not the password");
        let (mut exchange, client_final, _) = after_first(&client, mechanism);
        let err = exchange.step(&client_final, &alice_lookup).unwrap_err();
        assert_eq!(err, SaslError::InvalidCredentials(mechanism));
    }
}

#[test]
fn unknown_user_gets_a_plausible_challenge_then_the_wrong_password_error() {
    let mechanism = Mechanism::ScramSha256;
    let client = ScramClient::new(mechanism, "mallory", ALICE_PASSWORD, CLIENT_NONCE);
    let (mut exchange, client_final, _) = after_first(&client, mechanism);
    let err = exchange.step(&client_final, &alice_lookup).unwrap_err();
    let wrong_password = SaslError::InvalidCredentials(mechanism);
    assert_eq!(err, wrong_password);

    let server_first = |user: &str| {
        let first = format!("n,,n={user},r={CLIENT_NONCE}");
        String::from_utf8(challenge(
            fixed_exchange(mechanism).step(first.as_bytes(), &alice_lookup),
        ))
        .unwrap()
    };
    let fields: Vec<String> = server_first("mallory")
        .split(',')
        .map(str::to_owned)
        .collect();
    assert_eq!(fields[0], format!("r={CLIENT_NONCE}{SERVER_NONCE}"));
    assert_eq!(
        base64_decode(&fields[1][2..]).unwrap().len(),
        SCRAM_SALT_BYTES
    );
    assert_eq!(fields[2], format!("i={SCRAM_ITERATIONS_DEFAULT}"));
    assert_eq!(
        server_first("mallory"),
        server_first("mallory"),
        "a retry sees the same salt"
    );
    assert_ne!(server_first("mallory"), server_first("trudy"));
}

#[test]
fn wrong_nonce_is_refused() {
    let client = alice_client(Mechanism::ScramSha256, ALICE_PASSWORD);
    let (mut exchange, client_final, _) = after_first(&client, Mechanism::ScramSha256);
    let text = String::from_utf8(client_final)
        .unwrap()
        .replace(SERVER_NONCE, "forged-server-nonce");
    let err = exchange.step(text.as_bytes(), &alice_lookup).unwrap_err();
    assert_eq!(
        err,
        malformed(Mechanism::ScramSha256, Malformed::WrongNonce)
    );
}

#[test]
fn bad_proofs_are_refused() {
    let mechanism = Mechanism::ScramSha512;
    let client = alice_client(mechanism, ALICE_PASSWORD);
    let (_, client_final, _) = after_first(&client, mechanism);
    let text = String::from_utf8(client_final).unwrap();
    let without_proof = text.rsplit_once(",p=").unwrap().0;
    for (proof, problem) in [
        ("!!!!", Malformed::Base64("p=")),
        ("cHJvb2Y=", Malformed::Proof),
    ] {
        let (mut exchange, _, _) = after_first(&client, mechanism);
        let message = format!("{without_proof},p={proof}");
        assert_eq!(
            exchange.step(message.as_bytes(), &alice_lookup),
            Err(malformed(mechanism, problem))
        );
    }
}

#[test]
fn channel_binding_and_delegation_tokens_are_refused() {
    let mut exchange = fixed_exchange(Mechanism::ScramSha256);
    let err = exchange
        .step(b"p=tls-server-end-point,,n=alice,r=x", &alice_lookup)
        .unwrap_err();
    assert_eq!(err, SaslError::ChannelBindingUnsupported);
    let mut exchange = fixed_exchange(Mechanism::ScramSha256);
    let err = exchange
        .step(b"n,,n=alice,r=x,tokenauth=true", &alice_lookup)
        .unwrap_err();
    assert_eq!(err, SaslError::TokenAuthUnsupported);
    let mut exchange = fixed_exchange(Mechanism::ScramSha256);
    assert!(
        exchange
            .step(b"n,,n=alice,r=x,tokenauth=false,other=1", &alice_lookup)
            .is_ok()
    );
}

#[test]
fn steps_after_the_end_are_errors() {
    let client = alice_client(Mechanism::ScramSha256, ALICE_PASSWORD);
    let (mut exchange, client_final, _) = after_first(&client, Mechanism::ScramSha256);
    assert!(exchange.step(&client_final, &alice_lookup).is_ok());
    assert_eq!(
        exchange.step(&client_final, &alice_lookup),
        Err(SaslError::ExchangeEnded)
    );

    let mut failed = fixed_exchange(Mechanism::ScramSha256);
    assert!(failed.step(b"garbage", &alice_lookup).is_err());
    assert!(failed.is_ended());
    assert_eq!(
        failed.step(&client.first_message(), &alice_lookup),
        Err(SaslError::ExchangeEnded)
    );

    let mut plain = Exchange::new(Mechanism::Plain);
    let message = format!("\0alice\0{ALICE_PASSWORD}");
    assert!(plain.step(message.as_bytes(), &alice_lookup).is_ok());
    assert_eq!(
        plain.step(message.as_bytes(), &alice_lookup),
        Err(SaslError::ExchangeEnded)
    );
}

#[test]
fn message_size_limit_is_exact() {
    for mechanism in Mechanism::ALL {
        let at_limit = vec![b'x'; SASL_MESSAGE_MAX_BYTES];
        let err = Exchange::new(mechanism)
            .step(&at_limit, &alice_lookup)
            .unwrap_err();
        assert!(!matches!(err, SaslError::MessageTooLarge { .. }), "{err}");
        let over = vec![b'x'; SASL_MESSAGE_MAX_BYTES + 1];
        let err = Exchange::new(mechanism)
            .step(&over, &alice_lookup)
            .unwrap_err();
        let size_bytes = SASL_MESSAGE_MAX_BYTES + 1;
        assert_eq!(
            err,
            SaslError::MessageTooLarge {
                size_bytes,
                max_bytes: SASL_MESSAGE_MAX_BYTES
            }
        );
    }
}
