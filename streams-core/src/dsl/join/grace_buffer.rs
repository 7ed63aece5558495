//! The time-ordered buffer of a stream-table join with a grace period (KIP-923), like Kafka
//! Streams' `RocksDBTimeOrderedKeyValueBuffer` behind `KStreamKTableJoinProcessor`.
//!
//! A stream record is held back until the buffer's stream time (the largest timestamp it was
//! given) passes the record's timestamp plus the grace period, so that table updates arriving
//! out of order within the grace period are in the versioned table by the time the record is
//! joined *as of* its timestamp. Records leave in timestamp order (then by serialized key, then
//! arrival), as Kafka's time-first key layout orders them. A record already older than stream
//! time minus the grace period is not buffered: it is joined at once.
//!
//! The buffer is a key-value store (RocksDB by default, changelogged to
//! `<application.id>-<join name>-Buffer-changelog`), so a restarted task finds what was buffered
//! and nothing is lost. Its keys are the record's timestamp (8 bytes, sign bit flipped so that
//! byte order is numeric order), the serialized key and a sequence number (4 bytes); its values
//! the record's headers and serialized value.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::processor::{Data, ProcessorContext};
use crate::record::{Header, Headers, Record};
use crate::serde::{BytesSerde, Serde};
use crate::state::{initialized, KeyValueStoreRef};

/// A timestamp as 8 bytes whose byte order is the numeric order.
fn encode_time(timestamp: i64) -> [u8; 8] {
    ((timestamp as u64) ^ (1 << 63)).to_be_bytes()
}

fn decode_time(bytes: &[u8]) -> Option<i64> {
    let bytes: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
    Some((u64::from_be_bytes(bytes) ^ (1 << 63)) as i64)
}

/// The stream records a grace-period join holds back; see the [module docs](self).
pub(crate) struct GraceBuffer<K, V> {
    store_name: Arc<str>,
    grace_ms: i64,
    keys: Arc<dyn Serde<K>>,
    values: Arc<dyn Serde<V>>,
    store: Option<KeyValueStoreRef<Vec<u8>, Vec<u8>>>,
    /// The largest timestamp buffered (Kafka's buffer's observed stream time); `i64::MIN`
    /// before any.
    observed: i64,
    /// The sequence number of the last record buffered, which tells apart records with the same
    /// timestamp and key.
    seqnum: u32,
}

/// A copy is not connected: each task's processor connects its own.
impl<K, V> Clone for GraceBuffer<K, V> {
    fn clone(&self) -> Self {
        GraceBuffer {
            store_name: Arc::clone(&self.store_name),
            grace_ms: self.grace_ms,
            keys: Arc::clone(&self.keys),
            values: Arc::clone(&self.values),
            store: None,
            observed: i64::MIN,
            seqnum: 0,
        }
    }
}

impl<K: Data, V: Data> GraceBuffer<K, V> {
    /// A buffer in store `store_name` holding records back for `grace_ms`, serializing them
    /// with the stream side's serdes.
    pub(crate) fn new(
        store_name: Arc<str>,
        grace_ms: i64,
        keys: Arc<dyn Serde<K>>,
        values: Arc<dyn Serde<V>>,
    ) -> Self {
        GraceBuffer {
            store_name,
            grace_ms,
            keys,
            values,
            store: None,
            observed: i64::MIN,
            seqnum: 0,
        }
    }

    /// Connects the store and picks up what it holds (after a restart or a restore): its
    /// stream time and sequence numbers continue from there.
    pub(crate) fn connect<KOut: Data, VOut: Data>(
        &mut self,
        ctx: &mut ProcessorContext<'_, KOut, VOut>,
    ) -> Result<()> {
        let store = ctx.key_value_store(&self.store_name, BytesSerde, BytesSerde)?;
        for (key, _) in store.all()? {
            let timestamp = self.timestamp_of(&key)?;
            self.observed = self.observed.max(timestamp);
            let seqnum = key
                .len()
                .checked_sub(4)
                .and_then(|start| key.get(start..))
                .and_then(|bytes| <[u8; 4]>::try_from(bytes).ok())
                .map_or(0, u32::from_be_bytes);
            self.seqnum = self.seqnum.max(seqnum);
        }
        self.store = Some(store);
        Ok(())
    }

    fn timestamp_of(&self, key: &[u8]) -> Result<i64> {
        decode_time(key).ok_or_else(|| self.corrupt("a buffer key shorter than its timestamp"))
    }

    fn corrupt(&self, what: &str) -> Error {
        Error::Store {
            store: self.store_name.to_string(),
            message: format!("corrupt grace-period join buffer: {what}"),
        }
    }

    /// Buffers `record` unless it is too late for the grace period or has a null key; hands it
    /// back in those cases, to be joined at once (Kafka's `TimeOrderedKeyValueBuffer#put`
    /// returning `false`).
    pub(crate) fn put(&mut self, record: Record<K, V>) -> Result<Option<Record<K, V>>> {
        let too_late = self.observed != i64::MIN
            && self.observed.saturating_sub(self.grace_ms) > record.timestamp;
        if too_late {
            return Ok(Some(record));
        }
        let Some(key) = self
            .keys
            .serialize(&self.store_name, &record.key)
            .map_err(|e| crate::state::store_serde_error(&self.store_name, "key", e))?
        else {
            return Ok(Some(record)); // a null key (a left join keeps it): nothing to order by
        };
        let value = self
            .values
            .serialize(&self.store_name, &record.value)
            .map_err(|e| crate::state::store_serde_error(&self.store_name, "value", e))?;
        self.seqnum = (self.seqnum + 1) & 0x7FFF_FFFF;
        let mut buffer_key = Vec::with_capacity(12 + key.len());
        buffer_key.extend_from_slice(&encode_time(record.timestamp));
        buffer_key.extend_from_slice(&key);
        buffer_key.extend_from_slice(&self.seqnum.to_be_bytes());
        let store = initialized(&self.store, &self.store_name)?;
        store.put(
            &buffer_key,
            &encode_value(&record.headers, value.as_deref()),
        )?;
        self.observed = self.observed.max(record.timestamp);
        Ok(None)
    }

