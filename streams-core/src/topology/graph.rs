//! The logical graph the DSL builds, like Kafka's `InternalTopologyBuilder` node factories: named
//! nodes, their edges, and for each node a factory that instantiates it for a task.
//!
//! Types are erased here (the DSL checked them at compile time), so that one graph can hold
//! nodes of every key and value type and a `Topology` can be shared between threads.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use crate::dsl::AutoOffsetReset;
use crate::error::Result;
use crate::processor::node::{Erased, NodeId};
use crate::state::StoreBuilder;

/// A topic a source reads or a sink writes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct TopicRef {
    /// The name as the topology knows it; for internal topics, without the application id.
    pub(crate) name: String,
    /// Internal topics (repartition, changelog) are prefixed with `<application.id>-` at run time.
    pub(crate) internal: bool,
}

impl TopicRef {
    pub(crate) fn user(name: impl Into<String>) -> Self {
        TopicRef {
            name: name.into(),
            internal: false,
        }
    }

    pub(crate) fn internal(name: impl Into<String>) -> Self {
        TopicRef {
            name: name.into(),
            internal: true,
        }
    }

    /// The topic name on the broker for application `application_id`.
    pub(crate) fn resolve(&self, application_id: &str) -> String {
        if self.internal {
            format!("{application_id}-{}", self.name)
        } else {
            self.name.clone()
        }
    }
}

/// What a node is, for wiring and for `describe()`.
#[derive(Debug, Clone)]
pub(crate) enum NodeKind {
    Source {
        topics: Vec<TopicRef>,
        /// For `StreamsBuilder::stream_pattern`: the pattern the topics it reads match; its
        /// `topics` are those found to match (see `Topology::resolve_source_patterns`).
        pattern: Option<TopicPattern>,
        /// Where to start reading a partition without a committed offset, if not as the
        /// application's `auto.offset.reset` says (`Consumed::with_offset_reset_policy`).
        offset_reset: Option<AutoOffsetReset>,
    },
    Processor {
        stores: Vec<String>,
    },
    Sink {
        topic: TopicRef,
    },
    /// A sink whose topic a `TopicNameExtractor` picks per record; `extractor` names its type
    /// for `describe()`.
    ExtractorSink {
        extractor: String,
    },
}

/// A source topic pattern (a regular expression that must match a whole topic name, as
/// Java's `Pattern#matcher(topic).matches()`), printed as written.
#[derive(Debug, Clone)]
pub(crate) struct TopicPattern {
    pub(crate) source: String,
    pub(crate) regex: regex::Regex,
}

impl TopicPattern {
    /// Compiles `pattern`, anchored at both ends.
    pub(crate) fn new(pattern: &str) -> std::result::Result<Self, regex::Error> {
        Ok(TopicPattern {
            source: pattern.to_string(),
            regex: regex::Regex::new(&format!("^(?:{pattern})$"))?,
        })
    }

    /// Whether `topic` matches the whole pattern.
    pub(crate) fn matches(&self, topic: &str) -> bool {
        self.regex.is_match(topic)
    }
}

/// A state store the topology declares, and how each task builds its instance.
#[derive(Clone)]
pub(crate) struct StoreSpec {
    pub(crate) builder: StoreBuilder,
    /// For the store of a source table (`StreamsBuilder::table`): the topic it materializes.
    pub(crate) table_source_topic: Option<String>,
    /// The topic the store is restored from instead of its own changelog: its source topic,
    /// when the topology is optimized with `reuse.ktable.source.topics`.
    pub(crate) restore_topic: Option<String>,
    /// A global store (`StreamsBuilder::global_table`): one instance per application instance,
    /// holding every partition of its source topic, readable by every task.
    pub(crate) global: bool,
}

impl StoreSpec {
    pub(crate) fn name(&self) -> &str {
        self.builder.name()
    }
}

/// What a factory gets to build its node for one task.
pub(crate) struct BuildContext {
    pub(crate) id: NodeId,
    pub(crate) name: Arc<str>,
    /// For sinks: the resolved destination topic.
    pub(crate) topic: Option<Arc<str>>,
    /// The already-built children, in edge order.
    pub(crate) children: Vec<(Arc<str>, Erased)>,
    /// The stores this node may use.
    pub(crate) stores: Arc<[String]>,
}

