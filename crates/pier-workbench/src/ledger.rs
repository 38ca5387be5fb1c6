//! The delivery ledger, for the adapters: verdicts for a topic and group
//! over a window, a record's journey, and the ledger's own state.

use pier_core::ledger::{
    Counters, Expectation, FindingKind, Journey, PartitionFacts, Verdict, VerdictQuery,
};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::{IntoParams, ToSchema};

use crate::{Workbench, WorkbenchError};

/// Spans listed per finding at most.
pub const VERDICT_LIMIT_MAX: usize = 10_000;

/// What to judge.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct VerdictRequest {
    pub topic: String,
    /// A classic or queue (share) group on the topic; without it, only
    /// what producers did is judged.
    #[serde(default)]
    pub group: Option<String>,
    /// Only what happened at or after this time (ms since the epoch).
    #[serde(default)]
    pub since_ms: Option<i64>,
    /// Spans listed per finding (default 1,000, at most 10,000).
    #[serde(default)]
    pub limit: Option<usize>,
    /// `no-loss`, `at-least-once` or `exactly-once`: the answer says
    /// whether it was met.
    #[serde(default)]
    pub expect: Option<Expectation>,
}

/// A verdict, and whether the expectation (if any) was met.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct VerdictResponse {
    #[serde(flatten)]
    pub verdict: Verdict,
    /// `None` without an expectation; `false` with `broken` saying why.
    pub met: Option<bool>,
    pub broken: Option<String>,
}

/// The ledger's own state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct LedgerStatus {
    pub enabled: bool,
    pub started_ms: Option<i64>,
    pub truncated_ms: Option<i64>,
    /// Records per anomaly since it started.
    pub counters: Counters,
}

impl Workbench {
    /// Tells the ledger about a batch the workbench itself appended (test
    /// messages, simulated producers): acknowledged like acks=all.
    /// `attempt` plays the connection: a simulated producer takes a new one
    /// for each resend after a lost acknowledgement, as a client reconnects.
    pub(crate) fn note_produced(
        &self,
        topic: &str,
        partition: u32,
        done: &pier_core::Appended,
        batch: &bytes::Bytes,
        client_id: &str,
        attempt: u64,
    ) {
        let broker = self.broker();
        let ledger = &broker.config.ledger;
        if !ledger.enabled() {
            return;
        }
        let h = pier_core::batch::header_of(batch);
        let producer = pier_core::ledger::ProducerKey {
            client_id: client_id.into(),
            address: if client_id == "pier-http" {
                "the HTTP API".into()
            } else {
                "a simulated client".into()
            },
            producer_id: h.producer_id,
            producer_epoch: h.producer_epoch,
        };
        ledger.produced(&pier_core::ledger::Produced {
            topic,
            partition,
            first_offset: done.base_offset,
            last_offset: done.last_offset,
            producer: &producer,
            base_sequence: h.base_sequence,
            acks: -1,
            fsync: broker.store.fsync_enabled(),
            first_timestamp_ms: h.first_timestamp_ms,
            max_timestamp_ms: h.max_timestamp_ms,
            fingerprints: pier_core::ledger::fingerprints(batch, h.compression),
            connection: attempt,
            at_ms: self.now_ms(),
        });
    }

