//! Application configuration with Kafka Streams' property names, like `StreamsConfig`.
//!
//! Settings are typed fields, and Kafka's property names are accepted as strings too, so that
//! Kafka users can paste what they know: `config.set("application.id", "wordcount")`. Unknown
//! keys are an error that suggests the closest known key, rather than silently ignored.
//!
//! Client properties work as in Kafka Streams: an unprefixed librdkafka property
//! (`security.protocol`, `sasl.*`, `ssl.*`, ...: the names librdkafka documents)
//! reaches every client it is for; the prefixes `consumer.` (all consumers), `main.consumer.`,
//! `restore.consumer.`, `global.consumer.`, `producer.` and `admin.` aim one at some clients
//! and override the unprefixed value. `client.id` prefixes the id of every client.
//! `topic.<name>` sets a configuration of the internal topics the runtime creates. The
//! properties the runtime relies on for correctness (group id, offset handling, isolation
//! level, transactional id) cannot be set.

mod librdkafka;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};

/// Kafka Streams' `processing.guarantee`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProcessingGuarantee {
    /// `at_least_once` (the default): every input record is processed at least once; after a
    /// crash, records since the last commit are processed again.
    #[default]
    AtLeastOnce,
    /// `exactly_once_v2`: outputs, changelog writes and input offsets of a commit interval go
    /// out in one Kafka transaction per stream thread.
    ExactlyOnceV2,
}

impl ProcessingGuarantee {
    /// The property value, as Kafka spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ProcessingGuarantee::AtLeastOnce => "at_least_once",
            ProcessingGuarantee::ExactlyOnceV2 => "exactly_once_v2",
        }
    }
}

impl std::str::FromStr for ProcessingGuarantee {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self> {
        match value {
            "at_least_once" => Ok(ProcessingGuarantee::AtLeastOnce),
            "exactly_once_v2" => Ok(ProcessingGuarantee::ExactlyOnceV2),
            _ => Err(Error::Config {
                key: "processing.guarantee".into(),
                value: value.into(),
                reason: "must be `at_least_once` or `exactly_once_v2`".into(),
            }),
        }
    }
}

/// What happens to a record whose key or value cannot be deserialized, like Kafka's
/// `default.deserialization.exception.handler`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeserializationHandler {
    /// Log the record's coordinates and fail the stream thread (Kafka's default,
    /// `LogAndFailExceptionHandler`).
    #[default]
    LogAndFail,
    /// Log, skip the record and count it in the `skipped records` metric
    /// (`LogAndContinueExceptionHandler`).
    LogAndContinue,
}

impl DeserializationHandler {
    /// Kafka's class name for this handler.
    pub fn class_name(self) -> &'static str {
        match self {
            DeserializationHandler::LogAndFail => {
                "org.apache.kafka.streams.errors.LogAndFailExceptionHandler"
            }
            DeserializationHandler::LogAndContinue => {
                "org.apache.kafka.streams.errors.LogAndContinueExceptionHandler"
            }
        }
    }

    fn parse(value: &str) -> Option<Self> {
        let simple = value.rsplit('.').next().unwrap_or(value);
        match simple {
            "LogAndFailExceptionHandler" | "log_and_fail" => Some(Self::LogAndFail),
            "LogAndContinueExceptionHandler" | "log_and_continue" => Some(Self::LogAndContinue),
            _ => None,
        }
    }
}

/// What happens when a processor fails on a record, like Kafka 4.0's
/// `processing.exception.handler` (KIP-1033).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProcessingHandler {
    /// Log the error and fail the stream thread (Kafka's default,
    /// `LogAndFailProcessingExceptionHandler`).
    #[default]
    LogAndFail,
    /// Log the error, drop the record and count it in the `skipped records` metric
    /// (`LogAndContinueProcessingExceptionHandler`). What the record's processing forwarded
    /// before the error stays forwarded. A punctuator (stream-time or wall-clock) that fails is
    /// skipped and counted the same way, as in Kafka 4.0; the global thread, which runs no
    /// punctuations, does not consult the handler, as Kafka's.
    LogAndContinue,
}

impl ProcessingHandler {
    /// Kafka's class name for this handler.
    pub fn class_name(self) -> &'static str {
        match self {
            ProcessingHandler::LogAndFail => {
                "org.apache.kafka.streams.errors.LogAndFailProcessingExceptionHandler"
            }
            ProcessingHandler::LogAndContinue => {
                "org.apache.kafka.streams.errors.LogAndContinueProcessingExceptionHandler"
            }
        }
    }

    fn parse(value: &str) -> Option<Self> {
        let simple = value.rsplit('.').next().unwrap_or(value);
        match simple {
            "LogAndFailProcessingExceptionHandler" | "log_and_fail" => Some(Self::LogAndFail),
            "LogAndContinueProcessingExceptionHandler" | "log_and_continue" => {
                Some(Self::LogAndContinue)
            }
            _ => None,
        }
    }
}

/// A client the runtime creates, for the properties it receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ClientKind {
    /// A stream thread's group consumer: `main.consumer.*`, then `consumer.*`.
    MainConsumer,
    /// A stream thread's restore consumer (changelogs, standbys): `restore.consumer.*`, then
    /// `consumer.*`.
    RestoreConsumer,
    /// The global thread's consumer (global tables): `global.consumer.*`, then `consumer.*`.
    GlobalConsumer,
    /// A stream thread's producer: `producer.*`.
    Producer,
    /// The admin client that creates internal topics: `admin.*`.
    Admin,
}

