//! Processors that may change values but never keys, like Kafka Streams'
//! `api.FixedKeyProcessor`, `FixedKeyRecord` and `FixedKeyProcessorContext`.
//!
//! A [`FixedKeyRecord`] has no way to set its key: the key it forwards is the key it received.
//! Because of that, `KStream::process_values` keeps the stream's partitioning, and a keyed
//! operation downstream needs no repartition — unlike `KStream::process`, whose processor may
//! rekey. Underneath, a fixed-key processor runs as an ordinary [`Processor`] through an
//! adapter: one mechanism for every operator.

use std::time::Duration;

use super::TaskId;
use super::{Cancellable, Data, Processor, ProcessorContext, PunctuationId, PunctuationType};
use crate::error::Result;
use crate::record::{Headers, Record, RecordMetadata};
use crate::serde::Serde;
use crate::state::{
    KeyValueStoreRef, SessionStoreRef, TimestampedKeyValueStoreRef, WindowStoreRef,
};

/// A record whose key cannot be changed, like Kafka's `api.FixedKeyRecord`: a processor gets
/// one, and forwards it (or a copy with another value, timestamp or headers).
#[derive(Debug, Clone, PartialEq)]
pub struct FixedKeyRecord<K, V> {
    key: K,
    value: V,
    timestamp: i64,
    headers: Headers,
}

impl<K, V> FixedKeyRecord<K, V> {
    /// Wraps a record; only the crate makes them, so that a processor cannot forge a key.
    pub(crate) fn from_record(record: Record<K, V>) -> Self {
        FixedKeyRecord {
            key: record.key,
            value: record.value,
            timestamp: record.timestamp,
            headers: record.headers,
        }
    }

    pub(crate) fn into_record(self) -> Record<K, V> {
        Record {
            key: self.key,
            value: self.value,
            timestamp: self.timestamp,
            headers: self.headers,
        }
    }

    /// The key.
    pub fn key(&self) -> &K {
        &self.key
    }

    /// The value.
    pub fn value(&self) -> &V {
        &self.value
    }

