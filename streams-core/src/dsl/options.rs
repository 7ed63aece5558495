//! Parameter objects of the DSL, named as in Kafka Streams: `Consumed`, `Produced`, `Named`,
//! `Repartitioned`. They carry serdes and optional names; serdes are shared (`Arc`) because every
//! task instance of a node uses the same ones.

use std::sync::Arc;

use crate::processor::{StreamPartitioner, TimestampExtractor};
use crate::serde::{DefaultSerde, Serde};

/// How a topic is read: key and value serdes, an optional source node name, and optionally
/// the source's own timestamp extractor and offset-reset policy (Kafka's `Consumed`).
pub struct Consumed<K, V> {
    pub(crate) key_serde: Arc<dyn Serde<K>>,
    pub(crate) value_serde: Arc<dyn Serde<V>>,
    pub(crate) name: Option<String>,
    pub(crate) timestamp_extractor: Option<Arc<dyn TimestampExtractor<K, V>>>,
    pub(crate) offset_reset: Option<AutoOffsetReset>,
}

impl<K, V> Consumed<K, V> {
    /// Reads keys with `key_serde` and values with `value_serde`.
    pub fn with(key_serde: impl Serde<K>, value_serde: impl Serde<V>) -> Self {
        Consumed {
            key_serde: Arc::new(key_serde),
            value_serde: Arc::new(value_serde),
            name: None,
            timestamp_extractor: None,
            offset_reset: None,
        }
    }

    /// Names the source node (Kafka's `Consumed.as`).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Gives this source's records the timestamps `extractor` computes instead of those they
    /// were written with (Kafka's `Consumed#withTimestampExtractor`); see
    /// [`TimestampExtractor`]. Applies to streams (`StreamsBuilder::stream…`), not yet to the
    /// sources of tables.
    ///
    /// ```
    /// use streams_core::prelude::*;
    ///
    /// // Event time is in the value: "<millis>:<payload>".
    /// let consumed = Consumed::with(Serdes::string(), Serdes::string()).with_timestamp_extractor(
    ///     |record: &Record<String, String>, partition_time: i64| {
    ///         record.value.split(':').next().and_then(|t| t.parse().ok()).unwrap_or(partition_time)
    ///     },
    /// );
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("in", consumed)
    ///     .to("out", Produced::with(Serdes::string(), Serdes::string()));
    /// let driver = TopologyTestDriver::new(builder.build()?)?;
    /// let input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
    /// let output = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    /// input.pipe_input_with_timestamp("k", "42:hello", 1_000);
    /// assert_eq!(output.read_record().timestamp, 42);
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn with_timestamp_extractor(mut self, extractor: impl TimestampExtractor<K, V>) -> Self {
        self.timestamp_extractor = Some(Arc::new(extractor));
        self
    }

    /// Where to start reading a partition of this source that has no committed offset, instead
    /// of the application's `auto.offset.reset` (Kafka's `Consumed#withOffsetResetPolicy`,
    /// KIP-1106). The runtime applies it per source topic; the test driver reads everything
    /// piped in regardless.
    ///
    /// ```
    /// use streams_core::prelude::*;
    /// use streams_core::AutoOffsetReset;
    ///
    /// let consumed = Consumed::with(Serdes::string(), Serdes::string())
    ///     .with_offset_reset_policy(AutoOffsetReset::latest());
    /// let builder = StreamsBuilder::new();
    /// builder.stream("clicks", consumed).to("out", Produced::with(Serdes::string(), Serdes::string()));
    /// assert_eq!(builder.build()?.offset_reset_policy("clicks"), Some(AutoOffsetReset::latest()));
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn with_offset_reset_policy(mut self, policy: AutoOffsetReset) -> Self {
        self.offset_reset = Some(policy);
        self
    }
}

/// Where a consumer starts in a partition without a committed offset, like Kafka's
/// `org.apache.kafka.streams.AutoOffsetReset` (KIP-1106).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AutoOffsetReset {
    /// Fail instead of guessing (Kafka's `AutoOffsetReset.none()`).
    None,
    /// The oldest record still in the partition (`earliest()`).
    Earliest,
    /// The end of the partition: only records written from now on (`latest()`).
    Latest,
    /// The first record written at or after now minus this duration (`byDuration`), or the end
    /// if there is none.
    ByDuration(std::time::Duration),
}

