//! The lab's simulated consumer of a classic group. Either it assigns
//! itself every partition of its topic (`assign()`), or it is a member of
//! the group (`subscribe()`, [`super::membership`]) and consumes what the
//! group's leader assigned it, rejoining when the group rebalances. It
//! reads its group's committed offsets (so the ledger attributes its
//! Fetches to the group: rule 3 of `pier_kafka::attribution`), fetches,
//! processes record by record and commits before or after processing. It
//! can crash once in the middle of a batch, and restarts (or not) as a new
//! connection from the committed offsets.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use kafka_protocol::messages::fetch_response::FetchResponse;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequest, OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_commit_response::OffsetCommitResponse;
use kafka_protocol::messages::offset_fetch_request::{OffsetFetchRequest, OffsetFetchRequestTopic};
use kafka_protocol::messages::offset_fetch_response::OffsetFetchResponse;
use kafka_protocol::messages::{ApiKey, GroupId, TopicName};
use kafka_protocol::protocol::StrBytes;
use pier_core::batch;
use tokio::time::{Instant, sleep, timeout};

use super::clients::BACKOFF;
use super::membership::{self, Membership};
use super::model::Commit;
use super::progress::Progress;
use crate::wire::{self, Conn};

const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
pub struct ConsumerRun {
    pub name: String,
    pub client_id: String,
    pub addr: String,
    pub topic: String,
    pub group: String,
    pub partitions: u32,
    /// Classic consumers only.
    pub commit: Commit,
    pub processing: Duration,
    pub max_poll_records: usize,
    pub crash_after: Option<u64>,
    pub restart_after: Duration,
    /// Whether it comes back after its crash.
    pub restart: bool,
    /// A member of the group (`subscribe()`) rather than `assign()`.
    pub member: bool,
    /// `session.timeout.ms` of a member.
    pub session_timeout: Duration,
    /// When the variant started (processing times are counted from it).
    pub epoch: Instant,
    pub progress: Arc<Progress>,
}

impl ConsumerRun {
    /// A new connection to the broker, with this consumer's `client.id`.
    pub async fn connect(&self) -> anyhow::Result<Conn> {
        Ok(Conn::open(&self.addr, None)
            .await?
            .with_client_id(&self.client_id))
    }
}

/// Whether the group has consumed (committed) everything: a member keeps
/// polling until then, since a dead member's partitions come to it late.
pub type CaughtUp = Arc<dyn Fn() -> bool + Send + Sync>;

/// What a consumer did, by its own account.
#[derive(Debug, Default, Clone)]
pub struct ConsumerOutcome {
    pub name: String,
    /// Record id → times processed.
    pub processed: BTreeMap<String, u32>,
    pub crashes: u32,
    /// Where it crashed: the records of that batch it had not processed.
    pub dropped_at_crash: Vec<String>,
    pub errors: Vec<String>,
    /// Each processing: milliseconds into the variant, and the record id.
    pub processed_at: Vec<(u64, String)>,
}

impl ConsumerOutcome {
    /// Counts one processing of `id`, now.
    pub fn processed(&mut self, run: &ConsumerRun, id: &str) {
        *self.processed.entry(id.to_owned()).or_default() += 1;
        let at = run.epoch.elapsed().as_millis() as u64;
        self.processed_at.push((at, id.to_owned()));
        run.progress.processed(id);
    }
}

/// A consumer's state that a crash loses: the connection, where the next
/// fetch starts, and records fetched but not yet polled (a client library
/// fetches ahead of `max.poll.records` and does not fetch them again).
struct Session {
    conn: Conn,
    fetch_from: BTreeMap<u32, i64>,
    buffer: std::collections::VecDeque<(u32, i64, String)>,
    member: Option<Membership>,
}

