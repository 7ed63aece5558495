//! Stream-table joins through the test driver, against what Kafka Streams emits.

use std::collections::HashMap;

use proptest::prelude::*;

use super::test_support::{ms, outputs, owned};
use crate::prelude::*;
use crate::serde::{OptionSerde, StringSerde};

/// clicks (user → page) joined with regions (user → region) into `out` (user → "page@region").
fn click_regions(left: bool, in_memory: bool) -> TopologyTestDriver {
    let builder = StreamsBuilder::new();
    let materialized = if in_memory {
        Materialized::as_("regions").with_in_memory()
    } else {
        Materialized::as_("regions")
    };
    let regions = builder.table(
        "regions",
        Consumed::with(Serdes::string(), Serdes::string()),
        materialized,
    );
    let clicks = builder.stream("clicks", Consumed::with(Serdes::string(), Serdes::string()));
    let joined = Joined::with(Serdes::string(), Serdes::string());
    let out = if left {
        clicks.left_join(
            &regions,
            |page: &String, region: Option<&String>| {
                format!("{page}@{}", region.map_or("unknown", String::as_str))
            },
            joined,
        )
    } else {
        clicks.join(
            &regions,
            |page: &String, region: &String| format!("{page}@{region}"),
            joined,
        )
    };
    out.to("out", Produced::with(Serdes::string(), Serdes::string()));
    TopologyTestDriver::new(builder.build().unwrap()).unwrap()
}

#[test]
fn stream_records_trigger_and_table_updates_only_change_what_they_find() {
    for in_memory in [false, true] {
        let driver = click_regions(false, in_memory);
        let regions =
            driver.create_input_topic("regions", StringSerde, OptionSerde::new(StringSerde));
        let clicks = driver.create_input_topic("clicks", StringSerde, StringSerde);
        clicks.pipe_input_with_timestamp("alice", "home", 1);
        regions.pipe_input_with_timestamp("alice", Some("EU".to_string()), 2);
        // A table update alone emits nothing.
        assert!(outputs(&driver).is_empty(), "in_memory = {in_memory}");
        clicks.pipe_input_with_timestamp("alice", "cart", 3);
        clicks.pipe_input_with_timestamp("bob", "home", 4);
        regions.pipe_input_with_timestamp("alice", Some("US".to_string()), 5);
        clicks.pipe_input_with_timestamp("alice", "pay", 6);
        // A tombstone deletes: the next click finds nothing.
        regions.pipe_input_with_timestamp("alice", None::<String>, 7);
        clicks.pipe_input_with_timestamp("alice", "bye", 8);
        assert_eq!(
            outputs(&driver),
            owned(&[("alice", "cart@EU", 3), ("alice", "pay@US", 6)]),
            "in_memory = {in_memory}"
        );
    }
}

#[test]
fn left_join_emits_every_stream_record() {
    let driver = click_regions(true, false);
    let regions = driver.create_input_topic("regions", StringSerde, OptionSerde::new(StringSerde));
    let clicks = driver.create_input_topic("clicks", StringSerde, StringSerde);
    clicks.pipe_input_with_timestamp("alice", "home", 1);
    regions.pipe_input_with_timestamp("alice", Some("EU".to_string()), 2);
    clicks.pipe_input_with_timestamp("alice", "cart", 3);
    regions.pipe_input_with_timestamp("alice", None::<String>, 4);
    clicks.pipe_input_with_timestamp("alice", "bye", 5);
    assert_eq!(
        outputs(&driver),
        owned(&[
            ("alice", "home@unknown", 1),
            ("alice", "cart@EU", 3),
            ("alice", "bye@unknown", 5)
        ])
    );
}

#[test]
fn a_rekeyed_stream_is_repartitioned_before_the_join() {
    let builder = StreamsBuilder::new();
    let regions = builder.table(
        "regions",
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("regions"),
    );
    // Clicks arrive keyed by session; the user is the value's prefix.
    builder
        .stream("clicks", Consumed::with(Serdes::string(), Serdes::string()))
        .select_key(|_, v: &String| v.split('/').next().unwrap_or_default().to_string())
        .join(
            &regions,
            |click: &String, region: &String| format!("{click}@{region}"),
            Joined::with(Serdes::string(), Serdes::string()).with_name("clicks-by-user"),
        )
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let topology = builder.build().unwrap();
    let description = topology.describe().to_string();
    assert!(
        description
            .contains("Sink: clicks-by-user-repartition-sink (topic: clicks-by-user-repartition)"),
        "{description}"
    );
    // The join runs with the table, in the sub-topology that reads the repartition topic.
    assert_eq!(topology.subtopology_count(), 2);
    let with_table = (0..2)
        .map(|sub| topology.source_topics(sub, "app"))
        .find(|topics| topics.contains(&"regions".to_string()))
        .unwrap();
    assert!(
        with_table.contains(&"app-clicks-by-user-repartition".to_string()),
        "{with_table:?}"
    );
    let driver = TopologyTestDriver::new(topology).unwrap();
    let regions = driver.create_input_topic("regions", StringSerde, StringSerde);
    let clicks = driver.create_input_topic("clicks", StringSerde, StringSerde);
    regions.pipe_input_with_timestamp("alice", "EU", 1);
    clicks.pipe_input_with_timestamp("session-9", "alice/home", 2);
    assert_eq!(outputs(&driver), owned(&[("alice", "alice/home@EU", 2)]));
}