impl AutoOffsetReset {
    /// Kafka's `AutoOffsetReset.none()`.
    pub fn none() -> Self {
        AutoOffsetReset::None
    }

    /// Kafka's `AutoOffsetReset.earliest()`.
    pub fn earliest() -> Self {
        AutoOffsetReset::Earliest
    }

    /// Kafka's `AutoOffsetReset.latest()`.
    pub fn latest() -> Self {
        AutoOffsetReset::Latest
    }

    /// Kafka's `AutoOffsetReset.byDuration(duration)`.
    pub fn by_duration(duration: std::time::Duration) -> Self {
        AutoOffsetReset::ByDuration(duration)
    }
}

impl<K: DefaultSerde, V: DefaultSerde> Default for Consumed<K, V> {
    /// The default serdes of `K` and `V`.
    fn default() -> Self {
        Consumed {
            key_serde: K::default_serde(),
            value_serde: V::default_serde(),
            name: None,
            timestamp_extractor: None,
            offset_reset: None,
        }
    }
}

/// How a stream is written to a topic: key and value serdes, an optional sink node name and
/// an optional [`StreamPartitioner`].
pub struct Produced<K, V> {
    pub(crate) key_serde: Arc<dyn Serde<K>>,
    pub(crate) value_serde: Arc<dyn Serde<V>>,
    pub(crate) name: Option<String>,
    pub(crate) partitioner: Option<Arc<dyn StreamPartitioner<K, V>>>,
}

impl<K, V> Produced<K, V> {
    /// Writes keys with `key_serde` and values with `value_serde`.
    pub fn with(key_serde: impl Serde<K>, value_serde: impl Serde<V>) -> Self {
        Produced {
            key_serde: Arc::new(key_serde),
            value_serde: Arc::new(value_serde),
            name: None,
            partitioner: None,
        }
    }

    /// Names the sink node (Kafka's `Produced.as`).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Writes each record to the partitions `partitioner` picks instead of those the
    /// producer's default partitioner would (Kafka's `Produced#withStreamPartitioner`); the
    /// partitioner is told the topic's partition count (1 for every topic in the test driver,
    /// as in Kafka's).
    ///
    /// ```
    /// use streams_core::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("in", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .to(
    ///         "out",
    ///         Produced::with(Serdes::string(), Serdes::string())
    ///             .with_stream_partitioner(|_topic: &str, _key: &String, _value: &String, n: i32| {
    ///                 Some(vec![n - 1]) // always the last partition
    ///             }),
    ///     );
    /// let driver = TopologyTestDriver::new(builder.build()?)?;
    /// let input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
    /// let output = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    /// input.pipe_input("k", "v");
    /// let (partition, record) = output.read_record_with_partition();
    /// assert_eq!((partition, record.value.as_str()), (Some(0), "v"));
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn with_stream_partitioner(mut self, partitioner: impl StreamPartitioner<K, V>) -> Self {
        self.partitioner = Some(Arc::new(partitioner));
        self
    }
}

impl<K: DefaultSerde, V: DefaultSerde> Default for Produced<K, V> {
    /// The default serdes of `K` and `V`.
    fn default() -> Self {
        Produced {
            key_serde: K::default_serde(),
            value_serde: V::default_serde(),
            name: None,
            partitioner: None,
        }
    }
}

/// A name for the next operator's processor node, instead of a generated
/// `KSTREAM-<OP>-<counter>` name. Use it through `KStream::named`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named(pub(crate) String);

impl Named {
    /// The name `name` (Kafka's `Named.as`).
    pub fn as_(name: impl Into<String>) -> Self {
        Named(name.into())
    }
}

impl From<&str> for Named {
    fn from(name: &str) -> Self {
        Named(name.to_string())
    }
}

impl From<String> for Named {
    fn from(name: String) -> Self {
        Named(name)
    }
}

/// How `KStream::repartition` writes and reads its internal topic `<application.id>-<name>-repartition`.
pub struct Repartitioned<K, V> {
    pub(crate) key_serde: Arc<dyn Serde<K>>,
    pub(crate) value_serde: Arc<dyn Serde<V>>,
    pub(crate) name: Option<String>,
    pub(crate) partitions: Option<u32>,
}

