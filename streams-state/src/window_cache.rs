//! The record cache in front of window and session stores.
//!
//! Like Kafka Streams' `CachingWindowStore` and `CachingSessionStore`, a [`CachingWindowStore`]
//! and a [`CachingSessionStore`] absorb writes in a bounded write-back cache keyed by the store's
//! own key layout — (key, window start) for windows, (key, session end, session start) for
//! sessions — so that a window updated a hundred times between two commits reaches the store,
//! its changelog and the downstream processors once. Reads (`fetch`, the range fetches, session
//! finds) merge the cache over the store in the store's order, the cache winning and its
//! tombstones hiding the store's entries. Dirty entries are flushed, in the order they were last
//! written and each with the timestamp of the record that wrote it, on
//! [`flush_cache`](crate::CachedStateStore::flush_cache) and [`flush`](crate::StateStore::flush) (part
//! of every commit) and when the cache outgrows its byte bound, in which case the least recently
//! used entries are evicted after every dirty entry has been flushed — the same policy as the
//! key-value [`CachingKeyValueStore`](crate::CachingKeyValueStore), whose
//! [`CachedEntry`] and flushed-entry outbox they share.
//!
//! Flushed entries carry their key in the store kind's changelog format
//! ([`keys::window_changelog_key`] with sequence number 0, [`keys::session_changelog_key`]).
//! Window stores that retain duplicates (stream-stream joins) are never cached, as in Kafka.

use std::collections::BTreeMap;
use std::iter::Peekable;
use std::ops::Bound;

use crate::cache::{Outbox, Stored, ENTRY_OVERHEAD};
use crate::cache_slots::CacheSlots;
use crate::cached::{CachedEntry, CachedStateStore};
use crate::keys;
use crate::record::{ChangelogRecord, RecordContext};
use crate::segmented::segment_interval;
use crate::store::{
    SessionIter, SessionKey, SessionStore, StateStore, WindowIter, WindowStore, WindowedIter,
    WindowedKey,
};
use crate::{Error, Result};

/// One cached window or session.
struct Entry {
    /// Its key in the store below (the index's key, kept here too for eviction and flushes).
    store_key: Vec<u8>,
    /// The value, or `None` for a delete.
    value: Option<Vec<u8>>,
    /// Timestamp of the record that last wrote the entry.
    timestamp: i64,
    /// The time retention applies to: the window start, or the session end.
    time: i64,
    /// For a dirty entry, what the store below holds for it when the cache knows (the entry was
    /// clean, so mirrored the store, when it was overwritten): a flush then reads no old value.
    stored: Stored,
}

impl Entry {
    fn size(&self) -> usize {
        self.store_key.len() * 2
            + self.value.as_ref().map_or(0, Vec::len)
            + self.stored.len()
            + ENTRY_OVERHEAD
    }
}

/// A dirty entry taken out for a flush.
struct Dirty {
    store_key: Vec<u8>,
    value: Option<Vec<u8>>,
    timestamp: i64,
    /// What the store holds for it, when known.
    stored: Stored,
}

/// The bookkeeping both caches share: entries indexed by store key (so that a key's windows or
/// sessions form one contiguous range), in least-recently-written and write order
/// ([`CacheSlots`]), and the stream time that decides which entries have expired.
struct TimeCache {
    index: BTreeMap<Vec<u8>, usize>,
    slots: CacheSlots<Entry>,
    bytes: usize,
    max_bytes: usize,
    retention: i64,
    interval: i64,
    /// The largest window start (session end) written or restored, as the store below tracks
    /// its own: reads through the cache hide what the store would no longer return.
    observed: i64,
    /// Clean entries older than this are dropped once the oldest live time reaches it.
    next_purge: i64,
    outbox: Outbox,
    context: RecordContext,
}

impl TimeCache {
    fn new(max_bytes: usize, retention: i64, context: RecordContext) -> Self {
        TimeCache {
            index: BTreeMap::new(),
            slots: CacheSlots::new(),
            bytes: 0,
            max_bytes,
            retention,
            interval: segment_interval(retention),
            observed: i64::MIN,
            next_purge: i64::MIN,
            outbox: Outbox::default(),
            context,
        }
    }

    fn observe(&mut self, time: i64) {
        self.observed = self.observed.max(time);
    }

    /// The oldest time still within retention, as [`Segments`](crate::segmented) computes it.
    fn min_live_time(&self) -> i64 {
        if self.observed == i64::MIN {
            i64::MIN
        } else {
            self.observed
                .saturating_sub(self.retention)
                .saturating_add(1)
        }
    }

    fn segment_id(&self, time: i64) -> i64 {
        time.div_euclid(self.interval)
    }

    /// Number of cached entries.
    fn len(&self) -> usize {
        self.index.len()
    }

    /// Number of entries not yet written below.
    fn dirty_len(&self) -> usize {
        self.slots.dirty_len()
    }

    /// The cached entry under `store_key`.
    fn get(&self, store_key: &[u8]) -> Option<&Entry> {
        self.index.get(store_key).map(|&i| self.slots.get(i))
    }

    /// Writes an entry for `time` (window start, session end), dirty, stamped with the record
    /// context's timestamp.
    fn write(&mut self, store_key: Vec<u8>, time: i64, value: Option<Vec<u8>>) {
        let timestamp = self.context.timestamp();
        if let Some(&i) = self.index.get(&store_key) {
            let dirty = self.slots.is_dirty(i);
            let entry = self.slots.get_mut(i);
            self.bytes -= entry.size();
            if !dirty {
                entry.stored = Stored::Known(entry.value.take());
            }
            let replaced = std::mem::replace(&mut entry.value, value);
            entry.timestamp = timestamp;
            entry.time = time;
            self.bytes += entry.size();
            self.slots.written(i);
            self.outbox.recycle(replaced);
            return;
        }
        let entry = Entry {
            store_key: store_key.clone(),
            value,
            timestamp,
            time,
            stored: Stored::Unknown,
        };
        self.bytes += entry.size();
        let i = self.slots.insert(entry);
        self.index.insert(store_key, i);
    }

