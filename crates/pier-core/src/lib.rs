//! Pier's broker as a library: topics and partitioned logs of Kafka record
//! batches on redb, one group-committing writer, crash recovery, and a
//! fault-injecting storage backend. No sockets, no HTTP, no wall clock: time
//! comes in through [`clock::Clock`].

pub mod batch;
pub mod clock;
pub mod faults;
pub mod groups;
pub mod ledger;
pub mod planted;
pub mod queue;
pub mod store;
pub mod topic;

pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use store::{
    AdminCommand, AdminError, AdminOutcome, AppendError, Appended, Location, OpenError, ReadError,
    ReadResult, Store, StoreOptions,
};
pub use topic::{TopicConfig, TopicMeta};
