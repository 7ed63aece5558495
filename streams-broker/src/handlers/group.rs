//! The group coordinator's APIs: `FindCoordinator`, `JoinGroup`, `SyncGroup`, `Heartbeat`,
//! `LeaveGroup`, `OffsetCommit`, `OffsetFetch`, `ListGroups`, `DescribeGroups`,
//! `DeleteGroups`, and the consumer group protocol's `ConsumerGroupHeartbeat` and
//! `ConsumerGroupDescribe` (KIP-848) (the group half of Kafka's `KafkaApis`).
//!
//! Each handler translates between the wire messages of every supported version and the
//! version-independent calls of [`GroupCoordinator`](crate::group::GroupCoordinator),
//! which owns the semantics. Fields a version does not have are left at their defaults
//! (the codec refuses to encode them otherwise). This single broker is the coordinator
//! for every group and every transactional id.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use super::str_bytes;
use crate::broker::Broker;
use crate::group::assignor::Assignment;
use crate::group::consumer;
use crate::group::{
    ConsumerHeartbeat, ConsumerHeartbeatResponse, FetchedOffset, GroupState, JoinRequest,
    PartitionOffset, SyncRequest, TopicMeta, TopicsSnapshot,
};
use kafka_protocol::messages::consumer_group_describe_response::{
    Assignment as DescribeAssignment, DescribedGroup as ConsumerDescribedGroup,
    Member as ConsumerDescribedMember, TopicPartitions as DescribeTopicPartitions,
};
use kafka_protocol::messages::consumer_group_heartbeat_response::{
    Assignment as HeartbeatAssignment, TopicPartitions as HeartbeatTopicPartitions,
};

/// `FindCoordinator` key types this broker coordinates: groups and transactional ids.
const KEY_TYPE_GROUP: i8 = 0;
const KEY_TYPE_TRANSACTION: i8 = 1;

/// `authorized_operations` when the client did not ask for them.
const OPERATIONS_NOT_REQUESTED: i32 = i32::MIN;
/// Without ACLs every group operation is allowed: READ (3), DELETE (6), DESCRIBE (8).
const GROUP_OPERATIONS: i32 = (1 << 3) | (1 << 6) | (1 << 8);

fn opt_str(s: Option<&str>) -> Option<StrBytes> {
    s.map(str_bytes)
}

/// The address of a client as Kafka reports it in `DescribeGroups` (`/127.0.0.1`).
fn client_host(peer: Option<SocketAddr>) -> String {
    peer.map(|p| format!("/{}", p.ip())).unwrap_or_default()
}

pub(super) fn find_coordinator(
    broker: &Arc<Broker>,
    (host, port): (&str, i32),
    request: FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    let node = BrokerId(broker.node_id());
    let check = |key_type: i8| -> Option<(i16, String)> {
        match key_type {
            KEY_TYPE_GROUP | KEY_TYPE_TRANSACTION => None,
            other => Some((
                ResponseError::InvalidRequest.code(),
                format!("key type {other} is not supported by this broker"),
            )),
        }
    };
    if version < 4 {
        let response = FindCoordinatorResponse::default();
        return match check(request.key_type) {
            None => response
                .with_node_id(node)
                .with_host(str_bytes(host))
                .with_port(port),
            Some((code, message)) => {
                let response = response
                    .with_error_code(code)
                    .with_node_id(BrokerId(-1))
                    .with_port(-1);
                if version >= 1 {
                    response.with_error_message(Some(str_bytes(&message)))
                } else {
                    response
                }
            }
        };
    }
    let coordinators = request
        .coordinator_keys
        .into_iter()
        .map(|key| {
            let c = Coordinator::default().with_key(key);
            match check(request.key_type) {
                None => c
                    .with_node_id(node)
                    .with_host(str_bytes(host))
                    .with_port(port),
                Some((code, message)) => c
                    .with_node_id(BrokerId(-1))
                    .with_port(-1)
                    .with_error_code(code)
                    .with_error_message(Some(str_bytes(&message))),
            }
        })
        .collect();
    FindCoordinatorResponse::default().with_coordinators(coordinators)
}