    fn remove(&mut self, store_key: &[u8]) {
        if let Some(i) = self.index.remove(store_key) {
            self.bytes -= self.slots.remove(i).size();
        }
    }

    /// Drops the clean entries that have expired, whenever the oldest live time has moved on by
    /// half the retention since the last time: the store below no longer holds them, and reads
    /// would not return them, so they would only make every lookup slower until evicted.
    fn purge_expired(&mut self) {
        let min_live = self.min_live_time();
        if min_live < self.next_purge || self.index.is_empty() {
            return;
        }
        self.next_purge = min_live.saturating_add((self.retention / 2).max(1));
        let expired: Vec<usize> = self
            .index
            .values()
            .copied()
            .filter(|&i| !self.slots.is_dirty(i) && self.slots.get(i).time < min_live)
            .collect();
        for i in expired {
            let entry = self.slots.remove(i);
            self.bytes -= entry.size();
            self.index.remove(&entry.store_key);
        }
    }

    fn clear(&mut self) {
        self.index.clear();
        self.slots.clear();
        self.bytes = 0;
    }

    /// Takes the dirty entries, in the order they were last written, marking them clean.
    fn take_dirty(&mut self) -> Vec<Dirty> {
        let mut out = Vec::with_capacity(self.slots.dirty_len());
        while let Some(i) = self.slots.pop_dirty() {
            let entry = self.slots.get_mut(i);
            let stored = std::mem::take(&mut entry.stored);
            self.bytes -= stored.len();
            out.push(Dirty {
                store_key: entry.store_key.clone(),
                value: entry.value.clone(),
                timestamp: entry.timestamp,
                stored,
            });
        }
        out
    }

    /// The least recently written entry's key, and whether it is dirty, when the cache is over
    /// its bound.
    fn eviction_candidate(&self) -> Option<(Vec<u8>, bool)> {
        if self.bytes <= self.max_bytes {
            return None;
        }
        let i = self.slots.oldest()?;
        Some((self.slots.get(i).store_key.clone(), self.slots.is_dirty(i)))
    }

    /// Cached entries with store keys in `(lower, upper)`, with their value (`None`: deleted).
    fn range(
        &self,
        lower: Bound<Vec<u8>>,
        upper: Bound<Vec<u8>>,
    ) -> impl Iterator<Item = (&Vec<u8>, Option<&Vec<u8>>)> {
        self.index
            .range((lower, upper))
            .map(|(k, &i)| (k, self.slots.get(i).value.as_ref()))
    }
}

/// An entry's store key taken apart: the record key and its two times (window start twice for
/// windows; session start and end).
struct Parsed {
    key: Vec<u8>,
    start: i64,
    end: i64,
}

/// What a cache needs of the store below it.
trait Below {
    /// Takes a store key apart.
    fn parse(&self, store_key: &[u8]) -> Result<Parsed>;
    /// What the store holds for the entry.
    fn read(&self, entry: &Parsed) -> Result<Option<Vec<u8>>>;
    /// Writes (or, for `None`, deletes) the entry.
    fn write(&mut self, entry: &Parsed, value: Option<&[u8]>) -> Result<()>;
    /// The key a flushed entry carries: the store kind's changelog key.
    fn flushed_key(&self, entry: &Parsed) -> Vec<u8>;
    /// The store's name.
    fn store_name(&self) -> &str;
}

fn corrupt_cache_key(store: &str) -> Error {
    Error::InvalidArgument {
        store: store.to_string(),
        message: "record cache holds an unparsable store key".to_string(),
    }
}

impl Below for Box<dyn WindowStore> {
    fn parse(&self, store_key: &[u8]) -> Result<Parsed> {
        let (key, start, _) = keys::parse_window_store_key(store_key)
            .ok_or_else(|| corrupt_cache_key(self.name()))?;
        Ok(Parsed {
            key,
            start,
            end: start,
        })
    }

    fn read(&self, entry: &Parsed) -> Result<Option<Vec<u8>>> {
        self.fetch(&entry.key, entry.start)
    }

    fn write(&mut self, entry: &Parsed, value: Option<&[u8]>) -> Result<()> {
        self.put(&entry.key, value, entry.start)
    }

    fn flushed_key(&self, entry: &Parsed) -> Vec<u8> {
        keys::window_changelog_key(&entry.key, entry.start, 0)
    }

    fn store_name(&self) -> &str {
        self.name()
    }
}

impl Below for Box<dyn SessionStore> {
    fn parse(&self, store_key: &[u8]) -> Result<Parsed> {
        let (key, start, end) = keys::parse_session_store_key(store_key)
            .ok_or_else(|| corrupt_cache_key(self.name()))?;
        Ok(Parsed { key, start, end })
    }

    fn read(&self, entry: &Parsed) -> Result<Option<Vec<u8>>> {
        self.fetch_session(&entry.key, entry.start, entry.end)
    }

    fn write(&mut self, entry: &Parsed, value: Option<&[u8]>) -> Result<()> {
        match value {
            Some(value) => self.put(&entry.key, entry.start, entry.end, value),
            None => self.remove(&entry.key, entry.start, entry.end),
        }
    }

    fn flushed_key(&self, entry: &Parsed) -> Vec<u8> {
        keys::session_changelog_key(&entry.key, entry.start, entry.end)
    }

    fn store_name(&self) -> &str {
        self.name()
    }
}

