//! The lean client: Kafka requests encoded with the `kafka-protocol` crate
//! straight onto a TCP connection, responses read in order.

use std::collections::HashMap;

use anyhow::{Context, bail};
use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreateTopicsRequest};
use kafka_protocol::messages::create_topics_response::CreateTopicsResponse;
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
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Either half of a plain TCP or a TLS connection.
pub type ReadHalf = Box<dyn AsyncRead + Send + Unpin>;
pub type WriteHalf = Box<dyn AsyncWrite + Send + Unpin>;

pub const PRODUCE_VERSION: i16 = 8;
pub const FETCH_VERSION: i16 = 11;
const METADATA_VERSION: i16 = 8;
const CREATE_TOPICS_VERSION: i16 = 4;
/// Kafka's TOPIC_ALREADY_EXISTS.
const TOPIC_ALREADY_EXISTS: i16 = 36;

/// One connection: requests out, responses in order.
pub struct Conn {
    pub read: BufReader<ReadHalf>,
    pub write: WriteHalf,
    next: i32,
    /// Requests encoded but not yet written (see [`Conn::queue`]).
    out: BytesMut,
    /// The `client.id` every request carries (`pier-bench` by default).
    client_id: StrBytes,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl Conn {
    /// Connects, over TLS when given a connector (an `SSL` listener).
    pub async fn open(
        addr: &str,
        tls: Option<&tokio_rustls::TlsConnector>,
    ) -> anyhow::Result<Self> {
        let s = TcpStream::connect(addr)
            .await
            .with_context(|| format!("cannot connect to {addr}"))?;
        s.set_nodelay(true)?;
        let (read, write): (ReadHalf, WriteHalf) = match tls {
            None => {
                let (r, w) = s.into_split();
                (Box::new(r), Box::new(w))
            }
            Some(connector) => {
                let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
                let name = rustls::pki_types::ServerName::try_from(host.to_owned())
                    .with_context(|| format!("{host:?} is not a TLS server name"))?;
                let t = connector
                    .connect(name, s)
                    .await
                    .with_context(|| format!("TLS handshake with {addr}"))?;
                let (r, w) = tokio::io::split(t);
                (Box::new(r), Box::new(w))
            }
        };
        Ok(Self {
            read: BufReader::with_capacity(1 << 20, read),
            write,
            next: 0,
            out: BytesMut::new(),
            client_id: StrBytes::from_static_str("pier-bench"),
        })
    }

    /// Sends `client_id` as the `client.id` of the requests from now on.
    pub fn with_client_id(mut self, client_id: &str) -> Self {
        self.client_id = StrBytes::from_string(client_id.to_owned());
        self
    }

    /// Encodes a request to go out with the next [`Conn::flush`]: a window
    /// of pipelined requests leaves in one write call, as a client
    /// library's would.
    pub fn queue(&mut self, api: ApiKey, version: i16, req: &impl Encodable) -> anyhow::Result<()> {
        self.next += 1;
        encode_request(&mut self.out, &self.client_id, self.next, api, version, req)
    }

    pub async fn flush(&mut self) -> anyhow::Result<()> {
        if !self.out.is_empty() {
            self.write.write_all(&self.out).await?;
            self.out.clear();
        }
        Ok(())
    }

    /// Whether a whole response is already buffered (reading it will not
    /// wait for the network).
    pub fn has_response(&self) -> bool {
        let buf = self.read.buffer();
        buf.len() >= 4
            && usize::try_from(i32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]))
                .is_ok_and(|size| buf.len() >= 4 + size)
    }

    pub async fn send(
        &mut self,
        api: ApiKey,
        version: i16,
        req: &impl Encodable,
    ) -> anyhow::Result<()> {
        self.next += 1;
        let mut body = BytesMut::with_capacity(256);
        encode_request(&mut body, &self.client_id, self.next, api, version, req)?;
        self.write.write_all(&body).await?;
        Ok(())
    }

    pub async fn recv<R: Decodable>(&mut self, api: ApiKey, version: i16) -> anyhow::Result<R> {
        read_response(&mut self.read, api, version).await
    }

    pub async fn call<R: Decodable>(
        &mut self,
        api: ApiKey,
        version: i16,
        req: &impl Encodable,
    ) -> anyhow::Result<R> {
        self.send(api, version, req).await?;
        self.recv(api, version).await
    }
}

