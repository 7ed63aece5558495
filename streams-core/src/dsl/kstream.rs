//! `KStream<K, V>`: an unbounded stream of records, and its stateless operators — like Kafka
//! Streams' `KStream`.
//!
//! Every operator adds a node to the builder's graph and returns a handle to the new stream;
//! handles are cheap to clone and a stream can feed several operators. Closures receive
//! `&K, &V`, and all typing is checked at compile time.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::rc::Rc;
use std::sync::Arc;

use super::kgrouped::KGroupedStream;
use super::operators::{
    BranchPredicate, BranchProcessor, FilterProcessor, FlatMapProcessor, FlatMapValuesProcessor,
    MapProcessor, MapValuesProcessor, NullKeyFilter, PassThroughProcessor, PeekProcessor,
    SelectKeyProcessor,
};
use super::options::{Grouped, Named, Produced, Repartitioned};
use crate::error::Error;
use crate::processor::node::{
    erase, erase_source, share_node, Children, Flushing, NodeId, ProcessorNode, SinkNode,
    SourceNode,
};
use crate::processor::{Data, Processor, StreamPartitioner, TimestampExtractor};
use crate::serde::Serde;
use crate::topology::graph::{
    BuildContext, Factory, NodeKind, RepartitionNodes, RepartitionTopic, TopicRef, TopologyGraph,
};

pub(crate) const SOURCE_NAME: &str = "KSTREAM-SOURCE-";
pub(crate) const SINK_NAME: &str = "KSTREAM-SINK-";
const MAP_NAME: &str = "KSTREAM-MAP-";
const MAPVALUES_NAME: &str = "KSTREAM-MAPVALUES-";
const FLATMAP_NAME: &str = "KSTREAM-FLATMAP-";
const FLATMAPVALUES_NAME: &str = "KSTREAM-FLATMAPVALUES-";
const FILTER_NAME: &str = "KSTREAM-FILTER-";
const KEY_SELECT_NAME: &str = "KSTREAM-KEY-SELECT-";
const PEEK_NAME: &str = "KSTREAM-PEEK-";
const FOREACH_NAME: &str = "KSTREAM-FOREACH-";
const BRANCH_NAME: &str = "KSTREAM-BRANCH-";
const MERGE_NAME: &str = "KSTREAM-MERGE-";
const REPARTITION_NAME: &str = "KSTREAM-REPARTITION-";
const PROCESSOR_NAME: &str = "KSTREAM-PROCESSOR-";
const REPARTITION_SUFFIX: &str = "-repartition";

