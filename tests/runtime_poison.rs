//! Specification: records that cannot be deserialized follow
//! `default.deserialization.exception.handler`.
//!
//! - `LogAndContinueExceptionHandler`: the poison record (a value that is not UTF-8) is skipped
//!   and counted in the skipped-records metric; every other line is counted.
//! - `LogAndFailExceptionHandler` (the default): the stream thread fails, and without an
//!   uncaught-exception handler the instance ends in ERROR.
//! - With a handler answering `ReplaceThread`, a failed thread is replaced and the instance
//!   keeps running.
//!
//! Records whose processing fails follow `processing.exception.handler` (KIP-1033), as in the
//! `TopologyTestDriver`: with `LogAndContinueProcessingExceptionHandler` the record is dropped
//! and counted and every other line is counted; with the default the instance ends in ERROR.
//! Failed punctuations follow the same handler (Kafka 4.0's `StreamTask#punctuate`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rill::prelude::*;
use rill_test_support::*;

const POISON: &[u8] = &[0xff, 0xfe, 0xfd];

#[test]
fn log_and_continue_skips_the_poison_record_and_counts_it() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let (id, input, output) = word_count_topics(&broker, 1);
    let lines = random_lines(5, 1_000, 50);
    let mut records: Vec<(Option<Vec<u8>>, Vec<u8>)> = lines
        .iter()
        .map(|l| (None, l.as_bytes().to_vec()))
        .collect();
    records.insert(500, (None, POISON.to_vec()));
    produce(&bootstrap, &input, &records);

    let state_dir = tempfile::tempdir().unwrap();
    let mut config = config(&format!("poison-{id}"), &bootstrap, state_dir.path());
    config
        .set(
            "default.deserialization.exception.handler",
            "org.apache.kafka.streams.errors.LogAndContinueExceptionHandler",
        )
        .unwrap();
    let streams = KafkaStreams::new(word_count(&input, &output), config).unwrap();
    streams.start().unwrap();
    let mut reader = CountReader::new(&bootstrap, &output, false);
    reader.read_until_equal(&model(&lines), Duration::from_secs(60));
    assert_eq!(streams.metrics().records_skipped, 1);
    assert_eq!(streams.state(), State::Running);
    assert!(streams.close(Duration::from_secs(30)));
}

#[test]
fn log_and_fail_stops_the_instance_in_error() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let (id, input, output) = word_count_topics(&broker, 1);
    produce(&bootstrap, &input, &[(None, POISON.to_vec())]);

    let state_dir = tempfile::tempdir().unwrap();
    let config = config(&format!("fail-{id}"), &bootstrap, state_dir.path());
    let streams = KafkaStreams::new(word_count(&input, &output), config).unwrap();
    streams.start().unwrap();
    assert!(
        streams.wait_for_state(State::Error, Duration::from_secs(30)),
        "{}",
        streams.state()
    );
    assert_eq!(streams.metrics().records_skipped, 0);
    assert!(streams.close(Duration::from_secs(10)));
    assert_eq!(streams.state(), State::Error);
}

#[test]
fn replace_thread_keeps_the_instance_running() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let (id, input, output) = word_count_topics(&broker, 1);
    produce(&bootstrap, &input, &[(None, POISON.to_vec())]);

    let state_dir = tempfile::tempdir().unwrap();
    let config = config(&format!("replace-{id}"), &bootstrap, state_dir.path());
    let streams = KafkaStreams::new(word_count(&input, &output), config).unwrap();
    let failures = Arc::new(AtomicU64::new(0));
    let seen = Arc::clone(&failures);
    streams.set_uncaught_exception_handler(move |error| {
        assert!(
            error.to_string().contains("deserialize"),
            "unexpected error: {error}"
        );
        seen.fetch_add(1, Ordering::SeqCst);
        StreamThreadExceptionResponse::ReplaceThread
    });
    streams.start().unwrap();
    // The poison record was never committed: each replacement meets it again.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while failures.load(Ordering::SeqCst) < 2 {
        assert!(std::time::Instant::now() < deadline, "no second failure");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Each failure was answered with a new thread, never with a shutdown.
    assert!(
        streams.state().is_running_or_rebalancing(),
        "{}",
        streams.state()
    );
    assert!(streams.close(Duration::from_secs(30)));
    assert_eq!(streams.state(), State::NotRunning);
}

/// Fails on the line `poison`, passes every other line on.
struct RefusePoison;

impl Processor<Option<String>, String, Option<String>, String> for RefusePoison {
    fn process(
        &mut self,
        record: Record<Option<String>, String>,
        ctx: &mut ProcessorContext<'_, Option<String>, String>,
    ) -> rill::streams_core::Result<()> {
        if record.value == "poison" {
            return Err(rill::streams_core::Error::processor("refusing `poison`"));
        }
        ctx.forward(record)
    }
}

/// Word count behind a processor that fails on the line `poison`.
fn refusing_word_count(input: &str, output: &str) -> Topology {
    let builder = StreamsBuilder::new();
    let lines = builder
        .stream(
            input,
            Consumed::with(Serdes::option(Serdes::string()), Serdes::string()),
        )
        .process(|| RefusePoison);
    rill_test_support::wordcount::count_words(lines, output, |line: &String| words(line));
    builder.build().unwrap()
}

