//! `Topology::describe()`: the structure of a topology as data, displayed in exactly the text
//! layout of Kafka Streams' `TopologyDescription`, so that tools and habits built around that
//! output keep working.

use std::collections::HashMap;
use std::fmt;

use super::graph::{NodeKind, TopologyGraph};
use super::java_order;
use crate::processor::node::NodeId;

/// The description of a whole topology.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopologyDescription {
    /// Sub-topologies by id.
    pub subtopologies: Vec<SubtopologyDescription>,
}

/// One sub-topology, with its nodes in Kafka's display order (largest downstream tree first,
/// then by name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubtopologyDescription {
    /// The sub-topology's id.
    pub id: u32,
    /// Whether it maintains a global store and generates no tasks (Kafka's
    /// `TopologyDescription.GlobalStore`, printed as `for global store`).
    pub global: bool,
    /// Its nodes.
    pub nodes: Vec<NodeDescription>,
}

/// One node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeDescription {
    /// The node's name.
    pub name: String,
    /// What kind of node it is.
    pub detail: NodeDetail,
    /// The names of the nodes it receives from.
    pub predecessors: Vec<String>,
    /// The names of the nodes it forwards to.
    pub successors: Vec<String>,
}

/// The kind of a node and what it touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeDetail {
    /// Reads topics (internal ones without the application-id prefix).
    Source {
        /// The topics read.
        topics: Vec<String>,
    },
    /// Reads the topics matching a pattern (Kafka's `Source#topicPattern`).
    PatternSource {
        /// The pattern, as written.
        pattern: String,
    },
    /// Runs a processor.
    Processor {
        /// The state stores it uses.
        stores: Vec<String>,
    },
    /// Writes a topic.
    Sink {
        /// The topic written.
        topic: String,
    },
    /// Writes to topics a `TopicNameExtractor` picks per record.
    ExtractorSink {
        /// The extractor's type name (Kafka prints the extractor object).
        extractor: String,
    },
}

pub(super) fn describe<'a>(
    graph: &TopologyGraph,
    subtopologies: impl Iterator<Item = (&'a [NodeId], bool)>,
) -> TopologyDescription {
    let mut sizes = HashMap::new();
    for id in 0..graph.nodes.len() {
        size(graph, id, &mut sizes);
    }
    let order = |a: &NodeId, b: &NodeId| {
        sizes[b]
            .cmp(&sizes[a])
            .then_with(|| graph.nodes[*a].name.cmp(&graph.nodes[*b].name))
    };
    let name_list = |ids: Vec<NodeId>| {
        ids.into_iter()
            .map(|id| graph.nodes[id].name.clone())
            .collect::<Vec<_>>()
    };
    let subtopologies = subtopologies
        .enumerate()
        .map(|(id, (nodes, global))| {
            let mut edges = kafka_edges(graph, nodes);
            let mut nodes = nodes.to_vec();
            nodes.sort_by(order);
            SubtopologyDescription {
                id: id as u32,
                global,
                nodes: nodes
                    .into_iter()
                    .map(|n| {
                        let node = &graph.nodes[n];
                        let detail = match &node.kind {
                            NodeKind::Source {
                                pattern: Some(pattern),
                                ..
                            } => NodeDetail::PatternSource {
                                pattern: pattern.source.clone(),
                            },
                            NodeKind::Source { topics, .. } => NodeDetail::Source {
                                topics: topics.iter().map(|t| t.name.clone()).collect(),
                            },
                            NodeKind::Processor { stores } => NodeDetail::Processor {
                                stores: java_order::hash_order(stores)
                                    .into_iter()
                                    .map(|i| stores[i].clone())
                                    .collect(),
                            },
                            NodeKind::Sink { topic } => NodeDetail::Sink {
                                topic: topic.name.clone(),
                            },
                            NodeKind::ExtractorSink { extractor } => NodeDetail::ExtractorSink {
                                extractor: extractor.clone(),
                            },
                        };
                        let (predecessors, successors) = edges.remove(&n).unwrap_or_default();
                        NodeDescription {
                            name: node.name.clone(),
                            detail,
                            predecessors: name_list(predecessors.keys()),
                            successors: name_list(successors.keys()),
                        }
                    })
                    .collect(),
            }
        })
        .collect();
    TopologyDescription { subtopologies }
}

