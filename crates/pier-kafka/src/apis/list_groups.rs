//! ListGroups: groups with members, plus groups that only have offsets,
//! leaving out those the client may not DESCRIBE (as Kafka does).

use kafka_protocol::messages::GroupId;
use kafka_protocol::messages::list_groups_request::ListGroupsRequest;
use kafka_protocol::messages::list_groups_response::{ListGroupsResponse, ListedGroup};

use super::str_bytes;
use crate::acl::{Operation, Resource};
use crate::broker::Ctx;

pub(crate) fn handle(ctx: &Ctx, request: ListGroupsRequest, version: i16) -> ListGroupsResponse {
    let mut listed: Vec<(String, String, String)> = ctx
        .broker
        .groups
        .list()
        .into_iter()
        .map(|g| (g.group_id, g.protocol_type, g.state.kafka_name().to_owned()))
        .collect();
    for group in ctx.broker.store.groups_with_offsets() {
        if !listed.iter().any(|(id, _, _)| *id == group) {
            listed.push((group, "consumer".to_owned(), "Empty".to_owned()));
        }
    }
    let groups = listed
        .into_iter()
        .filter(|(id, _, state)| {
            (request.states_filter.is_empty()
                || request.states_filter.iter().any(|s| s.as_str() == state))
                && ctx.can(Resource::Group, id, Operation::Describe)
        })
        .map(|(id, protocol_type, state)| {
            let group = ListedGroup::default()
                .with_group_id(GroupId(str_bytes(&id)))
                .with_protocol_type(str_bytes(&protocol_type));
            if version >= 4 {
                group.with_group_state(str_bytes(&state))
            } else {
                group
            }
        })
        .collect();
    ListGroupsResponse::default().with_groups(groups)
}
