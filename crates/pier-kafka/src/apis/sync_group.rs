//! SyncGroup: the leader hands in assignments; every member gets its own.

use kafka_protocol::messages::sync_group_request::SyncGroupRequest;
use kafka_protocol::messages::sync_group_response::SyncGroupResponse;

use super::groups;
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
    let result = ctx
        .broker
        .groups
        .sync(
            request.group_id.as_str(),
            request.member_id.as_str(),
            request.generation_id,
            assignments,
        )
        .await;
    let response = match result {
        Ok(assignment) => SyncGroupResponse::default().with_assignment(assignment),
        Err(e) => SyncGroupResponse::default().with_error_code(groups::code(&e)),
    };
    if version >= 5 {
        response
            .with_protocol_type(request.protocol_type)
            .with_protocol_name(request.protocol_name)
    } else {
        response
    }
}
