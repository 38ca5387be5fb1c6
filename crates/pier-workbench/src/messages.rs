//! Producing test messages and browsing what is stored.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::records::Compression;
use pier_core::batch::{self, NewRecord};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::template::Template;
use crate::{Workbench, WorkbenchError};

/// Largest offset or sequence number accepted (Kafka's are `i64`).
pub const OFFSET_MAX: u64 = i64::MAX as u64;
/// Most messages one produce request may ask for.
pub const PRODUCE_COUNT_MAX: u32 = 1_000_000;
/// Highest produce rate one request may ask for, in messages per second.
pub const PRODUCE_RATE_MAX: u32 = 1_000_000;
/// Longest a paced produce request may take (`count / rate`).
pub const PRODUCE_DURATION_MAX_SECS: u32 = 600;
/// Records per batch when producing as fast as possible.
const RECORDS_PER_BATCH: u32 = 500;

/// Messages to produce. The key, the value and header values are templates:
/// `{{seq}}` becomes 0, 1, 2…, `{{uuid}}` a random UUID, `{{now}}` Unix
/// milliseconds and `{{now_iso}}` an ISO 8601 time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct ProduceRequest {
    #[serde(default)]
    #[ts(optional)]
    pub key: Option<String>,
    /// A string is sent as is; `null` sends a message without a value (a
    /// tombstone); any other JSON value is sent as JSON text.
    #[ts(type = "unknown")]
    pub value: serde_json::Value,
    #[serde(default)]
    #[ts(optional)]
    pub headers: Option<BTreeMap<String, String>>,
    /// Fixed partition; otherwise by key, or round robin without a key.
    #[serde(default)]
    #[ts(optional)]
    pub partition: Option<u32>,
    /// How many messages (default 1).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1_000_000)]
    #[ts(optional)]
    pub count: Option<u32>,
    /// Messages per second; as fast as possible when absent.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1_000_000)]
    #[ts(optional)]
    pub rate: Option<u32>,
    /// `{{seq}}` of the first message (default 0), to continue a sequence
    /// across requests.
    #[serde(default)]
    #[ts(optional)]
    pub first_seq: Option<u64>,
}

/// Offsets written in one partition.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct OffsetRange {
    pub partition: u32,
    pub first: u64,
    pub last: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct Produced {
    pub count: u32,
    pub offsets: Vec<OffsetRange>,
    pub duration_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct Message {
    pub partition: u32,
    pub offset: u64,
    pub timestamp_ms: i64,
    pub key: Option<String>,
    /// The value as text (invalid UTF-8 replaced by U+FFFD).
    pub value: Option<String>,
    /// The value's bytes in hex, when they are not valid UTF-8.
    pub value_hex: Option<String>,
    pub value_size: u32,
    pub headers: BTreeMap<String, String>,
    /// Where this message stands in the group asked for with `group`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub delivery: Option<crate::DeliveryState>,
}

fn text(b: Option<&Bytes>) -> Option<String> {
    b.map(|b| String::from_utf8_lossy(b).into_owned())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A stored record as the API shows it.
pub(crate) fn message_of(partition: u32, r: &kafka_protocol::records::Record) -> Message {
    Message {
        partition,
        offset: r.offset as u64,
        timestamp_ms: r.timestamp,
        key: text(r.key.as_ref()),
        value: text(r.value.as_ref()),
        value_hex: r
            .value
            .as_ref()
            .filter(|v| std::str::from_utf8(v).is_err())
            .map(|v| hex(v)),
        value_size: r.value.as_ref().map_or(0, |v| v.len() as u32),
        headers: r
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), text(v.as_ref()).unwrap_or_default()))
            .collect(),
        delivery: None,
    }
}

struct Templates {
    key: Option<Template>,
    value: Option<Template>,
    headers: Vec<(String, Template)>,
}

impl Templates {
    fn parse(req: &ProduceRequest) -> Result<Self, WorkbenchError> {
        let bad = |what: &str, e: String| WorkbenchError::invalid(format!("{what}: {e}"));
        let value = match &req.value {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Null => None,
            other => Some(other.to_string()),
        };
        Ok(Self {
            key: req
                .key
                .as_deref()
                .map(Template::parse)
                .transpose()
                .map_err(|e| bad("key", e))?,
            value: value
                .as_deref()
                .map(Template::parse)
                .transpose()
                .map_err(|e| bad("value", e))?,
            headers: req
                .headers
                .iter()
                .flatten()
                .map(|(k, v)| {
                    Template::parse(v)
                        .map(|t| (k.clone(), t))
                        .map_err(|e| bad(&format!("header {k:?}"), e))
                })
                .collect::<Result<_, _>>()?,
        })
    }
}

