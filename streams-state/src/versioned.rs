//! Versioned key-value stores: every key keeps its history of values by timestamp, so that a
//! reader can ask what a key held *as of* a point in time — Kafka Streams' KIP-889
//! `VersionedKeyValueStore`, with its RocksDB implementation `RocksDBVersionedStore`.
//!
//! A store keeps, per key, record versions `(value or tombstone, timestamp)`; a version is valid
//! from its timestamp until the next version's (`valid_to`). Versions whose `valid_to` lies more
//! than the *history retention* behind the store's observed stream time (the largest timestamp
//! written) expire, except the latest value of a key, which never does. The history retention
//! doubles as a grace period: a write older than stream time minus history retention is refused
//! ([`PUT_RETURN_CODE_NOT_PUT`]).
//!
//! The layout, over any [`SegmentedBytesStore`] (in memory, or one RocksDB database whose keys
//! start with their segment id), follows Kafka's: the latest value of each key lives in a
//! reserved segment ([`LATEST_SEGMENT`]), older versions in time segments of
//! `segment_interval` by their `valid_to`, so that expired history goes a whole segment at a time
//! without a scan. Unlike Kafka, which packs all versions of a key in a segment into one value,
//! each version is its own entry keyed by the key (prefix-free encoded) and its timestamp; a
//! tombstone that ended the key's history lives in the segment of its own timestamp.
//!
//! The changelog of a versioned store carries one record per write, the plain value (or a
//! tombstone) with the version's timestamp as the record timestamp, as Kafka's
//! `ChangeLoggingVersionedKeyValueBytesStore` writes it: restoring replays those writes in order
//! ([`ChangeloggingVersionedStore`]). Versioned stores have no record cache (Kafka refuses one).

use crate::changelog::ChangelogSink;
use crate::keys;
use crate::memory::MemorySegments;
use crate::record::ChangelogRecord;
use crate::rocks::{RocksDbResources, RocksDbSegments};
use crate::segmented::{SegmentWrite, SegmentedBytesStore};
use crate::store::StateStore;
use crate::{Error, Result};

/// What [`VersionedKeyValueStore::put`] returns when the version put is the key's latest: its
/// `valid_to` is undefined (Kafka's `PUT_RETURN_CODE_VALID_TO_UNDEFINED`).
pub const PUT_RETURN_CODE_VALID_TO_UNDEFINED: i64 = -1;

/// What [`VersionedKeyValueStore::put`] returns when the write is older than the history
/// retention allows and was not put (Kafka's `PUT_RETURN_CODE_NOT_PUT`).
pub const PUT_RETURN_CODE_NOT_PUT: i64 = i64::MIN;

/// The segment id holding the latest value of every key, above every time segment.
pub const LATEST_SEGMENT: i64 = i64::MAX;

/// The segment interval Kafka picks for a history retention when none is given
/// (`RocksDbVersionedKeyValueBytesStoreSupplier`): a few segments per retention, at least two
/// seconds.
///
/// ```
/// use streams_state::versioned::default_segment_interval;
/// assert_eq!(default_segment_interval(300_000), 60_000);
/// assert_eq!(default_segment_interval(3_000), 2_000);
/// assert_eq!(default_segment_interval(86_400_000), 3_600_000);
/// ```
pub fn default_segment_interval(history_retention_ms: i64) -> i64 {
    if history_retention_ms <= 60_000 {
        (history_retention_ms / 3).max(2_000)
    } else if history_retention_ms <= 300_000 {
        (history_retention_ms / 5).max(20_000)
    } else if history_retention_ms <= 3_600_000 {
        (history_retention_ms / 12).max(60_000)
    } else {
        (history_retention_ms / 24).max(300_000)
    }
}

/// One version of a key's value, like Kafka's `VersionedRecord`: the value, the timestamp from
/// which it is valid and, unless it is the key's latest version, the timestamp until which
/// (exclusive) it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionedRecord {
    /// The value bytes.
    pub value: Vec<u8>,
    /// The version's timestamp: valid from here (inclusive).
    pub timestamp: i64,
    /// The next version's timestamp: valid until here (exclusive); `None` for the latest.
    pub valid_to: Option<i64>,
}

/// A key-value store that keeps each key's history of values by timestamp, like Kafka Streams'
/// `VersionedKeyValueStore<Bytes, byte[]>`; see the [module docs](self).
pub trait VersionedKeyValueStore: StateStore {
    /// Adds the version `value` (`None`: a tombstone) of `key` at `timestamp`, replacing a
    /// version with the same timestamp. Returns the new version's `valid_to`: the next
    /// version's timestamp, [`PUT_RETURN_CODE_VALID_TO_UNDEFINED`] if it is the latest, or
    /// [`PUT_RETURN_CODE_NOT_PUT`] if `timestamp` is older than stream time minus the history
    /// retention (nothing is written then).
    fn put(&mut self, key: &[u8], value: Option<&[u8]>, timestamp: i64) -> Result<i64>;

    /// Adds a tombstone of `key` at `timestamp` and returns the version it replaced as of
    /// `timestamp` (Kafka's `delete(key, timestamp)`: `get(key, timestamp)` then
    /// `put(key, null, timestamp)`). Too old a `timestamp` deletes nothing and returns `None`.
    fn delete(&mut self, key: &[u8], timestamp: i64) -> Result<Option<VersionedRecord>>;

    /// The latest version of `key`, unless that is a tombstone.
    fn get(&self, key: &[u8]) -> Result<Option<VersionedRecord>>;

    /// The version of `key` valid at `as_of` (the one with the largest timestamp not after it),
    /// unless it is a tombstone or older than the history retention allows — the latest value
    /// is returned whenever it is valid at `as_of`, however old.
    fn get_as_of(&self, key: &[u8], as_of: i64) -> Result<Option<VersionedRecord>>;

    /// How long versions are kept after they stopped being the latest, in milliseconds; also
    /// the grace period of writes.
    fn history_retention(&self) -> i64;
}

/// A version found in the history segments of a key.
#[derive(Debug, Clone)]
struct Found {
    timestamp: i64,
    valid_to: i64,
    value: Option<Vec<u8>>,
    segment: i64,
}

/// A [`VersionedKeyValueStore`] over any [`SegmentedBytesStore`]; see the [module docs](self).
pub struct SegmentedVersionedStore<B> {
    backend: B,
    history_retention: i64,
    segment_interval: i64,
    /// The largest timestamp written; `i64::MIN` before any.
    observed: i64,
}

/// An in-memory [`VersionedKeyValueStore`].
pub type InMemoryVersionedStore = SegmentedVersionedStore<MemorySegments>;

/// A RocksDB [`VersionedKeyValueStore`] (Kafka's `RocksDBVersionedStore`).
pub type RocksDbVersionedStore = SegmentedVersionedStore<RocksDbSegments>;