impl ClientKind {
    fn is_consumer(self) -> bool {
        matches!(
            self,
            ClientKind::MainConsumer | ClientKind::RestoreConsumer | ClientKind::GlobalConsumer
        )
    }

    /// Whether an unprefixed librdkafka property of `role` reaches this client: consumer
    /// properties go to consumers only, producer properties to producers only (librdkafka
    /// warns about the others), general ones everywhere.
    fn takes(self, role: librdkafka::Role) -> bool {
        match role {
            librdkafka::Role::Any => true,
            librdkafka::Role::Consumer => self.is_consumer(),
            librdkafka::Role::Producer => self == ClientKind::Producer,
        }
    }
}

/// The prefixes that aim a client property at some clients, as Kafka Streams'
/// `StreamsConfig.*_PREFIX`, least specific first: a consumer takes `consumer.*`, then its
/// own prefix over it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Prefix {
    Consumer,
    MainConsumer,
    RestoreConsumer,
    GlobalConsumer,
    Producer,
    Admin,
}

/// Longer prefixes first: `main.consumer.` must not be read as `consumer.`'s.
const PREFIXES: &[(&str, Prefix)] = &[
    ("main.consumer.", Prefix::MainConsumer),
    ("restore.consumer.", Prefix::RestoreConsumer),
    ("global.consumer.", Prefix::GlobalConsumer),
    ("consumer.", Prefix::Consumer),
    ("producer.", Prefix::Producer),
    ("admin.", Prefix::Admin),
];

impl Prefix {
    /// The prefixes that apply to `client`, least specific first.
    fn for_client(client: ClientKind) -> &'static [Prefix] {
        match client {
            ClientKind::MainConsumer => &[Prefix::Consumer, Prefix::MainConsumer],
            ClientKind::RestoreConsumer => &[Prefix::Consumer, Prefix::RestoreConsumer],
            ClientKind::GlobalConsumer => &[Prefix::Consumer, Prefix::GlobalConsumer],
            ClientKind::Producer => &[Prefix::Producer],
            ClientKind::Admin => &[Prefix::Admin],
        }
    }
}

/// Kafka's default `commit.interval.ms` under at-least-once.
pub const DEFAULT_COMMIT_INTERVAL_MS: u64 = 30_000;
/// Kafka's default `commit.interval.ms` under exactly-once.
pub const DEFAULT_EOS_COMMIT_INTERVAL_MS: u64 = 100;
/// Kafka's default `task.timeout.ms`: 5 minutes.
pub const DEFAULT_TASK_TIMEOUT_MS: u64 = 300_000;
/// Kafka's default `state.cleanup.delay.ms`: 10 minutes.
pub const DEFAULT_STATE_CLEANUP_DELAY_MS: u64 = 600_000;
/// Kafka's default `log.summary.interval.ms`: 2 minutes.
pub const DEFAULT_LOG_SUMMARY_INTERVAL_MS: u64 = 120_000;

/// Client properties the runtime sets itself; overriding them would break its guarantees.
/// `client.id` is accepted unprefixed only: it prefixes the id of every client.
/// `group.instance.id` is accepted for the main consumer only (see
/// [`StreamsConfig::group_instance_id`]): the runtime derives each thread's from it.
const RESERVED_CLIENT_PROPERTIES: &[&str] = &[
    "group.id",
    "group.instance.id",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "isolation.level",
    "transactional.id",
    "bootstrap.servers",
    "metadata.broker.list",
    "partition.assignment.strategy",
    // Keys are partitioned as Kafka's default partitioner does (murmur2), so that repartition
    // topics agree with Java applications and producers.
    "partitioner",
    "client.id",
];

/// The topic-level configurations Kafka documents (`TopicConfig`), which `topic.<name>` sets
/// on the internal topics the runtime creates.
const TOPIC_CONFIGS: &[&str] = &[
    "cleanup.policy",
    "compression.gzip.level",
    "compression.lz4.level",
    "compression.type",
    "compression.zstd.level",
    "delete.retention.ms",
    "file.delete.delay.ms",
    "flush.messages",
    "flush.ms",
    "follower.replication.throttled.replicas",
    "index.interval.bytes",
    "leader.replication.throttled.replicas",
    "local.retention.bytes",
    "local.retention.ms",
    "max.compaction.lag.ms",
    "max.message.bytes",
    "message.timestamp.after.max.ms",
    "message.timestamp.before.max.ms",
    "message.timestamp.type",
    "min.cleanable.dirty.ratio",
    "min.compaction.lag.ms",
    "min.insync.replicas",
    "preallocate",
    "remote.log.copy.disable",
    "remote.log.delete.on.disable",
    "remote.storage.enable",
    "retention.bytes",
    "retention.ms",
    "segment.bytes",
    "segment.index.bytes",
    "segment.jitter.ms",
    "segment.ms",
    "unclean.leader.election.enable",
];

/// Every streams property [`StreamsConfig::set`] knows (besides `rocksdb.*` and the client
/// and topic properties), for suggesting the closest one to a mistyped key.
const STREAMS_PROPERTIES: &[&str] = &[
    "application.id",
    "bootstrap.servers",
    "cache.max.bytes.buffering",
    "client.id",
    "commit.interval.ms",
    "default.deserialization.exception.handler",
    "deserialization.exception.handler",
    "log.summary.interval.ms",
    "max.task.idle.ms",
    "num.stream.threads",
    "processing.exception.handler",
    "processing.guarantee",
    "replication.factor",
    "state.cleanup.delay.ms",
    "state.dir",
    "statestore.cache.max.bytes",
    "task.timeout.ms",
    "topology.optimization",
];

