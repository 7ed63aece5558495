//! The application handle, like Kafka Streams' `KafkaStreams`: created from a topology and a
//! config, started once, queried (state, metadata, metrics, local stores), adjusted while it
//! runs (stream threads added and removed, processing paused and resumed) and closed.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use streams_core::serde::Serde;
use streams_core::{StreamsConfig, Topology};
use streams_state::{RestoreListener, RocksDbResources, StateDirectory};

use crate::close_options::{CloseOptions, GroupMembershipOperation};
use crate::error::{Error, Result};
use crate::handlers::{
    ProductionError, ProductionExceptionResponse, StreamThreadExceptionResponse,
};
use crate::instance::{Runtime, ThreadState};
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
    /// Serializes `add_stream_thread` / `remove_stream_thread`: one picks a slot at a time.
    control: Mutex<()>,
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
                shutdown: AtomicBool::new(false),
                paused: AtomicBool::new(false),
                leave_group_on_close: AtomicBool::new(false),
            }),
            control: Mutex::new(()),
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
    /// closes its clients. Returns whether all threads ended within `timeout`. Listeners and
    /// handlers run on the stream threads: calling `close` from one waits out `timeout`
    /// for the calling thread itself. The same as [`close_with`](Self::close_with) with
    /// [`CloseOptions::timeout`], remaining in the group — which only static members
    /// (`group.instance.id`) can: dynamic ones always leave (see [`CloseOptions`]).
    pub fn close(&self, timeout: Duration) -> bool {
        self.close_with(CloseOptions::new().timeout(timeout))
    }

    /// [`close`](Self::close) with Kafka's `CloseOptions`: how long to wait (without
    /// limit by default) and whether the stream threads' consumers leave the consumer group,
    /// so that the instances that stay take the partitions over at once rather than after
    /// `session.timeout.ms`.
    ///
    /// ```no_run
    /// # fn example(streams: &streams_runtime::KafkaStreams) {
    /// use std::time::Duration;
    /// use streams_runtime::CloseOptions;
    /// // Scaling in for good: hand the partitions to the other instances now.
    /// let closed = streams.close_with(CloseOptions::new().timeout(Duration::from_secs(30)).leave_group(true));
    /// # }
    /// ```
    pub fn close_with(&self, options: CloseOptions) -> bool {
        let runtime = &self.runtime;
        let deadline = options
            .timeout_duration()
            .and_then(|t| Instant::now().checked_add(t));
        let timed_out = || deadline.is_some_and(|d| Instant::now() >= d);
        match runtime.state() {
            State::NotRunning => return true,
            State::Error | State::PendingError => {}
            _ => {
                runtime.transition(State::PendingShutdown);
            }
        }
        if options.group_membership_operation() == GroupMembershipOperation::LeaveGroup {
            runtime.leave_group_on_close.store(true, Ordering::SeqCst);
        }
        runtime.shutdown.store(true, Ordering::SeqCst);
        loop {
            let (handles, all_dead) = {
                let mut threads = lock(&runtime.threads);
                let handles: Vec<JoinHandle<()>> =
                    threads.iter_mut().filter_map(|t| t.handle.take()).collect();
                let all_dead = threads.iter().all(|t| t.state == ThreadState::Dead);
                (handles, all_dead)
            };
            if handles.is_empty() {
                if all_dead {
                    break;
                }
                // A thread `add_stream_thread` is starting: its handle is on the way.
                if timed_out() {
                    tracing::warn!("close() timed out waiting for stream threads");
                    return false;
                }
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            for handle in handles {
                while !handle.is_finished() {
                    if timed_out() {
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
                if timed_out() {
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

    /// Starts one more stream thread (Kafka's `addStreamThread`) and returns its name, or
    /// `None` when the instance is not RUNNING or REBALANCING. The thread takes the lowest
    /// index no live thread uses (`<client id>-StreamThread-<n>`: a thread added after one was
    /// removed takes its name) and joins the group: the instance goes through REBALANCING
    /// while the group spreads the tasks over the threads again. `num.stream.threads` is only
    /// the count it starts with.
    ///
    /// ```no_run
    /// # fn example(streams: &streams_runtime::KafkaStreams) -> streams_runtime::Result<()> {
    /// if let Some(name) = streams.add_stream_thread()? {
    ///     println!("started {name}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn add_stream_thread(&self) -> Result<Option<String>> {
        let _control = lock(&self.control);
        let runtime = &self.runtime;
        let state = runtime.state();
        if !state.is_running_or_rebalancing() {
            tracing::info!(%state, "cannot add a stream thread in this state");
            return Ok(None);
        }
        if runtime.shared.layout().source_topics.is_empty() {
            tracing::info!("the topology has only global stores: no stream thread to add");
            return Ok(None);
        }
        let slot = Runtime::free_slot(&mut lock(&runtime.threads));
        let name = thread::spawn(runtime, slot)?;
        tracing::info!(thread = %name, "added a stream thread");
        Ok(Some(name))
    }

    /// Stops one stream thread (Kafka's `removeStreamThread`) and returns its name, or
    /// `None` when the instance is not RUNNING or REBALANCING or has no thread to remove.
    /// Waits without limit: see
    /// [`remove_stream_thread_with_timeout`](Self::remove_stream_thread_with_timeout).
    pub fn remove_stream_thread(&self) -> Result<Option<String>> {
        self.remove_thread(None)
    }

    /// Stops one stream thread — the oldest, other than the calling one — and returns its
    /// name once it has ended, or `None` when the instance is not RUNNING or REBALANCING or
    /// has no thread to remove. The thread commits and closes its tasks cleanly (flushing and
    /// checkpointing their stores) and leaves the consumer group (a static member too), so
    /// that its tasks move to the remaining threads and instances in the rebalance that
    /// follows. Fails with [`Error::Timeout`] if it has not ended within `timeout` (it goes
    /// on stopping).
    ///
    /// ```no_run
    /// # fn example(streams: &streams_runtime::KafkaStreams) -> streams_runtime::Result<()> {
    /// use std::time::Duration;
    /// let removed = streams.remove_stream_thread_with_timeout(Duration::from_secs(30))?;
    /// # Ok(()) }
    /// ```
    pub fn remove_stream_thread_with_timeout(&self, timeout: Duration) -> Result<Option<String>> {
        self.remove_thread(Some(timeout))
    }

    fn remove_thread(&self, timeout: Option<Duration>) -> Result<Option<String>> {
        let _control = lock(&self.control);
        let runtime = &self.runtime;
        let started = Instant::now();
        let state = runtime.state();
        if !state.is_running_or_rebalancing() {
            tracing::info!(%state, "cannot remove a stream thread in this state");
            return Ok(None);
        }
        let Some((slot, name)) = runtime.request_removal() else {
            tracing::info!("no stream thread to remove");
            return Ok(None);
        };
        tracing::info!(thread = %name, "removing a stream thread");
        if std::thread::current().name() == Some(name.as_str()) {
            // Called from the thread itself (a listener): it stops once this returns.
            return Ok(Some(name));
        }
        loop {
            let ended = lock(&runtime.threads)
                .get(slot)
                .is_none_or(|t| t.state == ThreadState::Dead || t.name != name);
            if ended {
                break;
            }
            if timeout.is_some_and(|t| started.elapsed() >= t) {
                return Err(Error::Timeout {
                    operation: format!("removing stream thread {name}: it did not stop"),
                    waited: started.elapsed(),
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        tracing::info!(thread = %name, "removed a stream thread");
        Ok(Some(name))
    }

    /// Pauses processing (Kafka's `pause`): every stream thread stops processing records and
    /// firing punctuations, but keeps polling its consumer — fetching nothing — so that the
    /// instance stays in the group (no rebalance, no partition moves to another instance).
    /// Its commits go on. May be called before [`start`](Self::start): the instance then
    /// starts paused. The global thread keeps its global stores up to date. Unlike Kafka,
    /// tasks assigned while paused are still created and their stores restored (restoration
    /// runs as partitions are assigned), so a paused instance reaches RUNNING.
    ///
    /// ```no_run
    /// # fn example(streams: &streams_runtime::KafkaStreams) {
    /// streams.pause();
    /// assert!(streams.is_paused());
    /// streams.resume();
    /// # }
    /// ```
    pub fn pause(&self) {
        tracing::info!("pausing processing");
        self.runtime.paused.store(true, Ordering::SeqCst);
    }

    /// Resumes processing where [`pause`](Self::pause) stopped it (Kafka's `resume`): records
    /// that arrived meanwhile are processed, none skipped.
    pub fn resume(&self) {
        tracing::info!("resuming processing");
        self.runtime.paused.store(false, Ordering::SeqCst);
    }

    /// Whether processing is paused (Kafka's `isPaused`).
    pub fn is_paused(&self) -> bool {
        self.runtime.is_paused()
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
    /// `metadataForLocalThreads`), by thread index; a thread still joining the group has
    /// no tasks yet.
    pub fn local_thread_metadata(&self) -> Vec<ThreadMetadata> {
        type Live = (usize, String, Option<Arc<Mutex<TaskManager>>>);
        let mut threads: Vec<Live> = lock(&self.runtime.threads)
            .iter()
            .filter(|t| t.state != ThreadState::Dead)
            .map(|t| (t.index, t.name.clone(), t.manager.clone()))
            .collect();
        threads.sort_by_key(|(index, _, _)| *index);
        threads
            .into_iter()
            .map(|(_, name, manager)| match manager {
                Some(m) => lock(&m).metadata(),
                None => ThreadMetadata {
                    thread_name: name,
                    active_tasks: Vec::new(),
                },
            })
            .collect()
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
