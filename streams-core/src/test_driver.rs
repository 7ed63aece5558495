//! `TopologyTestDriver`: runs a topology synchronously, deterministically and without a broker,
//! like Kafka Streams' `TopologyTestDriver`.
//!
//! It creates one task per sub-topology (partition 0) from the same code the runtime uses — the
//! global sub-topologies first, whose global stores every other task reads, as Kafka's driver
//! keeps a global state task beside its stream task — and plays the broker's part itself:
//! records piped into an input topic (a global table's too) are processed depth-first before
//! `pipe_input` returns, records written to a topic the topology also reads (repartition
//! topics, or a user topic read by another sub-topology) are fed back in, and everything written
//! to a non-internal topic is kept for [`TestOutputTopic`] to read. Wall-clock time is mocked and
//! only moves when you advance it, starting at 0 unless configured otherwise.
//!
//! Like Kafka's driver, the `pipe_*` and `read_*` methods panic on failure (they are test
//! assertions); the `try_*` variants return the error instead.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use rustc_hash::FxHashMap;

use crate::config::{ProcessingHandler, StreamsConfig};
use crate::error::{Error, Result};
use crate::internals::{
    self, access, ConsumedRecord, GlobalStores, KeyValueStoreRef, Packed, ProducedRecord,
    StoreHandle, Task, TaskStores,
};
use crate::processor::TaskId;
use crate::record::{Headers, Record};
use crate::serde::{serialize_key_value, Serde};
use crate::state::{
    SessionStoreRef, StoreKind, TimestampedKeyValueStoreRef, TimestampedWindowStoreRef,
    WindowStoreRef,
};
use crate::topology::Topology;

/// The application id the driver uses when none is configured.
pub const DEFAULT_APPLICATION_ID: &str = "topology-test-driver";

/// What the driver knows of one topic: its name, who reads it, its next offset, and what was
/// written to it that a test has not read yet.
struct TopicState {
    name: Arc<str>,
    /// The task reading this topic, if any.
    reader: Option<usize>,
    /// Internal topics are routed but not offered to `TestOutputTopic`.
    internal: bool,
    next_offset: i64,
    /// Whether a sink has written to it.
    written: bool,
    /// Whether the tasks' source patterns were asked whether they read it (a topic that is
    /// not a named source topic is asked once, when first seen).
    patterns_checked: bool,
    unread: Unread,
}

/// Records written to a topic that no test has read yet, packed into chunks of bytes: a driver
/// keeps every record written to a topic nobody reads (changelogs too, as Kafka's driver does),
/// and a long test then holds a few large buffers instead of two small allocations per record,
/// never copies them to grow (chunks are added, not resized), and hands each record's own
/// buffers straight back to the allocator.
#[derive(Default)]
struct Unread {
    /// The records, packed (see [`packed`](crate::record::packed)); a record never spans two
    /// chunks.
    chunks: VecDeque<Vec<u8>>,
    /// Where the next record starts in the front chunk.
    start: usize,
    /// The headers of the records that have any, by sequence number.
    headers: VecDeque<(u64, Headers)>,
    /// Records pushed and taken so far: their sequence numbers, and how many are unread.
    pushed: u64,
    taken: u64,
}

/// The largest chunk [`Unread`] starts (unless one batch needs more); the first is 4 KiB and
/// each next one twice the last, so that a topic with a few records stays small.
const MAX_CHUNK: usize = 1 << 20;

impl Unread {
    fn push(&mut self, record: &ProducedRecord) {
        let fields = record.packed();
        fields.push(self.room_for(fields.max_len()));
        if !record.headers.is_empty() {
            self.headers
                .push_back((self.pushed, record.headers.clone()));
        }
        self.pushed += 1;
    }

    /// Appends `count` records packed in `packed`, none with headers, with one copy.
    fn push_packed(&mut self, packed: &[u8], count: usize) {
        self.room_for(packed.len()).extend_from_slice(packed);
        self.pushed += count as u64;
    }

    /// The last chunk, with room for `size` more bytes (a new chunk if it has not).
    fn room_for(&mut self, size: usize) -> &mut Vec<u8> {
        let fits = self
            .chunks
            .back()
            .is_some_and(|chunk| chunk.capacity() - chunk.len() >= size);
        if !fits {
            let last = self.chunks.back().map_or(2048, Vec::capacity);
            let capacity = (last * 2).min(MAX_CHUNK).max(size);
            self.chunks.push_back(Vec::with_capacity(capacity));
        }
        let last = self.chunks.len() - 1;
        &mut self.chunks[last]
    }

    fn len(&self) -> usize {
        (self.pushed - self.taken) as usize
    }

