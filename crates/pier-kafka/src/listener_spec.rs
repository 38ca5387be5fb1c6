//! Kafka listeners as Kafka writes them: `PROTOCOL://host:port`.

use std::net::SocketAddr;
use std::str::FromStr;

/// Kafka's `security.protocol` of a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum SecurityProtocol {
    #[serde(rename = "PLAINTEXT")]
    Plaintext,
    #[serde(rename = "SSL")]
    Ssl,
    #[serde(rename = "SASL_PLAINTEXT")]
    SaslPlaintext,
    #[serde(rename = "SASL_SSL")]
    SaslSsl,
}

impl SecurityProtocol {
    pub const ALL: [SecurityProtocol; 4] = [
        Self::Plaintext,
        Self::Ssl,
        Self::SaslPlaintext,
        Self::SaslSsl,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Plaintext => "PLAINTEXT",
            Self::Ssl => "SSL",
            Self::SaslPlaintext => "SASL_PLAINTEXT",
            Self::SaslSsl => "SASL_SSL",
        }
    }

    /// Clients must authenticate with SASL before anything else.
    pub fn uses_sasl(self) -> bool {
        matches!(self, Self::SaslPlaintext | Self::SaslSsl)
    }

    /// The connection is TLS from the first byte.
    pub fn uses_tls(self) -> bool {
        matches!(self, Self::Ssl | Self::SaslSsl)
    }
}

/// One listener: its protocol and address (port 0 picks a free one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerSpec {
    pub protocol: SecurityProtocol,
    pub addr: SocketAddr,
}

impl FromStr for ListenerSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (protocol, addr) = s.split_once("://").ok_or_else(|| {
            format!("{s:?}: expected PROTOCOL://host:port, e.g. SASL_SSL://127.0.0.1:9093")
        })?;
        let protocol = SecurityProtocol::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(protocol))
            .ok_or_else(|| {
                format!("{protocol:?} is not PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")
            })?;
        let addr = addr
            .trim_end_matches('/')
            .replace("localhost", "127.0.0.1")
            .parse()
            .map_err(|e| format!("{addr:?}: {e} (give an IP address and a port)"))?;
        Ok(Self { protocol, addr })
    }
}

impl std::fmt::Display for ListenerSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}", self.protocol.name(), self.addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_parse_as_kafka_writes_them() {
        let l: ListenerSpec = "SASL_SSL://127.0.0.1:9093".parse().unwrap();
        assert_eq!(l.protocol, SecurityProtocol::SaslSsl);
        assert_eq!(l.addr.port(), 9093);
        assert_eq!(l.to_string(), "SASL_SSL://127.0.0.1:9093");
        let l: ListenerSpec = "sasl_plaintext://localhost:0".parse().unwrap();
        assert_eq!(l.protocol, SecurityProtocol::SaslPlaintext);
        assert!("TLS://127.0.0.1:1".parse::<ListenerSpec>().is_err());
        assert!("127.0.0.1:9092".parse::<ListenerSpec>().is_err());
        assert!("SSL://nowhere".parse::<ListenerSpec>().is_err());
    }
}
