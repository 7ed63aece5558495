//! How a typed store's keys and values become the bytes of its byte-level store and back.
//!
//! A [`Codec`] is a store's name with the serdes of its keys and values, shared by every typed
//! handle kind; the free functions convert one datum with errors that name the store. Timestamped
//! values (a value and the timestamp of the record that set it, stored as an 8-byte big-endian
//! timestamp followed by the value) go through the [`WithTimestamp`] and [`WithoutTimestamp`]
//! serdes, like Kafka Streams' `ValueAndTimestampSerde`.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::serde::{Serde, SerdeError};

/// `data` as bytes for store `store`; a serde that makes it null is an error (`what` names it).
pub(crate) fn ser<T: 'static>(
    serde: &dyn Serde<T>,
    store: &str,
    what: &str,
    data: &T,
) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    ser_into(serde, store, what, data, &mut bytes)?;
    Ok(bytes)
}

/// Serializes `data` for store `store` into `buffer`, replacing its contents (`what` names it
/// in errors); a store cannot hold a null.
pub(crate) fn ser_into<T: 'static>(
    serde: &dyn Serde<T>,
    store: &str,
    what: &str,
    data: &T,
    buffer: &mut Vec<u8>,
) -> Result<()> {
    buffer.clear();
    let written = serde
        .serialize_into(store, data, buffer)
        .map_err(|e| store_serde_error(store, what, e))?;
    if written {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "store `{store}` cannot hold a null {what}"
        )))
    }
}

/// `bytes` read back from store `store` (`what` names them in errors).
pub(crate) fn de<T: 'static>(
    serde: &dyn Serde<T>,
    store: &str,
    what: &str,
    bytes: Vec<u8>,
) -> Result<T> {
    serde
        .deserialize_owned(store, Some(bytes))
        .map_err(|e| store_serde_error(store, what, e))
}

/// A serde failure on store `store`'s `what`.
pub(crate) fn store_serde_error(store: &str, what: &str, e: SerdeError) -> Error {
    Error::Store {
        store: store.to_string(),
        message: format!("cannot convert {what}: {e}"),
    }
}

/// A store's name and the serdes of its keys and values: what turns a typed store into the
/// bytes of its byte-level store, shared by all four typed store kinds.
pub(super) struct Codec<K, V> {
    pub(super) name: Arc<str>,
    pub(super) keys: Arc<dyn Serde<K>>,
    pub(super) values: Arc<dyn Serde<V>>,
}

clone_fields!(Codec { name, keys, values });

impl<K: 'static, V: 'static> Codec<K, V> {
    pub(super) fn new(name: &str, keys: Arc<dyn Serde<K>>, values: Arc<dyn Serde<V>>) -> Self {
        Codec {
            name: Arc::from(name),
            keys,
            values,
        }
    }

    pub(super) fn key(&self, key: &K) -> Result<Vec<u8>> {
        ser(&*self.keys, &self.name, "key", key)
    }

    pub(super) fn value(&self, value: &V) -> Result<Vec<u8>> {
        ser(&*self.values, &self.name, "value", value)
    }

    pub(super) fn decode_key(&self, bytes: Vec<u8>) -> Result<K> {
        de(&*self.keys, &self.name, "key", bytes)
    }

    pub(super) fn decode_value(&self, bytes: Vec<u8>) -> Result<V> {
        de(&*self.values, &self.name, "value", bytes)
    }

    /// A value decoded from bytes the store lends.
    pub(super) fn decode_borrowed_value(&self, bytes: &[u8]) -> Result<V> {
        self.values
            .deserialize(&self.name, Some(bytes))
            .map_err(|e| store_serde_error(&self.name, "value", e))
    }
}

/// Value and timestamp, encoded as timestamped stores keep them.
pub(super) struct WithTimestamp<V>(pub(super) Arc<dyn Serde<V>>);

impl<V: 'static> Serde<(V, i64)> for WithTimestamp<V> {
    fn serialize(
        &self,
        topic: &str,
        data: &(V, i64),
    ) -> std::result::Result<Option<Vec<u8>>, SerdeError> {
        let value = self.0.serialize(topic, &data.0)?.unwrap_or_default();
        let encoded = streams_state::ValueAndTimestamp {
            value,
            timestamp: data.1,
        };
        Ok(Some(encoded.encode()))
    }

    fn deserialize(
        &self,
        topic: &str,
        data: Option<&[u8]>,
    ) -> std::result::Result<(V, i64), SerdeError> {
        let (timestamp, value) = split_timestamp(data)?;
        Ok((self.0.deserialize(topic, Some(value))?, timestamp))
    }
}

/// The value alone, read from a timestamped store's encoding; read-only.
pub(super) struct WithoutTimestamp<V>(pub(super) Arc<dyn Serde<V>>);

impl<V: 'static> Serde<V> for WithoutTimestamp<V> {
    fn serialize(
        &self,
        _topic: &str,
        _data: &V,
    ) -> std::result::Result<Option<Vec<u8>>, SerdeError> {
        Err(SerdeError::new(
            "this is a read-only view of a timestamped window store: write through the processor that owns it",
        ))
    }

    fn deserialize(&self, topic: &str, data: Option<&[u8]>) -> std::result::Result<V, SerdeError> {
        let (_, value) = split_timestamp(data)?;
        self.0.deserialize(topic, Some(value))
    }
}

/// The timestamp and value bytes of a timestamped value.
pub(super) fn split_timestamp(
    data: Option<&[u8]>,
) -> std::result::Result<(i64, &[u8]), SerdeError> {
    let data = data.ok_or_else(|| SerdeError::new("a timestamped value cannot be null"))?;
    streams_state::timestamped::split(data).ok_or_else(|| {
        SerdeError::new(format!(
            "a timestamped value needs at least 8 bytes, got {}",
            data.len()
        ))
    })
}
