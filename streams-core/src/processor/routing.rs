//! Where a sink sends a record: which topic (a [`TopicNameExtractor`], Kafka's
//! `processor.TopicNameExtractor`, given the record's [`RecordContext`]) and which partitions (a
//! [`StreamPartitioner`], Kafka's `processor.StreamPartitioner`).
//!
//! Both are traits with blanket implementations for closures of the same shape, so a closure
//! does. They run in the sink before serialization, on the typed key and value.

use crate::record::Headers;

/// What a [`TopicNameExtractor`] knows of the record being written, like Kafka's
/// `processor.RecordContext`: where the input record that caused it came from, and the record's
/// own timestamp and headers.
#[derive(Debug, Clone, Copy)]
pub struct RecordContext<'a> {
    pub(crate) topic: Option<&'a str>,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    pub(crate) timestamp: i64,
    pub(crate) headers: &'a Headers,
}

impl<'a> RecordContext<'a> {
    /// The input topic, `None` when a punctuation caused the record (Kafka's `null`).
    pub fn topic(&self) -> Option<&'a str> {
        self.topic
    }

    /// The input partition, -1 when a punctuation caused the record.
    pub fn partition(&self) -> i32 {
        self.partition
    }

    /// The input offset, -1 when a punctuation caused the record.
    pub fn offset(&self) -> i64 {
        self.offset
    }

    /// The timestamp of the record being written.
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// The headers of the record being written.
    pub fn headers(&self) -> &'a Headers {
        self.headers
    }
}

/// Chooses the topic of each record a sink writes, like Kafka's `TopicNameExtractor`; use it
/// with `KStream::to_with_extractor`. The topics are user topics (never prefixed with the
/// application id) and must exist: Kafka Streams creates none of them.
pub trait TopicNameExtractor<K, V>: Send + Sync + 'static {
    /// The topic for this record.
    fn extract(&self, key: &K, value: &V, context: &RecordContext<'_>) -> String;
}

impl<K, V, F> TopicNameExtractor<K, V> for F
where
    F: Fn(&K, &V, &RecordContext<'_>) -> String + Send + Sync + 'static,
{
    fn extract(&self, key: &K, value: &V, context: &RecordContext<'_>) -> String {
        self(key, value, context)
    }
}

/// Chooses the partitions a sink writes each record to, like Kafka's `StreamPartitioner`
/// (KIP-837's `partitions`); use it with `Produced::with_stream_partitioner`.
///
/// `None` leaves the choice to the producer's default partitioner (murmur2 of the key bytes, as
/// Kafka's); `Some` of an empty list drops the record; `Some` of several partitions writes a
/// copy to each (multicast). Partitions must be in `0..num_partitions`.
pub trait StreamPartitioner<K, V>: Send + Sync + 'static {
    /// The partitions of `topic` (which has `num_partitions`) to write this record to.
    fn partitions(&self, topic: &str, key: &K, value: &V, num_partitions: i32) -> Option<Vec<i32>>;
}

impl<K, V, F> StreamPartitioner<K, V> for F
where
    F: Fn(&str, &K, &V, i32) -> Option<Vec<i32>> + Send + Sync + 'static,
{
    fn partitions(&self, topic: &str, key: &K, value: &V, num_partitions: i32) -> Option<Vec<i32>> {
        self(topic, key, value, num_partitions)
    }
}
