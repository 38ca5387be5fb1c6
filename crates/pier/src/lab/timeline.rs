//! A variant over time, from its clients' own accounts: when each record
//! was acknowledged and first processed. From those: the lag (records and
//! the oldest one's age) and each consumer's throughput, bucket by bucket,
//! and the measures a lab on load balancing or monitoring expects on.

use std::collections::{BTreeMap, HashMap};

use pier_workbench::{LabAlert, LabMember, LabTimeline};

use super::clients::{ConsumerOutcome, ProducerOutcome};

/// About this many buckets in a timeline.
const BUCKETS: u64 = 60;

/// When each acknowledged record was first processed (ms), if it was.
fn first_processed(consumed: &[ConsumerOutcome]) -> HashMap<&str, u64> {
    let mut first: HashMap<&str, u64> = HashMap::new();
    for c in consumed {
        for (at, id) in &c.processed_at {
            let e = first.entry(id.as_str()).or_insert(*at);
            *e = (*e).min(*at);
        }
    }
    first
}

pub(super) fn timeline(
    produced: &[ProducerOutcome],
    consumed: &[ConsumerOutcome],
    elapsed_ms: u64,
) -> LabTimeline {
    if consumed.is_empty() {
        return LabTimeline::default();
    }
    let bucket_ms = (elapsed_ms.div_ceil(BUCKETS).div_ceil(50) * 50).max(100);
    let buckets = elapsed_ms.div_ceil(bucket_ms).max(1) as usize;
    let first = first_processed(consumed);
    // (acknowledged, first processed) per acknowledged record.
    let records: Vec<(u64, Option<u64>)> = produced
        .iter()
        .flat_map(|p| &p.acked_at)
        .map(|(id, at)| (*at, first.get(id.as_str()).copied()))
        .collect();
    let mut lag_records = Vec::with_capacity(buckets);
    let mut lag_ms = Vec::with_capacity(buckets);
    for b in 1..=buckets as u64 {
        let t = b * bucket_ms;
        let waiting = records
            .iter()
            .filter(|(ack, done)| *ack <= t && done.is_none_or(|d| d > t));
        let (n, oldest) = waiting.fold((0u64, None::<u64>), |(n, o), (ack, _)| {
            (n + 1, Some(o.map_or(*ack, |o| o.min(*ack))))
        });
        lag_records.push(n);
        lag_ms.push(oldest.map_or(0, |o| t - o));
    }
    let members = consumed
        .iter()
        .map(|c| {
            let mut processed = vec![0u64; buckets];
            for (at, _) in &c.processed_at {
                let i = ((*at / bucket_ms) as usize).min(buckets - 1);
                processed[i] += 1;
            }
            LabMember {
                name: c.name.clone(),
                processed,
            }
        })
        .collect();
    LabTimeline {
        bucket_ms,
        lag_records,
        lag_ms,
        members,
    }
}

/// `max_lag_records`, `max_wait_ms`, `idle_consumers` and `alerts_fired`,
/// with the records or consumers behind them.
pub(super) fn measures(
    produced: &[ProducerOutcome],
    consumed: &[ConsumerOutcome],
    alerts: &[LabAlert],
    elapsed_ms: u64,
    counts: &mut BTreeMap<String, u64>,
    examples: &mut BTreeMap<String, Vec<String>>,
) {
    counts.insert("alerts_fired".to_owned(), alerts.len() as u64);
    let mut put = |name: &str, n: u64, listed: Vec<String>| {
        counts.insert(name.to_owned(), n);
        if n > 0 && !listed.is_empty() {
            examples.insert(name.to_owned(), listed);
        }
    };
    if consumed.is_empty() {
        for name in ["max_lag_records", "max_wait_ms", "idle_consumers"] {
            put(name, 0, Vec::new());
        }
        return;
    }
    let first = first_processed(consumed);
    // The lag moves up at an acknowledgement and down when that record is
    // first processed (not before it was acknowledged).
    let mut events: Vec<(u64, i64)> = Vec::new();
    let mut longest: Option<(u64, &str)> = None;
    for (id, ack) in produced.iter().flat_map(|p| &p.acked_at) {
        events.push((*ack, 1));
        let done = first.get(id.as_str()).copied();
        if let Some(d) = done {
            events.push((d.max(*ack), -1));
        }
        let wait = done.unwrap_or(elapsed_ms).saturating_sub(*ack);
        if longest.is_none_or(|(w, _)| wait > w) {
            longest = Some((wait, id));
        }
    }
    // At one time, the processing goes first: a record acknowledged and
    // processed in the same millisecond never waited.
    events.sort();
    let (mut lag, mut max_lag) = (0i64, 0i64);
    for (_, d) in events {
        lag += d;
        max_lag = max_lag.max(lag);
    }
    put("max_lag_records", max_lag as u64, Vec::new());
    let (wait, id) = longest.map_or((0, String::new()), |(w, id)| (w, id.to_owned()));
    put("max_wait_ms", wait, vec![id]);
    let idle: Vec<String> = consumed
        .iter()
        .filter(|c| c.processed.is_empty())
        .map(|c| c.name.clone())
        .collect();
    put("idle_consumers", idle.len() as u64, idle);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consumer(name: &str, processed: &[(u64, &str)]) -> ConsumerOutcome {
        let mut c = ConsumerOutcome {
            name: name.to_owned(),
            ..ConsumerOutcome::default()
        };
        for (at, id) in processed {
            *c.processed.entry((*id).to_owned()).or_default() += 1;
            c.processed_at.push((*at, (*id).to_owned()));
        }
        c
    }

    #[test]
    fn lag_waits_and_idle_consumers_come_from_the_clients_records() {
        let producer = ProducerOutcome {
            acked_at: [("p-0", 0), ("p-1", 0), ("p-2", 100)]
                .into_iter()
                .map(|(id, at)| (id.to_owned(), at))
                .collect(),
            ..ProducerOutcome::default()
        };
        // p-0 at 50; p-1 at 400 by one and again at 500 by the other;
        // p-2 never. A third consumer does nothing.
        let consumed = vec![
            consumer("a", &[(50, "p-0"), (400, "p-1")]),
            consumer("b", &[(500, "p-1")]),
            consumer("c", &[]),
        ];
        let (mut counts, mut examples) = (BTreeMap::new(), BTreeMap::new());
        measures(
            std::slice::from_ref(&producer),
            &consumed,
            &[],
            1_000,
            &mut counts,
            &mut examples,
        );
        assert_eq!(counts["max_lag_records"], 2);
        assert_eq!(counts["max_wait_ms"], 900, "p-2 waited to the end");
        assert_eq!(examples["max_wait_ms"], ["p-2"]);
        assert_eq!(counts["idle_consumers"], 1);
        assert_eq!(examples["idle_consumers"], ["c"]);
        assert_eq!(counts["alerts_fired"], 0);
        let t = timeline(&[producer], &consumed, 1_000);
        assert_eq!(t.bucket_ms, 100);
        // At 100 ms: p-1 and p-2 wait (p-1 since 0); at 500: only p-2.
        assert_eq!(t.lag_records[0], 2);
        assert_eq!(t.lag_ms[0], 100);
        assert_eq!(t.lag_records[4], 1);
        assert_eq!(t.lag_ms[4], 400);
        assert_eq!(t.members[0].processed.iter().sum::<u64>(), 2);
        assert_eq!(t.members[1].processed[5], 1);
    }
}
