//! `AlterConfigs` and `IncrementalAlterConfigs`: changing topic configs (what
//! `kafka-configs.sh --alter` and the admin clients' `alterConfigs`/`incrementalAlterConfigs`
//! do). Every value is validated before anything changes; the result is persisted with the
//! topic and in force in every partition at once (segment size, retention, compaction,
//! message size, timestamps — as Kafka applies topic configs live).
//!
//! `AlterConfigs` replaces the topic's whole set of overrides (keys it does not name go back
//! to the broker default); `IncrementalAlterConfigs` applies operations per key: `SET`,
//! `DELETE` (back to the default), and `APPEND`/`SUBTRACT` on list-valued keys such as
//! `cleanup.policy`.
//!
//! Broker resources take Kafka's dynamic broker configs that set topic defaults (`log.retention.ms`,
//! `log.segment.bytes`, `log.cleanup.policy`, `message.max.bytes`, …), for every broker (the
//! resource named ``) or for this one (named by its `node.id`): persisted, and in force at once
//! in every topic that does not override the key. Other broker properties are read-only, as
//! Kafka's `num.partitions` is: set them in the config file (`rill broker --config`).

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
};

use std::collections::BTreeMap;

use super::str_bytes;
use crate::broker::Broker;
use crate::config::{topic_key_for_broker_key, ConfigType, TopicConfig};
use crate::error::Error;
use crate::topics::DynamicScope;

const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;

const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;
const OP_APPEND: i8 = 2;
const OP_SUBTRACT: i8 = 3;

/// An error code and message for a resource.
type Failure = (ResponseError, String);

fn failure_of(e: Error) -> Failure {
    match e {
        Error::UnknownTopic { .. } => (ResponseError::UnknownTopicOrPartition, e.to_string()),
        Error::UnknownConfig { .. } | Error::InvalidConfig { .. } => {
            (ResponseError::InvalidConfig, e.to_string())
        }
        other => (ResponseError::UnknownServerError, other.to_string()),
    }
}

/// The current overrides of topic `name`.
fn current_overrides(broker: &Broker, name: &str) -> Result<Vec<(String, String)>, Failure> {
    let topic = broker.topics().get(name).ok_or_else(|| {
        (
            ResponseError::UnknownTopicOrPartition,
            format!("topic `{name}` does not exist"),
        )
    })?;
    if topic.is_internal() {
        return Err((
            ResponseError::InvalidRequest,
            format!("{name} is an internal topic"),
        ));
    }
    Ok(topic
        .config
        .overrides()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect())
}

/// What an alter request's resource names.
enum Target {
    Topic,
    Broker(DynamicScope),
}

/// The resource's kind: a topic, the cluster-wide broker default (``), this broker (its
/// `node.id`); anything else is refused.
fn target(broker: &Broker, resource_type: i8, name: &str) -> Result<Target, Failure> {
    match resource_type {
        RESOURCE_TOPIC => Ok(Target::Topic),
        RESOURCE_BROKER if name.is_empty() => Ok(Target::Broker(DynamicScope::ClusterDefault)),
        RESOURCE_BROKER if name == broker.node_id().to_string() => {
            Ok(Target::Broker(DynamicScope::Broker))
        }
        RESOURCE_BROKER => Err((
            ResponseError::InvalidRequest,
            format!("broker `{name}` is not this broker ({})", broker.node_id()),
        )),
        other => Err((
            ResponseError::InvalidRequest,
            format!("resource type {other} is not supported"),
        )),
    }
}

/// Checks that broker property `key` can be altered at run time.
fn dynamic_broker_key(key: &str) -> Result<&'static crate::config::TopicConfigKey, Failure> {
    topic_key_for_broker_key(key).ok_or_else(|| {
        (
            ResponseError::InvalidRequest,
            format!("cannot update `{key}` dynamically: set it in the broker's config file"),
        )
    })
}

