//! Classic Kafka consumer groups: membership, generations and rebalances
//! (this module), with committed offsets kept durably by the store.
//!
//! The coordinator is a state machine behind one lock. Requests that must
//! wait (JoinGroup until every member rejoined, SyncGroup until the leader
//! sent assignments) leave a oneshot sender in the state and await it;
//! `tick` (driven by the server) expires silent members and ends overdue
//! rebalances. Time comes from the injected clock.

mod assignment;
pub mod assignors;
pub mod consumer;
mod coordinator;
mod state;

pub use assignment::{assigned_partitions, subscribed_topics};

pub use consumer::{
    ConsumerAnswer, ConsumerGroupDescription, ConsumerGroupError, ConsumerGroups,
    ConsumerHeartbeat, ConsumerMemberDescription,
};
pub use coordinator::Coordinator;
pub use state::{
    GroupDescription, GroupState, JoinRequest, JoinResponse, JoinedMember, MemberDescription,
};

/// Bounds on `session.timeout.ms`, as Kafka's broker defaults.
pub const SESSION_TIMEOUT_MIN_MS: i32 = 6_000;
pub const SESSION_TIMEOUT_MAX_MS: i32 = 1_800_000;
/// A member that was told MEMBER_ID_REQUIRED and never came back is
/// forgotten after this long.
pub const PENDING_MEMBER_TIMEOUT_MS: i64 = 10_000;
/// Members per group.
pub const MEMBERS_PER_GROUP_MAX: usize = 1_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    #[error("the group id must not be empty")]
    InvalidGroupId,
    #[error("member id required: rejoin with member id {0:?}")]
    MemberIdRequired(String),
    #[error("unknown member {0:?}")]
    UnknownMemberId(String),
    #[error("generation {got} is not the current generation {current}")]
    IllegalGeneration { current: i32, got: i32 },
    #[error("the group is rebalancing: rejoin")]
    RebalanceInProgress,
    #[error("no protocol is supported by every member")]
    InconsistentGroupProtocol,
    #[error("session timeout {0} ms is outside {min}..={max} ms", min = SESSION_TIMEOUT_MIN_MS, max = SESSION_TIMEOUT_MAX_MS)]
    InvalidSessionTimeout(i32),
    #[error("group {0:?} has active members")]
    NonEmptyGroup(String),
    #[error("group {0:?} does not exist")]
    GroupIdNotFound(String),
    #[error("the group has {max} members already", max = MEMBERS_PER_GROUP_MAX)]
    GroupFull,
}
