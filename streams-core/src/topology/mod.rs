//! A built topology: the DSL's graph split into sub-topologies, validated, and ready to be
//! instantiated as tasks — like Kafka Streams' `Topology`.
//!
//! A sub-topology is a connected component of the graph; components only meet through topics
//! (for example a repartition topic), so each can run as independent tasks, one per input
//! partition. Sub-topologies are numbered the way Kafka numbers them: in the order their first
//! node was added to the topology.
//!
//! A *global* sub-topology (one per `StreamsBuilder::global_table`, Kafka's global store) reads
//! every partition of its topic into a global store and generates no tasks: each application
//! instance runs it once, on its global thread (or the test driver's global task), and every
//! task of the instance reads the store it fills.

pub(crate) mod builder;
mod describe;
pub(crate) mod graph;
mod java_order;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

pub use builder::TopologyBuilder;
pub use describe::{NodeDescription, NodeDetail, SubtopologyDescription, TopologyDescription};
pub use graph::RepartitionTopic;

use crate::dsl::AutoOffsetReset;
use crate::error::{Error, Result};
use crate::processor::node::{Erased, NodeId, SourceDriver};
use crate::processor::task::{Task, TaskSource, TaskStores};
use crate::processor::TaskId;
use graph::{BuildContext, NodeKind, TopicRef, TopologyGraph};

/// One sub-topology: its nodes and the topics through which it meets the world.
#[derive(Debug, Clone)]
struct Subtopology {
    nodes: Vec<NodeId>,
    source_topics: Vec<TopicRef>,
    sink_topics: Vec<TopicRef>,
    /// Whether it maintains a global store (and so generates no tasks).
    global: bool,
}

/// A logged store of a sub-topology and its changelog topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreChangelog {
    /// The store's name.
    pub store: String,
    /// The changelog topic, resolved.
    pub topic: String,
    /// For window and session stores, the store's retention (the changelog keeps at least
    /// that long); `None` for key-value stores.
    pub retention_ms: Option<i64>,
    /// Topic configs the store asks its changelog to be created with (Kafka's
    /// `withLoggingEnabled(Map)`); they override the runtime's own.
    pub configs: Vec<(String, String)>,
    /// For versioned stores, the history retention: compaction must leave a key's older
    /// versions in the changelog at least that long (Kafka sets `min.compaction.lag.ms` to it
    /// plus a day) for a restore to rebuild the history.
    pub history_retention_ms: Option<i64>,
}

/// A validated processing graph, shareable between threads; build it with
/// [`StreamsBuilder::build`](crate::dsl::StreamsBuilder::build).
#[derive(Clone)]
pub struct Topology {
    graph: TopologyGraph,
    subtopologies: Vec<Subtopology>,
}

impl std::fmt::Debug for Topology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.describe())
    }
}

