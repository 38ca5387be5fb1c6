//! ShareGroupHeartbeat (KIP-932): join, stay, leave. Every member is
//! assigned every partition of its subscribed topics. Needs READ on the
//! group (else GROUP_AUTHORIZATION_FAILED) and, as Kafka, DESCRIBE on every
//! subscribed topic (else TOPIC_AUTHORIZATION_FAILED); reading them is
//! checked by ShareFetch.

use kafka_protocol::messages::share_group_heartbeat_request::ShareGroupHeartbeatRequest;
use kafka_protocol::messages::share_group_heartbeat_response::{
    Assignment, ShareGroupHeartbeatResponse, TopicPartitions,
};

use super::str_bytes;
use crate::acl::{Operation, Resource};
use crate::broker::Ctx;
use crate::share::{self, Heartbeat, SHARE_HEARTBEAT_INTERVAL_MS};

pub(crate) async fn handle(
    ctx: &Ctx,
    request: ShareGroupHeartbeatRequest,
    client_id: &str,
) -> ShareGroupHeartbeatResponse {
    let broker = &ctx.broker;
    let group = request.group_id.to_string();
    let member_id = request.member_id.to_string();
    let response = ShareGroupHeartbeatResponse::default()
        .with_heartbeat_interval_ms(SHARE_HEARTBEAT_INTERVAL_MS);
    if group.is_empty() {
        return response.with_error_code(kafka_protocol::ResponseError::InvalidGroupId.code());
    }
    if !ctx.authorize(Resource::Group, &group, Operation::Read) {
        return response
            .with_error_code(kafka_protocol::ResponseError::GroupAuthorizationFailed.code());
    }
    let topics = match super::subscribed_topics(ctx, request.subscribed_topic_names) {
        Ok(topics) => topics,
        Err(message) => {
            return response
                .with_error_code(kafka_protocol::ResponseError::TopicAuthorizationFailed.code())
                .with_error_message(Some(str_bytes(&message)));
        }
    };
    let hb = Heartbeat {
        group: group.clone(),
        member_id: member_id.clone(),
        member_epoch: request.member_epoch,
        topics,
        rack: request.rack_id.map(|r| r.to_string()),
        client_id: client_id.to_owned(),
        client_host: format!("/{}", ctx.peer.ip()),
    };
    let was_member = broker.share.is_member(&group, &member_id);
    let now = broker.store.now_ms();
    let (epoch, topics) = match broker.share.heartbeat(hb, now) {
        Ok(v) => v,
        Err(e) => {
            return response
                .with_error_code(e.code())
                .with_member_id(Some(str_bytes(&member_id)));
        }
    };
    if epoch == -1 {
        if was_member {
            release_member(broker, &group, &member_id).await;
        }
        return response
            .with_member_id(Some(str_bytes(&member_id)))
            .with_member_epoch(-1);
    }
    // Every partition of every subscribed topic that exists.
    let mut assigned = Vec::new();
    for topic in &topics {
        if !ctx.ensure_topic(topic, true).await.unwrap_or(false) {
            continue;
        }
        if let Err(e) = share::queue_for(&broker.queues, &group, topic).await {
            tracing::warn!(%group, %topic, error = %e, "cannot set up the share group's queue");
            continue;
        }
        if let Some(d) = broker.store.describe_topic(topic) {
            assigned.push(
                TopicPartitions::default()
                    .with_topic_id(d.meta.uuid)
                    .with_partitions((0..d.meta.partitions as i32).collect()),
            );
        }
    }
    response
        .with_member_id(Some(str_bytes(&member_id)))
        .with_member_epoch(epoch)
        .with_assignment(Some(Assignment::default().with_topic_partitions(assigned)))
}

/// What a departed member held goes back to the others.
pub(crate) async fn release_member(broker: &crate::Broker, group: &str, member: &str) {
    let queues = &broker.queues;
    for name in queues.group_names() {
        if (name == group || name.starts_with(&format!("{group}@")))
            && let Err(e) = queues.leave(&name, member).await
        {
            tracing::debug!(%name, %member, error = %e, "share member leave");
        }
    }
}
