//! # streams-runtime
//!
//! Rill's runtime: a [`streams_core`] topology running against Kafka (or Rill's bundled
//! broker) through librdkafka, like Kafka Streams' `KafkaStreams`.
//!
//! [`KafkaStreams::new`] pairs a [`Topology`](streams_core::Topology) with a
//! [`StreamsConfig`](streams_core::StreamsConfig); [`start`] creates the
//! internal topics (the `topics` module: repartition and changelog topics, co-partitioning
//! check) and `num.stream.threads` stream threads. Each thread joins the consumer group
//! `application.id`, subscribed to every source topic with the `range` assignor — which gives
//! partition `p` of every topic with the same partition count to the same member, so
//! co-partitioned inputs meet in one task — and runs the tasks (sub-topology × partition) it is
//! assigned: restoring their stores from the changelogs, processing records depth-first in
//! timestamp order, committing every `commit.interval.ms` (at-least-once or exactly-once v2).
//! Starting more instances with the same `application.id` spreads the tasks across them; when
//! one leaves, the others take its tasks over and restore their state.
//!
//! Global tables are not spread: before the stream threads start, each instance restores its
//! global stores from every partition of their topics, then a global thread outside the group
//! keeps them up to date, and every task of the instance reads them (the `global` module,
//! Kafka's `GlobalStreamThread`).
//!
//! The application's [`State`] follows Kafka's state machine (CREATED → REBALANCING ⇄ RUNNING →
//! PENDING_SHUTDOWN → NOT_RUNNING, or PENDING_ERROR → ERROR) and is reported to a state
//! listener. A failing stream thread goes to the uncaught-exception handler, which replaces the
//! thread or shuts the client down. [`KafkaStreams::local_store`] reads this instance's part of
//! a key-value store (interactive queries), and [`KafkaStreams::metrics`] gives a snapshot of
//! throughput, commit latency, restoration and consumer lag.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
//! use streams_core::prelude::*;
//! use streams_runtime::{KafkaStreams, State};
//! # use streams_broker::{BrokerConfig, EmbeddedBroker};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # // Rill's broker in this process, so that the example runs anywhere.
//! # let broker = EmbeddedBroker::start(BrokerConfig::default())?;
//! # broker.create_topic("lines", 1)?;
//! # let bootstrap = broker.bootstrap();
//! # let state_dir = tempfile::tempdir()?;
//!
//! let builder = StreamsBuilder::new();
//! builder
//!     .stream("lines", Consumed::with(Serdes::option(Serdes::string()), Serdes::string()))
//!     .flat_map_values(|line: &String| line.split_whitespace().map(str::to_lowercase).collect::<Vec<_>>())
//!     .group_by(|_, word| word.clone(), Grouped::with(Serdes::string(), Serdes::string()))
//!     .count(Materialized::as_("counts"));
//! let mut config = StreamsConfig::new("wordcount")?;
//! config
//!     .set("bootstrap.servers", &bootstrap)? // any Kafka cluster, or Rill's broker
//!     .set("state.dir", &state_dir.path().display().to_string())?;
//! let streams = KafkaStreams::new(builder.build()?, config)?;
//! streams.set_state_listener(|new, old| println!("{old} -> {new}"));
//! streams.start()?;
//! assert!(streams.wait_for_state(State::Running, Duration::from_secs(60)));
//!
//! let producer: ThreadedProducer<DefaultProducerContext> = rdkafka::ClientConfig::new()
//!     .set("bootstrap.servers", &bootstrap)
//!     .create()?;
//! producer.send(BaseRecord::<(), str>::to("lines").payload("Rill flows like a rill"))
//!     .map_err(|(e, _)| e)?;
//! producer.flush(Duration::from_secs(10))?;
//!
//! // Interactive queries: this instance's part of the `counts` store.
//! let counts = streams.local_store("counts", Serdes::string(), Serdes::i64())?;
//! let deadline = Instant::now() + Duration::from_secs(60);
//! while counts.get(&"rill".to_string())? != Some(2) {
//!     assert!(Instant::now() < deadline, "the count did not arrive");
//!     std::thread::sleep(Duration::from_millis(50));
//! }
//! streams.close(Duration::from_secs(30));
//! # Ok(())
//! # }
//! ```
//!
//! [`start`]: KafkaStreams::start
//!
//! The runtime drives the same tasks as `streams_core`'s `TopologyTestDriver`, through the
//! documented seam in [`streams_core::internals`]: a task is fed consumed records, and its
//! output, changelog records and offsets are drained and shipped here to Kafka.
//!
//! While it runs, an instance can gain and lose stream threads
//! ([`KafkaStreams::add_stream_thread`], [`KafkaStreams::remove_stream_thread`]), pause and
//! resume processing without leaving the group ([`KafkaStreams::pause`]), and it closes with
//! or without its members leaving the group ([`KafkaStreams::close_with`], [`CloseOptions`]).
//!
//! Modules: [`KafkaStreams`] (the handle), [`State`] (its state machine), [`CloseOptions`], the exception
//! handlers, metrics and metadata, interactive queries ([`LocalKeyValueStore`]); internally the
//! instance's control block, stream threads, task manager, record collector, changelog reader
//! (restore), global thread and topic preparation.

mod clients;
mod close_options;
mod collector;
mod error;
mod global;
mod handlers;
mod instance;
mod kafka_streams;
mod metadata;
mod metrics;
mod offset_reset;
mod process_id;
mod query;
mod restore;
mod shared;
mod state;
mod sync;
mod task_manager;
mod thread;
mod topics;

pub use close_options::{CloseOptions, GroupMembershipOperation};
pub use error::{Error, Result};
pub use handlers::{
    ProductionError, ProductionExceptionHandler, ProductionExceptionResponse,
    StreamThreadExceptionResponse, UncaughtExceptionHandler,
};
pub use kafka_streams::KafkaStreams;
pub use metadata::{TaskMetadata, ThreadMetadata};
pub use metrics::StreamsMetrics;
pub use query::{LocalKeyValueStore, LocalSessionStore, LocalVersionedStore, LocalWindowStore};
pub use state::{State, StateListener};
