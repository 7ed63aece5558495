//! The typed window store handles, like Kafka Streams' `WindowStore<K, V>` and
//! `TimestampedWindowStore<K, V>` (what windowed aggregations keep): values per key and window
//! start. A plain handle over a timestamped window store is a read-only view of its values.

use streams_state::{CachedEntry, CachingWindowStore, WindowStack, WindowStore};

use super::cache::CachedRef;
use super::codec::{store_serde_error, Codec};
use super::timestamped::FlushedUpdate;
use super::{lock, Shared};
use crate::dsl::windows::{Window, Windowed};
use crate::error::Result;
use crate::serde::SerdeError;

/// A typed window store, like Kafka's `WindowStore<K, V>`: values per key and window start.
pub struct WindowStoreRef<K, V> {
    pub(super) codec: Codec<K, V>,
    pub(super) store: Shared<WindowStack>,
    pub(super) window_size_ms: i64,
}

clone_fields!(WindowStoreRef {
    codec,
    store,
    window_size_ms
});

impl<K: 'static, V: 'static> WindowStoreRef<K, V> {
    /// The store's name.
    pub fn name(&self) -> &str {
        &self.codec.name
    }

    /// Sets the value of `key` in the window starting at `window_start`; `None` deletes it.
    pub fn put(&self, key: &K, value: Option<&V>, window_start: i64) -> Result<()> {
        let key = self.codec.key(key)?;
        let value = value.map(|v| self.codec.value(v)).transpose()?;
        Ok(lock(&self.store).put(&key, value.as_deref(), window_start)?)
    }

    /// The value of `key` in the window starting at `window_start`.
    pub fn fetch(&self, key: &K, window_start: i64) -> Result<Option<V>> {
        let key = self.codec.key(key)?;
        let value = lock(&self.store).fetch(&key, window_start)?;
        value.map(|v| self.codec.decode_value(v)).transpose()
    }

    /// `(window start, value)` of `key` for windows starting in `[time_from, time_to]`.
    pub fn fetch_range(&self, key: &K, time_from: i64, time_to: i64) -> Result<Vec<(i64, V)>> {
        let key = self.codec.key(key)?;
        let store = lock(&self.store);
        let entries = store.fetch_range(&key, time_from, time_to)?;
        entries
            .map(|entry| {
                let (start, v) = entry?;
                Ok((start, self.codec.decode_value(v)?))
            })
            .collect()
    }

    /// Every windowed entry with a window start in `[time_from, time_to]`.
    pub fn fetch_all(&self, time_from: i64, time_to: i64) -> Result<Vec<(Windowed<K>, V)>> {
        self.fetch_key_range(None, None, time_from, time_to)
    }

    /// The windows of keys from `key_from` to `key_to` (both inclusive, by serialized key;
    /// `None` leaves that end open) starting in `[time_from, time_to]` (Kafka's
    /// `fetch(keyFrom, keyTo, timeFrom, timeTo)`).
    pub fn fetch_key_range(
        &self,
        key_from: Option<&K>,
        key_to: Option<&K>,
        time_from: i64,
        time_to: i64,
    ) -> Result<Vec<(Windowed<K>, V)>> {
        let key_from = key_from.map(|k| self.codec.key(k)).transpose()?;
        let key_to = key_to.map(|k| self.codec.key(k)).transpose()?;
        let store = lock(&self.store);
        let entries =
            store.fetch_key_range(key_from.as_deref(), key_to.as_deref(), time_from, time_to)?;
        entries
            .map(|entry| {
                let (windowed, v) = entry?;
                let key = self.codec.decode_key(windowed.key)?;
                let window = Window::new(
                    windowed.window_start,
                    windowed.window_start.saturating_add(self.window_size_ms),
                );
                Ok((Windowed::new(key, window), self.codec.decode_value(v)?))
            })
            .collect()
    }

    /// Every windowed entry.
    pub fn all(&self) -> Result<Vec<(Windowed<K>, V)>> {
        self.fetch_all(i64::MIN, i64::MAX)
    }
}

