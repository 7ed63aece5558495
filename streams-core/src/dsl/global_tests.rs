//! Global tables and stream-global-table joins through the test driver, against what Kafka
//! Streams emits: the `describe()` text of a global store, inner and left joins on a mapped
//! key, table updates and deletes seen by later lookups, and a property test against a model.

use std::collections::HashMap;

use proptest::prelude::*;

use super::test_support::{outputs, owned};
use crate::prelude::*;
use crate::serde::{OptionSerde, StringSerde};

/// orders (order id → "product,qty") joined with the global table products (product → name)
/// on the product of each order, into `out` (order id → "qty x name").
fn order_products(left: bool, in_memory: bool) -> TopologyTestDriver {
    let builder = StreamsBuilder::new();
    let materialized = if in_memory {
        Materialized::as_("products").with_in_memory()
    } else {
        Materialized::as_("products")
    };
    let products = builder.global_table(
        "products",
        Consumed::with(Serdes::string(), Serdes::string()),
        materialized,
    );
    let orders = builder.stream("orders", Consumed::with(Serdes::string(), Serdes::string()));
    // An order "-,qty" names no product: its mapped key is null.
    let product_of = |_: &String, order: &String| {
        let product = order.split(',').next().unwrap_or_default();
        (product != "-").then(|| product.to_string())
    };
    let qty = |order: &String| order.split(',').nth(1).unwrap_or_default().to_string();
    let out = if left {
        orders.left_join_global_table(&products, product_of, move |order, name| {
            format!("{} x {}", qty(order), name.map_or("?", String::as_str))
        })
    } else {
        orders.join_global_table(&products, product_of, move |order, name: &String| {
            format!("{} x {name}", qty(order))
        })
    };
    out.to("out", Produced::with(Serdes::string(), Serdes::string()));
    TopologyTestDriver::new(builder.build().unwrap()).unwrap()
}

#[test]
fn describe_prints_the_global_store_as_kafka_does() {
    let builder = StreamsBuilder::new();
    let products = builder.global_table(
        "products",
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::new(),
    );
    builder
        .stream("orders", Consumed::with(Serdes::string(), Serdes::string()))
        .left_join_global_table(
            &products,
            |_, order: &String| order.clone(),
            |o, p| format!("{o}{p:?}"),
        )
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    // Kafka Streams 3.x prints exactly this for the same topology (global store first: its
    // source's name sorts first; no blank line after a global store).
    let expected = "\
Topologies:
   Sub-topology: 0 for global store (will not generate tasks)
    Source: KSTREAM-SOURCE-0000000001 (topics: [products])
      --> KTABLE-SOURCE-0000000002
    Processor: KTABLE-SOURCE-0000000002 (stores: [products-STATE-STORE-0000000000])
      --> none
      <-- KSTREAM-SOURCE-0000000001
  Sub-topology: 1
    Source: KSTREAM-SOURCE-0000000003 (topics: [orders])
      --> KSTREAM-LEFTJOIN-0000000004
    Processor: KSTREAM-LEFTJOIN-0000000004 (stores: [])
      --> KSTREAM-SINK-0000000005
      <-- KSTREAM-SOURCE-0000000003
    Sink: KSTREAM-SINK-0000000005 (topic: out)
      <-- KSTREAM-LEFTJOIN-0000000004

";
    let topology = builder.build().unwrap();
    assert_eq!(topology.describe().to_string(), expected);
    assert!(topology.is_global(0) && !topology.is_global(1));
    assert_eq!(topology.global_topics(), ["products"]);
    assert_eq!(
        topology.global_store_names(),
        ["products-STATE-STORE-0000000000"]
    );
    // No changelog and no repartition topic: the source topic is the store's changelog, and
    // the join needs no co-partitioning.
    assert!(topology.changelog_topics(0, "app").is_empty());
    assert!(topology.repartition_topics().is_empty());
}

