//! The DSL: `StreamsBuilder` → `KStream` → operators → `Topology`, like Kafka Streams'
//! `org.apache.kafka.streams.kstream` package.

mod kstream;
mod operators;
mod options;
pub mod windows;

use std::cell::RefCell;
use std::rc::Rc;

pub use kstream::{Branched, BranchedKStream, KStream};
pub use options::{Consumed, Named, Produced, Repartitioned};
pub use windows::{SessionWindows, SlidingWindows, TimeWindows, Window, Windowed};

use crate::error::Result;
use crate::processor::Data;
use crate::topology::graph::{TopicRef, TopologyGraph};
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
        let name = match consumed.name {
            Some(name) => name,
            None => self.graph.borrow_mut().next_name(kstream::SOURCE_NAME),
        };
        kstream::add_source(
            &self.graph,
            name,
            vec![TopicRef::user(topic)],
            consumed.key_serde,
            consumed.value_serde,
        )
    }

    /// Validates what was described and compiles it into sub-topologies. Problems such as
    /// duplicate node names, invalid topic names or a topology without a source are reported
    /// together, as one [`Error::InvalidTopology`](crate::Error::InvalidTopology).
    pub fn build(&self) -> Result<Topology> {
        Topology::build(self.graph.borrow().clone())
    }
}

#[cfg(test)]
mod tests;
