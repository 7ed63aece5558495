//! Time-segmented storage behind window and session stores.
//!
//! A window or session store splits its entries by time into segments of
//! `max(retention / 2, 60 s)` each (Kafka Streams' default segment interval) and drops a whole
//! segment once everything in it is older than the retention period, without scanning entries.
//! Like Kafka Streams' `AbstractRocksDBSegmentedBytesStore` with its `KeySchema`s, the window and
//! session logic here ([`SegmentedWindowStore`], [`SegmentedSessionStore`]) is written once over
//! a [`SegmentedBytesStore`] backend: an in-memory map of maps, or one RocksDB database whose
//! keys start with their segment id.
//!
//! Stream time is the largest timestamp written (window start, or session end). A write older than
//! stream time minus retention is dropped with a log line, as Kafka Streams does, and fetches never
//! return expired entries even when their segment is still alive.

use crate::keys;
use crate::record::ChangelogRecord;
use crate::store::{
    KeyValueIter, SessionIter, SessionKey, SessionStore, StateStore, WindowIter, WindowStore,
    WindowedIter, WindowedKey,
};
use crate::{Error, Result};

/// Kafka Streams' smallest segment interval: one minute.
pub const MIN_SEGMENT_INTERVAL_MS: i64 = 60_000;

/// The segment interval Kafka Streams uses for a retention period: `max(retention / 2, 60 s)`.
pub fn segment_interval(retention_ms: i64) -> i64 {
    (retention_ms / 2).max(MIN_SEGMENT_INTERVAL_MS)
}

/// One write to a segmented store; a `None` value deletes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentWrite {
    /// Segment id (`timestamp / segment interval`).
    pub segment: i64,
    /// Store key (already laid out by the key schema).
    pub key: Vec<u8>,
    /// Value, or `None` to delete.
    pub value: Option<Vec<u8>>,
}

/// The storage under a segmented store: ordered byte maps, one per segment id.
///
/// Implemented by [`MemorySegments`](crate::memory::MemorySegments) and
/// [`RocksDbSegments`](crate::rocks::RocksDbSegments).
pub trait SegmentedBytesStore: Send {
    /// The store's name.
    fn name(&self) -> &str;
    /// Whether the contents survive a restart.
    fn persistent(&self) -> bool;
    /// Whether the store is open.
    fn is_open(&self) -> bool;
    /// The value of `key` in `segment`.
    fn get(&self, segment: i64, key: &[u8]) -> Result<Option<Vec<u8>>>;
    /// Applies writes, creating segments as needed; `restoring` writes skip the write-ahead log.
    fn write(&mut self, writes: Vec<SegmentWrite>, restoring: bool) -> Result<()>;
    /// Entries with `lower <= key < upper` (`upper` open when `None`) in the existing segments
    /// with ids in `[segment_from, segment_to]`, in segment order, then key order.
    fn scan(
        &self,
        segment_from: i64,
        segment_to: i64,
        lower: Vec<u8>,
        upper: Option<Vec<u8>>,
    ) -> Result<KeyValueIter<'_>>;
    /// The ids of the existing segments, ascending.
    fn segment_ids(&self) -> Vec<i64>;
    /// Drops every segment with an id below `segment`, returning the dropped ids.
    fn drop_segments_before(&mut self, segment: i64) -> Result<Vec<i64>>;
    /// Makes the contents durable.
    fn flush(&mut self) -> Result<()>;
    /// Releases resources.
    fn close(&mut self) -> Result<()>;
}

/// Segment bookkeeping: retention, interval, and the observed stream time.
#[derive(Debug, Clone)]
pub(crate) struct Segments {
    retention: i64,
    interval: i64,
    observed: i64,
}

impl Segments {
    pub(crate) fn new(retention: i64) -> Self {
        Segments {
            retention,
            interval: segment_interval(retention),
            observed: i64::MIN,
        }
    }

    pub(crate) fn segment_id(&self, ts: i64) -> i64 {
        ts.div_euclid(self.interval)
    }

    pub(crate) fn observe(&mut self, ts: i64) {
        self.observed = self.observed.max(ts);
    }

    /// The oldest timestamp still within retention.
    pub(crate) fn min_live_time(&self) -> i64 {
        if self.observed == i64::MIN {
            i64::MIN
        } else {
            self.observed
                .saturating_sub(self.retention)
                .saturating_add(1)
        }
    }