    /// Takes the oldest unread record and hands it to `read` with its headers, its bytes
    /// borrowed from the chunk; [`compact`](Self::compact) after taking some frees their bytes.
    fn next_with<T>(&mut self, read: impl FnOnce(Packed<'_>, Headers) -> T) -> Option<T> {
        if self.len() == 0 {
            return None;
        }
        while self.chunks.front().is_some_and(|c| self.start >= c.len()) {
            self.chunks.pop_front();
            self.start = 0;
        }
        let chunk = self.chunks.front()?;
        let (record, next) = Packed::read(chunk, self.start);
        let headers = match self.headers.front() {
            Some((seq, _)) if *seq == self.taken => self.headers.pop_front().map(|(_, h)| h),
            _ => None,
        };
        let result = read(record, headers.unwrap_or_default());
        self.start = next;
        self.taken += 1;
        Some(result)
    }

    /// Frees the chunks whose records were all taken; keeps the last one's buffer for reuse
    /// once none is left.
    fn compact(&mut self) {
        if self.len() == 0 {
            let last = self.chunks.pop_back();
            self.chunks.clear();
            if let Some(mut last) = last {
                last.clear();
                self.chunks.push_back(last);
            }
            self.start = 0;
        } else {
            while self.chunks.len() > 1
                && self.chunks.front().is_some_and(|c| self.start >= c.len())
            {
                self.chunks.pop_front();
                self.start = 0;
            }
        }
    }
}

/// The topics the driver knows. A task's records name their topics by the task's own indexes
/// (see `Task::output_topics`), which the driver maps to these once per task and topic: routing
/// a record looks up no name.
#[derive(Default)]
struct Topics {
    states: Vec<TopicState>,
    /// Topic names come from the topology and the test, not from peers, so a fast
    /// non-cryptographic hash is safe here.
    by_name: FxHashMap<Arc<str>, usize>,
}

impl Topics {
    /// The index of topic `name`, added if new.
    fn index(&mut self, name: &Arc<str>) -> usize {
        if let Some(&index) = self.by_name.get(name) {
            return index;
        }
        self.states.push(TopicState {
            name: Arc::clone(name),
            reader: None,
            internal: false,
            next_offset: 0,
            written: false,
            patterns_checked: false,
            unread: Unread::default(),
        });
        self.by_name.insert(Arc::clone(name), self.states.len() - 1);
        self.states.len() - 1
    }

    /// The index of a task's topic number `at`, named `name`, remembered in `routes` (the task's
    /// output or changelog topics): a task's records name their topic by number, and the name
    /// is looked up only the first time.
    fn route(&mut self, routes: &mut Vec<usize>, at: usize, name: &Arc<str>) -> usize {
        if routes.len() <= at {
            routes.resize(at + 1, usize::MAX);
        }
        if routes[at] == usize::MAX {
            routes[at] = self.index(name);
        }
        routes[at]
    }

    fn get(&self, name: &str) -> Option<&TopicState> {
        self.by_name.get(name).map(|&index| &self.states[index])
    }

    fn get_mut(&mut self, name: &str) -> Option<&mut TopicState> {
        self.by_name.get(name).map(|&index| &mut self.states[index])
    }

    fn iter(&self) -> impl Iterator<Item = &TopicState> {
        self.states.iter()
    }
}

struct DriverState {
    tasks: Vec<Task>,
    topics: Topics,
    wall_clock_ms: i64,
    /// Records to process: the reading task, the topic's index in `topics`, the record.
    pending: VecDeque<(usize, usize, ConsumedRecord)>,
    produced: Vec<ProducedRecord>,
    /// Per task, the index in `topics` of each of the task's output topics, by its index there.
    routes: Vec<Vec<usize>>,
    /// Per task, the index in `topics` of each of its changelog topics, by the task's index.
    changelog_routes: Vec<Vec<usize>>,
    /// `processing.exception.handler`, applied as the runtime applies it.
    processing_handler: ProcessingHandler,
    /// Records dropped by the processing exception handler.
    dropped_records: u64,
}

impl DriverState {
    /// Assigns the next offset in topic `name` to a record piped into it, and queues the record
    /// for the topic's reader.
    fn enqueue(&mut self, name: &Arc<str>, record: RecordParts) -> Result<()> {
        // A topic no source names may match a pattern source's pattern.
        let index = match self.topics.by_name.get(name).copied() {
            Some(index) => Some(index),
            None if self.tasks.iter().any(|t| t.reads(name)) => Some(self.topics.index(name)),
            None => None,
        };
        if let Some(index) = index {
            Self::find_pattern_reader(&self.tasks, &mut self.topics.states[index]);
        }
        let Some((index, reader)) =
            index.and_then(|i| self.topics.states[i].reader.map(|r| (i, r)))
        else {
            return Err(Error::UnknownTopic(name.to_string()));
        };
        Self::queue(
            &mut self.pending,
            reader,
            index,
            &mut self.topics.states[index],
            record,
        );
        Ok(())
    }

    /// Sets the reader of `topic` to the task whose pattern source matches it, if any; asked
    /// once per topic.
    fn find_pattern_reader(tasks: &[Task], topic: &mut TopicState) {
        if topic.reader.is_none() && !topic.patterns_checked {
            topic.patterns_checked = true;
            topic.reader = tasks.iter().position(|t| t.reads(&topic.name));
        }
    }

    fn queue(
        pending: &mut VecDeque<(usize, usize, ConsumedRecord)>,
        task: usize,
        index: usize,
        topic: &mut TopicState,
        (key, value, timestamp, headers): RecordParts,
    ) {
        let consumed = ConsumedRecord {
            partition: 0,
            offset: topic.next_offset,
            timestamp,
            key,
            value,
            headers,
        };
        topic.next_offset += 1;
        pending.push_back((task, index, consumed));
    }

