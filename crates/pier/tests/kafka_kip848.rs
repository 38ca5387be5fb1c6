//! KIP-848 consumer groups over the wire: the hand-over between two members
//! (never one partition to both), commits checked against member epochs,
//! and Kafka's error codes for bad heartbeats. Real clients
//! (confluent-kafka `group.protocol=consumer`) are in
//! `tests/clients/python/test_kip848.py`.

#[path = "common/mod.rs"]
mod common;
#[path = "kafka_acl/wire.rs"]
#[allow(dead_code)]
mod wire;

use std::collections::BTreeSet;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::consumer_group_describe_request::ConsumerGroupDescribeRequest;
use kafka_protocol::messages::consumer_group_describe_response::ConsumerGroupDescribeResponse;
use kafka_protocol::messages::consumer_group_heartbeat_request::{
    ConsumerGroupHeartbeatRequest, TopicPartitions,
};
use kafka_protocol::messages::consumer_group_heartbeat_response::ConsumerGroupHeartbeatResponse;
use kafka_protocol::messages::list_groups_request::ListGroupsRequest;
use kafka_protocol::messages::list_groups_response::ListGroupsResponse;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_commit_response::OffsetCommitResponse;
use kafka_protocol::messages::{ApiKey, GroupId};
use pier::pier_core::TopicConfig;
use uuid::Uuid;
use wire::{Conn, name, str_bytes};

const GROUP: &str = "kip848";

async fn start() -> (pier::Server, Uuid) {
    let server = pier::Server::builder()
        .in_memory()
        .kafka_addr("127.0.0.1:0".parse().unwrap())
        .http_addr("127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .unwrap();
    server
        .store()
        .create_topic("orders", 4, TopicConfig::default())
        .await
        .unwrap();
    let id = server.store().describe_topic("orders").unwrap().meta.uuid;
    (server, id)
}

/// A member as a client keeps it.
struct Member {
    id: String,
    epoch: i32,
    owned: BTreeSet<i32>,
    topic: Uuid,
}

impl Member {
    fn new(id: &str, topic: Uuid) -> Self {
        Self {
            id: id.into(),
            epoch: 0,
            owned: BTreeSet::new(),
            topic,
        }
    }

    async fn beat(&mut self, c: &mut Conn) -> ConsumerGroupHeartbeatResponse {
        let mut req = ConsumerGroupHeartbeatRequest::default()
            .with_group_id(GroupId(str_bytes(GROUP)))
            .with_member_id(str_bytes(&self.id))
            .with_member_epoch(self.epoch)
            .with_rebalance_timeout_ms(30_000)
            .with_topic_partitions(Some(vec![
                TopicPartitions::default()
                    .with_topic_id(self.topic)
                    .with_partitions(self.owned.iter().copied().collect()),
            ]));
        if self.epoch == 0 {
            req = req.with_subscribed_topic_names(Some(vec![name("orders")]));
        }
        let r: ConsumerGroupHeartbeatResponse =
            c.call(ApiKey::ConsumerGroupHeartbeat, 1, &req).await;
        assert_eq!(r.error_code, 0, "{:?}", r.error_message);
        self.epoch = r.member_epoch;
        if let Some(a) = &r.assignment {
            self.owned = a
                .topic_partitions
                .iter()
                .inspect(|tp| assert_eq!(tp.topic_id, self.topic))
                .flat_map(|tp| tp.partitions.iter().copied())
                .collect();
        }
        r
    }
}

async fn commit(c: &mut Conn, member: &str, epoch: i32) -> i16 {
    let req = OffsetCommitRequest::default()
        .with_group_id(GroupId(str_bytes(GROUP)))
        .with_member_id(str_bytes(member))
        .with_generation_id_or_member_epoch(epoch)
        .with_topics(vec![
            OffsetCommitRequestTopic::default()
                .with_name(name("orders"))
                .with_partitions(vec![
                    OffsetCommitRequestPartition::default()
                        .with_partition_index(0)
                        .with_committed_offset(0),
                ]),
        ]);
    let r: OffsetCommitResponse = c.call(ApiKey::OffsetCommit, 9, &req).await;
    r.topics[0].partitions[0].error_code
}

#[tokio::test]
async fn two_members_hand_over_without_sharing_a_partition() {
    let (server, topic) = start().await;
    let mut c = Conn::anonymous(&server).await;
    let mut a = Member::new("a", topic);
    let mut b = Member::new("b", topic);
    a.beat(&mut c).await;
    assert_eq!(a.owned, BTreeSet::from([0, 1, 2, 3]));
    b.beat(&mut c).await;
    // Until a gives two up, b waits; never do both own one.
    for _ in 0..4 {
        a.beat(&mut c).await;
        b.beat(&mut c).await;
        assert!(a.owned.is_disjoint(&b.owned), "{:?} {:?}", a.owned, b.owned);
    }
    assert_eq!((a.owned.len(), b.owned.len()), (2, 2));
    let both: BTreeSet<i32> = a.owned.union(&b.owned).copied().collect();
    assert_eq!(both, BTreeSet::from([0, 1, 2, 3]));
    // Commits carry the member epoch.
    assert_eq!(commit(&mut c, "a", a.epoch).await, 0);
    assert_eq!(
        commit(&mut c, "a", a.epoch - 1).await,
        ResponseError::StaleMemberEpoch.code()
    );
    assert_eq!(
        commit(&mut c, "a", a.epoch + 1).await,
        ResponseError::FencedMemberEpoch.code()
    );
    assert_eq!(
        commit(&mut c, "nobody", 1).await,
        ResponseError::UnknownMemberId.code()
    );
    // Described and listed as a consumer group.
    let d: ConsumerGroupDescribeResponse = c
        .call(
            ApiKey::ConsumerGroupDescribe,
            1,
            &ConsumerGroupDescribeRequest::default()
                .with_group_ids(vec![GroupId(str_bytes(GROUP))]),
        )
        .await;
    let g = &d.groups[0];
    assert_eq!(
        (g.error_code, g.group_state.as_str(), g.members.len()),
        (0, "Stable", 2)
    );
    let l: ListGroupsResponse = c
        .call(
            ApiKey::ListGroups,
            5,
            &ListGroupsRequest::default().with_types_filter(vec![str_bytes("consumer")]),
        )
        .await;
    let listed: Vec<(&str, &str)> = l
        .groups
        .iter()
        .map(|g| (g.group_id.as_str(), g.group_type.as_str()))
        .collect();
    assert_eq!(listed, vec![(GROUP, "consumer")]);
    // a leaves: b gets everything.
    let req = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(str_bytes(GROUP)))
        .with_member_id(str_bytes("a"))
        .with_member_epoch(-1);
    let r: ConsumerGroupHeartbeatResponse = c.call(ApiKey::ConsumerGroupHeartbeat, 1, &req).await;
    assert_eq!((r.error_code, r.member_epoch), (0, -1));
    b.beat(&mut c).await;
    assert_eq!(b.owned, BTreeSet::from([0, 1, 2, 3]));
}

