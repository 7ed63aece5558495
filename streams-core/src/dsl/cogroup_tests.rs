//! `KGroupedStream::cogroup` through the test driver, with scenarios ported from Kafka's
//! `CogroupedKStreamImplTest` (inputs, timestamps and expected outputs unchanged).

use super::test_support::strings;
use crate::prelude::*;
use crate::serde::StringSerde;

/// Kafka's `STRING_AGGREGATOR`: `aggregate + value`. An aggregator takes the stream's `&K, &V`.
#[allow(clippy::ptr_arg)]
fn concat(_key: &String, value: &String, aggregate: String) -> String {
    aggregate + value
}

fn output_records(driver: &TopologyTestDriver) -> Vec<(String, String, i64)> {
    driver
        .create_output_topic("output", StringSerde, Serdes::option(StringSerde))
        .read_records_to_list()
        .into_iter()
        .map(|r| (r.key, r.value.unwrap_or_default(), r.timestamp))
        .collect()
}

fn expected(records: &[(&str, &str, i64)]) -> Vec<(String, String, i64)> {
    records
        .iter()
        .map(|(k, v, t)| (k.to_string(), v.to_string(), *t))
        .collect()
}

fn to_output(table: KTable<String, String>) {
    table.to_stream().to(
        "output",
        Produced::with(StringSerde, Serdes::option(StringSerde)),
    );
}

fn grouped_one_and_two(
    builder: &StreamsBuilder,
) -> (
    KGroupedStream<String, String>,
    KGroupedStream<String, String>,
) {
    let one = builder
        .stream("one", strings())
        .group_by_key(Grouped::with(StringSerde, StringSerde));
    let two = builder
        .stream("two", strings())
        .group_by_key(Grouped::with(StringSerde, StringSerde));
    (one, two)
}

/// `shouldNameProcessorsAndStoreBasedOnNamedParameter`.
#[test]
fn named_cogroup_names_processors_and_store() {
    let builder = StreamsBuilder::new();
    let (one, two) = grouped_one_and_two(&builder);
    to_output(
        one.cogroup(concat)
            .cogroup(&two, concat)
            .named("test")
            .aggregate(
                String::new,
                Materialized::as_("store").with_value_serde(StringSerde),
            ),
    );
    assert_eq!(
        builder.build().unwrap().describe().to_string(),
        "Topologies:\n\
         \x20  Sub-topology: 0\n\
         \x20   Source: KSTREAM-SOURCE-0000000000 (topics: [one])\n\
         \x20     --> test-cogroup-agg-0\n\
         \x20   Source: KSTREAM-SOURCE-0000000001 (topics: [two])\n\
         \x20     --> test-cogroup-agg-1\n\
         \x20   Processor: test-cogroup-agg-0 (stores: [store])\n\
         \x20     --> test-cogroup-merge\n\
         \x20     <-- KSTREAM-SOURCE-0000000000\n\
         \x20   Processor: test-cogroup-agg-1 (stores: [store])\n\
         \x20     --> test-cogroup-merge\n\
         \x20     <-- KSTREAM-SOURCE-0000000001\n\
         \x20   Processor: test-cogroup-merge (stores: [])\n\
         \x20     --> KTABLE-TOSTREAM-0000000005\n\
         \x20     <-- test-cogroup-agg-0, test-cogroup-agg-1\n\
         \x20   Processor: KTABLE-TOSTREAM-0000000005 (stores: [])\n\
         \x20     --> KSTREAM-SINK-0000000006\n\
         \x20     <-- test-cogroup-merge\n\
         \x20   Sink: KSTREAM-SINK-0000000006 (topic: output)\n\
         \x20     <-- KTABLE-TOSTREAM-0000000005\n\n"
    );
}

/// Unnamed, the nodes are `COGROUPKSTREAM-AGGREGATE-…` and `COGROUPKSTREAM-MERGE-…`, after
/// the store's generated name.
#[test]
fn unnamed_cogroup_uses_kafka_generated_names() {
    let builder = StreamsBuilder::new();
    let (one, two) = grouped_one_and_two(&builder);
    to_output(one.cogroup(concat).cogroup(&two, concat).aggregate(
        String::new,
        Materialized::new().with_value_serde(StringSerde),
    ));
    let described = builder.build().unwrap().describe().to_string();
    for expected in [
        "Processor: COGROUPKSTREAM-AGGREGATE-0000000003 (stores: [COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000002])",
        "Processor: COGROUPKSTREAM-AGGREGATE-0000000004 (stores: [COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000002])",
        "Processor: COGROUPKSTREAM-MERGE-0000000005 (stores: [])",
        "<-- COGROUPKSTREAM-AGGREGATE-0000000003, COGROUPKSTREAM-AGGREGATE-0000000004",
    ] {
        assert!(described.contains(expected), "{expected} not in {described}");
    }
}

