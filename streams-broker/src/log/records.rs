//! The records section of a v2 batch: record iteration, bounded decompression and
//! compression.
//!
//! The produce and fetch paths never look inside a batch; two features must. A compacted
//! topic refuses records without a key (see `validate`), and the log cleaner decides record
//! by record what to keep and writes back the survivors with the batch's own codec. Both
//! read the section through [`records_section`], which decompresses into at most
//! [`MAX_DECOMPRESSED_BYTES`], so a small batch built to expand enormously cannot take the
//! broker's memory. This is the part of Kafka's `record` package (`DefaultRecord`,
//! `CompressionType`) that a broker which stores batches as received needs.

use std::borrow::Cow;
use std::io::Read;

use bytes::BytesMut;
use kafka_protocol::compression::{Compressor, Gzip, Lz4, Snappy, Zstd};

use super::batch::{self, BatchHeader, HEADER_SIZE, LOG_APPEND_TIME_FLAG};
use super::varint::{put_varint, read_varint};
use crate::error::{Error, Result};

/// The most a batch's records section may decompress to. A compressed batch is checked
/// (keys on compacted topics) and rewritten by decompressing it; without a bound, a small
/// batch built to expand enormously (a "decompression bomb") would take the broker's memory.
/// Legitimate batches stay far below it: `max.message.bytes` bounds their compressed size.
pub(crate) const MAX_DECOMPRESSED_BYTES: usize = 256 * 1024 * 1024;

/// The uncompressed records section of a batch.
pub(crate) fn records_section<'a>(
    batch: &'a [u8],
    h: &BatchHeader,
    position: u64,
) -> Result<Cow<'a, [u8]>> {
    let raw = batch.get(HEADER_SIZE..).unwrap_or_default();
    match h.compression() {
        0 => Ok(Cow::Borrowed(raw)),
        codec => decompress_bounded(codec, raw, MAX_DECOMPRESSED_BYTES)
            .map(Cow::Owned)
            .map_err(|e| Error::corrupt_batch(position, format!("cannot decompress records: {e}"))),
    }
}

/// Decompresses `raw` (codec `codec`, Kafka's numbering) into at most `limit` bytes.
pub(crate) fn decompress_bounded(
    codec: i16,
    raw: &[u8],
    limit: usize,
) -> std::result::Result<Vec<u8>, String> {
    let limit = u64::try_from(limit).unwrap_or(u64::MAX);
    let mut out = Vec::new();
    decompressor(codec, raw, limit)?
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    if out.len() as u64 > limit {
        return Err(format!("records expand to more than {limit} bytes"));
    }
    Ok(out)
}

/// A compressed records section as a stream of its uncompressed bytes.
pub(crate) fn decompressor<'a>(
    codec: i16,
    raw: &'a [u8],
    limit: u64,
) -> std::result::Result<Box<dyn Read + 'a>, String> {
    Ok(match codec {
        1 => Box::new(flate2::read::GzDecoder::new(raw)),
        2 => Box::new(SnappyReader::new(raw, limit)),
        3 => Box::new(lz4::Decoder::new(raw).map_err(|e| e.to_string())?),
        4 => Box::new(zstd::stream::read::Decoder::with_buffer(raw).map_err(|e| e.to_string())?),
        other => return Err(format!("unknown compression codec {other}")),
    })
}

/// The xerial framing Kafka's Java clients use for snappy: a magic header, then blocks each
/// prefixed with its compressed length. Without the header the data is one raw snappy block.
const SNAPPY_XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";
const SNAPPY_XERIAL_HEADER_LEN: usize = 16;

/// Snappy as Kafka's clients write it (xerial framing: a magic header, then blocks each
/// prefixed with its compressed length; without the header, one raw block), decompressed
/// a block at a time. A block's declared length is checked against `limit` before
/// anything is allocated for it.
struct SnappyReader<'a> {
    rest: &'a [u8],
    framed: bool,
    block: Vec<u8>,
    at: usize,
    produced: u64,
    limit: u64,
}

