//! Lab files: a declarative scenario in TOML (`docs/labs.md`). Everything
//! is checked before anything runs; a mistake is reported with the file,
//! line and column, and the reason.

use std::collections::BTreeMap;
use std::fmt;

use pier_core::faults::FaultKind;
use pier_core::ledger::FindingKind;
use serde::{Deserialize, Serialize};
use toml::Spanned;

/// A lab: topics, then variants run one after the other on fresh topics.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lab {
    /// Short name, `[a-z0-9-]` (what `pier lab run NAME` takes).
    pub name: Spanned<String>,
    pub title: String,
    /// The reliability concept it shows (labs are listed by concept).
    pub concept: String,
    #[serde(default)]
    pub about: String,
    #[serde(default, rename = "topic")]
    pub topics: Vec<TopicSpec>,
    #[serde(rename = "variant")]
    pub variants: Vec<Variant>,
    /// Where the lab file is: apps' commands run there.
    #[serde(skip)]
    pub dir: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicSpec {
    pub name: Spanned<String>,
    #[serde(default = "one")]
    pub partitions: Spanned<u32>,
}

/// One way of running the scenario ("without the feature", "with it").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub name: String,
    #[serde(default)]
    pub about: String,
    /// fsync before acknowledging (Pier's durability switch).
    #[serde(default = "yes")]
    pub fsync: bool,
    #[serde(default, rename = "producer")]
    pub producers: Vec<ProducerSpec>,
    #[serde(default, rename = "consumer")]
    pub consumers: Vec<ConsumerSpec>,
    #[serde(default, rename = "app")]
    pub apps: Vec<AppSpec>,
    #[serde(default, rename = "step")]
    pub steps: Vec<Step>,
    /// Alerts on the lag, watched while the variant runs.
    #[serde(default, rename = "alert")]
    pub alerts: Vec<AlertSpec>,
    /// Topic settings for this variant: topic name → Kafka-named settings
    /// (`dedup.window.ms`, `retention.ms`, …).
    #[serde(default)]
    pub topic_config: BTreeMap<Spanned<String>, BTreeMap<String, String>>,
    /// Longest wait for the clients to finish (ms, default 20,000).
    #[serde(default = "default_timeout")]
    pub timeout_ms: Spanned<i64>,
    /// Verdict name → condition (`"= 0"`, `"> 0"`, `"<= 10"`).
    #[serde(default)]
    pub expect: BTreeMap<Spanned<String>, Spanned<String>>,
}

/// A simulated producer: a Kafka client over Pier's own listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProducerSpec {
    pub name: Spanned<String>,
    pub topic: Spanned<String>,
    /// Records to send (1–1,000,000).
    pub records: Spanned<i64>,
    /// Records per second (default 2,000).
    #[serde(default = "default_rate")]
    pub rate: Spanned<i64>,
    /// Records per request (`batch.size`/`linger.ms` in effect; default 10).
    #[serde(default = "ten")]
    pub batch: Spanned<i64>,
    /// `acks`: `"all"`, `"1"` or `"0"` (default `"all"`).
    #[serde(default = "all")]
    pub acks: Spanned<String>,
    /// `enable.idempotence` (default false).
    #[serde(default)]
    pub idempotence: bool,
    /// `request.timeout.ms`: an unanswered request is sent again on a new
    /// connection after this long (default 1,000).
    #[serde(default = "default_request_timeout")]
    pub request_timeout_ms: Spanned<i64>,
    /// `delivery.timeout.ms`: a batch not acknowledged this long after it
    /// was due is given up, and its records reported failed to the
    /// application (default 120,000, Kafka's).
    #[serde(default = "default_delivery_timeout")]
    pub delivery_timeout_ms: Spanned<i64>,
    /// `max.in.flight.requests.per.connection`: requests sent before the
    /// first is answered (default 1; at most 5 with idempotence, as Kafka).
    #[serde(default = "one_i64")]
    pub max_in_flight: Spanned<i64>,
    /// Record ids are `<id_prefix>-<n>` (default: the producer's name): two
    /// producers with one prefix send the same business ids.
    #[serde(default)]
    pub id_prefix: Option<Spanned<String>>,
    /// The first `n` (default 0).
    #[serde(default = "zero")]
    pub first_id: Spanned<i64>,
    /// Start this long after the variant (default 0).
    #[serde(default = "zero")]
    pub start_ms: Spanned<i64>,
}

/// When a classic consumer commits its position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Commit {
    /// As `enable.auto.commit` does at the next poll: the fetched position
    /// is committed before the records are processed.
    BeforeProcessing,
    /// `enable.auto.commit=false` and a commit after each processed batch.
    AfterProcessing,
}

