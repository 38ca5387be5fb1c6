//! The `pier` command: a local, durable, Kafka-compatible message queue.

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    cli::init_logging(args.log_format);
    match cli::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("pier: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
