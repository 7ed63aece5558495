//! The Processor API: the one mechanism every operator runs on, like Kafka Streams'
//! `org.apache.kafka.streams.processor.api`.
//!
//! A [`Processor`] receives typed records one at a time and forwards new records to its children
//! through its [`ProcessorContext`]. The DSL's `map`, `filter`, `split` and friends are
//! processors too; `KStream::process` plugs in your own. Processing is synchronous and
//! depth-first: `forward` returns once every downstream node has handled the record.

mod fixed_key;
pub(crate) mod node;
mod routing;
pub(crate) mod task;
mod timestamp;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::record::{Record, RecordMetadata};
use crate::serde::Serde;
use crate::state::{
    access, KeyValueStoreRef, SessionStoreRef, StoreHandle, TimestampedKeyValueStoreRef,
    WindowStoreRef,
};
pub(crate) use fixed_key::FixedKeyAdapter;
pub use fixed_key::{FixedKeyProcessor, FixedKeyProcessorContext, FixedKeyRecord};
use node::Children;
pub use routing::{RecordContext, StreamPartitioner, TopicNameExtractor};
use task::{Schedule, TaskContext};
pub use timestamp::TimestampExtractor;

/// Types that can flow through a topology: cloned when a record fans out to several children,
/// and moved between threads together with their task.
pub trait Data: Clone + Send + 'static {}

impl<T: Clone + Send + 'static> Data for T {}

/// Identifies a task: a sub-topology and the input partition it processes. Displayed as Kafka
/// does, `<subtopology>_<partition>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId {
    /// The sub-topology's id.
    pub subtopology: u32,
    /// The input partition.
    pub partition: i32,
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.subtopology, self.partition)
    }
}

/// Which clock drives a punctuation, as in Kafka.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PunctuationType {
    /// Stream time: the largest record timestamp the task has seen. Advances only with data.
    StreamTime,
    /// Wall-clock time: advances by itself (in the test driver, when you advance it).
    WallClockTime,
}

/// Names one scheduled punctuation, so that a processor with several schedules can tell them
/// apart in [`Processor::punctuate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PunctuationId(pub(crate) u64);

/// Handle to a scheduled punctuation; `cancel` stops it, like Kafka's `Cancellable`.
#[derive(Debug, Clone)]
pub struct Cancellable {
    id: PunctuationId,
    cancelled: Arc<AtomicBool>,
}

impl Cancellable {
    /// The id passed to [`Processor::punctuate`] for this schedule.
    pub fn id(&self) -> PunctuationId {
        self.id
    }

    /// Stops future punctuations of this schedule.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }
}

/// A record processor, like Kafka Streams' `api.Processor<KIn, VIn, KOut, VOut>`.
///
/// One instance exists per task; `KStream::process` takes a supplier closure that makes them.
/// Errors returned from any method stop the task and surface to the caller (in the test driver,
/// the `pipe_input` call), naming this node.
pub trait Processor<KIn, VIn, KOut, VOut>: Send + 'static {
    /// Called once before the first record; schedule punctuations here.
    fn init(&mut self, ctx: &mut ProcessorContext<'_, KOut, VOut>) -> Result<()> {
        let _ = ctx;
        Ok(())
    }

    /// Handles one record; forward results with [`ProcessorContext::forward`].
    fn process(
        &mut self,
        record: Record<KIn, VIn>,
        ctx: &mut ProcessorContext<'_, KOut, VOut>,
    ) -> Result<()>;

    /// Called when a punctuation scheduled with [`ProcessorContext::schedule`] is due.
    /// `timestamp` is the current stream time or wall-clock time, depending on the schedule.
    fn punctuate(
        &mut self,
        punctuation: PunctuationId,
        timestamp: i64,
        ctx: &mut ProcessorContext<'_, KOut, VOut>,
    ) -> Result<()> {
        let _ = (punctuation, timestamp, ctx);
        Ok(())
    }

    /// Called when the task commits (and before it closes), before the task's stores are
    /// flushed; parents are flushed before their children. The DSL's aggregations forward here
    /// what their record caches flush, as Kafka's do from their cache flush listeners; most
    /// processors have nothing to do.
    fn flush(&mut self, ctx: &mut ProcessorContext<'_, KOut, VOut>) -> Result<()> {
        let _ = ctx;
        Ok(())
    }

    /// Called once when the task closes.
    fn close(&mut self) -> Result<()> {
        Ok(())
    }
}

/// What a processor sees of its node and task, like Kafka's `api.ProcessorContext`.
pub struct ProcessorContext<'a, K, V> {
    node_id: usize,
    node_name: &'a str,
    stores: &'a [String],
    children: &'a mut Children<K, V>,
    task: &'a mut TaskContext,
}

impl<'a, K: Data, V: Data> ProcessorContext<'a, K, V> {
    pub(crate) fn new(
        node_id: usize,
        node_name: &'a str,
        stores: &'a [String],
        children: &'a mut Children<K, V>,
        task: &'a mut TaskContext,
    ) -> Self {
        ProcessorContext {
            node_id,
            node_name,
            stores,
            children,
            task,
        }
    }