impl Workbench {
    /// Produces `count` messages, paced to `rate` if given. Everything is
    /// checked before the first message is written.
    pub async fn produce(
        &self,
        topic: &str,
        req: ProduceRequest,
    ) -> Result<Produced, WorkbenchError> {
        let count = req.count.unwrap_or(1);
        if !(1..=PRODUCE_COUNT_MAX).contains(&count) {
            return Err(WorkbenchError::invalid(format!(
                "count must be 1..={PRODUCE_COUNT_MAX}, got {count}"
            )));
        }
        if let Some(rate) = req.rate {
            if !(1..=PRODUCE_RATE_MAX).contains(&rate) {
                return Err(WorkbenchError::invalid(format!(
                    "rate must be 1..={PRODUCE_RATE_MAX} messages per second, got {rate}"
                )));
            }
            if count.div_ceil(rate) > PRODUCE_DURATION_MAX_SECS {
                return Err(WorkbenchError::invalid(format!(
                    "{count} messages at {rate}/s would take over {PRODUCE_DURATION_MAX_SECS} s; \
                     send fewer, faster, or in several requests"
                )));
            }
        }
        if req.first_seq.is_some_and(|s| s > OFFSET_MAX) {
            return Err(WorkbenchError::invalid(format!(
                "first_seq must be at most {OFFSET_MAX}"
            )));
        }
        let templates = Templates::parse(&req)?;
        if pier_core::topic::is_internal(topic) {
            return Err(WorkbenchError::invalid(format!(
                "topic {topic:?} is internal to Pier"
            )));
        }
        let summary = self.topic(topic)?;
        let partitions = summary.partitions.len() as u32;
        if let Some(p) = req.partition
            && p >= partitions
        {
            return Err(WorkbenchError::invalid(format!(
                "topic {topic:?} has {partitions} partitions, no partition {p}"
            )));
        }
        let max_bytes = summary
            .config
            .get("max.message.bytes")
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(pier_core::TopicConfig::default().max_message_bytes);
        let chunk = req
            .rate
            .map_or(RECORDS_PER_BATCH, |r| (r / 20).clamp(1, RECORDS_PER_BATCH));
        let first_seq = req.first_seq.unwrap_or(0);
        let started = Instant::now();
        let mut offsets: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
        let mut sent = 0u32;
        while sent < count {
            let n = chunk.min(count - sent);
            let now = self.now_ms();
            let mut by_partition: BTreeMap<u32, Vec<NewRecord>> = BTreeMap::new();
            for i in sent..sent + n {
                let seq = first_seq.saturating_add(i.into());
                let key = templates.key.as_ref().map(|t| t.render(seq, now));
                let partition = match (req.partition, &key) {
                    (Some(p), _) => p,
                    (None, Some(k)) => crc32c::crc32c(k.as_bytes()) % partitions,
                    (None, None) => (seq % u64::from(partitions)) as u32,
                };
                let value = templates.value.as_ref().map(|t| t.render(seq, now));
                let size = value.as_ref().map_or(0, String::len);
                if size as u64 > u64::from(max_bytes) {
                    return Err(WorkbenchError::invalid(format!(
                        "message {seq} is {size} bytes, over the {max_bytes}-byte limit"
                    )));
                }
                by_partition.entry(partition).or_default().push(NewRecord {
                    key: key.map(Bytes::from),
                    value: value.map(Bytes::from),
                    headers: templates
                        .headers
                        .iter()
                        .map(|(k, t)| (k.clone(), Some(Bytes::from(t.render(seq, now)))))
                        .collect(),
                    timestamp_ms: now,
                });
            }
            for (partition, records) in by_partition {
                let built = batch::build(&records, Compression::None, None);
                let done = self
                    .store()
                    .append(topic, partition, built.clone())
                    .await
                    .map_err(|e| WorkbenchError::unavailable(e.to_string()))?;
                self.note_produced(topic, partition, &done, &built, "pier-http", 0);
                let entry = offsets
                    .entry(partition)
                    .or_insert((done.base_offset, done.last_offset));
                entry.1 = done.last_offset;
            }
            sent += n;
            if let Some(rate) = req.rate {
                let due = started + Duration::from_secs_f64(f64::from(sent) / f64::from(rate));
                tokio::time::sleep_until(due.into()).await;
            }
        }
        Ok(Produced {
            count,
            offsets: offsets
                .into_iter()
                .map(|(partition, (first, last))| OffsetRange {
                    partition,
                    first,
                    last,
                })
                .collect(),
            duration_ms: started.elapsed().as_millis() as u64,
        })
    }
}
