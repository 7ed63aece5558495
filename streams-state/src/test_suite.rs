//! One test suite, run identically against the in-memory and the RocksDB implementations.

use std::sync::Arc;

use tempfile::TempDir;

use crate::memory::{InMemoryKeyValueStore, InMemorySessionStore, InMemoryWindowStore};
use crate::record::ChangelogRecord;
use crate::rocks::{
    RocksDbConfig, RocksDbKeyValueStore, RocksDbResources, RocksDbSessionStore, RocksDbWindowStore,
};
use crate::segmented::{SegmentedBytesStore, SegmentedSessionStore, SegmentedWindowStore};
use crate::store::{
    KeyValue, KeyValueStore, KeyWrite, SessionKey, SessionStore, StateStore,
    TimestampedKeyValueStore, ValueAndTimestamp, WindowStore, WindowedKey,
};
use crate::{
    Error, KeyValueStoreBuilder, RecordingChangelogWriter, SessionStoreBuilder, StateDirectory,
    StoreBackend, StoreContext, TimestampedKeyValueAdapter, TimestampedKeyValueStoreBuilder,
    WindowStoreBuilder,
};

const MIN: i64 = 60_000;

pub(crate) fn small_resources() -> RocksDbResources {
    let mut config = RocksDbConfig::default();
    config
        .set("rocksdb.total.memory.bytes", "16777216")
        .unwrap();
    config.set("rocksdb.write.buffer.size", "1048576").unwrap();
    RocksDbResources::new(config).unwrap()
}

fn collect<T>(iter: impl Iterator<Item = crate::Result<T>>) -> Vec<T> {
    iter.map(|r| r.unwrap()).collect()
}

fn kv(k: &[u8], v: &[u8]) -> KeyValue {
    (k.to_vec(), v.to_vec())
}

// ---------- fixtures ----------

type Kv = (Box<dyn KeyValueStore>, Option<TempDir>);

fn memory_kv() -> Kv {
    (Box::new(InMemoryKeyValueStore::new("kv")), None)
}

fn rocks_kv() -> Kv {
    let dir = tempfile::tempdir().unwrap();
    let store =
        RocksDbKeyValueStore::open("kv", dir.path().join("kv"), &small_resources()).unwrap();
    (Box::new(store), Some(dir))
}

fn memory_window(retention: i64, dups: bool) -> (InMemoryWindowStore, Option<TempDir>) {
    (InMemoryWindowStore::new("w", retention, dups), None)
}

fn rocks_window(retention: i64, dups: bool) -> (RocksDbWindowStore, Option<TempDir>) {
    let dir = tempfile::tempdir().unwrap();
    let store = RocksDbWindowStore::open(
        "w",
        dir.path().join("w"),
        &small_resources(),
        retention,
        dups,
    )
    .unwrap();
    (store, Some(dir))
}

fn memory_session(retention: i64) -> (InMemorySessionStore, Option<TempDir>) {
    (InMemorySessionStore::new("s", retention), None)
}

fn rocks_session(retention: i64) -> (RocksDbSessionStore, Option<TempDir>) {
    let dir = tempfile::tempdir().unwrap();
    let store = RocksDbSessionStore::open("s", dir.path().join("s"), &small_resources(), retention)
        .unwrap();
    (store, Some(dir))
}

// ---------- key-value ----------

fn kv_put_get_delete(s: &mut dyn KeyValueStore) {
    assert_eq!(s.get(b"a").unwrap(), None);
    s.put(b"a", b"1").unwrap();
    s.put(b"b", b"2").unwrap();
    s.put(b"a", b"11").unwrap();
    assert_eq!(s.get(b"a").unwrap(), Some(b"11".to_vec()));
    assert_eq!(s.delete(b"a").unwrap(), Some(b"11".to_vec()));
    assert_eq!(s.delete(b"a").unwrap(), None);
    assert_eq!(s.get(b"a").unwrap(), None);
    // Binary keys and empty values.
    s.put(b"\x00\xff\x00", b"").unwrap();
    assert_eq!(s.get(b"\x00\xff\x00").unwrap(), Some(vec![]));
    assert_eq!(s.get(b"\x00\xff").unwrap(), None);
}

