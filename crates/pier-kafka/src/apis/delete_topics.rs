//! DeleteTopics, by name (v0-5) or by name or id (v6). Pier has no DELETE
//! operation: deleting needs CREATE on the topic (else
//! TOPIC_AUTHORIZATION_FAILED; a topic asked for by id is then not named).

use kafka_protocol::ResponseError;
use kafka_protocol::messages::delete_topics_request::DeleteTopicsRequest;
use kafka_protocol::messages::delete_topics_response::{
    DeletableTopicResult, DeleteTopicsResponse,
};
use pier_core::AdminCommand;

use super::{admin_error, str_bytes, topic_name};
use crate::acl::{Operation, Resource};
use crate::broker::Ctx;

pub(crate) async fn handle(
    ctx: &Ctx,
    request: DeleteTopicsRequest,
    version: i16,
) -> DeleteTopicsResponse {
    let store = &ctx.broker.store;
    let mut wanted: Vec<(Option<String>, uuid::Uuid)> = request
        .topic_names
        .iter()
        .map(|n| (Some(n.0.to_string()), uuid::Uuid::nil()))
        .collect();
    wanted.extend(
        request
            .topics
            .iter()
            .map(|t| (t.name.as_ref().map(|n| n.0.to_string()), t.topic_id)),
    );
    let mut responses = Vec::with_capacity(wanted.len());
    for (name, id) in wanted {
        let by_id = name.is_none();
        let name = name.or_else(|| {
            store
                .topic_names()
                .into_iter()
                .find(|n| store.describe_topic(n).is_some_and(|d| d.meta.uuid == id))
        });
        let base = DeletableTopicResult::default().with_topic_id(id);
        let Some(name) = name else {
            responses.push(base.with_error_code(ResponseError::UnknownTopicId.code()));
            continue;
        };
        if !ctx.authorize(Resource::Topic, &name, Operation::Create) {
            let named = if by_id { None } else { Some(topic_name(&name)) };
            let mut refused = base
                .with_name(named)
                .with_error_code(ResponseError::TopicAuthorizationFailed.code());
            if version >= 5 {
                refused.error_message = Some(str_bytes("deleting a topic needs CREATE on it"));
            }
            responses.push(refused);
            continue;
        }
        let base = base.with_name(Some(topic_name(&name)));
        let uuid = store.describe_topic(&name).map(|d| d.meta.uuid);
        let result = store
            .admin(AdminCommand::DeleteTopic { name: name.clone() })
            .await;
        let mut response = match result {
            Ok(_) => {
                ctx.broker.config.ledger.topic_deleted(&name);
                base.with_topic_id(uuid.unwrap_or(id))
            }
            Err(e) => {
                let (code, message) = admin_error(&e);
                base.with_error_code(code.code())
                    .with_error_message(Some(str_bytes(&message)))
            }
        };
        if version < 6 {
            response.topic_id = uuid::Uuid::nil();
        }
        if version < 5 {
            response.error_message = None;
        }
        responses.push(response);
    }
    DeleteTopicsResponse::default().with_responses(responses)
}
