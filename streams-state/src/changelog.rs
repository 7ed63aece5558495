//! Changelogging: every write to a store is also sent to the store's changelog topic.
//!
//! A changelog (`<application.id>-<store>-changelog`, a compacted topic with one partition per
//! task) is the durable copy of a store, from which [`restore`](crate::restore) rebuilds it. The
//! wrappers here ([`ChangeloggingKeyValueStore`], [`ChangeloggingWindowStore`],
//! [`ChangeloggingSessionStore`]) play the role of Kafka Streams' `ChangeLogging*BytesStore`s: they
//! write to the inner store, then send the change through a [`ChangelogWriter`] — implemented by
//! `streams-core` with a producer (like Kafka's `RecordCollector`), and here by
//! [`RecordingChangelogWriter`] for tests. The record timestamp comes from a shared
//! [`RecordContext`] that the runtime sets before processing each record.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::keys;
use crate::store::{
    KeyValueIter, KeyValueStore, KeyWrite, SessionIter, SessionStore, StateStore, WindowIter,
    WindowStore, WindowedIter,
};
use crate::timestamped;
use crate::Result;

// The records stores are written with and restored from, at their old paths.
pub use crate::record::{ChangelogRecord, RecordContext};

/// The changelog topic of `store` in application `application_id`:
/// `<application.id>-<store>-changelog`, as Kafka Streams names it.
///
/// ```
/// assert_eq!(streams_state::changelog_topic_name("wordcount", "counts"), "wordcount-counts-changelog");
/// ```
pub fn changelog_topic_name(application_id: &str, store: &str) -> String {
    format!("{application_id}-{store}-changelog")
}

/// Where changelogging stores send their changes; the runtime implements it with a producer.
///
/// `send` should not block on delivery: the runtime flushes its producer as part of a commit,
/// after flushing the stores.
pub trait ChangelogWriter: Send + Sync {
    /// Sends one change to `topic`/`partition`; `None` is a tombstone. A store passes the same
    /// `topic` every time, so a writer may recognize it by pointer.
    fn send(
        &self,
        topic: &Arc<str>,
        partition: i32,
        key: &[u8],
        value: Option<&[u8]>,
        timestamp: i64,
    ) -> Result<()>;
}

/// A [`ChangelogWriter`] that keeps every record in memory, assigning offsets from 0 per
/// partition: what the test driver uses, and a changelog to restore from in tests.
#[derive(Debug, Default)]
pub struct RecordingChangelogWriter {
    records: Mutex<BTreeMap<(String, i32), Vec<ChangelogRecord>>>,
}

impl RecordingChangelogWriter {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// The records sent to `topic`/`partition` so far, in order, with their offsets.
    pub fn records(&self, topic: &str, partition: i32) -> Vec<ChangelogRecord> {
        self.lock()
            .get(&(topic.to_string(), partition))
            .cloned()
            .unwrap_or_default()
    }

    /// The `(topic, partition)`s written to so far.
    pub fn partitions(&self) -> Vec<(String, i32)> {
        self.lock().keys().cloned().collect()
    }

    /// The offset the next record to `topic`/`partition` will get (the end offset).
    pub fn end_offset(&self, topic: &str, partition: i32) -> i64 {
        self.lock()
            .get(&(topic.to_string(), partition))
            .map_or(0, |r| r.len() as i64)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, i32), Vec<ChangelogRecord>>> {
        // A panic while holding the lock cannot leave the map half-updated: recover it.
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ChangelogWriter for RecordingChangelogWriter {
    fn send(
        &self,
        topic: &Arc<str>,
        partition: i32,
        key: &[u8],
        value: Option<&[u8]>,
        timestamp: i64,
    ) -> Result<()> {
        let mut map = self.lock();
        let log = map.entry((topic.to_string(), partition)).or_default();
        let offset = log.len() as i64;
        log.push(ChangelogRecord {
            key: key.to_vec(),
            value: value.map(<[u8]>::to_vec),
            timestamp,
            offset,
        });
        Ok(())
    }
}

/// Where one store's changes go: writer, topic, partition and record context.
#[derive(Clone)]
pub struct ChangelogSink {
    writer: Arc<dyn ChangelogWriter>,
    topic: Arc<str>,
    partition: i32,
    context: RecordContext,
}

impl std::fmt::Debug for ChangelogSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangelogSink")
            .field("topic", &self.topic)
            .field("partition", &self.partition)
            .finish_non_exhaustive()
    }
}

