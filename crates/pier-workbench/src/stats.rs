//! Live statistics: a sample a second, the last ten minutes kept in a ring.
//!
//! Rates are differences between two snapshots of counters the store and
//! groups already keep (high watermarks, sizes, committed offsets, group
//! commits), so sampling costs nothing on the produce or fetch paths.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::Workbench;

/// How often the server takes a sample.
pub const STATS_INTERVAL: Duration = Duration::from_secs(1);
/// Samples kept: ten minutes at one a second.
pub const STATS_CAPACITY: usize = 600;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema, TS)]
pub struct TopicRate {
    pub topic: String,
    pub records_per_sec: f64,
    pub bytes_per_sec: f64,
    pub records: u64,
    pub size_bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema, TS)]
pub struct GroupRate {
    pub group: String,
    /// How fast the group's committed offsets advance.
    pub consumed_per_sec: f64,
    pub lag: u64,
    pub members: u32,
    /// Lag of each partition the group has committed offsets for.
    pub partitions: Vec<PartitionLagPoint>,
}

/// One partition's lag at the time of a sample.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct PartitionLagPoint {
    pub topic: String,
    pub partition: u32,
    pub lag: u64,
}

/// A queue group's state and rates.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema, TS)]
pub struct QueueRate {
    pub group: String,
    pub topic: String,
    pub accepted_per_sec: f64,
    pub redelivered_per_sec: f64,
    pub in_flight: u64,
    pub waiting: u64,
    pub backlog: u64,
    pub dead_letter_depth: u64,
    pub consumers: Vec<crate::QueueConsumer>,
}

/// One sample of the broker's rates over the preceding interval.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema, TS)]
pub struct StatsSample {
    /// When it was taken (Unix ms).
    pub t_ms: i64,
    pub produce_records_per_sec: f64,
    pub produce_bytes_per_sec: f64,
    /// Committed-offset progress of all consumer groups.
    pub consume_records_per_sec: f64,
    /// Group commits per second (one log write + fdatasync each).
    pub group_commits_per_sec: f64,
    /// Mean time of a group commit's write + fdatasync over the interval.
    pub commit_latency_avg_micros: f64,
    pub clients: u32,
    pub total_lag: u64,
    pub topics: Vec<TopicRate>,
    pub groups: Vec<GroupRate>,
    pub queues: Vec<QueueRate>,
    /// Records not stored because they were duplicates (since start).
    pub dedup_hits_total: u64,
    pub dedup_hits_per_sec: f64,
}

#[derive(Debug, Default)]
struct Counters {
    at: Option<Instant>,
    /// topic → (records written ever = sum of high watermarks, bytes).
    topics: BTreeMap<String, (u64, u64)>,
    /// group → sum of committed offsets.
    groups: BTreeMap<String, u64>,
    commits: u64,
    commit_micros: u64,
    dedup_hits: u64,
    /// queue group → (accepted, redelivered).
    queues: BTreeMap<String, (u64, u64)>,
}

#[derive(Debug, Default)]
pub(crate) struct StatsState {
    last: Counters,
    ring: VecDeque<StatsSample>,
}

fn per_sec(delta: u64, secs: f64) -> f64 {
    if secs > 0.0 { delta as f64 / secs } else { 0.0 }
}

