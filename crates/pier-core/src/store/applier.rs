//! The applier copies durable (logged) batches into redb with cheap
//! `Durability::None` commits, many groups per commit, off the writer's
//! critical path; makes a durable checkpoint every second or when idle; and
//! runs admin commands, in order with the appends around them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use redb::{Database, Durability, WriteTransaction};

use super::admin::AdminRequest;
use super::catalog::{BatchMeta, PartitionState};
use super::error::storage_text;
use super::tables::{BATCH_INDEX, LOG, META, META_WAL_APPLIED_SEQ};
use super::{Shared, StoreOptions};

/// The applier checkpoints when the last checkpoint is this old.
pub const CHECKPOINT_INTERVAL_MS: i64 = 1_000;
/// Groups the writer may hand over before it waits for the applier.
pub const APPLY_QUEUE_MAX: usize = 1_024;
/// redb inserts are far cheaper in big commits (measured: ~30k/s one per
/// commit, ~110k/s a thousand per commit), so the applier gathers at least
/// this many batches while more keep arriving within [`APPLY_GATHER_MS`].
pub const APPLY_BATCH_MIN: usize = 2_048;
pub const APPLY_GATHER_MS: u64 = 2;

/// One logged batch on its way into redb.
pub(crate) struct ApplyItem {
    pub topic_id: u32,
    pub partition: u32,
    pub meta: BatchMeta,
    pub bytes: Bytes,
    pub state: Arc<PartitionState>,
}

pub(crate) enum ApplyWork {
    Appends {
        items: Vec<ApplyItem>,
        last_seq: u64,
    },
    Admin(AdminRequest, Option<SyncSender<()>>),
}

/// How the writer reaches the applier: a thread, or (manual mode) a call.
pub(crate) enum ApplyLink {
    Thread {
        tx: Option<SyncSender<ApplyWork>>,
        handle: Option<JoinHandle<()>>,
    },
    Inline(Box<Applier>),
}

impl ApplyLink {
    pub fn spawn(applier: Applier) -> std::io::Result<Self> {
        let (tx, rx) = std::sync::mpsc::sync_channel(APPLY_QUEUE_MAX);
        let handle = std::thread::Builder::new()
            .name("pier-applier".into())
            .spawn(move || {
                lower_priority();
                applier.run(&rx)
            })?;
        Ok(Self::Thread {
            tx: Some(tx),
            handle: Some(handle),
        })
    }

    pub fn send(&mut self, work: ApplyWork) {
        match self {
            Self::Thread { tx, .. } => {
                // A dead applier has poisoned the store already.
                if let Some(tx) = tx {
                    let _ = tx.send(work);
                }
            }
            Self::Inline(applier) => applier.handle(vec![work]),
        }
    }

    /// Runs an admin command after everything sent before it, and waits.
    pub fn admin(&mut self, req: AdminRequest) {
        match self {
            Self::Thread { tx, .. } => {
                let (done_tx, done_rx) = std::sync::mpsc::sync_channel(1);
                if let Some(tx) = tx
                    && tx.send(ApplyWork::Admin(req, Some(done_tx))).is_ok()
                {
                    let _ = done_rx.recv();
                }
            }
            Self::Inline(applier) => applier.handle(vec![ApplyWork::Admin(req, None)]),
        }
    }

    /// Manual mode: the point where a thread would find its queue empty.
    pub fn idle(&mut self) {
        if let Self::Inline(applier) = self {
            applier.maybe_checkpoint(false);
        }
    }

    /// Lets the applier finish, checkpoint and stop.
    pub fn shutdown(&mut self) {
        match self {
            Self::Thread { tx, handle } => {
                tx.take();
                if let Some(handle) = handle.take() {
                    let _ = handle.join();
                }
            }
            Self::Inline(applier) => applier.maybe_checkpoint(true),
        }
    }
}

/// Takes what is queued, and keeps taking while batches are few and more
/// arrive quickly. Stops early at an admin command: the writer waits for it.
fn gather(first: ApplyWork, rx: &Receiver<ApplyWork>) -> Vec<ApplyWork> {
    let gather_for = Duration::from_millis(APPLY_GATHER_MS);
    let mut batches = work_batches(&first);
    let mut works = vec![first];
    while works.len() < APPLY_QUEUE_MAX && !matches!(works.last(), Some(ApplyWork::Admin(..))) {
        let next = match rx.try_recv() {
            Ok(next) => next,
            Err(_) if batches >= APPLY_BATCH_MIN => break,
            Err(_) => match rx.recv_timeout(gather_for) {
                Ok(next) => next,
                Err(_) => break,
            },
        };
        batches += work_batches(&next);
        works.push(next);
    }
    works
}

fn work_batches(work: &ApplyWork) -> usize {
    match work {
        ApplyWork::Appends { items, .. } => items.len(),
        ApplyWork::Admin(..) => 0,
    }
}

