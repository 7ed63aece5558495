//! The stores a topology declares, like Kafka Streams' `StoreBuilder`s: which kind, name,
//! backend, changelogging and caching. Each task builds its own instance of each.

use std::sync::{Arc, Mutex};

use super::handle::StoreHandle;
use crate::error::Result;

/// A store a topology declares: which kind, its name, backend, changelogging and caching. Each
/// task builds its own instance from it. Wraps the builders of `streams-state`.
#[derive(Clone)]
pub enum StoreBuilder {
    /// A key-value store.
    KeyValue(streams_state::KeyValueStoreBuilder),
    /// A timestamped key-value store (what tables materialize into).
    TimestampedKeyValue(streams_state::TimestampedKeyValueStoreBuilder),
    /// A window store.
    Window(streams_state::WindowStoreBuilder),
    /// A window store whose values carry the timestamp of their last update, as windowed
    /// aggregations keep them (Kafka's `TimestampedWindowStore`).
    TimestampedWindow(streams_state::WindowStoreBuilder),
    /// A session store.
    Session(streams_state::SessionStoreBuilder),
    /// A versioned key-value store (never cached).
    Versioned(streams_state::VersionedKeyValueStoreBuilder),
}

impl StoreBuilder {
    /// The store's name.
    pub fn name(&self) -> &str {
        match self {
            StoreBuilder::KeyValue(b) => b.name(),
            StoreBuilder::TimestampedKeyValue(b) => b.name(),
            StoreBuilder::Window(b) | StoreBuilder::TimestampedWindow(b) => b.name(),
            StoreBuilder::Session(b) => b.name(),
            StoreBuilder::Versioned(b) => b.name(),
        }
    }

    /// The store's changelog topic in application `application_id`, unless logging is disabled.
    pub fn changelog_topic(&self, application_id: &str) -> Option<String> {
        match self {
            StoreBuilder::KeyValue(b) => b.changelog_topic(application_id),
            StoreBuilder::TimestampedKeyValue(b) => b.changelog_topic(application_id),
            StoreBuilder::Window(b) | StoreBuilder::TimestampedWindow(b) => {
                b.changelog_topic(application_id)
            }
            StoreBuilder::Session(b) => b.changelog_topic(application_id),
            StoreBuilder::Versioned(b) => b.changelog_topic(application_id),
        }
    }

    /// The topic configs the store's changelog is created with, over the runtime's own (Kafka's
    /// `withLoggingEnabled(Map)`).
    pub fn changelog_configs(&self) -> &[(String, String)] {
        match self {
            StoreBuilder::KeyValue(b) => b.changelog_configs(),
            StoreBuilder::TimestampedKeyValue(b) => b.changelog_configs(),
            StoreBuilder::Window(b) | StoreBuilder::TimestampedWindow(b) => b.changelog_configs(),
            StoreBuilder::Session(b) => b.changelog_configs(),
            StoreBuilder::Versioned(b) => b.changelog_configs(),
        }
    }

    /// The same store without a changelog.
    pub(crate) fn with_logging_disabled(self) -> Self {
        match self {
            StoreBuilder::KeyValue(b) => StoreBuilder::KeyValue(b.with_logging_disabled()),
            StoreBuilder::TimestampedKeyValue(b) => {
                StoreBuilder::TimestampedKeyValue(b.with_logging_disabled())
            }
            StoreBuilder::Window(b) => StoreBuilder::Window(b.with_logging_disabled()),
            StoreBuilder::TimestampedWindow(b) => {
                StoreBuilder::TimestampedWindow(b.with_logging_disabled())
            }
            StoreBuilder::Session(b) => StoreBuilder::Session(b.with_logging_disabled()),
            StoreBuilder::Versioned(b) => StoreBuilder::Versioned(b.with_logging_disabled()),
        }
    }

