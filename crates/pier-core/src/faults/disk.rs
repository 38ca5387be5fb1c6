//! A `StorageBackend` wrapper that can fail, slow down, fill up, and lose
//! power.
//!
//! To model power loss it keeps a *page cache*: writes are held in memory
//! until `sync_data`, which applies them to the inner backend and then syncs
//! it. Cutting power keeps a random subset of the unsynced writes (a real
//! disk may have written some of them on its own) and drops the rest; after
//! that every operation fails, as it would in a process that lost its disk.
//! Reopening the inner backend shows what survived.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use redb::StorageBackend;

/// Unsynced bytes held before the model "writes back" on its own, as an OS
/// would under memory pressure.
pub const PAGE_CACHE_MAX_BYTES: usize = 64 * 1024 * 1024;
/// Longest delay `slow_sync` may add to one sync.
pub const SLOW_SYNC_MAX_MS: u64 = 10_000;

/// How a power cut treats writes that were not yet synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerCut {
    /// Every unsynced write is lost.
    DropAll,
    /// Each unsynced write independently survives or not, by this seed.
    RandomSubset { seed: u64 },
    /// Each `sector_bytes` sector of each unsynced write independently
    /// survives or not: torn writes, and later writes reaching the disk
    /// before earlier ones (a disk reorders what it was not told to sync).
    Torn { seed: u64, sector_bytes: u32 },
}

/// The switches of one faulty disk, shared between the backend (owned by
/// redb) and whoever injects faults.
#[derive(Default)]
pub struct DiskFaults {
    fail_sync: AtomicBool,
    fail_write: AtomicBool,
    slow_sync_ms: AtomicU64,
    /// Storage may not grow past this; 0 means unlimited.
    capacity_bytes: AtomicU64,
    /// Whether writes are held until sync (needed for power-loss faults).
    page_cache: AtomicBool,
    powered_off: AtomicBool,
    /// Cut power when the n-th write or sync starts (1-based); 0 = never.
    cut_at_op: AtomicU64,
    armed_cut: Mutex<Option<PowerCut>>,
    ops: AtomicU64,
    syncs_ok: AtomicU64,
    /// Every file on this disk, so a cut can decide what reached each.
    caches: Mutex<Vec<Arc<PageCache>>>,
    /// The RAM directory the files live in, whose unsynced entries a cut
    /// loses (real directories are the file system's business).
    dir: Mutex<Option<crate::faults::MemoryDisk>>,
}

/// Unsynced writes of one file, over the file itself. `inner` is `None`
/// once the disk is detached (the process that had it open is gone).
struct PageCache {
    inner: std::sync::RwLock<Option<Arc<dyn StorageBackend>>>,
    pending: Mutex<Vec<(u64, Vec<u8>)>>,
}

impl PageCache {
    fn inner(&self) -> Result<Arc<dyn StorageBackend>, io::Error> {
        self.inner
            .read()
            .expect("inner lock")
            .clone()
            .ok_or_else(|| injected(io::ErrorKind::BrokenPipe, "the broker crashed"))
    }
}

/// How a broker stops when it is made to crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Halt {
    /// The process dies; the operating system still writes out what the
    /// process wrote (held writes reach the disk), fsynced or not.
    ProcessCrash,
    /// The machine loses power: writes not yet fsynced are lost.
    PowerLoss(PowerCut),
}

