//! The delivery ledger: what Pier saw happen to every record (produced,
//! acknowledged, sent to consumers, committed, settled, lost at a restart)
//! and the verdicts drawn from it: lost after acknowledgement, stored
//! twice, delivered more than once, committed without delivery, out of
//! order, dead-lettered. It lives beside the broker, not in it, so it
//! survives the broker's crash and power-loss faults.
//!
//! Memory is bounded: records that flow normally cost a few ranges (one
//! per producer run, one per consumer session); each anomaly is one entry;
//! past [`ENTRIES_MAX`] entries nothing new is kept and every verdict says
//! the ledger is truncated.

mod fingerprint;
mod fptable;
mod journey;
mod kinds;
mod produce;
mod queue;
mod ranges;
mod record;
mod types;
mod verdict;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

pub use fingerprint::{Fingerprints, records as fingerprints};
pub use journey::{Journey, JourneyStep};
pub use ranges::RangeSet;
pub use types::{GroupKind, Produced, ProducerKey, Span};
pub use verdict::{
    Expectation, Finding, FindingKind, Guarantee, PartitionFacts, PartitionReport,
    RECORDS_LISTED_MAX, RecordRef, Verdict, VerdictQuery,
};

use types::{GroupLedger, Instance, PartitionLedger};

/// Entries (ranges and anomalies) kept in all before the ledger stops
/// recording detail: about 64 bytes each, so ≤ ~32 MiB.
pub const ENTRIES_MAX: usize = 500_000;
/// How long a record's fingerprint is kept to recognise a retry.
pub const DUPLICATE_WINDOW_MS: i64 = 60_000;
/// Fingerprints kept per partition (the window shrinks at higher rates).
pub const FINGERPRINTS_PER_PARTITION_MAX: usize = 32_768;
/// Batches per partition kept with exact producer detail.
pub const RECENT_BATCHES_MAX: usize = 4_096;
/// Anomalies kept for live events.
const ANOMALIES_KEPT: usize = 1_024;

/// A consumer's read, as the Fetch handler saw it.
#[derive(Debug, Clone)]
pub struct Fetched<'a> {
    pub topic: &'a str,
    pub partition: u32,
    /// The requested offset (earlier records of the first batch are
    /// skipped by the client, so they are not counted).
    pub from: u64,
    /// The last offset in the answer.
    pub to: u64,
    /// The connection: a repeated request on it is a retry, not a rewind.
    pub connection: u64,
    /// Group (or `client:<id>` when none could be attributed).
    pub group: &'a str,
    pub kind: GroupKind,
    /// Member or client, as shown.
    pub who: &'a str,
    /// How the group was inferred.
    pub rule: &'a str,
    pub at_ms: i64,
}

/// Record counts per anomaly, since the ledger started (for `/metrics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema, ts_rs::TS))]
pub struct Counters {
    pub lost_after_ack: u64,
    pub lost_unacknowledged: u64,
    pub stored_twice: u64,
    pub delivered_more_than_once: u64,
    pub committed_without_delivery: u64,
    pub out_of_order: u64,
    pub dead_lettered: u64,
}

/// A new anomaly, for live events.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema, ts_rs::TS))]
pub struct Anomaly {
    pub seq: u64,
    pub kind: FindingKind,
    pub topic: String,
    pub group: Option<String>,
    pub span: Span,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    /// topic → partition → what is known (looked up by `&str`, so the
    /// produce path allocates nothing for a known partition).
    /// Looked up twice per produce: a fast hasher (topic names are the
    /// user's own, on their own machine).
    pub partitions: HashMap<String, BTreeMap<u32, PartitionLedger>, foldhash::fast::RandomState>,
    pub groups: HashMap<String, GroupLedger>,
    pub instances: HashMap<(u64, String, u32), Instance>,
    pub entries: usize,
    pub started_ms: Option<i64>,
    pub truncated_ms: Option<i64>,
    pub counters: Counters,
    pub anomalies: VecDeque<Anomaly>,
    pub next_seq: u64,
}

/// The ledger. Share it (`Arc`) between broker generations.
#[derive(Debug)]
pub struct Ledger {
    enabled: AtomicBool,
    state: Mutex<State>,
}

impl Default for Ledger {
    fn default() -> Self {
        Self::new(true)
    }
}

