//! # Rill
//!
//! Kafka Streams for Rust. Describe a stream-processing topology with a typed DSL, test it
//! synchronously with the [`TopologyTestDriver`], and run it with [`KafkaStreams`] against Kafka
//! or the bundled Kafka-wire broker.
//!
//! This facade re-exports the workspace crates: [`streams_core`] (DSL, topology, processor API,
//! test driver), [`streams_runtime`] (the `KafkaStreams` runtime over librdkafka),
//! [`streams_state`] (state stores) and [`streams_broker`] (the bundled broker). Its [`Error`]
//! is the runtime's, which holds every error of the topology too, so one `?` type serves a
//! whole application.
//!
//! ```
//! use rill::prelude::*;
//!
//! let builder = StreamsBuilder::new();
//! builder
//!     .stream("temperatures", Consumed::with(Serdes::string(), Serdes::f64()))
//!     .filter(|_, celsius| *celsius > 30.0)
//!     .map_values(|celsius| celsius * 9.0 / 5.0 + 32.0)
//!     .to("heat-alerts", Produced::with(Serdes::string(), Serdes::f64()));
//!
//! let driver = TopologyTestDriver::new(builder.build()?)?;
//! let input = driver.create_input_topic("temperatures", Serdes::string(), Serdes::f64());
//! let alerts = driver.create_output_topic("heat-alerts", Serdes::string(), Serdes::f64());
//! input.pipe_input("lisbon", 35.0);
//! input.pipe_input("oslo", 12.0);
//! assert_eq!(alerts.read_key_value(), ("lisbon".to_string(), 95.0));
//! assert!(alerts.is_empty());
//! # Ok::<(), rill::Error>(())
//! ```

#![forbid(unsafe_code)]

pub use streams_broker;
pub use streams_core;
pub use streams_core::{
    AutoOffsetReset, Branched, CogroupedKStream, Consumed, FixedKeyProcessor,
    FixedKeyProcessorContext, FixedKeyRecord, KStream, Named, Printed, Processor, ProcessorContext,
    Produced, Record, RecordContext, Repartitioned, Stores, StreamPartitioner, StreamsBuilder,
    StreamsConfig, TestInputTopic, TestOutputTopic, TimestampExtractor, TopicNameExtractor,
    Topology, TopologyBuilder, TopologyTestDriver,
};
pub use streams_runtime;
pub use streams_runtime::{
    CloseOptions, Error, GroupMembershipOperation, KafkaStreams, ProductionError,
    ProductionExceptionResponse, Result, State,
};
pub use streams_state;

/// Everything a Rill application usually needs, in one import.
pub mod prelude {
    pub use streams_core::prelude::*;
    pub use streams_runtime::{CloseOptions, KafkaStreams, State, StreamThreadExceptionResponse};
    // The facade's error (the runtime's) wins over the core prelude's.
    pub use streams_runtime::Error;
}
