//! The fault registry: what each fault kind does and teaches, its
//! parameters with units and limits, the faults active now, and the
//! timeline of everything started, healed and recovered.
//!
//! Pure bookkeeping: applying a fault (flipping a disk switch, crashing
//! the broker) is done by whoever owns the part, which asks the registry
//! what is active. The timeline is persisted by [`super::timeline`].

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

/// Longest a fault may last before healing itself.
pub const FAULT_DURATION_MAX_MS: u64 = 3_600_000;
/// Timeline entries kept (in memory and on open).
pub const TIMELINE_MAX: usize = 1_000;
/// Faults active at once.
pub const ACTIVE_MAX: usize = 64;

/// Every kind of fault Pier can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema, ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    BrokerCrash,
    PowerLoss,
    FsyncFailure,
    SlowFsync,
    DiskFull,
    Latency,
    Bandwidth,
    ConnectionReset,
    Blackhole,
    SliceResponses,
    RefuseConnections,
    LoseProduceAck,
    KillConsumer,
    SlowConsumer,
    CrashBeforeAck,
    PoisonMessages,
}

impl FaultKind {
    pub const ALL: [FaultKind; 16] = [
        FaultKind::BrokerCrash,
        FaultKind::PowerLoss,
        FaultKind::FsyncFailure,
        FaultKind::SlowFsync,
        FaultKind::DiskFull,
        FaultKind::Latency,
        FaultKind::Bandwidth,
        FaultKind::ConnectionReset,
        FaultKind::Blackhole,
        FaultKind::SliceResponses,
        FaultKind::RefuseConnections,
        FaultKind::LoseProduceAck,
        FaultKind::KillConsumer,
        FaultKind::SlowConsumer,
        FaultKind::CrashBeforeAck,
        FaultKind::PoisonMessages,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::BrokerCrash => "broker_crash",
            FaultKind::PowerLoss => "power_loss",
            FaultKind::FsyncFailure => "fsync_failure",
            FaultKind::SlowFsync => "slow_fsync",
            FaultKind::DiskFull => "disk_full",
            FaultKind::Latency => "latency",
            FaultKind::Bandwidth => "bandwidth",
            FaultKind::ConnectionReset => "connection_reset",
            FaultKind::Blackhole => "blackhole",
            FaultKind::SliceResponses => "slice_responses",
            FaultKind::RefuseConnections => "refuse_connections",
            FaultKind::LoseProduceAck => "lose_produce_ack",
            FaultKind::KillConsumer => "kill_consumer",
            FaultKind::SlowConsumer => "slow_consumer",
            FaultKind::CrashBeforeAck => "crash_before_ack",
            FaultKind::PoisonMessages => "poison_messages",
        }
    }

    /// Acts on one simulated consumer (a group member).
    pub fn is_per_member(self) -> bool {
        matches!(
            self,
            FaultKind::KillConsumer | FaultKind::SlowConsumer | FaultKind::CrashBeforeAck
        )
    }

    /// Acts on Kafka connections (and can target one client id).
    pub fn is_network(self) -> bool {
        matches!(
            self,
            FaultKind::Latency
                | FaultKind::Bandwidth
                | FaultKind::ConnectionReset
                | FaultKind::Blackhole
                | FaultKind::SliceResponses
                | FaultKind::RefuseConnections
                | FaultKind::LoseProduceAck
        )
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Happens once (a crash) instead of staying until healed.
    pub fn is_instant(self) -> bool {
        matches!(
            self,
            FaultKind::BrokerCrash
                | FaultKind::PowerLoss
                | FaultKind::KillConsumer
                | FaultKind::CrashBeforeAck
        )
    }
}

/// Where a fault applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema, ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ScopeKind {
    /// The whole broker (every client).
    Broker,
    /// The Kafka connections of one `client.id`.
    ClientId,
    /// One simulated consumer (`member`, e.g. `billing-2`).
    Member,
    /// The records of one topic.
    Topic,
}

/// One parameter of a fault kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema, ts_rs::TS))]
pub struct ParamSpec {
    pub name: String,
    /// `ms`, `bytes`, `percent`…
    pub unit: String,
    pub min: u64,
    pub max: u64,
    pub default: u64,
    pub about: String,
}

