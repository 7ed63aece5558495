//! Topology compilation: Kafka-compatible naming and `describe()` text, sub-topology numbering
//! and the errors `build()` reports.

use crate::prelude::*;
use crate::Error;
use std::time::Duration;

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
    // A user-named node still draws a counter value, as Kafka's `NamedInternal` does, so that
    // naming one operator leaves the generated names of the others unchanged.
    assert!(text.contains("KSTREAM-MAPVALUES-0000000004"), "{text}");
    assert!(
        text.contains("Sink: KSTREAM-SINK-0000000005 (topic: b)"),
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

/// Kafka (since KAFKA-9020) numbers sub-topologies in the order their nodes were added, no
/// longer by sorted source names.
#[test]
fn sub_topologies_are_numbered_in_the_order_they_were_added() {
    let builder = StreamsBuilder::new();
    builder
        .stream("z-topic", strings().with_name("zeta"))
        .to("out1", to_strings());
    builder
        .stream("a-topic", strings().with_name("alpha"))
        .to("out2", to_strings());
    let topology = builder.build().unwrap();
    let description = topology.describe();
    assert_eq!(description.subtopologies[0].nodes[0].name, "zeta");
    assert_eq!(description.subtopologies[1].nodes[0].name, "alpha");
    assert_eq!(topology.source_topics(0, "app"), ["z-topic"]);
    assert_eq!(topology.sink_topics(1, "app"), ["out2"]);
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

// Stream-stream joins, ported from Kafka's `TopologyTest`: node names, store names (including
// the left and outer joins' shared store) and the order of stores, predecessors and successors.

/// Kafka's `TopologyTest#streamStreamJoinTopologyWithDefaultStoresNames`.
#[test]
fn stream_stream_join_topology_with_default_store_names() {
    let builder = StreamsBuilder::new();
    let stream1 = builder.stream("input-topic1", strings());
    let stream2 = builder.stream("input-topic2", strings());
    let _ = stream1.join_stream(
        &stream2,
        |l: &String, r: &String| format!("{l}+{r}"),
        JoinWindows::of_time_difference_with_no_grace(Duration::from_millis(100)).unwrap(),
        StreamJoined::with(Serdes::string(), Serdes::string(), Serdes::string()),
    );
    assert_eq!(
        builder.build().unwrap().describe().to_string(),
        r#"Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic1])
      --> KSTREAM-WINDOWED-0000000002
    Source: KSTREAM-SOURCE-0000000001 (topics: [input-topic2])
      --> KSTREAM-WINDOWED-0000000003
    Processor: KSTREAM-WINDOWED-0000000002 (stores: [KSTREAM-JOINTHIS-0000000004-store])
      --> KSTREAM-JOINTHIS-0000000004
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-WINDOWED-0000000003 (stores: [KSTREAM-JOINOTHER-0000000005-store])
      --> KSTREAM-JOINOTHER-0000000005
      <-- KSTREAM-SOURCE-0000000001
    Processor: KSTREAM-JOINOTHER-0000000005 (stores: [KSTREAM-JOINTHIS-0000000004-store])
      --> KSTREAM-MERGE-0000000006
      <-- KSTREAM-WINDOWED-0000000003
    Processor: KSTREAM-JOINTHIS-0000000004 (stores: [KSTREAM-JOINOTHER-0000000005-store])
      --> KSTREAM-MERGE-0000000006
      <-- KSTREAM-WINDOWED-0000000002
    Processor: KSTREAM-MERGE-0000000006 (stores: [])
      --> none
      <-- KSTREAM-JOINTHIS-0000000004, KSTREAM-JOINOTHER-0000000005

"#
    );
}

/// Kafka's `TopologyTest#streamStreamJoinTopologyWithCustomStoresNames`.
#[test]
fn stream_stream_join_topology_with_custom_store_names() {
    let builder = StreamsBuilder::new();
    let stream1 = builder.stream("input-topic1", strings());
    let stream2 = builder.stream("input-topic2", strings());
    let _ = stream1.join_stream(
        &stream2,
        |l: &String, r: &String| format!("{l}+{r}"),
        JoinWindows::of_time_difference_with_no_grace(Duration::from_millis(100)).unwrap(),
        StreamJoined::with(Serdes::string(), Serdes::string(), Serdes::string())
            .with_store_name("custom-name"),
    );
    assert_eq!(
        builder.build().unwrap().describe().to_string(),
        r#"Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic1])
      --> KSTREAM-WINDOWED-0000000002
    Source: KSTREAM-SOURCE-0000000001 (topics: [input-topic2])
      --> KSTREAM-WINDOWED-0000000003
    Processor: KSTREAM-WINDOWED-0000000002 (stores: [custom-name-this-join-store])
      --> KSTREAM-JOINTHIS-0000000004
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-WINDOWED-0000000003 (stores: [custom-name-other-join-store])
      --> KSTREAM-JOINOTHER-0000000005
      <-- KSTREAM-SOURCE-0000000001
    Processor: KSTREAM-JOINOTHER-0000000005 (stores: [custom-name-this-join-store])
      --> KSTREAM-MERGE-0000000006
      <-- KSTREAM-WINDOWED-0000000003
    Processor: KSTREAM-JOINTHIS-0000000004 (stores: [custom-name-other-join-store])
      --> KSTREAM-MERGE-0000000006
      <-- KSTREAM-WINDOWED-0000000002
    Processor: KSTREAM-MERGE-0000000006 (stores: [])
      --> none
      <-- KSTREAM-JOINTHIS-0000000004, KSTREAM-JOINOTHER-0000000005

"#
    );
}

/// Kafka's `TopologyTest#streamStreamLeftJoinTopologyWithDefaultStoresNames`.
#[test]
fn stream_stream_left_join_topology_with_default_store_names() {
    let builder = StreamsBuilder::new();
    let stream1 = builder.stream("input-topic1", strings());
    let stream2 = builder.stream("input-topic2", strings());
    let _ = stream1.left_join_stream(
        &stream2,
        |l: &String, r: Option<&String>| format!("{l}+{r:?}"),
        JoinWindows::of_time_difference_with_no_grace(Duration::from_millis(100)).unwrap(),
        StreamJoined::with(Serdes::string(), Serdes::string(), Serdes::string()),
    );
    assert_eq!(
        builder.build().unwrap().describe().to_string(),
        r#"Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic1])
      --> KSTREAM-WINDOWED-0000000002
    Source: KSTREAM-SOURCE-0000000001 (topics: [input-topic2])
      --> KSTREAM-WINDOWED-0000000003
    Processor: KSTREAM-WINDOWED-0000000002 (stores: [KSTREAM-JOINTHIS-0000000004-store])
      --> KSTREAM-JOINTHIS-0000000004
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-WINDOWED-0000000003 (stores: [KSTREAM-OUTEROTHER-0000000005-store])
      --> KSTREAM-OUTEROTHER-0000000005
      <-- KSTREAM-SOURCE-0000000001
    Processor: KSTREAM-JOINTHIS-0000000004 (stores: [KSTREAM-OUTEROTHER-0000000005-store, KSTREAM-OUTERSHARED-0000000004-store])
      --> KSTREAM-MERGE-0000000006
      <-- KSTREAM-WINDOWED-0000000002
    Processor: KSTREAM-OUTEROTHER-0000000005 (stores: [KSTREAM-JOINTHIS-0000000004-store, KSTREAM-OUTERSHARED-0000000004-store])
      --> KSTREAM-MERGE-0000000006
      <-- KSTREAM-WINDOWED-0000000003
    Processor: KSTREAM-MERGE-0000000006 (stores: [])
      --> none
      <-- KSTREAM-JOINTHIS-0000000004, KSTREAM-OUTEROTHER-0000000005

"#
    );
}

/// Kafka's `TopologyTest#streamStreamLeftJoinTopologyWithCustomStoresNames`.
#[test]
fn stream_stream_left_join_topology_with_custom_store_names() {
    let builder = StreamsBuilder::new();
    let stream1 = builder.stream("input-topic1", strings());
    let stream2 = builder.stream("input-topic2", strings());
    let _ = stream1.left_join_stream(
        &stream2,
        |l: &String, r: Option<&String>| format!("{l}+{r:?}"),
        JoinWindows::of_time_difference_with_no_grace(Duration::from_millis(100)).unwrap(),
        StreamJoined::with(Serdes::string(), Serdes::string(), Serdes::string())
            .with_store_name("custom-name"),
    );
    assert_eq!(
        builder.build().unwrap().describe().to_string(),
        r#"Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic1])
      --> KSTREAM-WINDOWED-0000000002
    Source: KSTREAM-SOURCE-0000000001 (topics: [input-topic2])
      --> KSTREAM-WINDOWED-0000000003
    Processor: KSTREAM-WINDOWED-0000000002 (stores: [custom-name-this-join-store])
      --> KSTREAM-JOINTHIS-0000000004
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-WINDOWED-0000000003 (stores: [custom-name-outer-other-join-store])
      --> KSTREAM-OUTEROTHER-0000000005
      <-- KSTREAM-SOURCE-0000000001
    Processor: KSTREAM-JOINTHIS-0000000004 (stores: [custom-name-outer-other-join-store, custom-name-left-shared-join-store])
      --> KSTREAM-MERGE-0000000006
      <-- KSTREAM-WINDOWED-0000000002
    Processor: KSTREAM-OUTEROTHER-0000000005 (stores: [custom-name-this-join-store, custom-name-left-shared-join-store])
      --> KSTREAM-MERGE-0000000006
      <-- KSTREAM-WINDOWED-0000000003
    Processor: KSTREAM-MERGE-0000000006 (stores: [])
      --> none
      <-- KSTREAM-JOINTHIS-0000000004, KSTREAM-OUTEROTHER-0000000005

"#
    );
}

/// Kafka's `TopologyTest#streamStreamOuterJoinTopologyWithDefaultStoresNames`.
#[test]
fn stream_stream_outer_join_topology_with_default_store_names() {
    let builder = StreamsBuilder::new();
    let stream1 = builder.stream("input-topic1", strings());
    let stream2 = builder.stream("input-topic2", strings());
    let _ = stream1.outer_join_stream(
        &stream2,
        |l: Option<&String>, r: Option<&String>| format!("{l:?}+{r:?}"),
        JoinWindows::of_time_difference_with_no_grace(Duration::from_millis(100)).unwrap(),
        StreamJoined::with(Serdes::string(), Serdes::string(), Serdes::string()),
    );
    assert_eq!(
        builder.build().unwrap().describe().to_string(),
        r#"Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic1])
      --> KSTREAM-WINDOWED-0000000002
    Source: KSTREAM-SOURCE-0000000001 (topics: [input-topic2])
      --> KSTREAM-WINDOWED-0000000003
    Processor: KSTREAM-WINDOWED-0000000002 (stores: [KSTREAM-OUTERTHIS-0000000004-store])
      --> KSTREAM-OUTERTHIS-0000000004
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-WINDOWED-0000000003 (stores: [KSTREAM-OUTEROTHER-0000000005-store])
      --> KSTREAM-OUTEROTHER-0000000005
      <-- KSTREAM-SOURCE-0000000001
    Processor: KSTREAM-OUTEROTHER-0000000005 (stores: [KSTREAM-OUTERTHIS-0000000004-store, KSTREAM-OUTERSHARED-0000000004-store])
      --> KSTREAM-MERGE-0000000006
      <-- KSTREAM-WINDOWED-0000000003
    Processor: KSTREAM-OUTERTHIS-0000000004 (stores: [KSTREAM-OUTEROTHER-0000000005-store, KSTREAM-OUTERSHARED-0000000004-store])
      --> KSTREAM-MERGE-0000000006
      <-- KSTREAM-WINDOWED-0000000002
    Processor: KSTREAM-MERGE-0000000006 (stores: [])
      --> none
      <-- KSTREAM-OUTERTHIS-0000000004, KSTREAM-OUTEROTHER-0000000005

"#
    );
}

/// Kafka's `TopologyTest#streamStreamOuterJoinTopologyWithCustomStoresNames`.
#[test]
fn stream_stream_outer_join_topology_with_custom_store_names() {
    let builder = StreamsBuilder::new();
    let stream1 = builder.stream("input-topic1", strings());
    let stream2 = builder.stream("input-topic2", strings());
    let _ = stream1.outer_join_stream(
        &stream2,
        |l: Option<&String>, r: Option<&String>| format!("{l:?}+{r:?}"),
        JoinWindows::of_time_difference_with_no_grace(Duration::from_millis(100)).unwrap(),
        StreamJoined::with(Serdes::string(), Serdes::string(), Serdes::string())
            .with_store_name("custom-name"),
    );
    assert_eq!(
        builder.build().unwrap().describe().to_string(),
        r#"Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic1])
      --> KSTREAM-WINDOWED-0000000002
    Source: KSTREAM-SOURCE-0000000001 (topics: [input-topic2])
      --> KSTREAM-WINDOWED-0000000003
    Processor: KSTREAM-WINDOWED-0000000002 (stores: [custom-name-outer-this-join-store])
      --> KSTREAM-OUTERTHIS-0000000004
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-WINDOWED-0000000003 (stores: [custom-name-outer-other-join-store])
      --> KSTREAM-OUTEROTHER-0000000005
      <-- KSTREAM-SOURCE-0000000001
    Processor: KSTREAM-OUTEROTHER-0000000005 (stores: [custom-name-outer-this-join-store, custom-name-outer-shared-join-store])
      --> KSTREAM-MERGE-0000000006
      <-- KSTREAM-WINDOWED-0000000003
    Processor: KSTREAM-OUTERTHIS-0000000004 (stores: [custom-name-outer-other-join-store, custom-name-outer-shared-join-store])
      --> KSTREAM-MERGE-0000000006
      <-- KSTREAM-WINDOWED-0000000002
    Processor: KSTREAM-MERGE-0000000006 (stores: [])
      --> none
      <-- KSTREAM-OUTERTHIS-0000000004, KSTREAM-OUTEROTHER-0000000005

"#
    );
}

/// The program of Kafka's `KStreamKTableJoinTest` repartition tests: a re-keyed stream joined
/// with two tables that have no store name (so Rill materializes them as Kafka does, in
/// `<topic>-STATE-STORE-<n>`), unnamed or with `Joined` names.
fn rekeyed_stream_joined_with_two_tables(names: Option<(&str, &str)>) -> String {
    let builder = StreamsBuilder::new();
    let stream_a = builder.stream("topic", strings());
    let table_b = builder.table("topic2", strings(), Materialized::new());
    let table_c = builder.table("topic3", strings(), Materialized::new());
    let rekeyed = stream_a.map(|k: &String, v: &String| (v.clone(), k.clone()));
    let joined = |name: Option<&str>| {
        let joined = Joined::with(Serdes::string(), Serdes::string());
        match name {
            Some(name) => joined.with_name(name),
            None => joined,
        }
    };
    rekeyed
        .join(
            &table_b,
            |v1: &String, v2: &String| format!("{v1}{v2}"),
            joined(names.map(|n| n.0)),
        )
        .to("out-one", to_strings());
    rekeyed
        .join(
            &table_c,
            |v1: &String, v2: &String| format!("{v1}{v2}"),
            joined(names.map(|n| n.1)),
        )
        .to("out-two", to_strings());
    builder.build().unwrap().describe().to_string()
}

/// Kafka's `KStreamKTableJoinTest#shouldReuseRepartitionTopicWithGeneratedName`: both joins
/// read `KSTREAM-MAP-0000000007-repartition`, named after the node that changed the key.
#[test]
fn stream_table_joins_reuse_the_repartition_topic_with_a_generated_name() {
    assert_eq!(
        rekeyed_stream_joined_with_two_tables(None),
        r#"Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [topic])
      --> KSTREAM-MAP-0000000007
    Processor: KSTREAM-MAP-0000000007 (stores: [])
      --> KSTREAM-FILTER-0000000009
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-FILTER-0000000009 (stores: [])
      --> KSTREAM-SINK-0000000008
      <-- KSTREAM-MAP-0000000007
    Sink: KSTREAM-SINK-0000000008 (topic: KSTREAM-MAP-0000000007-repartition)
      <-- KSTREAM-FILTER-0000000009

  Sub-topology: 1
    Source: KSTREAM-SOURCE-0000000010 (topics: [KSTREAM-MAP-0000000007-repartition])
      --> KSTREAM-JOIN-0000000011, KSTREAM-JOIN-0000000016
    Processor: KSTREAM-JOIN-0000000011 (stores: [topic2-STATE-STORE-0000000001])
      --> KSTREAM-SINK-0000000012
      <-- KSTREAM-SOURCE-0000000010
    Processor: KSTREAM-JOIN-0000000016 (stores: [topic3-STATE-STORE-0000000004])
      --> KSTREAM-SINK-0000000017
      <-- KSTREAM-SOURCE-0000000010
    Source: KSTREAM-SOURCE-0000000002 (topics: [topic2])
      --> KTABLE-SOURCE-0000000003
    Source: KSTREAM-SOURCE-0000000005 (topics: [topic3])
      --> KTABLE-SOURCE-0000000006
    Sink: KSTREAM-SINK-0000000012 (topic: out-one)
      <-- KSTREAM-JOIN-0000000011
    Sink: KSTREAM-SINK-0000000017 (topic: out-two)
      <-- KSTREAM-JOIN-0000000016
    Processor: KTABLE-SOURCE-0000000003 (stores: [topic2-STATE-STORE-0000000001])
      --> none
      <-- KSTREAM-SOURCE-0000000002
    Processor: KTABLE-SOURCE-0000000006 (stores: [topic3-STATE-STORE-0000000004])
      --> none
      <-- KSTREAM-SOURCE-0000000005

"#
    );
}

/// Kafka's `KStreamKTableJoinTest#shouldCreateRepartitionTopicsWithUserProvidedName`: a
/// `Joined` name names the join's processor and its own repartition topic.
#[test]
fn stream_table_joins_with_joined_names_create_their_own_repartition_topics() {
    assert_eq!(
        rekeyed_stream_joined_with_two_tables(Some(("first-join", "second-join"))),
        r#"Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [topic])
      --> KSTREAM-MAP-0000000007
    Processor: KSTREAM-MAP-0000000007 (stores: [])
      --> first-join-repartition-filter, second-join-repartition-filter
      <-- KSTREAM-SOURCE-0000000000
    Processor: first-join-repartition-filter (stores: [])
      --> first-join-repartition-sink
      <-- KSTREAM-MAP-0000000007
    Processor: second-join-repartition-filter (stores: [])
      --> second-join-repartition-sink
      <-- KSTREAM-MAP-0000000007
    Sink: first-join-repartition-sink (topic: first-join-repartition)
      <-- first-join-repartition-filter
    Sink: second-join-repartition-sink (topic: second-join-repartition)
      <-- second-join-repartition-filter

  Sub-topology: 1
    Source: first-join-repartition-source (topics: [first-join-repartition])
      --> first-join
    Source: KSTREAM-SOURCE-0000000002 (topics: [topic2])
      --> KTABLE-SOURCE-0000000003
    Processor: first-join (stores: [topic2-STATE-STORE-0000000001])
      --> KSTREAM-SINK-0000000012
      <-- first-join-repartition-source
    Sink: KSTREAM-SINK-0000000012 (topic: out-one)
      <-- first-join
    Processor: KTABLE-SOURCE-0000000003 (stores: [topic2-STATE-STORE-0000000001])
      --> none
      <-- KSTREAM-SOURCE-0000000002

  Sub-topology: 2
    Source: second-join-repartition-source (topics: [second-join-repartition])
      --> second-join
    Source: KSTREAM-SOURCE-0000000005 (topics: [topic3])
      --> KTABLE-SOURCE-0000000006
    Processor: second-join (stores: [topic3-STATE-STORE-0000000004])
      --> KSTREAM-SINK-0000000017
      <-- second-join-repartition-source
    Sink: KSTREAM-SINK-0000000017 (topic: out-two)
      <-- second-join
    Processor: KTABLE-SOURCE-0000000006 (stores: [topic3-STATE-STORE-0000000004])
      --> none
      <-- KSTREAM-SOURCE-0000000005

"#
    );
}

/// Consumes records and forwards nothing, like the `SimpleProcessor` of Kafka's
/// `RepartitionTopicNamingTest`.
struct Collect;

impl Processor<String, String, String, String> for Collect {
    fn process(
        &mut self,
        _record: Record<String, String>,
        _ctx: &mut ProcessorContext<'_, String, String>,
    ) -> crate::Result<()> {
        Ok(())
    }
}

/// The program of Kafka's `RepartitionTopicNamingTest#buildTopology`: one key change feeding
/// three aggregations and a join, each with a named repartition topic.
fn repartition_naming_topology(optimization: &str) -> Topology {
    let builder = StreamsBuilder::new();
    let grouped = |name: &str| Grouped::with(Serdes::string(), Serdes::string()).with_name(name);
    let source = builder.stream("input", strings());
    let mapped = source.map(|k: &String, v: &String| (k.to_uppercase(), v.clone()));
    let _ = mapped
        .filter(|k, _| k == "B")
        .map_values(|v: &String| v.to_uppercase())
        .process(|| Collect);
    let count_stream = mapped
        .group_by_key(grouped("count-stream"))
        .count(Materialized::with(Serdes::string(), Serdes::i64()))
        .to_stream();
    count_stream.to(
        "outputTopic_0",
        Produced::with(Serdes::string(), Serdes::option(Serdes::i64())),
    );
    mapped
        .group_by_key(grouped("aggregate-stream"))
        .aggregate(
            || 0i32,
            |_, v: &String, agg: i32| agg + v.len() as i32,
            Materialized::with(Serdes::string(), Serdes::i32()),
        )
        .to_stream()
        .to(
            "outputTopic_1",
            Produced::with(Serdes::string(), Serdes::option(Serdes::i32())),
        );
    mapped
        .filter(|_, _| true)
        .peek(|_, _| {})
        .group_by_key(grouped("reduced-stream"))
        .reduce(
            |v1: String, v2: &String| format!("{v1}:{v2}"),
            Materialized::with(Serdes::string(), Serdes::string()),
        )
        .to_stream()
        .to(
            "outputTopic_2",
            Produced::with(Serdes::string(), Serdes::option(Serdes::string())),
        );
    mapped
        .filter(|k, _| k == "A")
        .join_stream(
            &count_stream,
            |v1: &String, v2: &Option<i64>| format!("{v1}:{v2:?}"),
            JoinWindows::of_time_difference_with_no_grace(Duration::from_millis(5000)).unwrap(),
            StreamJoined::with(
                Serdes::string(),
                Serdes::string(),
                Serdes::option(Serdes::i64()),
            )
            .with_store_name("joined-stream")
            .with_name("joined-stream"),
        )
        .to("outputTopicForJoin", to_strings());
    builder.build_with_optimization(optimization).unwrap()
}

/// Kafka's `RepartitionTopicNamingTest#shouldReuseFirstRepartitionTopicNameWhenOptimizing`:
/// with `merge.repartition.topics`, the four repartitions after the `map` become one, named
/// after the first; without it, each keeps its own.
#[test]
fn merged_repartition_topics_reuse_the_first_name() {
    let optimized = repartition_naming_topology("all");
    assert_eq!(
        optimized.describe().to_string(),
        r#"Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [input])
      --> KSTREAM-MAP-0000000001
    Processor: KSTREAM-MAP-0000000001 (stores: [])
      --> KSTREAM-FILTER-0000000002, count-stream-repartition-filter
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-FILTER-0000000002 (stores: [])
      --> KSTREAM-MAPVALUES-0000000003
      <-- KSTREAM-MAP-0000000001
    Processor: KSTREAM-MAPVALUES-0000000003 (stores: [])
      --> KSTREAM-PROCESSOR-0000000004
      <-- KSTREAM-FILTER-0000000002
    Processor: count-stream-repartition-filter (stores: [])
      --> count-stream-repartition-sink
      <-- KSTREAM-MAP-0000000001
    Processor: KSTREAM-PROCESSOR-0000000004 (stores: [])
      --> none
      <-- KSTREAM-MAPVALUES-0000000003
    Sink: count-stream-repartition-sink (topic: count-stream-repartition)
      <-- count-stream-repartition-filter

  Sub-topology: 1
    Source: count-stream-repartition-source (topics: [count-stream-repartition])
      --> KSTREAM-FILTER-0000000020, KSTREAM-AGGREGATE-0000000007, KSTREAM-AGGREGATE-0000000014, KSTREAM-FILTER-0000000029
    Processor: KSTREAM-AGGREGATE-0000000007 (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000006])
      --> KTABLE-TOSTREAM-0000000011
      <-- count-stream-repartition-source
    Processor: KTABLE-TOSTREAM-0000000011 (stores: [])
      --> joined-stream-other-windowed, KSTREAM-SINK-0000000012
      <-- KSTREAM-AGGREGATE-0000000007
    Processor: KSTREAM-FILTER-0000000020 (stores: [])
      --> KSTREAM-PEEK-0000000021
      <-- count-stream-repartition-source
    Processor: KSTREAM-FILTER-0000000029 (stores: [])
      --> joined-stream-this-windowed
      <-- count-stream-repartition-source
    Processor: KSTREAM-PEEK-0000000021 (stores: [])
      --> KSTREAM-REDUCE-0000000023
      <-- KSTREAM-FILTER-0000000020
    Processor: joined-stream-other-windowed (stores: [joined-stream-other-join-store])
      --> joined-stream-other-join
      <-- KTABLE-TOSTREAM-0000000011
    Processor: joined-stream-this-windowed (stores: [joined-stream-this-join-store])
      --> joined-stream-this-join
      <-- KSTREAM-FILTER-0000000029
    Processor: KSTREAM-AGGREGATE-0000000014 (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000013])
      --> KTABLE-TOSTREAM-0000000018
      <-- count-stream-repartition-source
    Processor: KSTREAM-REDUCE-0000000023 (stores: [KSTREAM-REDUCE-STATE-STORE-0000000022])
      --> KTABLE-TOSTREAM-0000000027
      <-- KSTREAM-PEEK-0000000021
    Processor: joined-stream-other-join (stores: [joined-stream-this-join-store])
      --> joined-stream-merge
      <-- joined-stream-other-windowed
    Processor: joined-stream-this-join (stores: [joined-stream-other-join-store])
      --> joined-stream-merge
      <-- joined-stream-this-windowed
    Processor: KTABLE-TOSTREAM-0000000018 (stores: [])
      --> KSTREAM-SINK-0000000019
      <-- KSTREAM-AGGREGATE-0000000014
    Processor: KTABLE-TOSTREAM-0000000027 (stores: [])
      --> KSTREAM-SINK-0000000028
      <-- KSTREAM-REDUCE-0000000023
    Processor: joined-stream-merge (stores: [])
      --> KSTREAM-SINK-0000000038
      <-- joined-stream-this-join, joined-stream-other-join
    Sink: KSTREAM-SINK-0000000012 (topic: outputTopic_0)
      <-- KTABLE-TOSTREAM-0000000011
    Sink: KSTREAM-SINK-0000000019 (topic: outputTopic_1)
      <-- KTABLE-TOSTREAM-0000000018
    Sink: KSTREAM-SINK-0000000028 (topic: outputTopic_2)
      <-- KTABLE-TOSTREAM-0000000027
    Sink: KSTREAM-SINK-0000000038 (topic: outputTopicForJoin)
      <-- joined-stream-merge

"#
    );
    let names: Vec<&str> = optimized
        .repartition_topics()
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(names, ["count-stream-repartition"]);
    let unoptimized = repartition_naming_topology("none");
    assert_eq!(
        unoptimized.describe().to_string(),
        r#"Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [input])
      --> KSTREAM-MAP-0000000001
    Processor: KSTREAM-MAP-0000000001 (stores: [])
      --> KSTREAM-FILTER-0000000029, KSTREAM-FILTER-0000000002, KSTREAM-FILTER-0000000020, aggregate-stream-repartition-filter, count-stream-repartition-filter
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-FILTER-0000000020 (stores: [])
      --> KSTREAM-PEEK-0000000021
      <-- KSTREAM-MAP-0000000001
    Processor: KSTREAM-FILTER-0000000002 (stores: [])
      --> KSTREAM-MAPVALUES-0000000003
      <-- KSTREAM-MAP-0000000001
    Processor: KSTREAM-FILTER-0000000029 (stores: [])
      --> joined-stream-left-repartition-filter
      <-- KSTREAM-MAP-0000000001
    Processor: KSTREAM-PEEK-0000000021 (stores: [])
      --> reduced-stream-repartition-filter
      <-- KSTREAM-FILTER-0000000020
    Processor: KSTREAM-MAPVALUES-0000000003 (stores: [])
      --> KSTREAM-PROCESSOR-0000000004
      <-- KSTREAM-FILTER-0000000002
    Processor: aggregate-stream-repartition-filter (stores: [])
      --> aggregate-stream-repartition-sink
      <-- KSTREAM-MAP-0000000001
    Processor: count-stream-repartition-filter (stores: [])
      --> count-stream-repartition-sink
      <-- KSTREAM-MAP-0000000001
    Processor: joined-stream-left-repartition-filter (stores: [])
      --> joined-stream-left-repartition-sink
      <-- KSTREAM-FILTER-0000000029
    Processor: reduced-stream-repartition-filter (stores: [])
      --> reduced-stream-repartition-sink
      <-- KSTREAM-PEEK-0000000021
    Processor: KSTREAM-PROCESSOR-0000000004 (stores: [])
      --> none
      <-- KSTREAM-MAPVALUES-0000000003
    Sink: aggregate-stream-repartition-sink (topic: aggregate-stream-repartition)
      <-- aggregate-stream-repartition-filter
    Sink: count-stream-repartition-sink (topic: count-stream-repartition)
      <-- count-stream-repartition-filter
    Sink: joined-stream-left-repartition-sink (topic: joined-stream-left-repartition)
      <-- joined-stream-left-repartition-filter
    Sink: reduced-stream-repartition-sink (topic: reduced-stream-repartition)
      <-- reduced-stream-repartition-filter

  Sub-topology: 1
    Source: count-stream-repartition-source (topics: [count-stream-repartition])
      --> KSTREAM-AGGREGATE-0000000007
    Processor: KSTREAM-AGGREGATE-0000000007 (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000006])
      --> KTABLE-TOSTREAM-0000000011
      <-- count-stream-repartition-source
    Processor: KTABLE-TOSTREAM-0000000011 (stores: [])
      --> KSTREAM-SINK-0000000012, joined-stream-other-windowed
      <-- KSTREAM-AGGREGATE-0000000007
    Source: joined-stream-left-repartition-source (topics: [joined-stream-left-repartition])
      --> joined-stream-this-windowed
    Processor: joined-stream-other-windowed (stores: [joined-stream-other-join-store])
      --> joined-stream-other-join
      <-- KTABLE-TOSTREAM-0000000011
    Processor: joined-stream-this-windowed (stores: [joined-stream-this-join-store])
      --> joined-stream-this-join
      <-- joined-stream-left-repartition-source
    Processor: joined-stream-other-join (stores: [joined-stream-this-join-store])
      --> joined-stream-merge
      <-- joined-stream-other-windowed
    Processor: joined-stream-this-join (stores: [joined-stream-other-join-store])
      --> joined-stream-merge
      <-- joined-stream-this-windowed
    Processor: joined-stream-merge (stores: [])
      --> KSTREAM-SINK-0000000038
      <-- joined-stream-this-join, joined-stream-other-join
    Sink: KSTREAM-SINK-0000000012 (topic: outputTopic_0)
      <-- KTABLE-TOSTREAM-0000000011
    Sink: KSTREAM-SINK-0000000038 (topic: outputTopicForJoin)
      <-- joined-stream-merge

  Sub-topology: 2
    Source: aggregate-stream-repartition-source (topics: [aggregate-stream-repartition])
      --> KSTREAM-AGGREGATE-0000000014
    Processor: KSTREAM-AGGREGATE-0000000014 (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000013])
      --> KTABLE-TOSTREAM-0000000018
      <-- aggregate-stream-repartition-source
    Processor: KTABLE-TOSTREAM-0000000018 (stores: [])
      --> KSTREAM-SINK-0000000019
      <-- KSTREAM-AGGREGATE-0000000014
    Sink: KSTREAM-SINK-0000000019 (topic: outputTopic_1)
      <-- KTABLE-TOSTREAM-0000000018

  Sub-topology: 3
    Source: reduced-stream-repartition-source (topics: [reduced-stream-repartition])
      --> KSTREAM-REDUCE-0000000023
    Processor: KSTREAM-REDUCE-0000000023 (stores: [KSTREAM-REDUCE-STATE-STORE-0000000022])
      --> KTABLE-TOSTREAM-0000000027
      <-- reduced-stream-repartition-source
    Processor: KTABLE-TOSTREAM-0000000027 (stores: [])
      --> KSTREAM-SINK-0000000028
      <-- KSTREAM-REDUCE-0000000023
    Sink: KSTREAM-SINK-0000000028 (topic: outputTopic_2)
      <-- KTABLE-TOSTREAM-0000000027

