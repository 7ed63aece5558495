//! A task runs one sub-topology for one input partition, like Kafka's `StreamTask`: it owns the
//! instantiated nodes, tracks stream time, fires punctuations and collects the records its sinks
//! produce. It is plain synchronous code; whoever owns it (the test driver, or the runtime's
//! stream thread) feeds it records and ships its output.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use std::sync::Mutex;

use streams_state::{
    ChangelogWriter, RecordContext, RocksDbResources, StateDirectory, StoreContext,
};

use super::node::{NodeId, NodeOp, SourceDriver};
use super::{PunctuationId, PunctuationType, TaskId};
use crate::config::ProcessingHandler;
use crate::error::{Error, Result};
use crate::record::packed::Packed;
use crate::record::{ConsumedRecord, Headers, ProducedRecord, RecordMetadata};
use crate::state::{GlobalStores, StoreHandle};

/// Stream time before the task has seen any record, as in Kafka.
pub(crate) const UNKNOWN_STREAM_TIME: i64 = -1;

/// Changelog records a task writes before a commit also flushes its stores durably (so that a
/// checkpoint may be written): Kafka's `OFFSET_DELTA_THRESHOLD_FOR_CHECKPOINT`. Between two such
/// flushes a crash loses at most this many records' worth of store writes, which restoring from
/// the last checkpoint replays from the changelog.
pub const FLUSH_DELTA_RECORDS: u64 = 10_000;

/// A source node of a task, the (resolved) topics it reads and, for a pattern source, the
/// pattern further topics may match.
pub(crate) type TaskSource = (Vec<Arc<str>>, Option<regex::Regex>, Box<dyn SourceDriver>);

/// One scheduled punctuation.
pub(crate) struct Schedule {
    pub(crate) node: NodeId,
    pub(crate) id: PunctuationId,
    pub(crate) kind: PunctuationType,
    pub(crate) interval_ms: i64,
    pub(crate) next_ms: i64,
    pub(crate) cancelled: Arc<std::sync::atomic::AtomicBool>,
}

impl Schedule {
    /// The next due time after firing at `now`: one interval on, skipping missed intervals
    /// rather than firing a burst, as Kafka's `PunctuationSchedule::next` does.
    fn advance(&mut self, now: i64) {
        let next = self.next_ms.saturating_add(self.interval_ms);
        self.next_ms = if now >= next {
            let missed = (now - self.next_ms) / self.interval_ms;
            self.next_ms
                .saturating_add((missed + 1).saturating_mul(self.interval_ms))
        } else {
            next
        };
    }
}

/// Collects a task's changelog writes as records for their topics, in write order per topic,
/// packed (see [`Packed`](crate::internals::Packed)): the task's side of `streams-state`'s
/// `ChangelogWriter`, like Kafka's `RecordCollector` for changelogs. A store write costs a copy of
/// its key and value into the topic's buffer, and the buffer goes on as one batch.
#[derive(Default)]
pub(crate) struct ChangelogCollector {
    inner: Mutex<Collected>,
    /// Records sent since the task's stores were last flushed durably. Only changed with
    /// `inner` locked, so plain loads and stores suffice; the task reads it at every commit
    /// without taking the lock.
    since_flush: AtomicU64,
    /// Whether records were sent since the last drain, set the same way: a task whose stores
    /// wrote nothing (every stateless task) drains without taking the lock.
    pending: AtomicBool,
}

#[derive(Default)]
struct Collected {
    /// The changelog topics written so far, in a fixed order.
    topics: Vec<Arc<str>>,
    /// Per topic, by the same index, its records not yet handed on.
    batches: Vec<Batch>,
    /// The index in `topics` of the last topic written: a task's stores write runs of records
    /// to one changelog.
    last: usize,
}

/// Packed records for one changelog topic, and how many there are.
#[derive(Default)]
struct Batch {
    packed: Vec<u8>,
    count: usize,
}

