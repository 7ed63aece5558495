//! Typed access to a task's state stores, like Kafka Streams' `org.apache.kafka.streams.state`
//! interfaces (`KeyValueStore<K, V>`, `TimestampedKeyValueStore<K, V>`, `WindowStore<K, V>`,
//! `SessionStore<K, V>`).
//!
//! The stores themselves (`streams-state`) work on bytes; a handle here pairs one with the serdes
//! of its keys and values. A task owns its stores (a `StoreHandle` each); processors and the test
//! driver hold cheap typed handles to them, one kind per file: [`KeyValueStoreRef`] (also the
//! plain view of a table's store), [`TimestampedKeyValueStoreRef`], [`WindowStoreRef`] and
//! [`TimestampedWindowStoreRef`], [`SessionStoreRef`], [`VersionedKeyValueStoreRef`] (a
//! versioned table's, KIP-889). The mutex inside is never contended — a
//! task runs on one thread at a time — it only lets a processor keep its store handle across
//! calls.

use std::sync::{Arc, Mutex, MutexGuard};

/// Implements `Clone` for a typed handle `$handle<K, V>` field by field: its fields (codec,
/// shared store) are cheap clones whatever `K` and `V` are, which a derive would require to be
/// `Clone` themselves.
macro_rules! clone_fields {
    ($handle:ident { $($field:ident),+ }) => {
        impl<K, V> Clone for $handle<K, V> {
            fn clone(&self) -> Self {
                $handle {
                    $($field: self.$field.clone()),+
                }
            }
        }
    };
}

pub mod access;
mod builder;
mod cache;
mod codec;
mod handle;
mod key_value;
mod session;
mod stores;
mod timestamped;
mod versioned;
mod window;

pub use builder::StoreBuilder;
pub(crate) use cache::CachedRef;
pub(crate) use codec::{de, ser, store_serde_error};
pub use handle::{GlobalStores, StoreHandle, StoreKind};
pub use key_value::KeyValueStoreRef;
pub use session::SessionStoreRef;
pub use stores::{
    KeyValueBytesStoreSupplier, SessionBytesStoreSupplier, Stores, VersionedBytesStoreSupplier,
    WindowBytesStoreSupplier,
};
pub use timestamped::TimestampedKeyValueStoreRef;
pub(crate) use timestamped::{FlushedUpdate, LockedTable};
pub use versioned::{VersionedKeyValueStoreRef, VersionedRecord};
pub use window::{TimestampedWindowEntries, TimestampedWindowStoreRef, WindowStoreRef};

use crate::error::{Error, Result};

/// A store shared between its task and the handles to it: the store stack `streams-state`'s
/// builder built.
pub(crate) type Shared<S> = Arc<Mutex<S>>;

fn lock<S>(store: &Shared<S>) -> MutexGuard<'_, S> {
    // A panic in a processor while it held the lock leaves the store as the last completed call
    // left it; the task is failing anyway, so the guard is recovered rather than poisoned.
    store.lock().unwrap_or_else(|p| p.into_inner())
}

/// The store a DSL processor obtained in `init`, or an error naming it if `process` came first.
pub(crate) fn initialized<'a, S>(store: &'a Option<S>, name: &str) -> Result<&'a S> {
    store.as_ref().ok_or_else(|| Error::Store {
        store: name.to_string(),
        message: "processor used before init".into(),
    })
}
