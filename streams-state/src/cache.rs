//! The record cache: a write-back cache in front of a store that dedupes consecutive updates.
//!
//! Like Kafka Streams' `CachingKeyValueStore` over its `ThreadCache`, a [`CachingKeyValueStore`]
//! absorbs writes: a key updated a hundred times between two commits reaches the store, its
//! changelog and the downstream processors once, with its latest value. Dirty entries are
//! flushed — written to the wrapped store (and so to its changelog) and kept for the store's
//! owner to take ([`take_flushed`](crate::CachedStateStore::take_flushed)), which the DSL forwards —
//! on [`flush_cache`](crate::CachedStateStore::flush_cache) and [`flush`](crate::StateStore::flush)
//! (part of every commit) and whenever the cache exceeds its byte bound, in which case the least
//! recently used entries are evicted after all dirty entries are flushed in the order they were
//! last written. Reads see the cache first; range reads merge
//! the cache (sorting its entries in the range) with the store.

use std::collections::HashMap;
use std::ops::{Bound, RangeBounds};

use crate::cache_slots::CacheSlots;
use crate::cached::CachedStateStore;
use crate::keys::{self, InlineBytes, INLINE_BYTES};
use crate::merge::merge_over;
use crate::record::{ChangelogRecord, RecordContext};
use crate::store::{KeyValueIter, KeyValueStore, KeyWrite, StateStore};
use crate::Result;

// The entries a cache flushes, at their old path.
pub use crate::cached::CachedEntry;

/// Bytes an entry costs beyond its key and value: map nodes and bookkeeping, as Kafka's
/// `LRUCacheEntry` estimates.
pub(crate) const ENTRY_OVERHEAD: usize = 64;

/// What a record cache flushed, kept until the store's owner takes it, like the entries Kafka's
/// caches hand their flush listener. The owner hands back the entries it took as spare buffers:
/// a cache flushing a few entries per commit then allocates nothing for them.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    /// Whether flushed entries are kept at all (the store has an owner that takes them).
    keep: bool,
    /// Whether they carry the value the store held before (deletes always do).
    pub(crate) send_old_values: bool,
    entries: Vec<CachedEntry>,
    /// Entries handed back by the owner, reused for the next flushed entries.
    spare: Vec<CachedEntry>,
    /// Buffers of long values the cache is done with (values replaced, old values flushed),
    /// reused for its next long writes (short ones live inline): a cache written and flushed
    /// once per record then allocates nothing per record.
    spare_values: Vec<Vec<u8>>,
}

/// Spare entries an [`Outbox`] keeps at most: enough for the few entries of a frequent commit,
/// while the buffers of a rare large flush are not pinned.
const SPARE_ENTRIES: usize = 64;

/// The largest value buffer an [`Outbox`] keeps for reuse.
const SPARE_VALUE_BYTES: usize = 4096;

impl Outbox {
    /// Keeps flushed entries from now on, with old values if `send_old_values`.
    pub(crate) fn keep(&mut self, send_old_values: bool) {
        self.keep = true;
        self.send_old_values = send_old_values;
    }

    /// Whether flushed entries are kept.
    pub(crate) fn keeps(&self) -> bool {
        self.keep
    }

    /// Keeps a copy of a flushed entry whose bytes stay in the cache.
    pub(crate) fn push(
        &mut self,
        key: &[u8],
        new_value: Option<&[u8]>,
        old_value: Option<&[u8]>,
        timestamp: i64,
    ) {
        if self.keep {
            let mut entry = self.spare.pop().unwrap_or_default();
            entry.refill(key, new_value, old_value, timestamp);
            self.entries.push(entry);
        }
    }

    /// Keeps a value buffer no longer needed for the cache's next write (unless it is large:
    /// those go back to the allocator, so that spare buffers pin at most
    /// `SPARE_ENTRIES * SPARE_VALUE_BYTES`, outside the cache's accounted bytes).
    pub(crate) fn recycle(&mut self, buffer: Option<Vec<u8>>) {
        if let Some(mut buffer) = buffer {
            if self.spare_values.len() < SPARE_ENTRIES && buffer.capacity() <= SPARE_VALUE_BYTES {
                buffer.clear();
                self.spare_values.push(buffer);
            }
        }
    }

    /// A copy of `bytes`: inline if short, else in a recycled buffer if there is one.
    fn copy_inline(&mut self, bytes: &[u8]) -> InlineBytes {
        if bytes.len() <= INLINE_BYTES {
            InlineBytes::from_slice(bytes)
        } else {
            InlineBytes::from_vec(self.copy(bytes))
        }
    }

