//! The low-level topology builder: sources, processors and sinks wired by name, and state stores
//! connected to processors — like Kafka Streams' Processor API `Topology#addSource`,
//! `addProcessor`, `addSink`, `addStateStore` and `connectProcessorAndStateStores`.
//!
//! It builds the same graph the DSL does (the DSL's operators are processors too), so
//! [`Topology::describe`] prints it in Kafka's format. Names cannot carry types, so each node
//! remembers the `TypeId`s of the records it emits, and a child whose input types differ from a
//! parent's output is an [`Error::InvalidTopology`] from [`TopologyBuilder::build`], as are
//! duplicate names and unknown parents or stores (Kafka's `TopologyException`). A parent must be
//! added before its children, so a low-level topology cannot have a cycle.

use std::any::{type_name, TypeId};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use super::graph::{NodeKind, TopicRef, TopologyGraph};
use super::Topology;
use crate::dsl::kstream::{add_source_node, processor_factory, KStream};
use crate::error::{Error, Result};
use crate::processor::node::{Flushing, NodeId};
use crate::processor::{Data, Processor};
use crate::serde::Serde;
use crate::state::StoreBuilder;

/// The record types a node emits (or a sink takes), to check parents against children.
#[derive(Clone, Copy)]
struct RecordTypes {
    key: TypeId,
    value: TypeId,
    key_name: &'static str,
    value_name: &'static str,
}

impl RecordTypes {
    fn of<K: 'static, V: 'static>() -> Self {
        RecordTypes {
            key: TypeId::of::<K>(),
            value: TypeId::of::<V>(),
            key_name: type_name::<K>(),
            value_name: type_name::<V>(),
        }
    }

    fn matches(&self, other: &RecordTypes) -> bool {
        self.key == other.key && self.value == other.value
    }
}

/// One node added so far: where it is in the graph, what it emits, whether it is a sink.
struct Added {
    id: NodeId,
    output: RecordTypes,
    sink: bool,
}

/// Builds a topology node by node, like Kafka Streams' Processor API `Topology`.
///
/// ```
/// use streams_core::prelude::*;
/// use streams_core::topology::TopologyBuilder;
///
/// struct Upper;
/// impl Processor<String, String, String, String> for Upper {
///     fn process(
///         &mut self,
///         record: Record<String, String>,
///         ctx: &mut ProcessorContext<'_, String, String>,
///     ) -> streams_core::Result<()> {
///         let value = record.value.to_uppercase();
///         ctx.forward(record.with_value(value))
///     }
/// }
///
/// let mut builder = TopologyBuilder::new();
/// builder
///     .add_source::<String, String>("source", &["in"], Serdes::string(), Serdes::string())
///     .add_processor("upper", || Upper, &["source"])
///     .add_sink::<String, String>("sink", "out", Serdes::string(), Serdes::string(), &["upper"]);
/// let topology = builder.build().unwrap();
/// assert!(topology.describe().to_string().contains("Processor: upper (stores: [])"));
/// ```
#[derive(Default)]
pub struct TopologyBuilder {
    graph: Rc<RefCell<TopologyGraph>>,
    nodes: HashMap<String, Added>,
    errors: Vec<String>,
}

