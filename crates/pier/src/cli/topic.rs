//! `pier topic create|alter|list|describe|delete`.

use clap::Subcommand;
use std::collections::BTreeMap;

use pier_workbench::{NewTopic, TopicSummary, TopicUpdate};

use super::client::{Client, Remote, bytes, print_json, segment};

#[derive(Debug, clap::Args)]
pub struct TopicArgs {
    #[command(flatten)]
    pub remote: Remote,
    #[command(subcommand)]
    pub command: TopicCommand,
}

#[derive(Debug, Subcommand)]
pub enum TopicCommand {
    /// Create a topic.
    Create {
        name: String,
        /// Number of partitions.
        #[arg(long, short, default_value_t = 1)]
        partitions: u32,
        /// A Kafka-named setting, e.g. `--config retention.ms=60000`
        /// (repeatable).
        #[arg(long = "config", short = 'c', value_name = "KEY=VALUE")]
        config: Vec<String>,
    },
    /// Change a topic's settings or add partitions.
    Alter {
        name: String,
        /// A setting to change, e.g. `--config retention.ms=60000`; `KEY=`
        /// restores the default (repeatable).
        #[arg(long = "config", short = 'c', value_name = "KEY=VALUE")]
        config: Vec<String>,
        /// New partition count (partitions can only be added).
        #[arg(long, short)]
        partitions: Option<u32>,
    },
    /// List topics.
    List,
    /// Show a topic's partitions, offsets and settings.
    Describe { name: String },
    /// Delete a topic and its messages.
    Delete { name: String },
}

pub fn run(cmd: TopicCommand, remote: &Remote) -> anyhow::Result<()> {
    let client = Client::new(remote);
    match cmd {
        TopicCommand::Create {
            name,
            partitions,
            config,
        } => {
            let settings = parse_config(&config)?
                .into_iter()
                .map(|(k, v)| (k, v.unwrap_or_default()))
                .collect();
            let new = NewTopic {
                name: name.clone(),
                partitions: Some(partitions),
                config: Some(settings),
            };
            let t: TopicSummary = client.post("create topic", "/api/v1/topics", &new)?;
            if remote.json {
                return print_json(&t);
            }
            println!(
                "created topic {} with {} partition{}",
                t.name,
                t.partitions.len(),
                if t.partitions.len() == 1 { "" } else { "s" }
            );
        }
        TopicCommand::Alter {
            name,
            config,
            partitions,
        } => {
            if config.is_empty() && partitions.is_none() {
                anyhow::bail!("nothing to change: give --config KEY=VALUE or --partitions N");
            }
            let update = TopicUpdate {
                config: Some(parse_config(&config)?),
                partitions,
            };
            let t: TopicSummary = client.patch(
                "alter topic",
                &format!("/api/v1/topics/{}", segment(&name)),
                &update,
            )?;
            if remote.json {
                return print_json(&t);
            }
            println!(
                "topic {} now has {} partition(s)",
                t.name,
                t.partitions.len()
            );
            for (k, v) in &t.config {
                println!("config    {k}={v}");
            }
        }
        TopicCommand::List => {
            let topics: Vec<TopicSummary> = client.get("list topics", "/api/v1/topics")?;
            if remote.json {
                return print_json(&topics);
            }
            if topics.is_empty() {
                println!("no topics yet: create one with `pier topic create NAME`");
                return Ok(());
            }
            let width = topics
                .iter()
                .map(|t| t.name.len())
                .max()
                .unwrap_or(5)
                .max(5);
            println!(
                "{:<width$}  {:>10}  {:>12}  {:>10}",
                "TOPIC", "PARTITIONS", "RECORDS", "SIZE"
            );
            for t in topics {
                println!(
                    "{:<width$}  {:>10}  {:>12}  {:>10}",
                    t.name,
                    t.partitions.len(),
                    t.records,
                    bytes(t.size_bytes)
                );
            }
        }
        TopicCommand::Describe { name } => {
            let t: TopicSummary = client.get(
                "describe topic",
                &format!("/api/v1/topics/{}", segment(&name)),
            )?;
            if remote.json {
                return print_json(&t);
            }
            println!(
                "topic     {}\nid        {}\nrecords   {}\nsize      {}",
                t.name,
                t.id,
                t.records,
                bytes(t.size_bytes)
            );
            for (k, v) in &t.config {
                println!("config    {k}={v}");
            }
            println!(
                "\n{:>9}  {:>12}  {:>14}  {:>10}",
                "PARTITION", "START", "HIGH WATERMARK", "SIZE"
            );
            for p in &t.partitions {
                println!(
                    "{:>9}  {:>12}  {:>14}  {:>10}",
                    p.partition,
                    p.log_start_offset,
                    p.high_watermark,
                    bytes(p.size_bytes)
                );
            }
        }
        TopicCommand::Delete { name } => {
            client.delete(
                "delete topic",
                &format!("/api/v1/topics/{}", segment(&name)),
            )?;
            if remote.json {
                return print_json(&serde_json::json!({ "deleted": name }));
            }
            println!("deleted topic {name}");
        }
    }
    Ok(())
}

/// `KEY=VALUE` pairs; an empty value means "the default" (`None`).
fn parse_config(pairs: &[String]) -> anyhow::Result<BTreeMap<String, Option<String>>> {
    pairs
        .iter()
        .map(|kv| {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("--config wants KEY=VALUE, got {kv:?}"))?;
            let v = v.trim();
            Ok((k.trim().to_owned(), (!v.is_empty()).then(|| v.to_owned())))
        })
        .collect()
}
