//! A source table gets a store only when an operator needs one (Kafka's
//! `KTableSource#materialize`), and sends old values only when one asks for them: scenarios
//! ported from Kafka's `StreamsBuilderTest`, `InternalStreamsBuilderTest`, `TopologyTest`,
//! `KTableSourceTest` and `KTableFilterTest`, with inputs, timestamps and expectations unchanged
//! (the joins of `StreamsBuilderTest#shouldAllowJoin…` are in `topology::tests`).

use std::sync::{Arc, Mutex};

use super::change::Change;
use super::test_support::strings;
use crate::prelude::*;
use crate::serde::{I32Serde, OptionSerde, StringSerde};

/// Kafka's `InternalStreamsBuilderTest#shouldNotMaterializeSourceKTableIfNotRequired`.
#[test]
fn source_table_is_not_materialized_if_not_required() {
    let builder = StreamsBuilder::new();
    let table = builder.table("topic2", strings(), Materialized::new());
    let topology = builder.build().unwrap();
    assert!(topology.store_names().is_empty());
    assert!(topology.changelog_topics(0, "app").is_empty());
    assert_eq!(table.queryable_store_name(), None);
}

/// Kafka's `TopologyTest#kTableNonMaterializedFilterShouldPreserveTopologyStructure`.
#[test]
fn non_materialized_filter_preserves_kafkas_topology_structure() {
    let builder = StreamsBuilder::new();
    let table = builder.table("input-topic", strings(), Materialized::new());
    table.filter(|_, _| false);
    assert_eq!(
        builder.build().unwrap().describe().to_string(),
        "Topologies:\n\
         \x20  Sub-topology: 0\n\
         \x20   Source: KSTREAM-SOURCE-0000000001 (topics: [input-topic])\n\
         \x20     --> KTABLE-SOURCE-0000000002\n\
         \x20   Processor: KTABLE-SOURCE-0000000002 (stores: [])\n\
         \x20     --> KTABLE-FILTER-0000000003\n\
         \x20     <-- KSTREAM-SOURCE-0000000001\n\
         \x20   Processor: KTABLE-FILTER-0000000003 (stores: [])\n\
         \x20     --> none\n\
         \x20     <-- KTABLE-SOURCE-0000000002\n\n"
    );
}

/// Kafka's `TopologyTest#kTableNamedMaterializedMapValuesShouldPreserveTopologyStructure`: the
/// map's store does not make the source table materialized.
#[test]
fn named_materialized_map_values_preserves_kafkas_topology_structure() {
    let builder = StreamsBuilder::new();
    let table = builder.table("input-topic", strings(), Materialized::new());
    table.map_values_materialized(
        |v: &String| v.clone(),
        Materialized::as_("store-name").with_value_serde(Serdes::string()),
    );
    assert_eq!(
        builder.build().unwrap().describe().to_string(),
        "Topologies:\n\
         \x20  Sub-topology: 0\n\
         \x20   Source: KSTREAM-SOURCE-0000000001 (topics: [input-topic])\n\
         \x20     --> KTABLE-SOURCE-0000000002\n\
         \x20   Processor: KTABLE-SOURCE-0000000002 (stores: [])\n\
         \x20     --> KTABLE-MAPVALUES-0000000003\n\
         \x20     <-- KSTREAM-SOURCE-0000000001\n\
         \x20   Processor: KTABLE-MAPVALUES-0000000003 (stores: [store-name])\n\
         \x20     --> none\n\
         \x20     <-- KTABLE-SOURCE-0000000002\n\n"
    );
}

/// What a table sends to its children: (key, new value, old value, timestamp).
type Sent<V> = Arc<Mutex<Vec<(String, Option<V>, Option<V>, i64)>>>;

/// Records every change `table` forwards (Kafka's `MockApiProcessorSupplier` added on the
/// table's node).
fn capture<V: crate::processor::Data>(table: &KTable<String, V>) -> Sent<V> {
    let sent: Sent<V> = Arc::default();
    let sink = Arc::clone(&sent);
    let node = table.change_stream().node_name("CAPTURE-");
    table
        .change_stream()
        .add_processor::<(), (), _, _>(node, Vec::new(), move || Capture(Arc::clone(&sink)));
    sent
}

