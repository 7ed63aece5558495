//! The broker's shared state and its background duties.
//!
//! [`Broker`] is what every connection and handler sees: the configuration, the topic
//! registry, the group and transaction coordinators, the cluster identity and a signal
//! that fires whenever records are appended (it wakes long-polling fetches, like Kafka's
//! delayed-fetch purgatory). Background duties run beside the listener: the flusher (for
//! [`FlushPolicy::Interval`]), the retention checker (Kafka's `LogManager` cleanup loop),
//! the log cleaner, which compacts the logs of `cleanup.policy=compact` topics (Kafka's
//! `LogCleaner`), the group coordinator's timers (sessions and rebalance deadlines) and
//! the transaction coordinator's timeout check.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::watch;

use crate::clock::now_ms;
use crate::config::{BrokerConfig, FlushPolicy};
use crate::error::{Error, Result};
use crate::fs::write_atomic;
use crate::group::{GroupCoordinator, OFFSETS_TOPIC, OFFSETS_TOPIC_CONFIG};
use crate::ids::random_uuid;
use crate::log::CleanStats;
use crate::security::acl::{AclOperation, Authorizer, ResourceType};
use crate::security::credentials::CredentialStore;
use crate::security::principal::RequestContext;
use crate::topics::TopicRegistry;
use crate::txn::TransactionCoordinator;

const META_FILE: &str = "meta.properties";
const LOCK_FILE: &str = ".lock";

/// Exclusive use of a data directory, like Kafka's `.lock` file: two brokers appending to
/// the same logs would corrupt them. The file holds the owner's process id; a lock left by
/// a process that no longer exists (a crash) is taken over. Removed on drop.
#[derive(Debug)]
struct DirLock {
    path: PathBuf,
}

impl DirLock {
    fn acquire(data_dir: &Path) -> Result<DirLock> {
        let path = data_dir.join(LOCK_FILE);
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut f) => {
                    use std::io::Write;
                    f.write_all(std::process::id().to_string().as_bytes())
                        .map_err(|e| Error::io(&path, e))?;
                    return Ok(DirLock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let pid = std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|s| s.trim().parse::<u32>().ok());
                    let alive = pid.is_some_and(|p| Path::new(&format!("/proc/{p}")).exists());
                    if let (Some(pid), true) = (pid, alive) {
                        return Err(Error::DataDirLocked { path, pid });
                    }
                    tracing::warn!(lock = %path.display(), "taking over a stale data directory lock");
                    std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                }
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
        Err(Error::DataDirLocked {
            path,
            pid: std::process::id(),
        })
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Shared state of a running broker.
#[derive(Debug)]
pub(crate) struct Broker {
    config: BrokerConfig,
    data_dir: PathBuf,
    topics: TopicRegistry,
    transactions: TransactionCoordinator,
    groups: Arc<GroupCoordinator>,
    /// The ACL authorizer; `None` when `authorizer.class.name` is unset (allow all).
    authorizer: Option<Authorizer>,
    /// Users' SCRAM credentials (`scram-credentials.json`).
    credentials: CredentialStore,
    cluster_id: String,
    advertised_host: String,
    advertised_port: i32,
    appended: watch::Sender<u64>,
    /// Set when the broker stops: a running clean gives up between two chunks.
    stop_cleaning: AtomicBool,
    _lock: DirLock,
}

/// Kafka cluster ids are a UUID in URL-safe base64 without padding (22 characters).
fn encode_cluster_id(bytes: &[u8; 16]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(22);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 6 {
            bits -= 6;
            out.push(ALPHABET[((acc >> bits) & 63) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (6 - bits)) & 63) as usize] as char);
    }
    out
}

/// Reads or creates `meta.properties` (cluster id and node id), like Kafka's own.
fn load_cluster_id(data_dir: &Path, node_id: i32) -> Result<String> {
    let path = data_dir.join(META_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        if let Some(id) = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("cluster.id="))
        {
            return Ok(id.trim().to_string());
        }
        return Err(Error::CorruptMetadata {
            path,
            reason: "no cluster.id".into(),
        });
    }
    let id = encode_cluster_id(random_uuid().as_bytes());
    write_atomic(
        &path,
        format!("version=1\ncluster.id={id}\nnode.id={node_id}\n").as_bytes(),
    )?;
    Ok(id)
}

