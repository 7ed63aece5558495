//! The DSL: `StreamsBuilder` → `KStream` → operators → `Topology`, like Kafka Streams'
//! `org.apache.kafka.streams.kstream` package.

mod cached;
mod change;
mod cogroup;
mod fk_join;
mod global_ktable;
mod join;
mod kgrouped;
mod kgrouped_table;
pub(crate) mod kstream;
mod ktable;
mod operators;
mod options;
mod print;
mod process_values;
mod sources;
mod suppress;
mod to_extractor;
mod to_table;
mod versioned_table;
mod view;
mod windowed;
pub mod windows;

use std::cell::RefCell;
use std::rc::Rc;

pub use cogroup::{
    CogroupWindows, CogroupedKStream, SessionWindowedCogroupedKStream, TimeWindowedCogroupedKStream,
};
pub use global_ktable::GlobalKTable;
pub use join::{Joined, StreamJoined};
pub use kgrouped::KGroupedStream;
pub use kgrouped_table::KGroupedTable;
pub use kstream::{Branched, BranchedKStream, KStream};
pub use ktable::KTable;
pub use options::{
    AutoOffsetReset, Consumed, Grouped, Materialized, Named, Produced, Repartitioned,
};
pub use print::{Printable, Printed};
pub use suppress::{BufferConfig, Suppressed};
pub use windowed::{EmitStrategy, SessionWindowedKStream, TimeWindowedKStream, WindowDefinition};
pub use windows::{JoinWindows, SessionWindows, SlidingWindows, TimeWindows, Window, Windowed};

use std::sync::Arc;

use crate::error::Result;
use crate::processor::Data;
use crate::serde::{OptionSerde, Serde, SharedSerde};
use crate::state::StoreBuilder;
use crate::topology::graph::{NodeKind, TopicRef, TopologyGraph};
use crate::topology::Topology;

/// Starts a topology description, like Kafka Streams' `StreamsBuilder`.
///
/// The builder and its streams are meant for one thread while you describe the topology;
/// the [`Topology`] that [`build`](StreamsBuilder::build) returns is `Send + Sync`.
#[derive(Default)]
pub struct StreamsBuilder {
    graph: Rc<RefCell<TopologyGraph>>,
}