    fn cleanup<B: SegmentedBytesStore>(&self, backend: &mut B) -> Result<()> {
        let min_live = self.min_live_time();
        if min_live == i64::MIN {
            return Ok(());
        }
        let dropped = backend.drop_segments_before(self.segment_id(min_live))?;
        if !dropped.is_empty() {
            tracing::debug!(store = backend.name(), segments = ?dropped, "dropped expired segments");
        }
        Ok(())
    }
}

fn corrupt(store: &str, offset: i64, reason: &str) -> Error {
    Error::InvalidChangelogRecord {
        store: store.to_string(),
        offset,
        reason: reason.to_string(),
    }
}

fn corrupt_entry(store: &str) -> Error {
    Error::InvalidArgument {
        store: store.to_string(),
        message: "undecodable entry key in segmented store".to_string(),
    }
}

/// A [`WindowStore`] over any [`SegmentedBytesStore`]; see the module docs.
pub struct SegmentedWindowStore<B> {
    backend: B,
    segments: Segments,
    retain_duplicates: bool,
    seqnum: u32,
}

impl<B: SegmentedBytesStore> SegmentedWindowStore<B> {
    pub(crate) fn with_backend(backend: B, retention_ms: i64, retain_duplicates: bool) -> Self {
        SegmentedWindowStore {
            backend,
            segments: Segments::new(retention_ms),
            retain_duplicates,
            seqnum: 0,
        }
    }

    /// The ids of the store's live segments, ascending (for tests and diagnostics).
    pub fn segment_ids(&self) -> Vec<i64> {
        self.backend.segment_ids()
    }

    /// The segment interval in milliseconds.
    pub fn segment_interval(&self) -> i64 {
        self.segments.interval
    }

    fn check_open(&self) -> Result<()> {
        if self.backend.is_open() {
            Ok(())
        } else {
            Err(Error::closed(self.backend.name()))
        }
    }
}

impl<B: SegmentedBytesStore> StateStore for SegmentedWindowStore<B> {
    fn name(&self) -> &str {
        self.backend.name()
    }
    fn persistent(&self) -> bool {
        self.backend.persistent()
    }
    fn is_open(&self) -> bool {
        self.backend.is_open()
    }
    fn flush(&mut self) -> Result<()> {
        self.backend.flush()
    }
    fn close(&mut self) -> Result<()> {
        self.backend.close()
    }

    fn restore_batch(&mut self, records: &[ChangelogRecord]) -> Result<()> {
        self.check_open()?;
        let mut parsed = Vec::with_capacity(records.len());
        for record in records {
            let (key, start, seq) =
                keys::parse_window_changelog_key(&record.key).ok_or_else(|| {
                    corrupt(
                        self.name(),
                        record.offset,
                        "window changelog key shorter than 12 bytes",
                    )
                })?;
            self.segments.observe(start);
            self.seqnum = self.seqnum.max(seq);
            parsed.push((key, start, seq, record.value.clone()));
        }
        let min_live = self.segments.min_live_time();
        let writes = parsed
            .into_iter()
            .filter(|(_, start, _, _)| *start >= min_live)
            .map(|(key, start, seq, value)| SegmentWrite {
                segment: self.segments.segment_id(start),
                key: keys::window_store_key(&key, start, seq),
                value,
            })
            .collect();
        self.backend.write(writes, true)?;
        self.segments.cleanup(&mut self.backend)
    }
}

impl<B: SegmentedBytesStore> WindowStore for SegmentedWindowStore<B> {
    fn put(&mut self, key: &[u8], value: Option<&[u8]>, window_start: i64) -> Result<()> {
        self.check_open()?;
        if self.retain_duplicates && value.is_none() {
            return Ok(());
        }
        self.segments.observe(window_start);
        if window_start < self.segments.min_live_time() {
            tracing::debug!(
                store = self.name(),
                window_start,
                "skipping write to an expired window"
            );
            return Ok(());
        }
        let seq = if self.retain_duplicates {
            self.seqnum = self.seqnum.wrapping_add(1);
            self.seqnum
        } else {
            0
        };
        let write = SegmentWrite {
            segment: self.segments.segment_id(window_start),
            key: keys::window_store_key(key, window_start, seq),
            value: value.map(<[u8]>::to_vec),
        };
        self.backend.write(vec![write], false)?;
        self.segments.cleanup(&mut self.backend)
    }

