//! The tasks of one stream thread, like Kafka Streams' `TaskManager` and `StreamTask`
//! bookkeeping: creating tasks for an assignment (and restoring their stores), feeding them
//! records in timestamp order, committing, and closing them on revocation or shutdown.
//!
//! **Record order.** A task reads partition `p` of each of its sub-topology's input topics;
//! polled records wait in one queue per partition, and the task always processes the queue
//! head with the lowest timestamp, like Kafka's `PartitionGroup`. When some of a task's
//! partitions have nothing buffered, the task waits for them before processing the others (so
//! that a join or a merge does not run ahead on one side), as Kafka ≥ 3.0 does (KIP-695): an
//! empty partition whose end offset (from the consumer's last fetch response) lies beyond what
//! was received still has records on the way, so the task waits for them; one that is caught
//! up is waited for `max.task.idle.ms` (default 0: not at all); -1 never waits. Records on the
//! way may sit in the consumer's prefetch queue behind other partitions' records: the wait for
//! them ends only once the poll loop has handed over everything prefetched ("drained" the
//! consumer) at least [`FETCH_WAIT`] after the partition ran dry — time spent processing other
//! tasks does not count. Unlike Kafka, that wait is bounded at all: librdkafka does not say how
//! far its fetch position moved past transaction markers and aborted records, which occupy
//! offsets but are never delivered, so an end offset beyond the last record is not proof that
//! more will come.
//!
//! **Commit** (every `commit.interval.ms`, on revocation and on shutdown), as in Kafka:
//! flush every store (caches emit, changelog writes are queued) → send the output → under
//! at-least-once: wait until the producer has every record acknowledged → commit the next
//! offsets to consume, synchronously → write each task's checkpoint (the last changelog offset
//! of each persistent store). Under exactly-once v2 the output, the changelog writes and the
//! offsets (`send_offsets_to_transaction`) are committed as one transaction, and checkpoints
//! are written only when a task closes cleanly: a task opening without a checkpoint wipes its
//! local state and restores it from the (read_committed) changelog, so a crash never leaves
//! uncommitted writes in a store. An error under exactly-once aborts the transaction and
//! wipes the state of the thread's tasks.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::{Offset, TopicPartitionList};
use streams_state::restore::restore_start_offset;
use streams_state::TopicPartition;

use crate::collector::RecordCollector;
use crate::error::{Error, Result};
use crate::restore::ChangelogReader;
use crate::shared::Shared;
use crate::sync::lock;
use streams_core::internals::{
    self, ConsumedRecord, ProducedRecord, StoreHandle, Task, TaskStores,
};
use streams_core::TaskId;
use streams_core::{DeserializationHandler, ProcessingGuarantee, ProcessingHandler};

/// Records a task processes in one turn of the round robin over tasks; its output then goes
/// to the producer.
const RECORDS_PER_ROUND: usize = 100;

/// The longest a task waits for an empty partition whose end offset says records are on the
/// way (or whose end offset is not known yet) before processing its other partitions.
const FETCH_WAIT: Duration = Duration::from_secs(1);

/// Records processed per [`TaskManager::process`] call before the thread polls again.
const RECORDS_PER_PROCESS: u64 = 1_000;

/// What the poll loop knows of its consumer's fetching, for deciding whether a task waits for
/// an empty partition.
pub(crate) struct Fetching<'a> {
    /// A partition's end offset from the consumer's last fetch response.
    pub(crate) end_offset: &'a dyn Fn(&str, i32) -> Option<i64>,
    /// When a poll last found nothing more prefetched: every record fetched until then has been
    /// handed to the tasks.
    pub(crate) drained_at: Option<Instant>,
}

/// What a task knows about the records of an empty partition still on the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backlog {
    /// No fetch response or no record yet: nothing is known.
    Unknown,
    /// The end offset lies beyond the records received: more are being fetched.
    Pending,
    /// Everything up to the end offset was received.
    CaughtUp,
}

impl Backlog {
    /// The backlog of a partition whose next offset to receive is `next`, given its end offset
    /// as last fetched. An end one past `next` counts as caught up: a transaction's commit
    /// marker occupies that offset and is never delivered.
    fn of(next: Option<i64>, end: Option<i64>) -> Backlog {
        match (next, end) {
            (_, Some(0)) => Backlog::CaughtUp,
            (Some(next), Some(end)) if end - next > 1 => Backlog::Pending,
            (Some(_), Some(_)) => Backlog::CaughtUp,
            _ => Backlog::Unknown,
        }
    }
}

