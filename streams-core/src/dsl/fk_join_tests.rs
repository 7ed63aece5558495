//! Foreign-key table-table joins through the test driver: orders (order id → "product#note")
//! joined to products (product id → name) by the product id in the order's value.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use proptest::prelude::*;

use super::fk_join::{murmur3_128, Response, ResponseSerde};
use crate::prelude::*;
use crate::serde::{OptionSerde, StringSerde};
use crate::TestInputTopic;

/// The product id of an order value `product#note`.
fn product_of(order: &str) -> String {
    order.split('#').next().unwrap_or_default().to_string()
}

/// How the orders are joined to the products.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Inner,
    Left,
    /// Inner, with the result materialized in the store `enriched`.
    InnerMaterialized,
}

fn topology(kind: Kind) -> Topology {
    let builder = StreamsBuilder::new();
    let orders = builder.table(
        "orders",
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("orders"),
    );
    let products = builder.table(
        "products",
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("products"),
    );
    let enriched = match kind {
        Kind::Inner => orders.join_on_foreign_key(
            &products,
            |o: &String| product_of(o),
            |o: &String, p: &String| format!("{o}={p}"),
        ),
        Kind::Left => orders.left_join_on_foreign_key(
            &products,
            |o: &String| product_of(o),
            |o: &String, p: Option<&String>| format!("{o}={}", p.map_or("-", String::as_str)),
        ),
        Kind::InnerMaterialized => orders.join_on_foreign_key_materialized(
            &products,
            |o: &String| product_of(o),
            |o: &String, p: &String| format!("{o}={p}"),
            Materialized::as_("enriched")
                .with_value_serde(Serdes::string())
                .with_caching_disabled(),
        ),
    };
    enriched.to_stream().to(
        "out",
        Produced::with(Serdes::string(), Serdes::option(Serdes::string())),
    );
    builder.build().unwrap()
}

fn driver(kind: Kind) -> TopologyTestDriver {
    TopologyTestDriver::new(topology(kind)).unwrap()
}

type Update = (String, Option<String>, i64);

/// Writes the join result's updates to `out`.
fn write_out(result: &KTable<String, String>) {
    result.to_stream().to(
        "out",
        Produced::with(Serdes::string(), Serdes::option(Serdes::string())),
    );
}

fn updates(driver: &TopologyTestDriver) -> Vec<Update> {
    driver
        .create_output_topic("out", StringSerde, OptionSerde::new(StringSerde))
        .read_records_to_list()
        .into_iter()
        .map(|r| (r.key, r.value, r.timestamp))
        .collect()
}

fn some(expected: &[(&str, Option<&str>, i64)]) -> Vec<Update> {
    expected
        .iter()
        .map(|(k, v, t)| (k.to_string(), v.map(str::to_string), *t))
        .collect()
}

struct Inputs<'a> {
    orders: TestInputTopic<'a, String, Option<String>>,
    products: TestInputTopic<'a, String, Option<String>>,
}

impl<'a> Inputs<'a> {
    fn new(driver: &'a TopologyTestDriver) -> Self {
        Inputs {
            orders: driver.create_input_topic("orders", StringSerde, OptionSerde::new(StringSerde)),
            products: driver.create_input_topic(
                "products",
                StringSerde,
                OptionSerde::new(StringSerde),
            ),
        }
    }

    fn order(&self, id: &str, value: Option<&str>, ts: i64) {
        self.orders
            .pipe_input_with_timestamp(id, value.map(str::to_string), ts);
    }

    fn product(&self, id: &str, name: Option<&str>, ts: i64) {
        self.products
            .pipe_input_with_timestamp(id, name.map(str::to_string), ts);
    }
}

#[test]
fn inner_join_follows_both_sides() {
    let driver = driver(Kind::Inner);
    let inputs = Inputs::new(&driver);
    // No product yet: an inner join has nothing to say.
    inputs.order("o1", Some("p1#a"), 1);
    assert!(updates(&driver).is_empty());
    // The product arrives: every subscriber is answered, with the later timestamp.
    inputs.product("p1", Some("widget"), 2);
    inputs.order("o2", Some("p1#b"), 3);
    inputs.product("p1", Some("gadget"), 4);
    // The order changes but keeps its product.
    inputs.order("o1", Some("p1#c"), 5);
    assert_eq!(
        updates(&driver),
        some(&[
            ("o1", Some("p1#a=widget"), 2),
            ("o2", Some("p1#b=widget"), 3),
            ("o1", Some("p1#a=gadget"), 4),
            ("o2", Some("p1#b=gadget"), 4),
            ("o1", Some("p1#c=gadget"), 5),
        ])
    );
}

