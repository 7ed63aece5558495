//! Forwarding table updates from a record cache, like Kafka Streams' `TimestampedCacheFlushListener`
//! and `SessionCacheFlushListener`.
//!
//! An aggregation (windowed or not), source table or materialized table operator whose store has a
//! record cache (the default, see `Materialized::with_caching_enabled`) does not forward each
//! update as it happens ([`TableStore`] for the key-value ones): the cache keeps the latest value
//! per key, and the processor forwards what the cache flushes — at every commit
//! (`Processor::flush`) and when the cache evicts because it is full (during `process`).
//! Downstream then sees one update per key per commit, with the value the key had at the
//! previous flush as the old value, the timestamp of its latest value, and the headers of the
//! record that last wrote it.
//!
//! Processors that only read a table's store (joins) hold it as a [`ConnectedTable`], the part
//! of a [`TableStore`] without the cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use streams_state::CachedEntry;

use super::change::Change;
use crate::error::Result;
use crate::processor::{Data, ProcessorContext};
use crate::record::{Headers, Record};
use crate::serde::Serde;
use crate::state::{
    initialized, CachedRef, FlushedUpdate, LockedTable, TimestampedKeyValueStoreRef,
};

/// A table's timestamped store as a processor uses it: declared by name and serdes when the
/// topology is built, connected in the processor's `init` (each task's processor connects its
/// own), read or written afterwards.
pub(crate) struct ConnectedTable<K, V> {
    pub(crate) store_name: Arc<str>,
    pub(crate) keys: Arc<dyn Serde<K>>,
    pub(crate) values: Arc<dyn Serde<V>>,
    store: Option<TimestampedKeyValueStoreRef<K, V>>,
}

/// A copy is not connected.
impl<K, V> Clone for ConnectedTable<K, V> {
    fn clone(&self) -> Self {
        ConnectedTable {
            store_name: Arc::clone(&self.store_name),
            keys: Arc::clone(&self.keys),
            values: Arc::clone(&self.values),
            store: None,
        }
    }
}

impl<K: Data, V: Data> ConnectedTable<K, V> {
    /// The store `store_name` with these serdes, not yet connected.
    pub(crate) fn new(
        store_name: Arc<str>,
        keys: Arc<dyn Serde<K>>,
        values: Arc<dyn Serde<V>>,
    ) -> Self {
        ConnectedTable {
            store_name,
            keys,
            values,
            store: None,
        }
    }

    /// Connects the store: the processor's `init`.
    pub(crate) fn connect<KIn: Data, VIn: Data>(
        &mut self,
        ctx: &mut ProcessorContext<'_, KIn, VIn>,
    ) -> Result<&TimestampedKeyValueStoreRef<K, V>> {
        let store = ctx.timestamped_store_shared(
            &self.store_name,
            Arc::clone(&self.keys),
            Arc::clone(&self.values),
        )?;
        Ok(self.store.insert(store))
    }

    /// The connected store.
    pub(crate) fn store(&self) -> Result<&TimestampedKeyValueStoreRef<K, V>> {
        initialized(&self.store, &self.store_name)
    }
}

/// The timestamped store a table-producing processor keeps its rows in (an aggregation, a source
/// table, a materialized table operator or table join), with the store's record cache if it has
/// one, like Kafka's `TimestampedTupleForwarder`: with a cache, updates are forwarded when the
/// cache flushes them; without, as they are written.
pub(crate) struct TableStore<K, V> {
    pub(crate) table: ConnectedTable<K, V>,
    cache: Option<CacheForwarder>,
    last_write: LastWrite<K, V>,
    /// The key being written, serialized into a buffer kept across writes: the key of the last
    /// write, which `last_write` remembers.
    key: Vec<u8>,
}

/// The update a processor last wrote into its store's record cache, kept typed: when the cache
/// flushes that entry unchanged (its key and value bytes are the ones written), it is forwarded
/// as written instead of deserialized back from the cache's bytes. A commit after every record,
/// as the test driver makes, or a key written again and again between commits, hits it; any
/// other entry is decoded as before. Its key's bytes are the table store's key buffer, which no
/// write changes without first forgetting the last one.
struct LastWrite<K, V> {
    /// The value's bytes (without the timestamp the store adds).
    value: Vec<u8>,
    /// The key, value and timestamp, until forwarded. In a mutex only so that the processor
    /// templates holding one are `Sync` whatever `K` and `V` are: reached through `get_mut`,
    /// never locked.
    typed: Mutex<Option<(K, V, i64)>>,
}

