//! Specification: global tables on the runtime, against the embedded broker.
//!
//! - Every instance holds the *whole* global table: two instances of one application, each
//!   processing part of a stream's partitions, join records with keys from every partition of
//!   a global topic whose partition count differs from the stream's; `local_store` on each
//!   instance reads every key.
//! - Updates and deletes produced to the global topic while the application runs reach the
//!   joins of both instances (through each one's global thread).
//! - A clean restart restores only the tail of the global topic: the global thread checkpoints
//!   what it applied under `state.dir/<application.id>/global/.checkpoint`.
//! - A global store of the Processor API (`TopologyBuilder::add_global_store`) is restored from
//!   its topic as it is at start-up, kept up to date by its processor while running, and read
//!   by the tasks' processors and by interactive queries.
//! - A missing global topic fails `start()` like a missing source topic; a record of the global
//!   topic that cannot be deserialized fails the global thread, and the instance ends in ERROR.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rill::prelude::*;
use rill_test_support::*;

/// orders (order id → product id) joined with the global table `products` (product id → name)
/// into `out` (order id → "order:name").
fn enrich_orders(orders: &str, products: &str, out: &str) -> Topology {
    let builder = StreamsBuilder::new();
    let products = builder.global_table(
        products,
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("products"),
    );
    builder
        .stream(orders, Consumed::with(Serdes::string(), Serdes::string()))
        .join_global_table(
            &products,
            |_, product: &String| product.clone(),
            |product, name: &String| format!("{product}:{name}"),
        )
        .to(out, Produced::with(Serdes::string(), Serdes::string()));
    builder.build().expect("topology")
}

fn produce_strings(bootstrap: &str, topic: &str, records: &[(String, Option<String>)]) {
    produce_timestamped(
        bootstrap,
        topic,
        records
            .iter()
            .map(|(k, v)| (Some(k.as_bytes()), v.as_deref().map(str::as_bytes), None)),
    );
}

#[test]
fn every_instance_joins_against_the_whole_global_table_and_its_updates() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let id = unique();
    let (orders, products, out) = (
        format!("orders-{id}"),
        format!("products-{id}"),
        format!("enriched-{id}"),
    );
    // The global topic has 3 partitions, the stream 2: no co-partitioning needed.
    broker.create_topic(&orders, 2).unwrap();
    broker.create_topic(&products, 3).unwrap();
    broker.create_topic(&out, 2).unwrap();
    let catalog: Vec<(String, Option<String>)> = (0..30)
        .map(|p| (format!("p{p}"), Some(format!("name{p}"))))
        .collect();
    produce_strings(&bootstrap, &products, &catalog);

    let application_id = format!("global-{id}");
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let instances: Vec<KafkaStreams> = dirs
        .iter()
        .map(|dir| {
            let streams = KafkaStreams::new(
                enrich_orders(&orders, &products, &out),
                config(&application_id, &bootstrap, dir.path()),
            )
            .unwrap();
            streams.start().unwrap();
            streams
        })
        .collect();
    for streams in &instances {
        wait_running(streams, Duration::from_secs(60));
    }
    // Each instance restored every partition of the global topic before processing.
    for streams in &instances {
        let store = streams
            .local_store("products", Serdes::string(), Serdes::string())
            .unwrap();
        assert_eq!(store.all().unwrap().len(), 30);
    }
    // Both instances process orders (the group spreads the 2 stream partitions over them) that
    // look up products of every global partition.
    wait_until(Duration::from_secs(60), "both instances own a task", || {
        instances.iter().all(|s| {
            s.local_thread_metadata()
                .iter()
                .any(|t| !t.active_tasks.is_empty())
        })
    });
    let first: Vec<(String, Option<String>)> = (0..60)
        .map(|o| (format!("o{o}"), Some(format!("p{}", o % 30))))
        .collect();
    produce_strings(&bootstrap, &orders, &first);
    let mut reader = TableReader::new(&bootstrap, &out);
    reader.read_until(Duration::from_secs(60), |latest| latest.len() == 60);
    for o in 0..60 {
        assert_eq!(
            reader.latest[&format!("o{o}")],
            format!("p{}:name{}", o % 30, o % 30)
        );
    }

    // Updates and deletes of the global topic while running reach both instances.
    produce_strings(
        &bootstrap,
        &products,
        &[
            ("p0".to_string(), Some("renamed".to_string())),
            ("p1".to_string(), None),
        ],
    );
    for streams in &instances {
        let store = streams
            .local_store("products", Serdes::string(), Serdes::string())
            .unwrap();
        wait_until(
            Duration::from_secs(30),
            "the update reached the instance",
            || {
                store.get(&"p0".to_string()).unwrap().as_deref() == Some("renamed")
                    && store.get(&"p1".to_string()).unwrap().is_none()
            },
        );
    }
    let second: Vec<(String, Option<String>)> = (100..140)
        .map(|o| (format!("o{o}"), Some(format!("p{}", o % 2))))
        .collect();
    produce_strings(&bootstrap, &orders, &second);
    // Orders of p0 (on both stream partitions) see the new name; orders of the deleted p1
    // join nothing. A marker order after them shows the batch was processed.
    produce_strings(
        &bootstrap,
        &orders,
        &[("marker".to_string(), Some("p2".to_string()))],
    );
    reader.read_until(Duration::from_secs(60), |latest| {
        latest.contains_key("marker")
            && (100..140)
                .step_by(2)
                .all(|o| latest.contains_key(&format!("o{o}")))
    });
    for o in (100..140).step_by(2) {
        assert_eq!(reader.latest[&format!("o{o}")], "p0:renamed");
    }
    for streams in &instances {
        assert!(streams.close(Duration::from_secs(30)));
        assert_eq!(streams.state(), State::NotRunning);
    }
    // Odd orders (deleted product) produced nothing. The marker was produced after them, but
    // on possibly another partition: read a little longer to be sure nothing late shows up.
    reader.read_for(Duration::from_secs(1));
    assert!(
        (101..140)
            .step_by(2)
            .all(|o| !reader.latest.contains_key(&format!("o{o}"))),
        "an order of a deleted product was joined: {:?}",
        reader.latest
    );
}

