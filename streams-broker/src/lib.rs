//! # streams-broker
//!
//! Rill's bundled broker that speaks the Kafka wire protocol, so that applications run
//! self-contained on one machine. It is built out in its own issue; this crate is its home.
//!
//! ```
//! assert_eq!(streams_broker::DEFAULT_LISTEN, "127.0.0.1:9092");
//! ```

/// The address the standalone broker listens on unless told otherwise: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9092";
