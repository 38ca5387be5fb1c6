//! Judging a variant: the ledger's verdicts for each topic its clients
//! used, the lab's own measures from its clients' records (what the log
//! holds by id, what was processed), and the expectations checked.

use std::collections::{BTreeMap, BTreeSet};

use pier_core::ledger::FindingKind;
use pier_workbench::{VerdictRequest, Workbench};

use super::clients::ProducerOutcome;
use super::model::{Condition, Variant};
use super::report::{Checked, ClientSummary, VariantReport};
use super::run::{Names, Outcome};

pub(super) fn judge(
    wb: &Workbench,
    v: &Variant,
    names: &Names,
    since_ms: i64,
    elapsed_ms: u64,
    outcome: Outcome,
) -> anyhow::Result<VariantReport> {
    let Outcome {
        said,
        produced,
        consumed,
        apps,
        alerts,
    } = outcome;
    // The topics the variant's clients used, each with its group (if any).
    let mut judged: BTreeMap<String, Option<String>> = BTreeMap::new();
    for p in &v.producers {
        judged.entry(names.of(p.topic.get_ref())).or_default();
    }
    for c in &v.consumers {
        judged.insert(
            names.of(c.topic.get_ref()),
            Some(names.of(c.group.get_ref())),
        );
    }
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut examples: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let guarantee = ledger_verdicts(wb, &judged, since_ms, &mut counts, &mut examples)?;
    // What was processed: the simulated consumers' own records, and what
    // the apps wrote to their processed topics.
    let mut processed: BTreeMap<String, u32> = BTreeMap::new();
    for c in &consumed {
        for (id, n) in &c.processed {
            *processed.entry(id.clone()).or_default() += n;
        }
    }
    for a in &v.apps {
        for id in read_values(wb, &names.of(a.processed_topic.get_ref()))? {
            *processed.entry(id).or_default() += 1;
        }
    }
    let consuming = !consumed.is_empty() || !v.apps.is_empty();
    client_measures(&produced, consuming, &processed, &mut counts, &mut examples);
    missing_from_log(wb, &judged, &produced, &mut counts, &mut examples)?;
    super::timeline::measures(
        &produced,
        &consumed,
        &alerts,
        elapsed_ms,
        &mut counts,
        &mut examples,
    );
    for name in [
        "missing_from_log",
        "never_processed",
        "processed_twice",
        "not_acknowledged",
    ] {
        if let Some(list) = examples.get_mut(name) {
            list.sort_by_key(|id| natural(id));
        }
    }
    for list in examples.values_mut() {
        list.truncate(EXAMPLES_MAX);
    }
    let expectations: Vec<Checked> = v
        .expect
        .iter()
        .map(|(k, c)| {
            let condition = Condition::parse(c.get_ref()).expect("checked when parsed");
            let actual = counts.get(k.get_ref()).copied().unwrap_or(0);
            Checked {
                verdict: k.get_ref().clone(),
                condition: condition.to_string(),
                actual,
                met: condition.holds(actual),
            }
        })
        .collect();
    Ok(VariantReport {
        name: v.name.clone(),
        about: v.about.clone(),
        passed: expectations.iter().all(|c| c.met),
        elapsed_ms,
        topics: judged.keys().cloned().collect(),
        groups: judged.values().flatten().cloned().collect(),
        narrative: said,
        counts,
        expectations,
        examples,
        guarantee,
        clients: produced
            .iter()
            .map(ClientSummary::producer)
            .chain(consumed.iter().map(ClientSummary::consumer))
            .chain(apps.iter().map(|a| ClientSummary::app(a, &processed)))
            .collect(),
        timeline: super::timeline::timeline(&produced, &consumed, elapsed_ms),
        alerts,
    })
}

/// The ledger's verdicts for each topic (with its group): counts and
/// examples by verdict; returns the guarantee each met, in words.
fn ledger_verdicts(
    wb: &Workbench,
    judged: &BTreeMap<String, Option<String>>,
    since_ms: i64,
    counts: &mut BTreeMap<String, u64>,
    examples: &mut BTreeMap<String, Vec<String>>,
) -> anyhow::Result<Vec<String>> {
    let mut guarantee = Vec::new();
    for (topic, group) in judged {
        let verdict = wb
            .verdict(&VerdictRequest {
                topic: topic.clone(),
                group: group.clone(),
                since_ms: Some(since_ms),
                limit: Some(100),
                expect: None,
            })
            .map_err(|e| anyhow::anyhow!("verdict for {topic}: {e}"))?
            .verdict;
        for kind in FindingKind::ALL {
            *counts.entry(kind.name().to_owned()).or_default() += verdict.count(kind);
        }
        for f in &verdict.findings {
            let list = examples.entry(f.kind.name().to_owned()).or_default();
            list.extend(f.listed.iter().map(|r| {
                let key = r.key.clone().unwrap_or_else(|| "(gone)".to_owned());
                format!("{topic}/{}@{} {key}", r.partition, r.offset)
            }));
        }
        guarantee.push(format!("{topic}: {}", verdict.because));
    }
    Ok(guarantee)
}

