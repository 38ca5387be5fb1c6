use std::sync::Arc;

use bytes::Bytes;

use super::*;
use crate::clock::ManualClock;

fn request(member_id: &str) -> JoinRequest {
    JoinRequest {
        group_id: "g".into(),
        member_id: member_id.into(),
        group_instance_id: None,
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 30_000,
        protocol_type: "consumer".into(),
        protocols: vec![("range".into(), Bytes::from_static(b"meta"))],
        require_known_member_id: true,
    }
}

fn setup() -> (ManualClock, Arc<Coordinator>) {
    let clock = ManualClock::new(0);
    (clock.clone(), Arc::new(Coordinator::new(Arc::new(clock))))
}

/// Joins through MEMBER_ID_REQUIRED and returns the member id.
fn member_id(c: &Coordinator) -> String {
    match c.begin_join(request("")) {
        Err(GroupError::MemberIdRequired(id)) => id,
        other => panic!("expected MEMBER_ID_REQUIRED, got {other:?}"),
    }
}

#[tokio::test]
async fn first_member_leads_generation_one() {
    let (_clock, c) = setup();
    let id = member_id(&c);
    let joined = c.join(request(&id)).await.unwrap();
    assert_eq!(joined.generation_id, 1);
    assert_eq!(joined.leader, id);
    assert_eq!(joined.members.len(), 1);
    let assignment = c
        .sync("g", &id, 1, vec![(id.clone(), Bytes::from_static(b"p0"))])
        .await
        .unwrap();
    assert_eq!(assignment, Bytes::from_static(b"p0"));
    assert_eq!(c.describe("g").unwrap().state, GroupState::Stable);
    c.heartbeat("g", &id, 1).unwrap();
    assert_eq!(
        c.heartbeat("g", &id, 0),
        Err(GroupError::IllegalGeneration { current: 1, got: 0 })
    );
    assert_eq!(
        c.heartbeat("g", "nobody", 1),
        Err(GroupError::UnknownMemberId("nobody".into()))
    );
}

#[tokio::test]
async fn a_second_member_triggers_a_rebalance_both_rejoin() {
    let (_clock, c) = setup();
    let a = member_id(&c);
    c.join(request(&a)).await.unwrap();
    c.sync("g", &a, 1, vec![]).await.unwrap();
    let b = member_id(&c);
    let joining_b = tokio::spawn({
        let c = c.clone();
        let b = b.clone();
        async move { c.join(request(&b)).await }
    });
    tokio::task::yield_now().await;
    assert_eq!(
        c.heartbeat("g", &a, 1),
        Err(GroupError::RebalanceInProgress),
        "a learns it must rejoin"
    );
    let a_joined = c.join(request(&a)).await.unwrap();
    let b_joined = joining_b.await.unwrap().unwrap();
    assert_eq!(a_joined.generation_id, 2);
    assert_eq!(b_joined.generation_id, 2);
    assert_eq!(a_joined.leader, a, "the leader stays");
    assert_eq!(a_joined.members.len(), 2);
    assert!(b_joined.members.is_empty(), "only the leader sees members");
}

/// As Kafka's coordinator: while the group prepares a rebalance, a member
/// of the current generation may still commit (what it processed before
/// it rejoins); between the joins and the leader's assignment it may not.
#[tokio::test]
async fn commits_are_taken_while_preparing_a_rebalance_not_while_completing_it() {
    let (_clock, c) = setup();
    let a = member_id(&c);
    c.join(request(&a)).await.unwrap();
    c.sync("g", &a, 1, vec![]).await.unwrap();
    let b = member_id(&c);
    let joining_b = tokio::spawn({
        let c = c.clone();
        let b = b.clone();
        async move { c.join(request(&b)).await }
    });
    tokio::task::yield_now().await;
    assert_eq!(
        c.describe("g").unwrap().state,
        GroupState::PreparingRebalance
    );
    c.validate_commit("g", &a, 1).unwrap();
    c.join(request(&a)).await.unwrap();
    joining_b.await.unwrap().unwrap();
    assert_eq!(
        c.describe("g").unwrap().state,
        GroupState::CompletingRebalance
    );
    assert_eq!(
        c.validate_commit("g", &a, 2),
        Err(GroupError::RebalanceInProgress)
    );
    assert!(matches!(
        c.validate_commit("g", &a, 1),
        Err(GroupError::IllegalGeneration { .. })
    ));
}

#[tokio::test]
async fn silent_members_expire_and_the_rest_rebalance() {
    let (clock, c) = setup();
    let a = member_id(&c);
    c.join(request(&a)).await.unwrap();
    c.sync("g", &a, 1, vec![]).await.unwrap();
    clock.advance_ms(10_001);
    c.tick();
    assert_eq!(c.describe("g").unwrap().state, GroupState::Empty);
    assert_eq!(c.heartbeat("g", &a, 1), Err(GroupError::UnknownMemberId(a)));
}

#[tokio::test]
async fn members_that_do_not_rejoin_are_dropped_at_the_deadline() {
    let (clock, c) = setup();
    let a = member_id(&c);
    c.join(request(&a)).await.unwrap();
    c.sync("g", &a, 1, vec![]).await.unwrap();
    let b = member_id(&c);
    let joining_b = tokio::spawn({
        let c = c.clone();
        async move { c.join(request(&b)).await }
    });
    tokio::task::yield_now().await;
    clock.advance_ms(5_000);
    c.heartbeat("g", &a, 1).unwrap_err();
    clock.advance_ms(26_000);
    c.tick();
    let b_joined = joining_b.await.unwrap().unwrap();
    assert_eq!(b_joined.generation_id, 2);
    assert_eq!(b_joined.members.len(), 1, "a did not rejoin in time");
}

#[tokio::test]
async fn leaving_empties_the_group_and_commits_need_membership() {
    let (_clock, c) = setup();
    let a = member_id(&c);
    c.join(request(&a)).await.unwrap();
    c.sync("g", &a, 1, vec![]).await.unwrap();
    c.validate_commit("g", &a, 1).unwrap();
    assert!(matches!(
        c.validate_commit("g", "", -1),
        Err(GroupError::NonEmptyGroup(_))
    ));
    assert_eq!(c.leave("g", std::slice::from_ref(&a)), vec![Ok(())]);
    assert_eq!(c.describe("g").unwrap().state, GroupState::Empty);
    c.validate_commit("g", "", -1).unwrap();
    c.delete("g").unwrap();
    assert!(c.describe("g").is_none());
}

#[test]
fn bad_joins_are_refused() {
    let (_clock, c) = setup();
    let mut r = request("");
    r.session_timeout_ms = 10;
    assert_eq!(
        c.begin_join(r).unwrap_err(),
        GroupError::InvalidSessionTimeout(10)
    );
    assert_eq!(
        c.begin_join(request("made-up")).unwrap_err(),
        GroupError::UnknownMemberId("made-up".into())
    );
    let mut r = request("");
    r.group_id = String::new();
    assert_eq!(c.begin_join(r).unwrap_err(), GroupError::InvalidGroupId);
}
