//! The HTTP API through real HTTP/1.1 on a socket.

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

mod common;
use common::{request, start};

#[tokio::test]
async fn topics_can_be_created_listed_described_and_deleted() {
    let server = start().await;
    assert_eq!(request(&server, "GET", "/healthz", None).await.status, 200);
    let created = request(
        &server,
        "POST",
        "/api/v1/topics",
        Some(r#"{"name":"orders","partitions":3,"config":{"retention.ms":"60000"}}"#),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let topic: serde_json::Value = serde_json::from_str(&created.body).unwrap();
    assert_eq!(topic["partitions"].as_array().unwrap().len(), 3);
    assert_eq!(topic["config"]["retention.ms"], "60000");
    let list: serde_json::Value =
        serde_json::from_str(&request(&server, "GET", "/api/v1/topics", None).await.body).unwrap();
    assert_eq!(list[0]["name"], "orders");
    assert_eq!(
        request(&server, "DELETE", "/api/v1/topics/orders", None)
            .await
            .status,
        204
    );
    assert_eq!(
        request(&server, "GET", "/api/v1/topics/orders", None)
            .await
            .status,
        404
    );
    server.shutdown().await;
}

#[tokio::test]
async fn bad_requests_get_problem_json_and_change_nothing() {
    let server = start().await;
    let cases = [
        (r#"{"name": "#, 400, "invalid-body"),
        (r#"{"name":"x","partitions":-1}"#, 400, "invalid-body"),
        (r#"{"name":"x","surprise":1}"#, 400, "invalid-body"),
        (r#"{"name":"bad name"}"#, 400, "invalid-input"),
        (r#"{"name":"x","partitions":0}"#, 400, "invalid-input"),
        (
            r#"{"name":"x","config":{"retention.ms":"soon"}}"#,
            400,
            "invalid-input",
        ),
        (
            r#"{"name":"x","config":{"no.such.key":"1"}}"#,
            400,
            "invalid-input",
        ),
    ];
    for (body, status, kind) in cases {
        let reply = request(&server, "POST", "/api/v1/topics", Some(body)).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.body);
        assert_eq!(reply.content_type, "application/problem+json", "{body}");
        let problem: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(
            problem["type"],
            format!("https://pier.dev/problems/{kind}"),
            "{body}"
        );
        assert!(!problem["detail"].as_str().unwrap().is_empty());
    }
    let huge = format!(r#"{{"name":"{}"}}"#, "x".repeat(2 * 1024 * 1024));
    let reply = request(&server, "POST", "/api/v1/topics", Some(&huge)).await;
    assert_eq!(reply.status, 413);
    assert_eq!(reply.content_type, "application/problem+json");
    assert_eq!(
        request(&server, "POST", "/api/v1/topics", Some(r#"{"name":"dup"}"#))
            .await
            .status,
        201
    );
    let dup = request(&server, "POST", "/api/v1/topics", Some(r#"{"name":"dup"}"#)).await;
    assert_eq!(dup.status, 409);
    assert_eq!(
        request(&server, "GET", "/api/v1/nothing", None)
            .await
            .status,
        404
    );
    let list: serde_json::Value =
        serde_json::from_str(&request(&server, "GET", "/api/v1/topics", None).await.body).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "nothing half-written");
    server.shutdown().await;
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let server = start().await;
    request(
        &server,
        "POST",
        "/api/v1/topics",
        Some(r#"{"name":"m","partitions":2}"#),
    )
    .await;
    let record = pier_core_record();
    server.store().append("m", 1, record).await.unwrap();
    let reply = request(&server, "GET", "/metrics", None).await;
    assert_eq!(reply.status, 200);
    assert!(reply.content_type.starts_with("text/plain; version=0.0.4"));
    // Every line is a comment or `name{labels} value` with a numeric value.
    let mut samples = std::collections::BTreeMap::new();
    for line in reply
        .body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (name, value) = line.rsplit_once(' ').unwrap();
        samples.insert(name.to_owned(), value.parse::<f64>().unwrap());
    }
    assert_eq!(samples["pier_appends_total"], 1.0);
    // One group commit, counted once in the histogram's cumulative buckets.
    let commits = samples["pier_group_commits_total"];
    assert!(commits >= 1.0);
    assert_eq!(samples["pier_group_commit_seconds_count"], commits);
    assert_eq!(
        samples["pier_group_commit_seconds_bucket{le=\"+Inf\"}"],
        commits
    );
    let buckets: Vec<f64> = samples
        .iter()
        .filter(|(k, _)| k.starts_with("pier_group_commit_seconds_bucket"))
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(buckets.len(), 13);
    assert!(samples["pier_group_commit_seconds_bucket{le=\"1\"}"] <= commits);
    assert_eq!(
        samples["pier_partition_high_watermark{topic=\"m\",partition=\"1\"}"],
        1.0
    );
    assert_eq!(
        samples["pier_partition_high_watermark{topic=\"m\",partition=\"0\"}"],
        0.0
    );
    server.shutdown().await;
}

fn pier_core_record() -> bytes::Bytes {
    let record = pier::pier_core::batch::NewRecord {
        value: Some(bytes::Bytes::from_static(b"v")),
        timestamp_ms: 1,
        ..Default::default()
    };
    pier::pier_core::batch::build(&[record], kafka_protocol::records::Compression::None, None)
}

#[tokio::test]
async fn produce_a_thousand_then_browse_them_and_see_group_lag() {
    let server = start().await;
    request(
        &server,
        "POST",
        "/api/v1/topics",
        Some(r#"{"name":"load","partitions":2}"#),
    )
    .await;
    let produced = request(
        &server,
        "POST",
        "/api/v1/topics/load/messages",
        Some(r#"{"key":"k{{seq}}","value":{"n":"{{seq}}"},"headers":{"source":"test"},"count":1000}"#),
    )
    .await;
    assert_eq!(produced.status, 201, "{}", produced.body);
    let topic: serde_json::Value = serde_json::from_str(
        &request(&server, "GET", "/api/v1/topics/load", None)
            .await
            .body,
    )
    .unwrap();
    assert_eq!(topic["records"], 1000);
    let mut seen = Vec::new();
    for p in 0..2 {
        let mut offset = 0;
        loop {
            let page = request(
                &server,
                "GET",
                &format!("/api/v1/topics/load/messages?partition={p}&offset={offset}&limit=300"),
                None,
            )
            .await;
            assert_eq!(page.status, 200, "{}", page.body);
            let page: serde_json::Value = serde_json::from_str(&page.body).unwrap();
            let messages = page["messages"].as_array().unwrap();
            if messages.is_empty() {
                break;
            }
            for m in messages {
                assert_eq!(m["offset"], offset, "dense offsets");
                assert_eq!(m["headers"]["source"], "test");
                let key = m["key"].as_str().unwrap();
                let value: serde_json::Value =
                    serde_json::from_str(m["value"].as_str().unwrap()).unwrap();
                assert_eq!(format!("k{}", value["n"].as_str().unwrap()), key);
                seen.push(key.to_owned());
                offset += 1;
            }
        }
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 1000, "every message once");
    for (query, kind) in [
        ("partition=9", "not-found"),
        ("limit=0", "invalid-input"),
        ("offset=-3", "invalid-query"),
    ] {
        let reply = request(
            &server,
            "GET",
            &format!("/api/v1/topics/load/messages?{query}"),
            None,
        )
        .await;
        let problem: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(
            problem["type"],
            format!("https://pier.dev/problems/{kind}"),
            "{query}: {}",
            reply.body
        );
    }
    for body in [
        r#"{"value":"x","count":0}"#,
        r#"{"value":"x","count":1000001}"#,
        r#"{"value":"x","count":10,"rate":0}"#,
        r#"{"value":"x","count":-1}"#,
        r#"{"value":"x","count":1000000,"rate":10}"#,
        r#"{"value":"{{seq}} {{nope}}"}"#,
        r#"{"value":"x","key":"{{seq"}"#,
        r#"{"count":3}"#,
        r#"[null, "x"]"#,
        r#"{"value":"x","partition":5}"#,
    ] {
        let reply = request(&server, "POST", "/api/v1/topics/load/messages", Some(body)).await;
        assert_eq!(reply.status, 400, "{body}");
    }
    assert_eq!(
        request(
            &server,
            "POST",
            "/api/v1/topics/none/messages",
            Some(r#"{"value":"x"}"#)
        )
        .await
        .status,
        404
    );
    let topic: serde_json::Value = serde_json::from_str(
        &request(&server, "GET", "/api/v1/topics/load", None)
            .await
            .body,
    )
    .unwrap();
    assert_eq!(topic["records"], 1000, "refused requests wrote nothing");

    // A group that committed offset 100 on partition 0 lags by the rest.
    let offsets = vec![(
        "load".to_owned(),
        0u32,
        pier::pier_core::store::CommittedOffset {
            offset: 100,
            metadata: String::new(),
        },
    )];
    server
        .store()
        .admin(pier::pier_core::AdminCommand::CommitOffsets {
            group: "readers".into(),
            offsets,
        })
        .await
        .unwrap();
    let groups: serde_json::Value =
        serde_json::from_str(&request(&server, "GET", "/api/v1/groups", None).await.body).unwrap();
    let hw = topic["partitions"][0]["high_watermark"].as_u64().unwrap();
    assert_eq!(groups[0]["group_id"], "readers");
    assert_eq!(groups[0]["total_lag"], hw - 100);
    server.shutdown().await;
}

/// Reads SSE lines until an event of `kind` arrives; returns its data.
async fn next_event(stream: &mut tokio::io::BufReader<TcpStream>, kind: &str) -> serde_json::Value {
    use tokio::io::AsyncBufReadExt;
    let wait = async {
        let mut current = String::new();
        loop {
            let mut line = String::new();
            assert!(
                stream.read_line(&mut line).await.unwrap() > 0,
                "stream ended"
            );
            let line = line.trim_end();
            if let Some(name) = line.strip_prefix("event: ") {
                current = name.to_owned();
            } else if let Some(data) = line.strip_prefix("data: ")
                && current == kind
            {
                return serde_json::from_str(data).unwrap();
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), wait)
        .await
        .expect("event arrived")
}

#[tokio::test]
async fn the_event_stream_reports_new_records_and_stats() {
    let server = start().await;
    request(
        &server,
        "POST",
        "/api/v1/topics",
        Some(r#"{"name":"live"}"#),
    )
    .await;
    let mut s = TcpStream::connect(server.http_addr().unwrap())
        .await
        .unwrap();
    s.write_all(
        b"GET /api/v1/events HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n",
    )
    .await
    .unwrap();
    let mut stream = tokio::io::BufReader::new(s);
    let stats = next_event(&mut stream, "stats").await;
    assert_eq!(stats["kind"], "stats");
    assert!(stats["t_ms"].as_i64().unwrap() > 0);
    request(
        &server,
        "POST",
        "/api/v1/topics/live/messages",
        Some(r#"{"value":"v","count":5}"#),
    )
    .await;
    let records = next_event(&mut stream, "records").await;
    assert_eq!(records["topic"], "live");
    assert_eq!(records["high_watermark"], 5);
    // A later sample counts the five records (the first one after the
    // produce may have been taken before it).
    let mut records = 0;
    for _ in 0..3 {
        let stats = next_event(&mut stream, "stats").await;
        records = stats["topics"][0]["records"].as_u64().unwrap_or(0);
        if records == 5 {
            break;
        }
    }
    assert_eq!(records, 5);
    server.shutdown().await;
}