    /// Processes queued records until none is left, routing what tasks produce.
    fn run(&mut self) -> Result<()> {
        while let Some((task, topic, record)) = self.pending.pop_front() {
            // Like Kafka's driver, commit after every record: record caches flush, and the stores
            // themselves whenever the task's commit would checkpoint.
            let processed = self.tasks[task].process(&self.topics.states[topic].name, record);
            let result = match processed {
                // `processing.exception.handler` = LogAndContinueProcessingExceptionHandler:
                // the record is dropped and counted, as the runtime does.
                Err(e @ Error::Processor { .. })
                    if self.processing_handler == ProcessingHandler::LogAndContinue =>
                {
                    tracing::warn!(error = %e,
                        "dropping a record whose processing failed (LogAndContinueProcessingExceptionHandler)");
                    self.dropped_records += 1;
                    Ok(())
                }
                other => other,
            };
            let result = result
                .and_then(|_| self.tasks[task].maybe_punctuate_stream_time())
                .and_then(|_| self.tasks[task].commit_stores());
            self.dropped_records += self.tasks[task].take_skipped_punctuations();
            self.route_output(task);
            if let Err(e) = result {
                self.pending.clear();
                return Err(e);
            }
        }
        Ok(())
    }

    /// Moves what `task` produced to the readers of its topics and to the unread queues.
    fn route_output(&mut self, task: usize) {
        let DriverState {
            tasks,
            topics,
            pending,
            produced,
            routes,
            changelog_routes,
            ..
        } = self;
        tasks[task].drain_output(produced);
        let names = tasks[task].output_topics();
        for record in produced.drain(..) {
            let at = record.topic as usize;
            let index = topics.route(&mut routes[task], at, &names[at]);
            let topic = &mut topics.states[index];
            Self::find_pattern_reader(tasks, topic);
            topic.written = true;
            if !topic.internal {
                topic.unread.push(&record);
            }
            if let Some(reader) = topic.reader {
                let parts = (record.key, record.value, record.timestamp, record.headers);
                Self::queue(pending, reader, index, topic, parts);
            }
        }
        let routes = &mut changelog_routes[task];
        let drained = tasks[task].drain_changelog(|changelog, name, packed, count| {
            let index = topics.route(routes, changelog, name);
            let topic = &mut topics.states[index];
            topic.written = true;
            if !topic.internal {
                topic.unread.push_packed(packed, count);
            }
            if let Some(reader) = topic.reader {
                for record in Packed::all(packed) {
                    let parts = (
                        record.key.map(<[u8]>::to_vec),
                        record.value.map(<[u8]>::to_vec),
                        record.timestamp,
                        Headers::new(),
                    );
                    Self::queue(pending, reader, index, topic, parts);
                }
            }
            Ok::<(), std::convert::Infallible>(())
        });
        // Routing changelog records into the driver's topics cannot fail.
        let Ok(()) = drained;
    }
}

/// A serialized record's key, value, timestamp and headers.
type RecordParts = (Option<Vec<u8>>, Option<Vec<u8>>, i64, Headers);

/// Runs a topology in-process for tests; see the [module docs](self).
pub struct TopologyTestDriver {
    application_id: String,
    state: RefCell<DriverState>,
    /// Where persistent stores live; removed when the driver is dropped.
    _state_dir: tempfile::TempDir,
}

impl TopologyTestDriver {
    /// A driver for `topology` with application id [`DEFAULT_APPLICATION_ID`] and wall-clock
    /// time 0.
    pub fn new(topology: Topology) -> Result<Self> {
        Self::with_config(topology, StreamsConfig::new(DEFAULT_APPLICATION_ID)?, 0)
    }

