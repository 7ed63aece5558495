//! Store builders: what a topology holds, and what each task builds its stores from.
//!
//! Like Kafka Streams' `StoreBuilder`s (`Stores.keyValueStoreBuilder(..).withCachingEnabled()`), a
//! builder describes a store — name, RocksDB or in-memory, changelogging, caching — and
//! [`build`](KeyValueStoreBuilder::build)s one instance per task from a [`StoreContext`], stacking
//! the layers in Kafka's order: cache on top, then changelogging, then the store itself. So a
//! cached write reaches the changelog only when the cache flushes it. What they build is a
//! [`StoreStack`], through which the store's owner reaches the cache, if any.

use std::sync::Arc;

use crate::cache::CachingKeyValueStore;
use crate::changelog::{
    changelog_topic_name, ChangelogSink, ChangelogWriter, ChangeloggingKeyValueStore,
    ChangeloggingSessionStore, ChangeloggingWindowStore, RecordContext, ValueFormat,
};
use crate::directory::StateDirectory;
use crate::memory::{InMemoryKeyValueStore, InMemorySessionStore, InMemoryWindowStore};
use crate::rocks::{
    RocksDbKeyValueStore, RocksDbResources, RocksDbSessionStore, RocksDbWindowStore,
};
use crate::stack::{
    KeyValueStack, SessionStack, StoreStack, TimestampedKeyValueStack, VersionedStack, WindowStack,
};
use crate::store::{KeyValueStore, SessionStore, WindowStore};
use crate::timestamped::TimestampedKeyValueAdapter;
use crate::versioned::{
    default_segment_interval, ChangeloggingVersionedStore, InMemoryVersionedStore,
    RocksDbVersionedStore, VersionedKeyValueStore,
};
use crate::window_cache::{CachingSessionStore, CachingWindowStore};
use crate::{Error, Result};

/// Which implementation a store uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreBackend {
    /// RocksDB, persistent (the default).
    #[default]
    RocksDb,
    /// In memory (hash maps and ordered maps), restored in full from the changelog on every start.
    InMemory,
}

/// Everything a task provides to build its stores: application and task identity, where
/// persistent stores live, the shared RocksDB resources, the changelog writer and the record
/// context.
#[derive(Clone)]
pub struct StoreContext {
    application_id: String,
    task_id: String,
    partition: i32,
    state_directory: Option<StateDirectory>,
    rocksdb: Option<RocksDbResources>,
    changelog: Option<Arc<dyn ChangelogWriter>>,
    record_context: RecordContext,
    cache_max_bytes: usize,
}

/// The record cache a store with caching enabled gets when its context says nothing else: Kafka's
/// `statestore.cache.max.bytes` default, 10 MiB.
pub const DEFAULT_CACHE_MAX_BYTES: usize = 10 * 1024 * 1024;

impl StoreContext {
    /// A context for task `task_id` (changelog partition `partition`) whose persistent stores live
    /// in `state_directory` and share `rocksdb`'s memory.
    pub fn new(
        state_directory: StateDirectory,
        task_id: impl Into<String>,
        partition: i32,
        rocksdb: RocksDbResources,
    ) -> Self {
        StoreContext {
            application_id: state_directory.application_id().to_string(),
            task_id: task_id.into(),
            partition,
            state_directory: Some(state_directory),
            rocksdb: Some(rocksdb),
            changelog: None,
            record_context: RecordContext::new(),
            cache_max_bytes: DEFAULT_CACHE_MAX_BYTES,
        }
    }

    /// A context without a state directory: only in-memory stores can be built from it.
    pub fn in_memory(
        application_id: impl Into<String>,
        task_id: impl Into<String>,
        partition: i32,
    ) -> Self {
        StoreContext {
            application_id: application_id.into(),
            task_id: task_id.into(),
            partition,
            state_directory: None,
            rocksdb: None,
            changelog: None,
            record_context: RecordContext::new(),
            cache_max_bytes: DEFAULT_CACHE_MAX_BYTES,
        }
    }

    /// Sends changelogged stores' writes to `writer`.
    pub fn with_changelog(mut self, writer: Arc<dyn ChangelogWriter>) -> Self {
        self.changelog = Some(writer);
        self
    }

    /// Stamps changelog records and cache entries with `context`'s timestamp.
    pub fn with_record_context(mut self, context: RecordContext) -> Self {
        self.record_context = context;
        self
    }

