//! Windowed aggregations, session windows and suppression through the test driver.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::test_support::{grouped, ms, outputs, owned, strings};
use crate::dsl::windows::{TimeWindowedSerde, Window};
use crate::prelude::*;
use crate::serde::{I64Serde, OptionSerde, StringSerde};

/// Sends a windowed table's updates to `out` as `"[key@start/end]" -> count` strings.
fn to_out(table: KTable<Windowed<String>, i64>) {
    table
        .to_stream()
        .map(|k, v| (k.to_string(), v.map(|c| c.to_string()).unwrap_or_default()))
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
}

fn tumbling_count(materialized: Materialized<String, i64>, grace: u64) -> TopologyTestDriver {
    let builder = StreamsBuilder::new();
    let windows = TimeWindows::of_size_and_grace(ms(100), ms(grace)).unwrap();
    to_out(
        builder
            .stream("in", strings())
            .group_by_key(grouped())
            .windowed_by(windows)
            .count(materialized),
    );
    TopologyTestDriver::new(builder.build().unwrap()).unwrap()
}

#[test]
fn tumbling_count_updates_windows_and_drops_records_after_grace() {
    for in_memory in [false, true] {
        let materialized = if in_memory {
            Materialized::as_("counts").with_in_memory()
        } else {
            Materialized::as_("counts")
        };
        let driver = tumbling_count(materialized, 50);
        let input = driver.create_input_topic("in", StringSerde, StringSerde);
        input.pipe_input_with_timestamp("a", "x", 10);
        input.pipe_input_with_timestamp("a", "x", 60);
        input.pipe_input_with_timestamp("b", "x", 120);
        // Out of order but within grace (stream time 120, window [0,100) closes at 150).
        input.pipe_input_with_timestamp("a", "x", 90);
        input.pipe_input_with_timestamp("a", "x", 150);
        // Stream time 150: window [0,100) is closed; this record is dropped.
        input.pipe_input_with_timestamp("a", "x", 20);
        assert_eq!(
            outputs(&driver),
            owned(&[
                ("[a@0/100]", "1", 10),
                ("[a@0/100]", "2", 60),
                ("[b@100/200]", "1", 120),
                ("[a@0/100]", "3", 90),
                ("[a@100/200]", "1", 150),
            ]),
            "in_memory = {in_memory}"
        );
        // The store holds the aggregates (and their timestamps) per key and window.
        let store = driver
            .get_timestamped_window_store("counts", StringSerde, I64Serde, 100)
            .unwrap();
        assert_eq!(store.fetch(&"a".to_string(), 0).unwrap(), Some((3, 90)));
        let plain = driver
            .get_window_store("counts", StringSerde, I64Serde, 100)
            .unwrap();
        let all: Vec<(String, i64, i64)> = plain
            .all()
            .unwrap()
            .into_iter()
            .map(|(w, c)| (w.key, w.window.start_ms, c))
            .collect();
        assert_eq!(
            all,
            [
                ("a".to_string(), 0, 3),
                ("a".to_string(), 100, 1),
                ("b".to_string(), 100, 1)
            ]
        );
        // A plain view cannot write behind the aggregation's back.
        assert!(plain.put(&"a".to_string(), Some(&7), 0).is_err());
    }
}

#[test]
fn hopping_windows_overlap() {
    let builder = StreamsBuilder::new();
    let windows = TimeWindows::of_size_with_no_grace(ms(10))
        .unwrap()
        .advance_by(ms(5))
        .unwrap();
    to_out(
        builder
            .stream("in", strings())
            .group_by_key(grouped())
            .windowed_by(windows)
            .count(Materialized::new()),
    );
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("in", StringSerde, StringSerde);
    input.pipe_input_with_timestamp("k", "v", 7);
    input.pipe_input_with_timestamp("k", "v", 12);
    assert_eq!(
        outputs(&driver),
        owned(&[
            ("[k@0/10]", "1", 7),
            ("[k@5/15]", "1", 7),
            ("[k@5/15]", "2", 12),
            ("[k@10/20]", "1", 12),
        ])
    );
}

#[test]
fn windowed_reduce_and_aggregate_with_the_windowed_key_serde() {
    let builder = StreamsBuilder::new();
    let windows = TimeWindows::of_size_with_no_grace(ms(100)).unwrap();
    let stream = builder.stream("in", strings()).group_by_key(grouped());
    stream
        .windowed_by(windows)
        .reduce(|a, b| format!("{a}+{b}"), Materialized::new())
        .to_stream()
        .to(
            "reduced",
            Produced::with(
                TimeWindowedSerde::new(StringSerde, 100),
                Serdes::option(Serdes::string()),
            ),
        );
    stream
        .windowed_by(windows)
        .aggregate(
            || 0i64,
            |_, v: &String, total| total + v.len() as i64,
            Materialized::with(Serdes::string(), Serdes::i64()),
        )
        .to_stream()
        .map(|k, v| (k.to_string(), v.unwrap_or(-1)))
        .to("lengths", Produced::with(Serdes::string(), Serdes::i64()));
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("in", StringSerde, StringSerde);
    input.pipe_input_with_timestamp("k", "ab", 1);
    input.pipe_input_with_timestamp("k", "cde", 2);
    input.pipe_input_with_timestamp("k", "f", 101);
    let reduced = driver
        .create_output_topic(
            "reduced",
            TimeWindowedSerde::new(StringSerde, 100),
            OptionSerde::new(StringSerde),
        )
        .read_key_values_to_list();
    let window = |start| Window::new(start, start + 100);
    assert_eq!(
        reduced,
        [
            (Windowed::new("k".to_string(), window(0)), Some("ab".into())),
            (
                Windowed::new("k".to_string(), window(0)),
                Some("ab+cde".into())
            ),
            (
                Windowed::new("k".to_string(), window(100)),
                Some("f".into())
            ),
        ]
    );
    let lengths = driver
        .create_output_topic("lengths", StringSerde, I64Serde)
        .read_key_values_to_list();
    assert_eq!(
        lengths,
        [
            ("[k@0/100]".to_string(), 2),
            ("[k@0/100]".to_string(), 5),
            ("[k@100/200]".to_string(), 1)
        ]
    );
}

