//! ListGroups: classic groups with members, consumer-protocol (KIP-848) and
//! share groups, plus groups that only have offsets, leaving out those the
//! client may not DESCRIBE (as Kafka does). v4 filters by state, v5 by
//! type (`classic`, `consumer`, `share`).

use kafka_protocol::messages::GroupId;
use kafka_protocol::messages::list_groups_request::ListGroupsRequest;
use kafka_protocol::messages::list_groups_response::{ListGroupsResponse, ListedGroup};

use super::str_bytes;
use crate::acl::{Operation, Resource};
use crate::broker::Ctx;

struct Listed {
    id: String,
    protocol_type: String,
    state: String,
    group_type: &'static str,
}

fn all_groups(ctx: &Ctx) -> Vec<Listed> {
    let broker = &ctx.broker;
    let mut listed: Vec<Listed> = broker
        .groups
        .list()
        .into_iter()
        .map(|g| Listed {
            id: g.group_id,
            protocol_type: g.protocol_type,
            state: g.state.kafka_name().to_owned(),
            group_type: "classic",
        })
        .collect();
    for g in broker.consumer_groups.list() {
        if !listed.iter().any(|l| l.id == g.group_id) {
            listed.push(Listed {
                id: g.group_id,
                protocol_type: "consumer".to_owned(),
                state: g.state.to_owned(),
                group_type: "consumer",
            });
        }
    }
    for id in broker.share.group_ids() {
        listed.push(Listed {
            id,
            protocol_type: "share".to_owned(),
            state: "Stable".to_owned(),
            group_type: "share",
        });
    }
    for group in broker.store.groups_with_offsets() {
        if !listed.iter().any(|l| l.id == group) {
            listed.push(Listed {
                id: group,
                protocol_type: "consumer".to_owned(),
                state: "Empty".to_owned(),
                group_type: "classic",
            });
        }
    }
    listed
}

pub(crate) fn handle(ctx: &Ctx, request: ListGroupsRequest, version: i16) -> ListGroupsResponse {
    let groups = all_groups(ctx)
        .into_iter()
        .filter(|l| {
            (request.states_filter.is_empty()
                || request
                    .states_filter
                    .iter()
                    .any(|s| s.as_str().eq_ignore_ascii_case(&l.state)))
                && (request.types_filter.is_empty()
                    || request
                        .types_filter
                        .iter()
                        .any(|t| t.as_str().eq_ignore_ascii_case(l.group_type)))
                && ctx.can(Resource::Group, &l.id, Operation::Describe)
        })
        .map(|l| {
            let mut group = ListedGroup::default()
                .with_group_id(GroupId(str_bytes(&l.id)))
                .with_protocol_type(str_bytes(&l.protocol_type));
            if version >= 4 {
                group = group.with_group_state(str_bytes(&l.state));
            }
            if version >= 5 {
                group = group.with_group_type(str_bytes(l.group_type));
            }
            group
        })
        .collect();
    ListGroupsResponse::default().with_groups(groups)
}
