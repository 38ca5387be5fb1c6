//! ConsumerGroupHeartbeat (KIP-848, `group.protocol=consumer`): join, stay,
//! leave; the assignment is computed here and handed over incrementally
//! (`pier_core::groups::consumer`). Needs READ on the group (else
//! GROUP_AUTHORIZATION_FAILED) and DESCRIBE on every subscribed topic
//! (else TOPIC_AUTHORIZATION_FAILED), as Kafka.

use std::collections::BTreeMap;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::consumer_group_heartbeat_request::ConsumerGroupHeartbeatRequest;
use kafka_protocol::messages::consumer_group_heartbeat_response::{
    Assignment, ConsumerGroupHeartbeatResponse, TopicPartitions,
};
use pier_core::groups::{
    ConsumerGroupError, ConsumerHeartbeat, consumer::CONSUMER_HEARTBEAT_INTERVAL_MS,
};
use uuid::Uuid;

use super::str_bytes;
use crate::acl::{Operation, Resource};
use crate::broker::Ctx;

pub(crate) fn code(e: &ConsumerGroupError) -> ResponseError {
    use ConsumerGroupError as C;
    match e {
        C::UnknownMemberId(_) => ResponseError::UnknownMemberId,
        C::FencedMemberEpoch { .. } => ResponseError::FencedMemberEpoch,
        C::StaleMemberEpoch { .. } => ResponseError::StaleMemberEpoch,
        C::UnreleasedInstanceId(_) => ResponseError::UnreleasedInstanceId,
        C::InvalidRequest(_) | C::InvalidRegex(..) => ResponseError::InvalidRequest,
        C::UnsupportedAssignor(_) => ResponseError::UnsupportedAssignor,
        C::GroupFull => ResponseError::GroupMaxSizeReached,
    }
}

pub(crate) async fn handle(
    ctx: &Ctx,
    request: ConsumerGroupHeartbeatRequest,
    client_id: &str,
) -> ConsumerGroupHeartbeatResponse {
    let broker = &ctx.broker;
    let group = request.group_id.to_string();
    let response = ConsumerGroupHeartbeatResponse::default()
        .with_heartbeat_interval_ms(CONSUMER_HEARTBEAT_INTERVAL_MS);
    let fail = |code: ResponseError, message: String| {
        response
            .clone()
            .with_error_code(code.code())
            .with_error_message(Some(str_bytes(&message)))
    };
    if group.is_empty() {
        return fail(
            ResponseError::InvalidGroupId,
            "the group id must not be empty".into(),
        );
    }
    if !ctx.authorize(Resource::Group, &group, Operation::Read) {
        return fail(
            ResponseError::GroupAuthorizationFailed,
            format!("not allowed to read group {group}"),
        );
    }
    if broker
        .groups
        .describe(&group)
        .is_some_and(|g| !g.members.is_empty())
    {
        return fail(
            ResponseError::GroupIdNotFound,
            format!("group {group} is a classic group with members"),
        );
    }
    let topics = match super::subscribed_topics(ctx, request.subscribed_topic_names) {
        Ok(topics) => topics,
        Err(message) => return fail(ResponseError::TopicAuthorizationFailed, message),
    };
    // Subscribed topics that do not exist yet are created when
    // auto-creation is on, as a classic consumer's Metadata request would.
    for t in topics.iter().flatten() {
        let _ = ctx.ensure_topic(t, true).await;
    }
    let partitions = broker.partition_counts();
    let by_id = ids(ctx, &partitions);
    let owned = request.topic_partitions.map(|tps| {
        tps.into_iter()
            .filter_map(|tp| Some((by_id.get(&tp.topic_id)?.clone(), tp.partitions)))
            .flat_map(|(t, ps)| {
                ps.into_iter()
                    .filter_map(move |p| Some((t.clone(), u32::try_from(p).ok()?)))
            })
            .collect()
    });
    let hb = ConsumerHeartbeat {
        group: group.clone(),
        member_id: request.member_id.to_string(),
        member_epoch: request.member_epoch,
        instance_id: request.instance_id.map(|s| s.to_string()),
        rack: request.rack_id.map(|s| s.to_string()),
        rebalance_timeout_ms: request.rebalance_timeout_ms,
        topics,
        regex: request.subscribed_topic_regex.map(|s| s.to_string()),
        assignor: request.server_assignor.map(|s| s.to_string()),
        owned,
        client_id: client_id.to_owned(),
        client_host: format!("/{}", ctx.peer.ip()),
    };
    match broker.consumer_groups.heartbeat(hb, &partitions) {
        Err(e) => fail(code(&e), e.to_string()).with_member_id(Some(request.member_id)),
        Ok(a) => {
            if a.member_epoch > 0 {
                broker
                    .config
                    .attribution
                    .remember(client_id, ctx.peer.ip(), &group);
            }
            let assignment = a.assignment.map(|set| {
                let mut per_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
                for (t, p) in &set {
                    per_topic.entry(t).or_default().push(*p as i32);
                }
                let tps = per_topic
                    .into_iter()
                    .filter_map(|(t, ps)| {
                        let id = broker.store.describe_topic(t)?.meta.uuid;
                        Some(
                            TopicPartitions::default()
                                .with_topic_id(id)
                                .with_partitions(ps),
                        )
                    })
                    .collect();
                Assignment::default().with_topic_partitions(tps)
            });
            response
                .with_member_id(Some(str_bytes(&a.member_id)))
                .with_member_epoch(a.member_epoch)
                .with_assignment(assignment)
        }
    }
}

/// Topic id → name, for the topics that exist.
fn ids(ctx: &Ctx, partitions: &BTreeMap<String, u32>) -> BTreeMap<Uuid, String> {
    partitions
        .keys()
        .filter_map(|t| Some((ctx.broker.store.describe_topic(t)?.meta.uuid, t.clone())))
        .collect()
}
