//! Issue 17's stream operators through the test driver — `process_values`, `to_table`, `print`,
//! `to_with_extractor`, stream partitioners, multi-topic and pattern sources, per-source
//! timestamp extractors and offset-reset policies — with scenarios ported from Kafka's
//! `KStreamImplTest`, `KStreamPrintTest`, `PrintedTest` and `StreamsBuilderTest` (inputs,
//! timestamps and expected outputs unchanged).

use std::sync::{Arc, Mutex};

use super::test_support::{outputs, owned, strings};
use crate::prelude::*;
use crate::processor::{FixedKeyProcessor, FixedKeyProcessorContext, FixedKeyRecord};
use crate::serde::StringSerde;
use crate::{AutoOffsetReset, Result};

fn to_strings() -> Produced<String, String> {
    Produced::with(Serdes::string(), Serdes::string())
}

/// A writer whose bytes a test can read back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// The value's length, as `KStreamImplTest#shouldProcessValues`' processor.
struct Length;

impl FixedKeyProcessor<String, String, i32> for Length {
    fn process(
        &mut self,
        record: FixedKeyRecord<String, String>,
        ctx: &mut FixedKeyProcessorContext<'_, '_, String, i32>,
    ) -> Result<()> {
        let length = record.value().len() as i32;
        ctx.forward(record.with_value(length))
    }
}

/// `KStreamImplTest#shouldProcessValues`.
#[test]
fn process_values_keeps_keys_and_timestamps() {
    let builder = StreamsBuilder::new();
    builder
        .stream("input", strings())
        .named("fkp")
        .process_values(|| Length)
        .to("output", Produced::with(Serdes::string(), Serdes::i32()));
    let topology = builder.build().unwrap();
    assert_eq!(
        topology.describe().to_string(),
        "Topologies:\n\
         \x20  Sub-topology: 0\n\
         \x20   Source: KSTREAM-SOURCE-0000000000 (topics: [input])\n\
         \x20     --> fkp\n\
         \x20   Processor: fkp (stores: [])\n\
         \x20     --> KSTREAM-SINK-0000000001\n\
         \x20     <-- KSTREAM-SOURCE-0000000000\n\
         \x20   Sink: KSTREAM-SINK-0000000001 (topic: output)\n\
         \x20     <-- fkp\n\n"
    );
    let driver = TopologyTestDriver::new(topology).unwrap();
    let input = driver.create_input_topic("input", StringSerde, StringSerde);
    let output = driver.create_output_topic("output", StringSerde, Serdes::i32());
    for (k, v, ts) in [
        ("A", "0", 5),
        ("B", "00", 100),
        ("C", "000", 0),
        ("D", "0000", 0),
        ("A", "00000", 10),
        ("A", "000000", 8),
    ] {
        input.pipe_input_with_timestamp(k, v, ts);
    }
    let read: Vec<(String, i32, i64)> = output
        .read_records_to_list()
        .into_iter()
        .map(|r| (r.key, r.value, r.timestamp))
        .collect();
    let expected = [
        ("A", 1, 5),
        ("B", 2, 100),
        ("C", 3, 0),
        ("D", 4, 0),
        ("A", 5, 10),
        ("A", 6, 8),
    ];
    let expected: Vec<(String, i32, i64)> = expected
        .iter()
        .map(|(k, v, t)| (k.to_string(), *v, *t))
        .collect();
    assert_eq!(read, expected);
}

/// Unlike `process`, `process_values` cannot change keys, so a `group_by_key` after it does not
/// repartition (Kafka keeps `repartitionRequired` as it was).
#[test]
fn process_values_needs_no_repartition_downstream() {
    let builder = StreamsBuilder::new();
    builder
        .stream("in", strings())
        .process_values(|| Length)
        .group_by_key(Grouped::with(Serdes::string(), Serdes::i32()))
        .count(Materialized::as_("counts"));
    let topology = builder.build().unwrap();
    assert!(topology.repartition_topics().is_empty());
    assert!(topology
        .describe()
        .to_string()
        .contains("Processor: KSTREAM-PROCESSVALUES-0000000001 (stores: [])"));
}

