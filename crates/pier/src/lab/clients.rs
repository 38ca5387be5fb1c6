//! The lab's simulated clients: Kafka clients over Pier's own listener, so
//! the toxics, the ledger and every fault see them as they see a real
//! client. Each keeps its own record of what it sent, had acknowledged
//! and processed (record ids `<client>-<n>` in keys and values), which the
//! lab sets beside the ledger's verdicts.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use kafka_protocol::messages::init_producer_id_request::InitProducerIdRequest;
use kafka_protocol::messages::init_producer_id_response::InitProducerIdResponse;
use kafka_protocol::messages::produce_response::ProduceResponse;
use kafka_protocol::messages::{ApiKey, ProducerId};
use kafka_protocol::records::Compression;
use pier_core::batch::{self, NewRecord, ProducerStamp};
use tokio::time::{Instant, sleep, timeout};

use crate::wire::{self, Conn};

pub use super::consumer::{ConsumerOutcome, ConsumerRun, consume};

/// How long a client waits before it reconnects after an error.
pub(super) const BACKOFF: Duration = Duration::from_millis(50);

/// What a producer is asked to do.
#[derive(Debug, Clone)]
pub struct ProducerRun {
    pub name: String,
    /// Record ids are `<id_prefix>-<n>`, `n` from `first_id`.
    pub id_prefix: String,
    pub first_id: u64,
    pub start_after: Duration,
    pub client_id: String,
    pub addr: String,
    pub topic: String,
    pub partitions: u32,
    pub records: u64,
    pub rate: u64,
    pub batch: u64,
    pub acks: i16,
    pub idempotence: bool,
    pub request_timeout: Duration,
    pub delivery_timeout: Duration,
    /// `max.in.flight.requests.per.connection`.
    pub max_in_flight: usize,
    /// When the variant started (acknowledgement times count from it).
    pub epoch: Instant,
    pub progress: Arc<super::progress::Progress>,
}

/// What a producer did, by its own account.
#[derive(Debug, Default, Clone)]
pub struct ProducerOutcome {
    pub name: String,
    /// Record ids acknowledged (with acks=0: sent).
    pub acknowledged: BTreeSet<String>,
    /// Record id → when it was acknowledged (ms into the variant).
    pub acked_at: BTreeMap<String, u64>,
    /// Record ids given up on: their delivery timeout passed, or the lab
    /// stopped the producer first.
    pub unacknowledged: BTreeSet<String>,
    /// Requests sent again after an error or a timeout.
    pub resends: u64,
    /// The first errors it met, for the report.
    pub errors: Vec<String>,
}

impl ProducerOutcome {
    pub(super) fn error(&mut self, e: impl std::fmt::Display) {
        if self.errors.len() < 5 {
            self.errors.push(e.to_string());
        }
    }
}

/// `<client>-<n>`: the id a record carries as its key and value.
pub fn record_id(client: &str, n: u64) -> String {
    format!("{client}-{n}")
}

