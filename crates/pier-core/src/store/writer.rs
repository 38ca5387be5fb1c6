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
use super::dedup::DedupVerdict;
use super::error::{AppendError, storage_text};
use super::producers::{ProducerTable, Verdict};
use super::wal::Wal;
use super::{Appended, Shared};
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
    /// Refills a topic's duplicate-detection window after open:
    /// `(id, partition, offset, stored at)`.
    SeedDedup {
        topic_id: u32,
        entries: Vec<(Bytes, u32, u64, i64)>,
    },
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
    pub wal: Wal,
    pub applier: ApplyLink,
    pub producers: ProducerTable,
    pub dedup: super::dedup::DedupWindows,
}

/// What duplicate detection made of an append.
enum Deduped {
    /// Store it (maybe with fewer records); remember these ids, stamped
    /// with the time, by offset delta.
    Store(AppendRequest, Option<(i64, Vec<(u32, Bytes)>)>),
    /// Every record was seen: answer with the original offsets.
    Seen(AppendRequest, u64, u64),
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
                    if let super::admin::AdminCommand::DeleteTopic { name } = &req.command
                        && let Some(t) = self
                            .shared
                            .catalog
                            .read()
                            .expect("catalog lock")
                            .topic(name)
                    {
                        self.dedup.forget_topic(t.meta.id);
                    }
                    self.applier.admin(req);
                }
                Command::SeedDedup { topic_id, entries } => {
                    for (id, partition, offset, at) in entries {
                        self.dedup.insert(topic_id, id, partition, offset, at);
                    }
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
        let fsync = self.shared.fsync.load(std::sync::atomic::Ordering::SeqCst)
            && self.shared.planted_bug != Some(crate::planted::PlantedBug::SkipLogSync);
        match self.wal.append(&entries, fsync) {
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
                    let original = req.info.clone();
                    let (req, fresh_ids) = match self.dedup_check(topic_id, req) {
                        Deduped::Store(req, ids) => (req, ids),
                        Deduped::Seen(req, first, last) => {
                            if original.producer_id >= 0 {
                                self.producers.record(
                                    topic_id,
                                    req.partition,
                                    &original,
                                    first,
                                    last,
                                );
                            }
                            let log_start = partition.offsets().0;
                            duplicates.push((
                                req.reply,
                                Appended {
                                    base_offset: first,
                                    last_offset: last,
                                    log_start,
                                },
                            ));
                            continue;
                        }
                    };
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
                    if original.producer_id >= 0 {
                        // The producer's own sequence range, even when
                        // duplicate detection dropped some records.
                        self.producers.record(
                            topic_id,
                            req.partition,
                            &original,
                            meta.base_offset,
                            meta.last_offset,
                        );
                    }
                    if let Some((window_at, ids)) = fresh_ids {
                        for (delta, id) in ids {
                            self.dedup.insert(
                                topic_id,
                                id,
                                req.partition,
                                meta.base_offset + u64::from(delta),
                                window_at,
                            );
                        }
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

    /// Duplicate detection for topics that have it on.
    fn dedup_check(&mut self, topic_id: u32, mut req: AppendRequest) -> Deduped {
        let config = {
            let catalog = self.shared.catalog.read().expect("catalog lock");
            match catalog.topic(&req.topic) {
                Some(t) if t.meta.config.dedup_window_ms > 0 => t.meta.config.clone(),
                _ => return Deduped::Store(req, None),
            }
        };
        let now = self.shared.clock.now_ms();
        self.dedup.evict(topic_id, now, config.dedup_window_ms);
        let Ok(records) = batch::decode_records(&req.batch) else {
            return Deduped::Store(req, None);
        };
        match super::dedup::judge(&self.dedup, topic_id, &config, records) {
            DedupVerdict::Fresh(ids) => Deduped::Store(req, Some((now, ids))),
            DedupVerdict::AllSeen { first, last } => {
                self.shared
                    .stats
                    .record_dedup_hits(u64::from(req.info.record_count));
                Deduped::Seen(req, first, last)
            }
            DedupVerdict::Some { keep, ids, dropped } => {
                self.shared.stats.record_dedup_hits(dropped.into());
                let records: Vec<batch::NewRecord> = keep
                    .iter()
                    .map(|r| batch::NewRecord {
                        key: r.key.clone(),
                        value: r.value.clone(),
                        headers: r
                            .headers
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.clone()))
                            .collect(),
                        timestamp_ms: r.timestamp,
                    })
                    .collect();
                let stamp = (req.info.producer_id >= 0).then_some(batch::ProducerStamp {
                    producer_id: req.info.producer_id,
                    producer_epoch: req.info.producer_epoch,
                    base_sequence: req.info.base_sequence,
                });
                let rebuilt = batch::build(&records, req.info.compression, stamp);
                match batch::validate(&rebuilt) {
                    Ok(info) => {
                        req.batch = rebuilt;
                        req.info = info;
                        Deduped::Store(req, Some((now, ids)))
                    }
                    Err(_) => Deduped::Store(req, None),
                }
            }
        }
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
        let verdict = match verdict {
            Verdict::Duplicate { .. }
                if self.shared.planted_bug
                    == Some(crate::planted::PlantedBug::AcceptDuplicateSequence) =>
            {
                Verdict::Append
            }
            v => v,
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
        Command::Admin(_) | Command::SeedDedup { .. } => 0,
    }
}
