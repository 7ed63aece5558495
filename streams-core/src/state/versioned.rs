//! The typed versioned key-value store handle, like Kafka Streams' `VersionedKeyValueStore<K, V>`
//! (KIP-889): each key's values by timestamp, read as the latest or *as of* a time.

use streams_state::VersionedStack;

use super::codec::Codec;
use super::{lock, Shared};
use crate::error::Result;

/// One version of a key's value, typed (Kafka's `VersionedRecord<V>`): valid from `timestamp`
/// until `valid_to` (exclusive), which is `None` for the key's latest version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionedRecord<V> {
    /// The value.
    pub value: V,
    /// When the version became valid.
    pub timestamp: i64,
    /// When the next version replaced it; `None` for the latest.
    pub valid_to: Option<i64>,
}

/// A typed versioned key-value store, like Kafka's `VersionedKeyValueStore<K, V>`: each key's
/// values by timestamp, read as the latest or *as of* a time. Writes return Kafka's codes: the
/// new version's `valid_to`,
/// [`PUT_RETURN_CODE_VALID_TO_UNDEFINED`](streams_state::PUT_RETURN_CODE_VALID_TO_UNDEFINED)
/// (`-1`) when it is the latest, or
/// [`PUT_RETURN_CODE_NOT_PUT`](streams_state::PUT_RETURN_CODE_NOT_PUT) when it is older than
/// the history retention allows.
///
/// ```
/// use std::time::Duration;
/// use streams_core::prelude::*;
/// use streams_core::state::{Stores, VersionedRecord};
///
/// // A versioned table: `get_as_of` answers what a key held at a point in time.
/// let builder = StreamsBuilder::new();
/// builder.table(
///     "prices",
///     Consumed::with(Serdes::string(), Serdes::i64()),
///     Materialized::as_versioned(Stores::persistent_versioned_key_value_store(
///         "prices",
///         Duration::from_secs(600),
///     )),
/// );
/// let driver = TopologyTestDriver::new(builder.build()?)?;
/// let input = driver.create_input_topic("prices", Serdes::string(), Serdes::i64());
/// input.pipe_input_with_timestamp("apple", 3, 1_000);
/// input.pipe_input_with_timestamp("apple", 5, 3_000);
/// input.pipe_input_with_timestamp("apple", 4, 2_000); // out of order: history only
/// let prices = driver.get_versioned_key_value_store("prices", Serdes::string(), Serdes::i64())?;
/// let key = "apple".to_string();
/// assert_eq!(prices.get(&key)?, Some(VersionedRecord { value: 5, timestamp: 3_000, valid_to: None }));
/// assert_eq!(
///     prices.get_as_of(&key, 2_500)?,
///     Some(VersionedRecord { value: 4, timestamp: 2_000, valid_to: Some(3_000) })
/// );
/// assert_eq!(prices.get_as_of(&key, 999)?, None);
/// # Ok::<(), streams_core::Error>(())
/// ```
pub struct VersionedKeyValueStoreRef<K, V> {
    pub(super) codec: Codec<K, V>,
    pub(super) store: Shared<VersionedStack>,
}

clone_fields!(VersionedKeyValueStoreRef { codec, store });

impl<K: 'static, V: 'static> VersionedKeyValueStoreRef<K, V> {
    /// The store's name.
    pub fn name(&self) -> &str {
        &self.codec.name
    }

    /// Adds the version `value` of `key` at `timestamp` (Kafka's `put`); see the type docs for
    /// what it returns.
    pub fn put(&self, key: &K, value: &V, timestamp: i64) -> Result<i64> {
        let key = self.codec.key(key)?;
        let value = self.codec.value(value)?;
        Ok(lock(&self.store).put(&key, Some(&value), timestamp)?)
    }

    /// Adds a tombstone of `key` at `timestamp` and returns the version valid just before it
    /// (Kafka's `delete(key, timestamp)`), `None` if there was none or `timestamp` is too old.
    pub fn delete(&self, key: &K, timestamp: i64) -> Result<Option<VersionedRecord<V>>> {
        let key = self.codec.key(key)?;
        let old = lock(&self.store).delete(&key, timestamp)?;
        self.typed(old)
    }

    /// The latest version of `key`, unless it was deleted.
    pub fn get(&self, key: &K) -> Result<Option<VersionedRecord<V>>> {
        let key = self.codec.key(key)?;
        self.get_raw(&key)
    }

    /// The version of `key` valid at `as_of` (inclusive), if any and within the history
    /// retention — the latest value is always found when valid at `as_of`.
    pub fn get_as_of(&self, key: &K, as_of: i64) -> Result<Option<VersionedRecord<V>>> {
        let key = self.codec.key(key)?;
        self.get_as_of_raw(&key, as_of)
    }

    /// How long the store keeps history, in milliseconds (also its grace period for writes).
    pub fn history_retention_ms(&self) -> i64 {
        lock(&self.store).history_retention()
    }

    /// Serializes `key` for the raw accessors.
    pub(crate) fn key_bytes(&self, key: &K) -> Result<Vec<u8>> {
        self.codec.key(key)
    }

    pub(crate) fn get_raw(&self, key: &[u8]) -> Result<Option<VersionedRecord<V>>> {
        let found = lock(&self.store).get(key)?;
        self.typed(found)
    }

    pub(crate) fn get_as_of_raw(
        &self,
        key: &[u8],
        as_of: i64,
    ) -> Result<Option<VersionedRecord<V>>> {
        let found = lock(&self.store).get_as_of(key, as_of)?;
        self.typed(found)
    }

    /// Writes `value` (a tombstone when `None`) for the serialized `key`; returns Kafka's put
    /// code.
    pub(crate) fn put_raw(&self, key: &[u8], value: Option<&V>, timestamp: i64) -> Result<i64> {
        let value = value.map(|v| self.codec.value(v)).transpose()?;
        Ok(lock(&self.store).put(key, value.as_deref(), timestamp)?)
    }

    fn typed(
        &self,
        record: Option<streams_state::VersionedRecord>,
    ) -> Result<Option<VersionedRecord<V>>> {
        record
            .map(|r| {
                Ok(VersionedRecord {
                    value: self.codec.decode_value(r.value)?,
                    timestamp: r.timestamp,
                    valid_to: r.valid_to,
                })
            })
            .transpose()
    }
}
