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
use std::sync::{Arc, Mutex};

use streams_state::{CacheFlushListener, CachedEntry};

use super::change::Change;
use crate::error::Result;
use crate::processor::{Data, ProcessorContext};
use crate::record::{Headers, Record};
use crate::serde::Serde;
use crate::state::{initialized, FlushedUpdate, TimestampedKeyValueStoreRef};

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
}

/// A copy is not connected: each task's processor connects its own.
impl<K, V> Clone for TableStore<K, V> {
    fn clone(&self) -> Self {
        TableStore {
            table: self.table.clone(),
            cache: None,
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
        }
    }

    /// Connects the store, and listens to its record cache if it has one: the processor's
    /// `init`.
    pub(crate) fn connect<KIn: Data, VIn: Data>(
        &mut self,
        ctx: &mut ProcessorContext<'_, KIn, VIn>,
    ) -> Result<()> {
        let store = self.table.connect(ctx)?;
        self.cache = CacheForwarder::register(store);
        Ok(())
    }

    /// The connected store.
    pub(crate) fn store(&self) -> Result<&TimestampedKeyValueStoreRef<K, V>> {
        self.table.store()
    }

    /// Whether updates go through a record cache (then the old value of a change written with
    /// [`write_and_forward`](Self::write_and_forward) is not used: the cache knows its own).
    pub(crate) fn is_cached(&self) -> bool {
        self.cache.is_some()
    }

    /// Writes the change's new value for `key` (the record's key, serialized) with the record's
    /// timestamp — a delete when it has none — and forwards the change: at once without a record
    /// cache, else when the cache flushes it (what the write evicted goes now).
    pub(crate) fn write_and_forward(
        &mut self,
        key: &[u8],
        mut record: Record<K, Change<V>>,
        ctx: &mut ProcessorContext<'_, K, Change<V>>,
    ) -> Result<()> {
        let store = self.table.store()?;
        if let Some(cache) = &mut self.cache {
            // Before the write, which may evict the key at once.
            cache.writing(key, std::mem::take(&mut record.headers));
        }
        match &record.value.new {
            Some(value) => store.put_raw(key, value, record.timestamp)?,
            None => {
                store.delete_raw(key)?;
            }
        }
        match &mut self.cache {
            Some(cache) => cache.forward(store, ctx),
            None => ctx.forward(record),
        }
    }

    /// Flushes the store's record cache and forwards what it held: the processor's part of a
    /// commit (`Processor::flush`).
    pub(crate) fn flush(&mut self, ctx: &mut ProcessorContext<'_, K, Change<V>>) -> Result<()> {
        match &mut self.cache {
            Some(cache) => cache.flush(self.table.store()?, ctx),
            None => Ok(()),
        }
    }
}

/// What a cached store's flush listener collects, and the processor drains and forwards.
pub(crate) struct CacheForwarder {
    flushed: Arc<Mutex<Vec<CachedEntry>>>,
    /// The batch being forwarded; swapped with `flushed` so that neither gives up its capacity.
    draining: Vec<CachedEntry>,
    /// The headers of the record that last wrote each cached key, when it had any: what the
    /// key's update is forwarded with, as Kafka keeps a cache entry's record context. Records
    /// without headers cost nothing here.
    headers: HashMap<Vec<u8>, Headers>,
}

impl CacheForwarder {
    /// Listens to `store`'s record cache; `None` when the store has no cache, in which case
    /// the processor forwards each update itself.
    pub(crate) fn register<K: 'static, V: 'static>(
        store: &TimestampedKeyValueStoreRef<K, V>,
    ) -> Option<Self> {
        Self::listen(|listener| store.set_flush_listener(listener))
    }

    /// Hands a listener to `register`, which gives it to a store's record cache and returns
    /// whether the store has one; `None` when it has not.
    pub(crate) fn listen(
        register: impl FnOnce(Box<dyn CacheFlushListener>) -> bool,
    ) -> Option<Self> {
        let flushed = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&flushed);
        let listener = Box::new(move |entry: CachedEntry| {
            sink.lock().unwrap_or_else(|p| p.into_inner()).push(entry)
        });
        register(listener).then(|| CacheForwarder {
            flushed,
            draining: Vec::new(),
            headers: HashMap::new(),
        })
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

    /// Forwards, in flush order, every entry the cache flushed since the last call (evictions,
    /// when called after a write).
    pub(crate) fn forward<K: Data, V: Data>(
        &mut self,
        store: &TimestampedKeyValueStoreRef<K, V>,
        ctx: &mut ProcessorContext<'_, K, Change<V>>,
    ) -> Result<()> {
        self.forward_with(ctx, |entry| Ok(table_update(store.decode_flushed(entry)?)))
    }

    /// Forwards, in flush order, every entry the cache flushed since the last call, each turned
    /// into a key, value and timestamp by `decode` and carrying the headers of the record that
    /// last wrote it.
    pub(crate) fn forward_with<K: Data, V: Data>(
        &mut self,
        ctx: &mut ProcessorContext<'_, K, V>,
        mut decode: impl FnMut(CachedEntry) -> Result<(K, V, i64)>,
    ) -> Result<()> {
        loop {
            {
                let mut flushed = self.flushed.lock().unwrap_or_else(|p| p.into_inner());
                if flushed.is_empty() {
                    return Ok(());
                }
                std::mem::swap(&mut *flushed, &mut self.draining);
            }
            for entry in self.draining.drain(..) {
                let headers = if self.headers.is_empty() {
                    Headers::new()
                } else {
                    self.headers.remove(&entry.key).unwrap_or_default()
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
        }
    }

    /// Flushes the store's cache and forwards what it held: the processor's part of a commit.
    pub(crate) fn flush<K: Data, V: Data>(
        &mut self,
        store: &TimestampedKeyValueStoreRef<K, V>,
        ctx: &mut ProcessorContext<'_, K, Change<V>>,
    ) -> Result<()> {
        store.flush_cache()?;
        self.forward(store, ctx)
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
