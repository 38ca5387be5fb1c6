//! One queue group's lease state, as a pure state machine.
//!
//! Every change is an [`Event`]; operations compute events and apply them
//! with [`QueueGroup::apply`], and a restart rebuilds the group by applying
//! the logged events again, so live state and replayed state cannot differ.
//! Time is passed in (Unix ms); nothing here reads a clock or does I/O.
//!
//! Per partition, offsets below `cursor` have been delivered at least once;
//! those not yet finished (accepted or dead-lettered) have a [`Slot`].
//! Offsets at or above `cursor` are available for a first delivery.

use std::collections::BTreeMap;

use super::config::QueueConfig;

pub use super::types::*;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberState {
    pub last_seen_ms: i64,
}

/// One queue group: its settings, per-partition slots, and members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueGroup {
    pub name: String,
    pub config: QueueConfig,
    pub partitions: Vec<PartitionState>,
    /// Members seen recently (not logged: a restart forgets them, and
    /// their leases run to their deadlines).
    pub members: BTreeMap<String, MemberState>,
    pub counters: QueueCounters,
    /// Partition to look at first on the next receive (fairness).
    rotate: u32,
}

/// Equal-jitter exponential backoff before delivery number
/// `deliveries + 1`: half of `min(max, base·2^(deliveries-1))` plus a
/// random part of the other half (`jitter` in 0..=1).
pub fn backoff_ms(config: &QueueConfig, deliveries: u32, jitter: f64) -> u64 {
    let exp = config
        .backoff_base_ms
        .saturating_mul(1u64 << deliveries.saturating_sub(1).min(30))
        .min(config.backoff_max_ms);
    exp / 2 + ((exp - exp / 2) as f64 * jitter.clamp(0.0, 1.0)) as u64
}

impl QueueGroup {
    pub fn new(name: &str, config: QueueConfig) -> Self {
        Self {
            name: name.to_owned(),
            config,
            partitions: Vec::new(),
            members: BTreeMap::new(),
            counters: QueueCounters::default(),
            rotate: 0,
        }
    }

    /// A group rebuilt from a snapshot (members are not part of it).
    pub fn from_snapshot(s: GroupSnapshot) -> Self {
        Self {
            name: s.name,
            config: s.config,
            partitions: s.partitions,
            members: BTreeMap::new(),
            counters: s.counters,
            rotate: 0,
        }
    }

    pub fn snapshot(&self) -> GroupSnapshot {
        GroupSnapshot {
            name: self.name.clone(),
            config: self.config.clone(),
            partitions: self.partitions.clone(),
            counters: self.counters.clone(),
        }
    }

    fn partition_mut(&mut self, p: u32) -> &mut PartitionState {
        let i = p as usize;
        if self.partitions.len() <= i {
            self.partitions.resize_with(i + 1, PartitionState::default);
        }
        &mut self.partitions[i]
    }

