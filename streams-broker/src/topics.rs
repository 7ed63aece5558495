//! The topic registry: which topics exist, their ids, configs and partition logs.
//!
//! In Kafka this is the metadata that the controller keeps (in KRaft, the `__cluster_metadata`
//! log). A single node needs much less: one small properties file per topic under
//! `<data-dir>/__rill_topics/`, named by topic id and written atomically (write, fsync,
//! rename), holding the name, the partition count and the topic-level config overrides.
//! The partition logs live beside it in `<data-dir>/<topic>-<partition>/`, as in Kafka: a
//! name of Kafka's full 249 characters leaves room for up to four partition digits within
//! the 255 bytes of a file name. A topic is created whole or not at all, and not beyond the
//! process's open-file limit (raised to its hard limit at start), since every partition
//! keeps its active segment's files open.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use uuid::Uuid;

use crate::config::{
    is_stored_dynamic_broker_key, topic_key_for_broker_key, ConfigSource, FlushPolicy, TopicConfig,
};
use crate::error::{Error, Result};
use crate::fs::write_atomic;
use crate::ids::random_uuid;
use crate::log::PartitionLog;

const TOPICS_DIR: &str = "__rill_topics";

/// Files a new partition opens: its first segment's log, offset index and time index.
const FILES_PER_PARTITION: u64 = 3;
/// Open files kept free for connections, snapshots and the cleaner when partitions are
/// created.
const RESERVED_FILES: u64 = 512;

/// Most partitions one topic may have: each is a directory with open files, and a
/// peer's `CreateTopics` must not be able to exhaust the machine's file handles.
pub(crate) const MAX_PARTITIONS_PER_TOPIC: i32 = 10_000;

/// Topics the broker keeps for itself, like Kafka's internal topics: committed offsets
/// and (for the transaction coordinator) transaction state. Metadata lists them only
/// when asked for by name, flagged `is_internal`, and clients cannot produce to them.
pub(crate) const INTERNAL_TOPICS: &[&str] = &[crate::group::OFFSETS_TOPIC, "__transaction_state"];

/// A topic and its partition logs.
#[derive(Debug)]
pub(crate) struct Topic {
    /// The topic's name.
    pub name: String,
    /// The topic id (Kafka's KIP-516 topic UUID), stable across restarts.
    pub id: Uuid,
    /// The configuration in force (broker defaults plus topic overrides).
    pub config: Arc<TopicConfig>,
    /// One log per partition, indexed by partition number.
    pub partitions: Vec<Arc<PartitionLog>>,
}

impl Topic {
    /// Whether this is one of the broker's [`INTERNAL_TOPICS`].
    pub(crate) fn is_internal(&self) -> bool {
        INTERNAL_TOPICS.contains(&self.name.as_str())
    }

    /// The log of `partition`, if the topic has it.
    pub(crate) fn partition(&self, partition: i32) -> Option<&Arc<PartitionLog>> {
        usize::try_from(partition)
            .ok()
            .and_then(|p| self.partitions.get(p))
    }
}

/// Checks a topic name against Kafka's rules: 1 to 249 characters from `[a-zA-Z0-9._-]`,
/// and not `.` or `..`.
pub(crate) fn validate_topic_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("the name is empty")
    } else if name.len() > 249 {
        Some("the name is longer than 249 characters")
    } else if name == "." || name == ".." {
        Some("`.` and `..` are not allowed")
    } else if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        Some("only ASCII letters, digits, `.`, `_` and `-` are allowed")
    } else {
        None
    };
    match reason {
        Some(r) => Err(Error::InvalidTopic {
            topic: name.to_string(),
            reason: r.to_string(),
        }),
        None => Ok(()),
    }
}