/// The predecessors and successors of each node of a sub-topology, in the order Kafka's
/// `describeSubtopology` gives them: nodes are visited in the order of a `HashMap` by name;
/// each edge is inserted into both nodes' `TreeSet`s, ordered by the sub-tree sizes *as they
/// are at that moment*, and then the predecessor's size (and its known ancestors') grows by
/// the node's.
fn kafka_edges(
    graph: &TopologyGraph,
    nodes: &[NodeId],
) -> HashMap<NodeId, (java_order::TreeSet, java_order::TreeSet)> {
    let mut ids = nodes.to_vec();
    // Kafka adds a sub-topology's nodes to its `HashMap` in the order they were added.
    ids.sort_unstable();
    let names: Vec<&str> = ids
        .iter()
        .map(|&id| graph.nodes[id].name.as_str())
        .collect();
    let visit: Vec<NodeId> = java_order::hash_order(&names)
        .into_iter()
        .map(|i| ids[i])
        .collect();
    let mut sizes: HashMap<NodeId, usize> = ids.iter().map(|&id| (id, 1)).collect();
    let mut edges: HashMap<NodeId, (java_order::TreeSet, java_order::TreeSet)> =
        ids.iter().map(|&id| (id, Default::default())).collect();
    for node in visit {
        for &parent in &graph.nodes[node].parents {
            if !sizes.contains_key(&parent) {
                continue;
            }
            let cmp = |a: NodeId, b: NodeId| {
                sizes[&b]
                    .cmp(&sizes[&a])
                    .then_with(|| graph.nodes[a].name.cmp(&graph.nodes[b].name))
            };
            if let Some((predecessors, _)) = edges.get_mut(&node) {
                predecessors.insert(parent, cmp);
            }
            if let Some((_, successors)) = edges.get_mut(&parent) {
                successors.insert(node, cmp);
            }
            let delta = sizes[&node];
            grow(parent, delta, &edges, &mut sizes);
        }
    }
    edges
}

/// Kafka's `updateSize`: adds `delta` to `node` and to every predecessor known so far.
fn grow(
    node: NodeId,
    delta: usize,
    edges: &HashMap<NodeId, (java_order::TreeSet, java_order::TreeSet)>,
    sizes: &mut HashMap<NodeId, usize>,
) {
    if let Some(size) = sizes.get_mut(&node) {
        *size += delta;
    }
    if let Some((predecessors, _)) = edges.get(&node) {
        for parent in predecessors.keys() {
            grow(parent, delta, edges, sizes);
        }
    }
}

/// The size of the tree rooted at `id`, counted as Kafka counts it (a node reached along two
/// paths counts twice), which orders nodes upstream-first.
fn size(graph: &TopologyGraph, id: NodeId, memo: &mut HashMap<NodeId, usize>) -> usize {
    if let Some(&s) = memo.get(&id) {
        return s;
    }
    let s = 1 + graph.nodes[id]
        .children
        .iter()
        .map(|&c| size(graph, c, memo))
        .sum::<usize>();
    memo.insert(id, s);
    s
}

fn join_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

impl fmt::Display for NodeDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.detail {
            NodeDetail::Source { topics } => write!(
                f,
                "Source: {} (topics: [{}])\n      --> {}",
                self.name,
                topics.join(", "),
                join_or_none(&self.successors)
            ),
            // Kafka prints a pattern as it is, without brackets.
            NodeDetail::PatternSource { pattern } => write!(
                f,
                "Source: {} (topics: {pattern})\n      --> {}",
                self.name,
                join_or_none(&self.successors)
            ),
            NodeDetail::ExtractorSink { extractor } => write!(
                f,
                "Sink: {} (extractor class: {extractor})\n      <-- {}",
                self.name,
                join_or_none(&self.predecessors)
            ),
            NodeDetail::Processor { stores } => write!(
                f,
                "Processor: {} (stores: [{}])\n      --> {}\n      <-- {}",
                self.name,
                stores.join(", "),
                join_or_none(&self.successors),
                join_or_none(&self.predecessors)
            ),
            NodeDetail::Sink { topic } => {
                write!(
                    f,
                    "Sink: {} (topic: {})\n      <-- {}",
                    self.name,
                    topic,
                    join_or_none(&self.predecessors)
                )
            }
        }
    }
}

impl fmt::Display for SubtopologyDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.global {
            // Kafka prints a global store without the blank line that ends a sub-topology.
            writeln!(
                f,
                "Sub-topology: {} for global store (will not generate tasks)",
                self.id
            )?;
            for node in &self.nodes {
                writeln!(f, "    {node}")?;
            }
            return Ok(());
        }
        writeln!(f, "Sub-topology: {}", self.id)?;
        for node in &self.nodes {
            writeln!(f, "    {node}")?;
        }
        writeln!(f)
    }
}

impl fmt::Display for TopologyDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Topologies:\n ")?;
        for sub in &self.subtopologies {
            write!(f, "  {sub}")?;
        }
        Ok(())
    }
}