#[test]
fn emit_on_window_close_emits_one_final_result_per_window() {
    let builder = StreamsBuilder::new();
    let windows = TimeWindows::of_size_and_grace(ms(100), ms(20)).unwrap();
    to_out(
        builder
            .stream("in", strings())
            .group_by_key(grouped())
            .windowed_by(windows)
            .emit_strategy(EmitStrategy::on_window_close())
            .count(Materialized::new()),
    );
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("in", StringSerde, StringSerde);
    for (key, ts) in [("a", 10), ("b", 50), ("a", 99), ("a", 110)] {
        input.pipe_input_with_timestamp(key, "v", ts);
    }
    assert!(outputs(&driver).is_empty(), "nothing closed yet");
    // Within grace of [0,100): still counted.
    input.pipe_input_with_timestamp("b", "v", 90);
    // Stream time 120 = end 100 + grace 20: [0,100) closes.
    input.pipe_input_with_timestamp("c", "v", 120);
    assert_eq!(
        outputs(&driver),
        owned(&[("[a@0/100]", "2", 99), ("[b@0/100]", "2", 90)])
    );
    input.pipe_input_with_timestamp("c", "v", 500);
    assert_eq!(
        outputs(&driver),
        owned(&[("[a@100/200]", "1", 110), ("[c@100/200]", "1", 120)])
    );
}

#[test]
fn suppress_until_window_closes_emits_final_results_only() {
    let builder = StreamsBuilder::new();
    let windows = TimeWindows::of_size_and_grace(ms(100), ms(10)).unwrap();
    to_out(
        builder
            .stream("in", strings())
            .group_by_key(grouped())
            .windowed_by(windows)
            .count(Materialized::as_("counts"))
            .suppress(Suppressed::until_window_closes(BufferConfig::unbounded())),
    );
    let topology = builder.build().unwrap();
    let description = topology.describe().to_string();
    assert!(
        description.contains(
            "Processor: KTABLE-SUPPRESS-0000000002 (stores: [KTABLE-SUPPRESS-STATE-STORE-0000000003])"
        ),
        "{description}"
    );
    assert_eq!(
        topology.changelog_topics(0, "app"),
        [
            "app-KTABLE-SUPPRESS-STATE-STORE-0000000003-changelog",
            "app-counts-changelog"
        ]
    );
    let driver = TopologyTestDriver::new(topology).unwrap();
    let input = driver.create_input_topic("in", StringSerde, StringSerde);
    for ts in [1, 5, 50, 105] {
        input.pipe_input_with_timestamp("a", "v", ts);
    }
    assert!(outputs(&driver).is_empty());
    input.pipe_input_with_timestamp("a", "v", 110);
    assert_eq!(outputs(&driver), owned(&[("[a@0/100]", "3", 50)]));
    input.pipe_input_with_timestamp("z", "v", 1000);
    assert_eq!(outputs(&driver), owned(&[("[a@100/200]", "2", 110)]));
}

#[test]
fn suppress_until_time_limit_rate_limits_a_table() {
    let builder = StreamsBuilder::new();
    builder
        .stream("in", strings())
        .group_by_key(grouped())
        .count(Materialized::as_("counts"))
        .suppress(
            Suppressed::until_time_limit(ms(100), BufferConfig::unbounded()).with_name("limit"),
        )
        .to_stream()
        .to(
            "out",
            Produced::with(Serdes::string(), Serdes::option(Serdes::i64())),
        );
    let topology = builder.build().unwrap();
    assert!(topology.store_names().contains(&"limit-store".to_string()));
    let driver = TopologyTestDriver::new(topology).unwrap();
    let input = driver.create_input_topic("in", StringSerde, StringSerde);
    for (key, ts) in [("a", 0), ("a", 30), ("b", 40), ("a", 99)] {
        input.pipe_input_with_timestamp(key, "v", ts);
    }
    let out = driver.create_output_topic("out", StringSerde, OptionSerde::new(I64Serde));
    assert!(out.is_empty());
    // a was first buffered at 0: due at 100. b at 40: due at 140.
    input.pipe_input_with_timestamp("c", "v", 100);
    assert_eq!(out.read_key_values_to_list(), [("a".to_string(), Some(3))]);
    input.pipe_input_with_timestamp("c", "v", 200);
    assert_eq!(
        out.read_key_values_to_list(),
        [("b".to_string(), Some(1)), ("c".to_string(), Some(2))]
    );
}

#[test]
fn bounded_suppression_buffers_emit_early_or_fail() {
    let run = |buffer: BufferConfig| {
        let builder = StreamsBuilder::new();
        builder
            .stream("in", strings())
            .group_by_key(grouped())
            .count(Materialized::new())
            .suppress(Suppressed::until_time_limit(ms(1000), buffer))
            .to_stream()
            .to(
                "out",
                Produced::with(Serdes::string(), Serdes::option(Serdes::i64())),
            );
        let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
        let input = driver.create_input_topic("in", StringSerde, StringSerde);
        let results: Vec<_> = ["a", "b", "c"]
            .iter()
            .zip(0..)
            .map(|(k, ts)| input.try_pipe_record(Record::new(k.to_string(), "v".to_string(), ts)))
            .collect();
        let out = driver
            .create_output_topic("out", StringSerde, OptionSerde::new(I64Serde))
            .read_key_values_to_list();
        (results, out)
    };
    let (results, out) = run(BufferConfig::max_records(2));
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(out, [("a".to_string(), Some(1))], "oldest emitted early");
    let (results, out) = run(BufferConfig::max_records(2).shut_down_when_full());
    assert!(results[..2].iter().all(Result::is_ok));
    let err = results[2].as_ref().unwrap_err().to_string();
    assert!(err.contains("suppression buffer is full"), "{err}");
    assert!(out.is_empty());
}

/// Kafka's `SuppressScenarioTest#shouldSuppressIntermediateEventsWithRecordLimit`: a one-record
/// buffer with a time limit that never passes evicts its oldest key (by the time it was first
/// buffered), whatever the keys' order.
#[test]
fn a_full_suppression_buffer_evicts_its_oldest_key() {
    let builder = StreamsBuilder::new();
    let counts = builder
        .table(
            "input",
            strings(),
            Materialized::new()
                .with_caching_disabled()
                .with_logging_disabled(),
        )
        .group_by(|k: &String, v: &String| (v.clone(), k.clone()), grouped())
        .count(Materialized::new().with_value_serde(Serdes::i64()));
    let out = || Produced::with(Serdes::string(), Serdes::option(Serdes::i64()));
    counts
        .suppress(Suppressed::until_time_limit(
            std::time::Duration::MAX,
            BufferConfig::max_records(1).emit_early_when_full(),
        ))
        .to_stream()
        .to("output-suppressed", out());
    counts.to_stream().to("output-raw", out());
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("input", StringSerde, StringSerde);
    let drain = |topic: &str| -> Vec<(String, i64, i64)> {
        driver
            .create_output_topic(topic, StringSerde, OptionSerde::new(I64Serde))
            .read_records_to_list()
            .into_iter()
            .map(|r| (r.key, r.value.unwrap_or(-1), r.timestamp))
            .collect()
    };
    let kvt = |expected: &[(&str, i64, i64)]| -> Vec<(String, i64, i64)> {
        expected
            .iter()
            .map(|(k, v, t)| (k.to_string(), *v, *t))
            .collect()
    };
    input.pipe_input_with_timestamp("k1", "v1", 0);
    input.pipe_input_with_timestamp("k1", "v2", 1);
    input.pipe_input_with_timestamp("k2", "v1", 2);
    assert_eq!(
        drain("output-raw"),
        kvt(&[("v1", 1, 0), ("v1", 0, 1), ("v2", 1, 1), ("v1", 1, 2)])
    );
    // Consecutive updates of v1 are suppressed into the latter; the last update stays buffered
    // until another key comes along.
    assert_eq!(
        drain("output-suppressed"),
        kvt(&[("v1", 0, 1), ("v2", 1, 1)])
    );
    input.pipe_input_with_timestamp("x", "x", 3);
    assert_eq!(drain("output-raw"), kvt(&[("x", 1, 3)]));
    assert_eq!(drain("output-suppressed"), kvt(&[("v1", 1, 2)]));
}