/// Instantiates a node for a task.
pub(crate) type Factory = Arc<dyn Fn(BuildContext) -> Result<Erased> + Send + Sync>;

/// Splits one built node into handles for several parents (it knows the node's input type).
pub(crate) type Share = fn(Erased, usize) -> Result<Vec<Erased>>;

/// One node of the logical graph.
#[derive(Clone)]
pub(crate) struct GraphNode {
    pub(crate) name: String,
    pub(crate) kind: NodeKind,
    pub(crate) parents: Vec<NodeId>,
    pub(crate) children: Vec<NodeId>,
    pub(crate) factory: Factory,
    pub(crate) share: Option<Share>,
}

/// An internal repartition topic and the partition count it asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepartitionTopic {
    /// The topic name without the application-id prefix.
    pub name: String,
    /// The requested partition count; `None` takes the upstream source topics' count.
    pub partitions: Option<u32>,
}

/// The three nodes of a repartition a keyed operation added: filter → sink → topic → source.
#[derive(Debug, Clone)]
pub(crate) struct RepartitionNodes {
    pub(crate) filter: NodeId,
    pub(crate) sink: NodeId,
    pub(crate) source: NodeId,
    /// The topic, without the application-id prefix.
    pub(crate) topic: String,
}

/// The graph under construction.
#[derive(Clone, Default)]
pub(crate) struct TopologyGraph {
    pub(crate) nodes: Vec<GraphNode>,
    pub(crate) stores: Vec<StoreSpec>,
    pub(crate) repartition_topics: Vec<RepartitionTopic>,
    /// Problems found while building, reported together by `build()`.
    pub(crate) errors: Vec<String>,
    /// For each stream node repartitioned for a join: the source node reading the repartition
    /// topic, which a later join of the same stream reuses (Kafka's
    /// `KStreamImpl#repartitionNode`).
    pub(crate) join_repartitions: HashMap<NodeId, NodeId>,
    /// The repartitions keyed operations added (Kafka's `OptimizableRepartitionNode`s), in the
    /// order they were added, which `merge.repartition.topics` may merge.
    pub(crate) optimizable_repartitions: Vec<RepartitionNodes>,
    /// Nodes that change keys (`map`, `flat_map`, `select_key`): `true`; or only values
    /// (`map_values`, `flat_map_values`): `false`.
    changing: HashMap<NodeId, bool>,
    /// The nodes of `KStream::merge`, in the order they were added (Kafka's `mergeNodes`).
    pub(crate) merge_nodes: Vec<NodeId>,
    /// Each repartition's filter node, the source reading its topic back, and a factory for a
    /// filter that drops null keys — which it becomes unless a join that keeps null keys lies
    /// downstream (Kafka's `InternalStreamsBuilder#rewriteRepartitionNodes`, KIP-962).
    pub(crate) repartition_filters: Vec<(NodeId, NodeId, Factory)>,
    /// The join nodes that keep records with null keys (Kafka's `NULL_KEY_RELAXED_JOIN`
    /// label): left stream-table and stream-global-table joins, left and outer stream-stream
    /// joins.
    pub(crate) relaxed_null_key_joins: HashSet<NodeId>,
    next_index: u64,
    names: HashSet<String>,
}

impl TopologyGraph {
    /// A generated node name, `PREFIX` + ten-digit counter, like Kafka's `newProcessorName`.
    pub(crate) fn next_name(&mut self, prefix: &str) -> String {
        let name = format!("{prefix}{:010}", self.next_index);
        self.next_index += 1;
        name
    }

    /// Consumes a counter value without naming anything, to keep generated names aligned with
    /// Kafka Streams' where it does the same.
    pub(crate) fn burn_index(&mut self) {
        self.next_index += 1;
    }