    fn fetch(&self, key: &[u8], window_start: i64) -> Result<Option<Vec<u8>>> {
        self.check_open()?;
        if window_start < self.segments.min_live_time() {
            return Ok(None);
        }
        self.backend.get(
            self.segments.segment_id(window_start),
            &keys::window_store_key(key, window_start, 0),
        )
    }

    fn fetch_range(&self, key: &[u8], time_from: i64, time_to: i64) -> Result<WindowIter<'_>> {
        self.check_open()?;
        let from = time_from.max(self.segments.min_live_time());
        if from > time_to {
            return Ok(Box::new(std::iter::empty()));
        }
        let lower = keys::window_store_key(key, from, 0);
        let mut upper = keys::window_store_key(key, time_to, u32::MAX);
        upper.push(0);
        let name = self.name().to_string();
        let iter = self.backend.scan(
            self.segments.segment_id(from),
            self.segments.segment_id(time_to),
            lower,
            Some(upper),
        )?;
        Ok(Box::new(iter.map(move |entry| {
            let (k, v) = entry?;
            let (_, start, _) =
                keys::parse_window_store_key(&k).ok_or_else(|| corrupt_entry(&name))?;
            Ok((start, v))
        })))
    }

    fn fetch_key_range(
        &self,
        key_from: Option<&[u8]>,
        key_to: Option<&[u8]>,
        time_from: i64,
        time_to: i64,
    ) -> Result<WindowedIter<'_>> {
        self.check_open()?;
        let from = time_from.max(self.segments.min_live_time());
        if from > time_to || matches!((key_from, key_to), (Some(a), Some(b)) if a > b) {
            return Ok(Box::new(std::iter::empty()));
        }
        let lower = key_from.map(keys::key_lower_bound).unwrap_or_default();
        let upper = key_to.and_then(|k| keys::prefix_successor(&keys::key_lower_bound(k)));
        let name = self.name().to_string();
        let iter = self.backend.scan(
            self.segments.segment_id(from),
            self.segments.segment_id(time_to),
            lower,
            upper,
        )?;
        Ok(Box::new(iter.filter_map(move |entry| {
            let (k, v) = match entry {
                Ok(kv) => kv,
                Err(e) => return Some(Err(e)),
            };
            match keys::parse_window_store_key(&k) {
                None => Some(Err(corrupt_entry(&name))),
                Some((key, start, _)) if start >= from && start <= time_to => Some(Ok((
                    WindowedKey {
                        key,
                        window_start: start,
                    },
                    v,
                ))),
                Some(_) => None,
            }
        })))
    }

    fn retention_period(&self) -> i64 {
        self.segments.retention
    }

    fn retain_duplicates(&self) -> bool {
        self.retain_duplicates
    }
}

/// A [`SessionStore`] over any [`SegmentedBytesStore`]; see the module docs.
pub struct SegmentedSessionStore<B> {
    backend: B,
    segments: Segments,
}

impl<B: SegmentedBytesStore> SegmentedSessionStore<B> {
    pub(crate) fn with_backend(backend: B, retention_ms: i64) -> Self {
        SegmentedSessionStore {
            backend,
            segments: Segments::new(retention_ms),
        }
    }

    /// The ids of the store's live segments, ascending (for tests and diagnostics).
    pub fn segment_ids(&self) -> Vec<i64> {
        self.backend.segment_ids()
    }

    fn check_open(&self) -> Result<()> {
        if self.backend.is_open() {
            Ok(())
        } else {
            Err(Error::closed(self.backend.name()))
        }
    }

    fn scan_sessions(
        &self,
        lower: Vec<u8>,
        upper: Option<Vec<u8>>,
        earliest_end: i64,
        latest_start: i64,
    ) -> Result<SessionIter<'_>> {
        let earliest_end = earliest_end.max(self.segments.min_live_time());
        let name = self.name().to_string();
        let iter = self.backend.scan(
            self.segments.segment_id(earliest_end),
            i64::MAX,
            lower,
            upper,
        )?;
        Ok(Box::new(iter.filter_map(move |entry| {
            let (k, v) = match entry {
                Ok(kv) => kv,
                Err(e) => return Some(Err(e)),
            };
            match keys::parse_session_store_key(&k) {
                None => Some(Err(corrupt_entry(&name))),
                Some((key, start, end)) if end >= earliest_end && start <= latest_start => {
                    Some(Ok((SessionKey { key, start, end }, v)))
                }
                Some(_) => None,
            }
        })))
    }
}