/// What a fault kind does and what it shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema, ts_rs::TS))]
pub struct FaultSpec {
    pub kind: FaultKind,
    pub title: String,
    /// What happens, concretely.
    pub does: String,
    /// What it teaches: which reliability feature it exercises and what to
    /// watch.
    pub teaches: String,
    pub params: Vec<ParamSpec>,
    pub scopes: Vec<ScopeKind>,
    /// Happens once and cannot be healed; the broker recovers on its own.
    pub instant: bool,
}

fn param(name: &str, unit: &str, min: u64, max: u64, default: u64, about: &str) -> ParamSpec {
    ParamSpec {
        name: name.to_owned(),
        unit: unit.to_owned(),
        min,
        max,
        default,
        about: about.to_owned(),
    }
}

/// The description of every fault kind.
pub fn catalog() -> Vec<FaultSpec> {
    FaultKind::ALL.into_iter().map(spec).collect()
}

pub fn spec(kind: FaultKind) -> FaultSpec {
    let (title, does, teaches, params) = match kind {
        FaultKind::BrokerCrash => (
            "Broker crash",
            "The broker process dies at once: no flush, no goodbye; every \
             connection drops. Then it restarts on the same data directory and \
             recovers from its log.",
            "Durability across crashes: every acknowledged message is still \
             there after recovery, because it was fsynced before the \
             acknowledgement. Clients reconnect and retry; idempotent \
             producers do so without duplicates. Watch the recovery time and \
             what was replayed.",
            vec![],
        ),
        FaultKind::PowerLoss => (
            "Power loss",
            "The machine loses power: whatever was written but not yet \
             fsynced is gone, then the broker restarts and recovers.",
            "Why fsync before acknowledging matters. With the durability \
             switch on, no acknowledged message is lost. Turn it off (like \
             Kafka's default of leaving flushing to the OS) and messages \
             acknowledged in the last second or so vanish.",
            vec![],
        ),
        FaultKind::FsyncFailure => (
            "fsync fails",
            "The disk reports an error on fdatasync (EIO). The broker stops \
             accepting writes instead of acknowledging data it cannot vouch \
             for; healing restarts it so it recovers from its log.",
            "Fail-stop on storage errors: producers get errors (and retry) \
             rather than false acknowledgements. Retrying fsync after a \
             failure is unsafe (the kernel may have dropped the dirty pages), \
             so the only way back is a restart and recovery.",
            vec![],
        ),
        FaultKind::SlowFsync => (
            "Slow fsync",
            "Every fdatasync takes longer, as on a busy or failing disk.",
            "Group commit: while one fsync runs, new writes queue up and the \
             next fsync covers all of them, so throughput holds up better \
             than latency. Watch the fsync latency chart and the produce rate.",
            vec![param(
                "delay_ms",
                "ms",
                1,
                super::disk::SLOW_SYNC_MAX_MS,
                50,
                "Added to every fsync.",
            )],
        ),
        FaultKind::DiskFull => (
            "Disk full",
            "The disk refuses to grow past its current size plus a few bytes \
             of room. Writes that need more space fail; healing restarts the \
             broker if it had to stop.",
            "Backpressure and honest errors: producers get storage errors \
             instead of acknowledgements for data that was never stored, and \
             nothing already stored is damaged.",
            vec![param(
                "free_bytes",
                "bytes",
                0,
                1 << 30,
                0,
                "Room left beyond what the data files use now.",
            )],
        ),
        FaultKind::Latency => (
            "Network latency",
            "Every response to the affected Kafka clients is held back by a \
             delay, with random jitter.",
            "How clients cope with a slow network: producers batch more \
             (linger), consumers fetch bigger chunks, and timeouts shorter \
             than the round trip fail. Watch end-to-end latency rise while \
             throughput holds.",
            vec![
                param(
                    "latency_ms",
                    "ms",
                    0,
                    60_000,
                    100,
                    "Added to every response.",
                ),
                param(
                    "jitter_ms",
                    "ms",
                    0,
                    60_000,
                    0,
                    "Random extra, plus or minus.",
                ),
            ],
        ),
        FaultKind::Bandwidth => (
            "Bandwidth limit",
            "Responses to the affected clients are written no faster than a \
             given rate.",
            "Consumers falling behind a fast producer: lag grows while the \
             link is the bottleneck, and shrinks when it heals.",
            vec![param(
                "bytes_per_sec",
                "bytes/s",
                100,
                1 << 30,
                100_000,
                "Most bytes written per second, per connection.",
            )],
        ),
        FaultKind::ConnectionReset => (
            "Connection reset",
            "Every n-th request from the affected clients closes its \
             connection before the broker handles it.",
            "Retries: clients reconnect and send the request again; nothing \
             is lost or doubled, because the broker never saw it.",
            vec![param(
                "every",
                "requests",
                1,
                1_000_000,
                10,
                "Reset on this many requests (1 = every one).",
            )],
        ),
        FaultKind::Blackhole => (
            "Blackhole",
            "The broker stops answering the affected clients: their requests \
             are read and dropped, the connections stay open.",
            "Timeouts: a silent peer is worse than a dead one. Clients wait for \
             their request timeout, then reconnect and retry; consumer groups \
             rebalance once sessions expire.",
            vec![],
        ),
        FaultKind::SliceResponses => (
            "Sliced responses",
            "Responses are written in small pieces with pauses between them.",
            "Framing: a client must reassemble a response from whatever pieces \
             the network delivers. Correct clients just get slower.",
            vec![
                param("bytes", "bytes", 1, 1 << 20, 16, "Size of each piece."),
                param("delay_ms", "ms", 0, 10_000, 1, "Pause between pieces."),
            ],
        ),
        FaultKind::RefuseConnections => (
            "Refuse connections",
            "New connections are closed at once (for one client id: at its \
             first request); open ones keep working.",
            "Reconnect backoff: clients retry with growing pauses and get back \
             in once the broker accepts again.",
            vec![],
        ),
        FaultKind::LoseProduceAck => (
            "Lose produce acknowledgements",
            "Every n-th produce request is written and fsynced, but its \
             connection closes instead of answering, so the producer never \
             learns it succeeded.",
            "Idempotence: the producer retries a batch that was in fact \
             stored. With enable.idempotence the broker recognises the retry \
             by producer id and sequence and stores it once; without it the \
             retry is a duplicate.",
            vec![param(
                "every",
                "requests",
                1,
                1_000_000,
                3,
                "Lose the answer to this many produce requests (1 = every one).",
            )],
        ),
        FaultKind::KillConsumer => (
            "Kill a consumer",
            "One simulated consumer dies mid-batch: it stops at once, without \
             acknowledging what it holds or leaving its group.",
            "Leases: the records it held are not lost. When their leases run \
             out they are delivered again, to the consumers still alive, and \
             their delivery count goes up.",
            vec![],
        ),
        FaultKind::SlowConsumer => (
            "Slow consumer",
            "One simulated consumer takes longer over every record.",
            "Load balancing: the others take more of the work, because a \
             consumer only gets new records when it asks. If processing \
             outlasts the lease, records are redelivered while still being \
             worked on.",
            vec![param(
                "delay_ms",
                "ms",
                1,
                60_000,
                500,
                "Extra time per record.",
            )],
        ),
        FaultKind::CrashBeforeAck => (
            "Crash before acknowledging",
            "One simulated consumer processes its current records, then dies \
             before acknowledging them.",
            "At-least-once delivery: those records come back and are processed \
             a second time by someone else. Processing must be idempotent \
             (or deduplicated) for the outcome to stay right; the group's \
             'processed twice' count shows how often it happened.",
            vec![],
        ),
        FaultKind::PoisonMessages => (
            "Poison messages",
            "Every n-th record of a topic (by offset) fails in every simulated \
             consumer, every time.",
            "Retries with backoff and the dead-letter topic: a poison record is \
             released, redelivered after a growing pause, and after the last \
             allowed delivery moved to the dead-letter topic so it stops \
             blocking the rest.",
            vec![param(
                "every",
                "records",
                1,
                1_000_000,
                10,
                "Records whose offset is a multiple of this are poison.",
            )],
        ),
    };
    FaultSpec {
        kind,
        title: title.to_owned(),
        does: does.to_owned(),
        teaches: teaches.to_owned(),
        params,
        scopes: if kind.is_network() {
            vec![ScopeKind::Broker, ScopeKind::ClientId]
        } else if kind.is_per_member() {
            vec![ScopeKind::Member]
        } else if kind == FaultKind::PoisonMessages {
            vec![ScopeKind::Topic]
        } else {
            vec![ScopeKind::Broker]
        },
        instant: kind.is_instant(),
    }
}

