//! Driver tests of versioned stores and tables (KIP-889/914) and of stream-table joins against
//! them, with and without a grace period (KIP-923).

use std::collections::BTreeMap;
use std::time::Duration;

use super::test_support::{ms, outputs, owned, strings};
use crate::prelude::*;
use crate::processor::{Processor, ProcessorContext};
use crate::record::Record;
use crate::serde::StringSerde;
use crate::state::{Stores, VersionedKeyValueStoreRef, VersionedRecord};

fn versioned(name: &str, history_retention: Duration) -> Materialized<String, String> {
    Materialized::as_versioned(Stores::persistent_versioned_key_value_store(
        name,
        history_retention,
    ))
}

fn record(value: &str, timestamp: i64, valid_to: Option<i64>) -> Option<VersionedRecord<String>> {
    Some(VersionedRecord {
        value: value.to_string(),
        timestamp,
        valid_to,
    })
}

/// A versioned source table writes every update into the key's history and forwards it — an
/// out-of-order one marked as not the latest, which `to_stream` still shows, as Kafka's
/// (KIP-914) — and drops what is older than the history retention altogether.
#[test]
fn a_versioned_table_keeps_history_and_forwards_every_stored_update() {
    let builder = StreamsBuilder::new();
    builder
        .table(
            "in",
            strings(),
            versioned("table", Duration::from_millis(100)),
        )
        .to_stream()
        .to(
            "out",
            Produced::with(Serdes::string(), Serdes::option(Serdes::string())),
        );
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("in", Serdes::string(), Serdes::option(Serdes::string()));
    let output =
        driver.create_output_topic("out", Serdes::string(), Serdes::option(Serdes::string()));
    input.pipe_input_with_timestamp("a", Some("1".to_string()), 10);
    input.pipe_input_with_timestamp("a", Some("2".to_string()), 20);
    input.pipe_input_with_timestamp("a", Some("late".to_string()), 15); // out of order: history, forwarded
    input.pipe_input_with_timestamp("b", None::<String>, 30); // tombstone of nothing: forwarded
    input.pipe_input_with_timestamp("a", None::<String>, 40); // delete: forwarded
    input.pipe_input_with_timestamp("a", Some("3".to_string()), 200);
    input.pipe_input_with_timestamp("a", Some("too-old".to_string()), 99); // 99 < 200 - 100
    let forwarded: Vec<_> = output
        .read_records_to_list()
        .into_iter()
        .map(|r| (r.key, r.value, r.timestamp))
        .collect();
    let some = |v: &str| Some(v.to_string());
    assert_eq!(
        forwarded,
        vec![
            ("a".to_string(), some("1"), 10),
            ("a".to_string(), some("2"), 20),
            ("a".to_string(), some("late"), 15),
            ("b".to_string(), None, 30),
            ("a".to_string(), None, 40),
            ("a".to_string(), some("3"), 200),
        ]
    );

    let store = driver
        .get_versioned_key_value_store("table", StringSerde, StringSerde)
        .unwrap();
    let a = "a".to_string();
    assert_eq!(store.get(&a).unwrap(), record("3", 200, None));
    assert_eq!(store.get_as_of(&a, 150).unwrap(), None, "deleted at 40");
    assert_eq!(
        store.get_as_of(&a, 99).unwrap(),
        None,
        "too-old was not written"
    );
    assert_eq!(
        store.get_as_of(&a, 10).unwrap(),
        None,
        "beyond the history retention"
    );
    assert_eq!(store.history_retention_ms(), 100);
    assert_eq!(
        driver.get_state_store("table"),
        Some(crate::state::StoreKind::Versioned)
    );
}

/// The history within retention answers `get_as_of`, out-of-order updates included.
#[test]
fn a_versioned_table_answers_as_of_queries_from_its_history() {
    let builder = StreamsBuilder::new();
    builder.table("in", strings(), versioned("table", Duration::from_secs(60)));
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("in", StringSerde, StringSerde);
    input.pipe_input_with_timestamp("k", "v10", 10);
    input.pipe_input_with_timestamp("k", "v30", 30);
    input.pipe_input_with_timestamp("k", "v20", 20);
    let store = driver
        .get_versioned_key_value_store("table", StringSerde, StringSerde)
        .unwrap();
    let k = "k".to_string();
    assert_eq!(store.get_as_of(&k, 9).unwrap(), None);
    assert_eq!(
        store.get_as_of(&k, 15).unwrap(),
        record("v10", 10, Some(20))
    );
    assert_eq!(
        store.get_as_of(&k, 20).unwrap(),
        record("v20", 20, Some(30))
    );
    assert_eq!(store.get_as_of(&k, 31).unwrap(), record("v30", 30, None));
    // A versioned table's store is no timestamped store.
    let error = driver
        .get_timestamped_key_value_store("table", StringSerde, StringSerde)
        .err()
        .unwrap();
    assert!(
        error.to_string().contains("versioned key-value store"),
        "{error}"
    );
}

