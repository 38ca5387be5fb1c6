//! `pier bench storage`: durable append throughput and latency against the
//! raw fdatasync rate of the same disk, measured in the same run.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use clap::{Args, Subcommand, ValueEnum};
use kafka_protocol::records::Compression;
use pier_core::batch::{self, NewRecord};
use pier_core::{Location, Store, StoreOptions, SystemClock, TopicConfig};
use serde::Serialize;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Durable appends/s and latency for 1, 16 and 64 concurrent appenders.
    Storage(StorageArgs),
    /// Time from starting `pier serve` to its first accepted connection.
    Startup(StartupArgs),
    /// Queue receive + accept throughput with several consumers.
    Queue(super::bench_queue::QueueArgs),
    /// Load a running Kafka-protocol broker over the wire: sequential and
    /// pipelined produce, consume, end-to-end latency at a fixed rate.
    Kafka(super::bench_kafka::KafkaArgs),
}

#[derive(Debug, Args)]
pub struct StartupArgs {
    /// How many starts to time.
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Scratch directory for the on-disk case.
    #[arg(long, default_value = "target/bench-startup")]
    dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct StorageArgs {
    /// Scratch directory on the disk to measure (emptied first).
    #[arg(long, default_value = "target/bench-storage")]
    dir: PathBuf,
    /// Seconds per case.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    #[arg(long, default_value_t = 1024)]
    record_bytes: usize,
    /// Records per append (a Kafka producer with linger.ms sends several).
    #[arg(long, default_value_t = 1)]
    records_per_batch: usize,
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    appenders: Vec<usize>,
    /// redb commit modes to compare.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "default")]
    modes: Vec<CommitMode>,
    /// Commit without fsync (shows the CPU cost of a commit; not durable).
    #[arg(long)]
    no_fsync: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CommitMode {
    /// What Pier ships: checkpoints with two-phase commit and quick repair.
    Default,
    /// Checkpoints with one fsync (checksummed commit slots).
    OnePhase,
    /// Checkpoints without quick repair (a crash means a full repair).
    NoQuickRepair,
}

#[derive(Debug, Serialize)]
struct Case {
    name: String,
    appenders: usize,
    ops_per_sec: f64,
    mib_per_sec: f64,
    p50_micros: u64,
    p99_micros: u64,
    appends_per_commit: f64,
}

pub fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    match cmd {
        BenchCommand::Storage(args) => storage(&args),
        BenchCommand::Startup(args) => startup(&args),
        BenchCommand::Queue(args) => super::bench_queue::run(&args),
        BenchCommand::Kafka(args) => super::bench_kafka::run(&args),
    }
}

/// Spawns this binary as `pier serve`, waits for its ready line, connects,
/// and kills it; reports p50 and max over `runs` starts, in memory and on
/// a data directory that already holds a store.
fn startup(args: &StartupArgs) -> anyhow::Result<()> {
    use std::io::BufRead;
    let exe = std::env::current_exe()?;
    let _ = std::fs::remove_dir_all(&args.dir);
    for (name, extra) in [
        ("in memory", vec!["--in-memory".to_owned()]),
        (
            "data dir",
            vec!["--data-dir".to_owned(), args.dir.display().to_string()],
        ),
    ] {
        let mut times = Vec::with_capacity(args.runs);
        for _ in 0..args.runs {
            let started = Instant::now();
            let mut child = std::process::Command::new(&exe)
                .args(["serve", "--kafka", "127.0.0.1:0", "--http", "127.0.0.1:0"])
                .args(&extra)
                .stdout(std::process::Stdio::piped())
                .spawn()?;
            let mut line = String::new();
            std::io::BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line)?;
            let addr = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("kafka="))
                .with_context(|| format!("no address in {line:?}"))?;
            std::net::TcpStream::connect(addr)?;
            times.push(started.elapsed().as_micros() as u64);
            child.kill()?;
            child.wait()?;
        }
        times.sort_unstable();
        println!(
            "pier serve ({name}): first connection accepted after p50 {:.1} ms, max {:.1} ms over {} starts",
            percentile(&times, 0.5) as f64 / 1000.0,
            *times.last().unwrap_or(&0) as f64 / 1000.0,
            args.runs
        );
    }
    let _ = std::fs::remove_dir_all(&args.dir);
    Ok(())
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn storage(args: &StorageArgs) -> anyhow::Result<()> {
    let _ = std::fs::remove_dir_all(&args.dir);
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let duration = Duration::from_secs_f64(args.seconds);
    let mut cases = vec![raw_fdatasync(&args.dir, args.record_bytes, duration)?];
    if !args.json {
        print_header();
        print_case(&cases[0]);
    }
    for mode in &args.modes {
        for &n in &args.appenders {
            let case = appenders(args, *mode, n, duration)?;
            if !args.json {
                print_case(&case);
            }
            cases.push(case);
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&cases)?);
    }
    let _ = std::fs::remove_dir_all(&args.dir);
    Ok(())
}