impl<'a> SnappyReader<'a> {
    fn new(raw: &'a [u8], limit: u64) -> Self {
        let framed = raw.starts_with(SNAPPY_XERIAL_MAGIC);
        SnappyReader {
            rest: if framed {
                raw.get(SNAPPY_XERIAL_HEADER_LEN..).unwrap_or_default()
            } else {
                raw
            },
            framed,
            block: Vec::new(),
            at: 0,
            produced: 0,
            limit,
        }
    }

    fn next_block(&mut self) -> std::io::Result<bool> {
        let bad = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
        if self.rest.is_empty() {
            return Ok(false);
        }
        let compressed = if self.framed {
            let (len, tail) = self
                .rest
                .split_first_chunk::<4>()
                .ok_or_else(|| bad("a snappy block without its length".into()))?;
            let len = u32::from_be_bytes(*len) as usize;
            let block = tail
                .get(..len)
                .ok_or_else(|| bad("a truncated snappy block".into()))?;
            self.rest = &tail[len..];
            block
        } else {
            std::mem::take(&mut self.rest)
        };
        let len = snap::raw::decompress_len(compressed).map_err(|e| bad(e.to_string()))?;
        self.produced = self.produced.saturating_add(len as u64);
        if self.produced > self.limit {
            return Err(bad(format!(
                "records expand to more than {} bytes",
                self.limit
            )));
        }
        self.block.clear();
        self.block.resize(len, 0);
        snap::raw::Decoder::new()
            .decompress(compressed, &mut self.block)
            .map_err(|e| bad(e.to_string()))?;
        self.at = 0;
        Ok(true)
    }
}

impl Read for SnappyReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.block.len() {
            if !self.next_block()? {
                return Ok(0);
            }
        }
        let n = out.len().min(self.block.len() - self.at);
        out[..n].copy_from_slice(&self.block[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Compresses a records section with codec `codec` (the low bits of the attributes).
pub(crate) fn compress(codec: i16, section: Vec<u8>, position: u64) -> Result<Vec<u8>> {
    if codec == 0 {
        return Ok(section);
    }
    let mut out = BytesMut::new();
    let fill = |tmp: &mut BytesMut| {
        tmp.extend_from_slice(&section);
        Ok(())
    };
    match codec {
        1 => Gzip::compress(&mut out, fill),
        2 => Snappy::compress(&mut out, fill),
        3 => Lz4::compress(&mut out, fill),
        4 => Zstd::compress(&mut out, fill),
        other => {
            return Err(Error::corrupt_batch(
                position,
                format!("unknown compression codec {other}"),
            ))
        }
    }
    .map_err(|e| Error::corrupt_batch(position, format!("cannot compress records: {e}")))?;
    Ok(out.to_vec())
}

/// One record of a v2 batch, borrowed from the batch's uncompressed records section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RawRecord<'a> {
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
    pub(super) fn write(&self, out: &mut Vec<u8>, timestamp_delta: i64) {
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
pub(super) fn parse_records(section: &[u8], count: i32) -> Option<Vec<RawRecord<'_>>> {
    records(section, count).collect()
}

/// The `count` records of an uncompressed records section, one at a time: an item is
/// `None` (and the last) where the section is malformed. Unlike [`parse_records`], holds
/// nothing per record, so a batch of millions of tiny records costs no more than its
/// section.
pub(super) fn records(section: &[u8], count: i32) -> Records<'_> {
    Records {
        section,
        pos: 0,
        remaining: usize::try_from(count).unwrap_or(0),
        failed: false,
    }
}

/// Iterator over the records of a section, see [`records`].
pub(super) struct Records<'a> {
    section: &'a [u8],
    pos: usize,
    remaining: usize,
    failed: bool,
}

impl<'a> Records<'a> {
    fn read(&mut self) -> Option<RawRecord<'a>> {
        let section = self.section;
        let pos = &mut self.pos;
        let len = usize::try_from(read_varint(section, pos)?).ok()?;
        let end = pos.checked_add(len)?;
        let record = section.get(*pos..end)?;
        *pos = end;
        let attributes = *record.first()?;
        let mut at = 1usize;
        let timestamp_delta = read_varint(record, &mut at)?;
        let offset_delta = read_varint(record, &mut at)?;
        let tail = record.get(at..)?;
        let key = nullable_bytes(record, &mut at)?;
        let value = nullable_bytes(record, &mut at)?;
        Some(RawRecord {
            timestamp_delta,
            offset_delta,
            key,
            value,
            attributes,
            tail,
        })
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Option<RawRecord<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 || self.failed {
            return None;
        }
        self.remaining -= 1;
        let record = self.read();
        self.failed = record.is_none();
        Some(record)
    }
}

