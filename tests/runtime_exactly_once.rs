//! Specification: under `exactly_once_v2`, what a `read_committed` consumer sees of the output
//! is as if every input record was processed exactly once.
//!
//! - Word count over 100,000 seeded lines across 3 partitions with two stream threads: the
//!   output equals the model, and every word's counts only go up (no count is emitted twice).
//! - A stream thread that crashes (a panic in user code) in the middle of the input is
//!   replaced; its open transaction is aborted, its tasks' state wiped and restored from the
//!   committed changelog, and the output is still exactly the model with no count repeated.
//!   (Under at-least-once, the records since the last commit would be counted twice.)

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rill::prelude::*;
use rill_test_support::*;

fn assert_no_count_repeated(history: &HashMap<String, Vec<i64>>) {
    for (word, counts) in history {
        assert!(
            counts.windows(2).all(|w| w[0] < w[1]),
            "`{word}` counts are not strictly increasing: {counts:?}"
        );
    }
}

fn eos_config(application_id: &str, bootstrap: &str, dir: &std::path::Path) -> StreamsConfig {
    let mut config = config(application_id, bootstrap, dir);
    config
        .set("processing.guarantee", "exactly_once_v2")
        .unwrap()
        .set("commit.interval.ms", "100")
        .unwrap();
    config
}

#[test]
fn exactly_once_word_count_equals_the_model() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let (id, input, output) = word_count_topics(&broker, 3);
    let lines = random_lines(99, 100_000, 500);
    produce_lines(&bootstrap, &input, &lines);

    let dir = tempfile::tempdir().unwrap();
    let mut config = eos_config(&format!("eos-{id}"), &bootstrap, dir.path());
    config.set("num.stream.threads", "2").unwrap();
    let streams = KafkaStreams::new(word_count(&input, &output), config).unwrap();
    streams.start().unwrap();
    let mut reader = CountReader::new(&bootstrap, &output, true);
    reader.read_until_equal(&model(&lines), Duration::from_secs(60));
    assert_no_count_repeated(&reader.history);
    assert!(streams.close(Duration::from_secs(30)));
    assert_eq!(streams.state(), State::NotRunning);
}

#[test]
fn a_crashed_thread_under_exactly_once_counts_nothing_twice() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let (id, input, output) = word_count_topics(&broker, 2);
    let lines = random_lines(1234, 10_000, 300);
    produce_lines(&bootstrap, &input, &lines);

    // Word count whose splitter panics once, after 5,000 lines.
    let seen = Arc::new(AtomicU64::new(0));
    let crashed = Arc::new(AtomicBool::new(false));
    let (s, c) = (Arc::clone(&seen), Arc::clone(&crashed));
    let topology = word_count_with(&input, &output, move |line: &String| {
        if s.fetch_add(1, Ordering::SeqCst) == 5_000 && !c.swap(true, Ordering::SeqCst) {
            panic!("injected crash");
        }
        words(line)
    });

    let dir = tempfile::tempdir().unwrap();
    let streams = KafkaStreams::new(
        topology,
        eos_config(&format!("eos-crash-{id}"), &bootstrap, dir.path()),
    )
    .unwrap();
    let replaced = Arc::new(AtomicU64::new(0));
    let r = Arc::clone(&replaced);
    streams.set_uncaught_exception_handler(move |_| {
        r.fetch_add(1, Ordering::SeqCst);
        StreamThreadExceptionResponse::ReplaceThread
    });
    streams.start().unwrap();
    let mut reader = CountReader::new(&bootstrap, &output, true);
    reader.read_until_equal(&model(&lines), Duration::from_secs(60));
    assert!(crashed.load(Ordering::SeqCst));
    assert_eq!(replaced.load(Ordering::SeqCst), 1);
    assert_no_count_repeated(&reader.history);
    // More lines than exist were split: the aborted transaction's lines were processed again.
    assert!(seen.load(Ordering::SeqCst) > lines.len() as u64);
    assert!(streams.close(Duration::from_secs(30)));
}
