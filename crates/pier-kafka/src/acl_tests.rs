use super::*;
use Operation::{All, Create, Describe, Read, Write};
use Resource::{Group, Topic};

fn rule(principal: &str, resource: Resource, pattern: &str, ops: &[Operation]) -> AclRule {
    AclRule {
        principal: principal.to_owned(),
        resource,
        pattern: pattern.to_owned(),
        operations: ops.to_vec(),
    }
}

fn store(rules: &[AclRule]) -> AclStore {
    let store = AclStore::in_memory();
    for r in rules {
        store.add(r.clone()).unwrap();
    }
    store
}

#[test]
fn no_rule_means_denied() {
    let s = store(&[]);
    for op in Operation::ALL {
        assert!(!s.allows("alice", Topic, "orders", op), "{op}");
        assert!(!s.allows(ANONYMOUS, Group, "g", op), "{op}");
    }
}

#[test]
fn exact_names_match_only_themselves() {
    let s = store(&[rule("alice", Topic, "orders", &[Write])]);
    assert!(s.allows("alice", Topic, "orders", Write));
    assert!(!s.allows("alice", Topic, "orders", Read));
    assert!(!s.allows("alice", Topic, "orders2", Write));
    assert!(!s.allows("alice", Topic, "order", Write));
    assert!(
        !s.allows("alice", Group, "orders", Write),
        "a topic rule is not a group rule"
    );
    assert!(!s.allows("bob", Topic, "orders", Write), "another user");
    assert!(!s.allows(ANONYMOUS, Topic, "orders", Write));
}

#[test]
fn prefixes_and_wildcards() {
    let s = store(&[
        rule("alice", Topic, "orders*", &[Read]),
        rule("bob", Group, "*", &[Read]),
    ]);
    assert!(s.allows("alice", Topic, "orders", Read));
    assert!(s.allows("alice", Topic, "orders.eu", Read));
    assert!(!s.allows("alice", Topic, "order", Read));
    assert!(!s.allows("alice", Topic, "my-orders", Read));
    assert!(s.allows("bob", Group, "anything", Read));
    assert!(s.allows("bob", Group, "", Read));
    assert!(!s.allows("bob", Topic, "anything", Read));
}

#[test]
fn describe_is_implied_by_read_write_and_create_but_implies_nothing() {
    for granted in [Read, Write, Create, Describe, All] {
        let s = store(&[rule("alice", Topic, "t", &[granted])]);
        assert!(s.allows("alice", Topic, "t", Describe), "{granted}");
    }
    let s = store(&[rule("alice", Topic, "t", &[Describe])]);
    for op in [Read, Write, Create, All] {
        assert!(!s.allows("alice", Topic, "t", op), "{op}");
    }
    let s = store(&[rule("alice", Topic, "t", &[Read])]);
    assert!(!s.allows("alice", Topic, "t", Write));
    assert!(!s.allows("alice", Topic, "t", Create));
    let s = store(&[rule("alice", Topic, "t", &[All])]);
    for op in Operation::ALL {
        assert!(s.allows("alice", Topic, "t", op), "{op}");
    }
}

#[test]
fn anonymous_and_everyone() {
    let s = store(&[
        rule(ANONYMOUS, Topic, "public", &[Read]),
        rule(EVERYONE, Group, "shared", &[Read]),
    ]);
    assert!(s.allows(ANONYMOUS, Topic, "public", Read));
    assert!(
        !s.allows("alice", Topic, "public", Read),
        "ANONYMOUS is not everyone"
    );
    assert!(s.allows("alice", Group, "shared", Read));
    assert!(s.allows(ANONYMOUS, Group, "shared", Read));
    assert!(!s.allows("alice", Group, "shared2", Read));
}

