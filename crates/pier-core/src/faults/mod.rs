//! Fault injection. For now: the disk (a redb `StorageBackend` wrapper).
//! Network and consumer faults live with their adapters.

mod disk;
mod memory;

pub use disk::{DiskFaults, FaultyBackend, PowerCut};
pub use memory::{MemoryDisk, MemoryFile};
