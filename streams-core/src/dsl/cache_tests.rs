//! The record cache in front of DSL stores, at the level of a task: several records between two
//! commits (the test driver commits after every record, so it cannot show the difference).

use std::sync::Arc;

use crate::prelude::*;
use crate::processor::task::{Task, TaskStores};
use crate::processor::TaskId;
use crate::record::packed::Packed;
use crate::record::ConsumedRecord;
use crate::serde::{I64Serde, StringSerde};

/// A task for sub-topology `sub` of `topology` in application `app`, with `cache_bytes` of record
/// cache per cached store, its persistent stores under `dir`.
pub(super) fn task(
    topology: &Topology,
    sub: u32,
    cache_bytes: usize,
    dir: &tempfile::TempDir,
) -> Task {
    let id = TaskId {
        subtopology: sub,
        partition: 0,
    };
    let rocksdb =
        streams_state::RocksDbResources::new(streams_state::RocksDbConfig::default()).unwrap();
    let directory = streams_state::StateDirectory::new(dir.path(), "app".to_string());
    let stores = TaskStores::new("app", id, Some((directory, rocksdb)), cache_bytes);
    let mut task = topology.create_task(id, "app", 0, &stores).unwrap();
    task.init().unwrap();
    task
}

/// An input record at `offset` (its topic is given to `Task::process` beside it).
pub(super) fn record(offset: i64, key: &str, value: Option<&str>, ts: i64) -> ConsumedRecord {
    ConsumedRecord {
        partition: 0,
        offset,
        timestamp: ts,
        key: Some(key.as_bytes().to_vec()),
        value: value.map(|v| v.as_bytes().to_vec()),
        headers: Headers::new(),
    }
}

/// A record a task wrote, with its topic's name.
pub(super) struct Written {
    pub(super) topic: Arc<str>,
    pub(super) key: Option<Vec<u8>>,
    pub(super) value: Option<Vec<u8>>,
    pub(super) timestamp: i64,
    pub(super) headers: Headers,
}

/// What `task` wrote since the last call: its sinks' records, then its changelogs'.
pub(super) fn drain(task: &mut Task) -> Vec<Written> {
    let mut out = Vec::new();
    task.drain_output(&mut out);
    let mut written: Vec<Written> = out
        .into_iter()
        .map(|r| Written {
            topic: Arc::clone(&task.output_topics()[r.topic as usize]),
            key: r.key,
            value: r.value,
            timestamp: r.timestamp,
            headers: r.headers,
        })
        .collect();
    task.drain_changelog(|_, topic, packed, _| {
        written.extend(Packed::all(packed).map(|r| Written {
            topic: Arc::clone(topic),
            key: r.key.map(<[u8]>::to_vec),
            value: r.value.map(<[u8]>::to_vec),
            timestamp: r.timestamp,
            headers: Headers::new(),
        }));
        Ok::<(), crate::Error>(())
    })
    .unwrap();
    written
}

/// `(key, count, timestamp)` of the records written to `topic`, counts as `i64`.
fn counts(records: &[Written], topic: &str) -> Vec<(String, Option<i64>, i64)> {
    records
        .iter()
        .filter(|r| &*r.topic == topic)
        .map(|r| {
            let key = String::from_utf8(r.key.clone().unwrap()).unwrap();
            let count = r
                .value
                .as_ref()
                .map(|v| i64::from_be_bytes(v.as_slice().try_into().unwrap()));
            (key, count, r.timestamp)
        })
        .collect()
}

fn owned(expected: &[(&str, Option<i64>, i64)]) -> Vec<(String, Option<i64>, i64)> {
    expected
        .iter()
        .map(|(k, v, t)| (k.to_string(), *v, *t))
        .collect()
}

/// `in` → group by key → count into store `counts` → `out`.
fn word_count(materialized: Materialized<String, i64>) -> Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream("in", Consumed::with(StringSerde, StringSerde))
        .group_by_key(Grouped::with(StringSerde, StringSerde))
        .count(materialized)
        .to_stream()
        .to("out", Produced::with(StringSerde, Serdes::option(I64Serde)));
    builder.build().unwrap()
}

