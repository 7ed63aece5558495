//! Administrative APIs: `CreateTopics`, `DeleteTopics`, `DescribeConfigs`,
//! `DescribeCluster` — what Kafka's `AdminClient` and tools such as `kafka-topics.sh`
//! use. With one node, replication factors other than 1 are refused and explicit replica
//! assignments may only name this broker.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::{
    BrokerId, CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest, DeleteTopicsResponse,
    DescribeClusterRequest, DescribeClusterResponse, DescribeConfigsRequest,
    DescribeConfigsResponse, TopicName,
};

use super::str_bytes;
use crate::broker::Broker;
use crate::config::{is_stored_dynamic_broker_key, ConfigSource, TopicConfig};
use crate::error::Error;
use crate::topics::DynamicScope;

const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;

fn error_code(e: &Error) -> ResponseError {
    match e {
        Error::TopicExists { .. } => ResponseError::TopicAlreadyExists,
        Error::InvalidTopic { .. } => ResponseError::InvalidTopicException,
        Error::UnknownConfig { .. } | Error::InvalidConfig { .. } => ResponseError::InvalidConfig,
        Error::UnknownTopic { .. } => ResponseError::UnknownTopicOrPartition,
        _ => ResponseError::UnknownServerError,
    }
}

fn creatable_configs(config: &TopicConfig) -> Vec<CreatableTopicConfigs> {
    config
        .entries()
        .map(|(k, v, source)| {
            CreatableTopicConfigs::default()
                .with_name(str_bytes(k.name))
                .with_value(Some(str_bytes(v)))
                .with_config_source(source as i8)
        })
        .collect()
}

pub(super) fn create_topics(
    broker: &Arc<Broker>,
    request: CreateTopicsRequest,
    _version: i16,
) -> CreateTopicsResponse {
    let node = broker.node_id();
    let topics = request
        .topics
        .into_iter()
        .map(|t| {
            let name = t.name.0.as_str().to_string();
            let result = CreatableTopicResult::default()
                .with_name(t.name.clone())
                .with_num_partitions(-1)
                .with_replication_factor(-1);
            let fail = |code: ResponseError, msg: String| {
                result
                    .clone()
                    .with_error_code(code.code())
                    .with_error_message(Some(str_bytes(&msg)))
            };
            let partitions = if !t.assignments.is_empty() {
                if t.num_partitions != -1 || t.replication_factor != -1 {
                    return fail(
                        ResponseError::InvalidRequest,
                        "both assignments and partitions/replication factor given".into(),
                    );
                }
                if t.assignments
                    .iter()
                    .any(|a| a.broker_ids.iter().any(|b| b.0 != node))
                {
                    return fail(
                        ResponseError::InvalidReplicaAssignment,
                        format!("only broker {node} exists"),
                    );
                }
                t.assignments.len() as i32
            } else if t.num_partitions == -1 {
                broker.config().num_partitions
            } else {
                t.num_partitions
            };
            if !(1..=crate::topics::MAX_PARTITIONS_PER_TOPIC).contains(&partitions) {
                return fail(
                    ResponseError::InvalidPartitions,
                    format!(
                        "a topic has 1 to {} partitions",
                        crate::topics::MAX_PARTITIONS_PER_TOPIC
                    ),
                );
            }
            if !(t.replication_factor == -1 || t.replication_factor == 1) {
                return fail(
                    ResponseError::InvalidReplicationFactor,
                    format!(
                        "replication factor {} is larger than the 1 available broker",
                        t.replication_factor
                    ),
                );
            }
            let overrides: Vec<(String, String)> = t
                .configs
                .iter()
                .filter_map(|c| {
                    c.value
                        .as_ref()
                        .map(|v| (c.name.as_str().to_string(), v.as_str().to_string()))
                })
                .collect();
            let outcome = if request.validate_only {
                crate::topics::validate_topic_name(&name)
                    .and_then(|_| broker.topics().config_for(&overrides))
                    .and_then(|c| match broker.topics().get(&name) {
                        Some(_) => Err(Error::TopicExists {
                            topic: name.clone(),
                        }),
                        None => Ok((uuid::Uuid::nil(), c)),
                    })
            } else {
                broker
                    .topics()
                    .create(&name, partitions, &overrides)
                    .map(|t| (t.id, (*t.config).clone()))
            };
            match outcome {
                Ok((id, config)) => result
                    .with_topic_id(id)
                    .with_num_partitions(partitions)
                    .with_replication_factor(1)
                    .with_configs(Some(creatable_configs(&config))),
                Err(e) => fail(error_code(&e), e.to_string()),
            }
        })
        .collect();
    CreateTopicsResponse::default().with_topics(topics)
}

