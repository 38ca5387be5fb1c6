//! The write-ahead log that makes group commit cheap.
//!
//! A redb commit with `Durability::Immediate` rewrites about ten scattered
//! pages and costs ~2.5× a sequential append+fdatasync on our disks (see
//! `docs/benchmarks.md`). So the writer appends each group to this log in
//! one sequential write and one fdatasync, answers, and applies the group to
//! redb with `Durability::None`. Every few seconds or megabytes a durable
//! redb commit (a *checkpoint*) records the last applied sequence number and
//! the log is emptied. Opening replays entries newer than the checkpoint.
//!
//! Entry: `len u32 | crc32c u32 | seq u64 | topic u32 | partition u32 |
//! base offset u64 | batch bytes`, big-endian; `len` counts from `seq` on and
//! the CRC covers the same bytes. The file grows in zeroed chunks, so a zero
//! length marks the end; a torn entry fails its CRC and ends the replay
//! (it was never acknowledged: acks follow the fdatasync).

use std::io;

use redb::StorageBackend;

/// The file grows in steps of this many bytes, so most appends do not change
/// its size.
pub const WAL_GROW_BYTES: u64 = 4 * 1024 * 1024;
/// Checkpoint once the log holds this much.
pub const WAL_CHECKPOINT_BYTES: u64 = 64 * 1024 * 1024;
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

pub(crate) struct Wal {
    file: Box<dyn StorageBackend>,
    /// End of the last entry.
    end: u64,
    /// Current file length (≥ end; the rest is zeros).
    capacity: u64,
    pub next_seq: u64,
}

impl Wal {
    /// Opens the log and returns it with every intact entry newer than
    /// `applied_seq`. Anything after the first bad entry is discarded.
    pub fn open(file: Box<dyn StorageBackend>, applied_seq: u64) -> io::Result<(Self, Vec<WalEntry>)> {
        let capacity = file.len()?;
        let mut bytes = vec![0; capacity as usize];
        file.read(0, &mut bytes)?;
        let mut at = 0usize;
        let mut entries = Vec::new();
        let mut next_seq = applied_seq + 1;
        while let Some((entry, size)) = decode(&bytes[at..]) {
            if entry.seq != next_seq && entry.seq > applied_seq {
                break;
            }
            at += size;
            if entry.seq > applied_seq {
                next_seq = entry.seq + 1;
                entries.push(entry);
            }
        }
        let wal = Self {
            file,
            end: at as u64,
            capacity,
            next_seq,
        };
        Ok((wal, entries))
    }

    pub fn len_bytes(&self) -> u64 {
        self.end
    }

    /// Appends entries (their `seq` is assigned here) in one write and, if
    /// `sync`, one fdatasync. Returns the last sequence number.
    pub fn append(&mut self, entries: &[(u32, u32, u64, &[u8])], sync: bool) -> io::Result<u64> {
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
        let new_end = self.end + buf.len() as u64;
        if new_end > self.capacity {
            let grown = new_end.div_ceil(WAL_GROW_BYTES) * WAL_GROW_BYTES;
            self.file.set_len(grown)?;
            self.capacity = grown;
        }
        self.file.write(self.end, &buf)?;
        if sync {
            self.file.sync_data()?;
        }
        self.end = new_end;
        Ok(self.next_seq - 1)
    }

    /// Empties the log after a checkpoint made everything in it durable.
    pub fn reset(&mut self) -> io::Result<()> {
        self.file.set_len(0)?;
        self.file.set_len(WAL_GROW_BYTES)?;
        self.file.sync_data()?;
        self.end = 0;
        self.capacity = WAL_GROW_BYTES;
        Ok(())
    }
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
    use crate::faults::MemoryDisk;

    #[test]
    fn entries_round_trip_and_replay_skips_applied() {
        let file = MemoryDisk::new().file("wal");
        let (mut wal, replay) = Wal::open(Box::new(file.clone()), 0).unwrap();
        assert!(replay.is_empty());
        assert_eq!(wal.append(&[(1, 0, 0, b"aa"), (1, 1, 0, b"bbb")], true).unwrap(), 2);
        assert_eq!(wal.append(&[(2, 0, 5, b"c")], true).unwrap(), 3);
        let (wal2, replay) = Wal::open(Box::new(file.clone()), 1).unwrap();
        assert_eq!(replay.len(), 2);
        assert_eq!(replay[0].batch, b"bbb");
        assert_eq!((replay[1].topic_id, replay[1].base_offset, replay[1].seq), (2, 5, 3));
        assert_eq!(wal2.next_seq, 4);
        assert_eq!(wal2.len_bytes(), wal.len_bytes());
    }

    #[test]
    fn a_torn_tail_ends_the_replay() {
        let file = MemoryDisk::new().file("wal");
        let (mut wal, _) = Wal::open(Box::new(file.clone()), 0).unwrap();
        wal.append(&[(1, 0, 0, b"kept")], true).unwrap();
        let end = wal.len_bytes();
        wal.append(&[(1, 0, 1, b"torn")], true).unwrap();
        file.write(end + 30, b"X").unwrap();
        let (_, replay) = Wal::open(Box::new(file), 0).unwrap();
        assert_eq!(replay.len(), 1);
        assert_eq!(replay[0].batch, b"kept");
    }

    #[test]
    fn reset_empties_the_log() {
        let file = MemoryDisk::new().file("wal");
        let (mut wal, _) = Wal::open(Box::new(file.clone()), 0).unwrap();
        wal.append(&[(1, 0, 0, b"x")], true).unwrap();
        wal.reset().unwrap();
        let (wal, replay) = Wal::open(Box::new(file), 1).unwrap();
        assert!(replay.is_empty());
        assert_eq!(wal.next_seq, 2, "sequence continues from the checkpoint");
    }
}
