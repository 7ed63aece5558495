//! # streams-core
//!
//! The heart of Rill: a typed DSL for describing stream-processing topologies, the topology
//! compiler, the Processor API every operator runs on, and a [`TopologyTestDriver`] that runs a
//! topology synchronously without a broker — Kafka Streams' `kstream`, `processor` and
//! `TopologyTestDriver`, in Rust.
//!
//! ```
//! use streams_core::prelude::*;
//!
//! // Describe: split lines into words, keep the long ones, key them by word.
//! let builder = StreamsBuilder::new();
//! builder
//!     .stream("lines", Consumed::with(Serdes::option(Serdes::string()), Serdes::string()))
//!     .flat_map_values(|line: &String| {
//!         line.split_whitespace().map(str::to_lowercase).collect::<Vec<_>>()
//!     })
//!     .filter(|_, word| word.len() > 3)
//!     .select_key(|_, word| word.clone())
//!     .to("long-words", Produced::with(Serdes::string(), Serdes::string()));
//! let topology = builder.build()?;
//! assert!(topology.describe().to_string().starts_with("Topologies:\n   Sub-topology: 0\n"));
//!
//! // Test: pipe records in, read records out, no broker involved.
//! let driver = TopologyTestDriver::new(topology)?;
//! let lines = driver.create_input_topic("lines", Serdes::option(Serdes::string()), Serdes::string());
//! let words = driver.create_output_topic("long-words", Serdes::string(), Serdes::string());
//! lines.pipe_input(None::<String>, "Rust streams in Rill");
//! assert_eq!(words.read_values_to_list(), ["rust", "streams", "rill"]);
//! # Ok::<(), streams_core::Error>(())
//! ```

pub mod config;
pub mod dsl;
mod error;
pub mod internals;
pub mod processor;
pub mod record;
pub mod serde;
pub mod state;
pub mod test_driver;
pub mod topology;

pub use config::{DeserializationHandler, ProcessingGuarantee, ProcessingHandler, StreamsConfig};
pub use dsl::{
    AutoOffsetReset, Branched, BranchedKStream, CogroupedKStream, Consumed, GlobalKTable, Grouped,
    Joined, KGroupedStream, KStream, KTable, Materialized, Named, Printed, Produced, Repartitioned,
    StreamsBuilder,
};
pub use error::{Error, Result};
pub use processor::{
    Cancellable, FixedKeyProcessor, FixedKeyProcessorContext, FixedKeyRecord, Processor,
    ProcessorContext, PunctuationId, PunctuationType, RecordContext, StreamPartitioner, TaskId,
    TimestampExtractor, TopicNameExtractor,
};
pub use record::{Header, Headers, Record, RecordMetadata};
pub use state::Stores;
pub use test_driver::{TestInputTopic, TestOutputTopic, TopologyTestDriver};
pub use topology::{Topology, TopologyBuilder, TopologyDescription};

/// Everything a topology author usually needs, in one import.
pub mod prelude {
    pub use crate::dsl::{
        AutoOffsetReset, Branched, BufferConfig, CogroupedKStream, Consumed, EmitStrategy,
        GlobalKTable, Grouped, JoinWindows, Joined, KGroupedStream, KGroupedTable, KStream, KTable,
        Materialized, Named, Printed, Produced, Repartitioned, SessionWindowedCogroupedKStream,
        SessionWindows, SlidingWindows, StreamJoined, StreamsBuilder, Suppressed,
        TimeWindowedCogroupedKStream, TimeWindows, Windowed,
    };
    pub use crate::processor::{
        FixedKeyProcessor, FixedKeyProcessorContext, FixedKeyRecord, Processor, ProcessorContext,
        PunctuationId, PunctuationType, RecordContext,
    };
    pub use crate::record::{Headers, Record};
    pub use crate::serde::{Json, Serde, Serdes};
    pub use crate::state::Stores;
    pub use crate::test_driver::TopologyTestDriver;
    pub use crate::topology::{Topology, TopologyBuilder};
    pub use crate::{Error, StreamsConfig};
}
