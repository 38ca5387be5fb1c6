//! `pier bench kafka`: load any Kafka-protocol broker (Pier, Kafka,
//! Redpanda) over the wire and report throughput and latency.
//!
//! The client is deliberately lean — requests encoded with the
//! `kafka-protocol` crate straight onto one TCP connection per producer
//! and consumer, no client-side queues or linger — so the numbers show the
//! broker's cost, not a client library's (librdkafka's linger and internal
//! queues add milliseconds that would hide a sub-millisecond broker).
//! Debian 12's librdkafka (2.0.2) is also too old for the `rdkafka` crate,
//! and building it from source would add minutes to every clean build. For
//! a check with mainstream clients, the real-client suites under
//! `tests/clients` drive the same broker with librdkafka, kafka-python and
//! kafkajs.

mod cases;
use pier::wire;

use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use clap::{Args, ValueEnum};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Case {
    /// One produce request in flight per producer.
    Sequential,
    /// Up to `--in-flight` produce requests outstanding per producer.
    Pipelined,
    /// Fetch everything in the topic from offset 0.
    Consume,
    /// Produce at `--rate`, consume with waiting fetches, time each record
    /// from send to receipt (and each produce to its acknowledgement).
    E2e,
}

#[derive(Debug, Args)]
pub struct KafkaArgs {
    /// The broker (any Kafka-protocol broker).
    #[arg(long, default_value = "127.0.0.1:9092")]
    bootstrap: String,
    /// The workloads to run, in this order (comma-separated). Produce
    /// cases go as fast as the broker answers; e2e holds `--rate`.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "sequential,pipelined,consume,e2e"
    )]
    case: Vec<Case>,
    /// Topic to use (created on first use).
    #[arg(long, default_value = "pier-bench")]
    topic: String,
    /// Create the topic with this many partitions if it does not exist
    /// (0: leave it to the broker's auto-creation).
    #[arg(long, default_value_t = 0)]
    partitions: i32,
    /// Producer connections (each sends to the partitions in turn).
    #[arg(long, default_value_t = 1)]
    producers: usize,
    /// Consumer connections (partitions are split between them).
    #[arg(long, default_value_t = 1)]
    consumers: usize,
    /// Records per case (the consume case reads what is there).
    #[arg(long, default_value_t = 20_000)]
    records: u64,
    /// Stop a case after this long, whatever `--records` says.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Bytes per record value (the first 20 carry its send time).
    #[arg(long, default_value_t = 1024)]
    record_bytes: usize,
    /// Records per produce request (one batch), as a producer's linger
    /// and batch size would gather them.
    #[arg(long, default_value_t = 1)]
    batch_records: usize,
    /// Produce requests outstanding per producer in the pipelined case.
    #[arg(long, default_value_t = 256)]
    in_flight: usize,
    /// Records per second in the e2e case (all producers together).
    #[arg(long, default_value_t = 5_000)]
    rate: u64,
    /// `acks` for produce: -1 (all, durable) or 1; 0 gets no answers to time.
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    acks: i16,
    /// One JSON line per case instead of a table.
    #[arg(long)]
    json: bool,
    /// Connect over TLS (an `SSL` listener), trusting this CA (PEM), e.g.
    /// the `tls/ca.pem` that `pier tls init` made.
    #[arg(long, value_name = "PEM")]
    tls_ca: Option<std::path::PathBuf>,
}

/// The arguments every load task shares, with the partition count learnt
/// from the broker.
pub(crate) struct Plan {
    bootstrap: String,
    tls: Option<tokio_rustls::TlsConnector>,
    topic: String,
    partitions: i32,
    producers: usize,
    consumers: usize,
    records: u64,
    seconds: f64,
    record_bytes: usize,
    batch_records: usize,
    in_flight: usize,
    rate: u64,
    acks: i16,
}

#[derive(Debug, Serialize)]
pub(crate) struct Outcome {
    system: &'static str,
    case: Case,
    producers: usize,
    consumers: usize,
    partitions: i32,
    batch_records: usize,
    records: u64,
    seconds: f64,
    records_per_sec: f64,
    mib_per_sec: f64,
    /// Produce: per request to its acknowledgement. Consume: per fetch.
    /// E2e: per record, send to receipt.
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    /// E2e only: each produce request to its acknowledgement.
    #[serde(skip_serializing_if = "Option::is_none")]
    ack_p50_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ack_p99_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ack_p999_ms: Option<f64>,
}