impl InMemoryVersionedStore {
    /// An empty in-memory store `name` keeping `history_retention_ms` of history in segments of
    /// `segment_interval_ms`.
    pub fn new(
        name: impl Into<String>,
        history_retention_ms: i64,
        segment_interval_ms: i64,
    ) -> Result<Self> {
        SegmentedVersionedStore::with_backend(
            MemorySegments::new(name),
            history_retention_ms,
            segment_interval_ms,
        )
    }
}

impl RocksDbVersionedStore {
    /// Opens (creating if needed) the store `name` whose database lives in directory `path`;
    /// see [`InMemoryVersionedStore::new`] for the other arguments.
    pub fn open(
        name: impl Into<String>,
        path: impl Into<std::path::PathBuf>,
        resources: &RocksDbResources,
        history_retention_ms: i64,
        segment_interval_ms: i64,
    ) -> Result<Self> {
        SegmentedVersionedStore::with_backend(
            RocksDbSegments::open(name, path, resources)?,
            history_retention_ms,
            segment_interval_ms,
        )
    }
}

/// A history entry's value: `valid_to` (8 bytes), 1 for a value or 0 for a tombstone, the value.
fn history_value(valid_to: i64, value: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(9 + value.map_or(0, <[u8]>::len));
    out.extend_from_slice(&valid_to.to_be_bytes());
    out.push(u8::from(value.is_some()));
    if let Some(value) = value {
        out.extend_from_slice(value);
    }
    out
}

/// A latest-value entry: the timestamp (8 bytes), then the value.
fn latest_value(timestamp: i64, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + value.len());
    out.extend_from_slice(&timestamp.to_be_bytes());
    out.extend_from_slice(value);
    out
}

impl<B: SegmentedBytesStore> SegmentedVersionedStore<B> {
    /// A store over `backend`; an [`Error::InvalidArgument`] for a negative history retention or
    /// a segment interval below 1 ms.
    pub fn with_backend(
        backend: B,
        history_retention_ms: i64,
        segment_interval_ms: i64,
    ) -> Result<Self> {
        if history_retention_ms < 0 || segment_interval_ms < 1 {
            return Err(Error::InvalidArgument {
                store: backend.name().to_string(),
                message: format!(
                    "history retention ({history_retention_ms} ms) cannot be negative and the \
                     segment interval ({segment_interval_ms} ms) must be at least 1 ms"
                ),
            });
        }
        Ok(SegmentedVersionedStore {
            backend,
            history_retention: history_retention_ms,
            segment_interval: segment_interval_ms,
            observed: i64::MIN,
        })
    }

    /// The segment interval in milliseconds.
    pub fn segment_interval(&self) -> i64 {
        self.segment_interval
    }

    /// The ids of the store's live segments, ascending, [`LATEST_SEGMENT`] last if any key has a
    /// latest value (for tests and diagnostics).
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

    /// The time segment of a version valid until `valid_to` (or of a tombstone at `valid_to`).
    fn segment_id(&self, valid_to: i64) -> i64 {
        valid_to
            .div_euclid(self.segment_interval)
            .min(LATEST_SEGMENT - 1)
    }

    /// The oldest timestamp a write may have, and the oldest `as_of` history answers for:
    /// stream time minus history retention (Kafka's `observedStreamTime - gracePeriod`).
    fn min_valid(&self) -> i64 {
        if self.observed == i64::MIN {
            i64::MIN
        } else {
            self.observed.saturating_sub(self.history_retention)
        }
    }

    fn latest(&self, key: &[u8]) -> Result<Option<(i64, Vec<u8>)>> {
        let Some(mut raw) = self.backend.get(LATEST_SEGMENT, key)? else {
            return Ok(None);
        };
        let timestamp = raw
            .get(..8)
            .and_then(|b| b.try_into().ok())
            .map(i64::from_be_bytes)
            .ok_or_else(|| self.corrupt("latest value shorter than its timestamp"))?;
        raw.drain(..8);
        Ok(Some((timestamp, raw)))
    }

    fn corrupt(&self, what: &str) -> Error {
        Error::InvalidArgument {
            store: self.backend.name().to_string(),
            message: format!("corrupt versioned store entry: {what}"),
        }
    }

    /// The history entry key of `key`'s version at `timestamp`.
    fn history_key(key: &[u8], timestamp: i64) -> Vec<u8> {
        let mut out = keys::key_lower_bound(key);
        out.extend_from_slice(&keys::encode_time(timestamp));
        out
    }

    /// The history versions of `key` in the time segments from `segment_from` on.
    fn history(&self, key: &[u8], segment_from: i64) -> Result<Vec<Found>> {
        let prefix = keys::key_lower_bound(key);
        let upper = keys::prefix_successor(&prefix);
        let mut found = Vec::new();
        for segment in self
            .backend
            .segment_ids()
            .into_iter()
            .filter(|&s| s >= segment_from && s != LATEST_SEGMENT)
        {
            for entry in self
                .backend
                .scan(segment, segment, prefix.clone(), upper.clone())?
            {
                let (k, v) = entry?;
                let timestamp = k
                    .get(prefix.len()..)
                    .and_then(keys::decode_time)
                    .ok_or_else(|| self.corrupt("history key without a timestamp"))?;
                let (valid_to, kind) = v
                    .get(..9)
                    .and_then(|b| Some((i64::from_be_bytes(b[..8].try_into().ok()?), b[8])))
                    .ok_or_else(|| self.corrupt("history value shorter than its header"))?;
                found.push(Found {
                    timestamp,
                    valid_to,
                    value: (kind == 1).then(|| v[9..].to_vec()),
                    segment,
                });
            }
        }
        Ok(found)
    }

