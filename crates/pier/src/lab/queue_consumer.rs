//! The lab's queue-group consumer: Pier's per-record acknowledgement
//! (leases, redelivery with backoff, dead letters; `docs/queues.md`),
//! called in process as the HTTP API calls it. Each record is accepted
//! after it is processed; a poison record fails every time and is
//! released for retry. A crash leaves the held leases to run out, so the
//! records in flight, and only those, come again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pier_workbench::{AckItem, AckKind, AckRequest, QueueSettings, ReceiveRequest, Workbench};
use tokio::time::sleep;

use super::clients::BACKOFF;
use super::consumer::{ConsumerOutcome, ConsumerRun};

/// How a queue consumer is set up, beside a classic one's settings.
#[derive(Debug, Clone)]
pub struct QueueRun {
    pub base: ConsumerRun,
    pub lease: Duration,
    pub max_deliveries: u32,
    pub backoff: Duration,
    /// Records whose `n` is a multiple of this fail every time (poison)…
    pub poison_every: Option<u64>,
    /// …until the fix is deployed (a `fix` step).
    pub fixed: Arc<AtomicBool>,
}

impl QueueRun {
    /// Whether processing record `id` fails now.
    pub fn fails(&self, id: &str) -> bool {
        !self.fixed.load(Ordering::Relaxed) && poison(id, self.poison_every)
    }
}

/// Sets the group's leases, delivery limit and backoff (a share group
/// takes its settings from the queue group of the same name).
pub(super) async fn configure(wb: &Workbench, run: &QueueRun) -> Result<(), String> {
    let base = &run.base;
    let settings = QueueSettings {
        topic: Some(base.topic.clone()),
        lease_ms: Some(run.lease.as_millis() as u64),
        max_deliveries: Some(run.max_deliveries),
        backoff_base_ms: Some(run.backoff.as_millis() as u64),
        backoff_max_ms: Some(run.backoff.as_millis() as u64 * 8),
        ..QueueSettings::default()
    };
    wb.configure_queue(&base.group, settings)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

pub(super) fn poison(id: &str, every: Option<u64>) -> bool {
    let n = id.rsplit('-').next().and_then(|n| n.parse::<u64>().ok());
    matches!((n, every), (Some(n), Some(e)) if n % e == 0)
}

pub async fn consume_queue(
    wb: Workbench,
    run: QueueRun,
    done: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> ConsumerOutcome {
    let base = &run.base;
    let mut out = ConsumerOutcome {
        name: base.name.clone(),
        ..ConsumerOutcome::default()
    };
    if let Err(e) = configure(&wb, &run).await {
        out.errors.push(e);
        return out;
    }
    let mut processed_total = 0u64;
    let mut crashed = false;
    while !stop.load(Ordering::Relaxed) {
        let finished = done.load(Ordering::Relaxed);
        let req = ReceiveRequest {
            consumer: base.name.clone(),
            max_records: Some(base.max_poll_records as u32),
            lease_ms: None,
            wait_ms: Some(100),
            topic: None,
        };
        let batch = match wb.receive(&base.group, req).await {
            Ok(b) => b,
            Err(e) => {
                note(&mut out, e.to_string());
                sleep(BACKOFF).await;
                continue;
            }
        };
        if batch.is_empty() {
            if finished && drained(&wb, &base.group) {
                break;
            }
            continue;
        }
        let mut crash_at = None;
        for (i, m) in batch.iter().enumerate() {
            if !crashed && i > 0 && base.crash_after.is_some_and(|n| processed_total >= n) {
                crash_at = Some(i);
                break;
            }
            if !base.processing.is_zero() {
                sleep(base.processing).await;
            }
            let id = m.message.value.clone().unwrap_or_default();
            let fails = run.fails(&id);
            if !fails {
                out.processed(base, &id);
                processed_total += 1;
            }
            let ack = AckItem {
                partition: m.message.partition,
                offset: m.message.offset,
                delivery: Some(m.delivery),
                action: if fails {
                    AckKind::Release
                } else {
                    AckKind::Accept
                },
                delay_ms: None,
                reason: None,
                lease_ms: None,
            };
            let req = AckRequest {
                consumer: base.name.clone(),
                acks: vec![ack],
            };
            if let Err(e) = wb.acknowledge(&base.group, req).await {
                note(&mut out, e.to_string());
            }
        }
        if let Some(i) = crash_at {
            // The process dies holding leases: they run out, and the
            // records come again to whoever receives next.
            crashed = true;
            out.crashes += 1;
            out.dropped_at_crash = batch[i..]
                .iter()
                .map(|m| m.message.value.clone().unwrap_or_default())
                .collect();
            if !base.restart {
                break;
            }
            sleep(base.restart_after).await;
        }
    }
    out
}

/// Nothing left to hand out or settle (poison records waiting for their
/// next try are not drained).
pub(super) fn drained(wb: &Workbench, group: &str) -> bool {
    wb.queue_group(group)
        .is_ok_and(|q| q.backlog == 0 && q.in_flight == 0 && q.waiting == 0)
}

fn note(out: &mut ConsumerOutcome, e: String) {
    if out.errors.len() < 5 {
        out.errors.push(e);
    }
}
