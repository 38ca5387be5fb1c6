//! `pier bench kafka`: load any Kafka-protocol broker (Pier, Kafka,
//! Redpanda) over the wire and report throughput and latency.
//!
//! The client is deliberately lean — requests encoded with the
//! `kafka-protocol` crate straight onto one TCP connection per role, no
//! client-side batching or queues — so the numbers show the broker's cost,
//! not a client library's (librdkafka's linger and internal queues add
//! milliseconds that would hide a sub-millisecond broker). Debian 12's
//! librdkafka (2.0.2) is also too old for the `rdkafka` crate, and building
//! it from source would add minutes to every clean build. For a check
//! with a mainstream client, the real-client suites under `tests/clients`
//! drive the same broker with librdkafka, kafka-python and kafkajs.

use std::collections::VecDeque;
use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::{BufMut, Bytes, BytesMut};
use clap::{Args, ValueEnum};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchRequest, FetchTopic};
use kafka_protocol::messages::fetch_response::FetchResponse;
use kafka_protocol::messages::metadata_request::{MetadataRequest, MetadataRequestTopic};
use kafka_protocol::messages::metadata_response::MetadataResponse;
use kafka_protocol::messages::produce_request::{
    PartitionProduceData, ProduceRequest, TopicProduceData,
};
use kafka_protocol::messages::produce_response::ProduceResponse;
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader, TopicName};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_protocol::records::Compression;
use pier_core::batch::{self, NewRecord};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

const PRODUCE_VERSION: i16 = 8;
const FETCH_VERSION: i16 = 11;
const METADATA_VERSION: i16 = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Case {
    /// One produce request in flight at a time, one record each.
    Sequential,
    /// Up to `--in-flight` single-record produce requests outstanding.
    Pipelined,
    /// Fetch everything in the partition from offset 0.
    Consume,
    /// Produce at `--rate`, consume with a waiting fetch, time each record
    /// from send to receipt.
    E2e,
}

#[derive(Debug, Args)]
pub struct KafkaArgs {
    /// The broker (any Kafka-protocol broker).
    #[arg(long, default_value = "127.0.0.1:9092")]
    bootstrap: String,
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "sequential,pipelined,consume,e2e"
    )]
    case: Vec<Case>,
    /// Topic to use (created on first use by the broker's auto-creation).
    #[arg(long, default_value = "pier-bench")]
    topic: String,
    /// Records per case (the consume case reads what is there).
    #[arg(long, default_value_t = 20_000)]
    records: u64,
    /// Stop a case after this long, whatever `--records` says.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    #[arg(long, default_value_t = 1024)]
    record_bytes: usize,
    /// Produce requests outstanding in the pipelined case.
    #[arg(long, default_value_t = 256)]
    in_flight: usize,
    /// Records per second in the e2e case.
    #[arg(long, default_value_t = 5_000)]
    rate: u64,
    /// `acks` for produce: -1 (all, durable), 1 or 0 is not supported.
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    acks: i16,
    /// One JSON line per case instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Outcome {
    system: &'static str,
    case: Case,
    records: u64,
    seconds: f64,
    records_per_sec: f64,
    mib_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
}

/// One connection: requests out, responses in order.
struct Conn {
    read: BufReader<OwnedReadHalf>,
    write: OwnedWriteHalf,
    next: i32,
}

impl Conn {
    async fn open(addr: &str) -> anyhow::Result<Self> {
        let s = TcpStream::connect(addr)
            .await
            .with_context(|| format!("cannot connect to {addr}"))?;
        s.set_nodelay(true)?;
        let (read, write) = s.into_split();
        Ok(Self {
            read: BufReader::with_capacity(1 << 20, read),
            write,
            next: 0,
        })
    }

    async fn send(
        &mut self,
        api: ApiKey,
        version: i16,
        req: &impl Encodable,
    ) -> anyhow::Result<()> {
        self.next += 1;
        write_request(&mut self.write, self.next, api, version, req).await
    }

    async fn recv<R: Decodable>(&mut self, api: ApiKey, version: i16) -> anyhow::Result<R> {
        read_response(&mut self.read, api, version).await
    }
}

