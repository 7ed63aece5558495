//! Internal topics at start-up, like Kafka Streams' `InternalTopicManager` and the
//! partition-count part of its `StreamsPartitionAssignor`.
//!
//! Before any stream thread starts, the runtime reads the cluster's metadata and works out the
//! [`TopicLayout`]: which sub-topology reads which topic, and how many partitions (so tasks)
//! each sub-topology has. User source topics must exist (a missing one is
//! [`Error::MissingSourceTopics`]); the inputs of one sub-topology must have equal partition
//! counts, because task `s_p` reads partition `p` of each (otherwise
//! [`Error::CoPartitioning`]). Repartition topics get the partition count they were given
//! (`Repartitioned::with_number_of_partitions`), else that of the user topics read beside them
//! (co-partitioning, as for the foreign-key join's internal topics), else that of the
//! sub-topology writing them; global topics (read by global sub-topologies) must exist too but
//! may have any partition count: every instance reads all their partitions, and they make no
//! tasks;
//! changelog topics get their sub-topology's count. Missing internal topics are created with
//! the admin client: changelogs `cleanup.policy=compact`, window and session changelogs
//! `compact,delete` with `retention.ms` = store retention + one day (Kafka's
//! `windowstore.changelog.additional.retention.ms`). Existing ones must have the expected
//! partition count. They get `replication.factor` (default -1: the broker's
//! `default.replication.factor`) and the `topic.*` configurations, under the runtime's own.
//!
//! Reading the metadata is the first time an instance talks to the cluster: while it cannot,
//! the runtime logs a warning naming `bootstrap.servers` and retries, for up to
//! `task.timeout.ms`, then `start()` fails with [`Error::ClusterUnreachable`].

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::types::RDKafkaErrorCode;

use crate::error::{Error, Result};
use streams_core::internals::{self, StoreChangelog};
use streams_core::{StreamsConfig, Topology};

/// Kafka Streams' `windowstore.changelog.additional.retention.ms` default: one day.
const ADDITIONAL_WINDOW_CHANGELOG_RETENTION_MS: i64 = 24 * 60 * 60 * 1000;

/// Where each sub-topology's data lives: its input topics, its partition count and the
/// changelogs of its stores.
#[derive(Debug, Clone, Default)]
pub(crate) struct TopicLayout {
    /// Every topic the application reads (resolved names) → the sub-topology reading it.
    pub(crate) source_topics: BTreeMap<String, u32>,
    /// Per sub-topology: its input topics (resolved); none for a global sub-topology.
    pub(crate) inputs: Vec<Vec<String>>,
    /// Per sub-topology: the partition count, so the number of its tasks (0 for a global one).
    pub(crate) partitions: Vec<i32>,
    /// The topics of the global sub-topologies and their partition counts.
    pub(crate) global_topics: BTreeMap<String, i32>,
    /// Per sub-topology: the logged stores and their changelog topics.
    pub(crate) changelogs: Vec<Vec<StoreChangelog>>,
    /// The partition count of every topic known at start (the cluster's and the internal
    /// ones), for sinks with a stream partitioner.
    pub(crate) topic_partitions: Arc<BTreeMap<String, i32>>,
    /// For a topology with pattern sources: the topology with each pattern resolved against
    /// the topics that existed at start (Kafka re-resolves as topics appear; Rill does not).
    pub(crate) resolved_topology: Option<Topology>,
}

impl TopicLayout {
    /// Every changelog topic of the application.
    pub(crate) fn changelog_topics(&self) -> BTreeSet<String> {
        self.changelogs
            .iter()
            .flatten()
            .map(|c| c.topic.clone())
            .collect()
    }
}

