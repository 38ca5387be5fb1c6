//! Metadata: this broker, and each topic with its partitions (all led by
//! us). Unknown topics are auto-created when the client and config allow.
//! A topic asked for needs DESCRIBE, and auto-creating it CREATE (else
//! TOPIC_AUTHORIZATION_FAILED); a listing of all topics leaves out what the
//! client may not describe, as Kafka does.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::BrokerId;
use kafka_protocol::messages::metadata_request::MetadataRequest;
use kafka_protocol::messages::metadata_response::{
    MetadataResponse, MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use pier_core::topic;

use super::{str_bytes, topic_name};
use crate::acl::{Operation, Resource};
use crate::broker::Ctx;
use crate::{CLUSTER_ID, NODE_ID};

pub(crate) async fn handle(ctx: &Ctx, request: MetadataRequest, version: i16) -> MetadataResponse {
    let store = &ctx.broker.store;
    // v0: an empty list means all topics; v1+: null does.
    // v10+: a topic may be asked for by id alone (share consumers do).
    let requested: Option<Vec<Result<String, uuid::Uuid>>> = match request.topics {
        None => None,
        Some(t) if t.is_empty() && version == 0 => None,
        Some(t) => Some(
            t.into_iter()
                .filter_map(|t| match t.name {
                    Some(n) => Some(Ok(n.0.to_string())),
                    None if !t.topic_id.is_nil() => Some(Err(t.topic_id)),
                    None => None,
                })
                .collect(),
        ),
    };
    // Before v4 the field does not exist and creation is allowed.
    let allow_create = version < 4 || request.allow_auto_topic_creation;
    let names = match requested {
        None => store
            .topic_names()
            .into_iter()
            .filter(|n| !pier_core::topic::is_internal(n))
            .filter(|n| ctx.can(Resource::Topic, n, Operation::Describe))
            .map(Ok)
            .collect(),
        Some(names) => names,
    };
    let mut topics = Vec::with_capacity(names.len());
    for wanted in names {
        let mut topic = match wanted {
            Ok(name) => describe(ctx, &name, allow_create, version).await,
            Err(id) => match crate::share::topic_by_id(store, id) {
                // Refused without its name: an id must not reveal it.
                Some(name) if !ctx.authorize(Resource::Topic, &name, Operation::Describe) => {
                    MetadataResponseTopic::default()
                        .with_topic_id(id)
                        .with_error_code(ResponseError::TopicAuthorizationFailed.code())
                }
                Some(name) => describe(ctx, &name, false, version).await,
                None => MetadataResponseTopic::default()
                    .with_topic_id(id)
                    .with_error_code(ResponseError::UnknownTopicId.code()),
            },
        };
        if version >= 8 && request.include_topic_authorized_operations {
            topic.topic_authorized_operations = match &topic.name {
                Some(name)
                    if topic.error_code != ResponseError::TopicAuthorizationFailed.code() =>
                {
                    super::authorized_ops::topic(ctx, name)
                }
                _ => i32::MIN,
            };
        }
        topics.push(topic);
    }
    let broker = MetadataResponseBroker::default()
        .with_node_id(BrokerId(NODE_ID))
        .with_host(str_bytes(&ctx.advertised_host()))
        .with_port(ctx.advertised_port());
    let mut response = MetadataResponse::default()
        .with_brokers(vec![broker])
        .with_topics(topics);
    if version >= 1 {
        response.controller_id = BrokerId(NODE_ID);
    }
    if version >= 2 {
        response.cluster_id = Some(str_bytes(CLUSTER_ID));
    }
    if (8..=10).contains(&version) && request.include_cluster_authorized_operations {
        response.cluster_authorized_operations = super::authorized_ops::CLUSTER;
    }
    response
}

async fn describe(
    ctx: &Ctx,
    name: &str,
    allow_create: bool,
    version: i16,
) -> MetadataResponseTopic {
    let base = MetadataResponseTopic::default().with_name(Some(topic_name(name)));
    let refused = base
        .clone()
        .with_error_code(ResponseError::TopicAuthorizationFailed.code());
    if !ctx.authorize(Resource::Topic, name, Operation::Describe) {
        return refused;
    }
    if topic::validate_name(name).is_err() {
        return base.with_error_code(ResponseError::InvalidTopicException.code());
    }
    // Kafka refuses what it would auto-create without CREATE, rather than
    // calling it unknown.
    let auto_create = allow_create && ctx.broker.config.auto_create_topics;
    if auto_create
        && !ctx.broker.store.has_topic(name)
        && !ctx.authorize(Resource::Topic, name, Operation::Create)
    {
        return refused;
    }
    match ctx.broker.ensure_topic(name, allow_create).await {
        Ok(true) => {}
        Ok(false) => return base.with_error_code(ResponseError::UnknownTopicOrPartition.code()),
        Err(e) => {
            tracing::warn!(topic = name, error = %e, "auto-create failed");
            return base.with_error_code(ResponseError::KafkaStorageError.code());
        }
    }
    let Some(described) = ctx.broker.store.describe_topic(name) else {
        return base.with_error_code(ResponseError::UnknownTopicOrPartition.code());
    };
    let partitions = (0..described.meta.partitions as i32)
        .map(|p| {
            MetadataResponsePartition::default()
                .with_partition_index(p)
                .with_leader_id(BrokerId(NODE_ID))
                .with_leader_epoch(if version >= 7 { 0 } else { -1 })
                .with_replica_nodes(vec![BrokerId(NODE_ID)])
                .with_isr_nodes(vec![BrokerId(NODE_ID)])
        })
        .collect();
    let base = if version >= 10 {
        base.with_topic_id(described.meta.uuid)
    } else {
        base
    };
    base.with_partitions(partitions)
}
