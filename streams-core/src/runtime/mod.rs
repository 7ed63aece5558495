//! The runtime: a topology running against Kafka, like Kafka Streams' `KafkaStreams`.
//!
//! [`KafkaStreams::new`] pairs a [`Topology`] with a [`StreamsConfig`]; [`start`] creates the
//! internal topics ([`topics`](self) module: repartition and changelog topics, co-partitioning
//! check) and `num.stream.threads` stream threads. Each thread joins the consumer group
//! `application.id`, subscribed to every source topic with the `range` assignor — which gives
//! partition `p` of every topic with the same partition count to the same member, so
//! co-partitioned inputs meet in one task — and runs the tasks (sub-topology × partition) it is
//! assigned: restoring their stores from the changelogs, processing records depth-first in
//! timestamp order, committing every `commit.interval.ms` (at-least-once or exactly-once v2).
//! Starting more instances with the same `application.id` spreads the tasks across them; when
//! one leaves, the others take its tasks over and restore their state.
//!
//! Global tables are not spread: before the stream threads start, each instance restores its
//! global stores from every partition of their topics, then a global thread outside the group
//! keeps them up to date, and every task of the instance reads them ([`global`](self) module,
//! Kafka's `GlobalStreamThread`).
//!
//! The application's [`State`] follows Kafka's state machine (CREATED → REBALANCING ⇄ RUNNING →
//! PENDING_SHUTDOWN → NOT_RUNNING, or PENDING_ERROR → ERROR) and is reported to a state
//! listener. A failing stream thread goes to the uncaught-exception handler, which replaces the
//! thread or shuts the client down. [`KafkaStreams::local_store`] reads this instance's part of
//! a key-value store (interactive queries), and [`KafkaStreams::metrics`] gives a snapshot of
//! throughput, commit latency, restoration and consumer lag.
//!
//! ```no_run
//! use std::time::Duration;
//! use streams_core::prelude::*;
//!
//! let builder = StreamsBuilder::new();
//! builder
//!     .stream("lines", Consumed::with(Serdes::option(Serdes::string()), Serdes::string()))
//!     .flat_map_values(|line: &String| line.split_whitespace().map(str::to_lowercase).collect::<Vec<_>>())
//!     .group_by(|_, word| word.clone(), Grouped::with(Serdes::string(), Serdes::string()))
//!     .count(Materialized::as_("counts"));
//! let mut config = StreamsConfig::new("wordcount")?;
//! config.set("bootstrap.servers", "127.0.0.1:9092")?;
//! let streams = KafkaStreams::new(builder.build()?, config)?;
//! streams.set_state_listener(|new, old| println!("{old} -> {new}"));
//! streams.start()?;
//! streams.wait_for_state(State::Running, Duration::from_secs(30));
//! let counts = streams.local_store("counts", Serdes::string(), Serdes::i64())?;
//! println!("rill: {:?}", counts.get(&"rill".to_string())?);
//! streams.close(Duration::from_secs(30));
//! # Ok::<(), streams_core::Error>(())
//! ```
//!
//! [`start`]: KafkaStreams::start

mod collector;
mod global;
mod restore;
mod task_manager;
mod thread;
mod topics;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use streams_state::{RestoreListener, RocksDbResources, StateDirectory};

use crate::config::{ClientKind, ProcessingGuarantee, StreamsConfig};
use crate::error::{Error, Result};
use crate::processor::TaskId;
use crate::serde::Serde;
use crate::state::{access, GlobalStores, KeyValueStoreRef, StoreHandle};
use crate::topology::Topology;
use task_manager::TaskManager;
use topics::TopicLayout;

/// The state of a [`KafkaStreams`] instance, as in Kafka Streams' `KafkaStreams.State`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Created, not started.
    Created,
    /// Some stream thread is joining the group, or creating and restoring its tasks.
    Rebalancing,
    /// Every stream thread is processing.
    Running,
    /// `close()` was called; threads are finishing.
    PendingShutdown,
    /// Closed.
    NotRunning,
    /// A fatal error is shutting the client down.
    PendingError,
    /// Shut down after a fatal error.
    Error,
}

impl State {
    /// Whether the application is processing or about to (RUNNING or REBALANCING).
    pub fn is_running_or_rebalancing(self) -> bool {
        matches!(self, State::Running | State::Rebalancing)
    }

