//! SyncGroup: the leader hands in assignments; every member gets its own.
//! Needs READ on the group (else GROUP_AUTHORIZATION_FAILED).

use kafka_protocol::messages::sync_group_request::SyncGroupRequest;
use kafka_protocol::messages::sync_group_response::SyncGroupResponse;

use super::groups;
use crate::acl::{Operation, Resource};
use crate::broker::Ctx;

pub(crate) async fn handle(
    ctx: &Ctx,
    request: SyncGroupRequest,
    version: i16,
) -> SyncGroupResponse {
    let assignments = request
        .assignments
        .into_iter()
        .map(|a| (a.member_id.to_string(), a.assignment))
        .collect();
    let group = request.group_id.as_str();
    let result = if ctx.authorize(Resource::Group, group, Operation::Read) {
        ctx.broker
            .groups
            .sync(
                group,
                request.member_id.as_str(),
                request.generation_id,
                assignments,
            )
            .await
            .map_err(|e| groups::code(&e))
    } else {
        Err(kafka_protocol::ResponseError::GroupAuthorizationFailed.code())
    };
    let response = match result {
        Ok(assignment) => SyncGroupResponse::default().with_assignment(assignment),
        Err(code) => SyncGroupResponse::default().with_error_code(code),
    };
    if version >= 5 {
        response
            .with_protocol_type(request.protocol_type)
            .with_protocol_name(request.protocol_name)
    } else {
        response
    }
}
