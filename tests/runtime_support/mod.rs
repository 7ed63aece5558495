//! Helpers shared by the runtime's end-to-end tests: an embedded broker tuned for tests, a
//! producer and an output reader over rdkafka, seeded random text and the word-count topology
//! with its `HashMap` model.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rill::prelude::*;
use rill::streams_broker::{BrokerConfig, BrokerHandle, EmbeddedBroker};
use rill::streams_state::{RestoreListener, TopicPartition};

/// A broker on 127.0.0.1 with no initial rebalance delay and short session timeouts allowed.
/// Also sends the runtime's logs to the test output when `RUST_LOG` is set.
pub fn broker() -> BrokerHandle {
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    }
    let mut config = BrokerConfig::default();
    config
        .set("group.initial.rebalance.delay.ms", "0")
        .expect("config");
    config
        .set("group.min.session.timeout.ms", "500")
        .expect("config");
    EmbeddedBroker::start(config).expect("broker")
}

/// A fresh word count's topics on `broker`, `partitions` each: input `lines-<id>` and output
/// `counts-<id>`. The `id` is unique, for naming the test's other resources.
pub fn word_count_topics(broker: &BrokerHandle, partitions: i32) -> (u64, String, String) {
    let id = unique();
    let (input, output) = (format!("lines-{id}"), format!("counts-{id}"));
    broker
        .create_topic(&input, partitions)
        .expect("input topic");
    broker
        .create_topic(&output, partitions)
        .expect("output topic");
    (id, input, output)
}

/// A streams configuration for tests: fast commits and small client timeouts.
pub fn config(application_id: &str, bootstrap: &str, state_dir: &Path) -> StreamsConfig {
    let mut config = StreamsConfig::new(application_id).expect("config");
    config
        .set("bootstrap.servers", bootstrap)
        .unwrap()
        .set("state.dir", &state_dir.display().to_string())
        .unwrap()
        .set("commit.interval.ms", "100")
        .unwrap()
        .set("consumer.session.timeout.ms", "6000")
        .unwrap()
        .set("consumer.heartbeat.interval.ms", "500")
        .unwrap()
        .set("consumer.fetch.wait.max.ms", "20")
        .unwrap()
        .set("producer.linger.ms", "2")
        .unwrap();
    config
}

/// Produces `(key, value)` records to `topic` (keys hashed by librdkafka's murmur2, as
/// Kafka's Java producer does) and waits until all are acknowledged.
pub fn produce(bootstrap: &str, topic: &str, records: &[(Option<Vec<u8>>, Vec<u8>)]) {
    produce_timestamped(
        bootstrap,
        topic,
        records
            .iter()
            .map(|(k, v)| (k.as_deref(), Some(v.as_slice()), None)),
    );
}

/// Produces `(key, value, timestamp)` records (no value: a tombstone; no timestamp: the
/// producer's clock) like [`produce`].
pub fn produce_timestamped<'a>(
    bootstrap: &str,
    topic: &str,
    records: impl IntoIterator<Item = (Option<&'a [u8]>, Option<&'a [u8]>, Option<i64>)>,
) {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    for (key, value, timestamp) in records {
        let mut record = BaseRecord::<[u8], [u8]>::to(topic);
        if let Some(value) = value {
            record = record.payload(value);
        }
        if let Some(key) = key {
            record = record.key(key);
        }
        if let Some(timestamp) = timestamp {
            record = record.timestamp(timestamp);
        }
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
    producer.flush(Duration::from_secs(60)).expect("flush");
}

/// Produces text lines without keys.
pub fn produce_lines(bootstrap: &str, topic: &str, lines: &[String]) {
    let records: Vec<(Option<Vec<u8>>, Vec<u8>)> = lines
        .iter()
        .map(|l| (None, l.as_bytes().to_vec()))
        .collect();
    produce(bootstrap, topic, &records);
}

/// Reads `topic` (String keys, 8-byte big-endian i64 values) from the beginning, keeping each
/// key's latest value and every value seen, until `done(latest)` or `timeout`.
pub struct CountReader {
    consumer: BaseConsumer,
    /// Each word's latest count.
    pub latest: HashMap<String, i64>,
    /// Every count seen per word, in order.
    pub history: HashMap<String, Vec<i64>>,
}

impl CountReader {
    pub fn new(bootstrap: &str, topic: &str, read_committed: bool) -> Self {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", format!("reader-{topic}-{}", unique()))
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .set(
                "isolation.level",
                if read_committed {
                    "read_committed"
                } else {
                    "read_uncommitted"
                },
            )
            .create()
            .expect("consumer");
        consumer.subscribe(&[topic]).expect("subscribe");
        CountReader {
            consumer,
            latest: HashMap::new(),
            history: HashMap::new(),
        }
    }

    /// Reads until `done(&latest)` holds; panics after `timeout`, showing how far it got.
    pub fn read_until(&mut self, timeout: Duration, done: impl Fn(&HashMap<String, i64>) -> bool) {
        let deadline = Instant::now() + timeout;
        while !done(&self.latest) {
            assert!(
                Instant::now() < deadline,
                "output did not converge within {timeout:?}: {} words so far",
                self.latest.len()
            );
            if let Some(message) = self.consumer.poll(Duration::from_millis(50)) {
                let message = message.expect("consume");
                let key = String::from_utf8(message.key().expect("key").to_vec()).expect("utf-8");
                let value = message.payload().expect("value");
                let count = i64::from_be_bytes(value.try_into().expect("8-byte count"));
                self.latest.insert(key.clone(), count);
                self.history.entry(key).or_default().push(count);
            }
        }
    }

    /// Reads until the latest counts equal `model`.
    pub fn read_until_equal(&mut self, model: &HashMap<String, i64>, timeout: Duration) {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.read_until(timeout, |latest| latest == model)
        }));
        if let Err(panic) = result {
            let mut wrong: Vec<(&String, Option<&i64>, &i64)> = model
                .iter()
                .filter(|(word, count)| self.latest.get(*word) != Some(count))
                .map(|(word, count)| (word, self.latest.get(word), count))
                .collect();
            wrong.sort();
            wrong.truncate(10);
            eprintln!("(word, output, model) that differ: {wrong:?}");
            std::panic::resume_unwind(panic);
        }
    }
}