/// One input partition of a task.
struct PartitionQueue {
    topic: Arc<str>,
    partition: i32,
    records: VecDeque<ConsumedRecord>,
    /// The offset of the last record processed.
    processed: Option<i64>,
    /// The offset last committed (the next one to consume).
    committed: Option<i64>,
    /// The offset after the last record received.
    received: Option<i64>,
    /// Since when the queue has been empty while the task had records elsewhere.
    empty_since: Option<Instant>,
    /// The partition's end offset as last looked up, and when (once per processing round).
    end_offset: Option<(Instant, Option<i64>)>,
}

/// A task and its runtime bookkeeping.
struct StreamTask {
    id: TaskId,
    task: Task,
    queues: Vec<PartitionQueue>,
    /// Per logged store: its name and changelog partition.
    changelogs: Vec<(String, TopicPartition)>,
    /// The last changelog offset applied to each persistent store: the checkpoint.
    checkpoint: BTreeMap<TopicPartition, i64>,
    /// The checkpoint as last written to disk.
    written_checkpoint: BTreeMap<TopicPartition, i64>,
}

impl StreamTask {
    /// The index of the queue to process next, if the task may process now.
    fn next_queue(
        &mut self,
        max_idle_ms: i64,
        now: Instant,
        fetching: &Fetching<'_>,
    ) -> Option<usize> {
        let mut best: Option<(usize, i64)> = None;
        for (i, queue) in self.queues.iter().enumerate() {
            if let Some(head) = queue.records.front() {
                if best.is_none_or(|(_, ts)| head.timestamp < ts) {
                    best = Some((i, head.timestamp));
                }
            }
        }
        let (index, _) = best?;
        let mut ready = true;
        for queue in &mut self.queues {
            if !queue.records.is_empty() {
                queue.empty_since = None;
                continue;
            }
            if max_idle_ms < 0 {
                continue;
            }
            let since = *queue.empty_since.get_or_insert(now);
            let idle = Duration::from_millis(max_idle_ms as u64);
            let end = match queue.end_offset {
                Some((checked, end)) if checked == now => end,
                _ => {
                    let end = (fetching.end_offset)(&queue.topic, queue.partition);
                    queue.end_offset = Some((now, end));
                    end
                }
            };
            let waited = match Backlog::of(queue.received.or(queue.committed), end) {
                Backlog::CaughtUp => now.duration_since(since) >= idle,
                Backlog::Pending | Backlog::Unknown => fetching.drained_at.is_some_and(|drained| {
                    drained >= since && drained.duration_since(since) >= idle.max(FETCH_WAIT)
                }),
            };
            if !waited {
                ready = false;
            }
        }
        ready.then_some(index)
    }
}

/// What a stream thread did since its last summary (`log.summary.interval.ms`), like the
/// counters behind Kafka's `StreamThread` "Processed N total records, ran M punctuators, and
/// committed K total tasks since the last update".
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Activity {
    /// Records processed.
    pub(crate) processed: u64,
    /// Punctuations fired (stream time and wall-clock time).
    pub(crate) punctuated: u64,
    /// Tasks committed, summed over commits.
    pub(crate) committed: u64,
}

/// The handler that skips the record `error` was raised for, by Kafka's class name, if the
/// configured deserialization or processing exception handler logs and continues.
fn skipping_handler(
    error: &streams_core::Error,
    deserialization: DeserializationHandler,
    processing: ProcessingHandler,
) -> Option<&'static str> {
    match error {
        streams_core::Error::Deserialization { .. }
            if deserialization == DeserializationHandler::LogAndContinue =>
        {
            Some(deserialization.class_name())
        }
        streams_core::Error::Processor { .. }
            if processing == ProcessingHandler::LogAndContinue =>
        {
            Some(processing.class_name())
        }
        _ => None,
    }
}