    /// A driver for `topology` with `config` and the mocked wall clock starting at
    /// `initial_wall_clock_ms`.
    pub fn with_config(
        topology: Topology,
        config: StreamsConfig,
        initial_wall_clock_ms: i64,
    ) -> Result<Self> {
        let application_id = config.application_id().to_string();
        let state_dir = tempfile::Builder::new()
            .prefix("rill-test-driver-")
            .tempdir()
            .map_err(|e| {
                Error::InvalidArgument(format!(
                    "cannot create a temporary state directory for the test driver: {e}"
                ))
            })?;
        let rocksdb = streams_state::RocksDbResources::new(config.rocksdb_config().clone())?;
        // One task per sub-topology: the application's record cache is divided evenly among
        // all their cached stores.
        let cache_bytes_per_store =
            config.statestore_cache_max_bytes() / internals::cached_store_count(&topology).max(1);
        let mut tasks = Vec::new();
        let mut topics = Topics::default();
        let directory =
            streams_state::StateDirectory::new(state_dir.path(), application_id.clone());
        // Global sub-topologies first: their stores are handed to every other task.
        let (global, regular): (Vec<u32>, Vec<u32>) =
            (0..topology.subtopology_count() as u32).partition(|&sub| topology.is_global(sub));
        let mut global_stores = GlobalStores::default();
        for sub in global.iter().chain(&regular) {
            let id = TaskId {
                subtopology: *sub,
                partition: 0,
            };
            let state = Some((directory.clone(), rocksdb.clone()));
            let stores = if topology.is_global(*sub) {
                TaskStores::global(&application_id, state)
            } else {
                TaskStores::new(&application_id, id, state, cache_bytes_per_store)
                    .with_global_stores(Arc::clone(&global_stores))
            };
            let task = internals::create_task(
                &topology,
                id,
                &application_id,
                initial_wall_clock_ms,
                &stores,
            )?;
            if topology.is_global(*sub) {
                let shared = Arc::make_mut(&mut global_stores);
                for (name, handle) in task.stores() {
                    shared.insert(name.clone(), handle.clone());
                }
            }
            for topic in task.input_topics() {
                let index = topics.index(topic);
                topics.states[index].reader = Some(tasks.len());
            }
            let mut task = task;
            task.set_processing_handler(config.processing_handler());
            tasks.push(task);
        }
        for internal in topology.repartition_topics() {
            let name: Arc<str> = Arc::from(format!("{application_id}-{}", internal.name));
            let index = topics.index(&name);
            topics.states[index].internal = true;
        }
        let tasks_len = tasks.len();
        let mut state = DriverState {
            tasks,
            topics,
            wall_clock_ms: initial_wall_clock_ms,
            pending: VecDeque::new(),
            produced: Vec::new(),
            routes: vec![Vec::new(); tasks_len],
            changelog_routes: vec![Vec::new(); tasks_len],
            processing_handler: config.processing_handler(),
            dropped_records: 0,
        };
        for task in 0..state.tasks.len() {
            state.tasks[task].init()?;
            state.route_output(task);
        }
        state.run()?;
        Ok(TopologyTestDriver {
            application_id,
            state: RefCell::new(state),
            _state_dir: state_dir,
        })
    }

    /// How many records the processing exception handler dropped (Kafka's
    /// `dropped-records-total` metric): with `processing.exception.handler` =
    /// `LogAndContinueProcessingExceptionHandler`, a record whose processing fails is logged,
    /// dropped and counted here instead of failing `pipe_input`.
    pub fn dropped_records(&self) -> u64 {
        self.state.borrow().dropped_records
    }

    /// The application id in use.
    pub fn application_id(&self) -> &str {
        &self.application_id
    }

    /// An input topic that serializes with the given serdes. Records piped without a timestamp
    /// get the topic's current time, which starts at the driver's wall-clock time.
    pub fn create_input_topic<K, V>(
        &self,
        topic: &str,
        key_serde: impl Serde<K>,
        value_serde: impl Serde<V>,
    ) -> TestInputTopic<'_, K, V> {
        let start = self.state.borrow().wall_clock_ms;
        TestInputTopic {
            driver: self,
            topic: Arc::from(topic),
            key_serde: Box::new(key_serde),
            value_serde: Box::new(value_serde),
            current_time_ms: Cell::new(start),
            auto_advance_ms: Cell::new(0),
        }
    }

