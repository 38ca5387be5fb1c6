//! Topic names, per-topic configuration and the limits on both.

use serde::{Deserialize, Serialize};

/// Kafka's limit on topic name length.
pub const TOPIC_NAME_MAX_CHARS: usize = 249;
/// Upper bound on partitions per topic: a local broker does not need more,
/// and every partition costs memory for its index.
pub const PARTITIONS_PER_TOPIC_MAX: u32 = 1_024;
/// Upper bound on topics in one store.
pub const TOPICS_MAX: usize = 10_000;
/// Default `max.message.bytes`, as in Kafka (1 MiB + record overhead).
pub const DEFAULT_MAX_MESSAGE_BYTES: u32 = 1_048_588;
/// Hard ceiling on `max.message.bytes`.
pub const MAX_MESSAGE_BYTES_LIMIT: u32 = 64 * 1024 * 1024;
/// Longest duplicate-detection window: one day.
pub const DEDUP_WINDOW_MAX_MS: i64 = 86_400_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    #[error("invalid topic name {name:?}: {reason}")]
    InvalidName { name: String, reason: &'static str },
    #[error("topic {0:?} already exists")]
    AlreadyExists(String),
    #[error("unknown topic {0:?}")]
    UnknownTopic(String),
    #[error("partition count {count} is out of range 1..={max}", max = PARTITIONS_PER_TOPIC_MAX)]
    InvalidPartitionCount { count: u32 },
    #[error("partition count can only grow: topic has {current}, asked for {requested}")]
    PartitionsCannotShrink { current: u32, requested: u32 },
    #[error("invalid config {key}={value:?}: {reason}")]
    InvalidConfig {
        key: String,
        value: String,
        reason: String,
    },
    #[error("too many topics: the limit is {max}", max = TOPICS_MAX)]
    TooManyTopics,
    #[error("topic {0:?} is internal to Pier")]
    Internal(String),
}

/// Prefix of Pier's own topics (queue state): hidden from listings and
/// closed to clients.
pub const INTERNAL_PREFIX: &str = "__pier";

/// Whether `name` is one of Pier's own topics.
pub fn is_internal(name: &str) -> bool {
    name.starts_with(INTERNAL_PREFIX)
}

