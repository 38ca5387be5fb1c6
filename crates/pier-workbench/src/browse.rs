//! Browsing stored messages: by offset or time, oldest or newest first,
//! filtered, with each message's delivery state in a chosen group.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::{IntoParams, ToSchema};

use pier_core::queue::Slot;

use crate::messages::{Message, OFFSET_MAX, message_of};
use crate::{Workbench, WorkbenchError};

/// Most messages one browse request returns.
pub const BROWSE_LIMIT_MAX: u32 = 1_000;
/// Most records one browse request looks at when filtering.
pub const BROWSE_SCAN_MAX: u32 = 20_000;
/// Longest a browse request waits for new messages.
pub const BROWSE_WAIT_MAX_MS: u32 = 10_000;

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// Ascending offsets from `offset` (default: the log start).
    #[default]
    Oldest,
    /// Descending offsets below `offset` (default: the high watermark).
    Newest,
}

/// Which messages to browse.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, IntoParams, TS)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BrowseQuery {
    /// Partition to read (default 0).
    #[serde(default)]
    #[ts(optional)]
    pub partition: Option<u32>,
    /// Oldest first: the first offset to return. Newest first: return
    /// offsets below this one.
    #[serde(default)]
    #[ts(optional)]
    pub offset: Option<u64>,
    /// At most this many messages (1–1000, default 100).
    #[serde(default)]
    #[param(minimum = 1, maximum = 1000)]
    #[ts(optional)]
    pub limit: Option<u32>,
    #[serde(default)]
    #[param(inline)]
    #[ts(optional)]
    pub order: Option<Order>,
    /// Start at a time instead of an offset (Unix ms): oldest first from
    /// the first message at or after it, newest first from the last
    /// message at or before it. Not together with `offset`.
    #[serde(default)]
    #[ts(optional)]
    pub time_ms: Option<i64>,
    /// Show each message's delivery state in this consumer group (a Kafka
    /// group or a queue group).
    #[serde(default)]
    #[ts(optional)]
    pub group: Option<String>,
    /// Only messages whose key contains this text.
    #[serde(default)]
    #[ts(optional)]
    pub key: Option<String>,
    /// Only messages whose value contains this text.
    #[serde(default)]
    #[ts(optional)]
    pub value: Option<String>,
    /// Only messages with a header whose `name=value` contains this text.
    #[serde(default)]
    #[ts(optional)]
    pub header: Option<String>,
    /// Oldest first, at the end of the log: wait up to this long for new
    /// messages (0–10000 ms).
    #[serde(default)]
    #[param(maximum = 10000)]
    #[ts(optional)]
    pub wait_ms: Option<u32>,
}

/// Where a message stands in a consumer group.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DeliveryState {
    /// Kafka group: below the group's committed offset.
    Committed,
    /// Kafka group: at or above the committed offset (or none committed).
    Uncommitted,
    /// Queue group: never delivered yet.
    Ready,
    /// Queue group: leased to `consumer` until `lease_deadline_ms`.
    InFlight {
        consumer: String,
        delivery: u32,
        lease_deadline_ms: i64,
    },
    /// Queue group: released, rejected by a lease running out, or failed;
    /// delivered again from `not_before_ms`.
    Retrying {
        deliveries: u32,
        not_before_ms: i64,
        reason: Option<String>,
    },
    /// Queue group: out of deliveries, on its way to the dead-letter topic.
    DeadLettering { deliveries: u32, reason: String },
    /// Queue group: finished (accepted, or written to the dead-letter topic).
    Done,
}

/// A page of messages and where to continue.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct BrowsePage {
    pub messages: Vec<Message>,
    /// Pass as `offset` to get the next page; `null` when there is nothing
    /// further in this direction (yet).
    pub next_offset: Option<u64>,
    pub log_start_offset: u64,
    pub high_watermark: u64,
    /// Records looked at (more than returned when filtering).
    pub scanned: u32,
}

