//! A stream thread, like Kafka Streams' `StreamThread`: one OS thread owning one group consumer,
//! one producer (in its [`RecordCollector`]), one restore consumer and the tasks assigned to it.
//!
//! Why OS threads rather than tokio tasks: a task's processing is synchronous, CPU-bound code
//! (serdes, RocksDB), and every Kafka client call the loop makes is a blocking librdkafka call
//! that returns as soon as data is there; an async runtime would add a hop per poll and
//! nothing to overlap. librdkafka does the network I/O on its own threads either way.
//! Measured (`RILL_BENCH_ONLY=consumer-loop cargo bench --bench e2e`, BENCHMARKS.md): the same
//! 500,000 records read by a blocking poll loop on an OS thread at 0.95–1.08M records/s and by
//! `StreamConsumer::recv().await` on a tokio task at 0.95–1.04M — no gain to pay async's
//! complexity for, in a loop whose every other step (processing, RocksDB) blocks anyway.
//!
//! The loop: poll a batch of records (up to [`MAX_POLL_RECORDS`]) without holding the task
//! manager's lock — rebalance callbacks run inside `poll()` and take it themselves — then
//! process, punctuate and commit when due. A rebalance in the middle of a batch drops the
//! records polled before it: their partitions were revoked and committed, and whoever owns
//! them now reads them again from the committed offsets.
//!
//! While the instance is paused (`KafkaStreams::pause`) the loop pauses its consumer's
//! partitions and keeps polling — serving rebalances, staying in the group — but processes and
//! punctuates nothing. When the thread stops, its consumer leaves the group if the thread is
//! being removed or the instance closes with `LeaveGroup`; a static member otherwise stays.
//!
//! Between batches the loop also logs a summary every `log.summary.interval.ms` (records
//! processed, punctuators run, tasks committed, as Kafka's `StreamThread`), and runs the
//! instance's state cleaner when it is due (`state.cleanup.delay.ms`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::{Headers as _, Message};

use crate::clients;
use crate::collector::RecordCollector;
use crate::error::{Error, Result};
use crate::handlers::StreamThreadExceptionResponse;
use crate::instance::{panic_error, Runtime, ThreadSlot, ThreadState};
use crate::restore::ChangelogReader;
use crate::sync::lock;
use crate::task_manager::{cached_high_watermark, Activity, Fetching, TaskManager};
use streams_core::internals::ClientKind;
use streams_core::internals::ConsumedRecord;
use streams_core::Headers;
use streams_core::ProcessingGuarantee;

/// Records polled before they are processed.
pub(crate) const MAX_POLL_RECORDS: usize = 1_000;

/// How long a poll waits when there is nothing to do (Kafka Streams' `poll.ms`).
const POLL_TIMEOUT: Duration = Duration::from_millis(100);

/// How long a poll waits while buffered records wait for other partitions (`max.task.idle.ms`).
const IDLE_POLL_TIMEOUT: Duration = Duration::from_millis(5);

/// The group consumer of a stream thread.
pub(crate) type StreamConsumer = BaseConsumer<StreamsConsumerContext>;

/// The consumer's context: runs rebalances through the task manager.
pub(crate) struct StreamsConsumerContext {
    manager: Arc<Mutex<TaskManager>>,
    runtime: Arc<Runtime>,
    slot: usize,
    /// Counts rebalances, so that the poll loop can drop records polled before one.
    rebalances: Arc<AtomicU64>,
}

impl ClientContext for StreamsConsumerContext {}

