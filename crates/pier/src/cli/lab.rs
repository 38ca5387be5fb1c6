//! `pier lab`: the guided labs, headless. `pier lab run` starts its own
//! broker (in memory unless `--data-dir`), runs every variant, prints the
//! narrative and the verdicts, and exits 3 when an expectation is broken.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};
use pier::lab;

/// Exit status when an expectation was not met (1 is "could not run").
pub const BROKEN_EXIT: i32 = 3;

#[derive(Debug, Args)]
pub struct LabArgs {
    #[command(subcommand)]
    command: LabCommand,
}

#[derive(Debug, Subcommand)]
enum LabCommand {
    /// The built-in labs, by concept.
    List {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check a lab file without running it.
    Check {
        /// A lab file (TOML).
        file: PathBuf,
    },
    /// Run a built-in lab by name, or a lab file.
    Run(RunArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    /// A built-in lab's name (`pier lab list`) or a lab file (TOML).
    lab: String,
    /// Print the report as JSON (the narrative goes to stderr).
    #[arg(long)]
    json: bool,
    /// Also write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// The Kafka listener of the lab's broker (your own clients can join).
    #[arg(long, default_value = "127.0.0.1:0")]
    kafka: std::net::SocketAddr,
    /// Keep the broker's data here instead of in memory.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Slow motion, to watch it: every time in the lab this many times
    /// longer and every rate this many times lower (1–10; expectations on
    /// times scale too).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=lab::SLOW_MAX as i64))]
    slow: u32,
}

pub fn run(args: LabArgs) -> anyhow::Result<()> {
    match args.command {
        LabCommand::List { json } => list(json),
        LabCommand::Check { file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| anyhow::anyhow!("reading {}: {e}", file.display()))?;
            let lab = lab::parse(&file.display().to_string(), &text)?;
            println!(
                "{}: lab {:?} is valid ({} variants)",
                file.display(),
                lab.name.get_ref(),
                lab.variants.len()
            );
            Ok(())
        }
        LabCommand::Run(r) => run_one(r),
    }
}

fn list(json: bool) -> anyhow::Result<()> {
    let mut labs = lab::built_in();
    labs.sort_by(|a, b| (&a.concept, a.name.get_ref()).cmp(&(&b.concept, b.name.get_ref())));
    if json {
        let out: Vec<serde_json::Value> = labs
            .iter()
            .map(|l| {
                serde_json::json!({
                    "name": l.name.get_ref(),
                    "title": l.title,
                    "concept": l.concept,
                    "variants": l.variants.iter().map(|v| &v.name).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    for l in labs {
        let variants: Vec<&str> = l.variants.iter().map(|v| v.name.as_str()).collect();
        println!(
            "{:<12} {:<16} {} ({})",
            l.name.get_ref(),
            l.concept,
            l.title,
            variants.join(" / ")
        );
    }
    println!("\nrun one: pier lab run NAME   (or a lab file: pier lab run my-lab.toml)");
    Ok(())
}

fn run_one(args: RunArgs) -> anyhow::Result<()> {
    let lab = lab::slowed(lab::load(&args.lab)?, args.slow);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = rt.block_on(async {
        let server = lab::start_broker(args.kafka, args.data_dir.as_deref()).await?;
        eprintln!(
            "lab {}: broker at {} (bootstrap.servers for your own clients)",
            lab.name.get_ref(),
            server.kafka_addr()
        );
        let target = lab::target(&server);
        let say: lab::Say = Arc::new(|variant: &str, at_ms: u64, text: &str| {
            eprintln!("[{variant} +{:>5} ms] {text}", at_ms);
        });
        let report = lab::run_lab(&target, &lab, say).await;
        server.shutdown().await;
        report
    })?;
    if let Some(path) = &args.junit {
        std::fs::write(path, lab::report::junit(&report))
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", lab::report::text(&report));
    }
    if !report.passed {
        std::process::exit(BROKEN_EXIT);
    }
    Ok(())
}