/// A filtered table without a store of its own is joined through the source table's store
/// and the filter, as Kafka joins it through its value getter (this was a topology error
/// before); so is an unmaterialized table-table join result.
#[test]
fn tables_without_a_store_are_joined_through_their_parents() {
    let builder = StreamsBuilder::new();
    let regions = builder
        .table(
            "regions",
            Consumed::with(Serdes::string(), Serdes::string()),
            Materialized::as_("regions"),
        )
        .filter(|_, r: &String| r != "moon");
    let plans = builder.table(
        "plans",
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::new(),
    );
    let region_plans = regions.join(&plans, |r: &String, p: &String| format!("{r}/{p}"));
    let clicks = builder.stream("clicks", Consumed::with(Serdes::string(), Serdes::string()));
    clicks
        .join(
            &regions,
            |c: &String, r: &String| format!("{c}@{r}"),
            Joined::with(Serdes::string(), Serdes::string()),
        )
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    clicks
        .left_join(
            &region_plans,
            |c: &String, rp: Option<&String>| format!("{c}@{rp:?}"),
            Joined::with(Serdes::string(), Serdes::string()),
        )
        .to(
            "out-plans",
            Produced::with(Serdes::string(), Serdes::string()),
        );
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let input = |topic: &str| driver.create_input_topic(topic, StringSerde, StringSerde);
    input("regions").pipe_input_with_timestamp("alice", "EU", 1);
    input("regions").pipe_input_with_timestamp("bob", "moon", 2);
    input("plans").pipe_input_with_timestamp("alice", "gold", 3);
    input("clicks").pipe_input_with_timestamp("alice", "home", 4);
    input("clicks").pipe_input_with_timestamp("bob", "home", 5);
    assert_eq!(outputs(&driver), owned(&[("alice", "home@EU", 4)]));
    let plans_out = driver
        .create_output_topic("out-plans", StringSerde, StringSerde)
        .read_records_to_list()
        .into_iter()
        .map(|r| (r.key, r.value))
        .collect::<Vec<_>>();
    assert_eq!(
        plans_out,
        [
            ("alice".to_string(), "home@Some(\"EU/gold\")".to_string()),
            ("bob".to_string(), "home@None".to_string())
        ]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Random interleavings of table updates (with deletes) and clicks: the join's output is
    /// what a HashMap of the table's latest values gives at each click.
    #[test]
    fn joins_equal_a_hash_map_model(
        events in proptest::collection::vec((any::<bool>(), 0u8..4, proptest::option::of(0u8..3)), 1..60),
        left in any::<bool>(),
    ) {
        let driver = click_regions(left, true);
        let regions = driver.create_input_topic("regions", StringSerde, OptionSerde::new(StringSerde));
        let clicks = driver.create_input_topic("clicks", StringSerde, StringSerde);
        let mut table: HashMap<String, String> = HashMap::new();
        let mut expected = Vec::new();
        for (ts, (is_click, user, region)) in events.into_iter().enumerate() {
            let (user, ts) = (format!("u{user}"), ts as i64);
            if is_click {
                clicks.pipe_input_with_timestamp(user.clone(), "p".to_string(), ts);
                match (table.get(&user), left) {
                    (Some(r), _) => expected.push((user, format!("p@{r}"), ts)),
                    (None, true) => expected.push((user, "p@unknown".to_string(), ts)),
                    (None, false) => {}
                }
            } else {
                let region = region.map(|r| format!("r{r}"));
                regions.pipe_input_with_timestamp(user.clone(), region.clone(), ts);
                match region {
                    Some(r) => { table.insert(user, r); }
                    None => { table.remove(&user); }
                }
            }
        }
        prop_assert_eq!(outputs(&driver), expected);
    }
}

/// users (user → name) and regions (user → region) joined into `out` as table updates.
fn user_regions(kind: &str) -> TopologyTestDriver {
    user_regions_joined(kind, false)
}

/// Users joined with their regions; with `materialized`, through the `_materialized` variants
/// into the store `joined`.
fn user_regions_joined(kind: &str, materialized: bool) -> TopologyTestDriver {
    let builder = StreamsBuilder::new();
    let users = builder.table(
        "users",
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("users"),
    );
    let regions = builder.table(
        "regions",
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("regions"),
    );
    let inner = |u: &String, r: &String| format!("{u}@{r}");
    let left = |u: &String, r: Option<&String>| format!("{u}@{}", r.map_or("-", String::as_str));
    let outer = |u: Option<&String>, r: Option<&String>| {
        format!(
            "{}@{}",
            u.map_or("-", String::as_str),
            r.map_or("-", String::as_str)
        )
    };
    let store = || Materialized::as_("joined").with_value_serde(Serdes::string());
    let joined = match (kind, materialized) {
        ("inner", false) => users.join(&regions, inner),
        ("inner", true) => users.join_materialized(&regions, inner, store()),
        ("left", false) => users.left_join(&regions, left),
        ("left", true) => users.left_join_materialized(&regions, left, store()),
        (_, false) => users.outer_join(&regions, outer),
        (_, true) => users.outer_join_materialized(&regions, outer, store()),
    };
    joined.to_stream().to(
        "out",
        Produced::with(Serdes::string(), Serdes::option(Serdes::string())),
    );
    TopologyTestDriver::new(builder.build().unwrap()).unwrap()
}

fn table_updates(driver: &TopologyTestDriver) -> Vec<(String, Option<String>, i64)> {
    driver
        .create_output_topic("out", StringSerde, OptionSerde::new(StringSerde))
        .read_records_to_list()
        .into_iter()
        .map(|r| (r.key, r.value, r.timestamp))
        .collect()
}

/// The same five updates for every join kind: user a named, region of a, rename, region gone,
/// user gone.
fn pipe_user_region_updates(driver: &TopologyTestDriver) {
    let users = driver.create_input_topic("users", StringSerde, OptionSerde::new(StringSerde));
    let regions = driver.create_input_topic("regions", StringSerde, OptionSerde::new(StringSerde));
    users.pipe_input_with_timestamp("a", Some("ann".to_string()), 1);
    regions.pipe_input_with_timestamp("a", Some("EU".to_string()), 2);
    users.pipe_input_with_timestamp("a", Some("anna".to_string()), 3);
    regions.pipe_input_with_timestamp("a", None::<String>, 4);
    users.pipe_input_with_timestamp("a", None::<String>, 5);
}

fn some(updates: &[(&str, Option<&str>, i64)]) -> Vec<(String, Option<String>, i64)> {
    updates
        .iter()
        .map(|(k, v, t)| (k.to_string(), v.map(str::to_string), *t))
        .collect()
}

#[test]
fn table_table_inner_join_follows_both_sides_and_deletes() {
    let driver = user_regions("inner");
    pipe_user_region_updates(&driver);
    assert_eq!(
        table_updates(&driver),
        some(&[
            ("a", Some("ann@EU"), 2),
            ("a", Some("anna@EU"), 3),
            // The region left: the joined row is deleted; the user leaving then changes nothing.
            ("a", None, 4),
        ])
    );
}

#[test]
fn table_table_left_and_outer_joins_keep_the_rows_of_their_sides() {
    let driver = user_regions("left");
    pipe_user_region_updates(&driver);
    assert_eq!(
        table_updates(&driver),
        some(&[
            ("a", Some("ann@-"), 1),
            ("a", Some("ann@EU"), 2),
            ("a", Some("anna@EU"), 3),
            ("a", Some("anna@-"), 4),
            ("a", None, 5),
        ])
    );
    let driver = user_regions("outer");
    pipe_user_region_updates(&driver);
    assert_eq!(
        table_updates(&driver),
        some(&[
            ("a", Some("ann@-"), 1),
            ("a", Some("ann@EU"), 2),
            ("a", Some("anna@EU"), 3),
            ("a", Some("anna@-"), 4),
            ("a", None, 5),
        ])
    );
}

#[test]
fn table_table_join_results_can_be_aggregated_with_their_old_values() {
    // Users per region, through the inner join: a user moving or leaving is subtracted from
    // the region it was counted in, which needs the join's old values.
    let builder = StreamsBuilder::new();
    let users = builder.table(
        "users",
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("users"),
    );
    let regions = builder.table(
        "regions",
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("regions"),
    );
    users
        .join(&regions, |_: &String, r: &String| r.clone())
        .group_by(
            |user: &String, region: &String| (region.clone(), user.clone()),
            Grouped::with(Serdes::string(), Serdes::string()),
        )
        .count(Materialized::as_("per-region"))
        .to_stream()
        .to(
            "out",
            Produced::with(Serdes::string(), Serdes::option(Serdes::i64())),
        );
    let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    let users_in = driver.create_input_topic("users", StringSerde, OptionSerde::new(StringSerde));
    let regions_in =
        driver.create_input_topic("regions", StringSerde, OptionSerde::new(StringSerde));
    for user in ["a", "b", "c"] {
        users_in.pipe_input_with_timestamp(user, Some(user.to_uppercase()), 1);
    }
    regions_in.pipe_input_with_timestamp("a", Some("EU".to_string()), 2);
    regions_in.pipe_input_with_timestamp("b", Some("EU".to_string()), 3);
    regions_in.pipe_input_with_timestamp("c", Some("US".to_string()), 4);
    regions_in.pipe_input_with_timestamp("b", Some("US".to_string()), 5);
    users_in.pipe_input_with_timestamp("a", None::<String>, 6);
    let store = driver
        .get_timestamped_key_value_store("per-region", StringSerde, crate::serde::I64Serde)
        .unwrap();
    let count = |region: &str| store.get(&region.to_string()).unwrap().map(|(n, _)| n);
    assert_eq!(count("EU"), Some(0));
    assert_eq!(count("US"), Some(2));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Random updates and deletes on both sides: the join's updates, applied as a table,
    /// always equal the join of the two tables' latest values computed in plain Rust.
    #[test]
    fn table_joins_equal_the_join_of_the_latest_values(
        updates in proptest::collection::vec((any::<bool>(), 0u8..4, proptest::option::of(0u8..3)), 1..50),
        kind in prop_oneof![Just("inner"), Just("left"), Just("outer")],
        materialized in any::<bool>(),
    ) {
        let driver = user_regions_joined(kind, materialized);
        let users = driver.create_input_topic("users", StringSerde, OptionSerde::new(StringSerde));
        let regions = driver.create_input_topic("regions", StringSerde, OptionSerde::new(StringSerde));
        let out = driver.create_output_topic("out", StringSerde, OptionSerde::new(StringSerde));
        let (mut left, mut right) = (HashMap::new(), HashMap::new());
        let mut result: HashMap<String, String> = HashMap::new();
        for (ts, (is_user, key, value)) in updates.into_iter().enumerate() {
            let key = format!("k{key}");
            let value = value.map(|v| format!("v{v}"));
            let (topic, side) = if is_user { (&users, &mut left) } else { (&regions, &mut right) };
            topic.pipe_input_with_timestamp(key.clone(), value.clone(), ts as i64);
            match value {
                Some(v) => { side.insert(key, v); }
                None => { side.remove(&key); }
            }
            for record in out.read_records_to_list() {
                match record.value {
                    Some(v) => { result.insert(record.key, v); }
                    None => { result.remove(&record.key); }
                }
            }
            let keys: std::collections::BTreeSet<&String> = left.keys().chain(right.keys()).collect();
            let mut model = HashMap::new();
            for k in keys {
                let (u, r) = (left.get(k), right.get(k));
                let row = match (kind, u, r) {
                    ("inner", Some(u), Some(r)) | ("left", Some(u), Some(r)) => Some(format!("{u}@{r}")),
                    ("left", Some(u), None) => Some(format!("{u}@-")),
                    ("outer", u, r) if u.is_some() || r.is_some() => Some(format!(
                        "{}@{}",
                        u.map_or("-", String::as_str),
                        r.map_or("-", String::as_str)
                    )),
                    _ => None,
                };
                if let Some(row) = row {
                    model.insert(k.clone(), row);
                }
            }
            prop_assert_eq!(&result, &model);
            if materialized {
                // The materialized result holds exactly the current rows.
                let stored: HashMap<String, String> = driver
                    .get_key_value_store("joined", StringSerde, StringSerde)
                    .unwrap()
                    .all()
                    .unwrap()
                    .into_iter()
                    .collect();
                prop_assert_eq!(&stored, &model);
            }
        }
    }
}

#[test]
fn a_materialized_table_join_keeps_its_store_on_the_merge_node_and_can_be_joined_again() {
    let builder = StreamsBuilder::new();
    let table = |topic: &str| {
        builder.table(
            topic,
            Consumed::with(Serdes::string(), Serdes::string()),
            Materialized::as_(topic),
        )
    };
    let (users, regions, plans) = (table("users"), table("regions"), table("plans"));
    let joined = users.join_materialized(
        &regions,
        |u: &String, r: &String| format!("{u}@{r}"),
        Materialized::as_("joined").with_value_serde(Serdes::string()),
    );
    assert_eq!(joined.queryable_store_name(), Some("joined"));
    // A materialized result is a table like any other: it joins again.
    joined
        .join(&plans, |j: &String, p: &String| format!("{j}+{p}"))
        .to_stream()
        .to(
            "out",
            Produced::with(Serdes::string(), Serdes::option(Serdes::string())),
        );
    let topology = builder.build().unwrap();
    let description = topology.describe().to_string();
    assert!(
        description.contains("Processor: KTABLE-MERGE-0000000006 (stores: [joined])"),
        "{description}"
    );
    let driver = TopologyTestDriver::new(topology).unwrap();
    let input = |topic: &str| driver.create_input_topic(topic, StringSerde, StringSerde);
    input("users").pipe_input("a", "ann");
    input("regions").pipe_input("a", "EU");
    input("plans").pipe_input("a", "gold");
    let out = driver.create_output_topic("out", StringSerde, OptionSerde::new(StringSerde));
    assert_eq!(
        out.read_records_to_list()
            .into_iter()
            .map(|r| (r.key, r.value))
            .collect::<Vec<_>>(),
        vec![("a".to_string(), Some("ann@EU+gold".to_string()))]
    );
    let store = driver
        .get_key_value_store("joined", StringSerde, StringSerde)
        .unwrap();
    assert_eq!(
        store.get(&"a".to_string()).unwrap(),
        Some("ann@EU".to_string())
    );
}

/// left ⋈ right within `windows`, joined as "l+r", into `out`.
fn stream_stream(windows: JoinWindows) -> TopologyTestDriver {
    let builder = StreamsBuilder::new();
    let left = builder.stream("left", Consumed::with(Serdes::string(), Serdes::string()));
    let right = builder.stream("right", Consumed::with(Serdes::string(), Serdes::string()));
    left.join_stream(
        &right,
        |l: &String, r: &String| format!("{l}+{r}"),
        windows,
        StreamJoined::with(Serdes::string(), Serdes::string(), Serdes::string()),
    )
    .to("out", Produced::with(Serdes::string(), Serdes::string()));
    TopologyTestDriver::new(builder.build().unwrap()).unwrap()
}

#[test]
fn stream_stream_join_pairs_records_within_the_window_from_either_side() {
    let driver = stream_stream(JoinWindows::of_time_difference_and_grace(ms(10), ms(100)).unwrap());
    let left = driver.create_input_topic("left", StringSerde, StringSerde);
    let right = driver.create_input_topic("right", StringSerde, StringSerde);
    left.pipe_input_with_timestamp("a", "l1", 10);
    right.pipe_input_with_timestamp("a", "r1", 15);
    right.pipe_input_with_timestamp("a", "r2", 30);
    right.pipe_input_with_timestamp("b", "r3", 12);
    left.pipe_input_with_timestamp("a", "l2", 25);
    // Duplicates (same key and timestamp) are all kept.
    left.pipe_input_with_timestamp("a", "l3", 25);
    assert_eq!(
        outputs(&driver),
        owned(&[
            ("a", "l1+r1", 15),
            ("a", "l2+r1", 25),
            ("a", "l2+r2", 30),
            ("a", "l3+r1", 25),
            ("a", "l3+r2", 30),
        ])
    );
}

#[test]
fn join_windows_before_and_after_are_seen_from_the_left_stream() {
    // A left record at t joins right records in [t - 0, t + 10]: right must not be earlier.
    let windows = JoinWindows::of_time_difference_with_no_grace(ms(10))
        .unwrap()
        .before(ms(0));
    let driver = stream_stream(windows);
    let left = driver.create_input_topic("left", StringSerde, StringSerde);
    let right = driver.create_input_topic("right", StringSerde, StringSerde);
    right.pipe_input_with_timestamp("a", "early", 5);
    left.pipe_input_with_timestamp("a", "l", 8);
    right.pipe_input_with_timestamp("a", "late", 18);
    assert_eq!(outputs(&driver), owned(&[("a", "l+late", 18)]));
}

#[test]
fn records_older_than_the_join_window_and_grace_join_what_the_other_store_still_holds() {
    let driver = stream_stream(JoinWindows::of_time_difference_and_grace(ms(10), ms(5)).unwrap());
    let left = driver.create_input_topic("left", StringSerde, StringSerde);
    let right = driver.create_input_topic("right", StringSerde, StringSerde);
    left.pipe_input_with_timestamp("a", "l", 100);
    right.pipe_input_with_timestamp("z", "time", 200);
    // 101 is older than stream time 200 minus the 25 ms the stores keep, but, as in Kafka, it is
    // not dropped: the left store has seen nothing after 100, so it still holds l.
    right.pipe_input_with_timestamp("a", "r", 101);
    assert_eq!(outputs(&driver), owned(&[("a", "l+r", 101)]));
    // Once the left store's own time has moved on, l has expired there: nothing to join.
    left.pipe_input_with_timestamp("z", "time", 300);
    right.pipe_input_with_timestamp("a", "r2", 102);
    assert!(outputs(&driver).is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// In-order records on both sides: the join emits exactly every pair of a left and a right
    /// record with the same key at most the window apart, each once.
    #[test]
    fn stream_stream_join_equals_every_pair_within_the_window(
        events in proptest::collection::vec((any::<bool>(), 0u8..3, 0i64..6), 1..40),
        difference in 0u64..8,
    ) {
        let driver = stream_stream(JoinWindows::of_time_difference_with_no_grace(ms(difference)).unwrap());
        let left = driver.create_input_topic("left", StringSerde, StringSerde);
        let right = driver.create_input_topic("right", StringSerde, StringSerde);
        let mut ts = 0;
        let mut seen: Vec<(bool, String, String, i64)> = Vec::new();
        for (i, (is_left, key, step)) in events.into_iter().enumerate() {
            ts += step;
            let (key, value) = (format!("k{key}"), format!("v{i}"));
            if is_left {
                left.pipe_input_with_timestamp(key.clone(), value.clone(), ts);
            } else {
                right.pipe_input_with_timestamp(key.clone(), value.clone(), ts);
            }
            seen.push((is_left, key, value, ts));
        }
        let mut expected = Vec::new();
        for (l_side, lk, lv, lt) in &seen {
            for (r_side, rk, rv, rt) in &seen {
                if *l_side && !*r_side && lk == rk && (lt - rt).abs() <= difference as i64 {
                    expected.push((lk.clone(), format!("{lv}+{rv}"), *lt.max(rt)));
                }
            }
        }
        let mut actual = outputs(&driver);
        actual.sort();
        expected.sort();
        prop_assert_eq!(actual, expected);
    }
}

#[test]
fn stream_stream_join_is_described_with_kafkas_node_and_store_names() {
    let builder = StreamsBuilder::new();
    let left = builder.stream("left", Consumed::with(Serdes::string(), Serdes::string()));
    let right = builder.stream("right", Consumed::with(Serdes::string(), Serdes::string()));
    left.join_stream(
        &right,
        |l: &String, r: &String| format!("{l}+{r}"),
        JoinWindows::of_time_difference_with_no_grace(ms(10)).unwrap(),
        StreamJoined::with(Serdes::string(), Serdes::string(), Serdes::string()),
    )
    .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let description = builder.build().unwrap().describe().to_string();
    for line in [
        "Processor: KSTREAM-WINDOWED-0000000002 (stores: [KSTREAM-JOINTHIS-0000000004-store])",
        "Processor: KSTREAM-WINDOWED-0000000003 (stores: [KSTREAM-JOINOTHER-0000000005-store])",
        "Processor: KSTREAM-JOINTHIS-0000000004 (stores: [KSTREAM-JOINOTHER-0000000005-store])",
        "Processor: KSTREAM-JOINOTHER-0000000005 (stores: [KSTREAM-JOINTHIS-0000000004-store])",
        "Processor: KSTREAM-MERGE-0000000006 (stores: [])",
        "Sink: KSTREAM-SINK-0000000007 (topic: out)",
    ] {
        assert!(description.contains(line), "{line}\n{description}");
    }
}

/// left ⟕ right (or ⟗ with `outer`) within 10 ms and a grace of 5 ms, as "l+r" / "l+-" / "-+r".
fn stream_stream_unmatched(outer: bool) -> TopologyTestDriver {
    let builder = StreamsBuilder::new();
    let left = builder.stream("left", Consumed::with(Serdes::string(), Serdes::string()));
    let right = builder.stream("right", Consumed::with(Serdes::string(), Serdes::string()));
    let windows = JoinWindows::of_time_difference_and_grace(ms(10), ms(5)).unwrap();
    let joined = StreamJoined::with(Serdes::string(), Serdes::string(), Serdes::string());
    let out = if outer {
        left.outer_join_stream(
            &right,
            |l: Option<&String>, r: Option<&String>| {
                format!(
                    "{}+{}",
                    l.map_or("-", String::as_str),
                    r.map_or("-", String::as_str)
                )
            },
            windows,
            joined,
        )
    } else {
        left.left_join_stream(
            &right,
            |l: &String, r: Option<&String>| format!("{l}+{}", r.map_or("-", String::as_str)),
            windows,
            joined,
        )
    };
    out.to("out", Produced::with(Serdes::string(), Serdes::string()));
    TopologyTestDriver::new(builder.build().unwrap()).unwrap()
}

#[test]
fn left_join_emits_unmatched_records_only_once_their_window_closed() {
    let driver = stream_stream_unmatched(false);
    let left = driver.create_input_topic("left", StringSerde, StringSerde);
    let right = driver.create_input_topic("right", StringSerde, StringSerde);
    left.pipe_input_with_timestamp("a", "l1", 10);
    left.pipe_input_with_timestamp("b", "l2", 12);
    // No early "l1+-": a partner may still come.
    assert!(outputs(&driver).is_empty());
    right.pipe_input_with_timestamp("a", "r1", 18);
    right.pipe_input_with_timestamp("c", "r2", 20);
    assert_eq!(outputs(&driver), owned(&[("a", "l1+r1", 18)]));
    // l2's window ends at 22, and closes after the 5 ms grace: at stream time 28.
    right.pipe_input_with_timestamp("z", "tick", 27);
    assert!(outputs(&driver).is_empty());
    right.pipe_input_with_timestamp("z", "tick", 28);
    // Matched l1 is not emitted alone; unmatched right records never are in a left join.
    assert_eq!(outputs(&driver), owned(&[("b", "l2+-", 12)]));
}

#[test]
fn outer_join_emits_unmatched_records_of_both_streams() {
    let driver = stream_stream_unmatched(true);
    let left = driver.create_input_topic("left", StringSerde, StringSerde);
    let right = driver.create_input_topic("right", StringSerde, StringSerde);
    left.pipe_input_with_timestamp("a", "l1", 10);
    right.pipe_input_with_timestamp("b", "r1", 11);
    right.pipe_input_with_timestamp("a", "r2", 15);
    left.pipe_input_with_timestamp("z", "tick", 100);
    let mut updates = outputs(&driver);
    updates.sort();
    assert_eq!(updates, owned(&[("a", "l1+r2", 15), ("b", "-+r1", 11)]));
    // The tick itself is emitted alone once its window closes.
    right.pipe_input_with_timestamp("y", "tock", 200);
    assert_eq!(outputs(&driver), owned(&[("z", "tick+-", 100)]));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// In-order records, then a record far in the future that closes every window: a left
    /// (outer) join emits every pair within the window plus each left (and right) record that
    /// had no partner, alone, exactly once.
    #[test]
    fn left_and_outer_stream_joins_equal_the_model(
        events in proptest::collection::vec((any::<bool>(), 0u8..3, 0i64..8), 1..40),
        outer in any::<bool>(),
    ) {
        let driver = stream_stream_unmatched(outer);
        let left = driver.create_input_topic("left", StringSerde, StringSerde);
        let right = driver.create_input_topic("right", StringSerde, StringSerde);
        let mut ts = 0;
        let mut seen: Vec<(bool, String, String, i64)> = Vec::new();
        for (i, (is_left, key, step)) in events.into_iter().enumerate() {
            ts += step;
            let (key, value) = (format!("k{key}"), format!("v{i}"));
            let topic = if is_left { &left } else { &right };
            topic.pipe_input_with_timestamp(key.clone(), value.clone(), ts);
            seen.push((is_left, key, value, ts));
        }
        left.pipe_input_with_timestamp("zz".to_string(), "end".to_string(), ts + 1_000);
        let partners = |side: bool, key: &str, t: i64| {
            seen.iter()
                .filter(|(s, k, _, u)| *s != side && k == key && (t - u).abs() <= 10)
                .count()
        };
        let mut expected = Vec::new();
        for (is_left, key, value, t) in &seen {
            if *is_left {
                for (s, k, v, u) in &seen {
                    if !*s && k == key && (t - u).abs() <= 10 {
                        expected.push((key.clone(), format!("{value}+{v}"), *t.max(u)));
                    }
                }
                if partners(true, key, *t) == 0 {
                    expected.push((key.clone(), format!("{value}+-"), *t));
                }
            } else if outer && partners(false, key, *t) == 0 {
                expected.push((key.clone(), format!("-+{value}"), *t));
            }
        }
        let mut actual = outputs(&driver);
        actual.sort();
        expected.sort();
        prop_assert_eq!(actual, expected);
    }
}

/// topic1 (i32 → string) joined with topic2 (i32 → string) within `windows`, left or outer, as
/// Kafka's `MockValueJoiner.TOSTRING_JOINER` writes it ("A0+null"), into "out". (Kafka's outer
/// join tests read topic2 as longs; their strings print the same.)
fn kafka_stream_stream(outer: bool, windows: JoinWindows) -> TopologyTestDriver {
    let builder = StreamsBuilder::new();
    let left = builder.stream("topic1", Consumed::with(Serdes::i32(), Serdes::string()));
    let right = builder.stream("topic2", Consumed::with(Serdes::i32(), Serdes::string()));
    let joined = StreamJoined::with(Serdes::i32(), Serdes::string(), Serdes::string());
    let show = |v: Option<&String>| v.map_or("null", String::as_str).to_string();
    let out = if outer {
        left.outer_join_stream(
            &right,
            move |l: Option<&String>, r: Option<&String>| format!("{}+{}", show(l), show(r)),
            windows,
            joined,
        )
    } else {
        left.left_join_stream(
            &right,
            move |l: &String, r: Option<&String>| format!("{l}+{}", show(r)),
            windows,
            joined,
        )
    };
    out.to("out", Produced::with(Serdes::i32(), Serdes::string()));
    TopologyTestDriver::new(builder.build().unwrap()).unwrap()
}

/// Pipes `(topic, key, value, timestamp)` records, then returns what "out" received since the
/// last call, as (key, value, timestamp).
fn pipe_joined(
    driver: &TopologyTestDriver,
    records: &[(&str, i32, &str, i64)],
) -> Vec<(i32, String, i64)> {
    for (topic, key, value, ts) in records {
        driver
            .create_input_topic(topic, crate::serde::I32Serde, StringSerde)
            .pipe_input_with_timestamp(*key, *value, *ts);
    }
    driver
        .create_output_topic("out", crate::serde::I32Serde, StringSerde)
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

/// Kafka's `KStreamKStreamOuterJoinTest#testOuterJoinDuplicates`: at one timestamp the waiting
/// right-side records are emitted before the left-side ones, duplicates each in turn.
#[test]
fn outer_join_emits_waiting_records_in_kafkas_order() {
    let windows = JoinWindows::of_time_difference_and_grace(ms(100), ms(10)).unwrap();
    let driver = kafka_stream_stream(true, windows);
    let out = pipe_joined(
        &driver,
        &[
            ("topic1", 0, "A0", 0),
            ("topic1", 0, "A0-0", 0),
            ("topic2", 1, "11", 0),
            ("topic2", 1, "12", 0),
            ("topic2", 1, "10", 111),
            ("topic2", 3, "100", 211),
        ],
    );
    assert_eq!(
        out,
        kvt(&[
            (1, "null+11", 0),
            (1, "null+12", 0),
            (0, "A0+null", 0),
            (0, "A0-0+null", 0),
        ])
    );
    let out = pipe_joined(
        &driver,
        &[
            ("topic1", 2, "A2", 200),
            ("topic1", 2, "A2-0", 200),
            ("topic2", 2, "13", 201),
            ("topic2", 2, "14", 201),
        ],
    );
    assert_eq!(
        out,
        kvt(&[
            (2, "A2+13", 201),
            (2, "A2-0+13", 201),
            (2, "A2+14", 201),
            (2, "A2-0+14", 201),
        ])
    );
    let out = pipe_joined(&driver, &[("topic2", 3, "100", 1500)]);
    assert_eq!(out, kvt(&[(1, "null+10", 111), (3, "null+100", 211)]));
}

/// Kafka's `KStreamKStreamOuterJoinTest#testOrdering` and
/// `KStreamKStreamLeftJoinTest#testOrdering`: the record that closes a waiting record's window
/// emits it before its own join result.
#[test]
fn closed_unmatched_records_come_before_the_join_result_that_closed_them() {
    for outer in [true, false] {
        let windows = JoinWindows::of_time_difference_with_no_grace(ms(100)).unwrap();
        let driver = kafka_stream_stream(outer, windows);
        let out = pipe_joined(&driver, &[("topic1", 0, "A0", 0), ("topic1", 1, "A1", 100)]);
        assert!(out.is_empty(), "outer {outer}");
        let out = pipe_joined(&driver, &[("topic2", 1, "a1", 110)]);
        assert_eq!(
            out,
            kvt(&[(0, "A0+null", 0), (1, "A1+a1", 110)]),
            "outer {outer}"
        );
    }
}

/// Kafka's `KStreamKStreamOuterJoinTest#testGracePeriod`.
#[test]
fn outer_join_waits_for_the_grace_period() {
    let windows = JoinWindows::of_time_difference_and_grace(ms(100), ms(10)).unwrap();
    let driver = kafka_stream_stream(true, windows);
    let out = pipe_joined(&driver, &[("topic1", 0, "A0", 0), ("topic2", 1, "11", 0)]);
    assert!(out.is_empty());
    let out = pipe_joined(
        &driver,
        &[("topic1", 1, "A1", 101), ("topic2", 0, "10", 101)],
    );
    assert!(out.is_empty());
    let out = pipe_joined(&driver, &[("topic2", 0, "100", 112)]);
    assert_eq!(out, kvt(&[(1, "null+11", 0), (0, "A0+null", 0)]));
}

/// Kafka's `KStreamKStreamOuterJoinTest#testEmitAllNonJoinedResultsForAsymmetricWindow`: a
/// left record waits `after`, a right record `before`.
#[test]
fn outer_join_closes_each_side_by_its_own_window_bound() {
    let windows = JoinWindows::of_time_difference_with_no_grace(ms(5))
        .unwrap()
        .after(ms(20));
    let driver = kafka_stream_stream(true, windows);
    let out = pipe_joined(
        &driver,
        &[
            ("topic1", 0, "A0", 29),
            ("topic1", 1, "A1", 30),
            ("topic2", 2, "12", 31),
            ("topic2", 3, "13", 36),
        ],
    );
    assert!(out.is_empty());
    let out = pipe_joined(&driver, &[("topic2", 4, "14", 37)]);
    assert_eq!(out, kvt(&[(2, "null+12", 31)]));
    let out = pipe_joined(&driver, &[("topic2", 5, "15", 50)]);
    assert_eq!(
        out,
        kvt(&[(0, "A0+null", 29), (3, "null+13", 36), (4, "null+14", 37)])
    );
}

/// Kafka's `KStreamKStreamLeftJoinTest#testLeftJoinDuplicates`.
#[test]
fn left_join_emits_waiting_duplicates_once() {
    let windows = JoinWindows::of_time_difference_and_grace(ms(100), ms(10)).unwrap();
    let driver = kafka_stream_stream(false, windows);
    let out = pipe_joined(
        &driver,
        &[
            ("topic1", 0, "A0", 0),
            ("topic1", 0, "A0-0", 0),
            ("topic2", 1, "a0", 111),
            ("topic2", 2, "dummy", 500),
        ],
    );
    assert_eq!(out, kvt(&[(0, "A0+null", 0), (0, "A0-0+null", 0)]));
    let out = pipe_joined(
        &driver,
        &[
            ("topic1", 2, "A2", 1000),
            ("topic1", 2, "A2-0", 1000),
            ("topic2", 2, "a2", 1001),
        ],
    );
    assert_eq!(out, kvt(&[(2, "A2+a2", 1001), (2, "A2-0+a2", 1001)]));
    let out = pipe_joined(&driver, &[("topic2", 3, "a3", 315)]);
    assert!(out.is_empty());
}

/// Kafka's `KStreamKStreamOuterJoinTest#testWindowing` (with `testUpperWindowBound` and
/// `testLowerWindowBound`): pairs at the window's bounds, unmatched records emitted in the outer
/// store's order, and records too late for any window emitted alone at once, not dropped.
#[test]
fn outer_join_windowing_as_kafka() {
    let windows = JoinWindows::of_time_difference_with_no_grace(ms(100)).unwrap();
    let driver = kafka_stream_stream(true, windows);
    let keys = [0, 1, 2, 3];
    let texts: Vec<String> = (0..=3).map(|k| format!("{}", k + 10)).collect();
    let left_values =
        |prefix: &str| -> Vec<String> { keys.iter().map(|k| format!("{prefix}{k}")).collect() };
    let out = pipe_joined(&driver, &[("topic1", 0, "A0", 0), ("topic1", 1, "A1", 0)]);
    assert!(out.is_empty());
    let records: Vec<_> = keys
        .iter()
        .map(|&k| ("topic2", k, texts[k as usize].as_str(), 0))
        .collect();
    assert_eq!(
        pipe_joined(&driver, &records),
        kvt(&[(0, "A0+10", 0), (1, "A1+11", 0)])
    );
    // The upper bound of the window.
    let texts: Vec<String> = keys.iter().map(|k| format!("{}", k + 20)).collect();
    let records: Vec<_> = keys
        .iter()
        .map(|&k| ("topic2", k, texts[k as usize].as_str(), 1000 + i64::from(k)))
        .collect();
    assert_eq!(
        pipe_joined(&driver, &records),
        kvt(&[(2, "null+12", 0), (3, "null+13", 0)])
    );
    let left_batch = |prefix: &str, ts: i64| -> Vec<(i32, String, i64)> {
        let values = left_values(prefix);
        let records: Vec<_> = keys
            .iter()
            .zip(&values)
            .map(|(&k, v)| ("topic1", k, v.as_str(), ts))
            .collect();
        pipe_joined(&driver, &records)
    };
    assert_eq!(
        left_batch("B", 1100),
        kvt(&[
            (0, "B0+20", 1100),
            (1, "B1+21", 1100),
            (2, "B2+22", 1100),
            (3, "B3+23", 1100),
        ])
    );
    assert_eq!(
        left_batch("C", 1101),
        kvt(&[(1, "C1+21", 1101), (2, "C2+22", 1101), (3, "C3+23", 1101)])
    );
    assert_eq!(
        left_batch("D", 1102),
        kvt(&[(2, "D2+22", 1102), (3, "D3+23", 1102)])
    );
    assert_eq!(left_batch("E", 1103), kvt(&[(3, "E3+23", 1103)]));
    assert!(left_batch("F", 1104).is_empty());
    assert_eq!(
        pipe_joined(&driver, &[("topic1", 0, "dummy", 1405)]),
        kvt(&[
            (0, "C0+null", 1101),
            (0, "D0+null", 1102),
            (1, "D1+null", 1102),
            (0, "E0+null", 1103),
            (1, "E1+null", 1103),
            (2, "E2+null", 1103),
            (0, "F0+null", 1104),
            (1, "F1+null", 1104),
            (2, "F2+null", 1104),
            (3, "F3+null", 1104),
        ])
    );
    // The lower bound of the window, at stream time 1405: records far behind it are emitted
    // alone at once, or joined with what the other side still holds.
    assert_eq!(
        left_batch("G", 899),
        kvt(&[
            (0, "G0+null", 899),
            (1, "G1+null", 899),
            (2, "G2+null", 899),
            (3, "G3+null", 899),
        ])
    );
    assert_eq!(
        left_batch("H", 900),
        kvt(&[
            (0, "H0+20", 1000),
            (1, "H1+null", 900),
            (2, "H2+null", 900),
            (3, "H3+null", 900),
        ])
    );
    assert_eq!(
        left_batch("I", 901),
        kvt(&[
            (0, "I0+20", 1000),
            (1, "I1+21", 1001),
            (2, "I2+null", 901),
            (3, "I3+null", 901),
        ])
    );
    assert_eq!(
        left_batch("J", 902),
        kvt(&[
            (0, "J0+20", 1000),
            (1, "J1+21", 1001),
            (2, "J2+22", 1002),
            (3, "J3+null", 902),
        ])
    );
    assert_eq!(
        left_batch("K", 903),
        kvt(&[
            (0, "K0+20", 1000),
            (1, "K1+21", 1001),
            (2, "K2+22", 1002),
            (3, "K3+23", 1003),
        ])
    );
    assert_eq!(
        pipe_joined(&driver, &[("topic1", 0, "dummy", 1103)]),
        kvt(&[(0, "dummy+null", 1103)])
    );
}

/// Kafka's `KStreamKStreamLeftJoinTest#testLeftJoinedRecordsWithZeroAfterAreEmitted`: with
/// `after` 0 a left record's window closes as soon as stream time passes it.
#[test]
fn left_join_with_zero_after_emits_each_record_once_stream_time_passes_it() {
    let windows = JoinWindows::of_time_difference_with_no_grace(ms(100))
        .unwrap()
        .after(ms(0));
    let driver = kafka_stream_stream(false, windows);
    // Keys 0 to 3 at `ts`, or (`spread`) at `ts + key`.
    let batch = |topic: &'static str, prefix: &str, ts: i64, spread: bool| {
        let values: Vec<String> = (0..4).map(|k| format!("{prefix}{k}")).collect();
        let records: Vec<_> = (0..4)
            .zip(&values)
            .map(|(k, v)| (topic, k, v.as_str(), ts + i64::from(k) * i64::from(spread)))
            .collect();
        pipe_joined(&driver, &records)
    };
    assert_eq!(
        batch("topic1", "A", 1000, true),
        kvt(&[
            (0, "A0+null", 1000),
            (1, "A1+null", 1001),
            (2, "A2+null", 1002)
        ])
    );
    assert_eq!(
        batch("topic2", "a", 999, false),
        kvt(&[
            (0, "A0+a0", 1000),
            (1, "A1+a1", 1001),
            (2, "A2+a2", 1002),
            (3, "A3+a3", 1003),
        ])
    );
    assert_eq!(
        batch("topic2", "b", 1000, false),
        kvt(&[
            (0, "A0+b0", 1000),
            (1, "A1+b1", 1001),
            (2, "A2+b2", 1002),
            (3, "A3+b3", 1003),
        ])
    );
    assert_eq!(
        batch("topic2", "c", 1001, false),
        kvt(&[(1, "A1+c1", 1001), (2, "A2+c2", 1002), (3, "A3+c3", 1003)])
    );
    assert_eq!(
        batch("topic2", "d", 1002, false),
        kvt(&[(2, "A2+d2", 1002), (3, "A3+d3", 1003)])
    );
    assert_eq!(
        batch("topic2", "e", 1003, false),
        kvt(&[(3, "A3+e3", 1003)])
    );
    assert!(batch("topic2", "f", 1100, false).is_empty());
}
