//! Application configuration with Kafka Streams' property names, like `StreamsConfig`.
//!
//! Settings are typed fields, and Kafka's property names are accepted as strings too, so that
//! Kafka users can paste what they know: `config.set("application.id", "wordcount")`. Unknown
//! keys are an error rather than silently ignored. Properties join this struct as the parts of
//! Rill that honour them arrive.
//!
//! Client settings pass through with Kafka Streams' prefixes: `consumer.<name>`,
//! `producer.<name>` and `admin.<name>` set librdkafka property `<name>` on the runtime's
//! consumers, producers and admin client (for example `consumer.fetch.wait.max.ms`). The
//! properties the runtime relies on for correctness (group id, offset handling, isolation
//! level, transactional id) cannot be overridden.

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

/// Which client a pass-through property is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ClientKind {
    /// The stream threads' (and restore) consumers: `consumer.*`.
    Consumer,
    /// The stream threads' producers: `producer.*`.
    Producer,
    /// The admin client that creates internal topics: `admin.*`.
    Admin,
}

/// Kafka's default `commit.interval.ms` under at-least-once.
pub const DEFAULT_COMMIT_INTERVAL_MS: u64 = 30_000;
/// Kafka's default `commit.interval.ms` under exactly-once.
pub const DEFAULT_EOS_COMMIT_INTERVAL_MS: u64 = 100;

/// Client properties the runtime sets itself; overriding them would break its guarantees.
const RESERVED_CLIENT_PROPERTIES: &[&str] = &[
    "group.id",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "isolation.level",
    "transactional.id",
    "bootstrap.servers",
    "partition.assignment.strategy",
];

/// Configuration of a streams application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamsConfig {
    application_id: String,
    statestore_cache_max_bytes: usize,
    bootstrap_servers: Option<String>,
    num_stream_threads: usize,
    processing_guarantee: ProcessingGuarantee,
    commit_interval_ms: Option<u64>,
    state_dir: PathBuf,
    max_task_idle_ms: i64,
    deserialization_handler: DeserializationHandler,
    client_overrides: BTreeMap<(ClientKind, String), String>,
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
            num_stream_threads: 1,
            processing_guarantee: ProcessingGuarantee::AtLeastOnce,
            commit_interval_ms: None,
            state_dir: std::env::temp_dir().join("kafka-streams"),
            max_task_idle_ms: 0,
            deserialization_handler: DeserializationHandler::LogAndFail,
            client_overrides: BTreeMap::new(),
            rocksdb: streams_state::RocksDbConfig::default(),
            topology_optimization: "none".to_string(),
        };
        config.set("application.id", &application_id.into())?;
        Ok(config)
    }

    /// Sets a property by its Kafka name.
    pub fn set(&mut self, key: &str, value: &str) -> Result<&mut Self> {
        let invalid = |reason: &str| Error::Config {
            key: key.to_string(),
            value: value.to_string(),
            reason: reason.to_string(),
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
            "num.stream.threads" => match value.parse::<usize>() {
                Ok(n) if n >= 1 => self.num_stream_threads = n,
                _ => return Err(invalid("must be an integer >= 1")),
            },
            "processing.guarantee" => {
                self.processing_guarantee = value.parse().map_err(|_| {
                    invalid("must be `at_least_once` or `exactly_once_v2` (`exactly_once` and `exactly_once_beta` are gone from Kafka too)")
                })?;
            }
            "commit.interval.ms" => match value.parse::<u64>() {
                Ok(ms) => self.commit_interval_ms = Some(ms),
                Err(_) => return Err(invalid("must be a non-negative integer")),
            },
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
            "default.deserialization.exception.handler" => {
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
            // Kafka configures RocksDB with a `rocksdb.config.setter` class; Rill takes the
            // settings themselves (memory bound, write buffers, write-ahead log, ...).
            _ if key.starts_with("rocksdb.") => {
                self.rocksdb.set(key, value).map_err(|e| match e {
                    streams_state::Error::Config { message, .. } => invalid(&message),
                    other => invalid(&other.to_string()),
                })?;
            }
            _ => {
                let client = [
                    ("consumer.", ClientKind::Consumer),
                    ("producer.", ClientKind::Producer),
                    ("admin.", ClientKind::Admin),
                ]
                .into_iter()
                .find_map(|(prefix, kind)| key.strip_prefix(prefix).map(|name| (kind, name)));
                match client {
                    Some((_, "")) | None => return Err(invalid("unknown configuration key")),
                    Some((_, name)) if RESERVED_CLIENT_PROPERTIES.contains(&name) => {
                        return Err(invalid(
                            "the runtime sets this client property itself; use the streams property instead",
                        ))
                    }
                    Some((kind, name)) => {
                        self.client_overrides
                            .insert((kind, name.to_string()), value.to_string());
                    }
                }
            }
        }
        Ok(self)
    }

    /// A property's current value by its Kafka name.
    pub fn get(&self, key: &str) -> Option<String> {
        match key {
            "application.id" => Some(self.application_id.clone()),
            "statestore.cache.max.bytes" | "cache.max.bytes.buffering" => {
                Some(self.statestore_cache_max_bytes.to_string())
            }
            "bootstrap.servers" => self.bootstrap_servers.clone(),
            "num.stream.threads" => Some(self.num_stream_threads.to_string()),
            "processing.guarantee" => Some(self.processing_guarantee.as_str().to_string()),
            "commit.interval.ms" => Some(self.commit_interval().as_millis().to_string()),
            "state.dir" => Some(self.state_dir.display().to_string()),
            "max.task.idle.ms" => Some(self.max_task_idle_ms.to_string()),
            "topology.optimization" => Some(self.topology_optimization.clone()),
            "default.deserialization.exception.handler" => {
                Some(self.deserialization_handler.class_name().to_string())
            }
            _ if key.starts_with("rocksdb.") => self.rocksdb.get(key),
            _ => [
                ("consumer.", ClientKind::Consumer),
                ("producer.", ClientKind::Producer),
                ("admin.", ClientKind::Admin),
            ]
            .into_iter()
            .find_map(|(prefix, kind)| {
                let name = key.strip_prefix(prefix)?;
                self.client_overrides
                    .get(&(kind, name.to_string()))
                    .cloned()
            }),
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

    /// `default.deserialization.exception.handler` (default log-and-fail).
    pub fn deserialization_handler(&self) -> DeserializationHandler {
        self.deserialization_handler
    }

    /// The pass-through librdkafka properties for `client`, without their prefix.
    pub fn client_properties(&self, client: ClientKind) -> impl Iterator<Item = (&str, &str)> {
        self.client_overrides
            .iter()
            .filter(move |((kind, _), _)| *kind == client)
            .map(|((_, name), value)| (name.as_str(), value.as_str()))
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
            config
                .client_properties(ClientKind::Consumer)
                .collect::<Vec<_>>(),
            [("fetch.wait.max.ms", "10")]
        );
        assert_eq!(config.get("producer.linger.ms").as_deref(), Some("5"));
        assert!(config.set("consumer.group.id", "other").is_err());
        assert!(config.set("producer.transactional.id", "x").is_err());
        assert!(config.set("consumer.", "x").is_err());
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