/// A stream of `Record<K, V>`, like Kafka Streams' `KStream<K, V>`.
///
/// Types are checked end to end at compile time: writing a stream of `i64` values with a string
/// serde does not compile.
///
/// ```compile_fail
/// use streams_core::prelude::*;
/// let builder = StreamsBuilder::new();
/// builder
///     .stream("in", Consumed::with(Serdes::string(), Serdes::string()))
///     .map_values(|v| v.len() as i64)
///     .to("out", Produced::with(Serdes::string(), Serdes::string())); // expected i64 values
/// ```
pub struct KStream<K, V> {
    graph: Rc<RefCell<TopologyGraph>>,
    pub(crate) node: NodeId,
    /// A name the next operator's node takes instead of a generated one.
    pending_name: Option<String>,
    /// Whether an operator may have changed keys since the stream was last partitioned by key,
    /// so that a keyed operation must repartition first (Kafka's `repartitionRequired`).
    pub(crate) repartition_required: bool,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Clone for KStream<K, V> {
    fn clone(&self) -> Self {
        KStream {
            graph: Rc::clone(&self.graph),
            node: self.node,
            pending_name: self.pending_name.clone(),
            repartition_required: self.repartition_required,
            _types: PhantomData,
        }
    }
}

/// A factory that instantiates a processor node from `supplier` for each task, flushed at
/// commits as `flushing` says.
pub(crate) fn processor_factory<K, V, K2, V2, P, S>(supplier: S, flushing: Flushing) -> Factory
where
    K: Data,
    V: Data,
    K2: Data,
    V2: Data,
    P: Processor<K, V, K2, V2>,
    S: Fn() -> P + Send + Sync + 'static,
{
    Arc::new(move |ctx: BuildContext| {
        let children = Children::<K2, V2>::from_erased(&ctx.name, ctx.children)?;
        Ok(erase::<K, V>(ProcessorNode::new(
            ctx.id,
            ctx.name,
            ctx.stores,
            supplier(),
            children,
            flushing,
        )))
    })
}

/// `name`, or a generated name with `prefix`; a counter value is drawn either way (Kafka's
/// `NamedInternal#orElseGenerateWithPrefix`).
pub(crate) fn named_or_generated(
    graph: &Rc<RefCell<TopologyGraph>>,
    name: Option<String>,
    prefix: &str,
) -> String {
    let generated = graph.borrow_mut().next_name(prefix);
    name.unwrap_or(generated)
}

/// Adds a source node reading `topics`; shared by `StreamsBuilder::stream` and `repartition`.
pub(crate) fn add_source<K: Data, V: Data>(
    graph: &Rc<RefCell<TopologyGraph>>,
    name: String,
    topics: Vec<TopicRef>,
    key_serde: Arc<dyn Serde<K>>,
    value_serde: Arc<dyn Serde<V>>,
) -> KStream<K, V> {
    let kind = NodeKind::Source {
        topics,
        pattern: None,
        offset_reset: None,
    };
    add_source_node(graph, name, kind, key_serde, value_serde, None)
}

/// Adds a source node of `kind` (topics or a pattern, and an offset-reset policy), stamping
/// records with `extractor` if given.
pub(crate) fn add_source_node<K: Data, V: Data>(
    graph: &Rc<RefCell<TopologyGraph>>,
    name: String,
    kind: NodeKind,
    key_serde: Arc<dyn Serde<K>>,
    value_serde: Arc<dyn Serde<V>>,
    extractor: Option<Arc<dyn TimestampExtractor<K, V>>>,
) -> KStream<K, V> {
    let factory: Factory = Arc::new(move |ctx: BuildContext| {
        let children = Children::<K, V>::from_erased(&ctx.name, ctx.children)?;
        Ok(erase_source(
            SourceNode::new(Arc::clone(&key_serde), Arc::clone(&value_serde), children)
                .with_timestamp_extractor(extractor.clone()),
        ))
    });
    let node = graph
        .borrow_mut()
        .add_node(name, kind, Vec::new(), factory, None);
    KStream::from_node(Rc::clone(graph), node)
}

impl<K: Data, V: Data> KStream<K, V> {
    pub(crate) fn from_node(graph: Rc<RefCell<TopologyGraph>>, node: NodeId) -> Self {
        KStream {
            graph,
            node,
            pending_name: None,
            repartition_required: false,
            _types: PhantomData,
        }
    }

    /// The same handle, marked as (not) needing a repartition before keyed operations.
    pub(crate) fn requiring_repartition(mut self, required: bool) -> Self {
        self.repartition_required = required;
        self
    }

    pub(crate) fn graph(&self) -> &Rc<RefCell<TopologyGraph>> {
        &self.graph
    }

    /// The name the user gave the next operator with [`named`](Self::named), if any.
    pub(crate) fn pending_name(&self) -> Option<&str> {
        self.pending_name.as_deref()
    }

    /// The pending user-given name, or a generated one with `prefix`. A counter value is drawn
    /// either way, as Kafka's `NamedInternal#orElseGenerateWithPrefix` does, so that naming one
    /// operator leaves the generated names of the others as they were.
    pub(crate) fn node_name(&self, prefix: &str) -> String {
        named_or_generated(&self.graph, self.pending_name.clone(), prefix)
    }