fn print_header() {
    println!(
        "{:<40} {:>9} {:>12} {:>9} {:>9} {:>9} {:>10}",
        "case", "appenders", "records/s", "MiB/s", "p50 µs", "p99 µs", "per commit"
    );
}

fn print_case(c: &Case) {
    println!(
        "{:<40} {:>9} {:>12.0} {:>9.1} {:>9} {:>9} {:>10.1}",
        c.name,
        c.appenders,
        c.ops_per_sec,
        c.mib_per_sec,
        c.p50_micros,
        c.p99_micros,
        c.appends_per_commit
    );
}

/// Appends `record_bytes` to a file and fdatasyncs, one at a time: the most
/// a one-fsync-per-ack design can do on this disk.
fn raw_fdatasync(dir: &Path, record_bytes: usize, duration: Duration) -> anyhow::Result<Case> {
    let path = dir.join("raw-fdatasync");
    let mut file = OpenOptions::new().create(true).append(true).open(&path)?;
    let data = vec![0x5a; record_bytes];
    let mut latencies = Vec::new();
    let started = Instant::now();
    while started.elapsed() < duration {
        let t = Instant::now();
        file.write_all(&data)?;
        file.sync_data()?;
        latencies.push(t.elapsed().as_micros() as u64);
    }
    let secs = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    Ok(Case {
        name: "raw append+fdatasync".into(),
        appenders: 1,
        ops_per_sec: latencies.len() as f64 / secs,
        mib_per_sec: (latencies.len() * record_bytes) as f64 / secs / 1_048_576.0,
        p50_micros: percentile(&latencies, 0.5),
        p99_micros: percentile(&latencies, 0.99),
        appends_per_commit: 1.0,
    })
}

/// Fills the write-ahead log files once, so the run measures the steady
/// state (allocated blocks) rather than a brand-new data directory.
fn warm_up(store: &Store, batch: &Bytes, partitions: u32) -> anyhow::Result<()> {
    let per_request = 64;
    let rounds = (80 * 1024 * 1024) / (batch.len() * per_request);
    for _ in 0..rounds {
        let pending: Vec<_> = (0..per_request)
            .map(|i| store.submit_append("bench", i as u32 % partitions, batch.clone()))
            .collect::<Result<_, _>>()?;
        for rx in pending {
            rx.blocking_recv()??;
        }
    }
    Ok(())
}

fn appenders(
    args: &StorageArgs,
    mode: CommitMode,
    n: usize,
    duration: Duration,
) -> anyhow::Result<Case> {
    let dir = args.dir.join(format!("{mode:?}-{n}"));
    let options = StoreOptions {
        two_phase_commit: !matches!(mode, CommitMode::OnePhase),
        quick_repair: !matches!(mode, CommitMode::NoQuickRepair),
        fsync: !args.no_fsync,
        ..StoreOptions::default()
    };
    let store = Store::open(Location::Dir(dir), options, Arc::new(SystemClock))?;
    let partitions = n.clamp(1, 8) as u32;
    store.create_topic_blocking("bench", partitions, TopicConfig::default())?;
    let record = NewRecord {
        value: Some(Bytes::from(vec![0x5a; args.record_bytes])),
        timestamp_ms: 0,
        ..NewRecord::default()
    };
    let records = vec![record; args.records_per_batch.max(1)];
    let batch = batch::build(&records, Compression::None, None);
    let stop = Arc::new(AtomicBool::new(false));
    warm_up(&store, &batch, partitions)?;
    let before = store.stats();
    let started = Instant::now();
    // Appenders are tasks on a two-thread runtime, as connections are in
    // the server; OS threads would measure the scheduler instead.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()?;
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (store, batch, stop) = (store.clone(), batch.clone(), stop.clone());
            runtime.spawn(async move {
                let mut latencies = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    store
                        .append("bench", (i % partitions as usize) as u32, batch.clone())
                        .await?;
                    latencies.push(t.elapsed().as_micros() as u64);
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    std::thread::sleep(duration);
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(runtime.block_on(t)??);
    }
    let secs = started.elapsed().as_secs_f64();
    let after = store.stats();
    store.close();
    latencies.sort_unstable();
    let commits = (after.commits - before.commits).max(1);
    tracing::info!(
        avg_group_micros = (after.commit_micros_total - before.commit_micros_total) / commits,
        "log write+fdatasync per group"
    );
    let records = latencies.len() * args.records_per_batch.max(1);
    Ok(Case {
        name: format!(
            "pier append ({mode:?}, {} rec/append)",
            args.records_per_batch.max(1)
        ),
        appenders: n,
        ops_per_sec: records as f64 / secs,
        mib_per_sec: (records * args.record_bytes) as f64 / secs / 1_048_576.0,
        p50_micros: percentile(&latencies, 0.5),
        p99_micros: percentile(&latencies, 0.99),
        appends_per_commit: (after.appends - before.appends) as f64 / commits as f64,
    })
}
