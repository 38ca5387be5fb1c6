//! What a client needs to know about the running broker.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;

use crate::Workbench;

#[derive(Debug, Default)]
pub(crate) struct Endpoints {
    kafka: Option<SocketAddr>,
    http: Option<SocketAddr>,
    data_dir: Option<String>,
    started_ms: i64,
}

/// The broker's status and addresses.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema, TS)]
pub struct BrokerInfo {
    pub version: String,
    /// `bootstrap.servers` for Kafka clients.
    pub kafka_address: Option<String>,
    pub http_address: Option<String>,
    /// Where data lives; `null` when it is kept in memory.
    pub data_dir: Option<String>,
    pub started_ms: i64,
    pub uptime_ms: i64,
    /// Why the store refuses writes (after an I/O error), if it does.
    pub poisoned: Option<String>,
    pub topics: u32,
    pub partitions: u32,
    pub size_bytes: u64,
    pub clients: u32,
}

impl Workbench {
    /// Records where the server listens, for [`Workbench::info`].
    pub fn set_endpoints(
        &self,
        kafka: Option<SocketAddr>,
        http: Option<SocketAddr>,
        data_dir: Option<String>,
    ) {
        let mut e = self.endpoints.lock().expect("endpoints lock");
        e.kafka = kafka;
        e.http = http;
        e.data_dir = data_dir;
        e.started_ms = self.now_ms();
    }

    pub fn info(&self) -> BrokerInfo {
        let topics = self.topics();
        let e = self.endpoints.lock().expect("endpoints lock");
        BrokerInfo {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            kafka_address: e.kafka.map(|a| a.to_string()),
            http_address: e.http.map(|a| a.to_string()),
            data_dir: e.data_dir.clone(),
            started_ms: e.started_ms,
            uptime_ms: (self.now_ms() - e.started_ms).max(0),
            poisoned: self.store().poisoned(),
            topics: topics.len() as u32,
            partitions: topics.iter().map(|t| t.partitions.len() as u32).sum(),
            size_bytes: topics.iter().map(|t| t.size_bytes).sum(),
            clients: self.broker().clients().len() as u32,
        }
    }
}