/// `KStreamImplTest#shouldNotMaterializedKTableFromKStream`.
#[test]
fn to_table_without_a_store_name_is_not_materialized() {
    let builder = StreamsBuilder::new();
    builder
        .stream("input", strings())
        .to_table()
        .to_stream()
        .map_values(|v: &Option<String>| v.clone().unwrap_or_default())
        .to("out", to_strings());
    let topology = builder.build().unwrap();
    let described = topology.describe().to_string();
    assert!(
        described.starts_with(
            "Topologies:\n\
         \x20  Sub-topology: 0\n\
         \x20   Source: KSTREAM-SOURCE-0000000000 (topics: [input])\n\
         \x20     --> KSTREAM-TOTABLE-0000000001\n\
         \x20   Processor: KSTREAM-TOTABLE-0000000001 (stores: [])\n\
         \x20     --> KTABLE-TOSTREAM-0000000003\n\
         \x20     <-- KSTREAM-SOURCE-0000000000\n\
         \x20   Processor: KTABLE-TOSTREAM-0000000003 (stores: [])\n"
        ),
        "{described}"
    );
    let driver = TopologyTestDriver::new(topology).unwrap();
    let input = driver.create_input_topic("input", StringSerde, StringSerde);
    for (k, v, ts) in [
        ("A", "01", 5),
        ("B", "02", 100),
        ("C", "03", 0),
        ("D", "04", 0),
        ("A", "05", 10),
        ("A", "06", 8),
    ] {
        input.pipe_input_with_timestamp(k, v, ts);
    }
    assert_eq!(
        outputs(&driver),
        owned(&[
            ("A", "01", 5),
            ("B", "02", 100),
            ("C", "03", 0),
            ("D", "04", 0),
            ("A", "05", 10),
            ("A", "06", 8),
        ])
    );
}

/// `KStreamImplTest#shouldMaterializeKTableFromKStream`.
#[test]
fn to_table_materializes_into_the_named_store() {
    let builder = StreamsBuilder::new();
    builder.stream("input", strings()).to_table_with(
        Materialized::as_("store")
            .with_in_memory()
            .with_key_serde(StringSerde)
            .with_value_serde(StringSerde),
    );
    let topology = builder.build().unwrap();
    assert_eq!(
        topology.describe().to_string(),
        "Topologies:\n\
         \x20  Sub-topology: 0\n\
         \x20   Source: KSTREAM-SOURCE-0000000000 (topics: [input])\n\
         \x20     --> KSTREAM-TOTABLE-0000000001\n\
         \x20   Processor: KSTREAM-TOTABLE-0000000001 (stores: [store])\n\
         \x20     --> none\n\
         \x20     <-- KSTREAM-SOURCE-0000000000\n\n"
    );
    let driver = TopologyTestDriver::new(topology).unwrap();
    let input = driver.create_input_topic("input", StringSerde, StringSerde);
    input.pipe_input("A", "01");
    input.pipe_input("B", "02");
    input.pipe_input("A", "03");
    let store = driver
        .get_timestamped_key_value_store("store", StringSerde, StringSerde)
        .unwrap();
    let value = |key: &str| store.get(&key.to_string()).unwrap().map(|(v, _)| v);
    assert_eq!(value("A").as_deref(), Some("03"));
    assert_eq!(value("B").as_deref(), Some("02"));
}

