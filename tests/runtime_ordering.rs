//! A task reading several partitions processes their records in timestamp order (Kafka's
//! lowest-timestamp-first choice), even when every input was produced before the application
//! started and the consumer fetches one partition's backlog long before the other's.

use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rill::prelude::*;
use rill_test_support::*;

/// Reads `count` records of `topic` and returns their timestamps in offset order.
fn read_timestamps(bootstrap: &str, topic: &str, count: usize) -> Vec<i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("reader-{topic}"))
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut timestamps = Vec::with_capacity(count);
    while timestamps.len() < count {
        assert!(
            Instant::now() < deadline,
            "only {} of {count} records arrived",
            timestamps.len()
        );
        if let Some(message) = consumer.poll(Duration::from_millis(50)) {
            let message = message.expect("consume");
            timestamps.push(message.timestamp().to_millis().expect("timestamp"));
        }
    }
    timestamps
}

fn merged_in_timestamp_order(max_task_idle_ms: &str, guarantee: &str) {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let id = unique();
    let (left, right, output) = (
        format!("left-{id}"),
        format!("right-{id}"),
        format!("merged-{id}"),
    );
    for topic in [&left, &right, &output] {
        broker.create_topic(topic, 1).unwrap();
    }
    // Even timestamps on the left, odd ones on the right: any record processed out of turn
    // shows up as a decreasing timestamp in the merged output.
    const PER_SIDE: i64 = 20_000;
    let value = [0u8; 100];
    produce_timestamped(
        &bootstrap,
        &left,
        (0..PER_SIDE).map(|i| (Some(&b"k"[..]), Some(&value[..]), Some(1_000_000 + 2 * i))),
    );
    produce_timestamped(
        &bootstrap,
        &right,
        (0..PER_SIDE).map(|i| (Some(&b"k"[..]), Some(&value[..]), Some(1_000_001 + 2 * i))),
    );

    let builder = StreamsBuilder::new();
    let l = builder.stream(&left, Consumed::with(Serdes::bytes(), Serdes::bytes()));
    let r = builder.stream(&right, Consumed::with(Serdes::bytes(), Serdes::bytes()));
    l.merge(&r)
        .to(&output, Produced::with(Serdes::bytes(), Serdes::bytes()));
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&format!("ordering-{id}"), &bootstrap, dir.path());
    config.set("max.task.idle.ms", max_task_idle_ms).unwrap();
    config.set("processing.guarantee", guarantee).unwrap();
    let streams = KafkaStreams::new(builder.build().unwrap(), config).unwrap();
    streams.start().unwrap();

    let timestamps = read_timestamps(&bootstrap, &output, 2 * PER_SIDE as usize);
    assert!(streams.close(Duration::from_secs(30)));
    let out_of_order = timestamps.windows(2).filter(|w| w[1] < w[0]).count();
    let first = timestamps.windows(2).position(|w| w[1] < w[0]);
    assert_eq!(
        out_of_order, 0,
        "records processed out of timestamp order (first at output offset {first:?})"
    );
}

#[test]
fn pre_produced_partitions_are_merged_in_timestamp_order() {
    merged_in_timestamp_order("0", "at_least_once");
}

#[test]
fn pre_produced_partitions_are_merged_in_timestamp_order_under_exactly_once() {
    merged_in_timestamp_order("0", "exactly_once_v2");
}

#[test]
fn pre_produced_partitions_are_merged_in_timestamp_order_with_idling() {
    merged_in_timestamp_order("2000", "at_least_once");
}