/// A request to start a fault, as a user gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema, ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct FaultRequest {
    /// One of the kinds in the catalog, e.g. `slow_fsync`.
    pub kind: String,
    /// Parameters by name; missing ones take their default.
    #[serde(default)]
    #[cfg_attr(feature = "schema", ts(optional))]
    pub params: Option<BTreeMap<String, u64>>,
    /// Heal on its own after this long (1 ms to 1 hour); default: until
    /// healed. Not for instant faults.
    #[serde(default)]
    #[cfg_attr(feature = "schema", ts(optional))]
    pub duration_ms: Option<u64>,
    /// Network faults only: affect just the connections of this
    /// `client.id` (default: every client).
    #[serde(default)]
    #[cfg_attr(feature = "schema", ts(optional))]
    pub client_id: Option<String>,
    /// Consumer faults: the simulated consumer to hit (required).
    #[serde(default)]
    #[cfg_attr(feature = "schema", ts(optional))]
    pub member: Option<String>,
    /// Poison messages: the topic whose records are poison (required).
    #[serde(default)]
    #[cfg_attr(feature = "schema", ts(optional))]
    pub topic: Option<String>,
}

/// A fault that is on now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema, ts_rs::TS))]
pub struct Fault {
    pub id: u64,
    pub kind: FaultKind,
    /// Every parameter, defaults filled in.
    pub params: BTreeMap<String, u64>,
    /// The one client affected, if not all.
    pub client_id: Option<String>,
    /// The simulated consumer affected (consumer faults).
    pub member: Option<String>,
    /// The topic affected (poison messages).
    pub topic: Option<String>,
    pub started_ms: i64,
    /// When it heals on its own, if it does.
    pub heals_at_ms: Option<i64>,
}

