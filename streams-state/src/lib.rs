//! # streams-state
//!
//! State stores for Rill applications: the counterpart of Kafka Streams'
//! `org.apache.kafka.streams.state` package. This crate knows nothing of Kafka: stores work on
//! bytes, and write their changes through a small [`ChangelogWriter`] trait that the runtime
//! implements with a producer (and the test driver with a recorder).
//!
//! The pieces, bottom up:
//!
//! - [`record`]: what stores are written with and restored from — [`ChangelogRecord`] and the
//!   shared [`RecordContext`] — at the bottom, with [`keys`] (key layouts) and small file helpers.
//! - [`store`]: the object-safe store traits over bytes — [`StateStore`] (what the runtime manages
//!   generically), [`KeyValueStore`], [`TimestampedKeyValueStore`], [`WindowStore`] and
//!   [`SessionStore`]. They know nothing of caches or changelogs.
//! - [`memory`] and [`rocks`]: the two implementations of each, in-memory (hash maps and
//!   ordered maps) and RocksDB (the default; one database per store per task, memory bounded per
//!   application by [`RocksDbResources`], writes handed to RocksDB in batches). Window and
//!   session stores are [`segmented`] by time so that retention drops whole segments.
//! - [`changelog`]: wrappers that send every write to the store's changelog topic, and
//!   [`restore`]: replaying a changelog into a store in batches, reporting progress to a
//!   [`RestoreListener`]. A [`checkpoint`] file per task directory records how far each changelog
//!   has been restored and flushed, so that a clean restart restores only the tail.
//! - [`cache`]: the record cache that dedupes consecutive updates to a key between commits, and
//!   [`window_cache`]: the same for window and session stores. Both implement [`cached`]'s
//!   [`CachedStateStore`], the only interface through which their owner takes what they flush;
//!   [`merge`] is how they (and RocksDB's held writes) read ranges over the store below.
//! - [`versioned`]: versioned key-value stores ([`VersionedKeyValueStore`], Kafka's KIP-889),
//!   which keep each key's history by timestamp for lookups *as of* a time, over the same
//!   segments as window stores, with their own changelogging wrapper.
//! - [`builder`]: store builders that assemble those layers in the right order, once per task,
//!   into a [`StoreStack`] ([`stack`]) that reaches the cache, if any.
//!
//! ```
//! use std::sync::Arc;
//! use streams_state::{KeyValueStore, KeyValueStoreBuilder, RecordingChangelogWriter, StateStore, StoreContext};
//!
//! # fn main() -> streams_state::Result<()> {
//! let changelog = Arc::new(RecordingChangelogWriter::new());
//! let ctx = StoreContext::in_memory("wordcount", "0_0", 0).with_changelog(changelog.clone());
//!
//! // An in-memory key-value store whose writes go to `wordcount-counts-changelog`.
//! let mut counts = KeyValueStoreBuilder::new("counts").in_memory().build(&ctx)?;
//! counts.put(b"hello", b"1")?;
//! counts.put(b"hello", b"2")?;
//! counts.delete(b"world")?;
//! assert_eq!(counts.get(b"hello")?, Some(b"2".to_vec()));
//!
//! let records = changelog.records("wordcount-counts-changelog", 0);
//! assert_eq!(records.len(), 3);
//! assert_eq!(records[2].value, None); // a delete is a tombstone
//!
//! // Replaying the changelog into a fresh store gives the same contents.
//! let mut restored = KeyValueStoreBuilder::new("counts")
//!     .in_memory()
//!     .with_logging_disabled()
//!     .build(&StoreContext::in_memory("wordcount", "0_0", 0))?;
//! restored.restore_batch(&records)?;
//! assert_eq!(restored.get(b"hello")?, Some(b"2".to_vec()));
//! # Ok(())
//! # }
//! ```

#![forbid(unsafe_code)]

use std::path::PathBuf;

pub mod builder;
pub mod cache;
mod cache_slots;
pub mod cached;
pub mod changelog;
pub mod checkpoint;
pub mod directory;
mod files;
pub mod keys;
pub mod memory;
pub mod merge;
pub mod record;
pub mod restore;
pub mod rocks;
pub mod segmented;
pub mod stack;
pub mod store;
pub mod timestamped;
pub mod versioned;
pub mod window_cache;

#[cfg(test)]
mod test_suite;

