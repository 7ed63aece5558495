//! Error answers for APIs the broker knows of but does not serve yet.
//!
//! Clients only send what `ApiVersions` advertised, but tools and hand-written clients do
//! not always ask. Kafka's rule for such a request is a response whose error fields say
//! `UNSUPPORTED_VERSION`, shaped like the request (one entry per group, topic or partition
//! asked about), so the client reports an error instead of seeing its connection drop.
//! The group and transaction coordinators' APIs left this list when they were built (see
//! `group` and `txn`).

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::*;

const CODE: i16 = ResponseError::UnsupportedVersion.code();

/// The error response to `request`, or `None` if the API has no way to carry one (the
/// connection is then closed, as Kafka does).
pub(super) fn error_response(request: RequestKind) -> Option<ResponseKind> {
    let response = match request {
        RequestKind::SaslHandshake(_) => {
            ResponseKind::SaslHandshake(SaslHandshakeResponse::default().with_error_code(CODE))
        }
        RequestKind::CreatePartitions(r) => ResponseKind::CreatePartitions(
            CreatePartitionsResponse::default().with_results(
                r.topics
                    .into_iter()
                    .map(|t| {
                        CreatePartitionsTopicResult::default()
                            .with_name(t.name)
                            .with_error_code(CODE)
                    })
                    .collect(),
            ),
        ),
        RequestKind::DeleteRecords(r) => ResponseKind::DeleteRecords(
            DeleteRecordsResponse::default().with_topics(
                r.topics
                    .into_iter()
                    .map(|t| {
                        DeleteRecordsTopicResult::default()
                            .with_name(t.name)
                            .with_partitions(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        DeleteRecordsPartitionResult::default()
                                            .with_partition_index(p.partition_index)
                                            .with_low_watermark(-1)
                                            .with_error_code(CODE)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            ),
        ),
        RequestKind::AlterConfigs(r) => ResponseKind::AlterConfigs(
            AlterConfigsResponse::default().with_responses(
                r.resources
                    .into_iter()
                    .map(|res| {
                        AlterConfigsResourceResponse::default()
                            .with_resource_type(res.resource_type)
                            .with_resource_name(res.resource_name)
                            .with_error_code(CODE)
                    })
                    .collect(),
            ),
        ),
        RequestKind::IncrementalAlterConfigs(r) => ResponseKind::IncrementalAlterConfigs(
            IncrementalAlterConfigsResponse::default().with_responses(
                r.resources
                    .into_iter()
                    .map(|res| {
                        incremental_alter_configs_response::AlterConfigsResourceResponse::default()
                            .with_resource_type(res.resource_type)
                            .with_resource_name(res.resource_name)
                            .with_error_code(CODE)
                    })
                    .collect(),
            ),
        ),
        RequestKind::OffsetForLeaderEpoch(r) => ResponseKind::OffsetForLeaderEpoch(
            OffsetForLeaderEpochResponse::default().with_topics(
                r.topics
                    .into_iter()
                    .map(|t| {
                        OffsetForLeaderTopicResult::default()
                            .with_topic(t.topic)
                            .with_partitions(
                                t.partitions
                                    .iter()
                                    .map(|p| {
                                        EpochEndOffset::default()
                                            .with_partition(p.partition)
                                            .with_error_code(CODE)
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            ),
        ),
        _ => return None,
    };
    Some(response)
}