    /// The name of a `process`/`process_values` node: the user's name, with no counter value
    /// drawn for it — unlike the other operators (see [`node_name`](Self::node_name)), Kafka's
    /// `process(supplier, Named)` takes `Named#name()` as it is.
    pub(crate) fn processor_node_name(&self, prefix: &str) -> String {
        match &self.pending_name {
            Some(name) => name.clone(),
            None => self.graph.borrow_mut().next_name(prefix),
        }
    }

    /// Names the node of the next operator applied to the returned handle, instead of a
    /// generated `KSTREAM-<OP>-<counter>` name — Kafka's `Named` parameter:
    /// `stream.named("upper").map_values(|v| v.to_uppercase())`.
    pub fn named(&self, named: impl Into<Named>) -> Self {
        let mut next = self.clone();
        next.pending_name = Some(named.into().0);
        next
    }

    /// Adds a node under `name` for one of the DSL's operators, whose processors `supplier`
    /// makes, one per task.
    pub(crate) fn add_processor<K2, V2, P, S>(
        &self,
        name: String,
        stores: Vec<String>,
        supplier: S,
    ) -> KStream<K2, V2>
    where
        K2: Data,
        V2: Data,
        P: Processor<K, V, K2, V2>,
        S: Fn() -> P + Send + Sync + 'static,
    {
        self.add_processor_node(name, stores, supplier, Flushing::IfItOwnsACache)
    }

    pub(crate) fn add_processor_node<K2, V2, P, S>(
        &self,
        name: String,
        stores: Vec<String>,
        supplier: S,
        flushing: Flushing,
    ) -> KStream<K2, V2>
    where
        K2: Data,
        V2: Data,
        P: Processor<K, V, K2, V2>,
        S: Fn() -> P + Send + Sync + 'static,
    {
        let factory = processor_factory::<K, V, K2, V2, P, S>(supplier, flushing);
        let node = self.graph.borrow_mut().add_node(
            name,
            NodeKind::Processor { stores },
            vec![self.node],
            factory,
            Some(share_node::<K, V>),
        );
        KStream::from_node(Rc::clone(&self.graph), node)
            .requiring_repartition(self.repartition_required)
    }

    /// Adds a sink node writing this stream to `topic`; returns it so that other streams can
    /// [`feed`](Self::feed) it too.
    pub(crate) fn add_sink(
        &self,
        name: String,
        topic: TopicRef,
        key_serde: Arc<dyn Serde<K>>,
        value_serde: Arc<dyn Serde<V>>,
    ) -> NodeId {
        self.add_partitioned_sink(name, topic, key_serde, value_serde, None)
    }

    /// [`add_sink`](Self::add_sink), writing to the partitions `partitioner` picks.
    pub(crate) fn add_partitioned_sink(
        &self,
        name: String,
        topic: TopicRef,
        key_serde: Arc<dyn Serde<K>>,
        value_serde: Arc<dyn Serde<V>>,
        partitioner: Option<Arc<dyn StreamPartitioner<K, V>>>,
    ) -> NodeId {
        let factory: Factory = Arc::new(move |ctx: BuildContext| {
            let topic = ctx.topic.ok_or_else(|| {
                Error::InvalidTopology(format!("sink `{}` was built without a topic", ctx.name))
            })?;
            Ok(erase::<K, V>(
                SinkNode::new(
                    ctx.name,
                    topic,
                    Arc::clone(&key_serde),
                    Arc::clone(&value_serde),
                )
                .with_partitioner(partitioner.clone()),
            ))
        });
        self.graph.borrow_mut().add_node(
            name,
            NodeKind::Sink { topic },
            vec![self.node],
            factory,
            Some(share_node::<K, V>),
        )
    }

    /// Makes this stream one more parent of `node`, a node that takes records of this stream's
    /// types from several parents (like Kafka's graph nodes with two parents, e.g. the
    /// foreign-key join's response sink).
    pub(crate) fn feed(&self, node: NodeId) {
        let mut graph = self.graph.borrow_mut();
        graph.nodes[node].parents.push(self.node);
        graph.nodes[self.node].children.push(node);
    }