"#
    );
    assert_eq!(unoptimized.repartition_topics().len(), 4);
}

/// A grouped stream re-keyed by `select_key`, grouped with `grouping` (or unnamed), and counted
/// in two time windows, as in Kafka's `RepartitionTopicNamingTest`.
fn two_windowed_counts(grouping: Option<&str>) -> Topology {
    let builder = StreamsBuilder::new();
    let grouped = Grouped::with(Serdes::string(), Serdes::string());
    let grouped = match grouping {
        Some(name) => grouped.with_name(name),
        None => grouped,
    };
    let by_key = builder
        .stream("topic", strings())
        .select_key(|k: &String, _| k.clone())
        .group_by_key(grouped);
    for (size, topic) in [(10, "output-one"), (30, "output-two")] {
        by_key
            .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_millis(size)).unwrap())
            .count(Materialized::new())
            .to_stream()
            .map(|k: &Windowed<String>, v: &Option<i64>| (k.key.clone(), format!("{v:?}")))
            .to(topic, to_strings());
    }
    builder.build().unwrap()
}

/// Kafka's `RepartitionTopicNamingTest#shouldNotFailWithSameRepartitionTopicNameUsingSameKGroupedStream`
/// and `#shouldNotReuseRepartitionNodeWithUnnamedRepartitionTopics`: the aggregations of one
/// grouped stream share its named repartition topic; unnamed, each has its own.
#[test]
fn aggregations_of_one_grouped_stream_share_its_named_repartition_topic() {
    let named = two_windowed_counts(Some("grouping"));
    let topics: Vec<&str> = named
        .repartition_topics()
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(topics, ["grouping-repartition"]);
    assert!(named
        .describe()
        .to_string()
        .contains("grouping-repartition"));
    assert_eq!(two_windowed_counts(None).repartition_topics().len(), 2);
}

