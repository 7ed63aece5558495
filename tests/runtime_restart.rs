//! Specification: state survives restarts through checkpoints and changelogs.
//!
//! - After a clean `close()`, every task directory holds a checkpoint, and a restart with the
//!   same `state.dir` restores zero records; counting then goes on from where it was.
//! - An instance with an empty `state.dir` (a new machine) restores the counts from the
//!   changelog before processing, and the result is still the model; so does one whose state
//!   `clean_up()` deleted.
//! - A foreign-key join's subscriptions survive a move to a new instance: restored from the
//!   subscription store's changelog, they let right-table updates reach every subscriber.
//! - RocksDB settings given as streams properties reach the stores: with the write-ahead log on
//!   and no writes held back, counts, interactive queries and the restart without restore hold.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;

use rill::prelude::*;
use rill_test_support::*;

#[test]
fn restart_after_clean_shutdown_restores_zero_records() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let (id, input, output) = word_count_topics(&broker, 3);
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
fn rocksdb_settings_from_the_streams_config_reach_the_stores() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let (id, input, output) = word_count_topics(&broker, 2);
    let application_id = format!("rocksdb-settings-{id}");
    let state_dir = tempfile::tempdir().unwrap();
    let lines = random_lines(13, 4_000, 200);
    let (first, second) = lines.split_at(2_000);
    let mut reader = CountReader::new(&bootstrap, &output, false);
    let configured = || {
        let mut config = config(&application_id, &bootstrap, state_dir.path());
        config
            .set("rocksdb.total.memory.bytes", "33554432")
            .unwrap()
            .set("rocksdb.write.buffer.size", "4194304")
            .unwrap()
            .set("rocksdb.wal.enabled", "true")
            .unwrap()
            .set("rocksdb.write.batch.bytes", "0")
            .unwrap();
        config
    };

    produce_lines(&bootstrap, &input, first);
    let streams = KafkaStreams::new(word_count(&input, &output), configured()).unwrap();
    streams.start().unwrap();
    reader.read_until_equal(&model(first), Duration::from_secs(60));
    assert!(streams.close(Duration::from_secs(30)));
    // RocksDB records the options each store was opened with.
    let app_dir = state_dir.path().join(&application_id);
    let mut stores_seen = 0;
    for task in std::fs::read_dir(&app_dir).unwrap() {
        let store = task.unwrap().path().join("rocksdb").join("counts");
        for file in std::fs::read_dir(&store).into_iter().flatten() {
            let path = file.unwrap().path();
            if path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("OPTIONS-")
            {
                let options = std::fs::read_to_string(&path).unwrap();
                assert!(options.contains("write_buffer_size=4194304"), "{path:?}");
                stores_seen += 1;
            }
        }
    }
    assert!(stores_seen >= 2, "the counts stores of both partitions");

    produce_lines(&bootstrap, &input, second);
    let streams = KafkaStreams::new(word_count(&input, &output), configured()).unwrap();
    let restores = restore_counter();
    streams.set_restore_listener(Arc::clone(&restores) as _);
    streams.start().unwrap();
    let model = model(&lines);
    reader.read_until_equal(&model, Duration::from_secs(60));
    assert_eq!(restores.restored.load(Ordering::Relaxed), 0);
    let store = streams
        .local_store("counts", Serdes::string(), Serdes::i64())
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let queried: HashMap<String, i64> = store.all().unwrap().into_iter().collect();
        if queried == model {
            break;
        }
        assert!(Instant::now() < deadline, "store {queried:?} != {model:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(streams.close(Duration::from_secs(30)));
}

#[test]
fn a_new_instance_restores_the_counts_from_the_changelog() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let (id, input, output) = word_count_topics(&broker, 2);
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

