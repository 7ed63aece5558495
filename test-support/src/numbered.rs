//! Numbered records for the broker's client tests: `value-<i>` under key `k`, record `i` on
//! partition `i % partitions`, so that what every partition must hold, in order, is known.
//! Produced and read with rdkafka's async clients (`FutureProducer`, `StreamConsumer`).

use std::ops::Range;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

/// Sends records `range` to `topic` through `producer` (configured by the test: linger,
/// idempotence, ...) and waits until every one is delivered.
pub async fn produce_numbered(
    producer: &FutureProducer,
    topic: &str,
    range: Range<usize>,
    partitions: i32,
) {
    let mut deliveries = Vec::with_capacity(range.len());
    for i in range {
        let value = format!("value-{i}");
        let record = FutureRecord::to(topic)
            .key("k")
            .payload(&value)
            .partition((i % partitions as usize) as i32);
        deliveries.push(
            producer
                .send_result(record)
                .map_err(|(e, _)| e)
                .unwrap_or_else(|e| panic!("record {i} for {topic} not queued: {e}")),
        );
    }
    for delivery in deliveries {
        delivery
            .await
            .expect("the producer is alive until delivery")
            .unwrap_or_else(|(e, _)| panic!("a record for {topic} not delivered: {e}"));
    }
}

/// Reads `count` records of `topic`'s `partitions` from the beginning (assigned, in group
/// `group`, committing nothing); returns each partition's values in offset order, asserting
/// that the offsets have no gaps.
pub async fn read_numbered(
    bootstrap: &str,
    group: &str,
    topic: &str,
    partitions: i32,
    count: usize,
) -> Vec<Vec<String>> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("the reader's consumer is created");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .expect("partition added to the assignment");
    }
    consumer.assign(&tpl).expect("assign");
    let mut out = vec![Vec::new(); partitions as usize];
    for _ in 0..count {
        let m = tokio::time::timeout(Duration::from_secs(20), consumer.recv())
            .await
            .expect("a record within 20 s")
            .expect("message");
        let p = m.partition() as usize;
        assert_eq!(m.offset() as usize, out[p].len());
        out[p].push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
    }
    out
}

/// What [`read_numbered`] must return after records `0..n` were produced with
/// [`produce_numbered`].
pub fn numbered(n: usize, partitions: i32) -> Vec<Vec<String>> {
    let mut out = vec![Vec::new(); partitions as usize];
    for i in 0..n {
        out[i % partitions as usize].push(format!("value-{i}"));
    }
    out
}
