//! A queue group at a glance.

use std::collections::BTreeMap;

use super::service::{QueueMemberSummary, QueueSummary, Queues};
use super::state::Slot;

impl Queues {
    pub fn describe(&self, group: &str) -> Option<QueueSummary> {
        let groups = self.inner().groups.lock().expect("queue lock");
        let g = groups.get(group)?;
        let ends: Vec<u64> = self
            .inner()
            .store
            .describe_topic(&g.config.topic)
            .map(|d| d.partitions.iter().map(|p| p.high_watermark).collect())
            .unwrap_or_default();
        let mut in_flight_by: BTreeMap<&str, u32> = BTreeMap::new();
        let (mut in_flight, mut waiting, mut pending) = (0, 0, 0);
        for part in &g.partitions {
            for slot in part.slots.values() {
                match slot {
                    Slot::Leased { member, .. } => {
                        in_flight += 1;
                        *in_flight_by.entry(member.as_str()).or_default() += 1;
                    }
                    Slot::Available { .. } => waiting += 1,
                    Slot::DeadLetter { .. } => pending += 1,
                }
            }
        }
        let backlog = ends
            .iter()
            .enumerate()
            .map(|(p, end)| end.saturating_sub(g.partitions.get(p).map_or(0, |s| s.cursor)))
            .sum();
        let dead_letter_depth = self
            .inner()
            .store
            .describe_topic(&g.config.dead_letter_topic)
            .map_or(0, |d| {
                d.partitions
                    .iter()
                    .map(|p| p.high_watermark - p.log_start)
                    .sum()
            });
        let mut members: Vec<QueueMemberSummary> = g
            .members
            .iter()
            .map(|(id, m)| QueueMemberSummary {
                member: id.clone(),
                in_flight: in_flight_by.get(id.as_str()).copied().unwrap_or(0),
                last_seen_ms: m.last_seen_ms,
            })
            .collect();
        // Leases of members forgotten by a restart still count.
        for (id, n) in &in_flight_by {
            if !g.members.contains_key(*id) {
                members.push(QueueMemberSummary {
                    member: (*id).to_owned(),
                    in_flight: *n,
                    last_seen_ms: 0,
                });
            }
        }
        Some(QueueSummary {
            group: g.name.clone(),
            config: g.config.clone(),
            members,
            in_flight,
            waiting,
            backlog,
            dead_letter_pending: pending,
            dead_letter_depth,
            counters: g.counters.clone(),
        })
    }
}

/// Where one partition of a queue group stands, for a range of offsets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionView {
    /// The group's topic.
    pub topic: String,
    /// Offsets at or above this were never delivered.
    pub cursor: u64,
    /// Delivered, unfinished records in the range; delivered offsets
    /// without a slot are finished (accepted or dead-lettered).
    pub slots: BTreeMap<u64, Slot>,
}

impl Queues {
    /// The state of `group` for offsets `from..to` of `partition`, or
    /// `None` if there is no such group.
    pub fn partition_view(
        &self,
        group: &str,
        partition: u32,
        from: u64,
        to: u64,
    ) -> Option<PartitionView> {
        let groups = self.inner().groups.lock().expect("queue lock");
        let g = groups.get(group)?;
        let part = g.partitions.get(partition as usize);
        Some(PartitionView {
            topic: g.config.topic.clone(),
            cursor: part.map_or(0, |p| p.cursor),
            slots: part
                .map(|p| {
                    p.slots
                        .range(from..to.max(from))
                        .map(|(o, s)| (*o, s.clone()))
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}
