//! Binding the extra Kafka listeners (`SSL`, `SASL_PLAINTEXT`, `SASL_SSL`).

use std::sync::Arc;

use pier_kafka::{KafkaListener, ListenerSpec};

/// Binds one listener; the error names it and says what to do.
pub(crate) async fn bind(
    spec: ListenerSpec,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> anyhow::Result<KafkaListener> {
    KafkaListener::bind_spec(spec, tls).await.map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
            " (the port is taken; pick another, or 0 for any free one)"
        } else {
            ""
        };
        anyhow::anyhow!("cannot open the Kafka listener {spec}: {e}{hint}")
    })
}