/// All topics of the broker.
#[derive(Debug)]
pub(crate) struct TopicRegistry {
    data_dir: PathBuf,
    /// The topic defaults of the broker's own configuration (built-in and `server.properties`).
    static_defaults: TopicConfig,
    /// Topic defaults altered at run time (Kafka's dynamic broker configs), persisted in
    /// `__rill_topics/broker-dynamic.cfg`.
    dynamic: RwLock<DynamicDefaults>,
    flush: FlushPolicy,
    topics: RwLock<BTreeMap<String, Arc<Topic>>>,
    /// The process's open-file limit, raised at start (`None` if it cannot be read).
    open_file_limit: Option<u64>,
}

/// Which dynamic broker configs an `AlterConfigs` changes: every broker's default (the
/// resource named ``) or this broker's own (the resource named by its `node.id`), which wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DynamicScope {
    /// The cluster-wide default.
    ClusterDefault,
    /// This broker.
    Broker,
}

/// Topic defaults set at run time, by broker property name (`log.retention.ms`).
#[derive(Debug, Clone, Default)]
pub(crate) struct DynamicDefaults {
    cluster: BTreeMap<String, String>,
    broker: BTreeMap<String, String>,
}

impl DynamicDefaults {
    /// The values of `scope`, by broker property name.
    pub(crate) fn scope(&self, scope: DynamicScope) -> &BTreeMap<String, String> {
        match scope {
            DynamicScope::ClusterDefault => &self.cluster,
            DynamicScope::Broker => &self.broker,
        }
    }

    fn scope_mut(&mut self, scope: DynamicScope) -> &mut BTreeMap<String, String> {
        match scope {
            DynamicScope::ClusterDefault => &mut self.cluster,
            DynamicScope::Broker => &mut self.broker,
        }
    }

    /// `base` with these values over it, as Kafka layers them: this broker's over the
    /// cluster default over the static configuration.
    fn apply_to(&self, base: &TopicConfig) -> Result<TopicConfig> {
        let mut config = base.clone();
        for (map, source) in [
            (&self.cluster, ConfigSource::DynamicDefaultBroker),
            (&self.broker, ConfigSource::DynamicBroker),
        ] {
            for (broker_key, value) in map {
                match topic_key_for_broker_key(broker_key) {
                    Some(key) => config.set_with_source(key.name, value, source)?,
                    // Stored for Kafka's tools, not acted on.
                    None if is_stored_dynamic_broker_key(broker_key) => {}
                    None => {
                        return Err(Error::UnknownConfig {
                            key: broker_key.clone(),
                        })
                    }
                }
            }
        }
        Ok(config)
    }

    fn to_properties(&self) -> String {
        let mut text = String::from("# Dynamic broker configs (AlterConfigs), by scope.\n");
        for (k, v) in &self.cluster {
            text.push_str(&format!("default.{k}={v}\n"));
        }
        for (k, v) in &self.broker {
            text.push_str(&format!("broker.{k}={v}\n"));
        }
        text
    }

    fn from_properties(path: &Path, text: &str) -> Result<Self> {
        let mut dynamic = DynamicDefaults::default();
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let corrupt = || Error::CorruptMetadata {
                path: path.to_path_buf(),
                reason: format!("bad line `{line}`"),
            };
            let (k, v) = line.split_once('=').ok_or_else(corrupt)?;
            if let Some(k) = k.strip_prefix("default.") {
                dynamic.cluster.insert(k.to_string(), v.to_string());
            } else if let Some(k) = k.strip_prefix("broker.") {
                dynamic.broker.insert(k.to_string(), v.to_string());
            } else {
                return Err(corrupt());
            }
        }
        Ok(dynamic)
    }
}

// Not `.properties`: that extension marks topic metadata files in the same directory.
const DYNAMIC_FILE: &str = "broker-dynamic.cfg";