/// The known key closest to `key` (by Levenshtein distance, close enough to be a typo), to
/// suggest with an "unknown key" error.
fn closest_key(key: &str) -> Option<String> {
    let prefixed = PREFIXES
        .iter()
        .map(|(p, _)| *p)
        .chain(["topic."])
        .find(|p| key.starts_with(p));
    let (prefix, name) = match prefixed {
        Some(p) => (p, &key[p.len()..]),
        None => ("", key),
    };
    let candidates: Vec<&str> = match prefix {
        "" => STREAMS_PROPERTIES
            .iter()
            .copied()
            .chain(librdkafka::PROPERTIES.iter().map(|(n, _)| *n))
            .collect(),
        "topic." => TOPIC_CONFIGS.to_vec(),
        _ => librdkafka::PROPERTIES.iter().map(|(n, _)| *n).collect(),
    };
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(name, c), c))
        // More than a third of the name changed is another word, not a typo.
        .filter(|(distance, _)| *distance > 0 && *distance <= name.len().max(3) / 3 + 1)
        .min()
        .map(|(_, c)| format!("{prefix}{c}"))
}

/// Configuration of a streams application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamsConfig {
    application_id: String,
    statestore_cache_max_bytes: usize,
    bootstrap_servers: Option<String>,
    client_id: Option<String>,
    group_instance_id: Option<String>,
    num_stream_threads: usize,
    processing_guarantee: ProcessingGuarantee,
    commit_interval_ms: Option<u64>,
    state_dir: PathBuf,
    max_task_idle_ms: i64,
    deserialization_handler: DeserializationHandler,
    processing_handler: ProcessingHandler,
    replication_factor: i16,
    task_timeout_ms: u64,
    state_cleanup_delay_ms: u64,
    log_summary_interval_ms: u64,
    /// Unprefixed librdkafka properties: every client they are for.
    client_properties: BTreeMap<String, String>,
    /// Prefixed librdkafka properties, by prefix.
    client_overrides: BTreeMap<(Prefix, String), String>,
    /// `topic.*`: configurations of the internal topics.
    topic_configs: BTreeMap<String, String>,
    rocksdb: streams_state::RocksDbConfig,
    topology_optimization: String,
}

impl StreamsConfig {
    /// A configuration for application `application_id` (`application.id`), which names the
    /// consumer group and prefixes every internal topic.
    pub fn new(application_id: impl Into<String>) -> Result<Self> {
        let mut config = StreamsConfig {
            application_id: String::new(),
            statestore_cache_max_bytes: streams_state::DEFAULT_CACHE_MAX_BYTES,
            bootstrap_servers: None,
            client_id: None,
            group_instance_id: None,
            num_stream_threads: 1,
            processing_guarantee: ProcessingGuarantee::AtLeastOnce,
            commit_interval_ms: None,
            state_dir: std::env::temp_dir().join("kafka-streams"),
            max_task_idle_ms: 0,
            deserialization_handler: DeserializationHandler::LogAndFail,
            processing_handler: ProcessingHandler::LogAndFail,
            replication_factor: -1,
            task_timeout_ms: DEFAULT_TASK_TIMEOUT_MS,
            state_cleanup_delay_ms: DEFAULT_STATE_CLEANUP_DELAY_MS,
            log_summary_interval_ms: DEFAULT_LOG_SUMMARY_INTERVAL_MS,
            client_properties: BTreeMap::new(),
            client_overrides: BTreeMap::new(),
            topic_configs: BTreeMap::new(),
            rocksdb: streams_state::RocksDbConfig::default(),
            topology_optimization: "none".to_string(),
        };
        config.set("application.id", &application_id.into())?;
        Ok(config)
    }

