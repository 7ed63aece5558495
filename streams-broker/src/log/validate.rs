//! Validation of what producers send, before it is appended (Kafka's `LogValidator`).
//!
//! Every batch must be a complete message-format-v2 batch with a correct CRC-32C, no
//! larger than `max.message.bytes`, whose record count matches its offset span. A
//! compacted topic also refuses records without a key, naming each by its index in its
//! batch. Offsets, producer sequences and transactions are checked later, under the
//! log's lock, by the log and its producer state.

use std::io::{BufRead, Read};

use super::batch::{crc_ok, BatchHeader, CONTROL_FLAG, HEADER_SIZE, MAGIC_OFFSET};
use super::records::{decompressor, MAX_DECOMPRESSED_BYTES};
use crate::error::{Error, Result};

/// Validates a buffer of batches from a producer: each must be a complete v2 batch with a
/// correct CRC, no larger than `max_batch_bytes`, with a consistent record count. Returns the
/// headers in order.
pub(super) fn validate_batches(buf: &[u8], max_batch_bytes: usize) -> Result<Vec<BatchHeader>> {
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
        if !crc_ok(&rest[..h.size]) {
            return Err(corrupt("CRC-32C mismatch"));
        }
        // Kafka's `LogValidator.validateBatch`: `INVALID_RECORD`, not a corrupt batch.
        let invalid = |reason: String| Error::InvalidRecord {
            topic: String::new(),
            partition: -1,
            record_indexes: Vec::new(),
            reason,
        };
        if h.last_offset_delta < 0 {
            return Err(invalid(format!(
                "Batch has an invalid offset range: last offset delta {}",
                h.last_offset_delta
            )));
        }
        if h.records_count <= 0 {
            return Err(invalid(format!(
                "Invalid reported count for record batch: {}",
                h.records_count
            )));
        }
        if h.records_count != h.last_offset_delta + 1 {
            return Err(invalid(format!(
                "Inconsistent batch offset range [0, {}] and count of records {}",
                h.last_offset_delta, h.records_count
            )));
        }
        headers.push(h);
        pos += h.size;
    }
    Ok(headers)
}

/// At most this many keyless records are named in an `INVALID_RECORD` answer; the count
/// of all of them is still reported. Kafka names every one, but a peer must not be able
/// to make the broker hold an index per record it claims.
const MAX_RECORD_ERRORS: usize = 1000;

/// How far a batch's records may expand when decompressed: 64 times `max.message.bytes`
/// (the largest compressed batch accepted), at least 1 MiB, and never more than
/// [`MAX_DECOMPRESSED_BYTES`]. Kafka streams through compressed records without a bound;
/// this bound keeps what one request can cost in CPU proportional to its size.
pub(super) fn decompressed_limit(max_message_bytes: usize) -> u64 {
    let limit = (max_message_bytes as u64).saturating_mul(64).max(1 << 20);
    limit.min(MAX_DECOMPRESSED_BYTES as u64)
}

/// Walks the records of every batch in `records` (validated by [`validate_batches`]),
/// as Kafka's `LogValidator` iterates a batch with `DefaultRecordBatch`'s record
/// iterator: the batch holds exactly `records_count` records, with offset deltas 0, 1,
/// 2…, each record's fields consuming exactly its declared length, and nothing after the
/// last; a compressed batch decompresses with a codec Kafka knows (0–4) to at most
/// `limit` bytes. Records are streamed, never collected: memory does not grow with
/// what a batch claims. On a compacted topic (`compacted`) records without a key are
/// refused too, named by their index in the batch. Control batches are left to the
/// producer-state check (clients may not write them).
pub(crate) fn check_records(
    topic: &str,
    partition: i32,
    records: &[u8],
    headers: &[BatchHeader],
    compacted: bool,
    limit: u64,
) -> Result<()> {
    let mut pos = 0usize;
    let mut keyless = Vec::new();
    let mut keyless_total = 0usize;
    let invalid = |reason: String| Error::InvalidRecord {
        topic: topic.to_string(),
        partition,
        record_indexes: Vec::new(),
        reason,
    };
    for h in headers {
        let at = pos;
        pos += h.size;
        if h.attributes & CONTROL_FLAG != 0 {
            continue;
        }
        let Some(raw) = records.get(at..at + h.size) else {
            return Err(Error::corrupt_batch(
                at as u64,
                "batch length exceeds the data sent",
            ));
        };
        let mut on_record = |index: i32, has_key: bool| {
            if compacted && !has_key {
                keyless_total += 1;
                if keyless.len() < MAX_RECORD_ERRORS {
                    keyless.push(index);
                }
            }
        };
        let section = raw.get(HEADER_SIZE..).unwrap_or_default();
        let walked = match h.compression() {
            0 => walk_records(
                &mut RecordReader::new(section),
                h.records_count,
                &mut on_record,
            ),
            codec => {
                let reader = decompressor(codec, section, limit)
                    .map_err(|e| Error::corrupt_batch(at as u64, e))?;
                let mut reader = RecordReader::new(std::io::BufReader::with_capacity(
                    32 * 1024,
                    reader.take(limit + 1),
                ));
                let walked = walk_records(&mut reader, h.records_count, &mut on_record);
                if reader.consumed > limit {
                    return Err(Error::corrupt_batch(
                        at as u64,
                        format!("records expand to more than {limit} bytes"),
                    ));
                }
                walked
            }
        };
        match walked {
            Ok(()) => {}
            Err(WalkError::Invalid(reason)) => {
                return Err(invalid(format!("{reason} (batch at byte {at})")))
            }
            Err(WalkError::Io(e)) => {
                return Err(Error::corrupt_batch(
                    at as u64,
                    format!("cannot decompress records: {e}"),
                ))
            }
        }
    }
    if keyless_total == 0 {
        return Ok(());
    }
    Err(Error::InvalidRecord {
        topic: topic.to_string(),
        partition,
        record_indexes: keyless,
        reason: format!(
            "Compacted topic cannot accept message without key in topic partition {topic}-{partition}."
        ),
    })
}