/// Creates the internal offsets topic on first start and loads the group coordinator
/// from it.
fn open_group_coordinator(
    config: &BrokerConfig,
    topics: &TopicRegistry,
) -> Result<GroupCoordinator> {
    let topic = match topics.get(OFFSETS_TOPIC) {
        Some(t) => t,
        None => {
            let overrides: Vec<(String, String)> = OFFSETS_TOPIC_CONFIG
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            topics.create(OFFSETS_TOPIC, 1, &overrides)?
        }
    };
    let log = topic
        .partition(0)
        .cloned()
        .ok_or_else(|| Error::UnknownTopic {
            topic: format!("{OFFSETS_TOPIC}-0"),
        })?;
    GroupCoordinator::open(config.group.clone(), log)
}

impl Broker {
    /// Opens the data directory (creating it if needed) and loads every topic, recovering
    /// the logs. `advertised` is the address clients are told to connect to.
    pub(crate) fn open(
        config: BrokerConfig,
        data_dir: &Path,
        advertised: std::net::SocketAddr,
    ) -> Result<Broker> {
        std::fs::create_dir_all(data_dir).map_err(|e| Error::io(data_dir, e))?;
        let lock = DirLock::acquire(data_dir)?;
        let cluster_id = load_cluster_id(data_dir, config.node_id)?;
        let topics = TopicRegistry::open(data_dir, config.topic_defaults.clone(), config.flush)?;
        let groups = Arc::new(open_group_coordinator(&config, &topics)?);
        let max_timeout =
            i64::try_from(config.transaction_max_timeout.as_millis()).unwrap_or(i64::MAX);
        let transactions = TransactionCoordinator::open(data_dir, config.flush, max_timeout)?;
        // Committed transactions' offsets go to the groups' offset store, also for
        // transactions completed by the recovery below.
        transactions.set_offset_sink(groups.clone());
        let resolved = transactions.recover(&topics)?;
        if resolved > 0 {
            tracing::info!(
                transactions = resolved,
                "resolved transactions left in flight"
            );
        }
        let authorizer = match &config.authorizer_class_name {
            Some(class) => {
                tracing::info!(
                    %class,
                    super_users = ?config.authorizer.super_users,
                    allow_everyone_if_no_acl_found =
                        config.authorizer.allow_everyone_if_no_acl_found,
                    "ACL authorization enabled; clients are User:ANONYMOUS until SASL listeners exist"
                );
                Some(Authorizer::open(data_dir, &config.authorizer)?)
            }
            None => None,
        };
        let advertised_host = config
            .advertised_host
            .clone()
            .unwrap_or_else(|| advertised.ip().to_string());
        Ok(Broker {
            data_dir: data_dir.to_path_buf(),
            topics,
            transactions,
            groups,
            authorizer,
            credentials: CredentialStore::open(data_dir)?,
            cluster_id,
            advertised_host,
            advertised_port: i32::from(advertised.port()),
            appended: watch::channel(0).0,
            stop_cleaning: AtomicBool::new(false),
            config,
            _lock: lock,
        })
    }

    /// The configuration the broker runs with.
    pub(crate) fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// The data directory.
    pub(crate) fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The topics.
    pub(crate) fn topics(&self) -> &TopicRegistry {
        &self.topics
    }

    /// The transaction coordinator.
    pub(crate) fn transactions(&self) -> &TransactionCoordinator {
        &self.transactions
    }

    /// The group coordinator (consumer groups and committed offsets).
    pub(crate) fn groups(&self) -> &GroupCoordinator {
        &self.groups
    }

    /// The ACL authorizer, if one is configured.
    pub(crate) fn authorizer(&self) -> Option<&Authorizer> {
        self.authorizer.as_ref()
    }

    /// Users' SCRAM credentials.
    pub(crate) fn credentials(&self) -> &CredentialStore {
        &self.credentials
    }

