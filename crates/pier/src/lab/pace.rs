//! Slow motion: a lab run `slow` times slower, to watch it happen. Every
//! time in the file is multiplied (start times, steps, fault durations,
//! processing, leases, backoffs, sessions, alerts, timeouts) and every rate
//! divided, so the run is the same story in the same order; the
//! expectations on times (`max_wait_ms`) scale with it.

use toml::Spanned;

use super::model::{ConsumerKind, Lab};

/// The most a lab can be slowed down.
pub const SLOW_MAX: u32 = 10;

fn times(v: &mut Spanned<i64>, f: i64) {
    *v.get_mut() = v.get_ref().saturating_mul(f);
}

fn some_times(v: &mut Option<Spanned<i64>>, f: i64) {
    if let Some(v) = v {
        times(v, f);
    }
}

/// `lab`, `slow` times slower (1: as written).
pub fn slowed(mut lab: Lab, slow: u32) -> Lab {
    let f = i64::from(slow.clamp(1, SLOW_MAX));
    if f == 1 {
        return lab;
    }
    for v in &mut lab.variants {
        times(&mut v.timeout_ms, f);
        for p in &mut v.producers {
            *p.rate.get_mut() = (*p.rate.get_ref() / f).max(1);
            times(&mut p.start_ms, f);
            times(&mut p.request_timeout_ms, f);
            times(&mut p.delivery_timeout_ms, f);
        }
        for c in &mut v.consumers {
            // The defaults a kind has, made explicit so they scale too.
            let zero = 0..0;
            match c.kind {
                ConsumerKind::Group => {
                    c.session_timeout_ms
                        .get_or_insert(Spanned::new(zero, 6_000));
                }
                ConsumerKind::Queue | ConsumerKind::Share => {
                    c.lease_ms.get_or_insert(Spanned::new(zero.clone(), 1_000));
                    c.backoff_ms.get_or_insert(Spanned::new(zero, 100));
                }
                ConsumerKind::Classic => {}
            }
            times(&mut c.processing_ms, f);
            times(&mut c.restart_after_ms, f);
            times(&mut c.start_ms, f);
            some_times(&mut c.lease_ms, f);
            some_times(&mut c.backoff_ms, f);
            some_times(&mut c.session_timeout_ms, f);
        }
        for a in &mut v.apps {
            times(&mut a.restart_after_ms, f);
        }
        for a in &mut v.alerts {
            times(&mut a.for_ms, f);
        }
        for s in &mut v.steps {
            times(&mut s.at_ms, f);
            if let Some(fault) = &mut s.fault {
                fault.duration_ms = fault.duration_ms.map(|d| d.saturating_mul(f as u64));
                for (k, p) in fault.params.iter_mut() {
                    if k.ends_with("_ms") {
                        *p = p.saturating_mul(f as u64);
                    }
                }
            }
        }
        for (k, c) in v.expect.iter_mut() {
            if k.get_ref().ends_with("_ms")
                && let Some(cond) = super::model::Condition::parse(c.get_ref())
            {
                let scaled = super::model::Condition {
                    value: cond.value.saturating_mul(f as u64),
                    ..cond
                };
                *c.get_mut() = scaled.to_string();
            }
        }
    }
    lab
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab(name: &str) -> Lab {
        crate::lab::load(name).unwrap()
    }

    #[test]
    fn every_time_grows_every_rate_shrinks_and_time_expectations_follow() {
        let timeouts = slowed(lab("timeouts"), 4);
        let v = &timeouts.variants[0];
        assert_eq!(*v.producers[0].rate.get_ref(), 250);
        assert_eq!(*v.producers[0].request_timeout_ms.get_ref(), 4_000);
        assert_eq!(*v.steps[0].at_ms.get_ref(), 800);
        let fault = v.steps[0].fault.as_ref().unwrap();
        assert_eq!(fault.duration_ms, Some(6_000));
        assert_eq!(fault.params["latency_ms"], 6_000);
        assert_eq!(*v.timeout_ms.get_ref(), 80_000);

        let balancing = slowed(lab("balancing"), 3);
        let dies = &balancing.variants[1];
        let member = &dies.consumers[0];
        assert_eq!(
            member.session_timeout_ms.as_ref().map(|s| *s.get_ref()),
            Some(18_000)
        );
        assert_eq!(*member.processing_ms.get_ref(), 3);
        let expect = |v: &crate::lab::model::Variant, k: &str| {
            v.expect
                .iter()
                .find(|(name, _)| name.get_ref() == k)
                .map(|(_, c)| c.get_ref().clone())
                .unwrap()
        };
        assert_eq!(expect(dies, "max_wait_ms"), ">= 12000");
        assert_eq!(expect(dies, "idle_consumers"), "= 0", "counts do not scale");
        let share = &balancing.variants[2];
        assert_eq!(
            share.consumers[0].lease_ms.as_ref().map(|s| *s.get_ref()),
            Some(1_500)
        );
        assert_eq!(expect(share, "max_wait_ms"), "< 6000");

        let monitoring = slowed(lab("monitoring"), 2);
        assert_eq!(*monitoring.variants[0].alerts[0].for_ms.get_ref(), 1_000);
        assert_eq!(*monitoring.variants[0].alerts[0].lag_records.get_ref(), 300);
    }

    #[test]
    fn slow_one_is_the_lab_as_written() {
        let as_written = lab("commit");
        let same = slowed(lab("commit"), 1);
        assert_eq!(format!("{as_written:?}"), format!("{same:?}"));
    }
}