/// Reads the cluster's metadata, validates the topology's topics against it, creates the
/// missing internal topics and returns the layout; see the module docs.
pub(crate) fn prepare(
    topology: &Topology,
    config: &StreamsConfig,
    admin_config: &ClientConfig,
) -> Result<TopicLayout> {
    let application_id = config.application_id();
    let timeout = config.task_timeout();
    let admin: AdminClient<DefaultClientContext> = admin_config
        .create()
        .map_err(|e| Error::kafka("creating the admin client", e))?;
    let existing = wait_for_cluster(&admin, config)?;
    // Pattern sources read the user topics that match now; internal topics (the cluster's
    // `__…` and this application's `<application.id>-…`) never match.
    let resolved = if topology.has_source_patterns() {
        let internal = format!("{application_id}-");
        let candidates = existing
            .keys()
            .filter(|t| !t.starts_with("__") && !t.starts_with(&internal))
            .map(String::as_str);
        Some(topology.resolve_source_patterns(candidates)?)
    } else {
        None
    };
    let topology = resolved.as_ref().unwrap_or(topology);
    let subs = topology.subtopology_count() as u32;
    let repartition: BTreeMap<String, Option<u32>> = topology
        .repartition_topics()
        .iter()
        .map(|t| (format!("{application_id}-{}", t.name), t.partitions))
        .collect();

    let mut layout = TopicLayout::default();
    let mut missing = Vec::new();
    for sub in 0..subs {
        let inputs = topology.source_topics(sub, application_id);
        if topology.is_global(sub) {
            for topic in inputs {
                match existing.get(&topic) {
                    Some(&partitions) => {
                        layout.global_topics.insert(topic, partitions);
                    }
                    None => missing.push(topic),
                }
            }
            layout.inputs.push(Vec::new());
            layout.changelogs.push(Vec::new());
            continue;
        }
        for topic in &inputs {
            layout.source_topics.insert(topic.clone(), sub);
            if !repartition.contains_key(topic) && !existing.contains_key(topic) {
                missing.push(topic.clone());
            }
        }
        layout.inputs.push(inputs);
        layout
            .changelogs
            .push(internals::store_changelogs(topology, sub, application_id));
    }
    if !missing.is_empty() {
        missing.sort();
        missing.dedup();
        return Err(Error::MissingSourceTopics { topics: missing });
    }

    // Partition counts: user topics as they are; repartition topics as configured, as the user
    // topics read beside them, or as the sub-topology writing them, resolved until nothing
    // changes (they may chain).
    let mut counts: BTreeMap<String, i32> = BTreeMap::new();
    for (topic, configured) in &repartition {
        if let Some(n) = configured {
            counts.insert(topic.clone(), *n as i32);
        }
    }
    copartition_repartition_inputs(&layout.inputs, &repartition, &existing, &mut counts);
    let mut sub_counts: Vec<Option<i32>> = vec![None; subs as usize];
    loop {
        let mut changed = false;
        for (sub, count) in sub_counts.iter_mut().enumerate() {
            if count.is_some() {
                continue;
            }
            if topology.is_global(sub as u32) {
                *count = Some(0);
                changed = true;
                continue;
            }
            let mut known = Vec::new();
            let mut unknown = false;
            for topic in &layout.inputs[sub] {
                match counts.get(topic).or_else(|| {
                    (!repartition.contains_key(topic))
                        .then(|| existing.get(topic))
                        .flatten()
                }) {
                    Some(&n) => known.push((topic.clone(), n)),
                    None => unknown = true,
                }
            }
            if unknown {
                continue;
            }
            check_co_partitioned(sub as u32, &known)?;
            let n = known.first().map_or(1, |(_, n)| *n);
            *count = Some(n);
            changed = true;
            for topic in topology.sink_topics(sub as u32, application_id) {
                if repartition.contains_key(&topic) && !counts.contains_key(&topic) {
                    counts.insert(topic, n);
                }
            }
        }
        if !changed {
            break;
        }
    }
    for (sub, count) in sub_counts.iter().enumerate() {
        match count {
            Some(n) => layout.partitions.push(*n),
            None => {
                return Err(streams_core::Error::InvalidTopology(format!(
                    "cannot work out the partition count of sub-topology {sub}: its repartition inputs are not written by any sub-topology"
                )).into())
            }
        }
    }

    // The internal topics this application needs.
    let mut wanted: BTreeMap<String, (i32, Vec<(String, String)>)> = BTreeMap::new();
    for (topic, n) in &counts {
        wanted.insert(
            topic.clone(),
            (
                *n,
                vec![
                    ("cleanup.policy".into(), "delete".into()),
                    ("retention.ms".into(), "-1".into()),
                ],
            ),
        );
    }
    for (sub, changelogs) in layout.changelogs.iter().enumerate() {
        for changelog in changelogs {
            if layout.source_topics.contains_key(&changelog.topic) {
                // A source table logging to its own input topic: nothing to create.
                continue;
            }
            let mut configs = match (changelog.retention_ms, changelog.history_retention_ms) {
                // Kafka's `VersionedChangelogTopicConfig`: compaction keeps the versions a
                // restore needs, for the history retention plus a day.
                (None, Some(history)) => vec![
                    ("cleanup.policy".into(), "compact".into()),
                    (
                        "min.compaction.lag.ms".into(),
                        history
                            .saturating_add(ADDITIONAL_WINDOW_CHANGELOG_RETENTION_MS)
                            .to_string(),
                    ),
                ],
                (None, None) => vec![("cleanup.policy".into(), "compact".into())],
                (Some(retention), _) => vec![
                    ("cleanup.policy".into(), "compact,delete".into()),
                    (
                        "retention.ms".into(),
                        retention
                            .saturating_add(ADDITIONAL_WINDOW_CHANGELOG_RETENTION_MS)
                            .to_string(),
                    ),
                ],
            };
            // The store's own configs come last and win, as in Kafka's `InternalTopicConfig`.
            configs.extend(changelog.configs.iter().cloned());
            wanted.insert(changelog.topic.clone(), (layout.partitions[sub], configs));
        }
    }
    let mut all_partitions = existing.clone();
    for (topic, (partitions, _)) in &wanted {
        all_partitions.insert(topic.clone(), *partitions);
    }
    layout.topic_partitions = Arc::new(all_partitions);
    layout.resolved_topology = resolved.clone();
    let mut to_create = Vec::new();
    for (topic, (partitions, configs)) in &wanted {
        match existing.get(topic) {
            Some(&have) if have != *partitions => {
                return Err(Error::CoPartitioning(format!(
                    "internal topic `{topic}` exists with {have} partitions but the application needs {partitions}"
                )))
            }
            Some(_) => {}
            None => to_create.push((topic, *partitions, configs)),
        }
    }
    if !to_create.is_empty() {
        let new_topics: Vec<NewTopic<'_>> = to_create
            .iter()
            .map(|(topic, partitions, configs)| {
                let replication = TopicReplication::Fixed(i32::from(config.replication_factor()));
                topic_configs(config, configs).into_iter().fold(
                    NewTopic::new(topic, *partitions, replication),
                    |t, (k, v)| t.set(k, v),
                )
            })
            .collect();
        let options = AdminOptions::new().operation_timeout(Some(timeout));
        let results = block_on(admin.create_topics(&new_topics, &options))
            .map_err(|e| Error::kafka("creating internal topics", e))?;
        for result in results {
            match result {
                Ok(topic) => tracing::info!(topic, "created internal topic"),
                Err((topic, RDKafkaErrorCode::TopicAlreadyExists)) => {
                    tracing::debug!(topic, "internal topic created concurrently")
                }
                Err((topic, code)) => {
                    return Err(Error::kafka(
                        format!("creating internal topic `{topic}`"),
                        rdkafka::error::KafkaError::AdminOp(code),
                    ))
                }
            }
        }
    }
    Ok(layout)
}