    /// Gives each store built with caching enabled (and no explicit size) a record cache of
    /// `max_bytes`; 0 builds those stores without a cache. The runtime divides the application's
    /// `statestore.cache.max.bytes` among its cached stores this way.
    pub fn with_cache_max_bytes(mut self, max_bytes: usize) -> Self {
        self.cache_max_bytes = max_bytes;
        self
    }

    /// The record-cache size of a store built with caching enabled.
    pub fn cache_max_bytes(&self) -> usize {
        self.cache_max_bytes
    }

    /// The application id.
    pub fn application_id(&self) -> &str {
        &self.application_id
    }

    /// The task id.
    pub fn task_id(&self) -> &str {
        &self.task_id
    }

    /// The changelog partition of the task's stores.
    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// The record context shared with the stores.
    pub fn record_context(&self) -> &RecordContext {
        &self.record_context
    }

    fn rocksdb(&self, store: &str) -> Result<(std::path::PathBuf, &RocksDbResources)> {
        match (&self.state_directory, &self.rocksdb) {
            (Some(dir), Some(res)) => Ok((dir.store_dir(&self.task_id, store)?, res)),
            _ => Err(Error::InvalidArgument {
                store: store.to_string(),
                message: "a RocksDB store needs a context with a state directory".to_string(),
            }),
        }
    }

    fn sink(&self, store: &str, topic: &str) -> Result<ChangelogSink> {
        let writer = self
            .changelog
            .clone()
            .ok_or_else(|| Error::InvalidArgument {
                store: store.to_string(),
                message: "changelogging is enabled but the context has no changelog writer"
                    .to_string(),
            })?;
        Ok(ChangelogSink::new(
            writer,
            topic,
            self.partition,
            self.record_context.clone(),
        ))
    }
}

/// Whether a store gets a record cache, and how large.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Caching {
    /// No cache (the default, as for Kafka's store builders).
    #[default]
    Disabled,
    /// A cache of the size the [`StoreContext`] gives (Kafka's `withCachingEnabled()`, sized by
    /// `statestore.cache.max.bytes`).
    Enabled,
    /// A cache of exactly this many bytes.
    Bytes(usize),
}

impl Caching {
    /// The cache size for a store built from `ctx`; `None` builds no cache.
    fn bytes(self, ctx: &StoreContext) -> Option<usize> {
        match self {
            Caching::Disabled => None,
            Caching::Enabled => Some(ctx.cache_max_bytes).filter(|&b| b > 0),
            Caching::Bytes(bytes) => Some(bytes),
        }
    }
}

/// The caching setters of the store builders.
macro_rules! caching_setters {
    () => {
        /// Puts a record cache in front of the store, of the size the task's [`StoreContext`]
        /// gives (Kafka's `withCachingEnabled()`; the runtime sizes it from
        /// `statestore.cache.max.bytes`).
        pub fn with_caching_enabled(mut self) -> Self {
            self.caching = Caching::Enabled;
            self
        }

        /// Puts a record cache of exactly `max_bytes` in front of the store.
        pub fn with_caching(mut self, max_bytes: usize) -> Self {
            self.caching = Caching::Bytes(max_bytes);
            self
        }

        /// Removes the record cache (Kafka's `withCachingDisabled()`).
        pub fn with_caching_disabled(mut self) -> Self {
            self.caching = Caching::Disabled;
            self
        }

        /// Whether the store will have a record cache (given a context that grants one).
        pub fn caching_enabled(&self) -> bool {
            self.caching != Caching::Disabled && self.cacheable()
        }
    };
}

/// What all builders share.
#[derive(Debug, Clone)]
struct Common {
    name: String,
    backend: StoreBackend,
    logging: bool,
    changelog_topic: Option<String>,
    /// Topic configs for the changelog, applied over the runtime's own when it creates the
    /// topic (Kafka's `withLoggingEnabled(Map)`).
    changelog_configs: Vec<(String, String)>,
}

impl Common {
    fn new(name: String) -> Self {
        Common {
            name,
            backend: StoreBackend::default(),
            logging: true,
            changelog_topic: None,
            changelog_configs: Vec::new(),
        }
    }

    fn changelog_topic(&self, application_id: &str) -> Option<String> {
        self.logging.then(|| {
            self.changelog_topic
                .clone()
                .unwrap_or_else(|| changelog_topic_name(application_id, &self.name))
        })
    }

    fn sink(&self, ctx: &StoreContext) -> Result<Option<ChangelogSink>> {
        self.changelog_topic(&ctx.application_id)
            .map(|topic| ctx.sink(&self.name, &topic))
            .transpose()
    }
}

