//! The log cleaner: key-based compaction of the logs of `cleanup.policy=compact` topics,
//! like Kafka's `LogCleaner`.
//!
//! A compacted log keeps, for every key, at least its latest record, so that reading it
//! from the start rebuilds a table (changelog topics and `__consumer_offsets` rely on this).
//! One pass ([`PartitionLog::clean`]) builds an offset map (key → latest offset) over the
//! *dirty* part of the log, written since the previous pass, then rewrites the closed
//! segments below it, keeping a record only if no later record has its key. Offsets never
//! change: a rewritten batch keeps its base offset and last offset delta, and consumers skip
//! the gaps. Small neighbouring segments are merged. The active segment is never touched and
//! the log's lock is held only to swap a cleaned segment in, so producers and consumers
//! carry on while a pass runs.
//!
//! Kafka's rules hold:
//! - a tombstone (a null value) is kept for `delete.retention.ms` after the pass that first
//!   kept it, then removed; that time is written into the batch (KIP-534's delete horizon),
//!   so it survives restarts and merges;
//! - records younger than `min.compaction.lag.ms`, and everything from the first open
//!   transaction on, are left alone; records of aborted transactions are removed and never
//!   count as a key's latest value; a commit or abort marker stays while any batch of its
//!   transaction remains, then for `delete.retention.ms` more; the last batch of every
//!   producer stays, emptied if need be, so its sequence numbers and epoch survive;
//! - the background cleaner compacts a log once its dirty share exceeds
//!   `min.cleanable.dirty.ratio`, its oldest dirty record is older than
//!   `max.compaction.lag.ms`, or a kept tombstone's time is up.
//!
//! A crash at any point is recovered from on start-up, with Kafka's `.cleaned` → `.swap`
//! protocol done with directories: a group of segments is cleaned into `<base>.cleaned/`
//! (an ordinary segment, written by the segment code), renamed `<base>.swap/` once complete
//! and synced, and only then are the old segments deleted and the new files moved in.
//! `recover` discards a `.cleaned` directory and completes what a `.swap` one describes.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};
use kafka_protocol::compression::{Compressor, Gzip, Lz4, Snappy, Zstd};

use super::batch::{
    self, BatchHeader, RawRecord, CONTROL_FLAG, DELETE_HORIZON_FLAG, HEADER_SIZE,
    LOG_APPEND_TIME_FLAG, TRANSACTIONAL_FLAG,
};
use super::segment::{self, Segment};
use super::PartitionLog;
use crate::config::TopicConfig;
use crate::error::{Error, Result};
use crate::topics::write_atomic;

/// Per-partition file holding the first dirty offset (Kafka keeps one such checkpoint per
/// log directory; one per partition is simpler and as durable).
const CHECKPOINT_FILE: &str = "cleaner-offset-checkpoint";
/// Suffix of the directory a group of segments is cleaned into.
const CLEANED_SUFFIX: &str = "cleaned";
/// Suffix of that directory once complete: from then on the replacement is completed even
/// after a crash.
const SWAP_SUFFIX: &str = "swap";
/// File in a `.cleaned`/`.swap` directory naming the offsets `[base, end)` it replaces.
const RANGE_FILE: &str = "range";
/// How much of a segment is read at once.
const READ_CHUNK: usize = 1024 * 1024;
/// How much cleaned data is buffered before it is written out.
const WRITE_CHUNK: usize = 1024 * 1024;
/// Memory charged per offset-map entry on top of the key itself.
const MAP_ENTRY_OVERHEAD: usize = 48;
/// Default size of the offset map (Kafka's `log.cleaner.dedupe.buffer.size`).
pub const DEFAULT_DEDUPE_BUFFER_SIZE: usize = 128 * 1024 * 1024;
/// Control record types (the second field of a control record's key).
const CONTROL_ABORT: i16 = 0;
const CONTROL_COMMIT: i16 = 1;

/// What one pass of the cleaner did to a log (or, summed, to several).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CleanStats {
    /// Closed segments read and rewritten (or found clean already).
    pub segments_read: usize,
    /// Segments written in their place; fewer than read when small ones were merged.
    pub segments_written: usize,
    /// Bytes of the segments read.
    pub bytes_before: u64,
    /// Bytes of what replaced them (equal to `bytes_before` for segments left as they were).
    pub bytes_after: u64,
    /// Records in the segments read.
    pub records_read: u64,
    /// Records removed: superseded values, expired tombstones, records of aborted
    /// transactions, records without a key, markers of finished transactions.
    pub records_removed: u64,
    /// Of those, tombstones removed because their `delete.retention.ms` had passed.
    pub tombstones_removed: u64,
}

impl CleanStats {
    /// Adds `other`'s counts to these, to sum passes over several partitions.
    pub fn add(&mut self, other: &CleanStats) {
        self.segments_read += other.segments_read;
        self.segments_written += other.segments_written;
        self.bytes_before += other.bytes_before;
        self.bytes_after += other.bytes_after;
        self.records_read += other.records_read;
        self.records_removed += other.records_removed;
        self.tombstones_removed += other.tombstones_removed;
    }
}

/// The cleaner's per-partition state. Its lock is held for a whole pass, so one partition
/// is cleaned by one thread at a time; the log's own lock is taken only briefly.
#[derive(Debug)]
pub(crate) struct CleanerState {
    progress: Mutex<Progress>,
    /// A copy of `Progress::first_dirty`, readable while a pass runs.
    first_dirty: AtomicI64,
}

#[derive(Debug, Clone, Copy)]
struct Progress {
    /// Records from this offset on were appended since the last pass (Kafka's cleaner
    /// checkpoint), persisted in [`CHECKPOINT_FILE`].
    first_dirty: i64,
    /// The earliest delete horizon among the batches the last pass kept: the time at which
    /// a tombstone or marker becomes removable. Not persisted, as in Kafka.
    next_horizon: Option<i64>,
    /// The log end offset when the last pass started, if that pass cleaned all it could:
    /// while nothing is appended, another pass could only do the same again (an open
    /// transaction can hold it back).
    end_at_last_pass: Option<i64>,
}