    /// Keeps the buffer of a value no longer needed, if it has one of its own (see
    /// [`recycle`](Self::recycle)).
    fn recycle_inline(&mut self, value: Option<InlineBytes>) {
        if let Some(value) = value.filter(InlineBytes::spilled) {
            self.recycle(Some(value.into_vec()));
        }
    }

    /// A copy of `bytes` in a recycled buffer if there is one.
    pub(crate) fn copy(&mut self, bytes: &[u8]) -> Vec<u8> {
        match self.spare_values.pop() {
            Some(mut buffer) => {
                buffer.extend_from_slice(bytes);
                buffer
            }
            None => bytes.to_vec(),
        }
    }

    /// Keeps a flushed entry the cache gives up.
    pub(crate) fn push_owned(&mut self, entry: CachedEntry) {
        if self.keep {
            self.entries.push(entry);
        }
    }

    /// Moves the kept entries into `out`, in flush order, taking `out`'s own entries as spare
    /// buffers.
    pub(crate) fn take(&mut self, out: &mut Vec<CachedEntry>) {
        let room = SPARE_ENTRIES.saturating_sub(self.spare.len());
        out.truncate(room);
        self.spare.append(out);
        std::mem::swap(out, &mut self.entries);
    }
}

/// One cached entry. Values of up to [`INLINE_BYTES`] bytes (a count or sum with its
/// timestamp) live in the slot itself: reading or replacing one touches no other memory.
struct Slot {
    key: Vec<u8>,
    value: Option<InlineBytes>,
    timestamp: i64,
    /// For a dirty entry, what the store below holds for the key, when the cache knows it: the
    /// entry was clean (so it mirrored the store) before it was overwritten. A flush then needs
    /// no read of the store for the old value.
    stored: Stored<InlineBytes>,
}

/// What the store below a dirty cache entry holds for its key.
#[derive(Default)]
pub(crate) enum Stored<V = Vec<u8>> {
    /// Not known: read the store when it is needed.
    #[default]
    Unknown,
    /// This value (`None`: the key is absent).
    Known(Option<V>),
}

impl<V: std::ops::Deref<Target = [u8]>> Stored<V> {
    /// The bytes of the remembered value.
    pub(crate) fn len(&self) -> usize {
        match self {
            Stored::Known(Some(v)) => v.len(),
            _ => 0,
        }
    }
}

impl Slot {
    /// The bytes the entry is accounted for (its key counted twice: the slot's and the index's).
    fn size(&self) -> usize {
        self.key.len() * 2
            + self.value.as_ref().map_or(0, |v| v.len())
            + self.stored.len()
            + ENTRY_OVERHEAD
    }
}

/// A [`KeyValueStore`] with a bounded write-back record cache in front of another one.
pub struct CachingKeyValueStore {
    inner: Box<dyn KeyValueStore>,
    /// Key → slot: every read and write looks one up, while only range reads need key order,
    /// which they sort out of the cache themselves.
    index: HashMap<InlineBytes, usize, keys::KeyHasher>,
    /// The entries, in eviction order and (the dirty ones) in flush order.
    slots: CacheSlots<Slot>,
    bytes: usize,
    max_bytes: usize,
    outbox: Outbox,
    context: RecordContext,
    /// Scratch for [`flush_dirty`](Self::flush_dirty): the slots being flushed, in flush order,
    /// each with its old value.
    flushing: Vec<(usize, Option<InlineBytes>)>,
}

impl CachingKeyValueStore {
    /// Caches up to `max_bytes` in front of `inner`, stamping entries with `context`'s timestamp.
    pub fn new(inner: Box<dyn KeyValueStore>, max_bytes: usize, context: RecordContext) -> Self {
        CachingKeyValueStore {
            inner,
            index: HashMap::default(),
            slots: CacheSlots::new(),
            bytes: 0,
            max_bytes,
            outbox: Outbox::default(),
            context,
            flushing: Vec::new(),
        }
    }

    /// Whether flushed entries carry the store's previous value (needed by `KTable` operators
    /// that send old values, like Kafka's `sendOldValues`). Deletes always carry it.
    pub fn send_old_values(&mut self, enabled: bool) {
        self.outbox.send_old_values = enabled;
    }

