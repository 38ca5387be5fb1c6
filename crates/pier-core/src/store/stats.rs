//! Counters the writer keeps for monitoring and benchmarks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds (µs) of the group-commit latency histogram's buckets; a
/// last bucket takes the rest. From a fast fdatasync to a stalled disk.
pub const COMMIT_BUCKETS_MICROS: [u64; 12] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000,
];

#[derive(Debug, Default)]
pub(crate) struct StoreStats {
    commits: AtomicU64,
    /// Group commits per latency bucket (not cumulative); the last is
    /// everything over the largest bound.
    commit_buckets: [AtomicU64; COMMIT_BUCKETS_MICROS.len() + 1],
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
    /// Group commits per bucket of [`COMMIT_BUCKETS_MICROS`] (not
    /// cumulative; the last counts those over the largest bound).
    pub commit_buckets: [u64; COMMIT_BUCKETS_MICROS.len() + 1],
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
        let bucket = COMMIT_BUCKETS_MICROS.partition_point(|&bound| bound < micros);
        self.commit_buckets[bucket].fetch_add(1, Ordering::Relaxed);
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
            commit_buckets: std::array::from_fn(|i| self.commit_buckets[i].load(Ordering::Relaxed)),
            dedup_hits: self.dedup_hits.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_fall_into_the_bucket_of_their_latency() {
        let stats = StoreStats::default();
        for micros in [50, 100, 101, 4_000, 2_000_000] {
            stats.record_commit(1, Duration::from_micros(micros));
        }
        let s = stats.snapshot();
        assert_eq!(s.commit_buckets[0], 2, "<= 100 µs");
        assert_eq!(s.commit_buckets[1], 1, "<= 250 µs");
        assert_eq!(s.commit_buckets[5], 1, "<= 5 ms");
        assert_eq!(s.commit_buckets[COMMIT_BUCKETS_MICROS.len()], 1, "over 1 s");
        assert_eq!(s.commit_buckets.iter().sum::<u64>(), s.commits);
    }
}