impl<K, V> Default for LastWrite<K, V> {
    fn default() -> Self {
        LastWrite {
            value: Vec::new(),
            typed: Mutex::new(None),
        }
    }
}

impl<K, V> LastWrite<K, V> {
    /// Serializes the value about to be written into the remembered value's buffer (the last
    /// write must be forgotten first); a store without a cache writes from it too.
    fn encode(&mut self, store: &TimestampedKeyValueStoreRef<K, V>, value: &V) -> Result<&[u8]>
    where
        K: 'static,
        V: 'static,
    {
        store.encode_value_into(value, &mut self.value)?;
        Ok(&self.value)
    }

    /// Remembers the write of [`encode`](Self::encode)'s bytes.
    fn remember(&mut self, typed: (K, V, i64)) {
        *self.typed() = Some(typed);
    }

    fn forget(&mut self) {
        *self.typed() = None;
    }

    fn typed(&mut self) -> &mut Option<(K, V, i64)> {
        self.typed.get_mut().unwrap_or_else(PoisonError::into_inner)
    }

    /// The typed key, value and timestamp of `entry` if it is the remembered write, of the key
    /// `key` (serialized).
    fn take_if_written(&mut self, key: &[u8], entry: &CachedEntry) -> Option<(K, V, i64)> {
        let value = &self.value[..];
        let typed = self.typed.get_mut().unwrap_or_else(PoisonError::into_inner);
        let (_, _, timestamp) = typed.as_ref()?;
        let stored = entry.new_value.as_deref()?;
        let unchanged = entry.key == key
            && streams_state::timestamped::split(stored) == Some((*timestamp, value));
        if unchanged {
            typed.take()
        } else {
            None
        }
    }
}

/// A copy is not connected: each task's processor connects its own.
impl<K, V> Clone for TableStore<K, V> {
    fn clone(&self) -> Self {
        TableStore {
            table: self.table.clone(),
            cache: None,
            last_write: LastWrite::default(),
            key: Vec::new(),
        }
    }
}

impl<K: Data, V: Data> TableStore<K, V> {
    /// The store `store_name` with these serdes, not yet connected.
    pub(crate) fn new(
        store_name: Arc<str>,
        keys: Arc<dyn Serde<K>>,
        values: Arc<dyn Serde<V>>,
    ) -> Self {
        TableStore {
            table: ConnectedTable::new(store_name, keys, values),
            cache: None,
            last_write: LastWrite::default(),
            key: Vec::new(),
        }
    }

    /// Connects the store, and listens to its record cache if it has one: the processor's
    /// `init`.
    pub(crate) fn connect<KIn: Data, VIn: Data>(
        &mut self,
        ctx: &mut ProcessorContext<'_, KIn, VIn>,
    ) -> Result<()> {
        let kept = self.table.connect(ctx)?.keep_flushed();
        self.cache = CacheForwarder::keeping(kept, &self.table.store_name, ctx);
        Ok(())
    }

    /// Whether updates go through a record cache (then the old value of a change written with
    /// [`write_and_forward`](Self::write_and_forward) is not used: the cache knows its own).
    pub(crate) fn is_cached(&self) -> bool {
        self.cache.is_some()
    }

    /// Writes the change's new value for the record's key with the record's timestamp — a delete
    /// when it has none — and forwards the change: at once without a record cache, else when the
    /// cache flushes it (what the write evicted goes now).
    pub(crate) fn write_and_forward(
        &mut self,
        record: Record<K, Change<V>>,
        ctx: &mut ProcessorContext<'_, K, Change<V>>,
    ) -> Result<()> {
        self.update_and_forward(record, ctx, |_, _, record| Ok(record))
    }