#[test]
fn a_changed_foreign_key_replaces_or_retracts_the_result() {
    let driver = driver(Kind::Inner);
    let inputs = Inputs::new(&driver);
    inputs.product("p1", Some("widget"), 1);
    inputs.product("p2", Some("gizmo"), 2);
    inputs.order("o1", Some("p1#a"), 3);
    // Moves to another existing product: the result is replaced.
    inputs.order("o1", Some("p2#a"), 4);
    // The old product no longer reaches the order.
    inputs.product("p1", Some("widget v2"), 5);
    // Moves to a product that does not exist: the old result is retracted.
    inputs.order("o1", Some("p3#a"), 6);
    inputs.product("p2", Some("gizmo v2"), 7);
    // The product appears: the order joins it.
    inputs.product("p3", Some("doohickey"), 8);
    assert_eq!(
        updates(&driver),
        some(&[
            ("o1", Some("p1#a=widget"), 3),
            ("o1", Some("p2#a=gizmo"), 4),
            ("o1", None, 6),
            ("o1", Some("p3#a=doohickey"), 8),
        ])
    );
    let subscriptions = subscription_store_entries(&driver);
    assert_eq!(subscriptions, 1, "only the subscription to p3 is left");
}

#[test]
fn deletes_on_either_side_delete_the_inner_result() {
    let driver = driver(Kind::Inner);
    let inputs = Inputs::new(&driver);
    inputs.product("p1", Some("widget"), 1);
    inputs.order("o1", Some("p1#a"), 2);
    inputs.order("o2", Some("p1#b"), 3);
    // A right delete deletes every result it was part of.
    inputs.product("p1", None, 4);
    // And coming back restores them.
    inputs.product("p1", Some("widget"), 5);
    // A left delete deletes its result and its subscription.
    inputs.order("o1", None, 6);
    inputs.product("p1", Some("widget v2"), 7);
    assert_eq!(
        updates(&driver),
        some(&[
            ("o1", Some("p1#a=widget"), 2),
            ("o2", Some("p1#b=widget"), 3),
            ("o1", None, 4),
            ("o2", None, 4),
            ("o1", Some("p1#a=widget"), 5),
            ("o2", Some("p1#b=widget"), 5),
            ("o1", None, 6),
            ("o2", Some("p1#b=widget v2"), 7),
        ])
    );
    assert_eq!(subscription_store_entries(&driver), 1);
}

#[test]
fn left_join_keeps_every_left_row() {
    let driver = driver(Kind::Left);
    let inputs = Inputs::new(&driver);
    inputs.order("o1", Some("p1#a"), 1);
    inputs.product("p1", Some("widget"), 2);
    inputs.order("o1", Some("p2#a"), 3);
    inputs.product("p2", Some("gizmo"), 4);
    inputs.product("p2", None, 5);
    inputs.order("o1", None, 6);
    assert_eq!(
        updates(&driver),
        some(&[
            ("o1", Some("p1#a=-"), 1),
            ("o1", Some("p1#a=widget"), 2),
            ("o1", Some("p2#a=-"), 3),
            ("o1", Some("p2#a=gizmo"), 4),
            ("o1", Some("p2#a=-"), 5),
            ("o1", None, 6),
        ])
    );
}

/// How many subscriptions the join's subscription store holds.
fn subscription_store_entries(driver: &TopologyTestDriver) -> usize {
    let topology = topology(Kind::Inner);
    let store = topology
        .store_names()
        .into_iter()
        .find(|s| s.starts_with("KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-"))
        .unwrap();
    driver
        .get_key_value_store(&store, crate::serde::BytesSerde, crate::serde::BytesSerde)
        .unwrap()
        .all()
        .unwrap()
        .len()
}

