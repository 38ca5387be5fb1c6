//! What every API handler gets: the store, the settings, the connected
//! clients, and the address this connection reached us on.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use pier_core::groups::Coordinator;
use pier_core::topic::TopicError;
use pier_core::{AdminError, Store, TopicConfig};

use crate::acl::{Operation, Resource};

/// Settings of the Kafka front end.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// `auto.create.topics.enable`.
    pub auto_create_topics: bool,
    /// `num.partitions`: partitions of auto-created topics.
    pub num_partitions: u32,
    /// Host to advertise; `None` = the address the client connected to.
    pub advertised_host: Option<String>,
    /// Network faults in force (shared by clones, kept across restarts).
    pub network: crate::toxics::NetworkFaults,
    /// SASL users (shared by clones, kept across restarts).
    pub users: Arc<crate::users::UserStore>,
    /// Check every request against `acls` (off: everything is allowed).
    pub authorization: bool,
    /// Allow rules (shared by clones, kept across restarts).
    pub acls: Arc<crate::acl::AclStore>,
    /// What happened to every record (shared by clones, kept across
    /// restarts: it must outlive a crash to judge it).
    pub ledger: Arc<pier_core::ledger::Ledger>,
    /// Which group each consumer serves, as the ledger infers it (shared,
    /// kept across restarts: a consumer keeps fetching through one).
    pub attribution: Arc<crate::attribution::Attribution>,
    /// Connection ids, never reused across restarts (the ledger tells a
    /// retried fetch from a new consumer by them).
    pub connection_ids: Arc<AtomicU64>,
    /// Where the data lives, as DescribeLogDirs reports it (`None`: in
    /// memory).
    pub log_dir: Option<String>,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            auto_create_topics: true,
            num_partitions: 1,
            advertised_host: None,
            network: crate::toxics::NetworkFaults::default(),
            users: Arc::new(crate::users::UserStore::in_memory()),
            authorization: false,
            acls: Arc::new(crate::acl::AclStore::in_memory()),
            ledger: Arc::new(pier_core::ledger::Ledger::default()),
            attribution: Arc::default(),
            connection_ids: Arc::new(AtomicU64::new(1)),
            log_dir: None,
        }
    }
}

/// A connected client, visible for monitoring (and later network faults).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClientInfo {
    pub connection_id: u64,
    pub peer: SocketAddr,
    pub client_id: Option<String>,
    pub requests: u64,
    /// The SASL user, on a `SASL_*` listener.
    pub user: Option<String>,
}

#[derive(Debug)]
pub struct Broker {
    pub store: Store,
    /// Queue groups (per-record acknowledgements): Kafka share groups.
    pub queues: pier_core::queue::Queues,
    /// Share-group members and sessions (KIP-932).
    pub share: crate::share::ShareGroups,
    pub groups: Coordinator,
    /// Consumer groups of the consumer rebalance protocol (KIP-848).
    pub consumer_groups: pier_core::groups::ConsumerGroups,
    pub config: BrokerConfig,
    clients: Mutex<BTreeMap<u64, ClientInfo>>,
}

impl Broker {
    pub fn new(store: Store, queues: pier_core::queue::Queues, config: BrokerConfig) -> Arc<Self> {
        let clock = store.clock();
        Arc::new(Self {
            store,
            queues,
            share: crate::share::ShareGroups::default(),
            groups: Coordinator::new(clock.clone()),
            consumer_groups: pier_core::groups::ConsumerGroups::new(clock),
            config,
            clients: Mutex::new(BTreeMap::new()),
        })
    }

    pub fn clients(&self) -> Vec<ClientInfo> {
        self.clients
            .lock()
            .expect("clients lock")
            .values()
            .cloned()
            .collect()
    }

    pub(crate) fn register(&self, peer: SocketAddr) -> u64 {
        let id = self.config.connection_ids.fetch_add(1, Ordering::Relaxed);
        let info = ClientInfo {
            connection_id: id,
            peer,
            client_id: None,
            requests: 0,
            user: None,
        };
        self.clients.lock().expect("clients lock").insert(id, info);
        id
    }

    pub(crate) fn note_user(&self, id: u64, user: String) {
        if let Some(info) = self.clients.lock().expect("clients lock").get_mut(&id) {
            info.user = Some(user);
        }
    }

