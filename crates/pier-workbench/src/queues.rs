//! Queue groups: receive with leases, acknowledge record by record,
//! inspect leases and the dead-letter topic, replay dead letters.

use std::time::Duration;

use pier_core::queue::{self, AckAction, AckError, QueueConfig, QueueError};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::messages::message_of;
use crate::{Message, Workbench, WorkbenchError};

/// Longest a receive waits for records.
pub const RECEIVE_WAIT_MAX_MS: u32 = 10_000;

impl From<QueueError> for WorkbenchError {
    fn from(e: QueueError) -> Self {
        match e {
            QueueError::UnknownGroup(_) | QueueError::UnknownTopic(_) => {
                WorkbenchError::not_found(e.to_string())
            }
            QueueError::OtherTopic { .. } => WorkbenchError::conflict(e.to_string()),
            QueueError::Invalid(m) => WorkbenchError::invalid(m),
            QueueError::Unavailable(m) => WorkbenchError::unavailable(m),
            QueueError::Unreadable { .. } => WorkbenchError::unavailable(e.to_string()),
        }
    }
}

/// Creates a queue group, or changes its settings. Absent fields keep
/// their current value (or the default for a new group).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct QueueSettings {
    /// The topic to consume (required for a new group; cannot change).
    #[serde(default)]
    #[ts(optional)]
    pub topic: Option<String>,
    /// Lease length (default 30000 ms, at most 3600000).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3_600_000)]
    #[ts(optional)]
    pub lease_ms: Option<u64>,
    /// Deliveries before dead-lettering (default 5, 1–100).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100)]
    #[ts(optional)]
    pub max_deliveries: Option<u32>,
    /// First redelivery backoff (default 500 ms); doubles per delivery.
    #[serde(default)]
    #[schema(maximum = 3_600_000)]
    #[ts(optional)]
    pub backoff_base_ms: Option<u64>,
    /// Backoff cap (default 30000 ms).
    #[serde(default)]
    #[schema(maximum = 3_600_000)]
    #[ts(optional)]
    pub backoff_max_ms: Option<u64>,
    /// Default `<topic>.dlq`.
    #[serde(default)]
    #[ts(optional)]
    pub dead_letter_topic: Option<String>,
    /// Most records one consumer may hold (default 1000).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100_000)]
    #[ts(optional)]
    pub max_in_flight: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct QueueConsumer {
    pub consumer: String,
    pub in_flight: u32,
    /// 0 when only known from leases logged before a restart.
    pub last_seen_ms: i64,
}

/// A queue group with its settings, consumers and counts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct QueueGroupSummary {
    pub group: String,
    pub topic: String,
    pub lease_ms: u64,
    pub max_deliveries: u32,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    pub dead_letter_topic: String,
    pub max_in_flight: u32,
    pub consumers: Vec<QueueConsumer>,
    /// Leased right now.
    pub in_flight: u64,
    /// Waiting for a redelivery (backoff or delay).
    pub waiting: u64,
    /// Never delivered yet.
    pub backlog: u64,
    pub dead_letter_pending: u64,
    /// Records in the dead-letter topic.
    pub dead_letter_depth: u64,
    pub delivered: u64,
    pub redelivered: u64,
    pub accepted: u64,
    pub released: u64,
    pub expired: u64,
    pub dead_lettered: u64,
}

/// Ask for records.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct ReceiveRequest {
    /// Who receives (any name, 1–255 characters); acknowledgements must
    /// come from the same name.
    #[schema(min_length = 1, max_length = 255)]
    pub consumer: String,
    /// Up to this many records (default 10, at most 10000).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 10000)]
    #[ts(optional)]
    pub max_records: Option<u32>,
    /// This request's lease length instead of the group's.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3_600_000)]
    #[ts(optional)]
    pub lease_ms: Option<u64>,
    /// Wait up to this long when nothing is available (0–10000 ms).
    #[serde(default)]
    #[schema(maximum = 10000)]
    #[ts(optional)]
    pub wait_ms: Option<u32>,
    /// Create the group over this topic if it does not exist.
    #[serde(default)]
    #[ts(optional)]
    pub topic: Option<String>,
}

