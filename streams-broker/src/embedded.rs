//! The broker inside your process: start it, point clients at it, shut it down.
//!
//! [`EmbeddedBroker::start`] runs a complete broker on its own thread and tokio runtime, so
//! it works the same from synchronous code, from tests and from inside another tokio
//! runtime. By default it listens on an ephemeral loopback port and keeps its data in a
//! temporary directory that is removed on shutdown; give it a `data_dir` to keep data
//! across restarts. This is the in-process counterpart of the `rill broker` command
//! (and of the embedded Kafka clusters used in Kafka Streams' integration tests).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use crate::broker::Broker;
use crate::config::BrokerConfig;
use crate::error::{Error, Result};
use crate::group::{GroupDescription, OffsetAndMetadata};
use crate::inspect::{TopicView, TransactionDescription};
use crate::log::CleanStats;
use crate::network::Server;

/// Starts brokers in-process. See [`BrokerHandle`] for what a running one offers.
#[derive(Debug)]
pub struct EmbeddedBroker;

impl EmbeddedBroker {
    /// Starts a broker with `config` and returns once it accepts connections.
    pub fn start(mut config: BrokerConfig) -> Result<BrokerHandle> {
        let temp_dir = match &config.data_dir {
            Some(_) => None,
            None => {
                let dir = tempfile::Builder::new()
                    .prefix("rill-broker-")
                    .tempdir()
                    .map_err(|e| Error::io(std::env::temp_dir(), e))?;
                config.data_dir = Some(dir.path().to_path_buf());
                Some(dir)
            }
        };
        let data_dir = config.data_dir.clone().unwrap_or_default();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("rill-broker".into())
            .spawn(move || -> Result<()> {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("rill-broker-worker")
                    .enable_all()
                    .build()
                    .map_err(|e| Error::io("tokio runtime", e))?;
                runtime.block_on(async move {
                    let server = match Server::bind(config).await {
                        Ok(s) => s,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return Ok(());
                        }
                    };
                    let _ = ready_tx.send(Ok((server.listener_addrs(), server.broker())));
                    server
                        .run(async {
                            let _ = stop_rx.await;
                        })
                        .await
                })
            })
            .map_err(|e| Error::io("broker thread", e))?;
        let (listeners, broker) = match ready_rx.recv() {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => {
                return Err(match thread.join() {
                    Ok(Err(e)) => e,
                    _ => Error::Stopped,
                })
            }
        };
        let addr = listeners[0].1;
        Ok(BrokerHandle {
            addr,
            listeners,
            broker,
            data_dir,
            stop: Some(stop_tx),
            thread: Some(thread),
            _temp_dir: temp_dir,
        })
    }
}

/// A running embedded broker. Dropping it shuts the broker down (use [`shutdown`] to see
/// errors).
///
/// [`shutdown`]: BrokerHandle::shutdown
#[derive(Debug)]
pub struct BrokerHandle {
    addr: SocketAddr,
    listeners: Vec<(String, SocketAddr)>,
    broker: Arc<Broker>,
    data_dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<()>>>,
    _temp_dir: Option<tempfile::TempDir>,
}

impl BrokerHandle {
    /// The address clients use, as `host:port` (for `bootstrap.servers`).
    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    /// The socket address the broker listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address of the listener named `name` (`PLAINTEXT`, `SASL_PLAINTEXT`, …), as
    /// `host:port`; `None` if there is no such listener.
    pub fn listener_bootstrap(&self, name: &str) -> Option<String> {
        self.listeners
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, addr)| addr.to_string())
    }

    /// Adds ACL bindings, as `CreateAcls` does; an error if the authorizer is off or a
    /// binding is invalid.
    pub fn create_acls(&self, bindings: &[crate::security::acl::AclBinding]) -> Result<()> {
        let authorizer = self
            .broker
            .authorizer()
            .ok_or_else(|| Error::InvalidConfig {
                key: "authorizer.class.name".into(),
                value: String::new(),
                reason: "the authorizer is not enabled".into(),
            })?;
        if let Some(reason) = bindings.iter().find_map(|b| b.invalid_reason()) {
            return Err(Error::InvalidConfig {
                key: "acl".into(),
                value: String::new(),
                reason,
            });
        }
        authorizer.create(bindings)
    }

    /// Sets `user`'s SCRAM password for `mechanism` (`SCRAM-SHA-256`, `SCRAM-SHA-512`) with
    /// 4096 iterations, as `AlterUserScramCredentials` does.
    pub fn set_scram_password(&self, user: &str, mechanism: &str, password: &str) -> Result<()> {
        let m = crate::security::scram::ScramMechanism::from_name(mechanism).ok_or_else(|| {
            Error::InvalidConfig {
                key: "mechanism".into(),
                value: mechanism.to_string(),
                reason: "not a SCRAM mechanism".into(),
            }
        })?;
        self.broker
            .credentials()
            .set_password(user, m, password, 4096)
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Creates a topic with `partitions` partitions and default configuration.
    pub fn create_topic(&self, name: &str, partitions: i32) -> Result<TopicView> {
        self.create_topic_with_config(name, partitions, &[])
    }

    /// Creates a topic with topic-level configs given by Kafka name
    /// (`[("retention.ms", "60000")]`).
    pub fn create_topic_with_config(
        &self,
        name: &str,
        partitions: i32,
        configs: &[(&str, &str)],
    ) -> Result<TopicView> {
        let overrides: Vec<(String, String)> = configs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let topic = self.broker.topics().create(name, partitions, &overrides)?;
        Ok(TopicView::of(&topic))
    }

    /// The topic `name`, with a live view of each partition's log, if it exists.
    pub fn topic(&self, name: &str) -> Option<TopicView> {
        self.broker.topics().get(name).map(|t| TopicView::of(&t))
    }

    /// Compacts every partition of every topic whose `cleanup.policy` includes
    /// `compact`, now, whatever their dirty ratio (the background cleaner waits for
    /// `min.cleanable.dirty.ratio`). Returns the statistics summed over the partitions.
    pub fn compact_now(&self) -> Result<CleanStats> {
        self.broker.compact_now()
    }

    /// Applies time and size retention to every partition now, as the background
    /// retention check does; returns the number of segments deleted.
    pub fn enforce_retention(&self) -> usize {
        self.broker.enforce_retention()
    }

    /// The consumer group `group_id` as `DescribeGroups` shows it, if the broker knows it.
    pub fn describe_group(&self, group_id: &str) -> Option<GroupDescription> {
        self.broker.groups().describe_group(group_id)
    }

    /// The offset `group_id` committed for a partition, if any.
    pub fn committed_offset(
        &self,
        group_id: &str,
        topic: &str,
        partition: i32,
    ) -> Option<OffsetAndMetadata> {
        self.broker
            .groups()
            .committed_offset(group_id, topic, partition)
    }

    /// Where the transactional producer `transactional_id` stands, if the transaction
    /// coordinator knows it.
    pub fn describe_transaction(&self, transactional_id: &str) -> Option<TransactionDescription> {
        self.broker
            .transactions()
            .describe(transactional_id)
            .map(TransactionDescription::of)
    }

    /// Stops accepting connections, closes the open ones, flushes every log to disk and
    /// waits for the broker thread to finish.
    pub fn shutdown(mut self) -> Result<()> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| Error::Stopped)?,
            None => Ok(()),
        }
    }
}

impl Drop for BrokerHandle {
    fn drop(&mut self) {
        if let Err(e) = self.stop_and_join() {
            tracing::error!(error = %e, "embedded broker shutdown failed");
        }
    }
}
