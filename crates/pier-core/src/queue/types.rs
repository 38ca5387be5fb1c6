//! The queue state machine's vocabulary: slots, events, acknowledgements.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::config::QueueConfig;

/// Where a delivered, unfinished record stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Slot {
    /// Held by `member` until `deadline_ms`.
    Leased {
        member: String,
        deadline_ms: i64,
        deliveries: u32,
    },
    /// Waiting for redelivery, not before `not_before_ms`.
    Available {
        deliveries: u32,
        not_before_ms: i64,
        last_reason: Option<String>,
    },
    /// Decided: goes to the dead-letter topic (written by the service).
    DeadLetter { deliveries: u32, reason: String },
}

impl Slot {
    pub fn deliveries(&self) -> u32 {
        match self {
            Slot::Leased { deliveries, .. }
            | Slot::Available { deliveries, .. }
            | Slot::DeadLetter { deliveries, .. } => *deliveries,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionState {
    /// Next offset never delivered.
    pub cursor: u64,
    #[serde(with = "slots_as_pairs")]
    pub slots: BTreeMap<u64, Slot>,
}

/// `slots` as a list of `[offset, slot]` pairs. As a JSON object (integer
/// keys written as strings) it could not be read back inside the
/// internally tagged [`Event`]: serde buffers the content, and buffered
/// string keys do not turn back into integers — so every snapshot with a
/// leased or waiting record failed to parse on open, and once compaction
/// had trimmed the log before it, the group was gone after a restart.
/// Objects (snapshots written before) are still read, keys parsed.
mod slots_as_pairs {
    use std::collections::BTreeMap;
    use std::fmt;

    use serde::de::{Error, MapAccess, SeqAccess, Visitor};
    use serde::{Deserializer, Serializer};

    use super::Slot;

    pub fn serialize<S: Serializer>(slots: &BTreeMap<u64, Slot>, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(slots.iter())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<u64, Slot>, D::Error> {
        struct Slots;
        impl<'de> Visitor<'de> for Slots {
            type Value = BTreeMap<u64, Slot>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of [offset, slot] pairs")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((offset, slot)) = seq.next_element::<(u64, Slot)>()? {
                    out.insert(offset, slot);
                }
                Ok(out)
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((offset, slot)) = map.next_entry::<String, Slot>()? {
                    out.insert(offset.parse().map_err(A::Error::custom)?, slot);
                }
                Ok(out)
            }
        }
        d.deserialize_any(Slots)
    }
}

/// Counters since the group was created (rebuilt by replay).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueCounters {
    pub delivered: u64,
    pub redelivered: u64,
    pub accepted: u64,
    pub released: u64,
    pub expired: u64,
    pub dead_lettered: u64,
}

/// A logged change to a queue group. Serialized as JSON records in the
/// internal topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "e", rename_all = "snake_case")]
pub enum Event {
    Configured {
        group: String,
        config: QueueConfig,
    },
    Deleted {
        group: String,
    },
    /// Records leased to `member`; `(offset, deliveries)` pairs.
    Delivered {
        group: String,
        partition: u32,
        member: String,
        deadline_ms: i64,
        records: Vec<(u64, u32)>,
    },
    Accepted {
        group: String,
        partition: u32,
        offsets: Vec<u64>,
    },
    /// Back to available: `(offset, not_before_ms)`. `expired` when the
    /// lease ran out or its member went away.
    Released {
        group: String,
        partition: u32,
        records: Vec<(u64, i64)>,
        expired: bool,
        reason: Option<String>,
    },
    Extended {
        group: String,
        partition: u32,
        offsets: Vec<u64>,
        deadline_ms: i64,
    },
    /// Decided to dead-letter (the copy is written afterwards).
    Rejected {
        group: String,
        partition: u32,
        offsets: Vec<u64>,
        reason: String,
    },
    /// The dead-letter copies are durable: the records are finished.
    DeadLettered {
        group: String,
        partition: u32,
        offsets: Vec<u64>,
    },
    /// Every group's whole state; replay starts over from here, and the log
    /// before it can be deleted.
    Snapshot {
        groups: Vec<GroupSnapshot>,
    },
}

/// One group in a [`Event::Snapshot`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSnapshot {
    pub name: String,
    pub config: QueueConfig,
    pub partitions: Vec<PartitionState>,
    pub counters: QueueCounters,
}

