//! What an instance tells about its threads and tasks (Kafka Streams' `ThreadMetadata` and
//! `TaskMetadata`, from `KafkaStreams::metadataForLocalThreads`).

use streams_core::TaskId;

/// A stream thread of this instance and its tasks, like Kafka's `ThreadMetadata`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadMetadata {
    /// The thread's name (`<application.id>-<process>-StreamThread-<n>`).
    pub thread_name: String,
    /// The tasks it runs.
    pub active_tasks: Vec<TaskMetadata>,
}

/// A task and the input partitions the consumer group assigned to it, like Kafka's
/// `TaskMetadata`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskMetadata {
    /// The task.
    pub task_id: TaskId,
    /// The assigned `(topic, partition)`s it reads.
    pub topic_partitions: Vec<(String, i32)>,
}
