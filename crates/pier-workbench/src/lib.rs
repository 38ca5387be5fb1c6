//! The workbench facade: everything the desktop app, the HTTP API and the
//! CLI can do, in one place, so the adapters only translate.
//!
//! This first slice covers topics, connected clients and metrics; producing,
//! browsing, groups and live statistics follow (issue 5).

mod messages;

pub use messages::{BROWSE_LIMIT_MAX, Message, PRODUCE_COUNT_MAX, ProduceRequest, Produced};

use std::collections::BTreeMap;
use std::sync::Arc;

use pier_core::store::{AdminCommand, AdminError};
use pier_core::{Store, TopicConfig};
use pier_kafka::{Broker, ClientInfo};
use serde::{Deserialize, Serialize};

/// Why a workbench call failed; adapters map `kind` to their own errors
/// (HTTP status and problem type, a UI message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct WorkbenchError {
    pub kind: ErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    InvalidInput,
    NotFound,
    Conflict,
    Unavailable,
}

impl From<AdminError> for WorkbenchError {
    fn from(e: AdminError) -> Self {
        use pier_core::topic::TopicError as T;
        let kind = match &e {
            AdminError::Topic(T::UnknownTopic(_)) => ErrorKind::NotFound,
            AdminError::Topic(T::AlreadyExists(_)) => ErrorKind::Conflict,
            AdminError::Topic(_) => ErrorKind::InvalidInput,
            AdminError::Poisoned(_) | AdminError::Closed => ErrorKind::Unavailable,
        };
        Self {
            kind,
            message: e.to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PartitionSummary {
    pub partition: u32,
    pub log_start_offset: u64,
    pub high_watermark: u64,
    pub size_bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TopicSummary {
    pub name: String,
    pub id: String,
    pub partitions: Vec<PartitionSummary>,
    pub records: u64,
    pub size_bytes: u64,
    pub config: BTreeMap<String, String>,
}

/// A request to create a topic.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NewTopic {
    pub name: String,
    #[serde(default = "one")]
    pub partitions: u32,
    /// Kafka-named settings, e.g. `retention.ms`.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone)]
pub struct Workbench {
    store: Store,
    broker: Arc<Broker>,
}

impl Workbench {
    pub fn new(store: Store, broker: Arc<Broker>) -> Self {
        Self { store, broker }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn topics(&self) -> Vec<TopicSummary> {
        self.store
            .topic_names()
            .iter()
            .filter_map(|name| self.topic(name).ok())
            .collect()
    }

    pub fn topic(&self, name: &str) -> Result<TopicSummary, WorkbenchError> {
        let d = self
            .store
            .describe_topic(name)
            .ok_or_else(|| WorkbenchError {
                kind: ErrorKind::NotFound,
                message: format!("unknown topic {name:?}"),
            })?;
        let partitions: Vec<PartitionSummary> = d
            .partitions
            .iter()
            .map(|p| PartitionSummary {
                partition: p.partition,
                log_start_offset: p.log_start,
                high_watermark: p.high_watermark,
                size_bytes: p.size_bytes,
            })
            .collect();
        let config = TopicConfig::KEYS
            .iter()
            .filter_map(|k| d.meta.config.get(k).map(|v| ((*k).to_owned(), v)))
            .collect();
        Ok(TopicSummary {
            name: d.meta.name.clone(),
            id: d.meta.uuid.to_string(),
            records: partitions
                .iter()
                .map(|p| p.high_watermark - p.log_start_offset)
                .sum(),
            size_bytes: partitions.iter().map(|p| p.size_bytes).sum(),
            partitions,
            config,
        })
    }

    /// Validates everything first, so a refused request changes nothing.
    pub async fn create_topic(&self, new: NewTopic) -> Result<TopicSummary, WorkbenchError> {
        let mut config = TopicConfig::default();
        for (k, v) in &new.config {
            config.set(k, v).map_err(|e| WorkbenchError {
                kind: ErrorKind::InvalidInput,
                message: e.to_string(),
            })?;
        }
        self.store
            .create_topic(&new.name, new.partitions, config)
            .await?;
        self.topic(&new.name)
    }

    pub async fn delete_topic(&self, name: &str) -> Result<(), WorkbenchError> {
        self.store
            .admin(AdminCommand::DeleteTopic {
                name: name.to_owned(),
            })
            .await?;
        Ok(())
    }

    pub fn clients(&self) -> Vec<ClientInfo> {
        self.broker.clients()
    }

    /// Prometheus text exposition (format 0.0.4).
    pub fn metrics_text(&self) -> String {
        use std::fmt::Write;
        let stats = self.store.stats();
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, samples: Vec<(String, u64)>| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        metric(
            "pier_group_commits_total",
            "counter",
            "Group commits (one log fdatasync each).",
            vec![(String::new(), stats.commits)],
        );
        metric(
            "pier_appends_total",
            "counter",
            "Record batches appended.",
            vec![(String::new(), stats.appends)],
        );
        metric(
            "pier_group_commit_micros_total",
            "counter",
            "Time spent writing and syncing the log, in microseconds.",
            vec![(String::new(), stats.commit_micros_total)],
        );
        metric(
            "pier_connected_clients",
            "gauge",
            "Open Kafka connections.",
            vec![(String::new(), self.clients().len() as u64)],
        );
        metric(
            "pier_store_poisoned",
            "gauge",
            "1 after an I/O error until restart.",
            vec![(String::new(), u64::from(self.store.poisoned().is_some()))],
        );
        let topics = self.topics();
        let partition_samples = |f: fn(&PartitionSummary) -> u64| {
            topics
                .iter()
                .flat_map(|t| {
                    t.partitions.iter().map(move |p| {
                        (
                            format!("{{topic=\"{}\",partition=\"{}\"}}", t.name, p.partition),
                            f(p),
                        )
                    })
                })
                .collect::<Vec<_>>()
        };
        metric(
            "pier_partition_high_watermark",
            "gauge",
            "Next offset to be written.",
            partition_samples(|p| p.high_watermark),
        );
        metric(
            "pier_partition_log_start_offset",
            "gauge",
            "First offset still stored.",
            partition_samples(|p| p.log_start_offset),
        );
        metric(
            "pier_partition_size_bytes",
            "gauge",
            "Bytes of record batches stored.",
            partition_samples(|p| p.size_bytes),
        );
        out
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct GroupMember {
    pub member_id: String,
    pub client_id: String,
    pub client_host: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PartitionLag {
    pub topic: String,
    pub partition: u32,
    pub committed_offset: i64,
    pub high_watermark: u64,
    pub lag: u64,
}

/// A consumer group: its members (if any are connected) and, per committed
/// partition, how far behind it is.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct GroupSummary {
    pub group_id: String,
    pub state: String,
    pub generation: i32,
    pub members: Vec<GroupMember>,
    pub lag: Vec<PartitionLag>,
    pub total_lag: u64,
}

impl Workbench {
    pub fn groups(&self) -> Vec<GroupSummary> {
        let live = self.broker.groups.list();
        let mut ids: Vec<String> = live.iter().map(|g| g.group_id.clone()).collect();
        for g in self.store.groups_with_offsets() {
            if !ids.contains(&g) {
                ids.push(g);
            }
        }
        ids.sort();
        ids.into_iter()
            .map(|id| {
                let described = live.iter().find(|g| g.group_id == id);
                let lag: Vec<PartitionLag> = self
                    .store
                    .committed_offsets(&id)
                    .into_iter()
                    .filter_map(|((topic, partition), c)| {
                        let (_, hw) = self.store.offsets(&topic, partition).ok()?;
                        Some(PartitionLag {
                            lag: hw.saturating_sub(u64::try_from(c.offset).unwrap_or(0)),
                            topic,
                            partition,
                            committed_offset: c.offset,
                            high_watermark: hw,
                        })
                    })
                    .collect();
                GroupSummary {
                    state: described
                        .map_or("Empty", |g| g.state.kafka_name())
                        .to_owned(),
                    generation: described.map_or(0, |g| g.generation_id),
                    members: described
                        .map(|g| {
                            g.members
                                .iter()
                                .map(|m| GroupMember {
                                    member_id: m.member_id.clone(),
                                    client_id: m.client_id.clone(),
                                    client_host: m.client_host.clone(),
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    total_lag: lag.iter().map(|l| l.lag).sum(),
                    lag,
                    group_id: id,
                }
            })
            .collect()
    }
}
