//! Interactive queries: reading an instance's part of a state store from outside the stream
//! threads, like the read-only stores that Kafka's `KafkaStreams::store` returns
//! (`ReadOnlyKeyValueStore`, `ReadOnlyWindowStore`, `ReadOnlySessionStore`).
//!
//! An instance holds a store's partitions in several tasks. As Kafka's composite stores
//! (`CompositeReadOnlyKeyValueStore` and its window and session siblings) do, a query asks
//! every local task in turn and concatenates the answers: each task's part is ordered (by
//! serialized key, or by time), the whole is not.

use std::sync::Arc;

use streams_core::dsl::windows::Windowed;
use streams_core::internals::{access, KeyValueStoreRef, StoreHandle};
use streams_core::serde::Serde;
use streams_core::state::{
    SessionStoreRef, VersionedKeyValueStoreRef, VersionedRecord, WindowStoreRef,
};

use crate::error::{Error, Result};
use crate::instance::Runtime;

/// Read access to the part of a key-value store held by one instance's tasks, like the
/// `ReadOnlyKeyValueStore` of Kafka's interactive queries. Each call looks at the tasks the
/// instance runs at that moment; during a rebalance a call may fail with a closed store (retry).
///
/// Scans return each task's entries in serialized-key order, task after task: across tasks the
/// result is not sorted, as with Kafka's `CompositeReadOnlyKeyValueStore`.
pub struct LocalKeyValueStore<K, V> {
    pub(crate) runtime: Arc<Runtime>,
    pub(crate) name: String,
    pub(crate) keys: Arc<dyn Serde<K>>,
    pub(crate) values: Arc<dyn Serde<V>>,
}

impl<K: 'static, V: 'static> LocalKeyValueStore<K, V> {
    /// The value of `key`, if a local task holds it.
    pub fn get(&self, key: &K) -> Result<Option<V>> {
        first_found(self.stores()?, |store| store.get(key))
    }

    /// Every entry held locally (task by task, each in key order).
    pub fn all(&self) -> Result<Vec<(K, V)>> {
        self.per_task(|store| store.all())
    }

    /// Entries with `from <= key <= to` by serialized key, open at an end that is `None`
    /// (Kafka's `range`; task by task, each in key order).
    ///
    /// ```no_run
    /// # fn example(streams: &streams_runtime::KafkaStreams) -> streams_runtime::Result<()> {
    /// use streams_core::serde::Serdes;
    /// let counts = streams.local_store("counts", Serdes::string(), Serdes::i64())?;
    /// // Every word from "a" up to and including "m".
    /// let first_half = counts.range(Some(&"a".to_string()), Some(&"m".to_string()))?;
    /// # Ok(()) }
    /// ```
    pub fn range(&self, from: Option<&K>, to: Option<&K>) -> Result<Vec<(K, V)>> {
        self.per_task(|store| store.range(from, to))
    }

    /// The entries of [`range`](Self::range), each task's in descending key order (Kafka's
    /// `reverseRange`).
    pub fn reverse_range(&self, from: Option<&K>, to: Option<&K>) -> Result<Vec<(K, V)>> {
        self.per_task(|store| store.reverse_range(from, to))
    }

    /// Every entry held locally, each task's in descending key order (Kafka's `reverseAll`).
    pub fn reverse_all(&self) -> Result<Vec<(K, V)>> {
        self.per_task(|store| store.reverse_all())
    }

    /// Entries whose serialized key starts with the serialized `prefix` (Kafka's `prefixScan`;
    /// task by task, each in key order).
    ///
    /// ```no_run
    /// # fn example(streams: &streams_runtime::KafkaStreams) -> streams_runtime::Result<()> {
    /// use streams_core::serde::Serdes;
    /// let counts = streams.local_store("counts", Serdes::string(), Serdes::i64())?;
    /// let stream_words = counts.prefix_scan(&"stream".to_string())?;
    /// # Ok(()) }
    /// ```
    pub fn prefix_scan(&self, prefix: &K) -> Result<Vec<(K, V)>> {
        self.per_task(|store| store.prefix_scan(prefix))
    }

    /// An estimate of the number of entries held locally: the sum of the tasks' estimates
    /// (Kafka's `approximateNumEntries`). As in Kafka, entries still only in a task's record
    /// cache count once a commit has flushed them, and RocksDB's figure is an estimate.
    pub fn approximate_num_entries(&self) -> Result<u64> {
        let mut total = 0u64;
        for store in self.stores()? {
            total = total.saturating_add(store.approximate_num_entries()?);
        }
        Ok(total)
    }

