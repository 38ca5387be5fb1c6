//! Topic administration and retention, run by the writer one command per
//! transaction.

use std::sync::Arc;

use tokio::sync::oneshot;

use super::applier::Applier;
use super::catalog::{PartitionIndex, PartitionState, TopicState};
use super::error::{AdminError, storage_text};
use super::tables::{
    BATCH_INDEX, LOG, META, META_NEXT_PRODUCER_ID, META_NEXT_TOPIC_ID, PARTITIONS, TOPICS,
};
use crate::topic::{
    self, PARTITIONS_PER_TOPIC_MAX, TOPICS_MAX, TopicConfig, TopicError, TopicMeta,
};
use redb::ReadableTable;

#[derive(Debug, Clone)]
pub enum AdminCommand {
    CreateTopic {
        name: String,
        partitions: u32,
        config: TopicConfig,
    },
    DeleteTopic {
        name: String,
    },
    CreatePartitions {
        name: String,
        total: u32,
    },
    SetConfig {
        name: String,
        config: TopicConfig,
    },
    EnforceRetention,
    AllocateProducerId,
    /// Durably records consumer-group offsets.
    CommitOffsets {
        group: String,
        offsets: Vec<(String, u32, super::CommittedOffset)>,
    },
    /// Forgets every committed offset of a group.
    DeleteGroupOffsets {
        group: String,
    },
    /// Forgets a group's committed offsets of these partitions.
    DeletePartitionOffsets {
        group: String,
        partitions: Vec<(String, u32)>,
    },
    /// Deletes the batches of a partition before `offset`, whole chunks
    /// only (Pier's own compacted logs).
    DeleteRecordsBefore {
        topic: String,
        partition: u32,
        offset: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminOutcome {
    Topic(TopicMeta),
    Deleted,
    Retention { batches_deleted: usize },
    ProducerId(i64),
    Done,
}

pub(crate) struct AdminRequest {
    pub command: AdminCommand,
    pub reply: oneshot::Sender<Result<AdminOutcome, AdminError>>,
}

/// What a command changes in the catalog once its transaction is durable.
enum Publish {
    PutTopic(Arc<TopicState>),
    RemoveTopic(String),
    Trim(Vec<(Arc<PartitionState>, usize, u64)>),
}

impl Applier {
    pub(crate) fn run_admin(&mut self, req: AdminRequest) {
        let result = self.admin(req.command);
        let _ = req.reply.send(result);
    }

    /// Admin commits are durable redb commits, so they also checkpoint.
    fn admin(&mut self, command: AdminCommand) -> Result<AdminOutcome, AdminError> {
        if let Some(reason) = self.shared.poisoned() {
            return Err(AdminError::Poisoned(reason));
        }
        let (publish, outcome) = match self.plan_admin(command)? {
            Ok(planned) => planned,
            Err(storage) => return Err(AdminError::Poisoned(self.poison(storage))),
        };
        self.publish_admin(publish);
        self.after_durable_commit();
        Ok(outcome)
    }

    /// Outer error: the request is refused. Inner error: storage failed.
    #[allow(clippy::type_complexity)]
    fn plan_admin(
        &self,
        command: AdminCommand,
    ) -> Result<Result<(Publish, AdminOutcome), String>, AdminError> {
        let catalog = self.shared.catalog.read().expect("catalog lock");
        let existing = |name: &str| {
            catalog
                .topic(name)
                .ok_or_else(|| TopicError::UnknownTopic(name.to_owned()))
        };
        match command {
            AdminCommand::CreateTopic {
                name,
                partitions,
                config,
            } => {
                topic::validate_name(&name)?;
                check_partition_count(partitions)?;
                if catalog.topics.contains_key(&name) {
                    return Err(TopicError::AlreadyExists(name).into());
                }
                if catalog.topics.len() >= TOPICS_MAX {
                    return Err(TopicError::TooManyTopics.into());
                }
                let meta = TopicMeta {
                    name,
                    id: catalog.next_topic_id,
                    uuid: uuid::Uuid::new_v4(),
                    partitions,
                    config,
                    created_ms: self.shared.clock.now_ms(),
                };
                drop(catalog);
                Ok(self.create_topic(meta))
            }
            AdminCommand::DeleteTopic { name } => {
                if crate::topic::is_internal(&name) {
                    return Err(TopicError::Internal(name).into());
                }
                let topic = existing(&name)?;
                drop(catalog);
                Ok(self.delete_topic(&topic))
            }
            AdminCommand::CreatePartitions { name, total } => {
                let topic = existing(&name)?;
                check_partition_count(total)?;
                if total <= topic.meta.partitions {
                    return Err(TopicError::PartitionsCannotShrink {
                        current: topic.meta.partitions,
                        requested: total,
                    }
                    .into());
                }
                drop(catalog);
                let mut meta = topic.meta.clone();
                meta.partitions = total;
                Ok(self.update_topic(&topic, meta))
            }
            AdminCommand::SetConfig { name, config } => {
                let topic = existing(&name)?;
                drop(catalog);
                let mut meta = topic.meta.clone();
                meta.config = config;
                Ok(self.update_topic(&topic, meta))
            }
            AdminCommand::CommitOffsets { group, offsets } => {
                drop(catalog);
                Ok(self
                    .commit_offsets(&group, &offsets)
                    .map(|()| (Publish::Trim(Vec::new()), AdminOutcome::Done)))
            }
            AdminCommand::DeleteRecordsBefore {
                topic,
                partition,
                offset,
            } => {
                let topic = existing(&topic)?;
                drop(catalog);
                Ok(self.delete_records_before(&topic, partition, offset))
            }
            AdminCommand::DeleteGroupOffsets { group } => {
                drop(catalog);
                Ok(self
                    .delete_group_offsets(&group)
                    .map(|()| (Publish::Trim(Vec::new()), AdminOutcome::Done)))
            }
            AdminCommand::DeletePartitionOffsets { group, partitions } => {
                drop(catalog);
                Ok(self
                    .delete_partition_offsets(&group, &partitions)
                    .map(|()| (Publish::Trim(Vec::new()), AdminOutcome::Done)))
            }
            AdminCommand::AllocateProducerId => {
                drop(catalog);
                Ok(self.allocate_producer_id())
            }
            AdminCommand::EnforceRetention => {
                let topics: Vec<_> = catalog.topics.values().cloned().collect();
                drop(catalog);
                Ok(self.enforce_retention(&topics))
            }
        }
    }

    fn allocate_producer_id(&self) -> Result<(Publish, AdminOutcome), String> {
        let txn = self.begin(true)?;
        let id = {
            let mut meta = txn
                .open_table(META)
                .map_err(|e| storage_text("open meta", e))?;
            let id = meta
                .get(META_NEXT_PRODUCER_ID)
                .map_err(|e| storage_text("read producer id", e))?
                .map_or(0, |v| v.value());
            meta.insert(META_NEXT_PRODUCER_ID, id + 1)
                .map_err(|e| storage_text("bump producer id", e))?;
            id
        };
        txn.commit().map_err(|e| storage_text("commit", e))?;
        Ok((
            Publish::Trim(Vec::new()),
            AdminOutcome::ProducerId(id as i64),
        ))
    }

    fn create_topic(&self, meta: TopicMeta) -> Result<(Publish, AdminOutcome), String> {
        let txn = self.begin(true)?;
        {
            let json = serde_json::to_vec(&meta).expect("topic meta serializes");
            let mut topics = txn
                .open_table(TOPICS)
                .map_err(|e| storage_text("open topics", e))?;
            topics
                .insert(meta.name.as_str(), json.as_slice())
                .map_err(|e| storage_text("insert topic", e))?;
            let mut parts = txn
                .open_table(PARTITIONS)
                .map_err(|e| storage_text("open partitions", e))?;
            for p in 0..meta.partitions {
                parts
                    .insert((meta.id, p), (0, 0))
                    .map_err(|e| storage_text("insert partition", e))?;
            }
            let mut m = txn
                .open_table(META)
                .map_err(|e| storage_text("open meta", e))?;
            m.insert(META_NEXT_TOPIC_ID, u64::from(meta.id) + 1)
                .map_err(|e| storage_text("bump topic id", e))?;
        }
        txn.commit().map_err(|e| storage_text("commit", e))?;
        let partitions = (0..meta.partitions)
            .map(|_| PartitionState::new(PartitionIndex::default()))
            .collect();
        let state = Arc::new(TopicState {
            meta: meta.clone(),
            partitions,
        });
        Ok((Publish::PutTopic(state), AdminOutcome::Topic(meta)))
    }

    fn delete_topic(&self, topic: &TopicState) -> Result<(Publish, AdminOutcome), String> {
        let id = topic.meta.id;
        let txn = self.begin(true)?;
        {
            let mut topics = txn
                .open_table(TOPICS)
                .map_err(|e| storage_text("open topics", e))?;
            topics
                .remove(topic.meta.name.as_str())
                .map_err(|e| storage_text("remove topic", e))?;
            let all = (id, 0, 0)..=(id, u32::MAX, u64::MAX);
            let mut log = txn
                .open_table(LOG)
                .map_err(|e| storage_text("open log", e))?;
            log.retain_in(all.clone(), |_, _| false)
                .map_err(|e| storage_text("delete log", e))?;
            let mut index = txn
                .open_table(BATCH_INDEX)
                .map_err(|e| storage_text("open batch index", e))?;
            index
                .retain_in(all, |_, _| false)
                .map_err(|e| storage_text("delete batch index", e))?;
            let mut parts = txn
                .open_table(PARTITIONS)
                .map_err(|e| storage_text("open partitions", e))?;
            parts
                .retain_in((id, 0)..=(id, u32::MAX), |_, _| false)
                .map_err(|e| storage_text("delete partitions", e))?;
        }
        txn.commit().map_err(|e| storage_text("commit", e))?;
        Ok((
            Publish::RemoveTopic(topic.meta.name.clone()),
            AdminOutcome::Deleted,
        ))
    }

    fn update_topic(
        &self,
        topic: &TopicState,
        meta: TopicMeta,
    ) -> Result<(Publish, AdminOutcome), String> {
        let txn = self.begin(true)?;
        {
            let json = serde_json::to_vec(&meta).expect("topic meta serializes");
            let mut topics = txn
                .open_table(TOPICS)
                .map_err(|e| storage_text("open topics", e))?;
            topics
                .insert(meta.name.as_str(), json.as_slice())
                .map_err(|e| storage_text("update topic", e))?;
            let mut parts = txn
                .open_table(PARTITIONS)
                .map_err(|e| storage_text("open partitions", e))?;
            for p in topic.meta.partitions..meta.partitions {
                parts
                    .insert((meta.id, p), (0, 0))
                    .map_err(|e| storage_text("insert partition", e))?;
            }
        }
        txn.commit().map_err(|e| storage_text("commit", e))?;
        let mut partitions = topic.partitions.clone();
        while partitions.len() < meta.partitions as usize {
            partitions.push(PartitionState::new(PartitionIndex::default()));
        }
        let state = Arc::new(TopicState {
            meta: meta.clone(),
            partitions,
        });
        Ok((Publish::PutTopic(state), AdminOutcome::Topic(meta)))
    }

    /// Deletes whole batches: older than `retention.ms` (by their newest
    /// timestamp), or the oldest while the partition is over `retention.bytes`.
    fn enforce_retention(
        &self,
        topics: &[Arc<TopicState>],
    ) -> Result<(Publish, AdminOutcome), String> {
        let now_ms = self.shared.clock.now_ms();
        let mut trims = Vec::new();
        for topic in topics {
            for (p, partition) in topic.partitions.iter().enumerate() {
                let index = partition.snapshot();
                let count = expired_batches(&index, &topic.meta.config, now_ms);
                trims.extend(trim_of(topic.meta.id, p as u32, partition, &index, count));
            }
        }
        self.apply_trims(trims)
    }

    /// Deletes whole chunks of batches before `offset` (never a batch at or
    /// after it), for logs Pier compacts itself.
    fn delete_records_before(
        &self,
        topic: &Arc<TopicState>,
        partition: u32,
        offset: u64,
    ) -> Result<(Publish, AdminOutcome), String> {
        let mut trims = Vec::new();
        if let Some(state) = topic.partitions.get(partition as usize) {
            let index = state.snapshot();
            let before = index
                .batches
                .iter()
                .take_while(|b| b.last_offset < offset)
                .count();
            let count = whole_chunks(&index, before);
            trims.extend(trim_of(topic.meta.id, partition, state, &index, count));
        }
        self.apply_trims(trims)
    }

    fn apply_trims(&self, trims: Vec<Trim>) -> Result<(Publish, AdminOutcome), String> {
        if trims.is_empty() {
            return Ok((
                Publish::Trim(Vec::new()),
                AdminOutcome::Retention { batches_deleted: 0 },
            ));
        }
        let txn = self.begin(true)?;
        {
            let mut log = txn
                .open_table(LOG)
                .map_err(|e| storage_text("open log", e))?;
            let mut index = txn
                .open_table(BATCH_INDEX)
                .map_err(|e| storage_text("open batch index", e))?;
            let mut parts = txn
                .open_table(PARTITIONS)
                .map_err(|e| storage_text("open partitions", e))?;
            for (id, p, state, doomed, new_start, _) in &trims {
                for base in doomed {
                    log.remove((*id, *p, *base))
                        .map_err(|e| storage_text("retention delete", e))?;
                    index
                        .remove((*id, *p, *base))
                        .map_err(|e| storage_text("retention delete index", e))?;
                }
                let end = state.offsets().1;
                parts
                    .insert((*id, *p), (*new_start, end))
                    .map_err(|e| storage_text("update log start", e))?;
            }
        }
        txn.commit().map_err(|e| storage_text("commit", e))?;
        let batches_deleted = trims.iter().map(|t| t.5).sum();
        let publish = trims
            .into_iter()
            .map(|(_, _, state, _, new_start, count)| (state, count, new_start))
            .collect();
        Ok((
            Publish::Trim(publish),
            AdminOutcome::Retention { batches_deleted },
        ))
    }

    fn publish_admin(&self, publish: Publish) {
        match publish {
            Publish::PutTopic(state) => {
                let mut catalog = self.shared.catalog.write().expect("catalog lock");
                catalog.next_topic_id = catalog.next_topic_id.max(state.meta.id + 1);
                catalog.topics.insert(state.meta.name.clone(), state);
            }
            Publish::RemoveTopic(name) => {
                let removed = self
                    .shared
                    .catalog
                    .write()
                    .expect("catalog lock")
                    .topics
                    .remove(&name);
                for p in removed.iter().flat_map(|t| t.partitions.iter()) {
                    p.mark_deleted();
                }
            }
            Publish::Trim(trims) => {
                for (state, count, new_start) in trims {
                    let mut index = state.index.write().expect("partition index lock");
                    index.drop_front(count);
                    debug_assert_eq!(index.log_start, new_start);
                }
            }
        }
        self.shared.commits.send_modify(|seq| *seq += 1);
    }
}

fn check_partition_count(count: u32) -> Result<(), TopicError> {
    if count == 0 || count > PARTITIONS_PER_TOPIC_MAX {
        return Err(TopicError::InvalidPartitionCount { count });
    }
    Ok(())
}

/// How many of the oldest batches retention removes.
/// Never splits a chunk: a stored row is deleted whole or not at all.
pub(crate) fn expired_batches(index: &PartitionIndex, config: &TopicConfig, now_ms: i64) -> usize {
    let mut size = index.size_bytes;
    let mut count = 0;
    for b in &index.batches {
        let too_old = config.retention_ms >= 0
            && b.max_timestamp_ms < now_ms.saturating_sub(config.retention_ms);
        let too_big = config.retention_bytes >= 0
            && size - u64::from(b.size_bytes) >= config.retention_bytes as u64;
        if !(too_old || too_big) {
            break;
        }
        size -= u64::from(b.size_bytes);
        count += 1;
    }
    whole_chunks(index, count)
}

/// `count` leading batches, lowered so that no storage chunk is split: a
/// row holds several batches and is deleted whole.
fn whole_chunks(index: &PartitionIndex, mut count: usize) -> usize {
    while count > 0
        && index
            .batches
            .get(count)
            .is_some_and(|next| next.chunk_base == index.batches[count - 1].chunk_base)
    {
        count -= 1;
    }
    count
}

/// Batches to delete from one partition: (topic id, partition, state, chunk
/// rows to delete, new log start, batch count).
type Trim = (u32, u32, Arc<PartitionState>, Vec<u64>, u64, usize);

/// The trim deleting the first `count` batches of a partition, if any.
fn trim_of(
    topic_id: u32,
    partition: u32,
    state: &Arc<PartitionState>,
    index: &PartitionIndex,
    count: usize,
) -> Option<Trim> {
    if count == 0 {
        return None;
    }
    let new_start = index.batches[count - 1].last_offset + 1;
    // Rows to delete: the chunks the batches live in.
    let mut doomed: Vec<u64> = index
        .batches
        .iter()
        .take(count)
        .map(|b| b.chunk_base)
        .collect();
    doomed.dedup();
    Some((topic_id, partition, state.clone(), doomed, new_start, count))
}