    /// Whether Kafka's state machine allows going from `self` to `next`.
    pub fn is_valid_transition(self, next: State) -> bool {
        use State::*;
        matches!(
            (self, next),
            (Created, Rebalancing | PendingShutdown)
                | (
                    Rebalancing,
                    Running | Rebalancing | PendingShutdown | PendingError
                )
                | (Running, Rebalancing | PendingShutdown | PendingError)
                | (PendingShutdown, NotRunning)
                | (PendingError, Error)
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Created => "CREATED",
            State::Rebalancing => "REBALANCING",
            State::Running => "RUNNING",
            State::PendingShutdown => "PENDING_SHUTDOWN",
            State::NotRunning => "NOT_RUNNING",
            State::PendingError => "PENDING_ERROR",
            State::Error => "ERROR",
        })
    }
}

/// What to do when a stream thread fails, like Kafka's `StreamThreadExceptionResponse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamThreadExceptionResponse {
    /// Start a new stream thread in place of the failed one; its tasks are reassigned by a
    /// rebalance and restored.
    ReplaceThread,
    /// Stop every stream thread of this instance; the state ends in ERROR. (The default, as
    /// in Kafka when no handler is set.)
    ShutdownClient,
    /// In Kafka, also asks every other instance to shut down through the group protocol.
    /// librdkafka's consumer cannot send that request, so here it shuts down this instance
    /// only, like [`ShutdownClient`](Self::ShutdownClient), and logs that the others keep
    /// running.
    ShutdownApplication,
}

/// What to do with a record the producer could not send, like Kafka's
/// `ProductionExceptionHandlerResponse`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductionExceptionResponse {
    /// Fail the stream thread (the default, as Kafka's `DefaultProductionExceptionHandler`).
    Fail,
    /// Drop the record, log it and count it in `records_skipped`; processing goes on.
    Continue,
}

/// A record the producer could not send, as the production exception handler sees it.
#[derive(Debug)]
#[non_exhaustive]
pub struct ProductionError<'a> {
    /// The topic the record was for.
    pub topic: &'a str,
    /// Its partition, if one was chosen.
    pub partition: Option<i32>,
    /// Why it could not be sent.
    pub error: &'a (dyn std::error::Error + 'static),
}

/// A production exception handler: decides whether a failed send fails the thread. It is
/// asked only for sink and repartition records under at-least-once: a lost changelog record
/// would corrupt restored state, and under exactly-once a failed send aborts the transaction,
/// so those always fail.
pub type ProductionExceptionHandler =
    dyn Fn(&ProductionError<'_>) -> ProductionExceptionResponse + Send + Sync;

/// A state listener: called with `(new, old)` on every transition.
pub type StateListener = dyn Fn(State, State) + Send + Sync;

/// An uncaught-exception handler: decides what a stream thread's failure leads to.
pub type UncaughtExceptionHandler = dyn Fn(&Error) -> StreamThreadExceptionResponse + Send + Sync;

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
}

/// A stream thread of this instance and its tasks, like Kafka's `ThreadMetadata`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadMetadata {
    /// The thread's name (`<application.id>-<process>-StreamThread-<n>`).
    pub thread_name: String,
    /// The tasks it runs.
    pub active_tasks: Vec<TaskMetadata>,
}

/// A task and the input partitions the consumer group assigned to it, like Kafka's
/// `TaskMetadata`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskMetadata {
    /// The task.
    pub task_id: TaskId,
    /// The assigned `(topic, partition)`s it reads.
    pub topic_partitions: Vec<(String, i32)>,
}

/// The counters behind [`StreamsMetrics`].
pub(crate) struct Metrics {
    started: Mutex<Option<Instant>>,
    pub(crate) records_processed: AtomicU64,
    pub(crate) records_skipped: Arc<AtomicU64>,
    pub(crate) records_restored: AtomicU64,
    commits: AtomicU64,
    commit_nanos_total: AtomicU64,
    commit_nanos_max: AtomicU64,
    /// Thread name → lag at its last commit.
    pub(crate) consumer_lag: Mutex<BTreeMap<String, i64>>,
}

