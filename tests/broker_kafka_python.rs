//! Specification: the bundled broker works with `kafka-python`, a pure-Python client
//! written without librdkafka.
//!
//! kafka-python guesses the broker's Kafka version from its `ApiVersions` answer; it must
//! recognise a modern broker (4.x). Its producers run with their default
//! `enable_idempotence=True` (an `InitProducerId`, then numbered batches). Records with
//! headers produced (with and without gzip) are consumed back exactly, once each, and the
//! admin client describes topic configs. A transactional kafka-python producer commits
//! and aborts; its `read_committed` consumer sees only the committed records, its
//! `read_uncommitted` one all of them.
//!
//!
//! Its admin client runs Kafka's admin APIs against the broker: `create_partitions` grows a
//! topic (and a shrink is refused), `alter_configs` sets, appends to and deletes topic configs
//! and subtracts from (incremental) topic configs that `describe_configs` then reports, `delete_records` moves the low
//! watermark that the consumer's `beginning_offsets` sees, a dynamic broker config
//! (`log.retention.ms` of broker 0) reaches the topics that do not override it, `describe_topic_partitions` pages
//! through partitions, `delete_group_offsets` removes an empty group's offsets, and the
//! transaction tools' `list_transactions`, `describe_transactions` and `describe_producers`
//! report a transactional producer.
//!
//! The interpreter is the virtualenv that `make pyvenv` creates (`target/pyvenv`), or the
//! one named by `RILL_KAFKA_PYTHON`. Without it the test is skipped, except in CI
//! (`CI` set), where a missing client is a failure.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use rill_test_support::process::kafka_python;
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

const TRANSACTIONS_SCRIPT: &str = r#"
import sys
from kafka import KafkaProducer, KafkaConsumer, TopicPartition

bootstrap, topic = sys.argv[1], sys.argv[2]
producer = KafkaProducer(bootstrap_servers=bootstrap, transactional_id='py-txn')
producer.init_transactions()
for value, commit in ((b'committed-1', True), (b'aborted', False), (b'committed-2', True)):
    producer.begin_transaction()
    producer.send(topic, value, partition=0)
    producer.flush()
    if commit:
        producer.commit_transaction()
    else:
        producer.abort_transaction()
producer.close()

def read(isolation, expected):
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, isolation_level=isolation,
                             enable_auto_commit=False, consumer_timeout_ms=10000)
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    values = []
    for msg in consumer:
        values.append(msg.value)
        if len(values) == len(expected):
            break
    assert values == expected, (isolation, values)

read('read_uncommitted', [b'committed-1', b'aborted', b'committed-2'])
read('read_committed', [b'committed-1', b'committed-2'])
print("OK transactions")
"#;

const ADMIN_SCRIPT: &str = r#"
import sys
from kafka import KafkaProducer, KafkaConsumer, TopicPartition, OffsetAndMetadata
from kafka.admin import KafkaAdminClient, ConfigResource, ConfigResourceType
from kafka.errors import InvalidPartitionsError

bootstrap, topic = sys.argv[1], sys.argv[2]
admin = KafkaAdminClient(bootstrap_servers=bootstrap)

# CreatePartitions: 2 -> 5, and a shrink is refused.
admin.create_partitions({topic: 5})
described = admin.describe_topics([topic])
assert len(described[0]['partitions']) == 5, described
try:
    admin.create_partitions({topic: 3})
    raise AssertionError("shrinking was accepted")
except InvalidPartitionsError:
    pass

# DescribeTopicPartitions pages by partition.
page = admin.describe_topic_partitions([topic], response_partition_limit=3)
assert [p['partition_index'] for p in page['topics'][0]['partitions']] == [0, 1, 2], page
assert page['next_cursor']['partition_index'] == 3, page
rest = admin.describe_topic_partitions([topic], cursor=page['next_cursor'])
assert [p['partition_index'] for p in rest['topics'][0]['partitions']] == [3, 4], rest
assert rest['next_cursor'] is None, rest

# IncrementalAlterConfigs: SET, APPEND to a list, then DELETE back to the default.
resource = ConfigResource(ConfigResourceType.TOPIC, topic,
                          configs={'retention.ms': ('SET', '7200000'),
                                   'cleanup.policy': ('APPEND', 'compact')})
admin.alter_configs([resource])
configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])['topic'][topic]
assert configs['retention.ms']['value'] == '7200000', configs['retention.ms']
assert configs['cleanup.policy']['value'] == 'delete,compact', configs['cleanup.policy']
admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                    configs={'retention.ms': ('DELETE', None)})])
configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)],
                                 config_filter='all')['topic'][topic]
assert configs['retention.ms']['value'] == '604800000', configs['retention.ms']
assert configs['cleanup.policy']['value'] == 'delete,compact', configs['cleanup.policy']
admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                    configs={'cleanup.policy': ('SUBTRACT', 'compact')})])
configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)],
                                 config_filter='all')['topic'][topic]
assert configs['cleanup.policy']['value'] == 'delete', configs['cleanup.policy']

