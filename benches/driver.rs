//! Records per second through the `TopologyTestDriver`: serialize in, process, serialize out,
//! read back — the driver's whole round trip, in-process.
//!
//! Run with `make bench` (or `cargo bench --bench driver`); figures go in BENCHMARKS.md.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rill::prelude::*;
use rill::streams_core::serde::{StringSerde, UnitSerde};

const RECORDS: usize = 10_000;

fn values_of_100_bytes() -> Vec<String> {
    (0..RECORDS)
        .map(|i| format!("{i:08}-{}", "abcdefghij".repeat(10))[..100].to_string())
        .collect()
}

/// (a) filter → map_values → select_key on 100-byte string values.
fn stateless_chain(c: &mut Criterion) {
    let builder = StreamsBuilder::new();
    builder
        .stream("in", Consumed::with(Serdes::string(), Serdes::string()))
        .filter(|_, v| v.as_bytes()[0] != b'#')
        .map_values(|v| v.to_ascii_uppercase())
        .select_key(|_, v| v[..8].to_string())
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    let driver = TopologyTestDriver::new(builder.build().expect("topology")).expect("driver");
    let input = driver.create_input_topic("in", StringSerde, StringSerde);
    let output = driver.create_output_topic("out", StringSerde, StringSerde);
    let values = values_of_100_bytes();

    let mut group = c.benchmark_group("driver");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.bench_function("stateless_chain_3_ops_100B", |b| {
        b.iter_batched(
            || values.clone(),
            |values| {
                for value in values {
                    input.pipe_input("key", value);
                }
                black_box(output.read_records_to_list().len())
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

/// Users whose region the joins look up.
const USERS: usize = 1_000;

/// (c) a stream-table join: records keyed by 1,000 users joined with their region (an
/// in-memory table loaded first), the joined value written out.
fn stream_table_join(c: &mut Criterion) {
    let builder = StreamsBuilder::new();
    let regions = builder.table(
        "regions",
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("regions").with_in_memory(),
    );
    builder
        .stream("views", Consumed::with(Serdes::string(), Serdes::string()))
        .join(
            &regions,
            |page: &String, region: &String| format!("{page}@{region}"),
            Joined::with(Serdes::string(), Serdes::string()),
        )
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    bench_region_join(c, "stream_table_join", builder);
}

/// (c') the same join against a global table: the views look their user up in a global store
/// (every partition of `regions`, shared by all tasks) through a key mapper.
fn stream_global_table_join(c: &mut Criterion) {
    let builder = StreamsBuilder::new();
    let regions = builder.global_table(
        "regions",
        Consumed::with(Serdes::string(), Serdes::string()),
        Materialized::as_("regions").with_in_memory(),
    );
    builder
        .stream("views", Consumed::with(Serdes::string(), Serdes::string()))
        .join_global_table(
            &regions,
            |user: &String, _| user.clone(),
            |page: &String, region: &String| format!("{page}@{region}"),
        )
        .to("out", Produced::with(Serdes::string(), Serdes::string()));
    bench_region_join(c, "stream_global_table_join", builder);
}

/// Loads the `regions` table of `builder`'s join, then measures piping the views through it.
fn bench_region_join(c: &mut Criterion, name: &str, builder: StreamsBuilder) {
    let driver = TopologyTestDriver::new(builder.build().expect("topology")).expect("driver");
    let table = driver.create_input_topic("regions", StringSerde, StringSerde);
    for u in 0..USERS {
        table.pipe_input(format!("user-{u}"), ["eu", "us", "asia"][u % 3].to_string());
    }
    let input = driver.create_input_topic("views", StringSerde, StringSerde);
    let output = driver.create_output_topic("out", StringSerde, StringSerde);
    let views: Vec<(String, String)> = (0..RECORDS)
        .map(|i| (format!("user-{}", i % USERS), format!("/page/{}", i % 50)))
        .collect();

    let mut group = c.benchmark_group("driver");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.bench_function(name, |b| {
        b.iter_batched(
            || views.clone(),
            |views| {
                for (user, page) in views {
                    input.pipe_input(user, page);
                }
                black_box(output.read_records_to_list().len())
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

/// (b) flat_map_values splitting lines of text into words.
fn split_words(c: &mut Criterion) {
    let builder = StreamsBuilder::new();
    builder
        .stream("lines", Consumed::with(Serdes::unit(), Serdes::string()))
        .flat_map_values(|line: &String| {
            line.split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .to("words", Produced::with(Serdes::unit(), Serdes::string()));
    let driver = TopologyTestDriver::new(builder.build().expect("topology")).expect("driver");
    let input = driver.create_input_topic("lines", UnitSerde, StringSerde);
    let output = driver.create_output_topic("words", UnitSerde, StringSerde);
    let line = "the quick brown fox jumps over the lazy dog again";
    let words_per_line = line.split_whitespace().count();
    let lines = RECORDS / words_per_line;

    let mut group = c.benchmark_group("driver");
    group.throughput(Throughput::Elements((lines * words_per_line) as u64));
    group.bench_function("flat_map_words_out", |b| {
        b.iter(|| {
            for _ in 0..lines {
                input.pipe_input((), line);
            }
            black_box(output.read_records_to_list().len())
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    stateless_chain,
    split_words,
    stream_table_join,
    stream_global_table_join
);
criterion_main!(benches);