impl TopicRegistry {
    /// Loads every topic found under `data_dir`, recovering their logs.
    pub(crate) fn open(data_dir: &Path, defaults: TopicConfig, flush: FlushPolicy) -> Result<Self> {
        let meta_dir = data_dir.join(TOPICS_DIR);
        std::fs::create_dir_all(&meta_dir).map_err(|e| Error::io(&meta_dir, e))?;
        let dynamic_path = meta_dir.join(DYNAMIC_FILE);
        let dynamic = match std::fs::read_to_string(&dynamic_path) {
            Ok(text) => DynamicDefaults::from_properties(&dynamic_path, &text)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => DynamicDefaults::default(),
            Err(e) => return Err(Error::io(&dynamic_path, e)),
        };
        let registry = TopicRegistry {
            data_dir: data_dir.to_path_buf(),
            static_defaults: defaults,
            dynamic: RwLock::new(dynamic),
            flush,
            topics: RwLock::new(BTreeMap::new()),
            open_file_limit: crate::fs::raise_open_file_limit(),
        };
        let mut loaded = BTreeMap::new();
        for entry in std::fs::read_dir(&meta_dir).map_err(|e| Error::io(&meta_dir, e))? {
            let path = entry.map_err(|e| Error::io(&meta_dir, e))?.path();
            if path.extension().is_some_and(|e| e == "properties") {
                let topic = registry.load_topic(&path)?;
                loaded.insert(topic.name.clone(), Arc::new(topic));
            }
        }
        tracing::info!(topics = loaded.len(), data_dir = %data_dir.display(), "loaded topics");
        *registry.topics.write().unwrap_or_else(|p| p.into_inner()) = loaded;
        Ok(registry)
    }

