//! The record cache of a store, as the processor that owns the store reaches it: kept, taken and
//! flushed through the store stack's caching layer, like the flush listener Kafka Streams'
//! `TimestampedCacheFlushListener` registers on a `CachedStateStore`.
//!
//! One trait, [`CachedRef`], gives every typed handle over a cacheable store kind (timestamped
//! key-value, timestamped window, session) the same three operations.

use streams_state::{CachedEntry, CachingLayer, StoreStack};

use super::{lock, Shared};
use crate::error::Result;

/// A typed handle whose store may have a record cache.
pub(crate) trait CachedRef {
    /// The store kind (a `streams-state` store trait object).
    type Store: ?Sized;
    /// The caching layer a store of that kind is built with.
    type Cache: CachingLayer<Self::Store>;

    /// The shared store stack.
    fn stack(&self) -> &Shared<StoreStack<Self::Store, Self::Cache>>;

    /// Makes the store's record cache keep what it flushes, with old values, for this store's
    /// owner to take and forward; `false` when the store has no cache.
    fn keep_flushed(&self) -> bool {
        match lock(self.stack()).cache() {
            Some(cache) => {
                cache.keep_flushed(true);
                true
            }
            None => false,
        }
    }

    /// Takes what the store's record cache flushed since the last take.
    fn take_flushed(&self, flushed: &mut Vec<CachedEntry>) {
        take_flushed(&mut lock(self.stack()), flushed)
    }

    /// Flushes the store's record cache (not the store) and takes what it flushed.
    fn flush_cache_taking(&self, flushed: &mut Vec<CachedEntry>) -> Result<()> {
        let mut stack = lock(self.stack());
        if let Some(cache) = stack.cache() {
            cache.flush_cache()?;
        }
        take_flushed(&mut stack, flushed);
        Ok(())
    }
}

/// Moves what the stack's record cache flushed into `flushed`; without a cache, there is nothing.
pub(super) fn take_flushed<S: ?Sized, C: CachingLayer<S>>(
    stack: &mut StoreStack<S, C>,
    flushed: &mut Vec<CachedEntry>,
) {
    match stack.cache() {
        Some(cache) => cache.take_flushed(flushed),
        None => flushed.clear(),
    }
}
