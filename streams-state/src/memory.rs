//! In-memory stores, like Kafka Streams' `Stores.inMemoryKeyValueStore` and friends.
//!
//! Key-value contents live in a hash map for point reads and writes, with an ordered index of
//! the keys beside it for range reads, so iteration is in key order as with RocksDB while a
//! `get` or an update of an existing key costs one hash lookup instead of a walk down an ordered
//! tree. Window and session segments live in `BTreeMap`s. None of them is persistent: a restarted
//! task restores them from the changelog in full (no checkpoint is written for them). Use them
//! for small state, or tests, where RocksDB's I/O is not worth it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;

use crate::keys::{self, InlineBytes};
use crate::record::ChangelogRecord;
use crate::segmented::{
    SegmentWrite, SegmentedBytesStore, SegmentedSessionStore, SegmentedWindowStore,
};
use crate::store::{KeyValueIter, KeyValueStore, StateStore};
use crate::{Error, Result};

/// An in-memory [`KeyValueStore`]: a hash map (foldhash, seeded at random, so that peers cannot
/// pick keys that collide on purpose) plus an ordered index of its keys for ranges. Keys and
/// values of up to 16 bytes live inline in both (see `keys::InlineBytes`); each holds its own
/// copy of a longer key.
pub struct InMemoryKeyValueStore {
    name: String,
    map: HashMap<InlineBytes, InlineBytes, keys::KeyHasher>,
    order: BTreeSet<InlineBytes>,
    open: bool,
}

impl InMemoryKeyValueStore {
    /// An empty, open store named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        InMemoryKeyValueStore {
            name: name.into(),
            map: HashMap::default(),
            order: BTreeSet::new(),
            open: true,
        }
    }

    fn check_open(&self) -> Result<()> {
        if self.open {
            Ok(())
        } else {
            Err(Error::closed(&self.name))
        }
    }

    /// Sets `key` to `value`: an existing key's value buffer is reused, a new key is added to
    /// both the map and the ordered index.
    fn insert(&mut self, key: &[u8], value: &[u8]) {
        if let Some(existing) = self.map.get_mut(key) {
            existing.clear();
            existing.extend_from_slice(value);
            return;
        }
        let key = InlineBytes::from_slice(key);
        self.order.insert(key.clone());
        self.map.insert(key, InlineBytes::from_slice(value));
    }

    fn remove(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        let old = self.map.remove(key)?;
        self.order.remove(key);
        Some(old.into_vec())
    }

    fn iter_range(&self, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> KeyValueIter<'_> {
        Box::new(self.order.range::<[u8], _>((lower, upper)).map(|k| {
            let value = self.map.get(k).map(|v| v.to_vec()).unwrap_or_default();
            Ok((k.to_vec(), value))
        }))
    }
}

impl StateStore for InMemoryKeyValueStore {
    fn name(&self) -> &str {
        &self.name
    }
    fn persistent(&self) -> bool {
        false
    }
    fn is_open(&self) -> bool {
        self.open
    }
    fn flush(&mut self) -> Result<()> {
        self.check_open()
    }
    fn close(&mut self) -> Result<()> {
        self.open = false;
        self.map.clear();
        self.order.clear();
        Ok(())
    }
    fn restore_batch(&mut self, records: &[ChangelogRecord]) -> Result<()> {
        self.check_open()?;
        for record in records {
            match &record.value {
                Some(v) => self.insert(&record.key, v),
                None => {
                    self.remove(&record.key);
                }
            }
        }
        Ok(())
    }
}

impl KeyValueStore for InMemoryKeyValueStore {
    fn get_with(&self, key: &[u8], read: &mut dyn FnMut(Option<&[u8]>)) -> Result<()> {
        self.check_open()?;
        read(self.map.get(key).map(InlineBytes::as_slice));
        Ok(())
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.check_open()?;
        self.insert(key, value);
        Ok(())
    }

    fn delete(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.check_open()?;
        Ok(self.remove(key))
    }