pub(super) async fn join_group(
    broker: &Arc<Broker>,
    header: &RequestHeader,
    peer: Option<SocketAddr>,
    request: JoinGroupRequest,
    version: i16,
) -> JoinGroupResponse {
    let session = Duration::from_millis(u64::try_from(request.session_timeout_ms).unwrap_or(0));
    let rebalance = if version >= 1 {
        Duration::from_millis(u64::try_from(request.rebalance_timeout_ms).unwrap_or(0))
    } else {
        session
    };
    let req = JoinRequest {
        group_id: request.group_id.0.to_string(),
        member_id: request.member_id.to_string(),
        instance_id: request.group_instance_id.as_ref().map(|s| s.to_string()),
        client_id: header
            .client_id
            .as_ref()
            .map(|s| s.to_string())
            .unwrap_or_default(),
        client_host: client_host(peer),
        session_timeout: session,
        rebalance_timeout: rebalance,
        protocol_type: request.protocol_type.to_string(),
        protocols: request
            .protocols
            .into_iter()
            .map(|p| (p.name.to_string(), p.metadata))
            .collect(),
        require_known_member_id: version >= 4 && request.group_instance_id.is_none(),
        supports_skip_assignment: version >= 9,
    };
    if let Some(reason) = request.reason.as_ref() {
        tracing::debug!(group = %req.group_id, member = %req.member_id, %reason, "join reason");
    }
    let r = broker.groups().join_group(req).await;
    // Before v7 the protocol name is not nullable: Kafka sends an empty string.
    let protocol_name = match (r.protocol_name.as_deref(), version >= 7) {
        (Some(name), _) => Some(str_bytes(name)),
        (None, true) => None,
        (None, false) => Some(StrBytes::default()),
    };
    let members = r
        .members
        .into_iter()
        .map(|m| {
            let member = JoinGroupResponseMember::default()
                .with_member_id(str_bytes(&m.member_id))
                .with_metadata(m.metadata);
            if version >= 5 {
                member.with_group_instance_id(opt_str(m.instance_id.as_deref()))
            } else {
                member
            }
        })
        .collect();
    let response = JoinGroupResponse::default()
        .with_error_code(r.error)
        .with_generation_id(r.generation)
        .with_protocol_name(protocol_name)
        .with_leader(str_bytes(&r.leader))
        .with_member_id(str_bytes(&r.member_id))
        .with_members(members)
        .with_skip_assignment(r.skip_assignment && version >= 9);
    if version >= 7 {
        response.with_protocol_type(opt_str(r.protocol_type.as_deref()))
    } else {
        response
    }
}

pub(super) async fn sync_group(
    broker: &Arc<Broker>,
    request: SyncGroupRequest,
    version: i16,
) -> SyncGroupResponse {
    let req = SyncRequest {
        group_id: request.group_id.0.to_string(),
        member_id: request.member_id.to_string(),
        instance_id: request.group_instance_id.as_ref().map(|s| s.to_string()),
        generation: request.generation_id,
        protocol_type: request.protocol_type.as_ref().map(|s| s.to_string()),
        protocol_name: request.protocol_name.as_ref().map(|s| s.to_string()),
        assignments: request
            .assignments
            .into_iter()
            .map(|a| (a.member_id.to_string(), a.assignment))
            .collect(),
    };
    let r = broker.groups().sync_group(req).await;
    let response = SyncGroupResponse::default()
        .with_error_code(r.error)
        .with_assignment(r.assignment);
    if version >= 5 {
        response
            .with_protocol_type(opt_str(r.protocol_type.as_deref()))
            .with_protocol_name(opt_str(r.protocol_name.as_deref()))
    } else {
        response
    }
}

pub(super) fn heartbeat(broker: &Arc<Broker>, request: HeartbeatRequest) -> HeartbeatResponse {
    let code = broker.groups().heartbeat(
        request.group_id.0.as_str(),
        request.member_id.as_str(),
        request.group_instance_id.as_deref(),
        request.generation_id,
    );
    HeartbeatResponse::default().with_error_code(code)
}

