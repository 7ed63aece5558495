//! Specification: versioned tables and stream-table joins with a grace period, under
//! `KafkaStreams` on the embedded broker (KIP-889, KIP-914, KIP-923).
//!
//! - A table materialized in a versioned store keeps each key's history: an out-of-order update
//!   lands in the history, where interactive queries find it *as of* a time.
//! - A stream joined with it with a grace period waits until stream time passes each record's
//!   timestamp plus the grace, then joins the table as it was at the record's time — so a table
//!   update that arrived late, but within the grace period, is seen.
//! - The versioned store's changelog is compacted no sooner than its history retention plus a
//!   day (`min.compaction.lag.ms`), as Kafka creates it.
//! - A new instance (empty `state.dir`) restores both the versioned store, history included, and
//!   the join's buffer from their changelogs: the record still buffered at the restart is joined
//!   once stream time moves on, as if nothing had happened.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;

use rill::prelude::*;
use rill::streams_core::state::VersionedRecord;
use rill_test_support::*;

/// Prices per product in a versioned table (10 minutes of history); orders (keyed by product,
/// valued by order id) joined with it with a one-second grace period: "<order>@<price>".
fn priced_orders(prices: &str, orders: &str, output: &str) -> Topology {
    let builder = StreamsBuilder::new();
    let table = builder.table(
        prices,
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_versioned(Stores::persistent_versioned_key_value_store(
            "prices",
            Duration::from_secs(600),
        )),
    );
    builder
        .stream(orders, Consumed::with(Serdes::string(), Serdes::string()))
        .join(
            &table,
            |order: &String, price: &String| format!("{order}@{price}"),
            Joined::with(Serdes::string(), Serdes::string())
                .with_name("priced")
                .with_grace_period(Duration::from_secs(1)),
        )
        .to(output, Produced::with(Serdes::string(), Serdes::string()));
    builder.build().unwrap()
}

/// Reads the values of `topic` from the beginning.
struct ValueReader(BaseConsumer);

impl ValueReader {
    fn new(bootstrap: &str, topic: &str) -> Self {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", format!("reader-{topic}-{}", unique()))
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        consumer.subscribe(&[topic]).unwrap();
        ValueReader(consumer)
    }

    /// Reads until `n` values in all were read into `values`; panics after `timeout`.
    fn read_until(&self, values: &mut Vec<String>, n: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while values.len() < n {
            assert!(Instant::now() < deadline, "timed out; read {values:?}");
            if let Some(message) = self.0.poll(Duration::from_millis(50)) {
                let message = message.unwrap();
                let value = message.payload().unwrap_or_default();
                values.push(String::from_utf8_lossy(value).into_owned());
            }
        }
    }
}

fn produce_at(bootstrap: &str, topic: &str, key: &str, value: &str, timestamp: i64) {
    produce_timestamped(
        bootstrap,
        topic,
        [(
            Some(key.as_bytes()),
            Some(value.as_bytes()),
            Some(timestamp),
        )],
    );
}

fn version(value: &str, timestamp: i64, valid_to: Option<i64>) -> Option<VersionedRecord<String>> {
    Some(VersionedRecord {
        value: value.to_string(),
        timestamp,
        valid_to,
    })
}