    /// The write procedure shared by puts and restores; see the module docs for the layout.
    fn do_put(
        &mut self,
        key: &[u8],
        value: Option<&[u8]>,
        timestamp: i64,
        restoring: bool,
    ) -> Result<i64> {
        self.check_open()?;
        if timestamp < self.min_valid() {
            tracing::warn!(
                store = self.backend.name(),
                timestamp,
                observed = self.observed,
                "skipping a versioned store write older than the history retention"
            );
            return Ok(PUT_RETURN_CODE_NOT_PUT);
        }
        self.observed = self.observed.max(timestamp);
        let mut writes = Vec::new();
        let latest = self.latest(key)?;
        let result = match latest {
            // Newer than (or as new as) the latest value: the common, in-order case.
            Some((latest_ts, latest_value)) if latest_ts <= timestamp => {
                if latest_ts < timestamp {
                    // The old latest value becomes history, valid until this write.
                    writes.push(SegmentWrite {
                        segment: self.segment_id(timestamp),
                        key: Self::history_key(key, latest_ts),
                        value: Some(history_value(timestamp, Some(&latest_value))),
                    });
                }
                self.write_latest(key, value, timestamp, &mut writes);
                PUT_RETURN_CODE_VALID_TO_UNDEFINED
            }
            _ => {
                // Every version later than `timestamp`, and the value version valid at it, are
                // in the segments from `timestamp`'s on.
                let history = self.history(key, self.segment_id(timestamp))?;
                let next = history
                    .iter()
                    .map(|f| f.timestamp)
                    .chain(latest.as_ref().map(|(ts, _)| *ts))
                    .filter(|&ts| ts > timestamp)
                    .min();
                for found in &history {
                    let replaced = found.timestamp == timestamp;
                    let covers = found.value.is_some()
                        && found.timestamp < timestamp
                        && timestamp < found.valid_to;
                    if replaced || covers {
                        writes.push(SegmentWrite {
                            segment: found.segment,
                            key: Self::history_key(key, found.timestamp),
                            value: None,
                        });
                    }
                    if covers {
                        // The version valid at `timestamp` now ends there.
                        writes.push(SegmentWrite {
                            segment: self.segment_id(timestamp),
                            key: Self::history_key(key, found.timestamp),
                            value: Some(history_value(timestamp, found.value.as_deref())),
                        });
                    }
                }
                match next {
                    Some(next) => {
                        let segment = match value {
                            Some(_) => self.segment_id(next),
                            None => self.segment_id(timestamp),
                        };
                        writes.push(SegmentWrite {
                            segment,
                            key: Self::history_key(key, timestamp),
                            value: Some(history_value(next, value)),
                        });
                        next
                    }
                    None => {
                        self.write_latest(key, value, timestamp, &mut writes);
                        PUT_RETURN_CODE_VALID_TO_UNDEFINED
                    }
                }
            }
        };
        self.backend.write(writes, restoring)?;
        self.expire()?;
        Ok(result)
    }

    /// Makes `value` (a tombstone when `None`) the latest version of `key`.
    fn write_latest(
        &self,
        key: &[u8],
        value: Option<&[u8]>,
        timestamp: i64,
        writes: &mut Vec<SegmentWrite>,
    ) {
        match value {
            Some(value) => writes.push(SegmentWrite {
                segment: LATEST_SEGMENT,
                key: key.to_vec(),
                value: Some(latest_value(timestamp, value)),
            }),
            None => {
                // A latest tombstone is history, in the segment of its own timestamp.
                writes.push(SegmentWrite {
                    segment: LATEST_SEGMENT,
                    key: key.to_vec(),
                    value: None,
                });
                writes.push(SegmentWrite {
                    segment: self.segment_id(timestamp),
                    key: Self::history_key(key, timestamp),
                    value: Some(history_value(timestamp, None)),
                });
            }
        }
    }

    /// Drops the time segments whose versions all ended more than the history retention ago.
    fn expire(&mut self) -> Result<()> {
        let min_valid = self.min_valid();
        if min_valid == i64::MIN {
            return Ok(());
        }
        let dropped = self
            .backend
            .drop_segments_before(self.segment_id(min_valid))?;
        if !dropped.is_empty() {
            tracing::debug!(store = self.backend.name(), segments = ?dropped,
                "dropped expired versioned store segments");
        }
        Ok(())
    }
}

impl<B: SegmentedBytesStore> StateStore for SegmentedVersionedStore<B> {
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

    /// Replays the writes in order, each with its record's timestamp: the store ends as the one
    /// that wrote the changelog, including writes it refused as too old.
    fn restore_batch(&mut self, records: &[ChangelogRecord]) -> Result<()> {
        for record in records {
            self.do_put(&record.key, record.value.as_deref(), record.timestamp, true)?;
        }
        Ok(())
    }
}

impl<B: SegmentedBytesStore> VersionedKeyValueStore for SegmentedVersionedStore<B> {
    fn put(&mut self, key: &[u8], value: Option<&[u8]>, timestamp: i64) -> Result<i64> {
        self.do_put(key, value, timestamp, false)
    }

    fn delete(&mut self, key: &[u8], timestamp: i64) -> Result<Option<VersionedRecord>> {
        self.check_open()?;
        if timestamp < self.min_valid() {
            tracing::warn!(
                store = self.backend.name(),
                timestamp,
                observed = self.observed,
                "skipping a versioned store delete older than the history retention"
            );
            return Ok(None);
        }
        let existing = self.get_as_of(key, timestamp)?;
        self.do_put(key, None, timestamp, false)?;
        Ok(existing)
    }

    fn get(&self, key: &[u8]) -> Result<Option<VersionedRecord>> {
        self.check_open()?;
        Ok(self.latest(key)?.map(|(timestamp, value)| VersionedRecord {
            value,
            timestamp,
            valid_to: None,
        }))
    }

    fn get_as_of(&self, key: &[u8], as_of: i64) -> Result<Option<VersionedRecord>> {
        self.check_open()?;
        // The latest value answers whenever it is valid at `as_of`, however old.
        if let Some((timestamp, value)) = self.latest(key)? {
            if timestamp <= as_of {
                return Ok(Some(VersionedRecord {
                    value,
                    timestamp,
                    valid_to: None,
                }));
            }
        }
        if as_of < self.min_valid() {
            // Beyond the history retention: nothing, even if a segment still holds it.
            return Ok(None);
        }
        // A value version valid at `as_of` ends after it, so lies in its segment or later.
        let found = self
            .history(key, self.segment_id(as_of))?
            .into_iter()
            .find(|f| f.value.is_some() && f.timestamp <= as_of && as_of < f.valid_to);
        Ok(found.and_then(|f| {
            f.value.map(|value| VersionedRecord {
                value,
                timestamp: f.timestamp,
                valid_to: Some(f.valid_to),
            })
        }))
    }

    fn history_retention(&self) -> i64 {
        self.history_retention
    }
}

/// A [`VersionedKeyValueStore`] wrapper that sends every write to a changelog: the key, the
/// value or a tombstone, and the version's timestamp as the record timestamp (Kafka's
/// `ChangeLoggingVersionedKeyValueBytesStore`, which logs refused writes too).
pub struct ChangeloggingVersionedStore {
    inner: Box<dyn VersionedKeyValueStore>,
    sink: ChangelogSink,
}

impl ChangeloggingVersionedStore {
    /// Wraps `inner`, logging to `sink`.
    pub fn new(inner: Box<dyn VersionedKeyValueStore>, sink: ChangelogSink) -> Self {
        ChangeloggingVersionedStore { inner, sink }
    }
}

impl StateStore for ChangeloggingVersionedStore {
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

impl VersionedKeyValueStore for ChangeloggingVersionedStore {
    fn put(&mut self, key: &[u8], value: Option<&[u8]>, timestamp: i64) -> Result<i64> {
        let valid_to = self.inner.put(key, value, timestamp)?;
        self.sink.send_at(key, value, timestamp)?;
        Ok(valid_to)
    }

    fn delete(&mut self, key: &[u8], timestamp: i64) -> Result<Option<VersionedRecord>> {
        let old = self.inner.delete(key, timestamp)?;
        self.sink.send_at(key, None, timestamp)?;
        Ok(old)
    }

