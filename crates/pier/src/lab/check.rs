//! What a lab file must satisfy beyond its shape: names that exist, times
//! and counts in range, conditions that parse. The first problem wins,
//! with the span of the value at fault.

use std::collections::BTreeSet;
use std::ops::Range;

use toml::Spanned;

use super::model::{Condition, Lab, Variant, fault_kind, measure_names};

type Problem = (Range<usize>, String);

fn in_range(v: &Spanned<i64>, what: &str, min: i64, max: i64) -> Result<i64, Problem> {
    let n = *v.get_ref();
    if n < min || n > max {
        return Err((v.span(), format!("{what} must be {min}..={max}, got {n}")));
    }
    Ok(n)
}

fn name_ok(v: &Spanned<String>, what: &str) -> Result<(), Problem> {
    let s = v.get_ref();
    let ok = !s.is_empty()
        && s.len() <= 100
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if !ok {
        return Err((
            v.span(),
            format!("{what} {s:?} must be 1-100 characters of [a-zA-Z0-9._-]"),
        ));
    }
    Ok(())
}

pub(super) fn check(lab: &Lab) -> Result<(), Problem> {
    name_ok(&lab.name, "the lab name")?;
    let mut topics = BTreeSet::new();
    for t in &lab.topics {
        name_ok(&t.name, "a topic name")?;
        let p = *t.partitions.get_ref();
        if !(1..=64).contains(&p) {
            return Err((
                t.partitions.span(),
                format!("partitions must be 1..=64, got {p}"),
            ));
        }
        if !topics.insert(t.name.get_ref().clone()) {
            return Err((t.name.span(), format!("topic {:?} twice", t.name.get_ref())));
        }
    }
    if lab.variants.is_empty() {
        return Err((
            lab.name.span(),
            "a lab needs at least one [[variant]]".to_owned(),
        ));
    }
    for v in &lab.variants {
        check_variant(v, &topics)?;
    }
    Ok(())
}

