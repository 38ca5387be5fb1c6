//! Running a lab: each variant on fresh topics and groups, its clients and
//! steps on one clock, then the ledger's verdicts and the clients' own
//! records checked against the variant's expectations.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pier_workbench::NewTopic;
use pier_workbench::Workbench;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout_at};

use super::apps::AppOutcome;
use super::clients::{ConsumerOutcome, ProducerOutcome};
use super::model::{Lab, Variant};
use super::progress::{AlertRule, Progress, watch_alerts};
use super::report::{LabReport, Said, VariantReport};
use super::spawn::{Shared, spawn_consumers, spawn_producers, start_apps};
use super::steps::{Hands, run_steps};

/// Where the lab's clients connect, and the workbench that runs faults and
/// holds the ledger.
#[derive(Debug, Clone)]
pub struct Target {
    pub workbench: Workbench,
    pub kafka_addr: String,
}

/// Narrative as it happens: `(variant, milliseconds in, words)`.
pub type Say = pier_workbench::LabSay;

/// Runs every variant, one after the other.
pub async fn run_lab(target: &Target, lab: &Lab, say: Say) -> anyhow::Result<LabReport> {
    let tag = format!("{:x}", pier_workbench::now_ms() % 0x10_0000);
    let mut variants = Vec::new();
    for (i, v) in lab.variants.iter().enumerate() {
        let suffix = format!("{}-{tag}", i + 1);
        variants.push(run_variant(target, lab, v, &suffix, say.clone()).await?);
    }
    Ok(LabReport {
        lab: lab.name.get_ref().clone(),
        title: lab.title.clone(),
        concept: lab.concept.clone(),
        about: lab.about.clone(),
        passed: variants.iter().all(|v| v.passed),
        variants,
    })
}

/// The names a variant's topics and groups get: fresh for each run.
pub(super) struct Names {
    suffix: String,
}

impl Names {
    pub(super) fn of(&self, name: &str) -> String {
        format!("{name}-{}", self.suffix)
    }
}

async fn run_variant(
    target: &Target,
    lab: &Lab,
    v: &Variant,
    suffix: &str,
    say: Say,
) -> anyhow::Result<VariantReport> {
    let wb = &target.workbench;
    let names = Names {
        suffix: suffix.to_owned(),
    };
    let partitions = create_topics(wb, lab, v, &names).await?;
    wb.set_durability(v.fsync);
    let since_ms = wb.now_ms() - 1;
    let start = Instant::now();
    let deadline = start + Duration::from_millis(*v.timeout_ms.get_ref() as u64);
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    // A stopped lab (its future dropped) stops its clients too.
    let _stop_on_drop = StopOnDrop(stop.clone());
    let progress = Arc::new(Progress::default());
    let (fired_tx, fired) = tokio::sync::watch::channel(BTreeSet::new());
    let (watching, watch_stop) = tokio::sync::watch::channel(false);
    let watcher = tokio::spawn(watch_alerts(
        progress.clone(),
        alert_rules(v),
        fired_tx,
        (start, v.name.clone(), say.clone()),
        watch_stop,
    ));
    let shared = Shared {
        done: done.clone(),
        stop: stop.clone(),
        progress,
        fired,
        epoch: start,
        fixes: v
            .consumers
            .iter()
            .map(|c| (c.name.get_ref().clone(), Arc::default()))
            .collect(),
    };
    let producers = spawn_producers(target, v, &names, &partitions, &shared);
    let consumers = spawn_consumers(target, v, &names, &partitions, &shared);
    let apps = start_apps(target, lab, v, &names);
    let killers = apps
        .iter()
        .map(|(name, app)| (name.clone(), app.killer()))
        .collect();
    let hands = Hands {
        killers,
        fixes: shared.fixes.clone(),
        groups: v
            .consumers
            .iter()
            .map(|c| (c.name.get_ref().clone(), names.of(c.group.get_ref())))
            .collect(),
    };
    let steps = tokio::spawn(run_steps(
        wb.clone(),
        v.steps.clone(),
        hands,
        start,
        v.name.clone(),
        say.clone(),
    ));
    let produced = join_all(producers, deadline, &stop).await;
    let (mut said, faults) = match timeout_at(deadline, steps).await {
        Ok(Ok(r)) => r,
        _ => (Vec::new(), Vec::new()),
    };
    done.store(true, Ordering::Relaxed);
    let consumed = join_all(consumers, deadline, &stop).await;
    let _ = watching.send(true);
    let (alerts, alerts_said) = watcher.await.unwrap_or_default();
    said.extend(alerts_said);
    said.sort_by_key(|s| s.at_ms);
    let apps_done = wind_down(wb, v, &names, apps, &produced, faults, deadline).await;
    let elapsed_ms = start.elapsed().as_millis() as u64;
    say(&v.name, elapsed_ms, "clients finished; judging");
    let outcome = Outcome {
        said,
        produced,
        consumed,
        apps: apps_done,
        alerts,
    };
    super::judge::judge(wb, v, &names, since_ms, elapsed_ms, outcome)
}

