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

/// The topics a classic consumer subscribed to, from its JoinGroup
/// metadata (`ConsumerProtocolSubscription` v0–3); `None` when the
/// metadata is not a consumer subscription.
pub fn subscribed_topics(bytes: &Bytes) -> Option<Vec<String>> {
    let mut buf = bytes.clone();
    if buf.remaining() < 6 {
        return None;
    }
    let _version = buf.get_i16();
    let count = usize::try_from(buf.get_i32()).ok()?;
    let mut topics = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        if buf.remaining() < 2 {
            return None;
        }
        let len = usize::try_from(buf.get_i16()).ok()?;
        if buf.remaining() < len {
            return None;
        }
        let name = buf.split_to(len);
        topics.push(String::from_utf8(name.to_vec()).ok()?);
    }
    Some(topics)
}

#[cfg(test)]
mod subscription_tests {
    use super::*;
    use bytes::BufMut;

    #[test]
    fn reads_a_consumer_subscription_and_refuses_garbage() {
        let mut b = bytes::BytesMut::new();
        b.put_i16(1);
        b.put_i32(2);
        for t in ["orders", "payments"] {
            b.put_i16(t.len() as i16);
            b.put_slice(t.as_bytes());
        }
        b.put_i32(-1); // user data: null
        assert_eq!(
            subscribed_topics(&b.freeze()),
            Some(vec!["orders".to_owned(), "payments".to_owned()])
        );
        assert_eq!(
            subscribed_topics(&Bytes::from_static(b"\x00\x01\x00\x00\x00\x05\x00")),
            None
        );
        assert_eq!(subscribed_topics(&Bytes::new()), None);
    }
}