impl Workbench {
    /// A page of one partition's messages, optionally filtered; oldest
    /// first may wait for new ones.
    pub async fn browse(&self, topic: &str, q: &BrowseQuery) -> Result<BrowsePage, WorkbenchError> {
        let limit = q.limit.unwrap_or(100);
        if !(1..=BROWSE_LIMIT_MAX).contains(&limit) {
            return Err(WorkbenchError::invalid(format!(
                "limit must be 1..={BROWSE_LIMIT_MAX}, got {limit}"
            )));
        }
        let wait = q.wait_ms.unwrap_or(0);
        if wait > BROWSE_WAIT_MAX_MS {
            return Err(WorkbenchError::invalid(format!(
                "wait_ms must be 0..={BROWSE_WAIT_MAX_MS}, got {wait}"
            )));
        }
        if q.offset.is_some_and(|o| o > OFFSET_MAX) {
            return Err(WorkbenchError::invalid(format!(
                "offset must be at most {OFFSET_MAX} (Kafka offsets are signed 64-bit)"
            )));
        }
        let partition = q.partition.unwrap_or(0);
        let summary = self.topic(topic)?;
        if partition as usize >= summary.partitions.len() {
            return Err(WorkbenchError::not_found(format!(
                "topic {topic:?} has {} partitions, no partition {partition}",
                summary.partitions.len()
            )));
        }
        let q = &self.resolve_time(topic, partition, q)?;
        let page = self.browse_once(topic, partition, q, limit)?;
        let order = q.order.unwrap_or_default();
        if wait == 0 || order == Order::Newest || !page.messages.is_empty() {
            return self.with_delivery(topic, partition, q, page);
        }
        let from = q
            .offset
            .unwrap_or(page.log_start_offset)
            .max(page.high_watermark);
        let _ = tokio::time::timeout(
            Duration::from_millis(wait.into()),
            self.store().wait_for_offset(topic, partition, from),
        )
        .await;
        let q = BrowseQuery {
            offset: Some(from),
            ..q.clone()
        };
        let page = self.browse_once(topic, partition, &q, limit)?;
        self.with_delivery(topic, partition, &q, page)
    }

    /// Turns `time_ms` into the offset to start from.
    fn resolve_time(
        &self,
        topic: &str,
        partition: u32,
        q: &BrowseQuery,
    ) -> Result<BrowseQuery, WorkbenchError> {
        let Some(t) = q.time_ms else {
            return Ok(q.clone());
        };
        if q.offset.is_some() {
            return Err(WorkbenchError::invalid(
                "give offset or time_ms, not both".to_owned(),
            ));
        }
        let find = |t: i64| {
            self.store()
                .offset_for_timestamp(topic, partition, t)
                .map_err(|e| WorkbenchError::unavailable(e.to_string()))
        };
        let (_, end) = self
            .store()
            .offsets(topic, partition)
            .map_err(|e| WorkbenchError::not_found(e.to_string()))?;
        let offset = match q.order.unwrap_or_default() {
            // The first message at or after `t`.
            Order::Oldest => find(t)?.map_or(end, |(o, _)| o),
            // Below the first message after `t`.
            Order::Newest => find(t.saturating_add(1))?.map_or(end, |(o, _)| o),
        };
        Ok(BrowseQuery {
            offset: Some(offset),
            time_ms: None,
            ..q.clone()
        })
    }

    /// Adds each message's state in `q.group`, if asked.
    fn with_delivery(
        &self,
        topic: &str,
        partition: u32,
        q: &BrowseQuery,
        mut page: BrowsePage,
    ) -> Result<BrowsePage, WorkbenchError> {
        let Some(group) = q.group.as_deref() else {
            return Ok(page);
        };
        let lo = page.messages.iter().map(|m| m.offset).min().unwrap_or(0);
        let hi = page
            .messages
            .iter()
            .map(|m| m.offset + 1)
            .max()
            .unwrap_or(0);
        if let Some(view) = self
            .broker()
            .queues
            .partition_view(group, partition, lo, hi)
        {
            if view.topic != topic {
                return Err(WorkbenchError::invalid(format!(
                    "queue group {group:?} reads topic {:?}, not {topic:?}",
                    view.topic
                )));
            }
            for m in &mut page.messages {
                m.delivery = Some(match view.slots.get(&m.offset) {
                    _ if m.offset >= view.cursor => DeliveryState::Ready,
                    Some(Slot::Leased {
                        member,
                        deadline_ms,
                        deliveries,
                    }) => DeliveryState::InFlight {
                        consumer: member.clone(),
                        delivery: *deliveries,
                        lease_deadline_ms: *deadline_ms,
                    },
                    Some(Slot::Available {
                        deliveries,
                        not_before_ms,
                        last_reason,
                    }) => DeliveryState::Retrying {
                        deliveries: *deliveries,
                        not_before_ms: *not_before_ms,
                        reason: last_reason.clone(),
                    },
                    Some(Slot::DeadLetter { deliveries, reason }) => DeliveryState::DeadLettering {
                        deliveries: *deliveries,
                        reason: reason.clone(),
                    },
                    None => DeliveryState::Done,
                });
            }
            return Ok(page);
        }
        let committed = self.store().committed_offsets(group);
        if committed.is_empty() && self.broker().groups.describe(group).is_none() {
            return Err(WorkbenchError::not_found(format!(
                "no consumer group or queue group {group:?}"
            )));
        }
        let upto = committed
            .get(&(topic.to_owned(), partition))
            .map_or(0, |c| c.offset.max(0) as u64);
        for m in &mut page.messages {
            m.delivery = Some(if m.offset < upto {
                DeliveryState::Committed
            } else {
                DeliveryState::Uncommitted
            });
        }
        Ok(page)
    }

