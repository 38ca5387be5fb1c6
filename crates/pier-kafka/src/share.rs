//! Share groups (KIP-932) on top of Pier's queue groups.
//!
//! A share group's members all get every partition of the topics they
//! subscribe to; records are spread by acquisition, not by assignment. Each
//! (share group, topic) pair is a queue group in `pier-core`: named like
//! the share group, or `group@topic` when the group consumes more than one
//! topic. Acquired records are queue leases held by the member id; Kafka's
//! acknowledge types map to accept, release and reject; Pier adds the
//! dead-letter topic after the delivery limit.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use pier_core::queue::{QueueConfig, Queues};
use uuid::Uuid;

/// How often members should heartbeat (`group.share.heartbeat.interval.ms`).
pub const SHARE_HEARTBEAT_INTERVAL_MS: i32 = 5_000;
/// A member not heard from for this long is removed
/// (`group.share.session.timeout.ms`).
pub const SHARE_SESSION_TIMEOUT_MS: i64 = 45_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareMember {
    pub member_id: String,
    pub epoch: i32,
    pub topics: Vec<String>,
    pub client_id: String,
    pub client_host: String,
    pub rack: Option<String>,
    pub last_seen_ms: i64,
}

/// A share session: the partitions a member fetches from, and the epoch
/// its next request must carry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShareSession {
    pub epoch: i32,
    pub partitions: BTreeSet<(Uuid, i32)>,
}

#[derive(Debug, Default)]
pub struct ShareGroup {
    pub epoch: i32,
    pub members: BTreeMap<String, ShareMember>,
    pub sessions: BTreeMap<String, ShareSession>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareError {
    UnknownMemberId,
    FencedMemberEpoch,
    InvalidRequest,
    ShareSessionNotFound,
    InvalidShareSessionEpoch,
}

impl ShareError {
    pub fn code(self) -> i16 {
        use kafka_protocol::ResponseError as E;
        match self {
            ShareError::UnknownMemberId => E::UnknownMemberId.code(),
            ShareError::FencedMemberEpoch => E::FencedMemberEpoch.code(),
            ShareError::InvalidRequest => E::InvalidRequest.code(),
            ShareError::ShareSessionNotFound => E::ShareSessionNotFound.code(),
            ShareError::InvalidShareSessionEpoch => E::InvalidShareSessionEpoch.code(),
        }
    }
}

/// Every share group's members and sessions (in memory: a restart makes
/// members rejoin; their leases are in the queue groups and run out).
#[derive(Debug, Default)]
pub struct ShareGroups {
    groups: Mutex<BTreeMap<String, ShareGroup>>,
}

/// A join or heartbeat from a member.
#[derive(Debug, Clone)]
pub struct Heartbeat {
    pub group: String,
    pub member_id: String,
    pub member_epoch: i32,
    pub topics: Option<Vec<String>>,
    pub rack: Option<String>,
    pub client_id: String,
    pub client_host: String,
}

impl ShareGroups {
    /// Handles a heartbeat; returns the member's epoch (or -1 after a
    /// leave) and the topics it consumes.
    pub fn heartbeat(&self, hb: Heartbeat, now_ms: i64) -> Result<(i32, Vec<String>), ShareError> {
        let mut groups = self.groups.lock().expect("share lock");
        let group = groups.entry(hb.group.clone()).or_default();
        if hb.member_id.is_empty() {
            return Err(ShareError::UnknownMemberId);
        }
        match hb.member_epoch {
            -1 => {
                group.members.remove(&hb.member_id);
                group.sessions.remove(&hb.member_id);
                group.epoch += 1;
                Ok((-1, Vec::new()))
            }
            0 => {
                let topics = hb.topics.ok_or(ShareError::InvalidRequest)?;
                group.epoch += 1;
                let epoch = group.epoch;
                group.members.insert(
                    hb.member_id.clone(),
                    ShareMember {
                        member_id: hb.member_id,
                        epoch,
                        topics: topics.clone(),
                        client_id: hb.client_id,
                        client_host: hb.client_host,
                        rack: hb.rack,
                        last_seen_ms: now_ms,
                    },
                );
                Ok((epoch, topics))
            }
            e if e < 0 => Err(ShareError::InvalidRequest),
            e => {
                let Some(member) = group.members.get_mut(&hb.member_id) else {
                    return Err(ShareError::UnknownMemberId);
                };
                if e > member.epoch {
                    return Err(ShareError::FencedMemberEpoch);
                }
                member.last_seen_ms = now_ms;
                if let Some(topics) = hb.topics
                    && topics != member.topics
                {
                    member.topics = topics;
                    group.epoch += 1;
                    member.epoch = group.epoch;
                }
                Ok((member.epoch, member.topics.clone()))
            }
        }
    }