    /// The same store without a record cache (window and session stores have none anyway).
    pub(crate) fn with_caching_disabled(self) -> Self {
        match self {
            StoreBuilder::KeyValue(b) => StoreBuilder::KeyValue(b.with_caching_disabled()),
            StoreBuilder::TimestampedKeyValue(b) => {
                StoreBuilder::TimestampedKeyValue(b.with_caching_disabled())
            }
            other => other,
        }
    }

    /// Whether the store gets a record cache (sized by the task's share of
    /// `statestore.cache.max.bytes`, or its own explicit size).
    pub fn caching_enabled(&self) -> bool {
        match self {
            StoreBuilder::KeyValue(b) => b.caching_enabled(),
            StoreBuilder::TimestampedKeyValue(b) => b.caching_enabled(),
            StoreBuilder::Window(b) | StoreBuilder::TimestampedWindow(b) => b.caching_enabled(),
            StoreBuilder::Session(b) => b.caching_enabled(),
            StoreBuilder::Versioned(_) => false,
        }
    }

    /// For window and session stores, how long their changelog must keep records
    /// (`retention.ms` of a `compact,delete` changelog); `None` for key-value stores, whose
    /// changelogs are only compacted.
    pub(crate) fn changelog_retention_ms(&self) -> Option<i64> {
        match self {
            StoreBuilder::KeyValue(_)
            | StoreBuilder::TimestampedKeyValue(_)
            | StoreBuilder::Versioned(_) => None,
            StoreBuilder::Window(b) | StoreBuilder::TimestampedWindow(b) => Some(b.retention_ms()),
            StoreBuilder::Session(b) => Some(b.retention_ms()),
        }
    }

    /// For a versioned store, its history retention, which its changelog's compaction must
    /// respect; `None` for the other kinds.
    pub(crate) fn history_retention_ms(&self) -> Option<i64> {
        match self {
            StoreBuilder::Versioned(b) => Some(b.history_retention_ms()),
            _ => None,
        }
    }

    pub(crate) fn build(&self, ctx: &streams_state::StoreContext) -> Result<StoreHandle> {
        Ok(match self {
            StoreBuilder::KeyValue(b) => StoreHandle::KeyValue(Arc::new(Mutex::new(b.build(ctx)?))),
            StoreBuilder::TimestampedKeyValue(b) => {
                StoreHandle::Timestamped(Arc::new(Mutex::new(b.build(ctx)?)))
            }
            StoreBuilder::Window(b) => StoreHandle::Window(Arc::new(Mutex::new(b.build(ctx)?))),
            StoreBuilder::TimestampedWindow(b) => {
                StoreHandle::TimestampedWindow(Arc::new(Mutex::new(b.build(ctx)?)))
            }
            StoreBuilder::Session(b) => StoreHandle::Session(Arc::new(Mutex::new(b.build(ctx)?))),
            StoreBuilder::Versioned(b) => {
                StoreHandle::Versioned(Arc::new(Mutex::new(b.build(ctx)?)))
            }
        })
    }
}

impl From<streams_state::KeyValueStoreBuilder> for StoreBuilder {
    fn from(builder: streams_state::KeyValueStoreBuilder) -> Self {
        StoreBuilder::KeyValue(builder)
    }
}

impl From<streams_state::TimestampedKeyValueStoreBuilder> for StoreBuilder {
    fn from(builder: streams_state::TimestampedKeyValueStoreBuilder) -> Self {
        StoreBuilder::TimestampedKeyValue(builder)
    }
}

impl From<streams_state::WindowStoreBuilder> for StoreBuilder {
    fn from(builder: streams_state::WindowStoreBuilder) -> Self {
        StoreBuilder::Window(builder)
    }
}

impl From<streams_state::VersionedKeyValueStoreBuilder> for StoreBuilder {
    fn from(builder: streams_state::VersionedKeyValueStoreBuilder) -> Self {
        StoreBuilder::Versioned(builder)
    }
}

impl From<streams_state::SessionStoreBuilder> for StoreBuilder {
    fn from(builder: streams_state::SessionStoreBuilder) -> Self {
        StoreBuilder::Session(builder)
    }
}
