//! The lab's share-group consumer (KIP-932) over the Kafka protocol, as a
//! `KafkaShareConsumer` with explicit acknowledgement: it joins with
//! ShareGroupHeartbeat (heartbeats from their own connection), fetches
//! with ShareFetch in a share session, and acknowledges each record once
//! processed with ShareAcknowledge (accept, or release for a poison
//! record). A crash drops its connections holding its records; their
//! acquisition locks run out and the records, and only those, go to
//! whoever fetches next. The group's lock time, delivery limit and
//! backoff are its queue group's (`docs/queues.md`), set by the lab.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use kafka_protocol::messages::share_acknowledge_request::{
    AcknowledgePartition, AcknowledgeTopic, AcknowledgementBatch, ShareAcknowledgeRequest,
};
use kafka_protocol::messages::share_acknowledge_response::ShareAcknowledgeResponse;
use kafka_protocol::messages::share_fetch_request::{
    FetchPartition, FetchTopic, ShareFetchRequest,
};
use kafka_protocol::messages::share_fetch_response::ShareFetchResponse;
use kafka_protocol::messages::share_group_heartbeat_request::ShareGroupHeartbeatRequest;
use kafka_protocol::messages::share_group_heartbeat_response::ShareGroupHeartbeatResponse;
use kafka_protocol::messages::{ApiKey, GroupId, TopicName};
use kafka_protocol::protocol::StrBytes;
use pier_core::batch;
use tokio::task::JoinHandle;
use tokio::time::{sleep, timeout};
use uuid::Uuid;

use super::clients::BACKOFF;
use super::consumer::{ConsumerOutcome, ConsumerRun};
use crate::wire::{self, Conn};

const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
const ACCEPT: i8 = 1;
const RELEASE: i8 = 2;

/// A live member: its connection, share session and heartbeats.
struct Member {
    conn: Conn,
    id: String,
    session_epoch: i32,
    /// The lab topic's partitions assigned to it, by topic id.
    topic_id: Uuid,
    partitions: Vec<i32>,
    heartbeat: JoinHandle<()>,
}

impl Drop for Member {
    fn drop(&mut self) {
        self.heartbeat.abort();
    }
}

/// Consumes until `done` is set and the group has nothing left to hand
/// out or settle (`drained`), or `stop` is set. `poison(id)` says whether
/// processing a record fails.
pub async fn consume_share(
    run: ConsumerRun,
    poison: impl Fn(&str) -> bool,
    drained: impl Fn() -> bool,
    done: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) -> ConsumerOutcome {
    let mut out = ConsumerOutcome {
        name: run.name.clone(),
        ..ConsumerOutcome::default()
    };
    let mut member: Option<Member> = None;
    let (mut processed_total, mut crashed) = (0u64, false);
    while !stop.load(Ordering::Relaxed) {
        let m = match &mut member {
            Some(m) => m,
            None => match join(&run).await {
                Ok(m) => member.insert(m),
                Err(e) => {
                    note(&mut out, e);
                    sleep(BACKOFF).await;
                    continue;
                }
            },
        };
        let finished = done.load(Ordering::Relaxed);
        let records = match fetch(&run, m).await {
            Ok(r) => r,
            Err(e) => {
                note(&mut out, e);
                member = None;
                sleep(BACKOFF).await;
                continue;
            }
        };
        if records.is_empty() {
            if finished && drained() {
                leave(&run, m).await;
                break;
            }
            continue;
        }
        let mut crash_at = None;
        for (i, (partition, offset, id)) in records.iter().enumerate() {
            if !crashed && i > 0 && run.crash_after.is_some_and(|n| processed_total >= n) {
                crash_at = Some(i);
                break;
            }
            if !run.processing.is_zero() {
                sleep(run.processing).await;
            }
            let fails = poison(id);
            if !fails {
                out.processed(&run, id);
                processed_total += 1;
            }
            let kind = if fails { RELEASE } else { ACCEPT };
            if let Err(e) = acknowledge(&run, m, *partition, *offset, kind).await {
                note(&mut out, e);
            }
        }
        if let Some(i) = crash_at {
            // The process dies holding the rest: their locks run out.
            crashed = true;
            out.crashes += 1;
            out.dropped_at_crash = records[i..].iter().map(|(_, _, id)| id.clone()).collect();
            member = None;
            if !run.restart {
                break;
            }
            sleep(run.restart_after).await;
        }
    }
    out
}