    /// Transforms each record into a new key and value (Kafka's `map`). Changing the key marks
    /// the stream for repartitioning before any later keyed operation.
    pub fn map<K2, V2, F>(&self, mapper: F) -> KStream<K2, V2>
    where
        K2: Data,
        V2: Data,
        F: Fn(&K, &V) -> (K2, V2) + Send + Sync + 'static,
    {
        let mapper = Arc::new(mapper);
        self.add_processor(self.node_name(MAP_NAME), Vec::new(), move || {
            MapProcessor(Arc::clone(&mapper))
        })
        .requiring_repartition(true)
        .changing(true)
    }

    /// Transforms each value, keeping the key (Kafka's `mapValues`).
    pub fn map_values<V2, F>(&self, mapper: F) -> KStream<K, V2>
    where
        V2: Data,
        F: Fn(&V) -> V2 + Send + Sync + 'static,
    {
        let mapper = Arc::new(mapper);
        self.add_processor(self.node_name(MAPVALUES_NAME), Vec::new(), move || {
            MapValuesProcessor(Arc::clone(&mapper))
        })
        .changing(false)
    }

    /// Turns each record into zero or more records (Kafka's `flatMap`). Outputs keep the input's
    /// timestamp and headers.
    pub fn flat_map<K2, V2, I, F>(&self, mapper: F) -> KStream<K2, V2>
    where
        K2: Data,
        V2: Data,
        I: IntoIterator<Item = (K2, V2)> + 'static,
        F: Fn(&K, &V) -> I + Send + Sync + 'static,
    {
        let mapper = Arc::new(mapper);
        self.add_processor(self.node_name(FLATMAP_NAME), Vec::new(), move || {
            FlatMapProcessor(Arc::clone(&mapper))
        })
        .requiring_repartition(true)
        .changing(true)
    }

    /// Turns each value into zero or more values under the same key (Kafka's `flatMapValues`).
    pub fn flat_map_values<V2, I, F>(&self, mapper: F) -> KStream<K, V2>
    where
        V2: Data,
        I: IntoIterator<Item = V2> + 'static,
        F: Fn(&V) -> I + Send + Sync + 'static,
    {
        let mapper = Arc::new(mapper);
        self.add_processor(self.node_name(FLATMAPVALUES_NAME), Vec::new(), move || {
            FlatMapValuesProcessor(Arc::clone(&mapper))
        })
        .changing(false)
    }

    /// Keeps the records for which `predicate` holds (Kafka's `filter`).
    pub fn filter<F>(&self, predicate: F) -> KStream<K, V>
    where
        F: Fn(&K, &V) -> bool + Send + Sync + 'static,
    {
        let predicate = Arc::new(predicate);
        self.add_processor(self.node_name(FILTER_NAME), Vec::new(), move || {
            FilterProcessor {
                predicate: Arc::clone(&predicate),
                keep: true,
            }
        })
    }

    /// Drops the records for which `predicate` holds (Kafka's `filterNot`).
    pub fn filter_not<F>(&self, predicate: F) -> KStream<K, V>
    where
        F: Fn(&K, &V) -> bool + Send + Sync + 'static,
    {
        let predicate = Arc::new(predicate);
        self.add_processor(self.node_name(FILTER_NAME), Vec::new(), move || {
            FilterProcessor {
                predicate: Arc::clone(&predicate),
                keep: false,
            }
        })
    }

    /// Gives each record a new key computed from key and value (Kafka's `selectKey`).
    pub fn select_key<K2, F>(&self, mapper: F) -> KStream<K2, V>
    where
        K2: Data,
        F: Fn(&K, &V) -> K2 + Send + Sync + 'static,
    {
        let mapper = Arc::new(mapper);
        self.add_processor(self.node_name(KEY_SELECT_NAME), Vec::new(), move || {
            SelectKeyProcessor(Arc::clone(&mapper))
        })
        .requiring_repartition(true)
        .changing(true)
    }

