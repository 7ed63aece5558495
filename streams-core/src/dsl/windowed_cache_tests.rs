//! The record cache in front of windowed and session aggregations: dedupe between commits (at
//! the level of a task, as the test driver commits after every record), merged sessions'
//! tombstones, and — through random inputs — the same results as without a cache, through a task
//! with random commits and through the test driver.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::cache_tests::{drain, record, task, Written};
use super::test_support::{ms, owned};
use crate::prelude::*;
use crate::processor::task::Task;
use crate::serde::StringSerde;

/// The windowed aggregations under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Tumbling,
    Hopping,
    Sliding,
    Session,
    /// A tumbling count suppressed until its windows close.
    Suppressed,
    /// A tumbling count emitting on window close.
    OnClose,
}

const KINDS: [Kind; 6] = [
    Kind::Tumbling,
    Kind::Hopping,
    Kind::Sliding,
    Kind::Session,
    Kind::Suppressed,
    Kind::OnClose,
];

/// `in` → group by key → `kind` count into store `counts` → `out`, as
/// `"[key@start/end]" -> count` strings (an empty value for a tombstone).
fn topology(kind: Kind, cached: bool, in_memory: bool) -> Topology {
    let mut materialized: Materialized<String, i64> = Materialized::as_("counts");
    if !cached {
        materialized = materialized.with_caching_disabled();
    }
    if in_memory {
        materialized = materialized.with_in_memory();
    }
    let builder = StreamsBuilder::new();
    let grouped = builder
        .stream("in", Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key(Grouped::with(Serdes::string(), Serdes::string()));
    let tumbling = TimeWindows::of_size_and_grace(ms(100), ms(50)).unwrap();
    let table = match kind {
        Kind::Tumbling => grouped.windowed_by(tumbling).count(materialized),
        Kind::Hopping => grouped
            .windowed_by(tumbling.advance_by(ms(50)).unwrap())
            .count(materialized),
        Kind::Sliding => grouped
            .windowed_by(SlidingWindows::of_time_difference_and_grace(ms(30), ms(20)).unwrap())
            .count(materialized),
        Kind::Session => grouped
            .windowed_by(SessionWindows::of_inactivity_gap_and_grace(ms(10), ms(20)).unwrap())
            .count(materialized),
        Kind::Suppressed => grouped
            .windowed_by(tumbling)
            .count(materialized)
            .suppress(Suppressed::until_window_closes(BufferConfig::unbounded())),
        Kind::OnClose => grouped
            .windowed_by(tumbling)
            .emit_strategy(EmitStrategy::on_window_close())
            .count(materialized),
    };
    table
        .to_stream()
        .map(|k, v| (k.to_string(), v.map(|c| c.to_string()).unwrap_or_default()))
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    builder.build().unwrap()
}

/// `(key, value, timestamp)` of what went to `topic`, as strings.
fn written(records: &[Written], topic: &str) -> Vec<(String, String, i64)> {
    let text = |b: &Option<Vec<u8>>| {
        b.as_ref()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default()
    };
    records
        .iter()
        .filter(|r| &*r.topic == topic)
        .map(|r| (text(&r.key), text(&r.value), r.timestamp))
        .collect()
}

/// The table a sequence of updates describes: the latest value per key, tombstones deleting.
fn table(updates: &[(String, String, i64)]) -> BTreeMap<String, String> {
    let mut table = BTreeMap::new();
    for (k, v, _) in updates {
        if v.is_empty() {
            table.remove(k);
        } else {
            table.insert(k.clone(), v.clone());
        }
    }
    table
}

fn process_all(task: &mut Task, records: &[(&str, i64)], first_offset: i64) {
    for (i, (key, ts)) in records.iter().enumerate() {
        task.process(
            &"in".into(),
            record(first_offset + i as i64, key, Some("x"), *ts),
        )
        .unwrap();
    }
}

#[test]
fn cached_windowed_count_forwards_and_logs_one_update_per_window_per_commit() {
    for in_memory in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut task = task(&topology(Kind::Tumbling, true, in_memory), 0, 1 << 20, &dir);
        process_all(
            &mut task,
            &[("a", 1), ("a", 5), ("b", 3), ("a", 2), ("a", 120)],
            0,
        );
        assert!(drain(&mut task).is_empty(), "nothing before the commit");
        task.flush_stores().unwrap();
        let out = drain(&mut task);
        // In the order of each window's last write, with the aggregate's timestamp.
        let expected = owned(&[
            ("[b@0/100]", "1", 3),
            ("[a@0/100]", "3", 5),
            ("[a@100/200]", "1", 120),
        ]);
        assert_eq!(written(&out, "out"), expected, "in_memory = {in_memory}");
        assert_eq!(
            written(&out, "app-counts-changelog").len(),
            3,
            "the changelog gets one record per window too"
        );
        // A commit with nothing new forwards nothing; the next update carries on from the store.
        task.flush_stores().unwrap();
        assert!(drain(&mut task).is_empty());
        process_all(&mut task, &[("a", 130)], 5);
        task.flush_stores().unwrap();
        assert_eq!(
            written(&drain(&mut task), "out"),
            owned(&[("[a@100/200]", "2", 130)])
        );
    }
}

