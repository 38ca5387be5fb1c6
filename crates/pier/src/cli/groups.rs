//! `pier groups` and `pier stats`.

use std::time::Duration;

use clap::Args;
use pier_workbench::{GroupSummary, StatsSample};

use super::client::{Client, Remote, bytes, print_json, segment};

#[derive(Debug, Args)]
pub struct GroupsArgs {
    #[command(flatten)]
    remote: Remote,
    /// Show one group in detail.
    group: Option<String>,
}

pub fn groups(args: GroupsArgs) -> anyhow::Result<()> {
    let remote = &args.remote;
    let client = Client::new(remote);
    let Some(id) = args.group else {
        let groups: Vec<GroupSummary> = client.get("list groups", "/api/v1/groups")?;
        if remote.json {
            return print_json(&groups);
        }
        if groups.is_empty() {
            println!(
                "no consumer groups yet: they appear when a Kafka client joins one, or with `pier consume TOPIC --group NAME`"
            );
            return Ok(());
        }
        let width = groups
            .iter()
            .map(|g| g.group_id.len())
            .max()
            .unwrap_or(5)
            .max(5);
        println!(
            "{:<width$}  {:<20}  {:>7}  {:>10}",
            "GROUP", "STATE", "MEMBERS", "LAG"
        );
        for g in groups {
            println!(
                "{:<width$}  {:<20}  {:>7}  {:>10}",
                g.group_id,
                g.state,
                g.members.len(),
                g.total_lag
            );
        }
        return Ok(());
    };
    let g: GroupSummary = client.get(
        "describe group",
        &format!("/api/v1/groups/{}", segment(&id)),
    )?;
    if remote.json {
        return print_json(&g);
    }
    println!(
        "group       {}\nstate       {} (generation {})\ntotal lag   {}",
        g.group_id, g.state, g.generation, g.total_lag
    );
    if !g.members.is_empty() {
        println!("\nMEMBERS");
        for m in &g.members {
            let assigned: Vec<String> = m
                .assignment
                .iter()
                .map(|a| {
                    let ps: Vec<String> = a.partitions.iter().map(u32::to_string).collect();
                    format!("{}[{}]", a.topic, ps.join(","))
                })
                .collect();
            println!(
                "  {}  client={} host={}  {}",
                m.member_id,
                m.client_id,
                m.client_host,
                assigned.join(" ")
            );
        }
    }
    if !g.lag.is_empty() {
        println!(
            "\n{:<24}  {:>9}  {:>12}  {:>14}  {:>8}",
            "TOPIC", "PARTITION", "COMMITTED", "HIGH WATERMARK", "LAG"
        );
        for l in &g.lag {
            println!(
                "{:<24}  {:>9}  {:>12}  {:>14}  {:>8}",
                l.topic, l.partition, l.committed_offset, l.high_watermark, l.lag
            );
        }
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    #[command(flatten)]
    remote: Remote,
    /// Keep printing a line every second (Ctrl-C to stop).
    #[arg(long, short)]
    watch: bool,
}

fn line(s: &StatsSample) -> String {
    format!(
        "produce {:>8.0} msg/s {:>10}/s | consume {:>8.0} msg/s | lag {:>8} | commits {:>6.0}/s avg {:>6.2} ms | clients {}",
        s.produce_records_per_sec,
        bytes(s.produce_bytes_per_sec as u64),
        s.consume_records_per_sec,
        s.total_lag,
        s.group_commits_per_sec,
        s.commit_latency_avg_micros / 1000.0,
        s.clients
    )
}

pub fn stats(args: StatsArgs) -> anyhow::Result<()> {
    let remote = &args.remote;
    let client = Client::new(remote);
    let mut last_t = 0;
    loop {
        let samples: Vec<StatsSample> =
            client.get_query("stats", "/api/v1/stats", &[("last", "1".to_owned())])?;
        if let Some(s) = samples.last()
            && s.t_ms != last_t
        {
            last_t = s.t_ms;
            if remote.json {
                println!("{}", serde_json::to_string(s)?);
            } else {
                println!("{}", line(s));
            }
        }
        if !args.watch {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
