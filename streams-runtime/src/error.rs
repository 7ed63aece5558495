//! Errors of the runtime: the topology's own errors ([`streams_core::Error`]: processing,
//! serdes, stores, configuration) and what running against Kafka adds — client failures,
//! missing or mis-partitioned topics, operations the application's state does not allow.

/// Everything that can go wrong while running a topology against Kafka.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An error of the topology itself: building, processing, a serde, a state store or the
    /// configuration.
    #[error(transparent)]
    Streams(#[from] streams_core::Error),

    /// A Kafka client operation of the runtime failed.
    #[error("{operation}: {source}")]
    Kafka {
        /// What the runtime was doing, with the topic or partition involved.
        operation: String,
        /// What librdkafka reported.
        #[source]
        source: rdkafka::error::KafkaError,
    },

    /// The cluster at `bootstrap.servers` did not answer within `task.timeout.ms` at
    /// start-up (a wrong address, a firewall, or security settings that do not match the
    /// cluster's listener).
    #[error("cannot reach the Kafka cluster at bootstrap.servers={servers} (waited {waited:?}, task.timeout.ms): {source}")]
    ClusterUnreachable {
        /// The configured `bootstrap.servers`.
        servers: String,
        /// How long the runtime waited.
        waited: std::time::Duration,
        /// The last error librdkafka reported.
        #[source]
        source: rdkafka::error::KafkaError,
    },

    /// Source topics the application reads do not exist; the runtime does not create user
    /// topics (Kafka Streams' `MissingSourceTopicException`).
    #[error("source topics {topics:?} do not exist; create them before starting the application")]
    MissingSourceTopics {
        /// The missing topics.
        topics: Vec<String>,
    },

    /// Topics that must be co-partitioned have different partition counts (Kafka Streams'
    /// `TopologyException` at start-up).
    #[error("co-partitioning violated: {0}")]
    CoPartitioning(String),

    /// An operation did not complete in the time it was given (Kafka's `TimeoutException`),
    /// such as a stream thread that did not stop within `remove_stream_thread_with_timeout`'s
    /// timeout.
    #[error("timed out after {waited:?}: {operation}")]
    Timeout {
        /// What did not complete.
        operation: String,
        /// How long the runtime waited.
        waited: std::time::Duration,
    },

    /// An operation that the application's current state does not allow (Kafka's
    /// `IllegalStateException`), or a failure of the runtime itself.
    #[error("illegal state: {0}")]
    IllegalState(String),
}

/// A state store error is a topology error, kept in one place ([`streams_core::Error::State`]).
impl From<streams_state::Error> for Error {
    fn from(error: streams_state::Error) -> Self {
        Error::Streams(error.into())
    }
}

impl Error {
    /// Whether this error means the thread's tasks may have moved to another group member
    /// (Kafka Streams' `TaskMigratedException`): a commit refused because the group is
    /// rebalancing or no longer knows this member, or a transaction that must be aborted.
    /// The runtime then closes the tasks without committing and rejoins the group instead of
    /// failing the thread.
    pub fn is_task_migrated(&self) -> bool {
        use rdkafka::error::KafkaError;
        use rdkafka::types::RDKafkaErrorCode as Code;
        let migrated = |code: Code| {
            matches!(
                code,
                Code::RebalanceInProgress
                    | Code::IllegalGeneration
                    | Code::UnknownMemberId
                    | Code::FencedInstanceId
            )
        };
        match self {
            Error::Kafka {
                source: KafkaError::ConsumerCommit(code),
                ..
            } => migrated(*code),
            Error::Kafka {
                source: KafkaError::Transaction(error),
                ..
            } => !error.is_fatal() && (error.txn_requires_abort() || migrated(error.code())),
            _ => false,
        }
    }

    /// A Kafka client error, with what the runtime was doing.
    pub(crate) fn kafka(operation: impl Into<String>, source: rdkafka::error::KafkaError) -> Self {
        Error::Kafka {
            operation: operation.into(),
            source,
        }
    }
}

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::error::KafkaError;
    use rdkafka::types::RDKafkaErrorCode;

    #[test]
    fn commit_refusals_of_a_rebalancing_group_are_task_migrations() {
        let commit = |code| Error::kafka("committing", KafkaError::ConsumerCommit(code));
        assert!(commit(RDKafkaErrorCode::RebalanceInProgress).is_task_migrated());
        assert!(commit(RDKafkaErrorCode::UnknownMemberId).is_task_migrated());
        assert!(commit(RDKafkaErrorCode::IllegalGeneration).is_task_migrated());
        assert!(!commit(RDKafkaErrorCode::MessageSizeTooLarge).is_task_migrated());
        assert!(!Error::IllegalState("x".into()).is_task_migrated());
        let flush = Error::kafka(
            "flushing",
            KafkaError::Flush(RDKafkaErrorCode::RequestTimedOut),
        );
        assert!(!flush.is_task_migrated());
    }
}
