//! `pier serve`'s Kafka security flags: extra listeners, TLS, SASL users,
//! authorization.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use pier::ServerBuilder;
use pier::pier_kafka::ListenerSpec;

#[derive(Debug, Args)]
pub struct SecurityArgs {
    /// Another Kafka listener, as Kafka writes it (repeatable):
    /// `SASL_PLAINTEXT://127.0.0.1:9093`, `SSL://127.0.0.1:9094`,
    /// `SASL_SSL://127.0.0.1:9095`.
    #[arg(long, value_name = "PROTOCOL://HOST:PORT")]
    kafka_listener: Vec<ListenerSpec>,
    /// Certificate chain (PEM, server first) for SSL listeners. Default:
    /// the one `pier tls init` made in the data directory.
    #[arg(long, requires = "tls_key", value_name = "PEM")]
    tls_cert: Option<PathBuf>,
    /// Private key (PEM) of --tls-cert.
    #[arg(long, requires = "tls_cert", value_name = "PEM")]
    tls_key: Option<PathBuf>,
    /// Add (or set the password of) a SASL user at start: `NAME:PASSWORD`
    /// (repeatable). Stored salted, never as the password. `pier user add`
    /// does the same on a running Pier.
    #[arg(
        long,
        value_name = "NAME:PASSWORD",
        env = "PIER_SASL_USERS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    sasl_user: Vec<String>,
    /// Check every Kafka request against the ACL rules (`pier acl add`):
    /// a client may only do what a rule allows its SASL user, or
    /// ANONYMOUS on listeners without SASL. No rule, no access.
    #[arg(long)]
    authorization: bool,
}

impl SecurityArgs {
    /// Adds the listeners, the TLS configuration and the users.
    pub fn apply(
        self,
        mut builder: ServerBuilder,
        data_dir: Option<&Path>,
        allow_remote: bool,
    ) -> anyhow::Result<ServerBuilder> {
        for spec in &self.kafka_listener {
            if !allow_remote && !spec.addr.ip().is_loopback() {
                bail!(
                    "--kafka-listener {spec} would be reachable from other machines; \
                     pass --allow-remote to do it on purpose"
                );
            }
        }
        if self.kafka_listener.iter().any(|l| l.protocol.uses_tls()) {
            let (cert, key, ca) = self.tls_files(data_dir)?;
            let config = pier::pier_kafka::tls::server_config(&cert, &key)?;
            builder = builder.tls_config(config);
            if let Some(ca) = ca {
                builder = builder.tls_ca(ca);
            }
        }
        for spec in self.kafka_listener {
            builder = builder.kafka_listener(spec);
        }
        builder = builder.authorization(self.authorization);
        for entry in &self.sasl_user {
            let Some((name, password)) = entry.split_once(':') else {
                bail!(
                    "--sasl-user takes NAME:PASSWORD, got {:?}",
                    entry.split(':').next().unwrap_or("")
                );
            };
            builder = builder.sasl_user(name, password);
        }
        Ok(builder)
    }

    /// Certificate, key, and the CA when `pier tls init` made them.
    fn tls_files(
        &self,
        data_dir: Option<&Path>,
    ) -> anyhow::Result<(PathBuf, PathBuf, Option<PathBuf>)> {
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            return Ok((cert.clone(), key.clone(), None));
        }
        let made = data_dir.map(super::tls::TlsFiles::in_data_dir);
        match made {
            Some(files) if files.server_cert.exists() => {
                Ok((files.server_cert, files.server_key, Some(files.ca_cert)))
            }
            _ => Err(anyhow::anyhow!(
                "SSL and SASL_SSL listeners need a certificate: give --tls-cert and --tls-key, \
                 or run `pier tls init` once to make a local CA and certificate"
            ))
            .context("TLS"),
        }
    }
}