impl TopologyBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds source `name` reading `topics` with the given serdes (Kafka's `addSource`).
    pub fn add_source<K: Data, V: Data>(
        &mut self,
        name: &str,
        topics: &[&str],
        key_serde: impl Serde<K> + 'static,
        value_serde: impl Serde<V> + 'static,
    ) -> &mut Self {
        if !self.check_new(name) {
            return self;
        }
        if topics.is_empty() {
            self.errors
                .push(format!("source `{name}` must have at least one topic"));
        }
        let kind = NodeKind::Source {
            topics: topics.iter().map(|t| TopicRef::user(*t)).collect(),
            pattern: None,
            offset_reset: None,
        };
        let stream: KStream<K, V> = add_source_node(
            &self.graph,
            name.to_string(),
            kind,
            Arc::new(key_serde),
            Arc::new(value_serde),
            None,
        );
        self.record(name, stream.node, RecordTypes::of::<K, V>(), false);
        self
    }

    /// Adds processor `name`, made by `supplier` for each task, fed by the nodes `parents`
    /// (Kafka's `addProcessor`). Each parent must emit `Record<K, V>`.
    pub fn add_processor<K, V, K2, V2, P, S>(
        &mut self,
        name: &str,
        supplier: S,
        parents: &[&str],
    ) -> &mut Self
    where
        K: Data,
        V: Data,
        K2: Data,
        V2: Data,
        P: Processor<K, V, K2, V2>,
        S: Fn() -> P + Send + Sync + 'static,
    {
        if !self.check_new(name) {
            return self;
        }
        let Some(parent_ids) = self.check_parents(name, parents, RecordTypes::of::<K, V>()) else {
            return self;
        };
        let factory = processor_factory::<K, V, K2, V2, P, S>(supplier, Flushing::Always);
        let id = self.graph.borrow_mut().add_node(
            name.to_string(),
            NodeKind::Processor { stores: Vec::new() },
            parent_ids,
            factory,
            Some(crate::processor::node::share_node::<K, V>),
        );
        self.record(name, id, RecordTypes::of::<K2, V2>(), false);
        self
    }

    /// Adds sink `name` writing what `parents` emit to `topic` (Kafka's `addSink`).
    pub fn add_sink<K: Data, V: Data>(
        &mut self,
        name: &str,
        topic: &str,
        key_serde: impl Serde<K> + 'static,
        value_serde: impl Serde<V> + 'static,
        parents: &[&str],
    ) -> &mut Self {
        if !self.check_new(name) {
            return self;
        }
        let Some(parent_ids) = self.check_parents(name, parents, RecordTypes::of::<K, V>()) else {
            return self;
        };
        let (first, rest) = parent_ids.split_first().expect("checked non-empty");
        // A handle on the first parent adds the sink; the other parents feed it too.
        let parent: KStream<K, V> = KStream::from_node(Rc::clone(&self.graph), *first);
        let id = parent.add_sink(
            name.to_string(),
            TopicRef::user(topic),
            Arc::new(key_serde),
            Arc::new(value_serde),
        );
        for &other in rest {
            KStream::<K, V>::from_node(Rc::clone(&self.graph), other).feed(id);
        }
        self.record(name, id, RecordTypes::of::<K, V>(), true);
        self
    }

    /// Declares state store `store` and connects it to the processors `processors` (Kafka's
    /// `addStateStore`).
    pub fn add_state_store(
        &mut self,
        store: impl Into<StoreBuilder>,
        processors: &[&str],
    ) -> &mut Self {
        let store = store.into();
        let name = store.name().to_string();
        self.graph.borrow_mut().add_store(store);
        self.connect_processor_and_state_stores_each(processors, &name);
        self
    }

    /// Adds global store `store`, which every application instance keeps whole: source
    /// `source_name` reads every partition of `topic` and processor `processor_name`, made by
    /// `supplier`, updates the store from each record (Kafka's `addGlobalStore`). The store is
    /// read by every processor of the topology without being connected to it.
    ///
    /// As in Kafka, the topic is the store's changelog: the store must have logging disabled,
    /// and on start-up it is restored by copying the topic's records into it as they are (so
    /// the processor should store the records it reads unchanged, in the topic's format). A
    /// value serde that maps Kafka's null to a value (e.g. an [`OptionSerde`]) lets the
    /// processor see tombstones.
    ///
    /// [`OptionSerde`]: crate::serde::OptionSerde
    ///
    /// ```
    /// use streams_core::prelude::*;
    /// use streams_core::state::{KeyValueStoreRef, Stores};
    /// use streams_core::topology::TopologyBuilder;
    ///
    /// /// Keeps the latest value of each key in store `rates`.
    /// struct Updater(Option<KeyValueStoreRef<String, String>>);
    /// impl Processor<String, String, (), ()> for Updater {
    ///     fn init(&mut self, ctx: &mut ProcessorContext<'_, (), ()>) -> streams_core::Result<()> {
    ///         self.0 = Some(ctx.key_value_store("rates", Serdes::string(), Serdes::string())?);
    ///         Ok(())
    ///     }
    ///     fn process(
    ///         &mut self,
    ///         record: Record<String, String>,
    ///         _ctx: &mut ProcessorContext<'_, (), ()>,
    ///     ) -> streams_core::Result<()> {
    ///         let store = self.0.as_ref().expect("initialized");
    ///         store.put(&record.key, &record.value)
    ///     }
    /// }
    ///
    /// let mut builder = TopologyBuilder::new();
    /// builder.add_global_store(
    ///     Stores::key_value_store_builder(Stores::in_memory_key_value_store("rates"))
    ///         .with_logging_disabled(),
    ///     "rates-source",
    ///     Serdes::string(),
    ///     Serdes::string(),
    ///     "rates",
    ///     "rates-updater",
    ///     || Updater(None),
    /// );
    /// let topology = builder.build().unwrap();
    /// assert!(topology
    ///     .describe()
    ///     .to_string()
    ///     .contains("Sub-topology: 0 for global store (will not generate tasks)"));
    /// ```
    #[allow(clippy::too_many_arguments)] // Kafka's `addGlobalStore` takes exactly these
    pub fn add_global_store<K, V, P, S>(
        &mut self,
        store: impl Into<StoreBuilder>,
        source_name: &str,
        key_serde: impl Serde<K> + 'static,
        value_serde: impl Serde<V> + 'static,
        topic: &str,
        processor_name: &str,
        supplier: S,
    ) -> &mut Self
    where
        K: Data,
        V: Data,
        P: Processor<K, V, (), ()>,
        S: Fn() -> P + Send + Sync + 'static,
    {
        if !self.check_new(source_name) || !self.check_new(processor_name) {
            return self;
        }
        match add_global_store_nodes(
            &self.graph,
            store.into(),
            source_name,
            Arc::new(key_serde),
            Arc::new(value_serde),
            topic,
            processor_name,
            supplier,
        ) {
            Ok((source, processor)) => {
                self.record(source_name, source, RecordTypes::of::<K, V>(), false);
                self.record(
                    processor_name,
                    processor,
                    RecordTypes::of::<(), ()>(),
                    false,
                );
            }
            Err(message) => self.errors.push(message),
        }
        self
    }

    /// Connects the already declared stores `stores` to processor `processor` (Kafka's
    /// `connectProcessorAndStateStores`).
    pub fn connect_processor_and_state_stores(
        &mut self,
        processor: &str,
        stores: &[&str],
    ) -> &mut Self {
        for store in stores {
            self.connect(processor, store);
        }
        self
    }

    /// Validates what was added and compiles it into a [`Topology`]; all problems found are
    /// reported together as one [`Error::InvalidTopology`].
    pub fn build(&self) -> Result<Topology> {
        let mut errors = self.errors.clone();
        let graph = self.graph.borrow();
        for node in &graph.nodes {
            if let NodeKind::Processor { stores } = &node.kind {
                for store in stores {
                    if !graph.stores.iter().any(|s| s.name() == store) {
                        errors.push(format!(
                            "state store `{store}` is not added yet (connected to processor `{}`)",
                            node.name
                        ));
                    }
                }
            }
        }
        if !errors.is_empty() {
            return Err(Error::InvalidTopology(errors.join("; ")));
        }
        Topology::build(graph.clone())
    }

    fn connect_processor_and_state_stores_each(&mut self, processors: &[&str], store: &str) {
        for processor in processors {
            self.connect(processor, store);
        }
    }

    fn connect(&mut self, processor: &str, store: &str) {
        let Some(added) = self.nodes.get(processor) else {
            self.errors
                .push(format!("processor `{processor}` is not added yet"));
            return;
        };
        let mut graph = self.graph.borrow_mut();
        match &mut graph.nodes[added.id].kind {
            NodeKind::Processor { stores } => {
                if !stores.iter().any(|s| s == store) {
                    stores.push(store.to_string());
                }
            }
            _ => self.errors.push(format!(
                "`{processor}` is not a processor: only processors can be connected to state stores"
            )),
        }
    }

    /// Whether `name` is a valid, unused node name; records an error if not.
    fn check_new(&mut self, name: &str) -> bool {
        if name.is_empty() {
            self.errors
                .push("a node name must not be empty".to_string());
            false
        } else if self.nodes.contains_key(name) {
            self.errors
                .push(format!("processor `{name}` is already added"));
            false
        } else {
            true
        }
    }

    /// The ids of `parents` of node `name`, which takes records of types `input`; `None`, with
    /// errors recorded, if there are none, one is unknown or a sink, or emits other types.
    fn check_parents(
        &mut self,
        name: &str,
        parents: &[&str],
        input: RecordTypes,
    ) -> Option<Vec<NodeId>> {
        if parents.is_empty() {
            self.errors
                .push(format!("`{name}` must have at least one parent"));
            return None;
        }
        let mut ids = Vec::with_capacity(parents.len());
        let mut ok = true;
        for parent in parents {
            match self.nodes.get(*parent) {
                None => {
                    self.errors.push(format!(
                        "predecessor processor `{parent}` is not added yet for `{name}`"
                    ));
                    ok = false;
                }
                Some(added) if added.sink => {
                    self.errors.push(format!(
                        "sink `{parent}` cannot be used as a parent of `{name}`"
                    ));
                    ok = false;
                }
                Some(added) if !added.output.matches(&input) => {
                    self.errors.push(format!(
                        "`{name}` takes records of ({}, {}) but its parent `{parent}` emits ({}, {})",
                        input.key_name, input.value_name, added.output.key_name, added.output.value_name
                    ));
                    ok = false;
                }
                Some(added) => ids.push(added.id),
            }
        }
        ok.then_some(ids)
    }

    fn record(&mut self, name: &str, id: NodeId, output: RecordTypes, sink: bool) {
        self.nodes
            .insert(name.to_string(), Added { id, output, sink });
    }
}

