//! Queue groups under power cuts: records are leased, some ACCEPTed, some
//! released, and power is cut at a seeded point of the disk's operations.
//! After reopening, no record whose ACCEPT was acknowledged is ever
//! delivered again, and every record not accepted is delivered again
//! (nothing falls out of the queue). A control plants a bug (an ACCEPT
//! answered but never logged) and the trials must catch it.
//!
//! `PIER_QUEUE_CRASH_TRIALS=n` runs more trials; `PIER_CRASH_SEED=s` reruns
//! one (the writer is a thread here, so a seed replays the operations and
//! the cut point, not every interleaving).

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use common::records;
use pier_core::faults::{DiskFaults, MemoryDisk, PowerCut};
use pier_core::planted::PlantedBug;
use pier_core::queue::{AckAction, QueueConfig, Queues, read_records};
use pier_core::{Location, ManualClock, Store, StoreOptions, TopicConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const RECORDS: u64 = 40;

fn seeds() -> Vec<u64> {
    if let Ok(seed) = std::env::var("PIER_CRASH_SEED") {
        return vec![seed.parse().expect("PIER_CRASH_SEED is a number")];
    }
    let n = std::env::var("PIER_QUEUE_CRASH_TRIALS")
        .ok()
        .map_or(300, |v| v.parse().expect("a number"));
    (0..n).collect()
}

/// What a trial was told: ACCEPTs acknowledged, and ACCEPTs sent at all.
#[derive(Default)]
struct Told {
    accepted: BTreeSet<u64>,
    tried: BTreeSet<u64>,
}

async fn run_until_cut(
    rng: &mut ChaCha8Rng,
    queues: &Queues,
    faults: &DiskFaults,
    clock: &ManualClock,
    told: &mut Told,
) {
    for round in 0..rng.random_range(1..=12) {
        let member = format!("m{}", round % 3);
        let Ok(got) = queues
            .receive(
                "q",
                &member,
                rng.random_range(1..=8),
                Some(1_000),
                Duration::ZERO,
            )
            .await
        else {
            return;
        };
        let mut items = Vec::new();
        for d in &got {
            let action = match rng.random_range(0..3) {
                0 | 1 => AckAction::Accept,
                _ => AckAction::Release { delay_ms: Some(0) },
            };
            if action == AckAction::Accept {
                told.tried.insert(d.offset);
            }
            items.push((d.partition, d.offset, Some(d.delivery), action));
        }
        let actions: Vec<AckAction> = items.iter().map(|i| i.3.clone()).collect();
        let offsets: Vec<u64> = items.iter().map(|i| i.1).collect();
        if let Ok(results) = queues.acknowledge("q", &member, items).await {
            for ((offset, action), r) in offsets.iter().zip(&actions).zip(results) {
                if r.is_ok() && *action == AckAction::Accept {
                    told.accepted.insert(*offset);
                }
            }
        }
        clock.advance_ms(rng.random_range(0..1_500));
        if faults.is_powered_off() {
            return;
        }
    }
}

/// Offsets of `t` whose copy is in the dead-letter topic (finished: they
/// reached the delivery limit).
fn dead_lettered(store: &Store) -> BTreeSet<u64> {
    if !store.has_topic("t.dlq") {
        return BTreeSet::new();
    }
    let (_, end) = store.offsets("t.dlq", 0).expect("dlq offsets");
    let mut out = BTreeSet::new();
    for r in read_records(store, "t.dlq", 0, 0, end).expect("dlq records") {
        let offset = r
            .headers
            .iter()
            .find(|(k, _)| k.as_str() == "pier-dlq-offset")
            .and_then(|(_, v)| v.clone());
        let offset = offset.and_then(|v| std::str::from_utf8(&v).ok()?.parse().ok());
        out.insert(offset.expect("a dead letter names its offset"));
    }
    out
}

/// Everything delivered after the reopen, leases left to expire between
/// rounds, until nothing more comes.
async fn drain(queues: &Queues, clock: &ManualClock) -> BTreeSet<u64> {
    let mut seen = BTreeSet::new();
    for _ in 0..20 {
        clock.advance_ms(60_000);
        let _ = queues.tick().await;
        let got = queues
            .receive("q", "after", 100, Some(1_000), Duration::ZERO)
            .await
            .expect("receive after reopen");
        if got.is_empty() && seen.len() as u64 >= RECORDS {
            break;
        }
        seen.extend(got.iter().map(|d| d.offset));
    }
    seen
}

async fn trial(seed: u64, planted: Option<PlantedBug>) -> Result<(), String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let disk = MemoryDisk::new();
    let faults = DiskFaults::new(true);
    let clock = ManualClock::new(1_000_000);
    let options = StoreOptions {
        page_cache_model: true,
        planted_bug: planted,
        ..StoreOptions::default()
    };
    let store = Store::open_with_faults(
        Location::Memory(disk.clone()),
        options.clone(),
        Arc::new(clock.clone()),
        faults.clone(),
    )
    .map_err(|e| format!("open: {e}"))?;
    store
        .create_topic("t", 1, TopicConfig::default())
        .await
        .map_err(|e| e.to_string())?;
    let values: Vec<String> = (0..RECORDS).map(|i| format!("v{i}")).collect();
    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
    store
        .append("t", 0, records(&refs, 1))
        .await
        .map_err(|e| e.to_string())?;
    let queues = Queues::open(store.clone(), Arc::new(clock.clone()))
        .await
        .map_err(|e| e.to_string())?;
    queues
        .configure("q", QueueConfig::new("t"))
        .await
        .map_err(|e| e.to_string())?;
    let mode = match rng.random_range(0..3) {
        0 => PowerCut::DropAll,
        1 => PowerCut::RandomSubset { seed: rng.random() },
        _ => PowerCut::Torn {
            seed: rng.random(),
            sector_bytes: 512,
        },
    };
    faults.cut_power_at_op(rng.random_range(1..=40), mode);
    let mut told = Told::default();
    run_until_cut(&mut rng, &queues, &faults, &clock, &mut told).await;
    faults.cut_power(mode);
    drop(queues);
    store.close();
    drop(store);
    let store = Store::open(Location::Memory(disk), options, Arc::new(clock.clone()))
        .map_err(|e| format!("reopen: {e}"))?;
    let queues = Queues::open(store.clone(), Arc::new(clock.clone()))
        .await
        .map_err(|e| format!("queues reopen: {e}"))?;
    let after = drain(&queues, &clock).await;
    let _ = queues.write_dead_letters().await;
    let finished = dead_lettered(&store);
    let again: Vec<&u64> = told.accepted.intersection(&after).collect();
    if !again.is_empty() {
        return Err(format!(
            "accepted (and acknowledged) offsets delivered again: {again:?}"
        ));
    }
    let missing: Vec<u64> = (0..RECORDS)
        .filter(|o| !after.contains(o) && !told.tried.contains(o) && !finished.contains(o))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "never accepted, yet not delivered again: {missing:?}"
        ));
    }
    Ok(())
}

fn run(seeds: &[u64], planted: Option<PlantedBug>) -> Vec<(u64, String)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    seeds
        .iter()
        .filter_map(|&seed| rt.block_on(trial(seed, planted)).err().map(|e| (seed, e)))
        .collect()
}

#[test]
fn acknowledged_accepts_survive_power_cuts_and_nothing_falls_out() {
    let seeds = seeds();
    let failures = run(&seeds, None);
    eprintln!(
        "{} queue power-cut trials, {} failed",
        seeds.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "rerun one with PIER_CRASH_SEED=<seed> cargo nextest run -p pier-core --test crash_queues\n{failures:?}"
    );
}

/// Control: an ACCEPT answered but never logged is delivered again after
/// a cut, and the trials say so.
#[test]
fn an_accept_that_was_never_logged_is_caught() {
    let seeds: Vec<u64> = (0..100).collect();
    let caught = run(&seeds, Some(PlantedBug::ForgetQueueAccept));
    eprintln!(
        "forget-queue-accept: caught by {} of 100 trials; e.g. {:?}",
        caught.len(),
        caught.first()
    );
    assert!(caught.len() > 10, "caught by only {} of 100", caught.len());
}
