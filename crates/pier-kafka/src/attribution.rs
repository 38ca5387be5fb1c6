//! Which consumer group a Fetch serves. A Fetch names no group, so the
//! ledger infers it, by these rules in order:
//!
//! 1. a classic-group member with the fetching connection's client id and
//!    address that is assigned the partition (exact when client ids are
//!    distinct; with several such members the group this client last
//!    committed or fetched offsets for wins);
//! 2. a member with that client id and address (assignment unreadable);
//! 3. the group this client id and address last committed or fetched
//!    offsets for (a consumer that assigns partitions itself);
//! 4. none: the reads count for `client:<client id>`.
//!
//! An answer is reused for a second per connection and partition.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use pier_core::groups::{GroupDescription, assigned_partitions};
use pier_core::ledger::GroupKind;

use crate::broker::Ctx;

const REUSE_MS: i64 = 1_000;
const ENTRIES_MAX: usize = 65_536;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub group: String,
    pub who: String,
    pub rule: &'static str,
    pub kind: GroupKind,
}

/// (connection, topic, partition) → the answer and when it was found.
type Cache = HashMap<(u64, String, u32), (Resolved, i64)>;

#[derive(Debug, Default)]
pub struct Attribution {
    remembered: Mutex<HashMap<(String, IpAddr), String>>,
    cache: Mutex<Cache>,
}

impl Attribution {
    /// `client_id` at `ip` committed or fetched offsets for `group`.
    pub(crate) fn remember(&self, client_id: &str, ip: IpAddr, group: &str) {
        let mut r = self.remembered.lock().expect("attribution lock");
        if r.len() >= ENTRIES_MAX {
            r.clear();
        }
        r.insert((client_id.to_owned(), ip), group.to_owned());
    }

    pub(crate) fn resolve(&self, ctx: &Ctx, topic: &str, partition: u32, now_ms: i64) -> Resolved {
        let key = (ctx.connection, topic.to_owned(), partition);
        if let Some((r, at)) = self.cache.lock().expect("attribution lock").get(&key)
            && now_ms - at < REUSE_MS
        {
            return r.clone();
        }
        let remembered = self
            .remembered
            .lock()
            .expect("attribution lock")
            .get(&(ctx.client_id.to_string(), ctx.peer.ip()))
            .cloned();
        let groups = ctx.broker.groups.list();
        let r = infer(&groups, ctx, topic, partition, remembered);
        let mut cache = self.cache.lock().expect("attribution lock");
        if cache.len() >= ENTRIES_MAX {
            cache.clear();
        }
        cache.insert(key, (r.clone(), now_ms));
        r
    }
}

fn infer(
    groups: &[GroupDescription],
    ctx: &Ctx,
    topic: &str,
    partition: u32,
    remembered: Option<String>,
) -> Resolved {
    let host = format!("/{}", ctx.peer.ip());
    let same_client: Vec<(&str, &str, bool)> = groups
        .iter()
        .flat_map(|g| g.members.iter().map(move |m| (g, m)))
        .filter(|(_, m)| m.client_id == *ctx.client_id && m.client_host == host)
        .map(|(g, m)| {
            let assigned = assigned_partitions(&m.assignment)
                .iter()
                .any(|(t, ps)| t == topic && ps.contains(&partition));
            (g.group_id.as_str(), m.member_id.as_str(), assigned)
        })
        .collect();
    let pick = |candidates: Vec<&(&str, &str, bool)>| {
        candidates
            .iter()
            .find(|(g, _, _)| Some(*g) == remembered.as_deref())
            .or(candidates.first())
            .map(|(g, m, _)| ((*g).to_owned(), (*m).to_owned(), candidates.len()))
    };
    let assigned: Vec<_> = same_client.iter().filter(|c| c.2).collect();
    if let Some((group, member, n)) = pick(assigned) {
        let rule = if n == 1 {
            "the member with this client id and address assigned the partition"
        } else {
            "one of several members with this client id and address assigned the partition"
        };
        return classic(group, member, rule);
    }
    if let Some((group, member, _)) = pick(same_client.iter().collect()) {
        return classic(group, member, "a member with this client id and address");
    }
    if let Some(group) = remembered {
        let who = format!("{} at {}", ctx.client_id, ctx.peer);
        return classic(
            group,
            who,
            "the group this client committed or fetched offsets for",
        );
    }
    Resolved {
        group: format!("client:{}", ctx.client_id),
        who: format!("{} at {}", ctx.client_id, ctx.peer),
        rule: "no group: a consumer that keeps its own offsets",
        kind: GroupKind::Unattributed,
    }
}

fn classic(group: String, who: String, rule: &'static str) -> Resolved {
    Resolved {
        group,
        who,
        rule,
        kind: GroupKind::Classic,
    }
}
