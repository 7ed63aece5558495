//! The partition log: an append-only sequence of record batches on disk.
//!
//! Each partition is a directory (`<topic>-<partition>`, as in Kafka) of segments named by
//! their base offset. Producers' batches are validated, given offsets in place and
//! appended as received; consumers read the same bytes back, located through the sparse
//! offset index. Like Kafka's `UnifiedLog`, the log tracks its start offset (which
//! retention advances) and its end offset (the high watermark: with a single replica,
//! every appended record is committed). On start-up the newest segment is recovered: a
//! batch torn by a crash is cut off rather than served.
//!
//! Each log also keeps its [`producer_state`]: idempotent producers' sequences (so retries
//! are not appended twice), open transactions (which hold back the last stable offset that
//! `read_committed` consumers may read up to) and aborted transactions. It is snapshotted
//! to `<offset>.snapshot` whenever a segment is rolled, and rebuilt at start-up from the
//! latest snapshot and the batch headers after it, as Kafka does.
//!
//! Sub-modules: [`batch`] (the v2 batch header), `validate` (checks on what producers
//! send, Kafka's `LogValidator`), `records` (the records inside a batch: iteration,
//! bounded decompression, compression), `varint`, [`producer_state`], `segment` (files
//! and indexes), `cleaner` (compaction of `cleanup.policy=compact` logs, see
//! [`PartitionLog::clean`]).

pub(crate) mod batch;
mod cleaner;
pub(crate) mod producer_state;
mod records;
mod segment;
mod validate;
mod varint;

pub use cleaner::CleanStats;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};

use crate::clock::now_ms;
use crate::config::{FlushPolicy, TopicConfig};
use crate::error::{Error, Result};
use crate::fs::write_atomic;
use batch::{BatchHeader, ControlType, HEADER_SIZE};
use producer_state::{AbortedTxn, Check, ProducerStateManager};
use segment::Segment;

const LOG_START_FILE: &str = "log-start-offset";
const SNAPSHOT_EXT: &str = "snapshot";

/// The outcome of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AppendInfo {
    /// Offset given to the first record appended.
    pub base_offset: i64,
    /// The log start offset after the append.
    pub log_start_offset: i64,
    /// The broker's timestamp if the topic uses `LogAppendTime`, else -1.
    pub log_append_time: i64,
    /// True if the batch was a producer's retry of one already in the log: nothing was
    /// appended and `base_offset` is where the original went.
    pub duplicate: bool,
}

/// The outcome of a read.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReadInfo {
    /// Whole record batches, as stored; empty at the end of the log.
    pub records: Bytes,
    /// The offset after the last record in the log.
    pub high_watermark: i64,
    /// The first offset still in the log.
    pub log_start_offset: i64,
    /// The last stable offset: the first offset of the earliest open transaction, or the
    /// high watermark if none is open.
    pub last_stable_offset: i64,
    /// For `read_committed` reads, the aborted transactions that overlap the records
    /// returned (empty otherwise).
    pub aborted: Vec<AbortedTxn>,
}

/// Which records a read may return, the `isolation_level` of a fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Isolation {
    /// Everything up to the high watermark.
    ReadUncommitted,
    /// Only records below the last stable offset, with the aborted transactions listed.
    ReadCommitted,
}

struct LogState {
    segments: Vec<Segment>,
    log_start_offset: i64,
    config: Arc<TopicConfig>,
    dirty: bool,
    producers: ProducerStateManager,
}

impl LogState {
    fn active(&mut self) -> &mut Segment {
        let last = self.segments.len() - 1;
        &mut self.segments[last]
    }
    fn end_offset(&self) -> i64 {
        self.segments.last().map(|s| s.next_offset).unwrap_or(0)
    }
    /// The first offset of the earliest open transaction (no lower than the log start,
    /// should retention have removed its beginning), or the high watermark.
    fn last_stable_offset(&self) -> i64 {
        let hw = self.end_offset();
        self.producers
            .first_unstable_offset()
            .map_or(hw, |o| o.max(self.log_start_offset).min(hw))
    }
}

/// The offsets of the producer-state snapshots in `dir`, newest first.
fn snapshot_offsets(dir: &Path) -> Vec<i64> {
    let mut offsets: Vec<i64> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name();
                    let name = name.to_string_lossy();
                    name.strip_suffix(".snapshot")?.parse::<i64>().ok()
                })
                .collect()
        })
        .unwrap_or_default();
    offsets.sort_unstable_by(|a, b| b.cmp(a));
    offsets
}

/// The newest readable snapshot at or below `end`: its offset and state.
fn load_snapshot(dir: &Path, end: i64) -> Option<(i64, ProducerStateManager)> {
    for offset in snapshot_offsets(dir).into_iter().filter(|o| *o <= end) {
        let path = dir.join(segment::file_name(offset, SNAPSHOT_EXT));
        match std::fs::read(&path)
            .ok()
            .and_then(|b| ProducerStateManager::from_snapshot(&b))
        {
            Some((at, state)) if at == offset => return Some((at, state)),
            _ => {
                tracing::warn!(snapshot = %path.display(), "ignoring an unreadable producer-state snapshot")
            }
        }
    }
    None
}

