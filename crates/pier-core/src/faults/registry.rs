//! The fault registry: what each fault kind does and teaches, its
//! parameters with units and limits, the faults active now, and the
//! timeline of everything started, healed and recovered.
//!
//! Pure bookkeeping: applying a fault (flipping a disk switch, crashing
//! the broker) is done by whoever owns the part, which asks the registry
//! what is active. The timeline is persisted by [`super::timeline`].

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

pub use super::catalog::{FaultKind, FaultSpec, ParamSpec, ScopeKind, catalog, spec};

/// Longest a fault may last before healing itself.
pub const FAULT_DURATION_MAX_MS: u64 = 3_600_000;
/// Timeline entries kept (in memory and on open).
pub const TIMELINE_MAX: usize = 1_000;
/// Faults active at once.
pub const ACTIVE_MAX: usize = 64;

/// A request to start a fault, as a user gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema, ts_rs::TS))]
#[serde(deny_unknown_fields)]
pub struct FaultRequest {
    /// One of the kinds in the catalog, e.g. `slow_fsync`.
    pub kind: String,
    /// Parameters by name; missing ones take their default.
    #[serde(default)]
    #[cfg_attr(feature = "schema", ts(optional))]
    pub params: Option<BTreeMap<String, u64>>,
    /// Heal on its own after this long (1 ms to 1 hour); default: until
    /// healed. Not for instant faults.
    #[serde(default)]
    #[cfg_attr(feature = "schema", ts(optional))]
    pub duration_ms: Option<u64>,
    /// Network faults only: affect just the connections of this
    /// `client.id` (default: every client).
    #[serde(default)]
    #[cfg_attr(feature = "schema", ts(optional))]
    pub client_id: Option<String>,
    /// Consumer faults: the simulated consumer to hit (required).
    #[serde(default)]
    #[cfg_attr(feature = "schema", ts(optional))]
    pub member: Option<String>,
    /// Poison messages: the topic whose records are poison (required).
    #[serde(default)]
    #[cfg_attr(feature = "schema", ts(optional))]
    pub topic: Option<String>,
}

/// A fault that is on now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema, ts_rs::TS))]
pub struct Fault {
    pub id: u64,
    pub kind: FaultKind,
    /// Every parameter, defaults filled in.
    pub params: BTreeMap<String, u64>,
    /// The one client affected, if not all.
    pub client_id: Option<String>,
    /// The simulated consumer affected (consumer faults).
    pub member: Option<String>,
    /// The topic affected (poison messages).
    pub topic: Option<String>,
    pub started_ms: i64,
    /// When it heals on its own, if it does.
    pub heals_at_ms: Option<i64>,
}

/// What happened to a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema, ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum FaultEvent {
    Started,
    /// Healed on request.
    Healed,
    /// Healed because its duration ran out.
    Expired,
    /// The broker came back after a crash, power loss or storage error.
    Recovered,
    /// Something did not go as planned (e.g. the restart failed).
    Failed,
}

