//! Specification: where the runtime reads from and writes to, against the embedded broker.
//!
//! - A pattern source (`StreamsBuilder::stream_pattern`) reads every topic that matches when
//!   the application starts.
//! - A sink with a `StreamPartitioner` writes each record to the partition it picks, and the
//!   partitioner is told the topic's real partition count.
//! - A source with `AutoOffsetReset::latest()` and no committed offset starts at the end: what
//!   was in the topic before the application started is not read; a source without a policy
//!   reads from the start (Kafka Streams' default `earliest`).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use rill::prelude::*;
use rill::AutoOffsetReset;
use rill_test_support::*;

/// Reads `topic`'s `partitions` from the start until `want` records arrived, then for `linger`
/// more (to see any record that should not be there); returns (partition, key, value) of each.
fn read_partitioned(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    want: usize,
    linger: Duration,
) -> Vec<(i32, String, String)> {
    let timeout = Duration::from_secs(60);
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("reader-{topic}"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut assignment = TopicPartitionList::new();
    for partition in 0..partitions {
        assignment
            .add_partition_offset(topic, partition, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).expect("assign");
    let deadline = Instant::now() + timeout;
    let mut read = Vec::new();
    let mut until = None;
    while until.is_none_or(|until| Instant::now() < until) {
        if read.len() >= want && until.is_none() {
            until = Some(Instant::now() + linger);
        }
        assert!(
            Instant::now() < deadline,
            "timed out reading {topic}; read so far: {read:?}"
        );
        if let Some(message) = consumer.poll(Duration::from_millis(50)) {
            let message = message.expect("consume");
            read.push((
                message.partition(),
                String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned(),
                String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned(),
            ));
        }
    }
    read
}

fn produce_strings(bootstrap: &str, topic: &str, records: &[(&str, &str)]) {
    produce_timestamped(
        bootstrap,
        topic,
        records
            .iter()
            .map(|(k, v)| (Some(k.as_bytes()), Some(v.as_bytes()), None)),
    );
}

#[test]
fn pattern_sources_partitioners_and_latest_offset_reset() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let id = unique();
    let (in_a, in_b, unmatched) = (
        format!("in-{id}-a"),
        format!("in-{id}-b"),
        format!("other-{id}"),
    );
    let (latest, earliest) = (format!("latest-{id}"), format!("earliest-{id}"));
    let (out, out_latest) = (format!("out-{id}"), format!("out-latest-{id}"));
    for topic in [&in_a, &in_b, &unmatched] {
        broker.create_topic(topic, 2).unwrap();
    }
    for topic in [&latest, &earliest, &out_latest] {
        broker.create_topic(topic, 1).unwrap();
    }
    broker.create_topic(&out, 3).unwrap();
    // Written before the application starts: read from `earliest`, skipped on `latest`.
    produce_strings(&bootstrap, &latest, &[("old", "before start")]);
    produce_strings(&bootstrap, &earliest, &[("old", "before start")]);

    let counts_seen = Arc::new(Mutex::new(BTreeSet::new()));
    let seen = Arc::clone(&counts_seen);
    let builder = StreamsBuilder::new();
    let strings = || Consumed::with(Serdes::string(), Serdes::string());
    builder
        .stream_pattern(&format!(r"in-{id}-[a-z]"), strings())
        .to(
            &out,
            Produced::with(Serdes::string(), Serdes::string()).with_stream_partitioner(
                move |_topic: &str, _key: &String, _value: &String, partitions: i32| {
                    seen.lock().unwrap().insert(partitions);
                    Some(vec![partitions - 1])
                },
            ),
        );
    builder
        .stream(
            &latest,
            strings().with_offset_reset_policy(AutoOffsetReset::latest()),
        )
        .merge(&builder.stream(&earliest, strings()))
        .to(
            &out_latest,
            Produced::with(Serdes::string(), Serdes::string()),
        );
    let dir = tempfile::tempdir().unwrap();
    let streams = KafkaStreams::new(
        builder.build().expect("topology"),
        config(&format!("sources-{id}"), &bootstrap, dir.path()),
    )
    .unwrap();
    streams.start().unwrap();
    wait_running(&streams, Duration::from_secs(60));

    produce_strings(&bootstrap, &in_a, &[("k1", "a1"), ("k2", "a2")]);
    produce_strings(&bootstrap, &in_b, &[("k3", "b1")]);
    produce_strings(&bootstrap, &unmatched, &[("k4", "never")]);
    produce_strings(&bootstrap, &latest, &[("new", "after start")]);

    let mut routed = read_partitioned(&bootstrap, &out, 3, 3, Duration::from_millis(500));
    routed.sort();
    assert_eq!(
        routed,
        [
            (2, "k1".to_string(), "a1".to_string()),
            (2, "k2".to_string(), "a2".to_string()),
            (2, "k3".to_string(), "b1".to_string()),
        ]
    );
    assert_eq!(*counts_seen.lock().unwrap(), BTreeSet::from([3]));

    // The record written to `latest` before the start stays unread.
    let mut reset = read_partitioned(&bootstrap, &out_latest, 1, 2, Duration::from_secs(2));
    reset.sort();
    assert_eq!(
        reset,
        [
            (0, "new".to_string(), "after start".to_string()),
            (0, "old".to_string(), "before start".to_string()),
        ]
    );
    assert!(streams.close(Duration::from_secs(30)));
}