/// Writes every dirty entry to the store below, each stamped with the timestamp of the record
/// that wrote it (so a changelog record carries it, as Kafka restores a cache entry's record
/// context before writing it down), keeping them for the owner in the order they were last
/// written. A delete of what the store never held is neither written nor handed on.
fn flush_dirty<S: Below>(inner: &mut S, cache: &mut TimeCache) -> Result<()> {
    if cache.dirty_len() == 0 {
        return Ok(());
    }
    let dirty = cache.take_dirty();
    let now = cache.context.timestamp();
    let mut result = Ok(());
    for Dirty {
        store_key,
        value: new_value,
        timestamp,
        stored,
    } in dirty
    {
        let parsed = match inner.parse(&store_key) {
            Ok(parsed) => parsed,
            Err(e) => {
                result = Err(e);
                break;
            }
        };
        let old_value = match stored {
            _ if new_value.is_some() && !cache.outbox.send_old_values => None,
            Stored::Known(known) => known,
            Stored::Unknown => match inner.read(&parsed) {
                Ok(old) => old,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            },
        };
        if new_value.is_none() && old_value.is_none() {
            continue;
        }
        cache.context.set_timestamp(timestamp);
        if let Err(e) = inner.write(&parsed, new_value.as_deref()) {
            result = Err(e);
            break;
        }
        if cache.outbox.keeps() {
            cache.outbox.push_owned(CachedEntry {
                key: inner.flushed_key(&parsed),
                new_value,
                old_value,
                timestamp,
            });
        }
    }
    cache.context.set_timestamp(now);
    result?;
    cache.purge_expired();
    Ok(())
}

/// Evicts least recently used entries while the cache is over its bound, flushing every dirty
/// entry first when one of them is dirty.
fn evict<S: Below>(inner: &mut S, cache: &mut TimeCache) -> Result<()> {
    while let Some((key, dirty)) = cache.eviction_candidate() {
        if dirty {
            tracing::trace!(
                store = inner.store_name(),
                "record cache full: flushing dirty entries"
            );
            flush_dirty(inner, cache)?;
        }
        cache.remove(&key);
    }
    Ok(())
}

/// How merged reads order their entries: the store's segment, then its key layout.
type Order = (i64, Vec<u8>);

/// Cached entries of a merged read, with their position (`None`: deleted in the cache).
type CachedItems<T> = Vec<(Order, Option<T>)>;

/// Merges cached entries (sorted, with tombstones) over a store iterator sorted the same way;
/// the cache wins on equal positions.
struct Merged<'a, T> {
    cache: Peekable<std::vec::IntoIter<(Order, Option<T>)>>,
    store: Peekable<Box<dyn Iterator<Item = Result<T>> + 'a>>,
    order: Box<dyn Fn(&T) -> Order + 'a>,
}

impl<'a, T: 'a> Merged<'a, T> {
    fn boxed(
        mut cache: CachedItems<T>,
        store: Box<dyn Iterator<Item = Result<T>> + 'a>,
        order: impl Fn(&T) -> Order + 'a,
    ) -> Box<dyn Iterator<Item = Result<T>> + 'a> {
        if cache.is_empty() {
            return store;
        }
        cache.sort_by(|a, b| a.0.cmp(&b.0));
        Box::new(Merged {
            cache: cache.into_iter().peekable(),
            store: store.peekable(),
            order: Box::new(order),
        })
    }
}

impl<T> Iterator for Merged<'_, T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let ordering = match (self.cache.peek(), self.store.peek()) {
                (None, _) => return self.store.next(),
                (Some(_), None) => std::cmp::Ordering::Less,
                (Some(_), Some(Err(_))) => return self.store.next(),
                (Some((c, _)), Some(Ok(s))) => c.cmp(&(self.order)(s)),
            };
            match ordering {
                std::cmp::Ordering::Greater => return self.store.next(),
                std::cmp::Ordering::Equal => {
                    self.store.next();
                }
                std::cmp::Ordering::Less => {}
            }
            if let Some((_, Some(item))) = self.cache.next() {
                return Some(Ok(item));
            }
        }
    }
}

/// The store-key range of `[key_from, key_to]` (open when `None`).
fn key_range(key_from: Option<&[u8]>, key_to: Option<&[u8]>) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let lower = key_from.map_or(Bound::Unbounded, |k| {
        Bound::Included(keys::key_lower_bound(k))
    });
    let upper = match key_to.map(|k| keys::prefix_successor(&keys::key_lower_bound(k))) {
        Some(Some(successor)) => Bound::Excluded(successor),
        _ => Bound::Unbounded,
    };
    (lower, upper)
}

/// What both caching stores share — the cache's figures, and a [`StateStore`] that flushes the
/// cache before the store below and forgets the cached copy of what a restore overwrites — for a
/// store type with fields `inner` (the store below) and `cache` (its [`TimeCache`]). `$forget`
/// drops a restored changelog record's entry from the cache.
macro_rules! caching_store {
    ($store:ty, $forget:expr) => {
        impl $store {
            /// Bytes the cache currently accounts for.
            pub fn cached_bytes(&self) -> usize {
                self.cache.bytes
            }

            /// Number of cached entries (clean and dirty).
            pub fn cached_entries(&self) -> usize {
                self.cache.len()
            }

            /// Number of entries not yet written to the underlying store.
            pub fn dirty_entries(&self) -> usize {
                self.cache.dirty_len()
            }

            fn check_open(&self) -> Result<()> {
                if self.inner.is_open() {
                    Ok(())
                } else {
                    Err(Error::closed(self.inner.name()))
                }
            }
        }

        impl StateStore for $store {
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
                flush_dirty(&mut self.inner, &mut self.cache)?;
                self.inner.flush()
            }

            fn close(&mut self) -> Result<()> {
                if self.inner.is_open() {
                    flush_dirty(&mut self.inner, &mut self.cache)?;
                }
                self.cache.clear();
                self.inner.close()
            }

            /// Restores straight into the wrapped store, dropping any cached copy of what is
            /// restored.
            fn restore_batch(&mut self, records: &[ChangelogRecord]) -> Result<()> {
                let forget: fn(&mut TimeCache, &ChangelogRecord) = $forget;
                for record in records {
                    forget(&mut self.cache, record);
                }
                self.inner.restore_batch(records)
            }
        }
    };
}

