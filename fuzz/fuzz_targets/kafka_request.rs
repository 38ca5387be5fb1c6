//! Any bytes as a Kafka request frame: decoding must return an error, never
//! panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = pier_kafka::decode_request(bytes::Bytes::copy_from_slice(data));
});
