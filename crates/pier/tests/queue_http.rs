//! Queue groups end to end over real HTTP: consumers share the work, a
//! silent consumer's records go to the others, a poison record is
//! dead-lettered after exactly max_deliveries, bad acknowledgements are
//! refused without changing anything.

mod common;
use std::collections::{BTreeMap, BTreeSet};

use common::{ack, json, post, receive, request, start};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_consumers_share_ten_thousand_records() {
    let server = start().await;
    post(
        &server,
        "/api/v1/topics",
        json!({"name": "jobs", "partitions": 4}),
    )
    .await;
    let produced = post(
        &server,
        "/api/v1/topics/jobs/messages",
        json!({"key": "job-{{seq}}", "value": "work {{seq}}", "count": 10000}),
    )
    .await;
    assert_eq!(produced.status, 201);
    let made = request(
        &server,
        "PUT",
        "/api/v1/queues/workers",
        Some(r#"{"topic":"jobs"}"#),
    )
    .await;
    assert_eq!(made.status, 200, "{}", made.body);

    let server = std::sync::Arc::new(server);
    let mut tasks = Vec::new();
    for c in 0..4 {
        let server = server.clone();
        tasks.push(tokio::spawn(async move {
            let name = format!("worker-{c}");
            let mut done = Vec::new();
            loop {
                let got = receive(&server, "workers", &name, 25, json!({"wait_ms": 300})).await;
                if got.is_empty() {
                    let q = json(&request(&server, "GET", "/api/v1/queues/workers", None).await);
                    if q["accepted"] == 10000 {
                        return (name, done);
                    }
                    continue;
                }
                let answer = ack(&server, "workers", &name, &got, "accept").await;
                assert_eq!(answer["failed"], 0, "{answer}");
                done.extend(got.iter().map(|r| {
                    (
                        r["message"]["partition"].as_u64().unwrap(),
                        r["message"]["offset"].as_u64().unwrap(),
                    )
                }));
            }
        }));
    }
    let mut all = BTreeSet::new();
    for t in tasks {
        let (name, done) = t.await.unwrap();
        assert!(
            (1000..=4000).contains(&done.len()),
            "{name} did {} of 10000",
            done.len()
        );
        for d in done {
            assert!(all.insert(d), "{d:?} accepted twice");
        }
    }
    assert_eq!(all.len(), 10000);
    let q = json(&request(&server, "GET", "/api/v1/queues/workers", None).await);
    assert_eq!(q["redelivered"], 0, "{q}");
    assert_eq!(q["backlog"], 0);
    assert_eq!(q["in_flight"], 0);
}

#[tokio::test]
async fn a_silent_consumers_records_go_to_the_others_and_poison_is_dead_lettered() {
    let server = start().await;
    post(&server, "/api/v1/topics", json!({"name": "orders"})).await;
    post(
        &server,
        "/api/v1/topics/orders/messages",
        json!({"value": "order {{seq}}", "count": 30}),
    )
    .await;
    let q = request(
        &server,
        "PUT",
        "/api/v1/queues/billing",
        Some(r#"{"topic":"orders","max_deliveries":3,"backoff_base_ms":20,"backoff_max_ms":50}"#),
    )
    .await;
    assert_eq!(q.status, 200, "{}", q.body);

    // "doomed" takes ten records on a short lease and is never heard of again.
    let doomed = receive(&server, "billing", "doomed", 10, json!({"lease_ms": 300})).await;
    assert_eq!(doomed.len(), 10);
    let leases = json(&request(&server, "GET", "/api/v1/queues/billing/leases", None).await);
    assert_eq!(leases.as_array().unwrap().len(), 10);
    assert!(
        leases
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["consumer"] == "doomed")
    );

    // "survivor" takes the rest, then gets doomed's ten as second deliveries.
    let mut seen: BTreeMap<u64, u32> = BTreeMap::new();
    let started = std::time::Instant::now();
    while seen.len() < 30 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "stuck at {seen:?}"
        );
        let got = receive(&server, "billing", "survivor", 50, json!({"wait_ms": 500})).await;
        for r in &got {
            seen.insert(
                r["message"]["offset"].as_u64().unwrap(),
                r["delivery"].as_u64().unwrap() as u32,
            );
        }
        ack(&server, "billing", "survivor", &got, "accept").await;
    }
    for r in &doomed {
        let o = r["message"]["offset"].as_u64().unwrap();
        assert_eq!(
            seen[&o], 2,
            "offset {o} redelivered after the lease expired"
        );
    }
    // Doomed's late ack is refused and changes nothing.
    let late = ack(&server, "billing", "doomed", &doomed[..1], "accept").await;
    assert_eq!(late["failed"], 1);
    assert!(
        late["results"][0]["error"]
            .as_str()
            .unwrap()
            .contains("not leased"),
        "{late}"
    );

    // A poison record: released on every delivery, dead-lettered after exactly three.
    post(
        &server,
        "/api/v1/topics/orders/messages",
        json!({"key": "poison", "value": "bad", "headers": {"trace": "t-1"}}),
    )
    .await;
    let mut deliveries = Vec::new();
    let started = std::time::Instant::now();
    loop {
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        let got = receive(&server, "billing", "survivor", 10, json!({"wait_ms": 200})).await;
        for r in &got {
            deliveries.push(r["delivery"].as_u64().unwrap());
        }
        ack(&server, "billing", "survivor", &got, "release").await;
        let q = json(&request(&server, "GET", "/api/v1/queues/billing", None).await);
        // The copy is written first, then the record is marked finished.
        if q["dead_letter_depth"] == 1 && q["dead_lettered"] == 1 {
            break;
        }
    }
    assert_eq!(deliveries, [1, 2, 3], "exactly max_deliveries attempts");
    let dlq = json(&request(&server, "GET", "/api/v1/topics/orders.dlq/messages", None).await);
    let m = &dlq["messages"][0];
    assert_eq!(m["key"], "poison");
    assert_eq!(m["value"], "bad");
    assert_eq!(m["headers"]["trace"], "t-1", "original headers kept");
    assert_eq!(m["headers"]["pier-dlq-topic"], "orders");
    assert_eq!(m["headers"]["pier-dlq-offset"], "30");
    assert_eq!(m["headers"]["pier-dlq-deliveries"], "3");
    assert_eq!(m["headers"]["pier-dlq-group"], "billing");
    assert!(
        m["headers"]["pier-dlq-reason"]
            .as_str()
            .unwrap()
            .contains("max.deliveries = 3")
    );

    // Replay puts it back on the topic, without the dead-letter headers.
    let replayed = json(&post(&server, "/api/v1/queues/billing/replay", json!({})).await);
    assert_eq!(replayed["replayed"], 1);
    let back = receive(&server, "billing", "survivor", 10, json!({"wait_ms": 1000})).await;
    assert_eq!(back.len(), 1);
    assert_eq!(back[0]["message"]["value"], "bad");
    assert_eq!(back[0]["delivery"], 1, "a new record");
    assert!(
        back[0]["message"]["headers"]
            .get("pier-dlq-offset")
            .is_none()
    );
    assert_eq!(back[0]["message"]["headers"]["trace"], "t-1");
    // Reject dead-letters at once.
    ack(&server, "billing", "survivor", &back, "reject").await;
    let started = std::time::Instant::now();
    while json(&request(&server, "GET", "/api/v1/queues/billing", None).await)["dead_letter_depth"]
        != 2
    {
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn bad_acknowledgements_are_refused_and_change_nothing() {
    let server = start().await;
    post(&server, "/api/v1/topics", json!({"name": "t"})).await;
    post(
        &server,
        "/api/v1/topics/t/messages",
        json!({"value": "v", "count": 5}),
    )
    .await;
    // Unknown group without a topic; then created by the first receive.
    let r = post(
        &server,
        "/api/v1/queues/g/receive",
        json!({"consumer": "c"}),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let got = receive(&server, "g", "c", 2, json!({"topic": "t"})).await;
    assert_eq!(got.len(), 2);
    let before = json(&request(&server, "GET", "/api/v1/queues/g", None).await);

    for (body, status) in [
        (json!({"consumer": "c", "lease_ms": 0}), 400),
        (json!({"consumer": "c", "lease_ms": 3_600_001}), 400),
        (json!({"consumer": "c", "max_records": 0}), 400),
        (json!({"consumer": "c", "wait_ms": 10_001}), 400),
        (json!({"consumer": ""}), 400),
        (json!({"consumer": "c", "topic": "other"}), 409),
    ] {
        let r = post(&server, "/api/v1/queues/g/receive", body.clone()).await;
        assert_eq!(r.status, status, "{body}: {}", r.body);
        assert_eq!(r.content_type, "application/problem+json");
    }
    let unknown = json!({"consumer": "c", "acks": [
        {"partition": 0, "offset": 4, "action": "accept"},
        {"partition": 7, "offset": 0, "action": "accept"},
        {"partition": 0, "offset": 0, "delivery": 9, "action": "accept"},
        {"partition": 0, "offset": 0, "action": "extend", "lease_ms": 0},
        {"partition": 0, "offset": 0, "action": "release", "delay_ms": 4_000_000},
    ]});
    let answer = json(&post(&server, "/api/v1/queues/g/ack", unknown).await);
    assert_eq!(answer["failed"], 5, "{answer}");
    let errors: Vec<&str> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["error"].as_str().unwrap())
        .collect();
    assert!(errors[0].contains("not leased"), "{errors:?}");
    assert!(errors[1].contains("partition 7"), "{errors:?}");
    assert!(errors[2].contains("stale"), "{errors:?}");
    assert!(errors[3].contains("lease of 0 ms"), "{errors:?}");
    assert!(errors[4].contains("delay of 4000000 ms"), "{errors:?}");
    // Another consumer cannot ack c's record.
    let theirs = ack(&server, "g", "intruder", &got[..1], "accept").await;
    assert!(
        theirs["results"][0]["error"]
            .as_str()
            .unwrap()
            .contains("another consumer")
    );
    assert_eq!(
        json(&request(&server, "GET", "/api/v1/queues/g", None).await),
        {
            let mut b = before.clone();
            // Refused requests still note who was seen.
            b["consumers"] =
                json(&request(&server, "GET", "/api/v1/queues/g", None).await)["consumers"].clone();
            b
        },
        "state unchanged"
    );
    // Double ack: the first works, the second is refused.
    assert_eq!(
        ack(&server, "g", "c", &got[..1], "accept").await["failed"],
        0
    );
    assert_eq!(
        ack(&server, "g", "c", &got[..1], "accept").await["failed"],
        1
    );
    for (method, path, body, status) in [
        (
            "POST",
            "/api/v1/queues/nope/ack",
            r#"{"consumer":"c","acks":[{"partition":0,"offset":0,"action":"accept"}]}"#,
            404,
        ),
        (
            "POST",
            "/api/v1/queues/g/ack",
            r#"{"consumer":"c","acks":[]}"#,
            400,
        ),
        (
            "POST",
            "/api/v1/queues/g/ack",
            r#"{"consumer":"c","acks":[{"partition":0,"offset":1,"action":"explode"}]}"#,
            400,
        ),
        ("PUT", "/api/v1/queues/g", r#"{"topic":"elsewhere"}"#, 404),
        ("PUT", "/api/v1/queues/h", r#"{}"#, 400),
        (
            "PUT",
            "/api/v1/queues/h",
            r#"{"topic":"t","max_deliveries":0}"#,
            400,
        ),
        (
            "PUT",
            "/api/v1/queues/h",
            r#"{"topic":"t","dead_letter_topic":"t"}"#,
            400,
        ),
        ("GET", "/api/v1/queues/nope", "", 404),
        ("DELETE", "/api/v1/queues/g/consumers/ghost", "", 404),
    ] {
        let r = request(&server, method, path, Some(body)).await;
        assert_eq!(r.status, status, "{method} {path} {body}: {}", r.body);
    }
    post(&server, "/api/v1/topics", json!({"name": "elsewhere"})).await;
    let r = request(
        &server,
        "PUT",
        "/api/v1/queues/g",
        Some(r#"{"topic":"elsewhere"}"#),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.body);
    // Leaving hands the remaining record back.
    let left = json(&request(&server, "DELETE", "/api/v1/queues/g/consumers/c", None).await);
    assert_eq!(left["released"], 1);
}

#[tokio::test]
async fn duplicates_are_dropped_and_counted() {
    let server = start().await;
    let made = post(
        &server,
        "/api/v1/topics",
        json!({"name": "payments", "partitions": 2, "config": {"dedup.window.ms": "60000"}}),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.body);
    assert_eq!(json(&made)["config"]["dedup.window.ms"], "60000");
    for _ in 0..3 {
        let r = post(
            &server,
            "/api/v1/topics/payments/messages",
            json!({"value": "pay 10", "headers": {"pier-dedup-id": "payment-1"}}),
        )
        .await;
        assert_eq!(r.status, 201);
        assert_eq!(
            json(&r)["offsets"][0]["first"],
            0,
            "the original offset each time"
        );
    }
    // Ten messages with five distinct ids: five stored.
    post(
        &server,
        "/api/v1/topics/payments/messages",
        json!({"value": "v", "headers": {"pier-dedup-id": "id-{{seq}}"}, "count": 5, "partition": 1}),
    )
    .await;
    post(
        &server,
        "/api/v1/topics/payments/messages",
        json!({"value": "v", "headers": {"pier-dedup-id": "id-{{seq}}"}, "count": 5, "partition": 1}),
    )
    .await;
    let topic = json(&request(&server, "GET", "/api/v1/topics/payments", None).await);
    assert_eq!(topic["records"], 6);
    let metrics = request(&server, "GET", "/metrics", None).await.body;
    assert!(metrics.contains("pier_dedup_hits_total 7"), "{metrics}");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let stats = json(&request(&server, "GET", "/api/v1/stats?last=1", None).await);
    assert_eq!(stats[0]["dedup_hits_total"], 7);
}