/// `KStreamImplTest#shouldSupportKeyChangeKTableFromKStream`: a key change before `to_table`
/// repartitions through `KSTREAM-TOTABLE-0000000002-repartition`.
#[test]
fn to_table_after_a_key_change_repartitions() {
    let builder = StreamsBuilder::new();
    builder
        .stream("input", strings())
        .map(|k: &String, v: &String| (i32::from(k.as_bytes()[0]) - i32::from(b'A'), v.clone()))
        .to_table_with(Materialized::with(Serdes::i32(), StringSerde))
        .to_stream()
        .to(
            "output",
            Produced::with(Serdes::i32(), Serdes::option(StringSerde)),
        );
    let topology = builder.build().unwrap();
    assert_eq!(
        topology.describe().to_string(),
        "Topologies:\n\
         \x20  Sub-topology: 0\n\
         \x20   Source: KSTREAM-SOURCE-0000000000 (topics: [input])\n\
         \x20     --> KSTREAM-MAP-0000000001\n\
         \x20   Processor: KSTREAM-MAP-0000000001 (stores: [])\n\
         \x20     --> KSTREAM-FILTER-0000000005\n\
         \x20     <-- KSTREAM-SOURCE-0000000000\n\
         \x20   Processor: KSTREAM-FILTER-0000000005 (stores: [])\n\
         \x20     --> KSTREAM-SINK-0000000004\n\
         \x20     <-- KSTREAM-MAP-0000000001\n\
         \x20   Sink: KSTREAM-SINK-0000000004 (topic: KSTREAM-TOTABLE-0000000002-repartition)\n\
         \x20     <-- KSTREAM-FILTER-0000000005\n\
         \n\
         \x20 Sub-topology: 1\n\
         \x20   Source: KSTREAM-SOURCE-0000000006 (topics: [KSTREAM-TOTABLE-0000000002-repartition])\n\
         \x20     --> KSTREAM-TOTABLE-0000000002\n\
         \x20   Processor: KSTREAM-TOTABLE-0000000002 (stores: [])\n\
         \x20     --> KTABLE-TOSTREAM-0000000007\n\
         \x20     <-- KSTREAM-SOURCE-0000000006\n\
         \x20   Processor: KTABLE-TOSTREAM-0000000007 (stores: [])\n\
         \x20     --> KSTREAM-SINK-0000000008\n\
         \x20     <-- KSTREAM-TOTABLE-0000000002\n\
         \x20   Sink: KSTREAM-SINK-0000000008 (topic: output)\n\
         \x20     <-- KTABLE-TOSTREAM-0000000007\n\n"
    );
    let driver = TopologyTestDriver::new(topology).unwrap();
    let input = driver.create_input_topic("input", StringSerde, StringSerde);
    for (k, v, ts) in [
        ("A", "01", 5),
        ("B", "02", 100),
        ("C", "03", 0),
        ("D", "04", 0),
        ("A", "05", 10),
        ("A", "06", 8),
    ] {
        input.pipe_input_with_timestamp(k, v, ts);
    }
    let output = driver.create_output_topic("output", Serdes::i32(), Serdes::option(StringSerde));
    let read: Vec<(i32, String, i64)> = output
        .read_records_to_list()
        .into_iter()
        .map(|r| (r.key, r.value.unwrap_or_default(), r.timestamp))
        .collect();
    let expected = [
        (0, "01", 5),
        (1, "02", 100),
        (2, "03", 0),
        (3, "04", 0),
        (0, "05", 10),
        (0, "06", 8),
    ];
    let expected: Vec<(i32, String, i64)> = expected
        .iter()
        .map(|(k, v, t)| (*k, v.to_string(), *t))
        .collect();
    assert_eq!(read, expected);
}

/// `KStreamPrintTest#testPrintStreamWithProvidedKeyValueMapper`.
#[test]
fn print_writes_label_and_mapped_record_per_line() {
    let captured = Captured::default();
    let builder = StreamsBuilder::new();
    builder
        .stream("in", Consumed::with(Serdes::i32(), StringSerde))
        .print(
            Printed::to_writer(captured.clone())
                .with_label("test-stream")
                .with_key_value_mapper(|k: &i32, v: &String| format!("{k}, {v}")),
        );
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("in", Serdes::i32(), StringSerde);
    for (k, v) in [(0, "zero"), (1, "one"), (2, "two"), (3, "three")] {
        input.pipe_input(k, v);
    }
    driver.close().unwrap();
    assert_eq!(
        captured.text().lines().collect::<Vec<_>>(),
        [
            "[test-stream]: 0, zero",
            "[test-stream]: 1, one",
            "[test-stream]: 2, two",
            "[test-stream]: 3, three"
        ]
    );
}

