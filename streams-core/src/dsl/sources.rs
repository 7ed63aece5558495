//! Stream sources beyond one topic: `StreamsBuilder::stream_topics` (Kafka's
//! `stream(Collection<String>)`) and `StreamsBuilder::stream_pattern` (Kafka's `stream(Pattern)`),
//! both honouring `Consumed`'s timestamp extractor and offset-reset policy.
//!
//! A pattern must match a whole topic name, as Java's `Pattern#matches`. The test driver reads
//! every topic piped into that matches; the runtime resolves the pattern against the topics
//! that exist when the application starts. Unlike Kafka, which subscribes by pattern and picks
//! up matching topics created later (after a metadata refresh and a rebalance), topics created
//! after the start are not read until the application restarts.

use std::sync::Arc;

use super::kstream::{self, KStream};
use super::options::Consumed;
use super::StreamsBuilder;
use crate::processor::Data;
use crate::topology::graph::{NodeKind, TopicPattern, TopicRef};

impl StreamsBuilder {
    /// A stream of the records of every topic in `topics`, read by one source node as
    /// `consumed` says (Kafka's `stream(Collection<String>, Consumed)`).
    ///
    /// ```
    /// use streams_core::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream_topics(&["topic-1", "topic-2"], Consumed::with(Serdes::string(), Serdes::string()))
    ///     .to("out", Produced::with(Serdes::string(), Serdes::string()));
    /// let topology = builder.build()?;
    /// assert!(topology.describe().to_string().contains("(topics: [topic-1, topic-2])"));
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn stream_topics<K: Data, V: Data>(
        &self,
        topics: &[&str],
        consumed: Consumed<K, V>,
    ) -> KStream<K, V> {
        let topics = topics.iter().map(|t| TopicRef::user(*t)).collect();
        self.add_stream_source(topics, None, consumed)
    }

    /// A stream of the records of every topic whose whole name matches the regular expression
    /// `pattern` (Kafka's `stream(Pattern, Consumed)`). An invalid pattern is a build error.
    ///
    /// The test driver reads every topic piped into that matches; the runtime resolves the
    /// pattern against the topics that exist when the application starts. Unlike Kafka, which
    /// subscribes by pattern and picks up matching topics created later, topics created after
    /// the start are not read until the application restarts.
    ///
    /// ```
    /// use streams_core::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream_pattern(r"topic-\d", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .to("out", Produced::with(Serdes::string(), Serdes::string()));
    /// let driver = TopologyTestDriver::new(builder.build()?)?;
    /// let output = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    /// for topic in ["topic-1", "topic-2", "topic-x"] {
    ///     let input = driver.create_input_topic(topic, Serdes::string(), Serdes::string());
    ///     assert_eq!(input.try_pipe_input("k", topic).is_ok(), topic != "topic-x");
    /// }
    /// assert_eq!(output.read_values_to_list(), ["topic-1", "topic-2"]);
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn stream_pattern<K: Data, V: Data>(
        &self,
        pattern: &str,
        consumed: Consumed<K, V>,
    ) -> KStream<K, V> {
        let pattern = match TopicPattern::new(pattern) {
            Ok(pattern) => Some(pattern),
            Err(e) => {
                self.graph
                    .borrow_mut()
                    .errors
                    .push(format!("source topic pattern `{pattern}` is invalid: {e}"));
                None
            }
        };
        // An invalid pattern reads nothing; the build reports it.
        let pattern = pattern.or_else(|| TopicPattern::new("$.").ok());
        self.add_stream_source(Vec::new(), pattern, consumed)
    }

    /// Adds the source node of a stream.
    pub(super) fn add_stream_source<K: Data, V: Data>(
        &self,
        topics: Vec<TopicRef>,
        pattern: Option<TopicPattern>,
        consumed: Consumed<K, V>,
    ) -> KStream<K, V> {
        // A name is drawn even for a named source, as Kafka's counter does.
        let name = kstream::named_or_generated(&self.graph, consumed.name, kstream::SOURCE_NAME);
        let kind = NodeKind::Source {
            topics,
            pattern,
            offset_reset: consumed.offset_reset,
        };
        kstream::add_source_node(
            &self.graph,
            name,
            kind,
            Arc::clone(&consumed.key_serde),
            Arc::clone(&consumed.value_serde),
            consumed.timestamp_extractor,
        )
    }
}