pub(super) fn leave_group(
    broker: &Arc<Broker>,
    request: LeaveGroupRequest,
    version: i16,
) -> LeaveGroupResponse {
    let members: Vec<(String, Option<String>)> = if version >= 3 {
        request
            .members
            .iter()
            .map(|m| {
                (
                    m.member_id.to_string(),
                    m.group_instance_id.as_ref().map(|s| s.to_string()),
                )
            })
            .collect()
    } else {
        vec![(request.member_id.to_string(), None)]
    };
    match broker
        .groups()
        .leave_group(request.group_id.0.as_str(), &members)
    {
        Err(code) => LeaveGroupResponse::default().with_error_code(code),
        Ok(codes) if version >= 3 => LeaveGroupResponse::default().with_members(
            members
                .into_iter()
                .zip(codes)
                .map(|((member_id, instance_id), code)| {
                    MemberResponse::default()
                        .with_member_id(str_bytes(&member_id))
                        .with_group_instance_id(opt_str(instance_id.as_deref()))
                        .with_error_code(code)
                })
                .collect(),
        ),
        // Before v3 there is one member and its error is the request's.
        Ok(codes) => LeaveGroupResponse::default()
            .with_error_code(codes.first().copied().unwrap_or_default()),
    }
}

pub(super) fn offset_commit(
    broker: &Arc<Broker>,
    request: OffsetCommitRequest,
    version: i16,
) -> OffsetCommitResponse {
    let group_id = request.group_id.0.as_str();
    // Unknown topics and partitions are answered alone; the rest is committed at once.
    let mut offsets = Vec::new();
    // (topic position, partition, Ok(position in `offsets`) | Err(error code))
    let mut slots = Vec::new();
    let mut topics = Vec::with_capacity(request.topics.len());
    for (ti, t) in request.topics.iter().enumerate() {
        let topic = broker.topics().get(t.name.0.as_str());
        for p in &t.partitions {
            let exists = topic
                .as_ref()
                .is_some_and(|topic| topic.partition(p.partition_index).is_some());
            if exists {
                slots.push((ti, p.partition_index, Ok(offsets.len())));
                offsets.push(PartitionOffset {
                    topic: t.name.0.to_string(),
                    partition: p.partition_index,
                    offset: p.committed_offset,
                    leader_epoch: if version >= 6 {
                        p.committed_leader_epoch
                    } else {
                        -1
                    },
                    metadata: p
                        .committed_metadata
                        .as_ref()
                        .map(|m| m.to_string())
                        .unwrap_or_default(),
                });
            } else {
                slots.push((
                    ti,
                    p.partition_index,
                    Err(ResponseError::UnknownTopicOrPartition.code()),
                ));
            }
        }
        topics.push(
            OffsetCommitResponseTopic::default()
                .with_name(t.name.clone())
                .with_partitions(Vec::with_capacity(t.partitions.len())),
        );
    }
    let codes = if offsets.is_empty() {
        Vec::new()
    } else {
        broker.groups().commit_member_offsets(
            group_id,
            request.member_id.as_str(),
            request.group_instance_id.as_deref(),
            request.generation_id_or_member_epoch,
            &offsets,
            if version >= 9 {
                ResponseError::GroupIdNotFound
            } else {
                ResponseError::IllegalGeneration
            },
        )
    };
    for (ti, partition_index, slot) in slots {
        let code = match slot {
            Ok(i) => codes
                .get(i)
                .copied()
                .unwrap_or(ResponseError::UnknownServerError.code()),
            Err(code) => code,
        };
        if let Some(t) = topics.get_mut(ti) {
            t.partitions.push(
                OffsetCommitResponsePartition::default()
                    .with_partition_index(partition_index)
                    .with_error_code(code),
            );
        }
    }
    OffsetCommitResponse::default().with_topics(topics)
}

fn fetched_partition(o: &FetchedOffset, error: i16) -> (i64, i32, String) {
    match &o.offset {
        Some(v) if error == 0 => (v.offset, v.leader_epoch, v.metadata.clone()),
        _ => (-1, -1, String::new()),
    }
}

