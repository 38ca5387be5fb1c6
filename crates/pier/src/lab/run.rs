//! Running a lab: each variant on fresh topics and groups, its clients and
//! steps on one clock, then the ledger's verdicts and the clients' own
//! records checked against the variant's expectations.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pier_core::faults::FaultRequest;
use pier_workbench::NewTopic;
use pier_workbench::Workbench;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until, timeout_at};

use super::apps::{App, AppOutcome, AppRun, topic_variable};
use super::clients::{
    ConsumerOutcome, ConsumerRun, ProducerOutcome, ProducerRun, consume, produce,
};
use super::model::{Commit, ConsumerKind, Lab, Step, Variant};
use super::progress::{AlertRule, Fired, Progress, watch_alerts};
use super::queue_consumer::{QueueRun, consume_queue};
use super::report::{LabReport, Said, VariantReport};

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

fn client_id(name: &str) -> String {
    format!("lab-{name}")
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
    let rules = v
        .alerts
        .iter()
        .map(|a| AlertRule {
            name: a.name.get_ref().clone(),
            lag_records: *a.lag_records.get_ref() as u64,
            for_ms: *a.for_ms.get_ref() as u64,
        })
        .collect();
    let watcher = tokio::spawn(watch_alerts(
        progress.clone(),
        rules,
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
    if !apps.is_empty() {
        settle(wb, v, &names, &produced, deadline).await;
    }
    let mut apps_done = Vec::new();
    for (_, app) in apps {
        apps_done.push(app.stop().await);
    }
    for id in faults {
        // Faults without a duration end with the variant.
        let _ = wb.heal_fault(id).await;
    }
    wb.set_durability(true);
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

/// What a variant's clients share: when to stop, how far they got, which
/// alerts fired, and the variant's clock.
struct Shared {
    done: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    progress: Arc<Progress>,
    fired: Fired,
    epoch: Instant,
    /// Per queue or share consumer: its fix is deployed.
    fixes: BTreeMap<String, Arc<AtomicBool>>,
}

fn start_apps(target: &Target, lab: &Lab, v: &Variant, names: &Names) -> Vec<(String, App)> {
    v.apps
        .iter()
        .map(|a| {
            let mut env: BTreeMap<String, String> = lab
                .topics
                .iter()
                .map(|t| (topic_variable(t.name.get_ref()), names.of(t.name.get_ref())))
                .collect();
            env.insert("PIER_BOOTSTRAP".into(), target.kafka_addr.clone());
            env.insert("PIER_CLIENT_ID".into(), client_id(a.name.get_ref()));
            env.insert("PIER_GROUP".into(), names.of(a.group.get_ref()));
            env.insert("PIER_TOPIC".into(), names.of(a.topic.get_ref()));
            env.insert(
                "PIER_PROCESSED_TOPIC".into(),
                names.of(a.processed_topic.get_ref()),
            );
            let run = AppRun {
                name: a.name.get_ref().clone(),
                command: a.command.get_ref().clone(),
                dir: lab.dir.clone(),
                env,
                restart_after: Duration::from_millis(*a.restart_after_ms.get_ref() as u64),
            };
            (a.name.get_ref().clone(), App::start(run))
        })
        .collect()
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

fn spawn_producers(
    target: &Target,
    v: &Variant,
    names: &Names,
    partitions: &BTreeMap<String, u32>,
    shared: &Shared,
) -> Vec<JoinHandle<ProducerOutcome>> {
    v.producers
        .iter()
        .map(|p| {
            let run = ProducerRun {
                name: p.name.get_ref().clone(),
                id_prefix: p
                    .id_prefix
                    .as_ref()
                    .map_or_else(|| p.name.get_ref().clone(), |x| x.get_ref().clone()),
                first_id: *p.first_id.get_ref() as u64,
                start_after: Duration::from_millis(*p.start_ms.get_ref() as u64),
                client_id: client_id(p.name.get_ref()),
                addr: target.kafka_addr.clone(),
                topic: names.of(p.topic.get_ref()),
                partitions: partitions[p.topic.get_ref()],
                records: *p.records.get_ref() as u64,
                rate: *p.rate.get_ref() as u64,
                batch: *p.batch.get_ref() as u64,
                acks: match p.acks.get_ref().as_str() {
                    "0" => 0,
                    "1" => 1,
                    _ => -1,
                },
                idempotence: p.idempotence,
                request_timeout: Duration::from_millis(*p.request_timeout_ms.get_ref() as u64),
                delivery_timeout: Duration::from_millis(*p.delivery_timeout_ms.get_ref() as u64),
                max_in_flight: *p.max_in_flight.get_ref() as usize,
                epoch: shared.epoch,
                progress: shared.progress.clone(),
            };
            tokio::spawn(produce(run, shared.stop.clone()))
        })
        .collect()
}

fn spawn_consumers(
    target: &Target,
    v: &Variant,
    names: &Names,
    partitions: &BTreeMap<String, u32>,
    shared: &Shared,
) -> Vec<JoinHandle<ConsumerOutcome>> {
    let (done, stop) = (&shared.done, &shared.stop);
    let ms = |v: &Option<toml::Spanned<i64>>, default: i64| {
        Duration::from_millis(v.as_ref().map_or(default, |x| *x.get_ref()) as u64)
    };
    v.consumers
        .iter()
        .map(|c| {
            let run = ConsumerRun {
                name: c.name.get_ref().clone(),
                client_id: client_id(c.name.get_ref()),
                addr: target.kafka_addr.clone(),
                topic: names.of(c.topic.get_ref()),
                group: names.of(c.group.get_ref()),
                partitions: partitions[c.topic.get_ref()],
                commit: c
                    .commit
                    .as_ref()
                    .map_or(Commit::AfterProcessing, |x| *x.get_ref()),
                processing: Duration::from_millis(*c.processing_ms.get_ref() as u64),
                max_poll_records: *c.max_poll_records.get_ref() as usize,
                crash_after: c.crash_after.as_ref().map(|n| *n.get_ref() as u64),
                restart_after: Duration::from_millis(*c.restart_after_ms.get_ref() as u64),
                restart: c.restart,
                member: c.kind == ConsumerKind::Group,
                session_timeout: ms(&c.session_timeout_ms, 6_000),
                epoch: shared.epoch,
                progress: shared.progress.clone(),
            };
            let start = Start {
                after: Duration::from_millis(*c.start_ms.get_ref() as u64),
                on_alert: c.start_on_alert.as_ref().map(|a| a.get_ref().clone()),
                fired: shared.fired.clone(),
                progress: shared.progress.clone(),
                done: done.clone(),
                stop: stop.clone(),
            };
            let name = run.name.clone();
            match c.kind {
                ConsumerKind::Classic => {
                    tokio::spawn(start.then(name, consume(run, done.clone(), stop.clone(), None)))
                }
                ConsumerKind::Group => {
                    let wb = target.workbench.clone();
                    let (group, count) = (run.group.clone(), run.partitions as usize);
                    let caught_up: super::consumer::CaughtUp = Arc::new(move || {
                        wb.group(&group)
                            .is_ok_and(|g| g.lag.len() >= count && g.total_lag == 0)
                    });
                    tokio::spawn(start.then(
                        name,
                        consume(run, done.clone(), stop.clone(), Some(caught_up)),
                    ))
                }
                ConsumerKind::Queue | ConsumerKind::Share => {
                    let q = QueueRun {
                        base: run,
                        lease: ms(&c.lease_ms, 1_000),
                        max_deliveries: c
                            .max_deliveries
                            .as_ref()
                            .map_or(5, |x| *x.get_ref() as u32),
                        backoff: ms(&c.backoff_ms, 100),
                        poison_every: c.poison_every.as_ref().map(|x| *x.get_ref() as u64),
                        fixed: shared
                            .fixes
                            .get(c.name.get_ref())
                            .cloned()
                            .unwrap_or_default(),
                    };
                    let wb = target.workbench.clone();
                    if c.kind == ConsumerKind::Queue {
                        return tokio::spawn(
                            start.then(name, consume_queue(wb, q, done.clone(), stop.clone())),
                        );
                    }
                    let (done, stop) = (done.clone(), stop.clone());
                    tokio::spawn(start.then(name.clone(), async move {
                        if let Err(e) = super::queue_consumer::configure(&wb, &q).await {
                            return ConsumerOutcome {
                                name,
                                errors: vec![e],
                                ..ConsumerOutcome::default()
                            };
                        }
                        let group = q.base.group.clone();
                        let base = q.base.clone();
                        super::share_consumer::consume_share(
                            base,
                            move |id| q.fails(id),
                            move || super::queue_consumer::drained(&wb, &group),
                            done,
                            stop,
                        )
                        .await
                    }))
                }
            }
        })
        .collect()
}

/// When a consumer starts: after a delay, and when an alert fired.
struct Start {
    after: Duration,
    on_alert: Option<String>,
    fired: Fired,
    progress: Arc<Progress>,
    done: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl Start {
    /// Runs `consumer` once it is time; a consumer whose alert never
    /// fires (the lag was drained or the lab stopped) never starts.
    async fn then(
        self,
        name: String,
        consumer: impl std::future::Future<Output = ConsumerOutcome>,
    ) -> ConsumerOutcome {
        tokio::time::sleep(self.after).await;
        if let Some(alert) = &self.on_alert {
            let give_up = async {
                loop {
                    let drained = self.done.load(Ordering::Relaxed) && self.progress.lag() == 0;
                    if drained || self.stop.load(Ordering::Relaxed) {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            };
            tokio::select! {
                () = super::progress::fired(self.fired.clone(), alert) => {}
                () = give_up => return ConsumerOutcome { name, ..ConsumerOutcome::default() },
            }
        }
        consumer.await
    }
}

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

/// Runs the steps at their times; returns what was said and the faults
/// started (to heal those still on at the end).
/// What steps act on besides faults: apps to kill, consumers to fix,
/// groups whose dead letters to replay.
struct Hands {
    killers: BTreeMap<String, tokio::sync::mpsc::UnboundedSender<()>>,
    fixes: BTreeMap<String, Arc<AtomicBool>>,
    groups: BTreeMap<String, String>,
}

async fn run_steps(
    wb: Workbench,
    steps: Vec<Step>,
    hands: Hands,
    start: Instant,
    variant: String,
    say: Say,
) -> (Vec<Said>, Vec<u64>) {
    let mut said = Vec::new();
    let mut faults = Vec::new();
    let mut steps = steps;
    steps.sort_by_key(|s| *s.at_ms.get_ref());
    for s in steps {
        let at_ms = *s.at_ms.get_ref() as u64;
        sleep_until(start + Duration::from_millis(at_ms)).await;
        let mut text = s.say.clone();
        if let Some(f) = &s.fault {
            let req = FaultRequest {
                kind: f.kind.get_ref().clone(),
                params: (!f.params.is_empty()).then(|| f.params.clone()),
                duration_ms: f.duration_ms,
                client_id: f.client.as_ref().map(|c| client_id(c.get_ref())),
                member: None,
                topic: None,
            };
            let outcome = match wb.start_fault(req).await {
                Ok(started) => {
                    faults.push(started.fault.id);
                    format!("fault {} started", f.kind.get_ref())
                }
                Err(e) => format!("fault {} could not start: {e}", f.kind.get_ref()),
            };
            text = if text.is_empty() {
                outcome
            } else {
                format!("{text} ({outcome})")
            };
        }
        let mut outcomes = Vec::new();
        if let Some(app) = &s.kill {
            outcomes.push(match hands.killers.get(app.get_ref()) {
                Some(k) if k.send(()).is_ok() => format!("app {} killed (kill -9)", app.get_ref()),
                _ => format!("app {} was not running", app.get_ref()),
            });
        }
        if let Some(c) = &s.fix
            && let Some(fixed) = hands.fixes.get(c.get_ref())
        {
            fixed.store(true, Ordering::Relaxed);
            outcomes.push(format!("{}'s fix deployed", c.get_ref()));
        }
        if let Some(c) = &s.replay
            && let Some(group) = hands.groups.get(c.get_ref())
        {
            let req = pier_workbench::ReplayRequest {
                from_offset: None,
                max_records: None,
            };
            outcomes.push(match wb.replay_dead_letters(group, req).await {
                Ok(r) => format!("{} dead letters replayed", r.replayed),
                Err(e) => format!("replay failed: {e}"),
            });
        }
        for outcome in outcomes {
            text = if text.is_empty() {
                outcome
            } else {
                format!("{text} ({outcome})")
            };
        }
        say(&variant, start.elapsed().as_millis() as u64, &text);
        said.push(Said { at_ms, text });
    }
    (said, faults)
}
