//! `ListOffsets`: translating "earliest", "latest" and timestamps into offsets.
//!
//! The special timestamps are Kafka's: `-2` earliest (the log start offset), `-1` latest
//! (the high watermark), `-3` the record with the largest timestamp, `-4` earliest local
//! (same as earliest without tiered storage), `-5` earliest pending upload (none). A real
//! timestamp is looked up in the time index: the first record at or after it. Under
//! `read_committed` (`isolation_level=1`), "latest" is the last stable offset.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

use crate::broker::Broker;
use crate::log::PartitionLog;

fn lookup(log: &PartitionLog, timestamp: i64, committed: bool) -> Result<(i64, i64), i16> {
    match timestamp {
        -1 if committed => Ok((log.last_stable_offset(), -1)),
        -1 => Ok((log.log_end_offset(), -1)),
        -2 | -4 => Ok((log.log_start_offset(), -1)),
        -3 => Ok(log.max_timestamp().unwrap_or((-1, -1))),
        -5 => Ok((-1, -1)),
        ts if ts >= 0 => match log.offset_for_timestamp(ts) {
            Ok(Some((o, t))) => Ok((o, t)),
            Ok(None) => Ok((-1, -1)),
            Err(e) => {
                tracing::error!(topic = log.topic(), partition = log.partition(), error = %e, "timestamp lookup failed");
                Err(ResponseError::KafkaStorageError.code())
            }
        },
        _ => Err(ResponseError::InvalidRequest.code()),
    }
}

pub(super) fn handle(
    broker: &Arc<Broker>,
    request: ListOffsetsRequest,
    _version: i16,
) -> ListOffsetsResponse {
    let committed = request.isolation_level == 1;
    let topics = request
        .topics
        .into_iter()
        .map(|t| {
            let topic = broker.topics().get(t.name.0.as_str());
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    let base = ListOffsetsPartitionResponse::default()
                        .with_partition_index(p.partition_index)
                        .with_timestamp(-1)
                        .with_offset(-1)
                        .with_leader_epoch(-1);
                    match topic.as_ref().and_then(|t| t.partition(p.partition_index)) {
                        None => base.with_error_code(ResponseError::UnknownTopicOrPartition.code()),
                        Some(log) => match lookup(log, p.timestamp, committed) {
                            Ok((offset, ts)) => base.with_offset(offset).with_timestamp(ts),
                            Err(code) => base.with_error_code(code),
                        },
                    }
                })
                .collect();
            ListOffsetsTopicResponse::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}
