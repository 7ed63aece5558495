//! Record batches (Kafka's message format v2), handled as raw bytes.
//!
//! A producer sends records grouped in batches, each a 61-byte header followed by the
//! (possibly compressed) records. On the produce and fetch paths the broker never decodes
//! the records: it validates the header and the CRC-32C, writes the batch's base offset and
//! partition leader epoch in place (both lie outside the CRC), and appends the bytes as they
//! came. Consumers get the same bytes back. This is Kafka's `DefaultRecordBatch`, read-only
//! but for two fields. Compacted topics are the exception: their keys matter, so the log
//! cleaner reads records with [`parse_records`] and writes back what it keeps with
//! [`rebuild`].
//!
//! Layout (big-endian): `base_offset i64 | batch_length i32 | partition_leader_epoch i32 |
//! magic i8 | crc u32 | attributes i16 | last_offset_delta i32 | base_timestamp i64 |
//! max_timestamp i64 | producer_id i64 | producer_epoch i16 | base_sequence i32 |
//! records_count i32 | records…`. The CRC covers everything from `attributes` to the end.

use crate::error::{Error, Result};

/// Size of the v2 batch header.
pub const HEADER_SIZE: usize = 61;
/// Bytes before the `batch_length` field ends: base offset and length.
pub const LOG_OVERHEAD: usize = 12;
const MAGIC_OFFSET: usize = 16;
const CRC_OFFSET: usize = 17;
const ATTRIBUTES_OFFSET: usize = 21;
const LAST_OFFSET_DELTA_OFFSET: usize = 23;
const BASE_TIMESTAMP_OFFSET: usize = 27;
const MAX_TIMESTAMP_OFFSET: usize = 35;
const PRODUCER_ID_OFFSET: usize = 43;
const PRODUCER_EPOCH_OFFSET: usize = 51;
const BASE_SEQUENCE_OFFSET: usize = 53;
const RECORDS_COUNT_OFFSET: usize = 57;
/// `producer_id` of a batch from a producer that is not idempotent.
pub const NO_PRODUCER_ID: i64 = -1;

fn i16_at(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes([b[at], b[at + 1]])
}
fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn i64_at(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_be_bytes(a)
}

/// What the broker needs to know about one batch, read from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    /// The first offset of the batch.
    pub base_offset: i64,
    /// Total size of the batch in bytes, header included.
    pub size: usize,
    /// The `magic` byte (2 for every batch the broker accepts).
    pub magic: i8,
    /// The attributes (compression codec in the low three bits, timestamp type, …).
    pub attributes: i16,
    /// Offset of the last record relative to `base_offset`.
    pub last_offset_delta: i32,
    /// Timestamp of the first record.
    pub base_timestamp: i64,
    /// Largest timestamp in the batch.
    pub max_timestamp: i64,
    /// Producer id, -1 unless the producer is idempotent.
    pub producer_id: i64,
    /// Producer epoch, -1 unless the producer is idempotent.
    pub producer_epoch: i16,
    /// Sequence number of the first record, -1 unless the producer is idempotent.
    pub base_sequence: i32,
    /// Number of records in the batch.
    pub records_count: i32,
}

impl BatchHeader {
    /// Reads the header at the start of `b`, which must hold at least [`HEADER_SIZE`] bytes.
    /// Checks only what is needed to walk a log: the length and the magic byte.
    pub fn parse(b: &[u8]) -> Option<BatchHeader> {
        if b.len() < HEADER_SIZE {
            return None;
        }
        let batch_length = i32_at(b, 8);
        let size = usize::try_from(batch_length).ok()? + LOG_OVERHEAD;
        if size < HEADER_SIZE {
            return None;
        }
        Some(BatchHeader {
            base_offset: i64_at(b, 0),
            size,
            magic: b[MAGIC_OFFSET] as i8,
            attributes: i16_at(b, ATTRIBUTES_OFFSET),
            last_offset_delta: i32_at(b, LAST_OFFSET_DELTA_OFFSET),
            base_timestamp: i64_at(b, BASE_TIMESTAMP_OFFSET),
            max_timestamp: i64_at(b, MAX_TIMESTAMP_OFFSET),
            producer_id: i64_at(b, PRODUCER_ID_OFFSET),
            producer_epoch: i16_at(b, PRODUCER_EPOCH_OFFSET),
            base_sequence: i32_at(b, BASE_SEQUENCE_OFFSET),
            records_count: i32_at(b, RECORDS_COUNT_OFFSET),
        })
    }

