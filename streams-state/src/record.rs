//! The records a store sees: the changelog records it is restored from and the context of the
//! record being processed, which stamps what it writes.
//!
//! A [`ChangelogRecord`] is one entry of a store's changelog topic, as a changelogging store
//! sends it and as restoring reads it back (Kafka Streams restores from the `ConsumerRecord`s of
//! the changelog). A [`RecordContext`] carries the timestamp of the record being processed, like
//! Kafka's `ProcessorRecordContext`. Both sit below the store traits, the changelogging wrappers
//! and the record caches, which all use them without depending on one another.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// One record of a changelog, as sent or as read back for restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangelogRecord {
    /// Changelog key (the store kind's changelog key format).
    pub key: Vec<u8>,
    /// The new value, or `None` for a tombstone.
    pub value: Option<Vec<u8>>,
    /// Record timestamp, in milliseconds.
    pub timestamp: i64,
    /// Offset in the changelog partition (assigned by the log; `-1` when not known).
    pub offset: i64,
}

impl ChangelogRecord {
    /// A record with an unknown offset.
    pub fn new(key: impl Into<Vec<u8>>, value: Option<Vec<u8>>, timestamp: i64) -> Self {
        ChangelogRecord {
            key: key.into(),
            value,
            timestamp,
            offset: -1,
        }
    }
}

/// The context of the record being processed, shared between the runtime (which sets it) and
/// the stores (which stamp changelog records with it), like Kafka's `ProcessorRecordContext`.
/// Clones share the same value.
#[derive(Debug, Clone, Default)]
pub struct RecordContext {
    timestamp: Arc<AtomicI64>,
}

impl RecordContext {
    /// A context with timestamp 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the timestamp of the record being processed.
    #[inline]
    pub fn set_timestamp(&self, timestamp: i64) {
        self.timestamp.store(timestamp, Ordering::Relaxed);
    }

    /// The timestamp of the record being processed.
    #[inline]
    pub fn timestamp(&self) -> i64 {
        self.timestamp.load(Ordering::Relaxed)
    }
}
