//! `Queues` over a real store: state survives a reopen, also after the
//! state log was compacted into a snapshot.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{memory_store, records};
use pier_core::queue::{AckAction, QUEUE_STATE_TOPIC, QueueConfig, Queues};
use pier_core::{Location, ManualClock, Store, StoreOptions, TopicConfig};

#[tokio::test]
async fn queue_state_survives_reopen_and_compaction() {
    let clock = ManualClock::new(1_000_000);
    let (disk, store) = memory_store(&clock);
    store
        .create_topic("t", 2, TopicConfig::default())
        .await
        .unwrap();
    for p in 0..2 {
        let values: Vec<String> = (0..50).map(|i| format!("v{i}")).collect();
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        store.append("t", p, records(&refs, 1)).await.unwrap();
    }
    let queues = Queues::open(store.clone(), Arc::new(clock.clone()))
        .await
        .unwrap();
    queues.configure("q", QueueConfig::new("t")).await.unwrap();
    let got = queues
        .receive("q", "a", 30, None, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(got.len(), 30);
    let acks = got
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let action = if i < 10 {
                AckAction::Accept
            } else if i < 15 {
                AckAction::Release { delay_ms: Some(0) }
            } else {
                AckAction::Extend { lease_ms: 120_000 }
            };
            (d.partition, d.offset, Some(d.delivery), action)
        })
        .collect();
    assert!(
        queues
            .acknowledge("q", "a", acks)
            .await
            .unwrap()
            .iter()
            .all(Result::is_ok)
    );
    queues.compact().await.unwrap();
    // Changes after the snapshot are replayed on top of it.
    let more = queues
        .receive("q", "b", 5, None, Duration::ZERO)
        .await
        .unwrap();
    let items = more
        .iter()
        .map(|d| (d.partition, d.offset, Some(d.delivery), AckAction::Accept))
        .collect();
    queues.acknowledge("q", "b", items).await.unwrap();
    let before = queues.describe("q").unwrap();
    let leases_before = queues.leases("q").unwrap();
    assert_eq!(before.counters.accepted, 15);
    drop(queues);
    store.close();
    drop(store);

    let store = Store::open(
        Location::Memory(disk),
        StoreOptions::default(),
        Arc::new(clock.clone()),
    )
    .unwrap();
    let queues = Queues::open(store.clone(), Arc::new(clock.clone()))
        .await
        .unwrap();
    let after = queues.describe("q").unwrap();
    assert_eq!(after.counters, before.counters);
    assert_eq!(
        (after.in_flight, after.waiting, after.backlog),
        (before.in_flight, before.waiting, before.backlog)
    );
    assert_eq!(queues.leases("q").unwrap(), leases_before);
    // The log holds the snapshot and what came after, not everything.
    let (start, end) = store.offsets(QUEUE_STATE_TOPIC, 0).unwrap();
    assert!(end > start);
}