/// Without a grace period, a stream record joins the version of the table valid at its own
/// timestamp (KIP-914), so a late stream record finds the table as it was then.
#[test]
fn a_stream_joins_a_versioned_table_as_of_each_record_timestamp() {
    let builder = StreamsBuilder::new();
    let table = builder.table(
        "table",
        strings(),
        versioned("prices", Duration::from_secs(60)),
    );
    let stream = builder.stream("stream", strings());
    stream
        .join(
            &table,
            |s: &String, t: &String| format!("{s}+{t}"),
            Joined::with(Serdes::string(), Serdes::string()),
        )
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    stream
        .left_join(
            &table,
            |s: &String, t: Option<&String>| format!("{s}+{}", t.map_or("null", String::as_str)),
            Joined::with(Serdes::string(), Serdes::string()),
        )
        .to("left", Produced::with(Serdes::string(), Serdes::string()));
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let table_in = driver.create_input_topic("table", StringSerde, StringSerde);
    let stream_in = driver.create_input_topic("stream", StringSerde, StringSerde);
    table_in.pipe_input_with_timestamp("k", "v1", 10);
    table_in.pipe_input_with_timestamp("k", "v2", 20);
    stream_in.pipe_input_with_timestamp("k", "s15", 15);
    stream_in.pipe_input_with_timestamp("k", "s25", 25);
    stream_in.pipe_input_with_timestamp("k", "s5", 5);
    assert_eq!(
        outputs(&driver),
        owned(&[("k", "s15+v1", 15), ("k", "s25+v2", 25)])
    );
    let left: Vec<_> = driver
        .create_output_topic("left", StringSerde, StringSerde)
        .read_values_to_list();
    assert_eq!(left, ["s15+v1", "s25+v2", "s5+null"]);
}

/// The same through a `filter` without a store of its own: the view reads the versioned store
/// as of the record's time, and the table counts as versioned.
#[test]
fn a_filtered_versioned_table_is_versioned_too() {
    let builder = StreamsBuilder::new();
    let table = builder
        .table(
            "table",
            strings(),
            versioned("prices", Duration::from_secs(60)),
        )
        .filter(|_, v| v != "hidden");
    assert!(table.is_versioned());
    builder
        .stream("stream", strings())
        .join(
            &table,
            |s: &String, t: &String| format!("{s}+{t}"),
            Joined::with(Serdes::string(), Serdes::string()),
        )
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let table_in = driver.create_input_topic("table", StringSerde, StringSerde);
    let stream_in = driver.create_input_topic("stream", StringSerde, StringSerde);
    table_in.pipe_input_with_timestamp("k", "v1", 10);
    table_in.pipe_input_with_timestamp("k", "hidden", 20);
    stream_in.pipe_input_with_timestamp("k", "s25", 25);
    stream_in.pipe_input_with_timestamp("k", "s15", 15);
    assert_eq!(outputs(&driver), owned(&[("k", "s15+v1", 15)]));
}

/// `KStream::to_table_with` a versioned store makes a versioned table, as a source table's: a
/// grace-period join accepts it and reads it as of each record's time.
#[test]
fn a_stream_turned_into_a_versioned_table_is_versioned() {
    let builder = StreamsBuilder::new();
    let table = builder.stream("updates", strings()).to_table_with(
        versioned("table", Duration::from_secs(60))
            .with_key_serde(Serdes::string())
            .with_value_serde(Serdes::string()),
    );
    assert!(table.is_versioned());
    table.to_stream().to(
        "changes",
        Produced::with(Serdes::string(), Serdes::option(Serdes::string())),
    );
    builder
        .stream("stream", strings())
        .join(
            &table,
            |s: &String, t: &String| format!("{s}+{t}"),
            Joined::with(Serdes::string(), Serdes::string()).with_grace_period(ms(5)),
        )
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let updates = driver.create_input_topic("updates", StringSerde, StringSerde);
    let stream = driver.create_input_topic("stream", StringSerde, StringSerde);
    updates.pipe_input_with_timestamp("k", "v20", 20);
    stream.pipe_input_with_timestamp("k", "s15", 15); // waits for stream time 20
    updates.pipe_input_with_timestamp("k", "v10", 10); // late: history, forwarded as not latest
    stream.pipe_input_with_timestamp("k", "s20", 20); // stream time 20: s15 is due
    assert_eq!(outputs(&driver), owned(&[("k", "s15+v10", 15)]));
    let changes = driver
        .create_output_topic("changes", StringSerde, Serdes::option(StringSerde))
        .read_values_to_list();
    assert_eq!(changes, [Some("v20".to_string()), Some("v10".to_string())]);
}