impl Metrics {
    fn new() -> Self {
        Metrics {
            started: Mutex::new(None),
            records_processed: AtomicU64::new(0),
            records_skipped: Arc::new(AtomicU64::new(0)),
            records_restored: AtomicU64::new(0),
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

    fn snapshot(&self) -> StreamsMetrics {
        let uptime = self
            .started
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map_or(Duration::ZERO, |s| s.elapsed());
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
            consumer_lag: self
                .consumer_lag
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .values()
                .sum(),
            uptime,
        }
    }
}

/// What every stream thread of an instance shares (read-mostly).
pub(crate) struct Shared {
    pub(crate) topology: Topology,
    pub(crate) config: StreamsConfig,
    pub(crate) application_id: Arc<str>,
    pub(crate) state_directory: StateDirectory,
    pub(crate) rocksdb: RocksDbResources,
    pub(crate) metrics: Metrics,
    restore_listener: Mutex<Option<Arc<dyn RestoreListener>>>,
    production_handler: Mutex<Option<Arc<ProductionExceptionHandler>>>,
    layout: OnceLock<TopicLayout>,
    /// The global stores, once `start()` restored them (empty without global tables).
    global_stores: OnceLock<GlobalStores>,
    /// Distinguishes this instance's clients (`client.id`, `transactional.id`).
    pub(crate) process_id: String,
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
            / (self.topology.cached_store_count() * tasks).max(1)
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
        self.restore_listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The production exception handler, if one was set.
    pub(crate) fn production_handler(&self) -> Option<Arc<ProductionExceptionHandler>> {
        self.production_handler
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// What the instance knows of one of its stream threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ThreadState {
    /// Created, not yet in the group.
    Starting,
    /// Its partitions were revoked; a rebalance is under way.
    PartitionsRevoked,
    /// Partitions were assigned; tasks are being created and restored.
    PartitionsAssigned,
    /// Processing.
    Running,
    /// Ended.
    Dead,
}

struct ThreadSlot {
    state: ThreadState,
    handle: Option<JoinHandle<()>>,
    manager: Option<Arc<Mutex<TaskManager>>>,
}

/// The instance's control block, shared with its threads.
pub(crate) struct Runtime {
    pub(crate) shared: Arc<Shared>,
    state: Mutex<State>,
    state_changed: Condvar,
    listener: Mutex<Option<Arc<StateListener>>>,
    handler: Mutex<Option<Arc<UncaughtExceptionHandler>>>,
    threads: Mutex<Vec<ThreadSlot>>,
    /// The global thread, if the topology has global stores.
    global_thread: Mutex<Option<JoinHandle<()>>>,
    /// Whether the global thread is running (it keeps PENDING_ERROR from becoming ERROR).
    global_alive: AtomicBool,
    next_thread: AtomicUsize,
    shutdown: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Runtime {
    fn state(&self) -> State {
        *lock(&self.state)
    }

    /// Moves to `next` if Kafka's state machine allows it, then tells the listener.
    fn transition(&self, next: State) -> bool {
        let old = {
            let mut state = lock(&self.state);
            let old = *state;
            if !old.is_valid_transition(next) {
                return false;
            }
            *state = next;
            old
        };
        self.state_changed.notify_all();
        tracing::info!(application = %self.shared.application_id, from = %old, to = %next, "state transition");
        let listener = lock(&self.listener).clone();
        if let Some(listener) = listener {
            listener(next, old);
        }
        true
    }

    pub(crate) fn shutdown_requested(&self, _slot: usize) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }

    /// Whether the instance is shutting down and every stream thread has ended: then the
    /// global thread may close the global stores.
    pub(crate) fn stream_threads_stopped(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
            && lock(&self.threads)
                .iter()
                .all(|t| t.state == ThreadState::Dead)
    }

