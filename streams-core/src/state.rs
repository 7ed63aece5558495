//! Typed access to a task's state stores, like Kafka Streams' `org.apache.kafka.streams.state`
//! interfaces (`KeyValueStore<K, V>`, `TimestampedKeyValueStore<K, V>`, `WindowStore<K, V>`,
//! `SessionStore<K, V>`).
//!
//! The stores themselves (`streams-state`) work on bytes; a handle here pairs one with the serdes
//! of its keys and values. A task owns its stores; processors and the test driver hold cheap
//! handles to them. The mutex inside is never contended — a task runs on one thread at a time —
//! it only lets a processor keep its store handle across calls.

use std::sync::{Arc, Mutex, MutexGuard};

use streams_state::{
    CachedEntry, KeyValueStore, SessionStore, TimestampedKeyValueStore, WindowStore,
};

use crate::dsl::windows::{Window, Windowed};
use crate::error::{Error, Result};
use crate::serde::{Serde, SerdeError};

/// A store shared between its task and the handles to it.
pub(crate) type Shared<S> = Arc<Mutex<Box<S>>>;

/// The global stores of an application instance by name (Kafka's `GlobalStateManager` stores):
/// filled by the global sub-topologies, read by every task of every stream thread. Their
/// handles lock per call, so a stream thread's read and the global thread's write never
/// overlap.
pub type GlobalStores = Arc<std::collections::HashMap<String, StoreHandle>>;

fn lock<S: ?Sized>(store: &Arc<Mutex<Box<S>>>) -> MutexGuard<'_, Box<S>> {
    // A panic in a processor while it held the lock leaves the store as the last completed call
    // left it; the task is failing anyway, so the guard is recovered rather than poisoned.
    store.lock().unwrap_or_else(|p| p.into_inner())
}

/// One of a task's stores, of whichever kind.
#[derive(Clone)]
pub enum StoreHandle {
    /// A key-value store.
    KeyValue(Shared<dyn KeyValueStore>),
    /// A key-value store whose values carry a timestamp (tables, aggregations).
    Timestamped(Shared<dyn TimestampedKeyValueStore>),
    /// A window store.
    Window(Shared<dyn WindowStore>),
    /// A window store whose values carry a timestamp (windowed aggregations).
    TimestampedWindow(Shared<dyn WindowStore>),
    /// A session store.
    Session(Shared<dyn SessionStore>),
}

impl StoreHandle {
    /// Flushes the store durably: what its record cache holds, its changelog writes and its
    /// own files.
    pub fn flush(&self) -> Result<()> {
        Ok(match self {
            StoreHandle::KeyValue(s) => lock(s).flush(),
            StoreHandle::Timestamped(s) => lock(s).flush(),
            StoreHandle::Window(s) | StoreHandle::TimestampedWindow(s) => lock(s).flush(),
            StoreHandle::Session(s) => lock(s).flush(),
        }?)
    }

    /// Writes what the store's record cache holds through to the store and its changelog,
    /// without making the store durable: the part of a flush every commit does. A no-op for a
    /// store without a cache.
    pub(crate) fn flush_cache(&self) -> Result<()> {
        Ok(match self {
            StoreHandle::KeyValue(s) => lock(s).flush_cache(),
            StoreHandle::Timestamped(s) => lock(s).flush_cache(),
            StoreHandle::Window(s) | StoreHandle::TimestampedWindow(s) => lock(s).flush_cache(),
            StoreHandle::Session(s) => lock(s).flush_cache(),
        }?)
    }

    /// Closes the store; later calls fail with a closed store.
    pub fn close(&self) -> Result<()> {
        Ok(match self {
            StoreHandle::KeyValue(s) => lock(s).close(),
            StoreHandle::Timestamped(s) => lock(s).close(),
            StoreHandle::Window(s) | StoreHandle::TimestampedWindow(s) => lock(s).close(),
            StoreHandle::Session(s) => lock(s).close(),
        }?)
    }

    /// Applies changelog records while restoring (without logging them again).
    pub fn restore_batch(&self, records: &[streams_state::ChangelogRecord]) -> Result<()> {
        Ok(match self {
            StoreHandle::KeyValue(s) => lock(s).restore_batch(records),
            StoreHandle::Timestamped(s) => lock(s).restore_batch(records),
            StoreHandle::Window(s) | StoreHandle::TimestampedWindow(s) => {
                lock(s).restore_batch(records)
            }
            StoreHandle::Session(s) => lock(s).restore_batch(records),
        }?)
    }

