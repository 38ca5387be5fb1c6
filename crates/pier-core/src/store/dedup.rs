//! Duplicate detection on produce: per topic, a window of recently seen
//! message ids (the `pier-dedup-id` header, or the key with
//! `dedup.id=key`). A record whose id was stored within `dedup.window.ms`
//! is not stored again; the producer is answered with the original offset.
//!
//! The writer thread owns the windows, so two producers racing with the
//! same id cannot both get in. After a restart a window is refilled from
//! the log tail on the topic's first append.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use kafka_protocol::records::Record;

use crate::topic::{DedupId, TopicConfig};

/// The header that names a message for duplicate detection.
pub const DEDUP_HEADER: &str = "pier-dedup-id";

#[derive(Debug, Default)]
struct Window {
    /// id → (partition, offset) of the stored copy.
    seen: HashMap<Bytes, (u32, u64)>,
    /// (stored at, id), oldest first.
    order: VecDeque<(i64, Bytes)>,
}

/// Every dedup-enabled topic's window, by topic id.
#[derive(Debug, Default)]
pub(crate) struct DedupWindows {
    topics: HashMap<u32, Window>,
    /// Topics whose window was refilled from the log since open.
    pub loaded: std::collections::HashSet<u32>,
}

/// The id a record carries under `config`, if any.
pub(crate) fn record_id(config: &TopicConfig, r: &Record) -> Option<Bytes> {
    match config.dedup_id {
        DedupId::Key => r.key.clone(),
        DedupId::Header => r
            .headers
            .iter()
            .find(|(k, _)| k.as_str() == DEDUP_HEADER)
            .and_then(|(_, v)| v.clone()),
    }
}

impl DedupWindows {
    /// Forgets ids stored before `now_ms - window_ms`.
    pub fn evict(&mut self, topic: u32, now_ms: i64, window_ms: i64) {
        let Some(w) = self.topics.get_mut(&topic) else {
            return;
        };
        while let Some((at, _)) = w.order.front() {
            if *at > now_ms - window_ms {
                break;
            }
            let (_, id) = w.order.pop_front().expect("front exists");
            w.seen.remove(&id);
        }
    }

    pub fn lookup(&self, topic: u32, id: &Bytes) -> Option<(u32, u64)> {
        self.topics.get(&topic)?.seen.get(id).copied()
    }

    pub fn insert(&mut self, topic: u32, id: Bytes, partition: u32, offset: u64, at_ms: i64) {
        let w = self.topics.entry(topic).or_default();
        if w.seen.insert(id.clone(), (partition, offset)).is_none() {
            w.order.push_back((at_ms, id));
        }
    }

    pub fn forget_topic(&mut self, topic: u32) {
        self.topics.remove(&topic);
        self.loaded.remove(&topic);
    }
}

/// What duplicate detection decided for one batch.
#[derive(Debug)]
pub(crate) enum DedupVerdict {
    /// No record is a duplicate: store as is. Ids to remember, by offset
    /// delta.
    Fresh(Vec<(u32, Bytes)>),
    /// Every record is a duplicate: answer with these original offsets.
    AllSeen { first: u64, last: u64 },
    /// Some are: store `records` only (ids by their new delta).
    Some {
        keep: Vec<Record>,
        ids: Vec<(u32, Bytes)>,
        dropped: u32,
    },
}

/// Splits a batch's records into fresh ones and duplicates.
pub(crate) fn judge(
    windows: &DedupWindows,
    topic: u32,
    config: &TopicConfig,
    records: Vec<Record>,
) -> DedupVerdict {
    let base = records.first().map_or(0, |r| r.offset);
    let mut keep = Vec::with_capacity(records.len());
    let mut ids = Vec::new();
    let mut in_batch: HashMap<Bytes, ()> = HashMap::new();
    let mut originals = Vec::new();
    let total = records.len();
    for r in records {
        let id = record_id(config, &r);
        let seen = id.as_ref().and_then(|id| windows.lookup(topic, id));
        match (id, seen) {
            (Some(_), Some((_, offset))) => originals.push(offset),
            (Some(id), None) if in_batch.contains_key(&id) => {}
            (Some(id), None) => {
                in_batch.insert(id.clone(), ());
                ids.push((keep.len() as u32, id));
                keep.push(r);
            }
            (None, _) => keep.push(r),
        }
    }
    if keep.len() == total {
        let ids = ids
            .into_iter()
            .map(|(i, id)| {
                (
                    u32::try_from(keep[i as usize].offset - base).unwrap_or(i),
                    id,
                )
            })
            .collect();
        return DedupVerdict::Fresh(ids);
    }
    if keep.is_empty() {
        let first = originals.iter().copied().min().unwrap_or(0);
        let last = originals.iter().copied().max().unwrap_or(first);
        return DedupVerdict::AllSeen { first, last };
    }
    DedupVerdict::Some {
        dropped: (total - keep.len()) as u32,
        keep,
        ids,
    }
}

impl super::Store {
    /// Refills the duplicate-detection windows from the log tails (records
    /// whose timestamp falls in the window), before any append is taken.
    /// A partition whose tail cannot be read is an error naming it: an
    /// unseeded window would store a duplicate it promised to drop.
    pub(crate) fn seed_dedup_windows(&self) -> Result<(), String> {
        let now = self.inner.shared.clock.now_ms();
        let topics: Vec<(u32, String, TopicConfig, u32)> = {
            let catalog = self.inner.shared.catalog.read().expect("catalog lock");
            catalog
                .topics
                .values()
                .filter(|t| t.meta.config.dedup_window_ms > 0)
                .map(|t| {
                    (
                        t.meta.id,
                        t.meta.name.clone(),
                        t.meta.config.clone(),
                        t.meta.partitions,
                    )
                })
                .collect()
        };
        for (topic_id, name, config, partitions) in topics {
            let since = now - config.dedup_window_ms;
            let mut entries = Vec::new();
            for p in 0..partitions {
                let at = |e: &dyn std::fmt::Display| format!("topic {name:?} partition {p}: {e}");
                let Some((from, _)) = self
                    .offset_for_timestamp(&name, p, since)
                    .map_err(|e| at(&e))?
                else {
                    continue;
                };
                let (_, end) = self.offsets(&name, p).map_err(|e| at(&e))?;
                let records =
                    crate::queue::read_records(self, &name, p, from, end).map_err(|e| at(&e))?;
                for r in records {
                    if let Some(id) = record_id(&config, &r) {
                        entries.push((id, p, r.offset as u64, r.timestamp.min(now)));
                    }
                }
            }
            entries.sort_by_key(|e| e.3);
            if entries.is_empty() {
                continue;
            }
            let Some(tx) = self.sender() else {
                return Ok(());
            };
            let _ = tx.try_send(super::writer::Command::SeedDedup { topic_id, entries });
            if self.inner.manual.is_some() {
                self.step_writer();
            }
        }
        Ok(())
    }
}