    fn get(&self, key: &[u8]) -> Result<Option<VersionedRecord>> {
        self.inner.get(key)
    }

    fn get_as_of(&self, key: &[u8], as_of: i64) -> Result<Option<VersionedRecord>> {
        self.inner.get_as_of(key, as_of)
    }

    fn history_retention(&self) -> i64 {
        self.inner.history_retention()
    }
}

#[cfg(test)]
mod tests {
    //! Kafka's `RocksDBVersionedStoreTest` scenarios, inputs, timestamps and expected results
    //! unchanged, run against the in-memory and the RocksDB store alike.

    use super::*;
    use crate::changelog::RecordingChangelogWriter;
    use crate::record::RecordContext;
    use crate::test_suite::small_resources;
    use std::sync::Arc;

    const HR: i64 = 300_000;
    const GP: i64 = HR; // the history retention doubles as grace period
    const SI: i64 = HR / 3;
    const BASE: i64 = 10;
    const LATEST: i64 = PUT_RETURN_CODE_VALID_TO_UNDEFINED;
    const NOT_PUT: i64 = PUT_RETURN_CODE_NOT_PUT;

    /// A store of each backend with `history_retention`, and what keeps the RocksDB one's
    /// directory alive.
    fn stores(history_retention: i64) -> Vec<(Box<dyn VersionedKeyValueStore>, tempfile::TempDir)> {
        let dir = tempfile::tempdir().unwrap();
        let memory = InMemoryVersionedStore::new("versioned", history_retention, SI).unwrap();
        let rocks = RocksDbVersionedStore::open(
            "versioned",
            dir.path(),
            &small_resources(),
            history_retention,
            SI,
        )
        .unwrap();
        vec![
            (Box::new(memory), tempfile::tempdir().unwrap()),
            (Box::new(rocks), dir),
        ]
    }

    fn put(
        s: &mut dyn VersionedKeyValueStore,
        key: &str,
        value: Option<&str>,
        ts: i64,
        expected: i64,
    ) {
        let got = s.put(key.as_bytes(), value.map(str::as_bytes), ts).unwrap();
        assert_eq!(got, expected, "put({key}, {value:?}, {ts}) of {}", s.name());
    }

    fn record(value: &str, ts: i64, valid_to: i64) -> VersionedRecord {
        VersionedRecord {
            value: value.as_bytes().to_vec(),
            timestamp: ts,
            valid_to: (valid_to != LATEST).then_some(valid_to),
        }
    }

    fn get(s: &mut dyn VersionedKeyValueStore, key: &str, expected: Option<(&str, i64)>) {
        let expected = expected.map(|(v, ts)| record(v, ts, LATEST));
        assert_eq!(s.get(key.as_bytes()).unwrap(), expected, "get({key})");
    }

    fn as_of(
        s: &mut dyn VersionedKeyValueStore,
        key: &str,
        as_of: i64,
        expected: Option<(&str, i64, i64)>,
    ) {
        let expected = expected.map(|(v, ts, to)| record(v, ts, to));
        assert_eq!(
            s.get_as_of(key.as_bytes(), as_of).unwrap(),
            expected,
            "get({key}, {as_of})"
        );
    }

    /// A test running `body` against a store of each backend, with Kafka's history retention.
    macro_rules! scenario {
        ($name:ident, |$s:ident| $body:block) => {
            #[test]
            fn $name() {
                for (mut store, _dir) in stores(HR) {
                    let $s: &mut dyn VersionedKeyValueStore = &mut *store;
                    $body
                }
            }
        };
    }

    // RocksDBVersionedStoreTest#shouldPutLatest
    scenario!(should_put_latest, |s| {
        put(s, "k", Some("v"), BASE, LATEST);
        put(s, "k", Some("v2"), BASE + 1, LATEST);

        get(s, "k", Some(("v2", BASE + 1)));
        as_of(s, "k", BASE, Some(("v", BASE, BASE + 1)));
        as_of(s, "k", BASE + 1, Some(("v2", BASE + 1, LATEST)));
        as_of(s, "k", BASE + 2, Some(("v2", BASE + 1, LATEST)));
    });

    // RocksDBVersionedStoreTest#shouldPutNullAsLatest
    scenario!(should_put_null_as_latest, |s| {
        put(s, "k", None, BASE, LATEST);
        put(s, "k", None, BASE + 1, LATEST);

        get(s, "k", None);
        as_of(s, "k", BASE, None);
        as_of(s, "k", BASE + 1, None);
        as_of(s, "k", BASE + 2, None);
    });

    // RocksDBVersionedStoreTest#shouldPutOlderWithNonNullLatest
    scenario!(should_put_older_with_non_null_latest, |s| {
        put(s, "k", Some("v"), BASE, LATEST);
        put(s, "k", Some("v2"), BASE - 2, BASE);
        put(s, "k", Some("v1"), BASE - 1, BASE);
        put(s, "k", Some("v4"), BASE - 4, BASE - 2);

        get(s, "k", Some(("v", BASE)));
        as_of(s, "k", BASE, Some(("v", BASE, LATEST)));
        as_of(s, "k", BASE - 1, Some(("v1", BASE - 1, BASE)));
        as_of(s, "k", BASE - 2, Some(("v2", BASE - 2, BASE - 1)));
        as_of(s, "k", BASE - 3, Some(("v4", BASE - 4, BASE - 2)));
    });

    // RocksDBVersionedStoreTest#shouldPutOlderWithNullLatest
    scenario!(should_put_older_with_null_latest, |s| {
        put(s, "k", None, BASE, LATEST);
        put(s, "k", Some("v2"), BASE - 2, BASE);
        put(s, "k", Some("v1"), BASE - 1, BASE);
        put(s, "k", Some("v4"), BASE - 4, BASE - 2);

        get(s, "k", None);
        as_of(s, "k", BASE, None);
        as_of(s, "k", BASE - 1, Some(("v1", BASE - 1, BASE)));
        as_of(s, "k", BASE - 2, Some(("v2", BASE - 2, BASE - 1)));
        as_of(s, "k", BASE - 3, Some(("v4", BASE - 4, BASE - 2)));
    });

    // RocksDBVersionedStoreTest#shouldPutOlderNullWithNonNullLatest
    scenario!(should_put_older_null_with_non_null_latest, |s| {
        put(s, "k", Some("v"), BASE, LATEST);
        put(s, "k", None, BASE - 2, BASE);
        put(s, "k", None, BASE - 1, BASE);
        put(s, "k", None, BASE - 4, BASE - 2);
        put(s, "k", Some("v5"), BASE - 5, BASE - 4);
        put(s, "k", Some("v3"), BASE - 3, BASE - 2);
        put(s, "k", None, BASE - 6, BASE - 5);

        get(s, "k", Some(("v", BASE)));
        as_of(s, "k", BASE, Some(("v", BASE, LATEST)));
        as_of(s, "k", BASE - 1, None);
        as_of(s, "k", BASE - 2, None);
        as_of(s, "k", BASE - 3, Some(("v3", BASE - 3, BASE - 2)));
        as_of(s, "k", BASE - 4, None);
        as_of(s, "k", BASE - 5, Some(("v5", BASE - 5, BASE - 4)));
        as_of(s, "k", BASE - 6, None);
    });