#[test]
fn suppress_until_window_closes_needs_a_strict_buffer_and_a_windowed_table() {
    let builder = StreamsBuilder::new();
    let windows = TimeWindows::of_size_with_no_grace(ms(10)).unwrap();
    builder
        .stream("in", strings())
        .group_by_key(grouped())
        .windowed_by(windows)
        .count(Materialized::new())
        .suppress(Suppressed::until_window_closes(BufferConfig::max_records(
            5,
        )));
    let err = builder.build().unwrap_err().to_string();
    assert!(err.contains("must not emit early"), "{err}");
}

#[test]
fn sessions_merge_and_emit_tombstones_for_merged_sessions() {
    for in_memory in [false, true] {
        let builder = StreamsBuilder::new();
        let sessions = SessionWindows::of_inactivity_gap_and_grace(ms(10), ms(20)).unwrap();
        let materialized = if in_memory {
            Materialized::as_("sessions").with_in_memory()
        } else {
            Materialized::as_("sessions")
        };
        to_out(
            builder
                .stream("in", strings())
                .group_by_key(grouped())
                .windowed_by(sessions)
                .count(materialized),
        );
        let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
        let input = driver.create_input_topic("in", StringSerde, StringSerde);
        input.pipe_input_with_timestamp("a", "v", 0);
        input.pipe_input_with_timestamp("a", "v", 20);
        input.pipe_input_with_timestamp("b", "v", 5);
        // Within the gap of both sessions of a: merges them.
        input.pipe_input_with_timestamp("a", "v", 10);
        assert_eq!(
            outputs(&driver),
            owned(&[
                ("[a@0/0]", "1", 0),
                ("[a@20/20]", "1", 20),
                ("[b@5/5]", "1", 5),
                ("[a@0/0]", "", 0),
                ("[a@20/20]", "", 20),
                ("[a@0/20]", "3", 20),
            ]),
            "in_memory = {in_memory}"
        );
        // Stream time 100, grace 20, gap 10: a session ending before 70 can no longer grow, so
        // a record making one is late and dropped; one ending at 79 is still open.
        input.pipe_input_with_timestamp("z", "v", 100);
        input.pipe_input_with_timestamp("c", "v", 69);
        input.pipe_input_with_timestamp("c", "v", 79);
        input.pipe_input_with_timestamp("c", "v", 80);
        assert_eq!(
            outputs(&driver),
            owned(&[
                ("[z@100/100]", "1", 100),
                ("[c@79/79]", "1", 79),
                ("[c@79/79]", "", 79),
                ("[c@79/80]", "2", 80),
            ])
        );
        let store = driver
            .get_session_store("sessions", StringSerde, I64Serde)
            .unwrap();
        let sessions: Vec<(i64, i64, i64)> = store
            .fetch(&"c".to_string())
            .unwrap()
            .into_iter()
            .map(|(w, c)| (w.window.start_ms, w.window.end_ms, c))
            .collect();
        assert_eq!(sessions, [(79, 80, 2)]);
    }
}

#[test]
fn session_aggregate_uses_the_merger() {
    let builder = StreamsBuilder::new();
    let sessions = SessionWindows::of_inactivity_gap_and_grace(ms(10), ms(20)).unwrap();
    builder
        .stream("in", strings())
        .group_by_key(grouped())
        .windowed_by(sessions)
        .aggregate(
            String::new,
            |_, v: &String, agg: String| agg + v,
            |_, a: String, b: String| format!("{a}|{b}"),
            Materialized::with(Serdes::string(), Serdes::string()),
        )
        .to_stream()
        .filter(|_, v| v.is_some())
        .map(|k, v| (k.to_string(), v.clone().unwrap_or_default()))
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("in", StringSerde, StringSerde);
    input.pipe_input_with_timestamp("k", "x", 0);
    input.pipe_input_with_timestamp("k", "y", 20);
    input.pipe_input_with_timestamp("k", "z", 10);
    // As in Kafka: the initializer (""), merged with each session in turn, then the value.
    let last = outputs(&driver).pop().unwrap();
    assert_eq!(last, ("[k@0/20]".to_string(), "|x|yz".to_string(), 20));
}

/// What a tumbling-window count must emit last for each (key, window start), computed in plain
/// Rust: a record counts in its window unless stream time has passed the window's end + grace.
fn tumbling_model(records: &[(u8, i64)], size: i64, grace: i64) -> BTreeMap<(String, i64), i64> {
    let mut stream_time = i64::MIN;
    let mut counts = BTreeMap::new();
    for &(key, ts) in records {
        stream_time = stream_time.max(ts);
        let start = ts / size * size;
        if start + size > stream_time - grace {
            *counts.entry((format!("k{key}"), start)).or_insert(0) += 1;
        }
    }
    counts
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn tumbling_count_matches_a_model(
        records in proptest::collection::vec((0u8..4, 0i64..2_000), 1..80),
        grace in 0u64..300,
    ) {
        let builder = StreamsBuilder::new();
        let windows = TimeWindows::of_size_and_grace(ms(100), ms(grace)).unwrap();
        builder
            .stream("in", strings())
            .group_by_key(grouped())
            .windowed_by(windows)
            .count(Materialized::new().with_in_memory())
            .to_stream()
            .to(
                "out",
                Produced::with(TimeWindowedSerde::new(StringSerde, 100), OptionSerde::new(I64Serde)),
            );
        let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
        let input = driver.create_input_topic("in", StringSerde, StringSerde);
        for &(key, ts) in &records {
            input.pipe_input_with_timestamp(format!("k{key}"), "v".to_string(), ts);
        }
        let mut last = BTreeMap::new();
        for (k, v) in driver
            .create_output_topic("out", TimeWindowedSerde::new(StringSerde, 100), OptionSerde::new(I64Serde))
            .read_key_values_to_list()
        {
            last.insert((k.key, k.window.start_ms), v.unwrap_or(0));
        }
        prop_assert_eq!(last, tumbling_model(&records, 100, grace as i64));
    }
}

