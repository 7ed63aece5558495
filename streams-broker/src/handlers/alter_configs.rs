//! `AlterConfigs` and `IncrementalAlterConfigs`: changing topic configs (what
//! `kafka-configs.sh --alter` and the admin clients' `alterConfigs`/`incrementalAlterConfigs`
//! do). Every value is validated before anything changes; the result is persisted with the
//! topic and in force in every partition at once (segment size, retention, compaction,
//! message size, timestamps — as Kafka applies topic configs live).
//!
//! `AlterConfigs` replaces the topic's whole set of overrides (keys it does not name go back
//! to the broker default); `IncrementalAlterConfigs` applies operations per key: `SET`,
//! `DELETE` (back to the default), and `APPEND`/`SUBTRACT` on list-valued keys such as
//! `cleanup.policy`. Broker configs are static here: set them in the broker's config file
//! (`rill broker --config server.properties`); altering them is refused with Kafka's error
//! for a config that cannot be updated dynamically.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
};

use super::str_bytes;
use crate::broker::Broker;
use crate::config::{ConfigType, TopicConfig};
use crate::error::Error;

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

/// Refuses what is not a topic: broker configs are static, other resource types unknown.
fn check_resource(resource_type: i8, name: &str) -> Result<(), Failure> {
    match resource_type {
        RESOURCE_TOPIC => Ok(()),
        RESOURCE_BROKER => Err((
            ResponseError::InvalidRequest,
            format!(
                "broker `{name}`: broker configs cannot be updated dynamically on this broker; set them in its config file"
            ),
        )),
        other => Err((
            ResponseError::InvalidRequest,
            format!("resource type {other} is not supported"),
        )),
    }
}

fn set(overrides: &mut Vec<(String, String)>, key: &str, value: String) {
    overrides.retain(|(k, _)| k != key);
    overrides.push((key.to_string(), value));
}

/// The list value of `key` now in force on the topic: its override, else its default.
fn list_value(broker: &Broker, topic: &str, key: &str) -> Vec<String> {
    broker
        .topics()
        .get(topic)
        .and_then(|t| t.config.get(key).map(str::to_string))
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
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
            let items: Vec<String> = value
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            let mut list = list_value(broker, topic, key);
            if let Some((_, v)) = overrides.iter().find(|(k, _)| k == key) {
                list = v.split(',').map(|s| s.trim().to_string()).collect();
            }
            if op == OP_APPEND {
                for item in items {
                    if !list.contains(&item) {
                        list.push(item);
                    }
                }
            } else {
                list.retain(|item| !items.contains(item));
            }
            set(overrides, key, list.join(","));
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
            let outcome = check_resource(resource.resource_type, name).and_then(|()| {
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
            let outcome = check_resource(resource.resource_type, name).and_then(|()| {
                let mut overrides = current_overrides(broker, name)?;
                let mut seen = std::collections::HashSet::new();
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
