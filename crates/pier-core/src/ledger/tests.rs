//! The ledger's rules, one scenario each, checked record by record.

use super::*;
use crate::queue::Event;

const T: &str = "orders";

fn key(client: &str, pid: i64) -> ProducerKey {
    ProducerKey {
        client_id: client.into(),
        address: "127.0.0.1:5000".into(),
        producer_id: pid,
        producer_epoch: 0,
    }
}

fn produce(l: &Ledger, first: u64, last: u64, fsync: bool, fps: Option<Vec<u64>>, at_ms: i64) {
    let k = key("app", if fps.is_some() { -1 } else { 7 });
    l.produced(&Produced {
        topic: T,
        partition: 0,
        first_offset: first,
        last_offset: last,
        producer: &k,
        base_sequence: -1,
        acks: -1,
        fsync,
        first_timestamp_ms: at_ms,
        max_timestamp_ms: at_ms,
        fingerprints: fps.map(Into::into),
        // Each answer its own connection, as a retry after a lost answer.
        connection: at_ms as u64,
        at_ms,
    });
}

fn fetch(l: &Ledger, connection: u64, from: u64, to: u64, at_ms: i64) {
    l.fetched(&Fetched {
        topic: T,
        partition: 0,
        from,
        to,
        connection,
        group: "g",
        kind: GroupKind::Classic,
        who: "consumer",
        rule: "test",
        at_ms,
    });
}

fn verdict(l: &Ledger, group: Option<&str>) -> Verdict {
    let q = VerdictQuery {
        topic: T.to_owned(),
        group: group.map(str::to_owned),
        since_ms: None,
        limit: 100,
    };
    let facts = [PartitionFacts {
        partition: 0,
        log_start: 0,
        high_watermark: 100,
        committed: None,
        lag: 0,
        members: 0,
        unconsumed: None,
    }];
    l.verdict(&q, &facts, 1_000)
}

/// Every offset a finding lists, in order.
fn offsets(v: &Verdict, kind: FindingKind) -> Vec<u64> {
    let f = v
        .findings
        .iter()
        .find(|f| f.kind == kind)
        .expect("finding present");
    f.spans
        .iter()
        .flat_map(|s| s.first_offset..=s.last_offset)
        .collect()
}

#[test]
fn a_restart_that_ends_the_log_early_lists_exactly_the_acknowledged_records_gone() {
    let l = Ledger::default();
    produce(&l, 0, 9, false, None, 10);
    produce(&l, 10, 19, false, None, 20);
    l.recovered(T, 0, 14, 30);
    let v = verdict(&l, None);
    assert_eq!(
        offsets(&v, FindingKind::LostAfterAck),
        (14..=19).collect::<Vec<_>>()
    );
    assert_eq!(v.guarantee, Guarantee::None);
    assert!(v.meets(Expectation::NoLoss).is_err());
    // New records at the reused offsets are not old ones.
    produce(&l, 14, 15, true, None, 40);
    assert_eq!(verdict(&l, None).count(FindingKind::LostAfterAck), 6);
}

#[test]
fn a_restart_that_keeps_everything_finds_nothing() {
    let l = Ledger::default();
    produce(&l, 0, 9, true, None, 10);
    l.recovered(T, 0, 10, 30);
    let v = verdict(&l, None);
    assert_eq!(v.count(FindingKind::LostAfterAck), 0);
    assert_eq!(v.guarantee, Guarantee::EffectivelyExactlyOnce);
    assert_eq!((v.produced, v.acknowledged, v.at_risk), (10, 10, 0));
}

#[test]
fn a_regrouped_retry_is_stored_twice_and_names_the_first_copy() {
    let l = Ledger::default();
    produce(&l, 0, 2, true, Some(vec![1, 2, 3]), 10);
    // The retry of 2 and 3 comes back together with a new record 4.
    produce(&l, 3, 5, true, Some(vec![2, 3, 4]), 20);
    let v = verdict(&l, None);
    assert_eq!(offsets(&v, FindingKind::StoredTwice), vec![3, 4]);
    let f = &v
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::StoredTwice)
        .unwrap();
    assert_eq!(
        f.spans[0].detail.as_deref(),
        Some("first stored at offsets 1..=2")
    );
    assert_eq!(v.guarantee, Guarantee::AtLeastOnce);
    assert!(v.meets(Expectation::ExactlyOnce).is_err());
    assert!(v.meets(Expectation::AtLeastOnce).is_ok());
    assert_eq!(l.counters().stored_twice, 2);
}

