//! ShareFetch (KIP-932): applies piggybacked acknowledgements, then
//! acquires records for the member from its share session's partitions,
//! waiting up to `max_wait_ms` for some. Needs READ on the group (else
//! GROUP_AUTHORIZATION_FAILED) and on each topic (else
//! TOPIC_AUTHORIZATION_FAILED for its partitions, answered at once).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::share_fetch_request::ShareFetchRequest;
use kafka_protocol::messages::share_fetch_response::{
    AcquiredRecords, LeaderIdAndEpoch, NodeEndpoint, PartitionData, ShareFetchResponse,
    ShareFetchableTopicResponse,
};
use pier_core::queue::Delivery;
use uuid::Uuid;

use super::share_acknowledge::{Ack, apply_acks};
use super::str_bytes;
use kafka_protocol::messages::BrokerId;

use crate::NODE_ID;
use crate::acl::{Operation, Resource};
use crate::broker::Ctx;
use crate::share::{self, topic_by_id};

/// Longest a ShareFetch waits for records.
const MAX_WAIT_MS: i32 = 10_000;
/// Records per ShareFetch when the client does not say.
const DEFAULT_MAX_RECORDS: u32 = 500;

pub(crate) async fn handle(ctx: &Ctx, request: ShareFetchRequest) -> ShareFetchResponse {
    let broker = &ctx.broker;
    let group = request
        .group_id
        .as_ref()
        .map(|g| g.to_string())
        .unwrap_or_default();
    let member = request
        .member_id
        .as_ref()
        .map(|m| m.to_string())
        .unwrap_or_default();
    let endpoint = NodeEndpoint::default()
        .with_node_id(BrokerId(NODE_ID))
        .with_host(str_bytes(&ctx.advertised_host()))
        .with_port(ctx.advertised_port());
    let fail = |code: i16| {
        ShareFetchResponse::default()
            .with_error_code(code)
            .with_node_endpoints(vec![endpoint.clone()])
    };
    if group.is_empty() || member.is_empty() {
        return fail(ResponseError::InvalidRequest.code());
    }
    if !ctx.authorize(Resource::Group, &group, Operation::Read) {
        return fail(ResponseError::GroupAuthorizationFailed.code());
    }
    if request.share_session_epoch != -1 && !broker.share.is_member(&group, &member) {
        return fail(ResponseError::UnknownMemberId.code());
    }
    // The session's partitions after this request's additions.
    let add: Vec<(Uuid, i32)> = request
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| (t.topic_id, p.partition_index))
        })
        .collect();
    let forget: Vec<(Uuid, i32)> = request
        .forgotten_topics_data
        .iter()
        .flat_map(|t| t.partitions.iter().map(move |p| (t.topic_id, *p)))
        .collect();
    let session =
        match broker
            .share
            .session(&group, &member, request.share_session_epoch, &add, &forget)
        {
            Ok(s) => s,
            Err(e) => return fail(e.code()),
        };
    // Acknowledgements first: they may free records for this fetch.
    let mut acks = Vec::new();
    for t in &request.topics {
        for p in &t.partitions {
            if !p.acknowledgement_batches.is_empty() {
                acks.push(Ack {
                    topic_id: t.topic_id,
                    partition: p.partition_index,
                    batches: p
                        .acknowledgement_batches
                        .iter()
                        .map(|b| (b.first_offset, b.last_offset, b.acknowledge_types.clone()))
                        .collect(),
                });
            }
        }
    }
    let ack_results = apply_acks(ctx, &group, &member, acks).await;

    // Partitions to fetch, by topic.
    let mut wanted: BTreeMap<Uuid, Vec<i32>> = BTreeMap::new();
    for (topic_id, p) in &session {
        wanted.entry(*topic_id).or_default().push(*p);
    }
    // The session's topics this client may not read: never fetched.
    let denied: BTreeSet<Uuid> = if request.share_session_epoch == -1 {
        BTreeSet::new()
    } else {
        let refused = |id: &Uuid| {
            topic_by_id(&broker.store, *id)
                .is_some_and(|t| !ctx.authorize(Resource::Topic, &t, Operation::Read))
        };
        wanted.keys().copied().filter(refused).collect()
    };
    let mut lease_ms = pier_core::queue::LEASE_DEFAULT_MS;
    let mut got: BTreeMap<(Uuid, i32), Vec<Delivery>> = BTreeMap::new();
    let mut names: BTreeMap<Uuid, String> = BTreeMap::new();
    if request.share_session_epoch != -1 && !wanted.is_empty() {
        let max_records = u32::try_from(request.max_records)
            .ok()
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_MAX_RECORDS)
            .min(pier_core::queue::RECEIVE_MAX_RECORDS);
        let wait = Duration::from_millis(request.max_wait_ms.clamp(0, MAX_WAIT_MS) as u64);
        let deadline = tokio::time::Instant::now() + wait;
        let mut commits = broker.store.subscribe_commits();
        loop {
            commits.borrow_and_update();
            let mut any = false;
            for (topic_id, partitions) in &wanted {
                if denied.contains(topic_id) {
                    continue;
                }
                let Some(topic) = topic_by_id(&broker.store, *topic_id) else {
                    continue;
                };
                let Ok(queue) = share::queue_for(&broker.queues, &group, &topic).await else {
                    continue;
                };
                if let Some(c) = broker.queues.config(&queue) {
                    lease_ms = c.lease_ms;
                }
                names.insert(*topic_id, topic);
                let only: Vec<u32> = partitions
                    .iter()
                    .filter_map(|p| u32::try_from(*p).ok())
                    .collect();
                match broker
                    .queues
                    .receive_from(
                        &queue,
                        &member,
                        max_records,
                        None,
                        Duration::ZERO,
                        Some(only),
                    )
                    .await
                {
                    Ok(deliveries) => {
                        for d in deliveries {
                            any = true;
                            got.entry((*topic_id, d.partition as i32))
                                .or_default()
                                .push(d);
                        }
                    }
                    Err(e) => tracing::debug!(%group, error = %e, "share fetch"),
                }
            }
            if any || !denied.is_empty() || tokio::time::Instant::now() >= deadline {
                break;
            }
            let step = deadline.min(tokio::time::Instant::now() + Duration::from_millis(100));
            let _ = tokio::time::timeout_at(step, commits.changed()).await;
        }
    }

    // One entry per partition that has records or acknowledgement results.
    let mut by_topic: BTreeMap<Uuid, Vec<PartitionData>> = BTreeMap::new();
    for ((topic_id, p), deliveries) in got {
        let Some(topic) = names.get(&topic_id) else {
            continue;
        };
        let (records, acquired) = records_for(&broker.store, topic, p as u32, deliveries);
        by_topic.entry(topic_id).or_default().push(
            PartitionData::default()
                .with_partition_index(p)
                .with_records(Some(records))
                .with_acquired_records(acquired)
                .with_current_leader(leader()),
        );
    }
    for topic_id in &denied {
        let refused = wanted[topic_id].iter().map(|p| {
            PartitionData::default()
                .with_partition_index(*p)
                .with_error_code(ResponseError::TopicAuthorizationFailed.code())
                .with_records(Some(Bytes::new()))
                .with_current_leader(leader())
        });
        by_topic.entry(*topic_id).or_default().extend(refused);
    }
    for ((topic_id, p), code) in ack_results {
        let parts = by_topic.entry(topic_id).or_default();
        match parts.iter_mut().find(|d| d.partition_index == p) {
            Some(d) => d.acknowledge_error_code = code,
            None => parts.push(
                PartitionData::default()
                    .with_partition_index(p)
                    .with_acknowledge_error_code(code)
                    .with_records(Some(Bytes::new()))
                    .with_current_leader(leader()),
            ),
        }
    }
    ShareFetchResponse::default()
        .with_acquisition_lock_timeout_ms(lease_ms.min(i32::MAX as u64) as i32)
        .with_responses(
            by_topic
                .into_iter()
                .map(|(topic_id, partitions)| {
                    ShareFetchableTopicResponse::default()
                        .with_topic_id(topic_id)
                        .with_partitions(partitions)
                })
                .collect(),
        )
        .with_node_endpoints(vec![endpoint])
}

