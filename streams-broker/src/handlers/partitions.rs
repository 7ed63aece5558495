//! `CreatePartitions` and `DescribeTopicPartitions`: growing a topic, and describing its
//! partitions page by page (KIP-966), as Kafka's admin clients and `kafka-topics.sh` use them.
//! With one node, every partition is led by this broker at leader epoch 0, and an explicit
//! assignment may only name it.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::describe_topic_partitions_response::{
    Cursor, DescribeTopicPartitionsResponsePartition, DescribeTopicPartitionsResponseTopic,
};
use kafka_protocol::messages::{
    BrokerId, CreatePartitionsRequest, CreatePartitionsResponse, DescribeTopicPartitionsRequest,
    DescribeTopicPartitionsResponse, TopicName,
};

use super::str_bytes;
use crate::broker::Broker;
use crate::error::Error;
use crate::topics::Topic;

/// Kafka's cap on `response_partition_limit` (`max.request.partition.size.limit`).
const MAX_PARTITIONS_PER_RESPONSE: i32 = 2000;

pub(super) fn create_partitions(
    broker: &Arc<Broker>,
    request: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let node = broker.node_id();
    let mut seen = std::collections::HashSet::new();
    let results = request
        .topics
        .iter()
        .map(|t| {
            let name = t.name.0.as_str();
            let result = CreatePartitionsTopicResult::default().with_name(t.name.clone());
            let fail = |code: ResponseError, message: String| {
                result
                    .clone()
                    .with_error_code(code.code())
                    .with_error_message(Some(str_bytes(&message)))
            };
            if !seen.insert(name) {
                // Kafka answers a topic listed twice with INVALID_REQUEST.
                return fail(
                    ResponseError::InvalidRequest,
                    "duplicate topic in request".into(),
                );
            }
            if let Some(assignments) = &t.assignments {
                let current = broker.topics().get(name).map_or(0, |t| t.partitions.len());
                if assignments.len() as i64 != i64::from(t.count) - current as i64 {
                    return fail(
                        ResponseError::InvalidReplicaAssignment,
                        format!(
                            "{} assignments given for {} new partitions",
                            assignments.len(),
                            i64::from(t.count) - current as i64
                        ),
                    );
                }
                if assignments
                    .iter()
                    .any(|a| a.broker_ids.len() != 1 || a.broker_ids[0].0 != node)
                {
                    return fail(
                        ResponseError::InvalidReplicaAssignment,
                        format!("only broker {node} exists"),
                    );
                }
            }
            if broker.topics().get(name).is_some_and(|t| t.is_internal()) {
                return fail(
                    ResponseError::InvalidRequest,
                    format!("{name} is an internal topic"),
                );
            }
            match broker
                .topics()
                .add_partitions(name, t.count, request.validate_only)
            {
                Ok(_) => result,
                Err(e @ Error::UnknownTopic { .. }) => {
                    fail(ResponseError::UnknownTopicOrPartition, e.to_string())
                }
                Err(e @ Error::InvalidPartitions { .. }) => {
                    fail(ResponseError::InvalidPartitions, e.to_string())
                }
                Err(e) => fail(ResponseError::UnknownServerError, e.to_string()),
            }
        })
        .collect();
    CreatePartitionsResponse::default().with_results(results)
}

/// One partition of `topic` as `DescribeTopicPartitions` reports it.
fn partition(node: i32, index: i32) -> DescribeTopicPartitionsResponsePartition {
    DescribeTopicPartitionsResponsePartition::default()
        .with_partition_index(index)
        .with_leader_id(BrokerId(node))
        .with_leader_epoch(0)
        .with_replica_nodes(vec![BrokerId(node)])
        .with_isr_nodes(vec![BrokerId(node)])
        .with_eligible_leader_replicas(Some(Vec::new()))
        .with_last_known_elr(Some(Vec::new()))
}

fn described_topic(topic: &Topic) -> DescribeTopicPartitionsResponseTopic {
    DescribeTopicPartitionsResponseTopic::default()
        .with_name(Some(TopicName(str_bytes(&topic.name))))
        .with_topic_id(topic.id)
        .with_is_internal(topic.is_internal())
        .with_topic_authorized_operations(i32::MIN)
}

/// Describes the topics asked for (every topic when none is named), in name order, at most
/// `response_partition_limit` partitions per response; the rest is reached through
/// `next_cursor`, as Kafka's `DescribeTopicPartitionsRequestHandler` pages.
pub(super) fn describe_topic_partitions(
    broker: &Arc<Broker>,
    request: DescribeTopicPartitionsRequest,
) -> DescribeTopicPartitionsResponse {
    let node = broker.node_id();
    let limit = request
        .response_partition_limit
        .clamp(1, MAX_PARTITIONS_PER_RESPONSE) as usize;
    let mut names: Vec<String> = if request.topics.is_empty() {
        broker
            .topics()
            .list()
            .iter()
            .filter(|t| !t.is_internal())
            .map(|t| t.name.clone())
            .collect()
    } else {
        request
            .topics
            .iter()
            .map(|t| t.name.0.as_str().to_string())
            .collect()
    };
    names.sort();
    names.dedup();
    let (cursor_topic, cursor_partition) = match &request.cursor {
        Some(c) => (Some(c.topic_name.0.as_str().to_string()), c.partition_index),
        None => (None, 0),
    };
    let mut topics = Vec::new();
    let mut budget = limit;
    let mut next_cursor = None;
    for name in names {
        if cursor_topic.as_ref().is_some_and(|c| name < *c) {
            continue;
        }
        let first = if cursor_topic.as_ref() == Some(&name) {
            cursor_partition.max(0)
        } else {
            0
        };
        let Some(topic) = broker.topics().get(&name) else {
            topics.push(
                DescribeTopicPartitionsResponseTopic::default()
                    .with_error_code(ResponseError::UnknownTopicOrPartition.code())
                    .with_name(Some(TopicName(str_bytes(&name))))
                    .with_topic_authorized_operations(i32::MIN),
            );
            continue;
        };
        if budget == 0 {
            next_cursor = Some(
                Cursor::default()
                    .with_topic_name(TopicName(str_bytes(&name)))
                    .with_partition_index(first),
            );
            break;
        }
        let count = topic.partitions.len() as i32;
        let last = (i64::from(first) + budget as i64).min(i64::from(count)) as i32;
        let partitions: Vec<_> = (first..last).map(|p| partition(node, p)).collect();
        budget -= partitions.len();
        topics.push(described_topic(&topic).with_partitions(partitions));
        if last < count {
            next_cursor = Some(
                Cursor::default()
                    .with_topic_name(TopicName(str_bytes(&name)))
                    .with_partition_index(last),
            );
            break;
        }
    }
    DescribeTopicPartitionsResponse::default()
        .with_topics(topics)
        .with_next_cursor(next_cursor)
}
