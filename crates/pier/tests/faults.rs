//! Faults over the HTTP API, against a real server: crashes and power loss
//! keep every acknowledged record (and the durability switch shows what
//! happens without fsync), storage errors refuse writes instead of lying,
//! and bad requests change nothing.

mod common;
use std::collections::BTreeMap;

use common::{get_json, json, post, request};
use serde_json::json;

async fn start(dir: &std::path::Path, page_cache_model: bool) -> pier::Server {
    pier::Server::builder()
        .data_dir(dir)
        .kafka_addr("127.0.0.1:0".parse().unwrap())
        .http_addr("127.0.0.1:0".parse().unwrap())
        .store_options(pier::pier_core::StoreOptions {
            page_cache_model,
            ..Default::default()
        })
        .start()
        .await
        .unwrap()
}

/// Every stored value of partition 0, by offset.
async fn stored(server: &pier::Server, topic: &str) -> BTreeMap<u64, String> {
    let mut out = BTreeMap::new();
    let mut offset = 0;
    loop {
        let page = get_json(
            server,
            &format!("/api/v1/topics/{topic}/messages?offset={offset}&limit=1000"),
        )
        .await;
        let msgs = page["messages"].as_array().unwrap();
        if msgs.is_empty() {
            return out;
        }
        for m in msgs {
            out.insert(
                m["offset"].as_u64().unwrap(),
                m["value"].as_str().unwrap().to_owned(),
            );
        }
        offset = page["next_offset"].as_u64().unwrap();
    }
}