impl CleanerState {
    /// Loads the checkpoint of the log in `dir` (none means the whole log is dirty).
    pub(crate) fn load(dir: &Path) -> CleanerState {
        let first_dirty = std::fs::read_to_string(dir.join(CHECKPOINT_FILE))
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .unwrap_or(0);
        CleanerState {
            first_dirty: AtomicI64::new(first_dirty),
            progress: Mutex::new(Progress {
                first_dirty,
                next_horizon: None,
                end_at_last_pass: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A segment as the cleaner sees it: a consistent copy of its metadata and its open file,
/// taken under the log's lock and read outside it.
#[derive(Debug, Clone)]
struct SegmentView {
    base: i64,
    /// Where the next segment starts (for the active segment, the log end offset).
    end: i64,
    size: u64,
    max_timestamp: i64,
    file: Arc<File>,
    path: PathBuf,
}

#[derive(Debug)]
struct Snapshot {
    sealed: Vec<SegmentView>,
    active: Option<SegmentView>,
    log_start: i64,
    config: Arc<TopicConfig>,
}

/// How far a swap goes: everything but [`SwapStep::Done`] simulates a crash after that
/// step, for the recovery tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(not(test), allow(dead_code))]
enum SwapStep {
    /// The `.cleaned` directory was renamed `.swap`.
    Renamed,
    /// The old segments' files were deleted.
    OldDeleted,
    /// The new index files were moved in, not yet the log.
    IndexesMoved,
    /// The new log was moved in; the `.swap` directory is still there.
    LogMoved,
    /// All done.
    Done,
}

fn corrupt(position: u64, reason: impl Into<String>) -> Error {
    Error::CorruptBatch {
        position,
        reason: reason.into(),
    }
}

fn remove_dir_if_exists(path: &Path) -> Result<()> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}

fn remove_file_if_exists(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Whether `path` still names the file `file` is open on (not a file created in its place,
/// say after the topic was deleted and created again during a pass).
fn same_file(path: &Path, file: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(path), file.metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// Moves the files of segment `base` from `from` into `to`: indexes first, the log last,
/// so that a `.swap` directory still holding its log has not been applied yet.
fn move_segment_files(from: &Path, to: &Path, base: i64, stop_after_indexes: bool) -> Result<()> {
    for ext in ["index", "timeindex", "log"] {
        if ext == "log" && stop_after_indexes {
            return Ok(());
        }
        let name = segment::file_name(base, ext);
        match std::fs::rename(from.join(&name), to.join(&name)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && ext != "log" => {}
            Err(e) => return Err(Error::io(from.join(&name), e)),
        }
    }
    Ok(())
}

/// Completes or discards a segment swap that a crash interrupted, in the partition
/// directory `dir`. Called when a log is opened, before its segments are listed.
pub(crate) fn recover(dir: &Path) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut swaps = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if !path.is_dir() {
            continue;
        }
        match path.extension().and_then(|e| e.to_str()) {
            Some(CLEANED_SUFFIX) => {
                tracing::warn!(dir = %path.display(), "discarding an unfinished cleaned segment");
                remove_dir_if_exists(&path)?;
            }
            Some(SWAP_SUFFIX) => swaps.push(path),
            _ => {}
        }
    }
    swaps.sort();
    for swap in swaps {
        complete_swap(dir, &swap)?;
    }
    Ok(())
}

fn read_range(swap: &Path) -> Result<(i64, i64)> {
    let path = swap.join(RANGE_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let mut parts = text.split_whitespace().map(str::parse::<i64>);
    match (parts.next(), parts.next()) {
        (Some(Ok(base)), Some(Ok(end))) if base <= end => Ok((base, end)),
        _ => Err(Error::CorruptMetadata {
            path,
            reason: "expected `<base offset> <end offset>`".into(),
        }),
    }
}

fn complete_swap(dir: &Path, swap: &Path) -> Result<()> {
    let (base, end) = read_range(swap)?;
    let log_in_swap = swap.join(segment::file_name(base, "log")).exists();
    if log_in_swap {
        // The new log is not in place yet: the old segments of the range may still be
        // there, in whole or in part. They go first.
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        let mut old = vec![base];
        for entry in entries {
            let name = entry.map_err(|e| Error::io(dir, e))?.file_name();
            let name = name.to_string_lossy();
            if let Some(b) = name
                .strip_suffix(".log")
                .and_then(|stem| stem.parse::<i64>().ok())
            {
                if (base..end).contains(&b) {
                    old.push(b);
                }
            }
        }
        for b in old {
            for ext in ["index", "timeindex", "log"] {
                remove_file_if_exists(&dir.join(segment::file_name(b, ext)))?;
            }
        }
    }
    if log_in_swap {
        move_segment_files(swap, dir, base, false)?;
    }
    remove_dir_if_exists(swap)?;
    sync_dir(dir)?;
    tracing::warn!(dir = %dir.display(), base, end, "completed a segment swap interrupted by a crash");
    Ok(())
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
            return Err(corrupt(at as u64, "batch length exceeds the data sent"));
        };
        let section = records_section(raw, h, at as u64)?;
        let parsed = batch::parse_records(&section, h.records_count)
            .ok_or_else(|| corrupt(at as u64, "malformed records"))?;
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

/// The most a batch's records section may decompress to. A compressed batch is checked
/// (keys on compacted topics) and rewritten by decompressing it; without a bound, a small
/// batch built to expand enormously (a "decompression bomb") would take the broker's memory.
/// Legitimate batches stay far below it: `max.message.bytes` bounds their compressed size.
pub(crate) const MAX_DECOMPRESSED_BYTES: usize = 256 * 1024 * 1024;

/// The uncompressed records section of a batch.
fn records_section<'a>(batch: &'a [u8], h: &BatchHeader, position: u64) -> Result<Cow<'a, [u8]>> {
    let raw = batch.get(HEADER_SIZE..).unwrap_or_default();
    match h.compression() {
        0 => Ok(Cow::Borrowed(raw)),
        codec => decompress_bounded(codec, raw, MAX_DECOMPRESSED_BYTES)
            .map(Cow::Owned)
            .map_err(|e| corrupt(position, format!("cannot decompress records: {e}"))),
    }
}

/// Decompresses `raw` (codec `codec`, Kafka's numbering) into at most `limit` bytes.
fn decompress_bounded(
    codec: i16,
    raw: &[u8],
    limit: usize,
) -> std::result::Result<Vec<u8>, String> {
    use std::io::Read;
    let read_all = |reader: &mut dyn Read| -> std::result::Result<Vec<u8>, String> {
        let mut out = Vec::new();
        let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
        reader
            .take(cap)
            .read_to_end(&mut out)
            .map_err(|e| e.to_string())?;
        if out.len() > limit {
            return Err(format!("records expand to more than {limit} bytes"));
        }
        Ok(out)
    };
    match codec {
        1 => read_all(&mut flate2::read::GzDecoder::new(raw)),
        2 => snappy_bounded(raw, limit),
        3 => read_all(&mut lz4::Decoder::new(raw).map_err(|e| e.to_string())?),
        4 => read_all(&mut zstd::stream::read::Decoder::new(raw).map_err(|e| e.to_string())?),
        other => Err(format!("unknown compression codec {other}")),
    }
}

/// The xerial framing Kafka's Java clients use for snappy: a magic header, then blocks each
/// prefixed with its compressed length. Without the header the data is one raw snappy block.
const SNAPPY_XERIAL_MAGIC: &[u8; 8] = b"\x82SNAPPY\x00";
const SNAPPY_XERIAL_HEADER_LEN: usize = 16;

fn snappy_bounded(raw: &[u8], limit: usize) -> std::result::Result<Vec<u8>, String> {
    let block = |compressed: &[u8], out: &mut Vec<u8>| -> std::result::Result<(), String> {
        let len = snap::raw::decompress_len(compressed).map_err(|e| e.to_string())?;
        if out.len().saturating_add(len) > limit {
            return Err(format!("records expand to more than {limit} bytes"));
        }
        let start = out.len();
        out.resize(start + len, 0);
        snap::raw::Decoder::new()
            .decompress(compressed, &mut out[start..])
            .map_err(|e| e.to_string())?;
        Ok(())
    };
    let mut out = Vec::new();
    if !raw.starts_with(SNAPPY_XERIAL_MAGIC) {
        block(raw, &mut out)?;
        return Ok(out);
    }
    let mut rest = raw.get(SNAPPY_XERIAL_HEADER_LEN..).unwrap_or_default();
    while !rest.is_empty() {
        let (len, tail) = rest
            .split_first_chunk::<4>()
            .ok_or("a snappy block without its length")?;
        let len = u32::from_be_bytes(*len) as usize;
        let compressed = tail.get(..len).ok_or("a truncated snappy block")?;
        block(compressed, &mut out)?;
        rest = &tail[len..];
    }
    Ok(out)
}

/// Compresses a records section with codec `codec` (the low bits of the attributes).
fn compress(codec: i16, section: Vec<u8>, position: u64) -> Result<Vec<u8>> {
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
            return Err(corrupt(
                position,
                format!("unknown compression codec {other}"),
            ))
        }
    }
    .map_err(|e| corrupt(position, format!("cannot compress records: {e}")))?;
    Ok(out.to_vec())
}

/// The type of a control batch (`CONTROL_COMMIT`, `CONTROL_ABORT`, …), `None` if it holds
/// no record.
fn control_type(batch: &[u8], h: &BatchHeader, position: u64) -> Result<Option<i16>> {
    let section = records_section(batch, h, position)?;
    let records = batch::parse_records(&section, h.records_count)
        .ok_or_else(|| corrupt(position, "malformed control record"))?;
    Ok(records
        .first()
        .and_then(|r| r.key)
        .and_then(|k| k.get(2..4))
        .map(|t| i16::from_be_bytes([t[0], t[1]])))
}

/// Writes what is kept of a batch: `records` (possibly none) with the batch's own offsets,
/// re-based on `base_timestamp`, compressed with the batch's codec.
fn encode(
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

/// Reads the batches of one segment, in order, a chunk at a time.
struct BatchReader<'a> {
    view: &'a SegmentView,
    cancel: &'a AtomicBool,
    pos: u64,
    chunk: Bytes,
    chunk_pos: u64,
}

impl<'a> BatchReader<'a> {
    fn new(view: &'a SegmentView, cancel: &'a AtomicBool) -> Self {
        BatchReader {
            view,
            cancel,
            pos: 0,
            chunk: Bytes::new(),
            chunk_pos: 0,
        }
    }

    fn corrupt(&self, reason: &str) -> Error {
        corrupt(
            self.pos,
            format!("{reason} in {}", self.view.path.display()),
        )
    }

    fn fill(&mut self, at_least: usize) -> Result<()> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(Error::Stopped);
        }
        let remaining = usize::try_from(self.view.size - self.pos).unwrap_or(usize::MAX);
        let len = at_least.max(READ_CHUNK).min(remaining);
        if len < at_least {
            return Err(self.corrupt("truncated batch"));
        }
        let mut buf = vec![0u8; len];
        self.view
            .file
            .read_exact_at(&mut buf, self.pos)
            .map_err(|e| Error::io(&self.view.path, e))?;
        self.chunk = Bytes::from(buf);
        self.chunk_pos = self.pos;
        Ok(())
    }

