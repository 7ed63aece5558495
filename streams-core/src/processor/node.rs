//! Nodes are processors instantiated for one task and wired to their children, like Kafka's
//! `ProcessorNode`, `SourceNode` and `SinkNode`.
//!
//! Records travel between nodes as typed values through one virtual call per edge: a node owns
//! its children as `Box<dyn Node<K, V>>`, so there is no channel, future or per-record boxing.
//! A node with several parents (after `merge`) is shared behind a mutex that is never contended,
//! because a task runs on one thread at a time.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::routing::{RecordContext, StreamPartitioner, TopicNameExtractor};
use super::task::{TaskContext, UNKNOWN_STREAM_TIME};
use super::timestamp::TimestampExtractor;
use super::{Data, Processor, ProcessorContext, PunctuationId};
use crate::error::{Error, Result};
use crate::record::{ConsumedRecord, Record};
use crate::serde::{deserialize_key_value, serialize_key_value, Serde};

/// Index of a node in its topology.
pub(crate) type NodeId = usize;

/// A type-erased node handle while a task is being assembled: `Box<dyn Node<K, V>>` for
/// processors and sinks, `Box<dyn SourceDriver>` for sources.
pub(crate) type Erased = Box<dyn Any + Send>;

/// Operations that walk the node tree rather than follow one record.
#[derive(Debug, Clone, Copy)]
pub(crate) enum NodeOp {
    /// Run `Processor::init` once per node.
    Init,
    /// Run `Processor::close` once per node.
    Close,
    /// Run `Processor::flush` on every node, parents before children: the commit's first step,
    /// in which processors forward what their record caches flush, so that a downstream cache
    /// receives those updates before it flushes in turn.
    Flush,
    /// Call `Processor::punctuate` on one node.
    Punctuate {
        node: NodeId,
        id: PunctuationId,
        timestamp: i64,
    },
}

/// A node that accepts records of type `Record<K, V>`.
pub(crate) trait Node<K, V>: Send {
    /// Processes one record depth-first.
    fn process(&mut self, record: Record<K, V>, task: &mut TaskContext) -> Result<()>;

    /// Applies `op` to this node and its descendants; returns `true` once a punctuation has
    /// found its target, so the walk can stop.
    fn visit(&mut self, op: NodeOp, task: &mut TaskContext) -> Result<bool>;

    /// Whether a commit's [`NodeOp::Flush`] has anything to do in this node or below it; known
    /// once [`NodeOp::Init`] has run. A commit follows every record in the test driver, so the
    /// walk skips the (usual) subtrees of stateless operators and sinks.
    fn flushes(&self) -> bool;
}

/// The children of a node, with their names for `forward_to`.
pub(crate) struct Children<K, V> {
    nodes: Vec<Box<dyn Node<K, V>>>,
    names: Vec<Arc<str>>,
}

impl<K: Data, V: Data> Children<K, V> {
    /// Downcasts the erased children a factory received. A mismatch means the graph was wired
    /// against its own types, which the typed DSL rules out; it is still reported, not panicked.
    pub(crate) fn from_erased(parent: &str, erased: Vec<(Arc<str>, Erased)>) -> Result<Self> {
        let mut nodes = Vec::with_capacity(erased.len());
        let mut names = Vec::with_capacity(erased.len());
        for (name, child) in erased {
            let node = child.downcast::<Box<dyn Node<K, V>>>().map_err(|_| {
                Error::InvalidTopology(format!(
                    "node `{name}` does not accept the record type that `{parent}` produces"
                ))
            })?;
            nodes.push(*node);
            names.push(name);
        }
        Ok(Children { nodes, names })
    }

    pub(crate) fn forward(&mut self, record: Record<K, V>, task: &mut TaskContext) -> Result<()> {
        match self.nodes.split_last_mut() {
            None => Ok(()),
            Some((last, rest)) => {
                for child in rest {
                    child.process(record.clone(), task)?;
                }
                last.process(record, task)
            }
        }
    }

    pub(crate) fn forward_to_index(
        &mut self,
        index: usize,
        record: Record<K, V>,
        task: &mut TaskContext,
    ) -> Result<()> {
        match self.nodes.get_mut(index) {
            Some(child) => child.process(record, task),
            None => Err(Error::UnknownChild {
                node: String::from("?"),
                child: format!("#{index}"),
            }),
        }
    }

