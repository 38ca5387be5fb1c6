//! One clock for the whole server (`ServerBuilder::clock`): with a
//! `ManualClock`, a 30-second lease runs out when the test moves the clock,
//! not after 30 seconds, and the fault timeline, the statistics and the
//! ledger all read the same time.

mod common;

use std::sync::Arc;

use common::{get_json, post, receive, request};
use pier::pier_core::ManualClock;
use serde_json::json;

const START_MS: i64 = 1_700_000_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_clock_drives_leases_timelines_and_the_ledger() {
    let clock = ManualClock::new(START_MS);
    let server = pier::Server::builder()
        .in_memory()
        .clock(Arc::new(clock.clone()))
        .kafka_addr("127.0.0.1:0".parse().unwrap())
        .http_addr("127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .unwrap();
    post(&server, "/api/v1/topics", json!({"name": "jobs"})).await;
    post(
        &server,
        "/api/v1/topics/jobs/messages",
        json!({"value": "j"}),
    )
    .await;
    let put = request(
        &server,
        "PUT",
        "/api/v1/queues/workers",
        Some(r#"{"topic": "jobs", "lease_ms": 30000}"#),
    )
    .await;
    assert_eq!(put.status, 200, "{}", put.body);
    let first = receive(&server, "workers", "a", 1, json!({})).await;
    assert_eq!(first[0]["delivery"], 1);
    assert_eq!(first[0]["lease_deadline_ms"], START_MS + 30_000);
    assert!(
        receive(&server, "workers", "b", 1, json!({}))
            .await
            .is_empty()
    );

    // Thirty seconds pass in an instant; the lease is over, b gets it.
    clock.advance_ms(31_000);
    let mut again = Vec::new();
    for _ in 0..100 {
        again = receive(&server, "workers", "b", 1, json!({})).await;
        if !again.is_empty() {
            break;
        }
        // The server's queue tick ends the lease; the redelivery backoff
        // (0.5 s by this clock) passes as the clock moves on.
        clock.advance_ms(100);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(again.len(), 1, "the expired lease is handed to b");
    assert_eq!(again[0]["delivery"], 2);

    // The fault timeline and the ledger read the same clock.
    let fault = post(
        &server,
        "/api/v1/faults",
        json!({"kind": "latency", "params": {"latency_ms": 5}, "client_id": "nobody"}),
    )
    .await;
    assert_eq!(fault.status, 201, "{}", fault.body);
    let timeline = get_json(&server, "/api/v1/faults/timeline").await;
    let now = pier::pier_core::Clock::now_ms(&clock);
    assert_eq!(timeline[0]["t_ms"], now);
    let ledger = get_json(&server, "/api/v1/ledger").await;
    assert_eq!(ledger["started_ms"], START_MS);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_is_a_step_of_a_records_journey_not_a_loss() {
    let clock = ManualClock::new(START_MS);
    let server = pier::Server::builder()
        .in_memory()
        .clock(Arc::new(clock.clone()))
        .kafka_addr("127.0.0.1:0".parse().unwrap())
        .http_addr("127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .unwrap();
    let created = post(
        &server,
        "/api/v1/topics",
        json!({"name": "short", "config": {"retention.ms": "1000"}}),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    // Retention deletes whole storage chunks (≤ 256 KiB of batches): each
    // old record is bigger, so each is a chunk of its own.
    for value in ["0", "1"] {
        let big = value.repeat(300 * 1024);
        let r = post(
            &server,
            "/api/v1/topics/short/messages",
            json!({"value": big}),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    clock.advance_ms(5_000);
    post(
        &server,
        "/api/v1/topics/short/messages",
        json!({"value": "new"}),
    )
    .await;
    server.enforce_retention().await;
    let steps = |journey: &serde_json::Value| -> Vec<String> {
        journey["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["what"].as_str().unwrap().to_owned())
            .collect()
    };
    for offset in [0, 1] {
        let j = get_json(&server, &format!("/api/v1/ledger/journey/short/0/{offset}")).await;
        assert_eq!(
            steps(&j),
            ["produced", "removed_by_retention"],
            "offset {offset}: {j}"
        );
        assert_eq!(j["steps"][1]["at_ms"], START_MS + 5_000);
    }
    // Control: the record retention kept has no such step.
    let kept = get_json(&server, "/api/v1/ledger/journey/short/0/2").await;
    assert_eq!(steps(&kept), ["produced"]);
    let verdict = get_json(&server, "/api/v1/ledger/verdict?topic=short").await;
    let kinds: Vec<&str> = verdict["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["records"].as_u64() > Some(0))
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(!kinds.contains(&"lost_after_ack"), "{verdict}");
    server.shutdown().await;
}