    /// The next batch: its file position, header and bytes.
    fn next(&mut self) -> Result<Option<(u64, BatchHeader, Bytes)>> {
        if self.pos >= self.view.size {
            return Ok(None);
        }
        let mut rel = (self.pos - self.chunk_pos) as usize;
        if self.pos < self.chunk_pos || rel + HEADER_SIZE > self.chunk.len() {
            self.fill(HEADER_SIZE)?;
            rel = 0;
        }
        let h = BatchHeader::parse(&self.chunk[rel..])
            .ok_or_else(|| self.corrupt("unreadable batch header"))?;
        if h.magic != 2 || h.size as u64 > self.view.size - self.pos {
            return Err(self.corrupt("bad batch header"));
        }
        if rel + h.size > self.chunk.len() {
            self.fill(h.size)?;
            rel = 0;
        }
        let bytes = self.chunk.slice(rel..rel + h.size);
        let at = self.pos;
        self.pos += h.size as u64;
        Ok(Some((at, h, bytes)))
    }
}

/// What the whole log says about producers and transactions (Kafka gets this from its
/// producer state and transaction index; the cleaner reads it from the batch headers).
#[derive(Debug, Default)]
struct TxnScan {
    /// Per producer, the aborted transactions as `(first offset, marker offset)`, in order.
    aborted: HashMap<i64, Vec<(i64, i64)>>,
    /// Per producer, the first offset of its transaction still open.
    open: HashMap<i64, i64>,
    /// Per producer, the last offset of its last data batch.
    last_data: HashMap<i64, i64>,
    /// Per producer, the offset of its last marker, if that is its latest batch.
    last_marker: HashMap<i64, i64>,
}

impl TxnScan {
    fn build(segments: &[&SegmentView], cancel: &AtomicBool) -> Result<TxnScan> {
        let mut scan = TxnScan::default();
        for view in segments {
            let mut reader = BatchReader::new(view, cancel);
            while let Some((pos, h, bytes)) = reader.next()? {
                let pid = h.producer_id;
                if pid < 0 {
                    continue;
                }
                if h.attributes & CONTROL_FLAG != 0 {
                    let kind = control_type(&bytes, &h, pos)?;
                    if matches!(kind, Some(CONTROL_ABORT | CONTROL_COMMIT)) {
                        if let Some(first) = scan.open.remove(&pid) {
                            if kind == Some(CONTROL_ABORT) {
                                scan.aborted
                                    .entry(pid)
                                    .or_default()
                                    .push((first, h.last_offset()));
                            }
                        }
                    }
                    scan.last_marker.insert(pid, h.last_offset());
                } else {
                    scan.last_data.insert(pid, h.last_offset());
                    scan.last_marker.remove(&pid);
                    if h.attributes & TRANSACTIONAL_FLAG != 0 {
                        scan.open.entry(pid).or_insert(h.base_offset);
                    }
                }
            }
        }
        Ok(scan)
    }

    /// The first offset of the oldest transaction still open: nothing from there on may be
    /// cleaned, since its outcome is unknown.
    fn first_unstable(&self) -> Option<i64> {
        self.open.values().min().copied()
    }

    /// Whether a data batch belongs to an aborted transaction.
    fn is_aborted(&self, h: &BatchHeader) -> bool {
        if h.attributes & TRANSACTIONAL_FLAG == 0 || h.attributes & CONTROL_FLAG != 0 {
            return false;
        }
        self.aborted.get(&h.producer_id).is_some_and(|ranges| {
            let i = ranges.partition_point(|&(_, marker)| marker < h.base_offset);
            ranges
                .get(i)
                .is_some_and(|&(first, _)| first <= h.base_offset)
        })
    }

    /// Whether the batch is its producer's latest data batch or latest marker: kept, if
    /// need be empty, so that the producer's sequence numbers and epoch survive.
    fn is_last_of_producer(&self, h: &BatchHeader) -> bool {
        if h.producer_id < 0 {
            return false;
        }
        let last = if h.attributes & CONTROL_FLAG != 0 {
            &self.last_marker
        } else {
            &self.last_data
        };
        last.get(&h.producer_id) == Some(&h.last_offset())
    }
}

/// The key → latest offset map of the dirty section, and the offset it covers up to (a
/// segment boundary). Records of aborted transactions and markers are not mapped.
fn build_offset_map(
    dirty: &[&SegmentView],
    first_dirty: i64,
    txns: &TxnScan,
    budget: usize,
    cancel: &AtomicBool,
) -> Result<(HashMap<Bytes, i64>, i64)> {
    let mut map: HashMap<Bytes, i64> = HashMap::new();
    let mut used = 0usize;
    let mut end = first_dirty;
    for view in dirty {
        let mut reader = BatchReader::new(view, cancel);
        while let Some((pos, h, bytes)) = reader.next()? {
            if h.last_offset() < first_dirty
                || h.attributes & CONTROL_FLAG != 0
                || txns.is_aborted(&h)
            {
                continue;
            }
            let section = records_section(&bytes, &h, pos)?;
            let records = batch::parse_records(&section, h.records_count)
                .ok_or_else(|| corrupt(pos, "malformed records"))?;
            for r in records {
                let offset = h.base_offset + r.offset_delta;
                let Some(key) = r.key else { continue };
                if offset < first_dirty {
                    continue;
                }
                match map.get_mut(key) {
                    Some(latest) => *latest = offset,
                    None => {
                        used += key.len() + MAP_ENTRY_OVERHEAD;
                        map.insert(Bytes::copy_from_slice(key), offset);
                    }
                }
            }
        }
        end = view.end;
        if used >= budget {
            tracing::debug!(
                segment = %view.path.display(),
                keys = map.len(),
                "offset map full: the rest of the dirty section waits for the next pass"
            );
            break;
        }
    }
    Ok((map, end))
}

/// Groups consecutive segments whose total size stays within `max_bytes` (and whose
/// offsets fit a segment's 32-bit relative index), to be merged into one.
fn group_segments<'a>(segments: &[&'a SegmentView], max_bytes: u64) -> Vec<Vec<&'a SegmentView>> {
    let mut groups: Vec<Vec<&SegmentView>> = Vec::new();
    let mut size = 0u64;
    for &view in segments {
        if let Some(group) = groups.last_mut() {
            let first = group[0].base;
            if size + view.size <= max_bytes && view.end - first <= i64::from(i32::MAX) {
                group.push(view);
                size += view.size;
                continue;
            }
        }
        groups.push(vec![view]);
        size = view.size;
    }
    groups
}

/// What becomes of one batch.
enum Verdict {
    /// Kept as it is.
    Keep,
    /// Removed entirely.
    Drop,
    /// Replaced by this rewritten batch (same offsets, fewer records or a delete horizon).
    Replace(Vec<u8>),
}

/// The decisions of one pass, batch by batch, in offset order.
struct Filter<'a> {
    map: &'a HashMap<Bytes, i64>,
    txns: &'a TxnScan,
    /// Producers with a transactional batch read since their last marker in this pass: the
    /// marker that follows must stay.
    txn_data_seen: HashSet<i64>,
    now: i64,
    delete_retention_ms: i64,
    next_horizon: Option<i64>,
}