/// How a simulated consumer consumes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsumerKind {
    /// A classic-group consumer over Pier's Kafka listener that assigns
    /// itself every partition (`assign()`) and commits offsets to its
    /// group.
    #[default]
    Classic,
    /// A member of a classic group (`subscribe()`): JoinGroup, SyncGroup
    /// with the range assignor, heartbeats; it consumes only the
    /// partitions it was assigned, and a dead member's partitions wait
    /// for its session to time out.
    Group,
    /// A queue-group consumer: per-record acknowledgement with leases,
    /// redelivery with backoff and a dead-letter topic (`docs/queues.md`),
    /// through Pier's own queue API (what the HTTP API and the UI use).
    Queue,
    /// A share-group consumer (KIP-932) over the Kafka protocol, as a
    /// `KafkaShareConsumer` with explicit acknowledgement: each record
    /// accepted once processed (a poison one released); the group's lock
    /// time, delivery limit and backoff are its queue settings.
    Share,
}

/// A simulated consumer.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerSpec {
    pub name: Spanned<String>,
    pub topic: Spanned<String>,
    pub group: Spanned<String>,
    #[serde(default)]
    pub kind: ConsumerKind,
    /// Classic consumers: when the position is committed (required).
    #[serde(default)]
    pub commit: Option<Spanned<Commit>>,
    /// Queue and share consumers: the lease (acquisition lock) per record
    /// (default 1,000 ms).
    #[serde(default)]
    pub lease_ms: Option<Spanned<i64>>,
    /// Queue consumers: deliveries before dead-lettering (default 5).
    #[serde(default)]
    pub max_deliveries: Option<Spanned<i64>>,
    /// Queue consumers: the first redelivery backoff (default 100 ms,
    /// doubling up to 8 times that).
    #[serde(default)]
    pub backoff_ms: Option<Spanned<i64>>,
    /// Queue consumers: records whose number is a multiple of this fail
    /// every time they are processed (poison messages).
    #[serde(default)]
    pub poison_every: Option<Spanned<i64>>,
    /// Time each record takes (ms, default 0).
    #[serde(default = "zero")]
    pub processing_ms: Spanned<i64>,
    /// Records per poll (`max.poll.records`, default 50).
    #[serde(default = "fifty")]
    pub max_poll_records: Spanned<i64>,
    /// Crash once, in the middle of a batch, after processing this many
    /// records; restart after `restart_after_ms` (default 200).
    #[serde(default)]
    pub crash_after: Option<Spanned<i64>>,
    #[serde(default = "default_restart")]
    pub restart_after_ms: Spanned<i64>,
    /// Whether it comes back after its crash (default true).
    #[serde(default = "yes")]
    pub restart: bool,
    /// Group consumers: `session.timeout.ms` (default 6,000, the least a
    /// broker allows by default).
    #[serde(default)]
    pub session_timeout_ms: Option<Spanned<i64>>,
    /// Start this long after the variant (default 0).
    #[serde(default = "zero")]
    pub start_ms: Spanned<i64>,
    /// Start when this alert of the variant fires (scaling out on an
    /// alert), after `start_ms`.
    #[serde(default)]
    pub start_on_alert: Option<Spanned<String>>,
}

/// An alert on the lag (records acknowledged to the lab's producers and
/// not yet processed by its consumers), as a monitoring system raises one.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSpec {
    pub name: Spanned<String>,
    /// Fires when the lag is above this many records…
    pub lag_records: Spanned<i64>,
    /// …for at least this long (ms, default 0).
    #[serde(default = "zero")]
    pub for_ms: Spanned<i64>,
}

/// Your own application in the loop: a command the lab starts (and may
/// kill and restart), told where to connect and which names to use in
/// its environment: `PIER_BOOTSTRAP`, `PIER_GROUP`, `PIER_TOPIC_<NAME>`
/// for each topic, `PIER_PROCESSED_TOPIC`. It writes the value of each
/// record it has processed to the processed topic, so the lab can tell
/// what it skipped or processed twice.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSpec {
    pub name: Spanned<String>,
    /// Program and arguments, run in the lab file's directory.
    pub command: Spanned<Vec<String>>,
    /// The consumer group it uses (judged by the ledger).
    pub group: Spanned<String>,
    /// The lab topic it consumes (judged by the ledger).
    pub topic: Spanned<String>,
    /// The lab topic it writes processed record values to.
    pub processed_topic: Spanned<String>,
    /// After a `kill` step, start it again this much later (default 200).
    #[serde(default = "default_restart")]
    pub restart_after_ms: Spanned<i64>,
}

/// Something that happens at a time: words, a fault, a killed app.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Milliseconds after the variant starts.
    pub at_ms: Spanned<i64>,
    #[serde(default)]
    pub say: String,
    #[serde(default)]
    pub fault: Option<FaultStep>,
    /// `kill -9` one of the variant's apps (restarted after its
    /// `restart_after_ms`).
    #[serde(default)]
    pub kill: Option<Spanned<String>>,
    /// Deploy the fix: this queue or share consumer's poison records are
    /// processed from now on.
    #[serde(default)]
    pub fix: Option<Spanned<String>>,
    /// Replay this queue or share consumer's dead letters into its topic
    /// (what `pier groups replay` and the UI's Replay do).
    #[serde(default)]
    pub replay: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultStep {
    /// A kind of the fault catalog (`pier fault kinds`).
    pub kind: Spanned<String>,
    #[serde(default)]
    pub params: BTreeMap<String, u64>,
    /// Heal after this long (not for instant faults).
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// Network faults: only this lab client (by its name).
    #[serde(default)]
    pub client: Option<Spanned<String>>,
}