pub(super) fn offset_fetch(
    broker: &Arc<Broker>,
    request: OffsetFetchRequest,
    version: i16,
) -> OffsetFetchResponse {
    // `require_stable` (v7+): a partition whose offset an open transaction holds is
    // answered with UNSTABLE_OFFSET_COMMIT (the client retries) instead of an offset
    // that is about to change.
    let require_stable = version >= 7 && request.require_stable;
    let unstable = |o: &FetchedOffset| {
        if require_stable && o.unstable {
            ResponseError::UnstableOffsetCommit.code()
        } else {
            0
        }
    };
    let groups = broker.groups();
    if version >= 8 {
        let results = request
            .groups
            .into_iter()
            .map(|g| {
                let wanted: Option<Vec<(String, i32)>> = g.topics.as_ref().map(|ts| {
                    ts.iter()
                        .flat_map(|t| {
                            t.partition_indexes
                                .iter()
                                .map(move |p| (t.name.0.to_string(), *p))
                        })
                        .collect()
                });
                if version >= 9 {
                    // KIP-848 members name themselves and their epoch.
                    let code = groups.validate_offset_fetch(
                        g.group_id.0.as_str(),
                        g.member_id.as_deref().unwrap_or_default(),
                        g.member_epoch,
                    );
                    if code != 0 {
                        return OffsetFetchResponseGroup::default()
                            .with_group_id(g.group_id)
                            .with_error_code(code);
                    }
                }
                let fetched = groups.fetch_offsets(g.group_id.0.as_str(), wanted.as_deref());
                let mut topics: Vec<OffsetFetchResponseTopics> = Vec::new();
                for o in &fetched {
                    let error = unstable(o);
                    let (offset, epoch, metadata) = fetched_partition(o, error);
                    let partition = OffsetFetchResponsePartitions::default()
                        .with_partition_index(o.partition)
                        .with_error_code(error)
                        .with_committed_offset(offset)
                        .with_committed_leader_epoch(epoch)
                        .with_metadata(Some(str_bytes(&metadata)));
                    match topics.iter_mut().find(|t| t.name.0.as_str() == o.topic) {
                        Some(t) => t.partitions.push(partition),
                        None => topics.push(
                            OffsetFetchResponseTopics::default()
                                .with_name(TopicName(str_bytes(&o.topic)))
                                .with_partitions(vec![partition]),
                        ),
                    }
                }
                OffsetFetchResponseGroup::default()
                    .with_group_id(g.group_id)
                    .with_topics(topics)
            })
            .collect();
        return OffsetFetchResponse::default().with_groups(results);
    }
    let wanted: Option<Vec<(String, i32)>> = request.topics.as_ref().map(|ts| {
        ts.iter()
            .flat_map(|t| {
                t.partition_indexes
                    .iter()
                    .map(move |p| (t.name.0.to_string(), *p))
            })
            .collect()
    });
    let fetched = groups.fetch_offsets(request.group_id.0.as_str(), wanted.as_deref());
    let mut topics: Vec<OffsetFetchResponseTopic> = Vec::new();
    for o in &fetched {
        let error = unstable(o);
        let (offset, epoch, metadata) = fetched_partition(o, error);
        let partition = OffsetFetchResponsePartition::default()
            .with_partition_index(o.partition)
            .with_error_code(error)
            .with_committed_offset(offset)
            .with_committed_leader_epoch(if version >= 5 { epoch } else { -1 })
            .with_metadata(Some(str_bytes(&metadata)));
        match topics.iter_mut().find(|t| t.name.0.as_str() == o.topic) {
            Some(t) => t.partitions.push(partition),
            None => topics.push(
                OffsetFetchResponseTopic::default()
                    .with_name(TopicName(str_bytes(&o.topic)))
                    .with_partitions(vec![partition]),
            ),
        }
    }
    OffsetFetchResponse::default().with_topics(topics)
}

pub(super) fn list_groups(
    broker: &Arc<Broker>,
    request: ListGroupsRequest,
    version: i16,
) -> ListGroupsResponse {
    let states: Vec<String> = request
        .states_filter
        .iter()
        .map(|s| s.to_string())
        .collect();
    // Groups are `classic` or `consumer` (KIP-848); v5 filters by type.
    let types: Vec<String> = request.types_filter.iter().map(|t| t.to_string()).collect();
    let listed = broker
        .groups()
        .list_groups(&states)
        .into_iter()
        .filter(|g| types.is_empty() || types.iter().any(|t| t.eq_ignore_ascii_case(g.group_type)))
        .map(|g| {
            let mut l = ListedGroup::default()
                .with_group_id(GroupId(str_bytes(&g.group_id)))
                .with_protocol_type(str_bytes(&g.protocol_type));
            if version >= 4 {
                l = l.with_group_state(str_bytes(g.state));
            }
            if version >= 5 {
                l = l.with_group_type(str_bytes(g.group_type));
            }
            l
        })
        .collect();
    ListGroupsResponse::default().with_groups(listed)
}