    pub(crate) fn add_node(
        &mut self,
        name: String,
        kind: NodeKind,
        parents: Vec<NodeId>,
        factory: Factory,
        share: Option<Share>,
    ) -> NodeId {
        if name.is_empty() {
            self.errors
                .push("a node name must not be empty".to_string());
        } else if !self.names.insert(name.clone()) {
            self.errors
                .push(format!("node name `{name}` is used more than once"));
        }
        let id = self.nodes.len();
        for &parent in &parents {
            self.nodes[parent].children.push(id);
        }
        self.nodes.push(GraphNode {
            name,
            kind,
            parents,
            children: Vec::new(),
            factory,
            share,
        });
        id
    }

    /// A generated store name, `PREFIX` + `STATE-STORE-` + counter, like Kafka's `newStoreName`.
    pub(crate) fn next_store_name(&mut self, prefix: &str) -> String {
        let name = format!("{prefix}STATE-STORE-{:010}", self.next_index);
        self.next_index += 1;
        name
    }

    /// Declares a store; a second store of the same name is an error reported by `build()`.
    pub(crate) fn add_store(&mut self, builder: StoreBuilder) {
        if self.stores.iter().any(|s| s.name() == builder.name()) {
            self.errors.push(format!(
                "state store `{}` is added more than once",
                builder.name()
            ));
            return;
        }
        self.stores.push(StoreSpec {
            builder,
            table_source_topic: None,
            restore_topic: None,
            global: false,
        });
    }

    /// Records that store `store` materializes the user topic `topic` (a source table), which
    /// may then serve as its changelog.
    pub(crate) fn set_table_source_topic(&mut self, store: &str, topic: &str) {
        if let Some(spec) = self.stores.iter_mut().find(|s| s.name() == store) {
            spec.table_source_topic = Some(topic.to_string());
        }
    }

    /// Marks store `store` as global: its source topic is its changelog, and it is built once
    /// per instance (not per task) by whoever runs the global sub-topology.
    pub(crate) fn set_global_store(&mut self, store: &str) {
        if let Some(spec) = self.stores.iter_mut().find(|s| s.name() == store) {
            spec.global = true;
        }
    }

    /// Whether `store` is a global store.
    pub(crate) fn is_global_store(&self, store: &str) -> bool {
        self.stores.iter().any(|s| s.global && s.name() == store)
    }

    /// Kafka's `reuse.ktable.source.topics` optimization: source tables write no changelog of
    /// their own and restore from their source topic, which holds the same records.
    pub(crate) fn reuse_table_source_topics(&mut self) {
        for spec in &mut self.stores {
            if spec.global {
                // A global store has no changelog: it always restores from its source topic.
                continue;
            }
            let Some(topic) = spec.table_source_topic.clone() else {
                continue;
            };
            // A store without logging has nothing to restore from, reused or not.
            if spec.builder.changelog_topic("").is_none() {
                continue;
            }
            spec.builder = spec.builder.clone().with_logging_disabled();
            spec.restore_topic = Some(topic);
        }
    }

    /// Removes the record cache of store `store`, so that the processor writing it forwards
    /// every update (the foreign-key join needs that of its right table).
    pub(crate) fn disable_caching(&mut self, store: &str) {
        if let Some(spec) = self.stores.iter_mut().find(|s| s.name() == store) {
            spec.builder = spec.builder.clone().with_caching_disabled();
        }
    }

    /// Kafka's `rewriteRepartitionNodes` (KIP-962): a repartition drops records with null keys,
    /// which could never be joined nor aggregated, unless a join that keeps them lies
    /// downstream (through further repartitions too).
    pub(crate) fn drop_null_keys_at_repartitions(&mut self) {
        let filters = std::mem::take(&mut self.repartition_filters);
        let hops: HashMap<NodeId, NodeId> = filters
            .iter()
            .map(|(filter, source, _)| (*filter, *source))
            .collect();
        for (filter, _, factory) in &filters {
            if !self.reaches_relaxed_join(*filter, &hops) {
                self.set_factory(*filter, Arc::clone(factory));
            }
        }
        self.repartition_filters = filters;
    }

    /// Whether a null-key-relaxed join is downstream of `start`, following repartition topics
    /// (`hops`: filter node → the source reading its topic back).
    fn reaches_relaxed_join(&self, start: NodeId, hops: &HashMap<NodeId, NodeId>) -> bool {
        let mut seen = HashSet::new();
        let mut pending = vec![start];
        while let Some(node) = pending.pop() {
            if !seen.insert(node) {
                continue;
            }
            if node != start && self.relaxed_null_key_joins.contains(&node) {
                return true;
            }
            pending.extend(self.nodes[node].children.iter().copied());
            pending.extend(hops.get(&node).copied());
        }
        false
    }

