//! DescribeLogDirs (v0–4): the one log directory (the data directory, or
//! `memory` for a broker without one) and the size of each partition in
//! it, as `kafka-log-dirs --describe` prints them. Every partition is on
//! the one directory and current (no future replica, no lag). Kafka asks
//! for DESCRIBE on the cluster; Pier's ACLs have no cluster resource, so
//! with authorization on this is CLUSTER_AUTHORIZATION_FAILED.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::TopicName;
use kafka_protocol::messages::describe_log_dirs_request::DescribeLogDirsRequest;
use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResponse, DescribeLogDirsResult, DescribeLogDirsTopic,
};

use super::str_bytes;
use crate::broker::Ctx;

pub(crate) fn handle(ctx: &Ctx, request: DescribeLogDirsRequest) -> DescribeLogDirsResponse {
    if ctx.broker.config.authorization {
        return DescribeLogDirsResponse::default()
            .with_error_code(ResponseError::ClusterAuthorizationFailed.code());
    }
    let store = &ctx.broker.store;
    // `null` asks for every topic; a list asks for those partitions.
    let wanted: Vec<(String, Option<Vec<i32>>)> = match request.topics {
        None => store.topic_names().into_iter().map(|t| (t, None)).collect(),
        Some(topics) => topics
            .into_iter()
            .map(|t| (t.topic.0.to_string(), Some(t.partitions)))
            .collect(),
    };
    let mut topics = Vec::new();
    for (name, only) in wanted {
        // Unknown topics and partitions are left out, as Kafka does.
        let Some(d) = store.describe_topic(&name) else {
            continue;
        };
        let partitions: Vec<DescribeLogDirsPartition> = d
            .partitions
            .iter()
            .filter(|p| {
                only.as_ref()
                    .is_none_or(|o| o.contains(&(p.partition as i32)))
            })
            .map(|p| {
                DescribeLogDirsPartition::default()
                    .with_partition_index(p.partition as i32)
                    .with_partition_size(p.size_bytes as i64)
                    .with_offset_lag(0)
                    .with_is_future_key(false)
            })
            .collect();
        if !partitions.is_empty() {
            topics.push(
                DescribeLogDirsTopic::default()
                    .with_name(TopicName(str_bytes(&name)))
                    .with_partitions(partitions),
            );
        }
    }
    let dir = ctx.broker.config.log_dir.as_deref().unwrap_or("memory");
    DescribeLogDirsResponse::default().with_results(vec![
        DescribeLogDirsResult::default()
            .with_log_dir(str_bytes(dir))
            .with_topics(topics)
            // The volume's size is not known (Kafka's -1).
            .with_total_bytes(-1)
            .with_usable_bytes(-1),
    ])
}
