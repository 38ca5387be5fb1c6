//! Who may talk to the HTTP API, checked before any handler runs.
//!
//! A local developer server is attacked through the browser: any page the
//! user visits can point a name it controls at 127.0.0.1 (DNS rebinding)
//! and then read and drive the API as "same origin". So:
//!
//! - the `Host` must be this server: `localhost`, a loopback address, the
//!   listening address, a name given with `--http-allow-host`, or (only
//!   when listening on all interfaces) any IP literal. Rebinding needs a
//!   name, so an IP literal is never an attacker's.
//! - a state-changing request (POST, PUT, PATCH, DELETE) carrying an
//!   `Origin` must come from the UI's own origin (an allowed host on this
//!   server's port), so a foreign page cannot fire a fault or delete a
//!   topic with a form or `fetch(..., {mode: 'no-cors'})`.
//! - with a token (required when the API is exposed beyond loopback),
//!   `/api/…` and `/metrics` need `Authorization: Bearer <token>`; the
//!   event stream also takes `?access_token=` because `EventSource`
//!   cannot send headers. The UI's static files stay public so it can ask
//!   for the token.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::problem::Problem;

/// Longest token accepted with `--http-token` (and shortest).
pub const TOKEN_BYTES_MAX: usize = 256;
pub const TOKEN_BYTES_MIN: usize = 16;

/// The access rules of one HTTP listener.
#[derive(Debug, Clone)]
pub struct Access {
    listen: SocketAddr,
    allowed_hosts: Arc<Vec<String>>,
    token: Option<Arc<str>>,
}

impl Access {
    /// Loopback rules for a server listening on `listen`: no token.
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            allowed_hosts: Arc::new(Vec::new()),
            token: None,
        }
    }

    /// Also accept `Host: name` (a name this machine is reached by).
    #[must_use]
    pub fn allow_host(mut self, name: &str) -> Self {
        Arc::make_mut(&mut self.allowed_hosts).push(normalize(name));
        self
    }

    /// Require `Authorization: Bearer token` on the API.
    #[must_use]
    pub fn require_token(mut self, token: &str) -> Self {
        self.token = Some(Arc::from(token));
        self
    }

    /// Whether `host` (a `Host` header value, with or without port) names
    /// this server.
    pub fn host_allowed(&self, host: &str) -> bool {
        let Some(name) = host_name(host) else {
            return false;
        };
        if name == "localhost" || self.allowed_hosts.contains(&name) {
            return true;
        }
        let Ok(ip) = name
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        else {
            return false;
        };
        ip.is_loopback() || ip == self.listen.ip() || self.listen.ip().is_unspecified()
    }

    /// Whether `origin` (`scheme://host[:port]`) is the UI served here.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        let Some((scheme, rest)) = origin.split_once("://") else {
            return false;
        };
        let default_port = match scheme {
            "http" => 80,
            "https" => 443,
            _ => return false,
        };
        if rest.contains('/') || !self.host_allowed(rest) {
            return false;
        }
        port_of(rest).unwrap_or(default_port) == self.listen.port()
    }

    fn token_ok(&self, req: &Request) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        let path = req.uri().path();
        if !(path.starts_with("/api/") || path == "/metrics") {
            return true;
        }
        let bearer = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim().as_bytes().to_vec());
        let query = (path == "/api/v1/events")
            .then(|| req.uri().query())
            .flatten()
            .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("access_token=")))
            .map(percent_decode);
        bearer
            .or(query)
            .is_some_and(|given| same_bytes(&given, token.as_bytes()))
    }
}

/// The middleware: refuses before any handler runs.
pub async fn check(State(access): State<Access>, req: Request, next: Next) -> Response {
    if let Some(problem) = refusal(&access, &req) {
        let unauthorized = problem.status == StatusCode::UNAUTHORIZED.as_u16();
        tracing::info!(
            method = %req.method(),
            path = %req.uri().path(),
            reason = %problem.detail,
            "refused an HTTP request"
        );
        let mut response = problem.into_response();
        if unauthorized {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"pier\""),
            );
        }
        return response;
    }
    next.run(req).await
}

fn refusal(access: &Access, req: &Request) -> Option<Problem> {
    let headers: &HeaderMap = req.headers();
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match host {
        Some(h) if access.host_allowed(h) => {}
        Some(h) => return Some(Problem::foreign_host(h)),
        None => return Some(Problem::foreign_host("(none)")),
    }
    let changes_state = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if changes_state && let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("(not text)");
        if !access.origin_allowed(origin) {
            return Some(Problem::foreign_origin(origin));
        }
    }
    (!access.token_ok(req)).then(Problem::unauthorized)
}

