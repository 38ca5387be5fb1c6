//! The writer: the one place offsets are assigned. Appends that arrive while
//! an fdatasync is in flight queue up and go into the next one together
//! (group commit). Per group: one write-ahead log write and fdatasync, then
//! the batches become visible (from the tail cache) and callers are
//! answered; the applier copies them into redb afterwards.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::applier::{ApplyItem, ApplyLink, ApplyWork};
use super::catalog::{BatchMeta, PartitionState};
use super::error::{AppendError, storage_text};
use super::producers::{ProducerTable, Verdict};
use super::wal::Wal;
use super::{Appended, Shared, StoreOptions};
use crate::batch::{self, BatchInfo};

/// Most requests taken into one group.
pub const GROUP_COMMIT_MAX_REQUESTS: usize = 4_096;
/// Most batch bytes taken into one group.
pub const GROUP_COMMIT_MAX_BYTES: usize = 64 * 1024 * 1024;

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
    pub shared: Arc<Shared>,
    pub options: StoreOptions,
    pub wal: Wal,
    pub applier: ApplyLink,
    pub producers: ProducerTable,
}

/// A retried idempotent batch: answered with its original offsets once the
/// group it arrived with is durable.
type Duplicate = (oneshot::Sender<Result<Appended, AppendError>>, Appended);

impl Writer {
    /// Runs until every sender is gone; the applier then checkpoints.
    pub fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        while let Some(first) = rx.blocking_recv() {
            let group = drain_group(first, &mut rx);
            self.process(group);
        }
        self.applier.shutdown();
        tracing::debug!("writer stopped: all senders dropped");
    }

    /// Handles everything already queued as one group, and lets an inline
    /// applier catch up. Used by deterministic tests in manual mode.
    pub fn step(&mut self, rx: &mut mpsc::Receiver<Command>) -> usize {
        let Ok(first) = rx.try_recv() else { return 0 };
        let group = drain_group(first, rx);
        let n = group.len();
        self.process(group);
        self.applier.idle();
        n
    }

    /// Appends go into one log write; an admin command waits for the
    /// applier, in order, so its effect is visible to the appends after it.
    fn process(&mut self, group: Vec<Command>) {
        let mut appends = Vec::new();
        for command in group {
            match command {
                Command::Append(req) => appends.push(req),
                Command::Admin(req) => {
                    self.commit_appends(std::mem::take(&mut appends));
                    self.applier.admin(req);
                }
            }
        }
        self.commit_appends(appends);
    }

    fn poison(&self, reason: String) -> String {
        self.shared.poison(reason)
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
        let (planned, duplicates) = self.plan(requests);
        if planned.is_empty() {
            answer_duplicates(duplicates, None);
            return;
        }
        let started = std::time::Instant::now();
        let stored: Vec<Bytes> = planned
            .iter()
            .map(|p| Bytes::from(batch::with_base_offset(&p.req.batch, p.meta.base_offset)))
            .collect();
        let entries: Vec<(u32, u32, u64, &[u8])> = planned
            .iter()
            .zip(&stored)
            .map(|(p, bytes)| {
                (
                    p.topic_id,
                    p.req.partition,
                    p.meta.base_offset,
                    bytes.as_ref(),
                )
            })
            .collect();
        match self.wal.append(&entries, self.options.fsync) {
            Ok(last_seq) => {
                self.shared
                    .stats
                    .record_commit(planned.len(), started.elapsed());
                let items = self.publish(planned, stored);
                answer_duplicates(duplicates, None);
                self.applier.send(ApplyWork::Appends { items, last_seq });
            }
            Err(e) => {
                let reason = self.poison(storage_text("write-ahead log", e));
                answer_duplicates(duplicates, Some(&reason));
                for p in planned {
                    let _ = p.req.reply.send(Err(AppendError::Poisoned(reason.clone())));
                }
            }
        }
    }

    /// Checks topic, partition and size; assigns dense offsets. Refused
    /// requests are answered here and never reach the log.
    fn plan(&mut self, requests: Vec<AppendRequest>) -> (Vec<Planned>, Vec<Duplicate>) {
        let mut next: HashMap<(u32, u32), u64> = HashMap::new();
        let mut planned = Vec::with_capacity(requests.len());
        let mut duplicates = Vec::new();
        for req in requests {
            match self.check(&req) {
                Err(err) => {
                    let _ = req.reply.send(Err(err));
                }
                Ok((
                    _,
                    partition,
                    Verdict::Duplicate {
                        base_offset,
                        last_offset,
                    },
                )) => {
                    let log_start = partition.offsets().0;
                    let done = Appended {
                        base_offset,
                        last_offset,
                        log_start,
                    };
                    duplicates.push((req.reply, done));
                }
                Ok((topic_id, partition, Verdict::Append)) => {
                    let next_offset = next
                        .entry((topic_id, req.partition))
                        .or_insert_with(|| partition.offsets().1);
                    let meta = BatchMeta::single(
                        *next_offset,
                        *next_offset + u64::from(req.info.last_offset_delta),
                        req.info.max_timestamp_ms,
                        req.info.size_bytes as u32,
                    );
                    *next_offset = meta.last_offset + 1;
                    if req.info.producer_id >= 0 {
                        self.producers.record(
                            topic_id,
                            req.partition,
                            &req.info,
                            meta.base_offset,
                            meta.last_offset,
                        );
                    }
                    planned.push(Planned {
                        req,
                        topic_id,
                        partition,
                        meta,
                    });
                }
            }
        }
        (planned, duplicates)
    }

    fn check(
        &self,
        req: &AppendRequest,
    ) -> Result<(u32, Arc<PartitionState>, Verdict), AppendError> {
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
        if req.info.transactional || req.info.control {
            return Err(AppendError::InvalidBatch(
                crate::batch::BatchError::Corrupt("transactional batches are not supported".into()),
            ));
        }
        let verdict = if req.info.producer_id >= 0 {
            self.producers
                .check(topic.meta.id, req.partition, &req.info)?
        } else {
            Verdict::Append
        };
        Ok((topic.meta.id, partition, verdict))
    }

    /// Makes durable batches visible, wakes long polls, answers callers.
    fn publish(&self, planned: Vec<Planned>, stored: Vec<Bytes>) -> Vec<ApplyItem> {
        for (p, bytes) in planned.iter().zip(&stored) {
            p.partition
                .index
                .write()
                .expect("partition index lock")
                .push(p.meta, bytes.clone());
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
        let mut items = Vec::with_capacity(planned.len());
        for (p, bytes) in planned.into_iter().zip(stored) {
            let log_start = p.partition.offsets().0;
            let _ = p.req.reply.send(Ok(Appended {
                base_offset: p.meta.base_offset,
                last_offset: p.meta.last_offset,
                log_start,
            }));
            items.push(ApplyItem {
                topic_id: p.topic_id,
                partition: p.req.partition,
                meta: p.meta,
                bytes,
                state: p.partition,
            });
        }
        items
    }
}

fn answer_duplicates(duplicates: Vec<Duplicate>, failed: Option<&str>) {
    for (reply, done) in duplicates {
        let _ = reply.send(match failed {
            None => Ok(done),
            Some(reason) => Err(AppendError::Poisoned(reason.to_owned())),
        });
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