/// Why a batch's records were refused.
#[derive(Debug)]
enum WalkError {
    /// The records do not match the batch or do not parse (`INVALID_RECORD`).
    Invalid(String),
    /// The records section could not be read: it does not decompress (`CORRUPT_MESSAGE`).
    Io(std::io::Error),
}

impl From<std::io::Error> for WalkError {
    fn from(e: std::io::Error) -> Self {
        WalkError::Io(e)
    }
}

/// Bytes read one field at a time from a records section, counting what was consumed.
struct RecordReader<R> {
    inner: R,
    consumed: u64,
}

impl<R: BufRead> RecordReader<R> {
    fn new(inner: R) -> Self {
        RecordReader { inner, consumed: 0 }
    }

    /// The next byte; `None` at the end of the section.
    fn byte(&mut self) -> std::result::Result<Option<u8>, WalkError> {
        let b = self.inner.fill_buf()?.first().copied();
        if b.is_some() {
            self.inner.consume(1);
            self.consumed += 1;
        }
        Ok(b)
    }

    fn need_byte(&mut self) -> std::result::Result<u8, WalkError> {
        self.byte()?
            .ok_or_else(|| WalkError::Invalid("Found invalid record structure".into()))
    }

    /// A zig-zag varint of at most `max_bytes` bytes (5 for Kafka's `varint`, 10 for its
    /// `varlong`), as `ByteUtils.readVarint`/`readVarlong` read them.
    fn varint(&mut self, max_bytes: u32) -> std::result::Result<i64, WalkError> {
        let mut value: u64 = 0;
        for i in 0..max_bytes {
            let b = self.need_byte()?;
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                let v = ((value >> 1) as i64) ^ -((value & 1) as i64);
                return Ok(if max_bytes == 5 {
                    i64::from(v as i32)
                } else {
                    v
                });
            }
        }
        Err(WalkError::Invalid("Varint is too long".into()))
    }

    /// Skips `n` bytes, which must all be there.
    fn skip(&mut self, mut n: u64) -> std::result::Result<(), WalkError> {
        while n > 0 {
            let available = self.inner.fill_buf()?.len() as u64;
            if available == 0 {
                return Err(WalkError::Invalid("Found invalid record structure".into()));
            }
            let step = available.min(n);
            self.inner.consume(step as usize);
            self.consumed += step;
            n -= step;
        }
        Ok(())
    }
}