    /// `scan` of every local task's store, concatenated.
    fn per_task(
        &self,
        scan: impl Fn(&KeyValueStoreRef<K, V>) -> streams_core::Result<Vec<(K, V)>>,
    ) -> Result<Vec<(K, V)>> {
        concat(self.stores()?, scan, false)
    }

    /// The local instances of the store, typed (a table's store read without timestamps).
    fn stores(&self) -> Result<Vec<KeyValueStoreRef<K, V>>> {
        typed(&self.runtime, &self.name, |handle| {
            access::key_value(
                &self.name,
                handle,
                Arc::clone(&self.keys),
                Arc::clone(&self.values),
            )
        })
    }
}

/// Read access to the part of a window store held by one instance's tasks, like the
/// `ReadOnlyWindowStore` of Kafka's interactive queries. A windowed aggregation's store is read
/// without the timestamps it keeps beside each value, as Kafka's `ReadOnlyWindowStoreFacade`
/// does. Results come task after task, each task's in time order (and, for the scans of every
/// key, by key within it).
pub struct LocalWindowStore<K, V> {
    pub(crate) runtime: Arc<Runtime>,
    pub(crate) name: String,
    pub(crate) keys: Arc<dyn Serde<K>>,
    pub(crate) values: Arc<dyn Serde<V>>,
    pub(crate) window_size_ms: i64,
}

impl<K: 'static, V: 'static> LocalWindowStore<K, V> {
    /// `(window start, value)` of `key` for windows starting in `[time_from, time_to]`, in
    /// time order (Kafka's `fetch(key, timeFrom, timeTo)`).
    ///
    /// ```no_run
    /// # fn example(streams: &streams_runtime::KafkaStreams) -> streams_runtime::Result<()> {
    /// use streams_core::serde::Serdes;
    /// // Counts per word in one-minute windows.
    /// let counts = streams.local_window_store("windowed-counts", Serdes::string(), Serdes::i64(), 60_000)?;
    /// for (start, count) in counts.fetch(&"stream".to_string(), 0, 600_000)? {
    ///     println!("{count} in the minute starting at {start}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn fetch(&self, key: &K, time_from: i64, time_to: i64) -> Result<Vec<(i64, V)>> {
        concat(
            self.stores()?,
            |store| store.fetch_range(key, time_from, time_to),
            false,
        )
    }

    /// The value of `key` in the window starting exactly at `window_start` (Kafka's
    /// `fetch(key, time)`).
    pub fn fetch_window(&self, key: &K, window_start: i64) -> Result<Option<V>> {
        first_found(self.stores()?, |store| store.fetch(key, window_start))
    }

    /// [`fetch`](Self::fetch) latest window first (Kafka's `backwardFetch(key, timeFrom,
    /// timeTo)`).
    pub fn backward_fetch(&self, key: &K, time_from: i64, time_to: i64) -> Result<Vec<(i64, V)>> {
        concat(
            self.stores()?,
            |store| store.fetch_range(key, time_from, time_to),
            true,
        )
    }

    /// The windows of keys from `key_from` to `key_to` (inclusive, by serialized key; `None`
    /// leaves an end open) starting in `[time_from, time_to]` (Kafka's `fetch(keyFrom, keyTo,
    /// timeFrom, timeTo)`).
    pub fn fetch_key_range(
        &self,
        key_from: Option<&K>,
        key_to: Option<&K>,
        time_from: i64,
        time_to: i64,
    ) -> Result<Vec<(Windowed<K>, V)>> {
        self.per_task(|store| store.fetch_key_range(key_from, key_to, time_from, time_to))
    }

    /// [`fetch_key_range`](Self::fetch_key_range) in reverse order (Kafka's
    /// `backwardFetch(keyFrom, keyTo, timeFrom, timeTo)`).
    pub fn backward_fetch_key_range(
        &self,
        key_from: Option<&K>,
        key_to: Option<&K>,
        time_from: i64,
        time_to: i64,
    ) -> Result<Vec<(Windowed<K>, V)>> {
        self.per_task_reversed(|store| store.fetch_key_range(key_from, key_to, time_from, time_to))
    }

    /// Every windowed entry with a window start in `[time_from, time_to]` (Kafka's `fetchAll`).
    pub fn fetch_all(&self, time_from: i64, time_to: i64) -> Result<Vec<(Windowed<K>, V)>> {
        self.per_task(|store| store.fetch_all(time_from, time_to))
    }

    /// [`fetch_all`](Self::fetch_all) in reverse order (Kafka's `backwardFetchAll`).
    pub fn backward_fetch_all(
        &self,
        time_from: i64,
        time_to: i64,
    ) -> Result<Vec<(Windowed<K>, V)>> {
        self.per_task_reversed(|store| store.fetch_all(time_from, time_to))
    }

    /// Every windowed entry held locally (Kafka's `all`).
    pub fn all(&self) -> Result<Vec<(Windowed<K>, V)>> {
        self.fetch_all(i64::MIN, i64::MAX)
    }

    /// [`all`](Self::all) in reverse order (Kafka's `backwardAll`).
    pub fn backward_all(&self) -> Result<Vec<(Windowed<K>, V)>> {
        self.backward_fetch_all(i64::MIN, i64::MAX)
    }

    /// `scan` of every local task's store, concatenated.
    fn per_task(
        &self,
        scan: impl Fn(&WindowStoreRef<K, V>) -> streams_core::Result<Vec<(Windowed<K>, V)>>,
    ) -> Result<Vec<(Windowed<K>, V)>> {
        concat(self.stores()?, scan, false)
    }

    /// `scan` of every local task's store, each reversed, concatenated (as Kafka's composite
    /// store iterates each store's backward iterator in turn).
    fn per_task_reversed(
        &self,
        scan: impl Fn(&WindowStoreRef<K, V>) -> streams_core::Result<Vec<(Windowed<K>, V)>>,
    ) -> Result<Vec<(Windowed<K>, V)>> {
        concat(self.stores()?, scan, true)
    }

    fn stores(&self) -> Result<Vec<WindowStoreRef<K, V>>> {
        typed(&self.runtime, &self.name, |handle| {
            access::window(
                &self.name,
                handle,
                Arc::clone(&self.keys),
                Arc::clone(&self.values),
                self.window_size_ms,
            )
        })
    }
}