#[test]
fn a_response_to_an_outdated_left_value_is_dropped() {
    // The driver answers every subscription before the next input, so an answer still in
    // flight when the order changes again is simulated by piping one into the response topic.
    let topology = topology(Kind::Inner);
    let response_topic = topology
        .repartition_topics()
        .iter()
        .find(|t| t.name.contains("SUBSCRIPTION-RESPONSE"))
        .map(|t| t.name.clone())
        .unwrap();
    let driver = TopologyTestDriver::new(topology).unwrap();
    let inputs = Inputs::new(&driver);
    inputs.product("p1", Some("widget"), 1);
    inputs.product("p2", Some("gizmo"), 2);
    inputs.order("o1", Some("p1#a"), 3);
    inputs.order("o1", Some("p2#a"), 4);
    assert_eq!(
        updates(&driver),
        some(&[
            ("o1", Some("p1#a=widget"), 3),
            ("o1", Some("p2#a=gizmo"), 4)
        ])
    );
    let responses = driver.create_input_topic(
        &format!("{}-{response_topic}", driver.application_id()),
        StringSerde,
        ResponseSerde(Arc::new(StringSerde) as Arc<dyn Serde<String>>),
    );
    // The late answer to the subscription of "p1#a": the order's value changed since.
    responses.pipe_input_with_timestamp(
        "o1",
        Response {
            hash: Some(murmur3_128(b"p1#a")),
            value: Some("widget".to_string()),
        },
        5,
    );
    assert!(updates(&driver).is_empty(), "a stale answer is dropped");
    // An answer for the current value is joined.
    responses.pipe_input_with_timestamp(
        "o1",
        Response {
            hash: Some(murmur3_128(b"p2#a")),
            value: Some("gizmo v2".to_string()),
        },
        6,
    );
    assert_eq!(updates(&driver), some(&[("o1", Some("p2#a=gizmo v2"), 6)]));
    // An answer to a deleted order is dropped too.
    inputs.order("o1", None, 7);
    assert_eq!(updates(&driver), some(&[("o1", None, 7)]));
    responses.pipe_input_with_timestamp(
        "o1",
        Response {
            hash: Some(murmur3_128(b"p2#a")),
            value: Some("gizmo".to_string()),
        },
        8,
    );
    assert!(updates(&driver).is_empty());
}

#[test]
fn a_malformed_response_fails_with_a_serde_error() {
    let topology = topology(Kind::Inner);
    let response_topic = topology
        .repartition_topics()
        .iter()
        .find(|t| t.name.contains("SUBSCRIPTION-RESPONSE"))
        .map(|t| t.name.clone())
        .unwrap();
    let driver = TopologyTestDriver::new(topology).unwrap();
    let raw = driver.create_input_topic(
        &format!("{}-{response_topic}", driver.application_id()),
        StringSerde,
        crate::serde::BytesSerde,
    );
    let err = raw.try_pipe_input("o1", vec![7u8, 1, 2]).unwrap_err();
    assert!(err.to_string().contains("unsupported version 7"), "{err}");
}

#[test]
fn the_materialized_result_is_queryable_and_forwards_old_values() {
    // Orders per product name, counted from the join: an order moving to another product must
    // be subtracted from the old one's count, which needs the join's old values.
    let builder = StreamsBuilder::new();
    let orders = builder.table(
        "orders",
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("orders"),
    );
    let products = builder.table(
        "products",
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("products"),
    );
    orders
        .join_on_foreign_key_materialized(
            &products,
            |o: &String| product_of(o),
            |_: &String, p: &String| p.clone(),
            Materialized::as_("enriched").with_value_serde(Serdes::string()),
        )
        .group_by(
            |order: &String, name: &String| (name.clone(), order.clone()),
            Grouped::with(Serdes::string(), Serdes::string()),
        )
        .count(Materialized::as_("per-product"))
        .to_stream()
        .to(
            "out",
            Produced::with(Serdes::string(), Serdes::option(Serdes::i64())),
        );
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let inputs = Inputs::new(&driver);
    inputs.product("p1", Some("widget"), 1);
    inputs.product("p2", Some("gizmo"), 2);
    inputs.order("o1", Some("p1#a"), 3);
    inputs.order("o2", Some("p1#b"), 4);
    inputs.order("o1", Some("p2#a"), 5);
    inputs.order("o2", None, 6);
    let enriched = driver
        .get_timestamped_key_value_store("enriched", StringSerde, StringSerde)
        .unwrap();
    assert_eq!(
        enriched.get(&"o1".to_string()).unwrap(),
        Some(("gizmo".to_string(), 5))
    );
    assert_eq!(enriched.get(&"o2".to_string()).unwrap(), None);
    let counts = driver
        .get_timestamped_key_value_store("per-product", StringSerde, crate::serde::I64Serde)
        .unwrap();
    let count = |name: &str| counts.get(&name.to_string()).unwrap().map(|(n, _)| n);
    assert_eq!(count("widget"), Some(0));
    assert_eq!(count("gizmo"), Some(1));
}

