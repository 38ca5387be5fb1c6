//! Editing a topic's settings, browsing by time, and each message's
//! delivery state in a Kafka group or a queue group.

mod common;
use common::{ack, get_json, json, post, receive, request, start};
use serde_json::json;

fn offsets(page: &serde_json::Value) -> Vec<u64> {
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["offset"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn topic_settings_change_live_and_bad_changes_change_nothing() {
    let server = start().await;
    post(&server, "/api/v1/topics", json!({"name": "t"})).await;
    let patch = |body: serde_json::Value| {
        let server = &server;
        async move { request(server, "PATCH", "/api/v1/topics/t", Some(&body.to_string())).await }
    };

    let changed =
        patch(json!({"config": {"retention.ms": "3600000", "dedup.window.ms": "60000"}})).await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    let changed = json(&changed);
    assert_eq!(changed["config"]["retention.ms"], "3600000");
    assert_eq!(changed["config"]["dedup.window.ms"], "60000");

    // The new dedup window works at once: a repeated id is stored once.
    for _ in 0..3 {
        let r = post(
            &server,
            "/api/v1/topics/t/messages",
            json!({"value": "x", "headers": {"pier-dedup-id": "same"}}),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    assert_eq!(get_json(&server, "/api/v1/topics/t").await["records"], 1);

    let grown = json(&patch(json!({"partitions": 3})).await);
    assert_eq!(grown["partitions"].as_array().unwrap().len(), 3);

    // Refused, and nothing changes.
    let before = get_json(&server, "/api/v1/topics/t").await;
    for (body, status) in [
        (json!({"partitions": 2}), 400),
        (json!({"partitions": 5000}), 400),
        (json!({"config": {"retention.ms": "soon"}}), 400),
        (json!({"config": {"no.such.key": "1"}}), 400),
        (json!({"config": {"no.such.key": null}}), 400),
        // A valid setting next to an invalid one is not applied either.
        (
            json!({"config": {"retention.ms": "1", "dedup.id": "neither"}}),
            400,
        ),
        (json!({"colour": "red"}), 400),
        (json!([]), 400),
    ] {
        let r = patch(body.clone()).await;
        assert_eq!(r.status, status, "{body}: {}", r.body);
        assert_eq!(r.content_type, "application/problem+json");
        assert_eq!(
            get_json(&server, "/api/v1/topics/t").await,
            before,
            "{body}"
        );
    }
    let r = request(&server, "PATCH", "/api/v1/topics/nope", Some("{}")).await;
    assert_eq!(r.status, 404, "{}", r.body);

    // null restores the default.
    let reset = json(&patch(json!({"config": {"retention.ms": null}})).await);
    assert_eq!(reset["config"]["retention.ms"], "604800000");
    assert_eq!(reset["config"]["dedup.window.ms"], "60000");
}

#[tokio::test]
async fn browse_from_a_time_in_both_directions() {
    let server = start().await;
    post(&server, "/api/v1/topics", json!({"name": "clock"})).await;
    // Messages spread over time, a few per millisecond tick or more.
    for i in 0..40 {
        post(
            &server,
            "/api/v1/topics/clock/messages",
            json!({"value": format!("m{i}"), "count": 1 + i % 3}),
        )
        .await;
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let all = get_json(&server, "/api/v1/topics/clock/messages?limit=1000").await;
    let stamps: Vec<(u64, i64)> = all["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["offset"].as_u64().unwrap(),
                m["timestamp_ms"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(stamps.len() >= 40);
    let first_t = stamps[0].1;
    let last_t = stamps.last().unwrap().1;
    assert!(
        last_t > first_t + 40,
        "spread over time: {first_t}..{last_t}"
    );

    for t in [
        first_t - 1000,
        first_t,
        (first_t + last_t) / 2,
        last_t - 1,
        last_t,
        last_t + 1000,
    ] {
        let expect_oldest: Vec<u64> = stamps
            .iter()
            .filter(|(_, ts)| *ts >= t)
            .map(|(o, _)| *o)
            .take(5)
            .collect();
        let page = get_json(
            &server,
            &format!("/api/v1/topics/clock/messages?time_ms={t}&limit=5"),
        )
        .await;
        assert_eq!(offsets(&page), expect_oldest, "oldest first from {t}");

        let expect_newest: Vec<u64> = stamps
            .iter()
            .rev()
            .filter(|(_, ts)| *ts <= t)
            .map(|(o, _)| *o)
            .take(5)
            .collect();
        let page = get_json(
            &server,
            &format!("/api/v1/topics/clock/messages?time_ms={t}&order=newest&limit=5"),
        )
        .await;
        assert_eq!(offsets(&page), expect_newest, "newest first from {t}");
    }

    let both = request(
        &server,
        "GET",
        "/api/v1/topics/clock/messages?time_ms=1&offset=0",
        None,
    )
    .await;
    assert_eq!(both.status, 400, "{}", both.body);
    assert!(both.body.contains("not both"), "{}", both.body);
    let bad = request(
        &server,
        "GET",
        "/api/v1/topics/clock/messages?time_ms=yesterday",
        None,
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
}

fn states(page: &serde_json::Value) -> Vec<String> {
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["delivery"]["state"]
                .as_str()
                .unwrap_or("missing")
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn delivery_state_in_kafka_and_queue_groups() {
    let server = start().await;
    post(&server, "/api/v1/topics", json!({"name": "jobs"})).await;
    post(
        &server,
        "/api/v1/topics/jobs/messages",
        json!({"value": "j{{seq}}", "count": 6}),
    )
    .await;

    // No group asked: no delivery field.
    let page = get_json(&server, "/api/v1/topics/jobs/messages").await;
    assert!(page["messages"][0].get("delivery").is_none(), "{page}");

    // A Kafka group that committed offset 2.
    let r = post(
        &server,
        "/api/v1/groups/reporting/offsets",
        json!({"offsets": [{"topic": "jobs", "partition": 0, "offset": 2}]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let page = get_json(&server, "/api/v1/topics/jobs/messages?group=reporting").await;
    assert_eq!(
        states(&page),
        [
            "committed",
            "committed",
            "uncommitted",
            "uncommitted",
            "uncommitted",
            "uncommitted"
        ]
    );

    // A queue group: accept 0, release 1 for a minute, hold 2; 3.. never delivered.
    let r = request(
        &server,
        "PUT",
        "/api/v1/queues/workers",
        Some(r#"{"topic":"jobs"}"#),
    )
    .await;
    assert!(r.status < 300, "{}", r.body);
    let got = receive(&server, "workers", "w1", 3, json!({})).await;
    assert_eq!(got.len(), 3);
    let by_offset = |o: u64| {
        got.iter()
            .find(|r| r["message"]["offset"] == o)
            .unwrap()
            .clone()
    };
    ack(&server, "workers", "w1", &[by_offset(0)], "accept").await;
    let mut release = by_offset(1);
    release["delay_ms"] = json!(60_000);
    let r = post(
        &server,
        "/api/v1/queues/workers/ack",
        json!({"consumer": "w1", "acks": [{"partition": 0, "offset": 1, "delivery": release["delivery"],
               "action": "release", "delay_ms": 60000}]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);

    let page = get_json(&server, "/api/v1/topics/jobs/messages?group=workers").await;
    assert_eq!(
        states(&page),
        ["done", "retrying", "in_flight", "ready", "ready", "ready"]
    );
    let held = &page["messages"][2]["delivery"];
    assert_eq!(held["consumer"], "w1");
    assert_eq!(held["delivery"], 1);
    assert!(
        held["lease_deadline_ms"].as_i64().unwrap()
            > page["messages"][2]["timestamp_ms"].as_i64().unwrap()
    );
    let waiting = &page["messages"][1]["delivery"];
    assert_eq!(waiting["deliveries"], 1);
    // Newest first gives the same states in reverse.
    let page = get_json(
        &server,
        "/api/v1/topics/jobs/messages?group=workers&order=newest",
    )
    .await;
    assert_eq!(
        states(&page),
        ["ready", "ready", "ready", "in_flight", "retrying", "done"]
    );

    let r = request(
        &server,
        "GET",
        "/api/v1/topics/jobs/messages?group=nobody",
        None,
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);
    post(&server, "/api/v1/topics", json!({"name": "other"})).await;
    let r = request(
        &server,
        "GET",
        "/api/v1/topics/other/messages?group=workers",
        None,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("reads topic"), "{}", r.body);
}