/// `PrintedTest`: the default label is the printed stream's node name, the default mapper
/// `key, value`; a custom mapper replaces it. The named source draws counter value 0, as
/// Kafka's `orElseGenerateWithPrefix` does, so the unnamed printer is number 1.
#[test]
fn print_defaults_to_the_parent_node_name_and_key_comma_value() {
    let (plain, mapped) = (Captured::default(), Captured::default());
    let builder = StreamsBuilder::new();
    let stream = builder.stream(
        "in",
        Consumed::with(StringSerde, Serdes::i32()).with_name("processor"),
    );
    stream.print(Printed::to_writer(plain.clone()));
    stream.print(
        Printed::to_writer(mapped.clone())
            .with_key_value_mapper(|k: &String, v: &i32| format!("{k} -> {v}"))
            .with_name("mapped-printer"),
    );
    let topology = builder.build().unwrap();
    let described = topology.describe().to_string();
    assert!(
        described.contains("--> KSTREAM-PRINTER-0000000001, mapped-printer"),
        "{described}"
    );
    let driver = TopologyTestDriver::new(topology).unwrap();
    let input = driver.create_input_topic("in", StringSerde, Serdes::i32());
    input.pipe_input("hi", 1);
    driver.close().unwrap();
    assert_eq!(plain.text(), "[processor]: hi, 1\n");
    assert_eq!(mapped.text(), "[processor]: hi -> 1\n");
}

/// Options print as Java prints nulls.
#[test]
fn print_shows_none_as_null() {
    let captured = Captured::default();
    let builder = StreamsBuilder::new();
    builder
        .stream(
            "in",
            Consumed::with(Serdes::option(StringSerde), StringSerde),
        )
        .print(Printed::to_writer(captured.clone()).with_label("l"));
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("in", Serdes::option(StringSerde), StringSerde);
    input.pipe_input(None::<String>, "v");
    driver.close().unwrap();
    assert_eq!(captured.text(), "[l]: null, v\n");
}

/// `PrintedTest#shouldThrowTopologyExceptionIfFilePathIsEmpty` / `…DoesntExist`.
#[test]
fn print_to_a_file_that_cannot_be_created_is_a_topology_error() {
    assert!(matches!(
        Printed::<String, String>::to_file(""),
        Err(crate::Error::InvalidTopology(_))
    ));
    assert!(matches!(
        Printed::<String, String>::to_file("/this/should/not/exist"),
        Err(crate::Error::InvalidTopology(_))
    ));
}

/// `PrintedTest#shouldCreateProcessorThatPrintsToFile`.
#[test]
fn print_to_file_writes_the_lines_there() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("printed.txt");
    let builder = StreamsBuilder::new();
    builder
        .stream(
            "in",
            Consumed::with(StringSerde, Serdes::i32()).with_name("processor"),
        )
        .print(Printed::to_file(&path).unwrap());
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    driver
        .create_input_topic("in", StringSerde, Serdes::i32())
        .pipe_input("hi", 1);
    driver.close().unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "[processor]: hi, 1\n"
    );
}

/// `KStreamImplTest#shouldSendDataToDynamicTopics`: the extractor sees the input topic in the
/// record context.
#[test]
fn to_with_extractor_routes_each_record_to_its_topic() {
    let builder = StreamsBuilder::new();
    builder.stream("topic", strings()).to_with_extractor(
        |k: &String, v: &String, context: &crate::processor::RecordContext<'_>| {
            format!("{}-{k}-{}", context.topic().unwrap_or("null"), &v[..1])
        },
        to_strings(),
    );
    let topology = builder.build().unwrap();
    let described = topology.describe().to_string();
    assert!(
        described.contains("    Sink: KSTREAM-SINK-0000000001 (extractor class: "),
        "{described}"
    );
    let driver = TopologyTestDriver::new(topology).unwrap();
    let input = driver.create_input_topic("topic", StringSerde, StringSerde);
    input.pipe_input_with_timestamp("a", "v1", 0);
    input.pipe_input_with_timestamp("a", "v2", 0);
    input.pipe_input_with_timestamp("b", "v1", 0);
    let read = |topic: &str| {
        driver
            .create_output_topic(topic, StringSerde, StringSerde)
            .read_records_to_list()
            .into_iter()
            .map(|r| (r.key, r.value, r.timestamp))
            .collect::<Vec<_>>()
    };
    assert_eq!(read("topic-a-v"), owned(&[("a", "v1", 0), ("a", "v2", 0)]));
    assert_eq!(read("topic-b-v"), owned(&[("b", "v1", 0)]));
}