fn note(out: &mut ConsumerOutcome, e: anyhow::Error) {
    if out.errors.len() < 5 {
        out.errors.push(format!("{e:#}"));
    }
}

fn group(run: &ConsumerRun) -> GroupId {
    GroupId(StrBytes::from_string(run.group.clone()))
}

fn heartbeat_request(run: &ConsumerRun, id: &str, epoch: i32) -> ShareGroupHeartbeatRequest {
    ShareGroupHeartbeatRequest::default()
        .with_group_id(group(run))
        .with_member_id(StrBytes::from_string(id.to_owned()))
        .with_member_epoch(epoch)
        .with_subscribed_topic_names(
            (epoch == 0).then(|| vec![TopicName(StrBytes::from_string(run.topic.clone()))]),
        )
}

/// Joins the share group (a member id of its own, epoch 0) and opens a
/// share session on the partitions it is assigned.
async fn join(run: &ConsumerRun) -> anyhow::Result<Member> {
    let mut conn = run.connect().await?;
    let id = Uuid::new_v4().to_string();
    let resp: ShareGroupHeartbeatResponse = timeout(
        REQUEST_TIMEOUT,
        conn.call(
            ApiKey::ShareGroupHeartbeat,
            1,
            &heartbeat_request(run, &id, 0),
        ),
    )
    .await
    .context("ShareGroupHeartbeat timed out")??;
    if resp.error_code != 0 {
        bail!("ShareGroupHeartbeat: Kafka error code {}", resp.error_code);
    }
    let assigned = resp
        .assignment
        .map(|a| a.topic_partitions)
        .unwrap_or_default();
    let Some(tp) = assigned.into_iter().next() else {
        bail!("ShareGroupHeartbeat: no partitions assigned");
    };
    let interval = Duration::from_millis(resp.heartbeat_interval_ms.max(100) as u64);
    let heartbeat = tokio::spawn(heartbeats(
        run.clone(),
        id.clone(),
        resp.member_epoch,
        interval,
    ));
    Ok(Member {
        conn,
        id,
        session_epoch: 0,
        topic_id: tp.topic_id,
        partitions: tp.partitions,
        heartbeat,
    })
}

async fn heartbeats(run: ConsumerRun, id: String, mut epoch: i32, every: Duration) {
    let mut conn: Option<Conn> = None;
    loop {
        sleep(every).await;
        if conn.is_none() {
            conn = run.connect().await.ok();
        }
        let Some(c) = conn.as_mut() else { continue };
        let req = heartbeat_request(&run, &id, epoch);
        match timeout(every, c.call(ApiKey::ShareGroupHeartbeat, 1, &req)).await {
            Ok(Ok(ShareGroupHeartbeatResponse {
                error_code: 0,
                member_epoch,
                ..
            })) => epoch = member_epoch,
            _ => conn = None,
        }
    }
}

