//! Word count, the "hello world" of stream processing, like Kafka Streams' `WordCountDemo`.
//!
//! Reads lines of text from the topic `streams-plaintext-input`, lower-cases each line, splits
//! it on non-word characters (`\W+`), counts each word and writes every updated count to
//! `streams-wordcount-output` (String key, 8-byte big-endian i64 value, as Kafka's
//! `LongSerializer` writes it). The counts live in a RocksDB store `counts` whose changes also
//! go to the changelog topic `<application.id>-counts-changelog`.
//!
//! By default the example is self-contained: it starts the bundled broker on 127.0.0.1 (any
//! free port, data in a temporary directory), produces a sample text (or a file, or standard
//! input) to the input topic, runs the application on it, prints the top words as the counts
//! converge, reports records/s and exits cleanly. With `--bootstrap-servers HOST:PORT` it only
//! runs the application against that cluster (the input topic must exist), until SIGINT or
//! SIGTERM, then shuts down cleanly — feed it with any producer, as in Kafka's quickstart.
//!
//! ```text
//! cargo run --example wordcount                          # sample text, embedded broker
//! cargo run --example wordcount -- notes.txt             # a text file
//! cargo run --example wordcount -- --processing-guarantee exactly_once_v2
//! cargo run --example wordcount -- --bootstrap-servers 127.0.0.1:9092
//! ```

use std::collections::HashMap;
use std::io::Read;
use std::time::{Duration, Instant};

use clap::Parser;
use rdkafka::message::Message;
use rill::prelude::*;

mod support;
use support::CommonArgs;

const INPUT_TOPIC: &str = "streams-plaintext-input";
const OUTPUT_TOPIC: &str = "streams-wordcount-output";
const PARTITIONS: i32 = 3;

const SAMPLE: &str = "\
all streams lead to kafka
hello kafka streams
join kafka summit
the quick brown fox jumps over the lazy dog
streams of data flow like streams of water
a rill is a small stream";

/// Word count on Rill's runtime, like Kafka Streams' WordCountDemo.
#[derive(Parser, Debug)]
struct Args {
    /// Text to count: a file, or `-` for standard input (default: a built-in sample, repeated).
    input: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
    /// How many times the built-in sample is produced (embedded mode).
    #[arg(long, default_value_t = 2_000)]
    repeat: usize,
}

/// The word-count topology.
fn topology() -> rill::Result<Topology> {
    let builder = StreamsBuilder::new();
    builder
        .stream(
            INPUT_TOPIC,
            Consumed::with(Serdes::option(Serdes::string()), Serdes::string()),
        )
        .flat_map_values(|line: &String| words(line))
        .group_by(
            |_, word| word.clone(),
            Grouped::with(Serdes::string(), Serdes::string()),
        )
        .count(Materialized::as_("counts"))
        .to_stream()
        .to(
            OUTPUT_TOPIC,
            Produced::with(Serdes::string(), Serdes::option(Serdes::i64())),
        );
    Ok(builder.build()?)
}

/// A line's words as Java's `line.toLowerCase().split("\\W+")` finds them.
fn words(line: &str) -> Vec<String> {
    line.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|word| !word.is_empty())
        .map(str::to_string)
        .collect()
}

fn main() {
    let args = Args::parse();
    support::run_example(
        "wordcount",
        "streams-wordcount",
        &args.common,
        topology(),
        |topology| run_embedded(&args, topology),
    );
}

/// Self-contained: embedded broker, sample input, run until the counts converge.
fn run_embedded(args: &Args, topology: Topology) -> Result<(), Box<dyn std::error::Error>> {
    let text = read_input(args)?;
    let broker =
        support::embedded_broker(&[(INPUT_TOPIC, PARTITIONS), (OUTPUT_TOPIC, PARTITIONS)])?;
    let bootstrap = broker.bootstrap();

    // What the output must converge to.
    let lines: Vec<&str> = text.lines().collect();
    let mut expected: HashMap<String, i64> = HashMap::new();
    for line in &lines {
        for word in words(line) {
            *expected.entry(word).or_default() += 1;
        }
    }
    let produced = Instant::now();
    support::produce(
        &bootstrap,
        INPUT_TOPIC,
        lines.iter().map(|line| (None, line.as_bytes(), None)),
    )?;
    println!(
        "produced {} lines to {INPUT_TOPIC} in {:.2?}",
        lines.len(),
        produced.elapsed()
    );

    let (config, _state) = support::streams_config(&args.common, "streams-wordcount", &bootstrap)?;
    let streams = KafkaStreams::new(topology, config)?;
    streams.set_state_listener(|new, old| println!("state {old} -> {new}"));
    let started = Instant::now();
    streams.start()?;

    let consumer = support::output_reader(&bootstrap, "wordcount-reader", &[OUTPUT_TOPIC])?;
    let mut counts: HashMap<String, i64> = HashMap::new();
    let mut last_print = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(300);
    while counts != expected {
        if Instant::now() > deadline {
            return Err("the counts did not converge within 5 minutes".into());
        }
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            let message = message?;
            let (Some(key), Some(value)) = (message.key(), message.payload()) else {
                continue;
            };
            let word = String::from_utf8_lossy(key).into_owned();
            let count = i64::from_be_bytes(value.try_into().map_err(|_| "value is not 8 bytes")?);
            counts.insert(word, count);
        }
        if last_print.elapsed() >= Duration::from_millis(500) && !counts.is_empty() {
            last_print = Instant::now();
            print_top(&counts, 5, started.elapsed());
        }
    }
    let took = started.elapsed();
    let metrics = streams.metrics();
    print_top(&counts, 10, took);
    println!(
        "converged: {} lines, {} distinct words in {:.2?} ({:.0} lines/s end to end); \
         {} records processed ({:.0} records/s), {} commits (avg {:.1?}, max {:.1?})",
        lines.len(),
        counts.len(),
        took,
        lines.len() as f64 / took.as_secs_f64(),
        metrics.records_processed,
        metrics.process_rate,
        metrics.commits,
        metrics.commit_latency_avg,
        metrics.commit_latency_max,
    );
    streams.close(Duration::from_secs(30));
    println!("final state {}", streams.state());
    drop(consumer);
    broker.shutdown()?;
    Ok(())
}

fn print_top(counts: &HashMap<String, i64>, n: usize, elapsed: Duration) {
    let mut top: Vec<(&String, &i64)> = counts.iter().collect();
    top.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let shown: Vec<String> = top
        .iter()
        .take(n)
        .map(|(word, count)| format!("{word}={count}"))
        .collect();
    println!("[{:>6.2?}] top: {}", elapsed, shown.join(" "));
}

/// The text to count: the sample repeated, a file, or standard input (`-`). Bytes that are not
/// UTF-8 become U+FFFD rather than stopping the count.
fn read_input(args: &Args) -> std::io::Result<String> {
    let bytes = match args.input.as_deref() {
        None => {
            return Ok(std::iter::repeat_n(SAMPLE, args.repeat)
                .collect::<Vec<_>>()
                .join("\n"))
        }
        Some("-") => {
            let mut bytes = Vec::new();
            std::io::stdin().read_to_end(&mut bytes)?;
            bytes
        }
        Some(path) => std::fs::read(path)?,
    };
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