struct Capture<V>(Sent<V>);

impl<V: crate::processor::Data> crate::processor::Processor<String, Change<V>, (), ()>
    for Capture<V>
{
    fn process(
        &mut self,
        record: Record<String, Change<V>>,
        _ctx: &mut crate::processor::ProcessorContext<'_, (), ()>,
    ) -> crate::error::Result<()> {
        let Record {
            key,
            value,
            timestamp,
            ..
        } = record;
        self.0
            .lock()
            .unwrap()
            .push((key, value.new, value.old, timestamp));
        Ok(())
    }
}

/// Takes what was captured so far.
fn take<V>(sent: &Sent<V>) -> Vec<(String, Option<V>, Option<V>, i64)> {
    std::mem::take(&mut *sent.lock().unwrap())
}

fn change<V: Clone>(
    key: &str,
    new: Option<V>,
    old: Option<V>,
    ts: i64,
) -> (String, Option<V>, Option<V>, i64) {
    (key.to_string(), new, old, ts)
}

/// Kafka's `KTableSourceTest#testNotSendingOldValue`: without a store, updates come without
/// old values.
#[test]
fn source_table_without_store_sends_no_old_values() {
    let builder = StreamsBuilder::new();
    let table = builder.table("topic1", strings(), Materialized::new());
    let sent = capture(&table);
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("topic1", StringSerde, OptionSerde::new(StringSerde));
    let s = |v: &str| Some(v.to_string());
    input.pipe_input_with_timestamp("A", s("01"), 10);
    input.pipe_input_with_timestamp("B", s("01"), 20);
    input.pipe_input_with_timestamp("C", s("01"), 15);
    assert_eq!(
        take(&sent),
        [
            change("A", s("01"), None, 10),
            change("B", s("01"), None, 20),
            change("C", s("01"), None, 15)
        ]
    );
    input.pipe_input_with_timestamp("A", s("02"), 8);
    input.pipe_input_with_timestamp("B", s("02"), 22);
    assert_eq!(
        take(&sent),
        [
            change("A", s("02"), None, 8),
            change("B", s("02"), None, 22)
        ]
    );
    input.pipe_input_with_timestamp("A", s("03"), 12);
    assert_eq!(take(&sent), [change("A", s("03"), None, 12)]);
    input.pipe_input_with_timestamp("A", None, 15);
    input.pipe_input_with_timestamp("B", None, 20);
    assert_eq!(
        take(&sent),
        [change("A", None, None, 15), change("B", None, None, 20)]
    );
}

/// Kafka's `KTableSourceTest#testSendingOldValue`: asked for old values, the source table is
/// materialized and sends them.
#[test]
fn source_table_asked_for_old_values_is_materialized_and_sends_them() {
    let builder = StreamsBuilder::new();
    let table = builder.table("topic1", strings(), Materialized::new());
    table.enable_sending_old_values();
    let sent = capture(&table);
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("topic1", StringSerde, OptionSerde::new(StringSerde));
    let s = |v: &str| Some(v.to_string());
    input.pipe_input_with_timestamp("A", s("01"), 10);
    input.pipe_input_with_timestamp("B", s("01"), 20);
    input.pipe_input_with_timestamp("C", s("01"), 15);
    assert_eq!(
        take(&sent),
        [
            change("A", s("01"), None, 10),
            change("B", s("01"), None, 20),
            change("C", s("01"), None, 15)
        ]
    );
    input.pipe_input_with_timestamp("A", s("02"), 8);
    input.pipe_input_with_timestamp("B", s("02"), 22);
    assert_eq!(
        take(&sent),
        [
            change("A", s("02"), s("01"), 8),
            change("B", s("02"), s("01"), 22)
        ]
    );
    input.pipe_input_with_timestamp("A", s("03"), 12);
    assert_eq!(take(&sent), [change("A", s("03"), s("02"), 12)]);
    input.pipe_input_with_timestamp("A", None, 15);
    input.pipe_input_with_timestamp("B", None, 20);
    assert_eq!(
        take(&sent),
        [
            change("A", None, s("03"), 15),
            change("B", None, s("02"), 20)
        ]
    );
}

