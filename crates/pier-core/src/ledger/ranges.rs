//! A set of offsets stored as merged, inclusive ranges: what a group has
//! been sent, in a few entries however many records it read in order.

use std::collections::BTreeMap;

/// Inclusive offset ranges, merged when they touch or overlap.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeSet {
    /// first → last (inclusive); ranges never touch or overlap.
    ranges: BTreeMap<u64, u64>,
}

impl RangeSet {
    /// Number of stored ranges (the memory cost), not of offsets.
    pub fn ranges(&self) -> usize {
        self.ranges.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.ranges.iter().map(|(a, b)| (*a, *b))
    }

    pub fn contains(&self, offset: u64) -> bool {
        self.ranges
            .range(..=offset)
            .next_back()
            .is_some_and(|(_, last)| *last >= offset)
    }

    /// The parts of `first..=last` already in the set.
    pub fn overlap(&self, first: u64, last: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let start = self
            .ranges
            .range(..=first)
            .next_back()
            .map_or(first, |(a, _)| *a);
        for (a, b) in self.ranges.range(start..=last) {
            let (lo, hi) = ((*a).max(first), (*b).min(last));
            if lo <= hi {
                out.push((lo, hi));
            }
        }
        out
    }

    /// The parts of `first..=last` not in the set.
    pub fn gaps(&self, first: u64, last: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut next = first;
        for (lo, hi) in self.overlap(first, last) {
            if lo > next {
                out.push((next, lo - 1));
            }
            next = hi.saturating_add(1);
            if hi == u64::MAX {
                return out;
            }
        }
        if next <= last {
            out.push((next, last));
        }
        out
    }

    /// Adds `first..=last`, merging with neighbours.
    pub fn insert(&mut self, first: u64, last: u64) {
        debug_assert!(first <= last);
        let (mut lo, mut hi) = (first, last);
        // Absorb every range that overlaps or touches [lo, hi].
        let touching: Vec<(u64, u64)> = {
            let start = self
                .ranges
                .range(..=lo)
                .next_back()
                .filter(|(_, b)| b.saturating_add(1) >= lo)
                .map_or(lo, |(a, _)| *a);
            self.ranges
                .range(start..=hi.saturating_add(1))
                .map(|(a, b)| (*a, *b))
                .collect()
        };
        for (a, b) in touching {
            self.ranges.remove(&a);
            lo = lo.min(a);
            hi = hi.max(b);
        }
        self.ranges.insert(lo, hi);
    }

    /// Forgets every offset at or above `offset`.
    pub fn truncate_from(&mut self, offset: u64) {
        let _ = self.ranges.split_off(&offset);
        if let Some((_, last)) = self.ranges.iter_mut().next_back()
            && *last >= offset
        {
            *last = offset - 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ranges: &[(u64, u64)]) -> RangeSet {
        let mut s = RangeSet::default();
        for (a, b) in ranges {
            s.insert(*a, *b);
        }
        s
    }

    #[test]
    fn touching_and_overlapping_ranges_merge() {
        let s = set(&[(0, 4), (5, 9), (20, 29), (8, 21)]);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![(0, 29)]);
        let s = set(&[(10, 19), (0, 3), (30, 30)]);
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            vec![(0, 3), (10, 19), (30, 30)]
        );
    }

    #[test]
    fn overlap_and_gaps_partition_a_query() {
        let s = set(&[(0, 3), (10, 19), (30, 30)]);
        assert_eq!(s.overlap(2, 12), vec![(2, 3), (10, 12)]);
        assert_eq!(s.gaps(2, 31), vec![(4, 9), (20, 29), (31, 31)]);
        assert_eq!(s.gaps(40, 45), vec![(40, 45)]);
        assert!(s.gaps(10, 19).is_empty());
        assert!(s.contains(30) && !s.contains(31) && !s.contains(5));
    }

    #[test]
    fn truncation_cuts_a_range_in_two_places() {
        let mut s = set(&[(0, 9), (20, 29)]);
        s.truncate_from(25);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![(0, 9), (20, 24)]);
        s.truncate_from(5);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![(0, 4)]);
        s.truncate_from(0);
        assert_eq!(s.ranges(), 0);
    }
}
