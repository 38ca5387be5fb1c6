//! ShareGroupDescribe (KIP-932): members, their epochs and assignments.
//! Needs DESCRIBE on the group (else GROUP_AUTHORIZATION_FAILED for it).

use kafka_protocol::ResponseError;
use kafka_protocol::messages::share_group_describe_request::ShareGroupDescribeRequest;
use kafka_protocol::messages::share_group_describe_response::{
    Assignment, DescribedGroup, Member, ShareGroupDescribeResponse, TopicPartitions,
};

use super::{str_bytes, topic_name};
use crate::acl::{Operation, Resource};
use crate::broker::Ctx;

pub(crate) fn handle(ctx: &Ctx, request: ShareGroupDescribeRequest) -> ShareGroupDescribeResponse {
    let broker = &ctx.broker;
    let groups = request
        .group_ids
        .iter()
        .map(|id| {
            let base = DescribedGroup::default()
                .with_group_id(id.clone())
                .with_assignor_name(str_bytes("simple"));
            if !ctx.authorize(Resource::Group, id.as_str(), Operation::Describe) {
                return base.with_error_code(ResponseError::GroupAuthorizationFailed.code());
            }
            let Some((epoch, members)) = broker.share.describe(id.as_str()) else {
                return base.with_error_code(ResponseError::GroupIdNotFound.code());
            };
            let members = members
                .into_iter()
                .map(|m| {
                    let assigned = m
                        .topics
                        .iter()
                        .filter_map(|t| broker.store.describe_topic(t))
                        .map(|d| {
                            TopicPartitions::default()
                                .with_topic_id(d.meta.uuid)
                                .with_topic_name(topic_name(&d.meta.name))
                                .with_partitions((0..d.meta.partitions as i32).collect())
                        })
                        .collect();
                    Member::default()
                        .with_member_id(str_bytes(&m.member_id))
                        .with_rack_id(m.rack.as_deref().map(str_bytes))
                        .with_member_epoch(m.epoch)
                        .with_client_id(str_bytes(&m.client_id))
                        .with_client_host(str_bytes(&m.client_host))
                        .with_subscribed_topic_names(
                            m.topics.iter().map(|t| topic_name(t)).collect(),
                        )
                        .with_assignment(Assignment::default().with_topic_partitions(assigned))
                })
                .collect::<Vec<_>>();
            base.with_group_state(str_bytes(if members.is_empty() {
                "Empty"
            } else {
                "Stable"
            }))
            .with_group_epoch(epoch)
            .with_assignment_epoch(epoch)
            .with_members(members)
        })
        .collect();
    ShareGroupDescribeResponse::default().with_groups(groups)
}
