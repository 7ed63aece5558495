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
fn records_older_than_the_join_window_and_grace_are_dropped() {
    let driver = stream_stream(JoinWindows::of_time_difference_and_grace(ms(10), ms(5)).unwrap());
    let left = driver.create_input_topic("left", StringSerde, StringSerde);
    let right = driver.create_input_topic("right", StringSerde, StringSerde);
    left.pipe_input_with_timestamp("a", "l", 100);
    right.pipe_input_with_timestamp("z", "time", 200);
    // 100 is older than stream time 200 minus the 25 ms the stores keep: dropped, not joined.
    right.pipe_input_with_timestamp("a", "r", 101);
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
