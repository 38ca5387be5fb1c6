//! Raw Kafka frames for the authorization tests: a connection logged in
//! as alice (SASL PLAIN) or anonymous, and one helper per API used.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchRequest, FetchTopic};
use kafka_protocol::messages::fetch_response::FetchResponse;
use kafka_protocol::messages::find_coordinator_request::FindCoordinatorRequest;
use kafka_protocol::messages::find_coordinator_response::FindCoordinatorResponse;
use kafka_protocol::messages::join_group_request::{JoinGroupRequest, JoinGroupRequestProtocol};
use kafka_protocol::messages::join_group_response::JoinGroupResponse;
use kafka_protocol::messages::list_groups_request::ListGroupsRequest;
use kafka_protocol::messages::list_groups_response::ListGroupsResponse;
use kafka_protocol::messages::list_offsets_request::{
    ListOffsetsPartition, ListOffsetsRequest, ListOffsetsTopic,
};
use kafka_protocol::messages::list_offsets_response::ListOffsetsResponse;
use kafka_protocol::messages::metadata_request::{MetadataRequest, MetadataRequestTopic};
use kafka_protocol::messages::metadata_response::MetadataResponse;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_commit_response::OffsetCommitResponse;
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequest;
use kafka_protocol::messages::offset_fetch_response::OffsetFetchResponse;
use kafka_protocol::messages::produce_request::{
    PartitionProduceData, ProduceRequest, TopicProduceData,
};
use kafka_protocol::messages::produce_response::ProduceResponse;
use kafka_protocol::messages::sasl_authenticate_request::SaslAuthenticateRequest;
use kafka_protocol::messages::sasl_authenticate_response::SaslAuthenticateResponse;
use kafka_protocol::messages::sasl_handshake_request::SaslHandshakeRequest;
use kafka_protocol::messages::sasl_handshake_response::SaslHandshakeResponse;
use kafka_protocol::messages::{ApiKey, GroupId, ResponseHeader, TopicName};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_protocol::records::Compression;
use pier::pier_core::batch::{self, NewRecord};
use pier::pier_kafka::SecurityProtocol;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Conn {
    stream: TcpStream,
    next_id: i32,
}

impl Conn {
    /// A connection logged in as alice over SASL PLAIN.
    pub async fn alice(server: &pier::Server) -> Self {
        let addr = server
            .kafka_listeners()
            .into_iter()
            .find(|(p, _)| *p == SecurityProtocol::SaslPlaintext)
            .unwrap()
            .1;
        let mut c = Self::to(addr).await;
        let mechanism = StrBytes::from_static_str("PLAIN");
        let hs = SaslHandshakeRequest::default().with_mechanism(mechanism);
        let r: SaslHandshakeResponse = c.call(ApiKey::SaslHandshake, 1, &hs).await;
        assert_eq!(r.error_code, 0);
        let token = Bytes::from_static(b"\0alice\0wonderland");
        let auth = SaslAuthenticateRequest::default().with_auth_bytes(token);
        let r: SaslAuthenticateResponse = c.call(ApiKey::SaslAuthenticate, 2, &auth).await;
        assert_eq!(r.error_code, 0, "alice logs in");
        c
    }

    /// A PLAINTEXT connection: the ANONYMOUS principal.
    pub async fn anonymous(server: &pier::Server) -> Self {
        Self::to(server.kafka_addr()).await
    }

    pub async fn to(addr: std::net::SocketAddr) -> Self {
        Self {
            stream: TcpStream::connect(addr).await.unwrap(),
            next_id: 1,
        }
    }

    pub async fn call<R: Decodable>(
        &mut self,
        api: ApiKey,
        version: i16,
        body: &impl Encodable,
    ) -> R {
        let id = self.next_id;
        self.next_id += 1;
        let out = crate::common::kafka::frame(api, version, id, "acl-test", body);
        self.stream.write_all(&out).await.unwrap();
        let read = async {
            let size = self.stream.read_i32().await.unwrap();
            let mut frame = vec![0; size as usize];
            self.stream.read_exact(&mut frame).await.unwrap();
            Bytes::from(frame)
        };
        let mut frame = tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .expect("answered in time");
        let header =
            ResponseHeader::decode(&mut frame, api.response_header_version(version)).unwrap();
        assert_eq!(header.correlation_id, id);
        R::decode(&mut frame, version).unwrap()
    }

