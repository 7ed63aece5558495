//! Authorization of requests before (and, for `Metadata`, after) their handlers run.
//!
//! Kafka's `KafkaApis` checks each request against the authorizer and splits it: the
//! parts the principal may act on go to the handler, the others get an authorization
//! error in the response (`TOPIC_AUTHORIZATION_FAILED` per topic,
//! `GROUP_AUTHORIZATION_FAILED`, `TRANSACTIONAL_ID_AUTHORIZATION_FAILED` or
//! `CLUSTER_AUTHORIZATION_FAILED` for the whole request). The functions here do that
//! split so the handlers stay unaware of security; without an authorizer they change
//! nothing.

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::*;
use uuid::Uuid;

use crate::broker::Broker;
use crate::security::acl::{AclOperation, ResourceType, CLUSTER_NAME};
use crate::security::principal::RequestContext;

pub(super) const TOPIC_DENIED: i16 = ResponseError::TopicAuthorizationFailed.code();
pub(super) const GROUP_DENIED: i16 = ResponseError::GroupAuthorizationFailed.code();
pub(super) const CLUSTER_DENIED: i16 = ResponseError::ClusterAuthorizationFailed.code();
pub(super) const TXN_DENIED: i16 = ResponseError::TransactionalIdAuthorizationFailed.code();

/// Whether `op` on topic `name` is allowed.
pub(super) fn topic(broker: &Broker, ctx: &RequestContext, op: AclOperation, name: &str) -> bool {
    broker.authorize(ctx, op, ResourceType::Topic, name)
}

/// Whether `op` on group `id` is allowed.
pub(super) fn group(broker: &Broker, ctx: &RequestContext, op: AclOperation, id: &str) -> bool {
    broker.authorize(ctx, op, ResourceType::Group, id)
}

/// Whether `op` on the cluster is allowed.
pub(super) fn cluster(broker: &Broker, ctx: &RequestContext, op: AclOperation) -> bool {
    broker.authorize(ctx, op, ResourceType::Cluster, CLUSTER_NAME)
}

/// Whether `op` on transactional id `id` is allowed.
pub(super) fn txn(broker: &Broker, ctx: &RequestContext, op: AclOperation, id: &str) -> bool {
    broker.authorize(ctx, op, ResourceType::TransactionalId, id)
}

/// The name of a topic a request names by name or (when `by_id`) by id; `None` for an
/// unknown id, which the handler answers itself (`UNKNOWN_TOPIC_ID`).
fn topic_name(broker: &Broker, name: &str, id: Uuid, by_id: bool) -> Option<String> {
    if by_id {
        broker.topics().get_by_id(id).map(|t| t.name.clone())
    } else {
        Some(name.to_string())
    }
}

/// `Produce`: `WRITE` on the transactional id (every partition fails otherwise) and on
/// each topic. Returns the request for the handler and the denied topics' answers.
pub(super) fn produce(
    broker: &Broker,
    ctx: &RequestContext,
    mut request: ProduceRequest,
    version: i16,
) -> (ProduceRequest, Vec<produce_response::TopicProduceResponse>) {
    let txn_denied = request
        .transactional_id
        .as_ref()
        .is_some_and(|id| !txn(broker, ctx, AclOperation::Write, id.0.as_str()));
    let mut denied = Vec::new();
    request.topic_data.retain(|t| {
        let code = if txn_denied {
            TXN_DENIED
        } else {
            match topic_name(broker, t.name.0.as_str(), t.topic_id, version >= 13) {
                Some(name) if !topic(broker, ctx, AclOperation::Write, &name) => TOPIC_DENIED,
                _ => return true,
            }
        };
        denied.push(
            produce_response::TopicProduceResponse::default()
                .with_name(t.name.clone())
                .with_topic_id(t.topic_id)
                .with_partition_responses(
                    t.partition_data
                        .iter()
                        .map(|p| {
                            produce_response::PartitionProduceResponse::default()
                                .with_index(p.index)
                                .with_error_code(code)
                                .with_base_offset(-1)
                        })
                        .collect(),
                ),
        );
        false
    });
    (request, denied)
}

/// `Fetch`: `READ` on each topic. Returns the request for the handler and the denied
/// topics' answers.
pub(super) fn fetch(
    broker: &Broker,
    ctx: &RequestContext,
    mut request: FetchRequest,
    version: i16,
) -> (FetchRequest, Vec<fetch_response::FetchableTopicResponse>) {
    let mut denied = Vec::new();
    request.topics.retain(|t| {
        match topic_name(broker, t.topic.0.as_str(), t.topic_id, version >= 13) {
            Some(name) if !topic(broker, ctx, AclOperation::Read, &name) => {}
            _ => return true,
        }
        denied.push(
            fetch_response::FetchableTopicResponse::default()
                .with_topic(t.topic.clone())
                .with_topic_id(t.topic_id)
                .with_partitions(
                    t.partitions
                        .iter()
                        .map(|p| {
                            fetch_response::PartitionData::default()
                                .with_partition_index(p.partition)
                                .with_error_code(TOPIC_DENIED)
                                .with_high_watermark(-1)
                                .with_last_stable_offset(-1)
                                .with_log_start_offset(-1)
                        })
                        .collect(),
                ),
        );
        false
    });
    (request, denied)
}

