//! Global stores at run time, like Kafka Streams' `GlobalStateManagerImpl`,
//! `GlobalStateUpdateTask` and `GlobalStreamThread`.
//!
//! An instance holds one copy of each global store (`StreamsBuilder::global_table`), with every
//! partition of its topic, under `state.dir/<application.id>/global/`. At start-up, before any
//! stream thread runs, [`GlobalState::restore`] builds the stores and restores them from their
//! topics up to the end offsets (from the offsets in the `global/.checkpoint` file on, so that
//! a restart restores only the tail). Then the global thread ([`run`]) keeps them up to date: a
//! consumer outside the consumer group, assigned every partition of every global topic, feeds
//! each record through its global sub-topology (the table-source processor writes the store),
//! and every `commit.interval.ms` the stores are flushed and the checkpoint written. Every task
//! of every stream thread reads the same stores through their (per-call locked) handles.
//!
//! The thread stops once the instance shuts down and its stream threads have ended (they may
//! read the stores until then); it then flushes, checkpoints and closes the stores. An error on
//! it moves the instance to PENDING_ERROR and then ERROR, as a failing `GlobalStreamThread` does
//! in Kafka (it cannot be replaced).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use streams_state::restore::restore_start_offset;
use streams_state::{OffsetCheckpoint, TopicPartition};

use crate::clients;
use crate::error::{Error, Result};
use crate::instance::{panic_error, Runtime};
use crate::restore::ChangelogReader;
use crate::sync::lock;
use crate::thread::consumed_record;
use streams_core::internals::{
    self, ClientKind, ConsumedRecord, GlobalStores, Task, TaskStores, GLOBAL_DIRECTORY,
};
use streams_core::DeserializationHandler;
use streams_core::TaskId;

/// How long the global consumer's poll waits for records.
const POLL_TIMEOUT: Duration = Duration::from_millis(100);

/// The instance's global stores and what keeps them: one task per global sub-topology and the
/// offset of the last record applied from each global topic partition.
pub(crate) struct GlobalState {
    tasks: Vec<Task>,
    /// Global topic → the task reading it, with the interned name.
    topics: HashMap<String, (usize, Arc<str>)>,
    stores: GlobalStores,
    /// Per global topic partition: the offset of the last record applied.
    offsets: BTreeMap<TopicPartition, i64>,
    /// `global/.checkpoint`, written only when some global store is persistent.
    checkpoint: Option<OffsetCheckpoint>,
    /// Whether records were applied since the stores were last flushed.
    dirty: bool,
}