    /// The last offset in the batch.
    pub fn last_offset(&self) -> i64 {
        self.base_offset + i64::from(self.last_offset_delta)
    }

    /// The next offset after the batch.
    pub fn next_offset(&self) -> i64 {
        self.last_offset() + 1
    }

    /// The compression codec (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd).
    pub fn compression(&self) -> i16 {
        self.attributes & 0x07
    }

    /// True if the batch is part of a transaction.
    pub fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_FLAG != 0
    }

    /// True if the batch is a control batch (a transaction marker).
    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL_FLAG != 0
    }

    /// True if the batch comes from an idempotent or transactional producer.
    pub fn has_producer_id(&self) -> bool {
        self.producer_id > NO_PRODUCER_ID
    }

    /// The sequence number of the last record: sequences wrap from `i32::MAX` to 0, as in
    /// Kafka's `DefaultRecordBatch.incrementSequence`.
    pub fn last_sequence(&self) -> i32 {
        increment_sequence(self.base_sequence, self.last_offset_delta)
    }
}

/// `sequence + increment`, wrapping past `i32::MAX` to 0 as producers do.
pub fn increment_sequence(sequence: i32, increment: i32) -> i32 {
    if sequence < 0 {
        return sequence;
    }
    if sequence > i32::MAX - increment {
        increment - (i32::MAX - sequence) - 1
    } else {
        sequence + increment
    }
}

/// The two kinds of transaction marker (Kafka's `ControlRecordType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlType {
    /// The transaction was aborted (type 0).
    Abort,
    /// The transaction was committed (type 1).
    Commit,
}

