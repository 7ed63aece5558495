//! The stateless DSL, operator by operator, through the test driver.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;

use super::test_support::strings;
use crate::prelude::*;
use crate::processor::PunctuationId;
use crate::serde::{I64Serde, OptionSerde, StringSerde};
use crate::{Cancellable, Error};

fn to_strings() -> Produced<String, String> {
    Produced::with(Serdes::string(), Serdes::string())
}

/// Builds with `describe`, runs the driver, and hands back (input "in", output "out").
fn run<F>(describe: F, inputs: &[(&str, &str, i64)]) -> Vec<Record<String, String>>
where
    F: FnOnce(&StreamsBuilder),
{
    let builder = StreamsBuilder::new();
    describe(&builder);
    let driver = TopologyTestDriver::new(builder.build().expect("valid topology")).expect("driver");
    let input = driver.create_input_topic("in", StringSerde, StringSerde);
    for (k, v, ts) in inputs {
        input.pipe_input_with_timestamp(*k, *v, *ts);
    }
    driver
        .create_output_topic("out", StringSerde, StringSerde)
        .read_records_to_list()
}

fn key_values(records: &[Record<String, String>]) -> Vec<(&str, &str)> {
    records
        .iter()
        .map(|r| (r.key.as_str(), r.value.as_str()))
        .collect()
}

#[test]
fn map_changes_key_and_value_and_keeps_timestamp() {
    let out = run(
        |b| {
            b.stream("in", strings())
                .map(|k, v| (v.clone(), format!("{k}!")))
                .to("out", to_strings())
        },
        &[("a", "1", 10), ("b", "2", 20)],
    );
    assert_eq!(key_values(&out), [("1", "a!"), ("2", "b!")]);
    assert_eq!(
        out.iter().map(|r| r.timestamp).collect::<Vec<_>>(),
        [10, 20]
    );
}

#[test]
fn map_values_and_select_key() {
    let out = run(
        |b| {
            b.stream("in", strings())
                .map_values(|v| v.len().to_string())
                .select_key(|k, v| format!("{k}:{v}"))
                .to("out", to_strings())
        },
        &[("a", "xyz", 1)],
    );
    assert_eq!(key_values(&out), [("a:3", "3")]);
}

#[test]
fn flat_map_emits_in_order_and_may_emit_nothing() {
    let out = run(
        |b| {
            b.stream("in", strings())
                .flat_map(|k, v| {
                    v.split(',')
                        .filter(|s| !s.is_empty())
                        .map(|s| (k.clone(), s.to_string()))
                        .collect::<Vec<_>>()
                })
                .to("out", to_strings())
        },
        &[("a", "x,y,z", 5), ("b", "", 6), ("c", "w", 7)],
    );
    assert_eq!(
        key_values(&out),
        [("a", "x"), ("a", "y"), ("a", "z"), ("c", "w")]
    );
    assert_eq!(
        out.iter().map(|r| r.timestamp).collect::<Vec<_>>(),
        [5, 5, 5, 7]
    );
}

#[test]
fn flat_map_values_keeps_the_key() {
    let out = run(
        |b| {
            b.stream("in", strings())
                .flat_map_values(|v| v.chars().map(String::from).collect::<Vec<_>>())
                .to("out", to_strings())
        },
        &[("k", "ab", 1), ("e", "", 2)],
    );
    assert_eq!(key_values(&out), [("k", "a"), ("k", "b")]);
}

#[test]
fn filter_and_filter_not_are_complements() {
    let inputs = [("a", "1", 1), ("b", "22", 2), ("c", "333", 3)];
    let kept = run(
        |b| {
            b.stream("in", strings())
                .filter(|_, v| v.len() % 2 == 1)
                .to("out", to_strings())
        },
        &inputs,
    );
    let dropped = run(
        |b| {
            b.stream("in", strings())
                .filter_not(|_, v| v.len() % 2 == 1)
                .to("out", to_strings())
        },
        &inputs,
    );
    assert_eq!(key_values(&kept), [("a", "1"), ("c", "333")]);
    assert_eq!(key_values(&dropped), [("b", "22")]);
}