    /// Restores the global stores (before any stream thread starts) and starts the global
    /// thread that keeps them up to date; nothing without global stores.
    fn start_global_thread(self: &Arc<Self>) -> Result<()> {
        let Some(state) = global::GlobalState::restore(self)? else {
            let _ = self.shared.global_stores.set(GlobalStores::default());
            return Ok(());
        };
        let _ = self.shared.global_stores.set(state.stores());
        let name = format!(
            "{}-{}-GlobalStreamThread",
            self.shared.application_id, self.shared.process_id
        );
        let runtime = Arc::clone(self);
        let thread_name = name.clone();
        self.global_alive.store(true, Ordering::SeqCst);
        let handle = std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || {
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    global::run(&runtime, state)
                }))
                .unwrap_or_else(|panic| Err(panic_error(&thread_name, panic)));
                runtime.global_alive.store(false, Ordering::SeqCst);
                match result {
                    Ok(()) => tracing::info!(thread = %thread_name, "global thread stopped"),
                    Err(error) => {
                        // `global::run` already failed the client if its loop did; a panic or
                        // an error while closing the stores does so here.
                        tracing::error!(thread = %thread_name, %error, "global thread failed");
                        runtime.fail();
                    }
                }
                runtime.maybe_finish_error();
            });
        match handle {
            Ok(handle) => {
                *lock(&self.global_thread) = Some(handle);
                Ok(())
            }
            Err(e) => {
                self.global_alive.store(false, Ordering::SeqCst);
                Err(Error::IllegalState(format!(
                    "cannot start the global thread {name}: {e}"
                )))
            }
        }
    }

    /// Records a thread's progress and derives the instance's state from all of them.
    pub(crate) fn set_thread_state(&self, slot: usize, state: ThreadState) {
        let all_running = {
            let mut threads = lock(&self.threads);
            if let Some(t) = threads.get_mut(slot) {
                t.state = state;
            }
            threads
                .iter()
                .filter(|t| t.state != ThreadState::Dead)
                .all(|t| t.state == ThreadState::Running)
        };
        match (self.state(), all_running) {
            (State::Rebalancing, true) => {
                self.transition(State::Running);
            }
            (State::Running, false) => {
                self.transition(State::Rebalancing);
            }
            _ => {}
        }
    }

    pub(crate) fn register_manager(&self, slot: usize, manager: Arc<Mutex<TaskManager>>) {
        if let Some(t) = lock(&self.threads).get_mut(slot) {
            t.manager = Some(manager);
        }
    }

    /// A librdkafka configuration for a client of kind `kind` named `client_id`:
    /// `bootstrap.servers` and the pass-through properties.
    pub(crate) fn client_config(&self, kind: ClientKind, client_id: &str) -> ClientConfig {
        let config = &self.shared.config;
        let mut client = ClientConfig::new();
        client
            .set(
                "bootstrap.servers",
                config.bootstrap_servers().unwrap_or_default(),
            )
            .set("client.id", client_id);
        if kind == ClientKind::Consumer {
            // librdkafka stops fetching for `fetch.queue.backoff.ms` (default 1 s) whenever its
            // prefetch queue is full; a stream thread drains that queue in a fraction of that, so
            // the default makes the consumer stop and go (measured: it capped a stateless app at
            // ~145k records/s). Java's consumer has no such pause. Overridable as
            // `consumer.fetch.queue.backoff.ms`.
            client.set("fetch.queue.backoff.ms", "10");
        }
        for (key, value) in config.client_properties(kind) {
            client.set(key, value);
        }
        client
    }

    /// A librdkafka configuration for a consumer outside the group that `assign()`s partitions
    /// itself (restore consumers, the global consumer), named `client_id`: no commits, reading
    /// from the earliest offset, and under exactly-once only committed records.
    pub(crate) fn restore_consumer_config(&self, client_id: &str) -> ClientConfig {
        let mut config = self.client_config(ClientKind::Consumer, client_id);
        // librdkafka's assign() wants a group id even though this consumer never joins the
        // group nor commits.
        config
            .set(
                "group.id",
                format!("{}-restore-consumer", self.shared.application_id),
            )
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "true")
            .set("auto.offset.reset", "earliest");
        if self.shared.config.processing_guarantee() == ProcessingGuarantee::ExactlyOnceV2 {
            config.set("isolation.level", "read_committed");
        }
        config
    }

    /// Starts stream thread `slot` (a new one, or the replacement of a failed one).
    fn spawn_thread(self: &Arc<Self>, slot: usize) -> Result<()> {
        let index = self.next_thread.fetch_add(1, Ordering::SeqCst) + 1;
        let name = format!(
            "{}-{}-StreamThread-{index}",
            self.shared.application_id, self.shared.process_id
        );
        {
            let mut threads = lock(&self.threads);
            while threads.len() <= slot {
                threads.push(ThreadSlot {
                    state: ThreadState::Dead,
                    handle: None,
                    manager: None,
                });
            }
            threads[slot].state = ThreadState::Starting;
            threads[slot].manager = None;
        }
        let runtime = Arc::clone(self);
        let thread_name = name.clone();
        let handle = std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || runtime.thread_main(slot, thread_name))
            .map_err(|e| Error::IllegalState(format!("cannot start stream thread {name}: {e}")))?;
        if let Some(t) = lock(&self.threads).get_mut(slot) {
            t.handle = Some(handle);
        }
        Ok(())
    }

    fn thread_main(self: Arc<Self>, slot: usize, name: String) {
        let runtime = Arc::clone(&self);
        let thread_name = name.clone();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            thread::run(runtime, slot, thread_name)
        }))
        .unwrap_or_else(|panic| Err(panic_error(&name, panic)));
        {
            let mut threads = lock(&self.threads);
            if let Some(t) = threads.get_mut(slot) {
                t.state = ThreadState::Dead;
                t.manager = None;
            }
        }
        if let Err(error) = result {
            if self.shutdown.load(Ordering::SeqCst) {
                tracing::warn!(thread = %name, %error, "stream thread failed while shutting down");
            } else {
                tracing::error!(thread = %name, %error, "stream thread failed");
                let handler = lock(&self.handler).clone();
                let response =
                    handler.map_or(StreamThreadExceptionResponse::ShutdownClient, |h| h(&error));
                match response {
                    StreamThreadExceptionResponse::ReplaceThread => {
                        tracing::info!(thread = %name, "replacing the failed stream thread");
                        if let Err(e) = self.spawn_thread(slot) {
                            tracing::error!(error = %e, "cannot replace the stream thread");
                            self.fail();
                        }
                    }
                    StreamThreadExceptionResponse::ShutdownClient => self.fail(),
                    StreamThreadExceptionResponse::ShutdownApplication => {
                        tracing::warn!("SHUTDOWN_APPLICATION: shutting down this instance; other instances are not told (librdkafka's group protocol cannot carry the request)");
                        self.fail();
                    }
                }
            }
        }
        self.maybe_finish_error();
    }

    /// A fatal error: stop every thread; the state ends in ERROR.
    fn fail(&self) {
        self.transition(State::PendingError);
        self.shutdown.store(true, Ordering::SeqCst);
    }

    /// PENDING_ERROR → ERROR once every thread has ended.
    fn maybe_finish_error(&self) {
        let all_dead = lock(&self.threads)
            .iter()
            .all(|t| t.state == ThreadState::Dead)
            && !self.global_alive.load(Ordering::SeqCst);
        if all_dead && self.state() == State::PendingError {
            self.transition(State::Error);
        }
    }

    fn store_handles(&self, name: &str) -> Vec<StoreHandle> {
        if let Some(global) = self.shared.global_stores.get().and_then(|s| s.get(name)) {
            return vec![global.clone()];
        }
        let managers: Vec<Arc<Mutex<TaskManager>>> = lock(&self.threads)
            .iter()
            .filter_map(|t| t.manager.clone())
            .collect();
        managers
            .iter()
            .flat_map(|m| lock(m).store_handles(name))
            .collect()
    }
}

