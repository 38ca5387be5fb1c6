//! Membership of a classic consumer group, as a Kafka client's
//! `subscribe()` does it: JoinGroup (with the member id the coordinator
//! asks for), the leader's range assignment in SyncGroup, and heartbeats
//! from their own connection every second. A heartbeat answered with a
//! rebalance tells the consumer to rejoin; a consumer that dies stops
//! heartbeating and keeps its partitions until its session times out,
//! which is the pause a lab shows.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition;
use kafka_protocol::messages::heartbeat_request::HeartbeatRequest;
use kafka_protocol::messages::heartbeat_response::HeartbeatResponse;
use kafka_protocol::messages::join_group_request::{JoinGroupRequest, JoinGroupRequestProtocol};
use kafka_protocol::messages::join_group_response::JoinGroupResponse;
use kafka_protocol::messages::leave_group_request::LeaveGroupRequest;
use kafka_protocol::messages::leave_group_response::LeaveGroupResponse;
use kafka_protocol::messages::sync_group_request::{SyncGroupRequest, SyncGroupRequestAssignment};
use kafka_protocol::messages::sync_group_response::SyncGroupResponse;
use kafka_protocol::messages::{
    ApiKey, ConsumerProtocolAssignment, ConsumerProtocolSubscription, GroupId, TopicName,
};
use kafka_protocol::protocol::{Encodable, StrBytes};
use tokio::task::JoinHandle;
use tokio::time::timeout;

use super::consumer::ConsumerRun;
use crate::wire::Conn;

const MEMBER_ID_REQUIRED: i16 = 79;
const REBALANCE_IN_PROGRESS: i16 = 27;
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
const REBALANCE_TIMEOUT_MS: i32 = 10_000;

/// This consumer's place in its group, while it lives.
pub(super) struct Membership {
    pub member_id: String,
    pub generation: i32,
    /// The partitions of the lab topic assigned to it.
    pub partitions: Vec<u32>,
    rejoin: Arc<AtomicBool>,
    heartbeat: JoinHandle<()>,
}

impl Drop for Membership {
    /// A crashed consumer's heartbeats stop with it.
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}

impl Membership {
    /// The coordinator asked for a rebalance (or forgot this member).
    pub fn must_rejoin(&self) -> bool {
        self.rejoin.load(Ordering::Relaxed)
    }

    pub fn rejoin_now(&self) {
        self.rejoin.store(true, Ordering::Relaxed);
    }
}

/// Joins (or rejoins as `member_id`) and waits for this member's
/// assignment.
pub(super) async fn join(
    run: &ConsumerRun,
    conn: &mut Conn,
    member_id: &str,
) -> anyhow::Result<Membership> {
    let mut member_id = member_id.to_owned();
    let joined = loop {
        let r = join_once(run, conn, &member_id).await?;
        match r.error_code {
            0 => break r,
            MEMBER_ID_REQUIRED => member_id = r.member_id.to_string(),
            // Forgotten (its session ran out): join as a new member.
            25 => member_id.clear(),
            REBALANCE_IN_PROGRESS => {}
            e => bail!("JoinGroup: Kafka error code {e}"),
        }
    };
    let member_id = joined.member_id.to_string();
    let generation = joined.generation_id;
    let assignments = if joined.leader == joined.member_id {
        range_assign(&joined, &run.topic, run.partitions)?
    } else {
        Vec::new()
    };
    let req = SyncGroupRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(run.group.clone())))
        .with_generation_id(generation)
        .with_member_id(StrBytes::from_string(member_id.clone()))
        .with_protocol_type(Some(StrBytes::from_static_str("consumer")))
        .with_protocol_name(Some(StrBytes::from_static_str("range")))
        .with_assignments(assignments);
    let resp: SyncGroupResponse = timeout(
        Duration::from_millis(REBALANCE_TIMEOUT_MS as u64 + 2_000),
        conn.call(ApiKey::SyncGroup, 5, &req),
    )
    .await
    .context("SyncGroup timed out")??;
    let rejoin = Arc::new(AtomicBool::new(false));
    if resp.error_code == REBALANCE_IN_PROGRESS {
        rejoin.store(true, Ordering::Relaxed);
    } else if resp.error_code != 0 {
        bail!("SyncGroup: Kafka error code {}", resp.error_code);
    }
    let partitions = pier_core::groups::assigned_partitions(&resp.assignment)
        .into_iter()
        .filter(|(t, _)| *t == run.topic)
        .flat_map(|(_, p)| p)
        .collect();
    let heartbeat = tokio::spawn(heartbeats(
        run.clone(),
        member_id.clone(),
        generation,
        rejoin.clone(),
    ));
    Ok(Membership {
        member_id,
        generation,
        partitions,
        rejoin,
        heartbeat,
    })
}

async fn join_once(
    run: &ConsumerRun,
    conn: &mut Conn,
    member_id: &str,
) -> anyhow::Result<JoinGroupResponse> {
    let protocol = JoinGroupRequestProtocol::default()
        .with_name(StrBytes::from_static_str("range"))
        .with_metadata(subscription(&run.topic)?);
    let req = JoinGroupRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(run.group.clone())))
        .with_session_timeout_ms(run.session_timeout.as_millis() as i32)
        .with_rebalance_timeout_ms(REBALANCE_TIMEOUT_MS)
        .with_member_id(StrBytes::from_string(member_id.to_owned()))
        .with_protocol_type(StrBytes::from_static_str("consumer"))
        .with_protocols(vec![protocol]);
    timeout(
        Duration::from_millis(REBALANCE_TIMEOUT_MS as u64 + 2_000),
        conn.call(ApiKey::JoinGroup, 5, &req),
    )
    .await
    .context("JoinGroup timed out")?
}