fn kv_put_if_absent_and_put_all(s: &mut dyn KeyValueStore) {
    assert_eq!(s.put_if_absent(b"k", b"first").unwrap(), None);
    assert_eq!(
        s.put_if_absent(b"k", b"second").unwrap(),
        Some(b"first".to_vec())
    );
    assert_eq!(s.get(b"k").unwrap(), Some(b"first".to_vec()));
    s.put_all(&[(b"x", Some(b"1")), (b"y", Some(b"2")), (b"k", None)])
        .unwrap();
    assert_eq!(
        collect(s.all().unwrap()),
        vec![kv(b"x", b"1"), kv(b"y", b"2")]
    );
}

fn kv_ranges(s: &mut dyn KeyValueStore) {
    for k in [
        &b"a"[..],
        b"b",
        b"ba",
        b"bb",
        b"c",
        b"d",
        b"\xff",
        b"\xff\xff",
    ] {
        s.put(k, k).unwrap();
    }
    let keys = |it: crate::KeyValueIter<'_>| -> Vec<Vec<u8>> {
        collect(it).into_iter().map(|(k, _)| k).collect()
    };
    assert_eq!(
        keys(s.range(Some(b"b"), Some(b"c")).unwrap()),
        vec![b"b".to_vec(), b"ba".to_vec(), b"bb".to_vec(), b"c".to_vec()]
    );
    assert_eq!(
        keys(s.range(None, Some(b"b")).unwrap()),
        vec![b"a".to_vec(), b"b".to_vec()]
    );
    assert_eq!(
        keys(s.range(Some(b"d"), None).unwrap()),
        vec![b"d".to_vec(), b"\xff".to_vec(), b"\xff\xff".to_vec()]
    );
    assert!(keys(s.range(Some(b"c"), Some(b"b")).unwrap()).is_empty());
    assert_eq!(
        keys(s.prefix_scan(b"b").unwrap()),
        vec![b"b".to_vec(), b"ba".to_vec(), b"bb".to_vec()]
    );
    assert_eq!(
        keys(s.prefix_scan(b"\xff").unwrap()),
        vec![b"\xff".to_vec(), b"\xff\xff".to_vec()]
    );
    assert!(keys(s.prefix_scan(b"z").unwrap()).is_empty());
    assert_eq!(keys(s.all().unwrap()).len(), 8);
    assert_eq!(s.approximate_num_entries().unwrap(), 8);
}

fn kv_close(s: &mut dyn KeyValueStore) {
    s.put(b"a", b"1").unwrap();
    assert!(s.is_open());
    s.flush().unwrap();
    s.close().unwrap();
    assert!(!s.is_open());
    assert!(matches!(s.get(b"a"), Err(Error::StoreClosed { .. })));
    assert!(matches!(s.put(b"a", b"1"), Err(Error::StoreClosed { .. })));
    s.close().unwrap();
}

fn kv_restore_batch(s: &mut dyn KeyValueStore) {
    s.put(b"gone", b"x").unwrap();
    let records = vec![
        ChangelogRecord::new(b"a".to_vec(), Some(b"1".to_vec()), 1),
        ChangelogRecord::new(b"b".to_vec(), Some(b"2".to_vec()), 2),
        ChangelogRecord::new(b"a".to_vec(), Some(b"3".to_vec()), 3),
        ChangelogRecord::new(b"gone".to_vec(), None, 4),
    ];
    s.restore_batch(&records).unwrap();
    s.flush().unwrap();
    assert_eq!(
        collect(s.all().unwrap()),
        vec![kv(b"a", b"3"), kv(b"b", b"2")]
    );
}

fn timestamped(s: Box<dyn KeyValueStore>) {
    let mut t = TimestampedKeyValueAdapter::new(s);
    t.put(b"k", b"v", 42).unwrap();
    assert_eq!(
        t.get(b"k").unwrap(),
        Some(ValueAndTimestamp::new(b"v".to_vec(), 42))
    );
    assert_eq!(
        t.put_if_absent(b"k", b"w", 43).unwrap(),
        Some(ValueAndTimestamp::new(b"v".to_vec(), 42))
    );
    let lent = |t: &TimestampedKeyValueAdapter, key: &[u8]| {
        let mut seen = None;
        t.get_with(key, &mut |found| {
            seen = Some(found.map(|(v, ts)| (v.to_vec(), ts)))
        })
        .unwrap();
        seen.expect("get_with calls its reader once")
    };
    assert_eq!(lent(&t, b"k"), Some((b"v".to_vec(), 42)));
    assert_eq!(lent(&t, b"nothing"), None);
    // Changelog records carry plain values with the timestamp as record timestamp.
    t.restore_batch(&[ChangelogRecord::new(
        b"r".to_vec(),
        Some(b"plain".to_vec()),
        7,
    )])
    .unwrap();
    assert_eq!(
        collect(t.all().unwrap()),
        vec![
            (b"k".to_vec(), ValueAndTimestamp::new(b"v".to_vec(), 42)),
            (b"r".to_vec(), ValueAndTimestamp::new(b"plain".to_vec(), 7)),
        ]
    );
    assert_eq!(collect(t.prefix_scan(b"r").unwrap()).len(), 1);
    assert_eq!(
        t.delete(b"k").unwrap(),
        Some(ValueAndTimestamp::new(b"v".to_vec(), 42))
    );
    assert_eq!(collect(t.all().unwrap()).len(), 1);
}

