//! Specification: data survives restarts, and a crash that tears the last write is
//! recovered from.
//!
//! - Records produced with `rdkafka` across several segments are all consumed back after
//!   the broker is stopped and started again on the same data directory; topic ids and
//!   configs persist, and new records continue the offsets.
//! - A torn tail (a half-written batch, as a crash leaves it) is cut off at start-up: the
//!   broker starts, serves every complete batch, and appends after them.

use rdkafka::config::ClientConfig;
use rdkafka::producer::FutureProducer;
use rill_test_support::numbered::{numbered, produce_numbered, read_numbered};
use streams_broker::{BrokerConfig, EmbeddedBroker};

const PARTITIONS: i32 = 3;

async fn produce(bootstrap: &str, topic: &str, range: std::ops::Range<usize>) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "2")
        .set("batch.num.messages", "100")
        .create()
        .expect("producer");
    produce_numbered(&producer, topic, range, PARTITIONS).await;
}

async fn consume_all(bootstrap: &str, topic: &str, expected: usize) -> Vec<Vec<String>> {
    read_numbered(bootstrap, "restart-test", topic, PARTITIONS, expected).await
}

fn expected(n: usize) -> Vec<Vec<String>> {
    numbered(n, PARTITIONS)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_survive_a_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let broker = EmbeddedBroker::start(BrokerConfig::with_data_dir(dir.path())).expect("start");
    let topic = broker
        .create_topic_with_config("durable", PARTITIONS, &[("segment.bytes", "4096")])
        .expect("topic");
    let id = topic.id;
    produce(&broker.bootstrap(), "durable", 0..3000).await;
    assert!(
        topic.partitions[0].segment_count() > 2,
        "several segments were rolled"
    );
    drop(topic);
    broker.shutdown().expect("shutdown");

    let broker = EmbeddedBroker::start(BrokerConfig::with_data_dir(dir.path())).expect("restart");
    let topic = broker.topic("durable").expect("topic persisted");
    assert_eq!(topic.id, id, "topic id is stable");
    assert_eq!(topic.config.segment_bytes(), 4096, "topic config persisted");
    assert_eq!(
        consume_all(&broker.bootstrap(), "durable", 3000).await,
        expected(3000)
    );
    produce(&broker.bootstrap(), "durable", 3000..3300).await;
    assert_eq!(
        consume_all(&broker.bootstrap(), "durable", 3300).await,
        expected(3300)
    );
    broker.shutdown().expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_torn_tail_is_truncated_at_startup() {
    let dir = tempfile::tempdir().expect("dir");
    let broker = EmbeddedBroker::start(BrokerConfig::with_data_dir(dir.path())).expect("start");
    broker.create_topic("torn", PARTITIONS).expect("topic");
    produce(&broker.bootstrap(), "torn", 0..300).await;
    let before = broker.topic("torn").expect("t").partitions[0].log_end_offset();
    broker.shutdown().expect("shutdown");

    // Simulate a crash during a write: half a batch (a copy of the segment's own first
    // bytes) appended to partition 0's newest segment.
    let segment = std::fs::read_dir(dir.path().join("torn-0"))
        .expect("partition dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .max()
        .expect("segment");
    let mut data = std::fs::read(&segment).expect("read");
    let tail = data[..data.len().min(40)].to_vec();
    data.extend_from_slice(&tail);
    std::fs::write(&segment, &data).expect("tear");

    let broker = EmbeddedBroker::start(BrokerConfig::with_data_dir(dir.path())).expect("restart");
    let log = broker.topic("torn").expect("t").partitions[0].clone();
    assert_eq!(log.log_end_offset(), before, "only the torn bytes are gone");
    assert_eq!(
        consume_all(&broker.bootstrap(), "torn", 300).await,
        expected(300)
    );
    produce(&broker.bootstrap(), "torn", 300..330).await;
    assert_eq!(
        consume_all(&broker.bootstrap(), "torn", 330).await,
        expected(330)
    );
    broker.shutdown().expect("shutdown");
}
