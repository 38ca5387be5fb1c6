//! The tokio listener: a semaphore bounds connections, a watch channel
//! drives graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

use crate::broker::Broker;
use crate::listener_spec::{ListenerSpec, SecurityProtocol};
use crate::{CONNECTIONS_MAX, conn};

/// What a listener asks of its connections before requests.
#[derive(Clone)]
pub struct ListenerSecurity {
    pub protocol: SecurityProtocol,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
}

impl std::fmt::Debug for ListenerSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListenerSecurity")
            .field("protocol", &self.protocol)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// A bound Kafka listener, not yet serving.
#[derive(Debug)]
pub struct KafkaListener {
    listener: TcpListener,
    security: ListenerSecurity,
}

impl KafkaListener {
    /// A `PLAINTEXT` listener.
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        Ok(Self {
            listener: TcpListener::bind(addr).await?,
            security: ListenerSecurity {
                protocol: SecurityProtocol::Plaintext,
                tls: None,
            },
        })
    }

    /// A listener of any protocol; `SSL` and `SASL_SSL` need `tls`.
    pub async fn bind_spec(
        spec: ListenerSpec,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> std::io::Result<Self> {
        let tls = match (spec.protocol.uses_tls(), tls) {
            (true, Some(config)) => Some(tokio_rustls::TlsAcceptor::from(config)),
            (true, None) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!(
                        "{spec} needs a certificate and key (--tls-cert, --tls-key, or `pier tls init`)"
                    ),
                ));
            }
            (false, _) => None,
        };
        Ok(Self {
            listener: TcpListener::bind(spec.addr).await?,
            security: ListenerSecurity {
                protocol: spec.protocol,
                tls,
            },
        })
    }

    pub fn protocol(&self) -> SecurityProtocol {
        self.security.protocol
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// Serves until `shutdown` turns true; then stops accepting and lets open
/// connections finish the request they are in. If `kill` turns true
/// instead (a simulated crash), every connection is dropped at once.
pub async fn serve(
    listener: Arc<KafkaListener>,
    broker: Arc<Broker>,
    mut shutdown: watch::Receiver<bool>,
    mut kill: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(CONNECTIONS_MAX));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("semaphore never closed"),
            _ = shutdown.wait_for(|stop| *stop) => break,
            _ = kill.wait_for(|k| *k) => break,
        };
        let accepted = tokio::select! {
            accepted = listener.listener.accept() => accepted,
            _ = shutdown.wait_for(|stop| *stop) => break,
            _ = kill.wait_for(|k| *k) => break,
            // Reap finished connections so the set stays small.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let (socket, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        if broker.config.network.refuse_all() {
            tracing::info!(%peer, "network fault: connection refused");
            drop(socket);
            continue;
        }
        let broker = broker.clone();
        let shutdown = shutdown.clone();
        let security = listener.security.clone();
        connections.spawn(async move {
            conn::run(socket, peer, broker, shutdown, security).await;
            drop(permit);
        });
    }
    if *kill.borrow() {
        connections.abort_all();
        return;
    }
    // Graceful: connections finish their request; a crash may still come.
    tokio::select! {
        () = async { while connections.join_next().await.is_some() {} } => {}
        _ = kill.wait_for(|k| *k) => connections.abort_all(),
    }
}