impl Filter<'_> {
    fn note_horizon(&mut self, t: i64) {
        self.next_horizon = Some(self.next_horizon.map_or(t, |n| n.min(t)));
    }

    fn new_horizon(&self) -> i64 {
        self.now.saturating_add(self.delete_retention_ms)
    }

    fn emptied(&self, batch: &[u8], h: &BatchHeader, pos: u64) -> Result<Verdict> {
        if self.txns.is_last_of_producer(h) {
            encode(batch, h, &[], h.base_timestamp, h.attributes, pos).map(Verdict::Replace)
        } else {
            Ok(Verdict::Drop)
        }
    }

    fn apply(
        &mut self,
        pos: u64,
        h: &BatchHeader,
        batch: &[u8],
        stats: &mut CleanStats,
    ) -> Result<Verdict> {
        let count = u64::try_from(h.records_count).unwrap_or(0);
        stats.records_read += count;
        let horizon = (h.attributes & DELETE_HORIZON_FLAG != 0).then_some(h.base_timestamp);
        if h.attributes & CONTROL_FLAG != 0 {
            return self.apply_control(pos, h, batch, horizon, stats);
        }
        if h.producer_id >= 0 && h.attributes & TRANSACTIONAL_FLAG != 0 {
            self.txn_data_seen.insert(h.producer_id);
        }
        if self.txns.is_aborted(h) {
            stats.records_removed += count;
            return self.emptied(batch, h, pos);
        }
        let section = records_section(batch, h, pos)?;
        let records = batch::parse_records(&section, h.records_count)
            .ok_or_else(|| corrupt(pos, "malformed records"))?;
        let mut kept = Vec::with_capacity(records.len());
        let mut tombstones = false;
        for r in &records {
            let offset = h.base_offset + r.offset_delta;
            let keep = match r.key {
                // A record without a key has no place in a compacted log (Kafka counts it
                // as invalid and drops it).
                None => false,
                Some(key) => {
                    let latest = self.map.get(key).is_none_or(|&o| offset >= o);
                    let live = r.value.is_some() || horizon.is_none_or(|t| self.now < t);
                    if latest && !live {
                        stats.tombstones_removed += 1;
                    }
                    latest && live
                }
            };
            if keep {
                tombstones |= r.value.is_none();
                kept.push(*r);
            } else {
                stats.records_removed += 1;
            }
        }
        let set_horizon = tombstones && horizon.is_none();
        if tombstones {
            let t = horizon.unwrap_or_else(|| self.new_horizon());
            self.note_horizon(t);
        }
        if kept.len() == records.len() && !set_horizon {
            return Ok(Verdict::Keep);
        }
        if kept.is_empty() {
            return self.emptied(batch, h, pos);
        }
        let (base_timestamp, attributes) = if set_horizon {
            (self.new_horizon(), h.attributes | DELETE_HORIZON_FLAG)
        } else {
            (h.base_timestamp, h.attributes)
        };
        encode(batch, h, &kept, base_timestamp, attributes, pos).map(Verdict::Replace)
    }

    /// A commit or abort marker stays while a batch of its transaction remains; once none
    /// does, it gets a delete horizon, and goes when that has passed.
    fn apply_control(
        &mut self,
        pos: u64,
        h: &BatchHeader,
        batch: &[u8],
        horizon: Option<i64>,
        stats: &mut CleanStats,
    ) -> Result<Verdict> {
        let kind = control_type(batch, h, pos)?;
        if h.producer_id < 0 || !matches!(kind, Some(CONTROL_ABORT | CONTROL_COMMIT)) {
            return Ok(Verdict::Keep);
        }
        if self.txn_data_seen.remove(&h.producer_id) {
            return Ok(Verdict::Keep);
        }
        match horizon {
            None => {
                let t = self.new_horizon();
                self.note_horizon(t);
                let section = records_section(batch, h, pos)?;
                let records = batch::parse_records(&section, h.records_count)
                    .ok_or_else(|| corrupt(pos, "malformed control record"))?;
                encode(
                    batch,
                    h,
                    &records,
                    t,
                    h.attributes | DELETE_HORIZON_FLAG,
                    pos,
                )
                .map(Verdict::Replace)
            }
            Some(t) if self.now >= t => {
                stats.records_removed += u64::try_from(h.records_count).unwrap_or(0);
                self.emptied(batch, h, pos)
            }
            Some(t) => {
                self.note_horizon(t);
                Ok(Verdict::Keep)
            }
        }
    }
}

/// Writes the batches a group keeps into the cleaned segment, a chunk at a time.
struct CleanedWriter {
    seg: Segment,
    out: Vec<u8>,
    headers: Vec<BatchHeader>,
    written: usize,
    interval: u64,
}

impl CleanedWriter {
    fn push(&mut self, batch: &[u8]) -> Result<()> {
        let h =
            BatchHeader::parse(batch).ok_or_else(|| corrupt(0, "unparsable rewritten batch"))?;
        self.headers.push(h);
        self.out.extend_from_slice(batch);
        self.written += 1;
        if self.out.len() >= WRITE_CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if !self.out.is_empty() {
            self.seg.append(&self.out, &self.headers, self.interval)?;
            self.out.clear();
            self.headers.clear();
        }
        Ok(())
    }
}

/// The segment written for one group, waiting in its `.cleaned` directory.
struct CleanedGroup {
    dir: PathBuf,
    base: i64,
    end: i64,
}

impl PartitionLog {
    /// Compacts the log now, whatever its dirty ratio: one full pass of the cleaner at
    /// wall-clock time `now`, which decides whether tombstones have expired and which
    /// records `min.compaction.lag.ms` still protects. Does nothing unless the topic's
    /// `cleanup.policy` includes `compact`. Appends and reads go on meanwhile.
    pub fn clean(&self, now: i64) -> Result<CleanStats> {
        self.clean_pass(now, DEFAULT_DEDUPE_BUFFER_SIZE, &AtomicBool::new(false))
    }

    /// The first offset of the dirty section: records from here on were appended since
    /// the last pass of the cleaner. Does not wait for a pass in progress.
    pub fn first_dirty_offset(&self) -> i64 {
        let first_dirty = self.cleaner.first_dirty.load(Ordering::Relaxed);
        first_dirty.max(self.log_start_offset())
    }

    fn snapshot(&self) -> Snapshot {
        let st = self.lock();
        let mut views: Vec<SegmentView> = st
            .segments
            .iter()
            .enumerate()
            .map(|(i, s)| SegmentView {
                base: s.base_offset,
                end: st
                    .segments
                    .get(i + 1)
                    .map_or(s.next_offset, |next| next.base_offset),
                size: s.size,
                max_timestamp: s.max_timestamp,
                file: s.file.clone(),
                path: self.dir.join(segment::file_name(s.base_offset, "log")),
            })
            .collect();
        let active = views.pop();
        Snapshot {
            sealed: views,
            active,
            log_start: st.log_start_offset,
            config: st.config.clone(),
        }
    }

    /// The offset below which records are old enough for `min.compaction.lag.ms` and not in
    /// the active segment (transactions not considered).
    fn cleanable_limit(snap: &Snapshot, first_dirty: i64, now: i64) -> i64 {
        let mut limit = snap.active.as_ref().map_or(i64::MAX, |active| active.base);
        let lag = snap.config.min_compaction_lag_ms();
        if lag > 0 {
            let newest_allowed = now.saturating_sub(lag);
            if let Some(v) = snap
                .sealed
                .iter()
                .filter(|v| v.end > first_dirty)
                .find(|v| v.max_timestamp > newest_allowed)
            {
                limit = limit.min(v.base);
            }
        }
        limit
    }

    /// Whether the background cleaner should compact this log at `now`: its dirty share
    /// exceeds `min.cleanable.dirty.ratio`, its oldest dirty record is older than
    /// `max.compaction.lag.ms`, or a kept tombstone or marker has reached its delete
    /// horizon. False while a pass is running.
    pub fn needs_cleaning(&self, now: i64) -> bool {
        let Ok(progress) = self.cleaner.progress.try_lock().map(|p| *p) else {
            return false;
        };
        let snap = self.snapshot();
        let config = snap.config.clone();
        if !config.cleanup_policy().compact || snap.sealed.is_empty() {
            return false;
        }
        if progress.next_horizon.is_some_and(|t| t <= now) {
            return true;
        }
        let log_end = snap.active.as_ref().map(|a| a.end);
        if log_end == progress.end_at_last_pass && config.min_compaction_lag_ms() == 0 {
            return false;
        }
        let first_dirty = progress.first_dirty.max(snap.log_start);
        let limit = Self::cleanable_limit(&snap, first_dirty, now);
        let (mut clean, mut dirty) = (0u64, 0u64);
        let mut first_dirty_segment = None;
        for v in snap.sealed.iter().filter(|v| v.end <= limit) {
            if v.end <= first_dirty {
                clean += v.size;
            } else {
                dirty += v.size;
                first_dirty_segment.get_or_insert(v);
            }
        }
        if dirty == 0 {
            return false;
        }
        let ratio = dirty as f64 / (clean + dirty) as f64;
        if ratio > config.min_cleanable_dirty_ratio() {
            return true;
        }
        // max.compaction.lag.ms: the first record of the oldest dirty segment.
        let mut header = [0u8; HEADER_SIZE];
        first_dirty_segment.is_some_and(|v| {
            v.file.read_exact_at(&mut header, 0).is_ok()
                && BatchHeader::parse(&header).is_some_and(|h| {
                    h.base_timestamp < now.saturating_sub(config.max_compaction_lag_ms())
                })
        })
    }

    /// One pass of the cleaner; `cancel` stops it between two chunks (the broker shutting
    /// down), leaving the log as it was or with some groups already cleaned.
    pub(crate) fn clean_pass(
        &self,
        now: i64,
        dedupe_buffer_size: usize,
        cancel: &AtomicBool,
    ) -> Result<CleanStats> {
        self.clean_until(now, dedupe_buffer_size, cancel, SwapStep::Done)
    }

