//! Producing test input over rdkafka: records with optional keys, values (none: a tombstone)
//! and timestamps, or plain text lines, each call waiting until all are acknowledged.
//!
//! Records are partitioned as Kafka's Java producer does (murmur2 of the key), the partitioner
//! Rill's runtime writes its internal topics with, so that input keyed here is co-partitioned
//! with the repartition and foreign-key topics the application writes.

use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::message::ToBytes;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

/// One record to produce: key, value (`None`: a tombstone) and timestamp (`None`: the
/// producer's clock).
pub type Input<'a> = (Option<&'a [u8]>, Option<&'a [u8]>, Option<i64>);

/// Queues `record`, waiting while librdkafka's local queue is full (the producer's thread
/// drains it as the broker acknowledges); any other error is returned.
pub fn send<K, V>(
    producer: &ThreadedProducer<DefaultProducerContext>,
    mut record: BaseRecord<'_, K, V>,
) -> KafkaResult<()>
where
    K: ToBytes + ?Sized,
    V: ToBytes + ?Sized,
{
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                record = r;
                // Short, so that a benchmark's producer does not idle while the queue drains.
                std::thread::sleep(Duration::from_micros(200));
            }
            Err((e, _)) => return Err(e),
        }
    }
}

/// Produces `records` to `topic` and waits until all are acknowledged; the first error is
/// returned (for callers that report errors rather than panic, such as the examples).
pub fn try_produce<'a>(
    bootstrap: &str,
    topic: &str,
    records: impl IntoIterator<Item = Input<'a>>,
) -> KafkaResult<()> {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "5")
        .create()?;
    for (key, value, timestamp) in records {
        let mut record = BaseRecord::<[u8], [u8]>::to(topic);
        if let Some(value) = value {
            record = record.payload(value);
        }
        if let Some(key) = key {
            record = record.key(key);
        }
        if let Some(timestamp) = timestamp {
            record = record.timestamp(timestamp);
        }
        send(&producer, record)?;
    }
    producer.flush(Duration::from_secs(60))
}

/// Produces `(key, value, timestamp)` records (no value: a tombstone; no timestamp: the
/// producer's clock) and waits until all are acknowledged.
pub fn produce_timestamped<'a>(
    bootstrap: &str,
    topic: &str,
    records: impl IntoIterator<Item = Input<'a>>,
) {
    try_produce(bootstrap, topic, records)
        .unwrap_or_else(|e| panic!("producing to {topic} at {bootstrap} failed: {e}"));
}

/// Produces `(key, value)` records like [`produce_timestamped`], stamped by the producer.
pub fn produce(bootstrap: &str, topic: &str, records: &[(Option<Vec<u8>>, Vec<u8>)]) {
    produce_timestamped(
        bootstrap,
        topic,
        records
            .iter()
            .map(|(k, v)| (k.as_deref(), Some(v.as_slice()), None)),
    );
}

/// Produces text lines without keys.
pub fn produce_lines(bootstrap: &str, topic: &str, lines: &[String]) {
    produce_timestamped(
        bootstrap,
        topic,
        lines.iter().map(|l| (None, Some(l.as_bytes()), None)),
    );
}