/// orders (order → product id) joined to products (product → name) as "order:name".
fn orders_with_products(orders: &str, products: &str, output: &str) -> Topology {
    let builder = StreamsBuilder::new();
    let orders = builder.table(
        orders,
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("orders"),
    );
    let products = builder.table(
        products,
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("products"),
    );
    orders
        .join_on_foreign_key(
            &products,
            |product: &String| product.clone(),
            |product: &String, name: &String| format!("{product}:{name}"),
        )
        .to_stream()
        .to(
            output,
            Produced::with(Serdes::string(), Serdes::option(Serdes::string())),
        );
    builder.build().unwrap()
}

/// Reads `consumer` into `table` until it equals `model`.
fn read_table_until(
    consumer: &BaseConsumer,
    table: &mut HashMap<String, String>,
    model: &HashMap<String, String>,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while table != model {
        assert!(
            Instant::now() < deadline,
            "join output {table:?} never reached {model:?}"
        );
        if let Some(message) = consumer.poll(Duration::from_millis(50)) {
            let message = message.expect("consume");
            let key = String::from_utf8_lossy(message.key().expect("key")).into_owned();
            match message.payload() {
                Some(v) => table.insert(key, String::from_utf8_lossy(v).into_owned()),
                None => table.remove(&key),
            };
        }
    }
}

#[test]
fn a_new_instance_restores_foreign_key_join_subscriptions() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let id = unique();
    let (orders, products, output) = (
        format!("orders-{id}"),
        format!("products-{id}"),
        format!("enriched-{id}"),
    );
    broker.create_topic(&orders, 3).unwrap();
    broker.create_topic(&products, 2).unwrap();
    broker.create_topic(&output, 2).unwrap();
    let application_id = format!("fk-restore-{id}");
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", format!("reader-{id}"))
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[&output]).unwrap();
    let names = |version: &str| -> Vec<(Option<Vec<u8>>, Vec<u8>)> {
        (0..10)
            .map(|p| {
                (
                    Some(format!("p{p}").into_bytes()),
                    format!("{version}-{p}").into_bytes(),
                )
            })
            .collect()
    };
    let model = |version: &str| -> HashMap<String, String> {
        (0..60)
            .map(|o| (format!("o{o}"), format!("p{}:{version}-{}", o % 10, o % 10)))
            .collect()
    };
    let mut table = HashMap::new();

    // Run 1: every order joins its product.
    let first_dir = tempfile::tempdir().unwrap();
    let streams = KafkaStreams::new(
        orders_with_products(&orders, &products, &output),
        config(&application_id, &bootstrap, first_dir.path()),
    )
    .unwrap();
    streams.start().unwrap();
    produce(&bootstrap, &products, &names("v1"));
    let order_rows: Vec<(Option<Vec<u8>>, Vec<u8>)> = (0..60)
        .map(|o| {
            (
                Some(format!("o{o}").into_bytes()),
                format!("p{}", o % 10).into_bytes(),
            )
        })
        .collect();
    produce(&bootstrap, &orders, &order_rows);
    read_table_until(&consumer, &mut table, &model("v1"));
    assert!(streams.close(Duration::from_secs(30)));
    drop(first_dir);

    // Run 2, on a fresh state directory: only the changelogs know the subscriptions, and
    // product updates alone must reach every order.
    let second_dir = tempfile::tempdir().unwrap();
    let streams = KafkaStreams::new(
        orders_with_products(&orders, &products, &output),
        config(&application_id, &bootstrap, second_dir.path()),
    )
    .unwrap();
    let restores = restore_counter();
    streams.set_restore_listener(Arc::clone(&restores) as _);
    streams.start().unwrap();
    produce(&bootstrap, &products, &names("v2"));
    read_table_until(&consumer, &mut table, &model("v2"));
    let subscriptions: i64 = restores
        .partitions
        .lock()
        .unwrap()
        .iter()
        .filter(|(tp, _, _)| tp.topic.contains("KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE"))
        .map(|(_, start, end)| end - start)
        .sum();
    assert!(
        subscriptions >= 60,
        "{subscriptions} subscriptions restored"
    );
    assert!(streams.close(Duration::from_secs(30)));
}
