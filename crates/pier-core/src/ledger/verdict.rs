//! Verdicts: the anomalies of one topic (and one group on it) over a
//! window, each with the records it concerns, and the delivery guarantee
//! the group met.

use serde::{Deserialize, Serialize};

use super::types::{GroupKind, PartitionLedger, Span};
use super::{Ledger, State};

/// A partition with no commit progress this long, while the group has
/// members and lag, is stuck.
pub const STUCK_AFTER_MS: i64 = 10_000;

pub use super::kinds::{Expectation, FindingKind, Guarantee};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerdictQuery {
    pub topic: String,
    pub group: Option<String>,
    pub since_ms: Option<i64>,
    /// Spans listed per finding at most.
    pub limit: usize,
}

/// What the store says about a partition now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionFacts {
    pub partition: u32,
    pub log_start: u64,
    pub high_watermark: u64,
    /// The group's committed offset (classic) or its settled position.
    pub committed: Option<u64>,
    /// Records not yet consumed by the group.
    pub lag: u64,
    /// Live members of the group.
    pub members: usize,
    /// The records not yet consumed, as runs of offsets, when they are not
    /// simply the last `lag` ones: a queue group's records leased or
    /// waiting for redelivery below its cursor.
    pub unconsumed: Option<Vec<(u64, u64)>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema, ts_rs::TS))]
pub struct Finding {
    pub kind: FindingKind,
    pub meaning: String,
    /// Records concerned (not spans).
    pub records: u64,
    pub spans: Vec<Span>,
    /// `false` when more spans exist than were listed.
    pub complete: bool,
    /// The first records of the spans one by one, with their keys where
    /// the record is still stored (filled by the workbench, which reads
    /// the log; at most [`RECORDS_LISTED_MAX`]).
    #[serde(default)]
    pub listed: Vec<RecordRef>,
}

/// Records listed one by one per finding, at most.
pub const RECORDS_LISTED_MAX: usize = 100;

/// One record a finding concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema, ts_rs::TS))]
pub struct RecordRef {
    pub partition: u32,
    pub offset: u64,
    /// `None` without a key, or when the record is gone (lost).
    pub key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema, ts_rs::TS))]
pub struct PartitionReport {
    pub partition: u32,
    pub log_start: u64,
    pub high_watermark: u64,
    pub committed: Option<u64>,
    pub lag: u64,
    pub stuck: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema, ts_rs::TS))]
pub struct Verdict {
    pub topic: String,
    pub group: Option<String>,
    pub group_kind: Option<GroupKind>,
    pub since_ms: Option<i64>,
    pub checked_at_ms: i64,
    /// Recording began here: nothing before it is judged.
    pub ledger_started_ms: Option<i64>,
    /// Detail stopped being kept here (the entry cap was reached).
    pub truncated_ms: Option<i64>,
    pub enabled: bool,
    pub guarantee: Guarantee,
    /// Why that guarantee, in words.
    pub because: String,
    /// Records produced (and of those, acknowledged) in the window.
    pub produced: u64,
    pub acknowledged: u64,
    /// Acknowledged with fsync off, or sent with acks=0.
    pub at_risk: u64,
    pub findings: Vec<Finding>,
    pub partitions: Vec<PartitionReport>,
}

impl Verdict {
    pub fn count(&self, kind: FindingKind) -> u64 {
        self.findings
            .iter()
            .find(|f| f.kind == kind)
            .map_or(0, |f| f.records)
    }

    /// `Err` says which finding breaks the expectation.
    pub fn meets(&self, expect: Expectation) -> Result<(), String> {
        use FindingKind as K;
        let forbidden: &[K] = match expect {
            Expectation::NoLoss => &[K::LostAfterAck],
            Expectation::AtLeastOnce => &[K::LostAfterAck, K::CommittedWithoutDelivery],
            Expectation::ExactlyOnce => &[
                K::LostAfterAck,
                K::CommittedWithoutDelivery,
                K::StoredTwice,
                K::DeliveredMoreThanOnce,
            ],
        };
        let broken: Vec<String> = forbidden
            .iter()
            .filter(|k| self.count(**k) > 0)
            .map(|k| format!("{} {}", self.count(*k), k.name()))
            .collect();
        if broken.is_empty() {
            Ok(())
        } else {
            Err(broken.join(", "))
        }
    }
}

