//! Crash consistency: power is cut at a random point while appends and
//! offset commits are in flight; after reopening, every acknowledged record
//! must be there, at its offset, with dense offsets and valid CRCs; every
//! acknowledged commit must hold (or a later one); and an idempotent
//! producer's acknowledged sequence, sent again, must not be stored twice.
//! The disk model drops unsynced writes whole, keeps a random subset, or
//! tears them at 512-byte or 4 KiB sectors (in any order), and loses
//! directory entries that were not synced; the log switches files every
//! few KiB so switching and reuse meet the cuts.
//!
//! `PIER_CRASH_TRIALS=n` runs more trials; `PIER_CRASH_SEED=s` reruns one.
//! The deterministic trials run the writer by hand (one group commit per
//! round), so a seed replays the same operations and the same cut.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{all_values, records};
use pier_core::batch::ProducerStamp;
use pier_core::faults::{DiskFaults, MemoryDisk, PowerCut};
use pier_core::planted::PlantedBug;
use pier_core::store::{AdminCommand, CommittedOffset};
use pier_core::{AppendError, Location, ManualClock, Store, StoreOptions, TopicConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const DEFAULT_TRIALS: u64 = 1_000;

fn trials() -> Vec<u64> {
    if let Ok(seed) = std::env::var("PIER_CRASH_SEED") {
        return vec![seed.parse().expect("PIER_CRASH_SEED is a number")];
    }
    let n = std::env::var("PIER_CRASH_TRIALS")
        .ok()
        .map_or(DEFAULT_TRIALS, |v| {
            v.parse().expect("PIER_CRASH_TRIALS is a number")
        });
    (0..n).collect()
}

type Acked = BTreeMap<(u32, u64), String>;

/// How a trial's store is set up; `planted` is a control's deliberate bug.
#[derive(Debug, Clone, Copy)]
struct Setup {
    fsync: bool,
    planted: Option<PlantedBug>,
}

const CORRECT: Setup = Setup {
    fsync: true,
    planted: None,
};

fn store_options(manual: bool) -> StoreOptions {
    StoreOptions {
        page_cache_model: true,
        manual_writer: manual,
        ..StoreOptions::default()
    }
}

/// What one trial did, for the summary line.
#[derive(Default)]
struct TrialStats {
    acked: usize,
    cut_mid_run: bool,
}

/// Everything a trial sent, and what was acknowledged.
#[derive(Default)]
struct History {
    acked: Acked,
    submitted: BTreeMap<String, ()>,
    /// Offset commits of group "g", in order: (partition, offset, acked).
    commits: Vec<(u32, i64, bool)>,
    /// Acknowledged idempotent batches: (partition, stamp, values, base offset).
    idempotent: Vec<(u32, ProducerStamp, Vec<String>, u64)>,
    /// Admin commands on the side topic "u", in order: (the topic's state
    /// after the command, acknowledged).
    side: Vec<(Side, bool)>,
    /// Every idempotent batch sent, per partition: its base sequence.
    sent_sequences: BTreeMap<u32, Vec<i32>>,
}

/// The side topic "u": absent, or present with this `retention.ms`.
type Side = Option<i64>;

/// Batches a broker remembers per producer and partition (Kafka keeps 5):
/// a client only ever resends what is in flight, at most this many.
const RESEND_WINDOW: usize = 5;

fn power_cut(rng: &mut ChaCha8Rng) -> PowerCut {
    match rng.random_range(0..4) {
        0 => PowerCut::DropAll,
        1 => PowerCut::RandomSubset { seed: rng.random() },
        2 => PowerCut::Torn {
            seed: rng.random(),
            sector_bytes: 512,
        },
        _ => PowerCut::Torn {
            seed: rng.random(),
            sector_bytes: 4096,
        },
    }
}

/// Reopens what survived and checks it against what was acknowledged.
fn verify(disk: MemoryDisk, partitions: u32, h: &History, setup: Setup) -> Result<(), String> {
    let options = StoreOptions {
        planted_bug: setup.planted,
        ..StoreOptions::default()
    };
    let store = Store::open(
        Location::Memory(disk),
        options,
        Arc::new(ManualClock::new(0)),
    )
    .map_err(|e| format!("reopen failed: {e}"))?;
    if store.describe_topic("t").is_none() {
        if h.acked.is_empty() && !h.commits.iter().any(|c| c.2) {
            return Ok(());
        }
        return Err("topic lost although records were acknowledged".into());
    }
    for p in 0..partitions {
        check_partition(&store, p, h)?;
    }
    check_commits(&store, partitions, h)?;
    check_resends(&store, h)?;
    check_side(&store, h)
}

/// Admin commands apply in order, each durably before its answer: after
/// the cut, "u" is as the last acknowledged command left it, or as one of
/// the unacknowledged commands after it left it.
fn check_side(store: &Store, h: &History) -> Result<(), String> {
    let got: Side = store
        .describe_topic("u")
        .map(|d| d.meta.config.retention_ms);
    let from = h.side.iter().rposition(|(_, acked)| *acked);
    let mut allowed: Vec<Side> = match from {
        Some(i) => h.side[i..].iter().map(|(state, _)| *state).collect(),
        None => std::iter::once(None)
            .chain(h.side.iter().map(|(state, _)| *state))
            .collect(),
    };
    allowed.dedup();
    if allowed.contains(&got) {
        Ok(())
    } else {
        Err(format!(
            "side topic after the cut: {got:?}; allowed {allowed:?} (commands {:?})",
            h.side
        ))
    }
}

/// One create, config change or delete of the side topic.
fn side_command(rng: &mut ChaCha8Rng, store: &Store, h: &mut History) {
    let now: Side = h.side.last().and_then(|(state, _)| *state);
    let (command, after) = match now {
        None => {
            let retention_ms = rng.random_range(1..1_000_000);
            let config = TopicConfig {
                retention_ms,
                ..TopicConfig::default()
            };
            let command = AdminCommand::CreateTopic {
                name: "u".to_owned(),
                partitions: 1,
                config,
            };
            (command, Some(retention_ms))
        }
        Some(_) if rng.random_bool(0.3) => (
            AdminCommand::DeleteTopic {
                name: "u".to_owned(),
            },
            None,
        ),
        Some(_) => {
            let retention_ms = rng.random_range(1..1_000_000);
            let config = TopicConfig {
                retention_ms,
                ..TopicConfig::default()
            };
            let command = AdminCommand::SetConfig {
                name: "u".to_owned(),
                config,
            };
            (command, Some(retention_ms))
        }
    };
    let acked = store.admin_blocking(command).is_ok();
    h.side.push((after, acked));
}

fn check_partition(store: &Store, p: u32, h: &History) -> Result<(), String> {
    let values = all_values(store, "t", p);
    for (offset, value) in &values {
        if !h.submitted.contains_key(value) {
            return Err(format!("p{p}@{offset}: {value:?} was never written"));
        }
    }
    for ((_, offset), value) in h.acked.range((p, 0)..(p + 1, 0)) {
        match values.get(*offset as usize) {
            Some((o, v)) if o == offset && v == value => {}
            other => {
                return Err(format!(
                    "acked p{p}@{offset}={value:?} missing; found {other:?}"
                ));
            }
        }
    }
    Ok(())
}

/// An acknowledged commit holds after the cut, or a later one does.
fn check_commits(store: &Store, partitions: u32, h: &History) -> Result<(), String> {
    let committed = store.committed_offsets("g");
    for p in 0..partitions {
        let mine: Vec<&(u32, i64, bool)> = h.commits.iter().filter(|c| c.0 == p).collect();
        let last_acked = mine.iter().rposition(|c| c.2);
        let got = committed.get(&("t".to_owned(), p)).map(|c| c.offset);
        let allowed: Vec<i64> = mine[last_acked.unwrap_or(0)..]
            .iter()
            .map(|c| c.1)
            .collect();
        match (last_acked, got) {
            (None, None) => {}
            (_, Some(o)) if allowed.contains(&o) => {}
            _ => {
                return Err(format!(
                    "p{p}: committed offset {got:?} after the cut; acknowledged commits {:?}",
                    mine.iter().filter(|c| c.2).map(|c| c.1).collect::<Vec<_>>()
                ));
            }
        }
    }
    Ok(())
}

/// Each acknowledged idempotent batch among the last five sent to its
/// partition (what a client may still have in flight), sent again, is
/// answered with its first offsets and not stored again.
fn check_resends(store: &Store, h: &History) -> Result<(), String> {
    let recent = |p: u32, seq: i32| {
        let sent = h.sent_sequences.get(&p).map_or(&[][..], Vec::as_slice);
        sent[sent.len().saturating_sub(RESEND_WINDOW)..].contains(&seq)
    };
    for (p, stamp, values, base) in &h.idempotent {
        if !recent(*p, stamp.base_sequence) {
            continue;
        }
        let before = store.offsets("t", *p).map_err(|e| e.to_string())?.1;
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let again = store
            .append_blocking("t", *p, stamped(&refs, *stamp))
            .map_err(|e| format!("resend of p{p} seq {}: {e}", stamp.base_sequence))?;
        let after = store.offsets("t", *p).map_err(|e| e.to_string())?.1;
        if again.base_offset != *base || after != before {
            return Err(format!(
                "p{p} seq {} sent again was stored again at {} (first at {base})",
                stamp.base_sequence, again.base_offset
            ));
        }
    }
    Ok(())
}

fn stamped(values: &[&str], stamp: ProducerStamp) -> bytes::Bytes {
    let records: Vec<pier_core::batch::NewRecord> = values
        .iter()
        .map(|v| pier_core::batch::NewRecord {
            value: Some(bytes::Bytes::copy_from_slice(v.as_bytes())),
            ..Default::default()
        })
        .collect();
    pier_core::batch::build(
        &records,
        kafka_protocol::records::Compression::None,
        Some(stamp),
    )
}

fn open_trial_store(
    rng: &mut ChaCha8Rng,
    disk: &MemoryDisk,
    setup: Setup,
    clock: &ManualClock,
    faults: &Arc<DiskFaults>,
) -> Result<Store, String> {
    let options = StoreOptions {
        fsync: setup.fsync,
        planted_bug: setup.planted,
        // Small log files: switching and reuse happen in every trial.
        wal_switch_bytes: rng.random_range(2_048..=32_768),
        ..store_options(true)
    };
    Store::open_with_faults(
        Location::Memory(disk.clone()),
        options,
        Arc::new(clock.clone()),
        faults.clone(),
    )
    .map_err(|e| format!("open: {e}"))
}

/// One round: a few appends (some idempotent) and maybe a commit, then one
/// group commit; what was acknowledged goes into `h`.
fn round(
    rng: &mut ChaCha8Rng,
    store: &Store,
    partitions: u32,
    tag: &str,
    sequences: &mut BTreeMap<u32, i32>,
    h: &mut History,
) -> Result<(), String> {
    let mut pending = Vec::new();
    for i in 0..rng.random_range(1..=16) {
        let p = rng.random_range(0..partitions);
        let n = rng.random_range(1..=3);
        let values: Vec<String> = (0..n).map(|j| format!("{tag}a{i}n{j}")).collect();
        for v in &values {
            h.submitted.insert(v.clone(), ());
        }
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let stamp = rng.random_bool(0.3).then(|| {
            let next = sequences.entry(p).or_insert(0);
            let stamp = ProducerStamp {
                producer_id: 1_000,
                producer_epoch: 0,
                base_sequence: *next,
            };
            *next += n;
            h.sent_sequences
                .entry(p)
                .or_default()
                .push(stamp.base_sequence);
            stamp
        });
        let batch = match stamp {
            Some(s) => stamped(&refs, s),
            None => records(&refs, 0),
        };
        match store.submit_append("t", p, batch) {
            Ok(rx) => pending.push((p, values, stamp, rx)),
            Err(AppendError::Poisoned(_)) => {}
            Err(e) => return Err(format!("submit: {e}")),
        }
    }
    store.step_writer();
    for (p, values, stamp, mut rx) in pending {
        match rx
            .try_recv()
            .map_err(|e| format!("no answer after commit: {e}"))?
        {
            Ok(done) => {
                if let Some(s) = stamp {
                    h.idempotent.push((p, s, values.clone(), done.base_offset));
                }
                for (k, v) in values.into_iter().enumerate() {
                    h.acked.insert((p, done.base_offset + k as u64), v);
                }
            }
            Err(AppendError::Poisoned(_)) => {}
            Err(e) => return Err(format!("append: {e}")),
        }
    }
    if rng.random_bool(0.4) {
        commit(rng, store, partitions, h);
    }
    if rng.random_bool(0.2) {
        side_command(rng, store, h);
    }
    Ok(())
}

fn commit(rng: &mut ChaCha8Rng, store: &Store, partitions: u32, h: &mut History) {
    let p = rng.random_range(0..partitions);
    let offset = rng.random_range(0..1_000);
    let command = AdminCommand::CommitOffsets {
        group: "g".to_owned(),
        offsets: vec![(
            "t".to_owned(),
            p,
            CommittedOffset {
                offset,
                metadata: String::new(),
            },
        )],
    };
    let acked = store.admin_blocking(command).is_ok();
    h.commits.push((p, offset, acked));
}

fn deterministic_trial(seed: u64, setup: Setup) -> Result<TrialStats, String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let disk = MemoryDisk::new();
    let faults = DiskFaults::new(true);
    let clock = ManualClock::new(0);
    let store = open_trial_store(&mut rng, &disk, setup, &clock, &faults)?;
    let partitions = rng.random_range(1..=3);
    let mode = power_cut(&mut rng);
    // Creating the topic may itself be cut short.
    faults.cut_power_at_op(rng.random_range(1..=80), mode);
    let mut h = History::default();
    let mut sequences = BTreeMap::new();
    if store
        .create_topic_blocking("t", partitions, TopicConfig::default())
        .is_ok()
    {
        for r in 0..rng.random_range(1..=30) {
            // Moves time so the writer's checkpoints land between rounds.
            clock.advance_ms(rng.random_range(0..600));
            round(
                &mut rng,
                &store,
                partitions,
                &format!("s{seed}r{r}"),
                &mut sequences,
                &mut h,
            )?;
            if faults.is_powered_off() {
                break;
            }
        }
    }
    let stats = TrialStats {
        acked: h.acked.len(),
        cut_mid_run: faults.is_powered_off(),
    };
    faults.cut_power(mode);
    drop(store);
    verify(disk, partitions, &h, setup)?;
    Ok(stats)
}