#[test]
fn uncached_windowed_count_forwards_every_update() {
    let dir = tempfile::tempdir().unwrap();
    let mut task = task(&topology(Kind::Tumbling, false, true), 0, 1 << 20, &dir);
    process_all(&mut task, &[("a", 1), ("a", 5), ("b", 3), ("a", 2)], 0);
    assert_eq!(
        written(&drain(&mut task), "out"),
        owned(&[
            ("[a@0/100]", "1", 1),
            ("[a@0/100]", "2", 5),
            ("[b@0/100]", "1", 3),
            ("[a@0/100]", "3", 5),
        ])
    );
}

#[test]
fn cached_session_count_sends_tombstones_only_for_merged_sessions_that_were_forwarded() {
    for in_memory in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut task = task(&topology(Kind::Session, true, in_memory), 0, 1 << 20, &dir);
        process_all(&mut task, &[("k", 0)], 0);
        task.flush_stores().unwrap();
        assert_eq!(
            written(&drain(&mut task), "out"),
            owned(&[("[k@0/0]", "1", 0)])
        );
        // 5 merges [0,0] into [0,5]; 30 opens [30,30], which 35 merges into [30,35] before the
        // commit: downstream never saw [30,30], so it gets no tombstone for it.
        process_all(&mut task, &[("k", 5), ("k", 30), ("k", 35)], 1);
        task.flush_stores().unwrap();
        assert_eq!(
            written(&drain(&mut task), "out"),
            owned(&[
                ("[k@0/0]", "", 0),
                ("[k@0/5]", "2", 5),
                ("[k@30/35]", "2", 35),
            ]),
            "in_memory = {in_memory}"
        );
    }
}

#[test]
fn a_small_cache_forwards_what_it_evicts_while_processing() {
    let dir = tempfile::tempdir().unwrap();
    // Room for about one window.
    let mut task = task(&topology(Kind::Tumbling, true, true), 0, 150, &dir);
    process_all(&mut task, &[("a", 1), ("b", 2), ("c", 3)], 0);
    let early = written(&drain(&mut task), "out");
    assert!(
        !early.is_empty(),
        "evictions are forwarded before the commit"
    );
    task.flush_stores().unwrap();
    let mut all = early;
    all.extend(written(&drain(&mut task), "out"));
    assert_eq!(
        table(&all),
        table(&owned(&[
            ("[a@0/100]", "1", 1),
            ("[b@0/100]", "1", 2),
            ("[c@0/100]", "1", 3)
        ]))
    );
}

/// Random records: a few keys, timestamps mostly increasing with some disorder (some late).
fn inputs() -> impl Strategy<Value = Vec<(u8, i64)>> {
    proptest::collection::vec((0u8..3, -40i64..60), 1..50).prop_map(|steps| {
        let mut time = 0i64;
        steps
            .into_iter()
            .map(|(k, step)| {
                time = (time + step.max(0)).max(0);
                (k, (time + step.min(0)).max(0))
            })
            .collect()
    })
}

