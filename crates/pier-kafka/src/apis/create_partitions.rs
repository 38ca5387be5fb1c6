//! CreatePartitions: grow a topic's partition count. Needs CREATE on the
//! topic (Kafka's ALTER; else TOPIC_AUTHORIZATION_FAILED).

use kafka_protocol::ResponseError;
use kafka_protocol::messages::create_partitions_request::CreatePartitionsRequest;
use kafka_protocol::messages::create_partitions_response::{
    CreatePartitionsResponse, CreatePartitionsTopicResult,
};
use pier_core::AdminCommand;

use super::{admin_error, str_bytes};
use crate::acl::{Operation, Resource};
use crate::broker::Ctx;

pub(crate) async fn handle(
    ctx: &Ctx,
    request: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let mut results = Vec::with_capacity(request.topics.len());
    for t in request.topics {
        let base = CreatePartitionsTopicResult::default().with_name(t.name.clone());
        let name = t.name.0.to_string();
        let result = if !ctx.authorize(Resource::Topic, &name, Operation::Create) {
            Err((
                ResponseError::TopicAuthorizationFailed,
                format!("not allowed to add partitions to topic {name:?}"),
            ))
        } else if t.count < 1 {
            Err((
                ResponseError::InvalidPartitions,
                format!("{} partitions", t.count),
            ))
        } else if request.validate_only {
            Ok(())
        } else {
            let command = AdminCommand::CreatePartitions {
                name,
                total: t.count as u32,
            };
            ctx.broker
                .store
                .admin(command)
                .await
                .map(|_| ())
                .map_err(|e| admin_error(&e))
        };
        results.push(match result {
            Ok(()) => base,
            Err((code, message)) => base
                .with_error_code(code.code())
                .with_error_message(Some(str_bytes(&message))),
        });
    }
    CreatePartitionsResponse::default().with_results(results)
}
