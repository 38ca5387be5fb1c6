//! Authorization on the Kafka port, byte by byte: with `--authorization`,
//! a request is served only if an ACL rule allows its principal (the SASL
//! user, or ANONYMOUS without SASL), and refusals carry Kafka's codes:
//! TOPIC_AUTHORIZATION_FAILED (29) and GROUP_AUTHORIZATION_FAILED (30).
//! A refused produce stores nothing. Every test has a control: what the
//! rules allow works, and without `--authorization` everything does.
//! (Real clients are in tests/clients/python/test_acl.py.)

mod admin;
#[path = "../common/mod.rs"]
mod common;
mod wire;

use pier::pier_core::TopicConfig;
use pier_workbench::{AclOperation, AclResource, AclRule};
use wire::{Conn, stored, values};

const TOPIC_AUTHORIZATION_FAILED: i16 = 29;
const GROUP_AUTHORIZATION_FAILED: i16 = 30;
const MEMBER_ID_REQUIRED: i16 = 79;

/// A server with a PLAINTEXT and a SASL_PLAINTEXT listener, user alice,
/// and the topics `orders` and `payments`.
async fn start(authorization: bool) -> pier::Server {
    let server = pier::Server::builder()
        .in_memory()
        .kafka_addr("127.0.0.1:0".parse().unwrap())
        .http_addr("127.0.0.1:0".parse().unwrap())
        .kafka_listener("SASL_PLAINTEXT://127.0.0.1:0".parse().unwrap())
        .sasl_user("alice", "wonderland")
        .authorization(authorization)
        .start()
        .await
        .unwrap();
    for topic in ["orders", "payments"] {
        let config = TopicConfig::default();
        server.store().create_topic(topic, 1, config).await.unwrap();
    }
    server
}

fn rule(principal: &str, resource: AclResource, pattern: &str, ops: &[AclOperation]) -> AclRule {
    AclRule {
        principal: principal.to_owned(),
        resource,
        pattern: pattern.to_owned(),
        operations: ops.to_vec(),
    }
}

fn allow(server: &pier::Server, rule: AclRule) {
    server.workbench().add_acl(rule).unwrap();
}
#[tokio::test]
async fn produce_needs_write_and_a_refused_produce_stores_nothing() {
    use AclOperation::Write;
    let server = start(true).await;
    allow(
        &server,
        rule("alice", AclResource::Topic, "orders", &[Write]),
    );
    // One record in payments while alice may still write there.
    let temporary = rule("alice", AclResource::Topic, "payments", &[Write]);
    allow(&server, temporary.clone());
    let mut c = Conn::alice(&server).await;
    assert_eq!(c.produce(&[("payments", "before")]).await, [0]);
    server.workbench().delete_acl(temporary).unwrap();
    let before = stored(&server, "payments");

    assert_eq!(
        c.produce(&[("orders", "o1"), ("payments", "p1")]).await,
        [0, TOPIC_AUTHORIZATION_FAILED],
        "the rule is gone for the open connection too"
    );
    assert_eq!(
        c.produce(&[("payments", "p2")]).await,
        [TOPIC_AUTHORIZATION_FAILED]
    );
    assert_eq!(stored(&server, "payments"), before, "nothing more stored");
    assert_eq!(values(&server, "payments"), ["before"]);
    assert_eq!(values(&server, "orders"), ["o1"]);

    // Without SASL the principal is ANONYMOUS: alice's rules do not apply.
    let mut anonymous = Conn::anonymous(&server).await;
    assert_eq!(
        anonymous.produce(&[("orders", "a1")]).await,
        [TOPIC_AUTHORIZATION_FAILED]
    );
    allow(
        &server,
        rule("ANONYMOUS", AclResource::Topic, "ord*", &[Write]),
    );
    assert_eq!(anonymous.produce(&[("orders", "a2")]).await, [0]);
    assert_eq!(values(&server, "orders"), ["o1", "a2"]);
}

