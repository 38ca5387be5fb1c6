//! Queue (share) groups: their logged events say exactly who was leased
//! what, with the delivery count, and how each lease ended.

use super::State;
use super::record::{group_partition, keep};
use super::types::{GroupKind, Span};
use super::verdict::FindingKind;
use crate::queue::Event;

/// Contiguous runs of `offsets` (sorted here), as `(first, last)`.
pub(crate) fn runs(offsets: impl IntoIterator<Item = u64>) -> Vec<(u64, u64)> {
    let mut sorted: Vec<u64> = offsets.into_iter().collect();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out: Vec<(u64, u64)> = Vec::new();
    for o in sorted {
        match out.last_mut() {
            Some((_, last)) if *last + 1 == o => *last = o,
            _ => out.push((o, o)),
        }
    }
    out
}

pub(crate) fn note(s: &mut State, topic: &str, e: &Event, at_ms: i64) {
    match e {
        Event::Delivered {
            group,
            partition,
            member,
            records,
            ..
        } => delivered(s, topic, group, *partition, member, records, at_ms),
        Event::Accepted {
            group,
            partition,
            offsets,
        } => settled(s, topic, group, *partition, offsets, "accepted", at_ms),
        Event::Released {
            group,
            partition,
            records,
            expired,
            reason,
        } => {
            let how = match (expired, reason) {
                (true, Some(r)) => format!("lease ended: {r}"),
                (true, None) => "lease expired".to_owned(),
                (false, _) => "released".to_owned(),
            };
            let offsets: Vec<u64> = records.iter().map(|(o, _)| *o).collect();
            settled(s, topic, group, *partition, &offsets, &how, at_ms);
        }
        Event::Rejected {
            group,
            partition,
            offsets,
            reason,
        } => settled(
            s,
            topic,
            group,
            *partition,
            offsets,
            &format!("rejected: {reason}"),
            at_ms,
        ),
        Event::DeadLettered {
            group,
            partition,
            offsets,
        } => {
            for (first, last) in runs(offsets.iter().copied()) {
                let span = Span {
                    partition: *partition,
                    first_offset: first,
                    last_offset: last,
                    at_ms,
                    who: None,
                    detail: Some("copied to the dead-letter topic".to_owned()),
                };
                keep(
                    s,
                    (group, GroupKind::Queue, topic, *partition),
                    at_ms,
                    |gp| &mut gp.dead_lettered,
                    span.clone(),
                );
                s.anomaly(FindingKind::DeadLettered, topic, Some(group), span);
            }
        }
        Event::Configured { .. }
        | Event::Deleted { .. }
        | Event::Extended { .. }
        | Event::Snapshot { .. } => {}
    }
}

fn delivered(
    s: &mut State,
    topic: &str,
    group: &str,
    partition: u32,
    member: &str,
    records: &[(u64, u32)],
    at_ms: i64,
) {
    let again: Vec<(u64, u32)> = records.iter().copied().filter(|(_, n)| *n > 1).collect();
    for (first, last) in runs(records.iter().map(|(o, _)| *o)) {
        let gp = group_partition(s, group, GroupKind::Queue, topic, partition);
        gp.delivered.insert(first, last);
        let extend = gp
            .deliveries
            .last_mut()
            .filter(|d| d.last_offset + 1 == first && d.who.as_deref() == Some(member));
        if let Some(d) = extend {
            d.last_offset = last;
            continue;
        }
        let span = Span {
            partition,
            first_offset: first,
            last_offset: last,
            at_ms,
            who: Some(member.to_owned()),
            detail: Some("leased (share fetch or queue receive)".to_owned()),
        };
        keep(
            s,
            (group, GroupKind::Queue, topic, partition),
            at_ms,
            |gp| &mut gp.deliveries,
            span,
        );
    }
    for (first, last) in runs(again.iter().map(|(o, _)| *o)) {
        let most = again
            .iter()
            .filter(|(o, _)| (first..=last).contains(o))
            .map(|(_, n)| *n)
            .max()
            .unwrap_or(2);
        let span = Span {
            partition,
            first_offset: first,
            last_offset: last,
            at_ms,
            who: Some(member.to_owned()),
            detail: Some(format!(
                "delivery {most}: leased again after an earlier lease ended"
            )),
        };
        keep(
            s,
            (group, GroupKind::Queue, topic, partition),
            at_ms,
            |gp| &mut gp.redelivered,
            span.clone(),
        );
        s.anomaly(FindingKind::DeliveredMoreThanOnce, topic, Some(group), span);
    }
}

fn settled(
    s: &mut State,
    topic: &str,
    group: &str,
    partition: u32,
    offsets: &[u64],
    how: &str,
    at_ms: i64,
) {
    for (first, last) in runs(offsets.iter().copied()) {
        let gp = group_partition(s, group, GroupKind::Queue, topic, partition);
        let extend = gp
            .settled
            .last_mut()
            .filter(|d| d.last_offset + 1 == first && d.detail.as_deref() == Some(how));
        if let Some(d) = extend {
            d.last_offset = last;
            d.at_ms = at_ms;
            continue;
        }
        let span = Span {
            partition,
            first_offset: first,
            last_offset: last,
            at_ms,
            who: None,
            detail: Some(how.to_owned()),
        };
        keep(
            s,
            (group, GroupKind::Queue, topic, partition),
            at_ms,
            |gp| &mut gp.settled,
            span,
        );
    }
}
