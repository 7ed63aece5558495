//! Broker and topic configuration.
//!
//! Configuration is typed ([`BrokerConfig`], [`TopicConfig`]), and also accepts Kafka's own
//! property names as strings (`config.set("retention.ms", "60000")`) so that Kafka users can
//! paste what they know. Unknown keys are an error, never silently ignored. Topic configs
//! follow Kafka's layering: a built-in default, overridden by a broker-wide default
//! (`log.retention.ms` and friends, Kafka's `server.properties`), overridden per topic
//! (`retention.ms`, as given to `CreateTopics`). `DescribeConfigs` reports every topic key
//! with its value and where it came from, like Kafka's `ConfigSource`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};

/// The type of a configuration value, with the codes Kafka uses in `DescribeConfigs` v3+.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConfigType {
    /// `true` / `false`.
    Boolean = 1,
    /// Free text.
    String = 2,
    /// A 32-bit signed integer.
    Int = 3,
    /// A 64-bit signed integer.
    Long = 5,
    /// A floating-point number.
    Double = 6,
    /// A comma-separated list.
    List = 7,
}

/// Where a config value came from, with Kafka's `ConfigSource` codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConfigSource {
    /// Set on the topic (`CreateTopics` configs).
    Topic = 1,
    /// Set for this broker at run time (`AlterConfigs` on broker `<node.id>`).
    DynamicBroker = 2,
    /// Set for every broker at run time (`AlterConfigs` on the cluster default, broker ``).
    DynamicDefaultBroker = 3,
    /// Set broker-wide (`log.retention.ms` and friends).
    StaticBroker = 4,
    /// Kafka's built-in default.
    Default = 5,
}

/// One topic-level configuration key that the broker knows, with Kafka's default.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TopicConfigKey {
    /// Kafka's property name.
    pub name: &'static str,
    /// The value type.
    pub config_type: ConfigType,
    /// Kafka's built-in default, as a string.
    pub default: &'static str,
    /// The broker-wide property that overrides the default, if any.
    pub broker_key: Option<&'static str>,
    /// One-line documentation.
    pub doc: &'static str,
}

const fn key(
    name: &'static str,
    config_type: ConfigType,
    default: &'static str,
    broker_key: Option<&'static str>,
    doc: &'static str,
) -> TopicConfigKey {
    TopicConfigKey {
        name,
        config_type,
        default,
        broker_key,
        doc,
    }
}

const LONG_MAX: &str = "9223372036854775807";

/// Every topic configuration key Kafka defines, in Kafka's order. The broker acts on
/// `cleanup.policy`, `retention.ms`, `retention.bytes`, `segment.bytes`, `segment.ms`,
/// `max.message.bytes`, `index.interval.bytes`, `message.timestamp.type` and the log
/// cleaner's `delete.retention.ms`, `min.compaction.lag.ms`, `max.compaction.lag.ms`,
/// `min.cleanable.dirty.ratio`; the others are accepted, validated, stored and reported so
/// that tools written for Kafka work unchanged.
pub(crate) const TOPIC_CONFIG_KEYS: &[TopicConfigKey] = &[
    key(
        "cleanup.policy",
        ConfigType::List,
        "delete",
        Some("log.cleanup.policy"),
        "Retention policy for old segments: delete and/or compact.",
    ),
    key(
        "compression.type",
        ConfigType::String,
        "producer",
        Some("compression.type"),
        "Final compression type for the topic; `producer` keeps what the producer sent.",
    ),
    key(
        "delete.retention.ms",
        ConfigType::Long,
        "86400000",
        Some("log.cleaner.delete.retention.ms"),
        "How long delete tombstones are retained for compacted topics.",
    ),
    key(
        "file.delete.delay.ms",
        ConfigType::Long,
        "60000",
        None,
        "Time to wait before deleting a file from the filesystem.",
    ),
    key(
        "flush.messages",
        ConfigType::Long,
        LONG_MAX,
        None,
        "Number of messages between forced fsyncs.",
    ),
    key(
        "flush.ms",
        ConfigType::Long,
        LONG_MAX,
        None,
        "Time between forced fsyncs.",
    ),
    key(
        "follower.replication.throttled.replicas",
        ConfigType::List,
        "",
        None,
        "Replicas whose log replication is throttled on the follower side.",
    ),
    key(
        "index.interval.bytes",
        ConfigType::Int,
        "4096",
        Some("log.index.interval.bytes"),
        "Bytes of log between two offset index entries.",
    ),
    key(
        "leader.replication.throttled.replicas",
        ConfigType::List,
        "",
        None,
        "Replicas whose log replication is throttled on the leader side.",
    ),
    key(
        "local.retention.bytes",
        ConfigType::Long,
        "-2",
        None,
        "Local retention size for tiered storage.",
    ),
    key(
        "local.retention.ms",
        ConfigType::Long,
        "-2",
        None,
        "Local retention time for tiered storage.",
    ),
    key(
        "max.compaction.lag.ms",
        ConfigType::Long,
        LONG_MAX,
        Some("log.cleaner.max.compaction.lag.ms"),
        "Maximum time a message stays uncompacted.",
    ),
    key(
        "max.message.bytes",
        ConfigType::Int,
        "1048588",
        Some("message.max.bytes"),
        "Largest record batch size allowed.",
    ),
    key(
        "message.timestamp.after.max.ms",
        ConfigType::Long,
        "3600000",
        None,
        "Allowed distance of a timestamp into the future.",
    ),
    key(
        "message.timestamp.before.max.ms",
        ConfigType::Long,
        LONG_MAX,
        None,
        "Allowed distance of a timestamp into the past.",
    ),
    key(
        "message.timestamp.type",
        ConfigType::String,
        "CreateTime",
        None,
        "CreateTime or LogAppendTime.",
    ),
    key(
        "min.cleanable.dirty.ratio",
        ConfigType::Double,
        "0.5",
        Some("log.cleaner.min.cleanable.ratio"),
        "Dirty ratio above which the log cleaner compacts.",
    ),
    key(
        "min.compaction.lag.ms",
        ConfigType::Long,
        "0",
        Some("log.cleaner.min.compaction.lag.ms"),
        "Minimum time a message stays uncompacted.",
    ),
    key(
        "min.insync.replicas",
        ConfigType::Int,
        "1",
        None,
        "Minimum in-sync replicas for acks=all.",
    ),
    key(
        "preallocate",
        ConfigType::Boolean,
        "false",
        None,
        "Preallocate segment files.",
    ),
    key(
        "remote.storage.enable",
        ConfigType::Boolean,
        "false",
        None,
        "Enable tiered storage.",
    ),
    key(
        "retention.bytes",
        ConfigType::Long,
        "-1",
        Some("log.retention.bytes"),
        "Maximum partition size before old segments are deleted; -1 for no limit.",
    ),
    key(
        "retention.ms",
        ConfigType::Long,
        "604800000",
        Some("log.retention.ms"),
        "Maximum age of a segment's newest record before it is deleted; -1 for no limit.",
    ),
    key(
        "segment.bytes",
        ConfigType::Int,
        "1073741824",
        Some("log.segment.bytes"),
        "Segment file size at which a new segment is rolled.",
    ),
    key(
        "segment.index.bytes",
        ConfigType::Int,
        "10485760",
        None,
        "Size of the offset index file.",
    ),
    key(
        "segment.jitter.ms",
        ConfigType::Long,
        "0",
        None,
        "Random jitter subtracted from segment.ms.",
    ),
    key(
        "segment.ms",
        ConfigType::Long,
        "604800000",
        Some("log.roll.ms"),
        "Age at which a new segment is rolled.",
    ),
    key(
        "unclean.leader.election.enable",
        ConfigType::Boolean,
        "false",
        None,
        "Allow out-of-sync replicas to become leader.",
    ),
];

