//! The workloads: produce (sequential or pipelined), consume, end to end.
//! Every producer and consumer has its own connection and task.

use std::collections::VecDeque;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::messages::fetch_response::FetchResponse;
use kafka_protocol::messages::produce_response::ProduceResponse;

use super::{Case, Outcome, Plan};
use pier::wire::{
    self, Conn, FETCH_VERSION, PRODUCE_VERSION, check_produce, fetch_request, fetched,
    produce_request,
};

/// Counts records across tasks and prints a progress line on stderr a few
/// times a second until dropped.
pub struct Progress {
    pub done: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Progress {
    pub fn start(case: Case) -> Self {
        let done = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (d, s) = (done.clone(), stop.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                if s.load(Ordering::Relaxed) {
                    return;
                }
                let n = d.load(Ordering::Relaxed);
                let rate = n as f64 / started.elapsed().as_secs_f64().max(1e-9);
                eprint!("\r{case:?}: {n} records, {rate:.0}/s   ");
                let _ = std::io::stderr().flush();
            }
        });
        Self { done, stop }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        eprint!("\r\x1b[K");
    }
}

/// Waits for every task; the first failure wins.
async fn join_all<T>(
    tasks: Vec<tokio::task::JoinHandle<anyhow::Result<T>>>,
) -> anyhow::Result<Vec<T>> {
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.context("a load task panicked")??);
    }
    Ok(out)
}

/// `--producers` connections, each with up to `window` produce requests
/// of `--batch-records` records outstanding, spreading requests over the
/// partitions.
pub async fn produce(plan: Arc<Plan>, case: Case) -> anyhow::Result<Outcome> {
    let window = if case == Case::Pipelined {
        plan.in_flight.max(1)
    } else {
        1
    };
    let progress = Progress::start(case);
    let deadline = Instant::now() + Duration::from_secs_f64(plan.seconds);
    // Every producer stops once this many records are sent in total.
    let budget = Arc::new(AtomicU64::new(plan.records));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..plan.producers {
        let (plan, budget, done) = (plan.clone(), budget.clone(), progress.done.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::open(&plan.bootstrap, plan.tls.as_ref()).await?;
            let per = plan.batch_records as u64;
            // Requests in flight: when they left and how many records each
            // carries (the last one may be short).
            let mut in_flight: VecDeque<(Instant, u64)> = VecDeque::with_capacity(window);
            let mut queued: Vec<u64> = Vec::with_capacity(window);
            let mut lat = Vec::new();
            let mut k = i;
            loop {
                while in_flight.len() + queued.len() < window && Instant::now() < deadline {
                    let Ok(left) = budget.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                        b.checked_sub(b.min(per)).filter(|_| b > 0)
                    }) else {
                        break;
                    };
                    let n = left.min(per);
                    let partition = (k % plan.partitions as usize) as i32;
                    k += plan.producers;
                    let records = wire::records(n as usize, plan.record_bytes);
                    c.queue(
                        ApiKey::Produce,
                        PRODUCE_VERSION,
                        &produce_request(&plan.topic, partition, records, plan.acks),
                    )?;
                    queued.push(n);
                }
                c.flush().await?;
                // Timed from when they left, not from when they were encoded.
                let now = Instant::now();
                in_flight.extend(queued.drain(..).map(|n| (now, n)));
                if in_flight.is_empty() {
                    break;
                }
                // Take every answer that has arrived before refilling the
                // window, so requests leave in batches, not one per answer.
                loop {
                    let resp: ProduceResponse = c.recv(ApiKey::Produce, PRODUCE_VERSION).await?;
                    check_produce(&resp)?;
                    let (at, n) = in_flight.pop_front().context("an answer to nothing sent")?;
                    lat.push(at.elapsed().as_secs_f64() * 1e3);
                    done.fetch_add(n, Ordering::Relaxed);
                    if in_flight.is_empty() || !c.has_response() {
                        break;
                    }
                }
            }
            anyhow::Ok(lat)
        }));
    }
    let lat: Vec<f64> = join_all(tasks).await?.into_iter().flatten().collect();
    let records = progress.done.load(Ordering::Relaxed);
    Ok(Outcome::new(&plan, case, records, started.elapsed(), lat))
}

