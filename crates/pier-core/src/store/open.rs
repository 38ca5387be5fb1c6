//! Opening a store: create-by-rename for new databases, format checks, and
//! rebuilding the in-memory catalog from the tables.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use redb::{Builder, Database, Durability, ReadableDatabase, ReadableTable, StorageBackend};

use super::catalog::{BatchMeta, Catalog, PartitionIndex, PartitionState, TopicState};
use super::error::OpenError;
use super::tables::{
    BATCH_INDEX, FORMAT_VERSION, LOG, META, META_FORMAT_VERSION, META_NEXT_TOPIC_ID,
    META_WAL_APPLIED_SEQ, PARTITIONS, TOPICS,
};
use super::wal::WalEntry;
use crate::faults::{DiskFaults, FaultyBackend, MemoryDisk};
use crate::topic::TopicMeta;

/// File name of the database inside a data directory.
pub const DB_FILE: &str = "pier.redb";
const DB_TMP_FILE: &str = "pier.redb.tmp";
/// File names of the two write-ahead log files inside a data directory.
pub const WAL_FILES: [&str; 2] = ["pier.wal-a", "pier.wal-b"];

/// Where a store keeps its bytes.
#[derive(Debug, Clone)]
pub enum Location {
    /// A data directory on disk (created if missing).
    Dir(PathBuf),
    /// A RAM disk; survives reopening as long as a clone is kept.
    Memory(MemoryDisk),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> OpenError + '_ {
    move |source| OpenError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Result of opening: the database, whether redb had to repair it, and how
/// long the open took.
pub(crate) struct Opened {
    pub db: Database,
    pub wal: [FaultyBackend; 2],
    pub repaired: bool,
}

/// Opens (or creates) the database and both log files. `sync_dirs`: make
/// created and renamed entries durable (off only for a planted bug).
pub(crate) fn open_db(
    location: &Location,
    faults: &Arc<DiskFaults>,
    sync_dirs: bool,
) -> Result<Opened, OpenError> {
    match location {
        Location::Memory(disk) => open_memory(disk, faults, sync_dirs),
        Location::Dir(dir) => {
            let dir_is_new = !dir.exists();
            fs::create_dir_all(dir).map_err(io_err(dir))?;
            if dir_is_new {
                // The directory's own entry must survive a power cut too.
                if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty())
                    && sync_dirs
                {
                    sync_dir(parent)?;
                }
            }
            let path = dir.join(DB_FILE);
            if !path.exists() {
                // A log without its database belongs to nothing.
                for name in WAL_FILES {
                    let _ = fs::remove_file(dir.join(name));
                }
                create_by_rename(dir, sync_dirs)?;
            }
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(io_err(&path))?;
            let advice = file.try_clone().map_err(io_err(&path))?;
            let backend =
                super::trickle::Trickle::new(redb::backends::FileBackend::new(file)?, advice);
            let (db, repaired) = open_backend(FaultyBackend::new(backend, faults.clone()))?;
            let mut created = false;
            let mut open_wal = |name: &str| -> Result<FaultyBackend, OpenError> {
                let wal_path = dir.join(name);
                created |= !wal_path.exists();
                let file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(&wal_path)
                    .map_err(io_err(&wal_path))?;
                Ok(FaultyBackend::new(
                    redb::backends::FileBackend::new(file)?,
                    faults.clone(),
                ))
            };
            let wal = [open_wal(WAL_FILES[0])?, open_wal(WAL_FILES[1])?];
            if created && sync_dirs {
                // A log file whose directory entry is lost in a power cut
                // takes every acknowledged append in it along.
                sync_dir(dir)?;
            }
            Ok(Opened { db, wal, repaired })
        }
    }
}