#[test]
fn peek_and_foreach_see_every_record() {
    let peeked = Arc::new(Mutex::new(Vec::new()));
    let each = Arc::new(Mutex::new(Vec::new()));
    let (p, e) = (Arc::clone(&peeked), Arc::clone(&each));
    let out = run(
        move |b| {
            let s = b
                .stream("in", strings())
                .peek(move |k, v| p.lock().unwrap().push(format!("{k}={v}")));
            s.foreach(move |k, _| e.lock().unwrap().push(k.clone()));
            s.to("out", to_strings());
        },
        &[("a", "1", 1), ("b", "2", 2)],
    );
    assert_eq!(key_values(&out), [("a", "1"), ("b", "2")]);
    assert_eq!(*peeked.lock().unwrap(), ["a=1", "b=2"]);
    assert_eq!(*each.lock().unwrap(), ["a", "b"]);
}

#[test]
fn a_stream_can_feed_several_operators() {
    let out = run(
        |b| {
            let s = b.stream("in", strings());
            s.map_values(|v| format!("{v}-1")).to("out", to_strings());
            s.map_values(|v| format!("{v}-2")).to("out", to_strings());
        },
        &[("a", "x", 1)],
    );
    assert_eq!(key_values(&out), [("a", "x-1"), ("a", "x-2")]);
}

#[test]
fn merge_interleaves_in_processing_order() {
    let builder = StreamsBuilder::new();
    let left = builder.stream("left", strings());
    let right = builder
        .stream("right", strings())
        .map_values(|v| v.to_uppercase());
    left.merge(&right).to("out", to_strings());
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let l = driver.create_input_topic("left", StringSerde, StringSerde);
    let r = driver.create_input_topic("right", StringSerde, StringSerde);
    l.pipe_input("1", "a");
    r.pipe_input("2", "b");
    l.pipe_input("3", "c");
    let out = driver
        .create_output_topic("out", StringSerde, StringSerde)
        .read_key_values_to_list();
    assert_eq!(
        out,
        [
            ("1".into(), "a".into()),
            ("2".into(), "B".into()),
            ("3".into(), "c".into())
        ]
    );
}

#[test]
fn split_sends_each_record_to_the_first_matching_branch() {
    let builder = StreamsBuilder::new();
    let branches = builder
        .stream("in", strings())
        .named("split-")
        .split()
        .branch_with(|_, v: &String| v.starts_with('a'), Branched::as_("a"))
        .branch_with(|_, v: &String| v.starts_with("ab"), Branched::as_("ab")) // shadowed by "a"
        .branch(|_, v: &String| v.starts_with('b'))
        .default_branch();
    assert_eq!(
        branches.keys().collect::<Vec<_>>(),
        ["split-0", "split-3", "split-a", "split-ab"]
    );
    branches["split-a"].to("a", to_strings());
    branches["split-ab"].to("ab", to_strings());
    branches["split-3"].to("b", to_strings());
    branches["split-0"].to("other", to_strings());
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("in", StringSerde, StringSerde);
    for v in ["apple", "abba", "banana", "cherry"] {
        input.pipe_input("k", v);
    }
    let read = |t: &str| {
        driver
            .create_output_topic(t, StringSerde, StringSerde)
            .read_values_to_list()
    };
    assert_eq!(read("a"), ["apple", "abba"]);
    assert!(read("ab").is_empty());
    assert_eq!(read("b"), ["banana"]);
    assert_eq!(read("other"), ["cherry"]);
}