/// Lets the apps finish and stops them, heals the faults still on, and
/// puts durability back.
async fn wind_down(
    wb: &Workbench,
    v: &Variant,
    names: &Names,
    apps: Vec<(String, super::apps::App)>,
    produced: &[ProducerOutcome],
    faults: Vec<u64>,
    deadline: Instant,
) -> Vec<AppOutcome> {
    if !apps.is_empty() {
        settle(wb, v, names, produced, deadline).await;
    }
    let mut done = Vec::new();
    for (_, app) in apps {
        done.push(app.stop().await);
    }
    for id in faults {
        // Faults without a duration end with the variant.
        let _ = wb.heal_fault(id).await;
    }
    wb.set_durability(true);
    done
}

/// Creates the variant's fresh topics; returns each lab topic's
/// partition count.
async fn create_topics(
    wb: &Workbench,
    lab: &Lab,
    v: &Variant,
    names: &Names,
) -> anyhow::Result<BTreeMap<String, u32>> {
    let mut partitions = BTreeMap::new();
    for t in &lab.topics {
        let name = names.of(t.name.get_ref());
        let config = v
            .topic_config
            .iter()
            .find(|(k, _)| k.get_ref() == t.name.get_ref())
            .map(|(_, c)| c.clone());
        wb.create_topic(NewTopic {
            name: name.clone(),
            partitions: Some(*t.partitions.get_ref()),
            config,
        })
        .await
        .map_err(|e| anyhow::anyhow!("creating topic {name}: {e}"))?;
        partitions.insert(t.name.get_ref().clone(), *t.partitions.get_ref());
    }
    Ok(partitions)
}

fn alert_rules(v: &Variant) -> Vec<AlertRule> {
    v.alerts
        .iter()
        .map(|a| AlertRule {
            name: a.name.get_ref().clone(),
            lag_records: *a.lag_records.get_ref() as u64,
            for_ms: *a.for_ms.get_ref() as u64,
        })
        .collect()
}

struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// What the clients did, by their own account.
pub(super) struct Outcome {
    pub said: Vec<Said>,
    pub produced: Vec<ProducerOutcome>,
    pub consumed: Vec<ConsumerOutcome>,
    pub apps: Vec<AppOutcome>,
    pub alerts: Vec<pier_workbench::LabAlert>,
}

/// Waits until the apps have written every acknowledged record to their
/// processed topics, or wrote nothing new for [`SETTLE`], or the deadline.
async fn settle(
    wb: &Workbench,
    v: &Variant,
    names: &Names,
    produced: &[ProducerOutcome],
    deadline: Instant,
) {
    let acknowledged: BTreeSet<&String> = produced.iter().flat_map(|p| &p.acknowledged).collect();
    let mut last = (0usize, Instant::now());
    while Instant::now() < deadline {
        let mut seen = BTreeSet::new();
        for a in &v.apps {
            if let Ok(values) =
                super::judge::read_values(wb, &names.of(a.processed_topic.get_ref()))
            {
                seen.extend(values);
            }
        }
        if acknowledged.iter().all(|id| seen.contains(*id)) {
            return;
        }
        if seen.len() != last.0 {
            last = (seen.len(), Instant::now());
        } else if last.1.elapsed() > SETTLE {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How long apps may write nothing new before the lab judges them.
const SETTLE: Duration = Duration::from_secs(3);

/// Waits for every task until the deadline, then tells the rest to stop.
async fn join_all<T: Send + 'static>(
    tasks: Vec<JoinHandle<T>>,
    deadline: Instant,
    stop: &Arc<AtomicBool>,
) -> Vec<T> {
    let mut out = Vec::new();
    for mut t in tasks {
        match timeout_at(deadline, &mut t).await {
            Ok(Ok(r)) => out.push(r),
            Ok(Err(e)) => tracing::warn!("a lab client failed: {e}"),
            Err(_) => {
                stop.store(true, Ordering::Relaxed);
                if let Ok(r) = t.await {
                    out.push(r);
                }
            }
        }
    }
    out
}
