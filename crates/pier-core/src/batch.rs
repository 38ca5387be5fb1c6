//! Kafka RecordBatch v2: validation on the way in, building for tests and
//! simulated producers.
//!
//! Batches are stored exactly as the client sent them except for the base
//! offset (bytes 0..8) and the partition leader epoch (bytes 12..16), neither
//! of which the CRC covers. Record decoding is done by the `kafka-protocol`
//! crate; we only read the few fixed header fields it does not expose.

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

/// Size of the fixed RecordBatch v2 header that precedes the records.
pub const BATCH_HEADER_BYTES: usize = 61;
/// Bytes before `batchLength` ends: the length counts everything after it.
const LOG_OVERHEAD_BYTES: usize = 12;

/// Why a batch was refused. The log is never touched when this is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("record batch is truncated: {have_bytes} bytes, header says {want_bytes}")]
    Truncated {
        have_bytes: usize,
        want_bytes: usize,
    },
    #[error("record batch magic {0} is not supported (only v2)")]
    UnsupportedMagic(i8),
    #[error(
        "record batch CRC mismatch: header says {stored:#010x}, content hashes to {computed:#010x}"
    )]
    CrcMismatch { stored: u32, computed: u32 },
    #[error("record batch is corrupt: {0}")]
    Corrupt(String),
    #[error("record batch has no records")]
    Empty,
}

/// What the broker needs to know about a valid batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchInfo {
    pub record_count: u32,
    /// `lastOffsetDelta`: the batch covers `base ..= base + last_offset_delta`.
    pub last_offset_delta: u32,
    pub first_timestamp_ms: i64,
    pub max_timestamp_ms: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub transactional: bool,
    pub control: bool,
    pub compression: Compression,
    pub size_bytes: usize,
}

fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}
fn be_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}
fn be_i64(b: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Splits a produce payload (one or more concatenated batches) into batches,
/// checking each length prefix. Does not validate contents.
pub fn split_batches(mut records: Bytes) -> Result<Vec<Bytes>, BatchError> {
    let mut out = Vec::new();
    while !records.is_empty() {
        let size = batch_size(&records)?;
        out.push(records.split_to(size));
    }
    if out.is_empty() {
        return Err(BatchError::Empty);
    }
    Ok(out)
}

fn batch_size(bytes: &[u8]) -> Result<usize, BatchError> {
    if bytes.len() < BATCH_HEADER_BYTES {
        return Err(BatchError::Truncated {
            have_bytes: bytes.len(),
            want_bytes: BATCH_HEADER_BYTES,
        });
    }
    let length = be_i32(bytes, 8);
    let Ok(length) = usize::try_from(length) else {
        return Err(BatchError::Corrupt(format!(
            "negative batch length {length}"
        )));
    };
    let size = length + LOG_OVERHEAD_BYTES;
    if size < BATCH_HEADER_BYTES {
        return Err(BatchError::Corrupt(format!(
            "batch length {length} is shorter than a header"
        )));
    }
    if bytes.len() < size {
        return Err(BatchError::Truncated {
            have_bytes: bytes.len(),
            want_bytes: size,
        });
    }
    Ok(size)
}

/// Validates one complete batch: length, magic, CRC-32C, and every record
/// (decoded, and decompressed if needed, by `kafka-protocol`) with offset
/// deltas `0..n` in order.
pub fn validate(batch: &Bytes) -> Result<BatchInfo, BatchError> {
    let size = batch_size(batch)?;
    if size != batch.len() {
        return Err(BatchError::Corrupt(format!(
            "{} trailing bytes after the batch",
            batch.len() - size
        )));
    }
    let magic = batch[16] as i8;
    if magic != 2 {
        return Err(BatchError::UnsupportedMagic(magic));
    }
    let stored = u32::from_be_bytes(batch[17..21].try_into().expect("4 bytes"));
    let computed = crc32c::crc32c(&batch[21..]);
    if stored != computed {
        return Err(BatchError::CrcMismatch { stored, computed });
    }
    let last_offset_delta = be_i32(batch, 23);
    let max_timestamp_ms = be_i64(batch, 35);
    let mut buf = batch.clone();
    let set =
        RecordBatchDecoder::decode(&mut buf).map_err(|e| BatchError::Corrupt(format!("{e:#}")))?;
    let Some(first) = set.records.first() else {
        return Err(BatchError::Empty);
    };
    let base_offset = be_i64(batch, 0);
    for (i, record) in set.records.iter().enumerate() {
        let delta = record.offset - base_offset;
        if delta != i as i64 {
            return Err(BatchError::Corrupt(format!(
                "record {i} has offset delta {delta}, expected {i}"
            )));
        }
    }
    let record_count = set.records.len() as u32;
    if i64::from(last_offset_delta) != i64::from(record_count) - 1 {
        return Err(BatchError::Corrupt(format!(
            "lastOffsetDelta {last_offset_delta} does not match {record_count} records"
        )));
    }
    Ok(BatchInfo {
        record_count,
        last_offset_delta: record_count - 1,
        first_timestamp_ms: be_i64(batch, 27),
        max_timestamp_ms,
        producer_id: be_i64(batch, 43),
        producer_epoch: be_i16(batch, 51),
        base_sequence: be_i32(batch, 53),
        transactional: first.transactional,
        control: first.control,
        compression: set.compression,
        size_bytes: size,
    })
}

/// Returns a copy of `batch` with its base offset set. The CRC does not cover
/// the base offset or the leader epoch, so the rest stays byte-for-byte.
pub fn with_base_offset(batch: &[u8], base_offset: u64) -> Vec<u8> {
    let mut out = batch.to_vec();
    out[0..8].copy_from_slice(&(base_offset as i64).to_be_bytes());
    out[12..16].copy_from_slice(&0i32.to_be_bytes());
    out
}

/// Base offset written in a stored batch.
pub fn base_offset_of(batch: &[u8]) -> i64 {
    be_i64(batch, 0)
}

/// Header fields of a batch that passed [`validate`], read without
/// decoding its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub first_timestamp_ms: i64,
    pub max_timestamp_ms: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub compression: Compression,
}