#[test]
fn a_grace_period_join_sees_late_table_updates_and_survives_a_restart() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let id = unique();
    let (prices, orders, output) = (
        format!("prices-{id}"),
        format!("orders-{id}"),
        format!("priced-{id}"),
    );
    for topic in [&prices, &orders, &output] {
        broker.create_topic(topic, 1).unwrap();
    }
    let application_id = format!("versioned-{id}");
    // Recent timestamps, which the broker's time retention keeps.
    let base = now_ms() - 600_000;
    let apple = "apple".to_string();
    let reader = ValueReader::new(&bootstrap, &output);
    let mut joined = Vec::new();

    // Run 1.
    let first_dir = tempfile::tempdir().unwrap();
    let streams = KafkaStreams::new(
        priced_orders(&prices, &orders, &output),
        config(&application_id, &bootstrap, first_dir.path()),
    )
    .unwrap();
    streams.start().unwrap();
    wait_running(&streams, Duration::from_secs(60));
    let store = streams
        .local_versioned_store("prices", Serdes::string(), Serdes::string())
        .unwrap();
    produce_at(&bootstrap, &prices, "apple", "p1", base + 1_000);
    produce_at(&bootstrap, &prices, "apple", "p3", base + 3_000);
    wait_until(Duration::from_secs(30), "the latest price", || {
        store.get(&apple).ok().flatten() == version("p3", base + 3_000, None)
    });

    // Order o1 waits in the buffer for stream time base + 3000.
    produce_at(&bootstrap, &orders, "apple", "o1", base + 2_000);
    // A price update late for the table (older than its latest), in time for o1.
    produce_at(&bootstrap, &prices, "apple", "p2", base + 1_800);
    wait_until(
        Duration::from_secs(30),
        "the late price in the history",
        || {
            store.get_as_of(&apple, base + 1_900).ok().flatten()
                == version("p2", base + 1_800, Some(base + 3_000))
        },
    );
    assert_eq!(
        store.get(&apple).unwrap(),
        version("p3", base + 3_000, None),
        "an out-of-order update is not the latest"
    );
    // Order o2 moves stream time to base + 3500: o1 is joined as of its time, with p2; o2 waits.
    produce_at(&bootstrap, &orders, "apple", "o2", base + 3_500);
    reader.read_until(&mut joined, 1, Duration::from_secs(60));
    assert_eq!(joined, ["o1@p2"]);
    assert!(streams.close(Duration::from_secs(30)));
    drop(first_dir);
    // Compaction must leave the history in the changelog: Kafka's versioned changelog config.
    let changelog = broker
        .topic(&format!("{application_id}-prices-changelog"))
        .expect("the versioned store's changelog");
    assert_eq!(
        changelog.config.min_compaction_lag_ms(),
        600_000 + 24 * 60 * 60 * 1000,
        "history retention plus a day"
    );

    // Run 2: a new instance with an empty state directory restores the versioned store and the
    // join's buffer from their changelogs.
    let second_dir = tempfile::tempdir().unwrap();
    let streams = KafkaStreams::new(
        priced_orders(&prices, &orders, &output),
        config(&application_id, &bootstrap, second_dir.path()),
    )
    .unwrap();
    let restores = restore_counter();
    streams.set_restore_listener(Arc::clone(&restores) as _);
    streams.start().unwrap();
    wait_running(&streams, Duration::from_secs(60));
    let changelogs: Vec<String> = restores
        .partitions
        .lock()
        .unwrap()
        .iter()
        .map(|(partition, _, _)| partition.to_string())
        .collect();
    assert!(
        changelogs.iter().any(|c| c.contains("-prices-changelog"))
            && changelogs
                .iter()
                .any(|c| c.contains("-priced-Buffer-changelog")),
        "restored: {changelogs:?}"
    );
    assert!(restores.restored.load(Ordering::Relaxed) >= 4);
    let store = streams
        .local_versioned_store("prices", Serdes::string(), Serdes::string())
        .unwrap();
    assert_eq!(
        store.get(&apple).unwrap(),
        version("p3", base + 3_000, None)
    );
    assert_eq!(
        store.get_as_of(&apple, base + 1_900).unwrap(),
        version("p2", base + 1_800, Some(base + 3_000)),
        "the history is restored, not only the latest values"
    );
    assert_eq!(
        store.get_as_of(&apple, base + 1_500).unwrap(),
        version("p1", base + 1_000, Some(base + 1_800))
    );

    // Order o3 moves stream time to base + 5000: o2, restored from the buffer's changelog, is
    // joined as of its time, with p3.
    produce_at(&bootstrap, &orders, "apple", "o3", base + 5_000);
    reader.read_until(&mut joined, 2, Duration::from_secs(60));
    assert_eq!(joined, ["o1@p2", "o2@p3"]);
    assert!(streams.close(Duration::from_secs(30)));
}
