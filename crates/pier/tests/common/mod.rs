//! Helpers shared by the integration tests: raw HTTP/1.1 over a socket,
//! an in-process server, and `pier serve` as a child process.
#![allow(dead_code)]

pub mod kafka;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

pub async fn request(server: &pier::Server, method: &str, path: &str, body: Option<&str>) -> Reply {
    request_to(server.http_addr().expect("HTTP is on"), method, path, body).await
}

pub async fn request_to(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Reply {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let body = body.unwrap_or("");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_owned)
        })
        .unwrap_or_default();
    Reply {
        status,
        content_type,
        body: body.to_owned(),
    }
}

pub async fn start() -> pier::Server {
    pier::Server::builder()
        .in_memory()
        .kafka_addr("127.0.0.1:0".parse().unwrap())
        .http_addr("127.0.0.1:0".parse().unwrap())
        .start()
        .await
        .unwrap()
}

pub fn json(reply: &Reply) -> serde_json::Value {
    serde_json::from_str(&reply.body).unwrap_or_else(|e| panic!("{e}: {}", reply.body))
}

pub async fn get_json(server: &pier::Server, path: &str) -> serde_json::Value {
    let reply = request(server, "GET", path, None).await;
    assert_eq!(reply.status, 200, "GET {path}: {}", reply.body);
    json(&reply)
}

pub async fn post(server: &pier::Server, path: &str, body: serde_json::Value) -> Reply {
    request(server, "POST", path, Some(&body.to_string())).await
}

pub async fn receive(
    server: &pier::Server,
    group: &str,
    consumer: &str,
    max: u32,
    extra: serde_json::Value,
) -> Vec<serde_json::Value> {
    let mut body = serde_json::json!({"consumer": consumer, "max_records": max});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let reply = post(server, &format!("/api/v1/queues/{group}/receive"), body).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    json(&reply).as_array().unwrap().clone()
}

pub async fn ack(
    server: &pier::Server,
    group: &str,
    consumer: &str,
    records: &[serde_json::Value],
    action: &str,
) -> serde_json::Value {
    if records.is_empty() {
        return serde_json::json!({"failed": 0, "results": []});
    }
    let acks: Vec<serde_json::Value> = records
        .iter()
        .map(|r| {
            serde_json::json!({"partition": r["message"]["partition"], "offset": r["message"]["offset"],
                   "delivery": r["delivery"], "action": action})
        })
        .collect();
    let reply = post(
        server,
        &format!("/api/v1/queues/{group}/ack"),
        serde_json::json!({"consumer": consumer, "acks": acks}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    json(&reply)
}

/// A `pier serve` child process (killed when dropped) and the fields of
/// the line it prints once it accepts connections.
pub struct ServeProcess {
    pub child: std::process::Child,
    ready: String,
}

impl ServeProcess {
    /// Starts `pier serve ARGS` and waits for its ready line.
    pub fn spawn(args: &[&str]) -> Self {
        use std::io::BufRead;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pier"))
            .arg("serve")
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut ready = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut ready)
            .unwrap();
        Self { child, ready }
    }

    /// The value of `key=` in the ready line (`kafka`, `http`, `data`).
    pub fn addr(&self, key: &str) -> String {
        let prefix = format!("{key}=");
        self.ready
            .split_whitespace()
            .find_map(|w| w.strip_prefix(prefix.as_str()))
            .unwrap_or_else(|| panic!("no {prefix} in {:?}", self.ready))
            .to_owned()
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
