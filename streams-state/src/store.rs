//! The store traits, over bytes.
//!
//! Every store is a [`StateStore`] — named, flushable, closable, restorable from its changelog —
//! so that the runtime can manage a task's stores generically, like Kafka Streams' `StateStore`
//! interface. On top of it sit the four kinds of store Kafka Streams has: [`KeyValueStore`],
//! [`TimestampedKeyValueStore`] (what a `KTable` materializes into), [`WindowStore`] (windowed
//! aggregations, stream-stream joins) and [`SessionStore`] (session windows).
//!
//! The traits are object-safe (`Box<dyn KeyValueStore>`) and work on bytes; typed wrappers with
//! serdes live in `streams-core`. Range reads return boxed iterators of owned entries, in key
//! order, that borrow the store until dropped.

use crate::record::ChangelogRecord;
use crate::Result;

/// A key and a value, both owned bytes.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// One write of [`KeyValueStore::put_all`]: a key and its new value, `None` to delete it.
pub type KeyWrite<'a> = (&'a [u8], Option<&'a [u8]>);

/// Iterator over key-value entries in ascending key order.
pub type KeyValueIter<'a> = Box<dyn Iterator<Item = Result<KeyValue>> + 'a>;

/// Iterator over `(key, value-and-timestamp)` entries in ascending key order.
pub type TimestampedIter<'a> = Box<dyn Iterator<Item = Result<(Vec<u8>, ValueAndTimestamp)>> + 'a>;

/// Iterator over `(window start, value)` of one key, in ascending time order.
pub type WindowIter<'a> = Box<dyn Iterator<Item = Result<(i64, Vec<u8>)>> + 'a>;

/// Iterator over `(windowed key, value)` entries.
pub type WindowedIter<'a> = Box<dyn Iterator<Item = Result<(WindowedKey, Vec<u8>)>> + 'a>;

/// Iterator over `(session, aggregate)` entries.
pub type SessionIter<'a> = Box<dyn Iterator<Item = Result<(SessionKey, Vec<u8>)>> + 'a>;

/// What every store is: the part of a store the runtime manages without knowing its kind.
///
/// Like Kafka Streams' `StateStore`. All stores are `Send` so that tasks can move between
/// threads.
pub trait StateStore: Send {
    /// The store's name, unique within a topology.
    fn name(&self) -> &str;

    /// Whether the store keeps its contents on disk across restarts (RocksDB) or not (in-memory).
    fn persistent(&self) -> bool;

    /// Whether the store is open; it is from construction until [`close`](Self::close).
    fn is_open(&self) -> bool;

    /// Makes everything written so far durable, downstream of any cache: what must happen
    /// before a checkpoint may claim the store's changelog offsets.
    fn flush(&mut self) -> Result<()>;

    /// Flushes and releases the store's resources. Later operations fail with
    /// [`Error::StoreClosed`](crate::Error::StoreClosed). Closing twice is harmless.
    fn close(&mut self) -> Result<()>;

    /// Applies a batch of changelog records (in offset order) without writing them to the
    /// changelog again. A `None` value is a tombstone. The record format is the store kind's
    /// changelog format: see the kind's trait documentation.
    fn restore_batch(&mut self, records: &[ChangelogRecord]) -> Result<()>;
}

