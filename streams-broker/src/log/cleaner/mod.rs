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
//! A crash at any point is recovered from on start-up (Kafka's `.cleaned` → `.swap`
//! protocol, see `swap`).
//!
//! The pass is here; its parts are in sub-modules: `checkpoint` (the first dirty offset,
//! Kafka's `LogCleanerManager` checkpoints), `offset_map` (key → latest offset),
//! `txn_scan` (transactions and producers), `filter` (the decision for each batch),
//! `reader` (segments read outside the log's lock) and `swap` (the crash-safe replacement
//! and its recovery). The records section codec is `log::records`.

mod checkpoint;
mod filter;
mod offset_map;
mod reader;
mod swap;
mod txn_scan;

#[cfg(test)]
pub(crate) mod tests;

use std::collections::HashSet;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;

pub(crate) use checkpoint::CleanerState;
use filter::{Filter, Verdict};
use reader::{BatchReader, SegmentView};
pub(crate) use swap::recover;
use swap::{cleaned_dir, CleanedGroup, SwapStep};
use txn_scan::TxnScan;

use super::batch::{BatchHeader, HEADER_SIZE};
use super::records::rewrite;
use super::segment::{self, Segment};
use super::PartitionLog;
use crate::config::TopicConfig;
use crate::error::{Error, Result};
use crate::fs::remove_dir_if_exists;

/// How much cleaned data is buffered before it is written out.
const WRITE_CHUNK: usize = 1024 * 1024;

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

/// The log's segments and settings at the start of a pass, taken under its lock.
#[derive(Debug)]
struct Snapshot {
    sealed: Vec<SegmentView>,
    active: Option<SegmentView>,
    log_start: i64,
    config: Arc<TopicConfig>,
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
        let h = BatchHeader::parse(batch)
            .ok_or_else(|| Error::corrupt_batch(0, "unparsable rewritten batch"))?;
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

impl PartitionLog {
    /// Compacts the log now, whatever its dirty ratio: one full pass of the cleaner at
    /// wall-clock time `now`, which decides whether tombstones have expired and which
    /// records `min.compaction.lag.ms` still protects. Does nothing unless the topic's
    /// `cleanup.policy` includes `compact`. Appends and reads go on meanwhile.
    #[cfg(test)]
    pub fn clean(&self, now: i64) -> Result<CleanStats> {
        self.clean_pass(
            now,
            crate::config::DEFAULT_DEDUPE_BUFFER_SIZE,
            &AtomicBool::new(false),
        )
    }

    /// The first offset of the dirty section: records from here on were appended since
    /// the last pass of the cleaner. Does not wait for a pass in progress.
    pub(crate) fn first_dirty_offset(&self) -> i64 {
        let first_dirty = self.cleaner.first_dirty();
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
    pub(crate) fn needs_cleaning(&self, now: i64) -> bool {
        let Some(progress) = self.cleaner.try_lock() else {
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
            offset_map::build_offset_map(&dirty, first_dirty, &txns, dedupe_buffer_size, cancel)?;
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
                    let dir = cleaned_dir(&self.dir, group[0].base);
                    remove_dir_if_exists(&dir)?;
                    return Err(e);
                }
            }
        }
        if end > progress.first_dirty {
            self.cleaner.advance(&mut progress, &self.dir, end)?;
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
        let dir = cleaned_dir(&self.dir, base);
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
                writer.push(&rewrite(
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
        let cleaned = CleanedGroup { dir, base, end };
        cleaned.write_range()?;
        Ok(Some(cleaned))
    }
}
