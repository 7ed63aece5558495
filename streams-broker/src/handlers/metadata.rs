//! `Metadata`: which brokers exist and which topics and partitions they lead.
//!
//! With one node the answer is simple: this broker leads every partition, is its only
//! replica and its only in-sync replica. Asking for a topic that does not exist creates it
//! when auto-creation is on (Kafka's `auto.create.topics.enable`, default true) and the
//! client allows it. Leader epochs are reported as -1 (unknown): with a single replica
//! there is never a leader change to fence, so clients skip epoch validation (KIP-320).
//! Internal topics (`__consumer_offsets`) are left out of the all-topics answer and
//! flagged `is_internal` when asked for by name. From v12 topics may be named by id
//! (Kafka's Java admin client sends an empty name with the id): such a request is
//! answered by id, an unknown id with `UNKNOWN_TOPIC_ID`, and creates nothing.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};

use super::str_bytes;
use crate::broker::Broker;
use crate::error::Error;
use crate::topics::Topic;

const NOT_REQUESTED: i32 = i32::MIN;

pub(super) fn topic_metadata(broker: &Broker, topic: &Topic) -> MetadataResponseTopic {
    let node = BrokerId(broker.node_id());
    let partitions = (0..topic.partitions.len() as i32)
        .map(|p| {
            MetadataResponsePartition::default()
                .with_partition_index(p)
                .with_leader_id(node)
                .with_leader_epoch(-1)
                .with_replica_nodes(vec![node])
                .with_isr_nodes(vec![node])
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(TopicName(str_bytes(&topic.name))))
        .with_topic_id(topic.id)
        .with_is_internal(topic.is_internal())
        .with_partitions(partitions)
        .with_topic_authorized_operations(NOT_REQUESTED)
}

fn error_topic(name: Option<&str>, id: uuid::Uuid, code: i16) -> MetadataResponseTopic {
    MetadataResponseTopic::default()
        .with_error_code(code)
        .with_name(name.map(|n| TopicName(str_bytes(n))))
        .with_topic_id(id)
        .with_topic_authorized_operations(NOT_REQUESTED)
}

/// Looks a topic up, creating it if auto-creation applies. Errors become response codes.
fn resolve(broker: &Broker, name: &str, allow_create: bool) -> Result<Arc<Topic>, i16> {
    if let Some(t) = broker.topics().get(name) {
        return Ok(t);
    }
    if !(allow_create && broker.config().auto_create_topics) {
        return Err(ResponseError::UnknownTopicOrPartition.code());
    }
    match broker
        .topics()
        .create(name, broker.config().num_partitions, &[])
    {
        Ok(t) => Ok(t),
        Err(Error::TopicExists { .. }) => broker
            .topics()
            .get(name)
            .ok_or(ResponseError::UnknownTopicOrPartition.code()),
        Err(Error::InvalidTopic { .. }) => Err(ResponseError::InvalidTopicException.code()),
        Err(e) => {
            tracing::error!(topic = name, error = %e, "auto-creating topic failed");
            Err(ResponseError::UnknownServerError.code())
        }
    }
}

pub(super) fn handle(
    broker: &Arc<Broker>,
    (host, port): (&str, i32),
    request: MetadataRequest,
    version: i16,
) -> MetadataResponse {
    let node = BrokerId(broker.node_id());
    // Before v4 there is no flag and brokers always auto-create.
    let allow_create = version < 4 || request.allow_auto_topic_creation;
    let all = match &request.topics {
        None => true,
        Some(t) => t.is_empty() && version == 0,
    };
    let by_id = version >= 12
        && request
            .topics
            .iter()
            .flatten()
            .any(|t| !t.topic_id.is_nil());
    let topics = if all {
        broker
            .topics()
            .list()
            .iter()
            .filter(|t| !t.is_internal())
            .map(|t| topic_metadata(broker, t))
            .collect()
    } else if by_id {
        // Kafka's `KafkaApis.handleTopicMetadataRequest`: once any topic is named by id,
        // ids alone count (names are ignored) and nothing is auto-created.
        request
            .topics
            .unwrap_or_default()
            .into_iter()
            .filter(|req| !req.topic_id.is_nil())
            .map(|req| match broker.topics().get_by_id(req.topic_id) {
                Some(t) => topic_metadata(broker, &t),
                None => error_topic(None, req.topic_id, ResponseError::UnknownTopicId.code()),
            })
            .collect()
    } else {
        request
            .topics
            .unwrap_or_default()
            .into_iter()
            .map(|req| match req.name {
                Some(name) => match resolve(broker, name.0.as_str(), allow_create) {
                    Ok(t) => topic_metadata(broker, &t),
                    Err(code) => error_topic(Some(name.0.as_str()), uuid::Uuid::nil(), code),
                },
                None => match broker.topics().get_by_id(req.topic_id) {
                    Some(t) => topic_metadata(broker, &t),
                    None => error_topic(None, req.topic_id, ResponseError::UnknownTopicId.code()),
                },
            })
            .collect()
    };
    MetadataResponse::default()
        .with_brokers(vec![MetadataResponseBroker::default()
            .with_node_id(node)
            .with_host(str_bytes(host))
            .with_port(port)])
        .with_cluster_id(Some(str_bytes(broker.cluster_id())))
        .with_controller_id(node)
        .with_topics(topics)
        .with_cluster_authorized_operations(NOT_REQUESTED)
}