#[test]
fn a_clean_restart_restores_only_the_tail_of_the_global_topic() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let id = unique();
    let (orders, products, out) = (
        format!("orders-{id}"),
        format!("products-{id}"),
        format!("enriched-{id}"),
    );
    broker.create_topic(&orders, 1).unwrap();
    broker.create_topic(&products, 2).unwrap();
    broker.create_topic(&out, 1).unwrap();
    let records = |range: std::ops::Range<u32>| -> Vec<(String, Option<String>)> {
        range
            .map(|p| (format!("p{p}"), Some(format!("name{p}"))))
            .collect()
    };
    produce_strings(&bootstrap, &products, &records(0..50));
    let application_id = format!("global-restart-{id}");
    let state_dir = tempfile::tempdir().unwrap();

    // Run 1: restores the 50 records, then applies 5 more while running.
    let streams = KafkaStreams::new(
        enrich_orders(&orders, &products, &out),
        config(&application_id, &bootstrap, state_dir.path()),
    )
    .unwrap();
    let restores = restore_counter();
    streams.set_restore_listener(Arc::clone(&restores) as _);
    streams.start().unwrap();
    assert_eq!(restores.restored.load(Ordering::Relaxed), 50);
    wait_running(&streams, Duration::from_secs(60));
    produce_strings(&bootstrap, &products, &records(50..55));
    let store = streams
        .local_store("products", Serdes::string(), Serdes::string())
        .unwrap();
    wait_until(
        Duration::from_secs(30),
        "the global thread applied the updates",
        || store.all().unwrap().len() == 55,
    );
    assert!(streams.close(Duration::from_secs(30)));
    let checkpoint = state_dir
        .path()
        .join(&application_id)
        .join("global")
        .join(".checkpoint");
    let text = std::fs::read_to_string(&checkpoint).unwrap();
    assert!(text.contains(&products), "{text}");

    // Run 2: 10 records were produced while it was down; only they are restored.
    produce_strings(&bootstrap, &products, &records(55..65));
    let streams = KafkaStreams::new(
        enrich_orders(&orders, &products, &out),
        config(&application_id, &bootstrap, state_dir.path()),
    )
    .unwrap();
    let restores = restore_counter();
    streams.set_restore_listener(Arc::clone(&restores) as _);
    streams.start().unwrap();
    assert_eq!(restores.restored.load(Ordering::Relaxed), 10);
    let store = streams
        .local_store("products", Serdes::string(), Serdes::string())
        .unwrap();
    assert_eq!(store.all().unwrap().len(), 65);
    // And the joins use it.
    produce_strings(
        &bootstrap,
        &orders,
        &[("o1".to_string(), Some("p60".to_string()))],
    );
    let mut reader = TableReader::new(&bootstrap, &out);
    reader.read_until(Duration::from_secs(60), |latest| latest.contains_key("o1"));
    assert_eq!(reader.latest["o1"], "p60:name60");
    assert!(streams.close(Duration::from_secs(30)));
}