/// Applies the alterations of a broker resource: `values` replaces what `scope` had.
fn finish_broker(
    broker: &Broker,
    scope: DynamicScope,
    values: BTreeMap<String, String>,
    validate_only: bool,
) -> Result<(), Failure> {
    broker
        .topics()
        .alter_dynamic_defaults(scope, values, validate_only)
        .map_err(failure_of)
}

fn set(overrides: &mut Vec<(String, String)>, key: &str, value: String) {
    overrides.retain(|(k, _)| k != key);
    overrides.push((key.to_string(), value));
}

/// The value of `key` now in force on the topic: its override, else its default.
fn list_value(broker: &Broker, topic: &str, key: &str) -> String {
    broker
        .topics()
        .get(topic)
        .and_then(|t| t.config.get(key).map(str::to_string))
        .unwrap_or_default()
}

/// Applies one incremental operation to the dynamic broker configs `values` of `scope`.
fn apply_broker(
    broker: &Broker,
    values: &mut BTreeMap<String, String>,
    key: &str,
    op: i8,
    value: Option<&str>,
) -> Result<(), Failure> {
    let known = dynamic_broker_key(key)?;
    let is_list = known.config_type == ConfigType::List;
    match op {
        OP_SET => {
            let value = value.ok_or_else(|| {
                (
                    ResponseError::InvalidRequest,
                    format!("SET of `{key}` without a value"),
                )
            })?;
            values.insert(key.to_string(), value.to_string());
        }
        OP_DELETE => {
            values.remove(key);
        }
        OP_APPEND | OP_SUBTRACT if !is_list => {
            return Err((
                ResponseError::InvalidConfig,
                format!("`{key}` is not a list: APPEND and SUBTRACT apply to list configs"),
            ))
        }
        OP_APPEND | OP_SUBTRACT => {
            let current = match values.get(key) {
                Some(v) => v.clone(),
                None => broker
                    .topics()
                    .defaults()
                    .map_err(failure_of)?
                    .get(known.name)
                    .unwrap_or_default()
                    .to_string(),
            };
            let list = edit_list(&current, value.unwrap_or_default(), op == OP_APPEND);
            values.insert(key.to_string(), list);
        }
        other => {
            return Err((
                ResponseError::InvalidRequest,
                format!("unknown config operation {other}"),
            ))
        }
    }
    Ok(())
}