/// Read access to the part of a session store held by one instance's tasks, like the
/// `ReadOnlySessionStore` of Kafka's interactive queries.
pub struct LocalSessionStore<K, V> {
    pub(crate) runtime: Arc<Runtime>,
    pub(crate) name: String,
    pub(crate) keys: Arc<dyn Serde<K>>,
    pub(crate) values: Arc<dyn Serde<V>>,
}

impl<K: Clone + 'static, V: 'static> LocalSessionStore<K, V> {
    /// Every session of `key` and its aggregate, in time order (Kafka's `fetch(key)`).
    ///
    /// ```no_run
    /// # fn example(streams: &streams_runtime::KafkaStreams) -> streams_runtime::Result<()> {
    /// use streams_core::serde::Serdes;
    /// let sessions = streams.local_session_store("sessions", Serdes::string(), Serdes::i64())?;
    /// for (session, count) in sessions.fetch(&"alice".to_string())? {
    ///     println!("{count} clicks in {:?}", session.window);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn fetch(&self, key: &K) -> Result<Vec<(Windowed<K>, V)>> {
        concat(self.stores()?, |store| store.fetch(key), false)
    }

    /// [`fetch`](Self::fetch) latest session first (Kafka's `backwardFetch(key)`).
    pub fn backward_fetch(&self, key: &K) -> Result<Vec<(Windowed<K>, V)>> {
        concat(self.stores()?, |store| store.fetch(key), true)
    }

    /// Every session of keys from `key_from` to `key_to` (inclusive, by serialized key; `None`
    /// leaves an end open) (Kafka's `fetch(keyFrom, keyTo)`).
    pub fn fetch_key_range(
        &self,
        key_from: Option<&K>,
        key_to: Option<&K>,
    ) -> Result<Vec<(Windowed<K>, V)>> {
        self.find_sessions_in_key_range(key_from, key_to, i64::MIN, i64::MAX)
    }

    /// Sessions of `key` that end at or after `earliest_session_end` and start at or before
    /// `latest_session_start`, in time order (Kafka's `findSessions(key, earliestSessionEndTime,
    /// latestSessionStartTime)`).
    pub fn find_sessions(
        &self,
        key: &K,
        earliest_session_end: i64,
        latest_session_start: i64,
    ) -> Result<Vec<(Windowed<K>, V)>> {
        concat(
            self.stores()?,
            |store| store.find_sessions(key, earliest_session_end, latest_session_start),
            false,
        )
    }

    /// [`find_sessions`](Self::find_sessions) over keys from `key_from` to `key_to` (Kafka's
    /// `findSessions(keyFrom, keyTo, …)`).
    pub fn find_sessions_in_key_range(
        &self,
        key_from: Option<&K>,
        key_to: Option<&K>,
        earliest_session_end: i64,
        latest_session_start: i64,
    ) -> Result<Vec<(Windowed<K>, V)>> {
        concat(
            self.stores()?,
            |store| {
                store.find_sessions_in_key_range(
                    key_from,
                    key_to,
                    earliest_session_end,
                    latest_session_start,
                )
            },
            false,
        )
    }

    /// The aggregate of `key`'s session `[start, end]` exactly, if a local task holds it
    /// (Kafka's `fetchSession`).
    pub fn fetch_session(&self, key: &K, start: i64, end: i64) -> Result<Option<V>> {
        first_found(self.stores()?, |store| store.fetch_session(key, start, end))
    }

    fn stores(&self) -> Result<Vec<SessionStoreRef<K, V>>> {
        typed(&self.runtime, &self.name, |handle| {
            access::session(
                &self.name,
                handle,
                Arc::clone(&self.keys),
                Arc::clone(&self.values),
            )
        })
    }
}

