//! `pier produce`: test messages from a template or from standard input.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, Instant};

use clap::Args;
use pier_workbench::{ProduceRequest, Produced};

use super::client::{Client, Remote, print_json, segment};

#[derive(Debug, Args)]
pub struct ProduceArgs {
    #[command(flatten)]
    remote: Remote,
    topic: String,
    /// Message value; a template where `{{seq}}`, `{{uuid}}`, `{{now}}` and
    /// `{{now_iso}}` are filled in. Without it, each line of standard input
    /// is one message.
    #[arg(long, short)]
    value: Option<String>,
    /// Message key (a template too).
    #[arg(long, short)]
    key: Option<String>,
    /// A header `NAME=VALUE` (repeatable; the value is a template).
    #[arg(long = "header", short = 'H', value_name = "NAME=VALUE")]
    headers: Vec<String>,
    /// Fixed partition (default: by key, or round robin).
    #[arg(long, short)]
    partition: Option<u32>,
    /// How many messages to send from `--value`.
    #[arg(long, short = 'n', default_value_t = 1)]
    count: u64,
    /// Messages per second (default: as fast as possible).
    #[arg(long, short)]
    rate: Option<u32>,
}

/// Progress on standard error: redrawn in place on a terminal, a line every
/// few seconds otherwise. Only for runs longer than a second.
struct Progress {
    started: Instant,
    last: Instant,
    tty: bool,
    shown: bool,
}

impl Progress {
    fn new() -> Self {
        let now = Instant::now();
        Self {
            started: now,
            last: now,
            tty: std::io::stderr().is_terminal(),
            shown: false,
        }
    }

    fn update(&mut self, done: u64, total: Option<u64>) {
        let every = if self.tty {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(2)
        };
        if self.last.elapsed() < every || self.started.elapsed() < Duration::from_secs(1) {
            return;
        }
        self.last = Instant::now();
        let rate = done as f64 / self.started.elapsed().as_secs_f64();
        let of = total.map(|t| format!("/{t}")).unwrap_or_default();
        let line = format!("produced {done}{of} ({rate:.0} msg/s)");
        if self.tty {
            eprint!("\r{line}   ");
        } else {
            eprintln!("{line}");
        }
        let _ = std::io::stderr().flush();
        self.shown = true;
    }

    fn finish(&self) {
        if self.shown && self.tty {
            eprintln!();
        }
    }
}

pub fn run(args: ProduceArgs) -> anyhow::Result<()> {
    let remote = &args.remote;
    let client = Client::new(remote);
    let mut headers = BTreeMap::new();
    for kv in &args.headers {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--header wants NAME=VALUE, got {kv:?}"))?;
        headers.insert(k.to_owned(), v.to_owned());
    }
    anyhow::ensure!(args.count >= 1, "--count must be at least 1");
    let path = format!("/api/v1/topics/{}/messages", segment(&args.topic));
    let base = ProduceRequest {
        key: args.key.clone(),
        value: serde_json::Value::Null,
        headers: Some(headers),
        partition: args.partition,
        count: None,
        rate: args.rate,
        first_seq: None,
    };
    let mut progress = Progress::new();
    let mut offsets: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    let mut record = |done: &Produced| {
        for r in &done.offsets {
            let e = offsets.entry(r.partition).or_insert((r.first, r.last));
            e.1 = r.last;
        }
    };
    let mut sent = 0u64;
    match &args.value {
        Some(value) => {
            // A request carries at most ~2 s of paced work, so progress
            // shows and an interrupted run loses little.
            let per_request = args
                .rate
                .map_or(50_000, |r| u64::from(r) * 2)
                .clamp(1, pier_workbench::PRODUCE_COUNT_MAX.into());
            while sent < args.count {
                let n = per_request.min(args.count - sent);
                let req = ProduceRequest {
                    value: serde_json::Value::String(value.clone()),
                    count: Some(n as u32),
                    first_seq: Some(sent),
                    ..base.clone()
                };
                let done: Produced = client.post("produce", &path, &req)?;
                record(&done);
                sent += n;
                progress.update(sent, Some(args.count));
            }
        }
        None => {
            if std::io::stdin().is_terminal() {
                eprintln!("reading messages from standard input, one per line (Ctrl-D to finish)");
            }
            for line in std::io::stdin().lock().lines() {
                let line = line?;
                let req = ProduceRequest {
                    value: serde_json::Value::String(line),
                    first_seq: Some(sent),
                    rate: None,
                    ..base.clone()
                };
                let done: Produced = client.post("produce", &path, &req)?;
                record(&done);
                sent += 1;
                progress.update(sent, None);
            }
        }
    }
    progress.finish();
    let secs = progress.started.elapsed().as_secs_f64();
    if remote.json {
        return print_json(&serde_json::json!({
            "topic": args.topic,
            "count": sent,
            "duration_ms": (secs * 1000.0) as u64,
            "offsets": offsets.iter().map(|(p, (first, last))| serde_json::json!({"partition": p, "first": first, "last": last})).collect::<Vec<_>>(),
        }));
    }
    let ranges: Vec<String> = offsets
        .iter()
        .map(|(p, (first, last))| format!("partition {p}: offsets {first}..={last}"))
        .collect();
    println!(
        "produced {sent} message{} to {} in {secs:.2} s ({:.0} msg/s){}{}",
        if sent == 1 { "" } else { "s" },
        args.topic,
        sent as f64 / secs.max(1e-9),
        if ranges.is_empty() { "" } else { "; " },
        ranges.join(", ")
    );
    Ok(())
}
