//! KIP-962 (Kafka ≥ 3.7): left stream-table, left stream-global-table and left/outer
//! stream-stream joins keep records with a null key, joined with nothing, and a repartition
//! before such a join lets them through. Ported from Kafka's
//! `RelaxedNullKeyRequirementJoinTest` (inputs, timestamps and expected outputs unchanged).
//! Rill's keys are typed: Kafka's null key is `None` of an `Option` key with `OptionSerde`.

use std::time::Duration;

use crate::prelude::*;
use crate::serde::{OptionSerde, StringSerde};
use crate::test_driver::TestInputTopic;

type Key = Option<String>;

/// The `left` and `right` streams of Kafka's test, each through `repartition()`.
fn left_and_right(builder: &StreamsBuilder) -> (KStream<Key, String>, KStream<Key, String>) {
    let consumed = || Consumed::with(OptionSerde::new(Serdes::string()), Serdes::string());
    let repartitioned =
        || Repartitioned::with(OptionSerde::new(Serdes::string()), Serdes::string());
    (
        builder
            .stream("left", consumed())
            .repartition(repartitioned()),
        builder
            .stream("right", consumed())
            .repartition(repartitioned()),
    )
}

/// Kafka's `WINDOW`: 60 s apart, 10 s grace.
fn window() -> JoinWindows {
    JoinWindows::of_time_difference_and_grace(Duration::from_secs(60), Duration::from_secs(10))
        .expect("valid windows")
}

fn stream_joined() -> StreamJoined<Key, String, String> {
    StreamJoined::with(
        OptionSerde::new(Serdes::string()),
        Serdes::string(),
        Serdes::string(),
    )
}

/// Kafka's `JOINER`, `lv + "|" + rv` (Java prints a missing side as "null").
fn joiner(left: Option<&String>, right: Option<&String>) -> String {
    let show = |v: Option<&String>| v.map_or("null".to_string(), String::clone);
    format!("{}|{}", show(left), show(right))
}

fn to_out(stream: &KStream<Key, String>) {
    stream.to(
        "out",
        Produced::with(OptionSerde::new(Serdes::string()), Serdes::string()),
    );
}

/// Everything in "out", as (key, value).
fn out(driver: &TopologyTestDriver) -> Vec<(Key, String)> {
    driver
        .create_output_topic("out", OptionSerde::new(StringSerde), StringSerde)
        .read_key_values_to_list()
}

fn input<'a>(driver: &'a TopologyTestDriver, topic: &str) -> TestInputTopic<'a, Key, String> {
    driver.create_input_topic(topic, OptionSerde::new(StringSerde), StringSerde)
}

/// Kafka's `RelaxedNullKeyRequirementJoinTest#testRelaxedLeftStreamStreamJoin`.
#[test]
fn relaxed_left_stream_stream_join() {
    let builder = StreamsBuilder::new();
    let (left, right) = left_and_right(&builder);
    to_out(&left.left_join_stream(
        &right,
        |l: &String, r: Option<&String>| joiner(Some(l), r),
        window(),
        stream_joined(),
    ));
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    input(&driver, "left").pipe_input_with_timestamp(None, "leftValue".to_string(), 1);
    assert_eq!(out(&driver), [(None, "leftValue|null".to_string())]);
}

/// Kafka's `RelaxedNullKeyRequirementJoinTest#testRelaxedLeftStreamTableJoin`.
#[test]
fn relaxed_left_stream_table_join() {
    let builder = StreamsBuilder::new();
    let (left, right) = left_and_right(&builder);
    let table = right.to_table_with(
        Materialized::new()
            .with_key_serde(OptionSerde::new(Serdes::string()))
            .with_value_serde(Serdes::string()),
    );
    to_out(&left.left_join(
        &table,
        |l: &String, r: Option<&String>| joiner(Some(l), r),
        Joined::with(OptionSerde::new(Serdes::string()), Serdes::string()),
    ));
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    input(&driver, "left").pipe_input_with_timestamp(None, "leftValue".to_string(), 1);
    assert_eq!(out(&driver), [(None, "leftValue|null".to_string())]);
}

/// Kafka's `RelaxedNullKeyRequirementJoinTest#testRelaxedOuterStreamStreamJoin`: the right
/// record comes out first, each at once. (Kafka's second `pipeInput` has no timestamp, so the
/// record is stamped with the test driver's clock; the join does not look at it.)
#[test]
fn relaxed_outer_stream_stream_join() {
    let builder = StreamsBuilder::new();
    let (left, right) = left_and_right(&builder);
    to_out(&left.outer_join_stream(&right, joiner, window(), stream_joined()));
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    input(&driver, "right").pipe_input_with_timestamp(None, "rightValue".to_string(), 1);
    input(&driver, "left").pipe_input(None, "leftValue".to_string());
    assert_eq!(
        out(&driver),
        [
            (None, "null|rightValue".to_string()),
            (None, "leftValue|null".to_string())
        ]
    );
}

/// Kafka's `RelaxedNullKeyRequirementJoinTest#testRelaxedLeftStreamGlobalTableJoin`: the mapper
/// returns null, the record's key is null, so the record is joined with nothing.
#[test]
fn relaxed_left_stream_global_table_join() {
    let builder = StreamsBuilder::new();
    let global = builder.global_table(
        "global",
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::new(),
    );
    let (left, _) = left_and_right(&builder);
    to_out(&left.left_join_global_table(
        &global,
        |_: &Key, _: &String| None::<String>,
        |l: &String, r: Option<&String>| joiner(Some(l), r),
    ));
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    input(&driver, "left").pipe_input_with_timestamp(None, "leftValue".to_string(), 1);
    assert_eq!(out(&driver), [(None, "leftValue|null".to_string())]);
}

/// Kafka's `RelaxedNullKeyRequirementJoinTest#testDropNullKeyRecordsForRepartitionNodesWithNoRelaxedJoinDownstream`.
#[test]
fn repartition_drops_null_keys_without_a_relaxed_join_downstream() {
    let builder = StreamsBuilder::new();
    let (left, _) = left_and_right(&builder);
    to_out(&left.repartition(Repartitioned::with(
        OptionSerde::new(Serdes::string()),
        Serdes::string(),
    )));
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    input(&driver, "left").pipe_input_with_timestamp(None, "leftValue".to_string(), 1);
    assert_eq!(out(&driver), []);
}

/// Inner joins still drop null keys (Kafka's `KStreamKStreamJoin` and `KStreamKTableJoin`
/// skip them), and their repartitions drop them first.
#[test]
fn inner_joins_drop_null_keys() {
    let builder = StreamsBuilder::new();
    let (left, right) = left_and_right(&builder);
    to_out(&left.join_stream(
        &right,
        |l: &String, r: &String| joiner(Some(l), Some(r)),
        window(),
        stream_joined(),
    ));
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    input(&driver, "right").pipe_input_with_timestamp(None, "rightValue".to_string(), 1);
    input(&driver, "left").pipe_input_with_timestamp(None, "leftValue".to_string(), 2);
    assert_eq!(out(&driver), []);
}