/// Sends `records` at `rate`, `batch` at a time, one request in flight;
/// an error or a timeout closes the connection and the same batch goes
/// again on a new one, as a client library does. Stops early when `stop`
/// is set.
pub async fn produce(run: ProducerRun, stop: Arc<AtomicBool>) -> ProducerOutcome {
    if run.max_in_flight > 1 && run.acks != 0 {
        return super::pipelined::produce_pipelined(run, stop).await;
    }
    let mut out = ProducerOutcome {
        name: run.name.clone(),
        ..ProducerOutcome::default()
    };
    tokio::time::sleep(run.start_after).await;
    let started = Instant::now();
    let mut conn: Option<Conn> = None;
    let mut stamp: Option<(i64, i16)> = None;
    let mut sequences: BTreeMap<u32, i32> = BTreeMap::new();
    let mut next = 0u64;
    let mut index = 0u64;
    while next < run.records {
        let count = run.batch.min(run.records - next);
        // Keep to the rate: this batch leaves when its first record is due.
        let due = started + Duration::from_secs_f64(next as f64 / run.rate as f64);
        tokio::time::sleep_until(due).await;
        let ids: Vec<String> = (next..next + count)
            .map(|n| record_id(&run.id_prefix, run.first_id + n))
            .collect();
        let partition = (index % u64::from(run.partitions)) as u32;
        // A batch is made once: a resend carries the same records, with
        // the same timestamps (and, when idempotent, the same sequence).
        let at_ms = pier_workbench::now_ms();
        let mut sent_once = false;
        let mut delivered = true;
        loop {
            if due.elapsed() > run.delivery_timeout {
                // delivery.timeout.ms: the application's send fails.
                out.error(format!(
                    "delivery timeout: {count} records given up after {} ms",
                    run.delivery_timeout.as_millis()
                ));
                out.unacknowledged.extend(ids.iter().cloned());
                delivered = false;
                // An idempotent producer starts over with a new id (its
                // sequence has a hole now), as the Java client bumps its
                // epoch.
                if stamp.is_some() {
                    stamp = None;
                    sequences.clear();
                    conn = None;
                }
                break;
            }
            if stop.load(Ordering::Relaxed) {
                out.unacknowledged.extend(ids.iter().cloned());
                out.unacknowledged.extend(
                    (next + count..run.records)
                        .map(|n| record_id(&run.id_prefix, run.first_id + n)),
                );
                return out;
            }
            if sent_once {
                out.resends += 1;
            }
            sent_once = true;
            let c = match connect(&run, &mut conn, &mut stamp).await {
                Ok(c) => c,
                Err(e) => {
                    out.error(format!("{e:#}"));
                    sleep(BACKOFF).await;
                    continue;
                }
            };
            let producer = stamp.map(|(id, epoch)| ProducerStamp {
                producer_id: id,
                producer_epoch: epoch,
                base_sequence: *sequences.get(&partition).unwrap_or(&0),
            });
            let records = build_batch(&ids, at_ms, producer);
            // A request waits no longer than the batch has left to live.
            let wait = run
                .request_timeout
                .min(run.delivery_timeout.saturating_sub(due.elapsed()))
                .max(Duration::from_millis(1));
            match send(c, &run, partition, records, wait).await {
                Ok(()) => break,
                Err(e) => {
                    out.error(format!("{e:#}"));
                    conn = None;
                    sleep(BACKOFF).await;
                }
            }
        }
        next += count;
        index += 1;
        if !delivered {
            continue;
        }
        if stamp.is_some() {
            *sequences.entry(partition).or_default() += count as i32;
        }
        let at = run.epoch.elapsed().as_millis() as u64;
        out.acked_at.extend(ids.iter().map(|id| (id.clone(), at)));
        run.progress.acked(count);
        out.acknowledged.extend(ids);
    }
    out
}

/// The open connection, or a new one (with a producer id when idempotent;
/// the id is kept across reconnections, so a resend has the same id and
/// sequence).
pub(super) async fn connect<'a>(
    run: &ProducerRun,
    conn: &'a mut Option<Conn>,
    stamp: &mut Option<(i64, i16)>,
) -> anyhow::Result<&'a mut Conn> {
    if conn.is_none() {
        let mut c = Conn::open(&run.addr, None)
            .await?
            .with_client_id(&run.client_id);
        if run.idempotence && stamp.is_none() {
            let req = InitProducerIdRequest::default()
                .with_transactional_id(None)
                .with_transaction_timeout_ms(60_000)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1);
            let resp: InitProducerIdResponse =
                timeout(run.request_timeout, c.call(ApiKey::InitProducerId, 4, &req))
                    .await
                    .context("InitProducerId timed out")??;
            if resp.error_code != 0 {
                bail!("InitProducerId: Kafka error code {}", resp.error_code);
            }
            *stamp = Some((resp.producer_id.0, resp.producer_epoch));
        }
        *conn = Some(c);
    }
    Ok(conn.as_mut().expect("just opened"))
}

pub(super) fn build_batch(ids: &[String], now: i64, producer: Option<ProducerStamp>) -> Bytes {
    let records: Vec<NewRecord> = ids
        .iter()
        .map(|id| NewRecord {
            key: Some(Bytes::from(id.clone())),
            value: Some(Bytes::from(id.clone())),
            headers: Vec::new(),
            timestamp_ms: now,
        })
        .collect();
    batch::build(&records, Compression::None, producer)
}

async fn send(
    c: &mut Conn,
    run: &ProducerRun,
    partition: u32,
    records: Bytes,
    wait: Duration,
) -> anyhow::Result<()> {
    let req = wire::produce_request(&run.topic, partition as i32, records, run.acks);
    if run.acks == 0 {
        c.send(ApiKey::Produce, wire::PRODUCE_VERSION, &req).await?;
        return Ok(());
    }
    let resp: ProduceResponse = timeout(wait, c.call(ApiKey::Produce, wire::PRODUCE_VERSION, &req))
        .await
        .context("request timed out")??;
    wire::check_produce(&resp)
}