/// `ConsumerProtocolSubscription` v0 with one topic.
fn subscription(topic: &str) -> anyhow::Result<Bytes> {
    let s = ConsumerProtocolSubscription::default()
        .with_topics(vec![StrBytes::from_string(topic.to_owned())]);
    let mut b = BytesMut::new();
    b.put_i16(0);
    s.encode(&mut b, 0)?;
    Ok(b.freeze())
}

/// The range assignor: members in id order, each a run of partitions, the
/// first ones one more when they do not divide evenly.
fn range_assign(
    joined: &JoinGroupResponse,
    topic: &str,
    partitions: u32,
) -> anyhow::Result<Vec<SyncGroupRequestAssignment>> {
    let mut members: Vec<&StrBytes> = joined.members.iter().map(|m| &m.member_id).collect();
    members.sort();
    let n = members.len().max(1) as u32;
    let (each, extra) = (partitions / n, partitions % n);
    let mut next = 0u32;
    let mut out = Vec::new();
    for (i, m) in members.into_iter().enumerate() {
        let count = each + u32::from((i as u32) < extra);
        let mine: Vec<i32> = (next..next + count).map(|p| p as i32).collect();
        next += count;
        let a = ConsumerProtocolAssignment::default().with_assigned_partitions(vec![
            TopicPartition::default()
                .with_topic(TopicName(StrBytes::from_string(topic.to_owned())))
                .with_partitions(mine),
        ]);
        let mut b = BytesMut::new();
        b.put_i16(0);
        a.encode(&mut b, 0)?;
        out.push(
            SyncGroupRequestAssignment::default()
                .with_member_id(m.clone())
                .with_assignment(b.freeze()),
        );
    }
    Ok(out)
}

/// Heartbeats every second from their own connection until an answer
/// asks for a rejoin (or the membership is dropped).
async fn heartbeats(run: ConsumerRun, member: String, generation: i32, rejoin: Arc<AtomicBool>) {
    let mut conn: Option<Conn> = None;
    loop {
        tokio::time::sleep(HEARTBEAT_EVERY).await;
        if conn.is_none() {
            conn = run.connect().await.ok();
        }
        let Some(c) = conn.as_mut() else { continue };
        let req = HeartbeatRequest::default()
            .with_group_id(GroupId(StrBytes::from_string(run.group.clone())))
            .with_generation_id(generation)
            .with_member_id(StrBytes::from_string(member.clone()));
        match timeout(HEARTBEAT_EVERY, c.call(ApiKey::Heartbeat, 3, &req)).await {
            Ok(Ok(HeartbeatResponse { error_code: 0, .. })) => {}
            Ok(Ok(_)) => {
                rejoin.store(true, Ordering::Relaxed);
                return;
            }
            _ => conn = None,
        }
    }
}

/// Leaves the group, as a consumer's `close()` does.
pub(super) async fn leave(run: &ConsumerRun, conn: &mut Conn, m: &Membership) {
    let req = LeaveGroupRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(run.group.clone())))
        .with_member_id(StrBytes::from_string(m.member_id.clone()));
    let _: anyhow::Result<Result<LeaveGroupResponse, _>> = timeout(
        Duration::from_secs(2),
        conn.call(ApiKey::LeaveGroup, 1, &req),
    )
    .await
    .map_err(anyhow::Error::from);
}

#[cfg(test)]
mod tests {
    use bytes::Buf;
    use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;

    use super::*;

    fn joined(members: &[&str]) -> JoinGroupResponse {
        JoinGroupResponse::default().with_members(
            members
                .iter()
                .map(|m| {
                    JoinGroupResponseMember::default()
                        .with_member_id(StrBytes::from_string((*m).to_owned()))
                })
                .collect(),
        )
    }

    /// Member id → its partitions, read back as a member reads them.
    fn assigned(out: &[SyncGroupRequestAssignment]) -> Vec<(String, Vec<u32>)> {
        out.iter()
            .map(|a| {
                let parts = pier_core::groups::assigned_partitions(&a.assignment);
                let mine = parts.into_iter().flat_map(|(_, p)| p).collect();
                (a.member_id.to_string(), mine)
            })
            .collect()
    }

    #[test]
    fn the_range_assignor_gives_runs_in_member_order_the_first_ones_more() {
        let out = range_assign(&joined(&["c-3", "a-1", "b-2"]), "orders", 5).unwrap();
        assert_eq!(
            assigned(&out),
            [
                ("a-1".to_owned(), vec![0, 1]),
                ("b-2".to_owned(), vec![2, 3]),
                ("c-3".to_owned(), vec![4]),
            ]
        );
        // More members than partitions: the last ones get none.
        let out = range_assign(&joined(&["b", "a", "c"]), "orders", 1).unwrap();
        assert_eq!(
            assigned(&out),
            [
                ("a".to_owned(), vec![0]),
                ("b".to_owned(), vec![]),
                ("c".to_owned(), vec![]),
            ]
        );
    }

    #[test]
    fn the_subscription_is_the_consumer_protocol_the_coordinator_reads() {
        let mut b = subscription("orders").unwrap();
        assert_eq!(b.get_i16(), 0, "version 0");
        assert_eq!(
            pier_core::groups::subscribed_topics(&subscription("orders").unwrap()),
            Some(vec!["orders".to_owned()])
        );
    }
}
