//! Specification: instances of one application share its partitions, co-partitioned inputs
//! land together, and a leaving instance's tasks move to the others with their state.
//!
//! - Two instances (same `application.id`, one process, separate state directories) split the
//!   4 partitions of the word-count input: each runs tasks, none twice.
//! - Both inputs of a merged sub-topology (two topics with 4 partitions each) are assigned
//!   partition by partition to the same instance: the `range` assignor's co-location.
//! - When one instance closes, the other takes over all tasks, restores their counts from the
//!   changelog, and the final output equals the model — under exactly-once too, where no
//!   count is ever emitted twice.

use std::collections::BTreeSet;
use std::time::Duration;

use rill::prelude::*;
use rill::streams_core::TaskId;
use rill_test_support::*;

fn task_ids(streams: &KafkaStreams) -> BTreeSet<TaskId> {
    streams
        .local_thread_metadata()
        .iter()
        .flat_map(|t| t.active_tasks.iter().map(|task| task.task_id))
        .collect()
}

/// Starts one instance per state directory and waits until each runs tasks.
fn start_instances(
    dirs: &[tempfile::TempDir],
    instance: impl Fn(&std::path::Path) -> KafkaStreams,
) -> Vec<KafkaStreams> {
    let instances: Vec<KafkaStreams> = dirs
        .iter()
        .map(|d| {
            let s = instance(d.path());
            s.start().unwrap();
            s
        })
        .collect();
    wait_until(
        Duration::from_secs(30),
        "every instance to run tasks",
        || {
            instances
                .iter()
                .all(|s| s.state() == State::Running && !task_ids(s).is_empty())
        },
    );
    instances
}

#[test]
fn two_instances_split_the_partitions_and_one_takes_over_when_the_other_leaves() {
    scale_out_and_back("at_least_once");
}

#[test]
fn under_exactly_once_the_take_over_counts_nothing_twice() {
    let history = scale_out_and_back("exactly_once_v2");
    for (word, counts) in history {
        assert!(
            counts.windows(2).all(|w| w[0] < w[1]),
            "`{word}` counts emitted twice: {counts:?}"
        );
    }
}

/// Two instances split 4 partitions; one leaves and the other finishes the job. Returns every
/// count the output showed per word.
fn scale_out_and_back(guarantee: &str) -> std::collections::HashMap<String, Vec<i64>> {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let (id, input, output) = word_count_topics(&broker, 4);
    let application_id = format!("scale-{id}");
    let lines = random_lines(3, 8_000, 400);
    let (first, rest) = lines.split_at(3_000);
    let (middle, last) = rest.split_at(2_000);
    produce_lines(&bootstrap, &input, first);

    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let instance = |dir: &std::path::Path| {
        let mut config = config(&application_id, &bootstrap, dir);
        config.set("processing.guarantee", guarantee).unwrap();
        KafkaStreams::new(word_count(&input, &output), config).unwrap()
    };
    let (a, b) = (instance(dir_a.path()), instance(dir_b.path()));
    a.start().unwrap();
    b.start().unwrap();
    wait_until(
        Duration::from_secs(30),
        "both instances to run tasks",
        || {
            a.state() == State::Running
                && b.state() == State::Running
                && !task_ids(&a).is_empty()
                && !task_ids(&b).is_empty()
                && task_ids(&a).len() + task_ids(&b).len() == 8
        },
    );
    let (tasks_a, tasks_b) = (task_ids(&a), task_ids(&b));
    assert!(tasks_a.is_disjoint(&tasks_b), "{tasks_a:?} / {tasks_b:?}");

    // Lines produced while both run: each instance counts its share and logs it, so B's
    // counting tasks have changelog records that A has not seen.
    produce_lines(&bootstrap, &input, middle);
    let mut reader = CountReader::new(&bootstrap, &output, guarantee == "exactly_once_v2");
    reader.read_until_equal(&model(&lines[..5_000]), Duration::from_secs(60));

    // B leaves; A takes all 8 tasks over, restoring B's counting tasks from the changelog.
    let restored_before = a.metrics().records_restored;
    assert!(b.close(Duration::from_secs(30)));
    wait_until(Duration::from_secs(30), "A to take over every task", || {
        a.state() == State::Running && task_ids(&a).len() == 8
    });
    produce_lines(&bootstrap, &input, last);
    reader.read_until_equal(&model(&lines), Duration::from_secs(60));
    assert!(
        a.metrics().records_restored > restored_before,
        "A restored B's stores: {:?}",
        a.metrics()
    );
    assert!(a.close(Duration::from_secs(30)));
    reader.history
}