/// Rebuilds the producer state: the newest snapshot (if any) plus the batch headers
/// from its offset on; a marker's type is read from its (small, uncompressed) control
/// record.
fn replay_producer_state(dir: &Path, segments: &[Segment]) -> Result<ProducerStateManager> {
    let end = segments.last().map(|s| s.next_offset).unwrap_or(0);
    let (from, mut producers) = load_snapshot(dir, end).unwrap_or_default();
    for seg in segments.iter().filter(|s| s.next_offset > from) {
        let mut failed = None;
        seg.for_each_batch(|pos, h| {
            if !h.has_producer_id() || failed.is_some() || h.base_offset < from {
                return;
            }
            if !h.is_control() {
                producers.apply(h);
                return;
            }
            match seg.read_exact(pos, h.size) {
                Ok(bytes) => match batch::control_type(&bytes) {
                    Some(kind) => producers.apply_marker(h, kind),
                    None => tracing::warn!(
                        offset = h.base_offset,
                        "unreadable control batch ignored while rebuilding producer state"
                    ),
                },
                Err(e) => failed = Some(e),
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
    }
    Ok(producers)
}

/// One partition's log. Thread-safe: appends and metadata updates take a short lock;
/// the bulk of a read happens outside it.
pub(crate) struct PartitionLog {
    topic: String,
    partition: i32,
    dir: PathBuf,
    flush: FlushPolicy,
    state: Mutex<LogState>,
    /// The log cleaner's progress on this log (compacted topics only).
    cleaner: cleaner::CleanerState,
}

impl std::fmt::Debug for PartitionLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartitionLog")
            .field("topic", &self.topic)
            .field("partition", &self.partition)
            .field("dir", &self.dir)
            .finish()
    }
}

impl PartitionLog {
    /// Opens (or creates) the log in `dir`, recovering the newest segment.
    pub(crate) fn open(
        dir: &Path,
        topic: &str,
        partition: i32,
        config: Arc<TopicConfig>,
        flush: FlushPolicy,
    ) -> Result<PartitionLog> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        cleaner::recover(dir)?;
        let mut bases = Vec::new();
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(dir, e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if let Some(stem) = name.strip_suffix(".log") {
                if let Ok(base) = stem.parse::<i64>() {
                    bases.push(base);
                }
            }
        }
        bases.sort_unstable();
        let start_path = dir.join(LOG_START_FILE);
        let persisted_start = std::fs::read_to_string(&start_path)
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok());
        let now = now_ms();
        let interval = config.index_interval_bytes();
        let mut segments = Vec::with_capacity(bases.len().max(1));
        for (i, &base) in bases.iter().enumerate() {
            let next = bases.get(i + 1).copied();
            let last = next.is_none();
            segments.push(Segment::open(dir, base, next, last, interval, now)?);
        }
        if segments.is_empty() {
            segments.push(Segment::create(dir, persisted_start.unwrap_or(0), now)?);
        }
        let first_base = segments[0].base_offset;
        let end = segments.last().map(|s| s.next_offset).unwrap_or(0);
        let log_start_offset = persisted_start.unwrap_or(first_base).clamp(first_base, end);
        let mut producers = replay_producer_state(dir, &segments)?;
        producers.truncate_before(log_start_offset);
        tracing::debug!(
            topic,
            partition,
            log_start_offset,
            log_end_offset = end,
            "opened partition log"
        );
        Ok(PartitionLog {
            topic: topic.to_string(),
            partition,
            dir: dir.to_path_buf(),
            flush,
            state: Mutex::new(LogState {
                segments,
                log_start_offset,
                config,
                dirty: false,
                producers,
            }),
            cleaner: cleaner::CleanerState::load(dir),
        })
    }

    fn lock(&self) -> MutexGuard<'_, LogState> {
        // A panic while holding the lock leaves the state as consistent as the files.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The topic this log belongs to.
    pub(crate) fn topic(&self) -> &str {
        &self.topic
    }

    /// The partition number.
    pub(crate) fn partition(&self) -> i32 {
        self.partition
    }

    /// The directory holding the segments.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The topic configuration in force.
    pub(crate) fn config(&self) -> Arc<TopicConfig> {
        self.lock().config.clone()
    }

    /// The first offset still in the log.
    pub(crate) fn log_start_offset(&self) -> i64 {
        self.lock().log_start_offset
    }

    /// The offset the next record will get (the high watermark).
    pub(crate) fn log_end_offset(&self) -> i64 {
        self.lock().end_offset()
    }

    /// Bytes on disk across all segments.
    pub(crate) fn size_bytes(&self) -> u64 {
        self.lock().segments.iter().map(|s| s.size).sum()
    }

    /// Number of segments.
    pub(crate) fn segment_count(&self) -> usize {
        self.lock().segments.len()
    }

    /// Validates and appends the batches in `records` (as a producer sent them),
    /// assigning offsets in place. Batches of idempotent and transactional producers are
    /// checked against the producer state first: a retry of a recent batch is not appended
    /// again but acknowledged with its original offset ([`AppendInfo::duplicate`]).
    pub(crate) fn append(&self, records: &mut [u8]) -> Result<AppendInfo> {
        let config = self.config();
        let headers = validate::validate_batches(records, config.max_message_bytes())
            .map_err(|e| e.in_partition(&self.topic, self.partition))?;
        validate::check_records(
            &self.topic,
            self.partition,
            records,
            &headers,
            config.cleanup_policy().compact,
            validate::decompressed_limit(config.max_message_bytes()),
        )?;
        self.append_validated(records, &headers, None)
    }

    /// Appends a transaction marker for `producer_id` (written by the transaction
    /// coordinator, never by clients); returns its offset.
    pub(crate) fn append_marker(
        &self,
        producer_id: i64,
        producer_epoch: i16,
        kind: ControlType,
        coordinator_epoch: i32,
    ) -> Result<i64> {
        let mut marker = batch::control_batch(
            producer_id,
            producer_epoch,
            kind,
            coordinator_epoch,
            now_ms(),
        );
        let header = BatchHeader::parse(&marker).ok_or_else(|| Error::CorruptBatch {
            position: 0,
            reason: "malformed control batch".into(),
        })?;
        let info = self.append_validated(&mut marker, &[header], Some(kind))?;
        Ok(info.base_offset)
    }

    /// Appends batches already checked by [`validate::validate_batches`]; `marker` is set
    /// for a coordinator's transaction marker (which skips the client checks).
    fn append_validated(
        &self,
        records: &mut [u8],
        headers: &[BatchHeader],
        marker: Option<ControlType>,
    ) -> Result<AppendInfo> {
        let mut st = self.lock();
        let now = now_ms();
        if marker.is_none() {
            let check = st
                .producers
                .check(headers)
                .map_err(|source| Error::Producer {
                    topic: self.topic.clone(),
                    partition: self.partition,
                    source,
                })?;
            if let Check::Duplicate(m) = check {
                tracing::debug!(topic = %self.topic, partition = self.partition, offset = m.first_offset, "duplicate batch acknowledged");
                return Ok(AppendInfo {
                    base_offset: m.first_offset,
                    log_start_offset: st.log_start_offset,
                    log_append_time: if st.config.log_append_time() {
                        m.max_timestamp
                    } else {
                        -1
                    },
                    duplicate: true,
                });
            }
        }
        let append_time = st.config.log_append_time().then_some(now);
        let base_offset = st.end_offset();
        let mut next = base_offset;
        let mut pos = 0usize;
        let mut assigned = Vec::with_capacity(headers.len());
        for h in headers {
            batch::assign_offset(&mut records[pos..pos + h.size], next, -1);
            let mut h = *h;
            if let Some(t) = append_time {
                batch::set_log_append_time(&mut records[pos..pos + h.size], t);
                h.max_timestamp = t;
            }
            h.base_offset = next;
            next = h.next_offset();
            pos += h.size;
            assigned.push(h);
        }
        let config = st.config.clone();
        let roll = {
            let active = st.active();
            active.size > 0
                && (active.size + records.len() as u64 > config.segment_bytes()
                    || now - active.created_ms >= config.segment_ms())
        };
        if roll {
            self.roll(&mut st, now)?;
        }
        let interval = config.index_interval_bytes();
        st.active().append(records, &assigned, interval)?;
        for h in &assigned {
            match marker {
                Some(kind) => st.producers.apply_marker(h, kind),
                None => st.producers.apply(h),
            }
        }
        match self.flush {
            FlushPolicy::EveryBatch => st.active().sync()?,
            _ => st.dirty = true,
        }
        Ok(AppendInfo {
            base_offset,
            log_start_offset: st.log_start_offset,
            log_append_time: append_time.unwrap_or(-1),
            duplicate: false,
        })
    }

    fn roll(&self, st: &mut LogState, now: i64) -> Result<()> {
        let active = st.active();
        active.seal()?;
        if self.flush != FlushPolicy::Never {
            active.sync()?;
        }
        active.close_index_files();
        let base = active.next_offset;
        tracing::debug!(topic = %self.topic, partition = self.partition, base, "rolling new segment");
        let seg = Segment::create(&self.dir, base, now)?;
        st.segments.push(seg);
        self.write_snapshot(st, base)
    }

    /// Snapshots the producer state at `offset` (a new segment's base), keeping the
    /// previous snapshot too in case this one is torn by a crash.
    fn write_snapshot(&self, st: &LogState, offset: i64) -> Result<()> {
        let path = self.dir.join(segment::file_name(offset, SNAPSHOT_EXT));
        write_atomic(&path, &st.producers.to_snapshot(offset))?;
        for old in snapshot_offsets(&self.dir).into_iter().skip(2) {
            let old = self.dir.join(segment::file_name(old, SNAPSHOT_EXT));
            if let Err(e) = std::fs::remove_file(&old) {
                tracing::warn!(snapshot = %old.display(), error = %e, "could not remove an old snapshot");
            }
        }
        Ok(())
    }

    /// The last stable offset: `read_committed` consumers read up to it (ListOffsets
    /// "latest" under `read_committed`).
    pub(crate) fn last_stable_offset(&self) -> i64 {
        self.lock().last_stable_offset()
    }

    /// Reads whole batches starting with the one that holds `offset`, up to about
    /// `max_bytes` (the first batch is returned whole even if larger, as Kafka does, so a
    /// consumer can always make progress).
    pub(crate) fn read(&self, offset: i64, max_bytes: usize) -> Result<ReadInfo> {
        self.read_into(offset, max_bytes, &mut BytesMut::new())
    }

    /// Like [`read`](Self::read), reading into `scratch`: the records returned share its
    /// allocation, which `scratch` reclaims for the next read once they are dropped.
    pub(crate) fn read_into(
        &self,
        offset: i64,
        max_bytes: usize,
        scratch: &mut BytesMut,
    ) -> Result<ReadInfo> {
        self.read_isolated_into(offset, max_bytes, scratch, Isolation::ReadUncommitted)
    }

    /// Like [`read_into`](Self::read_into) at an isolation level: under
    /// [`Isolation::ReadCommitted`] only batches below the last stable offset are returned,
    /// with the aborted transactions that overlap them.
    pub(crate) fn read_isolated_into(
        &self,
        offset: i64,
        max_bytes: usize,
        scratch: &mut BytesMut,
        isolation: Isolation,
    ) -> Result<ReadInfo> {
        self.read_bounded(offset, max_bytes, true, scratch, isolation)
    }

    /// Like [`read_isolated_into`](Self::read_isolated_into); the first batch is returned
    /// whole even past `max_bytes` only if `min_one_batch` (Kafka's `minOneMessage`,
    /// KIP-74): a fetch grants that to the first partition that returns data, and from
    /// then on a batch is returned only if it fits.
    pub(crate) fn read_bounded(
        &self,
        offset: i64,
        max_bytes: usize,
        min_one_batch: bool,
        scratch: &mut BytesMut,
        isolation: Isolation,
    ) -> Result<ReadInfo> {
        let (file_seg, pos, end, hw, start, lso) = {
            let st = self.lock();
            let hw = st.end_offset();
            let start = st.log_start_offset;
            let lso = st.last_stable_offset();
            let limit = match isolation {
                Isolation::ReadUncommitted => hw,
                Isolation::ReadCommitted => lso,
            };
            if offset < start || offset > hw {
                return Err(Error::OffsetOutOfRange {
                    topic: self.topic.clone(),
                    partition: self.partition,
                    offset,
                    log_start: start,
                    log_end: hw,
                });
            }
            // Nothing to return: past the readable end, or no room for even a header.
            if offset >= limit || (!min_one_batch && max_bytes < HEADER_SIZE) {
                return Ok(ReadInfo {
                    records: Bytes::new(),
                    high_watermark: hw,
                    log_start_offset: start,
                    last_stable_offset: lso,
                    aborted: Vec::new(),
                });
            }
            let mut i = st
                .segments
                .partition_point(|s| s.base_offset <= offset)
                .saturating_sub(1);
            let mut found = None;
            while i < st.segments.len() {
                let seg = &st.segments[i];
                if let Some(pos) = seg.find_offset(offset)? {
                    found = Some((i, pos));
                    break;
                }
                i += 1;
            }
            let Some((i, pos)) = found else {
                return Ok(ReadInfo {
                    records: Bytes::new(),
                    high_watermark: hw,
                    log_start_offset: start,
                    last_stable_offset: lso,
                    aborted: Vec::new(),
                });
            };
            let seg = &st.segments[i];
            (
                (seg.file.clone(), seg.base_offset),
                pos,
                seg.size,
                hw,
                start,
                (lso, limit),
            )
        };
        let (lso, limit) = lso;
        let (file, base) = file_seg;
        let available = (end - pos) as usize;
        let mut want = max_bytes.min(available).max(HEADER_SIZE.min(available));
        let read = |buf: &mut BytesMut, len: usize| -> Result<()> {
            buf.clear();
            buf.resize(len, 0);
            std::os::unix::fs::FileExt::read_exact_at(&*file, &mut buf[..], pos)
                .map_err(|e| Error::io(self.dir.join(segment::file_name(base, "log")), e))
        };
        read(scratch, want)?;
        if let Some(h) = BatchHeader::parse(scratch) {
            if min_one_batch && h.size > want && h.size <= available {
                want = h.size;
                read(scratch, want)?;
            }
        }
        // Keep whole batches only, and under read_committed none from the last stable
        // offset on (it is always a batch boundary).
        let mut keep = 0usize;
        let mut next = offset;
        while let Some(h) = BatchHeader::parse(&scratch[keep..]) {
            if keep + h.size > scratch.len() || h.base_offset >= limit {
                break;
            }
            keep += h.size;
            next = h.next_offset();
        }
        scratch.truncate(keep);
        // The aborted transactions overlapping what is returned (not all up to the stable
        // offset: a consumer far behind would get the whole index with every fetch).
        let aborted = match isolation {
            Isolation::ReadCommitted if keep > 0 => {
                self.lock().producers.aborted_between(offset, next)
            }
            _ => Vec::new(),
        };
        Ok(ReadInfo {
            aborted,
            records: scratch.split().freeze(),
            high_watermark: hw,
            log_start_offset: start,
            last_stable_offset: lso,
        })
    }

    /// Finds the first record with a timestamp at or after `ts`: `(offset, timestamp)`.
    /// Exact for uncompressed batches; for a compressed batch, the batch's first offset
    /// (records are never decompressed by the broker).
    pub(crate) fn offset_for_timestamp(&self, ts: i64) -> Result<Option<(i64, i64)>> {
        let st = self.lock();
        for seg in &st.segments {
            if let Some((pos, h)) = seg.find_timestamp(ts)? {
                let start = st.log_start_offset;
                if h.compression() == 0 {
                    let data = seg.read_exact(pos, h.size)?;
                    if let Some((o, t)) = batch::find_timestamp(&data, ts) {
                        if o >= start {
                            return Ok(Some((o, t)));
                        }
                    }
                }
                // A cleaned batch may hold its delete horizon in place of its first
                // timestamp (KIP-534): then only its largest timestamp is known.
                let horizon = h.attributes & batch::DELETE_HORIZON_FLAG != 0;
                let t = if h.base_timestamp >= ts && !horizon {
                    h.base_timestamp
                } else {
                    h.max_timestamp
                };
                return Ok(Some((h.base_offset.max(start), t)));
            }
        }
        Ok(None)
    }

    /// The offset and value of the largest timestamp in the log (ListOffsets `-3`).
    pub(crate) fn max_timestamp(&self) -> Option<(i64, i64)> {
        let st = self.lock();
        st.segments
            .iter()
            .filter(|s| s.max_timestamp >= 0)
            .max_by_key(|s| s.max_timestamp)
            .map(|s| (s.offset_of_max_timestamp, s.max_timestamp))
    }

    /// Forces appended data to disk if anything was appended since the last flush.
    /// The `fsync` itself runs outside the log's lock, so appends and reads go on.
    pub(crate) fn flush(&self) -> Result<()> {
        let handle = {
            let mut st = self.lock();
            if !st.dirty {
                return Ok(());
            }
            st.dirty = false;
            st.active().sync_handle()
        };
        if let Err(e) = handle.sync() {
            self.lock().dirty = true;
            return Err(e);
        }
        Ok(())
    }

    /// Forgets producers idle for `expiration_ms` (`producer.id.expiration.ms`); returns
    /// how many.
    pub(crate) fn expire_producers(&self, now: i64, expiration_ms: i64) -> usize {
        self.lock().producers.expire_producers(now, expiration_ms)
    }

    /// Applies time and size retention at wall-clock time `now`: deletes whole segments
    /// and advances the log start offset. Returns the number of segments deleted.
    pub(crate) fn enforce_retention(&self, now: i64) -> Result<usize> {
        let mut st = self.lock();
        let config = st.config.clone();
        if !config.cleanup_policy().delete {
            return Ok(0);
        }
        let expired = |s: &Segment| match config.retention_ms() {
            Some(ms) => s.max_timestamp >= 0 && s.max_timestamp < now.saturating_sub(ms),
            None => false,
        };
        // The active segment can expire too: roll it so it can go.
        if st.segments.last().is_some_and(|s| s.size > 0 && expired(s)) {
            self.roll(&mut st, now)?;
        }
        let mut deleted = 0;
        let mut total: u64 = st.segments.iter().map(|s| s.size).sum();
        while st.segments.len() > 1 {
            let first = &st.segments[0];
            let by_size = config
                .retention_bytes()
                .is_some_and(|limit| total.saturating_sub(first.size) >= limit);
            if !(expired(first) || by_size) {
                break;
            }
            let seg = st.segments.remove(0);
            total -= seg.size;
            seg.delete()?;
            deleted += 1;
            tracing::info!(
                topic = %self.topic,
                partition = self.partition,
                base_offset = seg.base_offset,
                "deleted segment by retention"
            );
        }
        if deleted > 0 {
            let new_start = st.segments[0].base_offset.max(st.log_start_offset);
            self.advance_log_start(&mut st, new_start)?;
        }
        Ok(deleted)
    }

    /// Makes the records before `offset` unreadable, as Kafka's `DeleteRecords` does: the
    /// log start offset (low watermark) moves up to `offset` — never down — and segments
    /// wholly before it are deleted. `offset` may not pass the high watermark. Returns the
    /// new low watermark.
    pub(crate) fn delete_records_before(&self, offset: i64) -> Result<i64> {
        let mut st = self.lock();
        let hw = st.end_offset();
        if offset < 0 || offset > hw {
            return Err(Error::OffsetOutOfRange {
                topic: self.topic.clone(),
                partition: self.partition,
                offset,
                log_start: st.log_start_offset,
                log_end: hw,
            });
        }
        if offset <= st.log_start_offset {
            return Ok(st.log_start_offset);
        }
        // The active segment stays, even if empty of readable records, so appends continue.
        while st.segments.len() > 1 && st.segments[1].base_offset <= offset {
            let segment = st.segments.remove(0);
            segment.delete()?;
        }
        self.advance_log_start(&mut st, offset)?;
        tracing::info!(
            topic = %self.topic,
            partition = self.partition,
            log_start_offset = offset,
            "deleted records before offset"
        );
        Ok(offset)
    }

    /// Moves the log start offset to `new_start` and persists it, so a restart does not make
    /// deleted records readable again.
    fn advance_log_start(&self, st: &mut LogState, new_start: i64) -> Result<()> {
        st.log_start_offset = new_start;
        st.producers.truncate_before(new_start);
        let path = self.dir.join(LOG_START_FILE);
        let tmp = self.dir.join(format!("{LOG_START_FILE}.tmp"));
        std::fs::write(&tmp, new_start.to_string())
            .and_then(|_| std::fs::rename(&tmp, &path))
            .map_err(|e| Error::io(&path, e))
    }

    /// Puts `config` in force from the next append, read or retention pass on (an altered
    /// topic config, applied live as Kafka applies topic configs).
    pub(crate) fn set_config(&self, config: Arc<TopicConfig>) {
        self.lock().config = config;
    }

    /// The producers with state in this log (Kafka's `DescribeProducers`).
    pub(crate) fn producers(&self) -> Vec<producer_state::ProducerSummary> {
        self.lock().producers.summaries()
    }
}