    /// Like [`write_and_forward`](Self::write_and_forward), the change made by `change` from the
    /// input record and the locked store (to read the row of the key, serialized), the read and
    /// the write under one lock. The change is forwarded after the lock is released, as
    /// downstream processors may read the store.
    pub(crate) fn update_and_forward<VIn>(
        &mut self,
        record: Record<K, VIn>,
        ctx: &mut ProcessorContext<'_, K, Change<V>>,
        change: impl FnOnce(
            &LockedTable<'_, K, V>,
            &[u8],
            Record<K, VIn>,
        ) -> Result<Record<K, Change<V>>>,
    ) -> Result<()> {
        let TableStore {
            table,
            cache,
            last_write,
            key,
        } = self;
        let store = table.store()?;
        // The key buffer is the remembered write's key: forget that write before changing it.
        last_write.forget();
        store.key_bytes_into(&record.key, key)?;
        let mut locked = store.locked();
        let mut record = change(&locked, key, record)?;
        let Some(cache) = cache else {
            match &record.value.new {
                // Serialized into the kept buffer (nothing to remember without a cache).
                Some(value) => {
                    locked.put_encoded(key, last_write.encode(store, value)?, record.timestamp)?
                }
                None => locked.remove(key)?,
            }
            drop(locked);
            return ctx.forward(record);
        };
        // Before the write, which may evict the key at once.
        cache.writing(key, std::mem::take(&mut record.headers));
        match record.value.new {
            Some(value) => {
                locked.put_encoded(key, last_write.encode(store, &value)?, record.timestamp)?;
                last_write.remember((record.key, value, record.timestamp));
            }
            None => locked.remove(key)?,
        }
        locked.take_flushed(cache.taken());
        drop(locked);
        Self::forward_taken(cache, store, last_write, key, ctx)
    }

    /// Forwards what was taken from the cache: the last write (to `key`) as written, other
    /// entries decoded.
    fn forward_taken(
        cache: &mut CacheForwarder,
        store: &TimestampedKeyValueStoreRef<K, V>,
        last_write: &mut LastWrite<K, V>,
        key: &[u8],
        ctx: &mut ProcessorContext<'_, K, Change<V>>,
    ) -> Result<()> {
        cache.forward_taken(ctx, |entry| match last_write.take_if_written(key, entry) {
            Some((key, value, timestamp)) => {
                let old = store.decode_old_value(entry)?;
                Ok((key, Change::new(Some(value), old), timestamp))
            }
            None => Ok(table_update(store.decode_flushed(entry)?)),
        })
    }

    /// Flushes the store's record cache and forwards what it held: the processor's part of a
    /// commit (`Processor::flush`).
    pub(crate) fn flush(&mut self, ctx: &mut ProcessorContext<'_, K, Change<V>>) -> Result<()> {
        match &mut self.cache {
            Some(cache) => {
                let store = self.table.store()?;
                store.flush_cache_taking(cache.taken())?;
                Self::forward_taken(cache, store, &mut self.last_write, &self.key, ctx)
            }
            None => Ok(()),
        }
    }
}

/// Forwards what a store's record cache flushed, which the processor owning the store takes
/// from it after each write and at each commit.
pub(crate) struct CacheForwarder {
    /// The entries last taken from the cache: forwarded, then handed back to the cache with the
    /// next take as buffers for the entries it flushes next.
    taken: Vec<CachedEntry>,
    /// The headers of the record that last wrote each cached key, when it had any: what the
    /// key's update is forwarded with, as Kafka keeps a cache entry's record context. Records
    /// without headers cost nothing here.
    headers: HashMap<Vec<u8>, Headers>,
}

impl CacheForwarder {
    /// A forwarder for the store `store`, whose record cache keeps what it flushes if `kept`
    /// (the store ref's `keep_flushed`); `None` when it has no cache, in which case the processor
    /// forwards each update itself. The processor flushes the cache at each commit, so the task
    /// need not.
    pub(crate) fn keeping<K: Data, V: Data>(
        kept: bool,
        store: &str,
        ctx: &mut ProcessorContext<'_, K, V>,
    ) -> Option<Self> {
        if !kept {
            ctx.has_no_cache(store);
            return None;
        }
        ctx.flushes_cache(store);
        Some(CacheForwarder {
            taken: Vec::new(),
            headers: HashMap::new(),
        })
    }

