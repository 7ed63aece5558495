//! The application handle, like Kafka Streams' `KafkaStreams`: created from a topology and a
//! config, started once, queried (state, metadata, metrics, local stores) and closed.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use streams_core::serde::Serde;
use streams_core::{StreamsConfig, Topology};
use streams_state::{RestoreListener, RocksDbResources, StateDirectory};

use crate::error::{Error, Result};
use crate::handlers::{
    ProductionError, ProductionExceptionResponse, StreamThreadExceptionResponse,
};
use crate::instance::Runtime;
use crate::metadata::ThreadMetadata;
use crate::metrics::{Metrics, StreamsMetrics};
use crate::process_id::process_id;
use crate::query::{LocalKeyValueStore, LocalSessionStore, LocalWindowStore};
use crate::shared::Shared;
use crate::state::State;
use crate::sync::lock;
use crate::task_manager::TaskManager;
use crate::{clients, global, thread, topics};

/// A streams application instance; see the [crate docs](crate).
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
    /// [`start`](Self::start). `bootstrap.servers` must be set. Takes the lock of
    /// `state.dir/<application.id>` until [`close`](Self::close) (or drop): while another
    /// instance (in this process or another) holds it, fails with
    /// [`streams_state::Error::StateDirectoryLocked`], naming the directory.
    pub fn new(topology: Topology, config: StreamsConfig) -> Result<Self> {
        if config.bootstrap_servers().is_none() {
            return Err(streams_core::Error::Config {
                key: "bootstrap.servers".into(),
                value: String::new(),
                reason: "must be set to run an application".into(),
            }
            .into());
        }
        let application_id: Arc<str> = Arc::from(config.application_id());
        let state_directory = StateDirectory::new(config.state_dir(), config.application_id());
        // Like Kafka's StateDirectory: one instance per application directory, so that two
        // never share stores, checkpoints or the process id (and with it transactional ids).
        let state_lock = state_directory.lock()?;
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
            state_lock: Mutex::new(Some(state_lock)),
            owned_tasks: Mutex::new(Default::default()),
            last_cleanup: Mutex::new(Instant::now()),
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
    /// [`ProductionExceptionHandler`](crate::ProductionExceptionHandler) for when it is asked. Set it before `start()`.
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
        let admin = clients::admin(
            &shared.config,
            &format!("{}-admin", runtime.client_id_prefix()),
        );
        let layout = topics::prepare(&shared.topology, &shared.config, &admin)?;
        // A second start() racing this one finds the layout set and the state moved on.
        if shared.layout.set(layout).is_err() || !runtime.transition(State::Rebalancing) {
            return Err(Error::IllegalState("start() called twice".into()));
        }
        *lock(&shared.metrics.started) = Some(Instant::now());
        // Global stores are complete before any stream thread processes (Kafka's
        // `GlobalStreamThread.start()` blocks the same way).
        if let Err(e) = global::start(runtime) {
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
            if let Err(e) = thread::spawn(runtime, slot) {
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
        // Every thread has stopped: another instance may have the state directory now.
        lock(&runtime.shared.state_lock).take();
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
        self.check_store(name)?;
        Ok(LocalKeyValueStore {
            runtime: Arc::clone(&self.runtime),
            name: name.to_string(),
            keys: Arc::new(keys),
            values: Arc::new(values),
        })
    }

    /// This instance's part of the window store `name` (a windowed aggregation's too, read
    /// without timestamps), typed with the given serdes, for interactive queries like Kafka's
    /// `ReadOnlyWindowStore`. `window_size_ms` is the windows' size, which gives the windowed
    /// keys their end: the store keeps only window starts.
    ///
    /// ```no_run
    /// # fn example(streams: &streams_runtime::KafkaStreams) -> streams_runtime::Result<()> {
    /// use streams_core::serde::Serdes;
    /// let counts = streams.local_window_store("windowed-counts", Serdes::string(), Serdes::i64(), 60_000)?;
    /// let last_hour = counts.fetch_all(0, 3_600_000)?;
    /// # Ok(()) }
    /// ```
    pub fn local_window_store<K: 'static, V: 'static>(
        &self,
        name: &str,
        keys: impl Serde<K>,
        values: impl Serde<V>,
        window_size_ms: i64,
    ) -> Result<LocalWindowStore<K, V>> {
        self.check_store(name)?;
        Ok(LocalWindowStore {
            runtime: Arc::clone(&self.runtime),
            name: name.to_string(),
            keys: Arc::new(keys),
            values: Arc::new(values),
            window_size_ms,
        })
    }

    /// This instance's part of the versioned key-value store `name` (a versioned table's), typed
    /// with the given serdes, for interactive queries of a key's latest version or its version
    /// as of a time (Kafka's IQv2 `VersionedKeyQuery`).
    pub fn local_versioned_store<K: 'static, V: 'static>(
        &self,
        name: &str,
        keys: impl Serde<K>,
        values: impl Serde<V>,
    ) -> Result<crate::query::LocalVersionedStore<K, V>> {
        self.check_store(name)?;
        Ok(crate::query::LocalVersionedStore {
            runtime: Arc::clone(&self.runtime),
            name: name.to_string(),
            keys: Arc::new(keys),
            values: Arc::new(values),
        })
    }

    /// This instance's part of the session store `name` (a session-windowed aggregation's),
    /// typed with the given serdes, for interactive queries like Kafka's
    /// `ReadOnlySessionStore`.
    pub fn local_session_store<K: 'static, V: 'static>(
        &self,
        name: &str,
        keys: impl Serde<K>,
        values: impl Serde<V>,
    ) -> Result<LocalSessionStore<K, V>> {
        self.check_store(name)?;
        Ok(LocalSessionStore {
            runtime: Arc::clone(&self.runtime),
            name: name.to_string(),
            keys: Arc::new(keys),
            values: Arc::new(values),
        })
    }

    /// An error unless the topology has a state store `name`.
    fn check_store(&self, name: &str) -> Result<()> {
        if self
            .runtime
            .shared
            .topology
            .store_names()
            .iter()
            .any(|s| s == name)
        {
            return Ok(());
        }
        Err(streams_core::Error::InvalidArgument(format!(
            "the topology has no state store `{name}`"
        ))
        .into())
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
        // After close() the lock was released: take it again while deleting, so as not to
        // delete the state of another instance that took the directory meanwhile.
        let held = lock(&self.runtime.shared.state_lock);
        let _relocked = match *held {
            Some(_) => None,
            None => Some(self.runtime.shared.state_directory.lock()?),
        };
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