/// `shouldCogroupAndAggregateSingleKStreams`.
#[test]
fn cogroup_of_a_single_stream_aggregates() {
    let builder = StreamsBuilder::new();
    let (one, _) = grouped_one_and_two(&builder);
    to_output(one.cogroup(concat).aggregate(
        String::new,
        Materialized::new().with_value_serde(StringSerde),
    ));
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("one", StringSerde, StringSerde);
    input.pipe_input_with_timestamp("k1", "A", 0);
    input.pipe_input_with_timestamp("k2", "B", 0);
    input.pipe_input_with_timestamp("k2", "B", 0);
    input.pipe_input_with_timestamp("k1", "A", 0);
    assert_eq!(
        output_records(&driver),
        expected(&[
            ("k1", "A", 0),
            ("k2", "B", 0),
            ("k2", "BB", 0),
            ("k1", "AA", 0)
        ])
    );
}

/// `testCogroupHandleNullValues`: a null value is skipped.
#[test]
fn cogroup_skips_null_values() {
    let builder = StreamsBuilder::new();
    let grouped = builder
        .stream(
            "one",
            Consumed::with(StringSerde, Serdes::option(StringSerde)),
        )
        .group_by_key(Grouped::with(StringSerde, Serdes::option(StringSerde)));
    to_output(
        grouped
            .cogroup(|_k: &String, v: &Option<String>, agg: String| {
                agg + v.as_deref().unwrap_or("")
            })
            .aggregate(
                String::new,
                Materialized::new().with_value_serde(StringSerde),
            ),
    );
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("one", StringSerde, Serdes::option(StringSerde));
    input.pipe_input_with_timestamp("k1", Some("A".to_string()), 0);
    input.pipe_input_with_timestamp("k2", Some("B".to_string()), 0);
    input.pipe_input_with_timestamp("k2", None::<String>, 0);
    input.pipe_input_with_timestamp("k2", Some("B".to_string()), 0);
    input.pipe_input_with_timestamp("k1", Some("A".to_string()), 0);
    assert_eq!(
        output_records(&driver),
        expected(&[
            ("k1", "A", 0),
            ("k2", "B", 0),
            ("k2", "BB", 0),
            ("k1", "AA", 0)
        ])
    );
}

/// `shouldCogroupAndAggregateTwoKStreamsWithDistinctKeys`: timestamps are the largest seen.
#[test]
fn cogroup_of_two_streams_with_distinct_keys() {
    let builder = StreamsBuilder::new();
    let (one, two) = grouped_one_and_two(&builder);
    to_output(one.cogroup(concat).cogroup(&two, concat).aggregate(
        String::new,
        Materialized::new().with_value_serde(StringSerde),
    ));
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let first = driver.create_input_topic("one", StringSerde, StringSerde);
    let second = driver.create_input_topic("two", StringSerde, StringSerde);
    for ts in [0, 1, 10, 100] {
        first.pipe_input_with_timestamp("k1", "A", ts);
    }
    for ts in [100, 200, 1, 500, 500, 100] {
        second.pipe_input_with_timestamp("k2", "B", ts);
    }
    assert_eq!(
        output_records(&driver),
        expected(&[
            ("k1", "A", 0),
            ("k1", "AA", 1),
            ("k1", "AAA", 10),
            ("k1", "AAAA", 100),
            ("k2", "B", 100),
            ("k2", "BB", 200),
            ("k2", "BBB", 200),
            ("k2", "BBBB", 500),
            ("k2", "BBBBB", 500),
            ("k2", "BBBBBB", 500),
        ])
    );
}

/// `shouldCogroupAndAggregateTwoKStreamsWithSharedKeys`.
#[test]
fn cogroup_of_two_streams_with_shared_keys() {
    let builder = StreamsBuilder::new();
    let (one, two) = grouped_one_and_two(&builder);
    to_output(one.cogroup(concat).cogroup(&two, concat).aggregate(
        String::new,
        Materialized::new().with_value_serde(StringSerde),
    ));
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let first = driver.create_input_topic("one", StringSerde, StringSerde);
    let second = driver.create_input_topic("two", StringSerde, StringSerde);
    first.pipe_input_with_timestamp("k1", "A", 0);
    first.pipe_input_with_timestamp("k2", "A", 1);
    first.pipe_input_with_timestamp("k1", "A", 10);
    first.pipe_input_with_timestamp("k2", "A", 100);
    second.pipe_input_with_timestamp("k2", "B", 100);
    second.pipe_input_with_timestamp("k2", "B", 200);
    second.pipe_input_with_timestamp("k1", "B", 1);
    second.pipe_input_with_timestamp("k2", "B", 500);
    second.pipe_input_with_timestamp("k1", "B", 500);
    second.pipe_input_with_timestamp("k2", "B", 500);
    second.pipe_input_with_timestamp("k3", "B", 500);
    second.pipe_input_with_timestamp("k2", "B", 100);
    let records = output_records(&driver);
    assert_eq!(
        records[..10],
        expected(&[
            ("k1", "A", 0),
            ("k2", "A", 1),
            ("k1", "AA", 10),
            ("k2", "AA", 100),
            ("k2", "AAB", 100),
            ("k2", "AABB", 200),
            ("k1", "AAB", 10),
            ("k2", "AABBB", 500),
            ("k1", "AABB", 500),
            ("k2", "AABBBB", 500),
        ])[..]
    );
}

