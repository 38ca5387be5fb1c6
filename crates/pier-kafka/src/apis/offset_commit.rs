//! OffsetCommit: checked against the group's generation (classic) or the
//! member's epoch (KIP-848 consumer groups), stored durably before the
//! answer. Needs READ on the group (else
//! GROUP_AUTHORIZATION_FAILED for every partition) and on each topic (else
//! TOPIC_AUTHORIZATION_FAILED for its partitions).

use kafka_protocol::ResponseError;
use kafka_protocol::messages::offset_commit_request::OffsetCommitRequest;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponse, OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use pier_core::AdminCommand;
use pier_core::store::{CommittedOffset, OFFSET_METADATA_MAX_BYTES};

use super::groups;
use crate::acl::{Operation, Resource};
use crate::broker::Ctx;

pub(crate) async fn handle(ctx: &Ctx, request: OffsetCommitRequest) -> OffsetCommitResponse {
    let group = request.group_id.0.to_string();
    let group_error = if ctx.authorize(Resource::Group, &group, Operation::Read) {
        let member = request.member_id.as_str();
        let epoch = request.generation_id_or_member_epoch;
        // A consumer-protocol (KIP-848) member commits with its member
        // epoch: STALE_MEMBER_EPOCH or FENCED_MEMBER_EPOCH when it is not
        // the current one, as Kafka.
        match ctx
            .broker
            .consumer_groups
            .validate_commit(&group, member, epoch)
        {
            Ok(true) => None,
            Err(e) => Some(super::consumer_group_heartbeat::code(&e).code()),
            Ok(false) => {
                let check = ctx.broker.groups.validate_commit(&group, member, epoch);
                check.err().map(|e| groups::code(&e))
            }
        }
    } else {
        Some(ResponseError::GroupAuthorizationFailed.code())
    };
    let mut accepted = Vec::new();
    let mut codes = Vec::new();
    for t in &request.topics {
        let name = t.name.0.to_string();
        let known = ctx
            .broker
            .store
            .describe_topic(&name)
            .map(|d| d.meta.partitions);
        let allowed =
            group_error.is_some() || ctx.authorize(Resource::Topic, &name, Operation::Read);
        for p in &t.partitions {
            let metadata = p
                .committed_metadata
                .as_deref()
                .unwrap_or_default()
                .to_owned();
            let code = if let Some(code) = group_error {
                code
            } else if !allowed {
                ResponseError::TopicAuthorizationFailed.code()
            } else if known.is_none_or(|n| p.partition_index < 0 || p.partition_index as u32 >= n) {
                ResponseError::UnknownTopicOrPartition.code()
            } else if metadata.len() > OFFSET_METADATA_MAX_BYTES {
                ResponseError::OffsetMetadataTooLarge.code()
            } else {
                let c = CommittedOffset {
                    offset: p.committed_offset,
                    metadata,
                };
                accepted.push((name.clone(), p.partition_index as u32, c));
                0
            };
            codes.push(code);
        }
    }
    if !accepted.is_empty() {
        ctx.broker
            .config
            .attribution
            .remember(&ctx.client_id, ctx.peer.ip(), &group);
        let command = AdminCommand::CommitOffsets {
            group: group.clone(),
            offsets: accepted.clone(),
        };
        let stored = ctx.broker.store.admin(command).await.is_ok();
        if stored {
            note_commits(ctx, &group, request.member_id.as_str(), &accepted);
        } else {
            let failed = ResponseError::KafkaStorageError.code();
            codes
                .iter_mut()
                .filter(|c| **c == 0)
                .for_each(|c| *c = failed);
        }
    }
    let mut codes = codes.into_iter();
    let topics = request
        .topics
        .into_iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    OffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(codes.next().unwrap_or_default())
                })
                .collect();
            OffsetCommitResponseTopic::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}

/// Tells the ledger; a commit past records never sent to the group is
/// found there.
fn note_commits(ctx: &Ctx, group: &str, member: &str, accepted: &[(String, u32, CommittedOffset)]) {
    let ledger = &ctx.broker.config.ledger;
    if !ledger.enabled() {
        return;
    }
    let now_ms = ctx.broker.store.now_ms();
    let member = if member.is_empty() {
        format!("{} at {}", ctx.client_id, ctx.peer)
    } else {
        member.to_owned()
    };
    for (topic, partition, c) in accepted {
        let (Ok(offset), Ok((log_start, _))) = (
            u64::try_from(c.offset),
            ctx.broker.store.offsets(topic, *partition),
        ) else {
            continue;
        };
        ledger.committed(group, &member, topic, *partition, offset, log_start, now_ms);
    }
}