fn sliding_count(grace: u64) -> TopologyTestDriver {
    let builder = StreamsBuilder::new();
    let windows = SlidingWindows::of_time_difference_and_grace(ms(10), ms(grace)).unwrap();
    to_out(
        builder
            .stream("in", strings())
            .group_by_key(grouped())
            .windowed_by(windows)
            .count(Materialized::as_("sliding")),
    );
    TopologyTestDriver::new(builder.build().unwrap()).unwrap()
}

#[test]
fn sliding_windows_follow_the_records() {
    let driver = sliding_count(100);
    let input = driver.create_input_topic("in", StringSerde, StringSerde);
    input.pipe_input_with_timestamp("a", "v", 10);
    input.pipe_input_with_timestamp("a", "v", 15);
    // Out of order, and before the time difference (Kafka's "early" record): lands in [5,15],
    // creates its own right window [9,19] from it, then lands in the shared window [0,10].
    input.pipe_input_with_timestamp("a", "v", 8);
    // Kafka's order: the previous record's right window before the record's left window.
    assert_eq!(
        outputs(&driver),
        owned(&[
            ("[a@0/10]", "1", 10),
            ("[a@11/21]", "1", 15),
            ("[a@5/15]", "2", 15),
            ("[a@5/15]", "3", 15),
            ("[a@9/19]", "2", 15),
            ("[a@0/10]", "2", 10),
        ])
    );
    let store = driver
        .get_timestamped_window_store("sliding", StringSerde, I64Serde, 10)
        .unwrap();
    assert_eq!(store.fetch(&"a".to_string(), 9).unwrap(), Some((2, 15)));
}

#[test]
fn sliding_windows_drop_records_whose_windows_closed() {
    let driver = sliding_count(0);
    let input = driver.create_input_topic("in", StringSerde, StringSerde);
    input.pipe_input_with_timestamp("a", "v", 100);
    // Stream time 100, no grace: the left window [80, 90] of a record at 90 is closed, but
    // [90, 100] (which ends at the close time) is open and its own right window is new.
    input.pipe_input_with_timestamp("a", "v", 90);
    // 89 + 1 + 10 <= 100: even the right window of a record at 89 is closed; dropped.
    input.pipe_input_with_timestamp("a", "v", 89);
    input.pipe_input_with_timestamp("a", "v", 50);
    assert_eq!(
        outputs(&driver),
        owned(&[
            ("[a@90/100]", "1", 100),
            ("[a@90/100]", "2", 100),
            ("[a@91/101]", "1", 100),
        ])
    );
}

/// The windows sliding aggregation defines over a key's records and each one's count: every
/// record's left window `[max(t - d, 0), .. + d]`, and its right window `[t + 1, t + 1 + d]` when
/// a record falls in it.
fn sliding_model(times: &[i64], d: i64) -> BTreeMap<i64, i64> {
    let count = |start: i64| {
        times
            .iter()
            .filter(|&&t| start <= t && t <= start + d)
            .count() as i64
    };
    let mut windows = BTreeMap::new();
    for &t in times {
        let left = (t - d).max(0);
        windows.insert(left, count(left));
        if times.iter().any(|&q| t < q && q <= t + 1 + d) {
            windows.insert(t + 1, count(t + 1));
        }
    }
    windows
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn sliding_count_matches_a_model(times in proptest::collection::vec(0i64..200, 1..40)) {
        let driver = sliding_count(10_000);
        let input = driver.create_input_topic("in", StringSerde, StringSerde);
        for &t in &times {
            input.pipe_input_with_timestamp("k", "v", t);
        }
        let mut last = BTreeMap::new();
        for (k, v, _) in outputs(&driver) {
            let start: i64 = k["[k@".len()..k.find('/').unwrap()].parse().unwrap();
            last.insert(start, v.parse::<i64>().unwrap());
        }
        prop_assert_eq!(last, sliding_model(&times, 10));
    }
}

fn sliding_count_on_close(grace: u64) -> TopologyTestDriver {
    let builder = StreamsBuilder::new();
    let windows = SlidingWindows::of_time_difference_and_grace(ms(10), ms(grace)).unwrap();
    to_out(
        builder
            .stream("in", strings())
            .group_by_key(grouped())
            .windowed_by(windows)
            .emit_strategy(EmitStrategy::on_window_close())
            .count(Materialized::as_("sliding")),
    );
    TopologyTestDriver::new(builder.build().unwrap()).unwrap()
}