impl ChangelogCollector {
    fn lock(&self) -> std::sync::MutexGuard<'_, Collected> {
        // Pushing a record cannot leave the vector half-updated: recover from a poisoned lock.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ChangelogWriter for ChangelogCollector {
    fn send(
        &self,
        topic: &Arc<str>,
        partition: i32,
        key: &[u8],
        value: Option<&[u8]>,
        timestamp: i64,
    ) -> streams_state::Result<()> {
        let mut collected = self.lock();
        let collected = &mut *collected;
        let last = collected.last;
        // A store passes its topic's same `Arc` every time: a pointer comparison finds it.
        let index = if collected
            .topics
            .get(last)
            .is_some_and(|t| Arc::ptr_eq(t, topic))
        {
            last
        } else {
            let index = index_of(&mut collected.topics, topic) as usize;
            collected
                .batches
                .resize_with(collected.topics.len(), Batch::default);
            index
        };
        collected.last = index;
        let sent = self.since_flush.load(Ordering::Relaxed);
        self.since_flush.store(sent + 1, Ordering::Relaxed);
        self.pending.store(true, Ordering::Relaxed);
        let changelog = &mut collected.batches[index];
        Packed {
            timestamp,
            partition: Some(partition),
            key: Some(key),
            value,
        }
        .push(&mut changelog.packed);
        changelog.count += 1;
        Ok(())
    }
}

/// What a task's stores are built from and write through: the store context (state directory,
/// RocksDB resources, identity), the changelog collector and the shared record context.
pub struct TaskStores {
    pub(crate) context: StoreContext,
    pub(crate) changelog: Arc<ChangelogCollector>,
    pub(crate) record_context: RecordContext,
    /// The instance's global stores, which the task's processors may read.
    pub(crate) global_stores: GlobalStores,
    /// How many partitions a topic has, for sinks with a stream partitioner; `None` answers 1
    /// for every topic, as Kafka's `TopologyTestDriver` does.
    pub(crate) partition_counts: Option<PartitionCounts>,
}

/// Looks up a topic's partition count (`None`: unknown topic), for a sink's stream partitioner.
pub type PartitionCounts = Arc<dyn Fn(&str) -> Option<i32> + Send + Sync>;

impl TaskStores {
    /// Stores for `task_id` of `application_id`: persistent ones under `state` (with shared
    /// RocksDB resources), or in-memory only when `state` is `None`; each store with caching
    /// enabled gets a record cache of `cache_bytes_per_store` (0: none), the owner's share of
    /// `statestore.cache.max.bytes`.
    pub fn new(
        application_id: &str,
        task_id: TaskId,
        state: Option<(StateDirectory, RocksDbResources)>,
        cache_bytes_per_store: usize,
    ) -> Self {
        Self::in_directory(
            application_id,
            &task_id.to_string(),
            task_id.partition,
            state,
            cache_bytes_per_store,
        )
    }

    /// Stores of the global sub-topologies: persistent ones under
    /// `state.dir/<application.id>/global/` (Kafka's global state directory), no record cache.
    pub fn global(application_id: &str, state: Option<(StateDirectory, RocksDbResources)>) -> Self {
        Self::in_directory(application_id, GLOBAL_DIRECTORY, 0, state, 0)
    }

    /// Tells the task's sinks how many partitions each topic has (what a stream partitioner
    /// is given), as Kafka's record collector asks the producer.
    pub fn with_partition_counts(mut self, partition_counts: PartitionCounts) -> Self {
        self.partition_counts = Some(partition_counts);
        self
    }

    /// Lets the task's processors read the instance's global stores.
    pub fn with_global_stores(mut self, global_stores: GlobalStores) -> Self {
        self.global_stores = global_stores;
        self
    }

    fn in_directory(
        application_id: &str,
        directory_name: &str,
        partition: i32,
        state: Option<(StateDirectory, RocksDbResources)>,
        cache_bytes_per_store: usize,
    ) -> Self {
        let changelog = Arc::new(ChangelogCollector::default());
        let record_context = RecordContext::new();
        let context = match state {
            Some((directory, rocksdb)) => {
                StoreContext::new(directory, directory_name.to_string(), partition, rocksdb)
            }
            None => StoreContext::in_memory(application_id, directory_name.to_string(), partition),
        };
        let context = context
            .with_changelog(Arc::clone(&changelog) as Arc<dyn ChangelogWriter>)
            .with_record_context(record_context.clone())
            .with_cache_max_bytes(cache_bytes_per_store);
        TaskStores {
            context,
            changelog,
            record_context,
            global_stores: GlobalStores::default(),
            partition_counts: None,
        }
    }
}

