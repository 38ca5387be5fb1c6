//! Deliberate bugs, each the control of a checker: the power-cut trials,
//! the simulator and the nemesis run must catch every one that concerns
//! them, or they count for nothing (`docs/reliability.md`). Set through
//! [`crate::StoreOptions::planted_bug`] (and `pier serve --planted-bug`,
//! hidden); never in normal use.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlantedBug {
    /// Acknowledge appends without the log's fdatasync (fsync looks on).
    SkipLogSync,
    /// Create files without syncing their directory entry.
    SkipDirSync,
    /// Store an idempotent producer's retried sequence a second time.
    AcceptDuplicateSequence,
    /// Answer a queue ACCEPT without logging it.
    ForgetQueueAccept,
}

impl std::str::FromStr for PlantedBug {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "skip-log-sync" => Ok(Self::SkipLogSync),
            "skip-dir-sync" => Ok(Self::SkipDirSync),
            "accept-duplicate-sequence" => Ok(Self::AcceptDuplicateSequence),
            "forget-queue-accept" => Ok(Self::ForgetQueueAccept),
            other => Err(format!(
                "no planted bug {other:?} (skip-log-sync, skip-dir-sync, \
                 accept-duplicate-sequence, forget-queue-accept)"
            )),
        }
    }
}