/// `shouldCoGroupStreamsWithDifferentInputTypes`: values of different types, one `i32` sum.
#[test]
fn cogroup_streams_with_different_input_types() {
    let builder = StreamsBuilder::new();
    let strings_grouped = builder
        .stream("one", strings())
        .group_by_key(Grouped::with(StringSerde, StringSerde));
    let numbers = builder
        .stream("two", Consumed::with(StringSerde, Serdes::i32()))
        .group_by_key(Grouped::with(StringSerde, Serdes::i32()));
    strings_grouped
        .cogroup(|_k: &String, v: &String, sum: i32| sum + v.parse::<i32>().unwrap_or(0))
        .cogroup(&numbers, |_k: &String, v: &i32, sum: i32| sum + v)
        .aggregate(|| 0, Materialized::new().with_value_serde(Serdes::i32()))
        .to_stream()
        .to(
            "output",
            Produced::with(StringSerde, Serdes::option(Serdes::i32())),
        );
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let first = driver.create_input_topic("one", StringSerde, StringSerde);
    let second = driver.create_input_topic("two", StringSerde, Serdes::i32());
    first.pipe_input_with_timestamp("k1", "1", 0);
    first.pipe_input_with_timestamp("k2", "1", 1);
    first.pipe_input_with_timestamp("k1", "1", 10);
    first.pipe_input_with_timestamp("k2", "1", 100);
    second.pipe_input_with_timestamp("k2", 2, 100);
    second.pipe_input_with_timestamp("k2", 2, 200);
    second.pipe_input_with_timestamp("k1", 2, 1);
    second.pipe_input_with_timestamp("k2", 2, 500);
    second.pipe_input_with_timestamp("k1", 2, 500);
    second.pipe_input_with_timestamp("k2", 3, 500);
    second.pipe_input_with_timestamp("k3", 2, 500);
    second.pipe_input_with_timestamp("k2", 2, 100);
    let read: Vec<(String, i32, i64)> = driver
        .create_output_topic("output", StringSerde, Serdes::option(Serdes::i32()))
        .read_records_to_list()
        .into_iter()
        .map(|r| (r.key, r.value.unwrap_or_default(), r.timestamp))
        .collect();
    let want = [
        ("k1", 1, 0),
        ("k2", 1, 1),
        ("k1", 2, 10),
        ("k2", 2, 100),
        ("k2", 4, 100),
        ("k2", 6, 200),
        ("k1", 4, 10),
        ("k2", 8, 500),
        ("k1", 6, 500),
        ("k2", 11, 500),
        ("k3", 2, 500),
        ("k2", 13, 500),
    ];
    let want: Vec<(String, i32, i64)> = want
        .iter()
        .map(|(k, v, t)| (k.to_string(), *v, *t))
        .collect();
    assert_eq!(read, want);
}