// KTableFilterTest#shouldNotSkipNullIfVersionedUpstream: the filter of a versioned table
// forwards a delete for every row it filters out, even one it had filtered out already.
#[test]
fn a_filter_of_a_versioned_table_forwards_every_delete() {
    let builder = StreamsBuilder::new();
    builder
        .table(
            "topic1",
            strings(),
            versioned("versioned", Duration::from_secs(300)),
        )
        .filter(|_, value| value.eq_ignore_ascii_case("accept"))
        .to_stream()
        .to(
            "out",
            Produced::with(Serdes::string(), Serdes::option(Serdes::string())),
        );
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("topic1", StringSerde, StringSerde);
    input.pipe_input_with_timestamp("A", "reject", 5);
    input.pipe_input_with_timestamp("B", "reject", 10);
    input.pipe_input_with_timestamp("C", "reject", 20);
    let out: Vec<_> = driver
        .create_output_topic("out", StringSerde, Serdes::option(StringSerde))
        .read_records_to_list()
        .into_iter()
        .map(|r| (r.key, r.value, r.timestamp))
        .collect();
    assert_eq!(
        out,
        vec![
            ("A".to_string(), None, 5),
            ("B".to_string(), None, 10),
            ("C".to_string(), None, 20),
        ]
    );
}

#[test]
fn only_source_tables_can_be_versioned() {
    let builder = StreamsBuilder::new();
    builder
        .stream("in", strings())
        .group_by_key(Grouped::with(Serdes::string(), Serdes::string()))
        .count(Materialized::as_versioned(
            Stores::persistent_versioned_key_value_store("counts", Duration::from_secs(60)),
        ));
    let error = builder.build().err().unwrap().to_string();
    assert!(
        error.contains("cannot be materialized in the versioned store `counts`"),
        "{error}"
    );

    let builder = StreamsBuilder::new();
    builder.global_table(
        "in",
        strings(),
        versioned("global", Duration::from_secs(60)),
    );
    let error = builder.build().err().unwrap().to_string();
    assert!(
        error.contains("a global table cannot be versioned"),
        "{error}"
    );
}

// Kafka's KTableImpl#suppress check (KIP-914): a versioned table, or one derived from it
// without a store, cannot be suppressed.
#[test]
fn a_versioned_table_cannot_be_suppressed() {
    let builder = StreamsBuilder::new();
    builder
        .table("in", strings(), versioned("table", Duration::from_secs(60)))
        .filter(|_, _| true)
        .suppress(Suppressed::until_time_limit(
            ms(10),
            BufferConfig::unbounded(),
        ));
    let error = builder.build().err().unwrap().to_string();
    assert!(
        error.contains("suppress() is only supported for non-versioned KTables"),
        "{error}"
    );
}

/// `Materialized::with_in_memory` keeps a versioned table in memory, with the same semantics.
#[test]
fn a_versioned_table_can_live_in_memory() {
    let builder = StreamsBuilder::new();
    builder.table(
        "in",
        strings(),
        versioned("table", Duration::from_secs(60)).with_in_memory(),
    );
    let topology = builder.build().unwrap();
    let driver = TopologyTestDriver::new(topology).unwrap();
    let input = driver.create_input_topic("in", StringSerde, StringSerde);
    input.pipe_input_with_timestamp("k", "v2", 20);
    input.pipe_input_with_timestamp("k", "v1", 10);
    let store = driver
        .get_versioned_key_value_store("table", StringSerde, StringSerde)
        .unwrap();
    let k = "k".to_string();
    assert_eq!(store.get_as_of(&k, 15).unwrap(), record("v1", 10, Some(20)));
    assert_eq!(store.get(&k).unwrap(), record("v2", 20, None));
}

