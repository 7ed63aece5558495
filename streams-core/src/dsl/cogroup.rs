//! `CogroupedKStream`: several grouped streams, of possibly different value types, aggregated
//! into one table with one aggregator each — like Kafka Streams' `KGroupedStream#cogroup`,
//! `CogroupedKStream` (`CogroupedKStreamImpl`, `CogroupedStreamAggregateBuilder`).
//!
//! As in Kafka, each grouped stream gets its own aggregate processor
//! (`COGROUPKSTREAM-AGGREGATE-…`, or `<name>-cogroup-agg-<i>`), all writing one store, and a
//! pass-through node (`COGROUPKSTREAM-MERGE-…`, or `<name>-cogroup-merge`) merges their updates
//! into the resulting table. A grouped stream whose key changed is repartitioned first, through
//! `<store name>-repartition` (or its `Grouped` name). Since the processors share a store, they
//! run in one sub-topology: the grouped streams must be co-partitioned.
//!
//! Windowed cogroups (`windowed_by`, Kafka's `TimeWindowedCogroupedKStream` and
//! `SessionWindowedCogroupedKStream`) are not implemented yet.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use super::cached::TableStore;
use super::change::Change;
use super::kgrouped::{store_serdes, Add, AggregateProcessor, KGroupedStream, Start};
use super::kstream::KStream;
use super::ktable::KTable;
use super::operators::PassThroughProcessor;
use super::options::{Materialized, Named};
use crate::processor::node::NodeId;
use crate::processor::Data;
use crate::serde::Serde;
use crate::topology::graph::TopologyGraph;

const AGGREGATE_NAME: &str = "COGROUPKSTREAM-AGGREGATE-";
const MERGE_NAME: &str = "COGROUPKSTREAM-MERGE-";

/// Makes a key's first aggregate.
type Initializer<VA> = Arc<dyn Fn() -> VA + Send + Sync>;

/// One grouped stream of a cogroup, its value type erased: it routes itself through a
/// repartition topic if needed, then adds its aggregate processor.
trait CogroupPart<K, VA> {
    /// Repartitions the grouped stream if its key changed, naming the topic after `store` unless
    /// its `Grouped` names it (Kafka's `processRepartitions`).
    fn prepare(&mut self, store: &str);

    /// Adds the aggregate processor `name` writing `table`; returns its node.
    fn add_aggregator(
        &self,
        name: String,
        table: TableStore<K, VA>,
        initializer: Initializer<VA>,
    ) -> KStream<K, Change<VA>>;
}

struct Part<K, V, VA> {
    grouped: KGroupedStream<K, V>,
    input: Option<KStream<K, V>>,
    aggregator: Add<K, V, VA>,
}

impl<K: Data, V: Data, VA: Data> CogroupPart<K, VA> for Part<K, V, VA> {
    fn prepare(&mut self, store: &str) {
        let stream = &self.grouped.stream;
        self.input = Some(if stream.repartition_required {
            let base = self
                .grouped
                .grouped
                .name
                .clone()
                .unwrap_or_else(|| store.to_string());
            stream.repartition_through(
                Some(base),
                Arc::clone(&self.grouped.grouped.key_serde),
                Arc::clone(&self.grouped.grouped.value_serde),
                None,
            )
        } else {
            stream.clone()
        });
    }

    fn add_aggregator(
        &self,
        name: String,
        table: TableStore<K, VA>,
        initializer: Initializer<VA>,
    ) -> KStream<K, Change<VA>> {
        let input = self
            .input
            .clone()
            .unwrap_or_else(|| self.grouped.stream.clone());
        let store = table.table.store_name.to_string();
        let values = Arc::clone(&self.grouped.grouped.value_serde);
        let add = Arc::clone(&self.aggregator);
        let first = Arc::clone(&add);
        let start: Start<K, V, VA> = Arc::new(move |key, value| first(key, value, initializer()));
        input.add_processor::<K, Change<VA>, _, _>(name, vec![store], move || AggregateProcessor {
            aggregates: table.clone(),
            values: Arc::clone(&values),
            start: Arc::clone(&start),
            add: Arc::clone(&add),
        })
    }
}

/// Grouped streams cogrouped into one aggregate per key (Kafka's `CogroupedKStream`): add more
/// with [`cogroup`](Self::cogroup), then [`aggregate`](Self::aggregate).
pub struct CogroupedKStream<K, VA> {
    graph: Rc<RefCell<TopologyGraph>>,
    key_serde: Arc<dyn Serde<K>>,
    parts: Vec<Box<dyn CogroupPart<K, VA>>>,
    name: Option<String>,
}

