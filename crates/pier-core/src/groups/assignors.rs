//! Server-side assignors for consumer groups (KIP-848): `uniform` (the
//! default: balanced and sticky) and `range` (contiguous ranges per topic,
//! as the classic range assignor).

use std::collections::{BTreeMap, BTreeSet};

/// A partition of a topic.
pub type TopicPartition = (String, u32);

/// The assignors Pier offers, by the name clients ask for.
pub const ASSIGNORS: [&str; 2] = ["uniform", "range"];

/// What each member (by id) should own, given what each subscribes to
/// (topic names, already matched) and each topic's partition count.
/// `current` is what members own now: `uniform` keeps as much as balance
/// allows.
pub fn assign(
    assignor: &str,
    subscriptions: &BTreeMap<String, BTreeSet<String>>,
    partitions: &BTreeMap<String, u32>,
    current: &BTreeMap<String, BTreeSet<TopicPartition>>,
) -> BTreeMap<String, BTreeSet<TopicPartition>> {
    let mut out: BTreeMap<String, BTreeSet<TopicPartition>> = subscriptions
        .keys()
        .map(|m| (m.clone(), BTreeSet::new()))
        .collect();
    for (topic, &count) in partitions {
        let members: Vec<&String> = subscriptions
            .iter()
            .filter(|(_, topics)| topics.contains(topic))
            .map(|(m, _)| m)
            .collect();
        if members.is_empty() || count == 0 {
            continue;
        }
        if assignor == "range" {
            range(topic, count, &members, &mut out);
        } else {
            uniform(topic, count, &members, current, &mut out);
        }
    }
    out
}

/// Member i of n gets a contiguous range; the first `count % n` get one more.
fn range(
    topic: &str,
    count: u32,
    members: &[&String],
    out: &mut BTreeMap<String, BTreeSet<TopicPartition>>,
) {
    let n = members.len() as u32;
    let (each, extra) = (count / n, count % n);
    let mut next = 0;
    for (i, m) in members.iter().enumerate() {
        let take = each + u32::from((i as u32) < extra);
        let owned = out.entry((*m).clone()).or_default();
        owned.extend((next..next + take).map(|p| (topic.to_owned(), p)));
        next += take;
    }
}

/// Balanced per topic: no member has two more partitions of it than
/// another. A member keeps what it owns up to its share; the rest go to
/// whoever has least.
fn uniform(
    topic: &str,
    count: u32,
    members: &[&String],
    current: &BTreeMap<String, BTreeSet<TopicPartition>>,
    out: &mut BTreeMap<String, BTreeSet<TopicPartition>>,
) {
    let n = members.len() as u32;
    let (each, extra) = (count / n, count % n);
    let mut share: BTreeMap<&String, u32> = BTreeMap::new();
    let mut free: BTreeSet<u32> = (0..count).collect();
    let mut extras_left = extra;
    // Keep: in member order, each keeps up to its share (one more while
    // the extra partitions last).
    for m in members {
        let kept: Vec<u32> = current
            .get(*m)
            .into_iter()
            .flatten()
            .filter(|(t, p)| t == topic && free.contains(p))
            .map(|(_, p)| *p)
            .collect();
        let cap = each + u32::from(extras_left > 0 && kept.len() as u32 > each);
        if cap > each {
            extras_left -= 1;
        }
        let kept: Vec<u32> = kept.into_iter().take(cap as usize).collect();
        for p in &kept {
            free.remove(p);
        }
        share.insert(m, kept.len() as u32);
        out.entry((*m).clone())
            .or_default()
            .extend(kept.into_iter().map(|p| (topic.to_owned(), p)));
    }
    // Give: each free partition to the member with fewest (ties by id),
    // never past `each` (+1 while extras last).
    for p in free {
        let Some(m) = members
            .iter()
            .filter(|m| {
                let have = share[*m];
                have < each || (have == each && extras_left > 0)
            })
            .min_by_key(|m| (share[*m], **m))
        else {
            continue;
        };
        if share[*m] == each {
            extras_left -= 1;
        }
        *share.get_mut(*m).expect("member") += 1;
        out.entry((*m).clone())
            .or_default()
            .insert((topic.to_owned(), p));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subs(members: &[&str], topics: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
        members
            .iter()
            .map(|m| {
                (
                    m.to_string(),
                    topics.iter().map(|t| t.to_string()).collect(),
                )
            })
            .collect()
    }

    fn all(a: &BTreeMap<String, BTreeSet<TopicPartition>>) -> Vec<TopicPartition> {
        let mut v: Vec<TopicPartition> = a.values().flatten().cloned().collect();
        v.sort();
        v
    }

    #[test]
    fn every_partition_once_and_balanced() {
        for assignor in ASSIGNORS {
            for members in 1..=5usize {
                for count in 0..=7u32 {
                    let names: Vec<String> = (0..members).map(|i| format!("m{i}")).collect();
                    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                    let parts = BTreeMap::from([("t".to_owned(), count)]);
                    let a = assign(assignor, &subs(&refs, &["t"]), &parts, &BTreeMap::new());
                    let expected: Vec<TopicPartition> =
                        (0..count).map(|p| ("t".to_owned(), p)).collect();
                    assert_eq!(all(&a), expected, "{assignor} {members} {count}");
                    let sizes: Vec<usize> = a.values().map(BTreeSet::len).collect();
                    let (lo, hi) = (sizes.iter().min(), sizes.iter().max());
                    assert!(hi.unwrap() - lo.unwrap() <= 1, "{assignor} {sizes:?}");
                }
            }
        }
    }

    #[test]
    fn uniform_keeps_what_it_can() {
        let parts = BTreeMap::from([("t".to_owned(), 6u32)]);
        let one = assign("uniform", &subs(&["a"], &["t"]), &parts, &BTreeMap::new());
        let two = assign("uniform", &subs(&["a", "b"], &["t"]), &parts, &one);
        // a keeps three of its six; b gets the other three.
        assert_eq!(two["a"].len(), 3);
        assert!(two["a"].is_subset(&one["a"]));
        assert_eq!(two["b"].len(), 3);
        assert!(two["a"].is_disjoint(&two["b"]));
    }

    #[test]
    fn only_subscribers_get_a_topic() {
        let parts = BTreeMap::from([("t".to_owned(), 2u32), ("u".to_owned(), 2u32)]);
        let mut s = subs(&["a"], &["t"]);
        s.extend(subs(&["b"], &["u"]));
        let a = assign("uniform", &s, &parts, &BTreeMap::new());
        assert!(a["a"].iter().all(|(t, _)| t == "t"));
        assert!(a["b"].iter().all(|(t, _)| t == "u"));
        assert_eq!(all(&a).len(), 4);
    }
}
