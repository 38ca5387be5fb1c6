//! TLS on `SSL` and `SASL_SSL` listeners, with rustls (no OpenSSL).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// A client that has not finished its TLS handshake by then is dropped.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading the certificate chain {path}: {reason}")]
    Certificate { path: String, reason: String },
    #[error("reading the private key {path}: {reason}")]
    Key { path: String, reason: String },
    #[error("{path} holds no certificate")]
    NoCertificate { path: String },
    #[error("the certificate and key do not make a TLS configuration: {0}")]
    Config(String),
}

/// A server configuration from PEM files: the certificate chain (server
/// first) and its private key (PKCS#8, PKCS#1 or SEC1).
pub fn server_config(
    cert_pem: &Path,
    key_pem: &Path,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let path = cert_pem.display().to_string();
    let certs = CertificateDer::pem_file_iter(cert_pem)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::Certificate {
            path: path.clone(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate { path });
    }
    let key = PrivateKeyDer::from_pem_file(key_pem).map_err(|e| TlsError::Key {
        path: key_pem.display().to_string(),
        reason: e.to_string(),
    })?;
    // ring builds with a C compiler alone (aws-lc-rs, rustls' preferred
    // provider, adds a long native build); its lack of post-quantum key
    // exchange is acceptable for a local workbench.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    Ok(Arc::new(config))
}

/// The TLS handshake of one connection; `None` (logged, naming the peer)
/// when it fails: a plaintext client on a TLS port, a client that does
/// not trust the certificate, or one that stalls.
pub(crate) async fn accept(
    acceptor: &TlsAcceptor,
    socket: TcpStream,
    peer: SocketAddr,
) -> Option<TlsStream<TcpStream>> {
    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(socket)).await {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(e)) => {
            tracing::warn!(%peer, error = %e, "TLS handshake failed (a plaintext client on a TLS port, or a client that does not trust the certificate?); connection closed");
            None
        }
        Err(_) => {
            tracing::warn!(%peer, "TLS handshake timed out; connection closed");
            None
        }
    }
}
