//! IncrementalAlterConfigs (v0–1): change a topic's settings, as
//! `kafka-configs --alter` and `Admin.incrementalAlterConfigs` do. SET
//! gives a setting a value, DELETE puts back its default; APPEND and
//! SUBTRACT are for list settings, which Pier's topics do not have
//! (INVALID_CONFIG). Only topics: broker settings are refused with
//! INVALID_REQUEST. Needs CREATE on the topic (Pier's ACLs have no
//! ALTER_CONFIGS; CREATE stands for altering a topic, as for
//! CreatePartitions), else TOPIC_AUTHORIZATION_FAILED.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, IncrementalAlterConfigsRequest,
};
use kafka_protocol::messages::incremental_alter_configs_response::{
    AlterConfigsResourceResponse, IncrementalAlterConfigsResponse,
};
use pier_core::{AdminCommand, TopicConfig};

use super::{admin_error, str_bytes};
use crate::acl::{Operation, Resource};
use crate::broker::Ctx;

/// Kafka's resource type for a topic.
const TOPIC: i8 = 2;

pub(crate) async fn handle(
    ctx: &Ctx,
    request: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let mut responses = Vec::with_capacity(request.resources.len());
    for r in request.resources {
        let base = AlterConfigsResourceResponse::default()
            .with_resource_type(r.resource_type)
            .with_resource_name(r.resource_name.clone());
        let result = alter(ctx, &r, request.validate_only).await;
        responses.push(match result {
            Ok(()) => base,
            Err((code, message)) => base
                .with_error_code(code.code())
                .with_error_message(Some(str_bytes(&message))),
        });
    }
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

/// The topic whose settings a request may change: a topic resource
/// (INVALID_REQUEST otherwise), CREATE on it (TOPIC_AUTHORIZATION_FAILED),
/// and not internal (UNKNOWN_TOPIC_OR_PARTITION, as a missing one).
pub(super) fn alterable_topic(
    ctx: &Ctx,
    resource_type: i8,
    name: &str,
) -> Result<pier_core::store::TopicDescription, (ResponseError, String)> {
    if resource_type != TOPIC {
        return Err((
            ResponseError::InvalidRequest,
            format!("only topic settings can be changed (resource type {resource_type})"),
        ));
    }
    if !ctx.authorize(Resource::Topic, name, Operation::Create) {
        return Err((
            ResponseError::TopicAuthorizationFailed,
            format!("not allowed to alter topic {name:?}"),
        ));
    }
    ctx.broker
        .store
        .describe_topic(name)
        .filter(|_| !pier_core::topic::is_internal(name))
        .ok_or_else(|| {
            (
                ResponseError::UnknownTopicOrPartition,
                format!("unknown topic {name:?}"),
            )
        })
}

async fn alter(
    ctx: &Ctx,
    r: &AlterConfigsResource,
    validate_only: bool,
) -> Result<(), (ResponseError, String)> {
    let name = r.resource_name.to_string();
    let current = alterable_topic(ctx, r.resource_type, &name)?;
    let store = &ctx.broker.store;
    let mut config = current.meta.config.clone();
    let defaults = TopicConfig::default();
    for c in &r.configs {
        let key = c.name.to_string();
        let invalid = |reason: String| (ResponseError::InvalidConfig, reason);
        let value = match c.config_operation {
            // SET
            0 => c
                .value
                .as_ref()
                .map(|v| v.to_string())
                .ok_or_else(|| invalid(format!("SET {key} needs a value")))?,
            // DELETE: back to the default.
            1 => defaults.get(&key).ok_or_else(|| {
                invalid(format!(
                    "unknown topic setting {key:?}; Pier's topics have {:?}",
                    TopicConfig::KEYS
                ))
            })?,
            2 | 3 => {
                return Err(invalid(format!(
                    "APPEND and SUBTRACT apply to list settings; {key:?} is not one"
                )));
            }
            op => {
                return Err((
                    ResponseError::InvalidRequest,
                    format!("unknown config operation {op}"),
                ));
            }
        };
        config
            .set(&key, &value)
            .map_err(|e| invalid(e.to_string()))?;
    }
    if validate_only || r.configs.is_empty() {
        return Ok(());
    }
    store
        .admin(AdminCommand::SetConfig { name, config })
        .await
        .map(|_| ())
        .map_err(|e| admin_error(&e))
}
