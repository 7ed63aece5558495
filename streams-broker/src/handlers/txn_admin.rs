//! The transaction tools' APIs — `DescribeProducers`, `DescribeTransactions` and
//! `ListTransactions` (KIP-664, what `kafka-transactions.sh` uses to find hanging
//! transactions): the producers with state in a partition, and the transaction
//! coordinator's view of each transactional id.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_producers_response::{
    PartitionResponse, ProducerState, TopicResponse,
};
use kafka_protocol::messages::describe_transactions_response::{TopicData, TransactionState};
use kafka_protocol::messages::{
    DescribeProducersRequest, DescribeProducersResponse, DescribeTransactionsRequest,
    DescribeTransactionsResponse, ListTransactionsRequest, ListTransactionsResponse, ProducerId,
    TopicName, TransactionalId,
};

use super::str_bytes;
use crate::broker::Broker;
use crate::clock::now_ms;
use crate::txn::TxnState;

pub(super) fn describe_producers(
    broker: &Arc<Broker>,
    request: DescribeProducersRequest,
) -> DescribeProducersResponse {
    let topics = request
        .topics
        .into_iter()
        .map(|t| {
            let topic = broker.topics().get(t.name.0.as_str());
            let partitions = t
                .partition_indexes
                .iter()
                .map(|&p| {
                    let response = PartitionResponse::default().with_partition_index(p);
                    let Some(log) = topic.as_ref().and_then(|t| t.partition(p)) else {
                        return response
                            .with_error_code(ResponseError::UnknownTopicOrPartition.code());
                    };
                    let producers = log
                        .producers()
                        .into_iter()
                        .map(|s| {
                            ProducerState::default()
                                .with_producer_id(ProducerId(s.producer_id))
                                .with_producer_epoch(i32::from(s.epoch))
                                .with_last_sequence(s.last_sequence)
                                .with_last_timestamp(s.last_timestamp)
                                .with_coordinator_epoch(-1)
                                .with_current_txn_start_offset(s.current_txn_start_offset)
                        })
                        .collect();
                    response.with_active_producers(producers)
                })
                .collect();
            TopicResponse::default()
                .with_name(t.name)
                .with_partitions(partitions)
        })
        .collect();
    DescribeProducersResponse::default().with_topics(topics)
}

pub(super) fn describe_transactions(
    broker: &Arc<Broker>,
    request: DescribeTransactionsRequest,
) -> DescribeTransactionsResponse {
    let states = request
        .transactional_ids
        .into_iter()
        .map(|id| {
            let state = TransactionState::default().with_transactional_id(id.clone());
            let Some(txn) = broker.transactions().describe(id.0.as_str()) else {
                return state.with_error_code(ResponseError::TransactionalIdNotFound.code());
            };
            let mut topics: Vec<TopicData> = Vec::new();
            for (topic, partition) in &txn.partitions {
                match topics.last_mut() {
                    Some(last) if last.topic.0.as_str() == topic => {
                        last.partitions.push(*partition)
                    }
                    _ => topics.push(
                        TopicData::default()
                            .with_topic(TopicName(str_bytes(topic)))
                            .with_partitions(vec![*partition]),
                    ),
                }
            }
            let started = if txn.state == TxnState::Empty {
                -1
            } else {
                txn.txn_start_ms
            };
            state
                .with_transaction_state(str_bytes(txn.state.name()))
                .with_transaction_timeout_ms(i32::try_from(txn.timeout_ms).unwrap_or(i32::MAX))
                .with_transaction_start_time_ms(started)
                .with_producer_id(ProducerId(txn.producer_id))
                .with_producer_epoch(txn.producer_epoch)
                .with_topics(topics)
        })
        .collect();
    DescribeTransactionsResponse::default().with_transaction_states(states)
}

/// Kafka's transaction state names, which `state_filters` may name.
const STATE_NAMES: &[&str] = &[
    "Empty",
    "Ongoing",
    "PrepareCommit",
    "PrepareAbort",
    "CompleteCommit",
    "CompleteAbort",
    "Dead",
    "PrepareEpochFence",
];

pub(super) fn list_transactions(
    broker: &Arc<Broker>,
    request: ListTransactionsRequest,
) -> ListTransactionsResponse {
    use kafka_protocol::messages::list_transactions_response::TransactionState;
    let filters: Vec<&str> = request.state_filters.iter().map(|s| s.as_str()).collect();
    let unknown: Vec<_> = request
        .state_filters
        .iter()
        .filter(|s| !STATE_NAMES.contains(&s.as_str()))
        .cloned()
        .collect();
    let pattern = match request.transactional_id_pattern.as_ref() {
        Some(p) if !p.is_empty() => match regex::Regex::new(&format!("^(?:{})$", p.as_str())) {
            Ok(re) => Some(re),
            Err(_) => {
                return ListTransactionsResponse::default()
                    .with_error_code(ResponseError::InvalidRegularExpression.code())
            }
        },
        _ => None,
    };
    let now = now_ms();
    let states = broker
        .transactions()
        .list()
        .into_iter()
        .filter(|t| filters.is_empty() || filters.contains(&t.state.name()))
        .filter(|t| {
            request.producer_id_filters.is_empty()
                || request
                    .producer_id_filters
                    .iter()
                    .any(|p| p.0 == t.producer_id)
        })
        // KIP-994: transactions running longer than `duration_filter` ms (-1: any).
        .filter(|t| {
            request.duration_filter < 0
                || (t.state == TxnState::Ongoing
                    && now.saturating_sub(t.txn_start_ms) > request.duration_filter)
        })
        .filter(|t| {
            pattern
                .as_ref()
                .is_none_or(|re| re.is_match(&t.transactional_id))
        })
        .map(|t| {
            TransactionState::default()
                .with_transactional_id(TransactionalId(str_bytes(&t.transactional_id)))
                .with_producer_id(ProducerId(t.producer_id))
                .with_transaction_state(str_bytes(t.state.name()))
        })
        .collect();
    ListTransactionsResponse::default()
        .with_unknown_state_filters(unknown)
        .with_transaction_states(states)
}
