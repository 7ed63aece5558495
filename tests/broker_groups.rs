//! Specification: consumer groups on the bundled broker, with real clients.
//!
//! - Three rdkafka consumers that `subscribe()` in one group split a 6-partition topic:
//!   disjoint assignments covering every partition. When one closes, its partitions move
//!   to the other two.
//! - With `partition.assignment.strategy=cooperative-sticky`, a second consumer joining
//!   takes half the partitions through an incremental rebalance: the first consumer gives
//!   up only what moves.
//! - A static member (`group.instance.id`) that restarts takes its old place: same
//!   partitions, a new member id, no second member and no wait for its old session.
//! - Committed offsets survive a broker restart: a consumer of the group, started against
//!   the restarted broker, resumes after the committed records and never sees them again.
//! - librdkafka lists and describes a group (ListGroups, DescribeGroups); its admin
//!   client deletes a group only once it is empty (`NON_EMPTY_GROUP` before), and the
//!   group's offsets go with it.
//! - kafka-python's `KafkaConsumer` and an rdkafka consumer share a group; each gets
//!   partitions and consumes. kafka-python's admin client then describes the group
//!   (Stable, two members), lists it, and fetches its committed offsets together with
//!   another group's in one OffsetFetch (v8+).
//! - `kcat -G` (a balanced consumer on Debian's librdkafka) consumes what was produced.
//!
//! Timeouts are short (session 2 s, heartbeats every 100 ms, initial rebalance delay
//! 200 ms) so that each rebalance takes a fraction of a second.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::message::Message;
use rdkafka::producer::FutureProducer;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientContext;
use rill_test_support::numbered::produce_numbered;
use rill_test_support::process::{kafka_python, kcat_available};
use streams_broker::{BrokerConfig, BrokerHandle, EmbeddedBroker};

const PARTITIONS: i32 = 6;

/// A broker whose group timing suits tests: a short initial rebalance delay and session
/// timeouts down to 500 ms allowed.
fn broker_config() -> BrokerConfig {
    let mut config = BrokerConfig::default();
    config
        .set("group.initial.rebalance.delay.ms", "200")
        .expect("config");
    config
        .set("group.min.session.timeout.ms", "500")
        .expect("config");
    config
}

fn consumer_config(bootstrap: &str, group: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("session.timeout.ms", "2000")
        .set("heartbeat.interval.ms", "100")
        .set("max.poll.interval.ms", "10000")
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false");
    c
}

async fn produce(bootstrap: &str, topic: &str, range: std::ops::Range<usize>) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "2")
        .create()
        .expect("producer");
    produce_numbered(&producer, topic, range, PARTITIONS).await;
}

/// Records the partitions each rebalance revokes, to tell eager from incremental.
#[derive(Default)]
struct RecordingContext {
    revoked: Mutex<Vec<usize>>,
}

impl ClientContext for RecordingContext {}

impl ConsumerContext for RecordingContext {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            self.revoked.lock().expect("lock").push(tpl.count());
        }
    }
}

type Recorded = StreamConsumer<RecordingContext>;

