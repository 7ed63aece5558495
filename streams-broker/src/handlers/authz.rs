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
use kafka_protocol::protocol::StrBytes;
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
) -> (
    ListOffsetsRequest,
    Vec<list_offsets_response::ListOffsetsTopicResponse>,
) {
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
) -> (
    MetadataRequest,
    Vec<metadata_response::MetadataResponseTopic>,
) {
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
) -> (
    CreateTopicsRequest,
    Vec<create_topics_response::CreatableTopicResult>,
) {
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
) -> (
    DeleteTopicsRequest,
    Vec<delete_topics_response::DeletableTopicResult>,
) {
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
) -> (
    OffsetCommitRequest,
    Vec<offset_commit_response::OffsetCommitResponseTopic>,
) {
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
        let ok = group(
            broker,
            ctx,
            AclOperation::Describe,
            request.group_id.0.as_str(),
        );
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

/// Resource types of the config APIs (Kafka's `ConfigResource.Type`).
const CONFIG_TOPIC: i8 = 2;
const CONFIG_BROKER: i8 = 4;
const CONFIG_BROKER_LOGGER: i8 = 8;
const CONFIG_GROUP: i8 = 32;

/// The error for a config resource the principal may not `op` (`DESCRIBE_CONFIGS` or
/// `ALTER_CONFIGS`); `None` when allowed. Brokers and their loggers are cluster
/// resources, as in Kafka.
fn config_denied(
    broker: &Broker,
    ctx: &RequestContext,
    op: AclOperation,
    resource_type: i8,
    name: &str,
) -> Option<i16> {
    match resource_type {
        CONFIG_TOPIC => (!topic(broker, ctx, op, name)).then_some(TOPIC_DENIED),
        CONFIG_GROUP => (!group(broker, ctx, op, name)).then_some(GROUP_DENIED),
        CONFIG_BROKER | CONFIG_BROKER_LOGGER => {
            (!cluster(broker, ctx, op)).then_some(CLUSTER_DENIED)
        }
        _ => None,
    }
}

/// `DescribeConfigs`, after the handler (it changes nothing): `DESCRIBE_CONFIGS` on each
/// resource.
pub(super) fn describe_configs(
    broker: &Broker,
    ctx: &RequestContext,
    response: &mut DescribeConfigsResponse,
) {
    for r in &mut response.results {
        let op = AclOperation::DescribeConfigs;
        if let Some(code) =
            config_denied(broker, ctx, op, r.resource_type, r.resource_name.as_str())
        {
            r.error_code = code;
            r.error_message = None;
            r.configs.clear();
        }
    }
}

/// `AlterConfigs`: `ALTER_CONFIGS` on each resource.
pub(super) fn alter_configs(
    broker: &Broker,
    ctx: &RequestContext,
    mut request: AlterConfigsRequest,
) -> (
    AlterConfigsRequest,
    Vec<alter_configs_response::AlterConfigsResourceResponse>,
) {
    let mut denied = Vec::new();
    request.resources.retain(|r| {
        let op = AclOperation::AlterConfigs;
        let Some(code) = config_denied(broker, ctx, op, r.resource_type, r.resource_name.as_str())
        else {
            return true;
        };
        denied.push(
            alter_configs_response::AlterConfigsResourceResponse::default()
                .with_error_code(code)
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone()),
        );
        false
    });
    (request, denied)
}

/// `IncrementalAlterConfigs`: `ALTER_CONFIGS` on each resource.
pub(super) fn incremental_alter_configs(
    broker: &Broker,
    ctx: &RequestContext,
    mut request: IncrementalAlterConfigsRequest,
) -> (
    IncrementalAlterConfigsRequest,
    Vec<incremental_alter_configs_response::AlterConfigsResourceResponse>,
) {
    let mut denied = Vec::new();
    request.resources.retain(|r| {
        let op = AclOperation::AlterConfigs;
        let Some(code) = config_denied(broker, ctx, op, r.resource_type, r.resource_name.as_str())
        else {
            return true;
        };
        denied.push(
            incremental_alter_configs_response::AlterConfigsResourceResponse::default()
                .with_error_code(code)
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone()),
        );
        false
    });
    (request, denied)
}

