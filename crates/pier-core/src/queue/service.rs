//! [`Queues`]: queue groups made durable and usable.
//!
//! Order of work for every operation: under `order` (an async lock), change
//! the in-memory state (a short std lock) and queue the resulting events as
//! one append to [`QUEUE_STATE_TOPIC`]; then, outside the lock, wait until
//! that append is durable before answering. The writer applies appends in
//! queue order, so the log's order is the order changes were made, and a
//! replay rebuilds exactly the state clients were told about.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::records::{Compression, Record};
use rand::{Rng, SeedableRng};
use serde::Serialize;
use tokio::sync::Notify;

use super::config::{LEASE_MAX_MS, MEMBER_TIMEOUT_MS, QueueConfig, RECEIVE_MAX_RECORDS};
use super::replay::{self, replay};
use super::state::{AckAction, AckError, Event, Lease, QueueCounters, QueueGroup};
use crate::batch::{self, NewRecord};
use crate::clock::SharedClock;
use crate::store::{AdminError, AppendError, Store};
use crate::topic::TopicConfig;

/// Internal topic holding every queue event (one partition).
pub const QUEUE_STATE_TOPIC: &str = "__pier_queues";

/// After this many appends to the state log, a snapshot is written and the
/// log before it deleted, so the log (and its in-memory index) stays small.
pub const SNAPSHOT_EVERY_APPENDS: u64 = 10_000;

/// Headers added to a dead-lettered copy.
pub const DLQ_HEADERS: [&str; 6] = [
    "pier-dlq-topic",
    "pier-dlq-partition",
    "pier-dlq-offset",
    "pier-dlq-deliveries",
    "pier-dlq-reason",
    "pier-dlq-group",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    #[error("unknown queue group {0:?}")]
    UnknownGroup(String),
    #[error("unknown topic {0:?}")]
    UnknownTopic(String),
    #[error("queue group {group:?} consumes topic {has:?}, not {asked:?}")]
    OtherTopic {
        group: String,
        has: String,
        asked: String,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// The state log holds an event that cannot be read. Nothing was
    /// skipped: the open stops here.
    #[error(
        "unreadable queue event in topic {QUEUE_STATE_TOPIC:?} partition 0 at offset {offset}{}: {reason}. \
         Nothing was skipped; `pier repair --data-dir <dir>` drops it and reports what that loses",
        .group.as_ref().map(|g| format!(" (group {g:?})")).unwrap_or_default()
    )]
    Unreadable {
        offset: u64,
        group: Option<String>,
        reason: String,
    },
}

impl From<AppendError> for QueueError {
    fn from(e: AppendError) -> Self {
        QueueError::Unavailable(e.to_string())
    }
}

impl From<AdminError> for QueueError {
    fn from(e: AdminError) -> Self {
        QueueError::Unavailable(e.to_string())
    }
}

/// A leased record with its payload.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub partition: u32,
    pub offset: u64,
    /// 1 on the first delivery.
    pub delivery: u32,
    pub lease_deadline_ms: i64,
    pub record: Record,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueMemberSummary {
    pub member: String,
    pub in_flight: u32,
    pub last_seen_ms: i64,
}

/// A queue group at a glance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueSummary {
    pub group: String,
    pub config: QueueConfig,
    pub members: Vec<QueueMemberSummary>,
    /// Records leased right now.
    pub in_flight: u64,
    /// Records waiting for a redelivery (backoff or delay).
    pub waiting: u64,
    /// Records never delivered yet (up to the high watermarks).
    pub backlog: u64,
    /// Decided for the dead-letter topic, copy not yet written.
    pub dead_letter_pending: u64,
    /// Records in the dead-letter topic.
    pub dead_letter_depth: u64,
    pub counters: QueueCounters,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) store: Store,
    pub(crate) clock: SharedClock,
    pub(crate) groups: Mutex<BTreeMap<String, QueueGroup>>,
    pub(crate) order: tokio::sync::Mutex<()>,
    pub(crate) dead_letters: tokio::sync::Mutex<()>,
    pub(crate) rng: Mutex<rand::rngs::StdRng>,
    pub(crate) wake: Notify,
    pub(crate) appends_since_snapshot: std::sync::atomic::AtomicU64,
    /// Told every logged event, once it is durable.
    pub(crate) ledger: std::sync::OnceLock<Arc<crate::ledger::Ledger>>,
}

/// The queue groups of one store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Queues {
    inner: Arc<Inner>,
}