/// Applies log entries newer than the last checkpoint in one durable commit.
pub(crate) fn replay_wal(db: &Database, entries: &[WalEntry]) -> Result<(), OpenError> {
    let Some(last) = entries.last() else {
        return Ok(());
    };
    let mut txn = db.begin_write().map_err(corrupt)?;
    txn.set_durability(Durability::Immediate).map_err(corrupt)?;
    {
        let mut log = txn.open_table(LOG).map_err(corrupt)?;
        let mut index = txn.open_table(BATCH_INDEX).map_err(corrupt)?;
        for e in entries {
            let bytes = bytes::Bytes::copy_from_slice(&e.batch);
            let info = crate::batch::validate(&bytes).map_err(corrupt)?;
            let key = (e.topic_id, e.partition, e.base_offset);
            let last_offset = e.base_offset + u64::from(info.last_offset_delta);
            log.insert(key, e.batch.as_slice()).map_err(corrupt)?;
            index
                .insert(
                    key,
                    (last_offset, info.max_timestamp_ms, info.size_bytes as u32),
                )
                .map_err(corrupt)?;
        }
        let mut meta = txn.open_table(META).map_err(corrupt)?;
        meta.insert(META_WAL_APPLIED_SEQ, last.seq)
            .map_err(corrupt)?;
    }
    txn.commit().map_err(corrupt)
}

/// Sequence number of the last log entry the tables include.
pub(crate) fn applied_seq(db: &Database) -> Result<u64, OpenError> {
    let txn = db.begin_read().map_err(corrupt)?;
    let meta = txn.open_table(META).map_err(corrupt)?;
    Ok(meta
        .get(META_WAL_APPLIED_SEQ)
        .map_err(corrupt)?
        .map_or(0, |v| v.value()))
}

/// redb's page cache. Its default (1 GiB) let a busy broker's memory grow
/// with the data it wrote; reads of recent data come from the tail cache
/// anyway, and older data from the OS page cache.
pub const REDB_CACHE_BYTES: usize = 32 * 1024 * 1024;

fn open_backend(backend: impl StorageBackend) -> Result<(Database, bool), OpenError> {
    let repaired = Arc::new(AtomicBool::new(false));
    let flag = repaired.clone();
    let mut builder = Builder::new();
    builder.set_cache_size(REDB_CACHE_BYTES);
    builder.set_repair_callback(move |_| flag.store(true, Ordering::SeqCst));
    let db = builder.create_with_backend(backend)?;
    Ok((db, repaired.load(Ordering::SeqCst)))
}

/// A new database is built under a temporary name and renamed into place, so
/// a crash during creation never leaves a half-made `pier.redb`.
fn create_by_rename(dir: &Path, sync_dirs: bool) -> Result<(), OpenError> {
    let tmp = dir.join(DB_TMP_FILE);
    let _ = fs::remove_file(&tmp);
    {
        let db = Database::create(&tmp)?;
        init_tables(&db)?;
    }
    File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(io_err(&tmp))?;
    let path = dir.join(DB_FILE);
    fs::rename(&tmp, &path).map_err(io_err(&path))?;
    if sync_dirs {
        sync_dir(dir)?;
    }
    Ok(())
}

/// [`open_db`] in a RAM directory, with the same steps as on disk (a new
/// database built under a temporary name, renamed, the directory synced;
/// new log files' entries synced), so power cuts test them.
fn open_memory(
    disk: &MemoryDisk,
    faults: &Arc<DiskFaults>,
    sync_dirs: bool,
) -> Result<Opened, OpenError> {
    faults.attach_dir(disk.clone());
    if !disk.exists(DB_FILE) {
        for name in WAL_FILES {
            disk.remove(name);
        }
        disk.remove(DB_TMP_FILE);
        let tmp = disk.file(DB_TMP_FILE);
        let (db, _) = open_backend(FaultyBackend::new(tmp, faults.clone()))?;
        init_tables(&db)?;
        drop(db);
        disk.rename(DB_TMP_FILE, DB_FILE);
        if sync_dirs {
            disk.sync_dir();
        }
    }
    let (db, repaired) = open_backend(FaultyBackend::new(disk.file(DB_FILE), faults.clone()))?;
    let created = WAL_FILES.iter().any(|name| !disk.exists(name));
    let wal = WAL_FILES.map(|name| FaultyBackend::new(disk.file(name), faults.clone()));
    if created && sync_dirs {
        disk.sync_dir();
    }
    Ok(Opened { db, wal, repaired })
}

/// Makes the entries of `dir` (files created, renamed or removed in it)
/// durable.
fn sync_dir(dir: &Path) -> Result<(), OpenError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

fn corrupt(e: impl std::fmt::Display) -> OpenError {
    OpenError::Corrupt(e.to_string())
}

