//! Starting and healing faults, and the durability switch.
//!
//! The registry (`pier_core::faults`) says what exists and what is on;
//! this applies it: disk switches on the running store, and crashes through
//! the restarter the server installs (the only part that can replace the
//! running broker).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pier_core::faults::{
    Fault, FaultError, FaultEvent, FaultKind, FaultRegistry, FaultRequest, FaultSpec, Halt,
    PowerCut, TimelineEntry, ValidFault, timeline,
};
use pier_kafka::ToxicKind;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::{Workbench, WorkbenchError};

/// What a restart after a crash found.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct Recovery {
    /// From the crash to accepting connections again.
    pub took_ms: u64,
    /// Opening the store, including log replay.
    pub open_ms: u64,
    /// Batches replayed from the write-ahead log.
    pub replayed_batches: u64,
    /// The database file needed repair (an unclean shutdown).
    pub repaired: bool,
    pub topics: u32,
    /// Records stored after recovery, over all topics.
    pub records: u64,
}

/// Restarts the broker after halting its disk the given way.
pub type Restarter = Arc<
    dyn Fn(Halt) -> Pin<Box<dyn Future<Output = Result<Recovery, String>> + Send>> + Send + Sync,
>;

/// Whether acknowledgements wait for fsync.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct Durability {
    /// fdatasync the log before every acknowledgement. Off, like Kafka's
    /// default, acknowledged records reach the disk with the next
    /// checkpoint (each second) and a power loss before that loses them.
    pub fsync: bool,
    /// Writes not yet fsynced are modelled as an OS page cache, so a power
    /// loss really drops them. Without it a power loss acts like a crash.
    #[serde(default)]
    pub page_cache_model: bool,
}

/// A change of the durability switch.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct DurabilityUpdate {
    /// fdatasync the log before every acknowledgement.
    pub fsync: bool,
}

/// What starting a fault did.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct FaultStarted {
    pub fault: Fault,
    /// For crashes and power loss: what the restart found.
    pub recovery: Option<Recovery>,
}

pub(crate) struct FaultState {
    registry: Mutex<FaultRegistry>,
    restarter: Mutex<Option<Restarter>>,
    /// One fault change at a time (a crash takes a while).
    order: tokio::sync::Mutex<()>,
    /// Entries noted so far (for live events) and the newest of them.
    noted: Mutex<(u64, VecDeque<TimelineEntry>)>,
    pub(crate) consumers: Mutex<crate::consumer_faults::ConsumerFaults>,
}

impl Default for FaultState {
    fn default() -> Self {
        Self {
            registry: Mutex::new(FaultRegistry::default()),
            restarter: Mutex::new(None),
            order: tokio::sync::Mutex::new(()),
            noted: Mutex::new((0, VecDeque::new())),
            consumers: Mutex::default(),
        }
    }
}

impl std::fmt::Debug for FaultState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultState").finish_non_exhaustive()
    }
}

const NOTED_MAX: usize = 256;

impl From<FaultError> for WorkbenchError {
    fn from(e: FaultError) -> Self {
        match e {
            FaultError::NotActive(_) => WorkbenchError::not_found(e.to_string()),
            FaultError::AlreadyActive(..) | FaultError::TooMany => {
                WorkbenchError::conflict(e.to_string())
            }
            _ => WorkbenchError::invalid(e.to_string()),
        }
    }
}

impl Workbench {
    /// Installs what crashes and restarts the broker (the server does).
    pub fn set_restarter(&self, restarter: Restarter) {
        *self.faults.restarter.lock().expect("restarter lock") = Some(restarter);
    }

    /// Loads the persisted timeline; call once the store is open.
    pub async fn load_fault_timeline(&self) -> Result<(), WorkbenchError> {
        let entries = timeline::load(&self.store())
            .await
            .map_err(WorkbenchError::unavailable)?;
        *self.faults.registry.lock().expect("registry lock") =
            FaultRegistry::with_timeline(entries);
        Ok(())
    }

    pub fn fault_kinds(&self) -> Vec<FaultSpec> {
        pier_core::faults::catalog()
    }