/// Decoded records of `topic/partition` with offsets in `from..to`.
pub fn read_records(
    store: &Store,
    topic: &str,
    partition: u32,
    from: u64,
    to: u64,
) -> Result<Vec<Record>, QueueError> {
    let mut next = from;
    let bad = |e: String, at: u64| {
        QueueError::Unavailable(format!("reading {topic}/{partition} at offset {at}: {e}"))
    };
    let mut out = Vec::new();
    while next < to {
        let read = store
            .read(topic, partition, next, 1 << 20)
            .map_err(|e| bad(e.to_string(), next))?;
        let before = out.len();
        for b in batch::split_batches(read.records).map_err(|e| bad(e.to_string(), next))? {
            let base = batch::base_offset_of(&b) as u64;
            for r in batch::decode_records(&b).map_err(|e| bad(e.to_string(), base))? {
                let o = r.offset as u64;
                if o >= next && o < to {
                    next = o + 1;
                    out.push(r);
                }
            }
        }
        if out.len() == before {
            break;
        }
    }
    Ok(out)
}

pub(crate) fn encode(events: &[Event], now_ms: i64) -> Bytes {
    let records: Vec<NewRecord> = events
        .iter()
        .map(|e| NewRecord {
            key: Some(Bytes::from(e.group().to_owned())),
            value: Some(Bytes::from(
                serde_json::to_vec(e).expect("events serialize"),
            )),
            headers: Vec::new(),
            timestamp_ms: now_ms,
        })
        .collect();
    batch::build(&records, Compression::None, None)
}

impl Queues {
    /// Opens the queue groups of `store`: creates the internal topic if
    /// needed and replays it. An event that cannot be read stops the open
    /// with [`QueueError::Unreadable`]; [`Queues::repair`] is the way past.
    pub async fn open(store: Store, clock: SharedClock) -> Result<Self, QueueError> {
        Self::ensure_state_topic(&store).await?;
        let (groups, _) = replay::load(&store, replay::OnUnreadable::Fail)?;
        Ok(Self::from_groups(store, clock, groups))
    }

