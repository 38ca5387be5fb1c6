//! Checkpoints reach the disk as they are written, not in one burst.
//!
//! redb keeps the pages of `Durability::None` commits in its write buffer
//! and writes them all when a checkpoint commits durably: several MiB at
//! once (5–7 MiB a second at 5,000 msg/s of 1 KiB). They sit in the page
//! cache until the checkpoint's fdatasync hands them to the device in one
//! go, and a write-ahead-log fdatasync that comes in the middle waits for
//! all of them: measured, the log's fdatasyncs that ended with a
//! checkpoint took 2–9 ms instead of ~0.2 ms, and those were the
//! end-to-end tail.
//!
//! So every write to the database file is followed by
//! `posix_fadvise(POSIX_FADV_DONTNEED)` on its range, which on Linux starts
//! the writeback of those pages at once (asynchronously; pages that are
//! dirty or under writeback stay cached). The device gets the checkpoint
//! while redb is still writing it, the log's syncs interleave, and the
//! checkpoint's own fdatasync finds little left. No extra sync is issued.
//! (Syncing the database every 256 KiB instead made the tail worse: each
//! extra flush is one more for the log to queue behind.)

use std::fmt;
use std::io;
use std::ops::Bound;

use redb::StorageBackend;

pub(crate) struct Trickle<B> {
    inner: B,
    /// The same file, for the advice.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    file: std::fs::File,
}

impl<B> Trickle<B> {
    pub fn new(inner: B, file: std::fs::File) -> Self {
        Self { inner, file }
    }

    #[cfg(target_os = "linux")]
    fn start_writeback(&self, offset: u64, len: usize) {
        // Advice only: failing it changes nothing but timing.
        let _ = rustix::fs::fadvise(
            &self.file,
            offset,
            std::num::NonZeroU64::new(len as u64),
            rustix::fs::Advice::DontNeed,
        );
    }

    #[cfg(not(target_os = "linux"))]
    fn start_writeback(&self, _offset: u64, _len: usize) {}
}

impl<B> fmt::Debug for Trickle<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trickle").finish_non_exhaustive()
    }
}

impl<B: StorageBackend> StorageBackend for Trickle<B> {
    fn len(&self) -> Result<u64, io::Error> {
        self.inner.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        self.inner.read(offset, out)
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        self.inner.set_len(len)
    }

    fn sync_data(&self) -> Result<(), io::Error> {
        self.inner.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        self.inner.write(offset, data)?;
        self.start_writeback(offset, data.len());
        Ok(())
    }

    fn close(&self) -> Result<(), io::Error> {
        self.inner.close()
    }

    fn try_lock_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, redb::BackendError> {
        self.inner.try_lock_range(start, end)
    }

    fn try_lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, redb::BackendError> {
        self.inner.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), redb::BackendError> {
        self.inner.lock_range(start, end)
    }

    fn lock_shared_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<(), redb::BackendError> {
        self.inner.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), redb::BackendError> {
        self.inner.unlock_range(start, end)
    }

    fn query_lock_range(
        &self,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<bool, redb::BackendError> {
        self.inner.query_lock_range(start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_reads_pass_through() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let open = || {
            std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .unwrap()
        };
        let t = Trickle::new(redb::backends::FileBackend::new(open()).unwrap(), open());
        t.set_len(8192).unwrap();
        t.write(4096, b"pier").unwrap();
        t.sync_data().unwrap();
        let mut out = [0u8; 4];
        t.read(4096, &mut out).unwrap();
        assert_eq!(&out, b"pier");
        assert_eq!(t.len().unwrap(), 8192);
        assert_eq!(&std::fs::read(&path).unwrap()[4096..4100], b"pier");
    }
}
