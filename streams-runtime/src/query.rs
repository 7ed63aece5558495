//! Interactive queries: reading an instance's part of a state store from outside the stream
//! threads, like the `ReadOnlyKeyValueStore` that Kafka's `KafkaStreams::store` returns.

use std::sync::Arc;

use streams_core::internals::{access, KeyValueStoreRef};
use streams_core::serde::Serde;

use crate::error::{Error, Result};
use crate::instance::Runtime;

/// Read access to the part of a key-value store held by one instance's tasks, like the
/// `ReadOnlyKeyValueStore` of Kafka's interactive queries. Each call looks at the tasks the
/// instance runs at that moment; during a rebalance a call may fail with a closed store (retry).
pub struct LocalKeyValueStore<K, V> {
    pub(crate) runtime: Arc<Runtime>,
    pub(crate) name: String,
    pub(crate) keys: Arc<dyn Serde<K>>,
    pub(crate) values: Arc<dyn Serde<V>>,
}

impl<K: 'static, V: 'static> LocalKeyValueStore<K, V> {
    /// The value of `key`, if a local task holds it.
    pub fn get(&self, key: &K) -> Result<Option<V>> {
        for store in self.stores()? {
            if let Some(found) = store.get(key)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// Every entry held locally (task by task, each in key order).
    pub fn all(&self) -> Result<Vec<(K, V)>> {
        let mut entries = Vec::new();
        for store in self.stores()? {
            entries.extend(store.all()?);
        }
        Ok(entries)
    }

    /// The local instances of the store, typed (a table's store read without timestamps).
    fn stores(&self) -> Result<Vec<KeyValueStoreRef<K, V>>> {
        self.runtime
            .store_handles(&self.name)
            .iter()
            .map(|handle| {
                access::key_value(
                    &self.name,
                    handle,
                    Arc::clone(&self.keys),
                    Arc::clone(&self.values),
                )
                .map_err(Error::from)
            })
            .collect()
    }
}
