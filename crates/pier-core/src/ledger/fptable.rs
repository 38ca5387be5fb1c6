//! The fingerprint window of one partition: a set-associative table (four
//! slots per bucket, one 64-byte cache line) that overwrites the oldest
//! slot of a full bucket. No tombstones, no eviction queue: one cache line
//! per record. It starts small and doubles while its buckets fill with
//! fingerprints still inside the window, up to
//! [`super::FINGERPRINTS_PER_PARTITION_MAX`] slots (512 KiB).
//!
//! A slot is 16 bytes: the fingerprint, the low 32 bits of the offset and
//! the low 16 bits of the connection id and of the second it was stored.
//! Offsets are rebuilt from the offset being checked (the two are within
//! 2^31 of each other: the window holds at most a minute of a partition).
//! Seconds wrap after 18 hours, so a sweep clears stale slots every 8
//! hours and no slot lives long enough to look fresh again.

use super::{DUPLICATE_WINDOW_MS, FINGERPRINTS_PER_PARTITION_MAX};

const WAYS: usize = 4;
const FIRST_BUCKETS: usize = 64;
/// Seconds between sweeps of stale slots (well under 2^16).
const SWEEP_EVERY_S: i64 = 8 * 3600;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Slot {
    /// 0: empty (a fingerprint of 0 is taken as 1).
    fp: u64,
    offset: u32,
    connection: u16,
    /// Seconds since the epoch, modulo 2^16.
    at_s: u16,
}

#[derive(Debug, Clone, Copy, Default)]
#[repr(align(64))]
struct Bucket([Slot; WAYS]);

#[derive(Debug, Default)]
pub(crate) struct FingerprintTable {
    buckets: Vec<Bucket>,
    swept_s: i64,
}

/// Where a fingerprint was seen: its offset and the connection it came
/// over, as [`connection_tag`] keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Seen {
    pub offset: u64,
    pub connection: u16,
}

/// The part of a connection id a slot keeps. Two connections of one
/// client 65,536 connections apart within a minute look alike.
pub(crate) fn connection_tag(connection: u64) -> u16 {
    connection as u16
}

fn key(fp: u64) -> u64 {
    fp.max(1)
}

fn seconds(ms: i64) -> i64 {
    ms.max(0) / 1000
}

/// Seconds from `at_s` to `now_s`: slots are never older than a sweep
/// period plus the window (under 2^15), and may be a little newer than
/// `now_s` (answers reach the ledger in any order).
fn age(at_s: u16, now_s: i64) -> i16 {
    (now_s as u16).wrapping_sub(at_s) as i16
}

/// Whether a slot stored at `at_s` is still inside the window at `now_s`.
fn fresh(at_s: u16, now_s: i64) -> bool {
    i64::from(age(at_s, now_s)) <= DUPLICATE_WINDOW_MS / 1000
}

/// The offset whose low 32 bits are `low`, nearest to `near`.
fn rebuild(low: u32, near: u64) -> u64 {
    let diff = i64::from(low.wrapping_sub(near as u32) as i32);
    near.wrapping_add_signed(diff)
}

impl FingerprintTable {
    fn bucket_of(&self, fp: u64) -> usize {
        // The fingerprint is well mixed: its low bits pick the bucket.
        (fp as usize) & (self.buckets.len() - 1)
    }

    /// Where `fp` was seen within the window, if it was; `near` is the
    /// offset being checked.
    pub fn get(&self, fp: u64, near: u64, now_ms: i64) -> Option<Seen> {
        if self.buckets.is_empty() {
            return None;
        }
        let (fp, now_s) = (key(fp), seconds(now_ms));
        self.buckets[self.bucket_of(fp)]
            .0
            .iter()
            .find(|s| s.fp == fp && fresh(s.at_s, now_s))
            .map(|s| Seen {
                offset: rebuild(s.offset, near),
                connection: s.connection,
            })
    }

    /// Remembers `fp` (replacing what it held).
    pub fn insert(&mut self, fp: u64, offset: u64, connection: u64, now_ms: i64) {
        let now_s = seconds(now_ms);
        if self.buckets.is_empty() {
            self.buckets = vec![Bucket::default(); FIRST_BUCKETS];
            self.swept_s = now_s;
        } else if now_s - self.swept_s >= SWEEP_EVERY_S {
            self.sweep(now_s);
        }
        let slot = Slot {
            fp: key(fp),
            offset: offset as u32,
            connection: connection_tag(connection),
            at_s: now_s as u16,
        };
        self.put(slot, now_s);
    }

