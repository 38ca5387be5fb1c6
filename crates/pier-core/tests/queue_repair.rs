//! An unreadable queue event stops the open with its location, and the
//! explicit repair drops it, says so, and leaves a store that opens.

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::{memory_store, records};
use kafka_protocol::records::Compression;
use pier_core::batch::{self, NewRecord};
use pier_core::faults::MemoryDisk;
use pier_core::queue::{AckAction, QUEUE_STATE_TOPIC, QueueConfig, QueueError, Queues};
use pier_core::{Location, ManualClock, Store, StoreOptions, TopicConfig};

fn reopen(disk: &MemoryDisk, clock: &ManualClock) -> Store {
    Store::open(
        Location::Memory(disk.clone()),
        StoreOptions::default(),
        Arc::new(clock.clone()),
    )
    .unwrap()
}

/// A queue event this version cannot parse, keyed by its group.
fn alien_event(group: &str, value: &str) -> Bytes {
    let record = NewRecord {
        key: Some(Bytes::from(group.to_owned())),
        value: Some(Bytes::from(value.to_owned())),
        headers: Vec::new(),
        timestamp_ms: 1,
    };
    batch::build(&[record], Compression::None, None)
}

/// Group `q` with 10 accepted and 5 leased records, then an unreadable
/// event, then group `later` configured after it. Returns the bad offset.
async fn store_with_a_bad_event(disk: &MemoryDisk, clock: &ManualClock, store: Store) -> u64 {
    store
        .create_topic("t", 1, TopicConfig::default())
        .await
        .unwrap();
    let values: Vec<String> = (0..40).map(|i| format!("v{i}")).collect();
    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
    store.append("t", 0, records(&refs, 1)).await.unwrap();
    let queues = Queues::open(store.clone(), Arc::new(clock.clone()))
        .await
        .unwrap();
    queues.configure("q", QueueConfig::new("t")).await.unwrap();
    let got = queues
        .receive("q", "a", 15, None, Duration::ZERO)
        .await
        .unwrap();
    let accepts = got[..10]
        .iter()
        .map(|d| (d.partition, d.offset, Some(d.delivery), AckAction::Accept))
        .collect();
    queues.acknowledge("q", "a", accepts).await.unwrap();
    queues.compact().await.unwrap();
    let bad = store
        .append(
            QUEUE_STATE_TOPIC,
            0,
            alien_event("q", r#"{"e":"from_the_future"}"#),
        )
        .await
        .unwrap()
        .base_offset;
    queues
        .configure("later", QueueConfig::new("t"))
        .await
        .unwrap();
    drop(queues);
    store.close();
    let _ = disk;
    bad
}

#[tokio::test]
async fn an_unreadable_event_stops_the_open_with_its_location() {
    let clock = ManualClock::new(1_000_000);
    let (disk, store) = memory_store(&clock);
    let bad = store_with_a_bad_event(&disk, &clock, store).await;

    let store = reopen(&disk, &clock);
    let err = Queues::open(store.clone(), Arc::new(clock.clone()))
        .await
        .expect_err("an unreadable event must stop the open");
    match &err {
        QueueError::Unreadable { offset, group, .. } => {
            assert_eq!(*offset, bad);
            assert_eq!(group.as_deref(), Some("q"));
        }
        other => panic!("expected Unreadable, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains(QUEUE_STATE_TOPIC), "{message}");
    assert!(message.contains(&format!("offset {bad}")), "{message}");
    assert!(message.contains("pier repair"), "{message}");
    // Refusing is stable: a second open refuses again (nothing was dropped).
    assert!(
        Queues::open(store.clone(), Arc::new(clock.clone()))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn repair_drops_only_the_unreadable_event_and_reports_it() {
    let clock = ManualClock::new(1_000_000);
    let (disk, store) = memory_store(&clock);
    let bad = store_with_a_bad_event(&disk, &clock, store).await;

    // A dry run reports and changes nothing.
    let store = reopen(&disk, &clock);
    let dry = Queues::repair(store.clone(), Arc::new(clock.clone()), true)
        .await
        .unwrap();
    assert!(!dry.snapshot_written);
    assert!(
        Queues::open(store.clone(), Arc::new(clock.clone()))
            .await
            .is_err()
    );

    let report = Queues::repair(store.clone(), Arc::new(clock.clone()), false)
        .await
        .unwrap();
    assert_eq!(report, dry.clone().with_snapshot());
    let dropped: Vec<(u64, u64, Option<&str>)> = report
        .dropped
        .iter()
        .map(|u| (u.offset, u.last_offset, u.group.as_deref()))
        .collect();
    assert_eq!(dropped, vec![(bad, bad, Some("q"))]);
    assert!(report.dropped[0].reason.contains("from_the_future"));
    assert_eq!(report.groups, vec!["later".to_owned(), "q".to_owned()]);
    store.close();

    // The repaired store opens and kept everything around the bad event.
    let store = reopen(&disk, &clock);
    let queues = Queues::open(store.clone(), Arc::new(clock.clone()))
        .await
        .unwrap();
    assert_eq!(
        queues.group_names(),
        vec!["later".to_owned(), "q".to_owned()]
    );
    let leased: Vec<u64> = queues
        .leases("q")
        .unwrap()
        .iter()
        .map(|l| l.offset)
        .collect();
    assert_eq!(leased, (10..15).collect::<Vec<u64>>());
    // Accepted records (0..10) are never handed out again, leased ones
    // (10..15) stay leased: another member gets exactly the rest.
    let rest: Vec<u64> = queues
        .receive("q", "b", 100, None, Duration::ZERO)
        .await
        .unwrap()
        .iter()
        .map(|d| d.offset)
        .collect();
    assert_eq!(rest, (15..40).collect::<Vec<u64>>());
}

trait WithSnapshot {
    fn with_snapshot(self) -> Self;
}

impl WithSnapshot for pier_core::queue::RepairReport {
    fn with_snapshot(mut self) -> Self {
        self.snapshot_written = true;
        self
    }
}
