//! Validation of what producers send, before it is appended (Kafka's `LogValidator`).
//!
//! Every batch must be a complete message-format-v2 batch with a correct CRC-32C, no
//! larger than `max.message.bytes`, whose record count matches its offset span. A
//! compacted topic also refuses records without a key, naming each by its index in its
//! batch. Offsets, producer sequences and transactions are checked later, under the
//! log's lock, by the log and its producer state.

use super::batch::{crc_ok, BatchHeader, CONTROL_FLAG, MAGIC_OFFSET};
use super::records::records_section;
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

/// Refuses records without a key, as Kafka does for a compacted topic: each offending
/// record is named by its index in its batch, and the whole request is refused with
/// `INVALID_RECORD`. Control batches are exempt (their records are the broker's own).
pub(crate) fn check_keys(
    topic: &str,
    partition: i32,
    records: &[u8],
    headers: &[BatchHeader],
) -> Result<()> {
    let mut pos = 0usize;
    let mut missing = Vec::new();
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
        let section = records_section(raw, h, at as u64)?;
        let parsed = super::records::parse_records(&section, h.records_count)
            .ok_or_else(|| Error::corrupt_batch(at as u64, "malformed records"))?;
        missing.extend(
            parsed
                .iter()
                .enumerate()
                .filter(|(_, r)| r.key.is_none())
                .map(|(i, _)| i as i32),
        );
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::InvalidRecord {
        topic: topic.to_string(),
        partition,
        record_indexes: missing,
        reason: format!(
            "Compacted topic cannot accept message without key in topic partition {topic}-{partition}."
        ),
    })
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