/// `shouldInsertRepartitionsTopicForUpstreamKeyModification`: a key change before the cogroup
/// repartitions through `<store>-repartition`.
#[test]
fn cogroup_after_a_key_change_repartitions_through_the_store_name() {
    let builder = StreamsBuilder::new();
    let one = builder.stream("one", strings());
    let two = builder.stream("two", strings());
    let one = one
        .map(|k: &String, v: &String| (v.clone(), k.clone()))
        .group_by_key(Grouped::with(StringSerde, StringSerde));
    let two = two.group_by_key(Grouped::with(StringSerde, StringSerde));
    to_output(
        one.cogroup(concat)
            .cogroup(&two, concat)
            .named("test")
            .aggregate(
                String::new,
                Materialized::as_("store").with_value_serde(StringSerde),
            ),
    );
    let topology = builder.build().unwrap();
    assert_eq!(
        topology.describe().to_string(),
        "Topologies:\n\
         \x20  Sub-topology: 0\n\
         \x20   Source: KSTREAM-SOURCE-0000000000 (topics: [one])\n\
         \x20     --> KSTREAM-MAP-0000000002\n\
         \x20   Processor: KSTREAM-MAP-0000000002 (stores: [])\n\
         \x20     --> store-repartition-filter\n\
         \x20     <-- KSTREAM-SOURCE-0000000000\n\
         \x20   Processor: store-repartition-filter (stores: [])\n\
         \x20     --> store-repartition-sink\n\
         \x20     <-- KSTREAM-MAP-0000000002\n\
         \x20   Sink: store-repartition-sink (topic: store-repartition)\n\
         \x20     <-- store-repartition-filter\n\n\
         \x20 Sub-topology: 1\n\
         \x20   Source: KSTREAM-SOURCE-0000000001 (topics: [two])\n\
         \x20     --> test-cogroup-agg-1\n\
         \x20   Source: store-repartition-source (topics: [store-repartition])\n\
         \x20     --> test-cogroup-agg-0\n\
         \x20   Processor: test-cogroup-agg-0 (stores: [store])\n\
         \x20     --> test-cogroup-merge\n\
         \x20     <-- store-repartition-source\n\
         \x20   Processor: test-cogroup-agg-1 (stores: [store])\n\
         \x20     --> test-cogroup-merge\n\
         \x20     <-- KSTREAM-SOURCE-0000000001\n\
         \x20   Processor: test-cogroup-merge (stores: [])\n\
         \x20     --> KTABLE-TOSTREAM-0000000009\n\
         \x20     <-- test-cogroup-agg-0, test-cogroup-agg-1\n\
         \x20   Processor: KTABLE-TOSTREAM-0000000009 (stores: [])\n\
         \x20     --> KSTREAM-SINK-0000000010\n\
         \x20     <-- test-cogroup-merge\n\
         \x20   Sink: KSTREAM-SINK-0000000010 (topic: output)\n\
         \x20     <-- KTABLE-TOSTREAM-0000000009\n\n"
    );
    let topics: Vec<&str> = topology
        .repartition_topics()
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(topics, ["store-repartition"]);
    let driver = TopologyTestDriver::new(topology).unwrap();
    driver
        .create_input_topic("one", StringSerde, StringSerde)
        .pipe_input_with_timestamp("A", "k1", 0);
    driver
        .create_input_topic("two", StringSerde, StringSerde)
        .pipe_input_with_timestamp("k1", "B", 1);
    assert_eq!(
        output_records(&driver),
        expected(&[("k1", "A", 0), ("k1", "AB", 1)])
    );
}

/// Kafka's `MockAggregator.toStringInstance(sep)`: `aggregate + sep + value`.
fn to_string_instance(sep: &'static str) -> impl Fn(&String, &String, String) -> String {
    move |_key, value, aggregate| format!("{aggregate}{sep}{value}")
}

/// `TimeWindowedCogroupedKStreamImplTest`'s setup: `topic` cogrouped with `+`, `topic2` with
/// `-`, windows of 500 ms without grace (or as `windows` says), aggregated from "0" into
/// "output"; returns what was written there as (key, value, timestamp), window keys unwrapped.
fn windowed_cogroup(
    windows: TimeWindows,
    both: bool,
    inputs: &[(&str, &str, &str, i64)],
) -> Vec<(String, String, i64)> {
    let builder = StreamsBuilder::new();
    let grouped = builder
        .stream("topic", strings())
        .group_by_key(Grouped::with(StringSerde, StringSerde));
    let grouped2 = builder
        .stream("topic2", strings())
        .group_by_key(Grouped::with(StringSerde, StringSerde));
    let mut cogrouped = grouped.cogroup(to_string_instance("+"));
    if both {
        cogrouped = cogrouped.cogroup(&grouped2, to_string_instance("-"));
    }
    cogrouped
        .windowed_by(windows)
        .aggregate(
            || "0".to_string(),
            Materialized::with(StringSerde, StringSerde),
        )
        .to_stream()
        .map(|k: &Windowed<String>, v: &Option<String>| {
            (k.key.clone(), v.clone().unwrap_or_default())
        })
        .to("output", Produced::with(StringSerde, StringSerde));
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    for (topic, k, v, ts) in inputs {
        driver
            .create_input_topic(topic, StringSerde, StringSerde)
            .pipe_input_with_timestamp(*k, *v, *ts);
    }
    driver
        .create_output_topic("output", StringSerde, StringSerde)
        .read_records_to_list()
        .into_iter()
        .map(|r| (r.key, r.value, r.timestamp))
        .collect()
}

fn window_of_500() -> TimeWindows {
    TimeWindows::of_size_with_no_grace(std::time::Duration::from_millis(500)).unwrap()
}

