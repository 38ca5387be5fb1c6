//! The workbench facade: everything the desktop app, the HTTP API and the
//! CLI can do, in one place, so the adapters only translate.
//!
//! Every type that crosses an adapter derives `serde`, `utoipa::ToSchema`
//! (for `/openapi.json`) and `ts_rs::TS` (for `ui/src/api/types.ts`, kept
//! fresh by `tests/bindings.rs`).

mod acls;
mod browse;
mod consumer_faults;
mod events;
mod faults;
mod groups;
mod info;
mod labs;
mod ledger;
mod messages;
mod metrics;
mod queues;
mod security;
mod simulate;
mod stats;
mod template;
mod topics;

pub use acls::{AclOperation, AclResource, AclRule};
pub use browse::{
    BROWSE_LIMIT_MAX, BROWSE_SCAN_MAX, BROWSE_WAIT_MAX_MS, BrowsePage, BrowseQuery, DeliveryState,
    Order,
};
pub use events::{EventCursor, LiveEvent};
pub use faults::{Durability, DurabilityUpdate, FaultStarted, Recovery, Restarter};
pub use groups::{
    CommitOffsets, GroupMember, GroupSummary, MemberAssignment, OffsetToCommit, PartitionLag,
};
pub use info::BrokerInfo;
pub use labs::{
    Checked, LabAlert, LabClient, LabLine, LabMember, LabReport, LabRun, LabRunner, LabSay,
    LabStart, LabState, LabSummary, LabTask, LabTimeline, LabVariantSummary, Said, VariantReport,
};
pub use ledger::{LedgerStatus, VERDICT_LIMIT_MAX, VerdictRequest, VerdictResponse};
pub use messages::{
    Message, OffsetRange, PRODUCE_COUNT_MAX, PRODUCE_DURATION_MAX_SECS, PRODUCE_RATE_MAX,
    ProduceRequest, Produced,
};
pub use pier_core::faults::{
    Fault, FaultEvent, FaultKind, FaultRequest, FaultSpec, ParamSpec, ScopeKind, TimelineEntry,
};
pub use pier_core::ledger::{
    Anomaly, Counters, Expectation, Finding, FindingKind, GroupKind, Guarantee, Journey,
    JourneyStep, PartitionReport, RecordRef, Span, Verdict,
};
pub use queues::{
    AckItem, AckKind, AckRequest, AckResponse, AckResult, LeaseInfo, Left, QueueConsumer,
    QueueGroupSummary, QueueMessage, QueueSettings, RECEIVE_WAIT_MAX_MS, ReceiveRequest,
    ReplayRequest, Replayed,
};
pub use security::{ListenerInfo, SecurityInfo, UserPassword};
pub use simulate::{NewSimConsumers, NewSimProducer, SIMULATIONS_MAX, SimMember, Simulation};
pub use stats::{
    GroupRate, PartitionLagPoint, QueueRate, STATS_CAPACITY, STATS_INTERVAL, StatsSample, TopicRate,
};
pub use template::{Template, iso8601};
pub use topics::{ClientSummary, NewTopic, PartitionSummary, TopicSummary, TopicUpdate};

use std::sync::{Arc, Mutex, RwLock};

use pier_core::Store;
use pier_core::store::AdminError;
use pier_kafka::Broker;
use serde::Serialize;

/// Why a workbench call failed; adapters map `kind` to their own errors
/// (HTTP status and problem type, a UI message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct WorkbenchError {
    pub kind: ErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    InvalidInput,
    NotFound,
    Conflict,
    Unavailable,
}

impl WorkbenchError {
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::InvalidInput,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::NotFound,
            message: message.into(),
        }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Conflict,
            message: message.into(),
        }
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Unavailable,
            message: message.into(),
        }
    }
}

impl From<AdminError> for WorkbenchError {
    fn from(e: AdminError) -> Self {
        use pier_core::topic::TopicError as T;
        let kind = match &e {
            AdminError::Topic(T::UnknownTopic(_)) => ErrorKind::NotFound,
            AdminError::Topic(T::AlreadyExists(_)) => ErrorKind::Conflict,
            AdminError::Topic(_) => ErrorKind::InvalidInput,
            AdminError::Poisoned(_) | AdminError::Closed => ErrorKind::Unavailable,
        };
        Self {
            kind,
            message: e.to_string(),
        }
    }
}

/// The broker a workbench drives: replaced when the broker restarts after
/// a crash, so every call goes to the one running now.
#[derive(Debug, Clone)]
pub struct Core {
    pub store: Store,
    pub broker: Arc<Broker>,
}

/// The facade. Cheap to clone; clones share everything.
#[derive(Debug, Clone)]
pub struct Workbench {
    core: Arc<RwLock<Core>>,
    endpoints: Arc<Mutex<info::Endpoints>>,
    stats: Arc<Mutex<stats::StatsState>>,
    sims: Arc<Mutex<simulate::Simulations>>,
    faults: Arc<faults::FaultState>,
    security: Arc<Mutex<security::SecurityState>>,
    labs: Arc<Mutex<labs::LabsState>>,
}

impl Workbench {
    pub fn new(store: Store, broker: Arc<Broker>) -> Self {
        Self {
            core: Arc::new(RwLock::new(Core { store, broker })),
            endpoints: Arc::default(),
            stats: Arc::default(),
            sims: Arc::default(),
            faults: Arc::default(),
            security: Arc::default(),
            labs: Arc::default(),
        }
    }

    /// The store of the broker running now.
    pub fn store(&self) -> Store {
        self.core.read().expect("core lock").store.clone()
    }

    /// The broker running now.
    pub fn broker(&self) -> Arc<Broker> {
        self.core.read().expect("core lock").broker.clone()
    }

    /// Now, by the server's one clock (a test may drive it by hand).
    pub fn now_ms(&self) -> i64 {
        self.store().now_ms()
    }

    /// Points every later call at a restarted broker.
    pub fn replace_core(&self, core: Core) {
        *self.core.write().expect("core lock") = core;
    }
}

/// Now, in ms since the Unix epoch, by the wall clock: for the CLI, which
/// has no server clock ([`Workbench::now_ms`] is the server's).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