impl fmt::Debug for DiskFaults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiskFaults")
            .field("fail_sync", &self.fail_sync.load(Ordering::Relaxed))
            .field("fail_write", &self.fail_write.load(Ordering::Relaxed))
            .field("slow_sync_ms", &self.slow_sync_ms.load(Ordering::Relaxed))
            .field(
                "capacity_bytes",
                &self.capacity_bytes.load(Ordering::Relaxed),
            )
            .field("powered_off", &self.powered_off.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

fn injected(kind: io::ErrorKind, what: &str) -> io::Error {
    io::Error::new(kind, format!("injected fault: {what}"))
}

impl DiskFaults {
    /// A disk with no faults armed. `page_cache` must be on for power cuts to
    /// lose anything.
    pub fn new(page_cache: bool) -> Arc<Self> {
        let faults = Self::default();
        faults.page_cache.store(page_cache, Ordering::SeqCst);
        Arc::new(faults)
    }

    pub fn set_fail_sync(&self, on: bool) {
        self.fail_sync.store(on, Ordering::SeqCst);
    }

    pub fn set_fail_write(&self, on: bool) {
        self.fail_write.store(on, Ordering::SeqCst);
    }

    /// Adds latency to every sync; clamped to [`SLOW_SYNC_MAX_MS`].
    pub fn set_slow_sync_ms(&self, delay_ms: u64) {
        self.slow_sync_ms
            .store(delay_ms.min(SLOW_SYNC_MAX_MS), Ordering::SeqCst);
    }

    /// Refuses growth past `capacity_bytes` with `StorageFull`; 0 lifts it.
    pub fn set_capacity_bytes(&self, capacity_bytes: u64) {
        self.capacity_bytes.store(capacity_bytes, Ordering::SeqCst);
    }

    /// Arms a power cut at the start of the `op`-th write or sync from now.
    pub fn cut_power_at_op(&self, op: u64, mode: PowerCut) {
        *self.armed_cut.lock().expect("cut lock") = Some(mode);
        self.cut_at_op
            .store(self.ops.load(Ordering::SeqCst) + op, Ordering::SeqCst);
    }

    /// The RAM directory whose entries a power cut puts back to their
    /// last sync.
    pub fn attach_dir(&self, dir: crate::faults::MemoryDisk) {
        *self.dir.lock().expect("dir lock") = Some(dir);
    }

    pub fn is_powered_off(&self) -> bool {
        self.powered_off.load(Ordering::SeqCst)
    }

    /// Successful syncs so far (tests use it to pick crash points).
    pub fn syncs_ok(&self) -> u64 {
        self.syncs_ok.load(Ordering::SeqCst)
    }

    /// Writes and syncs started so far.
    pub fn ops(&self) -> u64 {
        self.ops.load(Ordering::SeqCst)
    }

    /// Cuts power now: unsynced writes are lost (or some of them kept, by
    /// seed), and every later operation on this disk fails.
    pub fn cut_power(&self, mode: PowerCut) {
        if self.powered_off.swap(true, Ordering::SeqCst) {
            return;
        }
        let seed = match mode {
            PowerCut::DropAll => 0,
            PowerCut::RandomSubset { seed } | PowerCut::Torn { seed, .. } => seed,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for cache in self.caches.lock().expect("caches lock").iter() {
            let mut pending = cache.pending.lock().expect("pending lock");
            if let Ok(inner) = cache.inner() {
                for (offset, data) in pending.iter() {
                    // Best effort: a failed write is the same as one that
                    // never reached the platter.
                    for (at, piece) in surviving(mode, *offset, data, &mut rng) {
                        let _ = inner.write(at, piece);
                    }
                }
            }
            pending.clear();
        }
        if let Some(dir) = self.dir.lock().expect("dir lock").as_ref() {
            dir.power_cut();
        }
    }

    /// Stops this disk for good, as a crash of the process (or the
    /// machine) would, and closes its files so another store can open
    /// them. Every later operation fails.
    pub fn halt(&self, how: Halt) {
        match how {
            Halt::PowerLoss(cut) => self.cut_power(cut),
            Halt::ProcessCrash => {
                if !self.powered_off.swap(true, Ordering::SeqCst) {
                    for cache in self.caches.lock().expect("caches lock").iter() {
                        let mut pending = cache.pending.lock().expect("pending lock");
                        if let Ok(inner) = cache.inner() {
                            for (offset, data) in pending.drain(..) {
                                let _ = inner.write(offset, &data);
                            }
                        }
                    }
                }
            }
        }
        for cache in self.caches.lock().expect("caches lock").iter() {
            cache.inner.write().expect("inner lock").take();
        }
    }

    /// Length of the largest file on this disk (capacity is per file).
    pub fn largest_file_bytes(&self) -> u64 {
        self.caches
            .lock()
            .expect("caches lock")
            .iter()
            .filter_map(|c| c.inner().ok()?.len().ok())
            .max()
            .unwrap_or(0)
    }

    /// Whether writes are held until fsync (the page-cache model).
    pub fn models_page_cache(&self) -> bool {
        self.page_cache.load(Ordering::SeqCst)
    }

    /// Current switch settings: (fail sync, slow sync ms, capacity bytes).
    pub fn settings(&self) -> (bool, u64, u64) {
        (
            self.fail_sync.load(Ordering::SeqCst),
            self.slow_sync_ms.load(Ordering::SeqCst),
            self.capacity_bytes.load(Ordering::SeqCst),
        )
    }

    fn check_power(&self) -> Result<(), io::Error> {
        if self.is_powered_off() {
            return Err(injected(io::ErrorKind::BrokenPipe, "power is off"));
        }
        Ok(())
    }

    /// Counts an operation and cuts power if this is the armed one.
    fn step(&self) -> Result<(), io::Error> {
        self.check_power()?;
        let op = self.ops.fetch_add(1, Ordering::SeqCst) + 1;
        if self.cut_at_op.load(Ordering::SeqCst) == op {
            let mode = self
                .armed_cut
                .lock()
                .expect("cut lock")
                .unwrap_or(PowerCut::DropAll);
            self.cut_power(mode);
            return Err(injected(io::ErrorKind::BrokenPipe, "power cut"));
        }
        Ok(())
    }
}

/// The pieces of one unsynced write that reach the disk in a cut.
fn surviving<'a>(
    mode: PowerCut,
    offset: u64,
    data: &'a [u8],
    rng: &mut ChaCha8Rng,
) -> Vec<(u64, &'a [u8])> {
    match mode {
        PowerCut::DropAll => Vec::new(),
        PowerCut::RandomSubset { .. } => {
            if rng.random_bool(0.5) {
                vec![(offset, data)]
            } else {
                Vec::new()
            }
        }
        PowerCut::Torn { sector_bytes, .. } => {
            let sector = u64::from(sector_bytes.max(1));
            let mut out = Vec::new();
            let mut at = offset;
            let end = offset + data.len() as u64;
            while at < end {
                // Up to the next sector boundary of the file.
                let next = ((at / sector) + 1) * sector;
                let stop = next.min(end);
                if rng.random_bool(0.5) {
                    let range = (at - offset) as usize..(stop - offset) as usize;
                    out.push((at, &data[range]));
                }
                at = stop;
            }
            out
        }
    }
}

/// The wrapper redb sees.
pub struct FaultyBackend {
    cache: Arc<PageCache>,
    faults: Arc<DiskFaults>,
}

impl fmt::Debug for FaultyBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultyBackend")
            .field("faults", &self.faults)
            .finish_non_exhaustive()
    }
}