/// The tasks of one stream thread; see the module docs.
pub(crate) struct TaskManager {
    shared: Arc<Shared>,
    thread_name: String,
    tasks: BTreeMap<TaskId, StreamTask>,
    collector: RecordCollector,
    reader: ChangelogReader,
    /// Topic → sub-topology reading it, with the interned name.
    topics: HashMap<String, (u32, Arc<str>)>,
    /// The partitions the consumer was assigned, as the group handed them out.
    assigned: Vec<(String, i32)>,
    output: Vec<ProducedRecord>,
    last_commit: Instant,
    /// An error raised inside a rebalance callback, for the poll loop to handle.
    pub(crate) callback_error: Option<Error>,
    /// Set once the thread shut down: later callbacks (the consumer's close) do nothing.
    closed: bool,
    /// Since the last summary; the poll loop takes it.
    pub(crate) activity: Activity,
}

impl TaskManager {
    pub(crate) fn new(
        shared: Arc<Shared>,
        thread_name: String,
        collector: RecordCollector,
        reader: ChangelogReader,
    ) -> Self {
        let topics = shared
            .layout()
            .source_topics
            .iter()
            .map(|(topic, sub)| (topic.clone(), (*sub, Arc::from(topic.as_str()))))
            .collect();
        TaskManager {
            shared,
            thread_name,
            tasks: BTreeMap::new(),
            collector,
            reader,
            topics,
            assigned: Vec::new(),
            output: Vec::new(),
            last_commit: Instant::now(),
            callback_error: None,
            closed: false,
            activity: Activity::default(),
        }
    }

    /// The stream thread's name.
    pub(crate) fn thread_name(&self) -> &str {
        &self.thread_name
    }

    fn eos(&self) -> bool {
        self.shared.config.processing_guarantee() == ProcessingGuarantee::ExactlyOnceV2
    }

    fn intern(&self, topic: &str) -> Option<Arc<str>> {
        self.topics.get(topic).map(|(_, t)| Arc::clone(t))
    }