/// Reads `count` records, calling `on_record(index, has_key)` for each, and checks that
/// nothing follows them.
fn walk_records<R: BufRead>(
    r: &mut RecordReader<R>,
    count: i32,
    on_record: &mut dyn FnMut(i32, bool),
) -> std::result::Result<(), WalkError> {
    for index in 0..count {
        let size = r.varint(5)?;
        if size < 0 {
            return Err(WalkError::Invalid(format!("Invalid record size {size}")));
        }
        let size = size as u64;
        let start = r.consumed;
        // Every length below is checked against what is left of the record, so a record
        // never reads into the next one.
        let left = |r: &RecordReader<R>| (start + size).saturating_sub(r.consumed);
        r.need_byte()?; // attributes
        r.varint(10)?; // timestamp delta
        let offset_delta = r.varint(5)?;
        if offset_delta != i64::from(index) {
            // Stored as sent, a wrong delta would give two records one offset.
            return Err(WalkError::Invalid(format!(
                "record {index} has offset delta {offset_delta}"
            )));
        }
        let key = r.varint(5)?;
        let skip_field = |r: &mut RecordReader<R>, len: i64| {
            if len < 0 {
                return Ok(());
            }
            if len as u64 > left(r) {
                return Err(WalkError::Invalid(format!(
                    "Invalid record size: a field of {len} bytes runs past the record"
                )));
            }
            r.skip(len as u64)
        };
        skip_field(r, key)?;
        let value = r.varint(5)?;
        skip_field(r, value)?;
        let headers = r.varint(5)?;
        if headers < 0 {
            return Err(WalkError::Invalid(format!(
                "Found invalid number of record headers {headers}"
            )));
        }
        for _ in 0..headers {
            let key = r.varint(5)?;
            if key < 0 {
                return Err(WalkError::Invalid(format!(
                    "Invalid negative header key size {key}"
                )));
            }
            skip_field(r, key)?;
            let value = r.varint(5)?;
            skip_field(r, value)?;
        }
        let read = r.consumed - start;
        if read != size {
            return Err(WalkError::Invalid(format!(
                "Invalid record size: expected to read {size} bytes in record payload, but instead read {read}"
            )));
        }
        on_record(index, key >= 0);
    }
    if r.byte()?.is_some() {
        return Err(WalkError::Invalid(
            "Incorrect declared batch size, records still remaining in file".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kafka_protocol::records::Compression;

    use super::*;
    use crate::clock::now_ms;
    use crate::config::{FlushPolicy, TopicConfig};
    use crate::log::batch::tests::make_batch;
    use crate::log::PartitionLog;

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

    /// Many keyless records in a small compressed batch: the walk streams them and names
    /// at most [`MAX_RECORD_ERRORS`] of them, instead of holding one entry per record.
    #[test]
    fn keyless_records_are_counted_without_collecting_them() {
        use crate::log::cleaner::tests::batch_of;
        let kvs: Vec<(Option<&str>, Option<&str>)> = vec![(None, Some("v")); 50_000];
        let b = batch_of(&kvs, 1, Compression::Zstd, None);
        assert!(b.len() < 1 << 20, "{}", b.len());
        let headers = validate_batches(&b, 1 << 20).unwrap();
        let limit = decompressed_limit(1 << 20);
        match check_records("t", 0, &b, &headers, true, limit) {
            Err(Error::InvalidRecord { record_indexes, .. }) => {
                assert_eq!(record_indexes.len(), MAX_RECORD_ERRORS);
                assert_eq!(record_indexes[..3], [0, 1, 2]);
            }
            other => panic!("expected INVALID_RECORD, got {other:?}"),
        }
        // Not compacted: the same batch is fine; with a smaller bound it is not.
        check_records("t", 0, &b, &headers, false, limit).unwrap();
        assert!(matches!(
            check_records("t", 0, &b, &headers, false, 1000),
            Err(Error::CorruptBatch { .. })
        ));
    }

    #[test]
    fn the_decompression_bound_follows_max_message_bytes() {
        assert_eq!(decompressed_limit(0), 1 << 20);
        assert_eq!(decompressed_limit(1 << 20), 64 << 20);
        assert_eq!(decompressed_limit(100 << 20), MAX_DECOMPRESSED_BYTES as u64);
    }

    #[test]
    fn compacted_topics_refuse_records_without_a_key() {
        use crate::log::cleaner::tests::{batch, batch_of, open};
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), &[]);
        let now = now_ms();
        let mut b = batch(&[(Some("k"), Some("v")), (None, Some("v"))], now);
        match log.append(&mut b) {
            Err(Error::InvalidRecord { record_indexes, .. }) => assert_eq!(record_indexes, [1]),
            other => panic!("expected INVALID_RECORD, got {other:?}"),
        }
        let mut b = batch_of(&[(None, Some("v"))], now, Compression::Lz4, None);
        assert!(matches!(
            log.append(&mut b),
            Err(Error::InvalidRecord { .. })
        ));
        assert_eq!(log.log_end_offset(), 0, "nothing was appended");
        // A delete-only topic takes them.
        let other = tempfile::tempdir().unwrap();
        let plain = PartitionLog::open(
            other.path(),
            "p",
            0,
            Arc::new(TopicConfig::default()),
            FlushPolicy::Never,
        )
        .unwrap();
        let mut b = batch(&[(None, Some("v"))], now);
        assert_eq!(plain.append(&mut b).unwrap().base_offset, 0);
    }
}
