//! The seam between topologies and whatever runs them: what the [`TopologyTestDriver`] and
//! Rill's Kafka runtime (`streams-runtime`) both drive, so that the two run the same processor
//! code. Applications do not need it; a runtime of its own does.
//!
//! The contract, as Kafka Streams' `StreamTask` with its `RecordCollector`:
//! 1. [`create_task`] instantiates a sub-topology for one partition, its stores built from
//!    [`TaskStores`] (state directory, RocksDB resources, record caches, the changelog
//!    collector) and restored by the owner from their changelogs ([`StoreHandle::restore_batch`],
//!    the topics from [`store_changelogs`]).
//! 2. The owner feeds [`Task::process`] [`ConsumedRecord`]s in the order it chooses (the
//!    runtime: lowest timestamp first across a task's partitions), and fires punctuations.
//! 3. It drains what the task produced: [`Task::drain_output`] ([`ProducedRecord`]s for the
//!    task's [`output topics`](Task::output_topics)) and [`Task::drain_changelog`] (store writes,
//!    [`packed`](Packed)), and ships them — the driver into its topics, the runtime to Kafka.
//! 4. It commits with [`Task::commit_stores`] (caches flushed, stores flushed durably every so
//!    often so that a checkpoint may be written) and ends with [`Task::close`].
//!
//! [`TopologyTestDriver`]: crate::TopologyTestDriver

pub use crate::config::ClientKind;
pub use crate::processor::task::{
    PartitionCounts, Task, TaskStores, FLUSH_DELTA_RECORDS, GLOBAL_DIRECTORY,
};
pub use crate::record::packed::Packed;
pub use crate::record::{ConsumedRecord, ProducedRecord};
pub use crate::state::{access, GlobalStores, KeyValueStoreRef, StoreHandle};
pub use crate::topology::StoreChangelog;

use crate::error::Result;
use crate::processor::TaskId;
use crate::topology::Topology;

/// Instantiates sub-topology `task_id.subtopology` of `topology` for partition
/// `task_id.partition`: every processor created fresh from its supplier, its stores built from
/// `stores`. The task's wall clock starts at `wall_clock_ms`. Call [`Task::init`] once its
/// stores are restored.
pub fn create_task(
    topology: &Topology,
    task_id: TaskId,
    application_id: &str,
    wall_clock_ms: i64,
    stores: &TaskStores,
) -> Result<Task> {
    topology.create_task(task_id, application_id, wall_clock_ms, stores)
}

/// The logged stores of sub-topology `subtopology` and their changelog topics, resolved for
/// `application_id`: what a task's owner restores before processing.
pub fn store_changelogs(
    topology: &Topology,
    subtopology: u32,
    application_id: &str,
) -> Vec<StoreChangelog> {
    topology.store_changelogs(subtopology, application_id)
}

/// How many stores of `topology` have a record cache: an owner divides
/// `statestore.cache.max.bytes` among them.
pub fn cached_store_count(topology: &Topology) -> usize {
    topology.cached_store_count()
}