/// Which retention policy a topic uses (`cleanup.policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanupPolicy {
    /// Old segments are deleted by time and size (`delete`).
    pub delete: bool,
    /// The log is compacted by key (`compact`) by the log cleaner: the latest record of
    /// every key is kept. A compact-only topic is never deleted by time or size.
    pub compact: bool,
}

/// A topic's configuration: every Kafka topic key, with its value and its source.
#[derive(Debug, Clone, PartialEq)]
pub struct TopicConfig {
    values: BTreeMap<&'static str, (String, ConfigSource)>,
}

impl Default for TopicConfig {
    fn default() -> Self {
        let values = TOPIC_CONFIG_KEYS
            .iter()
            .map(|k| (k.name, (k.default.to_string(), ConfigSource::Default)))
            .collect();
        TopicConfig { values }
    }
}

fn invalid(key: &str, value: &str, reason: impl Into<String>) -> Error {
    Error::InvalidConfig {
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

fn validate(k: &TopicConfigKey, value: &str) -> Result<()> {
    let ok = match k.config_type {
        ConfigType::Boolean => matches!(value, "true" | "false"),
        ConfigType::Int => value.parse::<i32>().is_ok(),
        ConfigType::Long => value.parse::<i64>().is_ok(),
        ConfigType::Double => value.parse::<f64>().is_ok(),
        ConfigType::String | ConfigType::List => true,
    };
    if !ok {
        return Err(invalid(
            k.name,
            value,
            format!("expected {:?}", k.config_type),
        ));
    }
    match k.name {
        "cleanup.policy" => {
            for p in value.split(',').map(str::trim) {
                if p != "delete" && p != "compact" {
                    return Err(invalid(
                        k.name,
                        value,
                        "expected `delete`, `compact` or both",
                    ));
                }
            }
        }
        "message.timestamp.type" if value != "CreateTime" && value != "LogAppendTime" => {
            return Err(invalid(
                k.name,
                value,
                "expected CreateTime or LogAppendTime",
            ));
        }
        "segment.bytes" if value.parse::<i64>().unwrap_or(0) < 14 => {
            return Err(invalid(k.name, value, "must be at least 14"));
        }
        "max.message.bytes" | "index.interval.bytes" if value.parse::<i64>().unwrap_or(-1) < 0 => {
            return Err(invalid(k.name, value, "must not be negative"));
        }
        "segment.ms" if value.parse::<i64>().unwrap_or(0) < 1 => {
            return Err(invalid(k.name, value, "must be at least 1"));
        }
        "retention.ms" | "retention.bytes" if value.parse::<i64>().unwrap_or(-2) < -1 => {
            return Err(invalid(k.name, value, "must be -1 (unlimited) or more"));
        }
        "delete.retention.ms" | "min.compaction.lag.ms"
            if value.parse::<i64>().unwrap_or(-1) < 0 =>
        {
            return Err(invalid(k.name, value, "must not be negative"));
        }
        "max.compaction.lag.ms" if value.parse::<i64>().unwrap_or(0) < 1 => {
            return Err(invalid(k.name, value, "must be at least 1"));
        }
        "min.cleanable.dirty.ratio"
            if !(0.0..=1.0).contains(&value.parse::<f64>().unwrap_or(-1.0)) =>
        {
            return Err(invalid(k.name, value, "must be between 0 and 1"));
        }
        _ => {}
    }
    Ok(())
}

/// Kafka's dynamically updatable broker properties (`DynamicBrokerConfig`) that do not set a
/// topic default: listener security settings, thread pools, the log cleaner, connection quotas.
/// `AlterConfigs` on a broker accepts, stores and reports them so that tools written for Kafka
/// work unchanged; Rill does not act on them (its own settings come from the config file).
/// Per-listener forms (`listener.name.<listener>.<key>`) of these are accepted too.
pub(crate) const STORED_DYNAMIC_BROKER_KEYS: &[&str] = &[
    "background.threads",
    "log.cleaner.backoff.ms",
    "log.cleaner.dedupe.buffer.size",
    "log.cleaner.io.buffer.load.factor",
    "log.cleaner.io.buffer.size",
    "log.cleaner.io.max.bytes.per.second",
    "log.cleaner.threads",
    "max.connection.creation.rate",
    "max.connections",
    "max.connections.per.ip",
    "max.connections.per.ip.overrides",
    "metric.reporters",
    "num.io.threads",
    "num.network.threads",
    "num.recovery.threads.per.data.dir",
    "num.replica.fetchers",
    "sasl.enabled.mechanisms",
    "sasl.jaas.config",
    "sasl.kerberos.kinit.cmd",
    "sasl.kerberos.min.time.before.relogin",
    "sasl.kerberos.principal.to.local.rules",
    "sasl.kerberos.service.name",
    "sasl.kerberos.ticket.renew.jitter",
    "sasl.kerberos.ticket.renew.window.factor",
    "sasl.login.refresh.buffer.seconds",
    "sasl.login.refresh.min.period.seconds",
    "sasl.login.refresh.window.factor",
    "sasl.login.refresh.window.jitter",
    "sasl.mechanism.inter.broker.protocol",
    "ssl.cipher.suites",
    "ssl.client.auth",
    "ssl.enabled.protocols",
    "ssl.endpoint.identification.algorithm",
    "ssl.key.password",
    "ssl.keymanager.algorithm",
    "ssl.keystore.certificate.chain",
    "ssl.keystore.key",
    "ssl.keystore.location",
    "ssl.keystore.password",
    "ssl.keystore.type",
    "ssl.protocol",
    "ssl.provider",
    "ssl.secure.random.implementation",
    "ssl.trustmanager.algorithm",
    "ssl.truststore.certificates",
    "ssl.truststore.location",
    "ssl.truststore.password",
    "ssl.truststore.type",
    "unclean.leader.election.enable",
];

/// Whether broker property `key` is one Kafka updates dynamically that Rill stores without
/// acting on it (see [`STORED_DYNAMIC_BROKER_KEYS`]).
pub(crate) fn is_stored_dynamic_broker_key(key: &str) -> bool {
    let base = key
        .strip_prefix("listener.name.")
        .and_then(|rest| rest.split_once('.'))
        .map_or(key, |(_, k)| k);
    STORED_DYNAMIC_BROKER_KEYS.contains(&base)
}

/// The topic key that broker property `broker_key` sets the default of (`log.retention.ms` →
/// `retention.ms`), if it is one.
pub(crate) fn topic_key_for_broker_key(broker_key: &str) -> Option<&'static TopicConfigKey> {
    TOPIC_CONFIG_KEYS
        .iter()
        .find(|k| k.broker_key == Some(broker_key))
}

impl TopicConfig {
    /// Looks up the description of a topic key.
    pub(crate) fn key(name: &str) -> Option<&'static TopicConfigKey> {
        TOPIC_CONFIG_KEYS.iter().find(|k| k.name == name)
    }

    /// Sets a topic-level value by Kafka property name, validating it.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        self.set_with_source(key, value, ConfigSource::Topic)
    }

    pub(crate) fn set_with_source(
        &mut self,
        key: &str,
        value: &str,
        source: ConfigSource,
    ) -> Result<()> {
        let k = Self::key(key).ok_or_else(|| Error::UnknownConfig {
            key: key.to_string(),
        })?;
        validate(k, value)?;
        self.values.insert(k.name, (value.to_string(), source));
        Ok(())
    }

    /// The value of a key, as a string.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(|(v, _)| v.as_str())
    }

    /// Every key with its value and source, in Kafka's order.
    pub(crate) fn entries(
        &self,
    ) -> impl Iterator<Item = (&'static TopicConfigKey, &str, ConfigSource)> {
        TOPIC_CONFIG_KEYS
            .iter()
            .map(move |k| match self.values.get(k.name) {
                Some((v, s)) => (k, v.as_str(), *s),
                None => (k, k.default, ConfigSource::Default),
            })
    }

    /// The keys set at topic level (what is persisted with the topic).
    pub fn overrides(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.values
            .iter()
            .filter(|(_, (_, s))| *s == ConfigSource::Topic)
            .map(|(k, (v, _))| (*k, v.as_str()))
    }

    fn long(&self, key: &str) -> i64 {
        self.get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| {
                Self::key(key)
                    .and_then(|k| k.default.parse().ok())
                    .unwrap_or(0)
            })
    }

    /// `retention.ms`: maximum age, `None` for unlimited.
    pub fn retention_ms(&self) -> Option<i64> {
        Some(self.long("retention.ms")).filter(|v| *v >= 0)
    }

    /// `retention.bytes`: maximum partition size, `None` for unlimited.
    pub fn retention_bytes(&self) -> Option<u64> {
        u64::try_from(self.long("retention.bytes")).ok()
    }

    /// `segment.bytes`: roll size.
    pub fn segment_bytes(&self) -> u64 {
        self.long("segment.bytes").max(14) as u64
    }

    /// `segment.ms`: roll age.
    pub fn segment_ms(&self) -> i64 {
        self.long("segment.ms").max(1)
    }

    /// `max.message.bytes`: the largest batch a producer may send.
    pub fn max_message_bytes(&self) -> usize {
        self.long("max.message.bytes").max(0) as usize
    }

    /// `index.interval.bytes`: bytes between sparse index entries.
    pub fn index_interval_bytes(&self) -> u64 {
        self.long("index.interval.bytes").max(0) as u64
    }

    /// `message.timestamp.type=LogAppendTime`: the broker stamps batches on append.
    pub fn log_append_time(&self) -> bool {
        self.get("message.timestamp.type") == Some("LogAppendTime")
    }

    /// `delete.retention.ms`: how long the cleaner keeps a tombstone (and a finished
    /// transaction's marker) after it first cleaned it.
    pub fn delete_retention_ms(&self) -> i64 {
        self.long("delete.retention.ms").max(0)
    }

    /// `min.compaction.lag.ms`: records younger than this are never compacted.
    pub fn min_compaction_lag_ms(&self) -> i64 {
        self.long("min.compaction.lag.ms").max(0)
    }

    /// `max.compaction.lag.ms`: a record older than this is compacted whatever the dirty
    /// ratio.
    pub fn max_compaction_lag_ms(&self) -> i64 {
        self.long("max.compaction.lag.ms").max(1)
    }

    /// `min.cleanable.dirty.ratio`: the share of the log that must be dirty (written since
    /// the last clean) before the background cleaner compacts it.
    pub fn min_cleanable_dirty_ratio(&self) -> f64 {
        self.get("min.cleanable.dirty.ratio")
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|r| (0.0..=1.0).contains(r))
            .unwrap_or(0.5)
    }

    /// `cleanup.policy`.
    pub fn cleanup_policy(&self) -> CleanupPolicy {
        let v = self.get("cleanup.policy").unwrap_or("delete");
        CleanupPolicy {
            delete: v.split(',').any(|p| p.trim() == "delete"),
            compact: v.split(',').any(|p| p.trim() == "compact"),
        }
    }
}