    /// Creates (and restores) the tasks of a new assignment.
    pub(crate) fn handle_assignment(&mut self, assignment: &TopicPartitionList) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        let mut wanted: Vec<TaskId> = Vec::new();
        self.assigned = assignment
            .elements()
            .iter()
            .map(|e| (e.topic().to_string(), e.partition()))
            .collect();
        self.assigned.sort();
        for element in assignment.elements() {
            if let Some((sub, _)) = self.topics.get(element.topic()) {
                let id = TaskId {
                    subtopology: *sub,
                    partition: element.partition(),
                };
                if !wanted.contains(&id) {
                    wanted.push(id);
                }
            }
        }
        wanted.sort();
        tracing::info!(thread = %self.thread_name, tasks = ?wanted.iter().map(ToString::to_string).collect::<Vec<_>>(), "partitions assigned");
        for id in wanted {
            if !self.tasks.contains_key(&id) {
                let task = self.create_task(id)?;
                self.tasks.insert(id, task);
            }
        }
        Ok(())
    }

    fn create_task(&mut self, id: TaskId) -> Result<StreamTask> {
        let shared = Arc::clone(&self.shared);
        let name = id.to_string();
        // Claimed before the directory is touched: the state cleaner skips it from now on.
        lock(&shared.owned_tasks).insert(name.clone());
        let directory = &shared.state_directory;
        let checkpoint_file = directory.checkpoint(&name)?;
        let mut checkpoint = match checkpoint_file.read() {
            Ok(offsets) => offsets,
            Err(e) => {
                tracing::warn!(task = %name, error = %e, "unreadable checkpoint; restoring the task from scratch");
                directory.wipe_task(&name)?;
                BTreeMap::new()
            }
        };
        if self.eos() {
            // Under exactly-once, local state is trusted only right after a clean close: the
            // checkpoint says so. Without it, uncommitted writes may be in the stores.
            if checkpoint.is_empty() {
                directory.wipe_task(&name)?;
            }
            directory.checkpoint(&name)?.delete()?;
        }
        let stores = TaskStores::new(
            &shared.application_id,
            id,
            Some((directory.clone(), shared.rocksdb.clone())),
            shared.cache_bytes_per_store(),
        )
        .with_global_stores(shared.global_stores())
        .with_partition_counts(shared.partition_counts());
        let mut task = internals::create_task(
            shared.topology(),
            id,
            &shared.application_id,
            now_ms(),
            &stores,
        )?;
        // Punctuations are subject to `processing.exception.handler` too (KIP-1033).
        task.set_processing_handler(shared.config.processing_handler());
        let layout = shared.layout();
        let mut changelogs = Vec::new();
        for changelog in &layout.changelogs[id.subtopology as usize] {
            let tp = TopicPartition::new(&changelog.topic, id.partition);
            let Some(handle) = task.store(&changelog.store).cloned() else {
                continue;
            };
            let persistent = handle.persistent();
            let from = if persistent {
                checkpoint.get(&tp).copied()
            } else {
                None
            };
            let (last, restored) = self.reader.restore(
                &changelog.store,
                &handle,
                tp.clone(),
                restore_start_offset(from),
            )?;
            shared
                .metrics
                .records_restored
                .fetch_add(restored, Ordering::Relaxed);
            match last.or(from) {
                Some(offset) if persistent => {
                    checkpoint.insert(tp.clone(), offset);
                }
                _ => {
                    checkpoint.remove(&tp);
                }
            }
            self.collector.forget_changelog(&tp.topic, tp.partition);
            changelogs.push((changelog.store.clone(), tp));
        }
        task.init()?;
        self.collector.send_output(&mut task, &mut self.output)?;
        let queues = layout.inputs[id.subtopology as usize]
            .iter()
            .map(|topic| PartitionQueue {
                // The task's own name of the topic, which it recognizes by address.
                topic: task
                    .input_topics()
                    .find(|name| ***name == **topic)
                    .cloned()
                    .or_else(|| self.intern(topic))
                    .unwrap_or_else(|| Arc::from(topic.as_str())),
                partition: id.partition,
                records: VecDeque::new(),
                processed: None,
                committed: None,
                received: None,
                empty_since: None,
                end_offset: None,
            })
            .collect();
        tracing::info!(thread = %self.thread_name, task = %id, "task created and restored");
        Ok(StreamTask {
            id,
            task,
            queues,
            changelogs,
            written_checkpoint: if self.eos() {
                BTreeMap::new()
            } else {
                checkpoint.clone()
            },
            checkpoint,
        })
    }

    /// Buffers a polled record in its task's partition queue; records of partitions this
    /// thread no longer owns are dropped (they will be read again by their new owner).
    pub(crate) fn add_record(&mut self, topic: &str, record: ConsumedRecord) {
        let Some((sub, _)) = self.topics.get(topic) else {
            return;
        };
        let id = TaskId {
            subtopology: *sub,
            partition: record.partition,
        };
        if let Some(task) = self.tasks.get_mut(&id) {
            if let Some(queue) = task
                .queues
                .iter_mut()
                .find(|q| q.partition == record.partition && &*q.topic == topic)
            {
                queue.received = Some(record.offset + 1);
                queue.records.push_back(record);
            }
        }
    }

    /// Whether any task has records waiting.
    pub(crate) fn has_buffered(&self) -> bool {
        self.tasks
            .values()
            .any(|t| t.queues.iter().any(|q| !q.records.is_empty()))
    }

    /// Processes the buffered records of every task (in timestamp order within a task) and
    /// hands the output to the producer. Returns how many records were processed.
    /// Stops after about [`RECORDS_PER_PROCESS`] records, so that the thread polls again.
    pub(crate) fn process(&mut self, fetching: &Fetching<'_>) -> Result<u64> {
        let max_idle = self.shared.config.max_task_idle_ms();
        let handler = self.shared.config.deserialization_handler();
        let processing_handler = self.shared.config.processing_handler();
        let now = Instant::now();
        let mut total = 0;
        // Round robin over the tasks, a few records each, as Kafka's TaskExecutor does: tasks
        // writing to the same repartition partitions then interleave their output roughly in
        // step, instead of one task's whole backlog landing before another's.
        loop {
            let mut round = 0;
            for task in self.tasks.values_mut() {
                let mut n = 0;
                while n < RECORDS_PER_ROUND {
                    let Some(index) = task.next_queue(max_idle, now, fetching) else {
                        break;
                    };
                    let queue = &mut task.queues[index];
                    let Some(record) = queue.records.pop_front() else {
                        break;
                    };
                    n += 1;
                    queue.processed = Some(record.offset);
                    match task.task.process(&task.queues[index].topic, record) {
                        Ok(()) => {}
                        // The exception handlers that log and continue skip the record
                        // (KIP-1033: what its processing forwarded before the error stays
                        // forwarded, as in Kafka) and count it.
                        Err(e) if skipping_handler(&e, handler, processing_handler).is_some() => {
                            tracing::warn!(task = %task.id, error = %e,
                                handler = skipping_handler(&e, handler, processing_handler),
                                "skipping a record (a log-and-continue exception handler)");
                            self.shared
                                .metrics
                                .records_skipped
                                .fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                        Err(e) => {
                            tracing::error!(task = %task.id, error = %e, "processing failed");
                            return Err(e.into());
                        }
                    }
                    let punctuated = task.task.maybe_punctuate_stream_time();
                    let skipped = task.task.take_skipped_punctuations();
                    self.shared
                        .metrics
                        .records_skipped
                        .fetch_add(skipped, Ordering::Relaxed);
                    if punctuated? {
                        self.activity.punctuated += 1;
                    }
                    total += 1;
                }
                if n > 0 {
                    self.collector
                        .send_output(&mut task.task, &mut self.output)?;
                }
                round += n;
            }
            if round == 0 || total >= RECORDS_PER_PROCESS {
                break;
            }
        }
        self.shared
            .metrics
            .records_processed
            .fetch_add(total, Ordering::Relaxed);
        self.activity.processed += total;
        Ok(total)
    }

    /// Fires due wall-clock punctuations of every task.
    pub(crate) fn punctuate_wall_clock(&mut self) -> Result<()> {
        let now = now_ms();
        for task in self.tasks.values_mut() {
            let punctuated = task.task.maybe_punctuate_wall_clock(now);
            let skipped = task.task.take_skipped_punctuations();
            self.shared
                .metrics
                .records_skipped
                .fetch_add(skipped, Ordering::Relaxed);
            if punctuated? {
                self.activity.punctuated += 1;
                self.collector
                    .send_output(&mut task.task, &mut self.output)?;
            }
        }
        Ok(())
    }

    /// Commits if `commit.interval.ms` has passed since the last commit.
    pub(crate) fn maybe_commit<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
    ) -> Result<()> {
        if self.last_commit.elapsed() >= self.shared.config.commit_interval() {
            self.commit(consumer)?;
        }
        Ok(())
    }

    /// Commits every task; see the module docs.
    pub(crate) fn commit<C: ConsumerContext>(&mut self, consumer: &BaseConsumer<C>) -> Result<()> {
        let started = Instant::now();
        self.last_commit = started;
        // Caches flush on every commit; the stores themselves are made durable (RocksDB runs
        // without its WAL) only every `FLUSH_DELTA_RECORDS` changelog records, and only then
        // may a checkpoint claim their contents, as Kafka Streams checkpoints.
        let mut durable = Vec::with_capacity(self.tasks.len());
        for task in self.tasks.values_mut() {
            durable.push(task.task.commit_stores()?);
            // Each task's records name topics by the task's own indexes: sent task by task.
            self.collector
                .send_output(&mut task.task, &mut self.output)?;
        }
        let stores_flushed = started.elapsed();
        let mut offsets = TopicPartitionList::new();
        for task in self.tasks.values() {
            for queue in &task.queues {
                if let Some(processed) = queue.processed {
                    if queue.committed != Some(processed + 1) {
                        offsets
                            .add_partition_offset(
                                &queue.topic,
                                queue.partition,
                                Offset::Offset(processed + 1),
                            )
                            .map_err(|e| Error::kafka("building the offsets to commit", e))?;
                    }
                }
            }
        }
        let mut produced = Duration::ZERO;
        if self.collector.is_transactional() {
            self.collector
                .commit_transaction(&offsets, consumer.group_metadata())?;
        } else {
            self.collector.flush()?;
            produced = started.elapsed();
            if offsets.count() > 0 {
                consumer
                    .commit(&offsets, CommitMode::Sync)
                    .map_err(|e| Error::kafka("committing consumed offsets", e))?;
            }
        }
        let committed = started.elapsed();
        self.activity.committed += self.tasks.len() as u64;
        for (task, durable) in self.tasks.values_mut().zip(durable) {
            for queue in &mut task.queues {
                if let Some(processed) = queue.processed {
                    queue.committed = Some(processed + 1);
                }
            }
            for (name, tp) in &task.changelogs {
                let persistent = task.task.store(name).is_some_and(StoreHandle::persistent);
                if let Some(offset) = self.collector.changelog_offset(&tp.topic, tp.partition) {
                    if persistent {
                        task.checkpoint.insert(tp.clone(), offset);
                    }
                }
            }
            if !self.collector.is_transactional() && durable {
                self.shared
                    .state_directory
                    .checkpoint(&task.id.to_string())?
                    .write(&task.checkpoint)?;
                task.written_checkpoint = task.checkpoint.clone();
            }
        }
        self.record_lag(consumer);
        let elapsed = started.elapsed();
        self.shared.metrics.record_commit(elapsed);
        tracing::debug!(thread = %self.thread_name, offsets = offsets.count(),
            stores_us = stores_flushed.as_micros() as u64,
            producer_us = produced.as_micros() as u64,
            offsets_us = committed.as_micros() as u64,
            total_us = elapsed.as_micros() as u64, "committed");
        Ok(())
    }

    /// The consumer lag of this thread's partitions: end offset − committed offset, from the
    /// end offsets the consumer's last fetch responses carried (no request).
    fn record_lag<C: ConsumerContext>(&mut self, consumer: &BaseConsumer<C>) {
        let mut lag = 0;
        for task in self.tasks.values() {
            for queue in &task.queues {
                if let (Some(high), Some(next)) = (
                    cached_high_watermark(consumer, &queue.topic, queue.partition),
                    queue.committed,
                ) {
                    lag += (high - next).max(0);
                }
            }
        }
        lock(&self.shared.metrics.consumer_lag).insert(self.thread_name.clone(), lag);
    }

    /// The partitions are being taken away: commit and close every task cleanly (or, when the
    /// assignment was lost, close them without committing).
    pub(crate) fn handle_revocation<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
        lost: bool,
    ) -> Result<()> {
        self.assigned.clear();
        if self.closed || self.tasks.is_empty() {
            return Ok(());
        }
        tracing::info!(thread = %self.thread_name, lost, "partitions revoked");
        if lost {
            self.close_dirty();
            return Ok(());
        }
        if let Err(e) = self.commit(consumer) {
            self.close_dirty();
            return Err(e);
        }
        self.close_clean()
    }

    /// Commits and closes every task, writing checkpoints; the thread stops using this
    /// manager afterwards.
    pub(crate) fn shutdown<C: ConsumerContext>(
        &mut self,
        consumer: &BaseConsumer<C>,
    ) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        let result = if self.tasks.is_empty() {
            Ok(())
        } else {
            match self.commit(consumer) {
                Ok(()) => self.close_clean(),
                Err(e) => {
                    self.close_dirty();
                    Err(e)
                }
            }
        };
        self.closed = true;
        result
    }

    /// After a failure: closes every task without committing. Under exactly-once the open
    /// transaction is aborted and the tasks' local state wiped, to be restored from the
    /// changelogs by whoever runs them next.
    pub(crate) fn close_dirty(&mut self) {
        if self.collector.is_transactional() {
            if let Err(e) = self.collector.abort_transaction() {
                tracing::warn!(thread = %self.thread_name, error = %e, "aborting the transaction failed");
            }
        }
        let eos = self.eos();
        for (id, mut task) in std::mem::take(&mut self.tasks) {
            if let Err(e) = task.task.close() {
                tracing::warn!(task = %id, error = %e, "error closing a task after a failure");
            }
            drop(task);
            if eos {
                if let Err(e) = self.shared.state_directory.wipe_task(&id.to_string()) {
                    tracing::warn!(task = %id, error = %e, "cannot wipe the task's state");
                }
            }
            lock(&self.shared.owned_tasks).remove(&id.to_string());
        }
    }

    fn close_clean(&mut self) -> Result<()> {
        let mut first_error = None;
        for (id, mut task) in std::mem::take(&mut self.tasks) {
            // The checkpoint claims the stores' contents: make them durable first.
            let result = task
                .task
                .flush_stores()
                .and_then(|()| task.task.close())
                .and_then(|()| {
                    Ok(self
                        .shared
                        .state_directory
                        .checkpoint(&id.to_string())?
                        .write(&task.checkpoint)?)
                });
            if let Err(e) = result {
                tracing::warn!(task = %id, error = %e, "error closing a task");
                first_error.get_or_insert(e);
            }
            lock(&self.shared.owned_tasks).remove(&id.to_string());
        }
        first_error.map_or(Ok(()), |e| Err(e.into()))
    }

    /// Marks the manager closed without touching its tasks (the thread is gone).
    pub(crate) fn mark_closed(&mut self) {
        self.closed = true;
    }

    /// This thread's tasks and the assigned partitions each reads.
    pub(crate) fn metadata(&self) -> crate::ThreadMetadata {
        let active_tasks = self
            .tasks
            .keys()
            .map(|id| crate::TaskMetadata {
                task_id: *id,
                topic_partitions: self
                    .assigned
                    .iter()
                    .filter(|(topic, partition)| {
                        *partition == id.partition
                            && self
                                .topics
                                .get(topic)
                                .is_some_and(|(sub, _)| *sub == id.subtopology)
                    })
                    .cloned()
                    .collect(),
            })
            .collect();
        crate::ThreadMetadata {
            thread_name: self.thread_name.clone(),
            active_tasks,
        }
    }

    /// Handles to the stores named `name` of this thread's tasks.
    pub(crate) fn store_handles(&self, name: &str) -> Vec<StoreHandle> {
        self.tasks
            .values()
            .filter_map(|t| t.task.store(name).cloned())
            .collect()
    }
}

