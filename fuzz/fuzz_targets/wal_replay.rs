//! Any bytes as the two write-ahead log files (what opening a store
//! replays after a crash): replay never panics, and what it returns is a
//! run of consecutive sequence numbers — a torn or corrupt entry ends the
//! run, it is never skipped over.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |b| *b as usize).min(data.len().saturating_sub(1));
    let rest = data.get(1..).unwrap_or_default();
    let (a, b) = rest.split_at(split.min(rest.len()));
    if let Ok(seqs) = pier_core::store::replay_log_bytes(a, b) {
        for pair in seqs.windows(2) {
            assert_eq!(pair[1], pair[0] + 1, "replayed entries are consecutive");
        }
    }
});