pub async fn write_request(
    write: &mut (impl AsyncWrite + Unpin),
    correlation_id: i32,
    api: ApiKey,
    version: i16,
    req: &impl Encodable,
) -> anyhow::Result<()> {
    let mut body = BytesMut::with_capacity(256);
    let client_id = StrBytes::from_static_str("pier-bench");
    encode_request(&mut body, &client_id, correlation_id, api, version, req)?;
    write.write_all(&body).await?;
    Ok(())
}

/// Appends one size-prefixed request frame to `out`.
fn encode_request(
    out: &mut BytesMut,
    client_id: &StrBytes,
    correlation_id: i32,
    api: ApiKey,
    version: i16,
    req: &impl Encodable,
) -> anyhow::Result<()> {
    let header = RequestHeader::default()
        .with_request_api_key(api as i16)
        .with_request_api_version(version)
        .with_correlation_id(correlation_id)
        .with_client_id(Some(client_id.clone()));
    let start = out.len();
    out.put_i32(0);
    header.encode(out, api.request_header_version(version))?;
    req.encode(out, version)?;
    let len = (out.len() - start - 4) as i32;
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

pub async fn read_response<R: Decodable>(
    read: &mut BufReader<ReadHalf>,
    api: ApiKey,
    version: i16,
) -> anyhow::Result<R> {
    let size = read
        .read_i32()
        .await
        .context("the broker closed the connection")?;
    let mut buf = BytesMut::zeroed(usize::try_from(size).context("bad frame size")?);
    read.read_exact(&mut buf).await?;
    let mut buf = buf.freeze();
    ResponseHeader::decode(&mut buf, api.response_header_version(version))?;
    R::decode(&mut buf, version)
}

pub fn produce_request(topic: &str, partition: i32, records: Bytes, acks: i16) -> ProduceRequest {
    let partition = PartitionProduceData::default()
        .with_index(partition)
        .with_records(Some(records));
    let topic = TopicProduceData::default()
        .with_name(TopicName(StrBytes::from_string(topic.to_owned())))
        .with_partition_data(vec![partition]);
    ProduceRequest::default()
        .with_acks(acks)
        .with_timeout_ms(30_000)
        .with_topic_data(vec![topic])
}

/// Microseconds since the Unix epoch: send times travel in record values,
/// so producer and consumer may be different processes on one machine.
pub fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros() as u64
}

/// A batch of `count` records whose values start with the send time (µs
/// since the Unix epoch, 20 digits), padded to `bytes`.
pub fn records(count: usize, bytes: usize) -> Bytes {
    let now = now_micros();
    let mut value = format!("{now:020}").into_bytes();
    value.resize(bytes.max(20), b'x');
    let value = Bytes::from(value);
    let records: Vec<NewRecord> = (0..count.max(1))
        .map(|_| NewRecord {
            value: Some(value.clone()),
            timestamp_ms: (now / 1000) as i64,
            ..NewRecord::default()
        })
        .collect();
    batch::build(&records, Compression::None, None)
}

pub fn check_produce(resp: &ProduceResponse) -> anyhow::Result<()> {
    for t in &resp.responses {
        for p in &t.partition_responses {
            if p.error_code != 0 {
                bail!(
                    "produce to partition {} failed with Kafka error code {}",
                    p.index,
                    p.error_code
                );
            }
        }
    }
    Ok(())
}

/// One fetch of several partitions (`(partition, offset)`), 1 MiB each.
pub fn fetch_request(topic: &str, from: &[(i32, i64)], max_wait_ms: i32) -> FetchRequest {
    let partitions = from
        .iter()
        .map(|&(partition, offset)| {
            FetchPartition::default()
                .with_partition(partition)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(1 << 20)
        })
        .collect();
    FetchRequest::default()
        .with_replica_id(kafka_protocol::messages::BrokerId(-1))
        .with_max_wait_ms(max_wait_ms)
        .with_min_bytes(1)
        .with_max_bytes(16 << 20)
        .with_isolation_level(0)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_string(topic.to_owned())))
                .with_partitions(partitions),
        ])
}

/// What one fetch brought, per partition.
#[derive(Debug, Default)]
pub struct Fetched {
    /// Per partition: (offset, send time µs) of every record.
    pub records: HashMap<i32, Vec<(i64, u64)>>,
    pub high_watermarks: HashMap<i32, i64>,
}

