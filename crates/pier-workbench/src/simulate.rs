//! Simulated clients, started from the UI to watch load balancing and
//! retries happen: producers at a rate, and consumer groups whose members
//! take time per message, fail some, or crash after a number of messages.
//! Consumers use a queue group (`sim-<name>`), so every reliability feature
//! is in play: leases, redelivery with backoff, the dead-letter topic.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::records::Compression;
use pier_core::batch::{self, NewRecord};
use pier_core::queue::{AckAction, QueueConfig};
use rand::Rng;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::{Workbench, WorkbenchError};

/// Most simulated clients at once.
/// How long a simulated client waits on a blackholed request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(1);

/// The client id network faults see for simulated producer `id`
/// (simulated consumers use their member name).
pub fn sim_producer_client_id(id: u64) -> String {
    format!("sim-producer-{id}")
}

/// Network faults for a simulated client, which has no real connection:
/// waits out latency; a reset, a refusal or a blackhole (after a request
/// timeout) is an error to retry. `Ok(true)`: the answer will be lost.
async fn network_gate(wb: &Workbench, client_id: &str, produce: bool) -> Result<bool, String> {
    let network = wb.broker().config.network.clone();
    let delay = network.latency(Some(client_id));
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if network.refuses(Some(client_id)) {
        return Err("connection refused (network fault)".to_owned());
    }
    let verdict = network.verdict(Some(client_id), false, produce);
    if verdict.close_before {
        return Err("connection reset (network fault)".to_owned());
    }
    if verdict.drop_request {
        tokio::time::sleep(REQUEST_TIMEOUT).await;
        return Err("request timed out (network fault: blackhole)".to_owned());
    }
    Ok(verdict.close_after_produce)
}

/// How long a simulated client waits before retrying after an error.
const RETRY_BACKOFF: Duration = Duration::from_millis(200);

pub const SIMULATIONS_MAX: usize = 32;

/// Start a producer that sends at a steady rate until stopped.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct NewSimProducer {
    pub topic: String,
    /// Messages per second (1–100000).
    #[schema(minimum = 1, maximum = 100_000)]
    pub rate: u32,
    /// Value size in bytes (default 100, at most 1 MiB).
    #[serde(default)]
    #[schema(maximum = 1_048_576)]
    #[ts(optional)]
    pub value_bytes: Option<u32>,
    /// Distinct keys to cycle through (default 0: no keys).
    #[serde(default)]
    #[ts(optional)]
    pub keys: Option<u32>,
}

/// Start a consumer group of simulated members over a queue group.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct NewSimConsumers {
    pub topic: String,
    /// Name of the group (the queue group is `sim-<group>`).
    #[schema(min_length = 1, max_length = 100)]
    pub group: String,
    /// Members (1–16).
    #[schema(minimum = 1, maximum = 16)]
    pub members: u32,
    /// Time each message takes (0–10000 ms).
    #[serde(default)]
    #[schema(maximum = 10_000)]
    #[ts(optional)]
    pub processing_ms: Option<u32>,
    /// Share of messages that fail and are released for retry (0–1).
    #[serde(default)]
    #[ts(optional)]
    pub failure_rate: Option<f64>,
    /// Each member crashes (stops without acknowledging what it holds)
    /// after this many messages.
    #[serde(default)]
    #[ts(optional)]
    pub crash_after: Option<u64>,
    /// Lease per message (default 5000 ms, so crashes show quickly).
    #[serde(default)]
    #[schema(minimum = 100, maximum = 3_600_000)]
    #[ts(optional)]
    pub lease_ms: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct SimMember {
    pub name: String,
    pub processed: u64,
    pub failed: u64,
    pub crashed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema, TS)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Simulation {
    Producer {
        id: u64,
        /// The client id network faults see (`sim-producer-<id>`).
        client_id: String,
        topic: String,
        rate: u32,
        sent: u64,
        error: Option<String>,
    },
    Consumers {
        id: u64,
        topic: String,
        group: String,
        queue_group: String,
        members: Vec<SimMember>,
        /// Records processed a second time because a consumer crashed
        /// after processing them but before acknowledging.
        processed_twice: u64,
        error: Option<String>,
    },
}

#[derive(Debug, Default)]
struct Counters {
    processed: AtomicU64,
    failed: AtomicU64,
    crashed: AtomicBool,
}

#[derive(Debug)]
enum Kind {
    Producer {
        topic: String,
        rate: u32,
        sent: Arc<AtomicU64>,
    },
    Consumers {
        topic: String,
        group: String,
        members: Vec<(String, Arc<Counters>)>,
        twice: Arc<Twice>,
    },
}