    /// Lets processor `node` use store `store` too (a source table materialized after the
    /// fact, see `KTable::view`).
    pub(crate) fn connect_store(&mut self, node: NodeId, store: &str) {
        if let NodeKind::Processor { stores } = &mut self.nodes[node].kind {
            if !stores.iter().any(|s| s == store) {
                stores.push(store.to_string());
            }
        }
    }

    /// Whether a store named `store` is declared.
    pub(crate) fn has_store(&self, store: &str) -> bool {
        self.stores.iter().any(|s| s.name() == store)
    }

    pub(crate) fn set_factory(&mut self, node: NodeId, factory: Factory) {
        self.nodes[node].factory = factory;
    }

    /// Records that `node` changes keys (`keys`) or only values, for
    /// [`merge_repartition_topics`](Self::merge_repartition_topics).
    pub(crate) fn mark_changing(&mut self, node: NodeId, keys: bool) {
        self.changing.insert(node, keys);
    }

    /// Kafka's `merge.repartition.topics` optimization (`InternalStreamsBuilder#
    /// mergeRepartitionTopics`): the repartitions that keyed operations added downstream of
    /// the same key-changing operator — with no value-changing operator in between — become
    /// one, right after that operator, through the first one's topic and named after it
    /// (`<topic>-filter`, `<topic>-sink`, `<topic>-source`). What lay between the operator
    /// and each repartition moves behind the merged one.
    pub(crate) fn merge_repartition_topics(&mut self) {
        let groups = self.repartitions_by_key_changer();
        let mut removed: HashSet<NodeId> = HashSet::new();
        for (key_changer, repartitions) in groups {
            let repartitions: Vec<(RepartitionNodes, NodeId)> = repartitions
                .into_iter()
                .filter_map(|r| {
                    // The child of the key changer (or merge) on the way to the repartition.
                    let child = self.find_ancestor(r.filter, &|n| {
                        self.nodes[n].parents.contains(&key_changer)
                    })?;
                    Some((r, child))
                })
                .collect();
            let Some((first, _)) = repartitions.first() else {
                continue;
            };
            let topic = first.topic.clone();
            let copy = |graph: &mut Self, of: NodeId, name: String, parents: Vec<NodeId>| {
                let node = graph.nodes[of].clone();
                graph.add_node(name, node.kind, parents, node.factory, node.share)
            };
            // Removed nodes give up their names first: the merged nodes may take them.
            for (r, _) in &repartitions {
                for n in [r.filter, r.sink, r.source] {
                    self.names.remove(&self.nodes[n].name);
                }
            }
            let filter = copy(
                self,
                first.filter,
                format!("{topic}-filter"),
                vec![key_changer],
            );
            copy(self, first.sink, format!("{topic}-sink"), vec![filter]);
            let source = copy(self, first.source, format!("{topic}-source"), Vec::new());
            for (r, child) in &repartitions {
                let consumers = std::mem::take(&mut self.nodes[r.source].children);
                let upstream = if *child == r.filter {
                    source
                } else {
                    // The operators between the key changer and this repartition now read the
                    // merged repartition, and its consumers read them.
                    if self.nodes[*child].parents.contains(&key_changer) {
                        self.replace_parent(*child, key_changer, source);
                    }
                    self.nodes[r.filter].parents[0]
                };
                for consumer in consumers {
                    self.replace_parent(consumer, r.source, upstream);
                }
                for n in [r.filter, r.sink, r.source] {
                    for parent in std::mem::take(&mut self.nodes[n].parents) {
                        self.nodes[parent].children.retain(|&c| c != n);
                    }
                    removed.insert(n);
                }
                if r.topic != topic {
                    self.repartition_topics.retain(|t| t.name != r.topic);
                }
            }
        }
        self.optimizable_repartitions.clear();
        self.remove_nodes(&removed);
    }