// ---------- window ----------

fn window_put_fetch<B: SegmentedBytesStore>(s: &mut SegmentedWindowStore<B>) {
    s.put(b"a", Some(b"a0"), 0).unwrap();
    s.put(b"a", Some(b"a10"), 10).unwrap();
    s.put(b"a", Some(b"a20"), 20).unwrap();
    s.put(b"a", Some(b"a10b"), 10).unwrap(); // overwrite
    s.put(b"b", Some(b"b10"), 10).unwrap();
    // Keys that are prefixes of each other must not bleed into each other's fetches.
    s.put(b"a\x00", Some(b"nul"), 10).unwrap();
    s.put(b"ab", Some(b"ab"), 10).unwrap();
    assert_eq!(s.fetch(b"a", 10).unwrap(), Some(b"a10b".to_vec()));
    assert_eq!(s.fetch(b"a", 11).unwrap(), None);
    assert_eq!(
        collect(s.fetch_range(b"a", 0, 20).unwrap()),
        vec![
            (0, b"a0".to_vec()),
            (10, b"a10b".to_vec()),
            (20, b"a20".to_vec())
        ]
    );
    assert_eq!(
        collect(s.fetch_range(b"a", 5, 15).unwrap()),
        vec![(10, b"a10b".to_vec())]
    );
    assert!(collect(s.fetch_range(b"a", 15, 5).unwrap()).is_empty());
    let all: Vec<(WindowedKey, Vec<u8>)> = collect(s.fetch_all(10, 10).unwrap());
    let keys: Vec<&[u8]> = all.iter().map(|(w, _)| w.key.as_slice()).collect();
    assert_eq!(keys, vec![&b"a"[..], b"a\x00", b"ab", b"b"]);
    let ranged: Vec<(WindowedKey, Vec<u8>)> = collect(
        s.fetch_key_range(Some(b"a\x00"), Some(b"ab"), 0, 100)
            .unwrap(),
    );
    assert_eq!(ranged.len(), 2);
    assert_eq!(collect(s.all().unwrap()).len(), 6);
    // Deleting.
    s.put(b"a", None, 10).unwrap();
    assert_eq!(s.fetch(b"a", 10).unwrap(), None);
    assert_eq!(collect(s.fetch_range(b"a", 0, 20).unwrap()).len(), 2);
}

fn window_retention<B: SegmentedBytesStore>(s: &mut SegmentedWindowStore<B>) {
    assert_eq!(s.segment_interval(), MIN);
    for i in 0..4 {
        s.put(b"k", Some(&[i as u8]), i * MIN).unwrap();
    }
    // Stream time 3 min, retention 2 min: live from 1 min + 1 ms, so segment 0 is gone.
    assert_eq!(s.segment_ids(), vec![1, 2, 3]);
    assert_eq!(s.fetch(b"k", 0).unwrap(), None);
    // Segment 1 is alive but its entry at exactly 1 min has expired.
    assert_eq!(s.fetch(b"k", MIN).unwrap(), None);
    assert_eq!(
        collect(s.fetch_range(b"k", 0, 10 * MIN).unwrap()),
        vec![(2 * MIN, vec![2]), (3 * MIN, vec![3])]
    );
    // Writes to expired windows are dropped.
    s.put(b"late", Some(b"x"), 10).unwrap();
    assert_eq!(s.fetch(b"late", 10).unwrap(), None);
    assert_eq!(s.segment_ids(), vec![1, 2, 3]);
    // Advancing stream time far drops everything older.
    s.put(b"k", Some(b"far"), 100 * MIN).unwrap();
    assert_eq!(s.segment_ids(), vec![100]);
    assert_eq!(collect(s.all().unwrap()).len(), 1);
}

