//! The in-memory view readers use: topics, and per partition the offsets and
//! an index of batches. Only the writer changes it, and only after a commit,
//! so a reader never sees data that is not durable.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use tokio::sync::watch;

/// Batch bytes kept in memory per partition once they are in redb: the tail
/// that live consumers read. Batches not yet in redb are always kept.
pub const TAIL_CACHE_MAX_BYTES: u64 = 4 * 1024 * 1024;

use crate::topic::TopicMeta;

/// Where one stored batch sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMeta {
    pub base_offset: u64,
    pub last_offset: u64,
    pub max_timestamp_ms: i64,
    pub size_bytes: u32,
    /// The redb row holding this batch: its key's base offset, and where in
    /// the row's value the batch starts. The applier stores a partition's
    /// batches of one round as one row (a *chunk*).
    pub chunk_base: u64,
    pub chunk_pos: u32,
}

impl BatchMeta {
    /// A batch that is (so far) its own row.
    pub fn single(
        base_offset: u64,
        last_offset: u64,
        max_timestamp_ms: i64,
        size_bytes: u32,
    ) -> Self {
        Self {
            base_offset,
            last_offset,
            max_timestamp_ms,
            size_bytes,
            chunk_base: base_offset,
            chunk_pos: 0,
        }
    }
}

/// Offsets and batch index of one partition.
#[derive(Debug, Default, Clone)]
pub struct PartitionIndex {
    pub log_start: u64,
    /// Next offset to assign; also the high watermark (single replica).
    pub next_offset: u64,
    pub batches: VecDeque<BatchMeta>,
    /// Bytes of recent batches, parallel to `batches`; `None` = read redb.
    pub cache: VecDeque<Option<Bytes>>,
    pub cached_bytes: u64,
    /// Offsets below this are in redb.
    pub applied_end: u64,
    /// Leading entries of `cache` already evicted (skipped when trimming).
    pub evicted_prefix: usize,
    pub size_bytes: u64,
}

impl PartitionIndex {
    /// Position of the first batch that holds `offset` or anything after it.
    pub fn position_of(&self, offset: u64) -> usize {
        self.batches.partition_point(|b| b.last_offset < offset)
    }

    /// Adds a batch that is durable (in the log) but maybe not yet in redb.
    pub fn push(&mut self, meta: BatchMeta, bytes: Bytes) {
        assert_eq!(meta.base_offset, self.next_offset, "offsets must be dense");
        self.next_offset = meta.last_offset + 1;
        self.size_bytes += u64::from(meta.size_bytes);
        self.cached_bytes += bytes.len() as u64;
        self.batches.push_back(meta);
        self.cache.push_back(Some(bytes));
    }

    /// Adds a batch found in redb on open.
    pub fn push_stored(&mut self, meta: BatchMeta) {
        self.size_bytes += u64::from(meta.size_bytes);
        self.batches.push_back(meta);
        self.cache.push_back(None);
        self.evicted_prefix = self.cache.len();
        self.applied_end = meta.last_offset + 1;
    }

    /// Records where the applier stored batches: (base offset, chunk base,
    /// position in the chunk).
    pub fn set_chunks(&mut self, placed: &[(u64, u64, u32)]) {
        for &(base, chunk_base, chunk_pos) in placed {
            let i = self.position_of(base);
            if let Some(b) = self.batches.get_mut(i)
                && b.base_offset == base
            {
                b.chunk_base = chunk_base;
                b.chunk_pos = chunk_pos;
            }
        }
    }

    /// Records that redb holds everything below `end`, then trims the cache
    /// to its budget, oldest first, never dropping what redb lacks.
    pub fn mark_applied(&mut self, end: u64) {
        self.applied_end = self.applied_end.max(end);
        let mut i = self.evicted_prefix;
        while self.cached_bytes > TAIL_CACHE_MAX_BYTES && i < self.batches.len() {
            if self.batches[i].last_offset >= self.applied_end {
                break;
            }
            if let Some(bytes) = self.cache[i].take() {
                self.cached_bytes -= bytes.len() as u64;
            }
            i += 1;
        }
        self.evicted_prefix = i;
    }

    /// Drops the oldest `count` batches (retention).
    pub fn drop_front(&mut self, count: usize) {
        for _ in 0..count {
            let Some(b) = self.batches.pop_front() else {
                break;
            };
            if let Some(Some(bytes)) = self.cache.pop_front() {
                self.cached_bytes -= bytes.len() as u64;
            }
            self.evicted_prefix = self.evicted_prefix.saturating_sub(1);
            self.size_bytes -= u64::from(b.size_bytes);
            self.log_start = b.last_offset + 1;
        }
    }
}

/// One partition as readers see it.
#[derive(Debug)]
pub struct PartitionState {
    pub index: RwLock<PartitionIndex>,
    /// Carries the high watermark; long polls wait on it.
    pub high_watermark: watch::Sender<u64>,
    pub deleted: AtomicBool,
}

impl PartitionState {
    pub fn new(index: PartitionIndex) -> Arc<Self> {
        let (high_watermark, _) = watch::channel(index.next_offset);
        Arc::new(Self {
            index: RwLock::new(index),
            high_watermark,
            deleted: AtomicBool::new(false),
        })
    }

    pub fn snapshot(&self) -> PartitionIndex {
        self.index.read().expect("partition index lock").clone()
    }

    pub fn offsets(&self) -> (u64, u64) {
        let index = self.index.read().expect("partition index lock");
        (index.log_start, index.next_offset)
    }

    pub fn mark_deleted(&self) {
        self.deleted.store(true, Ordering::SeqCst);
        self.high_watermark.send_modify(|_| {});
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::SeqCst)
    }
}

/// A topic as readers see it. Replaced whole when its metadata changes.
#[derive(Debug, Clone)]
pub struct TopicState {
    pub meta: TopicMeta,
    pub partitions: Vec<Arc<PartitionState>>,
}

#[derive(Debug, Default)]
pub struct Catalog {
    pub topics: HashMap<String, Arc<TopicState>>,
    pub next_topic_id: u32,
}

impl Catalog {
    pub fn topic(&self, name: &str) -> Option<Arc<TopicState>> {
        self.topics.get(name).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(base: u64, last: u64) -> BatchMeta {
        BatchMeta::single(base, last, 0, 10)
    }

    #[test]
    fn index_finds_the_batch_holding_an_offset() {
        let mut index = PartitionIndex::default();
        index.push(meta(0, 4), Bytes::from_static(b"0"));
        index.push(meta(5, 5), Bytes::from_static(b"5"));
        index.push(meta(6, 9), Bytes::from_static(b"6"));
        assert_eq!(index.position_of(0), 0);
        assert_eq!(index.position_of(4), 0);
        assert_eq!(index.position_of(5), 1);
        assert_eq!(index.position_of(7), 2);
        assert_eq!(index.position_of(10), 3);
        index.drop_front(2);
        assert_eq!(index.cached_bytes, 1);
        assert_eq!(index.log_start, 6);
        assert_eq!(index.size_bytes, 10);
        assert_eq!(index.next_offset, 10);
    }
}