/// The directory of the global stores and their checkpoint under `state.dir/<application.id>/`,
/// as in Kafka Streams.
pub const GLOBAL_DIRECTORY: &str = "global";

/// Per-task state every node can reach while processing.
pub(crate) struct TaskContext {
    pub(crate) application_id: Arc<str>,
    pub(crate) task_id: TaskId,
    /// Topic, partition and offset of the input record being processed, when `in_record`. Kept
    /// between records: its topic is replaced only when a record comes from another topic.
    pub(crate) metadata: RecordMetadata,
    pub(crate) in_record: bool,
    pub(crate) stream_time: i64,
    pub(crate) wall_clock_ms: i64,
    pub(crate) schedules: Vec<Schedule>,
    pub(crate) stores: HashMap<String, StoreHandle>,
    /// The instance's global stores, readable by every processor without connecting them.
    pub(crate) global_stores: GlobalStores,
    /// The timestamp the task's stores stamp writes with (shared with them).
    pub(crate) record_context: RecordContext,
    /// The stores whose record caches their processors flush at each commit.
    pub(crate) caches_flushed_by_processors: Vec<String>,
    /// The stores their processors found without a record cache.
    pub(crate) stores_without_cache: Vec<String>,
    /// Partition counts of the topics sinks write (see [`TaskStores::with_partition_counts`]).
    partition_counts: Option<PartitionCounts>,
    next_punctuation: u64,
    output: Vec<ProducedRecord>,
    /// The topics the task's sinks write to, by index.
    output_topics: Vec<Arc<str>>,
}

/// The index of `topic` in `topics`, added if new. A name found by value takes `topic`'s `Arc`
/// (a store built anew passes another one), so that pointers find it from then on.
fn index_of(topics: &mut Vec<Arc<str>>, topic: &Arc<str>) -> u32 {
    let index = match topics
        .iter()
        .position(|t| Arc::ptr_eq(t, topic) || t == topic)
    {
        Some(index) => {
            if !Arc::ptr_eq(&topics[index], topic) {
                topics[index] = Arc::clone(topic);
            }
            index
        }
        None => {
            topics.push(Arc::clone(topic));
            topics.len() - 1
        }
    };
    index as u32
}

impl TaskContext {
    pub(crate) fn next_punctuation_id(&mut self) -> PunctuationId {
        self.next_punctuation += 1;
        PunctuationId(self.next_punctuation)
    }

    /// The index of `topic` in the task's output topics, added if new: what a sink collects its
    /// records with.
    pub(crate) fn output_topic(&mut self, topic: &Arc<str>) -> u32 {
        index_of(&mut self.output_topics, topic)
    }

    /// How many partitions `topic` has: 1 in the test driver (as in Kafka's), as the runtime
    /// knows it otherwise.
    pub(crate) fn partition_count(&self, topic: &str) -> Option<i32> {
        match &self.partition_counts {
            Some(counts) => counts(topic),
            None => Some(1),
        }
    }

    /// Queues a record for the output topic at index `topic` (and `partition`, if the sink
    /// chose one): the task's record collector.
    pub(crate) fn collect(
        &mut self,
        topic: u32,
        partition: Option<i32>,
        key: Option<Vec<u8>>,
        value: Option<Vec<u8>>,
        timestamp: i64,
        headers: Headers,
    ) {
        self.output.push(ProducedRecord {
            topic,
            partition,
            key,
            value,
            timestamp,
            headers,
        });
    }
}

