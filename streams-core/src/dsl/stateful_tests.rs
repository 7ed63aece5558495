//! Stateful operators through the test driver: aggregations, tables, stores and changelogs.

use super::test_support::{grouped, strings};
use crate::prelude::*;
use crate::serde::{I64Serde, OptionSerde, StringSerde};
use crate::Error;

fn counts_out() -> Produced<String, Option<i64>> {
    Produced::with(Serdes::string(), Serdes::option(Serdes::i64()))
}

fn nullable_i64() -> OptionSerde<i64, I64Serde> {
    OptionSerde::new(I64Serde)
}

#[test]
fn count_by_key_emits_every_update_and_fills_the_store() {
    let builder = StreamsBuilder::new();
    builder
        .stream("in", strings())
        .group_by_key(grouped())
        .count(Materialized::as_("counts"))
        .to_stream()
        .to("out", counts_out());
    let topology = builder.build().unwrap();
    assert_eq!(
        topology.subtopology_count(),
        1,
        "no repartition without a key change"
    );
    assert_eq!(
        topology.changelog_topics(0, "app"),
        ["app-counts-changelog"]
    );
    let driver = TopologyTestDriver::new(topology).unwrap();
    let input = driver.create_input_topic("in", StringSerde, StringSerde);
    input.pipe_input_with_timestamp("a", "x", 10);
    input.pipe_input_with_timestamp("b", "y", 20);
    input.pipe_input_with_timestamp("a", "z", 5);
    let out = driver
        .create_output_topic("out", StringSerde, nullable_i64())
        .read_records_to_list();
    let updates: Vec<(&str, Option<i64>, i64)> = out
        .iter()
        .map(|r| (r.key.as_str(), r.value, r.timestamp))
        .collect();
    // The aggregate's timestamp is the largest of its inputs'.
    assert_eq!(
        updates,
        [("a", Some(1), 10), ("b", Some(1), 20), ("a", Some(2), 10)]
    );
    let store = driver
        .get_timestamped_key_value_store("counts", StringSerde, I64Serde)
        .unwrap();
    assert_eq!(store.get(&"a".to_string()).unwrap(), Some((2, 10)));
    assert_eq!(
        store.all().unwrap(),
        [("a".to_string(), 2, 10), ("b".to_string(), 1, 20)]
    );
    // Every store write went to the changelog.
    let changelog = driver.create_output_topic(
        &format!("{}-counts-changelog", driver.application_id()),
        StringSerde,
        I64Serde,
    );
    assert_eq!(
        changelog.read_key_values_to_list(),
        [
            ("a".to_string(), 1),
            ("b".to_string(), 1),
            ("a".to_string(), 2)
        ]
    );
}