pub(super) fn delete_topics(
    broker: &Arc<Broker>,
    request: DeleteTopicsRequest,
    version: i16,
) -> DeleteTopicsResponse {
    let targets: Vec<(Option<String>, uuid::Uuid)> = if version >= 6 {
        request
            .topics
            .iter()
            .map(|t| {
                (
                    t.name.as_ref().map(|n| n.0.as_str().to_string()),
                    t.topic_id,
                )
            })
            .collect()
    } else {
        request
            .topic_names
            .iter()
            .map(|n| (Some(n.0.as_str().to_string()), uuid::Uuid::nil()))
            .collect()
    };
    let responses = targets
        .into_iter()
        .map(|(name, id)| {
            let topic = match &name {
                Some(n) => broker.topics().get(n),
                None => broker.topics().get_by_id(id),
            };
            let result = DeletableTopicResult::default()
                .with_name(name.as_deref().map(|n| TopicName(str_bytes(n))))
                .with_topic_id(id);
            let Some(topic) = topic else {
                let code = if name.is_some() {
                    ResponseError::UnknownTopicOrPartition
                } else {
                    ResponseError::UnknownTopicId
                };
                return result.with_error_code(code.code());
            };
            if topic.is_internal() {
                // The coordinators hold these logs open; deleting one would lose every
                // committed offset at the next restart.
                return result
                    .with_error_code(ResponseError::InvalidRequest.code())
                    .with_error_message(Some(str_bytes(&format!(
                        "{} is an internal topic and cannot be deleted",
                        topic.name
                    ))));
            }
            match broker.topics().delete(&topic.name) {
                Ok(t) => {
                    broker.groups().delete_topic_offsets(&t.name);
                    result
                        .with_name(Some(TopicName(str_bytes(&t.name))))
                        .with_topic_id(t.id)
                }
                Err(e) => result
                    .with_error_code(error_code(&e).code())
                    .with_error_message(Some(str_bytes(&e.to_string()))),
            }
        })
        .collect();
    DeleteTopicsResponse::default().with_responses(responses)
}

fn broker_entries(broker: &Broker) -> Vec<(String, String)> {
    let c = broker.config();
    let v = vec![
        ("node.id".to_string(), c.node_id.to_string()),
        ("broker.id".to_string(), c.node_id.to_string()),
        (
            "auto.create.topics.enable".to_string(),
            c.auto_create_topics.to_string(),
        ),
        ("num.partitions".to_string(), c.num_partitions.to_string()),
        ("default.replication.factor".to_string(), "1".to_string()),
        (
            "offsets.topic.replication.factor".to_string(),
            "1".to_string(),
        ),
        (
            "transaction.state.log.replication.factor".to_string(),
            "1".to_string(),
        ),
        (
            "socket.request.max.bytes".to_string(),
            c.max_request_size.to_string(),
        ),
        (
            "log.retention.check.interval.ms".to_string(),
            c.retention_check_interval.as_millis().to_string(),
        ),
        (
            "log.dirs".to_string(),
            broker.data_dir().display().to_string(),
        ),
        (
            "group.initial.rebalance.delay.ms".to_string(),
            c.group.initial_rebalance_delay.as_millis().to_string(),
        ),
        (
            "group.min.session.timeout.ms".to_string(),
            c.group.min_session_timeout.as_millis().to_string(),
        ),
        (
            "group.max.session.timeout.ms".to_string(),
            c.group.max_session_timeout.as_millis().to_string(),
        ),
        (
            "offset.metadata.max.bytes".to_string(),
            c.group.offset_metadata_max_bytes.to_string(),
        ),
        (
            "offsets.retention.minutes".to_string(),
            (c.group.offsets_retention.as_secs() / 60).to_string(),
        ),
        (
            "offsets.retention.check.interval.ms".to_string(),
            c.group
                .offsets_retention_check_interval
                .as_millis()
                .to_string(),
        ),
        ("fetch.max.bytes".to_string(), c.fetch_max_bytes.to_string()),
        (
            "connections.max.idle.ms".to_string(),
            c.connections_max_idle.as_millis().to_string(),
        ),
        (
            "request.read.timeout.ms".to_string(),
            c.request_read_timeout.as_millis().to_string(),
        ),
        ("max.connections".to_string(), c.max_connections.to_string()),
        (
            "group.consumer.session.timeout.ms".to_string(),
            c.group.consumer_session_timeout.as_millis().to_string(),
        ),
        (
            "group.consumer.heartbeat.interval.ms".to_string(),
            c.group.consumer_heartbeat_interval.as_millis().to_string(),
        ),
        (
            "group.consumer.assignors".to_string(),
            c.group.consumer_assignors.join(","),
        ),
        (
            "authorizer.class.name".to_string(),
            c.authorizer_class_name.clone().unwrap_or_default(),
        ),
        (
            "super.users".to_string(),
            c.authorizer.super_users.join(";"),
        ),
        (
            "allow.everyone.if.no.acl.found".to_string(),
            c.authorizer.allow_everyone_if_no_acl_found.to_string(),
        ),
    ];
    v
}