    /// An output topic that deserializes with the given serdes.
    pub fn create_output_topic<K, V>(
        &self,
        topic: &str,
        key_serde: impl Serde<K>,
        value_serde: impl Serde<V>,
    ) -> TestOutputTopic<'_, K, V> {
        TestOutputTopic {
            driver: self,
            topic: topic.to_string(),
            key_serde: Box::new(key_serde),
            value_serde: Box::new(value_serde),
        }
    }

    /// Advances the mocked wall clock by `advance` and fires due wall-clock punctuations.
    ///
    /// # Panics
    /// If a punctuation fails; see [`try_advance_wall_clock_time`](Self::try_advance_wall_clock_time).
    pub fn advance_wall_clock_time(&self, advance: Duration) {
        if let Err(e) = self.try_advance_wall_clock_time(advance) {
            panic!("advancing wall-clock time failed: {e}");
        }
    }

    /// Advances the mocked wall clock by `advance` and fires due wall-clock punctuations.
    pub fn try_advance_wall_clock_time(&self, advance: Duration) -> Result<()> {
        let mut state = self.state.borrow_mut();
        let advance_ms = i64::try_from(advance.as_millis()).unwrap_or(i64::MAX);
        state.wall_clock_ms = state.wall_clock_ms.saturating_add(advance_ms);
        let now = state.wall_clock_ms;
        for task in 0..state.tasks.len() {
            let result = state.tasks[task]
                .maybe_punctuate_wall_clock(now)
                .and_then(|_| state.tasks[task].commit_stores());
            let skipped = state.tasks[task].take_skipped_punctuations();
            state.dropped_records += skipped;
            state.route_output(task);
            result?;
            state.run()?;
        }
        Ok(())
    }

    fn store_handle(&self, name: &str) -> Result<StoreHandle> {
        let state = self.state.borrow();
        state
            .tasks
            .iter()
            .find_map(|t| t.store(name).cloned())
            .ok_or_else(|| {
                Error::InvalidArgument(format!("the topology has no state store `{name}`"))
            })
    }

    /// The kind of the state store `name`, or `None` if the topology has none by that name:
    /// Kafka's `getStateStore`, which a test then casts; here the kind says which typed getter
    /// ([`get_key_value_store`](Self::get_key_value_store), [`get_window_store`](Self::get_window_store),
    /// ...) reads it.
    ///
    /// ```
    /// use streams_core::prelude::*;
    /// use streams_core::state::StoreKind;
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("words", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .group_by_key(Grouped::with(Serdes::string(), Serdes::string()))
    ///     .count(Materialized::as_("counts"));
    /// let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
    /// assert_eq!(driver.get_state_store("counts"), Some(StoreKind::TimestampedKeyValue));
    /// assert_eq!(driver.get_state_store("nothing"), None);
    /// assert_eq!(driver.all_state_stores(), vec!["counts".to_string()]);
    /// ```
    pub fn get_state_store(&self, name: &str) -> Option<StoreKind> {
        self.store_handle(name).ok().map(|handle| handle.kind())
    }

    /// The names of every state store of the topology, sorted (Kafka's `getAllStateStores`, by
    /// name; [`get_state_store`](Self::get_state_store) tells each one's kind).
    pub fn all_state_stores(&self) -> Vec<String> {
        let state = self.state.borrow();
        let mut names: Vec<String> = state
            .tasks
            .iter()
            .flat_map(|t| t.stores().keys().cloned())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The key-value store `name`, typed with the given serdes, for inspection (Kafka's
    /// `getKeyValueStore`).
    pub fn get_key_value_store<K: 'static, V: 'static>(
        &self,
        name: &str,
        keys: impl Serde<K>,
        values: impl Serde<V>,
    ) -> Result<KeyValueStoreRef<K, V>> {
        access::key_value(
            name,
            &self.store_handle(name)?,
            Arc::new(keys),
            Arc::new(values),
        )
    }

    /// The timestamped key-value store `name` (what a `KTable` materializes into).
    pub fn get_timestamped_key_value_store<K: 'static, V: 'static>(
        &self,
        name: &str,
        keys: impl Serde<K>,
        values: impl Serde<V>,
    ) -> Result<TimestampedKeyValueStoreRef<K, V>> {
        access::timestamped(
            name,
            &self.store_handle(name)?,
            Arc::new(keys),
            Arc::new(values),
        )
    }

    /// The versioned key-value store `name`: a versioned table's, or one added with
    /// `Stores::versioned_key_value_store_builder` (Kafka's `getStateStore` cast to a
    /// `VersionedKeyValueStore`).
    pub fn get_versioned_key_value_store<K: 'static, V: 'static>(
        &self,
        name: &str,
        keys: impl Serde<K>,
        values: impl Serde<V>,
    ) -> Result<crate::state::VersionedKeyValueStoreRef<K, V>> {
        access::versioned(
            name,
            &self.store_handle(name)?,
            Arc::new(keys),
            Arc::new(values),
        )
    }

    /// The window store `name` of windows `window_size_ms` long.
    pub fn get_window_store<K: 'static, V: 'static>(
        &self,
        name: &str,
        keys: impl Serde<K>,
        values: impl Serde<V>,
        window_size_ms: i64,
    ) -> Result<WindowStoreRef<K, V>> {
        access::window(
            name,
            &self.store_handle(name)?,
            Arc::new(keys),
            Arc::new(values),
            window_size_ms,
        )
    }

    /// The timestamped window store `name` (what windowed aggregations keep), with each value's
    /// timestamp (Kafka's `getTimestampedWindowStore`).
    pub fn get_timestamped_window_store<K: 'static, V: 'static>(
        &self,
        name: &str,
        keys: impl Serde<K>,
        values: impl Serde<V>,
        window_size_ms: i64,
    ) -> Result<TimestampedWindowStoreRef<K, V>> {
        access::timestamped_window(
            name,
            &self.store_handle(name)?,
            Arc::new(keys),
            Arc::new(values),
            window_size_ms,
        )
    }

    /// The session store `name`.
    pub fn get_session_store<K: 'static, V: 'static>(
        &self,
        name: &str,
        keys: impl Serde<K>,
        values: impl Serde<V>,
    ) -> Result<SessionStoreRef<K, V>> {
        access::session(
            name,
            &self.store_handle(name)?,
            Arc::new(keys),
            Arc::new(values),
        )
    }

    /// The mocked wall-clock time in milliseconds.
    pub fn wall_clock_time_ms(&self) -> i64 {
        self.state.borrow().wall_clock_ms
    }

    /// Every topic something was written to that a test can read, sorted.
    pub fn produced_topic_names(&self) -> Vec<String> {
        let state = self.state.borrow();
        let mut names: Vec<String> = state
            .topics
            .iter()
            .filter(|t| t.written && !t.internal)
            .map(|t| t.name.to_string())
            .collect();
        names.sort();
        names
    }

    /// Closes every task (runs `Processor::close`).
    pub fn close(self) -> Result<()> {
        let mut state = self.state.into_inner();
        for task in &mut state.tasks {
            task.close()?;
        }
        Ok(())
    }

    fn pipe(
        &self,
        topic: &Arc<str>,
        key: Option<Vec<u8>>,
        value: Option<Vec<u8>>,
        timestamp: i64,
        headers: Headers,
    ) -> Result<()> {
        let mut state = self.state.borrow_mut();
        state.enqueue(topic, (key, value, timestamp, headers))?;
        state.run()
    }

    /// Reads up to `limit` of the records not yet read from `topic`, oldest first, each handed
    /// to `read`. The topic's buffers keep their capacity, so that a test reading after every
    /// batch does not regrow them each time.
    fn read_output<T>(
        &self,
        topic: &str,
        limit: usize,
        mut read: impl FnMut(Packed<'_>, Headers) -> T,
    ) -> Vec<T> {
        let mut state = self.state.borrow_mut();
        let Some(state) = state.topics.get_mut(topic) else {
            return Vec::new();
        };
        let unread = &mut state.unread;
        let mut records = Vec::with_capacity(unread.len().min(limit));
        while records.len() < limit {
            match unread.next_with(&mut read) {
                Some(record) => records.push(record),
                None => break,
            }
        }
        unread.compact();
        records
    }

    fn output_len(&self, topic: &str) -> usize {
        self.state
            .borrow()
            .topics
            .get(topic)
            .map_or(0, |t| t.unread.len())
    }
}

/// Pipes records into one topic of a [`TopologyTestDriver`], like Kafka's `TestInputTopic`.
pub struct TestInputTopic<'d, K, V> {
    driver: &'d TopologyTestDriver,
    topic: Arc<str>,
    key_serde: Box<dyn Serde<K>>,
    value_serde: Box<dyn Serde<V>>,
    current_time_ms: Cell<i64>,
    auto_advance_ms: Cell<i64>,
}

impl<K: 'static, V: 'static> TestInputTopic<'_, K, V> {
    /// Pipes one record with the topic's current time.
    ///
    /// # Panics
    /// If serializing or processing fails; see [`try_pipe_input`](Self::try_pipe_input).
    pub fn pipe_input(&self, key: impl Into<K>, value: impl Into<V>) {
        let record = Record::new(key.into(), value.into(), self.next_time());
        self.expect(self.try_pipe_record(record));
    }

    /// Pipes one record with the given timestamp.
    pub fn pipe_input_with_timestamp(
        &self,
        key: impl Into<K>,
        value: impl Into<V>,
        timestamp: i64,
    ) {
        self.expect(self.try_pipe_record(Record::new(key.into(), value.into(), timestamp)));
    }

    /// Pipes one record with its own timestamp and headers.
    pub fn pipe_record(&self, record: Record<K, V>) {
        self.expect(self.try_pipe_record(record));
    }

    /// Pipes records with their own timestamps and headers, in order.
    pub fn pipe_record_list(&self, records: impl IntoIterator<Item = Record<K, V>>) {
        for record in records {
            self.pipe_record(record);
        }
    }

    /// Pipes key-value pairs, each with the topic's current time.
    pub fn pipe_key_value_list(&self, pairs: impl IntoIterator<Item = (K, V)>) {
        for (key, value) in pairs {
            self.pipe_input(key, value);
        }
    }

    /// Pipes one record with the topic's current time, returning any failure.
    pub fn try_pipe_input(&self, key: impl Into<K>, value: impl Into<V>) -> Result<()> {
        let record = Record::new(key.into(), value.into(), self.next_time());
        self.try_pipe_record(record)
    }

    /// Pipes one record, returning any failure (serialization, processing).
    pub fn try_pipe_record(&self, record: Record<K, V>) -> Result<()> {
        let (key, value) = serialize_key_value(
            &*self.key_serde,
            &*self.value_serde,
            &self.topic,
            record.key,
            record.value,
        )
        .map_err(|(part, source)| Error::Serialization {
            topic: self.topic.to_string(),
            node: "TestInputTopic".to_string(),
            part,
            source,
        })?;
        self.driver
            .pipe(&self.topic, key, value, record.timestamp, record.headers)
    }

    /// Moves the topic's current time forward by `advance`.
    pub fn advance_time(&self, advance: Duration) {
        let ms = i64::try_from(advance.as_millis()).unwrap_or(i64::MAX);
        self.current_time_ms
            .set(self.current_time_ms.get().saturating_add(ms));
    }

    /// Sets the topic's current time.
    pub fn set_time(&self, timestamp_ms: i64) {
        self.current_time_ms.set(timestamp_ms);
    }

    /// Advances the topic's current time by `advance` after every record piped without a
    /// timestamp.
    pub fn auto_advance(&self, advance: Duration) {
        self.auto_advance_ms
            .set(i64::try_from(advance.as_millis()).unwrap_or(i64::MAX));
    }

    fn next_time(&self) -> i64 {
        let now = self.current_time_ms.get();
        self.current_time_ms
            .set(now.saturating_add(self.auto_advance_ms.get()));
        now
    }

    fn expect(&self, result: Result<()>) {
        if let Err(e) = result {
            panic!("piping into `{}` failed: {e}", self.topic);
        }
    }
}

/// A record read from an output topic with the partition its sink chose (`None`: the
/// producer's partitioner would choose).
pub type PartitionedRecord<K, V> = (Option<i32>, Record<K, V>);

/// Reads what the topology wrote to one topic, like Kafka's `TestOutputTopic`. Reading consumes.
pub struct TestOutputTopic<'d, K, V> {
    driver: &'d TopologyTestDriver,
    topic: String,
    key_serde: Box<dyn Serde<K>>,
    value_serde: Box<dyn Serde<V>>,
}