    pub(crate) fn index_of(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| &**n == name)
    }

    pub(crate) fn names(&self) -> Vec<&str> {
        self.names.iter().map(|n| &**n).collect()
    }

    fn visit(&mut self, op: NodeOp, task: &mut TaskContext) -> Result<bool> {
        for child in &mut self.nodes {
            if child.visit(op, task)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn flushes(&self) -> bool {
        self.nodes.iter().any(|child| child.flushes())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lifecycle {
    Created,
    Running,
    Closed,
}

/// A node running a [`Processor`].
pub(crate) struct ProcessorNode<P, KOut, VOut> {
    id: NodeId,
    name: Arc<str>,
    stores: Arc<[String]>,
    processor: P,
    children: Children<KOut, VOut>,
    state: Lifecycle,
    /// Which processors a commit flushes: every user processor (its `flush` may do anything),
    /// the DSL's own only when they own a record cache (their `flush` has nothing else to do).
    flushing: Flushing,
    /// Whether the processor's `flush` runs at a commit; settled at init.
    flushes: bool,
    /// Whether any descendant's does; settled at init.
    flushes_below: bool,
}

/// Which of its processors' `flush` a commit calls; see [`ProcessorNode::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flushing {
    /// A user's processor: flushed at every commit.
    Always,
    /// A DSL operator: flushed only if it took over a record cache's flush at init
    /// (`ProcessorContext::flushes_cache`).
    IfItOwnsACache,
}

impl<P, KOut: Data, VOut: Data> ProcessorNode<P, KOut, VOut> {
    pub(crate) fn new(
        id: NodeId,
        name: Arc<str>,
        stores: Arc<[String]>,
        processor: P,
        children: Children<KOut, VOut>,
        flushing: Flushing,
    ) -> Self {
        ProcessorNode {
            id,
            name,
            stores,
            processor,
            children,
            state: Lifecycle::Created,
            flushing,
            flushes: false,
            flushes_below: false,
        }
    }

    /// Runs `call` on the processor with this node's context, naming the node in its error.
    #[inline]
    fn call<T>(
        &mut self,
        task: &mut TaskContext,
        call: impl FnOnce(&mut P, &mut ProcessorContext<'_, KOut, VOut>) -> Result<T>,
    ) -> Result<T> {
        let mut ctx =
            ProcessorContext::new(self.id, &self.name, &self.stores, &mut self.children, task);
        call(&mut self.processor, &mut ctx).map_err(|e| e.in_node(&self.name))
    }
}

impl<P, KIn, VIn, KOut, VOut> Node<KIn, VIn> for ProcessorNode<P, KOut, VOut>
where
    P: Processor<KIn, VIn, KOut, VOut>,
    KOut: Data,
    VOut: Data,
{
    #[inline]
    fn process(&mut self, record: Record<KIn, VIn>, task: &mut TaskContext) -> Result<()> {
        self.call(task, |processor, ctx| processor.process(record, ctx))
    }

    fn visit(&mut self, op: NodeOp, task: &mut TaskContext) -> Result<bool> {
        match op {
            NodeOp::Init => {
                if self.state == Lifecycle::Created {
                    self.state = Lifecycle::Running;
                    let caches_before = task.caches_flushed_by_processors.len();
                    self.call(task, |processor, ctx| processor.init(ctx))?;
                    self.flushes = self.flushing == Flushing::Always
                        || task.caches_flushed_by_processors.len() > caches_before;
                }
                let found = self.children.visit(op, task)?;
                self.flushes_below = self.children.flushes();
                Ok(found)
            }
            NodeOp::Close => {
                if self.state != Lifecycle::Closed {
                    self.state = Lifecycle::Closed;
                    self.processor.close().map_err(|e| e.in_node(&self.name))?;
                }
                self.children.visit(op, task)
            }
            NodeOp::Flush => {
                if self.flushes {
                    self.call(task, |processor, ctx| processor.flush(ctx))?;
                }
                if self.flushes_below {
                    self.children.visit(op, task)
                } else {
                    Ok(false)
                }
            }
            NodeOp::Punctuate {
                node,
                id,
                timestamp,
            } if node == self.id => {
                self.call(task, |processor, ctx| {
                    processor.punctuate(id, timestamp, ctx)
                })?;
                Ok(true)
            }
            NodeOp::Punctuate { .. } => self.children.visit(op, task),
        }
    }

    fn flushes(&self) -> bool {
        self.flushes || self.flushes_below
    }
}

/// A node writing records to a topic through the task's record collector, like Kafka's
/// `SinkNode`: to a fixed topic or one a [`TopicNameExtractor`] picks per record, and to the
/// partitions a [`StreamPartitioner`] picks, if it has one.
pub(crate) struct SinkNode<K, V> {
    name: Arc<str>,
    destination: SinkTopic<K, V>,
    key_serde: Arc<dyn Serde<K>>,
    value_serde: Arc<dyn Serde<V>>,
    partitioner: Option<Arc<dyn StreamPartitioner<K, V>>>,
}

/// Where a sink writes.
enum SinkTopic<K, V> {
    /// One topic; its index in the task's output topics once known.
    Fixed { topic: Arc<str>, index: Option<u32> },
    /// The topic the extractor names for each record, with the indexes of those seen so far.
    Extracted {
        extractor: Arc<dyn TopicNameExtractor<K, V>>,
        seen: HashMap<String, (Arc<str>, u32)>,
    },
}

impl<K: 'static, V: 'static> SinkNode<K, V> {
    pub(crate) fn new(
        name: Arc<str>,
        topic: Arc<str>,
        key_serde: Arc<dyn Serde<K>>,
        value_serde: Arc<dyn Serde<V>>,
    ) -> Self {
        SinkNode {
            name,
            destination: SinkTopic::Fixed { topic, index: None },
            key_serde,
            value_serde,
            partitioner: None,
        }
    }

    /// A sink writing each record to the topic `extractor` names (Kafka's `to(TopicNameExtractor)`).
    pub(crate) fn extracted(
        name: Arc<str>,
        extractor: Arc<dyn TopicNameExtractor<K, V>>,
        key_serde: Arc<dyn Serde<K>>,
        value_serde: Arc<dyn Serde<V>>,
    ) -> Self {
        SinkNode {
            name,
            destination: SinkTopic::Extracted {
                extractor,
                seen: HashMap::new(),
            },
            key_serde,
            value_serde,
            partitioner: None,
        }
    }

    /// The same sink, choosing partitions with `partitioner`.
    pub(crate) fn with_partitioner(
        mut self,
        partitioner: Option<Arc<dyn StreamPartitioner<K, V>>>,
    ) -> Self {
        self.partitioner = partitioner;
        self
    }

    /// The record's topic and its index in the task's output topics.
    fn topic_of(&mut self, record: &Record<K, V>, task: &mut TaskContext) -> (Arc<str>, u32) {
        match &mut self.destination {
            SinkTopic::Fixed { topic, index } => {
                let index = match index {
                    Some(index) => *index,
                    None => *index.insert(task.output_topic(topic)),
                };
                (Arc::clone(topic), index)
            }
            SinkTopic::Extracted { extractor, seen } => {
                let context = RecordContext {
                    topic: task.in_record.then_some(&*task.metadata.topic),
                    partition: if task.in_record {
                        task.metadata.partition
                    } else {
                        -1
                    },
                    offset: if task.in_record {
                        task.metadata.offset
                    } else {
                        -1
                    },
                    timestamp: record.timestamp,
                    headers: &record.headers,
                };
                let name = extractor.extract(&record.key, &record.value, &context);
                if let Some((topic, index)) = seen.get(&name) {
                    return (Arc::clone(topic), *index);
                }
                let topic: Arc<str> = Arc::from(name.as_str());
                let index = task.output_topic(&topic);
                seen.insert(name, (Arc::clone(&topic), index));
                (topic, index)
            }
        }
    }

    /// The partitions the partitioner picks for `record` in `topic`: `None` for the producer's
    /// choice, an empty list to drop the record.
    fn partitions_of(
        &self,
        topic: &str,
        record: &Record<K, V>,
        task: &TaskContext,
    ) -> Result<Option<Vec<i32>>> {
        let Some(partitioner) = &self.partitioner else {
            return Ok(None);
        };
        let count = task.partition_count(topic).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "sink `{}` could not get partition information for topic `{topic}`; this can happen if the topic does not exist",
                self.name
            ))
        })?;
        let Some(mut partitions) = partitioner.partitions(topic, &record.key, &record.value, count)
        else {
            return Ok(None);
        };
        if let Some(bad) = partitions.iter().find(|&&p| p < 0 || p >= count) {
            return Err(Error::InvalidArgument(format!(
                "the stream partitioner of sink `{}` chose partition {bad} of topic `{topic}`, which has {count} partitions",
                self.name
            )));
        }
        // Kafka's partitioner returns a set: each partition gets one copy.
        partitions.sort_unstable();
        partitions.dedup();
        Ok(Some(partitions))
    }
}

