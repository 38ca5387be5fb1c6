//! DescribeGroups: state, protocol and members of each group. Needs
//! DESCRIBE on the group (else GROUP_AUTHORIZATION_FAILED for it).

use kafka_protocol::messages::describe_groups_request::DescribeGroupsRequest;
use kafka_protocol::messages::describe_groups_response::{
    DescribeGroupsResponse, DescribedGroup, DescribedGroupMember,
};

use super::str_bytes;
use crate::acl::{Operation, Resource};
use crate::broker::Ctx;

pub(crate) fn handle(
    ctx: &Ctx,
    request: DescribeGroupsRequest,
    version: i16,
) -> DescribeGroupsResponse {
    let groups = request
        .groups
        .into_iter()
        .map(|id| {
            if !ctx.authorize(Resource::Group, id.as_str(), Operation::Describe) {
                return DescribedGroup::default().with_group_id(id).with_error_code(
                    kafka_protocol::ResponseError::GroupAuthorizationFailed.code(),
                );
            }
            let Some(d) = ctx.broker.groups.describe(id.as_str()) else {
                // Kafka describes an unknown group as Dead with no members.
                return DescribedGroup::default()
                    .with_group_id(id)
                    .with_group_state(str_bytes("Dead"));
            };
            let members = d
                .members
                .into_iter()
                .map(|m| {
                    let member = DescribedGroupMember::default()
                        .with_member_id(str_bytes(&m.member_id))
                        .with_client_id(str_bytes(&m.client_id))
                        .with_client_host(str_bytes(&m.client_host))
                        .with_member_metadata(m.metadata)
                        .with_member_assignment(m.assignment);
                    if version >= 4 {
                        member.with_group_instance_id(m.group_instance_id.as_deref().map(str_bytes))
                    } else {
                        member
                    }
                })
                .collect();
            let authorized = if version >= 3 && request.include_authorized_operations {
                super::authorized_ops::group(ctx, id.as_str())
            } else {
                i32::MIN
            };
            DescribedGroup::default()
                .with_authorized_operations(authorized)
                .with_group_id(id)
                .with_group_state(str_bytes(d.state.kafka_name()))
                .with_protocol_type(str_bytes(&d.protocol_type))
                .with_protocol_data(str_bytes(&d.protocol))
                .with_members(members)
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(groups)
}
