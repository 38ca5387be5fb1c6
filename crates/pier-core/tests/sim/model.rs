//! What the simulated clients know, and the invariants checked after every
//! step (`docs/design.md`, "Invariants"). Each check returns the broken
//! invariant in words.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use pier_core::Store;
use pier_core::batch;
use pier_core::queue::Delivery;

use super::world::{GROUP, MAX_DELIVERIES, PARTITIONS, TOPIC};

#[derive(Debug, Default)]
pub struct Model {
    /// Acknowledged records: (partition, offset) → value.
    pub acked: BTreeMap<(u32, u64), String>,
    /// Every value ever sent (a stored value must be one of them).
    pub written: HashSet<String>,
    /// Values of the idempotent producer: each is stored at most once.
    pub idempotent: HashSet<String>,
    /// The highest end of each partition seen.
    pub ends: BTreeMap<u32, u64>,
    /// The last acknowledged commit per partition.
    pub committed: BTreeMap<u32, i64>,
    /// Records whose ACCEPT was acknowledged.
    pub accepted: BTreeSet<(u32, u64)>,
    /// Delivery count last handed out, and the lease: (count, holder, deadline).
    pub leases: BTreeMap<(u32, u64), (u32, String, i64)>,
    /// When each queue member was last heard from: a member silent for
    /// `MEMBER_TIMEOUT_MS` is gone, and its leases with it.
    pub seen: BTreeMap<String, i64>,
}

impl Model {
    /// A queue receive: nobody else holds a live lease on these records,
    /// none was accepted, counts grow by one, never past the limit.
    pub fn received(&mut self, member: &str, got: &[Delivery], now_ms: i64) -> Result<(), String> {
        for d in got {
            let key = (d.partition, d.offset);
            if self.accepted.contains(&key) {
                return Err(format!(
                    "{key:?} delivered again after an acknowledged ACCEPT"
                ));
            }
            let (count, holder, deadline) = self.leases.get(&key).cloned().unwrap_or_default();
            let alive = self
                .seen
                .get(&holder)
                .is_some_and(|t| now_ms - t < pier_core::queue::MEMBER_TIMEOUT_MS);
            if holder != member && !holder.is_empty() && deadline > now_ms && alive {
                return Err(format!(
                    "{key:?} leased to {member} while {holder} holds it until {deadline}"
                ));
            }
            if d.delivery != count + 1 {
                return Err(format!(
                    "{key:?} delivery {} after delivery {count} (counts grow by one)",
                    d.delivery
                ));
            }
            if d.delivery > MAX_DELIVERIES {
                return Err(format!(
                    "{key:?} delivered {} times, limit {MAX_DELIVERIES}",
                    d.delivery
                ));
            }
            self.leases
                .insert(key, (d.delivery, member.to_owned(), d.lease_deadline_ms));
        }
        self.seen.insert(member.to_owned(), now_ms);
        Ok(())
    }

    /// After every step: the store against what the clients were told.
    pub fn check(&mut self, store: &Store) -> Result<(), String> {
        for p in 0..PARTITIONS {
            let values = stored(store, p)?;
            let end = values.len() as u64 + store.offsets(TOPIC, p).map_err(|e| e.to_string())?.0;
            let before = self.ends.insert(p, end).unwrap_or(0);
            if end < before {
                return Err(format!(
                    "p{p} ended at {before}, now at {end}: offsets went back"
                ));
            }
            for (offset, value) in &values {
                if !self.written.contains(value) {
                    return Err(format!("p{p}@{offset}: {value:?} was never sent"));
                }
            }
            for ((_, offset), value) in self.acked.range((p, 0)..(p + 1, 0)) {
                let found = values.iter().find(|(o, _)| o == offset).map(|(_, v)| v);
                if found != Some(value) {
                    return Err(format!(
                        "acknowledged p{p}@{offset}={value:?} is gone ({found:?})"
                    ));
                }
            }
            let mut seen = HashSet::new();
            for (offset, value) in &values {
                if self.idempotent.contains(value) && !seen.insert(value) {
                    return Err(format!(
                        "idempotent {value:?} stored twice (again at p{p}@{offset})"
                    ));
                }
            }
        }
        let committed = store.committed_offsets(GROUP);
        for (p, want) in &self.committed {
            let got = committed.get(&(TOPIC.to_owned(), *p)).map(|c| c.offset);
            if got.is_none_or(|g| g < *want) {
                return Err(format!(
                    "p{p}: committed {got:?}, acknowledged commit {want} went back"
                ));
            }
        }
        Ok(())
    }
}

/// Every record of a partition from its start, checking dense offsets and
/// CRCs on the way.
pub fn stored(store: &Store, p: u32) -> Result<Vec<(u64, String)>, String> {
    let (start, end) = store.offsets(TOPIC, p).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut offset = start;
    while offset < end {
        let read = store
            .read(TOPIC, p, offset, 1 << 20)
            .map_err(|e| format!("read p{p}@{offset}: {e}"))?;
        for b in batch::split_batches(read.records).map_err(|e| e.to_string())? {
            batch::validate(&b).map_err(|e| format!("p{p}: stored batch invalid: {e}"))?;
            for r in batch::decode_records(&b).map_err(|e| e.to_string())? {
                if (r.offset as u64) < offset {
                    continue;
                }
                if r.offset as u64 != offset {
                    return Err(format!("p{p}: offset {} where {offset} was due", r.offset));
                }
                let value = String::from_utf8_lossy(&r.value.unwrap_or_default()).into_owned();
                out.push((offset, value));
                offset += 1;
            }
        }
    }
    Ok(out)
}
