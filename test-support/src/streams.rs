//! Running applications in tests: a `StreamsConfig` with fast commits and small client
//! timeouts, waiting for RUNNING, and a restore listener that counts what was restored.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use streams_core::StreamsConfig;
use streams_runtime::{KafkaStreams, State};
use streams_state::{RestoreListener, TopicPartition};

/// A streams configuration for tests: fast commits and small client timeouts.
pub fn config(application_id: &str, bootstrap: &str, state_dir: &Path) -> StreamsConfig {
    let mut config = StreamsConfig::new(application_id).expect("application id");
    let state_dir = state_dir.display().to_string();
    for (key, value) in [
        ("bootstrap.servers", bootstrap),
        ("state.dir", &state_dir),
        ("commit.interval.ms", "100"),
        ("consumer.session.timeout.ms", "6000"),
        ("consumer.heartbeat.interval.ms", "500"),
        ("consumer.fetch.wait.max.ms", "20"),
        ("producer.linger.ms", "2"),
    ] {
        config
            .set(key, value)
            .unwrap_or_else(|e| panic!("streams setting {key}={value}: {e}"));
    }
    config
}

/// Waits until `streams` is RUNNING, panicking with its state otherwise.
pub fn wait_running(streams: &KafkaStreams, timeout: Duration) {
    assert!(
        streams.wait_for_state(State::Running, timeout),
        "not RUNNING within {timeout:?}: {}",
        streams.state()
    );
}

/// Counts restored records, per changelog partition.
#[derive(Default)]
pub struct RestoreCounter {
    /// Records restored, over all stores.
    pub restored: AtomicU64,
    /// Restorations started (one per store and changelog partition).
    pub restores_started: AtomicU64,
    /// Each restoration's changelog partition, start offset and end offset.
    pub partitions: Mutex<Vec<(TopicPartition, i64, i64)>>,
}

impl RestoreListener for RestoreCounter {
    fn on_restore_start(&self, partition: &TopicPartition, _store: &str, start: i64, end: i64) {
        self.restores_started.fetch_add(1, Ordering::Relaxed);
        self.partitions
            .lock()
            .expect("no thread panicked holding the restore counter")
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
