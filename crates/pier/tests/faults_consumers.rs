//! Consumer faults on simulated consumer groups, over HTTP: a killed
//! consumer's records go to the others, a crash between processing and
//! acknowledging makes records be processed twice, a slow consumer gets
//! less of the work, and poison records end in the dead-letter topic.

mod common;
use std::time::{Duration, Instant};

use common::{get_json, json, post, request, start};
use serde_json::json;

async fn setup(
    server: &pier::Server,
    topic: &str,
    group: &str,
    members: u32,
    count: u32,
) -> serde_json::Value {
    post(server, "/api/v1/topics", json!({"name": topic})).await;
    let r = post(
        server,
        &format!("/api/v1/topics/{topic}/messages"),
        json!({"value": "job-{{seq}}", "count": count}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let sim = post(
        server,
        "/api/v1/simulations/consumers",
        json!({"topic": topic, "group": group, "members": members, "processing_ms": 5, "lease_ms": 1000}),
    )
    .await;
    assert_eq!(sim.status, 201, "{}", sim.body);
    json(&sim)
}

async fn fault(server: &pier::Server, body: serde_json::Value) -> serde_json::Value {
    let r = post(server, "/api/v1/faults", body.clone()).await;
    assert_eq!(r.status, 201, "{body}: {}", r.body);
    json(&r)
}

/// Waits until the queue group has finished `count` records.
async fn finished(server: &pier::Server, group: &str, count: u64) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let q = get_json(server, &format!("/api/v1/queues/sim-{group}")).await;
        if q["accepted"].as_u64().unwrap() + q["dead_letter_depth"].as_u64().unwrap() >= count
            && q["in_flight"] == 0
            && q["waiting"] == 0
        {
            return q;
        }
        assert!(Instant::now() < deadline, "not finished: {q}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every record of `topic` with its delivery state in the queue group,
/// as (value, state) pairs, oldest first.
async fn states(server: &pier::Server, topic: &str, group: &str) -> Vec<(String, String)> {
    let page = get_json(
        server,
        &format!("/api/v1/topics/{topic}/messages?group=sim-{group}&limit=1000&order=oldest"),
    )
    .await;
    page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["value"].as_str().unwrap().to_owned(),
                m["delivery"]["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Records, not counts: each of `job-0..job-{count}` is in the topic once
/// and finished (accepted) in the group; none is missing, none doubled,
/// and nothing went to the dead-letter topic.
async fn every_record_done_once(server: &pier::Server, topic: &str, group: &str, count: u32) {
    let got = states(server, topic, group).await;
    let values: std::collections::BTreeMap<&str, usize> =
        got.iter().fold(Default::default(), |mut m, (v, _)| {
            *m.entry(v.as_str()).or_default() += 1;
            m
        });
    let expected: Vec<String> = (0..count).map(|i| format!("job-{i}")).collect();
    let missing: Vec<&String> = expected
        .iter()
        .filter(|v| !values.contains_key(v.as_str()))
        .collect();
    let doubled: Vec<&&str> = values
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(v, _)| v)
        .collect();
    assert!(
        missing.is_empty() && doubled.is_empty(),
        "missing {missing:?}, doubled {doubled:?}"
    );
    let stored: Vec<&str> = values.keys().copied().collect();
    let mut wanted: Vec<&str> = expected.iter().map(String::as_str).collect();
    wanted.sort_unstable();
    assert_eq!(stored, wanted, "the topic holds exactly job-0..job-{count}");
    let unfinished: Vec<&(String, String)> = got.iter().filter(|(_, st)| st != "done").collect();
    assert!(unfinished.is_empty(), "not finished: {unfinished:?}");
    let q = get_json(server, &format!("/api/v1/queues/sim-{group}")).await;
    assert_eq!(q["dead_letter_depth"], 0, "nothing dead-lettered: {q}");
}

async fn sim(server: &pier::Server, id: u64) -> serde_json::Value {
    let all = get_json(server, "/api/v1/simulations").await;
    all.as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_consumers_records_go_to_the_others() {
    let server = start().await;
    let s = setup(&server, "jobs", "w", 3, 300).await;
    fault(&server, json!({"kind": "kill_consumer", "member": "w-1"})).await;
    let q = finished(&server, "w", 300).await;
    every_record_done_once(&server, "jobs", "w", 300).await;
    let s = sim(&server, s["id"].as_u64().unwrap()).await;
    let members = s["members"].as_array().unwrap();
    assert_eq!(members[0]["crashed"], true, "{s}");
    let by_others: u64 = members[1..]
        .iter()
        .map(|m| m["processed"].as_u64().unwrap())
        .sum();
    assert_eq!(by_others + members[0]["processed"].as_u64().unwrap(), 300);
    assert!(
        q["redelivered"].as_u64().unwrap() >= 1,
        "what w-1 held came back: {q}"
    );
    // It is gone: another fault at it is refused.
    let r = post(
        &server,
        "/api/v1/faults",
        json!({"kind": "slow_consumer", "member": "w-1"}),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_before_acknowledging_means_processing_twice() {
    let server = start().await;
    let s = setup(&server, "jobs", "w", 2, 200).await;
    fault(
        &server,
        json!({"kind": "crash_before_ack", "member": "w-2"}),
    )
    .await;
    finished(&server, "w", 200).await;
    every_record_done_once(&server, "jobs", "w", 200).await;
    let s = sim(&server, s["id"].as_u64().unwrap()).await;
    assert_eq!(s["members"][1]["crashed"], true, "{s}");
    let twice = s["processed_twice"].as_u64().unwrap();
    assert!(
        twice >= 1,
        "records w-2 processed came back and were processed again: {s}"
    );
    let processed: u64 = s["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["processed"].as_u64().unwrap())
        .sum();
    assert_eq!(processed, 200 + twice, "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_consumer_gets_less_work_and_heals() {
    let server = start().await;
    let f = {
        post(&server, "/api/v1/topics", json!({"name": "jobs"})).await;
        let s = post(
            &server,
            "/api/v1/simulations/consumers",
            json!({"topic": "jobs", "group": "w", "members": 2, "processing_ms": 2}),
        )
        .await;
        assert_eq!(s.status, 201);
        fault(
            &server,
            json!({"kind": "slow_consumer", "member": "w-1", "params": {"delay_ms": 100}}),
        )
        .await
    };
    post(
        &server,
        "/api/v1/topics/jobs/messages",
        json!({"value": "x", "count": 300}),
    )
    .await;
    finished(&server, "w", 300).await;
    let all = get_json(&server, "/api/v1/simulations").await;
    let m = &all[0]["members"];
    let (slow, fast) = (
        m[0]["processed"].as_u64().unwrap(),
        m[1]["processed"].as_u64().unwrap(),
    );
    assert!(
        fast > 4 * slow,
        "the fast consumer did most of the work: {slow} vs {fast}"
    );
    let id = f["fault"]["id"].as_u64().unwrap();
    let r = request(&server, "DELETE", &format!("/api/v1/faults/{id}"), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn poison_records_are_retried_then_dead_lettered() {
    let server = start().await;
    post(&server, "/api/v1/topics", json!({"name": "jobs"})).await;
    fault(
        &server,
        json!({"kind": "poison_messages", "topic": "jobs", "params": {"every": 25}}),
    )
    .await;
    let s = post(
        &server,
        "/api/v1/simulations/consumers",
        json!({"topic": "jobs", "group": "w", "members": 2, "processing_ms": 1}),
    )
    .await;
    assert_eq!(s.status, 201);
    post(
        &server,
        "/api/v1/topics/jobs/messages",
        json!({"value": "job-{{seq}}", "count": 100}),
    )
    .await;
    let q = finished(&server, "w", 100).await;
    assert_eq!(q["dead_letter_depth"], 4, "offsets 0, 25, 50, 75: {q}");
    assert_eq!(q["accepted"], 96);
    let dlq = get_json(&server, "/api/v1/topics/jobs.dlq/messages").await;
    let values: Vec<&str> = dlq["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    let mut values = values;
    values.sort();
    assert_eq!(values, ["job-0", "job-25", "job-50", "job-75"]);
    for m in dlq["messages"].as_array().unwrap() {
        assert_eq!(m["headers"]["pier-dlq-deliveries"], "5", "{m}");
    }
}

#[tokio::test]
async fn consumer_faults_need_a_real_target() {
    let server = start().await;
    for (body, status) in [
        (json!({"kind": "kill_consumer"}), 400),
        (json!({"kind": "kill_consumer", "member": "ghost-1"}), 404),
        (json!({"kind": "poison_messages"}), 400),
        (json!({"kind": "poison_messages", "topic": "missing"}), 404),
        (json!({"kind": "latency", "member": "x"}), 400),
        (json!({"kind": "slow_fsync", "topic": "x"}), 400),
    ] {
        let r = post(&server, "/api/v1/faults", body.clone()).await;
        assert_eq!(r.status, status, "{body}: {}", r.body);
    }
    assert_eq!(
        get_json(&server, "/api/v1/faults/timeline").await,
        json!([])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simulated_clients_suffer_network_faults_too() {
    let server = start().await;
    post(&server, "/api/v1/topics", json!({"name": "net"})).await;
    let p = json(
        &post(
            &server,
            "/api/v1/simulations/producers",
            json!({"topic": "net", "rate": 200}),
        )
        .await,
    );
    let client_id = p["client_id"].as_str().unwrap().to_owned();
    assert_eq!(client_id, format!("sim-producer-{}", p["id"]));
    fault(
        &server,
        json!({"kind": "lose_produce_ack", "client_id": client_id, "params": {"every": 2}}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sent = sim(&server, p["id"].as_u64().unwrap()).await["sent"]
        .as_u64()
        .unwrap();
    let r = request(
        &server,
        "DELETE",
        &format!("/api/v1/simulations/{}", p["id"]),
        None,
    )
    .await;
    assert_eq!(r.status, 204);
    let stored = get_json(&server, "/api/v1/topics/net").await["records"]
        .as_u64()
        .unwrap();
    assert!(sent > 0);
    assert!(
        stored > sent,
        "lost acknowledgements make the producer send again: {stored} stored, {sent} acknowledged"
    );

    // A consumer whose connections are refused gets nothing; the other does it all.
    fault(
        &server,
        json!({"kind": "refuse_connections", "client_id": "w-1"}),
    )
    .await;
    let c = json(
        &post(
            &server,
            "/api/v1/simulations/consumers",
            json!({"topic": "net", "group": "w", "members": 2, "processing_ms": 0}),
        )
        .await,
    );
    finished(&server, "w", stored).await;
    let s = sim(&server, c["id"].as_u64().unwrap()).await;
    assert_eq!(s["members"][0]["processed"], 0, "{s}");
    assert_eq!(s["members"][1]["processed"].as_u64().unwrap(), stored);
}

/// The control: the record check fails when records are not finished.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_record_check_catches_unfinished_records() {
    let server = std::sync::Arc::new(start().await);
    post(&server, "/api/v1/topics", json!({"name": "idle"})).await;
    let r = post(
        &server,
        "/api/v1/topics/idle/messages",
        json!({"value": "job-{{seq}}", "count": 5}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = request(
        &server,
        "PUT",
        "/api/v1/queues/sim-idle",
        Some(r#"{"topic":"idle"}"#),
    )
    .await;
    assert!(r.status < 300, "{}", r.body);
    let states = states(&server, "idle", "idle").await;
    assert!(states.iter().all(|(_, s)| s == "ready"), "{states:?}");
    let checked = tokio::spawn({
        let server = server.clone();
        async move { every_record_done_once(&server, "idle", "idle", 5).await }
    })
    .await;
    assert!(checked.is_err(), "five ready records must fail the check");
}