impl ConsumerContext for StreamsConsumerContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        self.rebalances.fetch_add(1, Ordering::SeqCst);
        self.runtime
            .set_thread_state(self.slot, ThreadState::PartitionsRevoked);
        if let Rebalance::Revoke(_) = rebalance {
            let mut manager = lock(&self.manager);
            let lost = consumer.assignment_lost();
            if let Err(e) = manager.handle_revocation(consumer, lost) {
                manager.callback_error.get_or_insert(e);
            }
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        self.rebalances.fetch_add(1, Ordering::SeqCst);
        match rebalance {
            Rebalance::Assign(assignment) => {
                self.runtime
                    .set_thread_state(self.slot, ThreadState::PartitionsAssigned);
                let mut manager = lock(&self.manager);
                let reset = crate::offset_reset::apply(
                    consumer,
                    self.runtime.shared.topology(),
                    assignment,
                    Duration::from_secs(30),
                );
                if let Err(e) = reset.and_then(|()| manager.handle_assignment(assignment)) {
                    manager.callback_error.get_or_insert(e);
                }
                drop(manager);
                self.runtime
                    .set_thread_state(self.slot, ThreadState::Running);
            }
            Rebalance::Revoke(_) => {}
            Rebalance::Error(e) => {
                tracing::warn!(error = %e, "rebalance error");
            }
        }
    }
}

/// Starts stream thread `slot` (a new one, or the replacement of a failed one), named with the
/// lowest index no other live thread uses. Returns its name.
pub(crate) fn spawn(runtime: &Arc<Runtime>, slot: usize) -> Result<String> {
    let name = {
        let mut threads = lock(&runtime.threads);
        while threads.len() <= slot {
            threads.push(ThreadSlot {
                state: ThreadState::Dead,
                handle: None,
                manager: None,
                index: 0,
                name: String::new(),
                stop: false,
            });
        }
        let index = Runtime::free_thread_index(&threads, slot);
        let name = format!("{}-StreamThread-{index}", runtime.client_id_prefix());
        let t = &mut threads[slot];
        t.state = ThreadState::Starting;
        t.manager = None;
        t.index = index;
        t.name = name.clone();
        t.stop = false;
        name
    };
    // A new thread joins the group: the instance rebalances (RUNNING → REBALANCING).
    runtime.derive_state();
    let thread_runtime = Arc::clone(runtime);
    let thread_name = name.clone();
    let spawned = std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || main(thread_runtime, slot, thread_name));
    let mut threads = lock(&runtime.threads);
    match spawned {
        Ok(handle) => {
            if let Some(t) = threads.get_mut(slot) {
                t.handle = Some(handle);
            }
            Ok(name)
        }
        Err(e) => {
            if let Some(t) = threads.get_mut(slot) {
                t.state = ThreadState::Dead;
            }
            Err(Error::IllegalState(format!(
                "cannot start stream thread {name}: {e}"
            )))
        }
    }
}

/// The body of stream thread `slot`: runs it, then marks it dead and hands a failure to the
/// uncaught-exception handler.
fn main(runtime: Arc<Runtime>, slot: usize, name: String) {
    let thread_runtime = Arc::clone(&runtime);
    let thread_name = name.clone();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        run(thread_runtime, slot, thread_name)
    }))
    .unwrap_or_else(|panic| Err(panic_error(&name, panic)));
    let removed = runtime.removal_requested(slot);
    {
        let mut threads = lock(&runtime.threads);
        if let Some(t) = threads.get_mut(slot) {
            t.state = ThreadState::Dead;
            t.manager = None;
        }
    }
    // The others may all be processing already (a removed thread's tasks moved on).
    runtime.derive_state();
    if let Err(error) = result {
        if runtime.shutdown.load(Ordering::SeqCst) || removed {
            tracing::warn!(thread = %name, %error, "stream thread failed while shutting down");
        } else {
            tracing::error!(thread = %name, %error, "stream thread failed");
            let handler = lock(&runtime.handler).clone();
            let response =
                handler.map_or(StreamThreadExceptionResponse::ShutdownClient, |h| h(&error));
            match response {
                StreamThreadExceptionResponse::ReplaceThread => {
                    tracing::info!(thread = %name, "replacing the failed stream thread");
                    if let Err(e) = spawn(&runtime, slot) {
                        tracing::error!(error = %e, "cannot replace the stream thread");
                        runtime.fail();
                    }
                }
                StreamThreadExceptionResponse::ShutdownClient => runtime.fail(),
                StreamThreadExceptionResponse::ShutdownApplication => {
                    tracing::warn!("SHUTDOWN_APPLICATION: shutting down this instance; other instances are not told (librdkafka's group protocol cannot carry the request)");
                    runtime.fail();
                }
            }
        }
    }
    runtime.maybe_finish_error();
}

