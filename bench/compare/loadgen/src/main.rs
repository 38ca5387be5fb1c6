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
//! loadgen startup --name NAME --port P --tmp DIR [--runs N] [--env K=V]... -- CMD ARGS...
//! ```
//!
//! Options: `--records N` (cap; consume reads exactly N), `--seconds S` (time
//! limit of a produce case, duration of e2e), `--record-bytes 1024`,
//! `--in-flight 256`, `--rate 5000`, `--name` (stream / queue name), `--group`
//! (consumer group / durable consumer name).

use std::collections::HashMap;
use std::future::{Future, IntoFuture};
use std::io::Write;
use std::net::TcpStream;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde_json::json;

const MIB: f64 = 1024.0 * 1024.0;

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

// ---------------------------------------------------------------- results

fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

fn now_ns() -> u64 {
    base().elapsed().as_nanos() as u64
}

/// A payload of `len` bytes whose first 8 bytes are a timestamp (ns since
/// this process's base instant); the rest is filler.
fn payload(len: usize, ts_ns: u64) -> Vec<u8> {
    let mut p = vec![b'x'; len];
    p[..8].copy_from_slice(&ts_ns.to_le_bytes());
    p
}

fn stamp(p: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&p[..8]);
    u64::from_le_bytes(b)
}