/// `TimeWindowedCogroupedKStreamImplTest#timeWindowAggregateTestStreamsTest`.
#[test]
fn time_windowed_cogroup_aggregates_per_window() {
    let inputs = [
        ("topic", "k1", "A", 0),
        ("topic", "k2", "A", 0),
        ("topic", "k2", "A", 1),
        ("topic", "k1", "A", 2),
        ("topic", "k1", "B", 3),
        ("topic", "k2", "B", 3),
        ("topic", "k2", "B", 4),
        ("topic", "k1", "B", 4),
    ];
    assert_eq!(
        windowed_cogroup(window_of_500(), true, &inputs),
        expected(&[
            ("k1", "0+A", 0),
            ("k2", "0+A", 0),
            ("k2", "0+A+A", 1),
            ("k1", "0+A+A", 2),
            ("k1", "0+A+A+B", 3),
            ("k2", "0+A+A+B", 3),
            ("k2", "0+A+A+B+B", 4),
            ("k1", "0+A+A+B+B", 4),
        ])
    );
}

/// `timeWindowMixAggregatorsTest`: each grouped stream folds with its own aggregator.
#[test]
fn time_windowed_cogroup_mixes_aggregators() {
    let inputs = [
        ("topic", "k1", "A", 0),
        ("topic", "k2", "A", 0),
        ("topic", "k2", "A", 1),
        ("topic", "k1", "A", 2),
        ("topic2", "k1", "B", 3),
        ("topic2", "k2", "B", 3),
        ("topic2", "k2", "B", 4),
        ("topic2", "k1", "B", 4),
    ];
    assert_eq!(
        windowed_cogroup(window_of_500(), true, &inputs),
        expected(&[
            ("k1", "0+A", 0),
            ("k2", "0+A", 0),
            ("k2", "0+A+A", 1),
            ("k1", "0+A+A", 2),
            ("k1", "0+A+A-B", 3),
            ("k2", "0+A+A-B", 3),
            ("k2", "0+A+A-B-B", 4),
            ("k1", "0+A+A-B-B", 4),
        ])
    );
}

/// `timeWindowAggregateManyWindowsTest`.
#[test]
fn time_windowed_cogroup_starts_new_windows() {
    let inputs = [
        ("topic", "k1", "A", 0),
        ("topic", "k2", "A", 499),
        ("topic", "k2", "A", 500),
        ("topic", "k1", "A", 500),
    ];
    assert_eq!(
        windowed_cogroup(window_of_500(), false, &inputs),
        expected(&[
            ("k1", "0+A", 0),
            ("k2", "0+A", 499),
            ("k2", "0+A", 500),
            ("k1", "0+A", 500),
        ])
    );
}

/// `timeWindowAggregateOverlappingWindowsTest`: hopping windows of 500 ms advancing by 200.
#[test]
fn time_windowed_cogroup_updates_overlapping_windows() {
    let hopping = window_of_500()
        .advance_by(std::time::Duration::from_millis(200))
        .unwrap();
    let inputs = [
        ("topic", "k1", "A", 0),
        ("topic", "k2", "A", 0),
        ("topic", "k1", "B", 250),
        ("topic", "k2", "B", 250),
        ("topic", "k2", "A", 500),
        ("topic", "k1", "A", 500),
    ];
    assert_eq!(
        windowed_cogroup(hopping, false, &inputs),
        expected(&[
            ("k1", "0+A", 0),
            ("k2", "0+A", 0),
            ("k1", "0+A+B", 250),
            ("k1", "0+B", 250),
            ("k2", "0+A+B", 250),
            ("k2", "0+B", 250),
            ("k2", "0+B+A", 500),
            ("k2", "0+A", 500),
            ("k1", "0+B+A", 500),
            ("k1", "0+A", 500),
        ])
    );
}

/// `timeWindowMixAggregatorsManyWindowsTest`.
#[test]
fn time_windowed_cogroup_mixes_aggregators_over_windows() {
    let inputs = [
        ("topic", "k1", "A", 0),
        ("topic", "k2", "A", 0),
        ("topic", "k2", "A", 1),
        ("topic", "k1", "A", 2),
        ("topic2", "k1", "B", 3),
        ("topic2", "k2", "B", 3),
        ("topic2", "k2", "B", 501),
        ("topic2", "k1", "B", 501),
    ];
    assert_eq!(
        windowed_cogroup(window_of_500(), true, &inputs),
        expected(&[
            ("k1", "0+A", 0),
            ("k2", "0+A", 0),
            ("k2", "0+A+A", 1),
            ("k1", "0+A+A", 2),
            ("k1", "0+A+A-B", 3),
            ("k2", "0+A+A-B", 3),
            ("k2", "0-B", 501),
            ("k1", "0-B", 501),
        ])
    );
}

