#![allow(clippy::field_reassign_with_default)]
//! Behaviour of the store through its public API.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::{all_values, memory_store, records};
use pier_core::batch::BatchError;
use pier_core::store::{AdminCommand, AdminOutcome};
use pier_core::topic::TopicError;
use pier_core::{
    AdminError, AppendError, Location, ManualClock, ReadError, Store, StoreOptions, TopicConfig,
};

#[test]
fn appends_get_dense_offsets_and_survive_reopen() {
    let clock = ManualClock::new(1_000);
    let (disk, store) = memory_store(&clock);
    store
        .create_topic_blocking("orders", 2, TopicConfig::default())
        .unwrap();
    let a = store
        .append_blocking("orders", 0, records(&["a", "b"], 1_000))
        .unwrap();
    let b = store
        .append_blocking("orders", 0, records(&["c"], 1_001))
        .unwrap();
    let c = store
        .append_blocking("orders", 1, records(&["x"], 1_002))
        .unwrap();
    assert_eq!((a.base_offset, a.last_offset), (0, 1));
    assert_eq!((b.base_offset, b.last_offset), (2, 2));
    assert_eq!((c.base_offset, c.last_offset), (0, 0));
    drop(store);

    let store = Store::open(
        Location::Memory(disk),
        StoreOptions::default(),
        Arc::new(clock),
    )
    .unwrap();
    assert_eq!(store.recovery().topics, 1);
    assert_eq!(
        all_values(&store, "orders", 0),
        vec![(0, "a".into()), (1, "b".into()), (2, "c".into())]
    );
    assert_eq!(all_values(&store, "orders", 1), vec![(0, "x".into())]);
    let next = store
        .append_blocking("orders", 0, records(&["d"], 1_003))
        .unwrap();
    assert_eq!(next.base_offset, 3, "offsets continue after reopen");
}

#[test]
fn bad_input_is_a_typed_error_and_changes_nothing() {
    let clock = ManualClock::new(0);
    let (_disk, store) = memory_store(&clock);
    let mut config = TopicConfig::default();
    config.max_message_bytes = 200;
    store.create_topic_blocking("t", 1, config).unwrap();
    store.append_blocking("t", 0, records(&["ok"], 0)).unwrap();

    let good = records(&["payload"], 0);
    let truncated = good.slice(..good.len() - 3);
    assert!(matches!(
        store.append_blocking("t", 0, truncated),
        Err(AppendError::InvalidBatch(BatchError::Truncated { .. }))
    ));
    let mut flipped = good.to_vec();
    *flipped.last_mut().unwrap() ^= 1;
    assert!(matches!(
        store.append_blocking("t", 0, Bytes::from(flipped)),
        Err(AppendError::InvalidBatch(BatchError::CrcMismatch { .. }))
    ));
    let big = records(&[&"x".repeat(500)], 0);
    assert!(matches!(
        store.append_blocking("t", 0, big),
        Err(AppendError::BatchTooLarge {
            limit_bytes: 200,
            ..
        })
    ));
    assert_eq!(
        store.append_blocking("nope", 0, good.clone()),
        Err(AppendError::UnknownTopic("nope".into()))
    );
    assert!(matches!(
        store.append_blocking("t", 7, good),
        Err(AppendError::UnknownPartition {
            partition: 7,
            count: 1,
            ..
        })
    ));
    assert_eq!(all_values(&store, "t", 0), vec![(0, "ok".into())]);
    assert_eq!(store.offsets("t", 0).unwrap(), (0, 1));
}

#[test]
fn reads_respect_byte_limits_but_return_at_least_one_batch() {
    let clock = ManualClock::new(0);
    let (_disk, store) = memory_store(&clock);
    store
        .create_topic_blocking("t", 1, TopicConfig::default())
        .unwrap();
    for i in 0..5 {
        store
            .append_blocking("t", 0, records(&[&format!("v{i}")], 0))
            .unwrap();
    }
    let one = store.read("t", 0, 0, 1).unwrap();
    assert_eq!(
        pier_core::batch::split_batches(one.records).unwrap().len(),
        1
    );
    assert_eq!(one.high_watermark, 5);
    let all = store.read("t", 0, 2, 1 << 20).unwrap();
    assert_eq!(
        pier_core::batch::split_batches(all.records).unwrap().len(),
        3
    );
    assert!(
        store.read("t", 0, 5, 100).unwrap().records.is_empty(),
        "at the end: empty"
    );
    assert_eq!(
        store.read("t", 0, 6, 100),
        Err(ReadError::OffsetOutOfRange {
            offset: 6,
            log_start: 0,
            high_watermark: 5
        })
    );
}

