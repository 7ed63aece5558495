//! Topology compilation: Kafka-compatible naming and `describe()` text, sub-topology numbering
//! and the errors `build()` reports.

use crate::prelude::*;
use crate::Error;

fn strings() -> Consumed<String, String> {
    Consumed::with(Serdes::string(), Serdes::string())
}

fn to_strings() -> Produced<String, String> {
    Produced::with(Serdes::string(), Serdes::string())
}

#[test]
fn describe_prints_kafka_streams_layout() {
    let builder = StreamsBuilder::new();
    builder
        .stream("input", strings())
        .filter(|_, v| !v.is_empty())
        .map_values(|v| v.to_uppercase())
        .to("output", to_strings());
    let expected = "\
Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [input])
      --> KSTREAM-FILTER-0000000001
    Processor: KSTREAM-FILTER-0000000001 (stores: [])
      --> KSTREAM-MAPVALUES-0000000002
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-MAPVALUES-0000000002 (stores: [])
      --> KSTREAM-SINK-0000000003
      <-- KSTREAM-FILTER-0000000001
    Sink: KSTREAM-SINK-0000000003 (topic: output)
      <-- KSTREAM-MAPVALUES-0000000002

";
    assert_eq!(builder.build().unwrap().describe().to_string(), expected);
}

#[test]
fn repartition_splits_sub_topologies_with_kafka_names() {
    let builder = StreamsBuilder::new();
    builder
        .stream("input", strings())
        .select_key(|_, v| v.clone())
        .repartition(Repartitioned::with(Serdes::string(), Serdes::string()))
        .to("output", to_strings());
    let expected = "\
Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [input])
      --> KSTREAM-KEY-SELECT-0000000001
    Processor: KSTREAM-KEY-SELECT-0000000001 (stores: [])
      --> KSTREAM-FILTER-0000000004
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-FILTER-0000000004 (stores: [])
      --> KSTREAM-SINK-0000000003
      <-- KSTREAM-KEY-SELECT-0000000001
    Sink: KSTREAM-SINK-0000000003 (topic: KSTREAM-REPARTITION-0000000002-repartition)
      <-- KSTREAM-FILTER-0000000004

  Sub-topology: 1
    Source: KSTREAM-SOURCE-0000000005 (topics: [KSTREAM-REPARTITION-0000000002-repartition])
      --> KSTREAM-SINK-0000000006
    Sink: KSTREAM-SINK-0000000006 (topic: output)
      <-- KSTREAM-SOURCE-0000000005

";
    assert_eq!(builder.build().unwrap().describe().to_string(), expected);
}

#[test]
fn named_operators_and_fan_out_order_by_subtree_size() {
    let builder = StreamsBuilder::new();
    let source = builder.stream("in", strings().with_name("orders"));
    source
        .named("small")
        .peek(|_, _| {})
        .to("a", to_strings().with_name("to-a"));
    let big = source.named("big").filter(|_, _| true);
    big.map_values(|v| v.clone()).to("b", to_strings());
    let text = builder.build().unwrap().describe().to_string();
    // Successors are listed largest subtree first, as Kafka does: `big` (3 nodes) before `small` (2).
    assert!(
        text.contains("Source: orders (topics: [in])\n      --> big, small\n"),
        "{text}"
    );
    assert!(
        text.contains("Processor: small (stores: [])\n      --> to-a\n      <-- orders\n"),
        "{text}"
    );
    assert!(
        text.contains("Sink: to-a (topic: a)\n      <-- small\n"),
        "{text}"
    );
    // Generated names keep counting past user-named nodes without using them up.
    assert!(text.contains("KSTREAM-MAPVALUES-0000000000"), "{text}");
    assert!(
        text.contains("Sink: KSTREAM-SINK-0000000001 (topic: b)"),
        "{text}"
    );
}

#[test]
fn merge_has_two_predecessors() {
    let builder = StreamsBuilder::new();
    let a = builder.stream("a", strings());
    let b = builder.stream("b", strings());
    a.merge(&b).to("out", to_strings());
    let description = builder.build().unwrap().describe();
    assert_eq!(description.subtopologies.len(), 1);
    let merge = description.subtopologies[0]
        .nodes
        .iter()
        .find(|n| n.name.starts_with("KSTREAM-MERGE-"))
        .unwrap();
    assert_eq!(
        merge.predecessors,
        ["KSTREAM-SOURCE-0000000000", "KSTREAM-SOURCE-0000000001"]
    );
}

#[test]
fn sub_topologies_are_numbered_by_sorted_source_names() {
    let builder = StreamsBuilder::new();
    builder
        .stream("z-topic", strings().with_name("zeta"))
        .to("out1", to_strings());
    builder
        .stream("a-topic", strings().with_name("alpha"))
        .to("out2", to_strings());
    let topology = builder.build().unwrap();
    let description = topology.describe();
    assert_eq!(description.subtopologies[0].nodes[0].name, "alpha");
    assert_eq!(description.subtopologies[1].nodes[0].name, "zeta");
    assert_eq!(topology.source_topics(0, "app"), ["a-topic"]);
    assert_eq!(topology.sink_topics(1, "app"), ["out1"]);
    assert_eq!(topology.user_source_topics(), ["a-topic", "z-topic"]);
}

fn build_error(describe: impl FnOnce(&StreamsBuilder)) -> String {
    let builder = StreamsBuilder::new();
    describe(&builder);
    match builder.build() {
        Err(Error::InvalidTopology(message)) => message,
        Err(other) => panic!("unexpected error {other}"),
        Ok(topology) => panic!("expected an invalid topology, got\n{}", topology.describe()),
    }
}

#[test]
fn invalid_topologies_are_clear_errors_at_build() {
    assert!(build_error(|_| {}).contains("no source"));
    let dup = build_error(|b| {
        let s = b.stream("in", strings());
        s.named("x").filter(|_, _| true).to("o", to_strings());
        s.named("x").map_values(|v| v.clone()).to("p", to_strings());
    });
    assert!(
        dup.contains("node name `x` is used more than once"),
        "{dup}"
    );
    let bad_topic = build_error(|b| b.stream("in", strings()).to("bad topic!", to_strings()));
    assert!(
        bad_topic.contains("`bad topic!` contains ` `"),
        "{bad_topic}"
    );
    let empty_sink = build_error(|b| b.stream("in", strings()).to("", to_strings()));
    assert!(empty_sink.contains("topic name is empty"), "{empty_sink}");
    let twice = build_error(|b| {
        b.stream("in", strings()).to("o", to_strings());
        b.stream("in", strings()).to("p", to_strings());
    });
    assert!(twice.contains("topic `in` is read by both"), "{twice}");
    let other_builder = build_error(|b| {
        let elsewhere = StreamsBuilder::new();
        b.stream("in", strings())
            .merge(&elsewhere.stream("x", strings()))
            .to("o", to_strings());
    });
    assert!(
        other_builder.contains("different StreamsBuilders"),
        "{other_builder}"
    );
}

#[test]
fn topology_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Topology>();
}
