//! A RAM "directory" of files that outlives the database using it, so a
//! test can cut power, drop the `Database`, and reopen what was persisted.
//!
//! Its directory entries behave as a real file system's: creating,
//! renaming or removing a file is volatile until [`MemoryDisk::sync_dir`]
//! (an fsync of the directory); a power cut ([`MemoryDisk::power_cut`])
//! puts the entries back as they were at the last sync, so a file created
//! and written but whose entry was never synced is gone.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, RwLock};

use redb::StorageBackend;

/// A set of named in-memory files. Clones share the same files.
#[derive(Debug, Clone, Default)]
pub struct MemoryDisk {
    dir: Arc<Mutex<Entries>>,
}

#[derive(Debug, Default)]
struct Entries {
    live: HashMap<String, MemoryFile>,
    /// The entries as of the last directory sync.
    durable: HashMap<String, MemoryFile>,
}

impl MemoryDisk {
    pub fn new() -> Self {
        Self::default()
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.dir.lock().expect("memory disk lock")
    }

    /// The file called `name`, created empty on first use.
    pub fn file(&self, name: &str) -> MemoryFile {
        self.entries()
            .live
            .entry(name.to_owned())
            .or_default()
            .clone()
    }

    pub fn exists(&self, name: &str) -> bool {
        self.entries().live.contains_key(name)
    }

    pub fn remove(&self, name: &str) {
        self.entries().live.remove(name);
    }

    /// Renames `from` (which must exist) over `to`.
    pub fn rename(&self, from: &str, to: &str) {
        let mut e = self.entries();
        if let Some(f) = e.live.remove(from) {
            e.live.insert(to.to_owned(), f);
        }
    }

    /// Makes the current entries survive a power cut (fsync of the
    /// directory).
    pub fn sync_dir(&self) {
        let mut e = self.entries();
        e.durable = e.live.clone();
    }

    /// Puts the entries back as of the last [`Self::sync_dir`].
    pub fn power_cut(&self) {
        let mut e = self.entries();
        e.live = e.durable.clone();
    }
}

/// One in-memory file; clones share the same bytes.
#[derive(Debug, Clone, Default)]
pub struct MemoryFile {
    bytes: Arc<RwLock<Vec<u8>>>,
}

impl MemoryFile {
    pub fn len_bytes(&self) -> usize {
        self.bytes.read().expect("memory file lock").len()
    }
}

fn out_of_range() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "access past the end of a memory file",
    )
}

impl StorageBackend for MemoryFile {
    fn len(&self) -> Result<u64, io::Error> {
        Ok(self.len_bytes() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), io::Error> {
        let bytes = self.bytes.read().expect("memory file lock");
        let start = usize::try_from(offset).map_err(|_| out_of_range())?;
        let end = start.checked_add(out.len()).ok_or_else(out_of_range)?;
        let src = bytes.get(start..end).ok_or_else(out_of_range)?;
        out.copy_from_slice(src);
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<(), io::Error> {
        let len = usize::try_from(len).map_err(|_| out_of_range())?;
        self.bytes.write().expect("memory file lock").resize(len, 0);
        Ok(())
    }

    fn sync_data(&self) -> Result<(), io::Error> {
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), io::Error> {
        let mut bytes = self.bytes.write().expect("memory file lock");
        let start = usize::try_from(offset).map_err(|_| out_of_range())?;
        let end = start + data.len();
        if end > bytes.len() {
            return Err(out_of_range());
        }
        bytes[start..end].copy_from_slice(data);
        Ok(())
    }
}
