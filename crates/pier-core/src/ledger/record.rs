//! Recording: each call is one thing the broker did, in the order it did
//! them. Anomalies are found here, as they happen, so live events can
//! announce them; verdicts only gather.

use super::produce::{
    cut_runs, note_ack_run, note_duplicates, note_order, note_producer, producers_of,
};
use super::types::{
    GroupKind, GroupLedger, GroupPartition, Instance, Lost, PartitionLedger, Produced, Span,
};
use super::verdict::FindingKind;
use super::{Fetched, Ledger, State};
use crate::queue::Event;

impl Ledger {
    /// A produce was answered (or, with acks=0, stored).
    pub fn produced(&self, p: &Produced<'_>) {
        if !self.enabled() {
            return;
        }
        let mut s = self.state();
        s.start(p.at_ms);
        let mut pl = s.take_partition(p.topic, p.partition);
        note_ack_run(&mut s, &mut pl, p);
        note_producer(&mut s, &mut pl, p);
        if let Some(fps) = &p.fingerprints {
            note_duplicates(&mut s, &mut pl, p, fps);
            note_order(&mut s, &mut pl, p);
        }
        s.put_partition(p.topic, p.partition, pl);
    }

    /// Retention removed `first..=last` (the log start moved past them):
    /// removed, not lost, and a step of their journeys.
    pub fn removed_by_retention(
        &self,
        topic: &str,
        partition: u32,
        first: u64,
        last: u64,
        at_ms: i64,
    ) {
        if !self.enabled() || last < first {
            return;
        }
        let mut s = self.state();
        let Some(pl) = s
            .partitions
            .get_mut(topic)
            .and_then(|ps| ps.get_mut(&partition))
        else {
            // Nothing produced while the ledger watched: nothing to tell.
            return;
        };
        if let Some(x) = pl.retained_away.last_mut()
            && x.last_offset + 1 == first
        {
            x.last_offset = last;
            x.at_ms = at_ms;
            return;
        }
        if !s.admit(at_ms) {
            return;
        }
        let mut pl = s.take_partition(topic, partition);
        pl.retained_away.push(Span {
            partition,
            first_offset: first,
            last_offset: last,
            at_ms,
            who: None,
            detail: Some("removed by retention (retention.ms or retention.bytes)".to_owned()),
        });
        s.put_partition(topic, partition, pl);
    }

    /// A Fetch answer carried `from..=to` to a consumer.
    pub fn fetched(&self, f: &Fetched<'_>) {
        if !self.enabled() || f.to < f.from {
            return;
        }
        let mut s = self.state();
        s.start(f.at_ms);
        let ikey = (f.connection, f.topic.to_owned(), f.partition);
        let mut from = f.from;
        let mut span = None;
        if let Some(i) = s.instances.get(&ikey).filter(|i| i.group == f.group) {
            span = i.span;
            // The same request again: its answer never arrived. Only what
            // is new in this answer counts.
            if i.last_from == f.from && f.from <= i.last_to {
                if f.to <= i.last_to {
                    return;
                }
                from = i.last_to + 1;
            } else if f.from != i.last_to + 1 {
                span = None;
            }
        }
        let span = deliver(&mut s, f, from, span);
        if s.instances.len() >= 65_536 {
            s.instances.clear();
        }
        s.instances.insert(
            ikey,
            Instance {
                group: f.group.to_owned(),
                last_from: f.from,
                last_to: f.to,
                span,
            },
        );
    }

    /// A classic group committed `offset` (the next record to read).
    /// `log_start`: records before it were removed by retention, not
    /// skipped.
    #[allow(clippy::too_many_arguments)]
    pub fn committed(
        &self,
        group: &str,
        member: &str,
        topic: &str,
        partition: u32,
        offset: u64,
        log_start: u64,
        at_ms: i64,
    ) {
        if !self.enabled() {
            return;
        }
        let mut s = self.state();
        s.start(at_ms);
        let gp = group_partition(&mut s, group, GroupKind::Classic, topic, partition);
        let previous = gp.committed;
        let mut skipped = Vec::new();
        if let Some(prev) = previous
            && offset > prev.max(log_start)
        {
            skipped = gp.delivered.gaps(prev.max(log_start), offset - 1);
        }
        let extend = gp.commits.last_mut().filter(|c| {
            c.who.as_deref() == Some(member)
                && Some(c.last_offset) == previous
                && offset >= c.last_offset
        });
        let push = match extend {
            Some(c) => {
                c.last_offset = offset;
                c.at_ms = at_ms;
                None
            }
            None => Some(Span {
                partition,
                first_offset: previous.unwrap_or(offset).min(offset),
                last_offset: offset.max(previous.unwrap_or(offset)),
                at_ms,
                who: Some(member.to_owned()),
                detail: previous
                    .filter(|p| *p > offset)
                    .map(|p| format!("moved back from {p}")),
            }),
        };
        gp.committed = Some(offset);
        gp.committed_ms = at_ms;
        if let Some(span) = push {
            let at = (group, GroupKind::Classic, topic, partition);
            keep(&mut s, at, at_ms, |gp| &mut gp.commits, span);
        }
        for (first, last) in skipped {
            let span = Span {
                partition,
                first_offset: first,
                last_offset: last,
                at_ms,
                who: Some(member.to_owned()),
                detail: Some(format!(
                    "committed {offset} without these being sent to the group"
                )),
            };
            keep(
                &mut s,
                (group, GroupKind::Classic, topic, partition),
                at_ms,
                |gp| &mut gp.skipped,
                span.clone(),
            );
            s.anomaly(
                FindingKind::CommittedWithoutDelivery,
                topic,
                Some(group),
                span,
            );
        }
    }