/// The broker properties that set topic defaults, with their values in force and where those
/// came from (static, or altered at run time); these may be altered at run time.
fn dynamic_entries(broker: &Broker) -> Vec<(String, String, ConfigSource)> {
    let defaults = match broker.topics().defaults() {
        Ok(defaults) => defaults,
        Err(e) => {
            tracing::error!(error = %e, "dynamic broker configs do not apply");
            broker.config().topic_defaults.clone()
        }
    };
    let mut entries: Vec<(String, String, ConfigSource)> = defaults
        .entries()
        .filter_map(|(k, value, source)| {
            k.broker_key
                .map(|bk| (bk.to_string(), value.to_string(), source))
        })
        .collect();
    // Kafka's other dynamic properties that were altered: stored and reported, not acted on.
    let dynamic = broker.topics().dynamic_defaults();
    let mut stored: std::collections::BTreeMap<&str, (&str, ConfigSource)> = Default::default();
    for (scope, source) in [
        (
            DynamicScope::ClusterDefault,
            ConfigSource::DynamicDefaultBroker,
        ),
        (DynamicScope::Broker, ConfigSource::DynamicBroker),
    ] {
        for (k, v) in dynamic.scope(scope) {
            if is_stored_dynamic_broker_key(k) {
                stored.insert(k, (v, source));
            }
        }
    }
    entries.extend(
        stored
            .into_iter()
            .map(|(k, (v, source))| (k.to_string(), v.to_string(), source)),
    );
    entries
}

pub(super) fn describe_configs(
    broker: &Arc<Broker>,
    request: DescribeConfigsRequest,
    _version: i16,
) -> DescribeConfigsResponse {
    let results = request
        .resources
        .iter()
        .map(|res| {
            let base = DescribeConfigsResult::default()
                .with_resource_type(res.resource_type)
                .with_resource_name(res.resource_name.clone());
            let wanted = |name: &str| {
                res.configuration_keys
                    .as_ref()
                    .is_none_or(|keys| keys.iter().any(|k| k.as_str() == name))
            };
            match res.resource_type {
                RESOURCE_TOPIC => {
                    let Some(topic) = broker.topics().get(res.resource_name.as_str()) else {
                        return base
                            .with_error_code(ResponseError::UnknownTopicOrPartition.code())
                            .with_error_message(Some(str_bytes("unknown topic")));
                    };
                    let configs = topic
                        .config
                        .entries()
                        .filter(|(k, _, _)| wanted(k.name))
                        .map(|(k, value, source)| {
                            let mut synonyms = Vec::new();
                            if request.include_synonyms {
                                let syn_name = match (source, k.broker_key) {
                                    (
                                        ConfigSource::StaticBroker
                                        | ConfigSource::DynamicBroker
                                        | ConfigSource::DynamicDefaultBroker,
                                        Some(bk),
                                    ) => bk,
                                    _ => k.name,
                                };
                                synonyms.push(
                                    DescribeConfigsSynonym::default()
                                        .with_name(str_bytes(syn_name))
                                        .with_value(Some(str_bytes(value)))
                                        .with_source(source as i8),
                                );
                            }
                            DescribeConfigsResourceResult::default()
                                .with_name(str_bytes(k.name))
                                .with_value(Some(str_bytes(value)))
                                .with_config_source(source as i8)
                                .with_synonyms(synonyms)
                                .with_config_type(k.config_type as i8)
                                .with_documentation(
                                    request.include_documentation.then(|| str_bytes(k.doc)),
                                )
                        })
                        .collect();
                    base.with_configs(configs)
                }
                RESOURCE_BROKER => {
                    let fixed = broker_entries(broker)
                        .into_iter()
                        .map(|(k, v)| (k, v, ConfigSource::StaticBroker, true));
                    let dynamic = dynamic_entries(broker)
                        .into_iter()
                        .map(|(k, v, source)| (k, v, source, false));
                    let configs = fixed
                        .chain(dynamic)
                        .filter(|(k, _, _, _)| wanted(k))
                        .map(|(k, v, source, read_only)| {
                            DescribeConfigsResourceResult::default()
                                .with_name(str_bytes(&k))
                                .with_value(Some(str_bytes(&v)))
                                .with_read_only(read_only)
                                .with_config_source(source as i8)
                        })
                        .collect();
                    base.with_configs(configs)
                }
                other => base
                    .with_error_code(ResponseError::InvalidRequest.code())
                    .with_error_message(Some(str_bytes(&format!(
                        "resource type {other} is not supported"
                    )))),
            }
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

pub(super) fn describe_cluster(
    broker: &Arc<Broker>,
    (host, port): (&str, i32),
    _request: DescribeClusterRequest,
    _version: i16,
) -> DescribeClusterResponse {
    DescribeClusterResponse::default()
        .with_endpoint_type(1)
        .with_cluster_id(str_bytes(broker.cluster_id()))
        .with_controller_id(BrokerId(broker.node_id()))
        .with_brokers(vec![DescribeClusterBroker::default()
            .with_broker_id(BrokerId(broker.node_id()))
            .with_host(str_bytes(host))
            .with_port(port)])
        .with_cluster_authorized_operations(i32::MIN)
}
