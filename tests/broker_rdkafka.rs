//! Specification: the bundled broker works with `rdkafka` (librdkafka) unchanged.
//!
//! - A `FutureProducer` writes 100,000 records with keys, values, headers and explicit
//!   timestamps across 4 partitions, in five topics that use each compression codec
//!   (none, gzip, snappy, lz4, zstd); a `StreamConsumer` with `assign()` reads them all back
//!   in order per partition, byte for byte.
//! - The admin client creates topics with configs, describes them (every topic config,
//!   with Kafka's defaults) and deletes them.
//! - The admin client grows a topic's partitions (a shrink is refused), replaces its configs
//!   (`AlterConfigs`: the keys not named go back to their defaults; a request with an unknown
//!   key changes nothing), and deletes records, after which a consumer starting from the
//!   beginning reads from the new low watermark.

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::admin::{
    AdminClient, AdminOptions, AlterConfig, NewPartitions, NewTopic, ResourceSpecifier,
    TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders, Timestamp};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use streams_broker::{BrokerConfig, EmbeddedBroker};

const PARTITIONS: i32 = 4;
const RECORDS_PER_CODEC: usize = 20_000;
const CODECS: [&str; 5] = ["none", "gzip", "snappy", "lz4", "zstd"];
const BASE_TS: i64 = 1_700_000_000_000;

fn key(i: usize) -> String {
    format!("key-{i}")
}

fn value(codec: &str, i: usize) -> Vec<u8> {
    // Compressible but not trivial: the codec has something to do.
    format!("{codec}-value-{i:08}-{}", "x".repeat(i % 50)).into_bytes()
}

async fn produce(bootstrap: &str, topic: &str, codec: &str) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("compression.type", codec)
        .set("linger.ms", "5")
        .set("acks", "all")
        .create()
        .expect("producer");
    let mut deliveries = Vec::with_capacity(RECORDS_PER_CODEC);
    for i in 0..RECORDS_PER_CODEC {
        let k = key(i);
        let v = value(codec, i);
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "index",
                value: Some(&i.to_string()),
            })
            .insert(Header {
                key: "codec",
                value: Some(codec),
            })
            .insert(Header::<&[u8]> {
                key: "null",
                value: None,
            });
        let mut record = FutureRecord::to(topic)
            .key(&k)
            .payload(&v)
            .partition((i % PARTITIONS as usize) as i32)
            .timestamp(BASE_TS + i as i64)
            .headers(headers);
        loop {
            match producer.send_result(record) {
                Ok(d) => {
                    deliveries.push(d);
                    break;
                }
                // Local queue full: wait for deliveries to drain it.
                Err((_, r)) => {
                    record = r;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }
    }
    for (i, d) in deliveries.into_iter().enumerate() {
        let delivery = d.await.expect("delivery future").expect("delivered");
        assert_eq!(delivery.partition, (i % PARTITIONS as usize) as i32);
    }
}