    fn clean_until(
        &self,
        now: i64,
        dedupe_buffer_size: usize,
        cancel: &AtomicBool,
        stop_after: SwapStep,
    ) -> Result<CleanStats> {
        let mut progress = self.cleaner.lock();
        let snap = self.snapshot();
        let config = snap.config.clone();
        let mut stats = CleanStats::default();
        if !config.cleanup_policy().compact || snap.sealed.is_empty() {
            return Ok(stats);
        }
        progress.end_at_last_pass = None;
        let log_end = snap.active.as_ref().map(|a| a.end);
        let first_base = snap.sealed.first().map_or(0, |v| v.base);
        let first_dirty = progress.first_dirty.max(snap.log_start).max(first_base);
        let all: Vec<&SegmentView> = snap.sealed.iter().chain(snap.active.iter()).collect();
        let txns = TxnScan::build(&all, cancel)?;
        let mut limit = Self::cleanable_limit(&snap, first_dirty, now);
        if let Some(unstable) = txns.first_unstable() {
            limit = limit.min(unstable);
        }
        let cleanable: Vec<&SegmentView> = snap.sealed.iter().filter(|v| v.end <= limit).collect();
        let dirty: Vec<&SegmentView> = cleanable
            .iter()
            .copied()
            .filter(|v| v.end > first_dirty)
            .collect();
        let (map, mapped_end) =
            build_offset_map(&dirty, first_dirty, &txns, dedupe_buffer_size, cancel)?;
        let end = mapped_end.max(first_dirty);
        let targets: Vec<&SegmentView> =
            cleanable.iter().copied().filter(|v| v.end <= end).collect();
        tracing::debug!(
            topic = %self.topic,
            partition = self.partition,
            first_dirty,
            end,
            keys = map.len(),
            segments = targets.len(),
            "cleaning log"
        );
        let mut filter = Filter {
            map: &map,
            txns: &txns,
            txn_data_seen: HashSet::new(),
            now,
            delete_retention_ms: config.delete_retention_ms(),
            next_horizon: None,
        };
        for group in group_segments(&targets, config.segment_bytes()) {
            if cancel.load(Ordering::Relaxed) {
                return Err(Error::Stopped);
            }
            let before = stats;
            match self.write_cleaned(&group, &mut filter, &mut stats, now, &config, cancel) {
                Ok(Some(cleaned)) => {
                    let swapped = self.swap_in(&group, &cleaned, &config, now, stop_after);
                    if !matches!(swapped, Ok(true)) {
                        remove_dir_if_exists(&cleaned.dir)?;
                    }
                    if !swapped? {
                        // Retention deleted some of the group meanwhile: nothing to replace.
                        stats = before;
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    let dir = self
                        .dir
                        .join(segment::file_name(group[0].base, CLEANED_SUFFIX));
                    remove_dir_if_exists(&dir)?;
                    return Err(e);
                }
            }
        }
        if end > progress.first_dirty {
            let path = self.dir.join(CHECKPOINT_FILE);
            write_atomic(&path, format!("{end}\n").as_bytes())?;
            progress.first_dirty = end;
            self.cleaner.first_dirty.store(end, Ordering::Relaxed);
        }
        progress.next_horizon = filter.next_horizon;
        // A full offset map left part of the dirty section for the next pass.
        let complete = dirty.last().is_none_or(|v| mapped_end >= v.end);
        progress.end_at_last_pass = log_end.filter(|_| complete);
        if stats.records_removed > 0 {
            tracing::info!(
                topic = %self.topic,
                partition = self.partition,
                segments_read = stats.segments_read,
                segments_written = stats.segments_written,
                bytes_before = stats.bytes_before,
                bytes_after = stats.bytes_after,
                records_removed = stats.records_removed,
                "compacted log"
            );
        }
        Ok(stats)
    }

    /// Cleans one group of segments into `<base>.cleaned/`. `None` if the group is a single
    /// segment that the pass leaves exactly as it is (nothing to swap).
    fn write_cleaned(
        &self,
        group: &[&SegmentView],
        filter: &mut Filter<'_>,
        stats: &mut CleanStats,
        now: i64,
        config: &TopicConfig,
        cancel: &AtomicBool,
    ) -> Result<Option<CleanedGroup>> {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            return Ok(None);
        };
        let (base, end) = (first.base, last.end);
        let dir = self.dir.join(segment::file_name(base, CLEANED_SUFFIX));
        remove_dir_if_exists(&dir)?;
        std::fs::create_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        let mut writer = CleanedWriter {
            seg: Segment::create(&dir, base, now)?,
            out: Vec::new(),
            headers: Vec::new(),
            written: 0,
            interval: config.index_interval_bytes(),
        };
        let mut changed = group.len() > 1;
        let mut last_batch: Option<(u64, BatchHeader, Bytes)> = None;
        for view in group {
            stats.segments_read += 1;
            stats.bytes_before += view.size;
            let mut reader = BatchReader::new(view, cancel);
            while let Some((pos, h, bytes)) = reader.next()? {
                match filter.apply(pos, &h, &bytes, stats)? {
                    Verdict::Keep => writer.push(&bytes)?,
                    Verdict::Drop => changed = true,
                    Verdict::Replace(b) => {
                        changed = true;
                        writer.push(&b)?;
                    }
                }
                last_batch = Some((pos, h, bytes));
            }
        }
        if !changed {
            stats.bytes_after += first.size;
            drop(writer);
            remove_dir_if_exists(&dir)?;
            return Ok(None);
        }
        if writer.written == 0 {
            // Keep the group's last batch, empty: a segment always holds a batch, which
            // tells its offsets and its age.
            if let Some((pos, h, bytes)) = &last_batch {
                writer.push(&encode(
                    bytes,
                    h,
                    &[],
                    h.base_timestamp,
                    h.attributes,
                    *pos,
                )?)?;
            }
        }
        writer.flush()?;
        let mut seg = writer.seg;
        seg.seal()?;
        seg.sync()?;
        stats.segments_written += 1;
        stats.bytes_after += seg.size;
        drop(seg);
        write_atomic(&dir.join(RANGE_FILE), format!("{base} {end}\n").as_bytes())?;
        Ok(Some(CleanedGroup { dir, base, end }))
    }

    /// Replaces the group's segments by the cleaned one, under the log's lock: rename the
    /// `.cleaned` directory `.swap`, delete the old segments, move the new files in, remove
    /// the directory. Renames and unlinks only: appends wait for microseconds. Readers that
    /// already hold an old segment's file finish reading it (the data stays until they
    /// close it). `false` if the group is no longer in the log (retention deleted some of
    /// it meanwhile).
    fn swap_in(
        &self,
        group: &[&SegmentView],
        cleaned: &CleanedGroup,
        config: &TopicConfig,
        now: i64,
        stop_after: SwapStep,
    ) -> Result<bool> {
        let swap = self.dir.join(segment::file_name(cleaned.base, SWAP_SUFFIX));
        let mut st = self.lock();
        let Some(first) = st
            .segments
            .iter()
            .position(|s| s.base_offset == cleaned.base)
        else {
            return Ok(false);
        };
        let still_there = st.segments.len() > first + group.len()
            && group
                .iter()
                .zip(&st.segments[first..])
                .all(|(v, s)| Arc::ptr_eq(&v.file, &s.file) && same_file(&v.path, &v.file));
        if !still_there {
            return Ok(false);
        }
        std::fs::rename(&cleaned.dir, &swap).map_err(|e| Error::io(&swap, e))?;
        sync_dir(&self.dir)?;
        if stop_after == SwapStep::Renamed {
            return Err(Error::Stopped);
        }
        for old in &st.segments[first..first + group.len()] {
            old.delete()?;
        }
        if stop_after == SwapStep::OldDeleted {
            return Err(Error::Stopped);
        }
        move_segment_files(
            &swap,
            &self.dir,
            cleaned.base,
            stop_after == SwapStep::IndexesMoved,
        )?;
        if stop_after <= SwapStep::LogMoved {
            return Err(Error::Stopped);
        }
        remove_dir_if_exists(&swap)?;
        sync_dir(&self.dir)?;
        let seg = Segment::open(
            &self.dir,
            cleaned.base,
            Some(cleaned.end),
            false,
            config.index_interval_bytes(),
            now,
        )?;
        let replaced: Vec<Segment> = st
            .segments
            .splice(first..first + group.len(), std::iter::once(seg))
            .collect();
        drop(st);
        drop(replaced);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use kafka_protocol::indexmap::IndexMap;
    use kafka_protocol::records::{
        Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
        TimestampType,
    };

    use super::*;
    use crate::config::FlushPolicy;
    use crate::log::now_ms;

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

    fn open(dir: &Path, pairs: &[(&str, &str)]) -> PartitionLog {
        let mut c = TopicConfig::default();
        c.set("cleanup.policy", "compact").unwrap();
        c.set("segment.bytes", "1024").unwrap();
        for (k, v) in pairs {
            c.set(k, v).unwrap();
        }
        PartitionLog::open(dir, "t", 0, Arc::new(c), FlushPolicy::Never).unwrap()
    }

    /// An idempotent or transactional producer's identity.
    #[derive(Clone, Copy)]
    struct Producer {
        id: i64,
        transactional: bool,
        /// Sequence number of the batch's first record: a producer's batches continue
        /// each other's sequences, or the broker takes a retry for a duplicate.
        first_seq: i32,
    }

    fn encode_records(records: Vec<Record>, compression: Compression) -> Vec<u8> {
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut buf,
            &records,
            &RecordEncodeOptions {
                version: 2,
                compression,
            },
        )
        .unwrap();
        buf.to_vec()
    }