pub(super) fn describe_groups(
    broker: &Arc<Broker>,
    request: DescribeGroupsRequest,
    version: i16,
) -> DescribeGroupsResponse {
    let operations = if version >= 3 && request.include_authorized_operations {
        GROUP_OPERATIONS
    } else {
        OPERATIONS_NOT_REQUESTED
    };
    let groups = request
        .groups
        .into_iter()
        .map(|group_id| {
            let described = DescribedGroup::default().with_authorized_operations(operations);
            if broker.groups().is_consumer_group(group_id.0.as_str()) {
                // Kafka: a consumer-protocol group is Dead to DescribeGroups, and from v6
                // an error.
                let described = described
                    .with_group_id(group_id.clone())
                    .with_group_state(str_bytes(GroupState::Dead.name()));
                return if version >= 6 {
                    described
                        .with_error_code(ResponseError::GroupIdNotFound.code())
                        .with_error_message(Some(str_bytes(&format!(
                            "Group {} is not a classic group.",
                            group_id.0.as_str()
                        ))))
                } else {
                    described
                };
            }
            let Some(d) = broker.groups().describe_group(group_id.0.as_str()) else {
                // Kafka describes an unknown group as Dead; from v6 (KIP-1043) it is an error.
                let described = described
                    .with_group_id(group_id.clone())
                    .with_group_state(str_bytes(GroupState::Dead.name()));
                return if version >= 6 {
                    described
                        .with_error_code(ResponseError::GroupIdNotFound.code())
                        .with_error_message(Some(str_bytes(&format!(
                            "Group {} not found.",
                            group_id.0.as_str()
                        ))))
                } else {
                    described
                };
            };
            let members = d
                .members
                .into_iter()
                .map(|m| {
                    let member = DescribedGroupMember::default()
                        .with_member_id(str_bytes(&m.member_id))
                        .with_client_id(str_bytes(&m.client_id))
                        .with_client_host(str_bytes(&m.client_host))
                        .with_member_metadata(m.metadata)
                        .with_member_assignment(m.assignment);
                    if version >= 4 {
                        member.with_group_instance_id(opt_str(m.instance_id.as_deref()))
                    } else {
                        member
                    }
                })
                .collect();
            described
                .with_group_id(group_id)
                .with_group_state(str_bytes(d.state.name()))
                .with_protocol_type(str_bytes(&d.protocol_type))
                .with_protocol_data(str_bytes(&d.protocol))
                .with_members(members)
        })
        .collect();
    DescribeGroupsResponse::default().with_groups(groups)
}

pub(super) fn delete_groups(
    broker: &Arc<Broker>,
    request: DeleteGroupsRequest,
) -> DeleteGroupsResponse {
    let results = request
        .groups_names
        .into_iter()
        .map(|g| {
            let code = broker.groups().delete_group(g.0.as_str());
            DeletableGroupResult::default()
                .with_group_id(g)
                .with_error_code(code)
        })
        .collect();
    DeleteGroupsResponse::default().with_results(results)
}