    /// Where to take the cache's flushed entries to (see `take_flushed` of the store refs).
    pub(crate) fn taken(&mut self) -> &mut Vec<CachedEntry> {
        &mut self.taken
    }

    /// Notes the headers of the record about to write `key` (serialized), which the key's next
    /// flushed update carries. Call it before the write: the write may evict the key at once.
    pub(crate) fn writing(&mut self, key: &[u8], headers: Headers) {
        if !headers.is_empty() {
            self.headers.insert(key.to_vec(), headers);
        } else if !self.headers.is_empty() {
            self.headers.remove(key);
        }
    }

    /// Like [`writing`](Self::writing), computing the key (the cache's own key of the entry)
    /// only when there are headers to keep or forget.
    pub(crate) fn writing_with(
        &mut self,
        headers: &Headers,
        key: impl FnOnce() -> Result<Vec<u8>>,
    ) -> Result<()> {
        if headers.is_empty() && self.headers.is_empty() {
            return Ok(());
        }
        self.writing(&key()?, headers.clone());
        Ok(())
    }

    /// Forwards, in flush order, every entry last taken from the cache, each turned into a key,
    /// value and timestamp by `decode` and carrying the headers of the record that last wrote it.
    pub(crate) fn forward_taken<K: Data, V: Data>(
        &mut self,
        ctx: &mut ProcessorContext<'_, K, V>,
        mut decode: impl FnMut(&mut CachedEntry) -> Result<(K, V, i64)>,
    ) -> Result<()> {
        let CacheForwarder { taken, headers } = self;
        for entry in taken.iter_mut() {
            let headers = if headers.is_empty() {
                Headers::new()
            } else {
                headers.remove(&entry.key).unwrap_or_default()
            };
            let (key, value, timestamp) = decode(entry)?;
            // Downstream stores stamp their writes with the forwarded record's timestamp.
            ctx.set_record_timestamp(timestamp);
            ctx.forward(Record {
                key,
                value,
                timestamp,
                headers,
            })?;
        }
        Ok(())
    }
}

/// A flushed entry of a timestamped store as the table update downstream sees: key, the change,
/// and the timestamp of the new value (of the delete's record, for a delete).
pub(crate) fn table_update<K, V>(update: FlushedUpdate<K, V>) -> (K, Change<V>, i64) {
    let (new, timestamp) = match update.new {
        Some((value, timestamp)) => (Some(value), timestamp),
        None => (None, update.timestamp),
    };
    (update.key, Change::new(new, update.old), timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use streams_state::ValueAndTimestamp;

    fn flushed(key: &[u8], value: &[u8], timestamp: i64) -> CachedEntry {
        CachedEntry {
            key: key.to_vec(),
            new_value: Some(
                ValueAndTimestamp {
                    value: value.to_vec(),
                    timestamp,
                }
                .encode(),
            ),
            old_value: None,
            timestamp,
        }
    }

    #[test]
    fn the_last_write_is_taken_only_for_the_entry_it_wrote() {
        let mut last = LastWrite {
            value: b"v1".to_vec(),
            ..LastWrite::default()
        };
        last.remember(("k", 1, 10));
        // Another key, another value, another timestamp, or a delete: decoded as usual.
        assert_eq!(last.take_if_written(b"k", &flushed(b"j", b"v1", 10)), None);
        assert_eq!(last.take_if_written(b"k", &flushed(b"k", b"v2", 10)), None);
        assert_eq!(last.take_if_written(b"k", &flushed(b"k", b"v1", 11)), None);
        let mut delete = flushed(b"k", b"v1", 10);
        delete.new_value = None;
        assert_eq!(last.take_if_written(b"k", &delete), None);
        // The entry written: taken once.
        assert_eq!(
            last.take_if_written(b"k", &flushed(b"k", b"v1", 10)),
            Some(("k", 1, 10))
        );
        assert_eq!(last.take_if_written(b"k", &flushed(b"k", b"v1", 10)), None);
        // A forgotten write is not taken.
        last.remember(("k", 1, 10));
        last.forget();
        assert_eq!(last.take_if_written(b"k", &flushed(b"k", b"v1", 10)), None);
    }
}