    /// Sends `record` to every child of this node, in the order the children were added.
    pub fn forward(&mut self, record: Record<K, V>) -> Result<()> {
        self.children.forward(record, self.task)
    }

    /// Sends `record` to the child named `child` only.
    pub fn forward_to(&mut self, child: &str, record: Record<K, V>) -> Result<()> {
        match self.children.index_of(child) {
            Some(index) => self.children.forward_to_index(index, record, self.task),
            None => Err(Error::UnknownChild {
                node: self.node_name.to_string(),
                child: child.to_string(),
            }),
        }
    }

    /// Sends `record` to the child at `index` (see [`ProcessorContext::child_names`]).
    pub(crate) fn forward_to_index(&mut self, index: usize, record: Record<K, V>) -> Result<()> {
        self.children.forward_to_index(index, record, self.task)
    }

    /// The names of this node's children, in forwarding order.
    pub fn child_names(&self) -> Vec<&str> {
        self.children.names()
    }

    fn store(&self, name: &str) -> Result<&StoreHandle> {
        if !self.stores.iter().any(|s| s == name) {
            // Like Kafka's `getStateStore`: a global store is open to every processor.
            if let Some(global) = self.task.global_stores.get(name) {
                return Ok(global);
            }
            return Err(Error::InvalidArgument(format!(
                "processor `{}` has no access to state store `{name}`; connect it when adding the processor",
                self.node_name
            )));
        }
        self.task.stores.get(name).ok_or_else(|| {
            Error::InvalidArgument(format!("state store `{name}` is not part of this task"))
        })
    }

    /// The key-value store `name`, typed with the given serdes. The store must be connected to
    /// this processor (see `KStream::process_with_stores`), or be a global store (those are
    /// open to every processor, as in Kafka).
    pub fn key_value_store<KS: 'static, VS: 'static>(
        &self,
        name: &str,
        keys: impl Serde<KS>,
        values: impl Serde<VS>,
    ) -> Result<KeyValueStoreRef<KS, VS>> {
        access::key_value(name, self.store(name)?, Arc::new(keys), Arc::new(values))
    }

    /// The timestamped key-value store `name`, typed with the given serdes.
    pub fn timestamped_key_value_store<KS: 'static, VS: 'static>(
        &self,
        name: &str,
        keys: impl Serde<KS>,
        values: impl Serde<VS>,
    ) -> Result<TimestampedKeyValueStoreRef<KS, VS>> {
        access::timestamped(name, self.store(name)?, Arc::new(keys), Arc::new(values))
    }

    /// The versioned key-value store `name` (Kafka's `VersionedKeyValueStore`), typed with the
    /// given serdes.
    pub fn versioned_key_value_store<KS: 'static, VS: 'static>(
        &self,
        name: &str,
        keys: impl Serde<KS>,
        values: impl Serde<VS>,
    ) -> Result<crate::state::VersionedKeyValueStoreRef<KS, VS>> {
        access::versioned(name, self.store(name)?, Arc::new(keys), Arc::new(values))
    }

    /// The window store `name` of windows `window_size_ms` long, typed with the given serdes.
    pub fn window_store<KS: 'static, VS: 'static>(
        &self,
        name: &str,
        keys: impl Serde<KS>,
        values: impl Serde<VS>,
        window_size_ms: i64,
    ) -> Result<WindowStoreRef<KS, VS>> {
        access::window(
            name,
            self.store(name)?,
            Arc::new(keys),
            Arc::new(values),
            window_size_ms,
        )
    }

    /// The session store `name`, typed with the given serdes.
    pub fn session_store<KS: 'static, VS: 'static>(
        &self,
        name: &str,
        keys: impl Serde<KS>,
        values: impl Serde<VS>,
    ) -> Result<SessionStoreRef<KS, VS>> {
        access::session(name, self.store(name)?, Arc::new(keys), Arc::new(values))
    }

    /// Store `name` as the task holds it, for the DSL's value getters (which type it
    /// themselves).
    pub(crate) fn store_handle(&self, name: &str) -> Result<crate::state::StoreHandle> {
        self.store(name).cloned()
    }

    /// Typed stores for the DSL's own processors, which already hold shared serdes.
    pub(crate) fn timestamped_store_shared<KS: 'static, VS: 'static>(
        &self,
        name: &str,
        keys: Arc<dyn Serde<KS>>,
        values: Arc<dyn Serde<VS>>,
    ) -> Result<TimestampedKeyValueStoreRef<KS, VS>> {
        access::timestamped(name, self.store(name)?, keys, values)
    }

    /// The versioned store `name`, for the DSL's versioned tables.
    pub(crate) fn versioned_store_shared<KS: 'static, VS: 'static>(
        &self,
        name: &str,
        keys: Arc<dyn Serde<KS>>,
        values: Arc<dyn Serde<VS>>,
    ) -> Result<crate::state::VersionedKeyValueStoreRef<KS, VS>> {
        access::versioned(name, self.store(name)?, keys, values)
    }

