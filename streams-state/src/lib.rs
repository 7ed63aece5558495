//! # streams-state
//!
//! State stores for Rill applications. This crate knows nothing of Kafka: stores write their
//! changes through a small changelog trait that the runtime implements with a producer.
//!
//! For now it holds the crate-wide error type; the stores arrive with stateful processing.
//!
//! ```
//! use streams_state::Error;
//! let err = Error::StoreNotFound("counts".into());
//! assert_eq!(err.to_string(), "state store `counts` not found");
//! ```

/// Errors raised by state stores.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A processor asked for a store that is not connected to it.
    #[error("state store `{0}` not found")]
    StoreNotFound(String),
}

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;
