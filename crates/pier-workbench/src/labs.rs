//! Guided labs in the workbench: the list, a run at a time, its narrative
//! as it happens and its report. The lab engine lives in the `pier` crate
//! (it runs Kafka clients against the server's own listener); the server
//! installs it here as a [`LabRunner`].

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::{Workbench, WorkbenchError};

/// Lab runs remembered (the oldest finished one goes first).
const RUNS_KEPT: usize = 20;

/// A lab as listed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct LabSummary {
    pub name: String,
    pub title: String,
    /// The reliability concept it shows.
    pub concept: String,
    pub about: String,
    pub variants: Vec<LabVariantSummary>,
    /// The lab file, to save and edit (TOML, `docs/labs.md`).
    pub file: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct LabVariantSummary {
    pub name: String,
    pub about: String,
}

/// Start a lab: a built-in one by name, or a lab file's text.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct LabStart {
    #[serde(default)]
    #[ts(optional)]
    pub name: Option<String>,
    /// A lab file (TOML); checked before anything runs.
    #[serde(default)]
    #[ts(optional)]
    pub file: Option<String>,
    /// Slow motion, to watch it: times this many times longer, rates this
    /// many times lower (1–10, default 1).
    #[serde(default)]
    #[ts(optional)]
    #[schema(minimum = 1, maximum = 10)]
    pub slow: Option<u32>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
#[serde(rename_all = "snake_case")]
pub enum LabState {
    Running,
    /// Every expectation of every variant met.
    Passed,
    /// An expectation was not met.
    Failed,
    /// The lab could not run to the end (see `error`).
    Error,
    Stopped,
}

/// One run of a lab.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema, TS)]
pub struct LabRun {
    pub id: u64,
    pub lab: String,
    pub title: String,
    pub state: LabState,
    pub started_ms: i64,
    /// The narrative so far, step by step.
    pub narrative: Vec<LabLine>,
    pub report: Option<LabReport>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct LabLine {
    pub variant: String,
    /// Milliseconds into the variant.
    pub at_ms: u64,
    pub text: String,
    /// When it was said (ms since the epoch: lines up with the fault
    /// timeline and the charts).
    pub time_ms: i64,
}

/// What a lab run found.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema, TS)]
pub struct LabReport {
    pub lab: String,
    pub title: String,
    pub concept: String,
    pub about: String,
    /// Every expectation of every variant met.
    pub passed: bool,
    pub variants: Vec<VariantReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, ToSchema, TS)]
pub struct VariantReport {
    pub name: String,
    pub about: String,
    pub passed: bool,
    pub elapsed_ms: u64,
    /// The fresh topics and groups this run used.
    pub topics: Vec<String>,
    pub groups: Vec<String>,
    pub narrative: Vec<Said>,
    /// Every verdict and client measure, by name (records).
    pub counts: BTreeMap<String, u64>,
    pub expectations: Vec<Checked>,
    /// The records behind each non-zero count: `topic/partition@offset
    /// key` for the ledger's verdicts, record ids for the clients' own.
    pub examples: BTreeMap<String, Vec<String>>,
    /// The guarantee each topic's group met, in words.
    pub guarantee: Vec<String>,
    pub clients: Vec<LabClient>,
    /// The lag alerts that fired, in order.
    pub alerts: Vec<LabAlert>,
    /// Lag and per-consumer throughput over the run (empty without
    /// consumers).
    pub timeline: LabTimeline,
}

/// An alert on the lag that fired during a run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct LabAlert {
    pub name: String,
    /// Milliseconds into the variant.
    pub fired_ms: u64,
    /// When the lag went back below the threshold (`null`: still firing
    /// at the end).
    pub cleared_ms: Option<u64>,
    /// The highest lag while it fired (records).
    pub peak_lag: u64,
}

/// A variant's run over time, in buckets of `bucket_ms`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct LabTimeline {
    pub bucket_ms: u64,
    /// At the end of each bucket: records acknowledged to a producer and
    /// not yet processed by any consumer.
    pub lag_records: Vec<u64>,
    /// At the end of each bucket: how long the oldest of those has waited
    /// (ms).
    pub lag_ms: Vec<u64>,
    /// Records each consumer processed in each bucket.
    pub members: Vec<LabMember>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct LabMember {
    pub name: String,
    pub processed: Vec<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct Said {
    pub at_ms: u64,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct Checked {
    pub verdict: String,
    /// `= 0`, `> 0`, `<= 10`.
    pub condition: String,
    pub actual: u64,
    pub met: bool,
}

/// A client of the lab, by its own account.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct LabClient {
    pub name: String,
    /// `producer`, `consumer` or `app`.
    pub role: String,
    /// Producers: records acknowledged; consumers and apps: processed.
    pub records: u64,
    pub resends: u64,
    pub crashes: u32,
    /// Consumers: the records of the batch it crashed in that it had not
    /// processed (lost with the process).
    pub dropped_at_crash: Vec<String>,
    pub errors: Vec<String>,
    /// Apps: how their runs ended, and their last lines of output.
    pub output: Vec<String>,
}

/// The narrative as it happens: `(variant, ms into it, words)`.
pub type LabSay = Arc<dyn Fn(&str, u64, &str) + Send + Sync>;

/// A lab ready to run.
pub type LabTask = Pin<Box<dyn Future<Output = Result<LabReport, String>> + Send>>;

/// The lab engine, as the server installs it.
pub trait LabRunner: Send + Sync {
    fn list(&self) -> Vec<LabSummary>;
    /// Checks the lab (a bad file is `invalid`, with file, line and
    /// reason) and returns its name, title and the run.
    fn prepare(
        &self,
        workbench: &Workbench,
        req: &LabStart,
        say: LabSay,
    ) -> Result<(String, String, LabTask), WorkbenchError>;
}

#[derive(Default)]
pub(crate) struct LabsState {
    runner: Option<Arc<dyn LabRunner>>,
    runs: VecDeque<LabRun>,
    next_id: u64,
    running: Option<tokio::task::AbortHandle>,
}

impl std::fmt::Debug for LabsState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LabsState")
            .field("runs", &self.runs.len())
            .finish_non_exhaustive()
    }
}