# Dynamic broker configs: this broker's log.retention.ms reaches topics that do not override
# retention.ms; num.partitions is read-only.
admin.alter_configs([ConfigResource(ConfigResourceType.BROKER, '0',
                                    configs={'log.retention.ms': ('SET', '3600000')})])
configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)],
                                 config_filter='all')['topic'][topic]
assert configs['retention.ms']['value'] == '3600000', configs['retention.ms']
broker_configs = admin.describe_configs([ConfigResource(ConfigResourceType.BROKER, '0')],
                                        config_filter='all')['broker']['0']
assert broker_configs['log.retention.ms']['value'] == '3600000', broker_configs['log.retention.ms']
try:
    admin.alter_configs([ConfigResource(ConfigResourceType.BROKER, '0',
                                        configs={'num.partitions': ('SET', '9')})])
    raise AssertionError("a read-only broker config was altered")
except AssertionError:
    raise
except Exception:
    pass

# DeleteRecords moves the low watermark consumers see.
producer = KafkaProducer(bootstrap_servers=bootstrap)
for i in range(10):
    producer.send(topic, b'v%d' % i, partition=0).get(timeout=10)
tp = TopicPartition(topic, 0)
result = admin.delete_records({tp: 4})
consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
assert consumer.beginning_offsets([tp])[tp] == 4, consumer.beginning_offsets([tp])
consumer.assign([tp])
consumer.seek_to_beginning(tp)
first = next(iter(consumer))
assert first.offset == 4 and first.value == b'v4', first

# OffsetDelete on an empty group.
group = KafkaConsumer(bootstrap_servers=bootstrap, group_id='py-admin-group',
                      enable_auto_commit=False)
group.assign([tp])
group.commit({tp: OffsetAndMetadata(6, '', -1)})
group.close()
offsets = admin.list_group_offsets('py-admin-group')['py-admin-group']
assert offsets[tp].offset == 6, offsets
admin.delete_group_offsets('py-admin-group', [tp])
assert tp not in admin.list_group_offsets('py-admin-group').get('py-admin-group', {}), "deleted"

# The transaction tools see an open transaction and its producer.
txn = KafkaProducer(bootstrap_servers=bootstrap, transactional_id='py-admin-txn')
txn.init_transactions()
txn.begin_transaction()
txn.send(topic, b'open', partition=1)
txn.flush()
listed = [t for ts in admin.list_transactions(state_filters=['Ongoing']).values() for t in ts]
assert [t.transactional_id for t in listed] == ['py-admin-txn'], listed
described = admin.describe_transactions(['py-admin-txn'])['py-admin-txn']
assert described.state == 'Ongoing', described
assert described.topic_partitions == {TopicPartition(topic, 1)}, described
state = admin.describe_producers([TopicPartition(topic, 1)])[TopicPartition(topic, 1)]
ours = [p for p in state.active_producers if p.producer_id == listed[0].producer_id]
assert len(ours) == 1 and ours[0].current_transaction_start_offset == 0, state
txn.abort_transaction()
print("OK admin")
"#;

/// Runs `script` with the broker's address and `topic` as arguments; returns stdout.
fn run_script(python: &PathBuf, script: &str, bootstrap: &str, topic: &str) -> String {
    let mut child = Command::new(python)
        .arg("-")
        .arg(bootstrap)
        .arg(topic)
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
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "kafka-python failed:\n{stdout}\n{stderr}"
    );
    stdout
}

#[test]
fn kafka_python_produces_and_consumes_with_headers() {
    let Some(python) = kafka_python() else {
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
    let stdout = run_script(&python, SCRIPT, &broker.bootstrap(), "py-events");
    assert!(stdout.contains("OK (4"), "unexpected output:\n{stdout}");
    broker.shutdown().expect("clean shutdown");
}

#[test]
fn kafka_python_transactions_commit_and_abort() {
    let Some(python) = kafka_python() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "kafka-python venv missing in CI: run `make pyvenv`"
        );
        eprintln!("skipped: no kafka-python venv (run `make pyvenv`)");
        return;
    };
    let broker = EmbeddedBroker::start(BrokerConfig::default()).expect("broker starts");
    broker.create_topic("py-txn", 1).expect("topic");
    let stdout = run_script(&python, TRANSACTIONS_SCRIPT, &broker.bootstrap(), "py-txn");
    assert!(
        stdout.contains("OK transactions"),
        "unexpected output:\n{stdout}"
    );
    broker.shutdown().expect("clean shutdown");
}

#[test]
fn kafka_python_admin_client_manages_partitions_configs_records_and_offsets() {
    let Some(python) = kafka_python() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "kafka-python venv missing in CI: run `make pyvenv`"
        );
        eprintln!("skipped: no kafka-python venv (run `make pyvenv`)");
        return;
    };
    let broker = EmbeddedBroker::start(BrokerConfig::default()).expect("broker starts");
    broker.create_topic("py-admin", 2).expect("topic");
    let stdout = run_script(&python, ADMIN_SCRIPT, &broker.bootstrap(), "py-admin");
    assert!(stdout.contains("OK admin"), "unexpected output:\n{stdout}");
    broker.shutdown().expect("clean shutdown");
}