/// A key-value store over bytes, like Kafka Streams' `KeyValueStore<Bytes, byte[]>`.
///
/// Its changelog holds one record per write: the key, and the value or a tombstone.
pub trait KeyValueStore: StateStore {
    /// The value of `key`, if any: a copy of what [`get_with`](Self::get_with) lends.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut value = None;
        self.get_with(key, &mut |lent| value = lent.map(<[u8]>::to_vec))?;
        Ok(value)
    }

    /// Hands `read` the value of `key` (`None` if it has none) without copying it out where the
    /// store can lend it: a reader that decodes the bytes needs no buffer of its own. Called
    /// exactly once when it returns `Ok`.
    fn get_with(&self, key: &[u8], read: &mut dyn FnMut(Option<&[u8]>)) -> Result<()>;

    /// Sets `key` to `value`.
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()>;

    /// Sets `key` to `value` only if `key` has no value; returns the existing value otherwise
    /// (and `None` when it wrote).
    fn put_if_absent(&mut self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>> {
        match self.get(key)? {
            Some(existing) => Ok(Some(existing)),
            None => {
                self.put(key, value)?;
                Ok(None)
            }
        }
    }

    /// Writes several entries; a `None` value deletes. Implementations may do it atomically.
    fn put_all(&mut self, entries: &[KeyWrite<'_>]) -> Result<()> {
        for &(key, value) in entries {
            match value {
                Some(value) => self.put(key, value)?,
                None => {
                    self.delete(key)?;
                }
            }
        }
        Ok(())
    }

    /// Removes `key`, returning its previous value.
    fn delete(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Entries with `from <= key <= to` (both inclusive, like Kafka's `range`), in key order. A
    /// `None` bound is open. `from > to` yields nothing.
    fn range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> Result<KeyValueIter<'_>>;

    /// Entries whose key starts with `prefix`, in key order.
    fn prefix_scan(&self, prefix: &[u8]) -> Result<KeyValueIter<'_>>;

    /// All entries, in key order.
    fn all(&self) -> Result<KeyValueIter<'_>> {
        self.range(None, None)
    }

    /// An estimate of the number of entries (exact for in-memory stores).
    fn approximate_num_entries(&self) -> Result<u64>;
}

/// A value with the timestamp of the record that last set it, like Kafka's `ValueAndTimestamp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueAndTimestamp {
    /// The value bytes.
    pub value: Vec<u8>,
    /// The timestamp, in milliseconds since the epoch.
    pub timestamp: i64,
}

impl ValueAndTimestamp {
    /// Pairs a value with a timestamp.
    pub fn new(value: impl Into<Vec<u8>>, timestamp: i64) -> Self {
        ValueAndTimestamp {
            value: value.into(),
            timestamp,
        }
    }
}

/// A value a timestamped store lends its reader, and the value's timestamp.
pub type LentValue<'a> = (&'a [u8], i64);

/// A key-value store whose values carry a timestamp, like Kafka Streams'
/// `TimestampedKeyValueStore` (what `KTable`s materialize into).
///
/// Its changelog holds the plain value with the timestamp as the record timestamp, so that a
/// source topic can serve as the changelog of a source table.
pub trait TimestampedKeyValueStore: StateStore {
    /// The value and timestamp of `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<ValueAndTimestamp>>;

    /// Hands `read` the value and timestamp of `key` (`None` if it has none), lending the value
    /// where the store can; see [`KeyValueStore::get_with`].
    fn get_with(&self, key: &[u8], read: &mut dyn FnMut(Option<LentValue<'_>>)) -> Result<()> {
        let value = self.get(key)?;
        read(value.as_ref().map(|v| (v.value.as_slice(), v.timestamp)));
        Ok(())
    }

    /// Sets `key` to `value` with `timestamp`.
    fn put(&mut self, key: &[u8], value: &[u8], timestamp: i64) -> Result<()>;

    /// Sets `key` only if it has no value; returns the existing value otherwise.
    fn put_if_absent(
        &mut self,
        key: &[u8],
        value: &[u8],
        timestamp: i64,
    ) -> Result<Option<ValueAndTimestamp>> {
        match self.get(key)? {
            Some(existing) => Ok(Some(existing)),
            None => {
                self.put(key, value, timestamp)?;
                Ok(None)
            }
        }
    }

    /// Removes `key`, returning its previous value and timestamp.
    fn delete(&mut self, key: &[u8]) -> Result<Option<ValueAndTimestamp>>;

    /// Entries with `from <= key <= to`, in key order; a `None` bound is open.
    fn range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> Result<TimestampedIter<'_>>;

    /// Entries whose key starts with `prefix`, in key order.
    fn prefix_scan(&self, prefix: &[u8]) -> Result<TimestampedIter<'_>>;

    /// All entries, in key order.
    fn all(&self) -> Result<TimestampedIter<'_>> {
        self.range(None, None)
    }

    /// An estimate of the number of entries.
    fn approximate_num_entries(&self) -> Result<u64>;
}

/// A key with the start of its time window, like Kafka's `Windowed<K>` over a `TimeWindow`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WindowedKey {
    /// The record key.
    pub key: Vec<u8>,
    /// Window start, in milliseconds (inclusive).
    pub window_start: i64,
}

/// A store of values per (key, window start), like Kafka Streams' `WindowStore<Bytes, byte[]>`.
///
/// Entries older than the retention period (relative to the largest window start written, the
/// store's observed stream time) are dropped a whole segment at a time and are no longer
/// returned. Its changelog key is Kafka's window-store binary format — key bytes, 8-byte
/// big-endian window start, 4-byte big-endian sequence number — see
/// [`keys::window_changelog_key`](crate::keys::window_changelog_key).
pub trait WindowStore: StateStore {
    /// Writes `value` for `key` in the window starting at `window_start`; `None` deletes. With
    /// duplicates retained, every put adds an entry and `None` is ignored.
    fn put(&mut self, key: &[u8], value: Option<&[u8]>, window_start: i64) -> Result<()>;