/// Largest redb row the applier builds from consecutive batches.
pub const CHUNK_MAX_BYTES: usize = 256 * 1024;

/// Consecutive batches of one partition stored as one redb row: one insert
/// instead of one per batch (redb's cost is per insert far more than per
/// byte). Reads slice a batch out by position.
struct Chunk<'a> {
    base_offset: u64,
    items: Vec<&'a ApplyItem>,
    /// Byte position of each item in the row.
    positions: Vec<u32>,
}

/// Groups items (in log order) into per-partition chunks of consecutive
/// offsets, each at most [`CHUNK_MAX_BYTES`] (a bigger batch is alone).
fn chunk(items: &[ApplyItem]) -> Vec<Chunk<'_>> {
    let mut open: Vec<Chunk<'_>> = Vec::new();
    let mut done = Vec::new();
    for item in items {
        let slot = open.iter().position(|c| {
            let last = c.items.last().expect("chunks are not empty");
            last.topic_id == item.topic_id && last.partition == item.partition
        });
        if let Some(i) = slot {
            let c = &mut open[i];
            let last = c.items.last().expect("chunks are not empty");
            let size = c.positions.last().map_or(0, |p| *p as usize) + last.bytes.len();
            if last.meta.last_offset + 1 == item.meta.base_offset
                && size + item.bytes.len() <= CHUNK_MAX_BYTES
            {
                c.positions.push(size as u32);
                c.items.push(item);
                continue;
            }
            done.push(open.swap_remove(i));
        }
        open.push(Chunk {
            base_offset: item.meta.base_offset,
            items: vec![item],
            positions: vec![0],
        });
    }
    done.extend(open);
    done
}

/// How much nicer than the rest of the process the applier thread runs.
/// Copying into redb and checkpointing are background work: on a busy
/// machine they yield the CPU to the writer and the connections, whose
/// delays are the produce latency. Measured (`docs/benchmarks.md`): e2e
/// p99.9 at 5,000 msg/s 4.3–24 → 2.8–5.8 ms, pipelined throughput no lower.
/// The applier cannot fall behind without limit: its queue is bounded
/// ([`APPLY_QUEUE_MAX`]), and a full queue holds the writer back.
pub const APPLIER_NICE_INCREMENT: i32 = 10;

