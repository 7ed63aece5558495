//! Event time per source: a [`TimestampExtractor`] gives each record read from a topic its
//! timestamp, like Kafka Streams' `processor.TimestampExtractor`, set per source with
//! `Consumed::with_timestamp_extractor`. Without one, a record's timestamp is the one it was
//! written with (Kafka's default `FailOnInvalidTimestamp`: a negative one fails the task).
//!
//! As in Kafka's `RecordQueue`, a record whose extracted timestamp is negative is skipped with a
//! warning, and the extractor is told the partition time: the largest timestamp extracted so
//! far in the record's partition (-1 before the first). Unlike Kafka, the runtime picks the
//! next record of a task by the timestamps the records were written with.

use crate::record::Record;

/// Gives each record of a source its timestamp, like Kafka's `TimestampExtractor`: from its
/// key, value, written timestamp (`record.timestamp`) and headers, and the partition time.
pub trait TimestampExtractor<K, V>: Send + Sync + 'static {
    /// The record's event time in milliseconds; negative to skip the record.
    fn extract(&self, record: &Record<K, V>, partition_time: i64) -> i64;
}

impl<K, V, F> TimestampExtractor<K, V> for F
where
    F: Fn(&Record<K, V>, i64) -> i64 + Send + Sync + 'static,
{
    fn extract(&self, record: &Record<K, V>, partition_time: i64) -> i64 {
        self(record, partition_time)
    }
}