    /// Whether the store keeps its contents on disk (only those are checkpointed).
    pub fn persistent(&self) -> bool {
        match self {
            StoreHandle::KeyValue(s) => lock(s).persistent(),
            StoreHandle::Timestamped(s) => lock(s).persistent(),
            StoreHandle::Window(s) | StoreHandle::TimestampedWindow(s) => lock(s).persistent(),
            StoreHandle::Session(s) => lock(s).persistent(),
        }
    }

    /// Whether the store is still open.
    pub fn is_open(&self) -> bool {
        match self {
            StoreHandle::KeyValue(s) => lock(s).is_open(),
            StoreHandle::Timestamped(s) => lock(s).is_open(),
            StoreHandle::Window(s) | StoreHandle::TimestampedWindow(s) => lock(s).is_open(),
            StoreHandle::Session(s) => lock(s).is_open(),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            StoreHandle::KeyValue(_) => "key-value",
            StoreHandle::Timestamped(_) => "timestamped key-value",
            StoreHandle::Window(_) => "window",
            StoreHandle::TimestampedWindow(_) => "timestamped window",
            StoreHandle::Session(_) => "session",
        }
    }

    pub(crate) fn wrong_kind(&self, name: &str, wanted: &str) -> Error {
        Error::InvalidArgument(format!(
            "store `{name}` is a {} store, not a {wanted} store",
            self.kind()
        ))
    }
}

/// `data` as bytes for store `store`; a serde that makes it null is an error (`what` names it).
pub(crate) fn ser<T: 'static>(
    serde: &dyn Serde<T>,
    store: &str,
    what: &str,
    data: &T,
) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    ser_into(serde, store, what, data, &mut bytes)?;
    Ok(bytes)
}

/// Serializes `data` for store `store` into `buffer`, replacing its contents (`what` names it
/// in errors); a store cannot hold a null.
pub(crate) fn ser_into<T: 'static>(
    serde: &dyn Serde<T>,
    store: &str,
    what: &str,
    data: &T,
    buffer: &mut Vec<u8>,
) -> Result<()> {
    buffer.clear();
    let written = serde
        .serialize_into(store, data, buffer)
        .map_err(|e| store_serde_error(store, what, e))?;
    if written {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "store `{store}` cannot hold a null {what}"
        )))
    }
}

/// `bytes` read back from store `store` (`what` names them in errors).
pub(crate) fn de<T: 'static>(
    serde: &dyn Serde<T>,
    store: &str,
    what: &str,
    bytes: Vec<u8>,
) -> Result<T> {
    serde
        .deserialize_owned(store, Some(bytes))
        .map_err(|e| store_serde_error(store, what, e))
}

/// A serde failure on store `store`'s `what`.
pub(crate) fn store_serde_error(store: &str, what: &str, e: SerdeError) -> Error {
    Error::Store {
        store: store.to_string(),
        message: format!("cannot convert {what}: {e}"),
    }
}

/// The store a DSL processor obtained in `init`, or an error naming it if `process` came first.
pub(crate) fn initialized<'a, S>(store: &'a Option<S>, name: &str) -> Result<&'a S> {
    store.as_ref().ok_or_else(|| Error::Store {
        store: name.to_string(),
        message: "processor used before init".into(),
    })
}

/// A store's name and the serdes of its keys and values: what turns a typed store into the
/// bytes of its byte-level store, shared by all four typed store kinds.
struct Codec<K, V> {
    name: Arc<str>,
    keys: Arc<dyn Serde<K>>,
    values: Arc<dyn Serde<V>>,
}

impl<K, V> Clone for Codec<K, V> {
    fn clone(&self) -> Self {
        Codec {
            name: Arc::clone(&self.name),
            keys: Arc::clone(&self.keys),
            values: Arc::clone(&self.values),
        }
    }
}

impl<K: 'static, V: 'static> Codec<K, V> {
    fn new(name: &str, keys: Arc<dyn Serde<K>>, values: Arc<dyn Serde<V>>) -> Self {
        Codec {
            name: Arc::from(name),
            keys,
            values,
        }
    }

    fn key(&self, key: &K) -> Result<Vec<u8>> {
        ser(&*self.keys, &self.name, "key", key)
    }

    fn value(&self, value: &V) -> Result<Vec<u8>> {
        ser(&*self.values, &self.name, "value", value)
    }

    fn decode_key(&self, bytes: Vec<u8>) -> Result<K> {
        de(&*self.keys, &self.name, "key", bytes)
    }

    fn decode_value(&self, bytes: Vec<u8>) -> Result<V> {
        de(&*self.values, &self.name, "value", bytes)
    }