    /// Sets a property by its Kafka name: a streams property, `rocksdb.*`, a librdkafka client
    /// property (unprefixed for every client it is for, or with a client prefix) or `topic.*`.
    /// An unknown key is an error that suggests the closest known key.
    pub fn set(&mut self, key: &str, value: &str) -> Result<&mut Self> {
        let invalid = |reason: &str| Error::Config {
            key: key.to_string(),
            value: value.to_string(),
            reason: reason.to_string(),
        };
        let millis = |value: &str| {
            value
                .parse::<u64>()
                .map_err(|_| invalid("must be a non-negative number of milliseconds"))
        };
        match key {
            "application.id" => {
                if value.is_empty()
                    || !value
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
                {
                    return Err(invalid(
                        "must be non-empty ASCII letters, digits, '.', '_' or '-' (it prefixes topic names)",
                    ));
                }
                self.application_id = value.to_string();
            }
            // `cache.max.bytes.buffering` is the name Kafka used before 3.4; both set one value.
            "statestore.cache.max.bytes" | "cache.max.bytes.buffering" => {
                self.statestore_cache_max_bytes = value
                    .parse()
                    .map_err(|_| invalid("must be a number of bytes (0 disables caching)"))?;
            }
            "bootstrap.servers" => {
                if value.trim().is_empty() {
                    return Err(invalid("must list at least one host:port"));
                }
                self.bootstrap_servers = Some(value.to_string());
            }
            "client.id" => {
                if value.is_empty() {
                    return Err(invalid("must not be empty"));
                }
                self.client_id = Some(value.to_string());
            }
            // Static membership (KIP-345) is the main consumer's alone: each stream thread's
            // consumer joins as `<group.instance.id>-<thread index>`, as in Kafka Streams.
            "group.instance.id"
            | "consumer.group.instance.id"
            | "main.consumer.group.instance.id" => {
                if value.is_empty() {
                    return Err(invalid(
                        "must not be empty (leave it unset for dynamic membership)",
                    ));
                }
                self.group_instance_id = Some(value.to_string());
            }
            "num.stream.threads" => match value.parse::<usize>() {
                Ok(n) if n >= 1 => self.num_stream_threads = n,
                _ => return Err(invalid("must be an integer >= 1")),
            },
            "processing.guarantee" => {
                self.processing_guarantee = value.parse().map_err(|_| {
                    invalid("must be `at_least_once` or `exactly_once_v2` (`exactly_once` and `exactly_once_beta` are gone from Kafka too)")
                })?;
            }
            "commit.interval.ms" => self.commit_interval_ms = Some(millis(value)?),
            "state.dir" => {
                if value.is_empty() {
                    return Err(invalid("must be a directory path"));
                }
                self.state_dir = PathBuf::from(value);
            }
            "max.task.idle.ms" => match value.parse::<i64>() {
                Ok(ms) if ms >= -1 => self.max_task_idle_ms = ms,
                _ => return Err(invalid("must be an integer >= -1")),
            },
            // Kafka 4.0 renamed the handler; the old name still works there, and here.
            "deserialization.exception.handler" | "default.deserialization.exception.handler" => {
                self.deserialization_handler =
                    DeserializationHandler::parse(value).ok_or_else(|| {
                        invalid(
                            "must be LogAndFailExceptionHandler or LogAndContinueExceptionHandler",
                        )
                    })?;
            }
            "topology.optimization" => {
                crate::dsl::Optimizations::parse(value)?;
                self.topology_optimization = value.to_string();
            }
            "processing.exception.handler" => {
                self.processing_handler = ProcessingHandler::parse(value).ok_or_else(|| {
                    invalid("must be LogAndFailProcessingExceptionHandler or LogAndContinueProcessingExceptionHandler")
                })?;
            }
            "replication.factor" => match value.parse::<i16>() {
                Ok(n) if n == -1 || n >= 1 => self.replication_factor = n,
                _ => {
                    return Err(invalid(
                        "must be -1 (the broker's default.replication.factor) or >= 1",
                    ))
                }
            },
            "task.timeout.ms" => self.task_timeout_ms = millis(value)?,
            "state.cleanup.delay.ms" => self.state_cleanup_delay_ms = millis(value)?,
            "log.summary.interval.ms" => self.log_summary_interval_ms = millis(value)?,
            // Kafka configures RocksDB with a `rocksdb.config.setter` class; Rill takes the
            // settings themselves (memory bound, write buffers, write-ahead log, ...).
            _ if key.starts_with("rocksdb.") => {
                self.rocksdb.set(key, value).map_err(|e| match e {
                    streams_state::Error::Config { message, .. } => invalid(&message),
                    other => invalid(&other.to_string()),
                })?;
            }
            _ => self.set_client_or_topic(key, value)?,
        }
        Ok(self)
    }

    /// The rest of [`set`](Self::set): client properties, prefixed or not, and `topic.*`.
    fn set_client_or_topic(&mut self, key: &str, value: &str) -> Result<()> {
        let invalid = |reason: String| Error::Config {
            key: key.to_string(),
            value: value.to_string(),
            reason,
        };
        let unknown = |what: &str| {
            let mut reason = format!("unknown {what}");
            if let Some(closest) = closest_key(key) {
                reason.push_str(&format!("; did you mean `{closest}`?"));
            }
            invalid(reason)
        };
        let reserved = || {
            invalid(
                "the runtime sets this client property itself (client.id only unprefixed, as the prefix of every client's id); use the streams property instead".into(),
            )
        };
        // An unprefixed librdkafka name is a client property; librdkafka's own `topic.*`
        // names (`topic.metadata.refresh.interval.ms`) win over the `topic.` prefix.
        if librdkafka::role(key).is_some() {
            if RESERVED_CLIENT_PROPERTIES.contains(&key) {
                return Err(reserved());
            }
            self.client_properties
                .insert(key.to_string(), value.to_string());
            return Ok(());
        }
        if let Some(name) = key.strip_prefix("topic.") {
            if !TOPIC_CONFIGS.contains(&name) {
                return Err(unknown("topic configuration"));
            }
            self.topic_configs
                .insert(name.to_string(), value.to_string());
            return Ok(());
        }
        let Some((prefix, name)) = PREFIXES
            .iter()
            .find_map(|(p, prefix)| key.strip_prefix(p).map(|name| (*prefix, name)))
        else {
            return Err(unknown("configuration key"));
        };
        if librdkafka::role(name).is_none() {
            return Err(unknown(
                "client property (librdkafka has none of this name)",
            ));
        }
        if RESERVED_CLIENT_PROPERTIES.contains(&name) {
            return Err(reserved());
        }
        self.client_overrides
            .insert((prefix, name.to_string()), value.to_string());
        Ok(())
    }

