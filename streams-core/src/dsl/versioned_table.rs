//! Versioned source tables: a table materialized in a versioned store
//! (`Materialized::as_versioned`), Kafka Streams' `KTableSource` over a versioned store (KIP-914).
//!
//! Each record is written as a version of its key at the record's timestamp and forwarded
//! downstream as a table update, with the key's latest value (before it) as old value. An
//! update older than the key's latest version goes into the key's history — where stream-table
//! joins find it when they look a stream record up *as of* its timestamp — and is forwarded
//! marked as not the latest (KIP-914): `to_stream`, `filter` and `map_values` pass it on, while
//! aggregations (`group_by`), table-table and foreign-key joins drop it, so that they only see
//! the latest values. A write older than the store's history retention is dropped altogether. Versioned stores have no record
//! cache: every update is forwarded as it happens.

use std::sync::Arc;

use super::change::Change;
use crate::error::Result;
use crate::processor::{Data, Processor, ProcessorContext};
use crate::record::Record;
use crate::serde::Serde;
use crate::state::{initialized, VersionedKeyValueStoreRef};

/// The source processor of a versioned table; see the [module docs](self).
pub(crate) struct VersionedTableSource<K, V> {
    store_name: Arc<str>,
    keys: Arc<dyn Serde<K>>,
    values: Arc<dyn Serde<V>>,
    store: Option<VersionedKeyValueStoreRef<K, V>>,
}

impl<K: Data, V: Data> VersionedTableSource<K, V> {
    /// The source writing the versioned store `store_name`, not yet connected.
    pub(crate) fn new(
        store_name: Arc<str>,
        keys: Arc<dyn Serde<K>>,
        values: Arc<dyn Serde<V>>,
    ) -> Self {
        VersionedTableSource {
            store_name,
            keys,
            values,
            store: None,
        }
    }
}

impl<K: Data, V: Data> Processor<K, Option<V>, K, Change<V>> for VersionedTableSource<K, V> {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, Change<V>>) -> Result<()> {
        let store = ctx.versioned_store_shared(
            &self.store_name,
            Arc::clone(&self.keys),
            Arc::clone(&self.values),
        )?;
        self.store = Some(store);
        ctx.has_no_cache(&self.store_name);
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<K, Option<V>>,
        ctx: &mut ProcessorContext<'_, K, Change<V>>,
    ) -> Result<()> {
        if self.keys.is_null(&record.key) {
            tracing::warn!(
                processor = ctx.node_name(),
                "skipping table record due to null key"
            );
            return Ok(());
        }
        let store = initialized(&self.store, &self.store_name)?;
        let key = store.key_bytes(&record.key)?;
        let old = store.get_raw(&key)?;
        if let Some(old) = &old {
            if record.timestamp < old.timestamp {
                tracing::debug!(store = %self.store_name, old_timestamp = old.timestamp,
                    new_timestamp = record.timestamp,
                    "out-of-order table update: written to the history, forwarded as not the latest");
            }
        }
        let code = store.put_raw(&key, record.value.as_ref(), record.timestamp)?;
        if code == streams_state::PUT_RETURN_CODE_NOT_PUT {
            // Older than the history retention: neither stored nor forwarded.
            return Ok(());
        }
        let is_latest = code == streams_state::PUT_RETURN_CODE_VALID_TO_UNDEFINED;
        let mut record = record;
        let new = record.value.take();
        // As Kafka's `KTableSource`: the old value is the key's latest, whatever this one's time.
        ctx.forward(record.with_value(Change::new(new, old.map(|r| r.value)).latest(is_latest)))
    }
}
