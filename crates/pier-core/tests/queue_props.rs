//! Property test of the queue lease state machine: random schedules of
//! receive / accept / release / reject / extend / expire / leave / restart
//! with a manual clock, checking after every step that
//! - a record is held by at most one consumer, and a grant never hands out
//!   a record someone else holds;
//! - every record is accepted, dead-lettered, or still tracked (leased,
//!   waiting, pending dead letter, or not yet delivered): none lost;
//! - delivery counts only grow, by one per delivery, never past the limit;
//! - a redelivery never comes before its backoff;
//! - a replay of the logged events rebuilds the same state;
//!
//! At the end, draining must deliver every record to a final state.

use std::collections::{BTreeMap, BTreeSet};

use pier_core::queue::{AckAction, Event, QueueConfig, QueueGroup, Slot, backoff_ms};
use proptest::prelude::*;

const PARTITIONS: usize = 2;
const MEMBERS: [&str; 3] = ["a", "b", "c"];

#[derive(Debug, Clone)]
enum Op {
    Produce(u32, u8),
    Receive(u8, u8),
    Ack(u8, u8, u8),
    Advance(u16),
    Tick,
    Leave(u8),
    Restart,
    Compact,
    WriteDeadLetters,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..PARTITIONS as u32, 1..6u8).prop_map(|(p, n)| Op::Produce(p, n)),
        4 => (0..3u8, 1..6u8).prop_map(|(m, n)| Op::Receive(m, n)),
        4 => (0..3u8, any::<u8>(), 0..5u8).prop_map(|(m, i, a)| Op::Ack(m, i, a)),
        3 => (0..1500u16).prop_map(Op::Advance),
        2 => Just(Op::Tick),
        1 => (0..3u8).prop_map(Op::Leave),
        1 => Just(Op::Restart),
        1 => Just(Op::Compact),
        1 => Just(Op::WriteDeadLetters),
    ]
}

fn config() -> QueueConfig {
    QueueConfig {
        lease_ms: 1_000,
        max_deliveries: 3,
        backoff_base_ms: 100,
        backoff_max_ms: 1_000,
        max_in_flight: 4,
        ..QueueConfig::new("t")
    }
}

struct Model {
    g: QueueGroup,
    log: Vec<Event>,
    now: i64,
    ends: Vec<u64>,
    finished: BTreeSet<(u32, u64)>,
    deliveries: BTreeMap<(u32, u64), u32>,
    /// Earliest redelivery time promised by a Released event.
    not_before: BTreeMap<(u32, u64), i64>,
    jitter: Vec<f64>,
    j: usize,
}

impl Model {
    fn log(&mut self, events: Vec<Event>) {
        let cfg = self.g.config.clone();
        for e in &events {
            match e {
                Event::Released {
                    partition,
                    records,
                    reason,
                    ..
                } => {
                    for &(o, nb) in records {
                        let d = self.deliveries[&(*partition, o)];
                        if reason.as_deref() != Some("released by the consumer") || nb > self.now {
                            // Backoff (not an explicit delay of 0) is at least half the exponential step.
                            let exp = cfg
                                .backoff_base_ms
                                .saturating_mul(1 << (d - 1))
                                .min(cfg.backoff_max_ms);
                            if reason.as_deref() == Some("lease expired") {
                                assert!(
                                    nb - self.now >= (exp / 2) as i64,
                                    "backoff after expiry: {nb} - {} < {exp}/2",
                                    self.now
                                );
                            }
                        }
                        self.not_before.insert((*partition, o), nb);
                    }
                }
                Event::Accepted {
                    partition, offsets, ..
                }
                | Event::DeadLettered {
                    partition, offsets, ..
                } => {
                    for &o in offsets {
                        assert!(
                            self.finished.insert((*partition, o)),
                            "finished twice: {partition}/{o}"
                        );
                    }
                }
                _ => {}
            }
        }
        self.log.extend(events);
    }

    fn next_jitter(&mut self) -> f64 {
        self.j += 1;
        self.jitter[self.j % self.jitter.len()]
    }

    fn leased(&self) -> BTreeMap<(u32, u64), String> {
        let mut out = BTreeMap::new();
        for (p, part) in self.g.partitions.iter().enumerate() {
            for (&o, s) in &part.slots {
                if let Slot::Leased { member, .. } = s {
                    out.insert((p as u32, o), member.clone());
                }
            }
        }
        out
    }