impl StreamsBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// A stream of the records in `topic`, read as `consumed` says.
    pub fn stream<K: Data, V: Data>(&self, topic: &str, consumed: Consumed<K, V>) -> KStream<K, V> {
        self.add_stream_source(vec![TopicRef::user(topic)], None, consumed)
    }

    /// A table of the latest value per key in `topic` (Kafka's `StreamsBuilder#table`): null
    /// values delete keys. The table is materialized in a store named as `materialized` says —
    /// or, without a name, in a store `<topic>-STATE-STORE-<n>` only if an operator needs it
    /// (Kafka's `KTableSource#materialize`): a join reading the table by key, or an operator
    /// that needs old values (`group_by`, `suppress`, a left or outer table-table join).
    /// Without a store the table forwards each record as an update without an old value, as
    /// Kafka's does. A store is changelogged to `<application.id>-<store>-changelog` — or,
    /// built with [`build_with_optimization`](Self::build_with_optimization)`("all")`, restored
    /// from `topic` itself. Its updates are forwarded as the store's record cache flushes them
    /// (see `Materialized::with_caching_enabled`). Materialized in a versioned store
    /// (`Materialized::as_versioned`), the table keeps each key's history and forwards only the
    /// updates that are the key's latest (see `KTable::is_versioned`).
    ///
    /// ```
    /// use streams_core::prelude::*;
    /// use streams_core::serde::OptionSerde;
    /// let builder = StreamsBuilder::new();
    /// let table = builder.table("t", Consumed::with(Serdes::string(), Serdes::string()), Materialized::new());
    /// table.to_stream().to("o", Produced::with(Serdes::string(), OptionSerde::new(Serdes::string())));
    /// // Nothing reads the table by key: it has no store.
    /// assert!(builder.build().unwrap().describe().to_string().contains("KTABLE-SOURCE-0000000002 (stores: [])"));
    /// ```
    pub fn table<K: Data, V: Data>(
        &self,
        topic: &str,
        consumed: Consumed<K, V>,
        materialized: Materialized<K, V>,
    ) -> KTable<K, V> {
        // Kafka materializes a source table up front only if it is queryable (or versioned,
        // which takes a named store supplier).
        let on_demand = materialized.name.is_none() && materialized.versioned.is_none();
        let store_builder = |store: &str| {
            materialized
                .versioned_store()
                .unwrap_or_else(|| materialized.timestamped_store(store))
        };
        if on_demand {
            return self.table_on_demand(topic, consumed, &materialized, store_builder);
        }
        let source = self.table_source(topic, consumed, &materialized, |graph, store| {
            graph.add_store(store_builder(store));
            graph.set_table_source_topic(store, topic);
        });
        let queryable = materialized.name.map(|_| source.store_name.clone());
        KTable::new(source.table, source.keys, Some(source.values), queryable)
            .with_value_store(source.store_name)
            .with_versioned(
                materialized
                    .versioned
                    .as_ref()
                    .map(|supplier| supplier.history_retention_ms()),
            )
    }

    /// A source table that gets its store only when an operator makes a
    /// [`Demand`](ktable::Demand) on it: until then its table-source processor has no store
    /// and forwards updates without old values; the store's name is drawn now, as Kafka's is.
    fn table_on_demand<K: Data, V: Data>(
        &self,
        topic: &str,
        consumed: Consumed<K, V>,
        materialized: &Materialized<K, V>,
        store_builder: impl FnOnce(&str) -> StoreBuilder,
    ) -> KTable<K, V> {
        let source = self.table_source(topic, consumed, materialized, |_, _| {});
        let node = source.table.node;
        let store_name = source.store_name;
        let builder = store_builder(&store_name);
        let (store, k, v) = (
            Arc::<str>::from(store_name.as_str()),
            Arc::clone(&source.keys),
            Arc::clone(&source.values),
        );
        let stored = kstream::processor_factory::<K, Option<V>, K, change::Change<V>, _, _>(
            move || {
                ktable::TableSource(cached::TableStore::new(
                    Arc::clone(&store),
                    Arc::clone(&k),
                    Arc::clone(&v),
                ))
            },
            crate::processor::node::Flushing::IfItOwnsACache,
        );
        let (name, topic) = (store_name.clone(), topic.to_string());
        let materialize: ktable::DemandHook = Rc::new(move |graph, _| {
            if graph.has_store(&name) {
                return;
            }
            graph.add_store(builder.clone());
            graph.set_table_source_topic(&name, &topic);
            graph.connect_store(node, &name);
            graph.set_factory(node, Arc::clone(&stored));
        });
        KTable::new(source.table, source.keys, Some(source.values), None)
            .with_value_store(store_name)
            .with_upstream(vec![materialize], true)
    }

    /// A global table of `topic` (Kafka's `StreamsBuilder#globalTable`): every application
    /// instance holds the latest value per key of *every* partition of `topic` in a global
    /// store, so that a stream can look up any key without co-partitioning or repartitioning
    /// (see [`KStream::join_global_table`]). Null values delete keys. The store is named as
    /// `materialized` says, or `<topic>-STATE-STORE-<n>`; it is in memory if `materialized`
    /// says so, and is never logged nor cached: `topic` itself is its changelog. At start-up an
    /// instance restores it from `topic` up to the end offsets before any stream thread
    /// processes, then its global thread keeps it up to date; the test driver updates it as
    /// records are piped into `topic`.
    pub fn global_table<K: Data, V: Data>(
        &self,
        topic: &str,
        consumed: Consumed<K, V>,
        materialized: Materialized<K, V>,
    ) -> GlobalKTable<K, V> {
        // The same processor as a table's source (Kafka's `KTableSource`); its store has no
        // cache, so it writes through and forwards to nobody.
        if let Some(supplier) = &materialized.versioned {
            self.graph.borrow_mut().errors.push(format!(
                "global table of `{topic}`: a global table cannot be versioned (store `{}`)",
                supplier.name()
            ));
        }
        let source = self.table_source(topic, consumed, &materialized, |graph, store| {
            graph.add_store(materialized.global_store(store));
            graph.set_global_store(store);
        });
        GlobalKTable::new(
            source.store_name,
            source.keys,
            source.values,
            materialized.name.is_some(),
        )
    }

    /// The source of a table or global table of `topic`: a source node and Kafka's
    /// `KTableSource` writing the store (named by `materialized` or `<topic>-STATE-STORE-<n>`),
    /// which `register` adds to the graph — or, if `register` adds no store, forwarding
    /// updates without one (see [`table_on_demand`](Self::table_on_demand)).
    fn table_source<K: Data, V: Data>(
        &self,
        topic: &str,
        consumed: Consumed<K, V>,
        materialized: &Materialized<K, V>,
        register: impl FnOnce(&mut TopologyGraph, &str),
    ) -> TableSourceParts<K, V> {
        let store_name = match &materialized.name {
            Some(name) => name.clone(),
            None => self
                .graph
                .borrow_mut()
                .next_store_name(&format!("{topic}-")),
        };
        // Kafka (`InternalStreamsBuilder#table`): a `Consumed` name names the table-source
        // processor, and its source node `<name>-source`; both draw a counter value anyway.
        let source_name = kstream::named_or_generated(
            &self.graph,
            consumed.name.as_ref().map(|name| format!("{name}-source")),
            kstream::SOURCE_NAME,
        );
        let table_source_name =
            kstream::named_or_generated(&self.graph, consumed.name.clone(), ktable::SOURCE_NAME);
        let keys = materialized
            .key_serde
            .clone()
            .unwrap_or_else(|| Arc::clone(&consumed.key_serde));
        let values = materialized
            .value_serde
            .clone()
            .unwrap_or_else(|| Arc::clone(&consumed.value_serde));
        let nullable: Arc<dyn Serde<Option<V>>> = Arc::new(OptionSerde::new(SharedSerde(
            Arc::clone(&consumed.value_serde),
        )));
        // A table's source honours the offset-reset policy as a stream's does; its timestamp
        // extractor is not applied (it is typed for values, a table's source reads tombstones).
        let kind = NodeKind::Source {
            topics: vec![TopicRef::user(topic)],
            pattern: None,
            offset_reset: consumed.offset_reset,
        };
        let source = kstream::add_source_node(
            &self.graph,
            source_name,
            kind,
            consumed.key_serde,
            nullable,
            None,
        );
        register(&mut self.graph.borrow_mut(), &store_name);
        if !self.graph.borrow().has_store(&store_name) {
            let keys_of_source = Arc::clone(&keys);
            let table = source.add_processor(table_source_name, Vec::new(), move || {
                ktable::StorelessTableSource {
                    keys: Arc::clone(&keys_of_source),
                }
            });
            return TableSourceParts {
                table,
                keys,
                values,
                store_name,
            };
        }
        let (store, k, v) = (
            Arc::<str>::from(store_name.as_str()),
            Arc::clone(&keys),
            Arc::clone(&values),
        );
        let table = if materialized.versioned.is_some() {
            source.add_processor(table_source_name, vec![store_name.clone()], move || {
                versioned_table::VersionedTableSource::new(
                    Arc::clone(&store),
                    Arc::clone(&k),
                    Arc::clone(&v),
                )
            })
        } else {
            source.add_processor(table_source_name, vec![store_name.clone()], move || {
                ktable::TableSource(cached::TableStore::new(
                    Arc::clone(&store),
                    Arc::clone(&k),
                    Arc::clone(&v),
                ))
            })
        };
        TableSourceParts {
            table,
            keys,
            values,
            store_name,
        }
    }

    /// Adds global store `store`, which every application instance keeps whole: every
    /// partition of `topic`, read as `consumed` says, goes through a processor made by
    /// `supplier` that updates the store (Kafka's `StreamsBuilder#addGlobalStore`). Every
    /// processor of the topology can read the store by name. The store must have logging
    /// disabled — `topic` is its changelog, copied into it as it is on restore — or `build()`
    /// fails. See `TopologyBuilder::add_global_store`, which names the two nodes itself; here
    /// they are `KSTREAM-SOURCE-<n>` and `KTABLE-SOURCE-<n>`, as in Kafka.
    pub fn add_global_store<K, V, P, S>(
        &self,
        store: impl Into<StoreBuilder>,
        topic: &str,
        consumed: Consumed<K, V>,
        supplier: S,
    ) where
        K: Data,
        V: Data,
        P: crate::processor::Processor<K, V, (), ()>,
        S: Fn() -> P + Send + Sync + 'static,
    {
        let source_name = self.graph.borrow_mut().next_name(kstream::SOURCE_NAME);
        let processor_name = self.graph.borrow_mut().next_name(ktable::SOURCE_NAME);
        if let Err(message) = crate::topology::builder::add_global_store_nodes(
            &self.graph,
            store.into(),
            &source_name,
            consumed.key_serde,
            consumed.value_serde,
            topic,
            &processor_name,
            supplier,
        ) {
            self.graph.borrow_mut().errors.push(message);
        }
    }

    /// Declares a state store for processors added with `KStream::process_with_stores` (Kafka's
    /// `addStateStore`).
    pub fn add_state_store(&self, store: impl Into<StoreBuilder>) {
        self.graph.borrow_mut().add_store(store.into());
    }

    /// Validates what was described and compiles it into sub-topologies. Problems such as
    /// duplicate node names, invalid topic names or a topology without a source are reported
    /// together, as one [`Error::InvalidTopology`](crate::Error::InvalidTopology).
    pub fn build(&self) -> Result<Topology> {
        let mut graph = self.graph.borrow().clone();
        graph.drop_null_keys_at_repartitions();
        Topology::build(graph)
    }

    /// Like [`build`](Self::build), with the optimizations `config`'s `topology.optimization`
    /// names (Kafka's `StreamsBuilder#build(Properties)`); see
    /// [`build_with_optimization`](Self::build_with_optimization).
    ///
    /// ```
    /// use streams_core::prelude::*;
    /// let mut config = StreamsConfig::new("app").unwrap();
    /// config.set("topology.optimization", "all").unwrap();
    /// let builder = StreamsBuilder::new();
    /// builder.table("users", Consumed::with(Serdes::string(), Serdes::string()), Materialized::as_("users-store"));
    /// let topology = builder.build_with(&config).unwrap();
    /// // The source topic serves as the table's changelog.
    /// assert_eq!(topology.changelog_topics(0, "app"), ["users"]);
    /// ```
    pub fn build_with(&self, config: &crate::StreamsConfig) -> Result<Topology> {
        self.build_with_optimization(config.topology_optimization())
    }

    /// Like [`build`](Self::build), applying the optimizations `optimization` names — the value
    /// of Kafka's `topology.optimization` (`StreamsBuilder#build(Properties)`): `none`, `all`
    /// (every optimization Rill implements), or a comma-separated list of them:
    /// - `reuse.ktable.source.topics`: a source table (`table`) writes no
    ///   `<application.id>-<store>-changelog` and is restored from its source topic instead;
    /// - `merge.repartition.topics`: the repartition topics that aggregations and joins need
    ///   after the same key-changing operator (`map`, `select_key`, …, with no `map_values` in
    ///   between) become one, named after the first (Kafka's `mergeRepartitionTopics`).
    ///
    /// Kafka's `single.store.self.join` is not implemented and is reported as an error.
    ///
    /// ```
    /// use streams_core::prelude::*;
    /// let builder = StreamsBuilder::new();
    /// let by_user = builder
    ///     .stream("clicks", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .select_key(|_, user: &String| user.clone());
    /// let grouped = || Grouped::with(Serdes::string(), Serdes::string());
    /// by_user.group_by_key(grouped().with_name("first")).count(Materialized::new());
    /// by_user.group_by_key(grouped().with_name("second")).count(Materialized::new());
    /// assert_eq!(builder.build().unwrap().repartition_topics().len(), 2);
    /// let optimized = builder.build_with_optimization("all").unwrap();
    /// assert_eq!(optimized.repartition_topics()[0].name, "first-repartition");
    /// assert_eq!(optimized.repartition_topics().len(), 1);
    /// ```
    pub fn build_with_optimization(&self, optimization: &str) -> Result<Topology> {
        let Optimizations {
            reuse_source_topics,
            merge_repartitions,
        } = Optimizations::parse(optimization)?;
        let mut graph = self.graph.borrow().clone();
        // Kafka rewrites the repartitions' null-key filters last; here first, while the filter
        // nodes are where they were added (merging repartitions moves them).
        graph.drop_null_keys_at_repartitions();
        // Kafka's order (`InternalStreamsBuilder#optimizeTopology`).
        if reuse_source_topics {
            graph.reuse_table_source_topics();
        }
        if merge_repartitions {
            graph.merge_repartition_topics();
        }
        Topology::build(graph)
    }
}

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod versioned_tests;