    /// Calls `action` on each record and passes it on unchanged (Kafka's `peek`).
    pub fn peek<F>(&self, action: F) -> KStream<K, V>
    where
        F: Fn(&K, &V) + Send + Sync + 'static,
    {
        let action = Arc::new(action);
        self.add_processor(self.node_name(PEEK_NAME), Vec::new(), move || {
            PeekProcessor {
                action: Arc::clone(&action),
                forward: true,
            }
        })
    }

    /// Calls `action` on each record; a terminal operation (Kafka's `foreach`).
    pub fn foreach<F>(&self, action: F)
    where
        F: Fn(&K, &V) + Send + Sync + 'static,
    {
        let action = Arc::new(action);
        let _ =
            self.add_processor::<K, V, _, _>(self.node_name(FOREACH_NAME), Vec::new(), move || {
                PeekProcessor {
                    action: Arc::clone(&action),
                    forward: false,
                }
            });
    }

    /// Splits the stream by predicates into named branches (Kafka's `split`). Name the
    /// splitter, and so prefix the branch names, with `named` first.
    pub fn split(&self) -> BranchedKStream<K, V> {
        let name = self.node_name(BRANCH_NAME);
        let splitter =
            self.add_processor::<K, V, _, _>(name.clone(), Vec::new(), || PassThroughProcessor);
        BranchedKStream {
            graph: Rc::clone(&self.graph),
            splitter: splitter.node,
            splitter_name: name,
            predicates: Vec::new(),
            branches: Vec::new(),
            outputs: BTreeMap::new(),
        }
    }

    /// Interleaves this stream with `other` (Kafka's `merge`).
    pub fn merge(&self, other: &KStream<K, V>) -> KStream<K, V> {
        if !Rc::ptr_eq(&self.graph, &other.graph) {
            self.graph
                .borrow_mut()
                .errors
                .push("cannot merge streams of different StreamsBuilders".to_string());
            return self.clone();
        }
        let merged = self.merge_as(other, self.node_name(MERGE_NAME));
        self.graph.borrow_mut().merge_nodes.push(merged.node);
        merged
    }

    /// Merges with `other` into a node named `name`, drawing no counter value: for the merge
    /// nodes of joins, whose names were drawn with the join's.
    pub(crate) fn merge_as(&self, other: &KStream<K, V>, name: String) -> KStream<K, V> {
        let merged = self.add_processor::<K, V, _, _>(name, Vec::new(), || PassThroughProcessor);
        other.feed(merged.node);
        merged.requiring_repartition(self.repartition_required || other.repartition_required)
    }

    /// Writes the stream to `topic` (Kafka's `to`).
    pub fn to(&self, topic: &str, produced: Produced<K, V>) {
        let name = named_or_generated(
            &self.graph,
            produced.name.or_else(|| self.pending_name.clone()),
            SINK_NAME,
        );
        self.add_partitioned_sink(
            name,
            TopicRef::user(topic),
            produced.key_serde,
            produced.value_serde,
            produced.partitioner,
        );
    }

    /// Routes the stream through the internal topic `<application.id>-<name>-repartition`, so
    /// that records are partitioned by their current key (Kafka's `repartition`). Records with
    /// a null key are dropped unless a join that keeps them (a left stream-table or
    /// stream-global-table join, a left or outer stream-stream join) lies downstream, as in
    /// Kafka ≥ 3.7 (KIP-962); the same holds for the repartitions that joins and aggregations
    /// add.
    pub fn repartition(&self, repartitioned: Repartitioned<K, V>) -> KStream<K, V> {
        let base = repartitioned.name.or_else(|| self.pending_name.clone());
        // Kafka's `UnoptimizableRepartitionNode`: a repartition the user asked for is kept.
        self.add_repartition(
            base,
            repartitioned.key_serde,
            repartitioned.value_serde,
            repartitioned.partitions,
            false,
        )
    }