/// One line of the fault timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema, ts_rs::TS))]
pub struct TimelineEntry {
    /// The fault this is about.
    pub fault: u64,
    pub kind: FaultKind,
    pub event: FaultEvent,
    pub t_ms: i64,
    /// What happened, for people (e.g. what recovery found).
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultError {
    #[error("unknown fault kind {0:?}; known kinds are {1}")]
    UnknownKind(String, String),
    #[error("{kind} has no parameter {param:?}; it takes {known}")]
    UnknownParam {
        kind: &'static str,
        param: String,
        known: String,
    },
    #[error("{param} must be {min}..={max} {unit}, got {value}")]
    OutOfRange {
        param: String,
        value: u64,
        min: u64,
        max: u64,
        unit: String,
    },
    #[error("duration_ms must be 1..={FAULT_DURATION_MAX_MS}, got {0}")]
    BadDuration(u64),
    #[error("{0} happens at once and heals by itself: it takes no duration")]
    InstantWithDuration(&'static str),
    #[error("{0} is already active (fault {1}); heal it first")]
    AlreadyActive(&'static str, u64),
    #[error("{0} affects the whole broker; client_id is only for network faults")]
    NotPerClient(&'static str),
    #[error("client_id must be 1–255 characters")]
    BadClientId,
    #[error("{0} needs a {1}")]
    Missing(&'static str, &'static str),
    #[error("{0} takes no {1}")]
    Unexpected(&'static str, &'static str),
    #[error("no active fault {0}")]
    NotActive(u64),
    #[error("{ACTIVE_MAX} faults are active; heal some first")]
    TooMany,
}

/// A checked request: known kind, every parameter in range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidFault {
    pub kind: FaultKind,
    pub params: BTreeMap<String, u64>,
    pub duration_ms: Option<u64>,
    pub client_id: Option<String>,
    pub member: Option<String>,
    pub topic: Option<String>,
}

impl ValidFault {
    pub fn param(&self, name: &str) -> u64 {
        self.params.get(name).copied().unwrap_or(0)
    }
}

impl FaultRequest {
    pub fn validate(&self) -> Result<ValidFault, FaultError> {
        let kind = FaultKind::parse(&self.kind).ok_or_else(|| {
            FaultError::UnknownKind(
                self.kind.clone(),
                FaultKind::ALL.map(FaultKind::name).join(", "),
            )
        })?;
        let spec = spec(kind);
        let given = self.params.clone().unwrap_or_default();
        for name in given.keys() {
            if !spec.params.iter().any(|p| &p.name == name) {
                let known = if spec.params.is_empty() {
                    "no parameters".to_owned()
                } else {
                    spec.params
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                return Err(FaultError::UnknownParam {
                    kind: kind.name(),
                    param: name.clone(),
                    known,
                });
            }
        }
        let mut params = BTreeMap::new();
        for p in &spec.params {
            let value = given.get(&p.name).copied().unwrap_or(p.default);
            if !(p.min..=p.max).contains(&value) {
                return Err(FaultError::OutOfRange {
                    param: p.name.clone(),
                    value,
                    min: p.min,
                    max: p.max,
                    unit: p.unit.clone(),
                });
            }
            params.insert(p.name.clone(), value);
        }
        if let Some(d) = self.duration_ms {
            if kind.is_instant() {
                return Err(FaultError::InstantWithDuration(kind.name()));
            }
            if !(1..=FAULT_DURATION_MAX_MS).contains(&d) {
                return Err(FaultError::BadDuration(d));
            }
        }
        if let Some(c) = &self.client_id {
            if !kind.is_network() {
                return Err(FaultError::NotPerClient(kind.name()));
            }
            if c.is_empty() || c.len() > 255 {
                return Err(FaultError::BadClientId);
            }
        }
        let name = kind.name();
        match (kind.is_per_member(), &self.member) {
            (true, None) => return Err(FaultError::Missing(name, "member")),
            (false, Some(_)) => return Err(FaultError::Unexpected(name, "member")),
            _ => {}
        }
        match (kind == FaultKind::PoisonMessages, &self.topic) {
            (true, None) => return Err(FaultError::Missing(name, "topic")),
            (false, Some(_)) => return Err(FaultError::Unexpected(name, "topic")),
            _ => {}
        }
        Ok(ValidFault {
            kind,
            params,
            duration_ms: self.duration_ms,
            client_id: self.client_id.clone(),
            member: self.member.clone(),
            topic: self.topic.clone(),
        })
    }
}

/// Active faults and the timeline.
#[derive(Debug, Default)]
pub struct FaultRegistry {
    next_id: u64,
    active: BTreeMap<u64, Fault>,
    timeline: VecDeque<TimelineEntry>,
}

impl FaultRegistry {
    /// A registry continuing `timeline` (oldest first), as loaded on open.
    pub fn with_timeline(timeline: Vec<TimelineEntry>) -> Self {
        let next_id = timeline.iter().map(|e| e.fault).max().map_or(1, |m| m + 1);
        let mut r = Self {
            next_id,
            ..Self::default()
        };
        for e in timeline {
            r.push(e);
        }
        r
    }

    fn push(&mut self, e: TimelineEntry) {
        if self.timeline.len() == TIMELINE_MAX {
            self.timeline.pop_front();
        }
        self.timeline.push_back(e);
    }

    /// Checks that `f` may start now (nothing of its kind active, room
    /// left) without changing anything.
    pub fn check_start(&self, f: &ValidFault) -> Result<(), FaultError> {
        if let Some(a) = self.active.values().find(|a| {
            a.kind == f.kind
                && a.client_id == f.client_id
                && a.member == f.member
                && a.topic == f.topic
        }) {
            return Err(FaultError::AlreadyActive(f.kind.name(), a.id));
        }
        if self.active.len() >= ACTIVE_MAX {
            return Err(FaultError::TooMany);
        }
        Ok(())
    }

    /// Starts `f`: instant faults get an id and a timeline entry but do not
    /// stay active.
    pub fn start(
        &mut self,
        f: &ValidFault,
        now_ms: i64,
        detail: String,
    ) -> Result<(Fault, TimelineEntry), FaultError> {
        self.check_start(f)?;
        self.next_id = self.next_id.max(1);
        let fault = Fault {
            id: self.next_id,
            kind: f.kind,
            params: f.params.clone(),
            client_id: f.client_id.clone(),
            member: f.member.clone(),
            topic: f.topic.clone(),
            started_ms: now_ms,
            heals_at_ms: f.duration_ms.map(|d| now_ms.saturating_add(d as i64)),
        };
        self.next_id += 1;
        if !f.kind.is_instant() {
            self.active.insert(fault.id, fault.clone());
        }
        let entry = self.note(fault.id, f.kind, FaultEvent::Started, now_ms, detail);
        Ok((fault, entry))
    }

    /// Ends an active fault.
    pub fn heal(
        &mut self,
        id: u64,
        event: FaultEvent,
        now_ms: i64,
        detail: String,
    ) -> Result<(Fault, TimelineEntry), FaultError> {
        let fault = self.active.remove(&id).ok_or(FaultError::NotActive(id))?;
        let entry = self.note(id, fault.kind, event, now_ms, detail);
        Ok((fault, entry))
    }

    /// Adds a timeline entry (e.g. a recovery) and returns it.
    pub fn note(
        &mut self,
        fault: u64,
        kind: FaultKind,
        event: FaultEvent,
        t_ms: i64,
        detail: String,
    ) -> TimelineEntry {
        let e = TimelineEntry {
            fault,
            kind,
            event,
            t_ms,
            detail,
        };
        self.push(e.clone());
        e
    }

    pub fn active(&self) -> Vec<Fault> {
        self.active.values().cloned().collect()
    }

    pub fn get(&self, id: u64) -> Option<&Fault> {
        self.active.get(&id)
    }

    /// Active faults whose duration has run out.
    pub fn due(&self, now_ms: i64) -> Vec<u64> {
        self.active
            .values()
            .filter(|f| f.heals_at_ms.is_some_and(|t| t <= now_ms))
            .map(|f| f.id)
            .collect()
    }

    /// Timeline entries, oldest first.
    pub fn timeline(&self) -> Vec<TimelineEntry> {
        self.timeline.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(kind: &str, params: &[(&str, u64)], duration_ms: Option<u64>) -> FaultRequest {
        FaultRequest {
            kind: kind.to_owned(),
            params: Some(params.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()),
            duration_ms,
            ..FaultRequest::default()
        }
    }

    #[test]
    fn every_kind_is_described_with_sane_parameters() {
        for spec in catalog() {
            assert!(!spec.does.is_empty() && !spec.teaches.is_empty());
            assert_eq!(FaultKind::parse(spec.kind.name()), Some(spec.kind));
            for p in &spec.params {
                assert!(p.min <= p.default && p.default <= p.max, "{p:?}");
            }
        }
    }

    #[test]
    fn bad_requests_are_refused_with_the_reason() {
        let e = req("meteor", &[], None).validate().unwrap_err();
        assert!(e.to_string().contains("slow_fsync"), "{e}");
        let e = req("slow_fsync", &[("delay", 5)], None)
            .validate()
            .unwrap_err();
        assert!(e.to_string().contains("takes delay_ms"), "{e}");
        let e = req("slow_fsync", &[("delay_ms", 0)], None)
            .validate()
            .unwrap_err();
        assert!(matches!(e, FaultError::OutOfRange { .. }), "{e}");
        let e = req("slow_fsync", &[], Some(0)).validate().unwrap_err();
        assert_eq!(e, FaultError::BadDuration(0));
        let e = req("broker_crash", &[], Some(10)).validate().unwrap_err();
        assert_eq!(e, FaultError::InstantWithDuration("broker_crash"));
        let ok = req("slow_fsync", &[], Some(10)).validate().unwrap();
        assert_eq!(ok.param("delay_ms"), 50, "the default");
    }

    #[test]
    fn active_faults_heal_once_and_expire_on_time() {
        let mut r = FaultRegistry::default();
        let slow = req("slow_fsync", &[], Some(100)).validate().unwrap();
        let (f, _) = r.start(&slow, 1_000, String::new()).unwrap();
        assert!(matches!(
            r.start(&slow, 1_001, String::new()),
            Err(FaultError::AlreadyActive(..))
        ));
        assert!(r.due(1_099).is_empty());
        assert_eq!(r.due(1_100), [f.id]);
        r.heal(f.id, FaultEvent::Expired, 1_100, String::new())
            .unwrap();
        assert_eq!(
            r.heal(f.id, FaultEvent::Healed, 1_101, String::new())
                .unwrap_err(),
            FaultError::NotActive(f.id)
        );
        let crash = req("broker_crash", &[], None).validate().unwrap();
        let (c, _) = r.start(&crash, 2_000, String::new()).unwrap();
        assert!(r.active().is_empty(), "instant faults do not stay");
        assert!(c.id > f.id);
        let events: Vec<FaultEvent> = r.timeline().iter().map(|e| e.event).collect();
        assert_eq!(
            events,
            [
                FaultEvent::Started,
                FaultEvent::Expired,
                FaultEvent::Started
            ]
        );
        // Ids continue after a reload.
        let again = FaultRegistry::with_timeline(r.timeline());
        assert_eq!(again.next_id, c.id + 1);
    }
}