async fn write_request(
    write: &mut OwnedWriteHalf,
    correlation_id: i32,
    api: ApiKey,
    version: i16,
    req: &impl Encodable,
) -> anyhow::Result<()> {
    let header = RequestHeader::default()
        .with_request_api_key(api as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(StrBytes::from_static_str("pier-bench")));
    let mut body = BytesMut::with_capacity(256);
    body.put_i32(0);
    header.encode(&mut body, api.request_header_version(version))?;
    req.encode(&mut body, version)?;
    let len = (body.len() - 4) as i32;
    body[..4].copy_from_slice(&len.to_be_bytes());
    write.write_all(&body).await?;
    Ok(())
}

async fn read_response<R: Decodable>(
    read: &mut BufReader<OwnedReadHalf>,
    api: ApiKey,
    version: i16,
) -> anyhow::Result<R> {
    let size = read
        .read_i32()
        .await
        .context("the broker closed the connection")?;
    let mut buf = vec![0; usize::try_from(size).context("bad frame size")?];
    read.read_exact(&mut buf).await?;
    let mut buf = Bytes::from(buf);
    ResponseHeader::decode(&mut buf, api.response_header_version(version))?;
    R::decode(&mut buf, version)
}

fn produce_request(topic: &str, records: Bytes, acks: i16) -> ProduceRequest {
    let partition = PartitionProduceData::default()
        .with_index(0)
        .with_records(Some(records));
    let topic = TopicProduceData::default()
        .with_name(TopicName(StrBytes::from_string(topic.to_owned())))
        .with_partition_data(vec![partition]);
    ProduceRequest::default()
        .with_acks(acks)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![topic])
}

/// One record whose value starts with the send time (µs since the Unix
/// epoch), padded to `bytes`.
fn record(bytes: usize) -> Bytes {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut value = format!("{:020}", now.as_micros()).into_bytes();
    value.resize(bytes.max(20), b'x');
    batch::build(
        &[NewRecord {
            value: Some(Bytes::from(value)),
            timestamp_ms: now.as_millis() as i64,
            ..NewRecord::default()
        }],
        Compression::None,
        None,
    )
}

fn check_produce(resp: &ProduceResponse) -> anyhow::Result<()> {
    for t in &resp.responses {
        for p in &t.partition_responses {
            if p.error_code != 0 {
                bail!("produce failed with Kafka error code {}", p.error_code);
            }
        }
    }
    Ok(())
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn outcome(
    case: Case,
    records: u64,
    elapsed: Duration,
    bytes: usize,
    mut lat_ms: Vec<f64>,
) -> Outcome {
    lat_ms.sort_by(f64::total_cmp);
    let secs = elapsed.as_secs_f64().max(1e-9);
    Outcome {
        system: "pier",
        case,
        records,
        seconds: secs,
        records_per_sec: records as f64 / secs,
        mib_per_sec: records as f64 * bytes as f64 / secs / (1 << 20) as f64,
        p50_ms: percentile(&lat_ms, 0.50),
        p99_ms: percentile(&lat_ms, 0.99),
        p999_ms: percentile(&lat_ms, 0.999),
    }
}

/// A progress line on stderr, at most a few times a second.
struct Progress {
    last: Instant,
    case: Case,
}

impl Progress {
    fn tick(&mut self, done: u64, started: Instant) {
        if self.last.elapsed() >= Duration::from_millis(500) {
            self.last = Instant::now();
            let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-9);
            eprint!("\r{:?}: {done} records, {rate:.0}/s   ", self.case);
            let _ = std::io::stderr().flush();
        }
    }
}

async fn ensure_topic(addr: &str, topic: &str) -> anyhow::Result<()> {
    let mut c = Conn::open(addr).await?;
    let req = MetadataRequest::default()
        .with_topics(Some(vec![MetadataRequestTopic::default().with_name(Some(
            TopicName(StrBytes::from_string(topic.to_owned())),
        ))]))
        .with_allow_auto_topic_creation(true);
    c.send(ApiKey::Metadata, METADATA_VERSION, &req).await?;
    let resp: MetadataResponse = c.recv(ApiKey::Metadata, METADATA_VERSION).await?;
    match resp.topics.first() {
        Some(t) if t.error_code == 0 => Ok(()),
        Some(t) => bail!(
            "topic {topic:?}: Kafka error code {} (is auto-creation on?)",
            t.error_code
        ),
        None => bail!("the broker did not describe topic {topic:?}"),
    }
}

