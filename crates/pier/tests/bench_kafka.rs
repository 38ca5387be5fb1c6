//! `pier bench kafka` against a real `pier serve`: every case reports the
//! records it moved, and the consumers read back exactly what the
//! producers wrote, across partitions and connections.

mod common;

use std::process::Command;

use common::ServeProcess;

/// `pier serve --in-memory` and its Kafka address.
fn serve() -> (ServeProcess, String) {
    let serve = ServeProcess::spawn(&["--in-memory", "--kafka", "127.0.0.1:0", "--no-http"]);
    let kafka = serve.addr("kafka");
    (serve, kafka)
}

fn bench(kafka: &str, args: &[&str]) -> Vec<serde_json::Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_pier"))
        .args(["bench", "kafka", "--bootstrap", kafka, "--json"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pier bench kafka {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn records(case: &serde_json::Value) -> u64 {
    case["records"].as_u64().unwrap()
}

#[test]
fn every_case_moves_the_records_it_reports() {
    let (_serve, kafka) = serve();
    let cases = bench(
        &kafka,
        &[
            "--topic",
            "b1",
            "--records",
            "300",
            "--record-bytes",
            "100",
            "--rate",
            "2000",
            "--seconds",
            "20",
        ],
    );
    let names: Vec<&str> = cases.iter().map(|c| c["case"].as_str().unwrap()).collect();
    assert_eq!(names, ["sequential", "pipelined", "consume", "e2e"]);
    assert_eq!(records(&cases[0]), 300);
    assert_eq!(records(&cases[1]), 300);
    assert_eq!(records(&cases[2]), 600, "consume reads both produce cases");
    assert_eq!(records(&cases[3]), 300);
    for c in &cases {
        assert!(c["records_per_sec"].as_f64().unwrap() > 0.0, "{c}");
        assert!(c["p50_ms"].as_f64().unwrap() > 0.0, "{c}");
        assert!(c["p99_ms"].as_f64().unwrap() >= c["p50_ms"].as_f64().unwrap());
    }
    assert!(cases[3]["ack_p99_ms"].as_f64().unwrap() > 0.0);
}

#[test]
fn producers_and_consumers_share_partitions_and_batches() {
    let (_serve, kafka) = serve();
    let common = [
        "--topic",
        "b4",
        "--partitions",
        "4",
        "--producers",
        "3",
        "--consumers",
        "2",
        "--batch-records",
        "5",
        "--record-bytes",
        "64",
        "--seconds",
        "20",
    ];
    let produced = bench(
        &kafka,
        &[&common[..], &["--case", "pipelined", "--records", "1003"]].concat(),
    );
    assert_eq!(
        records(&produced[0]),
        1003,
        "the last batch carries the rest"
    );
    assert_eq!(produced[0]["producers"], 3);
    assert_eq!(produced[0]["partitions"], 4);
    let consumed = bench(
        &kafka,
        &[&common[..], &["--case", "consume,e2e", "--records", "200"]].concat(),
    );
    assert_eq!(
        records(&consumed[0]),
        1003,
        "two consumers read all four partitions"
    );
    assert_eq!(consumed[0]["consumers"], 2);
    assert_eq!(records(&consumed[1]), 200);
    // More consumers than partitions is refused, with the reason.
    let out = Command::new(env!("CARGO_BIN_EXE_pier"))
        .args(["bench", "kafka", "--bootstrap", &kafka, "--topic", "b4"])
        .args(["--consumers", "5", "--case", "consume"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("needs at least as many partitions"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