/// Builds a transaction marker: a control batch (control and transactional flags set) of
/// one record whose key is `version: i16 = 0, type: i16` and whose value is
/// `version: i16 = 0, coordinator_epoch: i32`, as Kafka's `EndTransactionMarker` writes
/// it. The base offset is assigned on append.
pub fn control_batch(
    producer_id: i64,
    producer_epoch: i16,
    kind: ControlType,
    coordinator_epoch: i32,
    timestamp: i64,
) -> Vec<u8> {
    let mut key = Vec::with_capacity(4);
    key.extend_from_slice(&0i16.to_be_bytes());
    key.extend_from_slice(&(kind as i16).to_be_bytes());
    let mut value = Vec::with_capacity(6);
    value.extend_from_slice(&0i16.to_be_bytes());
    value.extend_from_slice(&coordinator_epoch.to_be_bytes());
    let mut record = vec![0u8]; // record attributes
    put_varint(&mut record, 0); // timestamp delta
    put_varint(&mut record, 0); // offset delta
    put_varint(&mut record, key.len() as i64);
    record.extend_from_slice(&key);
    put_varint(&mut record, value.len() as i64);
    record.extend_from_slice(&value);
    put_varint(&mut record, 0); // no headers
    let mut records = Vec::with_capacity(record.len() + 2);
    put_varint(&mut records, record.len() as i64);
    records.extend_from_slice(&record);
    let mut b = Vec::with_capacity(HEADER_SIZE + records.len());
    b.extend_from_slice(&0i64.to_be_bytes());
    b.extend_from_slice(&((HEADER_SIZE - LOG_OVERHEAD + records.len()) as i32).to_be_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes()); // partition leader epoch
    b.push(2);
    b.extend_from_slice(&0u32.to_be_bytes()); // CRC, below
    b.extend_from_slice(&(TRANSACTIONAL_FLAG | CONTROL_FLAG).to_be_bytes());
    b.extend_from_slice(&0i32.to_be_bytes()); // last offset delta
    b.extend_from_slice(&timestamp.to_be_bytes());
    b.extend_from_slice(&timestamp.to_be_bytes());
    b.extend_from_slice(&producer_id.to_be_bytes());
    b.extend_from_slice(&producer_epoch.to_be_bytes());
    b.extend_from_slice(&(-1i32).to_be_bytes()); // base sequence
    b.extend_from_slice(&1i32.to_be_bytes()); // records count
    b.extend_from_slice(&records);
    let crc = crc32c::crc32c(&b[ATTRIBUTES_OFFSET..]);
    b[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    b
}

/// The marker type of a control batch, read from its first record's key (control batches
/// are never compressed). `None` if `batch` is not a well-formed control batch.
pub fn control_type(batch: &[u8]) -> Option<ControlType> {
    let h = BatchHeader::parse(batch)?;
    if !h.is_control() || h.compression() != 0 || batch.len() < h.size {
        return None;
    }
    let records = &batch[HEADER_SIZE..h.size];
    let mut pos = 0usize;
    read_varint(records, &mut pos)?; // record length
    pos += 1; // attributes
    read_varint(records, &mut pos)?; // timestamp delta
    read_varint(records, &mut pos)?; // offset delta
    let key_len = usize::try_from(read_varint(records, &mut pos)?).ok()?;
    let key = records.get(pos..pos.checked_add(key_len)?)?;
    if key.len() < 4 {
        return None;
    }
    match i16::from_be_bytes([key[2], key[3]]) {
        0 => Some(ControlType::Abort),
        1 => Some(ControlType::Commit),
        _ => None,
    }
}

/// Checks the CRC-32C of a complete batch.
pub fn crc_ok(batch: &[u8]) -> bool {
    if batch.len() < HEADER_SIZE {
        return false;
    }
    let stored = i32_at(batch, CRC_OFFSET) as u32;
    crc32c::crc32c(&batch[ATTRIBUTES_OFFSET..]) == stored
}

/// Validates a buffer of batches from a producer: each must be a complete v2 batch with a
/// correct CRC, no larger than `max_batch_bytes`, with a consistent record count. Returns the
/// headers in order.
pub fn validate_batches(buf: &[u8], max_batch_bytes: usize) -> Result<Vec<BatchHeader>> {
    let mut headers = Vec::new();
    let mut pos = 0usize;
    if buf.is_empty() {
        return Err(Error::CorruptBatch {
            position: 0,
            reason: "no record batch".into(),
        });
    }
    while pos < buf.len() {
        let corrupt = |reason: &str| Error::CorruptBatch {
            position: pos as u64,
            reason: reason.to_string(),
        };
        let rest = &buf[pos..];
        if rest.len() > MAGIC_OFFSET && rest[MAGIC_OFFSET] != 2 {
            return Err(corrupt(
                "unsupported magic byte (only message format v2 is accepted)",
            ));
        }
        let h = BatchHeader::parse(rest).ok_or_else(|| corrupt("truncated batch header"))?;
        if h.size > max_batch_bytes {
            return Err(Error::BatchTooLarge {
                size: h.size,
                limit: max_batch_bytes,
            });
        }
        if h.size > rest.len() {
            return Err(corrupt("batch length exceeds the data sent"));
        }
        if h.last_offset_delta < 0 || h.records_count < 0 {
            return Err(corrupt("negative record count"));
        }
        if h.records_count != h.last_offset_delta + 1 {
            return Err(corrupt("record count does not match last offset delta"));
        }
        if !crc_ok(&rest[..h.size]) {
            return Err(corrupt("CRC-32C mismatch"));
        }
        headers.push(h);
        pos += h.size;
    }
    Ok(headers)
}

/// Writes the base offset and partition leader epoch of the batch starting at `batch`.
/// Neither field is covered by the CRC, so the batch stays valid.
pub fn assign_offset(batch: &mut [u8], base_offset: i64, leader_epoch: i32) {
    batch[0..8].copy_from_slice(&base_offset.to_be_bytes());
    batch[12..16].copy_from_slice(&leader_epoch.to_be_bytes());
}

/// Stamps a batch with the broker's time (`message.timestamp.type=LogAppendTime`): sets
/// the timestamp-type attribute and the max timestamp, and recomputes the CRC, as Kafka
/// does. Consumers then read every record's timestamp as `time`.
pub fn set_log_append_time(batch: &mut [u8], time: i64) {
    let attributes = i16_at(batch, ATTRIBUTES_OFFSET) | LOG_APPEND_TIME_FLAG;
    batch[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2].copy_from_slice(&attributes.to_be_bytes());
    batch[MAX_TIMESTAMP_OFFSET..MAX_TIMESTAMP_OFFSET + 8].copy_from_slice(&time.to_be_bytes());
    let crc = crc32c::crc32c(&batch[ATTRIBUTES_OFFSET..]);
    batch[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
}

fn read_varint(b: &[u8], pos: &mut usize) -> Option<i64> {
    let mut value: u64 = 0;
    let mut shift = 0;
    loop {
        let byte = *b.get(*pos)?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
    // zig-zag decoding
    Some(((value >> 1) as i64) ^ -((value & 1) as i64))
}

/// For an uncompressed batch, finds the first record whose timestamp is at least
/// `target`, returning `(offset, timestamp)`. Reads only each record's length, timestamp
/// delta and offset delta; returns `None` for compressed batches or if no record matches.
pub fn find_timestamp(batch: &[u8], target: i64) -> Option<(i64, i64)> {
    let h = BatchHeader::parse(batch)?;
    if h.compression() != 0 || batch.len() < h.size {
        return None;
    }
    let records = &batch[HEADER_SIZE..h.size];
    let mut pos = 0usize;
    for _ in 0..h.records_count {
        let len = usize::try_from(read_varint(records, &mut pos)?).ok()?;
        let start = pos;
        pos += 1; // attributes
        let ts_delta = read_varint(records, &mut pos)?;
        let offset_delta = read_varint(records, &mut pos)?;
        let ts = h.base_timestamp + ts_delta;
        if ts >= target {
            return Some((h.base_offset + offset_delta, ts));
        }
        pos = start.checked_add(len)?;
    }
    None
}

// ---------------------------------------------------------------------------------------
// Records inside a batch, for the log cleaner: compaction is the one place that needs the
// records' keys. Kept apart from the header parser above; nothing here is used on the
// produce/fetch fast path of topics that are not compacted.

/// Attribute bit: every record's timestamp is the broker's (`LogAppendTime`).
pub const LOG_APPEND_TIME_FLAG: i16 = 0x08;
/// Attribute bit: the batch belongs to a transaction.
pub const TRANSACTIONAL_FLAG: i16 = 0x10;
/// Attribute bit: the batch holds control records (transaction markers).
pub const CONTROL_FLAG: i16 = 0x20;
/// Attribute bit (KIP-534): the batch's base timestamp holds the *delete horizon* the log
/// cleaner gave it, after which its tombstones and finished transaction markers may go.
pub const DELETE_HORIZON_FLAG: i16 = 0x40;

/// Appends `v` zig-zag varint encoded (the record fields Kafka calls `varint`/`varlong`).
pub(crate) fn put_varint(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    loop {
        let b = (z & 0x7f) as u8;
        z >>= 7;
        if z == 0 {
            out.push(b);
            break;
        }
        out.push(b | 0x80);
    }
}

/// One record of a v2 batch, borrowed from the batch's uncompressed records section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawRecord<'a> {
    /// The record's timestamp minus the batch's base timestamp.
    pub timestamp_delta: i64,
    /// The record's offset minus the batch's base offset.
    pub offset_delta: i64,
    /// The key; `None` for a null key.
    pub key: Option<&'a [u8]>,
    /// The value; `None` for a null value (a tombstone).
    pub value: Option<&'a [u8]>,
    attributes: u8,
    /// Key, value and headers as encoded: copied verbatim when the record is rewritten.
    tail: &'a [u8],
}

impl RawRecord<'_> {
    /// Appends the record to a records section whose batch has the same base offset and a
    /// base timestamp that makes this record's timestamp delta `timestamp_delta`. Key, value
    /// and headers are copied byte for byte.
    pub fn write(&self, out: &mut Vec<u8>, timestamp_delta: i64) {
        let mut prefix = Vec::with_capacity(16);
        prefix.push(self.attributes);
        put_varint(&mut prefix, timestamp_delta);
        put_varint(&mut prefix, self.offset_delta);
        put_varint(out, (prefix.len() + self.tail.len()) as i64);
        out.extend_from_slice(&prefix);
        out.extend_from_slice(self.tail);
    }
}

fn nullable_bytes<'a>(b: &'a [u8], pos: &mut usize) -> Option<Option<&'a [u8]>> {
    let len = read_varint(b, pos)?;
    if len == -1 {
        return Some(None);
    }
    let len = usize::try_from(len).ok()?;
    let end = pos.checked_add(len)?;
    let bytes = b.get(*pos..end)?;
    *pos = end;
    Some(Some(bytes))
}