/// The type of a control batch (`CONTROL_COMMIT`, `CONTROL_ABORT`, …), `None` if it holds
/// no record. Unlike [`batch::control_type`], reads compressed control batches too.
pub(crate) fn control_record_type(
    batch: &[u8],
    h: &BatchHeader,
    position: u64,
) -> Result<Option<i16>> {
    let section = records_section(batch, h, position)?;
    let records = parse_records(&section, h.records_count)
        .ok_or_else(|| Error::corrupt_batch(position, "malformed control record"))?;
    Ok(records
        .first()
        .and_then(|r| r.key)
        .and_then(|k| k.get(2..4))
        .map(|t| i16::from_be_bytes([t[0], t[1]])))
}

/// Writes what is kept of a batch: `records` (possibly none) with the batch's own offsets,
/// re-based on `base_timestamp`, compressed with the batch's codec.
pub(crate) fn rewrite(
    original: &[u8],
    h: &BatchHeader,
    records: &[RawRecord<'_>],
    base_timestamp: i64,
    attributes: i16,
    position: u64,
) -> Result<Vec<u8>> {
    let mut section = Vec::new();
    let mut max_ts = i64::MIN;
    for r in records {
        let ts = h.base_timestamp.saturating_add(r.timestamp_delta);
        max_ts = max_ts.max(ts);
        r.write(&mut section, ts.saturating_sub(base_timestamp));
    }
    let max_timestamp = if records.is_empty() || attributes & LOG_APPEND_TIME_FLAG != 0 {
        h.max_timestamp
    } else {
        max_ts
    };
    // An empty batch carries no records to compress.
    let (codec, attributes) = if records.is_empty() {
        (0, attributes & !0x07)
    } else {
        (h.compression(), attributes)
    };
    let section = compress(codec, section, position)?;
    Ok(batch::rebuild(
        original,
        attributes,
        base_timestamp,
        max_timestamp,
        records.len() as i32,
        &section,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::tests::make_batch;
    use crate::log::batch::{crc_ok, rebuild, DELETE_HORIZON_FLAG};

    /// Every codec decompresses what it compressed, and refuses to expand past the bound: a
    /// small batch of zeros that decompresses to more than the limit is an error, not an
    /// allocation of whatever size it claims.
    #[test]
    fn decompression_is_bounded_for_every_codec() {
        let section: Vec<u8> = (0..10_000u32).map(|i| (i % 7) as u8).collect();
        for codec in 1..=4i16 {
            let compressed = compress(codec, section.clone(), 0).unwrap();
            assert!(
                compressed.len() < section.len() / 4,
                "codec {codec} compresses"
            );
            assert_eq!(
                decompress_bounded(codec, &compressed, section.len()).unwrap(),
                section,
                "codec {codec}"
            );
            let err = decompress_bounded(codec, &compressed, section.len() - 1).unwrap_err();
            assert!(err.contains("expand to more than"), "codec {codec}: {err}");
        }
        // A raw snappy block whose header claims 4 GiB is refused before any allocation.
        let forged = [0xff, 0xff, 0xff, 0xff, 0x0f, 0x00];
        assert!(decompress_bounded(2, &forged, MAX_DECOMPRESSED_BYTES).is_err());
        assert!(decompress_bounded(9, &[1, 2, 3], 10).is_err());
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
        // Streamed: the well-formed records, then one `None` where the section breaks off.
        let streamed: Vec<bool> = super::records(&b[HEADER_SIZE..b.len() - 1], h.records_count)
            .map(|r| r.is_some())
            .collect();
        assert_eq!(streamed, [true, true, false]);
        assert_eq!(
            super::records(&b[HEADER_SIZE..], i32::MAX)
                .filter(Option::is_some)
                .count(),
            3
        );

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
}
