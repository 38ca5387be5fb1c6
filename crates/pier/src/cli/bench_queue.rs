//! `pier bench queue`: receive + accept throughput of a queue group with
//! several consumers, durable (every receive and every acknowledgement is
//! logged with fsync before it is answered).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Args;
use kafka_protocol::records::Compression;
use pier_core::batch::{self, NewRecord};
use pier_core::queue::{AckAction, QueueConfig, Queues};
use pier_core::{Location, Store, StoreOptions, SystemClock, TopicConfig};
use serde::Serialize;

#[derive(Debug, Args)]
pub struct QueueArgs {
    /// Scratch directory on the disk to measure (emptied first).
    #[arg(long, default_value = "target/bench-queue")]
    dir: PathBuf,
    #[arg(long, default_value_t = 4)]
    consumers: usize,
    #[arg(long, default_value_t = 1024)]
    record_bytes: usize,
    /// Records per receive (each consumer acknowledges what it received
    /// in one request).
    #[arg(long, value_delimiter = ',', default_value = "1,10,100")]
    batch: Vec<u32>,
    /// Records per case.
    #[arg(long, default_value_t = 20_000)]
    records: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Case {
    consumers: usize,
    batch: u32,
    records: u64,
    records_per_sec: f64,
    mib_per_sec: f64,
    round_p50_micros: u64,
    round_p99_micros: u64,
    /// How the records were spread over the consumers (min/max share).
    min_share: f64,
    max_share: f64,
}

pub fn run(args: &QueueArgs) -> anyhow::Result<()> {
    let _ = std::fs::remove_dir_all(&args.dir);
    std::fs::create_dir_all(&args.dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let store = Store::open(
        Location::Dir(args.dir.clone()),
        StoreOptions::default(),
        Arc::new(SystemClock),
    )?;
    let mut cases = Vec::new();
    runtime.block_on(async {
        let queues = Queues::open(store.clone(), Arc::new(SystemClock)).await?;
        for &batch in &args.batch {
            // Fewer records for tiny batches, so each case takes seconds.
            let records = if batch == 1 {
                args.records.min(5_000)
            } else {
                args.records
            };
            cases.push(one_case(&store, &queues, args, batch, records).await?);
        }
        anyhow::Ok(())
    })?;
    store.close();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&cases)?);
        return Ok(());
    }
    println!(
        "queue receive+accept, {} B records, {} consumers, fsync before every answer ({})",
        args.record_bytes,
        args.consumers,
        args.dir.display()
    );
    println!(
        "{:>6} {:>9} {:>12} {:>9} {:>14} {:>14} {:>13}",
        "batch", "records", "records/s", "MiB/s", "round p50 µs", "round p99 µs", "share min/max"
    );
    for c in &cases {
        println!(
            "{:>6} {:>9} {:>12.0} {:>9.1} {:>14} {:>14} {:>6.2}/{:<6.2}",
            c.batch,
            c.records,
            c.records_per_sec,
            c.mib_per_sec,
            c.round_p50_micros,
            c.round_p99_micros,
            c.min_share,
            c.max_share
        );
    }
    Ok(())
}

async fn one_case(
    store: &Store,
    queues: &Queues,
    args: &QueueArgs,
    batch: u32,
    records: u64,
) -> anyhow::Result<Case> {
    let topic = format!("bench-{batch}");
    store
        .create_topic(&topic, 4, TopicConfig::default())
        .await?;
    let value = Bytes::from(vec![b'x'; args.record_bytes]);
    let mut written = 0;
    while written < records {
        let n = (records - written).min(500);
        let recs: Vec<NewRecord> = (0..n)
            .map(|_| NewRecord {
                value: Some(value.clone()),
                timestamp_ms: 1,
                ..NewRecord::default()
            })
            .collect();
        store
            .append(
                &topic,
                (written / 500 % 4) as u32,
                batch::build(&recs, Compression::None, None),
            )
            .await?;
        written += n;
    }
    let group = format!("q-{batch}");
    queues
        .configure(
            &group,
            QueueConfig {
                max_in_flight: 100_000,
                ..QueueConfig::new(&topic)
            },
        )
        .await?;
    let accepted = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..args.consumers {
        let (queues, group, accepted) = (queues.clone(), group.clone(), accepted.clone());
        tasks.push(tokio::spawn(async move {
            let name = format!("consumer-{c}");
            let mut rounds = Vec::new();
            let mut mine = 0u64;
            while accepted.load(Ordering::Relaxed) < records {
                let t = Instant::now();
                let got = queues
                    .receive(&group, &name, batch, None, Duration::from_millis(50))
                    .await?;
                if got.is_empty() {
                    continue;
                }
                let items = got
                    .iter()
                    .map(|d| (d.partition, d.offset, Some(d.delivery), AckAction::Accept))
                    .collect();
                let results = queues.acknowledge(&group, &name, items).await?;
                let ok = results.iter().filter(|r| r.is_ok()).count() as u64;
                mine += ok;
                accepted.fetch_add(ok, Ordering::Relaxed);
                rounds.push(t.elapsed().as_micros() as u64);
            }
            anyhow::Ok((rounds, mine))
        }));
    }
    let mut rounds = Vec::new();
    let mut shares = Vec::new();
    for t in tasks {
        let (r, mine) = t.await??;
        rounds.extend(r);
        shares.push(mine as f64 / records as f64);
    }
    let secs = started.elapsed().as_secs_f64();
    rounds.sort_unstable();
    let pct = |q: f64| {
        rounds
            .get(((rounds.len() as f64 * q) as usize).min(rounds.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    Ok(Case {
        consumers: args.consumers,
        batch,
        records,
        records_per_sec: records as f64 / secs,
        mib_per_sec: records as f64 * args.record_bytes as f64 / secs / (1024.0 * 1024.0),
        round_p50_micros: pct(0.5),
        round_p99_micros: pct(0.99),
        min_share: shares.iter().copied().fold(f64::MAX, f64::min),
        max_share: shares.iter().copied().fold(0.0, f64::max),
    })
}