/// Consumes until `done` is set and a fetch brings nothing more (the
/// producers finished and it caught up), or `stop` is set.
pub async fn consume(
    run: ConsumerRun,
    done: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    caught_up: Option<CaughtUp>,
) -> ConsumerOutcome {
    let mut out = ConsumerOutcome {
        name: run.name.clone(),
        ..ConsumerOutcome::default()
    };
    let mut session: Option<Session> = None;
    let mut processed_total = 0u64;
    let mut crashed = false;
    while !stop.load(Ordering::Relaxed) {
        let s = match &mut session {
            Some(s) => s,
            None => match open(&run, None, "").await {
                Ok(s) => session.insert(s),
                Err(e) => {
                    note(&mut out, e);
                    sleep(BACKOFF).await;
                    continue;
                }
            },
        };
        if s.member.as_ref().is_some_and(Membership::must_rejoin) {
            let old = session.take().expect("open");
            let id = old.member.as_ref().map(|m| m.member_id.clone());
            let conn = old.conn;
            drop(old.member);
            match open(&run, Some(conn), id.as_deref().unwrap_or("")).await {
                Ok(s) => session = Some(s),
                Err(e) => note(&mut out, e),
            }
            continue;
        }
        let finished = done.load(Ordering::Relaxed);
        let batch = match poll(&run, s).await {
            Ok(b) => b,
            Err(e) => {
                note(&mut out, e);
                session = None;
                sleep(BACKOFF).await;
                continue;
            }
        };
        if batch.is_empty() {
            if finished && caught_up.as_ref().is_none_or(|c| c()) {
                if let Some(m) = &s.member {
                    membership::leave(&run, &mut s.conn, m).await;
                }
                break;
            }
            continue;
        }
        let next: BTreeMap<u32, i64> =
            batch
                .iter()
                .map(|(p, o, _)| (*p, o + 1))
                .fold(BTreeMap::new(), |mut m, (p, o)| {
                    let e = m.entry(p).or_insert(o);
                    *e = (*e).max(o);
                    m
                });
        if run.commit == Commit::BeforeProcessing
            && let Err(e) = commit(&run, s, &next).await
        {
            note(&mut out, e);
            session = None;
            continue;
        }
        let mut crash_now = None;
        for (i, (_, _, id)) in batch.iter().enumerate() {
            // In the middle of a batch: at least one of it processed.
            if !crashed && i > 0 && run.crash_after.is_some_and(|n| processed_total >= n) {
                crash_now = Some(i);
                break;
            }
            if !run.processing.is_zero() {
                sleep(run.processing).await;
            }
            out.processed(&run, id);
            processed_total += 1;
        }
        if let Some(i) = crash_now {
            // The process dies: what it had fetched and not processed,
            // and its uncommitted position, are gone.
            crashed = true;
            out.crashes += 1;
            out.dropped_at_crash = batch[i..].iter().map(|(_, _, id)| id.clone()).collect();
            session = None;
            if !run.restart {
                break;
            }
            sleep(run.restart_after).await;
            continue;
        }
        if run.commit == Commit::AfterProcessing
            && let Err(e) = commit(&run, s, &next).await
        {
            note(&mut out, e);
            session = None;
        }
    }
    out
}

fn note(out: &mut ConsumerOutcome, e: anyhow::Error) {
    if out.errors.len() < 5 {
        out.errors.push(format!("{e:#}"));
    }
}

/// A session (on a new connection unless given one) starting from the
/// group's committed offsets; a member (re)joins its group first.
async fn open(run: &ConsumerRun, conn: Option<Conn>, member_id: &str) -> anyhow::Result<Session> {
    let mut conn = match conn {
        Some(c) => c,
        None => run.connect().await?,
    };
    let member = match run.member {
        true => Some(membership::join(run, &mut conn, member_id).await?),
        false => None,
    };
    let mine: Vec<u32> = match &member {
        Some(m) => m.partitions.clone(),
        None => (0..run.partitions).collect(),
    };
    let req = OffsetFetchRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(run.group.clone())))
        .with_topics(Some(vec![
            OffsetFetchRequestTopic::default()
                .with_name(TopicName(StrBytes::from_string(run.topic.clone())))
                .with_partition_indexes(mine.iter().map(|p| *p as i32).collect()),
        ]));
    let resp: OffsetFetchResponse =
        timeout(REQUEST_TIMEOUT, conn.call(ApiKey::OffsetFetch, 1, &req))
            .await
            .context("OffsetFetch timed out")??;
    let mut fetch_from: BTreeMap<u32, i64> = mine.iter().map(|p| (*p, 0)).collect();
    for t in &resp.topics {
        for p in &t.partitions {
            if p.error_code != 0 {
                bail!("OffsetFetch: Kafka error code {}", p.error_code);
            }
            if p.committed_offset >= 0 {
                fetch_from.insert(p.partition_index as u32, p.committed_offset);
            }
        }
    }
    Ok(Session {
        conn,
        fetch_from,
        buffer: Default::default(),
        member,
    })
}

