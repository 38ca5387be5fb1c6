//! Labs over HTTP (what the Labs screen uses): list, start, follow the
//! narrative, read the report; bad lab files are a problem with the line;
//! a lab that would start programs is refused; one lab at a time.

mod common;

use std::time::Duration;

use common::{get_json, json, post, request};
use serde_json::json;

async fn wait_for_end(server: &pier::Server, id: u64) -> serde_json::Value {
    for _ in 0..300 {
        let run = get_json(server, &format!("/api/v1/labs/runs/{id}")).await;
        if run["state"] != "running" {
            return run;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("lab run {id} did not end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_built_in_lab_runs_to_its_report_over_http() {
    let server = common::start().await;
    let labs = get_json(&server, "/api/v1/labs").await;
    let names: Vec<&str> = labs
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "persistence",
            "idempotence",
            "ordering",
            "commit",
            "dedup",
            "timeouts",
            "backpressure",
            "deadletters",
            "balancing",
            "monitoring"
        ]
    );
    assert!(labs[1]["file"].as_str().unwrap().contains("[[variant]]"));

    let started = post(&server, "/api/v1/labs/runs", json!({"name": "idempotence"})).await;
    assert_eq!(started.status, 202, "{}", started.body);
    let id = json(&started)["id"].as_u64().unwrap();
    // One at a time.
    let again = post(&server, "/api/v1/labs/runs", json!({"name": "commit"})).await;
    assert_eq!(again.status, 409, "{}", again.body);

    let run = wait_for_end(&server, id).await;
    assert_eq!(run["state"], "passed", "{run:#}");
    let variants = run["report"]["variants"].as_array().unwrap();
    assert!(variants[0]["counts"]["stored_twice"].as_u64().unwrap() > 0);
    assert_eq!(variants[1]["counts"]["stored_twice"], 0);
    // The narrative came step by step, with the variant it belongs to.
    let lines: Vec<&str> = run["narrative"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["text"].as_str().unwrap())
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("every third produce answer is lost")),
        "{lines:?}"
    );
    assert_eq!(run["narrative"][0]["variant"], "without idempotence");
    let listed = get_json(&server, "/api/v1/labs/runs").await;
    assert_eq!(listed[0]["id"], id);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_labs_are_refused_before_anything_runs() {
    let server = common::start().await;
    let file = "name = \"x\"\ntitle = \"x\"\nconcept = \"x\"\n[[topic]]\nname = \"t\"\n\
                [[variant]]\nname = \"v\"\n[[variant.step]]\nat_ms = -1\n";
    let r = post(&server, "/api/v1/labs/runs", json!({"file": file})).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let detail = json(&r)["detail"].as_str().unwrap().to_owned();
    assert!(
        detail.starts_with("lab.toml:9:9: at_ms must not be negative"),
        "{detail}"
    );

    let app = "name = \"x\"\ntitle = \"x\"\nconcept = \"x\"\n[[topic]]\nname = \"t\"\n\
               [[variant]]\nname = \"v\"\n[[variant.app]]\nname = \"a\"\ncommand = [\"sh\"]\n\
               group = \"g\"\ntopic = \"t\"\nprocessed_topic = \"t\"\n";
    let r = post(&server, "/api/v1/labs/runs", json!({"file": app})).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("pier lab run FILE"), "{}", r.body);

    for (body, status) in [
        (json!({"name": "nope"}), 404),
        (json!({}), 400),
        (json!({"name": "commit", "file": "x"}), 400),
        (json!({"nam": "commit"}), 400),
        (json!({"name": "commit", "slow": 0}), 400),
        (json!({"name": "commit", "slow": 11}), 400),
        (json!({"name": "commit", "slow": -1}), 400),
    ] {
        let r = post(&server, "/api/v1/labs/runs", body.clone()).await;
        assert_eq!(r.status, status, "{body}: {}", r.body);
    }
    assert!(
        get_json(&server, "/api/v1/labs/runs")
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
    let r = request(&server, "GET", "/api/v1/labs/runs/x", None).await;
    assert_eq!(r.status, 400);
    let r = request(&server, "GET", "/api/v1/labs/runs/7", None).await;
    assert_eq!(r.status, 404);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_lab_can_be_stopped() {
    let server = common::start().await;
    let started = post(&server, "/api/v1/labs/runs", json!({"name": "commit"})).await;
    let id = json(&started)["id"].as_u64().unwrap();
    let r = request(
        &server,
        "POST",
        &format!("/api/v1/labs/runs/{id}/stop"),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(json(&r)["state"], "stopped");
    // Another may start now — but not one that needs the page-cache
    // model this broker does not have.
    let next = post(&server, "/api/v1/labs/runs", json!({"name": "persistence"})).await;
    assert_eq!(next.status, 409, "{}", next.body);
    assert!(next.body.contains("--page-cache-model"), "{}", next.body);
    let next = post(&server, "/api/v1/labs/runs", json!({"name": "idempotence"})).await;
    assert_eq!(next.status, 202, "{}", next.body);
    let r = request(
        &server,
        "POST",
        &format!("/api/v1/labs/runs/{id}/stop"),
        None,
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.body);
    server.shutdown().await;
}
