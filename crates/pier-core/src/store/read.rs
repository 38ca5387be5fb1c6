//! Reads: fetch by offset up to a byte limit, offsets, timestamp lookup and
//! topic descriptions. Each read opens a short MVCC read transaction and
//! never holds it across a wait.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use redb::ReadableDatabase;
use tokio::sync::watch;

use super::Store;
use super::catalog::{BatchMeta, PartitionState};
use super::error::ReadError;
use super::tables::LOG;
use crate::batch;
use crate::topic::TopicMeta;

/// Batches read from one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadResult {
    /// Whole RecordBatch v2 batches, concatenated, exactly as stored. The
    /// first may start before the requested offset (clients skip ahead).
    pub records: Bytes,
    pub high_watermark: u64,
    pub log_start: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PartitionInfo {
    pub partition: u32,
    pub log_start: u64,
    pub high_watermark: u64,
    pub size_bytes: u64,
    pub batches: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicDescription {
    pub meta: TopicMeta,
    pub partitions: Vec<PartitionInfo>,
}

impl Store {
    fn partition(
        &self,
        topic: &str,
        partition: u32,
    ) -> Result<(u32, Arc<PartitionState>), ReadError> {
        let state = self
            .shared()
            .catalog
            .read()
            .expect("catalog lock")
            .topic(topic)
            .ok_or_else(|| ReadError::UnknownTopic(topic.to_owned()))?;
        let p = state.partitions.get(partition as usize).ok_or_else(|| {
            ReadError::UnknownPartition {
                topic: topic.to_owned(),
                partition,
                count: state.meta.partitions,
            }
        })?;
        Ok((state.meta.id, p.clone()))
    }

    /// Reads whole batches from `offset` on, stopping once `max_bytes` is
    /// reached — but always returning at least one batch if there is one, as
    /// Kafka does, so a large batch can never block a consumer.
    pub fn read(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        max_bytes: usize,
    ) -> Result<ReadResult, ReadError> {
        let (topic_id, state) = self.partition(topic, partition)?;
        let (keys, log_start, high_watermark) = {
            let index = state.index.read().expect("partition index lock");
            if offset < index.log_start || offset > index.next_offset {
                return Err(ReadError::OffsetOutOfRange {
                    offset,
                    log_start: index.log_start,
                    high_watermark: index.next_offset,
                });
            }
            let mut keys = Vec::new();
            let mut total = 0usize;
            let start = index.position_of(offset);
            for (b, cached) in index.batches.iter().zip(&index.cache).skip(start) {
                if !keys.is_empty() && total + b.size_bytes as usize > max_bytes {
                    break;
                }
                total += b.size_bytes as usize;
                keys.push((*b, cached.clone()));
            }
            (keys, index.log_start, index.next_offset)
        };
        let pieces = pieces(keys);
        // One batch from the tail cache needs no copy at all.
        if let [Piece::Cached(bytes)] = pieces.as_slice() {
            return Ok(ReadResult {
                records: bytes.clone(),
                high_watermark,
                log_start,
            });
        }
        let storage = |e: redb::Error| ReadError::Storage(e.to_string());
        let mut out = BytesMut::with_capacity(pieces.iter().map(Piece::len).sum());
        let mut txn = None;
        for piece in pieces {
            let (chunk_base, from, to) = match piece {
                Piece::Cached(bytes) => {
                    out.extend_from_slice(&bytes);
                    continue;
                }
                Piece::Row {
                    chunk_base,
                    from,
                    to,
                } => (chunk_base, from, to),
            };
            if txn.is_none() {
                let t = self.db().begin_read().map_err(|e| storage(e.into()))?;
                let log = t.open_table(LOG).map_err(|e| storage(e.into()))?;
                txn = Some((t, log));
            }
            let (_, log) = txn.as_ref().expect("opened above");
            match log
                .get((topic_id, partition, chunk_base))
                .map_err(|e| storage(e.into()))?
            {
                Some(value) => {
                    let row = value.value();
                    let Some(bytes) = row.get(from..to) else {
                        return Err(ReadError::Storage(format!(
                            "row {topic_id}/{partition}@{chunk_base} is {} bytes, batches at {from}..{to}",
                            row.len()
                        )));
                    };
                    out.extend_from_slice(bytes);
                }
                // Retention removed it after we looked at the index.
                None if out.is_empty() => {
                    let (log_start, high_watermark) = state.offsets();
                    return Err(ReadError::OffsetOutOfRange {
                        offset,
                        log_start,
                        high_watermark,
                    });
                }
                None => break,
            }
        }
        Ok(ReadResult {
            records: out.freeze(),
            high_watermark,
            log_start,
        })
    }

    /// (log start offset, high watermark).
    pub fn offsets(&self, topic: &str, partition: u32) -> Result<(u64, u64), ReadError> {
        Ok(self.partition(topic, partition)?.1.offsets())
    }

    /// The earliest record whose timestamp is at or after `timestamp_ms`:
    /// its (offset, timestamp), or `None` if there is none.
    pub fn offset_for_timestamp(
        &self,
        topic: &str,
        partition: u32,
        timestamp_ms: i64,
    ) -> Result<Option<(u64, i64)>, ReadError> {
        let (_, state) = self.partition(topic, partition)?;
        let candidates: Vec<u64> = state
            .snapshot()
            .batches
            .iter()
            .filter(|b| b.max_timestamp_ms >= timestamp_ms)
            .map(|b| b.base_offset)
            .collect();
        for base in candidates {
            let read = match self.read(topic, partition, base, 1) {
                Ok(read) => read,
                Err(ReadError::OffsetOutOfRange { .. }) => continue,
                Err(e) => return Err(e),
            };
            let records = decode_all(read.records)?;
            if let Some(r) = records.iter().find(|r| r.timestamp >= timestamp_ms) {
                return Ok(Some((r.offset as u64, r.timestamp)));
            }
        }
        Ok(None)
    }

    /// The record with the largest timestamp (the first of equals): its
    /// (offset, timestamp), or `None` for an empty partition.
    pub fn offset_of_max_timestamp(
        &self,
        topic: &str,
        partition: u32,
    ) -> Result<Option<(u64, i64)>, ReadError> {
        let (_, state) = self.partition(topic, partition)?;
        let best = state
            .snapshot()
            .batches
            .iter()
            .fold(None::<(u64, i64)>, |best, b| match best {
                Some((_, ts)) if ts >= b.max_timestamp_ms => best,
                _ => Some((b.base_offset, b.max_timestamp_ms)),
            });
        let Some((base, max_ts)) = best else {
            return Ok(None);
        };
        let read = self.read(topic, partition, base, 1)?;
        let records = decode_all(read.records)?;
        Ok(records
            .iter()
            .find(|r| r.timestamp == max_ts)
            .map(|r| (r.offset as u64, r.timestamp)))
    }

    /// Watches the high watermark of one partition: long polls wait on it
    /// (with their own timeout) instead of polling.
    pub fn watch_partition(
        &self,
        topic: &str,
        partition: u32,
    ) -> Result<watch::Receiver<u64>, ReadError> {
        Ok(self
            .partition(topic, partition)?
            .1
            .high_watermark
            .subscribe())
    }

    /// Waits until the partition holds data at or after `offset`, or it is
    /// deleted. Callers bound it with their own timeout.
    pub async fn wait_for_offset(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
    ) -> Result<(), ReadError> {
        let (_, state) = self.partition(topic, partition)?;
        let mut rx = state.high_watermark.subscribe();
        let _ = rx.wait_for(|hw| *hw > offset || state.is_deleted()).await;
        if state.is_deleted() {
            return Err(ReadError::UnknownTopic(topic.to_owned()));
        }
        Ok(())
    }

    /// Whether a topic exists, without describing its partitions (cheap
    /// enough for every produce request).
    pub fn has_topic(&self, topic: &str) -> bool {
        self.shared()
            .catalog
            .read()
            .expect("catalog lock")
            .topics
            .contains_key(topic)
    }

    pub fn topic_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .shared()
            .catalog
            .read()
            .expect("catalog lock")
            .topics
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    }

    pub fn describe_topic(&self, topic: &str) -> Option<TopicDescription> {
        let state = self
            .shared()
            .catalog
            .read()
            .expect("catalog lock")
            .topic(topic)?;
        let partitions = state
            .partitions
            .iter()
            .enumerate()
            .map(|(p, s)| {
                let index = s.index.read().expect("partition index lock");
                PartitionInfo {
                    partition: p as u32,
                    log_start: index.log_start,
                    high_watermark: index.next_offset,
                    size_bytes: index.size_bytes,
                    batches: index.batches.len(),
                }
            })
            .collect();
        Some(TopicDescription {
            meta: state.meta.clone(),
            partitions,
        })
    }
}