/// `TimeWindowedCogroupedKStreamImplTest#namedParamShouldSetName`.
#[test]
fn time_windowed_cogroup_named() {
    let builder = StreamsBuilder::new();
    builder
        .stream("topic", strings())
        .group_by_key(Grouped::with(StringSerde, StringSerde))
        .cogroup(to_string_instance("+"))
        .named("foo")
        .windowed_by(window_of_500())
        .aggregate(
            || "0".to_string(),
            Materialized::new().with_value_serde(StringSerde),
        );
    assert_eq!(
        builder.build().unwrap().describe().to_string(),
        "Topologies:\n\
         \x20  Sub-topology: 0\n\
         \x20   Source: KSTREAM-SOURCE-0000000000 (topics: [topic])\n\
         \x20     --> foo-cogroup-agg-0\n\
         \x20   Processor: foo-cogroup-agg-0 (stores: [COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000001])\n\
         \x20     --> foo-cogroup-merge\n\
         \x20     <-- KSTREAM-SOURCE-0000000000\n\
         \x20   Processor: foo-cogroup-merge (stores: [])\n\
         \x20     --> none\n\
         \x20     <-- foo-cogroup-agg-0\n\n"
    );
}

/// `SessionWindowedCogroupedKStreamImplTest`'s merger: `aggOne + "+" + aggTwo`.
fn session_merger(_key: &String, one: String, two: String) -> String {
    format!("{one}+{two}")
}

/// `SessionWindowedCogroupedKStreamImplTest`'s setup: `topic` cogrouped with `+` (and `topic2`
/// with `-` when `both`), windowed by `windows`, aggregated from "0" into "output"; returns what
/// was written there as (key, value or `None` for a tombstone, timestamp).
fn session_cogroup(
    windows: SessionWindows,
    both: bool,
    inputs: &[(&str, &str, &str, i64)],
) -> Vec<(String, Option<String>, i64)> {
    let builder = StreamsBuilder::new();
    let grouped = builder
        .stream("topic", strings())
        .group_by_key(Grouped::with(StringSerde, StringSerde));
    let grouped2 = builder
        .stream("topic2", strings())
        .group_by_key(Grouped::with(StringSerde, StringSerde));
    let mut cogrouped = grouped.cogroup(to_string_instance("+"));
    if both {
        cogrouped = cogrouped.cogroup(&grouped2, to_string_instance("-"));
    }
    cogrouped
        .windowed_by(windows)
        .aggregate(
            || "0".to_string(),
            session_merger,
            Materialized::with(StringSerde, StringSerde),
        )
        .to_stream()
        .map(|k: &Windowed<String>, v: &Option<String>| (k.key.clone(), v.clone()))
        .to(
            "output",
            Produced::with(StringSerde, Serdes::option(StringSerde)),
        );
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    for (topic, k, v, ts) in inputs {
        driver
            .create_input_topic(topic, StringSerde, StringSerde)
            .pipe_input_with_timestamp(*k, *v, *ts);
    }
    driver
        .create_output_topic("output", StringSerde, Serdes::option(StringSerde))
        .read_records_to_list()
        .into_iter()
        .map(|r| (r.key, r.value, r.timestamp))
        .collect()
}

fn sessions(records: &[(&str, Option<&str>, i64)]) -> Vec<(String, Option<String>, i64)> {
    records
        .iter()
        .map(|(k, v, t)| (k.to_string(), v.map(str::to_string), *t))
        .collect()
}

fn gap(ms: u64) -> SessionWindows {
    SessionWindows::of_inactivity_gap_with_no_grace(std::time::Duration::from_millis(ms)).unwrap()
}

/// `SessionWindowedCogroupedKStreamImplTest#sessionWindowAggregateTest`.
#[test]
fn session_windowed_cogroup_keeps_sessions_apart() {
    let inputs = [
        ("topic", "k1", "A", 0),
        ("topic", "k2", "A", 0),
        ("topic", "k1", "B", 599),
        ("topic", "k2", "B", 607),
    ];
    assert_eq!(
        session_cogroup(gap(500), false, &inputs),
        sessions(&[
            ("k1", Some("0+A"), 0),
            ("k2", Some("0+A"), 0),
            ("k1", Some("0+B"), 599),
            ("k2", Some("0+B"), 607),
        ])
    );
}

/// `sessionWindowAggregate2Test`: a record in an existing session merges into it.
#[test]
fn session_windowed_cogroup_merges_into_a_session() {
    let inputs = [
        ("topic", "k1", "A", 0),
        ("topic", "k1", "A", 0),
        ("topic", "k2", "B", 599),
        ("topic", "k1", "B", 607),
    ];
    assert_eq!(
        session_cogroup(gap(500), false, &inputs),
        sessions(&[
            ("k1", Some("0+A"), 0),
            ("k1", Some("0+0+A+A"), 0),
            ("k2", Some("0+B"), 599),
            ("k1", Some("0+B"), 607),
        ])
    );
}

