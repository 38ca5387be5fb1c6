//! The group coordinator's transitions.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;
use tokio::sync::oneshot;

use super::state::{Group, JoinRequest, JoinResponse, JoinedMember, Member};
use super::{
    GroupDescription, GroupError, GroupState, MEMBERS_PER_GROUP_MAX, PENDING_MEMBER_TIMEOUT_MS,
    SESSION_TIMEOUT_MAX_MS, SESSION_TIMEOUT_MIN_MS,
};
use crate::clock::SharedClock;

#[derive(Debug)]
pub struct Coordinator {
    groups: Mutex<HashMap<String, Group>>,
    clock: SharedClock,
}

impl Coordinator {
    pub fn new(clock: SharedClock) -> Self {
        Self {
            groups: Mutex::new(HashMap::new()),
            clock,
        }
    }

    fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// JoinGroup. Waits until the rebalance completes (every member rejoined
    /// or the rebalance timeout passed, see [`Coordinator::tick`]).
    pub async fn join(&self, req: JoinRequest) -> Result<JoinResponse, GroupError> {
        let rx = self.begin_join(req)?;
        rx.await.unwrap_or(Err(GroupError::RebalanceInProgress))
    }

    fn begin_join(
        &self,
        req: JoinRequest,
    ) -> Result<oneshot::Receiver<Result<JoinResponse, GroupError>>, GroupError> {
        if req.group_id.is_empty() {
            return Err(GroupError::InvalidGroupId);
        }
        if !(SESSION_TIMEOUT_MIN_MS..=SESSION_TIMEOUT_MAX_MS).contains(&req.session_timeout_ms) {
            return Err(GroupError::InvalidSessionTimeout(req.session_timeout_ms));
        }
        let now = self.now();
        let mut groups = self.groups.lock().expect("groups lock");
        let group = groups
            .entry(req.group_id.clone())
            .or_insert_with(|| Group::new(&req.group_id));
        if group.state != GroupState::Empty
            && (group.protocol_type != req.protocol_type
                || !req.protocols.iter().any(|(name, _)| {
                    group
                        .members
                        .values()
                        .all(|m| m.protocols.iter().any(|(n, _)| n == name))
                }))
        {
            return Err(GroupError::InconsistentGroupProtocol);
        }
        let member_id = if req.member_id.is_empty() {
            let id = format!("{}-{}", req.client_id, uuid::Uuid::new_v4());
            if req.require_known_member_id {
                group.pending.insert(id.clone(), now);
                return Err(GroupError::MemberIdRequired(id));
            }
            id
        } else if group.members.contains_key(&req.member_id)
            || group.pending.remove(&req.member_id).is_some()
        {
            req.member_id.clone()
        } else {
            return Err(GroupError::UnknownMemberId(req.member_id));
        };
        if !group.members.contains_key(&member_id) && group.members.len() >= MEMBERS_PER_GROUP_MAX {
            return Err(GroupError::GroupFull);
        }
        let (tx, rx) = oneshot::channel();
        let member = group
            .members
            .entry(member_id.clone())
            .or_insert_with(|| Member {
                id: member_id.clone(),
                group_instance_id: req.group_instance_id.clone(),
                client_id: req.client_id.clone(),
                client_host: req.client_host.clone(),
                session_timeout_ms: 0,
                rebalance_timeout_ms: 0,
                protocols: Vec::new(),
                assignment: Bytes::new(),
                last_seen_ms: now,
                awaiting_join: None,
                awaiting_sync: None,
            });
        member.session_timeout_ms = i64::from(req.session_timeout_ms);
        member.rebalance_timeout_ms =
            i64::from(req.rebalance_timeout_ms.max(req.session_timeout_ms));
        member.protocols = req.protocols;
        member.last_seen_ms = now;
        if let Some(old) = member.awaiting_join.replace(tx) {
            let _ = old.send(Err(GroupError::RebalanceInProgress));
        }
        group.protocol_type = req.protocol_type;
        if group.state != GroupState::PreparingRebalance {
            start_rebalance(group, now);
        }
        maybe_complete_join(group, now);
        Ok(rx)
    }