#[test]
fn co_partitioned_inputs_are_assigned_to_the_same_instance() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let id = unique();
    let (left, right, output) = (
        format!("left-{id}"),
        format!("right-{id}"),
        format!("merged-{id}"),
    );
    for topic in [&left, &right, &output] {
        broker.create_topic(topic, 4).unwrap();
    }
    let topology = || {
        let builder = StreamsBuilder::new();
        let l = builder.stream(&left, Consumed::with(Serdes::string(), Serdes::string()));
        let r = builder.stream(&right, Consumed::with(Serdes::string(), Serdes::string()));
        l.merge(&r)
            .group_by_key(Grouped::with(Serdes::string(), Serdes::string()))
            .count(Materialized::as_("per-key"))
            .to_stream()
            .to(
                &output,
                Produced::with(Serdes::string(), Serdes::option(Serdes::i64())),
            );
        builder.build().unwrap()
    };
    let application_id = format!("colocate-{id}");
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let instances = start_instances(&dirs, |dir| {
        KafkaStreams::new(topology(), config(&application_id, &bootstrap, dir)).unwrap()
    });
    let mut seen = BTreeSet::new();
    for streams in &instances {
        for thread in streams.local_thread_metadata() {
            for task in thread.active_tasks {
                let p = task.task_id.partition;
                assert_eq!(
                    task.topic_partitions,
                    vec![(left.clone(), p), (right.clone(), p)],
                    "task {} must own partition {p} of both inputs",
                    task.task_id
                );
                assert!(
                    seen.insert(task.task_id),
                    "task {} runs twice",
                    task.task_id
                );
            }
        }
    }
    assert_eq!(seen.len(), 4);

    // And the counts per key are right: both sides of a key meet in one task.
    let records: Vec<(Option<Vec<u8>>, Vec<u8>)> = (0..400)
        .map(|i| (Some(format!("k{}", i % 40).into_bytes()), b"v".to_vec()))
        .collect();
    produce(&bootstrap, &left, &records);
    produce(&bootstrap, &right, &records);
    let mut reader = CountReader::new(&bootstrap, &output, false);
    let expected: std::collections::HashMap<String, i64> =
        (0..40).map(|k| (format!("k{k}"), 20)).collect();
    reader.read_until_equal(&expected, Duration::from_secs(60));
    for streams in &instances {
        assert!(streams.close(Duration::from_secs(30)));
    }
}

/// A foreign-key join split over two instances (its registration and response topics crossing
/// between them), then carried on by one when the other leaves, equals the join of the final
/// tables throughout.
#[test]
fn a_foreign_key_join_over_two_instances_and_after_one_leaves_equals_the_model() {
    use std::collections::BTreeMap;
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let id = unique();
    let (orders_topic, products_topic, output) = (
        format!("orders-{id}"),
        format!("products-{id}"),
        format!("enriched-{id}"),
    );
    broker.create_topic(&orders_topic, 3).unwrap();
    broker.create_topic(&products_topic, 2).unwrap();
    broker.create_topic(&output, 2).unwrap();
    let topology = || {
        let builder = StreamsBuilder::new();
        let table = |topic: &str, store: &str| {
            builder.table(
                topic,
                Consumed::with(Serdes::string(), Serdes::string()),
                Materialized::as_(store),
            )
        };
        let orders = table(&orders_topic, "orders");
        let products = table(&products_topic, "products");
        orders
            .left_join_on_foreign_key(
                &products,
                |order: &String| order.clone(),
                |order: &String, product: Option<&String>| {
                    format!("{order}={}", product.map_or("?", String::as_str))
                },
            )
            .to_stream()
            .to(
                &output,
                Produced::with(Serdes::string(), Serdes::option(Serdes::string())),
            );
        builder.build().unwrap()
    };
    let mut orders: BTreeMap<String, String> = (0..600)
        .map(|i| (format!("o{i}"), format!("p{}", i % 40)))
        .collect();
    let mut products: BTreeMap<String, String> = (0..35)
        .map(|i| (format!("p{i}"), format!("name{i}")))
        .collect();
    let model = |orders: &BTreeMap<String, String>, products: &BTreeMap<String, String>| {
        orders
            .iter()
            .map(|(o, p)| {
                let name = products.get(p).map_or("?", String::as_str);
                (o.clone(), format!("{p}={name}"))
            })
            .collect::<BTreeMap<String, String>>()
    };
    let produce_rows = |topic: &str, rows: &BTreeMap<String, String>| {
        produce_timestamped(
            &bootstrap,
            topic,
            rows.iter()
                .map(|(k, v)| (Some(k.as_bytes()), Some(v.as_bytes()), None)),
        );
    };
    produce_rows(&products_topic, &products);
    produce_rows(&orders_topic, &orders);

    let application_id = format!("fk-scale-{id}");
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let instances = start_instances(&dirs, |dir| {
        KafkaStreams::new(topology(), config(&application_id, &bootstrap, dir)).unwrap()
    });
    let mut reader = TableReader::new(&bootstrap, &output);
    let expected = model(&orders, &products);
    reader.read_until(Duration::from_secs(90), |table| *table == expected);

    // One instance leaves; the other takes over every task (restoring the subscription store
    // from its changelog) and follows changes on both sides.
    let [a, b]: [KafkaStreams; 2] = instances.try_into().ok().unwrap();
    assert!(b.close(Duration::from_secs(30)));
    let mut changed_products = BTreeMap::new();
    for i in 0..10 {
        changed_products.insert(format!("p{i}"), format!("renamed{i}"));
    }
    for i in 35..40 {
        changed_products.insert(format!("p{i}"), format!("late{i}"));
    }
    produce_rows(&products_topic, &changed_products);
    products.extend(changed_products);
    let mut moved_orders = BTreeMap::new();
    for i in 0..100 {
        moved_orders.insert(format!("o{i}"), format!("p{}", (i + 7) % 40));
    }
    produce_rows(&orders_topic, &moved_orders);
    orders.extend(moved_orders);
    let expected = model(&orders, &products);
    reader.read_until(Duration::from_secs(90), |table| *table == expected);
    assert!(a.close(Duration::from_secs(30)));
}
