//! Consumer groups with the consumer rebalance protocol (KIP-848,
//! `group.protocol=consumer`): members heartbeat, the coordinator computes
//! the assignment and hands it over incrementally.
//!
//! Each member heartbeats with its epoch. The group epoch grows whenever
//! membership, a subscription or a subscribed topic's partition count
//! changes; then the target assignment is recomputed by the server-side
//! assignor. A member moves towards its target in two steps: first it is
//! told to give up the partitions it must lose (its epoch stays), and
//! once a heartbeat's owned partitions show it let go, it takes the new
//! epoch and every partition of its target that nobody else still holds.
//! So a partition is never owned by two members at once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use super::MEMBERS_PER_GROUP_MAX;
use super::assignors::{self, TopicPartition};
use crate::clock::SharedClock;

/// `group.consumer.heartbeat.interval.ms`: Kafka's is 5 s; a workbench
/// wants hand-overs to show quickly (`docs/kafka.md`).
pub const CONSUMER_HEARTBEAT_INTERVAL_MS: i32 = 1_000;
/// `group.consumer.session.timeout.ms`, as Kafka.
pub const CONSUMER_SESSION_TIMEOUT_MS: i64 = 45_000;
/// The assignor used when a member names none.
pub const DEFAULT_ASSIGNOR: &str = "uniform";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsumerGroupError {
    #[error("unknown member {0:?}")]
    UnknownMemberId(String),
    #[error("member epoch {got} is fenced: the member's epoch is {current}; rejoin")]
    FencedMemberEpoch { current: i32, got: i32 },
    #[error("member epoch {got} is stale: the member's epoch is {current}")]
    StaleMemberEpoch { current: i32, got: i32 },
    #[error("static member {0:?} is still held by another member")]
    UnreleasedInstanceId(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("unsupported assignor {0:?}: Pier offers uniform and range")]
    UnsupportedAssignor(String),
    #[error("invalid subscription regex {0:?}: {1}")]
    InvalidRegex(String, String),
    #[error("the group has {max} members already", max = MEMBERS_PER_GROUP_MAX)]
    GroupFull,
}

/// A ConsumerGroupHeartbeat, with topic ids already turned into names.
#[derive(Debug, Clone, Default)]
pub struct ConsumerHeartbeat {
    pub group: String,
    pub member_id: String,
    pub member_epoch: i32,
    pub instance_id: Option<String>,
    pub rack: Option<String>,
    pub rebalance_timeout_ms: i32,
    /// `None`: unchanged since the last heartbeat.
    pub topics: Option<Vec<String>>,
    pub regex: Option<String>,
    pub assignor: Option<String>,
    /// What the member owns now (`None`: unchanged).
    pub owned: Option<Vec<TopicPartition>>,
    pub client_id: String,
    pub client_host: String,
}