/// `checkout-12` → (`checkout`, 12): record ids in the order they were sent.
fn natural(id: &str) -> (String, u64) {
    match id.rsplit_once('-') {
        Some((client, n)) => (client.to_owned(), n.parse().unwrap_or(u64::MAX)),
        None => (id.to_owned(), 0),
    }
}

/// Record ids listed per measure in a report, at most.
pub const EXAMPLES_MAX: usize = 10_000;

/// Acknowledged records that are not in the log at the end: read back
/// from the store, so a loss shows by record id, beside the ledger's
/// offsets.
fn missing_from_log(
    wb: &Workbench,
    topics: &BTreeMap<String, Option<String>>,
    produced: &[ProducerOutcome],
    counts: &mut BTreeMap<String, u64>,
    examples: &mut BTreeMap<String, Vec<String>>,
) -> anyhow::Result<()> {
    let mut stored: BTreeSet<String> = BTreeSet::new();
    let mut twice: BTreeSet<String> = BTreeSet::new();
    for topic in topics.keys() {
        for id in read_values(wb, topic)? {
            if !stored.insert(id.clone()) {
                twice.insert(id);
            }
        }
    }
    counts.insert("duplicate_ids_in_log".to_owned(), twice.len() as u64);
    if !twice.is_empty() {
        examples.insert(
            "duplicate_ids_in_log".to_owned(),
            twice.into_iter().collect(),
        );
    }
    let missing: Vec<String> = produced
        .iter()
        .flat_map(|p| &p.acknowledged)
        .filter(|id| !stored.contains(*id))
        .cloned()
        .collect();
    counts.insert("missing_from_log".to_owned(), missing.len() as u64);
    if !missing.is_empty() {
        examples.insert("missing_from_log".to_owned(), missing);
    }
    Ok(())
}

/// What the lab's own clients say: acknowledged records never processed,
/// records processed twice, records never acknowledged.
fn client_measures(
    produced: &[ProducerOutcome],
    consuming: bool,
    processed: &BTreeMap<String, u32>,
    counts: &mut BTreeMap<String, u64>,
    examples: &mut BTreeMap<String, Vec<String>>,
) {
    let acknowledged: BTreeSet<&String> = produced.iter().flat_map(|p| &p.acknowledged).collect();
    let unacknowledged: BTreeSet<&String> =
        produced.iter().flat_map(|p| &p.unacknowledged).collect();
    let never: Vec<String> = if !consuming {
        Vec::new()
    } else {
        acknowledged
            .iter()
            .filter(|id| !processed.contains_key(id.as_str()))
            .map(|id| (*id).clone())
            .collect()
    };
    let twice: Vec<String> = processed
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| id.clone())
        .collect();
    for (name, ids) in [
        ("never_processed", never),
        ("processed_twice", twice),
        (
            "not_acknowledged",
            unacknowledged.iter().map(|id| (*id).clone()).collect(),
        ),
    ] {
        counts.insert(name.to_owned(), ids.len() as u64);
        if !ids.is_empty() {
            examples.insert(name.to_owned(), ids);
        }
    }
}

/// Every record value of a topic, in offset order per partition.
pub(super) fn read_values(wb: &Workbench, topic: &str) -> anyhow::Result<Vec<String>> {
    let store = wb.store();
    let partitions = wb
        .topic(topic)
        .map_err(|e| anyhow::anyhow!("reading back {topic}: {e}"))?
        .partitions
        .len() as u32;
    let mut out = Vec::new();
    for p in 0..partitions {
        let (start, end) = store.offsets(topic, p)?;
        let records = pier_core::queue::read_records(&store, topic, p, start, end)
            .map_err(|e| anyhow::anyhow!("reading back {topic}/{p}: {e}"))?;
        out.extend(
            records
                .into_iter()
                .filter_map(|r| r.value.map(|v| String::from_utf8_lossy(&v).into_owned())),
        );
    }
    Ok(out)
}
