//! The redb tables. Keys use a compact topic id so a topic can be renamed or
//! recreated without rewriting its log; see `docs/design.md`.

use redb::TableDefinition;

/// Key of a stored batch or its index entry: (topic id, partition, base offset).
pub type BatchKey = (u32, u32, u64);

/// Topic name → JSON [`crate::topic::TopicMeta`].
pub const TOPICS: TableDefinition<&str, &[u8]> = TableDefinition::new("topics");
/// (topic id, partition) → (log start offset, next offset when the log is
/// empty). With batches present the next offset follows the last batch.
pub const PARTITIONS: TableDefinition<(u32, u32), (u64, u64)> = TableDefinition::new("partitions");
/// Batch bytes as the client sent them, base offset rewritten.
pub const LOG: TableDefinition<BatchKey, &[u8]> = TableDefinition::new("log");
/// (last offset, max timestamp ms, size bytes) of each batch, so opening a
/// store never reads the log itself.
pub const BATCH_INDEX: TableDefinition<BatchKey, (u64, i64, u32)> =
    TableDefinition::new("batch_index");
/// (group, topic, partition) → (committed offset, metadata).
pub const GROUP_OFFSETS: TableDefinition<(&str, &str, u32), (i64, &str)> =
    TableDefinition::new("group_offsets");
/// Store-wide counters and the format version.
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

pub const META_FORMAT_VERSION: &str = "format_version";
pub const META_NEXT_TOPIC_ID: &str = "next_topic_id";
/// Next idempotent producer id to hand out.
pub const META_NEXT_PRODUCER_ID: &str = "next_producer_id";
/// Sequence number of the last write-ahead log entry applied to the tables.
pub const META_WAL_APPLIED_SEQ: &str = "wal_applied_seq";
/// Bumped on any incompatible change to the tables above.
pub const FORMAT_VERSION: u64 = 1;