/// The partitions consumer `j` of `m` reads: every `m`-th.
fn share(partitions: i32, j: usize, m: usize) -> Vec<i32> {
    (0..partitions).filter(|p| *p as usize % m == j).collect()
}

/// `--consumers` connections read everything in their partitions from
/// offset 0 up to the high watermark, decoding every record.
pub async fn consume(plan: Arc<Plan>) -> anyhow::Result<Outcome> {
    let progress = Progress::start(Case::Consume);
    let deadline = Instant::now() + Duration::from_secs_f64(plan.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for j in 0..plan.consumers {
        let (plan, done) = (plan.clone(), progress.done.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::open(&plan.bootstrap, plan.tls.as_ref()).await?;
            let mut from: Vec<(i32, i64)> = share(plan.partitions, j, plan.consumers)
                .into_iter()
                .map(|p| (p, 0))
                .collect();
            let mut lat = Vec::new();
            while !from.is_empty() && Instant::now() < deadline {
                let t = Instant::now();
                let resp: FetchResponse = c
                    .call(
                        ApiKey::Fetch,
                        FETCH_VERSION,
                        &fetch_request(&plan.topic, &from, 0),
                    )
                    .await?;
                let got = fetched(&resp)?;
                lat.push(t.elapsed().as_secs_f64() * 1e3);
                for (partition, offset) in &mut from {
                    let records = got.records.get(partition).map_or(&[][..], Vec::as_slice);
                    let fresh = records.iter().filter(|(o, _)| *o >= *offset).count();
                    done.fetch_add(fresh as u64, Ordering::Relaxed);
                    if let Some(&(last, _)) = records.last() {
                        *offset = (*offset).max(last + 1);
                    }
                    // Done at the high watermark (an empty answer below it
                    // only means the fetch's byte budget ran out).
                    let end = got.high_watermarks.get(partition).copied().unwrap_or(0);
                    if *offset >= end {
                        *offset = -1;
                    }
                }
                from.retain(|(_, o)| *o >= 0);
            }
            anyhow::Ok(lat)
        }));
    }
    let lat: Vec<f64> = join_all(tasks).await?.into_iter().flatten().collect();
    let records = progress.done.load(Ordering::Relaxed);
    Ok(Outcome::new(
        &plan,
        Case::Consume,
        records,
        started.elapsed(),
        lat,
    ))
}

