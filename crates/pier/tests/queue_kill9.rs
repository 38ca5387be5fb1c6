//! Queue state survives a real crash: three HTTP consumers work through
//! 3,000 records while `pier serve` is SIGKILLed twice and restarted on its
//! data directory. Every record must end accepted (none lost), and a record
//! whose acceptance was confirmed must never be delivered again.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const RECORDS: usize = 3000;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(dir: &std::path::Path, kafka: u16, http: u16) -> Child {
    for _ in 0..50 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pier"))
            .args(["serve", "--data-dir"])
            .arg(dir)
            .args([
                "--kafka",
                &format!("127.0.0.1:{kafka}"),
                "--http",
                &format!("127.0.0.1:{http}"),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        if line.starts_with("pier ready") {
            return child;
        }
        // The old process's port may linger for a moment.
        let _ = child.wait();
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("pier did not restart");
}

/// One HTTP request; `None` while the server is down.
async fn call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &serde_json::Value,
) -> Option<(u16, serde_json::Value)> {
    let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
    let body = body.to_string();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((
        status,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    ))
}

#[derive(Default)]
struct Seen {
    confirmed: BTreeSet<(u64, u64)>,
    /// Acked, but the server died before answering: maybe accepted.
    uncertain: BTreeSet<(u64, u64)>,
    violations: Vec<String>,
}

async fn consumer(addr: SocketAddr, name: String, seen: Arc<Mutex<Seen>>) {
    let started = Instant::now();
    loop {
        if started.elapsed() > Duration::from_secs(60) {
            let q = call(addr, "GET", "/api/v1/queues/q", &json!(null)).await;
            let l = call(addr, "GET", "/api/v1/queues/q/leases", &json!(null)).await;
            let n = seen.lock().unwrap().confirmed.len();
            panic!("{name}: stuck at {n} confirmed; queue {q:?}; leases {l:?}");
        }
        let Some((200, got)) = call(
            addr,
            "POST",
            "/api/v1/queues/q/receive",
            &json!({"consumer": name, "max_records": 20, "wait_ms": 200}),
        )
        .await
        else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let got = got.as_array().cloned().unwrap_or_default();
        if got.is_empty() {
            if let Some((200, q)) = call(addr, "GET", "/api/v1/queues/q", &json!(null)).await
                && q["accepted"] == RECORDS as u64
            {
                return;
            }
            continue;
        }
        {
            let mut s = seen.lock().unwrap();
            for r in &got {
                let key = (
                    r["message"]["partition"].as_u64().unwrap(),
                    r["message"]["offset"].as_u64().unwrap(),
                );
                if s.confirmed.contains(&key) {
                    s.violations.push(format!(
                        "{key:?} delivered again (delivery {}) after its acceptance was confirmed",
                        r["delivery"]
                    ));
                }
            }
        }
        let acks: Vec<serde_json::Value> = got
            .iter()
            .map(|r| json!({"partition": r["message"]["partition"], "offset": r["message"]["offset"], "delivery": r["delivery"], "action": "accept"}))
            .collect();
        let keys: Vec<(u64, u64)> = got
            .iter()
            .map(|r| {
                (
                    r["message"]["partition"].as_u64().unwrap(),
                    r["message"]["offset"].as_u64().unwrap(),
                )
            })
            .collect();
        let answer = call(
            addr,
            "POST",
            "/api/v1/queues/q/ack",
            &json!({"consumer": name, "acks": acks}),
        )
        .await;
        let mut s = seen.lock().unwrap();
        match answer {
            // The server died before answering: maybe accepted.
            None => s.uncertain.extend(keys),
            Some((200, answer)) => {
                for (key, result) in keys.into_iter().zip(answer["results"].as_array().unwrap()) {
                    if result["ok"] == true && !s.confirmed.insert(key) {
                        s.violations.push(format!("{key:?} accepted twice"));
                    }
                }
            }
            Some((status, body)) => s.violations.push(format!("ack answered {status}: {body}")),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queue_leases_and_acks_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let (kafka, http) = (free_port(), free_port());
    let addr: SocketAddr = format!("127.0.0.1:{http}").parse().unwrap();
    let mut child = spawn(dir.path(), kafka, http);
    assert_eq!(
        call(
            addr,
            "POST",
            "/api/v1/topics",
            &json!({"name": "work", "partitions": 2})
        )
        .await
        .unwrap()
        .0,
        201
    );
    let (status, _) = call(
        addr,
        "POST",
        "/api/v1/topics/work/messages",
        &json!({"value": "job {{seq}}", "count": RECORDS}),
    )
    .await
    .unwrap();
    assert_eq!(status, 201);
    let (status, body) = call(addr, "PUT", "/api/v1/queues/q", &json!({"topic": "work", "lease_ms": 1000, "backoff_base_ms": 20, "backoff_max_ms": 100, "max_deliveries": 100})).await.unwrap();
    assert_eq!(status, 200, "{body}");

    let seen = Arc::new(Mutex::new(Seen::default()));
    let workers: Vec<_> = (0..3)
        .map(|i| tokio::spawn(consumer(addr, format!("c{i}"), seen.clone())))
        .collect();
    for kill_at in [RECORDS / 4, RECORDS / 2] {
        while seen.lock().unwrap().confirmed.len() < kill_at {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        child = spawn(dir.path(), kafka, http);
    }
    for w in workers {
        w.await.unwrap();
    }
    {
        let s = seen.lock().unwrap();
        assert!(
            s.violations.is_empty(),
            "{:?}",
            &s.violations[..s.violations.len().min(10)]
        );
        // Every record was confirmed, or acked just as the server died (the
        // server's own count below says those were accepted too).
        let covered: BTreeSet<_> = s.confirmed.union(&s.uncertain).collect();
        assert_eq!(covered.len(), RECORDS, "every record accepted");
        assert!(
            s.confirmed.len() >= RECORDS - 200,
            "only {} confirmed",
            s.confirmed.len()
        );
    }
    let (_, q) = call(addr, "GET", "/api/v1/queues/q", &json!(null))
        .await
        .unwrap();
    assert_eq!(q["backlog"], 0, "{q}");
    assert_eq!(q["in_flight"], 0, "{q}");
    assert_eq!(
        q["accepted"], RECORDS as u64,
        "the replayed counters agree: {q}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