fn backends() -> [(&'static str, Materialized<String, i64>); 2] {
    [
        ("rocksdb", Materialized::as_("counts")),
        ("in-memory", Materialized::as_("counts").with_in_memory()),
    ]
}

#[test]
fn cached_count_forwards_and_logs_one_update_per_key_per_commit() {
    for (backend, materialized) in backends() {
        let dir = tempfile::tempdir().unwrap();
        let mut task = task(&word_count(materialized), 0, 1 << 20, &dir);
        for (offset, (key, ts)) in [("a", 1), ("a", 5), ("b", 3), ("a", 2)].iter().enumerate() {
            task.process(&"in".into(), record(offset as i64, key, Some("x"), *ts))
                .unwrap();
        }
        assert!(
            drain(&mut task).is_empty(),
            "{backend}: nothing before the commit"
        );
        task.flush_stores().unwrap();
        let out = drain(&mut task);
        // In the order of each key's last write, with the latest aggregate's timestamp.
        assert_eq!(
            counts(&out, "out"),
            owned(&[("b", Some(1), 3), ("a", Some(3), 5)]),
            "{backend}"
        );
        assert_eq!(
            counts(&out, "app-counts-changelog"),
            owned(&[("b", Some(1), 3), ("a", Some(3), 5)]),
            "{backend}"
        );
        // A commit with nothing new forwards nothing.
        task.flush_stores().unwrap();
        assert!(drain(&mut task).is_empty(), "{backend}");
        task.process(&"in".into(), record(4, "a", Some("x"), 7))
            .unwrap();
        task.flush_stores().unwrap();
        assert_eq!(
            counts(&drain(&mut task), "out"),
            owned(&[("a", Some(4), 7)]),
            "{backend}"
        );
    }
}

#[test]
fn caching_disabled_forwards_every_update() {
    for (backend, materialized) in backends() {
        let dir = tempfile::tempdir().unwrap();
        let topology = word_count(materialized.with_caching_disabled());
        let mut task = task(&topology, 0, 1 << 20, &dir);
        for (offset, ts) in [1, 2, 3].into_iter().enumerate() {
            task.process(&"in".into(), record(offset as i64, "a", Some("x"), ts))
                .unwrap();
        }
        let out = drain(&mut task);
        let expected = owned(&[("a", Some(1), 1), ("a", Some(2), 2), ("a", Some(3), 3)]);
        assert_eq!(counts(&out, "out"), expected, "{backend}");
        assert_eq!(counts(&out, "app-counts-changelog"), expected, "{backend}");
    }
}

#[test]
fn a_zero_cache_size_disables_caching() {
    let dir = tempfile::tempdir().unwrap();
    let mut task = task(&word_count(Materialized::as_("counts")), 0, 0, &dir);
    task.process(&"in".into(), record(0, "a", Some("x"), 1))
        .unwrap();
    task.process(&"in".into(), record(1, "a", Some("x"), 2))
        .unwrap();
    assert_eq!(
        counts(&drain(&mut task), "out"),
        owned(&[("a", Some(1), 1), ("a", Some(2), 2)])
    );
}

#[test]
fn a_full_cache_forwards_what_it_evicts_while_processing() {
    for (backend, materialized) in backends() {
        let dir = tempfile::tempdir().unwrap();
        // Room for two entries of a one-letter key and a timestamped count, not three.
        let mut task = task(&word_count(materialized), 0, 200, &dir);
        task.process(&"in".into(), record(0, "a", Some("x"), 1))
            .unwrap();
        task.process(&"in".into(), record(1, "b", Some("x"), 2))
            .unwrap();
        task.process(&"in".into(), record(2, "a", Some("x"), 3))
            .unwrap();
        assert!(drain(&mut task).is_empty(), "{backend}: both fit");
        // The third key overflows the cache: every dirty entry is flushed and forwarded within
        // this call, in the order of last write.
        task.process(&"in".into(), record(3, "c", Some("x"), 4))
            .unwrap();
        let out = drain(&mut task);
        let expected = owned(&[("b", Some(1), 2), ("a", Some(2), 3), ("c", Some(1), 4)]);
        assert_eq!(counts(&out, "out"), expected, "{backend}");
        assert_eq!(counts(&out, "app-counts-changelog"), expected, "{backend}");
        task.flush_stores().unwrap();
        assert!(drain(&mut task).is_empty(), "{backend}: nothing left");
    }
}

/// Moves what `from` wrote to `topic` into `to`, as the broker would.
fn route(records: &[Written], topic: &str, to: &mut Task) {
    for (offset, r) in records.iter().filter(|r| &*r.topic == topic).enumerate() {
        to.process(
            &r.topic,
            ConsumedRecord {
                partition: 0,
                offset: offset as i64,
                timestamp: r.timestamp,
                key: r.key.clone(),
                value: r.value.clone(),
                headers: r.headers.clone(),
            },
        )
        .unwrap();
    }
}

#[test]
fn cached_tables_forward_the_value_at_the_last_flush_as_old_value() {
    // users → region table (cached) → regrouped by region → count per region (cached).
    for in_memory in [false, true] {
        let builder = StreamsBuilder::new();
        let users = if in_memory {
            Materialized::as_("users").with_in_memory()
        } else {
            Materialized::as_("users")
        };
        builder
            .table("users", Consumed::with(StringSerde, StringSerde), users)
            .group_by(
                |_user: &String, region: &String| (region.clone(), region.clone()),
                Grouped::with(StringSerde, StringSerde),
            )
            .count(Materialized::as_("regions"))
            .to_stream()
            .to("out", Produced::with(StringSerde, Serdes::option(I64Serde)));
        let topology = builder.build().unwrap();
        let repartition = format!("app-{}", topology.repartition_topics()[0].name);
        let dir = tempfile::tempdir().unwrap();
        let mut source = task(&topology, 0, 1 << 20, &dir);
        let mut regions = task(&topology, 1, 1 << 20, &dir);
        let mut commit = |records: Vec<ConsumedRecord>| {
            for r in records {
                source.process(&"users".into(), r).unwrap();
            }
            source.flush_stores().unwrap();
            route(&drain(&mut source), &repartition, &mut regions);
            regions.flush_stores().unwrap();
            counts(&drain(&mut regions), "out")
        };
        // u moves through three regions in one commit: only its last one is counted.
        let out = commit(vec![
            record(0, "u", Some("A"), 1),
            record(1, "u", Some("B"), 2),
            record(2, "u", Some("C"), 3),
        ]);
        assert_eq!(out, owned(&[("C", Some(1), 3)]), "in_memory = {in_memory}");
        // Moving on from C subtracts from C (the old value is the one at the last flush, not B)
        // and counts in A.
        let out = commit(vec![
            record(3, "u", Some("B"), 4),
            record(4, "u", Some("A"), 5),
        ]);
        assert_eq!(
            out,
            owned(&[("C", Some(0), 5), ("A", Some(1), 5)]),
            "in_memory = {in_memory}"
        );
        // A delete is forwarded with the value at the last flush too.
        let out = commit(vec![record(5, "u", None, 6)]);
        assert_eq!(out, owned(&[("A", Some(0), 6)]), "in_memory = {in_memory}");
    }
}

#[test]
fn closing_a_task_forwards_what_its_caches_still_hold() {
    let dir = tempfile::tempdir().unwrap();
    let mut task = task(&word_count(Materialized::as_("counts")), 0, 1 << 20, &dir);
    task.process(&"in".into(), record(0, "a", Some("x"), 1))
        .unwrap();
    task.process(&"in".into(), record(1, "a", Some("x"), 2))
        .unwrap();
    task.close().unwrap();
    assert_eq!(
        counts(&drain(&mut task), "out"),
        owned(&[("a", Some(2), 2)])
    );
}

#[test]
fn a_flushed_update_carries_the_headers_of_the_last_write() {
    let dir = tempfile::tempdir().unwrap();
    let mut task = task(&word_count(Materialized::as_("counts")), 0, 1 << 20, &dir);
    let with_header = |offset: i64, key: &str, trace: Option<&str>| {
        let mut r = record(offset, key, Some("x"), offset);
        if let Some(trace) = trace {
            r.headers = Headers::new().with("trace", trace);
        }
        r
    };
    task.process(&"in".into(), with_header(0, "a", Some("first")))
        .unwrap();
    task.process(&"in".into(), with_header(1, "a", Some("second")))
        .unwrap();
    task.process(&"in".into(), with_header(2, "b", Some("b's")))
        .unwrap();
    task.process(&"in".into(), with_header(3, "b", None))
        .unwrap();
    task.flush_stores().unwrap();
    let traces: Vec<(String, Option<String>)> = drain(&mut task)
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
    assert_eq!(
        traces,
        [
            ("a".to_string(), Some("second".to_string())),
            ("b".to_string(), None)
        ]
    );
}