impl Ledger {
    /// The verdict for `q`, given what the store says now.
    pub fn verdict(&self, q: &VerdictQuery, facts: &[PartitionFacts], now_ms: i64) -> Verdict {
        let s = self.state();
        let since = q.since_ms.unwrap_or(i64::MIN);
        let mut lists: Vec<(FindingKind, Vec<Span>)> = Vec::new();
        let (mut produced, mut acknowledged, mut at_risk) = (0, 0, 0);
        for pl in s
            .partitions
            .get(&q.topic)
            .into_iter()
            .flat_map(|ps| ps.values())
        {
            for r in pl.acked.values().filter(|r| r.last_ms >= since) {
                let n = r.last - r.first + 1;
                produced += n;
                acknowledged += if r.acknowledged { n } else { 0 };
                at_risk += if r.durable { 0 } else { n };
            }
            // Lost records were produced (and maybe acknowledged) too.
            for x in pl.lost.iter().filter(|x| x.span.at_ms >= since) {
                let n = x.span.records();
                produced += n;
                acknowledged += if x.acknowledged { n } else { 0 };
                at_risk += if x.durable { 0 } else { n };
            }
            producer_findings(pl, since, &mut lists);
        }
        let group = q.group.as_deref().and_then(|g| s.groups.get(g));
        if let Some(g) = group {
            for ((topic, _), gp) in &g.topics {
                if *topic != q.topic {
                    continue;
                }
                let within = |v: &Vec<Span>| -> Vec<Span> {
                    v.iter().filter(|x| x.at_ms >= since).cloned().collect()
                };
                lists.push((FindingKind::DeliveredMoreThanOnce, within(&gp.redelivered)));
                // Only what is still unsent: a group that reads them later
                // (a reset, a seek back) did not skip them after all.
                let still: Vec<Span> = within(&gp.skipped)
                    .into_iter()
                    .flat_map(|x| {
                        gp.delivered
                            .gaps(x.first_offset, x.last_offset)
                            .into_iter()
                            .map(move |(a, b)| Span {
                                first_offset: a,
                                last_offset: b,
                                ..x.clone()
                            })
                    })
                    .collect();
                lists.push((FindingKind::CommittedWithoutDelivery, still));
                lists.push((FindingKind::DeadLettered, within(&gp.dead_lettered)));
            }
        }
        let partitions = reports(&s, q, facts, now_ms);
        if q.group.is_some() {
            lists.push((FindingKind::Stuck, stuck_spans(&partitions, facts, now_ms)));
            lists.push((
                FindingKind::Unconsumed,
                lag_spans(&partitions, facts, now_ms),
            ));
        }
        let findings = gather(lists, q.limit);
        let mut v = Verdict {
            topic: q.topic.clone(),
            group: q.group.clone(),
            group_kind: group.map(|g| g.kind),
            since_ms: q.since_ms,
            checked_at_ms: now_ms,
            ledger_started_ms: s.started_ms,
            truncated_ms: s.truncated_ms,
            enabled: self.enabled(),
            guarantee: Guarantee::EffectivelyExactlyOnce,
            because: String::new(),
            produced,
            acknowledged,
            at_risk,
            findings,
            partitions,
        };
        (v.guarantee, v.because) = guarantee(&v);
        v
    }
}

fn producer_findings(pl: &PartitionLedger, since: i64, lists: &mut Vec<(FindingKind, Vec<Span>)>) {
    let within =
        |v: &[Span]| -> Vec<Span> { v.iter().filter(|x| x.at_ms >= since).cloned().collect() };
    let lost = pl.lost.iter().filter(|x| x.span.at_ms >= since);
    let (after_ack, unacked): (Vec<_>, Vec<_>) = lost.partition(|x| x.acknowledged);
    let spans = |v: Vec<&super::types::Lost>| -> Vec<Span> {
        v.into_iter().map(|x| x.span.clone()).collect()
    };
    let (after_ack, unacked) = (spans(after_ack), spans(unacked));
    lists.push((FindingKind::LostAfterAck, after_ack));
    lists.push((FindingKind::LostUnacknowledged, unacked));
    let twice = pl
        .stored_twice
        .iter()
        .filter(|(x, _)| x.at_ms >= since)
        .map(|(x, original)| {
            let mut x = x.clone();
            let end = original + (x.last_offset - x.first_offset);
            x.detail = Some(if end == *original {
                format!("first stored at offset {original}")
            } else {
                format!("first stored at offsets {original}..={end}")
            });
            x
        })
        .collect();
    lists.push((FindingKind::StoredTwice, twice));
    lists.push((FindingKind::OutOfOrder, within(&pl.out_of_order)));
}

