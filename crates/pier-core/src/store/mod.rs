//! The durable store: topics and partitioned logs in one redb database,
//! written by a single group-committing writer.

mod admin;
mod applier;
mod catalog;
mod dedup;
mod error;
mod offsets;
mod open;
mod producers;
mod read;
mod stats;
mod tables;
mod trickle;
mod wal;
mod writer;

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use bytes::Bytes;
use redb::Database;
use tokio::sync::{mpsc, oneshot, watch};

pub use admin::{AdminCommand, AdminOutcome};
pub use catalog::BatchMeta;
pub use dedup::DEDUP_HEADER;
pub use error::{AdminError, AppendError, OpenError, ReadError};
pub use offsets::{CommittedOffset, OFFSET_METADATA_MAX_BYTES};
pub use open::{DB_FILE, Location, WAL_FILES};
pub use read::{PartitionInfo, ReadResult, TopicDescription};
pub use stats::{COMMIT_BUCKETS_MICROS, StoreStatsSnapshot};
pub use wal::replay_bytes as replay_log_bytes;
pub use writer::{GROUP_COMMIT_MAX_BYTES, GROUP_COMMIT_MAX_REQUESTS};

use crate::batch;
use crate::clock::SharedClock;
use crate::faults::DiskFaults;
use crate::topic::{TopicConfig, TopicMeta};
use catalog::Catalog;
use stats::StoreStats;
use writer::{AppendRequest, Command, Writer};

/// Requests that may wait for the writer before callers are pushed back.
pub const WRITER_QUEUE_MAX: usize = 65_536;

/// How the store commits. See `docs/design.md` for why the defaults are what
/// they are.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// fsync every commit (`Durability::Immediate`). Off = acknowledged data
    /// can vanish on power loss, like Kafka's default page-cache behaviour.
    pub fsync: bool,
    /// redb two-phase commit: a second fsync per commit.
    pub two_phase_commit: bool,
    /// redb quick repair: saves allocator state per commit for fast recovery.
    pub quick_repair: bool,
    /// Hold unsynced writes in a page-cache model so power cuts can drop them.
    pub page_cache_model: bool,
    /// Run no writer thread; the caller commits with [`Store::step_writer`].
    pub manual_writer: bool,
    /// Switch write-ahead log files past this size (default
    /// [`wal::WAL_SWITCH_BYTES`]); power-cut trials make it small so
    /// switching and reuse meet the cuts.
    pub wal_switch_bytes: u64,
    /// A deliberate bug, for the controls of the checkers (power-cut
    /// trials, simulator, nemesis): each must catch it. Never set it
    /// otherwise.
    #[doc(hidden)]
    pub planted_bug: Option<crate::planted::PlantedBug>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            fsync: true,
            two_phase_commit: true,
            quick_repair: true,
            page_cache_model: false,
            manual_writer: false,
            wal_switch_bytes: wal::WAL_SWITCH_BYTES,
            planted_bug: None,
        }
    }
}

/// State shared by the writer and every reader.
pub(crate) struct Shared {
    pub catalog: std::sync::RwLock<Catalog>,
    pub poison: Mutex<Option<String>>,
    pub clock: SharedClock,
    /// Bumped after every commit; multi-partition long polls wait on it.
    pub commits: watch::Sender<u64>,
    pub stats: StoreStats,
    pub offsets: std::sync::RwLock<offsets::OffsetCache>,
    /// fdatasync the log before acknowledging (the durability switch).
    pub fsync: std::sync::atomic::AtomicBool,
    /// A deliberate bug for a checker's control ([`StoreOptions::planted_bug`]).
    pub planted_bug: Option<crate::planted::PlantedBug>,
}

impl Shared {
    pub fn poisoned(&self) -> Option<String> {
        self.poison.lock().expect("poison lock").clone()
    }

    /// Records the first I/O error; the store refuses writes from then on.
    pub fn poison(&self, reason: String) -> String {
        if reason.contains("injected fault") {
            tracing::warn!(%reason, "store stopped by an injected fault");
        } else {
            tracing::error!(%reason, "store poisoned");
        }
        let mut poison = self.poison.lock().expect("poison lock");
        poison.get_or_insert(reason).clone()
    }
}

