//! Duplicate detection on produce (`dedup.window.ms`, `dedup.id`).

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::{all_values, memory_store};
use kafka_protocol::records::Compression;
use pier_core::batch::{self, NewRecord, ProducerStamp};
use pier_core::store::DEDUP_HEADER;
use pier_core::{AppendError, Location, ManualClock, Store, StoreOptions, TopicConfig};

/// A batch of `(id, value)` records; `None` ids carry no header.
fn with_ids(items: &[(Option<&str>, &str)], stamp: Option<ProducerStamp>) -> Bytes {
    let records: Vec<NewRecord> = items
        .iter()
        .map(|(id, v)| NewRecord {
            key: Some(Bytes::from(format!("k-{v}"))),
            value: Some(Bytes::copy_from_slice(v.as_bytes())),
            headers: id
                .map(|id| {
                    vec![(
                        DEDUP_HEADER.to_owned(),
                        Some(Bytes::copy_from_slice(id.as_bytes())),
                    )]
                })
                .unwrap_or_default(),
            timestamp_ms: 1_000,
        })
        .collect();
    batch::build(&records, Compression::None, stamp)
}

fn dedup_config(window_ms: &str, by: &str) -> TopicConfig {
    let mut c = TopicConfig::default();
    c.set("dedup.window.ms", window_ms).unwrap();
    c.set("dedup.id", by).unwrap();
    c
}

#[test]
fn a_seen_id_is_not_stored_again_and_gets_the_original_offset() {
    let clock = ManualClock::new(1_000);
    let (_disk, store) = memory_store(&clock);
    store
        .create_topic_blocking("t", 1, dedup_config("60000", "header"))
        .unwrap();
    let a = store
        .append_blocking(
            "t",
            0,
            with_ids(&[(Some("a"), "1"), (Some("b"), "2")], None),
        )
        .unwrap();
    assert_eq!((a.base_offset, a.last_offset), (0, 1));
    // The same id again: nothing stored, the original offset answered.
    let again = store
        .append_blocking("t", 0, with_ids(&[(Some("b"), "2-retry")], None))
        .unwrap();
    assert_eq!((again.base_offset, again.last_offset), (1, 1));
    // A mix: only the new ones are stored; records without an id always are.
    let mixed = store
        .append_blocking(
            "t",
            0,
            with_ids(
                &[
                    (Some("a"), "x"),
                    (Some("c"), "3"),
                    (None, "4"),
                    (Some("c"), "3-dup"),
                ],
                None,
            ),
        )
        .unwrap();
    assert_eq!((mixed.base_offset, mixed.last_offset), (2, 3));
    assert_eq!(
        all_values(&store, "t", 0),
        vec![
            (0, "1".into()),
            (1, "2".into()),
            (2, "3".into()),
            (3, "4".into())
        ]
    );
    assert_eq!(store.stats().dedup_hits, 3);
    // Out of the window, the id is new again.
    clock.advance_ms(60_001);
    let later = store
        .append_blocking("t", 0, with_ids(&[(Some("a"), "1-later")], None))
        .unwrap();
    assert_eq!(later.base_offset, 4);
}

#[test]
fn ids_can_be_keys_and_topics_without_a_window_keep_everything() {
    let clock = ManualClock::new(1_000);
    let (_disk, store) = memory_store(&clock);
    store
        .create_topic_blocking("by-key", 1, dedup_config("60000", "key"))
        .unwrap();
    store
        .create_topic_blocking("plain", 1, TopicConfig::default())
        .unwrap();
    for topic in ["by-key", "plain"] {
        for _ in 0..3 {
            store
                .append_blocking(topic, 0, with_ids(&[(None, "same")], None))
                .unwrap();
        }
    }
    assert_eq!(
        store.offsets("by-key", 0).unwrap().1,
        1,
        "same key stored once"
    );
    assert_eq!(store.offsets("plain", 0).unwrap().1, 3);
    let mut c = TopicConfig::default();
    assert!(c.set("dedup.window.ms", "-1").is_err());
    assert!(c.set("dedup.window.ms", "86400001").is_err());
    assert!(c.set("dedup.id", "value").is_err());
    assert_eq!(c, TopicConfig::default(), "refused settings change nothing");
}

#[test]
fn windows_survive_a_restart() {
    let clock = ManualClock::new(1_000);
    let (disk, store) = memory_store(&clock);
    store
        .create_topic_blocking("t", 2, dedup_config("60000", "header"))
        .unwrap();
    store
        .append_blocking("t", 1, with_ids(&[(Some("order-7"), "v")], None))
        .unwrap();
    drop(store);
    let store = Store::open(
        Location::Memory(disk),
        StoreOptions::default(),
        Arc::new(clock.clone()),
    )
    .unwrap();
    let again = store
        .append_blocking("t", 0, with_ids(&[(Some("order-7"), "v")], None))
        .unwrap();
    assert_eq!(again.base_offset, 0, "the original (partition 1) offset");
    assert_eq!(
        store.offsets("t", 0).unwrap().1,
        0,
        "nothing stored in partition 0"
    );
    assert_eq!(store.offsets("t", 1).unwrap().1, 1);
}

#[test]
fn an_idempotent_producer_keeps_its_sequence_when_records_are_dropped() {
    let clock = ManualClock::new(1_000);
    let (_disk, store) = memory_store(&clock);
    store
        .create_topic_blocking("t", 1, dedup_config("60000", "header"))
        .unwrap();
    store
        .append_blocking("t", 0, with_ids(&[(Some("x"), "x")], None))
        .unwrap();
    let stamp = |seq| {
        Some(ProducerStamp {
            producer_id: 42,
            producer_epoch: 0,
            base_sequence: seq,
        })
    };
    // Sequence 0..=2, of which "x" is a duplicate: two records stored.
    let first = with_ids(
        &[(Some("x"), "x"), (Some("y"), "y"), (Some("z"), "z")],
        stamp(0),
    );
    let a = store.append_blocking("t", 0, first.clone()).unwrap();
    assert_eq!((a.base_offset, a.last_offset), (1, 2));
    // The producer continues at sequence 3: accepted, not out of order.
    let b = store
        .append_blocking("t", 0, with_ids(&[(Some("w"), "w")], stamp(3)))
        .unwrap();
    assert_eq!(b.base_offset, 3);
    // A retry of the first batch is answered from the producer table.
    let retry = store.append_blocking("t", 0, first).unwrap();
    assert_eq!((retry.base_offset, retry.last_offset), (1, 2));
    // A gap is still refused.
    let gap = store.append_blocking("t", 0, with_ids(&[(Some("v"), "v")], stamp(9)));
    assert!(
        matches!(gap, Err(AppendError::OutOfOrderSequence { .. })),
        "{gap:?}"
    );
    assert_eq!(store.offsets("t", 0).unwrap().1, 4);
}