#[cfg(test)]
mod stateful_tests;

#[cfg(test)]
mod windowed_tests;

#[cfg(test)]
mod cache_tests;
#[cfg(test)]
mod cogroup_tests;
#[cfg(test)]
mod fk_join_tests;
#[cfg(test)]
mod global_tests;
#[cfg(test)]
mod join_tests;
#[cfg(test)]
mod null_key_join_tests;
#[cfg(test)]
mod stream_api_tests;
#[cfg(test)]
mod table_source_tests;
#[cfg(test)]
mod windowed_cache_tests;

/// The optimizations a `topology.optimization` value names (Kafka's
/// `StreamsConfig#verifyTopologyOptimizationConfigs`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Optimizations {
    reuse_source_topics: bool,
    merge_repartitions: bool,
}

impl Optimizations {
    /// Parses `none`, `all`, or a comma-separated list of the optimizations Rill implements.
    pub(crate) fn parse(value: &str) -> Result<Self> {
        let mut parsed = Optimizations::default();
        for name in value.split(',').map(str::trim) {
            match name {
                "none" => {}
                "all" => {
                    parsed.reuse_source_topics = true;
                    parsed.merge_repartitions = true;
                }
                "reuse.ktable.source.topics" => parsed.reuse_source_topics = true,
                "merge.repartition.topics" => parsed.merge_repartitions = true,
                other => {
                    return Err(crate::Error::Config {
                        key: "topology.optimization".to_string(),
                        value: value.to_string(),
                        reason: format!(
                            "`{other}` is not an optimization Rill implements (`none`, `all`, `reuse.ktable.source.topics`, `merge.repartition.topics`)"
                        ),
                    })
                }
            }
        }
        Ok(parsed)
    }
}

/// What [`StreamsBuilder::table_source`] built: the table-source node's output, the serdes of
/// the store and its name.
struct TableSourceParts<K, V> {
    table: KStream<K, change::Change<V>>,
    keys: Arc<dyn Serde<K>>,
    values: Arc<dyn Serde<V>>,
    store_name: String,
}