#[tokio::test]
async fn metadata_refuses_or_hides_what_cannot_be_described() {
    use AclOperation::{Create, Describe, Write};
    let server = start(true).await;
    allow(
        &server,
        rule("alice", AclResource::Topic, "orders", &[Write]),
    );
    allow(
        &server,
        rule("alice", AclResource::Topic, "ghost", &[Describe]),
    );
    allow(
        &server,
        rule("alice", AclResource::Topic, "new-*", &[Create]),
    );
    let mut c = Conn::alice(&server).await;

    let m = c.metadata(Some(&["orders", "payments"]), true).await;
    let codes: Vec<i16> = m.topics.iter().map(|t| t.error_code).collect();
    assert_eq!(codes, [0, TOPIC_AUTHORIZATION_FAILED]);
    assert_eq!(m.topics[0].partitions.len(), 1);
    assert!(m.topics[1].partitions.is_empty());
    // WRITE (4), and DESCRIBE (8) and DESCRIBE_CONFIGS (10) it implies.
    assert_eq!(
        m.topics[0].topic_authorized_operations,
        (1 << 4) | (1 << 8) | (1 << 10)
    );

    let all = c.metadata(None, false).await;
    let names: Vec<String> = all
        .topics
        .iter()
        .map(|t| t.name.as_ref().unwrap().to_string())
        .collect();
    assert_eq!(names, ["orders"], "payments is left out, silently");

    // Auto-creation needs CREATE: refused, and nothing is created.
    let m = c.metadata(Some(&["ghost"]), true).await;
    assert_eq!(m.topics[0].error_code, TOPIC_AUTHORIZATION_FAILED);
    assert!(!server.store().has_topic("ghost"));
    let m = c.metadata(Some(&["new-topic"]), true).await;
    assert_eq!(m.topics[0].error_code, 0);
    assert!(server.store().has_topic("new-topic"));
}

#[tokio::test]
async fn fetch_needs_read_and_list_offsets_describe() {
    use AclOperation::{Describe, Read};
    let server = start(true).await;
    allow(
        &server,
        rule("alice", AclResource::Topic, "orders", &[Read]),
    );
    let mut c = Conn::alice(&server).await;
    assert_eq!(c.fetch("orders").await, 0);
    assert_eq!(c.list_offsets("orders").await, 0);
    assert_eq!(c.fetch("payments").await, TOPIC_AUTHORIZATION_FAILED);
    assert_eq!(c.list_offsets("payments").await, TOPIC_AUTHORIZATION_FAILED);
    allow(
        &server,
        rule("alice", AclResource::Topic, "payments", &[Describe]),
    );
    assert_eq!(c.list_offsets("payments").await, 0);
    assert_eq!(
        c.fetch("payments").await,
        TOPIC_AUTHORIZATION_FAILED,
        "DESCRIBE does not imply READ"
    );
}

#[tokio::test]
async fn groups_need_read_and_commits_read_on_the_topic() {
    use AclOperation::{Describe, Read};
    let server = start(true).await;
    allow(
        &server,
        rule("alice", AclResource::Topic, "orders", &[Read]),
    );
    let mut c = Conn::alice(&server).await;
    let refused = GROUP_AUTHORIZATION_FAILED;
    assert_eq!(c.find_coordinator("billing").await, (refused, refused));
    assert_eq!(c.join("billing").await, refused);
    assert_eq!(c.commit("billing", "orders").await, refused);
    assert_eq!(c.offset_fetch("billing").await, refused);
    assert!(server.store().committed_offsets("billing").is_empty());

    allow(&server, rule("alice", AclResource::Group, "bill*", &[Read]));
    assert_eq!(c.find_coordinator("billing").await, (0, 0));
    assert_eq!(c.join("billing").await, MEMBER_ID_REQUIRED, "served");
    assert_eq!(c.commit("billing", "orders").await, 0);
    assert_eq!(
        c.commit("billing", "payments").await,
        TOPIC_AUTHORIZATION_FAILED,
        "committing needs READ on the topic too"
    );
    assert_eq!(c.offset_fetch("billing").await, 0);
    let committed = server.store().committed_offsets("billing");
    let keys: Vec<_> = committed.keys().cloned().collect();
    assert_eq!(keys, [("orders".to_owned(), 0)]);

    // ListGroups leaves out what alice may not describe.
    let everyone = rule("*", AclResource::Group, "audit", &[Read]);
    allow(&server, everyone.clone());
    assert_eq!(c.commit("audit", "orders").await, 0);
    let mut groups = c.list_groups().await;
    groups.sort();
    assert_eq!(groups, ["audit", "billing"]);
    server.workbench().delete_acl(everyone).unwrap();
    assert_eq!(c.list_groups().await, ["billing"]);
    allow(
        &server,
        rule("alice", AclResource::Group, "audit", &[Describe]),
    );
    assert_eq!(c.list_groups().await.len(), 2);
}

#[tokio::test]
async fn without_authorization_everything_is_allowed() {
    let server = start(false).await;
    assert!(server.workbench().acls().is_empty());
    for mut c in [Conn::alice(&server).await, Conn::anonymous(&server).await] {
        assert_eq!(
            c.produce(&[("orders", "o"), ("payments", "p")]).await,
            [0, 0]
        );
        let m = c.metadata(Some(&["payments", "fresh"]), true).await;
        assert!(m.topics.iter().all(|t| t.error_code == 0));
        assert_eq!(c.fetch("payments").await, 0);
        assert_eq!(c.list_offsets("payments").await, 0);
        assert_eq!(c.find_coordinator("billing").await, (0, 0));
        assert_eq!(c.join("billing").await, MEMBER_ID_REQUIRED);
        assert_eq!(c.commit("billing", "payments").await, 0);
        assert_eq!(c.offset_fetch("billing").await, 0);
        assert_eq!(c.list_groups().await, ["billing"]);
    }
    assert_eq!(values(&server, "payments"), ["p", "p"]);
}