    /// Adds the repartition a keyed operation needs (an aggregation or a join) — Kafka's
    /// `OptimizableRepartitionNode`, which `topology.optimization=all` may merge with the other
    /// repartitions after the same key-changing operator.
    pub(crate) fn repartition_through(
        &self,
        base: Option<String>,
        key_serde: Arc<dyn Serde<K>>,
        value_serde: Arc<dyn Serde<V>>,
        partitions: Option<u32>,
    ) -> KStream<K, V> {
        self.add_repartition(base, key_serde, value_serde, partitions, true)
    }

    /// Adds filter → sink → topic `<base>-repartition` → source, naming the nodes as Kafka
    /// does (`KStreamImpl#createRepartitionedSource`).
    fn add_repartition(
        &self,
        base: Option<String>,
        key_serde: Arc<dyn Serde<K>>,
        value_serde: Arc<dyn Serde<V>>,
        partitions: Option<u32>,
        optimizable: bool,
    ) -> KStream<K, V> {
        let mut graph = self.graph.borrow_mut();
        let base = match base {
            Some(name) => name,
            None => graph.next_name(REPARTITION_NAME),
        };
        let topic = if base.ends_with(REPARTITION_SUFFIX) {
            base.clone()
        } else {
            format!("{base}{REPARTITION_SUFFIX}")
        };
        // Kafka always draws these three names, to keep later generated names stable.
        let generated = (
            graph.next_name(SINK_NAME),
            graph.next_name(FILTER_NAME),
            graph.next_name(SOURCE_NAME),
        );
        let (sink, filter, source) = if is_generated_name(&base) {
            generated
        } else {
            (
                format!("{topic}-sink"),
                format!("{topic}-filter"),
                format!("{topic}-source"),
            )
        };
        graph.repartition_topics.push(RepartitionTopic {
            name: topic.clone(),
            partitions,
        });
        drop(graph);
        let filtered =
            self.add_processor::<K, V, _, _>(filter, Vec::new(), || PassThroughProcessor);
        let sink = filtered.add_sink(
            sink,
            TopicRef::internal(topic.clone()),
            Arc::clone(&key_serde),
            Arc::clone(&value_serde),
        );
        let keys = Arc::clone(&key_serde);
        let source = add_source(
            &self.graph,
            source,
            vec![TopicRef::internal(topic.clone())],
            key_serde,
            value_serde,
        );
        let drop_null_keys = processor_factory::<K, V, K, V, _, _>(
            move || NullKeyFilter {
                keys: Arc::clone(&keys),
            },
            Flushing::IfItOwnsACache,
        );
        self.graph.borrow_mut().repartition_filters.push((
            filtered.node,
            source.node,
            drop_null_keys,
        ));
        if optimizable {
            self.graph
                .borrow_mut()
                .optimizable_repartitions
                .push(RepartitionNodes {
                    filter: filtered.node,
                    sink,
                    source: source.node,
                    topic,
                });
        }
        source
    }

    /// Marks this stream's node as changing keys (`true`) or values (`false`), for
    /// `merge.repartition.topics` (Kafka's `keyChangingOperation` / `setValueChangingOperation`).
    fn changing(self, keys: bool) -> Self {
        self.graph.borrow_mut().mark_changing(self.node, keys);
        self
    }

    /// Repartitions this stream for a join (Kafka's `KStreamImpl#repartitionForJoin`): through
    /// `<base>-repartition`, or `<this node's name>-repartition` without a base. Like Kafka, a
    /// stream joined a second time without a name reuses the repartition topic its first join
    /// created (the counter values of the repartition's nodes are drawn all the same).
    pub(crate) fn repartition_for_join(
        &self,
        base: Option<String>,
        key_serde: Arc<dyn Serde<K>>,
        value_serde: Arc<dyn Serde<V>>,
    ) -> KStream<K, V> {
        let reused = match base {
            None => self
                .graph
                .borrow()
                .join_repartitions
                .get(&self.node)
                .copied(),
            Some(_) => None,
        };
        if let Some(source) = reused {
            let mut graph = self.graph.borrow_mut();
            for _ in 0..3 {
                graph.burn_index();
            }
            drop(graph);
            return KStream::from_node(Rc::clone(&self.graph), source);
        }
        let base = base.unwrap_or_else(|| self.graph.borrow().nodes[self.node].name.clone());
        let repartitioned = self.repartition_through(Some(base), key_serde, value_serde, None);
        self.graph
            .borrow_mut()
            .join_repartitions
            .insert(self.node, repartitioned.node);
        repartitioned
    }

