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
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use rill::prelude::*;
use rill::streams_broker::{BrokerConfig, EmbeddedBroker};

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
    /// Run against this Kafka cluster instead of a fresh embedded broker, until SIGINT/SIGTERM.
    #[arg(long)]
    bootstrap_servers: Option<String>,
    /// `application.id`: the consumer group and the prefix of internal topics.
    #[arg(long, default_value = "streams-wordcount")]
    application_id: String,
    /// `state.dir` (default: a temporary directory, removed at exit).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// `processing.guarantee`: at_least_once or exactly_once_v2.
    #[arg(long, default_value = "at_least_once")]
    processing_guarantee: String,
    /// Any other `StreamsConfig` property, as `KEY=VALUE` (repeatable), e.g.
    /// `--set num.stream.threads=2 --set consumer.session.timeout.ms=10000`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    properties: Vec<String>,
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
    builder.build()
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
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    if let Err(e) = run(Args::parse()) {
        eprintln!("wordcount: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let topology = topology()?;
    println!("{}", topology.describe());
    let temp_state = tempfile::Builder::new()
        .prefix("rill-wordcount-")
        .tempdir()?;
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(|| temp_state.path().to_path_buf());
    let config = |bootstrap: &str| -> rill::Result<StreamsConfig> {
        let mut config = StreamsConfig::new(args.application_id.as_str())?;
        config
            .set("bootstrap.servers", bootstrap)?
            .set("processing.guarantee", &args.processing_guarantee)?
            .set("state.dir", &state_dir.display().to_string())?
            .set("commit.interval.ms", "200")?;
        for property in &args.properties {
            let (key, value) = property
                .split_once('=')
                .ok_or_else(|| rill::Error::Config {
                    key: property.clone(),
                    value: String::new(),
                    reason: "expected KEY=VALUE".into(),
                })?;
            config.set(key, value)?;
        }
        Ok(config)
    };
    match &args.bootstrap_servers {
        Some(bootstrap) => run_until_signalled(topology, config(bootstrap)?),
        None => run_embedded(&args, topology, config),
    }
}

/// Against a real cluster: process until SIGINT or SIGTERM, then close cleanly.
fn run_until_signalled(
    topology: Topology,
    config: StreamsConfig,
) -> Result<(), Box<dyn std::error::Error>> {
    let streams = KafkaStreams::new(topology, config)?;
    streams.set_state_listener(|new, old| println!("state {old} -> {new}"));
    streams.start()?;
    println!("processing {INPUT_TOPIC} -> {OUTPUT_TOPIC}; Ctrl-C to stop");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! {
                r = tokio::signal::ctrl_c() => r,
                _ = term.recv() => Ok(()),
            }
        })?;
    println!("shutting down");
    streams.close(Duration::from_secs(30));
    let m = streams.metrics();
    println!(
        "processed {} records ({:.0} records/s)",
        m.records_processed, m.process_rate
    );
    Ok(())
}

/// Self-contained: embedded broker, sample input, run until the counts converge.
fn run_embedded(
    args: &Args,
    topology: Topology,
    config: impl Fn(&str) -> rill::Result<StreamsConfig>,
) -> Result<(), Box<dyn std::error::Error>> {
    let text = read_input(args)?;
    let mut broker_config = BrokerConfig::default();
    broker_config.set("group.initial.rebalance.delay.ms", "0")?;
    let broker = EmbeddedBroker::start(broker_config)?;
    let bootstrap = broker.bootstrap();
    println!("embedded broker at {bootstrap}");
    broker.create_topic(INPUT_TOPIC, PARTITIONS)?;
    broker.create_topic(OUTPUT_TOPIC, PARTITIONS)?;

    // What the output must converge to.
    let lines: Vec<&str> = text.lines().collect();
    let mut expected: HashMap<String, i64> = HashMap::new();
    for line in &lines {
        for word in words(line) {
            *expected.entry(word).or_default() += 1;
        }
    }
    let produced = Instant::now();
    produce(&bootstrap, &lines)?;
    println!(
        "produced {} lines to {INPUT_TOPIC} in {:.2?}",
        lines.len(),
        produced.elapsed()
    );

    let streams = KafkaStreams::new(topology, config(&bootstrap)?)?;
    streams.set_state_listener(|new, old| println!("state {old} -> {new}"));
    let started = Instant::now();
    streams.start()?;

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", "wordcount-reader")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        .create()?;
    consumer.subscribe(&[OUTPUT_TOPIC])?;
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

fn produce(bootstrap: &str, lines: &[&str]) -> Result<(), Box<dyn std::error::Error>> {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "5")
        .create()?;
    for line in lines {
        let mut record = BaseRecord::<(), str>::to(INPUT_TOPIC).payload(*line);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, r)) => {
                    record = r;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(60))?;
    Ok(())
}
