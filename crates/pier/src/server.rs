//! The embeddable server: a store, the Kafka listener, and housekeeping.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use pier_core::faults::{Halt, MemoryDisk};
use pier_core::{AdminCommand, Location, Store, StoreOptions, SystemClock};
use pier_kafka::{Broker, BrokerConfig, KafkaListener, ListenerSpec, SecurityProtocol};
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
    http_allow_hosts: Vec<String>,
    http_token: Option<Secret>,
    listeners: Vec<ListenerSpec>,
    tls: Option<Arc<rustls::ServerConfig>>,
    sasl_users: Vec<(String, Secret)>,
    tls_ca: Option<PathBuf>,
    authorization: bool,
    clock: pier_core::SharedClock,
}

/// A token or password: shown as `<secret>` in `Debug` output.
#[derive(Clone)]
struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

impl Default for ServerBuilder {
    fn default() -> Self {
        Self {
            location: Location::Memory(MemoryDisk::new()),
            kafka_addr: SocketAddr::from(([127, 0, 0, 1], 9092)),
            http_addr: None,
            broker: BrokerConfig::default(),
            store: StoreOptions::default(),
            http_allow_hosts: Vec::new(),
            http_token: None,
            listeners: Vec::new(),
            tls: None,
            sasl_users: Vec::new(),
            tls_ca: None,
            authorization: false,
            clock: Arc::new(SystemClock),
        }
    }
}

impl ServerBuilder {
    /// The one clock of the whole server: the store, queue groups, group
    /// coordinator, ledger, fault timeline and statistics all read it. A
    /// test passes a `ManualClock` to move time without waiting.
    pub fn clock(mut self, clock: pier_core::SharedClock) -> Self {
        self.clock = clock;
        self
    }

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

    /// Also answer HTTP requests whose `Host` is `name` (besides
    /// localhost, loopback addresses and the listening address).
    pub fn http_allow_host(mut self, name: impl Into<String>) -> Self {
        self.http_allow_hosts.push(name.into());
        self
    }

    /// Require `Authorization: Bearer token` on the HTTP API.
    pub fn http_token(mut self, token: impl Into<String>) -> Self {
        self.http_token = Some(Secret(token.into()));
        self
    }

    /// Another Kafka listener (`SSL`, `SASL_PLAINTEXT`, `SASL_SSL`, or a
    /// second `PLAINTEXT`), besides [`Self::kafka_addr`].
    pub fn kafka_listener(mut self, spec: ListenerSpec) -> Self {
        self.listeners.push(spec);
        self
    }

