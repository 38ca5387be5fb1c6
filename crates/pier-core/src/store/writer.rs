//! The single writer. It owns the write-ahead log and every redb write
//! transaction: appends that arrive while a commit is in flight queue up and
//! go into the next one together (group commit); nobody is answered before
//! that group's fdatasync.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use redb::{Database, Durability, WriteTransaction};
use tokio::sync::{mpsc, oneshot};

use super::catalog::{BatchMeta, PartitionState};
use super::error::{AppendError, storage_text};
use super::tables::{BATCH_INDEX, LOG, META, META_WAL_APPLIED_SEQ};
use super::wal::{WAL_CHECKPOINT_BYTES, Wal};
use super::{Appended, Shared, StoreOptions};
use crate::batch::{self, BatchInfo};

/// Most requests taken into one commit.
pub const GROUP_COMMIT_MAX_REQUESTS: usize = 4_096;
/// Most batch bytes taken into one commit.
pub const GROUP_COMMIT_MAX_BYTES: usize = 64 * 1024 * 1024;
/// An idle writer checkpoints when the last checkpoint is this old.
pub const CHECKPOINT_INTERVAL_MS: i64 = 1_000;

pub(crate) struct AppendRequest {
    pub topic: String,
    pub partition: u32,
    pub batch: Bytes,
    pub info: BatchInfo,
    pub reply: oneshot::Sender<Result<Appended, AppendError>>,
}

pub(crate) enum Command {
    Append(AppendRequest),
    Admin(super::admin::AdminRequest),
}

/// An append that passed checks and got its offsets.
struct Planned {
    req: AppendRequest,
    topic_id: u32,
    partition: Arc<PartitionState>,
    meta: BatchMeta,
}

pub(crate) struct Writer {
    pub db: Arc<Database>,
    pub shared: Arc<Shared>,
    pub options: StoreOptions,
    pub wal: Wal,
    /// Applied to redb but not yet made durable there by a checkpoint.
    pub unchecked_groups: u64,
    pub last_checkpoint_ms: i64,
}

