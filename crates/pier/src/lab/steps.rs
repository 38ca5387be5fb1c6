//! A variant's steps at their times: words, faults, killed apps, a fix
//! deployed, dead letters replayed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use pier_core::faults::FaultRequest;
use pier_workbench::Workbench;
use tokio::time::{Instant, sleep_until};

use super::model::Step;
use super::report::Said;
use super::run::Say;
use super::spawn::client_id;

/// What steps act on besides faults: apps to kill, consumers to fix,
/// groups whose dead letters to replay.
pub(super) struct Hands {
    pub killers: BTreeMap<String, tokio::sync::mpsc::UnboundedSender<()>>,
    pub fixes: BTreeMap<String, Arc<AtomicBool>>,
    pub groups: BTreeMap<String, String>,
}

/// Runs the steps at their times; returns what was said and the faults
/// started (to heal those still on at the end).
pub(super) async fn run_steps(
    wb: Workbench,
    steps: Vec<Step>,
    hands: Hands,
    start: Instant,
    variant: String,
    say: Say,
) -> (Vec<Said>, Vec<u64>) {
    let mut said = Vec::new();
    let mut faults = Vec::new();
    let mut steps = steps;
    steps.sort_by_key(|s| *s.at_ms.get_ref());
    for s in steps {
        let at_ms = *s.at_ms.get_ref() as u64;
        sleep_until(start + Duration::from_millis(at_ms)).await;
        let mut outcomes = Vec::new();
        if let Some(outcome) = fault(&wb, &s, &mut faults).await {
            outcomes.push(outcome);
        }
        outcomes.extend(act(&wb, &s, &hands).await);
        let mut text = s.say.clone();
        for outcome in outcomes {
            text = if text.is_empty() {
                outcome
            } else {
                format!("{text} ({outcome})")
            };
        }
        say(&variant, start.elapsed().as_millis() as u64, &text);
        said.push(Said { at_ms, text });
    }
    (said, faults)
}

/// Starts the step's fault, if it has one; says how that went.
async fn fault(wb: &Workbench, s: &Step, started: &mut Vec<u64>) -> Option<String> {
    let f = s.fault.as_ref()?;
    let req = FaultRequest {
        kind: f.kind.get_ref().clone(),
        params: (!f.params.is_empty()).then(|| f.params.clone()),
        duration_ms: f.duration_ms,
        client_id: f.client.as_ref().map(|c| client_id(c.get_ref())),
        member: None,
        topic: None,
    };
    Some(match wb.start_fault(req).await {
        Ok(ok) => {
            started.push(ok.fault.id);
            format!("fault {} started", f.kind.get_ref())
        }
        Err(e) => format!("fault {} could not start: {e}", f.kind.get_ref()),
    })
}

/// Kills an app, deploys a fix, replays dead letters; says what it did.
async fn act(wb: &Workbench, s: &Step, hands: &Hands) -> Vec<String> {
    let mut outcomes = Vec::new();
    if let Some(app) = &s.kill {
        outcomes.push(match hands.killers.get(app.get_ref()) {
            Some(k) if k.send(()).is_ok() => format!("app {} killed (kill -9)", app.get_ref()),
            _ => format!("app {} was not running", app.get_ref()),
        });
    }
    if let Some(c) = &s.fix
        && let Some(fixed) = hands.fixes.get(c.get_ref())
    {
        fixed.store(true, Ordering::Relaxed);
        outcomes.push(format!("{}'s fix deployed", c.get_ref()));
    }
    if let Some(c) = &s.replay
        && let Some(group) = hands.groups.get(c.get_ref())
    {
        let req = pier_workbench::ReplayRequest {
            from_offset: None,
            max_records: None,
        };
        outcomes.push(match wb.replay_dead_letters(group, req).await {
            Ok(r) => format!("{} dead letters replayed", r.replayed),
            Err(e) => format!("replay failed: {e}"),
        });
    }
    outcomes
}
