//! OffsetFetch: committed offsets, -1 where none. v0-7 ask for one group,
//! v8+ for several.

use kafka_protocol::messages::TopicName;
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequest;
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponse, OffsetFetchResponseGroup, OffsetFetchResponsePartition,
    OffsetFetchResponsePartitions, OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};

use super::{str_bytes, topic_name};
use crate::broker::Ctx;

/// A topic's committed offsets: (partition, offset, metadata).
type TopicOffsets = (TopicName, Vec<(i32, i64, String)>);

/// (topic, [(partition, offset, metadata)]) for the requested topics, or
/// for every committed topic when `topics` is `None`.
fn lookup(ctx: &Ctx, group: &str, topics: Option<Vec<(TopicName, Vec<i32>)>>) -> Vec<TopicOffsets> {
    let committed = ctx.broker.store.committed_offsets(group);
    let topics = topics.unwrap_or_else(|| {
        let mut all: Vec<(TopicName, Vec<i32>)> = Vec::new();
        for (topic, partition) in committed.keys() {
            match all.last_mut() {
                Some((name, parts)) if name.0.as_str() == topic => parts.push(*partition as i32),
                _ => all.push((topic_name(topic), vec![*partition as i32])),
            }
        }
        all
    });
    topics
        .into_iter()
        .map(|(name, partitions)| {
            let found = partitions
                .into_iter()
                .map(|p| match committed.get(&(name.0.to_string(), p as u32)) {
                    Some(c) => (p, c.offset, c.metadata.clone()),
                    None => (p, -1, String::new()),
                })
                .collect();
            (name, found)
        })
        .collect()
}

pub(crate) fn handle(ctx: &Ctx, request: OffsetFetchRequest, version: i16) -> OffsetFetchResponse {
    if version >= 8 {
        let groups = request
            .groups
            .into_iter()
            .map(|g| {
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
                            .map(|(p, offset, metadata)| {
                                OffsetFetchResponsePartitions::default()
                                    .with_partition_index(p)
                                    .with_committed_offset(offset)
                                    .with_metadata(Some(str_bytes(&metadata)))
                            })
                            .collect();
                        OffsetFetchResponseTopics::default()
                            .with_name(name)
                            .with_partitions(partitions)
                    })
                    .collect();
                OffsetFetchResponseGroup::default()
                    .with_group_id(g.group_id)
                    .with_topics(topics)
            })
            .collect();
        return OffsetFetchResponse::default().with_groups(groups);
    }
    let wanted = request.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.name, t.partition_indexes))
            .collect()
    });
    let topics = lookup(ctx, request.group_id.as_str(), wanted)
        .into_iter()
        .map(|(name, parts)| {
            let partitions = parts
                .into_iter()
                .map(|(p, offset, metadata)| {
                    OffsetFetchResponsePartition::default()
                        .with_partition_index(p)
                        .with_committed_offset(offset)
                        .with_metadata(Some(str_bytes(&metadata)))
                })
                .collect();
            OffsetFetchResponseTopic::default()
                .with_name(name)
                .with_partitions(partitions)
        })
        .collect();
    OffsetFetchResponse::default().with_topics(topics)
}
