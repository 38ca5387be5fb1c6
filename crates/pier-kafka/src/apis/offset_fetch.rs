//! OffsetFetch: committed offsets, -1 where none. v0-7 ask for one group,
//! v8+ for several. Needs READ on the group (else
//! GROUP_AUTHORIZATION_FAILED) and DESCRIBE on each topic asked for (else
//! TOPIC_AUTHORIZATION_FAILED for its partitions); asked for all topics,
//! it leaves out what the client may not describe, as Kafka does.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::TopicName;
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequest;
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponse, OffsetFetchResponseGroup, OffsetFetchResponsePartition,
    OffsetFetchResponsePartitions, OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};

use super::{str_bytes, topic_name};
use crate::acl::{Operation, Resource};
use crate::broker::Ctx;

/// One partition's answer: (partition, offset, metadata, error code).
type PartitionOffset = (i32, i64, String, i16);
/// A topic's committed offsets.
type TopicOffsets = (TopicName, Vec<PartitionOffset>);

/// The requested topics' committed offsets, or every committed topic's
/// the client may describe when `topics` is `None`.
fn lookup(ctx: &Ctx, group: &str, topics: Option<Vec<(TopicName, Vec<i32>)>>) -> Vec<TopicOffsets> {
    // A consumer asks where its group stands before it fetches: the
    // ledger's hint for consumers that assign partitions themselves.
    ctx.broker
        .config
        .attribution
        .remember(&ctx.client_id, ctx.peer.ip(), group);
    let committed = ctx.broker.store.committed_offsets(group);
    let topics = topics.unwrap_or_else(|| {
        let mut all: Vec<(TopicName, Vec<i32>)> = Vec::new();
        for (topic, partition) in committed.keys() {
            match all.last_mut() {
                Some((name, parts)) if name.0.as_str() == topic => parts.push(*partition as i32),
                _ if !ctx.can(Resource::Topic, topic, Operation::Describe) => {}
                _ => all.push((topic_name(topic), vec![*partition as i32])),
            }
        }
        all
    });
    topics
        .into_iter()
        .map(|(name, partitions)| {
            let allowed = ctx.authorize(Resource::Topic, name.0.as_str(), Operation::Describe);
            let refused = ResponseError::TopicAuthorizationFailed.code();
            let found = partitions
                .into_iter()
                .map(|p| match committed.get(&(name.0.to_string(), p as u32)) {
                    _ if !allowed => (p, -1, String::new(), refused),
                    Some(c) => (p, c.offset, c.metadata.clone(), 0),
                    None => (p, -1, String::new(), 0),
                })
                .collect();
            (name, found)
        })
        .collect()
}

pub(crate) fn handle(ctx: &Ctx, request: OffsetFetchRequest, version: i16) -> OffsetFetchResponse {
    let refused = ResponseError::GroupAuthorizationFailed.code();
    if version >= 8 {
        let groups = request
            .groups
            .into_iter()
            .map(|g| {
                let group = OffsetFetchResponseGroup::default().with_group_id(g.group_id.clone());
                if !ctx.authorize(Resource::Group, g.group_id.as_str(), Operation::Read) {
                    return group.with_error_code(refused);
                }
                let wanted = g.topics.map(|ts| {
                    ts.into_iter()
                        .map(|t| (t.name, t.partition_indexes))
                        .collect()
                });
                let topics = lookup(ctx, g.group_id.as_str(), wanted)
                    .into_iter()
                    .map(|(name, parts)| {
                        let partitions = parts
                            .into_iter()
                            .map(|(p, offset, metadata, code)| {
                                OffsetFetchResponsePartitions::default()
                                    .with_partition_index(p)
                                    .with_committed_offset(offset)
                                    .with_metadata(Some(str_bytes(&metadata)))
                                    .with_error_code(code)
                            })
                            .collect();
                        OffsetFetchResponseTopics::default()
                            .with_name(name)
                            .with_partitions(partitions)
                    })
                    .collect();
                group.with_topics(topics)
            })
            .collect();
        return OffsetFetchResponse::default().with_groups(groups);
    }
    let wanted = request.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.name, t.partition_indexes))
            .collect::<Vec<_>>()
    });
    let group = request.group_id.as_str();
    let allowed = ctx.authorize(Resource::Group, group, Operation::Read);
    if !allowed && version >= 2 {
        return OffsetFetchResponse::default().with_error_code(refused);
    }
    let found = if allowed {
        lookup(ctx, group, wanted)
    } else {
        // v1 has no top-level error: each partition asked for carries it.
        let topics = wanted.unwrap_or_default().into_iter();
        topics
            .map(|(name, parts)| {
                let parts = parts.into_iter();
                (
                    name,
                    parts.map(|p| (p, -1, String::new(), refused)).collect(),
                )
            })
            .collect()
    };
    let topics = found
        .into_iter()
        .map(|(name, parts)| {
            let partitions = parts
                .into_iter()
                .map(|(p, offset, metadata, code)| {
                    OffsetFetchResponsePartition::default()
                        .with_partition_index(p)
                        .with_committed_offset(offset)
                        .with_metadata(Some(str_bytes(&metadata)))
                        .with_error_code(code)
                })
                .collect();
            OffsetFetchResponseTopic::default()
                .with_name(name)
                .with_partitions(partitions)
        })
        .collect();
    OffsetFetchResponse::default().with_topics(topics)
}