    // RocksDBVersionedStoreTest#shouldPutOlderNullWithNullLatest
    scenario!(should_put_older_null_with_null_latest, |s| {
        put(s, "k", None, BASE, LATEST);
        put(s, "k", None, BASE - 2, BASE);
        put(s, "k", None, BASE - 1, BASE);
        put(s, "k", None, BASE - 4, BASE - 2);
        put(s, "k", Some("v3"), BASE - 3, BASE - 2);
        put(s, "k", Some("v5"), BASE - 5, BASE - 4);
        put(s, "k", None, BASE - 6, BASE - 5);

        get(s, "k", None);
        as_of(s, "k", BASE, None);
        as_of(s, "k", BASE - 1, None);
        as_of(s, "k", BASE - 2, None);
        as_of(s, "k", BASE - 3, Some(("v3", BASE - 3, BASE - 2)));
        as_of(s, "k", BASE - 4, None);
        as_of(s, "k", BASE - 5, Some(("v5", BASE - 5, BASE - 4)));
        as_of(s, "k", BASE - 6, None);
    });

    // RocksDBVersionedStoreTest#shouldPutRepeatTimestampAsLatest
    scenario!(should_put_repeat_timestamp_as_latest, |s| {
        put(s, "k", Some("to_be_replaced"), BASE, LATEST);
        put(s, "k", Some("b"), BASE, LATEST);

        get(s, "k", Some(("b", BASE)));
        as_of(s, "k", BASE, Some(("b", BASE, LATEST)));
        as_of(s, "k", BASE - 1, None);

        put(s, "k", None, BASE, LATEST);

        get(s, "k", None);
        as_of(s, "k", BASE, None);
        as_of(s, "k", BASE - 1, None);

        put(s, "k", None, BASE, LATEST);

        get(s, "k", None);
        as_of(s, "k", BASE, None);
        as_of(s, "k", BASE - 1, None);

        put(s, "k", Some("b"), BASE, LATEST);

        get(s, "k", Some(("b", BASE)));
        as_of(s, "k", BASE, Some(("b", BASE, LATEST)));
        as_of(s, "k", BASE - 1, None);
    });

    // RocksDBVersionedStoreTest#shouldPutRepeatTimestamps
    scenario!(should_put_repeat_timestamps, |s| {
        put(s, "k", Some("to_be_replaced"), SI + 20, LATEST);
        put(s, "k", None, SI - 10, SI + 20);
        put(s, "k", Some("to_be_replaced"), SI - 10, SI + 20); // replace existing null with non-null, with timestamps spanning segments
        put(s, "k", None, SI - 10, SI + 20); // replace existing non-null with null
        put(s, "k", Some("to_be_replaced"), SI - 1, SI + 20);
        put(s, "k", Some("to_be_replaced"), SI + 1, SI + 20);
        put(s, "k", None, SI - 1, SI + 1); // replace existing non-null with null
        put(s, "k", None, SI + 1, SI + 20); // replace existing non-null with null, with timestamps spanning segments
        put(s, "k", None, SI + 10, SI + 20);
        put(s, "k", None, SI + 5, SI + 10);
        put(s, "k", Some("vp5"), SI + 5, SI + 10); // replace existing null with non-null
        put(s, "k", Some("to_be_replaced"), SI - 5, SI - 1);
        put(s, "k", Some("vn5"), SI - 5, SI - 1); // replace existing non-null with non-null
        put(s, "k", None, SI + 20, LATEST); // replace existing non-null (latest value) with null
        put(s, "k", None, SI + 20, LATEST); // replace existing null with null
        put(s, "k", Some("vn6"), SI - 6, SI - 5);

        get(s, "k", None);
        as_of(s, "k", SI + 30, None);
        as_of(s, "k", SI + 15, None);
        as_of(s, "k", SI + 6, Some(("vp5", SI + 5, SI + 10)));
        as_of(s, "k", SI + 2, None);
        as_of(s, "k", SI, None);
        as_of(s, "k", SI - 1, None);
        as_of(s, "k", SI - 5, Some(("vn5", SI - 5, SI - 1)));
        as_of(s, "k", SI - 6, Some(("vn6", SI - 6, SI - 5)));
        as_of(s, "k", SI - 8, None);
    });

    // RocksDBVersionedStoreTest#shouldPutIntoMultipleSegments
    scenario!(should_put_into_multiple_segments, |s| {
        put(s, "k", None, SI - 20, LATEST);
        put(s, "k", Some("vn10"), SI - 10, LATEST);
        put(s, "k", None, SI - 1, LATEST);
        put(s, "k", None, SI + 1, LATEST);
        put(s, "k", Some("vp10"), SI + 10, LATEST);
        put(s, "k", None, SI + 20, LATEST);

        get(s, "k", None);
        as_of(s, "k", SI + 30, None);
        as_of(s, "k", SI + 15, Some(("vp10", SI + 10, SI + 20)));
        as_of(s, "k", SI + 5, None);
        as_of(s, "k", SI + 2, None);
        as_of(s, "k", SI, None);
        as_of(s, "k", SI - 1, None);
        as_of(s, "k", SI - 5, Some(("vn10", SI - 10, SI - 1)));
        as_of(s, "k", SI - 15, None);
    });

    // RocksDBVersionedStoreTest#shouldMoveRecordToOlderSegmentDuringPut
    scenario!(should_move_record_to_older_segment_during_put, |s| {
        put(s, "k", Some("vp20"), SI + 20, LATEST);
        put(s, "k", Some("vp10"), SI + 10, SI + 20);
        put(s, "k", Some("vn10"), SI - 10, SI + 10);
        put(s, "k", Some("vn2"), SI - 2, SI + 10);
        put(s, "k", Some("vn1"), SI - 1, SI + 10);
        put(s, "k", Some("vp1"), SI + 1, SI + 10);

        get(s, "k", Some(("vp20", SI + 20)));
        as_of(s, "k", SI + 30, Some(("vp20", SI + 20, LATEST)));
        as_of(s, "k", SI + 15, Some(("vp10", SI + 10, SI + 20)));
        as_of(s, "k", SI + 5, Some(("vp1", SI + 1, SI + 10)));
        as_of(s, "k", SI, Some(("vn1", SI - 1, SI + 1)));
        as_of(s, "k", SI - 1, Some(("vn1", SI - 1, SI + 1)));
        as_of(s, "k", SI - 2, Some(("vn2", SI - 2, SI - 1)));
        as_of(s, "k", SI - 5, Some(("vn10", SI - 10, SI - 2)));
    });