/// Records processed by a consumer that crashed before acknowledging
/// them, to count the ones processed again.
#[derive(Debug, Default)]
struct Twice {
    unacked: Mutex<std::collections::BTreeSet<(u32, u64)>>,
    count: AtomicU64,
}

impl Twice {
    fn remember(&self, partition: u32, offset: u64) {
        self.unacked
            .lock()
            .expect("twice lock")
            .insert((partition, offset));
    }

    fn seen_again(&self, partition: u32, offset: u64) -> bool {
        self.unacked
            .lock()
            .expect("twice lock")
            .remove(&(partition, offset))
    }
}

#[derive(Debug)]
struct Running {
    kind: Kind,
    stop: Arc<AtomicBool>,
    error: Arc<Mutex<Option<String>>>,
}

#[derive(Debug, Default)]
pub(crate) struct Simulations {
    next_id: u64,
    running: BTreeMap<u64, Running>,
}

impl Workbench {
    fn check_room(&self) -> Result<u64, WorkbenchError> {
        let mut sims = self.sims.lock().expect("sims lock");
        if sims.running.len() >= SIMULATIONS_MAX {
            return Err(WorkbenchError::conflict(format!(
                "at most {SIMULATIONS_MAX} simulations at once; stop one first"
            )));
        }
        sims.next_id += 1;
        Ok(sims.next_id)
    }

    pub fn start_producer(&self, req: NewSimProducer) -> Result<Simulation, WorkbenchError> {
        if !(1..=100_000).contains(&req.rate) {
            return Err(WorkbenchError::invalid(format!(
                "rate must be 1..=100000 messages per second, got {}",
                req.rate
            )));
        }
        let size = req.value_bytes.unwrap_or(100);
        if size > 1_048_576 {
            return Err(WorkbenchError::invalid(
                "value_bytes must be at most 1048576",
            ));
        }
        let partitions = self.topic(&req.topic)?.partitions.len() as u32;
        if pier_core::topic::is_internal(&req.topic) {
            return Err(WorkbenchError::invalid("internal topics cannot be written"));
        }
        let id = self.check_room()?;
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let error = Arc::new(Mutex::new(None));
        let (wb, topic, keys) = (self.clone(), req.topic.clone(), req.keys.unwrap_or(0));
        let client_id = sim_producer_client_id(id);
        let (stop2, sent2, error2, rate) = (stop.clone(), sent.clone(), error.clone(), req.rate);
        tokio::spawn(async move {
            let value = Bytes::from(vec![b'x'; size as usize]);
            let tick = Duration::from_millis(100);
            let mut interval = tokio::time::interval(tick);
            let mut carry = 0.0f64;
            let mut seq: u64 = 0;
            let mut attempt = wb.next_connection_id();
            while !stop2.load(Ordering::Relaxed) {
                interval.tick().await;
                carry += f64::from(rate) / 10.0;
                let n = carry.floor() as u64;
                carry -= n as f64;
                if n == 0 {
                    continue;
                }
                let now = wb.now_ms();
                let mut by_partition: BTreeMap<u32, Vec<NewRecord>> = BTreeMap::new();
                for _ in 0..n {
                    let key =
                        (keys > 0).then(|| Bytes::from(format!("key-{}", seq % u64::from(keys))));
                    let partition = (seq % u64::from(partitions)) as u32;
                    by_partition.entry(partition).or_default().push(NewRecord {
                        key,
                        value: Some(value.clone()),
                        headers: Vec::new(),
                        timestamp_ms: now,
                    });
                    seq += 1;
                }
                for (p, records) in by_partition {
                    let count = records.len() as u64;
                    let batch = batch::build(&records, Compression::None, None);
                    // Like a real producer: retry until acknowledged (the
                    // broker may be restarting), or stop.
                    while !stop2.load(Ordering::Relaxed) {
                        let lose_ack = match network_gate(&wb, &client_id, true).await {
                            Ok(lose_ack) => lose_ack,
                            Err(e) => {
                                *error2.lock().expect("error lock") = Some(e);
                                tokio::time::sleep(RETRY_BACKOFF).await;
                                continue;
                            }
                        };
                        let stored = wb.store().append(&topic, p, batch.clone()).await;
                        if let Ok(done) = &stored {
                            wb.note_produced(&topic, p, done, &batch, &client_id, attempt);
                        }
                        match stored {
                            Ok(_) if lose_ack => {
                                // Stored, but the producer never hears so:
                                // it sends again (a duplicate, since
                                // simulated producers are not idempotent),
                                // as a client would: on a new connection.
                                attempt = wb.next_connection_id();
                                *error2.lock().expect("error lock") = Some(
                                    "acknowledgement lost (network fault); sending again"
                                        .to_owned(),
                                );
                                tokio::time::sleep(RETRY_BACKOFF).await;
                            }
                            Ok(_) => {
                                sent2.fetch_add(count, Ordering::Relaxed);
                                *error2.lock().expect("error lock") = None;
                                break;
                            }
                            Err(e) => {
                                *error2.lock().expect("error lock") = Some(e.to_string());
                                tokio::time::sleep(RETRY_BACKOFF).await;
                            }
                        }
                    }
                }
            }
        });
        self.sims.lock().expect("sims lock").running.insert(
            id,
            Running {
                kind: Kind::Producer {
                    topic: req.topic,
                    rate: req.rate,
                    sent,
                },
                stop,
                error,
            },
        );
        self.simulation(id)
    }