/// Where the bytes of a read come from: a batch in the tail cache, or a run
/// of consecutive batches in one redb row, read with one lookup (a row
/// holds up to 256 KiB of small batches; looking each batch up on its own
/// read the whole row again every time).
#[derive(Debug)]
enum Piece {
    Cached(Bytes),
    Row {
        chunk_base: u64,
        from: usize,
        to: usize,
    },
}

impl Piece {
    fn len(&self) -> usize {
        match self {
            Piece::Cached(bytes) => bytes.len(),
            Piece::Row { from, to, .. } => to - from,
        }
    }
}

/// Merges batches that sit next to each other in the same row.
fn pieces(keys: Vec<(BatchMeta, Option<Bytes>)>) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    for (meta, cached) in keys {
        if let Some(bytes) = cached {
            out.push(Piece::Cached(bytes));
            continue;
        }
        let from = meta.chunk_pos as usize;
        let to = from + meta.size_bytes as usize;
        match out.last_mut() {
            Some(Piece::Row {
                chunk_base,
                to: end,
                ..
            }) if *chunk_base == meta.chunk_base && *end == from => *end = to,
            _ => out.push(Piece::Row {
                chunk_base: meta.chunk_base,
                from,
                to,
            }),
        }
    }
    out
}

/// Every record of one or more stored batches.
fn decode_all(records: Bytes) -> Result<Vec<kafka_protocol::records::Record>, ReadError> {
    let storage = |e: batch::BatchError| ReadError::Storage(e.to_string());
    let mut out = Vec::new();
    for b in batch::split_batches(records).map_err(storage)? {
        out.extend(batch::decode_records(&b).map_err(storage)?);
    }
    Ok(out)
}
