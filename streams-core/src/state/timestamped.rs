//! The typed handle of a table's store, like Kafka Streams' `TimestampedKeyValueStore<K, V>`:
//! values with the timestamp of their last update. The table operators also lock it for several
//! raw reads and writes by key bytes ([`LockedTable`]) and decode what its record cache flushes
//! ([`FlushedUpdate`]).

use std::sync::MutexGuard;

use streams_state::{
    CachedEntry, CachingKeyValueStore, TimestampedKeyValueAdapter, TimestampedKeyValueStack,
    TimestampedKeyValueStore,
};

use super::cache::{take_flushed, CachedRef};
use super::codec::{ser_into, split_timestamp, store_serde_error, Codec};
use super::{lock, Shared};
use crate::error::Result;

/// A typed key-value store whose values carry the timestamp of their last update, like Kafka's
/// `TimestampedKeyValueStore<K, V>`: what a `KTable` materializes into.
pub struct TimestampedKeyValueStoreRef<K, V> {
    pub(super) codec: Codec<K, V>,
    pub(super) store: Shared<TimestampedKeyValueStack>,
}

clone_fields!(TimestampedKeyValueStoreRef { codec, store });

impl<K, V> CachedRef for TimestampedKeyValueStoreRef<K, V> {
    type Store = dyn TimestampedKeyValueStore;
    type Cache = TimestampedKeyValueAdapter<CachingKeyValueStore>;

    fn stack(&self) -> &Shared<TimestampedKeyValueStack> {
        &self.store
    }
}

impl<K: 'static, V: 'static> TimestampedKeyValueStoreRef<K, V> {
    /// The store's name.
    pub fn name(&self) -> &str {
        &self.codec.name
    }

    /// The value and timestamp of `key`, if any.
    pub fn get(&self, key: &K) -> Result<Option<(V, i64)>> {
        let key = self.codec.key(key)?;
        self.get_raw(&key)
    }

    /// Serializes `key` into `buffer` (replacing its contents), for raw access by key bytes.
    pub(crate) fn key_bytes_into(&self, key: &K, buffer: &mut Vec<u8>) -> Result<()> {
        ser_into(&*self.codec.keys, &self.codec.name, "key", key, buffer)
    }

    /// The store, locked for several raw reads and writes in a row: one lock instead of one per
    /// call.
    pub(crate) fn locked(&self) -> LockedTable<'_, K, V> {
        LockedTable {
            codec: &self.codec,
            store: lock(&self.store),
        }
    }

    pub(crate) fn get_raw(&self, key: &[u8]) -> Result<Option<(V, i64)>> {
        self.locked().get_raw(key)
    }

    /// Sets `key` to `value` with `timestamp`.
    pub fn put(&self, key: &K, value: &V, timestamp: i64) -> Result<()> {
        let key = self.codec.key(key)?;
        self.locked().put_raw(&key, value, timestamp)
    }

    /// Serializes `value` into `buffer` (replacing its contents), as
    /// [`LockedTable::put_encoded`] takes it.
    pub(crate) fn encode_value_into(&self, value: &V, buffer: &mut Vec<u8>) -> Result<()> {
        ser_into(
            &*self.codec.values,
            &self.codec.name,
            "value",
            value,
            buffer,
        )
    }

    /// Removes `key`, returning its previous value and timestamp.
    pub fn delete(&self, key: &K) -> Result<Option<(V, i64)>> {
        let key = self.codec.key(key)?;
        self.locked().delete_raw(&key)
    }

    /// A flushed cache entry as a table update: key, new value and timestamp (`None` for a
    /// delete), old value.
    pub(crate) fn decode_flushed(&self, entry: &mut CachedEntry) -> Result<FlushedUpdate<K, V>> {
        let key = self.codec.decode_key(std::mem::take(&mut entry.key))?;
        let new = entry
            .new_value
            .as_deref()
            .map(|encoded| self.decode_timestamped(encoded, "value"))
            .transpose()?;
        Ok(FlushedUpdate {
            key,
            new,
            old: self.decode_old_value(entry)?,
            timestamp: entry.timestamp,
        })
    }

    /// The old value of a flushed cache entry.
    pub(crate) fn decode_old_value(&self, entry: &CachedEntry) -> Result<Option<V>> {
        entry
            .old_value
            .as_deref()
            .map(|encoded| Ok(self.decode_timestamped(encoded, "old value")?.0))
            .transpose()
    }

    /// A value and its timestamp as the store keeps them (the timestamp first).
    fn decode_timestamped(&self, encoded: &[u8], part: &str) -> Result<(V, i64)> {
        let (timestamp, value) = split_timestamp(Some(encoded))
            .map_err(|e| store_serde_error(&self.codec.name, part, e))?;
        let value = self
            .codec
            .values
            .deserialize(&self.codec.name, Some(value))
            .map_err(|e| store_serde_error(&self.codec.name, part, e))?;
        Ok((value, timestamp))
    }

    /// Every entry with its timestamp, in the order of the serialized keys.
    pub fn all(&self) -> Result<Vec<(K, V, i64)>> {
        let store = lock(&self.store);
        let entries = store.all()?;
        entries
            .map(|entry| {
                let (k, v) = entry?;
                Ok((
                    self.codec.decode_key(k)?,
                    self.codec.decode_value(v.value)?,
                    v.timestamp,
                ))
            })
            .collect()
    }

    /// An estimate of the number of entries.
    pub fn approximate_num_entries(&self) -> Result<u64> {
        Ok(lock(&self.store).approximate_num_entries()?)
    }
}

