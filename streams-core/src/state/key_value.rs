//! The typed key-value store handle, like Kafka Streams' `KeyValueStore<K, V>`, which is also
//! the plain view of a table's timestamped store (Kafka's `KeyValueStoreFacade`).

use streams_state::{KeyValueStack, TimestampedKeyValueStack};

use super::codec::Codec;
use super::{lock, Shared};
use crate::error::Result;

/// A typed key-value store, like Kafka's `KeyValueStore<K, V>`. Over a timestamped store (a
/// table's), it is a view without the timestamps, like Kafka's `KeyValueStoreFacade`: reads
/// drop them, writes stamp `-1` (Kafka's `NO_TIMESTAMP`).
pub struct KeyValueStoreRef<K, V> {
    pub(super) codec: Codec<K, V>,
    pub(super) store: PlainOrTimestamped,
}

/// The byte-level store behind a [`KeyValueStoreRef`].
#[derive(Clone)]
pub(super) enum PlainOrTimestamped {
    Plain(Shared<KeyValueStack>),
    Timestamped(Shared<TimestampedKeyValueStack>),
}

/// The timestamp a write through the plain view of a timestamped store carries.
const NO_TIMESTAMP: i64 = -1;

clone_fields!(KeyValueStoreRef { codec, store });

impl<K: 'static, V: 'static> KeyValueStoreRef<K, V> {
    /// The store's name.
    pub fn name(&self) -> &str {
        &self.codec.name
    }

    /// The value of `key`, if any.
    pub fn get(&self, key: &K) -> Result<Option<V>> {
        let key = self.codec.key(key)?;
        // Decoded from the bytes the store lends.
        let mut found = None;
        let mut decode = |bytes: Option<&[u8]>| {
            found = bytes.map(|b| self.codec.decode_borrowed_value(b));
        };
        match &self.store {
            PlainOrTimestamped::Plain(s) => lock(s).get_with(&key, &mut decode)?,
            PlainOrTimestamped::Timestamped(s) => {
                lock(s).get_with(&key, &mut |lent| decode(lent.map(|(value, _)| value)))?
            }
        }
        found.transpose()
    }

    /// Sets `key` to `value`.
    pub fn put(&self, key: &K, value: &V) -> Result<()> {
        let key = self.codec.key(key)?;
        let value = self.codec.value(value)?;
        Ok(match &self.store {
            PlainOrTimestamped::Plain(s) => lock(s).put(&key, &value),
            PlainOrTimestamped::Timestamped(s) => lock(s).put(&key, &value, NO_TIMESTAMP),
        }?)
    }

    /// Removes `key`, returning its previous value.
    pub fn delete(&self, key: &K) -> Result<Option<V>> {
        let key = self.codec.key(key)?;
        let old = match &self.store {
            PlainOrTimestamped::Plain(s) => lock(s).delete(&key)?,
            PlainOrTimestamped::Timestamped(s) => lock(s).delete(&key)?.map(|v| v.value),
        };
        old.map(|v| self.codec.decode_value(v)).transpose()
    }

    /// Every entry, in the order of the serialized keys.
    pub fn all(&self) -> Result<Vec<(K, V)>> {
        self.entries(Scan::Range(None, None))
    }

    /// Entries with `from <= key <= to` by serialized key order, open at an end that is `None`
    /// (Kafka's `range`, which takes `null` for an open end).
    pub fn range(&self, from: Option<&K>, to: Option<&K>) -> Result<Vec<(K, V)>> {
        let from = from.map(|k| self.codec.key(k)).transpose()?;
        let to = to.map(|k| self.codec.key(k)).transpose()?;
        self.entries(Scan::Range(from.as_deref(), to.as_deref()))
    }

    /// The entries of [`range`](Self::range) in descending key order (Kafka's `reverseRange`).
    pub fn reverse_range(&self, from: Option<&K>, to: Option<&K>) -> Result<Vec<(K, V)>> {
        let mut entries = self.range(from, to)?;
        entries.reverse();
        Ok(entries)
    }

    /// Every entry in descending key order (Kafka's `reverseAll`).
    pub fn reverse_all(&self) -> Result<Vec<(K, V)>> {
        self.reverse_range(None, None)
    }

    /// Entries whose serialized key starts with the serialized `prefix`, in key order (Kafka's
    /// `ReadOnlyKeyValueStore#prefixScan`).
    pub fn prefix_scan(&self, prefix: &K) -> Result<Vec<(K, V)>> {
        let prefix = self.codec.key(prefix)?;
        self.entries(Scan::Prefix(&prefix))
    }

    fn entries(&self, scan: Scan<'_>) -> Result<Vec<(K, V)>> {
        match &self.store {
            PlainOrTimestamped::Plain(s) => {
                let store = lock(s);
                let entries = match scan {
                    Scan::Range(from, to) => store.range(from, to)?,
                    Scan::Prefix(prefix) => store.prefix_scan(prefix)?,
                };
                self.decode_all(entries, |value| value)
            }
            PlainOrTimestamped::Timestamped(s) => {
                let store = lock(s);
                let entries = match scan {
                    Scan::Range(from, to) => store.range(from, to)?,
                    Scan::Prefix(prefix) => store.prefix_scan(prefix)?,
                };
                self.decode_all(entries, |stored| stored.value)
            }
        }
    }

    /// Decodes every entry, `value` taking the value bytes out of what the store holds.
    fn decode_all<T>(
        &self,
        entries: impl Iterator<Item = streams_state::Result<(Vec<u8>, T)>>,
        value: impl Fn(T) -> Vec<u8>,
    ) -> Result<Vec<(K, V)>> {
        entries
            .map(|entry| {
                let (k, v) = entry?;
                Ok((
                    self.codec.decode_key(k)?,
                    self.codec.decode_value(value(v))?,
                ))
            })
            .collect()
    }

    /// An estimate of the number of entries.
    pub fn approximate_num_entries(&self) -> Result<u64> {
        Ok(match &self.store {
            PlainOrTimestamped::Plain(s) => lock(s).approximate_num_entries(),
            PlainOrTimestamped::Timestamped(s) => lock(s).approximate_num_entries(),
        }?)
    }
}

/// Which entries of a key-value store to read, by serialized key.
enum Scan<'a> {
    /// `from <= key <= to`, unbounded where `None`.
    Range(Option<&'a [u8]>, Option<&'a [u8]>),
    /// Keys starting with these bytes.
    Prefix(&'a [u8]),
}