impl Writer {
    /// Runs until every sender is gone, then checkpoints.
    pub fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        while let Some(first) = rx.blocking_recv() {
            let group = drain_group(first, &mut rx);
            self.process(group);
            if rx.is_empty() {
                self.maybe_checkpoint(false);
            }
        }
        self.maybe_checkpoint(true);
        tracing::debug!("writer stopped: all senders dropped");
    }

    /// Commits everything already queued as one group; returns how many
    /// commands it handled. Used by deterministic tests in manual mode.
    pub fn step(&mut self, rx: &mut mpsc::Receiver<Command>) -> usize {
        let Ok(first) = rx.try_recv() else { return 0 };
        let group = drain_group(first, rx);
        let n = group.len();
        self.process(group);
        self.maybe_checkpoint(false);
        n
    }

    /// A durable redb commit, after which the log can be emptied. Runs when
    /// the log is big, when the writer is idle and the last one is old, or
    /// when `force`d (shutdown).
    pub fn maybe_checkpoint(&mut self, force: bool) {
        if self.unchecked_groups == 0 || self.shared.poisoned().is_some() {
            return;
        }
        let now_ms = self.shared.clock.now_ms();
        let due = self.wal.len_bytes() >= WAL_CHECKPOINT_BYTES
            || now_ms - self.last_checkpoint_ms >= CHECKPOINT_INTERVAL_MS;
        if !(force || due) {
            return;
        }
        let result = self.begin(true).and_then(|txn| {
            txn.open_table(META).map_err(|e| storage_text("open meta", e))?;
            txn.commit().map_err(|e| storage_text("checkpoint commit", e))
        });
        match result {
            Ok(()) => self.after_durable_commit(),
            Err(reason) => {
                self.poison(reason);
            }
        }
    }

    /// Everything applied so far is durable in redb: empty the log.
    pub fn after_durable_commit(&mut self) {
        self.unchecked_groups = 0;
        self.last_checkpoint_ms = self.shared.clock.now_ms();
        if let Err(e) = self.wal.reset() {
            self.poison(storage_text("reset write-ahead log", e));
        }
    }

    /// Appends go into one transaction; an admin command commits alone, in
    /// order, so its effect is visible to the appends after it.
    fn process(&mut self, group: Vec<Command>) {
        let mut appends = Vec::new();
        for command in group {
            match command {
                Command::Append(req) => appends.push(req),
                Command::Admin(req) => {
                    self.commit_appends(std::mem::take(&mut appends));
                    self.run_admin(req);
                }
            }
        }
        self.commit_appends(appends);
    }

    /// A write transaction; `durable` ones fsync redb itself (checkpoints
    /// and admin commands), the others rely on the write-ahead log.
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

    /// Records the first I/O error; the store refuses writes from then on.
    pub fn poison(&self, reason: String) -> String {
        tracing::error!(%reason, "store poisoned");
        let mut poison = self.shared.poison.lock().expect("poison lock");
        poison.get_or_insert(reason).clone()
    }

    fn commit_appends(&mut self, requests: Vec<AppendRequest>) {
        if requests.is_empty() {
            return;
        }
        if let Some(reason) = self.shared.poisoned() {
            for req in requests {
                let _ = req.reply.send(Err(AppendError::Poisoned(reason.clone())));
            }
            return;
        }
        let planned = self.plan(requests);
        if planned.is_empty() {
            return;
        }
        let started = std::time::Instant::now();
        match self.write_planned(&planned) {
            Ok(()) => {
                self.shared.stats.record_commit(planned.len(), started.elapsed());
                self.publish(planned);
            }
            Err(reason) => {
                let reason = self.poison(reason);
                for p in planned {
                    let _ = p.req.reply.send(Err(AppendError::Poisoned(reason.clone())));
                }
            }
        }
    }

    /// Checks topic, partition and size; assigns dense offsets. Refused
    /// requests are answered here and never reach the transaction.
    fn plan(&self, requests: Vec<AppendRequest>) -> Vec<Planned> {
        let mut next: HashMap<(u32, u32), u64> = HashMap::new();
        let mut planned = Vec::with_capacity(requests.len());
        for req in requests {
            match self.check(&req) {
                Err(err) => {
                    let _ = req.reply.send(Err(err));
                }
                Ok((topic_id, partition)) => {
                    let next_offset = next
                        .entry((topic_id, req.partition))
                        .or_insert_with(|| partition.offsets().1);
                    let meta = BatchMeta {
                        base_offset: *next_offset,
                        last_offset: *next_offset + u64::from(req.info.last_offset_delta),
                        max_timestamp_ms: req.info.max_timestamp_ms,
                        size_bytes: req.info.size_bytes as u32,
                    };
                    *next_offset = meta.last_offset + 1;
                    planned.push(Planned {
                        req,
                        topic_id,
                        partition,
                        meta,
                    });
                }
            }
        }
        planned
    }

    fn check(&self, req: &AppendRequest) -> Result<(u32, Arc<PartitionState>), AppendError> {
        let topic = self
            .shared
            .catalog
            .read()
            .expect("catalog lock")
            .topic(&req.topic)
            .ok_or_else(|| AppendError::UnknownTopic(req.topic.clone()))?;
        let partition = topic
            .partitions
            .get(req.partition as usize)
            .ok_or_else(|| AppendError::UnknownPartition {
                topic: req.topic.clone(),
                partition: req.partition,
                count: topic.meta.partitions,
            })?
            .clone();
        if req.info.size_bytes > topic.meta.config.max_message_bytes as usize {
            return Err(AppendError::BatchTooLarge {
                topic: req.topic.clone(),
                size_bytes: req.info.size_bytes,
                limit_bytes: topic.meta.config.max_message_bytes,
            });
        }
        Ok((topic.meta.id, partition))
    }

    /// Log first (one write, one fdatasync), then redb without fsync.
    fn write_planned(&mut self, planned: &[Planned]) -> Result<(), String> {
        let stored: Vec<Vec<u8>> = planned
            .iter()
            .map(|p| batch::with_base_offset(&p.req.batch, p.meta.base_offset))
            .collect();
        let entries: Vec<(u32, u32, u64, &[u8])> = planned
            .iter()
            .zip(&stored)
            .map(|(p, bytes)| (p.topic_id, p.req.partition, p.meta.base_offset, bytes.as_slice()))
            .collect();
        let last_seq = self
            .wal
            .append(&entries, self.options.fsync)
            .map_err(|e| storage_text("write-ahead log", e))?;
        let txn = self.begin(false)?;
        {
            let mut log = txn.open_table(LOG).map_err(|e| storage_text("open log", e))?;
            let mut index = txn
                .open_table(BATCH_INDEX)
                .map_err(|e| storage_text("open batch index", e))?;
            for (p, bytes) in planned.iter().zip(&stored) {
                let key = (p.topic_id, p.req.partition, p.meta.base_offset);
                log.insert(key, bytes.as_slice())
                    .map_err(|e| storage_text("append to log", e))?;
                index
                    .insert(key, (p.meta.last_offset, p.meta.max_timestamp_ms, p.meta.size_bytes))
                    .map_err(|e| storage_text("append to batch index", e))?;
            }
            let mut meta = txn.open_table(META).map_err(|e| storage_text("open meta", e))?;
            meta.insert(META_WAL_APPLIED_SEQ, last_seq)
                .map_err(|e| storage_text("record applied log position", e))?;
        }
        txn.commit().map_err(|e| storage_text("commit", e))?;
        self.unchecked_groups += 1;
        Ok(())
    }

    /// Makes committed batches visible, wakes long polls, answers callers.
    fn publish(&self, planned: Vec<Planned>) {
        for p in &planned {
            p.partition.index.write().expect("partition index lock").push(p.meta);
        }
        for p in &planned {
            let end = p.meta.last_offset + 1;
            p.partition.high_watermark.send_if_modified(|hw| {
                let moved = *hw < end;
                *hw = (*hw).max(end);
                moved
            });
        }
        self.shared.commits.send_modify(|seq| *seq += 1);
        for p in planned {
            let log_start = p.partition.offsets().0;
            let _ = p.req.reply.send(Ok(Appended {
                base_offset: p.meta.base_offset,
                last_offset: p.meta.last_offset,
                log_start,
            }));
        }
    }
}

fn drain_group(first: Command, rx: &mut mpsc::Receiver<Command>) -> Vec<Command> {
    let mut bytes = command_bytes(&first);
    let mut group = vec![first];
    while group.len() < GROUP_COMMIT_MAX_REQUESTS && bytes < GROUP_COMMIT_MAX_BYTES {
        let Ok(next) = rx.try_recv() else { break };
        bytes += command_bytes(&next);
        group.push(next);
    }
    group
}

fn command_bytes(command: &Command) -> usize {
    match command {
        Command::Append(req) => req.batch.len(),
        Command::Admin(_) => 0,
    }
}