/// Decodes every record (as a consumer would) and reads its send time.
pub fn fetched(resp: &FetchResponse) -> anyhow::Result<Fetched> {
    let mut out = Fetched::default();
    for t in &resp.responses {
        for p in &t.partitions {
            if p.error_code != 0 {
                bail!(
                    "fetch of partition {} failed with Kafka error code {}",
                    p.partition_index,
                    p.error_code
                );
            }
            out.high_watermarks
                .insert(p.partition_index, p.high_watermark);
            let Some(bytes) = p.records.clone().filter(|b| !b.is_empty()) else {
                continue;
            };
            let list = out.records.entry(p.partition_index).or_default();
            for b in whole_batches(bytes) {
                for r in batch::decode_records(&b)? {
                    let sent = r
                        .value
                        .as_ref()
                        .and_then(|v| std::str::from_utf8(v.get(..20)?).ok()?.parse().ok())
                        .unwrap_or(0);
                    list.push((r.offset, sent));
                }
            }
        }
    }
    Ok(out)
}

/// The complete batches of a fetched record set. A broker may end it with
/// a partial batch when the byte limit falls inside one (Kafka does);
/// consumers skip that and fetch it again from its offset.
pub fn whole_batches(mut bytes: Bytes) -> Vec<Bytes> {
    const LOG_OVERHEAD: usize = 12; // base offset (8) + length (4)
    let mut out = Vec::new();
    while bytes.len() >= LOG_OVERHEAD {
        let length = i32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        let Ok(length) = usize::try_from(length) else {
            break;
        };
        if bytes.len() < LOG_OVERHEAD + length {
            break;
        }
        out.push(bytes.split_to(LOG_OVERHEAD + length));
    }
    out
}

/// The topic's partition count, creating it with `partitions` if it does
/// not exist (or through the broker's auto-creation when that is 0).
pub async fn ensure_topic(
    addr: &str,
    tls: Option<&tokio_rustls::TlsConnector>,
    topic: &str,
    partitions: i32,
) -> anyhow::Result<i32> {
    let mut c = Conn::open(addr, tls).await?;
    if partitions > 0 {
        let req = CreateTopicsRequest::default()
            .with_topics(vec![
                CreatableTopic::default()
                    .with_name(TopicName(StrBytes::from_string(topic.to_owned())))
                    .with_num_partitions(partitions)
                    .with_replication_factor(1),
            ])
            .with_timeout_ms(30_000);
        let resp: CreateTopicsResponse = c
            .call(ApiKey::CreateTopics, CREATE_TOPICS_VERSION, &req)
            .await?;
        if let Some(t) = resp.topics.first()
            && t.error_code != 0
            && t.error_code != TOPIC_ALREADY_EXISTS
        {
            bail!(
                "creating topic {topic:?} with {partitions} partitions: Kafka error code {}",
                t.error_code
            );
        }
    }
    let req = MetadataRequest::default()
        .with_topics(Some(vec![MetadataRequestTopic::default().with_name(Some(
            TopicName(StrBytes::from_string(topic.to_owned())),
        ))]))
        .with_allow_auto_topic_creation(true);
    let resp: MetadataResponse = c.call(ApiKey::Metadata, METADATA_VERSION, &req).await?;
    match resp.topics.first() {
        Some(t) if t.error_code == 0 && !t.partitions.is_empty() => {
            let count = t.partitions.len() as i32;
            if partitions > 0 && count != partitions {
                eprintln!(
                    "note: topic {topic:?} already exists with {count} partitions (not {partitions})"
                );
            }
            Ok(count)
        }
        Some(t) => bail!(
            "topic {topic:?}: Kafka error code {} (is auto-creation on?)",
            t.error_code
        ),
        None => bail!("the broker did not describe topic {topic:?}"),
    }
}

/// A TLS client trusting the CA certificates in `ca_pem`.
pub fn tls_connector(ca_pem: &std::path::Path) -> anyhow::Result<tokio_rustls::TlsConnector> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_pem)
        .with_context(|| format!("reading {}", ca_pem.display()))?
    {
        roots.add(cert.with_context(|| format!("reading {}", ca_pem.display()))?)?;
    }
    #[allow(deprecated)] // ring: see pier_kafka::tls
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(std::sync::Arc::new(
        config,
    )))
}
