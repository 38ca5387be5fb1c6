//! The write-ahead log that makes group commit cheap.
//!
//! A redb commit with `Durability::Immediate` rewrites about ten scattered
//! pages and costs ~2.5× a sequential append+fdatasync on our disks (see
//! `docs/design.md`). So the writer appends each group to this log with one
//! write and one fdatasync, makes it visible and answers; the applier copies
//! it into redb later with `Durability::None` commits, and every second (or
//! when idle) makes a durable redb commit, a *checkpoint*, that records the
//! last applied sequence number. Opening replays entries newer than it.
//!
//! Entry: `len u32 | crc32c u32 | seq u64 | topic u32 | partition u32 |
//! base offset u64 | batch bytes`, big-endian; `len` counts from `seq` on and
//! the CRC covers the same bytes.
//!
//! The log is two files used in turn. When the active one is big and every
//! entry of the other is checkpointed, the writer switches and overwrites
//! the other from offset 0 without truncating it (its blocks stay allocated,
//! so an fdatasync flushes data only). Sequence numbers only grow, so replay
//! reads each file while entries are intact and numbered one past the
//! previous: a torn entry (never acknowledged: acks follow the fdatasync),
//! zeros, or a stale entry from the file's last round all end it.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use redb::StorageBackend;

/// A file grows in zero-filled, synced steps of this many bytes, so appends
/// write into allocated blocks and an fdatasync flushes data only (a write
/// into a hole costs ~3× as much to sync on ext4; see `docs/design.md`).
pub const WAL_GROW_BYTES: u64 = 8 * 1024 * 1024;
/// The first growth step of a new file.
pub const WAL_GROW_MIN_BYTES: u64 = 64 * 1024;
/// The writer switches files once the active one holds this much.
pub const WAL_SWITCH_BYTES: u64 = 32 * 1024 * 1024;
const ENTRY_HEADER_BYTES: usize = 8;
const ENTRY_FIXED_BYTES: usize = 24;

/// One appended batch as the log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WalEntry {
    pub seq: u64,
    pub topic_id: u32,
    pub partition: u32,
    pub base_offset: u64,
    pub batch: Vec<u8>,
}

struct WalFile {
    file: Box<dyn StorageBackend>,
    end: u64,
    capacity: u64,
    /// Highest sequence number written in this file's current round.
    max_seq: u64,
}

pub(crate) struct Wal {
    files: [WalFile; 2],
    active: usize,
    pub next_seq: u64,
    /// Highest sequence number a checkpoint has made durable in redb.
    pub checkpointed: Arc<AtomicU64>,
    /// Switch files past this many bytes ([`WAL_SWITCH_BYTES`] unless a
    /// test makes switches and reuse frequent).
    pub switch_bytes: u64,
}

