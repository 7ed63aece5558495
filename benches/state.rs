//! Word count through the `TopologyTestDriver` with its counts in an in-memory store and in
//! RocksDB: split lines into words, re-key by word (through the repartition topic the driver
//! routes itself), count into a timestamped key-value store, write every updated count out.
//!
//! Windowed count: the same words counted per word and one-second tumbling window, with the
//! windows' record cache (Kafka's default) and without. The driver commits after every record,
//! so the cache never dedupes here: the pair measures what the cache costs on that path.
//!
//! The benchmark runs on mimalloc, as a Rill application that cares for throughput should: a
//! record's way through a topology allocates a dozen small buffers (serialized keys and values,
//! changelog records, cache entries), and glibc's allocator spends about a third of the time on
//! them. BENCHMARKS.md gives the figures with the system allocator too.
//!
//! Run with `cargo bench --bench state` (part of `make bench`); figures go in BENCHMARKS.md.
//! Store-level figures (RocksDB put/get, restore, memory) are in
//! `cargo bench --workspace --bench stores`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rill::prelude::*;
use rill::streams_core::serde::{I64Serde, StringSerde, UnitSerde};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Distinct words in the vocabulary the lines are drawn from.
const VOCABULARY: usize = 10_000;
const LINES: usize = 1_000;
const WORDS_PER_LINE: usize = 10;

fn lines() -> Vec<String> {
    // A fixed pseudo-random walk over the vocabulary, so keys repeat as in real text.
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    (0..LINES)
        .map(|_| {
            (0..WORDS_PER_LINE)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    format!("word{}", state % VOCABULARY as u64)
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn word_count(c: &mut Criterion, label: &str, in_memory: bool) {
    let builder = StreamsBuilder::new();
    let materialized = if in_memory {
        Materialized::as_("counts").with_in_memory()
    } else {
        Materialized::as_("counts")
    };
    builder
        .stream("lines", Consumed::with(Serdes::unit(), Serdes::string()))
        .flat_map_values(|line: &String| {
            line.split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .group_by(
            |_, word: &String| word.clone(),
            Grouped::with(Serdes::string(), Serdes::string()),
        )
        .count(materialized)
        .to_stream()
        .to(
            "counts",
            Produced::with(Serdes::string(), Serdes::option(Serdes::i64())),
        );
    let driver = TopologyTestDriver::new(builder.build().expect("topology")).expect("driver");
    let input = driver.create_input_topic("lines", UnitSerde, StringSerde);
    let output = driver.create_output_topic("counts", StringSerde, Serdes::option(I64Serde));
    let lines = lines();

    let mut group = c.benchmark_group("state");
    group.throughput(Throughput::Elements((LINES * WORDS_PER_LINE) as u64));
    group.sample_size(20);
    group.bench_function(label, |b| {
        b.iter(|| {
            for line in &lines {
                input.pipe_input((), line.as_str());
            }
            black_box(output.read_records_to_list().len())
        })
    });
    group.finish();
}

fn word_count_in_memory(c: &mut Criterion) {
    word_count(c, "word_count_in_memory_words", true);
}

fn word_count_rocksdb(c: &mut Criterion) {
    word_count(c, "word_count_rocksdb_words", false);
}

fn windowed_count(c: &mut Criterion, label: &str, in_memory: bool, cached: bool) {
    let builder = StreamsBuilder::new();
    let mut materialized = Materialized::as_("counts");
    if in_memory {
        materialized = materialized.with_in_memory();
    }
    if !cached {
        materialized = materialized.with_caching_disabled();
    }
    let windows = TimeWindows::of_size_with_no_grace(Duration::from_secs(1)).expect("windows");
    builder
        .stream("lines", Consumed::with(Serdes::unit(), Serdes::string()))
        .flat_map_values(|line: &String| {
            line.split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .group_by(
            |_, word: &String| word.clone(),
            Grouped::with(Serdes::string(), Serdes::string()),
        )
        .windowed_by(windows)
        .count(materialized)
        .to_stream()
        .map(|k, v| (k.key.clone(), *v))
        .to(
            "counts",
            Produced::with(Serdes::string(), Serdes::option(Serdes::i64())),
        );
    let driver = TopologyTestDriver::new(builder.build().expect("topology")).expect("driver");
    let input = driver.create_input_topic("lines", UnitSerde, StringSerde);
    let output = driver.create_output_topic("counts", StringSerde, Serdes::option(I64Serde));
    let lines = lines();
    // A line every 10 ms, time moving on across iterations so that no record is late.
    let mut time = 0i64;

    let mut group = c.benchmark_group("state");
    group.throughput(Throughput::Elements((LINES * WORDS_PER_LINE) as u64));
    group.sample_size(20);
    group.bench_function(label, |b| {
        b.iter(|| {
            for line in &lines {
                time += 10;
                input.pipe_input_with_timestamp((), line.as_str(), time);
            }
            black_box(output.read_records_to_list().len())
        })
    });
    group.finish();
}

fn windowed_count_in_memory(c: &mut Criterion) {
    windowed_count(c, "windowed_count_in_memory_uncached_words", true, false);
    windowed_count(c, "windowed_count_in_memory_cached_words", true, true);
}

fn windowed_count_rocksdb(c: &mut Criterion) {
    windowed_count(c, "windowed_count_rocksdb_uncached_words", false, false);
    windowed_count(c, "windowed_count_rocksdb_cached_words", false, true);
}

criterion_group!(
    benches,
    word_count_in_memory,
    word_count_rocksdb,
    windowed_count_in_memory,
    windowed_count_rocksdb
);
criterion_main!(benches);