/// `CreatePartitions`: `ALTER` on each topic.
pub(super) fn create_partitions(
    broker: &Broker,
    ctx: &RequestContext,
    mut request: CreatePartitionsRequest,
) -> (
    CreatePartitionsRequest,
    Vec<create_partitions_response::CreatePartitionsTopicResult>,
) {
    let mut denied = Vec::new();
    request.topics.retain(|t| {
        if topic(broker, ctx, AclOperation::Alter, t.name.0.as_str()) {
            return true;
        }
        denied.push(
            create_partitions_response::CreatePartitionsTopicResult::default()
                .with_name(t.name.clone())
                .with_error_code(TOPIC_DENIED),
        );
        false
    });
    (request, denied)
}

/// `DeleteRecords`: `DELETE` on each topic.
pub(super) fn delete_records(
    broker: &Broker,
    ctx: &RequestContext,
    mut request: DeleteRecordsRequest,
) -> (
    DeleteRecordsRequest,
    Vec<delete_records_response::DeleteRecordsTopicResult>,
) {
    let mut denied = Vec::new();
    request.topics.retain(|t| {
        if topic(broker, ctx, AclOperation::Delete, t.name.0.as_str()) {
            return true;
        }
        denied.push(
            delete_records_response::DeleteRecordsTopicResult::default()
                .with_name(t.name.clone())
                .with_partitions(
                    t.partitions
                        .iter()
                        .map(|p| {
                            delete_records_response::DeleteRecordsPartitionResult::default()
                                .with_partition_index(p.partition_index)
                                .with_low_watermark(-1)
                                .with_error_code(TOPIC_DENIED)
                        })
                        .collect(),
                ),
        );
        false
    });
    (request, denied)
}

/// `OffsetForLeaderEpoch` from a client: `DESCRIBE` on each topic.
pub(super) fn offset_for_leader_epoch(
    broker: &Broker,
    ctx: &RequestContext,
    mut request: OffsetForLeaderEpochRequest,
) -> (
    OffsetForLeaderEpochRequest,
    Vec<offset_for_leader_epoch_response::OffsetForLeaderTopicResult>,
) {
    let mut denied = Vec::new();
    request.topics.retain(|t| {
        if topic(broker, ctx, AclOperation::Describe, t.topic.0.as_str()) {
            return true;
        }
        denied.push(
            offset_for_leader_epoch_response::OffsetForLeaderTopicResult::default()
                .with_topic(t.topic.clone())
                .with_partitions(
                    t.partitions
                        .iter()
                        .map(|p| {
                            offset_for_leader_epoch_response::EpochEndOffset::default()
                                .with_partition(p.partition)
                                .with_error_code(TOPIC_DENIED)
                                .with_leader_epoch(-1)
                                .with_end_offset(-1)
                        })
                        .collect(),
                ),
        );
        false
    });
    (request, denied)
}

/// `DescribeProducers`, after the handler: `READ` on each topic.
pub(super) fn describe_producers(
    broker: &Broker,
    ctx: &RequestContext,
    response: &mut DescribeProducersResponse,
) {
    for t in &mut response.topics {
        if !topic(broker, ctx, AclOperation::Read, t.name.0.as_str()) {
            for p in &mut t.partitions {
                p.error_code = TOPIC_DENIED;
                p.error_message = None;
                p.active_producers.clear();
            }
        }
    }
}

/// `DescribeTopicPartitions`, after the handler: topics the principal may not describe
/// are answered `TOPIC_AUTHORIZATION_FAILED` without their partitions.
pub(super) fn describe_topic_partitions(
    broker: &Broker,
    ctx: &RequestContext,
    response: &mut DescribeTopicPartitionsResponse,
) {
    for t in &mut response.topics {
        let name = t.name.as_ref().map(|n| n.0.to_string()).unwrap_or_default();
        if t.error_code == 0 && !topic(broker, ctx, AclOperation::Describe, &name) {
            t.error_code = TOPIC_DENIED;
            t.topic_id = Uuid::nil();
            t.partitions.clear();
        }
    }
}

/// `FindCoordinator`: `DESCRIBE` on the group or transactional id asked about.
pub(super) fn find_coordinator(
    broker: &Broker,
    ctx: &RequestContext,
    request: &FindCoordinatorRequest,
    response: &mut FindCoordinatorResponse,
) {
    let denied = |key: &str| match request.key_type {
        1 => (!txn(broker, ctx, AclOperation::Describe, key)).then_some(TXN_DENIED),
        _ => (!group(broker, ctx, AclOperation::Describe, key)).then_some(GROUP_DENIED),
    };
    if let Some(code) = denied(request.key.as_str()).filter(|_| response.coordinators.is_empty()) {
        response.error_code = code;
        response.error_message = None;
        response.node_id = BrokerId(-1);
        response.host = StrBytes::default();
        response.port = -1;
    }
    for c in &mut response.coordinators {
        if let Some(code) = denied(c.key.as_str()) {
            c.error_code = code;
            c.error_message = None;
            c.node_id = BrokerId(-1);
            c.host = StrBytes::default();
            c.port = -1;
        }
    }
}

