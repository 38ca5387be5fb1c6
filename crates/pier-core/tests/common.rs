//! Helpers shared by the store tests.
#![allow(dead_code)]

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::records::Compression;
use pier_core::batch::{self, NewRecord};
use pier_core::faults::MemoryDisk;
use pier_core::{Location, ManualClock, Store, StoreOptions};

pub fn records(values: &[&str], timestamp_ms: i64) -> Bytes {
    let records: Vec<NewRecord> = values
        .iter()
        .map(|v| NewRecord {
            key: None,
            value: Some(Bytes::copy_from_slice(v.as_bytes())),
            headers: vec![],
            timestamp_ms,
        })
        .collect();
    batch::build(&records, Compression::None, None)
}

pub fn memory_store(clock: &ManualClock) -> (MemoryDisk, Store) {
    let disk = MemoryDisk::new();
    let store = Store::open(
        Location::Memory(disk.clone()),
        StoreOptions::default(),
        Arc::new(clock.clone()),
    )
    .unwrap();
    (disk, store)
}

/// Every value in a partition, in offset order, checking density and CRCs.
pub fn all_values(store: &Store, topic: &str, partition: u32) -> Vec<(u64, String)> {
    let (start, end) = store.offsets(topic, partition).unwrap();
    let mut out = Vec::new();
    let mut offset = start;
    while offset < end {
        let read = store.read(topic, partition, offset, 1 << 20).unwrap();
        for b in batch::split_batches(read.records).unwrap() {
            batch::validate(&b).expect("stored batch has a valid CRC");
            for r in batch::decode_records(&b).unwrap() {
                if (r.offset as u64) < offset {
                    continue;
                }
                assert_eq!(r.offset as u64, offset, "offsets are dense");
                let value = String::from_utf8(r.value.unwrap().to_vec()).unwrap();
                out.push((offset, value));
                offset += 1;
            }
        }
    }
    out
}