impl<K: 'static, V: 'static> Node<K, V> for SinkNode<K, V> {
    fn process(&mut self, record: Record<K, V>, task: &mut TaskContext) -> Result<()> {
        let (topic, index) = self.topic_of(&record, task);
        let partitions = self.partitions_of(&topic, &record, task)?;
        if partitions.as_ref().is_some_and(Vec::is_empty) {
            tracing::warn!(sink = %self.name, %topic, "skipping record as partitioner returned empty partitions");
            return Ok(());
        }
        let (key, value) = serialize_key_value(
            &*self.key_serde,
            &*self.value_serde,
            &topic,
            record.key,
            record.value,
        )
        .map_err(|(part, source)| Error::Serialization {
            topic: topic.to_string(),
            node: self.name.to_string(),
            part,
            source,
        })?;
        match partitions {
            None => task.collect(index, None, key, value, record.timestamp, record.headers),
            Some(partitions) => {
                // Multicast: a copy of the record to each chosen partition.
                for &partition in &partitions {
                    task.collect(
                        index,
                        Some(partition),
                        key.clone(),
                        value.clone(),
                        record.timestamp,
                        record.headers.clone(),
                    );
                }
            }
        }
        Ok(())
    }

    fn visit(&mut self, _op: NodeOp, _task: &mut TaskContext) -> Result<bool> {
        Ok(false)
    }

