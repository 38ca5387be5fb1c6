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
}

#[derive(Debug, Args)]
pub struct AppendLoopArgs {
    #[arg(long)]
    data_dir: PathBuf,
    #[arg(long, default_value_t = 4)]
    appenders: u32,
}

pub fn run(cmd: DebugCommand) -> anyhow::Result<()> {
    match cmd {
        DebugCommand::AppendLoop(args) => append_loop(&args),
    }
}

fn append_loop(args: &AppendLoopArgs) -> anyhow::Result<()> {
    let store = Store::open(
        Location::Dir(args.data_dir.clone()),
        StoreOptions::default(),
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
            std::thread::spawn(move || -> anyhow::Result<()> {
                for i in 0u64.. {
                    let value = format!("t{t}-{i}");
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