pub use builder::{
    KeyValueStoreBuilder, SessionStoreBuilder, StoreBackend, StoreContext,
    TimestampedKeyValueStoreBuilder, VersionedKeyValueStoreBuilder, WindowStoreBuilder,
    DEFAULT_CACHE_MAX_BYTES,
};
pub use cache::CachingKeyValueStore;
pub use cached::{CachedEntry, CachedStateStore};
pub use changelog::{
    changelog_topic_name, ChangelogWriter, ChangeloggingKeyValueStore, ChangeloggingSessionStore,
    ChangeloggingWindowStore, RecordingChangelogWriter,
};
pub use checkpoint::{OffsetCheckpoint, TopicPartition};
pub use directory::{StateDirectory, StateDirectoryLock};
pub use memory::{InMemoryKeyValueStore, InMemorySessionStore, InMemoryWindowStore};
pub use record::{ChangelogRecord, RecordContext};
pub use restore::{LoggingRestoreListener, RestoreListener, StoreRestorer};
pub use rocks::{
    RocksDbConfig, RocksDbKeyValueStore, RocksDbResources, RocksDbSessionStore, RocksDbWindowStore,
};
pub use stack::{
    CachingLayer, KeyValueStack, NoCache, SessionStack, StoreStack, TimestampedKeyValueStack,
    VersionedStack, WindowStack,
};
pub use store::{
    KeyValue, KeyValueIter, KeyValueStore, KeyWrite, LentValue, SessionIter, SessionKey,
    SessionStore, StateStore, TimestampedIter, TimestampedKeyValueStore, ValueAndTimestamp,
    WindowIter, WindowStore, WindowedIter, WindowedKey,
};
pub use timestamped::TimestampedKeyValueAdapter;
pub use versioned::{
    ChangeloggingVersionedStore, InMemoryVersionedStore, RocksDbVersionedStore,
    VersionedKeyValueStore, VersionedRecord, PUT_RETURN_CODE_NOT_PUT,
    PUT_RETURN_CODE_VALID_TO_UNDEFINED,
};
pub use window_cache::{CachingSessionStore, CachingWindowStore};

/// Errors raised by state stores, with the store, file or topic they concern.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A processor asked for a store that is not connected to it.
    #[error("state store `{0}` not found")]
    StoreNotFound(String),

    /// An operation was attempted on a store after [`StateStore::close`].
    #[error("state store `{store}` is closed")]
    StoreClosed {
        /// The store's name.
        store: String,
    },

    /// RocksDB reported an error.
    #[error("RocksDB error in store `{store}` at {path}: {message}")]
    RocksDb {
        /// The store's name.
        store: String,
        /// The store's database directory.
        path: PathBuf,
        /// RocksDB's message.
        message: String,
    },

    /// Another instance holds the lock of the application's state directory (Kafka's
    /// "unable to initialize state ... multiple instances running in the same state
    /// directory").
    #[error("the state directory {path} is in use by another instance of this application (in this process or another): give each instance its own state.dir")]
    StateDirectoryLocked {
        /// The locked directory, `state.dir/<application.id>`.
        path: PathBuf,
    },

    /// A file-system operation failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A checkpoint file could not be parsed.
    #[error("corrupt checkpoint file {path} (line {line}): {reason}")]
    CorruptCheckpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// The 1-based line number where parsing failed (0 for the file as a whole).
        line: usize,
        /// What was wrong.
        reason: String,
    },

    /// A changelog record could not be applied to a store during restore.
    #[error("invalid changelog record at offset {offset} for store `{store}`: {reason}")]
    InvalidChangelogRecord {
        /// The store being restored.
        store: String,
        /// The record's changelog offset.
        offset: i64,
        /// What was wrong.
        reason: String,
    },

    /// The changelog writer failed to send a record.
    #[error("failed to write to changelog {topic}-{partition}: {message}")]
    Changelog {
        /// The changelog topic.
        topic: String,
        /// The changelog partition.
        partition: i32,
        /// The writer's message.
        message: String,
    },

    /// A configuration key is unknown or its value invalid.
    #[error("invalid configuration `{key}`: {message}")]
    Config {
        /// The configuration key, as Kafka spells it where Kafka has one.
        key: String,
        /// What was wrong.
        message: String,
    },

    /// A store operation was given arguments it cannot accept.
    #[error("invalid argument for store `{store}`: {message}")]
    InvalidArgument {
        /// The store's name.
        store: String,
        /// What was wrong.
        message: String,
    },
}

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn closed(store: &str) -> Self {
        Error::StoreClosed {
            store: store.to_string(),
        }
    }
}