/// Creates the clients and the task manager of stream thread `slot`, runs it until shutdown or
/// failure, and shuts it down. Returns the error that ended it, if any.
pub(crate) fn run(runtime: Arc<Runtime>, slot: usize, name: String) -> Result<()> {
    let shared = Arc::clone(&runtime.shared);
    let config = &shared.config;
    let eos = config.processing_guarantee() == ProcessingGuarantee::ExactlyOnceV2;
    // `task.timeout.ms`: how long a wait on the cluster (a producer flush, a transaction, a
    // changelog's end offset) may take before the thread fails.
    let timeout = config.task_timeout();

    let transactional_id =
        eos.then(|| format!("{}-{}-{slot}", shared.application_id, shared.process_id));
    let producer_config = clients::producer(
        config,
        &format!("{name}-producer"),
        transactional_id.as_deref(),
    );
    let collector = RecordCollector::new(
        &producer_config,
        &shared.layout().changelog_topics(),
        timeout,
        shared.production_handler(),
        Arc::clone(&shared.metrics.records_skipped),
    )?;

    let restore_config = clients::assigning_consumer(
        config,
        ClientKind::RestoreConsumer,
        &format!("{name}-restore-consumer"),
    );
    let listener = shared.restore_listener();
    let reader = ChangelogReader::new(&restore_config, listener, timeout)?;

    let manager = Arc::new(Mutex::new(TaskManager::new(
        Arc::clone(&shared),
        name.clone(),
        collector,
        reader,
    )));
    runtime.register_manager(slot, Arc::clone(&manager));

    let index = lock(&runtime.threads).get(slot).map_or(1, |t| t.index);
    let consumer_config = clients::main_consumer(config, &format!("{name}-consumer"), index);
    let rebalances = Arc::new(AtomicU64::new(0));
    let consumer: StreamConsumer = consumer_config
        .create_with_context(StreamsConsumerContext {
            manager: Arc::clone(&manager),
            runtime: Arc::clone(&runtime),
            slot,
            rebalances: Arc::clone(&rebalances),
        })
        .map_err(|e| Error::kafka("creating the consumer", e))?;
    let topics: Vec<&str> = shared
        .layout()
        .source_topics
        .keys()
        .map(String::as_str)
        .collect();
    consumer
        .subscribe(&topics)
        .map_err(|e| Error::kafka(format!("subscribing to {topics:?}"), e))?;
    tracing::info!(thread = %name, ?topics, "stream thread started");

    // A panic in user code must not reach the consumer's close with the tasks still open:
    // that close would commit them.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        poll_loop(&runtime, slot, &consumer, &manager, &rebalances)
    }))
    .unwrap_or_else(|panic| Err(panic_error(&name, panic)));
    let result = match result {
        Ok(()) => lock(&manager).shutdown(&consumer),
        Err(e) => {
            let mut m = lock(&manager);
            m.close_dirty();
            m.mark_closed();
            Err(e)
        }
    };
    // The consumer's close runs a last (empty) revocation. Whether the member leaves the group
    // is librdkafka's choice for a dynamic member (it always does: no way to close one
    // without) and ours for a static one (KIP-345: its close never leaves).
    let leave = runtime.leaves_group(slot);
    match (config.group_instance_id().is_some(), leave) {
        (false, _) => consumer.unsubscribe(),
        (true, true) => leave_group(&consumer, &name),
        (true, false) => {
            tracing::info!(thread = %name, "closing without leaving the group: the static member keeps its partitions until session.timeout.ms")
        }
    }
    drop(consumer);
    tracing::info!(thread = %name, ok = result.is_ok(), "stream thread stopped");
    result
}

