//! Every queue event survives the way it is logged: JSON in a record of a
//! RecordBatch, written and read back, equal to what was written. Events
//! are generated at random, snapshots from a group that lived through
//! generated events (a snapshot that did not read back once lost whole
//! groups).

use bytes::Bytes;
use kafka_protocol::records::Compression;
use pier_core::batch::{self, NewRecord};
use pier_core::queue::{Event, QueueConfig, QueueGroup};
use proptest::prelude::*;

fn name() -> impl Strategy<Value = String> {
    "[a-z0-9._é-]{1,12}"
}

fn event() -> impl Strategy<Value = Event> {
    let offsets = prop::collection::vec(0u64..10_000, 0..8);
    prop_oneof![
        (name(), name()).prop_map(|(group, topic)| Event::Configured {
            group,
            config: QueueConfig::new(&topic)
        }),
        name().prop_map(|group| Event::Deleted { group }),
        (
            name(),
            0u32..4,
            name(),
            any::<i64>(),
            prop::collection::vec((0u64..10_000, 1u32..6), 0..8)
        )
            .prop_map(|(group, partition, member, deadline_ms, records)| {
                Event::Delivered {
                    group,
                    partition,
                    member,
                    deadline_ms,
                    records,
                }
            }),
        (name(), 0u32..4, offsets.clone()).prop_map(|(group, partition, offsets)| {
            Event::Accepted {
                group,
                partition,
                offsets,
            }
        }),
        (
            name(),
            0u32..4,
            prop::collection::vec((0u64..10_000, any::<i64>()), 0..8),
            any::<bool>(),
            prop::option::of(".{0,20}")
        )
            .prop_map(
                |(group, partition, records, expired, reason)| Event::Released {
                    group,
                    partition,
                    records,
                    expired,
                    reason
                }
            ),
        (name(), 0u32..4, offsets.clone(), any::<i64>()).prop_map(
            |(group, partition, offsets, deadline_ms)| {
                Event::Extended {
                    group,
                    partition,
                    offsets,
                    deadline_ms,
                }
            }
        ),
        (name(), 0u32..4, offsets.clone(), ".{0,20}").prop_map(
            |(group, partition, offsets, reason)| {
                Event::Rejected {
                    group,
                    partition,
                    offsets,
                    reason,
                }
            }
        ),
        (name(), 0u32..4, offsets).prop_map(|(group, partition, offsets)| Event::DeadLettered {
            group,
            partition,
            offsets
        }),
    ]
}

/// `e` as logged: JSON in a record, in a batch, read back.
fn through_the_log(e: &Event) -> Event {
    let json = serde_json::to_vec(e).expect("events serialize");
    let records = [NewRecord {
        value: Some(Bytes::from(json)),
        timestamp_ms: 1,
        ..NewRecord::default()
    }];
    let b = batch::build(&records, Compression::None, None);
    batch::validate(&b).expect("a built batch is valid");
    let back = batch::decode_records(&b).expect("decodes");
    let value = back[0].value.clone().expect("a value");
    serde_json::from_slice(&value).expect("a logged event reads back")
}

proptest! {
    #[test]
    fn every_event_reads_back_as_written(e in event()) {
        prop_assert_eq!(through_the_log(&e), e);
    }

    #[test]
    fn a_snapshot_of_a_lived_in_group_reads_back(events in prop::collection::vec(event(), 0..40)) {
        let mut g = QueueGroup::new("g", QueueConfig::new("t"));
        for e in &events {
            g.apply(e);
        }
        let snapshot = Event::Snapshot { groups: vec![g.snapshot()] };
        let back = through_the_log(&snapshot);
        prop_assert_eq!(&back, &snapshot);
        // And the group rebuilt from it is the same group.
        if let Event::Snapshot { groups } = back {
            let rebuilt = QueueGroup::from_snapshot(groups[0].clone());
            prop_assert_eq!(rebuilt.snapshot(), g.snapshot());
        }
    }
}