    // RocksDBVersionedStoreTest#shouldMoveRecordToOlderSegmentWithNullsDuringPut
    scenario!(
        should_move_record_to_older_segment_with_nulls_during_put,
        |s| {
            put(s, "k", None, SI + 20, LATEST);
            put(s, "k", None, SI - 1, SI + 20);
            put(s, "k", None, SI + 1, SI + 20);
            put(s, "k", None, SI - 10, SI - 1);
            put(s, "k", None, SI + 10, SI + 20);
            put(s, "k", Some("vp5"), SI + 5, SI + 10);
            put(s, "k", Some("vn5"), SI - 5, SI - 1);
            put(s, "k", Some("vn6"), SI - 6, SI - 5);

            get(s, "k", None);
            as_of(s, "k", SI + 30, None);
            as_of(s, "k", SI + 15, None);
            as_of(s, "k", SI + 6, Some(("vp5", SI + 5, SI + 10)));
            as_of(s, "k", SI + 2, None);
            as_of(s, "k", SI, None);
            as_of(s, "k", SI - 1, None);
            as_of(s, "k", SI - 5, Some(("vn5", SI - 5, SI - 1)));
            as_of(s, "k", SI - 6, Some(("vn6", SI - 6, SI - 5)));
            as_of(s, "k", SI - 8, None);
        }
    );

    // RocksDBVersionedStoreTest#shouldFallThroughToExistingOlderSegmentAsLatestDuringPut
    scenario!(
        should_fall_through_to_existing_older_segment_as_latest_during_put,
        |s| {
            put(s, "k", None, SI - 5, LATEST);
            put(s, "k", Some("vn6"), SI - 6, SI - 5);
            put(s, "k", Some("vp20"), SI + 20, LATEST);
            put(s, "k", None, SI + 10, SI + 20);
            put(s, "k", None, SI - 1, SI + 10);
            put(s, "k", Some("vn2"), SI - 2, SI - 1);

            get(s, "k", Some(("vp20", SI + 20)));
            as_of(s, "k", SI + 30, Some(("vp20", SI + 20, LATEST)));
            as_of(s, "k", SI + 12, None);
            as_of(s, "k", SI, None);
            as_of(s, "k", SI - 1, None);
            as_of(s, "k", SI - 2, Some(("vn2", SI - 2, SI - 1)));
            as_of(s, "k", SI - 5, None);
            as_of(s, "k", SI - 6, Some(("vn6", SI - 6, SI - 5)));
        }
    );

    // RocksDBVersionedStoreTest#shouldPutNonLatestTombstoneIntoNewSegmentWithValidTo
    scenario!(
        should_put_non_latest_tombstone_into_new_segment_with_valid_to,
        |s| {
            put(s, "k", Some("vp30"), SI + 30, LATEST);
            put(s, "k", None, SI - 10, SI + 30); // this put should result in tombstone with validTo=SI+30
            put(s, "k", Some("vn5"), SI - 5, SI + 30);
            put(s, "k", Some("vn1"), SI - 1, SI + 30);
            put(s, "k", None, SI - 2, SI - 1);

            get(s, "k", Some(("vp30", SI + 30)));
            as_of(s, "k", SI + 10, Some(("vn1", SI - 1, SI + 30)));
            as_of(s, "k", SI - 1, Some(("vn1", SI - 1, SI + 30)));
            as_of(s, "k", SI - 2, None);
            as_of(s, "k", SI - 5, Some(("vn5", SI - 5, SI - 2)));
            as_of(s, "k", SI - 10, None);
        }
    );

    // RocksDBVersionedStoreTest#shouldNotPutExpired
    scenario!(should_not_put_expired, |s| {
        put(s, "k", Some("v"), HR + 10, LATEST);

        // grace period has not elapsed
        put(s, "k1", Some("v1"), HR + 10 - GP, LATEST);
        get(s, "k1", Some(("v1", HR + 10 - GP)));

        // grace period has elapsed, so this put does not take place
        put(s, "k2", Some("v2"), HR + 9 - GP, NOT_PUT);
        get(s, "k2", None);
    });

    // RocksDBVersionedStoreTest#shouldGetFromOlderSegments
    scenario!(should_get_from_older_segments, |s| {
        // use a different key to create three different segments
        put(s, "ko", None, SI - 10, LATEST);
        put(s, "ko", None, 2 * SI - 10, LATEST);
        put(s, "ko", None, 3 * SI - 10, LATEST);

        // return null after visiting all segments
        as_of(s, "k", SI - 20, None);

        // insert data to create non-empty (first) segment
        put(s, "k", Some("v"), SI - 20, LATEST);
        put(s, "k", None, SI - 10, LATEST);

        as_of(s, "k", SI - 30, None);
        as_of(s, "k", SI - 15, Some(("v", SI - 20, SI - 10)));
        as_of(s, "k", SI - 5, None);

        // insert data to create non-empty (third) segment
        put(s, "k", Some("v2"), 3 * SI - 20, LATEST);
        put(s, "k", None, 3 * SI - 10, LATEST);

        // presence of non-empty later segment does not affect results of getting from earlier segment
        as_of(s, "k", SI - 30, None);
        as_of(s, "k", SI - 15, Some(("v", SI - 20, SI - 10)));
        as_of(s, "k", SI - 5, None);
    });

    // RocksDBVersionedStoreTest#shouldNotGetExpired
    scenario!(should_not_get_expired, |s| {
        put(s, "k", Some("v_old"), 0, LATEST);
        put(s, "k", Some("v"), SI - 10, LATEST);

        // old record has not yet expired
        as_of(s, "k", SI - 11, Some(("v_old", 0, SI - 10)));

        put(s, "ko", Some("vo"), HR + SI - 11, LATEST);

        // old record still has not yet expired
        as_of(s, "k", SI - 11, Some(("v_old", 0, SI - 10)));

        put(s, "ko", Some("vo2"), HR + SI - 10, LATEST);

        // old record is expired now
        as_of(s, "k", SI - 11, None);
    });

    // RocksDBVersionedStoreTest#shouldGetExpiredIfLatestValue
    scenario!(should_get_expired_if_latest_value, |s| {
        put(s, "k", Some("v"), 1, LATEST);
        put(s, "ko", Some("vo_old"), 1, LATEST);
        put(s, "ko", Some("vo_new"), HR + 12, LATEST);

        // expired get on key where latest satisfies timestamp bound still returns data
        as_of(s, "k", 10, Some(("v", 1, LATEST)));

        // same expired get on key where latest value does not satisfy timestamp bound does not return data
        as_of(s, "ko", 10, None);
    });