#[tokio::test]
async fn bad_heartbeats_get_kafkas_error_codes() {
    let (server, topic) = start().await;
    let mut c = Conn::anonymous(&server).await;
    let mut a = Member::new("a", topic);
    a.beat(&mut c).await;
    let beat = |member: &str, epoch: i32| {
        ConsumerGroupHeartbeatRequest::default()
            .with_group_id(GroupId(str_bytes(GROUP)))
            .with_member_id(str_bytes(member))
            .with_member_epoch(epoch)
            .with_rebalance_timeout_ms(30_000)
    };
    let cases = [
        (
            "a stale epoch from the future",
            beat("a", a.epoch + 7),
            ResponseError::FencedMemberEpoch,
        ),
        (
            "an unknown member",
            beat("ghost", 3),
            ResponseError::UnknownMemberId,
        ),
        (
            "a join without a subscription",
            beat("new", 0),
            ResponseError::InvalidRequest,
        ),
        (
            "an assignor Pier does not have",
            beat("new", 0)
                .with_subscribed_topic_names(Some(vec![name("orders")]))
                .with_server_assignor(Some(str_bytes("magic"))),
            ResponseError::UnsupportedAssignor,
        ),
        (
            "a regex that does not compile",
            beat("new", 0).with_subscribed_topic_regex(Some(str_bytes("("))),
            ResponseError::InvalidRequest,
        ),
        (
            "an empty group id",
            beat("a", 1).with_group_id(GroupId(str_bytes(""))),
            ResponseError::InvalidGroupId,
        ),
    ];
    for (what, req, code) in cases {
        let r: ConsumerGroupHeartbeatResponse =
            c.call(ApiKey::ConsumerGroupHeartbeat, 1, &req).await;
        assert_eq!(r.error_code, code.code(), "{what}: {:?}", r.error_message);
    }
    // Control: the member itself, at its epoch, is fine.
    let r: ConsumerGroupHeartbeatResponse = c
        .call(ApiKey::ConsumerGroupHeartbeat, 1, &beat("a", a.epoch))
        .await;
    assert_eq!(r.error_code, 0);
}