fn reports(
    s: &State,
    q: &VerdictQuery,
    facts: &[PartitionFacts],
    now_ms: i64,
) -> Vec<PartitionReport> {
    let group = q.group.as_deref().and_then(|g| s.groups.get(g));
    facts
        .iter()
        .map(|f| {
            let moved_ms = group
                .and_then(|g| g.topics.get(&(q.topic.clone(), f.partition)))
                .map(|gp| {
                    gp.committed_ms
                        .max(gp.settled.last().map_or(0, |x| x.at_ms))
                })
                .unwrap_or_default()
                .max(s.started_ms.unwrap_or(now_ms));
            PartitionReport {
                partition: f.partition,
                log_start: f.log_start,
                high_watermark: f.high_watermark,
                committed: f.committed,
                lag: f.lag,
                stuck: q.group.is_some()
                    && f.lag > 0
                    && f.members > 0
                    && now_ms - moved_ms >= STUCK_AFTER_MS,
            }
        })
        .collect()
}

fn lag_spans(partitions: &[PartitionReport], facts: &[PartitionFacts], now_ms: i64) -> Vec<Span> {
    let span = |partition: u32, first: u64, last: u64, lag: u64| Span {
        partition,
        first_offset: first,
        last_offset: last,
        at_ms: now_ms,
        who: None,
        detail: Some(format!("{lag} records behind")),
    };
    let mut out = Vec::new();
    for p in partitions.iter().filter(|p| p.lag > 0) {
        let runs = facts
            .iter()
            .find(|f| f.partition == p.partition)
            .and_then(|f| f.unconsumed.as_ref());
        match runs {
            Some(runs) => out.extend(
                runs.iter()
                    .map(|(first, last)| span(p.partition, *first, *last, p.lag)),
            ),
            None => out.push(span(
                p.partition,
                p.high_watermark.saturating_sub(p.lag),
                p.high_watermark - 1,
                p.lag,
            )),
        }
    }
    out
}

fn stuck_spans(partitions: &[PartitionReport], facts: &[PartitionFacts], now_ms: i64) -> Vec<Span> {
    lag_spans(partitions, facts, now_ms)
        .into_iter()
        .filter(|x| {
            partitions
                .iter()
                .any(|p| p.partition == x.partition && p.stuck)
        })
        .collect()
}

/// One finding per kind that was looked at, spans sorted, counts exact,
/// lists cut at `limit`.
fn gather(lists: Vec<(FindingKind, Vec<Span>)>, limit: usize) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    for kind in FindingKind::ALL {
        let mut spans: Vec<Span> = lists
            .iter()
            .filter(|(k, _)| *k == kind)
            .flat_map(|(_, v)| v.iter().cloned())
            .collect();
        if spans.is_empty() && !lists.iter().any(|(k, _)| *k == kind) {
            continue;
        }
        spans.sort_by_key(|x| (x.partition, x.first_offset, x.at_ms));
        let records = spans.iter().map(Span::records).sum();
        let complete = spans.len() <= limit;
        spans.truncate(limit);
        out.push(Finding {
            kind,
            meaning: kind.meaning().to_owned(),
            records,
            spans,
            complete,
            listed: Vec::new(),
        });
    }
    out
}

fn guarantee(v: &Verdict) -> (Guarantee, String) {
    use FindingKind as K;
    let n = |k| v.count(k);
    if n(K::LostAfterAck) > 0 {
        return (
            Guarantee::None,
            format!("{} acknowledged records were lost", n(K::LostAfterAck)),
        );
    }
    if n(K::CommittedWithoutDelivery) > 0 {
        return (
            Guarantee::AtMostOnce,
            format!(
                "{} records were committed without being sent to the group",
                n(K::CommittedWithoutDelivery)
            ),
        );
    }
    let twice = n(K::DeliveredMoreThanOnce) + n(K::StoredTwice);
    if twice > 0 {
        return (
            Guarantee::AtLeastOnce,
            format!(
                "nothing lost or skipped; {} stored twice, {} delivered more than once",
                n(K::StoredTwice),
                n(K::DeliveredMoreThanOnce)
            ),
        );
    }
    let what = if v.group.is_some() {
        "delivered"
    } else {
        "stored"
    };
    (
        Guarantee::EffectivelyExactlyOnce,
        format!("every record seen was {what} once and nothing acknowledged was lost"),
    )
}
