//! In-memory stores, like Kafka Streams' `Stores.inMemoryKeyValueStore` and friends.
//!
//! Contents live in `BTreeMap`s, so iteration is in key order as with RocksDB. They are not
//! persistent: a restarted task restores them from the changelog in full (no checkpoint is
//! written for them). Use them for small state, or tests, where RocksDB's I/O is not worth it.

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::changelog::ChangelogRecord;
use crate::keys;
use crate::segmented::{
    SegmentWrite, SegmentedBytesStore, SegmentedSessionStore, SegmentedWindowStore,
};
use crate::store::{KeyValueIter, KeyValueStore, StateStore};
use crate::{Error, Result};

/// An in-memory [`KeyValueStore`] over a `BTreeMap`.
pub struct InMemoryKeyValueStore {
    name: String,
    map: BTreeMap<Vec<u8>, Vec<u8>>,
    open: bool,
}

impl InMemoryKeyValueStore {
    /// An empty, open store named `name`.
    pub fn new(name: impl Into<String>) -> Self {
        InMemoryKeyValueStore {
            name: name.into(),
            map: BTreeMap::new(),
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

    fn iter_range(&self, lower: Bound<Vec<u8>>, upper: Bound<Vec<u8>>) -> KeyValueIter<'_> {
        Box::new(
            self.map
                .range((lower, upper))
                .map(|(k, v)| Ok((k.clone(), v.clone()))),
        )
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
        Ok(())
    }
    fn restore_batch(&mut self, records: &[ChangelogRecord]) -> Result<()> {
        self.check_open()?;
        for record in records {
            match &record.value {
                Some(v) => self.map.insert(record.key.clone(), v.clone()),
                None => self.map.remove(&record.key),
            };
        }
        Ok(())
    }
}

impl KeyValueStore for InMemoryKeyValueStore {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.check_open()?;
        Ok(self.map.get(key).cloned())
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.check_open()?;
        self.map.insert(key.to_vec(), value.to_vec());
        Ok(())
    }

    fn delete(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.check_open()?;
        Ok(self.map.remove(key))
    }

    fn range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> Result<KeyValueIter<'_>> {
        self.check_open()?;
        if let (Some(f), Some(t)) = (from, to) {
            if f > t {
                return Ok(Box::new(std::iter::empty()));
            }
        }
        let lower = from.map_or(Bound::Unbounded, |f| Bound::Included(f.to_vec()));
        let upper = to.map_or(Bound::Unbounded, |t| Bound::Included(t.to_vec()));
        Ok(self.iter_range(lower, upper))
    }

    fn prefix_scan(&self, prefix: &[u8]) -> Result<KeyValueIter<'_>> {
        self.check_open()?;
        let upper = keys::prefix_successor(prefix).map_or(Bound::Unbounded, Bound::Excluded);
        Ok(self.iter_range(Bound::Included(prefix.to_vec()), upper))
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
