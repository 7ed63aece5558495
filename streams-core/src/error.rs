//! Errors of the streams core: one enum for the crate, each variant carrying the context a user
//! needs to act on it (topic, partition, offset, node or config key). Errors of running against
//! Kafka are the runtime's (`streams-runtime`), which wraps these.

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

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;
