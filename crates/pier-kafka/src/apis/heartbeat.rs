//! Heartbeat: keeps a member alive; REBALANCE_IN_PROGRESS tells it to rejoin.
//! Needs READ on the group (else GROUP_AUTHORIZATION_FAILED).

use kafka_protocol::messages::heartbeat_request::HeartbeatRequest;
use kafka_protocol::messages::heartbeat_response::HeartbeatResponse;

use super::groups;
use crate::acl::{Operation, Resource};
use crate::broker::Ctx;

pub(crate) fn handle(ctx: &Ctx, request: HeartbeatRequest) -> HeartbeatResponse {
    if !ctx.authorize(Resource::Group, request.group_id.as_str(), Operation::Read) {
        return HeartbeatResponse::default()
            .with_error_code(kafka_protocol::ResponseError::GroupAuthorizationFailed.code());
    }
    match ctx.broker.groups.heartbeat(
        request.group_id.as_str(),
        request.member_id.as_str(),
        request.generation_id,
    ) {
        Ok(()) => HeartbeatResponse::default(),
        Err(e) => HeartbeatResponse::default().with_error_code(groups::code(&e)),
    }
}