/// One poll: up to `max_poll_records` records as (partition, offset, id),
/// from the buffer, fetching when it is empty.
async fn poll(run: &ConsumerRun, s: &mut Session) -> anyhow::Result<Vec<(u32, i64, String)>> {
    if s.buffer.is_empty() {
        fetch(run, s).await?;
    }
    let n = run.max_poll_records.min(s.buffer.len());
    Ok(s.buffer.drain(..n).collect())
}

/// One Fetch into the buffer, records ordered by offset across partitions.
async fn fetch(run: &ConsumerRun, s: &mut Session) -> anyhow::Result<()> {
    if s.fetch_from.is_empty() {
        // A member with no partitions (more members than partitions).
        sleep(Duration::from_millis(100)).await;
        return Ok(());
    }
    let from: Vec<(i32, i64)> = s.fetch_from.iter().map(|(p, o)| (*p as i32, *o)).collect();
    let req = wire::fetch_request(&run.topic, &from, 100);
    let resp: FetchResponse = timeout(
        REQUEST_TIMEOUT,
        s.conn.call(ApiKey::Fetch, wire::FETCH_VERSION, &req),
    )
    .await
    .context("Fetch timed out")??;
    let mut out = Vec::new();
    for t in &resp.responses {
        for p in &t.partitions {
            if p.error_code != 0 {
                bail!(
                    "Fetch of partition {}: Kafka error code {}",
                    p.partition_index,
                    p.error_code
                );
            }
            let Some(bytes) = p.records.clone().filter(|b| !b.is_empty()) else {
                continue;
            };
            let partition = p.partition_index as u32;
            let from = s.fetch_from.get(&partition).copied().unwrap_or(0);
            for b in wire::whole_batches(bytes) {
                for r in batch::decode_records(&b)? {
                    if r.offset < from {
                        continue;
                    }
                    let id = r
                        .value
                        .as_deref()
                        .map(|v| String::from_utf8_lossy(v).into_owned())
                        .unwrap_or_default();
                    out.push((partition, r.offset, id));
                }
            }
        }
    }
    for (p, o, _) in &out {
        let next = s.fetch_from.entry(*p).or_default();
        *next = (*next).max(o + 1);
    }
    out.sort_by_key(|(p, o, _)| (*o, *p));
    s.buffer.extend(out);
    Ok(())
}

async fn commit(
    run: &ConsumerRun,
    s: &mut Session,
    next: &BTreeMap<u32, i64>,
) -> anyhow::Result<()> {
    let partitions = next
        .iter()
        .map(|(p, o)| {
            OffsetCommitRequestPartition::default()
                .with_partition_index(*p as i32)
                .with_committed_offset(*o)
        })
        .collect();
    let (member_id, generation) = s
        .member
        .as_ref()
        .map_or((String::new(), -1), |m| (m.member_id.clone(), m.generation));
    let req = OffsetCommitRequest::default()
        .with_group_id(GroupId(StrBytes::from_string(run.group.clone())))
        .with_generation_id_or_member_epoch(generation)
        .with_member_id(StrBytes::from_string(member_id))
        .with_retention_time_ms(-1)
        .with_topics(vec![
            OffsetCommitRequestTopic::default()
                .with_name(TopicName(StrBytes::from_string(run.topic.clone())))
                .with_partitions(partitions),
        ]);
    let resp: OffsetCommitResponse =
        timeout(REQUEST_TIMEOUT, s.conn.call(ApiKey::OffsetCommit, 2, &req))
            .await
            .context("OffsetCommit timed out")??;
    for t in &resp.topics {
        for p in &t.partitions {
            // A rebalance took the partitions away: the commit fails (as
            // `CommitFailedException` does) and the member rejoins; what it
            // processed since its last commit goes to whoever gets them.
            if let Some(m) = s
                .member
                .as_ref()
                .filter(|_| [22, 25, 27].contains(&p.error_code))
            {
                m.rejoin_now();
                return Ok(());
            }
            if p.error_code != 0 {
                bail!("OffsetCommit: Kafka error code {}", p.error_code);
            }
        }
    }
    Ok(())
}
