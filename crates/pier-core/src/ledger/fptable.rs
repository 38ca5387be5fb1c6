//! The fingerprint window of one partition: a set-associative table (four
//! slots per bucket) that overwrites the oldest slot of a full bucket. No
//! tombstones, no eviction queue: one or two cache lines per record. It
//! starts small and doubles while its buckets fill with fingerprints still
//! inside the window, up to [`super::FINGERPRINTS_PER_PARTITION_MAX`].

use super::{DUPLICATE_WINDOW_MS, FINGERPRINTS_PER_PARTITION_MAX};

const WAYS: usize = 4;
const FIRST_BUCKETS: usize = 64;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Slot {
    /// 0: empty (a fingerprint of 0 is taken as 1).
    fp: u64,
    offset: u64,
    connection: u64,
    at_ms: i64,
}

#[derive(Debug, Default)]
pub(crate) struct FingerprintTable {
    slots: Vec<Slot>,
}

fn key(fp: u64) -> u64 {
    fp.max(1)
}

impl FingerprintTable {
    fn bucket(&self, fp: u64) -> std::ops::Range<usize> {
        let buckets = self.slots.len() / WAYS;
        // The fingerprint is well mixed: its low bits pick the bucket.
        let b = (fp as usize) & (buckets - 1);
        b * WAYS..(b + 1) * WAYS
    }

    /// `(offset, connection)` of `fp` if seen within the window.
    pub fn get(&self, fp: u64, now_ms: i64) -> Option<(u64, u64)> {
        if self.slots.is_empty() {
            return None;
        }
        let fp = key(fp);
        self.slots[self.bucket(fp)]
            .iter()
            .find(|s| s.fp == fp && s.at_ms >= now_ms - DUPLICATE_WINDOW_MS)
            .map(|s| (s.offset, s.connection))
    }

    /// Remembers `fp` (replacing what it held).
    pub fn insert(&mut self, fp: u64, offset: u64, connection: u64, now_ms: i64) {
        if self.slots.is_empty() {
            self.slots = vec![Slot::default(); FIRST_BUCKETS * WAYS];
        }
        let fp = key(fp);
        let slot = Slot {
            fp,
            offset,
            connection,
            at_ms: now_ms,
        };
        let range = self.bucket(fp);
        let can_grow = self.slots.len() * 2 <= FINGERPRINTS_PER_PARTITION_MAX;
        let bucket = &mut self.slots[range];
        let stale = now_ms - DUPLICATE_WINDOW_MS;
        if let Some(s) = bucket
            .iter_mut()
            .find(|s| s.fp == fp || s.fp == 0 || s.at_ms < stale)
        {
            *s = slot;
            return;
        }
        // Full of live fingerprints: grow while allowed, else overwrite
        // the oldest (the window shrinks at this rate).
        if can_grow {
            self.grow();
            self.insert(fp, offset, connection, now_ms);
            return;
        }
        let oldest = bucket
            .iter_mut()
            .min_by_key(|s| s.at_ms)
            .expect("a bucket has slots");
        *oldest = slot;
    }

    fn grow(&mut self) {
        let doubled = vec![Slot::default(); self.slots.len() * 2];
        let old = std::mem::replace(&mut self.slots, doubled);
        for s in old.into_iter().filter(|s| s.fp != 0) {
            let range = self.bucket(s.fp);
            let bucket = &mut self.slots[range];
            if let Some(free) = bucket.iter_mut().find(|x| x.fp == 0) {
                *free = s;
            }
        }
    }

    /// Forgets fingerprints of offsets at or past `end`.
    pub fn forget_from(&mut self, end: u64) {
        for s in self.slots.iter_mut().filter(|s| s.offset >= end) {
            *s = Slot::default();
        }
    }

    /// Slots allocated (for the memory bound).
    #[cfg(test)]
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mixed(i: u64) -> u64 {
        let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z ^ (z >> 31)
    }

    #[test]
    fn remembers_within_the_window_and_grows_to_its_cap() {
        let mut t = FingerprintTable::default();
        for i in 0..10_000u64 {
            t.insert(mixed(i), i, 1, 1_000);
        }
        // Every one of 10,000 recent fingerprints is still there.
        let found = (0..10_000u64)
            .filter(|i| t.get(mixed(*i), 1_000) == Some((*i, 1)))
            .count();
        assert!(found >= 9_900, "{found}");
        assert!(t.capacity() <= FINGERPRINTS_PER_PARTITION_MAX);
        // Past the window nothing is found.
        assert_eq!(t.get(mixed(5), 1_000 + DUPLICATE_WINDOW_MS + 1), None);
        // Far past the cap, it stays at the cap and keeps the newest.
        for i in 0..200_000u64 {
            t.insert(mixed(i), i, 1, 2_000 + (i / 1_000) as i64);
        }
        assert_eq!(t.capacity(), FINGERPRINTS_PER_PARTITION_MAX);
        let newest = (190_000..200_000u64)
            .filter(|i| t.get(mixed(*i), 2_200).is_some())
            .count();
        assert!(newest > 5_000, "{newest}");
        t.forget_from(150_000);
        assert_eq!(t.get(mixed(199_999), 2_200), None);
    }
}