    /// Queue (share) group events, as logged: `(topic of the group, event)`.
    pub fn queue_events(&self, events: &[(String, Event)], at_ms: i64) {
        if !self.enabled() {
            return;
        }
        let mut s = self.state();
        s.start(at_ms);
        for (topic, e) in events {
            super::queue::note(&mut s, topic, e, at_ms);
        }
    }

    /// The broker restarted and `topic`/`partition` now ends at
    /// `high_watermark`: what was recorded beyond it is gone.
    pub fn recovered(&self, topic: &str, partition: u32, high_watermark: u64, at_ms: i64) {
        let mut s = self.state();
        if s.partition(topic, partition).is_none() {
            return;
        }
        let mut pl = s.take_partition(topic, partition);
        for run in cut_runs(&mut pl, high_watermark) {
            let (kind, detail) = match (run.acknowledged, run.durable) {
                (true, true) => (FindingKind::LostAfterAck, "acknowledged durably (fsync on)"),
                (true, false) => (FindingKind::LostAfterAck, "acknowledged with fsync off"),
                (false, _) => (FindingKind::LostUnacknowledged, "sent with acks=0"),
            };
            let span = Span {
                partition,
                first_offset: run.first.max(high_watermark),
                last_offset: run.last,
                at_ms,
                who: producers_of(&pl, run.first.max(high_watermark), run.last),
                detail: Some(format!(
                    "{detail}; the broker came back with the log ending at offset {high_watermark}, \
                     and later records take these offsets again"
                )),
            };
            if s.admit(at_ms) {
                pl.lost.push(Lost {
                    span: span.clone(),
                    acknowledged: run.acknowledged,
                    durable: run.durable,
                });
            }
            s.anomaly(kind, topic, None, span);
        }
        forget_from(&mut s, &mut pl, topic, partition, high_watermark);
        s.put_partition(topic, partition, pl);
    }
}

/// Keeps `span` in the list of a group's partition that `pick` chooses,
/// if the entry cap allows (the one way spans enter a group's ledger).
pub(crate) fn keep(
    s: &mut State,
    (group, kind, topic, partition): (&str, GroupKind, &str, u32),
    at_ms: i64,
    pick: fn(&mut GroupPartition) -> &mut Vec<Span>,
    span: Span,
) {
    if s.admit(at_ms) {
        pick(group_partition(s, group, kind, topic, partition)).push(span);
    }
}

pub(crate) fn group_partition<'a>(
    s: &'a mut State,
    group: &str,
    kind: GroupKind,
    topic: &str,
    partition: u32,
) -> &'a mut GroupPartition {
    s.groups
        .entry(group.to_owned())
        .or_insert_with(|| GroupLedger {
            kind,
            topics: std::collections::HashMap::new(),
        })
        .topics
        .entry((topic.to_owned(), partition))
        .or_default()
}

/// Marks `from..=f.to` sent; returns the delivery span it extended or made.
fn deliver(s: &mut State, f: &Fetched<'_>, from: u64, span: Option<usize>) -> Option<usize> {
    let gp = group_partition(s, f.group, f.kind, f.topic, f.partition);
    let again = gp.delivered.overlap(from, f.to);
    gp.delivered.insert(from, f.to);
    let extended = span.filter(|i| {
        gp.deliveries
            .get(*i)
            .is_some_and(|d| d.last_offset + 1 == from && d.who.as_deref() == Some(f.who))
    });
    let index = if let Some(i) = extended {
        gp.deliveries[i].last_offset = f.to;
        Some(i)
    } else {
        let n = gp.deliveries.len();
        let d = Span {
            partition: f.partition,
            first_offset: from,
            last_offset: f.to,
            at_ms: f.at_ms,
            who: Some(f.who.to_owned()),
            detail: Some(f.rule.to_owned()),
        };
        s.admit(f.at_ms).then(|| {
            group_partition(s, f.group, f.kind, f.topic, f.partition)
                .deliveries
                .push(d);
            n
        })
    };
    for (a, b) in again {
        let span = Span {
            partition: f.partition,
            first_offset: a,
            last_offset: b,
            at_ms: f.at_ms,
            who: Some(f.who.to_owned()),
            detail: Some("sent to the group again".to_owned()),
        };
        keep(
            s,
            (f.group, f.kind, f.topic, f.partition),
            f.at_ms,
            |gp| &mut gp.redelivered,
            span.clone(),
        );
        s.anomaly(
            FindingKind::DeliveredMoreThanOnce,
            f.topic,
            Some(f.group),
            span,
        );
    }
    index
}

/// Forgets everything at or beyond `end`: new records will take these
/// offsets, and must not look like old ones sent again.
fn forget_from(s: &mut State, pl: &mut PartitionLedger, topic: &str, partition: u32, end: u64) {
    // The recent batches stay: a lost record's journey shows who
    // produced it, and a new record at its offset is a later batch.
    // Fingerprints below the end stay: a producer that lost its answer in
    // the crash retries after it, and a second copy is a duplicate.
    pl.fingerprints.forget_from(end);
    pl.order_marks.clear();
    for g in s.groups.values_mut() {
        if let Some(gp) = g.topics.get_mut(&(topic.to_owned(), partition)) {
            gp.delivered.truncate_from(end);
            gp.deliveries.retain_mut(|d| {
                d.last_offset = d.last_offset.min(end.saturating_sub(1));
                d.first_offset < end
            });
        }
    }
    s.instances
        .retain(|(_, t, p), _| !(t == topic && *p == partition));
}