// KTableAggregateTest#testAggOfVersionedStore: out-of-order updates of a versioned table do not
// reach its aggregation ("null" and "NULL" rows have no group: a `None` key here).
#[test]
fn an_aggregation_of_a_versioned_table_ignores_out_of_order_updates() {
    let builder = StreamsBuilder::new();
    builder
        .table(
            "topic1",
            strings(),
            versioned("versioned", Duration::from_secs(300)),
        )
        .group_by(
            |key: &String, value: &String| match key.as_str() {
                "null" | "NULL" => (None, value.clone()),
                _ => (Some(value.clone()), value.clone()),
            },
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
            Produced::with(Serdes::option(StringSerde), Serdes::option(StringSerde)),
        );
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("topic1", StringSerde, Serdes::option(StringSerde));
    let some = |v: &str| Some(v.to_string());
    input.pipe_input_with_timestamp("A", some("1"), 10);
    input.pipe_input_with_timestamp("A", None::<String>, 15);
    input.pipe_input_with_timestamp("A", some("1"), 12); // out-of-order record will be ignored
    input.pipe_input_with_timestamp("B", some("2"), 20);
    input.pipe_input_with_timestamp("null", some("3"), 25);
    input.pipe_input_with_timestamp("B", some("4"), 23);
    input.pipe_input_with_timestamp("NULL", some("5"), 24);
    input.pipe_input_with_timestamp("B", some("7"), 22); // out-of-order record will be ignored
    let out: Vec<_> = driver
        .create_output_topic(
            "out",
            Serdes::option(StringSerde),
            Serdes::option(StringSerde),
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
        .collect();
    assert_eq!(
        out,
        owned(&[
            ("1", "0+1", 10),
            ("1", "0+1-1", 15),
            ("2", "0+2", 20),
            ("2", "0+2-2", 23),
            ("4", "0+4", 23),
        ])
    );
}

// KTableAggregateTest#testCountOfVersionedStore
#[test]
fn a_count_of_a_versioned_table_ignores_out_of_order_updates() {
    let builder = StreamsBuilder::new();
    builder
        .table(
            "count-test-input",
            strings(),
            versioned("versioned", Duration::from_secs(300)),
        )
        .group_by(
            |_, value: &String| (value.clone(), value.clone()),
            Grouped::with(Serdes::string(), Serdes::string()),
        )
        .count(Materialized::new())
        .to_stream()
        .to(
            "out",
            Produced::with(Serdes::string(), Serdes::option(Serdes::i64())),
        );
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("count-test-input", StringSerde, StringSerde);
    input.pipe_input_with_timestamp("A", "green", 10);
    input.pipe_input_with_timestamp("B", "green", 9);
    input.pipe_input_with_timestamp("A", "blue", 12);
    input.pipe_input_with_timestamp("A", "blue", 11); // out-of-order record will be ignored
    input.pipe_input_with_timestamp("C", "yellow", 15);
    input.pipe_input_with_timestamp("D", "green", 11);
    let out: Vec<_> = driver
        .create_output_topic("out", StringSerde, Serdes::option(Serdes::i64()))
        .read_records_to_list()
        .into_iter()
        .map(|r| (r.key, r.value, r.timestamp))
        .collect();
    let expected: Vec<_> = [
        ("green", 1, 10),
        ("green", 2, 10),
        ("green", 1, 12),
        ("blue", 1, 12),
        ("yellow", 1, 15),
        ("green", 2, 12),
    ]
    .iter()
    .map(|(k, n, ts)| (k.to_string(), Some(*n), *ts))
    .collect();
    assert_eq!(out, expected);
}

/// What `CheckStoreContents` expects the store to hold: per key, per timestamp, the value
/// written (`None`: deleted).
type Expected = BTreeMap<i32, BTreeMap<i64, Option<String>>>;

/// Kafka's `VersionedKeyValueStoreIntegrationTest.VersionedStoreContentCheckerProcessor`: writes
/// each record into the versioned store ("delete" deletes), then checks every version written so
/// far with a get as of its timestamp, and every key's latest, forwarding the number of failed
/// checks.
struct CheckStoreContents {
    data: Expected,
    store: Option<VersionedKeyValueStoreRef<i32, String>>,
}

impl CheckStoreContents {
    fn failed_checks(&self) -> crate::Result<i32> {
        let store = self.store.as_ref().expect("initialized");
        let matches =
            |found: Option<VersionedRecord<String>>, value: &Option<String>, ts: i64| match (
                found, value,
            ) {
                (None, None) => true,
                (Some(found), Some(value)) => found.value == *value && found.timestamp == ts,
                _ => false,
            };
        let mut failed = 0;
        for (key, versions) in &self.data {
            for (ts, value) in versions {
                failed += i32::from(!matches(store.get_as_of(key, *ts)?, value, *ts));
            }
            if let Some((ts, value)) = versions.iter().next_back() {
                failed += i32::from(!matches(store.get(key)?, value, *ts));
            }
        }
        Ok(failed)
    }
}

impl Processor<i32, Option<String>, i32, i32> for CheckStoreContents {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, i32, i32>) -> crate::Result<()> {
        self.store =
            Some(ctx.versioned_key_value_store("versioned", Serdes::i32(), StringSerde)?);
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<i32, Option<String>>,
        ctx: &mut ProcessorContext<'_, i32, i32>,
    ) -> crate::Result<()> {
        let store = self.store.as_ref().expect("initialized");
        match record.value.as_deref() {
            Some("delete") => {
                store.delete(&record.key, record.timestamp)?;
            }
            Some(value) => {
                store.put(&record.key, &value.to_string(), record.timestamp)?;
            }
            None => {
                // A tombstone through put: the typed handle's delete at that time.
                store.delete(&record.key, record.timestamp)?;
            }
        }
        let value = record.value.clone().filter(|v| v != "delete");
        self.data
            .entry(record.key)
            .or_default()
            .insert(record.timestamp, value);
        let failed = self.failed_checks()?;
        ctx.forward(record.with_value(failed))
    }
}

