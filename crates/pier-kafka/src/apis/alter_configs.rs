//! AlterConfigs (v0–2), the older way to change a topic's settings
//! (kafka-python's `alter_configs`, `Admin.alterConfigs` before Kafka 2.3):
//! the settings given replace the topic's whole dynamic configuration, so
//! a setting left out goes back to its default. Same checks as
//! IncrementalAlterConfigs: topics only (INVALID_REQUEST otherwise), known
//! settings with valid values (INVALID_CONFIG), CREATE on the topic
//! (TOPIC_AUTHORIZATION_FAILED).

use kafka_protocol::ResponseError;
use kafka_protocol::messages::alter_configs_request::{AlterConfigsRequest, AlterConfigsResource};
use kafka_protocol::messages::alter_configs_response::{
    AlterConfigsResourceResponse, AlterConfigsResponse,
};
use pier_core::{AdminCommand, TopicConfig};

use super::{admin_error, str_bytes};
use crate::broker::Ctx;

pub(crate) async fn handle(ctx: &Ctx, request: AlterConfigsRequest) -> AlterConfigsResponse {
    let mut responses = Vec::with_capacity(request.resources.len());
    for r in request.resources {
        let base = AlterConfigsResourceResponse::default()
            .with_resource_type(r.resource_type)
            .with_resource_name(r.resource_name.clone());
        responses.push(match replace(ctx, &r, request.validate_only).await {
            Ok(()) => base,
            Err((code, message)) => base
                .with_error_code(code.code())
                .with_error_message(Some(str_bytes(&message))),
        });
    }
    AlterConfigsResponse::default().with_responses(responses)
}

async fn replace(
    ctx: &Ctx,
    r: &AlterConfigsResource,
    validate_only: bool,
) -> Result<(), (ResponseError, String)> {
    let name = r.resource_name.to_string();
    super::incremental_alter_configs::alterable_topic(ctx, r.resource_type, &name)?;
    let store = &ctx.broker.store;
    // Everything not given is back to its default.
    let mut config = TopicConfig::default();
    for c in &r.configs {
        let key = c.name.to_string();
        let invalid = |reason: String| (ResponseError::InvalidConfig, reason);
        let value = match &c.value {
            Some(v) => v.to_string(),
            None => TopicConfig::default().get(&key).ok_or_else(|| {
                invalid(format!(
                    "unknown topic setting {key:?}; Pier's topics have {:?}",
                    TopicConfig::KEYS
                ))
            })?,
        };
        config
            .set(&key, &value)
            .map_err(|e| invalid(e.to_string()))?;
    }
    if validate_only {
        return Ok(());
    }
    store
        .admin(AdminCommand::SetConfig { name, config })
        .await
        .map(|_| ())
        .map_err(|e| admin_error(&e))
}
