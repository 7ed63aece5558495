//! The instance's metrics: counters the stream threads bump as they process, commit and
//! restore, and the [`StreamsMetrics`] snapshot read from them (Kafka Streams'
//! `stream-thread-metrics`, summed over the instance's threads).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::sync::lock;

/// A snapshot of an instance's metrics (Kafka's `stream-thread-metrics`, summed over threads).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StreamsMetrics {
    /// Records processed (`process-total`).
    pub records_processed: u64,
    /// Records dropped by the deserialization handler or the production exception handler
    /// (`dropped-records-total`).
    pub records_skipped: u64,
    /// Records processed per second since start (`process-rate` over the whole run).
    pub process_rate: f64,
    /// Commits (`commit-total`).
    pub commits: u64,
    /// Mean commit latency (`commit-latency-avg`).
    pub commit_latency_avg: Duration,
    /// Largest commit latency (`commit-latency-max`).
    pub commit_latency_max: Duration,
    /// Changelog records restored into stores (`restore-total`).
    pub records_restored: u64,
    /// Records in the assigned input partitions not yet committed as consumed, as of each
    /// thread's last commit (`records-lag`, summed).
    pub consumer_lag: i64,
    /// Time since `start()`.
    pub uptime: Duration,
    /// Rounds of the stream threads' poll loops, each polling the consumer once or more
    /// (`poll-total`); they go on while the instance is paused.
    pub polls: u64,
}

/// The counters behind [`StreamsMetrics`].
pub(crate) struct Metrics {
    pub(crate) started: Mutex<Option<Instant>>,
    pub(crate) records_processed: AtomicU64,
    pub(crate) records_skipped: Arc<AtomicU64>,
    pub(crate) records_restored: AtomicU64,
    pub(crate) polls: AtomicU64,
    commits: AtomicU64,
    commit_nanos_total: AtomicU64,
    commit_nanos_max: AtomicU64,
    /// Thread name → lag at its last commit.
    pub(crate) consumer_lag: Mutex<BTreeMap<String, i64>>,
}

impl Metrics {
    pub(crate) fn new() -> Self {
        Metrics {
            started: Mutex::new(None),
            records_processed: AtomicU64::new(0),
            records_skipped: Arc::new(AtomicU64::new(0)),
            records_restored: AtomicU64::new(0),
            polls: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            commit_nanos_total: AtomicU64::new(0),
            commit_nanos_max: AtomicU64::new(0),
            consumer_lag: Mutex::new(BTreeMap::new()),
        }
    }

    pub(crate) fn record_commit(&self, latency: Duration) {
        let nanos = latency.as_nanos().min(u64::MAX as u128) as u64;
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.commit_nanos_total.fetch_add(nanos, Ordering::Relaxed);
        self.commit_nanos_max.fetch_max(nanos, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> StreamsMetrics {
        let uptime = lock(&self.started).map_or(Duration::ZERO, |s| s.elapsed());
        let processed = self.records_processed.load(Ordering::Relaxed);
        let commits = self.commits.load(Ordering::Relaxed);
        StreamsMetrics {
            records_processed: processed,
            records_skipped: self.records_skipped.load(Ordering::Relaxed),
            process_rate: if uptime.is_zero() {
                0.0
            } else {
                processed as f64 / uptime.as_secs_f64()
            },
            commits,
            commit_latency_avg: Duration::from_nanos(
                self.commit_nanos_total
                    .load(Ordering::Relaxed)
                    .checked_div(commits)
                    .unwrap_or(0),
            ),
            commit_latency_max: Duration::from_nanos(self.commit_nanos_max.load(Ordering::Relaxed)),
            records_restored: self.records_restored.load(Ordering::Relaxed),
            consumer_lag: lock(&self.consumer_lag).values().sum(),
            uptime,
            polls: self.polls.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_average_commit_latency() {
        let metrics = Metrics::new();
        metrics.record_commit(Duration::from_millis(10));
        metrics.record_commit(Duration::from_millis(30));
        metrics.records_processed.fetch_add(5, Ordering::Relaxed);
        let snapshot = metrics.snapshot();
        assert_eq!(snapshot.commits, 2);
        assert_eq!(snapshot.commit_latency_avg, Duration::from_millis(20));
        assert_eq!(snapshot.commit_latency_max, Duration::from_millis(30));
        assert_eq!(snapshot.records_processed, 5);
        assert_eq!(snapshot.process_rate, 0.0, "not started");
    }
}