    /// The value of `key` in the window starting exactly at `window_start`.
    fn fetch(&self, key: &[u8], window_start: i64) -> Result<Option<Vec<u8>>>;

    /// The windows of `key` starting in `[time_from, time_to]`, in time order.
    fn fetch_range(&self, key: &[u8], time_from: i64, time_to: i64) -> Result<WindowIter<'_>>;

    /// The windows of keys in `[key_from, key_to]` (open when `None`) starting in
    /// `[time_from, time_to]`, ordered by segment, then key, then time.
    fn fetch_key_range(
        &self,
        key_from: Option<&[u8]>,
        key_to: Option<&[u8]>,
        time_from: i64,
        time_to: i64,
    ) -> Result<WindowedIter<'_>>;

    /// All windows starting in `[time_from, time_to]`.
    fn fetch_all(&self, time_from: i64, time_to: i64) -> Result<WindowedIter<'_>> {
        self.fetch_key_range(None, None, time_from, time_to)
    }

    /// Every live window.
    fn all(&self) -> Result<WindowedIter<'_>> {
        self.fetch_key_range(None, None, i64::MIN, i64::MAX)
    }

    /// How long windows are kept, in milliseconds.
    fn retention_period(&self) -> i64;

    /// Whether every put adds an entry (as stream-stream joins need) rather than overwriting.
    fn retain_duplicates(&self) -> bool;
}

/// A session: a key and the time range `[start, end]` of its activity, like Kafka's
/// `Windowed<K>` over a `SessionWindow`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionKey {
    /// The record key.
    pub key: Vec<u8>,
    /// Timestamp of the session's first record (inclusive).
    pub start: i64,
    /// Timestamp of the session's last record (inclusive).
    pub end: i64,
}

impl SessionKey {
    /// A session of `key` over `[start, end]`.
    pub fn new(key: impl Into<Vec<u8>>, start: i64, end: i64) -> Self {
        SessionKey {
            key: key.into(),
            start,
            end,
        }
    }
}

/// A store of session aggregates, like Kafka Streams' `SessionStore<Bytes, byte[]>`.
///
/// Merging sessions is the caller's job: find the sessions overlapping a new record's
/// `[ts - gap, ts + gap]` with [`find_sessions`](Self::find_sessions), remove them, put the merged
/// one. Sessions are segmented by end time and expire by retention like window entries. Its
/// changelog key is Kafka's session binary format — key bytes, 8-byte end, 8-byte start — see
/// [`keys::session_changelog_key`](crate::keys::session_changelog_key).
pub trait SessionStore: StateStore {
    /// Writes the aggregate of the session `(key, start, end)`.
    fn put(&mut self, key: &[u8], start: i64, end: i64, value: &[u8]) -> Result<()>;

    /// Removes the session `(key, start, end)`.
    fn remove(&mut self, key: &[u8], start: i64, end: i64) -> Result<()>;

    /// The aggregate of exactly the session `(key, start, end)`.
    fn fetch_session(&self, key: &[u8], start: i64, end: i64) -> Result<Option<Vec<u8>>>;

    /// The sessions of `key` with `end >= earliest_session_end` and
    /// `start <= latest_session_start`: the sessions overlapping
    /// `[earliest_session_end, latest_session_start]`. Ordered by end time.
    fn find_sessions(
        &self,
        key: &[u8],
        earliest_session_end: i64,
        latest_session_start: i64,
    ) -> Result<SessionIter<'_>>;

    /// Like [`find_sessions`](Self::find_sessions) for the keys in `[key_from, key_to]` (open
    /// when `None`), ordered by segment, then key, then end time.
    fn find_sessions_in_key_range(
        &self,
        key_from: Option<&[u8]>,
        key_to: Option<&[u8]>,
        earliest_session_end: i64,
        latest_session_start: i64,
    ) -> Result<SessionIter<'_>>;

    /// All live sessions of `key`.
    fn fetch(&self, key: &[u8]) -> Result<SessionIter<'_>> {
        self.find_sessions(key, i64::MIN, i64::MAX)
    }

    /// How long sessions are kept after their end, in milliseconds.
    fn retention_period(&self) -> i64;
}
