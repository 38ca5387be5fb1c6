//! One file per Kafka API. Each turns a request into `pier-core` calls and
//! the result into a response; protocol details stay here. Each also asks
//! `Ctx::authorize` once per topic or group it touches and answers a
//! refusal with Kafka's error code (its module comment says which).

mod alter_configs;
pub(crate) mod api_versions;
mod consumer_group_describe;
mod consumer_group_heartbeat;
mod create_partitions;
mod create_topics;
mod delete_groups;
mod delete_topics;
mod describe_cluster;
mod describe_configs;
mod describe_groups;
mod describe_log_dirs;
mod fetch;
mod find_coordinator;
mod groups;
mod heartbeat;
mod incremental_alter_configs;
mod init_producer_id;
mod join_group;
mod leave_group;
mod list_groups;
mod list_offsets;
mod metadata;
mod offset_commit;
mod offset_delete;
mod offset_fetch;
pub(crate) mod produce;
mod share_acknowledge;
mod share_fetch;
mod share_group_describe;
pub(crate) mod share_group_heartbeat;
mod sync_group;

use kafka_protocol::messages::{ApiKey, RequestKind, ResponseKind, TopicName};
use kafka_protocol::protocol::StrBytes;

use crate::broker::Ctx;

/// Versions we implement, per API. ApiVersions advertises exactly these.
pub(crate) const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 11),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 1, 9),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::FindCoordinator, 0, 6),
    (ApiKey::ApiVersions, 0, 4),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 0, 6),
    (ApiKey::InitProducerId, 0, 5),
    (ApiKey::DescribeConfigs, 0, 4),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::AlterConfigs, 0, 2),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::DescribeCluster, 0, 1),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::OffsetCommit, 2, 9),
    (ApiKey::OffsetFetch, 1, 9),
    (ApiKey::OffsetDelete, 0, 0),
    (ApiKey::DescribeLogDirs, 0, 4),
    (ApiKey::DescribeGroups, 0, 5),
    (ApiKey::ListGroups, 0, 5),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::ConsumerGroupHeartbeat, 0, 1),
    (ApiKey::ConsumerGroupDescribe, 0, 1),
    (ApiKey::ShareGroupHeartbeat, 1, 1),
    (ApiKey::ShareGroupDescribe, 1, 1),
    (ApiKey::ShareFetch, 1, 1),
    (ApiKey::ShareAcknowledge, 1, 1),
    (ApiKey::SaslHandshake, 0, 1),
    (ApiKey::SaslAuthenticate, 0, 2),
];

pub(crate) fn supported(api: ApiKey) -> Option<(i16, i16)> {
    SUPPORTED
        .iter()
        .find(|(k, _, _)| *k == api)
        .map(|(_, min, max)| (*min, *max))
}

