//! The catalog of fault kinds: what each does and teaches, its
//! parameters with units and limits, and where it applies. The descriptions
//! are what `GET /api/v1/faults/kinds`, `pier fault kinds` and the UI show.

use serde::{Deserialize, Serialize};

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
    FailProduce,
    KillConsumer,
    SlowConsumer,
    CrashBeforeAck,
    PoisonMessages,
}

impl FaultKind {
    pub const ALL: [FaultKind; 17] = [
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
        FaultKind::FailProduce,
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
            FaultKind::FailProduce => "fail_produce",
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
                | FaultKind::FailProduce
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
        FaultKind::FailProduce => (
            "Fail produce requests",
            "Every n-th produce request is refused with \
             NOT_LEADER_OR_FOLLOWER, as during a leader election: nothing of \
             it is stored, and the requests after it are handled as usual.",
            "Retries and ordering: the producer retries the refused batch \
             after the ones that were in flight behind it. Without \
             idempotence they are stored first, and the retried batch lands \
             after them, out of order; with it, the broker refuses the ones \
             behind the gap (OUT_OF_ORDER_SEQUENCE_NUMBER) and the producer \
             sends them again in order.",
            vec![param(
                "every",
                "requests",
                1,
                1_000_000,
                5,
                "Refuse this many produce requests (1 = every one).",
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