/// A leased record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct QueueMessage {
    /// 1 on the first delivery.
    pub delivery: u32,
    pub lease_deadline_ms: i64,
    pub message: Message,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
#[serde(rename_all = "lowercase")]
pub enum AckKind {
    /// Done.
    Accept,
    /// Redeliver (after `delay_ms`, or the backoff).
    Release,
    /// Dead-letter now.
    Reject,
    /// Keep the lease `lease_ms` longer from now.
    Extend,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct AckItem {
    pub partition: u32,
    pub offset: u64,
    /// The delivery number received; a stale one is refused.
    #[serde(default)]
    #[ts(optional)]
    pub delivery: Option<u32>,
    pub action: AckKind,
    /// `release`: wait this long instead of the backoff.
    #[serde(default)]
    #[schema(maximum = 3_600_000)]
    #[ts(optional)]
    pub delay_ms: Option<u64>,
    /// `reject`: why (kept in the dead letter's headers).
    #[serde(default)]
    #[ts(optional)]
    pub reason: Option<String>,
    /// `extend`: the new lease length from now.
    #[serde(default)]
    #[ts(optional)]
    pub lease_ms: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct AckRequest {
    pub consumer: String,
    #[schema(min_items = 1, max_items = 10000)]
    pub acks: Vec<AckItem>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct AckResult {
    pub partition: u32,
    pub offset: u64,
    pub ok: bool,
    /// Why it was refused (the record's state did not change).
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct AckResponse {
    pub results: Vec<AckResult>,
    pub failed: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct LeaseInfo {
    pub partition: u32,
    pub offset: u64,
    pub consumer: String,
    pub delivery: u32,
    pub deadline_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// First dead-letter offset to replay (default 0).
    #[serde(default)]
    #[ts(optional)]
    pub from_offset: Option<u64>,
    /// At most this many (default and limit 10000).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 10000)]
    #[ts(optional)]
    pub max_records: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct Replayed {
    pub replayed: u32,
    /// Where a further replay would start.
    pub next_offset: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct Left {
    /// Records it held, now available again.
    pub released: u32,
}

fn summary(s: queue::QueueSummary) -> QueueGroupSummary {
    QueueGroupSummary {
        group: s.group,
        topic: s.config.topic,
        lease_ms: s.config.lease_ms,
        max_deliveries: s.config.max_deliveries,
        backoff_base_ms: s.config.backoff_base_ms,
        backoff_max_ms: s.config.backoff_max_ms,
        dead_letter_topic: s.config.dead_letter_topic,
        max_in_flight: s.config.max_in_flight,
        consumers: s
            .members
            .into_iter()
            .map(|m| QueueConsumer {
                consumer: m.member,
                in_flight: m.in_flight,
                last_seen_ms: m.last_seen_ms,
            })
            .collect(),
        in_flight: s.in_flight,
        waiting: s.waiting,
        backlog: s.backlog,
        dead_letter_pending: s.dead_letter_pending,
        dead_letter_depth: s.dead_letter_depth,
        delivered: s.counters.delivered,
        redelivered: s.counters.redelivered,
        accepted: s.counters.accepted,
        released: s.counters.released,
        expired: s.counters.expired,
        dead_lettered: s.counters.dead_lettered,
    }
}

impl Workbench {
    fn queues(&self) -> queue::Queues {
        self.broker().queues.clone()
    }

    pub fn queue_groups(&self) -> Vec<QueueGroupSummary> {
        self.queues()
            .group_names()
            .iter()
            .filter_map(|g| self.queues().describe(g))
            .map(summary)
            .collect()
    }

    pub fn queue_group(&self, group: &str) -> Result<QueueGroupSummary, WorkbenchError> {
        self.queues()
            .describe(group)
            .map(summary)
            .ok_or_else(|| WorkbenchError::not_found(format!("unknown queue group {group:?}")))
    }

    pub async fn configure_queue(
        &self,
        group: &str,
        s: QueueSettings,
    ) -> Result<QueueGroupSummary, WorkbenchError> {
        let current = self.queues().config(group);
        let topic = match (&current, &s.topic) {
            (Some(c), None) => c.topic.clone(),
            (_, Some(t)) => t.clone(),
            (None, None) => {
                return Err(WorkbenchError::invalid("a new queue group needs a topic"));
            }
        };
        let base = current.unwrap_or_else(|| QueueConfig::new(&topic));
        let config = QueueConfig {
            topic,
            lease_ms: s.lease_ms.unwrap_or(base.lease_ms),
            max_deliveries: s.max_deliveries.unwrap_or(base.max_deliveries),
            backoff_base_ms: s.backoff_base_ms.unwrap_or(base.backoff_base_ms),
            backoff_max_ms: s.backoff_max_ms.unwrap_or(base.backoff_max_ms),
            dead_letter_topic: s.dead_letter_topic.unwrap_or(base.dead_letter_topic),
            max_in_flight: s.max_in_flight.unwrap_or(base.max_in_flight),
        };
        if pier_core::topic::is_internal(&config.topic) {
            return Err(WorkbenchError::invalid("internal topics cannot be queued"));
        }
        self.queues().configure(group, config).await?;
        self.queue_group(group)
    }

    pub async fn delete_queue(&self, group: &str) -> Result<(), WorkbenchError> {
        self.queues().delete(group).await?;
        Ok(())
    }

    pub async fn receive(
        &self,
        group: &str,
        req: ReceiveRequest,
    ) -> Result<Vec<QueueMessage>, WorkbenchError> {
        let wait = req.wait_ms.unwrap_or(0);
        if wait > RECEIVE_WAIT_MAX_MS {
            return Err(WorkbenchError::invalid(format!(
                "wait_ms must be 0..={RECEIVE_WAIT_MAX_MS}, got {wait}"
            )));
        }
        if let (Some(current), Some(asked)) = (self.queues().config(group), &req.topic)
            && current.topic != *asked
        {
            return Err(WorkbenchError::conflict(format!(
                "queue group {group:?} consumes topic {:?}, not {asked:?}",
                current.topic
            )));
        }
        if self.queues().config(group).is_none() {
            match &req.topic {
                Some(topic) => {
                    self.configure_queue(
                        group,
                        QueueSettings {
                            topic: Some(topic.clone()),
                            ..QueueSettings::default()
                        },
                    )
                    .await?;
                }
                None => {
                    return Err(WorkbenchError::not_found(format!(
                        "unknown queue group {group:?} (pass \"topic\" to create it)"
                    )));
                }
            }
        }
        let got = self
            .queues()
            .receive(
                group,
                &req.consumer,
                req.max_records.unwrap_or(10),
                req.lease_ms,
                Duration::from_millis(wait.into()),
            )
            .await?;
        Ok(got
            .into_iter()
            .map(|d| QueueMessage {
                delivery: d.delivery,
                lease_deadline_ms: d.lease_deadline_ms,
                message: message_of(d.partition, &d.record),
            })
            .collect())
    }

    pub async fn acknowledge(
        &self,
        group: &str,
        req: AckRequest,
    ) -> Result<AckResponse, WorkbenchError> {
        if req.acks.is_empty() || req.acks.len() > 10_000 {
            return Err(WorkbenchError::invalid("acks must hold 1–10000 items"));
        }
        let mut items = Vec::with_capacity(req.acks.len());
        for a in &req.acks {
            let action = match a.action {
                AckKind::Accept => AckAction::Accept,
                AckKind::Release => AckAction::Release {
                    delay_ms: a.delay_ms,
                },
                AckKind::Reject => AckAction::Reject {
                    reason: a.reason.clone().unwrap_or_default(),
                },
                AckKind::Extend => AckAction::Extend {
                    lease_ms: a.lease_ms.ok_or_else(|| {
                        WorkbenchError::invalid("extend needs lease_ms (the new lease length)")
                    })?,
                },
            };
            items.push((a.partition, a.offset, a.delivery, action));
        }
        let results = self
            .queues()
            .acknowledge(group, &req.consumer, items)
            .await?;
        let results: Vec<AckResult> = req
            .acks
            .iter()
            .zip(results)
            .map(|(a, r): (&AckItem, Result<(), AckError>)| AckResult {
                partition: a.partition,
                offset: a.offset,
                ok: r.is_ok(),
                error: r.err().map(|e| e.to_string()),
            })
            .collect();
        Ok(AckResponse {
            failed: results.iter().filter(|r| !r.ok).count() as u32,
            results,
        })
    }

    pub async fn leave_queue(&self, group: &str, consumer: &str) -> Result<Left, WorkbenchError> {
        if self.queues().config(group).is_none() {
            return Err(WorkbenchError::not_found(format!(
                "unknown queue group {group:?}"
            )));
        }
        let released = self
            .queues()
            .leave(group, consumer)
            .await
            .map_err(|e| match e {
                QueueError::Invalid(m) => WorkbenchError::not_found(m),
                other => other.into(),
            })?;
        Ok(Left {
            released: released as u32,
        })
    }

    pub fn queue_leases(&self, group: &str) -> Result<Vec<LeaseInfo>, WorkbenchError> {
        let leases = self
            .queues()
            .leases(group)
            .ok_or_else(|| WorkbenchError::not_found(format!("unknown queue group {group:?}")))?;
        Ok(leases
            .into_iter()
            .map(|l| LeaseInfo {
                partition: l.partition,
                offset: l.offset,
                consumer: l.member,
                delivery: l.delivery,
                deadline_ms: l.deadline_ms,
            })
            .collect())
    }

    /// Appends dead letters back to the group's topic (to their original
    /// partition, without the `pier-dlq-*` headers).
    pub async fn replay_dead_letters(
        &self,
        group: &str,
        req: ReplayRequest,
    ) -> Result<Replayed, WorkbenchError> {
        let config = self
            .queues()
            .config(group)
            .ok_or_else(|| WorkbenchError::not_found(format!("unknown queue group {group:?}")))?;
        let max = req.max_records.unwrap_or(10_000);
        if !(1..=10_000).contains(&max) {
            return Err(WorkbenchError::invalid(format!(
                "max_records must be 1..=10000, got {max}"
            )));
        }
        let from = req.from_offset.unwrap_or(0);
        if !self.store().has_topic(&config.dead_letter_topic) {
            return Ok(Replayed {
                replayed: 0,
                next_offset: from,
            });
        }
        let (_, end) = self
            .store()
            .offsets(&config.dead_letter_topic, 0)
            .map_err(|e| WorkbenchError::not_found(e.to_string()))?;
        let to = end.min(from.saturating_add(max.into()));
        let records = queue::read_records(&self.store(), &config.dead_letter_topic, 0, from, to)?;
        let partitions = self.topic(&config.topic)?.partitions.len() as u32;
        let mut replayed = 0;
        let mut next = from;
        for r in &records {
            let header = |name: &str| {
                r.headers
                    .iter()
                    .find(|(k, _)| k.as_str() == name)
                    .and_then(|(_, v)| v.as_ref())
                    .map(|v| String::from_utf8_lossy(v).into_owned())
            };
            let partition = header("pier-dlq-partition")
                .and_then(|p| p.parse::<u32>().ok())
                .filter(|p| *p < partitions)
                .unwrap_or(0);
            let record = pier_core::batch::NewRecord {
                key: r.key.clone(),
                value: r.value.clone(),
                headers: r
                    .headers
                    .iter()
                    .filter(|(k, _)| !queue::DLQ_HEADERS.contains(&k.as_str()))
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect(),
                timestamp_ms: self.now_ms(),
            };
            self.store()
                .append(
                    &config.topic,
                    partition,
                    pier_core::batch::build(
                        &[record],
                        kafka_protocol::records::Compression::None,
                        None,
                    ),
                )
                .await
                .map_err(|e| WorkbenchError::unavailable(e.to_string()))?;
            replayed += 1;
            next = r.offset as u64 + 1;
        }
        Ok(Replayed {
            replayed,
            next_offset: next,
        })
    }
}
