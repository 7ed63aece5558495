//! `KStream::to_with_extractor`: writing each record to a topic chosen per record, like Kafka
//! Streams' `KStream#to(TopicNameExtractor, Produced)`; `describe()` shows such a sink as Kafka
//! does, `Sink: <name> (extractor class: <type>)`.

use std::sync::Arc;

use super::kstream::{KStream, SINK_NAME};
use super::options::Produced;
use crate::processor::node::{erase, share_node, SinkNode};
use crate::processor::{Data, TopicNameExtractor};
use crate::topology::graph::{BuildContext, Factory, NodeKind};

impl<K: Data, V: Data> KStream<K, V> {
    /// Writes each record to the topic `extractor` names for it (Kafka's
    /// `to(TopicNameExtractor, Produced)`), with `produced`'s serdes, name and partitioner.
    /// The topics must exist; Rill does not create them, nor does Kafka.
    ///
    /// ```
    /// use streams_core::prelude::*;
    /// use streams_core::processor::RecordContext;
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("events", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .to_with_extractor(
    ///         |key: &String, _value: &String, _context: &RecordContext<'_>| format!("events-{key}"),
    ///         Produced::with(Serdes::string(), Serdes::string()),
    ///     );
    /// let driver = TopologyTestDriver::new(builder.build()?)?;
    /// let input = driver.create_input_topic("events", Serdes::string(), Serdes::string());
    /// input.pipe_input("eu", "a");
    /// input.pipe_input("us", "b");
    /// assert_eq!(driver.produced_topic_names(), ["events-eu", "events-us"]);
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn to_with_extractor<E>(&self, extractor: E, produced: Produced<K, V>)
    where
        E: TopicNameExtractor<K, V>,
    {
        let name = match produced.name {
            Some(name) => name,
            None => self.node_name(SINK_NAME),
        };
        let described = std::any::type_name::<E>().to_string();
        let extractor: Arc<dyn TopicNameExtractor<K, V>> = Arc::new(extractor);
        let (keys, values, partitioner) = (
            produced.key_serde,
            produced.value_serde,
            produced.partitioner,
        );
        let factory: Factory = Arc::new(move |ctx: BuildContext| {
            Ok(erase::<K, V>(
                SinkNode::extracted(
                    ctx.name,
                    Arc::clone(&extractor),
                    Arc::clone(&keys),
                    Arc::clone(&values),
                )
                .with_partitioner(partitioner.clone()),
            ))
        });
        self.graph().borrow_mut().add_node(
            name,
            NodeKind::ExtractorSink {
                extractor: described,
            },
            vec![self.node],
            factory,
            Some(share_node::<K, V>),
        );
    }
}