/// When appended data is forced to disk with `fsync`.
///
/// Kafka's default is to leave flushing to the OS and rely on replication; a single-node
/// broker has no replicas, so Rill flushes on an interval by default: a crash of the
/// *machine* (not just the process) may lose at most the last interval of acknowledged
/// writes. A process crash loses nothing that was acknowledged, since the data is in the
/// page cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushPolicy {
    /// `fsync` every appended batch before acknowledging it: safest and slowest.
    EveryBatch,
    /// `fsync` dirty partitions every interval (default: one second).
    Interval(Duration),
    /// Never `fsync` explicitly; the OS writes back in its own time.
    Never,
}

/// Default size of the cleaner's offset map (Kafka's `log.cleaner.dedupe.buffer.size`).
pub(crate) const DEFAULT_DEDUPE_BUFFER_SIZE: usize = 128 * 1024 * 1024;

/// The log cleaner's broker-wide settings (Kafka's `log.cleaner.*` properties). The
/// per-topic ones (`delete.retention.ms`, `min.cleanable.dirty.ratio`, …) are in
/// [`TopicConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CleanerConfig {
    /// Whether the background cleaner runs (`log.cleaner.enable`). A forced clean
    /// ([`BrokerHandle::compact_now`](crate::BrokerHandle::compact_now)) works either way.
    pub enable: bool,
    /// Pause between two passes of the background cleaner over the compacted logs
    /// (`log.cleaner.backoff.ms`; Kafka's default, 15 seconds).
    pub backoff: Duration,
    /// Memory for the key → offset map of one clean (`log.cleaner.dedupe.buffer.size`,
    /// 128 MiB). A dirty section with more distinct keys is cleaned over several passes.
    pub dedupe_buffer_size: usize,
}