async fn produce_case(a: &KafkaArgs, case: Case) -> anyhow::Result<Outcome> {
    let mut c = Conn::open(&a.bootstrap).await?;
    let window = if case == Case::Pipelined {
        a.in_flight.max(1)
    } else {
        1
    };
    let deadline = Instant::now() + Duration::from_secs_f64(a.seconds);
    let mut sent_at: VecDeque<Instant> = VecDeque::with_capacity(window);
    let mut lat = Vec::with_capacity(a.records as usize);
    let mut progress = Progress {
        last: Instant::now(),
        case,
    };
    let started = Instant::now();
    let (mut sent, mut done) = (0u64, 0u64);
    while done < sent || (sent < a.records && Instant::now() < deadline) {
        while sent_at.len() < window && sent < a.records && Instant::now() < deadline {
            c.send(
                ApiKey::Produce,
                PRODUCE_VERSION,
                &produce_request(&a.topic, record(a.record_bytes), a.acks),
            )
            .await?;
            sent_at.push_back(Instant::now());
            sent += 1;
        }
        let resp: ProduceResponse = c.recv(ApiKey::Produce, PRODUCE_VERSION).await?;
        check_produce(&resp)?;
        let at = sent_at.pop_front().expect("a request in flight");
        lat.push(at.elapsed().as_secs_f64() * 1e3);
        done += 1;
        progress.tick(done, started);
    }
    Ok(outcome(case, done, started.elapsed(), a.record_bytes, lat))
}

fn fetch_request(topic: &str, offset: i64, max_wait_ms: i32) -> FetchRequest {
    let partition = FetchPartition::default()
        .with_partition(0)
        .with_fetch_offset(offset)
        .with_partition_max_bytes(1 << 20);
    FetchRequest::default()
        .with_replica_id(kafka_protocol::messages::BrokerId(-1))
        .with_max_wait_ms(max_wait_ms)
        .with_min_bytes(1)
        .with_max_bytes(4 << 20)
        .with_isolation_level(0)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_string(topic.to_owned())))
                .with_partitions(vec![partition]),
        ])
}

/// Records in a fetch response, with each one's send time (µs) from its value.
fn fetched(resp: &FetchResponse) -> anyhow::Result<(Vec<(i64, u64)>, i64)> {
    let mut out = Vec::new();
    let mut high_watermark = -1;
    for t in &resp.responses {
        for p in &t.partitions {
            if p.error_code != 0 {
                bail!("fetch failed with Kafka error code {}", p.error_code);
            }
            high_watermark = p.high_watermark;
            let Some(bytes) = p.records.clone().filter(|b| !b.is_empty()) else {
                continue;
            };
            for b in batch::split_batches(bytes)? {
                for r in batch::decode_records(&b)? {
                    let sent = r
                        .value
                        .as_ref()
                        .and_then(|v| std::str::from_utf8(v.get(..20)?).ok()?.parse().ok())
                        .unwrap_or(0);
                    out.push((r.offset, sent));
                }
            }
        }
    }
    Ok((out, high_watermark))
}

async fn consume_case(a: &KafkaArgs) -> anyhow::Result<Outcome> {
    let mut c = Conn::open(&a.bootstrap).await?;
    let deadline = Instant::now() + Duration::from_secs_f64(a.seconds);
    let mut progress = Progress {
        last: Instant::now(),
        case: Case::Consume,
    };
    let started = Instant::now();
    let (mut offset, mut count, mut lat) = (0i64, 0u64, Vec::new());
    while Instant::now() < deadline {
        let t = Instant::now();
        c.send(
            ApiKey::Fetch,
            FETCH_VERSION,
            &fetch_request(&a.topic, offset, 0),
        )
        .await?;
        let resp: FetchResponse = c.recv(ApiKey::Fetch, FETCH_VERSION).await?;
        let (records, high_watermark) = fetched(&resp)?;
        lat.push(t.elapsed().as_secs_f64() * 1e3);
        let Some(&(last, _)) = records.last() else {
            break;
        };
        count += records.iter().filter(|(o, _)| *o >= offset).count() as u64;
        offset = last + 1;
        progress.tick(count, started);
        if offset >= high_watermark {
            break;
        }
    }
    Ok(outcome(
        Case::Consume,
        count,
        started.elapsed(),
        a.record_bytes,
        lat,
    ))
}

