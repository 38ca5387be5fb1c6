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
