//! Orders enriched with their product: a foreign-key table-table join (Kafka Streams'
//! `KTable#leftJoin(other, foreignKeyExtractor, joiner)`, KIP-213).
//!
//! Reads orders from the table topic `streams-orders-input` (key: order id; value: JSON
//! `{"product_id": "p-7", "quantity": 3}`) and products from the table topic
//! `streams-products-input` (key: product id; value: JSON `{"name": "...", "price_cents": 1299}`),
//! joins every order with the product its `product_id` names, and writes the enriched orders —
//! a table keyed by order id — to `streams-enriched-orders-output` (JSON
//! `{"product_id", "quantity", "product", "total_cents"}`, `product` and `total_cents` null for
//! an unknown product; a null value when an order is cancelled). The two input tables are keyed
//! differently, so the join runs through the internal subscription-registration and response
//! topics; the orders topic may have another partition count than the products topic.
//!
//! By default it starts the bundled broker (orders in 3 partitions, products in 2), produces
//! seeded products and orders, then a round of changes on both sides — price changes, products
//! withdrawn, orders moving to another product, cancelled orders — and runs until the output
//! table equals (and stays equal to) what a plain-Rust model computes from the final tables,
//! prints a summary and exits. With `--bootstrap-servers HOST:PORT` it only runs the
//! application until SIGINT or SIGTERM.
//!
//! ```text
//! cargo run --example order_enrichment
//! cargo run --example order_enrichment -- --bootstrap-servers 127.0.0.1:9092
//! ```

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use clap::Parser;
use rdkafka::message::Message;
use rill::prelude::*;
use rill::streams_core::serde::SerdeError;
use serde::{Deserialize, Serialize};

mod support;
use support::CommonArgs;

const ORDERS: &str = "streams-orders-input";
const PRODUCTS: &str = "streams-products-input";
const OUTPUT: &str = "streams-enriched-orders-output";
const APPLICATION_ID: &str = "order-enrichment";

/// Orders enriched with their product on Rill's runtime.
#[derive(Parser, Debug)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Products in the catalogue, in embedded mode.
    #[arg(long, default_value_t = 200)]
    products: usize,
    /// Orders produced in embedded mode.
    #[arg(long, default_value_t = 5_000)]
    orders: usize,
    /// Changes (to products and orders) produced after the first load, in embedded mode.
    #[arg(long, default_value_t = 1_000)]
    changes: usize,
    /// Seed of the generated products, orders and changes.
    #[arg(long, default_value_t = 0x5eed)]
    seed: u64,
}

/// An order: which product, how many.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Order {
    product_id: String,
    quantity: u32,
}

/// A product of the catalogue.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Product {
    name: String,
    price_cents: i64,
}

/// An order with its product's name and the order's total, if the product is known.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct EnrichedOrder {
    product_id: String,
    quantity: u32,
    product: Option<String>,
    total_cents: Option<i64>,
}

/// The joiner: what an order becomes with its product (or without one).
fn enrich(order: &Order, product: Option<&Product>) -> EnrichedOrder {
    EnrichedOrder {
        product_id: order.product_id.clone(),
        quantity: order.quantity,
        product: product.map(|p| p.name.clone()),
        total_cents: product.map(|p| p.price_cents * i64::from(order.quantity)),
    }
}

/// The foreign-key join topology.
fn topology() -> rill::Result<Topology> {
    let builder = StreamsBuilder::new();
    let orders = builder.table(
        ORDERS,
        Consumed::with(Serdes::string(), Serdes::json::<Order>()),
        Materialized::as_("orders"),
    );
    let products = builder.table(
        PRODUCTS,
        Consumed::with(Serdes::string(), Serdes::json::<Product>()),
        Materialized::as_("products"),
    );
    orders
        .left_join_on_foreign_key(&products, |order: &Order| order.product_id.clone(), enrich)
        .to_stream()
        .to(
            OUTPUT,
            Produced::with(
                Serdes::string(),
                Serdes::option(Serdes::json::<EnrichedOrder>()),
            ),
        );
    Ok(builder.build()?)
}

fn main() {
    let args = Args::parse();
    support::run_example(
        "order_enrichment",
        APPLICATION_ID,
        &args.common,
        topology(),
        |topology| run_embedded(&args, topology),
    );
}

/// A record to produce: key and JSON value, `None` for a tombstone.
type Row = (String, Option<Vec<u8>>);