impl<K: 'static, V: 'static> TestOutputTopic<'_, K, V> {
    /// Reads the next record, or `Ok(None)` if there is none.
    pub fn try_read_record(&self) -> Result<Option<Record<K, V>>> {
        self.driver
            .read_output(&self.topic, 1, |raw, headers| self.decode(raw, headers))
            .pop()
            .transpose()
    }

    /// Reads the next record with the partition its sink chose (a `StreamPartitioner`'s
    /// choice; `None` when it left it to the producer), or `Ok(None)` if there is none.
    pub fn try_read_record_with_partition(&self) -> Result<Option<PartitionedRecord<K, V>>> {
        self.driver
            .read_output(&self.topic, 1, |raw, headers| {
                let partition = raw.partition;
                self.decode(raw, headers).map(|record| (partition, record))
            })
            .pop()
            .transpose()
    }

    /// Reads the next record with the partition its sink chose (see
    /// [`try_read_record_with_partition`](Self::try_read_record_with_partition)).
    ///
    /// # Panics
    /// If there is none, or it does not deserialize.
    pub fn read_record_with_partition(&self) -> PartitionedRecord<K, V> {
        match self.try_read_record_with_partition() {
            Ok(Some(read)) => read,
            Ok(None) => panic!("no more records in output topic `{}`", self.topic),
            Err(e) => panic!("reading output topic `{}` failed: {e}", self.topic),
        }
    }

    fn decode(&self, raw: Packed<'_>, headers: Headers) -> Result<Record<K, V>> {
        let failed = |part, source| Error::Deserialization {
            topic: self.topic.clone(),
            partition: 0,
            offset: -1,
            part,
            source,
        };
        let key = self
            .key_serde
            .deserialize(&self.topic, raw.key)
            .map_err(|e| failed("key", e))?;
        let value = self
            .value_serde
            .deserialize(&self.topic, raw.value)
            .map_err(|e| failed("value", e))?;
        Ok(Record {
            key,
            value,
            timestamp: raw.timestamp,
            headers,
        })
    }

    /// Reads the next record.
    ///
    /// # Panics
    /// If there is none, or it does not deserialize.
    pub fn read_record(&self) -> Record<K, V> {
        match self.try_read_record() {
            Ok(Some(record)) => record,
            Ok(None) => panic!("no more records in output topic `{}`", self.topic),
            Err(e) => panic!("reading output topic `{}` failed: {e}", self.topic),
        }
    }

    /// Reads the next record's key and value.
    pub fn read_key_value(&self) -> (K, V) {
        let record = self.read_record();
        (record.key, record.value)
    }

    /// Reads the next record's value.
    pub fn read_value(&self) -> V {
        self.read_record().value
    }

    /// Reads every remaining record.
    ///
    /// # Panics
    /// If a record does not deserialize.
    pub fn read_records_to_list(&self) -> Vec<Record<K, V>> {
        self.driver
            .read_output(&self.topic, usize::MAX, |raw, headers| {
                match self.decode(raw, headers) {
                    Ok(record) => record,
                    Err(e) => panic!("reading output topic `{}` failed: {e}", self.topic),
                }
            })
    }

    /// Reads every remaining key and value.
    pub fn read_key_values_to_list(&self) -> Vec<(K, V)> {
        self.read_records_to_list()
            .into_iter()
            .map(|r| (r.key, r.value))
            .collect()
    }

    /// Reads every remaining value.
    pub fn read_values_to_list(&self) -> Vec<V> {
        self.read_records_to_list()
            .into_iter()
            .map(|r| r.value)
            .collect()
    }

    /// Reads every remaining record into a map: the latest value per key wins, as when a
    /// table is built from the topic.
    pub fn read_key_values_to_map(&self) -> HashMap<K, V>
    where
        K: Hash + Eq,
    {
        self.read_records_to_list()
            .into_iter()
            .map(|r| (r.key, r.value))
            .collect()
    }

    /// Whether every record has been read.
    pub fn is_empty(&self) -> bool {
        self.queue_size() == 0
    }

    /// How many records are left to read.
    pub fn queue_size(&self) -> usize {
        self.driver.output_len(&self.topic)
    }
}

