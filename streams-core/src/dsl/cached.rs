//! Forwarding table updates from a record cache, like Kafka Streams' `TimestampedCacheFlushListener`
//! and `SessionCacheFlushListener`.
//!
//! An aggregation (windowed or not) or source table whose store has a record cache (the default, see
//! `Materialized::with_caching_enabled`) does not forward each update as it happens: the cache
//! keeps the latest value per key, and the processor forwards what the cache flushes — at every
//! commit (`Processor::flush`) and when the cache evicts because it is full (during `process`).
//! Downstream then sees one update per key per commit, with the value the key had at the
//! previous flush as the old value, the timestamp of its latest value, and the headers of the
//! record that last wrote it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use streams_state::{CacheFlushListener, CachedEntry};

use super::change::Change;
use crate::error::Result;
use crate::processor::{Data, ProcessorContext};
use crate::record::{Headers, Record};
use crate::state::{FlushedUpdate, TimestampedKeyValueStoreRef};

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