    fn flushes(&self) -> bool {
        false
    }
}

/// A node reached from several parents: each parent holds a handle to the same node.
pub(crate) struct SharedNode<K, V>(Arc<Mutex<Box<dyn Node<K, V>>>>);

impl<K: 'static, V: 'static> Node<K, V> for SharedNode<K, V> {
    fn process(&mut self, record: Record<K, V>, task: &mut TaskContext) -> Result<()> {
        let mut node = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        node.process(record, task)
    }

    fn visit(&mut self, op: NodeOp, task: &mut TaskContext) -> Result<bool> {
        let mut node = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        node.visit(op, task)
    }

    fn flushes(&self) -> bool {
        let node = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        node.flushes()
    }
}

/// Turns one erased `Box<dyn Node<K, V>>` into `count` handles that share it.
pub(crate) fn share_node<K: 'static, V: 'static>(
    node: Erased,
    count: usize,
) -> Result<Vec<Erased>> {
    let node = node
        .downcast::<Box<dyn Node<K, V>>>()
        .map_err(|_| Error::InvalidTopology("shared node has an unexpected record type".into()))?;
    let shared = Arc::new(Mutex::new(*node));
    Ok((0..count)
        .map(|_| {
            Box::new(Box::new(SharedNode(Arc::clone(&shared))) as Box<dyn Node<K, V>>) as Erased
        })
        .collect())
}

/// Erases a typed node for assembly.
pub(crate) fn erase<K: 'static, V: 'static>(node: impl Node<K, V> + 'static) -> Erased {
    Box::new(Box::new(node) as Box<dyn Node<K, V>>)
}

/// The entry point of a task for serialized records: a source node.
pub(crate) trait SourceDriver: Send {
    /// Deserializes `record` and processes it through the node tree.
    fn process_raw(
        &mut self,
        topic: &str,
        record: ConsumedRecord,
        task: &mut TaskContext,
    ) -> Result<()>;

    /// Applies a tree-walking operation.
    fn visit(&mut self, op: NodeOp, task: &mut TaskContext) -> Result<bool>;

