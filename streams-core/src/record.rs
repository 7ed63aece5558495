//! The record that flows between processors, like Kafka Streams' `api.Record`: key, value,
//! timestamp and headers. Operators build the next record from the last with `with_*`, so that
//! timestamps and headers propagate unless an operator means to change them.

use std::sync::Arc;

/// One record header: a name and an optional (nullable) value, as in Kafka.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The header's name.
    pub key: String,
    /// The header's value; `None` is a null value.
    pub value: Option<Vec<u8>>,
}

/// A record's headers, in order; names may repeat, as in Kafka.
///
/// An empty set does not allocate and takes one word: records, most of which have no headers,
/// stay small as they are moved from node to node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
// The box is the point: `None` takes one word where an empty `Vec` takes three.
#[allow(clippy::box_collection)]
pub struct Headers(Option<Box<Vec<Header>>>);

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Headers(None)
    }

    /// Appends a header.
    pub fn add(&mut self, key: impl Into<String>, value: Option<Vec<u8>>) -> &mut Self {
        self.0.get_or_insert_with(Box::default).push(Header {
            key: key.into(),
            value,
        });
        self
    }

    /// Appends a header, builder style.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.add(key, Some(value.into()));
        self
    }

    /// The last header named `key`, like Kafka's `Headers::lastHeader`.
    pub fn last(&self, key: &str) -> Option<&Header> {
        self.as_slice().iter().rev().find(|h| h.key == key)
    }

    /// Removes every header named `key`.
    pub fn remove(&mut self, key: &str) {
        if let Some(headers) = &mut self.0 {
            headers.retain(|h| h.key != key);
            if headers.is_empty() {
                self.0 = None;
            }
        }
    }

    /// All headers in order.
    pub fn iter(&self) -> impl Iterator<Item = &Header> {
        self.as_slice().iter()
    }

    /// The number of headers.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether there are no headers.
    pub fn is_empty(&self) -> bool {
        // Never an empty vector: `remove` drops it with its last header.
        self.0.is_none()
    }

    fn as_slice(&self) -> &[Header] {
        self.0.as_deref().map_or(&[], Vec::as_slice)
    }
}

impl FromIterator<Header> for Headers {
    fn from_iter<I: IntoIterator<Item = Header>>(iter: I) -> Self {
        let headers: Vec<Header> = iter.into_iter().collect();
        Headers((!headers.is_empty()).then(|| Box::new(headers)))
    }
}

/// A typed record on its way through a topology.
#[derive(Debug, Clone, PartialEq)]
pub struct Record<K, V> {
    /// The key.
    pub key: K,
    /// The value.
    pub value: V,
    /// Event time in milliseconds since the epoch.
    pub timestamp: i64,
    /// The headers.
    pub headers: Headers,
}

impl<K, V> Record<K, V> {
    /// A record without headers.
    pub fn new(key: K, value: V, timestamp: i64) -> Self {
        Record {
            key,
            value,
            timestamp,
            headers: Headers::new(),
        }
    }

    /// The same record with another key (and possibly another key type).
    pub fn with_key<K2>(self, key: K2) -> Record<K2, V> {
        Record {
            key,
            value: self.value,
            timestamp: self.timestamp,
            headers: self.headers,
        }
    }

    /// The same record with another value (and possibly another value type).
    pub fn with_value<V2>(self, value: V2) -> Record<K, V2> {
        Record {
            key: self.key,
            value,
            timestamp: self.timestamp,
            headers: self.headers,
        }
    }

    /// The same record with another key and value, keeping timestamp and headers.
    pub fn with_key_value<K2, V2>(self, key: K2, value: V2) -> Record<K2, V2> {
        Record {
            key,
            value,
            timestamp: self.timestamp,
            headers: self.headers,
        }
    }

    /// The same record with another timestamp.
    pub fn with_timestamp(mut self, timestamp: i64) -> Self {
        self.timestamp = timestamp;
        self
    }

    /// The same record with other headers.
    pub fn with_headers(mut self, headers: Headers) -> Self {
        self.headers = headers;
        self
    }
}