/// What opening found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    /// redb found an unclean shutdown and repaired the file.
    pub repaired: bool,
    /// Batches found in the write-ahead log and applied on open.
    pub replayed_batches: usize,
    pub topics: usize,
    pub batches: usize,
    pub open_micros: u64,
}

/// A cheap-to-clone handle on one open store.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("recovery", &self.inner.recovery)
            .finish_non_exhaustive()
    }
}

struct Inner {
    shared: Arc<Shared>,
    db: Arc<Database>,
    tx: std::sync::RwLock<Option<mpsc::Sender<Command>>>,
    manual: Option<Mutex<(Writer, mpsc::Receiver<Command>)>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    faults: Arc<DiskFaults>,
    recovery: RecoveryReport,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.tx.write().expect("sender lock").take();
        if let Some(handle) = self.thread.lock().expect("thread lock").take() {
            let _ = handle.join();
        }
    }
}

impl Store {
    /// Opens (or creates) a store, repairing it if it was not closed cleanly.
    pub fn open(
        location: Location,
        options: StoreOptions,
        clock: SharedClock,
    ) -> Result<Self, OpenError> {
        let faults = DiskFaults::new(options.page_cache_model);
        Self::open_with_faults(location, options, clock, faults)
    }

    /// Like [`Store::open`] with a caller-held fault switchboard.
    pub fn open_with_faults(
        location: Location,
        options: StoreOptions,
        clock: SharedClock,
        faults: Arc<DiskFaults>,
    ) -> Result<Self, OpenError> {
        let started = std::time::Instant::now();
        let sync_dirs = options.planted_bug != Some(crate::planted::PlantedBug::SkipDirSync);
        let opened = open::open_db(&location, &faults, sync_dirs)?;
        let applied = open::applied_seq(&opened.db)?;
        let wal_io = |source| OpenError::Io {
            path: open::WAL_FILES[0].into(),
            source,
        };
        let [wal_a, wal_b] = opened.wal;
        let (mut wal, replay) =
            wal::Wal::open([Box::new(wal_a), Box::new(wal_b)], applied).map_err(wal_io)?;
        wal.switch_bytes = options.wal_switch_bytes.max(1);
        open::replay_wal(&opened.db, &replay)?;
        let catalog = open::load_catalog(&opened.db)?;
        let recovery = RecoveryReport {
            repaired: opened.repaired,
            replayed_batches: replay.len(),
            topics: catalog.topics.len(),
            batches: catalog
                .topics
                .values()
                .flat_map(|t| t.partitions.iter())
                .map(|p| p.snapshot().batches.len())
                .sum(),
            open_micros: started.elapsed().as_micros() as u64,
        };
        tracing::info!(?recovery, ?location, "store opened");
        let db = Arc::new(opened.db);
        let shared = Arc::new(Shared {
            catalog: std::sync::RwLock::new(catalog),
            poison: Mutex::new(None),
            clock,
            commits: watch::channel(0).0,
            stats: StoreStats::default(),
            offsets: std::sync::RwLock::new(offsets::load(&db).map_err(OpenError::Corrupt)?),
            fsync: std::sync::atomic::AtomicBool::new(options.fsync),
            planted_bug: options.planted_bug,
        });
        let (tx, rx) = mpsc::channel(WRITER_QUEUE_MAX);
        let applier = applier::Applier {
            db: db.clone(),
            shared: shared.clone(),
            options: options.clone(),
            applied_seq: wal.next_seq - 1,
            unchecked_commits: 0,
            last_checkpoint_ms: shared.clock.now_ms(),
            checkpointed: wal.checkpointed.clone(),
            unchecked_bytes: 0,
        };
        let spawn_err = |source| OpenError::Io {
            path: "writer thread".into(),
            source,
        };
        let link = if options.manual_writer {
            applier::ApplyLink::Inline(Box::new(applier))
        } else {
            applier::ApplyLink::spawn(applier).map_err(spawn_err)?
        };
        let producers =
            producers::ProducerTable::rebuild(&db, &shared.catalog.read().expect("catalog lock"))
                .map_err(|e| OpenError::Corrupt(format!("reading producer state: {e}")))?;
        let writer = Writer {
            shared: shared.clone(),
            wal,
            applier: link,
            producers,
            dedup: dedup::DedupWindows::default(),
        };
        let (manual, thread) = if options.manual_writer {
            (Some(Mutex::new((writer, rx))), None)
        } else {
            let handle = std::thread::Builder::new()
                .name("pier-writer".into())
                .spawn(move || writer.run(rx))
                .map_err(|source| OpenError::Io {
                    path: "writer thread".into(),
                    source,
                })?;
            (None, Some(handle))
        };
        let store = Self {
            inner: Arc::new(Inner {
                shared,
                db,
                tx: std::sync::RwLock::new(Some(tx)),
                manual,
                thread: Mutex::new(thread),
                faults,
                recovery,
            }),
        };
        store
            .seed_dedup_windows()
            .map_err(|e| OpenError::Corrupt(format!("reading duplicate-detection windows: {e}")))?;
        Ok(store)
    }