/// A sub-topology instantiated for one partition.
pub struct Task {
    sources: Vec<Box<dyn SourceDriver>>,
    /// Topic → index in `sources`. A task reads a handful of topics, so a scan (pointer
    /// comparison first) beats hashing the name of every record's topic.
    source_by_topic: Vec<(Arc<str>, usize)>,
    /// The patterns of pattern sources → index in `sources`: a topic not in `source_by_topic`
    /// that matches one is read by that source (and added to `source_by_topic`).
    source_patterns: Vec<(regex::Regex, usize)>,
    ctx: TaskContext,
    changelog: Arc<ChangelogCollector>,
    /// The stores a commit flushes the record caches of: all but those the processors flush
    /// themselves and those their processors found without a cache (known once the processors
    /// are initialized).
    commit_flushes: Vec<StoreHandle>,
    running: bool,
    /// Whether any processor flushes at a commit (see `Node::flushes`); settled at init.
    flush_walk: bool,
    /// `processing.exception.handler`, which punctuations are subject to too (KIP-1033).
    processing_handler: ProcessingHandler,
    /// Punctuations whose failure the handler logged and skipped since the last
    /// [`take_skipped_punctuations`](Task::take_skipped_punctuations).
    skipped_punctuations: u64,
}

impl Task {
    pub(crate) fn new(
        application_id: Arc<str>,
        task_id: TaskId,
        sources: Vec<TaskSource>,
        wall_clock_ms: i64,
        stores: HashMap<String, StoreHandle>,
        task_stores: &TaskStores,
    ) -> Self {
        let mut source_by_topic = Vec::new();
        let mut source_patterns = Vec::new();
        let mut drivers = Vec::with_capacity(sources.len());
        for (index, (topics, pattern, driver)) in sources.into_iter().enumerate() {
            for topic in topics {
                source_by_topic.push((topic, index));
            }
            if let Some(pattern) = pattern {
                source_patterns.push((pattern, index));
            }
            drivers.push(driver);
        }
        Task {
            sources: drivers,
            source_by_topic,
            source_patterns,
            ctx: TaskContext {
                application_id,
                task_id,
                metadata: RecordMetadata {
                    topic: Arc::from(""),
                    partition: 0,
                    offset: 0,
                },
                in_record: false,
                stream_time: UNKNOWN_STREAM_TIME,
                wall_clock_ms,
                schedules: Vec::new(),
                stores,
                global_stores: Arc::clone(&task_stores.global_stores),
                record_context: task_stores.record_context.clone(),
                caches_flushed_by_processors: Vec::new(),
                stores_without_cache: Vec::new(),
                partition_counts: task_stores.partition_counts.clone(),
                next_punctuation: 0,
                output: Vec::new(),
                output_topics: Vec::new(),
            },
            changelog: Arc::clone(&task_stores.changelog),
            commit_flushes: Vec::new(),
            running: false,
            flush_walk: false,
            processing_handler: ProcessingHandler::default(),
            skipped_punctuations: 0,
        }
    }

    /// Applies `processing.exception.handler` to the task's punctuations (Kafka 4.0, KIP-1033):
    /// with `LogAndContinue`, a punctuator that fails is logged and counted (see
    /// [`take_skipped_punctuations`](Self::take_skipped_punctuations)) and the other due
    /// punctuations still fire; with `LogAndFail` (the default) the error is returned.
    pub fn set_processing_handler(&mut self, handler: ProcessingHandler) {
        self.processing_handler = handler;
    }

    /// How many failed punctuations the processing exception handler skipped since the last
    /// call (Kafka counts them in `dropped-records`).
    pub fn take_skipped_punctuations(&mut self) -> u64 {
        std::mem::take(&mut self.skipped_punctuations)
    }

    /// The topics this task reads (internal ones with their application-id prefix). Handing
    /// [`process`](Self::process) these very names spares it comparing strings.
    pub fn input_topics(&self) -> impl Iterator<Item = &Arc<str>> {
        self.source_by_topic.iter().map(|(t, _)| t)
    }

    /// Whether this task reads `topic`: one of its source topics, or a topic matching the
    /// pattern of one of its pattern sources.
    pub fn reads(&self, topic: &str) -> bool {
        self.source_by_topic.iter().any(|(t, _)| &**t == topic)
            || self.source_patterns.iter().any(|(p, _)| p.is_match(topic))
    }