    /// The certificate `SSL` and `SASL_SSL` listeners present.
    pub fn tls_config(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// The CA certificate clients of TLS listeners should trust (shown in
    /// the workbench and served at `/api/v1/security/ca.pem`).
    pub fn tls_ca(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls_ca = Some(path.into());
        self
    }

    /// Adds (or sets the password of) a SASL user when the server starts.
    pub fn sasl_user(mut self, name: impl Into<String>, password: impl Into<String>) -> Self {
        self.sasl_users.push((name.into(), Secret(password.into())));
        self
    }

    /// Check every Kafka request against the ACL rules (`acls.json` in the
    /// data directory): a client may only do what a rule allows its user
    /// (`ANONYMOUS` on listeners without SASL). Off by default. Kept when
    /// [`Self::broker_config`] is called after it.
    pub fn authorization(mut self, on: bool) -> Self {
        self.authorization = on;
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
    pub async fn start(mut self) -> anyhow::Result<Server> {
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
        let mut listeners = vec![Arc::new(listener)];
        for spec in &self.listeners {
            listeners.push(Arc::new(
                crate::listeners::bind(*spec, self.tls.clone()).await?,
            ));
        }
        if let Location::Dir(dir) = &self.location {
            self.broker.users = Arc::new(
                pier_kafka::users::UserStore::open(dir)
                    .map_err(|e| anyhow::anyhow!("cannot read the SASL users: {e}"))?,
            );
        }
        if let Location::Dir(dir) = &self.location {
            self.broker.log_dir = Some(dir.display().to_string());
            self.broker.acls = Arc::new(
                pier_kafka::acl::AclStore::open(dir)
                    .map_err(|e| anyhow::anyhow!("cannot read the ACL rules: {e}"))?,
            );
        }
        self.broker.authorization |= self.authorization;
        for (name, password) in &self.sasl_users {
            self.broker
                .users
                .set(name, &password.0)
                .map_err(|e| anyhow::anyhow!("SASL user {name:?}: {e}"))?;
        }
        let (store, _) = open_store(&self.location, &self.store, &self.clock).await?;
        let (generation, core) = Generation::start(store, &listeners, &self.broker, None).await?;
        let workbench = pier_workbench::Workbench::new(core.store, core.broker);
        workbench.set_lab_runner(Arc::new(crate::lab::Runner {
            kafka_addr: kafka_addr.to_string(),
        }));
        workbench
            .load_fault_timeline()
            .await
            .map_err(|e| anyhow::anyhow!("cannot read the fault timeline: {e}"))?;
        let (shutdown, stop) = watch::channel(false);
        let mut tasks = Vec::new();
        let mut http_addr = None;
        if let Some(addr) = self.http_addr {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| anyhow::anyhow!("cannot listen for HTTP on {addr}: {e}"))?;
            let local = listener.local_addr()?;
            http_addr = Some(local);
            let mut access = pier_http::Access::new(local);
            for name in &self.http_allow_hosts {
                access = access.allow_host(name);
            }
            if let Some(token) = &self.http_token {
                access = access.require_token(&token.0);
            }
            let app = pier_http::guarded(workbench.clone(), access);
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
        workbench.set_security(crate::listeners::describe(&listeners), self.tls_ca.clone());
        tasks.push(tokio::spawn(sample_stats(workbench.clone(), stop.clone())));
        let supervisor = Arc::new(Supervisor {
            location: self.location,
            options: self.store,
            clock: self.clock,
            broker_config: self.broker,
            listeners,
            shutdown: stop,
            workbench: workbench.clone(),
            generation: tokio::sync::Mutex::new(Some(generation)),
        });
        let weak = Arc::downgrade(&supervisor);
        workbench.set_restarter(Arc::new(move |how| {
            let weak = weak.clone();
            Box::pin(async move {
                match weak.upgrade() {
                    Some(s) => s.restart(how).await,
                    None => Err("the server has shut down".to_owned()),
                }
            })
        }));
        Ok(Server {
            kafka_addr,
            http_addr,
            supervisor,
            shutdown,
            tasks,
        })
    }
}

/// Opens (or recovers) the store off the async threads.
async fn open_store(
    location: &Location,
    options: &StoreOptions,
    clock: &pier_core::SharedClock,
) -> anyhow::Result<(Store, Duration)> {
    let (location, options, clock) = (location.clone(), options.clone(), clock.clone());
    let started = std::time::Instant::now();
    let store =
        tokio::task::spawn_blocking(move || Store::open(location, options, clock)).await??;
    Ok((store, started.elapsed()))
}

/// One life of the broker: a store, its queue groups and Kafka broker, and
/// the tasks serving them. A crash ends it and starts the next.
struct Generation {
    store: Store,
    kill: watch::Sender<bool>,
    graceful: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Generation {
    async fn start(
        store: Store,
        listeners: &[Arc<KafkaListener>],
        config: &BrokerConfig,
        fsync: Option<bool>,
    ) -> anyhow::Result<(Self, pier_workbench::Core)> {
        if let Some(on) = fsync {
            store.set_fsync(on);
        }
        let clock = store.clock();
        let queues = pier_core::queue::Queues::open(store.clone(), clock)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open queue groups: {e}"))?;
        queues.set_ledger(config.ledger.clone());
        let broker = Broker::new(store.clone(), queues.clone(), config.clone());
        let (kill, killed) = watch::channel(false);
        let (graceful, stop) = watch::channel(false);
        // A graceful stop ends every task; a crash aborts them.
        let mut tasks = vec![
            tokio::spawn(tick_groups(broker.clone(), stop.clone())),
            tokio::spawn(tick_queues(queues, broker.clone(), stop.clone())),
            tokio::spawn(housekeeping(
                store.clone(),
                config.ledger.clone(),
                stop.clone(),
            )),
        ];
        for listener in listeners {
            tasks.push(tokio::spawn(pier_kafka::serve(
                listener.clone(),
                broker.clone(),
                stop.clone(),
                killed.clone(),
            )));
        }
        Ok((
            Self {
                store: store.clone(),
                kill,
                graceful,
                tasks,
            },
            pier_workbench::Core { store, broker },
        ))
    }

    /// Drops everything at once, as a crash would: the disk is halted
    /// first, so nothing more reaches it.
    async fn crash(self, how: Halt) {
        self.store.faults().halt(how);
        let _ = self.kill.send(true);
        for task in self.tasks {
            task.abort();
            let _ = task.await;
        }
        let store = self.store;
        // The writer thread finds its disk gone and exits; do not wait
        // forever if it is stuck in a slow fsync.
        let closing = tokio::task::spawn_blocking(move || store.close());
        let _ = tokio::time::timeout(Duration::from_secs(5), closing).await;
    }

    /// Stops accepting, lets connections finish their request, then lets
    /// the store finish queued commits and checkpoint.
    async fn shutdown(self) {
        let _ = self.graceful.send(true);
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        for task in self.tasks {
            let abort = task.abort_handle();
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                abort.abort();
            }
        }
        let _ = self.kill.send(true);
        let store = self.store;
        let _ = tokio::task::spawn_blocking(move || store.close()).await;
    }
}

/// What restarts the broker after a crash.
struct Supervisor {
    location: Location,
    options: StoreOptions,
    clock: pier_core::SharedClock,
    broker_config: BrokerConfig,
    listeners: Vec<Arc<KafkaListener>>,
    shutdown: watch::Receiver<bool>,
    workbench: pier_workbench::Workbench,
    generation: tokio::sync::Mutex<Option<Generation>>,
}

impl Supervisor {
    async fn restart(&self, how: Halt) -> Result<pier_workbench::Recovery, String> {
        let started = std::time::Instant::now();
        let mut current = self.generation.lock().await;
        if *self.shutdown.borrow() {
            return Err("the server is shutting down".to_owned());
        }
        let Some(old) = current.take() else {
            return Err("the broker is not running".to_owned());
        };
        let fsync = old.store.fsync_enabled();
        tracing::warn!(?how, "crashing the broker on request");
        old.crash(how).await;
        let (store, open) = open_store(&self.location, &self.options, &self.clock)
            .await
            .map_err(|e| format!("reopening the store: {e:#}"))?;
        let report = store.recovery().clone();
        note_recovery(&self.broker_config.ledger, &store);
        let (generation, core) =
            Generation::start(store, &self.listeners, &self.broker_config, Some(fsync))
                .await
                .map_err(|e| format!("{e:#}"))?;
        self.workbench.replace_core(core);
        *current = Some(generation);
        let topics = self.workbench.topics();
        Ok(pier_workbench::Recovery {
            took_ms: started.elapsed().as_millis() as u64,
            open_ms: open.as_millis() as u64,
            replayed_batches: report.replayed_batches as u64,
            repaired: report.repaired,
            topics: topics.len() as u32,
            records: topics.iter().map(|t| t.records).sum(),
        })
    }
}

/// Tells the ledger where each partition it knows ends after a restart:
/// acknowledged records beyond that were lost (a topic that did not
/// survive ends at 0).
fn note_recovery(ledger: &pier_core::ledger::Ledger, store: &Store) {
    let now_ms = store.now_ms();
    for (topic, partition) in ledger.partitions() {
        let end = store.offsets(&topic, partition).map_or(0, |(_, end)| end);
        ledger.recovered(&topic, partition, end, now_ms);
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
        broker.tick_groups();
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

async fn housekeeping(
    store: Store,
    ledger: Arc<pier_core::ledger::Ledger>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let stopped = tokio::select! {
            () = tokio::time::sleep(RETENTION_INTERVAL) => false,
            changed = stop.changed() => changed.is_err() || *stop.borrow(),
        };
        if stopped {
            return;
        }
        enforce_retention(&store, &ledger).await;
    }
}

/// Deletes what retention allows and tells the ledger which offsets went
/// (they were removed, not lost: a step of their journeys).
pub(crate) async fn enforce_retention(store: &Store, ledger: &pier_core::ledger::Ledger) {
    let starts = |store: &Store| -> Vec<(String, u32, u64)> {
        ledger
            .partitions()
            .into_iter()
            .filter_map(|(t, p)| Some((t.clone(), p, store.offsets(&t, p).ok()?.0)))
            .collect()
    };
    let before = if ledger.enabled() {
        starts(store)
    } else {
        Vec::new()
    };
    if let Err(e) = store.admin(AdminCommand::EnforceRetention).await {
        tracing::warn!(error = %e, "retention failed");
        return;
    }
    let now_ms = store.now_ms();
    for (topic, partition, start) in before {
        if let Ok((new_start, _)) = store.offsets(&topic, partition)
            && new_start > start
        {
            ledger.removed_by_retention(&topic, partition, start, new_start - 1, now_ms);
        }
    }
}

/// A running Pier: the Kafka listener over a store.
pub struct Server {
    kafka_addr: SocketAddr,
    http_addr: Option<SocketAddr>,
    supervisor: Arc<Supervisor>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("kafka_addr", &self.kafka_addr)
            .field("http_addr", &self.http_addr)
            .finish_non_exhaustive()
    }
}

impl Server {
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// The bound Kafka address: use it as `bootstrap.servers`.
    pub fn kafka_addr(&self) -> SocketAddr {
        self.kafka_addr
    }

    /// Every Kafka listener: its protocol and bound address (the first is
    /// [`Self::kafka_addr`]).
    pub fn kafka_listeners(&self) -> Vec<(SecurityProtocol, SocketAddr)> {
        self.supervisor
            .listeners
            .iter()
            .filter_map(|l| Some((l.protocol(), l.local_addr().ok()?)))
            .collect()
    }

    /// The bound HTTP address, if the HTTP API is on.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// The store of the broker running now (a crash replaces it).
    pub fn store(&self) -> Store {
        self.supervisor.workbench.store()
    }

    /// The broker running now.
    pub fn broker(&self) -> Arc<Broker> {
        self.supervisor.workbench.broker()
    }

    /// Runs retention now (the server also does every
    /// [`RETENTION_INTERVAL`]), telling the ledger what it removed.
    pub async fn enforce_retention(&self) {
        enforce_retention(&self.store(), &self.broker().config.ledger).await;
    }

    /// The facade the HTTP API and the desktop app drive.
    pub fn workbench(&self) -> &pier_workbench::Workbench {
        &self.supervisor.workbench
    }

    /// Crashes the broker (halting its disk the given way) and starts it
    /// again on the same data, as the `broker_crash` and `power_loss` faults
    /// do.
    pub async fn crash_and_restart(&self, how: Halt) -> anyhow::Result<pier_workbench::Recovery> {
        self.supervisor
            .restart(how)
            .await
            .map_err(|e| anyhow::anyhow!(e))
    }

    /// Stops accepting, lets connections finish their current request,
    /// then lets the store finish queued commits and checkpoint.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        if let Some(generation) = self.supervisor.generation.lock().await.take() {
            generation.shutdown().await;
        }
        // Long-lived HTTP streams (SSE) never finish on their own: give
        // everything a moment, then cut what is left.
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        for task in self.tasks {
            let abort = task.abort_handle();
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                abort.abort();
            }
        }
    }
}