/// ConsumerGroupHeartbeat (KIP-848), versions 0 and 1: checks the request as Kafka's
/// `throwIfConsumerGroupHeartbeatRequestIsInvalid` does, then hands it to the
/// coordinator with the cluster's topics as they are now (which is how new topics and
/// partitions reach the assignment).
pub(super) fn consumer_group_heartbeat(
    broker: &Arc<Broker>,
    header: &RequestHeader,
    peer: Option<SocketAddr>,
    request: ConsumerGroupHeartbeatRequest,
    version: i16,
) -> ConsumerGroupHeartbeatResponse {
    let invalid = |message: &str| {
        ConsumerHeartbeatResponse::error(ResponseError::InvalidRequest, message.to_string())
    };
    let epoch = request.member_epoch;
    let r = if request.group_id.0.is_empty() {
        invalid("GroupId can't be empty.")
    } else if (version >= 1 || epoch != 0) && request.member_id.is_empty() {
        // v0 members join with an empty id and get one; v1 clients make their own.
        invalid("MemberId can't be empty.")
    } else if request.instance_id.as_ref().is_some_and(|i| i.is_empty()) {
        invalid("InstanceId can't be empty.")
    } else if epoch == consumer::LEAVE_STATIC_EPOCH && request.instance_id.is_none() {
        invalid("InstanceId can't be null when leaving as a static member.")
    } else if epoch < consumer::LEAVE_STATIC_EPOCH {
        invalid(&format!("MemberEpoch {epoch} is invalid."))
    } else if epoch == 0 && request.rebalance_timeout_ms == -1 {
        invalid("RebalanceTimeoutMs must be provided in first request.")
    } else if epoch == 0
        && request
            .topic_partitions
            .as_ref()
            .is_none_or(|t| !t.is_empty())
    {
        invalid("TopicPartitions must be empty when (re-)joining.")
    } else if epoch == 0
        && request.subscribed_topic_names.is_none()
        && request.subscribed_topic_regex.is_none()
    {
        invalid("SubscribedTopicNames or SubscribedTopicRegex must be set in first request.")
    } else if request
        .server_assignor
        .as_ref()
        .is_some_and(|a| !a.is_empty() && crate::group::ServerAssignor::from_name(a).is_none())
    {
        ConsumerHeartbeatResponse::error(
            ResponseError::UnsupportedAssignor,
            format!(
                "ServerAssignor {} is not supported. Supported assignors: {}.",
                request.server_assignor.as_deref().unwrap_or_default(),
                broker.groups().assignors().join(", ")
            ),
        )
    } else {
        let req = ConsumerHeartbeat {
            group_id: request.group_id.0.to_string(),
            member_id: request.member_id.to_string(),
            member_epoch: epoch,
            instance_id: request.instance_id.as_ref().map(|s| s.to_string()),
            rack_id: request.rack_id.as_ref().map(|s| s.to_string()),
            rebalance_timeout_ms: request.rebalance_timeout_ms,
            subscribed_topic_names: request
                .subscribed_topic_names
                .as_ref()
                .map(|ts| ts.iter().map(|t| t.0.to_string()).collect()),
            subscribed_topic_regex: if version >= 1 {
                request
                    .subscribed_topic_regex
                    .as_ref()
                    .map(|s| s.to_string())
            } else {
                None
            },
            server_assignor: request.server_assignor.as_ref().map(|s| s.to_string()),
            owned: request.topic_partitions.as_ref().map(|ts| {
                let mut owned = Assignment::new();
                for t in ts {
                    owned
                        .entry(t.topic_id)
                        .or_default()
                        .extend(t.partitions.iter().copied());
                }
                owned
            }),
            client_id: header
                .client_id
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_default(),
            client_host: client_host(peer),
        };
        broker
            .groups()
            .consumer_heartbeat(&req, &topics_snapshot(broker))
    };
    let assignment = r.assignment.map(|a| {
        HeartbeatAssignment::default().with_topic_partitions(
            a.into_iter()
                .map(|(topic_id, ps)| {
                    HeartbeatTopicPartitions::default()
                        .with_topic_id(topic_id)
                        .with_partitions(ps.into_iter().collect())
                })
                .collect(),
        )
    });
    ConsumerGroupHeartbeatResponse::default()
        .with_error_code(r.error)
        .with_error_message(r.message.as_deref().map(str_bytes))
        .with_member_id(r.member_id.as_deref().map(str_bytes))
        .with_member_epoch(r.member_epoch)
        .with_heartbeat_interval_ms(r.heartbeat_interval_ms)
        .with_assignment(assignment)
}

/// The cluster's topics for the coordinator's assignors (internal topics left out).
fn topics_snapshot(broker: &Arc<Broker>) -> TopicsSnapshot {
    broker
        .topics()
        .list()
        .into_iter()
        .filter(|t| !t.is_internal())
        .map(|t| {
            (
                t.name.clone(),
                TopicMeta {
                    id: t.id,
                    partitions: i32::try_from(t.partitions.len()).unwrap_or(i32::MAX),
                },
            )
        })
        .collect()
}