    fn source_index(&mut self, topic: &Arc<str>) -> Option<usize> {
        let known = self
            .source_by_topic
            .iter()
            .find(|(t, _)| Arc::ptr_eq(t, topic))
            .or_else(|| self.source_by_topic.iter().find(|(t, _)| t == topic))
            .map(|(_, index)| *index);
        if known.is_some() || self.source_patterns.is_empty() {
            return known;
        }
        let index = self
            .source_patterns
            .iter()
            .find(|(pattern, _)| pattern.is_match(topic))
            .map(|(_, index)| *index)?;
        self.source_by_topic.push((Arc::clone(topic), index));
        Some(index)
    }

    /// Initializes every processor (in topology order); punctuations may be scheduled here.
    pub fn init(&mut self) -> Result<()> {
        if !self.running {
            self.running = true;
            self.walk(NodeOp::Init)?;
            self.flush_walk = self.sources.iter().any(|source| source.flushes());
            // A commit flushes the caches no processor flushes itself, of the stores that have one.
            let ctx = &self.ctx;
            self.commit_flushes = ctx
                .stores
                .iter()
                .filter(|(name, _)| {
                    !ctx.caches_flushed_by_processors.contains(name)
                        && !ctx.stores_without_cache.contains(name)
                })
                .map(|(_, store)| store.clone())
                .collect();
        }
        Ok(())
    }

    /// Processes one input record, read from `topic`, depth-first through the sub-topology.
    pub fn process(&mut self, topic: &Arc<str>, record: ConsumedRecord) -> Result<()> {
        let index = self
            .source_index(topic)
            .ok_or_else(|| Error::UnknownTopic(topic.to_string()))?;
        // A source with its own timestamp extractor validates and applies the timestamp it
        // extracts, once it has deserialized the record (see `SourceDriver::process_raw`).
        if !self.sources[index].extracts_timestamps() {
            if record.timestamp < 0 {
                return Err(Error::InvalidTimestamp {
                    topic: topic.to_string(),
                    partition: record.partition,
                    offset: record.offset,
                    timestamp: record.timestamp,
                });
            }
            self.ctx.stream_time = self.ctx.stream_time.max(record.timestamp);
            self.ctx.record_context.set_timestamp(record.timestamp);
        }
        let metadata = &mut self.ctx.metadata;
        if !Arc::ptr_eq(&metadata.topic, topic) {
            metadata.topic = Arc::clone(topic);
        }
        metadata.partition = record.partition;
        metadata.offset = record.offset;
        self.ctx.in_record = true;
        let result = self.sources[index].process_raw(topic, record, &mut self.ctx);
        self.ctx.in_record = false;
        result
    }

    /// Fires the stream-time punctuations that are due; returns whether any fired.
    pub fn maybe_punctuate_stream_time(&mut self) -> Result<bool> {
        if self.ctx.stream_time == UNKNOWN_STREAM_TIME {
            return Ok(false);
        }
        let now = self.ctx.stream_time;
        self.punctuate(PunctuationType::StreamTime, now)
    }

    /// Moves the task's wall clock to `now_ms` and fires the wall-clock punctuations that are
    /// due; returns whether any fired.
    pub fn maybe_punctuate_wall_clock(&mut self, now_ms: i64) -> Result<bool> {
        self.ctx.wall_clock_ms = self.ctx.wall_clock_ms.max(now_ms);
        let now = self.ctx.wall_clock_ms;
        self.punctuate(PunctuationType::WallClockTime, now)
    }

    /// Moves the records the task's sinks produced since the last call into `out`; their
    /// topics are indexes in [`output_topics`](Self::output_topics).
    pub fn drain_output(&mut self, out: &mut Vec<ProducedRecord>) {
        out.append(&mut self.ctx.output);
    }

    /// Hands on the changelog records the task's stores wrote since the last call: for each
    /// changelog topic with any, `send` gets the topic's index (fixed for the task's life), its
    /// name, its records packed (see [`Packed`](crate::internals::Packed)) and how many there are.
    /// Stops at the first error, which it returns; the records are handed on at most once.
    pub fn drain_changelog<E>(
        &mut self,
        mut send: impl FnMut(usize, &Arc<str>, &[u8], usize) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        if !self.changelog.pending.load(Ordering::Relaxed) {
            return Ok(());
        }
        let mut collected = self.changelog.lock();
        self.changelog.pending.store(false, Ordering::Relaxed);
        let collected = &mut *collected;
        let mut result = Ok(());
        for (index, (name, batch)) in collected
            .topics
            .iter()
            .zip(&mut collected.batches)
            .enumerate()
        {
            if batch.count > 0 && result.is_ok() {
                result = send(index, name, &batch.packed, batch.count);
            }
            batch.packed.clear();
            batch.count = 0;
        }
        result
    }