    fn browse_once(
        &self,
        topic: &str,
        partition: u32,
        q: &BrowseQuery,
        limit: u32,
    ) -> Result<BrowsePage, WorkbenchError> {
        let (start, end) = self
            .store()
            .offsets(topic, partition)
            .map_err(|e| WorkbenchError::not_found(e.to_string()))?;
        let filtered = q.key.is_some() || q.value.is_some() || q.header.is_some();
        let keep = |m: &Message| {
            q.key
                .as_deref()
                .is_none_or(|k| m.key.as_deref().is_some_and(|x| x.contains(k)))
                && q.value
                    .as_deref()
                    .is_none_or(|v| m.value.as_deref().is_some_and(|x| x.contains(v)))
                && q.header.as_deref().is_none_or(|h| {
                    m.headers
                        .iter()
                        .any(|(k, v)| format!("{k}={v}").contains(h))
                })
        };
        let budget = if filtered { BROWSE_SCAN_MAX } else { limit };
        let mut page = BrowsePage {
            messages: Vec::new(),
            next_offset: None,
            log_start_offset: start,
            high_watermark: end,
            scanned: 0,
        };
        match q.order.unwrap_or_default() {
            Order::Oldest => {
                let mut next = q.offset.unwrap_or(start).max(start);
                while next < end && page.messages.len() < limit as usize && page.scanned < budget {
                    let want = (budget - page.scanned) as usize;
                    let got = self.read_range(topic, partition, next, end, want)?;
                    if got.is_empty() {
                        break;
                    }
                    for m in got {
                        if page.messages.len() >= limit as usize {
                            break;
                        }
                        next = m.offset + 1;
                        page.scanned += 1;
                        if keep(&m) {
                            page.messages.push(m);
                        }
                    }
                }
                page.next_offset = Some(next);
            }
            Order::Newest => {
                let mut below = q.offset.unwrap_or(end).min(end);
                let step = u64::from(limit.max(256));
                while below > start && page.messages.len() < limit as usize && page.scanned < budget
                {
                    let from = below.saturating_sub(step).max(start);
                    let got = self.read_range(topic, partition, from, below, usize::MAX)?;
                    let mut lowest = from;
                    for m in got.into_iter().rev() {
                        if page.messages.len() >= limit as usize || page.scanned >= budget {
                            break;
                        }
                        lowest = m.offset;
                        page.scanned += 1;
                        if keep(&m) {
                            page.messages.push(m);
                        }
                    }
                    below = lowest;
                }
                page.next_offset = (below > start).then_some(below);
            }
        }
        Ok(page)
    }

    /// Decoded messages with offsets in `from..to`, at most `max` (offsets
    /// are dense, so at most `max` offsets are read).
    fn read_range(
        &self,
        topic: &str,
        partition: u32,
        from: u64,
        to: u64,
        max: usize,
    ) -> Result<Vec<Message>, WorkbenchError> {
        let to = to.min(from.saturating_add(max as u64));
        Ok(
            pier_core::queue::read_records(&self.store(), topic, partition, from, to)?
                .iter()
                .map(|r| message_of(partition, r))
                .collect(),
        )
    }
}