caching_store!(CachingWindowStore, |cache, record| {
    if let Some((key, start, _)) = keys::parse_window_changelog_key(&record.key) {
        cache.observe(start);
        cache.remove(&keys::window_store_key(&key, start, 0));
    }
});

caching_store!(CachingSessionStore, |cache, record| {
    if let Some((key, start, end)) = keys::parse_session_changelog_key(&record.key) {
        if record.value.is_some() {
            cache.observe(end);
        }
        cache.remove(&keys::session_store_key(&key, start, end));
    }
});

/// A [`WindowStore`] with a bounded write-back record cache in front of another one; see the
/// module docs.
pub struct CachingWindowStore {
    inner: Box<dyn WindowStore>,
    cache: TimeCache,
}

impl CachingWindowStore {
    /// Caches up to `max_bytes` in front of `inner`, stamping entries with `context`'s timestamp.
    /// Fails for a store that retains duplicates: every put of those is a new entry, nothing a
    /// cache could dedupe.
    pub fn new(
        inner: Box<dyn WindowStore>,
        max_bytes: usize,
        context: RecordContext,
    ) -> Result<Self> {
        if inner.retain_duplicates() {
            return Err(Error::InvalidArgument {
                store: inner.name().to_string(),
                message: "a window store that retains duplicates cannot be cached".to_string(),
            });
        }
        let cache = TimeCache::new(max_bytes, inner.retention_period(), context);
        Ok(CachingWindowStore { inner, cache })
    }

    fn order(&self, key: &[u8], start: i64) -> Order {
        (
            self.cache.segment_id(start),
            keys::window_store_key(key, start, 0),
        )
    }
}

impl WindowStore for CachingWindowStore {
    fn put(&mut self, key: &[u8], value: Option<&[u8]>, window_start: i64) -> Result<()> {
        self.check_open()?;
        self.cache.observe(window_start);
        if window_start < self.cache.min_live_time() {
            tracing::debug!(
                store = self.inner.name(),
                window_start,
                "skipping write to an expired window"
            );
            return Ok(());
        }
        let value = value.map(|value| self.cache.outbox.copy(value));
        self.cache.write(
            keys::window_store_key(key, window_start, 0),
            window_start,
            value,
        );
        evict(&mut self.inner, &mut self.cache)
    }

    fn fetch(&self, key: &[u8], window_start: i64) -> Result<Option<Vec<u8>>> {
        self.check_open()?;
        if window_start < self.cache.min_live_time() {
            return Ok(None);
        }
        match self
            .cache
            .get(&keys::window_store_key(key, window_start, 0))
        {
            Some(entry) => Ok(entry.value.clone()),
            None => self.inner.fetch(key, window_start),
        }
    }

    fn fetch_range(&self, key: &[u8], time_from: i64, time_to: i64) -> Result<WindowIter<'_>> {
        self.check_open()?;
        let from = time_from.max(self.cache.min_live_time());
        if from > time_to {
            return Ok(Box::new(std::iter::empty()));
        }
        let cached: CachedItems<(i64, Vec<u8>)> = self
            .cache
            .range(
                Bound::Included(keys::window_store_key(key, from, 0)),
                Bound::Included(keys::window_store_key(key, time_to, u32::MAX)),
            )
            .filter_map(|(store_key, value)| {
                let (_, start, _) = keys::parse_window_store_key(store_key)?;
                Some((
                    (self.cache.segment_id(start), store_key.clone()),
                    value.map(|v| (start, v.clone())),
                ))
            })
            .collect();
        let store = self.inner.fetch_range(key, from, time_to)?;
        let key = key.to_vec();
        Ok(Merged::boxed(cached, store, move |(start, _)| {
            self.order(&key, *start)
        }))
    }

    fn fetch_key_range(
        &self,
        key_from: Option<&[u8]>,
        key_to: Option<&[u8]>,
        time_from: i64,
        time_to: i64,
    ) -> Result<WindowedIter<'_>> {
        self.check_open()?;
        let from = time_from.max(self.cache.min_live_time());
        if from > time_to || matches!((key_from, key_to), (Some(a), Some(b)) if a > b) {
            return Ok(Box::new(std::iter::empty()));
        }
        let (lower, upper) = key_range(key_from, key_to);
        let cached: CachedItems<(WindowedKey, Vec<u8>)> = self
            .cache
            .range(lower, upper)
            .filter_map(|(store_key, value)| {
                let (key, start, _) = keys::parse_window_store_key(store_key)?;
                (from <= start && start <= time_to).then(|| {
                    (
                        (self.cache.segment_id(start), store_key.clone()),
                        value.map(|v| {
                            (
                                WindowedKey {
                                    key,
                                    window_start: start,
                                },
                                v.clone(),
                            )
                        }),
                    )
                })
            })
            .collect();
        let store = self
            .inner
            .fetch_key_range(key_from, key_to, from, time_to)?;
        Ok(Merged::boxed(cached, store, move |(windowed, _)| {
            self.order(&windowed.key, windowed.window_start)
        }))
    }

    fn retention_period(&self) -> i64 {
        self.inner.retention_period()
    }

    fn retain_duplicates(&self) -> bool {
        false
    }
}

impl CachedStateStore for CachingWindowStore {
    fn keep_flushed(&mut self, send_old_values: bool) {
        self.cache.outbox.keep(send_old_values);
    }