    /// The optimizable repartitions grouped by the node they are merged after (Kafka's
    /// `keyChangingOperationsToOptimizableRepartitionNodes`): the key-changing operator they
    /// follow with no value-changing one in between (`getKeyChangingParentNode`) — or a
    /// `merge` of key-changed streams, when all of a key changer's repartitions follow it
    /// (`maybeUpdateKeyChangingRepartitionNodeMap`). Groups are in the order of their node.
    fn repartitions_by_key_changer(&self) -> BTreeMap<NodeId, Vec<RepartitionNodes>> {
        let changes_keys = |n: NodeId| self.changing.get(&n) == Some(&true);
        let changes_anything = |n: NodeId| self.changing.contains_key(&n);
        let mut groups: BTreeMap<NodeId, Vec<RepartitionNodes>> = BTreeMap::new();
        for r in &self.optimizable_repartitions {
            let nearest = self.find_ancestor(r.filter, &changes_anything);
            let key_changer = self.find_ancestor(r.filter, &changes_keys);
            if let (Some(nearest), Some(key_changer)) = (nearest, key_changer) {
                if nearest == key_changer {
                    groups.entry(key_changer).or_default().push(r.clone());
                }
            }
        }
        for &merge in &self.merge_nodes {
            let below_merge = |r: &RepartitionNodes| {
                self.find_ancestor(r.filter, &|n| self.nodes[n].parents.contains(&merge))
                    .is_some()
            };
            let key_changers: Vec<NodeId> = groups
                .iter()
                .filter(|(&k, rs)| {
                    rs.iter().all(below_merge)
                        && self
                            .find_ancestor(merge, &|n| self.nodes[n].parents.contains(&k))
                            .is_some()
                })
                .map(|(&k, _)| k)
                .collect();
            let mut merged = Vec::new();
            for k in key_changers {
                merged.extend(groups.remove(&k).unwrap_or_default());
            }
            if !merged.is_empty() {
                merged.sort_by_key(|r| r.filter);
                merged.dedup_by_key(|r| r.filter);
                groups.insert(merge, merged);
            }
        }
        groups
    }

    /// Kafka's `findParentNodeMatching`: `start` if it matches, else the first matching parent,
    /// else (depth first) what the last parent's ancestors yield.
    fn find_ancestor(&self, start: NodeId, matches: &dyn Fn(NodeId) -> bool) -> Option<NodeId> {
        if matches(start) {
            return Some(start);
        }
        let mut found = None;
        for &parent in &self.nodes[start].parents {
            if matches(parent) {
                return Some(parent);
            }
            found = self.find_ancestor(parent, matches);
        }
        found
    }

    /// Makes `node` a child of `new` instead of `old`.
    fn replace_parent(&mut self, node: NodeId, old: NodeId, new: NodeId) {
        for parent in &mut self.nodes[node].parents {
            if *parent == old {
                *parent = new;
            }
        }
        self.nodes[old].children.retain(|&c| c != node);
        self.nodes[new].children.push(node);
    }

    /// Drops `removed` (nodes already disconnected) and renumbers the others, keeping order.
    fn remove_nodes(&mut self, removed: &HashSet<NodeId>) {
        if removed.is_empty() {
            return;
        }
        let mut new_id = vec![None; self.nodes.len()];
        let mut next = 0;
        for (id, slot) in new_id.iter_mut().enumerate() {
            if !removed.contains(&id) {
                *slot = Some(next);
                next += 1;
            }
        }
        let renumber = |ids: &mut Vec<NodeId>| {
            *ids = ids.iter().filter_map(|&id| new_id[id]).collect();
        };
        let nodes = std::mem::take(&mut self.nodes);
        self.nodes = nodes
            .into_iter()
            .enumerate()
            .filter(|(id, _)| !removed.contains(id))
            .map(|(_, mut node)| {
                renumber(&mut node.parents);
                renumber(&mut node.children);
                node
            })
            .collect();
        self.join_repartitions.clear();
        self.merge_nodes.clear();
        self.changing = std::mem::take(&mut self.changing)
            .into_iter()
            .filter_map(|(id, keys)| new_id[id].map(|id| (id, keys)))
            .collect();
    }
}