macro_rules! common_setters {
    () => {
        /// Uses the in-memory implementation.
        pub fn in_memory(mut self) -> Self {
            self.common.backend = StoreBackend::InMemory;
            self
        }

        /// Uses RocksDB (the default).
        pub fn persistent(mut self) -> Self {
            self.common.backend = StoreBackend::RocksDb;
            self
        }

        /// Uses `backend`.
        pub fn with_backend(mut self, backend: StoreBackend) -> Self {
            self.common.backend = backend;
            self
        }

        /// Does not write a changelog (the store is then lost with its task directory).
        pub fn with_logging_disabled(mut self) -> Self {
            self.common.logging = false;
            self
        }

        /// Writes a changelog (the default) created with these topic configs, e.g.
        /// `min.insync.replicas` or `segment.bytes`, over the ones the runtime sets itself
        /// (Kafka's `withLoggingEnabled(Map)`). They apply only when the runtime creates the
        /// topic; an existing changelog keeps its configs.
        pub fn with_logging_enabled<K, V>(
            mut self,
            configs: impl IntoIterator<Item = (K, V)>,
        ) -> Self
        where
            K: Into<String>,
            V: Into<String>,
        {
            self.common.logging = true;
            self.common.changelog_configs = configs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect();
            self
        }

        /// The changelog topic configs given with `with_logging_enabled`.
        pub fn changelog_configs(&self) -> &[(String, String)] {
            &self.common.changelog_configs
        }

        /// Logs to `topic` instead of `<application.id>-<store>-changelog` (e.g. a source table
        /// reusing its source topic).
        pub fn with_changelog_topic(mut self, topic: impl Into<String>) -> Self {
            self.common.logging = true;
            self.common.changelog_topic = Some(topic.into());
            self
        }

        /// The store's name.
        pub fn name(&self) -> &str {
            &self.common.name
        }

        /// The implementation the store will use.
        pub fn backend(&self) -> StoreBackend {
            self.common.backend
        }

        /// The changelog topic, or `None` with logging disabled.
        pub fn changelog_topic(&self, application_id: &str) -> Option<String> {
            self.common.changelog_topic(application_id)
        }
    };
}

/// Builds [`KeyValueStore`]s: RocksDB by default, changelogged, uncached.
#[derive(Debug, Clone)]
pub struct KeyValueStoreBuilder {
    common: Common,
    caching: Caching,
}

impl KeyValueStoreBuilder {
    /// A builder for the store `name`.
    pub fn new(name: impl Into<String>) -> Self {
        KeyValueStoreBuilder {
            common: Common::new(name.into()),
            caching: Caching::Disabled,
        }
    }

    common_setters!();
    caching_setters!();

    fn cacheable(&self) -> bool {
        true
    }

    /// Builds the store for the task of `ctx`.
    pub fn build(&self, ctx: &StoreContext) -> Result<KeyValueStack> {
        let store = build_logged_kv(&self.common, ctx, ValueFormat::Plain)?;
        stacked(store, self.caching.bytes(ctx), |store, bytes| {
            Ok(CachingKeyValueStore::new(
                store,
                bytes,
                ctx.record_context.clone(),
            ))
        })
    }
}

/// `store` as a stack: under a record cache of `bytes` made by `cache`, or, with `None`, as it
/// is.
fn stacked<S: ?Sized, C>(
    store: Box<S>,
    bytes: Option<usize>,
    cache: impl FnOnce(Box<S>, usize) -> Result<C>,
) -> Result<StoreStack<S, C>> {
    Ok(match bytes {
        Some(bytes) => StoreStack::cached(Box::new(cache(store, bytes)?)),
        None => StoreStack::new(store),
    })
}

/// The key-value store of `common`'s backend, changelogged unless logging is disabled: the
/// layers below a cache.
fn build_logged_kv(
    common: &Common,
    ctx: &StoreContext,
    format: ValueFormat,
) -> Result<Box<dyn KeyValueStore>> {
    let name = &common.name;
    let mut store: Box<dyn KeyValueStore> = match common.backend {
        StoreBackend::InMemory => Box::new(InMemoryKeyValueStore::new(name)),
        StoreBackend::RocksDb => {
            let (path, res) = ctx.rocksdb(name)?;
            Box::new(RocksDbKeyValueStore::open(name, path, res)?)
        }
    };
    if let Some(sink) = common.sink(ctx)? {
        store = Box::new(ChangeloggingKeyValueStore::new(store, sink, format));
    }
    Ok(store)
}

