//! Specification: the bundled broker authorizes requests with ACLs, as Kafka's
//! `StandardAuthorizer` does, and keeps its ACLs across restarts.
//!
//! Until SASL lands every client is `User:ANONYMOUS`, so the scenario runs in two acts
//! on one data directory:
//! 1. The broker runs with `authorizer.class.name` set, `allow.everyone.if.no.acl.found=false`
//!    and `super.users=User:ANONYMOUS`. Records go to topics `a` and `b`, and kafka-python's
//!    admin client creates ACLs for `User:ANONYMOUS` (READ on topic `a`, READ on group `g`),
//!    plus one extra binding, describes them with a MATCH filter, and deletes the extra one.
//! 2. The broker restarts on the same data directory without super users. The ACLs are
//!    still there: librdkafka consumes `a` and commits its offsets in group `g`, but
//!    producing to `a` fails with `TOPIC_AUTHORIZATION_FAILED`, the all-topics Metadata
//!    hides `b`, and Metadata for `b` by name answers `TOPIC_AUTHORIZATION_FAILED`;
//!    kafka-python's commit in another group fails with `GROUP_AUTHORIZATION_FAILED`, and it
//!    may no longer describe ACLs (`CLUSTER_AUTHORIZATION_FAILED`).
//!
//! kafka-python is the virtualenv of `make pyvenv` (or `RILL_KAFKA_PYTHON`); without it
//! the test is skipped, except in CI.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaRespErr;
use rdkafka::{Offset, TopicPartitionList};
use rill_test_support::process::kafka_python;
use streams_broker::{BrokerConfig, EmbeddedBroker};

const CREATE_ACLS: &str = r#"
import sys
from kafka.admin import (KafkaAdminClient, ACL, ACLFilter, ACLOperation, ACLPermissionType,
                         ACLResourcePatternType, ResourcePattern, ResourcePatternFilter,
                         ResourceType)

admin = KafkaAdminClient(bootstrap_servers=sys.argv[1])
def acl(rtype, name, op, pattern=ACLResourcePatternType.LITERAL, perm=ACLPermissionType.ALLOW):
    return ACL(principal='User:ANONYMOUS', host='*', operation=op, permission_type=perm,
               resource_pattern=ResourcePattern(rtype, name, pattern))
result = admin.create_acls([
    acl(ResourceType.TOPIC, 'a', ACLOperation.READ),
    acl(ResourceType.GROUP, 'g', ACLOperation.READ),
    acl(ResourceType.TOPIC, 'b', ACLOperation.WRITE, ACLResourcePatternType.PREFIXED),
])
assert len(result['succeeded']) == 3 and not result['failed'], result

# MATCH: every binding that applies to topic 'b' (the prefixed one).
match = ACLFilter(principal=None, host=None, operation=ACLOperation.ANY,
                  permission_type=ACLPermissionType.ANY,
                  resource_pattern=ResourcePatternFilter(ResourceType.TOPIC, 'b',
                                                         ACLResourcePatternType.MATCH))
found, _ = admin.describe_acls(match)
assert [(a.resource_pattern.resource_name, a.operation) for a in found] == \
    [('b', ACLOperation.WRITE)], found

deleted = admin.delete_acls([match])
assert len(deleted) == 1 and len(deleted[0][1]) == 1, deleted
everything = ACLFilter(principal=None, host=None, operation=ACLOperation.ANY,
                       permission_type=ACLPermissionType.ANY,
                       resource_pattern=ResourcePatternFilter(ResourceType.ANY, None,
                                                              ACLResourcePatternType.ANY))
left, _ = admin.describe_acls(everything)
assert sorted((a.resource_pattern.resource_type, a.resource_pattern.resource_name)
              for a in left) == [(ResourceType.TOPIC, 'a'), (ResourceType.GROUP, 'g')], left
print("OK acls")
"#;

const DESCRIBE_DENIED: &str = r#"
import sys
from kafka.admin import (KafkaAdminClient, ACLFilter, ACLOperation, ACLPermissionType,
                         ACLResourcePatternType, ResourcePatternFilter, ResourceType)
from kafka import KafkaConsumer, TopicPartition, OffsetAndMetadata
from kafka.errors import ClusterAuthorizationFailedError, GroupAuthorizationFailedError

# A group without ACLs: its coordinator lookup is refused (DESCRIBE on the group).
consumer = KafkaConsumer(bootstrap_servers=sys.argv[1], group_id='other-group',
                         enable_auto_commit=False)
tp = TopicPartition('a', 0)
consumer.assign([tp])
try:
    consumer.commit({tp: OffsetAndMetadata(1, '', -1)})
    raise AssertionError("commit in other-group was allowed")
except GroupAuthorizationFailedError:
    pass
consumer.close()