    /// SyncGroup. The leader brings assignments; everyone waits for them.
    pub async fn sync(
        &self,
        group_id: &str,
        member_id: &str,
        generation: i32,
        assignments: Vec<(String, Bytes)>,
    ) -> Result<Bytes, GroupError> {
        let rx = {
            let now = self.now();
            let mut groups = self.groups.lock().expect("groups lock");
            let group = groups
                .get_mut(group_id)
                .ok_or_else(|| GroupError::UnknownMemberId(member_id.to_owned()))?;
            check_member(group, member_id, generation)?;
            match group.state {
                GroupState::PreparingRebalance | GroupState::Empty => {
                    return Err(GroupError::RebalanceInProgress);
                }
                GroupState::Stable => {
                    let member = group.members.get_mut(member_id).expect("checked");
                    member.last_seen_ms = now;
                    return Ok(member.assignment.clone());
                }
                GroupState::CompletingRebalance => {}
            }
            let (tx, rx) = oneshot::channel();
            let member = group.members.get_mut(member_id).expect("checked");
            member.last_seen_ms = now;
            member.awaiting_sync = Some(tx);
            if group.leader.as_deref() == Some(member_id) {
                let mut assigned: HashMap<String, Bytes> = assignments.into_iter().collect();
                for m in group.members.values_mut() {
                    m.assignment = assigned.remove(&m.id).unwrap_or_default();
                    if let Some(reply) = m.awaiting_sync.take() {
                        let _ = reply.send(Ok(m.assignment.clone()));
                    }
                }
                group.state = GroupState::Stable;
            }
            rx
        };
        rx.await.unwrap_or(Err(GroupError::RebalanceInProgress))
    }

    pub fn heartbeat(
        &self,
        group_id: &str,
        member_id: &str,
        generation: i32,
    ) -> Result<(), GroupError> {
        let now = self.now();
        let mut groups = self.groups.lock().expect("groups lock");
        let group = groups
            .get_mut(group_id)
            .ok_or_else(|| GroupError::UnknownMemberId(member_id.to_owned()))?;
        check_member(group, member_id, generation)?;
        group
            .members
            .get_mut(member_id)
            .expect("checked")
            .last_seen_ms = now;
        match group.state {
            GroupState::PreparingRebalance => Err(GroupError::RebalanceInProgress),
            _ => Ok(()),
        }
    }

    /// LeaveGroup for each member id; the rest rebalance.
    pub fn leave(&self, group_id: &str, member_ids: &[String]) -> Vec<Result<(), GroupError>> {
        let now = self.now();
        let mut groups = self.groups.lock().expect("groups lock");
        let Some(group) = groups.get_mut(group_id) else {
            return member_ids
                .iter()
                .map(|m| Err(GroupError::UnknownMemberId(m.clone())))
                .collect();
        };
        let results = member_ids
            .iter()
            .map(|id| match group.members.remove(id) {
                Some(m) => {
                    fail_waiters(m, GroupError::UnknownMemberId(id.clone()));
                    Ok(())
                }
                None => Err(GroupError::UnknownMemberId(id.clone())),
            })
            .collect();
        membership_changed(group, now);
        results
    }

    /// Checks that an offset commit comes from a current member, or from a
    /// client outside any generation (`generation < 0`, empty member id) of
    /// a group without members.
    pub fn validate_commit(
        &self,
        group_id: &str,
        member_id: &str,
        generation: i32,
    ) -> Result<(), GroupError> {
        let groups = self.groups.lock().expect("groups lock");
        let Some(group) = groups.get(group_id) else {
            return if generation < 0 {
                Ok(())
            } else {
                Err(GroupError::IllegalGeneration {
                    current: -1,
                    got: generation,
                })
            };
        };
        if generation < 0 && member_id.is_empty() {
            return if group.members.is_empty() {
                Ok(())
            } else {
                Err(GroupError::NonEmptyGroup(group_id.to_owned()))
            };
        }
        check_member(group, member_id, generation)?;
        // As Kafka: a member of the current generation may commit while
        // the group prepares a rebalance (an eager consumer commits what
        // it processed before it rejoins), not between the joins and the
        // leader's assignment.
        if group.state == GroupState::CompletingRebalance {
            return Err(GroupError::RebalanceInProgress);
        }
        Ok(())
    }

    /// Expires silent members and forgotten MEMBER_ID_REQUIRED ids, and ends
    /// rebalances whose time is up. Call it often (every ~100 ms).
    pub fn tick(&self) {
        let now = self.now();
        let mut groups = self.groups.lock().expect("groups lock");
        for group in groups.values_mut() {
            group
                .pending
                .retain(|_, since| now - *since < PENDING_MEMBER_TIMEOUT_MS);
            let expired: Vec<String> = group
                .members
                .values()
                .filter(|m| {
                    m.awaiting_join.is_none() && now - m.last_seen_ms > m.session_timeout_ms
                })
                .map(|m| m.id.clone())
                .collect();
            for id in &expired {
                tracing::info!(group = %group.id, member = %id, "member session expired");
                if let Some(m) = group.members.remove(id) {
                    fail_waiters(m, GroupError::UnknownMemberId(id.clone()));
                }
            }
            if !expired.is_empty() {
                membership_changed(group, now);
            }
            if group.state == GroupState::PreparingRebalance {
                maybe_complete_join(group, now);
            }
        }
    }

