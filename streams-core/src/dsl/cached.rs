//! Forwarding table updates from a record cache, like Kafka Streams' `TimestampedCacheFlushListener`.
//!
//! An aggregation or source table whose store has a record cache (the default, see
//! `Materialized::with_caching_enabled`) does not forward each update as it happens: the cache
//! keeps the latest value per key, and the processor forwards what the cache flushes — at every
//! commit (`Processor::flush`) and when the cache evicts because it is full (during `process`).
//! Downstream then sees one update per key per commit, with the value the key had at the
//! previous flush as the old value, and the timestamp of its latest value.

use std::sync::{Arc, Mutex};

use streams_state::CachedEntry;

use super::change::Change;
use crate::error::Result;
use crate::processor::{Data, ProcessorContext};
use crate::record::{Headers, Record};
use crate::state::TimestampedKeyValueStoreRef;

/// What a cached store's flush listener collects, and the processor drains and forwards.
pub(crate) struct CacheForwarder {
    flushed: Arc<Mutex<Vec<CachedEntry>>>,
    /// The batch being forwarded; swapped with `flushed` so that neither gives up its capacity.
    draining: Vec<CachedEntry>,
}

impl CacheForwarder {
    /// Listens to `store`'s record cache; `None` when the store has no cache, in which case
    /// the processor forwards each update itself.
    pub(crate) fn register<K: 'static, V: 'static>(
        store: &TimestampedKeyValueStoreRef<K, V>,
    ) -> Option<Self> {
        let flushed = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&flushed);
        let listener = Box::new(move |entry: CachedEntry| {
            sink.lock().unwrap_or_else(|p| p.into_inner()).push(entry)
        });
        store.set_flush_listener(listener).then(|| CacheForwarder {
            flushed,
            draining: Vec::new(),
        })
    }

    /// Forwards, in flush order, every entry the cache flushed since the last call (evictions,
    /// when called after a write).
    pub(crate) fn forward<K: Data, V: Data>(
        &mut self,
        store: &TimestampedKeyValueStoreRef<K, V>,
        ctx: &mut ProcessorContext<'_, K, Change<V>>,
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
                let update = store.decode_flushed(entry)?;
                let (new, timestamp) = match update.new {
                    Some((value, timestamp)) => (Some(value), timestamp),
                    None => (None, update.timestamp),
                };
                // Downstream stores stamp their writes with the forwarded record's timestamp.
                ctx.set_record_timestamp(timestamp);
                ctx.forward(Record {
                    key: update.key,
                    value: Change::new(new, update.old),
                    timestamp,
                    headers: Headers::new(),
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
