//! Specification: the bundled broker works with `kafka-python`, a pure-Python client
//! written without librdkafka.
//!
//! kafka-python guesses the broker's Kafka version from its `ApiVersions` answer; it must
//! recognise a modern broker (4.x). Its producers run with their default
//! `enable_idempotence=True` (an `InitProducerId`, then numbered batches). Records with
//! headers produced (with and without gzip) are consumed back exactly, once each, and the
//! admin client describes topic configs.
//!
//! The interpreter is the virtualenv that `make pyvenv` creates (`target/pyvenv`), or the
//! one named by `RILL_KAFKA_PYTHON`. Without it the test is skipped, except in CI
//! (`CI` set), where a missing client is a failure.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use streams_broker::{BrokerConfig, EmbeddedBroker};

const SCRIPT: &str = r#"
import sys
from kafka import KafkaProducer, KafkaConsumer, TopicPartition
from kafka.admin import KafkaAdminClient, ConfigResource, ConfigResourceType

bootstrap, topic = sys.argv[1], sys.argv[2]

producer = KafkaProducer(bootstrap_servers=bootstrap, acks='all')
version = producer.config['api_version']
assert version >= (4, 0), "broker detected as %r" % (version,)
assert producer.config['enable_idempotence'], "idempotence is on by default"
for i in range(200):
    producer.send(topic, key=b'k%d' % i, value=b'v%d' % i, partition=i % 2,
                  headers=[('index', str(i).encode()), ('empty', b'')], timestamp_ms=1000 + i)
producer.flush()
assert producer._transaction_manager.producer_id_and_epoch.is_valid, "got a producer id"
zipped = KafkaProducer(bootstrap_servers=bootstrap, compression_type='gzip')
for i in range(200, 300):
    zipped.send(topic, key=b'k%d' % i, value=b'v%d' % i, partition=i % 2,
                headers=[('index', str(i).encode()), ('empty', b'')], timestamp_ms=1000 + i)
zipped.flush()
assert zipped._transaction_manager.producer_id_and_epoch.producer_id != \
    producer._transaction_manager.producer_id_and_epoch.producer_id, "distinct producer ids"

consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                         consumer_timeout_ms=10000)
partitions = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
consumer.assign(partitions)
consumer.seek_to_beginning(*partitions)
seen = {0: [], 1: []}
for msg in consumer:
    seen[msg.partition].append(msg)
    if len(seen[0]) + len(seen[1]) == 300:
        break
for p in (0, 1):
    expected = [i for i in range(300) if i % 2 == p]
    got = seen[p]
    assert [m.offset for m in got] == list(range(len(expected))), "offsets of %d" % p
    for i, m in zip(expected, got):
        assert m.key == b'k%d' % i and m.value == b'v%d' % i, (i, m)
        assert m.timestamp == 1000 + i, (i, m.timestamp)
        assert list(m.headers) == [('index', str(i).encode()), ('empty', b'')], m.headers

admin = KafkaAdminClient(bootstrap_servers=bootstrap)
described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
assert described['topic'][topic]['retention.ms']['value'] == '3600000', described
print("OK", version)
"#;

fn python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("RILL_KAFKA_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/pyvenv/bin/python");
    venv.exists().then_some(venv)
}

#[test]
fn kafka_python_produces_and_consumes_with_headers() {
    let Some(python) = python() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "kafka-python venv missing in CI: run `make pyvenv`"
        );
        eprintln!("skipped: no kafka-python venv (run `make pyvenv`)");
        return;
    };
    let broker = EmbeddedBroker::start(BrokerConfig::default()).expect("broker starts");
    broker
        .create_topic_with_config("py-events", 2, &[("retention.ms", "3600000")])
        .expect("topic");
    let mut child = Command::new(&python)
        .arg("-")
        .arg(broker.bootstrap())
        .arg("py-events")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(SCRIPT.as_bytes())
        .expect("script written");
    let out = child.wait_with_output().expect("python finishes");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "kafka-python failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("OK (4"),
        "unexpected output:\n{stdout}\n{stderr}"
    );
    broker.shutdown().expect("clean shutdown");
}