/// A store whose writer (and applier) run only when told, so each append
/// becomes its own stored row.
fn manual_store(clock: &ManualClock) -> Store {
    let options = StoreOptions {
        manual_writer: true,
        ..StoreOptions::default()
    };
    Store::open(
        Location::Memory(pier_core::faults::MemoryDisk::new()),
        options,
        Arc::new(clock.clone()),
    )
    .unwrap()
}

fn append_now(store: &Store, topic: &str, batch: Bytes) {
    let mut rx = store.submit_append(topic, 0, batch).unwrap();
    store.step_writer();
    rx.try_recv().unwrap().unwrap();
}

#[test]
fn retention_deletes_whole_old_batches_by_time_and_size() {
    let clock = ManualClock::new(10_000);
    let store = manual_store(&clock);
    let mut config = TopicConfig::default();
    config.retention_ms = 5_000;
    store.create_topic_blocking("t", 1, config).unwrap();
    append_now(&store, "t", records(&["old1", "old2"], 1_000));
    append_now(&store, "t", records(&["new"], 9_000));
    let outcome = store
        .admin_blocking(AdminCommand::EnforceRetention)
        .unwrap();
    assert_eq!(outcome, AdminOutcome::Retention { batches_deleted: 1 });
    assert_eq!(store.offsets("t", 0).unwrap(), (2, 3));
    assert_eq!(all_values(&store, "t", 0), vec![(2, "new".into())]);
    assert!(matches!(
        store.read("t", 0, 0, 100),
        Err(ReadError::OffsetOutOfRange { log_start: 2, .. })
    ));

    let mut by_size = TopicConfig::default();
    by_size.retention_ms = -1;
    let one_batch = records(&["0123456789"], 0).len() as i64;
    by_size.retention_bytes = one_batch * 2;
    store.create_topic_blocking("s", 1, by_size).unwrap();
    for i in 0..5 {
        append_now(&store, "s", records(&[&format!("{i:010}")], 0));
    }
    store
        .admin_blocking(AdminCommand::EnforceRetention)
        .unwrap();
    assert_eq!(
        store.offsets("s", 0).unwrap(),
        (3, 5),
        "keeps the newest two batches"
    );
}

#[test]
fn batches_stored_together_are_retained_together() {
    let clock = ManualClock::new(10_000);
    let store = manual_store(&clock);
    let mut config = TopicConfig::default();
    config.retention_ms = 5_000;
    store.create_topic_blocking("t", 1, config).unwrap();
    // One group commit: the applier stores both batches as one row.
    let old = store
        .submit_append("t", 0, records(&["old"], 1_000))
        .unwrap();
    let new = store
        .submit_append("t", 0, records(&["new"], 9_000))
        .unwrap();
    store.step_writer();
    drop((old, new));
    let outcome = store
        .admin_blocking(AdminCommand::EnforceRetention)
        .unwrap();
    assert_eq!(
        outcome,
        AdminOutcome::Retention { batches_deleted: 0 },
        "a row is deleted whole or not at all"
    );
    clock.advance_ms(10_000);
    let outcome = store
        .admin_blocking(AdminCommand::EnforceRetention)
        .unwrap();
    assert_eq!(outcome, AdminOutcome::Retention { batches_deleted: 2 });
    assert_eq!(store.offsets("t", 0).unwrap(), (2, 2));
}

#[test]
fn offset_for_timestamp_finds_the_first_record_at_or_after() {
    let clock = ManualClock::new(0);
    let (_disk, store) = memory_store(&clock);
    store
        .create_topic_blocking("t", 1, TopicConfig::default())
        .unwrap();
    store
        .append_blocking("t", 0, records(&["a", "b"], 100))
        .unwrap();
    store.append_blocking("t", 0, records(&["c"], 200)).unwrap();
    store.append_blocking("t", 0, records(&["d"], 300)).unwrap();
    assert_eq!(
        store.offset_for_timestamp("t", 0, 0).unwrap(),
        Some((0, 100))
    );
    assert_eq!(
        store.offset_for_timestamp("t", 0, 150).unwrap(),
        Some((2, 200))
    );
    assert_eq!(
        store.offset_for_timestamp("t", 0, 300).unwrap(),
        Some((3, 300))
    );
    assert_eq!(store.offset_for_timestamp("t", 0, 301).unwrap(), None);
    assert_eq!(
        store.offset_of_max_timestamp("t", 0).unwrap(),
        Some((3, 300))
    );
}