/// One ShareFetch: `(partition, offset, record id)` of the records
/// acquired for this member, in offset order per partition.
async fn fetch(run: &ConsumerRun, m: &mut Member) -> anyhow::Result<Vec<(i32, i64, String)>> {
    let partitions = m
        .partitions
        .iter()
        .map(|p| FetchPartition::default().with_partition_index(*p))
        .collect();
    let req = ShareFetchRequest::default()
        .with_group_id(Some(group(run)))
        .with_member_id(Some(StrBytes::from_string(m.id.clone())))
        .with_share_session_epoch(m.session_epoch)
        .with_max_wait_ms(100)
        .with_max_bytes(1 << 20)
        .with_max_records(run.max_poll_records as i32)
        .with_batch_size(run.max_poll_records as i32)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic_id(m.topic_id)
                .with_partitions(partitions),
        ]);
    let resp: ShareFetchResponse =
        timeout(REQUEST_TIMEOUT, m.conn.call(ApiKey::ShareFetch, 1, &req))
            .await
            .context("ShareFetch timed out")??;
    if resp.error_code != 0 {
        bail!("ShareFetch: Kafka error code {}", resp.error_code);
    }
    m.session_epoch += 1;
    let mut out = Vec::new();
    for t in &resp.responses {
        for p in &t.partitions {
            if p.error_code != 0 {
                bail!(
                    "ShareFetch of partition {}: Kafka error code {}",
                    p.partition_index,
                    p.error_code
                );
            }
            let acquired = |o: i64| {
                p.acquired_records
                    .iter()
                    .any(|a| a.first_offset <= o && o <= a.last_offset)
            };
            let Some(bytes) = p.records.clone().filter(|b| !b.is_empty()) else {
                continue;
            };
            let mut mine: BTreeMap<i64, String> = BTreeMap::new();
            for b in wire::whole_batches(bytes) {
                for r in batch::decode_records(&b)? {
                    if acquired(r.offset) {
                        let id = r
                            .value
                            .as_deref()
                            .map(|v| String::from_utf8_lossy(v).into_owned())
                            .unwrap_or_default();
                        mine.insert(r.offset, id);
                    }
                }
            }
            out.extend(mine.into_iter().map(|(o, id)| (p.partition_index, o, id)));
        }
    }
    Ok(out)
}

/// Acknowledges one record (`kind`: accept or release) in the session.
async fn acknowledge(
    run: &ConsumerRun,
    m: &mut Member,
    partition: i32,
    offset: i64,
    kind: i8,
) -> anyhow::Result<()> {
    let batch = AcknowledgementBatch::default()
        .with_first_offset(offset)
        .with_last_offset(offset)
        .with_acknowledge_types(vec![kind]);
    let req = ShareAcknowledgeRequest::default()
        .with_group_id(Some(group(run)))
        .with_member_id(Some(StrBytes::from_string(m.id.clone())))
        .with_share_session_epoch(m.session_epoch)
        .with_topics(vec![
            AcknowledgeTopic::default()
                .with_topic_id(m.topic_id)
                .with_partitions(vec![
                    AcknowledgePartition::default()
                        .with_partition_index(partition)
                        .with_acknowledgement_batches(vec![batch]),
                ]),
        ]);
    let resp: ShareAcknowledgeResponse = timeout(
        REQUEST_TIMEOUT,
        m.conn.call(ApiKey::ShareAcknowledge, 1, &req),
    )
    .await
    .context("ShareAcknowledge timed out")??;
    m.session_epoch += 1;
    if resp.error_code != 0 {
        bail!("ShareAcknowledge: Kafka error code {}", resp.error_code);
    }
    for t in &resp.responses {
        for p in &t.partitions {
            if p.error_code != 0 {
                bail!(
                    "ShareAcknowledge of {partition}@{offset}: Kafka error code {}",
                    p.error_code
                );
            }
        }
    }
    Ok(())
}

/// Closes the share session and leaves the group, as `close()` does.
async fn leave(run: &ConsumerRun, m: &mut Member) {
    let close = ShareAcknowledgeRequest::default()
        .with_group_id(Some(group(run)))
        .with_member_id(Some(StrBytes::from_string(m.id.clone())))
        .with_share_session_epoch(-1);
    let _ = timeout(
        REQUEST_TIMEOUT,
        m.conn
            .call::<ShareAcknowledgeResponse>(ApiKey::ShareAcknowledge, 1, &close),
    )
    .await;
    let _ = timeout(
        REQUEST_TIMEOUT,
        m.conn.call::<ShareGroupHeartbeatResponse>(
            ApiKey::ShareGroupHeartbeat,
            1,
            &heartbeat_request(run, &m.id, -1),
        ),
    )
    .await;
}
