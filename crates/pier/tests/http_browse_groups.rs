//! The HTTP API's browsing, group offsets, statistics and self-description.

mod common;
use common::{json, request, start};

#[tokio::test]
async fn browse_newest_first_with_filters_and_waiting() {
    let server = start().await;
    request(&server, "POST", "/api/v1/topics", Some(r#"{"name":"b"}"#)).await;
    let produced = request(
        &server,
        "POST",
        "/api/v1/topics/b/messages",
        Some(r#"{"key":"{{seq}}","value":"v-{{seq}}","headers":{"h":"x{{seq}}"},"count":500}"#),
    )
    .await;
    assert_eq!(produced.status, 201, "{}", produced.body);
    let produced = json(&produced);
    assert_eq!(produced["offsets"][0]["first"], 0);
    assert_eq!(produced["offsets"][0]["last"], 499);

    // Newest first, paged with next_offset.
    let page = json(
        &request(
            &server,
            "GET",
            "/api/v1/topics/b/messages?order=newest&limit=3",
            None,
        )
        .await,
    );
    let offsets: Vec<u64> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["offset"].as_u64().unwrap())
        .collect();
    assert_eq!(offsets, [499, 498, 497]);
    assert_eq!(page["next_offset"], 497);
    let page = json(
        &request(
            &server,
            "GET",
            "/api/v1/topics/b/messages?order=newest&limit=2&offset=2",
            None,
        )
        .await,
    );
    let offsets: Vec<u64> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["offset"].as_u64().unwrap())
        .collect();
    assert_eq!(offsets, [1, 0]);
    assert!(page["next_offset"].is_null(), "nothing older: {page}");

    // Filters: value, key and header substrings, both orders.
    let page = json(
        &request(
            &server,
            "GET",
            "/api/v1/topics/b/messages?value=v-49&limit=100",
            None,
        )
        .await,
    );
    let values: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        values,
        [
            "v-49", "v-490", "v-491", "v-492", "v-493", "v-494", "v-495", "v-496", "v-497",
            "v-498", "v-499"
        ]
    );
    assert_eq!(page["scanned"], 500);
    let page = json(
        &request(
            &server,
            "GET",
            "/api/v1/topics/b/messages?key=12&order=newest&limit=2",
            None,
        )
        .await,
    );
    let keys: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["412", "312"]);
    let page = json(
        &request(
            &server,
            "GET",
            "/api/v1/topics/b/messages?header=h%3Dx7&limit=3",
            None,
        )
        .await,
    );
    let keys: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["7", "70", "71"]);

    // At the end, wait_ms waits for the next message instead of returning empty.
    let wb = server.workbench().clone();
    let writer = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let req = serde_json::from_str(r#"{"value":"late"}"#).unwrap();
        wb.produce("b", req).await.unwrap();
    });
    let started = std::time::Instant::now();
    let page = json(
        &request(
            &server,
            "GET",
            "/api/v1/topics/b/messages?offset=500&wait_ms=10000",
            None,
        )
        .await,
    );
    assert_eq!(page["messages"][0]["value"], "late", "{page}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(9),
        "woken by the write, not the timeout"
    );
    writer.await.unwrap();
    for (query, status) in [
        ("wait_ms=10001", 400),
        ("order=sideways", 400),
        ("bogus=1", 400),
    ] {
        let reply = request(
            &server,
            "GET",
            &format!("/api/v1/topics/b/messages?{query}"),
            None,
        )
        .await;
        assert_eq!(reply.status, status, "{query}: {}", reply.body);
        assert_eq!(reply.content_type, "application/problem+json");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn group_offsets_can_be_committed_inspected_and_deleted() {
    let server = start().await;
    request(
        &server,
        "POST",
        "/api/v1/topics",
        Some(r#"{"name":"g","partitions":2}"#),
    )
    .await;
    request(
        &server,
        "POST",
        "/api/v1/topics/g/messages",
        Some(r#"{"value":"x","partition":0,"count":10}"#),
    )
    .await;
    assert_eq!(
        request(&server, "GET", "/api/v1/groups/readers", None)
            .await
            .status,
        404
    );
    let reply = request(
        &server,
        "POST",
        "/api/v1/groups/readers/offsets",
        Some(r#"{"offsets":[{"topic":"g","partition":0,"offset":4}]}"#),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let group = json(&reply);
    assert_eq!(group["total_lag"], 6);
    assert_eq!(group["state"], "Empty");
    // Refused commits change nothing.
    for body in [
        r#"{"offsets":[{"topic":"g","partition":0,"offset":11}]}"#,
        r#"{"offsets":[{"topic":"g","partition":0,"offset":1},{"topic":"nope","partition":0,"offset":0}]}"#,
        r#"{"offsets":[{"topic":"g","partition":5,"offset":0}]}"#,
        r#"{"offsets":[]}"#,
        r#"{"offsets":[{"topic":"g","partition":0,"offset":-1}]}"#,
    ] {
        let reply = request(
            &server,
            "POST",
            "/api/v1/groups/readers/offsets",
            Some(body),
        )
        .await;
        assert!(matches!(reply.status, 400 | 404), "{body}: {}", reply.body);
    }
    let group = json(&request(&server, "GET", "/api/v1/groups/readers", None).await);
    assert_eq!(group["lag"][0]["committed_offset"], 4);
    assert_eq!(group["lag"].as_array().unwrap().len(), 1);
    let metrics = request(&server, "GET", "/metrics", None).await.body;
    assert!(
        metrics.contains("pier_group_lag{group=\"readers\",topic=\"g\",partition=\"0\"} 6"),
        "{metrics}"
    );
    assert_eq!(
        request(&server, "DELETE", "/api/v1/groups/readers", None)
            .await
            .status,
        204
    );
    assert_eq!(
        request(&server, "GET", "/api/v1/groups/readers", None)
            .await
            .status,
        404
    );
    assert_eq!(
        request(&server, "DELETE", "/api/v1/groups/readers", None)
            .await
            .status,
        404
    );
    server.shutdown().await;
}

#[tokio::test]
async fn stats_broker_info_and_openapi() {
    let server = start().await;
    request(&server, "POST", "/api/v1/topics", Some(r#"{"name":"s"}"#)).await;
    // Samples are taken every second; produce between two of them.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    request(
        &server,
        "POST",
        "/api/v1/topics/s/messages",
        Some(r#"{"value":"x","count":300}"#),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let samples = json(&request(&server, "GET", "/api/v1/stats?last=600", None).await);
    let samples = samples.as_array().unwrap();
    assert!(samples.len() >= 3, "{samples:?}");
    let produced: f64 = samples
        .iter()
        .map(|s| s["produce_records_per_sec"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(produced > 0.0, "a sample saw the produce: {samples:?}");
    assert_eq!(samples.last().unwrap()["topics"][0]["records"], 300);
    assert!(
        samples
            .windows(2)
            .all(|w| w[0]["t_ms"].as_i64() < w[1]["t_ms"].as_i64()),
        "oldest first"
    );
    assert_eq!(
        json(&request(&server, "GET", "/api/v1/stats?last=1", None).await)
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        request(&server, "GET", "/api/v1/stats?last=0", None)
            .await
            .status,
        400
    );

    let info = json(&request(&server, "GET", "/api/v1/broker", None).await);
    assert_eq!(info["kafka_address"], server.kafka_addr().to_string());
    assert_eq!(info["topics"], 1);
    assert!(info["data_dir"].is_null(), "in memory");

    let spec = request(&server, "GET", "/openapi.json", None).await;
    assert_eq!(spec.content_type, "application/json");
    let spec = json(&spec);
    for path in [
        "/api/v1/topics",
        "/api/v1/topics/{name}/messages",
        "/api/v1/groups/{group}/offsets",
        "/api/v1/stats",
        "/api/v1/events",
    ] {
        assert!(spec["paths"][path].is_object(), "{path} documented");
    }
    assert!(spec["components"]["schemas"]["Problem"].is_object());
    let docs = request(&server, "GET", "/docs", None).await;
    assert!(docs.content_type.starts_with("text/html") && docs.body.contains("/openapi.json"));
    let wrong = request(&server, "PUT", "/api/v1/topics", Some("{}")).await;
    assert_eq!(wrong.status, 405);
    assert_eq!(
        json(&wrong)["type"],
        "https://pier.dev/problems/method-not-allowed"
    );
    server.shutdown().await;
}