    fn record(
        i: usize,
        key: Option<&str>,
        value: Option<&str>,
        ts: i64,
        producer: Option<Producer>,
    ) -> Record {
        Record {
            transactional: producer.is_some_and(|p| p.transactional),
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: producer.map_or(-1, |p| p.id),
            producer_epoch: producer.map_or(-1, |_| 0),
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The encoder derives the batch's base sequence from the records' and starts a
            // new batch when `offset - sequence` changes: -1 for the first record of a
            // plain producer's batch keeps them all in one batch with base sequence -1.
            sequence: producer.map_or(i as i32 - 1, |p| p.first_seq + i as i32),
            timestamp: ts,
            key: key.map(|k| Bytes::copy_from_slice(k.as_bytes())),
            value: value.map(|v| Bytes::copy_from_slice(v.as_bytes())),
            headers: IndexMap::new(),
        }
    }

    type Kv<'a> = (Option<&'a str>, Option<&'a str>);

    fn batch_of(kvs: &[Kv<'_>], ts: i64, compression: Compression, p: Option<Producer>) -> Vec<u8> {
        let records = kvs
            .iter()
            .enumerate()
            .map(|(i, (k, v))| record(i, *k, *v, ts + i as i64, p))
            .collect();
        encode_records(records, compression)
    }

    fn batch(kvs: &[Kv<'_>], ts: i64) -> Vec<u8> {
        batch_of(kvs, ts, Compression::None, None)
    }

    /// A transaction marker: a control batch of one record whose key is
    /// `version 0 | type` (0 abort, 1 commit).
    fn marker(p: Producer, commit: bool, ts: i64) -> Vec<u8> {
        let mut r = record(0, None, Some("\0\0\0\0\0\0"), ts, Some(p));
        r.control = true;
        r.sequence = -1;
        r.key = Some(Bytes::from(vec![0, 0, 0, u8::from(commit)]));
        encode_records(vec![r], Compression::None)
    }

    fn append(log: &PartitionLog, mut b: Vec<u8>) -> i64 {
        // Transaction markers are the coordinator's to write, not a producer's.
        if let Some(kind) = batch::control_type(&b) {
            let h = BatchHeader::parse(&b).unwrap();
            return log
                .append_marker(h.producer_id, h.producer_epoch, kind, 0)
                .unwrap();
        }
        log.append(&mut b).unwrap().base_offset
    }

    /// Appends `n` batches of an unrelated key, enough to roll several segments.
    fn fill(log: &PartitionLog, n: usize, ts: i64) {
        for _ in 0..n {
            append(
                log,
                batch(&[(Some("filler"), Some("xxxxxxxxxxxxxxxxxxxx"))], ts),
            );
        }
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Seen {
        offset: i64,
        key: Option<String>,
        value: Option<String>,
        control: bool,
    }

    fn text(b: &Option<Bytes>) -> Option<String> {
        b.as_ref().map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// Every batch header and every record of the log, as a consumer reading from the
    /// start gets them.
    fn read_all(log: &PartitionLog) -> (Vec<BatchHeader>, Vec<Seen>) {
        let (mut headers, mut seen) = (Vec::new(), Vec::new());
        let mut offset = log.log_start_offset();
        while offset < log.log_end_offset() {
            let r = log.read(offset, 1 << 20).unwrap();
            assert!(!r.records.is_empty(), "nothing at {offset}");
            let mut pos = 0;
            while let Some(h) = BatchHeader::parse(&r.records[pos..]) {
                assert!(batch::crc_ok(&r.records[pos..pos + h.size]));
                let mut b = r.records.slice(pos..pos + h.size);
                let set = RecordBatchDecoder::decode(&mut b).unwrap();
                for rec in set.records.iter().filter(|rec| rec.offset >= offset) {
                    seen.push(Seen {
                        offset: rec.offset,
                        key: text(&rec.key),
                        value: text(&rec.value),
                        control: rec.control,
                    });
                }
                headers.push(h);
                offset = h.next_offset();
                pos += h.size;
                if pos >= r.records.len() {
                    break;
                }
            }
        }
        (headers, seen)
    }

    fn records(log: &PartitionLog) -> Vec<Seen> {
        read_all(log).1
    }

    fn active_base(log: &PartitionLog) -> i64 {
        log.lock().segments.last().map(|s| s.base_offset).unwrap()
    }

    /// Twenty rounds of five keys, one batch per round; returns key → (offset, value) of
    /// the latest record of each key.
    fn rounds(log: &PartitionLog, ts: i64) -> BTreeMap<String, (i64, String)> {
        let mut latest = BTreeMap::new();
        for round in 0..20 {
            let kvs: Vec<(String, String)> = (0..5)
                .map(|k| (format!("key-{k}"), format!("value-{round}-{k}")))
                .collect();
            let refs: Vec<Kv<'_>> = kvs
                .iter()
                .map(|(k, v)| (Some(k.as_str()), Some(v.as_str())))
                .collect();
            let base = append(log, batch(&refs, ts));
            for (i, (k, v)) in kvs.iter().enumerate() {
                latest.insert(k.clone(), (base + i as i64, v.clone()));
            }
        }
        latest
    }

    fn assert_offsets_increase(seen: &[Seen]) {
        assert!(
            seen.windows(2).all(|w| w[0].offset < w[1].offset),
            "{seen:?}"
        );
    }

    #[test]
    fn keeps_the_latest_record_of_every_key_at_its_offset() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), &[]);
        let now = now_ms();
        let latest = rounds(&log, now);
        assert!(log.segment_count() > 3, "{} segments", log.segment_count());
        let before = records(&log);
        let active = active_base(&log);
        // The pass reaches up to the active segment: the latest record of each key there.
        let mut latest_cleanable = BTreeMap::new();
        for s in before.iter().filter(|s| s.offset < active) {
            latest_cleanable.insert(s.key.clone().unwrap(), s.offset);
        }
        let stats = log.clean(now).unwrap();
        assert!(stats.records_removed > 0, "{stats:?}");
        assert!(stats.bytes_after < stats.bytes_before, "{stats:?}");
        let after = records(&log);
        assert_offsets_increase(&after);
        for s in &after {
            assert!(before.contains(s), "{s:?} was not in the log");
            if s.offset < active {
                let key = s.key.clone().unwrap();
                assert_eq!(
                    latest_cleanable[&key], s.offset,
                    "{s:?} is not the latest of its key"
                );
            }
        }
        assert_eq!(
            after.iter().filter(|s| s.offset < active).count(),
            latest_cleanable.len(),
            "one record per key below the active segment"
        );
        for (key, (offset, value)) in &latest {
            let s = after.iter().find(|s| s.offset == *offset).unwrap();
            assert_eq!((s.key.as_ref(), s.value.as_ref()), (Some(key), Some(value)));
        }
        // The active segment is untouched.
        let tail = |v: &[Seen]| {
            v.iter()
                .filter(|s| s.offset >= active)
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(tail(&before), tail(&after));
        assert!(!tail(&after).is_empty());
        assert_eq!(log.log_end_offset(), 100);
        assert_eq!(log.first_dirty_offset(), active);
        // A fetch inside a removed range gets the next batch.
        let removed = (0..active)
            .find(|o| !after.iter().any(|s| s.offset == *o))
            .unwrap();
        let r = log.read(removed, 1 << 20).unwrap();
        let h = BatchHeader::parse(&r.records).unwrap();
        assert!(h.last_offset() >= removed);
        // Nothing more to remove, but the segments the first pass shrank are merged.
        let segments = log.segment_count();
        let again = log.clean(now).unwrap();
        assert_eq!(again.records_removed, 0);
        assert!(again.segments_written < again.segments_read, "{again:?}");
        assert!(log.segment_count() < segments);
        assert_eq!(records(&log), after);
        // The result survives a restart.
        drop(log);
        let log = open(dir.path(), &[]);
        assert_eq!(records(&log), after);
        assert_eq!(
            append(&log, batch(&[(Some("key-0"), Some("new"))], now)),
            100
        );
    }

    #[test]
    fn appends_and_reads_go_on_during_a_clean() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(open(dir.path(), &[]));
        let now = now_ms();
        rounds(&log, now);
        let writer = {
            let log = log.clone();
            std::thread::spawn(move || {
                for i in 0..300 {
                    let v = format!("w{i}");
                    append(&log, batch(&[(Some("w"), Some(v.as_str()))], now));
                }
            })
        };
        // A reader fetches the whole log again and again meanwhile: every batch it gets is
        // whole and valid, offsets only increase, and a fetch inside a removed range gets
        // the next batch.
        let reader = {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut reads = 0;
                while log.log_end_offset() < 400 || reads < 5 {
                    let (headers, seen) = read_all(&log);
                    assert!(headers
                        .windows(2)
                        .all(|w| w[0].next_offset() <= w[1].base_offset));
                    assert_offsets_increase(&seen);
                    reads += 1;
                }
                reads
            })
        };
        let mut passes = 0;
        while !writer.is_finished() {
            log.clean(now).unwrap();
            passes += 1;
        }
        writer.join().unwrap();
        assert!(reader.join().unwrap() >= 5);
        log.clean(now).unwrap();
        assert!(passes > 0);
        assert_eq!(log.log_end_offset(), 400);
        let seen = records(&log);
        assert_offsets_increase(&seen);
        let last = seen.last().unwrap();
        assert_eq!((last.offset, last.value.as_deref()), (399, Some("w299")));
        assert_eq!(
            seen.iter()
                .filter(|s| s.key.as_deref() != Some("w"))
                .count(),
            5,
            "one record per round key"
        );
    }

    #[test]
    fn a_full_offset_map_spreads_the_dirty_section_over_several_passes() {
        let now = now_ms();
        let reference_dir = tempfile::tempdir().unwrap();
        let reference = open(reference_dir.path(), &[]);
        rounds(&reference, now);
        reference.clean(now).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), &[]);
        rounds(&log, now);
        let active = active_base(&log);
        let no = AtomicBool::new(false);
        let mut passes = 0;
        while log.first_dirty_offset() < active {
            let before = log.first_dirty_offset();
            // A one-byte map holds one segment's keys per pass.
            log.clean_pass(now, 1, &no).unwrap();
            assert!(
                log.first_dirty_offset() > before,
                "each pass makes progress"
            );
            passes += 1;
            if passes == 1 {
                assert!(log.needs_cleaning(now), "the rest waits for the next pass");
            }
        }
        assert!(passes > 1);
        log.clean(now).unwrap();
        reference.clean(now).unwrap();
        assert_eq!(records(&log), records(&reference));
    }

    #[test]
    fn a_cancelled_pass_leaves_the_log_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), &[]);
        let now = now_ms();
        rounds(&log, now);
        let before = records(&log);
        let cancelled = log.clean_pass(now, DEFAULT_DEDUPE_BUFFER_SIZE, &AtomicBool::new(true));
        assert!(matches!(cancelled, Err(Error::Stopped)));
        assert_eq!(records(&log), before);
        assert!(swap_dirs(dir.path()).is_empty());
        assert_eq!(log.first_dirty_offset(), 0);
    }

    #[test]
    fn tombstones_stay_for_delete_retention_then_go() {
        let dir = tempfile::tempdir().unwrap();
        let pairs = [("delete.retention.ms", "1000")];
        let log = open(dir.path(), &pairs);
        let t0 = now_ms();
        append(
            &log,
            batch(&[(Some("a"), Some("1")), (Some("b"), Some("1"))], t0),
        );
        append(&log, batch(&[(Some("a"), None)], t0));
        fill(&log, 30, t0);
        let first = log.clean(t0).unwrap();
        assert_eq!(first.tombstones_removed, 0);
        let seen = records(&log);
        let a: Vec<_> = seen
            .iter()
            .filter(|s| s.key.as_deref() == Some("a"))
            .collect();
        assert_eq!(a.len(), 1, "only the tombstone is left of `a`: {a:?}");
        assert_eq!((a[0].offset, a[0].value.as_deref()), (2, None));
        assert!(seen.iter().any(|s| s.key.as_deref() == Some("b")));
        // The horizon is in the batch: it survives a restart.
        drop(log);
        let log = open(dir.path(), &pairs);
        assert_eq!(log.clean(t0 + 999).unwrap().tombstones_removed, 0);
        assert!(records(&log).iter().any(|s| s.offset == 2));
        let last = log.clean(t0 + 1000).unwrap();
        assert_eq!(last.tombstones_removed, 1);
        let seen = records(&log);
        assert!(!seen.iter().any(|s| s.key.as_deref() == Some("a")));
        assert!(seen.iter().any(|s| s.key.as_deref() == Some("b")));
        // Record timestamps are unchanged by the horizon in the base timestamp.
        let (headers, _) = read_all(&log);
        assert!(headers.iter().all(|h| h.max_timestamp <= t0 + 100));
    }

    #[test]
    fn the_active_segment_is_never_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), &[("segment.bytes", "1048576")]);
        let now = now_ms();
        rounds(&log, now);
        let before = records(&log);
        assert_eq!(log.segment_count(), 1);
        assert_eq!(log.clean(now).unwrap(), CleanStats::default());
        assert_eq!(records(&log), before);
        assert!(!log.needs_cleaning(now));
    }

    #[test]
    fn compressed_batches_are_recompressed_with_their_codec() {
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let dir = tempfile::tempdir().unwrap();
            let log = open(dir.path(), &[("segment.bytes", "2048")]);
            let now = now_ms();
            let mut latest = BTreeMap::new();
            for round in 0..40 {
                let kvs: Vec<(String, String)> = (0..6)
                    .map(|k| {
                        (
                            format!("key-{}", (round + k) % 9),
                            format!("{codec:?}-{round}-{k}"),
                        )
                    })
                    .collect();
                let refs: Vec<Kv<'_>> = kvs
                    .iter()
                    .map(|(k, v)| (Some(k.as_str()), Some(v.as_str())))
                    .collect();
                let base = append(&log, batch_of(&refs, now, codec, None));
                for (i, (k, v)) in kvs.iter().enumerate() {
                    latest.insert(k.clone(), (base + i as i64, v.clone()));
                }
            }
            assert!(log.segment_count() > 2, "{codec:?}");
            let active = active_base(&log);
            let before = records(&log);
            let mut latest_cleanable = BTreeMap::new();
            for s in before.iter().filter(|s| s.offset < active) {
                latest_cleanable.insert(s.key.clone().unwrap(), s.offset);
            }
            let stats = log.clean(now).unwrap();
            assert!(stats.records_removed > 0, "{codec:?}: {stats:?}");
            let (headers, seen) = read_all(&log);
            assert!(
                headers
                    .iter()
                    .filter(|h| h.records_count > 0)
                    .all(|h| h.compression() == codec as i16),
                "{codec:?}: every batch keeps its codec"
            );
            assert!(
                headers.iter().any(|h| h.base_offset < active
                    && h.records_count > 0
                    && i64::from(h.records_count) < i64::from(h.last_offset_delta) + 1),
                "{codec:?}: some batches were rewritten with fewer records"
            );
            assert_offsets_increase(&seen);
            for s in seen.iter().filter(|s| s.offset < active) {
                assert_eq!(
                    latest_cleanable[s.key.as_deref().unwrap()],
                    s.offset,
                    "{codec:?}"
                );
            }
            for (key, (offset, value)) in &latest {
                assert!(
                    seen.iter().any(|s| s.offset == *offset
                        && s.key.as_ref() == Some(key)
                        && s.value.as_ref() == Some(value)),
                    "{codec:?}: latest {key} missing"
                );
            }
        }
    }

    #[test]
    fn compacted_topics_refuse_records_without_a_key() {
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

    fn swap_dirs(dir: &Path) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .collect();
        found.sort();
        found
    }

    #[test]
    fn a_swap_interrupted_by_a_crash_is_completed_on_start_up() {
        let now = now_ms();
        // The reference: the same log, cleaned without a crash.
        let reference_dir = tempfile::tempdir().unwrap();
        let reference = open(reference_dir.path(), &[]);
        let latest = rounds(&reference, now);
        let original = records(&reference);
        reference.clean(now).unwrap();
        let expected = records(&reference);
        for step in [
            SwapStep::Renamed,
            SwapStep::OldDeleted,
            SwapStep::IndexesMoved,
            SwapStep::LogMoved,
        ] {
            let dir = tempfile::tempdir().unwrap();
            let log = open(dir.path(), &[]);
            rounds(&log, now);
            let crashed = log.clean_until(
                now,
                DEFAULT_DEDUPE_BUFFER_SIZE,
                &AtomicBool::new(false),
                step,
            );
            assert!(matches!(crashed, Err(Error::Stopped)), "{step:?}");
            drop(log);
            let left = swap_dirs(dir.path());
            assert_eq!(left.len(), 1, "{step:?}: {left:?}");
            assert_eq!(
                left[0].extension().and_then(|e| e.to_str()),
                Some(SWAP_SUFFIX)
            );
            // Start-up completes the swap: the first group is cleaned, nothing is lost.
            let log = open(dir.path(), &[]);
            assert!(swap_dirs(dir.path()).is_empty(), "{step:?}");
            let recovered = records(&log);
            assert_offsets_increase(&recovered);
            assert!(
                recovered.len() < original.len(),
                "{step:?}: the cleaned group is in"
            );
            for s in &recovered {
                assert!(original.contains(s), "{step:?}: {s:?}");
            }
            for (offset, _) in latest.values() {
                assert!(recovered.iter().any(|s| s.offset == *offset), "{step:?}");
            }
            // A new pass finishes the job, as if nothing had happened.
            log.clean(now).unwrap();
            assert_eq!(records(&log), expected, "{step:?}");
            assert_eq!(append(&log, batch(&[(Some("k"), Some("v"))], now)), 100);
        }
        // An unfinished `.cleaned` directory is discarded.
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), &[]);
        rounds(&log, now);
        drop(log);
        let cleaned = dir.path().join(segment::file_name(0, CLEANED_SUFFIX));
        std::fs::create_dir(&cleaned).unwrap();
        std::fs::write(cleaned.join(segment::file_name(0, "log")), b"half written").unwrap();
        let log = open(dir.path(), &[]);
        assert!(!cleaned.exists());
        assert_eq!(records(&log), original);
    }

    #[test]
    fn aborted_transactions_go_and_markers_stay_until_their_data_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), &[("delete.retention.ms", "100")]);
        let t0 = now_ms();
        let p7 = Producer {
            id: 7,
            transactional: true,
            first_seq: 0,
        };
        let p8 = Producer {
            id: 8,
            transactional: true,
            first_seq: 0,
        };
        let none = Compression::None;
        append(&log, batch(&[(Some("k1"), Some("v1"))], t0)); // 0
        append(
            &log,
            batch_of(&[(Some("k1"), Some("aborted"))], t0, none, Some(p7)),
        ); // 1
        let abort = append(&log, marker(p7, false, t0)); // 2
        append(
            &log,
            batch_of(&[(Some("k2"), Some("committed"))], t0, none, Some(p8)),
        ); // 3
        let commit = append(&log, marker(p8, true, t0)); // 4
        append(
            &log,
            batch_of(
                &[(Some("k3"), Some("later"))],
                t0,
                none,
                Some(Producer { first_seq: 1, ..p7 }),
            ),
        ); // 5
        let commit7 = append(&log, marker(p7, true, t0)); // 6
        fill(&log, 30, t0);
        let has = |log: &PartitionLog, offset: i64| records(log).iter().any(|s| s.offset == offset);

        log.clean(t0).unwrap();
        let seen = records(&log);
        let k1: Vec<_> = seen
            .iter()
            .filter(|s| s.key.as_deref() == Some("k1"))
            .collect();
        assert_eq!(k1.len(), 1, "{k1:?}");
        assert_eq!(
            k1[0].value.as_deref(),
            Some("v1"),
            "an aborted value never wins"
        );
        assert!(!has(&log, 1), "aborted records are removed");
        assert!(
            has(&log, abort),
            "the abort marker stays while its data was there"
        );
        assert!(has(&log, 3) && has(&log, commit) && has(&log, 5) && has(&log, commit7));

        // Its data gone, the abort marker gets a delete horizon...
        log.clean(t0).unwrap();
        assert!(has(&log, abort));
        // ...and goes when it has passed. Committed data keeps its marker.
        let stats = log.clean(t0 + 100).unwrap();
        assert!(stats.records_removed >= 1);
        assert!(!has(&log, abort));
        assert!(has(&log, 3) && has(&log, commit) && has(&log, 5) && has(&log, commit7));
        let seen = records(&log);
        assert!(seen
            .iter()
            .all(|s| !s.control || s.offset == commit || s.offset == commit7));
    }

    #[test]
    fn open_transactions_hold_the_cleaner_back() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), &[]);
        let now = now_ms();
        let p9 = Producer {
            id: 9,
            transactional: true,
            first_seq: 0,
        };
        fill(&log, 30, now);
        let open_at = append(
            &log,
            batch_of(
                &[(Some("t"), Some("pending"))],
                now,
                Compression::None,
                Some(p9),
            ),
        );
        fill(&log, 20, now);
        log.clean(now).unwrap();
        let seen = records(&log);
        let fillers_before = seen
            .iter()
            .filter(|s| s.key.as_deref() == Some("filler") && s.offset < open_at)
            .count();
        assert!(
            fillers_before < 20,
            "superseded records before the transaction go"
        );
        let fillers_after = seen
            .iter()
            .filter(|s| s.key.as_deref() == Some("filler") && s.offset > open_at)
            .count();
        assert_eq!(
            fillers_after, 20,
            "nothing from the open transaction on is cleaned"
        );
        assert!(log.first_dirty_offset() <= open_at);
        assert!(
            !log.needs_cleaning(now),
            "with nothing appended since, another pass would be in vain"
        );
        // Once committed, the rest can be cleaned.
        append(&log, marker(p9, true, now));
        fill(&log, 20, now);
        log.clean(now).unwrap();
        let fillers = records(&log)
            .iter()
            .filter(|s| s.key.as_deref() == Some("filler") && s.offset < active_base(&log))
            .count();
        assert!(fillers <= 1, "{fillers} fillers left");
        assert!(records(&log).iter().any(|s| s.offset == open_at));
    }

    #[test]
    fn a_producers_last_batch_stays_as_an_empty_batch() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), &[]);
        let now = now_ms();
        let p5 = Producer {
            id: 5,
            transactional: false,
            first_seq: 0,
        };
        append(
            &log,
            batch_of(
                &[(Some("a"), Some("1")), (Some("b"), Some("1"))],
                now,
                Compression::None,
                Some(p5),
            ),
        );
        append(
            &log,
            batch(&[(Some("a"), Some("2")), (Some("b"), Some("2"))], now),
        );
        fill(&log, 30, now);
        log.clean(now).unwrap();
        let (headers, seen) = read_all(&log);
        assert!(
            !seen.iter().any(|s| s.offset < 2),
            "both records of producer 5 are superseded"
        );
        let first = headers[0];
        assert_eq!(
            (
                first.base_offset,
                first.last_offset(),
                first.records_count,
                first.producer_id
            ),
            (0, 1, 0, 5),
            "its batch stays, empty, with its offsets and producer id"
        );
    }

    #[test]
    fn min_compaction_lag_protects_recent_records() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), &[("min.compaction.lag.ms", "3600000")]);
        let t0 = now_ms();
        rounds(&log, t0);
        assert_eq!(log.clean(t0).unwrap().records_removed, 0);
        assert!(!log.needs_cleaning(t0));
        assert!(log.needs_cleaning(t0 + 7_200_000));
        assert!(log.clean(t0 + 7_200_000).unwrap().records_removed > 0);
    }

    #[test]
    fn the_background_cleaner_waits_for_the_dirty_ratio() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), &[]);
        let now = now_ms();
        rounds(&log, now);
        assert!(log.needs_cleaning(now), "a log never cleaned is all dirty");
        log.clean(now).unwrap();
        assert!(
            !log.needs_cleaning(now),
            "nothing dirty right after a clean"
        );
        // A dirty share above min.cleanable.dirty.ratio (0.5) calls for a pass again.
        rounds(&log, now);
        rounds(&log, now);
        assert!(log.needs_cleaning(now));
        // A delete-only topic is never cleaned.
        let other = tempfile::tempdir().unwrap();
        let mut c = TopicConfig::default();
        c.set("segment.bytes", "1024").unwrap();
        let plain =
            PartitionLog::open(other.path(), "p", 0, Arc::new(c), FlushPolicy::Never).unwrap();
        rounds(&plain, now);
        assert!(!plain.needs_cleaning(now));
        assert_eq!(plain.clean(now).unwrap(), CleanStats::default());
    }

    #[test]
    fn compact_and_delete_topics_are_also_trimmed_by_retention() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(
            dir.path(),
            &[
                ("cleanup.policy", "compact,delete"),
                ("retention.ms", "60000"),
            ],
        );
        let now = now_ms();
        for i in 0..30 {
            let key = format!("old-{i}");
            append(
                &log,
                batch(&[(Some(key.as_str()), Some("v"))], now - 3_600_000),
            );
        }
        fill(&log, 30, now);
        let fillers = |seen: &[Seen]| {
            seen.iter()
                .filter(|s| s.key.as_deref() == Some("filler"))
                .count()
        };
        assert!(log.clean(now).unwrap().records_removed > 0);
        let compacted = records(&log);
        let deleted = log.enforce_retention(now).unwrap();
        assert!(deleted > 0);
        assert!(log.log_start_offset() > 0);
        let seen = records(&log);
        let old = |seen: &[Seen]| {
            seen.iter()
                .filter(|s| s.key.as_deref().is_some_and(|k| k.starts_with("old-")))
                .count()
        };
        assert_eq!(
            old(&compacted),
            30,
            "distinct keys are all kept by compaction"
        );
        assert!(old(&seen) < 30, "expired segments are deleted");
        assert!(seen.iter().all(|s| s.offset >= log.log_start_offset()));
        assert_eq!(fillers(&seen), fillers(&compacted), "recent records stay");
    }
}
