//! Timestamped key-value stores: a key-value store whose values carry the timestamp of the record
//! that set them, as `KTable`s need for their output timestamps.
//!
//! Like Kafka Streams (`ValueAndTimestampSerializer`), the value is stored as an 8-byte big-endian
//! timestamp followed by the value bytes, in any [`KeyValueStore`]; [`TimestampedKeyValueAdapter`]
//! does the encoding. Its changelog carries the plain value with the timestamp as the record
//! timestamp (see [`ValueFormat::Timestamped`](crate::changelog::ValueFormat)), and restoring
//! rebuilds the encoding from the record timestamp — so a table's source topic can double as its
//! changelog.

use crate::record::ChangelogRecord;
use crate::store::{
    KeyValueIter, KeyValueStore, LentValue, StateStore, TimestampedIter, TimestampedKeyValueStore,
    ValueAndTimestamp,
};
use crate::{Error, Result};

/// Splits an encoded value into its timestamp and plain value; `None` if it is shorter than the
/// 8-byte timestamp.
#[inline]
pub fn split(encoded: &[u8]) -> Option<(i64, &[u8])> {
    let ts = i64::from_be_bytes(encoded.get(..8)?.try_into().ok()?);
    Some((ts, &encoded[8..]))
}

fn encode_parts(value: &[u8], timestamp: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + value.len());
    encode_into(&mut out, value, timestamp);
    out
}

/// Replaces `out`'s contents with the encoding of `value` and `timestamp`, reusing its buffer.
fn encode_into(out: &mut Vec<u8>, value: &[u8], timestamp: i64) {
    out.clear();
    out.extend_from_slice(&timestamp.to_be_bytes());
    out.extend_from_slice(value);
}

impl ValueAndTimestamp {
    /// The stored encoding: 8-byte big-endian timestamp, then the value.
    pub fn encode(&self) -> Vec<u8> {
        encode_parts(&self.value, self.timestamp)
    }

    /// Decodes [`encode`](Self::encode)'s output; `None` if it is shorter than 8 bytes.
    pub fn decode(encoded: &[u8]) -> Option<Self> {
        split(encoded).map(|(timestamp, value)| ValueAndTimestamp {
            value: value.to_vec(),
            timestamp,
        })
    }

    /// Decodes [`encode`](Self::encode)'s output in place: the value keeps `encoded`'s buffer
    /// (the timestamp is cut off its front) instead of being copied into a new one.
    pub fn decode_owned(mut encoded: Vec<u8>) -> Option<Self> {
        let (timestamp, _) = split(&encoded)?;
        encoded.drain(..8);
        Some(ValueAndTimestamp {
            value: encoded,
            timestamp,
        })
    }
}

/// A [`TimestampedKeyValueStore`] over any [`KeyValueStore`] (possibly cached and logged with
/// [`ValueFormat::Timestamped`](crate::changelog::ValueFormat)). Generic over the store below so
/// that, over a record cache, the cache stays reachable (see [`StoreStack`](crate::StoreStack))
/// and is called without dynamic dispatch.
pub struct TimestampedKeyValueAdapter<S: ?Sized = dyn KeyValueStore> {
    inner: Box<S>,
    /// The buffer each write encodes its value into, reused from write to write.
    scratch: Vec<u8>,
}

impl<S: KeyValueStore + ?Sized> TimestampedKeyValueAdapter<S> {
    /// Wraps `inner`, whose values will be stored timestamp-prefixed.
    pub fn new(inner: Box<S>) -> Self {
        TimestampedKeyValueAdapter {
            inner,
            scratch: Vec::new(),
        }
    }

    /// The store below, whose values are the timestamped encoding.
    pub fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    fn decode(&self, encoded: Vec<u8>) -> Result<ValueAndTimestamp> {
        ValueAndTimestamp::decode_owned(encoded).ok_or_else(|| self.too_short())
    }

    fn too_short(&self) -> Error {
        Error::InvalidArgument {
            store: self.inner.name().to_string(),
            message: "stored value is shorter than its 8-byte timestamp".to_string(),
        }
    }

    fn decode_iter<'a>(&'a self, iter: KeyValueIter<'a>) -> TimestampedIter<'a> {
        Box::new(iter.map(move |entry| {
            let (k, v) = entry?;
            Ok((k, self.decode(v)?))
        }))
    }
}

impl<S: KeyValueStore + ?Sized> StateStore for TimestampedKeyValueAdapter<S> {
    fn name(&self) -> &str {
        self.inner.name()
    }
    fn persistent(&self) -> bool {
        self.inner.persistent()
    }
    fn is_open(&self) -> bool {
        self.inner.is_open()
    }
    fn flush(&mut self) -> Result<()> {
        self.inner.flush()
    }
    fn close(&mut self) -> Result<()> {
        self.inner.close()
    }

    /// Changelog records carry the plain value and the timestamp as record timestamp.
    fn restore_batch(&mut self, records: &[ChangelogRecord]) -> Result<()> {
        let converted: Vec<ChangelogRecord> = records
            .iter()
            .map(|r| ChangelogRecord {
                key: r.key.clone(),
                value: r.value.as_deref().map(|v| encode_parts(v, r.timestamp)),
                timestamp: r.timestamp,
                offset: r.offset,
            })
            .collect();
        self.inner.restore_batch(&converted)
    }
}

impl<S: KeyValueStore + ?Sized> TimestampedKeyValueStore for TimestampedKeyValueAdapter<S> {
    fn get(&self, key: &[u8]) -> Result<Option<ValueAndTimestamp>> {
        self.inner.get(key)?.map(|v| self.decode(v)).transpose()
    }

    fn get_with(&self, key: &[u8], read: &mut dyn FnMut(Option<LentValue<'_>>)) -> Result<()> {
        let mut short = false;
        self.inner
            .get_with(key, &mut |encoded| match encoded.map(split) {
                None => read(None),
                Some(Some((timestamp, value))) => read(Some((value, timestamp))),
                Some(None) => short = true,
            })?;
        if short {
            return Err(self.too_short());
        }
        Ok(())
    }

    fn put(&mut self, key: &[u8], value: &[u8], timestamp: i64) -> Result<()> {
        encode_into(&mut self.scratch, value, timestamp);
        self.inner.put(key, &self.scratch)
    }

    fn put_if_absent(
        &mut self,
        key: &[u8],
        value: &[u8],
        timestamp: i64,
    ) -> Result<Option<ValueAndTimestamp>> {
        self.inner
            .put_if_absent(key, &encode_parts(value, timestamp))?
            .map(|v| self.decode(v))
            .transpose()
    }

    fn delete(&mut self, key: &[u8]) -> Result<Option<ValueAndTimestamp>> {
        self.inner.delete(key)?.map(|v| self.decode(v)).transpose()
    }

    fn range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> Result<TimestampedIter<'_>> {
        Ok(self.decode_iter(self.inner.range(from, to)?))
    }

    fn prefix_scan(&self, prefix: &[u8]) -> Result<TimestampedIter<'_>> {
        Ok(self.decode_iter(self.inner.prefix_scan(prefix)?))
    }

    fn approximate_num_entries(&self) -> Result<u64> {
        self.inner.approximate_num_entries()
    }
}