#[test]
fn split_without_default_drops_unmatched_and_supports_chains() {
    let builder = StreamsBuilder::new();
    let branches = builder
        .stream("in", strings())
        .split()
        .branch_with(
            |_, v: &String| v.len() < 3,
            Branched::with_function(|s| s.map_values(|v| format!("short:{v}"))),
        )
        .branch_with(
            |_, v: &String| v.len() > 5,
            Branched::with_consumer(|s: KStream<String, String>| s.to("long", to_strings())),
        )
        .no_default_branch();
    // The consumer branch is not returned; the function branch is, under the splitter's
    // generated name (KSTREAM-BRANCH-0000000001) followed by its position (1).
    assert_eq!(
        branches.keys().collect::<Vec<_>>(),
        ["KSTREAM-BRANCH-00000000011"]
    );
    branches["KSTREAM-BRANCH-00000000011"].to("short", to_strings());
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("in", StringSerde, StringSerde);
    for v in ["ab", "abcd", "abcdefg"] {
        input.pipe_input("k", v);
    }
    assert_eq!(
        driver
            .create_output_topic("short", StringSerde, StringSerde)
            .read_values_to_list(),
        ["short:ab"]
    );
    assert_eq!(
        driver
            .create_output_topic("long", StringSerde, StringSerde)
            .read_values_to_list(),
        ["abcdefg"]
    );
}

#[test]
fn null_keys_and_tombstones_flow_through_option_serdes() {
    let builder = StreamsBuilder::new();
    let nullable = || {
        Consumed::with(
            Serdes::option(Serdes::string()),
            Serdes::option(Serdes::string()),
        )
    };
    builder
        .stream("in", nullable())
        .map_values(|v: &Option<String>| v.as_ref().map(|s| s.to_uppercase()))
        .to(
            "out",
            Produced::with(
                Serdes::option(Serdes::string()),
                Serdes::option(Serdes::string()),
            ),
        );
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let opt = || OptionSerde::new(StringSerde);
    let input = driver.create_input_topic("in", opt(), opt());
    input.pipe_input(None::<String>, Some("v".to_string()));
    input.pipe_input(Some("k".to_string()), None::<String>);
    let out = driver
        .create_output_topic("out", opt(), opt())
        .read_key_values_to_list();
    assert_eq!(
        out,
        [(None, Some("V".to_string())), (Some("k".to_string()), None)]
    );
}

#[test]
fn a_null_where_a_value_is_required_names_topic_partition_and_offset() {
    let builder = StreamsBuilder::new();
    builder.stream("in", strings()).to("out", to_strings());
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let good = driver.create_input_topic("in", StringSerde, StringSerde);
    good.pipe_input("a", "1");
    let nulls = driver.create_input_topic("in", StringSerde, OptionSerde::new(StringSerde));
    let err = nulls.try_pipe_input("b", None::<String>).unwrap_err();
    match &err {
        Error::Deserialization {
            topic,
            partition,
            offset,
            part,
            ..
        } => {
            assert_eq!(
                (topic.as_str(), *partition, *offset, *part),
                ("in", 0, 1, "value")
            );
        }
        other => panic!("unexpected error {other}"),
    }
    assert!(err.to_string().contains("in-0@1"), "{err}");
    // The driver keeps working after a failed record.
    good.pipe_input("c", "3");
    assert_eq!(
        driver
            .create_output_topic("out", StringSerde, StringSerde)
            .read_values_to_list(),
        ["1", "3"]
    );
}

#[test]
fn negative_timestamps_are_rejected() {
    let builder = StreamsBuilder::new();
    builder.stream("in", strings()).to("out", to_strings());
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("in", StringSerde, StringSerde);
    let err = input
        .try_pipe_record(Record::new("a".into(), "b".into(), -5))
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidTimestamp { timestamp: -5, .. }),
        "{err}"
    );
}

#[test]
fn piping_into_an_unknown_topic_is_an_error() {
    let builder = StreamsBuilder::new();
    builder.stream("in", strings()).to("out", to_strings());
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let err = driver
        .create_input_topic("nope", StringSerde, StringSerde)
        .try_pipe_input("a", "b")
        .unwrap_err();
    assert!(
        matches!(err, Error::UnknownTopic(ref t) if t == "nope"),
        "{err}"
    );
}

#[test]
fn headers_and_timestamps_are_preserved_end_to_end() {
    let builder = StreamsBuilder::new();
    builder
        .stream("in", strings())
        .filter(|_, _| true)
        .map_values(|v| v.clone())
        .to("out", to_strings());
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("in", StringSerde, StringSerde);
    let headers = Headers::new().with("trace", "abc").with("trace", "def");
    input.pipe_record(
        Record::new("k".to_string(), "v".to_string(), 42).with_headers(headers.clone()),
    );
    let out = driver
        .create_output_topic("out", StringSerde, StringSerde)
        .read_record();
    assert_eq!(out.timestamp, 42);
    assert_eq!(out.headers, headers);
    assert_eq!(
        out.headers.last("trace").and_then(|h| h.value.as_deref()),
        Some(&b"def"[..])
    );
}