/// Lowers the calling thread's priority by [`APPLIER_NICE_INCREMENT`]
/// (on Linux a thread has its own nice value). Failing changes only timing.
#[cfg(target_os = "linux")]
fn lower_priority() {
    use rustix::process::{getpriority_process, setpriority_process};
    let me = Some(rustix::thread::gettid());
    if let Ok(now) = getpriority_process(me) {
        let _ = setpriority_process(me, (now + APPLIER_NICE_INCREMENT).min(19));
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

pub(crate) struct Applier {
    pub db: Arc<Database>,
    pub shared: Arc<Shared>,
    pub options: StoreOptions,
    pub applied_seq: u64,
    /// Applied with `Durability::None` since the last checkpoint.
    pub unchecked_commits: u64,
    pub last_checkpoint_ms: i64,
    /// Shared with the log, which reuses files a checkpoint covers.
    pub checkpointed: Arc<AtomicU64>,
    /// Batch bytes applied since the last checkpoint.
    pub unchecked_bytes: u64,
}

impl Applier {
    fn run(mut self, rx: &Receiver<ApplyWork>) {
        let interval = Duration::from_millis(CHECKPOINT_INTERVAL_MS as u64);
        loop {
            match rx.recv_timeout(interval) {
                Ok(first) => {
                    let works = gather(first, rx);
                    self.handle(works);
                    self.maybe_checkpoint(false);
                }
                Err(RecvTimeoutError::Timeout) => self.maybe_checkpoint(true),
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        self.maybe_checkpoint(true);
    }

    /// Consecutive appends share one commit; admin commands run in order.
    pub fn handle(&mut self, works: Vec<ApplyWork>) {
        let mut items = Vec::new();
        let mut last_seq = None;
        for work in works {
            match work {
                ApplyWork::Appends {
                    items: more,
                    last_seq: seq,
                } => {
                    items.extend(more);
                    last_seq = Some(seq);
                }
                ApplyWork::Admin(req, done) => {
                    self.apply(std::mem::take(&mut items), last_seq.take());
                    self.run_admin(req);
                    if let Some(done) = done {
                        let _ = done.send(());
                    }
                }
            }
        }
        self.apply(items, last_seq);
    }

    /// A write transaction; `durable` ones fsync redb itself.
    pub fn begin(&self, durable: bool) -> Result<WriteTransaction, String> {
        let mut txn = self
            .db
            .begin_write()
            .map_err(|e| storage_text("begin write", e))?;
        let durability = if durable {
            Durability::Immediate
        } else {
            Durability::None
        };
        txn.set_durability(durability)
            .map_err(|e| storage_text("set durability", e))?;
        txn.set_two_phase_commit(self.options.two_phase_commit);
        txn.set_quick_repair(self.options.quick_repair);
        Ok(txn)
    }

    pub fn poison(&self, reason: String) -> String {
        self.shared.poison(reason)
    }

    fn apply(&mut self, items: Vec<ApplyItem>, last_seq: Option<u64>) {
        let Some(last_seq) = last_seq else { return };
        if items.is_empty() || self.shared.poisoned().is_some() {
            return;
        }
        let chunks = chunk(&items);
        match self.write_chunks(&chunks, last_seq) {
            Ok(()) => {
                self.applied_seq = last_seq;
                self.unchecked_commits += 1;
                self.unchecked_bytes += items.iter().map(|i| i.bytes.len() as u64).sum::<u64>();
                for c in &chunks {
                    let placed: Vec<(u64, u64, u32)> = c
                        .items
                        .iter()
                        .zip(&c.positions)
                        .map(|(i, pos)| (i.meta.base_offset, c.base_offset, *pos))
                        .collect();
                    let end = c
                        .items
                        .last()
                        .expect("chunks are not empty")
                        .meta
                        .last_offset
                        + 1;
                    let mut index = c.items[0]
                        .state
                        .index
                        .write()
                        .expect("partition index lock");
                    index.set_chunks(&placed);
                    index.mark_applied(end);
                }
            }
            Err(reason) => {
                self.poison(reason);
            }
        }
    }

    fn write_chunks(&self, chunks: &[Chunk<'_>], last_seq: u64) -> Result<(), String> {
        let txn = self.begin(false)?;
        {
            let mut log = txn
                .open_table(LOG)
                .map_err(|e| storage_text("open log", e))?;
            let mut index = txn
                .open_table(BATCH_INDEX)
                .map_err(|e| storage_text("open batch index", e))?;
            let mut value = Vec::new();
            for c in chunks {
                let first = c.items[0];
                let key = (first.topic_id, first.partition, c.base_offset);
                value.clear();
                for item in &c.items {
                    value.extend_from_slice(&item.bytes);
                }
                log.insert(key, value.as_slice())
                    .map_err(|e| storage_text("append to log", e))?;
                let last = c
                    .items
                    .last()
                    .expect("chunks are not empty")
                    .meta
                    .last_offset;
                let max_ts = c
                    .items
                    .iter()
                    .map(|i| i.meta.max_timestamp_ms)
                    .max()
                    .unwrap_or(-1);
                index
                    .insert(key, (last, max_ts, value.len() as u32))
                    .map_err(|e| storage_text("append to batch index", e))?;
            }
            let mut meta = txn
                .open_table(META)
                .map_err(|e| storage_text("open meta", e))?;
            meta.insert(META_WAL_APPLIED_SEQ, last_seq)
                .map_err(|e| storage_text("record applied log position", e))?;
        }
        txn.commit().map_err(|e| storage_text("commit", e))
    }

    /// A durable redb commit, after which the log files it covers can be
    /// reused. Runs when the last one is old, or when `force`d (idle, stop).
    pub fn maybe_checkpoint(&mut self, force: bool) {
        if self.unchecked_commits == 0 || self.shared.poisoned().is_some() {
            return;
        }
        let now_ms = self.shared.clock.now_ms();
        // Half a log file: the writer finds the other file free in time.
        let big = self.unchecked_bytes >= super::wal::WAL_SWITCH_BYTES / 2;
        if !force && !big && now_ms - self.last_checkpoint_ms < CHECKPOINT_INTERVAL_MS {
            return;
        }
        let result = self.begin(true).and_then(|txn| {
            txn.open_table(META)
                .map_err(|e| storage_text("open meta", e))?;
            txn.commit()
                .map_err(|e| storage_text("checkpoint commit", e))
        });
        match result {
            Ok(()) => self.after_durable_commit(),
            Err(reason) => {
                self.poison(reason);
            }
        }
    }

    /// Everything applied so far is durable in redb.
    pub fn after_durable_commit(&mut self) {
        self.unchecked_commits = 0;
        self.unchecked_bytes = 0;
        self.last_checkpoint_ms = self.shared.clock.now_ms();
        self.checkpointed.store(self.applied_seq, Ordering::SeqCst);
    }
}

#[cfg(all(test, target_os = "linux"))]
mod priority_tests {
    use super::*;

    #[test]
    fn the_applier_thread_runs_nicer_than_the_rest() {
        use rustix::process::getpriority_process;
        let (before, after) = std::thread::spawn(|| {
            let me = Some(rustix::thread::gettid());
            let before = getpriority_process(me).unwrap();
            lower_priority();
            (before, getpriority_process(me).unwrap())
        })
        .join()
        .unwrap();
        assert_eq!(after, (before + APPLIER_NICE_INCREMENT).min(19));
        // Only that thread: this one keeps its priority.
        assert_eq!(
            getpriority_process(Some(rustix::thread::gettid())).unwrap(),
            before
        );
    }
}
