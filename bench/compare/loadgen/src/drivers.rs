//! The four cases, written once against the `Producer` and `Consumer`
//! traits that each system implements.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use crate::Opts;
use crate::common::{now_ns, payload, report, stamp};

// ---------------------------------------------------------------- drivers

pub type BoxFut<T> = Pin<Box<dyn Future<Output = Result<T>> + Send>>;

/// A durable producer: `send` hands one record to the broker and returns a
/// future that resolves when the broker has acknowledged it durably.
pub trait Producer: Send {
    fn send(&mut self, payload: Vec<u8>) -> impl Future<Output = Result<BoxFut<()>>> + Send;
}

/// A consumer that acknowledges what it reads: `next_batch` returns the next
/// records (blocking up to about a second), acknowledging the previous batch.
pub trait Consumer: Send {
    fn next_batch(&mut self) -> impl Future<Output = Result<Vec<Vec<u8>>>> + Send;
    fn finish(&mut self) -> impl Future<Output = Result<()>> + Send;
}

pub async fn sequential<P: Producer>(system: &str, p: &mut P, o: &Opts) -> Result<()> {
    let deadline = o.deadline();
    let mut lat = Vec::new();
    let start = Instant::now();
    let mut n = 0;
    while n < o.records && Instant::now() < deadline {
        let t = Instant::now();
        p.send(payload(o.record_bytes, now_ns())).await?.await?;
        lat.push(t.elapsed().as_nanos() as u64);
        n += 1;
    }
    report(
        system,
        "sequential",
        n,
        start.elapsed().as_secs_f64(),
        o.record_bytes,
        lat,
    );
    Ok(())
}

pub async fn pipelined<P: Producer>(system: &str, p: &mut P, o: &Opts) -> Result<()> {
    let deadline = o.deadline();
    let mut pending = FuturesUnordered::new();
    let mut lat = Vec::new();
    let start = Instant::now();
    let mut sent = 0;
    let mut done = 0;
    loop {
        while pending.len() < o.in_flight && sent < o.records && Instant::now() < deadline {
            let t = Instant::now();
            let ack = p.send(payload(o.record_bytes, now_ns())).await?;
            pending.push(async move { ack.await.map(|()| t.elapsed().as_nanos() as u64) });
            sent += 1;
        }
        match pending.next().await {
            Some(r) => {
                lat.push(r?);
                done += 1;
            }
            None => break,
        }
    }
    report(
        system,
        "pipelined",
        done,
        start.elapsed().as_secs_f64(),
        o.record_bytes,
        lat,
    );
    Ok(())
}

pub async fn consume<C: Consumer>(system: &str, c: &mut C, o: &Opts) -> Result<()> {
    let start = Instant::now();
    let mut n = 0u64;
    let mut idle_since = Instant::now();
    while n < o.records {
        let batch = c.next_batch().await?;
        if batch.is_empty() {
            if idle_since.elapsed() > Duration::from_secs(10) {
                bail!(
                    "{system} consume: only {n} of {} records after 10 s idle",
                    o.records
                );
            }
            continue;
        }
        idle_since = Instant::now();
        n += batch.len() as u64;
    }
    c.finish().await?;
    report(
        system,
        "consume",
        n,
        start.elapsed().as_secs_f64(),
        o.record_bytes,
        Vec::new(),
    );
    Ok(())
}

/// Producer paced to a fixed rate (send time in the payload, as
/// `pier bench kafka` does), consumer on its own connection computing
/// latency = receive time − send time.
pub async fn e2e<P: Producer + 'static, C: Consumer + 'static>(
    system: &str,
    mut p: P,
    mut c: C,
    o: &Opts,
) -> Result<()> {
    let total = ((o.rate * o.seconds) as u64).min(o.records);
    let bytes = o.record_bytes;
    let consumer = tokio::spawn(async move {
        let mut lat = Vec::with_capacity(total as usize);
        let mut idle_since = Instant::now();
        while (lat.len() as u64) < total {
            let batch = c.next_batch().await?;
            let now = now_ns();
            if batch.is_empty() {
                if idle_since.elapsed() > Duration::from_secs(10) {
                    bail!(
                        "e2e consumer: only {} of {total} records after 10 s idle",
                        lat.len()
                    );
                }
                continue;
            }
            idle_since = Instant::now();
            lat.extend(batch.iter().map(|r| now.saturating_sub(stamp(r))));
        }
        c.finish().await?;
        Ok::<_, anyhow::Error>(lat)
    });
    // Let the consumer subscribe before the clock starts.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let interval_ns = 1e9 / o.rate;
    let limit = Arc::new(tokio::sync::Semaphore::new(1024));
    let mut acks = tokio::task::JoinSet::new();
    let start_ns = now_ns();
    let start = Instant::now();
    for i in 0..total {
        let due = start_ns + (i as f64 * interval_ns) as u64;
        let now = now_ns();
        if due > now {
            tokio::time::sleep(Duration::from_nanos(due - now)).await;
        }
        let permit = limit.clone().acquire_owned().await?;
        let ack = p.send(payload(bytes, now_ns())).await?;
        acks.spawn(async move {
            let r = ack.await;
            drop(permit);
            r
        });
        while let Some(r) = acks.try_join_next() {
            r??;
        }
    }
    while let Some(r) = acks.join_next().await {
        r??;
    }
    // records_per_sec: the rate the producer achieved (5,000/s if it kept up).
    let produce_secs = start.elapsed().as_secs_f64();
    let lat = tokio::time::timeout(Duration::from_secs(60), consumer)
        .await
        .context("e2e consumer did not finish in 60 s")???;
    report(system, "e2e", lat.len() as u64, produce_secs, bytes, lat);
    Ok(())
}
