//! `pier tls init`: a local certificate authority and a server certificate
//! for `SSL` / `SASL_SSL` listeners, and the client settings to copy.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

#[derive(Debug, Subcommand)]
pub enum TlsCommand {
    /// Make a local CA and a server certificate (localhost, 127.0.0.1,
    /// ::1 and any --host) in the data directory's `tls/`.
    Init(InitArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Data directory (`pier serve` finds the certificate there).
    #[arg(long, env = "PIER_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Another name or address clients use for this machine (repeatable).
    #[arg(long = "host", value_name = "NAME")]
    hosts: Vec<String>,
    /// Days the server certificate is valid.
    #[arg(long, default_value_t = 825)]
    days: u32,
    /// Replace existing files.
    #[arg(long)]
    force: bool,
    /// For tests: a server certificate that expired yesterday.
    #[arg(long, hide = true)]
    expired: bool,
}

/// Where `pier tls init` puts its files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

impl TlsFiles {
    pub fn in_data_dir(dir: &Path) -> Self {
        let tls = dir.join("tls");
        Self {
            ca_cert: tls.join("ca.pem"),
            ca_key: tls.join("ca-key.pem"),
            server_cert: tls.join("server.pem"),
            server_key: tls.join("server-key.pem"),
        }
    }
}

pub fn run(cmd: TlsCommand) -> anyhow::Result<()> {
    let TlsCommand::Init(args) = cmd;
    let dir = args
        .data_dir
        .clone()
        .unwrap_or_else(super::default_data_dir);
    let files = TlsFiles::in_data_dir(&dir);
    if files.server_cert.exists() && !args.force {
        bail!(
            "{} exists already (pass --force to make new ones; clients must then trust the new CA)",
            files.server_cert.display()
        );
    }
    let made = make(&args)?;
    let tls_dir = files.ca_cert.parent().expect("tls/ has a parent");
    std::fs::create_dir_all(tls_dir).with_context(|| format!("creating {}", tls_dir.display()))?;
    write(&files.ca_cert, &made.ca_cert, 0o644)?;
    write(&files.ca_key, &made.ca_key, 0o600)?;
    write(&files.server_cert, &made.server_cert, 0o644)?;
    write(&files.server_key, &made.server_key, 0o600)?;
    print!("{}", instructions(&files));
    Ok(())
}

struct Made {
    ca_cert: String,
    ca_key: String,
    server_cert: String,
    server_key: String,
}

fn make(args: &InitArgs) -> anyhow::Result<Made> {
    let now = time::OffsetDateTime::now_utc();
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name
        .push(DnType::CommonName, "Pier local CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca.not_before = now - time::Duration::days(1);
    ca.not_after = now + time::Duration::days(3650);
    let ca_cert = ca.self_signed(&ca_key)?;

    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    names.extend(args.hosts.iter().cloned());
    let mut server = CertificateParams::new(names)?;
    server
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    if args.expired {
        server.not_before = now - time::Duration::days(30);
        server.not_after = now - time::Duration::days(1);
    } else {
        server.not_before = now - time::Duration::days(1);
        server.not_after = now + time::Duration::days(i64::from(args.days));
    }
    let server_key = KeyPair::generate()?;
    let issuer = Issuer::from_params(&ca, &ca_key);
    let server_cert = server.signed_by(&server_key, &issuer)?;
    Ok(Made {
        ca_cert: ca_cert.pem(),
        ca_key: ca_key.serialize_pem(),
        server_cert: server_cert.pem(),
        server_key: server_key.serialize_pem(),
    })
}

fn write(path: &Path, contents: &str, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

fn instructions(files: &TlsFiles) -> String {
    let ca = files.ca_cert.display();
    format!(
        "made a local CA and a server certificate:\n  CA (give it to clients): {ca}\n  \
         server certificate: {}\n\n\
         start Pier with a TLS listener, e.g.:\n  \
         pier serve --kafka-listener SSL://127.0.0.1:9094 --kafka-listener SASL_SSL://127.0.0.1:9095\n\n\
         client settings:\n  \
         Java / librdkafka / kcat:  security.protocol=SSL  ssl.ca.location={ca}\n                             \
         (Java: ssl.truststore.type=PEM ssl.truststore.location={ca})\n  \
         kafka-python:              security_protocol='SSL', ssl_cafile='{ca}'\n  \
         kafkajs:                   ssl: {{ ca: [fs.readFileSync('{ca}', 'utf-8')] }}\n",
        files.server_cert.display()
    )
}
