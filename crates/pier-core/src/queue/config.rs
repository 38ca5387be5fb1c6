//! A queue group's settings, with Kafka share-group defaults.

use serde::{Deserialize, Serialize};

/// Longest lease (and longest explicit redelivery delay): one hour, as
/// Kafka's `group.share.max.record.lock.duration.ms`.
pub const LEASE_MAX_MS: u64 = 3_600_000;
/// Default lease: 30 s (`group.share.record.lock.duration.ms`).
pub const LEASE_DEFAULT_MS: u64 = 30_000;
/// Default delivery limit (`group.share.delivery.count.limit`).
pub const MAX_DELIVERIES_DEFAULT: u32 = 5;
/// Most records one receive may ask for.
pub const RECEIVE_MAX_RECORDS: u32 = 10_000;
/// A member not heard from for this long leaves (its leases are released).
pub const MEMBER_TIMEOUT_MS: i64 = 45_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueConfig {
    /// The topic the group consumes.
    pub topic: String,
    pub lease_ms: u64,
    /// Deliveries before a record is dead-lettered.
    pub max_deliveries: u32,
    pub backoff_base_ms: u64,
    pub backoff_max_ms: u64,
    /// Where records go after `max_deliveries` or a reject.
    pub dead_letter_topic: String,
    /// Most records one member may hold at once.
    pub max_in_flight: u32,
}

impl QueueConfig {
    pub fn new(topic: &str) -> Self {
        Self {
            topic: topic.to_owned(),
            lease_ms: LEASE_DEFAULT_MS,
            max_deliveries: MAX_DELIVERIES_DEFAULT,
            backoff_base_ms: 500,
            backoff_max_ms: 30_000,
            dead_letter_topic: format!("{topic}.dlq"),
            max_in_flight: 1_000,
        }
    }

    /// Checks every limit; the message names the setting.
    pub fn validate(&self) -> Result<(), String> {
        crate::topic::validate_name(&self.topic).map_err(|e| e.to_string())?;
        crate::topic::validate_name(&self.dead_letter_topic)
            .map_err(|e| format!("dead-letter topic: {e}"))?;
        if self.dead_letter_topic == self.topic {
            return Err("the dead-letter topic must differ from the topic".to_owned());
        }
        if !(1..=LEASE_MAX_MS).contains(&self.lease_ms) {
            return Err(format!(
                "lease_ms must be 1..={LEASE_MAX_MS}, got {}",
                self.lease_ms
            ));
        }
        if !(1..=100).contains(&self.max_deliveries) {
            return Err(format!(
                "max_deliveries must be 1..=100, got {}",
                self.max_deliveries
            ));
        }
        if self.backoff_base_ms > LEASE_MAX_MS || self.backoff_max_ms > LEASE_MAX_MS {
            return Err(format!("backoff must be at most {LEASE_MAX_MS} ms"));
        }
        if self.backoff_max_ms < self.backoff_base_ms {
            return Err(format!(
                "backoff_max_ms ({}) must be at least backoff_base_ms ({})",
                self.backoff_max_ms, self.backoff_base_ms
            ));
        }
        if !(1..=100_000).contains(&self.max_in_flight) {
            return Err(format!(
                "max_in_flight must be 1..=100000, got {}",
                self.max_in_flight
            ));
        }
        Ok(())
    }
}