    /// A property's current value by its Kafka name.
    pub fn get(&self, key: &str) -> Option<String> {
        match key {
            "application.id" => Some(self.application_id.clone()),
            "statestore.cache.max.bytes" | "cache.max.bytes.buffering" => {
                Some(self.statestore_cache_max_bytes.to_string())
            }
            "bootstrap.servers" => self.bootstrap_servers.clone(),
            "client.id" => self.client_id.clone(),
            "group.instance.id"
            | "consumer.group.instance.id"
            | "main.consumer.group.instance.id" => self.group_instance_id.clone(),
            "num.stream.threads" => Some(self.num_stream_threads.to_string()),
            "processing.guarantee" => Some(self.processing_guarantee.as_str().to_string()),
            "commit.interval.ms" => Some(self.commit_interval().as_millis().to_string()),
            "state.dir" => Some(self.state_dir.display().to_string()),
            "max.task.idle.ms" => Some(self.max_task_idle_ms.to_string()),
            "topology.optimization" => Some(self.topology_optimization.clone()),
            "deserialization.exception.handler" | "default.deserialization.exception.handler" => {
                Some(self.deserialization_handler.class_name().to_string())
            }
            "processing.exception.handler" => {
                Some(self.processing_handler.class_name().to_string())
            }
            "replication.factor" => Some(self.replication_factor.to_string()),
            "task.timeout.ms" => Some(self.task_timeout_ms.to_string()),
            "state.cleanup.delay.ms" => Some(self.state_cleanup_delay_ms.to_string()),
            "log.summary.interval.ms" => Some(self.log_summary_interval_ms.to_string()),
            _ if key.starts_with("rocksdb.") => self.rocksdb.get(key),
            _ if librdkafka::role(key).is_some() => self.client_properties.get(key).cloned(),
            _ => {
                if let Some(name) = key.strip_prefix("topic.") {
                    return self.topic_configs.get(name).cloned();
                }
                PREFIXES.iter().find_map(|(p, prefix)| {
                    let name = key.strip_prefix(p)?;
                    self.client_overrides
                        .get(&(*prefix, name.to_string()))
                        .cloned()
                })
            }
        }
    }

    /// The optimizations `StreamsBuilder::build_with` applies (`topology.optimization`:
    /// `none`, the default, `all`, or a comma-separated list — as Kafka's
    /// `StreamsBuilder#build(Properties)` reads it).
    pub fn topology_optimization(&self) -> &str {
        &self.topology_optimization
    }

    /// The application id.
    pub fn application_id(&self) -> &str {
        &self.application_id
    }

    /// Bytes of record cache for the whole application (`statestore.cache.max.bytes`, formerly
    /// `cache.max.bytes.buffering`; default 10 MiB), divided evenly among the cached stores of
    /// its tasks. 0 disables the record caches: every update is forwarded and logged.
    pub fn statestore_cache_max_bytes(&self) -> usize {
        self.statestore_cache_max_bytes
    }

    /// The RocksDB settings every RocksDB store of the application shares (`rocksdb.*`: the
    /// memory bound of block cache and memtables, default 128 MiB, and the rest of
    /// [`RocksDbConfig`](streams_state::RocksDbConfig)'s properties).
    pub fn rocksdb_config(&self) -> &streams_state::RocksDbConfig {
        &self.rocksdb
    }

    /// `bootstrap.servers`, if set.
    pub fn bootstrap_servers(&self) -> Option<&str> {
        self.bootstrap_servers.as_deref()
    }

    /// `client.id`, if set: the prefix of every client's id (as in Kafka Streams, where it
    /// defaults to `<application.id>-<process id>`).
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// `group.instance.id` (also accepted as `consumer.` or `main.consumer.group.instance.id`),
    /// if set: the stream threads' consumers are static group members (KIP-345), each with
    /// the id `<group.instance.id>-<thread index>`, as Kafka Streams names them. A static
    /// member that closes without leaving the group keeps its partitions until
    /// `session.timeout.ms` passes, and gets them back without a rebalance if it returns
    /// before then. Unset (the default): dynamic membership.
    pub fn group_instance_id(&self) -> Option<&str> {
        self.group_instance_id.as_deref()
    }

    /// `num.stream.threads` (default 1).
    pub fn num_stream_threads(&self) -> usize {
        self.num_stream_threads
    }

    /// `processing.guarantee` (default `at_least_once`).
    pub fn processing_guarantee(&self) -> ProcessingGuarantee {
        self.processing_guarantee
    }

    /// `commit.interval.ms`: as set, or Kafka's default for the guarantee (30 s, or 100 ms
    /// under exactly-once).
    pub fn commit_interval(&self) -> Duration {
        Duration::from_millis(
            self.commit_interval_ms
                .unwrap_or(match self.processing_guarantee {
                    ProcessingGuarantee::AtLeastOnce => DEFAULT_COMMIT_INTERVAL_MS,
                    ProcessingGuarantee::ExactlyOnceV2 => DEFAULT_EOS_COMMIT_INTERVAL_MS,
                }),
        )
    }

    /// `state.dir` (default `<temp dir>/kafka-streams`, as Kafka's).
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// `max.task.idle.ms` (default 0); see the runtime's task manager for how it is used.
    pub fn max_task_idle_ms(&self) -> i64 {
        self.max_task_idle_ms
    }

    /// `deserialization.exception.handler` (formerly
    /// `default.deserialization.exception.handler`; default log-and-fail).
    pub fn deserialization_handler(&self) -> DeserializationHandler {
        self.deserialization_handler
    }

    /// `processing.exception.handler` (default log-and-fail).
    pub fn processing_handler(&self) -> ProcessingHandler {
        self.processing_handler
    }

    /// `replication.factor` of the internal topics the runtime creates (default -1: the
    /// broker's `default.replication.factor`).
    pub fn replication_factor(&self) -> i16 {
        self.replication_factor
    }