async fn e2e_case(a: &KafkaArgs) -> anyhow::Result<Outcome> {
    // Start where the log ends now.
    let mut probe = Conn::open(&a.bootstrap).await?;
    probe
        .send(ApiKey::Fetch, FETCH_VERSION, &fetch_request(&a.topic, 0, 0))
        .await?;
    let (_, start) = fetched(&probe.recv(ApiKey::Fetch, FETCH_VERSION).await?)?;
    let want = a.records.min((a.rate as f64 * a.seconds) as u64).max(1);
    let consumer = {
        let addr = a.bootstrap.clone();
        let topic = a.topic.clone();
        tokio::spawn(async move {
            let mut c = Conn::open(&addr).await?;
            let mut offset = start.max(0);
            let mut lat = Vec::with_capacity(want as usize);
            while (lat.len() as u64) < want {
                c.send(
                    ApiKey::Fetch,
                    FETCH_VERSION,
                    &fetch_request(&topic, offset, 500),
                )
                .await?;
                let resp: FetchResponse = c.recv(ApiKey::Fetch, FETCH_VERSION).await?;
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_micros() as u64;
                for (o, sent) in fetched(&resp)?.0 {
                    if o >= offset {
                        lat.push(now.saturating_sub(sent) as f64 / 1e3);
                        offset = o + 1;
                    }
                }
            }
            anyhow::Ok(lat)
        })
    };
    // Answers are read by their own task, so pacing never waits on them.
    let Conn {
        mut read,
        mut write,
        ..
    } = Conn::open(&a.bootstrap).await?;
    let answers = tokio::spawn(async move {
        for _ in 0..want {
            check_produce(&read_response(&mut read, ApiKey::Produce, PRODUCE_VERSION).await?)?;
        }
        anyhow::Ok(())
    });
    let started = Instant::now();
    let pace = Duration::from_secs_f64(1.0 / a.rate.max(1) as f64);
    let mut progress = Progress {
        last: Instant::now(),
        case: Case::E2e,
    };
    for i in 0..want {
        tokio::time::sleep_until((started + pace.mul_f64(i as f64)).into()).await;
        let req = produce_request(&a.topic, record(a.record_bytes), a.acks);
        write_request(
            &mut write,
            i as i32 + 1,
            ApiKey::Produce,
            PRODUCE_VERSION,
            &req,
        )
        .await?;
        progress.tick(i + 1, started);
    }
    tokio::time::timeout(Duration::from_secs(30), answers)
        .await
        .context("the broker did not answer every produce within 30 s")???;
    let lat = tokio::time::timeout(Duration::from_secs(30), consumer)
        .await
        .context("the consumer did not see every record within 30 s")???;
    Ok(outcome(
        Case::E2e,
        want,
        started.elapsed(),
        a.record_bytes,
        lat,
    ))
}

pub fn run(a: &KafkaArgs) -> anyhow::Result<()> {
    if a.acks == 0 {
        bail!("--acks 0 gets no answers to time; use 1 or -1");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        ensure_topic(&a.bootstrap, &a.topic).await?;
        let mut outcomes = Vec::new();
        for &case in &a.case {
            let o = match case {
                Case::Sequential | Case::Pipelined => produce_case(a, case).await?,
                Case::Consume => consume_case(a).await?,
                Case::E2e => e2e_case(a).await?,
            };
            eprint!("\r\x1b[K");
            if a.json {
                println!("{}", serde_json::to_string(&o)?);
            } else {
                if outcomes.is_empty() {
                    println!(
                        "{:<11} {:>9} {:>12} {:>8} {:>9} {:>9} {:>9}",
                        "case", "records", "records/s", "MiB/s", "p50 ms", "p99 ms", "p99.9 ms"
                    );
                }
                println!(
                    "{:<11} {:>9} {:>12.0} {:>8.1} {:>9.3} {:>9.3} {:>9.3}",
                    format!("{case:?}").to_lowercase(),
                    o.records,
                    o.records_per_sec,
                    o.mib_per_sec,
                    o.p50_ms,
                    o.p99_ms,
                    o.p999_ms
                );
            }
            outcomes.push(o);
        }
        anyhow::Ok(())
    })
}