    pub(crate) fn note_request(&self, id: u64, client_id: Option<&str>) {
        if let Some(info) = self.clients.lock().expect("clients lock").get_mut(&id) {
            info.requests += 1;
            if info.client_id.as_deref() != client_id {
                info.client_id = client_id.map(str::to_owned);
            }
        }
    }

    pub(crate) fn unregister(&self, id: u64) {
        self.clients.lock().expect("clients lock").remove(&id);
    }

    /// Creates `name` with the default partition count if auto-creation is
    /// on. `Ok(false)` = it does not exist and was not created.
    pub(crate) async fn ensure_topic(
        &self,
        name: &str,
        allow_auto_create: bool,
    ) -> Result<bool, AdminError> {
        if self.store.has_topic(name) {
            return Ok(true);
        }
        if !(allow_auto_create && self.config.auto_create_topics) {
            return Ok(false);
        }
        match self
            .store
            .create_topic(name, self.config.num_partitions, TopicConfig::default())
            .await
        {
            Ok(_) | Err(AdminError::Topic(TopicError::AlreadyExists(_))) => Ok(true),
            Err(e) => Err(e),
        }
    }
}

/// Per-request context.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub broker: Arc<Broker>,
    /// Our address as this client reached it: what we advertise.
    pub local: SocketAddr,
    pub peer: SocketAddr,
    /// Who is asking: the SASL user, or `ANONYMOUS` before or without SASL.
    pub principal: Arc<str>,
    /// This connection's id (see [`Broker::clients`]).
    pub connection: u64,
    /// The client id of the request being handled.
    pub client_id: Arc<str>,
    /// `peer` as text, made once per connection (the ledger names it).
    pub peer_text: Arc<str>,
}

impl Ctx {
    pub fn advertised_host(&self) -> String {
        self.broker
            .config
            .advertised_host
            .clone()
            .unwrap_or_else(|| self.local.ip().to_string())
    }

    pub fn advertised_port(&self) -> i32 {
        i32::from(self.local.port())
    }

    /// Whether this client may do `op` on the named topic or group: always
    /// when authorization is off. Every Kafka API asks here, once per
    /// resource, and answers a refusal with Kafka's error code for it; a
    /// refusal is logged, so a learner can see who was refused what.
    pub fn authorize(&self, resource: Resource, name: &str, op: Operation) -> bool {
        if self.can(resource, name, op) {
            return true;
        }
        tracing::info!(
            principal = &*self.principal,
            peer = %self.peer,
            %resource,
            name,
            operation = %op,
            "denied: no ACL rule allows it"
        );
        false
    }

    /// [`Self::authorize`] without the log line: for leaving what cannot
    /// be described out of a listing, as Kafka does silently.
    pub fn can(&self, resource: Resource, name: &str, op: Operation) -> bool {
        let config = &self.broker.config;
        !config.authorization || config.acls.allows(&self.principal, resource, name, op)
    }

    /// [`Broker::ensure_topic`], auto-creating only what this client may
    /// create.
    pub async fn ensure_topic(
        &self,
        name: &str,
        allow_auto_create: bool,
    ) -> Result<bool, AdminError> {
        let create = allow_auto_create
            && self.broker.config.auto_create_topics
            && !self.broker.store.has_topic(name)
            && self.authorize(Resource::Topic, name, Operation::Create);
        self.broker.ensure_topic(name, create).await
    }
}

impl Broker {
    /// Every topic and its partition count (what consumer-group assignors
    /// work from).
    pub fn partition_counts(&self) -> std::collections::BTreeMap<String, u32> {
        self.store
            .topic_names()
            .into_iter()
            .filter_map(|n| {
                let p = self.store.describe_topic(&n)?.meta.partitions;
                Some((n, p))
            })
            .collect()
    }

    /// Group ticks: classic members and rebalances, consumer-protocol
    /// members (KIP-848). The server calls it every ~100 ms.
    pub fn tick_groups(&self) {
        self.groups.tick();
        if self.consumer_groups.has_members() {
            self.consumer_groups.tick(&self.partition_counts());
        }
    }

    /// Removes share-group members that stopped heartbeating and hands
    /// their records to the others. The server calls it periodically.
    pub async fn expire_share_members(&self) {
        for (group, member, _) in self.share.expire(self.store.now_ms()) {
            crate::apis::share_group_heartbeat::release_member(self, &group, &member).await;
        }
    }
}