    /// A value decoded from bytes the store lends.
    fn decode_borrowed_value(&self, bytes: &[u8]) -> Result<V> {
        self.values
            .deserialize(&self.name, Some(bytes))
            .map_err(|e| store_serde_error(&self.name, "value", e))
    }
}

/// A typed key-value store, like Kafka's `KeyValueStore<K, V>`. Over a timestamped store (a
/// table's), it is a view without the timestamps, like Kafka's `KeyValueStoreFacade`: reads
/// drop them, writes stamp `-1` (Kafka's `NO_TIMESTAMP`).
pub struct KeyValueStoreRef<K, V> {
    codec: Codec<K, V>,
    store: PlainOrTimestamped,
}

/// The byte-level store behind a [`KeyValueStoreRef`].
#[derive(Clone)]
enum PlainOrTimestamped {
    Plain(Shared<dyn KeyValueStore>),
    Timestamped(Shared<dyn TimestampedKeyValueStore>),
}

/// The timestamp a write through the plain view of a timestamped store carries.
const NO_TIMESTAMP: i64 = -1;

impl<K, V> Clone for KeyValueStoreRef<K, V> {
    fn clone(&self) -> Self {
        KeyValueStoreRef {
            codec: self.codec.clone(),
            store: self.store.clone(),
        }
    }
}

impl<K: 'static, V: 'static> KeyValueStoreRef<K, V> {
    pub(crate) fn new(
        name: &str,
        store: Shared<dyn KeyValueStore>,
        keys: Arc<dyn Serde<K>>,
        values: Arc<dyn Serde<V>>,
    ) -> Self {
        KeyValueStoreRef {
            codec: Codec::new(name, keys, values),
            store: PlainOrTimestamped::Plain(store),
        }
    }

    /// The plain view of a timestamped store.
    fn without_timestamps(
        name: &str,
        store: Shared<dyn TimestampedKeyValueStore>,
        keys: Arc<dyn Serde<K>>,
        values: Arc<dyn Serde<V>>,
    ) -> Self {
        KeyValueStoreRef {
            codec: Codec::new(name, keys, values),
            store: PlainOrTimestamped::Timestamped(store),
        }
    }

    /// The store's name.
    pub fn name(&self) -> &str {
        &self.codec.name
    }

    /// The value of `key`, if any.
    pub fn get(&self, key: &K) -> Result<Option<V>> {
        let key = self.codec.key(key)?;
        // Decoded from the bytes the store lends.
        let mut found = None;
        let mut decode = |bytes: Option<&[u8]>| {
            found = bytes.map(|b| self.codec.decode_borrowed_value(b));
        };
        match &self.store {
            PlainOrTimestamped::Plain(s) => lock(s).get_with(&key, &mut decode)?,
            PlainOrTimestamped::Timestamped(s) => {
                lock(s).get_with(&key, &mut |lent| decode(lent.map(|(value, _)| value)))?
            }
        }
        found.transpose()
    }

    /// Sets `key` to `value`.
    pub fn put(&self, key: &K, value: &V) -> Result<()> {
        let key = self.codec.key(key)?;
        let value = self.codec.value(value)?;
        Ok(match &self.store {
            PlainOrTimestamped::Plain(s) => lock(s).put(&key, &value),
            PlainOrTimestamped::Timestamped(s) => lock(s).put(&key, &value, NO_TIMESTAMP),
        }?)
    }

    /// Removes `key`, returning its previous value.
    pub fn delete(&self, key: &K) -> Result<Option<V>> {
        let key = self.codec.key(key)?;
        let old = match &self.store {
            PlainOrTimestamped::Plain(s) => lock(s).delete(&key)?,
            PlainOrTimestamped::Timestamped(s) => lock(s).delete(&key)?.map(|v| v.value),
        };
        old.map(|v| self.codec.decode_value(v)).transpose()
    }

    /// Every entry, in the order of the serialized keys.
    pub fn all(&self) -> Result<Vec<(K, V)>> {
        self.entries(Scan::Range(None, None))
    }

    /// Entries with `from <= key <= to` by serialized key order.
    pub fn range(&self, from: &K, to: &K) -> Result<Vec<(K, V)>> {
        let from = self.codec.key(from)?;
        let to = self.codec.key(to)?;
        self.entries(Scan::Range(Some(&from), Some(&to)))
    }

    /// Entries whose serialized key starts with the serialized `prefix`, in key order (Kafka's
    /// `ReadOnlyKeyValueStore#prefixScan`).
    pub fn prefix_scan(&self, prefix: &K) -> Result<Vec<(K, V)>> {
        let prefix = self.codec.key(prefix)?;
        self.entries(Scan::Prefix(&prefix))
    }