impl Ledger {
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled: AtomicBool::new(enabled),
            state: Mutex::default(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Turning it off stops recording; what was recorded stays.
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    pub(crate) fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("ledger lock")
    }

    pub fn counters(&self) -> Counters {
        self.state().counters
    }

    /// When recording began (the first thing seen), and whether detail was
    /// dropped since.
    pub fn span_ms(&self) -> (Option<i64>, Option<i64>) {
        let s = self.state();
        (s.started_ms, s.truncated_ms)
    }

    /// Anomalies with `seq > after`, oldest first, and the latest seq.
    pub fn anomalies_since(&self, after: u64) -> (Vec<Anomaly>, u64) {
        let s = self.state();
        let new = s
            .anomalies
            .iter()
            .filter(|a| a.seq > after)
            .cloned()
            .collect();
        (new, s.next_seq)
    }

    /// Every partition with recorded produces.
    pub fn partitions(&self) -> Vec<(String, u32)> {
        let s = self.state();
        s.partitions
            .iter()
            .flat_map(|(t, ps)| ps.keys().map(move |p| (t.clone(), *p)))
            .collect()
    }

    /// Forgets a deleted topic: its records were removed, not lost.
    pub fn topic_deleted(&self, topic: &str) {
        let mut s = self.state();
        s.partitions.remove(topic);
        for g in s.groups.values_mut() {
            g.topics.retain(|(t, _), _| t != topic);
        }
        s.instances.retain(|(_, t, _), _| t != topic);
    }
}

impl State {
    pub(crate) fn partition(&self, topic: &str, partition: u32) -> Option<&PartitionLedger> {
        self.partitions.get(topic)?.get(&partition)
    }

    /// Takes a partition's ledger out (a new one if unknown), so it can be
    /// changed while the rest of the state is borrowed; put it back after.
    /// (The slot stays in the map, emptied: nothing is allocated or freed
    /// on the way, which the produce path does for every batch.)
    pub(crate) fn take_partition(&mut self, topic: &str, partition: u32) -> PartitionLedger {
        self.partitions
            .get_mut(topic)
            .and_then(|ps| ps.get_mut(&partition))
            .map(std::mem::take)
            .unwrap_or_default()
    }

    pub(crate) fn put_partition(&mut self, topic: &str, partition: u32, pl: PartitionLedger) {
        match self.partitions.get_mut(topic) {
            Some(ps) => match ps.get_mut(&partition) {
                Some(slot) => *slot = pl,
                None => {
                    ps.insert(partition, pl);
                }
            },
            None => {
                self.partitions
                    .insert(topic.to_owned(), BTreeMap::from([(partition, pl)]));
            }
        }
    }

    /// Gives back an entry (two runs merged into one).
    pub(crate) fn release(&mut self) {
        self.entries = self.entries.saturating_sub(1);
    }

    pub(crate) fn start(&mut self, at_ms: i64) {
        self.started_ms.get_or_insert(at_ms);
    }

    /// Whether one more entry may be kept; marks truncation when not.
    pub(crate) fn admit(&mut self, at_ms: i64) -> bool {
        if self.entries >= ENTRIES_MAX {
            self.truncated_ms.get_or_insert(at_ms);
            return false;
        }
        self.entries += 1;
        true
    }

    pub(crate) fn anomaly(
        &mut self,
        kind: FindingKind,
        topic: &str,
        group: Option<&str>,
        span: Span,
    ) {
        let n = span.records();
        let c = &mut self.counters;
        match kind {
            FindingKind::LostAfterAck => c.lost_after_ack += n,
            FindingKind::LostUnacknowledged => c.lost_unacknowledged += n,
            FindingKind::StoredTwice => c.stored_twice += n,
            FindingKind::DeliveredMoreThanOnce => c.delivered_more_than_once += n,
            FindingKind::CommittedWithoutDelivery => c.committed_without_delivery += n,
            FindingKind::OutOfOrder => c.out_of_order += n,
            FindingKind::DeadLettered => c.dead_lettered += n,
            FindingKind::Stuck | FindingKind::Unconsumed => {}
        }
        self.next_seq += 1;
        self.anomalies.push_back(Anomaly {
            seq: self.next_seq,
            kind,
            topic: topic.to_owned(),
            group: group.map(str::to_owned),
            span,
        });
        if self.anomalies.len() > ANOMALIES_KEPT {
            self.anomalies.pop_front();
        }
    }
}

#[cfg(test)]
mod tests;
