//! `pier repair`: the explicit way past state that cannot be read.
//!
//! `pier serve` refuses to open a data directory whose queue state log holds
//! an event it cannot read, naming the offset. This command opens the
//! directory, drops the unreadable events, prints each one and what
//! dropping it means, and writes a snapshot so the next open starts from
//! what was read. Run it with `pier serve` stopped.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use pier_core::queue::{QUEUE_STATE_TOPIC, Queues, RepairReport};
use pier_core::{Location, Store, StoreOptions, SystemClock};

#[derive(Debug, Args)]
pub struct RepairArgs {
    /// The data directory to repair (stop `pier serve` first).
    #[arg(long, env = "PIER_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Only report what would be dropped; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: RepairArgs) -> anyhow::Result<()> {
    let dir = args.data_dir.unwrap_or_else(super::default_data_dir);
    anyhow::ensure!(
        dir.join("pier.redb").exists(),
        "{} holds no Pier data (no pier.redb)",
        dir.display()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(async {
        let location = Location::Dir(dir.clone());
        let store = tokio::task::spawn_blocking(move || {
            Store::open(location, StoreOptions::default(), Arc::new(SystemClock))
        })
        .await?
        .with_context(|| format!("opening {}", dir.display()))?;
        let report = Queues::repair(store.clone(), Arc::new(SystemClock), args.dry_run).await;
        tokio::task::spawn_blocking(move || store.close()).await?;
        anyhow::Ok(report?)
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", describe(&report, args.dry_run));
    }
    Ok(())
}

/// The report in words, one line per dropped event.
fn describe(report: &RepairReport, dry_run: bool) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    if report.dropped.is_empty() {
        let _ = writeln!(
            out,
            "queue state ({QUEUE_STATE_TOPIC}): every event is readable; nothing to repair"
        );
    } else {
        let verb = if dry_run { "would drop" } else { "dropped" };
        let _ = writeln!(
            out,
            "queue state ({QUEUE_STATE_TOPIC}): {verb} {} unreadable event(s):",
            report.dropped.len()
        );
        for u in &report.dropped {
            let at = if u.last_offset > u.offset {
                format!("offsets {}..={}", u.offset, u.last_offset)
            } else {
                format!("offset {}", u.offset)
            };
            let group = u.group.as_deref().unwrap_or("unknown group");
            let _ = writeln!(out, "  {at} ({group}): {}", u.reason);
        }
        let _ = writeln!(
            out,
            "what this loses: a dropped acknowledgement redelivers its records (at least once), \
             a dropped lease or release is decided again when leases expire, a dropped \
             configuration means the group must be configured again"
        );
    }
    let _ = writeln!(out, "groups now: {}", list(&report.groups));
    if report.snapshot_written {
        let _ = writeln!(
            out,
            "wrote a snapshot of the groups above; `pier serve` will open this directory"
        );
    } else if dry_run && !report.dropped.is_empty() {
        let _ = writeln!(out, "dry run: nothing changed");
    }
    out
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "(none)".to_owned()
    } else {
        names.join(", ")
    }
}