/// The file in the application's state directory that keeps its process id across restarts,
/// as Kafka Streams' `kafka-streams-process-metadata`.
const PROCESS_METADATA_FILE: &str = "kafka-streams-process-metadata";

/// This instance's process id: read from the state directory, or made up and stored there.
/// Being stable across restarts, it gives a restarted instance the same `transactional.id`s,
/// so that under exactly-once its producers fence (and abort) what a crashed run left open.
fn process_id(directory: &StateDirectory) -> Result<String> {
    let dir = directory.application_dir();
    let path = dir.join(PROCESS_METADATA_FILE);
    let io = |e: std::io::Error| {
        Error::State(streams_state::Error::InvalidArgument {
            store: path.display().to_string(),
            message: format!("cannot read or write the process metadata: {e}"),
        })
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let id = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v.get("processId")?.as_str().map(str::to_string))
                .filter(|id| {
                    !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                });
            if let Some(id) = id {
                return Ok(id);
            }
            tracing::warn!(path = %path.display(), "unreadable process metadata; making a new process id");
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    static INSTANCES: AtomicUsize = AtomicUsize::new(0);
    let seed = format!(
        "{}-{:?}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now(),
        INSTANCES.fetch_add(1, Ordering::SeqCst),
        dir.display()
    );
    // Not a UUID library's v4, but as unique as this machine needs: two FNV-1a halves.
    let fnv = |salt: u64| {
        seed.bytes().fold(0xcbf2_9ce4_8422_2325_u64 ^ salt, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    };
    let id = format!("{:016x}-{:016x}", fnv(0), fnv(0x9e37_79b9_7f4a_7c15));
    std::fs::create_dir_all(&dir).map_err(io)?;
    std::fs::write(&path, serde_json::json!({ "processId": id }).to_string()).map_err(io)?;
    Ok(id)
}

/// The error a panic in stream thread `name` becomes.
pub(crate) fn panic_error(name: &str, panic: Box<dyn std::any::Any + Send>) -> Error {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    Error::IllegalState(format!("stream thread {name} panicked: {message}"))
}

/// A streams application instance; see the [module docs](self).
pub struct KafkaStreams {
    runtime: Arc<Runtime>,
}

impl fmt::Debug for KafkaStreams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaStreams")
            .field("application_id", &self.runtime.shared.application_id)
            .field("state", &self.state())
            .finish()
    }
}