    /// Removes and returns, in buffer order, every record whose timestamp stream time minus
    /// the grace period has reached (Kafka's `evictWhile`).
    pub(crate) fn evict(&mut self) -> Result<Vec<Record<K, V>>> {
        if self.observed == i64::MIN {
            return Ok(Vec::new());
        }
        let limit = self.observed.saturating_sub(self.grace_ms);
        let store = initialized(&self.store, &self.store_name)?;
        // Every key of a timestamp up to `limit` sorts before the bare next timestamp.
        let end = encode_time(limit.saturating_add(1)).to_vec();
        let due = store.range(None, Some(&end))?;
        let mut records = Vec::with_capacity(due.len());
        for (buffer_key, buffered) in due {
            let timestamp = self.timestamp_of(&buffer_key)?;
            if timestamp > limit {
                break; // only when `limit` is i64::MAX
            }
            let key_bytes = buffer_key
                .get(8..buffer_key.len().saturating_sub(4))
                .ok_or_else(|| self.corrupt("a buffer key without its record key"))?;
            let key = self
                .keys
                .deserialize(&self.store_name, Some(key_bytes))
                .map_err(|e| crate::state::store_serde_error(&self.store_name, "key", e))?;
            let (headers, value_bytes) =
                decode_value(&buffered).ok_or_else(|| self.corrupt("an undecodable value"))?;
            let value = self
                .values
                .deserialize(&self.store_name, value_bytes)
                .map_err(|e| crate::state::store_serde_error(&self.store_name, "value", e))?;
            store.delete(&buffer_key)?;
            records.push(Record {
                key,
                value,
                timestamp,
                headers,
            });
        }
        Ok(records)
    }
}

/// A buffered record's headers and value: the header count (4 bytes), each header's name
/// length (4) and name, value length (4, `-1` for null) and value; then a 1 for a value and its
/// bytes, or a 0 for null.
fn encode_value(headers: &Headers, value: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(headers.len() as u32).to_be_bytes());
    for header in headers.iter() {
        out.extend_from_slice(&(header.key.len() as u32).to_be_bytes());
        out.extend_from_slice(header.key.as_bytes());
        match &header.value {
            Some(v) => {
                out.extend_from_slice(&(v.len() as i32).to_be_bytes());
                out.extend_from_slice(v);
            }
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
    match value {
        Some(value) => {
            out.push(1);
            out.extend_from_slice(value);
        }
        None => out.push(0),
    }
    out
}

/// Reads [`encode_value`]'s layout back; `None` if it is not that.
fn decode_value(bytes: &[u8]) -> Option<(Headers, Option<&[u8]>)> {
    fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (bytes.get(..n)?, bytes.get(n..)?);
        *bytes = rest;
        Some(head)
    }
    fn int(bytes: &mut &[u8]) -> Option<[u8; 4]> {
        take(bytes, 4)?.try_into().ok()
    }
    let mut rest = bytes;
    let count = u32::from_be_bytes(int(&mut rest)?);
    let mut headers = Vec::new();
    for _ in 0..count {
        let name_len = u32::from_be_bytes(int(&mut rest)?) as usize;
        let name = String::from_utf8(take(&mut rest, name_len)?.to_vec()).ok()?;
        let value_len = i32::from_be_bytes(int(&mut rest)?);
        let value = match usize::try_from(value_len) {
            Ok(len) => Some(take(&mut rest, len)?.to_vec()),
            Err(_) => None,
        };
        headers.push(Header { key: name, value });
    }
    let value = match take(&mut rest, 1)? {
        [1] => Some(rest),
        [0] => None,
        _ => return None,
    };
    Some((headers.into_iter().collect(), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_keep_their_headers_and_nulls() {
        let mut headers = Headers::new();
        headers.add("trace", Some(b"abc".to_vec()));
        headers.add("empty", None);
        let encoded = encode_value(&headers, Some(b"value"));
        let (decoded, value) = decode_value(&encoded).unwrap();
        assert_eq!(decoded, headers);
        assert_eq!(value, Some(&b"value"[..]));
        let encoded = encode_value(&Headers::new(), None);
        assert_eq!(decode_value(&encoded), Some((Headers::new(), None)));
        assert_eq!(decode_value(&encoded[..3]), None);
    }

    #[test]
    fn time_prefixes_sort_numerically() {
        let mut times = vec![5, -3, 0, i64::MAX, i64::MIN, 42];
        let mut encoded: Vec<_> = times.iter().map(|&t| encode_time(t)).collect();
        encoded.sort();
        times.sort();
        let decoded: Vec<_> = encoded.iter().map(|e| decode_time(e).unwrap()).collect();
        assert_eq!(decoded, times);
    }
}
