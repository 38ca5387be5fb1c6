//! Consumer groups: members, assignments, committed offsets and lag.

use pier_core::store::{AdminCommand, CommittedOffset};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::{Workbench, WorkbenchError};

/// Partitions of one topic given to a member.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct MemberAssignment {
    pub topic: String,
    pub partitions: Vec<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct GroupMember {
    pub member_id: String,
    pub client_id: String,
    pub client_host: String,
    /// What the leader assigned (empty while rebalancing, or when the group
    /// does not use Kafka's consumer protocol); for a KIP-848 group, what
    /// the member owns now.
    pub assignment: Vec<MemberAssignment>,
    /// KIP-848 groups: the member's epoch (`None` in a classic group).
    pub member_epoch: Option<i32>,
    /// KIP-848 groups: what the member is headed for (it differs from
    /// `assignment` while partitions are handed over).
    pub target: Vec<MemberAssignment>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct PartitionLag {
    pub topic: String,
    pub partition: u32,
    pub committed_offset: i64,
    pub high_watermark: u64,
    /// Records written but not yet consumed (committed) by the group.
    pub lag: u64,
}

/// A consumer group: its members (if any are connected) and, per committed
/// partition, how far behind it is.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct GroupSummary {
    pub group_id: String,
    /// Kafka's name: `Empty`, `PreparingRebalance`, `CompletingRebalance`,
    /// `Stable` or `Dead` (classic); `Empty`, `Reconciling` or `Stable`
    /// (KIP-848).
    pub state: String,
    /// `classic` (JoinGroup/SyncGroup) or `consumer` (KIP-848,
    /// `group.protocol=consumer`).
    pub protocol: String,
    /// The generation (classic) or the group epoch (KIP-848).
    pub generation: i32,
    pub members: Vec<GroupMember>,
    pub lag: Vec<PartitionLag>,
    pub total_lag: u64,
}

/// One partition's offset to commit for a group.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct OffsetToCommit {
    pub topic: String,
    pub partition: u32,
    /// The next offset the group will read (Kafka's convention).
    pub offset: u64,
}

/// Offsets to commit for a group that has no Kafka members connected.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct CommitOffsets {
    #[schema(min_items = 1)]
    pub offsets: Vec<OffsetToCommit>,
}

/// `(topic, partition)` pairs as one entry per topic.
fn by_topic(tps: &[(String, u32)]) -> Vec<MemberAssignment> {
    let mut out: Vec<MemberAssignment> = Vec::new();
    for (topic, p) in tps {
        match out.last_mut() {
            Some(a) if a.topic == *topic => a.partitions.push(*p),
            _ => out.push(MemberAssignment {
                topic: topic.clone(),
                partitions: vec![*p],
            }),
        }
    }
    out
}

fn decode_assignment(bytes: &bytes::Bytes) -> Vec<MemberAssignment> {
    pier_core::groups::assigned_partitions(bytes)
        .into_iter()
        .map(|(topic, partitions)| MemberAssignment { topic, partitions })
        .collect()
}

impl Workbench {
    pub fn groups(&self) -> Vec<GroupSummary> {
        let live = self.broker().groups.list();
        let mut ids: Vec<String> = live.iter().map(|g| g.group_id.clone()).collect();
        let consumer = self.broker().consumer_groups.list();
        for g in consumer
            .iter()
            .map(|g| g.group_id.clone())
            .chain(self.store().groups_with_offsets())
        {
            if !ids.contains(&g) {
                ids.push(g);
            }
        }
        ids.sort();
        ids.into_iter()
            .map(|id| {
                let described = live.iter().find(|g| g.group_id == id);
                let mut s = self.summarize(id.clone(), described);
                if described.is_none()
                    && let Some(c) = consumer.iter().find(|g| g.group_id == id)
                {
                    consumer_protocol(&mut s, c);
                }
                s
            })
            .collect()
    }

    pub fn group(&self, group_id: &str) -> Result<GroupSummary, WorkbenchError> {
        let live = self.broker().groups.describe(group_id);
        let consumer = self.broker().consumer_groups.describe(group_id);
        if live.is_none()
            && consumer.is_none()
            && self.store().committed_offsets(group_id).is_empty()
        {
            return Err(WorkbenchError::not_found(format!(
                "unknown group {group_id:?}"
            )));
        }
        let mut s = self.summarize(group_id.to_owned(), live.as_ref());
        if live.is_none()
            && let Some(c) = &consumer
        {
            consumer_protocol(&mut s, c);
        }
        Ok(s)
    }