// VersionedKeyValueStoreIntegrationTest#shouldPutGetAndDelete, in the driver: the same
// records, timestamps relative to the same base, every check passing.
#[test]
fn a_processor_puts_gets_and_deletes_versions() {
    let builder = StreamsBuilder::new();
    builder.add_state_store(Stores::versioned_key_value_store_builder(
        Stores::persistent_versioned_key_value_store("versioned", Duration::from_secs(60)),
    ));
    builder
        .stream(
            "in",
            Consumed::with(Serdes::i32(), Serdes::option(StringSerde)),
        )
        .process_with_stores(
            || CheckStoreContents {
                data: Expected::new(),
                store: None,
            },
            &["versioned"],
        )
        .to("out", Produced::with(Serdes::i32(), Serdes::i32()));
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("in", Serdes::i32(), Serdes::option(StringSerde));
    let base = 1_000_000;
    let batch = |ts: i64, values: [Option<&str>; 3]| {
        for (key, value) in (1..=3).zip(values) {
            input.pipe_input_with_timestamp(key, value.map(str::to_string), ts);
        }
    };
    batch(base, [Some("a0"), Some("b0"), None]);
    batch(base + 5, [Some("a5"), None, Some("c5")]);
    batch(base + 2, [Some("a2"), Some("b2"), None]); // out-of-order data
    batch(base + 5, [Some("a5_new"), Some("b5"), None]); // replace existing records
    batch(base + 7, [Some("delete"); 3]); // delete
    let failed = driver
        .create_output_topic("out", Serdes::i32(), Serdes::i32())
        .read_values_to_list();
    assert_eq!(failed, vec![0; 15]);
}

// ---------------------------------------------------------------------------------------------
// Stream-table joins with a grace period (KIP-923).

/// Kafka's `KStreamKTableJoinTest#makeJoin`: integer keys and string values, a table in the
/// versioned store "V-grace" (5 minutes of history), joined as "Grace" with `grace`.
fn grace_join_driver(grace: Duration) -> TopologyTestDriver {
    let builder = StreamsBuilder::new();
    let consumed = || Consumed::with(Serdes::i32(), Serdes::string());
    let table = builder.table(
        "tableTopic2",
        consumed(),
        Materialized::as_versioned(Stores::persistent_versioned_key_value_store(
            "V-grace",
            Duration::from_secs(300),
        )),
    );
    builder
        .stream("streamTopic", consumed())
        .join(
            &table,
            |s: &String, t: &String| format!("{s}+{t}"), // MockValueJoiner.TOSTRING_JOINER
            Joined::with(Serdes::i32(), Serdes::string())
                .with_name("Grace")
                .with_grace_period(grace),
        )
        .to("out", Produced::with(Serdes::i32(), Serdes::string()));
    TopologyTestDriver::new(builder.build().unwrap()).unwrap()
}

/// `pushToStream`: keys 0..n with `prefix<key>` at timestamp = key.
fn push_to_stream(driver: &TopologyTestDriver, n: i32, prefix: &str) {
    let input = driver.create_input_topic("streamTopic", Serdes::i32(), Serdes::string());
    for key in 0..n {
        input.pipe_input_with_timestamp(key, format!("{prefix}{key}"), i64::from(key));
    }
}