impl Wal {
    /// Opens both files and returns every intact entry newer than
    /// `applied_seq`, in order. The caller must apply them durably before
    /// appending (both files count as free afterwards).
    pub fn open(
        files: [Box<dyn StorageBackend>; 2],
        applied_seq: u64,
    ) -> io::Result<(Self, Vec<WalEntry>)> {
        let mut entries = Vec::new();
        let mut opened = Vec::new();
        for file in files {
            let capacity = file.len()?;
            let mut bytes = vec![0; capacity as usize];
            file.read(0, &mut bytes)?;
            let (chain, end) = read_chain(&bytes);
            entries.extend(chain.into_iter().filter(|e| e.seq > applied_seq));
            opened.push(WalFile {
                file,
                end,
                capacity,
                max_seq: 0,
            });
        }
        entries.sort_by_key(|e| e.seq);
        for (i, e) in entries.iter().enumerate() {
            if e.seq != applied_seq + 1 + i as u64 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "write-ahead log entry {} follows a gap (expected {})",
                        e.seq,
                        applied_seq + 1 + i as u64
                    ),
                ));
            }
        }
        let next_seq = entries.last().map_or(applied_seq, |e| e.seq) + 1;
        let mut files: [WalFile; 2] = opened
            .try_into()
            .unwrap_or_else(|_| unreachable!("two files"));
        // Replayed entries are about to become durable in redb: start over
        // in file 0.
        files[0].end = 0;
        let wal = Self {
            files,
            active: 0,
            next_seq,
            checkpointed: Arc::new(AtomicU64::new(next_seq - 1)),
            switch_bytes: WAL_SWITCH_BYTES,
        };
        Ok((wal, entries))
    }

    /// Appends entries (their `seq` is assigned here) in one write and, if
    /// `sync`, one fdatasync. Returns the last sequence number.
    pub fn append(&mut self, entries: &[(u32, u32, u64, &[u8])], sync: bool) -> io::Result<u64> {
        self.maybe_switch();
        let buf = self.encode(entries);
        let last_seq = self.next_seq - 1;
        let f = &mut self.files[self.active];
        let new_end = f.end + buf.len() as u64;
        if new_end > f.capacity {
            // Doubling from small keeps tiny stores (and tests) small.
            let step = f.capacity.clamp(WAL_GROW_MIN_BYTES, WAL_GROW_BYTES);
            let grown = new_end.div_ceil(step) * step;
            f.file.set_len(grown)?;
            let zeros = vec![0; (grown - f.capacity) as usize];
            f.file.write(f.capacity, &zeros)?;
            f.capacity = grown;
        }
        f.file.write(f.end, &buf)?;
        if sync {
            f.file.sync_data()?;
        }
        f.end = new_end;
        f.max_seq = last_seq;
        Ok(last_seq)
    }

    fn maybe_switch(&mut self) {
        let other = 1 - self.active;
        let free = self.files[other].max_seq <= self.checkpointed.load(Ordering::SeqCst);
        if self.files[self.active].end >= self.switch_bytes && free {
            self.active = other;
            self.files[other].end = 0;
        }
    }

    fn encode(&mut self, entries: &[(u32, u32, u64, &[u8])]) -> Vec<u8> {
        let total: usize = entries
            .iter()
            .map(|e| ENTRY_HEADER_BYTES + ENTRY_FIXED_BYTES + e.3.len())
            .sum();
        let mut buf = Vec::with_capacity(total);
        for &(topic_id, partition, base_offset, batch) in entries {
            let start = buf.len();
            buf.extend_from_slice(&[0; ENTRY_HEADER_BYTES]);
            buf.extend_from_slice(&self.next_seq.to_be_bytes());
            buf.extend_from_slice(&topic_id.to_be_bytes());
            buf.extend_from_slice(&partition.to_be_bytes());
            buf.extend_from_slice(&base_offset.to_be_bytes());
            buf.extend_from_slice(batch);
            let body = &buf[start + ENTRY_HEADER_BYTES..];
            let len = body.len() as u32;
            let crc = crc32c::crc32c(body);
            buf[start..start + 4].copy_from_slice(&len.to_be_bytes());
            buf[start + 4..start + 8].copy_from_slice(&crc.to_be_bytes());
            self.next_seq += 1;
        }
        buf
    }
}

/// Replays two log files given as bytes (for the `wal_replay` fuzz
/// target): the sequence numbers replayed, which must be consecutive.
#[doc(hidden)]
pub fn replay_bytes(a: &[u8], b: &[u8]) -> io::Result<Vec<u64>> {
    let disk = crate::faults::MemoryDisk::new();
    for (name, bytes) in [("a", a), ("b", b)] {
        let f = disk.file(name);
        f.set_len(bytes.len() as u64)?;
        f.write(0, bytes)?;
    }
    let files: [Box<dyn StorageBackend>; 2] = [Box::new(disk.file("a")), Box::new(disk.file("b"))];
    let (_, entries) = Wal::open(files, 0)?;
    Ok(entries.iter().map(|e| e.seq).collect())
}