/// Kafka's `StreamsGraphTest#shouldOptimizeSeveralMergeNodesWithCommonKeyChangingParent`: a
/// chain of merges lists its predecessors in Kafka's order (the earlier merge, with the larger
/// sub-tree at the time, first), optimized or not.
#[test]
fn merges_list_their_predecessors_in_kafkas_order() {
    for optimization in ["all", "none"] {
        let builder = StreamsBuilder::new();
        let parent = builder
            .stream("input_topic", Consumed::with(Serdes::i32(), Serdes::i32()))
            .select_key(|k: &i32, v: &i32| k + v);
        let child1 = parent.map_values(|v: &i32| v + 1);
        let child2 = parent.map_values(|v: &i32| v + 2);
        let child3 = parent.map_values(|v: &i32| v + 3);
        child1
            .merge(&child2)
            .merge(&child3)
            .to("output_topic", Produced::with(Serdes::i32(), Serdes::i32()));
        let topology = builder.build_with_optimization(optimization).unwrap();
        assert_eq!(
            topology.describe().to_string(),
            r#"Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [input_topic])
      --> KSTREAM-KEY-SELECT-0000000001
    Processor: KSTREAM-KEY-SELECT-0000000001 (stores: [])
      --> KSTREAM-MAPVALUES-0000000002, KSTREAM-MAPVALUES-0000000003, KSTREAM-MAPVALUES-0000000004
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-MAPVALUES-0000000002 (stores: [])
      --> KSTREAM-MERGE-0000000005
      <-- KSTREAM-KEY-SELECT-0000000001
    Processor: KSTREAM-MAPVALUES-0000000003 (stores: [])
      --> KSTREAM-MERGE-0000000005
      <-- KSTREAM-KEY-SELECT-0000000001
    Processor: KSTREAM-MAPVALUES-0000000004 (stores: [])
      --> KSTREAM-MERGE-0000000006
      <-- KSTREAM-KEY-SELECT-0000000001
    Processor: KSTREAM-MERGE-0000000005 (stores: [])
      --> KSTREAM-MERGE-0000000006
      <-- KSTREAM-MAPVALUES-0000000002, KSTREAM-MAPVALUES-0000000003
    Processor: KSTREAM-MERGE-0000000006 (stores: [])
      --> KSTREAM-SINK-0000000007
      <-- KSTREAM-MERGE-0000000005, KSTREAM-MAPVALUES-0000000004
    Sink: KSTREAM-SINK-0000000007 (topic: output_topic)
      <-- KSTREAM-MERGE-0000000006

"#
        );
    }
}