impl<B: SegmentedBytesStore> StateStore for SegmentedSessionStore<B> {
    fn name(&self) -> &str {
        self.backend.name()
    }
    fn persistent(&self) -> bool {
        self.backend.persistent()
    }
    fn is_open(&self) -> bool {
        self.backend.is_open()
    }
    fn flush(&mut self) -> Result<()> {
        self.backend.flush()
    }
    fn close(&mut self) -> Result<()> {
        self.backend.close()
    }

    fn restore_batch(&mut self, records: &[ChangelogRecord]) -> Result<()> {
        self.check_open()?;
        let mut parsed = Vec::with_capacity(records.len());
        for record in records {
            let (key, start, end) =
                keys::parse_session_changelog_key(&record.key).ok_or_else(|| {
                    corrupt(
                        self.name(),
                        record.offset,
                        "session changelog key shorter than 16 bytes",
                    )
                })?;
            if record.value.is_some() {
                self.segments.observe(end);
            }
            parsed.push((key, start, end, record.value.clone()));
        }
        let min_live = self.segments.min_live_time();
        let writes = parsed
            .into_iter()
            .filter(|(_, _, end, _)| *end >= min_live)
            .map(|(key, start, end, value)| SegmentWrite {
                segment: self.segments.segment_id(end),
                key: keys::session_store_key(&key, start, end),
                value,
            })
            .collect();
        self.backend.write(writes, true)?;
        self.segments.cleanup(&mut self.backend)
    }
}

impl<B: SegmentedBytesStore> SessionStore for SegmentedSessionStore<B> {
    fn put(&mut self, key: &[u8], start: i64, end: i64, value: &[u8]) -> Result<()> {
        self.check_open()?;
        if start > end {
            return Err(Error::InvalidArgument {
                store: self.name().to_string(),
                message: format!("session start {start} is after its end {end}"),
            });
        }
        self.segments.observe(end);
        if end < self.segments.min_live_time() {
            tracing::debug!(
                store = self.name(),
                end,
                "skipping write to an expired session"
            );
            return Ok(());
        }
        let write = SegmentWrite {
            segment: self.segments.segment_id(end),
            key: keys::session_store_key(key, start, end),
            value: Some(value.to_vec()),
        };
        self.backend.write(vec![write], false)?;
        self.segments.cleanup(&mut self.backend)
    }

    fn remove(&mut self, key: &[u8], start: i64, end: i64) -> Result<()> {
        self.check_open()?;
        if end < self.segments.min_live_time() {
            return Ok(());
        }
        let write = SegmentWrite {
            segment: self.segments.segment_id(end),
            key: keys::session_store_key(key, start, end),
            value: None,
        };
        self.backend.write(vec![write], false)
    }

    fn fetch_session(&self, key: &[u8], start: i64, end: i64) -> Result<Option<Vec<u8>>> {
        self.check_open()?;
        if end < self.segments.min_live_time() {
            return Ok(None);
        }
        self.backend.get(
            self.segments.segment_id(end),
            &keys::session_store_key(key, start, end),
        )
    }

    fn find_sessions(
        &self,
        key: &[u8],
        earliest_session_end: i64,
        latest_session_start: i64,
    ) -> Result<SessionIter<'_>> {
        self.check_open()?;
        let prefix = keys::key_lower_bound(key);
        let mut lower = prefix.clone();
        lower.extend_from_slice(&keys::encode_time(earliest_session_end));
        let upper = keys::prefix_successor(&prefix);
        self.scan_sessions(lower, upper, earliest_session_end, latest_session_start)
    }

    fn find_sessions_in_key_range(
        &self,
        key_from: Option<&[u8]>,
        key_to: Option<&[u8]>,
        earliest_session_end: i64,
        latest_session_start: i64,
    ) -> Result<SessionIter<'_>> {
        self.check_open()?;
        if matches!((key_from, key_to), (Some(a), Some(b)) if a > b) {
            return Ok(Box::new(std::iter::empty()));
        }
        let lower = key_from.map(keys::key_lower_bound).unwrap_or_default();
        let upper = key_to.and_then(|k| keys::prefix_successor(&keys::key_lower_bound(k)));
        self.scan_sessions(lower, upper, earliest_session_end, latest_session_start)
    }

    fn retention_period(&self) -> i64 {
        self.segments.retention
    }
}