impl Default for CleanerConfig {
    fn default() -> Self {
        CleanerConfig {
            enable: true,
            backoff: Duration::from_secs(15),
            dedupe_buffer_size: DEFAULT_DEDUPE_BUFFER_SIZE,
        }
    }
}

/// Configuration of one broker.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Address to listen on. Defaults to `127.0.0.1:0` (loopback, ephemeral port).
    pub listen: SocketAddr,
    /// Host name advertised to clients in metadata; defaults to the listen IP.
    pub advertised_host: Option<String>,
    /// Where the logs live; `None` means a fresh temporary directory that is removed on
    /// shutdown (Kafka's `log.dirs`).
    pub data_dir: Option<PathBuf>,
    /// The broker's id (`node.id`).
    pub node_id: i32,
    /// Create topics when a client asks for their metadata (`auto.create.topics.enable`).
    pub auto_create_topics: bool,
    /// Partitions of auto-created topics (`num.partitions`).
    pub num_partitions: i32,
    /// Largest request accepted, in bytes (`socket.request.max.bytes`, 100 MiB).
    pub max_request_size: usize,
    /// How long a connection may stay without any request bytes before the broker closes
    /// it (`connections.max.idle.ms`, 10 minutes, as Kafka).
    pub connections_max_idle: Duration,
    /// How long a request, once its first bytes arrived, may take to arrive whole before
    /// the broker closes the connection (Rill's `request.read.timeout.ms`, 60 s): a peer
    /// trickling a byte at a time cannot hold a connection and its buffer forever.
    pub request_read_timeout: Duration,
    /// Most client connections served at once (`max.connections`); further connections
    /// wait to be accepted until one closes, as Kafka's acceptor waits.
    pub max_connections: usize,
    /// Most bytes of records one fetch response returns, whatever the request asks
    /// (`fetch.max.bytes`, 55 MiB); the first batch of the first partition with data is
    /// returned whole even past it (KIP-74).
    pub fetch_max_bytes: usize,
    /// When data is fsynced (`log.flush.policy`: `batch`, `interval` or `never`,
    /// with `log.flush.interval.ms`).
    pub flush: FlushPolicy,
    /// How often retention is enforced (`log.retention.check.interval.ms`).
    pub retention_check_interval: Duration,
    /// The log cleaner (`log.cleaner.enable`, `log.cleaner.backoff.ms`, …).
    pub cleaner: CleanerConfig,
    /// Defaults for every topic (broker-level `log.retention.ms` and friends).
    pub topic_defaults: TopicConfig,
    /// The longest `transaction.timeout.ms` a producer may ask for
    /// (`transaction.max.timeout.ms`, 15 minutes).
    pub transaction_max_timeout: Duration,
    /// How often open transactions are checked against their timeout
    /// (`transaction.abort.timed.out.transaction.cleanup.interval.ms`, 10 s).
    pub transaction_abort_check_interval: Duration,
    /// How long a partition remembers an idle idempotent producer's sequence numbers
    /// (`producer.id.expiration.ms`, one day); checked with retention.
    pub producer_id_expiration: Duration,
    /// The group coordinator's settings (`group.*` and `offset*` keys).
    pub group: GroupConfig,
    /// The authorizer (`authorizer.class.name`): `None`, the default, allows every
    /// request; any class name enables the ACL authorizer (Kafka's `StandardAuthorizer`).
    pub authorizer_class_name: Option<String>,
    /// The authorizer's settings (`super.users`, `allow.everyone.if.no.acl.found`).
    pub authorizer: crate::security::acl::AuthorizerConfig,
    /// Named listeners (`listeners` with more than one entry, or any non-`PLAINTEXT` one);
    /// empty means the single `PLAINTEXT` listener on [`BrokerConfig::listen`].
    pub listeners: Vec<crate::listener::ListenerSpec>,
    /// `advertised.listeners`: host and port clients are told per listener name.
    pub advertised_listeners: std::collections::HashMap<String, (String, u16)>,
    /// `listener.security.protocol.map`: protocols of custom listener names.
    pub listener_protocols: std::collections::HashMap<String, crate::listener::SecurityProtocol>,
    /// `sasl.enabled.mechanisms` (Rill's default `PLAIN,SCRAM-SHA-256,SCRAM-SHA-512`;
    /// Kafka's is `GSSAPI`, which Rill does not implement). `OAUTHBEARER` may be added.
    pub sasl_enabled_mechanisms: Vec<String>,
    /// PLAIN users per listener name, from `listener.name.<l>.plain.sasl.jaas.config`
    /// (`user_<name>="<password>"`); a listener without one checks PLAIN passwords
    /// against the SCRAM credential store.
    pub sasl_plain_users:
        std::collections::HashMap<String, std::collections::HashMap<String, String>>,
    /// `connections.max.reauth.ms`: the session lifetime told to SASL clients, after
    /// which they must re-authenticate (KIP-368); 0, the default, means none.
    pub connections_max_reauth_ms: i64,
}

