//! Starting a variant's clients: producers, consumers of every kind
//! (each when it is due, or when its alert fires), and the user's apps.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::apps::{App, AppRun, topic_variable};
use super::clients::{
    ConsumerOutcome, ConsumerRun, ProducerOutcome, ProducerRun, consume, produce,
};
use super::model::{Commit, ConsumerKind, ConsumerSpec, Lab, Variant};
use super::progress::{Fired, Progress};
use super::queue_consumer::{QueueRun, consume_queue};
use super::run::{Names, Target};

pub(super) fn client_id(name: &str) -> String {
    format!("lab-{name}")
}

/// What a variant's clients share: when to stop, how far they got, which
/// alerts fired, and the variant's clock.
pub(super) struct Shared {
    pub done: Arc<AtomicBool>,
    pub stop: Arc<AtomicBool>,
    pub progress: Arc<Progress>,
    pub fired: Fired,
    pub epoch: Instant,
    /// Per queue or share consumer: its fix is deployed.
    pub fixes: BTreeMap<String, Arc<AtomicBool>>,
}

pub(super) fn start_apps(
    target: &Target,
    lab: &Lab,
    v: &Variant,
    names: &Names,
) -> Vec<(String, App)> {
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

pub(super) fn spawn_producers(
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

pub(super) fn spawn_consumers(
    target: &Target,
    v: &Variant,
    names: &Names,
    partitions: &BTreeMap<String, u32>,
    shared: &Shared,
) -> Vec<JoinHandle<ConsumerOutcome>> {
    v.consumers
        .iter()
        .map(|c| {
            let run = consumer_run(target, c, names, partitions, shared);
            let start = Start {
                after: Duration::from_millis(*c.start_ms.get_ref() as u64),
                on_alert: c.start_on_alert.as_ref().map(|a| a.get_ref().clone()),
                fired: shared.fired.clone(),
                progress: shared.progress.clone(),
                done: shared.done.clone(),
                stop: shared.stop.clone(),
            };
            spawn_consumer(target, c, run, shared, start)
        })
        .collect()
}

fn ms(v: &Option<toml::Spanned<i64>>, default: i64) -> Duration {
    Duration::from_millis(v.as_ref().map_or(default, |x| *x.get_ref()) as u64)
}

/// What a consumer of the lab file is asked to do, in its variant.
fn consumer_run(
    target: &Target,
    c: &ConsumerSpec,
    names: &Names,
    partitions: &BTreeMap<String, u32>,
    shared: &Shared,
) -> ConsumerRun {
    ConsumerRun {
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
    }
}

/// Starts one consumer of its kind, when `start` says.
fn spawn_consumer(
    target: &Target,
    c: &ConsumerSpec,
    run: ConsumerRun,
    shared: &Shared,
    start: Start,
) -> JoinHandle<ConsumerOutcome> {
    let (done, stop) = (shared.done.clone(), shared.stop.clone());
    let name = run.name.clone();
    let wb = target.workbench.clone();
    match c.kind {
        ConsumerKind::Classic => tokio::spawn(start.then(name, consume(run, done, stop, None))),
        ConsumerKind::Group => {
            let (group, count) = (run.group.clone(), run.partitions as usize);
            let caught_up: super::consumer::CaughtUp = Arc::new(move || {
                wb.group(&group)
                    .is_ok_and(|g| g.lag.len() >= count && g.total_lag == 0)
            });
            tokio::spawn(start.then(name, consume(run, done, stop, Some(caught_up))))
        }
        ConsumerKind::Queue | ConsumerKind::Share => {
            let q = QueueRun {
                base: run,
                lease: ms(&c.lease_ms, 1_000),
                max_deliveries: c.max_deliveries.as_ref().map_or(5, |x| *x.get_ref() as u32),
                backoff: ms(&c.backoff_ms, 100),
                poison_every: c.poison_every.as_ref().map(|x| *x.get_ref() as u64),
                fixed: shared
                    .fixes
                    .get(c.name.get_ref())
                    .cloned()
                    .unwrap_or_default(),
            };
            if c.kind == ConsumerKind::Queue {
                return tokio::spawn(start.then(name, consume_queue(wb, q, done, stop)));
            }
            tokio::spawn(start.then(name.clone(), share(wb, q, name, done, stop)))
        }
    }
}

/// A share consumer, once its group's settings are in place.
async fn share(
    wb: pier_workbench::Workbench,
    q: QueueRun,
    name: String,
    done: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> ConsumerOutcome {
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
