//! Specification: records the producer cannot send follow the production exception handler.
//!
//! - Without a handler (Kafka's `DefaultProductionExceptionHandler`), a refused record fails
//!   the stream thread and the instance ends in ERROR.
//! - A handler answering `Continue` drops the record, counts it in the skipped-records metric,
//!   and processing goes on — for a record the broker refuses (delivery report) and for one
//!   the producer refuses before sending it.

use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::Message;
use rill::prelude::*;
use rill::{ProductionError, ProductionExceptionResponse};
use rill_test_support::*;

/// Upper-cases every value, and turns a value `big:N` into N bytes.
fn upper_case(input: &str, output: &str) -> Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream(
            input,
            Consumed::with(Serdes::option(Serdes::string()), Serdes::string()),
        )
        .map_values(|v: &String| match v.strip_prefix("big:") {
            Some(n) => "x".repeat(n.parse().unwrap_or(0)),
            None => v.to_uppercase(),
        })
        .to(
            output,
            Produced::with(Serdes::option(Serdes::string()), Serdes::string()),
        );
    builder.build().unwrap()
}

fn values(bootstrap: &str, topic: &str, expected: usize) -> Vec<String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("reader-{}", unique()))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    while seen.len() < expected && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            seen.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
        }
    }
    seen
}

fn produce_values(bootstrap: &str, topic: &str, values: &[&str]) {
    let records: Vec<(Option<Vec<u8>>, Vec<u8>)> = values
        .iter()
        .map(|v| (None, v.as_bytes().to_vec()))
        .collect();
    produce(bootstrap, topic, &records);
}

fn wait_for_skipped(streams: &KafkaStreams, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while streams.metrics().records_skipped < n {
        assert!(Instant::now() < deadline, "{:?}", streams.metrics());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn continue_drops_a_record_the_broker_refuses_and_goes_on() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let id = unique();
    let (input, output) = (format!("in-{id}"), format!("out-{id}"));
    broker.create_topic(&input, 1).unwrap();
    broker
        .create_topic_with_config(&output, 1, &[("max.message.bytes", "5000")])
        .unwrap();
    produce_values(&bootstrap, &input, &["big:20000"]);

    let state_dir = tempfile::tempdir().unwrap();
    let config = config(&format!("refused-{id}"), &bootstrap, state_dir.path());
    let streams = KafkaStreams::new(upper_case(&input, &output), config).unwrap();
    let topic = output.clone();
    streams.set_production_exception_handler(move |e: &ProductionError<'_>| {
        assert_eq!(e.topic, topic);
        ProductionExceptionResponse::Continue
    });
    streams.start().unwrap();
    wait_for_skipped(&streams, 1);
    produce_values(&bootstrap, &input, &["a", "b"]);
    assert_eq!(values(&bootstrap, &output, 2), ["A", "B"]);
    assert_eq!(streams.state(), State::Running);
    assert_eq!(streams.metrics().records_skipped, 1);
    assert!(streams.close(Duration::from_secs(30)));
}

#[test]
fn continue_drops_a_record_too_large_for_the_producer() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let id = unique();
    let (input, output) = (format!("in-{id}"), format!("out-{id}"));
    broker.create_topic(&input, 1).unwrap();
    broker.create_topic(&output, 1).unwrap();
    // librdkafka's message.max.bytes is 1,000,000: the producer refuses at once.
    produce_values(&bootstrap, &input, &["a", "big:2000000", "b"]);

    let state_dir = tempfile::tempdir().unwrap();
    let config = config(&format!("too-large-{id}"), &bootstrap, state_dir.path());
    let streams = KafkaStreams::new(upper_case(&input, &output), config).unwrap();
    streams.set_production_exception_handler(|_: &ProductionError<'_>| {
        ProductionExceptionResponse::Continue
    });
    streams.start().unwrap();
    assert_eq!(values(&bootstrap, &output, 2), ["A", "B"]);
    wait_for_skipped(&streams, 1);
    assert_eq!(streams.state(), State::Running);
    assert!(streams.close(Duration::from_secs(30)));
}

#[test]
fn without_a_handler_a_refused_record_fails_the_instance() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let id = unique();
    let (input, output) = (format!("in-{id}"), format!("out-{id}"));
    broker.create_topic(&input, 1).unwrap();
    broker
        .create_topic_with_config(&output, 1, &[("max.message.bytes", "5000")])
        .unwrap();
    produce_values(&bootstrap, &input, &["big:20000"]);

    let state_dir = tempfile::tempdir().unwrap();
    let config = config(&format!("fails-{id}"), &bootstrap, state_dir.path());
    let streams = KafkaStreams::new(upper_case(&input, &output), config).unwrap();
    streams.start().unwrap();
    assert!(
        streams.wait_for_state(State::Error, Duration::from_secs(30)),
        "{}",
        streams.state()
    );
    assert_eq!(streams.metrics().records_skipped, 0);
    assert!(streams.close(Duration::from_secs(10)));
}
