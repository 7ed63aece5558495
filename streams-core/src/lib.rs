//! # streams-core
//! placeholder
