//! Any bytes as a logged queue event (what `Queues::open` replays): parsing
//! returns an error, never panics, and whatever parses survives a write
//! and a read back unchanged (a snapshot that cannot be read back lost
//! whole groups once).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pier_core::queue::Event;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = serde_json::from_slice::<Event>(data) {
        let written = serde_json::to_vec(&event).expect("events serialize");
        let back: Event = serde_json::from_slice(&written).expect("a written event reads back");
        assert_eq!(back, event);
    }
});
