//! Heartbeat: keeps a member alive; REBALANCE_IN_PROGRESS tells it to rejoin.

use kafka_protocol::messages::heartbeat_request::HeartbeatRequest;
use kafka_protocol::messages::heartbeat_response::HeartbeatResponse;

use super::groups;
use crate::broker::Ctx;

pub(crate) fn handle(ctx: &Ctx, request: HeartbeatRequest) -> HeartbeatResponse {
    match ctx.broker.groups.heartbeat(
        request.group_id.as_str(),
        request.member_id.as_str(),
        request.generation_id,
    ) {
        Ok(()) => HeartbeatResponse::default(),
        Err(e) => HeartbeatResponse::default().with_error_code(groups::code(&e)),
    }
}