#[test]
fn sliding_emit_on_window_close_emits_each_final_window_once() {
    let driver = sliding_count_on_close(5);
    let input = driver.create_input_topic("in", StringSerde, StringSerde);
    // The records of `sliding_windows_follow_the_records`: windows [0,10], [5,15], [11,21] and
    // [9,19], updated six times in all.
    for ts in [10, 15, 8] {
        input.pipe_input_with_timestamp("a", "v", ts);
    }
    assert!(outputs(&driver).is_empty(), "nothing closed yet");
    // Stream time 26, close time 21: the windows ending before 21 close, with their final
    // counts; [11,21] ends at the close time and stays open.
    input.pipe_input_with_timestamp("b", "v", 26);
    assert_eq!(
        outputs(&driver),
        owned(&[
            ("[a@0/10]", "2", 10),
            ("[a@5/15]", "3", 15),
            ("[a@9/19]", "2", 15),
        ])
    );
    // Too late for any window of `a`: dropped, and nothing is emitted twice.
    input.pipe_input_with_timestamp("a", "v", 3);
    assert!(outputs(&driver).is_empty());
    // The store holds what the eager aggregation would.
    let store = driver
        .get_timestamped_window_store("sliding", StringSerde, I64Serde, 10)
        .unwrap();
    assert_eq!(store.fetch(&"a".to_string(), 9).unwrap(), Some((2, 15)));
    input.pipe_input_with_timestamp("c", "v", 100);
    assert_eq!(
        outputs(&driver),
        owned(&[("[a@11/21]", "1", 15), ("[b@16/26]", "1", 26)])
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn sliding_emit_on_close_emits_the_model_once_per_window(
        times in proptest::collection::vec(0i64..200, 1..40),
    ) {
        let driver = sliding_count_on_close(10_000);
        let input = driver.create_input_topic("in", StringSerde, StringSerde);
        for &t in &times {
            input.pipe_input_with_timestamp("k", "v", t);
        }
        prop_assert!(outputs(&driver).is_empty());
        // Far enough ahead to close every window of `k`.
        input.pipe_input_with_timestamp("z", "v", 100_000);
        let mut emitted = BTreeMap::new();
        for (k, v, _) in outputs(&driver) {
            let start: i64 = k["[k@".len()..k.find('/').unwrap()].parse().unwrap();
            prop_assert!(emitted.insert(start, v.parse::<i64>().unwrap()).is_none(), "{} twice", k);
        }
        prop_assert_eq!(emitted, sliding_model(&times, 10));
    }
}

#[test]
fn session_emit_on_window_close_emits_each_final_session_once() {
    for in_memory in [false, true] {
        let builder = StreamsBuilder::new();
        let sessions = SessionWindows::of_inactivity_gap_and_grace(ms(10), ms(20)).unwrap();
        let materialized = if in_memory {
            Materialized::as_("sessions").with_in_memory()
        } else {
            Materialized::as_("sessions")
        };
        to_out(
            builder
                .stream("in", strings())
                .group_by_key(grouped())
                .windowed_by(sessions)
                .emit_strategy(EmitStrategy::on_window_close())
                .count(materialized),
        );
        let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
        let input = driver.create_input_topic("in", StringSerde, StringSerde);
        // The records of `sessions_merge_and_emit_tombstones_for_merged_sessions`: no updates
        // and no tombstones for the sessions merged away.
        for (key, ts) in [("a", 0), ("a", 20), ("b", 5), ("a", 10)] {
            input.pipe_input_with_timestamp(key, "v", ts);
        }
        assert!(outputs(&driver).is_empty(), "in_memory = {in_memory}");
        // Stream time 55, close time 35: a session is final once its end + gap is before the
        // close time (a record that could still join it would be late): 20 + 10 < 35.
        input.pipe_input_with_timestamp("z", "v", 55);
        assert_eq!(
            outputs(&driver),
            owned(&[("[a@0/20]", "3", 20), ("[b@5/5]", "1", 5)]),
            "in_memory = {in_memory}"
        );
        // Late for its session: dropped; nothing is emitted twice.
        input.pipe_input_with_timestamp("a", "v", 21);
        input.pipe_input_with_timestamp("z", "v", 60);
        assert!(outputs(&driver).is_empty(), "in_memory = {in_memory}");
        input.pipe_input_with_timestamp("y", "v", 1000);
        assert_eq!(
            outputs(&driver),
            owned(&[("[z@55/60]", "2", 60)]),
            "in_memory = {in_memory}"
        );
    }
}

#[test]
fn suppressed_sessions_close_after_their_gap_and_grace() {
    // Kafka closes a session window for suppression at its end + inactivity gap + grace: until
    // then a record may still extend it.
    let builder = StreamsBuilder::new();
    let sessions = SessionWindows::of_inactivity_gap_and_grace(ms(300_000), ms(30_000)).unwrap();
    to_out(
        builder
            .stream("in", strings())
            .group_by_key(grouped())
            .windowed_by(sessions)
            .count(Materialized::as_("sessions"))
            .suppress(Suppressed::until_window_closes(BufferConfig::unbounded())),
    );
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("in", StringSerde, StringSerde);
    for (key, ts) in [("a", 0), ("b", 60_000), ("a", 120_000)] {
        input.pipe_input_with_timestamp(key, "v", ts);
    }
    assert!(outputs(&driver).is_empty());
    // b's session [60,000, 60,000] closes at 60,000 + 330,000; a's [0, 120,000] at 450,000.
    input.pipe_input_with_timestamp("z", "v", 449_999);
    assert_eq!(outputs(&driver), owned(&[("[b@60000/60000]", "1", 60_000)]));
    input.pipe_input_with_timestamp("z", "v", 450_000);
    assert_eq!(outputs(&driver), owned(&[("[a@0/120000]", "2", 120_000)]));
}

/// The input of Kafka's `SessionWindowedKStreamImplTest`, piped into a session aggregation with
/// a 500 ms gap and no grace; `aggregation` turns the sessions into "out" strings.
fn session_scenario<F>(aggregation: F) -> Vec<(String, String, i64)>
where
    F: FnOnce(crate::dsl::SessionWindowedKStream<String, String>),
{
    let builder = StreamsBuilder::new();
    aggregation(
        builder
            .stream("in", strings())
            .group_by_key(grouped())
            .windowed_by(SessionWindows::of_inactivity_gap_with_no_grace(ms(500)).unwrap()),
    );
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("in", StringSerde, StringSerde);
    for (key, value, ts) in [
        ("1", "1", 10),
        ("1", "2", 15),
        ("1", "3", 600),
        ("2", "1", 600),
        ("2", "2", 599),
    ] {
        input.pipe_input_with_timestamp(key, value, ts);
    }
    outputs(&driver)
}

/// Sends a windowed string table's updates to `out`, a tombstone as "null".
fn strings_to_out(table: KTable<Windowed<String>, String>) {
    table
        .to_stream()
        .map(|k, v| {
            (
                k.to_string(),
                v.clone().unwrap_or_else(|| "null".to_string()),
            )
        })
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
}

/// Kafka's `SessionWindowedKStreamImplTest#shouldCountSessionWindowedWithCachingEnabled` and
/// `…WithCachingDisabled`, and `#shouldReduceWindowed`, `#shouldAggregateSessionWindowed`, for
/// both emit strategies: merged sessions are deleted with tombstones of their old windows, and a
/// merging record starts from the initializer and merges each session into it.
#[test]
fn session_aggregations_as_kafka() {
    for on_close in [false, true] {
        let strategy = if on_close {
            EmitStrategy::on_window_close()
        } else {
            EmitStrategy::on_window_update()
        };
        for cached in [true, false] {
            let out = session_scenario(|sessions| {
                let materialized = if cached || on_close {
                    Materialized::new()
                } else {
                    Materialized::new().with_caching_disabled()
                };
                to_out(sessions.emit_strategy(strategy).count(materialized));
            });
            let expected: &[(&str, &str, i64)] = if on_close {
                &[("[1@10/15]", "2", 15)]
            } else {
                &[
                    ("[1@10/10]", "1", 10),
                    ("[1@10/10]", "", 10),
                    ("[1@10/15]", "2", 15),
                    ("[1@600/600]", "1", 600),
                    ("[2@600/600]", "1", 600),
                    ("[2@600/600]", "", 600),
                    ("[2@599/600]", "2", 600),
                ]
            };
            assert_eq!(
                out,
                owned(expected),
                "count, on_close {on_close}, cached {cached}"
            );
        }
        let out = session_scenario(|sessions| {
            strings_to_out(
                sessions
                    .emit_strategy(strategy)
                    .reduce(|a, b: &String| format!("{a}+{b}"), Materialized::new()),
            );
        });
        let expected: &[(&str, &str, i64)] = if on_close {
            &[("[1@10/15]", "1+2", 15)]
        } else {
            &[
                ("[1@10/10]", "1", 10),
                ("[1@10/10]", "null", 10),
                ("[1@10/15]", "1+2", 15),
                ("[1@600/600]", "3", 600),
                ("[2@600/600]", "1", 600),
                ("[2@600/600]", "null", 600),
                ("[2@599/600]", "1+2", 600),
            ]
        };
        assert_eq!(out, owned(expected), "reduce, on_close {on_close}");
        let out = session_scenario(|sessions| {
            strings_to_out(sessions.emit_strategy(strategy).aggregate(
                || "0".to_string(),
                |_, value: &String, aggregate: String| format!("{aggregate}+{value}"),
                |_, one: String, two: String| format!("{one}+{two}"),
                Materialized::new().with_value_serde(Serdes::string()),
            ));
        });
        let expected: &[(&str, &str, i64)] = if on_close {
            &[("[1@10/15]", "0+0+1+2", 15)]
        } else {
            &[
                ("[1@10/10]", "0+1", 10),
                ("[1@10/10]", "null", 10),
                ("[1@10/15]", "0+0+1+2", 15),
                ("[1@600/600]", "0+3", 600),
                ("[2@600/600]", "0+1", 600),
                ("[2@600/600]", "null", 600),
                ("[2@599/600]", "0+0+1+2", 600),
            ]
        };
        assert_eq!(out, owned(expected), "aggregate, on_close {on_close}");
    }
}

/// Kafka's `KStreamSessionWindowAggregateProcessorTest`
/// `#shouldLogAndMeterWhenSkippingLateRecordWithNonzeroGrace`:
/// with a 10 ms gap and 1 ms grace, a record at 0 is on time until stream time passes
/// 0 + gap + grace = 11.
#[test]
fn a_session_record_is_late_only_once_its_session_cannot_grow() {
    let builder = StreamsBuilder::new();
    to_out(
        builder
            .stream("in", strings())
            .group_by_key(grouped())
            .windowed_by(SessionWindows::of_inactivity_gap_and_grace(ms(10), ms(1)).unwrap())
            .count(Materialized::new().with_caching_disabled()),
    );
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("in", StringSerde, StringSerde);
    for (key, ts) in [
        ("dummy", 0),
        ("OnTime1", 0),
        ("dummy", 11),
        ("OnTime2", 0),
        ("dummy", 12),
        ("Late1", 0),
    ] {
        input.pipe_input_with_timestamp(key, "1", ts);
    }
    assert_eq!(
        outputs(&driver),
        owned(&[
            ("[dummy@0/0]", "1", 0),
            ("[OnTime1@0/0]", "1", 0),
            ("[dummy@11/11]", "1", 11),
            ("[OnTime2@0/0]", "1", 0),
            ("[dummy@11/11]", "", 11),
            ("[dummy@11/12]", "2", 12),
        ])
    );
}

/// Kafka's `SuppressScenarioTest#shouldSupportFinalResultsForSessionWindows`: a record inside a
/// session re-writes it (tombstone, then the new aggregate), disordered records are admitted
/// until the session can no longer grow, and the suppressed final results skip the tombstones.
#[test]
fn suppressed_session_final_results_as_kafka() {
    let builder = StreamsBuilder::new();
    let counts = builder
        .stream("input", strings())
        .group_by(|k: &String, _: &String| k.clone(), grouped())
        .windowed_by(SessionWindows::of_inactivity_gap_with_no_grace(ms(5)).unwrap())
        .count(Materialized::as_("counts").with_caching_disabled());
    let to = |table: KTable<Windowed<String>, i64>, topic: &str| {
        table
            .to_stream()
            .map(|k, v| (k.to_string(), v.map(|c| c.to_string()).unwrap_or_default()))
            .to(topic, Produced::with(Serdes::string(), Serdes::string()));
    };
    to(
        counts.suppress(Suppressed::until_window_closes(BufferConfig::unbounded())),
        "output-suppressed",
    );
    to(counts, "output-raw");
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("input", StringSerde, StringSerde);
    for (key, ts) in [
        ("k1", 0),
        ("k1", 5),
        ("k1", 1),
        ("k2", 11),
        ("k1", 5),
        ("k1", 30),
    ] {
        input.pipe_input_with_timestamp(key, "v1", ts);
    }
    let drain = |topic: &str| -> Vec<(String, String, i64)> {
        driver
            .create_output_topic(topic, StringSerde, StringSerde)
            .read_records_to_list()
            .into_iter()
            .map(|r| (r.key, r.value, r.timestamp))
            .collect()
    };
    assert_eq!(
        drain("output-raw"),
        owned(&[
            ("[k1@0/0]", "1", 0),
            ("[k1@0/0]", "", 0),
            ("[k1@0/5]", "2", 5),
            ("[k1@0/5]", "", 5),
            ("[k1@0/5]", "3", 5),
            ("[k2@11/11]", "1", 11),
            ("[k1@30/30]", "1", 30),
        ])
    );
    assert_eq!(
        drain("output-suppressed"),
        owned(&[("[k1@0/5]", "3", 5), ("[k2@11/11]", "1", 11)])
    );
}

/// Kafka's `KStreamSlidingWindowAggregateTest` setup: a sliding aggregation of string values
/// ("0+1+2": `MockInitializer.STRING_INIT` and `MockAggregator.TOSTRING_ADDER`) with a time
/// difference of `d` ms; returns what it emitted as (key, window start, window end, aggregate,
/// timestamp).
fn sliding_concat(
    d: u64,
    grace: u64,
    strategy: EmitStrategy,
    inputs: &[(&str, &str, i64)],
) -> Vec<(String, i64, i64, String, i64)> {
    let builder = StreamsBuilder::new();
    builder
        .stream("topic", strings())
        .group_by_key(grouped())
        .windowed_by(SlidingWindows::of_time_difference_and_grace(ms(d), ms(grace)).unwrap())
        .emit_strategy(strategy)
        .aggregate(
            || "0".to_string(),
            |_, value: &String, aggregate: String| format!("{aggregate}+{value}"),
            Materialized::as_("store-name").with_value_serde(Serdes::string()),
        )
        .to_stream()
        .map(|k, v| {
            (
                format!("{}|{}|{}", k.key, k.window.start_ms, k.window.end_ms),
                v.clone().unwrap_or_default(),
            )
        })
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("topic", StringSerde, StringSerde);
    for (key, value, ts) in inputs {
        input.pipe_input_with_timestamp(*key, *value, *ts);
    }
    outputs(&driver)
        .into_iter()
        .map(|(key, value, ts)| {
            let mut parts = key.split('|');
            let name = parts.next().unwrap_or_default().to_string();
            let mut next = || {
                parts
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(i64::MIN)
            };
            let (start, end) = (next(), next());
            (name, start, end, value, ts)
        })
        .collect()
}

/// Kafka's `KStreamSlidingWindowAggregateTest#testAggregateSmallInput` (emitting every update):
/// per window start, the set of (aggregate, timestamp) updates.
#[test]
fn sliding_aggregate_small_input_as_kafka() {
    let out = sliding_concat(
        10,
        5,
        EmitStrategy::on_window_update(),
        &[
            ("A", "1", 10),
            ("A", "2", 10),
            ("A", "3", 14),
            ("A", "4", 15),
            ("A", "5", 20),
            ("A", "6", 22),
            ("A", "7", 30),
        ],
    );
    let expected: Updates = &[
        (0, &[("0+1", 10), ("0+1+2", 10)]),
        (4, &[("0+1+2+3", 14)]),
        (5, &[("0+1+2+3+4", 15)]),
        (10, &[("0+1+2+3+4+5", 20)]),
        (11, &[("0+3", 14), ("0+3+4", 15), ("0+3+4+5", 20)]),
        (12, &[("0+3+4+5+6", 22)]),
        (15, &[("0+4", 15), ("0+4+5", 20), ("0+4+5+6", 22)]),
        (16, &[("0+5", 20), ("0+5+6", 22)]),
        (20, &[("0+5+6+7", 30)]),
        (21, &[("0+6", 22), ("0+6+7", 30)]),
        (23, &[("0+7", 30)]),
    ];
    assert_eq!(by_start(out), sets(expected));
}

/// Kafka's `KStreamSlidingWindowAggregateTest#testAggregateLargeInput`, both emit strategies:
/// out-of-order records are added to the windows that exist in arrival order ("0+1+2+4").
/// Sorted by key and window start, each window's updates in emission order, as Kafka's test.
#[test]
fn sliding_windows_add_out_of_order_records_in_arrival_order() {
    let inputs = [
        ("A", "1", 10),
        ("A", "2", 20),
        ("A", "3", 22),
        ("A", "4", 15),
        ("B", "1", 12),
        ("B", "2", 13),
        ("B", "3", 18),
        ("B", "4", 19),
        ("B", "5", 25),
        ("B", "6", 14),
        ("C", "1", 11),
        ("C", "2", 15),
        ("C", "3", 16),
        ("C", "4", 21),
        ("C", "5", 23),
        ("D", "4", 11),
        ("D", "2", 12),
        ("D", "3", 29),
        ("D", "5", 16),
    ];
    let sorted = |mut out: Vec<(String, i64, i64, String, i64)>| {
        // Stable: a window's updates keep their order.
        out.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        out
    };
    let windows =
        |expected: &[(&str, i64, i64, &str, i64)]| -> Vec<(String, i64, i64, String, i64)> {
            expected
                .iter()
                .map(|(k, s, e, v, t)| (k.to_string(), *s, *e, v.to_string(), *t))
                .collect()
        };
    let updates = sorted(sliding_concat(
        10,
        50,
        EmitStrategy::on_window_update(),
        &inputs,
    ));
    assert_eq!(
        updates,
        windows(&[
            ("A", 0, 10, "0+1", 10),
            ("A", 5, 15, "0+1+4", 15),
            ("A", 10, 20, "0+1+2", 20),
            ("A", 10, 20, "0+1+2+4", 20),
            ("A", 11, 21, "0+2", 20),
            ("A", 11, 21, "0+2+4", 20),
            ("A", 12, 22, "0+2+3", 22),
            ("A", 12, 22, "0+2+3+4", 22),
            ("A", 16, 26, "0+2+3", 22),
            ("A", 21, 31, "0+3", 22),
            ("B", 2, 12, "0+1", 12),
            ("B", 3, 13, "0+1+2", 13),
            ("B", 4, 14, "0+1+2+6", 14),
            ("B", 8, 18, "0+1+2+3", 18),
            ("B", 8, 18, "0+1+2+3+6", 18),
            ("B", 9, 19, "0+1+2+3+4", 19),
            ("B", 9, 19, "0+1+2+3+4+6", 19),
            ("B", 13, 23, "0+2", 13),
            ("B", 13, 23, "0+2+3", 18),
            ("B", 13, 23, "0+2+3+4", 19),
            ("B", 13, 23, "0+2+3+4+6", 19),
            ("B", 14, 24, "0+3", 18),
            ("B", 14, 24, "0+3+4", 19),
            ("B", 14, 24, "0+3+4+6", 19),
            ("B", 15, 25, "0+3+4+5", 25),
            ("B", 19, 29, "0+4", 19),
            ("B", 19, 29, "0+4+5", 25),
            ("B", 20, 30, "0+5", 25),
            ("C", 1, 11, "0+1", 11),
            ("C", 5, 15, "0+1+2", 15),
            ("C", 6, 16, "0+1+2+3", 16),
            ("C", 11, 21, "0+1+2+3+4", 21),
            ("C", 12, 22, "0+2", 15),
            ("C", 12, 22, "0+2+3", 16),
            ("C", 12, 22, "0+2+3+4", 21),
            ("C", 13, 23, "0+2+3+4+5", 23),
            ("C", 16, 26, "0+3", 16),
            ("C", 16, 26, "0+3+4", 21),
            ("C", 16, 26, "0+3+4+5", 23),
            ("C", 17, 27, "0+4", 21),
            ("C", 17, 27, "0+4+5", 23),
            ("C", 22, 32, "0+5", 23),
            ("D", 1, 11, "0+4", 11),
            ("D", 2, 12, "0+4+2", 12),
            ("D", 6, 16, "0+4+2+5", 16),
            ("D", 12, 22, "0+2", 12),
            ("D", 12, 22, "0+2+5", 16),
            ("D", 13, 23, "0+5", 16),
            ("D", 19, 29, "0+3", 29),
        ])
    );
    let finals = sorted(sliding_concat(
        10,
        10,
        EmitStrategy::on_window_close(),
        &inputs,
    ));
    assert_eq!(
        finals,
        windows(&[
            ("A", 0, 10, "0+1", 10),
            ("A", 5, 15, "0+1+4", 15),
            ("B", 2, 12, "0+1", 12),
            ("B", 3, 13, "0+1+2", 13),
            ("B", 8, 18, "0+1+2+3+6", 18),
            ("C", 5, 15, "0+2", 15),
            ("C", 6, 16, "0+2+3", 16),
        ])
    );
}

/// Expected updates per window start, as Kafka's sliding-window tests state them.
type Updates<'a> = &'a [(i64, &'a [(&'a str, i64)])];