/// The table and filter of Kafka's `KTableFilterTest` (`value % 2 == 0`), integer values.
fn even_filter(
    builder: &StreamsBuilder,
    filter_store: Option<&str>,
) -> (KTable<String, i32>, KTable<String, i32>) {
    let table = builder.table(
        "topic1",
        Consumed::with(Serdes::string(), Serdes::i32()),
        Materialized::new(),
    );
    let even = |_: &String, v: &i32| v % 2 == 0;
    let filtered = match filter_store {
        // Kafka's test driver has no record cache (`StreamsTestUtils#getStreamsConfig`).
        Some(store) => {
            table.filter_materialized(even, Materialized::as_(store).with_caching_disabled())
        }
        None => table.filter(even),
    };
    (table, filtered)
}

/// Kafka's `KTableFilterTest#doTestNotSendingOldValue`, for
/// `shouldNotSendOldValuesWithoutMaterialization` and `shouldNotSendOldValuesOnMaterialization`:
/// without old values, the filter forwards a delete for every row it rejects.
#[test]
fn filter_without_old_values_forwards_a_delete_per_rejected_row() {
    for filter_store in [None, Some("store2")] {
        let builder = StreamsBuilder::new();
        let (table1, table2) = even_filter(&builder, filter_store);
        let (sent1, sent2) = (capture(&table1), capture(&table2));
        let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
        let input = driver.create_input_topic("topic1", StringSerde, OptionSerde::new(I32Serde));
        input.pipe_input_with_timestamp("A", Some(1), 5);
        input.pipe_input_with_timestamp("B", Some(1), 10);
        input.pipe_input_with_timestamp("C", Some(1), 15);
        assert_eq!(
            take(&sent1),
            [
                change("A", Some(1), None, 5),
                change("B", Some(1), None, 10),
                change("C", Some(1), None, 15)
            ]
        );
        assert_eq!(
            take(&sent2),
            [
                change("A", None, None, 5),
                change("B", None, None, 10),
                change("C", None, None, 15)
            ],
            "filter store {filter_store:?}"
        );
        input.pipe_input_with_timestamp("A", Some(2), 15);
        input.pipe_input_with_timestamp("B", Some(2), 8);
        let expected = [
            change("A", Some(2), None, 15),
            change("B", Some(2), None, 8),
        ];
        assert_eq!(take(&sent1), expected);
        assert_eq!(take(&sent2), expected);
        input.pipe_input_with_timestamp("A", Some(3), 20);
        assert_eq!(take(&sent1), [change("A", Some(3), None, 20)]);
        assert_eq!(take(&sent2), [change("A", None, None, 20)]);
        input.pipe_input_with_timestamp("A", None, 10);
        input.pipe_input_with_timestamp("B", None, 20);
        let expected = [change("A", None, None, 10), change("B", None, None, 20)];
        assert_eq!(take(&sent1), expected);
        assert_eq!(take(&sent2), expected);
    }
}