impl GlobalState {
    /// Builds the global stores of `runtime`'s topology and restores them from their topics up
    /// to the end offsets, from the checkpoint on; `None` when the topology has no global store.
    pub(crate) fn restore(runtime: &Runtime) -> Result<Option<Self>> {
        let shared = &runtime.shared;
        let topology = shared.topology();
        let subs: Vec<u32> = (0..topology.subtopology_count() as u32)
            .filter(|&s| topology.is_global(s))
            .collect();
        if subs.is_empty() {
            return Ok(None);
        }
        let directory = &shared.state_directory;
        let checkpoint_file = directory.checkpoint(GLOBAL_DIRECTORY)?;
        let checkpointed = match checkpoint_file.read() {
            Ok(offsets) => offsets,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable global checkpoint; restoring the global stores from scratch");
                directory.wipe_task(GLOBAL_DIRECTORY)?;
                BTreeMap::new()
            }
        };
        let reader = ChangelogReader::new(
            &clients::assigning_consumer(
                &shared.config,
                ClientKind::GlobalConsumer,
                &format!("{}-global-restore-consumer", runtime.client_id_prefix()),
            ),
            shared.restore_listener(),
            shared.config.task_timeout(),
        )?;
        let layout = shared.layout();
        let mut state = GlobalState {
            tasks: Vec::new(),
            topics: HashMap::new(),
            stores: GlobalStores::default(),
            offsets: BTreeMap::new(),
            checkpoint: None,
            dirty: false,
        };
        let mut stores = HashMap::new();
        for sub in subs {
            let id = TaskId {
                subtopology: sub,
                partition: 0,
            };
            let task_stores = TaskStores::global(
                &shared.application_id,
                Some((directory.clone(), shared.rocksdb.clone())),
            );
            let mut task = internals::create_task(
                topology,
                id,
                &shared.application_id,
                crate::task_manager::now_ms(),
                &task_stores,
            )?;
            let topics = topology.source_topics(sub, &shared.application_id);
            for (name, handle) in task.stores() {
                let persistent = handle.persistent();
                if persistent && state.checkpoint.is_none() {
                    state.checkpoint = Some(checkpoint_file.clone());
                }
                for topic in &topics {
                    let partitions = layout.global_topics.get(topic).copied().unwrap_or(0);
                    for partition in 0..partitions {
                        let tp = TopicPartition::new(topic, partition);
                        let from = if persistent {
                            checkpointed.get(&tp).copied()
                        } else {
                            None
                        };
                        let (last, restored) =
                            reader.restore(name, handle, tp.clone(), restore_start_offset(from))?;
                        shared
                            .metrics
                            .records_restored
                            .fetch_add(restored, Ordering::Relaxed);
                        if let Some(offset) = last.or(from) {
                            state.offsets.insert(tp, offset);
                        }
                    }
                }
                stores.insert(name.clone(), handle.clone());
            }
            task.init()?;
            for topic in topics {
                let interned = Arc::from(topic.as_str());
                state.topics.insert(topic, (state.tasks.len(), interned));
            }
            state.tasks.push(task);
        }
        state.stores = Arc::new(stores);
        // What was restored is checkpointed at the first flush.
        state.dirty = true;
        tracing::info!(
            application = %shared.application_id,
            stores = ?state.stores.keys().collect::<Vec<_>>(),
            "global stores restored"
        );
        Ok(Some(state))
    }

    /// The global stores, for the tasks of the stream threads and for interactive queries.
    pub(crate) fn stores(&self) -> GlobalStores {
        Arc::clone(&self.stores)
    }

    /// Every global topic partition and the offset to go on reading it from.
    fn assignment(&self, runtime: &Runtime) -> Result<TopicPartitionList> {
        let mut list = TopicPartitionList::new();
        for (topic, partitions) in &runtime.shared.layout().global_topics {
            for partition in 0..*partitions {
                let tp = TopicPartition::new(topic, partition);
                let offset = match self.offsets.get(&tp) {
                    Some(&last) => Offset::Offset(restore_start_offset(Some(last))),
                    None => Offset::Beginning,
                };
                list.add_partition_offset(topic, partition, offset)
                    .map_err(|e| Error::kafka(format!("assigning {tp}"), e))?;
            }
        }
        Ok(list)
    }

    /// Applies one record of global topic `topic` to its store.
    fn process(
        &mut self,
        topic: &str,
        record: ConsumedRecord,
        handler: DeserializationHandler,
    ) -> Result<()> {
        let Some((task, name)) = self.topics.get(topic) else {
            return Err(streams_core::Error::UnknownTopic(topic.to_string()).into());
        };
        let tp = TopicPartition::new(topic, record.partition);
        let offset = record.offset;
        match self.tasks[*task].process(name, record) {
            Ok(()) => {}
            Err(e @ streams_core::Error::Deserialization { .. })
                if handler == DeserializationHandler::LogAndContinue =>
            {
                tracing::warn!(error = %e,
                    "skipping a global-topic record that cannot be deserialized (LogAndContinueExceptionHandler)");
            }
            Err(e) => return Err(e.into()),
        }
        self.offsets.insert(tp, offset);
        self.dirty = true;
        Ok(())
    }

    /// Flushes the stores durably, then writes the checkpoint of what they hold (Kafka's
    /// `GlobalStateUpdateTask::flushState`); nothing if no record came since the last time.
    fn flush_and_checkpoint(&mut self) -> Result<()> {
        if !self.dirty {
            return Ok(());
        }
        self.dirty = false;
        for task in &mut self.tasks {
            task.flush_stores()?;
        }
        if let Some(checkpoint) = &self.checkpoint {
            checkpoint.write(&self.offsets)?;
        }
        Ok(())
    }

    /// Closes the tasks and their stores; after a clean run, flushed and checkpointed first.
    fn close(mut self, clean: bool) -> Result<()> {
        let flushed = if clean {
            self.flush_and_checkpoint()
        } else {
            Ok(())
        };
        for task in &mut self.tasks {
            if let Err(e) = task.close() {
                tracing::warn!(error = %e, "error closing a global store");
            }
        }
        flushed
    }
}