#[test]
fn acknowledged_appends_survive_power_cuts() {
    let seeds = trials();
    let mut failures = Vec::new();
    let (mut acked, mut cut_mid_run) = (0, 0);
    for &seed in &seeds {
        match deterministic_trial(seed, CORRECT) {
            Ok(stats) => {
                acked += stats.acked;
                cut_mid_run += usize::from(stats.cut_mid_run);
            }
            Err(e) => failures.push(format!("seed {seed}: {e}")),
        }
    }
    eprintln!(
        "{} trials: {cut_mid_run} cut mid-run, {acked} acknowledged records checked",
        seeds.len()
    );
    assert!(
        seeds.len() < 10 || cut_mid_run * 2 > seeds.len(),
        "most cuts must land mid-run"
    );
    assert!(
        failures.is_empty(),
        "{} of {} trials failed; rerun one with PIER_CRASH_SEED=<seed> cargo nextest run -p pier-core --test crash\n{}",
        failures.len(),
        seeds.len(),
        failures.join("\n")
    );
}

/// Real threads appending concurrently through the writer thread; power is
/// cut after a seeded number of successful syncs. Thread timing is not
/// reproducible, so this complements the deterministic trials above.
#[test]
fn concurrent_appenders_survive_power_cuts() {
    let trials: u64 = std::env::var("PIER_CRASH_THREADED_TRIALS")
        .ok()
        .map_or(40, |v| v.parse().unwrap());
    for seed in 0..trials {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let disk = MemoryDisk::new();
        let faults = DiskFaults::new(true);
        let store = Store::open_with_faults(
            Location::Memory(disk.clone()),
            store_options(false),
            Arc::new(ManualClock::new(0)),
            faults.clone(),
        )
        .unwrap();
        store
            .create_topic_blocking("t", 2, TopicConfig::default())
            .unwrap();
        let mode = PowerCut::RandomSubset { seed: rng.random() };
        faults.cut_power_at_op(rng.random_range(1..=300), mode);
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let store = store.clone();
                std::thread::spawn(move || {
                    let mut acked = Vec::new();
                    let mut submitted = Vec::new();
                    for i in 0..200 {
                        let value = format!("s{seed}t{t}i{i}");
                        submitted.push(value.clone());
                        match store.append_blocking("t", t % 2, records(&[&value], 0)) {
                            Ok(done) => acked.push(((t % 2, done.base_offset), value)),
                            Err(AppendError::Poisoned(_)) => break,
                            Err(e) => panic!("seed {seed}: {e}"),
                        }
                    }
                    (acked, submitted)
                })
            })
            .collect();
        let mut acked = Acked::new();
        let mut submitted = BTreeMap::new();
        for t in threads {
            let (a, s) = t.join().unwrap();
            acked.extend(a);
            submitted.extend(s.into_iter().map(|v| (v, ())));
        }
        faults.cut_power(mode);
        drop(store);
        let h = History {
            acked,
            submitted,
            ..History::default()
        };
        if let Err(e) = verify(disk, 2, &h, CORRECT) {
            panic!("threaded seed {seed}: {e}");
        }
    }
}