#[test]
fn reading_on_and_repeating_a_lost_answer_deliver_once_but_a_new_consumer_rereads() {
    let l = Ledger::default();
    fetch(&l, 1, 0, 9, 10);
    fetch(&l, 1, 10, 19, 11);
    fetch(&l, 1, 10, 24, 12); // the answer to 10.. was lost: asked again
    assert_eq!(
        verdict(&l, Some("g")).count(FindingKind::DeliveredMoreThanOnce),
        0
    );
    l.committed("g", "m1", T, 0, 15, 0, 13);
    // The consumer dies; its successor starts from the commit.
    fetch(&l, 2, 15, 30, 14);
    let v = verdict(&l, Some("g"));
    assert_eq!(
        offsets(&v, FindingKind::DeliveredMoreThanOnce),
        (15..=24).collect::<Vec<_>>()
    );
    assert_eq!(v.guarantee, Guarantee::AtLeastOnce);
}

#[test]
fn a_commit_past_records_nobody_was_sent_lists_them_as_skipped() {
    let l = Ledger::default();
    fetch(&l, 1, 0, 9, 10);
    l.committed("g", "m1", T, 0, 10, 0, 11);
    fetch(&l, 1, 20, 24, 12); // seeked forward
    l.committed("g", "m1", T, 0, 25, 0, 13);
    let v = verdict(&l, Some("g"));
    assert_eq!(
        offsets(&v, FindingKind::CommittedWithoutDelivery),
        (10..=19).collect::<Vec<_>>()
    );
    assert_eq!(v.guarantee, Guarantee::AtMostOnce);
    // Records removed by retention are not skipped by the group.
    let l = Ledger::default();
    l.committed("g", "m1", T, 0, 0, 0, 10);
    l.committed("g", "m1", T, 0, 50, 50, 11);
    assert_eq!(
        verdict(&l, Some("g")).count(FindingKind::CommittedWithoutDelivery),
        0
    );
}

#[test]
fn queue_events_name_redeliveries_and_dead_letters() {
    let l = Ledger::default();
    let delivered = |records: Vec<(u64, u32)>| Event::Delivered {
        group: "g".into(),
        partition: 0,
        member: "m".into(),
        deadline_ms: 0,
        records,
    };
    l.queue_events(
        &[
            (T.to_owned(), delivered(vec![(0, 1), (1, 1), (2, 1)])),
            (
                T.to_owned(),
                Event::Accepted {
                    group: "g".into(),
                    partition: 0,
                    offsets: vec![0],
                },
            ),
            (T.to_owned(), delivered(vec![(1, 2), (2, 2)])),
            (
                T.to_owned(),
                Event::DeadLettered {
                    group: "g".into(),
                    partition: 0,
                    offsets: vec![2],
                },
            ),
        ],
        10,
    );
    let v = verdict(&l, Some("g"));
    assert_eq!(offsets(&v, FindingKind::DeliveredMoreThanOnce), vec![1, 2]);
    assert_eq!(offsets(&v, FindingKind::DeadLettered), vec![2]);
    assert_eq!(v.group_kind, Some(GroupKind::Queue));
    let j = l.journey(T, 0, 1);
    let whats: Vec<&str> = j.steps.iter().map(|s| s.what.as_str()).collect();
    assert_eq!(whats, vec!["delivered", "delivered", "delivered_again"]);
}

#[test]
fn past_the_entry_cap_detail_stops_and_verdicts_say_so() {
    let l = Ledger::default();
    for i in 0..(ENTRIES_MAX as u64 + 10) {
        // Alternating durability never coalesces: one run and one
        // producer batch each.
        produce(&l, i, i, i % 2 == 0, None, 10);
    }
    assert!(verdict(&l, None).truncated_ms.is_some());
}

#[test]
fn a_switched_off_ledger_records_nothing() {
    let l = Ledger::new(false);
    produce(&l, 0, 9, false, None, 10);
    l.recovered(T, 0, 0, 30);
    let v = verdict(&l, None);
    assert!(!v.enabled);
    assert_eq!(v.count(FindingKind::LostAfterAck), 0);
}

