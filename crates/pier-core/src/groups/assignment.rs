//! The consumer protocol's assignment bytes (opaque to the coordinator):
//! which partitions of which topics a member was given.

use bytes::{Buf, Bytes};
use kafka_protocol::messages::ConsumerProtocolAssignment;
use kafka_protocol::protocol::Decodable;

/// `(topic, partitions)` pairs; empty when the bytes are not the consumer
/// protocol (a Kafka Connect worker, say) or cannot be read.
pub fn assigned_partitions(bytes: &Bytes) -> Vec<(String, Vec<u32>)> {
    let mut buf = bytes.clone();
    if buf.remaining() < 2 {
        return Vec::new();
    }
    let version = buf.get_i16().clamp(0, 3);
    ConsumerProtocolAssignment::decode(&mut buf, version)
        .map(|a| {
            a.assigned_partitions
                .into_iter()
                .map(|tp| {
                    let partitions = tp
                        .partitions
                        .into_iter()
                        .filter_map(|p| u32::try_from(p).ok())
                        .collect();
                    (tp.topic.to_string(), partitions)
                })
                .collect()
        })
        .unwrap_or_default()
}