/// Emitted (aggregate, timestamp) sets per window start.
fn by_start(
    out: Vec<(String, i64, i64, String, i64)>,
) -> BTreeMap<i64, std::collections::BTreeSet<(String, i64)>> {
    let mut sets: BTreeMap<i64, std::collections::BTreeSet<(String, i64)>> = BTreeMap::new();
    for (_, start, _, value, ts) in out {
        sets.entry(start).or_default().insert((value, ts));
    }
    sets
}

fn sets(expected: Updates) -> BTreeMap<i64, std::collections::BTreeSet<(String, i64)>> {
    expected
        .iter()
        .map(|(start, updates)| {
            (
                *start,
                updates.iter().map(|(v, t)| (v.to_string(), *t)).collect(),
            )
        })
        .collect()
}

/// Kafka's `KStreamSlidingWindowAggregateTest#testEarlyRecordsSmallInput`, both emit
/// strategies: records before the time difference share the window [0, 50].
#[test]
fn sliding_early_records_as_kafka() {
    let inputs = [
        ("A", "1", 0),
        ("A", "2", 5),
        ("A", "3", 6),
        ("A", "4", 3),
        ("A", "5", 13),
        ("A", "6", 10),
        ("A", "7", 70),
    ];
    let updates = sliding_concat(50, 0, EmitStrategy::on_window_update(), &inputs);
    let expected: Updates = &[
        (
            0,
            &[
                ("0+1", 0),
                ("0+1+2", 5),
                ("0+1+2+3", 6),
                ("0+1+2+3+4", 6),
                ("0+1+2+3+4+5", 13),
                ("0+1+2+3+4+5+6", 13),
            ],
        ),
        (
            1,
            &[
                ("0+2", 5),
                ("0+2+3", 6),
                ("0+2+3+4", 6),
                ("0+2+3+4+5", 13),
                ("0+2+3+4+5+6", 13),
            ],
        ),
        (4, &[("0+2+3", 6), ("0+2+3+5", 13), ("0+2+3+5+6", 13)]),
        (6, &[("0+3", 6), ("0+3+5", 13), ("0+3+5+6", 13)]),
        (7, &[("0+5", 13), ("0+5+6", 13)]),
        (11, &[("0+5", 13)]),
        (20, &[("0+7", 70)]),
    ];
    assert_eq!(by_start(updates), sets(expected));
    let finals = sliding_concat(50, 0, EmitStrategy::on_window_close(), &inputs);
    let expected: Updates = &[
        (0, &[("0+1+2+3+4+5+6", 13)]),
        (1, &[("0+2+3+4+5+6", 13)]),
        (4, &[("0+2+3+5+6", 13)]),
        (6, &[("0+3+5+6", 13)]),
        (7, &[("0+5+6", 13)]),
        (11, &[("0+5", 13)]),
    ];
    assert_eq!(by_start(finals), sets(expected));
}