/// Read access to the part of a versioned key-value store held by one instance's tasks (a
/// versioned table's): a key's latest version or its version as of a time, like Kafka's IQv2
/// `VersionedKeyQuery` (`withKey(key)`, `asOf(timestamp)`).
pub struct LocalVersionedStore<K, V> {
    pub(crate) runtime: Arc<Runtime>,
    pub(crate) name: String,
    pub(crate) keys: Arc<dyn Serde<K>>,
    pub(crate) values: Arc<dyn Serde<V>>,
}

impl<K: 'static, V: 'static> LocalVersionedStore<K, V> {
    /// The latest version of `key`, if a local task holds one.
    pub fn get(&self, key: &K) -> Result<Option<VersionedRecord<V>>> {
        self.first(|store| store.get(key))
    }

    /// The version of `key` valid at `as_of`, if a local task holds one within its history
    /// retention.
    ///
    /// ```no_run
    /// # fn example(streams: &streams_runtime::KafkaStreams) -> streams_runtime::Result<()> {
    /// use streams_core::serde::Serdes;
    /// let prices = streams.local_versioned_store("prices", Serdes::string(), Serdes::i64())?;
    /// let yesterday = prices.get_as_of(&"apple".to_string(), 1_700_000_000_000)?;
    /// # Ok(()) }
    /// ```
    pub fn get_as_of(&self, key: &K, as_of: i64) -> Result<Option<VersionedRecord<V>>> {
        self.first(|store| store.get_as_of(key, as_of))
    }

    /// The first local task's answer that finds something.
    fn first(
        &self,
        read: impl Fn(
            &VersionedKeyValueStoreRef<K, V>,
        ) -> streams_core::Result<Option<VersionedRecord<V>>>,
    ) -> Result<Option<VersionedRecord<V>>> {
        let stores = typed(&self.runtime, &self.name, |handle| {
            access::versioned(
                &self.name,
                handle,
                Arc::clone(&self.keys),
                Arc::clone(&self.values),
            )
        })?;
        first_found(stores, read)
    }
}

/// `scan` of each local task's store, concatenated task after task; with `reversed`, each
/// task's answer backwards (as Kafka's composite stores iterate each store's backward iterator
/// in turn).
fn concat<S, T>(
    stores: Vec<S>,
    scan: impl Fn(&S) -> streams_core::Result<Vec<T>>,
    reversed: bool,
) -> Result<Vec<T>> {
    let mut entries = Vec::new();
    for store in &stores {
        let mut found = scan(store)?;
        if reversed {
            found.reverse();
        }
        entries.extend(found);
    }
    Ok(entries)
}

/// The first local task's answer that finds something (a key lives in one task).
fn first_found<S, T>(
    stores: Vec<S>,
    read: impl Fn(&S) -> streams_core::Result<Option<T>>,
) -> Result<Option<T>> {
    for store in &stores {
        if let Some(found) = read(store)? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// The local instances of store `name`, each typed by `access`.
fn typed<S>(
    runtime: &Runtime,
    name: &str,
    access: impl Fn(&StoreHandle) -> streams_core::Result<S>,
) -> Result<Vec<S>> {
    runtime
        .store_handles(name)
        .iter()
        .map(|handle| access(handle).map_err(Error::from))
        .collect()
}