/// Restores the global stores (before any stream thread starts) and starts the global
/// thread that keeps them up to date; nothing without global stores.
pub(crate) fn start(runtime: &Arc<Runtime>) -> Result<()> {
    let Some(state) = GlobalState::restore(runtime)? else {
        let _ = runtime.shared.global_stores.set(GlobalStores::default());
        return Ok(());
    };
    let _ = runtime.shared.global_stores.set(state.stores());
    let name = format!(
        "{}-{}-GlobalStreamThread",
        runtime.shared.application_id, runtime.shared.process_id
    );
    let thread_runtime = Arc::clone(runtime);
    let thread_name = name.clone();
    runtime.global_alive.store(true, Ordering::SeqCst);
    let handle = std::thread::Builder::new()
        .name(name.clone())
        .spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run(&thread_runtime, state)
            }))
            .unwrap_or_else(|panic| Err(panic_error(&thread_name, panic)));
            thread_runtime.global_alive.store(false, Ordering::SeqCst);
            match result {
                Ok(()) => tracing::info!(thread = %thread_name, "global thread stopped"),
                Err(error) => {
                    // `global::run` already failed the client if its loop did; a panic or
                    // an error while closing the stores does so here.
                    tracing::error!(thread = %thread_name, %error, "global thread failed");
                    thread_runtime.fail();
                }
            }
            thread_runtime.maybe_finish_error();
        });
    match handle {
        Ok(handle) => {
            *lock(&runtime.global_thread) = Some(handle);
            Ok(())
        }
        Err(e) => {
            runtime.global_alive.store(false, Ordering::SeqCst);
            Err(Error::IllegalState(format!(
                "cannot start the global thread {name}: {e}"
            )))
        }
    }
}

/// The global thread's body: keeps `state` up to date until the instance shuts down; see the
/// module docs. Returns the error that ended it, if any.
pub(crate) fn run(runtime: &Runtime, mut state: GlobalState) -> Result<()> {
    let shared = &runtime.shared;
    let mut config = clients::assigning_consumer(
        &shared.config,
        ClientKind::GlobalConsumer,
        &format!("{}-global-consumer", runtime.client_id_prefix()),
    );
    config.set("enable.partition.eof", "false");
    let result = (|| {
        let consumer: BaseConsumer = config
            .create()
            .map_err(|e| Error::kafka("creating the global consumer", e))?;
        consumer
            .assign(&state.assignment(runtime)?)
            .map_err(|e| Error::kafka("assigning the global topic partitions", e))?;
        poll_loop(runtime, &consumer, &mut state)
    })();
    if let Err(error) = &result {
        // Like Kafka: a failed global thread cannot be replaced; the client shuts down into
        // ERROR, its stream threads first.
        tracing::error!(%error, "global thread failed");
        runtime.fail();
    }
    // The stream threads may read the stores until they end.
    while !runtime.stream_threads_stopped() {
        std::thread::sleep(Duration::from_millis(10));
    }
    let closed = state.close(result.is_ok());
    result.and(closed)
}

fn poll_loop(runtime: &Runtime, consumer: &BaseConsumer, state: &mut GlobalState) -> Result<()> {
    let config = &runtime.shared.config;
    let handler = config.deserialization_handler();
    let commit_interval = config.commit_interval();
    let mut last_flush = Instant::now();
    while !runtime.stream_threads_stopped() {
        match consumer.poll(POLL_TIMEOUT) {
            None => {}
            Some(Ok(message)) => {
                let record = consumed_record(&message);
                state.process(message.topic(), record, handler)?;
            }
            Some(Err(KafkaError::PartitionEOF(_))) => {}
            Some(Err(e)) => tracing::warn!(error = %e, "global consumer error"),
        }
        if last_flush.elapsed() >= commit_interval {
            state.flush_and_checkpoint()?;
            last_flush = Instant::now();
        }
    }
    Ok(())
}