/// Producers paced at `--rate` records/s in total, consumers waiting in
/// long-poll fetches; each record's latency is its receipt time minus the
/// send time carried in its value. Produce acknowledgements are timed too.
pub async fn end_to_end(plan: Arc<Plan>) -> anyhow::Result<Outcome> {
    // Start where the log ends now.
    let all: Vec<(i32, i64)> = (0..plan.partitions).map(|p| (p, 0)).collect();
    let mut probe = Conn::open(&plan.bootstrap, plan.tls.as_ref()).await?;
    let probe: FetchResponse = probe
        .call(
            ApiKey::Fetch,
            FETCH_VERSION,
            &fetch_request(&plan.topic, &all, 0),
        )
        .await?;
    let ends = fetched(&probe)?.high_watermarks;
    let per = plan.batch_records as u64;
    let want = plan
        .records
        .min((plan.rate as f64 * plan.seconds) as u64)
        .max(per)
        / per
        * per;
    let progress = Progress::start(Case::E2e);
    let received = Arc::new(AtomicU64::new(0));
    let mut consumers = Vec::new();
    for j in 0..plan.consumers {
        let (plan, received) = (plan.clone(), received.clone());
        let mut from: Vec<(i32, i64)> = share(plan.partitions, j, plan.consumers)
            .into_iter()
            .map(|p| (p, ends.get(&p).copied().unwrap_or(0).max(0)))
            .collect();
        consumers.push(tokio::spawn(async move {
            let mut c = Conn::open(&plan.bootstrap, plan.tls.as_ref()).await?;
            let mut lat = Vec::new();
            while received.load(Ordering::Relaxed) < want {
                let resp: FetchResponse = c
                    .call(
                        ApiKey::Fetch,
                        FETCH_VERSION,
                        &fetch_request(&plan.topic, &from, 100),
                    )
                    .await?;
                let now = wire::now_micros();
                let got = fetched(&resp)?;
                for (partition, offset) in &mut from {
                    for &(o, sent) in got.records.get(partition).map_or(&[][..], Vec::as_slice) {
                        if o >= *offset {
                            lat.push(now.saturating_sub(sent) as f64 / 1e3);
                            *offset = o + 1;
                            received.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
            anyhow::Ok(lat)
        }));
    }
    // Requests go out on a fixed schedule: request k at k × interval.
    let requests = want / per;
    let interval = Duration::from_secs_f64(per as f64 / plan.rate.max(1) as f64);
    // Connected before the clock starts, so no request is late at once.
    let mut conns = Vec::with_capacity(plan.producers);
    for _ in 0..plan.producers {
        conns.push(Conn::open(&plan.bootstrap, plan.tls.as_ref()).await?);
    }
    let started = Instant::now();
    let mut producers = Vec::new();
    for (i, conn) in conns.into_iter().enumerate() {
        let (plan, done) = (plan.clone(), progress.done.clone());
        producers.push(tokio::spawn(async move {
            let Conn {
                mut read,
                mut write,
                ..
            } = conn;
            let mine: Vec<u64> = (i as u64..requests).step_by(plan.producers).collect();
            // Answers are read by their own task, so pacing never waits.
            let (times, mut sent_at) = tokio::sync::mpsc::unbounded_channel::<Instant>();
            let count = mine.len();
            let answers = tokio::spawn(async move {
                let mut lat = Vec::with_capacity(count);
                for _ in 0..count {
                    let resp: ProduceResponse =
                        wire::read_response(&mut read, ApiKey::Produce, PRODUCE_VERSION).await?;
                    check_produce(&resp)?;
                    let at = sent_at.recv().await.context("send times ended early")?;
                    lat.push(at.elapsed().as_secs_f64() * 1e3);
                    done.fetch_add(per, Ordering::Relaxed);
                }
                anyhow::Ok(lat)
            });
            for (n, &k) in mine.iter().enumerate() {
                tokio::time::sleep_until((started + interval.mul_f64(k as f64)).into()).await;
                let partition = (k % plan.partitions as u64) as i32;
                let records = wire::records(plan.batch_records, plan.record_bytes);
                let req = produce_request(&plan.topic, partition, records, plan.acks);
                let _ = times.send(Instant::now());
                wire::write_request(
                    &mut write,
                    n as i32 + 1,
                    ApiKey::Produce,
                    PRODUCE_VERSION,
                    &req,
                )
                .await?;
            }
            tokio::time::timeout(Duration::from_secs(30), answers)
                .await
                .context("the broker did not answer every produce within 30 s")?
                .context("the answer task panicked")?
        }));
    }
    let acks: Vec<f64> = join_all(producers).await?.into_iter().flatten().collect();
    let elapsed = started.elapsed();
    let lat: Vec<f64> = tokio::time::timeout(Duration::from_secs(30), join_all(consumers))
        .await
        .context("the consumers did not see every record within 30 s")??
        .into_iter()
        .flatten()
        .collect();
    if (lat.len() as u64) < want {
        bail!("the consumers saw {} of {want} records", lat.len());
    }
    let mut outcome = Outcome::new(&plan, Case::E2e, want, elapsed, lat);
    outcome.set_ack_latency(acks);
    Ok(outcome)
}