    /// `task.timeout.ms` (default 5 minutes): how long the runtime waits on the cluster before
    /// it gives up with an error. The runtime applies it where it waits: at `start()`, for the
    /// cluster to answer at all (retrying, with a warning naming `bootstrap.servers`) and for
    /// internal topics to be created; in a stream thread, for the producer to flush at a
    /// commit, for transactions to initialize, commit or abort, and for a changelog's end
    /// offset before restoring; in the global thread, for the global topics' end offsets.
    pub fn task_timeout(&self) -> Duration {
        Duration::from_millis(self.task_timeout_ms)
    }

    /// `state.cleanup.delay.ms` (default 10 minutes): how long the state directory of a task
    /// this instance no longer owns is kept before the runtime deletes it.
    pub fn state_cleanup_delay(&self) -> Duration {
        Duration::from_millis(self.state_cleanup_delay_ms)
    }

    /// `log.summary.interval.ms` (default 2 minutes): how often each stream thread logs what it
    /// did since its last summary.
    pub fn log_summary_interval(&self) -> Duration {
        Duration::from_millis(self.log_summary_interval_ms)
    }

    /// The librdkafka properties `client` receives from the configuration: the unprefixed
    /// client properties it is for, then `consumer.*` (for a consumer), then the client's own
    /// prefix, later ones overriding earlier ones. Without `client.id` and the properties the
    /// runtime sets itself.
    pub fn client_properties(&self, client: ClientKind) -> BTreeMap<String, String> {
        let mut properties: BTreeMap<String, String> = self
            .client_properties
            .iter()
            .filter(|(name, _)| librdkafka::role(name).is_some_and(|role| client.takes(role)))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        for prefix in Prefix::for_client(client) {
            for ((_, name), value) in self
                .client_overrides
                .iter()
                .filter(|((p, _), _)| p == prefix)
            {
                properties.insert(name.clone(), value.clone());
            }
        }
        properties
    }

    /// `topic.*`: the configurations set on every internal topic the runtime creates, under
    /// the ones the runtime itself needs (a changelog's `cleanup.policy`).
    pub fn topic_configs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.topic_configs
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_names_are_accepted_and_unknown_keys_rejected() {
        let mut config = StreamsConfig::new("app").unwrap();
        config.set("application.id", "wordcount-v2").unwrap();
        assert_eq!(
            config.get("application.id").as_deref(),
            Some("wordcount-v2")
        );
        let err = config.set("no.such.key", "1").unwrap_err();
        assert!(err.to_string().contains("no.such.key"), "{err}");
        assert!(StreamsConfig::new("bad id").is_err());
    }

    #[test]
    fn cache_size_has_kafkas_default_and_both_names() {
        let mut config = StreamsConfig::new("app").unwrap();
        assert_eq!(config.statestore_cache_max_bytes(), 10 * 1024 * 1024);
        config.set("statestore.cache.max.bytes", "1024").unwrap();
        assert_eq!(config.statestore_cache_max_bytes(), 1024);
        config.set("cache.max.bytes.buffering", "0").unwrap();
        assert_eq!(
            config.get("statestore.cache.max.bytes").as_deref(),
            Some("0")
        );
        let err = config.set("statestore.cache.max.bytes", "-1").unwrap_err();
        assert!(
            err.to_string().contains("statestore.cache.max.bytes"),
            "{err}"
        );
    }

    #[test]
    fn rocksdb_settings_are_streams_properties() {
        let mut config = StreamsConfig::new("app").unwrap();
        assert_eq!(
            config.get("rocksdb.total.memory.bytes").as_deref(),
            Some("134217728")
        );
        config
            .set("rocksdb.total.memory.bytes", "67108864")
            .unwrap()
            .set("rocksdb.write.batch.bytes", "0")
            .unwrap()
            .set("rocksdb.compression", "none")
            .unwrap();
        let rocksdb = config.rocksdb_config();
        assert_eq!(rocksdb.total_memory_bytes, 64 << 20);
        assert_eq!(rocksdb.memtable_memory_bytes, 16 << 20);
        assert_eq!(rocksdb.write_batch_bytes, 0);
        assert_eq!(config.get("rocksdb.compression").as_deref(), Some("none"));
        // Refused values name their key and change nothing.
        for (key, value) in [
            ("rocksdb.no.such.setting", "1"),
            ("rocksdb.block.size", "big"),
            ("rocksdb.write.buffer.manager.bytes", "1073741824"),
        ] {
            let err = config.set(key, value).unwrap_err();
            assert!(err.to_string().contains(key), "{err}");
        }
        assert_eq!(config.rocksdb_config().memtable_memory_bytes, 16 << 20);
        assert_eq!(config.get("rocksdb.no.such.setting"), None);
    }

    #[test]
    fn runtime_properties_have_kafkas_defaults() {
        let mut config = StreamsConfig::new("app").unwrap();
        assert_eq!(config.num_stream_threads(), 1);
        assert_eq!(config.commit_interval(), Duration::from_secs(30));
        assert_eq!(config.max_task_idle_ms(), 0);
        assert_eq!(
            config.deserialization_handler(),
            DeserializationHandler::LogAndFail
        );
        assert_eq!(config.bootstrap_servers(), None);
        config
            .set("processing.guarantee", "exactly_once_v2")
            .unwrap();
        assert_eq!(config.commit_interval(), Duration::from_millis(100));
        config.set("commit.interval.ms", "250").unwrap();
        assert_eq!(config.get("commit.interval.ms").as_deref(), Some("250"));
        config
            .set("bootstrap.servers", "127.0.0.1:9092")
            .unwrap()
            .set("num.stream.threads", "3")
            .unwrap()
            .set("state.dir", "/tmp/rill-state")
            .unwrap()
            .set("max.task.idle.ms", "-1")
            .unwrap();
        assert_eq!(config.num_stream_threads(), 3);
        assert_eq!(config.state_dir(), Path::new("/tmp/rill-state"));
        for (key, value) in [
            ("num.stream.threads", "0"),
            ("processing.guarantee", "exactly_once"),
            ("commit.interval.ms", "-5"),
            ("max.task.idle.ms", "-2"),
            ("default.deserialization.exception.handler", "Ignore"),
        ] {
            let err = config.set(key, value).unwrap_err();
            assert!(err.to_string().contains(key), "{err}");
        }
    }

