//! Reading an application's output back over rdkafka, from the beginning, in a consumer group
//! of its own: as word counts ([`CountReader`]) or as a table of strings ([`TableReader`]).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;

use crate::unique;

/// A consumer of `topic` from the beginning, in a fresh group, committing nothing; with no
/// `isolation_level`, librdkafka's default (`read_committed`).
fn reader(bootstrap: &str, topic: &str, isolation_level: Option<&str>) -> BaseConsumer {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("reader-{topic}-{}", unique()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false");
    if let Some(isolation_level) = isolation_level {
        config.set("isolation.level", isolation_level);
    }
    let consumer: BaseConsumer = config.create().expect("the reader's consumer is created");
    consumer
        .subscribe(&[topic])
        .unwrap_or_else(|e| panic!("subscribing to {topic}: {e}"));
    consumer
}

/// Reads `topic` (String keys, 8-byte big-endian i64 values) from the beginning, keeping each
/// key's latest value and every value seen.
pub struct CountReader {
    consumer: BaseConsumer,
    /// Each word's latest count.
    pub latest: HashMap<String, i64>,
    /// Every count seen per word, in order.
    pub history: HashMap<String, Vec<i64>>,
}

impl CountReader {
    /// A reader of `topic`; with `read_committed`, of committed records only (as a downstream
    /// reader of exactly-once output would read).
    pub fn new(bootstrap: &str, topic: &str, read_committed: bool) -> Self {
        let isolation_level = if read_committed {
            "read_committed"
        } else {
            "read_uncommitted"
        };
        CountReader {
            consumer: reader(bootstrap, topic, Some(isolation_level)),
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

    /// Reads until the latest counts equal `model`; on timeout, prints some of the words
    /// that differ before panicking.
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
    /// A reader of `topic`, with librdkafka's default isolation level (`read_committed`).
    pub fn new(bootstrap: &str, topic: &str) -> Self {
        TableReader {
            consumer: reader(bootstrap, topic, None),
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
