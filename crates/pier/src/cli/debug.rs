//! Helpers for Pier's own tests (hidden from `--help`).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use clap::{Args, Subcommand};
use kafka_protocol::records::Compression;
use pier_core::batch::{self, NewRecord};
use pier_core::{AdminError, Location, Store, StoreOptions, SystemClock, TopicConfig};

#[derive(Debug, Subcommand)]
pub enum DebugCommand {
    /// Append forever from several threads, printing `ACK <partition>
    /// <offset> <value>` after each acknowledged append (for kill -9 tests).
    AppendLoop(AppendLoopArgs),
    /// Open a data directory and print what recovery found, as JSON.
    Open(OpenArgs),
}

#[derive(Debug, Args)]
pub struct OpenArgs {
    #[arg(long)]
    data_dir: PathBuf,
    #[command(flatten)]
    commit: CommitFlags,
}

/// redb commit settings, for measuring their cost.
#[derive(Debug, Args, Clone, Copy)]
pub struct CommitFlags {
    /// Turn redb quick repair off for checkpoints.
    #[arg(long)]
    no_quick_repair: bool,
    /// Turn redb two-phase commit off for checkpoints.
    #[arg(long)]
    no_two_phase: bool,
}

impl CommitFlags {
    fn options(self) -> StoreOptions {
        StoreOptions {
            quick_repair: !self.no_quick_repair,
            two_phase_commit: !self.no_two_phase,
            ..StoreOptions::default()
        }
    }
}

#[derive(Debug, Args)]
pub struct AppendLoopArgs {
    #[arg(long)]
    data_dir: PathBuf,
    #[arg(long, default_value_t = 4)]
    appenders: u32,
    /// Bytes of filler in each record.
    #[arg(long, default_value_t = 0)]
    pad_bytes: usize,
    #[command(flatten)]
    commit: CommitFlags,
}

pub fn run(cmd: DebugCommand) -> anyhow::Result<()> {
    match cmd {
        DebugCommand::AppendLoop(args) => append_loop(&args),
        DebugCommand::Open(args) => {
            let store = Store::open(
                Location::Dir(args.data_dir),
                args.commit.options(),
                Arc::new(SystemClock),
            )?;
            let r = store.recovery();
            println!(
                "{}",
                serde_json::json!({
                    "repaired": r.repaired,
                    "replayed_batches": r.replayed_batches,
                    "topics": r.topics,
                    "batches": r.batches,
                    "open_micros": r.open_micros,
                })
            );
            Ok(())
        }
    }
}

fn append_loop(args: &AppendLoopArgs) -> anyhow::Result<()> {
    let store = Store::open(
        Location::Dir(args.data_dir.clone()),
        args.commit.options(),
        Arc::new(SystemClock),
    )?;
    match store.create_topic_blocking("crash", args.appenders, TopicConfig::default()) {
        Ok(_) | Err(AdminError::Topic(pier_core::topic::TopicError::AlreadyExists(_))) => {}
        Err(e) => return Err(e).context("creating topic"),
    }
    println!("READY");
    let threads: Vec<_> = (0..args.appenders)
        .map(|t| {
            let store = store.clone();
            let pad = "x".repeat(args.pad_bytes);
            std::thread::spawn(move || -> anyhow::Result<()> {
                for i in 0u64.. {
                    let value = format!("t{t}-{i}{pad}");
                    let record = NewRecord {
                        value: Some(Bytes::from(value.clone())),
                        timestamp_ms: 0,
                        ..NewRecord::default()
                    };
                    let batch = batch::build(&[record], Compression::None, None);
                    let done = store.append_blocking("crash", t, batch)?;
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "ACK {t} {} {value}", done.base_offset)?;
                    out.flush()?;
                }
                Ok(())
            })
        })
        .collect();
    for t in threads {
        t.join().expect("appender thread")?;
    }
    Ok(())
}