    /// Whether the request's principal may perform `operation` on the resource `name`;
    /// always true without an authorizer.
    pub(crate) fn authorize(
        &self,
        ctx: &RequestContext,
        operation: AclOperation,
        resource_type: ResourceType,
        name: &str,
    ) -> bool {
        let Some(authorizer) = &self.authorizer else {
            return true;
        };
        let allowed =
            authorizer.authorize(&ctx.principal, &ctx.host(), operation, resource_type, name);
        if !allowed {
            tracing::debug!(principal = %ctx.principal, ?operation, ?resource_type, resource = name, "denied");
        }
        allowed
    }

    /// The cluster id (persisted in `meta.properties`).
    pub(crate) fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    /// This broker's node id.
    pub(crate) fn node_id(&self) -> i32 {
        self.config.node_id
    }

    /// The host and port advertised in metadata.
    pub(crate) fn advertised(&self) -> (&str, i32) {
        (&self.advertised_host, self.advertised_port)
    }

    /// Signals that records were appended, waking waiting fetches.
    pub(crate) fn notify_append(&self) {
        self.appended.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that sees every later append signal.
    pub(crate) fn subscribe_appends(&self) -> watch::Receiver<u64> {
        self.appended.subscribe()
    }

    /// Forces every partition to disk.
    pub(crate) fn flush_all(&self) -> Result<()> {
        for log in self.topics.all_logs() {
            log.flush()?;
        }
        self.transactions.sync()
    }

    /// Aborts transactions past their timeout (and retries pending markers); returns how
    /// many ended.
    pub(crate) fn abort_expired_transactions(&self) -> usize {
        let ended = self.transactions.abort_expired(now_ms(), &self.topics);
        if ended > 0 {
            self.notify_append();
        }
        ended
    }

    /// Runs retention over every partition once; returns the segments deleted.
    /// Producers idle longer than `producer.id.expiration.ms` are forgotten on the same
    /// pass.
    pub(crate) fn enforce_retention(&self) -> usize {
        let now = now_ms();
        let mut deleted = 0;
        let expiration =
            i64::try_from(self.config.producer_id_expiration.as_millis()).unwrap_or(i64::MAX);
        for log in self.topics.all_logs() {
            let expired = log.expire_producers(now, expiration);
            if expired > 0 {
                tracing::debug!(
                    topic = log.topic(),
                    partition = log.partition(),
                    producers = expired,
                    "expired idle producer ids"
                );
            }
            match log.enforce_retention(now) {
                Ok(n) => deleted += n,
                Err(e) => {
                    tracing::error!(topic = log.topic(), partition = log.partition(), error = %e, "retention failed")
                }
            }
        }
        deleted
    }

    /// Compacts every partition of every topic whose `cleanup.policy` includes `compact`,
    /// now, whatever their dirty ratio (for tests and tools; the background cleaner waits
    /// for `min.cleanable.dirty.ratio`). Returns the statistics summed over the partitions;
    /// stops at the first partition that fails.
    pub(crate) fn compact_now(&self) -> Result<CleanStats> {
        let now = now_ms();
        let mut total = CleanStats::default();
        for log in self.topics.all_logs() {
            if log.config().cleanup_policy().compact {
                let stats = log.clean_pass(
                    now,
                    self.config.cleaner.dedupe_buffer_size,
                    &self.stop_cleaning,
                )?;
                total.add(&stats);
            }
        }
        Ok(total)
    }

    /// One pass of the background cleaner: compacts the logs that need it (see
    /// [`PartitionLog::needs_cleaning`](crate::log::PartitionLog::needs_cleaning)).
    /// Failures are logged and leave the log as it was; the next pass tries again.
    pub(crate) fn run_cleaner(&self) -> CleanStats {
        let mut total = CleanStats::default();
        for log in self.topics.all_logs() {
            if self.stop_cleaning.load(Ordering::Relaxed) {
                break;
            }
            let now = now_ms();
            if !log.needs_cleaning(now) {
                continue;
            }
            match log.clean_pass(
                now,
                self.config.cleaner.dedupe_buffer_size,
                &self.stop_cleaning,
            ) {
                Ok(stats) => total.add(&stats),
                Err(Error::Stopped) => break,
                Err(e) => {
                    tracing::error!(topic = log.topic(), partition = log.partition(), error = %e, "log cleaning failed")
                }
            }
        }
        total
    }

    /// Runs the flusher, the retention checker, the log cleaner, the group coordinator's
    /// timers and the transaction timeout check until `shutdown` turns true. A pass of the
    /// cleaner runs on a blocking thread of its own, so that a long clean delays neither
    /// flushes nor retention.
    pub(crate) async fn run_background(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let group_timers = tokio::spawn(self.groups.clone().run(shutdown.clone()));
        let flush_every = match self.config.flush {
            FlushPolicy::Interval(d) => Some(d.max(std::time::Duration::from_millis(1))),
            _ => None,
        };
        let mut flush_tick =
            tokio::time::interval(flush_every.unwrap_or(std::time::Duration::from_secs(3600)));
        // Like Kafka, the first retention pass runs one interval after start-up.
        let retention_every = self
            .config
            .retention_check_interval
            .max(std::time::Duration::from_millis(10));
        let mut retention_tick = tokio::time::interval_at(
            tokio::time::Instant::now() + retention_every,
            retention_every,
        );
        let txn_every = self
            .config
            .transaction_abort_check_interval
            .max(std::time::Duration::from_millis(10));
        let mut txn_tick =
            tokio::time::interval_at(tokio::time::Instant::now() + txn_every, txn_every);
        txn_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        flush_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        retention_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let cleaner = self.config.cleaner;
        let cleaner_every = cleaner.backoff.max(std::time::Duration::from_millis(10));
        let mut cleaner_tick =
            tokio::time::interval_at(tokio::time::Instant::now() + cleaner_every, cleaner_every);
        cleaner_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut cleaning: Option<tokio::task::JoinHandle<CleanStats>> = None;
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                _ = cleaner_tick.tick(), if cleaner.enable => {
                    if cleaning.as_ref().is_none_or(|c| c.is_finished()) {
                        let broker = self.clone();
                        cleaning = Some(tokio::task::spawn_blocking(move || broker.run_cleaner()));
                    }
                }
                _ = flush_tick.tick(), if flush_every.is_some() => {
                    let broker = self.clone();
                    match tokio::task::spawn_blocking(move || broker.flush_all()).await {
                        Ok(Err(e)) => tracing::error!(error = %e, "periodic flush failed"),
                        Err(e) => tracing::error!(error = %e, "periodic flush task failed"),
                        Ok(Ok(())) => {}
                    }
                }
                _ = txn_tick.tick() => {
                    let broker = self.clone();
                    let ended = tokio::task::spawn_blocking(move || broker.abort_expired_transactions()).await.unwrap_or(0);
                    if ended > 0 {
                        tracing::info!(transactions = ended, "timed-out transactions aborted");
                    }
                }
                _ = retention_tick.tick() => {
                    let broker = self.clone();
                    let deleted = tokio::task::spawn_blocking(move || broker.enforce_retention()).await.unwrap_or(0);
                    if deleted > 0 {
                        tracing::info!(segments = deleted, "retention deleted segments");
                    }
                }
            }
        }
        self.stop_cleaning.store(true, Ordering::Relaxed);
        if let Some(c) = cleaning {
            let _ = c.await;
        }
        let _ = group_timers.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_id_is_22_chars_and_stable() {
        assert_eq!(encode_cluster_id(&[0u8; 16]), "AAAAAAAAAAAAAAAAAAAAAA");
        let dir = tempfile::tempdir().unwrap();
        let a = load_cluster_id(dir.path(), 0).unwrap();
        assert_eq!(a.len(), 22);
        assert_eq!(load_cluster_id(dir.path(), 0).unwrap(), a);
    }

    #[test]
    fn a_data_dir_has_one_broker_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let addr = "127.0.0.1:9092".parse().unwrap();
        let config = BrokerConfig::with_data_dir(dir.path());
        let first = Broker::open(config.clone(), dir.path(), addr).unwrap();
        let second = Broker::open(config.clone(), dir.path(), addr);
        assert!(matches!(second, Err(Error::DataDirLocked { .. })));
        drop(first);
        let third = Broker::open(config.clone(), dir.path(), addr).unwrap();
        drop(third);
        // A lock left by a process that no longer exists is taken over.
        std::fs::write(dir.path().join(LOCK_FILE), "999999999").unwrap();
        Broker::open(config, dir.path(), addr).unwrap();
    }
}