/// Every node name of `topology`, sorted.
fn node_names(topology: &Topology) -> Vec<String> {
    let mut names: Vec<String> = topology
        .describe()
        .subtopologies
        .iter()
        .flat_map(|s| s.nodes.iter().map(|n| n.name.clone()))
        .collect();
    names.sort();
    names
}

/// `topology`'s store names, sorted.
fn sorted_store_names(topology: &Topology) -> Vec<String> {
    let mut names = topology.store_names();
    names.sort();
    names
}

fn sorted(names: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    names.sort();
    names
}

/// Kafka's `StreamsBuilderTest#shouldUseSpecifiedNameForStreamSourceProcessor` and
/// `#shouldUseSpecifiedNameForTableSourceProcessor`: a `Consumed` name names a stream's source,
/// and a table's source processor (its source node is `<name>-source`); generated names count
/// on past it.
#[test]
fn consumed_names_name_sources_and_table_sources_as_kafka_does() {
    let builder = StreamsBuilder::new();
    builder.stream("stream-topic", strings().with_name("source-node"));
    builder.stream("stream-topic-two", strings());
    assert_eq!(
        node_names(&builder.build().unwrap()),
        sorted(&["source-node", "KSTREAM-SOURCE-0000000001"])
    );
    let builder = StreamsBuilder::new();
    builder.table(
        "stream-topic",
        strings().with_name("source-node"),
        Materialized::new(),
    );
    builder.table("stream-topic-two", strings(), Materialized::new());
    assert_eq!(
        node_names(&builder.build().unwrap()),
        sorted(&[
            "source-node-source",
            "source-node",
            "KSTREAM-SOURCE-0000000004",
            "KTABLE-SOURCE-0000000005"
        ])
    );
}

