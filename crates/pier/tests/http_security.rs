//! The HTTP API refuses what a hostile web page or a remote peer could
//! send, before any handler runs, and such a refusal changes nothing.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Raw {
    status: u16,
    head: String,
    body: String,
}

/// One request with exactly these extra header lines; reads until the
/// headers end (so an event stream does not block) or the body ends.
async fn raw(addr: SocketAddr, method: &str, path: &str, headers: &[&str], body: &str) -> Raw {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf).await.unwrap();
        raw.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&raw);
        let streaming = text.contains("text/event-stream") && text.contains("\r\n\r\n");
        if n == 0 || streaming {
            break;
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    Raw {
        status: head.split_whitespace().nth(1).unwrap().parse().unwrap(),
        head: head.to_ascii_lowercase(),
        body: body.to_owned(),
    }
}

async fn topic_names(addr: SocketAddr) -> Vec<String> {
    let host = format!("Host: {addr}");
    let r = raw(addr, "GET", "/api/v1/topics", &[&host], "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let topics: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    topics
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_foreign_host_is_refused_and_changes_nothing() {
    let server = common::start().await;
    let addr = server.http_addr().unwrap();
    let evil = format!("Host: evil.example.com:{}", addr.port());
    let read = raw(addr, "GET", "/api/v1/topics", &[&evil], "").await;
    assert_eq!(read.status, 421);
    assert!(read.head.contains("application/problem+json"));
    assert!(read.body.contains("foreign-host"), "{}", read.body);
    let create = raw(
        addr,
        "POST",
        "/api/v1/topics",
        &[&evil],
        r#"{"name":"rebound","partitions":1}"#,
    )
    .await;
    assert_eq!(create.status, 421);
    let fault = raw(
        addr,
        "POST",
        "/api/v1/faults",
        &[&evil],
        r#"{"kind":"crash"}"#,
    )
    .await;
    assert_eq!(fault.status, 421);
    assert!(raw(addr, "GET", "/api/v1/topics", &[], "").await.status == 421);
    assert_eq!(topic_names(addr).await, Vec::<String>::new());
    let faults = raw(
        addr,
        "GET",
        "/api/v1/faults",
        &[&format!("Host: {addr}")],
        "",
    )
    .await;
    assert_eq!(faults.body.trim(), "[]");
    // The names a user types are answered.
    for ok in [
        format!("Host: localhost:{}", addr.port()),
        format!("Host: {addr}"),
    ] {
        assert_eq!(raw(addr, "GET", "/healthz", &[&ok], "").await.status, 200);
    }
}

#[tokio::test]
async fn a_cross_origin_change_is_refused_and_changes_nothing() {
    let server = common::start().await;
    let addr = server.http_addr().unwrap();
    let host = format!("Host: {addr}");
    let own = format!("Origin: http://{addr}");
    let made = raw(
        addr,
        "POST",
        "/api/v1/topics",
        &[&host, &own],
        r#"{"name":"orders","partitions":1}"#,
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.body);
    for origin in [
        "Origin: http://evil.example.com",
        "Origin: null",
        &format!("Origin: http://localhost:{}", addr.port() ^ 1),
    ] {
        let create = raw(
            addr,
            "POST",
            "/api/v1/topics",
            &[&host, origin],
            r#"{"name":"planted","partitions":1}"#,
        )
        .await;
        assert_eq!(create.status, 403, "{origin}: {}", create.body);
        assert!(create.body.contains("foreign-origin"));
        let delete = raw(
            addr,
            "DELETE",
            "/api/v1/topics/orders",
            &[&host, origin],
            "",
        )
        .await;
        assert_eq!(delete.status, 403, "{origin}");
        let fsync_off = raw(
            addr,
            "PUT",
            "/api/v1/durability",
            &[&host, origin],
            r#"{"fsync":false}"#,
        )
        .await;
        assert_eq!(fsync_off.status, 403, "{origin}");
    }
    assert_eq!(topic_names(addr).await, vec!["orders".to_owned()]);
    let durability = raw(addr, "GET", "/api/v1/durability", &[&host], "").await;
    assert!(
        durability.body.contains(r#""fsync":true"#),
        "{}",
        durability.body
    );
    // Reading from a foreign page is left to the browser (no CORS header is
    // sent, so it cannot read the answer); it changes nothing.
    let read = raw(
        addr,
        "GET",
        "/api/v1/topics",
        &[&host, "Origin: http://evil.example.com"],
        "",
    )
    .await;
    assert!(!read.head.contains("access-control-allow-origin"));
}

#[tokio::test]
async fn with_a_token_the_api_needs_it_and_the_ui_still_loads() {
    let server = pier::Server::builder()
        .in_memory()
        .kafka_addr("127.0.0.1:0".parse().unwrap())
        .http_addr("127.0.0.1:0".parse().unwrap())
        .http_token("s3cret-token-0123456789")
        .start()
        .await
        .unwrap();
    let addr = server.http_addr().unwrap();
    let host = format!("Host: {addr}");
    let denied = raw(addr, "GET", "/api/v1/topics", &[&host], "").await;
    assert_eq!(denied.status, 401);
    assert!(denied.head.contains("www-authenticate: bearer"));
    let wrong = raw(
        addr,
        "GET",
        "/metrics",
        &[&host, "Authorization: Bearer s3cret-token-0123456788"],
        "",
    )
    .await;
    assert_eq!(wrong.status, 401);
    let create = raw(
        addr,
        "POST",
        "/api/v1/topics",
        &[&host],
        r#"{"name":"t","partitions":1}"#,
    )
    .await;
    assert_eq!(create.status, 401);
    let bearer = "Authorization: Bearer s3cret-token-0123456789";
    let ok = raw(addr, "GET", "/api/v1/topics", &[&host, bearer], "").await;
    assert_eq!((ok.status, ok.body.trim()), (200, "[]"));
    assert_eq!(raw(addr, "GET", "/healthz", &[&host], "").await.status, 200);
    assert_eq!(raw(addr, "GET", "/", &[&host], "").await.status, 200);
    let events = raw(
        addr,
        "GET",
        "/api/v1/events?access_token=s3cret-token-0123456789",
        &[&host],
        "",
    )
    .await;
    assert_eq!(events.status, 200);
    let no_events = raw(addr, "GET", "/api/v1/events", &[&host], "").await;
    assert_eq!(no_events.status, 401);
}

fn serve(args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_pier"))
        .arg("serve")
        .args(["--in-memory", "--kafka", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_remote_bind_needs_consent_and_then_a_token() {
    let refused = serve(&["--http", "0.0.0.0:0"]).wait_with_output().unwrap();
    assert!(!refused.status.success());
    let msg = String::from_utf8_lossy(&refused.stderr);
    assert!(msg.contains("--allow-remote"), "{msg}");
    assert!(msg.contains("0.0.0.0:0"), "{msg}");

    let mut child = serve(&["--http", "0.0.0.0:0", "--allow-remote"]);
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut token = None;
    let mut line = String::new();
    while token.is_none() && stderr.read_line(&mut line).unwrap() > 0 {
        if let Some(t) = line.trim().strip_prefix("pier:   ") {
            token = Some(t.to_owned());
        }
        line.clear();
    }
    let token = token.expect("the generated token is printed");
    let mut ready = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    let port: u16 = ready
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http="))
        .and_then(|a| a.rsplit_once(':'))
        .unwrap()
        .1
        .parse()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/api/v1/topics");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let without = agent.get(&url).call().unwrap();
    assert_eq!(without.status(), 401);
    let with = agent
        .get(&url)
        .header("Authorization", &format!("Bearer {token}"))
        .call()
        .unwrap();
    assert_eq!(with.status(), 200);
    // The CLI sends it when told.
    let cli = Command::new(env!("CARGO_BIN_EXE_pier"))
        .args(["topic", "list", "--server", &format!("127.0.0.1:{port}")])
        .env("PIER_HTTP_TOKEN", &token)
        .output()
        .unwrap();
    assert!(
        cli.status.success(),
        "{}",
        String::from_utf8_lossy(&cli.stderr)
    );
    let _ = child.kill();
    let _ = child.wait();
}