    fn take_flushed(&mut self, out: &mut Vec<CachedEntry>) {
        self.cache.outbox.take(out);
    }

    fn flush_cache(&mut self) -> Result<()> {
        flush_dirty(&mut self.inner, &mut self.cache)
    }
}

/// A [`SessionStore`] with a bounded write-back record cache in front of another one; see the
/// module docs.
pub struct CachingSessionStore {
    inner: Box<dyn SessionStore>,
    cache: TimeCache,
}

impl CachingSessionStore {
    /// Caches up to `max_bytes` in front of `inner`, stamping entries with `context`'s timestamp.
    pub fn new(inner: Box<dyn SessionStore>, max_bytes: usize, context: RecordContext) -> Self {
        let cache = TimeCache::new(max_bytes, inner.retention_period(), context);
        CachingSessionStore { inner, cache }
    }

    fn order(&self, session: &SessionKey) -> Order {
        (
            self.cache.segment_id(session.end),
            keys::session_store_key(&session.key, session.start, session.end),
        )
    }

    /// The cached sessions with store keys in `(lower, upper)` that end at or after
    /// `earliest_end` and start at or before `latest_start`.
    fn cached_sessions(
        &self,
        lower: Bound<Vec<u8>>,
        upper: Bound<Vec<u8>>,
        earliest_end: i64,
        latest_start: i64,
    ) -> CachedItems<(SessionKey, Vec<u8>)> {
        self.cache
            .range(lower, upper)
            .filter_map(|(store_key, value)| {
                let (key, start, end) = keys::parse_session_store_key(store_key)?;
                (end >= earliest_end && start <= latest_start).then(|| {
                    (
                        (self.cache.segment_id(end), store_key.clone()),
                        value.map(|v| (SessionKey { key, start, end }, v.clone())),
                    )
                })
            })
            .collect()
    }
}

impl SessionStore for CachingSessionStore {
    fn put(&mut self, key: &[u8], start: i64, end: i64, value: &[u8]) -> Result<()> {
        self.check_open()?;
        if start > end {
            return Err(Error::InvalidArgument {
                store: self.name().to_string(),
                message: format!("session start {start} is after its end {end}"),
            });
        }
        self.cache.observe(end);
        // Like Kafka's `CachingSessionStore`, a write is cached (and forwarded when flushed)
        // even when the store behind will drop it as expired: a session aggregation accepts a
        // session ending exactly at stream time − gap − grace, which is the retention boundary.
        let value = self.cache.outbox.copy(value);
        self.cache
            .write(keys::session_store_key(key, start, end), end, Some(value));
        evict(&mut self.inner, &mut self.cache)
    }

    fn remove(&mut self, key: &[u8], start: i64, end: i64) -> Result<()> {
        self.check_open()?;
        self.cache
            .write(keys::session_store_key(key, start, end), end, None);
        evict(&mut self.inner, &mut self.cache)
    }

    fn fetch_session(&self, key: &[u8], start: i64, end: i64) -> Result<Option<Vec<u8>>> {
        self.check_open()?;
        if end < self.cache.min_live_time() {
            return Ok(None);
        }
        match self.cache.get(&keys::session_store_key(key, start, end)) {
            Some(entry) => Ok(entry.value.clone()),
            None => self.inner.fetch_session(key, start, end),
        }
    }

    fn find_sessions(
        &self,
        key: &[u8],
        earliest_session_end: i64,
        latest_session_start: i64,
    ) -> Result<SessionIter<'_>> {
        self.check_open()?;
        let earliest_end = earliest_session_end.max(self.cache.min_live_time());
        let prefix = keys::key_lower_bound(key);
        let mut lower = prefix.clone();
        lower.extend_from_slice(&keys::encode_time(earliest_end));
        let upper = keys::prefix_successor(&prefix).map_or(Bound::Unbounded, Bound::Excluded);
        let cached = self.cached_sessions(
            Bound::Included(lower),
            upper,
            earliest_end,
            latest_session_start,
        );
        let store = self
            .inner
            .find_sessions(key, earliest_end, latest_session_start)?;
        Ok(Merged::boxed(cached, store, move |(session, _)| {
            self.order(session)
        }))
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
        let earliest_end = earliest_session_end.max(self.cache.min_live_time());
        let (lower, upper) = key_range(key_from, key_to);
        let cached = self.cached_sessions(lower, upper, earliest_end, latest_session_start);
        let store = self.inner.find_sessions_in_key_range(
            key_from,
            key_to,
            earliest_end,
            latest_session_start,
        )?;
        Ok(Merged::boxed(cached, store, move |(session, _)| {
            self.order(session)
        }))
    }

    fn retention_period(&self) -> i64 {
        self.inner.retention_period()
    }
}

impl CachedStateStore for CachingSessionStore {
    fn keep_flushed(&mut self, send_old_values: bool) {
        self.cache.outbox.keep(send_old_values);
    }

    fn take_flushed(&mut self, out: &mut Vec<CachedEntry>) {
        self.cache.outbox.take(out);
    }

