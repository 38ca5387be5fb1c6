//! A record's journey: everything the ledger saw happen to one offset, in
//! time order.

use serde::{Deserialize, Serialize};

use super::Ledger;
use super::types::{GroupKind, Span};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema, ts_rs::TS))]
pub struct JourneyStep {
    /// When (for a run of records: when the run began or last moved).
    pub at_ms: i64,
    /// produced, acknowledged, lost, stored_twice, out_of_order, delivered,
    /// delivered_again, committed, skipped, settled, dead_lettered,
    /// removed_by_retention.
    pub what: String,
    pub group: Option<String>,
    pub who: Option<String>,
    pub detail: Option<String>,
    /// The group was inferred from the client (a Fetch names no group).
    pub inferred: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema, ts_rs::TS))]
pub struct Journey {
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    pub steps: Vec<JourneyStep>,
    pub ledger_started_ms: Option<i64>,
    pub truncated_ms: Option<i64>,
}

fn covers(x: &Span, offset: u64) -> bool {
    x.first_offset <= offset && offset <= x.last_offset
}

fn step(x: &Span, what: &str, group: Option<&str>, inferred: bool) -> JourneyStep {
    JourneyStep {
        at_ms: x.at_ms,
        what: what.to_owned(),
        group: group.map(str::to_owned),
        who: x.who.clone(),
        detail: x.detail.clone(),
        inferred,
    }
}

impl Ledger {
    pub fn journey(&self, topic: &str, partition: u32, offset: u64) -> Journey {
        let s = self.state();
        let mut steps = Vec::new();
        if let Some(pl) = s.partition(topic, partition) {
            steps.extend(produced_steps(pl, partition, offset));
        }
        for (name, g) in &s.groups {
            let Some(gp) = g.topics.get(&(topic.to_owned(), partition)) else {
                continue;
            };
            let inferred = g.kind != GroupKind::Queue;
            let lists: [(&Vec<Span>, &str); 6] = [
                (&gp.deliveries, "delivered"),
                (&gp.redelivered, "delivered_again"),
                (&gp.skipped, "skipped"),
                (&gp.settled, "settled"),
                (&gp.dead_lettered, "dead_lettered"),
                (&gp.commits, "committed"),
            ];
            for (list, what) in lists {
                for x in list.iter().filter(|x| {
                    if what == "committed" {
                        x.first_offset <= offset && offset < x.last_offset
                    } else {
                        covers(x, offset)
                    }
                }) {
                    steps.push(step(
                        x,
                        what,
                        Some(name),
                        inferred && what.starts_with("deliver"),
                    ));
                }
            }
        }
        steps.sort_by_key(|x| x.at_ms);
        Journey {
            topic: topic.to_owned(),
            partition,
            offset,
            steps,
            ledger_started_ms: s.started_ms,
            truncated_ms: s.truncated_ms,
        }
    }
}

fn produced_steps(
    pl: &super::types::PartitionLedger,
    partition: u32,
    offset: u64,
) -> Vec<JourneyStep> {
    let mut steps = Vec::new();
    for b in pl
        .recent
        .iter()
        .filter(|b| b.first <= offset && offset <= b.last)
    {
        let who = pl.producers.get(b.producer).map(|r| r.key.describe());
        let seq = (b.base_sequence >= 0).then(|| format!("producer sequence {}", b.base_sequence));
        let ack = match (b.acks, b.fsync) {
            (0, _) => "acks=0: not acknowledged".to_owned(),
            (a, true) => format!("acks={a}, acknowledged after fsync: durable"),
            (a, false) => format!("acks={a}, acknowledged with fsync off: at risk"),
        };
        let detail = [Some(ack), seq]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("; ");
        steps.push(JourneyStep {
            at_ms: b.at_ms,
            what: "produced".to_owned(),
            group: None,
            who,
            detail: Some(detail),
            inferred: false,
        });
    }
    // Older records than the recent batches: the producer runs say who.
    if steps.is_empty()
        && let Some(r) = pl
            .acked
            .range(..=offset)
            .next_back()
            .map(|(_, r)| r)
            .filter(|r| offset <= r.last)
    {
        let who: Vec<String> = pl
            .producers
            .iter()
            .filter(|p| p.first <= offset && offset <= p.last)
            .map(|p| p.key.describe())
            .collect();
        steps.push(JourneyStep {
            at_ms: r.first_ms,
            what: "produced".to_owned(),
            group: None,
            who: (!who.is_empty()).then(|| who.join(" or ")),
            detail: Some(
                if r.durable {
                    "acknowledged durably"
                } else {
                    "at risk (fsync off or acks=0)"
                }
                .to_owned(),
            ),
            inferred: who.len() > 1,
        });
    }
    let _ = partition;
    for x in pl.retained_away.iter().filter(|x| covers(x, offset)) {
        steps.push(step(x, "removed_by_retention", None, false));
    }
    for x in pl.lost.iter().filter(|x| covers(&x.span, offset)) {
        steps.push(step(&x.span, "lost", None, false));
    }
    for (x, original) in pl.stored_twice.iter().filter(|(x, _)| covers(x, offset)) {
        let mut st = step(x, "stored_twice", None, false);
        st.detail = Some(format!(
            "a copy of offset {}",
            original + (offset - x.first_offset)
        ));
        steps.push(st);
    }
    for (x, original) in &pl.stored_twice {
        let end = original + (x.last_offset - x.first_offset);
        if *original <= offset && offset <= end {
            let mut st = step(x, "stored_twice", None, false);
            st.detail = Some(format!(
                "stored again at offset {}",
                x.first_offset + (offset - original)
            ));
            steps.push(st);
        }
    }
    for x in pl.out_of_order.iter().filter(|x| covers(x, offset)) {
        steps.push(step(x, "out_of_order", None, false));
    }
    steps
}
