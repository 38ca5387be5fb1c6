//! `pier serve`: the broker, until Ctrl-C or SIGTERM.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use pier::{BrokerConfig, Server};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where the data lives (created if missing).
    #[arg(long, env = "PIER_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Keep everything in memory; nothing survives a restart.
    #[arg(long, conflicts_with = "data_dir")]
    in_memory: bool,
    /// Kafka listener address; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:9092")]
    kafka: SocketAddr,
    /// HTTP API address (`/api/v1`, `/docs`, `/metrics`); port 0 picks a
    /// free port.
    #[arg(long, default_value = "127.0.0.1:8092", conflicts_with = "no_http")]
    http: SocketAddr,
    /// Do not serve the HTTP API.
    #[arg(long)]
    no_http: bool,
    /// Host name to advertise to clients (default: the address they used).
    #[arg(long)]
    advertised_host: Option<String>,
    /// Refuse to create topics on first use (`auto.create.topics.enable=false`).
    #[arg(long)]
    no_auto_create_topics: bool,
    /// Partitions of auto-created topics (`num.partitions`).
    #[arg(long, default_value_t = 1)]
    num_partitions: u32,
    /// Acknowledge without fsync (Kafka's default): faster, but a power
    /// loss can take acknowledged records. Switchable at run time.
    #[arg(long)]
    no_fsync: bool,
    /// Model the OS page cache: writes not yet fsynced are held so the
    /// `power_loss` fault really loses them. Costs memory and some speed.
    #[arg(long)]
    page_cache_model: bool,
    /// Do not record the delivery ledger (what happened to each record,
    /// for `pier verify` and the delivery report). Switchable at run time
    /// (`PUT /api/v1/ledger`).
    #[arg(long)]
    no_ledger: bool,
    /// A deliberate bug, for the controls of the reliability checkers
    /// (`docs/reliability.md`). Never use it otherwise.
    #[arg(long, hide = true)]
    planted_bug: Option<pier::pier_core::planted::PlantedBug>,
    /// Allow --kafka / --http on a non-loopback address (reachable from
    /// other machines). The HTTP API then requires a bearer token.
    #[arg(long)]
    allow_remote: bool,
    /// Also answer HTTP requests for this host name (repeatable); others
    /// are refused (DNS-rebinding protection).
    #[arg(long, value_name = "NAME")]
    http_allow_host: Vec<String>,
    /// Bearer token the HTTP API requires (also on loopback). With
    /// --allow-remote and no token, one is generated, printed once and
    /// stored in the data directory (mode 0600).
    #[arg(long, env = "PIER_HTTP_TOKEN", hide_env_values = true)]
    http_token: Option<String>,
    #[command(flatten)]
    security: super::serve_security::SecurityArgs,
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let http = (!args.no_http).then_some(args.http);
    super::exposure::check_binds(args.kafka, http, args.allow_remote)?;
    if !args.kafka.ip().is_loopback() {
        eprintln!(
            "pier: warning: Kafka on {}, reachable from other machines",
            args.kafka
        );
    }
    anyhow::ensure!(
        (1..=pier::pier_core::topic::PARTITIONS_PER_TOPIC_MAX).contains(&args.num_partitions),
        "--num-partitions must be 1..={}",
        pier::pier_core::topic::PARTITIONS_PER_TOPIC_MAX
    );
    let mut builder = Server::builder()
        .kafka_addr(args.kafka)
        .broker_config(BrokerConfig {
            auto_create_topics: !args.no_auto_create_topics,
            num_partitions: args.num_partitions,
            advertised_host: args.advertised_host,
            ledger: std::sync::Arc::new(pier::pier_core::ledger::Ledger::new(!args.no_ledger)),
            ..BrokerConfig::default()
        });
    if !args.no_http {
        builder = builder.http_addr(args.http);
        for name in &args.http_allow_host {
            builder = builder.http_allow_host(name);
        }
    }
    builder = builder.store_options(pier::pier_core::StoreOptions {
        fsync: !args.no_fsync,
        page_cache_model: args.page_cache_model,
        planted_bug: args.planted_bug,
        ..pier::pier_core::StoreOptions::default()
    });
    let dir = (!args.in_memory).then(|| args.data_dir.unwrap_or_else(super::default_data_dir));
    let data = match &dir {
        None => "memory".to_owned(),
        Some(dir) => {
            builder = builder.data_dir(dir);
            dir.display().to_string()
        }
    };
    let remote_http = http.is_some_and(|a| !a.ip().is_loopback());
    if args.http_token.is_some() || remote_http {
        let (token, source) = super::exposure::http_token(args.http_token, dir.as_deref())?;
        super::exposure::announce(&token, &source);
        builder = builder.http_token(token);
    }
    builder = args
        .security
        .apply(builder, dir.as_deref(), args.allow_remote)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let server = builder
            .start()
            .await
            .map_err(|e| anyhow::anyhow!("{e:#} (data directory: {data})"))?;
        let config = &server.broker().config;
        if config.authorization && config.acls.list().is_empty() {
            eprintln!(
                "pier: authorization is on and there are no ACL rules yet: every Kafka client \
                 is refused until `pier acl add` allows it something"
            );
        }
        let http = server
            .http_addr()
            .map(|a| format!(" http={a}"))
            .unwrap_or_default();
        let extra: String = server
            .kafka_listeners()
            .iter()
            .skip(1)
            .map(|(p, a)| format!(" {}={a}", p.name().to_ascii_lowercase()))
            .collect();
        println!(
            "pier ready kafka={}{http} data={data}{extra}",
            server.kafka_addr()
        );
        std::io::stdout().flush()?;
        wait_for_signal().await;
        eprintln!("pier: shutting down");
        server.shutdown().await;
        anyhow::Ok(())
    })
}

async fn wait_for_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = async {
            match term.as_mut() {
                Some(t) => { t.recv().await; }
                None => std::future::pending().await,
            }
        } => {}
    }
}
