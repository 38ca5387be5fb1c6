//! Idempotent producers: per (producer id, partition) the epoch, the last
//! sequence number and the last few batches, so a retried batch is answered
//! with its original offsets instead of being stored twice.
//!
//! Kafka's rules: an older epoch is fenced; a new epoch must start at
//! sequence 0; within an epoch a batch must start right after the last one
//! (wrapping at `i32::MAX`) or repeat one of the last five. A producer we
//! know nothing about (first write, or state older than what we kept) is
//! accepted, as Kafka does since KIP-360.

use std::collections::{HashMap, VecDeque};

use redb::ReadableDatabase;

use super::catalog::Catalog;
use super::error::AppendError;
use super::tables::LOG;
use crate::batch::BatchInfo;

/// Batches remembered per producer and partition (Kafka keeps five).
pub const PRODUCER_BATCHES_KEPT: usize = 5;
/// Batches read from the end of each partition on open to rebuild state.
pub const PRODUCER_REBUILD_BATCHES: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SeenBatch {
    first_seq: i32,
    last_seq: i32,
    base_offset: u64,
    last_offset: u64,
}

#[derive(Debug, Clone, Default)]
struct ProducerState {
    epoch: i16,
    last_seq: i32,
    recent: VecDeque<SeenBatch>,
}

/// What the sequence check decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Store it.
    Append,
    /// Already stored at these offsets: answer, store nothing.
    Duplicate { base_offset: u64, last_offset: u64 },
}

#[derive(Debug, Default)]
pub(crate) struct ProducerTable {
    states: HashMap<(i64, u32, u32), ProducerState>,
}

fn next_seq(seq: i32) -> i32 {
    if seq == i32::MAX { 0 } else { seq + 1 }
}

fn last_seq_of(info: &BatchInfo) -> i32 {
    let span = info.record_count as i64 - 1;
    ((i64::from(info.base_sequence) + span) % (i64::from(i32::MAX) + 1)) as i32
}

impl ProducerTable {
    /// Checks a batch of an idempotent producer (`producer_id >= 0`).
    pub fn check(
        &self,
        topic_id: u32,
        partition: u32,
        info: &BatchInfo,
    ) -> Result<Verdict, AppendError> {
        let Some(state) = self.states.get(&(info.producer_id, topic_id, partition)) else {
            return Ok(Verdict::Append);
        };
        let (epoch, first) = (info.producer_epoch, info.base_sequence);
        if epoch < state.epoch {
            return Err(AppendError::ProducerFenced {
                current_epoch: state.epoch,
                got: epoch,
            });
        }
        if epoch > state.epoch {
            return if first == 0 {
                Ok(Verdict::Append)
            } else {
                Err(AppendError::OutOfOrderSequence {
                    expected: 0,
                    got: first,
                })
            };
        }
        let last = last_seq_of(info);
        if let Some(seen) = state
            .recent
            .iter()
            .find(|b| b.first_seq == first && b.last_seq == last)
        {
            return Ok(Verdict::Duplicate {
                base_offset: seen.base_offset,
                last_offset: seen.last_offset,
            });
        }
        let expected = next_seq(state.last_seq);
        if first != expected {
            return Err(AppendError::OutOfOrderSequence {
                expected,
                got: first,
            });
        }
        Ok(Verdict::Append)
    }

    /// Records a batch that is being stored at `base_offset..=last_offset`.
    pub fn record(
        &mut self,
        topic_id: u32,
        partition: u32,
        info: &BatchInfo,
        base_offset: u64,
        last_offset: u64,
    ) {
        let state = self
            .states
            .entry((info.producer_id, topic_id, partition))
            .or_default();
        if info.producer_epoch != state.epoch {
            state.recent.clear();
        }
        state.epoch = info.producer_epoch;
        state.last_seq = last_seq_of(info);
        state.recent.push_back(SeenBatch {
            first_seq: info.base_sequence,
            last_seq: state.last_seq,
            base_offset,
            last_offset,
        });
        while state.recent.len() > PRODUCER_BATCHES_KEPT {
            state.recent.pop_front();
        }
    }