#[test]
fn topic_admin_create_delete_grow_configure() {
    let clock = ManualClock::new(0);
    let (disk, store) = memory_store(&clock);
    store
        .create_topic_blocking("t", 1, TopicConfig::default())
        .unwrap();
    assert_eq!(
        store.create_topic_blocking("t", 1, TopicConfig::default()),
        Err(AdminError::Topic(TopicError::AlreadyExists("t".into())))
    );
    assert!(matches!(
        store.create_topic_blocking("bad name", 1, TopicConfig::default()),
        Err(AdminError::Topic(TopicError::InvalidName { .. }))
    ));
    assert!(matches!(
        store.create_topic_blocking("zero", 0, TopicConfig::default()),
        Err(AdminError::Topic(TopicError::InvalidPartitionCount {
            count: 0
        }))
    ));
    store.append_blocking("t", 0, records(&["a"], 0)).unwrap();
    store
        .admin_blocking(AdminCommand::CreatePartitions {
            name: "t".into(),
            total: 3,
        })
        .unwrap();
    assert!(matches!(
        store.admin_blocking(AdminCommand::CreatePartitions {
            name: "t".into(),
            total: 2
        }),
        Err(AdminError::Topic(TopicError::PartitionsCannotShrink {
            current: 3,
            requested: 2
        }))
    ));
    store.append_blocking("t", 2, records(&["p2"], 0)).unwrap();
    let mut config = TopicConfig::default();
    config.retention_ms = 42;
    store
        .admin_blocking(AdminCommand::SetConfig {
            name: "t".into(),
            config,
        })
        .unwrap();
    assert_eq!(
        store.describe_topic("t").unwrap().meta.config.retention_ms,
        42
    );
    assert_eq!(
        all_values(&store, "t", 0),
        vec![(0, "a".into())],
        "growing keeps data"
    );

    store
        .create_topic_blocking("gone", 2, TopicConfig::default())
        .unwrap();
    store
        .append_blocking("gone", 1, records(&["bye"], 0))
        .unwrap();
    store
        .admin_blocking(AdminCommand::DeleteTopic {
            name: "gone".into(),
        })
        .unwrap();
    assert_eq!(store.topic_names(), vec!["t".to_string()]);
    store
        .create_topic_blocking("gone", 1, TopicConfig::default())
        .unwrap();
    assert_eq!(
        store.offsets("gone", 0).unwrap(),
        (0, 0),
        "a recreated topic starts empty"
    );
    drop(store);

    let store = Store::open(
        Location::Memory(disk),
        StoreOptions::default(),
        Arc::new(clock),
    )
    .unwrap();
    let described = store.describe_topic("t").unwrap();
    assert_eq!(described.meta.partitions, 3);
    assert_eq!(described.meta.config.retention_ms, 42);
    assert_eq!(described.partitions[2].high_watermark, 1);
    assert_eq!(store.offsets("gone", 0).unwrap(), (0, 0));
}

#[test]
fn concurrent_appends_share_commits() {
    let clock = ManualClock::new(0);
    let disk = pier_core::faults::MemoryDisk::new();
    let options = StoreOptions {
        manual_writer: true,
        ..StoreOptions::default()
    };
    let store = Store::open(Location::Memory(disk), options, Arc::new(clock)).unwrap();
    store
        .create_topic_blocking("t", 1, TopicConfig::default())
        .unwrap();
    let before = store.stats().commits;
    let pending: Vec<_> = (0..10)
        .map(|i| {
            store
                .submit_append("t", 0, records(&[&i.to_string()], 0))
                .unwrap()
        })
        .collect();
    assert_eq!(
        store.offsets("t", 0).unwrap(),
        (0, 0),
        "nothing visible before the commit"
    );
    assert_eq!(store.step_writer(), 10);
    assert_eq!(store.stats().commits - before, 1, "ten appends, one commit");
    for (i, mut rx) in pending.into_iter().enumerate() {
        assert_eq!(rx.try_recv().unwrap().unwrap().base_offset, i as u64);
    }
}

#[tokio::test]
async fn long_poll_is_woken_by_the_commit() {
    let clock = ManualClock::new(0);
    let (_disk, store) = memory_store(&clock);
    store
        .create_topic("t", 1, TopicConfig::default())
        .await
        .unwrap();
    let waiter = {
        let store = store.clone();
        tokio::spawn(async move { store.wait_for_offset("t", 0, 0).await })
    };
    tokio::task::yield_now().await;
    assert!(!waiter.is_finished());
    store.append("t", 0, records(&["wake"], 0)).await.unwrap();
    waiter.await.unwrap().unwrap();
}