/// `sessionWindowAggregateTest2StreamsTest`: merged sessions are deleted with tombstones.
#[test]
fn session_windowed_cogroup_deletes_merged_sessions() {
    let windows = SessionWindows::of_inactivity_gap_and_grace(
        std::time::Duration::from_millis(100),
        std::time::Duration::from_secs(24 * 60 * 60),
    )
    .unwrap();
    let inputs = [
        ("topic", "k1", "A", 0),
        ("topic", "k1", "A", 84),
        ("topic", "k1", "A", 113),
        ("topic", "k1", "A", 199),
        ("topic", "k1", "B", 300),
        ("topic", "k2", "B", 301),
        ("topic", "k2", "B", 400),
        ("topic", "k1", "B", 400),
    ];
    assert_eq!(
        session_cogroup(windows, true, &inputs),
        sessions(&[
            ("k1", Some("0+A"), 0),
            ("k1", None, 0),
            ("k1", Some("0+0+A+A"), 84),
            ("k1", None, 84),
            ("k1", Some("0+0+0+A+A+A"), 113),
            ("k1", None, 113),
            ("k1", Some("0+0+0+0+A+A+A+A"), 199),
            ("k1", Some("0+B"), 300),
            ("k2", Some("0+B"), 301),
            ("k2", None, 301),
            ("k2", Some("0+0+B+B"), 400),
            ("k1", None, 300),
            ("k1", Some("0+0+B+B"), 400),
        ])
    );
}

/// `SessionWindowedCogroupedKStreamImplTest#namedParamShouldSetName`.
#[test]
fn session_windowed_cogroup_named() {
    let builder = StreamsBuilder::new();
    builder
        .stream("topic", strings())
        .group_by_key(Grouped::with(StringSerde, StringSerde))
        .cogroup(to_string_instance("+"))
        .named("foo")
        .windowed_by(gap(1))
        .aggregate(
            || "0".to_string(),
            session_merger,
            Materialized::new().with_value_serde(StringSerde),
        );
    assert_eq!(
        builder.build().unwrap().describe().to_string(),
        "Topologies:\n\
         \x20  Sub-topology: 0\n\
         \x20   Source: KSTREAM-SOURCE-0000000000 (topics: [topic])\n\
         \x20     --> foo-cogroup-agg-0\n\
         \x20   Processor: foo-cogroup-agg-0 (stores: [COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000001])\n\
         \x20     --> foo-cogroup-merge\n\
         \x20     <-- KSTREAM-SOURCE-0000000000\n\
         \x20   Processor: foo-cogroup-merge (stores: [])\n\
         \x20     --> none\n\
         \x20     <-- foo-cogroup-agg-0\n\n"
    );
}

/// `SlidingWindowedCogroupedKStreamImplTest`'s setup: `topic` cogrouped with `+` (and `topic2`
/// with `-` if `both`), sliding windows of 500 ms with 2000 ms grace, aggregated from "0";
/// returns the output as (key, window start, window end, value, timestamp).
fn sliding_cogroup(both: bool, inputs: &[(&str, i64)]) -> Vec<(String, i64, i64, String, i64)> {
    let builder = StreamsBuilder::new();
    let grouped = builder
        .stream("topic", strings())
        .group_by_key(Grouped::with(StringSerde, StringSerde));
    let grouped2 = builder
        .stream("topic2", strings())
        .group_by_key(Grouped::with(StringSerde, StringSerde));
    let mut cogrouped = grouped.cogroup(to_string_instance("+"));
    if both {
        cogrouped = cogrouped.cogroup(&grouped2, to_string_instance("-"));
    }
    let windows = SlidingWindows::of_time_difference_and_grace(
        std::time::Duration::from_millis(500),
        std::time::Duration::from_millis(2000),
    )
    .unwrap();
    cogrouped
        .windowed_by(windows)
        .aggregate(
            || "0".to_string(),
            Materialized::with(StringSerde, StringSerde),
        )
        .to_stream()
        .map(|k: &Windowed<String>, v: &Option<String>| {
            let key = format!("{}@{}/{}", k.key, k.window.start_ms, k.window.end_ms);
            (key, v.clone().unwrap_or_default())
        })
        .to("output", Produced::with(StringSerde, StringSerde));
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("topic", StringSerde, StringSerde);
    for (key_value, ts) in inputs {
        let (k, v) = key_value.split_once('=').unwrap();
        input.pipe_input_with_timestamp(k, v, *ts);
    }
    driver
        .create_output_topic("output", StringSerde, StringSerde)
        .read_records_to_list()
        .into_iter()
        .map(|r| {
            let (key, window) = r.key.split_once('@').unwrap();
            let (start, end) = window.split_once('/').unwrap();
            (
                key.to_string(),
                start.parse().unwrap(),
                end.parse().unwrap(),
                r.value,
                r.timestamp,
            )
        })
        .collect()
}