/// ConsumerGroupDescribe (KIP-848), versions 0 and 1.
pub(super) fn consumer_group_describe(
    broker: &Arc<Broker>,
    request: ConsumerGroupDescribeRequest,
    version: i16,
) -> ConsumerGroupDescribeResponse {
    let operations = if request.include_authorized_operations {
        GROUP_OPERATIONS
    } else {
        OPERATIONS_NOT_REQUESTED
    };
    let topic_name = |id: uuid::Uuid| {
        broker
            .topics()
            .get_by_id(id)
            .map(|t| t.name.clone())
            .unwrap_or_default()
    };
    let assignment = |a: &Assignment| {
        DescribeAssignment::default().with_topic_partitions(
            a.iter()
                .map(|(id, ps)| {
                    DescribeTopicPartitions::default()
                        .with_topic_id(*id)
                        .with_topic_name(TopicName(str_bytes(&topic_name(*id))))
                        .with_partitions(ps.iter().copied().collect())
                })
                .collect(),
        )
    };
    let groups = request
        .group_ids
        .into_iter()
        .map(|group_id| {
            let described = ConsumerDescribedGroup::default()
                .with_group_id(group_id.clone())
                .with_authorized_operations(operations);
            let id = group_id.0.to_string();
            match broker.groups().describe_consumer_group(&id) {
                Err(()) => described
                    .with_error_code(ResponseError::GroupIdNotFound.code())
                    .with_error_message(Some(str_bytes(&format!(
                        "Group {id} is not a consumer group."
                    ))))
                    .with_group_state(str_bytes("Dead")),
                Ok(None) => described
                    .with_error_code(ResponseError::GroupIdNotFound.code())
                    .with_error_message(Some(str_bytes(&format!("Group {id} not found."))))
                    .with_group_state(str_bytes("Dead")),
                Ok(Some(d)) => described
                    .with_group_state(str_bytes(d.state.name()))
                    .with_group_epoch(d.epoch)
                    .with_assignment_epoch(d.assignment_epoch)
                    .with_assignor_name(str_bytes(&d.assignor))
                    .with_members(
                        d.members
                            .iter()
                            .map(|m| {
                                let member = ConsumerDescribedMember::default()
                                    .with_member_id(str_bytes(&m.member_id))
                                    .with_instance_id(opt_str(m.instance_id.as_deref()))
                                    .with_rack_id(opt_str(m.rack_id.as_deref()))
                                    .with_member_epoch(m.member_epoch)
                                    .with_client_id(str_bytes(&m.client_id))
                                    .with_client_host(str_bytes(&m.client_host))
                                    .with_subscribed_topic_names(
                                        m.subscribed_topic_names
                                            .iter()
                                            .map(|t| TopicName(str_bytes(t)))
                                            .collect(),
                                    )
                                    .with_subscribed_topic_regex(opt_str(
                                        m.subscribed_topic_regex.as_deref(),
                                    ))
                                    .with_assignment(assignment(&m.assignment))
                                    .with_target_assignment(assignment(&m.target_assignment));
                                if version >= 1 {
                                    // 1: a member of the consumer protocol.
                                    member.with_member_type(1)
                                } else {
                                    member
                                }
                            })
                            .collect(),
                    ),
            }
        })
        .collect();
    ConsumerGroupDescribeResponse::default().with_groups(groups)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BrokerConfig;
    use kafka_protocol::messages::offset_commit_request::{
        OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    };
    use kafka_protocol::messages::offset_fetch_request::{
        OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
    };

    fn broker() -> (tempfile::TempDir, Arc<Broker>) {
        let dir = tempfile::tempdir().unwrap();
        let config = BrokerConfig::with_data_dir(dir.path());
        let broker = Broker::open(config, dir.path(), "127.0.0.1:9092".parse().unwrap()).unwrap();
        broker.topics().create("t", 2, &[]).unwrap();
        (dir, Arc::new(broker))
    }

    fn commit(topic: &str, partition: i32, offset: i64) -> OffsetCommitRequest {
        OffsetCommitRequest::default()
            .with_group_id(GroupId(str_bytes("g")))
            .with_generation_id_or_member_epoch(-1)
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(TopicName(str_bytes(topic)))
                .with_partitions(vec![OffsetCommitRequestPartition::default()
                    .with_partition_index(partition)
                    .with_committed_offset(offset)
                    .with_committed_leader_epoch(2)
                    .with_committed_metadata(Some(str_bytes("meta")))])])
    }

    #[test]
    fn commits_to_unknown_partitions_are_refused_alone() {
        let (_dir, broker) = broker();
        let r = offset_commit(&broker, commit("t", 1, 5), 8);
        assert_eq!(r.topics[0].partitions[0].error_code, 0);
        let r = offset_commit(&broker, commit("t", 9, 5), 8);
        assert_eq!(
            r.topics[0].partitions[0].error_code,
            ResponseError::UnknownTopicOrPartition.code()
        );
        let r = offset_commit(&broker, commit("missing", 0, 5), 8);
        assert_eq!(
            r.topics[0].partitions[0].error_code,
            ResponseError::UnknownTopicOrPartition.code()
        );
        let stored = broker.groups().committed_offset("g", "t", 1).unwrap();
        assert_eq!((stored.offset, stored.leader_epoch), (5, 2));
        // Before v6 there is no leader epoch to store.
        offset_commit(&broker, commit("t", 1, 6), 5);
        let stored = broker.groups().committed_offset("g", "t", 1).unwrap();
        assert_eq!((stored.offset, stored.leader_epoch), (6, -1));
    }

    #[test]
    fn require_stable_fetches_see_open_transactions() {
        let (_dir, broker) = broker();
        offset_commit(&broker, commit("t", 0, 5), 8);
        broker
            .groups()
            .begin_txn_offsets("g", 1, &[("t".to_string(), 0)]);
        let v7 = |stable: bool| {
            OffsetFetchRequest::default()
                .with_group_id(GroupId(str_bytes("g")))
                .with_require_stable(stable)
                .with_topics(Some(vec![OffsetFetchRequestTopic::default()
                    .with_name(TopicName(str_bytes("t")))
                    .with_partition_indexes(vec![0, 1])]))
        };
        let r = offset_fetch(&broker, v7(true), 7);
        let p = &r.topics[0].partitions;
        assert_eq!(p[0].error_code, ResponseError::UnstableOffsetCommit.code());
        assert_eq!(p[0].committed_offset, -1);
        assert_eq!((p[1].error_code, p[1].committed_offset), (0, -1));
        let r = offset_fetch(&broker, v7(false), 7);
        let p = &r.topics[0].partitions[0];
        assert_eq!((p.error_code, p.committed_offset), (0, 5));
        assert_eq!(p.metadata.as_deref(), Some("meta"));
        let v8 = OffsetFetchRequest::default()
            .with_require_stable(true)
            .with_groups(vec![
                OffsetFetchRequestGroup::default()
                    .with_group_id(GroupId(str_bytes("g")))
                    .with_topics(Some(vec![OffsetFetchRequestTopics::default()
                        .with_name(TopicName(str_bytes("t")))
                        .with_partition_indexes(vec![0])])),
                OffsetFetchRequestGroup::default().with_group_id(GroupId(str_bytes("other"))),
            ]);
        let r = offset_fetch(&broker, v8, 8);
        assert_eq!(
            r.groups[0].topics[0].partitions[0].error_code,
            ResponseError::UnstableOffsetCommit.code()
        );
        assert!(
            r.groups[1].topics.is_empty(),
            "a group without offsets has none"
        );
        broker.groups().end_txn_offsets("g", 1);
        let r = offset_fetch(&broker, v7(true), 7);
        assert_eq!(r.topics[0].partitions[0].committed_offset, 5);
    }

    #[test]
    fn find_coordinator_answers_groups_and_transactions_only() {
        let (_dir, broker) = broker();
        let r = find_coordinator(
            &broker,
            broker.advertised(),
            FindCoordinatorRequest::default().with_key_type(1),
            3,
        );
        assert_eq!((r.error_code, r.node_id, r.port), (0, BrokerId(0), 9092));
        let r = find_coordinator(
            &broker,
            broker.advertised(),
            FindCoordinatorRequest::default()
                .with_key_type(2)
                .with_coordinator_keys(vec![str_bytes("a"), str_bytes("b")]),
            6,
        );
        assert_eq!(r.coordinators.len(), 2);
        assert!(r
            .coordinators
            .iter()
            .all(|c| c.error_code == ResponseError::InvalidRequest.code()));
    }
}
