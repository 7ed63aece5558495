//! The instance's control block ([`Runtime`]), shared by the [`KafkaStreams`](crate::KafkaStreams)
//! handle and the instance's threads: the application's state and its transitions, the stream
//! threads' slots (deriving RUNNING from all of them, failing the client, naming threads by the
//! lowest free index, asking one thread to stop when it is removed), whether processing is
//! paused, whether closing threads leave the group, the global thread's liveness, client ids,
//! and the stores of every thread for interactive queries.
//! The threads themselves are started by their own modules (`thread::spawn`, `global::start`),
//! which report back here.

use std::sync::atomic::{AtomicBool, Ordering};
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

/// A stream thread's place in the instance. Slots of ended threads are reused by the threads
/// added later (`add_stream_thread`), a thread's index in its name is not: see
/// [`Runtime::free_thread_index`].
pub(crate) struct ThreadSlot {
    pub(crate) state: ThreadState,
    pub(crate) handle: Option<JoinHandle<()>>,
    pub(crate) manager: Option<Arc<Mutex<TaskManager>>>,
    /// The `n` of its name `<client id>-StreamThread-<n>`.
    pub(crate) index: usize,
    /// Its name.
    pub(crate) name: String,
    /// Asked to stop on its own (`remove_stream_thread`), the instance going on without it.
    pub(crate) stop: bool,
}

impl ThreadSlot {
    /// Whether the thread is alive and not asked to stop: one `remove_stream_thread` may
    /// pick.
    fn removable(&self) -> bool {
        self.state != ThreadState::Dead && !self.stop
    }
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
    pub(crate) shutdown: AtomicBool,
    /// `pause()`d: the threads stay in the group but process nothing (Kafka's
    /// `KafkaStreams#pause`).
    pub(crate) paused: AtomicBool,
    /// Closing with `GroupMembershipOperation::LeaveGroup`: every thread leaves the group.
    pub(crate) leave_group_on_close: AtomicBool,
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

    /// Whether thread `slot` should stop: the instance is shutting down, or the thread is
    /// being removed.
    pub(crate) fn shutdown_requested(&self, slot: usize) -> bool {
        self.shutdown.load(Ordering::SeqCst) || self.removal_requested(slot)
    }

    /// Whether thread `slot` is being removed (`remove_stream_thread`).
    pub(crate) fn removal_requested(&self, slot: usize) -> bool {
        lock(&self.threads).get(slot).is_some_and(|t| t.stop)
    }

    /// Whether thread `slot` leaves the consumer group when it stops: when it is removed (as
    /// Kafka's `removeStreamThread` makes it), or when the instance closes with
    /// `GroupMembershipOperation::LeaveGroup`.
    pub(crate) fn leaves_group(&self, slot: usize) -> bool {
        self.leave_group_on_close.load(Ordering::SeqCst) || self.removal_requested(slot)
    }