impl<K, V> Repartitioned<K, V> {
    /// Writes the repartition topic with these serdes.
    pub fn with(key_serde: impl Serde<K>, value_serde: impl Serde<V>) -> Self {
        Repartitioned {
            key_serde: Arc::new(key_serde),
            value_serde: Arc::new(value_serde),
            name: None,
            partitions: None,
        }
    }

    /// Names the repartition topic and its nodes (Kafka's `Repartitioned.as`).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Asks for a repartition topic with `partitions` partitions.
    pub fn with_number_of_partitions(mut self, partitions: u32) -> Self {
        self.partitions = Some(partitions);
        self
    }
}

impl<K: DefaultSerde, V: DefaultSerde> Default for Repartitioned<K, V> {
    /// The default serdes of `K` and `V`, a generated name and the upstream partition count.
    fn default() -> Self {
        Repartitioned {
            key_serde: K::default_serde(),
            value_serde: V::default_serde(),
            name: None,
            partitions: None,
        }
    }
}

/// How records are grouped for an aggregation: the serdes of keys and values (used for the
/// repartition topic, if one is needed) and an optional name for that topic (Kafka's `Grouped`).
pub struct Grouped<K, V> {
    pub(crate) key_serde: Arc<dyn Serde<K>>,
    pub(crate) value_serde: Arc<dyn Serde<V>>,
    pub(crate) name: Option<String>,
}

impl<K, V> Clone for Grouped<K, V> {
    fn clone(&self) -> Self {
        Grouped {
            key_serde: Arc::clone(&self.key_serde),
            value_serde: Arc::clone(&self.value_serde),
            name: self.name.clone(),
        }
    }
}

impl<K, V> Grouped<K, V> {
    /// Groups with these serdes.
    pub fn with(key_serde: impl Serde<K>, value_serde: impl Serde<V>) -> Self {
        Grouped {
            key_serde: Arc::new(key_serde),
            value_serde: Arc::new(value_serde),
            name: None,
        }
    }

    /// Names the repartition topic `<application.id>-<name>-repartition` (Kafka's `Grouped.as`).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

impl<K: DefaultSerde, V: DefaultSerde> Default for Grouped<K, V> {
    /// The default serdes of `K` and `V`.
    fn default() -> Self {
        Grouped {
            key_serde: K::default_serde(),
            value_serde: V::default_serde(),
            name: None,
        }
    }
}

/// Applies a `Materialized`'s backend and logging choices to a store builder of
/// `streams-state` (every kind has `in_memory` and `with_logging_disabled`, but no shared trait).
macro_rules! configured {
    ($materialized:expr, $builder:expr) => {{
        let mut builder = $builder;
        if $materialized.in_memory {
            builder = builder.in_memory();
        }
        if !$materialized.logging {
            builder = builder.with_logging_disabled();
        } else if !$materialized.changelog_configs.is_empty() {
            builder = builder.with_logging_enabled($materialized.changelog_configs.iter().cloned());
        }
        builder
    }};
}

/// How a table or aggregation result is stored (Kafka's `Materialized`): the store's name (which
/// makes it queryable and names its changelog `<application.id>-<name>-changelog`), serdes, and
/// whether it is in memory, logged and cached (by default RocksDB, logged, cached).
pub struct Materialized<K, V> {
    pub(crate) name: Option<String>,
    pub(crate) key_serde: Option<Arc<dyn Serde<K>>>,
    pub(crate) value_serde: Option<Arc<dyn Serde<V>>>,
    pub(crate) in_memory: bool,
    pub(crate) logging: bool,
    pub(crate) changelog_configs: Vec<(String, String)>,
    pub(crate) caching: bool,
    pub(crate) retention_ms: Option<i64>,
    pub(crate) versioned: Option<crate::state::VersionedBytesStoreSupplier>,
}

impl<K, V> Default for Materialized<K, V> {
    fn default() -> Self {
        Materialized {
            name: None,
            key_serde: None,
            value_serde: None,
            in_memory: false,
            logging: true,
            changelog_configs: Vec::new(),
            caching: true,
            retention_ms: None,
            versioned: None,
        }
    }
}

impl<K, V> Materialized<K, V> {
    /// A RocksDB store with a generated name, logged, with the serdes the operator knows.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store named `name` (Kafka's `Materialized.as`).
    pub fn as_(name: impl Into<String>) -> Self {
        Materialized {
            name: Some(name.into()),
            ..Self::default()
        }
    }