impl Event {
    pub fn group(&self) -> &str {
        match self {
            Event::Configured { group, .. }
            | Event::Deleted { group }
            | Event::Delivered { group, .. }
            | Event::Accepted { group, .. }
            | Event::Released { group, .. }
            | Event::Extended { group, .. }
            | Event::Rejected { group, .. }
            | Event::DeadLettered { group, .. } => group,
            Event::Snapshot { .. } => "",
        }
    }
}

/// What an acknowledgement does to one leased record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AckAction {
    /// Done: never delivered again.
    Accept,
    /// Deliver again, after `delay_ms` if given, else after the backoff.
    Release { delay_ms: Option<u64> },
    /// Dead-letter now.
    Reject { reason: String },
    /// Keep the lease `lease_ms` longer from now.
    Extend { lease_ms: u64 },
}

/// Why one acknowledgement was refused (state unchanged for it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    #[error("partition {0} does not exist in this group's topic")]
    UnknownPartition(u32),
    #[error(
        "offset {offset} in partition {partition} is not leased (never delivered, already acknowledged, or its lease expired)"
    )]
    NotLeased { partition: u32, offset: u64 },
    #[error(
        "offset {offset} in partition {partition} is leased by another consumer (its lease expired and it was redelivered)"
    )]
    WrongMember { partition: u32, offset: u64 },
    #[error(
        "delivery {got} of offset {offset} in partition {partition} is stale: it is now on delivery {current}"
    )]
    StaleDelivery {
        partition: u32,
        offset: u64,
        got: u32,
        current: u32,
    },
    #[error("lease of {0} ms is out of range 1..={max}", max = super::config::LEASE_MAX_MS)]
    LeaseOutOfRange(u64),
    #[error("delay of {0} ms is out of range 0..={max}", max = super::config::LEASE_MAX_MS)]
    DelayOutOfRange(u64),
}

/// A record decided for the dead-letter topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingDeadLetter {
    pub partition: u32,
    pub offset: u64,
    pub deliveries: u32,
    pub reason: String,
}

/// A record leased right now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lease {
    pub partition: u32,
    pub offset: u64,
    pub member: String,
    pub delivery: u32,
    pub deadline_ms: i64,
}

/// One record handed out by [`QueueGroup::receive`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    pub partition: u32,
    pub offset: u64,
    pub deliveries: u32,
    pub deadline_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A snapshot with leased and waiting records reads back as it was
    /// written (it did not: see `slots_as_pairs`).
    #[test]
    fn a_snapshot_with_slots_round_trips() {
        let mut slots = BTreeMap::new();
        slots.insert(
            10,
            Slot::Leased {
                member: "a".into(),
                deadline_ms: 5_000,
                deliveries: 1,
            },
        );
        slots.insert(
            12,
            Slot::Available {
                deliveries: 2,
                not_before_ms: 7_000,
                last_reason: Some("released".into()),
            },
        );
        let json = serde_json::json!({
            "e": "snapshot",
            "groups": [{
                "name": "q",
                "config": serde_json::to_value(crate::queue::QueueConfig::new("t")).unwrap(),
                "partitions": [serde_json::to_value(PartitionState { cursor: 13, slots: slots.clone() }).unwrap()],
                "counters": serde_json::to_value(QueueCounters::default()).unwrap(),
            }]
        });
        let event: Event = serde_json::from_value(json.clone()).unwrap();
        let Event::Snapshot { groups } = &event else {
            panic!("not a snapshot: {event:?}");
        };
        assert_eq!(groups[0].partitions[0].slots, slots);
        let bytes = serde_json::to_vec(&event).unwrap();
        assert_eq!(serde_json::from_slice::<Event>(&bytes).unwrap(), event);
        // Snapshots written before kept slots as an object: still read.
        let mut old = json;
        old["groups"][0]["partitions"][0]["slots"] = serde_json::json!({
            "10": {"Leased": {"member": "a", "deadline_ms": 5000, "deliveries": 1}}
        });
        let Event::Snapshot { groups } = serde_json::from_value::<Event>(old).unwrap() else {
            panic!("not a snapshot");
        };
        assert_eq!(groups[0].partitions[0].slots.len(), 1);
    }
}
