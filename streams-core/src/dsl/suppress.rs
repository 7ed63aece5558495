//! `KTable::suppress`: holding back a table's updates and emitting only the latest per key once
//! a time condition holds — like Kafka Streams' `Suppressed` and `KTableSuppressProcessor`.
//!
//! `Suppressed::until_window_closes` turns a windowed aggregation into one final result per
//! window, emitted when stream time passes the window's end plus its grace period;
//! `Suppressed::until_time_limit` rate-limits any table to one update per key per time limit.
//! The buffer lives in a logged in-memory key-value store (`<application.id>-<store>-changelog`),
//! so buffered updates survive a restart, with an index by buffer time kept beside it. As in
//! Kafka's `InMemoryTimeOrderedKeyValueChangeBuffer`, a key's buffer time is its window's end or
//! the timestamp it was first buffered with, and the buffer is ordered by buffer time, then key:
//! that is the order keys are released in, due or — from a bounded buffer that emits early —
//! evicted when full.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use super::change::Change;
use super::ktable::KTable;
use super::windows::{millis, Windowed};
use crate::error::{Error, Result};
use crate::processor::{Data, Processor, ProcessorContext};
use crate::record::Record;
use crate::serde::{BytesSerde, Serde};
use crate::state::{de, initialized, ser, store_serde_error, KeyValueStoreRef};

const SUPPRESS_NAME: &str = "KTABLE-SUPPRESS-";

/// What a suppression buffer does when it is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WhenFull {
    /// Emit the oldest buffered updates early to make room.
    EmitEarly,
    /// Fail the task: never emit a non-final result (Kafka's `shutDownWhenFull`).
    ShutDown,
}

/// How much a suppression may buffer (Kafka's `Suppressed.BufferConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferConfig {
    max_records: Option<usize>,
    max_bytes: Option<usize>,
    when_full: WhenFull,
}

impl BufferConfig {
    /// No limit: buffer as much as it takes (Kafka's `BufferConfig.unbounded()`).
    pub fn unbounded() -> Self {
        BufferConfig {
            max_records: None,
            max_bytes: None,
            when_full: WhenFull::ShutDown,
        }
    }

    /// At most `records` keys buffered; emits early when full unless told otherwise.
    pub fn max_records(records: usize) -> Self {
        BufferConfig {
            max_records: Some(records),
            max_bytes: None,
            when_full: WhenFull::EmitEarly,
        }
    }

    /// At most `bytes` buffered, each update sized as Kafka's
    /// `InMemoryTimeOrderedKeyValueChangeBuffer` sizes it: buffer time, key, the key's prior and
    /// old values, the new value and the record context (timestamp, offset, topic name,
    /// partition, headers); emits early when full unless told otherwise.
    pub fn max_bytes(bytes: usize) -> Self {
        BufferConfig {
            max_records: None,
            max_bytes: Some(bytes),
            when_full: WhenFull::EmitEarly,
        }
    }

    /// When full, emit the oldest updates early.
    pub fn emit_early_when_full(mut self) -> Self {
        self.when_full = WhenFull::EmitEarly;
        self
    }

    /// When full, fail the task rather than emit a result early.
    pub fn shut_down_when_full(mut self) -> Self {
        self.when_full = WhenFull::ShutDown;
        self
    }
}

/// When a buffered update is released.
enum Until<K> {
    /// At the window's end (given by the function) plus the table's grace period.
    WindowCloses(fn(&K) -> i64),
    /// This long (ms) after the key was first buffered.
    TimeLimit(i64),
}

/// How a table's updates are suppressed (Kafka's `Suppressed`).
pub struct Suppressed<K> {
    until: Until<K>,
    buffer: BufferConfig,
    name: Option<String>,
}

fn window_end<K>(key: &Windowed<K>) -> i64 {
    key.window.end_ms
}