    // RocksDBVersionedStoreTest#shouldDistinguishEmptyAndNull
    scenario!(should_distinguish_empty_and_null, |s| {
        put(s, "k", None, SI + 20, LATEST);
        put(s, "k", None, SI - 10, SI + 20);
        put(s, "k", None, SI - 1, SI + 20);
        put(s, "k", None, SI + 1, SI + 20);
        put(s, "k", None, SI + 10, SI + 20);
        // empty string is serialized as an empty byte array, which is different from null (tombstone)
        put(s, "k", Some(""), SI + 5, SI + 10);
        put(s, "k", Some(""), SI - 5, SI - 1);
        put(s, "k", Some(""), SI - 6, SI - 5);

        get(s, "k", None);
        as_of(s, "k", SI + 30, None);
        as_of(s, "k", SI + 15, None);
        as_of(s, "k", SI + 6, Some(("", SI + 5, SI + 10)));
        as_of(s, "k", SI + 2, None);
        as_of(s, "k", SI, None);
        as_of(s, "k", SI - 1, None);
        as_of(s, "k", SI - 5, Some(("", SI - 5, SI - 1)));
        as_of(s, "k", SI - 6, Some(("", SI - 6, SI - 5)));
        as_of(s, "k", SI - 8, None);
    });

    // RocksDBVersionedStoreTest#shouldDelete
    #[test]
    fn should_delete() {
        for (mut store, _dir) in stores(HR) {
            let s: &mut dyn VersionedKeyValueStore = &mut *store;
            put(s, "k", Some("vp20"), SI + 20, LATEST);
            put(s, "k", Some("vp10"), SI + 10, SI + 20);
            put(s, "k", Some("vn10"), SI - 10, SI + 10);
            put(s, "k", Some("vn2"), SI - 2, SI + 10);

            // delete from segment
            let deleted = s.delete(b"k", SI - 5).unwrap().unwrap();
            assert_eq!(
                (deleted.value, deleted.timestamp),
                (b"vn10".to_vec(), SI - 10)
            );
            // delete existing timestamp
            let deleted = s.delete(b"k", SI + 10).unwrap().unwrap();
            assert_eq!(
                (deleted.value, deleted.timestamp),
                (b"vp10".to_vec(), SI + 10)
            );
            // delete the same timestamp again
            assert_eq!(s.delete(b"k", SI + 10).unwrap(), None);
            // delete from the latest value
            let deleted = s.delete(b"k", SI + 25).unwrap().unwrap();
            assert_eq!(
                (deleted.value, deleted.timestamp),
                (b"vp20".to_vec(), SI + 20)
            );
        }
    }

    // RocksDBVersionedStoreTest#shouldNotDeleteExpired
    #[test]
    fn should_not_delete_expired() {
        for (mut store, _dir) in stores(HR) {
            let s: &mut dyn VersionedKeyValueStore = &mut *store;
            put(s, "k1", Some("v1"), 1, LATEST);
            put(s, "k2", Some("v2"), 1, LATEST);
            put(s, "kother", Some("vother"), HR + 10, LATEST); // advances stream time

            // grace period has not elapsed
            let deleted = s.delete(b"k1", HR + 10 - GP).unwrap().unwrap();
            assert_eq!((deleted.value, deleted.timestamp), (b"v1".to_vec(), 1));
            get(s, "k1", None);

            // grace period has elapsed, so this delete does not take place
            assert_eq!(s.delete(b"k2", HR + 9 - GP).unwrap(), None);
            get(s, "k2", Some(("v2", 1)));
        }
    }

    fn changelog(records: &[(&str, Option<&str>, i64)]) -> Vec<ChangelogRecord> {
        records
            .iter()
            .map(|(k, v, ts)| {
                ChangelogRecord::new(k.as_bytes(), v.map(|v| v.as_bytes().to_vec()), *ts)
            })
            .collect()
    }

    // RocksDBVersionedStoreTest#shouldRestore
    #[test]
    fn should_restore() {
        for (mut store, _dir) in stores(HR) {
            store
                .restore_batch(&changelog(&[
                    ("k", Some("vp20"), SI + 20),
                    ("k", Some("vp10"), SI + 10),
                    ("k", Some("vn10"), SI - 10),
                    ("k", Some("vn2"), SI - 2),
                    ("k", Some("vn1"), SI - 1),
                    ("k", Some("vp1"), SI + 1),
                ]))
                .unwrap();
            let s: &mut dyn VersionedKeyValueStore = &mut *store;
            get(s, "k", Some(("vp20", SI + 20)));
            as_of(s, "k", SI + 30, Some(("vp20", SI + 20, LATEST)));
            as_of(s, "k", SI + 15, Some(("vp10", SI + 10, SI + 20)));
            as_of(s, "k", SI + 5, Some(("vp1", SI + 1, SI + 10)));
            as_of(s, "k", SI, Some(("vn1", SI - 1, SI + 1)));
            as_of(s, "k", SI - 1, Some(("vn1", SI - 1, SI + 1)));
            as_of(s, "k", SI - 2, Some(("vn2", SI - 2, SI - 1)));
            as_of(s, "k", SI - 5, Some(("vn10", SI - 10, SI - 2)));
        }
    }

    // RocksDBVersionedStoreTest#shouldRestoreWithNullsAndRepeatTimestamps
    #[test]
    fn should_restore_with_nulls_and_repeat_timestamps() {
        for (mut store, _dir) in stores(HR) {
            store
                .restore_batch(&changelog(&[
                    ("k", Some("to_be_replaced"), SI + 20),
                    ("k", None, SI - 10),
                    ("k", Some("to_be_replaced"), SI - 10),
                    ("k", None, SI - 10),
                    ("k", Some("to_be_replaced"), SI - 1),
                    ("k", Some("to_be_replaced"), SI + 1),
                    ("k", None, SI - 1),
                    ("k", None, SI + 1),
                    ("k", None, SI + 10),
                    ("k", None, SI + 5),
                    ("k", Some("vp5"), SI + 5),
                    ("k", Some("to_be_replaced"), SI - 5),
                    ("k", Some("vn5"), SI - 5),
                    ("k", None, SI + 20),
                    ("k", None, SI + 20),
                    ("k", Some("vn6"), SI - 6),
                ]))
                .unwrap();
            let s: &mut dyn VersionedKeyValueStore = &mut *store;
            get(s, "k", None);
            as_of(s, "k", SI + 30, None);
            as_of(s, "k", SI + 15, None);
            as_of(s, "k", SI + 6, Some(("vp5", SI + 5, SI + 10)));
            as_of(s, "k", SI + 2, None);
            as_of(s, "k", SI, None);
            as_of(s, "k", SI - 1, None);
            as_of(s, "k", SI - 5, Some(("vn5", SI - 5, SI - 1)));
            as_of(s, "k", SI - 6, Some(("vn6", SI - 6, SI - 5)));
            as_of(s, "k", SI - 8, None);
        }
    }

