//! Refusing to expose Pier by accident, and the HTTP token when it is
//! exposed on purpose.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rand::Rng;

/// File in the data directory holding the HTTP token (mode 0600).
pub const TOKEN_FILE: &str = "http-token";

/// A non-loopback listener without `--allow-remote` is an error that says
/// what would be exposed.
pub fn check_binds(
    kafka: SocketAddr,
    http: Option<SocketAddr>,
    allow_remote: bool,
) -> anyhow::Result<()> {
    if allow_remote {
        return Ok(());
    }
    if let Some(http) = http.filter(|a| !a.ip().is_loopback()) {
        bail!(
            "--http {http} would let every machine that reaches this one read your topics, \
             produce, delete, and inject faults (crash the broker, switch fsync off). \
             Pass --allow-remote to do it on purpose: the HTTP API then requires a bearer token"
        );
    }
    if !kafka.ip().is_loopback() {
        bail!(
            "--kafka {kafka} would let every machine that reaches this one produce and consume. \
             Pass --allow-remote to do it on purpose (and consider a SASL listener)"
        );
    }
    Ok(())
}

/// Where the token came from, for the start-up message.
#[derive(Debug, PartialEq, Eq)]
pub enum TokenSource {
    Given,
    Generated(Option<PathBuf>),
    Stored(PathBuf),
}

/// The token to require: the one given, the one stored in the data
/// directory, or a new one (stored there with mode 0600 when there is a
/// data directory).
pub fn http_token(
    given: Option<String>,
    data_dir: Option<&Path>,
) -> anyhow::Result<(String, TokenSource)> {
    if let Some(token) = given {
        let len = token.len();
        if !(pier_http::TOKEN_BYTES_MIN..=pier_http::TOKEN_BYTES_MAX).contains(&len)
            || !token.bytes().all(|b| b.is_ascii_graphic())
        {
            bail!(
                "--http-token must be {}..={} printable characters without spaces (got {len})",
                pier_http::TOKEN_BYTES_MIN,
                pier_http::TOKEN_BYTES_MAX
            );
        }
        return Ok((token, TokenSource::Given));
    }
    let Some(dir) = data_dir else {
        return Ok((new_token(), TokenSource::Generated(None)));
    };
    let path = dir.join(TOKEN_FILE);
    if path.exists() {
        let token = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let token = token.trim().to_owned();
        anyhow::ensure!(
            token.len() >= pier_http::TOKEN_BYTES_MIN,
            "{} holds no usable token; delete it to get a new one",
            path.display()
        );
        return Ok((token, TokenSource::Stored(path)));
    }
    let token = new_token();
    store(&path, &token)?;
    Ok((token, TokenSource::Generated(Some(path))))
}

fn new_token() -> String {
    let bytes: [u8; 24] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Written like the users file: 0600, replaced atomically, directory synced.
fn store(path: &Path, token: &str) -> anyhow::Result<()> {
    pier::pier_kafka::private_file::replace(path, format!("{token}\n").as_bytes())
        .map_err(|(what, e)| anyhow::anyhow!("{what} {}: {e}", path.display()))
}

/// The one-time message about the token, on standard error.
pub fn announce(token: &str, source: &TokenSource) {
    match source {
        TokenSource::Given => eprintln!("pier: the HTTP API requires the token given"),
        TokenSource::Generated(path) => {
            eprintln!("pier: the HTTP API requires this token (Authorization: Bearer <token>):");
            eprintln!("pier:   {token}");
            if let Some(p) = path {
                eprintln!("pier: stored in {} (mode 0600)", p.display());
            }
        }
        TokenSource::Stored(p) => eprintln!(
            "pier: the HTTP API requires the token stored in {}",
            p.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_binds_need_nothing_and_others_need_consent() {
        let lo: SocketAddr = "127.0.0.1:9092".parse().unwrap();
        let all: SocketAddr = "0.0.0.0:8092".parse().unwrap();
        assert!(check_binds(lo, Some(lo), false).is_ok());
        assert!(check_binds(lo, Some(all), false).is_err());
        assert!(check_binds(all, None, false).is_err());
        assert!(check_binds(all, Some(all), true).is_ok());
    }

    #[test]
    fn a_generated_token_is_stored_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (first, source) = http_token(None, Some(dir.path())).unwrap();
        let path = dir.path().join(TOKEN_FILE);
        assert_eq!(source, TokenSource::Generated(Some(path.clone())));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let (again, source) = http_token(None, Some(dir.path())).unwrap();
        assert_eq!((again, source), (first, TokenSource::Stored(path)));
        assert!(http_token(Some("short".into()), None).is_err());
    }
}