#[test]
fn a_global_store_connected_to_another_processor_is_an_error() {
    let builder = StreamsBuilder::new();
    builder.global_table(
        "products",
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("products"),
    );
    builder
        .stream("orders", Consumed::with(Serdes::string(), Serdes::string()))
        .process_with_stores(|| PassThrough, &["products"])
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let err = builder.build().unwrap_err().to_string();
    assert!(err.contains("global store"), "{err}");
}

struct PassThrough;

impl Processor<String, String, String, String> for PassThrough {
    fn process(
        &mut self,
        record: Record<String, String>,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> crate::Result<()> {
        ctx.forward(record)
    }
}

#[test]
fn inner_join_looks_up_the_mapped_key_and_keeps_the_stream_key() {
    for in_memory in [false, true] {
        let driver = order_products(false, in_memory);
        let products = driver.create_input_topic("products", StringSerde, StringSerde);
        let orders = driver.create_input_topic("orders", StringSerde, StringSerde);
        products.pipe_input_with_timestamp("p1".to_string(), "apple".to_string(), 100);
        orders.pipe_input_with_timestamp("o1".to_string(), "p1,3".to_string(), 5);
        // Unknown product and null product: nothing.
        orders.pipe_input_with_timestamp("o2".to_string(), "p9,1".to_string(), 6);
        orders.pipe_input_with_timestamp("o3".to_string(), "-,1".to_string(), 7);
        // The table is not synchronized with stream time: a later product record is seen by
        // an earlier-timestamped order.
        products.pipe_input_with_timestamp("p9".to_string(), "pear".to_string(), 200);
        orders.pipe_input_with_timestamp("o4".to_string(), "p9,2".to_string(), 8);
        assert_eq!(
            outputs(&driver),
            owned(&[("o1", "3 x apple", 5), ("o4", "2 x pear", 8)]),
            "in_memory: {in_memory}"
        );
    }
}

#[test]
fn left_join_emits_every_record_with_none_for_missing_or_null_keys() {
    let driver = order_products(true, false);
    let products = driver.create_input_topic("products", StringSerde, StringSerde);
    let orders = driver.create_input_topic("orders", StringSerde, StringSerde);
    products.pipe_input_with_timestamp("p1".to_string(), "apple".to_string(), 0);
    orders.pipe_input_with_timestamp("o1".to_string(), "p1,3".to_string(), 5);
    orders.pipe_input_with_timestamp("o2".to_string(), "p9,1".to_string(), 6);
    orders.pipe_input_with_timestamp("o3".to_string(), "-,4".to_string(), 7);
    assert_eq!(
        outputs(&driver),
        owned(&[
            ("o1", "3 x apple", 5),
            ("o2", "1 x ?", 6),
            ("o3", "4 x ?", 7)
        ])
    );
}

#[test]
fn table_updates_and_deletes_change_later_lookups_only() {
    let driver = order_products(false, false);
    let products =
        driver.create_input_topic("products", StringSerde, OptionSerde::new(StringSerde));
    let orders = driver.create_input_topic("orders", StringSerde, StringSerde);
    products.pipe_input_with_timestamp("p1".to_string(), Some("apple".to_string()), 0);
    orders.pipe_input_with_timestamp("o1".to_string(), "p1,1".to_string(), 1);
    products.pipe_input_with_timestamp("p1".to_string(), Some("green apple".to_string()), 2);
    // The update itself emits nothing: only the stream side triggers.
    assert_eq!(outputs(&driver), owned(&[("o1", "1 x apple", 1)]));
    orders.pipe_input_with_timestamp("o2".to_string(), "p1,2".to_string(), 3);
    products.pipe_input_with_timestamp("p1".to_string(), None, 4);
    orders.pipe_input_with_timestamp("o3".to_string(), "p1,3".to_string(), 5);
    assert_eq!(outputs(&driver), owned(&[("o2", "2 x green apple", 3)]));

    // The store is the driver's, under its name, with the update's timestamp.
    products.pipe_input_with_timestamp("p2".to_string(), Some("fig".to_string()), 9);
    let store = driver
        .get_timestamped_key_value_store("products", StringSerde, StringSerde)
        .unwrap();
    assert_eq!(store.get(&"p1".to_string()).unwrap(), None);
    assert_eq!(
        store.get(&"p2".to_string()).unwrap(),
        Some(("fig".to_string(), 9))
    );
    // As in Kafka's driver, the plain key-value view of the store works too.
    let plain = driver
        .get_key_value_store("products", StringSerde, StringSerde)
        .unwrap();
    assert_eq!(
        plain.get(&"p2".to_string()).unwrap(),
        Some("fig".to_string())
    );
    assert_eq!(
        plain.all().unwrap(),
        [("p2".to_string(), "fig".to_string())]
    );
}

#[test]
fn the_global_store_is_read_by_every_sub_topology() {
    // Two streams in two sub-topologies (one behind a repartition topic) join one global table.
    let builder = StreamsBuilder::new();
    let names = builder.global_table(
        "names",
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("names"),
    );
    let a = builder.stream("a", Consumed::with(Serdes::string(), Serdes::string()));
    a.join_global_table(
        &names,
        |_, v: &String| v.clone(),
        |v, n| format!("a:{v}={n}"),
    )
    .to("out", Produced::with(Serdes::string(), Serdes::string()));
    builder
        .stream("b", Consumed::with(Serdes::string(), Serdes::string()))
        .select_key(|_, v| v.clone())
        .repartition(Repartitioned::with(Serdes::string(), Serdes::string()))
        .join_global_table(
            &names,
            |k: &String, _| k.clone(),
            |v, n| format!("b:{v}={n}"),
        )
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let topology = builder.build().unwrap();
    assert_eq!(topology.subtopology_count(), 4);
    let driver = TopologyTestDriver::new(topology).unwrap();
    driver
        .create_input_topic("names", StringSerde, StringSerde)
        .pipe_input_with_timestamp("x".to_string(), "ex".to_string(), 0);
    driver
        .create_input_topic("a", StringSerde, StringSerde)
        .pipe_input_with_timestamp("k".to_string(), "x".to_string(), 1);
    driver
        .create_input_topic("b", StringSerde, StringSerde)
        .pipe_input_with_timestamp("k".to_string(), "x".to_string(), 2);
    assert_eq!(
        outputs(&driver),
        owned(&[("k", "a:x=ex", 1), ("x", "b:x=ex", 2)])
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Random interleavings of global-table updates (with deletes) and orders on random
    /// products (some naming none): the join's output is what a HashMap of the table's latest
    /// values gives at each order, whatever the order's key.
    #[test]
    fn global_joins_equal_a_hash_map_model(
        events in proptest::collection::vec(
            (any::<bool>(), 0u8..5, proptest::option::of(0u8..3), 0u8..4),
            1..60,
        ),
        left in any::<bool>(),
    ) {
        let driver = order_products(left, true);
        let products = driver.create_input_topic("products", StringSerde, OptionSerde::new(StringSerde));
        let orders = driver.create_input_topic("orders", StringSerde, StringSerde);
        let mut table: HashMap<String, String> = HashMap::new();
        let mut expected = Vec::new();
        for (ts, (is_order, product, name, order)) in events.into_iter().enumerate() {
            let ts = ts as i64;
            // Product 4 stands for an order naming no product (a null mapped key).
            let product = if product == 4 { "-".to_string() } else { format!("p{product}") };
            if is_order {
                let id = format!("o{order}");
                orders.pipe_input_with_timestamp(id.clone(), format!("{product},{ts}"), ts);
                match (table.get(&product), left) {
                    (Some(n), _) => expected.push((id, format!("{ts} x {n}"), ts)),
                    (None, true) => expected.push((id, format!("{ts} x ?"), ts)),
                    (None, false) => {}
                }
            } else if product != "-" {
                let name = name.map(|n| format!("n{n}"));
                products.pipe_input_with_timestamp(product.clone(), name.clone(), ts);
                match name {
                    Some(n) => { table.insert(product, n); }
                    None => { table.remove(&product); }
                }
            }
        }
        prop_assert_eq!(outputs(&driver), expected);
    }
}
