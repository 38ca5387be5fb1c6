//! ShareAcknowledge (KIP-932), and the acknowledgement mapping ShareFetch
//! shares: 0 gap and 1 accept → accept, 2 release, 3 reject, 4 renew →
//! extend the lock. Needs READ on the group (else
//! GROUP_AUTHORIZATION_FAILED) and on each topic (else
//! TOPIC_AUTHORIZATION_FAILED for its partitions, which stay unacknowledged).

use kafka_protocol::ResponseError;
use kafka_protocol::messages::BrokerId;
use kafka_protocol::messages::share_acknowledge_request::ShareAcknowledgeRequest;
use kafka_protocol::messages::share_acknowledge_response::{
    LeaderIdAndEpoch, NodeEndpoint, PartitionData, ShareAcknowledgeResponse,
    ShareAcknowledgeTopicResponse,
};
use pier_core::queue::AckAction;
use uuid::Uuid;

use super::str_bytes;
use crate::NODE_ID;
use crate::acl::{Operation, Resource};
use crate::broker::Ctx;
use crate::share::{self, topic_by_id};

/// One partition's acknowledgement batches: `(first, last, types)`.
#[derive(Debug, Clone)]
pub(crate) struct Ack {
    pub topic_id: Uuid,
    pub partition: i32,
    pub batches: Vec<(i64, i64, Vec<i8>)>,
}

/// Applies acknowledgements; returns an error code per partition (0, or
/// INVALID_RECORD_STATE when any offset was not held by this member).
pub(crate) async fn apply_acks(
    ctx: &Ctx,
    group: &str,
    member: &str,
    acks: Vec<Ack>,
) -> Vec<((Uuid, i32), i16)> {
    let broker = &ctx.broker;
    let mut out = Vec::with_capacity(acks.len());
    for ack in acks {
        let key = (ack.topic_id, ack.partition);
        let Some(topic) = topic_by_id(&broker.store, ack.topic_id) else {
            out.push((key, ResponseError::UnknownTopicId.code()));
            continue;
        };
        if !ctx.authorize(Resource::Topic, &topic, Operation::Read) {
            out.push((key, ResponseError::TopicAuthorizationFailed.code()));
            continue;
        }
        let Ok(queue) = share::queue_for(&broker.queues, group, &topic).await else {
            out.push((key, ResponseError::UnknownServerError.code()));
            continue;
        };
        let lease_ms = broker
            .queues
            .config(&queue)
            .map_or(pier_core::queue::LEASE_DEFAULT_MS, |c| c.lease_ms);
        let Ok(partition) = u32::try_from(ack.partition) else {
            out.push((key, ResponseError::InvalidRequest.code()));
            continue;
        };
        let mut items = Vec::new();
        let mut invalid = false;
        for (first, last, types) in &ack.batches {
            if *first < 0
                || last < first
                || (types.len() != 1 && types.len() as i64 != last - first + 1)
            {
                invalid = true;
                continue;
            }
            for (i, offset) in (*first..=*last).enumerate() {
                let t = if types.len() == 1 { types[0] } else { types[i] };
                let action = match t {
                    0 | 1 => AckAction::Accept,
                    2 => AckAction::Release { delay_ms: None },
                    3 => AckAction::Reject {
                        reason: "rejected by a share consumer".to_owned(),
                    },
                    4 => AckAction::Extend { lease_ms },
                    _ => {
                        invalid = true;
                        continue;
                    }
                };
                items.push((partition, offset as u64, None, action));
            }
        }
        let code = match broker.queues.acknowledge(&queue, member, items).await {
            Ok(results) if !invalid && results.iter().all(Result::is_ok) => 0,
            Ok(_) => ResponseError::InvalidRecordState.code(),
            Err(_) => ResponseError::UnknownServerError.code(),
        };
        out.push((key, code));
    }
    out
}

pub(crate) async fn handle(
    ctx: &Ctx,
    request: ShareAcknowledgeRequest,
) -> ShareAcknowledgeResponse {
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
        ShareAcknowledgeResponse::default()
            .with_error_code(code)
            .with_node_endpoints(vec![endpoint.clone()])
    };
    if group.is_empty() || member.is_empty() {
        return fail(ResponseError::InvalidRequest.code());
    }
    if !ctx.authorize(Resource::Group, &group, Operation::Read) {
        return fail(ResponseError::GroupAuthorizationFailed.code());
    }
    if request.share_session_epoch == 0 {
        // Acknowledgements need an open session (Kafka answers the same).
        return fail(ResponseError::InvalidShareSessionEpoch.code());
    }
    if request.share_session_epoch != -1 && !broker.share.is_member(&group, &member) {
        return fail(ResponseError::UnknownMemberId.code());
    }
    let acks: Vec<Ack> = request
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(move |p| Ack {
                topic_id: t.topic_id,
                partition: p.partition_index,
                batches: p
                    .acknowledgement_batches
                    .iter()
                    .map(|b| (b.first_offset, b.last_offset, b.acknowledge_types.clone()))
                    .collect(),
            })
        })
        .collect();
    if let Err(e) = broker
        .share
        .session(&group, &member, request.share_session_epoch, &[], &[])
    {
        return fail(e.code());
    }
    let results = apply_acks(ctx, &group, &member, acks).await;
    let mut by_topic: std::collections::BTreeMap<Uuid, Vec<PartitionData>> = Default::default();
    for ((topic_id, p), code) in results {
        by_topic.entry(topic_id).or_default().push(
            PartitionData::default()
                .with_partition_index(p)
                .with_error_code(code)
                .with_current_leader(
                    LeaderIdAndEpoch::default()
                        .with_leader_id(NODE_ID)
                        .with_leader_epoch(0),
                ),
        );
    }
    ShareAcknowledgeResponse::default()
        .with_responses(
            by_topic
                .into_iter()
                .map(|(topic_id, partitions)| {
                    ShareAcknowledgeTopicResponse::default()
                        .with_topic_id(topic_id)
                        .with_partitions(partitions)
                })
                .collect(),
        )
        .with_node_endpoints(vec![endpoint])
}
