//! A task's stores as the task and the runtime manage them, whatever their kind: flushed at a
//! commit, restored from their changelogs, closed with the task.
//!
//! A [`StoreHandle`] is one of a task's stores, like the `StateStore`s Kafka Streams'
//! `ProcessorStateManager` registers; [`GlobalStores`] are the stores of the global
//! sub-topologies, like those of Kafka's `GlobalStateManager`. Typed access goes through
//! [`access`](super::access).

use std::sync::Arc;

use streams_state::{
    KeyValueStack, SessionStack, TimestampedKeyValueStack, VersionedStack, WindowStack,
};

use super::{lock, Shared};
use crate::error::{Error, Result};

/// The global stores of an application instance by name (Kafka's `GlobalStateManager` stores):
/// filled by the global sub-topologies, read by every task of every stream thread. Their
/// handles lock per call, so a stream thread's read and the global thread's write never
/// overlap.
pub type GlobalStores = Arc<std::collections::HashMap<String, StoreHandle>>;

/// One of a task's stores, of whichever kind.
#[derive(Clone)]
pub enum StoreHandle {
    /// A key-value store.
    KeyValue(Shared<KeyValueStack>),
    /// A key-value store whose values carry a timestamp (tables, aggregations).
    Timestamped(Shared<TimestampedKeyValueStack>),
    /// A window store.
    Window(Shared<WindowStack>),
    /// A window store whose values carry a timestamp (windowed aggregations).
    TimestampedWindow(Shared<WindowStack>),
    /// A session store.
    Session(Shared<SessionStack>),
    /// A versioned key-value store (a versioned table's, KIP-889).
    Versioned(Shared<VersionedStack>),
}

/// Evaluates `$body` with `$store` bound to the handle's store stack, locked, whatever its kind:
/// what the kind-independent operations share.
macro_rules! with_locked {
    ($handle:expr, |$store:ident| $body:expr) => {
        match $handle {
            StoreHandle::KeyValue(s) => {
                let mut guard = lock(s);
                let $store = &mut *guard;
                $body
            }
            StoreHandle::Timestamped(s) => {
                let mut guard = lock(s);
                let $store = &mut *guard;
                $body
            }
            StoreHandle::Window(s) | StoreHandle::TimestampedWindow(s) => {
                let mut guard = lock(s);
                let $store = &mut *guard;
                $body
            }
            StoreHandle::Session(s) => {
                let mut guard = lock(s);
                let $store = &mut *guard;
                $body
            }
            StoreHandle::Versioned(s) => {
                let mut guard = lock(s);
                let $store = &mut *guard;
                $body
            }
        }
    };
}

impl StoreHandle {
    /// Flushes the store durably: what its record cache holds, its changelog writes and its
    /// own files.
    pub fn flush(&self) -> Result<()> {
        Ok(with_locked!(self, |store| store.flush())?)
    }

    /// Writes what the store's record cache holds through to the store and its changelog,
    /// without making the store durable: the part of a flush every commit does. A no-op for a
    /// store without a cache.
    pub(crate) fn flush_cache(&self) -> Result<()> {
        with_locked!(self, |store| match store.cache() {
            Some(cache) => Ok(cache.flush_cache()?),
            None => Ok(()),
        })
    }

    /// Closes the store; later calls fail with a closed store.
    pub fn close(&self) -> Result<()> {
        Ok(with_locked!(self, |store| store.close())?)
    }

    /// Applies changelog records while restoring (without logging them again).
    pub fn restore_batch(&self, records: &[streams_state::ChangelogRecord]) -> Result<()> {
        Ok(with_locked!(self, |store| store.restore_batch(records))?)
    }

    /// Whether the store keeps its contents on disk (only those are checkpointed).
    pub fn persistent(&self) -> bool {
        with_locked!(self, |store| store.persistent())
    }

    /// Whether the store is still open.
    pub fn is_open(&self) -> bool {
        with_locked!(self, |store| store.is_open())
    }

    /// Which kind of store this is.
    pub fn kind(&self) -> StoreKind {
        match self {
            StoreHandle::KeyValue(_) => StoreKind::KeyValue,
            StoreHandle::Timestamped(_) => StoreKind::TimestampedKeyValue,
            StoreHandle::Window(_) => StoreKind::Window,
            StoreHandle::TimestampedWindow(_) => StoreKind::TimestampedWindow,
            StoreHandle::Session(_) => StoreKind::Session,
            StoreHandle::Versioned(_) => StoreKind::Versioned,
        }
    }

    pub(crate) fn wrong_kind(&self, name: &str, wanted: &str) -> Error {
        Error::InvalidArgument(format!(
            "store `{name}` is a {} store, not a {wanted} store",
            self.kind()
        ))
    }
}

/// The kind of a state store, as its [`StoreHandle`] says: which typed handle reads it (the
/// test driver's `get_key_value_store`, `get_window_store`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// A key-value store (Kafka's `KeyValueStore`).
    KeyValue,
    /// A key-value store whose values carry a timestamp: a table's or an aggregation's (Kafka's
    /// `TimestampedKeyValueStore`).
    TimestampedKeyValue,
    /// A window store (Kafka's `WindowStore`).
    Window,
    /// A window store whose values carry a timestamp: a windowed aggregation's (Kafka's
    /// `TimestampedWindowStore`).
    TimestampedWindow,
    /// A session store (Kafka's `SessionStore`).
    Session,
    /// A versioned key-value store: every key's values by timestamp (Kafka's
    /// `VersionedKeyValueStore`).
    Versioned,
}

impl std::fmt::Display for StoreKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StoreKind::KeyValue => "key-value",
            StoreKind::TimestampedKeyValue => "timestamped key-value",
            StoreKind::Window => "window",
            StoreKind::TimestampedWindow => "timestamped window",
            StoreKind::Session => "session",
            StoreKind::Versioned => "versioned key-value",
        })
    }
}
