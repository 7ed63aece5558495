//! Specification: interactive queries beyond `get` and `all`, on the runtime over a real broker,
//! like Kafka's `ReadOnlyKeyValueStore`, `ReadOnlyWindowStore` and `ReadOnlySessionStore`.
//!
//! One application counts words three ways: per key (`counts`), per key in one-second tumbling
//! windows (`windowed`) and per key and session with a one-second gap (`sessions`). Its input
//! topic has one partition, so one task holds each store and every scan comes in key order.
//!
//! - Key-value: `range` with both bounds inclusive or one open end, `reverse_range`,
//!   `reverse_all`, `prefix_scan` and `approximate_num_entries`.
//! - Window (a windowed aggregation's store, read without its timestamps): `fetch` of a key's
//!   windows in a time range, `fetch_window` of one window, `fetch_key_range` of a key range's
//!   windows, `fetch_all` of every key's windows in a time range, `all`, and the `backward_*`
//!   variants in reverse order.
//! - Session: `fetch` and `backward_fetch` of a key's sessions, `find_sessions` by session end
//!   and start bounds (for one key or a key range), `fetch_session` of one session,
//!   `fetch_key_range`.
//! - A store the topology does not have is an error.
//! - Over two partitions (two tasks on one instance) a scan is each task's part in key order,
//!   one after the other, as Kafka's `CompositeReadOnlyKeyValueStore`: every entry, in at most
//!   two sorted runs.

use std::time::Duration;

use rill::prelude::*;
use rill_test_support::*;

const WINDOW_MS: i64 = 1_000;