/// The checker must be able to fail: without fsync, acknowledged records
/// are only in the page cache and a power cut loses them.
#[test]
fn without_fsync_power_cuts_lose_acknowledged_records() {
    let setup = Setup {
        fsync: false,
        planted: None,
    };
    let lost = (0..200)
        .filter(|&seed| deterministic_trial(seed, setup).is_err())
        .count();
    eprintln!("without fsync: {lost} of 200 trials lost acknowledged records");
    assert!(lost > 20, "only {lost} of 200 trials noticed a loss");
}

/// Controls: each planted bug is caught by some trials, with the seed that
/// shows it.
#[test]
fn the_trials_catch_every_planted_storage_bug() {
    for bug in [
        PlantedBug::SkipLogSync,
        PlantedBug::SkipDirSync,
        PlantedBug::AcceptDuplicateSequence,
    ] {
        let setup = Setup {
            fsync: true,
            planted: Some(bug),
        };
        let caught: Vec<(u64, String)> = (0..200)
            .filter_map(|seed| deterministic_trial(seed, setup).err().map(|e| (seed, e)))
            .collect();
        eprintln!(
            "{bug:?}: caught by {} of 200 trials; e.g. seed {:?}",
            caught.len(),
            caught.first()
        );
        assert!(
            caught.len() > 10,
            "{bug:?} caught by only {} of 200 trials",
            caught.len()
        );
    }
}