#[test]
fn input_topic_time_auto_advances() {
    let builder = StreamsBuilder::new();
    builder.stream("in", strings()).to("out", to_strings());
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("in", StringSerde, StringSerde);
    input.set_time(1_000);
    input.auto_advance(Duration::from_millis(10));
    input.pipe_key_value_list([
        ("a".to_string(), "1".to_string()),
        ("b".to_string(), "2".to_string()),
    ]);
    input.advance_time(Duration::from_secs(1));
    input.pipe_input("c", "3");
    let times: Vec<i64> = driver
        .create_output_topic("out", StringSerde, StringSerde)
        .read_records_to_list()
        .iter()
        .map(|r| r.timestamp)
        .collect();
    assert_eq!(times, [1_000, 1_010, 2_020]);
}

#[test]
fn repartition_routes_through_the_internal_topic() {
    let builder = StreamsBuilder::new();
    builder
        .stream("in", strings())
        .select_key(|_, v| v.clone())
        .repartition(
            Repartitioned::with(Serdes::string(), Serdes::string())
                .with_name("by-value")
                .with_number_of_partitions(3),
        )
        .map_values(|v| format!("<{v}>"))
        .to("out", to_strings());
    let topology = builder.build().unwrap();
    assert_eq!(topology.subtopology_count(), 2);
    assert_eq!(
        topology.repartition_topics()[0].name,
        "by-value-repartition"
    );
    assert_eq!(topology.repartition_topics()[0].partitions, Some(3));
    assert_eq!(
        topology.source_topics(1, "app"),
        ["app-by-value-repartition"]
    );
    let driver = TopologyTestDriver::new(topology).unwrap();
    driver
        .create_input_topic("in", StringSerde, StringSerde)
        .pipe_input_with_timestamp("k", "v", 7);
    let out = driver
        .create_output_topic("out", StringSerde, StringSerde)
        .read_record();
    assert_eq!(
        (out.key.as_str(), out.value.as_str(), out.timestamp),
        ("v", "<v>", 7)
    );
    // Internal topics are not offered as outputs.
    assert_eq!(driver.produced_topic_names(), ["out"]);
}

#[test]
fn a_user_topic_written_and_read_is_fed_back() {
    let builder = StreamsBuilder::new();
    builder
        .stream("in", strings())
        .map_values(|v| format!("{v}1"))
        .to("middle", to_strings());
    builder
        .stream("middle", strings())
        .map_values(|v| format!("{v}2"))
        .to("out", to_strings());
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    driver
        .create_input_topic("in", StringSerde, StringSerde)
        .pipe_input("k", "v");
    assert_eq!(
        driver
            .create_output_topic("middle", StringSerde, StringSerde)
            .read_value(),
        "v1"
    );
    assert_eq!(
        driver
            .create_output_topic("out", StringSerde, StringSerde)
            .read_value(),
        "v12"
    );
}

#[test]
fn typed_serdes_for_numbers_and_json() {
    #[derive(Clone, Debug, PartialEq, ::serde::Serialize, ::serde::Deserialize)]
    struct Order {
        item: String,
        qty: i64,
    }
    let builder = StreamsBuilder::new();
    builder
        .stream(
            "orders",
            Consumed::with(Serdes::string(), Serdes::json::<Order>()),
        )
        .map(|_, o: &Order| (o.item.clone(), o.qty * 2))
        .to("doubled", Produced::with(Serdes::string(), Serdes::i64()));
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let orders = driver.create_input_topic("orders", StringSerde, Json::<Order>::new());
    orders.pipe_input(
        "o1",
        Order {
            item: "tea".into(),
            qty: 21,
        },
    );
    let out = driver.create_output_topic("doubled", StringSerde, I64Serde);
    assert_eq!(out.read_key_value(), ("tea".to_string(), 42));
}