    /// Bytes the cache currently accounts for.
    pub fn cached_bytes(&self) -> usize {
        self.bytes
    }

    /// Number of cached entries (clean and dirty).
    pub fn cached_entries(&self) -> usize {
        self.index.len()
    }

    /// Number of entries not yet written to the underlying store.
    pub fn dirty_entries(&self) -> usize {
        self.slots.dirty_len()
    }

    /// Writes `value` (`None`: a delete) for `key` into the cache, as the most recent write.
    fn insert(&mut self, key: &[u8], value: Option<InlineBytes>) -> Result<()> {
        let timestamp = self.context.timestamp();
        match self.index.get(key) {
            Some(&i) => {
                let dirty = self.slots.is_dirty(i);
                let slot = self.slots.get_mut(i);
                self.bytes -= slot.size();
                if !dirty {
                    // A clean entry mirrors the store.
                    slot.stored = Stored::Known(slot.value.take());
                }
                let replaced = std::mem::replace(&mut slot.value, value);
                slot.timestamp = timestamp;
                self.bytes += slot.size();
                self.slots.written(i);
                self.outbox.recycle_inline(replaced);
            }
            None => {
                let slot = Slot {
                    key: key.to_vec(),
                    value,
                    timestamp,
                    stored: Stored::Unknown,
                };
                self.bytes += slot.size();
                let i = self.slots.insert(slot);
                self.index.insert(InlineBytes::from_slice(key), i);
            }
        }
        self.maybe_evict()
    }

    /// Forgets slot `i` (which must be in use).
    fn remove(&mut self, i: usize) {
        let slot = self.slots.remove(i);
        self.bytes -= slot.size();
        self.index.remove(slot.key.as_slice());
    }

    fn maybe_evict(&mut self) -> Result<()> {
        while self.bytes > self.max_bytes {
            let Some(oldest) = self.slots.oldest() else {
                break;
            };
            if self.slots.is_dirty(oldest) {
                tracing::trace!(
                    store = self.inner.name(),
                    "record cache full: flushing dirty entries"
                );
                self.flush_dirty()?;
            }
            self.remove(oldest);
        }
        Ok(())
    }

    /// Writes every dirty entry to the inner store, then keeps them for the owner (if it takes
    /// them) in the order they were last written.
    ///
    /// Each write goes down stamped with the timestamp of the record that made it (so a changelog
    /// record carries it), as Kafka restores a cache entry's record context before writing it
    /// below the cache; runs of entries with one timestamp go down as one batch.
    fn flush_dirty(&mut self) -> Result<()> {
        if self.slots.dirty_len() == 0 {
            return Ok(());
        }
        // Scratch kept across flushes: a commit flushes without allocating it anew.
        let mut flushing = std::mem::take(&mut self.flushing);
        while let Some(i) = self.slots.pop_dirty() {
            let slot = self.slots.get_mut(i);
            let stored = std::mem::take(&mut slot.stored);
            self.bytes -= stored.len();
            let old_value = match stored {
                _ if slot.value.is_some() && !self.outbox.send_old_values => None,
                Stored::Known(value) => value,
                Stored::Unknown => self.inner.get(&slot.key)?.map(InlineBytes::from_vec),
            };
            if slot.value.is_none() && old_value.is_none() {
                continue; // deleting what the store never had: nothing to write or forward
            }
            flushing.push((i, old_value));
        }
        let written = self.write_down(&flushing);
        if written.is_ok() {
            for (i, old_value) in flushing.drain(..) {
                let slot = self.slots.get(i);
                self.outbox.push(
                    &slot.key,
                    slot.value.as_deref(),
                    old_value.as_deref(),
                    slot.timestamp,
                );
                self.outbox.recycle_inline(old_value);
            }
        }
        flushing.clear();
        self.flushing = flushing;
        written
    }

    /// Writes the flushed slots to the store below, runs of one timestamp as one batch, each
    /// stamped with its timestamp.
    fn write_down(&mut self, flushing: &[(usize, Option<InlineBytes>)]) -> Result<()> {
        let slots = &self.slots;
        let write = |&(i, _): &(usize, Option<InlineBytes>)| {
            let slot = slots.get(i);
            (slot.key.as_slice(), slot.value.as_deref())
        };
        let now = self.context.timestamp();
        let mut written = Ok(());
        let mut start = 0;
        while start < flushing.len() {
            let timestamp = slots.get(flushing[start].0).timestamp;
            let run = flushing[start..]
                .iter()
                .take_while(|(i, _)| slots.get(*i).timestamp == timestamp)
                .count();
            self.context.set_timestamp(timestamp);
            written = if run == 1 {
                // The common case of a commit after every record: no batch to allocate.
                self.inner.put_all(&[write(&flushing[start])])
            } else {
                let batch: Vec<KeyWrite<'_>> =
                    flushing[start..start + run].iter().map(write).collect();
                self.inner.put_all(&batch)
            };
            if written.is_err() {
                break;
            }
            start += run;
        }
        self.context.set_timestamp(now);
        written
    }