    /// Whether processing is paused.
    pub(crate) fn is_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }

    /// The lowest thread index no live thread other than `slot`'s uses, as Kafka's
    /// `getNextThreadIndex`: a thread added after one was removed takes the removed one's name.
    pub(crate) fn free_thread_index(threads: &[ThreadSlot], slot: usize) -> usize {
        let used: std::collections::BTreeSet<usize> = threads
            .iter()
            .enumerate()
            .filter(|(i, t)| *i != slot && t.state != ThreadState::Dead)
            .map(|(_, t)| t.index)
            .collect();
        (1..).find(|i| !used.contains(i)).unwrap_or(1)
    }

    /// A slot for a new thread: the first whose thread has ended and been joined (or has
    /// finished, then joined here), else a new one at the end.
    pub(crate) fn free_slot(threads: &mut [ThreadSlot]) -> usize {
        for (i, t) in threads.iter_mut().enumerate() {
            if t.state != ThreadState::Dead {
                continue;
            }
            match t.handle.take() {
                None => return i,
                Some(handle) if handle.is_finished() => {
                    if handle.join().is_err() {
                        tracing::warn!(thread = %t.name, "a stream thread had panicked");
                    }
                    return i;
                }
                // Still in its last steps (replacing itself, say): not free yet.
                Some(handle) => t.handle = Some(handle),
            }
        }
        threads.len()
    }

    /// Picks the thread `remove_stream_thread` removes and asks it to stop: the live thread
    /// with the lowest index (the oldest, as Kafka removes the first of its list), other than
    /// the calling thread unless it is the only one. Returns its slot and name.
    pub(crate) fn request_removal(&self) -> Option<(usize, String)> {
        let current = std::thread::current().id();
        let mut threads = lock(&self.threads);
        let live: Vec<usize> = (0..threads.len())
            .filter(|&i| threads[i].removable())
            .collect();
        let is_current = |t: &ThreadSlot| {
            t.handle
                .as_ref()
                .is_some_and(|h| h.thread().id() == current)
        };
        let slot = live
            .iter()
            .copied()
            .filter(|&i| live.len() == 1 || !is_current(&threads[i]))
            .min_by_key(|&i| threads[i].index)?;
        threads[slot].stop = true;
        Some((slot, threads[slot].name.clone()))
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
        if let Some(t) = lock(&self.threads).get_mut(slot) {
            t.state = state;
        }
        self.derive_state();
    }

    /// REBALANCING ⇄ RUNNING from the live threads' states: RUNNING once every one processes
    /// (a thread being removed counts only until it has ended).
    pub(crate) fn derive_state(&self) {
        let all_running = lock(&self.threads)
            .iter()
            .filter(|t| t.state != ThreadState::Dead)
            .all(|t| t.state == ThreadState::Running);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(index: usize, state: ThreadState) -> ThreadSlot {
        ThreadSlot {
            state,
            handle: None,
            manager: None,
            index,
            name: format!("app-StreamThread-{index}"),
            stop: false,
        }
    }

    #[test]
    fn thread_indexes_reuse_the_lowest_free_one_as_kafka() {
        use ThreadState::*;
        // Threads 1 and 2 alive: a new one (in a new slot) is 3.
        let threads = [slot(1, Running), slot(2, Running)];
        assert_eq!(Runtime::free_thread_index(&threads, 2), 3);
        // Thread 1 ended: its index is free again, whichever slot the new thread takes.
        let threads = [slot(1, Dead), slot(2, Running), slot(3, Running)];
        assert_eq!(Runtime::free_thread_index(&threads, 0), 1);
        assert_eq!(Runtime::free_thread_index(&threads, 3), 1);
        // A thread still stopping keeps its index; a thread replacing itself in its own slot
        // may take its own index back.
        let threads = [slot(1, PartitionsRevoked), slot(2, Running)];
        assert_eq!(Runtime::free_thread_index(&threads, 2), 3);
        assert_eq!(Runtime::free_thread_index(&threads, 0), 1);
        assert_eq!(Runtime::free_thread_index(&[], 0), 1);
    }

    #[test]
    fn new_threads_take_the_slots_of_ended_ones() {
        use ThreadState::*;
        let mut threads = vec![slot(1, Running), slot(2, Dead), slot(3, Running)];
        assert_eq!(Runtime::free_slot(&mut threads), 1);
        // A dead thread whose OS thread has not finished (it may be replacing itself) keeps
        // its slot.
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        threads[1].handle = Some(std::thread::spawn(move || {
            let _ = rx.recv();
        }));
        assert_eq!(Runtime::free_slot(&mut threads), 3);
        assert!(threads[1].handle.is_some());
        drop(tx);
        while !threads[1]
            .handle
            .as_ref()
            .is_some_and(JoinHandle::is_finished)
        {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert_eq!(Runtime::free_slot(&mut threads), 1);
        assert!(threads[1].handle.is_none(), "joined");
    }
}