/// Kafka's co-partitioning of repartition topics (`CopartitionedTopicsEnforcer`): a repartition
/// topic without a configured count, read by a sub-topology beside user topics, takes their
/// partition count — not its writer's — so that task `s_p` finds the matching partition of
/// each. This is how a re-keyed stream joined with a table gets the table's count, and the
/// foreign-key join's registration topic the right table's (its response topic the left
/// table's). Sub-topologies whose user topics disagree are left to [`check_co_partitioned`].
fn copartition_repartition_inputs(
    inputs: &[Vec<String>],
    repartition: &BTreeMap<String, Option<u32>>,
    existing: &BTreeMap<String, i32>,
    counts: &mut BTreeMap<String, i32>,
) {
    for topics in inputs {
        let user: BTreeSet<i32> = topics
            .iter()
            .filter(|t| !repartition.contains_key(*t))
            .filter_map(|t| existing.get(t).copied())
            .collect();
        let [n] = user.into_iter().collect::<Vec<_>>()[..] else {
            continue;
        };
        for topic in topics {
            if repartition.get(topic) == Some(&None) {
                counts.entry(topic.clone()).or_insert(n);
            }
        }
    }
}

/// The configs of a new internal topic: the user's `topic.*` under the runtime's own for the
/// topic, as Kafka's `InternalTopicConfig` (a changelog stays compacted whatever
/// `topic.cleanup.policy` says).
fn topic_configs<'a>(
    config: &'a StreamsConfig,
    runtime: &'a [(String, String)],
) -> BTreeMap<&'a str, &'a str> {
    let mut configs: BTreeMap<&str, &str> = config.topic_configs().collect();
    configs.extend(runtime.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    configs
}

/// How long one metadata request waits before the runtime logs that it is still waiting.
const METADATA_ATTEMPT: Duration = Duration::from_secs(5);

/// The least time between two metadata requests while the cluster does not answer.
const RETRY_BACKOFF: Duration = Duration::from_secs(1);

/// Every topic of the cluster and its partition count, once the cluster answers. While it does
/// not, logs a warning naming `bootstrap.servers` every few seconds, and gives up after
/// `task.timeout.ms` with [`Error::ClusterUnreachable`].
fn wait_for_cluster(
    admin: &AdminClient<DefaultClientContext>,
    config: &StreamsConfig,
) -> Result<BTreeMap<String, i32>> {
    let servers = config.bootstrap_servers().unwrap_or_default();
    let patience = config.task_timeout();
    let started = Instant::now();
    loop {
        let remaining = patience.saturating_sub(started.elapsed());
        let attempt = remaining
            .min(METADATA_ATTEMPT)
            .max(Duration::from_millis(1));
        let attempt_started = Instant::now();
        match admin.inner().fetch_metadata(None, attempt) {
            Ok(metadata) => return Ok(topic_partitions(&metadata)),
            Err(error) => {
                // Warned before the decision to give up, so that an attempt which used up the
                // whole of task.timeout.ms is reported too, not only the error that follows.
                tracing::warn!(
                    bootstrap.servers = servers,
                    waited_ms = started.elapsed().as_millis() as u64,
                    task.timeout.ms = patience.as_millis() as u64,
                    %error,
                    "waiting for the Kafka cluster at bootstrap.servers={servers}"
                );
                // A refused connection fails at once: pace the retries (and the warnings).
                let pause = RETRY_BACKOFF
                    .saturating_sub(attempt_started.elapsed())
                    .min(patience.saturating_sub(started.elapsed()));
                std::thread::sleep(pause);
                let waited = started.elapsed();
                if waited >= patience {
                    return Err(Error::ClusterUnreachable {
                        servers: servers.to_string(),
                        waited,
                        source: error,
                    });
                }
            }
        }
    }
}

/// Every topic in `metadata` and its partition count.
fn topic_partitions(metadata: &rdkafka::metadata::Metadata) -> BTreeMap<String, i32> {
    metadata
        .topics()
        .iter()
        .filter(|t| t.error().is_none())
        .map(|t| (t.name().to_string(), t.partitions().len() as i32))
        .collect()
}

/// The inputs of one sub-topology must have equal partition counts.
fn check_co_partitioned(sub: u32, counts: &[(String, i32)]) -> Result<()> {
    let distinct: BTreeSet<i32> = counts.iter().map(|(_, n)| *n).collect();
    if distinct.len() > 1 {
        let listed: Vec<String> = counts
            .iter()
            .map(|(topic, n)| format!("`{topic}` has {n}"))
            .collect();
        return Err(Error::CoPartitioning(format!(
            "the input topics of sub-topology {sub} must have the same number of partitions, but {}",
            listed.join(", ")
        )));
    }
    Ok(())
}

/// Runs a future to completion on this thread. The admin client's futures are completed by
/// librdkafka's own threads, so no async runtime is needed to drive them.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut context) {
            Poll::Ready(output) => return output,
            Poll::Pending => std::thread::park(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn co_partitioning_names_the_topics() {
        check_co_partitioned(0, &[("a".into(), 3), ("b".into(), 3)]).unwrap();
        let err = check_co_partitioned(1, &[("a".into(), 3), ("b".into(), 4)]).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("sub-topology 1"), "{text}");
        assert!(
            text.contains("`a` has 3") && text.contains("`b` has 4"),
            "{text}"
        );
    }

    #[test]
    fn repartition_topics_read_beside_user_topics_take_their_count() {
        let strings = |t: &[&str]| t.iter().map(|t| t.to_string()).collect::<Vec<_>>();
        // Sub-topology 0: orders (3) + the FK response topic; 1: products (2) + the
        // registration topic; 2: only a repartition topic; 3: a configured repartition topic
        // beside a user topic; 4: user topics that disagree.
        let inputs = vec![
            strings(&["orders", "response"]),
            strings(&["products", "registration"]),
            strings(&["by-region"]),
            strings(&["clicks", "fixed"]),
            strings(&["a", "b", "free"]),
        ];
        let repartition: BTreeMap<String, Option<u32>> = [
            ("response", None),
            ("registration", None),
            ("by-region", None),
            ("fixed", Some(5)),
            ("free", None),
        ]
        .into_iter()
        .map(|(t, n)| (t.to_string(), n))
        .collect();
        let existing: BTreeMap<String, i32> = [
            ("orders", 3),
            ("products", 2),
            ("clicks", 4),
            ("a", 1),
            ("b", 2),
        ]
        .into_iter()
        .map(|(t, n)| (t.to_string(), n))
        .collect();
        let mut counts: BTreeMap<String, i32> = [("fixed".to_string(), 5)].into();
        copartition_repartition_inputs(&inputs, &repartition, &existing, &mut counts);
        let expected: BTreeMap<String, i32> = [("response", 3), ("registration", 2), ("fixed", 5)]
            .into_iter()
            .map(|(t, n)| (t.to_string(), n))
            .collect();
        assert_eq!(counts, expected);
    }

    #[test]
    fn topic_prefix_configs_sit_under_the_runtimes_own() {
        let mut config = StreamsConfig::new("app").unwrap();
        config
            .set("topic.min.insync.replicas", "2")
            .unwrap()
            .set("topic.cleanup.policy", "delete")
            .unwrap();
        let runtime = vec![("cleanup.policy".to_string(), "compact".to_string())];
        let merged: Vec<(&str, &str)> = topic_configs(&config, &runtime).into_iter().collect();
        assert_eq!(
            merged,
            [("cleanup.policy", "compact"), ("min.insync.replicas", "2")]
        );
    }

    #[test]
    fn block_on_waits_for_another_thread() {
        let (tx, rx) = std::sync::mpsc::channel::<u32>();
        struct Recv(std::sync::Mutex<std::sync::mpsc::Receiver<u32>>);
        impl Future for Recv {
            type Output = u32;
            fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
                match self.0.lock().unwrap().try_recv() {
                    Ok(v) => Poll::Ready(v),
                    Err(_) => {
                        let waker = cx.waker().clone();
                        std::thread::spawn(move || {
                            std::thread::sleep(Duration::from_millis(5));
                            waker.wake();
                        });
                        Poll::Pending
                    }
                }
            }
        }
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            tx.send(7).unwrap();
        });
        assert_eq!(block_on(Recv(std::sync::Mutex::new(rx))), 7);
    }
}