    fn receive(&mut self, member: &str, n: u32) -> Vec<(u32, u64, u32)> {
        let before = self.leased();
        let (grants, events) =
            self.g
                .receive(member, n, self.g.config.lease_ms, self.now, &self.ends);
        let mut out = Vec::new();
        for gr in &grants {
            let key = (gr.partition, gr.offset);
            assert!(
                !before.contains_key(&key),
                "granted {key:?}, held by {:?}",
                before.get(&key)
            );
            assert!(
                !self.finished.contains(&key),
                "granted a finished record {key:?}"
            );
            assert!(
                gr.offset < self.ends[gr.partition as usize],
                "granted past the end"
            );
            let prev = self.deliveries.get(&key).copied().unwrap_or(0);
            assert_eq!(gr.deliveries, prev + 1, "deliveries grow by one");
            assert!(
                gr.deliveries <= self.g.config.max_deliveries,
                "past the delivery limit"
            );
            if let Some(nb) = self.not_before.get(&key) {
                assert!(self.now >= *nb, "redelivered at {} before {nb}", self.now);
            }
            self.deliveries.insert(key, gr.deliveries);
            out.push((gr.partition, gr.offset, gr.deliveries));
        }
        self.log(events);
        out
    }

    fn check(&self) {
        for (p, part) in self.g.partitions.iter().enumerate() {
            let p = p as u32;
            let end = self.ends[p as usize];
            assert!(part.cursor <= end);
            for o in 0..end {
                let key = (p, o);
                let tracked = part.slots.contains_key(&o);
                let done = self.finished.contains(&key);
                if o < part.cursor {
                    assert!(tracked ^ done, "{key:?}: tracked={tracked} finished={done}");
                } else {
                    assert!(!tracked && !done, "{key:?} beyond the cursor is untouched");
                }
                if let Some(s) = part.slots.get(&o) {
                    assert_eq!(
                        s.deliveries(),
                        self.deliveries[&key],
                        "slot deliveries match grants"
                    );
                }
            }
        }
        for part in self.g.partitions.iter().skip(PARTITIONS) {
            assert!(part.slots.is_empty());
        }
    }
}