    /// A fresh connection id, unique across broker restarts (simulated
    /// clients take one as a real client connects).
    pub(crate) fn next_connection_id(&self) -> u64 {
        self.broker()
            .config
            .connection_ids
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    pub fn ledger_status(&self) -> LedgerStatus {
        let ledger = self.broker().config.ledger.clone();
        let (started_ms, truncated_ms) = ledger.span_ms();
        LedgerStatus {
            enabled: ledger.enabled(),
            started_ms,
            truncated_ms,
            counters: ledger.counters(),
        }
    }

    pub fn set_ledger_enabled(&self, on: bool) -> LedgerStatus {
        self.broker().config.ledger.set_enabled(on);
        self.ledger_status()
    }

    pub fn verdict(&self, req: &VerdictRequest) -> Result<VerdictResponse, WorkbenchError> {
        let limit = req.limit.unwrap_or(1_000);
        if !(1..=VERDICT_LIMIT_MAX).contains(&limit) {
            return Err(WorkbenchError::invalid(format!(
                "limit must be 1..={VERDICT_LIMIT_MAX}, got {limit}"
            )));
        }
        let facts = self.partition_facts(&req.topic, req.group.as_deref())?;
        let query = VerdictQuery {
            topic: req.topic.clone(),
            group: req.group.clone(),
            since_ms: req.since_ms,
            limit,
        };
        let mut verdict = self
            .broker()
            .config
            .ledger
            .verdict(&query, &facts, self.now_ms());
        for f in &mut verdict.findings {
            f.listed = self.list_records(&req.topic, &f.spans);
            // A lost record's offset may hold a newer record now: its key
            // is not the lost one's.
            if matches!(
                f.kind,
                FindingKind::LostAfterAck | FindingKind::LostUnacknowledged
            ) {
                f.listed.iter_mut().for_each(|r| r.key = None);
            }
        }
        let outcome = req.expect.map(|e| verdict.meets(e));
        Ok(VerdictResponse {
            met: outcome.as_ref().map(Result::is_ok),
            broken: outcome.and_then(Result::err),
            verdict,
        })
    }

    pub fn journey(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
    ) -> Result<Journey, WorkbenchError> {
        let partitions = self
            .store()
            .describe_topic(topic)
            .ok_or_else(|| WorkbenchError::not_found(format!("no topic {topic:?}")))?
            .meta
            .partitions;
        if partition >= partitions {
            return Err(WorkbenchError::not_found(format!(
                "topic {topic:?} has {partitions} partitions, not {partition}"
            )));
        }
        Ok(self
            .broker()
            .config
            .ledger
            .journey(topic, partition, offset))
    }

    /// The first records of `spans`, with their keys where still stored.
    fn list_records(
        &self,
        topic: &str,
        spans: &[pier_core::ledger::Span],
    ) -> Vec<pier_core::ledger::RecordRef> {
        let store = self.store();
        let mut out = Vec::new();
        for s in spans {
            let room = pier_core::ledger::RECORDS_LISTED_MAX.saturating_sub(out.len()) as u64;
            if room == 0 {
                break;
            }
            let last = s.last_offset.min(s.first_offset + room - 1);
            let keys: std::collections::BTreeMap<u64, Option<String>> =
                pier_core::queue::read_records(
                    &store,
                    topic,
                    s.partition,
                    s.first_offset,
                    last + 1,
                )
                .unwrap_or_default()
                .into_iter()
                .map(|r| {
                    let key = r.key.map(|k| String::from_utf8_lossy(&k).into_owned());
                    (r.offset as u64, key)
                })
                .collect();
            out.extend(
                (s.first_offset..=last).map(|offset| pier_core::ledger::RecordRef {
                    partition: s.partition,
                    offset,
                    key: keys.get(&offset).cloned().flatten(),
                }),
            );
        }
        out
    }

    /// Where each partition stands, and where the group stands on it.
    fn partition_facts(
        &self,
        topic: &str,
        group: Option<&str>,
    ) -> Result<Vec<PartitionFacts>, WorkbenchError> {
        let store = self.store();
        let described = store
            .describe_topic(topic)
            .ok_or_else(|| WorkbenchError::not_found(format!("no topic {topic:?}")))?;
        let broker = self.broker();
        let queue = group.and_then(|g| {
            broker
                .queues
                .describe(g)
                .filter(|q| q.config.topic == topic)
        });
        let committed = group
            .map(|g| store.committed_offsets(g))
            .unwrap_or_default();
        let members = match (group, &queue) {
            (_, Some(q)) => q.members.len(),
            (Some(g), None) => broker.groups.describe(g).map_or(0, |d| d.members.len()),
            (None, None) => 0,
        };
        let mut facts = Vec::new();
        for p in &described.partitions {
            let mut unconsumed = None;
            let (at, lag) = match (group, &queue) {
                (Some(g), Some(_)) => {
                    let view =
                        broker
                            .queues
                            .partition_view(g, p.partition, p.log_start, p.high_watermark);
                    match view {
                        Some(v) => {
                            let cursor = v.cursor.max(p.log_start);
                            let first =
                                v.slots.keys().next().copied().unwrap_or(cursor).min(cursor);
                            let unfinished = v.slots.len() as u64;
                            unconsumed = Some(runs_of(
                                v.slots.keys().copied().chain(cursor..p.high_watermark),
                            ));
                            (
                                Some(first),
                                p.high_watermark.saturating_sub(cursor) + unfinished,
                            )
                        }
                        None => (None, 0),
                    }
                }
                (Some(_), None) => {
                    let c = committed
                        .get(&(topic.to_owned(), p.partition))
                        .and_then(|c| u64::try_from(c.offset).ok());
                    let from = c.unwrap_or(p.log_start).max(p.log_start);
                    (c, p.high_watermark.saturating_sub(from))
                }
                (None, _) => (None, 0),
            };
            facts.push(PartitionFacts {
                partition: p.partition,
                log_start: p.log_start,
                high_watermark: p.high_watermark,
                committed: at,
                lag,
                members,
                unconsumed,
            });
        }
        Ok(facts)
    }
}

/// Offsets in order as runs `(first, last)`.
fn runs_of(offsets: impl Iterator<Item = u64>) -> Vec<(u64, u64)> {
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for o in offsets {
        match runs.last_mut() {
            Some((_, last)) if *last + 1 == o => *last = o,
            Some((_, last)) if *last >= o => {}
            _ => runs.push((o, o)),
        }
    }
    runs
}