impl ChangelogSink {
    /// Changes go to `topic`/`partition` through `writer`, stamped with `context`'s timestamp.
    pub fn new(
        writer: Arc<dyn ChangelogWriter>,
        topic: impl Into<Arc<str>>,
        partition: i32,
        context: RecordContext,
    ) -> Self {
        ChangelogSink {
            writer,
            topic: topic.into(),
            partition,
            context,
        }
    }

    /// The changelog topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The changelog partition.
    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// Sends one change stamped with `timestamp` (a versioned store's version timestamp).
    pub(crate) fn send_at(&self, key: &[u8], value: Option<&[u8]>, timestamp: i64) -> Result<()> {
        self.writer
            .send(&self.topic, self.partition, key, value, timestamp)
    }

    fn send_now(&self, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        self.send_at(key, value, self.context.timestamp())
    }
}

/// How a key-value store's values are laid out, which decides what its changelog carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueFormat {
    /// Values are logged as they are, with the record context's timestamp.
    Plain,
    /// Values are [`ValueAndTimestamp`](crate::ValueAndTimestamp)-encoded; the changelog carries
    /// the plain value with the stored timestamp as record timestamp.
    Timestamped,
}

/// A [`KeyValueStore`] wrapper that sends every write to a changelog.
pub struct ChangeloggingKeyValueStore {
    inner: Box<dyn KeyValueStore>,
    sink: ChangelogSink,
    format: ValueFormat,
}

impl ChangeloggingKeyValueStore {
    /// Wraps `inner`, logging to `sink`; `format` says how `inner`'s values are encoded.
    pub fn new(inner: Box<dyn KeyValueStore>, sink: ChangelogSink, format: ValueFormat) -> Self {
        ChangeloggingKeyValueStore {
            inner,
            sink,
            format,
        }
    }

    fn log(&self, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        match (self.format, value) {
            (ValueFormat::Timestamped, Some(v)) => {
                let (ts, plain) =
                    timestamped::split(v).ok_or_else(|| crate::Error::InvalidArgument {
                        store: self.inner.name().to_string(),
                        message: "timestamped value shorter than 8 bytes".to_string(),
                    })?;
                self.sink.send_at(key, Some(plain), ts)
            }
            _ => self.sink.send_now(key, value),
        }
    }
}

impl StateStore for ChangeloggingKeyValueStore {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn persistent(&self) -> bool {
        self.inner.persistent()
    }
    fn is_open(&self) -> bool {
        self.inner.is_open()
    }
    fn flush(&mut self) -> Result<()> {
        self.inner.flush()
    }
    fn close(&mut self) -> Result<()> {
        self.inner.close()
    }
    fn restore_batch(&mut self, records: &[ChangelogRecord]) -> Result<()> {
        self.inner.restore_batch(records)
    }
}

impl KeyValueStore for ChangeloggingKeyValueStore {
    fn get_with(&self, key: &[u8], read: &mut dyn FnMut(Option<&[u8]>)) -> Result<()> {
        self.inner.get_with(key, read)
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.inner.put(key, value)?;
        self.log(key, Some(value))
    }

    fn put_if_absent(&mut self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>> {
        let existing = self.inner.put_if_absent(key, value)?;
        if existing.is_none() {
            self.log(key, Some(value))?;
        }
        Ok(existing)
    }

    fn put_all(&mut self, entries: &[KeyWrite<'_>]) -> Result<()> {
        self.inner.put_all(entries)?;
        for &(k, v) in entries {
            self.log(k, v)?;
        }
        Ok(())
    }

    fn delete(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let old = self.inner.delete(key)?;
        self.log(key, None)?;
        Ok(old)
    }

    fn range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> Result<KeyValueIter<'_>> {
        self.inner.range(from, to)
    }

    fn prefix_scan(&self, prefix: &[u8]) -> Result<KeyValueIter<'_>> {
        self.inner.prefix_scan(prefix)
    }

    fn all(&self) -> Result<KeyValueIter<'_>> {
        self.inner.all()
    }

    fn approximate_num_entries(&self) -> Result<u64> {
        self.inner.approximate_num_entries()
    }
}

/// A [`WindowStore`] wrapper that sends every write to a changelog, keyed in Kafka's window
/// changelog format.
pub struct ChangeloggingWindowStore {
    inner: Box<dyn WindowStore>,
    sink: ChangelogSink,
    seqnum: u32,
}

impl ChangeloggingWindowStore {
    /// Wraps `inner`, logging to `sink`.
    pub fn new(inner: Box<dyn WindowStore>, sink: ChangelogSink) -> Self {
        ChangeloggingWindowStore {
            inner,
            sink,
            seqnum: 0,
        }
    }
}

