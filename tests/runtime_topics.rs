//! Specification: start-up checks the application's topics before any thread runs.
//!
//! - A missing source topic fails `start()` with `MissingSourceTopics`, naming it; the
//!   instance stays CREATED.
//! - Inputs of one sub-topology with different partition counts fail `start()` with a
//!   co-partitioning error naming both topics and counts.
//! - A window store's changelog is created `compact,delete` with a retention of the store's
//!   retention plus one day, and with the topic configs its `Materialized` asks for
//!   (`with_logging_enabled`).
//! - A foreign-key join's internal topics are created co-partitioned with the tables they
//!   meet: the subscription-registration topic (and the subscription store's changelog) with
//!   the right table's topic, the response topic with the left table's.
//! - `KafkaStreams::new` requires `bootstrap.servers`.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rill::prelude::*;

use rill_test_support::*;

#[test]
fn a_missing_source_topic_fails_start() {
    let broker = broker();
    let id = unique();
    let dir = tempfile::tempdir().unwrap();
    let streams = KafkaStreams::new(
        word_count(&format!("absent-{id}"), &format!("out-{id}")),
        config(&format!("missing-{id}"), &broker.bootstrap(), dir.path()),
    )
    .unwrap();
    match streams.start() {
        Err(Error::MissingSourceTopics { topics }) => {
            assert_eq!(topics, vec![format!("absent-{id}")])
        }
        other => panic!("expected MissingSourceTopics, got {other:?}"),
    }
    assert_eq!(streams.state(), State::Created);
}

#[test]
fn inputs_with_different_partition_counts_fail_start() {
    let broker = broker();
    let id = unique();
    let (left, right) = (format!("left-{id}"), format!("right-{id}"));
    broker.create_topic(&left, 2).unwrap();
    broker.create_topic(&right, 3).unwrap();
    let builder = StreamsBuilder::new();
    let l = builder.stream(&left, Consumed::with(Serdes::string(), Serdes::string()));
    let r = builder.stream(&right, Consumed::with(Serdes::string(), Serdes::string()));
    l.merge(&r)
        .group_by_key(Grouped::with(Serdes::string(), Serdes::string()))
        .count(Materialized::as_("n"));
    let dir = tempfile::tempdir().unwrap();
    let streams = KafkaStreams::new(
        builder.build().unwrap(),
        config(&format!("copart-{id}"), &broker.bootstrap(), dir.path()),
    )
    .unwrap();
    let err = streams.start().unwrap_err();
    assert!(matches!(err, Error::CoPartitioning(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("`{left}` has 2")) && text.contains(&format!("`{right}` has 3")),
        "{text}"
    );
}

#[test]
fn window_changelogs_are_compacted_and_deleted() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let id = unique();
    let input = format!("clicks-{id}");
    broker.create_topic(&input, 2).unwrap();
    let builder = StreamsBuilder::new();
    builder
        .stream(&input, Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key(Grouped::with(Serdes::string(), Serdes::string()))
        .windowed_by(
            TimeWindows::of_size_and_grace(Duration::from_secs(60), Duration::from_secs(10))
                .unwrap(),
        )
        .count(
            Materialized::as_("per-minute")
                .with_logging_enabled([("segment.ms", "3600000"), ("min.insync.replicas", "1")]),
        );
    let application_id = format!("windows-{id}");
    let dir = tempfile::tempdir().unwrap();
    let streams = KafkaStreams::new(
        builder.build().unwrap(),
        config(&application_id, &bootstrap, dir.path()),
    )
    .unwrap();
    streams.start().unwrap();
    wait_running(&streams, Duration::from_secs(30));
    assert!(streams.close(Duration::from_secs(30)));

    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .unwrap();
    let changelog = format!("{application_id}-per-minute-changelog");
    let configs = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(admin.describe_configs(
            [&ResourceSpecifier::Topic(&changelog)],
            &AdminOptions::new(),
        ))
        .unwrap();
    let resource = configs.into_iter().next().unwrap().unwrap();
    let value = |key: &str| resource.get(key).and_then(|e| e.value.clone());
    assert_eq!(value("cleanup.policy").as_deref(), Some("compact,delete"));
    assert_eq!(value("segment.ms").as_deref(), Some("3600000"));
    assert_eq!(value("min.insync.replicas").as_deref(), Some("1"));
    let retention: i64 = value("retention.ms").unwrap().parse().unwrap();
    // Kafka Streams keeps windows for at least a day, plus a day of changelog slack.
    assert!(
        retention >= 70_000 + 86_400_000,
        "retention.ms = {retention}"
    );
}

#[test]
fn foreign_key_join_topics_are_co_partitioned_with_the_tables_they_meet() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let id = unique();
    let (orders, products) = (format!("orders-{id}"), format!("products-{id}"));
    broker.create_topic(&orders, 3).unwrap();
    broker.create_topic(&products, 2).unwrap();
    let builder = StreamsBuilder::new();
    let orders_table = builder.table(
        &orders,
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("orders"),
    );
    let products_table = builder.table(
        &products,
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("products"),
    );
    orders_table.join_on_foreign_key(
        &products_table,
        |order: &String| order.clone(),
        |order: &String, product: &String| format!("{order}:{product}"),
    );
    let application_id = format!("fk-{id}");
    let dir = tempfile::tempdir().unwrap();
    let streams = KafkaStreams::new(
        builder.build().unwrap(),
        config(&application_id, &bootstrap, dir.path()),
    )
    .unwrap();
    streams.start().unwrap();
    wait_running(&streams, Duration::from_secs(30));
    assert!(streams.close(Duration::from_secs(30)));

    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .unwrap();
    let metadata = admin
        .inner()
        .fetch_metadata(None, Duration::from_secs(10))
        .unwrap();
    let partitions = |suffix: &str| {
        let name = format!("{application_id}-{suffix}");
        metadata
            .topics()
            .iter()
            .find(|t| t.name() == name)
            .map(|t| t.partitions().len())
            .unwrap_or_else(|| panic!("topic {name} was not created"))
    };
    assert_eq!(
        partitions("KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000004-topic"),
        2
    );
    assert_eq!(
        partitions("KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-0000000008-changelog"),
        2
    );
    assert_eq!(
        partitions("KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000012-topic"),
        3
    );
}

#[test]
fn bootstrap_servers_are_required() {
    let config = StreamsConfig::new("no-bootstrap").unwrap();
    let builder = StreamsBuilder::new();
    builder.stream("t", Consumed::with(Serdes::string(), Serdes::string()));
    let err = KafkaStreams::new(builder.build().unwrap(), config).unwrap_err();
    assert!(err.to_string().contains("bootstrap.servers"), "{err}");
}