fn topology(input: &str) -> Topology {
    let builder = StreamsBuilder::new();
    let grouped = builder
        .stream(input, Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key(Grouped::with(Serdes::string(), Serdes::string()));
    grouped.count(Materialized::as_("counts"));
    let hour = Duration::from_secs(3600);
    grouped
        .windowed_by(
            TimeWindows::of_size_and_grace(Duration::from_millis(WINDOW_MS as u64), hour).unwrap(),
        )
        .count(Materialized::as_("windowed"));
    grouped
        .windowed_by(
            SessionWindows::of_inactivity_gap_and_grace(
                Duration::from_millis(WINDOW_MS as u64),
                hour,
            )
            .unwrap(),
        )
        .count(Materialized::as_("sessions"));
    builder.build().unwrap()
}

fn pairs(expected: &[(&str, i64)]) -> Vec<(String, i64)> {
    expected.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[test]
fn key_value_window_and_session_stores_answer_scans_and_fetches() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let id = unique();
    let input = format!("iq-words-{id}");
    broker.create_topic(&input, 1).expect("input topic");
    // Window-aligned, recent (the broker keeps the records: retention counts from timestamps).
    let base = (now_ms() / WINDOW_MS - 60) * WINDOW_MS;
    let records = [
        ("apple", base),
        ("avocado", base + 200),
        ("banana", base + 300),
        ("apple", base + 1_500),
        ("cherry", base + 1_600),
    ];
    produce_timestamped(
        &bootstrap,
        &input,
        records
            .iter()
            .map(|(word, ts)| (Some(word.as_bytes()), Some(&b"x"[..]), Some(*ts))),
    );

    let state_dir = tempfile::tempdir().unwrap();
    let config = config(&format!("iq-{id}"), &bootstrap, state_dir.path());
    let streams = KafkaStreams::new(topology(&input), config).unwrap();
    streams.start().unwrap();
    wait_running(&streams, Duration::from_secs(30));

    let counts = streams
        .local_store("counts", Serdes::string(), Serdes::i64())
        .unwrap();
    let windowed = streams
        .local_window_store("windowed", Serdes::string(), Serdes::i64(), WINDOW_MS)
        .unwrap();
    let sessions = streams
        .local_session_store("sessions", Serdes::string(), Serdes::i64())
        .unwrap();
    let s = |w: &str| w.to_string();

    // Every record counted (and the caches flushed by a commit): poll until the stores agree.
    wait_until(Duration::from_secs(60), "all records in the stores", || {
        counts.all().ok()
            == Some(pairs(&[
                ("apple", 2),
                ("avocado", 1),
                ("banana", 1),
                ("cherry", 1),
            ]))
            && windowed.all().map(|w| w.len()).ok() == Some(5)
            && sessions.fetch(&s("apple")).map(|w| w.len()).ok() == Some(2)
    });

    // Key-value scans, in serialized-key order.
    assert_eq!(
        counts.range(Some(&s("apple")), Some(&s("banana"))).unwrap(),
        pairs(&[("apple", 2), ("avocado", 1), ("banana", 1)])
    );
    assert_eq!(
        counts.range(Some(&s("b")), None).unwrap(),
        pairs(&[("banana", 1), ("cherry", 1)])
    );
    assert_eq!(
        counts.reverse_range(None, Some(&s("b"))).unwrap(),
        pairs(&[("avocado", 1), ("apple", 2)])
    );
    assert_eq!(
        counts.reverse_all().unwrap(),
        pairs(&[("cherry", 1), ("banana", 1), ("avocado", 1), ("apple", 2)])
    );
    assert_eq!(
        counts.prefix_scan(&s("a")).unwrap(),
        pairs(&[("apple", 2), ("avocado", 1)])
    );
    // An estimate of what the stores hold, which counts entries once a commit has flushed them
    // out of the record cache (as Kafka's caching store does).
    wait_until(Duration::from_secs(30), "a count estimate", || {
        counts.approximate_num_entries().is_ok_and(|n| n > 0)
    });

    // Window fetches: values without the aggregation's timestamps.
    assert_eq!(
        windowed.fetch(&s("apple"), base, base + WINDOW_MS).unwrap(),
        [(base, 1), (base + WINDOW_MS, 1)]
    );
    assert_eq!(
        windowed
            .fetch(&s("apple"), base + 1, base + WINDOW_MS - 1)
            .unwrap(),
        []
    );
    let first_window: Vec<(String, i64, i64, i64)> = windowed
        .fetch_all(base, base)
        .unwrap()
        .into_iter()
        .map(|(w, c)| (w.key, w.window.start_ms, w.window.end_ms, c))
        .collect();
    assert_eq!(
        first_window,
        [
            (s("apple"), base, base + WINDOW_MS, 1),
            (s("avocado"), base, base + WINDOW_MS, 1),
            (s("banana"), base, base + WINDOW_MS, 1),
        ]
    );

    // A key's sessions: 1.5 s apart with a 1 s gap, apple's two records are two sessions.
    let apple: Vec<(i64, i64, i64)> = sessions
        .fetch(&s("apple"))
        .unwrap()
        .into_iter()
        .map(|(w, c)| (w.window.start_ms, w.window.end_ms, c))
        .collect();
    assert_eq!(apple, [(base, base, 1), (base + 1_500, base + 1_500, 1)]);

    let keyed = |entries: Vec<(Windowed<String>, i64)>| -> Vec<(String, i64, i64)> {
        entries
            .into_iter()
            .map(|(w, c)| (w.key, w.window.start_ms, c))
            .collect()
    };
    // One window, key ranges and backward scans.
    assert_eq!(windowed.fetch_window(&s("apple"), base).unwrap(), Some(1));
    assert_eq!(windowed.fetch_window(&s("apple"), base + 1).unwrap(), None);
    assert_eq!(
        windowed
            .backward_fetch(&s("apple"), base, base + WINDOW_MS)
            .unwrap(),
        [(base + WINDOW_MS, 1), (base, 1)]
    );
    assert_eq!(
        keyed(
            windowed
                .fetch_key_range(
                    Some(&s("avocado")),
                    Some(&s("cherry")),
                    base,
                    base + WINDOW_MS
                )
                .unwrap()
        ),
        [
            (s("avocado"), base, 1),
            (s("banana"), base, 1),
            (s("cherry"), base + WINDOW_MS, 1),
        ]
    );
    // Backward is forward reversed (forward goes by segment, then key, then time).
    let mut forward = windowed
        .fetch_key_range(None, Some(&s("avocado")), base, base + WINDOW_MS)
        .unwrap();
    assert_eq!(forward.len(), 3);
    forward.reverse();
    assert_eq!(
        windowed
            .backward_fetch_key_range(None, Some(&s("avocado")), base, base + WINDOW_MS)
            .unwrap(),
        forward
    );
    assert_eq!(windowed.backward_all().unwrap().len(), 5);
    assert_eq!(
        keyed(windowed.backward_fetch_all(base, base).unwrap()),
        [
            (s("banana"), base, 1),
            (s("avocado"), base, 1),
            (s("apple"), base, 1),
        ]
    );

    // Session lookups: by bounds, one session exactly, key ranges, backward.
    let spans = |entries: Vec<(Windowed<String>, i64)>| -> Vec<(String, i64, i64)> {
        entries
            .into_iter()
            .map(|(w, _)| (w.key, w.window.start_ms, w.window.end_ms))
            .collect()
    };
    assert_eq!(
        spans(
            sessions
                .find_sessions(&s("apple"), base + 1, base + 2_000)
                .unwrap()
        ),
        [(s("apple"), base + 1_500, base + 1_500)]
    );
    assert_eq!(
        spans(
            sessions
                .find_sessions_in_key_range(Some(&s("apple")), Some(&s("banana")), base, base + 300)
                .unwrap()
        ),
        [
            (s("apple"), base, base),
            (s("avocado"), base + 200, base + 200),
            (s("banana"), base + 300, base + 300),
        ]
    );
    assert_eq!(
        sessions
            .fetch_session(&s("cherry"), base + 1_600, base + 1_600)
            .unwrap(),
        Some(1)
    );
    assert_eq!(
        sessions
            .fetch_session(&s("cherry"), base, base + 1_600)
            .unwrap(),
        None
    );
    assert_eq!(
        spans(sessions.backward_fetch(&s("apple")).unwrap()),
        [
            (s("apple"), base + 1_500, base + 1_500),
            (s("apple"), base, base),
        ]
    );
    assert_eq!(
        spans(sessions.fetch_key_range(Some(&s("b")), None).unwrap()),
        [
            (s("banana"), base + 300, base + 300),
            (s("cherry"), base + 1_600, base + 1_600),
        ]
    );

    // Unknown stores, and stores of another kind, are errors.
    assert!(streams
        .local_window_store("nothing", Serdes::string(), Serdes::i64(), WINDOW_MS)
        .is_err());
    let wrong_kind = streams
        .local_session_store("counts", Serdes::string(), Serdes::i64())
        .unwrap();
    assert!(wrong_kind.fetch(&s("apple")).is_err());

    assert!(streams.close(Duration::from_secs(30)));
}

/// How many maximal runs in order (`ascending` or not) `keys` splits into.
fn runs(keys: &[String], ascending: bool) -> usize {
    1 + keys
        .windows(2)
        .filter(|w| (w[0] < w[1]) != ascending)
        .count()
}

#[test]
fn scans_over_several_tasks_are_each_tasks_part_in_key_order() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let id = unique();
    let input = format!("iq-spread-{id}");
    broker.create_topic(&input, 2).expect("input topic");
    let words: Vec<String> = (0..20).map(|i| format!("w{i:02}")).collect();
    let now = now_ms();
    produce_timestamped(
        &bootstrap,
        &input,
        words
            .iter()
            .map(|w| (Some(w.as_bytes()), Some(&b"x"[..]), Some(now))),
    );

    let state_dir = tempfile::tempdir().unwrap();
    let config = config(&format!("iq-spread-{id}"), &bootstrap, state_dir.path());
    let streams = KafkaStreams::new(topology(&input), config).unwrap();
    streams.start().unwrap();
    wait_running(&streams, Duration::from_secs(30));
    let counts = streams
        .local_store("counts", Serdes::string(), Serdes::i64())
        .unwrap();
    wait_until(Duration::from_secs(60), "every word counted", || {
        counts.all().map(|all| all.len()).ok() == Some(words.len())
    });
    // One instance, one thread: both partitions' tasks answer.
    let active: usize = streams
        .local_thread_metadata()
        .iter()
        .map(|t| t.active_tasks.len())
        .sum();
    assert_eq!(active, 2);

    let keys = |entries: Vec<(String, i64)>| -> Vec<String> {
        entries.into_iter().map(|(k, _)| k).collect()
    };
    let sorted = |mut keys: Vec<String>| {
        keys.sort();
        keys
    };
    // Each task's part is in key order, the parts one after the other: at most two runs.
    let all = keys(counts.all().unwrap());
    assert!(runs(&all, true) <= 2, "{all:?}");
    assert_eq!(sorted(all), words);
    let range = keys(
        counts
            .range(Some(&"w05".to_string()), Some(&"w14".to_string()))
            .unwrap(),
    );
    assert!(runs(&range, true) <= 2, "{range:?}");
    assert_eq!(sorted(range), words[5..15]);
    let reversed = keys(counts.reverse_all().unwrap());
    assert!(runs(&reversed, false) <= 2, "{reversed:?}");
    assert_eq!(sorted(reversed), words);
    let prefixed = keys(counts.prefix_scan(&"w1".to_string()).unwrap());
    assert_eq!(sorted(prefixed), words[10..]);
    // Every word's window, from whichever task holds it.
    let windowed = streams
        .local_window_store("windowed", Serdes::string(), Serdes::i64(), WINDOW_MS)
        .unwrap();
    wait_until(Duration::from_secs(30), "every word's window", || {
        windowed.all().map(|all| all.len()).ok() == Some(words.len())
    });
    for word in &words {
        assert_eq!(windowed.fetch(word, now - WINDOW_MS, now).unwrap().len(), 1);
    }

    assert!(streams.close(Duration::from_secs(30)));
}