/// A subscribed consumer whose messages are drained by a background task (rdkafka serves
/// rebalances while it polls).
struct Member {
    consumer: Arc<Recorded>,
    received: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Member {
    fn start(config: &ClientConfig, topic: &str) -> Member {
        let consumer: Recorded = config
            .create_with_context(RecordingContext::default())
            .expect("consumer");
        consumer.subscribe(&[topic]).expect("subscribe");
        let consumer = Arc::new(consumer);
        let received = Arc::new(Mutex::new(Vec::new()));
        let task = {
            let consumer = consumer.clone();
            let received = received.clone();
            tokio::spawn(async move {
                loop {
                    match consumer.recv().await {
                        Ok(m) => received.lock().expect("lock").push(
                            String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
                        ),
                        Err(e) => eprintln!("consumer error: {e}"),
                    }
                }
            })
        };
        Member {
            consumer,
            received,
            task,
        }
    }

    fn partitions(&self) -> BTreeSet<i32> {
        self.consumer
            .assignment()
            .map(|tpl| tpl.elements().iter().map(|e| e.partition()).collect())
            .unwrap_or_default()
    }

    /// Stops polling and closes the consumer (it leaves the group).
    async fn close(self) {
        self.task.abort();
        let _ = self.task.await;
        let consumer = Arc::try_unwrap(self.consumer)
            .unwrap_or_else(|_| panic!("the consumer is still shared"));
        tokio::task::spawn_blocking(move || drop(consumer))
            .await
            .expect("close");
    }
}

/// Waits until the members' assignments are non-empty, disjoint and cover every
/// partition; returns them.
async fn balanced(members: &[&Member], within: Duration) -> Vec<BTreeSet<i32>> {
    let deadline = Instant::now() + within;
    loop {
        let sets: Vec<BTreeSet<i32>> = members.iter().map(|m| m.partitions()).collect();
        let total: usize = sets.iter().map(BTreeSet::len).sum();
        let union: BTreeSet<i32> = sets.iter().flatten().copied().collect();
        if sets.iter().all(|s| !s.is_empty())
            && total == PARTITIONS as usize
            && union == (0..PARTITIONS).collect()
        {
            return sets;
        }
        assert!(
            Instant::now() < deadline,
            "assignments did not balance: {sets:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_for_records(members: &[&Member], count: usize, within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    loop {
        let mut all: Vec<String> = members
            .iter()
            .flat_map(|m| m.received.lock().expect("lock").clone())
            .collect();
        if all.len() >= count {
            all.sort();
            return all;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {count} records arrived",
            all.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn values(range: std::ops::Range<usize>) -> Vec<String> {
    let mut v: Vec<String> = range.map(|i| format!("value-{i}")).collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_consumers_split_the_partitions_and_take_over_when_one_leaves() {
    let broker = EmbeddedBroker::start(broker_config()).expect("broker");
    broker.create_topic("orders", PARTITIONS).expect("topic");
    produce(&broker.bootstrap(), "orders", 0..60).await;
    let config = consumer_config(&broker.bootstrap(), "order-processors");
    let a = Member::start(&config, "orders");
    let b = Member::start(&config, "orders");
    let c = Member::start(&config, "orders");
    let sets = balanced(&[&a, &b, &c], Duration::from_secs(20)).await;
    assert!(
        sets.iter().all(|s| s.len() == 2),
        "range: two each: {sets:?}"
    );
    assert_eq!(
        wait_for_records(&[&a, &b, &c], 60, Duration::from_secs(20)).await,
        values(0..60),
        "every record once"
    );

    let group = broker.describe_group("order-processors");
    let group = group.expect("the group is known");
    assert_eq!(group.members.len(), 3);
    assert_eq!(group.protocol_type, "consumer");
    assert!(group.members.iter().all(|m| m.client_host == "/127.0.0.1"));

    c.close().await;
    let sets = balanced(&[&a, &b], Duration::from_secs(20)).await;
    assert!(sets.iter().all(|s| s.len() == 3), "{sets:?}");
    let group = broker.describe_group("order-processors").expect("group");
    assert_eq!(group.members.len(), 2, "the closed consumer left");
    a.close().await;
    b.close().await;
    broker.shutdown().expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperative_sticky_rebalances_incrementally() {
    let broker = EmbeddedBroker::start(broker_config()).expect("broker");
    broker.create_topic("coop", PARTITIONS).expect("topic");
    let mut config = consumer_config(&broker.bootstrap(), "coop-group");
    config.set("partition.assignment.strategy", "cooperative-sticky");
    let a = Member::start(&config, "coop");
    let deadline = Instant::now() + Duration::from_secs(20);
    while a.partitions().len() != PARTITIONS as usize {
        assert!(
            Instant::now() < deadline,
            "the first consumer got {:?}",
            a.partitions()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let b = Member::start(&config, "coop");
    let sets = balanced(&[&a, &b], Duration::from_secs(20)).await;
    assert_eq!(sets[0].len(), 3, "{sets:?}");
    assert_eq!(sets[1].len(), 3, "{sets:?}");
    let revoked = a.consumer.context().revoked.lock().expect("lock").clone();
    assert_eq!(
        revoked,
        vec![3],
        "only the partitions that moved were revoked (incremental, not eager)"
    );
    produce(&broker.bootstrap(), "coop", 0..30).await;
    assert_eq!(
        wait_for_records(&[&a, &b], 30, Duration::from_secs(20)).await,
        values(0..30)
    );
    a.close().await;
    b.close().await;
    broker.shutdown().expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_static_member_takes_its_old_place() {
    let broker = EmbeddedBroker::start(broker_config()).expect("broker");
    broker.create_topic("static", PARTITIONS).expect("topic");
    let member = |instance: &str| {
        let mut config = consumer_config(&broker.bootstrap(), "static-group");
        // A long session: only the replacement, not an expiry, can explain what follows.
        config
            .set("group.instance.id", instance)
            .set("session.timeout.ms", "30000")
            .set("max.poll.interval.ms", "30000");
        Member::start(&config, "static")
    };
    let a = member("instance-a");
    let b = member("instance-b");
    let before = balanced(&[&a, &b], Duration::from_secs(20)).await;
    let instances = |broker: &BrokerHandle| {
        let group = broker.describe_group("static-group").expect("group");
        let mut ids: Vec<(String, String)> = group
            .members
            .into_iter()
            .map(|m| (m.instance_id.unwrap_or_default(), m.member_id))
            .collect();
        ids.sort();
        ids
    };
    let first = instances(&broker);
    assert_eq!(first.len(), 2);
    // Static members do not leave on close; the restarted instance replaces itself.
    a.close().await;
    let restarted = Instant::now();
    let a = member("instance-a");
    let after = balanced(&[&a, &b], Duration::from_secs(20)).await;
    assert!(
        restarted.elapsed() < Duration::from_secs(20),
        "no wait for the old session to expire"
    );
    assert_eq!(after, before, "the same partitions as before");
    let second = instances(&broker);
    assert_eq!(second.len(), 2, "replaced, not added: {second:?}");
    assert_eq!(second[0].0, "instance-a");
    assert_ne!(second[0].1, first[0].1, "with a new member id");
    assert_eq!(second[1], first[1], "the other member is untouched");
    a.close().await;
    b.close().await;
    broker.shutdown().expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_offsets_survive_a_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let start = || {
        let mut config = broker_config();
        config.data_dir = Some(dir.path().to_path_buf());
        EmbeddedBroker::start(config).expect("broker")
    };
    let broker = start();
    broker.create_topic("ledger", PARTITIONS).expect("topic");
    produce(&broker.bootstrap(), "ledger", 0..60).await;
    let config = consumer_config(&broker.bootstrap(), "ledger-readers");
    let m = Member::start(&config, "ledger");
    assert_eq!(
        wait_for_records(&[&m], 60, Duration::from_secs(20)).await,
        values(0..60)
    );
    m.consumer
        .commit_consumer_state(CommitMode::Sync)
        .expect("sync commit");
    let committed = m
        .consumer
        .committed(Duration::from_secs(5))
        .expect("committed offsets");
    for e in committed.elements() {
        assert_eq!(e.offset(), rdkafka::Offset::Offset(10), "{e:?}");
    }
    // librdkafka's destroy waits for partition lists that still refer to its partitions.
    drop(committed);
    m.close().await;
    broker.shutdown().expect("shutdown");

    let broker = start();
    let stored = broker
        .committed_offset("ledger-readers", "ledger", 3)
        .expect("the commit was reloaded");
    assert_eq!(stored.offset, 10);
    produce(&broker.bootstrap(), "ledger", 60..90).await;
    let config = consumer_config(&broker.bootstrap(), "ledger-readers");
    let m = Member::start(&config, "ledger");
    assert_eq!(
        wait_for_records(&[&m], 30, Duration::from_secs(20)).await,
        values(60..90),
        "resumed after the committed offsets"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        m.received.lock().expect("lock").len(),
        30,
        "nothing committed was delivered again"
    );
    m.close().await;
    broker.shutdown().expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_clients_describe_groups_and_delete_only_empty_ones() {
    let broker = EmbeddedBroker::start(broker_config()).expect("broker");
    broker.create_topic("adm", PARTITIONS).expect("topic");
    produce(&broker.bootstrap(), "adm", 0..12).await;
    let config = consumer_config(&broker.bootstrap(), "admin-group");
    let m = Member::start(&config, "adm");
    wait_for_records(&[&m], 12, Duration::from_secs(20)).await;
    m.consumer
        .commit_consumer_state(CommitMode::Sync)
        .expect("commit");

    // librdkafka's group listing: ListGroups, then DescribeGroups.
    let consumer = m.consumer.clone();
    let (name, state, protocol_type, protocol, members) = tokio::task::spawn_blocking(move || {
        let list = consumer
            .fetch_group_list(Some("admin-group"), Duration::from_secs(10))
            .expect("group list");
        let g = &list.groups()[0];
        let members: Vec<(String, bool)> = g
            .members()
            .iter()
            .map(|m| {
                (
                    m.client_host().to_string(),
                    m.assignment().is_some_and(|a| !a.is_empty()),
                )
            })
            .collect();
        (
            g.name().to_string(),
            g.state().to_string(),
            g.protocol_type().to_string(),
            g.protocol().to_string(),
            members,
        )
    })
    .await
    .expect("join");
    assert_eq!(name, "admin-group");
    assert_eq!(state, "Stable");
    assert_eq!(protocol_type, "consumer");
    assert_eq!(protocol, "range");
    assert_eq!(members, vec![("/127.0.0.1".to_string(), true)]);

    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .create()
        .expect("admin");
    let options = AdminOptions::new();
    let deleted = admin
        .delete_groups(&["admin-group"], &options)
        .await
        .expect("delete groups");
    assert_eq!(
        deleted,
        vec![Err((
            "admin-group".to_string(),
            RDKafkaErrorCode::NonEmptyGroup
        ))]
    );
    m.close().await;
    let deleted = admin
        .delete_groups(&["admin-group"], &options)
        .await
        .expect("delete groups");
    assert_eq!(deleted, vec![Ok("admin-group".to_string())]);
    assert!(broker.committed_offset("admin-group", "adm", 0).is_none());
    let deleted = admin
        .delete_groups(&["admin-group"], &options)
        .await
        .expect("delete groups");
    assert_eq!(
        deleted,
        vec![Err((
            "admin-group".to_string(),
            RDKafkaErrorCode::GroupIdNotFound
        ))]
    );
    broker.shutdown().expect("shutdown");
}

/// kafka-python joins the group and consumes until its assignment has been stable for
/// three seconds and it has seen its partitions' records; it reports both, then waits
/// for a line on stdin before it commits, reports what its admin client sees of the
/// group, and leaves.
const PYTHON_MEMBER: &str = r#"
import sys, time
from kafka import KafkaConsumer

bootstrap, topic, group = sys.argv[1], sys.argv[2], sys.argv[3]
consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                         auto_offset_reset='earliest', enable_auto_commit=False,
                         session_timeout_ms=3000, heartbeat_interval_ms=100,
                         max_poll_interval_ms=10000)
seen = []
stable_since = None
last = None
deadline = time.time() + 40
while time.time() < deadline:
    for records in consumer.poll(timeout_ms=100).values():
        seen.extend(r.value.decode() for r in records)
    assignment = sorted(tp.partition for tp in consumer.assignment())
    if assignment != last:
        last, stable_since = assignment, time.time()
    if assignment and time.time() - stable_since > 3 and len(seen) >= 10 * len(assignment):
        break
print("ASSIGNED", ",".join(str(p) for p in last or []))
print("SEEN", len(seen), flush=True)
sys.stdin.readline()  # the test looks at the rdkafka member meanwhile
consumer.commit()

# The admin client's view: DescribeGroups, ListGroups, OffsetFetch v8 (two groups at once).
from kafka.admin import KafkaAdminClient
admin = KafkaAdminClient(bootstrap_servers=bootstrap)
described = admin.describe_groups([group])[group]
print("DESCRIBED", described.get('group_state'), len(described.get('members', [])),
      described.get('error'))
listed = [g.get('group_id') for g in admin.list_groups()]
print("LISTED", group in listed)
offsets = admin.list_group_offsets({group: None, 'nobody': None})
print("OFFSETS", len(offsets.get(group, {})), len(offsets.get('nobody', {})), flush=True)
admin.close()
consumer.close()
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_python_and_rdkafka_share_a_group() {
    let Some(python) = kafka_python() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "kafka-python venv missing in CI: run `make pyvenv`"
        );
        eprintln!("skipped: no kafka-python venv (run `make pyvenv`)");
        return;
    };
    let broker = EmbeddedBroker::start(broker_config()).expect("broker");
    broker.create_topic("mixed", PARTITIONS).expect("topic");
    produce(&broker.bootstrap(), "mixed", 0..60).await;
    let mut child = Command::new(&python)
        .arg("-c")
        .arg(PYTHON_MEMBER)
        .arg(broker.bootstrap())
        .arg("mixed")
        .arg("mixed-group")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    let config = consumer_config(&broker.bootstrap(), "mixed-group");
    let m = Member::start(&config, "mixed");
    // Read kafka-python's report while it is still in the group.
    let (mut child, stdout) = tokio::task::spawn_blocking(move || {
        let mut report = String::new();
        if let Some(out) = child.stdout.as_mut() {
            let mut lines = BufReader::new(out);
            let mut line = String::new();
            while lines.read_line(&mut line).unwrap_or(0) > 0 {
                report.push_str(&line);
                if line.starts_with("SEEN") {
                    break;
                }
                line.clear();
            }
        }
        (child, report)
    })
    .await
    .expect("join");
    let rdkafka_partitions = m.partitions();
    let rdkafka_seen = m.received.lock().expect("lock").len();
    if let Some(stdin) = child.stdin.as_mut() {
        let _ = stdin.write_all(b"done\n");
    }
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("python finishes");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let admin_view = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "kafka-python failed:\n{stdout}{admin_view}\n{stderr}"
    );
    let python_partitions: BTreeSet<i32> = stdout
        .lines()
        .find_map(|l| l.strip_prefix("ASSIGNED "))
        .unwrap_or_default()
        .split(',')
        .filter_map(|p| p.trim().parse().ok())
        .collect();
    let python_seen: usize = stdout
        .lines()
        .find_map(|l| l.strip_prefix("SEEN "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(
        !python_partitions.is_empty(),
        "kafka-python got no partitions:\n{stdout}\n{stderr}"
    );
    assert!(!rdkafka_partitions.is_empty(), "rdkafka got no partitions");
    assert!(
        python_partitions.is_disjoint(&rdkafka_partitions),
        "{python_partitions:?} vs {rdkafka_partitions:?}"
    );
    let union: BTreeSet<i32> = python_partitions
        .union(&rdkafka_partitions)
        .copied()
        .collect();
    assert_eq!(union, (0..PARTITIONS).collect(), "together all partitions");
    assert!(
        python_seen >= 10 * python_partitions.len(),
        "kafka-python consumed {python_seen}"
    );
    assert!(rdkafka_seen > 0, "rdkafka consumed nothing");
    let line = |prefix: &str| {
        admin_view
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(line("DESCRIBED "), "Stable 2 None", "{admin_view}");
    assert_eq!(line("LISTED "), "True", "{admin_view}");
    assert_eq!(
        line("OFFSETS "),
        format!("{} 0", python_partitions.len()),
        "kafka-python's commit, and nothing for a group without one: {admin_view}"
    );
    m.close().await;
    broker.shutdown().expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kcat_balanced_consumer_consumes_what_was_produced() {
    if !kcat_available() {
        return;
    }
    let broker = EmbeddedBroker::start(broker_config()).expect("broker");
    broker.create_topic("kc-group", PARTITIONS).expect("topic");
    produce(&broker.bootstrap(), "kc-group", 0..30).await;
    let bootstrap = broker.bootstrap();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("kcat")
            .args(["-b", &bootstrap, "-G", "kcat-group", "kc-group"])
            .args([
                "-X",
                "session.timeout.ms=2000",
                "-X",
                "heartbeat.interval.ms=100",
            ])
            .args(["-X", "auto.offset.reset=earliest", "-c", "30", "-f", "%s\n"])
            .stdin(Stdio::null())
            .output()
    })
    .await
    .expect("join")
    .expect("kcat runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "kcat failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut got: Vec<String> = stdout.lines().map(str::to_string).collect();
    got.sort();
    assert_eq!(got, values(0..30));
    // kcat committed its offsets (auto-commit) to the group.
    let committed = committed_total(&broker, "kcat-group", "kc-group");
    assert!(committed > 0, "kcat committed nothing");
    broker.shutdown().expect("shutdown");
}

fn committed_total(broker: &BrokerHandle, group: &str, topic: &str) -> i64 {
    let by_partition: HashMap<i32, i64> = (0..PARTITIONS)
        .filter_map(|p| {
            broker
                .committed_offset(group, topic, p)
                .map(|o| (p, o.offset))
        })
        .collect();
    by_partition.values().sum()
}
