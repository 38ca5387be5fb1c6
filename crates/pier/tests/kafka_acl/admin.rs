//! The admin APIs and share groups under authorization: refused without
//! the rule, served with it.

use kafka_protocol::messages::consumer_group_heartbeat_request::ConsumerGroupHeartbeatRequest;
use kafka_protocol::messages::consumer_group_heartbeat_response::ConsumerGroupHeartbeatResponse;
use kafka_protocol::messages::create_partitions_request::{
    CreatePartitionsRequest, CreatePartitionsTopic,
};
use kafka_protocol::messages::create_partitions_response::CreatePartitionsResponse;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreateTopicsRequest};
use kafka_protocol::messages::create_topics_response::CreateTopicsResponse;
use kafka_protocol::messages::delete_topics_request::DeleteTopicsRequest;
use kafka_protocol::messages::delete_topics_response::DeleteTopicsResponse;
use kafka_protocol::messages::describe_configs_request::{
    DescribeConfigsRequest, DescribeConfigsResource,
};
use kafka_protocol::messages::describe_configs_response::DescribeConfigsResponse;
use kafka_protocol::messages::describe_log_dirs_request::DescribeLogDirsRequest;
use kafka_protocol::messages::describe_log_dirs_response::DescribeLogDirsResponse;
use kafka_protocol::messages::share_fetch_request::{
    FetchPartition, FetchTopic, ShareFetchRequest,
};
use kafka_protocol::messages::share_fetch_response::ShareFetchResponse;
use kafka_protocol::messages::share_group_heartbeat_request::ShareGroupHeartbeatRequest;
use kafka_protocol::messages::share_group_heartbeat_response::ShareGroupHeartbeatResponse;
use kafka_protocol::messages::{ApiKey, GroupId};
use pier_workbench::{AclOperation, AclResource};

use super::wire::{Conn, name, str_bytes};
use super::{GROUP_AUTHORIZATION_FAILED, TOPIC_AUTHORIZATION_FAILED, allow, rule, start};

impl Conn {
    async fn create_topic(&mut self, topic: &str) -> i16 {
        let t = CreatableTopic::default()
            .with_name(name(topic))
            .with_num_partitions(1)
            .with_replication_factor(1);
        let req = CreateTopicsRequest::default()
            .with_topics(vec![t])
            .with_timeout_ms(5_000);
        let r: CreateTopicsResponse = self.call(ApiKey::CreateTopics, 5, &req).await;
        r.topics[0].error_code
    }

    async fn delete_topic(&mut self, topic: &str) -> i16 {
        let req = DeleteTopicsRequest::default()
            .with_topic_names(vec![name(topic)])
            .with_timeout_ms(5_000);
        let r: DeleteTopicsResponse = self.call(ApiKey::DeleteTopics, 4, &req).await;
        r.responses[0].error_code
    }

    async fn grow(&mut self, topic: &str, partitions: i32) -> i16 {
        let t = CreatePartitionsTopic::default()
            .with_name(name(topic))
            .with_count(partitions);
        let req = CreatePartitionsRequest::default()
            .with_topics(vec![t])
            .with_timeout_ms(5_000);
        let r: CreatePartitionsResponse = self.call(ApiKey::CreatePartitions, 2, &req).await;
        r.results[0].error_code
    }

    async fn describe_configs(&mut self, topic: &str) -> i16 {
        let resource = DescribeConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(str_bytes(topic));
        let req = DescribeConfigsRequest::default().with_resources(vec![resource]);
        let r: DescribeConfigsResponse = self.call(ApiKey::DescribeConfigs, 2, &req).await;
        r.results[0].error_code
    }

    async fn describe_log_dirs(&mut self) -> i16 {
        let req = DescribeLogDirsRequest::default().with_topics(None);
        let r: DescribeLogDirsResponse = self.call(ApiKey::DescribeLogDirs, 4, &req).await;
        r.error_code
    }

    /// Joins share group `group` subscribed to `topic`.
    async fn share_join(&mut self, group: &str, topic: &str) -> ShareGroupHeartbeatResponse {
        let req = ShareGroupHeartbeatRequest::default()
            .with_group_id(GroupId(str_bytes(group)))
            .with_member_id(str_bytes("member-1"))
            .with_member_epoch(0)
            .with_subscribed_topic_names(Some(vec![name(topic)]));
        self.call(ApiKey::ShareGroupHeartbeat, 1, &req).await
    }

    /// Joins consumer group `group` (KIP-848) subscribed to `topic`.
    async fn consumer_join(&mut self, group: &str, topic: &str) -> ConsumerGroupHeartbeatResponse {
        let req = ConsumerGroupHeartbeatRequest::default()
            .with_group_id(GroupId(str_bytes(group)))
            .with_member_id(str_bytes("member-1"))
            .with_member_epoch(0)
            .with_rebalance_timeout_ms(30_000)
            .with_subscribed_topic_names(Some(vec![name(topic)]));
        self.call(ApiKey::ConsumerGroupHeartbeat, 1, &req).await
    }

    /// Opens a share session on `topic`'s partitions.
    async fn share_fetch(&mut self, group: &str, topic: FetchTopic) -> ShareFetchResponse {
        let req = ShareFetchRequest::default()
            .with_group_id(Some(GroupId(str_bytes(group))))
            .with_member_id(Some(str_bytes("member-1")))
            .with_share_session_epoch(0)
            .with_max_wait_ms(0)
            .with_max_bytes(1 << 20)
            .with_max_records(10)
            .with_topics(vec![topic]);
        self.call(ApiKey::ShareFetch, 1, &req).await
    }
}