/// `DescribeGroups` and `ConsumerGroupDescribe`, after the handler: `DESCRIBE` on each
/// group.
pub(super) fn describe_groups(
    broker: &Broker,
    ctx: &RequestContext,
    response: &mut DescribeGroupsResponse,
) {
    for g in &mut response.groups {
        if !group(broker, ctx, AclOperation::Describe, g.group_id.0.as_str()) {
            *g = describe_groups_response::DescribedGroup::default()
                .with_group_id(g.group_id.clone())
                .with_error_code(GROUP_DENIED)
                .with_authorized_operations(i32::MIN);
        }
    }
}

/// See [`describe_groups`].
pub(super) fn consumer_group_describe(
    broker: &Broker,
    ctx: &RequestContext,
    response: &mut ConsumerGroupDescribeResponse,
) {
    for g in &mut response.groups {
        if !group(broker, ctx, AclOperation::Describe, g.group_id.0.as_str()) {
            *g = consumer_group_describe_response::DescribedGroup::default()
                .with_group_id(g.group_id.clone())
                .with_error_code(GROUP_DENIED)
                .with_authorized_operations(i32::MIN);
        }
    }
}

/// `ListGroups`, after the handler: all groups with `DESCRIBE` on the cluster, else
/// only those the principal may describe (as Kafka).
pub(super) fn list_groups(
    broker: &Broker,
    ctx: &RequestContext,
    response: &mut ListGroupsResponse,
) {
    if cluster(broker, ctx, AclOperation::Describe) {
        return;
    }
    response
        .groups
        .retain(|g| group(broker, ctx, AclOperation::Describe, g.group_id.0.as_str()));
}

/// `DeleteGroups`: `DELETE` on each group.
pub(super) fn delete_groups(
    broker: &Broker,
    ctx: &RequestContext,
    mut request: DeleteGroupsRequest,
) -> (
    DeleteGroupsRequest,
    Vec<delete_groups_response::DeletableGroupResult>,
) {
    let mut denied = Vec::new();
    request.groups_names.retain(|g| {
        if group(broker, ctx, AclOperation::Delete, g.0.as_str()) {
            return true;
        }
        denied.push(
            delete_groups_response::DeletableGroupResult::default()
                .with_group_id(g.clone())
                .with_error_code(GROUP_DENIED),
        );
        false
    });
    (request, denied)
}

/// `OffsetDelete`: `DELETE` on the group (else the whole request fails) and `READ` on
/// each topic.
pub(super) fn offset_delete(
    broker: &Broker,
    ctx: &RequestContext,
    mut request: OffsetDeleteRequest,
) -> Result<
    (
        OffsetDeleteRequest,
        Vec<offset_delete_response::OffsetDeleteResponseTopic>,
    ),
    OffsetDeleteResponse,
> {
    if !group(
        broker,
        ctx,
        AclOperation::Delete,
        request.group_id.0.as_str(),
    ) {
        return Err(OffsetDeleteResponse::default().with_error_code(GROUP_DENIED));
    }
    let mut denied = Vec::new();
    request.topics.retain(|t| {
        if topic(broker, ctx, AclOperation::Read, t.name.0.as_str()) {
            return true;
        }
        denied.push(
            offset_delete_response::OffsetDeleteResponseTopic::default()
                .with_name(t.name.clone())
                .with_partitions(
                    t.partitions
                        .iter()
                        .map(|p| {
                            offset_delete_response::OffsetDeleteResponsePartition::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(TOPIC_DENIED)
                        })
                        .collect(),
                ),
        );
        false
    });
    Ok((request, denied))
}

