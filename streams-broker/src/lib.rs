//! # streams-broker
//!
//! Rill's bundled broker: a single-node broker that speaks the Kafka wire protocol, so
//! that applications, examples and tests run self-contained on one machine through the
//! same client code (`rdkafka`, kcat, kafka-python, …) they use against a Kafka cluster.
//!
//! It is a real broker, not a mock: record batches are validated (CRC-32C) and appended
//! to a segmented on-disk log with offset and time indexes, recovered after a crash,
//! trimmed by time and size retention, and compacted by key for `cleanup.policy=compact`
//! topics by a background log cleaner. Consumer groups are coordinated by the broker,
//! with the classic protocol (rebalances, sessions, generations; clients assign) and with
//! KIP-848's consumer protocol (member epochs; the broker assigns, with the `uniform` or
//! `range` assignor), and their committed offsets are kept in the internal topic
//! `__consumer_offsets`, so they survive restarts.
//! Idempotent producers are deduplicated per partition, and transactional producers get a
//! transaction coordinator, commit/abort markers and `read_committed` fetches.
//!
//! Durability is a choice ([`FlushPolicy`], `log.flush.policy`): `fsync` every batch before
//! acknowledging it, every interval (the default, one second), or never. Acknowledged
//! data survives a crash of the broker process in every mode (it is in the page cache);
//! a crash of the machine can lose up to the last interval with the default.
//!
//! The pieces, in the order a request meets them (each module's own documentation says
//! more, and names its Kafka counterpart):
//! - the network layer: the listener and one `Connection` per client, which owns the
//!   socket, the request framing and the response encoding (Kafka's `SocketServer`);
//! - the request handlers: one module per API and the dispatch, taking typed requests
//!   and returning typed responses (Kafka's `KafkaApis`);
//! - the topic registry (Kafka's metadata);
//! - the group coordinator: consumer groups of both protocols and committed offsets
//!   (Kafka's `GroupCoordinator` and `GroupMetadataManager`);
//! - the log: partitions, segments, indexes, recovery, retention, validation of what
//!   producers send, producer state and the log cleaner (Kafka's `UnifiedLog`,
//!   `LogValidator`, `ProducerStateManager` and `LogCleaner`);
//! - the transaction coordinator (Kafka's `TransactionCoordinator`);
//! - typed configuration that also accepts Kafka property names ([`BrokerConfig`],
//!   [`TopicConfig`]);
//! - [`EmbeddedBroker`], to start a broker inside your process, and [`Server`], to run
//!   one as a process (`rill broker`). A running embedded broker's [`BrokerHandle`] also
//!   offers read-only views of its state for tests and tools ([`TopicView`],
//!   [`PartitionView`], [`TransactionDescription`]).
//!
//! ```
//! use streams_broker::{BrokerConfig, EmbeddedBroker};
//!
//! # fn main() -> streams_broker::Result<()> {
//! // Loopback, an ephemeral port and a temporary data directory by default.
//! let broker = EmbeddedBroker::start(BrokerConfig::default())?;
//! let topic = broker.create_topic_with_config("orders", 3, &[("retention.ms", "86400000")])?;
//! assert_eq!(topic.partitions.len(), 3);
//! println!("clients connect to {}", broker.bootstrap());
//! broker.shutdown()?;
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

mod broker;
mod clock;
mod config;
mod embedded;
mod error;
mod fs;
mod group;
mod handlers;
mod ids;
mod inspect;
pub mod listener;
mod log;
mod network;
pub mod security;
mod topics;
mod txn;
mod wire;

pub use config::{
    BrokerConfig, CleanerConfig, CleanupPolicy, FlushPolicy, GroupConfig, TopicConfig,
};
pub use embedded::{BrokerHandle, EmbeddedBroker};
pub use error::{Error, ProducerError, Result};
pub use group::{GroupDescription, GroupState, MemberDescription, OffsetAndMetadata};
pub use inspect::{PartitionView, TopicView, TransactionDescription};
pub use log::CleanStats;
pub use network::Server;
pub use txn::TxnState;

/// The address the standalone broker listens on unless told otherwise: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9092";