    #[test]
    fn deserialization_handlers_by_kafka_class_name() {
        let mut config = StreamsConfig::new("app").unwrap();
        config
            .set(
                "default.deserialization.exception.handler",
                "org.apache.kafka.streams.errors.LogAndContinueExceptionHandler",
            )
            .unwrap();
        assert_eq!(
            config.deserialization_handler(),
            DeserializationHandler::LogAndContinue
        );
        config
            .set(
                "default.deserialization.exception.handler",
                "LogAndFailExceptionHandler",
            )
            .unwrap();
        assert_eq!(
            config.deserialization_handler(),
            DeserializationHandler::LogAndFail
        );
    }

    #[test]
    fn client_properties_pass_through_by_prefix() {
        let mut config = StreamsConfig::new("app").unwrap();
        config.set("consumer.fetch.wait.max.ms", "10").unwrap();
        config.set("producer.linger.ms", "5").unwrap();
        config.set("admin.socket.timeout.ms", "3000").unwrap();
        assert_eq!(
            config.client_properties(ClientKind::MainConsumer),
            BTreeMap::from([("fetch.wait.max.ms".to_string(), "10".to_string())])
        );
        assert_eq!(config.get("producer.linger.ms").as_deref(), Some("5"));
        assert!(config.set("consumer.group.id", "other").is_err());
        assert!(config.set("producer.transactional.id", "x").is_err());
        assert!(config.set("consumer.", "x").is_err());
        assert!(config.set("producer.client.id", "x").is_err());
    }