/// How long a static member waits for librdkafka to send its LeaveGroup before closing.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Makes a static member leave the group before its consumer closes (which, for a static
/// member, sends no LeaveGroup): unsubscribing does, once the revocation it triggers has run
/// in a poll — librdkafka then forgets the member id, and its close waits for the LeaveGroup's
/// answer. This is what Kafka Streams gets from the admin client's
/// `removeMembersFromConsumerGroup` when it closes with `LEAVE_GROUP`.
fn leave_group(consumer: &StreamConsumer, name: &str) {
    consumer.unsubscribe();
    let deadline = Instant::now() + LEAVE_TIMEOUT;
    while member_id(consumer).is_some_and(|id| !id.is_empty()) {
        if Instant::now() >= deadline {
            tracing::warn!(thread = %name, "the static member did not leave the group within {LEAVE_TIMEOUT:?}");
            return;
        }
        let _ = consumer.poll(Duration::from_millis(20));
    }
    tracing::info!(thread = %name, "left the consumer group");
}

/// The consumer's current member id in its group (empty before it joined and after it left).
#[allow(unsafe_code)] // a librdkafka call rust-rdkafka does not wrap; see SAFETY below
fn member_id(consumer: &StreamConsumer) -> Option<String> {
    use rdkafka::bindings as rd;
    let client = consumer.client().native_ptr();
    // SAFETY: `client` is the live consumer's handle, borrowed for the call;
    // rd_kafka_memberid returns NULL or a NUL-terminated string that librdkafka allocated
    // for the caller, read here once and then freed with rd_kafka_mem_free as documented.
    unsafe {
        let raw = rd::rd_kafka_memberid(client);
        if raw.is_null() {
            return None;
        }
        let id = std::ffi::CStr::from_ptr(raw).to_string_lossy().into_owned();
        rd::rd_kafka_mem_free(client, raw.cast());
        Some(id)
    }
}

/// The periodic INFO summary of a stream thread (`log.summary.interval.ms`), in the words of
/// Kafka's `StreamThread`.
fn log_summary(thread: &str, activity: Activity) {
    tracing::info!(
        thread,
        records = activity.processed,
        punctuators = activity.punctuated,
        committed_tasks = activity.committed,
        "Processed {} total records, ran {} punctuators, and committed {} total tasks since the last update",
        activity.processed,
        activity.punctuated,
        activity.committed
    );
}

/// A polled message as a task's input record.
pub(crate) fn consumed_record(message: &impl Message) -> ConsumedRecord {
    let mut headers = Headers::new();
    if let Some(h) = message.headers() {
        for header in h.iter() {
            headers.add(header.key, header.value.map(<[u8]>::to_vec));
        }
    }
    ConsumedRecord {
        partition: message.partition(),
        offset: message.offset(),
        timestamp: message.timestamp().to_millis().unwrap_or(-1),
        key: message.key().map(<[u8]>::to_vec),
        value: message.payload().map(<[u8]>::to_vec),
        headers,
    }
}

/// Pauses or resumes the consumer's partitions to follow `pause()`/`resume()`: a paused
/// consumer fetches nothing but keeps polling, so the member stays in the group and serves
/// rebalances. librdkafka keeps a partition paused across a revocation and a later
/// assignment, so after every rebalance the new assignment is paused or resumed again, either
/// way (resuming a partition that is not paused does nothing). librdkafka resumes a partition
/// from the last record it handed over, and records polled before the pause wait in their
/// tasks' queues: nothing is skipped or read twice. `applied` is the pause state last applied
/// and the rebalance count it was applied at.
fn sync_pause(
    consumer: &StreamConsumer,
    paused: bool,
    rebalances: &AtomicU64,
    applied: &mut Option<(bool, u64)>,
) {
    let generation = rebalances.load(Ordering::SeqCst);
    if *applied == Some((paused, generation)) || (applied.is_none() && !paused) {
        return;
    }
    let assignment = match consumer.assignment() {
        Ok(assignment) => assignment,
        Err(e) => {
            tracing::warn!(error = %e, "reading the assignment to pause or resume it");
            return;
        }
    };
    *applied = Some((paused, generation));
    let result = if paused {
        consumer.pause(&assignment)
    } else {
        consumer.resume(&assignment)
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, paused, "pausing or resuming the consumer's partitions");
    }
}

