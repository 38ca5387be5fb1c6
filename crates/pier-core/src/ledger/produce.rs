//! Recording produces: acknowledgement runs, producer runs, the recent
//! batches, fingerprints (stored twice) and order marks (out of order).

use super::fptable::connection_tag;
use super::types::{AckRun, BatchDetail, PartitionLedger, Produced, ProducerRun, Span};
use super::verdict::FindingKind;
use super::{RECENT_BATCHES_MAX, State};

pub(super) fn note_ack_run(s: &mut State, pl: &mut PartitionLedger, p: &Produced<'_>) {
    let acknowledged = p.acks != 0;
    let durable = acknowledged && p.fsync;
    let same = |r: &AckRun| r.acknowledged == acknowledged && r.durable == durable;
    let mut run = AckRun {
        first: p.first_offset,
        last: p.last_offset,
        acknowledged,
        durable,
        first_ms: p.at_ms,
        last_ms: p.at_ms,
    };
    // Answers arrive in any order: merge with the run just before and the
    // one just after, when they touch and agree. The common case (in
    // order, same state) extends the last run in place.
    let after = pl
        .acked
        .get(&(run.last + 1))
        .filter(|r| same(r))
        .map(|r| (r.last, r.last_ms));
    if let Some(prev) = pl
        .acked
        .range_mut(..run.first)
        .next_back()
        .map(|(_, r)| r)
        .filter(|r| r.last + 1 == run.first && same(r))
    {
        prev.last = run.last;
        prev.last_ms = prev.last_ms.max(run.last_ms);
        if let Some((last, last_ms)) = after {
            prev.last = last;
            prev.last_ms = prev.last_ms.max(last_ms);
            pl.acked.remove(&(run.last + 1));
            s.release();
        }
        return;
    }
    if !s.admit(p.at_ms) {
        return;
    }
    if let Some((last, last_ms)) = after {
        pl.acked.remove(&(run.last + 1));
        run.last = last;
        run.last_ms = run.last_ms.max(last_ms);
        s.release();
    }
    pl.acked.insert(run.first, run);
}

pub(super) fn note_producer(s: &mut State, pl: &mut PartitionLedger, p: &Produced<'_>) {
    let records = p.last_offset - p.first_offset + 1;
    let index = match pl.producers.iter().rposition(|r| r.key == *p.producer) {
        Some(i) => {
            let r = &mut pl.producers[i];
            r.first = r.first.min(p.first_offset);
            r.last = r.last.max(p.last_offset);
            r.records += records;
            r.last_ms = p.at_ms;
            i
        }
        None if s.admit(p.at_ms) => {
            pl.producers.push(ProducerRun {
                key: p.producer.clone(),
                first: p.first_offset,
                last: p.last_offset,
                records,
                first_ms: p.at_ms,
                last_ms: p.at_ms,
            });
            pl.producers.len() - 1
        }
        None => return,
    };
    pl.recent.push_back(BatchDetail {
        first: p.first_offset,
        last: p.last_offset,
        producer: index,
        base_sequence: p.base_sequence,
        acks: p.acks,
        fsync: p.fsync,
        at_ms: p.at_ms,
    });
    if pl.recent.len() > RECENT_BATCHES_MAX {
        pl.recent.pop_front();
    }
}

/// The salt that keeps one client's fingerprints apart from another's.
fn client_salt(p: &Produced<'_>) -> u64 {
    u64::from(crc32c::crc32c(p.producer.client_id.as_bytes())).rotate_left(17)
}