    /// Applies one logged event (live and on replay).
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::Configured { config, .. } => self.config = config.clone(),
            Event::Deleted { .. } => {}
            Event::Delivered {
                partition,
                member,
                deadline_ms,
                records,
                ..
            } => {
                let part = self.partition_mut(*partition);
                let mut redelivered = 0;
                for &(offset, deliveries) in records {
                    if deliveries > 1 {
                        redelivered += 1;
                    }
                    part.cursor = part.cursor.max(offset + 1);
                    part.slots.insert(
                        offset,
                        Slot::Leased {
                            member: member.clone(),
                            deadline_ms: *deadline_ms,
                            deliveries,
                        },
                    );
                }
                self.counters.delivered += records.len() as u64;
                self.counters.redelivered += redelivered;
            }
            Event::Accepted {
                partition, offsets, ..
            } => {
                let part = self.partition_mut(*partition);
                for o in offsets {
                    part.slots.remove(o);
                }
                self.counters.accepted += offsets.len() as u64;
            }
            Event::Released {
                partition,
                records,
                expired,
                reason,
                ..
            } => {
                let part = self.partition_mut(*partition);
                for &(offset, not_before_ms) in records {
                    let deliveries = part.slots.get(&offset).map_or(0, Slot::deliveries);
                    part.slots.insert(
                        offset,
                        Slot::Available {
                            deliveries,
                            not_before_ms,
                            last_reason: reason.clone(),
                        },
                    );
                }
                if *expired {
                    self.counters.expired += records.len() as u64;
                } else {
                    self.counters.released += records.len() as u64;
                }
            }
            Event::Extended {
                partition,
                offsets,
                deadline_ms,
                ..
            } => {
                let part = self.partition_mut(*partition);
                for o in offsets {
                    if let Some(Slot::Leased { deadline_ms: d, .. }) = part.slots.get_mut(o) {
                        *d = *deadline_ms;
                    }
                }
            }
            Event::Rejected {
                partition,
                offsets,
                reason,
                ..
            } => {
                let part = self.partition_mut(*partition);
                for o in offsets {
                    let deliveries = part.slots.get(o).map_or(0, Slot::deliveries);
                    part.slots.insert(
                        *o,
                        Slot::DeadLetter {
                            deliveries,
                            reason: reason.clone(),
                        },
                    );
                }
            }
            // Whole-state snapshots are handled by the group set's replay.
            Event::Snapshot { .. } => {}
            Event::DeadLettered {
                partition, offsets, ..
            } => {
                let part = self.partition_mut(*partition);
                for o in offsets {
                    part.slots.remove(o);
                }
                self.counters.dead_lettered += offsets.len() as u64;
            }
        }
    }

    fn in_flight_of(&self, member: &str) -> u32 {
        self.partitions
            .iter()
            .flat_map(|p| p.slots.values())
            .filter(|s| matches!(s, Slot::Leased { member: m, .. } if m == member))
            .count() as u32
    }

    /// Notes that `member` is alive.
    pub fn touch(&mut self, member: &str, now_ms: i64) {
        self.members
            .entry(member.to_owned())
            .or_default()
            .last_seen_ms = now_ms;
    }

    /// Leases up to `max` records to `member` for `lease_ms`: due
    /// redeliveries first, then records never delivered, below each
    /// partition's high watermark (`ends[p]`). Respects the member's
    /// in-flight limit. Returns the grants and the events to log (already
    /// applied).
    pub fn receive(
        &mut self,
        member: &str,
        max: u32,
        lease_ms: u64,
        now_ms: i64,
        ends: &[u64],
    ) -> (Vec<Grant>, Vec<Event>) {
        self.receive_from(member, max, lease_ms, now_ms, ends, None)
    }

    /// [`QueueGroup::receive`] limited to the partitions in `only`.
    pub fn receive_from(
        &mut self,
        member: &str,
        max: u32,
        lease_ms: u64,
        now_ms: i64,
        ends: &[u64],
        only: Option<&[u32]>,
    ) -> (Vec<Grant>, Vec<Event>) {
        self.touch(member, now_ms);
        let room = self
            .config
            .max_in_flight
            .saturating_sub(self.in_flight_of(member));
        let mut want = max.min(room) as usize;
        let deadline_ms = now_ms.saturating_add(lease_ms as i64);
        let n = ends.len() as u32;
        let mut grants = Vec::new();
        let mut events = Vec::new();
        for i in 0..n {
            if want == 0 {
                break;
            }
            let p = (self.rotate + i) % n;
            if only.is_some_and(|only| !only.contains(&p)) {
                continue;
            }
            let end = ends[p as usize];
            let part = self.partition_mut(p);
            let mut records = Vec::new();
            for (&offset, slot) in &part.slots {
                if records.len() >= want {
                    break;
                }
                if let Slot::Available {
                    deliveries,
                    not_before_ms,
                    ..
                } = slot
                    && *not_before_ms <= now_ms
                {
                    records.push((offset, deliveries + 1));
                }
            }
            let mut next = part.cursor;
            while records.len() < want && next < end {
                records.push((next, 1));
                next += 1;
            }
            if records.is_empty() {
                continue;
            }
            want -= records.len();
            grants.extend(records.iter().map(|&(offset, deliveries)| Grant {
                partition: p,
                offset,
                deliveries,
                deadline_ms,
            }));
            events.push(Event::Delivered {
                group: self.name.clone(),
                partition: p,
                member: member.to_owned(),
                deadline_ms,
                records,
            });
        }
        if n > 0 {
            self.rotate = (self.rotate + 1) % n;
        }
        for e in &events {
            self.apply(e);
        }
        (grants, events)
    }

    /// Applies acknowledgements from `member`: `(partition, offset,
    /// delivery, action)`. Each is checked on its own; refused ones change
    /// nothing. Returns one result per item and the events to log (already
    /// applied).
    pub fn acknowledge(
        &mut self,
        member: &str,
        items: &[(u32, u64, Option<u32>, AckAction)],
        now_ms: i64,
        jitter: &mut dyn FnMut() -> f64,
    ) -> (Vec<Result<(), AckError>>, Vec<Event>) {
        self.touch(member, now_ms);
        let mut results = Vec::with_capacity(items.len());
        let mut events = Vec::new();
        for (partition, offset, delivery, action) in items {
            let checked = self.check_lease(member, *partition, *offset, *delivery);
            let deliveries = match checked {
                Ok(d) => d,
                Err(e) => {
                    results.push(Err(e));
                    continue;
                }
            };
            let group = self.name.clone();
            let event = match action {
                AckAction::Accept => Event::Accepted {
                    group,
                    partition: *partition,
                    offsets: vec![*offset],
                },
                AckAction::Release { delay_ms } => {
                    if delay_ms.is_some_and(|d| d > super::config::LEASE_MAX_MS) {
                        results.push(Err(AckError::DelayOutOfRange(delay_ms.unwrap_or(0))));
                        continue;
                    }
                    if deliveries >= self.config.max_deliveries {
                        Event::Rejected {
                            group,
                            partition: *partition,
                            offsets: vec![*offset],
                            reason: format!(
                                "released after {deliveries} deliveries (max.deliveries = {})",
                                self.config.max_deliveries
                            ),
                        }
                    } else {
                        let wait = delay_ms
                            .unwrap_or_else(|| backoff_ms(&self.config, deliveries, jitter()));
                        Event::Released {
                            group,
                            partition: *partition,
                            records: vec![(*offset, now_ms.saturating_add(wait as i64))],
                            expired: false,
                            reason: Some("released by the consumer".to_owned()),
                        }
                    }
                }
                AckAction::Reject { reason } => Event::Rejected {
                    group,
                    partition: *partition,
                    offsets: vec![*offset],
                    reason: if reason.is_empty() {
                        "rejected by the consumer".to_owned()
                    } else {
                        reason.clone()
                    },
                },
                AckAction::Extend { lease_ms } => {
                    if !(1..=super::config::LEASE_MAX_MS).contains(lease_ms) {
                        results.push(Err(AckError::LeaseOutOfRange(*lease_ms)));
                        continue;
                    }
                    Event::Extended {
                        group,
                        partition: *partition,
                        offsets: vec![*offset],
                        deadline_ms: now_ms.saturating_add(*lease_ms as i64),
                    }
                }
            };
            self.apply(&event);
            events.push(event);
            results.push(Ok(()));
        }
        (results, events)
    }

    fn check_lease(
        &self,
        member: &str,
        partition: u32,
        offset: u64,
        delivery: Option<u32>,
    ) -> Result<u32, AckError> {
        let part = self
            .partitions
            .get(partition as usize)
            .ok_or(AckError::UnknownPartition(partition))?;
        match part.slots.get(&offset) {
            Some(Slot::Leased {
                member: m,
                deliveries,
                ..
            }) => {
                if let Some(got) = delivery
                    && got != *deliveries
                {
                    return Err(AckError::StaleDelivery {
                        partition,
                        offset,
                        got,
                        current: *deliveries,
                    });
                }
                if m != member {
                    return Err(AckError::WrongMember { partition, offset });
                }
                Ok(*deliveries)
            }
            _ => Err(AckError::NotLeased { partition, offset }),
        }
    }

    /// Expires leases whose deadline has passed and members not seen for
    /// `member_timeout_ms`; records at their delivery limit are rejected
    /// instead. Returns the events to log (already applied).
    pub fn tick(
        &mut self,
        now_ms: i64,
        member_timeout_ms: i64,
        jitter: &mut dyn FnMut() -> f64,
    ) -> Vec<Event> {
        let gone: Vec<String> = self
            .members
            .iter()
            .filter(|(_, m)| now_ms - m.last_seen_ms >= member_timeout_ms)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &gone {
            self.members.remove(id);
        }
        let mut events = Vec::new();
        for p in 0..self.partitions.len() as u32 {
            let mut released = Vec::new();
            let mut rejected = Vec::new();
            for (&offset, slot) in &self.partitions[p as usize].slots {
                if let Slot::Leased {
                    member,
                    deadline_ms,
                    deliveries,
                } = slot
                    && (*deadline_ms <= now_ms || gone.contains(member))
                {
                    if *deliveries >= self.config.max_deliveries {
                        rejected.push(offset);
                    } else {
                        let wait = backoff_ms(&self.config, *deliveries, jitter());
                        released.push((offset, now_ms.saturating_add(wait as i64)));
                    }
                }
            }
            if !released.is_empty() {
                events.push(Event::Released {
                    group: self.name.clone(),
                    partition: p,
                    records: released,
                    expired: true,
                    reason: Some("lease expired".to_owned()),
                });
            }
            if !rejected.is_empty() {
                events.push(Event::Rejected {
                    group: self.name.clone(),
                    partition: p,
                    offsets: rejected,
                    reason: format!(
                        "lease expired on the last allowed delivery (max.deliveries = {})",
                        self.config.max_deliveries
                    ),
                });
            }
        }
        for e in &events {
            self.apply(e);
        }
        events
    }

    /// Releases everything `member` holds (it left), with backoff.
    pub fn leave(
        &mut self,
        member: &str,
        now_ms: i64,
        jitter: &mut dyn FnMut() -> f64,
    ) -> Vec<Event> {
        if let Some(m) = self.members.get_mut(member) {
            m.last_seen_ms = i64::MIN / 2;
        } else {
            self.members.insert(
                member.to_owned(),
                MemberState {
                    last_seen_ms: i64::MIN / 2,
                },
            );
        }
        self.tick(now_ms, i64::MAX / 4, jitter)
    }

    /// Records decided for the dead-letter topic but not yet written.
    pub fn pending_dead_letters(&self) -> Vec<PendingDeadLetter> {
        let mut out = Vec::new();
        for (p, part) in self.partitions.iter().enumerate() {
            for (&offset, slot) in &part.slots {
                if let Slot::DeadLetter { deliveries, reason } = slot {
                    out.push(PendingDeadLetter {
                        partition: p as u32,
                        offset,
                        deliveries: *deliveries,
                        reason: reason.clone(),
                    });
                }
            }
        }
        out
    }

    /// Every record leased right now.
    pub fn leases(&self) -> Vec<Lease> {
        let mut out = Vec::new();
        for (p, part) in self.partitions.iter().enumerate() {
            for (&offset, slot) in &part.slots {
                if let Slot::Leased {
                    member,
                    deadline_ms,
                    deliveries,
                } = slot
                {
                    out.push(Lease {
                        partition: p as u32,
                        offset,
                        member: member.clone(),
                        delivery: *deliveries,
                        deadline_ms: *deadline_ms,
                    });
                }
            }
        }
        out
    }

    /// The soonest time something changes on its own: a lease deadline or
    /// a redelivery becoming due.
    pub fn next_due_ms(&self) -> Option<i64> {
        self.partitions
            .iter()
            .flat_map(|p| p.slots.values())
            .filter_map(|s| match s {
                Slot::Leased { deadline_ms, .. } => Some(*deadline_ms),
                Slot::Available { not_before_ms, .. } => Some(*not_before_ms),
                Slot::DeadLetter { .. } => None,
            })
            .min()
    }
}