impl KafkaStreams {
    /// An instance running `topology` with `config`; nothing connects before
    /// [`start`](Self::start). `bootstrap.servers` must be set.
    pub fn new(topology: Topology, config: StreamsConfig) -> Result<Self> {
        if config.bootstrap_servers().is_none() {
            return Err(Error::Config {
                key: "bootstrap.servers".into(),
                value: String::new(),
                reason: "must be set to run an application".into(),
            });
        }
        let application_id: Arc<str> = Arc::from(config.application_id());
        let state_directory = StateDirectory::new(config.state_dir(), config.application_id());
        let rocksdb = RocksDbResources::new(config.rocksdb_config().clone())?;
        let process_id = process_id(&state_directory)?;
        let shared = Arc::new(Shared {
            topology,
            config,
            application_id,
            state_directory,
            rocksdb,
            metrics: Metrics::new(),
            restore_listener: Mutex::new(None),
            production_handler: Mutex::new(None),
            layout: OnceLock::new(),
            global_stores: OnceLock::new(),
            process_id,
        });
        Ok(KafkaStreams {
            runtime: Arc::new(Runtime {
                shared,
                state: Mutex::new(State::Created),
                state_changed: Condvar::new(),
                listener: Mutex::new(None),
                handler: Mutex::new(None),
                threads: Mutex::new(Vec::new()),
                global_thread: Mutex::new(None),
                global_alive: AtomicBool::new(false),
                next_thread: AtomicUsize::new(0),
                shutdown: AtomicBool::new(false),
            }),
        })
    }

    /// Calls `listener(new, old)` on every state transition (Kafka's `setStateListener`).
    pub fn set_state_listener(&self, listener: impl Fn(State, State) + Send + Sync + 'static) {
        *lock(&self.runtime.listener) = Some(Arc::new(listener));
    }

    /// Decides what a stream thread's failure leads to (Kafka's
    /// `setUncaughtExceptionHandler`); without one, the client shuts down.
    pub fn set_uncaught_exception_handler(
        &self,
        handler: impl Fn(&Error) -> StreamThreadExceptionResponse + Send + Sync + 'static,
    ) {
        *lock(&self.runtime.handler) = Some(Arc::new(handler));
    }