    fn entries(&self, scan: Scan<'_>) -> Result<Vec<(K, V)>> {
        let decode = |k, v| Ok((self.codec.decode_key(k)?, self.codec.decode_value(v)?));
        match &self.store {
            PlainOrTimestamped::Plain(s) => {
                let store = lock(s);
                let entries = match scan {
                    Scan::Range(from, to) => store.range(from, to)?,
                    Scan::Prefix(prefix) => store.prefix_scan(prefix)?,
                };
                entries
                    .map(|entry| {
                        let (k, v) = entry?;
                        decode(k, v)
                    })
                    .collect()
            }
            PlainOrTimestamped::Timestamped(s) => {
                let store = lock(s);
                let entries = match scan {
                    Scan::Range(from, to) => store.range(from, to)?,
                    Scan::Prefix(prefix) => store.prefix_scan(prefix)?,
                };
                entries
                    .map(|entry| {
                        let (k, v) = entry?;
                        decode(k, v.value)
                    })
                    .collect()
            }
        }
    }

    /// An estimate of the number of entries.
    pub fn approximate_num_entries(&self) -> Result<u64> {
        Ok(match &self.store {
            PlainOrTimestamped::Plain(s) => lock(s).approximate_num_entries(),
            PlainOrTimestamped::Timestamped(s) => lock(s).approximate_num_entries(),
        }?)
    }
}

/// Which entries of a key-value store to read, by serialized key.
enum Scan<'a> {
    /// `from <= key <= to`, unbounded where `None`.
    Range(Option<&'a [u8]>, Option<&'a [u8]>),
    /// Keys starting with these bytes.
    Prefix(&'a [u8]),
}

/// A typed key-value store whose values carry the timestamp of their last update, like Kafka's
/// `TimestampedKeyValueStore<K, V>`: what a `KTable` materializes into.
pub struct TimestampedKeyValueStoreRef<K, V> {
    codec: Codec<K, V>,
    store: Shared<dyn TimestampedKeyValueStore>,
}

impl<K, V> Clone for TimestampedKeyValueStoreRef<K, V> {
    fn clone(&self) -> Self {
        TimestampedKeyValueStoreRef {
            codec: self.codec.clone(),
            store: Arc::clone(&self.store),
        }
    }
}

impl<K: 'static, V: 'static> TimestampedKeyValueStoreRef<K, V> {
    pub(crate) fn new(
        name: &str,
        store: Shared<dyn TimestampedKeyValueStore>,
        keys: Arc<dyn Serde<K>>,
        values: Arc<dyn Serde<V>>,
    ) -> Self {
        TimestampedKeyValueStoreRef {
            codec: Codec::new(name, keys, values),
            store,
        }
    }

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

    /// Makes the store's record cache keep what it flushes, with old values, for this store's
    /// owner to take and forward; `false` when the store has no cache.
    pub(crate) fn keep_flushed(&self) -> bool {
        lock(&self.store).keep_flushed(true)
    }