impl StateStore for ChangeloggingWindowStore {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn persistent(&self) -> bool {
        self.inner.persistent()
    }
    fn is_open(&self) -> bool {
        self.inner.is_open()
    }
    fn flush(&mut self) -> Result<()> {
        self.inner.flush()
    }
    fn close(&mut self) -> Result<()> {
        self.inner.close()
    }
    fn restore_batch(&mut self, records: &[ChangelogRecord]) -> Result<()> {
        for r in records {
            if let Some((_, _, seq)) = keys::parse_window_changelog_key(&r.key) {
                self.seqnum = self.seqnum.max(seq);
            }
        }
        self.inner.restore_batch(records)
    }
}

impl WindowStore for ChangeloggingWindowStore {
    fn put(&mut self, key: &[u8], value: Option<&[u8]>, window_start: i64) -> Result<()> {
        self.inner.put(key, value, window_start)?;
        let seq = if self.inner.retain_duplicates() {
            if value.is_none() {
                return Ok(());
            }
            self.seqnum = self.seqnum.wrapping_add(1);
            self.seqnum
        } else {
            0
        };
        self.sink
            .send_now(&keys::window_changelog_key(key, window_start, seq), value)
    }

    fn fetch(&self, key: &[u8], window_start: i64) -> Result<Option<Vec<u8>>> {
        self.inner.fetch(key, window_start)
    }

    fn fetch_range(&self, key: &[u8], time_from: i64, time_to: i64) -> Result<WindowIter<'_>> {
        self.inner.fetch_range(key, time_from, time_to)
    }

    fn fetch_key_range(
        &self,
        key_from: Option<&[u8]>,
        key_to: Option<&[u8]>,
        time_from: i64,
        time_to: i64,
    ) -> Result<WindowedIter<'_>> {
        self.inner
            .fetch_key_range(key_from, key_to, time_from, time_to)
    }

    fn retention_period(&self) -> i64 {
        self.inner.retention_period()
    }

    fn retain_duplicates(&self) -> bool {
        self.inner.retain_duplicates()
    }
}

/// A [`SessionStore`] wrapper that sends every write to a changelog, keyed in Kafka's session
/// changelog format.
pub struct ChangeloggingSessionStore {
    inner: Box<dyn SessionStore>,
    sink: ChangelogSink,
}

impl ChangeloggingSessionStore {
    /// Wraps `inner`, logging to `sink`.
    pub fn new(inner: Box<dyn SessionStore>, sink: ChangelogSink) -> Self {
        ChangeloggingSessionStore { inner, sink }
    }
}

impl StateStore for ChangeloggingSessionStore {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn persistent(&self) -> bool {
        self.inner.persistent()
    }
    fn is_open(&self) -> bool {
        self.inner.is_open()
    }
    fn flush(&mut self) -> Result<()> {
        self.inner.flush()
    }
    fn close(&mut self) -> Result<()> {
        self.inner.close()
    }
    fn restore_batch(&mut self, records: &[ChangelogRecord]) -> Result<()> {
        self.inner.restore_batch(records)
    }
}

impl SessionStore for ChangeloggingSessionStore {
    fn put(&mut self, key: &[u8], start: i64, end: i64, value: &[u8]) -> Result<()> {
        self.inner.put(key, start, end, value)?;
        self.sink
            .send_now(&keys::session_changelog_key(key, start, end), Some(value))
    }

    fn remove(&mut self, key: &[u8], start: i64, end: i64) -> Result<()> {
        self.inner.remove(key, start, end)?;
        self.sink
            .send_now(&keys::session_changelog_key(key, start, end), None)
    }

    fn fetch_session(&self, key: &[u8], start: i64, end: i64) -> Result<Option<Vec<u8>>> {
        self.inner.fetch_session(key, start, end)
    }

    fn find_sessions(
        &self,
        key: &[u8],
        earliest_session_end: i64,
        latest_session_start: i64,
    ) -> Result<SessionIter<'_>> {
        self.inner
            .find_sessions(key, earliest_session_end, latest_session_start)
    }

    fn find_sessions_in_key_range(
        &self,
        key_from: Option<&[u8]>,
        key_to: Option<&[u8]>,
        earliest_session_end: i64,
        latest_session_start: i64,
    ) -> Result<SessionIter<'_>> {
        self.inner.find_sessions_in_key_range(
            key_from,
            key_to,
            earliest_session_end,
            latest_session_start,
        )
    }

    fn retention_period(&self) -> i64 {
        self.inner.retention_period()
    }
}