/// Entries of a timestamped window store: windowed key, then value and timestamp.
pub type TimestampedWindowEntries<K, V> = Vec<(Windowed<K>, (V, i64))>;

/// A typed window store whose values carry the timestamp of their last update, like Kafka's
/// `TimestampedWindowStore<K, V>`: what windowed aggregations keep. Stored as an 8-byte
/// big-endian timestamp followed by the value, the layout timestamped key-value stores use.
pub struct TimestampedWindowStoreRef<K, V> {
    pub(super) inner: WindowStoreRef<K, (V, i64)>,
}

clone_fields!(TimestampedWindowStoreRef { inner });

impl<K, V> CachedRef for TimestampedWindowStoreRef<K, V> {
    type Store = dyn WindowStore;
    type Cache = CachingWindowStore;

    fn stack(&self) -> &Shared<WindowStack> {
        &self.inner.store
    }
}

impl<K: 'static, V: 'static> TimestampedWindowStoreRef<K, V> {
    /// The store's name.
    pub fn name(&self) -> &str {
        self.inner.name()
    }

    /// Sets `key`'s value and timestamp in the window starting at `window_start`.
    pub fn put(&self, key: &K, value: &V, timestamp: i64, window_start: i64) -> Result<()>
    where
        V: Clone,
    {
        self.inner
            .put(key, Some(&(value.clone(), timestamp)), window_start)
    }

    /// Removes `key`'s entry in the window starting at `window_start`.
    pub fn delete(&self, key: &K, window_start: i64) -> Result<()> {
        self.inner.put(key, None, window_start)
    }

    /// `(value, timestamp)` of `key` in the window starting at `window_start`.
    pub fn fetch(&self, key: &K, window_start: i64) -> Result<Option<(V, i64)>> {
        self.inner.fetch(key, window_start)
    }

    /// `(window start, (value, timestamp))` of `key` for windows starting in
    /// `[time_from, time_to]`, in time order.
    pub fn fetch_range(
        &self,
        key: &K,
        time_from: i64,
        time_to: i64,
    ) -> Result<Vec<(i64, (V, i64))>> {
        self.inner.fetch_range(key, time_from, time_to)
    }

    /// Every entry with a window start in `[time_from, time_to]`, ordered by window start.
    pub fn fetch_all(
        &self,
        time_from: i64,
        time_to: i64,
    ) -> Result<TimestampedWindowEntries<K, V>> {
        self.inner.fetch_all(time_from, time_to)
    }

    /// Every entry.
    pub fn all(&self) -> Result<TimestampedWindowEntries<K, V>> {
        self.inner.all()
    }

    /// The key `key`'s entry in the window starting at `window_start` has in what the store's
    /// record cache flushes (a window changelog key).
    pub(crate) fn cache_key(&self, key: &K, window_start: i64) -> Result<Vec<u8>> {
        let key = self.inner.codec.key(key)?;
        Ok(streams_state::keys::window_changelog_key(
            &key,
            window_start,
            0,
        ))
    }

    /// A flushed cache entry as a windowed table update.
    pub(crate) fn decode_flushed(
        &self,
        entry: &mut CachedEntry,
    ) -> Result<FlushedUpdate<Windowed<K>, V>> {
        let codec = &self.inner.codec;
        let (key, start, _) = streams_state::keys::parse_window_changelog_key(&entry.key)
            .ok_or_else(|| {
                store_serde_error(
                    &codec.name,
                    "cached window key",
                    SerdeError::new("shorter than 12 bytes"),
                )
            })?;
        let window = Window::new(start, start.saturating_add(self.inner.window_size_ms));
        let key = Windowed::new(codec.decode_key(key)?, window);
        let new = entry
            .new_value
            .take()
            .map(|v| codec.decode_value(v))
            .transpose()?;
        let old = entry
            .old_value
            .take()
            .map(|v| codec.decode_value(v).map(|(value, _)| value))
            .transpose()?;
        Ok(FlushedUpdate {
            key,
            new,
            old,
            timestamp: entry.timestamp,
        })
    }
}
