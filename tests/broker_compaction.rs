//! Specification: log compaction (`cleanup.policy=compact`), seen by real clients.
//!
//! - An `rdkafka` producer writes five versions of each of 1,000 keys (lz4-compressed,
//!   small segments), then tombstones for a tenth of the keys and new values for a few of
//!   those. After a forced clean, a consumer reading from the beginning sees, in offset
//!   order, exactly one record per key: its latest value, or its tombstone. Tombstones stay
//!   for `delete.retention.ms` after that clean, then a later clean removes them. A restart
//!   keeps the compacted log, and producing goes on at the next offset.
//! - A record without a key is refused with `INVALID_RECORD`, each such record named by its
//!   index in the batch, as Kafka does (checked on the wire too).
//! - The background cleaner compacts on its own once the dirty ratio is reached.
//! - `cleanup.policy=compact,delete`: time retention still deletes old segments.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::messages::{produce_request, ProduceRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use rill_test_support::protocol::RawClient;
use streams_broker::{BrokerConfig, EmbeddedBroker};

const KEYS: usize = 1000;
const VERSIONS: usize = 5;

fn new_producer(bootstrap: &str) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("compression.type", "lz4")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "10000")
        .create()
        .expect("producer")
}

/// Sends `(key, value)` records (a `None` value is a tombstone), optionally with a
/// timestamp, and waits for every acknowledgement.
async fn send(
    producer: &FutureProducer,
    topic: &str,
    records: &[(String, Option<String>)],
    timestamp: Option<i64>,
) {
    let mut deliveries = Vec::with_capacity(records.len());
    for (k, v) in records {
        let mut record = FutureRecord::to(topic).key(k.as_str()).partition(0);
        if let Some(v) = v {
            record = record.payload(v.as_str());
        }
        if let Some(ts) = timestamp {
            record = record.timestamp(ts);
        }
        deliveries.push(
            producer
                .send_result(record)
                .map_err(|(e, _)| e)
                .expect("queued"),
        );
    }
    for d in deliveries {
        d.await.expect("future").expect("delivered");
    }
}

/// Everything a consumer reads from the beginning up to offset `end` (exclusive):
/// `(offset, key, value)`.
async fn read_from_beginning(
    bootstrap: &str,
    topic: &str,
    end: i64,
) -> Vec<(i64, String, Option<String>)> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "compaction-test")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Beginning)
        .expect("tpl");
    consumer.assign(&tpl).expect("assign");
    let mut out = Vec::new();
    loop {
        let m = tokio::time::timeout(Duration::from_secs(20), consumer.recv())
            .await
            .expect("in time")
            .expect("message");
        let key = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
        let value = m.payload().map(|p| String::from_utf8_lossy(p).into_owned());
        out.push((m.offset(), key, value));
        if m.offset() + 1 >= end {
            return out;
        }
    }
}

