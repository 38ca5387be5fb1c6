//! Fetch: reads whole batches from each partition; if fewer than
//! `min_bytes` are ready, waits for the next commit (never polls) until
//! `max_wait_ms`. No fetch sessions: session id 0 asks for full fetches.
//! Needs READ on each topic (else TOPIC_AUTHORIZATION_FAILED per partition).

use std::time::Duration;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::fetch_request::FetchRequest;
use kafka_protocol::messages::fetch_response::{
    FetchResponse, FetchableTopicResponse, PartitionData,
};
use pier_core::ReadError;

use crate::acl::{Operation, Resource};
use crate::broker::Ctx;

/// Upper bound on how long a fetch may wait, whatever the client asks.
pub(crate) const FETCH_MAX_WAIT_MS: i32 = 30_000;

pub(crate) async fn handle(ctx: &Ctx, request: FetchRequest, version: i16) -> FetchResponse {
    let wait = Duration::from_millis(request.max_wait_ms.clamp(0, FETCH_MAX_WAIT_MS) as u64);
    let deadline = tokio::time::Instant::now() + wait;
    let min_bytes = request.min_bytes.max(0) as usize;
    let mut commits = ctx.broker.store.subscribe_commits();
    // Decided once per request, not on every wake-up.
    let allowed: Vec<bool> = request
        .topics
        .iter()
        .map(|t| ctx.authorize(Resource::Topic, t.topic.0.as_str(), Operation::Read))
        .collect();
    let response = loop {
        commits.mark_unchanged();
        let (response, bytes, errors) = read_all(ctx, &request, &allowed, version);
        if bytes >= min_bytes.max(1) || errors || wait.is_zero() {
            break response;
        }
        if tokio::time::timeout_at(deadline, commits.changed())
            .await
            .is_err()
        {
            break read_all(ctx, &request, &allowed, version).0;
        }
    };
    note_deliveries(ctx, &request, &response);
    response
}

/// Tells the ledger which records this answer carries, from the requested
/// offset (earlier records of the first batch are skipped by the client).
fn note_deliveries(ctx: &Ctx, request: &FetchRequest, response: &FetchResponse) {
    let ledger = &ctx.broker.config.ledger;
    if !ledger.enabled() {
        return;
    }
    let now_ms = ctx.broker.store.now_ms();
    for (t, answer) in request.topics.iter().zip(&response.responses) {
        for (p, data) in t.partitions.iter().zip(&answer.partitions) {
            let records = data.records.as_deref().unwrap_or_default();
            let (Some(to), Ok(from), Ok(partition)) = (
                pier_core::batch::last_offset_in(records),
                u64::try_from(p.fetch_offset),
                u32::try_from(p.partition),
            ) else {
                continue;
            };
            if to < from {
                continue;
            }
            let topic = t.topic.0.as_str();
            let who = ctx
                .broker
                .config
                .attribution
                .resolve(ctx, topic, partition, now_ms);
            ledger.fetched(&pier_core::ledger::Fetched {
                topic,
                partition,
                from,
                to,
                connection: ctx.connection,
                group: &who.group,
                kind: who.kind,
                who: &who.who,
                rule: who.rule,
                at_ms: now_ms,
            });
        }
    }
}

/// `allowed[i]`: whether the client may read `request.topics[i]`.
fn read_all(
    ctx: &Ctx,
    request: &FetchRequest,
    allowed: &[bool],
    version: i16,
) -> (FetchResponse, usize, bool) {
    let store = &ctx.broker.store;
    let mut budget = if request.max_bytes <= 0 {
        usize::MAX
    } else {
        request.max_bytes as usize
    };
    let mut total = 0;
    let mut errors = false;
    let mut topics = Vec::with_capacity(request.topics.len());
    for (t, allowed) in request.topics.iter().zip(allowed) {
        let name = t.topic.0.as_str();
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in &t.partitions {
            let base = PartitionData::default()
                .with_partition_index(p.partition)
                .with_records(Some(bytes::Bytes::new()))
                .with_high_watermark(-1)
                .with_last_stable_offset(-1)
                .with_log_start_offset(-1);
            if !allowed {
                errors = true;
                partitions
                    .push(base.with_error_code(ResponseError::TopicAuthorizationFailed.code()));
                continue;
            }
            let offset = u64::try_from(p.fetch_offset).unwrap_or(u64::MAX);
            let max = (p.partition_max_bytes.max(0) as usize).min(budget);
            let data = match store.read(name, p.partition as u32, offset, max) {
                Ok(read) => {
                    total += read.records.len();
                    budget = budget.saturating_sub(read.records.len());
                    base.with_high_watermark(read.high_watermark as i64)
                        .with_last_stable_offset(read.high_watermark as i64)
                        .with_log_start_offset(read.log_start as i64)
                        .with_records(Some(read.records))
                }
                Err(e) => {
                    errors = true;
                    let code = match &e {
                        ReadError::OffsetOutOfRange { .. } => ResponseError::OffsetOutOfRange,
                        ReadError::UnknownTopic(_) | ReadError::UnknownPartition { .. } => {
                            ResponseError::UnknownTopicOrPartition
                        }
                        ReadError::Storage(_) => ResponseError::KafkaStorageError,
                    };
                    let mut data = base.with_error_code(code.code());
                    if let ReadError::OffsetOutOfRange {
                        log_start,
                        high_watermark,
                        ..
                    } = e
                    {
                        data = data
                            .with_high_watermark(high_watermark as i64)
                            .with_last_stable_offset(high_watermark as i64)
                            .with_log_start_offset(log_start as i64);
                    }
                    data
                }
            };
            let mut data = data;
            if version < 5 {
                data.log_start_offset = -1;
            }
            partitions.push(data);
        }
        topics.push(
            FetchableTopicResponse::default()
                .with_topic(t.topic.clone())
                .with_partitions(partitions),
        );
    }
    (
        FetchResponse::default().with_responses(topics),
        total,
        errors,
    )
}