    pub fn faults(&self) -> Vec<Fault> {
        self.faults.registry.lock().expect("registry lock").active()
    }

    pub fn fault_timeline(&self) -> Vec<TimelineEntry> {
        self.faults
            .registry
            .lock()
            .expect("registry lock")
            .timeline()
    }

    /// Timeline entries noted after `seen` (a count), and the new count.
    pub(crate) fn fault_entries_since(&self, seen: u64) -> (Vec<TimelineEntry>, u64) {
        let noted = self.faults.noted.lock().expect("noted lock");
        let (total, recent) = &*noted;
        let new = total.saturating_sub(seen).min(recent.len() as u64) as usize;
        (
            recent.iter().skip(recent.len() - new).cloned().collect(),
            *total,
        )
    }

    /// Records an entry: in the live feed and, if the store takes it, on disk.
    async fn publish(&self, entry: TimelineEntry) {
        {
            let mut noted = self.faults.noted.lock().expect("noted lock");
            noted.0 += 1;
            if noted.1.len() == NOTED_MAX {
                noted.1.pop_front();
            }
            noted.1.push_back(entry.clone());
        }
        if let Err(e) = timeline::append(&self.store(), &entry).await {
            tracing::warn!(error = %e, "fault timeline entry not persisted");
        }
    }

    fn note(
        &self,
        fault: u64,
        kind: FaultKind,
        event: FaultEvent,
        detail: String,
    ) -> TimelineEntry {
        self.faults.registry.lock().expect("registry lock").note(
            fault,
            kind,
            event,
            self.now_ms(),
            detail,
        )
    }

    pub fn durability(&self) -> Durability {
        let store = self.store();
        Durability {
            fsync: store.fsync_enabled(),
            page_cache_model: store.faults().models_page_cache(),
        }
    }

    /// The durability switch (fsync before acknowledging, or not). The
    /// page-cache model is fixed when the broker starts.
    pub fn set_durability(&self, fsync: bool) -> Durability {
        self.store().set_fsync(fsync);
        self.durability()
    }