/// Kafka's `KStreamSlidingWindowAggregateTest#testEarlyRecordsRepeatedInput`, both emit
/// strategies: early records at repeated timestamps.
#[test]
fn sliding_repeated_early_records_as_kafka() {
    let inputs = [
        ("A", "1", 0),
        ("A", "2", 2),
        ("A", "3", 4),
        ("A", "4", 0),
        ("A", "5", 2),
        ("A", "6", 2),
        ("A", "7", 0),
        ("A", "8", 7),
    ];
    let updates = sliding_concat(5, 0, EmitStrategy::on_window_update(), &inputs);
    let expected: Updates = &[
        (
            0,
            &[
                ("0+1", 0),
                ("0+1+2", 2),
                ("0+1+2+3+4+5", 4),
                ("0+1+2+3+4+5+6", 4),
                ("0+1+2+3", 4),
                ("0+1+2+3+4", 4),
                ("0+1+2+3+4+5+6+7", 4),
            ],
        ),
        (
            1,
            &[("0+2+3+5+6", 4), ("0+2", 2), ("0+2+3", 4), ("0+2+3+5", 4)],
        ),
        (2, &[("0+2+3+5+6+8", 7)]),
        (3, &[("0+3", 4), ("0+3+8", 7)]),
        (5, &[("0+8", 7)]),
    ];
    assert_eq!(by_start(updates), sets(expected));
    let finals = sliding_concat(5, 0, EmitStrategy::on_window_close(), &inputs);
    let expected: Updates = &[(0, &[("0+1+2+3+4+5+6+7", 4)]), (1, &[("0+2+3+5+6", 4)])];
    assert_eq!(by_start(finals), sets(expected));
}

