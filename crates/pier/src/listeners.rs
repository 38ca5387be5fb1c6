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

/// What the workbench shows of each listener.
pub(crate) fn describe(listeners: &[Arc<KafkaListener>]) -> Vec<pier_workbench::ListenerInfo> {
    listeners
        .iter()
        .filter_map(|l| {
            let protocol = l.protocol();
            Some(pier_workbench::ListenerInfo {
                protocol: protocol.name().to_owned(),
                address: l.local_addr().ok()?.to_string(),
                sasl: protocol.uses_sasl(),
                tls: protocol.uses_tls(),
            })
        })
        .collect()
}
