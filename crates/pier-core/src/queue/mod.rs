//! Queue groups: per-message acknowledgements with leases, redelivery with
//! backoff, dead-letter topics (what RabbitMQ, SQS and Kafka's share
//! groups give) over any topic.
//!
//! - [`state`]: one group's lease state machine, pure and event-sourced.
//! - [`service`]: [`Queues`], which logs every event durably in the
//!   internal topic [`QUEUE_STATE_TOPIC`] (through the store's group
//!   commit) before answering, replays it on open, reads payloads, expires
//!   leases and writes dead letters.

mod compact;
pub mod config;
mod dead_letter;
mod replay;
mod service;
pub mod state;
mod summary;
mod types;

pub use config::{
    LEASE_DEFAULT_MS, LEASE_MAX_MS, MAX_DELIVERIES_DEFAULT, MEMBER_TIMEOUT_MS, QueueConfig,
    RECEIVE_MAX_RECORDS,
};
pub use replay::{RepairReport, UnreadableEvent};
pub use service::{
    DLQ_HEADERS, Delivery, QUEUE_STATE_TOPIC, QueueError, QueueMemberSummary, QueueSummary, Queues,
    SNAPSHOT_EVERY_APPENDS, read_records,
};
pub use state::{QueueGroup, backoff_ms};
pub use summary::PartitionView;
pub use types::{
    AckAction, AckError, Event, Grant, GroupSnapshot, Lease, PendingDeadLetter, QueueCounters, Slot,
};