#[test]
fn rules_are_normalized_and_invalid_ones_refused() {
    let s = AclStore::in_memory();
    let (stored, added) = s
        .add(rule("User:alice", Topic, "t", &[Write, Read, Write]))
        .unwrap();
    assert!(added);
    assert_eq!(stored, rule("alice", Topic, "t", &[Read, Write]));
    let (_, added) = s.add(rule("alice", Topic, "t", &[Read, Write])).unwrap();
    assert!(!added, "the same rule twice is one rule");
    assert_eq!(s.list().len(), 1);
    let (all, _) = s.add(rule("bob", Group, "g", &[Read, All])).unwrap();
    assert_eq!(all.operations, vec![All]);

    for (bad, what) in [
        (rule("", Topic, "t", &[Read]), "empty principal"),
        (rule("alice", Topic, "", &[Read]), "empty pattern"),
        (rule("alice", Topic, "a*b", &[Read]), "star inside"),
        (rule("alice", Topic, "**", &[Read]), "two stars"),
        (rule("alice", Topic, "t", &[]), "no operations"),
        (rule("a\nb", Topic, "t", &[Read]), "control character"),
        (
            rule("alice", Topic, &"x".repeat(PATTERN_MAX_BYTES + 1), &[Read]),
            "too long",
        ),
    ] {
        assert!(
            matches!(s.add(bad), Err(AclError::InvalidRule(_))),
            "{what}"
        );
    }
    let longest = rule("alice", Topic, &"x".repeat(PATTERN_MAX_BYTES), &[Read]);
    assert!(s.add(longest).is_ok());
}

#[test]
fn removing_takes_exactly_that_rule() {
    let s = store(&[
        rule("alice", Topic, "t", &[Read, Write]),
        rule("alice", Topic, "t", &[Read]),
    ]);
    let removed = s
        .remove(rule("User:alice", Topic, "t", &[Write, Read]))
        .unwrap();
    assert_eq!(removed.operations, vec![Read, Write]);
    assert_eq!(s.list(), vec![rule("alice", Topic, "t", &[Read])]);
    assert!(!s.allows("alice", Topic, "t", Write));
    assert!(matches!(
        s.remove(rule("alice", Topic, "t", &[Write])),
        Err(AclError::Unknown(_))
    ));
}

#[test]
fn the_number_of_rules_is_bounded() {
    let s = AclStore::in_memory();
    for i in 0..ACL_RULES_MAX {
        s.add(rule("alice", Topic, &format!("t{i}"), &[Read]))
            .unwrap();
    }
    assert!(matches!(
        s.add(rule("alice", Topic, "one-more", &[Read])),
        Err(AclError::TooMany)
    ));
    let (_, added) = s.add(rule("alice", Topic, "t0", &[Read])).unwrap();
    assert!(!added, "an existing rule is still accepted at the limit");
}

#[test]
fn rules_persist_privately_and_a_broken_file_is_an_error() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let s = AclStore::open(dir.path()).unwrap();
    assert!(s.list().is_empty());
    s.add(rule("alice", Topic, "orders*", &[Read, Write]))
        .unwrap();
    s.add(rule(ANONYMOUS, Group, "g", &[Read])).unwrap();
    s.add(rule("bob", Group, "g", &[Read])).unwrap();
    s.remove(rule("bob", Group, "g", &[Read])).unwrap();
    let path = dir.path().join(ACLS_FILE);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let again = AclStore::open(dir.path()).unwrap();
    assert_eq!(again.list(), s.list());
    assert_eq!(again.list().len(), 2);
    assert!(again.allows("alice", Topic, "orders-eu", Write));
    assert!(again.allows(ANONYMOUS, Group, "g", Read));
    assert!(!again.allows("bob", Group, "g", Read));

    for broken in [
        &b"{ not json"[..],
        br#"[{"principal":"alice","resource":"topic","pattern":"a*b","operations":["read"]}]"#,
        br#"[{"principal":"alice","resource":"queue","pattern":"a","operations":["read"]}]"#,
        br#"[{"principal":"alice","resource":"topic","pattern":"a","operations":["write","read"]}]"#,
    ] {
        std::fs::write(&path, broken).unwrap();
        let err = AclStore::open(dir.path()).unwrap_err();
        assert!(matches!(err, AclError::Unreadable { .. }), "{err}");
        assert!(err.to_string().contains(ACLS_FILE), "{err}");
    }
}

#[test]
fn operations_parse_from_their_names() {
    assert_eq!("READ".parse::<Operation>(), Ok(Read));
    assert_eq!(" all".parse::<Operation>(), Ok(All));
    assert!("delete".parse::<Operation>().is_err());
    assert_eq!(
        rule("alice", Topic, "orders*", &[Read, Write]).to_string(),
        "alice may read, write topic orders*"
    );
}