    /// Groups records by their current key for an aggregation (Kafka's `groupByKey`). If an
    /// upstream operator may have changed keys, the aggregation first repartitions through an
    /// internal topic written with `grouped`'s serdes.
    pub fn group_by_key(&self, grouped: Grouped<K, V>) -> KGroupedStream<K, V> {
        KGroupedStream::new(self.clone(), grouped)
    }

    /// Groups records by a new key computed from key and value (Kafka's `groupBy`); always
    /// repartitions before aggregating.
    pub fn group_by<K2, F>(&self, selector: F, grouped: Grouped<K2, V>) -> KGroupedStream<K2, V>
    where
        K2: Data,
        F: Fn(&K, &V) -> K2 + Send + Sync + 'static,
    {
        KGroupedStream::new(self.select_key(selector), grouped)
    }

    /// Runs a custom [`Processor`] on each record (Kafka's `process`); `supplier` makes one
    /// processor per task.
    pub fn process<K2, V2, P, S>(&self, supplier: S) -> KStream<K2, V2>
    where
        K2: Data,
        V2: Data,
        P: Processor<K, V, K2, V2>,
        S: Fn() -> P + Send + Sync + 'static,
    {
        let name = self.processor_node_name(PROCESSOR_NAME);
        self.add_processor_node(name, Vec::new(), supplier, Flushing::Always)
            .requiring_repartition(true)
    }

    /// Like [`process`](Self::process), with access to the state stores `stores`, which must
    /// have been added with `StreamsBuilder::add_state_store` (Kafka's `process(supplier, stores…)`).
    pub fn process_with_stores<K2, V2, P, S>(&self, supplier: S, stores: &[&str]) -> KStream<K2, V2>
    where
        K2: Data,
        V2: Data,
        P: Processor<K, V, K2, V2>,
        S: Fn() -> P + Send + Sync + 'static,
    {
        let stores = stores.iter().map(|s| s.to_string()).collect();
        let name = self.processor_node_name(PROCESSOR_NAME);
        self.add_processor_node(name, stores, supplier, Flushing::Always)
            .requiring_repartition(true)
    }
}

/// Whether `name` looks generated (`KSTREAM…-0123456789`), as Kafka checks before deriving
/// repartition node names from it.
fn is_generated_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    name.starts_with("KSTREAM")
        && bytes.len() >= "KSTREAM".len() + 11
        && bytes[bytes.len() - 11] == b'-'
        && bytes[bytes.len() - 10..].iter().all(u8::is_ascii_digit)
}

/// What a `Branched` does with its branch's stream; `None` means "return nothing for it".
type BranchChain<K, V> = Box<dyn FnOnce(KStream<K, V>) -> Option<KStream<K, V>>>;

/// What to do with one branch of a split, like Kafka's `Branched`.
pub struct Branched<K, V> {
    name: Option<String>,
    chain: Option<BranchChain<K, V>>,
}

impl<K: Data, V: Data> Branched<K, V> {
    /// Names the branch: its stream is returned under `<splitter name><name>`.
    pub fn as_(name: impl Into<String>) -> Self {
        Branched {
            name: Some(name.into()),
            chain: None,
        }
    }

    /// Applies `f` to the branch and returns its result under the branch's name.
    pub fn with_function(f: impl FnOnce(KStream<K, V>) -> KStream<K, V> + 'static) -> Self {
        Branched {
            name: None,
            chain: Some(Box::new(move |s| Some(f(s)))),
        }
    }

