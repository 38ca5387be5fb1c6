//! A variant's progress as it runs: records acknowledged to its producers
//! and records its consumers processed, so the lab can watch the lag the
//! way a monitoring system does, raise its alerts, and start consumers
//! when one fires.

use std::collections::{BTreeSet, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use pier_workbench::{LabAlert, Said};
use tokio::sync::watch;
use tokio::time::Instant;

use super::run::Say;

#[derive(Debug, Default)]
pub struct Progress {
    acked: AtomicU64,
    processed: Mutex<HashSet<String>>,
}

impl Progress {
    pub fn acked(&self, n: u64) {
        self.acked.fetch_add(n, Ordering::Relaxed);
    }

    pub fn processed(&self, id: &str) {
        let mut p = self.processed.lock().expect("progress lock");
        if !p.contains(id) {
            p.insert(id.to_owned());
        }
    }

    /// Records acknowledged and not yet processed by any consumer.
    pub fn lag(&self) -> u64 {
        let processed = self.processed.lock().expect("progress lock").len() as u64;
        self.acked.load(Ordering::Relaxed).saturating_sub(processed)
    }
}

/// An alert to watch: fires when the lag stays above `lag_records` for
/// `for_ms`, clears when it is back at or below.
#[derive(Debug, Clone)]
pub struct AlertRule {
    pub name: String,
    pub lag_records: u64,
    pub for_ms: u64,
}

/// The names of the alerts that have fired so far.
pub type Fired = watch::Receiver<BTreeSet<String>>;

const EVERY: Duration = Duration::from_millis(50);

/// Watches the lag until `stop` resolves; says when an alert fires and
/// clears, and publishes the fired ones to `fired`.
pub async fn watch_alerts(
    progress: std::sync::Arc<Progress>,
    rules: Vec<AlertRule>,
    fired: watch::Sender<BTreeSet<String>>,
    (start, variant, say): (Instant, String, Say),
    mut stop: watch::Receiver<bool>,
) -> (Vec<LabAlert>, Vec<Said>) {
    let mut alerts: Vec<LabAlert> = Vec::new();
    let mut said = Vec::new();
    // Per rule: since when the lag is above, and the open alert's index.
    let mut above: Vec<Option<u64>> = vec![None; rules.len()];
    let mut open: Vec<Option<usize>> = vec![None; rules.len()];
    while !*stop.borrow() {
        let now = start.elapsed().as_millis() as u64;
        let lag = progress.lag();
        for (i, r) in rules.iter().enumerate() {
            let mut text = None;
            if lag > r.lag_records {
                let since = *above[i].get_or_insert(now);
                if let Some(a) = open[i] {
                    alerts[a].peak_lag = alerts[a].peak_lag.max(lag);
                } else if now - since >= r.for_ms {
                    open[i] = Some(alerts.len());
                    alerts.push(LabAlert {
                        name: r.name.clone(),
                        fired_ms: now,
                        cleared_ms: None,
                        peak_lag: lag,
                    });
                    fired.send_modify(|f| {
                        f.insert(r.name.clone());
                    });
                    text = Some(format!(
                        "ALERT {} fired: the lag is {lag} records (above {} for {} ms)",
                        r.name, r.lag_records, r.for_ms
                    ));
                }
            } else {
                above[i] = None;
                if let Some(a) = open[i].take() {
                    alerts[a].cleared_ms = Some(now);
                    text = Some(format!(
                        "alert {} cleared: the lag is {lag} records",
                        r.name
                    ));
                }
            }
            if let Some(text) = text {
                say(&variant, now, &text);
                said.push(Said { at_ms: now, text });
            }
        }
        let _ = tokio::time::timeout(EVERY, stop.changed()).await;
    }
    (alerts, said)
}

/// Waits until the alert `name` has fired (or the watch ends).
pub async fn fired(mut f: Fired, name: &str) {
    let _ = f.wait_for(|s| s.contains(name)).await;
}