fn pct(sorted: &[u64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    Some(sorted[i] as f64 / 1e6)
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

fn report(system: &str, case: &str, records: u64, secs: f64, bytes: usize, mut lat_ns: Vec<u64>) {
    lat_ns.sort_unstable();
    let ms = |q| pct(&lat_ns, q).map(|v| round(v, 3));
    let line = json!({
        "system": system,
        "case": case,
        "records": records,
        "seconds": round(secs, 3),
        "records_per_sec": round(records as f64 / secs, 1),
        "mib_per_sec": round(records as f64 * bytes as f64 / secs / MIB, 2),
        "p50_ms": ms(0.50),
        "p99_ms": ms(0.99),
        "p999_ms": ms(0.999),
    });
    println!("{line}");
    std::io::stdout().flush().ok();
}

// ---------------------------------------------------------------- drivers

type BoxFut<T> = Pin<Box<dyn Future<Output = Result<T>> + Send>>;

/// A durable producer: `send` hands one record to the broker and returns a
/// future that resolves when the broker has acknowledged it durably.
trait Producer: Send {
    fn send(&mut self, payload: Vec<u8>) -> impl Future<Output = Result<BoxFut<()>>> + Send;
}

/// A consumer that acknowledges what it reads: `next_batch` returns the next
/// records (blocking up to about a second), acknowledging the previous batch.
trait Consumer: Send {
    fn next_batch(&mut self) -> impl Future<Output = Result<Vec<Vec<u8>>>> + Send;
    fn finish(&mut self) -> impl Future<Output = Result<()>> + Send;
}

async fn sequential<P: Producer>(system: &str, p: &mut P, o: &Opts) -> Result<()> {
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

async fn pipelined<P: Producer>(system: &str, p: &mut P, o: &Opts) -> Result<()> {
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

async fn consume<C: Consumer>(system: &str, c: &mut C, o: &Opts) -> Result<()> {
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
async fn e2e<P: Producer + 'static, C: Consumer + 'static>(
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

// ---------------------------------------------------------------- Redis

mod redis_impl {
    use super::*;
    use redis::aio::MultiplexedConnection;
    use redis::streams::StreamReadReply;

    pub async fn connect(addr: &str) -> Result<MultiplexedConnection> {
        let client = redis::Client::open(format!("redis://{addr}/"))?;
        let cfg = redis::AsyncConnectionConfig::new()
            .set_response_timeout(None)
            .set_connection_timeout(Some(Duration::from_secs(10)));
        Ok(client
            .get_multiplexed_async_connection_with_config(&cfg)
            .await?)
    }

    pub struct P {
        pub con: MultiplexedConnection,
        pub stream: String,
    }

    impl Producer for P {
        async fn send(&mut self, payload: Vec<u8>) -> Result<BoxFut<()>> {
            let mut con = self.con.clone();
            let stream = self.stream.clone();
            // The multiplexed connection pipelines concurrent commands on
            // one socket; the reply comes after Redis has fsynced the AOF
            // (appendfsync always).
            Ok(Box::pin(async move {
                let _id: String = redis::cmd("XADD")
                    .arg(&stream)
                    .arg("*")
                    .arg("d")
                    .arg(payload)
                    .query_async(&mut con)
                    .await?;
                Ok(())
            }))
        }
    }

    pub struct C {
        pub con: MultiplexedConnection,
        pub stream: String,
        pub group: String,
        pub unacked: Vec<String>,
    }

    impl C {
        pub async fn new(addr: &str, stream: &str, group: &str) -> Result<Self> {
            let mut con = connect(addr).await?;
            let r: redis::RedisResult<()> = redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(stream)
                .arg(group)
                .arg("0")
                .arg("MKSTREAM")
                .query_async(&mut con)
                .await;
            if let Err(e) = r
                && e.code() != Some("BUSYGROUP")
            {
                return Err(e.into());
            }
            Ok(C {
                con,
                stream: stream.into(),
                group: group.into(),
                unacked: Vec::new(),
            })
        }

        async fn ack(&mut self) -> Result<()> {
            if self.unacked.is_empty() {
                return Ok(());
            }
            let _: u64 = redis::cmd("XACK")
                .arg(&self.stream)
                .arg(&self.group)
                .arg(&self.unacked)
                .query_async(&mut self.con)
                .await?;
            self.unacked.clear();
            Ok(())
        }
    }

    impl Consumer for C {
        async fn next_batch(&mut self) -> Result<Vec<Vec<u8>>> {
            self.ack().await?;
            let reply: Option<StreamReadReply> = redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg(&self.group)
                .arg("c1")
                .arg("COUNT")
                .arg(256)
                .arg("BLOCK")
                .arg(1000)
                .arg("STREAMS")
                .arg(&self.stream)
                .arg(">")
                .query_async(&mut self.con)
                .await?;
            let mut out = Vec::new();
            for key in reply.map(|r| r.keys).unwrap_or_default() {
                for id in key.ids {
                    if let Some(redis::Value::BulkString(b)) = id.map.get("d") {
                        out.push(b.clone());
                    } else {
                        bail!("redis: entry {} has no field d", id.id);
                    }
                    self.unacked.push(id.id);
                }
            }
            Ok(out)
        }
        async fn finish(&mut self) -> Result<()> {
            self.ack().await
        }
    }

    pub async fn run(case: &str, o: &Opts) -> Result<()> {
        let producer = || async {
            Ok::<_, anyhow::Error>(P {
                con: connect(&o.addr).await?,
                stream: o.name.clone(),
            })
        };
        match case {
            "sequential" => sequential("redis", &mut producer().await?, o).await,
            "pipelined" => pipelined("redis", &mut producer().await?, o).await,
            "consume" => consume("redis", &mut C::new(&o.addr, &o.name, &o.group).await?, o).await,
            "e2e" => {
                let c = C::new(&o.addr, &o.name, &o.group).await?;
                e2e("redis", producer().await?, c, o).await
            }
            _ => bail!("unknown case {case}"),
        }
    }
}

// ---------------------------------------------------------------- RabbitMQ

mod rabbit_impl {
    use super::*;
    use lapin::options::{
        BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
        ConfirmSelectOptions, QueueDeclareOptions,
    };
    use lapin::types::{AMQPValue, FieldTable, LongString};
    use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

    async fn connect(addr: &str) -> Result<Connection> {
        Ok(Connection::connect(
            &format!("amqp://guest:guest@{addr}/%2f"),
            ConnectionProperties::default(),
        )
        .await?)
    }

    async fn declare(ch: &Channel, queue: &str) -> Result<()> {
        let mut args = FieldTable::default();
        args.insert(
            "x-queue-type".into(),
            AMQPValue::LongString(LongString::from("quorum")),
        );
        ch.queue_declare(
            queue.into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            args,
        )
        .await?;
        Ok(())
    }

    pub struct P {
        _conn: Connection,
        ch: Channel,
        queue: String,
    }

    impl P {
        pub async fn new(addr: &str, queue: &str) -> Result<Self> {
            let conn = connect(addr).await?;
            let ch = conn.create_channel().await?;
            declare(&ch, queue).await?;
            ch.confirm_select(ConfirmSelectOptions::default()).await?;
            Ok(P {
                _conn: conn,
                ch,
                queue: queue.into(),
            })
        }
    }

    impl Producer for P {
        async fn send(&mut self, payload: Vec<u8>) -> Result<BoxFut<()>> {
            let confirm = self
                .ch
                .basic_publish(
                    "".into(),
                    self.queue.as_str().into(),
                    BasicPublishOptions::default(),
                    &payload,
                    BasicProperties::default().with_delivery_mode(2),
                )
                .await?;
            Ok(Box::pin(async move {
                let c = confirm.await?;
                if !c.is_ack() {
                    bail!("rabbitmq: publish nacked");
                }
                Ok(())
            }))
        }
    }

    pub struct C {
        _conn: Connection,
        ch: Channel,
        consumer: lapin::Consumer,
        last_tag: Option<u64>,
        unacked: usize,
    }

    const ACK_EVERY: usize = 256;

    impl C {
        pub async fn new(addr: &str, queue: &str) -> Result<Self> {
            let conn = connect(addr).await?;
            let ch = conn.create_channel().await?;
            declare(&ch, queue).await?;
            ch.basic_qos(1024, BasicQosOptions::default()).await?;
            let consumer = ch
                .basic_consume(
                    queue.into(),
                    "c1".into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            Ok(C {
                _conn: conn,
                ch,
                consumer,
                last_tag: None,
                unacked: 0,
            })
        }
        async fn ack(&mut self) -> Result<()> {
            if let Some(tag) = self.last_tag.take() {
                self.ch
                    .basic_ack(tag, BasicAckOptions { multiple: true })
                    .await?;
                self.unacked = 0;
            }
            Ok(())
        }
    }

    impl Consumer for C {
        async fn next_batch(&mut self) -> Result<Vec<Vec<u8>>> {
            let mut out = Vec::new();
            // Wait up to a second for the first delivery, then take what is
            // already buffered (up to 256).
            let first =
                match tokio::time::timeout(Duration::from_secs(1), self.consumer.next()).await {
                    Err(_) => return Ok(out),
                    Ok(None) => bail!("rabbitmq: consumer closed"),
                    Ok(Some(d)) => d?,
                };
            let mut next = Some(first);
            while let Some(d) = next.take() {
                self.last_tag = Some(d.delivery_tag);
                self.unacked += 1;
                out.push(d.data);
                if out.len() >= 256 {
                    break;
                }
                next = match futures_util::FutureExt::now_or_never(self.consumer.next()) {
                    Some(Some(d)) => Some(d?),
                    Some(None) => bail!("rabbitmq: consumer closed"),
                    None => None,
                };
            }
            if self.unacked >= ACK_EVERY {
                self.ack().await?;
            }
            Ok(out)
        }
        async fn finish(&mut self) -> Result<()> {
            self.ack().await
        }
    }

    pub async fn run(case: &str, o: &Opts) -> Result<()> {
        match case {
            "sequential" => sequential("rabbitmq", &mut P::new(&o.addr, &o.name).await?, o).await,
            "pipelined" => pipelined("rabbitmq", &mut P::new(&o.addr, &o.name).await?, o).await,
            "consume" => consume("rabbitmq", &mut C::new(&o.addr, &o.name).await?, o).await,
            "e2e" => {
                let c = C::new(&o.addr, &o.name).await?;
                e2e("rabbitmq", P::new(&o.addr, &o.name).await?, c, o).await
            }
            _ => bail!("unknown case {case}"),
        }
    }
}

// ---------------------------------------------------------------- NATS

mod nats_impl {
    use super::*;
    use async_nats::jetstream::{self, consumer, stream};

    async fn js(addr: &str) -> Result<jetstream::Context> {
        let client = async_nats::connect(addr).await?;
        let mut js = jetstream::new(client);
        js.set_timeout(Duration::from_secs(30));
        Ok(js)
    }

    async fn ensure_stream(js: &jetstream::Context, name: &str) -> Result<stream::Stream> {
        Ok(js
            .get_or_create_stream(stream::Config {
                name: name.to_string(),
                subjects: vec![name.to_string()],
                storage: stream::StorageType::File,
                num_replicas: 1,
                ..Default::default()
            })
            .await?)
    }

    pub struct P {
        js: jetstream::Context,
        subject: String,
    }

    impl P {
        pub async fn new(addr: &str, name: &str) -> Result<Self> {
            let js = js(addr).await?;
            ensure_stream(&js, name).await?;
            Ok(P {
                js,
                subject: name.to_string(),
            })
        }
    }

    impl Producer for P {
        async fn send(&mut self, payload: Vec<u8>) -> Result<BoxFut<()>> {
            let ack = self
                .js
                .publish(self.subject.clone(), payload.into())
                .await?;
            Ok(Box::pin(async move {
                ack.into_future().await?;
                Ok(())
            }))
        }
    }

    pub struct C {
        messages: consumer::pull::Stream,
        last: Option<jetstream::Message>,
        unacked: usize,
    }

    impl C {
        pub async fn new(addr: &str, name: &str, group: &str) -> Result<Self> {
            let js = js(addr).await?;
            let stream = ensure_stream(&js, name).await?;
            let consumer: consumer::PullConsumer = stream
                .get_or_create_consumer(
                    group,
                    consumer::pull::Config {
                        durable_name: Some(group.to_string()),
                        ack_policy: consumer::AckPolicy::All,
                        max_ack_pending: 100_000,
                        ..Default::default()
                    },
                )
                .await?;
            let messages = consumer
                .stream()
                .max_messages_per_batch(512)
                .messages()
                .await?;
            Ok(C {
                messages,
                last: None,
                unacked: 0,
            })
        }
        async fn ack(&mut self) -> Result<()> {
            if let Some(m) = self.last.take() {
                // AckPolicy::All: acknowledging this one acknowledges every
                // earlier message too.
                m.ack().await.map_err(|e| anyhow!("nats ack: {e}"))?;
                self.unacked = 0;
            }
            Ok(())
        }
    }

    impl Consumer for C {
        async fn next_batch(&mut self) -> Result<Vec<Vec<u8>>> {
            let mut out = Vec::new();
            let first =
                match tokio::time::timeout(Duration::from_secs(1), self.messages.next()).await {
                    Err(_) => return Ok(out),
                    Ok(None) => bail!("nats: message stream ended"),
                    Ok(Some(m)) => m.map_err(|e| anyhow!("nats: {e}"))?,
                };
            let mut next = Some(first);
            while let Some(m) = next.take() {
                out.push(m.payload.to_vec());
                self.last = Some(m);
                self.unacked += 1;
                if out.len() >= 256 {
                    break;
                }
                next = match futures_util::FutureExt::now_or_never(self.messages.next()) {
                    Some(Some(m)) => Some(m.map_err(|e| anyhow!("nats: {e}"))?),
                    Some(None) => bail!("nats: message stream ended"),
                    None => None,
                };
            }
            if self.unacked >= 256 {
                self.ack().await?;
            }
            Ok(out)
        }
        async fn finish(&mut self) -> Result<()> {
            self.ack().await?;
            Ok(())
        }
    }

    pub async fn run(case: &str, o: &Opts) -> Result<()> {
        let name = o.name.to_uppercase();
        match case {
            "sequential" => sequential("nats", &mut P::new(&o.addr, &name).await?, o).await,
            "pipelined" => pipelined("nats", &mut P::new(&o.addr, &name).await?, o).await,
            "consume" => consume("nats", &mut C::new(&o.addr, &name, &o.group).await?, o).await,
            "e2e" => {
                let c = C::new(&o.addr, &name, &o.group).await?;
                e2e("nats", P::new(&o.addr, &name).await?, c, o).await
            }
            _ => bail!("unknown case {case}"),
        }
    }
}

// ---------------------------------------------------------------- disk

/// Single thread: append 1 KiB to a fresh file, fdatasync, repeat.
fn disk(args: &[String]) -> Result<()> {
    let mut dir = None;
    let mut seconds = 3.0;
    let mut bytes = 1024usize;
    let mut case = "append+fdatasync".to_string();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--dir" => dir = it.next().cloned(),
            "--seconds" => seconds = it.next().context("--seconds")?.parse()?,
            "--record-bytes" => bytes = it.next().context("--record-bytes")?.parse()?,
            "--case" => case = it.next().context("--case")?.clone(),
            _ => bail!("unexpected argument {a}"),
        }
    }
    let dir = dir.context("disk needs --dir")?;
    let path = std::path::Path::new(&dir).join("loadgen-disk.bin");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)?;
    let buf = vec![b'x'; bytes];
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut lat = Vec::new();
    let start = Instant::now();
    while Instant::now() < deadline {
        let t = Instant::now();
        f.write_all(&buf)?;
        f.sync_data()?;
        lat.push(t.elapsed().as_nanos() as u64);
    }
    let secs = start.elapsed().as_secs_f64();
    drop(f);
    std::fs::remove_file(&path).ok();
    report("disk", &case, lat.len() as u64, secs, bytes, lat);
    Ok(())
}

// ---------------------------------------------------------------- start-up

/// Spawns CMD (in its own process group, `{dir}` in its arguments and in
/// `--env` values replaced by a fresh empty directory under --tmp), polls
/// 127.0.0.1:PORT every millisecond until a TCP connection is accepted,
/// then kills the process group. Repeats --runs times.
fn startup(args: &[String]) -> Result<()> {
    let split = args
        .iter()
        .position(|a| a == "--")
        .context("startup needs -- CMD ARGS")?;
    let (opts, cmd) = (&args[..split], &args[split + 1..]);
    if cmd.is_empty() {
        bail!("startup: empty command");
    }
    let mut name = "?".to_string();
    let mut port: u16 = 0;
    let mut runs = 5usize;
    let mut tmp = std::env::temp_dir();
    let mut env: Vec<(String, String)> = Vec::new();
    let mut it = opts.iter();
    while let Some(a) = it.next() {
        let v = it.next().with_context(|| format!("{a} needs a value"))?;
        match a.as_str() {
            "--name" => name = v.clone(),
            "--port" => port = v.parse()?,
            "--runs" => runs = v.parse()?,
            "--tmp" => tmp = v.into(),
            "--env" => {
                let (k, val) = v.split_once('=').context("--env K=V")?;
                env.push((k.into(), val.into()));
            }
            _ => bail!("unexpected argument {a}"),
        }
    }
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut times = Vec::new();
    for run in 0..runs {
        let dir = tmp.join(format!("startup-{name}-{run}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let d = dir.to_string_lossy().to_string();
        let sub = |s: &str| s.replace("{dir}", &d);
        let mut c = std::process::Command::new(sub(&cmd[0]));
        c.args(cmd[1..].iter().map(|a| sub(a)));
        for (k, v) in &env {
            c.env(k, sub(v));
        }
        c.stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(dir.join("stdout.log"))?)
            .stderr(std::fs::File::create(dir.join("stderr.log"))?);
        std::os::unix::process::CommandExt::process_group(&mut c, 0);
        let t0 = Instant::now();
        let mut child = c.spawn().with_context(|| format!("spawn {}", cmd[0]))?;
        let took = loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                break Some(t0.elapsed());
            }
            if let Some(st) = child.try_wait()? {
                eprintln!("startup {name}: process exited with {st} (logs in {d})");
                break None;
            }
            if t0.elapsed() > Duration::from_secs(120) {
                break None;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        let pgid = child.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .status();
        let _ = child.wait();
        // Let the port be released before the next run.
        let mut free = false;
        for _ in 0..500 {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(50)).is_err() {
                free = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if !free {
            bail!("startup {name}: port {port} still accepting after kill");
        }
        let took =
            took.with_context(|| format!("startup {name}: no connection accepted (logs in {d})"))?;
        std::fs::remove_dir_all(&dir).ok();
        eprintln!(
            "startup {name} run {}: {:.1} ms",
            run + 1,
            took.as_secs_f64() * 1e3
        );
        times.push(took.as_nanos() as u64);
    }
    times.sort_unstable();
    let median = times[times.len() / 2] as f64 / 1e6;
    let line = json!({
        "system": name,
        "case": "startup",
        "records": runs,
        "seconds": round(times.iter().sum::<u64>() as f64 / 1e9, 3),
        "records_per_sec": null,
        "mib_per_sec": null,
        "p50_ms": round(median, 1),
        "p99_ms": round(*times.last().unwrap() as f64 / 1e6, 1),
        "p999_ms": null,
        "min_ms": round(times[0] as f64 / 1e6, 1),
    });
    println!("{line}");
    Ok(())
}

// ---------------------------------------------------------------- main

fn usage() -> ! {
    eprintln!(
        "usage:\n  loadgen redis|rabbitmq|nats sequential|pipelined|consume|e2e --addr HOST:PORT \
         [--records N] [--seconds S] [--record-bytes B] [--in-flight N] [--rate R] [--name Q] [--group G]\n  \
         loadgen disk --dir DIR [--seconds S] [--case NAME]\n  \
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