impl FaultyBackend {
    pub fn new(inner: impl StorageBackend, faults: Arc<DiskFaults>) -> Self {
        let inner: Arc<dyn StorageBackend> = Arc::new(inner);
        let cache = Arc::new(PageCache {
            inner: std::sync::RwLock::new(Some(inner)),
            pending: Mutex::new(Vec::new()),
        });
        faults
            .caches
            .lock()
            .expect("caches lock")
            .push(cache.clone());
        Self { cache, faults }
    }

    fn inner(&self) -> Result<Arc<dyn StorageBackend>, io::Error> {
        self.cache.inner()
    }

    fn locking(&self) -> Result<Arc<dyn StorageBackend>, redb::BackendError> {
        self.inner().map_err(redb::BackendError::Io)
    }

    /// Applies held writes to the inner backend (without syncing it).
    fn write_back(&self, pending: &mut Vec<(u64, Vec<u8>)>) -> Result<(), io::Error> {
        let inner = self.inner()?;
        for (offset, data) in pending.drain(..) {
            inner.write(offset, &data)?;
        }
        Ok(())
    }

    fn check_capacity(&self, end: u64) -> Result<(), io::Error> {
        let capacity = self.faults.capacity_bytes.load(Ordering::SeqCst);
        if capacity != 0 && end > capacity {
            return Err(injected(io::ErrorKind::StorageFull, "disk full"));
        }
        Ok(())
    }
}

impl StorageBackend for FaultyBackend {
    fn len(&self) -> Result<u64, io::Error> {
        self.faults.check_power()?;
        self.inner()?.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        self.faults.check_power()?;
        self.inner()?.read(offset, out)?;
        let pending = self.cache.pending.lock().expect("pending lock");
        let end = offset + out.len() as u64;
        for (at, data) in pending.iter() {
            let data_end = at + data.len() as u64;
            if *at >= end || data_end <= offset {
                continue;
            }
            let from = offset.max(*at);
            let to = end.min(data_end);
            out[(from - offset) as usize..(to - offset) as usize]
                .copy_from_slice(&data[(from - at) as usize..(to - at) as usize]);
        }
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        self.faults.check_power()?;
        self.check_capacity(len)?;
        let mut pending = self.cache.pending.lock().expect("pending lock");
        pending.retain_mut(|(at, data)| {
            if *at >= len {
                return false;
            }
            data.truncate((len - *at).min(data.len() as u64) as usize);
            true
        });
        self.inner()?.set_len(len)
    }