/// A processor that uses the whole context: metadata, named children and both clocks.
struct Auditor {
    stream_tick: Option<Cancellable>,
    wall_tick: Option<PunctuationId>,
    stream_punctuations: u32,
}

impl Processor<String, String, String, String> for Auditor {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, String, String>) -> crate::Result<()> {
        self.stream_tick =
            Some(ctx.schedule(Duration::from_millis(10), PunctuationType::StreamTime)?);
        self.wall_tick = Some(
            ctx.schedule(Duration::from_secs(1), PunctuationType::WallClockTime)?
                .id(),
        );
        assert!(ctx
            .schedule(Duration::ZERO, PunctuationType::StreamTime)
            .is_err());
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<String, String>,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> crate::Result<()> {
        let meta = ctx.record_metadata().expect("metadata while processing");
        let value = format!(
            "{}@{}-{}#{} st={}",
            record.value,
            meta.topic,
            meta.partition,
            meta.offset,
            ctx.current_stream_time_ms()
        );
        if record.key == "fail" {
            return Err(Error::processor("refusing key `fail`"));
        }
        ctx.forward_to("audit-sink-path", record.with_value(value))
    }

    fn punctuate(
        &mut self,
        id: PunctuationId,
        timestamp: i64,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> crate::Result<()> {
        assert!(ctx.record_metadata().is_none());
        let kind = if Some(id) == self.wall_tick {
            "wall"
        } else {
            "stream"
        };
        if kind == "stream" {
            self.stream_punctuations += 1;
            if self.stream_punctuations == 3 {
                if let Some(tick) = &self.stream_tick {
                    tick.cancel();
                }
            }
        }
        ctx.forward_to(
            "ticks-path",
            Record::new(kind.to_string(), timestamp.to_string(), timestamp),
        )
    }
}

fn auditor_driver() -> TopologyTestDriver {
    let builder = StreamsBuilder::new();
    let audited = builder.stream("in", strings()).process(|| Auditor {
        stream_tick: None,
        wall_tick: None,
        stream_punctuations: 0,
    });
    audited
        .named("audit-sink-path")
        .map_values(|v: &String| v.clone())
        .to("out", to_strings());
    audited
        .named("ticks-path")
        .filter(|k, _| k == "wall" || k == "stream")
        .to("ticks", to_strings());
    TopologyTestDriver::new(builder.build().unwrap()).unwrap()
}

#[test]
fn processor_sees_metadata_and_can_forward_to_one_child() {
    let driver = auditor_driver();
    let input = driver.create_input_topic("in", StringSerde, StringSerde);
    input.pipe_input_with_timestamp("a", "x", 5);
    input.pipe_input_with_timestamp("b", "y", 3);
    let out = driver
        .create_output_topic("out", StringSerde, StringSerde)
        .read_values_to_list();
    // Stream time is the maximum timestamp seen, including the current record.
    assert_eq!(out, ["x@in-0#0 st=5", "y@in-0#1 st=5"]);
    let err = input.try_pipe_input("fail", "z").unwrap_err();
    assert!(
        matches!(&err, Error::Processor { node, .. } if node == "KSTREAM-PROCESSOR-0000000001"),
        "{err}"
    );
}

#[test]
fn processing_exception_handler_log_and_continue_drops_and_counts_the_record() {
    let builder = StreamsBuilder::new();
    struct Refuser;
    impl Processor<String, String, String, String> for Refuser {
        fn process(
            &mut self,
            record: Record<String, String>,
            ctx: &mut ProcessorContext<'_, String, String>,
        ) -> crate::Result<()> {
            if record.key == "fail" {
                return Err(Error::processor("refusing key `fail`"));
            }
            ctx.forward(record)
        }
    }
    builder
        .stream("in", strings())
        .process(|| Refuser)
        .to("out", to_strings());
    let mut config = crate::StreamsConfig::new("app").unwrap();
    config
        .set(
            "processing.exception.handler",
            "LogAndContinueProcessingExceptionHandler",
        )
        .unwrap();
    let driver = TopologyTestDriver::with_config(builder.build().unwrap(), config, 0).unwrap();
    let input = driver.create_input_topic("in", StringSerde, StringSerde);
    input.pipe_input("a", "x");
    input.try_pipe_input("fail", "z").unwrap();
    input.pipe_input("b", "y");
    let out = driver
        .create_output_topic("out", StringSerde, StringSerde)
        .read_values_to_list();
    assert_eq!(out, ["x", "y"]);
    assert_eq!(driver.dropped_records(), 1);
}

#[test]
fn stream_time_punctuation_fires_as_stream_time_crosses_intervals() {
    let driver = auditor_driver();
    let input = driver.create_input_topic("in", StringSerde, StringSerde);
    let ticks = driver.create_output_topic("ticks", StringSerde, StringSerde);
    input.pipe_input_with_timestamp("a", "x", 0); // first punctuation as soon as there is data
    assert_eq!(
        ticks.read_key_values_to_list(),
        [("stream".into(), "0".into())]
    );
    input.pipe_input_with_timestamp("a", "x", 9);
    assert!(ticks.is_empty());
    input.pipe_input_with_timestamp("a", "x", 35); // missed intervals are skipped, not replayed
    assert_eq!(ticks.read_values_to_list(), ["35"]);
    input.pipe_input_with_timestamp("a", "x", 36);
    input.pipe_input_with_timestamp("a", "x", 20); // out of order: stream time stays 36
    assert!(ticks.is_empty());
    input.pipe_input_with_timestamp("a", "x", 40);
    assert_eq!(ticks.read_values_to_list(), ["40"]);
    input.pipe_input_with_timestamp("a", "x", 100); // cancelled after the third punctuation
    assert!(ticks.is_empty());
}

#[test]
fn wall_clock_punctuation_fires_when_the_driver_advances_time() {
    let driver = auditor_driver();
    let ticks = driver.create_output_topic("ticks", StringSerde, StringSerde);
    driver.advance_wall_clock_time(Duration::from_millis(999));
    assert!(ticks.is_empty());
    driver.advance_wall_clock_time(Duration::from_millis(1));
    assert_eq!(
        ticks.read_key_values_to_list(),
        [("wall".into(), "1000".into())]
    );
    driver.advance_wall_clock_time(Duration::from_secs(5));
    assert_eq!(ticks.read_values_to_list(), ["6000"]);
    assert_eq!(driver.wall_clock_time_ms(), 6000);
}

struct Closing(Arc<Mutex<Vec<&'static str>>>);

impl Processor<String, String, String, String> for Closing {
    fn init(&mut self, _ctx: &mut ProcessorContext<'_, String, String>) -> crate::Result<()> {
        self.0.lock().unwrap().push("init");
        Ok(())
    }
    fn process(
        &mut self,
        record: Record<String, String>,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> crate::Result<()> {
        self.0.lock().unwrap().push("process");
        ctx.forward(record)
    }
    fn close(&mut self) -> crate::Result<()> {
        self.0.lock().unwrap().push("close");
        Ok(())
    }
}

#[test]
fn processors_are_initialized_once_and_closed_once_even_after_merge() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let builder = StreamsBuilder::new();
    let a = builder.stream("a", strings());
    let b = builder.stream("b", strings());
    let l = Arc::clone(&log);
    a.merge(&b)
        .process(move || Closing(Arc::clone(&l)))
        .to("out", to_strings());
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    driver
        .create_input_topic("a", StringSerde, StringSerde)
        .pipe_input("k", "1");
    driver
        .create_input_topic("b", StringSerde, StringSerde)
        .pipe_input("k", "2");
    driver.close().unwrap();
    assert_eq!(
        *log.lock().unwrap(),
        ["init", "process", "process", "close"]
    );
}

/// Forwards, at each commit, how many records it saw since the previous one.
struct Tally(usize);

impl Processor<String, String, String, String> for Tally {
    fn process(
        &mut self,
        _record: Record<String, String>,
        _ctx: &mut ProcessorContext<'_, String, String>,
    ) -> crate::Result<()> {
        self.0 += 1;
        Ok(())
    }
    fn flush(&mut self, ctx: &mut ProcessorContext<'_, String, String>) -> crate::Result<()> {
        if self.0 > 0 {
            let tally = std::mem::take(&mut self.0);
            ctx.forward(Record::new("tally".into(), tally.to_string(), 0))?;
        }
        Ok(())
    }
}

#[test]
fn commits_flush_user_processors_below_stateless_operators_and_merges() {
    // The commit's flush walk skips subtrees with nothing to flush (stateless operators and
    // sinks): a user processor deep below them, reached through a merge, is still flushed.
    let builder = StreamsBuilder::new();
    let a = builder.stream("a", strings());
    let b = builder.stream("b", strings());
    a.to("copy", to_strings()); // a sibling with nothing to flush
    a.filter(|_, v: &String| v != "skip")
        .map_values(|v: &String| v.to_uppercase())
        .merge(&b)
        .process(|| Tally(0))
        .to("tallies", to_strings());
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let a = driver.create_input_topic("a", StringSerde, StringSerde);
    let b = driver.create_input_topic("b", StringSerde, StringSerde);
    let tallies = driver.create_output_topic("tallies", StringSerde, StringSerde);
    a.pipe_input("k", "1");
    b.pipe_input("k", "2");
    a.pipe_input("k", "skip");
    a.pipe_input("k", "3");
    // The driver commits after every record: one tally per record that reached the processor.
    assert_eq!(tallies.read_values_to_list(), ["1", "1", "1"]);
    assert_eq!(
        driver
            .create_output_topic("copy", StringSerde, StringSerde)
            .read_values_to_list(),
        ["1", "skip", "3"]
    );
}

/// One step of a random stateless pipeline over `i64` values.
#[derive(Debug, Clone)]
enum Step {
    Add(i64),
    KeepMultiplesOf(i64),
    DropMultiplesOf(i64),
    Repeat(u8),
    Rekey,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (-50i64..50).prop_map(Step::Add),
        (1i64..5).prop_map(Step::KeepMultiplesOf),
        (2i64..5).prop_map(Step::DropMultiplesOf),
        (0u8..3).prop_map(Step::Repeat),
        Just(Step::Rekey),
    ]
}

fn apply_in_plain_rust(steps: &[Step], input: Vec<(String, i64)>) -> Vec<(String, i64)> {
    steps.iter().fold(input, |records, step| match step {
        Step::Add(n) => records
            .into_iter()
            .map(|(k, v)| (k, v.wrapping_add(*n)))
            .collect(),
        Step::KeepMultiplesOf(m) => records.into_iter().filter(|(_, v)| v % m == 0).collect(),
        Step::DropMultiplesOf(m) => records.into_iter().filter(|(_, v)| v % m != 0).collect(),
        Step::Repeat(n) => records
            .into_iter()
            .flat_map(|(k, v)| std::iter::repeat_n((k, v), *n as usize))
            .collect(),
        Step::Rekey => records
            .into_iter()
            .map(|(k, v)| (format!("{k}/{v}"), v))
            .collect(),
    })
}

fn apply_in_topology(steps: &[Step], input: &[(String, i64)]) -> Vec<(String, i64)> {
    let builder = StreamsBuilder::new();
    let mut stream = builder.stream("in", Consumed::with(Serdes::string(), Serdes::i64()));
    for step in steps.iter().cloned() {
        stream = match step {
            Step::Add(n) => stream.map_values(move |v| v.wrapping_add(n)),
            Step::KeepMultiplesOf(m) => stream.filter(move |_, v| v % m == 0),
            Step::DropMultiplesOf(m) => stream.filter_not(move |_, v| v % m == 0),
            Step::Repeat(n) => {
                stream.flat_map(move |k, v| std::iter::repeat_n((k.clone(), *v), n as usize))
            }
            Step::Rekey => stream.map(|k, v| (format!("{k}/{v}"), *v)),
        };
    }
    stream.to("out", Produced::with(Serdes::string(), Serdes::i64()));
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let topic = driver.create_input_topic("in", StringSerde, I64Serde);
    for (k, v) in input {
        topic.pipe_input(k.clone(), *v);
    }
    driver
        .create_output_topic("out", StringSerde, I64Serde)
        .read_key_values_to_list()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn a_random_stateless_chain_equals_the_same_chain_on_a_vec(
        steps in proptest::collection::vec(step(), 0..8),
        input in proptest::collection::vec(("[a-c]{1,2}", -100i64..100), 0..40),
    ) {
        let expected = apply_in_plain_rust(&steps, input.clone());
        prop_assert_eq!(apply_in_topology(&steps, &input), expected);
    }
}

/// A processor whose punctuators fail ("KABOOM!", as in Kafka's `StreamTaskTest`) and whose
/// records pass through: a stream-time punctuation every 10 ms and a wall-clock one every second.
struct Kaboom;

impl Processor<String, String, String, String> for Kaboom {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, String, String>) -> crate::Result<()> {
        ctx.schedule(Duration::from_millis(10), PunctuationType::StreamTime)?;
        ctx.schedule(Duration::from_secs(1), PunctuationType::WallClockTime)?;
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<String, String>,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> crate::Result<()> {
        ctx.forward(record)
    }

