//! Specification: the consumer group protocol (KIP-848, `group.protocol=consumer`) on the
//! bundled broker, with librdkafka consumers.
//!
//! - One member of a group gets every partition of its topic, consumes and commits; the
//!   broker holds the commit.
//! - A second member joins and the partitions spread, 3 and 3, with no partition owned by
//!   both at any moment (each member's rebalance callbacks keep one shared ownership map;
//!   an assignment of a partition someone else still owns is recorded as a violation).
//!   `ConsumerGroupDescribe` then shows a Stable group of two members at one epoch.
//! - A member that closes (leaves with epoch -1) gives its partitions back at once, well
//!   before its session would expire.
//! - Committed offsets resume: a new member of the group reads only what was produced
//!   after the commit.
//! - A member killed with SIGKILL (a consumer in a child process, which never leaves) is
//!   fenced after `group.consumer.session.timeout.ms`, and the survivor gets its partitions.
//! - `group.remote.assignor=range` picks the server-side range assignor: co-partitioned
//!   topics are split by partition number, the same numbers of both to each member.
//! - A subscribed topic that is created later, partitions added to it, and a subscribed
//!   topic deleted all reach the members (metadata-driven epochs).
//! - A regex subscription (`^metrics-.*`, sent as KIP-848's `SubscribedTopicRegex`) takes
//!   the matching topics, and a matching topic created later too.
//! - On the wire: request validation (`INVALID_REQUEST`, `UNSUPPORTED_ASSIGNOR`), fencing
//!   (`FENCED_MEMBER_EPOCH`, `UNKNOWN_MEMBER_ID`), and the classic APIs' view of a consumer
//!   group (ListGroups type `consumer`, DescribeGroups v6 `GROUP_ID_NOT_FOUND`, a classic
//!   JoinGroup refused with `INCONSISTENT_GROUP_PROTOCOL`).
//!
//! The broker's KIP-848 timing is short for tests: heartbeats every 100 ms, sessions of
//! 1.5 s where a session must expire, 3 s or 6 s where it must not.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kafka_protocol::messages::consumer_group_describe_response::DescribedGroup;
use kafka_protocol::messages::{ConsumerGroupDescribeRequest, GroupId};
use kafka_protocol::protocol::StrBytes;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::message::Message;
use rdkafka::producer::FutureProducer;
use rdkafka::ClientContext;
use rill_test_support::broker::embedded_broker;
use rill_test_support::numbered::produce_numbered;
use rill_test_support::protocol::RawClient;
use streams_broker::BrokerHandle;

const PARTITIONS: i32 = 6;

/// The environment variable that makes this test binary a child consumer (see
/// [`child_consumer_process`]).
const CHILD_ENV: &str = "RILL_KIP848_CHILD";

fn broker(session_ms: &str) -> BrokerHandle {
    embedded_broker(&[
        ("group.consumer.heartbeat.interval.ms", "100"),
        ("group.consumer.session.timeout.ms", session_ms),
    ])
}

fn consumer_config(bootstrap: &str, group: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("group.protocol", "consumer")
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("topic.metadata.refresh.interval.ms", "500");
    c
}

async fn produce(bootstrap: &str, topic: &str, range: std::ops::Range<usize>, partitions: i32) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "2")
        .create()
        .expect("producer");
    produce_numbered(&producer, topic, range, partitions).await;
}

/// Who owns which (topic, partition), as the members' rebalance callbacks report it, and
/// every assignment of a partition that another member still owned.
#[derive(Default)]
struct Ownership {
    owners: Mutex<BTreeMap<(String, i32), usize>>,
    violations: Mutex<Vec<String>>,
}

struct Tracking {
    member: usize,
    ownership: Arc<Ownership>,
}

impl ClientContext for Tracking {}

impl ConsumerContext for Tracking {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let mut owners = self.ownership.owners.lock().expect("lock");
            for e in tpl.elements() {
                owners.remove(&(e.topic().to_string(), e.partition()));
            }
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            let mut owners = self.ownership.owners.lock().expect("lock");
            for e in tpl.elements() {
                let key = (e.topic().to_string(), e.partition());
                if let Some(other) = owners.insert(key.clone(), self.member) {
                    if other != self.member {
                        self.ownership
                            .violations
                            .lock()
                            .expect("lock")
                            .push(format!(
                                "{key:?} assigned to member {} while member {other} owned it",
                                self.member
                            ));
                    }
                }
            }
        }
    }
}