fn window_duplicates<B: SegmentedBytesStore>(s: &mut SegmentedWindowStore<B>) {
    assert!(s.retain_duplicates());
    s.put(b"k", Some(b"1"), 5).unwrap();
    s.put(b"k", Some(b"2"), 5).unwrap();
    s.put(b"k", None, 5).unwrap(); // ignored with duplicates
    s.put(b"k", Some(b"3"), 6).unwrap();
    assert_eq!(
        collect(s.fetch_range(b"k", 0, 10).unwrap()),
        vec![(5, b"1".to_vec()), (5, b"2".to_vec()), (6, b"3".to_vec())]
    );
}

// ---------- session ----------

fn session_ops<B: SegmentedBytesStore>(s: &mut SegmentedSessionStore<B>) {
    s.put(b"u", 0, 10, b"s1").unwrap();
    s.put(b"u", 20, 30, b"s2").unwrap();
    s.put(b"u", 50, 50, b"s3").unwrap();
    s.put(b"v", 5, 25, b"v1").unwrap();
    s.put(b"u\x00", 5, 25, b"nul").unwrap();
    assert_eq!(s.fetch_session(b"u", 20, 30).unwrap(), Some(b"s2".to_vec()));
    assert_eq!(s.fetch_session(b"u", 20, 31).unwrap(), None);
    // Sessions overlapping [8, 22]: end >= 8 and start <= 22.
    let found: Vec<SessionKey> = collect(s.find_sessions(b"u", 8, 22).unwrap())
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        found,
        vec![
            SessionKey::new(b"u".to_vec(), 0, 10),
            SessionKey::new(b"u".to_vec(), 20, 30)
        ]
    );
    assert_eq!(collect(s.fetch(b"u").unwrap()).len(), 3);
    assert!(collect(s.find_sessions(b"u", 31, 49).unwrap()).is_empty());
    let in_range = collect(
        s.find_sessions_in_key_range(Some(b"u"), Some(b"v"), 0, 100)
            .unwrap(),
    );
    assert_eq!(in_range.len(), 5);
    let only_v = collect(
        s.find_sessions_in_key_range(Some(b"v"), None, 0, 100)
            .unwrap(),
    );
    assert_eq!(
        only_v,
        vec![(SessionKey::new(b"v".to_vec(), 5, 25), b"v1".to_vec())]
    );
    // Merging: remove the two overlapping sessions and put the merged one.
    s.remove(b"u", 0, 10).unwrap();
    s.remove(b"u", 20, 30).unwrap();
    s.put(b"u", 0, 30, b"merged").unwrap();
    assert_eq!(
        collect(s.fetch(b"u").unwrap()),
        vec![
            (SessionKey::new(b"u".to_vec(), 0, 30), b"merged".to_vec()),
            (SessionKey::new(b"u".to_vec(), 50, 50), b"s3".to_vec()),
        ]
    );
    assert!(matches!(
        s.put(b"u", 10, 5, b"x"),
        Err(Error::InvalidArgument { .. })
    ));
}

fn session_retention<B: SegmentedBytesStore>(s: &mut SegmentedSessionStore<B>) {
    s.put(b"k", 0, 10, b"old").unwrap();
    s.put(b"k", MIN, MIN + 10, b"mid").unwrap();
    s.put(b"k", 3 * MIN, 3 * MIN, b"new").unwrap();
    // Retention 2 min, stream time 3 min: the first session (segment 0) is dropped.
    assert_eq!(s.segment_ids(), vec![1, 3]);
    let live: Vec<Vec<u8>> = collect(s.fetch(b"k").unwrap())
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    assert_eq!(live, vec![b"mid".to_vec(), b"new".to_vec()]);
    s.put(b"k", 0, 5, b"late").unwrap();
    assert_eq!(s.fetch_session(b"k", 0, 5).unwrap(), None);
}