#[test]
fn failed_fsync_poisons_the_store_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(0);
    let open = || {
        Store::open(
            Location::Dir(dir.path().into()),
            StoreOptions::default(),
            Arc::new(clock.clone()),
        )
        .unwrap()
    };
    let store = open();
    store
        .create_topic_blocking("t", 1, TopicConfig::default())
        .unwrap();
    store
        .append_blocking("t", 0, records(&["kept"], 0))
        .unwrap();
    store.faults().set_fail_sync(true);
    let err = store
        .append_blocking("t", 0, records(&["refused"], 0))
        .unwrap_err();
    let AppendError::Poisoned(reason) = &err else {
        panic!("{err:?}")
    };
    assert!(reason.contains("fsync failed"), "names the cause: {reason}");
    store.faults().set_fail_sync(false);
    assert!(
        matches!(
            store.append_blocking("t", 0, records(&["later"], 0)),
            Err(AppendError::Poisoned(_))
        ),
        "stays poisoned after the disk recovers"
    );
    assert!(store.poisoned().is_some());
    drop(store);
    let store = open();
    assert_eq!(all_values(&store, "t", 0)[0], (0, "kept".to_string()));
    assert!(store.poisoned().is_none());
    store
        .append_blocking("t", 0, records(&["after reopen"], 0))
        .unwrap();
}

#[test]
fn data_dir_is_created_by_rename() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested/data");
    let store = Store::open(
        Location::Dir(data.clone()),
        StoreOptions::default(),
        Arc::new(ManualClock::new(0)),
    )
    .unwrap();
    store
        .create_topic_blocking("t", 1, TopicConfig::default())
        .unwrap();
    assert!(data.join("pier.redb").exists());
    assert!(!data.join("pier.redb.tmp").exists());
}

#[test]
fn batches_read_back_from_shared_rows_after_the_cache_lets_go() {
    let clock = ManualClock::new(0);
    let store = manual_store(&clock);
    store
        .create_topic_blocking("t", 1, TopicConfig::default())
        .unwrap();
    let filler = "x".repeat(2_000);
    let mut expected = Vec::new();
    // 3,000 batches of ~2 KiB in groups of ten: ~6 MiB, beyond the tail
    // cache, so most reads must slice batches out of redb rows.
    for group in 0..300 {
        let pending: Vec<_> = (0..10)
            .map(|i| {
                let value = format!("{group}-{i}-{filler}");
                expected.push(value.clone());
                store.submit_append("t", 0, records(&[&value], 0)).unwrap()
            })
            .collect();
        store.step_writer();
        for mut rx in pending {
            rx.try_recv().unwrap().unwrap();
        }
    }
    for offset in [0u64, 1, 9, 10, 11, 1_234, 2_999] {
        let read = store.read("t", 0, offset, 1).unwrap();
        let batches = pier_core::batch::split_batches(read.records).unwrap();
        assert_eq!(batches.len(), 1, "offset {offset}: exactly one batch");
        let record = &pier_core::batch::decode_records(&batches[0]).unwrap()[0];
        assert_eq!(record.offset as u64, offset);
        assert_eq!(
            record.value.as_deref().unwrap(),
            expected[offset as usize].as_bytes()
        );
    }
    // A read that starts inside one row and ends inside another is served
    // one lookup per row: exactly the batches asked for, in order.
    let size = |o: u64| store.read("t", 0, o, 1).unwrap().records.len();
    for (offset, count) in [(15u64, 25usize), (0, 10), (5, 1), (2_985, 15)] {
        let limit = (offset..offset + count as u64).map(size).sum();
        let read = store.read("t", 0, offset, limit).unwrap();
        let batches = pier_core::batch::split_batches(read.records).unwrap();
        assert_eq!(batches.len(), count, "from {offset}");
        for (i, b) in batches.iter().enumerate() {
            let record = &pier_core::batch::decode_records(b).unwrap()[0];
            let want = offset + i as u64;
            assert_eq!(record.offset as u64, want);
            assert_eq!(
                record.value.as_deref().unwrap(),
                expected[want as usize].as_bytes()
            );
        }
    }
    let all = all_values(&store, "t", 0);
    assert_eq!(all.len(), 3_000);
    assert!(
        all.iter()
            .zip(&expected)
            .all(|((_, got), want)| got == want)
    );
}
