//! `pier topic create|list|describe|delete`.

use clap::Subcommand;
use pier_workbench::{NewTopic, TopicSummary};

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
            let mut settings = std::collections::BTreeMap::new();
            for kv in config {
                let (k, v) = kv
                    .split_once('=')
                    .ok_or_else(|| anyhow::anyhow!("--config wants KEY=VALUE, got {kv:?}"))?;
                settings.insert(k.trim().to_owned(), v.trim().to_owned());
            }
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