impl Workbench {
    /// Takes a sample and keeps it; the server calls this every
    /// [`STATS_INTERVAL`]. The first sample has zero rates.
    pub fn sample_stats(&self) -> StatsSample {
        let now = Instant::now();
        let topics = self.topics();
        let groups = self.groups();
        let store = self.store().stats();
        let mut state = self.stats.lock().expect("stats lock");
        let secs = state
            .last
            .at
            .map_or(0.0, |t| now.duration_since(t).as_secs_f64());
        let mut next = Counters {
            at: Some(now),
            commits: store.commits,
            commit_micros: store.commit_micros_total,
            dedup_hits: store.dedup_hits,
            ..Counters::default()
        };
        let queues = self.queue_groups();
        let mut queue_rates = Vec::with_capacity(queues.len());
        for q in queues {
            let (a0, r0) = state
                .last
                .queues
                .get(&q.group)
                .copied()
                .unwrap_or((q.accepted, q.redelivered));
            queue_rates.push(QueueRate {
                accepted_per_sec: per_sec(q.accepted.saturating_sub(a0), secs),
                redelivered_per_sec: per_sec(q.redelivered.saturating_sub(r0), secs),
                in_flight: q.in_flight,
                waiting: q.waiting,
                backlog: q.backlog,
                dead_letter_depth: q.dead_letter_depth,
                consumers: q.consumers,
                topic: q.topic,
                group: q.group.clone(),
            });
            next.queues.insert(q.group, (q.accepted, q.redelivered));
        }
        let mut topic_rates = Vec::with_capacity(topics.len());
        for t in &topics {
            let written: u64 = t.partitions.iter().map(|p| p.high_watermark).sum();
            // A topic new since the last sample started from nothing.
            let (w0, b0) = match (state.last.topics.get(&t.name), state.last.at) {
                (Some(prev), _) => *prev,
                (None, Some(_)) => (0, 0),
                (None, None) => (written, t.size_bytes),
            };
            topic_rates.push(TopicRate {
                topic: t.name.clone(),
                records_per_sec: per_sec(written.saturating_sub(w0), secs),
                bytes_per_sec: per_sec(t.size_bytes.saturating_sub(b0), secs),
                records: t.records,
                size_bytes: t.size_bytes,
            });
            next.topics.insert(t.name.clone(), (written, t.size_bytes));
        }
        let mut group_rates = Vec::with_capacity(groups.len());
        for g in &groups {
            let committed: u64 = g
                .lag
                .iter()
                .map(|l| u64::try_from(l.committed_offset).unwrap_or(0))
                .sum();
            let before = state
                .last
                .groups
                .get(&g.group_id)
                .copied()
                .unwrap_or(committed);
            group_rates.push(GroupRate {
                group: g.group_id.clone(),
                consumed_per_sec: per_sec(committed.saturating_sub(before), secs),
                lag: g.total_lag,
                members: g.members.len() as u32,
                partitions: g
                    .lag
                    .iter()
                    .map(|l| PartitionLagPoint {
                        topic: l.topic.clone(),
                        partition: l.partition,
                        lag: l.lag,
                    })
                    .collect(),
            });
            next.groups.insert(g.group_id.clone(), committed);
        }
        let commits = store.commits.saturating_sub(state.last.commits);
        let micros = store
            .commit_micros_total
            .saturating_sub(state.last.commit_micros);
        let sample = StatsSample {
            t_ms: self.now_ms(),
            produce_records_per_sec: topic_rates
                .iter()
                .map(|t| t.records_per_sec)
                .fold(0.0, |a, b| a + b),
            produce_bytes_per_sec: topic_rates
                .iter()
                .map(|t| t.bytes_per_sec)
                .fold(0.0, |a, b| a + b),
            consume_records_per_sec: group_rates
                .iter()
                .map(|g| g.consumed_per_sec)
                .fold(0.0, |a, b| a + b),
            group_commits_per_sec: if state.last.at.is_some() {
                per_sec(commits, secs)
            } else {
                0.0
            },
            commit_latency_avg_micros: if commits > 0 && state.last.at.is_some() {
                micros as f64 / commits as f64
            } else {
                0.0
            },
            clients: self.broker().clients().len() as u32,
            total_lag: groups.iter().map(|g| g.total_lag).sum(),
            topics: topic_rates,
            groups: group_rates,
            queues: queue_rates,
            dedup_hits_total: store.dedup_hits,
            dedup_hits_per_sec: if state.last.at.is_some() {
                per_sec(store.dedup_hits.saturating_sub(state.last.dedup_hits), secs)
            } else {
                0.0
            },
        };
        state.last = next;
        if state.ring.len() == STATS_CAPACITY {
            state.ring.pop_front();
        }
        state.ring.push_back(sample.clone());
        sample
    }

    /// The newest `last` samples, oldest first.
    pub fn stats(&self, last: usize) -> Vec<StatsSample> {
        let state = self.stats.lock().expect("stats lock");
        let skip = state.ring.len().saturating_sub(last);
        state.ring.iter().skip(skip).cloned().collect()
    }

    /// The newest sample, if any has been taken.
    pub fn latest_stats(&self) -> Option<StatsSample> {
        self.stats.lock().expect("stats lock").ring.back().cloned()
    }
}
