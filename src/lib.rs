//! # Rill
//! placeholder
pub use streams_core;
