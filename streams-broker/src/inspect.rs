//! Read-only views of a running broker, for tests, benchmarks and tools.
//!
//! Applications talk to the broker through Kafka clients. A test of the broker itself also
//! wants to see what the broker holds — a partition's offsets, the segments retention left,
//! where a transaction stands — without going through the protocol. A
//! [`BrokerHandle`](crate::BrokerHandle) hands out these views; each read sees the live
//! state at that moment, and none can change it. Kafka's counterparts are the admin
//! client's `describeTopics`, `listOffsets` and `describeTransactions`.

use std::sync::Arc;

use uuid::Uuid;

use crate::config::TopicConfig;
use crate::log::PartitionLog;
use crate::topics::Topic;
use crate::txn::{TxnMetadata, TxnState};

/// A topic as the broker holds it.
#[derive(Debug, Clone)]
pub struct TopicView {
    /// The topic's name.
    pub name: String,
    /// The topic id (Kafka's KIP-516 topic UUID), stable across restarts.
    pub id: Uuid,
    /// The configuration in force (broker defaults plus topic overrides).
    pub config: Arc<TopicConfig>,
    /// One view per partition, indexed by partition number.
    pub partitions: Vec<PartitionView>,
}

impl TopicView {
    /// A view of `topic`.
    pub(crate) fn of(topic: &Topic) -> TopicView {
        TopicView {
            name: topic.name.clone(),
            id: topic.id,
            config: topic.config.clone(),
            partitions: topic
                .partitions
                .iter()
                .map(|log| PartitionView { log: log.clone() })
                .collect(),
        }
    }
}

/// One partition's log: its offsets and segments, read live at each call.
#[derive(Debug, Clone)]
pub struct PartitionView {
    log: Arc<PartitionLog>,
}

impl PartitionView {
    /// The first offset still in the log (retention advances it).
    pub fn log_start_offset(&self) -> i64 {
        self.log.log_start_offset()
    }

    /// The offset the next record will get: the high watermark.
    pub fn log_end_offset(&self) -> i64 {
        self.log.log_end_offset()
    }

    /// The last stable offset: `read_committed` consumers read up to it.
    pub fn last_stable_offset(&self) -> i64 {
        self.log.last_stable_offset()
    }

    /// Where the log cleaner's dirty section starts: records from here on were appended
    /// since its last pass (compacted topics).
    pub fn first_dirty_offset(&self) -> i64 {
        self.log.first_dirty_offset()
    }

    /// The number of segment files.
    pub fn segment_count(&self) -> usize {
        self.log.segment_count()
    }
}

/// Where a transactional producer stands, as the transaction coordinator records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionDescription {
    /// The producer's `transactional.id`.
    pub transactional_id: String,
    /// The producer id bound to it.
    pub producer_id: i64,
    /// The current epoch; older epochs are fenced.
    pub producer_epoch: i16,
    /// `transaction.timeout.ms` as the producer asked.
    pub timeout_ms: i64,
    /// The state of the current (or last) transaction.
    pub state: TxnState,
}

impl TransactionDescription {
    /// The public part of the coordinator's record.
    pub(crate) fn of(m: TxnMetadata) -> TransactionDescription {
        TransactionDescription {
            transactional_id: m.transactional_id,
            producer_id: m.producer_id,
            producer_epoch: m.producer_epoch,
            timeout_ms: m.timeout_ms,
            state: m.state,
        }
    }
}
