//! ListOffsets: earliest (-2), latest (-1), max timestamp (-3), or the first
//! offset at or after a timestamp. Needs DESCRIBE on the topic (else
//! TOPIC_AUTHORIZATION_FAILED per partition).

use kafka_protocol::ResponseError;
use kafka_protocol::messages::list_offsets_request::ListOffsetsRequest;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsResponse, ListOffsetsTopicResponse,
};
use pier_core::ReadError;

use crate::acl::{Operation, Resource};
use crate::broker::Ctx;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;

pub(crate) fn handle(ctx: &Ctx, request: ListOffsetsRequest) -> ListOffsetsResponse {
    let store = &ctx.broker.store;
    let topics = request
        .topics
        .into_iter()
        .map(|t| {
            let name = t.name.0.to_string();
            let allowed = ctx.authorize(Resource::Topic, &name, Operation::Describe);
            let partitions = t
                .partitions
                .into_iter()
                .map(|p| {
                    let base = ListOffsetsPartitionResponse::default()
                        .with_partition_index(p.partition_index)
                        .with_timestamp(-1)
                        .with_offset(-1);
                    if !allowed {
                        return base
                            .with_error_code(ResponseError::TopicAuthorizationFailed.code());
                    }
                    match lookup(store, &name, p.partition_index as u32, p.timestamp) {
                        Ok((offset, timestamp)) => {
                            base.with_offset(offset).with_timestamp(timestamp)
                        }
                        Err(e) => base.with_error_code(match e {
                            ReadError::Storage(_) => ResponseError::KafkaStorageError.code(),
                            _ => ResponseError::UnknownTopicOrPartition.code(),
                        }),
                    }
                })
                .collect();
            ListOffsetsTopicResponse::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}

fn lookup(
    store: &pier_core::Store,
    topic: &str,
    partition: u32,
    timestamp: i64,
) -> Result<(i64, i64), ReadError> {
    let (start, end) = store.offsets(topic, partition)?;
    Ok(match timestamp {
        LATEST => (end as i64, -1),
        MAX_TIMESTAMP => match store.offset_of_max_timestamp(topic, partition)? {
            Some((offset, found)) => (offset as i64, found),
            None => (-1, -1),
        },
        EARLIEST => (start as i64, -1),
        ts => match store.offset_for_timestamp(topic, partition, ts)? {
            Some((offset, found)) => (offset as i64, found),
            None => (-1, -1),
        },
    })
}