fn init_tables(db: &Database) -> Result<(), OpenError> {
    let mut txn = db.begin_write().map_err(corrupt)?;
    txn.set_durability(Durability::Immediate).map_err(corrupt)?;
    {
        txn.open_table(TOPICS).map_err(corrupt)?;
        txn.open_table(PARTITIONS).map_err(corrupt)?;
        txn.open_table(LOG).map_err(corrupt)?;
        txn.open_table(BATCH_INDEX).map_err(corrupt)?;
        txn.open_table(super::tables::GROUP_OFFSETS)
            .map_err(corrupt)?;
        let mut meta = txn.open_table(META).map_err(corrupt)?;
        meta.insert(META_FORMAT_VERSION, FORMAT_VERSION)
            .map_err(corrupt)?;
        meta.insert(META_NEXT_TOPIC_ID, 0).map_err(corrupt)?;
    }
    txn.commit().map_err(corrupt)
}

/// Rebuilds the catalog from the tables. Reads only the small tables, never
/// the log itself.
pub(crate) fn load_catalog(db: &Database) -> Result<Catalog, OpenError> {
    let txn = db.begin_read().map_err(corrupt)?;
    let meta = txn.open_table(META).map_err(corrupt)?;
    let version = meta
        .get(META_FORMAT_VERSION)
        .map_err(corrupt)?
        .ok_or_else(|| corrupt("no format version: not a Pier database"))?
        .value();
    if version > FORMAT_VERSION {
        return Err(OpenError::UnsupportedFormat {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let next_topic_id = meta
        .get(META_NEXT_TOPIC_ID)
        .map_err(corrupt)?
        .map_or(0, |v| v.value()) as u32;

    let mut indexes: HashMap<(u32, u32), PartitionIndex> = HashMap::new();
    for row in txn
        .open_table(PARTITIONS)
        .map_err(corrupt)?
        .iter()
        .map_err(corrupt)?
    {
        let (k, v) = row.map_err(corrupt)?;
        let (log_start, next_offset) = v.value();
        let index = PartitionIndex {
            log_start,
            next_offset,
            ..PartitionIndex::default()
        };
        indexes.insert(k.value(), index);
    }
    for row in txn
        .open_table(BATCH_INDEX)
        .map_err(corrupt)?
        .iter()
        .map_err(corrupt)?
    {
        let (k, v) = row.map_err(corrupt)?;
        let (topic_id, partition, base_offset) = k.value();
        let (last_offset, max_timestamp_ms, size_bytes) = v.value();
        let index = indexes.get_mut(&(topic_id, partition)).ok_or_else(|| {
            corrupt(format!(
                "batch for unknown partition {topic_id}/{partition}"
            ))
        })?;
        // A row may hold several batches (a chunk); it is one entry here.
        let meta = BatchMeta::single(base_offset, last_offset, max_timestamp_ms, size_bytes);
        let expected = index
            .batches
            .back()
            .map_or(index.log_start, |b| b.last_offset + 1);
        if base_offset != expected {
            return Err(corrupt(format!(
                "partition {topic_id}/{partition}: batch at {base_offset}, expected {expected}"
            )));
        }
        index.push_stored(meta);
    }

    let mut catalog = Catalog {
        next_topic_id,
        ..Catalog::default()
    };
    for row in txn
        .open_table(TOPICS)
        .map_err(corrupt)?
        .iter()
        .map_err(corrupt)?
    {
        let (_, v) = row.map_err(corrupt)?;
        let meta: TopicMeta = serde_json::from_slice(v.value()).map_err(corrupt)?;
        let partitions = (0..meta.partitions)
            .map(|p| {
                let mut index = indexes.remove(&(meta.id, p)).unwrap_or_default();
                index.next_offset = match index.batches.back() {
                    Some(b) => b.last_offset + 1,
                    None => index.next_offset.max(index.log_start),
                };
                index.applied_end = index.next_offset;
                Ok::<_, OpenError>(PartitionState::new(index))
            })
            .collect::<Result<Vec<_>, _>>()?;
        catalog.next_topic_id = catalog.next_topic_id.max(meta.id + 1);
        catalog
            .topics
            .insert(meta.name.clone(), Arc::new(TopicState { meta, partitions }));
    }
    Ok(catalog)
}
