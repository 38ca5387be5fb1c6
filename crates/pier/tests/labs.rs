//! Every built-in lab, run headless against a real broker: each variant
//! meets its expectations, so the "without" variant shows the failure and
//! the "with" variant does not. The checks compare sets of record ids (the
//! lab's clients' own records against the ledger's lists). Control: a lab
//! whose expectation is wrong fails, and says which records broke it.

use std::collections::BTreeSet;
use std::sync::Arc;

use pier::lab::{self, LabReport};

fn quiet() -> lab::Say {
    Arc::new(|_: &str, _: u64, _: &str| {})
}

async fn run(lab: &lab::Lab) -> LabReport {
    let server = lab::start_broker("127.0.0.1:0".parse().unwrap(), None)
        .await
        .unwrap();
    let report = lab::run_lab(&lab::target(&server), lab, quiet())
        .await
        .unwrap();
    server.shutdown().await;
    report
}

fn assert_passed(report: &LabReport) {
    for v in &report.variants {
        assert!(
            v.passed,
            "lab {} variant {:?} broke an expectation:\n{}",
            report.lab,
            v.name,
            lab::report::text(report)
        );
    }
}

fn examples<'a>(report: &'a LabReport, variant: usize, name: &str) -> BTreeSet<&'a str> {
    report.variants[variant]
        .examples
        .get(name)
        .map(|l| l.iter().map(String::as_str).collect())
        .unwrap_or_default()
}

