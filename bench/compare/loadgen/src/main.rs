//! Load generators for `bench/compare/run`: the same durable workloads against
//! Redis streams, RabbitMQ quorum queues and NATS JetStream, plus the raw disk
//! and start-up measurements. Pier's side is `pier bench kafka`.
//!
//! Every case prints one JSON line:
//! `{"system","case","records","seconds","records_per_sec","mib_per_sec","p50_ms","p99_ms","p999_ms"}`.
//!
//! ```text
//! loadgen redis|rabbitmq|nats sequential|pipelined|consume|e2e --addr HOST:PORT [options]
//! loadgen disk --dir DIR [--seconds S] [--case NAME]
//! loadgen rtt [--seconds S] [--record-bytes B]
//! loadgen startup --name NAME --port P --tmp DIR [--runs N] [--env K=V]... -- CMD ARGS...
//! ```
//!
//! Options: `--records N` (cap; consume reads exactly N), `--seconds S` (time
//! limit of a produce case, duration of e2e), `--record-bytes 1024`,
//! `--in-flight 256`, `--rate 5000`, `--name` (stream / queue name), `--group`
//! (consumer group / durable consumer name).

mod common;
mod disk;
mod drivers;
mod nats_impl;
mod rabbit_impl;
mod redis_impl;
mod rtt;
mod startup;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};

use crate::common::base;
use crate::disk::disk;
use crate::startup::startup;

// ---------------------------------------------------------------- options

#[derive(Debug, Clone)]
struct Opts {
    addr: String,
    records: u64,
    seconds: f64,
    record_bytes: usize,
    in_flight: usize,
    rate: f64,
    name: String,
    group: String,
}

impl Opts {
    fn parse(args: &[String]) -> Result<Self> {
        let mut m: HashMap<String, String> = HashMap::new();
        let mut i = 0;
        while i < args.len() {
            let k = args[i]
                .strip_prefix("--")
                .ok_or_else(|| anyhow!("unexpected argument {:?}", args[i]))?;
            let v = args
                .get(i + 1)
                .ok_or_else(|| anyhow!("--{k} needs a value"))?;
            m.insert(k.to_string(), v.clone());
            i += 2;
        }
        let get = |k: &str, d: &str| m.get(k).cloned().unwrap_or_else(|| d.to_string());
        let o = Opts {
            addr: get("addr", "127.0.0.1:0"),
            records: get("records", "100000000").parse()?,
            seconds: get("seconds", "3").parse()?,
            record_bytes: get("record-bytes", "1024").parse()?,
            in_flight: get("in-flight", "256").parse()?,
            rate: get("rate", "5000").parse()?,
            name: get("name", "bench"),
            group: get("group", "bench"),
        };
        if o.record_bytes < 16 {
            bail!("--record-bytes must be at least 16");
        }
        Ok(o)
    }
    fn deadline(&self) -> Instant {
        Instant::now() + Duration::from_secs_f64(self.seconds)
    }
}

// ---------------------------------------------------------------- main

fn usage() -> ! {
    eprintln!(
        "usage:\n  loadgen redis|rabbitmq|nats sequential|pipelined|consume|e2e --addr HOST:PORT \
         [--records N] [--seconds S] [--record-bytes B] [--in-flight N] [--rate R] [--name Q] [--group G]\n  \
         loadgen disk --dir DIR [--seconds S] [--case NAME]\n  \
         loadgen rtt [--seconds S] [--record-bytes B]\n  \
         loadgen startup --name NAME --port P [--runs N] [--tmp DIR] [--env K=V]... -- CMD ARGS..."
    );
    std::process::exit(2)
}

fn main() -> Result<()> {
    base();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(system) = args.first() else { usage() };
    match system.as_str() {
        "disk" => return disk(&args[1..]),
        "startup" => return startup(&args[1..]),
        "rtt" => return rtt::rtt(&args[1..]),
        "redis" | "rabbitmq" | "nats" => {}
        "-h" | "--help" => usage(),
        _ => usage(),
    }
    let Some(case) = args.get(1) else { usage() };
    let o = Opts::parse(&args[2..])?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let system = system.clone();
    let case = case.clone();
    rt.block_on(async move {
        let r = match system.as_str() {
            "redis" => redis_impl::run(&case, &o).await,
            "rabbitmq" => rabbit_impl::run(&case, &o).await,
            "nats" => nats_impl::run(&case, &o).await,
            _ => unreachable!(),
        };
        r.with_context(|| format!("{system} {case}"))
    })
}
