//! Errors of the store, one enum per operation family.

use crate::batch::BatchError;
use crate::topic::TopicError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    #[error("unknown topic {0:?}")]
    UnknownTopic(String),
    #[error("topic {topic:?} has no partition {partition} (it has {count})")]
    UnknownPartition {
        topic: String,
        partition: u32,
        count: u32,
    },
    #[error(transparent)]
    InvalidBatch(#[from] BatchError),
    #[error(
        "record batch of {size_bytes} bytes exceeds max.message.bytes={limit_bytes} of topic {topic:?}"
    )]
    BatchTooLarge {
        topic: String,
        size_bytes: usize,
        limit_bytes: u32,
    },
    #[error(
        "out-of-order sequence number from an idempotent producer: expected {expected}, got {got}"
    )]
    OutOfOrderSequence { expected: i32, got: i32 },
    #[error("producer epoch {got} is fenced by epoch {current_epoch}")]
    ProducerFenced { current_epoch: i16, got: i16 },
    #[error("the writer queue is full ({max} requests waiting)", max = super::WRITER_QUEUE_MAX)]
    QueueFull,
    #[error("store is poisoned and accepts no writes until it is reopened: {0}")]
    Poisoned(String),
    #[error("store is closed")]
    Closed,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("unknown topic {0:?}")]
    UnknownTopic(String),
    #[error("topic {topic:?} has no partition {partition} (it has {count})")]
    UnknownPartition {
        topic: String,
        partition: u32,
        count: u32,
    },
    #[error("offset {offset} is out of range: the log holds {log_start}..{high_watermark}")]
    OffsetOutOfRange {
        offset: u64,
        log_start: u64,
        high_watermark: u64,
    },
    #[error("storage error while reading: {0}")]
    Storage(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Topic(#[from] TopicError),
    #[error("store is poisoned and accepts no writes until it is reopened: {0}")]
    Poisoned(String),
    #[error("store is closed")]
    Closed,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot use data directory {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open database: {0}")]
    Database(#[from] redb::DatabaseError),
    #[error("database is damaged or from another program: {0}")]
    Corrupt(String),
    #[error("database format {found} is newer than this Pier understands ({supported})")]
    UnsupportedFormat { found: u64, supported: u64 },
}

/// Turns any redb error into the text that poisons the store.
pub(crate) fn storage_text(context: &str, err: impl std::fmt::Display) -> String {
    format!("{context}: {err}")
}