/// `AddPartitionsToTxn` (v3 and below, from producers): `WRITE` on the transactional id
/// (else every partition fails) and on each topic. Kafka fails the whole request when
/// any topic is denied, answering `OPERATION_NOT_ATTEMPTED` for the others; so does
/// this. Returns the answer when denied.
pub(super) fn add_partitions_to_txn(
    broker: &Broker,
    ctx: &RequestContext,
    request: &AddPartitionsToTxnRequest,
    version: i16,
) -> Option<AddPartitionsToTxnResponse> {
    if version > 3 {
        // v4+ is broker-to-broker verification; CLUSTER_ACTION on the cluster.
        return (!cluster(broker, ctx, AclOperation::ClusterAction))
            .then(|| AddPartitionsToTxnResponse::default().with_error_code(CLUSTER_DENIED));
    }
    let txn_ok = txn(
        broker,
        ctx,
        AclOperation::Write,
        request.v3_and_below_transactional_id.0.as_str(),
    );
    let denied_topics: Vec<bool> = request
        .v3_and_below_topics
        .iter()
        .map(|t| !topic(broker, ctx, AclOperation::Write, t.name.0.as_str()))
        .collect();
    if txn_ok && !denied_topics.contains(&true) {
        return None;
    }
    let not_attempted = ResponseError::OperationNotAttempted.code();
    let results = request
        .v3_and_below_topics
        .iter()
        .zip(denied_topics)
        .map(|(t, denied)| {
            let code = match (txn_ok, denied) {
                (false, _) => TXN_DENIED,
                (true, true) => TOPIC_DENIED,
                (true, false) => not_attempted,
            };
            add_partitions_to_txn_response::AddPartitionsToTxnTopicResult::default()
                .with_name(t.name.clone())
                .with_results_by_partition(
                    t.partitions
                        .iter()
                        .map(|p| {
                            add_partitions_to_txn_response::AddPartitionsToTxnPartitionResult::default()
                                .with_partition_index(*p)
                                .with_partition_error_code(code)
                        })
                        .collect(),
                )
        })
        .collect();
    Some(AddPartitionsToTxnResponse::default().with_results_by_topic_v3_and_below(results))
}

/// `AddOffsetsToTxn`: `WRITE` on the transactional id and `READ` on the group.
pub(super) fn add_offsets_to_txn(
    broker: &Broker,
    ctx: &RequestContext,
    request: &AddOffsetsToTxnRequest,
) -> Option<i16> {
    if !txn(
        broker,
        ctx,
        AclOperation::Write,
        request.transactional_id.0.as_str(),
    ) {
        return Some(TXN_DENIED);
    }
    (!group(broker, ctx, AclOperation::Read, request.group_id.0.as_str())).then_some(GROUP_DENIED)
}