impl<K: Data, V: Data> KGroupedStream<K, V> {
    /// Starts a cogroup of this grouped stream, folded into aggregates of type `VA` by
    /// `aggregator(key, value, aggregate)` (Kafka's `KGroupedStream#cogroup`).
    ///
    /// ```
    /// use streams_core::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// let clicks = builder
    ///     .stream("clicks", Consumed::with(Serdes::string(), Serdes::i64()))
    ///     .group_by_key(Grouped::with(Serdes::string(), Serdes::i64()));
    /// let views = builder
    ///     .stream("views", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .group_by_key(Grouped::with(Serdes::string(), Serdes::string()));
    /// clicks
    ///     .cogroup(|_user: &String, clicks: &i64, total: i64| total + clicks)
    ///     .cogroup(&views, |_user: &String, _page: &String, total: i64| total + 1)
    ///     .aggregate(|| 0, Materialized::as_("activity").with_value_serde(Serdes::i64()))
    ///     .to_stream()
    ///     .to("activity", Produced::with(Serdes::string(), Serdes::option(Serdes::i64())));
    /// let driver = TopologyTestDriver::new(builder.build()?)?;
    /// let clicks = driver.create_input_topic("clicks", Serdes::string(), Serdes::i64());
    /// let views = driver.create_input_topic("views", Serdes::string(), Serdes::string());
    /// let activity = driver.create_output_topic("activity", Serdes::string(), Serdes::option(Serdes::i64()));
    /// clicks.pipe_input("ann", 3i64);
    /// views.pipe_input("ann", "home");
    /// assert_eq!(activity.read_values_to_list(), [Some(3), Some(4)]);
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn cogroup<VA, A>(&self, aggregator: A) -> CogroupedKStream<K, VA>
    where
        VA: Data,
        A: Fn(&K, &V, VA) -> VA + Send + Sync + 'static,
    {
        CogroupedKStream {
            graph: Rc::clone(self.stream.graph()),
            key_serde: Arc::clone(&self.grouped.key_serde),
            parts: Vec::new(),
            name: None,
        }
        .cogroup(self, aggregator)
    }
}

impl<K: Data, VA: Data> CogroupedKStream<K, VA> {
    /// Adds `grouped`, folded into the same aggregates by `aggregator` (Kafka's
    /// `CogroupedKStream#cogroup`); its values may be of another type.
    pub fn cogroup<V, A>(mut self, grouped: &KGroupedStream<K, V>, aggregator: A) -> Self
    where
        V: Data,
        A: Fn(&K, &V, VA) -> VA + Send + Sync + 'static,
    {
        if !Rc::ptr_eq(&self.graph, grouped.stream.graph()) {
            self.graph
                .borrow_mut()
                .errors
                .push("cannot cogroup streams of different StreamsBuilders".to_string());
            return self;
        }
        self.parts.push(Box::new(Part {
            grouped: grouped.clone(),
            input: None,
            aggregator: Arc::new(aggregator),
        }));
        self
    }

    /// Names the aggregation's processors `<name>-cogroup-agg-<i>` and `<name>-cogroup-merge`
    /// (Kafka's `aggregate(initializer, Named, …)`).
    pub fn named(mut self, named: impl Into<Named>) -> Self {
        self.name = Some(named.into().0);
        self
    }

    /// Aggregates every cogrouped stream into one table, each key starting from
    /// `initializer()` (Kafka's `CogroupedKStream#aggregate`). `materialized` must give the
    /// aggregates' value serde; name its store with `Materialized::as_` to query it.
    pub fn aggregate<I>(
        mut self,
        initializer: I,
        materialized: Materialized<K, VA>,
    ) -> KTable<K, VA>
    where
        I: Fn() -> VA + Send + Sync + 'static,
    {
        let graph = Rc::clone(&self.graph);
        // Kafka's order: the store's name, the repartitions, the aggregators', the merge's.
        let store_name = match &materialized.name {
            Some(name) => name.clone(),
            None => graph.borrow_mut().next_store_name(AGGREGATE_NAME),
        };
        for part in &mut self.parts {
            part.prepare(&store_name);
        }
        let (keys, aggregates) = store_serdes(
            &graph,
            self.name.as_deref().unwrap_or(AGGREGATE_NAME),
            &store_name,
            &materialized,
            &self.key_serde,
            None,
        );
        graph
            .borrow_mut()
            .add_store(materialized.timestamped_store(&store_name));
        let table = TableStore::new(
            Arc::from(store_name.as_str()),
            Arc::clone(&keys),
            Arc::clone(&aggregates),
        );
        let initializer: Initializer<VA> = Arc::new(initializer);
        let mut aggregators: Vec<KStream<K, Change<VA>>> = Vec::new();
        for (i, part) in self.parts.iter().enumerate() {
            // Kafka draws a generated name even when the user named the operation, to keep
            // later generated names stable (`NamedInternal#suffixWithOrElseGet`).
            let generated = graph.borrow_mut().next_name(AGGREGATE_NAME);
            let name = match &self.name {
                Some(name) => format!("{name}-cogroup-agg-{i}"),
                None => generated,
            };
            aggregators.push(part.add_aggregator(name, table.clone(), Arc::clone(&initializer)));
        }
        let generated = graph.borrow_mut().next_name(MERGE_NAME);
        let merge_name = match &self.name {
            Some(name) => format!("{name}-cogroup-merge"),
            None => generated,
        };
        let Some((first, rest)) = aggregators.split_first() else {
            graph
                .borrow_mut()
                .errors
                .push("a cogroup needs at least one grouped stream".to_string());
            let empty = KStream::from_node(Rc::clone(&graph), NodeId::default());
            return KTable::new(empty, keys, Some(aggregates), None);
        };
        let merged = first
            .add_processor::<K, Change<VA>, _, _>(merge_name, Vec::new(), || PassThroughProcessor);
        for other in rest {
            other.feed(merged.node);
        }
        KTable::new(
            merged,
            keys,
            Some(aggregates),
            materialized.name.map(|_| store_name),
        )
    }
}