    fn merged<'a>(
        &'a self,
        lower: Bound<Vec<u8>>,
        upper: Bound<Vec<u8>>,
        store: KeyValueIter<'a>,
    ) -> KeyValueIter<'a> {
        let range = (
            lower.as_ref().map(Vec::as_slice),
            upper.as_ref().map(Vec::as_slice),
        );
        let cached = self
            .index
            .iter()
            .filter(|(key, _)| range.contains(key.as_slice()))
            .map(|(key, &i)| (key.as_slice(), self.slots.get(i).value.as_deref()));
        merge_over(cached.collect(), store)
    }
}

impl StateStore for CachingKeyValueStore {
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
        self.flush_dirty()?;
        self.inner.flush()
    }

    fn close(&mut self) -> Result<()> {
        if self.inner.is_open() {
            self.flush_dirty()?;
        }
        self.index.clear();
        self.slots.clear();
        self.bytes = 0;
        self.inner.close()
    }

    /// Restores straight into the wrapped store, dropping any cached copy of the restored keys.
    fn restore_batch(&mut self, records: &[ChangelogRecord]) -> Result<()> {
        for r in records {
            if let Some(&i) = self.index.get(r.key.as_slice()) {
                self.remove(i);
            }
        }
        self.inner.restore_batch(records)
    }
}

impl KeyValueStore for CachingKeyValueStore {
    fn get_with(&self, key: &[u8], read: &mut dyn FnMut(Option<&[u8]>)) -> Result<()> {
        match self.index.get(key) {
            Some(&i) => {
                read(self.slots.get(i).value.as_deref());
                Ok(())
            }
            None => self.inner.get_with(key, read),
        }
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        if !self.inner.is_open() {
            return Err(crate::Error::closed(self.inner.name()));
        }
        let value = self.outbox.copy_inline(value);
        self.insert(key, Some(value))
    }

    fn put_all(&mut self, entries: &[KeyWrite<'_>]) -> Result<()> {
        for &(k, v) in entries {
            match v {
                Some(v) => self.put(k, v)?,
                None => {
                    self.delete(k)?;
                }
            }
        }
        Ok(())
    }

    fn delete(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let old = self.get(key)?;
        self.insert(key, None)?;
        Ok(old)
    }

    fn range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> Result<KeyValueIter<'_>> {
        if let (Some(f), Some(t)) = (from, to) {
            if f > t {
                return Ok(Box::new(std::iter::empty()));
            }
        }
        let store = self.inner.range(from, to)?;
        let lower = from.map_or(Bound::Unbounded, |f| Bound::Included(f.to_vec()));
        let upper = to.map_or(Bound::Unbounded, |t| Bound::Included(t.to_vec()));
        Ok(self.merged(lower, upper, store))
    }

    fn prefix_scan(&self, prefix: &[u8]) -> Result<KeyValueIter<'_>> {
        let store = self.inner.prefix_scan(prefix)?;
        let upper = keys::prefix_successor(prefix).map_or(Bound::Unbounded, Bound::Excluded);
        Ok(self.merged(Bound::Included(prefix.to_vec()), upper, store))
    }

    /// The wrapped store's estimate, as Kafka's caching store reports: entries still only in the
    /// cache are not counted until flushed.
    fn approximate_num_entries(&self) -> Result<u64> {
        self.inner.approximate_num_entries()
    }
}

impl CachedStateStore for CachingKeyValueStore {
    fn keep_flushed(&mut self, send_old_values: bool) {
        self.outbox.keep(send_old_values);
    }

    fn take_flushed(&mut self, out: &mut Vec<CachedEntry>) {
        self.outbox.take(out);
    }