    fn put(&mut self, slot: Slot, now_s: i64) {
        let can_grow = self.buckets.len() * 2 * WAYS <= FINGERPRINTS_PER_PARTITION_MAX;
        let b = self.bucket_of(slot.fp);
        let bucket = &mut self.buckets[b].0;
        if let Some(s) = bucket
            .iter_mut()
            .find(|s| s.fp == slot.fp || s.fp == 0 || !fresh(s.at_s, now_s))
        {
            *s = slot;
            return;
        }
        // Full of live fingerprints: grow while allowed, else overwrite
        // the oldest (the window shrinks at this rate).
        if can_grow {
            self.grow(now_s);
            self.put(slot, now_s);
            return;
        }
        let oldest = bucket
            .iter_mut()
            .max_by_key(|s| age(s.at_s, now_s))
            .expect("a bucket has slots");
        *oldest = slot;
    }

    fn grow(&mut self, now_s: i64) {
        let doubled = vec![Bucket::default(); self.buckets.len() * 2];
        let old = std::mem::replace(&mut self.buckets, doubled);
        for s in old.iter().flat_map(|b| b.0) {
            if s.fp != 0 && fresh(s.at_s, now_s) {
                let b = self.bucket_of(s.fp);
                if let Some(free) = self.buckets[b].0.iter_mut().find(|x| x.fp == 0) {
                    *free = s;
                }
            }
        }
    }

    /// Empties the slots that left the window.
    fn sweep(&mut self, now_s: i64) {
        for s in self.buckets.iter_mut().flat_map(|b| b.0.iter_mut()) {
            if !fresh(s.at_s, now_s) {
                *s = Slot::default();
            }
        }
        self.swept_s = now_s;
    }

    /// Forgets fingerprints of offsets at or past `end` (`end` near them).
    pub fn forget_from(&mut self, end: u64) {
        for s in self.buckets.iter_mut().flat_map(|b| b.0.iter_mut()) {
            if s.fp != 0 && rebuild(s.offset, end) >= end {
                *s = Slot::default();
            }
        }
    }

    /// Slots allocated (for the memory bound).
    #[cfg(test)]
    pub fn capacity(&self) -> usize {
        self.buckets.len() * WAYS
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
            .filter(|i| {
                t.get(mixed(*i), *i, 1_000)
                    == Some(Seen {
                        offset: *i,
                        connection: 1,
                    })
            })
            .count();
        assert!(found >= 9_900, "{found}");
        assert!(t.capacity() <= FINGERPRINTS_PER_PARTITION_MAX);
        // Past the window nothing is found.
        assert_eq!(
            t.get(mixed(5), 5, 1_000 + DUPLICATE_WINDOW_MS + 1_000),
            None
        );
        // Far past the cap, it stays at the cap and keeps the newest.
        for i in 0..200_000u64 {
            t.insert(mixed(i), i, 1, 2_000_000 + (i / 1_000 * 1_000) as i64);
        }
        assert_eq!(t.capacity(), FINGERPRINTS_PER_PARTITION_MAX);
        let newest = (190_000..200_000u64)
            .filter(|i| t.get(mixed(*i), *i, 2_200_000).is_some())
            .count();
        assert!(newest > 5_000, "{newest}");
        t.forget_from(195_000);
        assert_eq!(t.get(mixed(199_999), 199_999, 2_200_000), None);
        assert!(t.get(mixed(194_999), 194_999, 2_200_000).is_some());
    }

    #[test]
    fn offsets_and_seconds_survive_their_truncation() {
        let mut t = FingerprintTable::default();
        // Offsets past 2^32 come back whole, looked up from a nearby one.
        let base = (7u64 << 32) - 3;
        for i in 0..6u64 {
            t.insert(mixed(i), base + i, 9, 5_000);
        }
        let seen = t.get(mixed(5), base + 100, 5_000);
        assert_eq!(
            seen,
            Some(Seen {
                offset: base + 5,
                connection: 9
            })
        );
        // A day later (seconds wrap every 18 hours) the slots were swept:
        // nothing looks fresh again.
        let day = 24 * 3_600 * 1_000;
        t.insert(mixed(100), 1, 1, 5_000 + day - 3_600_000);
        for i in 0..6u64 {
            assert_eq!(t.get(mixed(i), base, 5_000 + day), None, "{i}");
        }
        // Control: inside the window it is found.
        t.insert(mixed(200), 2, 1, 5_000 + day);
        assert!(t.get(mixed(200), 2, 5_000 + day + 59_000).is_some());
        assert_eq!(t.get(mixed(200), 2, 5_000 + day + 62_000), None);
    }
}
