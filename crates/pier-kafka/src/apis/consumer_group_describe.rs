//! ConsumerGroupDescribe (KIP-848): members, epochs, assignments and
//! target assignments. Needs DESCRIBE on the group (else
//! GROUP_AUTHORIZATION_FAILED for it); a classic group or an unknown one is
//! GROUP_ID_NOT_FOUND, as Kafka.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::consumer_group_describe_request::ConsumerGroupDescribeRequest;
use kafka_protocol::messages::consumer_group_describe_response::{
    Assignment, ConsumerGroupDescribeResponse, DescribedGroup, Member, TopicPartitions,
};
use std::collections::BTreeMap;

use super::{str_bytes, topic_name};
use crate::acl::{Operation, Resource};
use crate::broker::Ctx;

pub(crate) fn handle(
    ctx: &Ctx,
    request: ConsumerGroupDescribeRequest,
) -> ConsumerGroupDescribeResponse {
    let broker = &ctx.broker;
    let groups = request
        .group_ids
        .iter()
        .map(|id| {
            let base = DescribedGroup::default().with_group_id(id.clone());
            if !ctx.authorize(Resource::Group, id.as_str(), Operation::Describe) {
                return base.with_error_code(ResponseError::GroupAuthorizationFailed.code());
            }
            let Some(g) = broker.consumer_groups.describe(id.as_str()) else {
                return base
                    .with_error_code(ResponseError::GroupIdNotFound.code())
                    .with_error_message(Some(str_bytes(&format!(
                        "group {} is not a consumer group",
                        id.as_str()
                    ))));
            };
            let members = g
                .members
                .iter()
                .map(|m| {
                    Member::default()
                        .with_member_id(str_bytes(&m.member_id))
                        .with_instance_id(m.instance_id.as_deref().map(str_bytes))
                        .with_rack_id(m.rack.as_deref().map(str_bytes))
                        .with_member_epoch(m.member_epoch)
                        .with_client_id(str_bytes(&m.client_id))
                        .with_client_host(str_bytes(&m.client_host))
                        .with_subscribed_topic_names(
                            m.topics.iter().map(|t| topic_name(t)).collect(),
                        )
                        .with_subscribed_topic_regex(m.regex.as_deref().map(str_bytes))
                        .with_assignment(assignment(ctx, &m.assigned))
                        .with_target_assignment(assignment(ctx, &m.target))
                        .with_member_type(1)
                })
                .collect();
            base.with_group_state(str_bytes(g.state))
                .with_group_epoch(g.group_epoch)
                .with_assignment_epoch(g.assignment_epoch)
                .with_assignor_name(str_bytes(&g.assignor))
                .with_members(members)
        })
        .collect();
    ConsumerGroupDescribeResponse::default().with_groups(groups)
}

fn assignment(ctx: &Ctx, tps: &[(String, u32)]) -> Assignment {
    let mut per_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in tps {
        per_topic.entry(t).or_default().push(*p as i32);
    }
    let topic_partitions = per_topic
        .into_iter()
        .filter_map(|(t, ps)| {
            let id = ctx.broker.store.describe_topic(t)?.meta.uuid;
            Some(
                TopicPartitions::default()
                    .with_topic_id(id)
                    .with_topic_name(topic_name(t))
                    .with_partitions(ps),
            )
        })
        .collect();
    Assignment::default().with_topic_partitions(topic_partitions)
}
