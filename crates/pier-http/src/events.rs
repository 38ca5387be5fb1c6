//! `GET /api/v1/events`: a Server-Sent Events stream of what changes.
//!
//! Each subscriber's stream is computed from the workbench on its own
//! schedule (it diffs snapshots), so a slow reader only delays itself:
//! nothing is queued for it and the broker never waits on it. A reader
//! that falls behind sees fewer, coarser events, never stale ones.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use pier_workbench::Workbench;
use serde_json::json;

/// How often a stream looks for changes.
pub const EVENTS_POLL: Duration = Duration::from_millis(250);
/// How often a `stats` sample is sent.
pub const STATS_EVERY: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Seen {
    /// (topic, partition) → high watermark.
    watermarks: BTreeMap<(String, u32), u64>,
    /// group → (state, generation, member ids).
    groups: BTreeMap<String, (String, i32, Vec<String>)>,
    appends: u64,
    last_stats: Option<tokio::time::Instant>,
}

pub(crate) async fn events(
    State(wb): State<Workbench>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = futures_util::stream::unfold(
        (wb, Seen::default(), Vec::<Event>::new()),
        |(wb, mut seen, mut ready)| async move {
            loop {
                if let Some(event) = ready.pop() {
                    return Some((Ok(event), (wb, seen, ready)));
                }
                if seen.last_stats.is_some() {
                    tokio::time::sleep(EVENTS_POLL).await;
                }
                ready = changes(&wb, &mut seen);
                ready.reverse();
            }
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}

fn event(kind: &str, data: serde_json::Value) -> Event {
    Event::default().event(kind).data(data.to_string())
}

/// Events for everything that changed since the last call.
fn changes(wb: &Workbench, seen: &mut Seen) -> Vec<Event> {
    let mut out = Vec::new();
    for t in wb.topics() {
        for p in &t.partitions {
            let key = (t.name.clone(), p.partition);
            let before = seen.watermarks.insert(key, p.high_watermark);
            if before.is_some_and(|b| b < p.high_watermark)
                || (before.is_none() && seen.last_stats.is_some())
            {
                out.push(event(
                    "records",
                    json!({"topic": t.name, "partition": p.partition, "high_watermark": p.high_watermark, "from": before.unwrap_or(0)}),
                ));
            }
        }
    }
    let groups = wb.groups();
    for g in &groups {
        let members: Vec<String> = g.members.iter().map(|m| m.member_id.clone()).collect();
        let now = (g.state.clone(), g.generation, members.clone());
        let before = seen.groups.insert(g.group_id.clone(), now);
        let Some((state, generation, old_members)) = before else {
            if seen.last_stats.is_some() {
                out.push(event("group", json!({"group": g.group_id, "state": g.state, "generation": g.generation, "members": members})));
            }
            continue;
        };
        for m in members.iter().filter(|m| !old_members.contains(m)) {
            out.push(event(
                "member-joined",
                json!({"group": g.group_id, "member": m}),
            ));
        }
        for m in old_members.iter().filter(|m| !members.contains(m)) {
            out.push(event(
                "member-left",
                json!({"group": g.group_id, "member": m}),
            ));
        }
        if generation != g.generation || state != g.state {
            out.push(event("rebalance", json!({"group": g.group_id, "state": g.state, "generation": g.generation, "lag": g.total_lag})));
        }
    }
    let due = seen.last_stats.is_none_or(|t| t.elapsed() >= STATS_EVERY);
    if due {
        let stats = wb.store().stats();
        let elapsed = seen.last_stats.map_or(0.0, |t| t.elapsed().as_secs_f64());
        let rate = if elapsed > 0.0 {
            (stats.appends - seen.appends) as f64 / elapsed
        } else {
            0.0
        };
        out.push(event(
            "stats",
            json!({
                "appends_total": stats.appends,
                "group_commits_total": stats.commits,
                "append_batches_per_second": rate,
                "clients": wb.clients().len(),
                "total_lag": groups.iter().map(|g| g.total_lag).sum::<u64>(),
            }),
        ));
        seen.appends = stats.appends;
        seen.last_stats = Some(tokio::time::Instant::now());
    }
    out
}
