//! Counters the writer keeps for monitoring and benchmarks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Debug, Default)]
pub(crate) struct StoreStats {
    commits: AtomicU64,
    appends: AtomicU64,
    commit_micros_total: AtomicU64,
    commit_micros_max: AtomicU64,
    dedup_hits: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StoreStatsSnapshot {
    pub commits: u64,
    pub appends: u64,
    pub commit_micros_total: u64,
    pub commit_micros_max: u64,
    /// Records not stored because their dedup id was seen in the window.
    pub dedup_hits: u64,
}

impl StoreStats {
    pub fn record_commit(&self, appends: usize, took: Duration) {
        let micros = took.as_micros() as u64;
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.appends.fetch_add(appends as u64, Ordering::Relaxed);
        self.commit_micros_total
            .fetch_add(micros, Ordering::Relaxed);
        self.commit_micros_max.fetch_max(micros, Ordering::Relaxed);
    }

    pub fn record_dedup_hits(&self, n: u64) {
        self.dedup_hits.fetch_add(n, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> StoreStatsSnapshot {
        StoreStatsSnapshot {
            commits: self.commits.load(Ordering::Relaxed),
            appends: self.appends.load(Ordering::Relaxed),
            commit_micros_total: self.commit_micros_total.load(Ordering::Relaxed),
            commit_micros_max: self.commit_micros_max.load(Ordering::Relaxed),
            dedup_hits: self.dedup_hits.load(Ordering::Relaxed),
        }
    }
}