    fn punctuate(
        &mut self,
        _id: PunctuationId,
        _timestamp: i64,
        _ctx: &mut ProcessorContext<'_, String, String>,
    ) -> crate::Result<()> {
        Err(Error::processor("KABOOM!"))
    }
}

fn kaboom_driver(handler: &str) -> TopologyTestDriver {
    let builder = StreamsBuilder::new();
    builder
        .stream("in", strings())
        .process(|| Kaboom)
        .to("out", to_strings());
    let mut config = crate::StreamsConfig::new("app").unwrap();
    config.set("processing.exception.handler", handler).unwrap();
    TopologyTestDriver::with_config(builder.build().unwrap(), config, 0).unwrap()
}

/// Kafka's `StreamTaskTest#punctuateShouldNotThrowStreamsExceptionWhenProcessingExceptionHandlerRepliesWithContinue`
/// (KIP-1033): a failing punctuator, stream-time or wall-clock, is skipped and counted as a
/// dropped record; processing goes on.
#[test]
fn processing_exception_handler_continue_skips_failed_punctuations() {
    let driver =
        kaboom_driver("org.apache.kafka.streams.errors.LogAndContinueProcessingExceptionHandler");
    let input = driver.create_input_topic("in", StringSerde, StringSerde);
    input.pipe_input_with_timestamp("a", "x", 0); // the first stream-time punctuation fails
    input.pipe_input_with_timestamp("b", "y", 10); // and the second
    assert_eq!(driver.dropped_records(), 2);
    driver
        .try_advance_wall_clock_time(Duration::from_secs(1))
        .expect("a skipped wall-clock punctuation is no error");
    assert_eq!(driver.dropped_records(), 3);
    input.pipe_input_with_timestamp("c", "z", 11);
    let out = driver
        .create_output_topic("out", StringSerde, StringSerde)
        .read_values_to_list();
    assert_eq!(out, ["x", "y", "z"]);
}

/// Kafka's `StreamTaskTest#punctuateShouldThrowStreamsExceptionWhenProcessingExceptionHandlerRepliesWithFail`:
/// with the default handler the punctuator's error fails processing, its cause kept.
#[test]
fn processing_exception_handler_fail_fails_on_a_failed_punctuation() {
    let driver = kaboom_driver("LogAndFailProcessingExceptionHandler");
    let input = driver.create_input_topic("in", StringSerde, StringSerde);
    let err = input.try_pipe_input("a", "x").unwrap_err();
    assert!(
        matches!(&err, Error::Processor { node, source } if node == "KSTREAM-PROCESSOR-0000000001" && source.to_string() == "KABOOM!"),
        "{err}"
    );
    assert_eq!(driver.dropped_records(), 0);

    let driver = kaboom_driver("LogAndFailProcessingExceptionHandler");
    let err = driver
        .try_advance_wall_clock_time(Duration::from_secs(1))
        .unwrap_err();
    assert!(matches!(&err, Error::Processor { .. }), "{err}");
}
