//! Topics and connected clients.

use std::collections::BTreeMap;

use pier_core::TopicConfig;
use pier_core::store::AdminCommand;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::{Workbench, WorkbenchError};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct PartitionSummary {
    pub partition: u32,
    /// First offset still stored.
    pub log_start_offset: u64,
    /// Next offset to be written.
    pub high_watermark: u64,
    pub size_bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct TopicSummary {
    pub name: String,
    /// The topic id Kafka clients see.
    pub id: String,
    pub partitions: Vec<PartitionSummary>,
    /// Records currently stored (high watermark minus log start, summed).
    pub records: u64,
    pub size_bytes: u64,
    /// Settings by Kafka name (`retention.ms`, `retention.bytes`,
    /// `max.message.bytes`).
    pub config: BTreeMap<String, String>,
}

/// A request to create a topic.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct NewTopic {
    /// 1–249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
    #[schema(min_length = 1, max_length = 249, pattern = "^[a-zA-Z0-9._-]+$")]
    pub name: String,
    #[serde(default = "one")]
    #[schema(default = 1, minimum = 1, maximum = 1024)]
    #[ts(optional)]
    pub partitions: Option<u32>,
    /// Kafka-named settings: `retention.ms`, `retention.bytes`,
    /// `max.message.bytes`.
    #[serde(default)]
    #[ts(optional)]
    pub config: Option<BTreeMap<String, String>>,
}

/// Changes to a topic: settings to set (a `null` value restores the
/// default) and, optionally, more partitions.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct TopicUpdate {
    /// Kafka-named settings to change; `null` restores a setting's default.
    #[serde(default)]
    #[ts(optional)]
    pub config: Option<BTreeMap<String, Option<String>>>,
    /// New partition count; partitions can be added, never removed.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1024)]
    #[ts(optional)]
    pub partitions: Option<u32>,
}

fn one() -> Option<u32> {
    Some(1)
}

/// An open Kafka connection.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct ClientSummary {
    pub connection_id: u64,
    /// `host:port` of the client's end.
    pub peer: String,
    pub client_id: Option<String>,
    pub requests: u64,
}

impl Workbench {
    pub fn topics(&self) -> Vec<TopicSummary> {
        self.store()
            .topic_names()
            .iter()
            .filter(|name| !pier_core::topic::is_internal(name))
            .filter_map(|name| self.topic(name).ok())
            .collect()
    }

    pub fn topic(&self, name: &str) -> Result<TopicSummary, WorkbenchError> {
        let d = self
            .store()
            .describe_topic(name)
            .ok_or_else(|| WorkbenchError::not_found(format!("unknown topic {name:?}")))?;
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
        for (k, v) in new.config.iter().flatten() {
            config
                .set(k, v)
                .map_err(|e| WorkbenchError::invalid(e.to_string()))?;
        }
        self.store()
            .create_topic(&new.name, new.partitions.unwrap_or(1), config)
            .await?;
        self.topic(&new.name)
    }

    /// Changes settings and/or adds partitions. Everything is validated
    /// first, so a refused request changes nothing.
    pub async fn update_topic(
        &self,
        name: &str,
        update: TopicUpdate,
    ) -> Result<TopicSummary, WorkbenchError> {
        if pier_core::topic::is_internal(name) {
            return Err(WorkbenchError::invalid(format!(
                "topic {name:?} is internal to Pier"
            )));
        }
        let current = self
            .store()
            .describe_topic(name)
            .ok_or_else(|| WorkbenchError::not_found(format!("unknown topic {name:?}")))?;
        let have = current.partitions.len() as u32;
        if let Some(total) = update.partitions
            && !(have..=pier_core::topic::PARTITIONS_PER_TOPIC_MAX).contains(&total)
        {
            return Err(WorkbenchError::invalid(format!(
                "partitions can only grow: topic {name:?} has {have}, the most is {}, got {total}",
                pier_core::topic::PARTITIONS_PER_TOPIC_MAX
            )));
        }
        let mut config = current.meta.config.clone();
        let defaults = TopicConfig::default();
        for (k, v) in update.config.iter().flatten() {
            let value = match v {
                Some(v) => v.clone(),
                None => defaults.get(k).ok_or_else(|| {
                    WorkbenchError::invalid(format!(
                        "unknown setting {k:?}; known settings are {:?}",
                        TopicConfig::KEYS
                    ))
                })?,
            };
            config
                .set(k, &value)
                .map_err(|e| WorkbenchError::invalid(e.to_string()))?;
        }
        if update.config.as_ref().is_some_and(|c| !c.is_empty()) {
            self.store()
                .admin(AdminCommand::SetConfig {
                    name: name.to_owned(),
                    config,
                })
                .await?;
        }
        if let Some(total) = update.partitions.filter(|t| *t > have) {
            self.store()
                .admin(AdminCommand::CreatePartitions {
                    name: name.to_owned(),
                    total,
                })
                .await?;
        }
        self.topic(name)
    }

    pub async fn delete_topic(&self, name: &str) -> Result<(), WorkbenchError> {
        self.store()
            .admin(AdminCommand::DeleteTopic {
                name: name.to_owned(),
            })
            .await?;
        self.broker().config.ledger.topic_deleted(name);
        Ok(())
    }

    pub fn clients(&self) -> Vec<ClientSummary> {
        self.broker()
            .clients()
            .into_iter()
            .map(|c| ClientSummary {
                connection_id: c.connection_id,
                peer: c.peer.to_string(),
                client_id: c.client_id,
                requests: c.requests,
            })
            .collect()
    }
}
