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

    /// At most `bytes` of keys and values buffered; emits early when full unless told otherwise.
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

/// One buffered update as stored: buffer time, record timestamp, then the value (absent for a
/// delete).
struct Buffered {
    buffer_time: i64,
    timestamp: i64,
    value: Option<Vec<u8>>,
}

impl Buffered {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(17 + self.value.as_ref().map_or(0, Vec::len));
        out.extend_from_slice(&self.buffer_time.to_be_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        match &self.value {
            Some(v) => {
                out.push(1);
                out.extend_from_slice(v);
            }
            None => out.push(0),
        }
        out
    }

    fn decode(store: &str, bytes: &[u8]) -> Result<Buffered> {
        let corrupt = || Error::Store {
            store: store.to_string(),
            message: format!("corrupt suppression buffer entry of {} bytes", bytes.len()),
        };
        let buffer_time = i64::from_be_bytes(
            bytes
                .get(..8)
                .ok_or_else(corrupt)?
                .try_into()
                .map_err(|_| corrupt())?,
        );
        let timestamp = i64::from_be_bytes(
            bytes
                .get(8..16)
                .ok_or_else(corrupt)?
                .try_into()
                .map_err(|_| corrupt())?,
        );
        let value = match bytes.get(16) {
            Some(1) => Some(bytes[17..].to_vec()),
            Some(0) => None,
            _ => return Err(corrupt()),
        };
        Ok(Buffered {
            buffer_time,
            timestamp,
            value,
        })
    }
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
    /// Buffer time and encoded size of each buffered key.
    entries: HashMap<Vec<u8>, (i64, usize)>,
    bytes: usize,
    store: Option<KeyValueStoreRef<Vec<u8>, Vec<u8>>>,
}

impl<K: Data, V: Data> SuppressProcessor<K, V> {
    fn remember(&mut self, key: Vec<u8>, buffer_time: i64, size: usize) {
        if let Some((old_time, old_size)) = self.entries.insert(key.clone(), (buffer_time, size)) {
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
        if let Some((_, size)) = self.entries.remove(&key) {
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
            let size = key.len() + entry.len();
            let buffer_time = Buffered::decode(&self.store_name, &entry)?.buffer_time;
            self.remember(key, buffer_time, size);
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
        // An update keeps its key's place in the buffer (Kafka's non-resetting semantics).
        let (buffer_time, delay) = match (&self.emit_time, self.entries.get(&key)) {
            (EmitTime::WindowEnd(end, grace), _) => (end(&record.key), *grace),
            (EmitTime::AfterFirstUpdate(limit), Some((first, _))) => (*first, *limit),
            (EmitTime::AfterFirstUpdate(limit), None) => (record.timestamp, *limit),
        };
        let entry = Buffered {
            buffer_time,
            timestamp: record.timestamp,
            value,
        }
        .encode();
        let size = key.len() + entry.len();
        initialized(&self.store, &self.store_name)?.put(&key, &entry)?;
        self.remember(key, buffer_time, size);
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