/// Splits an uncompressed records section into its `count` records; `None` if it is
/// malformed (a length or field running past the end).
pub fn parse_records(section: &[u8], count: i32) -> Option<Vec<RawRecord<'_>>> {
    let count = usize::try_from(count).ok()?;
    // Each record takes at least 7 bytes: never reserve more than the section can hold.
    let mut records = Vec::with_capacity(count.min(section.len() / 7));
    let mut pos = 0usize;
    for _ in 0..count {
        let len = usize::try_from(read_varint(section, &mut pos)?).ok()?;
        let end = pos.checked_add(len)?;
        let record = section.get(pos..end)?;
        pos = end;
        let attributes = *record.first()?;
        let mut at = 1usize;
        let timestamp_delta = read_varint(record, &mut at)?;
        let offset_delta = read_varint(record, &mut at)?;
        let tail = record.get(at..)?;
        let key = nullable_bytes(record, &mut at)?;
        let value = nullable_bytes(record, &mut at)?;
        records.push(RawRecord {
            timestamp_delta,
            offset_delta,
            key,
            value,
            attributes,
            tail,
        });
    }
    Some(records)
}

/// Builds a batch with the header of `original` (base offset, last offset delta, producer
/// id, epoch and base sequence, leader epoch) around a new records section, with the given
/// attributes, timestamps and record count, and a fresh CRC. This is how the cleaner writes
/// back what it keeps of a batch: the offsets the batch spans do not change.
pub fn rebuild(
    original: &[u8],
    attributes: i16,
    base_timestamp: i64,
    max_timestamp: i64,
    records_count: i32,
    records: &[u8],
) -> Vec<u8> {
    let mut b = Vec::with_capacity(HEADER_SIZE + records.len());
    b.extend_from_slice(&original[..HEADER_SIZE.min(original.len())]);
    b.resize(HEADER_SIZE, 0);
    b.extend_from_slice(records);
    let length = (b.len() - LOG_OVERHEAD) as i32;
    b[8..12].copy_from_slice(&length.to_be_bytes());
    b[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2].copy_from_slice(&attributes.to_be_bytes());
    b[BASE_TIMESTAMP_OFFSET..BASE_TIMESTAMP_OFFSET + 8]
        .copy_from_slice(&base_timestamp.to_be_bytes());
    b[MAX_TIMESTAMP_OFFSET..MAX_TIMESTAMP_OFFSET + 8].copy_from_slice(&max_timestamp.to_be_bytes());
    b[RECORDS_COUNT_OFFSET..RECORDS_COUNT_OFFSET + 4].copy_from_slice(&records_count.to_be_bytes());
    let crc = crc32c::crc32c(&b[ATTRIBUTES_OFFSET..]);
    b[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
    b
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds an uncompressed v2 batch of `n` records with the given timestamps; values are
    /// `value-<i>`. Used by the log's tests.
    pub(crate) fn make_batch(timestamps: &[i64]) -> Vec<u8> {
        make_producer_batch(timestamps, -1, -1, -1, false)
    }

    /// Like [`make_batch`], from producer `pid` at `epoch` with first sequence `seq`,
    /// transactional or not.
    pub(crate) fn make_producer_batch(
        timestamps: &[i64],
        pid: i64,
        epoch: i16,
        seq: i32,
        transactional: bool,
    ) -> Vec<u8> {
        let base_ts = timestamps.first().copied().unwrap_or(0);
        let max_ts = timestamps.iter().copied().max().unwrap_or(0);
        let mut records = Vec::new();
        for (i, ts) in timestamps.iter().enumerate() {
            let mut r = vec![0u8];
            put_varint(&mut r, ts - base_ts);
            put_varint(&mut r, i as i64);
            put_varint(&mut r, -1); // null key
            let value = format!("value-{i}");
            put_varint(&mut r, value.len() as i64);
            r.extend_from_slice(value.as_bytes());
            put_varint(&mut r, 0); // no headers
            put_varint(&mut records, r.len() as i64);
            records.extend_from_slice(&r);
        }
        let mut b = Vec::new();
        b.extend_from_slice(&0i64.to_be_bytes());
        b.extend_from_slice(&((HEADER_SIZE - LOG_OVERHEAD + records.len()) as i32).to_be_bytes());
        b.extend_from_slice(&0i32.to_be_bytes());
        b.push(2);
        b.extend_from_slice(&0u32.to_be_bytes());
        let attributes = if transactional { TRANSACTIONAL_FLAG } else { 0 };
        b.extend_from_slice(&attributes.to_be_bytes());
        b.extend_from_slice(&(timestamps.len() as i32 - 1).to_be_bytes());
        b.extend_from_slice(&base_ts.to_be_bytes());
        b.extend_from_slice(&max_ts.to_be_bytes());
        b.extend_from_slice(&pid.to_be_bytes());
        b.extend_from_slice(&epoch.to_be_bytes());
        b.extend_from_slice(&seq.to_be_bytes());
        b.extend_from_slice(&(timestamps.len() as i32).to_be_bytes());
        b.extend_from_slice(&records);
        let crc = crc32c::crc32c(&b[ATTRIBUTES_OFFSET..]);
        b[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
        b
    }

    #[test]
    fn validates_and_assigns_offsets() {
        let mut b = make_batch(&[10, 20, 30]);
        let hs = validate_batches(&b, 1 << 20).unwrap();
        assert_eq!(hs.len(), 1);
        assert_eq!(hs[0].records_count, 3);
        assert_eq!(hs[0].max_timestamp, 30);
        assign_offset(&mut b, 42, 0);
        let h = BatchHeader::parse(&b).unwrap();
        assert_eq!((h.base_offset, h.last_offset()), (42, 44));
        assert!(crc_ok(&b), "offset assignment must not break the CRC");
    }

    #[test]
    fn rejects_bad_crc_truncation_and_size() {
        let mut b = make_batch(&[1, 2]);
        let last = b.len() - 1;
        b[last] ^= 0xff;
        assert!(validate_batches(&b, 1 << 20).is_err());
        let b = make_batch(&[1, 2]);
        assert!(validate_batches(&b[..b.len() - 1], 1 << 20).is_err());
        assert!(matches!(
            validate_batches(&b, 10),
            Err(Error::BatchTooLarge { .. })
        ));
        assert!(validate_batches(&[], 10).is_err());
    }

    #[test]
    fn parses_records_and_rebuilds_a_batch_around_some_of_them() {
        let b = make_batch(&[100, 200, 300]);
        let h = BatchHeader::parse(&b).unwrap();
        let records = parse_records(&b[HEADER_SIZE..], h.records_count).unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(records[1].value, Some(&b"value-1"[..]));
        assert_eq!(
            (records[2].offset_delta, records[2].timestamp_delta),
            (2, 200)
        );
        assert_eq!(records[0].key, None);
        assert!(parse_records(&b[HEADER_SIZE..b.len() - 1], h.records_count).is_none());

        // Keep the last record only, re-based on a later base timestamp.
        let mut section = Vec::new();
        records[2].write(&mut section, 300 - 250);
        let rebuilt = rebuild(
            &b,
            h.attributes | DELETE_HORIZON_FLAG,
            250,
            300,
            1,
            &section,
        );
        assert!(crc_ok(&rebuilt));
        let r = BatchHeader::parse(&rebuilt).unwrap();
        assert_eq!((r.base_offset, r.last_offset(), r.records_count), (0, 2, 1));
        assert_eq!(
            (r.base_timestamp, r.max_timestamp, r.size),
            (250, 300, rebuilt.len())
        );
        let kept = parse_records(&rebuilt[HEADER_SIZE..], 1).unwrap();
        assert_eq!(kept[0].offset_delta, 2, "the record keeps its offset");
        assert_eq!(
            r.base_timestamp + kept[0].timestamp_delta,
            300,
            "and its timestamp"
        );
        assert_eq!(kept[0].value, Some(&b"value-2"[..]));
    }

    #[test]
    fn finds_records_by_timestamp() {
        let b = make_batch(&[100, 200, 300]);
        assert_eq!(find_timestamp(&b, 150), Some((1, 200)));
        assert_eq!(find_timestamp(&b, 50), Some((0, 100)));
        assert_eq!(find_timestamp(&b, 301), None);
    }

    #[test]
    fn producer_fields_and_sequence_wrap() {
        let b = make_producer_batch(&[1, 2, 3], 7, 2, 10, true);
        let h = BatchHeader::parse(&b).unwrap();
        assert_eq!(
            (h.producer_id, h.producer_epoch, h.base_sequence),
            (7, 2, 10)
        );
        assert_eq!(h.last_sequence(), 12);
        assert!(h.is_transactional() && !h.is_control() && h.has_producer_id());
        assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
    }

    #[test]
    fn control_batches_round_trip() {
        for kind in [ControlType::Abort, ControlType::Commit] {
            let b = control_batch(42, 3, kind, 0, 1_000);
            let hs = validate_batches(&b, 1 << 20).unwrap();
            let h = hs[0];
            assert!(h.is_control() && h.is_transactional());
            assert_eq!(
                (h.producer_id, h.producer_epoch, h.records_count),
                (42, 3, 1)
            );
            assert_eq!(control_type(&b), Some(kind));
        }
        assert_eq!(control_type(&make_batch(&[1])), None);
    }
}
