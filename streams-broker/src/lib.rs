//! # streams-broker
//!
//! Rill's bundled broker: a single-node broker that speaks the Kafka wire protocol, so
//! that applications, examples and tests run self-contained on one machine through the
//! same client code (`rdkafka`, kcat, kafka-python, …) they use against a Kafka cluster.
//!
//! It is a real broker, not a mock: record batches are validated (CRC-32C) and appended
//! to a segmented on-disk log with offset and time indexes, recovered after a crash,
//! trimmed by time and size retention, and compacted by key for `cleanup.policy=compact`
//! topics by a background log cleaner. Consumer groups are coordinated by the broker
//! (the classic protocol: rebalances, sessions, generations) and their committed offsets
//! are kept in the internal topic `__consumer_offsets`, so they survive restarts.
//! Idempotent producers are deduplicated per partition, and transactional producers get a
//! transaction coordinator, commit/abort markers and `read_committed` fetches.
//!
//! Durability is a choice ([`FlushPolicy`], `log.flush.policy`): `fsync` every batch before
//! acknowledging it, every interval (the default, one second), or never. Acknowledged
//! data survives a crash of the broker process in every mode (it is in the page cache);
//! a crash of the machine can lose up to the last interval with the default.
//!
//! The pieces, in the order a request meets them:
//! - [`network`]: the listener and per-connection framing (Kafka's `SocketServer`);
//! - [`handlers`]: one module per API and the dispatch (Kafka's `KafkaApis`);
//! - [`topics`]: the topic registry (Kafka's metadata);
//! - [`group`]: consumer groups and committed offsets (Kafka's `GroupCoordinator`);
//! - [`log`]: partitions, segments, indexes, recovery, retention, compaction, producer
//!   state (Kafka's `UnifiedLog`, `LogCleaner` and `ProducerStateManager`);
//! - [`txn`]: the transaction coordinator (Kafka's `TransactionCoordinator`);
//! - [`config`]: typed configuration that also accepts Kafka property names;
//! - [`embedded`]: start a broker inside your process.
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

#![warn(missing_docs)]

pub mod broker;
mod clock;
pub mod config;
pub mod embedded;
pub mod error;
mod fs;
pub mod group;
pub mod handlers;
mod ids;
pub mod log;
pub mod network;
pub mod topics;
pub mod txn;
mod wire;

pub use broker::Broker;
pub use config::{BrokerConfig, FlushPolicy, GroupConfig, TopicConfig};
pub use embedded::{BrokerHandle, EmbeddedBroker};
pub use error::{Error, Result};
pub use network::Server;

/// The address the standalone broker listens on unless told otherwise: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9092";