impl<K: 'static> Suppressed<Windowed<K>> {
    /// One final result per window, when stream time passes the window's end plus grace. The
    /// buffer must be strict (unbounded, or shut down when full): a final result is never
    /// emitted early.
    pub fn until_window_closes(buffer: BufferConfig) -> Self {
        Suppressed {
            until: Until::WindowCloses(window_end::<K>),
            buffer,
            name: None,
        }
    }
}

impl<K> Suppressed<K> {
    /// The latest update of a key, `limit` (of stream time) after the key was first buffered.
    pub fn until_time_limit(limit: Duration, buffer: BufferConfig) -> Self {
        Suppressed {
            until: Until::TimeLimit(millis(limit)),
            buffer,
            name: None,
        }
    }

    /// Names the suppression's node; its buffer store is `<name>-store`.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

impl<K: Data, V: Data> KTable<K, V> {
    /// Holds back updates until `suppressed`'s condition holds, then emits the latest per key
    /// (Kafka's `KTable#suppress`).
    pub fn suppress(&self, suppressed: Suppressed<K>) -> KTable<K, V> {
        let stream = self.change_stream();
        // The buffer keeps each key's prior value (Kafka's `KTableSuppressProcessorSupplier`
        // asks its parent for old values, materializing a source table).
        self.enable_sending_old_values();
        let (name, store_name) = match &suppressed.name {
            Some(name) => (name.clone(), format!("{name}-store")),
            None => {
                let name = stream.node_name(SUPPRESS_NAME);
                let store = stream.graph().borrow_mut().next_store_name(SUPPRESS_NAME);
                (name, store)
            }
        };
        let report = |message: String| stream.graph().borrow_mut().errors.push(message);
        if self.is_versioned() {
            // Kafka's `TopologyException` (KIP-914).
            report(format!(
                "suppression `{name}`: suppress() is only supported for non-versioned KTables"
            ));
        }
        let (emit_time, drop_tombstones) = match suppressed.until {
            Until::WindowCloses(end) => {
                if suppressed.buffer.when_full == WhenFull::EmitEarly {
                    report(format!(
                        "suppression `{name}` waits for windows to close, so its buffer must not emit early: use BufferConfig::unbounded() or shut_down_when_full()"
                    ));
                }
                let grace = match self.window_grace_ms() {
                    Some(grace) => grace,
                    None => {
                        report(format!(
                            "suppression `{name}` waits for windows to close, but its table does not come from a windowed aggregation"
                        ));
                        0
                    }
                };
                (EmitTime::WindowEnd(end, grace), true)
            }
            Until::TimeLimit(limit) => (EmitTime::AfterFirstUpdate(limit), false),
        };
        let values = match self.value_serde() {
            Some(serde) => serde,
            None => {
                report(format!(
                    "suppression `{name}` needs a value serde for its buffer: materialize the table with Materialized::with_value_serde"
                ));
                Arc::new(super::kgrouped::MissingSerde)
            }
        };
        stream.graph().borrow_mut().add_store(
            streams_state::KeyValueStoreBuilder::new(&store_name)
                .in_memory()
                .into(),
        );
        let keys = self.key_serde();
        let (proc_keys, proc_values) = (Arc::clone(&keys), Arc::clone(&values));
        let store = Arc::<str>::from(store_name.as_str());
        let buffer = suppressed.buffer;
        let out = stream.add_processor::<K, Change<V>, _, _>(name, vec![store_name], move || {
            SuppressProcessor {
                store_name: Arc::clone(&store),
                keys: Arc::clone(&proc_keys),
                values: Arc::clone(&proc_values),
                emit_time: emit_time.clone(),
                drop_tombstones,
                buffer,
                observed_stream_time: i64::MIN,
                index: BTreeSet::new(),
                entries: HashMap::new(),
                bytes: 0,
                store: None,
            }
        });
        KTable::new(out, keys, Some(values), None).with_grace_of(self)
    }
}

/// A buffered key's buffer time (Kafka's `TimeDefinition`) and how long after it the key is due
/// (Kafka's suppress duration).
enum EmitTime<K> {
    WindowEnd(fn(&K) -> i64, i64),
    AfterFirstUpdate(i64),
}

impl<K> Clone for EmitTime<K> {
    fn clone(&self) -> Self {
        match self {
            EmitTime::WindowEnd(f, grace) => EmitTime::WindowEnd(*f, *grace),
            EmitTime::AfterFirstUpdate(limit) => EmitTime::AfterFirstUpdate(*limit),
        }
    }
}

/// One buffered update as stored: buffer time, record timestamp, a flag, the entry's size as
/// Kafka estimates it and the length of its key's prior value (see [`kafka_entry_size`]), then
/// the value (absent for a delete). Entries written before the size was kept (flags 0 and 1)
/// still decode, their size estimated from their bytes.
struct Buffered {
    buffer_time: i64,
    timestamp: i64,
    /// Kafka's size estimate of the entry and the length of the prior value it counts.
    size: Option<(u64, u64)>,
    value: Option<Vec<u8>>,
}

/// Flags of [`Buffered`]: a delete or a value, without or with the size fields.
const DELETE: u8 = 0;
const VALUE: u8 = 1;
const SIZED_DELETE: u8 = 2;
const SIZED_VALUE: u8 = 3;

impl Buffered {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(33 + self.value.as_ref().map_or(0, Vec::len));
        out.extend_from_slice(&self.buffer_time.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        let flag = match (&self.value, self.size) {
            (None, None) => DELETE,
            (Some(_), None) => VALUE,
            (None, Some(_)) => SIZED_DELETE,
            (Some(_), Some(_)) => SIZED_VALUE,
        };
        out.push(flag);
        if let Some((size, prior)) = self.size {
            out.extend_from_slice(&size.to_be_bytes());
            out.extend_from_slice(&prior.to_be_bytes());
        }
        if let Some(v) = &self.value {
            out.extend_from_slice(v);
        }
        out
    }