    /// The topics of the records [`drain_output`](Self::drain_output) hands out, by index.
    pub fn output_topics(&self) -> &[Arc<str>] {
        &self.ctx.output_topics
    }

    /// The first step of a commit that checkpoints, like Kafka's `StreamTask::prepareCommit`
    /// followed by a store flush: every processor flushes (those that own a record cache flush it
    /// and forward what it held, parents before children, so downstream caches take those
    /// updates into this same commit), then every store flushes durably (writing what is left in
    /// caches, the changelog writes, and the store's own files), after which a checkpoint of the
    /// changelog offsets may be written. Records forwarded here land in the task's output like
    /// any other.
    pub fn flush_stores(&mut self) -> Result<()> {
        self.walk(NodeOp::Flush)?;
        self.flush_stores_durably()
    }

    /// The store part of a commit, like Kafka's `StreamTask::prepareCommit` and `postCommit`:
    /// every processor flushes and every record cache is flushed (its entries reach the stores,
    /// their changelogs and downstream processors); the stores themselves are flushed durably only once
    /// [`FLUSH_DELTA_RECORDS`] changelog records have been written since the last time, as Kafka
    /// checkpoints. Returns whether they were, i.e. whether a checkpoint may now be written.
    pub fn commit_stores(&mut self) -> Result<bool> {
        if self.flush_walk {
            self.walk(NodeOp::Flush)?;
        }
        for store in &self.commit_flushes {
            store.flush_cache()?;
        }
        if self.changelog.since_flush.load(Ordering::Relaxed) < FLUSH_DELTA_RECORDS {
            return Ok(false);
        }
        self.flush_stores_durably()?;
        Ok(true)
    }

    /// Flushes every store durably (what is left in caches, changelog writes, the store's own
    /// files) and starts counting changelog records anew.
    fn flush_stores_durably(&mut self) -> Result<()> {
        for store in self.ctx.stores.values() {
            store.flush()?;
        }
        let _collected = self.changelog.lock();
        self.changelog.since_flush.store(0, Ordering::Relaxed);
        Ok(())
    }

    /// A store of this task, for inspection.
    pub fn store(&self, name: &str) -> Option<&StoreHandle> {
        self.ctx.stores.get(name)
    }

    /// Every store of this task, by name.
    pub fn stores(&self) -> &HashMap<String, StoreHandle> {
        &self.ctx.stores
    }

    /// Closes every processor, after a last flush (see [`flush_stores`](Self::flush_stores)):
    /// what the record caches still held is forwarded first, and lands in the task's output.
    pub fn close(&mut self) -> Result<()> {
        if self.running {
            self.running = false;
            // A failing flush (e.g. after a processing error) must not keep the processors and
            // stores open: they close regardless, and the flush's error is reported.
            let flushed = self.walk(NodeOp::Flush);
            self.walk(NodeOp::Close)?;
            for store in self.ctx.stores.values() {
                store.close()?;
            }
            flushed?;
        }
        Ok(())
    }