    /// The timestamp in milliseconds since the epoch.
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// The headers.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The same record with another value (and possibly another value type).
    pub fn with_value<V2>(self, value: V2) -> FixedKeyRecord<K, V2> {
        FixedKeyRecord {
            key: self.key,
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

/// A processor that keeps keys, like Kafka Streams' `api.FixedKeyProcessor<K, VIn, VOut>`;
/// plug it in with `KStream::process_values`. One instance exists per task.
pub trait FixedKeyProcessor<K, VIn, VOut>: Send + 'static {
    /// Called once before the first record; schedule punctuations here.
    fn init(&mut self, ctx: &mut FixedKeyProcessorContext<'_, '_, K, VOut>) -> Result<()> {
        let _ = ctx;
        Ok(())
    }

    /// Handles one record; forward results with [`FixedKeyProcessorContext::forward`].
    fn process(
        &mut self,
        record: FixedKeyRecord<K, VIn>,
        ctx: &mut FixedKeyProcessorContext<'_, '_, K, VOut>,
    ) -> Result<()>;

    /// Called when a punctuation scheduled with [`FixedKeyProcessorContext::schedule`] is due.
    fn punctuate(
        &mut self,
        punctuation: PunctuationId,
        timestamp: i64,
        ctx: &mut FixedKeyProcessorContext<'_, '_, K, VOut>,
    ) -> Result<()> {
        let _ = (punctuation, timestamp, ctx);
        Ok(())
    }

    /// Called when the task commits, as [`Processor::flush`].
    fn flush(&mut self, ctx: &mut FixedKeyProcessorContext<'_, '_, K, VOut>) -> Result<()> {
        let _ = ctx;
        Ok(())
    }

    /// Called once when the task closes.
    fn close(&mut self) -> Result<()> {
        Ok(())
    }
}

/// What a [`FixedKeyProcessor`] sees of its node and task, like Kafka's
/// `api.FixedKeyProcessorContext`: a [`ProcessorContext`] that forwards only
/// [`FixedKeyRecord`]s.
pub struct FixedKeyProcessorContext<'c, 'a, K, V> {
    inner: &'c mut ProcessorContext<'a, K, V>,
}

impl<K: Data, V: Data> FixedKeyProcessorContext<'_, '_, K, V> {
    /// Sends `record` to every child of this node.
    pub fn forward(&mut self, record: FixedKeyRecord<K, V>) -> Result<()> {
        self.inner.forward(record.into_record())
    }

    /// Sends `record` to the child named `child` only.
    pub fn forward_to(&mut self, child: &str, record: FixedKeyRecord<K, V>) -> Result<()> {
        self.inner.forward_to(child, record.into_record())
    }

    /// The names of this node's children, in forwarding order.
    pub fn child_names(&self) -> Vec<&str> {
        self.inner.child_names()
    }

    /// The key-value store `name` (see [`ProcessorContext::key_value_store`]).
    pub fn key_value_store<KS: 'static, VS: 'static>(
        &self,
        name: &str,
        keys: impl Serde<KS>,
        values: impl Serde<VS>,
    ) -> Result<KeyValueStoreRef<KS, VS>> {
        self.inner.key_value_store(name, keys, values)
    }

    /// The timestamped key-value store `name`.
    pub fn timestamped_key_value_store<KS: 'static, VS: 'static>(
        &self,
        name: &str,
        keys: impl Serde<KS>,
        values: impl Serde<VS>,
    ) -> Result<TimestampedKeyValueStoreRef<KS, VS>> {
        self.inner.timestamped_key_value_store(name, keys, values)
    }

    /// The window store `name` of windows `window_size_ms` long.
    pub fn window_store<KS: 'static, VS: 'static>(
        &self,
        name: &str,
        keys: impl Serde<KS>,
        values: impl Serde<VS>,
        window_size_ms: i64,
    ) -> Result<WindowStoreRef<KS, VS>> {
        self.inner.window_store(name, keys, values, window_size_ms)
    }

    /// The session store `name`.
    pub fn session_store<KS: 'static, VS: 'static>(
        &self,
        name: &str,
        keys: impl Serde<KS>,
        values: impl Serde<VS>,
    ) -> Result<SessionStoreRef<KS, VS>> {
        self.inner.session_store(name, keys, values)
    }

    /// The name of this processor's node in the topology.
    pub fn node_name(&self) -> &str {
        self.inner.node_name()
    }

    /// Topic, partition and offset of the input record; `None` during a punctuation.
    pub fn record_metadata(&self) -> Option<&RecordMetadata> {
        self.inner.record_metadata()
    }

    /// The task's stream time, or -1 before any record.
    pub fn current_stream_time_ms(&self) -> i64 {
        self.inner.current_stream_time_ms()
    }

    /// The task's wall-clock time in milliseconds.
    pub fn current_system_time_ms(&self) -> i64 {
        self.inner.current_system_time_ms()
    }

    /// The application id.
    pub fn application_id(&self) -> &str {
        self.inner.application_id()
    }

    /// The task this processor instance belongs to.
    pub fn task_id(&self) -> TaskId {
        self.inner.task_id()
    }

    /// Schedules [`FixedKeyProcessor::punctuate`] every `interval` (see
    /// [`ProcessorContext::schedule`]).
    pub fn schedule(&mut self, interval: Duration, kind: PunctuationType) -> Result<Cancellable> {
        self.inner.schedule(interval, kind)
    }
}

/// Runs a [`FixedKeyProcessor`] as a [`Processor`] whose output key type is its input's.
pub(crate) struct FixedKeyAdapter<P>(pub(crate) P);

impl<K, VIn, VOut, P> Processor<K, VIn, K, VOut> for FixedKeyAdapter<P>
where
    K: Data,
    VIn: 'static,
    VOut: Data,
    P: FixedKeyProcessor<K, VIn, VOut>,
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, VOut>) -> Result<()> {
        self.0.init(&mut FixedKeyProcessorContext { inner: ctx })
    }

    #[inline]
    fn process(
        &mut self,
        record: Record<K, VIn>,
        ctx: &mut ProcessorContext<'_, K, VOut>,
    ) -> Result<()> {
        self.0.process(
            FixedKeyRecord::from_record(record),
            &mut FixedKeyProcessorContext { inner: ctx },
        )
    }

    fn punctuate(
        &mut self,
        punctuation: PunctuationId,
        timestamp: i64,
        ctx: &mut ProcessorContext<'_, K, VOut>,
    ) -> Result<()> {
        self.0.punctuate(
            punctuation,
            timestamp,
            &mut FixedKeyProcessorContext { inner: ctx },
        )
    }

    fn flush(&mut self, ctx: &mut ProcessorContext<'_, K, VOut>) -> Result<()> {
        self.0.flush(&mut FixedKeyProcessorContext { inner: ctx })
    }

    fn close(&mut self) -> Result<()> {
        self.0.close()
    }
}