/// The host part of a `Host` value, lower case, without port or final dot.
fn host_name(host: &str) -> Option<String> {
    let host = host.trim();
    let name = if host.starts_with('[') {
        &host[..=host.find(']')?]
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
            Some(_) => return None,
            None => host,
        }
    };
    (!name.is_empty()).then(|| normalize(name))
}

fn port_of(host: &str) -> Option<u16> {
    let after = match host.rfind(']') {
        Some(i) => &host[i + 1..],
        None => host,
    };
    after.rsplit_once(':').and_then(|(_, p)| p.parse().ok())
}

fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// A query value as sent by `encodeURIComponent` (`%XX`, and `+` as a
/// space from forms); a malformed escape stays as it is.
fn percent_decode(value: &str) -> Vec<u8> {
    let bytes = value.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| Some((hex(bytes[i + 1])?, hex(bytes[i + 2])?)))
            .flatten();
        match (bytes[i], escaped) {
            (_, Some((h, l))) => {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
            (b'+', None) => out.push(b' '),
            (b, None) => out.push(b),
        }
        i += 1;
    }
    out
}

/// Compares without stopping at the first difference.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Problem {
    fn foreign_host(host: &str) -> Self {
        Self::new(
            StatusCode::MISDIRECTED_REQUEST,
            "foreign-host",
            "Request for another host",
            format!(
                "Host {host:?} is not this server. Pier answers requests for localhost, \
                 loopback addresses, the address it listens on, and names given with \
                 --http-allow-host (this blocks DNS-rebinding attacks from web pages)"
            ),
        )
    }

    fn foreign_origin(origin: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "foreign-origin",
            "Cross-origin request refused",
            format!(
                "a page from {origin:?} may not change anything here; only Pier's own UI can \
                 (requests without an Origin header, such as curl or the CLI, are accepted)"
            ),
        )
    }

    fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Token required",
            "this Pier is reachable from other machines: send `Authorization: Bearer <token>` \
             (the token `pier serve` printed, also in the data directory's http-token file)",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> Access {
        Access::new("127.0.0.1:8092".parse().unwrap()).allow_host("pier.test")
    }

    #[test]
    fn hosts() {
        let a = local();
        for ok in [
            "localhost",
            "localhost:8092",
            "LOCALHOST.:8092",
            "127.0.0.1:8092",
            "127.0.0.2",
            "[::1]:8092",
            "pier.test:8092",
        ] {
            assert!(a.host_allowed(ok), "{ok}");
        }
        for bad in [
            "evil.example.com:8092",
            "localhost.evil.com",
            "10.0.0.5:8092",
            "",
            "[::1",
            "localhost:80x",
            "127.0.0.1.nip.io",
        ] {
            assert!(!a.host_allowed(bad), "{bad}");
        }
        let all = Access::new("0.0.0.0:8092".parse().unwrap());
        assert!(all.host_allowed("192.168.1.5:8092"));
        assert!(!all.host_allowed("attacker.example:8092"));
    }

    #[test]
    fn origins() {
        let a = local();
        assert!(a.origin_allowed("http://127.0.0.1:8092"));
        assert!(a.origin_allowed("http://localhost:8092"));
        assert!(!a.origin_allowed("http://localhost:5173"));
        assert!(!a.origin_allowed("http://evil.example.com:8092"));
        assert!(!a.origin_allowed("null"));
        assert!(!a.origin_allowed("file://"));
        assert!(!a.origin_allowed("http://127.0.0.1"));
        let http80 = Access::new("127.0.0.1:80".parse().unwrap());
        assert!(http80.origin_allowed("http://localhost"));
    }

    #[test]
    fn query_tokens_are_percent_decoded() {
        assert_eq!(percent_decode("a%2Fb%2B%3D"), b"a/b+=");
        assert_eq!(percent_decode("100%"), b"100%");
        assert_eq!(percent_decode("%zz%4"), b"%zz%4");
        assert_eq!(percent_decode("a+b"), b"a b");
    }

    #[test]
    fn constant_time_compare() {
        assert!(same_bytes(b"abc", b"abc"));
        assert!(!same_bytes(b"abc", b"abd"));
        assert!(!same_bytes(b"abc", b"abcd"));
    }
}