/// What happened to a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema, ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum FaultEvent {
    Started,
    /// Healed on request.
    Healed,
    /// Healed because its duration ran out.
    Expired,
    /// The broker came back after a crash, power loss or storage error.
    Recovered,
    /// Something did not go as planned (e.g. the restart failed).
    Failed,
}

/// One line of the fault timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema, ts_rs::TS))]
pub struct TimelineEntry {
    /// The fault this is about.
    pub fault: u64,
    pub kind: FaultKind,
    pub event: FaultEvent,
    pub t_ms: i64,
    /// What happened, for people (e.g. what recovery found).
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultError {
    #[error("unknown fault kind {0:?}; known kinds are {1}")]
    UnknownKind(String, String),
    #[error("{kind} has no parameter {param:?}; it takes {known}")]
    UnknownParam {
        kind: &'static str,
        param: String,
        known: String,
    },
    #[error("{param} must be {min}..={max} {unit}, got {value}")]
    OutOfRange {
        param: String,
        value: u64,
        min: u64,
        max: u64,
        unit: String,
    },
    #[error("duration_ms must be 1..={FAULT_DURATION_MAX_MS}, got {0}")]
    BadDuration(u64),
    #[error("{0} happens at once and heals by itself: it takes no duration")]
    InstantWithDuration(&'static str),
    #[error("{0} is already active (fault {1}); heal it first")]
    AlreadyActive(&'static str, u64),
    #[error("{0} affects the whole broker; client_id is only for network faults")]
    NotPerClient(&'static str),
    #[error("client_id must be 1–255 characters")]
    BadClientId,
    #[error("{0} needs a {1}")]
    Missing(&'static str, &'static str),
    #[error("{0} takes no {1}")]
    Unexpected(&'static str, &'static str),
    #[error("no active fault {0}")]
    NotActive(u64),
    #[error("{ACTIVE_MAX} faults are active; heal some first")]
    TooMany,
}

/// A checked request: known kind, every parameter in range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidFault {
    pub kind: FaultKind,
    pub params: BTreeMap<String, u64>,
    pub duration_ms: Option<u64>,
    pub client_id: Option<String>,
    pub member: Option<String>,
    pub topic: Option<String>,
}

impl ValidFault {
    pub fn param(&self, name: &str) -> u64 {
        self.params.get(name).copied().unwrap_or(0)
    }
}

impl FaultRequest {
    pub fn validate(&self) -> Result<ValidFault, FaultError> {
        let kind = FaultKind::parse(&self.kind).ok_or_else(|| {
            FaultError::UnknownKind(
                self.kind.clone(),
                FaultKind::ALL.map(FaultKind::name).join(", "),
            )
        })?;
        let spec = spec(kind);
        let given = self.params.clone().unwrap_or_default();
        for name in given.keys() {
            if !spec.params.iter().any(|p| &p.name == name) {
                let known = if spec.params.is_empty() {
                    "no parameters".to_owned()
                } else {
                    spec.params
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                return Err(FaultError::UnknownParam {
                    kind: kind.name(),
                    param: name.clone(),
                    known,
                });
            }
        }
        let mut params = BTreeMap::new();
        for p in &spec.params {
            let value = given.get(&p.name).copied().unwrap_or(p.default);
            if !(p.min..=p.max).contains(&value) {
                return Err(FaultError::OutOfRange {
                    param: p.name.clone(),
                    value,
                    min: p.min,
                    max: p.max,
                    unit: p.unit.clone(),
                });
            }
            params.insert(p.name.clone(), value);
        }
        if let Some(d) = self.duration_ms {
            if kind.is_instant() {
                return Err(FaultError::InstantWithDuration(kind.name()));
            }
            if !(1..=FAULT_DURATION_MAX_MS).contains(&d) {
                return Err(FaultError::BadDuration(d));
            }
        }
        if let Some(c) = &self.client_id {
            if !kind.is_network() {
                return Err(FaultError::NotPerClient(kind.name()));
            }
            if c.is_empty() || c.len() > 255 {
                return Err(FaultError::BadClientId);
            }
        }
        let name = kind.name();
        match (kind.is_per_member(), &self.member) {
            (true, None) => return Err(FaultError::Missing(name, "member")),
            (false, Some(_)) => return Err(FaultError::Unexpected(name, "member")),
            _ => {}
        }
        match (kind == FaultKind::PoisonMessages, &self.topic) {
            (true, None) => return Err(FaultError::Missing(name, "topic")),
            (false, Some(_)) => return Err(FaultError::Unexpected(name, "topic")),
            _ => {}
        }
        Ok(ValidFault {
            kind,
            params,
            duration_ms: self.duration_ms,
            client_id: self.client_id.clone(),
            member: self.member.clone(),
            topic: self.topic.clone(),
        })
    }
}

/// Active faults and the timeline.
#[derive(Debug, Default)]
pub struct FaultRegistry {
    next_id: u64,
    active: BTreeMap<u64, Fault>,
    timeline: VecDeque<TimelineEntry>,
}

impl FaultRegistry {
    /// A registry continuing `timeline` (oldest first), as loaded on open.
    pub fn with_timeline(timeline: Vec<TimelineEntry>) -> Self {
        let next_id = timeline.iter().map(|e| e.fault).max().map_or(1, |m| m + 1);
        let mut r = Self {
            next_id,
            ..Self::default()
        };
        for e in timeline {
            r.push(e);
        }
        r
    }

    fn push(&mut self, e: TimelineEntry) {
        if self.timeline.len() == TIMELINE_MAX {
            self.timeline.pop_front();
        }
        self.timeline.push_back(e);
    }

    /// Checks that `f` may start now (nothing of its kind active, room
    /// left) without changing anything.
    pub fn check_start(&self, f: &ValidFault) -> Result<(), FaultError> {
        if let Some(a) = self.active.values().find(|a| {
            a.kind == f.kind
                && a.client_id == f.client_id
                && a.member == f.member
                && a.topic == f.topic
        }) {
            return Err(FaultError::AlreadyActive(f.kind.name(), a.id));
        }
        if self.active.len() >= ACTIVE_MAX {
            return Err(FaultError::TooMany);
        }
        Ok(())
    }

    /// Starts `f`: instant faults get an id and a timeline entry but do not
    /// stay active.
    pub fn start(
        &mut self,
        f: &ValidFault,
        now_ms: i64,
        detail: String,
    ) -> Result<(Fault, TimelineEntry), FaultError> {
        self.check_start(f)?;
        self.next_id = self.next_id.max(1);
        let fault = Fault {
            id: self.next_id,
            kind: f.kind,
            params: f.params.clone(),
            client_id: f.client_id.clone(),
            member: f.member.clone(),
            topic: f.topic.clone(),
            started_ms: now_ms,
            heals_at_ms: f.duration_ms.map(|d| now_ms.saturating_add(d as i64)),
        };
        self.next_id += 1;
        if !f.kind.is_instant() {
            self.active.insert(fault.id, fault.clone());
        }
        let entry = self.note(fault.id, f.kind, FaultEvent::Started, now_ms, detail);
        Ok((fault, entry))
    }

    /// Ends an active fault.
    pub fn heal(
        &mut self,
        id: u64,
        event: FaultEvent,
        now_ms: i64,
        detail: String,
    ) -> Result<(Fault, TimelineEntry), FaultError> {
        let fault = self.active.remove(&id).ok_or(FaultError::NotActive(id))?;
        let entry = self.note(id, fault.kind, event, now_ms, detail);
        Ok((fault, entry))
    }

    /// Adds a timeline entry (e.g. a recovery) and returns it.
    pub fn note(
        &mut self,
        fault: u64,
        kind: FaultKind,
        event: FaultEvent,
        t_ms: i64,
        detail: String,
    ) -> TimelineEntry {
        let e = TimelineEntry {
            fault,
            kind,
            event,
            t_ms,
            detail,
        };
        self.push(e.clone());
        e
    }

    pub fn active(&self) -> Vec<Fault> {
        self.active.values().cloned().collect()
    }

    pub fn get(&self, id: u64) -> Option<&Fault> {
        self.active.get(&id)
    }

    /// Active faults whose duration has run out.
    pub fn due(&self, now_ms: i64) -> Vec<u64> {
        self.active
            .values()
            .filter(|f| f.heals_at_ms.is_some_and(|t| t <= now_ms))
            .map(|f| f.id)
            .collect()
    }

    /// Timeline entries, oldest first.
    pub fn timeline(&self) -> Vec<TimelineEntry> {
        self.timeline.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(kind: &str, params: &[(&str, u64)], duration_ms: Option<u64>) -> FaultRequest {
        FaultRequest {
            kind: kind.to_owned(),
            params: Some(params.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()),
            duration_ms,
            ..FaultRequest::default()
        }
    }

    #[test]
    fn every_kind_is_described_with_sane_parameters() {
        for spec in catalog() {
            assert!(!spec.does.is_empty() && !spec.teaches.is_empty());
            assert_eq!(FaultKind::parse(spec.kind.name()), Some(spec.kind));
            for p in &spec.params {
                assert!(p.min <= p.default && p.default <= p.max, "{p:?}");
            }
        }
    }

    #[test]
    fn bad_requests_are_refused_with_the_reason() {
        let e = req("meteor", &[], None).validate().unwrap_err();
        assert!(e.to_string().contains("slow_fsync"), "{e}");
        let e = req("slow_fsync", &[("delay", 5)], None)
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("takes delay_ms"), "{e}");
        let e = req("slow_fsync", &[("delay_ms", 0)], None)
            .validate()
            .unwrap_err();
        assert!(matches!(e, FaultError::OutOfRange { .. }), "{e}");
        let e = req("slow_fsync", &[], Some(0)).validate().unwrap_err();
        assert_eq!(e, FaultError::BadDuration(0));
        let e = req("broker_crash", &[], Some(10)).validate().unwrap_err();
        assert_eq!(e, FaultError::InstantWithDuration("broker_crash"));
        let ok = req("slow_fsync", &[], Some(10)).validate().unwrap();
        assert_eq!(ok.param("delay_ms"), 50, "the default");
    }

    #[test]
    fn active_faults_heal_once_and_expire_on_time() {
        let mut r = FaultRegistry::default();
        let slow = req("slow_fsync", &[], Some(100)).validate().unwrap();
        let (f, _) = r.start(&slow, 1_000, String::new()).unwrap();
        assert!(matches!(
            r.start(&slow, 1_001, String::new()),
            Err(FaultError::AlreadyActive(..))
        ));
        assert!(r.due(1_099).is_empty());
        assert_eq!(r.due(1_100), [f.id]);
        r.heal(f.id, FaultEvent::Expired, 1_100, String::new())
            .unwrap();
        assert_eq!(
            r.heal(f.id, FaultEvent::Healed, 1_101, String::new())
                .unwrap_err(),
            FaultError::NotActive(f.id)
        );
        let crash = req("broker_crash", &[], None).validate().unwrap();
        let (c, _) = r.start(&crash, 2_000, String::new()).unwrap();
        assert!(r.active().is_empty(), "instant faults do not stay");
        assert!(c.id > f.id);
        let events: Vec<FaultEvent> = r.timeline().iter().map(|e| e.event).collect();
        assert_eq!(
            events,
            [
                FaultEvent::Started,
                FaultEvent::Expired,
                FaultEvent::Started
            ]
        );
        // Ids continue after a reload.
        let again = FaultRegistry::with_timeline(r.timeline());
        assert_eq!(again.next_id, c.id + 1);
    }
}