/// `None` only for requests that get no response (produce with acks=0).
pub(crate) async fn handle(
    ctx: &Ctx,
    request: RequestKind,
    version: i16,
    client_id: &str,
) -> Option<ResponseKind> {
    Some(match request {
        RequestKind::JoinGroup(r) => {
            ResponseKind::JoinGroup(join_group::handle(ctx, r, version, client_id).await)
        }
        RequestKind::SyncGroup(r) => {
            ResponseKind::SyncGroup(sync_group::handle(ctx, r, version).await)
        }
        RequestKind::Heartbeat(r) => ResponseKind::Heartbeat(heartbeat::handle(ctx, r)),
        RequestKind::LeaveGroup(r) => {
            ResponseKind::LeaveGroup(leave_group::handle(ctx, r, version))
        }
        RequestKind::OffsetCommit(r) => {
            ResponseKind::OffsetCommit(offset_commit::handle(ctx, r).await)
        }
        RequestKind::OffsetFetch(r) => {
            ResponseKind::OffsetFetch(offset_fetch::handle(ctx, r, version))
        }
        RequestKind::DescribeGroups(r) => {
            ResponseKind::DescribeGroups(describe_groups::handle(ctx, r, version))
        }
        RequestKind::ListGroups(r) => {
            ResponseKind::ListGroups(list_groups::handle(ctx, r, version))
        }
        RequestKind::DeleteGroups(r) => {
            ResponseKind::DeleteGroups(delete_groups::handle(ctx, r).await)
        }
        RequestKind::ApiVersions(_) => ResponseKind::ApiVersions(api_versions::handle()),
        RequestKind::Metadata(r) => ResponseKind::Metadata(metadata::handle(ctx, r, version).await),
        RequestKind::Produce(r) => {
            return produce::handle(ctx, r, version)
                .await
                .map(ResponseKind::Produce);
        }
        RequestKind::Fetch(r) => ResponseKind::Fetch(fetch::handle(ctx, r, version).await),
        RequestKind::ListOffsets(r) => ResponseKind::ListOffsets(list_offsets::handle(ctx, r)),
        RequestKind::FindCoordinator(r) => {
            ResponseKind::FindCoordinator(find_coordinator::handle(ctx, r, version))
        }
        RequestKind::CreateTopics(r) => {
            ResponseKind::CreateTopics(create_topics::handle(ctx, r, version).await)
        }
        RequestKind::DeleteTopics(r) => {
            ResponseKind::DeleteTopics(delete_topics::handle(ctx, r, version).await)
        }
        RequestKind::InitProducerId(r) => {
            ResponseKind::InitProducerId(init_producer_id::handle(ctx, r).await)
        }
        RequestKind::DescribeConfigs(r) => {
            ResponseKind::DescribeConfigs(describe_configs::handle(ctx, r, version))
        }
        RequestKind::AlterConfigs(r) => {
            ResponseKind::AlterConfigs(alter_configs::handle(ctx, r).await)
        }
        RequestKind::IncrementalAlterConfigs(r) => {
            ResponseKind::IncrementalAlterConfigs(incremental_alter_configs::handle(ctx, r).await)
        }
        RequestKind::DescribeLogDirs(r) => {
            ResponseKind::DescribeLogDirs(describe_log_dirs::handle(ctx, r))
        }
        RequestKind::OffsetDelete(r) => {
            ResponseKind::OffsetDelete(offset_delete::handle(ctx, r).await)
        }
        RequestKind::CreatePartitions(r) => {
            ResponseKind::CreatePartitions(create_partitions::handle(ctx, r).await)
        }
        RequestKind::DescribeCluster(r) => {
            ResponseKind::DescribeCluster(describe_cluster::handle(ctx, r))
        }
        RequestKind::ConsumerGroupHeartbeat(r) => ResponseKind::ConsumerGroupHeartbeat(
            consumer_group_heartbeat::handle(ctx, r, client_id).await,
        ),
        RequestKind::ConsumerGroupDescribe(r) => {
            ResponseKind::ConsumerGroupDescribe(consumer_group_describe::handle(ctx, r))
        }
        RequestKind::ShareGroupHeartbeat(r) => ResponseKind::ShareGroupHeartbeat(
            share_group_heartbeat::handle(ctx, r, client_id).await,
        ),
        RequestKind::ShareGroupDescribe(r) => {
            ResponseKind::ShareGroupDescribe(share_group_describe::handle(ctx, r))
        }
        RequestKind::ShareFetch(r) => ResponseKind::ShareFetch(share_fetch::handle(ctx, r).await),
        RequestKind::ShareAcknowledge(r) => {
            ResponseKind::ShareAcknowledge(share_acknowledge::handle(ctx, r).await)
        }
        r @ (RequestKind::SaslHandshake(_) | RequestKind::SaslAuthenticate(_)) => {
            return crate::auth::illegal_state(&r);
        }
        other => {
            // Unreachable: conn refuses APIs missing from SUPPORTED.
            tracing::error!(?other, "request for an API without a handler");
            return None;
        }
    })
}

/// A group heartbeat's subscribed topic names (`None`: unchanged), or the
/// message for TOPIC_AUTHORIZATION_FAILED when the client may not DESCRIBE
/// some of them (share and consumer groups check this alike, as Kafka).
pub(crate) fn subscribed_topics(
    ctx: &Ctx,
    names: Option<Vec<TopicName>>,
) -> Result<Option<Vec<String>>, String> {
    let topics = names.map(|t| t.into_iter().map(|n| n.0.to_string()).collect::<Vec<_>>());
    let refused: Vec<&String> = topics
        .iter()
        .flatten()
        .filter(|t| {
            !ctx.authorize(
                crate::acl::Resource::Topic,
                t,
                crate::acl::Operation::Describe,
            )
        })
        .collect();
    if refused.is_empty() {
        Ok(topics)
    } else {
        Err(format!("not allowed to describe {refused:?}"))
    }
}

