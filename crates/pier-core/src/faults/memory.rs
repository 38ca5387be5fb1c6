//! A RAM "directory" of files that outlives the database using it, so a
//! test can cut power, drop the `Database`, and reopen what was persisted.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, RwLock};

use redb::StorageBackend;

/// A set of named in-memory files. Clones share the same files.
#[derive(Debug, Clone, Default)]
pub struct MemoryDisk {
    files: Arc<Mutex<HashMap<String, MemoryFile>>>,
}

impl MemoryDisk {
    pub fn new() -> Self {
        Self::default()
    }

    /// The file called `name`, created empty on first use.
    pub fn file(&self, name: &str) -> MemoryFile {
        self.files
            .lock()
            .expect("memory disk lock")
            .entry(name.to_owned())
            .or_default()
            .clone()
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
