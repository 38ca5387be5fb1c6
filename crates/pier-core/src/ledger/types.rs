//! What the ledger remembers: ranges for the common case, one entry per
//! anomaly. Every list is bounded by [`super::ENTRIES_MAX`] in all.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::ranges::RangeSet;

/// Who produced a run of records. Cheap to clone: a connection makes one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProducerKey {
    pub client_id: Arc<str>,
    /// The client's address as Pier saw it.
    pub address: Arc<str>,
    /// -1 without idempotence.
    pub producer_id: i64,
    pub producer_epoch: i16,
}

impl ProducerKey {
    /// `client at 127.0.0.1:5000`, or `pier-http (the HTTP API)` for a
    /// producer inside Pier.
    pub fn describe(&self) -> String {
        if self
            .address
            .starts_with(|c: char| c.is_ascii_digit() || c == '[')
        {
            format!("{} at {}", self.client_id, self.address)
        } else {
            format!("{} ({})", self.client_id, self.address)
        }
    }
}

/// A produce the broker answered, with its acknowledgement mode.
#[derive(Debug, Clone)]
pub struct Produced<'a> {
    pub topic: &'a str,
    pub partition: u32,
    pub first_offset: u64,
    pub last_offset: u64,
    pub producer: &'a ProducerKey,
    pub base_sequence: i32,
    /// `acks` of the request: 0 is never acknowledged.
    pub acks: i16,
    /// fsync was on when the answer was sent.
    pub fsync: bool,
    pub first_timestamp_ms: i64,
    pub max_timestamp_ms: i64,
    /// Per-record fingerprints (producers without idempotence only).
    pub fingerprints: Option<super::fingerprint::Fingerprints>,
    /// The connection (or, inside Pier, the attempt) it came over: a retry
    /// after a lost answer comes over another one, so only a copy from
    /// another connection is a retry stored twice.
    pub connection: u64,
    pub at_ms: i64,
}

/// Offsets produced in a row with the same acknowledgement state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AckRun {
    pub first: u64,
    pub last: u64,
    pub acknowledged: bool,
    /// Durable when acknowledged: fsync was on and acks was not 0.
    pub durable: bool,
    pub first_ms: i64,
    pub last_ms: i64,
}

/// One producer's share of a partition: where its records went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProducerRun {
    pub key: ProducerKey,
    pub first: u64,
    pub last: u64,
    pub records: u64,
    pub first_ms: i64,
    pub last_ms: i64,
}

/// Records gone after a restart, and how they had been acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lost {
    pub span: Span,
    pub acknowledged: bool,
    pub durable: bool,
}

/// A batch in the recent-detail ring: exact attribution for the journey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BatchDetail {
    pub first: u64,
    pub last: u64,
    pub producer: usize,
    pub base_sequence: i32,
    pub acks: i16,
    pub fsync: bool,
    pub at_ms: i64,
}

/// A run of records with something to say about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema, ts_rs::TS))]
pub struct Span {
    pub partition: u32,
    pub first_offset: u64,
    pub last_offset: u64,
    /// When it happened (ms since the epoch).
    pub at_ms: i64,
    /// Who: a client id and address, a group member, or a producer.
    pub who: Option<String>,
    /// What exactly, in words: the other copy's offset, the rule used.
    pub detail: Option<String>,
}

impl Span {
    pub fn records(&self) -> u64 {
        self.last_offset - self.first_offset + 1
    }
}

/// first offset → (last offset, first and max timestamp) of a batch.
/// (first offset, (last offset, first and max timestamp)), sorted by
/// first offset; short, and answers mostly arrive in order, so a sorted
/// ring beats a tree.
pub(crate) type OrderMarks = VecDeque<(u64, (u64, i64, i64))>;

/// What the ledger knows about one partition's records.
#[derive(Debug, Default)]
pub(crate) struct PartitionLedger {
    /// Keyed by first offset; neighbours with the same state merge.
    pub acked: BTreeMap<u64, AckRun>,
    pub producers: Vec<ProducerRun>,
    pub recent: VecDeque<BatchDetail>,
    pub lost: Vec<Lost>,
    /// A second copy, and the first offset of the first copy.
    pub stored_twice: Vec<(Span, u64)>,
    pub out_of_order: Vec<Span>,
    /// Offsets retention removed (runs coalesce while the log start moves
    /// on: one entry per partition in the common case).
    pub retained_away: Vec<Span>,
    /// fingerprint → (offset, connection), for records of the last
    /// [`super::DUPLICATE_WINDOW_MS`].
    pub fingerprints: super::fptable::FingerprintTable,
    /// The latest batches per connection of a producer without
    /// idempotence: first offset → (last offset, first and max
    /// timestamp). Produce answers reach the ledger in any order; offsets
    /// say what was stored first.
    pub order_marks: BTreeMap<u64, OrderMarks>,
}

/// How a group consumes: classic (Fetch + OffsetCommit) or a queue/share
/// group (leases and per-record acknowledgements).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema, ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum GroupKind {
    Classic,
    Queue,
    /// Fetches that no group could be attributed to, keyed by client id.
    Unattributed,
}

/// One group's view of one partition.
#[derive(Debug, Default)]
pub(crate) struct GroupPartition {
    /// Every offset sent to some member.
    pub delivered: RangeSet,
    /// Sends, coalesced per member and contiguous offsets.
    pub deliveries: Vec<Span>,
    pub redelivered: Vec<Span>,
    pub commits: Vec<Span>,
    pub committed: Option<u64>,
    pub committed_ms: i64,
    pub skipped: Vec<Span>,
    /// Acknowledgements of a queue group: detail says which.
    pub settled: Vec<Span>,
    pub dead_lettered: Vec<Span>,
}

#[derive(Debug)]
pub(crate) struct GroupLedger {
    pub kind: GroupKind,
    pub topics: HashMap<(String, u32), GroupPartition>,
}

/// One consumer connection's position on a partition: tells a repeated
/// request (its answer was lost) from a rewind.
#[derive(Debug, Clone)]
pub(crate) struct Instance {
    pub group: String,
    pub last_from: u64,
    pub last_to: u64,
    /// Index into the group partition's `deliveries`, to extend.
    pub span: Option<usize>,
}