#[tokio::test]
async fn rules_are_managed_over_http() {
    let server = start(true).await;
    let security = common::get_json(&server, "/api/v1/security").await;
    assert_eq!(security["authorization"], true);
    let body = r#"{"principal":"User:alice","resource":"topic","pattern":"orders*","operations":["write","read","write"]}"#;
    let added = common::request(&server, "POST", "/api/v1/acls", Some(body)).await;
    assert_eq!(added.status, 201, "{}", added.body);
    let stored = serde_json::json!({"principal": "alice", "resource": "topic",
        "pattern": "orders*", "operations": ["read", "write"]});
    assert_eq!(common::json(&added), stored);
    let again = common::request(&server, "POST", "/api/v1/acls", Some(body)).await;
    assert_eq!(again.status, 200, "already there");
    let list = common::get_json(&server, "/api/v1/acls").await;
    assert_eq!(list, serde_json::json!([stored]));
    let mut c = Conn::alice(&server).await;
    assert_eq!(c.produce(&[("orders", "x")]).await, [0]);

    let bad = r#"{"principal":"alice","resource":"topic","pattern":"a*b","operations":["read"]}"#;
    let refused = common::request(&server, "POST", "/api/v1/acls", Some(bad)).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.content_type, "application/problem+json");
    let unknown_op =
        r#"{"principal":"alice","resource":"topic","pattern":"a","operations":["delete"]}"#;
    let refused = common::request(&server, "POST", "/api/v1/acls", Some(unknown_op)).await;
    assert_eq!(refused.status, 400);

    let deleted = common::request(&server, "DELETE", "/api/v1/acls", Some(body)).await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert_eq!(
        c.produce(&[("orders", "y")]).await,
        [TOPIC_AUTHORIZATION_FAILED]
    );
    let gone = common::request(&server, "DELETE", "/api/v1/acls", Some(body)).await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.content_type, "application/problem+json");
    assert_eq!(
        common::get_json(&server, "/api/v1/acls").await,
        serde_json::json!([])
    );
}

#[tokio::test]
async fn rules_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        pier::Server::builder()
            .data_dir(dir.path())
            .kafka_addr("127.0.0.1:0".parse().unwrap())
            .authorization(true)
            .start()
    };
    let server = open().await.unwrap();
    let r = rule("*", AclResource::Group, "g", &[AclOperation::Read]);
    allow(&server, r.clone());
    server.shutdown().await;
    let server = open().await.unwrap();
    assert_eq!(server.workbench().acls(), [r]);
    server.shutdown().await;
    std::fs::write(dir.path().join("acls.json"), "[{").unwrap();
    let err = open().await.unwrap_err().to_string();
    assert!(err.contains("acls.json"), "{err}");
}

#[test]
fn the_cli_adds_lists_and_deletes_rules() {
    let serve = common::ServeProcess::spawn(&[
        "--in-memory",
        "--kafka",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--authorization",
    ]);
    let http = serve.addr("http");
    let pier = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_pier"))
            .args(args)
            .args(["--server", &http])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.success(), text, err)
    };
    let add = [
        "acl",
        "add",
        "--user",
        "alice",
        "--topic",
        "orders*",
        "--ops",
        "write,read",
    ];
    let (ok, text, err) = pier(&add);
    assert!(ok, "{err}");
    assert_eq!(text.trim(), "added: alice may read, write topic orders*");
    let (ok, _, err) = pier(&[
        "acl", "add", "--user", "*", "--group", "billing", "--ops", "read",
    ]);
    assert!(ok, "{err}");
    let (ok, text, _) = pier(&["acl", "list"]);
    assert!(ok);
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        [
            "alice may read, write topic orders*",
            "everyone may read group billing"
        ]
    );
    let (ok, _, err) = pier(&["acl", "add", "--user", "alice", "--ops", "read"]);
    assert!(!ok && err.contains("--topic"), "{err}");
    let (ok, _, err) = pier(&[
        "acl", "add", "--user", "alice", "--topic", "t", "--ops", "delete",
    ]);
    assert!(!ok && err.contains("unknown operation"), "{err}");

    let delete = [
        "acl",
        "delete",
        "--user",
        "alice",
        "--topic",
        "orders*",
        "--ops",
        "read,write",
    ];
    let (ok, _, err) = pier(&delete);
    assert!(ok, "{err}");
    let (ok, _, err) = pier(&delete);
    assert!(!ok && err.contains("no rule"), "{err}");
    let (_, text, _) = pier(&["acl", "list", "--json"]);
    let rules: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(rules.as_array().unwrap().len(), 1);
}
