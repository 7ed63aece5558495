//! The transaction APIs a producer calls: `InitProducerId`, `AddPartitionsToTxn`,
//! `AddOffsetsToTxn`, `TxnOffsetCommit` and `EndTxn`, answered by the broker's
//! [transaction coordinator](crate::txn).
//!
//! These are thin translations between the wire messages and the coordinator, like the
//! transaction arms of Kafka's `KafkaApis`. `AddPartitionsToTxn` is served in its client
//! form (v0–v3); the batched broker-to-broker form of v4+ (KIP-890) is not advertised.
//! `TxnOffsetCommit` (what `send_offsets_to_transaction` sends to the group coordinator)
//! checks the consumer's group membership with the group coordinator (KIP-447) and
//! leaves the offsets with the transaction, which stores them in the group at commit.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafka_protocol::messages::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafka_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse, EndTxnRequest, EndTxnResponse, InitProducerIdRequest,
    InitProducerIdResponse, ProducerId, TxnOffsetCommitRequest, TxnOffsetCommitResponse,
};

use crate::broker::Broker;
use crate::txn::PendingOffset;

/// `InitProducerId`: a producer id and epoch, for an idempotent producer (no
/// transactional id) or a transactional one.
pub(super) fn init_producer_id(
    broker: &Arc<Broker>,
    request: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let transactional_id = request.transactional_id.as_ref().map(|t| t.0.as_str());
    let result = broker.transactions().init_producer_id(
        transactional_id,
        request.transaction_timeout_ms,
        (request.producer_id.0, request.producer_epoch),
        broker.topics(),
    );
    let response = InitProducerIdResponse::default()
        .with_ongoing_txn_producer_id(ProducerId(-1))
        .with_ongoing_txn_producer_epoch(-1);
    match result {
        Ok((producer_id, epoch)) => response
            .with_producer_id(ProducerId(producer_id))
            .with_producer_epoch(epoch),
        Err(e) => response
            .with_error_code(e.code())
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1),
    }
}

/// `AddPartitionsToTxn` (v0–v3): every partition gets the same answer. If some partition
/// does not exist, it gets `UNKNOWN_TOPIC_OR_PARTITION`, the others
/// `OPERATION_NOT_ATTEMPTED`, and nothing is added, as in Kafka.
pub(super) fn add_partitions_to_txn(
    broker: &Arc<Broker>,
    request: AddPartitionsToTxnRequest,
) -> AddPartitionsToTxnResponse {
    let exists = |topic: &str, p: i32| {
        broker
            .topics()
            .get(topic)
            .is_some_and(|t| t.partition(p).is_some())
    };
    let all_exist = request
        .v3_and_below_topics
        .iter()
        .all(|t| t.partitions.iter().all(|&p| exists(t.name.0.as_str(), p)));
    let result = if all_exist {
        let partitions: Vec<(String, i32)> = request
            .v3_and_below_topics
            .iter()
            .flat_map(|t| {
                t.partitions
                    .iter()
                    .map(|&p| (t.name.0.as_str().to_string(), p))
            })
            .collect();
        broker.transactions().add_partitions(
            request.v3_and_below_transactional_id.0.as_str(),
            request.v3_and_below_producer_id.0,
            request.v3_and_below_producer_epoch,
            &partitions,
        )
    } else {
        Err(ResponseError::OperationNotAttempted)
    };
    let results = request
        .v3_and_below_topics
        .into_iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|&p| {
                    let code = match &result {
                        Ok(()) => 0,
                        Err(_) if !exists(t.name.0.as_str(), p) => {
                            ResponseError::UnknownTopicOrPartition.code()
                        }
                        Err(e) => e.code(),
                    };
                    AddPartitionsToTxnPartitionResult::default()
                        .with_partition_index(p)
                        .with_partition_error_code(code)
                })
                .collect();
            AddPartitionsToTxnTopicResult::default()
                .with_name(t.name)
                .with_results_by_partition(partitions)
        })
        .collect();
    AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(results)
}

/// `EndTxn`: commit or abort; markers are written to every partition of the transaction
/// before the answer, and waiting fetches are woken.
pub(super) fn end_txn(broker: &Arc<Broker>, request: EndTxnRequest) -> EndTxnResponse {
    let result = broker.transactions().end_txn(
        request.transactional_id.0.as_str(),
        request.producer_id.0,
        request.producer_epoch,
        request.committed,
        broker.topics(),
    );
    broker.notify_append();
    let response = EndTxnResponse::default()
        .with_producer_id(ProducerId(-1))
        .with_producer_epoch(-1);
    match result {
        Ok(()) => response,
        Err(e) => response.with_error_code(e.code()),
    }
}

/// `AddOffsetsToTxn`: the transaction will commit offsets of a consumer group.
pub(super) fn add_offsets_to_txn(
    broker: &Arc<Broker>,
    request: AddOffsetsToTxnRequest,
) -> AddOffsetsToTxnResponse {
    let result = broker.transactions().add_offsets(
        request.transactional_id.0.as_str(),
        request.producer_id.0,
        request.producer_epoch,
        request.group_id.0.as_str(),
    );
    AddOffsetsToTxnResponse::default().with_error_code(result.err().map_or(0, |e| e.code()))
}

/// `TxnOffsetCommit`: offsets buffered in the transaction, committed to the group only if
/// it commits. Every partition gets the same answer.
pub(super) fn txn_offset_commit(
    broker: &Arc<Broker>,
    request: TxnOffsetCommitRequest,
) -> TxnOffsetCommitResponse {
    let offsets: Vec<PendingOffset> = request
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(|p| PendingOffset {
                topic: t.name.0.as_str().to_string(),
                partition: p.partition_index,
                offset: p.committed_offset,
                leader_epoch: p.committed_leader_epoch,
                metadata: p
                    .committed_metadata
                    .as_ref()
                    .map(|m| m.as_str().to_string()),
            })
        })
        .collect();
    let member_check = broker.groups().validate_txn_offset_commit(
        request.group_id.0.as_str(),
        request.member_id.as_str(),
        request.group_instance_id.as_ref().map(|i| i.as_str()),
        request.generation_id,
    );
    let code = if member_check != 0 {
        member_check
    } else {
        broker
            .transactions()
            .txn_offset_commit(
                request.transactional_id.0.as_str(),
                request.group_id.0.as_str(),
                request.producer_id.0,
                request.producer_epoch,
                offsets,
            )
            .err()
            .map_or(0, |e| e.code())
    };
    let topics = request
        .topics
        .into_iter()
        .map(|t| {
            let partitions = t
                .partitions
                .iter()
                .map(|p| {
                    TxnOffsetCommitResponsePartition::default()
                        .with_partition_index(p.partition_index)
                        .with_error_code(code)
                })
                .collect();
            TxnOffsetCommitResponseTopic::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    TxnOffsetCommitResponse::default().with_topics(topics)
}