#[test]
fn processing_errors_follow_the_processing_exception_handler() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let (id, input, output) = word_count_topics(&broker, 1);
    let mut lines = random_lines(6, 1_000, 50);
    lines.insert(500, "poison".to_string());
    produce_lines(&bootstrap, &input, &lines);
    lines.remove(500);

    let state_dir = tempfile::tempdir().unwrap();
    let mut continuing = config(&format!("processing-{id}"), &bootstrap, state_dir.path());
    continuing
        .set(
            "processing.exception.handler",
            "org.apache.kafka.streams.errors.LogAndContinueProcessingExceptionHandler",
        )
        .unwrap();
    let streams = KafkaStreams::new(refusing_word_count(&input, &output), continuing).unwrap();
    streams.start().unwrap();
    let mut reader = CountReader::new(&bootstrap, &output, false);
    reader.read_until_equal(&model(&lines), Duration::from_secs(60));
    assert_eq!(streams.metrics().records_skipped, 1);
    assert_eq!(streams.state(), State::Running);
    assert!(streams.close(Duration::from_secs(30)));

    // The default, LogAndFailProcessingExceptionHandler: the instance ends in ERROR.
    let state_dir = tempfile::tempdir().unwrap();
    let failing = config(
        &format!("processing-fail-{id}"),
        &bootstrap,
        state_dir.path(),
    );
    let streams = KafkaStreams::new(refusing_word_count(&input, &output), failing).unwrap();
    streams.start().unwrap();
    assert!(
        streams.wait_for_state(State::Error, Duration::from_secs(30)),
        "{}",
        streams.state()
    );
    assert!(streams.close(Duration::from_secs(10)));
}

/// Passes every line on; its wall-clock and stream-time punctuators always fail.
struct FailingPunctuator;

impl Processor<Option<String>, String, Option<String>, String> for FailingPunctuator {
    fn init(
        &mut self,
        ctx: &mut ProcessorContext<'_, Option<String>, String>,
    ) -> rill::streams_core::Result<()> {
        ctx.schedule(Duration::from_millis(50), PunctuationType::WallClockTime)?;
        ctx.schedule(Duration::from_millis(1), PunctuationType::StreamTime)?;
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<Option<String>, String>,
        ctx: &mut ProcessorContext<'_, Option<String>, String>,
    ) -> rill::streams_core::Result<()> {
        ctx.forward(record)
    }

    fn punctuate(
        &mut self,
        _id: PunctuationId,
        _timestamp: i64,
        _ctx: &mut ProcessorContext<'_, Option<String>, String>,
    ) -> rill::streams_core::Result<()> {
        Err(rill::streams_core::Error::processor("KABOOM!"))
    }
}

/// Word count behind a processor whose punctuations fail.
fn failing_punctuation_word_count(input: &str, output: &str) -> Topology {
    let builder = StreamsBuilder::new();
    let lines = builder
        .stream(
            input,
            Consumed::with(Serdes::option(Serdes::string()), Serdes::string()),
        )
        .process(|| FailingPunctuator);
    rill_test_support::wordcount::count_words(lines, output, |line: &String| words(line));
    builder.build().unwrap()
}

/// Punctuations follow `processing.exception.handler` too (KIP-1033, Kafka 4.0's
/// `StreamTask#punctuate`): with `LogAndContinueProcessingExceptionHandler` each failed
/// punctuation is skipped and counted and every line is counted; with the default the
/// instance ends in ERROR.
#[test]
fn failed_punctuations_follow_the_processing_exception_handler() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let (id, input, output) = word_count_topics(&broker, 1);
    let lines = random_lines(7, 500, 50);
    produce_lines(&bootstrap, &input, &lines);

    let state_dir = tempfile::tempdir().unwrap();
    let mut continuing = config(&format!("punctuation-{id}"), &bootstrap, state_dir.path());
    continuing
        .set(
            "processing.exception.handler",
            "org.apache.kafka.streams.errors.LogAndContinueProcessingExceptionHandler",
        )
        .unwrap();
    let streams =
        KafkaStreams::new(failing_punctuation_word_count(&input, &output), continuing).unwrap();
    streams.start().unwrap();
    let mut reader = CountReader::new(&bootstrap, &output, false);
    reader.read_until_equal(&model(&lines), Duration::from_secs(60));
    wait_until(
        Duration::from_secs(30),
        "failed punctuations counted",
        || streams.metrics().records_skipped >= 2,
    );
    assert_eq!(streams.state(), State::Running);
    assert!(streams.close(Duration::from_secs(30)));

    let state_dir = tempfile::tempdir().unwrap();
    let failing = config(
        &format!("punctuation-fail-{id}"),
        &bootstrap,
        state_dir.path(),
    );
    let streams =
        KafkaStreams::new(failing_punctuation_word_count(&input, &output), failing).unwrap();
    streams.start().unwrap();
    assert!(
        streams.wait_for_state(State::Error, Duration::from_secs(30)),
        "{}",
        streams.state()
    );
    assert!(streams.close(Duration::from_secs(10)));
}