    pub async fn start_consumers(
        &self,
        req: NewSimConsumers,
    ) -> Result<Simulation, WorkbenchError> {
        if !(1..=16).contains(&req.members) {
            return Err(WorkbenchError::invalid(format!(
                "members must be 1..=16, got {}",
                req.members
            )));
        }
        let processing = req.processing_ms.unwrap_or(10);
        if processing > 10_000 {
            return Err(WorkbenchError::invalid(
                "processing_ms must be at most 10000",
            ));
        }
        let failure = req.failure_rate.unwrap_or(0.0);
        if !(0.0..=1.0).contains(&failure) {
            return Err(WorkbenchError::invalid(format!(
                "failure_rate must be between 0 and 1, got {failure}"
            )));
        }
        if req.group.is_empty() || req.group.len() > 100 {
            return Err(WorkbenchError::invalid("group names are 1–100 characters"));
        }
        let lease_ms = req.lease_ms.unwrap_or(5_000);
        let queue_group = format!("sim-{}", req.group);
        let queues = self.broker().queues.clone();
        let wb = self.clone();
        if queues.config(&queue_group).is_none() {
            let config = QueueConfig {
                lease_ms,
                backoff_base_ms: 200,
                backoff_max_ms: 5_000,
                ..QueueConfig::new(&req.topic)
            };
            queues.configure(&queue_group, config).await?;
        } else if queues
            .config(&queue_group)
            .is_some_and(|c| c.topic != req.topic)
        {
            return Err(WorkbenchError::conflict(format!(
                "group {:?} already consumes another topic",
                req.group
            )));
        }
        let id = self.check_room()?;
        let stop = Arc::new(AtomicBool::new(false));
        let error = Arc::new(Mutex::new(None));
        let mut members = Vec::new();
        let twice = Arc::new(Twice::default());
        for m in 0..req.members {
            let name = format!("{}-{}", req.group, m + 1);
            let counters = Arc::new(Counters::default());
            members.push((name.clone(), counters.clone()));
            let (wb, group, stop, error) =
                (wb.clone(), queue_group.clone(), stop.clone(), error.clone());
            let (topic, twice) = (req.topic.clone(), twice.clone());
            let crash_after = req.crash_after;
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if let Err(e) = network_gate(&wb, &name, false).await {
                        *error.lock().expect("error lock") = Some(e);
                        tokio::time::sleep(RETRY_BACKOFF).await;
                        continue;
                    }
                    // The broker running now (it may have restarted).
                    let queues = wb.broker().queues.clone();
                    let got = match queues
                        .receive(&group, &name, 10, None, Duration::from_millis(500))
                        .await
                    {
                        Ok(got) => {
                            *error.lock().expect("error lock") = None;
                            got
                        }
                        Err(e) => {
                            *error.lock().expect("error lock") = Some(e.to_string());
                            tokio::time::sleep(RETRY_BACKOFF).await;
                            continue;
                        }
                    };
                    if wb.consumer_faults().take_kill(&name) {
                        // Killed mid-batch: what it holds comes back when
                        // the leases run out.
                        counters.crashed.store(true, Ordering::Relaxed);
                        return;
                    }
                    let crash_before_ack = wb.consumer_faults().take_crash_before_ack(&name);
                    for d in got {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        if crash_after
                            .is_some_and(|n| counters.processed.load(Ordering::Relaxed) >= n)
                        {
                            // Gone without a word: its leases run out.
                            counters.crashed.store(true, Ordering::Relaxed);
                            return;
                        }
                        let (extra, poison) = {
                            let faults = wb.consumer_faults();
                            (
                                faults.extra_delay_ms(&name),
                                faults.is_poison(&topic, d.offset),
                            )
                        };
                        let took = u64::from(processing) + extra;
                        if took > 0 {
                            tokio::time::sleep(Duration::from_millis(took)).await;
                        }
                        // The work is done (its side effects happened):
                        // seen before means it was done twice.
                        if twice.seen_again(d.partition, d.offset) {
                            twice.count.fetch_add(1, Ordering::Relaxed);
                        }
                        if crash_before_ack {
                            counters.processed.fetch_add(1, Ordering::Relaxed);
                            twice.remember(d.partition, d.offset);
                            continue;
                        }
                        let fail =
                            poison || (failure > 0.0 && rand::rng().random::<f64>() < failure);
                        let action = if fail {
                            AckAction::Release { delay_ms: None }
                        } else {
                            AckAction::Accept
                        };
                        let acked = queues
                            .acknowledge(
                                &group,
                                &name,
                                vec![(d.partition, d.offset, Some(d.delivery), action)],
                            )
                            .await;
                        match acked {
                            Ok(r) if r.first().is_some_and(Result::is_ok) => {
                                let counter = if fail {
                                    &counters.failed
                                } else {
                                    &counters.processed
                                };
                                counter.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(_) => {}
                            Err(e) => {
                                // The lease will run out and the record
                                // come back; carry on like a real client.
                                *error.lock().expect("error lock") = Some(e.to_string());
                                tokio::time::sleep(RETRY_BACKOFF).await;
                                break;
                            }
                        }
                    }
                    if crash_before_ack {
                        // Processed, never acknowledged: it all comes back.
                        counters.crashed.store(true, Ordering::Relaxed);
                        return;
                    }
                }
                let _ = wb.broker().queues.leave(&group, &name).await;
            });
        }
        self.sims.lock().expect("sims lock").running.insert(
            id,
            Running {
                kind: Kind::Consumers {
                    topic: req.topic,
                    group: req.group,
                    members,
                    twice,
                },
                stop,
                error,
            },
        );
        self.simulation(id)
    }

    fn simulation(&self, id: u64) -> Result<Simulation, WorkbenchError> {
        let sims = self.sims.lock().expect("sims lock");
        let r = sims
            .running
            .get(&id)
            .ok_or_else(|| WorkbenchError::not_found(format!("no simulation {id}")))?;
        Ok(describe(id, r))
    }

    /// Names of simulated consumers running now (not crashed).
    pub(crate) fn live_sim_members(&self) -> Vec<String> {
        let sims = self.sims.lock().expect("sims lock");
        sims.running
            .values()
            .filter_map(|r| match &r.kind {
                Kind::Consumers { members, .. } => Some(members),
                Kind::Producer { .. } => None,
            })
            .flatten()
            .filter(|(_, c)| !c.crashed.load(Ordering::Relaxed))
            .map(|(name, _)| name.clone())
            .collect()
    }

    pub fn simulations(&self) -> Vec<Simulation> {
        let sims = self.sims.lock().expect("sims lock");
        sims.running
            .iter()
            .map(|(id, r)| describe(*id, r))
            .collect()
    }

    /// Stops a simulation; its consumers leave their group.
    pub fn stop_simulation(&self, id: u64) -> Result<(), WorkbenchError> {
        let mut sims = self.sims.lock().expect("sims lock");
        let r = sims
            .running
            .remove(&id)
            .ok_or_else(|| WorkbenchError::not_found(format!("no simulation {id}")))?;
        r.stop.store(true, Ordering::Relaxed);
        Ok(())
    }
}

fn describe(id: u64, r: &Running) -> Simulation {
    let error = r.error.lock().expect("error lock").clone();
    match &r.kind {
        Kind::Producer { topic, rate, sent } => Simulation::Producer {
            id,
            client_id: sim_producer_client_id(id),
            topic: topic.clone(),
            rate: *rate,
            sent: sent.load(Ordering::Relaxed),
            error,
        },
        Kind::Consumers {
            topic,
            group,
            members,
            twice,
        } => Simulation::Consumers {
            id,
            topic: topic.clone(),
            group: group.clone(),
            queue_group: format!("sim-{group}"),
            members: members
                .iter()
                .map(|(name, c)| SimMember {
                    name: name.clone(),
                    processed: c.processed.load(Ordering::Relaxed),
                    failed: c.failed.load(Ordering::Relaxed),
                    crashed: c.crashed.load(Ordering::Relaxed),
                })
                .collect(),
            processed_twice: twice.count.load(Ordering::Relaxed),
            error,
        },
    }
}
