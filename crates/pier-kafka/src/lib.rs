//! Pier's Kafka wire protocol. `server` accepts connections, `conn` frames
//! and decodes requests, and each file in `apis` translates one Kafka API
//! into `pier-core` calls and back — nothing else.

pub mod acl;
mod apis;
pub mod attribution;
mod auth;
mod broker;
mod conn;
mod listener_spec;
pub mod private_file;
pub mod sasl;
mod server;
pub mod share;
pub mod tls;
pub mod toxics;
pub mod users;

pub use broker::{Broker, BrokerConfig, ClientInfo};
pub use conn::{ConnError, Decoded, decode_request};
pub use listener_spec::{ListenerSpec, SecurityProtocol};
pub use server::{KafkaListener, ListenerSecurity, serve};
pub use toxics::{NetworkFaults, ToxicKind};

/// Largest request frame accepted (Kafka's `socket.request.max.bytes`).
pub const REQUEST_MAX_BYTES: usize = 100 * 1024 * 1024;
/// Most client connections served at once.
pub const CONNECTIONS_MAX: usize = 1_024;
/// The only broker id: this broker is the whole cluster.
pub const NODE_ID: i32 = 1;
/// What Metadata and DescribeCluster call the cluster.
pub const CLUSTER_ID: &str = "pier-local";