/// Where the record being processed came from, like Kafka's `RecordMetadata`. Absent during a
/// punctuation, which is not caused by a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    /// The input topic.
    pub topic: Arc<str>,
    /// The input partition.
    pub partition: i32,
    /// The input offset.
    pub offset: i64,
}

/// A serialized record read from a topic: what a task consumes. The topic travels beside it
/// (whoever holds a partition's records knows their topic), not in each record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumedRecord {
    /// Its partition.
    pub partition: i32,
    /// Its offset in the partition.
    pub offset: i64,
    /// Its timestamp in milliseconds.
    pub timestamp: i64,
    /// Key bytes; `None` is null.
    pub key: Option<Vec<u8>>,
    /// Value bytes; `None` is null.
    pub value: Option<Vec<u8>>,
    /// Its headers.
    pub headers: Headers,
}

/// A serialized record a task wants written to a topic, like what Kafka's `RecordCollector`
/// hands to the producer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducedRecord {
    /// Destination topic, as its index in the producing task's output topics (see
    /// `Task::output_topics`): records carry no reference-counted name of their own.
    pub topic: u32,
    /// Destination partition, if the sink chose one; otherwise the producer's partitioner does.
    pub partition: Option<i32>,
    /// Key bytes; `None` is null.
    pub key: Option<Vec<u8>>,
    /// Value bytes; `None` is null.
    pub value: Option<Vec<u8>>,
    /// Timestamp in milliseconds.
    pub timestamp: i64,
    /// Headers.
    pub headers: Headers,
}

impl ProducedRecord {
    /// The record's fields as [`Packed`](crate::internals::Packed) reads and writes them.
    pub fn packed(&self) -> packed::Packed<'_> {
        packed::Packed {
            timestamp: self.timestamp,
            partition: self.partition,
            key: self.key.as_deref(),
            value: self.value.as_deref(),
        }
    }
}

/// Serialized records packed into one byte buffer: each record's timestamp, partition, key
/// length and value length as LEB128 varints (the timestamp zigzag-encoded; the partition plus
/// one and each length plus one, so that 0 is "none" and "null"), then its key and value bytes.
/// A task's changelog records and the test driver's unread records are kept this way: a few
/// large buffers instead of two small allocations per record, a batch of them moves with one
/// copy, and a record of a short key and value takes a few bytes beyond them (the driver keeps
/// every record written to a topic nobody reads, as Kafka's does).
pub(crate) mod packed {
    /// The most bytes a varint of a `u64` takes.
    const MAX_VARINT: usize = 10;