/// Kafka's `StreamsBuilderTest#shouldUseSpecifiedNameFor{,Left}JoinOperationBetweenKStreamAndKTable`:
/// `Joined::with_name` names the join; the table has no store name and is joined all the same.
#[test]
fn joined_names_the_stream_table_join() {
    for left in [false, true] {
        let builder = StreamsBuilder::new();
        let stream = builder.stream("stream-topic", strings());
        let table = builder.table("table-topic", strings(), Materialized::new());
        let joined = Joined::with(Serdes::string(), Serdes::string()).with_name("merge-operation");
        if left {
            let _ = stream.left_join(&table, |v: &String, _: Option<&String>| v.clone(), joined);
        } else {
            let _ = stream.join(&table, |v: &String, _: &String| v.clone(), joined);
        }
        let topology = builder.build().unwrap();
        assert_eq!(
            node_names(&topology),
            sorted(&[
                "KSTREAM-SOURCE-0000000000",
                "KSTREAM-SOURCE-0000000002",
                "KTABLE-SOURCE-0000000003",
                "merge-operation"
            ])
        );
        assert!(topology
            .describe()
            .to_string()
            .contains("Processor: merge-operation (stores: [table-topic-STATE-STORE-0000000001])"));
    }
}

/// Kafka's `StreamsBuilderTest#shouldUse{Specified,Generated}{Store,}NamesFor{,Left,Outer}JoinOperationBetweenKStreamAndKStream`:
/// `StreamJoined::with_name` names the processors, `with_store_name` (Kafka's
/// `StreamJoined.as`) the stores.
#[test]
fn stream_joined_names_processors_and_stores_as_kafka_does() {
    let name = "merge-operation";
    let cases: [(&str, bool, [&str; 3], [&str; 2]); 6] = [
        (
            "join",
            true,
            [
                "merge-operation-this-join-store",
                "merge-operation-other-join-store",
                "",
            ],
            ["-this-join", "-other-join"],
        ),
        (
            "join",
            false,
            [
                "KSTREAM-JOINTHIS-0000000004-store",
                "KSTREAM-JOINOTHER-0000000005-store",
                "",
            ],
            ["-this-join", "-other-join"],
        ),
        (
            "left",
            true,
            [
                "merge-operation-this-join-store",
                "merge-operation-outer-other-join-store",
                "merge-operation-left-shared-join-store",
            ],
            ["-this-join", "-outer-other-join"],
        ),
        (
            "left",
            false,
            [
                "KSTREAM-JOINTHIS-0000000004-store",
                "KSTREAM-OUTEROTHER-0000000005-store",
                "KSTREAM-OUTERSHARED-0000000004-store",
            ],
            ["-this-join", "-outer-other-join"],
        ),
        (
            "outer",
            true,
            [
                "merge-operation-outer-this-join-store",
                "merge-operation-outer-other-join-store",
                "merge-operation-outer-shared-join-store",
            ],
            ["-outer-this-join", "-outer-other-join"],
        ),
        (
            "outer",
            false,
            [
                "KSTREAM-OUTERTHIS-0000000004-store",
                "KSTREAM-OUTEROTHER-0000000005-store",
                "KSTREAM-OUTERSHARED-0000000004-store",
            ],
            ["-outer-this-join", "-outer-other-join"],
        ),
    ];
    for (kind, store_named, stores, joins) in cases {
        let builder = StreamsBuilder::new();
        let one = builder.stream("stream-topic", strings());
        let two = builder.stream("stream-topic-two", strings());
        let windows =
            JoinWindows::of_time_difference_with_no_grace(Duration::from_secs(3600)).unwrap();
        let mut joined = StreamJoined::with(Serdes::string(), Serdes::string(), Serdes::string())
            .with_name(name);
        if store_named {
            joined = joined.with_store_name(name);
        }
        match kind {
            "join" => {
                drop(one.join_stream(&two, |a: &String, _: &String| a.clone(), windows, joined))
            }
            "left" => drop(one.left_join_stream(
                &two,
                |a: &String, _: Option<&String>| a.clone(),
                windows,
                joined,
            )),
            _ => drop(one.outer_join_stream(
                &two,
                |a: Option<&String>, _: Option<&String>| a.cloned().unwrap_or_default(),
                windows,
                joined,
            )),
        }
        let topology = builder.build().unwrap();
        let expected_stores: Vec<&str> = stores.into_iter().filter(|s| !s.is_empty()).collect();
        assert_eq!(
            sorted_store_names(&topology),
            sorted(&expected_stores),
            "{kind}"
        );
        let nodes = [
            "KSTREAM-SOURCE-0000000000".to_string(),
            "KSTREAM-SOURCE-0000000001".to_string(),
            format!("{name}-this-windowed"),
            format!("{name}-other-windowed"),
            format!("{name}{}", joins[0]),
            format!("{name}{}", joins[1]),
            format!("{name}-merge"),
        ];
        let nodes: Vec<&str> = nodes.iter().map(String::as_str).collect();
        assert_eq!(node_names(&topology), sorted(&nodes), "{kind}");
    }
}

