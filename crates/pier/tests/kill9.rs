//! A real crash: a child process appends from several threads and prints
//! each acknowledged offset; we SIGKILL it at a random moment, reopen its
//! data directory, and every printed record must be there.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::Arc;

use pier_core::{Location, Store, StoreOptions, SystemClock, batch};
use rand::{Rng, SeedableRng};

fn run_and_kill(dir: &std::path::Path, kill_after_acks: usize) -> BTreeMap<(u32, u64), String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pier"))
        .args(["debug", "append-loop", "--appenders", "4", "--data-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start pier");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut acked = BTreeMap::new();
    let mut line = String::new();
    while acked.len() < kill_after_acks {
        line.clear();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "child exited early"
        );
        record(&line, &mut acked);
    }
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    // Lines the child printed before it died still count.
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    for line in rest.split_inclusive('\n').filter(|l| l.ends_with('\n')) {
        record(line, &mut acked);
    }
    acked
}

fn record(line: &str, acked: &mut BTreeMap<(u32, u64), String>) {
    let parts: Vec<&str> = line.split_whitespace().collect();
    if let ["ACK", p, offset, value] = parts.as_slice() {
        acked.insert(
            (p.parse().unwrap(), offset.parse().unwrap()),
            (*value).to_owned(),
        );
    }
}

fn stored(dir: &std::path::Path) -> BTreeMap<(u32, u64), String> {
    let store = Store::open(
        Location::Dir(dir.into()),
        StoreOptions::default(),
        Arc::new(SystemClock),
    )
    .unwrap();
    let mut out = BTreeMap::new();
    for p in 0..4 {
        let (start, end) = store.offsets("crash", p).unwrap();
        let mut offset = start;
        while offset < end {
            let read = store.read("crash", p, offset, 1 << 20).unwrap();
            for b in batch::split_batches(read.records).unwrap() {
                batch::validate(&b).expect("valid CRC after the crash");
                for r in batch::decode_records(&b).unwrap() {
                    assert_eq!(r.offset as u64, offset, "dense offsets");
                    let value = String::from_utf8(r.value.unwrap().to_vec()).unwrap();
                    out.insert((p, offset), value);
                    offset += 1;
                }
            }
        }
    }
    out
}

#[test]
fn every_acknowledged_append_survives_kill_9() {
    let seed: u64 =
        std::env::var("PIER_KILL_SEED").map_or_else(|_| rand::random(), |s| s.parse().unwrap());
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut expected = BTreeMap::new();
    for round in 0..3 {
        let acked = run_and_kill(dir.path(), rng.random_range(50..3_000));
        let found = stored(dir.path());
        for (key, value) in &acked {
            assert_eq!(
                found.get(key),
                Some(value),
                "seed {seed} round {round}: acknowledged {key:?} lost (rerun with PIER_KILL_SEED={seed})"
            );
        }
        for (key, value) in &expected {
            assert_eq!(
                found.get(key),
                Some(value),
                "seed {seed}: an earlier round's record changed"
            );
        }
        expected.extend(acked);
    }
}
