//! LeaveGroup: one member (v0-2) or several (v3+). Needs READ on the group
//! (else GROUP_AUTHORIZATION_FAILED for the whole request).

use kafka_protocol::messages::leave_group_request::LeaveGroupRequest;
use kafka_protocol::messages::leave_group_response::{LeaveGroupResponse, MemberResponse};

use super::groups;
use crate::acl::{Operation, Resource};
use crate::broker::Ctx;

pub(crate) fn handle(ctx: &Ctx, request: LeaveGroupRequest, version: i16) -> LeaveGroupResponse {
    if !ctx.authorize(Resource::Group, request.group_id.as_str(), Operation::Read) {
        return LeaveGroupResponse::default()
            .with_error_code(kafka_protocol::ResponseError::GroupAuthorizationFailed.code());
    }
    let ids: Vec<String> = if version < 3 {
        vec![request.member_id.to_string()]
    } else {
        request
            .members
            .iter()
            .map(|m| m.member_id.to_string())
            .collect()
    };
    let results = ctx.broker.groups.leave(request.group_id.as_str(), &ids);
    if version < 3 {
        let code = results
            .first()
            .and_then(|r| r.as_ref().err())
            .map_or(0, groups::code);
        return LeaveGroupResponse::default().with_error_code(code);
    }
    let members = request
        .members
        .into_iter()
        .zip(results)
        .map(|(m, r)| {
            MemberResponse::default()
                .with_member_id(m.member_id)
                .with_group_instance_id(m.group_instance_id)
                .with_error_code(r.err().as_ref().map_or(0, groups::code))
        })
        .collect();
    LeaveGroupResponse::default().with_members(members)
}
