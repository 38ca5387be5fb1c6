//! Fault injection: the registry of fault kinds, active faults and their
//! timeline, and the faulty disk (a redb `StorageBackend` wrapper). Network
//! and client faults are applied by their adapters.

mod catalog;
mod disk;
mod memory;
pub mod registry;
pub mod timeline;

pub use disk::{DiskFaults, FaultyBackend, Halt, PowerCut, SLOW_SYNC_MAX_MS};
pub use memory::{MemoryDisk, MemoryFile};
pub use registry::{
    Fault, FaultError, FaultEvent, FaultKind, FaultRegistry, FaultRequest, FaultSpec, ParamSpec,
    ScopeKind, TimelineEntry, ValidFault, catalog,
};
pub use timeline::FAULT_TIMELINE_TOPIC;
