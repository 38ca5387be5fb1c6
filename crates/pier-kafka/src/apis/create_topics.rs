//! CreateTopics: partitions (-1 = `num.partitions`), replication factor 1
//! (or -1), and Kafka-named configs. Needs CREATE on each topic (else
//! TOPIC_AUTHORIZATION_FAILED).

use kafka_protocol::ResponseError;
use kafka_protocol::messages::create_topics_request::CreateTopicsRequest;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicResult, CreateTopicsResponse,
};
use pier_core::TopicConfig;
use pier_core::topic::{self, PARTITIONS_PER_TOPIC_MAX};

use super::{admin_error, str_bytes};
use crate::acl::{Operation, Resource};
use crate::broker::Ctx;

pub(crate) async fn handle(
    ctx: &Ctx,
    request: CreateTopicsRequest,
    version: i16,
) -> CreateTopicsResponse {
    let mut results = Vec::with_capacity(request.topics.len());
    for t in request.topics {
        let name = t.name.0.to_string();
        let base = CreatableTopicResult::default().with_name(t.name.clone());
        let outcome = create(ctx, &name, &t, request.validate_only).await;
        let mut result = match outcome {
            Ok((partitions, uuid)) => base
                .with_topic_id(uuid)
                .with_num_partitions(partitions as i32)
                .with_replication_factor(1),
            Err((code, message)) => base
                .with_error_code(code.code())
                .with_error_message(Some(str_bytes(&message)))
                .with_num_partitions(-1)
                .with_replication_factor(-1),
        };
        if version < 7 {
            result.topic_id = uuid::Uuid::nil();
        }
        if version < 5 {
            result.num_partitions = -1;
            result.replication_factor = -1;
        }
        results.push(result);
    }
    CreateTopicsResponse::default().with_topics(results)
}

type Failure = (ResponseError, String);

async fn create(
    ctx: &Ctx,
    name: &str,
    t: &kafka_protocol::messages::create_topics_request::CreatableTopic,
    validate_only: bool,
) -> Result<(u32, uuid::Uuid), Failure> {
    if !ctx.authorize(Resource::Topic, name, Operation::Create) {
        return Err((
            ResponseError::TopicAuthorizationFailed,
            format!("not allowed to create topic {name:?}"),
        ));
    }
    topic::validate_name(name)
        .map_err(|e| (ResponseError::InvalidTopicException, e.to_string()))?;
    if !(t.replication_factor == -1 || t.replication_factor == 1) {
        return Err((
            ResponseError::InvalidReplicationFactor,
            format!(
                "replication factor {} is impossible with one broker; use 1 or -1",
                t.replication_factor
            ),
        ));
    }
    if !t.assignments.is_empty() {
        return Err((
            ResponseError::InvalidRequest,
            "manual replica assignment is not supported".into(),
        ));
    }
    let partitions = match t.num_partitions {
        -1 => ctx.broker.config.num_partitions,
        n if n >= 1 && n as u32 <= PARTITIONS_PER_TOPIC_MAX => n as u32,
        n => {
            return Err((
                ResponseError::InvalidPartitions,
                format!("{n} partitions: must be 1..={PARTITIONS_PER_TOPIC_MAX}"),
            ));
        }
    };
    let mut config = TopicConfig::default();
    for c in &t.configs {
        let value = c.value.as_deref().unwrap_or_default();
        config
            .set(c.name.as_str(), value)
            .map_err(|e| (ResponseError::InvalidConfig, e.to_string()))?;
    }
    if ctx.broker.store.has_topic(name) {
        return Err((
            ResponseError::TopicAlreadyExists,
            format!("topic {name:?} already exists"),
        ));
    }
    if validate_only {
        return Ok((partitions, uuid::Uuid::nil()));
    }
    let meta = ctx
        .broker
        .store
        .create_topic(name, partitions, config)
        .await
        .map_err(|e| admin_error(&e))?;
    Ok((meta.partitions, meta.uuid))
}