/// Reads [`BatchHeader`] from a validated batch (at least 61 bytes).
pub fn header_of(batch: &[u8]) -> BatchHeader {
    let compression = match be_i16(batch, 21) & 0x07 {
        1 => Compression::Gzip,
        2 => Compression::Snappy,
        3 => Compression::Lz4,
        4 => Compression::Zstd,
        _ => Compression::None,
    };
    BatchHeader {
        first_timestamp_ms: be_i64(batch, 27),
        max_timestamp_ms: be_i64(batch, 35),
        producer_id: be_i64(batch, 43),
        producer_epoch: be_i16(batch, 51),
        base_sequence: be_i32(batch, 53),
        compression,
    }
}

/// The last offset in concatenated stored batches (a Fetch answer),
/// reading only their headers; `None` when there is no whole batch.
pub fn last_offset_in(records: &[u8]) -> Option<u64> {
    let mut at = 0;
    let mut last = None;
    while let Some(header) = records.get(at..at + 27) {
        let length = usize::try_from(be_i32(header, 8)).ok()?;
        let end = at + LOG_OVERHEAD_BYTES + length;
        if end > records.len() {
            break;
        }
        let base = u64::try_from(be_i64(header, 0)).ok()?;
        last = Some(base + last_offset_delta_of(header) as u64);
        at = end;
    }
    last
}

/// `lastOffsetDelta` written in a stored batch (not validated).
pub fn last_offset_delta_of(batch: &[u8]) -> u32 {
    if batch.len() < 27 {
        return 0;
    }
    be_i32(batch, 23).max(0) as u32
}

/// Decodes every record of a stored batch (used for timestamp lookups and
/// browsing; the fetch path never decodes).
pub fn decode_records(batch: &Bytes) -> Result<Vec<Record>, BatchError> {
    let mut buf = batch.clone();
    RecordBatchDecoder::decode(&mut buf)
        .map(|set| set.records)
        .map_err(|e| BatchError::Corrupt(format!("{e:#}")))
}

/// A record to put in a new batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewRecord {
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<(String, Option<Bytes>)>,
    pub timestamp_ms: i64,
}

/// Producer identity for idempotent batches; `None` for a plain producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerStamp {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
}

