//! `pier consume`: print a topic's messages, optionally as a group that
//! commits its progress.

use anyhow::bail;
use clap::Args;
use pier_workbench::{
    BrowsePage, CommitOffsets, GroupSummary, Message, OffsetToCommit, TopicSummary,
};

use super::client::{Client, Remote, segment};

#[derive(Debug, Args)]
pub struct ConsumeArgs {
    #[command(flatten)]
    remote: Remote,
    topic: String,
    /// Consume as this group: start where it left off and commit progress
    /// (its lag shows in `pier groups`).
    #[arg(long, short)]
    group: Option<String>,
    /// Where to start without a committed offset: `earliest`, `latest` or
    /// an offset.
    #[arg(long, default_value = "earliest")]
    from: String,
    /// Only this partition.
    #[arg(long, short)]
    partition: Option<u32>,
    /// Stop after this many messages.
    #[arg(long, short = 'n')]
    count: Option<u64>,
    /// Keep waiting for new messages (Ctrl-C to stop).
    #[arg(long, short)]
    follow: bool,
}

enum From {
    Earliest,
    Latest,
    Offset(u64),
}

fn print(m: &Message, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(m)?);
    } else {
        println!(
            "{}/{}\t{}\t{}",
            m.partition,
            m.offset,
            m.key.as_deref().unwrap_or("-"),
            m.value.as_deref().unwrap_or("(null)")
        );
    }
    Ok(())
}

pub fn run(args: ConsumeArgs) -> anyhow::Result<()> {
    let remote = &args.remote;
    let client = Client::new(remote);
    let from = match args.from.as_str() {
        "earliest" => From::Earliest,
        "latest" => From::Latest,
        n => match n.parse() {
            Ok(o) => From::Offset(o),
            Err(_) => bail!("--from wants earliest, latest or an offset, got {n:?}"),
        },
    };
    let topic_path = format!("/api/v1/topics/{}", segment(&args.topic));
    let topic: TopicSummary = client.get("consume", &topic_path)?;
    let committed = match &args.group {
        Some(g) => {
            match client.get::<GroupSummary>("consume", &format!("/api/v1/groups/{}", segment(g))) {
                Ok(group) => group.lag,
                Err(e) if e.to_string().contains("Not found") => Vec::new(),
                Err(e) => return Err(e),
            }
        }
        None => Vec::new(),
    };
    let mut positions: Vec<(u32, u64)> = Vec::new();
    for p in &topic.partitions {
        if args.partition.is_some_and(|only| only != p.partition) {
            continue;
        }
        let start = committed
            .iter()
            .find(|l| l.topic == topic.name && l.partition == p.partition)
            .map(|l| l.committed_offset.max(0) as u64)
            .unwrap_or(match from {
                From::Earliest => p.log_start_offset,
                From::Latest => p.high_watermark,
                From::Offset(o) => o,
            });
        positions.push((p.partition, start));
    }
    if positions.is_empty() {
        bail!(
            "topic {} has {} partitions, no partition {}",
            topic.name,
            topic.partitions.len(),
            args.partition.unwrap_or(0)
        );
    }
    let wait_ms = (1000 / positions.len() as u64).max(100);
    let mut printed = 0u64;
    let path = format!("{topic_path}/messages");
    loop {
        let mut progressed = false;
        for (partition, next) in positions.iter_mut() {
            let remaining = args.count.map_or(u64::MAX, |c| c - printed);
            if remaining == 0 {
                return Ok(());
            }
            let mut query = vec![
                ("partition", partition.to_string()),
                ("offset", next.to_string()),
                ("limit", remaining.min(1000).to_string()),
            ];
            if args.follow {
                query.push(("wait_ms", wait_ms.to_string()));
            }
            let page: BrowsePage = client.get_query("consume", &path, &query)?;
            for m in &page.messages {
                print(m, remote.json)?;
            }
            printed += page.messages.len() as u64;
            let before = *next;
            *next = page.next_offset.unwrap_or(*next).max(page.log_start_offset);
            if *next != before {
                progressed = true;
                if let Some(g) = &args.group {
                    let commit = CommitOffsets {
                        offsets: vec![OffsetToCommit {
                            topic: topic.name.clone(),
                            partition: *partition,
                            offset: *next,
                        }],
                    };
                    let _: GroupSummary = client.post(
                        "commit offsets",
                        &format!("/api/v1/groups/{}/offsets", segment(g)),
                        &commit,
                    )?;
                }
            }
        }
        if args.count.is_some_and(|c| printed >= c) || (!progressed && !args.follow) {
            break;
        }
    }
    if !remote.json && printed == 0 {
        eprintln!("no messages (add --follow to wait for new ones)");
    }
    Ok(())
}