    /// Rebuilds state from the last batches of every partition. A stored
    /// batch that no longer splits or validates is an error naming where it
    /// is: skipping it could let a retried sequence be stored twice.
    pub fn rebuild(db: &redb::Database, catalog: &Catalog) -> Result<Self, String> {
        let mut table = Self::default();
        let txn = db.begin_read().map_err(|e| e.to_string())?;
        let log = txn.open_table(LOG).map_err(|e| e.to_string())?;
        // Internal topics (`__pier…`) are written by Pier alone, never by an
        // idempotent producer; their state log has its own repair path.
        let client_topics = catalog
            .topics
            .values()
            .filter(|t| !t.meta.name.starts_with(crate::topic::INTERNAL_PREFIX));
        for topic in client_topics {
            for (p, state) in topic.partitions.iter().enumerate() {
                let index = state.snapshot();
                let skip = index.batches.len().saturating_sub(PRODUCER_REBUILD_BATCHES);
                let mut rows: Vec<u64> = index
                    .batches
                    .iter()
                    .skip(skip)
                    .map(|b| b.chunk_base)
                    .collect();
                rows.dedup();
                let name = &topic.meta.name;
                for row in rows {
                    let at = |e: &dyn std::fmt::Display| {
                        format!("topic {name:?} partition {p}, log row at offset {row}: {e}")
                    };
                    let Some(value) = log
                        .get((topic.meta.id, p as u32, row))
                        .map_err(|e| at(&e))?
                    else {
                        return Err(at(&"the row the index names is missing"));
                    };
                    let bytes = bytes::Bytes::copy_from_slice(value.value());
                    for b in crate::batch::split_batches(bytes).map_err(|e| at(&e))? {
                        let base = crate::batch::base_offset_of(&b) as u64;
                        let info = crate::batch::validate(&b).map_err(|e| {
                            format!("topic {name:?} partition {p}, batch at offset {base}: {e}")
                        })?;
                        if info.producer_id >= 0 {
                            let last = base + u64::from(info.last_offset_delta);
                            table.record(topic.meta.id, p as u32, &info, base, last);
                        }
                    }
                }
            }
        }
        Ok(table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::records::Compression;

    fn info(epoch: i16, first: i32, count: u32) -> BatchInfo {
        BatchInfo {
            record_count: count,
            last_offset_delta: count - 1,
            first_timestamp_ms: 0,
            max_timestamp_ms: 0,
            producer_id: 7,
            producer_epoch: epoch,
            base_sequence: first,
            transactional: false,
            control: false,
            compression: Compression::None,
            size_bytes: 100,
        }
    }

    #[test]
    fn sequences_follow_kafka_rules() {
        let mut t = ProducerTable::default();
        assert_eq!(t.check(1, 0, &info(0, 0, 3)), Ok(Verdict::Append));
        t.record(1, 0, &info(0, 0, 3), 0, 2);
        assert_eq!(
            t.check(1, 0, &info(0, 0, 3)),
            Ok(Verdict::Duplicate {
                base_offset: 0,
                last_offset: 2
            }),
            "a retry is answered with its offsets"
        );
        assert_eq!(
            t.check(1, 0, &info(0, 5, 1)),
            Err(AppendError::OutOfOrderSequence {
                expected: 3,
                got: 5
            })
        );
        assert_eq!(t.check(1, 0, &info(0, 3, 1)), Ok(Verdict::Append));
        assert_eq!(
            t.check(1, 1, &info(0, 9, 1)),
            Ok(Verdict::Append),
            "partitions are separate"
        );
        assert!(matches!(
            t.check(1, 0, &info(1, 4, 1)),
            Err(AppendError::OutOfOrderSequence { expected: 0, .. })
        ));
        t.record(1, 0, &info(1, 0, 1), 3, 3);
        assert_eq!(
            t.check(1, 0, &info(0, 3, 1)),
            Err(AppendError::ProducerFenced {
                current_epoch: 1,
                got: 0
            })
        );
    }

    #[test]
    fn only_the_last_five_batches_are_remembered() {
        let mut t = ProducerTable::default();
        for i in 0..7 {
            t.record(1, 0, &info(0, i, 1), i as u64, i as u64);
        }
        assert!(matches!(
            t.check(1, 0, &info(0, 6, 1)),
            Ok(Verdict::Duplicate { .. })
        ));
        assert!(matches!(
            t.check(1, 0, &info(0, 2, 1)),
            Ok(Verdict::Duplicate { .. })
        ));
        assert!(matches!(
            t.check(1, 0, &info(0, 1, 1)),
            Err(AppendError::OutOfOrderSequence { .. })
        ));
    }

    #[test]
    fn sequence_wraps_at_i32_max() {
        let mut t = ProducerTable::default();
        t.record(1, 0, &info(0, i32::MAX - 1, 2), 0, 1);
        assert_eq!(t.check(1, 0, &info(0, 0, 1)), Ok(Verdict::Append));
    }
}
