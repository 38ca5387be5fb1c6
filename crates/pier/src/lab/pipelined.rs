//! A lab producer with several requests in flight on one connection
//! (`max.in.flight.requests.per.connection` above 1), as client libraries
//! send: the next batch leaves before the answer to the last one arrives.
//! Answers come in order; a refused batch goes to the retry queue, and is
//! sent again after the batches that were already in flight behind it.
//! Without idempotence those are stored first: the retry lands out of
//! order. With it, the broker refuses the ones behind the gap
//! (OUT_OF_ORDER_SEQUENCE_NUMBER) and they go again, in order, with their
//! sequence numbers.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::produce_response::ProduceResponse;
use pier_core::batch::ProducerStamp;
use tokio::time::{Instant, sleep, sleep_until, timeout};

use super::clients::{BACKOFF, ProducerOutcome, ProducerRun, build_batch, connect, record_id};
use crate::wire::{self, Conn};

/// One batch: made once, sent until acknowledged or given up.
struct Batch {
    ids: Vec<String>,
    partition: u32,
    at_ms: i64,
    due: Instant,
    /// `(producer id, epoch, base sequence)` once sent by an idempotent
    /// producer; a resend keeps it.
    stamp: Option<ProducerStamp>,
}

struct State {
    out: ProducerOutcome,
    conn: Option<Conn>,
    producer: Option<(i64, i16)>,
    sequences: BTreeMap<u32, i32>,
    in_flight: VecDeque<(Batch, Instant)>,
    retry: VecDeque<Batch>,
}

pub async fn produce_pipelined(run: ProducerRun, stop: Arc<AtomicBool>) -> ProducerOutcome {
    let mut st = State {
        out: ProducerOutcome {
            name: run.name.clone(),
            ..ProducerOutcome::default()
        },
        conn: None,
        producer: None,
        sequences: BTreeMap::new(),
        in_flight: VecDeque::new(),
        retry: VecDeque::new(),
    };
    sleep(run.start_after).await;
    let started = Instant::now();
    let (mut next, mut index) = (0u64, 0u64);
    loop {
        if stop.load(Ordering::Relaxed) {
            give_up_all(&run, &mut st, next);
            return st.out;
        }
        let due_next = (next < run.records)
            .then(|| started + Duration::from_secs_f64(next as f64 / run.rate as f64));
        if st.in_flight.len() < run.max_in_flight {
            // Retries first, then the next new batch once it is due.
            let batch = match st.retry.pop_front() {
                Some(b) => Some(b),
                None => match due_next {
                    Some(due) if due <= Instant::now() => {
                        let count = run.batch.min(run.records - next);
                        let b = Batch {
                            ids: (next..next + count)
                                .map(|n| record_id(&run.id_prefix, run.first_id + n))
                                .collect(),
                            partition: (index % u64::from(run.partitions)) as u32,
                            at_ms: pier_workbench::now_ms(),
                            due,
                            stamp: None,
                        };
                        next += count;
                        index += 1;
                        Some(b)
                    }
                    _ => None,
                },
            };
            if let Some(b) = batch {
                send(&run, &mut st, b).await;
                continue;
            }
        }
        if st.in_flight.is_empty() {
            match due_next {
                Some(due) => {
                    sleep_until(due).await;
                    continue;
                }
                None if st.retry.is_empty() => return st.out,
                None => continue,
            }
        }
        answer(&run, &mut st).await;
    }
}

/// Sends `b` (or gives it up when its delivery timeout passed).
async fn send(run: &ProducerRun, st: &mut State, mut b: Batch) {
    if b.due.elapsed() > run.delivery_timeout {
        give_up(run, st, b);
        return;
    }
    let c = match connect(run, &mut st.conn, &mut st.producer).await {
        Ok(c) => c,
        Err(e) => {
            st.out.error(format!("{e:#}"));
            st.retry.push_front(b);
            sleep(BACKOFF).await;
            return;
        }
    };
    if let Some((id, epoch)) = st.producer
        && b.stamp.is_none_or(|s| s.producer_id != id)
    {
        let seq = st.sequences.entry(b.partition).or_default();
        b.stamp = Some(ProducerStamp {
            producer_id: id,
            producer_epoch: epoch,
            base_sequence: *seq,
        });
        *seq += b.ids.len() as i32;
    }
    let records = build_batch(&b.ids, b.at_ms, b.stamp);
    let req = wire::produce_request(&run.topic, b.partition as i32, records, run.acks);
    if let Err(e) = c.send(ApiKey::Produce, wire::PRODUCE_VERSION, &req).await {
        st.out.error(format!("{e:#}"));
        st.conn = None;
        st.retry.push_front(b);
        requeue_in_flight(st);
        return;
    }
    st.in_flight.push_back((b, Instant::now()));
}

/// Waits for the oldest request's answer.
async fn answer(run: &ProducerRun, st: &mut State) {
    let Some(c) = st.conn.as_mut() else {
        requeue_in_flight(st);
        return;
    };
    let sent = st
        .in_flight
        .front()
        .map(|(_, at)| *at)
        .expect("one in flight");
    let wait = run.request_timeout.saturating_sub(sent.elapsed());
    let resp: anyhow::Result<ProduceResponse> =
        match timeout(wait, c.recv(ApiKey::Produce, wire::PRODUCE_VERSION)).await {
            Ok(r) => r,
            Err(_) => Err(anyhow::anyhow!("request timed out")),
        };
    let (b, _) = st.in_flight.pop_front().expect("one in flight");
    let refused = match resp {
        // The connection is gone: everything on it goes again.
        Err(e) => {
            st.out.error(format!("{e:#}"));
            st.retry.push_back(b);
            st.conn = None;
            requeue_in_flight(st);
            return;
        }
        Ok(r) => wire::check_produce(&r),
    };
    match refused {
        Ok(()) => {
            let at = run.epoch.elapsed().as_millis() as u64;
            st.out
                .acked_at
                .extend(b.ids.iter().map(|id| (id.clone(), at)));
            run.progress.acked(b.ids.len() as u64);
            st.out.acknowledged.extend(b.ids);
        }
        // Refused (a retriable error): it goes again after what is in
        // flight behind it.
        Err(e) => {
            st.out.error(format!("{e:#}"));
            st.out.resends += 1;
            st.retry.push_back(b);
        }
    }
}

/// The requests in flight on a broken connection go to the retry queue,
/// in the order they were sent.
fn requeue_in_flight(st: &mut State) {
    let mut lost: Vec<Batch> = st.in_flight.drain(..).map(|(b, _)| b).collect();
    st.out.resends += lost.len() as u64;
    lost.reverse();
    for b in lost {
        st.retry.push_front(b);
    }
    st.retry.make_contiguous().sort_by_key(|b| b.due);
}

fn give_up(run: &ProducerRun, st: &mut State, b: Batch) {
    st.out.error(format!(
        "delivery timeout: {} records given up after {} ms",
        b.ids.len(),
        run.delivery_timeout.as_millis()
    ));
    st.out.unacknowledged.extend(b.ids);
    if st.producer.is_some() {
        // A hole in the sequence: start over with a new producer id.
        st.producer = None;
        st.sequences.clear();
        st.conn = None;
    }
}

fn give_up_all(run: &ProducerRun, st: &mut State, next: u64) {
    let held = st
        .in_flight
        .drain(..)
        .map(|(b, _)| b)
        .chain(st.retry.drain(..))
        .flat_map(|b| b.ids);
    st.out.unacknowledged.extend(held);
    st.out
        .unacknowledged
        .extend((next..run.records).map(|n| record_id(&run.id_prefix, run.first_id + n)));
}
