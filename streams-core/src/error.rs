//! Errors of the streams core: one enum for the crate, each variant carrying the context a user
//! needs to act on it (topic, partition, offset, node or config key).

use crate::serde::SerdeError;

/// Everything that can go wrong while building or running a topology.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A record read from a topic could not be deserialized.
    #[error("failed to deserialize {part} of record at {topic}-{partition}@{offset}: {source}")]
    Deserialization {
        /// The topic the record came from.
        topic: String,
        /// The partition the record came from.
        partition: i32,
        /// The record's offset.
        offset: i64,
        /// `"key"` or `"value"`.
        part: &'static str,
        /// What the serde reported.
        #[source]
        source: SerdeError,
    },

    /// A record could not be serialized on its way to a topic.
    #[error("failed to serialize {part} of record for topic `{topic}` in node `{node}`: {source}")]
    Serialization {
        /// The destination topic.
        topic: String,
        /// The sink node that serialized it.
        node: String,
        /// `"key"` or `"value"`.
        part: &'static str,
        /// What the serde reported.
        #[source]
        source: SerdeError,
    },

    /// A record carries a timestamp that stream time cannot use (negative), like Kafka's
    /// `FailOnInvalidTimestamp`.
    #[error("record at {topic}-{partition}@{offset} has invalid timestamp {timestamp}; timestamps must be >= 0")]
    InvalidTimestamp {
        /// The topic the record came from.
        topic: String,
        /// The partition the record came from.
        partition: i32,
        /// The record's offset.
        offset: i64,
        /// The offending timestamp.
        timestamp: i64,
    },

    /// The topology is not valid; found by `StreamsBuilder::build`.
    #[error("invalid topology: {0}")]
    InvalidTopology(String),

    /// A processor failed while handling a record or a punctuation.
    #[error("processor `{node}` failed: {source}")]
    Processor {
        /// The node whose processor failed.
        node: String,
        /// The processor's own error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// A processor forwarded to a child it does not have.
    #[error("node `{node}` has no child named `{child}`")]
    UnknownChild {
        /// The forwarding node.
        node: String,
        /// The requested child.
        child: String,
    },

    /// A record was sent to a topic that no source of the topology reads.
    #[error("topic `{0}` is not a source topic of this topology")]
    UnknownTopic(String),

    /// A configuration key is unknown or its value is invalid.
    #[error("invalid configuration `{key}` = `{value}`: {reason}")]
    Config {
        /// The property name, as Kafka spells it.
        key: String,
        /// The rejected value.
        value: String,
        /// Why it was rejected.
        reason: String,
    },

    /// An argument passed to the API is out of range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// A typed store operation failed (for example a key or value did not convert).
    #[error("state store `{store}`: {message}")]
    Store {
        /// The store's name.
        store: String,
        /// What went wrong.
        message: String,
    },

    /// A state store error.
    #[error(transparent)]
    State(#[from] streams_state::Error),

    /// A Kafka client operation of the runtime failed.
    #[error("{operation}: {source}")]
    Kafka {
        /// What the runtime was doing, with the topic or partition involved.
        operation: String,
        /// What librdkafka reported.
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

    /// An operation that the application's current state does not allow (Kafka's
    /// `IllegalStateException`), or a failure of the runtime itself.
    #[error("illegal state: {0}")]
    IllegalState(String),
}

impl Error {
    /// Wraps an error raised by user code in a processor. The node name is filled in by the
    /// runtime when the error leaves the processor.
    pub fn processor<E>(source: E) -> Self
    where
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        Error::Processor {
            node: String::new(),
            source: source.into(),
        }
    }

    /// Attaches the failing node's name to a processor error that does not carry one yet.
    pub(crate) fn in_node(self, name: &str) -> Self {
        match self {
            Error::Processor { node, source } if node.is_empty() => Error::Processor {
                node: name.to_string(),
                source,
            },
            other => other,
        }
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