/// Kafka's `SuppressScenarioTest#shouldSuppressIntermediateEventsWithBytesLimit`: entries are
/// sized as Kafka sizes them (a little over 100 bytes each here, mostly the repartition topic's
/// name in the record context), so a 200-byte buffer holds one and evicts the oldest when a
/// second key comes.
#[test]
fn suppression_with_a_byte_limit_evicts_as_kafka() {
    let builder = StreamsBuilder::new();
    let value_counts = builder
        .table(
            "input",
            strings(),
            Materialized::new()
                .with_caching_disabled()
                .with_logging_disabled(),
        )
        .group_by(|k: &String, v: &String| (v.clone(), k.clone()), grouped())
        .count(Materialized::new());
    value_counts
        .suppress(Suppressed::until_time_limit(
            std::time::Duration::MAX,
            BufferConfig::max_bytes(200).emit_early_when_full(),
        ))
        .to_stream()
        .to(
            "output-suppressed",
            Produced::with(Serdes::string(), Serdes::option(Serdes::i64())),
        );
    value_counts.to_stream().to(
        "output-raw",
        Produced::with(Serdes::string(), Serdes::option(Serdes::i64())),
    );
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("input", StringSerde, StringSerde);
    let raw = driver.create_output_topic("output-raw", StringSerde, OptionSerde::new(I64Serde));
    let suppressed =
        driver.create_output_topic("output-suppressed", StringSerde, OptionSerde::new(I64Serde));
    let drain = |topic: &crate::test_driver::TestOutputTopic<String, Option<i64>>| {
        topic
            .read_records_to_list()
            .into_iter()
            .map(|r| (r.key, r.value, r.timestamp))
            .collect::<Vec<_>>()
    };
    let kvt = |k: &str, v: i64, t: i64| (k.to_string(), Some(v), t);
    input.pipe_input_with_timestamp("k1", "v1", 0);
    input.pipe_input_with_timestamp("k1", "v2", 1);
    input.pipe_input_with_timestamp("k2", "v1", 2);
    assert_eq!(
        drain(&raw),
        [
            kvt("v1", 1, 0),
            kvt("v1", 0, 1),
            kvt("v2", 1, 1),
            kvt("v1", 1, 2)
        ]
    );
    // Consecutive updates to v1 are suppressed into only the latter; the last update is not
    // evicted until another key comes along.
    assert_eq!(drain(&suppressed), [kvt("v1", 0, 1), kvt("v2", 1, 1)]);
    input.pipe_input_with_timestamp("x", "x", 3);
    assert_eq!(drain(&raw), [kvt("x", 1, 3)]);
    assert_eq!(drain(&suppressed), [kvt("v1", 1, 2)]);
}
