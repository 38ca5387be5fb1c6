//! The CLI's HTTP client: talks to a running `pier serve` and turns
//! problem+json answers into one-line errors.

use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Where the CLI finds Pier.
#[derive(Debug, Clone, Args)]
pub struct Remote {
    /// Pier's HTTP address (`pier serve` listens on 127.0.0.1:8092).
    #[arg(
        long,
        global = true,
        env = "PIER_HTTP",
        default_value = "127.0.0.1:8092"
    )]
    pub server: String,
    /// Print JSON instead of text, for scripts.
    #[arg(long, global = true)]
    pub json: bool,
    /// Bearer token, for a Pier started with --allow-remote or --http-token.
    #[arg(long, global = true, env = "PIER_HTTP_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Debug)]
pub struct Client {
    base: String,
    agent: ureq::Agent,
}

impl Client {
    pub fn new(remote: &Remote) -> Self {
        let server = remote.server.trim_end_matches('/');
        let base = if server.starts_with("http://") || server.starts_with("https://") {
            server.to_owned()
        } else {
            format!("http://{server}")
        };
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(660)));
        if let Some(token) = &remote.token
            && let Ok(value) = ureq::http::HeaderValue::from_str(&format!("Bearer {token}"))
        {
            config = config.middleware(
                move |mut req: ureq::http::Request<ureq::SendBody>,
                      next: ureq::middleware::MiddlewareNext| {
                    req.headers_mut()
                        .insert(ureq::http::header::AUTHORIZATION, value.clone());
                    next.handle(req)
                },
            );
        }
        let agent = config.build().into();
        Self { base, agent }
    }

    fn finish<T: DeserializeOwned>(
        &self,
        what: &str,
        reply: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> anyhow::Result<T> {
        let mut reply = match reply {
            Ok(r) => r,
            Err(ureq::Error::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => bail!(
                "cannot reach Pier at {} (is `pier serve` running? set --server or PIER_HTTP)",
                self.base
            ),
            Err(e) => return Err(e).with_context(|| format!("{what}: {}", self.base)),
        };
        let status = reply.status();
        let body = reply
            .body_mut()
            .read_to_string()
            .with_context(|| format!("{what}: reading the answer"))?;
        if !status.is_success() {
            if let Ok(p) = serde_json::from_str::<serde_json::Value>(&body)
                && let (Some(title), Some(detail)) = (p["title"].as_str(), p["detail"].as_str())
            {
                bail!("{what}: {title}: {detail}");
            }
            bail!("{what}: HTTP {status}: {body}");
        }
        let body = if body.is_empty() { "null" } else { &body };
        serde_json::from_str(body).with_context(|| format!("{what}: unexpected answer {body:?}"))
    }

    pub fn get<T: DeserializeOwned>(&self, what: &str, path: &str) -> anyhow::Result<T> {
        self.finish(what, self.agent.get(format!("{}{path}", self.base)).call())
    }

    pub fn get_query<T: DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<T> {
        let mut req = self.agent.get(format!("{}{path}", self.base));
        for (k, v) in query {
            req = req.query(*k, v);
        }
        self.finish(what, req.call())
    }

    fn send<T: DeserializeOwned>(
        &self,
        what: &str,
        method: &str,
        path: &str,
        body: &impl Serialize,
    ) -> anyhow::Result<T> {
        let url = format!("{}{path}", self.base);
        let reply = match method {
            "PATCH" => self.agent.patch(url).send_json(body),
            "PUT" => self.agent.put(url).send_json(body),
            _ => self.agent.post(url).send_json(body),
        };
        self.finish(what, reply)
    }

    pub fn post<T: DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        body: &impl Serialize,
    ) -> anyhow::Result<T> {
        self.send(what, "POST", path, body)
    }

    pub fn patch<T: DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        body: &impl Serialize,
    ) -> anyhow::Result<T> {
        self.send(what, "PATCH", path, body)
    }

    pub fn put<T: DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        body: &impl Serialize,
    ) -> anyhow::Result<T> {
        self.send(what, "PUT", path, body)
    }

    /// A DELETE whose answer has a body.
    pub fn delete_json<T: DeserializeOwned>(&self, what: &str, path: &str) -> anyhow::Result<T> {
        self.finish(
            what,
            self.agent.delete(format!("{}{path}", self.base)).call(),
        )
    }

    /// A DELETE that says what to delete in a JSON body.
    pub fn delete_with_body(
        &self,
        what: &str,
        path: &str,
        body: &impl Serialize,
    ) -> anyhow::Result<()> {
        let url = format!("{}{path}", self.base);
        let reply = self.agent.delete(url).force_send_body().send_json(body);
        self.finish::<serde_json::Value>(what, reply).map(|_| ())
    }

    pub fn delete(&self, what: &str, path: &str) -> anyhow::Result<()> {
        self.finish::<serde_json::Value>(
            what,
            self.agent.delete(format!("{}{path}", self.base)).call(),
        )
        .map(|_| ())
    }
}

/// Percent-encodes a path segment (topic names are safe; group ids may
/// not be).
pub fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Prints `value` as pretty JSON.
pub fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// `1234567` → `1.2 MB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// Unix milliseconds → `2026-11-25 18:30:24.123` (UTC).
pub fn iso_time(ms: i64) -> String {
    pier_workbench::iso8601(ms)
        .trim_end_matches('Z')
        .replacen('T', " ", 1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso_time_formats_utc() {
        assert_eq!(super::iso_time(0), "1970-01-01 00:00:00.000");
        assert_eq!(
            super::iso_time(1_795_631_424_123),
            "2026-11-25 18:30:24.123"
        );
        assert_eq!(super::iso_time(951_782_400_000), "2000-02-29 00:00:00.000");
    }
}