    fn walk(&mut self, op: NodeOp) -> Result<bool> {
        for source in &mut self.sources {
            if source.visit(op, &mut self.ctx)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn punctuate(&mut self, kind: PunctuationType, now: i64) -> Result<bool> {
        if self.ctx.schedules.is_empty() {
            return Ok(false); // the common case, checked after every record
        }
        self.ctx
            .schedules
            .retain(|s| !s.cancelled.load(Ordering::Relaxed));
        let mut fired = false;
        // Index loop: a punctuation may schedule more punctuations.
        let mut i = 0;
        while i < self.ctx.schedules.len() {
            let schedule = &mut self.ctx.schedules[i];
            i += 1;
            if schedule.kind != kind
                || schedule.next_ms > now
                || schedule.cancelled.load(Ordering::Relaxed)
            {
                continue;
            }
            schedule.advance(now);
            self.ctx.record_context.set_timestamp(now);
            let op = NodeOp::Punctuate {
                node: schedule.node,
                id: schedule.id,
                timestamp: now,
            };
            match self.walk(op) {
                Ok(_) => {}
                // Kafka's `StreamTask#punctuate`: a punctuator's error goes to the processing
                // exception handler, which may skip it.
                Err(e @ Error::Processor { .. })
                    if self.processing_handler == ProcessingHandler::LogAndContinue =>
                {
                    tracing::warn!(task = %self.ctx.task_id, error = %e, punctuation = ?kind,
                        "skipping a failed punctuation (LogAndContinueProcessingExceptionHandler)");
                    self.skipped_punctuations += 1;
                }
                Err(e) => return Err(e),
            }
            fired = true;
        }
        Ok(fired)
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        if self.running {
            if let Err(e) = self.close() {
                tracing::warn!(task = %self.ctx.task_id, error = %e, "error closing task");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(next_ms: i64, interval_ms: i64) -> Schedule {
        Schedule {
            node: 0,
            id: PunctuationId(1),
            kind: PunctuationType::StreamTime,
            interval_ms,
            next_ms,
            cancelled: Arc::default(),
        }
    }

    /// A task counting by key into an in-memory store, changelogged.
    fn counting_task() -> Task {
        use crate::prelude::*;
        let builder = StreamsBuilder::new();
        builder
            .stream("in", Consumed::with(Serdes::string(), Serdes::string()))
            .group_by_key(Grouped::with(Serdes::string(), Serdes::string()))
            .count(Materialized::as_("counts").with_in_memory())
            .to_stream()
            .to(
                "out",
                Produced::with(Serdes::string(), Serdes::option(Serdes::i64())),
            );
        let topology = builder.build().unwrap();
        let id = TaskId {
            subtopology: 0,
            partition: 0,
        };
        let stores = TaskStores::new("app", id, None, 0);
        let mut task = topology.create_task(id, "app", 0, &stores).unwrap();
        task.init().unwrap();
        task
    }

    fn record(offset: i64) -> ConsumedRecord {
        ConsumedRecord {
            partition: 0,
            offset,
            timestamp: offset,
            key: Some(format!("k{}", offset % 7).into_bytes()),
            value: Some(b"v".to_vec()),
            headers: Headers::new(),
        }
    }

    #[test]
    fn commit_flushes_stores_durably_every_flush_delta_changelog_records() {
        let mut task = counting_task();
        let topic: Arc<str> = Arc::from("in");
        let mut out = Vec::new();
        let mut durable = Vec::new();
        for offset in 0..(2 * FLUSH_DELTA_RECORDS as i64 + 5) {
            task.process(&topic, record(offset)).unwrap();
            if task.commit_stores().unwrap() {
                durable.push(offset);
            }
        }
        // One changelog record per input record: the stores flush at the commit after every
        // 10,000th, and the count starts over after each flush.
        assert_eq!(
            durable,
            [
                FLUSH_DELTA_RECORDS as i64 - 1,
                2 * FLUSH_DELTA_RECORDS as i64 - 1
            ]
        );
        task.drain_output(&mut out);
        let mut changelog = 0;
        task.drain_changelog(|_, topic, packed, count| {
            assert_eq!(&**topic, "app-counts-changelog");
            assert_eq!(Packed::all(packed).count(), count);
            changelog += count;
            Ok::<(), Error>(())
        })
        .unwrap();
        assert_eq!(changelog as u64, 2 * FLUSH_DELTA_RECORDS + 5);
        // An explicit flush (before a checkpoint) resets the count too.
        task.flush_stores().unwrap();
        assert!(!task.commit_stores().unwrap());
    }

    #[test]
    fn schedule_skips_missed_intervals() {
        let mut s = schedule(0, 10);
        s.advance(3);
        assert_eq!(s.next_ms, 10);
        s.advance(10);
        assert_eq!(s.next_ms, 20);
        s.advance(57);
        assert_eq!(s.next_ms, 60);
    }
}
