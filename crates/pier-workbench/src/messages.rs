//! Producing test messages and browsing what is stored.

use std::collections::BTreeMap;

use bytes::Bytes;
use kafka_protocol::records::Compression;
use pier_core::batch::{self, NewRecord};
use serde::{Deserialize, Serialize};

use crate::{ErrorKind, Workbench, WorkbenchError};

/// Most messages one produce request may ask for.
pub const PRODUCE_COUNT_MAX: u32 = 100_000;
/// Records per batch when producing many.
const RECORDS_PER_BATCH: usize = 500;
/// Most messages one browse request returns.
pub const BROWSE_LIMIT_MAX: u32 = 1_000;

/// Messages to produce. `{{seq}}` in the key or value becomes 0, 1, 2…
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProduceRequest {
    #[serde(default)]
    pub key: Option<String>,
    /// A string is sent as is; any other JSON value is sent as JSON text.
    pub value: serde_json::Value,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Fixed partition; otherwise by key, or round robin without a key.
    #[serde(default)]
    pub partition: Option<u32>,
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Produced {
    pub count: u32,
    /// partition → offsets written there (first, last).
    pub offsets: BTreeMap<u32, (u64, u64)>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Message {
    pub partition: u32,
    pub offset: u64,
    pub timestamp_ms: i64,
    pub key: Option<String>,
    pub value: Option<String>,
    pub headers: BTreeMap<String, String>,
}

fn invalid(message: String) -> WorkbenchError {
    WorkbenchError {
        kind: ErrorKind::InvalidInput,
        message,
    }
}

fn text(b: Option<&Bytes>) -> Option<String> {
    b.map(|b| String::from_utf8_lossy(b).into_owned())
}

impl Workbench {
    pub async fn produce(
        &self,
        topic: &str,
        req: ProduceRequest,
        now_ms: i64,
    ) -> Result<Produced, WorkbenchError> {
        if !(1..=PRODUCE_COUNT_MAX).contains(&req.count) {
            return Err(invalid(format!(
                "count must be 1..={PRODUCE_COUNT_MAX}, got {}",
                req.count
            )));
        }
        let summary = self.topic(topic)?;
        let partitions = summary.partitions.len() as u32;
        if let Some(p) = req.partition
            && p >= partitions
        {
            return Err(invalid(format!(
                "topic {topic:?} has {partitions} partitions, no partition {p}"
            )));
        }
        let value_template = match &req.value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let mut by_partition: BTreeMap<u32, Vec<NewRecord>> = BTreeMap::new();
        for seq in 0..req.count {
            let fill = |t: &str| t.replace("{{seq}}", &seq.to_string());
            let key = req.key.as_deref().map(fill);
            let partition = match (req.partition, &key) {
                (Some(p), _) => p,
                (None, Some(k)) => crc32c::crc32c(k.as_bytes()) % partitions,
                (None, None) => seq % partitions,
            };
            by_partition.entry(partition).or_default().push(NewRecord {
                key: key.map(Bytes::from),
                value: Some(Bytes::from(fill(&value_template))),
                headers: req
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), Some(Bytes::from(v.clone()))))
                    .collect(),
                timestamp_ms: now_ms,
            });
        }
        let mut offsets = BTreeMap::new();
        for (partition, records) in by_partition {
            for chunk in records.chunks(RECORDS_PER_BATCH) {
                let done = self
                    .store()
                    .append(
                        topic,
                        partition,
                        batch::build(chunk, Compression::None, None),
                    )
                    .await
                    .map_err(|e| WorkbenchError {
                        kind: ErrorKind::Unavailable,
                        message: e.to_string(),
                    })?;
                let entry = offsets
                    .entry(partition)
                    .or_insert((done.base_offset, done.last_offset));
                entry.1 = done.last_offset;
            }
        }
        Ok(Produced {
            count: req.count,
            offsets,
        })
    }

    /// Up to `limit` messages of one partition from `offset` on.
    pub fn browse(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        limit: u32,
    ) -> Result<Vec<Message>, WorkbenchError> {
        if !(1..=BROWSE_LIMIT_MAX).contains(&limit) {
            return Err(invalid(format!(
                "limit must be 1..={BROWSE_LIMIT_MAX}, got {limit}"
            )));
        }
        let (start, end) = self
            .store()
            .offsets(topic, partition)
            .map_err(|e| WorkbenchError {
                kind: ErrorKind::NotFound,
                message: e.to_string(),
            })?;
        let mut next = offset.max(start);
        let mut out = Vec::new();
        while next < end && out.len() < limit as usize {
            let read = self
                .store()
                .read(topic, partition, next, 1 << 20)
                .map_err(|e| invalid(e.to_string()))?;
            let before = out.len();
            for b in batch::split_batches(read.records).map_err(|e| invalid(e.to_string()))? {
                for r in batch::decode_records(&b).map_err(|e| invalid(e.to_string()))? {
                    let o = r.offset as u64;
                    if o < next || out.len() >= limit as usize {
                        continue;
                    }
                    out.push(Message {
                        partition,
                        offset: o,
                        timestamp_ms: r.timestamp,
                        key: text(r.key.as_ref()),
                        value: text(r.value.as_ref()),
                        headers: r
                            .headers
                            .iter()
                            .map(|(k, v)| (k.to_string(), text(v.as_ref()).unwrap_or_default()))
                            .collect(),
                    });
                    next = o + 1;
                }
            }
            if out.len() == before {
                break;
            }
        }
        Ok(out)
    }
}