impl Workbench {
    pub fn set_lab_runner(&self, runner: Arc<dyn LabRunner>) {
        self.labs.lock().expect("labs lock").runner = Some(runner);
    }

    fn lab_runner(&self) -> Result<Arc<dyn LabRunner>, WorkbenchError> {
        self.labs
            .lock()
            .expect("labs lock")
            .runner
            .clone()
            .ok_or_else(|| WorkbenchError::unavailable("labs are not available in this server"))
    }

    pub fn labs(&self) -> Result<Vec<LabSummary>, WorkbenchError> {
        Ok(self.lab_runner()?.list())
    }

    /// Starts a lab; one runs at a time (a lab switches durability and
    /// injects faults for the whole broker).
    pub fn start_lab(&self, req: LabStart) -> Result<LabRun, WorkbenchError> {
        let runner = self.lab_runner()?;
        if self.labs.lock().expect("labs lock").running.is_some() {
            return Err(WorkbenchError::conflict(
                "a lab is running; stop it or wait for it to finish",
            ));
        }
        let id = {
            let mut l = self.labs.lock().expect("labs lock");
            l.next_id += 1;
            l.next_id
        };
        let wb = self.clone();
        let say: LabSay = Arc::new(move |variant: &str, at_ms: u64, text: &str| {
            let line = LabLine {
                variant: variant.to_owned(),
                at_ms,
                text: text.to_owned(),
                time_ms: wb.now_ms(),
            };
            wb.update_run(id, |r| r.narrative.push(line));
        });
        let (lab, title, task) = runner.prepare(self, &req, say)?;
        let run = LabRun {
            id,
            lab,
            title,
            state: LabState::Running,
            started_ms: self.now_ms(),
            narrative: Vec::new(),
            report: None,
            error: None,
        };
        let wb = self.clone();
        let handle = tokio::spawn(async move {
            let outcome = task.await;
            wb.update_run(id, |r| match outcome {
                Ok(report) => {
                    r.state = if report.passed {
                        LabState::Passed
                    } else {
                        LabState::Failed
                    };
                    r.report = Some(report);
                }
                Err(e) => {
                    r.state = LabState::Error;
                    r.error = Some(e);
                }
            });
            wb.labs.lock().expect("labs lock").running = None;
        });
        let mut l = self.labs.lock().expect("labs lock");
        l.running = Some(handle.abort_handle());
        l.runs.push_back(run.clone());
        if l.runs.len() > RUNS_KEPT {
            l.runs.pop_front();
        }
        Ok(run)
    }

    fn update_run(&self, id: u64, f: impl FnOnce(&mut LabRun)) {
        let mut l = self.labs.lock().expect("labs lock");
        if let Some(r) = l.runs.iter_mut().find(|r| r.id == id) {
            f(r);
        }
    }

    pub fn lab_runs(&self) -> Vec<LabRun> {
        self.labs
            .lock()
            .expect("labs lock")
            .runs
            .iter()
            .rev()
            .cloned()
            .collect()
    }

    pub fn lab_run(&self, id: u64) -> Result<LabRun, WorkbenchError> {
        self.labs
            .lock()
            .expect("labs lock")
            .runs
            .iter()
            .find(|r| r.id == id)
            .cloned()
            .ok_or_else(|| WorkbenchError::not_found(format!("no lab run {id}")))
    }

    /// Stops a running lab (its clients stop with it; faults heal on
    /// their own or stay listed in the fault panel).
    pub fn stop_lab(&self, id: u64) -> Result<LabRun, WorkbenchError> {
        let run = self.lab_run(id)?;
        if run.state != LabState::Running {
            return Err(WorkbenchError::conflict(format!("lab run {id} has ended")));
        }
        if let Some(h) = self.labs.lock().expect("labs lock").running.take() {
            h.abort();
        }
        self.update_run(id, |r| r.state = LabState::Stopped);
        self.set_durability(true);
        self.lab_run(id)
    }
}
