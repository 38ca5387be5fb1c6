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

type Outcome = Result<Result<Vec<Receiver>, AppendError>, (ResponseError, String)>;

/// A produce request whose batches are all queued for the writer: what is
/// left is waiting for their group commit.
pub(crate) struct Submitted {
    acks: i16,
    version: i16,
    pending: Vec<(String, i32, Outcome)>,
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
    }
}

/// Waits for the group commits and builds the answer (`None` for acks=0).
pub(crate) async fn finish(s: Submitted) -> Option<ProduceResponse> {
    let Submitted {
        acks,
        version,
        pending,
    } = s;
    let mut topics: Vec<TopicProduceResponse> = Vec::new();
    for (name, index, outcome) in pending {
        let mut response = match outcome {
            Err((code, message)) => error(index, code, message),
            Ok(receivers) => collect(index, receivers).await,
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
) -> Result<Vec<Receiver>, AppendError> {
    let Ok(partition) = u32::try_from(partition) else {
        return Err(AppendError::UnknownPartition {
            topic: topic.to_owned(),
            partition: u32::MAX,
            count: 0,
        });
    };
    let mut receivers = Vec::new();
    for b in batch::split_batches(records)? {
        receivers.push(
            ctx.broker
                .store
                .submit_append_async(topic, partition, b)
                .await?,
        );
    }
    Ok(receivers)
}

async fn collect(
    index: i32,
    receivers: Result<Vec<Receiver>, AppendError>,
) -> PartitionProduceResponse {
    let receivers = match receivers {
        Ok(r) => r,
        Err(e) => return failed(index, &e),
    };
    let mut first = None;
    for rx in receivers {
        match rx.await {
            Ok(Ok(done)) => {
                first.get_or_insert(done);
            }
            Ok(Err(e)) => return failed(index, &e),
            Err(_) => return failed(index, &AppendError::Closed),
        }
    }
    let done = first.expect("split_batches never returns an empty list");
    PartitionProduceResponse::default()
        .with_index(index)
        .with_base_offset(done.base_offset as i64)
        .with_log_append_time_ms(-1)
        .with_log_start_offset(done.log_start as i64)
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
