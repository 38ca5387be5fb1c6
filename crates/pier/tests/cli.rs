//! The CLI as a user runs it: `pier serve` in one process, `pier topic`,
//! `produce`, `consume`, `groups` and `stats` in others, over HTTP.

mod common;

use std::process::{Command, Output, Stdio};

struct Serve {
    _process: common::ServeProcess,
    http: String,
}

fn serve() -> Serve {
    let process = common::ServeProcess::spawn(&[
        "--in-memory",
        "--kafka",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
    ]);
    let http = process.addr("http");
    Serve {
        _process: process,
        http,
    }
}

fn pier(s: &Serve, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pier"))
        .args(args)
        .env("PIER_HTTP", &s.http)
        .output()
        .unwrap()
}

fn ok(s: &Serve, args: &[&str]) -> String {
    let out = pier(s, args);
    assert!(
        out.status.success(),
        "pier {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn fails(s: &Serve, args: &[&str]) -> String {
    let out = pier(s, args);
    assert!(!out.status.success(), "pier {args:?} should fail");
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn topics_produce_consume_groups_and_stats() {
    let s = serve();
    assert!(ok(&s, &["topic", "list"]).contains("no topics yet"));
    assert_eq!(
        ok(
            &s,
            &[
                "topic",
                "create",
                "orders",
                "--partitions",
                "2",
                "--config",
                "retention.ms=60000"
            ]
        ),
        "created topic orders with 2 partitions\n"
    );
    let topics: serde_json::Value =
        serde_json::from_str(&ok(&s, &["topic", "list", "--json"])).unwrap();
    assert_eq!(topics[0]["config"]["retention.ms"], "60000");

    let out = ok(
        &s,
        &[
            "produce",
            "orders",
            "--key",
            "k{{seq}}",
            "--value",
            "order {{seq}}",
            "--count",
            "120000",
        ],
    );
    assert!(
        out.starts_with("produced 120000 messages to orders"),
        "{out}"
    );
    let topic: serde_json::Value =
        serde_json::from_str(&ok(&s, &["topic", "describe", "orders", "--json"])).unwrap();
    assert_eq!(
        topic["records"], 120000,
        "sent in several requests, none lost"
    );

    // Sequence numbers continue across the CLI's requests: every key once.
    let lines = ok(&s, &["consume", "orders", "--json"]);
    let mut keys: Vec<String> = lines
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["key"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(keys.len(), 120000);
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 120000);

    // Standard input, one message per line.
    let mut child = Command::new(env!("CARGO_BIN_EXE_pier"))
        .args(["produce", "orders", "--partition", "1"])
        .env("PIER_HTTP", &s.http)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"first\nsecond\n")
        .unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    let tail = ok(
        &s,
        &["consume", "orders", "--partition", "1", "--from", "latest"],
    );
    assert_eq!(tail, "", "latest starts at the end");

    // A group consumes part, commits, and resumes where it stopped.
    let first = ok(
        &s,
        &[
            "consume",
            "orders",
            "--group",
            "billing",
            "--partition",
            "1",
            "--count",
            "5",
        ],
    );
    assert_eq!(first.lines().count(), 5);
    assert!(first.starts_with("1/0\t"), "{first}");
    let next = ok(
        &s,
        &[
            "consume",
            "orders",
            "--group",
            "billing",
            "--partition",
            "1",
            "--count",
            "1",
        ],
    );
    assert!(next.starts_with("1/5\t"), "{next}");
    let groups = ok(&s, &["groups"]);
    assert!(
        groups.contains("billing") && groups.contains("Empty"),
        "{groups}"
    );
    let g: serde_json::Value =
        serde_json::from_str(&ok(&s, &["groups", "billing", "--json"])).unwrap();
    assert_eq!(g["lag"][0]["committed_offset"], 6);
    let hw = topic["partitions"][1]["high_watermark"].as_u64().unwrap() + 2;
    assert_eq!(g["total_lag"], hw - 6);

    std::thread::sleep(std::time::Duration::from_millis(1100));
    let stats: serde_json::Value =
        serde_json::from_str(ok(&s, &["stats", "--json"]).trim()).unwrap();
    assert_eq!(stats["total_lag"], hw - 6);
    assert!(ok(&s, &["stats"]).starts_with("produce "));

    // Errors are one clear line and change nothing.
    assert!(fails(&s, &["topic", "create", "bad name"]).contains("invalid topic name"));
    assert!(
        fails(&s, &["produce", "orders", "--value", "{{nope}}"])
            .contains("unknown placeholder {{nope}}")
    );
    assert!(
        fails(&s, &["produce", "orders", "--value", "x", "--rate", "0"]).contains("rate must be")
    );
    assert!(fails(&s, &["consume", "missing"]).contains("unknown topic"));
    assert!(fails(&s, &["consume", "orders", "--from", "yesterday"]).contains("--from wants"));
    let topic: serde_json::Value =
        serde_json::from_str(&ok(&s, &["topic", "describe", "orders", "--json"])).unwrap();
    assert_eq!(topic["records"], 120002);

    // Settings change; a bad change is refused whole.
    let altered = ok(
        &s,
        &[
            "topic",
            "alter",
            "orders",
            "-c",
            "retention.ms=",
            "-c",
            "dedup.window.ms=5000",
            "-p",
            "3",
        ],
    );
    assert!(altered.contains("now has 3 partition(s)"), "{altered}");
    assert!(
        altered.contains("config    retention.ms=604800000"),
        "{altered}"
    );
    assert!(
        altered.contains("config    dedup.window.ms=5000"),
        "{altered}"
    );
    assert!(
        fails(
            &s,
            &[
                "topic",
                "alter",
                "orders",
                "-c",
                "dedup.window.ms=1",
                "-p",
                "2"
            ]
        )
        .contains("partitions can only grow")
    );
    assert!(fails(&s, &["topic", "alter", "orders"]).contains("nothing to change"));
    let topic: serde_json::Value =
        serde_json::from_str(&ok(&s, &["topic", "describe", "orders", "--json"])).unwrap();
    assert_eq!(topic["config"]["dedup.window.ms"], "5000");
    assert_eq!(
        ok(&s, &["topic", "delete", "orders"]),
        "deleted topic orders\n"
    );
    assert!(fails(&s, &["topic", "describe", "orders"]).contains("unknown topic"));
}

#[test]
fn a_missing_server_is_explained() {
    let out = Command::new(env!("CARGO_BIN_EXE_pier"))
        .args(["topic", "list", "--server", "127.0.0.1:1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("cannot reach Pier at http://127.0.0.1:1"),
        "{err}"
    );
}

#[test]
fn faults_from_the_command_line() {
    let s = serve();
    assert!(ok(&s, &["fault", "kinds"]).contains("-p delay_ms=N"));
    assert!(ok(&s, &["fault", "list"]).contains("no active faults"));
    ok(&s, &["topic", "create", "orders"]);
    ok(
        &s,
        &[
            "produce",
            "orders",
            "--value",
            "o-{{seq}}",
            "--count",
            "100",
        ],
    );
    let started = ok(
        &s,
        &[
            "fault",
            "start",
            "slow_fsync",
            "-p",
            "delay_ms=20",
            "--for",
            "10m",
        ],
    );
    assert!(started.starts_with("started 1  slow_fsync"), "{started}");
    assert!(ok(&s, &["fault", "list"]).contains("delay_ms=20"));
    let crash = ok(&s, &["fault", "start", "broker_crash"]);
    assert!(crash.contains("broker back in"), "{crash}");
    assert!(crash.contains("1 topic, 100 records"), "{crash}");
    assert!(
        ok(&s, &["fault", "list"]).contains("no active faults"),
        "the restart cleared it"
    );
    let timeline = ok(&s, &["fault", "timeline"]);
    assert_eq!(timeline.lines().count(), 4, "{timeline}");
    assert!(
        timeline.contains("cleared by the broker restart"),
        "{timeline}"
    );
    assert!(ok(&s, &["durability", "off"]).starts_with("fsync off"));
    assert!(ok(&s, &["durability"]).starts_with("fsync off"));
    assert!(ok(&s, &["durability", "on"]).starts_with("fsync on"));
    // Mistakes are one clear line and change nothing.
    assert!(fails(&s, &["fault", "start", "meteor"]).contains("unknown fault kind \"meteor\""));
    assert!(
        fails(&s, &["fault", "start", "latency", "-p", "latency_ms=-1"]).contains("not a whole")
    );
    assert!(fails(&s, &["fault", "start", "latency", "--for", "soon"]).contains("--for wants"));
    assert!(fails(&s, &["fault", "heal", "42"]).contains("no active fault 42"));
    assert_eq!(ok(&s, &["fault", "timeline"]), timeline);
}