fn run(ops: Vec<Op>, jitter: Vec<f64>) {
    let mut m = Model {
        g: QueueGroup::new("q", config()),
        log: vec![Event::Configured {
            group: "q".into(),
            config: config(),
        }],
        now: 1_000_000,
        ends: vec![0; PARTITIONS],
        finished: BTreeSet::new(),
        deliveries: BTreeMap::new(),
        not_before: BTreeMap::new(),
        jitter,
        j: 0,
    };
    let mut held: BTreeMap<&str, Vec<(u32, u64, u32)>> = BTreeMap::new();
    for op in ops {
        match op {
            Op::Produce(p, n) => m.ends[p as usize] += u64::from(n),
            Op::Receive(who, n) => {
                let member = MEMBERS[who as usize];
                let got = m.receive(member, n.into());
                held.entry(member).or_default().extend(got);
            }
            Op::Ack(who, i, action) => {
                let member = MEMBERS[who as usize];
                let list = held.entry(member).or_default();
                if list.is_empty() {
                    continue;
                }
                let (p, o, d) = list.remove(i as usize % list.len());
                let action = match action {
                    0 | 1 => AckAction::Accept,
                    2 => AckAction::Release { delay_ms: None },
                    3 => AckAction::Reject {
                        reason: "poison".into(),
                    },
                    _ => AckAction::Extend { lease_ms: 500 },
                };
                let leased_now = m.leased().get(&(p, o)).cloned();
                let before = m.g.clone();
                let mut js: Vec<f64> = (0..4).map(|_| m.next_jitter()).collect();
                let mut jit = || js.pop().unwrap_or(0.5);
                let (results, events) =
                    m.g.acknowledge(member, &[(p, o, Some(d), action.clone())], m.now, &mut jit);
                let ours = leased_now.as_deref() == Some(member) && m.deliveries[&(p, o)] == d;
                assert_eq!(
                    results[0].is_ok(),
                    ours,
                    "ack of {p}/{o} by {member}: {:?}",
                    results[0]
                );
                if results[0].is_err() {
                    assert_eq!(
                        m.g.partitions, before.partitions,
                        "a refused ack changes no lease"
                    );
                    assert_eq!(m.g.counters, before.counters);
                }
                if matches!(action, AckAction::Extend { .. }) && ours {
                    list.push((p, o, d));
                }
                m.log(events);
            }
            Op::Advance(ms) => m.now += i64::from(ms),
            Op::Tick => {
                let mut js: Vec<f64> = (0..64).map(|_| m.next_jitter()).collect();
                let mut jit = || js.pop().unwrap_or(0.5);
                let events = m.g.tick(m.now, 5_000, &mut jit);
                m.log(events);
            }
            Op::Leave(who) => {
                let member = MEMBERS[who as usize];
                let mut js: Vec<f64> = (0..64).map(|_| m.next_jitter()).collect();
                let mut jit = || js.pop().unwrap_or(0.5);
                let events = m.g.leave(member, m.now, &mut jit);
                m.log(events);
                held.remove(member);
            }
            Op::Compact => {
                // What Queues::compact does: a snapshot, the log before it gone.
                m.log = vec![Event::Snapshot {
                    groups: vec![m.g.snapshot()],
                }];
            }
            Op::Restart => {
                let mut replayed = QueueGroup::new("q", config());
                for e in &m.log {
                    match e {
                        Event::Snapshot { groups } => {
                            replayed = QueueGroup::from_snapshot(groups[0].clone());
                        }
                        other => replayed.apply(other),
                    }
                }
                // A partition nobody received from yet may exist live but not in the replay.
                for p in 0..PARTITIONS {
                    assert_eq!(
                        replayed.partitions.get(p).cloned().unwrap_or_default(),
                        m.g.partitions.get(p).cloned().unwrap_or_default(),
                        "replay rebuilds partition {p}"
                    );
                }
                assert_eq!(replayed.counters, m.g.counters);
                m.g = replayed; // members are forgotten; leases run to their deadline
            }
            Op::WriteDeadLetters => {
                for d in m.g.pending_dead_letters() {
                    let (p, o) = (d.partition, d.offset);
                    let e = Event::DeadLettered {
                        group: "q".into(),
                        partition: p,
                        offsets: vec![o],
                    };
                    m.g.apply(&e);
                    m.log(vec![e]);
                }
            }
        }
        m.check();
    }
    // Drain: time passes, one consumer accepts everything it gets.
    for _ in 0..200 {
        m.now += 1_000;
        let mut jit = || 0.5;
        let events = m.g.tick(m.now, 5_000, &mut jit);
        m.log(events);
        for d in m.g.pending_dead_letters() {
            let (p, o) = (d.partition, d.offset);
            let e = Event::DeadLettered {
                group: "q".into(),
                partition: p,
                offsets: vec![o],
            };
            m.g.apply(&e);
            m.log(vec![e]);
        }
        let got = m.receive("drain", 4);
        let items: Vec<_> = got
            .iter()
            .map(|&(p, o, d)| (p, o, Some(d), AckAction::Accept))
            .collect();
        let (results, events) = m.g.acknowledge("drain", &items, m.now, &mut jit);
        assert!(results.iter().all(Result::is_ok));
        m.log(events);
        m.check();
    }
    let total: u64 = m.ends.iter().sum();
    assert_eq!(
        m.finished.len() as u64,
        total,
        "every record ends accepted or dead-lettered"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]
    #[test]
    fn lease_state_machine_keeps_its_promises(
        ops in proptest::collection::vec(op(), 1..120),
        jitter in proptest::collection::vec(0.0..=1.0f64, 1..8),
    ) {
        run(ops, jitter);
    }
}

#[test]
fn backoff_doubles_up_to_the_cap_with_equal_jitter() {
    let c = QueueConfig {
        backoff_base_ms: 100,
        backoff_max_ms: 1_000,
        ..QueueConfig::new("t")
    };
    assert_eq!(backoff_ms(&c, 1, 0.0), 50);
    assert_eq!(backoff_ms(&c, 1, 1.0), 100);
    assert_eq!(backoff_ms(&c, 2, 0.0), 100);
    assert_eq!(backoff_ms(&c, 4, 1.0), 800);
    assert_eq!(backoff_ms(&c, 9, 1.0), 1_000);
    assert_eq!(backoff_ms(&c, 60, 0.0), 500);
}
