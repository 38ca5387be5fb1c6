//! The tokio listener: a semaphore bounds connections, a watch channel
//! drives graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use crate::broker::Broker;
use crate::{CONNECTIONS_MAX, conn};

/// A bound Kafka listener, not yet serving.
#[derive(Debug)]
pub struct KafkaListener {
    listener: TcpListener,
}

impl KafkaListener {
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        Ok(Self {
            listener: TcpListener::bind(addr).await?,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// Serves until `shutdown` turns true; then stops accepting and lets open
/// connections finish the request they are in.
pub async fn serve(
    listener: KafkaListener,
    broker: Arc<Broker>,
    mut shutdown: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(CONNECTIONS_MAX));
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("semaphore never closed"),
            _ = shutdown.wait_for(|stop| *stop) => break,
        };
        let accepted = tokio::select! {
            accepted = listener.listener.accept() => accepted,
            _ = shutdown.wait_for(|stop| *stop) => break,
        };
        let (socket, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        let broker = broker.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            conn::run(socket, peer, broker, shutdown).await;
            drop(permit);
        });
    }
}
