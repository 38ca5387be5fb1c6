//! OffsetDelete (v0): forget a group's committed offsets of some
//! partitions (`kafka-consumer-groups --delete-offsets`,
//! `Admin.deleteConsumerGroupOffsets`). A group that does not exist is
//! GROUP_ID_NOT_FOUND; a partition of a topic that a live member is
//! subscribed to is GROUP_SUBSCRIBED_TO_TOPIC (its offset stays), as in
//! Kafka. Needs READ on the group (Pier has no DELETE operation) and on
//! each topic.

use std::collections::BTreeSet;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::offset_delete_request::OffsetDeleteRequest;
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponse, OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use pier_core::AdminCommand;

use crate::acl::{Operation, Resource};
use crate::broker::Ctx;

pub(crate) async fn handle(ctx: &Ctx, request: OffsetDeleteRequest) -> OffsetDeleteResponse {
    let group = request.group_id.0.to_string();
    let failed = |code: ResponseError| OffsetDeleteResponse::default().with_error_code(code.code());
    if !ctx.authorize(Resource::Group, &group, Operation::Read) {
        return failed(ResponseError::GroupAuthorizationFailed);
    }
    let store = &ctx.broker.store;
    let known = ctx.broker.groups.describe(&group).is_some()
        || ctx.broker.consumer_groups.describe(&group).is_some()
        || store.groups_with_offsets().contains(&group);
    if !known {
        return failed(ResponseError::GroupIdNotFound);
    }
    let subscribed = subscribed(ctx, &group);
    let mut deletable = Vec::new();
    let mut topics = Vec::with_capacity(request.topics.len());
    for t in request.topics {
        let name = t.name.0.to_string();
        let code = if !ctx.authorize(Resource::Topic, &name, Operation::Read) {
            Some(ResponseError::TopicAuthorizationFailed)
        } else if store.describe_topic(&name).is_none() {
            Some(ResponseError::UnknownTopicOrPartition)
        } else if subscribed.contains(&name) {
            Some(ResponseError::GroupSubscribedToTopic)
        } else {
            None
        };
        let partitions = t
            .partitions
            .iter()
            .map(|p| {
                if code.is_none() {
                    deletable.push((name.clone(), p.partition_index as u32));
                }
                OffsetDeleteResponsePartition::default()
                    .with_partition_index(p.partition_index)
                    .with_error_code(code.map_or(0, |c| c.code()))
            })
            .collect();
        topics.push(
            OffsetDeleteResponseTopic::default()
                .with_name(t.name)
                .with_partitions(partitions),
        );
    }
    if !deletable.is_empty()
        && store
            .admin(AdminCommand::DeletePartitionOffsets {
                group,
                partitions: deletable,
            })
            .await
            .is_err()
    {
        return failed(ResponseError::KafkaStorageError);
    }
    OffsetDeleteResponse::default().with_topics(topics)
}

/// Topics a live member of the group is subscribed to (classic members by
/// their subscription, or their assignment when it cannot be read;
/// KIP-848 members by their subscription).
fn subscribed(ctx: &Ctx, group: &str) -> BTreeSet<String> {
    let mut topics = BTreeSet::new();
    if let Some(g) = ctx.broker.groups.describe(group) {
        for m in &g.members {
            match pier_core::groups::subscribed_topics(&m.metadata) {
                Some(t) => topics.extend(t),
                None => topics.extend(
                    pier_core::groups::assigned_partitions(&m.assignment)
                        .into_iter()
                        .map(|(t, _)| t),
                ),
            }
        }
    }
    if let Some(g) = ctx.broker.consumer_groups.describe(group) {
        for m in &g.members {
            topics.extend(m.topics.iter().cloned());
            topics.extend(m.assigned.iter().map(|(t, _)| t.clone()));
        }
    }
    topics
}