    fn decode(store: &str, bytes: &[u8]) -> Result<Buffered> {
        let corrupt = || Error::Store {
            store: store.to_string(),
            message: format!("corrupt suppression buffer entry of {} bytes", bytes.len()),
        };
        let long = |at: usize| -> Result<[u8; 8]> {
            bytes
                .get(at..at + 8)
                .ok_or_else(corrupt)?
                .try_into()
                .map_err(|_| corrupt())
        };
        let buffer_time = i64::from_be_bytes(long(0)?);
        let timestamp = i64::from_be_bytes(long(8)?);
        let flag = *bytes.get(16).ok_or_else(corrupt)?;
        let (size, rest) = match flag {
            DELETE | VALUE => (None, 17),
            SIZED_DELETE | SIZED_VALUE => (
                Some((u64::from_be_bytes(long(17)?), u64::from_be_bytes(long(25)?))),
                33,
            ),
            _ => return Err(corrupt()),
        };
        let value = match flag {
            VALUE | SIZED_VALUE => Some(bytes.get(rest..).ok_or_else(corrupt)?.to_vec()),
            _ => None,
        };
        Ok(Buffered {
            buffer_time,
            timestamp,
            size,
            value,
        })
    }
}

/// The size of a buffered update as Kafka's `InMemoryTimeOrderedKeyValueChangeBuffer` estimates
/// it (`computeRecordSize` with `BufferValue#residentMemorySizeEstimate`), which
/// `BufferConfig::max_bytes` bounds: the buffer time (8), the key, the key's prior value (its old
/// value when it entered the buffer), the update's old value unless this is the key's first
/// update in the buffer, its new value, and the record context: timestamp and offset (8 each), the
/// topic's length in UTF-16 units, the partition (4), and each header's name (UTF-16 units) and
/// value.
fn kafka_entry_size(
    key: usize,
    prior: usize,
    old: Option<usize>,
    new: usize,
    topic: Option<&str>,
    headers: &crate::record::Headers,
) -> usize {
    let context = 8
        + 8
        + topic.map_or(0, |t| t.encode_utf16().count())
        + 4
        + headers
            .iter()
            .map(|h| h.key.encode_utf16().count() + h.value.as_ref().map_or(0, Vec::len))
            .sum::<usize>();
    8 + key + prior + old.unwrap_or(0) + new + context
}

/// Buffers table updates per key and releases them by stream time, like Kafka's
/// `KTableSuppressProcessor` over an `InMemoryTimeOrderedKeyValueBuffer`.
struct SuppressProcessor<K, V> {
    store_name: Arc<str>,
    keys: Arc<dyn Serde<K>>,
    values: Arc<dyn Serde<V>>,
    emit_time: EmitTime<K>,
    drop_tombstones: bool,
    buffer: BufferConfig,
    observed_stream_time: i64,
    /// Buffered keys by buffer time, then key: release and eviction order.
    index: BTreeSet<(i64, Vec<u8>)>,
    /// Buffer time, size (as Kafka estimates it) and prior value's length of each buffered key.
    entries: HashMap<Vec<u8>, (i64, usize, usize)>,
    bytes: usize,
    store: Option<KeyValueStoreRef<Vec<u8>, Vec<u8>>>,
}

impl<K: Data, V: Data> SuppressProcessor<K, V> {
    fn remember(&mut self, key: Vec<u8>, buffer_time: i64, size: usize, prior: usize) {
        if let Some((old_time, old_size, _)) =
            self.entries.insert(key.clone(), (buffer_time, size, prior))
        {
            self.index.remove(&(old_time, key.clone()));
            self.bytes -= old_size;
        }
        self.index.insert((buffer_time, key));
        self.bytes += size;
    }