/// Kafka's `KStreamImplTest#shouldPropagateRepartitionFlagAfterGlobalKTableJoin`: a global
/// table join keeps the key change before it pending, so the aggregation after it repartitions.
#[test]
fn a_global_table_join_keeps_a_pending_key_change() {
    let builder = StreamsBuilder::new();
    let global = builder.global_table("globalTopic", strings(), Materialized::new());
    builder
        .stream("topic", strings())
        .select_key(|_, v: &String| v.clone())
        .join_global_table(
            &global,
            |k: &String, v: &String| format!("{k}{v}"),
            |v1: &String, v2: &String| format!("{v1}{v2}"),
        )
        .group_by_key(Grouped::with(Serdes::string(), Serdes::string()))
        .count(Materialized::new());
    let text = builder.build().unwrap().describe().to_string();
    let sink = text
        .lines()
        .find(|l| l.trim_start().starts_with("Sink: "))
        .unwrap_or_default();
    assert!(sink.ends_with("-repartition)"), "{text}");
}

/// The entries of `map`, sorted.
fn sorted_pairs<V: Ord>(map: std::collections::HashMap<String, V>) -> Vec<(String, V)> {
    let mut pairs: Vec<_> = map.into_iter().collect();
    pairs.sort();
    pairs
}

/// `describe()`, the number of repartition topics, and the two outputs as sorted pairs.
type MergedCounts = (
    String,
    usize,
    Vec<(String, Option<i64>)>,
    Vec<(String, String)>,
);

/// The program of Kafka's `RepartitionWithMergeOptimizingTest`: two re-keyed streams merged,
/// then counted twice with named repartitions; it returns the topology and the two outputs.
fn merged_counts(optimization: &str) -> MergedCounts {
    let builder = StreamsBuilder::new();
    let split = |_: &String, v: &String| {
        (
            v.split(':').next().unwrap_or_default().to_string(),
            v.clone(),
        )
    };
    let mapped_a = builder
        .stream("inputA", strings().with_name("sourceAStream"))
        .named("mappedAStream")
        .map(split);
    let mapped_b = builder
        .stream("inputB", strings().with_name("sourceBStream"))
        .named("mappedBStream")
        .map(split);
    let merged = mapped_a.named("mergedStream").merge(&mapped_b);
    let grouped = |name: &str| Grouped::with(Serdes::string(), Serdes::string()).with_name(name);
    merged
        .named("long-count")
        .group_by_key(grouped("long-groupByKey"))
        .count(Materialized::as_("long-store").with_in_memory())
        .named("long-toStream")
        .to_stream()
        .to(
            "outputTopic_0",
            Produced::with(Serdes::string(), Serdes::option(Serdes::i64())).with_name("long-to"),
        );
    merged
        .named("string-count")
        .group_by_key(grouped("string-groupByKey"))
        .count(Materialized::as_("string-store").with_in_memory())
        .named("string-toStream")
        .to_stream()
        .named("string-mapValues")
        .map_values(|v: &Option<i64>| v.map(|v| v.to_string()).unwrap_or_default())
        .to("outputTopic_1", to_strings().with_name("string-to"));
    let topology = builder.build_with_optimization(optimization).unwrap();
    let text = topology.describe().to_string();
    let repartitions = topology.repartition_topics().len();
    let driver = TopologyTestDriver::new(topology).unwrap();
    for topic in ["inputA", "inputB"] {
        let input =
            driver.create_input_topic(topic, crate::serde::StringSerde, crate::serde::StringSerde);
        for key in ["X", "Y", "Z"] {
            for value in ["A:foo", "B:foo", "C:foo"] {
                input.pipe_input(key, value);
            }
        }
    }
    let counts = driver.create_output_topic(
        "outputTopic_0",
        crate::serde::StringSerde,
        Serdes::option(Serdes::i64()),
    );
    let strings_out = driver.create_output_topic(
        "outputTopic_1",
        crate::serde::StringSerde,
        crate::serde::StringSerde,
    );
    (
        text,
        repartitions,
        sorted_pairs(counts.read_key_values_to_map()),
        sorted_pairs(strings_out.read_key_values_to_map()),
    )
}

/// Kafka's `RepartitionWithMergeOptimizingTest#shouldSendCorrectRecords_OPTIMIZED` and
/// `#shouldSendCorrectResults_NO_OPTIMIZATION`: the repartitions after a merge of re-keyed
/// streams become one, placed after the merge; the results are the same either way.
#[test]
fn repartitions_after_a_merge_of_rekeyed_streams_are_merged() {
    let expected_counts: Vec<(String, Option<i64>)> = ["A", "B", "C"]
        .iter()
        .map(|k| (k.to_string(), Some(6)))
        .collect();
    let expected_strings: Vec<(String, String)> = ["A", "B", "C"]
        .iter()
        .map(|k| (k.to_string(), "6".to_string()))
        .collect();
    let (text, repartitions, counts, strings_out) = merged_counts("all");
    assert_eq!(
        text,
        r#"Topologies:
   Sub-topology: 0
    Source: sourceAStream (topics: [inputA])
      --> mappedAStream
    Source: sourceBStream (topics: [inputB])
      --> mappedBStream
    Processor: mappedAStream (stores: [])
      --> mergedStream
      <-- sourceAStream
    Processor: mappedBStream (stores: [])
      --> mergedStream
      <-- sourceBStream
    Processor: mergedStream (stores: [])
      --> long-groupByKey-repartition-filter
      <-- mappedAStream, mappedBStream
    Processor: long-groupByKey-repartition-filter (stores: [])
      --> long-groupByKey-repartition-sink
      <-- mergedStream
    Sink: long-groupByKey-repartition-sink (topic: long-groupByKey-repartition)
      <-- long-groupByKey-repartition-filter

  Sub-topology: 1
    Source: long-groupByKey-repartition-source (topics: [long-groupByKey-repartition])
      --> long-count, string-count
    Processor: string-count (stores: [string-store])
      --> string-toStream
      <-- long-groupByKey-repartition-source
    Processor: long-count (stores: [long-store])
      --> long-toStream
      <-- long-groupByKey-repartition-source
    Processor: string-toStream (stores: [])
      --> string-mapValues
      <-- string-count
    Processor: long-toStream (stores: [])
      --> long-to
      <-- long-count
    Processor: string-mapValues (stores: [])
      --> string-to
      <-- string-toStream
    Sink: long-to (topic: outputTopic_0)
      <-- long-toStream
    Sink: string-to (topic: outputTopic_1)
      <-- string-mapValues

"#
    );
    assert_eq!(repartitions, 1);
    assert_eq!(counts, expected_counts);
    assert_eq!(strings_out, expected_strings);
    let (text, repartitions, counts, strings_out) = merged_counts("none");
    assert_eq!(
        text,
        r#"Topologies:
   Sub-topology: 0
    Source: sourceAStream (topics: [inputA])
      --> mappedAStream
    Source: sourceBStream (topics: [inputB])
      --> mappedBStream
    Processor: mappedAStream (stores: [])
      --> mergedStream
      <-- sourceAStream
    Processor: mappedBStream (stores: [])
      --> mergedStream
      <-- sourceBStream
    Processor: mergedStream (stores: [])
      --> long-groupByKey-repartition-filter, string-groupByKey-repartition-filter
      <-- mappedAStream, mappedBStream
    Processor: long-groupByKey-repartition-filter (stores: [])
      --> long-groupByKey-repartition-sink
      <-- mergedStream
    Processor: string-groupByKey-repartition-filter (stores: [])
      --> string-groupByKey-repartition-sink
      <-- mergedStream
    Sink: long-groupByKey-repartition-sink (topic: long-groupByKey-repartition)
      <-- long-groupByKey-repartition-filter
    Sink: string-groupByKey-repartition-sink (topic: string-groupByKey-repartition)
      <-- string-groupByKey-repartition-filter

  Sub-topology: 1
    Source: long-groupByKey-repartition-source (topics: [long-groupByKey-repartition])
      --> long-count
    Processor: long-count (stores: [long-store])
      --> long-toStream
      <-- long-groupByKey-repartition-source
    Processor: long-toStream (stores: [])
      --> long-to
      <-- long-count
    Sink: long-to (topic: outputTopic_0)
      <-- long-toStream

  Sub-topology: 2
    Source: string-groupByKey-repartition-source (topics: [string-groupByKey-repartition])
      --> string-count
    Processor: string-count (stores: [string-store])
      --> string-toStream
      <-- string-groupByKey-repartition-source
    Processor: string-toStream (stores: [])
      --> string-mapValues
      <-- string-count
    Processor: string-mapValues (stores: [])
      --> string-to
      <-- string-toStream
    Sink: string-to (topic: outputTopic_1)
      <-- string-mapValues

"#
    );
    assert_eq!(repartitions, 2);
    assert_eq!(counts, expected_counts);
    assert_eq!(strings_out, expected_strings);
}

