//! The crate's single error type.
//!
//! Every fallible operation in the broker returns [`Result`]. Errors carry the context an
//! operator needs to act on them: the topic, partition, offset, file or configuration key
//! involved. Errors that a *client* caused (bad requests, unknown topics) are not surfaced
//! here but translated into Kafka error codes in the response; this type is for the
//! broker's own operations (start-up, disk I/O, administration through the embedded API).

use std::path::PathBuf;

/// Everything that can go wrong inside the broker.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory operation failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A socket operation failed (binding the listener, for instance).
    #[error("network error on {addr}: {source}")]
    Network {
        /// The address involved.
        addr: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A broker config file could not be read or holds a bad property.
    #[error("config file {path}: {reason}")]
    ConfigFile {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// A configuration key is not known to the broker.
    #[error("unknown configuration key `{key}`")]
    UnknownConfig {
        /// The key as given.
        key: String,
    },
    /// A configuration value could not be parsed or is out of range.
    #[error("invalid value `{value}` for configuration `{key}`: {reason}")]
    InvalidConfig {
        /// The key as given.
        key: String,
        /// The value as given.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A topic name is not legal in Kafka (characters, length).
    #[error("invalid topic name `{topic}`: {reason}")]
    InvalidTopic {
        /// The name as given.
        topic: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The topic exists already.
    #[error("topic `{topic}` already exists")]
    TopicExists {
        /// The topic.
        topic: String,
    },
    /// A topic cannot get the partition count asked for (`CreatePartitions`).
    #[error("invalid partition count for topic `{topic}`: {reason}")]
    InvalidPartitions {
        /// The topic.
        topic: String,
        /// Why the count was rejected.
        reason: String,
    },
    /// The topic does not exist.
    #[error("topic `{topic}` does not exist")]
    UnknownTopic {
        /// The topic.
        topic: String,
    },
    /// A record batch failed validation (size, magic, CRC).
    #[error("corrupt record batch at byte {position}: {reason}")]
    CorruptBatch {
        /// Byte position of the batch in the buffer or file.
        position: u64,
        /// What was wrong with it.
        reason: String,
    },
    /// Records that break a rule, like Kafka's `InvalidRecordException`: a batch whose
    /// records do not match its header or do not parse, or a record without a key sent to a
    /// compacted topic. Answered with `INVALID_RECORD`.
    #[error("invalid records for {topic}-{partition}: {reason}")]
    InvalidRecord {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The position of each offending record within its batch (Kafka's `batch_index`);
        /// empty when the batch as a whole is refused.
        record_indexes: Vec<i32>,
        /// What is wrong with them.
        reason: String,
    },
    /// A batch or request exceeds a configured size limit.
    #[error("record batch of {size} bytes exceeds max.message.bytes={limit}")]
    BatchTooLarge {
        /// The size of the batch.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The requested offset lies outside the partition's log.
    #[error("offset {offset} is out of range [{log_start}, {log_end}] for {topic}-{partition}")]
    OffsetOutOfRange {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The offset asked for.
        offset: i64,
        /// The first offset still in the log.
        log_start: i64,
        /// The next offset to be written.
        log_end: i64,
    },
    /// Creating partitions would take more open files than the process may have.
    #[error(
        "creating {partitions} partitions of `{topic}` needs about {needed} more open files, but {open} of the limit of {limit} are in use; raise the broker's open-file limit (ulimit -n)"
    )]
    OpenFileLimit {
        /// The topic being created.
        topic: String,
        /// Its partitions.
        partitions: i32,
        /// The files they would open.
        needed: u64,
        /// Files open now.
        open: u64,
        /// The process's limit.
        limit: u64,
    },
    /// Persisted broker metadata could not be understood.
    #[error("corrupt metadata file {path}: {reason}")]
    CorruptMetadata {
        /// The file.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
    /// Another running broker already uses the data directory.
    #[error(
        "data directory {path} is in use by process {pid}; stop it or remove the stale lock file"
    )]
    DataDirLocked {
        /// The lock file.
        path: PathBuf,
        /// The process holding it.
        pid: u32,
    },
    /// A producer's batch was refused by the partition's producer state (sequence, epoch or
    /// transaction checks).
    #[error("{topic}-{partition}: {source}")]
    Producer {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// What the producer did wrong.
        source: ProducerError,
    },
    /// Persisted transaction coordinator state could not be written.
    #[error("transaction state {path}: {reason}")]
    TransactionState {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Offsets could not be committed for a group (the Kafka error code says why, for
    /// example `OFFSET_METADATA_TOO_LARGE` or `COORDINATOR_NOT_AVAILABLE` when
    /// `__consumer_offsets` could not be written).
    #[error("committing offsets for group `{group}` failed with Kafka error code {code}")]
    OffsetCommitFailed {
        /// The group.
        group: String,
        /// The Kafka error code.
        code: i16,
    },
    /// The broker has been shut down or its runtime is gone.
    #[error("the broker is not running")]
    Stopped,
    /// A SASL exchange failed: bad credentials, an unknown user or a malformed message.
    #[error("{mechanism} authentication failed: {reason}")]
    Authentication {
        /// The SASL mechanism (`SCRAM-SHA-256`, `PLAIN`, …).
        mechanism: String,
        /// Why, as the client may be told it.
        reason: String,
    },
    /// A SCRAM credential that cannot be stored (too few iterations, unknown mechanism).
    #[error("invalid SCRAM credential for user {user}: {reason}")]
    InvalidCredential {
        /// The user.
        user: String,
        /// What is wrong.
        reason: String,
    },
}

/// Why a producer's batch was refused; each maps to the Kafka error code of the same name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProducerError {
    /// The batch's first sequence does not follow the last one appended.
    #[error("out-of-order sequence {sequence} from producer {producer_id} epoch {epoch}: expected {expected}")]
    OutOfOrderSequence {
        /// The producer.
        producer_id: i64,
        /// The batch's epoch.
        epoch: i16,
        /// The batch's first sequence.
        sequence: i32,
        /// The sequence that would have been in order.
        expected: i32,
    },
    /// The batch's epoch is older than the producer's current epoch (a fenced zombie).
    #[error("producer {producer_id} epoch {epoch} is older than the current epoch {current}")]
    InvalidProducerEpoch {
        /// The producer.
        producer_id: i64,
        /// The batch's epoch.
        epoch: i16,
        /// The epoch the partition knows.
        current: i16,
    },
    /// A transactional batch where no transaction is open, or the reverse.
    #[error("invalid transaction state for producer {producer_id}: {reason}")]
    InvalidTxnState {
        /// The producer.
        producer_id: i64,
        /// What was wrong.
        reason: String,
    },
    /// Control batches (transaction markers) are written by the coordinator only.
    #[error("control batches are not accepted from clients")]
    ControlBatchFromClient,
}

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Names the partition in an [`Error::InvalidRecord`] found before it was known.
    pub(crate) fn in_partition(self, topic: &str, partition: i32) -> Self {
        match self {
            Error::InvalidRecord {
                record_indexes,
                reason,
                ..
            } => Error::InvalidRecord {
                topic: topic.to_string(),
                partition,
                record_indexes,
                reason,
            },
            other => other,
        }
    }

    /// A [`Error::CorruptBatch`] found at `position` (in a request or a segment file).
    pub(crate) fn corrupt_batch(position: u64, reason: impl Into<String>) -> Self {
        Error::CorruptBatch {
            position,
            reason: reason.into(),
        }
    }
}

/// The result type of every fallible broker operation.
pub type Result<T> = std::result::Result<T, Error>;