/// Adds a global store's source and updating processor to `graph` (for both builders'
/// `add_global_store`); the ids of the two nodes, or why the store cannot be global.
#[allow(clippy::too_many_arguments)]
pub(crate) fn add_global_store_nodes<K, V, P, S>(
    graph: &Rc<RefCell<TopologyGraph>>,
    store: StoreBuilder,
    source_name: &str,
    key_serde: Arc<dyn Serde<K>>,
    value_serde: Arc<dyn Serde<V>>,
    topic: &str,
    processor_name: &str,
    supplier: S,
) -> std::result::Result<(NodeId, NodeId), String>
where
    K: Data,
    V: Data,
    P: Processor<K, V, (), ()>,
    S: Fn() -> P + Send + Sync + 'static,
{
    let name = store.name().to_string();
    if store.changelog_topic("").is_some() {
        // Kafka's TopologyException: the topic itself is the store's changelog.
        return Err(format!(
            "state store `{name}` for a global store must not have logging enabled"
        ));
    }
    if source_name == processor_name {
        return Err(format!(
            "the source and the processor of global store `{name}` must have different names, not both `{source_name}`"
        ));
    }
    let kind = NodeKind::Source {
        topics: vec![TopicRef::user(topic)],
        pattern: None,
        offset_reset: None,
    };
    let source: KStream<K, V> = add_source_node(
        graph,
        source_name.to_string(),
        kind,
        key_serde,
        value_serde,
        None,
    );
    let factory = processor_factory::<K, V, (), (), P, S>(supplier, Flushing::Always);
    let mut graph = graph.borrow_mut();
    let processor = graph.add_node(
        processor_name.to_string(),
        NodeKind::Processor {
            stores: vec![name.clone()],
        },
        vec![source.node],
        factory,
        Some(crate::processor::node::share_node::<K, V>),
    );
    graph.add_store(store);
    graph.set_global_store(&name);
    Ok((source.node, processor))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processor::ProcessorContext;
    use crate::record::Record;
    use crate::serde::{I64Serde, StringSerde};
    use crate::state::KeyValueStoreRef;
    use crate::test_driver::TopologyTestDriver;

    /// Forwards every record unchanged (Kafka's `MockProcessorSupplier`).
    struct Forward;

    impl Processor<String, String, String, String> for Forward {
        fn process(
            &mut self,
            record: Record<String, String>,
            ctx: &mut ProcessorContext<'_, String, String>,
        ) -> Result<()> {
            ctx.forward(record)
        }
    }

    /// Splits values into words, keyed by word.
    struct Split;

    impl Processor<String, String, String, String> for Split {
        fn process(
            &mut self,
            record: Record<String, String>,
            ctx: &mut ProcessorContext<'_, String, String>,
        ) -> Result<()> {
            for word in record.value.split_whitespace() {
                let word = word.to_lowercase();
                ctx.forward(Record::new(word.clone(), word, record.timestamp))?;
            }
            Ok(())
        }
    }

    /// Counts words in store `counts` and forwards each new count.
    struct Count(Option<KeyValueStoreRef<String, i64>>);

    impl Processor<String, String, String, i64> for Count {
        fn init(&mut self, ctx: &mut ProcessorContext<'_, String, i64>) -> Result<()> {
            self.0 = Some(ctx.key_value_store("counts", StringSerde, I64Serde)?);
            Ok(())
        }

        fn process(
            &mut self,
            record: Record<String, String>,
            ctx: &mut ProcessorContext<'_, String, i64>,
        ) -> Result<()> {
            let store = self.0.as_ref().expect("initialized");
            let count = store.get(&record.key)?.unwrap_or(0) + 1;
            store.put(&record.key, &count)?;
            ctx.forward(record.with_value(count))
        }
    }

    fn error_of(builder: &TopologyBuilder) -> String {
        match builder.build() {
            Err(Error::InvalidTopology(message)) => message,
            Err(other) => panic!("unexpected error {other}"),
            Ok(_) => panic!("the topology was accepted"),
        }
    }

    // Kafka's TopologyTest#sourceAndProcessorShouldHaveSingleSubtopology.
    #[test]
    fn source_and_processor_should_have_single_subtopology() {
        let mut builder = TopologyBuilder::new();
        builder
            .add_source::<String, String>("source", &["topic"], StringSerde, StringSerde)
            .add_processor("processor", || Forward, &["source"]);
        assert_eq!(
            builder.build().unwrap().describe().to_string(),
            "Topologies:\n   Sub-topology: 0\n    Source: source (topics: [topic])\n      --> processor\n    Processor: processor (stores: [])\n      --> none\n      <-- source\n\n"
        );
    }

    // Kafka's TopologyTest#processorWithStateShouldHaveSingleSubtopology.
    #[test]
    fn processor_with_state_should_have_single_subtopology() {
        let mut builder = TopologyBuilder::new();
        builder
            .add_source::<String, String>("source", &["topic"], StringSerde, StringSerde)
            .add_processor("processor", || Forward, &["source"])
            .add_state_store(
                streams_state::KeyValueStoreBuilder::new("store"),
                &["processor"],
            );
        assert_eq!(
            builder.build().unwrap().describe().to_string(),
            "Topologies:\n   Sub-topology: 0\n    Source: source (topics: [topic])\n      --> processor\n    Processor: processor (stores: [store])\n      --> none\n      <-- source\n\n"
        );
    }

    // Kafka's TopologyTest#multipleSourcesShouldHaveDistinctSubtopologies-like: a sink with two
    // parents, and a second source in its own sub-topology.
    #[test]
    fn sink_with_two_parents_and_separate_subtopologies() {
        let mut builder = TopologyBuilder::new();
        builder
            .add_source::<String, String>("source1", &["topic1"], StringSerde, StringSerde)
            .add_source::<String, String>("source2", &["topic2"], StringSerde, StringSerde)
            .add_processor("processor1", || Forward, &["source1"])
            .add_processor("processor2", || Forward, &["source1"])
            .add_sink::<String, String>(
                "sink",
                "output",
                StringSerde,
                StringSerde,
                &["processor1", "processor2"],
            );
        assert_eq!(
            builder.build().unwrap().describe().to_string(),
            "Topologies:\n   Sub-topology: 0\n    Source: source1 (topics: [topic1])\n      --> processor1, processor2\n    Processor: processor1 (stores: [])\n      --> sink\n      <-- source1\n    Processor: processor2 (stores: [])\n      --> sink\n      <-- source1\n    Sink: sink (topic: output)\n      <-- processor1, processor2\n\n  Sub-topology: 1\n    Source: source2 (topics: [topic2])\n      --> none\n\n"
        );
    }

    // Kafka's TopologyTest#shouldNotAllowToAddProcessorWithSameName and friends.
    #[test]
    fn duplicate_names_unknown_parents_and_stores_are_invalid() {
        let mut builder = TopologyBuilder::new();
        builder
            .add_source::<String, String>("source", &["topic"], StringSerde, StringSerde)
            .add_source::<String, String>("source", &["other"], StringSerde, StringSerde);
        assert!(error_of(&builder).contains("processor `source` is already added"));

        let mut builder = TopologyBuilder::new();
        builder
            .add_source::<String, String>("source", &["topic"], StringSerde, StringSerde)
            .add_processor("processor", || Forward, &["missing"]);
        assert!(error_of(&builder)
            .contains("predecessor processor `missing` is not added yet for `processor`"));

        let mut builder = TopologyBuilder::new();
        builder
            .add_source::<String, String>("source", &["topic"], StringSerde, StringSerde)
            .add_processor("processor", || Forward, &["source"])
            .connect_processor_and_state_stores("processor", &["store"])
            .add_state_store(streams_state::KeyValueStoreBuilder::new("s"), &["nobody"]);
        let error = error_of(&builder);
        assert!(
            error.contains("state store `store` is not added yet"),
            "{error}"
        );
        assert!(
            error.contains("processor `nobody` is not added yet"),
            "{error}"
        );

        let mut builder = TopologyBuilder::new();
        builder
            .add_source::<String, String>("source", &["topic"], StringSerde, StringSerde)
            .add_sink::<String, String>("sink", "out", StringSerde, StringSerde, &["source"])
            .add_processor("processor", || Forward, &["sink"]);
        assert!(error_of(&builder).contains("sink `sink` cannot be used as a parent"));
    }

    // Kafka's TopologyTest#shouldNotAllowNullNameWhenAddingSource and
    // #shouldNotAllowZeroTopicsWhenAddingSource.
    #[test]
    fn empty_names_and_sources_without_topics_are_invalid() {
        let mut builder = TopologyBuilder::new();
        builder.add_source::<String, String>("", &["topic"], StringSerde, StringSerde);
        assert!(error_of(&builder).contains("a node name must not be empty"));

        let mut builder = TopologyBuilder::new();
        builder.add_source::<String, String>("source", &[], StringSerde, StringSerde);
        assert!(error_of(&builder).contains("source `source` must have at least one topic"));
    }

    #[test]
    fn a_parent_emitting_other_types_is_invalid() {
        let mut builder = TopologyBuilder::new();
        builder
            .add_source::<String, i64>("source", &["topic"], StringSerde, I64Serde)
            .add_processor("processor", || Forward, &["source"]);
        let error = error_of(&builder);
        assert!(
            error.contains("`processor` takes records of (alloc::string::String, alloc::string::String) but its parent `source` emits (alloc::string::String, i64)"),
            "{error}"
        );
    }

    /// Keeps the latest value of each key in store `globalStore`, as Kafka's global store
    /// updaters do.
    struct GlobalUpdater(Option<KeyValueStoreRef<String, String>>);

    impl Processor<String, String, (), ()> for GlobalUpdater {
        fn init(&mut self, ctx: &mut ProcessorContext<'_, (), ()>) -> Result<()> {
            self.0 = Some(ctx.key_value_store("globalStore", StringSerde, StringSerde)?);
            Ok(())
        }

        fn process(
            &mut self,
            record: Record<String, String>,
            _ctx: &mut ProcessorContext<'_, (), ()>,
        ) -> Result<()> {
            let store = self.0.as_ref().expect("initialized");
            store.put(&record.key, &record.value)
        }
    }

    /// Appends to each value what store `globalStore` holds for its key.
    struct Enrich(Option<KeyValueStoreRef<String, String>>);

    impl Processor<String, String, String, String> for Enrich {
        fn init(&mut self, ctx: &mut ProcessorContext<'_, String, String>) -> Result<()> {
            self.0 = Some(ctx.key_value_store("globalStore", StringSerde, StringSerde)?);
            Ok(())
        }

        fn process(
            &mut self,
            record: Record<String, String>,
            ctx: &mut ProcessorContext<'_, String, String>,
        ) -> Result<()> {
            let store = self.0.as_ref().expect("initialized");
            let found = store.get(&record.key)?.unwrap_or_else(|| "-".to_string());
            let value = format!("{}+{found}", record.value);
            ctx.forward(record.with_value(value))
        }
    }

    fn global_store() -> streams_state::KeyValueStoreBuilder {
        crate::state::Stores::key_value_store_builder(
            crate::state::Stores::in_memory_key_value_store("globalStore"),
        )
        .with_logging_disabled()
    }

    // Kafka's TopologyTest#shouldDescribeGlobalStoreTopology.
    #[test]
    fn should_describe_global_store_topology() {
        let mut builder = TopologyBuilder::new();
        builder.add_global_store(
            global_store(),
            "globalSource",
            StringSerde,
            StringSerde,
            "globalTopic",
            "global-processor",
            || GlobalUpdater(None),
        );
        assert_eq!(
            builder.build().unwrap().describe().to_string(),
            "Topologies:\n   Sub-topology: 0 for global store (will not generate tasks)\n    Source: globalSource (topics: [globalTopic])\n      --> global-processor\n    Processor: global-processor (stores: [globalStore])\n      --> none\n      <-- globalSource\n"
        );
    }

    // Kafka's TopologyTest#shouldNotAllowToAddGlobalStoreWithSourceNameEqualsProcessorName and
    // InternalTopologyBuilderTest#shouldThrowIfGlobalStoreHasLoggingEnabled (the topic is
    // the store's changelog).
    #[test]
    fn global_stores_need_distinct_names_and_no_logging() {
        let mut builder = TopologyBuilder::new();
        builder.add_global_store(
            global_store(),
            "same",
            StringSerde,
            StringSerde,
            "globalTopic",
            "same",
            || GlobalUpdater(None),
        );
        assert!(error_of(&builder).contains("must have different names, not both `same`"));

        let mut builder = TopologyBuilder::new();
        builder.add_global_store(
            crate::state::Stores::key_value_store_builder(
                crate::state::Stores::in_memory_key_value_store("globalStore"),
            ),
            "globalSource",
            StringSerde,
            StringSerde,
            "globalTopic",
            "global-processor",
            || GlobalUpdater(None),
        );
        assert!(error_of(&builder).contains(
            "state store `globalStore` for a global store must not have logging enabled"
        ));
    }

    #[test]
    fn a_global_store_is_kept_by_its_processor_and_read_by_every_task() {
        let mut builder = TopologyBuilder::new();
        builder
            .add_global_store(
                global_store(),
                "globalSource",
                StringSerde,
                StringSerde,
                "rates",
                "global-processor",
                || GlobalUpdater(None),
            )
            .add_source::<String, String>("orders", &["orders"], StringSerde, StringSerde)
            .add_processor("enrich", || Enrich(None), &["orders"])
            .add_sink::<String, String>("sink", "enriched", StringSerde, StringSerde, &["enrich"]);
        let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
        let rates = driver.create_input_topic("rates", StringSerde, StringSerde);
        let orders = driver.create_input_topic("orders", StringSerde, StringSerde);
        let output = driver.create_output_topic("enriched", StringSerde, StringSerde);
        orders.pipe_input("eur", "o1");
        rates.pipe_input("eur", "1.1");
        orders.pipe_input("eur", "o2");
        rates.pipe_input("eur", "1.2");
        orders.pipe_input("usd", "o3");
        orders.pipe_input("eur", "o4");
        let values: Vec<String> = output
            .read_key_values_to_list()
            .into_iter()
            .map(|(_, v)| v)
            .collect();
        assert_eq!(values, ["o1+-", "o2+1.1", "o3+-", "o4+1.2"]);
    }

    // Kafka's InternalStreamsBuilder#addGlobalStore names the nodes KSTREAM-SOURCE and
    // KTABLE-SOURCE.
    #[test]
    fn the_dsl_adds_global_stores_with_generated_names() {
        let builder = crate::dsl::StreamsBuilder::new();
        builder.add_global_store(
            global_store(),
            "globalTopic",
            crate::dsl::Consumed::with(StringSerde, StringSerde),
            || GlobalUpdater(None),
        );
        builder
            .stream(
                "orders",
                crate::dsl::Consumed::with(StringSerde, StringSerde),
            )
            .process(|| Enrich(None))
            .to(
                "enriched",
                crate::dsl::Produced::with(StringSerde, StringSerde),
            );
        let topology = builder.build().unwrap();
        assert_eq!(
            topology.describe().to_string(),
            "Topologies:\n   Sub-topology: 0 for global store (will not generate tasks)\n    Source: KSTREAM-SOURCE-0000000000 (topics: [globalTopic])\n      --> KTABLE-SOURCE-0000000001\n    Processor: KTABLE-SOURCE-0000000001 (stores: [globalStore])\n      --> none\n      <-- KSTREAM-SOURCE-0000000000\n  Sub-topology: 1\n    Source: KSTREAM-SOURCE-0000000002 (topics: [orders])\n      --> KSTREAM-PROCESSOR-0000000003\n    Processor: KSTREAM-PROCESSOR-0000000003 (stores: [])\n      --> KSTREAM-SINK-0000000004\n      <-- KSTREAM-SOURCE-0000000002\n    Sink: KSTREAM-SINK-0000000004 (topic: enriched)\n      <-- KSTREAM-PROCESSOR-0000000003\n\n"
        );
        let driver = TopologyTestDriver::new(topology).unwrap();
        driver
            .create_input_topic("globalTopic", StringSerde, StringSerde)
            .pipe_input("a", "1");
        driver
            .create_input_topic("orders", StringSerde, StringSerde)
            .pipe_input("a", "x");
        let output = driver.create_output_topic("enriched", StringSerde, StringSerde);
        assert_eq!(output.read_value(), "x+1");
    }

    #[test]
    fn a_low_level_word_count_runs_in_the_test_driver() {
        let mut builder = TopologyBuilder::new();
        builder
            .add_source::<String, String>("source", &["lines"], StringSerde, StringSerde)
            .add_processor("split", || Split, &["source"])
            .add_processor("count", || Count(None), &["split"])
            .add_state_store(
                crate::state::Stores::key_value_store_builder(
                    crate::state::Stores::in_memory_key_value_store("counts"),
                ),
                &["count"],
            )
            .add_sink::<String, i64>("sink", "counts-out", StringSerde, I64Serde, &["count"]);
        let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
        let input = driver.create_input_topic("lines", StringSerde, StringSerde);
        input.pipe_input("1", "a b A");
        input.pipe_input("2", "b");
        let output = driver.create_output_topic("counts-out", StringSerde, I64Serde);
        let pairs: Vec<(String, i64)> = output.read_key_values_to_list();
        let expected: Vec<(String, i64)> = [("a", 1), ("b", 1), ("a", 2), ("b", 2)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(pairs, expected);
        let store = driver
            .get_key_value_store("counts", StringSerde, I64Serde)
            .unwrap();
        assert_eq!(store.get(&"a".to_string()).unwrap(), Some(2));
    }
}
