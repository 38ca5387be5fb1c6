//! `pier serve`: open the data directory and run until Ctrl-C / SIGTERM.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use pier_core::{Location, Store, StoreOptions, SystemClock};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where the database lives (created if missing).
    #[arg(long, env = "PIER_DATA_DIR")]
    data_dir: Option<PathBuf>,
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let data_dir = args.data_dir.unwrap_or_else(super::default_data_dir);
    let store = Store::open(
        Location::Dir(data_dir.clone()),
        StoreOptions::default(),
        Arc::new(SystemClock),
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!("pier ready: data {}", data_dir.display());
    runtime.block_on(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    store.close();
    Ok(())
}