impl Topology {
    /// Validates `graph` and splits it into sub-topologies.
    pub(crate) fn build(graph: TopologyGraph) -> Result<Self> {
        let mut problems = graph.errors.clone();
        let sources: Vec<NodeId> = graph
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| matches!(n.kind, NodeKind::Source { .. }))
            .map(|(i, _)| i)
            .collect();
        if sources.is_empty() {
            problems.push(
                "the topology has no source; read a topic with StreamsBuilder::stream".to_string(),
            );
        }
        let mut readers: HashMap<&TopicRef, &str> = HashMap::new();
        for node in &graph.nodes {
            match &node.kind {
                NodeKind::Source {
                    topics, pattern, ..
                } => {
                    if topics.is_empty() && pattern.is_none() {
                        problems.push(format!("source `{}` reads no topic", node.name));
                    }
                    for topic in topics {
                        if let Err(reason) = validate_topic_name(&topic.name) {
                            problems.push(format!("source `{}`: {reason}", node.name));
                        }
                        if let Some(other) = readers.insert(topic, &node.name) {
                            problems.push(format!(
                                "topic `{}` is read by both `{other}` and `{}`; a topic can have only one source",
                                topic.name, node.name
                            ));
                        }
                    }
                }
                NodeKind::Sink { topic } => {
                    if let Err(reason) = validate_topic_name(&topic.name) {
                        problems.push(format!("sink `{}`: {reason}", node.name));
                    }
                }
                NodeKind::Processor { .. } | NodeKind::ExtractorSink { .. } => {}
            }
        }
        for node in &graph.nodes {
            if let NodeKind::Processor { stores } = &node.kind {
                for store in stores {
                    if !graph.stores.iter().any(|s| s.name() == store) {
                        problems.push(format!(
                            "processor `{}` uses state store `{store}`, which was never added",
                            node.name
                        ));
                    }
                }
            }
        }
        let subtopologies = split_into_subtopologies(&graph);
        for sub in subtopologies.iter().filter(|s| s.global) {
            // A global sub-topology is a source and the processor that fills the store; a
            // processor elsewhere that connected the store would have been pulled into it.
            for &n in &sub.nodes {
                let node = &graph.nodes[n];
                let global_only = match &node.kind {
                    NodeKind::Processor { stores } => {
                        !stores.is_empty() && stores.iter().all(|s| graph.is_global_store(s))
                    }
                    NodeKind::Source { .. } => true,
                    NodeKind::Sink { .. } | NodeKind::ExtractorSink { .. } => false,
                };
                if !global_only {
                    problems.push(format!(
                        "node `{}` is connected to a global store's sub-topology; global stores are read by every processor without connecting them",
                        node.name
                    ));
                }
            }
        }
        if !problems.is_empty() {
            return Err(Error::InvalidTopology(problems.join("; ")));
        }
        Ok(Topology {
            graph,
            subtopologies,
        })
    }

    /// The structure of this topology, printed by `Display` exactly as Kafka Streams'
    /// `Topology::describe()` prints it.
    pub fn describe(&self) -> TopologyDescription {
        describe::describe(
            &self.graph,
            self.subtopologies
                .iter()
                .map(|s| (s.nodes.as_slice(), s.global)),
        )
    }

    /// The offset-reset policy the source reading `topic` was given
    /// (`Consumed::with_offset_reset_policy`), by name or by pattern; `None` means the
    /// application's `auto.offset.reset`.
    pub fn offset_reset_policy(&self, topic: &str) -> Option<AutoOffsetReset> {
        self.graph.nodes.iter().find_map(|node| match &node.kind {
            NodeKind::Source {
                topics,
                pattern,
                offset_reset,
            } if topics.iter().any(|t| !t.internal && t.name == topic)
                || pattern.as_ref().is_some_and(|p| p.matches(topic)) =>
            {
                *offset_reset
            }
            _ => None,
        })
    }

    /// Whether a source reads topics by pattern (`StreamsBuilder::stream_pattern`).
    pub fn has_source_patterns(&self) -> bool {
        self.graph.nodes.iter().any(|n| {
            matches!(
                &n.kind,
                NodeKind::Source {
                    pattern: Some(_),
                    ..
                }
            )
        })
    }

    /// This topology with each pattern source reading the topics of `existing` that match its
    /// pattern, sorted (a topic another source reads by name is left to that source), as Kafka
    /// resolves a pattern subscription against the cluster's topics. The runtime calls it at
    /// start with the topics that exist then.
    pub fn resolve_source_patterns<'a>(
        &self,
        existing: impl IntoIterator<Item = &'a str>,
    ) -> Result<Topology> {
        let existing: Vec<&str> = existing.into_iter().collect();
        let mut graph = self.graph.clone();
        let named: HashSet<String> = graph
            .nodes
            .iter()
            .filter_map(|n| match &n.kind {
                NodeKind::Source {
                    topics,
                    pattern: None,
                    ..
                } => Some(
                    topics
                        .iter()
                        .filter(|t| !t.internal)
                        .map(|t| t.name.clone()),
                ),
                _ => None,
            })
            .flatten()
            .collect();
        for node in &mut graph.nodes {
            if let NodeKind::Source {
                topics,
                pattern: Some(pattern),
                ..
            } = &mut node.kind
            {
                let mut matching: Vec<TopicRef> = existing
                    .iter()
                    .filter(|t| pattern.matches(t) && !named.contains(**t))
                    .map(|t| TopicRef::user(*t))
                    .collect();
                matching.sort();
                matching.dedup();
                *topics = matching;
            }
        }
        Topology::build(graph)
    }

    /// The number of sub-topologies, global ones included.
    pub fn subtopology_count(&self) -> usize {
        self.subtopologies.len()
    }

    /// Whether sub-topology `id` is global: it maintains a global store and generates no tasks.
    pub fn is_global(&self, subtopology: u32) -> bool {
        self.subtopology(subtopology).is_some_and(|s| s.global)
    }

    /// The topics the global sub-topologies read (Kafka's global topics): every partition of
    /// each is read into a global store by every instance.
    pub fn global_topics(&self) -> Vec<String> {
        let mut topics: Vec<String> = self
            .subtopologies
            .iter()
            .filter(|s| s.global)
            .flat_map(|s| s.source_topics.iter().map(|t| t.name.clone()))
            .collect();
        topics.sort();
        topics.dedup();
        topics
    }

    /// The names of the global stores, in the order they were added.
    pub fn global_store_names(&self) -> Vec<String> {
        self.graph
            .stores
            .iter()
            .filter(|s| s.global)
            .map(|s| s.name().to_string())
            .collect()
    }

    /// The topics sub-topology `id` reads, resolved for `application_id`.
    pub fn source_topics(&self, subtopology: u32, application_id: &str) -> Vec<String> {
        self.subtopology(subtopology)
            .map(|s| {
                s.source_topics
                    .iter()
                    .map(|t| t.resolve(application_id))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The topics sub-topology `id` writes, resolved for `application_id`.
    pub fn sink_topics(&self, subtopology: u32, application_id: &str) -> Vec<String> {
        self.subtopology(subtopology)
            .map(|s| {
                s.sink_topics
                    .iter()
                    .map(|t| t.resolve(application_id))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every topic the application reads that is not internal: the inputs users produce to.
    pub fn user_source_topics(&self) -> Vec<String> {
        let mut topics: Vec<String> = self
            .subtopologies
            .iter()
            .flat_map(|s| s.source_topics.iter())
            .filter(|t| !t.internal)
            .map(|t| t.name.clone())
            .collect();
        topics.sort();
        topics.dedup();
        topics
    }

    /// The changelog topics of the stores sub-topology `id` uses, resolved for `application_id`:
    /// the topics their tasks restore them from. A source table optimized with
    /// `reuse.ktable.source.topics` reports its source topic.
    pub fn changelog_topics(&self, subtopology: u32, application_id: &str) -> Vec<String> {
        let Some(sub) = self.subtopology(subtopology) else {
            return Vec::new();
        };
        let mut topics: Vec<String> = sub
            .nodes
            .iter()
            .filter_map(|&n| match &self.graph.nodes[n].kind {
                NodeKind::Processor { stores } => Some(stores),
                _ => None,
            })
            .flatten()
            .filter_map(|name| self.graph.stores.iter().find(|s| s.name() == name))
            .filter_map(|spec| {
                spec.restore_topic
                    .clone()
                    .or_else(|| spec.builder.changelog_topic(application_id))
            })
            .collect();
        topics.sort();
        topics.dedup();
        topics
    }

    /// The logged stores sub-topology `id` uses, each with its changelog topic (resolved for
    /// `application_id`) and, for window and session stores, the changelog retention.
    pub(crate) fn store_changelogs(
        &self,
        subtopology: u32,
        application_id: &str,
    ) -> Vec<StoreChangelog> {
        let Some(sub) = self.subtopology(subtopology) else {
            return Vec::new();
        };
        let mut changelogs: Vec<StoreChangelog> = Vec::new();
        for &n in &sub.nodes {
            let NodeKind::Processor { stores } = &self.graph.nodes[n].kind else {
                continue;
            };
            for name in stores {
                if changelogs.iter().any(|c| &c.store == name) {
                    continue;
                }
                let Some(spec) = self.graph.stores.iter().find(|s| s.name() == name) else {
                    continue;
                };
                if let Some(topic) = spec.builder.changelog_topic(application_id) {
                    changelogs.push(StoreChangelog {
                        store: name.clone(),
                        topic,
                        retention_ms: spec.builder.changelog_retention_ms(),
                        configs: spec.builder.changelog_configs().to_vec(),
                        history_retention_ms: spec.builder.history_retention_ms(),
                    });
                }
            }
        }
        changelogs.sort_by(|a, b| a.store.cmp(&b.store));
        changelogs
    }

    /// The names of every state store, in the order they were added.
    pub fn store_names(&self) -> Vec<String> {
        self.graph
            .stores
            .iter()
            .map(|s| s.name().to_string())
            .collect()
    }

    /// How many of the stores have a record cache: one task of every sub-topology holds this
    /// many caches, among which the application's `statestore.cache.max.bytes` is divided.
    pub(crate) fn cached_store_count(&self) -> usize {
        self.graph
            .stores
            .iter()
            .filter(|s| !s.global && s.builder.caching_enabled())
            .count()
    }

    /// The internal repartition topics (names without the application-id prefix).
    pub fn repartition_topics(&self) -> &[RepartitionTopic] {
        &self.graph.repartition_topics
    }

    fn subtopology(&self, id: u32) -> Option<&Subtopology> {
        self.subtopologies.get(id as usize)
    }

    /// Instantiates sub-topology `task_id.subtopology` for one partition: every processor is
    /// created fresh from its supplier, children before parents.
    pub(crate) fn create_task(
        &self,
        task_id: TaskId,
        application_id: &str,
        wall_clock_ms: i64,
        stores: &TaskStores,
    ) -> Result<Task> {
        let sub = self.subtopology(task_id.subtopology).ok_or_else(|| {
            Error::InvalidArgument(format!("no sub-topology {}", task_id.subtopology))
        })?;
        let mut order = Vec::with_capacity(sub.nodes.len());
        let mut seen = HashSet::new();
        for &node in &sub.nodes {
            post_order(&self.graph, node, &mut seen, &mut order);
        }
        let mut store_handles = HashMap::new();
        for &node in &sub.nodes {
            if let NodeKind::Processor { stores: names } = &self.graph.nodes[node].kind {
                for name in names {
                    if store_handles.contains_key(name) {
                        continue;
                    }
                    let spec = self
                        .graph
                        .stores
                        .iter()
                        .find(|s| s.name() == name)
                        .ok_or_else(|| {
                            Error::InvalidTopology(format!("state store `{name}` was never added"))
                        })?;
                    store_handles.insert(name.clone(), spec.builder.build(&stores.context)?);
                }
            }
        }
        let mut handles: HashMap<NodeId, Vec<Erased>> = HashMap::new();
        let mut sources: Vec<TaskSource> = Vec::new();
        for id in order {
            let node = &self.graph.nodes[id];
            let mut children = Vec::with_capacity(node.children.len());
            for child in &node.children {
                let handle = handles.get_mut(child).and_then(Vec::pop).ok_or_else(|| {
                    Error::InvalidTopology(format!(
                        "node `{}` has more parents than handles",
                        self.graph.nodes[*child].name
                    ))
                })?;
                children.push((Arc::from(self.graph.nodes[*child].name.as_str()), handle));
            }
            let topic = match &node.kind {
                NodeKind::Sink { topic } => Some(Arc::from(topic.resolve(application_id))),
                _ => None,
            };
            let built = (node.factory)(BuildContext {
                id,
                name: Arc::from(node.name.as_str()),
                topic,
                children,
                stores: match &node.kind {
                    NodeKind::Processor { stores } => Arc::from(stores.as_slice()),
                    _ => Arc::from(Vec::new()),
                },
            })?;
            match &node.kind {
                NodeKind::Source {
                    topics, pattern, ..
                } => {
                    let driver = built.downcast::<Box<dyn SourceDriver>>().map_err(|_| {
                        Error::InvalidTopology(format!(
                            "source `{}` did not build a source",
                            node.name
                        ))
                    })?;
                    let topics = topics
                        .iter()
                        .map(|t| Arc::from(t.resolve(application_id)))
                        .collect();
                    let pattern = pattern.as_ref().map(|p| p.regex.clone());
                    sources.push((topics, pattern, *driver));
                }
                _ => {
                    let built = match (node.parents.len(), node.share) {
                        (0 | 1, _) => vec![built],
                        (n, Some(share)) => share(built, n)?,
                        (_, None) => {
                            return Err(Error::InvalidTopology(format!(
                                "node `{}` cannot have several parents",
                                node.name
                            )))
                        }
                    };
                    handles.insert(id, built);
                }
            }
        }
        Ok(Task::new(
            Arc::from(application_id),
            task_id,
            sources,
            wall_clock_ms,
            store_handles,
            stores,
        ))
    }
}

fn post_order(
    graph: &TopologyGraph,
    node: NodeId,
    seen: &mut HashSet<NodeId>,
    out: &mut Vec<NodeId>,
) {
    if !seen.insert(node) {
        return;
    }
    for &child in &graph.nodes[node].children {
        post_order(graph, child, seen, out);
    }
    out.push(node);
}

/// Groups nodes into connected components and numbers them in the order of their first node.
fn split_into_subtopologies(graph: &TopologyGraph) -> Vec<Subtopology> {
    let mut root: Vec<NodeId> = (0..graph.nodes.len()).collect();
    fn find(root: &mut [NodeId], mut n: NodeId) -> NodeId {
        while root[n] != n {
            root[n] = root[root[n]];
            n = root[n];
        }
        n
    }
    let union = |root: &mut Vec<NodeId>, x: NodeId, y: NodeId| {
        let (a, b) = (find(root, x), find(root, y));
        root[a.max(b)] = a.min(b);
    };
    let mut store_users: HashMap<&str, NodeId> = HashMap::new();
    for (id, node) in graph.nodes.iter().enumerate() {
        for &parent in &node.parents {
            union(&mut root, id, parent);
        }
        // Nodes sharing a store run in the same task.
        if let NodeKind::Processor { stores } = &node.kind {
            for store in stores {
                if let Some(&other) = store_users.get(store.as_str()) {
                    union(&mut root, id, other);
                } else {
                    store_users.insert(store, id);
                }
            }
        }
    }
    // Components are numbered in the order their first node was added (Kafka's
    // `InternalTopologyBuilder#makeNodeGroups` since KAFKA-9020: topological order), counting
    // only those that read a topic.
    let mut has_source: HashSet<NodeId> = HashSet::new();
    for (id, node) in graph.nodes.iter().enumerate() {
        if matches!(node.kind, NodeKind::Source { .. }) {
            has_source.insert(find(&mut root, id));
        }
    }
    let mut group_of_root: BTreeMap<NodeId, usize> = BTreeMap::new();
    for id in 0..graph.nodes.len() {
        let r = find(&mut root, id);
        if has_source.contains(&r) {
            let next = group_of_root.len();
            group_of_root.entry(r).or_insert(next);
        }
    }
    let mut subtopologies: Vec<Subtopology> = (0..group_of_root.len())
        .map(|_| Subtopology {
            nodes: Vec::new(),
            source_topics: Vec::new(),
            sink_topics: Vec::new(),
            global: false,
        })
        .collect();
    for (id, node) in graph.nodes.iter().enumerate() {
        let r = find(&mut root, id);
        let Some(&group) = group_of_root.get(&r) else {
            continue;
        };
        let sub = &mut subtopologies[group];
        sub.nodes.push(id);
        match &node.kind {
            NodeKind::Source { topics, .. } => sub.source_topics.extend(topics.iter().cloned()),
            NodeKind::Sink { topic } => sub.sink_topics.push(topic.clone()),
            NodeKind::ExtractorSink { .. } => {}
            NodeKind::Processor { stores } => {
                sub.global |= stores.iter().any(|s| graph.is_global_store(s));
            }
        }
    }
    subtopologies
}

/// Kafka's topic-name rules: 1 to 249 characters of ASCII letters, digits, `.`, `_` and `-`,
/// and not `.` or `..`.
pub(crate) fn validate_topic_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("topic name is empty".to_string());
    }
    if name == "." || name == ".." {
        return Err(format!("topic name `{name}` is not allowed"));
    }
    if name.len() > 249 {
        return Err(format!("topic name `{name}` is longer than 249 characters"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "topic name `{name}` contains `{bad}`; only ASCII letters, digits, '.', '_' and '-' are allowed"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