    pub(crate) async fn ensure_state_topic(store: &Store) -> Result<(), QueueError> {
        if store.has_topic(QUEUE_STATE_TOPIC) {
            return Ok(());
        }
        // Kept forever (compaction trims it) and big enough for snapshots.
        let config = TopicConfig {
            retention_ms: -1,
            retention_bytes: -1,
            max_message_bytes: crate::topic::MAX_MESSAGE_BYTES_LIMIT,
            ..TopicConfig::default()
        };
        match store.create_topic(QUEUE_STATE_TOPIC, 1, config).await {
            Ok(_) | Err(AdminError::Topic(crate::topic::TopicError::AlreadyExists(_))) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) fn from_groups(
        store: Store,
        clock: SharedClock,
        groups: BTreeMap<String, QueueGroup>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                clock,
                groups: Mutex::new(groups),
                order: tokio::sync::Mutex::new(()),
                dead_letters: tokio::sync::Mutex::new(()),
                rng: Mutex::new(rand::rngs::StdRng::from_os_rng()),
                wake: Notify::new(),
                appends_since_snapshot: std::sync::atomic::AtomicU64::new(0),
                ledger: std::sync::OnceLock::new(),
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Tells `ledger` every event from now on (leases, acknowledgements,
    /// dead letters), after it is durable. Set once.
    pub fn set_ledger(&self, ledger: Arc<crate::ledger::Ledger>) {
        let _ = self.inner.ledger.set(ledger);
    }

    fn tell_ledger(&self, events: &[Event]) {
        let Some(ledger) = self.inner.ledger.get() else {
            return;
        };
        let groups = self.inner.groups.lock().expect("queue lock");
        let with_topics: Vec<(String, Event)> = events
            .iter()
            .filter_map(|e| {
                let group = Some(e.group()).filter(|g| !g.is_empty())?;
                let topic = groups.get(group)?.config.topic.clone();
                Some((topic, e.clone()))
            })
            .collect();
        drop(groups);
        ledger.queue_events(&with_topics, self.now());
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    pub(crate) fn now(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    /// Runs `op` on the state and logs its events durably, in order.
    pub(crate) async fn change<T>(
        &self,
        op: impl FnOnce(
            &mut BTreeMap<String, QueueGroup>,
            &mut dyn FnMut() -> f64,
        ) -> Result<(T, Vec<Event>), QueueError>,
    ) -> Result<T, QueueError> {
        let order = self.inner.order.lock().await;
        let (out, events) = {
            let mut groups = self.inner.groups.lock().expect("queue lock");
            let mut rng = self.inner.rng.lock().expect("rng lock");
            let mut jitter = || rng.random::<f64>();
            op(&mut groups, &mut jitter)?
        };
        let mut events = events;
        if self.inner.store.planted_bug() == Some(crate::planted::PlantedBug::ForgetQueueAccept) {
            events.retain(|e| !matches!(e, Event::Accepted { .. }));
        }
        if events.is_empty() {
            return Ok(out);
        }
        let rx = self
            .inner
            .store
            .submit_append_async(QUEUE_STATE_TOPIC, 0, encode(&events, self.now()))
            .await?;
        drop(order);
        rx.await
            .map_err(|_| QueueError::Unavailable("the store closed".to_owned()))??;
        self.inner
            .appends_since_snapshot
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.tell_ledger(&events);
        if events.iter().any(|e| matches!(e, Event::Rejected { .. })) {
            self.inner.wake.notify_one();
        }
        Ok(out)
    }

    /// Creates a group, or changes its settings (the topic stays).
    pub async fn configure(&self, group: &str, config: QueueConfig) -> Result<(), QueueError> {
        if group.is_empty() || group.len() > 255 {
            return Err(QueueError::Invalid(
                "group names are 1–255 characters".to_owned(),
            ));
        }
        config.validate().map_err(QueueError::Invalid)?;
        if !self.inner.store.has_topic(&config.topic) {
            return Err(QueueError::UnknownTopic(config.topic.clone()));
        }
        let group = group.to_owned();
        self.change(move |groups, _| {
            if let Some(g) = groups.get(&group)
                && g.config.topic != config.topic
            {
                return Err(QueueError::OtherTopic {
                    group: group.clone(),
                    has: g.config.topic.clone(),
                    asked: config.topic.clone(),
                });
            }
            let event = Event::Configured {
                group: group.clone(),
                config,
            };
            replay(groups, &event);
            Ok(((), vec![event]))
        })
        .await
    }

    pub async fn delete(&self, group: &str) -> Result<(), QueueError> {
        let group = group.to_owned();
        self.change(move |groups, _| {
            if groups.remove(&group).is_none() {
                return Err(QueueError::UnknownGroup(group));
            }
            Ok(((), vec![Event::Deleted { group }]))
        })
        .await
    }

    pub fn config(&self, group: &str) -> Option<QueueConfig> {
        let groups = self.inner.groups.lock().expect("queue lock");
        groups.get(group).map(|g| g.config.clone())
    }

    pub fn group_names(&self) -> Vec<String> {
        self.inner
            .groups
            .lock()
            .expect("queue lock")
            .keys()
            .cloned()
            .collect()
    }

    /// Leases up to `max` records to `member`, waiting up to `wait` for
    /// some to become available.
    pub async fn receive(
        &self,
        group: &str,
        member: &str,
        max: u32,
        lease_ms: Option<u64>,
        wait: Duration,
    ) -> Result<Vec<Delivery>, QueueError> {
        self.receive_from(group, member, max, lease_ms, wait, None)
            .await
    }

    /// [`Queues::receive`] limited to the partitions in `only`.
    pub async fn receive_from(
        &self,
        group: &str,
        member: &str,
        max: u32,
        lease_ms: Option<u64>,
        wait: Duration,
        only: Option<Vec<u32>>,
    ) -> Result<Vec<Delivery>, QueueError> {
        if member.is_empty() || member.len() > 255 {
            return Err(QueueError::Invalid(
                "consumer names are 1–255 characters".to_owned(),
            ));
        }
        if !(1..=RECEIVE_MAX_RECORDS).contains(&max) {
            return Err(QueueError::Invalid(format!(
                "max_records must be 1..={RECEIVE_MAX_RECORDS}, got {max}"
            )));
        }
        if let Some(l) = lease_ms
            && !(1..=LEASE_MAX_MS).contains(&l)
        {
            return Err(QueueError::Invalid(format!(
                "lease_ms must be 1..={LEASE_MAX_MS}, got {l}"
            )));
        }
        let deadline = tokio::time::Instant::now() + wait;
        let mut commits = self.inner.store.subscribe_commits();
        loop {
            commits.borrow_and_update();
            let got = self
                .receive_now(group, member, max, lease_ms, only.clone())
                .await?;
            let now = tokio::time::Instant::now();
            if !got.is_empty() || now >= deadline {
                return Ok(got);
            }
            // Wake on any commit (new records), when a redelivery falls
            // due, or at the deadline.
            let due = self
                .inner
                .groups
                .lock()
                .expect("queue lock")
                .get(group)
                .and_then(QueueGroup::next_due_ms)
                .map(|ms| (ms - self.now()).max(1) as u64);
            let until = due.map_or(deadline, |ms| deadline.min(now + Duration::from_millis(ms)));
            let _ = tokio::time::timeout_at(until, commits.changed()).await;
        }
    }

    async fn receive_now(
        &self,
        group: &str,
        member: &str,
        max: u32,
        lease_ms: Option<u64>,
        only: Option<Vec<u32>>,
    ) -> Result<Vec<Delivery>, QueueError> {
        let topic = self
            .config(group)
            .ok_or_else(|| QueueError::UnknownGroup(group.to_owned()))?
            .topic;
        let described = self
            .inner
            .store
            .describe_topic(&topic)
            .ok_or_else(|| QueueError::UnknownTopic(topic.clone()))?;
        let ends: Vec<u64> = described
            .partitions
            .iter()
            .map(|p| p.high_watermark)
            .collect();
        let starts: Vec<u64> = described.partitions.iter().map(|p| p.log_start).collect();
        let now = self.now();
        let (group_name, member_name) = (group.to_owned(), member.to_owned());
        let grants = self
            .change(move |groups, _| {
                let g = groups
                    .get_mut(&group_name)
                    .ok_or_else(|| QueueError::UnknownGroup(group_name.clone()))?;
                // Records removed by retention are never delivered.
                for (p, start) in starts.iter().enumerate() {
                    if g.partitions.len() > p && g.partitions[p].cursor < *start {
                        g.partitions[p].cursor = *start;
                    }
                }
                let lease = lease_ms.unwrap_or(g.config.lease_ms);
                Ok(g.receive_from(&member_name, max, lease, now, &ends, only.as_deref()))
            })
            .await?;
        let mut by_partition: BTreeMap<u32, Vec<super::state::Grant>> = BTreeMap::new();
        for g in grants {
            by_partition.entry(g.partition).or_default().push(g);
        }
        let mut out = Vec::new();
        for (p, grants) in by_partition {
            let from = grants.iter().map(|g| g.offset).min().unwrap_or(0);
            let to = grants.iter().map(|g| g.offset).max().unwrap_or(0) + 1;
            let mut records: BTreeMap<u64, Record> =
                read_records(&self.inner.store, &topic, p, from, to)?
                    .into_iter()
                    .map(|r| (r.offset as u64, r))
                    .collect();
            for g in grants {
                if let Some(record) = records.remove(&g.offset) {
                    out.push(Delivery {
                        partition: p,
                        offset: g.offset,
                        delivery: g.deliveries,
                        lease_deadline_ms: g.deadline_ms,
                        record,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Acknowledges records `member` holds: `(partition, offset, delivery,
    /// action)`. One result per item; refused items change nothing.
    pub async fn acknowledge(
        &self,
        group: &str,
        member: &str,
        items: Vec<(u32, u64, Option<u32>, AckAction)>,
    ) -> Result<Vec<Result<(), AckError>>, QueueError> {
        let now = self.now();
        let (group, member) = (group.to_owned(), member.to_owned());
        self.change(move |groups, jitter| {
            let g = groups
                .get_mut(&group)
                .ok_or_else(|| QueueError::UnknownGroup(group.clone()))?;
            Ok(g.acknowledge(&member, &items, now, jitter))
        })
        .await
    }

    /// `member` leaves: what it holds becomes available (after backoff).
    pub async fn leave(&self, group: &str, member: &str) -> Result<usize, QueueError> {
        let now = self.now();
        let (group, member) = (group.to_owned(), member.to_owned());
        self.change(move |groups, jitter| {
            let g = groups
                .get_mut(&group)
                .ok_or_else(|| QueueError::UnknownGroup(group.clone()))?;
            let known = g.members.contains_key(&member);
            let events = g.leave(&member, now, jitter);
            g.members.remove(&member);
            if !known && events.is_empty() {
                return Err(QueueError::Invalid(format!(
                    "{member:?} is not a member of queue group {group:?}"
                )));
            }
            let released = events
                .iter()
                .map(|e| match e {
                    Event::Released { records, .. } => records.len(),
                    Event::Rejected { offsets, .. } => offsets.len(),
                    _ => 0,
                })
                .sum();
            Ok((released, events))
        })
        .await
    }

    /// Expires leases and silent members, then writes pending dead letters.
    /// The server calls it every ~100 ms.
    pub async fn tick(&self) -> Result<(), QueueError> {
        if self
            .inner
            .appends_since_snapshot
            .load(std::sync::atomic::Ordering::Relaxed)
            >= SNAPSHOT_EVERY_APPENDS
        {
            self.compact().await?;
        }
        let now = self.now();
        self.change(move |groups, jitter| {
            let mut events = Vec::new();
            for g in groups.values_mut() {
                events.extend(g.tick(now, MEMBER_TIMEOUT_MS, jitter));
            }
            Ok(((), events))
        })
        .await?;
        self.write_dead_letters().await
    }

    /// Resolves when an acknowledgement decided a dead letter (or after
    /// `max`), so the ticking task can write it promptly.
    pub async fn wait_for_work(&self, max: Duration) {
        let _ = tokio::time::timeout(max, self.inner.wake.notified()).await;
    }

    /// Leased records of a group.
    pub fn leases(&self, group: &str) -> Option<Vec<Lease>> {
        let groups = self.inner.groups.lock().expect("queue lock");
        groups.get(group).map(QueueGroup::leases)
    }
}