/// `current` (a comma-separated list) with the items of `items` appended (each once) or
/// removed.
fn edit_list(current: &str, items: &str, append: bool) -> String {
    let split = |s: &str| -> Vec<String> {
        s.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    let mut list = split(current);
    let items = split(items);
    if append {
        for item in items {
            if !list.contains(&item) {
                list.push(item);
            }
        }
    } else {
        list.retain(|item| !items.contains(item));
    }
    list.join(",")
}

/// Applies one incremental operation to `overrides` of topic `topic`.
fn apply(
    broker: &Broker,
    topic: &str,
    overrides: &mut Vec<(String, String)>,
    key: &str,
    op: i8,
    value: Option<&str>,
) -> Result<(), Failure> {
    let known = TopicConfig::key(key).ok_or_else(|| {
        (
            ResponseError::InvalidConfig,
            format!("unknown configuration key `{key}`"),
        )
    })?;
    let is_list = known.config_type == ConfigType::List;
    match op {
        OP_SET => {
            let value = value.ok_or_else(|| {
                (
                    ResponseError::InvalidRequest,
                    format!("SET of `{key}` without a value"),
                )
            })?;
            set(overrides, key, value.to_string());
        }
        OP_DELETE => overrides.retain(|(k, _)| k != key),
        OP_APPEND | OP_SUBTRACT if !is_list => {
            return Err((
                ResponseError::InvalidConfig,
                format!("`{key}` is not a list: APPEND and SUBTRACT apply to list configs"),
            ))
        }
        OP_APPEND | OP_SUBTRACT => {
            let current = match overrides.iter().find(|(k, _)| k == key) {
                Some((_, v)) => v.clone(),
                None => list_value(broker, topic, key),
            };
            let list = edit_list(&current, value.unwrap_or_default(), op == OP_APPEND);
            set(overrides, key, list);
        }
        other => {
            return Err((
                ResponseError::InvalidRequest,
                format!("unknown config operation {other}"),
            ))
        }
    }
    Ok(())
}

fn finish(
    broker: &Broker,
    name: &str,
    overrides: &[(String, String)],
    validate_only: bool,
) -> Result<(), Failure> {
    broker
        .topics()
        .alter_config(name, overrides, validate_only)
        .map(|_| ())
        .map_err(failure_of)
}

pub(super) fn alter_configs(
    broker: &Arc<Broker>,
    request: AlterConfigsRequest,
) -> AlterConfigsResponse {
    use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
    let responses = request
        .resources
        .iter()
        .map(|resource| {
            let name = resource.resource_name.as_str();
            let outcome = target(broker, resource.resource_type, name).and_then(|target| {
                if let Target::Broker(scope) = target {
                    // AlterConfigs replaces the scope's whole set.
                    let mut values = BTreeMap::new();
                    for config in &resource.configs {
                        let key = config.name.as_str();
                        dynamic_broker_key(key)?;
                        if let Some(value) = &config.value {
                            values.insert(key.to_string(), value.as_str().to_string());
                        }
                    }
                    return finish_broker(broker, scope, values, request.validate_only);
                }
                current_overrides(broker, name)?;
                let mut overrides = Vec::new();
                for config in &resource.configs {
                    let key = config.name.as_str();
                    if TopicConfig::key(key).is_none() {
                        return Err((
                            ResponseError::InvalidConfig,
                            format!("unknown configuration key `{key}`"),
                        ));
                    }
                    // A null value leaves the key at its default, as omitting it does.
                    if let Some(value) = &config.value {
                        set(&mut overrides, key, value.as_str().to_string());
                    }
                }
                finish(broker, name, &overrides, request.validate_only)
            });
            let response = AlterConfigsResourceResponse::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name.clone());
            match outcome {
                Ok(()) => response,
                Err((code, message)) => response
                    .with_error_code(code.code())
                    .with_error_message(Some(str_bytes(&message))),
            }
        })
        .collect();
    AlterConfigsResponse::default().with_responses(responses)
}

pub(super) fn incremental_alter_configs(
    broker: &Arc<Broker>,
    request: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
    let responses = request
        .resources
        .iter()
        .map(|resource| {
            let name = resource.resource_name.as_str();
            let outcome = target(broker, resource.resource_type, name).and_then(|target| {
                let mut seen = std::collections::HashSet::new();
                if let Target::Broker(scope) = target {
                    let mut values = broker.topics().dynamic_defaults().scope(scope).clone();
                    for config in &resource.configs {
                        let key = config.name.as_str();
                        if !seen.insert(key) {
                            return Err((
                                ResponseError::InvalidRequest,
                                format!("duplicate config key `{key}`"),
                            ));
                        }
                        apply_broker(
                            broker,
                            &mut values,
                            key,
                            config.config_operation,
                            config.value.as_ref().map(|v| v.as_str()),
                        )?;
                    }
                    return finish_broker(broker, scope, values, request.validate_only);
                }
                let mut overrides = current_overrides(broker, name)?;
                for config in &resource.configs {
                    let key = config.name.as_str();
                    if !seen.insert(key) {
                        // Kafka: "Error due to duplicate config keys".
                        return Err((
                            ResponseError::InvalidRequest,
                            format!("duplicate config key `{key}`"),
                        ));
                    }
                    apply(
                        broker,
                        name,
                        &mut overrides,
                        key,
                        config.config_operation,
                        config.value.as_ref().map(|v| v.as_str()),
                    )?;
                }
                finish(broker, name, &overrides, request.validate_only)
            });
            let response = AlterConfigsResourceResponse::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name.clone());
            match outcome {
                Ok(()) => response,
                Err((code, message)) => response
                    .with_error_code(code.code())
                    .with_error_message(Some(str_bytes(&message))),
            }
        })
        .collect();
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}