    fn sync_data(&self) -> Result<(), io::Error> {
        self.faults.step()?;
        let delay_ms = self.faults.slow_sync_ms.load(Ordering::SeqCst);
        if delay_ms > 0 {
            std::thread::sleep(Duration::from_millis(delay_ms));
        }
        if self.faults.fail_sync.load(Ordering::SeqCst) {
            return Err(injected(io::ErrorKind::Other, "fsync failed (EIO)"));
        }
        let mut pending = self.cache.pending.lock().expect("pending lock");
        self.write_back(&mut pending)?;
        drop(pending);
        self.inner()?.sync_data()?;
        self.faults.syncs_ok.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        self.faults.step()?;
        if self.faults.fail_write.load(Ordering::SeqCst) {
            return Err(injected(io::ErrorKind::Other, "write failed (EIO)"));
        }
        self.check_capacity(offset + data.len() as u64)?;
        if !self.faults.page_cache.load(Ordering::SeqCst) {
            return self.inner()?.write(offset, data);
        }
        let mut pending = self.cache.pending.lock().expect("pending lock");
        pending.push((offset, data.to_vec()));
        let held: usize = pending.iter().map(|(_, d)| d.len()).sum();
        if held > PAGE_CACHE_MAX_BYTES {
            self.write_back(&mut pending)?;
        }
        Ok(())
    }

    fn close(&self) -> Result<(), io::Error> {
        match self.inner() {
            Ok(inner) => inner.close(),
            // Already detached: nothing is open any more.
            Err(_) => Ok(()),
        }
    }

    fn try_lock_range(
        &self,
        start: std::ops::Bound<u64>,
        end: std::ops::Bound<u64>,
    ) -> Result<bool, redb::BackendError> {
        self.locking()?.try_lock_range(start, end)
    }

    fn try_lock_shared_range(
        &self,
        start: std::ops::Bound<u64>,
        end: std::ops::Bound<u64>,
    ) -> Result<bool, redb::BackendError> {
        self.locking()?.try_lock_shared_range(start, end)
    }

    fn lock_range(
        &self,
        start: std::ops::Bound<u64>,
        end: std::ops::Bound<u64>,
    ) -> Result<(), redb::BackendError> {
        self.locking()?.lock_range(start, end)
    }

    fn lock_shared_range(
        &self,
        start: std::ops::Bound<u64>,
        end: std::ops::Bound<u64>,
    ) -> Result<(), redb::BackendError> {
        self.locking()?.lock_shared_range(start, end)
    }

    fn unlock_range(
        &self,
        start: std::ops::Bound<u64>,
        end: std::ops::Bound<u64>,
    ) -> Result<(), redb::BackendError> {
        self.locking()?.unlock_range(start, end)
    }

