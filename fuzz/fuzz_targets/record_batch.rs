//! Any bytes as produce records: splitting and validating must return an
//! error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(batches) = pier_core::batch::split_batches(bytes::Bytes::copy_from_slice(data)) {
        for b in batches {
            let _ = pier_core::batch::validate(&b);
        }
    }
});
