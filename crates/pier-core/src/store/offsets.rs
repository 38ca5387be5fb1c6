//! Committed consumer-group offsets: durable in redb, cached in memory.

use std::collections::BTreeMap;

use redb::{ReadableDatabase, ReadableTable};

use super::Store;
use super::applier::Applier;
use super::error::storage_text;
use super::tables::GROUP_OFFSETS;

/// Longest `metadata` string kept with a committed offset (Kafka's
/// `offset.metadata.max.bytes`).
pub const OFFSET_METADATA_MAX_BYTES: usize = 4_096;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CommittedOffset {
    pub offset: i64,
    pub metadata: String,
}

/// group → (topic, partition) → committed offset.
pub(crate) type OffsetCache = BTreeMap<String, BTreeMap<(String, u32), CommittedOffset>>;

pub(crate) fn load(db: &redb::Database) -> Result<OffsetCache, String> {
    let txn = db
        .begin_read()
        .map_err(|e| storage_text("read offsets", e))?;
    let table = match txn.open_table(GROUP_OFFSETS) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(OffsetCache::new()),
        Err(e) => return Err(storage_text("open offsets", e)),
    };
    let mut cache = OffsetCache::new();
    for row in table.iter().map_err(|e| storage_text("scan offsets", e))? {
        let (k, v) = row.map_err(|e| storage_text("read offset", e))?;
        let (group, topic, partition) = k.value();
        let (offset, metadata) = v.value();
        cache.entry(group.to_owned()).or_default().insert(
            (topic.to_owned(), partition),
            CommittedOffset {
                offset,
                metadata: metadata.to_owned(),
            },
        );
    }
    Ok(cache)
}

impl Applier {
    /// Stores offsets durably, then updates the cache.
    pub(crate) fn commit_offsets(
        &self,
        group: &str,
        offsets: &[(String, u32, CommittedOffset)],
    ) -> Result<(), String> {
        let txn = self.begin(true)?;
        {
            let mut table = txn
                .open_table(GROUP_OFFSETS)
                .map_err(|e| storage_text("open offsets", e))?;
            for (topic, partition, c) in offsets {
                table
                    .insert(
                        (group, topic.as_str(), *partition),
                        (c.offset, c.metadata.as_str()),
                    )
                    .map_err(|e| storage_text("commit offset", e))?;
            }
        }
        txn.commit().map_err(|e| storage_text("commit", e))?;
        let mut cache = self.shared.offsets.write().expect("offsets lock");
        let entry = cache.entry(group.to_owned()).or_default();
        for (topic, partition, c) in offsets {
            entry.insert((topic.clone(), *partition), c.clone());
        }
        Ok(())
    }

    pub(crate) fn delete_partition_offsets(
        &self,
        group: &str,
        partitions: &[(String, u32)],
    ) -> Result<(), String> {
        let txn = self.begin(true)?;
        {
            let mut table = txn
                .open_table(GROUP_OFFSETS)
                .map_err(|e| storage_text("open offsets", e))?;
            for (topic, partition) in partitions {
                table
                    .remove((group, topic.as_str(), *partition))
                    .map_err(|e| storage_text("delete offset", e))?;
            }
        }
        txn.commit().map_err(|e| storage_text("commit", e))?;
        let mut offsets = self.shared.offsets.write().expect("offsets lock");
        if let Some(m) = offsets.get_mut(group) {
            for key in partitions {
                m.remove(key);
            }
            if m.is_empty() {
                offsets.remove(group);
            }
        }
        Ok(())
    }

    pub(crate) fn delete_group_offsets(&self, group: &str) -> Result<(), String> {
        let txn = self.begin(true)?;
        {
            let mut table = txn
                .open_table(GROUP_OFFSETS)
                .map_err(|e| storage_text("open offsets", e))?;
            let keys: Vec<(String, u32)> = self
                .shared
                .offsets
                .read()
                .expect("offsets lock")
                .get(group)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            for (topic, partition) in keys {
                table
                    .remove((group, topic.as_str(), partition))
                    .map_err(|e| storage_text("delete offset", e))?;
            }
        }
        txn.commit().map_err(|e| storage_text("commit", e))?;
        self.shared
            .offsets
            .write()
            .expect("offsets lock")
            .remove(group);
        Ok(())
    }
}

impl Store {
    /// Every committed offset of a group.
    pub fn committed_offsets(&self, group: &str) -> BTreeMap<(String, u32), CommittedOffset> {
        self.shared()
            .offsets
            .read()
            .expect("offsets lock")
            .get(group)
            .cloned()
            .unwrap_or_default()
    }

    /// Groups that have committed offsets.
    pub fn groups_with_offsets(&self) -> Vec<String> {
        self.shared()
            .offsets
            .read()
            .expect("offsets lock")
            .keys()
            .cloned()
            .collect()
    }
}