/// Records whose fingerprint was stored within the window over another
/// connection: a retry stored twice. The same content again over the same
/// connection is a new record (a loop sending one message), not a retry:
/// clients reconnect before they resend an unanswered batch. Coalesced
/// while both copies run on together.
pub(super) fn note_duplicates(
    s: &mut State,
    pl: &mut PartitionLedger,
    p: &Produced<'_>,
    fps: &[u64],
) {
    // Only the same client's records are compared with each other.
    let salt = client_salt(p);
    let conn = connection_tag(p.connection);
    let mut found: Vec<(u64, u64)> = Vec::new();
    for (i, fp) in fps.iter().enumerate() {
        let fp = fp ^ salt;
        let offset = p.first_offset + i as u64;
        let seen = pl.fingerprints.get(fp, offset, p.at_ms);
        match seen.map(|x| (x.offset, x.connection != conn)) {
            // Answers arrive in any order: the lower offset is the first copy.
            Some((seen, true)) if seen < offset => found.push((offset, seen)),
            Some((seen, true)) if seen > offset => {
                found.push((seen, offset));
                pl.fingerprints.insert(fp, offset, p.connection, p.at_ms);
            }
            // Sent again over the same connection: the newest copy is the
            // one a retry would repeat.
            Some((seen, _)) if seen < offset => {
                pl.fingerprints.insert(fp, offset, p.connection, p.at_ms);
            }
            Some(_) => {}
            None => pl.fingerprints.insert(fp, offset, p.connection, p.at_ms),
        }
    }
    for (offset, original) in found {
        if let Some((last, orig_first)) = pl.stored_twice.last_mut()
            && last.last_offset + 1 == offset
            && *orig_first + (offset - last.first_offset) == original
        {
            last.last_offset = offset;
            s.counters.stored_twice += 1;
            continue;
        }
        let span = Span {
            partition: p.partition,
            first_offset: offset,
            last_offset: offset,
            at_ms: p.at_ms,
            who: Some(p.producer.describe()),
            detail: None,
        };
        if s.admit(p.at_ms) {
            pl.stored_twice.push((span.clone(), original));
        }
        s.anomaly(FindingKind::StoredTwice, p.topic, None, span);
    }
}

/// Batches remembered per connection for the order check.
const ORDER_MARKS_KEPT: usize = 64;

/// A producer without idempotence whose batch, at a higher offset, is
/// older than one it stored before it over the same connection: a retry
/// overtaken by a later batch. Offsets decide what was stored first (the
/// answers reach the ledger in any order).
pub(super) fn note_order(s: &mut State, pl: &mut PartitionLedger, p: &Produced<'_>) {
    let marks = pl.order_marks.entry(p.connection).or_default();
    // In order (the common case): after the last mark, no search.
    let at = match marks.back() {
        Some((o, _)) if *o < p.first_offset => marks.len(),
        _ => marks.partition_point(|(o, _)| *o < p.first_offset),
    };
    let earlier = at.checked_sub(1).map(|i| marks[i]);
    let later = marks
        .get(at)
        .filter(|(o, _)| *o > p.first_offset)
        .or_else(|| marks.get(at + 1))
        .copied();
    let mark = (
        p.first_offset,
        (p.last_offset, p.first_timestamp_ms, p.max_timestamp_ms),
    );
    if at == marks.len() {
        marks.push_back(mark);
    } else {
        marks.insert(at, mark);
    }
    if marks.len() > ORDER_MARKS_KEPT {
        marks.pop_front();
    }
    // (first offset, last offset, its timestamp, the newer one, where that is)
    let mut found = Vec::new();
    if let Some((at, (_, _, max))) = earlier.filter(|(_, (_, _, max))| p.first_timestamp_ms < *max)
    {
        found.push((p.first_offset, p.last_offset, p.first_timestamp_ms, max, at));
    }
    if let Some((at, (last, first_ts, _))) =
        later.filter(|(_, (_, first_ts, _))| *first_ts < p.max_timestamp_ms)
    {
        found.push((at, last, first_ts, p.max_timestamp_ms, p.first_offset));
    }
    for (first_offset, last_offset, ts, newer, at) in found {
        let span = Span {
            partition: p.partition,
            first_offset,
            last_offset,
            at_ms: p.at_ms,
            who: Some(p.producer.describe()),
            detail: Some(format!(
                "timestamp {ts} is older than {newer} of offset {at}, stored before it"
            )),
        };
        if s.admit(p.at_ms) {
            pl.out_of_order.push(span.clone());
        }
        s.anomaly(FindingKind::OutOfOrder, p.topic, None, span);
    }
}

/// Removes the acknowledgement runs at or beyond `end` and returns them.
pub(super) fn cut_runs(pl: &mut PartitionLedger, end: u64) -> Vec<AckRun> {
    let mut cut: Vec<AckRun> = pl.acked.split_off(&end).into_values().collect();
    if let Some(r) = pl.acked.values_mut().next_back()
        && r.last >= end
    {
        cut.insert(0, r.clone());
        r.last = end - 1;
    }
    cut
}

/// The producers whose records fell in `first..=last`, as words.
pub(super) fn producers_of(pl: &PartitionLedger, first: u64, last: u64) -> Option<String> {
    let names: Vec<String> = pl
        .producers
        .iter()
        .filter(|r| r.first <= last && r.last >= first)
        .map(|r| r.key.describe())
        .collect();
    (!names.is_empty()).then(|| names.join(", "))
}