/// Records written to an extracted topic that the topology reads are processed there too, as
/// in Kafka's test, where `topic-a-v` and `topic-b-v` feed processors.
#[test]
fn extracted_topics_feed_their_readers() {
    let builder = StreamsBuilder::new();
    builder.stream("topic", strings()).to_with_extractor(
        |k: &String, _v: &String, _c: &crate::processor::RecordContext<'_>| format!("topic-{k}-v"),
        to_strings(),
    );
    builder
        .stream_topics(&["topic-a-v", "topic-b-v"], strings())
        .map_values(|v: &String| format!("seen {v}"))
        .to("out", to_strings());
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("topic", StringSerde, StringSerde);
    input.pipe_input_with_timestamp("a", "v1", 0);
    input.pipe_input_with_timestamp("b", "v1", 0);
    assert_eq!(
        outputs(&driver),
        owned(&[("a", "seen v1", 0), ("b", "seen v1", 0)])
    );
}

/// A stream partitioner's choice reaches the produced record; the driver's topics have one
/// partition, as Kafka's; an empty choice drops the record, several multicast it.
#[test]
fn stream_partitioner_chooses_drops_and_multicasts() {
    let builder = StreamsBuilder::new();
    let asked = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&asked);
    builder.stream("in", strings()).to(
        "out",
        to_strings().with_stream_partitioner(
            move |topic: &str, k: &String, _v: &String, n: i32| {
                seen.lock().unwrap().push((topic.to_string(), n));
                match k.as_str() {
                    "drop" => Some(vec![]),
                    "default" => None,
                    _ => Some(vec![0, 0]),
                }
            },
        ),
    );
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("in", StringSerde, StringSerde);
    for key in ["a", "drop", "default"] {
        input.pipe_input_with_timestamp(key, "v", 1);
    }
    let output = driver.create_output_topic("out", StringSerde, StringSerde);
    let (partition, record) = output.read_record_with_partition();
    assert_eq!((partition, record.key.as_str()), (Some(0), "a"));
    let (partition, record) = output.read_record_with_partition();
    assert_eq!((partition, record.key.as_str()), (None, "default"));
    assert!(output.is_empty());
    assert_eq!(asked.lock().unwrap()[0], ("out".to_string(), 1));
}

/// A partition out of range is an error naming the sink and the topic.
#[test]
fn stream_partitioner_out_of_range_fails() {
    let builder = StreamsBuilder::new();
    builder.stream("in", strings()).to(
        "out",
        to_strings()
            .with_stream_partitioner(|_: &str, _: &String, _: &String, n: i32| Some(vec![n])),
    );
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("in", StringSerde, StringSerde);
    let error = input.try_pipe_input("k", "v").unwrap_err().to_string();
    assert!(
        error.contains("chose partition 1 of topic `out`"),
        "{error}"
    );
}

/// The records both of Kafka's pattern tests pipe, one into each of their five topics, and
/// expect back in order.
const PATTERN_RECORDS: [(&str, &str, i64); 5] = [
    ("A", "aa", 1),
    ("B", "bb", 5),
    ("C", "cc", 10),
    ("D", "dd", 8),
    ("E", "ee", 3),
];