#[cfg(test)]
mod tests {
    use crate::prelude::*;
    use crate::serde::{OptionSerde, StringSerde};

    type Nullable = OptionSerde<String, StringSerde>;

    fn nullable() -> Nullable {
        OptionSerde::new(StringSerde)
    }

    fn record(
        key: Option<&str>,
        value: Option<&str>,
        timestamp: i64,
    ) -> Record<Option<String>, Option<String>> {
        let mut record = Record::new(
            key.map(str::to_string),
            value.map(str::to_string),
            timestamp,
        );
        if timestamp % 2 == 0 {
            record
                .headers
                .add("even", Some(timestamp.to_string().into_bytes()));
        }
        record
    }

    /// Output records keep their null keys and values, timestamps and headers, whether read one
    /// at a time between writes (the packed buffer compacts as it goes) or all at once.
    #[test]
    fn unread_output_keeps_every_part_of_each_record() {
        let builder = StreamsBuilder::new();
        builder
            .stream(
                "in",
                Consumed::with(
                    Serdes::option(Serdes::string()),
                    Serdes::option(Serdes::string()),
                ),
            )
            .to(
                "out",
                Produced::with(
                    Serdes::option(Serdes::string()),
                    Serdes::option(Serdes::string()),
                ),
            );
        let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();
        let input = driver.create_input_topic("in", nullable(), nullable());
        let output = driver.create_output_topic("out", nullable(), nullable());
        let sent: Vec<_> = (0..500i64)
            .map(|i| {
                let key = (i % 3 != 0).then(|| format!("key-{i}"));
                let value = (i % 5 != 0).then(|| "v".repeat(i as usize % 40));
                record(key.as_deref(), value.as_deref(), i)
            })
            .collect();
        let mut read = Vec::new();
        for (i, r) in sent.iter().enumerate() {
            input.pipe_record(r.clone());
            if i % 3 == 0 {
                read.push(output.read_record());
            }
        }
        assert_eq!(output.queue_size(), sent.len() - read.len());
        read.extend(output.read_records_to_list());
        assert!(output.is_empty());
        assert_eq!(read, sent);
        // A record bigger than any chunk gets one of its own.
        let big = record(Some("big"), Some(&"x".repeat(3 << 20)), 7);
        for r in [&sent[1], &big, &sent[2]] {
            input.pipe_record(r.clone());
        }
        assert_eq!(output.read_record(), sent[1]);
        assert_eq!(output.read_records_to_list(), [big, sent[2].clone()]);
    }