macro_rules! suite {
    ($name:ident, $kv:ident, $window:ident, $session:ident) => {
        mod $name {
            use super::*;

            #[test]
            fn kv_put_get_delete() {
                let (mut s, _d) = $kv();
                super::kv_put_get_delete(s.as_mut());
            }
            #[test]
            fn kv_put_if_absent_and_put_all() {
                let (mut s, _d) = $kv();
                super::kv_put_if_absent_and_put_all(s.as_mut());
            }
            #[test]
            fn kv_ranges() {
                let (mut s, _d) = $kv();
                super::kv_ranges(s.as_mut());
            }
            #[test]
            fn kv_close() {
                let (mut s, _d) = $kv();
                super::kv_close(s.as_mut());
            }
            #[test]
            fn kv_restore_batch() {
                let (mut s, _d) = $kv();
                super::kv_restore_batch(s.as_mut());
            }
            #[test]
            fn timestamped() {
                let (s, _d) = $kv();
                super::timestamped(s);
            }
            #[test]
            fn window_put_fetch() {
                let (mut s, _d) = $window(10 * MIN, false);
                super::window_put_fetch(&mut s);
            }
            #[test]
            fn window_retention() {
                let (mut s, _d) = $window(2 * MIN, false);
                super::window_retention(&mut s);
            }
            #[test]
            fn window_duplicates() {
                let (mut s, _d) = $window(10 * MIN, true);
                super::window_duplicates(&mut s);
            }
            #[test]
            fn session_ops() {
                let (mut s, _d) = $session(10 * MIN);
                super::session_ops(&mut s);
            }
            #[test]
            fn session_retention() {
                let (mut s, _d) = $session(2 * MIN);
                super::session_retention(&mut s);
            }
        }
    };
}

suite!(in_memory, memory_kv, memory_window, memory_session);
suite!(rocksdb, rocks_kv, rocks_window, rocks_session);

// ---------- changelogging and restore, through the builders ----------

struct Env {
    _dir: TempDir,
    changelog: Arc<RecordingChangelogWriter>,
    ctx: StoreContext,
    fresh: StoreContext,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let changelog = Arc::new(RecordingChangelogWriter::new());
    let ctx = StoreContext::new(
        StateDirectory::new(dir.path(), "app"),
        "0_0",
        0,
        small_resources(),
    )
    .with_changelog(changelog.clone());
    // The same application on another task directory: where a restore lands.
    let fresh = StoreContext::new(
        StateDirectory::new(dir.path(), "app"),
        "0_0-restored",
        0,
        small_resources(),
    );
    Env {
        _dir: dir,
        changelog,
        ctx,
        fresh,
    }
}

fn restore_all(store: &mut dyn StateStore, records: &[ChangelogRecord]) -> Option<i64> {
    crate::restore::restore_from(
        store,
        crate::TopicPartition::new("changelog", 0),
        records,
        0,
        3,
        None,
    )
    .unwrap()
}

#[test]
fn kv_restore_from_recorded_changelog_both_backends() {
    for backend in [StoreBackend::InMemory, StoreBackend::RocksDb] {
        let env = env();
        let builder = KeyValueStoreBuilder::new("counts").with_backend(backend);
        let mut store = builder.build(&env.ctx).unwrap();
        env.ctx.record_context().set_timestamp(99);
        for i in 0..20u8 {
            store.put(&[i % 7], &[i]).unwrap();
        }
        store.delete(&[3]).unwrap();
        let topic = builder.changelog_topic("app").unwrap();
        assert_eq!(topic, "app-counts-changelog");
        let records = env.changelog.records(&topic, 0);
        assert_eq!(records.len(), 21);
        assert!(records.iter().all(|r| r.timestamp == 99));

        let mut restored = builder.with_logging_disabled().build(&env.fresh).unwrap();
        assert_eq!(restore_all(restored.as_mut(), &records), Some(20));
        assert_eq!(
            collect(restored.all().unwrap()),
            collect(store.all().unwrap())
        );
    }
}

#[test]
fn timestamped_changelog_carries_plain_values() {
    let env = env();
    let builder = TimestampedKeyValueStoreBuilder::new("table").in_memory();
    let mut table = builder.build(&env.ctx).unwrap();
    table.put(b"k", b"v", 1234).unwrap();
    let records = env.changelog.records("app-table-changelog", 0);
    assert_eq!(records[0].value.as_deref(), Some(&b"v"[..]));
    assert_eq!(records[0].timestamp, 1234);
    let mut restored = builder
        .persistent()
        .with_logging_disabled()
        .build(&env.fresh)
        .unwrap();
    restore_all(restored.as_mut(), &records);
    assert_eq!(
        restored.get(b"k").unwrap(),
        Some(ValueAndTimestamp::new(b"v".to_vec(), 1234))
    );
}