    pub fn is_member(&self, group: &str, member: &str) -> bool {
        self.groups
            .lock()
            .expect("share lock")
            .get(group)
            .is_some_and(|g| g.members.contains_key(member))
    }

    /// Opens, continues or closes a member's share session. `epoch` 0
    /// starts a new one with `add`; a positive epoch must match; -1 closes
    /// it. Returns the session's partitions (empty once closed).
    pub fn session(
        &self,
        group: &str,
        member: &str,
        epoch: i32,
        add: &[(Uuid, i32)],
        forget: &[(Uuid, i32)],
    ) -> Result<BTreeSet<(Uuid, i32)>, ShareError> {
        let mut groups = self.groups.lock().expect("share lock");
        let g = groups.entry(group.to_owned()).or_default();
        match epoch {
            0 => {
                let session = ShareSession {
                    epoch: 1,
                    partitions: add.iter().copied().collect(),
                };
                let parts = session.partitions.clone();
                g.sessions.insert(member.to_owned(), session);
                Ok(parts)
            }
            -1 => {
                g.sessions.remove(member);
                Ok(BTreeSet::new())
            }
            e => {
                let Some(session) = g.sessions.get_mut(member) else {
                    return Err(ShareError::ShareSessionNotFound);
                };
                if session.epoch != e {
                    return Err(ShareError::InvalidShareSessionEpoch);
                }
                session.epoch = session.epoch.wrapping_add(1).max(1);
                session.partitions.extend(add.iter().copied());
                for f in forget {
                    session.partitions.remove(f);
                }
                Ok(session.partitions.clone())
            }
        }
    }

    /// Removes members silent for longer than the session timeout; returns
    /// `(group, member, topics)` so their leases can be released.
    pub fn expire(&self, now_ms: i64) -> Vec<(String, String, Vec<String>)> {
        let mut out = Vec::new();
        let mut groups = self.groups.lock().expect("share lock");
        for (name, g) in groups.iter_mut() {
            let gone: Vec<String> = g
                .members
                .values()
                .filter(|m| now_ms - m.last_seen_ms > SHARE_SESSION_TIMEOUT_MS)
                .map(|m| m.member_id.clone())
                .collect();
            for id in gone {
                if let Some(m) = g.members.remove(&id) {
                    g.sessions.remove(&id);
                    g.epoch += 1;
                    out.push((name.clone(), id, m.topics));
                }
            }
        }
        out
    }

    pub fn describe(&self, group: &str) -> Option<(i32, Vec<ShareMember>)> {
        let groups = self.groups.lock().expect("share lock");
        let g = groups.get(group)?;
        Some((g.epoch, g.members.values().cloned().collect()))
    }

    pub fn group_ids(&self) -> Vec<String> {
        self.groups
            .lock()
            .expect("share lock")
            .iter()
            .filter(|(_, g)| !g.members.is_empty())
            .map(|(k, _)| k.clone())
            .collect()
    }
}

/// The queue group holding `group`'s records of `topic`, created with
/// Kafka's share-group defaults (30 s lock, 5 deliveries, no backoff) and
/// Pier's dead-letter topic if it does not exist yet.
pub async fn queue_for(queues: &Queues, group: &str, topic: &str) -> Result<String, String> {
    let name = match queues.config(group) {
        None => group.to_owned(),
        Some(c) if c.topic == topic => group.to_owned(),
        Some(_) => format!("{group}@{topic}"),
    };
    if queues.config(&name).is_none() {
        let config = QueueConfig {
            backoff_base_ms: 0,
            backoff_max_ms: 0,
            ..QueueConfig::new(topic)
        };
        queues
            .configure(&name, config)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(name)
}

/// The name of the topic with Kafka topic id `id`.
pub fn topic_by_id(store: &pier_core::Store, id: Uuid) -> Option<String> {
    store
        .topic_names()
        .into_iter()
        .find(|n| store.describe_topic(n).is_some_and(|d| d.meta.uuid == id))
}
