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

use kafka_protocol::protocol::StrBytes;

use super::str_bytes;
use crate::broker::Broker;
use crate::config::{
    is_stored_dynamic_broker_key, topic_key_for_broker_key, ConfigType, TopicConfig, TopicConfigKey,
};
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

/// Config values by key: a topic's overrides, or a scope's dynamic broker configs.
type Values = BTreeMap<String, String>;

fn failure_of(e: Error) -> Failure {
    match e {
        Error::UnknownTopic { .. } => (ResponseError::UnknownTopicOrPartition, e.to_string()),
        Error::UnknownConfig { .. } | Error::InvalidConfig { .. } => {
            (ResponseError::InvalidConfig, e.to_string())
        }
        other => (ResponseError::UnknownServerError, other.to_string()),
    }
}

/// What an alter request's resource names.
#[derive(Clone, Copy)]
enum Target<'a> {
    Topic(&'a str),
    Broker(DynamicScope),
}

impl<'a> Target<'a> {
    /// The resource's kind: a topic, the cluster-wide broker default (``) or this broker (its
    /// `node.id`); anything else is refused.
    fn of(broker: &Broker, resource_type: i8, name: &'a str) -> Result<Self, Failure> {
        match resource_type {
            RESOURCE_TOPIC => Ok(Target::Topic(name)),
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

    /// The topic key that `key` sets (for a broker, the topic default it sets), `None` for a
    /// broker property Kafka updates dynamically that Rill only stores, or why it cannot be
    /// altered here.
    fn key(self, key: &str) -> Result<Option<&'static TopicConfigKey>, Failure> {
        match self {
            Target::Topic(_) => TopicConfig::key(key).map(Some).ok_or_else(|| {
                (
                    ResponseError::InvalidConfig,
                    format!("unknown configuration key `{key}`"),
                )
            }),
            Target::Broker(_) => match topic_key_for_broker_key(key) {
                Some(known) => Ok(Some(known)),
                None if is_stored_dynamic_broker_key(key) => Ok(None),
                None => Err((
                    ResponseError::InvalidRequest,
                    format!(
                        "cannot update `{key}` dynamically: set it in the broker's config file"
                    ),
                )),
            },
        }
    }

    /// The values set on the resource now.
    fn current(self, broker: &Broker) -> Result<Values, Failure> {
        match self {
            Target::Topic(name) => {
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
            Target::Broker(scope) => Ok(broker.topics().dynamic_defaults().scope(scope).clone()),
        }
    }

    /// The value of topic key `key` in force where no value is set on the resource.
    fn in_force(self, broker: &Broker, key: &TopicConfigKey) -> String {
        let config = match self {
            Target::Topic(name) => broker.topics().get(name).map(|t| (*t.config).clone()),
            Target::Broker(_) => broker.topics().defaults().ok(),
        };
        config
            .and_then(|c| c.get(key.name).map(str::to_string))
            .unwrap_or_else(|| key.default.to_string())
    }

    /// Puts `values` in force on the resource, replacing what it had.
    fn replace(self, broker: &Broker, values: Values, validate_only: bool) -> Result<(), Failure> {
        let outcome = match self {
            Target::Topic(name) => {
                let overrides: Vec<(String, String)> = values.into_iter().collect();
                broker
                    .topics()
                    .alter_config(name, &overrides, validate_only)
                    .map(|_| ())
            }
            Target::Broker(scope) => {
                broker
                    .topics()
                    .alter_dynamic_defaults(scope, values, validate_only)
            }
        };
        outcome.map_err(failure_of)
    }
}

/// Applies one incremental operation on `key` to `values` of `target`.
fn apply(
    broker: &Broker,
    target: Target<'_>,
    values: &mut Values,
    key: &str,
    op: i8,
    value: Option<&str>,
) -> Result<(), Failure> {
    let known = target.key(key)?;
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
        OP_APPEND | OP_SUBTRACT if known.is_none_or(|k| k.config_type != ConfigType::List) => {
            return Err((
                ResponseError::InvalidConfig,
                format!("`{key}` is not a list: APPEND and SUBTRACT apply to list configs"),
            ))
        }
        OP_APPEND | OP_SUBTRACT => {
            let current = match (values.get(key), known) {
                (Some(v), _) => v.clone(),
                (None, Some(known)) => target.in_force(broker, known),
                (None, None) => String::new(),
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

/// The error fields of a resource's response.
fn error_fields(outcome: Result<(), Failure>) -> (i16, Option<StrBytes>) {
    match outcome {
        Ok(()) => (0, None),
        Err((code, message)) => (code.code(), Some(str_bytes(&message))),
    }
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
            let outcome = Target::of(broker, resource.resource_type, name).and_then(|target| {
                target.current(broker)?;
                // AlterConfigs replaces the whole set: keys not named go back to the defaults.
                let mut values = Values::new();
                for config in &resource.configs {
                    let key = config.name.as_str();
                    target.key(key)?;
                    // A null value leaves the key at its default, as omitting it does.
                    if let Some(value) = &config.value {
                        values.insert(key.to_string(), value.as_str().to_string());
                    }
                }
                target.replace(broker, values, request.validate_only)
            });
            let (code, message) = error_fields(outcome);
            AlterConfigsResourceResponse::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name.clone())
                .with_error_code(code)
                .with_error_message(message)
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
            let outcome = Target::of(broker, resource.resource_type, name).and_then(|target| {
                let mut values = target.current(broker)?;
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
                        target,
                        &mut values,
                        key,
                        config.config_operation,
                        config.value.as_ref().map(|v| v.as_str()),
                    )?;
                }
                target.replace(broker, values, request.validate_only)
            });
            let (code, message) = error_fields(outcome);
            AlterConfigsResourceResponse::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name.clone())
                .with_error_code(code)
                .with_error_message(message)
        })
        .collect();
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}