fn windowed_expected(
    records: &[(&str, i64, i64, &str, i64)],
) -> Vec<(String, i64, i64, String, i64)> {
    records
        .iter()
        .map(|(k, s, e, v, ts)| (k.to_string(), *s, *e, v.to_string(), *ts))
        .collect()
}

/// `SlidingWindowedCogroupedKStreamImplTest#slidingWindowAggregateStreamsTest`.
#[test]
fn sliding_windowed_cogroup_aggregates_per_window() {
    let inputs = [
        ("k1=A", 500),
        ("k2=A", 500),
        ("k2=A", 501),
        ("k1=A", 502),
        ("k1=B", 503),
        ("k2=B", 503),
        ("k2=B", 504),
        ("k1=B", 504),
    ];
    assert_eq!(
        sliding_cogroup(true, &inputs),
        windowed_expected(&[
            ("k1", 0, 500, "0+A", 500),
            ("k2", 0, 500, "0+A", 500),
            ("k2", 501, 1001, "0+A", 501),
            ("k2", 1, 501, "0+A+A", 501),
            ("k1", 501, 1001, "0+A", 502),
            ("k1", 2, 502, "0+A+A", 502),
            ("k1", 501, 1001, "0+A+B", 503),
            ("k1", 503, 1003, "0+B", 503),
            ("k1", 3, 503, "0+A+A+B", 503),
            ("k2", 501, 1001, "0+A+B", 503),
            ("k2", 502, 1002, "0+B", 503),
            ("k2", 3, 503, "0+A+A+B", 503),
            ("k2", 502, 1002, "0+B+B", 504),
            ("k2", 501, 1001, "0+A+B+B", 504),
            ("k2", 504, 1004, "0+B", 504),
            ("k2", 4, 504, "0+A+A+B+B", 504),
            ("k1", 503, 1003, "0+B+B", 504),
            ("k1", 501, 1001, "0+A+B+B", 504),
            ("k1", 504, 1004, "0+B", 504),
            ("k1", 4, 504, "0+A+A+B+B", 504),
        ])
    );
}

/// `SlidingWindowedCogroupedKStreamImplTest#slidingWindowAggregateOverlappingWindowsTest`.
#[test]
fn sliding_windowed_cogroup_of_overlapping_windows() {
    let inputs = [
        ("k1=A", 500),
        ("k2=A", 500),
        ("k1=B", 750),
        ("k2=B", 750),
        ("k2=A", 1000),
        ("k1=A", 1000),
    ];
    let output: Vec<(String, String, i64)> = sliding_cogroup(false, &inputs)
        .into_iter()
        .map(|(k, _, _, v, ts)| (k, v, ts))
        .collect();
    assert_eq!(
        output,
        expected(&[
            ("k1", "0+A", 500),
            ("k2", "0+A", 500),
            ("k1", "0+B", 750),
            ("k1", "0+A+B", 750),
            ("k2", "0+B", 750),
            ("k2", "0+A+B", 750),
            ("k2", "0+B+A", 1000),
            ("k2", "0+A", 1000),
            ("k2", "0+A+B+A", 1000),
            ("k1", "0+B+A", 1000),
            ("k1", "0+A", 1000),
            ("k1", "0+A+B+A", 1000),
        ])
    );
}

/// `SlidingWindowedCogroupedKStreamImplTest#namedParamShouldSetName`.
#[test]
fn sliding_windowed_cogroup_named_param_sets_name() {
    let builder = StreamsBuilder::new();
    builder
        .stream("topic", strings())
        .group_by_key(Grouped::with(StringSerde, StringSerde))
        .cogroup(to_string_instance("+"))
        .named("foo")
        .windowed_by(
            SlidingWindows::of_time_difference_and_grace(
                std::time::Duration::from_millis(500),
                std::time::Duration::from_millis(2000),
            )
            .unwrap(),
        )
        .aggregate(
            || "0".to_string(),
            Materialized::with(StringSerde, StringSerde),
        );
    assert_eq!(
        builder.build().unwrap().describe().to_string(),
        "Topologies:\n   Sub-topology: 0\n    Source: KSTREAM-SOURCE-0000000000 (topics: [topic])\n      --> foo-cogroup-agg-0\n    Processor: foo-cogroup-agg-0 (stores: [COGROUPKSTREAM-AGGREGATE-STATE-STORE-0000000001])\n      --> foo-cogroup-merge\n      <-- KSTREAM-SOURCE-0000000000\n    Processor: foo-cogroup-merge (stores: [])\n      --> none\n      <-- foo-cogroup-agg-0\n\n"
    );
}