#[test]
fn the_right_tables_store_loses_its_record_cache() {
    // The orders table keeps its cache; the products table's would net out a product created
    // and deleted between two commits, which subscribers may have seen. (The subscription store
    // never had one.)
    assert_eq!(topology(Kind::Inner).cached_store_count(), 1);
}

/// Tables without a store name are joined as Kafka joins them through their value getters: a
/// source table through the store Rill keeps under its generated name, a filtered table
/// through its source's store and the filter (both were build errors before).
#[test]
fn foreign_key_joins_read_tables_without_a_store_through_their_views() {
    let builder = StreamsBuilder::new();
    let orders = builder.table(
        "orders",
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::new(),
    );
    let products = builder.table(
        "products",
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::new(),
    );
    write_out(
        &orders
            .filter(|_, o: &String| !o.ends_with("#skip"))
            .join_on_foreign_key(
                &products.filter(|_, p: &String| p != "hidden"),
                |o: &String| product_of(o),
                |o: &String, p: &String| format!("{o}={p}"),
            ),
    );
    let topology = builder.build().unwrap();
    let described = topology.describe().to_string();
    assert!(
        described.contains("(stores: [orders-STATE-STORE-0000000000])"),
        "{described}"
    );
    let driver = TopologyTestDriver::new(topology).unwrap();
    let orders = driver.create_input_topic("orders", StringSerde, StringSerde);
    let products = driver.create_input_topic("products", StringSerde, StringSerde);
    products.pipe_input_with_timestamp("p1", "widget", 1);
    products.pipe_input_with_timestamp("p2", "hidden", 2);
    orders.pipe_input_with_timestamp("o1", "p1#a", 3);
    orders.pipe_input_with_timestamp("o2", "p1#skip", 4);
    orders.pipe_input_with_timestamp("o3", "p2#b", 5);
    assert_eq!(updates(&driver), some(&[("o1", Some("p1#a=widget"), 3)]));
}

#[test]
fn foreign_key_join_is_described_with_kafkas_names() {
    // Kafka's numbering: the two tables take 0-3; then the registration topic, its send
    // processor, sink and source, the subscription store, the receive, join and foreign-update
    // processors, the response topic, its sink and source, the resolver and the output (the
    // output's store name is drawn too, 17, even though it is not materialized).
    let topology = topology(Kind::Inner);
    assert_eq!(
        topology.describe().to_string(),
        "\
Topologies:
   Sub-topology: 0
    Source: KTABLE-SOURCE-0000000014 (topics: [KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000012-topic])
      --> KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-0000000015
    Source: KSTREAM-SOURCE-0000000000 (topics: [orders])
      --> KTABLE-SOURCE-0000000001
    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-0000000015 (stores: [orders])
      --> KTABLE-FK-JOIN-OUTPUT-0000000016
      <-- KTABLE-SOURCE-0000000014
    Processor: KTABLE-FK-JOIN-OUTPUT-0000000016 (stores: [])
      --> KTABLE-TOSTREAM-0000000018
      <-- KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-0000000015
    Processor: KTABLE-SOURCE-0000000001 (stores: [orders])
      --> KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000005
      <-- KSTREAM-SOURCE-0000000000
    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000005 (stores: [])
      --> KTABLE-SINK-0000000006
      <-- KTABLE-SOURCE-0000000001
    Processor: KTABLE-TOSTREAM-0000000018 (stores: [])
      --> KSTREAM-SINK-0000000019
      <-- KTABLE-FK-JOIN-OUTPUT-0000000016
    Sink: KSTREAM-SINK-0000000019 (topic: out)
      <-- KTABLE-TOSTREAM-0000000018
    Sink: KTABLE-SINK-0000000006 (topic: KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000004-topic)
      <-- KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000005

  Sub-topology: 1
    Source: KSTREAM-SOURCE-0000000002 (topics: [products])
      --> KTABLE-SOURCE-0000000003
    Source: KTABLE-SOURCE-0000000007 (topics: [KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000004-topic])
      --> KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000009
    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000009 (stores: [KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-0000000008])
      --> KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000010
      <-- KTABLE-SOURCE-0000000007
    Processor: KTABLE-SOURCE-0000000003 (stores: [products])
      --> KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000011
      <-- KSTREAM-SOURCE-0000000002
    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000010 (stores: [products])
      --> KTABLE-SINK-0000000013
      <-- KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000009
    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000011 (stores: [KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-0000000008])
      --> KTABLE-SINK-0000000013
      <-- KTABLE-SOURCE-0000000003
    Sink: KTABLE-SINK-0000000013 (topic: KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000012-topic)
      <-- KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000010, KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000011

"
    );
}