    /// A table kept in the versioned store `supplier` describes (Kafka's `Materialized.as` with a
    /// `VersionedBytesStoreSupplier`, KIP-889/914): named after the supplier, changelogged,
    /// never cached. Its table keeps every key's history for the supplier's history retention:
    /// an update older than the key's latest is written to the history and forwarded marked
    /// as not the latest (`to_stream`, `filter` and `map_values` pass it on; aggregations and
    /// table-table joins ignore it), a stream-table join looks a stream record up *as of* its
    /// timestamp, and the
    /// store answers [`get_as_of`](crate::state::VersionedKeyValueStoreRef::get_as_of) queries.
    /// For source tables (`StreamsBuilder::table`) and `KStream::to_table_with` only: other
    /// operators refuse it at `build()`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use streams_core::prelude::*;
    /// use streams_core::state::Stores;
    ///
    /// let builder = StreamsBuilder::new();
    /// let prices = builder.table(
    ///     "prices",
    ///     Consumed::with(Serdes::string(), Serdes::i64()),
    ///     Materialized::as_versioned(Stores::persistent_versioned_key_value_store(
    ///         "prices",
    ///         Duration::from_secs(3_600),
    ///     )),
    /// );
    /// assert_eq!(prices.queryable_store_name(), Some("prices"));
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn as_versioned(supplier: crate::state::VersionedBytesStoreSupplier) -> Self {
        Materialized {
            name: Some(supplier.name().to_string()),
            caching: false,
            versioned: Some(supplier),
            ..Self::default()
        }
    }

    /// A store with these serdes (Kafka's `Materialized.with`).
    pub fn with(key_serde: impl Serde<K>, value_serde: impl Serde<V>) -> Self {
        Self::default()
            .with_key_serde(key_serde)
            .with_value_serde(value_serde)
    }

    /// Whether this says nothing beyond `Materialized::new()`.
    pub(crate) fn is_default(&self) -> bool {
        self.name.is_none()
            && self.key_serde.is_none()
            && self.value_serde.is_none()
            && !self.in_memory
            && self.logging
            && self.changelog_configs.is_empty()
            && self.caching
            && self.retention_ms.is_none()
            && self.versioned.is_none()
    }

    /// Stores keys with `serde`.
    pub fn with_key_serde(mut self, serde: impl Serde<K>) -> Self {
        self.key_serde = Some(Arc::new(serde));
        self
    }

    /// Stores values with `serde`.
    pub fn with_value_serde(mut self, serde: impl Serde<V>) -> Self {
        self.value_serde = Some(Arc::new(serde));
        self
    }

    /// Keeps the store in memory instead of RocksDB; it is rebuilt from its changelog on start.
    pub fn with_in_memory(mut self) -> Self {
        self.in_memory = true;
        self
    }

    /// Does not write a changelog: the store is not fault-tolerant.
    pub fn with_logging_disabled(mut self) -> Self {
        self.logging = false;
        self
    }

    /// Writes a changelog (the default) that the runtime creates with these topic configs over
    /// its own (Kafka's `Materialized#withLoggingEnabled(Map)`).
    ///
    /// ```
    /// use streams_core::prelude::*;
    ///
    /// let counts: Materialized<String, i64> = Materialized::as_("counts")
    ///     .with_logging_enabled([("min.insync.replicas", "2"), ("segment.bytes", "104857600")]);
    /// # let _ = counts;
    /// ```
    pub fn with_logging_enabled<C, W>(mut self, configs: impl IntoIterator<Item = (C, W)>) -> Self
    where
        C: Into<String>,
        W: Into<String>,
    {
        self.logging = true;
        self.changelog_configs = configs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        self
    }

    /// Puts a record cache in front of the store (the default, as in Kafka's
    /// `Materialized#withCachingEnabled`): updates of a key between two commits reach the
    /// changelog and downstream operators once, with the latest value, when the cache flushes —
    /// at commit, or when the cache is full. Its size is the application's
    /// `statestore.cache.max.bytes` shared among the cached stores. Applies to aggregations of
    /// grouped streams and tables, windowed and session aggregations, source tables and the
    /// materialized results of table operators and table-table joins; a windowed aggregation
    /// that emits on window close is never cached (it forwards nothing until its windows close
    /// anyway), nor is a foreign-key join's right-hand table.
    pub fn with_caching_enabled(mut self) -> Self {
        self.caching = true;
        self
    }