    pub fn recovery(&self) -> &RecoveryReport {
        &self.inner.recovery
    }

    /// The disk fault switchboard of this store.
    pub fn faults(&self) -> &Arc<DiskFaults> {
        &self.inner.faults
    }

    /// Why the store stopped accepting writes, if it did.
    pub fn poisoned(&self) -> Option<String> {
        self.inner.shared.poisoned()
    }

    /// The clock this store was opened with (one for the whole server).
    pub fn clock(&self) -> SharedClock {
        self.inner.shared.clock.clone()
    }

    /// The store's clock, in Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.inner.shared.clock.now_ms()
    }

    pub fn stats(&self) -> StoreStatsSnapshot {
        self.inner.shared.stats.snapshot()
    }

    /// Stops the writer after it finishes what is queued. Later writes fail
    /// with `Closed`; reads keep working.
    /// The durability switch. Off, appends are acknowledged once written to
    /// the log without an fdatasync, as Kafka does by default: they reach
    /// the disk with the next checkpoint (each second), and a power cut
    /// before that loses them.
    pub fn set_fsync(&self, on: bool) {
        self.inner
            .shared
            .fsync
            .store(on, std::sync::atomic::Ordering::SeqCst);
    }

    /// The deliberate bug this store was opened with (controls only).
    #[doc(hidden)]
    pub fn planted_bug(&self) -> Option<crate::planted::PlantedBug> {
        self.inner.shared.planted_bug
    }

    pub fn fsync_enabled(&self) -> bool {
        self.inner
            .shared
            .fsync
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn close(&self) {
        self.inner.tx.write().expect("sender lock").take();
        if let Some(handle) = self.inner.thread.lock().expect("thread lock").take() {
            let _ = handle.join();
        }
    }

    fn sender(&self) -> Option<mpsc::Sender<Command>> {
        self.inner.tx.read().expect("sender lock").clone()
    }

    /// Manual-writer mode: commits everything queued as one group.
    pub fn step_writer(&self) -> usize {
        let manual = self
            .inner
            .manual
            .as_ref()
            .expect("store opened with manual_writer");
        let mut guard = manual.lock().expect("manual writer lock");
        let (writer, rx) = &mut *guard;
        writer.step(rx)
    }

    fn prepare(
        &self,
        topic: &str,
        partition: u32,
        batch: Bytes,
    ) -> Result<(Command, oneshot::Receiver<Result<Appended, AppendError>>), AppendError> {
        if let Some(reason) = self.poisoned() {
            return Err(AppendError::Poisoned(reason));
        }
        let info = batch::validate(&batch)?;
        let (reply, rx) = oneshot::channel();
        let req = AppendRequest {
            topic: topic.to_owned(),
            partition,
            batch,
            info,
            reply,
        };
        Ok((Command::Append(req), rx))
    }

    /// Appends one RecordBatch v2; answers after it is durable.
    pub async fn append(
        &self,
        topic: &str,
        partition: u32,
        batch: Bytes,
    ) -> Result<Appended, AppendError> {
        let rx = self.submit_append_async(topic, partition, batch).await?;
        rx.await.map_err(|_| AppendError::Closed)?
    }

    /// [`Store::append`] for threads outside an async runtime.
    pub fn append_blocking(
        &self,
        topic: &str,
        partition: u32,
        batch: Bytes,
    ) -> Result<Appended, AppendError> {
        let (command, rx) = self.prepare(topic, partition, batch)?;
        let tx = self.sender().ok_or(AppendError::Closed)?;
        tx.blocking_send(command).map_err(|_| AppendError::Closed)?;
        rx.blocking_recv().map_err(|_| AppendError::Closed)?
    }

    /// Queues an append, waiting only for room in the writer queue; the
    /// receiver answers after the append is durable. Lets one request
    /// submit many appends that share a group commit.
    pub async fn submit_append_async(
        &self,
        topic: &str,
        partition: u32,
        batch: Bytes,
    ) -> Result<oneshot::Receiver<Result<Appended, AppendError>>, AppendError> {
        let (command, rx) = self.prepare(topic, partition, batch)?;
        let tx = self.sender().ok_or(AppendError::Closed)?;
        tx.send(command).await.map_err(|_| AppendError::Closed)?;
        Ok(rx)
    }

    /// A new idempotent producer id, never handed out before in this store.
    pub async fn allocate_producer_id(&self) -> Result<i64, AdminError> {
        match self.admin(AdminCommand::AllocateProducerId).await? {
            AdminOutcome::ProducerId(id) => Ok(id),
            other => unreachable!("producer id answered {other:?}"),
        }
    }

    /// Queues an append without waiting (for manual-writer tests).
    pub fn submit_append(
        &self,
        topic: &str,
        partition: u32,
        batch: Bytes,
    ) -> Result<oneshot::Receiver<Result<Appended, AppendError>>, AppendError> {
        let (command, rx) = self.prepare(topic, partition, batch)?;
        let tx = self.sender().ok_or(AppendError::Closed)?;
        tx.try_send(command).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => AppendError::QueueFull,
            mpsc::error::TrySendError::Closed(_) => AppendError::Closed,
        })?;
        Ok(rx)
    }

    fn admin_command(
        &self,
        command: AdminCommand,
    ) -> Result<oneshot::Receiver<Result<AdminOutcome, AdminError>>, AdminError> {
        let (reply, rx) = oneshot::channel();
        let tx = self.sender().ok_or(AdminError::Closed)?;
        tx.try_send(Command::Admin(admin::AdminRequest { command, reply }))
            .map_err(|_| AdminError::Closed)?;
        Ok(rx)
    }

    /// Runs an admin command and waits for its commit.
    pub async fn admin(&self, command: AdminCommand) -> Result<AdminOutcome, AdminError> {
        self.admin_command(command)?
            .await
            .map_err(|_| AdminError::Closed)?
    }

    /// [`Store::admin`] for threads outside an async runtime. In manual
    /// mode it steps the writer itself.
    pub fn admin_blocking(&self, command: AdminCommand) -> Result<AdminOutcome, AdminError> {
        let mut rx = self.admin_command(command)?;
        if self.inner.manual.is_some() {
            self.step_writer();
            return rx.try_recv().map_err(|_| AdminError::Closed)?;
        }
        rx.blocking_recv().map_err(|_| AdminError::Closed)?
    }

    pub fn create_topic_blocking(
        &self,
        name: &str,
        partitions: u32,
        config: TopicConfig,
    ) -> Result<TopicMeta, AdminError> {
        let outcome = self.admin_blocking(AdminCommand::CreateTopic {
            name: name.to_owned(),
            partitions,
            config,
        })?;
        match outcome {
            AdminOutcome::Topic(meta) => Ok(meta),
            other => unreachable!("create topic answered {other:?}"),
        }
    }

    pub async fn create_topic(
        &self,
        name: &str,
        partitions: u32,
        config: TopicConfig,
    ) -> Result<TopicMeta, AdminError> {
        let outcome = self
            .admin(AdminCommand::CreateTopic {
                name: name.to_owned(),
                partitions,
                config,
            })
            .await?;
        match outcome {
            AdminOutcome::Topic(meta) => Ok(meta),
            other => unreachable!("create topic answered {other:?}"),
        }
    }

    /// Receives the commit sequence number, bumped after every commit.
    pub fn subscribe_commits(&self) -> watch::Receiver<u64> {
        self.inner.shared.commits.subscribe()
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    pub(crate) fn db(&self) -> &Database {
        &self.inner.db
    }
}

/// Where an appended batch landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub base_offset: u64,
    pub last_offset: u64,
    pub log_start: u64,
}