/// The intact, consecutively numbered entries at the start of a file, and
/// where they end.
fn read_chain(bytes: &[u8]) -> (Vec<WalEntry>, u64) {
    let mut at = 0usize;
    let mut chain: Vec<WalEntry> = Vec::new();
    while let Some((entry, size)) = decode(&bytes[at..]) {
        if chain.last().is_some_and(|p| entry.seq != p.seq + 1) {
            break;
        }
        at += size;
        chain.push(entry);
    }
    (chain, at as u64)
}

fn decode(bytes: &[u8]) -> Option<(WalEntry, usize)> {
    let header = bytes.get(..ENTRY_HEADER_BYTES)?;
    let len = u32::from_be_bytes(header[0..4].try_into().ok()?) as usize;
    let crc = u32::from_be_bytes(header[4..8].try_into().ok()?);
    if len < ENTRY_FIXED_BYTES {
        return None;
    }
    let body = bytes.get(ENTRY_HEADER_BYTES..ENTRY_HEADER_BYTES + len)?;
    if crc32c::crc32c(body) != crc {
        return None;
    }
    let u64_at = |at: usize| u64::from_be_bytes(body[at..at + 8].try_into().expect("8 bytes"));
    let u32_at = |at: usize| u32::from_be_bytes(body[at..at + 4].try_into().expect("4 bytes"));
    let entry = WalEntry {
        seq: u64_at(0),
        topic_id: u32_at(8),
        partition: u32_at(12),
        base_offset: u64_at(16),
        batch: body[ENTRY_FIXED_BYTES..].to_vec(),
    };
    Some((entry, ENTRY_HEADER_BYTES + len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::{MemoryDisk, MemoryFile};

    fn files(disk: &MemoryDisk) -> [Box<dyn StorageBackend>; 2] {
        [Box::new(disk.file("a")), Box::new(disk.file("b"))]
    }

    #[test]
    fn entries_round_trip_and_replay_skips_applied() {
        let disk = MemoryDisk::new();
        let (mut wal, replay) = Wal::open(files(&disk), 0).unwrap();
        assert!(replay.is_empty());
        assert_eq!(
            wal.append(&[(1, 0, 0, b"aa"), (1, 1, 0, b"bbb")], true)
                .unwrap(),
            2
        );
        assert_eq!(wal.append(&[(2, 0, 5, b"c")], true).unwrap(), 3);
        let (wal2, replay) = Wal::open(files(&disk), 1).unwrap();
        assert_eq!(replay.len(), 2);
        assert_eq!(replay[0].batch, b"bbb");
        assert_eq!(
            (replay[1].topic_id, replay[1].base_offset, replay[1].seq),
            (2, 5, 3)
        );
        assert_eq!(wal2.next_seq, 4);
    }

    #[test]
    fn a_torn_tail_ends_the_replay() {
        let disk = MemoryDisk::new();
        let (mut wal, _) = Wal::open(files(&disk), 0).unwrap();
        wal.append(&[(1, 0, 0, b"kept")], true).unwrap();
        wal.append(&[(1, 0, 1, b"torn")], true).unwrap();
        let file: MemoryFile = disk.file("a");
        file.write(36 + 30, b"X").unwrap();
        let (_, replay) = Wal::open(files(&disk), 0).unwrap();
        assert_eq!(replay.len(), 1);
        assert_eq!(replay[0].batch, b"kept");
    }

    #[test]
    fn files_are_reused_once_checkpointed_and_stale_entries_ignored() {
        let disk = MemoryDisk::new();
        let (mut wal, _) = Wal::open(files(&disk), 0).unwrap();
        let big = vec![7u8; (WAL_SWITCH_BYTES / 2) as usize];
        wal.append(&[(1, 0, 0, &big)], true).unwrap();
        wal.append(&[(1, 0, 1, &big)], true).unwrap();
        wal.append(&[(1, 0, 2, b"in b")], true).unwrap();
        assert_eq!(wal.active, 1, "switched: file b was free");
        wal.append(&[(1, 0, 3, &big)], true).unwrap();
        wal.append(&[(1, 0, 4, &big)], true).unwrap();
        wal.append(&[(1, 0, 5, b"still b")], true).unwrap();
        assert_eq!(wal.active, 1, "a is not checkpointed yet");
        wal.checkpointed.store(6, Ordering::SeqCst);
        assert_eq!(wal.append(&[(1, 0, 6, b"a again")], true).unwrap(), 7);
        assert_eq!(wal.active, 0);
        let (_, replay) = Wal::open(files(&disk), 6).unwrap();
        assert_eq!(
            replay.len(),
            1,
            "stale entries of a's old round are ignored"
        );
        assert_eq!(replay[0].batch, b"a again");
        let (_, replay) = Wal::open(files(&disk), 2).unwrap();
        let seqs: Vec<u64> = replay.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![3, 4, 5, 6, 7]);
    }

    proptest::proptest! {
        /// Whatever is appended (any sizes, small switch sizes, checkpoints
        /// moving), reopening returns exactly the entries after the applied
        /// sequence, in order, byte for byte.
        #[test]
        fn appended_entries_replay_exactly(
            groups in proptest::collection::vec(
                proptest::collection::vec((0u32..4, 0u32..3, proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)), 1..5),
                1..30,
            ),
            switch_bytes in 256u64..4_096,
            checkpoint_every in 1usize..6,
        ) {
            let disk = MemoryDisk::new();
            let (mut wal, _) = Wal::open(files(&disk), 0).unwrap();
            wal.switch_bytes = switch_bytes;
            let mut all = Vec::new();
            for (i, g) in groups.iter().enumerate() {
                let entries: Vec<(u32, u32, u64, &[u8])> =
                    g.iter().map(|(t, p, b)| (*t, *p, i as u64, b.as_slice())).collect();
                let last = wal.append(&entries, true).unwrap();
                all.extend(g.iter().map(|(t, p, b)| (*t, *p, i as u64, b.clone())));
                proptest::prop_assert_eq!(last as usize, all.len());
                if i % checkpoint_every == 0 {
                    wal.checkpointed.store(last, Ordering::SeqCst);
                }
            }
            let applied = wal.checkpointed.load(Ordering::SeqCst);
            let (_, replay) = Wal::open(files(&disk), applied).unwrap();
            let got: Vec<(u32, u32, u64, Vec<u8>)> = replay
                .iter()
                .map(|e| (e.topic_id, e.partition, e.base_offset, e.batch.clone()))
                .collect();
            proptest::prop_assert_eq!(&got[..], &all[applied as usize..]);
            let seqs: Vec<u64> = replay.iter().map(|e| e.seq).collect();
            let want: Vec<u64> = (applied + 1..=all.len() as u64).collect();
            proptest::prop_assert_eq!(seqs, want);
        }

        /// A log damaged anywhere (one byte changed) replays a prefix of
        /// what was written: never a changed entry, never one after a gap.
        #[test]
        fn a_damaged_log_replays_a_clean_prefix(
            sizes in proptest::collection::vec(0usize..200, 1..20),
            at in proptest::prelude::any::<proptest::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let disk = MemoryDisk::new();
            let (mut wal, _) = Wal::open(files(&disk), 0).unwrap();
            let written: Vec<Vec<u8>> = sizes.iter().enumerate().map(|(i, n)| vec![i as u8; *n]).collect();
            for (i, b) in written.iter().enumerate() {
                wal.append(&[(1, 0, i as u64, b)], true).unwrap();
            }
            let file: MemoryFile = disk.file("a");
            let len = file.len_bytes();
            let pos = at.index(len) as u64;
            let mut byte = [0u8];
            file.read(pos, &mut byte).unwrap();
            file.write(pos, &[byte[0] ^ flip]).unwrap();
            let (_, replay) = Wal::open(files(&disk), 0).unwrap();
            for (i, e) in replay.iter().enumerate() {
                proptest::prop_assert_eq!(e.seq, i as u64 + 1);
                proptest::prop_assert_eq!(&e.batch, &written[i]);
            }
        }
    }
}