/// Builds [`TimestampedKeyValueStore`](crate::TimestampedKeyValueStore)s, what `KTable`s materialize into.
#[derive(Debug, Clone)]
pub struct TimestampedKeyValueStoreBuilder {
    common: Common,
    caching: Caching,
}

impl TimestampedKeyValueStoreBuilder {
    /// A builder for the store `name`.
    pub fn new(name: impl Into<String>) -> Self {
        TimestampedKeyValueStoreBuilder {
            common: Common::new(name.into()),
            caching: Caching::Disabled,
        }
    }

    common_setters!();
    caching_setters!();

    fn cacheable(&self) -> bool {
        true
    }

    /// Builds the store for the task of `ctx`.
    pub fn build(&self, ctx: &StoreContext) -> Result<TimestampedKeyValueStack> {
        let store = build_logged_kv(&self.common, ctx, ValueFormat::Timestamped)?;
        Ok(match self.caching.bytes(ctx) {
            Some(bytes) => StoreStack::cached(Box::new(TimestampedKeyValueAdapter::new(Box::new(
                CachingKeyValueStore::new(store, bytes, ctx.record_context.clone()),
            )))),
            None => StoreStack::new(Box::new(TimestampedKeyValueAdapter::new(store))),
        })
    }
}

/// Builds [`WindowStore`]s: RocksDB by default, changelogged, uncached unless told (and never
/// when retaining duplicates).
#[derive(Debug, Clone)]
pub struct WindowStoreBuilder {
    common: Common,
    retention_ms: i64,
    retain_duplicates: bool,
    caching: Caching,
}

impl WindowStoreBuilder {
    /// A builder for the window store `name` keeping `retention_ms` of stream time (Kafka
    /// Streams' DSL uses window size + grace, at least one day, unless told otherwise).
    pub fn new(name: impl Into<String>, retention_ms: i64) -> Self {
        WindowStoreBuilder {
            common: Common::new(name.into()),
            retention_ms,
            retain_duplicates: false,
            caching: Caching::Disabled,
        }
    }

    common_setters!();
    caching_setters!();

    /// Stores that retain duplicates are never cached.
    fn cacheable(&self) -> bool {
        !self.retain_duplicates
    }

    /// How much stream time the store keeps, in milliseconds.
    pub fn retention_ms(&self) -> i64 {
        self.retention_ms
    }

    /// Keeps every put as its own entry, as stream-stream joins need. Such a store is never
    /// cached, whatever the caching setters say (as in Kafka).
    pub fn with_retain_duplicates(mut self, retain: bool) -> Self {
        self.retain_duplicates = retain;
        self
    }

    /// Builds the store for the task of `ctx`.
    pub fn build(&self, ctx: &StoreContext) -> Result<WindowStack> {
        let name = &self.common.name;
        if self.retention_ms < 0 {
            return Err(Error::InvalidArgument {
                store: name.clone(),
                message: format!("retention {} ms is negative", self.retention_ms),
            });
        }
        let mut store: Box<dyn WindowStore> = match self.common.backend {
            StoreBackend::InMemory => Box::new(InMemoryWindowStore::new(
                name,
                self.retention_ms,
                self.retain_duplicates,
            )),
            StoreBackend::RocksDb => {
                let (path, res) = ctx.rocksdb(name)?;
                Box::new(RocksDbWindowStore::open(
                    name,
                    path,
                    res,
                    self.retention_ms,
                    self.retain_duplicates,
                )?)
            }
        };
        if let Some(sink) = self.common.sink(ctx)? {
            store = Box::new(ChangeloggingWindowStore::new(store, sink));
        }
        let bytes = self.caching.bytes(ctx).filter(|_| self.cacheable());
        stacked(store, bytes, |store, bytes| {
            CachingWindowStore::new(store, bytes, ctx.record_context.clone())
        })
    }
}

/// Builds [`SessionStore`]s: RocksDB by default, changelogged, uncached unless told.
#[derive(Debug, Clone)]
pub struct SessionStoreBuilder {
    common: Common,
    retention_ms: i64,
    caching: Caching,
}

impl SessionStoreBuilder {
    /// A builder for the session store `name` keeping sessions `retention_ms` after their end.
    pub fn new(name: impl Into<String>, retention_ms: i64) -> Self {
        SessionStoreBuilder {
            common: Common::new(name.into()),
            retention_ms,
            caching: Caching::Disabled,
        }
    }