pub(crate) fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

pub(crate) fn topic_name(s: &str) -> TopicName {
    TopicName(str_bytes(s))
}

/// The Kafka error code (and message) for a store admin error.
pub(crate) fn admin_error(e: &pier_core::AdminError) -> (kafka_protocol::ResponseError, String) {
    use kafka_protocol::ResponseError as E;
    use pier_core::topic::TopicError as T;
    let code = match e {
        pier_core::AdminError::Topic(t) => match t {
            T::InvalidName { .. } | T::Internal(_) => E::InvalidTopicException,
            T::AlreadyExists(_) => E::TopicAlreadyExists,
            T::UnknownTopic(_) => E::UnknownTopicOrPartition,
            T::InvalidPartitionCount { .. } | T::PartitionsCannotShrink { .. } => {
                E::InvalidPartitions
            }
            T::InvalidConfig { .. } => E::InvalidConfig,
            T::TooManyTopics => E::PolicyViolation,
        },
        pier_core::AdminError::Poisoned(_) | pier_core::AdminError::Closed => E::KafkaStorageError,
    };
    (code, e.to_string())
}

/// The Kafka error code for a failed append.
pub(crate) fn append_error(e: &pier_core::AppendError) -> kafka_protocol::ResponseError {
    use kafka_protocol::ResponseError as E;
    use pier_core::AppendError as A;
    match e {
        A::UnknownTopic(_) | A::UnknownPartition { .. } => E::UnknownTopicOrPartition,
        A::InvalidBatch(_) => E::CorruptMessage,
        A::BatchTooLarge { .. } => E::MessageTooLarge,
        A::OutOfOrderSequence { .. } => E::OutOfOrderSequenceNumber,
        A::ProducerFenced { .. } => E::InvalidProducerEpoch,
        A::QueueFull | A::Poisoned(_) | A::Closed => E::KafkaStorageError,
    }
}

/// Authorized-operation bit fields (Kafka `AclOperation` codes as bits),
/// as Metadata and DescribeGroups report them.
pub(crate) mod authorized_ops {
    use crate::acl::{Operation, Resource};
    use crate::broker::Ctx;

    const fn bits(ops: &[u8]) -> i32 {
        let mut mask = 0;
        let mut i = 0;
        while i < ops.len() {
            mask |= 1 << ops[i];
            i += 1;
        }
        mask
    }
    /// READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS.
    pub const TOPIC: i32 = bits(&[3, 4, 5, 6, 7, 8, 10, 11]);
    /// CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE.
    pub const CLUSTER: i32 = bits(&[5, 7, 8, 9, 10, 11, 12]);
    /// READ, DELETE, DESCRIBE.
    pub const GROUP: i32 = bits(&[3, 6, 8]);

    /// What `ctx` may do on a topic, as the APIs check it: CREATE also
    /// stands for DELETE and ALTER (DeleteTopics, CreatePartitions), and
    /// DESCRIBE for DESCRIBE_CONFIGS. Everything when authorization is off.
    pub fn topic(ctx: &Ctx, name: &str) -> i32 {
        granted(
            ctx,
            Resource::Topic,
            name,
            TOPIC,
            &[
                (Operation::Read, bits(&[3])),
                (Operation::Write, bits(&[4])),
                (Operation::Create, bits(&[5, 6, 7])),
                (Operation::Describe, bits(&[8, 10])),
            ],
        )
    }

    /// What `ctx` may do on a group: READ also stands for DELETE
    /// (DeleteGroups).
    pub fn group(ctx: &Ctx, name: &str) -> i32 {
        granted(
            ctx,
            Resource::Group,
            name,
            GROUP,
            &[
                (Operation::Read, bits(&[3, 6])),
                (Operation::Describe, bits(&[8])),
            ],
        )
    }

    fn granted(
        ctx: &Ctx,
        resource: Resource,
        name: &str,
        everything: i32,
        ops: &[(Operation, i32)],
    ) -> i32 {
        if !ctx.broker.config.authorization {
            return everything;
        }
        ops.iter()
            .filter(|(op, _)| ctx.can(resource, name, *op))
            .fold(0, |mask, (_, bits)| mask | bits)
    }
}