/// Reads `topic` (string keys and values) from the beginning as a table: each key's latest
/// value, a record without a value deleting its key.
pub struct TableReader {
    consumer: BaseConsumer,
    /// Each key's latest value.
    pub latest: BTreeMap<String, String>,
}

impl TableReader {
    pub fn new(bootstrap: &str, topic: &str) -> Self {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", format!("reader-{topic}-{}", unique()))
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .create()
            .expect("consumer");
        consumer.subscribe(&[topic]).expect("subscribe");
        TableReader {
            consumer,
            latest: BTreeMap::new(),
        }
    }

    /// Reads whatever arrives for `duration`.
    pub fn read_for(&mut self, duration: Duration) {
        let deadline = Instant::now() + duration;
        while Instant::now() < deadline {
            self.poll_once();
        }
    }

    /// Reads until `done(&latest)` holds; panics after `timeout`, showing what was read.
    pub fn read_until(
        &mut self,
        timeout: Duration,
        done: impl Fn(&BTreeMap<String, String>) -> bool,
    ) {
        let deadline = Instant::now() + timeout;
        while !done(&self.latest) {
            assert!(
                Instant::now() < deadline,
                "timed out; read so far: {:?}",
                self.latest
            );
            self.poll_once();
        }
    }

    fn poll_once(&mut self) {
        if let Some(message) = self.consumer.poll(Duration::from_millis(50)) {
            let message = message.expect("consume");
            let key = String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned();
            match message.payload() {
                Some(value) => {
                    self.latest
                        .insert(key, String::from_utf8_lossy(value).into_owned());
                }
                None => {
                    self.latest.remove(&key);
                }
            }
        }
    }
}

/// A number unique within this test process, for topic and application names.
pub fn unique() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// `n` lines of seeded pseudo-random words from a vocabulary of `vocabulary` words, with
/// punctuation and mixed case that word count must see through.
pub fn random_lines(seed: u64, n: usize, vocabulary: usize) -> Vec<String> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545F4914F6CDD1D)
    };
    (0..n)
        .map(|_| {
            let words = 1 + next() % 8;
            let mut line = String::new();
            for i in 0..words {
                if i > 0 {
                    line.push_str(if next() % 5 == 0 { ", " } else { " " });
                }
                let word = format!("word{}", next() % vocabulary as u64);
                if next() % 7 == 0 {
                    line.push_str(&word.to_uppercase());
                } else {
                    line.push_str(&word);
                }
            }
            if next() % 3 == 0 {
                line.push('.');
            }
            line
        })
        .collect()
}

/// A line's words as Java's `line.toLowerCase().split("\\W+")` finds them.
pub fn words(line: &str) -> Vec<String> {
    line.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The model: each word's count over `lines`.
pub fn model(lines: &[String]) -> HashMap<String, i64> {
    let mut counts = HashMap::new();
    for line in lines {
        for word in words(line) {
            *counts.entry(word).or_default() += 1;
        }
    }
    counts
}

/// Kafka's WordCountDemo: `input` lines → word counts in store `counts` → `output`.
pub fn word_count(input: &str, output: &str) -> Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream(
            input,
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
            output,
            Produced::with(Serdes::string(), Serdes::option(Serdes::i64())),
        );
    builder.build().expect("topology")
}

/// Counts restored records, per changelog partition.
#[derive(Default)]
pub struct RestoreCounter {
    pub restored: AtomicU64,
    pub restores_started: AtomicU64,
    pub partitions: std::sync::Mutex<Vec<(TopicPartition, i64, i64)>>,
}

impl RestoreListener for RestoreCounter {
    fn on_restore_start(&self, partition: &TopicPartition, _store: &str, start: i64, end: i64) {
        self.restores_started.fetch_add(1, Ordering::Relaxed);
        self.partitions
            .lock()
            .unwrap()
            .push((partition.clone(), start, end));
    }

    fn on_batch_restored(&self, _: &TopicPartition, _: &str, _: i64, n: u64) {
        self.restored.fetch_add(n, Ordering::Relaxed);
    }
}

/// A shared restore counter.
pub fn restore_counter() -> Arc<RestoreCounter> {
    Arc::new(RestoreCounter::default())
}

/// Waits until `streams` is RUNNING, panicking with its state otherwise.
pub fn wait_running(streams: &KafkaStreams, timeout: Duration) {
    assert!(
        streams.wait_for_state(State::Running, timeout),
        "not RUNNING within {timeout:?}: {}",
        streams.state()
    );
}

/// The example binary, built alongside the tests (`cargo test` builds examples; a filtered run
/// builds it here).
pub fn example(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let debug_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target directory");
    let binary = debug_dir.join("examples").join(name);
    if !binary.exists() {
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "--quiet", "--example", name])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo build --example");
        assert!(status.success());
    }
    binary
}