/// Produces `v-{i}` one request at a time; returns value → offset of
/// every acknowledged one. Errors (the broker restarting) are retried.
async fn produce_acked(
    server: &pier::Server,
    topic: &str,
    range: std::ops::Range<u32>,
) -> BTreeMap<String, u64> {
    let mut acked = BTreeMap::new();
    for i in range {
        let value = format!("v-{i}");
        for _ in 0..200 {
            let r = post(
                server,
                &format!("/api/v1/topics/{topic}/messages"),
                json!({"value": value}),
            )
            .await;
            if r.status == 201 {
                acked.insert(
                    value.clone(),
                    json(&r)["offsets"][0]["first"].as_u64().unwrap(),
                );
                break;
            }
            assert_eq!(r.status, 503, "only unavailability is expected: {}", r.body);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    acked
}

fn check_all_kept(acked: &BTreeMap<String, u64>, stored: &BTreeMap<u64, String>) {
    for (value, offset) in acked {
        assert_eq!(
            stored.get(offset),
            Some(value),
            "acknowledged {value} at {offset} is gone"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_mid_load_keeps_every_acknowledged_record() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), false).await;
    post(&server, "/api/v1/topics", json!({"name": "t"})).await;
    let s = &server;
    let (acked, crash) = tokio::join!(produce_acked(s, "t", 0..600), async {
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        post(s, "/api/v1/faults", json!({"kind": "broker_crash"})).await
    });
    assert_eq!(crash.status, 201, "{}", crash.body);
    let crash = json(&crash);
    let recovery = &crash["recovery"];
    assert!(recovery["took_ms"].as_u64().unwrap() > 0, "{crash}");
    assert_eq!(recovery["topics"], 1);
    assert_eq!(acked.len(), 600, "every record was eventually acknowledged");
    check_all_kept(&acked, &stored(&server, "t").await);

    // The timeline has the crash and the recovery, and outlives it.
    let timeline = get_json(&server, "/api/v1/faults/timeline").await;
    let events: Vec<(&str, &str)> = timeline
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["event"].as_str().unwrap()))
        .collect();
    assert_eq!(
        events,
        [("broker_crash", "started"), ("broker_crash", "recovered")]
    );
    assert!(
        timeline[1]["detail"]
            .as_str()
            .unwrap()
            .contains("batches replayed")
    );
    server.shutdown().await;
    let server = start(dir.path(), false).await;
    assert_eq!(get_json(&server, "/api/v1/faults/timeline").await, timeline);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn power_loss_keeps_acknowledged_records_only_while_fsync_is_on() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), true).await;
    post(&server, "/api/v1/topics", json!({"name": "t"})).await;
    assert_eq!(
        get_json(&server, "/api/v1/durability").await,
        json!({"fsync": true, "page_cache_model": true})
    );

    let acked = produce_acked(&server, "t", 0..300).await;
    let cut = post(&server, "/api/v1/faults", json!({"kind": "power_loss"})).await;
    assert_eq!(cut.status, 201, "{}", cut.body);
    let after = stored(&server, "t").await;
    check_all_kept(&acked, &after);
    assert_eq!(after.len(), 300);

    // Without fsync, the records acknowledged since the last checkpoint die
    // with the power: the newest ones, never a hole in the middle.
    let r = request(
        &server,
        "PUT",
        "/api/v1/durability",
        Some(r#"{"fsync":false}"#),
    )
    .await;
    assert_eq!(json(&r)["fsync"], false);
    let acked = produce_acked(&server, "t", 300..400).await;
    let cut = post(&server, "/api/v1/faults", json!({"kind": "power_loss"})).await;
    assert_eq!(cut.status, 201, "{}", cut.body);
    let after = stored(&server, "t").await;
    let lost: Vec<&String> = acked
        .iter()
        .filter(|(v, o)| after.get(o) != Some(v))
        .map(|(v, _)| v)
        .collect();
    assert!(
        !lost.is_empty(),
        "acknowledged but unsynced records should be lost"
    );
    let kept = after.len() as u64;
    for (v, o) in &acked {
        assert_eq!(
            after.get(o) == Some(v),
            *o < kept,
            "only a suffix is lost ({v} at {o})"
        );
    }
    eprintln!(
        "fsync off: {} of 100 acknowledged records lost in the power cut",
        lost.len()
    );
    // The switch survives the restart.
    assert_eq!(
        get_json(&server, "/api/v1/durability").await["fsync"],
        false
    );
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn storage_faults_refuse_writes_and_heal() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), false).await;
    post(&server, "/api/v1/topics", json!({"name": "t"})).await;
    let before = produce_acked(&server, "t", 0..10).await;

    // A failed fsync: the producer gets an error, not an acknowledgement.
    let f = json(&post(&server, "/api/v1/faults", json!({"kind": "fsync_failure"})).await);
    let id = f["fault"]["id"].as_u64().unwrap();
    let r = post(
        &server,
        "/api/v1/topics/t/messages",
        json!({"value": "doomed"}),
    )
    .await;
    assert_eq!(r.status, 503, "{}", r.body);
    let info = get_json(&server, "/api/v1/broker").await;
    assert!(
        info["poisoned"].as_str().unwrap().contains("fsync"),
        "{info}"
    );
    assert_eq!(
        get_json(&server, "/api/v1/faults")
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let healed = request(&server, "DELETE", &format!("/api/v1/faults/{id}"), None).await;
    assert_eq!(healed.status, 200, "{}", healed.body);
    assert!(get_json(&server, "/api/v1/broker").await["poisoned"].is_null());
    let after = produce_acked(&server, "t", 10..20).await;
    let all = stored(&server, "t").await;
    check_all_kept(&before, &all);
    check_all_kept(&after, &all);
    assert!(
        !all.values().any(|v| v == "doomed"),
        "never acknowledged, and not kept"
    );

    // A full disk.
    let f = json(&post(&server, "/api/v1/faults", json!({"kind": "disk_full"})).await);
    let id = f["fault"]["id"].as_u64().unwrap();
    let big = "x".repeat(200_000);
    let mut refused = false;
    for _ in 0..40 {
        let r = post(&server, "/api/v1/topics/t/messages", json!({"value": big})).await;
        if r.status == 503 {
            refused = true;
            break;
        }
    }
    assert!(refused, "a full disk refuses writes");
    request(&server, "DELETE", &format!("/api/v1/faults/{id}"), None).await;
    assert_eq!(produce_acked(&server, "t", 20..21).await.len(), 1);

    // A slow fsync heals on its own when its time is up.
    let f = post(
        &server,
        "/api/v1/faults",
        json!({"kind": "slow_fsync", "params": {"delay_ms": 150}, "duration_ms": 1500}),
    )
    .await;
    assert_eq!(f.status, 201, "{}", f.body);
    let started = std::time::Instant::now();
    produce_acked(&server, "t", 21..22).await;
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(150),
        "the fsync was slowed"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !get_json(&server, "/api/v1/faults")
        .await
        .as_array()
        .unwrap()
        .is_empty()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "slow_fsync did not expire"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let timeline = get_json(&server, "/api/v1/faults/timeline").await;
    assert_eq!(
        timeline.as_array().unwrap().last().unwrap()["event"],
        "expired"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn bad_fault_requests_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), false).await;
    let kinds = get_json(&server, "/api/v1/faults/kinds").await;
    assert!(
        kinds
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kind"] == "power_loss" && !k["teaches"].as_str().unwrap().is_empty())
    );
    let slow = post(&server, "/api/v1/faults", json!({"kind": "slow_fsync"})).await;
    assert_eq!(slow.status, 201);
    let timeline = get_json(&server, "/api/v1/faults/timeline").await;
    for (body, status, says) in [
        (json!({"kind": "meteor"}), 400, "unknown fault kind"),
        (
            json!({"kind": "slow_fsync", "params": {"delay_ms": 0}}),
            400,
            "delay_ms must be 1..=10000 ms",
        ),
        (
            json!({"kind": "slow_fsync", "params": {"delay_ms": -5}}),
            400,
            "",
        ),
        (
            json!({"kind": "disk_full", "params": {"speed": 1}}),
            400,
            "takes free_bytes",
        ),
        (
            json!({"kind": "broker_crash", "duration_ms": 1000}),
            400,
            "takes no duration",
        ),
        (
            json!({"kind": "fsync_failure", "duration_ms": 0}),
            400,
            "duration_ms",
        ),
        (json!({"kind": "slow_fsync"}), 409, "already active"),
        (json!({"kind": "slow_fsync", "colour": "red"}), 400, ""),
    ] {
        let r = post(&server, "/api/v1/faults", body.clone()).await;
        assert_eq!(r.status, status, "{body}: {}", r.body);
        assert_eq!(r.content_type, "application/problem+json");
        assert!(r.body.contains(says), "{body}: {}", r.body);
    }
    for (path, status) in [("/api/v1/faults/999", 404), ("/api/v1/faults/abc", 400)] {
        let r = request(&server, "DELETE", path, None).await;
        assert_eq!(r.status, status, "{path}: {}", r.body);
    }
    let r = request(
        &server,
        "PUT",
        "/api/v1/durability",
        Some(r#"{"fsync":"maybe"}"#),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        get_json(&server, "/api/v1/faults")
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(get_json(&server, "/api/v1/faults/timeline").await, timeline);
    assert_eq!(get_json(&server, "/api/v1/durability").await["fsync"], true);
    server.shutdown().await;
}
