//! The embeddable server: a store, the Kafka listener, and housekeeping.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pier_core::faults::MemoryDisk;
use pier_core::{AdminCommand, Location, Store, StoreOptions, SystemClock};
use pier_kafka::{Broker, BrokerConfig, KafkaListener};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long shutdown waits for connections to finish their request.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// How often retention runs.
pub const RETENTION_INTERVAL: Duration = Duration::from_secs(60);

/// Configures a [`Server`].
#[derive(Debug, Clone)]
pub struct ServerBuilder {
    location: Location,
    kafka_addr: SocketAddr,
    http_addr: Option<SocketAddr>,
    broker: BrokerConfig,
    store: StoreOptions,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        Self {
            location: Location::Memory(MemoryDisk::new()),
            kafka_addr: SocketAddr::from(([127, 0, 0, 1], 9092)),
            http_addr: None,
            broker: BrokerConfig::default(),
            store: StoreOptions::default(),
        }
    }
}

impl ServerBuilder {
    /// Keep data in this directory (created if missing).
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.location = Location::Dir(dir.into());
        self
    }

    /// Keep data in memory only (the default): nothing touches the disk.
    pub fn in_memory(mut self) -> Self {
        self.location = Location::Memory(MemoryDisk::new());
        self
    }

    /// Where the Kafka listener binds; port 0 picks a free port.
    pub fn kafka_addr(mut self, addr: SocketAddr) -> Self {
        self.kafka_addr = addr;
        self
    }

    /// Also serve the HTTP API here (off unless set); port 0 picks one.
    pub fn http_addr(mut self, addr: SocketAddr) -> Self {
        self.http_addr = Some(addr);
        self
    }

    pub fn broker_config(mut self, config: BrokerConfig) -> Self {
        self.broker = config;
        self
    }

    pub fn store_options(mut self, options: StoreOptions) -> Self {
        self.store = options;
        self
    }

    /// Opens the store and starts listening. Returns once connections are
    /// accepted.
    pub async fn start(self) -> anyhow::Result<Server> {
        let location = self.location.clone();
        let options = self.store.clone();
        let store = tokio::task::spawn_blocking(move || {
            Store::open(location, options, Arc::new(SystemClock))
        })
        .await??;
        let addr = self.kafka_addr;
        let listener = KafkaListener::bind(addr).await.map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
                " (another broker is running there? pick another port, or 0 for any free one)"
            } else {
                ""
            };
            anyhow::anyhow!("cannot listen for Kafka clients on {addr}: {e}{hint}")
        })?;
        let kafka_addr = listener.local_addr()?;
        let clock: pier_core::SharedClock = Arc::new(SystemClock);
        let queues = pier_core::queue::Queues::open(store.clone(), clock)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open queue groups: {e}"))?;
        let broker = Broker::new(store.clone(), queues.clone(), self.broker);
        let workbench = pier_workbench::Workbench::new(store.clone(), broker.clone());
        let (shutdown, stop) = watch::channel(false);
        let serving = tokio::spawn(pier_kafka::serve(listener, broker.clone(), stop.clone()));
        let mut tasks = vec![serving];
        let mut http_addr = None;
        if let Some(addr) = self.http_addr {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen for HTTP on {addr}: {e}"))?;
            http_addr = Some(listener.local_addr()?);
            let app = pier_http::router(workbench.clone());
            let mut stop_http = stop.clone();
            tasks.push(tokio::spawn(async move {
                let shutdown = async move {
                    let _ = stop_http.wait_for(|s| *s).await;
                };
                if let Err(e) = axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown)
                    .await
                {
                    tracing::error!(error = %e, "HTTP server failed");
                }
            }));
        }
        workbench.set_endpoints(
            Some(kafka_addr),
            http_addr,
            match &self.location {
                Location::Dir(dir) => Some(dir.display().to_string()),
                Location::Memory(_) => None,
            },
        );
        let sampling = tokio::spawn(sample_stats(workbench.clone(), stop.clone()));
        tasks.push(sampling);
        let ticking = tokio::spawn(tick_groups(broker.clone(), stop.clone()));
        tasks.push(tokio::spawn(tick_queues(
            queues,
            broker.clone(),
            stop.clone(),
        )));
        let housekeeping = tokio::spawn(housekeeping(store.clone(), stop));
        tasks.push(ticking);
        tasks.push(housekeeping);
        Ok(Server {
            kafka_addr,
            http_addr,
            store,
            broker,
            workbench,
            shutdown,
            tasks,
        })
    }
}