/// `TxnOffsetCommit`: `WRITE` on the transactional id and `READ` on the group (else
/// every partition fails), and `READ` on each topic.
pub(super) fn txn_offset_commit(
    broker: &Broker,
    ctx: &RequestContext,
    mut request: TxnOffsetCommitRequest,
) -> (
    TxnOffsetCommitRequest,
    Vec<txn_offset_commit_response::TxnOffsetCommitResponseTopic>,
) {
    let whole = if !txn(
        broker,
        ctx,
        AclOperation::Write,
        request.transactional_id.0.as_str(),
    ) {
        Some(TXN_DENIED)
    } else if !group(broker, ctx, AclOperation::Read, request.group_id.0.as_str()) {
        Some(GROUP_DENIED)
    } else {
        None
    };
    let mut denied = Vec::new();
    request.topics.retain(|t| {
        let code = match whole {
            Some(code) => code,
            None if !topic(broker, ctx, AclOperation::Read, t.name.0.as_str()) => TOPIC_DENIED,
            None => return true,
        };
        denied.push(
            txn_offset_commit_response::TxnOffsetCommitResponseTopic::default()
                .with_name(t.name.clone())
                .with_partitions(
                    t.partitions
                        .iter()
                        .map(|p| {
                            txn_offset_commit_response::TxnOffsetCommitResponsePartition::default()
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

/// `DescribeTransactions`, after the handler: `DESCRIBE` on each transactional id.
pub(super) fn describe_transactions(
    broker: &Broker,
    ctx: &RequestContext,
    response: &mut DescribeTransactionsResponse,
) {
    for t in &mut response.transaction_states {
        if !txn(
            broker,
            ctx,
            AclOperation::Describe,
            t.transactional_id.0.as_str(),
        ) {
            *t = describe_transactions_response::TransactionState::default()
                .with_transactional_id(t.transactional_id.clone())
                .with_error_code(TXN_DENIED)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1);
        }
    }
}

/// `ListTransactions`, after the handler: only the transactional ids the principal may
/// describe (as Kafka).
pub(super) fn list_transactions(
    broker: &Broker,
    ctx: &RequestContext,
    response: &mut ListTransactionsResponse,
) {
    response.transaction_states.retain(|t| {
        txn(
            broker,
            ctx,
            AclOperation::Describe,
            t.transactional_id.0.as_str(),
        )
    });
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kafka_protocol::messages::*;

    use super::super::{dispatch, str_bytes};
    use super::*;
    use crate::config::BrokerConfig;
    use crate::security::acl::{AclBinding, AclPermissionType, PatternType};
    use crate::security::principal::KafkaPrincipal;

    fn allow(rt: ResourceType, name: &str, principal: &str, op: AclOperation) -> AclBinding {
        AclBinding {
            resource_type: rt,
            resource_name: name.into(),
            pattern_type: PatternType::Literal,
            principal: principal.into(),
            host: "*".into(),
            operation: op,
            permission: AclPermissionType::Allow,
        }
    }

    /// A broker with the authorizer on (nothing allowed without an ACL), topics `t` and
    /// `u`, and `User:alice` allowed READ on topic `t` and group `g`.
    fn secured() -> (tempfile::TempDir, Arc<Broker>) {
        let dir = tempfile::tempdir().unwrap();
        let mut config = BrokerConfig::with_data_dir(dir.path());
        config
            .set("authorizer.class.name", "StandardAuthorizer")
            .unwrap();
        config.set("super.users", "User:admin").unwrap();
        let broker = Broker::open(config, dir.path(), "127.0.0.1:9092".parse().unwrap()).unwrap();
        broker.topics().create("t", 1, &[]).unwrap();
        broker.topics().create("u", 1, &[]).unwrap();
        broker
            .authorizer()
            .unwrap()
            .create(&[
                allow(ResourceType::Topic, "t", "User:alice", AclOperation::Read),
                allow(ResourceType::Group, "g", "User:alice", AclOperation::Read),
            ])
            .unwrap();
        (dir, Arc::new(broker))
    }

    fn call(broker: &Arc<Broker>, user: &str, version: i16, request: RequestKind) -> ResponseKind {
        let ctx = RequestContext {
            peer: Some("127.0.0.1:5000".parse().unwrap()),
            principal: KafkaPrincipal::user(user),
            endpoint: None,
            sasl: false,
        };
        let header = RequestHeader::default().with_request_api_version(version);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(dispatch(broker, &header, &ctx, request))
            .expect("a response")
    }

    fn topic_name(name: &str) -> TopicName {
        TopicName(str_bytes(name))
    }

    /// As `KafkaApisTest`'s authorization cases: per-topic errors for Produce, Metadata
    /// hiding and naming, whole-request group and transactional-id errors.
    #[test]
    fn requests_get_kafkas_authorization_errors() {
        let (_dir, broker) = secured();
        let produce = ProduceRequest::default()
            .with_acks(-1)
            .with_topic_data(vec![produce_request::TopicProduceData::default()
                .with_name(topic_name("t"))
                .with_partition_data(vec![
                    produce_request::PartitionProduceData::default(),
                ])]);
        let ResponseKind::Produce(r) = call(&broker, "alice", 9, RequestKind::Produce(produce))
        else {
            panic!()
        };
        assert_eq!(
            r.responses[0].partition_responses[0].error_code,
            TOPIC_DENIED
        );

        let ResponseKind::Metadata(all) = call(
            &broker,
            "alice",
            12,
            RequestKind::Metadata(MetadataRequest::default().with_topics(None)),
        ) else {
            panic!()
        };
        let names: Vec<_> = all
            .topics
            .iter()
            .map(|t| t.name.clone().unwrap().0.to_string())
            .collect();
        assert_eq!(names, vec!["t"]);
        let named = MetadataRequest::default().with_topics(Some(vec![
            metadata_request::MetadataRequestTopic::default().with_name(Some(topic_name("u"))),
            metadata_request::MetadataRequestTopic::default().with_name(Some(topic_name("t"))),
        ]));
        let ResponseKind::Metadata(named) =
            call(&broker, "alice", 12, RequestKind::Metadata(named))
        else {
            panic!()
        };
        let codes: Vec<_> = named
            .topics
            .iter()
            .map(|t| (t.name.clone().unwrap().0.to_string(), t.error_code))
            .collect();
        assert_eq!(
            codes,
            vec![("t".to_string(), 0), ("u".to_string(), TOPIC_DENIED)]
        );
        // Superusers see everything.
        let ResponseKind::Metadata(admin) = call(
            &broker,
            "admin",
            12,
            RequestKind::Metadata(MetadataRequest::default().with_topics(None)),
        ) else {
            panic!()
        };
        assert_eq!(admin.topics.len(), 2);

        let join = |group: &str| {
            RequestKind::JoinGroup(
                JoinGroupRequest::default()
                    .with_group_id(GroupId(str_bytes(group)))
                    .with_session_timeout_ms(10_000),
            )
        };
        let ResponseKind::JoinGroup(r) = call(&broker, "alice", 5, join("other")) else {
            panic!()
        };
        assert_eq!(r.error_code, GROUP_DENIED);

        let init = |txn: Option<&str>| {
            RequestKind::InitProducerId(
                InitProducerIdRequest::default()
                    .with_transactional_id(txn.map(|t| TransactionalId(str_bytes(t))))
                    .with_transaction_timeout_ms(1000),
            )
        };
        let ResponseKind::InitProducerId(r) = call(&broker, "alice", 4, init(Some("x"))) else {
            panic!()
        };
        assert_eq!(r.error_code, TXN_DENIED);
        let ResponseKind::InitProducerId(r) = call(&broker, "alice", 4, init(None)) else {
            panic!()
        };
        assert_eq!(r.error_code, CLUSTER_DENIED);
        let ResponseKind::InitProducerId(r) = call(&broker, "admin", 4, init(None)) else {
            panic!()
        };
        assert_eq!(r.error_code, 0);
    }

    /// Admin APIs: create/delete topics, configs (READ does not imply DESCRIBE_CONFIGS),
    /// group listing filtered by DESCRIBE, log dirs need the cluster.
    #[test]
    fn admin_requests_are_authorized() {
        let (_dir, broker) = secured();
        let create = CreateTopicsRequest::default().with_topics(vec![
            create_topics_request::CreatableTopic::default()
                .with_name(topic_name("new"))
                .with_num_partitions(1)
                .with_replication_factor(1),
        ]);
        let ResponseKind::CreateTopics(r) =
            call(&broker, "alice", 7, RequestKind::CreateTopics(create))
        else {
            panic!()
        };
        assert_eq!(r.topics[0].error_code, TOPIC_DENIED);
        assert!(broker.topics().get("new").is_none());

        let delete = DeleteTopicsRequest::default().with_topic_names(vec![topic_name("t")]);
        let ResponseKind::DeleteTopics(r) =
            call(&broker, "alice", 5, RequestKind::DeleteTopics(delete))
        else {
            panic!()
        };
        assert_eq!(r.responses[0].error_code, TOPIC_DENIED);
        assert!(broker.topics().get("t").is_some());

        let describe = DescribeConfigsRequest::default().with_resources(vec![
            describe_configs_request::DescribeConfigsResource::default()
                .with_resource_type(CONFIG_TOPIC)
                .with_resource_name(str_bytes("t")),
            describe_configs_request::DescribeConfigsResource::default()
                .with_resource_type(CONFIG_BROKER)
                .with_resource_name(str_bytes("0")),
        ]);
        let ResponseKind::DescribeConfigs(r) =
            call(&broker, "alice", 4, RequestKind::DescribeConfigs(describe))
        else {
            panic!()
        };
        let codes: Vec<i16> = r.results.iter().map(|r| r.error_code).collect();
        assert_eq!(codes, vec![TOPIC_DENIED, CLUSTER_DENIED]);

        let ResponseKind::DescribeLogDirs(r) = call(
            &broker,
            "alice",
            4,
            RequestKind::DescribeLogDirs(DescribeLogDirsRequest::default()),
        ) else {
            panic!()
        };
        assert_eq!(r.error_code, CLUSTER_DENIED);

        // ACL management needs ALTER/DESCRIBE on the cluster.
        let ResponseKind::DescribeAcls(r) = call(
            &broker,
            "alice",
            3,
            RequestKind::DescribeAcls(DescribeAclsRequest::default()),
        ) else {
            panic!()
        };
        assert_eq!(r.error_code, CLUSTER_DENIED);
        let ResponseKind::DescribeAcls(r) = call(
            &broker,
            "admin",
            3,
            RequestKind::DescribeAcls(
                DescribeAclsRequest::default()
                    .with_resource_name_filter(None)
                    .with_principal_filter(None)
                    .with_host_filter(None)
                    .with_resource_type_filter(1)
                    .with_pattern_type_filter(1)
                    .with_operation(1)
                    .with_permission_type(1),
            ),
        ) else {
            panic!()
        };
        assert_eq!(r.error_code, 0);
        assert_eq!(r.resources.len(), 2);
    }
}