    fn properties(config: &StreamsConfig, client: ClientKind) -> Vec<(String, String)> {
        config.client_properties(client).into_iter().collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn unprefixed_client_properties_reach_every_client_they_are_for() {
        let mut config = StreamsConfig::new("app").unwrap();
        config
            .set("security.protocol", "SASL_SSL")
            .unwrap()
            .set("sasl.mechanisms", "PLAIN")
            .unwrap()
            .set("fetch.wait.max.ms", "50")
            .unwrap()
            .set("linger.ms", "20")
            .unwrap();
        let common = [
            ("sasl.mechanisms", "PLAIN"),
            ("security.protocol", "SASL_SSL"),
        ];
        for consumer in [
            ClientKind::MainConsumer,
            ClientKind::RestoreConsumer,
            ClientKind::GlobalConsumer,
        ] {
            let mut expected = pairs(&common);
            expected.insert(0, ("fetch.wait.max.ms".into(), "50".into()));
            assert_eq!(properties(&config, consumer), expected, "{consumer:?}");
        }
        let mut producer = pairs(&common);
        producer.insert(0, ("linger.ms".into(), "20".into()));
        assert_eq!(properties(&config, ClientKind::Producer), producer);
        assert_eq!(properties(&config, ClientKind::Admin), pairs(&common));
        assert_eq!(config.get("security.protocol").as_deref(), Some("SASL_SSL"));
    }

    #[test]
    fn prefixes_override_unprefixed_properties_most_specific_last() {
        let mut config = StreamsConfig::new("app").unwrap();
        config
            .set("socket.timeout.ms", "1000")
            .unwrap()
            .set("consumer.socket.timeout.ms", "2000")
            .unwrap()
            .set("main.consumer.socket.timeout.ms", "3000")
            .unwrap()
            .set("restore.consumer.socket.timeout.ms", "4000")
            .unwrap()
            .set("admin.socket.timeout.ms", "5000")
            .unwrap();
        let timeout = |client| config.client_properties(client)["socket.timeout.ms"].clone();
        assert_eq!(timeout(ClientKind::MainConsumer), "3000");
        assert_eq!(timeout(ClientKind::RestoreConsumer), "4000");
        assert_eq!(timeout(ClientKind::GlobalConsumer), "2000");
        assert_eq!(timeout(ClientKind::Producer), "1000");
        assert_eq!(timeout(ClientKind::Admin), "5000");
        assert_eq!(
            config.get("main.consumer.socket.timeout.ms").as_deref(),
            Some("3000")
        );
    }

    #[test]
    fn reserved_client_properties_stay_rejected_with_or_without_prefix() {
        let mut config = StreamsConfig::new("app").unwrap();
        for key in [
            "group.id",
            "transactional.id",
            "enable.auto.commit",
            "isolation.level",
            "main.consumer.group.id",
            "global.consumer.isolation.level",
            "producer.partitioner",
            "admin.client.id",
        ] {
            let err = config.set(key, "x").unwrap_err();
            assert!(err.to_string().contains("the runtime sets"), "{key}: {err}");
        }
        config.set("client.id", "billing").unwrap();
        assert_eq!(config.client_id(), Some("billing"));
        assert!(!config
            .client_properties(ClientKind::Producer)
            .contains_key("client.id"));
    }

    #[test]
    fn group_instance_id_is_the_main_consumers_only() {
        let mut config = StreamsConfig::new("app").unwrap();
        assert_eq!(config.group_instance_id(), None);
        config.set("group.instance.id", "member-A").unwrap();
        assert_eq!(config.group_instance_id(), Some("member-A"));
        config
            .set("main.consumer.group.instance.id", "member-B")
            .unwrap();
        assert_eq!(config.get("group.instance.id").as_deref(), Some("member-B"));
        // The runtime suffixes it per thread: no client receives it as it is.
        for kind in [ClientKind::MainConsumer, ClientKind::RestoreConsumer] {
            assert!(!config
                .client_properties(kind)
                .contains_key("group.instance.id"));
        }
        for key in [
            "restore.consumer.group.instance.id",
            "global.consumer.group.instance.id",
        ] {
            let err = config.set(key, "x").unwrap_err();
            assert!(err.to_string().contains("the runtime sets"), "{key}: {err}");
        }
        assert!(config.set("group.instance.id", "").is_err());
    }

    #[test]
    fn topic_prefix_sets_internal_topic_configs() {
        let mut config = StreamsConfig::new("app").unwrap();
        config
            .set("topic.min.insync.replicas", "2")
            .unwrap()
            .set("topic.segment.bytes", "1048576")
            .unwrap();
        assert_eq!(
            config.topic_configs().collect::<Vec<_>>(),
            [("min.insync.replicas", "2"), ("segment.bytes", "1048576")]
        );
        assert_eq!(
            config.get("topic.min.insync.replicas").as_deref(),
            Some("2")
        );
        // librdkafka's own `topic.*` names are client properties, not topic configs.
        config
            .set("topic.metadata.refresh.interval.ms", "5000")
            .unwrap();
        assert_eq!(config.topic_configs().count(), 2);
        assert_eq!(
            config.client_properties(ClientKind::Admin)["topic.metadata.refresh.interval.ms"],
            "5000"
        );
        let err = config.set("topic.retention.mss", "1").unwrap_err();
        assert!(
            err.to_string()
                .contains("did you mean `topic.retention.ms`"),
            "{err}"
        );
    }

    #[test]
    fn unknown_keys_suggest_the_closest_known_key() {
        let mut config = StreamsConfig::new("app").unwrap();
        for (key, closest) in [
            ("commit.interval.msec", "commit.interval.ms"),
            ("num.stream.thread", "num.stream.threads"),
            ("security.protocoll", "security.protocol"),
            ("consumer.fetch.wait.max.sm", "consumer.fetch.wait.max.ms"),
            (
                "main.consumer.session.timeout",
                "main.consumer.session.timeout.ms",
            ),
        ] {
            let err = config.set(key, "1").unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
            assert!(err.contains(&format!("did you mean `{closest}`?")), "{err}");
        }
        let err = config.set("completely.unrelated", "1").unwrap_err();
        assert!(!err.to_string().contains("did you mean"), "{err}");
    }

    #[test]
    fn kafka_4_properties_have_kafkas_defaults() {
        let mut config = StreamsConfig::new("app").unwrap();
        assert_eq!(config.replication_factor(), -1);
        assert_eq!(config.topology_optimization(), "none");
        assert_eq!(config.processing_handler(), ProcessingHandler::LogAndFail);
        assert_eq!(config.task_timeout(), Duration::from_secs(300));
        assert_eq!(config.state_cleanup_delay(), Duration::from_secs(600));
        assert_eq!(config.log_summary_interval(), Duration::from_secs(120));
        config
            .set("replication.factor", "3")
            .unwrap()
            .set("topology.optimization", "all")
            .unwrap()
            .set(
                "processing.exception.handler",
                "org.apache.kafka.streams.errors.LogAndContinueProcessingExceptionHandler",
            )
            .unwrap()
            .set(
                "deserialization.exception.handler",
                "LogAndContinueExceptionHandler",
            )
            .unwrap()
            .set("task.timeout.ms", "1000")
            .unwrap()
            .set("state.cleanup.delay.ms", "0")
            .unwrap()
            .set("log.summary.interval.ms", "60000")
            .unwrap();
        assert_eq!(config.replication_factor(), 3);
        assert_eq!(config.topology_optimization(), "all");
        assert_eq!(
            config.processing_handler(),
            ProcessingHandler::LogAndContinue
        );
        assert_eq!(
            config
                .get("default.deserialization.exception.handler")
                .as_deref(),
            Some("org.apache.kafka.streams.errors.LogAndContinueExceptionHandler")
        );
        assert_eq!(config.task_timeout(), Duration::from_secs(1));
        assert_eq!(config.state_cleanup_delay(), Duration::ZERO);
        assert_eq!(
            config.get("log.summary.interval.ms").as_deref(),
            Some("60000")
        );
        for (key, value) in [
            ("replication.factor", "0"),
            ("topology.optimization", "some"),
            (
                "processing.exception.handler",
                "LogAndContinueExceptionHandler",
            ),
            ("task.timeout.ms", "-1"),
        ] {
            let err = config.set(key, value).unwrap_err();
            assert!(err.to_string().contains(key), "{err}");
        }
    }

    #[test]
    fn topology_optimization_is_checked_when_set() {
        let mut config = StreamsConfig::new("app").unwrap();
        assert_eq!(config.topology_optimization(), "none");
        config
            .set(
                "topology.optimization",
                "reuse.ktable.source.topics, merge.repartition.topics",
            )
            .unwrap();
        assert_eq!(
            config.get("topology.optimization").as_deref(),
            Some("reuse.ktable.source.topics, merge.repartition.topics")
        );
        let err = config
            .set("topology.optimization", "single.store.self.join")
            .unwrap_err();
        assert!(err.to_string().contains("topology.optimization"), "{err}");
    }
}