/// How often group sessions and rebalance deadlines are checked.
pub const GROUP_TICK: Duration = Duration::from_millis(100);

async fn tick_groups(broker: Arc<Broker>, mut stop: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(GROUP_TICK);
    loop {
        let stopped = tokio::select! {
            _ = interval.tick() => false,
            changed = stop.changed() => changed.is_err() || *stop.borrow(),
        };
        if stopped {
            return;
        }
        broker.groups.tick();
    }
}

async fn sample_stats(workbench: pier_workbench::Workbench, mut stop: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(pier_workbench::STATS_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let stopped = tokio::select! {
            _ = interval.tick() => false,
            changed = stop.changed() => changed.is_err() || *stop.borrow(),
        };
        if stopped {
            return;
        }
        let wb = workbench.clone();
        // Sampling reads every topic and group: keep it off the I/O threads.
        let _ = tokio::task::spawn_blocking(move || wb.sample_stats()).await;
    }
}

/// How often queue leases are checked for expiry (dead letters decided by
/// an acknowledgement are written at once).
pub const QUEUE_TICK: Duration = Duration::from_millis(100);

async fn tick_queues(
    queues: pier_core::queue::Queues,
    broker: Arc<Broker>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let stopped = tokio::select! {
            () = queues.wait_for_work(QUEUE_TICK) => false,
            changed = stop.changed() => changed.is_err() || *stop.borrow(),
        };
        if stopped {
            return;
        }
        if let Err(e) = queues.tick().await {
            tracing::warn!(error = %e, "queue housekeeping failed");
        }
        broker.expire_share_members().await;
    }
}

async fn housekeeping(store: Store, mut stop: watch::Receiver<bool>) {
    loop {
        let stopped = tokio::select! {
            () = tokio::time::sleep(RETENTION_INTERVAL) => false,
            changed = stop.changed() => changed.is_err() || *stop.borrow(),
        };
        if stopped {
            return;
        }
        if let Err(e) = store.admin(AdminCommand::EnforceRetention).await {
            tracing::warn!(error = %e, "retention failed");
        }
    }
}

/// A running Pier: the Kafka listener over a store.
#[derive(Debug)]
pub struct Server {
    kafka_addr: SocketAddr,
    http_addr: Option<SocketAddr>,
    store: Store,
    broker: Arc<Broker>,
    workbench: pier_workbench::Workbench,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Server {
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// The bound Kafka address: use it as `bootstrap.servers`.
    pub fn kafka_addr(&self) -> SocketAddr {
        self.kafka_addr
    }

    /// The bound HTTP address, if the HTTP API is on.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn broker(&self) -> &Arc<Broker> {
        &self.broker
    }

    /// The facade the HTTP API and the desktop app drive.
    pub fn workbench(&self) -> &pier_workbench::Workbench {
        &self.workbench
    }

    /// Stops accepting, lets connections finish their current request,
    /// then lets the store finish queued commits and checkpoint.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        // Long-lived HTTP streams (SSE) never finish on their own: give
        // everything a moment, then cut what is left.
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        for task in self.tasks {
            let abort = task.abort_handle();
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                abort.abort();
            }
        }
        let store = self.store.clone();
        let _ = tokio::task::spawn_blocking(move || store.close()).await;
    }
}