/// A [`TimestampedKeyValueStoreRef`]'s store while locked, for raw reads and writes by key bytes.
pub(crate) struct LockedTable<'a, K, V> {
    codec: &'a Codec<K, V>,
    store: MutexGuard<'a, TimestampedKeyValueStack>,
}

impl<K: 'static, V: 'static> LockedTable<'_, K, V> {
    /// The value and timestamp of `key` (serialized), if any.
    pub(crate) fn get_raw(&self, key: &[u8]) -> Result<Option<(V, i64)>> {
        // Decoded from the bytes the store lends: no copy of them first.
        let mut found = None;
        self.store.get_with(key, &mut |stored| {
            found = stored.map(|(bytes, timestamp)| {
                self.codec
                    .decode_borrowed_value(bytes)
                    .map(|value| (value, timestamp))
            });
        })?;
        found.transpose()
    }

    /// Sets `key` to `value` with `timestamp`.
    pub(crate) fn put_raw(&mut self, key: &[u8], value: &V, timestamp: i64) -> Result<()> {
        self.put_encoded(key, &self.codec.value(value)?, timestamp)
    }

    /// Sets `key` to a value already serialized with the store's value serde.
    pub(crate) fn put_encoded(&mut self, key: &[u8], value: &[u8], timestamp: i64) -> Result<()> {
        Ok(self.store.put(key, value, timestamp)?)
    }

    /// Removes `key`, returning its previous value and timestamp.
    pub(crate) fn delete_raw(&mut self, key: &[u8]) -> Result<Option<(V, i64)>> {
        let old = self.store.delete(key)?;
        old.map(|v| Ok((self.codec.decode_value(v.value)?, v.timestamp)))
            .transpose()
    }

    /// Removes `key`, not reading what it held.
    pub(crate) fn remove(&mut self, key: &[u8]) -> Result<()> {
        self.store.delete(key)?;
        Ok(())
    }

    /// Takes what the store's record cache flushed since the last take (see
    /// [`CachedRef::keep_flushed`]).
    pub(crate) fn take_flushed(&mut self, flushed: &mut Vec<CachedEntry>) {
        take_flushed(&mut self.store, flushed)
    }
}

/// A typed entry a timestamped store's record cache flushed.
pub(crate) struct FlushedUpdate<K, V> {
    pub(crate) key: K,
    /// The new value and its timestamp; `None` for a delete.
    pub(crate) new: Option<(V, i64)>,
    /// The value the store held before.
    pub(crate) old: Option<V>,
    /// The timestamp of the record that last wrote the key.
    pub(crate) timestamp: i64,
}