    /// Starts a fault; crashes and power loss return once the broker is
    /// back. Nothing changes if the request is invalid.
    pub async fn start_fault(&self, req: FaultRequest) -> Result<FaultStarted, WorkbenchError> {
        let valid = req.validate()?;
        let _order = self.faults.order.lock().await;
        self.faults
            .registry
            .lock()
            .expect("registry lock")
            .check_start(&valid)?;
        self.check_consumer_target(valid.member.as_deref(), valid.topic.as_deref())?;
        let restarts = matches!(valid.kind, FaultKind::BrokerCrash | FaultKind::PowerLoss);
        if restarts && self.restarter().is_none() {
            return Err(WorkbenchError::unavailable(
                "this broker cannot restart itself (it is not run by a Pier server)",
            ));
        }
        let detail = self.describe(&valid);
        let (fault, entry) = self.faults.registry.lock().expect("registry lock").start(
            &valid,
            self.now_ms(),
            detail,
        )?;
        self.apply(&fault);
        self.publish(entry).await;
        let recovery = match valid.kind {
            FaultKind::BrokerCrash => Some(self.restart(&fault, Halt::ProcessCrash).await?),
            FaultKind::PowerLoss => Some(
                self.restart(&fault, Halt::PowerLoss(PowerCut::DropAll))
                    .await?,
            ),
            _ => None,
        };
        if let Some(d) = valid.duration_ms {
            let wb = self.clone();
            let id = fault.id;
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(d)).await;
                let _ = wb.end_fault(id, FaultEvent::Expired).await;
            });
        }
        Ok(FaultStarted { fault, recovery })
    }

    /// Heals an active fault.
    pub async fn heal_fault(&self, id: u64) -> Result<TimelineEntry, WorkbenchError> {
        self.end_fault(id, FaultEvent::Healed).await
    }

    async fn end_fault(&self, id: u64, event: FaultEvent) -> Result<TimelineEntry, WorkbenchError> {
        let _order = self.faults.order.lock().await;
        let kind = self
            .faults
            .registry
            .lock()
            .expect("registry lock")
            .get(id)
            .map(|f| f.kind)
            .ok_or(FaultError::NotActive(id))?;
        let store = self.store();
        match kind {
            FaultKind::FsyncFailure => store.faults().set_fail_sync(false),
            FaultKind::SlowFsync => store.faults().set_slow_sync_ms(0),
            FaultKind::DiskFull => store.faults().set_capacity_bytes(0),
            FaultKind::SlowConsumer | FaultKind::PoisonMessages => {
                self.consumer_faults().remove(id);
            }
            kind if kind.is_network() => {
                self.broker().config.network.remove(id);
            }
            _ => {}
        }
        let poisoned = store.poisoned();
        let detail = match &poisoned {
            Some(why) => format!("the broker had stopped writing ({why}); restarting it"),
            None => String::new(),
        };
        let (fault, entry) = self.faults.registry.lock().expect("registry lock").heal(
            id,
            event,
            self.now_ms(),
            detail,
        )?;
        self.publish(entry.clone()).await;
        if poisoned.is_some() && self.restarter().is_some() {
            self.restart(&fault, Halt::ProcessCrash).await?;
        }
        Ok(entry)
    }

    fn restarter(&self) -> Option<Restarter> {
        self.faults
            .restarter
            .lock()
            .expect("restarter lock")
            .clone()
    }

    /// What starting `f` will do, for the timeline.
    fn describe(&self, f: &ValidFault) -> String {
        let who = match &f.client_id {
            Some(c) => format!("client {c:?}"),
            None => "every client".to_owned(),
        };
        let p = |name: &str| f.param(name);
        let member = format!("consumer {:?}", f.member.as_deref().unwrap_or_default());
        let topic = format!("{:?}", f.topic.as_deref().unwrap_or_default());
        match f.kind {
            FaultKind::FsyncFailure => "every fsync now fails with EIO".to_owned(),
            FaultKind::SlowFsync => format!("every fsync now takes {} ms longer", p("delay_ms")),
            FaultKind::DiskFull => {
                format!("files may not grow past {} more bytes", p("free_bytes"))
            }
            FaultKind::BrokerCrash => "crashing the broker".to_owned(),
            FaultKind::PowerLoss => {
                if self.store().faults().models_page_cache() {
                    "cutting power: writes not yet fsynced are lost".to_owned()
                } else {
                    "cutting power (the page cache is not modelled, so this acts like a crash; \
                     start with --page-cache-model to lose unsynced writes)"
                        .to_owned()
                }
            }
            FaultKind::Latency => format!(
                "responses to {who} delayed {} ms ± {} ms",
                p("latency_ms"),
                p("jitter_ms")
            ),
            FaultKind::Bandwidth => {
                format!(
                    "responses to {who} limited to {} bytes/s",
                    p("bytes_per_sec")
                )
            }
            FaultKind::ConnectionReset => {
                format!(
                    "every {} requests from {who} reset the connection",
                    p("every")
                )
            }
            FaultKind::Blackhole => format!("requests from {who} go unanswered"),
            FaultKind::SliceResponses => format!(
                "responses to {who} in {}-byte pieces, {} ms apart",
                p("bytes"),
                p("delay_ms")
            ),
            FaultKind::RefuseConnections => format!("new connections from {who} refused"),
            FaultKind::LoseProduceAck => format!(
                "the answer to every {} produce requests from {who} is lost",
                p("every")
            ),
            FaultKind::FailProduce => format!(
                "every {} produce requests from {who} refused (NOT_LEADER_OR_FOLLOWER)",
                p("every")
            ),
            FaultKind::KillConsumer => format!("killing {member}"),
            FaultKind::SlowConsumer => {
                format!("{member} takes {} ms longer per record", p("delay_ms"))
            }
            FaultKind::CrashBeforeAck => {
                format!("{member} will crash after processing, before acknowledging")
            }
            FaultKind::PoisonMessages => format!(
                "every record of {topic} at an offset divisible by {} fails in every consumer",
                p("every")
            ),
        }
    }

    /// Puts a lasting fault in force (instant ones act in `restart`).
    fn apply(&self, f: &Fault) {
        let store = self.store();
        let disk = store.faults();
        let p = |name: &str| f.params.get(name).copied().unwrap_or(0);
        let network = |kind: ToxicKind| {
            self.broker()
                .config
                .network
                .set(f.id, f.client_id.clone(), kind);
        };
        match f.kind {
            FaultKind::FsyncFailure => disk.set_fail_sync(true),
            FaultKind::SlowFsync => disk.set_slow_sync_ms(p("delay_ms")),
            FaultKind::DiskFull => {
                disk.set_capacity_bytes(disk.largest_file_bytes() + p("free_bytes"));
            }
            FaultKind::BrokerCrash | FaultKind::PowerLoss => {}
            FaultKind::Latency => network(ToxicKind::Latency {
                latency_ms: p("latency_ms"),
                jitter_ms: p("jitter_ms"),
            }),
            FaultKind::Bandwidth => network(ToxicKind::Bandwidth {
                bytes_per_sec: p("bytes_per_sec"),
            }),
            FaultKind::ConnectionReset => network(ToxicKind::Reset { every: p("every") }),
            FaultKind::Blackhole => network(ToxicKind::Blackhole),
            FaultKind::SliceResponses => network(ToxicKind::Slice {
                bytes: p("bytes"),
                delay_ms: p("delay_ms"),
            }),
            FaultKind::RefuseConnections => network(ToxicKind::Refuse),
            FaultKind::LoseProduceAck => {
                network(ToxicKind::LoseProduceAck { every: p("every") });
            }
            FaultKind::FailProduce => network(ToxicKind::FailProduce { every: p("every") }),
            FaultKind::KillConsumer
            | FaultKind::SlowConsumer
            | FaultKind::CrashBeforeAck
            | FaultKind::PoisonMessages => self.consumer_faults().add(f),
        }
    }

    /// Crashes and restarts the broker; lasting disk faults die with the
    /// old disk and are noted as healed.
    async fn restart(&self, cause: &Fault, how: Halt) -> Result<Recovery, WorkbenchError> {
        let restarter = self
            .restarter()
            .ok_or_else(|| WorkbenchError::unavailable("this broker cannot restart itself"))?;
        let fsync = self.store().fsync_enabled();
        match restarter(how).await {
            Ok(recovery) => {
                self.store().set_fsync(fsync);
                let cleared: Vec<u64> = self
                    .faults()
                    .iter()
                    .filter(|f| {
                        matches!(
                            f.kind,
                            FaultKind::FsyncFailure | FaultKind::SlowFsync | FaultKind::DiskFull
                        )
                    })
                    .map(|f| f.id)
                    .collect();
                for id in cleared {
                    let healed = self.faults.registry.lock().expect("registry lock").heal(
                        id,
                        FaultEvent::Healed,
                        self.now_ms(),
                        "cleared by the broker restart".to_owned(),
                    );
                    if let Ok((_, entry)) = healed {
                        self.publish(entry).await;
                    }
                }
                let entry = self.note(
                    cause.id,
                    cause.kind,
                    FaultEvent::Recovered,
                    format!(
                        "back in {} ms (store opened in {} ms): {} batches replayed from the log, \
                         {} topic{}, {} records{}",
                        recovery.took_ms,
                        recovery.open_ms,
                        recovery.replayed_batches,
                        recovery.topics,
                        if recovery.topics == 1 { "" } else { "s" },
                        recovery.records,
                        if recovery.repaired {
                            ", database file repaired"
                        } else {
                            ""
                        }
                    ),
                );
                self.publish(entry).await;
                Ok(recovery)
            }
            Err(e) => {
                let entry = self.note(
                    cause.id,
                    cause.kind,
                    FaultEvent::Failed,
                    format!("restart failed: {e}"),
                );
                self.publish(entry).await;
                Err(WorkbenchError::unavailable(format!("restart failed: {e}")))
            }
        }
    }
}
