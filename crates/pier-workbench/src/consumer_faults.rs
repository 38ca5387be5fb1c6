//! Faults that hit simulated consumers: killed, slowed, crashed between
//! processing and acknowledging, or fed poison records. The simulation
//! asks here as it works; the fault layer fills it in.

use std::collections::{BTreeMap, BTreeSet};

use pier_core::faults::{Fault, FaultKind};

use crate::{Workbench, WorkbenchError};

#[derive(Debug, Default)]
pub(crate) struct ConsumerFaults {
    /// Members to kill at their next step (one-shot).
    kill: BTreeSet<String>,
    /// Members to crash after processing their current records (one-shot).
    crash_before_ack: BTreeSet<String>,
    /// Fault id → (member, extra ms per record).
    slow: BTreeMap<u64, (String, u64)>,
    /// Fault id → (topic, every n-th offset).
    poison: BTreeMap<u64, (String, u64)>,
}

impl ConsumerFaults {
    pub fn add(&mut self, f: &Fault) {
        let member = f.member.clone().unwrap_or_default();
        let p = |name: &str| f.params.get(name).copied().unwrap_or(0);
        match f.kind {
            FaultKind::KillConsumer => {
                self.kill.insert(member);
            }
            FaultKind::CrashBeforeAck => {
                self.crash_before_ack.insert(member);
            }
            FaultKind::SlowConsumer => {
                self.slow.insert(f.id, (member, p("delay_ms")));
            }
            FaultKind::PoisonMessages => {
                let topic = f.topic.clone().unwrap_or_default();
                self.poison.insert(f.id, (topic, p("every").max(1)));
            }
            _ => {}
        }
    }

    pub fn remove(&mut self, id: u64) {
        self.slow.remove(&id);
        self.poison.remove(&id);
    }

    pub fn take_kill(&mut self, member: &str) -> bool {
        self.kill.remove(member)
    }

    pub fn take_crash_before_ack(&mut self, member: &str) -> bool {
        self.crash_before_ack.remove(member)
    }

    pub fn extra_delay_ms(&self, member: &str) -> u64 {
        self.slow
            .values()
            .filter(|(m, _)| m == member)
            .map(|(_, d)| d)
            .sum()
    }

    pub fn is_poison(&self, topic: &str, offset: u64) -> bool {
        self.poison
            .values()
            .any(|(t, every)| t == topic && offset.is_multiple_of(*every))
    }
}

impl Workbench {
    pub(crate) fn consumer_faults(&self) -> std::sync::MutexGuard<'_, ConsumerFaults> {
        self.faults.consumers.lock().expect("consumer faults lock")
    }

    /// Checks that a consumer fault has something to hit.
    pub(crate) fn check_consumer_target(
        &self,
        member: Option<&str>,
        topic: Option<&str>,
    ) -> Result<(), WorkbenchError> {
        if let Some(m) = member
            && !self.live_sim_members().iter().any(|x| x == m)
        {
            return Err(WorkbenchError::not_found(format!(
                "no running simulated consumer {m:?}; start a simulated consumer group first"
            )));
        }
        if let Some(t) = topic {
            self.topic(t)?;
        }
        Ok(())
    }
}