#[test]
fn word_count_describes_like_kafka_streams_word_count_demo() {
    let builder = StreamsBuilder::new();
    builder
        .stream("streams-plaintext-input", strings())
        .flat_map_values(|line: &String| {
            line.to_lowercase()
                .split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .group_by(|_, word| word.clone(), grouped())
        .count(Materialized::as_("counts-store"))
        .to_stream()
        .to("streams-wordcount-output", counts_out());
    let expected = "\
Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [streams-plaintext-input])
      --> KSTREAM-FLATMAPVALUES-0000000001
    Processor: KSTREAM-FLATMAPVALUES-0000000001 (stores: [])
      --> KSTREAM-KEY-SELECT-0000000002
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-KEY-SELECT-0000000002 (stores: [])
      --> counts-store-repartition-filter
      <-- KSTREAM-FLATMAPVALUES-0000000001
    Processor: counts-store-repartition-filter (stores: [])
      --> counts-store-repartition-sink
      <-- KSTREAM-KEY-SELECT-0000000002
    Sink: counts-store-repartition-sink (topic: counts-store-repartition)
      <-- counts-store-repartition-filter

  Sub-topology: 1
    Source: counts-store-repartition-source (topics: [counts-store-repartition])
      --> KSTREAM-AGGREGATE-0000000003
    Processor: KSTREAM-AGGREGATE-0000000003 (stores: [counts-store])
      --> KTABLE-TOSTREAM-0000000007
      <-- counts-store-repartition-source
    Processor: KTABLE-TOSTREAM-0000000007 (stores: [])
      --> KSTREAM-SINK-0000000008
      <-- KSTREAM-AGGREGATE-0000000003
    Sink: KSTREAM-SINK-0000000008 (topic: streams-wordcount-output)
      <-- KTABLE-TOSTREAM-0000000007

";
    let topology = builder.build().unwrap();
    assert_eq!(topology.describe().to_string(), expected);

    let driver = TopologyTestDriver::new(topology).unwrap();
    let input = driver.create_input_topic("streams-plaintext-input", StringSerde, StringSerde);
    input.pipe_input("", "all streams lead to kafka");
    input.pipe_input("", "hello kafka streams");
    let counts = driver
        .create_output_topic("streams-wordcount-output", StringSerde, nullable_i64())
        .read_key_values_to_map();
    assert_eq!(counts["streams"], Some(2));
    assert_eq!(counts["kafka"], Some(2));
    assert_eq!(counts["hello"], Some(1));
    assert_eq!(counts.len(), 6);
}

#[test]
fn generated_store_and_repartition_names_follow_kafka() {
    let builder = StreamsBuilder::new();
    builder
        .stream("in", strings())
        .group_by(|_, v| v.clone(), grouped())
        .count(Materialized::new());
    let topology = builder.build().unwrap();
    assert_eq!(
        topology.store_names(),
        ["KSTREAM-AGGREGATE-STATE-STORE-0000000002"]
    );
    assert_eq!(
        topology.repartition_topics()[0].name,
        "KSTREAM-AGGREGATE-STATE-STORE-0000000002-repartition"
    );
    let text = topology.describe().to_string();
    assert!(text.contains("Processor: KSTREAM-AGGREGATE-0000000003 (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000002])"), "{text}");
    assert!(text.contains("Sink: KSTREAM-SINK-0000000004 (topic: KSTREAM-AGGREGATE-STATE-STORE-0000000002-repartition)"), "{text}");
}

#[test]
fn reduce_and_aggregate() {
    let builder = StreamsBuilder::new();
    let numbers = builder.stream("in", Consumed::with(Serdes::string(), Serdes::i64()));
    numbers
        .group_by_key(Grouped::with(Serdes::string(), Serdes::i64()))
        .reduce(|sum, v| sum + v, Materialized::as_("sums"))
        .to_stream()
        .to("sums", counts_out());
    numbers
        .group_by_key(Grouped::with(Serdes::string(), Serdes::i64()))
        .aggregate(
            String::new,
            |_, v, acc: String| {
                if acc.is_empty() {
                    v.to_string()
                } else {
                    format!("{acc},{v}")
                }
            },
            Materialized::as_("lists")
                .with_value_serde(Serdes::string())
                .with_in_memory(),
        )
        .to_stream()
        .to(
            "lists",
            Produced::with(Serdes::string(), Serdes::option(Serdes::string())),
        );
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("in", StringSerde, I64Serde);
    for (k, v) in [("a", 1), ("b", 10), ("a", 2), ("a", 3)] {
        input.pipe_input(k, v);
    }
    let sums = driver
        .create_output_topic("sums", StringSerde, nullable_i64())
        .read_key_values_to_list();
    assert_eq!(
        sums,
        [
            ("a".into(), Some(1)),
            ("b".into(), Some(10)),
            ("a".into(), Some(3)),
            ("a".into(), Some(6))
        ]
    );
    let lists = driver
        .create_output_topic("lists", StringSerde, OptionSerde::new(StringSerde))
        .read_key_values_to_map();
    assert_eq!(lists["a"].as_deref(), Some("1,2,3"));
    let store = driver
        .get_timestamped_key_value_store("lists", StringSerde, StringSerde)
        .unwrap();
    assert_eq!(
        store
            .get(&"b".to_string())
            .unwrap()
            .map(|(v, _)| v)
            .as_deref(),
        Some("10")
    );
}

#[test]
fn aggregate_without_a_value_serde_is_a_build_error() {
    let builder = StreamsBuilder::new();
    builder
        .stream("in", strings())
        .group_by_key(grouped())
        .aggregate(|| 0u32, |_, _, n| n + 1, Materialized::as_("n"));
    match builder.build() {
        Err(Error::InvalidTopology(message)) => {
            assert!(message.contains("with_value_serde"), "{message}")
        }
        other => panic!(
            "expected a build error, got {:?}",
            other.map(|t| t.describe().to_string())
        ),
    }
}

#[test]
fn aggregations_skip_null_keys_and_values() {
    let builder = StreamsBuilder::new();
    let nullable = Consumed::with(
        Serdes::option(Serdes::string()),
        Serdes::option(Serdes::string()),
    );
    builder
        .stream("in", nullable)
        .group_by_key(Grouped::with(
            Serdes::option(Serdes::string()),
            Serdes::option(Serdes::string()),
        ))
        .count(Materialized::as_("counts"))
        .to_stream()
        .to(
            "out",
            Produced::with(
                Serdes::option(Serdes::string()),
                Serdes::option(Serdes::i64()),
            ),
        );
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic(
        "in",
        OptionSerde::new(StringSerde),
        OptionSerde::new(StringSerde),
    );
    input.pipe_input(None::<String>, Some("v".to_string()));
    input.pipe_input(Some("k".to_string()), None::<String>);
    input.pipe_input(Some("k".to_string()), Some("v".to_string()));
    let out = driver
        .create_output_topic("out", OptionSerde::new(StringSerde), nullable_i64())
        .read_key_values_to_list();
    assert_eq!(out, [(Some("k".to_string()), Some(1))]);
}

#[test]
fn tables_upsert_delete_filter_and_map() {
    let builder = StreamsBuilder::new();
    let prices = builder.table(
        "prices",
        Consumed::with(Serdes::string(), Serdes::i64()),
        Materialized::as_("prices-store"),
    );
    assert_eq!(prices.queryable_store_name(), Some("prices-store"));
    prices.to_stream().to("all", counts_out());
    prices
        .filter(|_, p| *p >= 100)
        .map_values(|p| p * 2)
        .to_stream()
        .to("expensive-doubled", counts_out());
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("prices", StringSerde, nullable_i64());
    input.pipe_input("tea", Some(50));
    input.pipe_input("cake", Some(150));
    input.pipe_input("tea", Some(120)); // starts matching
    input.pipe_input("cake", Some(80)); // stops matching: deleted downstream
    input.pipe_input("tea", None::<i64>); // tombstone
    let all = driver
        .create_output_topic("all", StringSerde, nullable_i64())
        .read_key_values_to_list();
    assert_eq!(
        all,
        [
            ("tea".into(), Some(50)),
            ("cake".into(), Some(150)),
            ("tea".into(), Some(120)),
            ("cake".into(), Some(80)),
            ("tea".into(), None)
        ]
    );
    let expensive = driver
        .create_output_topic("expensive-doubled", StringSerde, nullable_i64())
        .read_key_values_to_list();
    assert_eq!(
        expensive,
        [
            ("cake".into(), Some(300)),
            ("tea".into(), Some(240)),
            ("cake".into(), None),
            ("tea".into(), None)
        ]
    );
    let store = driver
        .get_timestamped_key_value_store("prices-store", StringSerde, I64Serde)
        .unwrap();
    assert_eq!(
        store
            .all()
            .unwrap()
            .into_iter()
            .map(|(k, v, _)| (k, v))
            .collect::<Vec<_>>(),
        [("cake".to_string(), 80)]
    );
}

/// Forwards only the first record of each key, remembering keys in a store.
struct Dedupe {
    store: &'static str,
    unconnected: &'static str,
    seen: Option<crate::state::KeyValueStoreRef<String, i64>>,
}

impl Processor<String, String, String, String> for Dedupe {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, String, String>) -> crate::Result<()> {
        self.seen = Some(ctx.key_value_store(self.store, StringSerde, I64Serde)?);
        assert!(
            ctx.key_value_store(self.unconnected, StringSerde, I64Serde)
                .is_err(),
            "unconnected stores are refused"
        );
        assert!(
            ctx.session_store(self.store, StringSerde, I64Serde)
                .is_err(),
            "the store kind is checked"
        );
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<String, String>,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> crate::Result<()> {
        let seen = self.seen.as_ref().expect("initialized");
        if seen.get(&record.key)?.is_some() {
            return Ok(());
        }
        seen.put(&record.key, &record.timestamp)?;
        ctx.forward(record)
    }
}

#[test]
fn custom_processors_use_the_stores_connected_to_them() {
    let builder = StreamsBuilder::new();
    builder.add_state_store(streams_state::KeyValueStoreBuilder::new("seen"));
    builder.add_state_store(streams_state::KeyValueStoreBuilder::new("other").in_memory());
    builder
        .stream("in", strings())
        .process_with_stores(
            || Dedupe {
                store: "seen",
                unconnected: "other",
                seen: None,
            },
            &["seen"],
        )
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    builder.stream("in2", strings()).process_with_stores(
        || Dedupe {
            store: "other",
            unconnected: "seen",
            seen: None,
        },
        &["other"],
    );
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("in", StringSerde, StringSerde);
    for (k, v) in [("a", "1"), ("a", "2"), ("b", "3")] {
        input.pipe_input(k, v);
    }
    assert_eq!(
        driver
            .create_output_topic("out", StringSerde, StringSerde)
            .read_values_to_list(),
        ["1", "3"]
    );
    assert_eq!(
        driver
            .get_key_value_store("seen", StringSerde, I64Serde)
            .unwrap()
            .approximate_num_entries()
            .unwrap(),
        2
    );
}

#[test]
fn a_commit_flushes_the_cache_of_a_store_no_processor_flushes() {
    let builder = StreamsBuilder::new();
    builder
        .add_state_store(streams_state::KeyValueStoreBuilder::new("seen").with_caching_enabled());
    builder.stream("in", strings()).process_with_stores(
        || Dedupe {
            store: "seen",
            unconnected: "other",
            seen: None,
        },
        &["seen"],
    );
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("in", StringSerde, StringSerde);
    let changelog =
        driver.create_output_topic("topology-test-driver-seen-changelog", StringSerde, I64Serde);
    // The driver commits after every record: the cached write reaches the changelog each time.
    input.pipe_input_with_timestamp("a", "1", 5);
    assert_eq!(changelog.read_key_values_to_list(), [("a".to_string(), 5)]);
    input.pipe_input_with_timestamp("a", "2", 6);
    input.pipe_input_with_timestamp("b", "3", 7);
    assert_eq!(changelog.read_key_values_to_list(), [("b".to_string(), 7)]);
}

#[test]
fn using_an_undeclared_store_is_a_build_error() {
    let builder = StreamsBuilder::new();
    builder.stream("in", strings()).process_with_stores(
        || Dedupe {
            store: "seen",
            unconnected: "x",
            seen: None,
        },
        &["seen"],
    );
    let err = builder.build().unwrap_err();
    assert!(
        err.to_string().contains("`seen`, which was never added"),
        "{err}"
    );
}

/// A table of user -> region, re-grouped by region: moving a user subtracts from the old region.
fn region_table(materialized: bool) -> TopologyTestDriver {
    let builder = StreamsBuilder::new();
    let table = builder.table(
        "users",
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("users"),
    );
    let grouped = table.group_by(
        |user: &String, region: &String| (region.clone(), user.clone()),
        Grouped::with(Serdes::string(), Serdes::string()),
    );
    let counts = if materialized {
        grouped.count(Materialized::as_("per-region").with_in_memory())
    } else {
        grouped.count(Materialized::as_("per-region"))
    };
    counts.to_stream().to("counts", counts_out());
    grouped
        .reduce(
            |a: String, b: &String| format!("{a},{b}"),
            |a: String, b: &String| {
                a.split(',')
                    .filter(|u| u != b)
                    .collect::<Vec<_>>()
                    .join(",")
            },
            Materialized::as_("members"),
        )
        .to_stream()
        .to(
            "members",
            Produced::with(Serdes::string(), Serdes::option(Serdes::string())),
        );
    TopologyTestDriver::new(builder.build().unwrap()).unwrap()
}

#[test]
fn grouped_table_count_and_reduce_subtract_what_leaves_a_group() {
    for in_memory in [false, true] {
        let driver = region_table(in_memory);
        let users = driver.create_input_topic("users", StringSerde, OptionSerde::new(StringSerde));
        users.pipe_input_with_timestamp("alice", Some("eu".to_string()), 1);
        users.pipe_input_with_timestamp("bob", Some("eu".to_string()), 2);
        users.pipe_input_with_timestamp("alice", Some("us".to_string()), 3);
        users.pipe_input_with_timestamp("bob", None, 4);
        let counts = driver
            .create_output_topic("counts", StringSerde, nullable_i64())
            .read_key_values_to_list();
        assert_eq!(
            counts,
            [
                ("eu".to_string(), Some(1)),
                ("eu".to_string(), Some(2)),
                ("eu".to_string(), Some(1)),
                ("us".to_string(), Some(1)),
                ("eu".to_string(), Some(0)),
            ],
            "in_memory = {in_memory}"
        );
        let members = driver
            .create_output_topic("members", StringSerde, OptionSerde::new(StringSerde))
            .read_key_values_to_list();
        let last: std::collections::BTreeMap<_, _> = members.into_iter().collect();
        assert_eq!(last["eu"], Some(String::new()));
        assert_eq!(last["us"], Some("alice".to_string()));
        let store = driver
            .get_timestamped_key_value_store("per-region", StringSerde, I64Serde)
            .unwrap();
        assert_eq!(store.get(&"us".to_string()).unwrap(), Some((1, 3)));
        assert_eq!(
            store.get(&"eu".to_string()).unwrap().map(|(c, _)| c),
            Some(0)
        );
    }
}

#[test]
fn grouped_table_aggregate_goes_through_a_repartition_topic_named_like_kafka() {
    let builder = StreamsBuilder::new();
    builder
        .table(
            "scores",
            Consumed::with(Serdes::string(), Serdes::i64()),
            Materialized::new(),
        )
        .group_by(
            |player: &String, score: &i64| (player[..1].to_string(), *score),
            Grouped::with(Serdes::string(), Serdes::i64()),
        )
        .aggregate(
            || 0i64,
            |_, score: &i64, total| total + score,
            |_, score: &i64, total| total - score,
            Materialized::as_("totals").with_value_serde(Serdes::i64()),
        )
        .to_stream()
        .to(
            "totals",
            Produced::with(Serdes::string(), Serdes::option(Serdes::i64())),
        );
    let topology = builder.build().unwrap();
    assert_eq!(topology.subtopology_count(), 2);
    let topics: Vec<&str> = topology
        .repartition_topics()
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(topics, ["totals-repartition"]);
    let description = topology.describe().to_string();
    for expected in [
        "Processor: KTABLE-SELECT-0000000003 (stores: [])",
        "Sink: KSTREAM-SINK-0000000004 (topic: totals-repartition)",
        "Source: KSTREAM-SOURCE-0000000005 (topics: [totals-repartition])",
        "Processor: KTABLE-AGGREGATE-0000000006 (stores: [totals])",
    ] {
        assert!(
            description.contains(expected),
            "{expected} in\n{description}"
        );
    }
    let driver = TopologyTestDriver::new(topology).unwrap();
    let scores = driver.create_input_topic("scores", StringSerde, OptionSerde::new(I64Serde));
    scores.pipe_input_with_timestamp("ann", Some(10), 1);
    scores.pipe_input_with_timestamp("amy", Some(5), 2);
    scores.pipe_input_with_timestamp("ann", Some(7), 3);
    scores.pipe_input_with_timestamp("amy", None, 4);
    let totals: Vec<Option<i64>> = driver
        .create_output_topic("totals", StringSerde, nullable_i64())
        .read_values_to_list();
    // ann's update stays in group "a": one result (12), no intermediate subtracted total.
    assert_eq!(totals, [Some(10), Some(15), Some(12), Some(7)]);
}

/// The table aggregation Kafka's `KTableAggregateTest` runs: string aggregates that show every
/// step ("0+1-1+3"), read from "out" as (key, aggregate, timestamp).
fn table_aggregate_steps<F>(
    selector: F,
    inputs: &[(&str, Option<&str>, i64)],
) -> Vec<(String, String, i64)>
where
    F: Fn(&String, &String) -> (Option<String>, String) + Send + Sync + 'static,
{
    let builder = StreamsBuilder::new();
    builder
        .table("topic1", strings(), Materialized::new())
        .group_by(
            selector,
            Grouped::with(Serdes::option(Serdes::string()), Serdes::string()),
        )
        .aggregate(
            || "0".to_string(),
            |_, value: &String, aggregate: String| format!("{aggregate}+{value}"),
            |_, value: &String, aggregate: String| format!("{aggregate}-{value}"),
            Materialized::as_("topic1-Canonized").with_value_serde(Serdes::string()),
        )
        .to_stream()
        .to(
            "out",
            Produced::with(
                Serdes::option(Serdes::string()),
                Serdes::option(Serdes::string()),
            ),
        );
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("topic1", StringSerde, OptionSerde::new(StringSerde));
    for (key, value, ts) in inputs {
        input.pipe_input_with_timestamp(*key, value.map(str::to_string), *ts);
    }
    driver
        .create_output_topic(
            "out",
            OptionSerde::new(StringSerde),
            OptionSerde::new(StringSerde),
        )
        .read_records_to_list()
        .into_iter()
        .map(|r| {
            (
                r.key.unwrap_or_default(),
                r.value.unwrap_or_default(),
                r.timestamp,
            )
        })
        .collect()
}

fn steps(expected: &[(&str, &str, i64)]) -> Vec<(String, String, i64)> {
    super::test_support::owned(expected)
}

/// Kafka's `KTableAggregateTest#testAggBasic`: re-grouping by the same key, each update is one
/// subtract-and-add.
#[test]
fn table_aggregate_applies_an_update_within_a_group_as_one() {
    let out = table_aggregate_steps(
        |key, value| (Some(key.clone()), value.clone()),
        &[
            ("A", Some("1"), 10),
            ("B", Some("2"), 15),
            ("A", Some("3"), 20),
            ("B", Some("4"), 18),
            ("C", Some("5"), 5),
            ("D", Some("6"), 25),
            ("B", Some("7"), 15),
            ("C", Some("8"), 10),
        ],
    );
    assert_eq!(
        out,
        steps(&[
            ("A", "0+1", 10),
            ("B", "0+2", 15),
            ("A", "0+1-1+3", 20),
            ("B", "0+2-2+4", 18),
            ("C", "0+5", 5),
            ("D", "0+6", 25),
            ("B", "0+2-2+4-4+7", 18),
            ("C", "0+5-5+8", 10),
        ])
    );
}

/// Kafka's `KTableAggregateTest#testAggRepartition`: rows grouped by their value; a null group
/// is skipped (Kafka's mapper returns a null key for "null" and no pair for "NULL": both are a
/// `None` group here).
#[test]
fn table_aggregate_moves_a_row_between_groups_as_subtract_then_add() {
    let out = table_aggregate_steps(
        |key, value| match key.as_str() {
            "null" | "NULL" => (None, value.clone()),
            _ => (Some(value.clone()), value.clone()),
        },
        &[
            ("A", Some("1"), 10),
            ("A", None, 15),
            ("A", Some("1"), 12),
            ("B", Some("2"), 20),
            ("null", Some("3"), 25),
            ("B", Some("4"), 23),
            ("NULL", Some("5"), 24),
            ("B", Some("7"), 22),
        ],
    );
    assert_eq!(
        out,
        steps(&[
            ("1", "0+1", 10),
            ("1", "0+1-1", 15),
            ("1", "0+1-1+1", 15),
            ("2", "0+2", 20),
            ("2", "0+2-2", 23),
            ("4", "0+4", 23),
            ("4", "0+4-4", 23),
            ("7", "0+7", 22),
        ])
    );
}

/// Kafka's `KTableAggregateTest#testCount`: counting rows per value.
#[test]
fn table_count_per_group_as_kafka() {
    let builder = StreamsBuilder::new();
    builder
        .table("count-test-input", strings(), Materialized::new())
        .group_by(
            |_, value: &String| (value.clone(), value.clone()),
            grouped(),
        )
        .count(Materialized::as_("count"))
        .to_stream()
        .to("out", counts_out());
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("count-test-input", StringSerde, StringSerde);
    for (key, value, ts) in [
        ("A", "green", 10),
        ("B", "green", 9),
        ("A", "blue", 12),
        ("C", "yellow", 15),
        ("D", "green", 11),
    ] {
        input.pipe_input_with_timestamp(key, value, ts);
    }
    let out: Vec<(String, Option<i64>, i64)> = driver
        .create_output_topic("out", StringSerde, nullable_i64())
        .read_records_to_list()
        .into_iter()
        .map(|r| (r.key, r.value, r.timestamp))
        .collect();
    let expected = [
        ("green", 1, 10),
        ("green", 2, 10),
        ("green", 1, 12),
        ("blue", 1, 12),
        ("yellow", 1, 15),
        ("green", 2, 12),
    ]
    .map(|(k, c, t)| (k.to_string(), Some(c), t));
    assert_eq!(out, expected);
}

/// Kafka's `KTableAggregateTest#testRemoveOldBeforeAddNew`: an update that keeps its group is
/// one record, subtracting the old value before adding the new one.
#[test]
fn table_aggregate_removes_the_old_value_before_adding_the_new() {
    let builder = StreamsBuilder::new();
    builder
        .table("count-test-input", strings(), Materialized::new())
        .group_by(
            |key: &String, _: &String| (key[..1].to_string(), key[1..2].to_string()),
            grouped(),
        )
        .aggregate(
            String::new,
            |_, value: &String, aggregate: String| aggregate + value,
            |_, value: &String, aggregate: String| aggregate.replace(value.as_str(), ""),
            Materialized::as_("someStore").with_value_serde(Serdes::string()),
        )
        .to_stream()
        .to(
            "out",
            Produced::with(Serdes::string(), Serdes::option(Serdes::string())),
        );
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic(
        "count-test-input",
        StringSerde,
        OptionSerde::new(StringSerde),
    );
    input.pipe_input_with_timestamp("11", Some("A".to_string()), 10);
    input.pipe_input_with_timestamp("12", Some("B".to_string()), 8);
    input.pipe_input_with_timestamp("11", None, 12);
    input.pipe_input_with_timestamp("12", Some("C".to_string()), 6);
    let out: Vec<(String, Option<String>, i64)> = driver
        .create_output_topic("out", StringSerde, OptionSerde::new(StringSerde))
        .read_records_to_list()
        .into_iter()
        .map(|r| (r.key, r.value, r.timestamp))
        .collect();
    let expected = [
        ("1", "1", 10),
        ("1", "12", 10),
        ("1", "2", 12),
        ("1", "2", 12),
    ]
    .map(|(k, v, t)| (k.to_string(), Some(v.to_string()), t));
    assert_eq!(out, expected);
}

#[test]
fn optimized_source_tables_restore_from_their_source_topic() {
    let builder = StreamsBuilder::new();
    builder
        .table("users", strings(), Materialized::as_("users-store"))
        .to_stream()
        .to(
            "out",
            Produced::with(Serdes::string(), Serdes::option(Serdes::string())),
        );
    assert_eq!(
        builder.build().unwrap().changelog_topics(0, "app"),
        ["app-users-store-changelog"]
    );
    for optimization in ["all", "reuse.ktable.source.topics", "none, all"] {
        let topology = builder.build_with_optimization(optimization).unwrap();
        assert_eq!(
            topology.changelog_topics(0, "app"),
            ["users"],
            "{optimization}"
        );
        let driver = TopologyTestDriver::new(topology).unwrap();
        let input = driver.create_input_topic("users", StringSerde, StringSerde);
        input.pipe_input_with_timestamp("u", "A", 1);
        // No changelog of its own is written; the table still works.
        assert_eq!(driver.produced_topic_names(), ["out"], "{optimization}");
        let store = driver
            .get_timestamped_key_value_store("users-store", StringSerde, StringSerde)
            .unwrap();
        assert_eq!(
            store.get(&"u".to_string()).unwrap(),
            Some(("A".to_string(), 1))
        );
    }
    assert_eq!(
        builder
            .build_with_optimization("none")
            .unwrap()
            .changelog_topics(0, "app"),
        ["app-users-store-changelog"]
    );
    let err = builder
        .build_with_optimization("single.store.self.join")
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("topology.optimization"), "{err}");
    // Aggregation stores are not source tables: they keep their changelog.
    let builder = StreamsBuilder::new();
    builder
        .stream("in", strings())
        .group_by_key(grouped())
        .count(Materialized::as_("counts"));
    assert_eq!(
        builder
            .build_with_optimization("all")
            .unwrap()
            .changelog_topics(0, "app"),
        ["app-counts-changelog"]
    );
}

#[test]
fn materialized_filter_and_map_values_keep_their_results_in_stores() {
    let builder = StreamsBuilder::new();
    let prices = builder.table(
        "prices",
        Consumed::with(Serdes::string(), Serdes::i64()),
        Materialized::as_("prices"),
    );
    let dear = prices.filter_materialized(|_, p: &i64| *p >= 100, Materialized::as_("dear"));
    let labels = dear.map_values_materialized(
        |p: &i64| format!("${p}"),
        Materialized::as_("labels").with_value_serde(Serdes::string()),
    );
    labels.to_stream().to(
        "out",
        Produced::with(Serdes::string(), Serdes::option(Serdes::string())),
    );
    let topology = builder.build().unwrap();
    let description = topology.describe().to_string();
    for node in [
        "KTABLE-FILTER-0000000002 (stores: [dear])",
        "KTABLE-MAPVALUES-0000000003 (stores: [labels])",
    ] {
        assert!(description.contains(node), "{node} in {description}");
    }
    let driver = TopologyTestDriver::new(topology).unwrap();
    let input = driver.create_input_topic("prices", StringSerde, OptionSerde::new(I64Serde));
    input.pipe_input("anvil", Some(150));
    input.pipe_input("rope", Some(20));
    input.pipe_input("tent", Some(300));
    input.pipe_input("tent", Some(30)); // no longer dear: deleted downstream
    input.pipe_input("anvil", None::<i64>);
    input.pipe_input("rope", Some(120));
    let dear = driver
        .get_key_value_store("dear", StringSerde, I64Serde)
        .unwrap();
    assert_eq!(dear.all().unwrap(), vec![("rope".to_string(), 120)]);
    let labels = driver
        .get_key_value_store("labels", StringSerde, StringSerde)
        .unwrap();
    assert_eq!(
        labels.all().unwrap(),
        vec![("rope".to_string(), "$120".to_string())]
    );
}

/// Like Kafka's, a materialized table operator's store has a record cache by default: two
/// updates of a key within one commit reach downstream once, with the latest value; without
/// the cache each one does.
#[test]
fn materialized_table_operators_cache_their_results_by_default() {
    let run = |cached: bool| {
        let builder = StreamsBuilder::new();
        let mut kept = Materialized::as_("kept");
        if !cached {
            kept = kept.with_caching_disabled();
        }
        builder
            .stream("words", strings())
            .flat_map_values(|v: &String| vec![v.clone(), format!("{v}!")])
            .group_by_key(grouped())
            .reduce(
                |_, latest: &String| latest.clone(),
                Materialized::as_("latest")
                    .with_in_memory()
                    .with_caching_disabled(),
            )
            .filter_materialized(|_, v: &String| !v.starts_with('x'), kept)
            .to_stream()
            .to(
                "out",
                Produced::with(Serdes::string(), Serdes::option(Serdes::string())),
            );
        let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
        let input = driver.create_input_topic("words", StringSerde, StringSerde);
        let output = driver.create_output_topic("out", StringSerde, OptionSerde::new(StringSerde));
        input.pipe_input("k", "a");
        input.pipe_input("j", "b");
        input.pipe_input("k", "x"); // filtered out: k is deleted downstream
        let kept = driver
            .get_key_value_store("kept", StringSerde, StringSerde)
            .unwrap();
        assert_eq!(
            kept.all().unwrap(),
            vec![("j".to_string(), "b!".to_string())]
        );
        output.read_key_values_to_list()
    };
    let some = |k: &str, v: &str| (k.to_string(), Some(v.to_string()));
    assert_eq!(
        run(true),
        [some("k", "a!"), some("j", "b!"), ("k".to_string(), None)]
    );
    assert_eq!(
        run(false),
        [
            some("k", "a"),
            some("k", "a!"),
            some("j", "b"),
            some("j", "b!"),
            ("k".to_string(), None),
        ]
    );
}

#[test]
fn a_materialized_map_values_without_a_value_serde_is_a_topology_error() {
    let builder = StreamsBuilder::new();
    builder
        .table(
            "prices",
            Consumed::with(Serdes::string(), Serdes::i64()),
            Materialized::as_("prices"),
        )
        .map_values_materialized(|p: &i64| p.to_string(), Materialized::as_("labels"))
        .to_stream()
        .to(
            "out",
            Produced::with(Serdes::string(), Serdes::option(Serdes::string())),
        );
    let Err(err) = builder.build() else {
        panic!("a map_values_materialized without a value serde must not build");
    };
    assert!(err.to_string().contains("with_value_serde"), "{err}");
}
