//! What every thread of an instance reads ([`Shared`]): the topology, the config, the state
//! directory and RocksDB resources, the metrics, the handlers set before `start()`, the topic
//! layout and the global stores, both known once `start()` prepared them; the lock on the
//! state directory and which task directories are in use.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use streams_core::internals::{self, GlobalStores};
use streams_core::{StreamsConfig, Topology};
use streams_state::{RestoreListener, RocksDbResources, StateDirectory, StateDirectoryLock};

use crate::handlers::ProductionExceptionHandler;
use crate::metrics::Metrics;
use crate::sync::lock;
use crate::topics::TopicLayout;

/// What every stream thread of an instance shares (read-mostly).
pub(crate) struct Shared {
    pub(crate) topology: Topology,
    pub(crate) config: StreamsConfig,
    pub(crate) application_id: Arc<str>,
    pub(crate) state_directory: StateDirectory,
    pub(crate) rocksdb: RocksDbResources,
    pub(crate) metrics: Metrics,
    pub(crate) restore_listener: Mutex<Option<Arc<dyn RestoreListener>>>,
    pub(crate) production_handler: Mutex<Option<Arc<ProductionExceptionHandler>>>,
    pub(crate) layout: OnceLock<TopicLayout>,
    /// The global stores, once `start()` restored them (empty without global tables).
    pub(crate) global_stores: OnceLock<GlobalStores>,
    /// Distinguishes this instance's clients (`client.id`, `transactional.id`).
    pub(crate) process_id: String,
    /// This instance's hold on `state.dir/<application.id>`, from `new()` until `close()`
    /// has stopped every thread (as Kafka's `StateDirectory#close`).
    pub(crate) state_lock: Mutex<Option<StateDirectoryLock>>,
    /// The tasks whose directories the stream threads use (ids), so that the state cleaner
    /// leaves them alone. A thread adds a task before touching its directory, and the
    /// cleaner holds the lock while it deletes.
    pub(crate) owned_tasks: Mutex<BTreeSet<String>>,
    /// When the state cleaner last ran (`state.cleanup.delay.ms`).
    pub(crate) last_cleanup: Mutex<Instant>,
}

impl Shared {
    /// Each cached store's share of `statestore.cache.max.bytes`. Kafka resizes its thread
    /// caches as tasks come and go; here the bound is fixed at start-up: the total divided by
    /// the cached stores times the largest task count of any sub-topology, so that all tasks
    /// this instance could ever own stay within the configured total.
    pub(crate) fn cache_bytes_per_store(&self) -> usize {
        let tasks = self
            .layout
            .get()
            .and_then(|l| l.partitions.iter().copied().max())
            .unwrap_or(1)
            .max(1) as usize;
        self.config.statestore_cache_max_bytes()
            / (internals::cached_store_count(&self.topology) * tasks).max(1)
    }

    /// The topology tasks are made of: the declared one, or once `start()` resolved its
    /// pattern sources against the cluster's topics, the resolved one.
    pub(crate) fn topology(&self) -> &Topology {
        self.layout
            .get()
            .and_then(|l| l.resolved_topology.as_ref())
            .unwrap_or(&self.topology)
    }

    /// The partition counts sinks with a stream partitioner are told (Kafka's record collector
    /// asks the producer): those known at start.
    pub(crate) fn partition_counts(&self) -> internals::PartitionCounts {
        let counts = self
            .layout
            .get()
            .map(|l| Arc::clone(&l.topic_partitions))
            .unwrap_or_default();
        Arc::new(move |topic: &str| counts.get(topic).copied())
    }

    /// The topic layout, known once `start()` prepared the topics (before any thread runs).
    pub(crate) fn layout(&self) -> &TopicLayout {
        self.layout
            .get()
            .expect("stream threads start only after the topic layout is set")
    }

    /// The instance's global stores, for its tasks; set before any stream thread starts.
    pub(crate) fn global_stores(&self) -> GlobalStores {
        self.global_stores.get().cloned().unwrap_or_default()
    }

    pub(crate) fn restore_listener(&self) -> Option<Arc<dyn RestoreListener>> {
        lock(&self.restore_listener).clone()
    }

    /// Deletes the directories of tasks no stream thread of this instance owns any more, once
    /// `state.cleanup.delay.ms` has passed since the last run and since their last change,
    /// like Kafka's `StateDirectory#cleanRemovedTasks` on its cleaner schedule. Stream threads
    /// call it from their loops; the first to find it due runs it.
    pub(crate) fn maybe_clean_state(&self) {
        let delay = self.config.state_cleanup_delay();
        let Ok(mut last) = self.last_cleanup.try_lock() else {
            return;
        };
        // Not more often than every 100 ms, even with a delay of 0.
        if last.elapsed() < delay.max(std::time::Duration::from_millis(100)) {
            return;
        }
        *last = Instant::now();
        drop(last);
        let owned = lock(&self.owned_tasks);
        if let Err(error) = self
            .state_directory
            .clean_removed_tasks(|id| owned.contains(id), delay)
        {
            tracing::warn!(%error, "cleaning the state directories of removed tasks failed");
        }
    }

    /// The production exception handler, if one was set.
    pub(crate) fn production_handler(&self) -> Option<Arc<ProductionExceptionHandler>> {
        lock(&self.production_handler).clone()
    }
}
