//! Specification: word count on the runtime, over a real broker and real rdkafka clients,
//! equals a `HashMap` model.
//!
//! - 100,000 seeded random lines across 3 partitions, processed by one instance with two stream
//!   threads under at-least-once: the latest count of every word in the output topic equals
//!   the model, and the state went CREATED → REBALANCING → RUNNING → PENDING_SHUTDOWN →
//!   NOT_RUNNING.
//! - The application's store answers interactive queries with the same counts; the metrics
//!   show the records processed, commits, and a consumer lag that drains to zero.
//! - Internal topics were created: the repartition topic with the input's 3 partitions, the
//!   changelog compacted.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rill::prelude::*;
use rill_test_support::*;

const LINES: usize = 100_000;

#[test]
fn word_count_over_random_lines_equals_a_hash_map_model() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let (id, input, output) = word_count_topics(&broker, 3);
    let lines = random_lines(42, LINES, 500);
    let model = model(&lines);
    produce_lines(&bootstrap, &input, &lines);

    let state_dir = tempfile::tempdir().unwrap();
    let application_id = format!("wordcount-{id}");
    let mut config = config(&application_id, &bootstrap, state_dir.path());
    config.set("num.stream.threads", "2").unwrap();
    let streams = KafkaStreams::new(word_count(&input, &output), config).unwrap();
    let transitions = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&transitions);
    streams.set_state_listener(move |new, old| seen.lock().unwrap().push((old, new)));
    streams.start().unwrap();
    wait_running(&streams, Duration::from_secs(30));

    let mut reader = CountReader::new(&bootstrap, &output, false);
    let max_lag = std::cell::Cell::new(0);
    reader.read_until(Duration::from_secs(60), |latest| {
        max_lag.set(max_lag.get().max(streams.metrics().consumer_lag));
        latest == &model
    });
    // The backlog showed as consumer lag, which drains to zero once everything is committed.
    assert!(max_lag.get() > 0, "no lag seen");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while streams.metrics().consumer_lag > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            streams.metrics()
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // Interactive queries see the same counts, spread over this instance's tasks.
    let store = streams
        .local_store("counts", Serdes::string(), Serdes::i64())
        .unwrap();
    let mut queried = std::collections::HashMap::new();
    for _ in 0..100 {
        queried = store.all().unwrap().into_iter().collect();
        if queried == model {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(queried, model);
    assert_eq!(
        store.get(&"word7".to_string()).unwrap(),
        model.get("word7").copied()
    );
    assert_eq!(store.get(&"no-such-word".to_string()).unwrap(), None);

    let metrics = streams.metrics();
    assert!(metrics.records_processed >= LINES as u64, "{metrics:?}");
    assert!(metrics.commits > 0, "{metrics:?}");
    // Two stream threads, three tasks per sub-topology between them.
    let threads = streams.local_thread_metadata();
    assert_eq!(threads.len(), 2);
    let tasks: usize = threads.iter().map(|t| t.active_tasks.len()).sum();
    assert_eq!(tasks, 6, "{threads:?}");

    assert!(streams.close(Duration::from_secs(30)));
    assert_eq!(streams.state(), State::NotRunning);
    let transitions = transitions.lock().unwrap().clone();
    assert_eq!(
        transitions.first(),
        Some(&(State::Created, State::Rebalancing))
    );
    assert!(transitions.contains(&(State::Rebalancing, State::Running)));
    assert_eq!(
        &transitions[transitions.len() - 2..],
        &[
            (State::Running, State::PendingShutdown),
            (State::PendingShutdown, State::NotRunning)
        ]
    );

    // The internal topics exist with the input's partition count and Kafka's configs.
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .unwrap();
    let metadata = admin
        .inner()
        .fetch_metadata(None, Duration::from_secs(10))
        .unwrap();
    let partitions = |name: &str| {
        metadata
            .topics()
            .iter()
            .find(|t| t.name() == name)
            .map(|t| t.partitions().len())
    };
    let changelog = format!("{application_id}-counts-changelog");
    assert_eq!(partitions(&changelog), Some(3));
    let repartition: Vec<&str> = metadata
        .topics()
        .iter()
        .map(|t| t.name())
        .filter(|n| n.starts_with(&application_id) && n.ends_with("-repartition"))
        .collect();
    assert_eq!(repartition.len(), 1, "{repartition:?}");
    assert_eq!(partitions(repartition[0]), Some(3));
    let configs = futures_block_on(admin.describe_configs(
        [&ResourceSpecifier::Topic(&changelog)],
        &AdminOptions::new(),
    ));
    let resource = configs.unwrap().into_iter().next().unwrap().unwrap();
    let policy = resource.get("cleanup.policy").and_then(|e| e.value.clone());
    assert_eq!(policy.as_deref(), Some("compact"));
}

/// Drives an admin future on this thread (the admin client completes it from its own thread).
fn futures_block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}