/// A subscribed `BaseConsumer` polled by its own thread (librdkafka serves rebalances
/// while it is polled), keeping the values it receives.
struct Member {
    consumer: Arc<BaseConsumer<Tracking>>,
    received: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Member {
    fn start(
        config: &ClientConfig,
        topics: &[&str],
        member: usize,
        ownership: &Arc<Ownership>,
    ) -> Member {
        let consumer: BaseConsumer<Tracking> = config
            .create_with_context(Tracking {
                member,
                ownership: ownership.clone(),
            })
            .expect("consumer");
        consumer.subscribe(topics).expect("subscribe");
        let consumer = Arc::new(consumer);
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (consumer, received, stop) = (consumer.clone(), received.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match consumer.poll(Duration::from_millis(50)) {
                        Some(Ok(m)) => received.lock().expect("lock").push(
                            String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
                        ),
                        Some(Err(e)) => eprintln!("member {member}: {e}"),
                        None => {}
                    }
                }
            })
        };
        Member {
            consumer,
            received,
            stop,
            thread: Some(thread),
        }
    }

    fn partitions(&self) -> BTreeSet<(String, i32)> {
        self.consumer
            .assignment()
            .map(|tpl| {
                tpl.elements()
                    .iter()
                    .map(|e| (e.topic().to_string(), e.partition()))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn partition_numbers(&self) -> BTreeSet<i32> {
        self.partitions().into_iter().map(|(_, p)| p).collect()
    }

    fn received(&self) -> Vec<String> {
        self.received.lock().expect("lock").clone()
    }

    /// Stops polling and closes the consumer: it leaves the group (member epoch -1).
    fn close(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().expect("poll thread");
        }
        match Arc::try_unwrap(self.consumer) {
            Ok(consumer) => {
                consumer.unsubscribe();
                drop(consumer);
            }
            Err(_) => panic!("the consumer is still shared"),
        }
    }
}

fn wait_for(within: Duration, what: &str, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < within, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
    start.elapsed()
}

fn sorted_values(range: std::ops::Range<usize>) -> Vec<String> {
    let mut v: Vec<String> = range.map(|i| format!("value-{i}")).collect();
    v.sort();
    v
}

fn describe(broker: &BrokerHandle, group: &str) -> DescribedGroup {
    let mut client = RawClient::connect(broker.addr());
    let r = client.request(
        1,
        &ConsumerGroupDescribeRequest::default()
            .with_group_ids(vec![GroupId(StrBytes::from_string(group.to_string()))]),
    );
    r.groups.into_iter().next().expect("one group described")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_join_share_leave_and_resume_from_commits() {
    let broker = broker("6000");
    let bootstrap = broker.bootstrap();
    broker.create_topic("orders", PARTITIONS).expect("topic");
    produce(&bootstrap, "orders", 0..60, PARTITIONS).await;
    let config = consumer_config(&bootstrap, "kip848-orders");
    let ownership = Arc::new(Ownership::default());

    // One member: every partition, every record; it commits what it consumed.
    let first = Member::start(&config, &["orders"], 1, &ownership);
    wait_for(Duration::from_secs(20), "all 60 records", || {
        first.received().len() >= 60
    });
    let mut got = first.received();
    got.sort();
    assert_eq!(got, sorted_values(0..60));
    assert_eq!(first.partition_numbers(), (0..PARTITIONS).collect());
    first
        .consumer
        .commit_consumer_state(CommitMode::Sync)
        .expect("commit with the member epoch");
    for p in 0..PARTITIONS {
        let committed = broker
            .committed_offset("kip848-orders", "orders", p)
            .expect("committed");
        assert_eq!(committed.offset, 10, "partition {p}");
    }

    // A second member: 3 and 3, never a partition owned twice.
    let second = Member::start(&config, &["orders"], 2, &ownership);
    wait_for(Duration::from_secs(20), "the partitions to spread", || {
        let (a, b) = (first.partition_numbers(), second.partition_numbers());
        a.len() == 3 && b.len() == 3 && a.is_disjoint(&b)
    });
    // The callbacks saw it too (so the ownership check below is not vacuous).
    wait_for(
        Duration::from_secs(10),
        "both members in the ownership map",
        || {
            let owners = ownership.owners.lock().expect("lock");
            owners.len() == PARTITIONS as usize && owners.values().filter(|m| **m == 2).count() == 3
        },
    );
    wait_for(Duration::from_secs(10), "a Stable group", || {
        describe(&broker, "kip848-orders").group_state.as_str() == "Stable"
    });
    let described = describe(&broker, "kip848-orders");
    assert_eq!(described.error_code, 0);
    assert_eq!(described.assignor_name.as_str(), "uniform");
    assert_eq!(described.members.len(), 2);
    for m in &described.members {
        assert_eq!(m.member_epoch, described.group_epoch);
        assert_eq!(m.member_type, 1);
        let owned: usize = m
            .assignment
            .topic_partitions
            .iter()
            .map(|t| t.partitions.len())
            .sum();
        assert_eq!(owned, 3);
        assert_eq!(
            m.assignment.topic_partitions[0].topic_name.0.as_str(),
            "orders"
        );
    }

    // The second closes: its partitions come back long before its 6 s session ends.
    second.close();
    let took = wait_for(
        Duration::from_secs(10),
        "the partitions to come back",
        || first.partition_numbers().len() == PARTITIONS as usize,
    );
    assert!(
        took < Duration::from_millis(5000),
        "a leaving member's partitions came back only after {took:?}"
    );
    first.close();
    assert!(
        ownership.violations.lock().expect("lock").is_empty(),
        "{:?}",
        ownership.violations.lock().expect("lock")
    );

    // Committed offsets resume: a new member reads only the new records.
    produce(&bootstrap, "orders", 60..90, PARTITIONS).await;
    let third = Member::start(&config, &["orders"], 3, &ownership);
    wait_for(Duration::from_secs(20), "the 30 new records", || {
        third.received().len() >= 30
    });
    std::thread::sleep(Duration::from_millis(300));
    let mut got = third.received();
    got.sort();
    assert_eq!(
        got,
        sorted_values(60..90),
        "the committed records are not read again"
    );
    third.close();
    broker.shutdown().expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_member_is_fenced_after_the_session_timeout() {
    let broker = broker("1500");
    let bootstrap = broker.bootstrap();
    broker.create_topic("jobs", PARTITIONS).expect("topic");
    let ownership = Arc::new(Ownership::default());
    let config = consumer_config(&bootstrap, "kip848-jobs");
    let survivor = Member::start(&config, &["jobs"], 1, &ownership);
    wait_for(
        Duration::from_secs(20),
        "the first member's partitions",
        || survivor.partition_numbers().len() == PARTITIONS as usize,
    );

    // The second member runs in a child process (this test binary, see below).
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "child_consumer_process",
            "--exact",
            "--nocapture",
            "--include-ignored",
        ])
        .env(CHILD_ENV, format!("{bootstrap} kip848-jobs jobs"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("child consumer");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let assigned = loop {
        let line = lines
            .next()
            .expect("the child reports its assignment")
            .expect("read");
        if let Some(n) = line.strip_prefix("ASSIGNED ") {
            break n.trim().parse::<usize>().expect("count");
        }
    };
    assert_eq!(assigned, 3, "the child member got its half");
    wait_for(
        Duration::from_secs(10),
        "the survivor to give up half",
        || survivor.partition_numbers().len() == 3,
    );

    // SIGKILL: the child never leaves. The broker fences it after its session.
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    let killed_at = Instant::now();
    wait_for(
        Duration::from_secs(15),
        "the killed member's partitions",
        || survivor.partition_numbers().len() == PARTITIONS as usize,
    );
    let took = killed_at.elapsed();
    assert!(
        took >= Duration::from_millis(1000),
        "partitions moved before the session could expire ({took:?})"
    );
    let described = describe(&broker, "kip848-jobs");
    assert_eq!(described.members.len(), 1, "the killed member is gone");
    survivor.close();
    assert!(ownership.violations.lock().expect("lock").is_empty());
    broker.shutdown().expect("shutdown");
}

/// Not a test of its own: the member that
/// [`a_killed_member_is_fenced_after_the_session_timeout`] runs in a child process (this
/// binary, started with [`CHILD_ENV`]) and kills. It reports its assignment on stdout and
/// polls until it is killed. Without the variable it returns at once.
#[test]
#[ignore = "run by a_killed_member_is_fenced_after_the_session_timeout as a child process"]
fn child_consumer_process() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let parts: Vec<&str> = spec.split_whitespace().collect();
    let [bootstrap, group, topic] = parts[..] else {
        panic!("{CHILD_ENV} must be `bootstrap group topic`");
    };
    let consumer: BaseConsumer = consumer_config(bootstrap, group)
        .create()
        .expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut reported = 0;
    loop {
        let _ = consumer.poll(Duration::from_millis(50));
        let n = consumer.assignment().map(|a| a.count()).unwrap_or(0);
        if n != reported && n > 0 {
            reported = n;
            println!("ASSIGNED {n}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_range_assignor_keeps_co_partitioned_topics_together() {
    let broker = broker("3000");
    let bootstrap = broker.bootstrap();
    broker.create_topic("left", 4).expect("topic");
    broker.create_topic("right", 4).expect("topic");
    let ownership = Arc::new(Ownership::default());
    let mut config = consumer_config(&bootstrap, "kip848-range");
    config.set("group.remote.assignor", "range");
    let a = Member::start(&config, &["left", "right"], 1, &ownership);
    let b = Member::start(&config, &["left", "right"], 2, &ownership);
    wait_for(Duration::from_secs(20), "two halves", || {
        a.partitions().len() == 4 && b.partitions().len() == 4
    });
    for m in [&a, &b] {
        let by_topic = |t: &str| -> BTreeSet<i32> {
            m.partitions()
                .into_iter()
                .filter(|(topic, _)| topic == t)
                .map(|(_, p)| p)
                .collect()
        };
        assert_eq!(
            by_topic("left"),
            by_topic("right"),
            "same partition numbers"
        );
        assert_eq!(by_topic("left").len(), 2);
    }
    assert_eq!(
        describe(&broker, "kip848-range").assignor_name.as_str(),
        "range"
    );
    a.close();
    b.close();
    assert!(ownership.violations.lock().expect("lock").is_empty());
    broker.shutdown().expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_and_partitions_that_come_and_go_are_picked_up() {
    use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions};
    use rdkafka::client::DefaultClientContext;
    let broker = broker("3000");
    let bootstrap = broker.bootstrap();
    broker.create_topic("early", 2).expect("topic");
    let ownership = Arc::new(Ownership::default());
    let config = consumer_config(&bootstrap, "kip848-later");
    let m = Member::start(&config, &["early", "later"], 1, &ownership);
    wait_for(
        Duration::from_secs(20),
        "the existing topic's partitions",
        || m.partitions().len() == 2,
    );
    let epoch = describe(&broker, "kip848-later").group_epoch;
    // The topic appears: the next heartbeat sees it, the group epoch moves, and the
    // member gets its partitions.
    broker.create_topic("later", 3).expect("topic");
    wait_for(
        Duration::from_secs(20),
        "the new topic's partitions",
        || m.partitions().len() == 5,
    );
    assert!(describe(&broker, "kip848-later").group_epoch > epoch);
    // The topic grows (CreatePartitions), then the other one is deleted.
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .expect("admin");
    let grown = admin
        .create_partitions(&[NewPartitions::new("later", 4)], &AdminOptions::new())
        .await
        .expect("CreatePartitions");
    assert!(grown.iter().all(|r| r.is_ok()), "{grown:?}");
    wait_for(Duration::from_secs(20), "the new partition", || {
        m.partitions().contains(&("later".to_string(), 3))
    });
    let deleted = admin
        .delete_topics(&["early"], &AdminOptions::new())
        .await
        .expect("DeleteTopics");
    assert!(deleted.iter().all(|r| r.is_ok()), "{deleted:?}");
    wait_for(
        Duration::from_secs(20),
        "the deleted topic's partitions to go",
        || {
            let now = m.partitions();
            now.len() == 4 && now.iter().all(|(t, _)| t == "later")
        },
    );
    m.close();
    broker.shutdown().expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_regex_subscription_takes_matching_topics_as_they_appear() {
    let broker = broker("3000");
    let bootstrap = broker.bootstrap();
    broker.create_topic("metrics-cpu", 2).expect("topic");
    broker.create_topic("logs", 2).expect("topic");
    let ownership = Arc::new(Ownership::default());
    let config = consumer_config(&bootstrap, "kip848-regex");
    let m = Member::start(&config, &["^metrics-.*"], 1, &ownership);
    wait_for(Duration::from_secs(20), "the matching topic", || {
        m.partitions().len() == 2
    });
    broker.create_topic("metrics-disk", 1).expect("topic");
    wait_for(Duration::from_secs(20), "the new matching topic", || {
        m.partitions().len() == 3
    });
    assert!(m
        .partitions()
        .iter()
        .all(|(t, _)| t.starts_with("metrics-")));
    let described = describe(&broker, "kip848-regex");
    // librdkafka joins its patterns into one (`(^metrics-.*)`) and sends it to the broker.
    let regex = described.members[0].subscribed_topic_regex.as_deref();
    assert!(
        regex.is_some_and(|r| r.contains("^metrics-.*")),
        "subscribed by regex on the broker: {regex:?}"
    );
    m.close();
    broker.shutdown().expect("shutdown");
}

/// What librdkafka never sends or shows, checked on the wire: request validation,
/// fencing, and how the classic group APIs see a consumer-protocol group.
#[test]
fn heartbeats_are_validated_and_fenced_on_the_wire() {
    use kafka_protocol::messages::{
        ConsumerGroupHeartbeatRequest, DescribeGroupsRequest, JoinGroupRequest, ListGroupsRequest,
        TopicName,
    };
    let broker = broker("3000");
    broker.create_topic("wire", 2).expect("topic");
    let mut c = RawClient::connect(broker.addr());
    let s = |v: &str| StrBytes::from_string(v.to_string());
    let join = |member: &str| {
        ConsumerGroupHeartbeatRequest::default()
            .with_group_id(GroupId(s("wire-group")))
            .with_member_id(s(member))
            .with_member_epoch(0)
            .with_rebalance_timeout_ms(5000)
            .with_subscribed_topic_names(Some(vec![TopicName(s("wire"))]))
            .with_topic_partitions(Some(Vec::new()))
    };
    // v1: the client names itself; v0: the broker does.
    let r = c.request(1, &join(""));
    assert_eq!(r.error_code, 42, "INVALID_REQUEST: {:?}", r.error_message);
    let r = c.request(0, &join(""));
    assert_eq!((r.error_code, r.member_epoch), (0, 1));
    let v0_member = r
        .member_id
        .expect("a member id for a v0 client")
        .to_string();
    let assigned: usize = r
        .assignment
        .expect("an assignment")
        .topic_partitions
        .iter()
        .map(|t| t.partitions.len())
        .sum();
    assert_eq!(assigned, 2);
    // A join without a rebalance timeout, and an unknown assignor, are refused.
    let r = c.request(1, &join("m-1").with_rebalance_timeout_ms(-1));
    assert_eq!(r.error_code, 42);
    let r = c.request(1, &join("m-1").with_server_assignor(Some(s("sticky"))));
    assert_eq!(r.error_code, 112, "UNSUPPORTED_ASSIGNOR");
    // An epoch ahead of the member's is fenced; a stranger is unknown.
    let beat = |member: &str, epoch: i32| {
        ConsumerGroupHeartbeatRequest::default()
            .with_group_id(GroupId(s("wire-group")))
            .with_member_id(s(member))
            .with_member_epoch(epoch)
            .with_rebalance_timeout_ms(-1)
    };
    assert_eq!(
        c.request(1, &beat(&v0_member, 7)).error_code,
        110,
        "FENCED_MEMBER_EPOCH"
    );
    assert_eq!(
        c.request(1, &beat("stranger", 1)).error_code,
        25,
        "UNKNOWN_MEMBER_ID"
    );
    let r = c.request(1, &beat(&v0_member, 1));
    assert_eq!(
        (r.error_code, r.member_epoch, r.heartbeat_interval_ms),
        (0, 1, 100)
    );

    // The classic APIs: listed as type `consumer`, not described, not joinable.
    let listed = c.request(
        5,
        &ListGroupsRequest::default().with_types_filter(vec![s("consumer")]),
    );
    let g = listed
        .groups
        .iter()
        .find(|g| g.group_id.0.as_str() == "wire-group")
        .expect("listed");
    assert_eq!(
        (g.group_type.as_str(), g.group_state.as_str()),
        ("consumer", "Stable")
    );
    let described = c.request(
        6,
        &DescribeGroupsRequest::default().with_groups(vec![GroupId(s("wire-group"))]),
    );
    assert_eq!(described.groups[0].error_code, 69, "GROUP_ID_NOT_FOUND");
    let joined = c.request(
        5,
        &JoinGroupRequest::default()
            .with_group_id(GroupId(s("wire-group")))
            .with_session_timeout_ms(10_000)
            .with_rebalance_timeout_ms(10_000)
            .with_protocol_type(s("consumer"))
            .with_protocols(vec![Default::default()]),
    );
    assert_eq!(joined.error_code, 23, "INCONSISTENT_GROUP_PROTOCOL");

    // Leaving: epoch -1 is answered with -1; an empty group without offsets is then
    // forgotten, as this broker forgets such classic groups.
    let r = c.request(1, &beat(&v0_member, -1));
    assert_eq!((r.error_code, r.member_epoch), (0, -1));
    let gone = describe(&broker, "wire-group");
    assert_eq!((gone.error_code, gone.group_state.as_str()), (69, "Dead"));
    broker.shutdown().expect("shutdown");
}