#[test]
fn a_failing_global_thread_moves_the_instance_to_error() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let id = unique();
    let (orders, prices, out) = (
        format!("orders-{id}"),
        format!("prices-{id}"),
        format!("priced-{id}"),
    );
    broker.create_topic(&orders, 1).unwrap();
    broker.create_topic(&prices, 1).unwrap();
    broker.create_topic(&out, 1).unwrap();
    let builder = StreamsBuilder::new();
    let prices_table = builder.global_table(
        &prices,
        Consumed::with(Serdes::string(), Serdes::i64()),
        Materialized::as_("prices"),
    );
    builder
        .stream(&orders, Consumed::with(Serdes::string(), Serdes::string()))
        .join_global_table(
            &prices_table,
            |_, product: &String| product.clone(),
            |product, price: &i64| format!("{product}={price}"),
        )
        .to(&out, Produced::with(Serdes::string(), Serdes::string()));
    let state_dir = tempfile::tempdir().unwrap();
    let streams = KafkaStreams::new(
        builder.build().unwrap(),
        config(&format!("global-error-{id}"), &bootstrap, state_dir.path()),
    )
    .unwrap();
    let transitions = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&transitions);
    streams.set_state_listener(move |new, _| seen.lock().unwrap().push(new));
    streams.start().unwrap();
    wait_running(&streams, Duration::from_secs(60));
    // Three bytes are no i64: the global thread's default LogAndFail handler fails it.
    produce(
        &bootstrap,
        &prices,
        &[(Some(b"p".to_vec()), b"bad".to_vec())],
    );
    assert!(
        streams.wait_for_state(State::Error, Duration::from_secs(30)),
        "state: {}",
        streams.state()
    );
    // The listener hears of a transition just after the state changed.
    wait_until(
        Duration::from_secs(5),
        "the listener heard of ERROR",
        || {
            transitions
                .lock()
                .unwrap()
                .ends_with(&[State::PendingError, State::Error])
        },
    );
    assert!(streams.close(Duration::from_secs(10)));
}

#[test]
fn a_missing_global_topic_fails_start() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let id = unique();
    let (orders, products, out) = (
        format!("orders-{id}"),
        format!("products-{id}"),
        format!("enriched-{id}"),
    );
    broker.create_topic(&orders, 1).unwrap();
    broker.create_topic(&out, 1).unwrap();
    let state_dir = tempfile::tempdir().unwrap();
    let streams = KafkaStreams::new(
        enrich_orders(&orders, &products, &out),
        config(
            &format!("global-missing-{id}"),
            &bootstrap,
            state_dir.path(),
        ),
    )
    .unwrap();
    match streams.start() {
        Err(Error::MissingSourceTopics { topics }) => assert_eq!(topics, [products]),
        other => panic!("expected MissingSourceTopics, got {other:?}"),
    }
}

#[test]
fn an_application_of_global_tables_only_runs_and_serves_them() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let id = unique();
    let products = format!("products-{id}");
    broker.create_topic(&products, 2).unwrap();
    produce_strings(
        &bootstrap,
        &products,
        &[("p1".to_string(), Some("anvil".to_string()))],
    );
    let builder = StreamsBuilder::new();
    builder.global_table(
        &products,
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("catalogue"),
    );
    let state_dir = tempfile::tempdir().unwrap();
    let streams = KafkaStreams::new(
        builder.build().expect("topology"),
        config(&format!("global-only-{id}"), &bootstrap, state_dir.path()),
    )
    .unwrap();
    streams.start().unwrap();
    wait_running(&streams, Duration::from_secs(30));
    let lookup = |key: &str| {
        streams
            .local_store("catalogue", Serdes::string(), Serdes::string())
            .ok()
            .and_then(|store| store.get(&key.to_string()).ok().flatten())
    };
    assert_eq!(lookup("p1").as_deref(), Some("anvil"));
    produce_strings(
        &bootstrap,
        &products,
        &[("p2".to_string(), Some("rope".to_string()))],
    );
    wait_until(
        Duration::from_secs(30),
        "p2 reaches the global store",
        || lookup("p2").as_deref() == Some("rope"),
    );
    assert!(streams.close(Duration::from_secs(30)));
}