/// The stores processor `name` connects, as `describe()` lists them.
fn stores_of(topology: &Topology, name: &str) -> Vec<String> {
    topology
        .describe()
        .subtopologies
        .iter()
        .flat_map(|s| s.nodes.iter())
        .find(|n| n.name == name)
        .map(|n| match &n.detail {
            crate::topology::NodeDetail::Processor { stores } => stores.clone(),
            _ => Vec::new(),
        })
        .unwrap_or_else(|| panic!("no processor {name} in\n{}", topology.describe()))
}

/// A stream joined with the table `table` makes after the stream's source was added, as in
/// Kafka's `StreamsBuilderTest#shouldAllowJoin…` (Java evaluates the receiver first).
fn join_stream_with(builder: &StreamsBuilder, table: impl FnOnce() -> KTable<String, String>) {
    let stream = builder.stream("stream-topic", strings());
    let _ = stream.join(
        &table(),
        |v: &String, t: &String| format!("{v}+{t}"),
        Joined::with(Serdes::string(), Serdes::string()),
    );
}

/// Kafka's `StreamsBuilderTest#shouldAllowJoinUnmaterialized{Filtered,MapValued,Joined}KTable`
/// and `#shouldAllowJoinMaterialized{Filtered,MapValued,Joined,Source}KTable`: a join reads a
/// table without a store through the stores of the tables it derives from, which its processor
/// connects (the derived table's processor connects none); a materialized table is read from
/// its own store, and the source table it derives from gets no store (Kafka's
/// `KTableSource#materialize` is called only by a value getter that reads through it).
#[test]
fn joins_read_tables_without_a_store_through_their_parents_stores() {
    let table = |b: &StreamsBuilder, topic: &str| b.table(topic, strings(), Materialized::new());
    let source_store = "table-topic-STATE-STORE-0000000000";
    for mapped in [false, true] {
        let builder = StreamsBuilder::new();
        let source = table(&builder, "table-topic");
        let derived = if mapped {
            source.map_values(|v: &String| v.clone())
        } else {
            source.filter(|_, _| true)
        };
        join_stream_with(&builder, || derived);
        let topology = builder.build().unwrap();
        assert_eq!(topology.store_names(), [source_store]);
        assert_eq!(
            stores_of(&topology, "KSTREAM-JOIN-0000000005"),
            [source_store]
        );
        let derived_node = if mapped {
            "KTABLE-MAPVALUES-0000000003"
        } else {
            "KTABLE-FILTER-0000000003"
        };
        assert!(stores_of(&topology, derived_node).is_empty());

        let builder = StreamsBuilder::new();
        let source = table(&builder, "table-topic");
        let derived = if mapped {
            source.map_values_materialized(
                |v: &String| v.clone(),
                Materialized::as_("store").with_value_serde(Serdes::string()),
            )
        } else {
            source.filter_materialized(|_, _| true, Materialized::as_("store"))
        };
        join_stream_with(&builder, || derived);
        let topology = builder.build().unwrap();
        assert_eq!(topology.store_names(), ["store"]);
        assert_eq!(stores_of(&topology, "KSTREAM-JOIN-0000000005"), ["store"]);
        assert_eq!(stores_of(&topology, derived_node), ["store"]);
        assert!(stores_of(&topology, "KTABLE-SOURCE-0000000002").is_empty());
    }

    let builder = StreamsBuilder::new();
    let (t1, t2) = (
        table(&builder, "table-topic1"),
        table(&builder, "table-topic2"),
    );
    join_stream_with(&builder, || {
        t1.join(&t2, |a: &String, b: &String| format!("{a}{b}"))
    });
    let topology = builder.build().unwrap();
    assert_eq!(topology.store_names().len(), 2);
    let mut joined = stores_of(&topology, "KSTREAM-JOIN-0000000010");
    joined.sort();
    assert_eq!(
        joined,
        [
            "table-topic1-STATE-STORE-0000000000",
            "table-topic2-STATE-STORE-0000000003"
        ]
    );
    assert!(stores_of(&topology, "KTABLE-MERGE-0000000007").is_empty());

    let builder = StreamsBuilder::new();
    let (t1, t2) = (
        table(&builder, "table-topic1"),
        table(&builder, "table-topic2"),
    );
    join_stream_with(&builder, || {
        t1.join_materialized(
            &t2,
            |a: &String, b: &String| format!("{a}{b}"),
            Materialized::as_("store").with_value_serde(Serdes::string()),
        )
    });
    let topology = builder.build().unwrap();
    assert_eq!(topology.store_names().len(), 3);
    assert_eq!(stores_of(&topology, "KSTREAM-JOIN-0000000010"), ["store"]);
    assert_eq!(stores_of(&topology, "KTABLE-MERGE-0000000007"), ["store"]);

    let builder = StreamsBuilder::new();
    let source = table(&builder, "table-topic");
    join_stream_with(&builder, || source);
    let topology = builder.build().unwrap();
    assert_eq!(topology.store_names(), [source_store]);
    assert_eq!(
        stores_of(&topology, "KTABLE-SOURCE-0000000002"),
        [source_store]
    );
    assert_eq!(
        stores_of(&topology, "KSTREAM-JOIN-0000000004"),
        [source_store]
    );
}

/// Kafka's `RepartitionTopicNamingTest#shouldKeepRepartitionTopicNameForJoins`: a named
/// stream-stream join keeps its repartition topics' names whatever comes before it.
#[test]
fn a_named_join_keeps_its_repartition_topic_names() {
    for other_operations in [false, true] {
        let builder = StreamsBuilder::new();
        let rekey = |topic: &str| {
            let rekeyed = builder
                .stream(topic, strings())
                .select_key(|k: &String, v: &String| format!("{k}{v}"));
            if other_operations {
                rekeyed.filter(|_, _| true).peek(|_, _| {})
            } else {
                rekeyed
            }
        };
        let (one, two) = (rekey("topic-one"), rekey("topic-two"));
        let _ = one.join_stream(
            &two,
            |a: &String, b: &String| format!("{a}{b}"),
            JoinWindows::of_time_difference_with_no_grace(Duration::from_millis(1000)).unwrap(),
            StreamJoined::with(Serdes::string(), Serdes::string(), Serdes::string())
                .with_name("my-join"),
        );
        let text = builder.build().unwrap().describe().to_string();
        assert!(text.contains("(topic: my-join-left-repartition)"), "{text}");
        assert!(
            text.contains("(topic: my-join-right-repartition)"),
            "{text}"
        );
    }
}