    fn query_lock_range(
        &self,
        start: std::ops::Bound<u64>,
        end: std::ops::Bound<u64>,
    ) -> Result<bool, redb::BackendError> {
        self.locking()?.query_lock_range(start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::MemoryDisk;

    fn disk() -> (crate::faults::MemoryFile, Arc<DiskFaults>, FaultyBackend) {
        let mem = MemoryDisk::new().file("f");
        let faults = DiskFaults::new(true);
        let backend = FaultyBackend::new(mem.clone(), faults.clone());
        backend.set_len(4096).unwrap();
        (mem, faults, backend)
    }

    fn read_back(b: &dyn StorageBackend, at: u64, n: usize) -> Vec<u8> {
        let mut out = vec![0; n];
        b.read(at, &mut out).unwrap();
        out
    }

    #[test]
    fn unsynced_writes_are_visible_but_not_durable() {
        let (mem, faults, backend) = disk();
        backend.write(10, b"hello").unwrap();
        assert_eq!(read_back(&backend, 8, 9), b"\0\0hello\0\0");
        assert_eq!(read_back(&mem, 10, 5), [0; 5], "not on the inner disk yet");
        faults.cut_power(PowerCut::DropAll);
        assert_eq!(read_back(&mem, 10, 5), [0; 5]);
        assert!(backend.write(0, b"x").is_err(), "dead after the cut");
    }

    #[test]
    fn a_torn_cut_keeps_whole_sectors_only_some_of_them() {
        let (mem, faults, backend) = disk();
        backend.set_len(8192).unwrap();
        // 3 KiB from 256: pieces end at the 512-byte sector boundaries.
        backend.write(256, &[7u8; 3072]).unwrap();
        faults.cut_power(PowerCut::Torn {
            seed: 3,
            sector_bytes: 512,
        });
        let after = read_back(&mem, 0, 4096);
        let mut kept = 0;
        for sector in after.chunks(512) {
            let first = sector.iter().position(|b| *b == 7);
            let last = sector.iter().rposition(|b| *b == 7);
            if let (Some(a), Some(b)) = (first, last) {
                kept += 1;
                assert!(
                    sector[a..=b].iter().all(|x| *x == 7),
                    "a sector is whole or absent"
                );
            }
        }
        assert!(
            kept > 0 && kept < 7,
            "some of the 7 sectors survive: {kept}"
        );
    }

    #[test]
    fn a_cut_loses_directory_entries_that_were_not_synced() {
        let dir = MemoryDisk::new();
        dir.file("old").set_len(1).unwrap();
        dir.sync_dir();
        dir.file("new").set_len(1).unwrap();
        dir.rename("old", "renamed");
        let faults = DiskFaults::new(true);
        faults.attach_dir(dir.clone());
        faults.cut_power(PowerCut::DropAll);
        assert!(dir.exists("old") && !dir.exists("renamed") && !dir.exists("new"));
    }

    #[test]
    fn synced_writes_survive_a_cut() {
        let (mem, faults, backend) = disk();
        backend.write(0, b"kept").unwrap();
        backend.sync_data().unwrap();
        backend.write(0, b"lost").unwrap();
        faults.cut_power(PowerCut::DropAll);
        assert_eq!(read_back(&mem, 0, 4), b"kept");
    }

    #[test]
    fn a_process_crash_keeps_written_data_and_frees_the_file() {
        let (mem, faults, backend) = disk();
        backend.write(0, b"acked").unwrap();
        backend.sync_data().unwrap();
        backend.write(0, b"later").unwrap();
        faults.halt(Halt::ProcessCrash);
        assert!(
            backend.read(0, &mut [0; 5]).is_err(),
            "the old store is dead"
        );
        assert!(backend.write(0, b"x").is_err());
        // The operating system wrote out what the process wrote.
        assert_eq!(read_back(&mem, 0, 5), b"later");
        let (fresh, _, reopened) = {
            let faults = DiskFaults::new(true);
            (mem.clone(), faults.clone(), FaultyBackend::new(mem, faults))
        };
        assert_eq!(read_back(&reopened, 0, 5), b"later");
        drop(fresh);
    }

    #[test]
    fn power_loss_halt_drops_unsynced_writes() {
        let (mem, faults, backend) = disk();
        backend.write(0, b"acked").unwrap();
        backend.sync_data().unwrap();
        backend.write(0, b"later").unwrap();
        faults.halt(Halt::PowerLoss(PowerCut::DropAll));
        assert!(backend.sync_data().is_err());
        assert_eq!(read_back(&mem, 0, 5), b"acked");
    }

    #[test]
    fn armed_cut_fires_on_the_chosen_op() {
        let (_mem, faults, backend) = disk();
        faults.cut_power_at_op(2, PowerCut::DropAll);
        backend.write(0, b"a").unwrap();
        assert!(backend.sync_data().is_err());
        assert!(faults.is_powered_off());
    }

    #[test]
    fn failing_sync_and_full_disk_report_errors() {
        let (_mem, faults, backend) = disk();
        faults.set_fail_sync(true);
        assert!(
            backend
                .sync_data()
                .unwrap_err()
                .to_string()
                .contains("fsync")
        );
        faults.set_fail_sync(false);
        faults.set_capacity_bytes(4096);
        let err = backend.set_len(8192).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::StorageFull);
        assert_eq!(
            backend.write(4090, b"0123456789").unwrap_err().kind(),
            io::ErrorKind::StorageFull
        );
        faults.set_fail_write(true);
        assert!(backend.write(0, b"x").is_err());
    }
}
