//! Specification: the `wordcount` example, killed with SIGKILL in the middle of its input and
//! restarted with the same state directory, ends with the right counts.
//!
//! - Under `exactly_once_v2`, a `read_committed` reader sees exactly the model, and no word's
//!   count is ever emitted twice: the killed run's open transaction is aborted (the restarted
//!   producers fence it), and the stores are restored from the committed changelog.
//! - Under `at_least_once`, no final count is lower than the model (records after the last
//!   commit may be counted twice).
//!
//! Both runs end with SIGTERM, to which the example answers with a clean shutdown (exit 0).
//!
//! The `fraud_detection` example (a left stream-stream join: window stores and the store of
//! records waiting for a partner, all changelogged), killed the same way under
//! `exactly_once_v2`, emits every alert of the model exactly once; the `order_enrichment`
//! example (a foreign-key join: subscription store, registration and response topics) ends
//! with exactly the left join of the final tables, changes made while it was down included.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rill_test_support::process::{example, terminate};
use rill_test_support::*;

fn spawn(
    name: &str,
    bootstrap: &str,
    application_id: &str,
    state_dir: &std::path::Path,
    guarantee: &str,
) -> Child {
    Command::new(example(name))
        .args(["--bootstrap-servers", bootstrap])
        .args(["--application-id", application_id])
        .args(["--state-dir", &state_dir.display().to_string()])
        .args(["--processing-guarantee", guarantee])
        // The killed member must leave the group quickly for the restarted one to get its
        // partitions.
        .args(["--set", "consumer.session.timeout.ms=6000"])
        .args(["--set", "consumer.heartbeat.interval.ms=500"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the example")
}

/// A broker that aborts a killed producer's open transaction quickly.
fn crash_broker() -> rill::streams_broker::BrokerHandle {
    embedded_broker(&[
        ("group.initial.rebalance.delay.ms", "0"),
        (
            "transaction.abort.timed.out.transaction.cleanup.interval.ms",
            "1000",
        ),
    ])
}

fn crash_and_restart(guarantee: &str) -> (CountReader, std::collections::HashMap<String, i64>) {
    let broker = crash_broker();
    let bootstrap = broker.bootstrap();
    let (input, output) = ("streams-plaintext-input", "streams-wordcount-output");
    broker.create_topic(input, 2).unwrap();
    broker.create_topic(output, 2).unwrap();
    let lines = random_lines(2024, 30_000, 300);
    let (first, second) = lines.split_at(20_000);
    produce_lines(&bootstrap, input, first);
    let application_id = format!("crash-{guarantee}").replace('_', "-");
    let state_dir = tempfile::tempdir().unwrap();
    let mut reader = CountReader::new(&bootstrap, output, guarantee == "exactly_once_v2");

    // Run 1: killed once a fifth of the words are counted.
    let mut child = spawn(
        "wordcount",
        &bootstrap,
        &application_id,
        state_dir.path(),
        guarantee,
    );
    let total: i64 = model(first).values().sum();
    reader.read_until(Duration::from_secs(60), |latest| {
        latest.values().sum::<i64>() > total / 5
    });
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");

    // Run 2: same state directory, more input, until the output is complete.
    produce_lines(&bootstrap, input, second);
    let mut child = spawn(
        "wordcount",
        &bootstrap,
        &application_id,
        state_dir.path(),
        guarantee,
    );
    let model = model(&lines);
    reader.read_until(Duration::from_secs(90), |latest| {
        model
            .iter()
            .all(|(word, count)| latest.get(word).is_some_and(|c| c >= count))
    });
    let status = terminate(&mut child, Duration::from_secs(30));
    assert!(status.success(), "exit after SIGTERM: {status}");
    (reader, model)
}

#[test]
fn sigkill_under_exactly_once_leaves_exactly_the_model() {
    let (reader, model) = crash_and_restart("exactly_once_v2");
    assert_eq!(reader.latest, model);
    for (word, counts) in &reader.history {
        assert!(
            counts.windows(2).all(|w| w[0] < w[1]),
            "`{word}` counts were emitted more than once: {counts:?}"
        );
    }
}

#[test]
fn sigkill_under_at_least_once_counts_nothing_less_than_the_model() {
    let (reader, model) = crash_and_restart("at_least_once");
    for (word, count) in &model {
        assert!(
            reader.latest[word] >= *count,
            "`{word}`: {} < {count}",
            reader.latest[word]
        );
    }
}

/// Seeded accounts and event times over a day (from 1,700,000,000,000 ms), in time order.
fn events(state: &mut u64, n: usize) -> Vec<(String, i64)> {
    let mut next = || {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    };
    let mut events: Vec<(String, i64)> = (0..n)
        .map(|_| {
            let account = format!("account-{:02}", next() % 50);
            (account, 1_700_000_000_000 + (next() % 86_400_000) as i64)
        })
        .collect();
    events.sort_by_key(|(_, t)| *t);
    events
}

/// Reads `fraud-alerts` (read_committed), counting each (account, timestamp) seen, until
/// `done(alerts)`; panics after `timeout` unless `settle` (then it just stops reading).
fn read_alerts(
    consumer: &rdkafka::consumer::BaseConsumer,
    alerts: &mut std::collections::BTreeMap<(String, i64), usize>,
    timeout: Duration,
    settle: bool,
    done: impl Fn(&std::collections::BTreeMap<(String, i64), usize>) -> bool,
) {
    use rdkafka::message::Message;
    let deadline = Instant::now() + timeout;
    while !done(alerts) {
        if Instant::now() >= deadline {
            assert!(
                settle,
                "alerts did not converge within {timeout:?}: {} so far",
                alerts.len()
            );
            return;
        }
        if let Some(message) = consumer.poll(Duration::from_millis(50)) {
            let message = message.expect("consume");
            let account = String::from_utf8_lossy(message.key().expect("key")).into_owned();
            let timestamp = message.timestamp().to_millis().expect("timestamp");
            *alerts.entry((account, timestamp)).or_default() += 1;
        }
    }
}

#[test]
fn sigkill_of_a_stream_stream_join_under_exactly_once_emits_each_alert_once() {
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    const WINDOW_MS: i64 = 5 * 60 * 1000;
    let broker = crash_broker();
    let bootstrap = broker.bootstrap();
    for topic in ["payments", "logins", "fraud-alerts"] {
        broker.create_topic(topic, 2).unwrap();
    }
    let mut seed = 0x5eed_u64;
    let logins = events(&mut seed, 3_000);
    let payments = events(&mut seed, 6_000);
    let mut model: std::collections::BTreeMap<(String, i64), usize> = Default::default();
    for (account, t) in &payments {
        if !logins
            .iter()
            .any(|(a, u)| a == account && (t - u).abs() <= WINDOW_MS)
        {
            *model.entry((account.clone(), *t)).or_default() += 1;
        }
    }
    let amount = 1234i64.to_be_bytes();
    produce_timestamped(
        &bootstrap,
        "logins",
        logins
            .iter()
            .map(|(a, t)| (Some(a.as_bytes()), Some(&b"home"[..]), Some(*t))),
    );
    // The payments, then one more per account a day later, so that every earlier payment's
    // window closes in every partition.
    let closing: Vec<(String, i64)> = (0..50)
        .map(|a| {
            (
                format!("account-{a:02}"),
                1_700_000_000_000 + 2 * 86_400_000,
            )
        })
        .collect();
    produce_timestamped(
        &bootstrap,
        "payments",
        payments
            .iter()
            .chain(&closing)
            .map(|(a, t)| (Some(a.as_bytes()), Some(&amount[..]), Some(*t))),
    );
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", "alerts-reader")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        .create()
        .expect("consumer");
    consumer.subscribe(&["fraud-alerts"]).expect("subscribe");
    let state_dir = tempfile::tempdir().unwrap();
    let run = || {
        spawn(
            "fraud_detection",
            &bootstrap,
            "fraud-crash",
            state_dir.path(),
            "exactly_once_v2",
        )
    };

    // Run 1: killed once a fifth of the alerts are out.
    let mut alerts = Default::default();
    let mut child = run();
    let total = model.values().sum::<usize>();
    read_alerts(
        &consumer,
        &mut alerts,
        Duration::from_secs(60),
        false,
        |a| a.values().sum::<usize>() > total / 5,
    );
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");

    // Run 2: same state directory, until every alert of the model is out.
    let mut child = run();
    read_alerts(
        &consumer,
        &mut alerts,
        Duration::from_secs(120),
        false,
        |a| model.keys().all(|k| a.contains_key(k)),
    );
    // An alert emitted twice, or one not in the model, would show up by now.
    read_alerts(&consumer, &mut alerts, Duration::from_secs(3), true, |_| {
        false
    });
    let status = terminate(&mut child, Duration::from_secs(30));
    assert!(status.success(), "exit after SIGTERM: {status}");
    assert_eq!(alerts, model, "each alert exactly once, nothing else");
}

/// The enriched order the `order_enrichment` example writes for `order` (product id,
/// quantity) and its product (name, price), as JSON.
fn enriched(order: &(String, u32), product: Option<&(String, i64)>) -> serde_json::Value {
    serde_json::json!({
        "product_id": order.0,
        "quantity": order.1,
        "product": product.map(|p| p.0.clone()),
        "total_cents": product.map(|p| p.1 * i64::from(order.1)),
    })
}

#[test]
fn sigkill_of_a_foreign_key_join_under_exactly_once_ends_with_the_model_table() {
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::message::Message;
    use std::collections::BTreeMap;
    let (orders_topic, products_topic, output) = (
        "streams-orders-input",
        "streams-products-input",
        "streams-enriched-orders-output",
    );
    let broker = crash_broker();
    let bootstrap = broker.bootstrap();
    broker.create_topic(orders_topic, 3).unwrap();
    broker.create_topic(products_topic, 2).unwrap();
    broker.create_topic(output, 2).unwrap();

    let mut products: BTreeMap<String, (String, i64)> = (0..50)
        .map(|i| (format!("p-{i}"), (format!("product {i}"), 100 + i)))
        .collect();
    // Orders 0..2000 name products p-0 … p-54 (p-50 … p-54 unknown).
    let mut orders: BTreeMap<String, (String, u32)> = (0..2_000u32)
        .map(|i| (format!("o-{i}"), (format!("p-{}", i * 7 % 55), 1 + i % 5)))
        .collect();
    let product_json = |(name, price): &(String, i64)| {
        serde_json::json!({"name": name, "price_cents": price}).to_string()
    };
    let order_json = |(product, quantity): &(String, u32)| {
        serde_json::json!({"product_id": product, "quantity": quantity}).to_string()
    };
    let produce_table = |topic: &str, rows: Vec<(String, Option<String>)>| {
        produce_timestamped(
            &bootstrap,
            topic,
            rows.iter()
                .map(|(k, v)| (Some(k.as_bytes()), v.as_deref().map(str::as_bytes), None)),
        )
    };
    produce_table(
        products_topic,
        products
            .iter()
            .map(|(k, p)| (k.clone(), Some(product_json(p))))
            .collect(),
    );
    produce_table(
        orders_topic,
        orders
            .iter()
            .map(|(k, o)| (k.clone(), Some(order_json(o))))
            .collect(),
    );

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", "enriched-reader")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        .create()
        .expect("consumer");
    consumer.subscribe(&[output]).expect("subscribe");
    let mut table: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    let read = |table: &mut BTreeMap<String, serde_json::Value>,
                timeout: Duration,
                done: &dyn Fn(&BTreeMap<String, serde_json::Value>) -> bool| {
        let deadline = Instant::now() + timeout;
        while !done(table) {
            assert!(
                Instant::now() < deadline,
                "output did not converge within {timeout:?}: {} orders",
                table.len()
            );
            if let Some(message) = consumer.poll(Duration::from_millis(50)) {
                let message = message.expect("consume");
                let key = String::from_utf8_lossy(message.key().expect("key")).into_owned();
                match message.payload() {
                    Some(json) => {
                        table.insert(key, serde_json::from_slice(json).expect("json"));
                    }
                    None => {
                        table.remove(&key);
                    }
                }
            }
        }
    };
    let state_dir = tempfile::tempdir().unwrap();
    let run = || {
        spawn(
            "order_enrichment",
            &bootstrap,
            "fk-crash",
            state_dir.path(),
            "exactly_once_v2",
        )
    };

    // Run 1: killed once a fifth of the orders have a result.
    let mut child = run();
    read(&mut table, Duration::from_secs(60), &|t| t.len() > 400);
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");

    // Changes while it is down: prices change, products are withdrawn, orders move to another
    // product or are cancelled.
    let mut product_changes = Vec::new();
    for i in 0..10 {
        let key = format!("p-{i}");
        let changed = (format!("product {i} (new)"), 1_000 + i);
        product_changes.push((key.clone(), Some(product_json(&changed))));
        products.insert(key, changed);
    }
    for i in 10..15 {
        let key = format!("p-{i}");
        product_changes.push((key.clone(), None));
        products.remove(&key);
    }
    let mut order_changes = Vec::new();
    for i in 0..200u32 {
        let key = format!("o-{i}");
        let moved = (format!("p-{}", (i + 3) % 55), 2);
        order_changes.push((key.clone(), Some(order_json(&moved))));
        orders.insert(key, moved);
    }
    for i in 200..300 {
        let key = format!("o-{i}");
        order_changes.push((key.clone(), None));
        orders.remove(&key);
    }
    produce_table(products_topic, product_changes);
    produce_table(orders_topic, order_changes);

    // Run 2: same state directory, until the output table is the left join of the final
    // tables — and stays so.
    let model: BTreeMap<String, serde_json::Value> = orders
        .iter()
        .map(|(k, o)| (k.clone(), enriched(o, products.get(&o.0))))
        .collect();
    let mut child = run();
    read(&mut table, Duration::from_secs(120), &|t| *t == model);
    let settle = Instant::now() + Duration::from_secs(2);
    while Instant::now() < settle {
        if let Some(message) = consumer.poll(Duration::from_millis(50)) {
            let message = message.expect("consume");
            panic!(
                "output changed after converging: {:?}",
                message.key().map(String::from_utf8_lossy)
            );
        }
    }
    let status = terminate(&mut child, Duration::from_secs(30));
    assert!(status.success(), "exit after SIGTERM: {status}");
}
