//! Live events, computed by diffing snapshots.
//!
//! Each subscriber (an SSE stream, the desktop window) owns an
//! [`EventCursor`] and polls it on its own schedule, so a slow reader only
//! delays itself: nothing is queued for it and the broker never waits on
//! it. A reader that falls behind sees fewer, coarser events, never stale
//! ones.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::{StatsSample, Workbench};

/// Something that changed. Serialized with its `kind`; the SSE stream also
/// uses `kind` as the event name.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema, TS)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum LiveEvent {
    /// New records in a partition: offsets `from..high_watermark`.
    Records {
        topic: String,
        partition: u32,
        from: u64,
        high_watermark: u64,
    },
    TopicCreated {
        topic: String,
        partitions: u32,
    },
    TopicDeleted {
        topic: String,
    },
    /// A group seen for the first time.
    Group {
        group: String,
        state: String,
        generation: i32,
        members: Vec<String>,
    },
    MemberJoined {
        group: String,
        member: String,
        client_id: String,
    },
    MemberLeft {
        group: String,
        member: String,
    },
    /// A group changed generation or state.
    Rebalance {
        group: String,
        state: String,
        generation: i32,
        lag: u64,
    },
    /// The newest statistics sample (about once a second).
    Stats(StatsSample),
    /// A fault started, healed, or the broker recovered from one.
    Fault(pier_core::faults::TimelineEntry),
    /// The delivery ledger found something wrong with some records.
    Anomaly(pier_core::ledger::Anomaly),
}

impl LiveEvent {
    /// The event's `kind`, e.g. `member-joined`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Records { .. } => "records",
            Self::TopicCreated { .. } => "topic-created",
            Self::TopicDeleted { .. } => "topic-deleted",
            Self::Group { .. } => "group",
            Self::MemberJoined { .. } => "member-joined",
            Self::MemberLeft { .. } => "member-left",
            Self::Rebalance { .. } => "rebalance",
            Self::Stats(_) => "stats",
            Self::Fault(_) => "fault",
            Self::Anomaly(_) => "anomaly",
        }
    }
}

/// What one subscriber has seen so far.
#[derive(Debug, Default)]
pub struct EventCursor {
    started: bool,
    /// topic → high watermark per partition.
    topics: BTreeMap<String, Vec<u64>>,
    /// group → (state, generation, member ids).
    groups: BTreeMap<String, (String, i32, Vec<String>)>,
    stats_t_ms: i64,
    /// Fault timeline entries seen.
    faults_seen: u64,
    /// Ledger anomalies seen.
    anomalies_seen: u64,
}

impl EventCursor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Events for everything that changed since the last call. The first
    /// call only takes note of the current state (and returns the newest
    /// stats sample).
    pub fn poll(&mut self, wb: &Workbench) -> Vec<LiveEvent> {
        let mut out = Vec::new();
        let topics = wb.topics();
        let mut present = Vec::with_capacity(topics.len());
        for t in &topics {
            present.push(t.name.clone());
            let marks: Vec<u64> = t.partitions.iter().map(|p| p.high_watermark).collect();
            let before = self.topics.insert(t.name.clone(), marks.clone());
            if !self.started {
                continue;
            }
            if before.is_none() {
                out.push(LiveEvent::TopicCreated {
                    topic: t.name.clone(),
                    partitions: marks.len() as u32,
                });
            }
            let before = before.unwrap_or_default();
            for (p, hw) in marks.iter().enumerate() {
                let from = before.get(p).copied().unwrap_or(0);
                if *hw > from {
                    out.push(LiveEvent::Records {
                        topic: t.name.clone(),
                        partition: p as u32,
                        from,
                        high_watermark: *hw,
                    });
                }
            }
        }
        let gone: Vec<String> = self
            .topics
            .keys()
            .filter(|t| !present.contains(t))
            .cloned()
            .collect();
        for topic in gone {
            self.topics.remove(&topic);
            out.push(LiveEvent::TopicDeleted { topic });
        }
        for g in wb.groups() {
            let members: Vec<String> = g.members.iter().map(|m| m.member_id.clone()).collect();
            let now = (g.state.clone(), g.generation, members.clone());
            let before = self.groups.insert(g.group_id.clone(), now);
            if !self.started {
                continue;
            }
            let Some((state, generation, old_members)) = before else {
                out.push(LiveEvent::Group {
                    group: g.group_id.clone(),
                    state: g.state.clone(),
                    generation: g.generation,
                    members,
                });
                continue;
            };
            for m in g
                .members
                .iter()
                .filter(|m| !old_members.contains(&m.member_id))
            {
                out.push(LiveEvent::MemberJoined {
                    group: g.group_id.clone(),
                    member: m.member_id.clone(),
                    client_id: m.client_id.clone(),
                });
            }
            for m in old_members.iter().filter(|m| !members.contains(m)) {
                out.push(LiveEvent::MemberLeft {
                    group: g.group_id.clone(),
                    member: m.clone(),
                });
            }
            if generation != g.generation || state != g.state {
                out.push(LiveEvent::Rebalance {
                    group: g.group_id.clone(),
                    state: g.state.clone(),
                    generation: g.generation,
                    lag: g.total_lag,
                });
            }
        }
        if let Some(sample) = wb.latest_stats()
            && sample.t_ms != self.stats_t_ms
        {
            self.stats_t_ms = sample.t_ms;
            out.push(LiveEvent::Stats(sample));
        }
        let (entries, seen) = wb.fault_entries_since(self.faults_seen);
        if self.started {
            out.extend(entries.into_iter().map(LiveEvent::Fault));
        }
        self.faults_seen = seen;
        let (anomalies, seen) = wb
            .broker()
            .config
            .ledger
            .anomalies_since(self.anomalies_seen);
        if self.started {
            out.extend(anomalies.into_iter().map(LiveEvent::Anomaly));
        }
        self.anomalies_seen = seen;
        self.started = true;
        out
    }
}