/// Settings of the group coordinator, with Kafka's property names and defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupConfig {
    /// How long the first rebalance of an empty group waits for more members to join
    /// (`group.initial.rebalance.delay.ms`, 3000 ms): one rebalance for a whole fleet of
    /// starting consumers instead of one per consumer.
    pub initial_rebalance_delay: Duration,
    /// Smallest `session.timeout.ms` a member may ask for (`group.min.session.timeout.ms`,
    /// 6000 ms); smaller ones get `INVALID_SESSION_TIMEOUT`.
    pub min_session_timeout: Duration,
    /// Largest `session.timeout.ms` a member may ask for (`group.max.session.timeout.ms`,
    /// 1800000 ms).
    pub max_session_timeout: Duration,
    /// Largest metadata string committed with an offset (`offset.metadata.max.bytes`,
    /// 4096); longer ones get `OFFSET_METADATA_TOO_LARGE`.
    pub offset_metadata_max_bytes: usize,
    /// How long committed offsets are kept once their group is empty, or, for groups
    /// that only store offsets, since their last commit (`offsets.retention.minutes`,
    /// 7 days).
    pub offsets_retention: Duration,
    /// How often expired offsets are looked for (`offsets.retention.check.interval.ms`,
    /// 600000 ms).
    pub offsets_retention_check_interval: Duration,
    /// Session timeout of members of the consumer group protocol (KIP-848), set by the
    /// broker, not the client (`group.consumer.session.timeout.ms`, 45000 ms).
    pub consumer_session_timeout: Duration,
    /// How often members of the consumer group protocol heartbeat
    /// (`group.consumer.heartbeat.interval.ms`, 5000 ms); it is also how soon a member
    /// learns of a new assignment.
    pub consumer_heartbeat_interval: Duration,
    /// Server-side assignors, the first being the default (`group.consumer.assignors`,
    /// `uniform,range`).
    pub consumer_assignors: Vec<String>,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            initial_rebalance_delay: Duration::from_millis(3000),
            min_session_timeout: Duration::from_millis(6000),
            max_session_timeout: Duration::from_millis(1_800_000),
            offset_metadata_max_bytes: 4096,
            offsets_retention: Duration::from_secs(7 * 24 * 3600),
            offsets_retention_check_interval: Duration::from_millis(600_000),
            consumer_session_timeout: Duration::from_millis(45_000),
            consumer_heartbeat_interval: Duration::from_millis(5_000),
            consumer_assignors: vec!["uniform".to_string(), "range".to_string()],
        }
    }
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            advertised_host: None,
            data_dir: None,
            node_id: 0,
            auto_create_topics: true,
            num_partitions: 1,
            max_request_size: 100 * 1024 * 1024,
            fetch_max_bytes: 55 * 1024 * 1024,
            connections_max_idle: Duration::from_millis(600_000),
            request_read_timeout: Duration::from_secs(60),
            max_connections: i32::MAX as usize,
            flush: FlushPolicy::Interval(Duration::from_secs(1)),
            retention_check_interval: Duration::from_secs(300),
            cleaner: CleanerConfig::default(),
            topic_defaults: TopicConfig::default(),
            transaction_max_timeout: Duration::from_secs(900),
            transaction_abort_check_interval: Duration::from_secs(10),
            producer_id_expiration: Duration::from_secs(86_400),
            group: GroupConfig::default(),
            authorizer_class_name: None,
            authorizer: Default::default(),
            listeners: Vec::new(),
            advertised_listeners: Default::default(),
            listener_protocols: Default::default(),
            sasl_enabled_mechanisms: ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
                .map(String::from)
                .to_vec(),
            sasl_plain_users: Default::default(),
            connections_max_reauth_ms: 0,
        }
    }
}

fn parse<T: std::str::FromStr>(key: &str, value: &str) -> Result<T> {
    value
        .trim()
        .parse()
        .map_err(|_| invalid(key, value, "not a valid number or boolean"))
}