    fn summarize(
        &self,
        id: String,
        described: Option<&pier_core::groups::GroupDescription>,
    ) -> GroupSummary {
        let lag: Vec<PartitionLag> = self
            .store()
            .committed_offsets(&id)
            .into_iter()
            .filter_map(|((topic, partition), c)| {
                let (_, hw) = self.store().offsets(&topic, partition).ok()?;
                Some(PartitionLag {
                    lag: hw.saturating_sub(u64::try_from(c.offset).unwrap_or(0)),
                    topic,
                    partition,
                    committed_offset: c.offset,
                    high_watermark: hw,
                })
            })
            .collect();
        GroupSummary {
            state: described
                .map_or("Empty", |g| g.state.kafka_name())
                .to_owned(),
            protocol: "classic".to_owned(),
            generation: described.map_or(0, |g| g.generation_id),
            members: described
                .map(|g| {
                    g.members
                        .iter()
                        .map(|m| GroupMember {
                            member_id: m.member_id.clone(),
                            client_id: m.client_id.clone(),
                            client_host: m.client_host.clone(),
                            assignment: decode_assignment(&m.assignment),
                            member_epoch: None,
                            target: Vec::new(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            total_lag: lag.iter().map(|l| l.lag).sum(),
            lag,
            group_id: id,
        }
    }

    /// Commits offsets the way a Kafka client outside any generation does:
    /// refused while Kafka members are connected, validated as a whole.
    pub async fn commit_offsets(
        &self,
        group_id: &str,
        commit: CommitOffsets,
    ) -> Result<GroupSummary, WorkbenchError> {
        if group_id.is_empty() || group_id.len() > 255 {
            return Err(WorkbenchError::invalid("group ids are 1–255 characters"));
        }
        if commit.offsets.is_empty() {
            return Err(WorkbenchError::invalid("no offsets to commit"));
        }
        if self.broker().consumer_groups.is_active(group_id) {
            return Err(WorkbenchError::conflict(format!(
                "group {group_id:?} has active members: stop its Kafka consumers, or let them commit"
            )));
        }
        self.broker()
            .groups
            .validate_commit(group_id, "", -1)
            .map_err(|e| {
                WorkbenchError::conflict(format!(
                    "{e}: stop its Kafka consumers, or let them commit"
                ))
            })?;
        let mut offsets = Vec::with_capacity(commit.offsets.len());
        for o in commit.offsets {
            let (_, hw) = self
                .store()
                .offsets(&o.topic, o.partition)
                .map_err(|e| WorkbenchError::not_found(e.to_string()))?;
            if o.offset > hw || o.offset > crate::messages::OFFSET_MAX {
                return Err(WorkbenchError::invalid(format!(
                    "offset {} is past the end of {}/{} (high watermark {hw})",
                    o.offset, o.topic, o.partition
                )));
            }
            offsets.push((
                o.topic,
                o.partition,
                CommittedOffset {
                    offset: o.offset as i64,
                    metadata: String::new(),
                },
            ));
        }
        self.store()
            .admin(AdminCommand::CommitOffsets {
                group: group_id.to_owned(),
                offsets,
            })
            .await?;
        self.group(group_id)
    }

    /// Forgets a group and its offsets; refused while members are connected.
    pub async fn delete_group(&self, group_id: &str) -> Result<(), WorkbenchError> {
        self.group(group_id)?;
        self.broker()
            .groups
            .delete(group_id)
            .map_err(|e| WorkbenchError::conflict(e.to_string()))?;
        if !self.broker().consumer_groups.delete(group_id) {
            return Err(WorkbenchError::conflict(format!(
                "group {group_id:?} has active members"
            )));
        }
        self.store()
            .admin(AdminCommand::DeleteGroupOffsets {
                group: group_id.to_owned(),
            })
            .await?;
        Ok(())
    }
}

/// A KIP-848 group's state, epoch and members over a summary.
fn consumer_protocol(s: &mut GroupSummary, c: &pier_core::groups::ConsumerGroupDescription) {
    s.protocol = "consumer".to_owned();
    s.state = c.state.to_owned();
    s.generation = c.group_epoch;
    s.members = c
        .members
        .iter()
        .map(|m| GroupMember {
            member_id: m.member_id.clone(),
            client_id: m.client_id.clone(),
            client_host: m.client_host.clone(),
            assignment: by_topic(&m.assigned),
            member_epoch: Some(m.member_epoch),
            target: by_topic(&m.target),
        })
        .collect();
}