fn known_topic(t: &Spanned<String>, topics: &BTreeSet<String>) -> Result<(), Problem> {
    if !topics.contains(t.get_ref()) {
        return Err((
            t.span(),
            format!(
                "topic {:?} is not one of the lab's [[topic]]s ({})",
                t.get_ref(),
                topics.iter().cloned().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    Ok(())
}

fn check_variant(v: &Variant, topics: &BTreeSet<String>) -> Result<(), Problem> {
    let mut clients = BTreeSet::new();
    for p in &v.producers {
        check_producer(p, topics)?;
        if !clients.insert(p.name.get_ref().clone()) {
            return Err((
                p.name.span(),
                format!("client {:?} twice", p.name.get_ref()),
            ));
        }
    }
    let alerts = check_alerts(v)?;
    for c in &v.consumers {
        check_consumer(c, topics, &alerts)?;
        if !clients.insert(c.name.get_ref().clone()) {
            return Err((
                c.name.span(),
                format!("client {:?} twice", c.name.get_ref()),
            ));
        }
    }
    let mut apps = BTreeSet::new();
    for a in &v.apps {
        name_ok(&a.name, "an app name")?;
        name_ok(&a.group, "a group name")?;
        known_topic(&a.topic, topics)?;
        known_topic(&a.processed_topic, topics)?;
        in_range(&a.restart_after_ms, "restart_after_ms", 0, 60_000)?;
        if a.command.get_ref().first().is_none_or(String::is_empty) {
            return Err((a.command.span(), "command needs a program".to_owned()));
        }
        if !clients.insert(a.name.get_ref().clone()) {
            return Err((
                a.name.span(),
                format!("client {:?} twice", a.name.get_ref()),
            ));
        }
        apps.insert(a.name.get_ref().clone());
    }
    for t in v.topic_config.keys() {
        known_topic(t, topics)?;
    }
    let timeout = in_range(&v.timeout_ms, "timeout_ms", 100, 600_000)?;
    for s in &v.steps {
        check_step(s, v, timeout, &apps, &clients)?;
    }
    let names = measure_names();
    for (k, c) in &v.expect {
        if !names.contains(&k.get_ref().as_str()) {
            return Err((
                k.span(),
                format!(
                    "no verdict {:?} to expect; verdicts: {}",
                    k.get_ref(),
                    names.join(", ")
                ),
            ));
        }
        if Condition::parse(c.get_ref()).is_none() {
            return Err((
                c.span(),
                format!(
                    "{:?} is not a condition (try \"= 0\", \"> 0\", \"<= 10\")",
                    c.get_ref()
                ),
            ));
        }
    }
    Ok(())
}

fn check_alerts(v: &Variant) -> Result<BTreeSet<String>, Problem> {
    let mut names = BTreeSet::new();
    for a in &v.alerts {
        name_ok(&a.name, "an alert name")?;
        in_range(&a.lag_records, "lag_records", 0, 1_000_000)?;
        in_range(&a.for_ms, "for_ms", 0, 600_000)?;
        if !names.insert(a.name.get_ref().clone()) {
            return Err((a.name.span(), format!("alert {:?} twice", a.name.get_ref())));
        }
    }
    Ok(names)
}

fn check_consumer(
    c: &super::model::ConsumerSpec,
    topics: &BTreeSet<String>,
    alerts: &BTreeSet<String>,
) -> Result<(), Problem> {
    name_ok(&c.name, "a consumer name")?;
    name_ok(&c.group, "a group name")?;
    known_topic(&c.topic, topics)?;
    in_range(&c.processing_ms, "processing_ms", 0, 10_000)?;
    in_range(&c.max_poll_records, "max_poll_records", 1, 10_000)?;
    in_range(&c.restart_after_ms, "restart_after_ms", 0, 60_000)?;
    in_range(&c.start_ms, "start_ms", 0, 600_000)?;
    if let Some(n) = &c.crash_after {
        in_range(n, "crash_after", 1, 1_000_000)?;
    }
    if let Some(a) = &c.start_on_alert
        && !alerts.contains(a.get_ref())
    {
        return Err((
            a.span(),
            format!("no [[variant.alert]] {:?} to start on", a.get_ref()),
        ));
    }
    match &c.session_timeout_ms {
        Some(t) if c.kind != super::model::ConsumerKind::Group => Err((
            t.span(),
            "session_timeout_ms is for kind = \"group\" consumers".to_owned(),
        )),
        Some(t) => in_range(
            t,
            "session_timeout_ms",
            i64::from(pier_core::groups::SESSION_TIMEOUT_MIN_MS),
            600_000,
        )
        .map(|_| ()),
        None => Ok(()),
    }?;
    check_consumer_kind(c)
}

fn check_consumer_kind(c: &super::model::ConsumerSpec) -> Result<(), Problem> {
    use super::model::ConsumerKind;
    let queue_only = [
        ("lease_ms", &c.lease_ms),
        ("max_deliveries", &c.max_deliveries),
        ("backoff_ms", &c.backoff_ms),
        ("poison_every", &c.poison_every),
    ];
    match c.kind {
        ConsumerKind::Classic | ConsumerKind::Group => {
            if c.commit.is_none() {
                return Err((
                    c.name.span(),
                    format!(
                        "consumer {:?} needs commit = \"before_processing\" or \"after_processing\"",
                        c.name.get_ref()
                    ),
                ));
            }
            if let Some((key, Some(v))) = queue_only.iter().find(|(_, v)| v.is_some()) {
                return Err((v.span(), format!("{key} is for kind = \"queue\" consumers")));
            }
        }
        ConsumerKind::Queue | ConsumerKind::Share => {
            if let Some(commit) = &c.commit {
                return Err((
                    commit.span(),
                    "a queue or share consumer acknowledges each record: no commit".to_owned(),
                ));
            }
            for (key, v, min, max) in [
                ("lease_ms", &c.lease_ms, 100, 3_600_000),
                ("max_deliveries", &c.max_deliveries, 1, 100),
                ("backoff_ms", &c.backoff_ms, 1, 60_000),
                ("poison_every", &c.poison_every, 1, 1_000_000),
            ] {
                if let Some(v) = v {
                    in_range(v, key, min, max)?;
                }
            }
        }
    }
    Ok(())
}

fn check_producer(
    p: &super::model::ProducerSpec,
    topics: &BTreeSet<String>,
) -> Result<(), Problem> {
    name_ok(&p.name, "a producer name")?;
    known_topic(&p.topic, topics)?;
    in_range(&p.records, "records", 1, 1_000_000)?;
    in_range(&p.rate, "rate", 1, 100_000)?;
    in_range(&p.batch, "batch", 1, 10_000)?;
    in_range(&p.request_timeout_ms, "request_timeout_ms", 50, 60_000)?;
    in_range(
        &p.delivery_timeout_ms,
        "delivery_timeout_ms",
        *p.request_timeout_ms.get_ref(),
        600_000,
    )?;
    in_range(&p.first_id, "first_id", 0, 1_000_000_000)?;
    let most = if p.idempotence { 5 } else { 100 };
    in_range(&p.max_in_flight, "max_in_flight", 1, most)?;
    in_range(&p.start_ms, "start_ms", 0, 600_000)?;
    if let Some(prefix) = &p.id_prefix {
        name_ok(prefix, "an id_prefix")?;
    }
    if !["all", "-1", "1", "0"].contains(&p.acks.get_ref().as_str()) {
        return Err((
            p.acks.span(),
            format!(
                "acks must be \"all\", \"1\" or \"0\", got {:?}",
                p.acks.get_ref()
            ),
        ));
    }
    if p.idempotence && p.acks.get_ref() != "all" && p.acks.get_ref() != "-1" {
        return Err((
            p.acks.span(),
            "idempotence needs acks = \"all\" (as in Kafka)".to_owned(),
        ));
    }
    Ok(())
}

fn check_step(
    s: &super::model::Step,
    v: &Variant,
    timeout: i64,
    apps: &BTreeSet<String>,
    clients: &BTreeSet<String>,
) -> Result<(), Problem> {
    let at = *s.at_ms.get_ref();
    if at < 0 {
        return Err((
            s.at_ms.span(),
            format!("at_ms must not be negative, got {at}"),
        ));
    }
    if at > timeout {
        return Err((
            s.at_ms.span(),
            format!("at_ms {at} is after the variant's timeout_ms ({timeout})"),
        ));
    }
    for c in s.fix.iter().chain(&s.replay) {
        let per_record = v.consumers.iter().any(|x| {
            x.name.get_ref() == c.get_ref()
                && matches!(
                    x.kind,
                    super::model::ConsumerKind::Queue | super::model::ConsumerKind::Share
                )
        });
        if !per_record {
            return Err((
                c.span(),
                format!(
                    "no queue or share consumer {:?} in this variant to fix or replay for",
                    c.get_ref()
                ),
            ));
        }
    }
    if let Some(k) = &s.kill
        && !apps.contains(k.get_ref())
    {
        return Err((
            k.span(),
            format!("no app {:?} to kill in this variant", k.get_ref()),
        ));
    }
    let Some(f) = &s.fault else { return Ok(()) };
    let Some(kind) = fault_kind(f) else {
        let kinds: Vec<&str> = pier_core::faults::FaultKind::ALL
            .iter()
            .map(|k| k.name())
            .collect();
        return Err((
            f.kind.span(),
            format!(
                "no fault kind {:?}; kinds: {}",
                f.kind.get_ref(),
                kinds.join(", ")
            ),
        ));
    };
    if kind.is_per_member() || kind == pier_core::faults::FaultKind::PoisonMessages {
        return Err((
            f.kind.span(),
            format!(
                "fault {:?} acts on the workbench's own simulations; in a lab, \
                 crash a consumer with crash_after",
                f.kind.get_ref()
            ),
        ));
    }
    let request = pier_core::faults::FaultRequest {
        kind: f.kind.get_ref().clone(),
        params: (!f.params.is_empty()).then(|| f.params.clone()),
        duration_ms: f.duration_ms,
        client_id: f.client.as_ref().map(|c| c.get_ref().clone()),
        member: None,
        topic: None,
    };
    if let Err(e) = request.validate() {
        return Err((f.kind.span(), format!("fault {:?}: {e}", f.kind.get_ref())));
    }
    if let Some(client) = &f.client {
        if !kind.is_network() {
            return Err((
                client.span(),
                format!(
                    "only network faults take a client ({:?} does not)",
                    kind.name()
                ),
            ));
        }
        if !clients.contains(client.get_ref()) {
            return Err((
                client.span(),
                format!("no client {:?} in this variant", client.get_ref()),
            ));
        }
    }
    Ok(())
}