/// Kafka's `RepartitionTopicNamingTest#shouldFailWithSameRepartitionTopicName` and
/// `#shouldFailWithSameRepartitionTopicNameInJoin`: two operations naming the same repartition
/// topic are a topology error.
#[test]
fn two_repartitions_of_the_same_name_are_a_topology_error() {
    let err = build_error(|b| {
        for topic in ["topic", "topicII"] {
            b.stream(topic, strings())
                .select_key(|k: &String, _| k.clone())
                .group_by_key(
                    Grouped::with(Serdes::string(), Serdes::string()).with_name("grouping"),
                )
                .count(Materialized::new());
        }
    });
    assert!(err.contains("grouping-repartition"), "{err}");
    let err = build_error(|b| {
        let rekey = |topic: &str| {
            b.stream(topic, strings())
                .select_key(|k: &String, _| k.clone())
        };
        let (s1, s2, s3) = (rekey("topic"), rekey("topic2"), rekey("topic3"));
        let joined = || {
            StreamJoined::with(Serdes::string(), Serdes::string(), Serdes::string())
                .with_store_name("join-store")
                .with_name("join-repartition")
        };
        let windows =
            || JoinWindows::of_time_difference_with_no_grace(Duration::from_millis(30)).unwrap();
        let first = s1.join_stream(
            &s2,
            |a: &String, b: &String| format!("{a}{b}"),
            windows(),
            joined(),
        );
        let _ = first.join_stream(
            &s3,
            |a: &String, b: &String| format!("{a}{b}"),
            windows(),
            joined(),
        );
    });
    assert!(err.contains("join-repartition-right-repartition"), "{err}");
}

/// Kafka's `RepartitionTopicNamingTest#shouldPassWithSameRepartitionTopicNameUsingSameKGroupedStreamOptimized`.
#[test]
fn a_shared_named_repartition_survives_optimization() {
    let builder = StreamsBuilder::new();
    let grouped = builder
        .stream("topic", strings())
        .select_key(|k: &String, _| k.clone())
        .group_by_key(Grouped::with(Serdes::string(), Serdes::string()).with_name("grouping"));
    for size in [10, 30] {
        grouped
            .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_millis(size)).unwrap())
            .count(Materialized::new());
    }
    let topology = builder.build_with_optimization("all").unwrap();
    let topics: Vec<&str> = topology
        .repartition_topics()
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(topics, ["grouping-repartition"]);
}

/// Kafka's `TopologyTest#{kGroupedStream,timeWindow,sessionWindow}{ZeroArg,NamedMaterialized,AnonymousMaterialized}CountShouldPreserveTopologyStructure`:
/// `count(Materialized::new())` is Kafka's `count()`; a named store draws no counter value;
/// an unnamed but non-default `Materialized` draws one more store name, as Kafka's
/// `count(Materialized)` does.
#[test]
fn counts_preserve_kafkas_topology_structure() {
    #[derive(Clone, Copy)]
    enum Windowing {
        None,
        Time,
        Session,
    }
    let count = |windowing: Windowing, materialized: Materialized<String, i64>| {
        let builder = StreamsBuilder::new();
        let grouped = builder
            .stream("input-topic", strings())
            .group_by_key(Grouped::with(Serdes::string(), Serdes::string()));
        match windowing {
            Windowing::None => drop(grouped.count(materialized)),
            Windowing::Time => drop(
                grouped
                    .windowed_by(
                        TimeWindows::of_size_with_no_grace(Duration::from_millis(1)).unwrap(),
                    )
                    .count(materialized),
            ),
            Windowing::Session => drop(
                grouped
                    .windowed_by(
                        SessionWindows::of_inactivity_gap_with_no_grace(Duration::from_millis(1))
                            .unwrap(),
                    )
                    .count(materialized),
            ),
        }
        builder.build().unwrap().describe().to_string()
    };
    for (windowing, [zero_arg, named, anonymous]) in [
        (
            Windowing::None,
            [
                r#"Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic])
      --> KSTREAM-AGGREGATE-0000000002
    Processor: KSTREAM-AGGREGATE-0000000002 (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000001])
      --> none
      <-- KSTREAM-SOURCE-0000000000

"#,
                r#"Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic])
      --> KSTREAM-AGGREGATE-0000000001
    Processor: KSTREAM-AGGREGATE-0000000001 (stores: [count-store])
      --> none
      <-- KSTREAM-SOURCE-0000000000

"#,
                r#"Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic])
      --> KSTREAM-AGGREGATE-0000000003
    Processor: KSTREAM-AGGREGATE-0000000003 (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000002])
      --> none
      <-- KSTREAM-SOURCE-0000000000

"#,
            ],
        ),
        (
            Windowing::Time,
            [
                r#"Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic])
      --> KSTREAM-AGGREGATE-0000000002
    Processor: KSTREAM-AGGREGATE-0000000002 (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000001])
      --> none
      <-- KSTREAM-SOURCE-0000000000

"#,
                r#"Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic])
      --> KSTREAM-AGGREGATE-0000000001
    Processor: KSTREAM-AGGREGATE-0000000001 (stores: [count-store])
      --> none
      <-- KSTREAM-SOURCE-0000000000

"#,
                r#"Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic])
      --> KSTREAM-AGGREGATE-0000000003
    Processor: KSTREAM-AGGREGATE-0000000003 (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000002])
      --> none
      <-- KSTREAM-SOURCE-0000000000

"#,
            ],
        ),
        (
            Windowing::Session,
            [
                r#"Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic])
      --> KSTREAM-AGGREGATE-0000000002
    Processor: KSTREAM-AGGREGATE-0000000002 (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000001])
      --> none
      <-- KSTREAM-SOURCE-0000000000

"#,
                r#"Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic])
      --> KSTREAM-AGGREGATE-0000000001
    Processor: KSTREAM-AGGREGATE-0000000001 (stores: [count-store])
      --> none
      <-- KSTREAM-SOURCE-0000000000

"#,
                r#"Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic])
      --> KSTREAM-AGGREGATE-0000000003
    Processor: KSTREAM-AGGREGATE-0000000003 (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000002])
      --> none
      <-- KSTREAM-SOURCE-0000000000

"#,
            ],
        ),
    ] {
        assert_eq!(count(windowing, Materialized::new()), zero_arg);
        assert_eq!(
            count(windowing, Materialized::as_("count-store").with_in_memory()),
            named
        );
        assert_eq!(
            count(
                windowing,
                Materialized::new().with_value_serde(Serdes::i64())
            ),
            anonymous
        );
    }
}

/// Kafka's `TopologyTest#tableZeroArgCountShouldPreserveTopologyStructure`: a table grouped
/// and counted (the group-by materializes the source table).
#[test]
fn table_group_by_count_preserves_kafkas_topology_structure() {
    let builder = StreamsBuilder::new();
    builder
        .table("input-topic", strings(), Materialized::new())
        .group_by(
            |k: &String, v: &String| (k.clone(), v.clone()),
            Grouped::with(Serdes::string(), Serdes::string()),
        )
        .count(Materialized::new());
    assert_eq!(
        builder.build().unwrap().describe().to_string(),
        r#"Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000001 (topics: [input-topic])
      --> KTABLE-SOURCE-0000000002
    Processor: KTABLE-SOURCE-0000000002 (stores: [input-topic-STATE-STORE-0000000000])
      --> KTABLE-SELECT-0000000003
      <-- KSTREAM-SOURCE-0000000001
    Processor: KTABLE-SELECT-0000000003 (stores: [])
      --> KSTREAM-SINK-0000000005
      <-- KTABLE-SOURCE-0000000002
    Sink: KSTREAM-SINK-0000000005 (topic: KTABLE-AGGREGATE-STATE-STORE-0000000004-repartition)
      <-- KTABLE-SELECT-0000000003

  Sub-topology: 1
    Source: KSTREAM-SOURCE-0000000006 (topics: [KTABLE-AGGREGATE-STATE-STORE-0000000004-repartition])
      --> KTABLE-AGGREGATE-0000000007
    Processor: KTABLE-AGGREGATE-0000000007 (stores: [KTABLE-AGGREGATE-STATE-STORE-0000000004])
      --> none
      <-- KSTREAM-SOURCE-0000000006

"#
    );
}