    fn flush_cache(&mut self) -> Result<()> {
        self.flush_dirty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::InMemoryKeyValueStore;
    use crate::store::KeyValue;

    /// A cache keeping what it flushes, without old values.
    fn cached(max_bytes: usize) -> CachingKeyValueStore {
        let mut store = CachingKeyValueStore::new(
            Box::new(InMemoryKeyValueStore::new("s")),
            max_bytes,
            RecordContext::new(),
        );
        store.keep_flushed(false);
        store
    }

    /// What the cache flushed since the last call.
    fn take(store: &mut CachingKeyValueStore) -> Vec<CachedEntry> {
        let mut taken = Vec::new();
        store.take_flushed(&mut taken);
        taken
    }

    #[test]
    fn taken_entries_are_reused_for_the_next_flushed_ones() {
        let mut outbox = Outbox::default();
        outbox.push(b"dropped", None, None, 0);
        let mut taken = Vec::new();
        outbox.take(&mut taken);
        assert!(taken.is_empty(), "nothing is kept before `keep`");
        outbox.keep(true);
        outbox.push(b"a longer key", Some(b"a longer value"), None, 1);
        outbox.take(&mut taken);
        let capacity = taken[0].key.capacity();
        // Entries handed back with a take are the buffers of those flushed after it.
        outbox.push(b"next", None, None, 2);
        outbox.take(&mut taken);
        outbox.push(b"key", Some(b"new"), Some(b"old"), 7);
        outbox.push(b"deleted", None, Some(b"old"), 8);
        outbox.take(&mut taken);
        assert_eq!(
            taken,
            [
                CachedEntry {
                    key: b"key".to_vec(),
                    new_value: Some(b"new".to_vec()),
                    old_value: Some(b"old".to_vec()),
                    timestamp: 7,
                },
                CachedEntry {
                    key: b"deleted".to_vec(),
                    new_value: None,
                    old_value: Some(b"old".to_vec()),
                    timestamp: 8,
                },
            ]
        );
        assert_eq!(taken[0].key.capacity(), capacity);
    }

    #[test]
    fn short_values_live_inline_and_long_ones_reuse_recycled_buffers() {
        let mut outbox = Outbox::default();
        // Short values need no buffer of their own.
        assert!(!outbox.copy_inline(&[7; INLINE_BYTES]).spilled());
        // A long value no longer needed is the buffer of the next long one.
        let long = outbox.copy_inline(&[1; INLINE_BYTES + 1]);
        assert!(long.spilled());
        let buffer = long.as_ptr();
        outbox.recycle_inline(Some(long));
        let next = outbox.copy_inline(&[2; INLINE_BYTES + 1]);
        assert_eq!(next.as_ptr(), buffer);
        assert_eq!(&next[..], &[2; INLINE_BYTES + 1]);
        // Without recycled buffers, a copy is a new one.
        assert_eq!(outbox.copy(b"more"), b"more");
        // A large buffer is not kept: the next copy gets a buffer of its own size.
        outbox.recycle(Some(vec![0u8; SPARE_VALUE_BYTES + 1]));
        assert!(outbox.copy(b"w").capacity() <= SPARE_VALUE_BYTES);
    }

    #[test]
    fn a_cached_write_and_flush_keeps_short_values_and_old_values_straight() {
        let mut store = cached(1 << 20);
        store.keep_flushed(true);
        let long = [9u8; INLINE_BYTES * 2];
        for (round, value) in [&b"short"[..], &long, b"again short", &long]
            .iter()
            .enumerate()
        {
            store.put(b"k", value).unwrap();
            assert_eq!(store.get(b"k").unwrap().as_deref(), Some(*value));
            store.flush_cache().unwrap();
            let flushed = take(&mut store);
            assert_eq!(flushed.len(), 1);
            assert_eq!(flushed[0].new_value.as_deref(), Some(*value));
            let previous = [&b"short"[..], &long, b"again short"];
            let old = round.checked_sub(1).map(|r| previous[r]);
            assert_eq!(flushed[0].old_value.as_deref(), old, "round {round}");
        }
    }

    #[test]
    fn dedupes_updates_between_flushes() {
        let mut store = cached(1 << 20);
        for i in 0..100u32 {
            store.put(b"k", &i.to_be_bytes()).unwrap();
        }
        store.put(b"j", b"x").unwrap();
        assert_eq!(store.get(b"k").unwrap(), Some(99u32.to_be_bytes().to_vec()));
        assert!(take(&mut store).is_empty());
        store.flush().unwrap();
        let flushed = take(&mut store);
        assert_eq!(flushed.len(), 2);
        // In order of last write: k's last write came before j's.
        assert_eq!(flushed[0].key, b"k");
        assert_eq!(flushed[0].new_value, Some(99u32.to_be_bytes().to_vec()));
        assert_eq!(flushed[1].key, b"j");
        assert_eq!(
            store.inner.get(b"k").unwrap(),
            Some(99u32.to_be_bytes().to_vec())
        );
        // A second flush has nothing to do.
        store.flush().unwrap();
        assert!(take(&mut store).is_empty());
    }

    #[test]
    fn old_values_are_the_values_at_the_previous_flush() {
        let mut store = cached(1 << 20);
        store.send_old_values(true);
        store.put(b"a", b"1").unwrap();
        store.flush().unwrap();
        let mut seen = take(&mut store);
        store.put(b"a", b"2").unwrap();
        store.put(b"a", b"3").unwrap();
        store.flush().unwrap();
        seen.extend(take(&mut store));
        store.delete(b"a").unwrap();
        store.put(b"a", b"4").unwrap();
        store.delete(b"a").unwrap();
        store.flush().unwrap();
        seen.extend(take(&mut store));
        let text = |v: &Option<Vec<u8>>| v.as_ref().map(|v| String::from_utf8_lossy(v).to_string());
        let flushed: Vec<_> = seen
            .iter()
            .map(|e| (text(&e.new_value), text(&e.old_value)))
            .collect();
        let some = |s: &str| Some(s.to_string());
        assert_eq!(
            flushed,
            [(some("1"), None), (some("3"), some("1")), (None, some("3")),]
        );
        // What the cache remembered of the store for its dirty entries is accounted for, and
        // released by the flush.
        assert_eq!(store.cached_bytes(), 2 + ENTRY_OVERHEAD);
    }

    #[test]
    fn deletes_forward_old_value_and_skip_unknown_keys() {
        let mut store = cached(1 << 20);
        store.put(b"a", b"1").unwrap();
        store.flush().unwrap();
        let mut flushed = take(&mut store);
        store.delete(b"a").unwrap();
        store.delete(b"never").unwrap();
        store.flush().unwrap();
        flushed.extend(take(&mut store));
        assert_eq!(flushed.len(), 2);
        assert_eq!(flushed[1].key, b"a");
        assert_eq!(flushed[1].new_value, None);
        assert_eq!(flushed[1].old_value, Some(b"1".to_vec()));
        assert_eq!(store.get(b"a").unwrap(), None);
    }

    #[test]
    fn evicts_when_full_after_flushing_dirty_entries() {
        let mut store = cached(3 * (ENTRY_OVERHEAD + 10));
        for k in [b"k1", b"k2", b"k3", b"k4", b"k5"] {
            store.put(k, b"value!").unwrap();
        }
        assert!(store.cached_bytes() <= 3 * (ENTRY_OVERHEAD + 10));
        // Eviction flushed every dirty entry at that moment, in write order.
        let flushed: Vec<Vec<u8>> = take(&mut store).into_iter().map(|e| e.key).collect();
        assert!(flushed.len() >= 3, "flushed {flushed:?}");
        assert_eq!(
            flushed[..3],
            [b"k1".to_vec(), b"k2".to_vec(), b"k3".to_vec()]
        );
        // Everything is still readable, from cache or store.
        for k in [b"k1", b"k2", b"k3", b"k4", b"k5"] {
            assert_eq!(store.get(k).unwrap(), Some(b"value!".to_vec()));
        }
    }

    #[test]
    fn range_merges_cache_over_store() {
        let mut store = cached(1 << 20);
        store.put(b"a", b"1").unwrap();
        store.put(b"c", b"3").unwrap();
        store.put(b"e", b"5").unwrap();
        store.flush().unwrap();
        store.put(b"b", b"2").unwrap();
        store.put(b"c", b"33").unwrap();
        store.delete(b"e").unwrap();
        let all: Vec<KeyValue> = store.all().unwrap().map(|r| r.unwrap()).collect();
        assert_eq!(
            all,
            vec![
                (b"a".to_vec(), b"1".to_vec()),
                (b"b".to_vec(), b"2".to_vec()),
                (b"c".to_vec(), b"33".to_vec()),
            ]
        );
        let ranged: Vec<KeyValue> = store
            .range(Some(b"b"), Some(b"e"))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(ranged.len(), 2);
        assert_eq!(store.approximate_num_entries().unwrap(), 3); // what the store holds
    }
}
