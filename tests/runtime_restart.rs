//! Specification: state survives restarts through checkpoints and changelogs.
//!
//! - After a clean `close()`, every task directory holds a checkpoint, and a restart with the
//!   same `state.dir` restores zero records; counting then goes on from where it was.
//! - An instance with an empty `state.dir` (a new machine) restores the counts from the
//!   changelog before processing, and the result is still the model; so does one whose state
//!   `clean_up()` deleted.

mod runtime_support;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rill::prelude::*;
use runtime_support::*;

#[test]
fn restart_after_clean_shutdown_restores_zero_records() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let id = unique();
    let (input, output) = (format!("lines-{id}"), format!("counts-{id}"));
    broker.create_topic(&input, 3).unwrap();
    broker.create_topic(&output, 3).unwrap();
    let application_id = format!("restart-{id}");
    let state_dir = tempfile::tempdir().unwrap();
    let lines = random_lines(7, 6_000, 300);
    let (first, second) = lines.split_at(3_000);
    let mut reader = CountReader::new(&bootstrap, &output, false);

    // Run 1: count the first half, close cleanly.
    produce_lines(&bootstrap, &input, first);
    let streams = KafkaStreams::new(
        word_count(&input, &output),
        config(&application_id, &bootstrap, state_dir.path()),
    )
    .unwrap();
    let restores = restore_counter();
    streams.set_restore_listener(Arc::clone(&restores) as _);
    streams.start().unwrap();
    reader.read_until_equal(&model(first), Duration::from_secs(60));
    assert!(streams.close(Duration::from_secs(30)));
    assert_eq!(
        restores.restored.load(Ordering::Relaxed),
        0,
        "nothing to restore at first"
    );
    let app_dir = state_dir.path().join(&application_id);
    let task_dirs: Vec<_> = std::fs::read_dir(&app_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(
        task_dirs.len(),
        6,
        "3 partitions x 2 sub-topologies: {task_dirs:?}"
    );
    let counted = task_dirs
        .iter()
        .filter(|d| {
            let text = std::fs::read_to_string(d.join(".checkpoint")).unwrap_or_default();
            text.contains("-counts-changelog")
        })
        .count();
    assert_eq!(
        counted, 3,
        "the 3 counting tasks checkpoint their changelog"
    );

    // Run 2: same state directory: nothing restored, and counting continues.
    produce_lines(&bootstrap, &input, second);
    let streams = KafkaStreams::new(
        word_count(&input, &output),
        config(&application_id, &bootstrap, state_dir.path()),
    )
    .unwrap();
    let restores = restore_counter();
    streams.set_restore_listener(Arc::clone(&restores) as _);
    streams.start().unwrap();
    reader.read_until_equal(&model(&lines), Duration::from_secs(60));
    assert!(streams.close(Duration::from_secs(30)));
    assert_eq!(restores.restored.load(Ordering::Relaxed), 0);
    assert_eq!(streams.metrics().records_restored, 0);
    let started = restores.partitions.lock().unwrap().clone();
    assert_eq!(
        started.len(),
        3,
        "one restore per changelog partition: {started:?}"
    );
    for (partition, start, end) in started {
        assert_eq!(start, end, "{partition} restored from {start} to {end}");
    }
}

#[test]
fn a_new_instance_restores_the_counts_from_the_changelog() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let id = unique();
    let (input, output) = (format!("lines-{id}"), format!("counts-{id}"));
    broker.create_topic(&input, 2).unwrap();
    broker.create_topic(&output, 2).unwrap();
    let application_id = format!("restore-{id}");
    let lines = random_lines(11, 4_000, 200);
    let (first, second) = lines.split_at(2_000);
    let mut reader = CountReader::new(&bootstrap, &output, false);

    produce_lines(&bootstrap, &input, first);
    let old_dir = tempfile::tempdir().unwrap();
    let streams = KafkaStreams::new(
        word_count(&input, &output),
        config(&application_id, &bootstrap, old_dir.path()),
    )
    .unwrap();
    streams.start().unwrap();
    reader.read_until_equal(&model(first), Duration::from_secs(60));
    assert!(streams.close(Duration::from_secs(30)));
    drop(old_dir);

    produce_lines(&bootstrap, &input, second);
    let new_dir = tempfile::tempdir().unwrap();
    let streams = KafkaStreams::new(
        word_count(&input, &output),
        config(&application_id, &bootstrap, new_dir.path()),
    )
    .unwrap();
    let restores = restore_counter();
    streams.set_restore_listener(Arc::clone(&restores) as _);
    streams.start().unwrap();
    reader.read_until_equal(&model(&lines), Duration::from_secs(60));
    let restored = restores.restored.load(Ordering::Relaxed);
    // Every distinct word of the first half was written to the changelog at least once.
    assert!(
        restored >= model(first).len() as u64,
        "restored {restored} records for {} words",
        model(first).len()
    );
    assert_eq!(streams.metrics().records_restored, restored);
    assert!(streams.clean_up().is_err(), "not while running");
    assert!(streams.close(Duration::from_secs(30)));

    // clean_up() deletes the local state: the next run restores everything again.
    streams.clean_up().unwrap();
    let streams = KafkaStreams::new(
        word_count(&input, &output),
        config(&application_id, &bootstrap, new_dir.path()),
    )
    .unwrap();
    let again = restore_counter();
    streams.set_restore_listener(Arc::clone(&again) as _);
    streams.start().unwrap();
    wait_running(&streams, Duration::from_secs(30));
    assert!(again.restored.load(Ordering::Relaxed) >= model(&lines).len() as u64);
    assert!(streams.close(Duration::from_secs(30)));
}
