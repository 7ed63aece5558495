//! `DeleteRecords` and `OffsetForLeaderEpoch`: moving a partition's log start offset (what
//! `kafka-delete-records.sh` and the admin clients' `deleteRecords` do), and answering the
//! leader-epoch end-offset queries that consumers make to detect truncation (KIP-320). A
//! single node never changes leader, so every partition has been at epoch 0 from offset 0.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{
    DeleteRecordsRequest, DeleteRecordsResponse, OffsetForLeaderEpochRequest,
    OffsetForLeaderEpochResponse,
};

use crate::broker::Broker;
use crate::error::Error;

/// The leader epoch of every partition of a single node.
const LEADER_EPOCH: i32 = 0;

pub(super) fn delete_records(
    broker: &Arc<Broker>,
    request: DeleteRecordsRequest,
) -> DeleteRecordsResponse {
    let topics = request
        .topics
        .into_iter()
        .map(|t| {
            let topic = broker.topics().get(t.name.0.as_str());
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let result = DeleteRecordsPartitionResult::default()
                        .with_partition_index(p.partition_index)
                        .with_low_watermark(-1);
                    let Some(log) = topic.as_ref().and_then(|t| t.partition(p.partition_index))
                    else {
                        return result
                            .with_error_code(ResponseError::UnknownTopicOrPartition.code());
                    };
                    if topic.as_ref().is_some_and(|t| t.is_internal()) {
                        return result
                            .with_error_code(ResponseError::TopicAuthorizationFailed.code());
                    }
                    // -1 means "up to the high watermark" (Kafka's `DeleteRecordsRequest.HIGH_WATERMARK`).
                    let offset = if p.offset == -1 {
                        log.log_end_offset()
                    } else {
                        p.offset
                    };
                    match log.delete_records_before(offset) {
                        Ok(low_watermark) => result.with_low_watermark(low_watermark),
                        Err(Error::OffsetOutOfRange { .. }) => {
                            result.with_error_code(ResponseError::OffsetOutOfRange.code())
                        }
                        Err(e) => {
                            tracing::error!(topic = log.topic(), partition = log.partition(), error = %e, "delete records failed");
                            result.with_error_code(ResponseError::KafkaStorageError.code())
                        }
                    }
                })
                .collect();
            DeleteRecordsTopicResult::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    DeleteRecordsResponse::default().with_topics(topics)
}

pub(super) fn offset_for_leader_epoch(
    broker: &Arc<Broker>,
    request: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let topics = request
        .topics
        .into_iter()
        .map(|t| {
            let topic = broker.topics().get(t.topic.0.as_str());
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let result = EpochEndOffset::default()
                        .with_partition(p.partition)
                        .with_leader_epoch(-1)
                        .with_end_offset(-1);
                    let Some(log) = topic.as_ref().and_then(|t| t.partition(p.partition)) else {
                        return result
                            .with_error_code(ResponseError::UnknownTopicOrPartition.code());
                    };
                    // The client's view of the leader epoch must not be newer than ours (an
                    // older one would be fenced, but no epoch is older than the first).
                    if p.current_leader_epoch > LEADER_EPOCH {
                        return result.with_error_code(ResponseError::UnknownLeaderEpoch.code());
                    }
                    // Kafka's `LeaderEpochFileCache#endOffsetFor`: the latest epoch ends at the
                    // log end offset; there is no earlier epoch, and a later one is unknown.
                    if p.leader_epoch == LEADER_EPOCH {
                        result
                            .with_leader_epoch(LEADER_EPOCH)
                            .with_end_offset(log.log_end_offset())
                    } else {
                        result
                    }
                })
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(t.topic)
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}
