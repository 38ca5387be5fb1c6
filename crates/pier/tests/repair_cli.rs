//! `pier serve` refuses a data directory whose queue state cannot be read,
//! naming topic and offset; `pier repair` drops it, says so, and the
//! directory serves again with its groups.

mod common;

use std::process::Command;
use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::records::Compression;
use pier::pier_core::batch::{self, NewRecord};
use pier::pier_core::queue::{QUEUE_STATE_TOPIC, QueueConfig, Queues};
use pier::pier_core::{Location, Store, StoreOptions, SystemClock, TopicConfig};

/// A data directory with group `orders-q` and, after it, an event this
/// version cannot read. Returns its offset.
async fn plant_bad_event(dir: &std::path::Path) -> u64 {
    let location = Location::Dir(dir.to_owned());
    let store = Store::open(location, StoreOptions::default(), Arc::new(SystemClock)).unwrap();
    store
        .create_topic("orders", 1, TopicConfig::default())
        .await
        .unwrap();
    let queues = Queues::open(store.clone(), Arc::new(SystemClock))
        .await
        .unwrap();
    queues
        .configure("orders-q", QueueConfig::new("orders"))
        .await
        .unwrap();
    let record = NewRecord {
        key: Some(Bytes::from_static(b"orders-q")),
        value: Some(Bytes::from_static(br#"{"e":"accepted","group":"orders-q""#)),
        headers: Vec::new(),
        timestamp_ms: 1,
    };
    let bad = store
        .append(
            QUEUE_STATE_TOPIC,
            0,
            batch::build(&[record], Compression::None, None),
        )
        .await
        .unwrap()
        .base_offset;
    drop(queues);
    store.close();
    bad
}

fn pier(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pier"))
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test]
async fn serve_refuses_unreadable_queue_state_and_repair_recovers_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let bad = plant_bad_event(&dir).await;
    let dir_arg = dir.to_str().unwrap();
    let serve = [
        "serve",
        "--data-dir",
        dir_arg,
        "--kafka",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
    ];

    let refused = pier(&serve);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "serve must refuse: {stderr}");
    assert!(stderr.contains(QUEUE_STATE_TOPIC), "{stderr}");
    assert!(stderr.contains(&format!("offset {bad}")), "{stderr}");
    assert!(stderr.contains("orders-q"), "{stderr}");
    assert!(stderr.contains("pier repair"), "{stderr}");
    assert!(stderr.contains(dir_arg), "{stderr}");

    let dry = pier(&["repair", "--data-dir", dir_arg, "--dry-run"]);
    let dry_out = String::from_utf8_lossy(&dry.stdout);
    assert!(dry.status.success(), "{dry_out}");
    assert!(
        dry_out.contains("would drop 1 unreadable event(s)"),
        "{dry_out}"
    );
    assert!(!pier(&serve).status.success(), "a dry run changes nothing");

    let repaired = pier(&["repair", "--data-dir", dir_arg, "--json"]);
    assert!(repaired.status.success());
    let report: serde_json::Value = serde_json::from_slice(&repaired.stdout).unwrap();
    assert_eq!(report["dropped"][0]["offset"], bad);
    assert_eq!(report["dropped"][0]["group"], "orders-q");
    assert_eq!(report["dropped"].as_array().unwrap().len(), 1);
    assert_eq!(report["groups"], serde_json::json!(["orders-q"]));
    assert_eq!(report["snapshot_written"], true);

    let again = pier(&["repair", "--data-dir", dir_arg]);
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(text.contains("nothing to repair"), "{text}");

    // It serves again, with the group that was configured before the bad
    // event.
    let server = common::ServeProcess::spawn(&serve[1..]);
    let http = server.addr("http");
    let body = ureq::get(&format!("http://{http}/api/v1/queues"))
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    assert!(body.contains("orders-q"), "{body}");
}