fn leader() -> LeaderIdAndEpoch {
    LeaderIdAndEpoch::default()
        .with_leader_id(NODE_ID)
        .with_leader_epoch(0)
}

/// The stored batches covering the acquired offsets, and the acquired
/// ranges (consecutive offsets with the same delivery count merged).
fn records_for(
    store: &pier_core::Store,
    topic: &str,
    partition: u32,
    mut deliveries: Vec<Delivery>,
) -> (Bytes, Vec<AcquiredRecords>) {
    deliveries.sort_by_key(|d| d.offset);
    let mut acquired: Vec<AcquiredRecords> = Vec::new();
    for d in &deliveries {
        let count = i16::try_from(d.delivery).unwrap_or(i16::MAX);
        match acquired.last_mut() {
            Some(last)
                if last.last_offset + 1 == d.offset as i64 && last.delivery_count == count =>
            {
                last.last_offset = d.offset as i64;
            }
            _ => acquired.push(
                AcquiredRecords::default()
                    .with_first_offset(d.offset as i64)
                    .with_last_offset(d.offset as i64)
                    .with_delivery_count(count),
            ),
        }
    }
    let (Some(first), Some(last)) = (deliveries.first(), deliveries.last()) else {
        return (Bytes::new(), acquired);
    };
    let mut out = BytesMut::new();
    let mut next = first.offset;
    while next <= last.offset {
        let Ok(read) = store.read(topic, partition, next, 1 << 20) else {
            break;
        };
        let Ok(batches) = pier_core::batch::split_batches(read.records) else {
            break;
        };
        let mut moved = false;
        for b in batches {
            let Ok(info) = pier_core::batch::validate(&b) else {
                break;
            };
            let base = u64::from_be_bytes(b[..8].try_into().unwrap_or_default());
            let end = base + u64::from(info.last_offset_delta) + 1;
            if end <= next {
                continue;
            }
            out.extend_from_slice(&b);
            next = end;
            moved = true;
            if next > last.offset {
                break;
            }
        }
        if !moved {
            break;
        }
    }
    (out.freeze(), acquired)
}
