//! The instance's control block ([`Runtime`]), shared by the [`KafkaStreams`](crate::KafkaStreams)
//! handle and the instance's threads: the application's state and its transitions, the stream
//! threads' slots (deriving RUNNING from all of them, failing the client), the global thread's
//! liveness, client ids, and the stores of every thread for interactive queries.
//! The threads themselves are started by their own modules (`thread::spawn`, `global::start`),
//! which report back here.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use streams_core::internals::StoreHandle;

use crate::clients;
use crate::error::Error;
use crate::handlers::UncaughtExceptionHandler;
use crate::shared::Shared;
use crate::state::{State, StateListener};
use crate::sync::lock;
use crate::task_manager::TaskManager;

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

    /// The prefix of this instance's client ids and stream thread names (`client.id`, or
    /// `<application.id>-<process id>`).
    pub(crate) fn client_id_prefix(&self) -> String {
        clients::client_id_prefix(&self.shared.config, &self.shared.process_id)
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