fn percentiles(mut lat_ms: Vec<f64>) -> [f64; 3] {
    lat_ms.sort_by(f64::total_cmp);
    [0.50, 0.99, 0.999].map(|q| {
        if lat_ms.is_empty() {
            0.0
        } else {
            lat_ms[((lat_ms.len() - 1) as f64 * q).round() as usize]
        }
    })
}

impl Outcome {
    fn new(plan: &Plan, case: Case, records: u64, elapsed: Duration, lat_ms: Vec<f64>) -> Self {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let [p50_ms, p99_ms, p999_ms] = percentiles(lat_ms);
        let (producers, consumers) = match case {
            Case::Sequential | Case::Pipelined => (plan.producers, 0),
            Case::Consume => (0, plan.consumers),
            Case::E2e => (plan.producers, plan.consumers),
        };
        Self {
            system: "pier",
            case,
            producers,
            consumers,
            partitions: plan.partitions,
            batch_records: plan.batch_records,
            records,
            seconds: secs,
            records_per_sec: records as f64 / secs,
            mib_per_sec: records as f64 * plan.record_bytes as f64 / secs / (1 << 20) as f64,
            p50_ms,
            p99_ms,
            p999_ms,
            ack_p50_ms: None,
            ack_p99_ms: None,
            ack_p999_ms: None,
        }
    }

    fn set_ack_latency(&mut self, lat_ms: Vec<f64>) {
        let [p50, p99, p999] = percentiles(lat_ms);
        (self.ack_p50_ms, self.ack_p99_ms, self.ack_p999_ms) = (Some(p50), Some(p99), Some(p999));
    }
}

pub fn run(a: &KafkaArgs) -> anyhow::Result<()> {
    if a.acks == 0 {
        bail!("--acks 0 gets no answers to time; use 1 or -1");
    }
    if a.producers == 0 || a.consumers == 0 || a.batch_records == 0 {
        bail!("--producers, --consumers and --batch-records must be at least 1");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let tls = a.tls_ca.as_deref().map(wire::tls_connector).transpose()?;
    runtime.block_on(async {
        let partitions =
            wire::ensure_topic(&a.bootstrap, tls.as_ref(), &a.topic, a.partitions).await?;
        if a.consumers > partitions as usize
            && a.case
                .iter()
                .any(|c| matches!(c, Case::Consume | Case::E2e))
        {
            bail!(
                "--consumers {} needs at least as many partitions; topic {:?} has {partitions} \
                 (use --partitions on a new topic)",
                a.consumers,
                a.topic
            );
        }
        let plan = Arc::new(Plan {
            bootstrap: a.bootstrap.clone(),
            tls,
            topic: a.topic.clone(),
            partitions,
            producers: a.producers,
            consumers: a.consumers,
            records: a.records,
            seconds: a.seconds,
            record_bytes: a.record_bytes,
            batch_records: a.batch_records,
            in_flight: a.in_flight,
            rate: a.rate,
            acks: a.acks,
        });
        let mut printed = false;
        for &case in &a.case {
            let o = match case {
                Case::Sequential | Case::Pipelined => cases::produce(plan.clone(), case).await?,
                Case::Consume => cases::consume(plan.clone()).await?,
                Case::E2e => cases::end_to_end(plan.clone()).await?,
            };
            if a.json {
                println!("{}", serde_json::to_string(&o)?);
                continue;
            }
            if !printed {
                printed = true;
                println!(
                    "{:<11} {:>9} {:>12} {:>8} {:>9} {:>9} {:>9}  latency of",
                    "case", "records", "records/s", "MiB/s", "p50 ms", "p99 ms", "p99.9 ms"
                );
            }
            let of = match case {
                Case::Sequential | Case::Pipelined => "each produce, to its ack",
                Case::Consume => "each fetch",
                Case::E2e => "each record, send to receipt",
            };
            let row = |name: &str, p: [f64; 3], of: &str| {
                println!(
                    "{:<11} {:>9} {:>12.0} {:>8.1} {:>9.3} {:>9.3} {:>9.3}  {of}",
                    name, o.records, o.records_per_sec, o.mib_per_sec, p[0], p[1], p[2]
                );
            };
            let name = format!("{case:?}").to_lowercase();
            row(&name, [o.p50_ms, o.p99_ms, o.p999_ms], of);
            if let (Some(p50), Some(p99), Some(p999)) = (o.ack_p50_ms, o.ack_p99_ms, o.ack_p999_ms)
            {
                row("  e2e acks", [p50, p99, p999], "each produce, to its ack");
            }
        }
        anyhow::Ok(())
    })
}
