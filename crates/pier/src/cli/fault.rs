//! `pier fault …` and `pier durability`: break things on purpose.

use std::collections::BTreeMap;

use clap::{Subcommand, ValueEnum};
use pier_workbench::{
    Durability, DurabilityUpdate, Fault, FaultRequest, FaultSpec, FaultStarted, TimelineEntry,
};

use super::client::{Client, Remote, print_json};

#[derive(Debug, clap::Args)]
pub struct FaultArgs {
    #[command(flatten)]
    pub remote: Remote,
    #[command(subcommand)]
    pub command: FaultCommand,
}

#[derive(Debug, Subcommand)]
pub enum FaultCommand {
    /// Every fault kind, what it does and what it teaches.
    Kinds,
    /// Faults active now.
    List,
    /// Start a fault, e.g. `pier fault start slow_fsync -p delay_ms=200 --for 30s`.
    Start {
        /// A kind from `pier fault kinds`.
        kind: String,
        /// A parameter, `NAME=VALUE` (repeatable).
        #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// Heal on its own after this long (`500ms`, `30s`, `5m`).
        #[arg(long = "for", value_name = "DURATION")]
        duration: Option<String>,
        /// Network faults: only this Kafka `client.id`.
        #[arg(long)]
        client_id: Option<String>,
        /// Consumer faults: the simulated consumer (e.g. `billing-2`).
        #[arg(long)]
        member: Option<String>,
        /// Poison messages: the topic.
        #[arg(long)]
        topic: Option<String>,
    },
    /// Heal an active fault by id.
    Heal { id: u64 },
    /// What was started, healed and recovered, oldest first.
    Timeline,
}

#[derive(Debug, clap::Args)]
pub struct DurabilityArgs {
    #[command(flatten)]
    pub remote: Remote,
    /// `on`: fsync before every acknowledgement; `off`: like Kafka's
    /// default. Without it, show the current setting.
    pub fsync: Option<Switch>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// `250ms`, `30s`, `5m` (or plain milliseconds) → milliseconds.
fn parse_duration(s: &str) -> anyhow::Result<u64> {
    let s = s.trim();
    let (digits, factor) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1_000)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60_000)
    } else {
        (s, 1)
    };
    let n: u64 = digits
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("--for wants a duration like 500ms, 30s or 5m, got {s:?}"))?;
    Ok(n.saturating_mul(factor))
}

fn describe(f: &Fault) -> String {
    let target = [
        f.client_id.as_ref().map(|c| format!("client {c}")),
        f.member.as_ref().map(|m| format!("member {m}")),
        f.topic.as_ref().map(|t| format!("topic {t}")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ");
    let params = f
        .params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "{:>4}  {:<20} {}{}",
        f.id,
        serde_json::to_value(f.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        params,
        if target.is_empty() {
            String::new()
        } else {
            format!("  ({target})")
        }
    )
}

pub fn run(cmd: FaultCommand, remote: &Remote) -> anyhow::Result<()> {
    let client = Client::new(remote);
    match cmd {
        FaultCommand::Kinds => {
            let kinds: Vec<FaultSpec> = client.get("list fault kinds", "/api/v1/faults/kinds")?;
            if remote.json {
                return print_json(&kinds);
            }
            for k in kinds {
                let name = serde_json::to_value(k.kind)?;
                println!("{}  {}", name.as_str().unwrap_or_default(), k.title);
                println!("    {}", k.does);
                for p in &k.params {
                    println!(
                        "    -p {}=N  {} ({}..={} {}, default {})",
                        p.name, p.about, p.min, p.max, p.unit, p.default
                    );
                }
            }
        }
        FaultCommand::List => {
            let faults: Vec<Fault> = client.get("list faults", "/api/v1/faults")?;
            if remote.json {
                return print_json(&faults);
            }
            if faults.is_empty() {
                println!("no active faults: start one with `pier fault start KIND`");
            }
            for f in &faults {
                println!("{}", describe(f).trim_end());
            }
        }
        FaultCommand::Start {
            kind,
            params,
            duration,
            client_id,
            member,
            topic,
        } => {
            let mut values = BTreeMap::new();
            for kv in params {
                let (k, v) = kv
                    .split_once('=')
                    .ok_or_else(|| anyhow::anyhow!("--param wants NAME=VALUE, got {kv:?}"))?;
                let v: u64 = v.trim().parse().map_err(|_| {
                    anyhow::anyhow!("--param {k}: {v:?} is not a whole, non-negative number")
                })?;
                values.insert(k.trim().to_owned(), v);
            }
            let req = FaultRequest {
                kind,
                params: Some(values),
                duration_ms: duration.as_deref().map(parse_duration).transpose()?,
                client_id,
                member,
                topic,
            };
            let started: FaultStarted = client.post("start fault", "/api/v1/faults", &req)?;
            if remote.json {
                return print_json(&started);
            }
            println!("started {}", describe(&started.fault).trim());
            if let Some(r) = started.recovery {
                println!(
                    "broker back in {} ms: {} batches replayed, {} topic{}, {} records",
                    r.took_ms,
                    r.replayed_batches,
                    r.topics,
                    if r.topics == 1 { "" } else { "s" },
                    r.records
                );
            }
        }
        FaultCommand::Heal { id } => {
            let entry: TimelineEntry =
                client.delete_json("heal fault", &format!("/api/v1/faults/{id}"))?;
            if remote.json {
                return print_json(&entry);
            }
            println!(
                "healed fault {id}{}",
                if entry.detail.is_empty() {
                    String::new()
                } else {
                    format!(": {}", entry.detail)
                }
            );
        }
        FaultCommand::Timeline => {
            let entries: Vec<TimelineEntry> =
                client.get("fault timeline", "/api/v1/faults/timeline")?;
            if remote.json {
                return print_json(&entries);
            }
            if entries.is_empty() {
                println!("nothing yet: `pier fault kinds` lists what you can break");
            }
            for e in entries {
                println!(
                    "{}  #{:<4} {:<20} {:<9} {}",
                    super::client::iso_time(e.t_ms),
                    e.fault,
                    serde_json::to_value(e.kind)?.as_str().unwrap_or_default(),
                    serde_json::to_value(e.event)?.as_str().unwrap_or_default(),
                    e.detail
                );
            }
        }
    }
    Ok(())
}

pub fn durability(args: DurabilityArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.remote);
    let d: Durability = match args.fsync {
        None => client.get("durability", "/api/v1/durability")?,
        Some(s) => client.put(
            "set durability",
            "/api/v1/durability",
            &DurabilityUpdate {
                fsync: matches!(s, Switch::On),
            },
        )?,
    };
    if args.remote.json {
        return print_json(&d);
    }
    if d.fsync {
        println!("fsync on: every acknowledged record is on disk first");
    } else {
        println!(
            "fsync off: acknowledged records reach the disk within about a second; a power loss can lose them"
        );
    }
    Ok(())
}
