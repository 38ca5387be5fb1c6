//! Fingerprints of the records in a batch, to recognise a retry that a
//! producer without idempotence stored a second time: a record's absolute
//! timestamp, key, value and headers. A retry may regroup records into
//! other batches (other base offsets and timestamps), so the batch's own
//! CRC cannot be compared; the record's content can.

use std::hash::{DefaultHasher, Hash, Hasher};

use bytes::Bytes;
use kafka_protocol::records::Compression;

use crate::batch::{self, BATCH_HEADER_BYTES};

/// A batch's fingerprints: small batches need no allocation.
pub type Fingerprints = smallvec::SmallVec<[u64; 4]>;

/// One fingerprint per record, in offset order; `None` if the batch cannot
/// be read (it was validated on the way in, so that does not happen).
pub fn records(batch: &Bytes, compression: Compression) -> Option<Fingerprints> {
    if compression == Compression::None {
        return uncompressed(batch);
    }
    let decoded = batch::decode_records(batch).ok()?;
    Some(
        decoded
            .iter()
            .map(|r| {
                let mut h = DefaultHasher::new();
                r.timestamp.hash(&mut h);
                r.key.as_deref().hash(&mut h);
                r.value.as_deref().hash(&mut h);
                for (k, v) in &r.headers {
                    k.as_str().hash(&mut h);
                    v.as_deref().hash(&mut h);
                }
                h.finish()
            })
            .collect(),
    )
}

/// Walks the records without decoding them: `length, attributes,
/// timestampDelta, offsetDelta`; the rest is checksummed as it is.
fn uncompressed(batch: &[u8]) -> Option<Fingerprints> {
    let base_timestamp = i64::from_be_bytes(batch.get(27..35)?.try_into().ok()?);
    let count = i32::from_be_bytes(batch.get(57..61)?.try_into().ok()?);
    let mut at = BATCH_HEADER_BYTES;
    let mut out = Fingerprints::with_capacity(usize::try_from(count).ok()?.min(1 << 16));
    for _ in 0..count {
        let (length, n) = varint(batch.get(at..)?)?;
        let start = at + n;
        let end = start.checked_add(usize::try_from(length).ok()?)?;
        let record = batch.get(start..end)?;
        // attributes (1 byte), then timestampDelta and offsetDelta.
        let (delta, n1) = varint(record.get(1..)?)?;
        let (_, n2) = varint(record.get(1 + n1..)?)?;
        let rest = record.get(1 + n1 + n2..)?;
        out.push(mix(
            base_timestamp.wrapping_add(delta) as u64,
            u64::from(sample_crc(rest)) << 32 | rest.len() as u64 & 0xffff_ffff,
        ));
        at = end;
    }
    Some(out)
}

/// Bytes of a record checked at each end: records up to twice this are
/// checked whole.
pub const SAMPLE_BYTES: usize = 128;

/// CRC-32C of the key, value and headers — of their first and last
/// [`SAMPLE_BYTES`] when longer: the cost per record stays flat however
/// big the values. Two records that differ only in the middle of a value
/// longer than 256 bytes, from one client in one millisecond, would look
/// alike (`docs/ledger.md`).
fn sample_crc(rest: &[u8]) -> u32 {
    if rest.len() <= 2 * SAMPLE_BYTES {
        return crc32c::crc32c(rest);
    }
    let head = crc32c::crc32c(&rest[..SAMPLE_BYTES]);
    crc32c::crc32c_append(head, &rest[rest.len() - SAMPLE_BYTES..])
}

/// Two 64-bit values into one well-spread hash (splitmix64 finalizers).
fn mix(a: u64, b: u64) -> u64 {
    fn fin(mut z: u64) -> u64 {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fin(a ^ fin(b))
}

/// A zigzag varint: the value and the bytes it took.
fn varint(b: &[u8]) -> Option<(i64, usize)> {
    let mut raw: u64 = 0;
    for (i, byte) in b.iter().take(10).enumerate() {
        raw |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            let value = (raw >> 1) as i64 ^ -((raw & 1) as i64);
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::NewRecord;

    fn batch(records: &[(&str, i64)], compression: Compression) -> Bytes {
        let records: Vec<NewRecord> = records
            .iter()
            .map(|(v, ts)| NewRecord {
                key: Some(Bytes::from_static(b"k")),
                value: Some(Bytes::copy_from_slice(v.as_bytes())),
                timestamp_ms: *ts,
                ..NewRecord::default()
            })
            .collect();
        batch::build(&records, compression, None)
    }

    #[test]
    fn a_record_regrouped_into_another_batch_keeps_its_fingerprint() {
        let first = records(
            &batch(&[("a", 100), ("b", 101)], Compression::None),
            Compression::None,
        )
        .expect("readable");
        let retry = records(
            &batch(&[("b", 101), ("c", 102)], Compression::None),
            Compression::None,
        )
        .expect("readable");
        assert_eq!(first[1], retry[0]);
        assert_ne!(first[0], first[1]);
        assert_ne!(retry[0], retry[1]);
    }

    #[test]
    fn the_same_value_at_another_time_is_another_record() {
        let a = records(&batch(&[("a", 100)], Compression::None), Compression::None).expect("a");
        let b = records(&batch(&[("a", 101)], Compression::None), Compression::None).expect("b");
        assert_ne!(a, b);
    }

    #[test]
    fn long_values_differing_near_either_end_differ() {
        let long = |c: char, at: usize| {
            let mut v = vec!['x'; 1000];
            v[at] = c;
            v.into_iter().collect::<String>()
        };
        let (a, b, c) = (long('a', 3), long('b', 3), long('a', 996));
        let f = records(
            &batch(&[(&a, 100), (&b, 100), (&c, 100)], Compression::None),
            Compression::None,
        )
        .expect("readable");
        assert_ne!(f[0], f[1]);
        assert_ne!(f[0], f[2]);
    }

    #[test]
    fn compressed_batches_are_fingerprinted_too() {
        let b = batch(&[("a", 100), ("b", 101)], Compression::Gzip);
        let f = records(&b, Compression::Gzip).expect("readable");
        assert_eq!(f.len(), 2);
        assert_ne!(f[0], f[1]);
    }
}