    /// A packed record's fields, borrowed from its buffer. Records are packed one after the
    /// other into a byte buffer (see the `packed` module of `record.rs` for the layout): a
    /// task's changelog records travel that way, a batch per topic.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Packed<'a> {
        /// Timestamp in milliseconds.
        pub timestamp: i64,
        /// Destination partition, if one was chosen.
        pub partition: Option<i32>,
        /// Key bytes; `None` is null.
        pub key: Option<&'a [u8]>,
        /// Value bytes; `None` is null.
        pub value: Option<&'a [u8]>,
    }

    fn zigzag(n: i64) -> u64 {
        ((n << 1) ^ (n >> 63)) as u64
    }

    fn unzigzag(n: u64) -> i64 {
        ((n >> 1) as i64) ^ -((n & 1) as i64)
    }

    fn put_varint(buffer: &mut Vec<u8>, mut n: u64) {
        while n >= 0x80 {
            buffer.push((n as u8) | 0x80);
            n >>= 7;
        }
        buffer.push(n as u8);
    }

    /// The varint at `*at` in `buffer`, moving `at` past it.
    fn varint(buffer: &[u8], at: &mut usize) -> u64 {
        let mut n = 0u64;
        let mut shift = 0;
        loop {
            let byte = buffer[*at];
            *at += 1;
            n |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return n;
            }
            shift += 7;
        }
    }

    /// A length plus one, 0 for none.
    fn len_of(part: Option<&[u8]>) -> u64 {
        part.map_or(0, |p| p.len() as u64 + 1)
    }

    impl<'a> Packed<'a> {
        /// At most the bytes [`push`](Self::push) appends.
        pub(crate) fn max_len(&self) -> usize {
            4 * MAX_VARINT + self.key.map_or(0, <[u8]>::len) + self.value.map_or(0, <[u8]>::len)
        }

        /// Appends the record to `buffer`.
        pub(crate) fn push(&self, buffer: &mut Vec<u8>) {
            buffer.reserve(self.max_len());
            put_varint(buffer, zigzag(self.timestamp));
            put_varint(buffer, self.partition.map_or(0, |p| zigzag(p.into()) + 1));
            put_varint(buffer, len_of(self.key));
            put_varint(buffer, len_of(self.value));
            buffer.extend_from_slice(self.key.unwrap_or_default());
            buffer.extend_from_slice(self.value.unwrap_or_default());
        }

        /// The record [`push`](Self::push) wrote at `at` in `buffer`, and where the next one
        /// starts.
        pub(crate) fn read(buffer: &'a [u8], mut at: usize) -> (Self, usize) {
            let timestamp = unzigzag(varint(buffer, &mut at));
            let partition = match varint(buffer, &mut at) {
                0 => None,
                p => Some(unzigzag(p - 1) as i32),
            };
            let key_len = varint(buffer, &mut at);
            let value_len = varint(buffer, &mut at);
            let mut take = |len: u64| {
                (len != 0).then(|| {
                    let bytes = &buffer[at..at + (len - 1) as usize];
                    at += (len - 1) as usize;
                    bytes
                })
            };
            let key = take(key_len);
            let value = take(value_len);
            let record = Packed {
                timestamp,
                partition,
                key,
                value,
            };
            (record, at)
        }

        /// Every record packed in `buffer`, in order.
        pub fn all(buffer: &'a [u8]) -> impl Iterator<Item = Packed<'a>> + 'a {
            let mut at = 0;
            std::iter::from_fn(move || {
                (at < buffer.len()).then(|| {
                    let (record, next) = Packed::read(buffer, at);
                    at = next;
                    record
                })
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::packed::Packed;
    use super::*;

    #[test]
    fn packed_records_read_back_as_pushed() {
        let records = [
            Packed {
                timestamp: 1,
                partition: Some(3),
                key: Some(b"k"),
                value: Some(b"v"),
            },
            Packed {
                timestamp: -2,
                partition: None,
                key: None,
                value: Some(b""),
            },
            Packed {
                timestamp: 4,
                partition: Some(0),
                key: Some(b""),
                value: None,
            },
            Packed {
                timestamp: i64::MIN,
                partition: Some(i32::MIN),
                key: Some(&[7; 300]),
                value: Some(&[8; 70_000]),
            },
            Packed {
                timestamp: i64::MAX,
                partition: Some(i32::MAX),
                key: None,
                value: None,
            },
            Packed {
                timestamp: 1_764_600_000_000,
                partition: Some(-1),
                key: Some(b"word1234"),
                value: Some(&[0, 0, 0, 0, 0, 0, 0, 9]),
            },
        ];
        let mut buffer = Vec::new();
        for r in &records {
            r.push(&mut buffer);
        }
        assert!(buffer.len() <= records.iter().map(Packed::max_len).sum::<usize>());
        assert_eq!(Packed::all(&buffer).collect::<Vec<_>>(), records);
    }

    #[test]
    fn headers_keep_order_and_repeats_and_equal_none_once_emptied() {
        let mut headers = Headers::new().with("a", "1").with("b", "2").with("a", "3");
        assert_eq!(headers.len(), 3);
        assert_eq!(
            headers.last("a").and_then(|h| h.value.clone()),
            Some(b"3".to_vec())
        );
        let keys: Vec<&str> = headers.iter().map(|h| h.key.as_str()).collect();
        assert_eq!(keys, ["a", "b", "a"]);
        headers.remove("a");
        assert_eq!(headers.len(), 1);
        headers.remove("b");
        assert!(headers.is_empty());
        assert_eq!(headers, Headers::new());
        assert_eq!(
            Vec::<Header>::new().into_iter().collect::<Headers>(),
            Headers::new()
        );
        assert_eq!(std::mem::size_of::<Headers>(), std::mem::size_of::<usize>());
    }
}