#[test]
fn a_named_join_names_its_topics_store_and_nodes_after_it() {
    let builder = StreamsBuilder::new();
    let orders = builder.table(
        "orders",
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("orders"),
    );
    let products = builder.table(
        "products",
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("products"),
    );
    write_out(&orders.named("enrich").join_on_foreign_key(
        &products,
        |o: &String| product_of(o),
        |o: &String, p: &String| format!("{o}={p}"),
    ));
    let topology = builder.build().unwrap();
    let topics: Vec<&str> = topology
        .repartition_topics()
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    assert_eq!(
        topics,
        [
            "enrich-subscription-registration-topic",
            "enrich-subscription-response-topic"
        ]
    );
    assert!(topology
        .store_names()
        .contains(&"enrich-subscription-store".to_string()));
    let described = topology.describe().to_string();
    for node in [
        "enrich-subscription-registration-processor",
        "enrich-subscription-registration-sink",
        "enrich-subscription-registration-source",
        "enrich-subscription-receive",
        "enrich-subscription-join-foreign",
        "enrich-foreign-join-subscription",
        "enrich-subscription-response-sink",
        "enrich-subscription-response-source",
        "enrich-subscription-response-resolver",
        "enrich-result",
    ] {
        assert!(described.contains(node), "{node} missing from\n{described}");
    }
    // Every named node still draws its counter value, as Kafka's `suffixWithOrElseGet` does
    // (this test expected 5 before Rill followed that).
    assert!(
        described.contains("KTABLE-TOSTREAM-0000000018"),
        "{described}"
    );
    // And it works like the unnamed join.
    let driver = TopologyTestDriver::new(topology).unwrap();
    let inputs = Inputs::new(&driver);
    inputs.product("p1", Some("widget"), 1);
    inputs.order("o1", Some("p1#a"), 2);
    assert_eq!(updates(&driver), some(&[("o1", Some("p1#a=widget"), 2)]));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Random interleavings of order and product updates and deletes, with orders moving
    /// between products: after every input, the join's updates applied as a table equal, for
    /// each order with a value, joiner(order, products[product_of(order)]) — for the inner join
    /// only where that product exists. The materialized result's store equals it too.
    #[test]
    fn fk_joins_equal_the_join_of_the_latest_values(
        events in proptest::collection::vec(
            (any::<bool>(), 0u8..4, proptest::option::of((0u8..3, 0u8..3))),
            1..60,
        ),
        kind in prop_oneof![Just(Kind::Inner), Just(Kind::Left), Just(Kind::InnerMaterialized)],
    ) {
        let driver = driver(kind);
        let inputs = Inputs::new(&driver);
        let out = driver.create_output_topic("out", StringSerde, OptionSerde::new(StringSerde));
        let mut orders: BTreeMap<String, String> = BTreeMap::new();
        let mut products: HashMap<String, String> = HashMap::new();
        let mut result: BTreeMap<String, String> = BTreeMap::new();
        for (ts, (is_order, key, value)) in events.into_iter().enumerate() {
            let ts = ts as i64;
            if is_order {
                let id = format!("o{key}");
                let value = value.map(|(product, note)| format!("p{product}#{note}"));
                inputs.order(&id, value.as_deref(), ts);
                match value {
                    Some(v) => { orders.insert(id, v); }
                    None => { orders.remove(&id); }
                }
            } else {
                let id = format!("p{key}");
                let name = value.map(|(name, _)| format!("name{name}"));
                inputs.product(&id, name.as_deref(), ts);
                match name {
                    Some(n) => { products.insert(id, n); }
                    None => { products.remove(&id); }
                }
            }
            for record in out.read_records_to_list() {
                match record.value {
                    Some(v) => { result.insert(record.key, v); }
                    None => { result.remove(&record.key); }
                }
            }
            let model: BTreeMap<String, String> = orders
                .iter()
                .filter_map(|(id, order)| {
                    let product = products.get(&product_of(order));
                    let row = match (kind, product) {
                        (_, Some(name)) => Some(format!("{order}={name}")),
                        (Kind::Left, None) => Some(format!("{order}=-")),
                        _ => None,
                    };
                    row.map(|row| (id.clone(), row))
                })
                .collect();
            prop_assert_eq!(&result, &model);
            if kind == Kind::InnerMaterialized {
                let store: BTreeMap<String, String> = driver
                    .get_timestamped_key_value_store("enriched", StringSerde, StringSerde)
                    .unwrap()
                    .all()
                    .unwrap()
                    .into_iter()
                    .map(|(k, v, _)| (k, v))
                    .collect();
                prop_assert_eq!(&store, &model);
            }
        }
    }
}