#[cfg(test)]
mod tests {
    use super::batch::tests::make_batch;
    use super::*;

    fn open(dir: &Path, config: TopicConfig) -> PartitionLog {
        PartitionLog::open(dir, "t", 0, Arc::new(config), FlushPolicy::Never).unwrap()
    }

    #[test]
    fn append_read_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), TopicConfig::default());
        for i in 0..10 {
            let mut b = make_batch(&[i * 10, i * 10 + 1]);
            let info = log.append(&mut b).unwrap();
            assert_eq!(info.base_offset, i * 2);
        }
        assert_eq!(log.log_end_offset(), 20);
        let r = log.read(5, 1 << 20).unwrap();
        let h = BatchHeader::parse(&r.records).unwrap();
        assert_eq!(h.base_offset, 4, "the batch holding offset 5 starts at 4");
        assert_eq!(r.high_watermark, 20);
        assert!(log.read(21, 100).is_err());
        assert!(log.read(20, 100).unwrap().records.is_empty());
        drop(log);
        let log = open(dir.path(), TopicConfig::default());
        assert_eq!(log.log_end_offset(), 20);
        assert_eq!(log.offset_for_timestamp(41).unwrap(), Some((9, 41)));
        assert_eq!(log.offset_for_timestamp(1000).unwrap(), None);
    }

    #[test]
    fn max_bytes_returns_whole_batches_and_at_least_one() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), TopicConfig::default());
        let mut b = make_batch(&[1, 2, 3]);
        let size = b.len();
        log.append(&mut b).unwrap();
        let mut b = make_batch(&[4]);
        log.append(&mut b).unwrap();
        let r = log.read(0, 10).unwrap();
        assert_eq!(r.records.len(), size);
        let r = log.read(0, size + 5).unwrap();
        assert_eq!(r.records.len(), size);
    }

    /// Files this process holds open inside `dir`.
    fn open_files_in(dir: &Path) -> usize {
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .filter(|target| target.starts_with(dir))
            .count()
    }

    /// A sealed segment keeps only its log file open (reads need it); its indexes are
    /// in memory. Only the active segment holds its index files, before and after a
    /// restart.
    #[test]
    fn sealed_segments_hold_one_file_open() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = TopicConfig::default();
        config.set("segment.bytes", "200").unwrap();
        let log = open(dir.path(), config.clone());
        for i in 0..10 {
            let mut b = make_batch(&[i]);
            log.append(&mut b).unwrap();
        }
        let segments = log.segment_count();
        assert!(segments >= 5, "{segments}");
        assert_eq!(open_files_in(dir.path()), segments + 2);
        drop(log);
        let log = open(dir.path(), config);
        assert_eq!(log.segment_count(), segments);
        assert_eq!(open_files_in(dir.path()), segments + 2);
        assert_eq!(log.read(0, 1 << 20).unwrap().high_watermark, 10);
    }

    #[test]
    fn rolls_segments_and_recovers_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = TopicConfig::default();
        config.set("segment.bytes", "300").unwrap();
        let log = open(dir.path(), config.clone());
        for i in 0..20 {
            let mut b = make_batch(&[i, i]);
            log.append(&mut b).unwrap();
        }
        assert!(log.segment_count() > 3);
        let r = log.read(17, 1 << 20).unwrap();
        assert_eq!(BatchHeader::parse(&r.records).unwrap().base_offset, 16);
        drop(log);
        // Tear the last batch of the newest segment.
        let mut logs: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .collect();
        logs.sort();
        let last = logs.last().unwrap();
        let len = std::fs::metadata(last).unwrap().len();
        let f = std::fs::OpenOptions::new().write(true).open(last).unwrap();
        f.set_len(len - 3).unwrap();
        let log = open(dir.path(), config);
        assert_eq!(
            log.log_end_offset(),
            38,
            "the torn batch (offsets 38-39) is cut off"
        );
        let mut b = make_batch(&[99]);
        assert_eq!(log.append(&mut b).unwrap().base_offset, 38);
        assert_eq!(log.read(38, 1000).unwrap().records.len(), b.len());
    }

    #[test]
    fn retention_deletes_old_segments_and_advances_start() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = TopicConfig::default();
        config.set("segment.bytes", "200").unwrap();
        config.set("retention.ms", "1000").unwrap();
        let log = open(dir.path(), config.clone());
        let now = now_ms();
        for i in 0..10 {
            let ts = if i < 5 { now - 10_000 } else { now };
            let mut b = make_batch(&[ts]);
            log.append(&mut b).unwrap();
        }
        let deleted = log.enforce_retention(now).unwrap();
        assert!(deleted > 0);
        let start = log.log_start_offset();
        assert!(start > 0 && start <= 5, "start {start}");
        assert!(matches!(
            log.read(0, 100),
            Err(Error::OffsetOutOfRange { .. })
        ));
        drop(log);
        let log = open(dir.path(), config);
        assert_eq!(log.log_start_offset(), start);
    }

    #[test]
    fn size_retention() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = TopicConfig::default();
        config.set("segment.bytes", "200").unwrap();
        config.set("retention.bytes", "400").unwrap();
        let log = open(dir.path(), config);
        for i in 0..20 {
            let mut b = make_batch(&[i]);
            log.append(&mut b).unwrap();
        }
        log.enforce_retention(now_ms()).unwrap();
        assert!(log.size_bytes() <= 400 + 200);
        assert!(log.log_start_offset() > 0);
    }

    #[test]
    fn log_append_time_stamps_batches() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = TopicConfig::default();
        config
            .set("message.timestamp.type", "LogAppendTime")
            .unwrap();
        let log = open(dir.path(), config);
        let before = now_ms();
        let info = log.append(&mut make_batch(&[5, 6])).unwrap();
        assert!(info.log_append_time >= before);
        let r = log.read(0, 1 << 20).unwrap();
        let h = BatchHeader::parse(&r.records).unwrap();
        assert_eq!(h.max_timestamp, info.log_append_time);
        assert_eq!(h.attributes & 0x08, 0x08);
        assert!(batch::crc_ok(&r.records), "the CRC is recomputed");
    }

    #[test]
    fn rolls_by_age_and_flushes_every_batch() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = TopicConfig::default();
        config.set("segment.ms", "1").unwrap();
        let log = PartitionLog::open(
            dir.path(),
            "t",
            0,
            Arc::new(config),
            FlushPolicy::EveryBatch,
        )
        .unwrap();
        log.append(&mut make_batch(&[1])).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(5));
        log.append(&mut make_batch(&[2])).unwrap();
        assert_eq!(
            log.segment_count(),
            2,
            "the second append rolled an aged segment"
        );
        assert_eq!(
            log.read(1, 1000).unwrap().records.len(),
            make_batch(&[2]).len()
        );
        log.flush().unwrap();
    }

    #[test]
    fn duplicates_are_acknowledged_once_even_after_a_restart() {
        use super::batch::tests::make_producer_batch;
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), TopicConfig::default());
        log.append(&mut make_batch(&[1])).unwrap();
        let first = make_producer_batch(&[1, 2], 9, 0, 0, false);
        let info = log.append(&mut first.clone()).unwrap();
        assert_eq!((info.base_offset, info.duplicate), (1, false));
        let retry = log.append(&mut first.clone()).unwrap();
        assert_eq!((retry.base_offset, retry.duplicate), (1, true));
        assert_eq!(log.log_end_offset(), 3, "the retry was not appended");
        let gap = log.append(&mut make_producer_batch(&[3], 9, 0, 5, false));
        assert!(matches!(gap, Err(Error::Producer { .. })));
        drop(log);
        let log = open(dir.path(), TopicConfig::default());
        let retry = log.append(&mut first.clone()).unwrap();
        assert_eq!((retry.base_offset, retry.duplicate), (1, true));
        let next = log
            .append(&mut make_producer_batch(&[3], 9, 0, 2, false))
            .unwrap();
        assert_eq!((next.base_offset, next.duplicate), (3, false));
    }

    #[test]
    fn read_committed_stops_at_the_stable_offset_and_lists_aborts() {
        use super::batch::tests::make_producer_batch;
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), TopicConfig::default());
        let committed = |log: &PartitionLog, offset| {
            log.read_isolated_into(
                offset,
                1 << 20,
                &mut BytesMut::new(),
                Isolation::ReadCommitted,
            )
            .unwrap()
        };
        // Producer 1 aborts offsets 0-1 (marker at 2); producer 2 opens a transaction at 3.
        log.append(&mut make_producer_batch(&[1, 2], 1, 0, 0, true))
            .unwrap();
        log.append_marker(1, 0, ControlType::Abort, 0).unwrap();
        log.append(&mut make_producer_batch(&[3], 2, 0, 0, true))
            .unwrap();
        log.append(&mut make_batch(&[4])).unwrap();
        assert_eq!(log.log_end_offset(), 5);
        assert_eq!(log.last_stable_offset(), 3);
        let r = committed(&log, 0);
        assert_eq!(r.last_stable_offset, 3);
        let last = {
            let mut at = 0;
            let mut last = None;
            while let Some(h) = BatchHeader::parse(&r.records[at..]) {
                last = Some(h.last_offset());
                at += h.size;
            }
            last
        };
        assert_eq!(last, Some(2), "nothing at or past the stable offset");
        let aborted = AbortedTxn {
            producer_id: 1,
            first_offset: 0,
            last_offset: 2,
            last_stable_offset: 3,
        };
        assert_eq!(r.aborted, vec![aborted]);
        assert!(committed(&log, 3).records.is_empty());
        let uncommitted = log.read(3, 1 << 20).unwrap();
        assert!(!uncommitted.records.is_empty());
        assert!(uncommitted.aborted.is_empty());
        drop(log);
        // The open transaction and the abort are rebuilt from the log.
        let log = open(dir.path(), TopicConfig::default());
        assert_eq!(log.last_stable_offset(), 3);
        assert_eq!(committed(&log, 0).aborted, vec![aborted]);
        log.append_marker(2, 0, ControlType::Commit, 0).unwrap();
        assert_eq!(log.last_stable_offset(), 6);
        assert_eq!(
            committed(&log, 3).records.len(),
            log.read(3, 1 << 20).unwrap().records.len()
        );
    }

    #[test]
    fn producer_state_is_snapshotted_at_rolls_and_restored_from_snapshot_and_tail() {
        use super::batch::tests::make_producer_batch;
        let dir = tempfile::tempdir().unwrap();
        let mut config = TopicConfig::default();
        config.set("segment.bytes", "300").unwrap();
        let log = open(dir.path(), config.clone());
        // Producer 1 writes idempotently throughout; producer 2 aborts a transaction
        // early on and opens another late.
        log.append(&mut make_producer_batch(&[1], 2, 0, 0, true))
            .unwrap();
        log.append_marker(2, 0, ControlType::Abort, 0).unwrap();
        let mut last = Vec::new();
        for seq in 0..12 {
            last = make_producer_batch(&[seq.into()], 1, 0, seq, false);
            log.append(&mut last.clone()).unwrap();
        }
        let open_at = log.log_end_offset();
        log.append(&mut make_producer_batch(&[1], 2, 0, 1, true))
            .unwrap();
        assert!(log.segment_count() > 3);
        let snapshots = snapshot_offsets(dir.path());
        assert_eq!(snapshots.len(), 2, "the newest two are kept: {snapshots:?}");
        let check = |log: &PartitionLog, aborted: usize| {
            let retry = log.append(&mut last.clone()).unwrap();
            assert!(retry.duplicate, "the last batch is still known");
            assert_eq!(log.last_stable_offset(), open_at);
            let r = log
                .read_isolated_into(0, 1 << 20, &mut BytesMut::new(), Isolation::ReadCommitted)
                .unwrap();
            assert_eq!(r.aborted.len(), aborted);
        };
        check(&log, 1);
        drop(log);
        // Turn the early ABORT marker into a COMMIT behind the log's back: a restart that
        // uses the snapshot never reads it, a full replay would.
        let first_segment = dir.path().join(segment::file_name(0, "log"));
        let mut bytes = std::fs::read(&first_segment).unwrap();
        let at = BatchHeader::parse(&bytes).unwrap().size;
        assert_eq!(batch::control_type(&bytes[at..]), Some(ControlType::Abort));
        bytes[at + HEADER_SIZE + 8] = 1; // the low byte of the marker key's type
        assert_eq!(batch::control_type(&bytes[at..]), Some(ControlType::Commit));
        std::fs::write(&first_segment, &bytes).unwrap();
        check(&open(dir.path(), config.clone()), 1);
        // A torn newest snapshot: the older one and a longer tail do the same job.
        let newest = dir
            .path()
            .join(segment::file_name(snapshots[0], SNAPSHOT_EXT));
        std::fs::write(&newest, b"{\"offset\":").unwrap();
        check(&open(dir.path(), config.clone()), 1);
        // No snapshot at all: the whole log is replayed, the altered marker included.
        for o in snapshot_offsets(dir.path()) {
            std::fs::remove_file(dir.path().join(segment::file_name(o, SNAPSHOT_EXT))).unwrap();
        }
        check(&open(dir.path(), config), 0);
    }
}