    fn range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> Result<KeyValueIter<'_>> {
        self.check_open()?;
        if let (Some(f), Some(t)) = (from, to) {
            if f > t {
                return Ok(Box::new(std::iter::empty()));
            }
        }
        let lower = from.map_or(Bound::Unbounded, Bound::Included);
        let upper = to.map_or(Bound::Unbounded, Bound::Included);
        Ok(self.iter_range(lower, upper))
    }

    fn prefix_scan(&self, prefix: &[u8]) -> Result<KeyValueIter<'_>> {
        self.check_open()?;
        let successor = keys::prefix_successor(prefix);
        let upper = successor
            .as_deref()
            .map_or(Bound::Unbounded, Bound::Excluded);
        Ok(self.iter_range(Bound::Included(prefix), upper))
    }

    fn approximate_num_entries(&self) -> Result<u64> {
        self.check_open()?;
        Ok(self.map.len() as u64)
    }
}

/// In-memory segments: an ordered map per segment id.
pub struct MemorySegments {
    name: String,
    segments: BTreeMap<i64, BTreeMap<Vec<u8>, Vec<u8>>>,
    open: bool,
}

impl MemorySegments {
    /// Empty segments for the store `name`.
    pub fn new(name: impl Into<String>) -> Self {
        MemorySegments {
            name: name.into(),
            segments: BTreeMap::new(),
            open: true,
        }
    }
}

impl SegmentedBytesStore for MemorySegments {
    fn name(&self) -> &str {
        &self.name
    }
    fn persistent(&self) -> bool {
        false
    }
    fn is_open(&self) -> bool {
        self.open
    }

    fn get(&self, segment: i64, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self
            .segments
            .get(&segment)
            .and_then(|s| s.get(key))
            .cloned())
    }

    fn write(&mut self, writes: Vec<SegmentWrite>, _restoring: bool) -> Result<()> {
        for w in writes {
            match w.value {
                Some(v) => {
                    self.segments.entry(w.segment).or_default().insert(w.key, v);
                }
                None => {
                    if let Some(s) = self.segments.get_mut(&w.segment) {
                        s.remove(&w.key);
                    }
                }
            }
        }
        Ok(())
    }

    fn scan(
        &self,
        segment_from: i64,
        segment_to: i64,
        lower: Vec<u8>,
        upper: Option<Vec<u8>>,
    ) -> Result<KeyValueIter<'_>> {
        if segment_from > segment_to {
            return Ok(Box::new(std::iter::empty()));
        }
        let upper = upper.map_or(Bound::Unbounded, Bound::Excluded);
        if let Bound::Excluded(u) = &upper {
            if *u <= lower {
                return Ok(Box::new(std::iter::empty()));
            }
        }
        Ok(Box::new(
            self.segments
                .range(segment_from..=segment_to)
                .flat_map(move |(_, seg)| {
                    seg.range((Bound::Included(lower.clone()), upper.clone()))
                        .map(|(k, v)| Ok((k.clone(), v.clone())))
                }),
        ))
    }

    fn segment_ids(&self) -> Vec<i64> {
        self.segments.keys().copied().collect()
    }

    fn drop_segments_before(&mut self, segment: i64) -> Result<Vec<i64>> {
        let live = self.segments.split_off(&segment);
        let dropped = std::mem::replace(&mut self.segments, live);
        Ok(dropped.into_keys().collect())
    }

    fn flush(&mut self) -> Result<()> {
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        self.open = false;
        self.segments.clear();
        Ok(())
    }
}

/// An in-memory [`WindowStore`](crate::WindowStore).
pub type InMemoryWindowStore = SegmentedWindowStore<MemorySegments>;

impl InMemoryWindowStore {
    /// An empty window store keeping windows for `retention_ms` milliseconds of stream time;
    /// with `retain_duplicates` every put adds an entry (for stream-stream joins).
    pub fn new(name: impl Into<String>, retention_ms: i64, retain_duplicates: bool) -> Self {
        SegmentedWindowStore::with_backend(
            MemorySegments::new(name),
            retention_ms,
            retain_duplicates,
        )
    }
}

/// An in-memory [`SessionStore`](crate::SessionStore).
pub type InMemorySessionStore = SegmentedSessionStore<MemorySegments>;

impl InMemorySessionStore {
    /// An empty session store keeping sessions for `retention_ms` milliseconds after their end.
    pub fn new(name: impl Into<String>, retention_ms: i64) -> Self {
        SegmentedSessionStore::with_backend(MemorySegments::new(name), retention_ms)
    }
}
