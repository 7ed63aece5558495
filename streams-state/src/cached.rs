//! The interface of a store with a record cache: what its owner needs to forward what the cache
//! flushes, and to flush it at a commit.
//!
//! Only the caching wrappers ([`CachingKeyValueStore`](crate::CachingKeyValueStore),
//! [`CachingWindowStore`](crate::CachingWindowStore), [`CachingSessionStore`](crate::CachingSessionStore))
//! implement [`CachedStateStore`], like Kafka Streams' `CachedStateStore` interface
//! (`setFlushListener`, `flushCache`); the plain store traits know nothing of caches. Where a
//! built store has a cache, its [`StoreStack`](crate::StoreStack) reaches it as a
//! `&mut dyn CachedStateStore`. Instead of calling a listener per entry, a cache keeps the
//! [`CachedEntry`]s it flushes until the owner takes them, so that the owner forwards them
//! without holding the store.

use crate::Result;

/// A store whose writes go through a record cache, like Kafka Streams' `CachedStateStore`.
pub trait CachedStateStore: Send {
    /// Makes the cache keep the entries it flushes for [`take_flushed`](Self::take_flushed),
    /// as Kafka's `setFlushListener` registers the listener its owner forwards them from; with
    /// `send_old_values` the entries carry the value the store held before (deletes always do).
    /// Until called, flushed entries are not kept.
    fn keep_flushed(&mut self, send_old_values: bool);

    /// Moves the entries the cache flushed since the last call into `out`, in the order they
    /// were last written, taking the entries `out` holds as buffers for the next ones (pass the
    /// same vector back to flush without allocating).
    fn take_flushed(&mut self, out: &mut Vec<CachedEntry>);

    /// Writes the cache's dirty entries to the store below it (and so to the changelog), keeping
    /// them for [`take_flushed`](Self::take_flushed), without flushing the store itself: Kafka's
    /// `CachedStateStore::flushCache`, what a commit does for each cached store before flushing
    /// the stores.
    fn flush_cache(&mut self) -> Result<()>;
}

/// A change flushed out of a record cache, kept for the store's owner (see
/// [`CachedStateStore::keep_flushed`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CachedEntry {
    /// The key.
    pub key: Vec<u8>,
    /// The latest value, or `None` for a delete.
    pub new_value: Option<Vec<u8>>,
    /// The value the store held before this flush, if old values are sent (always for deletes).
    pub old_value: Option<Vec<u8>>,
    /// Timestamp of the record that last wrote the key.
    pub timestamp: i64,
}

impl CachedEntry {
    /// Makes this entry a copy of the given one, reusing its buffers.
    pub(crate) fn refill(
        &mut self,
        key: &[u8],
        new_value: Option<&[u8]>,
        old_value: Option<&[u8]>,
        timestamp: i64,
    ) {
        self.key.clear();
        self.key.extend_from_slice(key);
        copy_into(&mut self.new_value, new_value);
        copy_into(&mut self.old_value, old_value);
        self.timestamp = timestamp;
    }
}

/// Makes `buffer` a copy of `bytes`, reusing its allocation.
fn copy_into(buffer: &mut Option<Vec<u8>>, bytes: Option<&[u8]>) {
    match (bytes, buffer) {
        (Some(bytes), Some(buffer)) => {
            buffer.clear();
            buffer.extend_from_slice(bytes);
        }
        (bytes, buffer) => *buffer = bytes.map(<[u8]>::to_vec),
    }
}