    // RocksDBVersionedStoreTest#shouldRestoreMultipleBatches
    #[test]
    fn should_restore_multiple_batches() {
        for (mut store, _dir) in stores(HR) {
            store
                .restore_batch(&changelog(&[
                    ("k", None, SI - 20),
                    ("k", Some("vn10"), SI - 10),
                    ("k", None, SI - 1),
                ]))
                .unwrap();
            store
                .restore_batch(&changelog(&[
                    ("k", None, SI + 1),
                    ("k", Some("vp10"), SI + 10),
                    ("k", None, SI + 20),
                ]))
                .unwrap();
            let s: &mut dyn VersionedKeyValueStore = &mut *store;
            get(s, "k", None);
            as_of(s, "k", SI + 30, None);
            as_of(s, "k", SI + 15, Some(("vp10", SI + 10, SI + 20)));
            as_of(s, "k", SI + 5, None);
            as_of(s, "k", SI + 2, None);
            as_of(s, "k", SI, None);
            as_of(s, "k", SI - 1, None);
            as_of(s, "k", SI - 5, Some(("vn10", SI - 10, SI - 1)));
            as_of(s, "k", SI - 15, None);
        }
    }

    // RocksDBVersionedStoreTest#shouldNotRestoreExpired and
    // #shouldRestoreEvenIfRecordWouldBeExpiredByEndOfBatch
    #[test]
    fn restoring_skips_only_what_was_expired_when_written() {
        for (mut store, _dir) in stores(HR) {
            store
                .restore_batch(&changelog(&[
                    ("k", Some("v"), HR + 10),
                    ("k1", Some("v1"), HR + 10 - GP), // grace period has not elapsed
                    ("k2", Some("v2"), HR + 9 - GP),  // grace period has elapsed
                ]))
                .unwrap();
            let s: &mut dyn VersionedKeyValueStore = &mut *store;
            get(s, "k", Some(("v", HR + 10)));
            get(s, "k1", Some(("v1", HR + 10 - GP)));
            get(s, "k2", None);
        }
        for (mut store, _dir) in stores(HR) {
            store
                .restore_batch(&changelog(&[
                    ("k2", Some("v2"), HR - GP), // expired by the end of the batch, restored anyway
                    ("k", Some("v"), HR + 10),
                ]))
                .unwrap();
            let s: &mut dyn VersionedKeyValueStore = &mut *store;
            get(s, "k2", Some(("v2", HR - GP)));
            get(s, "k", Some(("v", HR + 10)));
        }
    }

    // RocksDBVersionedStoreTest#shouldAllowZeroHistoryRetention
    #[test]
    fn should_allow_zero_history_retention() {
        for (mut store, _dir) in stores(0) {
            let s: &mut dyn VersionedKeyValueStore = &mut *store;
            put(s, "k", Some("v"), BASE, LATEST);
            get(s, "k", Some(("v", BASE)));
            as_of(s, "k", BASE, Some(("v", BASE, LATEST)));
            as_of(s, "k", BASE + 1, Some(("v", BASE, LATEST))); // query in "future" is allowed

            // update existing record at same timestamp
            put(s, "k", Some("updated"), BASE, LATEST);
            get(s, "k", Some(("updated", BASE)));
            as_of(s, "k", BASE, Some(("updated", BASE, LATEST)));

            // put new record version
            put(s, "k", Some("v2"), BASE + 2, LATEST);
            get(s, "k", Some(("v2", BASE + 2)));
            as_of(s, "k", BASE + 2, Some(("v2", BASE + 2, LATEST)));

            // query in past (history retention expired) returns null
            as_of(s, "k", BASE + 1, None);

            // delete existing key
            s.delete(b"k", BASE + 3).unwrap();
            get(s, "k", None);

            // put in past (grace period expired) does not update the store
            put(s, "k2", Some("v"), BASE + 2, NOT_PUT);
        }
    }

    /// Whole segments of history go once stream time leaves them behind; the latest values
    /// stay.
    #[test]
    fn expired_history_segments_are_dropped() {
        let mut store = InMemoryVersionedStore::new("versioned", HR, SI).unwrap();
        let s: &mut dyn VersionedKeyValueStore = &mut store;
        put(s, "k", Some("v0"), 0, LATEST);
        put(s, "k", Some("v1"), SI - 10, LATEST); // v0 is history, in segment 0
        assert_eq!(store.segment_ids(), vec![0, LATEST_SEGMENT]);
        let s: &mut dyn VersionedKeyValueStore = &mut store;
        put(s, "other", Some("x"), HR + SI, LATEST); // stream time leaves segment 0 behind
        assert_eq!(store.segment_ids(), vec![LATEST_SEGMENT]);
        let s: &mut dyn VersionedKeyValueStore = &mut store;
        get(s, "k", Some(("v1", SI - 10)));
        as_of(s, "k", 5, None);
    }

    /// The changelog carries every write with the version's timestamp, and a store restored from
    /// it answers as the original; a RocksDB store reopened keeps its history.
    #[test]
    fn changelog_records_carry_version_timestamps_and_restore_the_history() {
        let writer = Arc::new(RecordingChangelogWriter::new());
        let sink = ChangelogSink::new(
            writer.clone(),
            "app-versioned-changelog",
            0,
            RecordContext::new(),
        );
        let inner = InMemoryVersionedStore::new("versioned", HR, SI).unwrap();
        let mut logged = ChangeloggingVersionedStore::new(Box::new(inner), sink);
        logged.put(b"k", Some(b"v2"), 20).unwrap();
        logged.put(b"k", Some(b"v1"), 10).unwrap();
        logged.delete(b"k", 30).unwrap();
        let records = writer.records("app-versioned-changelog", 0);
        let logged_as: Vec<_> = records
            .iter()
            .map(|r| (r.key.clone(), r.value.clone(), r.timestamp))
            .collect();
        assert_eq!(
            logged_as,
            vec![
                (b"k".to_vec(), Some(b"v2".to_vec()), 20),
                (b"k".to_vec(), Some(b"v1".to_vec()), 10),
                (b"k".to_vec(), None, 30),
            ]
        );

        let dir = tempfile::tempdir().unwrap();
        let resources = small_resources();
        let mut restored =
            RocksDbVersionedStore::open("versioned", dir.path(), &resources, HR, SI).unwrap();
        restored.restore_batch(&records).unwrap();
        restored.close().unwrap();
        let mut reopened =
            RocksDbVersionedStore::open("versioned", dir.path(), &resources, HR, SI).unwrap();
        let s: &mut dyn VersionedKeyValueStore = &mut reopened;
        get(s, "k", None);
        as_of(s, "k", 15, Some(("v1", 10, 20)));
        as_of(s, "k", 25, Some(("v2", 20, 30)));
        as_of(s, "k", 35, None);
    }

    #[test]
    fn a_zero_segment_interval_is_refused() {
        let error = InMemoryVersionedStore::new("versioned", HR, 0)
            .err()
            .unwrap();
        assert!(error.to_string().contains("segment interval"), "{error}");
    }
}