const KEYS: [&str; 3] = ["a", "b", "c"];

/// What `out` receives from `kind` over `input` through a task, committing after the records
/// whose index is in `commits` and at the end.
fn through_task(
    kind: Kind,
    cached: bool,
    cache_bytes: usize,
    input: &[(u8, i64)],
    commits: &[bool],
) -> Vec<(String, String, i64)> {
    let dir = tempfile::tempdir().unwrap();
    let mut task = task(&topology(kind, cached, true), 0, cache_bytes, &dir);
    let mut out = Vec::new();
    for (i, (k, ts)) in input.iter().enumerate() {
        task.process(
            &"in".into(),
            record(i as i64, KEYS[*k as usize], Some("x"), *ts),
        )
        .unwrap();
        if commits.get(i).copied().unwrap_or(false) {
            task.commit_stores().unwrap();
        }
        out.extend(written(&drain(&mut task), "out"));
    }
    task.flush_stores().unwrap();
    out.extend(written(&drain(&mut task), "out"));
    out
}

/// What one record sent to `out`, keeping of consecutive updates of one key only the last.
fn last_of_consecutive_writes(batch: Vec<(String, String, i64)>) -> Vec<(String, String, i64)> {
    let mut kept: Vec<(String, String, i64)> = Vec::with_capacity(batch.len());
    for update in batch {
        if kept.last().is_some_and(|(key, _, _)| *key == update.0) {
            kept.pop();
        }
        kept.push(update);
    }
    kept
}