fn key(i: usize) -> String {
    format!("key-{i:04}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compacted_topic_keeps_the_latest_value_of_every_key() {
    let dir = tempfile::tempdir().expect("dir");
    let broker = EmbeddedBroker::start(BrokerConfig::with_data_dir(dir.path())).expect("start");
    let topic = "changelog";
    let log = broker
        .create_topic_with_config(
            topic,
            1,
            &[
                ("cleanup.policy", "compact"),
                ("segment.bytes", "4096"),
                ("segment.ms", "1000"),
                ("delete.retention.ms", "0"),
            ],
        )
        .expect("topic")
        .partitions[0]
        .clone();
    let producer = new_producer(&broker.bootstrap());

    // Five versions of every key, then tombstones for every tenth key, then a new value
    // for every fiftieth (deleted, then written again).
    let mut expected: BTreeMap<String, Option<String>> = BTreeMap::new();
    for version in 0..VERSIONS {
        let records: Vec<_> = (0..KEYS)
            .map(|i| (key(i), Some(format!("{}-v{version}", key(i)))))
            .collect();
        send(&producer, topic, &records, None).await;
        expected.extend(records);
    }
    let tombstones: Vec<_> = (0..KEYS).step_by(10).map(|i| (key(i), None)).collect();
    send(&producer, topic, &tombstones, None).await;
    expected.extend(tombstones);
    let revived: Vec<_> = (0..KEYS)
        .step_by(50)
        .map(|i| (key(i), Some(format!("{}-revived", key(i)))))
        .collect();
    send(&producer, topic, &revived, None).await;
    expected.extend(revived);
    let written = (KEYS * VERSIONS + KEYS / 10 + KEYS / 50) as i64;
    assert_eq!(log.log_end_offset(), written);
    assert!(log.segment_count() > 5, "{} segments", log.segment_count());

    // A record without a key has no place in a compacted topic.
    let refused = producer
        .send(
            FutureRecord::<(), _>::to(topic)
                .payload("no key")
                .partition(0),
            Duration::from_secs(10),
        )
        .await;
    assert!(
        matches!(
            refused,
            Err((
                KafkaError::MessageProduction(RDKafkaErrorCode::InvalidRecord),
                _
            ))
        ),
        "{refused:?}"
    );

    // Close the segment holding the last records (segment.ms) with one more record, so
    // that every record written above is in a closed, cleanable segment.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    send(
        &producer,
        topic,
        &[("sentinel".into(), Some("end".into()))],
        None,
    )
    .await;
    expected.insert("sentinel".into(), Some("end".into()));
    let end = written + 1;

    let stats = broker.compact_now().expect("clean");
    assert!(
        stats.records_removed >= (KEYS * (VERSIONS - 1)) as u64,
        "{stats:?}"
    );
    assert!(stats.bytes_after < stats.bytes_before / 2, "{stats:?}");

    // One record per key, in offset order: the latest value, or the tombstone.
    let seen = read_from_beginning(&broker.bootstrap(), topic, end).await;
    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "offsets increase");
    let as_map: BTreeMap<String, Option<String>> = seen
        .iter()
        .map(|(_, k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(seen.len(), as_map.len(), "one record per key");
    assert_eq!(as_map, expected);

    // Tombstones had their delete.retention.ms (0 here) from the first clean: the next
    // clean removes them. Live keys stay.
    let stats = broker.compact_now().expect("clean");
    assert_eq!(
        stats.tombstones_removed,
        (KEYS / 10 - KEYS / 50) as u64,
        "{stats:?}"
    );
    let live: BTreeMap<String, Option<String>> = expected
        .iter()
        .filter(|(_, v)| v.is_some())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let seen = read_from_beginning(&broker.bootstrap(), topic, end).await;
    let as_map: BTreeMap<String, Option<String>> = seen
        .iter()
        .map(|(_, k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(seen.len(), live.len());
    assert_eq!(as_map, live);
    drop(producer);
    drop(log);
    broker.shutdown().expect("shutdown");

    // A restart keeps the compacted log; new records continue the offsets.
    let broker = EmbeddedBroker::start(BrokerConfig::with_data_dir(dir.path())).expect("restart");
    let after_restart = read_from_beginning(&broker.bootstrap(), topic, end).await;
    assert_eq!(after_restart, seen);
    let producer = new_producer(&broker.bootstrap());
    send(
        &producer,
        topic,
        &[(key(1), Some("after-restart".into()))],
        None,
    )
    .await;
    let log = broker.topic(topic).expect("topic").partitions[0].clone();
    assert_eq!(log.log_end_offset(), end + 1);
    let last = read_from_beginning(&broker.bootstrap(), topic, end + 1).await;
    assert_eq!(
        last.last(),
        Some(&(end, key(1), Some("after-restart".to_string())))
    );
    drop(producer);
    broker.shutdown().expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_background_cleaner_compacts_on_its_own() {
    let mut config = BrokerConfig::default();
    config.set("log.cleaner.backoff.ms", "100").expect("config");
    let broker = EmbeddedBroker::start(config).expect("start");
    let topic = "background";
    let log = broker
        .create_topic_with_config(
            topic,
            1,
            &[("cleanup.policy", "compact"), ("segment.bytes", "2048")],
        )
        .expect("topic")
        .partitions[0]
        .clone();
    let producer = new_producer(&broker.bootstrap());
    let mut latest = BTreeMap::new();
    for version in 0..10 {
        let records: Vec<_> = (0..100)
            .map(|i| (key(i), Some(format!("{}-v{version}", key(i)))))
            .collect();
        send(&producer, topic, &records, None).await;
        latest.extend(records);
    }
    let end = log.log_end_offset();
    assert_eq!(end, 1000);
    assert!(log.segment_count() > 2, "closed segments to clean");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while log.first_dirty_offset() == 0 {
        assert!(tokio::time::Instant::now() < deadline, "no clean happened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen = read_from_beginning(&broker.bootstrap(), topic, end).await;
    assert!(seen.len() < 1000, "{} records left", seen.len());
    let as_map: BTreeMap<String, Option<String>> = seen
        .iter()
        .map(|(_, k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(
        as_map, latest,
        "the last record read of each key is its latest value"
    );
    drop(producer);
    broker.shutdown().expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compact_and_delete_topics_are_compacted_and_trimmed_by_time() {
    let broker = EmbeddedBroker::start(BrokerConfig::default()).expect("start");
    let topic = "both";
    let log = broker
        .create_topic_with_config(
            topic,
            1,
            &[
                ("cleanup.policy", "compact,delete"),
                ("segment.bytes", "1024"),
                ("retention.ms", "600000"),
            ],
        )
        .expect("topic")
        .partitions[0]
        .clone();
    let producer = new_producer(&broker.bootstrap());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    // Old records (two hours ago), then recent ones for other keys, several versions each.
    for version in 0..3 {
        let old: Vec<_> = (0..200)
            .map(|i| (format!("old-{i}"), Some(format!("v{version}"))))
            .collect();
        send(&producer, topic, &old, Some(now - 7_200_000)).await;
    }
    for version in 0..3 {
        let recent: Vec<_> = (0..200)
            .map(|i| (format!("recent-{i}"), Some(format!("v{version}"))))
            .collect();
        send(&producer, topic, &recent, None).await;
    }
    let end = log.log_end_offset();
    // Retention first: the cleaner may merge an old segment with a newer neighbour (as Kafka's
    // does), after which the old records live as long as the newest in their segment.
    assert!(broker.enforce_retention() > 0, "old segments expire");
    assert!(broker.compact_now().expect("clean").records_removed > 0);
    let start = log.log_start_offset();
    assert!(start > 0);
    let seen = read_from_beginning(&broker.bootstrap(), topic, end).await;
    assert!(seen.first().is_some_and(|(o, _, _)| *o >= start));
    let recent: BTreeMap<String, Option<String>> = seen
        .iter()
        .filter(|(_, k, _)| k.starts_with("recent-"))
        .map(|(_, k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(recent.len(), 200, "recent keys all survive");
    assert!(recent.values().all(|v| v.as_deref() == Some("v2")));
    let old = seen
        .iter()
        .filter(|(_, k, _)| k.starts_with("old-"))
        .count();
    assert!(old < 200, "{old} old records left");
    drop(producer);
    broker.shutdown().expect("shutdown");
}

#[test]
fn records_without_a_key_are_named_in_the_invalid_record_error() {
    let broker = EmbeddedBroker::start(BrokerConfig::default()).expect("start");
    let log = broker
        .create_topic_with_config("keyed", 1, &[("cleanup.policy", "compact")])
        .expect("topic")
        .partitions[0]
        .clone();
    let keys = [Some("a"), None, Some("c"), None];
    let records: Vec<Record> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // One batch: the encoder keeps `offset - sequence` constant within a batch.
            sequence: i as i32 - 1,
            timestamp: 1_700_000_000_000,
            key: k.map(|k| Bytes::from(k.to_string())),
            value: Some(Bytes::from(format!("value-{i}"))),
            headers: IndexMap::new(),
        })
        .collect();
    let mut batch = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut batch,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::Gzip,
        },
    )
    .expect("batch");
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![produce_request::TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_static_str("keyed")))
            .with_partition_data(vec![
                produce_request::PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(batch.freeze())),
            ])]);
    let mut client = RawClient::connect(broker.addr());
    let response = client.request(9, &request);
    let p = &response.responses[0].partition_responses[0];
    assert_eq!(p.error_code, 87, "INVALID_RECORD");
    let indexes: Vec<i32> = p.record_errors.iter().map(|e| e.batch_index).collect();
    assert_eq!(indexes, [1, 3]);
    let message = p.record_errors[0]
        .batch_index_error_message
        .as_ref()
        .map(|m| m.to_string())
        .unwrap_or_default();
    assert!(
        message.starts_with("Compacted topic cannot accept message without key"),
        "{message}"
    );
    let summary = p
        .error_message
        .as_ref()
        .map(|m| m.to_string())
        .unwrap_or_default();
    assert!(
        summary.starts_with("One or more records have been rejected due to 2 record errors"),
        "{summary}"
    );
    assert_eq!(log.log_end_offset(), 0, "the whole batch is refused");
    drop(log);
    broker.shutdown().expect("shutdown");
}