/// `pushToTableNonRandom`: keys 0..n with `prefix<key>` at timestamp 0.
fn push_to_table(driver: &TopologyTestDriver, n: i32, prefix: &str) {
    let input = driver.create_input_topic("tableTopic2", Serdes::i32(), Serdes::string());
    for key in 0..n {
        input.pipe_input_with_timestamp(key, format!("{prefix}{key}"), 0);
    }
}

fn joined(driver: &TopologyTestDriver) -> Vec<(i32, String, i64)> {
    driver
        .create_output_topic("out", Serdes::i32(), Serdes::string())
        .read_records_to_list()
        .into_iter()
        .map(|r| (r.key, r.value, r.timestamp))
        .collect()
}

fn kvt(expected: &[(i32, &str, i64)]) -> Vec<(i32, String, i64)> {
    expected
        .iter()
        .map(|(k, v, t)| (*k, v.to_string(), *t))
        .collect()
}

// KStreamKTableJoinTest#shouldDelayJoinByGracePeriod
#[test]
fn a_grace_period_delays_the_join() {
    let driver = grace_join_driver(Duration::from_millis(2));

    // push four items to the table. this should not produce any item.
    push_to_table(&driver, 4, "Y");
    assert_eq!(joined(&driver), kvt(&[]));

    // push all four items to the primary stream. this should produce two items.
    push_to_stream(&driver, 4, "X");
    assert_eq!(joined(&driver), kvt(&[(0, "X0+Y0", 0), (1, "X1+Y1", 1)]));

    // push all items to the table. this should not produce any item
    push_to_table(&driver, 4, "YY");
    assert_eq!(joined(&driver), kvt(&[]));

    // push all four items to the primary stream. this should produce two items.
    push_to_stream(&driver, 4, "X");
    assert_eq!(joined(&driver), kvt(&[(0, "X0+YY0", 0), (1, "X1+YY1", 1)]));

    driver
        .create_input_topic("streamTopic", Serdes::i32(), Serdes::string())
        .pipe_input_with_timestamp(5, "test", 7);
    assert_eq!(
        joined(&driver),
        kvt(&[
            (2, "X2+YY2", 2),
            (2, "X2+YY2", 2),
            (3, "X3+YY3", 3),
            (3, "X3+YY3", 3),
        ])
    );

    // push all items to the table. this should not produce any item
    push_to_table(&driver, 4, "YYY");
    assert_eq!(joined(&driver), kvt(&[]));
}

// KStreamKTableJoinTest#shouldHandleLateJoinsWithGracePeriod
#[test]
fn a_record_later_than_the_grace_period_is_joined_at_once() {
    let driver = grace_join_driver(Duration::from_millis(2));

    // push four items to the table. this should not produce any item.
    push_to_table(&driver, 4, "Y");
    assert_eq!(joined(&driver), kvt(&[]));

    // push 4 records into the buffer and evict the first two
    push_to_stream(&driver, 4, "X");
    assert_eq!(joined(&driver), kvt(&[(0, "X0+Y0", 0), (1, "X1+Y1", 1)]));

    // should be processed immediately and not evict any other records
    push_to_stream(&driver, 1, "X");
    assert_eq!(joined(&driver), kvt(&[(0, "X0+Y0", 0)]));
}

/// The buffer is a changelogged store named after the join, connected to the join processor.
#[test]
fn the_grace_buffer_is_a_logged_store_of_the_join() {
    let driver = grace_join_driver(Duration::from_millis(2));
    assert_eq!(
        driver.get_state_store("Grace-Buffer"),
        Some(crate::state::StoreKind::KeyValue)
    );
    let builder = StreamsBuilder::new();
    let table = builder.table("t", strings(), versioned("table", Duration::from_secs(60)));
    builder
        .stream("s", strings())
        .join(
            &table,
            |s: &String, t: &String| format!("{s}+{t}"),
            Joined::with(Serdes::string(), Serdes::string())
                .with_name("j")
                .with_grace_period(Duration::from_millis(5)),
        )
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let topology = builder.build().unwrap();
    assert!(
        topology
            .describe()
            .to_string()
            .contains("Processor: j (stores: [j-Buffer, table])"),
        "{}",
        topology.describe()
    );
    assert!(topology
        .changelog_topics(0, "app")
        .contains(&"app-j-Buffer-changelog".to_string()));
}