    /// Flushes the store's record cache (not the store) and takes what it flushed.
    pub(crate) fn flush_cache_taking(&self, flushed: &mut Vec<CachedEntry>) -> Result<()> {
        let mut store = lock(&self.store);
        store.flush_cache()?;
        store.take_flushed(flushed);
        Ok(())
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
    store: MutexGuard<'a, Box<dyn TimestampedKeyValueStore>>,
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
    /// [`keep_flushed`](TimestampedKeyValueStoreRef::keep_flushed)).
    pub(crate) fn take_flushed(&mut self, flushed: &mut Vec<CachedEntry>) {
        self.store.take_flushed(flushed)
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

/// A typed window store, like Kafka's `WindowStore<K, V>`: values per key and window start.
pub struct WindowStoreRef<K, V> {
    codec: Codec<K, V>,
    store: Shared<dyn WindowStore>,
    window_size_ms: i64,
}

impl<K, V> Clone for WindowStoreRef<K, V> {
    fn clone(&self) -> Self {
        WindowStoreRef {
            codec: self.codec.clone(),
            store: Arc::clone(&self.store),
            window_size_ms: self.window_size_ms,
        }
    }
}

impl<K: 'static, V: 'static> WindowStoreRef<K, V> {
    pub(crate) fn new(
        name: &str,
        store: Shared<dyn WindowStore>,
        keys: Arc<dyn Serde<K>>,
        values: Arc<dyn Serde<V>>,
        window_size_ms: i64,
    ) -> Self {
        WindowStoreRef {
            codec: Codec::new(name, keys, values),
            store,
            window_size_ms,
        }
    }

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
        let store = lock(&self.store);
        let entries = store.fetch_all(time_from, time_to)?;
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
    inner: WindowStoreRef<K, (V, i64)>,
}

impl<K, V> Clone for TimestampedWindowStoreRef<K, V> {
    fn clone(&self) -> Self {
        TimestampedWindowStoreRef {
            inner: self.inner.clone(),
        }
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

    /// Makes the store's record cache keep what it flushes, with old values, for this store's
    /// owner to take and forward; `false` when the store has no cache.
    pub(crate) fn keep_flushed(&self) -> bool {
        lock(&self.inner.store).keep_flushed(true)
    }

    /// Takes what the store's record cache flushed since the last take.
    pub(crate) fn take_flushed(&self, flushed: &mut Vec<CachedEntry>) {
        lock(&self.inner.store).take_flushed(flushed)
    }

    /// Flushes the store's record cache (not the store) and takes what it flushed.
    pub(crate) fn flush_cache_taking(&self, flushed: &mut Vec<CachedEntry>) -> Result<()> {
        let mut store = lock(&self.inner.store);
        store.flush_cache()?;
        store.take_flushed(flushed);
        Ok(())
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

/// Value and timestamp, encoded as timestamped stores keep them.
struct WithTimestamp<V>(Arc<dyn Serde<V>>);

impl<V: 'static> Serde<(V, i64)> for WithTimestamp<V> {
    fn serialize(
        &self,
        topic: &str,
        data: &(V, i64),
    ) -> std::result::Result<Option<Vec<u8>>, SerdeError> {
        let value = self.0.serialize(topic, &data.0)?.unwrap_or_default();
        let encoded = streams_state::ValueAndTimestamp {
            value,
            timestamp: data.1,
        };
        Ok(Some(encoded.encode()))
    }

    fn deserialize(
        &self,
        topic: &str,
        data: Option<&[u8]>,
    ) -> std::result::Result<(V, i64), SerdeError> {
        let (timestamp, value) = split_timestamp(data)?;
        Ok((self.0.deserialize(topic, Some(value))?, timestamp))
    }
}

/// The value alone, read from a timestamped store's encoding; read-only.
struct WithoutTimestamp<V>(Arc<dyn Serde<V>>);

impl<V: 'static> Serde<V> for WithoutTimestamp<V> {
    fn serialize(
        &self,
        _topic: &str,
        _data: &V,
    ) -> std::result::Result<Option<Vec<u8>>, SerdeError> {
        Err(SerdeError::new(
            "this is a read-only view of a timestamped window store: write through the processor that owns it",
        ))
    }

    fn deserialize(&self, topic: &str, data: Option<&[u8]>) -> std::result::Result<V, SerdeError> {
        let (_, value) = split_timestamp(data)?;
        self.0.deserialize(topic, Some(value))
    }
}

fn split_timestamp(data: Option<&[u8]>) -> std::result::Result<(i64, &[u8]), SerdeError> {
    let data = data.ok_or_else(|| SerdeError::new("a timestamped value cannot be null"))?;
    streams_state::timestamped::split(data).ok_or_else(|| {
        SerdeError::new(format!(
            "a timestamped value needs at least 8 bytes, got {}",
            data.len()
        ))
    })
}

/// A typed session store, like Kafka's `SessionStore<K, V>`: aggregates per key and session.
pub struct SessionStoreRef<K, V> {
    codec: Codec<K, V>,
    store: Shared<dyn SessionStore>,
}

impl<K, V> Clone for SessionStoreRef<K, V> {
    fn clone(&self) -> Self {
        SessionStoreRef {
            codec: self.codec.clone(),
            store: Arc::clone(&self.store),
        }
    }
}

impl<K: 'static, V: 'static> SessionStoreRef<K, V> {
    pub(crate) fn new(
        name: &str,
        store: Shared<dyn SessionStore>,
        keys: Arc<dyn Serde<K>>,
        values: Arc<dyn Serde<V>>,
    ) -> Self {
        SessionStoreRef {
            codec: Codec::new(name, keys, values),
            store,
        }
    }

    /// The store's name.
    pub fn name(&self) -> &str {
        &self.codec.name
    }

    /// Stores the aggregate of `key`'s session `[start, end]`.
    pub fn put(&self, key: &K, session: Window, value: &V) -> Result<()> {
        let key = self.codec.key(key)?;
        let value = self.codec.value(value)?;
        Ok(lock(&self.store).put(&key, session.start_ms, session.end_ms, &value)?)
    }

    /// Removes `key`'s session `[start, end]`.
    pub fn remove(&self, key: &K, session: Window) -> Result<()> {
        let key = self.codec.key(key)?;
        Ok(lock(&self.store).remove(&key, session.start_ms, session.end_ms)?)
    }

    /// Sessions of `key` that end at or after `earliest_end` and start at or before
    /// `latest_start`: the sessions a record could merge with.
    pub fn find_sessions(
        &self,
        key: &K,
        earliest_end: i64,
        latest_start: i64,
    ) -> Result<Vec<(Windowed<K>, V)>>
    where
        K: Clone,
    {
        let key_bytes = self.codec.key(key)?;
        let store = lock(&self.store);
        let entries = store.find_sessions(&key_bytes, earliest_end, latest_start)?;
        entries
            .map(|entry| {
                let (session, v) = entry?;
                let window = Window::new(session.start, session.end);
                Ok((
                    Windowed::new(key.clone(), window),
                    self.codec.decode_value(v)?,
                ))
            })
            .collect()
    }

    /// Sessions of every key that end at or after `earliest_end` and start at or before
    /// `latest_start`, ordered by segment, then key, then end.
    pub(crate) fn find_sessions_of_all_keys(
        &self,
        earliest_end: i64,
        latest_start: i64,
    ) -> Result<Vec<(Windowed<K>, V)>> {
        let store = lock(&self.store);
        let entries = store.find_sessions_in_key_range(None, None, earliest_end, latest_start)?;
        entries
            .map(|entry| {
                let (session, v) = entry?;
                let window = Window::new(session.start, session.end);
                Ok((
                    Windowed::new(self.codec.decode_key(session.key)?, window),
                    self.codec.decode_value(v)?,
                ))
            })
            .collect()
    }

    /// Every session of `key`.
    pub fn fetch(&self, key: &K) -> Result<Vec<(Windowed<K>, V)>>
    where
        K: Clone,
    {
        self.find_sessions(key, i64::MIN, i64::MAX)
    }

    /// The key `key`'s session has in what the store's record cache flushes (a session
    /// changelog key).
    pub(crate) fn cache_key(&self, key: &K, session: Window) -> Result<Vec<u8>> {
        let key = self.codec.key(key)?;
        Ok(streams_state::keys::session_changelog_key(
            &key,
            session.start_ms,
            session.end_ms,
        ))
    }

    /// Makes the store's record cache keep what it flushes, with old values, for this store's
    /// owner to take and forward; `false` when the store has no cache.
    pub(crate) fn keep_flushed(&self) -> bool {
        lock(&self.store).keep_flushed(true)
    }

    /// Takes what the store's record cache flushed since the last take.
    pub(crate) fn take_flushed(&self, flushed: &mut Vec<CachedEntry>) {
        lock(&self.store).take_flushed(flushed)
    }

    /// Flushes the store's record cache (not the store) and takes what it flushed.
    pub(crate) fn flush_cache_taking(&self, flushed: &mut Vec<CachedEntry>) -> Result<()> {
        let mut store = lock(&self.store);
        store.flush_cache()?;
        store.take_flushed(flushed);
        Ok(())
    }

    /// A flushed cache entry as a session table update: the session, its new aggregate (`None`
    /// when the session was merged away) and the aggregate the store held before.
    pub(crate) fn decode_flushed(&self, entry: &mut CachedEntry) -> Result<FlushedSession<K, V>> {
        let (key, start, end) = streams_state::keys::parse_session_changelog_key(&entry.key)
            .ok_or_else(|| {
                store_serde_error(
                    &self.codec.name,
                    "cached session key",
                    SerdeError::new("shorter than 16 bytes"),
                )
            })?;
        let key = Windowed::new(self.codec.decode_key(key)?, Window::new(start, end));
        let new = entry
            .new_value
            .take()
            .map(|v| self.codec.decode_value(v))
            .transpose()?;
        let old = entry
            .old_value
            .take()
            .map(|v| self.codec.decode_value(v))
            .transpose()?;
        Ok(FlushedSession { key, new, old })
    }
}

/// A typed entry a session store's record cache flushed.
pub(crate) struct FlushedSession<K, V> {
    pub(crate) key: Windowed<K>,
    /// The new aggregate; `None` when the session was removed.
    pub(crate) new: Option<V>,
    /// The aggregate the store held before.
    pub(crate) old: Option<V>,
}

/// A store a topology declares: which kind, its name, backend, changelogging and caching. Each
/// task builds its own instance from it. Wraps the builders of `streams-state`.
#[derive(Clone)]
pub enum StoreBuilder {
    /// A key-value store.
    KeyValue(streams_state::KeyValueStoreBuilder),
    /// A timestamped key-value store (what tables materialize into).
    TimestampedKeyValue(streams_state::TimestampedKeyValueStoreBuilder),
    /// A window store.
    Window(streams_state::WindowStoreBuilder),
    /// A window store whose values carry the timestamp of their last update, as windowed
    /// aggregations keep them (Kafka's `TimestampedWindowStore`).
    TimestampedWindow(streams_state::WindowStoreBuilder),
    /// A session store.
    Session(streams_state::SessionStoreBuilder),
}

impl StoreBuilder {
    /// The store's name.
    pub fn name(&self) -> &str {
        match self {
            StoreBuilder::KeyValue(b) => b.name(),
            StoreBuilder::TimestampedKeyValue(b) => b.name(),
            StoreBuilder::Window(b) | StoreBuilder::TimestampedWindow(b) => b.name(),
            StoreBuilder::Session(b) => b.name(),
        }
    }

    /// The store's changelog topic in application `application_id`, unless logging is disabled.
    pub fn changelog_topic(&self, application_id: &str) -> Option<String> {
        match self {
            StoreBuilder::KeyValue(b) => b.changelog_topic(application_id),
            StoreBuilder::TimestampedKeyValue(b) => b.changelog_topic(application_id),
            StoreBuilder::Window(b) | StoreBuilder::TimestampedWindow(b) => {
                b.changelog_topic(application_id)
            }
            StoreBuilder::Session(b) => b.changelog_topic(application_id),
        }
    }

    /// The same store without a changelog.
    pub(crate) fn with_logging_disabled(self) -> Self {
        match self {
            StoreBuilder::KeyValue(b) => StoreBuilder::KeyValue(b.with_logging_disabled()),
            StoreBuilder::TimestampedKeyValue(b) => {
                StoreBuilder::TimestampedKeyValue(b.with_logging_disabled())
            }
            StoreBuilder::Window(b) => StoreBuilder::Window(b.with_logging_disabled()),
            StoreBuilder::TimestampedWindow(b) => {
                StoreBuilder::TimestampedWindow(b.with_logging_disabled())
            }
            StoreBuilder::Session(b) => StoreBuilder::Session(b.with_logging_disabled()),
        }
    }

    /// The same store without a record cache (window and session stores have none anyway).
    pub(crate) fn with_caching_disabled(self) -> Self {
        match self {
            StoreBuilder::KeyValue(b) => StoreBuilder::KeyValue(b.with_caching_disabled()),
            StoreBuilder::TimestampedKeyValue(b) => {
                StoreBuilder::TimestampedKeyValue(b.with_caching_disabled())
            }
            other => other,
        }
    }

    /// Whether the store gets a record cache (sized by the task's share of
    /// `statestore.cache.max.bytes`, or its own explicit size).
    pub fn caching_enabled(&self) -> bool {
        match self {
            StoreBuilder::KeyValue(b) => b.caching_enabled(),
            StoreBuilder::TimestampedKeyValue(b) => b.caching_enabled(),
            StoreBuilder::Window(b) | StoreBuilder::TimestampedWindow(b) => b.caching_enabled(),
            StoreBuilder::Session(b) => b.caching_enabled(),
        }
    }

    /// For window and session stores, how long their changelog must keep records
    /// (`retention.ms` of a `compact,delete` changelog); `None` for key-value stores, whose
    /// changelogs are only compacted.
    pub(crate) fn changelog_retention_ms(&self) -> Option<i64> {
        match self {
            StoreBuilder::KeyValue(_) | StoreBuilder::TimestampedKeyValue(_) => None,
            StoreBuilder::Window(b) | StoreBuilder::TimestampedWindow(b) => Some(b.retention_ms()),
            StoreBuilder::Session(b) => Some(b.retention_ms()),
        }
    }

    pub(crate) fn build(&self, ctx: &streams_state::StoreContext) -> Result<StoreHandle> {
        Ok(match self {
            StoreBuilder::KeyValue(b) => StoreHandle::KeyValue(Arc::new(Mutex::new(b.build(ctx)?))),
            StoreBuilder::TimestampedKeyValue(b) => {
                StoreHandle::Timestamped(Arc::new(Mutex::new(b.build(ctx)?)))
            }
            StoreBuilder::Window(b) => StoreHandle::Window(Arc::new(Mutex::new(b.build(ctx)?))),
            StoreBuilder::TimestampedWindow(b) => {
                StoreHandle::TimestampedWindow(Arc::new(Mutex::new(b.build(ctx)?)))
            }
            StoreBuilder::Session(b) => StoreHandle::Session(Arc::new(Mutex::new(b.build(ctx)?))),
        })
    }
}

impl From<streams_state::KeyValueStoreBuilder> for StoreBuilder {
    fn from(builder: streams_state::KeyValueStoreBuilder) -> Self {
        StoreBuilder::KeyValue(builder)
    }
}

impl From<streams_state::TimestampedKeyValueStoreBuilder> for StoreBuilder {
    fn from(builder: streams_state::TimestampedKeyValueStoreBuilder) -> Self {
        StoreBuilder::TimestampedKeyValue(builder)
    }
}

impl From<streams_state::WindowStoreBuilder> for StoreBuilder {
    fn from(builder: streams_state::WindowStoreBuilder) -> Self {
        StoreBuilder::Window(builder)
    }
}

impl From<streams_state::SessionStoreBuilder> for StoreBuilder {
    fn from(builder: streams_state::SessionStoreBuilder) -> Self {
        StoreBuilder::Session(builder)
    }
}

/// Typed handles from a task's stores; shared by `ProcessorContext`, the test driver and the
/// runtime's interactive queries.
pub mod access {
    use super::*;

    /// Store `name` read as a key-value store of `K` to `V` (a table's timestamped store
    /// without its timestamps); an error if `handle` is another kind of store.
    pub fn key_value<K: 'static, V: 'static>(
        name: &str,
        handle: &StoreHandle,
        keys: Arc<dyn Serde<K>>,
        values: Arc<dyn Serde<V>>,
    ) -> Result<KeyValueStoreRef<K, V>> {
        match handle {
            StoreHandle::KeyValue(s) => {
                Ok(KeyValueStoreRef::new(name, Arc::clone(s), keys, values))
            }
            // Like Kafka's `KeyValueStoreFacade`: a table's store read as a plain one.
            StoreHandle::Timestamped(s) => Ok(KeyValueStoreRef::without_timestamps(
                name,
                Arc::clone(s),
                keys,
                values,
            )),
            other => Err(other.wrong_kind(name, "key-value")),
        }
    }

    pub(crate) fn timestamped<K: 'static, V: 'static>(
        name: &str,
        handle: &StoreHandle,
        keys: Arc<dyn Serde<K>>,
        values: Arc<dyn Serde<V>>,
    ) -> Result<TimestampedKeyValueStoreRef<K, V>> {
        match handle {
            StoreHandle::Timestamped(s) => Ok(TimestampedKeyValueStoreRef::new(
                name,
                Arc::clone(s),
                keys,
                values,
            )),
            other => Err(other.wrong_kind(name, "timestamped key-value")),
        }
    }

    pub(crate) fn window<K: 'static, V: 'static>(
        name: &str,
        handle: &StoreHandle,
        keys: Arc<dyn Serde<K>>,
        values: Arc<dyn Serde<V>>,
        window_size_ms: i64,
    ) -> Result<WindowStoreRef<K, V>> {
        match handle {
            StoreHandle::Window(s) => Ok(WindowStoreRef::new(
                name,
                Arc::clone(s),
                keys,
                values,
                window_size_ms,
            )),
            // The plain view of a timestamped window store reads values without timestamps.
            StoreHandle::TimestampedWindow(s) => Ok(WindowStoreRef::new(
                name,
                Arc::clone(s),
                keys,
                Arc::new(WithoutTimestamp(values)),
                window_size_ms,
            )),
            other => Err(other.wrong_kind(name, "window")),
        }
    }

    pub(crate) fn timestamped_window<K: 'static, V: 'static>(
        name: &str,
        handle: &StoreHandle,
        keys: Arc<dyn Serde<K>>,
        values: Arc<dyn Serde<V>>,
        window_size_ms: i64,
    ) -> Result<TimestampedWindowStoreRef<K, V>> {
        match handle {
            StoreHandle::TimestampedWindow(s) => Ok(TimestampedWindowStoreRef {
                inner: WindowStoreRef::new(
                    name,
                    Arc::clone(s),
                    keys,
                    Arc::new(WithTimestamp(values)),
                    window_size_ms,
                ),
            }),
            other => Err(other.wrong_kind(name, "timestamped window")),
        }
    }

    pub(crate) fn session<K: 'static, V: 'static>(
        name: &str,
        handle: &StoreHandle,
        keys: Arc<dyn Serde<K>>,
        values: Arc<dyn Serde<V>>,
    ) -> Result<SessionStoreRef<K, V>> {
        match handle {
            StoreHandle::Session(s) => Ok(SessionStoreRef::new(name, Arc::clone(s), keys, values)),
            other => Err(other.wrong_kind(name, "session")),
        }
    }
}