    /// The timestamped window store `name`, for the DSL's windowed aggregations.
    pub(crate) fn timestamped_window_store_shared<KS: 'static, VS: 'static>(
        &self,
        name: &str,
        keys: Arc<dyn Serde<KS>>,
        values: Arc<dyn Serde<VS>>,
        window_size_ms: i64,
    ) -> Result<crate::state::TimestampedWindowStoreRef<KS, VS>> {
        access::timestamped_window(name, self.store(name)?, keys, values, window_size_ms)
    }

    /// The window store `name`, for the DSL's own processors.
    pub(crate) fn window_store_shared<KS: 'static, VS: 'static>(
        &self,
        name: &str,
        keys: Arc<dyn Serde<KS>>,
        values: Arc<dyn Serde<VS>>,
        window_size_ms: i64,
    ) -> Result<WindowStoreRef<KS, VS>> {
        access::window(name, self.store(name)?, keys, values, window_size_ms)
    }

    /// The session store `name`, for the DSL's session aggregations.
    pub(crate) fn session_store_shared<KS: 'static, VS: 'static>(
        &self,
        name: &str,
        keys: Arc<dyn Serde<KS>>,
        values: Arc<dyn Serde<VS>>,
    ) -> Result<SessionStoreRef<KS, VS>> {
        access::session(name, self.store(name)?, keys, values)
    }

    /// Notes that this processor flushes the record cache of store `name` itself at each commit
    /// (in its `flush`, forwarding what the cache held), so that the task's commit need not.
    pub(crate) fn flushes_cache(&mut self, name: &str) {
        self.task
            .caches_flushed_by_processors
            .push(name.to_string());
    }

    /// Notes that store `name` has no record cache (its processor found none to keep): the
    /// task's commits need not ask it to flush one.
    pub(crate) fn has_no_cache(&mut self, name: &str) {
        self.task.stores_without_cache.push(name.to_string());
    }

    /// The name of this processor's node in the topology.
    pub fn node_name(&self) -> &str {
        self.node_name
    }

    /// Topic, partition and offset of the input record being processed; `None` during a
    /// punctuation.
    pub fn record_metadata(&self) -> Option<&RecordMetadata> {
        self.task.in_record.then_some(&self.task.metadata)
    }

    /// The topic of the record being processed or, outside one (a record cache flushing at a
    /// commit, a punctuation), of the last record the task read: what Kafka's record context
    /// holds for a flushed cache entry in a sub-topology that reads one topic. (Kafka keeps each
    /// cache entry's own context; Rill's caches keep only its timestamp and headers.)
    pub(crate) fn last_input_topic(&self) -> Option<&str> {
        Some(&*self.task.metadata.topic).filter(|topic| !topic.is_empty())
    }

    /// Sets the timestamp that stores written from here on stamp their changelog records and
    /// cache entries with: the forwarded record's, when forwarding what a cache flushed (Kafka
    /// restores the cache entry's record context).
    pub(crate) fn set_record_timestamp(&mut self, timestamp: i64) {
        self.task.record_context.set_timestamp(timestamp);
    }

    /// The task's stream time: the largest timestamp it has processed, or -1 before any record.
    pub fn current_stream_time_ms(&self) -> i64 {
        self.task.stream_time
    }

    /// The task's wall-clock time in milliseconds (mocked by the test driver).
    pub fn current_system_time_ms(&self) -> i64 {
        self.task.wall_clock_ms
    }

    /// The application id (`application.id`).
    pub fn application_id(&self) -> &str {
        &self.task.application_id
    }

    /// The task this processor instance belongs to.
    pub fn task_id(&self) -> TaskId {
        self.task.task_id
    }

    /// Schedules [`Processor::punctuate`] every `interval`, like Kafka's `schedule`.
    ///
    /// Stream-time schedules are aligned to 0 and fire as soon as the task has seen data, then
    /// whenever stream time crosses the next multiple of `interval`; wall-clock schedules first
    /// fire `interval` after now. Missed intervals are skipped, not replayed. The interval must
    /// be at least one millisecond.
    pub fn schedule(&mut self, interval: Duration, kind: PunctuationType) -> Result<Cancellable> {
        let interval_ms = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
        if interval_ms < 1 {
            return Err(Error::InvalidArgument(format!(
                "punctuation interval must be at least 1 ms, got {interval:?} in node `{}`",
                self.node_name
            )));
        }
        let next_ms = match kind {
            PunctuationType::StreamTime => 0,
            PunctuationType::WallClockTime => self.task.wall_clock_ms.saturating_add(interval_ms),
        };
        let id = self.task.next_punctuation_id();
        let cancelled = Arc::new(AtomicBool::new(false));
        self.task.schedules.push(Schedule {
            node: self.node_id,
            id,
            kind,
            interval_ms,
            next_ms,
            cancelled: Arc::clone(&cancelled),
        });
        Ok(Cancellable { id, cancelled })
    }
}