fn grace_join(
    table: impl Fn(&StreamsBuilder) -> KTable<String, String>,
    grace: Duration,
) -> crate::Result<crate::Topology> {
    let builder = StreamsBuilder::new();
    let table = table(&builder);
    builder
        .stream("topic", strings())
        .join(
            &table,
            |a: &String, b: &String| format!("{a}{b}"),
            Joined::with(Serdes::string(), Serdes::string())
                .with_name("first-join")
                .with_grace_period(grace),
        )
        .to(
            "out-one",
            Produced::with(Serdes::string(), Serdes::string()),
        );
    builder.build()
}

// KStreamKTableJoinTest#shouldFailIfTableIsNotVersioned,
// #shouldFailIfTableIsNotVersionedButMaterializationIsInherited,
// #shouldNotFailIfTableIsVersionedButMaterializationIsInherited,
// #shouldFailIfGracePeriodIsLongerThanHistoryRetention and
// #shouldFailIfGracePeriodIsLongerThanHistoryRetentionAndInheritedStore
#[test]
fn a_grace_period_needs_a_versioned_table_with_enough_history() {
    let not_versioned = "KTable must be versioned to use a grace period in a stream table join.";
    let too_short = "History retention must be at least grace period.";
    let error = |t: crate::Result<crate::Topology>| t.err().unwrap().to_string();

    let plain = grace_join(|b| b.table("topic2", strings(), Materialized::new()), ms(6));
    assert!(error(plain).contains(not_versioned));

    let inherited = grace_join(
        |b| {
            b.table(
                "topic2",
                strings(),
                Materialized::as_("tableB").with_in_memory(),
            )
            .filter(|_, _| true)
        },
        ms(6),
    );
    assert!(error(inherited).contains(not_versioned));

    let versioned_inherited = grace_join(
        |b| {
            b.table(
                "topic2",
                strings(),
                versioned("tableB", Duration::from_secs(300)),
            )
            .filter(|_, _| true)
        },
        ms(6),
    );
    assert!(versioned_inherited.is_ok());

    let longer = grace_join(
        |b| {
            b.table(
                "topic2",
                strings(),
                versioned("tableB", Duration::from_secs(300)),
            )
        },
        Duration::from_secs(360),
    );
    assert!(error(longer).contains(too_short));

    let longer_inherited = grace_join(
        |b| {
            b.table("topic2", strings(), versioned("V-grace", Duration::ZERO))
                .filter(|_, _| true)
        },
        ms(6),
    );
    assert!(error(longer_inherited).contains(too_short));
}

/// `AbstractJoinIntegrationTest`'s input: every record has key 0; `None` is a null value.
const JOIN_INPUT: [(&str, Option<&str>, i64); 23] = [
    ("left", None, 1),
    ("right", None, 2),
    ("left", Some("A"), 3),
    ("right", Some("a"), 4),
    ("left", Some("B"), 5),
    ("right", Some("b"), 6),
    ("left", None, 7),
    ("right", None, 8),
    ("left", Some("C"), 9),
    ("right", Some("c"), 10),
    ("right", None, 11),
    ("left", None, 12),
    ("right", None, 13),
    ("right", Some("d"), 7), // out-of-order data with null as latest
    ("left", Some("D"), 6),
    ("left", None, 2),
    ("right", None, 3),
    ("right", Some("e"), 14),
    ("left", Some("E"), 15),
    ("left", None, 10), // out-of-order data with non-null as latest
    ("right", None, 9),
    ("left", Some("F"), 4),
    ("right", Some("f"), 3),
];

/// Pipes [`JOIN_INPUT`] through a join of the "left" stream with the versioned "right" table
/// (`table-store`, 5 minutes of history, grace 2 ms, named "Grace"), and returns what each
/// input record made the join emit, as (value, timestamp).
fn run_grace_join(left_join: bool) -> Vec<Vec<(String, i64)>> {
    let builder = StreamsBuilder::new();
    let right = builder.table(
        "right",
        Consumed::with(Serdes::i64(), Serdes::string()),
        Materialized::as_versioned(Stores::persistent_versioned_key_value_store(
            "table-store",
            Duration::from_secs(300),
        )),
    );
    let left = builder.stream(
        "left",
        Consumed::with(Serdes::i64(), Serdes::option(StringSerde)),
    );
    let joined = Joined::with(Serdes::i64(), Serdes::option(StringSerde))
        .with_name("Grace")
        .with_grace_period(ms(2));
    // Kafka's `valueJoiner`: "<left>-<right>".
    let show = |l: &Option<String>| l.clone().unwrap_or_else(|| "null".into());
    let out = if left_join {
        left.left_join(
            &right,
            move |l: &Option<String>, r: Option<&String>| {
                format!("{}-{}", show(l), r.map_or("null", String::as_str))
            },
            joined,
        )
    } else {
        left.join(
            &right,
            move |l: &Option<String>, r: &String| format!("{}-{r}", show(l)),
            joined,
        )
    };
    out.to("out", Produced::with(Serdes::i64(), Serdes::string()));
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let output = driver.create_output_topic("out", Serdes::i64(), Serdes::string());
    JOIN_INPUT
        .iter()
        .map(|(topic, value, ts)| {
            driver
                .create_input_topic(topic, Serdes::i64(), Serdes::option(StringSerde))
                .pipe_input_with_timestamp(0, value.map(str::to_string), *ts);
            output
                .read_records_to_list()
                .into_iter()
                .map(|r| {
                    assert_eq!(r.key, 0);
                    (r.value, r.timestamp)
                })
                .collect()
        })
        .collect()
}