async fn consume_and_check(bootstrap: &str, topic: &str, codec: &str) {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "rill-test")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .expect("tpl");
    }
    consumer.assign(&tpl).expect("assign");
    let mut next_per_partition: HashMap<i32, usize> = HashMap::new();
    let mut seen = 0;
    while seen < RECORDS_PER_CODEC {
        let msg = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .expect("records arrive in time")
            .expect("consume");
        let p = msg.partition();
        let next = next_per_partition.entry(p).or_insert(0);
        // Records of partition p are the indexes i with i % 4 == p, in order.
        let i = *next * PARTITIONS as usize + p as usize;
        assert_eq!(
            msg.offset(),
            *next as i64,
            "offsets are dense per partition"
        );
        assert_eq!(msg.key(), Some(key(i).as_bytes()));
        assert_eq!(msg.payload(), Some(value(codec, i).as_slice()));
        assert_eq!(msg.timestamp(), Timestamp::CreateTime(BASE_TS + i as i64));
        let headers = msg.headers().expect("headers");
        assert_eq!(headers.count(), 3);
        assert_eq!(headers.get(0).key, "index");
        assert_eq!(headers.get(0).value, Some(i.to_string().as_bytes()));
        assert_eq!(headers.get(1).value, Some(codec.as_bytes()));
        assert_eq!(headers.get(2).key, "null");
        assert_eq!(headers.get(2).value, None);
        *next += 1;
        seen += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_and_consume_100k_records_with_every_codec() {
    let broker = EmbeddedBroker::start(BrokerConfig::default()).expect("broker starts");
    let bootstrap = broker.bootstrap();
    for codec in CODECS {
        let topic = format!("codec-{codec}");
        broker.create_topic(&topic, PARTITIONS).expect("topic");
        produce(&bootstrap, &topic, codec).await;
        consume_and_check(&bootstrap, &topic, codec).await;
    }
    let topic = broker.topic("codec-zstd").expect("topic");
    let total: i64 = topic.partitions.iter().map(|p| p.log_end_offset()).sum();
    assert_eq!(total, RECORDS_PER_CODEC as i64);
    broker.shutdown().expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_client_creates_describes_and_deletes_topics() {
    let broker = EmbeddedBroker::start(BrokerConfig::default()).expect("broker starts");
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .create()
        .expect("admin");
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let topics = [
        NewTopic::new("admin-a", 3, TopicReplication::Fixed(1))
            .set("retention.ms", "3600000")
            .set("cleanup.policy", "compact"),
        NewTopic::new("admin-b", 1, TopicReplication::Fixed(3)),
        NewTopic::new("admin-c", 2, TopicReplication::Fixed(1)).set("no.such.config", "1"),
    ];
    let results = admin.create_topics(&topics, &opts).await.expect("create");
    assert!(results[0].is_ok(), "{:?}", results[0]);
    assert!(
        results[1].is_err(),
        "replication factor 3 is refused on one node"
    );
    assert!(results[2].is_err(), "unknown configs are refused");
    let again = admin
        .create_topics(&topics[..1], &opts)
        .await
        .expect("create again");
    assert!(again[0].is_err(), "topic already exists");

    let described = admin
        .describe_configs(&[ResourceSpecifier::Topic("admin-a")], &opts)
        .await
        .expect("describe");
    let resource = described[0].as_ref().expect("topic described");
    let entries = resource.entry_map();
    assert_eq!(entries["retention.ms"].value.as_deref(), Some("3600000"));
    assert!(!entries["retention.ms"].is_default);
    assert_eq!(entries["cleanup.policy"].value.as_deref(), Some("compact"));
    assert_eq!(
        entries["segment.bytes"].value.as_deref(),
        Some("1073741824")
    );
    assert!(entries["segment.bytes"].is_default);
    assert_eq!(entries["retention.bytes"].value.as_deref(), Some("-1"));
    assert!(entries.len() >= 25, "every topic config is described");

    let metadata = admin
        .inner()
        .fetch_metadata(Some("admin-a"), Duration::from_secs(5))
        .expect("metadata");
    assert_eq!(metadata.topics()[0].partitions().len(), 3);

    let deleted = admin
        .delete_topics(&["admin-a", "missing"], &opts)
        .await
        .expect("delete");
    assert!(deleted[0].is_ok());
    assert!(deleted[1].is_err());
    assert!(broker.topic("admin-a").is_none());
    broker.shutdown().expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_client_grows_partitions_alters_configs_and_deletes_records() {
    let broker = EmbeddedBroker::start(BrokerConfig::default()).expect("broker starts");
    let bootstrap = broker.bootstrap();
    broker
        .create_topic_with_config("grow", 2, &[("retention.ms", "3600000")])
        .expect("topic");
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .expect("admin");
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));

    let grown = admin
        .create_partitions(&[NewPartitions::new("grow", 6)], &opts)
        .await
        .expect("create partitions");
    assert!(grown[0].is_ok(), "{:?}", grown[0]);
    let shrunk = admin
        .create_partitions(&[NewPartitions::new("grow", 3)], &opts)
        .await
        .expect("create partitions");
    assert!(shrunk[0].is_err(), "a topic never shrinks");
    let metadata = admin
        .inner()
        .fetch_metadata(Some("grow"), Duration::from_secs(5))
        .expect("metadata");
    assert_eq!(metadata.topics()[0].partitions().len(), 6);

    // AlterConfigs replaces the whole set: retention.ms goes back to its default.
    let altered = admin
        .alter_configs(
            &[AlterConfig::new(ResourceSpecifier::Topic("grow")).set("segment.ms", "600000")],
            &opts,
        )
        .await
        .expect("alter configs");
    assert!(altered[0].is_ok(), "{:?}", altered[0]);
    // An unknown key is refused and nothing changes. (rust-rdkafka's `alter_configs` reports
    // every resource as `Ok` whatever its error code, so the configs tell.)
    admin
        .alter_configs(
            &[AlterConfig::new(ResourceSpecifier::Topic("grow"))
                .set("segment.ms", "1000")
                .set("no.such.config", "1")],
            &opts,
        )
        .await
        .expect("alter configs");
    let described = admin
        .describe_configs(&[ResourceSpecifier::Topic("grow")], &opts)
        .await
        .expect("describe");
    let entries = described[0].as_ref().expect("described").entry_map();
    assert_eq!(entries["segment.ms"].value.as_deref(), Some("600000"));
    assert_eq!(entries["retention.ms"].value.as_deref(), Some("604800000"));
    assert!(entries["retention.ms"].is_default);

    // DeleteRecords: the low watermark moves, and consumers start there.
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .expect("producer");
    for i in 0..10 {
        producer
            .send(
                FutureRecord::to("grow")
                    .partition(0)
                    .key(&format!("k{i}"))
                    .payload(&format!("v{i}")),
                Duration::from_secs(5),
            )
            .await
            .expect("produced");
    }
    let mut offsets = TopicPartitionList::new();
    offsets
        .add_partition_offset("grow", 0, Offset::Offset(7))
        .expect("offset");
    let deleted = admin
        .delete_records(&offsets, &opts)
        .await
        .expect("delete records");
    let element = deleted.find_partition("grow", 0).expect("partition 0");
    assert_eq!(element.offset(), Offset::Offset(7));
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", "grow-reader")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset("grow", 0, Offset::Beginning)
        .expect("assignment");
    consumer.assign(&assignment).expect("assign");
    let first = tokio::time::timeout(Duration::from_secs(10), consumer.recv())
        .await
        .expect("a record in time")
        .expect("a record");
    assert_eq!(first.offset(), 7);
    assert_eq!(first.payload(), Some(&b"v7"[..]));
    // The message holds the consumer's partition: release it, then the clients, then the
    // broker (a consumer closing against a stopped broker waits).
    drop(first);
    drop(consumer);
    drop(producer);
    drop(admin);
    broker.shutdown().expect("clean shutdown");
}
