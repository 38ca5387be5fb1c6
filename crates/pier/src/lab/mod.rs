//! Guided labs: a reliability concept shown by running the real thing
//! with and without the feature that protects it, and judging the outcome
//! with the delivery ledger (`docs/labs.md`).

mod apps;
mod check;
pub mod clients;
mod consumer;
mod judge;
mod membership;
pub mod model;
mod pace;
mod pipelined;
mod progress;
mod queue_consumer;
pub mod report;
pub mod run;
mod runner;
mod share_consumer;
mod spawn;
mod steps;
mod timeline;

pub use model::{Lab, LabError, parse};
pub use pace::{SLOW_MAX, slowed};
pub use report::LabReport;
pub use run::{Say, Target, run_lab};
pub use runner::Runner;

/// The built-in labs: `(file name, text)`.
pub const BUILT_IN: &[(&str, &str)] = &[
    (
        "persistence.toml",
        include_str!("../../labs/persistence.toml"),
    ),
    (
        "idempotence.toml",
        include_str!("../../labs/idempotence.toml"),
    ),
    ("ordering.toml", include_str!("../../labs/ordering.toml")),
    ("commit.toml", include_str!("../../labs/commit.toml")),
    ("dedup.toml", include_str!("../../labs/dedup.toml")),
    ("timeouts.toml", include_str!("../../labs/timeouts.toml")),
    (
        "backpressure.toml",
        include_str!("../../labs/backpressure.toml"),
    ),
    (
        "deadletters.toml",
        include_str!("../../labs/deadletters.toml"),
    ),
    ("balancing.toml", include_str!("../../labs/balancing.toml")),
    (
        "monitoring.toml",
        include_str!("../../labs/monitoring.toml"),
    ),
];

/// Every built-in lab, parsed (they are checked by a test).
pub fn built_in() -> Vec<Lab> {
    BUILT_IN
        .iter()
        .map(|(file, text)| parse(file, text).unwrap_or_else(|e| panic!("built-in lab: {e}")))
        .collect()
}

/// A built-in lab by name, or a lab file by path.
pub fn load(name_or_file: &str) -> anyhow::Result<Lab> {
    if let Some(lab) = built_in()
        .into_iter()
        .find(|l| l.name.get_ref() == name_or_file)
    {
        return Ok(lab);
    }
    let path = std::path::Path::new(name_or_file);
    if !path.exists() {
        let names: Vec<String> = built_in()
            .iter()
            .map(|l| l.name.get_ref().clone())
            .collect();
        anyhow::bail!(
            "no built-in lab {name_or_file:?} and no such file (built-in labs: {})",
            names.join(", ")
        );
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
    let mut lab = parse(&path.display().to_string(), &text)?;
    lab.dir = path.parent().map(|d| {
        if d.as_os_str().is_empty() {
            std::path::PathBuf::from(".")
        } else {
            d.to_path_buf()
        }
    });
    Ok(lab)
}

/// A broker for labs: the page-cache model on, so a power cut loses what
/// was not fsynced, as on a real machine (the persistence lab needs it);
/// in memory unless given a data directory.
pub async fn start_broker(
    kafka: std::net::SocketAddr,
    data_dir: Option<&std::path::Path>,
) -> anyhow::Result<crate::Server> {
    let builder =
        crate::Server::builder()
            .kafka_addr(kafka)
            .store_options(pier_core::StoreOptions {
                page_cache_model: true,
                ..pier_core::StoreOptions::default()
            });
    let builder = match data_dir {
        Some(dir) => builder.data_dir(dir),
        None => builder.in_memory(),
    };
    builder.start().await
}

/// The target of a lab on `server`.
pub fn target(server: &crate::Server) -> Target {
    Target {
        workbench: server.workbench().clone(),
        kafka_addr: server.kafka_addr().to_string(),
    }
}

#[cfg(test)]
mod model_tests;