    /// Forwards and logs every update as it happens (Kafka's `Materialized#withCachingDisabled`).
    pub fn with_caching_disabled(mut self) -> Self {
        self.caching = false;
        self
    }

    /// How long a windowed aggregation keeps its windows (Kafka's `Materialized#withRetention`);
    /// by default window size (or inactivity gap) plus grace, the least that works.
    pub fn with_retention(mut self, retention: std::time::Duration) -> Self {
        self.retention_ms = Some(super::windows::millis(retention));
        self
    }

    /// The builder of the versioned store this names, if it names one, as this says (in memory,
    /// logging).
    pub(crate) fn versioned_store(&self) -> Option<crate::state::StoreBuilder> {
        let supplier = self.versioned.as_ref()?;
        Some(configured!(self, supplier.builder()).into())
    }

    /// Records a build error if this names a versioned store, which `operator` cannot keep its
    /// results in (only source tables can, so far).
    pub(crate) fn reject_versioned(&self, errors: &mut Vec<String>, operator: &str) {
        if let Some(supplier) = &self.versioned {
            errors.push(format!(
                "{operator} cannot be materialized in the versioned store `{}`: only source \
                 tables (StreamsBuilder::table, KStream::to_table_with) can be versioned",
                supplier.name()
            ));
        }
    }

    /// The builder of a plain, uncached key-value store named `name` (for the DSL's internal
    /// bookkeeping stores).
    pub(crate) fn key_value_store(&self, name: &str) -> crate::state::StoreBuilder {
        configured!(self, streams_state::KeyValueStoreBuilder::new(name)).into()
    }

    /// The builder of a timestamped key-value store named `name` as this says.
    pub(crate) fn timestamped_store(&self, name: &str) -> crate::state::StoreBuilder {
        let builder = configured!(
            self,
            streams_state::TimestampedKeyValueStoreBuilder::new(name)
        );
        if self.caching {
            builder.with_caching_enabled().into()
        } else {
            builder.into()
        }
    }

    /// The builder of a global table's store named `name`: timestamped, in memory if this says
    /// so, never logged (the source topic is its changelog) and never cached (it forwards to
    /// nothing, and every task reads it).
    pub(crate) fn global_store(&self, name: &str) -> crate::state::StoreBuilder {
        let mut builder =
            streams_state::TimestampedKeyValueStoreBuilder::new(name).with_logging_disabled();
        if self.in_memory {
            builder = builder.in_memory();
        }
        builder.into()
    }

    /// The builder of a timestamped window store named `name` keeping `retention_ms`, cached if
    /// this says so and the operator allows (`cacheable`).
    pub(crate) fn timestamped_window_store(
        &self,
        name: &str,
        retention_ms: i64,
        cacheable: bool,
    ) -> crate::state::StoreBuilder {
        let mut builder = configured!(
            self,
            streams_state::WindowStoreBuilder::new(name, retention_ms)
        );
        if self.caching && cacheable {
            builder = builder.with_caching_enabled();
        }
        crate::state::StoreBuilder::TimestampedWindow(builder)
    }

    /// The builder of a window store named `name` that keeps every record put into it (records
    /// by timestamp, duplicates retained), for `retention_ms`.
    pub(crate) fn record_window_store(
        &self,
        name: &str,
        retention_ms: i64,
    ) -> crate::state::StoreBuilder {
        let builder =
            streams_state::WindowStoreBuilder::new(name, retention_ms).with_retain_duplicates(true);
        configured!(self, builder).into()
    }

    /// The builder of a session store named `name` keeping `retention_ms`, cached if this says
    /// so and the operator allows (`cacheable`).
    pub(crate) fn session_store(
        &self,
        name: &str,
        retention_ms: i64,
        cacheable: bool,
    ) -> crate::state::StoreBuilder {
        let mut builder = configured!(
            self,
            streams_state::SessionStoreBuilder::new(name, retention_ms)
        );
        if self.caching && cacheable {
            builder = builder.with_caching_enabled();
        }
        builder.into()
    }
}
