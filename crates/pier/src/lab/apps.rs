//! Your own application in a lab: started as a child process, told where
//! to connect in its environment, killed with SIGKILL at a `kill` step
//! and started again, stopped when the variant ends. What it processed is
//! read back from the topic it writes processed record values to.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Lines of an app's output kept for the report.
const OUTPUT_LINES_KEPT: usize = 20;

#[derive(Debug, Clone)]
pub struct AppRun {
    pub name: String,
    pub command: Vec<String>,
    pub dir: Option<PathBuf>,
    pub env: BTreeMap<String, String>,
    pub restart_after: Duration,
}

/// What happened to an app.
#[derive(Debug, Default, Clone)]
pub struct AppOutcome {
    pub name: String,
    pub starts: u32,
    pub kills: u32,
    /// How each run ended on its own (not killed by the lab).
    pub exits: Vec<String>,
    /// Its last lines of output (stdout and stderr).
    pub output: Vec<String>,
    pub errors: Vec<String>,
}

/// A running app: `kill()` kills it (it restarts), `stop()` ends it.
#[derive(Debug)]
pub struct App {
    kill: mpsc::UnboundedSender<()>,
    stop: watch::Sender<bool>,
    task: JoinHandle<AppOutcome>,
}

impl App {
    pub fn start(run: AppRun) -> App {
        let (kill, kills) = mpsc::unbounded_channel();
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(supervise(run, kills, stopped));
        App { kill, stop, task }
    }

    pub fn killer(&self) -> mpsc::UnboundedSender<()> {
        self.kill.clone()
    }

    pub async fn stop(self) -> AppOutcome {
        let _ = self.stop.send(true);
        self.task.await.unwrap_or_default()
    }
}

fn spawn(
    run: &AppRun,
    output: &std::sync::Arc<std::sync::Mutex<VecDeque<String>>>,
) -> std::io::Result<Child> {
    let mut cmd = Command::new(&run.command[0]);
    cmd.args(&run.command[1..])
        .envs(&run.env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(dir) = &run.dir {
        cmd.current_dir(dir);
    }
    let mut child = cmd.spawn()?;
    let out = child
        .stdout
        .take()
        .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>);
    let err = child
        .stderr
        .take()
        .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>);
    for stream in [out, err].into_iter().flatten() {
        let output = output.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut o = output.lock().expect("output lock");
                o.push_back(line);
                if o.len() > OUTPUT_LINES_KEPT {
                    o.pop_front();
                }
            }
        });
    }
    Ok(child)
}

async fn supervise(
    run: AppRun,
    mut kills: mpsc::UnboundedReceiver<()>,
    mut stopped: watch::Receiver<bool>,
) -> AppOutcome {
    let mut out = AppOutcome {
        name: run.name.clone(),
        ..AppOutcome::default()
    };
    let output = std::sync::Arc::new(std::sync::Mutex::new(VecDeque::new()));
    'runs: loop {
        let stop_now = *stopped.borrow();
        if stop_now {
            break;
        }
        let mut child = match spawn(&run, &output) {
            Ok(c) => c,
            Err(e) => {
                out.errors
                    .push(format!("cannot start {:?}: {e}", run.command));
                break;
            }
        };
        out.starts += 1;
        tokio::select! {
            Some(()) = kills.recv() => {
                let _ = child.kill().await;
                out.kills += 1;
                tokio::time::sleep(run.restart_after).await;
            }
            status = child.wait() => {
                out.exits.push(match status {
                    Ok(s) => s.to_string(),
                    Err(e) => e.to_string(),
                });
                // Ended on its own: nothing more until the variant ends.
                break 'runs;
            }
            () = until_stopped(&mut stopped) => {
                let _ = child.kill().await;
                break 'runs;
            }
        }
    }
    out.output = output
        .lock()
        .expect("output lock")
        .iter()
        .cloned()
        .collect();
    out
}

/// `orders` → `PIER_TOPIC_ORDERS`.
pub fn topic_variable(name: &str) -> String {
    let upper: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("PIER_TOPIC_{upper}")
}

async fn until_stopped(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await.map(|_| ());
}