#[tokio::test]
async fn admin_apis_need_create_or_describe() {
    use AclOperation::{Create, Write};
    let server = start(true).await;
    // WRITE implies DESCRIBE, not CREATE.
    allow(
        &server,
        rule("alice", AclResource::Topic, "orders", &[Write]),
    );
    let mut c = Conn::alice(&server).await;
    let store = server.store();
    assert_eq!(c.create_topic("fresh").await, TOPIC_AUTHORIZATION_FAILED);
    assert!(!store.has_topic("fresh"));
    assert_eq!(c.grow("orders", 2).await, TOPIC_AUTHORIZATION_FAILED);
    assert_eq!(store.describe_topic("orders").unwrap().meta.partitions, 1);
    assert_eq!(c.delete_topic("orders").await, TOPIC_AUTHORIZATION_FAILED);
    assert!(store.has_topic("orders"));
    assert_eq!(c.describe_configs("orders").await, 0);
    assert_eq!(
        c.describe_configs("payments").await,
        TOPIC_AUTHORIZATION_FAILED
    );

    allow(&server, rule("alice", AclResource::Topic, "*", &[Create]));
    assert_eq!(c.create_topic("fresh").await, 0);
    assert!(store.has_topic("fresh"));
    assert_eq!(c.grow("orders", 2).await, 0);
    assert_eq!(store.describe_topic("orders").unwrap().meta.partitions, 2);
    assert_eq!(
        c.describe_configs("payments").await,
        0,
        "CREATE implies DESCRIBE"
    );
    assert_eq!(c.delete_topic("fresh").await, 0);
    assert!(!store.has_topic("fresh"));
    // DescribeLogDirs needs DESCRIBE on the cluster: no rule can grant it.
    assert_eq!(c.describe_log_dirs().await, CLUSTER_AUTHORIZATION_FAILED);
}

const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;

#[tokio::test]
async fn share_groups_need_read_on_the_group_and_the_topic() {
    use AclOperation::{Describe, Read};
    let server = start(true).await;
    let produced = super::common::post(
        &server,
        "/api/v1/topics/orders/messages",
        serde_json::json!({"value": "queued", "count": 1}),
    )
    .await;
    assert_eq!(produced.status, 201, "{}", produced.body);
    let orders = server.store().describe_topic("orders").unwrap().meta.uuid;
    let partition_0 = || {
        let partition = FetchPartition::default()
            .with_partition_index(0)
            .with_partition_max_bytes(1 << 20);
        FetchTopic::default()
            .with_topic_id(orders)
            .with_partitions(vec![partition])
    };
    let mut c = Conn::alice(&server).await;
    let joined = c.share_join("workers", "orders").await;
    assert_eq!(joined.error_code, GROUP_AUTHORIZATION_FAILED);
    let fetched = c.share_fetch("workers", partition_0()).await;
    assert_eq!(fetched.error_code, GROUP_AUTHORIZATION_FAILED);

    allow(
        &server,
        rule("alice", AclResource::Group, "workers", &[Read]),
    );
    let joined = c.share_join("workers", "orders").await;
    assert_eq!(
        joined.error_code, TOPIC_AUTHORIZATION_FAILED,
        "subscribing needs DESCRIBE on the topic"
    );
    allow(
        &server,
        rule("alice", AclResource::Topic, "orders", &[Describe]),
    );
    let joined = c.share_join("workers", "orders").await;
    assert_eq!(joined.error_code, 0);
    let assigned = joined.assignment.unwrap().topic_partitions;
    assert_eq!(assigned[0].topic_id, orders);

    let fetched = c.share_fetch("workers", partition_0()).await;
    assert_eq!(fetched.error_code, 0);
    let partition = &fetched.responses[0].partitions[0];
    assert_eq!(
        partition.error_code, TOPIC_AUTHORIZATION_FAILED,
        "READ needed"
    );
    assert!(partition.acquired_records.is_empty());

    allow(
        &server,
        rule("alice", AclResource::Topic, "orders", &[Read]),
    );
    let fetched = c.share_fetch("workers", partition_0()).await;
    let partition = &fetched.responses[0].partitions[0];
    assert_eq!(partition.error_code, 0);
    assert_eq!(partition.acquired_records.len(), 1, "the queued record");
}

#[tokio::test]
async fn consumer_protocol_groups_need_read_on_the_group_and_describe_on_the_topic() {
    use AclOperation::{Describe, Read};
    let server = start(true).await;
    let orders = server.store().describe_topic("orders").unwrap().meta.uuid;
    let mut c = Conn::alice(&server).await;
    let joined = c.consumer_join("billing", "orders").await;
    assert_eq!(joined.error_code, GROUP_AUTHORIZATION_FAILED);
    allow(
        &server,
        rule("alice", AclResource::Group, "billing", &[Read]),
    );
    let joined = c.consumer_join("billing", "orders").await;
    assert_eq!(
        joined.error_code, TOPIC_AUTHORIZATION_FAILED,
        "subscribing needs DESCRIBE on the topic"
    );
    allow(
        &server,
        rule("alice", AclResource::Topic, "orders", &[Describe]),
    );
    let joined = c.consumer_join("billing", "orders").await;
    assert_eq!(joined.error_code, 0);
    let assigned = joined.assignment.unwrap().topic_partitions;
    assert_eq!(assigned[0].topic_id, orders);
}