impl BrokerConfig {
    /// The listeners to bind: [`BrokerConfig::listeners`] resolved with their protocols and
    /// advertised endpoints, or the single `PLAINTEXT` listener on `listen`.
    pub fn resolved_listeners(&self) -> Result<Vec<crate::listener::ResolvedListener>> {
        let specs = if self.listeners.is_empty() {
            vec![crate::listener::ListenerSpec {
                name: "PLAINTEXT".into(),
                addr: self.listen,
            }]
        } else {
            self.listeners.clone()
        };
        crate::listener::resolve(&specs, &self.listener_protocols, &self.advertised_listeners)
    }

    /// A configuration that keeps its data in `dir`.
    pub fn with_data_dir(dir: impl Into<PathBuf>) -> Self {
        BrokerConfig {
            data_dir: Some(dir.into()),
            ..Self::default()
        }
    }

    /// Applies every property of a Kafka `server.properties` file at `path` (Java's
    /// properties syntax: `key=value`, `key: value` or `key value` lines, `#` and `!`
    /// comments, `\` continuations and escapes), each as [`set`](Self::set) would. An unknown
    /// key or a bad value is an error naming the file and the key; nothing is half-applied.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let dir = tempfile::tempdir()?;
    /// let file = dir.path().join("server.properties");
    /// std::fs::write(&file, "# defaults for new topics\nnum.partitions=4\nlog.retention.hours = 24\n")?;
    /// let mut config = streams_broker::BrokerConfig::default();
    /// config.load_properties(&file)?;
    /// assert_eq!(config.num_partitions, 4);
    /// assert_eq!(config.topic_defaults.retention_ms(), Some(86_400_000));
    /// # Ok(()) }
    /// ```
    pub fn load_properties(&mut self, path: &std::path::Path) -> Result<()> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let properties = java_properties::read(std::io::BufReader::new(file)).map_err(|e| {
            Error::ConfigFile {
                path: path.to_path_buf(),
                reason: e.to_string(),
            }
        })?;
        // Sorted, so that errors and overrides do not depend on hash order.
        let properties: BTreeMap<String, String> = properties.into_iter().collect();
        let mut updated = self.clone();
        for (key, value) in &properties {
            updated.set(key, value).map_err(|e| Error::ConfigFile {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
        }
        *self = updated;
        Ok(())
    }

    /// Sets a value by Kafka's broker property name (`server.properties`), for example
    /// `auto.create.topics.enable`, `num.partitions`, `log.retention.ms`,
    /// `log.segment.bytes`, `socket.request.max.bytes`, `log.flush.interval.ms`,
    /// `log.cleaner.backoff.ms`, `log.cleaner.delete.retention.ms`, or Rill's
    /// `log.flush.policy` (`batch`, `interval`, `never`). Unknown keys are an error.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        match key {
            "node.id" | "broker.id" => self.node_id = parse(key, value)?,
            "listeners" | "listen" => {
                let specs = crate::listener::parse_listeners(key, value)?;
                match &specs[..] {
                    // One PLAINTEXT listener is `listen`, as before named listeners.
                    [only] if only.name == "PLAINTEXT" => {
                        self.listen = only.addr;
                        self.listeners.clear();
                    }
                    _ => self.listeners = specs,
                }
            }
            "advertised.listeners" => {
                self.advertised_listeners = crate::listener::parse_advertised(key, value)?
            }
            "listener.security.protocol.map" => {
                self.listener_protocols = crate::listener::parse_protocol_map(key, value)?
            }
            "sasl.enabled.mechanisms" => {
                let mechanisms: Vec<String> = value
                    .split(',')
                    .map(|m| m.trim().to_ascii_uppercase())
                    .filter(|m| !m.is_empty())
                    .collect();
                if let Some(m) = mechanisms.iter().find(|m| {
                    !crate::security::authenticator::SUPPORTED_MECHANISMS.contains(&m.as_str())
                }) {
                    return Err(invalid(
                        key,
                        value,
                        format!("SASL mechanism {m} is not supported"),
                    ));
                }
                self.sasl_enabled_mechanisms = mechanisms;
            }
            "connections.max.reauth.ms" => {
                let ms: i64 = parse(key, value)?;
                if ms < 0 {
                    return Err(invalid(key, value, "must not be negative"));
                }
                self.connections_max_reauth_ms = ms;
            }
            k if k.starts_with("listener.name.") && k.ends_with(".plain.sasl.jaas.config") => {
                let listener =
                    &k["listener.name.".len()..k.len() - ".plain.sasl.jaas.config".len()];
                self.sasl_plain_users.insert(
                    listener.to_ascii_uppercase(),
                    crate::security::plain::parse_jaas_users(value),
                );
            }
            "advertised.host.name" => self.advertised_host = Some(value.to_string()),
            "log.dir" | "log.dirs" => self.data_dir = Some(PathBuf::from(value)),
            "auto.create.topics.enable" => self.auto_create_topics = parse(key, value)?,
            "num.partitions" => {
                let n: i32 = parse(key, value)?;
                if n < 1 {
                    return Err(invalid(key, value, "must be at least 1"));
                }
                self.num_partitions = n;
            }
            "socket.request.max.bytes" => self.max_request_size = parse(key, value)?,
            "connections.max.idle.ms" | "request.read.timeout.ms" => {
                let ms: u64 = parse(key, value)?;
                if ms == 0 {
                    return Err(invalid(key, value, "must be at least 1"));
                }
                let d = Duration::from_millis(ms);
                match key {
                    "connections.max.idle.ms" => self.connections_max_idle = d,
                    _ => self.request_read_timeout = d,
                }
            }
            "max.connections" => {
                let n: usize = parse(key, value)?;
                if n == 0 {
                    return Err(invalid(key, value, "must be at least 1"));
                }
                self.max_connections = n;
            }
            "fetch.max.bytes" => {
                let n: usize = parse(key, value)?;
                // Kafka's own lower bound for the setting.
                if n < 1024 {
                    return Err(invalid(key, value, "must be at least 1024"));
                }
                self.fetch_max_bytes = n;
            }
            "transaction.max.timeout.ms" => {
                self.transaction_max_timeout = Duration::from_millis(parse(key, value)?)
            }
            "transaction.abort.timed.out.transaction.cleanup.interval.ms" => {
                self.transaction_abort_check_interval = Duration::from_millis(parse(key, value)?)
            }
            "producer.id.expiration.ms" => {
                self.producer_id_expiration = Duration::from_millis(parse(key, value)?)
            }
            "group.initial.rebalance.delay.ms" => {
                self.group.initial_rebalance_delay = Duration::from_millis(parse(key, value)?)
            }
            "group.min.session.timeout.ms" => {
                self.group.min_session_timeout = Duration::from_millis(parse(key, value)?)
            }
            "group.max.session.timeout.ms" => {
                self.group.max_session_timeout = Duration::from_millis(parse(key, value)?)
            }
            "offset.metadata.max.bytes" => {
                self.group.offset_metadata_max_bytes = parse(key, value)?
            }
            "offsets.retention.minutes" => {
                let minutes: u64 = parse(key, value)?;
                self.group.offsets_retention = Duration::from_secs(minutes.saturating_mul(60))
            }
            "group.consumer.session.timeout.ms" => {
                let ms: u64 = parse(key, value)?;
                if ms == 0 {
                    return Err(invalid(key, value, "must be positive"));
                }
                self.group.consumer_session_timeout = Duration::from_millis(ms)
            }
            "group.consumer.heartbeat.interval.ms" => {
                let ms: u64 = parse(key, value)?;
                if ms == 0 || ms > i32::MAX as u64 {
                    return Err(invalid(key, value, "must be positive"));
                }
                self.group.consumer_heartbeat_interval = Duration::from_millis(ms)
            }
            "group.consumer.assignors" => {
                let names: Vec<String> = value
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                if names.is_empty()
                    || names
                        .iter()
                        .any(|n| crate::group::ServerAssignor::from_name(n).is_none())
                {
                    return Err(invalid(key, value, "known assignors are uniform and range"));
                }
                self.group.consumer_assignors = names;
            }
            "offsets.retention.check.interval.ms" => {
                let ms: u64 = parse(key, value)?;
                if ms == 0 {
                    return Err(invalid(key, value, "must be at least 1"));
                }
                self.group.offsets_retention_check_interval = Duration::from_millis(ms)
            }
            "log.retention.check.interval.ms" => {
                self.retention_check_interval = Duration::from_millis(parse(key, value)?)
            }
            "authorizer.class.name" => {
                let name = value.trim();
                self.authorizer_class_name = (!name.is_empty()).then(|| name.to_string());
            }
            "super.users" => {
                self.authorizer.super_users = value
                    .split(';')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        crate::security::principal::KafkaPrincipal::parse(s)
                            .map(|p| p.to_string())
                            .ok_or_else(|| {
                                invalid(key, value, format!("{s} is not a principal (User:name)"))
                            })
                    })
                    .collect::<Result<_>>()?;
            }
            "allow.everyone.if.no.acl.found" => {
                self.authorizer.allow_everyone_if_no_acl_found = parse(key, value)?
            }
            "log.cleaner.enable" => self.cleaner.enable = parse(key, value)?,
            "log.cleaner.backoff.ms" => {
                self.cleaner.backoff = Duration::from_millis(parse(key, value)?)
            }
            "log.cleaner.dedupe.buffer.size" => {
                let n: usize = parse(key, value)?;
                if n == 0 {
                    return Err(invalid(key, value, "must be positive"));
                }
                self.cleaner.dedupe_buffer_size = n;
            }
            "log.flush.policy" => {
                self.flush = match value {
                    "batch" => FlushPolicy::EveryBatch,
                    "never" => FlushPolicy::Never,
                    "interval" => match self.flush {
                        FlushPolicy::Interval(d) => FlushPolicy::Interval(d),
                        _ => FlushPolicy::Interval(Duration::from_secs(1)),
                    },
                    _ => return Err(invalid(key, value, "expected batch, interval or never")),
                }
            }
            "log.flush.interval.ms" => {
                self.flush = FlushPolicy::Interval(Duration::from_millis(parse(key, value)?))
            }
            "log.flush.interval.messages" => {
                let n: i64 = parse(key, value)?;
                if n == 1 {
                    self.flush = FlushPolicy::EveryBatch;
                }
            }
            "log.retention.hours" | "log.retention.minutes" | "log.roll.hours" => {
                let n: i64 = parse(key, value)?;
                let factor = if key.ends_with("minutes") {
                    60_000
                } else {
                    3_600_000
                };
                let target = if key.starts_with("log.roll") {
                    "segment.ms"
                } else {
                    "retention.ms"
                };
                self.topic_defaults.set_with_source(
                    target,
                    &(n.saturating_mul(factor)).to_string(),
                    ConfigSource::StaticBroker,
                )?;
            }
            _ => {
                let target = TOPIC_CONFIG_KEYS
                    .iter()
                    .find(|k| k.broker_key == Some(key))
                    .map(|k| k.name)
                    .ok_or_else(|| Error::UnknownConfig {
                        key: key.to_string(),
                    })?;
                self.topic_defaults
                    .set_with_source(target, value, ConfigSource::StaticBroker)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_keys_have_kafkas_defaults_and_names() {
        let mut c = BrokerConfig::default();
        assert_eq!(c.transaction_max_timeout, Duration::from_secs(900));
        assert_eq!(c.transaction_abort_check_interval, Duration::from_secs(10));
        assert_eq!(c.producer_id_expiration, Duration::from_secs(86_400));
        c.set("transaction.max.timeout.ms", "60000").unwrap();
        c.set(
            "transaction.abort.timed.out.transaction.cleanup.interval.ms",
            "100",
        )
        .unwrap();
        c.set("producer.id.expiration.ms", "5000").unwrap();
        assert_eq!(c.transaction_max_timeout, Duration::from_secs(60));
        assert_eq!(
            c.transaction_abort_check_interval,
            Duration::from_millis(100)
        );
        assert_eq!(c.producer_id_expiration, Duration::from_secs(5));
        assert!(c.set("transaction.max.timeout.ms", "soon").is_err());
    }

    /// `super.users` parsing as Kafka's `StandardAuthorizerTest.testGetConfiguredSuperUsers`.
    #[test]
    fn authorizer_keys() {
        let mut c = BrokerConfig::default();
        assert!(c.authorizer_class_name.is_none());
        c.set("super.users", " ").unwrap();
        assert!(c.authorizer.super_users.is_empty());
        c.set("super.users", "User:bob;User:alice ").unwrap();
        assert_eq!(c.authorizer.super_users, vec!["User:bob", "User:alice"]);
        c.set("super.users", ";  User:bob  ;  User:alice ").unwrap();
        assert_eq!(c.authorizer.super_users, vec!["User:bob", "User:alice"]);
        assert!(c.set("super.users", "bob;:alice").is_err());
        assert!(!c.authorizer.allow_everyone_if_no_acl_found);
        c.set("allow.everyone.if.no.acl.found", "true").unwrap();
        assert!(c.authorizer.allow_everyone_if_no_acl_found);
        c.set(
            "authorizer.class.name",
            "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        )
        .unwrap();
        assert!(c.authorizer_class_name.is_some());
        c.set("authorizer.class.name", "").unwrap();
        assert!(c.authorizer_class_name.is_none());
    }

    #[test]
    fn topic_defaults_match_kafka() {
        let c = TopicConfig::default();
        assert_eq!(c.retention_ms(), Some(604_800_000));
        assert_eq!(c.retention_bytes(), None);
        assert_eq!(c.segment_bytes(), 1 << 30);
        assert!(c.cleanup_policy().delete);
        assert_eq!(c.entries().count(), TOPIC_CONFIG_KEYS.len());
    }

    #[test]
    fn topic_set_validates() {
        let mut c = TopicConfig::default();
        c.set("retention.ms", "1000").unwrap();
        assert_eq!(c.retention_ms(), Some(1000));
        assert!(matches!(
            c.set("retention.ms", "soon"),
            Err(Error::InvalidConfig { .. })
        ));
        assert!(matches!(
            c.set("no.such.key", "1"),
            Err(Error::UnknownConfig { .. })
        ));
        c.set("cleanup.policy", "compact").unwrap();
        assert!(!c.cleanup_policy().delete);
        assert_eq!(c.overrides().count(), 2);
    }

    #[test]
    fn broker_keys_map_to_topic_defaults() {
        let mut b = BrokerConfig::default();
        b.set("log.retention.hours", "1").unwrap();
        assert_eq!(b.topic_defaults.retention_ms(), Some(3_600_000));
        b.set("log.segment.bytes", "1024").unwrap();
        assert_eq!(b.topic_defaults.segment_bytes(), 1024);
        b.set("log.flush.policy", "batch").unwrap();
        assert_eq!(b.flush, FlushPolicy::EveryBatch);
        assert!(b.set("bogus", "1").is_err());
        assert_eq!(b.fetch_max_bytes, 57_671_680, "Kafka's default");
        b.set("fetch.max.bytes", "1024").unwrap();
        assert_eq!(b.fetch_max_bytes, 1024);
        assert!(b.set("fetch.max.bytes", "1023").is_err());
        assert_eq!(b.connections_max_idle, Duration::from_secs(600));
        b.set("connections.max.idle.ms", "500").unwrap();
        assert_eq!(b.connections_max_idle, Duration::from_millis(500));
        b.set("request.read.timeout.ms", "700").unwrap();
        assert_eq!(b.request_read_timeout, Duration::from_millis(700));
        assert_eq!(b.max_connections, i32::MAX as usize);
        b.set("max.connections", "3").unwrap();
        assert_eq!(b.max_connections, 3);
        assert!(b.set("max.connections", "0").is_err());
        b.set("group.initial.rebalance.delay.ms", "50").unwrap();
        assert_eq!(b.group.initial_rebalance_delay, Duration::from_millis(50));
        b.set("group.min.session.timeout.ms", "100").unwrap();
        assert_eq!(b.group.min_session_timeout, Duration::from_millis(100));
        assert!(b.set("group.max.session.timeout.ms", "-1").is_err());
        b.set("log.cleaner.backoff.ms", "250").unwrap();
        assert_eq!(b.cleaner.backoff, Duration::from_millis(250));
        b.set("log.cleaner.delete.retention.ms", "1000").unwrap();
        assert_eq!(b.topic_defaults.delete_retention_ms(), 1000);
        b.set("log.cleaner.min.cleanable.ratio", "0.1").unwrap();
        assert_eq!(b.topic_defaults.min_cleanable_dirty_ratio(), 0.1);
        assert!(b.set("log.cleaner.min.cleanable.ratio", "1.5").is_err());
        b.set("offsets.retention.minutes", "2").unwrap();
        assert_eq!(b.group.offsets_retention, Duration::from_secs(120));
        assert!(b.set("offsets.retention.check.interval.ms", "0").is_err());
        b.set("group.consumer.session.timeout.ms", "1500").unwrap();
        assert_eq!(
            b.group.consumer_session_timeout,
            Duration::from_millis(1500)
        );
        b.set("group.consumer.heartbeat.interval.ms", "100")
            .unwrap();
        assert_eq!(
            b.group.consumer_heartbeat_interval,
            Duration::from_millis(100)
        );
        b.set("group.consumer.assignors", "range, uniform").unwrap();
        assert_eq!(b.group.consumer_assignors, vec!["range", "uniform"]);
        assert!(b.set("group.consumer.assignors", "sticky").is_err());
        assert!(b.set("group.consumer.heartbeat.interval.ms", "0").is_err());
        let source = b
            .topic_defaults
            .entries()
            .find(|(k, _, _)| k.name == "segment.bytes")
            .map(|(_, _, s)| s);
        assert_eq!(source, Some(ConfigSource::StaticBroker));
    }
}
