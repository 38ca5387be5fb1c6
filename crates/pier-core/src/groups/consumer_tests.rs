//! The consumer protocol's hand-over, step by step, with a manual clock.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::*;
use crate::clock::ManualClock;

fn setup() -> (ConsumerGroups, ManualClock, BTreeMap<String, u32>) {
    let clock = ManualClock::new(1_000_000);
    let groups = ConsumerGroups::new(Arc::new(clock.clone()));
    (groups, clock, BTreeMap::from([("t".to_owned(), 4u32)]))
}

fn hb(member: &str, epoch: i32, owned: Option<&BTreeSet<TopicPartition>>) -> ConsumerHeartbeat {
    ConsumerHeartbeat {
        group: "g".into(),
        member_id: member.into(),
        member_epoch: epoch,
        rebalance_timeout_ms: 30_000,
        topics: (epoch == 0).then(|| vec!["t".to_owned()]),
        owned: owned.map(|o| o.iter().cloned().collect()),
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
        ..ConsumerHeartbeat::default()
    }
}

/// A member as a client keeps it: what it owns and its epoch.
struct Client {
    id: String,
    epoch: i32,
    owned: BTreeSet<TopicPartition>,
}

impl Client {
    fn join(g: &ConsumerGroups, t: &BTreeMap<String, u32>, id: &str) -> Client {
        let a = g.heartbeat(hb(id, 0, None), t).unwrap();
        let mut c = Client {
            id: a.member_id,
            epoch: a.member_epoch,
            owned: BTreeSet::new(),
        };
        if let Some(x) = a.assignment {
            c.owned = x;
        }
        c
    }

    fn beat(&mut self, g: &ConsumerGroups, t: &BTreeMap<String, u32>) {
        let a = g
            .heartbeat(hb(&self.id, self.epoch, Some(&self.owned)), t)
            .unwrap();
        self.epoch = a.member_epoch;
        if let Some(x) = a.assignment {
            self.owned = x;
        }
    }
}

fn disjoint(cs: &[&Client]) -> bool {
    let mut seen = BTreeSet::new();
    cs.iter()
        .flat_map(|c| c.owned.iter())
        .all(|tp| seen.insert(tp.clone()))
}

#[test]
fn a_second_member_gets_half_once_the_first_lets_go_never_both() {
    let (g, _clock, t) = setup();
    let mut a = Client::join(&g, &t, "a");
    assert_eq!(a.owned.len(), 4);
    let mut b = Client::join(&g, &t, "b");
    assert!(b.owned.is_empty(), "nothing is free yet: {:?}", b.owned);
    assert!(disjoint(&[&a, &b]));
    // a is told to give two up; its epoch stays until it confirms.
    let before = a.epoch;
    a.beat(&g, &t);
    assert_eq!(a.owned.len(), 2);
    assert_eq!(a.epoch, before);
    assert!(disjoint(&[&a, &b]));
    // b still waits: a has not confirmed.
    b.beat(&g, &t);
    assert!(b.owned.is_empty());
    // a confirms (its heartbeat owns only two), takes the new epoch.
    a.beat(&g, &t);
    assert!(a.epoch > before);
    b.beat(&g, &t);
    assert_eq!(b.owned.len(), 2);
    assert!(disjoint(&[&a, &b]));
    assert_eq!(g.describe("g").unwrap().state, "Stable");
    assert_eq!(g.validate_commit("g", &a.id, a.epoch), Ok(true));
    assert!(matches!(
        g.validate_commit("g", &a.id, a.epoch - 1),
        Err(ConsumerGroupError::StaleMemberEpoch { .. })
    ));
    assert!(matches!(
        g.validate_commit("g", "nobody", 1),
        Err(ConsumerGroupError::UnknownMemberId(_))
    ));
    assert_eq!(g.validate_commit("other", "x", 1), Ok(false));
}

#[test]
fn a_leaving_member_hands_its_partitions_over() {
    let (g, _clock, t) = setup();
    let mut a = Client::join(&g, &t, "a");
    let mut b = Client::join(&g, &t, "b");
    for _ in 0..3 {
        a.beat(&g, &t);
        b.beat(&g, &t);
    }
    assert_eq!((a.owned.len(), b.owned.len()), (2, 2));
    let left = g.heartbeat(hb(&a.id, -1, None), &t).unwrap();
    assert_eq!(left.member_epoch, -1);
    b.beat(&g, &t);
    assert_eq!(b.owned.len(), 4);
}