    /// Hands the branch to `f` and returns nothing for it.
    pub fn with_consumer(f: impl FnOnce(KStream<K, V>) + 'static) -> Self {
        Branched {
            name: None,
            chain: Some(Box::new(move |s| {
                f(s);
                None
            })),
        }
    }

    /// Also names the branch.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

impl<K, V> Default for Branched<K, V> {
    fn default() -> Self {
        Branched {
            name: None,
            chain: None,
        }
    }
}

/// The result of `KStream::split`: add branches in order; a record goes to the first branch
/// whose predicate matches (Kafka's `BranchedKStream`).
pub struct BranchedKStream<K, V> {
    graph: Rc<RefCell<TopologyGraph>>,
    splitter: NodeId,
    splitter_name: String,
    predicates: Vec<BranchPredicate<K, V>>,
    branches: Vec<String>,
    outputs: BTreeMap<String, KStream<K, V>>,
}

impl<K: Data, V: Data> BranchedKStream<K, V> {
    /// Adds a branch for records matching `predicate`, named by its position (`<splitter>1`,
    /// `<splitter>2`, …).
    pub fn branch<F>(self, predicate: F) -> Self
    where
        F: Fn(&K, &V) -> bool + Send + Sync + 'static,
    {
        self.branch_with(predicate, Branched::default())
    }

    /// Adds a branch for records matching `predicate`, as `branched` says.
    pub fn branch_with<F>(mut self, predicate: F, branched: Branched<K, V>) -> Self
    where
        F: Fn(&K, &V) -> bool + Send + Sync + 'static,
    {
        self.predicates.push(Arc::new(predicate));
        let position = self.predicates.len();
        self.add_branch(branched, position);
        self
    }

    /// Adds the branch for records no predicate matched and returns the branches.
    pub fn default_branch(self) -> BTreeMap<String, KStream<K, V>> {
        self.default_branch_with(Branched::default())
    }

    /// Adds the default branch as `branched` says and returns the branches.
    pub fn default_branch_with(
        mut self,
        branched: Branched<K, V>,
    ) -> BTreeMap<String, KStream<K, V>> {
        self.add_branch(branched, 0);
        self.outputs
    }

    /// Returns the branches; records no predicate matched are dropped.
    pub fn no_default_branch(self) -> BTreeMap<String, KStream<K, V>> {
        self.outputs
    }

    fn add_branch(&mut self, branched: Branched<K, V>, position: usize) {
        let name = match branched.name {
            Some(name) => format!("{}{name}", self.splitter_name),
            None => format!("{}{position}", self.splitter_name),
        };
        self.branches.push(name.clone());
        self.graph.borrow_mut().burn_index();
        let splitter = KStream::<K, V>::from_node(Rc::clone(&self.graph), self.splitter);
        let branch =
            splitter.add_processor::<K, V, _, _>(name.clone(), Vec::new(), || PassThroughProcessor);
        self.update_splitter();
        let output = match branched.chain {
            Some(chain) => chain(branch),
            None => Some(branch),
        };
        if let Some(stream) = output {
            self.outputs.insert(name, stream);
        }
    }

    fn update_splitter(&self) {
        let predicates = Arc::new(self.predicates.clone());
        let branches = Arc::new(self.branches.clone());
        let factory = processor_factory::<K, V, K, V, _, _>(
            move || BranchProcessor {
                predicates: Arc::clone(&predicates),
                branches: Arc::clone(&branches),
                child_index: Vec::new(),
            },
            Flushing::IfItOwnsACache,
        );
        self.graph.borrow_mut().set_factory(self.splitter, factory);
    }
}

#[cfg(test)]
mod tests {
    use super::is_generated_name;

    #[test]
    fn generated_names_are_recognised_like_kafka() {
        assert!(is_generated_name("KSTREAM-REPARTITION-0000000001"));
        assert!(!is_generated_name("KSTREAM-REPARTITION-000000001"));
        assert!(!is_generated_name("orders-by-region"));
    }
}