fn one() -> Spanned<u32> {
    Spanned::new(0..0, 1)
}
fn one_i64() -> Spanned<i64> {
    Spanned::new(0..0, 1)
}
fn zero() -> Spanned<i64> {
    Spanned::new(0..0, 0)
}
fn yes() -> bool {
    true
}
fn default_timeout() -> Spanned<i64> {
    Spanned::new(0..0, 20_000)
}
fn default_rate() -> Spanned<i64> {
    Spanned::new(0..0, 2_000)
}
fn ten() -> Spanned<i64> {
    Spanned::new(0..0, 10)
}
fn fifty() -> Spanned<i64> {
    Spanned::new(0..0, 50)
}
fn all() -> Spanned<String> {
    Spanned::new(0..0, "all".to_owned())
}
fn default_request_timeout() -> Spanned<i64> {
    Spanned::new(0..0, 1_000)
}
fn default_delivery_timeout() -> Spanned<i64> {
    Spanned::new(0..0, 120_000)
}
fn default_restart() -> Spanned<i64> {
    Spanned::new(0..0, 200)
}

/// Measures the lab takes from its own clients' records, beside the
/// ledger's verdicts: what the consumers' code did.
pub const CLIENT_MEASURES: [(&str, &str); 9] = [
    (
        "duplicate_ids_in_log",
        "record ids stored more than once in the log (by id, whoever sent them)",
    ),
    (
        "missing_from_log",
        "acknowledged records not in the log when the variant ends",
    ),
    (
        "never_processed",
        "acknowledged records no consumer of the lab processed",
    ),
    (
        "processed_twice",
        "records a consumer of the lab processed more than once",
    ),
    (
        "not_acknowledged",
        "records a producer of the lab gave up on or never had acknowledged",
    ),
    (
        "max_lag_records",
        "the most records acknowledged and not yet processed at one time (lag)",
    ),
    (
        "max_wait_ms",
        "the longest a record waited from its acknowledgement to its processing (ms)",
    ),
    (
        "idle_consumers",
        "consumers of the lab that processed no record",
    ),
    ("alerts_fired", "times a lag alert of the variant fired"),
];

/// Every name an expectation may use.
pub fn measure_names() -> Vec<&'static str> {
    FindingKind::ALL
        .iter()
        .map(|k| k.name())
        .chain(CLIENT_MEASURES.iter().map(|(n, _)| *n))
        .collect()
}

/// A condition on a count: `= 0`, `> 0`, `<= 10` (a bare number is `=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Condition {
    pub op: Op,
    pub value: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Op {
    #[serde(rename = "=")]
    Eq,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
}

impl Condition {
    pub fn parse(text: &str) -> Option<Condition> {
        let t = text.trim();
        let ops = [
            ("==", Op::Eq),
            (">=", Op::Ge),
            ("<=", Op::Le),
            ("=", Op::Eq),
            (">", Op::Gt),
            ("<", Op::Lt),
        ];
        let (op, rest) = ops
            .iter()
            .find_map(|(p, op)| t.strip_prefix(p).map(|r| (*op, r)))
            .unwrap_or((Op::Eq, t));
        let value = rest.trim().parse().ok()?;
        Some(Condition { op, value })
    }

    pub fn holds(self, n: u64) -> bool {
        match self.op {
            Op::Eq => n == self.value,
            Op::Gt => n > self.value,
            Op::Ge => n >= self.value,
            Op::Lt => n < self.value,
            Op::Le => n <= self.value,
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            Op::Eq => "=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
        };
        write!(f, "{op} {}", self.value)
    }
}

/// A lab file that cannot run: where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub reason: String,
}

impl fmt::Display for LabError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.reason
        )
    }
}

impl std::error::Error for LabError {}

/// Reads and checks a lab file's text; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Lab, LabError> {
    let at = |span: Option<std::ops::Range<usize>>, reason: String| {
        let (line, column) = line_col(text, span.map_or(0, |s| s.start));
        LabError {
            file: file.to_owned(),
            line,
            column,
            reason,
        }
    };
    let lab: Lab = toml::from_str(text).map_err(|e| at(e.span(), e.message().to_owned()))?;
    super::check::check(&lab).map_err(|(span, reason)| at(Some(span), reason))?;
    Ok(lab)
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |i| before.len() - i - 1)
        + 1;
    (line, column)
}

/// The fault kind a step names, once checked.
pub fn fault_kind(step: &FaultStep) -> Option<FaultKind> {
    FaultKind::parse(step.kind.get_ref())
}