#[test]
fn window_restore_from_recorded_changelog_both_backends() {
    for backend in [StoreBackend::InMemory, StoreBackend::RocksDb] {
        for dups in [false, true] {
            let env = env();
            let builder = WindowStoreBuilder::new("windows", 5 * MIN)
                .with_backend(backend)
                .with_retain_duplicates(dups);
            let mut store = builder.build(&env.ctx).unwrap();
            for i in 0..30i64 {
                store
                    .put(&[(i % 3) as u8], Some(&[i as u8]), i * 20_000)
                    .unwrap();
            }
            store.put(&[0], None, 0).unwrap();
            let records = env.changelog.records("app-windows-changelog", 0);
            let mut restored = builder
                .clone()
                .with_logging_disabled()
                .build(&env.fresh)
                .unwrap();
            restore_all(restored.as_mut(), &records);
            let expected = collect(store.all().unwrap());
            assert!(!expected.is_empty());
            assert_eq!(
                collect(restored.all().unwrap()),
                expected,
                "{backend:?} dups={dups}"
            );
        }
    }
}

#[test]
fn session_restore_from_recorded_changelog_both_backends() {
    for backend in [StoreBackend::InMemory, StoreBackend::RocksDb] {
        let env = env();
        let builder = SessionStoreBuilder::new("sessions", 10 * MIN).with_backend(backend);
        let mut store = builder.build(&env.ctx).unwrap();
        store.put(b"a", 0, 10, b"1").unwrap();
        store.put(b"a", 20, 30, b"2").unwrap();
        store.remove(b"a", 0, 10).unwrap();
        store.put(b"b", 5, 5, b"3").unwrap();
        let records = env.changelog.records("app-sessions-changelog", 0);
        assert_eq!(records.len(), 4);
        assert_eq!(records[2].value, None);
        let mut restored = builder.with_logging_disabled().build(&env.fresh).unwrap();
        restore_all(restored.as_mut(), &records);
        let all = |s: &dyn SessionStore| {
            collect(
                s.find_sessions_in_key_range(None, None, i64::MIN, i64::MAX)
                    .unwrap(),
            )
        };
        assert_eq!(all(restored.as_ref()), all(store.as_ref()));
        assert_eq!(all(restored.as_ref()).len(), 2);
    }
}

#[test]
fn timestamped_values_shorter_than_their_timestamp_are_errors() {
    let mut raw = InMemoryKeyValueStore::new("t");
    raw.put(b"bad", b"123").unwrap();
    let t = TimestampedKeyValueAdapter::new(Box::new(raw));
    assert!(t.get(b"bad").is_err());
    let mut called = false;
    let err = t.get_with(b"bad", &mut |_| called = true).unwrap_err();
    assert!(err.to_string().contains("8-byte timestamp"), "{err}");
    assert!(!called, "the reader sees no half-decoded value");
}

#[test]
fn rocksdb_stores_persist_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let res = small_resources();
    {
        let mut kv = RocksDbKeyValueStore::open("kv", dir.path().join("kv"), &res).unwrap();
        kv.put(b"a", b"1").unwrap();
        kv.restore_batch(&[ChangelogRecord::new(b"r".to_vec(), Some(b"2".to_vec()), 0)])
            .unwrap();
        kv.close().unwrap();
        let mut w =
            RocksDbWindowStore::open("w", dir.path().join("w"), &res, 2 * MIN, false).unwrap();
        for i in 0..4 {
            w.put(b"k", Some(&[i as u8]), i * MIN).unwrap();
        }
        w.close().unwrap();
    }
    let store = RocksDbKeyValueStore::open("kv", dir.path().join("kv"), &res).unwrap();
    assert_eq!(
        collect(store.all().unwrap()),
        vec![kv(b"a", b"1"), kv(b"r", b"2")]
    );
    let w = RocksDbWindowStore::open("w", dir.path().join("w"), &res, 2 * MIN, false).unwrap();
    // The dropped segment is gone for good.
    assert_eq!(w.segment_ids(), vec![1, 2, 3]);
    assert_eq!(collect(w.fetch_range(b"k", 0, 10 * MIN).unwrap()).len(), 3);
}

#[test]
fn building_rocksdb_or_logged_stores_needs_context() {
    let ctx = StoreContext::in_memory("app", "0_0", 0);
    let err = KeyValueStoreBuilder::new("s").build(&ctx).err().unwrap();
    assert!(err.to_string().contains("state directory"), "{err}");
    let err = KeyValueStoreBuilder::new("s")
        .in_memory()
        .build(&ctx)
        .err()
        .unwrap();
    assert!(err.to_string().contains("changelog writer"), "{err}");
}

