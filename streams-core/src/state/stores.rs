//! `Stores`: the factory of store suppliers and builders for the Processor API, like Kafka
//! Streams' `Stores`.
//!
//! A supplier says which store (name, kind, in-memory or persistent, retention); a builder adds
//! changelogging and caching. The builders are `streams-state`'s own, so anything they offer
//! (`with_logging_disabled`, `with_caching_enabled`, `with_changelog_topic`, …) applies.
//! Unlike Kafka's, Rill's builders take no serdes: a store holds bytes and is typed where a
//! processor opens it (`ProcessorContext::key_value_store(name, key_serde, value_serde)`).

use std::time::Duration;

use streams_state::{
    KeyValueStoreBuilder, SessionStoreBuilder, StoreBackend, TimestampedKeyValueStoreBuilder,
    VersionedKeyValueStoreBuilder, WindowStoreBuilder,
};

use crate::error::{Error, Result};

/// Supplies a key-value store, like Kafka's `KeyValueBytesStoreSupplier`.
#[derive(Debug, Clone)]
pub struct KeyValueBytesStoreSupplier {
    name: String,
    backend: StoreBackend,
}

/// Supplies a window store, like Kafka's `WindowBytesStoreSupplier`.
#[derive(Debug, Clone)]
pub struct WindowBytesStoreSupplier {
    name: String,
    backend: StoreBackend,
    retention_ms: i64,
    window_size_ms: i64,
    retain_duplicates: bool,
}

impl WindowBytesStoreSupplier {
    /// The size of the windows the store holds, in milliseconds.
    pub fn window_size_ms(&self) -> i64 {
        self.window_size_ms
    }
}

/// Supplies a session store, like Kafka's `SessionBytesStoreSupplier`.
#[derive(Debug, Clone)]
pub struct SessionBytesStoreSupplier {
    name: String,
    backend: StoreBackend,
    retention_ms: i64,
}

/// Supplies a versioned key-value store, like Kafka's `VersionedBytesStoreSupplier`: its name,
/// history retention and segment interval. Materialize a table in it with
/// `Materialized::as_versioned`, or build it with
/// [`Stores::versioned_key_value_store_builder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionedBytesStoreSupplier {
    name: String,
    backend: StoreBackend,
    history_retention_ms: i64,
    segment_interval_ms: i64,
}

impl VersionedBytesStoreSupplier {
    /// The store's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How long the store keeps history (and accepts out-of-order writes), in milliseconds.
    pub fn history_retention_ms(&self) -> i64 {
        self.history_retention_ms
    }

    /// The interval of the segments history is kept in, in milliseconds.
    pub fn segment_interval_ms(&self) -> i64 {
        self.segment_interval_ms
    }

    /// The store keeps its versions in memory instead of RocksDB (restored in full from its
    /// changelog on every start; Kafka has no in-memory versioned store).
    pub fn in_memory(mut self) -> Self {
        self.backend = StoreBackend::InMemory;
        self
    }

    /// A builder of the store, changelogged (what [`Stores::versioned_key_value_store_builder`]
    /// returns).
    pub(crate) fn builder(&self) -> VersionedKeyValueStoreBuilder {
        VersionedKeyValueStoreBuilder::new(self.name.clone(), self.history_retention_ms)
            .with_segment_interval(self.segment_interval_ms)
            .with_backend(self.backend)
    }
}

/// Factory of store suppliers and builders, like Kafka Streams' `Stores`.
///
/// ```
/// use streams_core::state::Stores;
///
/// let counts = Stores::key_value_store_builder(Stores::in_memory_key_value_store("counts"))
///     .with_caching_enabled()
///     .with_logging_disabled();
/// assert_eq!(counts.name(), "counts");
///
/// use std::time::Duration;
/// let supplier = Stores::persistent_window_store(
///     "windows",
///     Duration::from_secs(60),
///     Duration::from_secs(120), // larger than the retention
///     false,
/// );
/// assert!(supplier.is_err());
/// ```
pub struct Stores;

impl Stores {
    /// A persistent (RocksDB) key-value store (Kafka's `persistentKeyValueStore`).
    pub fn persistent_key_value_store(name: impl Into<String>) -> KeyValueBytesStoreSupplier {
        KeyValueBytesStoreSupplier {
            name: name.into(),
            backend: StoreBackend::RocksDb,
        }
    }

    /// A persistent key-value store for timestamped values (Kafka's
    /// `persistentTimestampedKeyValueStore`); build it with
    /// [`timestamped_key_value_store_builder`](Self::timestamped_key_value_store_builder).
    pub fn persistent_timestamped_key_value_store(
        name: impl Into<String>,
    ) -> KeyValueBytesStoreSupplier {
        Self::persistent_key_value_store(name)
    }

