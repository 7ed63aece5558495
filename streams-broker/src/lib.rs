//! # streams-broker
pub mod config;
pub mod error;
pub mod log;
pub use error::{Error, Result};
/// The address the standalone broker listens on unless told otherwise: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9092";