    /// Decides what a record the producer cannot send leads to (Kafka's
    /// `default.production.exception.handler`); without one, the thread fails. See
    /// [`ProductionExceptionHandler`] for when it is asked. Set it before `start()`.
    pub fn set_production_exception_handler(
        &self,
        handler: impl Fn(&ProductionError<'_>) -> ProductionExceptionResponse + Send + Sync + 'static,
    ) {
        *lock(&self.runtime.shared.production_handler) = Some(Arc::new(handler));
    }

    /// Reports every store restoration to `listener` (Kafka's `setGlobalStateRestoreListener`).
    /// Set it before `start()`.
    pub fn set_restore_listener(&self, listener: Arc<dyn RestoreListener>) {
        *lock(&self.runtime.shared.restore_listener) = Some(listener);
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.runtime.state()
    }

    /// Waits until the state is `wanted` or `timeout` passes; returns whether it got there.
    pub fn wait_for_state(&self, wanted: State, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = lock(&self.runtime.state);
        while *state != wanted {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = self
                .runtime
                .state_changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }

    /// Creates the internal topics and starts the stream threads. Fails if the instance was
    /// started before, if source topics are missing or if co-partitioned topics disagree.
    pub fn start(&self) -> Result<()> {
        let runtime = &self.runtime;
        let shared = &runtime.shared;
        if runtime.state() != State::Created {
            return Err(Error::IllegalState(format!(
                "start() on an instance in state {}; an instance starts once",
                runtime.state()
            )));
        }
        let admin = runtime.client_config(
            ClientKind::Admin,
            &format!("{}-{}-admin", shared.application_id, shared.process_id),
        );
        let layout = topics::prepare(
            &shared.topology,
            &shared.application_id,
            &admin,
            Duration::from_secs(30),
        )?;
        // A second start() racing this one finds the layout set and the state moved on.
        if shared.layout.set(layout).is_err() || !runtime.transition(State::Rebalancing) {
            return Err(Error::IllegalState("start() called twice".into()));
        }
        *lock(&shared.metrics.started) = Some(Instant::now());
        // Global stores are complete before any stream thread processes (Kafka's
        // `GlobalStreamThread.start()` blocks the same way).
        if let Err(e) = runtime.start_global_thread() {
            tracing::error!(error = %e, "restoring the global stores failed");
            runtime.fail();
            runtime.maybe_finish_error();
            return Err(e);
        }
        if shared.layout().source_topics.is_empty() {
            // Only global tables: nothing for a stream thread to consume (Kafka overrides
            // num.stream.threads to 0 for such a topology). The global thread serves them.
            tracing::info!(
                "the topology has only global stores: no stream threads, running the global thread"
            );
            runtime.transition(State::Running);
            return Ok(());
        }
        for slot in 0..shared.config.num_stream_threads() {
            if let Err(e) = runtime.spawn_thread(slot) {
                runtime.fail();
                return Err(e);
            }
        }
        Ok(())
    }

    /// Stops processing: every thread commits, closes its tasks (writing checkpoints) and
    /// leaves the group. Returns whether all threads ended within `timeout`. Listeners and
    /// handlers run on the stream threads: calling `close` from one waits out `timeout`
    /// for the calling thread itself.
    pub fn close(&self, timeout: Duration) -> bool {
        let runtime = &self.runtime;
        let deadline = Instant::now() + timeout;
        match runtime.state() {
            State::NotRunning => return true,
            State::Error | State::PendingError => {}
            _ => {
                runtime.transition(State::PendingShutdown);
            }
        }
        runtime.shutdown.store(true, Ordering::SeqCst);
        loop {
            let handles: Vec<JoinHandle<()>> = lock(&runtime.threads)
                .iter_mut()
                .filter_map(|t| t.handle.take())
                .collect();
            if handles.is_empty() {
                break;
            }
            for handle in handles {
                while !handle.is_finished() {
                    if Instant::now() >= deadline {
                        tracing::warn!("close() timed out waiting for stream threads");
                        return false;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                if handle.join().is_err() {
                    tracing::warn!("a stream thread panicked while closing");
                }
            }
        }
        // The global thread ends once the stream threads have: it closes the global stores.
        if let Some(handle) = lock(&runtime.global_thread).take() {
            while !handle.is_finished() {
                if Instant::now() >= deadline {
                    tracing::warn!("close() timed out waiting for the global thread");
                    return false;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            if handle.join().is_err() {
                tracing::warn!("the global thread panicked while closing");
            }
        }
        if runtime.state() == State::PendingShutdown {
            runtime.transition(State::NotRunning);
        }
        runtime.maybe_finish_error();
        true
    }

    /// This instance's part of the key-value store `name` (a `KTable` or `count()` store
    /// too), typed with the given serdes, for interactive queries. A global store (a
    /// `GlobalKTable`'s) is held whole by every instance.
    pub fn local_store<K: 'static, V: 'static>(
        &self,
        name: &str,
        keys: impl Serde<K>,
        values: impl Serde<V>,
    ) -> Result<LocalKeyValueStore<K, V>> {
        if !self
            .runtime
            .shared
            .topology
            .store_names()
            .iter()
            .any(|s| s == name)
        {
            return Err(Error::InvalidArgument(format!(
                "the topology has no state store `{name}`"
            )));
        }
        Ok(LocalKeyValueStore {
            runtime: Arc::clone(&self.runtime),
            name: name.to_string(),
            keys: Arc::new(keys),
            values: Arc::new(values),
        })
    }

    /// The instance's live stream threads and their tasks (Kafka's
    /// `metadataForLocalThreads`).
    pub fn local_thread_metadata(&self) -> Vec<ThreadMetadata> {
        let managers: Vec<Arc<Mutex<TaskManager>>> = lock(&self.runtime.threads)
            .iter()
            .filter_map(|t| t.manager.clone())
            .collect();
        managers.iter().map(|m| lock(m).metadata()).collect()
    }

    /// Deletes this application's local state (`state.dir/<application.id>`), like Kafka's
    /// `cleanUp()`: the next start restores every store from its changelog. Only allowed
    /// before `start()` or after `close()`.
    pub fn clean_up(&self) -> Result<()> {
        let state = self.state();
        if !matches!(state, State::Created | State::NotRunning | State::Error) {
            return Err(Error::IllegalState(format!(
                "clean_up() while the instance is {state}; close it first"
            )));
        }
        let dir = self.runtime.shared.state_directory.application_dir();
        for task in self.runtime.shared.state_directory.task_ids()? {
            self.runtime.shared.state_directory.wipe_task(&task)?;
        }
        tracing::info!(dir = %dir.display(), "deleted the application's local state");
        Ok(())
    }

    /// A snapshot of this instance's metrics.
    pub fn metrics(&self) -> StreamsMetrics {
        self.runtime.shared.metrics.snapshot()
    }
}

impl Drop for KafkaStreams {
    fn drop(&mut self) {
        if !matches!(
            self.state(),
            State::Created | State::NotRunning | State::Error
        ) {
            self.close(Duration::from_secs(60));
        }
    }
}

/// Read access to the part of a key-value store held by one instance's tasks, like the
/// `ReadOnlyKeyValueStore` of Kafka's interactive queries. Each call looks at the tasks the
/// instance runs at that moment; during a rebalance a call may fail with a closed store (retry).
pub struct LocalKeyValueStore<K, V> {
    runtime: Arc<Runtime>,
    name: String,
    keys: Arc<dyn Serde<K>>,
    values: Arc<dyn Serde<V>>,
}

impl<K: 'static, V: 'static> LocalKeyValueStore<K, V> {
    /// The value of `key`, if a local task holds it.
    pub fn get(&self, key: &K) -> Result<Option<V>> {
        for store in self.stores()? {
            if let Some(found) = store.get(key)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// Every entry held locally (task by task, each in key order).
    pub fn all(&self) -> Result<Vec<(K, V)>> {
        let mut entries = Vec::new();
        for store in self.stores()? {
            entries.extend(store.all()?);
        }
        Ok(entries)
    }

    /// The local instances of the store, typed (a table's store read without timestamps).
    fn stores(&self) -> Result<Vec<KeyValueStoreRef<K, V>>> {
        self.runtime
            .store_handles(&self.name)
            .iter()
            .map(|handle| {
                access::key_value(
                    &self.name,
                    handle,
                    Arc::clone(&self.keys),
                    Arc::clone(&self.values),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_machine_follows_kafka() {
        use State::*;
        assert!(Created.is_valid_transition(Rebalancing));
        assert!(Rebalancing.is_valid_transition(Running));
        assert!(Running.is_valid_transition(Rebalancing));
        assert!(Running.is_valid_transition(PendingShutdown));
        assert!(PendingShutdown.is_valid_transition(NotRunning));
        assert!(Running.is_valid_transition(PendingError));
        assert!(PendingError.is_valid_transition(Error));
        assert!(!Created.is_valid_transition(Running));
        assert!(!NotRunning.is_valid_transition(Rebalancing));
        assert!(!Error.is_valid_transition(PendingShutdown));
        assert!(!PendingShutdown.is_valid_transition(Running));
        assert_eq!(PendingShutdown.to_string(), "PENDING_SHUTDOWN");
        assert!(Rebalancing.is_running_or_rebalancing() && !Created.is_running_or_rebalancing());
    }

    #[test]
    fn the_process_id_survives_restarts_of_one_state_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDirectory::new(tmp.path(), "app");
        let first = process_id(&dir).unwrap();
        assert_eq!(process_id(&dir).unwrap(), first);
        let other = StateDirectory::new(tmp.path(), "other-app");
        assert_ne!(process_id(&other).unwrap(), first);
        std::fs::write(dir.application_dir().join(PROCESS_METADATA_FILE), "garbage").unwrap();
        let replaced = process_id(&dir).unwrap();
        assert_ne!(replaced, first);
        assert_eq!(process_id(&dir).unwrap(), replaced);
    }

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