    fn flush_cache(&mut self) -> Result<()> {
        flush_dirty(&mut self.inner, &mut self.cache)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;
    use tempfile::TempDir;

    use super::*;
    use crate::test_suite::small_resources;
    use crate::{
        CachingLayer, InMemorySessionStore, InMemoryWindowStore, RecordingChangelogWriter,
        SessionStack, SessionStoreBuilder, StateDirectory, StoreBackend, StoreContext, StoreStack,
        WindowStack, WindowStoreBuilder,
    };

    const BACKENDS: [StoreBackend; 2] = [StoreBackend::InMemory, StoreBackend::RocksDb];

    /// What a store's record cache flushed since the last call.
    trait Flushed {
        fn flushed(&mut self) -> Vec<CachedEntry>;
    }

    impl<S: ?Sized, C: CachingLayer<S>> Flushed for StoreStack<S, C> {
        fn flushed(&mut self) -> Vec<CachedEntry> {
            let mut taken = Vec::new();
            self.cache()
                .expect("a cached store")
                .take_flushed(&mut taken);
            taken
        }
    }

    /// Flushes a store's record cache.
    fn flush_cache<S: ?Sized, C: CachingLayer<S>>(store: &mut StoreStack<S, C>) -> Result<()> {
        store.cache().expect("a cached store").flush_cache()
    }

    struct Env {
        _dir: TempDir,
        changelog: Arc<RecordingChangelogWriter>,
        ctx: StoreContext,
    }

    fn env() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let changelog = Arc::new(RecordingChangelogWriter::new());
        let ctx = StoreContext::new(
            StateDirectory::new(dir.path(), "app"),
            "0_0",
            0,
            small_resources(),
        )
        .with_changelog(changelog.clone());
        Env {
            _dir: dir,
            changelog,
            ctx,
        }
    }

    impl Env {
        /// `(changelog key, value, timestamp)` of what `topic` received so far.
        fn changelog(&self, topic: &str) -> Vec<(Vec<u8>, Option<Vec<u8>>, i64)> {
            self.changelog
                .records(topic, 0)
                .into_iter()
                .map(|r| (r.key, r.value, r.timestamp))
                .collect()
        }

        fn window(&self, backend: StoreBackend, max_bytes: usize) -> WindowStack {
            let mut store = WindowStoreBuilder::new("w", 10 * 60_000)
                .with_backend(backend)
                .with_caching(max_bytes)
                .build(&self.ctx)
                .unwrap();
            store.cache().expect("a cached store").keep_flushed(true);
            store
        }

        fn session(&self, backend: StoreBackend, max_bytes: usize) -> SessionStack {
            let mut store = SessionStoreBuilder::new("s", 10 * 60_000)
                .with_backend(backend)
                .with_caching(max_bytes)
                .build(&self.ctx)
                .unwrap();
            store.cache().expect("a cached store").keep_flushed(true);
            store
        }

        fn at(&self, timestamp: i64) {
            self.ctx.record_context().set_timestamp(timestamp);
        }
    }

    fn wkey(key: &[u8], start: i64) -> Vec<u8> {
        keys::window_changelog_key(key, start, 0)
    }

    fn skey(key: &[u8], start: i64, end: i64) -> Vec<u8> {
        keys::session_changelog_key(key, start, end)
    }

    fn entry(key: Vec<u8>, new: Option<&[u8]>, old: Option<&[u8]>, ts: i64) -> CachedEntry {
        CachedEntry {
            key,
            new_value: new.map(<[u8]>::to_vec),
            old_value: old.map(<[u8]>::to_vec),
            timestamp: ts,
        }
    }

    fn all<T>(iter: impl Iterator<Item = Result<T>>) -> Vec<T> {
        iter.map(|r| r.unwrap()).collect()
    }

    #[test]
    fn window_cache_dedupes_and_flushes_in_write_order_with_the_writers_timestamps() {
        for backend in BACKENDS {
            let env = env();
            let mut store = env.window(backend, 1 << 20);
            env.at(5);
            store.put(b"a", Some(b"1"), 0).unwrap();
            env.at(6);
            store.put(b"b", Some(b"1"), 0).unwrap();
            env.at(7);
            store.put(b"a", Some(b"2"), 0).unwrap();
            env.at(8);
            store.put(b"a", Some(b"1"), 1000).unwrap();
            // Read your writes, before anything reached the store or the changelog.
            assert_eq!(store.fetch(b"a", 0).unwrap(), Some(b"2".to_vec()));
            assert!(env.changelog("app-w-changelog").is_empty(), "{backend:?}");
            env.at(100);
            flush_cache(&mut store).unwrap();
            let expected = vec![
                (wkey(b"b", 0), Some(b"1".to_vec()), 6),
                (wkey(b"a", 0), Some(b"2".to_vec()), 7),
                (wkey(b"a", 1000), Some(b"1".to_vec()), 8),
            ];
            assert_eq!(env.changelog("app-w-changelog"), expected, "{backend:?}");
            assert_eq!(
                store.flushed(),
                vec![
                    entry(wkey(b"b", 0), Some(b"1"), None, 6),
                    entry(wkey(b"a", 0), Some(b"2"), None, 7),
                    entry(wkey(b"a", 1000), Some(b"1"), None, 8),
                ],
                "{backend:?}"
            );
            assert_eq!(
                env.ctx.record_context().timestamp(),
                100,
                "context restored"
            );
            // The next flush carries the value of the previous one as the old value; a delete
            // of what the store holds is a tombstone, and a flush with nothing dirty is silent.
            env.at(9);
            store.put(b"a", Some(b"3"), 0).unwrap();
            store.put(b"b", None, 0).unwrap();
            store.put(b"c", None, 0).unwrap();
            store.flush().unwrap();
            assert_eq!(
                store.flushed(),
                vec![
                    entry(wkey(b"a", 0), Some(b"3"), Some(b"2"), 9),
                    entry(wkey(b"b", 0), None, Some(b"1"), 9),
                ],
                "{backend:?}"
            );
            store.flush().unwrap();
            assert!(store.flushed().is_empty());
            assert_eq!(env.changelog("app-w-changelog").len(), 5, "{backend:?}");
        }
    }

