//! Bad lab files are refused before anything runs, with the file, line,
//! column and reason; the built-in labs are valid.

use super::model::{Condition, Op, parse};

const GOOD: &str = r#"
name = "mine"
title = "A lab"
concept = "testing"

[[topic]]
name = "t"

[[variant]]
name = "only"

[[variant.producer]]
name = "p"
topic = "t"
records = 10

[[variant.step]]
at_ms = 100
fault = { kind = "power_loss" }

[variant.expect]
lost_after_ack = "= 0"
"#;

fn error_of(text: &str) -> super::model::LabError {
    parse("lab.toml", text).expect_err("must be refused")
}

#[test]
fn a_good_file_parses_and_every_built_in_lab_is_valid() {
    let lab = parse("lab.toml", GOOD).unwrap();
    assert_eq!(lab.name.get_ref(), "mine");
    assert_eq!(lab.variants[0].producers[0].records.get_ref(), &10);
    let names: Vec<String> = super::built_in()
        .iter()
        .map(|l| l.name.get_ref().clone())
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
}

#[test]
fn an_unknown_key_names_its_line() {
    let text = GOOD.replace("records = 10", "records = 10\nrecord_size = 100");
    let e = error_of(&text);
    assert_eq!((e.file.as_str(), e.line), ("lab.toml", 16), "{e}");
    assert!(e.reason.contains("unknown field `record_size`"), "{e}");
}

#[test]
fn a_fault_kind_that_does_not_exist_names_its_line() {
    let e = error_of(&GOOD.replace("power_loss", "meteor_strike"));
    assert_eq!((e.line, e.column), (19, 18), "{e}");
    assert!(e.reason.contains("no fault kind \"meteor_strike\""), "{e}");
    assert!(e.reason.contains("power_loss"), "the kinds are listed: {e}");
}

#[test]
fn an_expectation_on_an_unknown_verdict_names_its_line() {
    let e = error_of(&GOOD.replace("lost_after_ack = ", "lost_forever = "));
    assert_eq!(e.line, 22, "{e}");
    assert!(e.reason.contains("no verdict \"lost_forever\""), "{e}");
    let e = error_of(&GOOD.replace("\"= 0\"", "\"about none\""));
    assert_eq!(e.line, 22, "{e}");
    assert!(e.reason.contains("not a condition"), "{e}");
}

#[test]
fn a_negative_time_names_its_line_and_column() {
    let e = error_of(&GOOD.replace("at_ms = 100", "at_ms = -5"));
    assert_eq!((e.line, e.column), (18, 9), "{e}");
    assert!(e.reason.contains("must not be negative"), "{e}");
    assert_eq!(e.to_string(), format!("lab.toml:18:9: {}", e.reason));
}

#[test]
fn other_mistakes_are_refused_too() {
    for (from, to, says) in [
        ("topic = \"t\"", "topic = \"nope\"", "not one of the lab's"),
        ("records = 10", "records = 0", "records must be"),
        ("name = \"p\"", "name = \"p\"\nacks = \"2\"", "acks must be"),
        (
            "kind = \"power_loss\"",
            "kind = \"latency\", client = \"q\"",
            "no client \"q\"",
        ),
        (
            "kind = \"power_loss\"",
            "kind = \"kill_consumer\"",
            "crash_after",
        ),
        (
            "kind = \"power_loss\"",
            "kind = \"latency\", params = { ms = 999999999 }",
            "ms",
        ),
        (
            "[[variant]]\nname = \"only\"",
            "[[variant]]\nname = \"only\"\ntimeout_ms = 50",
            "timeout_ms",
        ),
    ] {
        let text = GOOD.replace(from, to);
        assert_ne!(text, GOOD, "{from}");
        let e = error_of(&text);
        assert!(e.reason.contains(says), "{from} → {e}");
    }
}

#[test]
fn consumers_and_alerts_are_checked_too() {
    let with = |consumer: &str, alert: &str| {
        GOOD.replace(
            "[[variant.step]]",
            &format!(
                "[[variant.consumer]]\nname = \"c\"\ntopic = \"t\"\ngroup = \"g\"\n{consumer}\n\n{alert}\n\n[[variant.step]]"
            ),
        )
    };
    let alert = "[[variant.alert]]\nname = \"lag\"\nlag_records = 100";
    let good = with(
        "kind = \"group\"\ncommit = \"after_processing\"\nstart_on_alert = \"lag\"",
        alert,
    );
    parse("lab.toml", &good).unwrap();
    for (text, says) in [
        (
            with(
                "kind = \"group\"\ncommit = \"after_processing\"\nstart_on_alert = \"nope\"",
                alert,
            ),
            "no [[variant.alert]] \"nope\"",
        ),
        (
            with(
                "commit = \"after_processing\"\nsession_timeout_ms = 6000",
                "",
            ),
            "session_timeout_ms is for kind = \"group\"",
        ),
        (
            with(
                "kind = \"group\"\ncommit = \"after_processing\"\nsession_timeout_ms = 1000",
                "",
            ),
            "session_timeout_ms must be 6000..=",
        ),
        (with("kind = \"group\"", ""), "needs commit"),
        (
            with(
                "commit = \"after_processing\"",
                "[[variant.alert]]\nname = \"lag\"\nlag_records = -1",
            ),
            "lag_records must be",
        ),
        (
            with("commit = \"after_processing\"", "")
                .replace("fault = { kind = \"power_loss\" }", "fix = \"c\""),
            "no queue or share consumer \"c\"",
        ),
    ] {
        let e = error_of(&text);
        assert!(e.reason.contains(says), "{says} → {e}");
    }
}

#[test]
fn conditions_read_as_written() {
    let c = Condition::parse(">= 3").unwrap();
    assert_eq!(c.op, Op::Ge);
    assert!(c.holds(3) && !c.holds(2));
    assert!(Condition::parse("0").unwrap().holds(0));
    assert!(Condition::parse("< 1").unwrap().holds(0));
    assert!(Condition::parse("> -1").is_none());
    assert!(Condition::parse("=").is_none());
}