    /// An in-memory key-value store (Kafka's `inMemoryKeyValueStore`).
    pub fn in_memory_key_value_store(name: impl Into<String>) -> KeyValueBytesStoreSupplier {
        KeyValueBytesStoreSupplier {
            name: name.into(),
            backend: StoreBackend::InMemory,
        }
    }

    /// A persistent window store keeping `retention` of stream time, of windows of
    /// `window_size` (Kafka's `persistentWindowStore`). An [`Error::InvalidArgument`] if the
    /// window is larger than the retention.
    pub fn persistent_window_store(
        name: impl Into<String>,
        retention: Duration,
        window_size: Duration,
        retain_duplicates: bool,
    ) -> Result<WindowBytesStoreSupplier> {
        Self::window_store(
            name.into(),
            StoreBackend::RocksDb,
            retention,
            window_size,
            retain_duplicates,
        )
    }

    /// An in-memory window store (Kafka's `inMemoryWindowStore`); see
    /// [`persistent_window_store`](Self::persistent_window_store).
    pub fn in_memory_window_store(
        name: impl Into<String>,
        retention: Duration,
        window_size: Duration,
        retain_duplicates: bool,
    ) -> Result<WindowBytesStoreSupplier> {
        Self::window_store(
            name.into(),
            StoreBackend::InMemory,
            retention,
            window_size,
            retain_duplicates,
        )
    }

    /// A persistent session store keeping sessions `retention` after their end (Kafka's
    /// `persistentSessionStore`).
    pub fn persistent_session_store(
        name: impl Into<String>,
        retention: Duration,
    ) -> SessionBytesStoreSupplier {
        SessionBytesStoreSupplier {
            name: name.into(),
            backend: StoreBackend::RocksDb,
            retention_ms: millis(retention),
        }
    }

    /// An in-memory session store (Kafka's `inMemorySessionStore`).
    pub fn in_memory_session_store(
        name: impl Into<String>,
        retention: Duration,
    ) -> SessionBytesStoreSupplier {
        SessionBytesStoreSupplier {
            name: name.into(),
            backend: StoreBackend::InMemory,
            retention_ms: millis(retention),
        }
    }

    /// A persistent versioned key-value store keeping `history_retention` of history (Kafka's
    /// `persistentVersionedKeyValueStore(name, historyRetention)`, KIP-889): reads *as of* a
    /// timestamp older than stream time minus the history retention find nothing (except a
    /// key's latest value), and writes that old are refused. History is segmented by Kafka's
    /// default interval for the retention.
    ///
    /// ```
    /// use std::time::Duration;
    /// use streams_core::state::Stores;
    ///
    /// let supplier = Stores::persistent_versioned_key_value_store("prices", Duration::from_secs(300));
    /// assert_eq!(supplier.segment_interval_ms(), 60_000);
    /// let builder = Stores::versioned_key_value_store_builder(supplier);
    /// assert_eq!(builder.changelog_topic("app").as_deref(), Some("app-prices-changelog"));
    /// ```
    pub fn persistent_versioned_key_value_store(
        name: impl Into<String>,
        history_retention: Duration,
    ) -> VersionedBytesStoreSupplier {
        let history_retention_ms = millis(history_retention);
        VersionedBytesStoreSupplier {
            name: name.into(),
            backend: StoreBackend::RocksDb,
            history_retention_ms,
            segment_interval_ms: streams_state::versioned::default_segment_interval(
                history_retention_ms,
            ),
        }
    }

    /// [`persistent_versioned_key_value_store`](Self::persistent_versioned_key_value_store) with
    /// history kept in segments of `segment_interval` (Kafka's overload with a segment
    /// interval); an [`Error::InvalidArgument`] if the interval is under a millisecond.
    pub fn persistent_versioned_key_value_store_with_segment_interval(
        name: impl Into<String>,
        history_retention: Duration,
        segment_interval: Duration,
    ) -> Result<VersionedBytesStoreSupplier> {
        let name = name.into();
        let segment_interval_ms = millis(segment_interval);
        if segment_interval_ms < 1 {
            return Err(Error::InvalidArgument(format!(
                "versioned store `{name}`: the segment interval cannot be zero"
            )));
        }
        Ok(VersionedBytesStoreSupplier {
            segment_interval_ms,
            ..Self::persistent_versioned_key_value_store(name, history_retention)
        })
    }

    /// A builder of the versioned store `supplier` gives: changelogged, never cached (Kafka's
    /// `versionedKeyValueStoreBuilder`). Add it to a processor with
    /// `TopologyBuilder::add_state_store`, read it with
    /// `ProcessorContext::versioned_key_value_store`.
    pub fn versioned_key_value_store_builder(
        supplier: VersionedBytesStoreSupplier,
    ) -> VersionedKeyValueStoreBuilder {
        supplier.builder()
    }

