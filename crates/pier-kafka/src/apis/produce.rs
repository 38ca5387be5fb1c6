//! Produce: each partition's batches go to the store; the answer waits for
//! the group commit's fdatasync (acks 1 and -1 alike: one replica).
//! Needs WRITE on the topic (else TOPIC_AUTHORIZATION_FAILED per
//! partition); creating a missing topic also needs CREATE.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::produce_request::ProduceRequest;
use kafka_protocol::messages::produce_response::{
    PartitionProduceResponse, ProduceResponse, TopicProduceResponse,
};
use pier_core::batch;
use pier_core::{AppendError, topic};

use super::{append_error, str_bytes};
use crate::acl::{Operation, Resource};
use crate::broker::Ctx;

pub(crate) async fn handle(
    ctx: &Ctx,
    request: ProduceRequest,
    version: i16,
) -> Option<ProduceResponse> {
    finish(submit_all(ctx, request, version).await).await
}

/// Each batch's answer from the writer, with what the ledger needs of the
/// batch (read while its bytes are still in cache).
type Pending = Vec<(Receiver, Option<Noted>)>;

/// A batch's header, and its records' fingerprints when it comes from a
/// producer without idempotence (idempotent producers cannot store a retry
/// twice: the writer checks sequences).
struct Noted {
    header: batch::BatchHeader,
    fingerprints: Option<pier_core::ledger::Fingerprints>,
}

impl Noted {
    fn of(b: &bytes::Bytes) -> Noted {
        let header = batch::header_of(b);
        let fingerprints = (header.producer_id < 0)
            .then(|| pier_core::ledger::fingerprints(b, header.compression))
            .flatten();
        Noted {
            header,
            fingerprints,
        }
    }
}
type Outcome = Result<Result<Pending, AppendError>, (ResponseError, String)>;

/// A produce request whose batches are all queued for the writer: what is
/// left is waiting for their group commit.
pub(crate) struct Submitted {
    acks: i16,
    version: i16,
    pending: Vec<(String, i32, Outcome)>,
    ctx: Ctx,
}

/// Validates and queues every batch, in order. When this returns, the
/// request's place in each partition's log is fixed, so a connection may
/// read and submit the next request before this one is answered.
pub(crate) async fn submit_all(ctx: &Ctx, request: ProduceRequest, version: i16) -> Submitted {
    let acks = request.acks;
    let transactional = request.transactional_id.is_some();
    // Submit everything first so all partitions share one group commit.
    let mut pending = Vec::new();
    for topic_data in request.topic_data {
        let name = topic_data.name.0.to_string();
        // Authorization first, as Kafka: a refused client learns nothing
        // about the topic. Nothing of a refused topic reaches the store.
        let known = if !ctx.authorize(Resource::Topic, &name, Operation::Write) {
            Err(ResponseError::TopicAuthorizationFailed)
        } else if topic::validate_name(&name).is_err() || topic::is_internal(&name) {
            Err(ResponseError::InvalidTopicException)
        } else {
            match ctx.ensure_topic(&name, true).await {
                Ok(true) => Ok(()),
                Ok(false) => Err(ResponseError::UnknownTopicOrPartition),
                Err(_) => Err(ResponseError::KafkaStorageError),
            }
        };
        for partition in topic_data.partition_data {
            let index = partition.index;
            let outcome = match (&known, transactional) {
                (_, true) => Err((
                    ResponseError::TransactionalIdAuthorizationFailed,
                    "transactions are not supported".into(),
                )),
                (Err(code), _) => Err((*code, format!("topic {name:?}"))),
                (Ok(()), false) => {
                    Ok(submit(ctx, &name, index, partition.records.unwrap_or_default()).await)
                }
            };
            pending.push((name.clone(), index, outcome));
        }
    }
    Submitted {
        acks,
        version,
        pending,
        ctx: ctx.clone(),
    }
}

/// A produce request refused whole with NOT_LEADER_OR_FOLLOWER (the
/// `fail_produce` fault): nothing of it reaches the store.
pub(crate) fn refuse_all(ctx: &Ctx, request: ProduceRequest, version: i16) -> Submitted {
    let pending = request
        .topic_data
        .into_iter()
        .flat_map(|t| {
            let name = t.name.0.to_string();
            t.partition_data.into_iter().map(move |p| {
                let message = "injected fault: the partition's leader is changing".to_owned();
                (
                    name.clone(),
                    p.index,
                    Err((ResponseError::NotLeaderOrFollower, message)),
                )
            })
        })
        .collect();
    Submitted {
        acks: request.acks,
        version,
        pending,
        ctx: ctx.clone(),
    }
}