/// The expected output per input record: `(index, value, timestamp)` for those that emit one.
fn per_input(expected: &[(usize, &str, i64)]) -> Vec<Vec<(String, i64)>> {
    let mut all = vec![Vec::new(); JOIN_INPUT.len()];
    for (index, value, ts) in expected {
        all[*index].push((value.to_string(), *ts));
    }
    all
}

// StreamTableJoinWithGraceIntegrationTest#testInnerWithVersionedStore
#[test]
fn an_inner_join_with_grace_joins_each_record_as_of_its_time() {
    assert_eq!(
        run_grace_join(false),
        per_input(&[(8, "B-a", 5), (14, "D-b", 6), (21, "F-a", 4)])
    );
}

// StreamTableJoinWithGraceIntegrationTest#testLeftWithVersionedStore
#[test]
fn a_left_join_with_grace_joins_each_record_as_of_its_time() {
    assert_eq!(
        run_grace_join(true),
        per_input(&[
            (4, "A-null", 3),
            (8, "B-a", 5),
            (14, "D-b", 6),
            (18, "C-null", 9),
            (21, "F-a", 4),
        ])
    );
}

// KIP-914: aggregations and table-table joins of a versioned table ignore its out-of-order
// updates, which `to_stream` and the stateless operators pass on.
#[test]
fn out_of_order_updates_reach_streams_but_not_aggregations_or_table_joins() {
    let builder = StreamsBuilder::new();
    let table = builder.table("in", strings(), versioned("table", Duration::from_secs(60)));
    let other = builder.table(
        "other",
        strings(),
        Materialized::as_("other-store")
            .with_key_serde(StringSerde)
            .with_value_serde(StringSerde),
    );
    table
        .map_values(|v: &String| v.to_uppercase())
        .to_stream()
        .to(
            "mapped",
            Produced::with(Serdes::string(), Serdes::option(Serdes::string())),
        );
    table
        .group_by(
            |_k: &String, v: &String| (v.clone(), v.clone()),
            Grouped::with(StringSerde, StringSerde),
        )
        .count(
            Materialized::as_("per-value")
                .with_key_serde(StringSerde)
                .with_value_serde(crate::serde::I64Serde),
        )
        .to_stream()
        .to(
            "counts",
            Produced::with(Serdes::string(), Serdes::option(crate::serde::I64Serde)),
        );
    table
        .join(&other, |a: &String, b: &String| format!("{a}+{b}"))
        .to_stream()
        .to(
            "joined",
            Produced::with(Serdes::string(), Serdes::option(Serdes::string())),
        );
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("in", StringSerde, StringSerde);
    driver
        .create_input_topic("other", StringSerde, StringSerde)
        .pipe_input_with_timestamp("k", "o", 0);
    input.pipe_input_with_timestamp("k", "x", 20);
    input.pipe_input_with_timestamp("k", "y", 10); // out of order
    let mapped = driver
        .create_output_topic("mapped", StringSerde, Serdes::option(StringSerde))
        .read_values_to_list();
    assert_eq!(mapped, [Some("X".to_string()), Some("Y".to_string())]);
    let counts = driver
        .create_output_topic(
            "counts",
            StringSerde,
            Serdes::option(crate::serde::I64Serde),
        )
        .read_key_values_to_list();
    assert_eq!(counts, [("x".to_string(), Some(1))]);
    let joined = driver
        .create_output_topic("joined", StringSerde, Serdes::option(StringSerde))
        .read_values_to_list();
    assert_eq!(joined, [Some("x+o".to_string())]);
}