/// `ListOffsets`: `DESCRIBE` on each topic.
pub(super) fn list_offsets(
    broker: &Broker,
    ctx: &RequestContext,
    mut request: ListOffsetsRequest,
) -> (ListOffsetsRequest, Vec<list_offsets_response::ListOffsetsTopicResponse>) {
    let mut denied = Vec::new();
    request.topics.retain(|t| {
        if topic(broker, ctx, AclOperation::Describe, t.name.0.as_str()) {
            return true;
        }
        denied.push(
            list_offsets_response::ListOffsetsTopicResponse::default()
                .with_name(t.name.clone())
                .with_partitions(
                    t.partitions
                        .iter()
                        .map(|p| {
                            list_offsets_response::ListOffsetsPartitionResponse::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(TOPIC_DENIED)
                                .with_timestamp(-1)
                                .with_offset(-1)
                        })
                        .collect(),
                ),
        );
        false
    });
    (request, denied)
}

/// `Metadata`, before the handler: named topics the principal may not describe are
/// answered `TOPIC_AUTHORIZATION_FAILED`, and missing topics it may not create are
/// answered `UNKNOWN_TOPIC_OR_PARTITION` instead of being auto-created (Kafka needs
/// `CREATE` on the cluster or the topic for that).
pub(super) fn metadata_request(
    broker: &Broker,
    ctx: &RequestContext,
    mut request: MetadataRequest,
) -> (MetadataRequest, Vec<metadata_response::MetadataResponseTopic>) {
    let mut denied = Vec::new();
    if broker.authorizer().is_none() {
        return (request, denied);
    }
    let may_create_any = cluster(broker, ctx, AclOperation::Create);
    if let Some(topics) = &mut request.topics {
        topics.retain(|t| {
            let Some(name) = &t.name else { return true };
            let name = name.0.as_str();
            let code = if !topic(broker, ctx, AclOperation::Describe, name) {
                TOPIC_DENIED
            } else if broker.topics().get(name).is_none()
                && !may_create_any
                && !topic(broker, ctx, AclOperation::Create, name)
            {
                ResponseError::UnknownTopicOrPartition.code()
            } else {
                return true;
            };
            denied.push(
                metadata_response::MetadataResponseTopic::default()
                    .with_name(t.name.clone())
                    .with_error_code(code)
                    .with_topic_authorized_operations(i32::MIN),
            );
            false
        });
    }
    (request, denied)
}

/// `Metadata`, after the handler: topics the principal may not describe are hidden
/// from an all-topics answer, and replaced by `TOPIC_AUTHORIZATION_FAILED` when asked
/// for by id (without their name, as Kafka does).
pub(super) fn metadata_response(
    broker: &Broker,
    ctx: &RequestContext,
    all_topics: bool,
    response: &mut MetadataResponse,
) {
    if broker.authorizer().is_none() {
        return;
    }
    let topics = std::mem::take(&mut response.topics);
    response.topics = topics
        .into_iter()
        .filter_map(|t| {
            let allowed = t.error_code != 0
                || t.name
                    .as_ref()
                    .is_none_or(|n| topic(broker, ctx, AclOperation::Describe, n.0.as_str()));
            if allowed {
                Some(t)
            } else if all_topics {
                None
            } else {
                Some(
                    metadata_response::MetadataResponseTopic::default()
                        .with_topic_id(t.topic_id)
                        .with_error_code(TOPIC_DENIED)
                        .with_topic_authorized_operations(i32::MIN),
                )
            }
        })
        .collect();
}

/// `CreateTopics`: `CREATE` on the cluster or on the topic.
pub(super) fn create_topics(
    broker: &Broker,
    ctx: &RequestContext,
    mut request: CreateTopicsRequest,
) -> (CreateTopicsRequest, Vec<create_topics_response::CreatableTopicResult>) {
    let mut denied = Vec::new();
    if cluster(broker, ctx, AclOperation::Create) {
        return (request, denied);
    }
    request.topics.retain(|t| {
        if topic(broker, ctx, AclOperation::Create, t.name.0.as_str()) {
            return true;
        }
        denied.push(
            create_topics_response::CreatableTopicResult::default()
                .with_name(t.name.clone())
                .with_error_code(TOPIC_DENIED)
                .with_num_partitions(-1)
                .with_replication_factor(-1)
                .with_topic_config_error_code(TOPIC_DENIED),
        );
        false
    });
    (request, denied)
}

