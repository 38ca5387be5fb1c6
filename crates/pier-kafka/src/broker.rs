//! What every API handler gets: the store, the settings, the connected
//! clients, and the address this connection reached us on.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use pier_core::groups::Coordinator;
use pier_core::topic::TopicError;
use pier_core::{AdminError, Store, TopicConfig};

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
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            auto_create_topics: true,
            num_partitions: 1,
            advertised_host: None,
            network: crate::toxics::NetworkFaults::default(),
            users: Arc::new(crate::users::UserStore::in_memory()),
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
    pub config: BrokerConfig,
    clients: Mutex<BTreeMap<u64, ClientInfo>>,
    next_connection_id: AtomicU64,
}

impl Broker {
    pub fn new(store: Store, queues: pier_core::queue::Queues, config: BrokerConfig) -> Arc<Self> {
        Arc::new(Self {
            store,
            queues,
            share: crate::share::ShareGroups::default(),
            groups: Coordinator::new(Arc::new(pier_core::SystemClock)),
            config,
            clients: Mutex::new(BTreeMap::new()),
            next_connection_id: AtomicU64::new(1),
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
        let id = self.next_connection_id.fetch_add(1, Ordering::Relaxed);
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
}

impl Broker {
    /// Removes share-group members that stopped heartbeating and hands
    /// their records to the others. The server calls it periodically.
    pub async fn expire_share_members(&self) {
        for (group, member, _) in self.share.expire(self.store.now_ms()) {
            crate::apis::share_group_heartbeat::release_member(self, &group, &member).await;
        }
    }
}