    fn load_topic(&self, path: &Path) -> Result<Topic> {
        let corrupt = |reason: &str| Error::CorruptMetadata {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        };
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut name = None;
        let mut id = None;
        let mut partitions = None;
        let mut config = self.defaults()?;
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let (k, v) = line
                .split_once('=')
                .ok_or_else(|| corrupt("line without `=`"))?;
            match k {
                "name" => name = Some(v.to_string()),
                "topic.id" => id = Some(Uuid::parse_str(v).map_err(|_| corrupt("bad topic.id"))?),
                "partitions" => {
                    partitions = Some(v.parse::<i32>().map_err(|_| corrupt("bad partitions"))?)
                }
                _ => match k.strip_prefix("config.") {
                    Some(key) => config.set(key, v)?,
                    None => return Err(corrupt("unknown key")),
                },
            }
        }
        let name = name.ok_or_else(|| corrupt("missing name"))?;
        let id = id.ok_or_else(|| corrupt("missing topic.id"))?;
        let partitions = partitions.ok_or_else(|| corrupt("missing partitions"))?;
        self.build_topic(name, id, partitions, config)
    }

    fn build_topic(
        &self,
        name: String,
        id: Uuid,
        partitions: i32,
        config: TopicConfig,
    ) -> Result<Topic> {
        let config = Arc::new(config);
        let logs = (0..partitions)
            .map(|p| {
                let dir = self.data_dir.join(format!("{name}-{p}"));
                PartitionLog::open(&dir, &name, p, config.clone(), self.flush).map(Arc::new)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Topic {
            name,
            id,
            config,
            partitions: logs,
        })
    }

    /// Where a topic's definition lives: named by its id, so that a name of Kafka's full
    /// 249 characters still makes a file name (and its `.tmp`) under 255 bytes.
    fn meta_path(&self, id: Uuid) -> PathBuf {
        self.data_dir
            .join(TOPICS_DIR)
            .join(format!("{id}.properties"))
    }

    /// Where releases before topic-id file names kept a topic's definition.
    fn legacy_meta_path(&self, name: &str) -> PathBuf {
        self.data_dir
            .join(TOPICS_DIR)
            .join(format!("{name}.properties"))
    }

    /// Refuses to create `partitions` partitions that would take the process past its
    /// open-file limit, with an error that says what to raise.
    fn check_open_files(&self, topic: &str, partitions: i32) -> Result<()> {
        let (Some(limit), Some(open)) = (self.open_file_limit, crate::fs::open_file_count()) else {
            return Ok(());
        };
        let needed = FILES_PER_PARTITION * partitions as u64;
        if open.saturating_add(needed).saturating_add(RESERVED_FILES) > limit {
            return Err(Error::OpenFileLimit {
                topic: topic.to_string(),
                partitions,
                needed,
                open,
                limit,
            });
        }
        Ok(())
    }

    /// The topic called `name`.
    pub(crate) fn get(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    /// The topic with id `id`.
    pub(crate) fn get_by_id(&self, id: Uuid) -> Option<Arc<Topic>> {
        self.topics
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .find(|t| t.id == id)
            .cloned()
    }

    /// Every topic, by name.
    pub(crate) fn list(&self) -> Vec<Arc<Topic>> {
        self.topics
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// The defaults in force for topic configs: built in, static, then dynamic broker configs.
    pub(crate) fn defaults(&self) -> Result<TopicConfig> {
        self.dynamic
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .apply_to(&self.static_defaults)
    }

    /// The dynamic broker configs set so far.
    pub(crate) fn dynamic_defaults(&self) -> DynamicDefaults {
        self.dynamic
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the dynamic broker configs of `scope` by `values` (broker property names,
    /// e.g. `log.retention.ms`; each must set a topic default), validating them first; the
    /// result is persisted and in force at once in every topic that does not override the
    /// key (Kafka's dynamic `log.*` broker configs). With `validate_only` nothing changes.
    pub(crate) fn alter_dynamic_defaults(
        &self,
        scope: DynamicScope,
        values: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<()> {
        let mut topics = self.topics.write().unwrap_or_else(|p| p.into_inner());
        let mut dynamic = self.dynamic.write().unwrap_or_else(|p| p.into_inner());
        let mut updated = dynamic.clone();
        *updated.scope_mut(scope) = values;
        let defaults = updated.apply_to(&self.static_defaults)?;
        if validate_only {
            return Ok(());
        }
        write_atomic(
            &self.data_dir.join(TOPICS_DIR).join(DYNAMIC_FILE),
            updated.to_properties().as_bytes(),
        )?;
        *dynamic = updated;
        // Every topic's config is the new defaults under its own overrides.
        for topic in topics.values_mut() {
            let mut config = defaults.clone();
            for (k, v) in topic.config.overrides() {
                config.set(k, v)?;
            }
            let shared = Arc::new(config);
            for log in &topic.partitions {
                log.set_config(shared.clone());
            }
            *topic = Arc::new(Topic {
                name: topic.name.clone(),
                id: topic.id,
                config: shared,
                partitions: topic.partitions.clone(),
            });
        }
        tracing::info!(?scope, "altered dynamic broker configs");
        Ok(())
    }

    /// Builds the config a new topic would get from the broker defaults and `overrides`.
    pub(crate) fn config_for(&self, overrides: &[(String, String)]) -> Result<TopicConfig> {
        let mut config = self.defaults()?;
        for (k, v) in overrides {
            config.set(k, v)?;
        }
        Ok(config)
    }

    /// Creates a topic with `partitions` partitions and topic-level config `overrides`.
    pub(crate) fn create(
        &self,
        name: &str,
        partitions: i32,
        overrides: &[(String, String)],
    ) -> Result<Arc<Topic>> {
        validate_topic_name(name)?;
        if !(1..=MAX_PARTITIONS_PER_TOPIC).contains(&partitions) {
            return Err(Error::InvalidConfig {
                key: "num.partitions".into(),
                value: partitions.to_string(),
                reason: format!("a topic has 1 to {MAX_PARTITIONS_PER_TOPIC} partitions"),
            });
        }
        let config = self.config_for(overrides)?;
        let mut topics = self.topics.write().unwrap_or_else(|p| p.into_inner());
        if topics.contains_key(name) {
            return Err(Error::TopicExists {
                topic: name.to_string(),
            });
        }
        self.check_open_files(name, partitions)?;
        let dirs: Vec<PathBuf> = (0..partitions)
            .map(|p| self.data_dir.join(format!("{name}-{p}")))
            .collect();
        // A stale directory from an interrupted delete must not leak old data.
        for dir in &dirs {
            if dir.exists() {
                std::fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            }
        }
        // Whatever still sits at a partition's path (a dangling link, say) is not ours
        // to remove if creation fails.
        let ours: Vec<&PathBuf> = dirs
            .iter()
            .filter(|d| d.symlink_metadata().is_err())
            .collect();
        let id = random_uuid();
        let meta = self.meta_path(id);
        // All or nothing: the topic exists once its definition is written, and a failure
        // before that (file limits, I/O errors) takes every directory made with it.
        let created = self
            .build_topic(name.to_string(), id, partitions, config)
            .and_then(|topic| {
                self.persist(&topic)?;
                Ok(topic)
            });
        let topic = match created {
            Ok(topic) => topic,
            Err(e) => {
                tracing::warn!(topic = name, error = %e, "topic creation failed; removing what it made");
                for dir in ours {
                    if let Err(e) = crate::fs::remove_dir_if_exists(dir) {
                        tracing::warn!(dir = %dir.display(), error = %e, "could not remove a partition directory");
                    }
                }
                let _ = crate::fs::remove_file_if_exists(&meta.with_extension("tmp"));
                return Err(e);
            }
        };
        tracing::info!(topic = name, partitions, %id, "created topic");
        let topic = Arc::new(topic);
        topics.insert(name.to_string(), topic.clone());
        Ok(topic)
    }

    /// Writes `topic`'s metadata file: its id, partition count and config overrides.
    fn persist(&self, topic: &Topic) -> Result<()> {
        let mut text = format!(
            "name={}\ntopic.id={}\npartitions={}\n",
            topic.name,
            topic.id,
            topic.partitions.len()
        );
        for (k, v) in topic.config.overrides() {
            text.push_str(&format!("config.{k}={v}\n"));
        }
        write_atomic(&self.meta_path(topic.id), text.as_bytes())?;
        // A definition written by an older release under the topic's name now has a successor.
        // (Names too long for such a file name, 255 bytes, never had one.)
        if topic.name.len() + ".properties".len() > 255 {
            return Ok(());
        }
        crate::fs::remove_file_if_exists(&self.legacy_meta_path(&topic.name))
    }

    /// Grows topic `name` to `total` partitions (Kafka's `CreatePartitions`); with
    /// `validate_only` nothing changes. A topic never shrinks.
    pub(crate) fn add_partitions(
        &self,
        name: &str,
        total: i32,
        validate_only: bool,
    ) -> Result<Arc<Topic>> {
        let mut topics = self.topics.write().unwrap_or_else(|p| p.into_inner());
        let topic = topics
            .get(name)
            .cloned()
            .ok_or_else(|| Error::UnknownTopic {
                topic: name.to_string(),
            })?;
        let current = topic.partitions.len() as i32;
        if total <= current {
            return Err(Error::InvalidPartitions {
                topic: name.to_string(),
                reason: format!(
                    "topic currently has {current} partitions, which is higher than or equal to the requested {total}"
                ),
            });
        }
        if total > MAX_PARTITIONS_PER_TOPIC {
            return Err(Error::InvalidPartitions {
                topic: name.to_string(),
                reason: format!("a topic has at most {MAX_PARTITIONS_PER_TOPIC} partitions"),
            });
        }
        if validate_only {
            return Ok(topic);
        }
        let mut partitions = topic.partitions.clone();
        for p in current..total {
            let dir = self.data_dir.join(format!("{name}-{p}"));
            // A stale directory (an interrupted delete) must not leak old data.
            if dir.exists() {
                std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            }
            let log = PartitionLog::open(&dir, name, p, topic.config.clone(), self.flush);
            match log {
                Ok(log) => partitions.push(Arc::new(log)),
                Err(e) => {
                    // All or nothing: drop the directories this call made.
                    for log in &partitions[current as usize..] {
                        let _ = std::fs::remove_dir_all(log.dir());
                    }
                    return Err(e);
                }
            }
        }
        let grown = Topic {
            name: topic.name.clone(),
            id: topic.id,
            config: topic.config.clone(),
            partitions,
        };
        if let Err(e) = self.persist(&grown) {
            for log in &grown.partitions[current as usize..] {
                let _ = std::fs::remove_dir_all(log.dir());
            }
            return Err(e);
        }
        tracing::info!(topic = name, from = current, to = total, "added partitions");
        let grown = Arc::new(grown);
        topics.insert(name.to_string(), grown.clone());
        Ok(grown)
    }

    /// Replaces topic `name`'s config overrides by `overrides` (already merged by the
    /// caller: Kafka's `AlterConfigs` and `IncrementalAlterConfigs`), validating every value
    /// first; the new config is persisted and in force in every partition at once. With
    /// `validate_only` nothing changes. Returns the config that is (or would be) in force.
    pub(crate) fn alter_config(
        &self,
        name: &str,
        overrides: &[(String, String)],
        validate_only: bool,
    ) -> Result<TopicConfig> {
        let config = self.config_for(overrides)?;
        if validate_only {
            self.get(name).ok_or_else(|| Error::UnknownTopic {
                topic: name.to_string(),
            })?;
            return Ok(config);
        }
        let mut topics = self.topics.write().unwrap_or_else(|p| p.into_inner());
        let topic = topics
            .get(name)
            .cloned()
            .ok_or_else(|| Error::UnknownTopic {
                topic: name.to_string(),
            })?;
        let shared = Arc::new(config.clone());
        let altered = Topic {
            name: topic.name.clone(),
            id: topic.id,
            config: shared.clone(),
            partitions: topic.partitions.clone(),
        };
        self.persist(&altered)?;
        for log in &altered.partitions {
            log.set_config(shared.clone());
        }
        tracing::info!(topic = name, ?overrides, "altered topic config");
        topics.insert(name.to_string(), Arc::new(altered));
        Ok(config)
    }

    /// Deletes a topic and its data.
    pub(crate) fn delete(&self, name: &str) -> Result<Arc<Topic>> {
        let mut topics = self.topics.write().unwrap_or_else(|p| p.into_inner());
        let topic = topics.remove(name).ok_or_else(|| Error::UnknownTopic {
            topic: name.to_string(),
        })?;
        let meta = self.meta_path(topic.id);
        let legacy = self.legacy_meta_path(name);
        if meta.exists() || !legacy.exists() {
            std::fs::remove_file(&meta).map_err(|e| Error::io(&meta, e))?;
        } else {
            std::fs::remove_file(&legacy).map_err(|e| Error::io(&legacy, e))?;
        }
        for log in &topic.partitions {
            if let Err(e) = std::fs::remove_dir_all(log.dir()) {
                tracing::warn!(dir = %log.dir().display(), error = %e, "could not remove partition directory");
            }
        }
        tracing::info!(topic = name, "deleted topic");
        Ok(topic)
    }

    /// Every partition log of every topic.
    pub(crate) fn all_logs(&self) -> Vec<Arc<PartitionLog>> {
        self.list()
            .iter()
            .flat_map(|t| t.partitions.iter().cloned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Kafka's 0081_admin alters `sasl.kerberos.min.time.before.relogin` on broker 0: a dynamic
    // key Rill stores and reports without acting on it. Unknown keys stay errors.
    #[test]
    fn other_dynamic_broker_keys_are_stored_and_unknown_ones_refused() {
        let dir = tempfile::tempdir().unwrap();
        let registry =
            TopicRegistry::open(dir.path(), TopicConfig::default(), FlushPolicy::Never).unwrap();
        let values: BTreeMap<String, String> = [
            (
                "sasl.kerberos.min.time.before.relogin".to_string(),
                "58000".to_string(),
            ),
            (
                "listener.name.client.ssl.keystore.type".to_string(),
                "PEM".to_string(),
            ),
        ]
        .into();
        registry
            .alter_dynamic_defaults(DynamicScope::Broker, values.clone(), false)
            .unwrap();
        assert_eq!(registry.defaults().unwrap(), TopicConfig::default());
        drop(registry);
        let registry =
            TopicRegistry::open(dir.path(), TopicConfig::default(), FlushPolicy::Never).unwrap();
        assert_eq!(
            registry.dynamic_defaults().scope(DynamicScope::Broker),
            &values
        );
        let unknown: BTreeMap<String, String> =
            [("no.such.key".to_string(), "1".to_string())].into();
        assert!(registry
            .alter_dynamic_defaults(DynamicScope::Broker, unknown, false)
            .is_err());
    }

    #[test]
    fn dynamic_broker_defaults_apply_live_persist_and_yield_to_topic_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let registry =
            TopicRegistry::open(dir.path(), TopicConfig::default(), FlushPolicy::Never).unwrap();
        registry.create("plain", 1, &[]).unwrap();
        registry
            .create("own", 1, &[("retention.ms".into(), "1000".into())])
            .unwrap();
        let values: BTreeMap<String, String> =
            [("log.retention.ms".to_string(), "7200000".to_string())].into();
        registry
            .alter_dynamic_defaults(DynamicScope::ClusterDefault, values, false)
            .unwrap();
        let plain = registry.get("plain").unwrap();
        assert_eq!(plain.config.retention_ms(), Some(7_200_000));
        assert_eq!(plain.partitions[0].config().retention_ms(), Some(7_200_000));
        assert_eq!(
            registry.get("own").unwrap().config.retention_ms(),
            Some(1000)
        );
        // This broker's value wins over the cluster default.
        let values: BTreeMap<String, String> =
            [("log.retention.ms".to_string(), "60000".to_string())].into();
        registry
            .alter_dynamic_defaults(DynamicScope::Broker, values, false)
            .unwrap();
        assert_eq!(
            registry.get("plain").unwrap().config.retention_ms(),
            Some(60_000)
        );
        // Invalid values and keys that are not topic defaults change nothing.
        let bad: BTreeMap<String, String> =
            [("log.retention.ms".to_string(), "soon".to_string())].into();
        assert!(registry
            .alter_dynamic_defaults(DynamicScope::Broker, bad, false)
            .is_err());
        drop(registry);
        let registry =
            TopicRegistry::open(dir.path(), TopicConfig::default(), FlushPolicy::Never).unwrap();
        assert_eq!(
            registry.get("plain").unwrap().config.retention_ms(),
            Some(60_000),
            "dynamic configs survive a restart"
        );
        registry.create("new", 1, &[]).unwrap();
        assert_eq!(
            registry.get("new").unwrap().config.retention_ms(),
            Some(60_000)
        );
    }

    #[test]
    fn topic_names() {
        assert!(validate_topic_name("orders.v1_a-b").is_ok());
        assert!(validate_topic_name("").is_err());
        assert!(validate_topic_name("..").is_err());
        assert!(validate_topic_name("a/b").is_err());
        assert!(validate_topic_name(&"x".repeat(250)).is_err());
    }

    /// Kafka's longest topic name, 249 characters, with the most partitions a topic may
    /// have: every file name fits, and the topic survives a reload and is deleted whole.
    #[test]
    fn names_of_249_characters_work() {
        let dir = tempfile::tempdir().unwrap();
        let reg =
            TopicRegistry::open(dir.path(), TopicConfig::default(), FlushPolicy::Never).unwrap();
        let name = "n".repeat(249);
        let t = reg.create(&name, 2, &[]).unwrap();
        let mut b = crate::log::batch::tests::make_batch(&[1]);
        assert_eq!(t.partitions[1].append(&mut b).unwrap().base_offset, 0);
        let id = t.id;
        drop((t, reg));
        let reg =
            TopicRegistry::open(dir.path(), TopicConfig::default(), FlushPolicy::Never).unwrap();
        let t = reg.get(&name).unwrap();
        assert_eq!((t.id, t.partitions[1].log_end_offset()), (id, 1));
        drop(t);
        reg.delete(&name).unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path().join(TOPICS_DIR))
                .unwrap()
                .count(),
            0
        );
        assert!(!dir.path().join(format!("{name}-0")).exists());
        // A partition number of four digits still fits.
        let last = dir
            .path()
            .join(format!("{name}-{}", MAX_PARTITIONS_PER_TOPIC - 1));
        std::fs::create_dir(&last).unwrap();
    }

    /// A creation that fails part-way (here partition 2's directory cannot be made) leaves
    /// no directory, definition or temporary file behind, and can then be retried.
    #[test]
    fn a_creation_that_fails_part_way_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let reg =
            TopicRegistry::open(dir.path(), TopicConfig::default(), FlushPolicy::Never).unwrap();
        let blocker = dir.path().join("half-2");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &blocker).unwrap();
        assert!(reg.create("half", 4, &[]).is_err());
        assert!(reg.get("half").is_none());
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [TOPICS_DIR, "half-2"], "only the blocker remains");
        assert_eq!(
            std::fs::read_dir(dir.path().join(TOPICS_DIR))
                .unwrap()
                .count(),
            0
        );
        std::fs::remove_file(&blocker).unwrap();
        assert_eq!(reg.create("half", 4, &[]).unwrap().partitions.len(), 4);
    }

    /// Partitions that would take the process past its open-file limit are refused up
    /// front, with an error naming the limit, and nothing is created.
    #[test]
    fn creation_beyond_the_open_file_limit_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut reg =
            TopicRegistry::open(dir.path(), TopicConfig::default(), FlushPolicy::Never).unwrap();
        let open = crate::fs::open_file_count().unwrap();
        reg.open_file_limit = Some(open + RESERVED_FILES + 30);
        let err = reg.create("wide", 20, &[]).unwrap_err();
        assert!(
            matches!(err, Error::OpenFileLimit { partitions: 20, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("ulimit -n"), "{err}");
        assert!(!dir.path().join("wide-0").exists());
        assert_eq!(reg.create("narrow", 5, &[]).unwrap().partitions.len(), 5);
        assert!(crate::fs::raise_open_file_limit().is_some_and(|l| l > 0));
    }

    #[test]
    fn create_reload_delete() {
        let dir = tempfile::tempdir().unwrap();
        let reg =
            TopicRegistry::open(dir.path(), TopicConfig::default(), FlushPolicy::Never).unwrap();
        let t = reg
            .create("events", 3, &[("retention.ms".into(), "5000".into())])
            .unwrap();
        assert!(matches!(
            reg.create("events", 1, &[]),
            Err(Error::TopicExists { .. })
        ));
        assert!(reg
            .create("bad", 1, &[("nope".into(), "1".into())])
            .is_err());
        let id = t.id;
        drop(reg);
        let reg =
            TopicRegistry::open(dir.path(), TopicConfig::default(), FlushPolicy::Never).unwrap();
        let t = reg.get("events").unwrap();
        assert_eq!(t.id, id);
        assert_eq!(t.partitions.len(), 3);
        assert_eq!(t.config.retention_ms(), Some(5000));
        assert!(reg.get_by_id(id).is_some());
        reg.delete("events").unwrap();
        assert!(reg.get("events").is_none());
        assert!(!dir.path().join("events-0").exists());
        assert_ne!(random_uuid(), random_uuid());
    }
}
