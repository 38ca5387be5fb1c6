//! The fault timeline, persisted in the internal topic `__pier_faults` so it
//! survives restarts (including the crashes it records).

use bytes::Bytes;
use kafka_protocol::records::Compression;

use super::registry::{TIMELINE_MAX, TimelineEntry};
use crate::batch::{self, NewRecord};
use crate::store::{AdminError, Store};
use crate::topic::{TopicConfig, TopicError};

/// Internal topic holding the timeline, one JSON record per entry.
pub const FAULT_TIMELINE_TOPIC: &str = "__pier_faults";

/// Creates the timeline topic if needed and reads its newest entries,
/// oldest first.
pub async fn load(store: &Store) -> Result<Vec<TimelineEntry>, String> {
    if !store.has_topic(FAULT_TIMELINE_TOPIC) {
        let config = TopicConfig {
            retention_ms: -1,
            retention_bytes: 8 << 20,
            ..TopicConfig::default()
        };
        match store.create_topic(FAULT_TIMELINE_TOPIC, 1, config).await {
            Ok(_) | Err(AdminError::Topic(TopicError::AlreadyExists(_))) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    let (start, end) = store
        .offsets(FAULT_TIMELINE_TOPIC, 0)
        .map_err(|e| e.to_string())?;
    let from = end.saturating_sub(TIMELINE_MAX as u64).max(start);
    let records = crate::queue::read_records(store, FAULT_TIMELINE_TOPIC, 0, from, end)
        .map_err(|e| e.to_string())?;
    Ok(records
        .iter()
        .filter_map(|r| serde_json::from_slice(r.value.as_ref()?).ok())
        .collect())
}

/// Appends an entry durably (through the store's group commit).
pub async fn append(store: &Store, entry: &TimelineEntry) -> Result<(), String> {
    let record = NewRecord {
        key: None,
        value: Some(Bytes::from(
            serde_json::to_vec(entry).expect("timeline entries serialize"),
        )),
        headers: Vec::new(),
        timestamp_ms: entry.t_ms,
    };
    store
        .append(
            FAULT_TIMELINE_TOPIC,
            0,
            batch::build(&[record], Compression::None, None),
        )
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}
