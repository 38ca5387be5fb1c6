//! The kinds of finding, the guarantees a group can meet, and what a CI
//! job may expect.

use serde::{Deserialize, Serialize};

/// Kinds of finding, in the order a report lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema, ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    LostAfterAck,
    LostUnacknowledged,
    StoredTwice,
    DeliveredMoreThanOnce,
    CommittedWithoutDelivery,
    OutOfOrder,
    DeadLettered,
    Stuck,
    Unconsumed,
}

impl FindingKind {
    pub const ALL: [FindingKind; 9] = [
        Self::LostAfterAck,
        Self::LostUnacknowledged,
        Self::StoredTwice,
        Self::DeliveredMoreThanOnce,
        Self::CommittedWithoutDelivery,
        Self::OutOfOrder,
        Self::DeadLettered,
        Self::Stuck,
        Self::Unconsumed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::LostAfterAck => "lost_after_ack",
            Self::LostUnacknowledged => "lost_unacknowledged",
            Self::StoredTwice => "stored_twice",
            Self::DeliveredMoreThanOnce => "delivered_more_than_once",
            Self::CommittedWithoutDelivery => "committed_without_delivery",
            Self::OutOfOrder => "out_of_order",
            Self::DeadLettered => "dead_lettered",
            Self::Stuck => "stuck",
            Self::Unconsumed => "unconsumed",
        }
    }

    /// What it means for the application, in one sentence.
    pub fn meaning(self) -> &'static str {
        match self {
            Self::LostAfterAck => {
                "acknowledged to the producer, then gone after a broker restart (not removed by retention)"
            }
            Self::LostUnacknowledged => {
                "sent with acks=0 and gone after a broker restart: the producer never asked"
            }
            Self::StoredTwice => {
                "the same record (timestamp, key, value, headers, client) stored again within a minute: a retry without idempotence"
            }
            Self::DeliveredMoreThanOnce => {
                "sent to the group again after it had them: processed twice unless the consumer is idempotent"
            }
            Self::CommittedWithoutDelivery => {
                "the group committed past these without any member being sent them: skipped"
            }
            Self::OutOfOrder => {
                "a producer's batch stored after a newer one from the same connection: a retry overtaken"
            }
            Self::DeadLettered => {
                "given up after the delivery limit and copied to the dead-letter topic"
            }
            Self::Stuck => "lag not moving for 10 s while the group has members",
            Self::Unconsumed => "not yet consumed by the group (lag)",
        }
    }
}

/// The delivery guarantee a group met over the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema, ts_rs::TS))]
#[serde(rename_all = "kebab-case")]
pub enum Guarantee {
    /// Acknowledged records were lost: no guarantee held.
    None,
    AtMostOnce,
    AtLeastOnce,
    EffectivelyExactlyOnce,
}

/// What a user's CI may insist on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema, ts_rs::TS))]
#[serde(rename_all = "kebab-case")]
pub enum Expectation {
    NoLoss,
    AtLeastOnce,
    ExactlyOnce,
}