    #[test]
    fn window_cache_evicts_least_recently_used_after_flushing_dirty_entries() {
        for backend in BACKENDS {
            let env = env();
            // Room for three entries of this size: a 16-byte store key (kept twice), the value
            // and the overhead.
            let mut store = env.window(backend, 3 * (2 * 16 + 100 + ENTRY_OVERHEAD) + 10);
            let value = [7u8; 100];
            for (i, key) in [b"k1", b"k2", b"k3"].iter().enumerate() {
                env.at(i as i64);
                store.put(*key, Some(&value), 0).unwrap();
            }
            assert!(store.flushed().is_empty(), "{backend:?}: still fits");
            env.at(3);
            store.put(b"k4", Some(&value), 0).unwrap();
            // Over the bound: every dirty entry is flushed in write order, then `k1` (least
            // recently used) is evicted.
            let keys: Vec<Vec<u8>> = store.flushed().into_iter().map(|e| e.key).collect();
            assert_eq!(
                keys,
                vec![
                    wkey(b"k1", 0),
                    wkey(b"k2", 0),
                    wkey(b"k3", 0),
                    wkey(b"k4", 0)
                ],
                "{backend:?}"
            );
            let cached = store.fetch(b"k1", 0).unwrap();
            assert_eq!(
                cached,
                Some(value.to_vec()),
                "{backend:?}: evicted, read from the store"
            );
            assert_eq!(env.changelog("app-w-changelog").len(), 4);
        }
    }

    #[test]
    fn window_cache_restore_bypasses_the_cache_and_drops_stale_entries() {
        for backend in BACKENDS {
            let env = env();
            let mut store = env.window(backend, 1 << 20);
            store.put(b"a", Some(b"cached"), 0).unwrap();
            let restored = ChangelogRecord::new(wkey(b"a", 0), Some(b"restored".to_vec()), 3);
            store.restore_batch(&[restored]).unwrap();
            assert_eq!(
                store.fetch(b"a", 0).unwrap(),
                Some(b"restored".to_vec()),
                "{backend:?}"
            );
            store.flush().unwrap();
            assert!(
                store.flushed().is_empty(),
                "{backend:?}: nothing left to flush"
            );
            assert!(
                env.changelog("app-w-changelog").is_empty(),
                "restore is not logged"
            );
        }
    }

    #[test]
    fn window_stores_retaining_duplicates_are_never_cached() {
        let env = env();
        let builder = WindowStoreBuilder::new("join", 60_000)
            .in_memory()
            .with_retain_duplicates(true)
            .with_caching(1 << 20);
        assert!(!builder.caching_enabled());
        let mut store = builder.build(&env.ctx).unwrap();
        assert!(store.cache().is_none());
        let inner = Box::new(InMemoryWindowStore::new("join", 60_000, true));
        assert!(CachingWindowStore::new(inner, 1 << 20, RecordContext::new()).is_err());
    }

    #[test]
    fn session_cache_forwards_merged_sessions_tombstones_only_once_they_reached_the_store() {
        for backend in BACKENDS {
            let env = env();
            let mut store = env.session(backend, 1 << 20);
            env.at(0);
            store.put(b"k", 0, 0, b"1").unwrap();
            flush_cache(&mut store).unwrap();
            assert_eq!(
                store.flushed(),
                vec![entry(skey(b"k", 0, 0), Some(b"1"), None, 0)]
            );
            // A record at 5 merges [0, 0] into [0, 5]; one at 20 opens [20, 20], one at 25
            // merges that into [20, 25] before any commit.
            env.at(5);
            store.remove(b"k", 0, 0).unwrap();
            store.put(b"k", 0, 5, b"2").unwrap();
            env.at(20);
            store.put(b"k", 20, 20, b"1").unwrap();
            env.at(25);
            store.remove(b"k", 20, 20).unwrap();
            store.put(b"k", 20, 25, b"2").unwrap();
            let found: Vec<SessionKey> = all(store.find_sessions(b"k", 0, 30).unwrap())
                .into_iter()
                .map(|(s, _)| s)
                .collect();
            assert_eq!(
                found,
                vec![SessionKey::new(*b"k", 0, 5), SessionKey::new(*b"k", 20, 25)],
                "{backend:?}"
            );
            store.flush().unwrap();
            assert_eq!(
                store.flushed(),
                vec![
                    entry(skey(b"k", 0, 0), None, Some(b"1"), 5),
                    entry(skey(b"k", 0, 5), Some(b"2"), None, 5),
                    entry(skey(b"k", 20, 25), Some(b"2"), None, 25),
                ],
                "{backend:?}: [20, 20] never reached the store"
            );
            assert_eq!(env.changelog("app-s-changelog").len(), 4, "{backend:?}");
        }
    }

    #[test]
    fn session_cache_restore_bypasses_the_cache() {
        for backend in BACKENDS {
            let env = env();
            let mut store = env.session(backend, 1 << 20);
            store.put(b"k", 0, 3, b"cached").unwrap();
            let restored = ChangelogRecord::new(skey(b"k", 0, 3), Some(b"restored".to_vec()), 3);
            store.restore_batch(&[restored]).unwrap();
            assert_eq!(
                store.fetch_session(b"k", 0, 3).unwrap(),
                Some(b"restored".to_vec())
            );
            store.flush().unwrap();
            assert!(store.flushed().is_empty(), "{backend:?}");
            assert!(env.changelog("app-s-changelog").is_empty());
        }
    }

    // ---------- model: a cached store reads like the same store uncached ----------

    #[derive(Debug, Clone)]
    enum WindowOp {
        Put(u8, i64, Option<u8>),
        Flush,
    }

    fn window_op() -> impl Strategy<Value = WindowOp> {
        prop_oneof![
            8 => (0u8..4, 0i64..40, proptest::option::weighted(0.85, any::<u8>()))
                .prop_map(|(k, t, v)| WindowOp::Put(k, t * 20_000, v)),
            1 => Just(WindowOp::Flush),
        ]
    }