/// What `out` receives from `kind` through the test driver, per input record.
fn through_driver(
    kind: Kind,
    cached: bool,
    input: &[(u8, i64)],
) -> Vec<Vec<(String, String, i64)>> {
    let driver = TopologyTestDriver::new(topology(kind, cached, true)).unwrap();
    let topic = driver.create_input_topic("in", StringSerde, StringSerde);
    let out = driver.create_output_topic("out", StringSerde, StringSerde);
    input
        .iter()
        .map(|(k, ts)| {
            topic.pipe_input_with_timestamp(KEYS[*k as usize], "x", *ts);
            out.read_records_to_list()
                .into_iter()
                .map(|r| (r.key, r.value, r.timestamp))
                .collect()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// With commits anywhere (and evictions, with a small cache), a cached aggregation ends at
    /// the same table as an uncached one; what emits final results emits the same ones.
    #[test]
    fn cached_windowed_aggregations_end_where_uncached_ones_do(
        input in inputs(),
        commits in proptest::collection::vec(proptest::bool::weighted(0.2), 50),
        cache_bytes in prop_oneof![Just(200usize), Just(1 << 20)],
    ) {
        for kind in KINDS {
            let uncached = through_task(kind, false, cache_bytes, &input, &commits);
            let cached = through_task(kind, true, cache_bytes, &input, &commits);
            match kind {
                Kind::Suppressed | Kind::OnClose => {
                    let mut a = uncached.clone();
                    let mut b = cached.clone();
                    a.sort();
                    b.sort();
                    prop_assert_eq!(a, b, "{:?}", kind);
                }
                _ => {
                    prop_assert_eq!(table(&uncached), table(&cached), "{:?}", kind);
                    prop_assert!(cached.len() <= uncached.len(), "{:?}: the cache only dedupes", kind);
                }
            }
        }
    }

    /// The test driver commits after every record: with a cache, its output is the uncached
    /// output exactly — except where one record writes a window or session twice in a row,
    /// which the cache (like Kafka's, which keeps the last write of a key) forwards once: a
    /// record inside a session re-writes it (a tombstone, then the new aggregate), and a sliding
    /// window record's left window can be its predecessor's right window, which Kafka creates
    /// twice.
    #[test]
    fn through_the_driver_cached_output_equals_uncached_output(input in inputs()) {
        for kind in KINDS {
            let uncached: Vec<_> = through_driver(kind, false, &input)
                .into_iter()
                .flat_map(last_of_consecutive_writes)
                .collect();
            let cached: Vec<_> = through_driver(kind, true, &input).concat();
            prop_assert_eq!(cached, uncached, "{:?}", kind);
        }
    }
}

/// Found by the property test above: a record 20 ms behind stream time 50 (grace 20, time
/// difference 30) still belongs to the open window [0, 30], which a store keeping only time
/// difference + grace had already expired — the uncached processor forwarded it, the store lost
/// it. Sliding-window stores keep twice the time difference + grace, as Kafka's do.
#[test]
fn sliding_windows_keep_every_window_still_open() {
    for cached in [true, false] {
        let driver = TopologyTestDriver::new(topology(Kind::Sliding, cached, true)).unwrap();
        let input = driver.create_input_topic("in", StringSerde, StringSerde);
        input.pipe_input_with_timestamp("c", "x", 49);
        input.pipe_input_with_timestamp("c", "x", 50);
        input.pipe_input_with_timestamp("a", "x", 30);
        input.pipe_input_with_timestamp("a", "x", 25);
        let store = driver
            .get_timestamped_window_store("counts", StringSerde, crate::serde::I64Serde, 30)
            .unwrap();
        assert_eq!(
            store.fetch(&"a".to_string(), 0).unwrap(),
            Some((2, 30)),
            "cached = {cached}"
        );
    }
}

#[test]
fn a_flushed_window_or_session_carries_the_headers_of_its_last_write() {
    for kind in [Kind::Tumbling, Kind::Sliding, Kind::Session] {
        let dir = tempfile::tempdir().unwrap();
        let mut task = task(&topology(kind, true, true), 0, 1 << 20, &dir);
        let with_header = |offset: i64, key: &str, ts: i64, trace: Option<&str>| {
            let mut r = record(offset, key, Some("x"), ts);
            if let Some(trace) = trace {
                r.headers = Headers::new().with("trace", trace);
            }
            r
        };
        task.process(&"in".into(), with_header(0, "a", 1, Some("first")))
            .unwrap();
        task.process(&"in".into(), with_header(1, "a", 2, Some("second")))
            .unwrap();
        task.process(&"in".into(), with_header(2, "b", 3, Some("b's")))
            .unwrap();
        task.process(&"in".into(), with_header(3, "b", 4, None))
            .unwrap();
        task.flush_stores().unwrap();
        let traces: BTreeMap<String, Option<String>> = drain(&mut task)
            .iter()
            .filter(|r| &*r.topic == "out")
            .map(|r| {
                let key = String::from_utf8(r.key.clone().unwrap()).unwrap();
                let trace = r
                    .headers
                    .last("trace")
                    .map(|h| String::from_utf8(h.value.clone().unwrap_or_default()).unwrap());
                (key, trace)
            })
            .collect();
        let a = traces.iter().find(|(k, _)| k.starts_with("[a@")).unwrap();
        let b = traces.iter().find(|(k, _)| k.starts_with("[b@")).unwrap();
        assert_eq!(a.1.as_deref(), Some("second"), "{kind:?}: {traces:?}");
        assert_eq!(b.1.as_deref(), None, "{kind:?}: {traces:?}");
    }
}

/// The application's `statestore.cache.max.bytes` is shared among the cached stores, windowed
/// ones included; with no bytes to share, a windowed aggregation forwards every update.
#[test]
fn window_and_session_stores_take_a_share_of_the_cache_size() {
    for kind in [Kind::Tumbling, Kind::Sliding, Kind::Session] {
        assert_eq!(
            topology(kind, true, true).cached_store_count(),
            1,
            "{kind:?}"
        );
        assert_eq!(
            topology(kind, false, true).cached_store_count(),
            0,
            "{kind:?}"
        );
    }
    // Emitting on window close never caches.
    assert_eq!(topology(Kind::OnClose, true, true).cached_store_count(), 0);
    let dir = tempfile::tempdir().unwrap();
    let mut task = task(&topology(Kind::Tumbling, true, true), 0, 0, &dir);
    process_all(&mut task, &[("a", 1), ("a", 5)], 0);
    assert_eq!(
        written(&drain(&mut task), "out"),
        owned(&[("[a@0/100]", "1", 1), ("[a@0/100]", "2", 5)])
    );
}