    /// A builder of the store `supplier` gives: changelogged, uncached, as in Kafka
    /// (`keyValueStoreBuilder`).
    pub fn key_value_store_builder(supplier: KeyValueBytesStoreSupplier) -> KeyValueStoreBuilder {
        KeyValueStoreBuilder::new(supplier.name).with_backend(supplier.backend)
    }

    /// A builder of a timestamped key-value store from `supplier` (Kafka's
    /// `timestampedKeyValueStoreBuilder`).
    pub fn timestamped_key_value_store_builder(
        supplier: KeyValueBytesStoreSupplier,
    ) -> TimestampedKeyValueStoreBuilder {
        TimestampedKeyValueStoreBuilder::new(supplier.name).with_backend(supplier.backend)
    }

    /// A builder of the window store `supplier` gives (Kafka's `windowStoreBuilder`).
    pub fn window_store_builder(supplier: WindowBytesStoreSupplier) -> WindowStoreBuilder {
        WindowStoreBuilder::new(supplier.name, supplier.retention_ms)
            .with_backend(supplier.backend)
            .with_retain_duplicates(supplier.retain_duplicates)
    }

    /// A builder of the session store `supplier` gives (Kafka's `sessionStoreBuilder`).
    pub fn session_store_builder(supplier: SessionBytesStoreSupplier) -> SessionStoreBuilder {
        SessionStoreBuilder::new(supplier.name, supplier.retention_ms)
            .with_backend(supplier.backend)
    }

    fn window_store(
        name: String,
        backend: StoreBackend,
        retention: Duration,
        window_size: Duration,
        retain_duplicates: bool,
    ) -> Result<WindowBytesStoreSupplier> {
        if window_size > retention {
            return Err(Error::InvalidArgument(format!(
                "window store `{name}`: the retention period ({} ms) must be no smaller than the \
                 window size ({} ms)",
                millis(retention),
                millis(window_size)
            )));
        }
        Ok(WindowBytesStoreSupplier {
            name,
            backend,
            retention_ms: millis(retention),
            window_size_ms: millis(window_size),
            retain_duplicates,
        })
    }
}

/// `duration` in milliseconds, saturating at `i64::MAX`.
fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suppliers_pick_the_backend_and_builders_keep_kafkas_defaults() {
        let kv = Stores::key_value_store_builder(Stores::in_memory_key_value_store("a"));
        assert_eq!(kv.backend(), StoreBackend::InMemory);
        assert!(!kv.caching_enabled());
        assert_eq!(
            kv.changelog_topic("app").as_deref(),
            Some("app-a-changelog")
        );
        let ts = Stores::timestamped_key_value_store_builder(
            Stores::persistent_timestamped_key_value_store("b"),
        );
        assert_eq!(ts.backend(), StoreBackend::RocksDb);
        let window = Stores::window_store_builder(
            Stores::in_memory_window_store(
                "w",
                Duration::from_secs(10),
                Duration::from_secs(1),
                true,
            )
            .unwrap(),
        )
        .with_caching_enabled();
        assert_eq!(window.retention_ms(), 10_000);
        assert!(!window.caching_enabled(), "duplicates are never cached");
        let session = Stores::session_store_builder(Stores::persistent_session_store(
            "s",
            Duration::from_millis(500),
        ))
        .with_logging_disabled();
        assert_eq!(session.retention_ms(), 500);
        assert_eq!(session.changelog_topic("app"), None);
    }

    #[test]
    fn versioned_suppliers_take_kafkas_default_segment_interval() {
        let supplier =
            Stores::persistent_versioned_key_value_store("v", Duration::from_secs(3_600));
        assert_eq!(supplier.history_retention_ms(), 3_600_000);
        assert_eq!(supplier.segment_interval_ms(), 300_000);
        let builder = Stores::versioned_key_value_store_builder(supplier);
        assert_eq!(builder.backend(), StoreBackend::RocksDb);
        assert_eq!(builder.segment_interval_ms(), 300_000);
        let custom = Stores::persistent_versioned_key_value_store_with_segment_interval(
            "v",
            Duration::from_secs(60),
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(custom.segment_interval_ms(), 10_000);
        let error = Stores::persistent_versioned_key_value_store_with_segment_interval(
            "v",
            Duration::from_secs(60),
            Duration::ZERO,
        )
        .unwrap_err();
        assert!(error.to_string().contains("segment interval"), "{error}");
    }

    #[test]
    fn a_window_larger_than_the_retention_is_refused() {
        let error = Stores::persistent_window_store(
            "w",
            Duration::from_millis(10),
            Duration::from_millis(20),
            false,
        )
        .unwrap_err();
        assert!(error.to_string().contains("window store `w`"), "{error}");
    }
}