#[test]
fn cached_logged_store_dedupes_changelog_traffic() {
    let env = env();
    let mut store = KeyValueStoreBuilder::new("cached")
        .with_caching(1 << 20)
        .build(&env.ctx)
        .unwrap();
    store.cache().expect("a cached store").keep_flushed(false);
    for i in 0..1000u32 {
        store
            .put(&(i % 10).to_be_bytes(), &i.to_be_bytes())
            .unwrap();
    }
    assert_eq!(env.changelog.records("app-cached-changelog", 0).len(), 0);
    store.flush().unwrap();
    assert_eq!(env.changelog.records("app-cached-changelog", 0).len(), 10);
    let mut flushed = Vec::new();
    store
        .cache()
        .expect("a cached store")
        .take_flushed(&mut flushed);
    assert_eq!(flushed.len(), 10);
    assert_eq!(store.approximate_num_entries().unwrap(), 10);
}

// ---------- model-based property test ----------

mod model {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[derive(Debug, Clone)]
    enum Op {
        Put(Vec<u8>, Vec<u8>),
        PutIfAbsent(Vec<u8>, Vec<u8>),
        Delete(Vec<u8>),
        PutAll(Vec<(Vec<u8>, Option<Vec<u8>>)>),
        Get(Vec<u8>),
        Range(Option<Vec<u8>>, Option<Vec<u8>>),
        Prefix(Vec<u8>),
        Flush,
    }

    fn key() -> impl Strategy<Value = Vec<u8>> {
        // A small alphabet including 0x00 and 0xff, so keys collide and prefixes overlap.
        proptest::collection::vec(
            prop_oneof![Just(0u8), Just(1u8), Just(0x7f), Just(0xff)],
            0..4,
        )
    }