/// Orders joined to products whose table is keyed by `Option<String>`: an order without a
/// product id (`#note`) has a null foreign key.
fn nullable_driver(left: bool) -> TopologyTestDriver {
    let builder = StreamsBuilder::new();
    let orders = builder.table(
        "orders",
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("orders"),
    );
    let products = builder.table(
        "products",
        Consumed::with(Serdes::option(Serdes::string()), Serdes::string()),
        Materialized::as_("products"),
    );
    let foreign_key = |o: &String| Some(product_of(o)).filter(|p| !p.is_empty());
    let enriched = if left {
        orders.left_join_on_foreign_key(&products, foreign_key, |o: &String, p| {
            format!("{o}={}", p.map_or("-", String::as_str))
        })
    } else {
        orders.join_on_foreign_key(&products, foreign_key, |o: &String, p: &String| {
            format!("{o}={p}")
        })
    };
    enriched.to_stream().to(
        "out",
        Produced::with(Serdes::string(), Serdes::option(Serdes::string())),
    );
    TopologyTestDriver::new(builder.build().unwrap()).unwrap()
}

#[test]
fn a_null_foreign_key_gives_a_left_join_result_without_a_right_value() {
    for left in [true, false] {
        let driver = nullable_driver(left);
        let orders =
            driver.create_input_topic("orders", StringSerde, OptionSerde::new(StringSerde));
        let products = driver.create_input_topic(
            "products",
            OptionSerde::new(StringSerde),
            OptionSerde::new(StringSerde),
        );
        let order = |value: Option<&str>, ts| {
            orders.pipe_input_with_timestamp("o1", value.map(str::to_string), ts)
        };
        order(Some("#new"), 1);
        products.pipe_input_with_timestamp(Some("p1".to_string()), Some("P".to_string()), 2);
        order(Some("p1#set"), 3);
        order(Some("#unset"), 4);
        order(Some("#changed"), 5);
        order(None, 6);
        let expected = if left {
            some(&[
                ("o1", Some("#new=-"), 1),
                ("o1", Some("p1#set=P"), 3),
                ("o1", Some("#unset=-"), 4),
                ("o1", Some("#changed=-"), 5),
                ("o1", None, 6),
            ])
        } else {
            // The inner join has no result for a row without a foreign key: it only retracts
            // the one the row had.
            some(&[("o1", Some("p1#set=P"), 3), ("o1", None, 4)])
        };
        assert_eq!(updates(&driver), expected, "left join: {left}");
    }
}