/// Pipes `PATTERN_RECORDS[i]` into `topics[i]` and checks that "out" got them all, in order.
fn pipe_one_per_topic_and_read_all(driver: &TopologyTestDriver, topics: [&str; 5]) {
    for (topic, (k, v, ts)) in topics.into_iter().zip(PATTERN_RECORDS) {
        driver
            .create_input_topic(topic, StringSerde, StringSerde)
            .pipe_input_with_timestamp(k, v, ts);
    }
    assert_eq!(outputs(driver), owned(&PATTERN_RECORDS));
}

/// `KStreamImplTest#shouldProcessFromSourceThatMatchPattern`.
#[test]
fn pattern_source_reads_every_matching_topic() {
    let builder = StreamsBuilder::new();
    builder
        .stream_pattern(r"topic-\d", strings())
        .to("out", to_strings());
    let topology = builder.build().unwrap();
    assert!(topology
        .describe()
        .to_string()
        .contains("Source: KSTREAM-SOURCE-0000000000 (topics: topic-\\d)\n"));
    let driver = TopologyTestDriver::new(topology).unwrap();
    pipe_one_per_topic_and_read_all(
        &driver,
        ["topic-3", "topic-4", "topic-5", "topic-6", "topic-7"],
    );
    // A pattern matches whole names only.
    let other = driver.create_input_topic("topic-10", StringSerde, StringSerde);
    assert!(other.try_pipe_input("F", "ff").is_err());
}

/// `KStreamImplTest#shouldProcessFromSourcesThatMatchMultiplePattern`.
#[test]
fn several_pattern_sources_and_a_named_one_merge() {
    let builder = StreamsBuilder::new();
    let digits = builder.stream_pattern(r"topic-\d", strings());
    let letters = builder.stream_pattern("topic-[A-Z]", strings());
    let named = builder.stream("topic-without-pattern", strings());
    digits.merge(&letters).merge(&named).to("out", to_strings());
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    pipe_one_per_topic_and_read_all(
        &driver,
        [
            "topic-3",
            "topic-4",
            "topic-A",
            "topic-Z",
            "topic-without-pattern",
        ],
    );
}

/// An invalid pattern is reported by `build`.
#[test]
fn invalid_pattern_is_a_build_error() {
    let builder = StreamsBuilder::new();
    builder
        .stream_pattern("topic-(", strings())
        .to("out", to_strings());
    let error = builder.build().unwrap_err().to_string();
    assert!(error.contains("pattern `topic-(` is invalid"), "{error}");
}

/// The runtime resolves patterns against the topics that exist: a topic read by name stays
/// with its own source.
#[test]
fn resolving_patterns_reads_matching_existing_topics() {
    let builder = StreamsBuilder::new();
    builder
        .stream_pattern(r"topic-\d", strings())
        .to("out", to_strings());
    builder
        .stream("topic-9", strings())
        .to("out2", to_strings());
    let topology = builder.build().unwrap();
    assert_eq!(topology.user_source_topics(), ["topic-9"]);
    let resolved = topology
        .resolve_source_patterns(["topic-2", "topic-1", "topic-9", "topic-x", "out"])
        .unwrap();
    assert_eq!(
        resolved.user_source_topics(),
        ["topic-1", "topic-2", "topic-9"]
    );
    assert_eq!(resolved.source_topics(0, "app"), ["topic-1", "topic-2"]);
    // `describe()` still shows the pattern.
    assert!(resolved
        .describe()
        .to_string()
        .contains("(topics: topic-\\d)"));
}

/// `StreamsBuilderTest`'s multi-topic source: one node reads both topics.
#[test]
fn stream_topics_reads_all_topics_with_one_source() {
    let builder = StreamsBuilder::new();
    builder
        .stream_topics(&["topic-1", "topic-2"], strings())
        .to("out", to_strings());
    let topology = builder.build().unwrap();
    assert!(topology
        .describe()
        .to_string()
        .contains("Source: KSTREAM-SOURCE-0000000000 (topics: [topic-1, topic-2])"));
    let driver = TopologyTestDriver::new(topology).unwrap();
    driver
        .create_input_topic("topic-1", StringSerde, StringSerde)
        .pipe_input_with_timestamp("A", "aa", 1);
    driver
        .create_input_topic("topic-2", StringSerde, StringSerde)
        .pipe_input_with_timestamp("B", "bb", 2);
    assert_eq!(outputs(&driver), owned(&[("A", "aa", 1), ("B", "bb", 2)]));
}