    pub fn describe(&self, group_id: &str) -> Option<GroupDescription> {
        self.groups
            .lock()
            .expect("groups lock")
            .get(group_id)
            .map(Group::describe)
    }

    pub fn list(&self) -> Vec<GroupDescription> {
        let groups = self.groups.lock().expect("groups lock");
        let mut all: Vec<GroupDescription> = groups.values().map(Group::describe).collect();
        all.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        all
    }

    /// Forgets an empty group (its offsets are the store's business).
    pub fn delete(&self, group_id: &str) -> Result<(), GroupError> {
        let mut groups = self.groups.lock().expect("groups lock");
        match groups.get(group_id) {
            Some(g) if !g.members.is_empty() => Err(GroupError::NonEmptyGroup(group_id.to_owned())),
            _ => {
                groups.remove(group_id);
                Ok(())
            }
        }
    }
}

fn check_member(group: &Group, member_id: &str, generation: i32) -> Result<(), GroupError> {
    if !group.members.contains_key(member_id) {
        return Err(GroupError::UnknownMemberId(member_id.to_owned()));
    }
    if generation != group.generation {
        return Err(GroupError::IllegalGeneration {
            current: group.generation,
            got: generation,
        });
    }
    Ok(())
}

fn fail_waiters(mut member: Member, error: GroupError) {
    if let Some(reply) = member.awaiting_join.take() {
        let _ = reply.send(Err(error.clone()));
    }
    if let Some(reply) = member.awaiting_sync.take() {
        let _ = reply.send(Err(error));
    }
}

fn start_rebalance(group: &mut Group, now: i64) {
    let timeout = group
        .members
        .values()
        .map(|m| m.rebalance_timeout_ms)
        .max()
        .unwrap_or(0);
    group.state = GroupState::PreparingRebalance;
    group.rebalance_deadline_ms = now + timeout;
    for m in group.members.values_mut() {
        if let Some(reply) = m.awaiting_sync.take() {
            let _ = reply.send(Err(GroupError::RebalanceInProgress));
        }
    }
}

fn membership_changed(group: &mut Group, now: i64) {
    if group.members.is_empty() {
        group.state = GroupState::Empty;
        group.leader = None;
        group.generation += 1;
        return;
    }
    if group.state != GroupState::PreparingRebalance {
        start_rebalance(group, now);
    }
    maybe_complete_join(group, now);
}

/// Completes the join phase once every member has rejoined, or the
/// deadline passed (members that did not rejoin are dropped).
fn maybe_complete_join(group: &mut Group, now: i64) {
    let all_joined = group.members.values().all(|m| m.awaiting_join.is_some());
    if !all_joined && now < group.rebalance_deadline_ms {
        return;
    }
    group.members.retain(|_, m| m.awaiting_join.is_some());
    if group.members.is_empty() {
        group.state = GroupState::Empty;
        group.leader = None;
        return;
    }
    let leader = match &group.leader {
        Some(l) if group.members.contains_key(l) => l.clone(),
        _ => group.members.keys().next().expect("not empty").clone(),
    };
    let Some(protocol) = choose_protocol(group, &leader) else {
        for (_, m) in std::mem::take(&mut group.members) {
            fail_waiters(m, GroupError::InconsistentGroupProtocol);
        }
        group.state = GroupState::Empty;
        return;
    };
    group.generation += 1;
    group.protocol = protocol.clone();
    group.leader = Some(leader.clone());
    group.state = GroupState::CompletingRebalance;
    let members: Vec<JoinedMember> = group
        .members
        .values()
        .map(|m| JoinedMember {
            member_id: m.id.clone(),
            group_instance_id: m.group_instance_id.clone(),
            metadata: m
                .protocols
                .iter()
                .find(|(n, _)| *n == protocol)
                .map(|(_, d)| d.clone())
                .unwrap_or_default(),
        })
        .collect();
    for m in group.members.values_mut() {
        m.last_seen_ms = now;
        m.assignment = Bytes::new();
        let response = JoinResponse {
            generation_id: group.generation,
            protocol_type: group.protocol_type.clone(),
            protocol_name: protocol.clone(),
            leader: leader.clone(),
            member_id: m.id.clone(),
            members: if m.id == leader {
                members.clone()
            } else {
                Vec::new()
            },
        };
        if let Some(reply) = m.awaiting_join.take() {
            let _ = reply.send(Ok(response));
        }
    }
}

/// The leader's most preferred protocol that every member supports.
fn choose_protocol(group: &Group, leader: &str) -> Option<String> {
    let leader = group.members.get(leader)?;
    leader
        .protocols
        .iter()
        .map(|(name, _)| name)
        .find(|name| {
            group
                .members
                .values()
                .all(|m| m.protocols.iter().any(|(n, _)| n == *name))
        })
        .cloned()
}

#[cfg(test)]
#[path = "coordinator/tests.rs"]
mod tests;
