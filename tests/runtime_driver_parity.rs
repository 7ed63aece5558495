//! The test driver and the runtime run the same processor code: both drive a topology's tasks
//! through `streams_core::internals`. One topology (stateless, a table aggregation, a windowed
//! count) gets the same input, out-of-order timestamps included, under `TopologyTestDriver` and
//! under `KafkaStreams` on the embedded broker; every output topic then holds the same records
//! — keys, values, timestamps, order.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use rill::prelude::*;
use rill_test_support::*;

/// An output record as both sides see it: key, value (`None`: a tombstone) and timestamp.
type Out = (String, Option<i64>, i64);

const OUTPUTS: [&str; 3] = ["doubled", "sums", "windows"];

/// Stateless, table and windowed operators, every output keyed by a string with an optional
/// `i64` value. Record caches are off on both sides (the driver commits after every record,
/// the runtime every 100 ms, so a cache would emit different intermediate updates).
fn topology(topic: impl Fn(&str) -> String) -> Topology {
    let produced = || Produced::with(Serdes::string(), Serdes::option(Serdes::i64()));
    let builder = StreamsBuilder::new();
    let events = builder.stream(
        &topic("events"),
        Consumed::with(Serdes::string(), Serdes::i64()),
    );
    events
        .filter(|_, value| value % 3 != 0)
        .map_values(|value| Some(value * 2))
        .to(&topic("doubled"), produced());
    let grouped = events.group_by_key(Grouped::with(Serdes::string(), Serdes::i64()));
    grouped
        .reduce(|sum, value| sum + value, Materialized::as_("sums"))
        .to_stream()
        .to(&topic("sums"), produced());
    let windows = TimeWindows::of_size_and_grace(Duration::from_secs(10), Duration::from_secs(2))
        .expect("window sizes");
    grouped
        .windowed_by(windows)
        .count(Materialized::as_("window-counts"))
        .to_stream()
        .map(|windowed: &Windowed<String>, count: &Option<i64>| {
            (
                format!("{}@{}", windowed.key, windowed.window.start_ms),
                *count,
            )
        })
        .to(&topic("windows"), produced());
    builder.build().expect("topology")
}

/// Keyed values with timestamps that mostly advance and sometimes step back, some of them
/// beyond the windows' grace (those the windowed count drops, on both sides alike).
fn input() -> Vec<(String, i64, i64)> {
    (0..400_i64)
        .map(|i| {
            let timestamp =
                1_000_000 + i * 700 - (i % 5) * 1_500 - if i % 37 == 0 { 20_000 } else { 0 };
            (format!("k{}", i % 7), i, timestamp)
        })
        .collect()
}

fn through_the_driver() -> HashMap<&'static str, Vec<Out>> {
    let mut config = StreamsConfig::new("parity").expect("application id");
    config
        .set("statestore.cache.max.bytes", "0")
        .expect("cache size");
    let driver =
        TopologyTestDriver::with_config(topology(str::to_string), config, 0).expect("driver");
    let events = driver.create_input_topic("events", Serdes::string(), Serdes::i64());
    for (key, value, timestamp) in input() {
        events.pipe_input_with_timestamp(key, value, timestamp);
    }
    OUTPUTS
        .iter()
        .map(|&name| {
            let topic =
                driver.create_output_topic(name, Serdes::string(), Serdes::option(Serdes::i64()));
            let records = topic
                .read_records_to_list()
                .into_iter()
                .map(|r| (r.key, r.value, r.timestamp))
                .collect();
            (name, records)
        })
        .collect()
}

fn through_the_runtime(
    expected: &HashMap<&'static str, Vec<Out>>,
) -> HashMap<&'static str, Vec<Out>> {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let id = unique();
    let topic = |name: &str| format!("{name}-{id}");
    for name in ["events"].iter().chain(&OUTPUTS) {
        broker.create_topic(&topic(name), 1).expect("create topic");
    }
    let (keys, values) = (Serdes::string(), Serdes::i64());
    let events: Vec<(Vec<u8>, Vec<u8>, i64)> = input()
        .into_iter()
        .map(|(key, value, timestamp)| {
            let key = keys
                .serialize("", &key)
                .expect("key")
                .expect("non-null key");
            let value = values
                .serialize("", &value)
                .expect("value")
                .expect("non-null value");
            (key, value, timestamp)
        })
        .collect();
    produce_timestamped(
        &bootstrap,
        &topic("events"),
        events
            .iter()
            .map(|(k, v, ts)| (Some(k.as_slice()), Some(v.as_slice()), Some(*ts))),
    );

    let state_dir = tempfile::tempdir().expect("state dir");
    let mut config = config(&format!("parity-{id}"), &bootstrap, state_dir.path());
    config
        .set("statestore.cache.max.bytes", "0")
        .expect("cache size");
    let streams = KafkaStreams::new(topology(topic), config).expect("streams");
    streams.start().expect("start");
    wait_running(&streams, Duration::from_secs(60));

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", format!("parity-reader-{id}"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut assignment = TopicPartitionList::new();
    for name in OUTPUTS {
        assignment
            .add_partition_offset(&topic(name), 0, Offset::Beginning)
            .expect("assign");
    }
    consumer.assign(&assignment).expect("assign");
    let wanted: usize = expected.values().map(Vec::len).sum();
    let mut read: HashMap<&'static str, Vec<Out>> =
        OUTPUTS.iter().map(|&n| (n, Vec::new())).collect();
    let values = Serdes::option(Serdes::i64());
    let deadline = Instant::now() + Duration::from_secs(120);
    // Read what is expected, then a little longer: a record too many must show too.
    let mut settle: Option<Instant> = None;
    while settle.is_none_or(|until| Instant::now() < until) {
        assert!(Instant::now() < deadline, "only {read:?} arrived");
        if let Some(message) = consumer.poll(Duration::from_millis(50)) {
            let message = message.expect("consume");
            let name = OUTPUTS
                .into_iter()
                .find(|name| topic(name) == message.topic())
                .expect("an output topic");
            let key = keys.deserialize(name, message.key()).expect("key");
            let value = values.deserialize(name, message.payload()).expect("value");
            let timestamp = message.timestamp().to_millis().expect("timestamp");
            read.get_mut(name)
                .expect("output")
                .push((key, value, timestamp));
        }
        if settle.is_none() && read.values().map(Vec::len).sum::<usize>() >= wanted {
            settle = Some(Instant::now() + Duration::from_secs(1));
        }
    }
    streams.close(Duration::from_secs(30));
    read
}

#[test]
fn driver_and_runtime_write_the_same_records() {
    let driven = through_the_driver();
    assert!(
        driven.values().all(|records| records.len() > 50),
        "every output has records: {:?}",
        driven.iter().map(|(n, r)| (n, r.len())).collect::<Vec<_>>()
    );
    let run = through_the_runtime(&driven);
    for name in OUTPUTS {
        assert_eq!(run[name], driven[name], "output `{name}` differs");
    }
}