fn run_embedded(args: &Args, topology: Topology) -> Result<(), Box<dyn std::error::Error>> {
    let broker = support::embedded_broker(&[(ORDERS, 3), (PRODUCTS, 2), (OUTPUT, 3)])?;
    let bootstrap = broker.bootstrap();
    // xorshift needs a non-zero state.
    let mut state = args.seed.max(1);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (order_json, product_json) = (Serdes::json::<Order>(), Serdes::json::<Product>());
    let mut products: BTreeMap<String, Product> = BTreeMap::new();
    let mut orders: BTreeMap<String, Order> = BTreeMap::new();
    let (mut product_rows, mut order_rows): (Vec<Row>, Vec<Row>) = (Vec::new(), Vec::new());
    let mut put_product = |id: String, product: Option<Product>, rows: &mut Vec<Row>| {
        let bytes = product
            .as_ref()
            .map(|p| product_json.serialize(PRODUCTS, p))
            .transpose()?
            .flatten();
        match product {
            Some(p) => products.insert(id.clone(), p),
            None => products.remove(&id),
        };
        rows.push((id, bytes));
        Ok::<(), SerdeError>(())
    };
    let mut first_products = Vec::new();
    for p in 0..args.products {
        let product = Product {
            name: format!("product-{p}"),
            price_cents: 100 + (next() % 10_000) as i64,
        };
        put_product(format!("p-{p}"), Some(product), &mut first_products)?;
    }
    // One order in ten names a product that does not exist (yet).
    let catalogue = (args.products + args.products / 10 + 1) as u64;
    let mut put_order = |id: String, order: Option<Order>, rows: &mut Vec<Row>| {
        let bytes = order
            .as_ref()
            .map(|o| order_json.serialize(ORDERS, o))
            .transpose()?
            .flatten();
        match order {
            Some(o) => orders.insert(id.clone(), o),
            None => orders.remove(&id),
        };
        rows.push((id, bytes));
        Ok::<(), SerdeError>(())
    };
    let mut first_orders = Vec::new();
    for o in 0..args.orders {
        let order = Order {
            product_id: format!("p-{}", next() % catalogue),
            quantity: 1 + (next() % 9) as u32,
        };
        put_order(format!("o-{o}"), Some(order), &mut first_orders)?;
    }
    for _ in 0..args.changes {
        // Four in ten change a price, one withdraws a product, three move an order to another
        // product and two cancel one.
        match next() % 10 {
            0..=3 => {
                let p = next() % catalogue;
                let product = Product {
                    name: format!("product-{p}"),
                    price_cents: 100 + (next() % 10_000) as i64,
                };
                put_product(format!("p-{p}"), Some(product), &mut product_rows)?;
            }
            4 => put_product(format!("p-{}", next() % catalogue), None, &mut product_rows)?,
            5..=7 => {
                let order = Order {
                    product_id: format!("p-{}", next() % catalogue),
                    quantity: 1 + (next() % 9) as u32,
                };
                put_order(
                    format!("o-{}", next() % args.orders.max(1) as u64),
                    Some(order),
                    &mut order_rows,
                )?
            }
            _ => put_order(
                format!("o-{}", next() % args.orders.max(1) as u64),
                None,
                &mut order_rows,
            )?,
        }
    }
    let model: BTreeMap<String, EnrichedOrder> = orders
        .iter()
        .map(|(id, order)| (id.clone(), enrich(order, products.get(&order.product_id))))
        .collect();

    let (config, _state) = support::streams_config(&args.common, APPLICATION_ID, &bootstrap)?;
    let streams = KafkaStreams::new(topology, config)?;
    streams.start()?;
    let started = Instant::now();
    let produce = |topic: &str, rows: &[Row]| {
        support::produce_nullable(
            &bootstrap,
            topic,
            rows.iter()
                .map(|(k, v)| (Some(k.as_bytes()), v.as_deref(), None)),
        )
    };
    produce(PRODUCTS, &first_products)?;
    produce(ORDERS, &first_orders)?;
    produce(PRODUCTS, &product_rows)?;
    produce(ORDERS, &order_rows)?;
    println!(
        "produced {} products, {} orders and {} changes",
        first_products.len(),
        first_orders.len(),
        product_rows.len() + order_rows.len()
    );

    let consumer = support::output_reader(&bootstrap, "enriched-orders-reader", &[OUTPUT])?;
    let enriched_json = Serdes::json::<EnrichedOrder>();
    let mut table: BTreeMap<String, EnrichedOrder> = BTreeMap::new();
    let mut updates = 0usize;
    let deadline = Instant::now() + Duration::from_secs(120);
    // Equal to the model, and still equal after a quiet second: no late update undoes it.
    let mut equal_since: Option<Instant> = None;
    let took = loop {
        if Instant::now() > deadline {
            let mut differing: Vec<String> = model
                .iter()
                .filter(|(id, row)| table.get(*id) != Some(row))
                .map(|(id, row)| format!("{id}: {:?} instead of {row:?}", table.get(id)))
                .collect();
            differing.extend(
                table
                    .iter()
                    .filter(|(id, _)| !model.contains_key(*id))
                    .map(|(id, row)| format!("{id}: {row:?} instead of nothing")),
            );
            return Err(format!(
                "the enriched orders never reached the model: {} of {} orders differ, e.g. {}",
                differing.len(),
                model.len(),
                differing[..differing.len().min(3)].join("; ")
            )
            .into());
        }
        match (table == model, equal_since) {
            (true, None) => equal_since = Some(Instant::now()),
            (true, Some(since)) if since.elapsed() > Duration::from_secs(1) => {
                break since.duration_since(started)
            }
            (false, _) => equal_since = None,
            _ => {}
        }
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = message?;
        updates += 1;
        let id = String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned();
        match message.payload() {
            Some(bytes) => {
                table.insert(id, enriched_json.deserialize(OUTPUT, Some(bytes))?);
            }
            None => {
                table.remove(&id);
            }
        }
    };
    let with_product = table.values().filter(|o| o.product.is_some()).count();
    let revenue: i64 = table.values().filter_map(|o| o.total_cents).sum();
    for (id, order) in table.iter().take(5) {
        println!(
            "{id}: {} x {} = {}",
            order.quantity,
            order.product.as_deref().unwrap_or("(unknown product)"),
            order
                .total_cents
                .map_or("-".to_string(), |c| format!("{}.{:02}", c / 100, c % 100))
        );
    }
    println!(
        "enriched orders equal the model: {} orders ({with_product} with a known product, {}.{:02} in total) from {updates} updates in {took:.2?}",
        table.len(),
        revenue / 100,
        revenue % 100
    );
    streams.close(Duration::from_secs(30));
    drop(consumer);
    broker.shutdown()?;
    Ok(())
}
