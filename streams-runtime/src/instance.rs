//! The instance's control block ([`Runtime`]), shared by the [`KafkaStreams`](crate::KafkaStreams)
//! handle and the instance's threads: the application's state and its transitions, the stream
//! threads' slots (spawning, replacing a failed thread, deriving RUNNING from all of them), the
//! global thread, and what every thread reads ([`Shared`]: topology, config, state directory,
//! RocksDB resources, metrics, handlers, topic layout, global stores).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;

use rdkafka::config::ClientConfig;
use streams_core::internals::{self, ClientKind, GlobalStores, StoreHandle};
use streams_core::{ProcessingGuarantee, StreamsConfig, Topology};
use streams_state::{RestoreListener, RocksDbResources, StateDirectory};

use crate::error::{Error, Result};
use crate::handlers::{
    ProductionExceptionHandler, StreamThreadExceptionResponse, UncaughtExceptionHandler,
};
use crate::metrics::Metrics;
use crate::state::{State, StateListener};
use crate::task_manager::TaskManager;
use crate::topics::TopicLayout;
use crate::{global, thread};

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

pub(crate) struct ThreadSlot {
    pub(crate) state: ThreadState,
    pub(crate) handle: Option<JoinHandle<()>>,
    pub(crate) manager: Option<Arc<Mutex<TaskManager>>>,
}

/// The instance's control block, shared with its threads.
pub(crate) struct Runtime {
    pub(crate) shared: Arc<Shared>,
    pub(crate) state: Mutex<State>,
    pub(crate) state_changed: Condvar,
    pub(crate) listener: Mutex<Option<Arc<StateListener>>>,
    pub(crate) handler: Mutex<Option<Arc<UncaughtExceptionHandler>>>,
    pub(crate) threads: Mutex<Vec<ThreadSlot>>,
    /// The global thread, if the topology has global stores.
    pub(crate) global_thread: Mutex<Option<JoinHandle<()>>>,
    /// Whether the global thread is running (it keeps PENDING_ERROR from becoming ERROR).
    pub(crate) global_alive: AtomicBool,
    pub(crate) next_thread: AtomicUsize,
    pub(crate) shutdown: AtomicBool,
}

/// Locks `m`, recovering the data of a poisoned lock: a thread that panicked while holding it
/// already fails the client on its own, and refusing later locks would only spread the panic.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Runtime {
    pub(crate) fn state(&self) -> State {
        *lock(&self.state)
    }

    /// Moves to `next` if Kafka's state machine allows it, then tells the listener.
    pub(crate) fn transition(&self, next: State) -> bool {
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
    pub(crate) fn start_global_thread(self: &Arc<Self>) -> Result<()> {
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
    pub(crate) fn spawn_thread(self: &Arc<Self>, slot: usize) -> Result<()> {
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
    pub(crate) fn fail(&self) {
        self.transition(State::PendingError);
        self.shutdown.store(true, Ordering::SeqCst);
    }

    /// PENDING_ERROR → ERROR once every thread has ended.
    pub(crate) fn maybe_finish_error(&self) {
        let all_dead = lock(&self.threads)
            .iter()
            .all(|t| t.state == ThreadState::Dead)
            && !self.global_alive.load(Ordering::SeqCst);
        if all_dead && self.state() == State::PendingError {
            self.transition(State::Error);
        }
    }

    pub(crate) fn store_handles(&self, name: &str) -> Vec<StoreHandle> {
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

/// The error a panic in stream thread `name` becomes.
pub(crate) fn panic_error(name: &str, panic: Box<dyn std::any::Any + Send>) -> Error {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    Error::IllegalState(format!("stream thread {name} panicked: {message}"))
}