/// `DeleteTopics`: `DELETE` on each topic, named by name (`topic_names` before v6,
/// `topics` since) or by id.
pub(super) fn delete_topics(
    broker: &Broker,
    ctx: &RequestContext,
    mut request: DeleteTopicsRequest,
) -> (DeleteTopicsRequest, Vec<delete_topics_response::DeletableTopicResult>) {
    let mut denied = Vec::new();
    let deny = |name: Option<TopicName>, id: Uuid| {
        delete_topics_response::DeletableTopicResult::default()
            .with_name(name)
            .with_topic_id(id)
            .with_error_code(TOPIC_DENIED)
    };
    request.topic_names.retain(|n| {
        let ok = topic(broker, ctx, AclOperation::Delete, n.0.as_str());
        if !ok {
            denied.push(deny(Some(n.clone()), Uuid::nil()));
        }
        ok
    });
    request.topics.retain(|t| {
        let name = match &t.name {
            Some(n) => Some(n.0.to_string()),
            None => topic_name(broker, "", t.topic_id, true),
        };
        let ok = name.is_none_or(|n| topic(broker, ctx, AclOperation::Delete, &n));
        if !ok {
            denied.push(deny(t.name.clone(), t.topic_id));
        }
        ok
    });
    (request, denied)
}

/// `OffsetCommit`: `READ` on the group (else every partition fails with
/// `GROUP_AUTHORIZATION_FAILED`) and on each topic.
pub(super) fn offset_commit(
    broker: &Broker,
    ctx: &RequestContext,
    mut request: OffsetCommitRequest,
) -> (OffsetCommitRequest, Vec<offset_commit_response::OffsetCommitResponseTopic>) {
    let group_ok = group(broker, ctx, AclOperation::Read, request.group_id.0.as_str());
    let mut denied = Vec::new();
    request.topics.retain(|t| {
        let code = if !group_ok {
            GROUP_DENIED
        } else if !topic(broker, ctx, AclOperation::Read, t.name.0.as_str()) {
            TOPIC_DENIED
        } else {
            return true;
        };
        denied.push(
            offset_commit_response::OffsetCommitResponseTopic::default()
                .with_name(t.name.clone())
                .with_topic_id(t.topic_id)
                .with_partitions(
                    t.partitions
                        .iter()
                        .map(|p| {
                            offset_commit_response::OffsetCommitResponsePartition::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(code)
                        })
                        .collect(),
                ),
        );
        false
    });
    (request, denied)
}

/// `OffsetFetch`: `DESCRIBE` on the group; the answer for a denied group carries only
/// `GROUP_AUTHORIZATION_FAILED`. Returns `None` when the handler may run.
pub(super) fn offset_fetch_denied(
    broker: &Broker,
    ctx: &RequestContext,
    request: &OffsetFetchRequest,
    version: i16,
) -> Option<OffsetFetchResponse> {
    if version < 8 {
        let ok = group(broker, ctx, AclOperation::Describe, request.group_id.0.as_str());
        return (!ok).then(|| OffsetFetchResponse::default().with_error_code(GROUP_DENIED));
    }
    let denied: Vec<_> = request
        .groups
        .iter()
        .filter(|g| !group(broker, ctx, AclOperation::Describe, g.group_id.0.as_str()))
        .collect();
    if denied.is_empty() {
        return None;
    }
    // Kafka answers the authorized groups of a batch; a batch with a denied group is
    // denied whole here, which librdkafka and the Java client (one group per request)
    // never notice.
    Some(
        OffsetFetchResponse::default().with_groups(
            request
                .groups
                .iter()
                .map(|g| {
                    offset_fetch_response::OffsetFetchResponseGroup::default()
                        .with_group_id(g.group_id.clone())
                        .with_error_code(GROUP_DENIED)
                })
                .collect(),
        ),
    )
}

/// `InitProducerId`: `WRITE` on the transactional id, or, for an idempotent producer,
/// `IDEMPOTENT_WRITE` on the cluster or `WRITE` on some topic (Kafka's
/// `authorizeByResourceType`). Returns the error code when denied.
pub(super) fn init_producer_id(
    broker: &Broker,
    ctx: &RequestContext,
    request: &InitProducerIdRequest,
) -> Option<i16> {
    match &request.transactional_id {
        Some(id) => (!txn(broker, ctx, AclOperation::Write, id.0.as_str())).then_some(TXN_DENIED),
        None => {
            let ok = cluster(broker, ctx, AclOperation::IdempotentWrite)
                || broker.authorizer().is_none_or(|a| {
                    a.authorize_any(
                        &ctx.principal,
                        &ctx.host(),
                        AclOperation::Write,
                        ResourceType::Topic,
                    )
                });
            (!ok).then_some(CLUSTER_DENIED)
        }
    }
}