    fn check_windows(cached: &mut dyn WindowStore, plain: &mut dyn WindowStore, ops: &[WindowOp]) {
        for op in ops {
            match op {
                WindowOp::Put(k, t, v) => {
                    let value = v.map(|v| vec![v; 1 + v as usize % 7]);
                    cached.put(&[*k], value.as_deref(), *t).unwrap();
                    plain.put(&[*k], value.as_deref(), *t).unwrap();
                }
                WindowOp::Flush => cached.flush().unwrap(),
            }
            for k in 0u8..4 {
                for t in [0, 100_000, 400_000] {
                    assert_eq!(
                        cached.fetch(&[k], t).unwrap(),
                        plain.fetch(&[k], t).unwrap()
                    );
                }
                assert_eq!(
                    all(cached.fetch_range(&[k], 100_000, 600_000).unwrap()),
                    all(plain.fetch_range(&[k], 100_000, 600_000).unwrap())
                );
            }
            assert_eq!(all(cached.all().unwrap()), all(plain.all().unwrap()));
            assert_eq!(
                all(cached
                    .fetch_key_range(Some(&[1]), Some(&[2]), 0, 500_000)
                    .unwrap()),
                all(plain
                    .fetch_key_range(Some(&[1]), Some(&[2]), 0, 500_000)
                    .unwrap())
            );
        }
        cached.flush().unwrap();
        assert_eq!(all(cached.all().unwrap()), all(plain.all().unwrap()));
    }

    #[derive(Debug, Clone)]
    enum SessionOp {
        Put(u8, i64, i64, u8),
        Remove(u8, i64, i64),
        Flush,
    }

    fn session_op() -> impl Strategy<Value = SessionOp> {
        prop_oneof![
            6 => (0u8..3, 0i64..40, 0i64..3, any::<u8>())
                .prop_map(|(k, s, d, v)| SessionOp::Put(k, s * 20_000, (s + d) * 20_000, v)),
            3 => (0u8..3, 0i64..40, 0i64..3)
                .prop_map(|(k, s, d)| SessionOp::Remove(k, s * 20_000, (s + d) * 20_000)),
            1 => Just(SessionOp::Flush),
        ]
    }

    fn check_sessions(
        cached: &mut dyn SessionStore,
        plain: &mut dyn SessionStore,
        ops: &[SessionOp],
    ) {
        for op in ops {
            match op {
                SessionOp::Put(k, s, e, v) => {
                    cached.put(&[*k], *s, *e, &[*v]).unwrap();
                    plain.put(&[*k], *s, *e, &[*v]).unwrap();
                }
                SessionOp::Remove(k, s, e) => {
                    cached.remove(&[*k], *s, *e).unwrap();
                    plain.remove(&[*k], *s, *e).unwrap();
                }
                SessionOp::Flush => cached.flush().unwrap(),
            }
            for k in 0u8..3 {
                assert_eq!(
                    all(cached.find_sessions(&[k], 100_000, 500_000).unwrap()),
                    all(plain.find_sessions(&[k], 100_000, 500_000).unwrap())
                );
                assert_eq!(
                    all(cached.fetch(&[k]).unwrap()),
                    all(plain.fetch(&[k]).unwrap())
                );
                assert_eq!(
                    cached.fetch_session(&[k], 40_000, 60_000).unwrap(),
                    plain.fetch_session(&[k], 40_000, 60_000).unwrap()
                );
            }
            assert_eq!(
                all(cached
                    .find_sessions_in_key_range(None, Some(&[1]), 0, i64::MAX)
                    .unwrap()),
                all(plain
                    .find_sessions_in_key_range(None, Some(&[1]), 0, i64::MAX)
                    .unwrap())
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn cached_memory_window_store_reads_like_uncached(
            ops in proptest::collection::vec(window_op(), 1..80),
            max_bytes in prop_oneof![Just(0usize), Just(400), Just(1 << 20)],
        ) {
            let retention = 300_000;
            let inner = Box::new(InMemoryWindowStore::new("w", retention, false));
            let mut cached = CachingWindowStore::new(inner, max_bytes, RecordContext::new()).unwrap();
            let mut plain = InMemoryWindowStore::new("w", retention, false);
            check_windows(&mut cached, &mut plain, &ops);
        }

        #[test]
        fn cached_memory_session_store_reads_like_uncached(
            ops in proptest::collection::vec(session_op(), 1..80),
            max_bytes in prop_oneof![Just(0usize), Just(300), Just(1 << 20)],
        ) {
            let retention = 300_000;
            let inner = Box::new(InMemorySessionStore::new("s", retention));
            let mut cached = CachingSessionStore::new(inner, max_bytes, RecordContext::new());
            let mut plain = InMemorySessionStore::new("s", retention);
            check_sessions(&mut cached, &mut plain, &ops);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]

        #[test]
        fn cached_rocksdb_window_and_session_stores_read_like_uncached(
            wops in proptest::collection::vec(window_op(), 1..60),
            sops in proptest::collection::vec(session_op(), 1..60),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let res = small_resources();
            let open_w = |name: &str| {
                crate::RocksDbWindowStore::open(name, dir.path().join(name), &res, 300_000, false)
                    .unwrap()
            };
            let inner = Box::new(open_w("cw"));
            let mut cached = CachingWindowStore::new(inner, 400, RecordContext::new()).unwrap();
            check_windows(&mut cached, &mut open_w("pw"), &wops);
            let open_s = |name: &str| {
                crate::RocksDbSessionStore::open(name, dir.path().join(name), &res, 300_000)
                    .unwrap()
            };
            let mut cached = CachingSessionStore::new(Box::new(open_s("cs")), 300, RecordContext::new());
            check_sessions(&mut cached, &mut open_s("ps"), &sops);
        }
    }
}
