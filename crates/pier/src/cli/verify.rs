//! `pier verify`: the delivery ledger's verdict for a topic (and a group),
//! for a person or a CI job. Exits 3 when the expectation is broken, so a
//! test suite can assert what its application did to the messages.

use clap::Args;
use pier_workbench::{Expectation, Finding, VerdictResponse};

use super::client::{Client, Remote, iso_time, print_json};

/// Exit status when the run broke the expectation (1 is "could not check").
pub const BROKEN_EXIT: i32 = 3;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    remote: Remote,
    /// The topic to judge.
    #[arg(long)]
    topic: String,
    /// A classic or queue (share) group on it; without one, only what the
    /// producers did is judged.
    #[arg(long)]
    group: Option<String>,
    /// Only what happened in this window: `30s`, `5m`, `2h` ago, or a time
    /// in ms since the epoch.
    #[arg(long)]
    since: Option<String>,
    /// What must hold: `no-loss` (nothing acknowledged lost),
    /// `at-least-once` (and nothing skipped) or `exactly-once` (and nothing
    /// stored or delivered twice).
    #[arg(long, value_enum, default_value = "exactly-once")]
    expect: ExpectArg,
    /// Records listed per finding at most.
    #[arg(long, default_value_t = 1_000)]
    limit: usize,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ExpectArg {
    NoLoss,
    AtLeastOnce,
    ExactlyOnce,
}

impl From<ExpectArg> for Expectation {
    fn from(e: ExpectArg) -> Self {
        match e {
            ExpectArg::NoLoss => Self::NoLoss,
            ExpectArg::AtLeastOnce => Self::AtLeastOnce,
            ExpectArg::ExactlyOnce => Self::ExactlyOnce,
        }
    }
}

/// `30s` / `5m` / `2h` before `now_ms`, or an absolute time in ms.
pub fn parse_since(s: &str, now_ms: i64) -> anyhow::Result<i64> {
    let s = s.trim();
    let (digits, unit_ms) = match s.char_indices().last() {
        Some((i, 's')) => (&s[..i], 1_000),
        Some((i, 'm')) => (&s[..i], 60_000),
        Some((i, 'h')) => (&s[..i], 3_600_000),
        _ => (s, 0),
    };
    let n: i64 = digits.parse().map_err(|_| {
        anyhow::anyhow!("--since takes 30s, 5m, 2h or ms since the epoch, not {s:?}")
    })?;
    Ok(if unit_ms == 0 {
        n
    } else {
        now_ms - n * unit_ms
    })
}

pub fn run(args: VerifyArgs) -> anyhow::Result<()> {
    let client = Client::new(&args.remote);
    let expect: Expectation = args.expect.into();
    let expect_name = serde_json::to_value(expect)?
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut query = vec![
        ("topic", args.topic.clone()),
        ("limit", args.limit.to_string()),
        ("expect", expect_name.clone()),
    ];
    if let Some(g) = &args.group {
        query.push(("group", g.clone()));
    }
    if let Some(s) = &args.since {
        query.push((
            "since_ms",
            parse_since(s, pier_workbench::now_ms())?.to_string(),
        ));
    }
    let v: VerdictResponse = client.get_query("verify", "/api/v1/ledger/verdict", &query)?;
    if args.remote.json {
        print_json(&v)?;
    } else {
        print_human(&v, &expect_name);
    }
    if v.met == Some(false) {
        std::process::exit(BROKEN_EXIT);
    }
    Ok(())
}

fn print_human(v: &VerdictResponse, expect: &str) {
    let r = &v.verdict;
    let scope = match &r.group {
        Some(g) => format!("topic {} and group {g}", r.topic),
        None => format!(
            "topic {} (producers only: pass --group to judge a consumer group)",
            r.topic
        ),
    };
    println!("{scope}");
    if let Some(t) = r.ledger_started_ms {
        println!("  ledger recording since {}", iso_time(t));
    }
    if let Some(t) = r.truncated_ms {
        println!(
            "  LEDGER TRUNCATED at {}: later detail was not kept",
            iso_time(t)
        );
    }
    if !r.enabled {
        println!("  the ledger is switched off: nothing new is recorded");
    }
    println!(
        "  {} records produced, {} acknowledged, {} at risk (fsync off or acks=0)",
        r.produced, r.acknowledged, r.at_risk
    );
    println!("  guarantee: {} ({})", serde_plain(&r.guarantee), r.because);
    for f in &r.findings {
        print_finding(f);
    }
    match (&v.met, &v.broken) {
        (Some(true), _) => println!("\nOK: {expect} held"),
        (Some(false), Some(why)) => println!("\nBROKEN: {expect} did not hold: {why}"),
        _ => {}
    }
}

fn print_finding(f: &Finding) {
    let name = serde_plain(&f.kind);
    if f.records == 0 {
        println!("  {name:<27} 0");
        return;
    }
    println!("  {name:<27} {}  ({})", f.records, f.meaning);
    for s in &f.spans {
        let range = if s.first_offset == s.last_offset {
            format!("{}", s.first_offset)
        } else {
            format!("{}..={}", s.first_offset, s.last_offset)
        };
        let who = s
            .who
            .as_deref()
            .map(|w| format!("  by {w}"))
            .unwrap_or_default();
        let detail = s
            .detail
            .as_deref()
            .map(|d| format!("  {d}"))
            .unwrap_or_default();
        println!(
            "      partition {} offsets {range}  at {}{who}{detail}",
            s.partition,
            iso_time(s.at_ms)
        );
    }
    if !f.complete {
        println!("      … more not listed (raise --limit)");
    }
    let keyed: Vec<String> = f
        .listed
        .iter()
        .filter_map(|r| {
            Some(format!(
                "{}@{} {}",
                r.partition,
                r.offset,
                r.key.as_deref()?
            ))
        })
        .take(10)
        .collect();
    if !keyed.is_empty() {
        println!("      keys: {}", keyed.join(", "));
    }
}

fn serde_plain(v: &impl serde::Serialize) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn since_takes_relative_and_absolute_times() {
        assert_eq!(super::parse_since("30s", 100_000).unwrap(), 70_000);
        assert_eq!(super::parse_since("5m", 1_000_000).unwrap(), 700_000);
        assert_eq!(super::parse_since("2h", 10_000_000).unwrap(), 2_800_000);
        assert_eq!(super::parse_since("1234", 0).unwrap(), 1234);
        assert!(super::parse_since("soon", 0).is_err());
    }
}
