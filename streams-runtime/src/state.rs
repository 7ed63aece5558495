//! The application's state machine, as Kafka Streams' `KafkaStreams.State`: CREATED →
//! REBALANCING ⇄ RUNNING → PENDING_SHUTDOWN → NOT_RUNNING, or PENDING_ERROR → ERROR on a fatal
//! error. Every transition is reported to the [`StateListener`].

use std::fmt;

/// The state of a [`KafkaStreams`](crate::KafkaStreams) instance, as in Kafka Streams' `KafkaStreams.State`.
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

/// A state listener: called with `(new, old)` on every transition.
pub type StateListener = dyn Fn(State, State) + Send + Sync;

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
}