/// Kafka's `KTableFilterTest#doTestSendingOldValue`, for
/// `shouldSendOldValuesWhenEnabledWithoutMaterialization`: asked for old values, the filter
/// materializes the source table and drops the rows that match neither before nor after.
#[test]
fn filter_asked_for_old_values_materializes_the_source() {
    let builder = StreamsBuilder::new();
    let (table1, table2) = even_filter(&builder, None);
    table2.enable_sending_old_values();
    let (sent1, sent2) = (capture(&table1), capture(&table2));
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("topic1", StringSerde, OptionSerde::new(I32Serde));
    input.pipe_input_with_timestamp("A", Some(1), 5);
    input.pipe_input_with_timestamp("B", Some(1), 10);
    input.pipe_input_with_timestamp("C", Some(1), 15);
    assert_eq!(
        take(&sent1),
        [
            change("A", Some(1), None, 5),
            change("B", Some(1), None, 10),
            change("C", Some(1), None, 15)
        ]
    );
    assert_eq!(take(&sent2), []);
    input.pipe_input_with_timestamp("A", Some(2), 15);
    input.pipe_input_with_timestamp("B", Some(2), 8);
    assert_eq!(
        take(&sent1),
        [
            change("A", Some(2), Some(1), 15),
            change("B", Some(2), Some(1), 8)
        ]
    );
    assert_eq!(
        take(&sent2),
        [
            change("A", Some(2), None, 15),
            change("B", Some(2), None, 8)
        ]
    );
    input.pipe_input_with_timestamp("A", Some(3), 20);
    assert_eq!(take(&sent1), [change("A", Some(3), Some(2), 20)]);
    assert_eq!(take(&sent2), [change("A", None, Some(2), 20)]);
    input.pipe_input_with_timestamp("A", None, 10);
    input.pipe_input_with_timestamp("B", None, 20);
    assert_eq!(
        take(&sent1),
        [
            change("A", None, Some(3), 10),
            change("B", None, Some(2), 20)
        ]
    );
    assert_eq!(take(&sent2), [change("B", None, Some(2), 20)]);
}

/// Kafka's `KTableFilterTest#shouldSkipNullToRepartitionWithoutMaterialization`: a `group_by`
/// downstream asks for old values, so the filter drops rejected rows instead of forwarding
/// deletes to the repartition topic.
#[test]
fn filter_before_group_by_skips_rejected_rows() {
    let builder = StreamsBuilder::new();
    let table1 = builder.table("topic1", strings(), Materialized::new());
    let table2 = table1
        .filter(|_, v: &String| v.eq_ignore_ascii_case("accept"))
        .group_by(
            |k: &String, v: &String| (k.clone(), v.clone()),
            Grouped::with(Serdes::string(), Serdes::string()),
        )
        .reduce(
            |a: String, b: &String| a + b,
            |a: String, b: &String| a.replacen(b.as_str(), "", 1),
            Materialized::new(),
        );
    let (sent1, sent2) = (capture(&table1), capture(&table2));
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = driver.create_input_topic("topic1", StringSerde, OptionSerde::new(StringSerde));
    input.pipe_input_with_timestamp("A", Some("reject".to_string()), 5);
    input.pipe_input_with_timestamp("B", Some("reject".to_string()), 10);
    input.pipe_input_with_timestamp("C", Some("reject".to_string()), 20);
    drop(driver);
    let reject = || Some("reject".to_string());
    assert_eq!(
        take(&sent1),
        [
            change("A", reject(), None, 5),
            change("B", reject(), None, 10),
            change("C", reject(), None, 20)
        ]
    );
    assert_eq!(take(&sent2), []);
}

/// A table that only feeds `to_stream` keeps no store, yet forwards every update and delete.
#[test]
fn unmaterialized_source_table_to_stream_forwards_updates() {
    let builder = StreamsBuilder::new();
    builder
        .table("t", strings(), Materialized::new())
        .to_stream()
        .to(
            "o",
            Produced::with(Serdes::string(), OptionSerde::new(Serdes::string())),
        );
    let topology = builder.build().unwrap();
    assert!(topology.store_names().is_empty());
    let driver = TopologyTestDriver::new(topology).unwrap();
    let input = driver.create_input_topic("t", StringSerde, OptionSerde::new(StringSerde));
    input.pipe_input_with_timestamp("a", Some("1".to_string()), 1);
    input.pipe_input_with_timestamp("a", None, 2);
    let out: Vec<_> = driver
        .create_output_topic("o", StringSerde, OptionSerde::new(StringSerde))
        .read_records_to_list()
        .into_iter()
        .map(|r| (r.key, r.value, r.timestamp))
        .collect();
    assert_eq!(
        out,
        [
            ("a".to_string(), Some("1".to_string()), 1),
            ("a".to_string(), None, 2)
        ]
    );
}