/// Waits for the group commits and builds the answer (`None` for acks=0).
pub(crate) async fn finish(s: Submitted) -> Option<ProduceResponse> {
    let Submitted {
        acks,
        version,
        pending,
        ctx,
    } = s;
    let mut topics: Vec<TopicProduceResponse> = Vec::new();
    for (name, index, outcome) in pending {
        let mut response = match outcome {
            Err((code, message)) => error(index, code, message),
            Ok(receivers) => {
                let (response, stored) = collect(index, receivers).await;
                note_produced(&ctx, acks, &name, index, stored);
                response
            }
        };
        if version < 5 {
            response.log_start_offset = -1;
        }
        if version < 8 {
            response.error_message = None;
        }
        match topics.last_mut() {
            Some(t) if t.name.0.as_str() == name => t.partition_responses.push(response),
            _ => topics.push(
                TopicProduceResponse::default()
                    .with_name(super::topic_name(&name))
                    .with_partition_responses(vec![response]),
            ),
        }
    }
    (acks != 0).then(|| ProduceResponse::default().with_responses(topics))
}

type Receiver = tokio::sync::oneshot::Receiver<Result<pier_core::Appended, AppendError>>;

async fn submit(
    ctx: &Ctx,
    topic: &str,
    partition: i32,
    records: bytes::Bytes,
) -> Result<Pending, AppendError> {
    let Ok(partition) = u32::try_from(partition) else {
        return Err(AppendError::UnknownPartition {
            topic: topic.to_owned(),
            partition: u32::MAX,
            count: 0,
        });
    };
    let mut receivers = Vec::new();
    let ledger = ctx.broker.config.ledger.enabled();
    for b in batch::split_batches(records)? {
        let noted = ledger.then(|| Noted::of(&b));
        let rx = ctx
            .broker
            .store
            .submit_append_async(topic, partition, b)
            .await?;
        receivers.push((rx, noted));
    }
    Ok(receivers)
}

/// The answer for one partition, and the batches stored (even when a later
/// one failed: those are in the log all the same).
async fn collect(
    index: i32,
    receivers: Result<Pending, AppendError>,
) -> (
    PartitionProduceResponse,
    Vec<(pier_core::Appended, Option<Noted>)>,
) {
    let receivers = match receivers {
        Ok(r) => r,
        Err(e) => return (failed(index, &e), Vec::new()),
    };
    let mut stored = Vec::with_capacity(receivers.len());
    for (rx, b) in receivers {
        match rx.await {
            Ok(Ok(done)) => stored.push((done, b)),
            Ok(Err(e)) => return (failed(index, &e), stored),
            Err(_) => return (failed(index, &AppendError::Closed), stored),
        }
    }
    let done = stored
        .first()
        .expect("split_batches never returns an empty list")
        .0;
    let response = PartitionProduceResponse::default()
        .with_index(index)
        .with_base_offset(done.base_offset as i64)
        .with_log_append_time_ms(-1)
        .with_log_start_offset(done.log_start as i64);
    (response, stored)
}

/// Tells the ledger where each batch went and how it was acknowledged.
fn note_produced(
    ctx: &Ctx,
    acks: i16,
    topic: &str,
    partition: i32,
    stored: Vec<(pier_core::Appended, Option<Noted>)>,
) {
    let ledger = &ctx.broker.config.ledger;
    if stored.is_empty() || !ledger.enabled() {
        return;
    }
    let fsync = ctx.broker.store.fsync_enabled();
    let at_ms = ctx.broker.store.now_ms();
    for (done, noted) in stored {
        // Switched on after the batch was submitted: nothing to tell.
        let Some(Noted {
            header: h,
            fingerprints,
        }) = noted
        else {
            continue;
        };
        let producer = pier_core::ledger::ProducerKey {
            client_id: ctx.client_id.clone(),
            address: ctx.peer_text.clone(),
            producer_id: h.producer_id,
            producer_epoch: h.producer_epoch,
        };
        ledger.produced(&pier_core::ledger::Produced {
            topic,
            partition: partition as u32,
            first_offset: done.base_offset,
            last_offset: done.last_offset,
            producer: &producer,
            base_sequence: h.base_sequence,
            acks,
            fsync,
            first_timestamp_ms: h.first_timestamp_ms,
            max_timestamp_ms: h.max_timestamp_ms,
            fingerprints,
            connection: ctx.connection,
            at_ms,
        });
    }
}

fn failed(index: i32, e: &AppendError) -> PartitionProduceResponse {
    error(index, append_error(e), e.to_string())
}

fn error(index: i32, code: ResponseError, message: String) -> PartitionProduceResponse {
    PartitionProduceResponse::default()
        .with_index(index)
        .with_error_code(code.code())
        .with_base_offset(-1)
        .with_log_append_time_ms(-1)
        .with_log_start_offset(-1)
        .with_error_message(Some(str_bytes(&message)))
}