    fn full(&self) -> bool {
        self.buffer
            .max_records
            .is_some_and(|max| self.entries.len() > max)
            || self.buffer.max_bytes.is_some_and(|max| self.bytes > max)
    }

    /// Emits and removes the earliest buffered key.
    fn emit_first(&mut self, ctx: &mut ProcessorContext<'_, K, Change<V>>) -> Result<()> {
        let Some((_, key)) = self.index.pop_first() else {
            return Ok(());
        };
        if let Some((_, size, _)) = self.entries.remove(&key) {
            self.bytes -= size;
        }
        let store = initialized(&self.store, &self.store_name)?;
        let Some(entry) = store.delete(&key)? else {
            return Ok(());
        };
        let entry = Buffered::decode(&self.store_name, &entry)?;
        if entry.value.is_none() && self.drop_tombstones {
            return Ok(());
        }
        let record_key = de(&*self.keys, &self.store_name, "buffered key", key)?;
        let value = match entry.value {
            Some(bytes) => Some(de(
                &*self.values,
                &self.store_name,
                "buffered value",
                bytes,
            )?),
            None => None,
        };
        ctx.forward(Record::new(
            record_key,
            Change::new(value, None),
            entry.timestamp,
        ))
    }
}

impl<K: Data, V: Data> Processor<K, Change<V>, K, Change<V>> for SuppressProcessor<K, V> {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, Change<V>>) -> Result<()> {
        let store = ctx.key_value_store(&self.store_name, BytesSerde, BytesSerde)?;
        // Rebuild the buffer-time index from the (restored) buffer.
        for (key, entry) in store.all()? {
            let buffered = Buffered::decode(&self.store_name, &entry)?;
            let (size, prior) = buffered
                .size
                .map_or((key.len() + entry.len(), 0), |(size, prior)| {
                    (size as usize, prior as usize)
                });
            self.remember(key, buffered.buffer_time, size, prior);
        }
        self.store = Some(store);
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<K, Change<V>>,
        ctx: &mut ProcessorContext<'_, K, Change<V>>,
    ) -> Result<()> {
        self.observed_stream_time = self.observed_stream_time.max(record.timestamp);
        let key = ser(&*self.keys, &self.store_name, "buffered key", &record.key)?;
        // A value its serde makes null is buffered as a delete, as a `None` is.
        let value = match &record.value.new {
            Some(v) => self
                .values
                .serialize(&self.store_name, v)
                .map_err(|e| store_serde_error(&self.store_name, "buffered value", e))?,
            None => None,
        };
        let buffered = self.entries.get(&key).copied();
        // An update keeps its key's place in the buffer (Kafka's non-resetting semantics).
        let (buffer_time, delay) = match (&self.emit_time, buffered) {
            (EmitTime::WindowEnd(end, grace), _) => (end(&record.key), *grace),
            (EmitTime::AfterFirstUpdate(limit), Some((first, _, _))) => (first, *limit),
            (EmitTime::AfterFirstUpdate(limit), None) => (record.timestamp, *limit),
        };
        // The old value's length counts towards Kafka's size estimate: as the key's prior value
        // when it enters the buffer, as the update's old value after that.
        let old = match &record.value.old {
            Some(v) if self.buffer.max_bytes.is_some() => self
                .values
                .serialize(&self.store_name, v)
                .map_err(|e| store_serde_error(&self.store_name, "buffered value", e))?
                .map_or(0, |bytes| bytes.len()),
            _ => 0,
        };
        let (prior, old_counted) = match buffered {
            Some((_, _, prior)) => (prior, Some(old)),
            None => (old, None),
        };
        let size = kafka_entry_size(
            key.len(),
            prior,
            old_counted,
            value.as_ref().map_or(0, Vec::len),
            ctx.last_input_topic(),
            &record.headers,
        );
        let entry = Buffered {
            buffer_time,
            timestamp: record.timestamp,
            size: Some((size as u64, prior as u64)),
            value,
        }
        .encode();
        initialized(&self.store, &self.store_name)?.put(&key, &entry)?;
        self.remember(key, buffer_time, size, prior);
        // Compared as Kafka does, by buffer time against stream time minus the delay: adding the
        // delay to buffer times instead would saturate a `Duration::MAX`-like limit and lose the
        // order of the keys.
        let expiry = self.observed_stream_time.saturating_sub(delay);
        while self.index.first().is_some_and(|(time, _)| *time <= expiry) {
            self.emit_first(ctx)?;
        }
        while self.full() {
            if self.buffer.when_full == WhenFull::ShutDown {
                return Err(Error::Store {
                    store: self.store_name.to_string(),
                    message: format!(
                        "suppression buffer is full ({} records, {} bytes) and configured to shut down when full",
                        self.entries.len(),
                        self.bytes
                    ),
                });
            }
            self.emit_first(ctx)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::kafka_entry_size;
    use crate::record::Headers;

    /// Kafka's `TimeOrderedKeyValueBufferTest#shouldTrackSize`: record context of topic
    /// "topic", no headers, values without old values.
    #[test]
    fn entry_sizes_are_kafkas() {
        let headers = Headers::new();
        let put = |key: &str, prior: usize, old: Option<usize>, value: &str| {
            kafka_entry_size(key.len(), prior, old, value.len(), Some("topic"), &headers)
        };
        // ("asdf", "23roni") enters the buffer: 43 bytes.
        assert_eq!(put("asdf", 0, None, "23roni"), 43);
        // ("asdf", "3l") replaces it: the buffer holds 39.
        assert_eq!(put("asdf", 0, Some(0), "3l"), 39);
        // ("zxcv", "qfowin") joins it: 82.
        assert_eq!(39 + put("zxcv", 0, None, "qfowin"), 82);
        // `shouldEvictOldestAndUpdateSizeAndCountAndMinTimestamp`: ("zxcv", "o23i4") is 42,
        // with ("asdf", "3ng") 82.
        assert_eq!(put("zxcv", 0, None, "o23i4"), 42);
        assert_eq!(42 + put("asdf", 0, None, "3ng"), 82);
    }

    /// The prior value counts, the old value once the key is buffered, and so do the headers'
    /// names (in UTF-16 units, as Java's `toCharArray`) and values.
    #[test]
    fn prior_and_old_values_and_headers_count() {
        let headers = Headers::new().with("hé", b"abc".to_vec());
        // 8 + key 1 + prior 2 + old 3 + new 4 + (8 + 8 + 0 + 4) + header 2 + 3.
        assert_eq!(kafka_entry_size(1, 2, Some(3), 4, None, &headers), 43);
    }
}