/// The global store's updater: keeps each key's latest value, deletes on a tombstone.
struct RatesUpdater(Option<rill::streams_core::state::KeyValueStoreRef<String, String>>);

impl Processor<String, Option<String>, (), ()> for RatesUpdater {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, (), ()>) -> rill::streams_core::Result<()> {
        self.0 = Some(ctx.key_value_store("rates", Serdes::string(), Serdes::string())?);
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<String, Option<String>>,
        _ctx: &mut ProcessorContext<'_, (), ()>,
    ) -> rill::streams_core::Result<()> {
        let store = self.0.as_ref().expect("initialized");
        match &record.value {
            Some(value) => store.put(&record.key, value),
            None => store.delete(&record.key).map(|_| ()),
        }
    }
}

/// Prices each order (key: currency) with the global store's rate.
struct PriceOrders(Option<rill::streams_core::state::KeyValueStoreRef<String, String>>);

impl Processor<String, String, String, String> for PriceOrders {
    fn init(
        &mut self,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> rill::streams_core::Result<()> {
        self.0 = Some(ctx.key_value_store("rates", Serdes::string(), Serdes::string())?);
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<String, String>,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> rill::streams_core::Result<()> {
        let rate = self.0.as_ref().expect("initialized").get(&record.key)?;
        let value = format!("{}@{}", record.value, rate.as_deref().unwrap_or("none"));
        ctx.forward(record.with_value(value))
    }
}

#[test]
fn a_processor_api_global_store_is_restored_updated_and_read() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let id = unique();
    let (orders, rates, out) = (
        format!("orders-{id}"),
        format!("rates-{id}"),
        format!("priced-{id}"),
    );
    broker.create_topic(&orders, 2).unwrap();
    broker.create_topic(&rates, 3).unwrap();
    broker.create_topic(&out, 1).unwrap();
    produce_strings(
        &bootstrap,
        &rates,
        &[
            ("eur".to_string(), Some("1.1".to_string())),
            ("gbp".to_string(), Some("1.3".to_string())),
        ],
    );

    let mut builder = TopologyBuilder::new();
    builder
        .add_global_store(
            Stores::key_value_store_builder(Stores::persistent_key_value_store("rates"))
                .with_logging_disabled(),
            "rates-source",
            Serdes::string(),
            rill::streams_core::serde::OptionSerde::new(Serdes::string()),
            &rates,
            "rates-updater",
            || RatesUpdater(None),
        )
        .add_source::<String, String>("orders", &[&orders], Serdes::string(), Serdes::string())
        .add_processor("price", || PriceOrders(None), &["orders"])
        .add_sink::<String, String>("sink", &out, Serdes::string(), Serdes::string(), &["price"]);
    let dir = tempfile::tempdir().unwrap();
    let streams = KafkaStreams::new(
        builder.build().unwrap(),
        config(&format!("global-store-{id}"), &bootstrap, dir.path()),
    )
    .unwrap();
    streams.start().unwrap();
    wait_running(&streams, Duration::from_secs(60));
    // Restored from the topic before processing.
    let store = streams
        .local_store("rates", Serdes::string(), Serdes::string())
        .unwrap();
    assert_eq!(
        store.get(&"eur".to_string()).unwrap().as_deref(),
        Some("1.1")
    );
    assert_eq!(store.all().unwrap().len(), 2);

    // Kept up to date by the processor while running: an update and a delete.
    produce_strings(
        &bootstrap,
        &rates,
        &[
            ("eur".to_string(), Some("1.2".to_string())),
            ("gbp".to_string(), None),
        ],
    );
    wait_until(
        Duration::from_secs(30),
        "the updates reached the store",
        || {
            store.get(&"eur".to_string()).unwrap().as_deref() == Some("1.2")
                && store.get(&"gbp".to_string()).unwrap().is_none()
        },
    );
    produce_strings(
        &bootstrap,
        &orders,
        &[
            ("eur".to_string(), Some("o1".to_string())),
            ("gbp".to_string(), Some("o2".to_string())),
        ],
    );
    let mut reader = TableReader::new(&bootstrap, &out);
    reader.read_until(Duration::from_secs(60), |latest| latest.len() == 2);
    assert_eq!(reader.latest["eur"], "o1@1.2");
    assert_eq!(reader.latest["gbp"], "o2@none");
    assert!(streams.close(Duration::from_secs(30)));
}
