//! Typed handles from a task's stores, checked against the kind of store each one is: what
//! `ProcessorContext`, the test driver and the runtime's interactive queries share, like Kafka Streams' `ProcessorContext#getStateStore`
//! with its cast to the store interface. A table's store may be read through the plain key-value
//! handle, and a timestamped window store through the plain window handle (values without their
//! timestamps), as Kafka's facades allow.

use std::sync::Arc;

use super::codec::{Codec, WithTimestamp, WithoutTimestamp};
use super::handle::StoreHandle;
use super::key_value::PlainOrTimestamped;
use super::{
    KeyValueStoreRef, SessionStoreRef, TimestampedKeyValueStoreRef, TimestampedWindowStoreRef,
    VersionedKeyValueStoreRef, WindowStoreRef,
};
use crate::error::Result;
use crate::serde::Serde;

/// A typed key-value handle to `handle`, a key-value store or (read without timestamps) a table's.
pub fn key_value<K: 'static, V: 'static>(
    name: &str,
    handle: &StoreHandle,
    keys: Arc<dyn Serde<K>>,
    values: Arc<dyn Serde<V>>,
) -> Result<KeyValueStoreRef<K, V>> {
    let store = match handle {
        StoreHandle::KeyValue(s) => PlainOrTimestamped::Plain(Arc::clone(s)),
        // Like Kafka's `KeyValueStoreFacade`: a table's store read as a plain one.
        StoreHandle::Timestamped(s) => PlainOrTimestamped::Timestamped(Arc::clone(s)),
        other => return Err(other.wrong_kind(name, "key-value")),
    };
    let codec = Codec::new(name, keys, values);
    Ok(KeyValueStoreRef { codec, store })
}

/// A typed handle to `handle`, a timestamped key-value store (a table's).
pub(crate) fn timestamped<K: 'static, V: 'static>(
    name: &str,
    handle: &StoreHandle,
    keys: Arc<dyn Serde<K>>,
    values: Arc<dyn Serde<V>>,
) -> Result<TimestampedKeyValueStoreRef<K, V>> {
    let StoreHandle::Timestamped(s) = handle else {
        return Err(handle.wrong_kind(name, "timestamped key-value"));
    };
    let codec = Codec::new(name, keys, values);
    Ok(TimestampedKeyValueStoreRef {
        codec,
        store: Arc::clone(s),
    })
}

/// A typed window handle to `handle`, a window store or (read-only, values without timestamps) a
/// timestamped one, like Kafka's `ReadOnlyWindowStoreFacade`; `window_size_ms` gives the windowed
/// keys it returns their end (a store keeps only window starts).
pub fn window<K: 'static, V: 'static>(
    name: &str,
    handle: &StoreHandle,
    keys: Arc<dyn Serde<K>>,
    values: Arc<dyn Serde<V>>,
    window_size_ms: i64,
) -> Result<WindowStoreRef<K, V>> {
    let (store, values) = match handle {
        StoreHandle::Window(s) => (s, values),
        // The plain view of a timestamped window store reads values without timestamps.
        StoreHandle::TimestampedWindow(s) => {
            (s, Arc::new(WithoutTimestamp(values)) as Arc<dyn Serde<V>>)
        }
        other => return Err(other.wrong_kind(name, "window")),
    };
    Ok(WindowStoreRef {
        codec: Codec::new(name, keys, values),
        store: Arc::clone(store),
        window_size_ms,
    })
}

/// A typed handle to `handle`, a timestamped window store.
pub(crate) fn timestamped_window<K: 'static, V: 'static>(
    name: &str,
    handle: &StoreHandle,
    keys: Arc<dyn Serde<K>>,
    values: Arc<dyn Serde<V>>,
    window_size_ms: i64,
) -> Result<TimestampedWindowStoreRef<K, V>> {
    let StoreHandle::TimestampedWindow(s) = handle else {
        return Err(handle.wrong_kind(name, "timestamped window"));
    };
    let codec = Codec::new(name, keys, Arc::new(WithTimestamp(values)));
    Ok(TimestampedWindowStoreRef {
        inner: WindowStoreRef {
            codec,
            store: Arc::clone(s),
            window_size_ms,
        },
    })
}

/// A typed handle to `handle`, a versioned key-value store.
pub fn versioned<K: 'static, V: 'static>(
    name: &str,
    handle: &StoreHandle,
    keys: Arc<dyn Serde<K>>,
    values: Arc<dyn Serde<V>>,
) -> Result<VersionedKeyValueStoreRef<K, V>> {
    let StoreHandle::Versioned(s) = handle else {
        return Err(handle.wrong_kind(name, "versioned key-value"));
    };
    Ok(VersionedKeyValueStoreRef {
        codec: Codec::new(name, keys, values),
        store: Arc::clone(s),
    })
}

/// A typed handle to `handle`, a session store.
pub fn session<K: 'static, V: 'static>(
    name: &str,
    handle: &StoreHandle,
    keys: Arc<dyn Serde<K>>,
    values: Arc<dyn Serde<V>>,
) -> Result<SessionStoreRef<K, V>> {
    let StoreHandle::Session(s) = handle else {
        return Err(handle.wrong_kind(name, "session"));
    };
    let codec = Codec::new(name, keys, values);
    Ok(SessionStoreRef {
        codec,
        store: Arc::clone(s),
    })
}