#[test]
fn a_silent_member_is_removed_after_the_session_timeout() {
    let (g, clock, t) = setup();
    let mut a = Client::join(&g, &t, "a");
    let mut b = Client::join(&g, &t, "b");
    for _ in 0..3 {
        a.beat(&g, &t);
        b.beat(&g, &t);
    }
    clock.advance_ms(CONSUMER_SESSION_TIMEOUT_MS / 2);
    b.beat(&g, &t);
    clock.advance_ms(CONSUMER_SESSION_TIMEOUT_MS / 2 + 1);
    assert_eq!(g.tick(&t), vec![("g".to_owned(), a.id.clone())]);
    b.beat(&g, &t);
    assert_eq!(b.owned.len(), 4);
    // The removed member is told so, and rejoins with epoch 0.
    let err = g
        .heartbeat(hb(&a.id, a.epoch, Some(&a.owned)), &t)
        .unwrap_err();
    assert_eq!(err, ConsumerGroupError::UnknownMemberId(a.id.clone()));
}

#[test]
fn a_member_that_never_lets_go_is_removed_after_its_rebalance_timeout() {
    let (g, clock, t) = setup();
    let mut a = Client::join(&g, &t, "a");
    let mut b = Client::join(&g, &t, "b");
    // a is told to give up two; it heartbeats but keeps claiming all four.
    let keep = a.owned.clone();
    a.beat(&g, &t);
    clock.advance_ms(31_000);
    g.heartbeat(hb(&a.id, a.epoch, Some(&keep)), &t).unwrap();
    assert_eq!(g.tick(&t).len(), 1, "a is removed");
    b.beat(&g, &t);
    assert_eq!(b.owned.len(), 4);
}

#[test]
fn bad_epochs_and_requests_get_kafkas_errors() {
    let (g, _clock, t) = setup();
    let a = Client::join(&g, &t, "a");
    assert!(matches!(
        g.heartbeat(hb(&a.id, a.epoch + 5, Some(&a.owned)), &t),
        Err(ConsumerGroupError::FencedMemberEpoch { .. })
    ));
    assert!(matches!(
        g.heartbeat(hb("ghost", 3, None), &t),
        Err(ConsumerGroupError::UnknownMemberId(_))
    ));
    let mut no_subscription = hb("n", 0, None);
    no_subscription.topics = None;
    assert!(matches!(
        g.heartbeat(no_subscription, &t),
        Err(ConsumerGroupError::InvalidRequest(_))
    ));
    let mut bad_assignor = hb("n", 0, None);
    bad_assignor.assignor = Some("sticky-ish".into());
    assert!(matches!(
        g.heartbeat(bad_assignor, &t),
        Err(ConsumerGroupError::UnsupportedAssignor(_))
    ));
    let mut bad_regex = hb("n", 0, None);
    bad_regex.regex = Some("(".into());
    assert!(matches!(
        g.heartbeat(bad_regex, &t),
        Err(ConsumerGroupError::InvalidRegex(..))
    ));
}

#[test]
fn a_regex_subscription_follows_new_topics() {
    let (g, _clock, mut t) = setup();
    let mut h = hb("r", 0, None);
    h.topics = None;
    h.regex = Some("^orders-.*".into());
    t.insert("orders-eu".into(), 1);
    let a = g.heartbeat(h, &t).unwrap();
    assert_eq!(
        a.assignment.unwrap(),
        BTreeSet::from([("orders-eu".to_owned(), 0)])
    );
    t.insert("orders-us".into(), 1);
    let mut c = Client {
        id: a.member_id,
        epoch: a.member_epoch,
        owned: BTreeSet::from([("orders-eu".to_owned(), 0)]),
    };
    c.beat(&g, &t);
    assert_eq!(c.owned.len(), 2);
}

#[test]
fn random_joins_and_leaves_never_give_a_partition_to_two_members() {
    // A small deterministic walk: members join, heartbeat, leave; after
    // every step no partition is owned twice (as the clients see it), and
    // once all settle every partition is owned.
    let (g, _clock, t) = setup();
    let mut clients: Vec<Client> = Vec::new();
    let mut seed = 7u64;
    for step in 0..400 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        match (seed >> 33) % 10 {
            0 if clients.len() < 5 => clients.push(Client::join(&g, &t, &format!("m{step}"))),
            1 if clients.len() > 1 => {
                let c = clients.remove((seed >> 40) as usize % clients.len());
                g.heartbeat(hb(&c.id, -1, None), &t).unwrap();
            }
            _ if !clients.is_empty() => {
                let i = (seed >> 40) as usize % clients.len();
                clients[i].beat(&g, &t);
            }
            _ => {}
        }
        let refs: Vec<&Client> = clients.iter().collect();
        assert!(disjoint(&refs), "step {step}");
    }
    for _ in 0..4 {
        for c in &mut clients {
            c.beat(&g, &t);
        }
    }
    let owned: usize = clients.iter().map(|c| c.owned.len()).sum();
    assert_eq!(owned, if clients.is_empty() { 0 } else { 4 });
}