/// Checks a topic name against Kafka's rules.
pub fn validate_name(name: &str) -> Result<(), TopicError> {
    let invalid = |reason| TopicError::InvalidName {
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() {
        return Err(invalid("must not be empty"));
    }
    if name == "." || name == ".." {
        return Err(invalid("must not be \".\" or \"..\""));
    }
    if name.len() > TOPIC_NAME_MAX_CHARS {
        return Err(invalid("longer than 249 characters"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return Err(invalid(
            "only ASCII letters, digits, '.', '_' and '-' are allowed",
        ));
    }
    Ok(())
}

/// Per-topic settings, named as Kafka names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicConfig {
    /// `retention.ms`: batches whose newest record is older are deleted; -1 keeps forever.
    pub retention_ms: i64,
    /// `retention.bytes`: per partition; -1 means no size limit.
    pub retention_bytes: i64,
    /// `max.message.bytes`: the largest record batch accepted.
    pub max_message_bytes: u32,
    /// `dedup.window.ms`: records whose id was stored this recently are
    /// not stored again; 0 turns duplicate detection off.
    #[serde(default)]
    pub dedup_window_ms: i64,
    /// `dedup.id`: where a record's id is: the `pier-dedup-id` header
    /// (`header`) or its key (`key`).
    #[serde(default)]
    pub dedup_id: DedupId,
}

/// Where duplicate detection finds a record's id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DedupId {
    #[default]
    Header,
    Key,
}

impl Default for TopicConfig {
    fn default() -> Self {
        Self {
            retention_ms: 7 * 24 * 60 * 60 * 1000,
            retention_bytes: -1,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            dedup_window_ms: 0,
            dedup_id: DedupId::Header,
        }
    }
}

impl TopicConfig {
    /// Names of the keys [`TopicConfig::set`] understands.
    pub const KEYS: [&'static str; 5] = [
        "retention.ms",
        "retention.bytes",
        "max.message.bytes",
        "dedup.window.ms",
        "dedup.id",
    ];

    /// Applies one Kafka-style `key=value` setting.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), TopicError> {
        let invalid = |reason: String| TopicError::InvalidConfig {
            key: key.to_owned(),
            value: value.to_owned(),
            reason,
        };
        let number = || {
            value
                .trim()
                .parse::<i64>()
                .map_err(|e| invalid(format!("not an integer: {e}")))
        };
        match key {
            "retention.ms" | "retention.bytes" => {
                let n = number()?;
                if n < -1 {
                    return Err(invalid("must be -1 (unlimited) or >= 0".into()));
                }
                if key == "retention.ms" {
                    self.retention_ms = n;
                } else {
                    self.retention_bytes = n;
                }
            }
            "max.message.bytes" => {
                let n = number()?;
                if !(1..=i64::from(MAX_MESSAGE_BYTES_LIMIT)).contains(&n) {
                    return Err(invalid(format!("must be in 1..={MAX_MESSAGE_BYTES_LIMIT}")));
                }
                self.max_message_bytes = n as u32;
            }
            "dedup.window.ms" => {
                let n = number()?;
                if !(0..=DEDUP_WINDOW_MAX_MS).contains(&n) {
                    return Err(invalid(format!(
                        "must be 0 (off) to {DEDUP_WINDOW_MAX_MS} (one day)"
                    )));
                }
                self.dedup_window_ms = n;
            }
            "dedup.id" => {
                self.dedup_id = match value.trim() {
                    "header" => DedupId::Header,
                    "key" => DedupId::Key,
                    _ => return Err(invalid("must be header or key".into())),
                };
            }
            _ => {
                return Err(invalid(format!(
                    "unknown key; known keys are {:?}",
                    Self::KEYS
                )));
            }
        }
        Ok(())
    }

    /// Current value of a key as Kafka would print it.
    pub fn get(&self, key: &str) -> Option<String> {
        match key {
            "retention.ms" => Some(self.retention_ms.to_string()),
            "retention.bytes" => Some(self.retention_bytes.to_string()),
            "max.message.bytes" => Some(self.max_message_bytes.to_string()),
            "dedup.window.ms" => Some(self.dedup_window_ms.to_string()),
            "dedup.id" => Some(
                match self.dedup_id {
                    DedupId::Header => "header",
                    DedupId::Key => "key",
                }
                .to_owned(),
            ),
            _ => None,
        }
    }
}

/// What the store persists about a topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicMeta {
    pub name: String,
    /// Compact id used in storage keys; never reused within a store.
    pub id: u32,
    /// Kafka topic id (Metadata v10+, Fetch v13+).
    pub uuid: uuid::Uuid,
    pub partitions: u32,
    pub config: TopicConfig,
    pub created_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_kafka_rules() {
        for ok in ["orders", "a.b-c_D9", &"x".repeat(249)] {
            validate_name(ok).unwrap();
        }
        for bad in ["", ".", "..", "has space", "ünï", &"x".repeat(250), "a/b"] {
            assert!(validate_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn config_keys_parse_and_reject() {
        let mut c = TopicConfig::default();
        c.set("retention.ms", "1000").unwrap();
        c.set("retention.bytes", "-1").unwrap();
        c.set("max.message.bytes", "2048").unwrap();
        assert_eq!(c.get("retention.ms").as_deref(), Some("1000"));
        assert_eq!(c.max_message_bytes, 2048);
        assert!(c.set("retention.ms", "-5").is_err());
        assert!(c.set("retention.ms", "soon").is_err());
        assert!(c.set("max.message.bytes", "0").is_err());
        assert!(c.set("cleanup.policy", "compact").is_err());
        assert_eq!(c.retention_ms, 1000, "a refused set changes nothing");
    }
}
