//! Rebuilding queue groups from their state log, and the explicit repair
//! for a log that cannot be read.
//!
//! Opening never skips what it cannot read: one unreadable event (a
//! snapshot, an acknowledgement) stops the open with its offset, because
//! replaying past it would silently lose a whole group or redeliver what
//! was accepted. [`Queues::repair`] is the one way past it: it drops the
//! unreadable events, reports each, and writes a snapshot of what was read
//! so the next open starts from it.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::Serialize;

use super::service::{QUEUE_STATE_TOPIC, QueueError, Queues};
use super::state::QueueGroup;
use super::types::Event;
use crate::batch;
use crate::clock::SharedClock;
use crate::store::Store;

/// Bytes read from the state log per call while replaying.
const REPLAY_READ_BYTES: usize = 1 << 20;

/// An event of the queue state log that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnreadableEvent {
    /// First offset of what could not be read.
    pub offset: u64,
    /// Last offset (equal to `offset` for one record; a whole batch whose
    /// checksum or framing fails covers several).
    pub last_offset: u64,
    /// The group the event belonged to, when its key could be read.
    pub group: Option<String>,
    pub reason: String,
}

/// What [`Queues::repair`] found and did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepairReport {
    /// Unreadable events, dropped (nothing when the log was sound).
    pub dropped: Vec<UnreadableEvent>,
    /// Groups present after the repair.
    pub groups: Vec<String>,
    /// Whether a snapshot was written (only when something was dropped and
    /// this was not a dry run).
    pub snapshot_written: bool,
}

/// What to do with an unreadable event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnUnreadable {
    /// Stop with [`QueueError::Unreadable`]: the only mode of a normal open.
    Fail,
    /// Leave it out and report it: `pier repair`.
    Drop,
}

pub(crate) type Groups = BTreeMap<String, QueueGroup>;

/// Replays the whole state log into groups.
pub(crate) fn load(
    store: &Store,
    on_unreadable: OnUnreadable,
) -> Result<(Groups, Vec<UnreadableEvent>), QueueError> {
    let (start, end) = store
        .offsets(QUEUE_STATE_TOPIC, 0)
        .map_err(|e| QueueError::Unavailable(e.to_string()))?;
    let mut groups = BTreeMap::new();
    let mut dropped = Vec::new();
    let mut bad = |u: UnreadableEvent| match on_unreadable {
        OnUnreadable::Fail => Err(QueueError::Unreadable {
            offset: u.offset,
            group: u.group,
            reason: u.reason,
        }),
        OnUnreadable::Drop => {
            dropped.push(u);
            Ok(())
        }
    };
    let mut next = start;
    while next < end {
        let read = store
            .read(QUEUE_STATE_TOPIC, 0, next, REPLAY_READ_BYTES)
            .map_err(|e| QueueError::Unavailable(format!("reading offset {next}: {e}")))?;
        // Broken framing leaves no way to find the next batch: even a
        // repair cannot go on from here.
        let batches = batch::split_batches(read.records).map_err(|e| QueueError::Unreadable {
            offset: next,
            group: None,
            reason: format!("the batch framing is broken ({e}); this cannot be repaired"),
        })?;
        let before = next;
        for b in batches {
            next = replay_batch(&b, next, &mut groups, &mut bad)?;
        }
        if next == before {
            // The store had offsets up to `end` but gave none past `next`:
            // stopping here would silently drop the rest of the log.
            return Err(QueueError::Unreadable {
                offset: next,
                group: None,
                reason: format!("the log ends at {end} but reading stopped here"),
            });
        }
    }
    Ok((groups, dropped))
}

/// Replays the records of one stored batch at or after `from`; returns the
/// offset after the batch.
fn replay_batch(
    b: &Bytes,
    from: u64,
    groups: &mut Groups,
    bad: &mut impl FnMut(UnreadableEvent) -> Result<(), QueueError>,
) -> Result<u64, QueueError> {
    let base = batch::base_offset_of(b) as u64;
    let last = base + u64::from(batch::last_offset_delta_of(b));
    if last < from {
        return Ok(from);
    }
    let records = match batch::decode_records(b) {
        Ok(records) => records,
        Err(e) => {
            bad(UnreadableEvent {
                offset: base,
                last_offset: last,
                group: None,
                reason: e.to_string(),
            })?;
            return Ok(last + 1);
        }
    };
    for r in records {
        let offset = r.offset as u64;
        if offset < from {
            continue;
        }
        let group = r
            .key
            .as_ref()
            .map(|k| String::from_utf8_lossy(k).into_owned());
        let parsed = match &r.value {
            None => Err("the record has no value".to_owned()),
            Some(v) => serde_json::from_slice::<Event>(v).map_err(|e| e.to_string()),
        };
        match parsed {
            Ok(event) => replay(groups, &event),
            Err(reason) => bad(UnreadableEvent {
                offset,
                last_offset: offset,
                group,
                reason,
            })?,
        }
    }
    Ok(last + 1)
}

/// Applies a logged event to the set of groups.
pub(crate) fn replay(groups: &mut Groups, event: &Event) {
    match event {
        Event::Configured { group, config } => {
            groups
                .entry(group.clone())
                .or_insert_with(|| QueueGroup::new(group, config.clone()))
                .apply(event);
        }
        Event::Deleted { group } => {
            groups.remove(group);
        }
        Event::Snapshot { groups: all } => {
            groups.clear();
            for g in all {
                groups.insert(g.name.clone(), QueueGroup::from_snapshot(g.clone()));
            }
        }
        other => {
            if let Some(g) = groups.get_mut(other.group()) {
                g.apply(other);
            }
        }
    }
}

impl Queues {
    /// The explicit way past an unreadable state log: replays what can be
    /// read, drops (and reports) what cannot, then writes a snapshot so the
    /// next open starts after the dropped events. `dry_run` only reports.
    ///
    /// What a dropped event loses depends on its kind, and the report says
    /// which offsets and groups were touched: a dropped ACCEPT means a
    /// redelivery (at least once, never a loss); a dropped `Configured`
    /// means the group must be created again.
    pub async fn repair(
        store: Store,
        clock: SharedClock,
        dry_run: bool,
    ) -> Result<RepairReport, QueueError> {
        Self::ensure_state_topic(&store).await?;
        let (groups, dropped) = load(&store, OnUnreadable::Drop)?;
        let names = groups.keys().cloned().collect();
        let write = !dry_run && !dropped.is_empty();
        if write {
            Self::from_groups(store, clock, groups).compact().await?;
        }
        Ok(RepairReport {
            dropped,
            groups: names,
            snapshot_written: write,
        })
    }
}