admin = KafkaAdminClient(bootstrap_servers=sys.argv[1])
everything = ACLFilter(principal=None, host=None, operation=ACLOperation.ANY,
                       permission_type=ACLPermissionType.ANY,
                       resource_pattern=ResourcePatternFilter(ResourceType.ANY, None,
                                                              ACLResourcePatternType.ANY))
try:
    admin.describe_acls(everything)
    raise AssertionError("DescribeAcls was allowed")
except ClusterAuthorizationFailedError:
    pass
print("OK denied")
"#;

fn run_python(python: &Path, script: &str, bootstrap: &str) -> String {
    let mut child = Command::new(python)
        .arg("-")
        .arg(bootstrap)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("script written");
    let out = child.wait_with_output().expect("python finishes");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "kafka-python failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn config(dir: &Path, super_users: &str) -> BrokerConfig {
    let mut config = BrokerConfig::with_data_dir(dir);
    config
        .set(
            "authorizer.class.name",
            "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        )
        .unwrap();
    config
        .set("allow.everyone.if.no.acl.found", "false")
        .unwrap();
    if !super_users.is_empty() {
        config.set("super.users", super_users).unwrap();
    }
    config
}

fn producer(bootstrap: &str) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("message.timeout.ms", "10000")
        .create()
        .expect("producer")
}

async fn produce(p: &FutureProducer, topic: &str, n: usize) -> Result<(), KafkaError> {
    for i in 0..n {
        let value = format!("{topic}-{i}");
        p.send(
            FutureRecord::<(), _>::to(topic)
                .payload(&value)
                .partition(0),
            Duration::from_secs(10),
        )
        .await
        .map_err(|(e, _)| e)?;
    }
    Ok(())
}

fn consumer(bootstrap: &str, group: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acls_restrict_anonymous_and_survive_a_restart() {
    let Some(python) = kafka_python() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "kafka-python venv missing in CI: run `make pyvenv`"
        );
        eprintln!("skipped: no kafka-python venv (run `make pyvenv`)");
        return;
    };
    let dir = tempfile::tempdir().expect("dir");

    // Act 1: ANONYMOUS is a super user.
    let broker = EmbeddedBroker::start(config(dir.path(), "User:ANONYMOUS")).expect("broker");
    broker.create_topic_with_config("a", 1, &[]).expect("a");
    broker.create_topic_with_config("b", 1, &[]).expect("b");
    let bootstrap = broker.bootstrap();
    let p = producer(&bootstrap);
    produce(&p, "a", 5).await.expect("super user produces to a");
    produce(&p, "b", 5).await.expect("super user produces to b");
    drop(p);
    let out = run_python(&python, CREATE_ACLS, &bootstrap);
    assert!(out.contains("OK acls"), "{out}");
    broker.shutdown().expect("shutdown");

    // Act 2: the same data directory, no super users; only the ACLs decide.
    let broker = EmbeddedBroker::start(config(dir.path(), "")).expect("restart");
    let bootstrap = broker.bootstrap();

    let c = consumer(&bootstrap, "g");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("a", 0, Offset::Beginning).unwrap();
    c.assign(&tpl).expect("assign");
    let mut values = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while values.len() < 5 && std::time::Instant::now() < deadline {
        if let Some(m) = c.poll(Duration::from_millis(200)) {
            let m = m.expect("READ on a allows fetching");
            values.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
        }
    }
    assert_eq!(values, (0..5).map(|i| format!("a-{i}")).collect::<Vec<_>>());
    // READ on group g and topic a allows committing.
    c.commit_consumer_state(CommitMode::Sync)
        .expect("commit in group g");

    // The all-topics metadata hides b; asking for b by name is refused.
    let all = c
        .fetch_metadata(None, Duration::from_secs(10))
        .expect("metadata");
    let names: Vec<&str> = all.topics().iter().map(|t| t.name()).collect();
    assert_eq!(names, vec!["a"], "b is hidden");
    let b = c
        .fetch_metadata(Some("b"), Duration::from_secs(10))
        .expect("metadata for b");
    assert_eq!(
        b.topics()[0].error(),
        Some(RDKafkaRespErr::RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED)
    );

    // READ does not allow WRITE.
    let p = producer(&bootstrap);
    match produce(&p, "a", 1).await {
        Err(KafkaError::MessageProduction(code)) => {
            assert_eq!(code, RDKafkaErrorCode::TopicAuthorizationFailed)
        }
        other => panic!("producing to a: {other:?}"),
    }

    // Managing ACLs needs the cluster permission ANONYMOUS no longer has.
    let out = run_python(&python, DESCRIBE_DENIED, &bootstrap);
    assert!(out.contains("OK denied"), "{out}");
    broker.shutdown().expect("shutdown");
}
