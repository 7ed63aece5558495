//! State-store micro-benchmarks: put/get through the store API for RocksDB and in-memory stores,
//! the record cache in front of RocksDB, window-store puts with and without the window cache, and
//! restore throughput into RocksDB.
//!
//! Run with `cargo bench --workspace --bench stores`; figures go to `BENCHMARKS.md`. (Not with
//! `-p streams-state`: that resolves the dependencies' features differently and rebuilds RocksDB.)

use std::hint::black_box;

use criterion::{criterion_group, BatchSize, Criterion, Throughput};
use streams_state::{
    CachingKeyValueStore, CachingWindowStore, ChangelogRecord, InMemoryKeyValueStore,
    KeyValueStore, RecordContext, RocksDbKeyValueStore, RocksDbResources, RocksDbWindowStore,
    StateStore, WindowStore,
};

const KEYS: u64 = 100_000;

fn key(i: u64) -> [u8; 8] {
    // Spread keys so that writes are not append-only.
    (i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).to_be_bytes()
}

fn kv_benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let res = RocksDbResources::default();
    let value = [7u8; 32];

    let mut group = c.benchmark_group("kv");
    group.throughput(Throughput::Elements(KEYS));
    group.sample_size(10);

    let mut rocks = RocksDbKeyValueStore::open("bench", dir.path().join("kv"), &res).expect("open");
    group.bench_function("rocksdb_put_100k", |b| {
        b.iter(|| {
            for i in 0..KEYS {
                rocks.put(&key(i), &value).expect("put");
            }
        })
    });
    group.bench_function("rocksdb_get_100k", |b| {
        b.iter(|| {
            for i in 0..KEYS {
                black_box(rocks.get(&key(i)).expect("get"));
            }
        })
    });

    let mut mem = InMemoryKeyValueStore::new("bench");
    group.bench_function("in_memory_put_100k", |b| {
        b.iter(|| {
            for i in 0..KEYS {
                mem.put(&key(i), &value).expect("put");
            }
        })
    });
    group.bench_function("in_memory_get_100k", |b| {
        b.iter(|| {
            for i in 0..KEYS {
                black_box(mem.get(&key(i)).expect("get"));
            }
        })
    });

    // Word-count-like traffic: 100k updates over 1,000 hot keys, flushed once per iteration (one
    // commit): into RocksDB directly (its held writes keep the newest value per key), and
    // through a 10 MiB record cache.
    let mut hot = RocksDbKeyValueStore::open("hot", dir.path().join("hot"), &res).expect("open");
    group.bench_function("rocksdb_put_100k_hot_keys", |b| {
        b.iter(|| {
            for i in 0..KEYS {
                hot.put(&key(i % 1_000), &value).expect("put");
            }
            hot.flush().expect("flush");
        })
    });
    let inner =
        RocksDbKeyValueStore::open("cached", dir.path().join("cached"), &res).expect("open");
    let mut cached = CachingKeyValueStore::new(Box::new(inner), 10 << 20, RecordContext::new());
    group.bench_function("cached_rocksdb_put_100k_hot_keys", |b| {
        b.iter(|| {
            for i in 0..KEYS {
                cached.put(&key(i % 1_000), &value).expect("put");
            }
            cached.flush().expect("flush");
        })
    });

    let mut window =
        RocksDbWindowStore::open("w", dir.path().join("w"), &res, 3_600_000, false).expect("open");
    let mut t = 0i64;
    group.bench_function("rocksdb_window_put_100k", |b| {
        b.iter(|| {
            for i in 0..KEYS {
                t += 1;
                window
                    .put(&key(i % 1_000), Some(&value), (t / 1_000) * 1_000)
                    .expect("put");
            }
        })
    });

    // Windowed-count-like traffic: 100k updates of 1,000 keys in one-minute windows (each key's
    // window updated about 60 times before time moves on), committed once per iteration; into
    // RocksDB directly, and through a 10 MiB window cache.
    let hot_windows = |store: &mut dyn WindowStore, t: &mut i64| {
        for i in 0..KEYS {
            *t += 1;
            store
                .put(&key(i % 1_000), Some(&value), (*t / 60_000) * 60_000)
                .expect("put");
        }
        store.flush().expect("flush");
    };
    let mut plain = RocksDbWindowStore::open("hw", dir.path().join("hw"), &res, 3_600_000, false)
        .expect("open");
    let mut t = 0i64;
    group.bench_function("rocksdb_window_put_100k_hot_windows", |b| {
        b.iter(|| hot_windows(&mut plain, &mut t))
    });
    let inner = RocksDbWindowStore::open("cw", dir.path().join("cw"), &res, 3_600_000, false)
        .expect("open");
    let mut cached =
        CachingWindowStore::new(Box::new(inner), 10 << 20, RecordContext::new()).expect("cache");
    let mut t = 0i64;
    group.bench_function("cached_rocksdb_window_put_100k_hot_windows", |b| {
        b.iter(|| hot_windows(&mut cached, &mut t))
    });
    group.finish();
}

fn restore_benches(c: &mut Criterion) {
    const RECORDS: u64 = 200_000;
    const BATCH: usize = 1_000;
    let res = RocksDbResources::default();
    let records: Vec<ChangelogRecord> = (0..RECORDS)
        .map(|i| ChangelogRecord {
            key: key(i % 100_000).to_vec(),
            value: Some(vec![1u8; 16]),
            timestamp: i as i64,
            offset: i as i64,
        })
        .collect();

    let mut group = c.benchmark_group("restore");
    group.throughput(Throughput::Elements(RECORDS));
    group.sample_size(10);
    group.bench_function("rocksdb_restore_200k", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().expect("tempdir");
                let store =
                    RocksDbKeyValueStore::open("r", dir.path().join("r"), &res).expect("open");
                (dir, store)
            },
            |(dir, mut store)| {
                for chunk in records.chunks(BATCH) {
                    store.restore_batch(chunk).expect("restore");
                }
                store.flush().expect("flush");
                (dir, store)
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

/// Resident set size of this process, from `/proc/self/status` (Linux), in MiB.
fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Not a timing: loads 1,000,000 distinct keys into a RocksDB store under the default 128 MiB
/// bound, reads them all back, and prints the process RSS against the bound.
fn memory_report() {
    const N: u64 = 1_000_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let res = RocksDbResources::default();
    let before = rss_mib().unwrap_or(0.0);
    let mut store = RocksDbKeyValueStore::open("mem", dir.path().join("mem"), &res).expect("open");
    let value = [3u8; 64];
    for i in 0..N {
        store.put(&key(i), &value).expect("put");
    }
    store.flush().expect("flush");
    let mut found = 0u64;
    for i in 0..N {
        found += u64::from(store.get(&key(i)).expect("get").is_some());
    }
    assert_eq!(found, N);
    let after = rss_mib().unwrap_or(0.0);
    println!(
        "memory: 1,000,000 distinct keys (8 B keys, 64 B values) in RocksDB, bound {} MiB: \
         RSS {before:.0} MiB before, {after:.0} MiB after; block cache {:.0} MiB, memtables {:.0} MiB",
        res.config().total_memory_bytes >> 20,
        res.cache_usage() as f64 / 1048576.0,
        res.memtable_usage() as f64 / 1048576.0,
    );
}

criterion_group!(benches, kv_benches, restore_benches);

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if filter.is_empty() || filter.iter().any(|f| "memory".contains(f.as_str())) {
        memory_report();
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