/// Encodes records into one RecordBatch v2 with base offset 0.
pub fn build(
    records: &[NewRecord],
    compression: Compression,
    producer: Option<ProducerStamp>,
) -> Bytes {
    let stamp = producer.unwrap_or(ProducerStamp {
        producer_id: -1,
        producer_epoch: -1,
        base_sequence: -1,
    });
    let encoded: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, r)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: stamp.producer_id,
            producer_epoch: stamp.producer_epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The encoder groups records whose offset-minus-sequence agree, and
            // derives baseSequence from the first: -1 + i keeps a plain
            // producer's batch whole with baseSequence -1.
            sequence: stamp.base_sequence.wrapping_add(i as i32),
            timestamp: r.timestamp_ms,
            key: r.key.clone(),
            value: r.value.clone(),
            headers: r
                .headers
                .iter()
                .map(|(k, v)| (k.clone().into(), v.clone()))
                .collect(),
        })
        .collect();
    let mut buf = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression,
    };
    RecordBatchEncoder::encode(&mut buf, &encoded, &options).expect("encoding a batch in memory");
    buf.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(n: usize) -> Bytes {
        let records: Vec<NewRecord> = (0..n)
            .map(|i| NewRecord {
                key: Some(Bytes::from(format!("k{i}"))),
                value: Some(Bytes::from(vec![b'x'; 100])),
                headers: vec![("h".into(), Some(Bytes::from_static(b"v")))],
                timestamp_ms: 1_000 + i as i64,
            })
            .collect();
        build(&records, Compression::None, None)
    }

    #[test]
    fn valid_batch_reports_its_shape() {
        let info = validate(&sample(3)).unwrap();
        assert_eq!(info.record_count, 3);
        assert_eq!(info.last_offset_delta, 2);
        assert_eq!(info.first_timestamp_ms, 1_000);
        assert_eq!(info.max_timestamp_ms, 1_002);
        assert_eq!(info.producer_id, -1);
    }

    #[test]
    fn every_compression_codec_validates() {
        for codec in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let records = vec![NewRecord {
                value: Some(Bytes::from(vec![b'a'; 2_000])),
                ..NewRecord::default()
            }];
            let batch = build(&records, codec, None);
            let info = validate(&batch).unwrap();
            assert_eq!(info.compression, codec);
            assert_eq!(
                decode_records(&batch).unwrap()[0]
                    .value
                    .as_ref()
                    .unwrap()
                    .len(),
                2_000
            );
        }
    }

    #[test]
    fn truncated_batch_is_refused() {
        let batch = sample(2);
        for cut in [0, 10, BATCH_HEADER_BYTES, batch.len() - 1] {
            let err = validate(&batch.slice(..cut)).unwrap_err();
            assert!(
                matches!(err, BatchError::Truncated { .. }),
                "cut {cut}: {err}"
            );
        }
    }

    #[test]
    fn flipped_byte_fails_the_crc() {
        let batch = sample(2);
        let mut bad = batch.to_vec();
        let last = bad.len() - 1;
        bad[last] ^= 0x40;
        let err = validate(&Bytes::from(bad)).unwrap_err();
        assert!(matches!(err, BatchError::CrcMismatch { .. }), "{err}");
    }

    #[test]
    fn rewriting_base_offset_keeps_crc_valid() {
        let batch = sample(2);
        let stored = Bytes::from(with_base_offset(&batch, 42));
        assert_eq!(base_offset_of(&stored), 42);
        assert_eq!(&stored[16..], &batch[16..]);
        let records = decode_records(&stored).unwrap();
        assert_eq!(records[1].offset, 43);
    }

    #[test]
    fn split_finds_concatenated_batches() {
        let mut both = sample(1).to_vec();
        both.extend_from_slice(&sample(2));
        let parts = split_batches(Bytes::from(both)).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(validate(&parts[1]).unwrap().record_count, 2);
        assert_eq!(split_batches(Bytes::new()).unwrap_err(), BatchError::Empty);
    }

    #[test]
    fn old_magic_is_refused() {
        let mut bad = sample(1).to_vec();
        bad[16] = 1;
        let crc = crc32c::crc32c(&bad[21..]);
        bad[17..21].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(
            validate(&Bytes::from(bad)).unwrap_err(),
            BatchError::UnsupportedMagic(1)
        );
    }
}
