//! Record batches (Kafka's message format v2), handled as raw bytes.
//!
//! A producer sends records grouped in batches, each a 61-byte header followed by the
//! (possibly compressed) records. On the produce and fetch paths the broker never decodes
//! the records: it validates the header and the CRC-32C, writes the batch's base offset and
//! partition leader epoch in place (both lie outside the CRC), and appends the bytes as they
//! came. Consumers get the same bytes back. This is Kafka's `DefaultRecordBatch`, read-only
//! but for two fields. Compacted topics are the exception: their keys matter, so the log
//! cleaner reads records (see the `records` module) and writes back what it keeps with
//! [`rebuild`].
//!
//! Layout (big-endian): `base_offset i64 | batch_length i32 | partition_leader_epoch i32 |
//! magic i8 | crc u32 | attributes i16 | last_offset_delta i32 | base_timestamp i64 |
//! max_timestamp i64 | producer_id i64 | producer_epoch i16 | base_sequence i32 |
//! records_count i32 | records…`. The CRC covers everything from `attributes` to the end.

use super::varint::{put_varint, read_varint};

/// Size of the v2 batch header.
pub(crate) const HEADER_SIZE: usize = 61;
/// Bytes before the `batch_length` field ends: base offset and length.
pub(crate) const LOG_OVERHEAD: usize = 12;
/// Where the magic byte (the message format version) sits in a batch.
pub(super) const MAGIC_OFFSET: usize = 16;
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
pub(crate) const NO_PRODUCER_ID: i64 = -1;

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
pub(crate) struct BatchHeader {
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
    pub(crate) fn parse(b: &[u8]) -> Option<BatchHeader> {
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
    pub(crate) fn last_offset(&self) -> i64 {
        self.base_offset + i64::from(self.last_offset_delta)
    }

    /// The next offset after the batch.
    pub(crate) fn next_offset(&self) -> i64 {
        self.last_offset() + 1
    }

    /// The compression codec (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd).
    pub(crate) fn compression(&self) -> i16 {
        self.attributes & 0x07
    }

    /// True if the batch is part of a transaction.
    pub(crate) fn is_transactional(&self) -> bool {
        self.attributes & TRANSACTIONAL_FLAG != 0
    }

    /// True if the batch is a control batch (a transaction marker).
    pub(crate) fn is_control(&self) -> bool {
        self.attributes & CONTROL_FLAG != 0
    }

    /// True if the batch comes from an idempotent or transactional producer.
    pub(crate) fn has_producer_id(&self) -> bool {
        self.producer_id > NO_PRODUCER_ID
    }

    /// The sequence number of the last record: sequences wrap from `i32::MAX` to 0, as in
    /// Kafka's `DefaultRecordBatch.incrementSequence`.
    pub(crate) fn last_sequence(&self) -> i32 {
        increment_sequence(self.base_sequence, self.last_offset_delta)
    }
}

/// `sequence + increment`, wrapping past `i32::MAX` to 0 as producers do.
pub(crate) fn increment_sequence(sequence: i32, increment: i32) -> i32 {
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
pub(crate) enum ControlType {
    /// The transaction was aborted (type 0).
    Abort,
    /// The transaction was committed (type 1).
    Commit,
}

/// Builds a transaction marker: a control batch (control and transactional flags set) of
/// one record whose key is `version: i16 = 0, type: i16` and whose value is
/// `version: i16 = 0, coordinator_epoch: i32`, as Kafka's `EndTransactionMarker` writes
/// it. The base offset is assigned on append.
pub(crate) fn control_batch(
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
pub(crate) fn control_type(batch: &[u8]) -> Option<ControlType> {
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
pub(crate) fn crc_ok(batch: &[u8]) -> bool {
    if batch.len() < HEADER_SIZE {
        return false;
    }
    let stored = i32_at(batch, CRC_OFFSET) as u32;
    crc32c::crc32c(&batch[ATTRIBUTES_OFFSET..]) == stored
}

/// Writes the base offset and partition leader epoch of the batch starting at `batch`.
/// Neither field is covered by the CRC, so the batch stays valid.
pub(crate) fn assign_offset(batch: &mut [u8], base_offset: i64, leader_epoch: i32) {
    batch[0..8].copy_from_slice(&base_offset.to_be_bytes());
    batch[12..16].copy_from_slice(&leader_epoch.to_be_bytes());
}

/// Stamps a batch with the broker's time (`message.timestamp.type=LogAppendTime`): sets
/// the timestamp-type attribute and the max timestamp, and recomputes the CRC, as Kafka
/// does. Consumers then read every record's timestamp as `time`.
pub(crate) fn set_log_append_time(batch: &mut [u8], time: i64) {
    let attributes = i16_at(batch, ATTRIBUTES_OFFSET) | LOG_APPEND_TIME_FLAG;
    batch[ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2].copy_from_slice(&attributes.to_be_bytes());
    batch[MAX_TIMESTAMP_OFFSET..MAX_TIMESTAMP_OFFSET + 8].copy_from_slice(&time.to_be_bytes());
    let crc = crc32c::crc32c(&batch[ATTRIBUTES_OFFSET..]);
    batch[CRC_OFFSET..CRC_OFFSET + 4].copy_from_slice(&crc.to_be_bytes());
}

/// For an uncompressed batch, finds the first record whose timestamp is at least
/// `target`, returning `(offset, timestamp)`. Reads only each record's length, timestamp
/// delta and offset delta; returns `None` for compressed batches or if no record matches.
pub(crate) fn find_timestamp(batch: &[u8], target: i64) -> Option<(i64, i64)> {
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

/// Attribute bit: every record's timestamp is the broker's (`LogAppendTime`).
pub(crate) const LOG_APPEND_TIME_FLAG: i16 = 0x08;
/// Attribute bit: the batch belongs to a transaction.
pub(crate) const TRANSACTIONAL_FLAG: i16 = 0x10;
/// Attribute bit: the batch holds control records (transaction markers).
pub(crate) const CONTROL_FLAG: i16 = 0x20;
/// Attribute bit (KIP-534): the batch's base timestamp holds the *delete horizon* the log
/// cleaner gave it, after which its tombstones and finished transaction markers may go.
pub(crate) const DELETE_HORIZON_FLAG: i16 = 0x40;

/// Builds a batch with the header of `original` (base offset, last offset delta, producer
/// id, epoch and base sequence, leader epoch) around a new records section, with the given
/// attributes, timestamps and record count, and a fresh CRC. This is how the cleaner writes
/// back what it keeps of a batch: the offsets the batch spans do not change.
pub(crate) fn rebuild(
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
    use crate::log::validate::validate_batches;

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