    fn value() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..8)
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (key(), value()).prop_map(|(k, v)| Op::Put(k, v)),
            1 => (key(), value()).prop_map(|(k, v)| Op::PutIfAbsent(k, v)),
            2 => key().prop_map(Op::Delete),
            1 => proptest::collection::vec((key(), proptest::option::of(value())), 0..4)
                .prop_map(Op::PutAll),
            2 => key().prop_map(Op::Get),
            2 => (proptest::option::of(key()), proptest::option::of(key()))
                .prop_map(|(a, b)| Op::Range(a, b)),
            1 => key().prop_map(Op::Prefix),
            1 => Just(Op::Flush),
        ]
    }

    #[derive(Debug, Clone)]
    enum WindowOp {
        Put(Vec<u8>, Option<Vec<u8>>, i64),
        Fetch(Vec<u8>, i64),
        FetchRange(Vec<u8>, i64, i64),
        FetchAll(i64, i64),
        Flush,
    }

    fn window_op() -> impl Strategy<Value = WindowOp> {
        // Window starts over 20 minutes, so that segments (of half the 6-minute retention) expire.
        let start = || (0i64..20).prop_map(|m| m * MIN);
        prop_oneof![
            5 => (key(), proptest::option::of(value()), start())
                .prop_map(|(k, v, t)| WindowOp::Put(k, v, t)),
            2 => (key(), start()).prop_map(|(k, t)| WindowOp::Fetch(k, t)),
            2 => (key(), start(), start()).prop_map(|(k, a, b)| WindowOp::FetchRange(k, a, b)),
            1 => (start(), start()).prop_map(|(a, b)| WindowOp::FetchAll(a, b)),
            1 => Just(WindowOp::Flush),
        ]
    }

    fn model_range(
        m: &BTreeMap<Vec<u8>, Vec<u8>>,
        from: &Option<Vec<u8>>,
        to: &Option<Vec<u8>>,
    ) -> Vec<KeyValue> {
        m.iter()
            .filter(|(k, _)| from.as_ref().is_none_or(|f| *k >= f))
            .filter(|(k, _)| to.as_ref().is_none_or(|t| *k <= t))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn check(store: &mut dyn KeyValueStore, ops: &[Op]) {
        let mut m: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Put(k, v) => {
                    store.put(k, v).unwrap();
                    m.insert(k.clone(), v.clone());
                }
                Op::PutIfAbsent(k, v) => {
                    let got = store.put_if_absent(k, v).unwrap();
                    assert_eq!(got, m.get(k).cloned());
                    m.entry(k.clone()).or_insert_with(|| v.clone());
                }
                Op::Delete(k) => assert_eq!(store.delete(k).unwrap(), m.remove(k)),
                Op::PutAll(entries) => {
                    let writes: Vec<KeyWrite<'_>> = entries
                        .iter()
                        .map(|(k, v)| (k.as_slice(), v.as_deref()))
                        .collect();
                    store.put_all(&writes).unwrap();
                    for (k, v) in entries {
                        match v {
                            Some(v) => m.insert(k.clone(), v.clone()),
                            None => m.remove(k),
                        };
                    }
                }
                Op::Get(k) => {
                    assert_eq!(store.get(k).unwrap(), m.get(k).cloned());
                    let mut lent = None;
                    store
                        .get_with(k, &mut |v| lent = Some(v.map(<[u8]>::to_vec)))
                        .unwrap();
                    assert_eq!(lent, Some(m.get(k).cloned()), "get_with");
                }
                Op::Range(a, b) => assert_eq!(
                    collect(store.range(a.as_deref(), b.as_deref()).unwrap()),
                    model_range(&m, a, b)
                ),
                Op::Prefix(p) => {
                    let expected: Vec<KeyValue> = m
                        .iter()
                        .filter(|(k, _)| k.starts_with(p))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    assert_eq!(collect(store.prefix_scan(p).unwrap()), expected);
                }
                Op::Flush => store.flush().unwrap(),
            }
        }
        assert_eq!(collect(store.all().unwrap()), model_range(&m, &None, &None));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn rocksdb_kv_matches_btreemap(ops in proptest::collection::vec(op(), 1..60)) {
            let (mut store, _dir) = rocks_kv();
            check(store.as_mut(), &ops);
        }

        #[test]
        fn rocksdb_kv_with_small_write_batches_matches_btreemap(
            ops in proptest::collection::vec(op(), 1..60)
        ) {
            // Held writes go to RocksDB every few writes, between the reads and scans.
            let dir = tempfile::tempdir().unwrap();
            let mut config = small_resources().config().clone();
            config.set("rocksdb.write.batch.bytes", "200").unwrap();
            let resources = crate::RocksDbResources::new(config).unwrap();
            let mut store = RocksDbKeyValueStore::open("kv", dir.path(), &resources).unwrap();
            check(&mut store, &ops);
        }

        #[test]
        fn rocksdb_window_store_matches_in_memory(ops in proptest::collection::vec(window_op(), 1..80)) {
            // Both keep the same segments; RocksDB's writes are held and handed over every few
            // writes, across segment drops and flushes.
            let dir = tempfile::tempdir().unwrap();
            let mut config = small_resources().config().clone();
            config.set("rocksdb.write.batch.bytes", "300").unwrap();
            let resources = crate::RocksDbResources::new(config).unwrap();
            let mut rocks =
                RocksDbWindowStore::open("w", dir.path(), &resources, 6 * MIN, false).unwrap();
            let mut memory = InMemoryWindowStore::new("w", 6 * MIN, false);
            for op in &ops {
                match op {
                    WindowOp::Put(k, v, start) => {
                        rocks.put(k, v.as_deref(), *start).unwrap();
                        memory.put(k, v.as_deref(), *start).unwrap();
                    }
                    WindowOp::Fetch(k, start) => prop_assert_eq!(
                        rocks.fetch(k, *start).unwrap(),
                        memory.fetch(k, *start).unwrap()
                    ),
                    WindowOp::FetchRange(k, from, to) => prop_assert_eq!(
                        collect(rocks.fetch_range(k, *from, *to).unwrap()),
                        collect(memory.fetch_range(k, *from, *to).unwrap())
                    ),
                    WindowOp::FetchAll(from, to) => prop_assert_eq!(
                        collect(rocks.fetch_all(*from, *to).unwrap()),
                        collect(memory.fetch_all(*from, *to).unwrap())
                    ),
                    WindowOp::Flush => rocks.flush().unwrap(),
                }
            }
            prop_assert_eq!(collect(rocks.all().unwrap()), collect(memory.all().unwrap()));
        }

        #[test]
        fn memory_kv_matches_btreemap(ops in proptest::collection::vec(op(), 1..60)) {
            // Hash map plus ordered key index: ranges must stay ordered through updates,
            // deletes and re-inserts.
            let (mut store, _) = memory_kv();
            check(store.as_mut(), &ops);
        }

        #[test]
        fn cached_rocksdb_kv_matches_btreemap(ops in proptest::collection::vec(op(), 1..60)) {
            // A tiny cache, so that evictions interleave with reads.
            let (store, _dir) = rocks_kv();
            let mut cached = crate::CachingKeyValueStore::new(store, 400, crate::RecordContext::new());
            check(&mut cached, &ops);
        }
    }
}