    /// `get_state_store` reports each store's kind (`None` for an unknown name) and
    /// `all_state_stores` names every store; the typed getters read them, a key-value one with
    /// its scans in serialized-key order.
    #[test]
    fn state_stores_by_kind_and_key_value_scans() {
        use crate::state::StoreKind;
        use std::time::Duration;

        let builder = StreamsBuilder::new();
        let words = builder.stream("in", Consumed::with(Serdes::string(), Serdes::string()));
        let grouped = words.group_by_key(Grouped::with(Serdes::string(), Serdes::string()));
        grouped.count(Materialized::as_("counts"));
        grouped
            .windowed_by(
                TimeWindows::of_size_and_grace(Duration::from_millis(100), Duration::from_secs(1))
                    .unwrap(),
            )
            .count(Materialized::as_("windowed"));
        grouped
            .windowed_by(
                SessionWindows::of_inactivity_gap_and_grace(
                    Duration::from_millis(50),
                    Duration::from_secs(1),
                )
                .unwrap(),
            )
            .count(Materialized::as_("sessions"));
        let driver = TopologyTestDriver::new(builder.build().unwrap()).unwrap();

        assert_eq!(
            driver.all_state_stores(),
            ["counts", "sessions", "windowed"].map(String::from)
        );
        assert_eq!(
            driver.get_state_store("counts"),
            Some(StoreKind::TimestampedKeyValue)
        );
        assert_eq!(
            driver.get_state_store("windowed"),
            Some(StoreKind::TimestampedWindow)
        );
        assert_eq!(driver.get_state_store("sessions"), Some(StoreKind::Session));
        assert_eq!(driver.get_state_store("missing"), None);

        let input = driver.create_input_topic("in", StringSerde, StringSerde);
        for (word, ts) in [
            ("apple", 0),
            ("banana", 10),
            ("avocado", 20),
            ("apple", 130),
        ] {
            input.pipe_input_with_timestamp(word, "x", ts);
        }
        let counts = driver
            .get_key_value_store("counts", Serdes::string(), Serdes::i64())
            .unwrap();
        let s = |w: &str| w.to_string();
        let pairs = |v: &[(&str, i64)]| v.iter().map(|(k, c)| (s(k), *c)).collect::<Vec<_>>();
        assert_eq!(
            counts
                .range(Some(&s("apple")), Some(&s("avocado")))
                .unwrap(),
            pairs(&[("apple", 2), ("avocado", 1)])
        );
        assert_eq!(
            counts.range(Some(&s("b")), None).unwrap(),
            pairs(&[("banana", 1)])
        );
        assert_eq!(
            counts.reverse_range(None, Some(&s("b"))).unwrap(),
            pairs(&[("avocado", 1), ("apple", 2)])
        );
        assert_eq!(
            counts.reverse_all().unwrap(),
            pairs(&[("banana", 1), ("avocado", 1), ("apple", 2)])
        );
        assert_eq!(
            counts.prefix_scan(&s("a")).unwrap(),
            pairs(&[("apple", 2), ("avocado", 1)])
        );
        // The window store read without timestamps, and a key's sessions.
        let windowed = driver
            .get_window_store("windowed", Serdes::string(), Serdes::i64(), 100)
            .unwrap();
        assert_eq!(
            windowed.fetch_range(&s("apple"), 0, 200).unwrap(),
            [(0, 1), (100, 1)]
        );
        let sessions = driver
            .get_session_store("sessions", Serdes::string(), Serdes::i64())
            .unwrap();
        let apple: Vec<_> = sessions
            .fetch(&s("apple"))
            .unwrap()
            .into_iter()
            .map(|(w, c)| (w.window.start_ms, w.window.end_ms, c))
            .collect();
        assert_eq!(apple, [(0, 0, 1), (130, 130, 1)]);
    }
}