/// The answer: the member's id and epoch, and its assignment when it
/// changed since the last answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerAnswer {
    pub member_id: String,
    pub member_epoch: i32,
    pub assignment: Option<BTreeSet<TopicPartition>>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConsumerMemberDescription {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub rack: Option<String>,
    pub member_epoch: i32,
    pub client_id: String,
    pub client_host: String,
    pub topics: Vec<String>,
    pub regex: Option<String>,
    pub assigned: Vec<TopicPartition>,
    /// Told to give these up, not yet confirmed.
    pub revoking: Vec<TopicPartition>,
    pub target: Vec<TopicPartition>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConsumerGroupDescription {
    pub group_id: String,
    /// `Empty`, `Reconciling` or `Stable`, as Kafka names them.
    pub state: &'static str,
    pub group_epoch: i32,
    pub assignment_epoch: i32,
    pub assignor: String,
    pub members: Vec<ConsumerMemberDescription>,
}

#[derive(Debug, Clone, Default)]
struct Member {
    epoch: i32,
    previous_epoch: i32,
    instance_id: Option<String>,
    rack: Option<String>,
    client_id: String,
    client_host: String,
    topics: Vec<String>,
    regex: Option<String>,
    rebalance_timeout_ms: i32,
    assigned: BTreeSet<TopicPartition>,
    revoking: BTreeSet<TopicPartition>,
    /// Since when it holds partitions it was told to give up.
    revoking_since_ms: Option<i64>,
    /// The assignment last sent (to send only changes).
    sent: Option<BTreeSet<TopicPartition>>,
    last_seen_ms: i64,
}

#[derive(Debug, Default)]
struct Group {
    epoch: i32,
    assignment_epoch: i32,
    assignor: String,
    members: BTreeMap<String, Member>,
    target: BTreeMap<String, BTreeSet<TopicPartition>>,
    /// Partition counts the target was computed for.
    partitions: BTreeMap<String, u32>,
}

/// Every consumer group of the new protocol (in memory: after a restart
/// members get UNKNOWN_MEMBER_ID and rejoin; offsets are in the store).
#[derive(Debug)]
pub struct ConsumerGroups {
    groups: Mutex<BTreeMap<String, Group>>,
    clock: SharedClock,
}

impl ConsumerGroups {
    pub fn new(clock: SharedClock) -> Self {
        Self {
            groups: Mutex::new(BTreeMap::new()),
            clock,
        }
    }

    /// Handles a heartbeat. `topics` is every topic and its partition count.
    pub fn heartbeat(
        &self,
        hb: ConsumerHeartbeat,
        topics: &BTreeMap<String, u32>,
    ) -> Result<ConsumerAnswer, ConsumerGroupError> {
        let now = self.clock.now_ms();
        if let Some(a) = hb.assignor.as_deref().filter(|a| !a.is_empty())
            && !assignors::ASSIGNORS.contains(&a)
        {
            return Err(ConsumerGroupError::UnsupportedAssignor(a.to_owned()));
        }
        if let Some(r) = &hb.regex {
            regex::Regex::new(r)
                .map_err(|e| ConsumerGroupError::InvalidRegex(r.clone(), e.to_string()))?;
        }
        let mut groups = self.groups.lock().expect("consumer groups lock");
        let group = groups.entry(hb.group.clone()).or_default();
        let member_id = match hb.member_epoch {
            0 => join(group, &hb, now)?,
            -1 | -2 => {
                if group.members.remove(&hb.member_id).is_some() {
                    group.epoch += 1;
                }
                recompute(group, topics);
                return Ok(ConsumerAnswer {
                    member_id: hb.member_id,
                    member_epoch: hb.member_epoch,
                    assignment: None,
                });
            }
            e if e < 0 => {
                return Err(ConsumerGroupError::InvalidRequest(format!(
                    "member epoch {e} is not valid"
                )));
            }
            e => stay(group, &hb, e, now)?,
        };
        recompute(group, topics);
        Ok(reconcile(group, &member_id, now))
    }

    /// Checks an OffsetCommit (or a fetch of offsets) from `member` at
    /// `epoch`. `Ok(false)`: not a consumer group; the classic rules apply.
    pub fn validate_commit(
        &self,
        group: &str,
        member: &str,
        epoch: i32,
    ) -> Result<bool, ConsumerGroupError> {
        let groups = self.groups.lock().expect("consumer groups lock");
        let Some(g) = groups.get(group).filter(|g| !g.members.is_empty()) else {
            return Ok(false);
        };
        let Some(m) = g.members.get(member) else {
            return Err(ConsumerGroupError::UnknownMemberId(member.to_owned()));
        };
        match epoch.cmp(&m.epoch) {
            std::cmp::Ordering::Equal => Ok(true),
            std::cmp::Ordering::Greater => Err(ConsumerGroupError::FencedMemberEpoch {
                current: m.epoch,
                got: epoch,
            }),
            std::cmp::Ordering::Less => Err(ConsumerGroupError::StaleMemberEpoch {
                current: m.epoch,
                got: epoch,
            }),
        }
    }

    /// Whether any consumer group has members (nothing to tick otherwise).
    pub fn has_members(&self) -> bool {
        self.groups
            .lock()
            .expect("consumer groups lock")
            .values()
            .any(|g| !g.members.is_empty())
    }

    /// Whether `group` is a consumer group with members.
    pub fn is_active(&self, group: &str) -> bool {
        self.groups
            .lock()
            .expect("consumer groups lock")
            .get(group)
            .is_some_and(|g| !g.members.is_empty())
    }

    /// Removes members silent for the session timeout and members that did
    /// not give up partitions within their rebalance timeout. Returns
    /// `(group, member)` of each removed. Call it every ~100 ms.
    pub fn tick(&self, topics: &BTreeMap<String, u32>) -> Vec<(String, String)> {
        let now = self.clock.now_ms();
        let mut out = Vec::new();
        let mut groups = self.groups.lock().expect("consumer groups lock");
        for (name, g) in groups.iter_mut() {
            let gone: Vec<String> = g
                .members
                .iter()
                .filter(|(_, m)| {
                    now - m.last_seen_ms > CONSUMER_SESSION_TIMEOUT_MS
                        || m.revoking_since_ms.is_some_and(|since| {
                            now - since > i64::from(m.rebalance_timeout_ms.max(1_000))
                        })
                })
                .map(|(id, _)| id.clone())
                .collect();
            for id in gone {
                tracing::info!(group = %name, member = %id, "consumer group member removed");
                g.members.remove(&id);
                g.epoch += 1;
                out.push((name.clone(), id));
            }
            recompute(g, topics);
        }
        out
    }

    pub fn describe(&self, group: &str) -> Option<ConsumerGroupDescription> {
        let groups = self.groups.lock().expect("consumer groups lock");
        groups.get(group).map(|g| describe(group, g))
    }

    pub fn list(&self) -> Vec<ConsumerGroupDescription> {
        let groups = self.groups.lock().expect("consumer groups lock");
        groups.iter().map(|(n, g)| describe(n, g)).collect()
    }

    /// Forgets an empty group; `false` if it has members.
    pub fn delete(&self, group: &str) -> bool {
        let mut groups = self.groups.lock().expect("consumer groups lock");
        if groups.get(group).is_some_and(|g| !g.members.is_empty()) {
            return false;
        }
        groups.remove(group);
        true
    }
}

/// Epoch 0: a new member (or one starting over). Returns its id.
fn join(group: &mut Group, hb: &ConsumerHeartbeat, now: i64) -> Result<String, ConsumerGroupError> {
    if hb.topics.is_none() && hb.regex.is_none() {
        return Err(ConsumerGroupError::InvalidRequest(
            "a joining member must subscribe to topic names or a regex".into(),
        ));
    }
    let id = if hb.member_id.is_empty() {
        uuid::Uuid::new_v4().to_string()
    } else {
        hb.member_id.clone()
    };
    if let Some(instance) = &hb.instance_id
        && group
            .members
            .iter()
            .any(|(other, m)| *other != id && m.instance_id.as_ref() == Some(instance))
    {
        return Err(ConsumerGroupError::UnreleasedInstanceId(instance.clone()));
    }
    if !group.members.contains_key(&id) && group.members.len() >= MEMBERS_PER_GROUP_MAX {
        return Err(ConsumerGroupError::GroupFull);
    }
    // Starting over drops whatever the member held: it owns nothing now.
    group.members.insert(
        id.clone(),
        Member {
            instance_id: hb.instance_id.clone(),
            rack: hb.rack.clone(),
            client_id: hb.client_id.clone(),
            client_host: hb.client_host.clone(),
            topics: hb.topics.clone().unwrap_or_default(),
            regex: hb.regex.clone(),
            rebalance_timeout_ms: hb.rebalance_timeout_ms,
            last_seen_ms: now,
            ..Member::default()
        },
    );
    if let Some(a) = hb.assignor.as_deref().filter(|a| !a.is_empty()) {
        group.assignor = a.to_owned();
    }
    group.epoch += 1;
    Ok(id)
}

/// A positive epoch: an existing member heartbeating.
fn stay(
    group: &mut Group,
    hb: &ConsumerHeartbeat,
    epoch: i32,
    now: i64,
) -> Result<String, ConsumerGroupError> {
    let Some(m) = group.members.get_mut(&hb.member_id) else {
        return Err(ConsumerGroupError::UnknownMemberId(hb.member_id.clone()));
    };
    // The previous epoch is fine while the answer that moved it on may
    // have been lost, as long as the member claims nothing new.
    let owned_ok = hb.owned.as_ref().is_none_or(|o| {
        o.iter()
            .all(|tp| m.assigned.contains(tp) || m.revoking.contains(tp))
    });
    if epoch != m.epoch && !(epoch == m.previous_epoch && owned_ok) {
        return Err(ConsumerGroupError::FencedMemberEpoch {
            current: m.epoch,
            got: epoch,
        });
    }
    m.last_seen_ms = now;
    if epoch != m.epoch {
        // It missed the answer: send the assignment again.
        m.sent = None;
    }
    let mut changed = false;
    if let Some(topics) = &hb.topics
        && *topics != m.topics
    {
        m.topics = topics.clone();
        changed = true;
    }
    if hb.regex.is_some() && hb.regex != m.regex {
        m.regex = hb.regex.clone();
        changed = true;
    }
    if let Some(owned) = &hb.owned {
        let owned: BTreeSet<&TopicPartition> = owned.iter().collect();
        m.revoking.retain(|tp| owned.contains(tp));
        if m.revoking.is_empty() {
            m.revoking_since_ms = None;
        }
    }
    if changed {
        group.epoch += 1;
    }
    Ok(hb.member_id.clone())
}

/// What each member subscribes to, as topic names that exist.
fn subscriptions(
    group: &Group,
    topics: &BTreeMap<String, u32>,
) -> BTreeMap<String, BTreeSet<String>> {
    group
        .members
        .iter()
        .map(|(id, m)| {
            let re = m.regex.as_deref().and_then(|r| regex::Regex::new(r).ok());
            let names = topics
                .keys()
                .filter(|t| {
                    m.topics.contains(t)
                        // Internal topics are never matched by a regex, as Kafka.
                        || (!t.starts_with("__") && re.as_ref().is_some_and(|re| re.is_match(t)))
                })
                .cloned()
                .collect();
            (id.clone(), names)
        })
        .collect()
}

/// Recomputes the target assignment when the group epoch moved past it or
/// a subscribed topic's partition count changed.
fn recompute(group: &mut Group, topics: &BTreeMap<String, u32>) {
    let subs = subscriptions(group, topics);
    let wanted: BTreeSet<&String> = subs.values().flatten().collect();
    let partitions: BTreeMap<String, u32> = topics
        .iter()
        .filter(|(t, _)| wanted.contains(t))
        .map(|(t, n)| (t.clone(), *n))
        .collect();
    if partitions != group.partitions {
        group.epoch += 1;
    }
    if group.epoch == group.assignment_epoch {
        return;
    }
    let current: BTreeMap<String, BTreeSet<TopicPartition>> = group
        .members
        .iter()
        .map(|(id, m)| (id.clone(), m.assigned.clone()))
        .collect();
    let assignor = if group.assignor.is_empty() {
        DEFAULT_ASSIGNOR
    } else {
        group.assignor.as_str()
    };
    group.target = assignors::assign(assignor, &subs, &partitions, &current);
    group.partitions = partitions;
    group.assignment_epoch = group.epoch;
}

/// Moves `member` towards its target and builds its answer.
fn reconcile(group: &mut Group, member: &str, now: i64) -> ConsumerAnswer {
    let target = group.target.get(member).cloned().unwrap_or_default();
    // Held by others: assigned, or not yet confirmed given up.
    let taken: BTreeSet<TopicPartition> = group
        .members
        .iter()
        .filter(|(id, _)| id.as_str() != member)
        .flat_map(|(_, m)| m.assigned.iter().chain(m.revoking.iter()).cloned())
        .collect();
    let epoch = group.assignment_epoch;
    let m = group.members.get_mut(member).expect("member just seen");
    let lose: BTreeSet<TopicPartition> = m.assigned.difference(&target).cloned().collect();
    if !lose.is_empty() {
        m.assigned.retain(|tp| !lose.contains(tp));
        m.revoking.extend(lose);
        m.revoking_since_ms.get_or_insert(now);
    }
    if m.revoking.is_empty() && m.epoch != epoch {
        m.previous_epoch = m.epoch;
        m.epoch = epoch;
    }
    if m.revoking.is_empty() {
        let gain: Vec<TopicPartition> = target
            .difference(&m.assigned)
            .filter(|tp| !taken.contains(*tp))
            .cloned()
            .collect();
        m.assigned.extend(gain);
    }
    let assignment = (m.sent.as_ref() != Some(&m.assigned)).then(|| m.assigned.clone());
    if assignment.is_some() {
        m.sent = Some(m.assigned.clone());
    }
    ConsumerAnswer {
        member_id: member.to_owned(),
        member_epoch: m.epoch,
        assignment,
    }
}

fn describe(name: &str, g: &Group) -> ConsumerGroupDescription {
    let reconciling = g.members.iter().any(|(id, m)| {
        !m.revoking.is_empty() || g.target.get(id).is_some_and(|t| *t != m.assigned)
    });
    let state = if g.members.is_empty() {
        "Empty"
    } else if reconciling {
        "Reconciling"
    } else {
        "Stable"
    };
    ConsumerGroupDescription {
        group_id: name.to_owned(),
        state,
        group_epoch: g.epoch,
        assignment_epoch: g.assignment_epoch,
        assignor: if g.assignor.is_empty() {
            DEFAULT_ASSIGNOR.to_owned()
        } else {
            g.assignor.clone()
        },
        members: g
            .members
            .iter()
            .map(|(id, m)| ConsumerMemberDescription {
                member_id: id.clone(),
                instance_id: m.instance_id.clone(),
                rack: m.rack.clone(),
                member_epoch: m.epoch,
                client_id: m.client_id.clone(),
                client_host: m.client_host.clone(),
                topics: m.topics.clone(),
                regex: m.regex.clone(),
                assigned: m.assigned.iter().cloned().collect(),
                revoking: m.revoking.iter().cloned().collect(),
                target: g.target.get(id).into_iter().flatten().cloned().collect(),
            })
            .collect(),
    }
}

#[cfg(test)]
#[path = "consumer_tests.rs"]
mod tests;