/// The record ids (keys) of a ledger finding's listed records.
fn keys<'a>(report: &'a LabReport, variant: usize, name: &str) -> BTreeSet<&'a str> {
    examples(report, variant, name)
        .into_iter()
        .map(|e| e.rsplit(' ').next().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistence_loses_acknowledged_records_only_without_fsync() {
    let report = run(&lab::load("persistence").unwrap()).await;
    assert_passed(&report);
    let off = &report.variants[0];
    // The ledger's count of acknowledged records lost is the number of
    // acknowledged record ids the log no longer holds (read back by id),
    // and, with nothing ever fsynced, those are every record acknowledged
    // before the cut: ids 0..k, none scattered.
    let missing = examples(&report, 0, "missing_from_log");
    assert_eq!(
        off.counts["lost_after_ack"],
        missing.len() as u64,
        "{}",
        lab::report::text(&report)
    );
    let n = |id: &str| id.rsplit('-').next().unwrap().parse::<u64>().unwrap();
    let last_missing = missing.iter().map(|id| n(id)).max().unwrap();
    assert_eq!(
        missing.len() as u64,
        last_missing + 1,
        "{}",
        lab::report::text(&report)
    );
    assert_eq!(report.variants[1].counts["lost_after_ack"], 0);
    assert_eq!(report.variants[1].counts["missing_from_log"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotence_stores_retries_once_and_names_the_duplicates() {
    let report = run(&lab::load("idempotence").unwrap()).await;
    assert_passed(&report);
    let without = &report.variants[0];
    // Every duplicate the ledger lists is a record the producer resent:
    // its id is that of a record the producer had acknowledged.
    let resent = examples(&report, 0, "stored_twice");
    assert!(!resent.is_empty());
    for e in &resent {
        let id = e.rsplit(' ').next().unwrap();
        assert!(id.starts_with("ledger-writer-"), "{e}");
    }
    let resends = without.clients[0].resends;
    assert!(resends > 0);
    // Each resend of a 10-record batch stored 10 records twice.
    assert_eq!(
        without.counts["stored_twice"],
        resends * 10,
        "{}",
        lab::report::text(&report)
    );
    assert_eq!(report.variants[1].counts["stored_twice"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_before_processing_skips_and_after_processing_repeats() {
    let report = run(&lab::load("commit").unwrap()).await;
    assert_passed(&report);
    // Before: the records skipped are exactly the rest of the batch the
    // consumer crashed in (its own account), and none was processed twice.
    let before = &report.variants[0];
    let skipped = examples(&report, 0, "never_processed");
    let dropped: BTreeSet<&str> = before.clients[1]
        .dropped_at_crash
        .iter()
        .map(String::as_str)
        .collect();
    assert!(!dropped.is_empty());
    assert_eq!(skipped, dropped, "{}", lab::report::text(&report));
    assert_eq!(before.counts["processed_twice"], 0);
    // After: nothing skipped; what was processed twice was delivered twice
    // by the broker too — the ledger's list holds the same record ids.
    let twice = examples(&report, 1, "processed_twice");
    let delivered_twice: BTreeSet<&str> = examples(&report, 1, "delivered_more_than_once")
        .into_iter()
        .map(|e| e.rsplit(' ').next().unwrap())
        .collect();
    assert!(!twice.is_empty());
    assert!(
        twice.is_subset(&delivered_twice),
        "{twice:?} ⊄ {delivered_twice:?}"
    );
    assert_eq!(report.variants[1].counts["never_processed"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_a_wrong_expectation_fails_and_lists_the_records() {
    // The idempotence lab's "without" variant, claiming no duplicates.
    let text = lab::BUILT_IN
        .iter()
        .find(|(f, _)| *f == "idempotence.toml")
        .unwrap()
        .1;
    let wrong = text.replacen("stored_twice = \"> 0\"", "stored_twice = \"= 0\"", 1);
    assert_ne!(wrong, text);
    let mut lab = lab::parse("wrong.toml", &wrong).unwrap();
    lab.variants.truncate(1);
    let report = run(&lab).await;
    assert!(!report.passed);
    let broken: Vec<_> = report.variants[0]
        .expectations
        .iter()
        .filter(|e| !e.met)
        .collect();
    assert_eq!(broken.len(), 1);
    assert_eq!(broken[0].verdict, "stored_twice");
    assert!(broken[0].actual > 0);
    let junit = lab::report::junit(&report);
    assert!(
        junit.contains("<failure message=\"stored_twice = 0 (was "),
        "{junit}"
    );
    assert!(
        junit.contains("ledger-writer-"),
        "the records are listed: {junit}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dedup_window_drops_exactly_the_resent_business_ids() {
    let report = run(&lab::load("dedup").unwrap()).await;
    assert_passed(&report);
    // Without the window: exactly the 100 resent orders are in the log twice.
    let twice = examples(&report, 0, "duplicate_ids_in_log");
    let resent: Vec<String> = (900..1000).map(|n| format!("orders-api-{n}")).collect();
    let resent: BTreeSet<&str> = resent.iter().map(String::as_str).collect();
    assert_eq!(twice, resent, "{}", lab::report::text(&report));
    // With it: none, and nothing acknowledged is missing.
    assert_eq!(report.variants[1].counts["duplicate_ids_in_log"], 0);
    assert_eq!(report.variants[1].counts["missing_from_log"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_timeout_shorter_than_the_slowdown_stores_each_resend_again() {
    let report = run(&lab::load("timeouts").unwrap()).await;
    assert_passed(&report);
    let short = &report.variants[0];
    let resends = short.clients[0].resends;
    assert!(resends > 0);
    // Every resend of a 10-record batch the broker had stored is a copy;
    // the copies are of the batches resent, by id.
    assert_eq!(
        short.counts["stored_twice"],
        resends * 10,
        "{}",
        lab::report::text(&report)
    );
    let ids = short.counts["duplicate_ids_in_log"];
    assert!((10..=resends * 10).contains(&ids), "{ids}");
    assert_eq!(report.variants[1].clients[0].resends, 0);
    assert_eq!(report.variants[1].counts["stored_twice"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_records_are_retried_forever_or_dead_lettered_by_id() {
    let report = run(&lab::load("deadletters").unwrap()).await;
    assert_passed(&report);
    let poison: Vec<String> = (0..500).step_by(50).map(|n| format!("shop-{n}")).collect();
    let poison: BTreeSet<&str> = poison.iter().map(String::as_str).collect();
    // Without a limit: the poison records, and only they, are still
    // unconsumed when the variant ends; none reached the dead-letter topic.
    assert_eq!(
        keys(&report, 0, "unconsumed"),
        poison,
        "{}",
        lab::report::text(&report)
    );
    assert_eq!(examples(&report, 0, "never_processed"), poison);
    // With max deliveries: exactly they were dead-lettered.
    assert_eq!(
        keys(&report, 1, "dead_lettered"),
        poison,
        "{}",
        lab::report::text(&report)
    );
    assert_eq!(report.variants[1].counts["unconsumed"], 0);
    // The fix, then a replay: exactly the dead letters come back into the
    // topic (a second copy of each id there) and are processed once.
    assert_eq!(keys(&report, 2, "dead_lettered"), poison);
    assert_eq!(examples(&report, 2, "duplicate_ids_in_log"), poison);
    assert!(examples(&report, 2, "never_processed").is_empty());
    assert!(
        report.variants[2]
            .narrative
            .iter()
            .any(|s| s.text.ends_with("(10 dead letters replayed)")),
        "{}",
        lab::report::text(&report)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_bound_a_group_and_a_dead_member_stalls_its_partition_not_a_share_group() {
    let report = run(&lab::load("balancing").unwrap()).await;
    assert_passed(&report);
    // One partition: the range assignor gives it to the first member by
    // id; the other two process nothing.
    assert_eq!(
        examples(&report, 0, "idle_consumers"),
        BTreeSet::from(["worker-b", "worker-c"]),
        "{}",
        lab::report::text(&report)
    );
    // A share group: what the dead member held and had not processed, and
    // only that, is delivered again (to the others).
    let share = &report.variants[2];
    let dead = share.clients.iter().find(|c| c.name == "worker-b").unwrap();
    assert_eq!(dead.crashes, 1);
    let held: BTreeSet<&str> = dead.dropped_at_crash.iter().map(String::as_str).collect();
    assert!(!held.is_empty());
    assert_eq!(
        keys(&report, 2, "delivered_more_than_once"),
        held,
        "{}",
        lab::report::text(&report)
    );
    // The dead classic member's partition waited for its session to time
    // out; the share group's records waited for a lease at most.
    let waited = |v: usize| report.variants[v].counts["max_wait_ms"];
    assert!(waited(1) > 3 * waited(2), "{}", lab::report::text(&report));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lag_alert_fires_and_the_consumers_it_starts_drain_the_lag() {
    let report = run(&lab::load("monitoring").unwrap()).await;
    assert_passed(&report);
    for v in &report.variants {
        assert_eq!(v.alerts.len(), 1, "{}", lab::report::text(&report));
        let a = &v.alerts[0];
        assert!(a.cleared_ms.is_some_and(|c| c > a.fired_ms));
        assert!(a.peak_lag > 300);
        assert!(
            v.narrative
                .iter()
                .any(|s| s.text.starts_with("ALERT lag fired"))
        );
    }
    // Scaled out: the two consumers started on the alert did their share,
    // and none of it before the alert fired.
    let v = &report.variants[1];
    let t = &v.timeline;
    let fired_bucket = (v.alerts[0].fired_ms / t.bucket_ms) as usize;
    for name in ["counter-2", "counter-3"] {
        let m = t.members.iter().find(|m| m.name == name).unwrap();
        assert!(m.processed.iter().sum::<u64>() > 0, "{name} idle");
        let first = m.processed.iter().position(|n| *n > 0).unwrap();
        assert!(first >= fired_bucket, "{name} worked before the alert");
    }
    // The lag drained while the producer was still writing (4 s of it)
    // only when the group scaled out.
    let cleared = |i: usize| report.variants[i].alerts[0].cleared_ms.unwrap();
    assert!(cleared(1) < 4_000 + 1_500, "{}", lab::report::text(&report));
    assert!(cleared(0) > 4_000 + 1_500, "{}", lab::report::text(&report));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_delivery_timeout_gives_up_a_run_of_records_loudly_a_long_one_waits() {
    let report = run(&lab::load("backpressure").unwrap()).await;
    assert_passed(&report);
    // Given up: one contiguous run of record ids (the records due while
    // the broker was silent), each failed to the application, none lost
    // after an acknowledgement; with the rest acknowledged, all 1,500.
    let given_up: Vec<u64> = examples(&report, 0, "not_acknowledged")
        .iter()
        .map(|id| id.strip_prefix("sensor-").unwrap().parse().unwrap())
        .collect::<BTreeSet<u64>>()
        .into_iter()
        .collect();
    assert!(!given_up.is_empty());
    let (first, last) = (given_up[0], *given_up.last().unwrap());
    assert_eq!(given_up, (first..=last).collect::<Vec<_>>());
    let short = &report.variants[0];
    let acknowledged = short.clients.iter().find(|c| c.name == "sensor").unwrap();
    assert_eq!(acknowledged.records + given_up.len() as u64, 1_500);
    assert!(
        acknowledged
            .errors
            .iter()
            .any(|e| e.starts_with("delivery timeout"))
    );
    // Waiting it out: every record acknowledged, after resends.
    let long = &report.variants[1];
    let waited = long.clients.iter().find(|c| c.name == "sensor").unwrap();
    assert_eq!(waited.records, 1_500);
    assert!(waited.resends > 0);
    // A consumer in the silence (2.5 s to 10.5 s): it processes nothing;
    // once its 6 s session has run out the other member takes its
    // partition and processes what waited there.
    let silent = &report.variants[2];
    let t = &silent.timeline;
    let bucket = |ms: u64| (ms / t.bucket_ms) as usize;
    let member = |name: &str| &t.members.iter().find(|m| m.name == name).unwrap().processed;
    let quiet: u64 = member("reader-a")[bucket(2_500) + 1..bucket(10_500)]
        .iter()
        .sum();
    assert_eq!(quiet, 0, "{}", lab::report::text(&report));
    let taken_over: u64 = member("reader-b")[bucket(2_500 + 6_000)..].iter().sum();
    assert!(taken_over > 0, "{}", lab::report::text(&report));
    assert!(silent.counts["max_wait_ms"] >= 5_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_overtaken_by_requests_in_flight_lands_out_of_order_only_without_idempotence() {
    let report = run(&lab::load("ordering").unwrap()).await;
    assert_passed(&report);
    // One producer, one partition, ids from 0: in order, record n is at
    // offset n. The ledger's out-of-order records are whole retried
    // batches (ten ids), each stored after newer ones (offset > id).
    let listed: Vec<(u64, u64)> = examples(&report, 0, "out_of_order")
        .iter()
        .map(|e| {
            let (place, id) = e.split_once(' ').unwrap();
            let offset = place.rsplit('@').next().unwrap().parse().unwrap();
            let n = id.strip_prefix("orders-api-").unwrap().parse().unwrap();
            (offset, n)
        })
        .collect();
    assert!(!listed.is_empty());
    for (offset, n) in &listed {
        assert!(
            offset > n,
            "orders-api-{n} at offset {offset} was not overtaken"
        );
    }
    let ids: BTreeSet<u64> = listed.iter().map(|(_, n)| *n).collect();
    let batches: BTreeSet<u64> = ids.iter().map(|n| n / 10).collect();
    let whole: BTreeSet<u64> = batches.iter().flat_map(|b| b * 10..b * 10 + 10).collect();
    assert_eq!(ids, whole, "whole batches, not single records");
    // The idempotent producer resent more (the batches behind each gap)
    // and kept the order.
    let resends = |v: usize| report.variants[v].clients[0].resends;
    assert!(resends(1) > resends(0), "{}", lab::report::text(&report));
}