    /// Produces one record per topic in one request; the error code of
    /// each topic's partition 0, in order.
    pub async fn produce(&mut self, topics: &[(&str, &str)]) -> Vec<i16> {
        let data = topics
            .iter()
            .map(|(topic, value)| {
                let record = NewRecord {
                    value: Some(Bytes::copy_from_slice(value.as_bytes())),
                    timestamp_ms: 1,
                    ..NewRecord::default()
                };
                let records = batch::build(&[record], Compression::None, None);
                let partition = PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(records));
                TopicProduceData::default()
                    .with_name(name(topic))
                    .with_partition_data(vec![partition])
            })
            .collect();
        let req = ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(5_000)
            .with_topic_data(data);
        let r: ProduceResponse = self.call(ApiKey::Produce, 9, &req).await;
        r.responses
            .iter()
            .map(|t| t.partition_responses[0].error_code)
            .collect()
    }

    pub async fn metadata(
        &mut self,
        topics: Option<&[&str]>,
        auto_create: bool,
    ) -> MetadataResponse {
        let topics = topics.map(|ts| {
            ts.iter()
                .map(|t| MetadataRequestTopic::default().with_name(Some(name(t))))
                .collect()
        });
        let req = MetadataRequest::default()
            .with_topics(topics)
            .with_allow_auto_topic_creation(auto_create)
            .with_include_topic_authorized_operations(true);
        self.call(ApiKey::Metadata, 12, &req).await
    }

    pub async fn fetch(&mut self, topic: &str) -> i16 {
        let partition = FetchPartition::default()
            .with_partition(0)
            .with_fetch_offset(0)
            .with_partition_max_bytes(1 << 20);
        let req = FetchRequest::default()
            .with_max_wait_ms(0)
            .with_min_bytes(1)
            .with_max_bytes(1 << 20)
            .with_topics(vec![
                FetchTopic::default()
                    .with_topic(name(topic))
                    .with_partitions(vec![partition]),
            ]);
        let r: FetchResponse = self.call(ApiKey::Fetch, 12, &req).await;
        r.responses[0].partitions[0].error_code
    }

    pub async fn list_offsets(&mut self, topic: &str) -> i16 {
        let partition = ListOffsetsPartition::default()
            .with_partition_index(0)
            .with_timestamp(-1);
        let req = ListOffsetsRequest::default().with_topics(vec![
            ListOffsetsTopic::default()
                .with_name(name(topic))
                .with_partitions(vec![partition]),
        ]);
        let r: ListOffsetsResponse = self.call(ApiKey::ListOffsets, 7, &req).await;
        r.topics[0].partitions[0].error_code
    }

    /// FindCoordinator v3 (one key) and v4 (a list); both error codes.
    pub async fn find_coordinator(&mut self, group: &str) -> (i16, i16) {
        let old = FindCoordinatorRequest::default().with_key(str_bytes(group));
        let r3: FindCoordinatorResponse = self.call(ApiKey::FindCoordinator, 3, &old).await;
        let new = FindCoordinatorRequest::default().with_coordinator_keys(vec![str_bytes(group)]);
        let r4: FindCoordinatorResponse = self.call(ApiKey::FindCoordinator, 4, &new).await;
        (r3.error_code, r4.coordinators[0].error_code)
    }

    pub async fn join(&mut self, group: &str) -> i16 {
        let protocol = JoinGroupRequestProtocol::default()
            .with_name(StrBytes::from_static_str("range"))
            .with_metadata(Bytes::new());
        let req = JoinGroupRequest::default()
            .with_group_id(GroupId(str_bytes(group)))
            .with_session_timeout_ms(10_000)
            .with_rebalance_timeout_ms(10_000)
            .with_protocol_type(StrBytes::from_static_str("consumer"))
            .with_protocols(vec![protocol]);
        let r: JoinGroupResponse = self.call(ApiKey::JoinGroup, 7, &req).await;
        r.error_code
    }

    /// A standalone commit (no generation) of offset 1 on partition 0.
    pub async fn commit(&mut self, group: &str, topic: &str) -> i16 {
        let partition = OffsetCommitRequestPartition::default()
            .with_partition_index(0)
            .with_committed_offset(1);
        let req = OffsetCommitRequest::default()
            .with_group_id(GroupId(str_bytes(group)))
            .with_generation_id_or_member_epoch(-1)
            .with_topics(vec![
                OffsetCommitRequestTopic::default()
                    .with_name(name(topic))
                    .with_partitions(vec![partition]),
            ]);
        let r: OffsetCommitResponse = self.call(ApiKey::OffsetCommit, 8, &req).await;
        r.topics[0].partitions[0].error_code
    }

    pub async fn offset_fetch(&mut self, group: &str) -> i16 {
        let req = OffsetFetchRequest::default()
            .with_group_id(GroupId(str_bytes(group)))
            .with_topics(None);
        let r: OffsetFetchResponse = self.call(ApiKey::OffsetFetch, 7, &req).await;
        r.error_code
    }

    pub async fn list_groups(&mut self) -> Vec<String> {
        let r: ListGroupsResponse = self
            .call(ApiKey::ListGroups, 4, &ListGroupsRequest::default())
            .await;
        r.groups.iter().map(|g| g.group_id.to_string()).collect()
    }
}

pub fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

pub fn name(s: &str) -> TopicName {
    TopicName(str_bytes(s))
}

/// Everything stored in partition 0 of `topic`, as stored.
pub fn stored(server: &pier::Server, topic: &str) -> Bytes {
    server.store().read(topic, 0, 0, 1 << 20).unwrap().records
}

/// The record values in partition 0 of `topic`.
pub fn values(server: &pier::Server, topic: &str) -> Vec<String> {
    let mut out = Vec::new();
    for b in batch::split_batches(stored(server, topic)).unwrap() {
        for r in batch::decode_records(&b).unwrap() {
            out.push(String::from_utf8(r.value.unwrap().to_vec()).unwrap());
        }
    }
    out
}
