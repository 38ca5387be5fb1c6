//! Pier as a library: start the same server `pier serve` runs, inside a
//! test, in milliseconds.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let server = pier::Server::builder().in_memory().kafka_addr("127.0.0.1:0".parse()?).start().await?;
//! println!("bootstrap.servers={}", server.kafka_addr());
//! server.shutdown().await;
//! # Ok(()) }
//! ```

pub mod lab;
mod listeners;
mod server;
/// A lean Kafka client (the benchmarks' and the labs' simulated clients).
pub mod wire;

pub use pier_core;
pub use pier_kafka;
pub use pier_kafka::BrokerConfig;
pub use server::{Server, ServerBuilder};