/// The high watermark of `topic`/`partition` as the consumer last saw it in a fetch response.
///
/// rust-rdkafka 0.39 only offers `fetch_watermarks`, a blocking request per partition; a
/// stream thread must not stall on that while measuring a metric, so this calls librdkafka's
/// cached `rd_kafka_get_watermark_offsets` directly.
#[allow(unsafe_code)] // a librdkafka call rust-rdkafka does not wrap; see SAFETY below
pub(crate) fn cached_high_watermark<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
    partition: i32,
) -> Option<i64> {
    use rdkafka::bindings as rd;
    let topic = std::ffi::CString::new(topic).ok()?;
    let (mut low, mut high) = (-1i64, -1i64);
    // SAFETY: the pointer is the live consumer's handle (borrowed for the call); `topic` is a
    // NUL-terminated string that outlives the call; the out-pointers point at locals.
    let error = unsafe {
        rd::rd_kafka_get_watermark_offsets(
            consumer.client().native_ptr(),
            topic.as_ptr(),
            partition,
            &mut low,
            &mut high,
        )
    };
    (error == rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0).then_some(high)
}

/// Wall-clock time in milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use streams_core::serde::Serdes;
    use streams_core::{Consumed, Headers, StreamsBuilder};

    /// A task merging topics `a` and `b`, with `a`'s and `b`'s records queued.
    fn merging_task(a: &[i64], b: &[i64]) -> StreamTask {
        let builder = StreamsBuilder::new();
        let left = builder.stream("a", Consumed::with(Serdes::string(), Serdes::string()));
        let right = builder.stream("b", Consumed::with(Serdes::string(), Serdes::string()));
        left.merge(&right).foreach(|_, _| {});
        let topology = builder.build().unwrap();
        let id = TaskId {
            subtopology: 0,
            partition: 0,
        };
        let stores = TaskStores::new("app", id, None, 0);
        let task = internals::create_task(&topology, id, "app", 0, &stores).unwrap();
        let queue = |topic: &str, timestamps: &[i64]| {
            let topic: Arc<str> = Arc::from(topic);
            PartitionQueue {
                topic: Arc::clone(&topic),
                partition: 0,
                records: timestamps
                    .iter()
                    .enumerate()
                    .map(|(offset, &timestamp)| ConsumedRecord {
                        partition: 0,
                        offset: offset as i64,
                        timestamp,
                        key: None,
                        value: None,
                        headers: Headers::new(),
                    })
                    .collect(),
                processed: None,
                committed: None,
                received: Some(timestamps.len() as i64),
                empty_since: None,
                end_offset: None,
            }
        };
        StreamTask {
            id,
            task,
            queues: vec![queue("a", a), queue("b", b)],
            changelogs: Vec::new(),
            checkpoint: BTreeMap::new(),
            written_checkpoint: BTreeMap::new(),
        }
    }

    /// End offsets as if every partition were caught up.
    fn caught_up(_: &str, _: i32) -> Option<i64> {
        Some(0)
    }

    /// The consumer's state: end offsets from `end_offset`, drained at `drained_at`.
    fn fetching(
        end_offset: &dyn Fn(&str, i32) -> Option<i64>,
        drained_at: Option<Instant>,
    ) -> Fetching<'_> {
        Fetching {
            end_offset,
            drained_at,
        }
    }

    /// Pops records in the order the task would process them.
    fn order(task: &mut StreamTask, max_idle_ms: i64, now: Instant) -> Vec<(String, i64)> {
        order_with(task, max_idle_ms, now, &fetching(&caught_up, None))
    }

    /// [`order`] with the given end offsets.
    fn order_with(
        task: &mut StreamTask,
        max_idle_ms: i64,
        now: Instant,
        fetching: &Fetching<'_>,
    ) -> Vec<(String, i64)> {
        let mut seen = Vec::new();
        while let Some(i) = task.next_queue(max_idle_ms, now, fetching) {
            let record = task.queues[i].records.pop_front().unwrap();
            seen.push((task.queues[i].topic.to_string(), record.timestamp));
        }
        seen
    }

    #[test]
    fn records_of_a_task_are_chosen_by_lowest_timestamp() {
        let mut task = merging_task(&[1, 5, 9], &[2, 3, 10]);
        let seen = order(&mut task, 0, Instant::now());
        let expected: Vec<(String, i64)> =
            [("a", 1), ("b", 2), ("b", 3), ("a", 5), ("a", 9), ("b", 10)]
                .iter()
                .map(|(t, ts)| (t.to_string(), *ts))
                .collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn max_task_idle_waits_for_empty_partitions_then_goes_on() {
        let start = Instant::now();
        let mut task = merging_task(&[1, 2], &[]);
        // With 100 ms of idling allowed, nothing is processed while `b` is empty...
        let caught_up = fetching(&caught_up, None);
        assert_eq!(task.next_queue(100, start, &caught_up), None);
        assert_eq!(
            task.next_queue(100, start + Duration::from_millis(50), &caught_up),
            None
        );
        // ...until the wait is over.
        assert_eq!(
            order(&mut task, 100, start + Duration::from_millis(100)).len(),
            2
        );
        // The default (0) and -1 never wait.
        let mut task = merging_task(&[1], &[]);
        assert_eq!(order(&mut task, 0, start).len(), 1);
        let mut task = merging_task(&[1], &[]);
        assert_eq!(order(&mut task, -1, start).len(), 1);
    }

    #[test]
    fn empty_partitions_with_records_on_the_way_are_waited_for() {
        let start = Instant::now();
        let later = start + FETCH_WAIT;
        // `b` received nothing yet but its end offset is 10: records are being fetched, so
        // even with max.task.idle.ms = 0 the task waits for them (Kafka's KIP-695)...
        let pending = |topic: &str, _: i32| Some(if topic == "b" { 10 } else { 2 });
        let mut task = merging_task(&[1, 2], &[]);
        task.queues[1].received = Some(0);
        assert_eq!(task.next_queue(0, start, &fetching(&pending, None)), None);
        // ...however long the thread spent elsewhere, as long as it has not polled everything
        // the consumer prefetched since (the records may be queued behind others)...
        assert_eq!(task.next_queue(0, later, &fetching(&pending, None)), None);
        assert_eq!(
            task.next_queue(0, later, &fetching(&pending, Some(start))),
            None
        );
        // ...but not forever: transaction markers occupy offsets that never arrive.
        assert_eq!(
            task.next_queue(0, later, &fetching(&pending, Some(later))),
            Some(0)
        );
        // A partition whose end offset is not known yet is waited for too.
        let unknown = |_: &str, _: i32| None;
        let mut task = merging_task(&[1, 2], &[]);
        assert_eq!(task.next_queue(0, start, &fetching(&unknown, None)), None);
        // -1 never waits.
        assert_eq!(
            task.next_queue(-1, start, &fetching(&unknown, None)),
            Some(0)
        );
        // Once the records arrive, the wait starts over the next time the partition runs dry.
        let mut task = merging_task(&[1, 5], &[3]);
        task.queues[1].received = Some(1);
        let seen = order_with(&mut task, 0, start, &fetching(&pending, None));
        assert_eq!(seen, vec![("a".to_string(), 1), ("b".to_string(), 3)]);
    }

    #[test]
    fn the_offset_of_a_trailing_commit_marker_counts_as_caught_up() {
        assert_eq!(Backlog::of(Some(9), Some(10)), Backlog::CaughtUp);
        assert_eq!(Backlog::of(Some(10), Some(10)), Backlog::CaughtUp);
        assert_eq!(Backlog::of(Some(8), Some(10)), Backlog::Pending);
        assert_eq!(Backlog::of(None, Some(0)), Backlog::CaughtUp);
        assert_eq!(Backlog::of(None, Some(10)), Backlog::Unknown);
        assert_eq!(Backlog::of(Some(3), None), Backlog::Unknown);
    }
}