fn poll_loop(
    runtime: &Runtime,
    slot: usize,
    consumer: &StreamConsumer,
    manager: &Mutex<TaskManager>,
    rebalances: &AtomicU64,
) -> Result<()> {
    let mut batch: Vec<(Arc<str>, ConsumedRecord)> = Vec::with_capacity(MAX_POLL_RECORDS);
    let mut processed_last = false;
    // When a poll last found nothing more prefetched (see `Fetching`).
    let mut drained_at: Option<Instant> = None;
    let subscription: Vec<&str> = runtime
        .shared
        .layout()
        .source_topics
        .keys()
        .map(String::as_str)
        .collect();
    let topics: HashMap<String, Arc<str>> = runtime
        .shared
        .layout()
        .source_topics
        .keys()
        .map(|t| (t.clone(), Arc::from(t.as_str())))
        .collect();
    let summary_interval = runtime.shared.config.log_summary_interval();
    let mut last_summary = Instant::now();
    // Whether the consumer's assignment was last paused or resumed, and after which rebalance.
    let mut pause_applied: Option<(bool, u64)> = None;
    while !runtime.shutdown_requested(slot) {
        let paused = runtime.is_paused();
        sync_pause(consumer, paused, rebalances, &mut pause_applied);
        if last_summary.elapsed() >= summary_interval {
            let mut m = lock(manager);
            let activity = std::mem::take(&mut m.activity);
            log_summary(m.thread_name(), activity);
            drop(m);
            last_summary = Instant::now();
        }
        runtime.shared.maybe_clean_state();
        // Records waiting (for max.task.idle.ms) and none processed last round: poll briefly
        // rather than spin.
        let busy = lock(manager).has_buffered();
        let mut generation = rebalances.load(Ordering::SeqCst);
        let mut timeout = match (busy && !paused, processed_last) {
            (true, true) => Duration::ZERO,
            (true, false) => IDLE_POLL_TIMEOUT,
            (false, _) => POLL_TIMEOUT,
        };
        while batch.len() < MAX_POLL_RECORDS {
            let polled = consumer.poll(timeout);
            timeout = Duration::ZERO;
            let now = rebalances.load(Ordering::SeqCst);
            if now != generation {
                // Records polled before a rebalance belong to the old assignment.
                generation = now;
                batch.clear();
            }
            match polled {
                None => {
                    drained_at = Some(Instant::now());
                    break;
                }
                Some(Ok(message)) => {
                    let Some(topic) = topics.get(message.topic()).cloned() else {
                        continue;
                    };
                    batch.push((topic, consumed_record(&message)));
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "consumer error");
                    break;
                }
            }
        }
        runtime.shared.metrics.polls.fetch_add(1, Ordering::SeqCst);
        // Asked again: a pause() that came while polling holds back what the poll returned.
        let paused = runtime.is_paused();
        let mut m = lock(manager);
        let step = match m.callback_error.take() {
            Some(e) => Err(e),
            None if paused => {
                // Kept in the tasks' queues, processed once resumed.
                for (topic, record) in batch.drain(..) {
                    m.add_record(&topic, record);
                }
                processed_last = false;
                m.maybe_commit(consumer)
            }
            None => {
                for (topic, record) in batch.drain(..) {
                    m.add_record(&topic, record);
                }
                let end_offset =
                    |topic: &str, partition| cached_high_watermark(consumer, topic, partition);
                m.process(&Fetching {
                    end_offset: &end_offset,
                    drained_at,
                })
                .map(|n| processed_last = n > 0)
                .and_then(|()| m.punctuate_wall_clock())
                .and_then(|()| m.maybe_commit(consumer))
            }
        };
        match step {
            Ok(()) => {}
            Err(e) if e.is_task_migrated() => {
                // Like Kafka's TaskMigratedException: drop the tasks without committing and
                // rejoin; the next assignment recreates (and restores) whatever is ours.
                tracing::warn!(error = %e, "tasks migrated; closing them and rejoining the group");
                m.close_dirty();
                drop(m);
                batch.clear();
                consumer.unsubscribe();
                consumer
                    .subscribe(&subscription)
                    .map_err(|e| Error::kafka("resubscribing after a task migration", e))?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
