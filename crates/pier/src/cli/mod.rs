//! Command-line parsing and dispatch.

mod acl;
mod bench;
mod bench_kafka;
mod bench_queue;
mod client;
mod consume;
mod debug;
mod exposure;
mod fault;
mod groups;
mod lab;
mod produce;
mod repair;
mod serve;
mod serve_security;
mod tls;
mod topic;
mod user;
mod verify;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "pier",
    version,
    about = "A local, durable, Kafka-compatible message queue workbench"
)]
pub struct Cli {
    /// Log output format (levels come from RUST_LOG; quiet by default).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "PIER_LOG_FORMAT")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the broker (Kafka on 127.0.0.1:9092, HTTP on 127.0.0.1:8092).
    Serve(serve::ServeArgs),
    /// Create, list, describe and delete topics.
    Topic(topic::TopicArgs),
    /// Send test messages.
    Produce(produce::ProduceArgs),
    /// Print messages, optionally as a consumer group.
    Consume(consume::ConsumeArgs),
    /// Consumer groups, their members and lag.
    Groups(groups::GroupsArgs),
    /// Live rates: produce, consume, lag, group commits.
    Stats(groups::StatsArgs),
    /// Break things on purpose: crashes, power loss, disk and network
    /// faults, consumer faults.
    Fault(fault::FaultArgs),
    /// Show or switch fsync before acknowledging (`on` / `off`).
    Durability(fault::DurabilityArgs),
    /// Open a data directory whose state cannot be read, drop what cannot
    /// be read and say what that loses (stop `pier serve` first).
    Repair(repair::RepairArgs),
    /// The delivery ledger's verdict: what was lost, duplicated or skipped
    /// on a topic (and group). Exits 3 when the expectation is broken.
    Verify(verify::VerifyArgs),
    /// Guided labs: a reliability concept shown with and without the
    /// feature that protects it, judged by the ledger. Exits 3 when an
    /// expectation is broken.
    Lab(lab::LabArgs),
    /// SASL users: add, list, delete.
    User(user::UserArgs),
    /// ACL rules for Kafka clients: add, list, delete (enforced with
    /// `pier serve --authorization`).
    Acl(acl::AclArgs),
    /// Certificates for SSL listeners (`pier tls init`).
    #[command(subcommand)]
    Tls(tls::TlsCommand),
    /// Measure Pier and the disk under it.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Tools for Pier's own tests.
    #[command(subcommand, hide = true)]
    Debug(debug::DebugCommand),
}

pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Topic(args) => topic::run(args.command, &args.remote),
        Command::Produce(args) => produce::run(args),
        Command::Consume(args) => consume::run(args),
        Command::Groups(args) => groups::groups(args),
        Command::Stats(args) => groups::stats(args),
        Command::Fault(args) => fault::run(args.command, &args.remote),
        Command::Durability(args) => fault::durability(args),
        Command::Repair(args) => repair::run(args),
        Command::Tls(cmd) => tls::run(cmd),
        Command::User(args) => user::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Lab(args) => lab::run(args),
        Command::Acl(args) => acl::run(args),
        Command::Bench(cmd) => bench::run(cmd),
        Command::Debug(cmd) => debug::run(cmd),
    }
}

/// `$XDG_DATA_HOME/pier/data`, or `~/.local/share/pier/data`.
pub fn default_data_dir() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("pier").join("data")
}