    /// Whether a commit's flush has anything to do below this source (see [`Node::flushes`]).
    fn flushes(&self) -> bool;

    /// Whether the source has its own timestamp extractor, and so validates timestamps and
    /// advances stream time itself.
    fn extracts_timestamps(&self) -> bool {
        false
    }
}

/// A node reading records from topics, like Kafka's `SourceNode`.
pub(crate) struct SourceNode<K, V> {
    key_serde: Arc<dyn Serde<K>>,
    value_serde: Arc<dyn Serde<V>>,
    children: Children<K, V>,
    extractor: Option<Arc<dyn TimestampExtractor<K, V>>>,
    /// Per topic read (a task reads one partition of each): the partition time, the largest
    /// timestamp extracted so far.
    partition_times: Vec<(Arc<str>, i64)>,
}

impl<K: Data, V: Data> SourceNode<K, V> {
    pub(crate) fn new(
        key_serde: Arc<dyn Serde<K>>,
        value_serde: Arc<dyn Serde<V>>,
        children: Children<K, V>,
    ) -> Self {
        SourceNode {
            key_serde,
            value_serde,
            children,
            extractor: None,
            partition_times: Vec::new(),
        }
    }

    /// The same source, timestamping records with `extractor`.
    pub(crate) fn with_timestamp_extractor(
        mut self,
        extractor: Option<Arc<dyn TimestampExtractor<K, V>>>,
    ) -> Self {
        self.extractor = extractor;
        self
    }

    /// Applies the extractor to `record`: its new timestamp, or `None` to skip it. Advances the
    /// partition time and the task's stream time.
    fn extract_timestamp(
        &mut self,
        extractor: &dyn TimestampExtractor<K, V>,
        topic: &str,
        record: &Record<K, V>,
        raw: (i32, i64),
        task: &mut TaskContext,
    ) -> Option<i64> {
        let at = match self.partition_times.iter().position(|(t, _)| &**t == topic) {
            Some(at) => at,
            None => {
                self.partition_times
                    .push((Arc::from(topic), UNKNOWN_STREAM_TIME));
                self.partition_times.len() - 1
            }
        };
        let partition_time = self.partition_times[at].1;
        let timestamp = extractor.extract(record, partition_time);
        if timestamp < 0 {
            // Kafka's RecordQueue drops such records rather than failing the task.
            tracing::warn!(
                topic,
                partition = raw.0,
                offset = raw.1,
                timestamp,
                "skipping record due to negative extracted timestamp"
            );
            return None;
        }
        self.partition_times[at].1 = partition_time.max(timestamp);
        task.stream_time = task.stream_time.max(timestamp);
        task.record_context.set_timestamp(timestamp);
        Some(timestamp)
    }
}

impl<K: Data, V: Data> SourceDriver for SourceNode<K, V> {
    fn process_raw(
        &mut self,
        topic: &str,
        raw: ConsumedRecord,
        task: &mut TaskContext,
    ) -> Result<()> {
        let (key, value) = deserialize_key_value(
            &*self.key_serde,
            &*self.value_serde,
            topic,
            raw.key,
            raw.value,
        )
        .map_err(|(part, source)| Error::Deserialization {
            topic: topic.to_string(),
            partition: raw.partition,
            offset: raw.offset,
            part,
            source,
        })?;
        let mut record = Record {
            key,
            value,
            timestamp: raw.timestamp,
            headers: raw.headers,
        };
        if let Some(extractor) = self.extractor.clone() {
            let position = (raw.partition, raw.offset);
            match self.extract_timestamp(&*extractor, topic, &record, position, task) {
                Some(timestamp) => record.timestamp = timestamp,
                None => return Ok(()),
            }
        }
        self.children.forward(record, task)
    }

    fn extracts_timestamps(&self) -> bool {
        self.extractor.is_some()
    }

    fn visit(&mut self, op: NodeOp, task: &mut TaskContext) -> Result<bool> {
        self.children.visit(op, task)
    }

    fn flushes(&self) -> bool {
        self.children.flushes()
    }
}

/// Erases a source for assembly.
pub(crate) fn erase_source(source: impl SourceDriver + 'static) -> Erased {
    Box::new(Box::new(source) as Box<dyn SourceDriver>)
}