/// A per-source extractor sets record timestamps and stream time (what windows see), is told
/// the partition time, and a negative result skips the record (Kafka's `RecordQueue`).
#[test]
fn timestamp_extractor_sets_event_time_and_skips_negative() {
    let partition_times = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&partition_times);
    let builder = StreamsBuilder::new();
    builder
        .stream(
            "in",
            strings().with_timestamp_extractor(
                move |r: &Record<String, String>, partition_time: i64| {
                    seen.lock().unwrap().push(partition_time);
                    r.value.parse().unwrap_or(-1)
                },
            ),
        )
        .to("out", to_strings());
    builder.stream("plain", strings()).to("out", to_strings());
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("in", StringSerde, StringSerde);
    input.pipe_input_with_timestamp("a", "10", 1000);
    input.pipe_input_with_timestamp("b", "x", 1000);
    input.pipe_input_with_timestamp("c", "5", 1000);
    assert_eq!(outputs(&driver), owned(&[("a", "10", 10), ("c", "5", 5)]));
    assert_eq!(*partition_times.lock().unwrap(), [-1, 10, 10]);
    // A source without an extractor keeps the written timestamps.
    driver
        .create_input_topic("plain", StringSerde, StringSerde)
        .pipe_input_with_timestamp("d", "1", 7);
    assert_eq!(outputs(&driver), owned(&[("d", "1", 7)]));
}

/// The policy is the topology's, per source topic or pattern.
#[test]
fn offset_reset_policy_is_known_per_source_topic() {
    let builder = StreamsBuilder::new();
    builder
        .stream(
            "latest",
            strings().with_offset_reset_policy(AutoOffsetReset::latest()),
        )
        .to("out", to_strings());
    builder
        .stream_pattern(
            "recent-.*",
            strings().with_offset_reset_policy(AutoOffsetReset::by_duration(
                std::time::Duration::from_secs(60),
            )),
        )
        .to("out2", to_strings());
    builder
        .stream("default", strings())
        .to("out3", to_strings());
    builder.table(
        "table-topic",
        strings().with_offset_reset_policy(AutoOffsetReset::earliest()),
        Materialized::as_("table-store"),
    );
    let topology = builder.build().unwrap();
    assert_eq!(
        topology.offset_reset_policy("latest"),
        Some(AutoOffsetReset::Latest)
    );
    assert_eq!(
        topology.offset_reset_policy("recent-1"),
        Some(AutoOffsetReset::ByDuration(std::time::Duration::from_secs(
            60
        )))
    );
    assert_eq!(topology.offset_reset_policy("default"), None);
    assert_eq!(
        topology.offset_reset_policy("table-topic"),
        Some(AutoOffsetReset::Earliest)
    );
    assert_eq!(topology.offset_reset_policy("unknown"), None);
}

/// Named, `to_table` and `print` still draw their generated names, as Kafka's
/// `NamedInternal#orElseGenerateWithPrefix` does: later generated names stay the same.
#[test]
fn named_to_table_and_print_keep_later_generated_names() {
    let builder = StreamsBuilder::new();
    let stream = builder.stream("input", strings());
    stream.named("table").to_table().to_stream().to(
        "out",
        Produced::with(StringSerde, Serdes::option(StringSerde)),
    );
    stream.print(Printed::to_writer(Captured::default()).with_name("printer"));
    stream.to("out2", to_strings());
    let described = builder.build().unwrap().describe().to_string();
    for expected in [
        "Processor: table (stores: [])",
        "Processor: KTABLE-TOSTREAM-0000000003 (stores: [])",
        "Sink: KSTREAM-SINK-0000000004 (topic: out)",
        "Processor: printer (stores: [])",
        "Sink: KSTREAM-SINK-0000000006 (topic: out2)",
    ] {
        assert!(
            described.contains(expected),
            "{expected} not in {described}"
        );
    }
}