    common_setters!();
    caching_setters!();

    fn cacheable(&self) -> bool {
        true
    }

    /// How long sessions are kept after their end, in milliseconds.
    pub fn retention_ms(&self) -> i64 {
        self.retention_ms
    }

    /// Builds the store for the task of `ctx`.
    pub fn build(&self, ctx: &StoreContext) -> Result<SessionStack> {
        let name = &self.common.name;
        if self.retention_ms < 0 {
            return Err(Error::InvalidArgument {
                store: name.clone(),
                message: format!("retention {} ms is negative", self.retention_ms),
            });
        }
        let mut store: Box<dyn SessionStore> = match self.common.backend {
            StoreBackend::InMemory => Box::new(InMemorySessionStore::new(name, self.retention_ms)),
            StoreBackend::RocksDb => {
                let (path, res) = ctx.rocksdb(name)?;
                Box::new(RocksDbSessionStore::open(
                    name,
                    path,
                    res,
                    self.retention_ms,
                )?)
            }
        };
        if let Some(sink) = self.common.sink(ctx)? {
            store = Box::new(ChangeloggingSessionStore::new(store, sink));
        }
        stacked(store, self.caching.bytes(ctx), |store, bytes| {
            Ok(CachingSessionStore::new(
                store,
                bytes,
                ctx.record_context.clone(),
            ))
        })
    }
}

/// Builds [`VersionedKeyValueStore`]s: RocksDB by default, changelogged, never cached (Kafka's
/// `VersionedKeyValueStoreBuilder`, which refuses a cache).
///
/// ```
/// use streams_state::{StateStore, StoreContext, VersionedKeyValueStore, VersionedKeyValueStoreBuilder};
///
/// # fn main() -> streams_state::Result<()> {
/// let ctx = StoreContext::in_memory("app", "0_0", 0);
/// let mut prices = VersionedKeyValueStoreBuilder::new("prices", 60_000)
///     .in_memory()
///     .with_logging_disabled()
///     .build(&ctx)?;
/// prices.put(b"apple", Some(b"3"), 1_000)?;
/// prices.put(b"apple", Some(b"4"), 2_000)?;
/// assert_eq!(prices.get_as_of(b"apple", 1_500)?.unwrap().value, b"3");
/// assert_eq!(prices.get(b"apple")?.unwrap().value, b"4");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct VersionedKeyValueStoreBuilder {
    common: Common,
    history_retention_ms: i64,
    segment_interval_ms: i64,
}

impl VersionedKeyValueStoreBuilder {
    /// A builder for the store `name` keeping `history_retention_ms` of history, in segments of
    /// Kafka's default interval for that retention
    /// ([`default_segment_interval`]).
    pub fn new(name: impl Into<String>, history_retention_ms: i64) -> Self {
        VersionedKeyValueStoreBuilder {
            common: Common::new(name.into()),
            history_retention_ms,
            segment_interval_ms: default_segment_interval(history_retention_ms),
        }
    }

    common_setters!();

    /// Segments history by `segment_interval_ms` instead of the default.
    pub fn with_segment_interval(mut self, segment_interval_ms: i64) -> Self {
        self.segment_interval_ms = segment_interval_ms;
        self
    }

    /// How long versions are kept after they stopped being the latest, in milliseconds.
    pub fn history_retention_ms(&self) -> i64 {
        self.history_retention_ms
    }

    /// The interval of the time segments history is kept in, in milliseconds.
    pub fn segment_interval_ms(&self) -> i64 {
        self.segment_interval_ms
    }

    /// Builds the store for the task of `ctx`.
    pub fn build(&self, ctx: &StoreContext) -> Result<VersionedStack> {
        let name = &self.common.name;
        let (retention, interval) = (self.history_retention_ms, self.segment_interval_ms);
        let mut store: Box<dyn VersionedKeyValueStore> = match self.common.backend {
            StoreBackend::InMemory => {
                Box::new(InMemoryVersionedStore::new(name, retention, interval)?)
            }
            StoreBackend::RocksDb => {
                let (path, res) = ctx.rocksdb(name)?;
                Box::new(RocksDbVersionedStore::open(
                    name, path, res, retention, interval,
                )?)
            }
        };
        if let Some(sink) = self.common.sink(ctx)? {
            store = Box::new(ChangeloggingVersionedStore::new(store, sink));
        }
        Ok(StoreStack::new(store))
    }
}