#[test]
fn the_same_record_again_over_the_same_connection_is_not_a_retry() {
    // A loop sending one message twice in a millisecond (a benchmark, a
    // test) sends new records; a client resends an unanswered batch only
    // after reconnecting. Control: the same batch over another connection.
    for (connection, copies) in [(10, vec![]), (11, vec![2, 3])] {
        let l = Ledger::default();
        let k = key("app", -1);
        for (first, connection) in [(0, 10), (2, connection)] {
            l.produced(&Produced {
                topic: T,
                partition: 0,
                first_offset: first,
                last_offset: first + 1,
                producer: &k,
                base_sequence: -1,
                acks: -1,
                fsync: true,
                first_timestamp_ms: 10,
                max_timestamp_ms: 10,
                fingerprints: Some([1, 1].into_iter().collect()),
                connection,
                at_ms: 10,
            });
        }
        let v = verdict(&l, None);
        assert_eq!(
            offsets(&v, FindingKind::StoredTwice),
            copies,
            "{connection}"
        );
    }
}

#[test]
fn the_same_record_from_another_client_is_not_a_retry() {
    let l = Ledger::default();
    produce(&l, 0, 1, true, Some(vec![1, 2]), 10);
    let other = key("other-app", -1);
    l.produced(&Produced {
        topic: T,
        partition: 0,
        first_offset: 2,
        last_offset: 3,
        producer: &other,
        base_sequence: -1,
        acks: -1,
        fsync: true,
        first_timestamp_ms: 10,
        max_timestamp_ms: 10,
        fingerprints: Some([1, 2].into_iter().collect()),
        connection: 11,
        at_ms: 11,
    });
    assert_eq!(verdict(&l, None).count(FindingKind::StoredTwice), 0);
}

/// A batch of a producer without idempotence at `first..=last`, created at
/// `ts`, answered at `at_ms`.
fn plain(l: &Ledger, first: u64, last: u64, ts: i64, fps: Vec<u64>, at_ms: i64) {
    let k = key("app", -1);
    l.produced(&Produced {
        topic: T,
        partition: 0,
        first_offset: first,
        last_offset: last,
        producer: &k,
        base_sequence: -1,
        acks: -1,
        fsync: true,
        first_timestamp_ms: ts,
        max_timestamp_ms: ts,
        fingerprints: Some(fps.into()),
        // One connection: a retry after an error answer comes back over it.
        connection: 1,
        at_ms,
    });
}

#[test]
fn answers_told_in_any_order_judge_by_offsets() {
    // Pipelined answers reach the ledger out of order; nothing is wrong.
    let l = Ledger::default();
    for i in (0..20u64).rev() {
        plain(&l, i, i, 100 + i as i64, vec![1_000 + i], 10);
    }
    let v = verdict(&l, None);
    assert_eq!(v.count(FindingKind::OutOfOrder), 0);
    assert_eq!(v.count(FindingKind::StoredTwice), 0);
    assert_eq!(v.produced, 20);
    // A retry (after an error answer, over the same connection) stored
    // after a newer batch is out of order, whichever answer the ledger
    // hears first. The same content over the same connection is not a
    // copy (a retry after an error answer was not stored the first time).
    for told_first in [true, false] {
        let l = Ledger::default();
        let newer = |l: &Ledger| plain(l, 0, 0, 200, vec![2], 10);
        let retried = |l: &Ledger| plain(l, 1, 2, 100, vec![1, 2], 11);
        if told_first {
            newer(&l);
            retried(&l);
        } else {
            retried(&l);
            newer(&l);
        }
        let v = verdict(&l, None);
        assert_eq!(
            offsets(&v, FindingKind::OutOfOrder),
            vec![1, 2],
            "told first: {told_first}"
        );
        assert_eq!(
            offsets(&v, FindingKind::StoredTwice),
            Vec::<u64>::new(),
            "told first: {told_first}"
        );
    }
}

#[test]
fn retention_is_a_step_of_the_journey_and_not_a_loss() {
    let l = Ledger::default();
    produce(&l, 0, 9, true, None, 10);
    l.removed_by_retention(T, 0, 0, 3, 100);
    l.removed_by_retention(T, 0, 4, 5, 200);
    let steps = |o: u64| -> Vec<String> {
        l.journey(T, 0, o)
            .steps
            .into_iter()
            .map(|s| s.what)
            .collect()
    };
    assert_eq!(steps(5), vec!["produced", "removed_by_retention"]);
    assert_eq!(
        steps(6),
        vec!["produced"],
        "control: a record retention kept"
    );
    // One run, moved on with the log start.
    let j = l.journey(T, 0, 0);
    assert_eq!(j.steps[1].at_ms, 200);
    assert_eq!(verdict(&l, None).count(FindingKind::LostAfterAck), 0);
}
