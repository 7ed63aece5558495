//! Specification: transactional producers, and consumers that read only committed data.
//!
//! With `rdkafka` (librdkafka) producers that set a `transactional.id` and consumers at
//! both isolation levels:
//! - committed transactions are visible to `read_committed` consumers; aborted ones are
//!   not, but `read_uncommitted` consumers see them;
//! - an open transaction holds `read_committed` consumers at the last stable offset, even
//!   for later non-transactional records, until it ends (and `ListOffsets` "latest" is that
//!   offset under `read_committed`);
//! - a second producer with the same transactional id fences the first, whose next
//!   operation fails as fenced, and whose open transaction is aborted;
//! - a transaction abandoned past its `transaction.timeout.ms` is aborted by the broker;
//! - the coordinator's state survives a restart: a transaction left open is aborted, the
//!   producer id stays bound to its transactional id and the epoch moves on;
//! - consumer offsets sent with `send_offsets_to_transaction` reach the group's committed
//!   offsets when the transaction commits, and never when it aborts (exactly-once
//!   consume-transform-produce);
//! - what a transactional producer may not do is refused with Kafka's error codes.
//!
//! Every `read_committed` check reads up to a committed sentinel record written after the
//! records in question, so "not seen" means "skipped", not "not yet arrived".

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use rill_test_support::protocol::{producer_batch, RawClient};
use rill_test_support::wait_until;
use streams_broker::TxnState;
use streams_broker::{BrokerConfig, BrokerHandle, EmbeddedBroker};

type TxnProducer = ThreadedProducer<DefaultProducerContext>;

const TIMEOUT: Duration = Duration::from_secs(15);

fn producer(bootstrap: &str, extra: &[(&str, &str)]) -> TxnProducer {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "1");
    for (k, v) in extra {
        config.set(*k, *v);
    }
    config.create().expect("producer")
}

/// A transactional producer, initialised.
fn txn_producer(bootstrap: &str, id: &str, extra: &[(&str, &str)]) -> TxnProducer {
    let mut settings = vec![("transactional.id", id)];
    settings.extend_from_slice(extra);
    let p = producer(bootstrap, &settings);
    p.init_transactions(TIMEOUT).expect("init_transactions");
    p
}

fn send(p: &TxnProducer, topic: &str, partition: i32, value: &str) {
    let mut record = BaseRecord::<str, str>::to(topic)
        .key("k")
        .payload(value)
        .partition(partition);
    loop {
        match p.send(record) {
            Ok(()) => return,
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                record = r;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err((e, _)) => panic!("send failed: {e}"),
        }
    }
}

/// Commits a transaction holding one sentinel record per partition.
fn write_sentinels(bootstrap: &str, topic: &str, partitions: i32) {
    let p = txn_producer(bootstrap, &format!("sentinel-{topic}"), &[]);
    p.begin_transaction().expect("begin");
    for partition in 0..partitions {
        send(&p, topic, partition, &format!("end-{partition}"));
    }
    p.commit_transaction(TIMEOUT).expect("commit sentinels");
}

/// Reads `topic` from the beginning at `isolation` until every partition's sentinel has
/// been seen; returns the values before the sentinels.
fn read_until_sentinels(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    isolation: &str,
) -> Vec<String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("reader-{isolation}"))
        .set("enable.auto.commit", "false")
        .set("isolation.level", isolation)
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .expect("tpl");
    }
    consumer.assign(&tpl).expect("assign");
    let mut values = Vec::new();
    let mut sentinels = BTreeSet::new();
    let deadline = Instant::now() + TIMEOUT;
    while sentinels.len() < partitions as usize {
        assert!(
            Instant::now() < deadline,
            "{isolation}: sentinels not reached; saw {values:?}"
        );
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                let v = String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned();
                if v.starts_with("end-") {
                    sentinels.insert(v);
                } else {
                    values.push(v);
                }
            }
            Some(Err(e)) => panic!("{isolation} consumer error: {e}"),
            None => {}
        }
    }
    values.sort();
    values
}

fn sorted(values: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = values.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

fn is_fenced(e: &KafkaError) -> bool {
    matches!(
        e.rdkafka_error_code(),
        Some(RDKafkaErrorCode::ProducerFenced | RDKafkaErrorCode::Fenced)
    )
}

fn lso_and_hw(broker: &BrokerHandle, topic: &str, partition: i32) -> (i64, i64) {
    let log = broker.topic(topic).expect("topic").partitions[partition as usize].clone();
    (log.last_stable_offset(), log.log_end_offset())
}

#[test]
fn committed_transactions_are_visible_and_aborted_ones_only_to_read_uncommitted() {
    let broker = EmbeddedBroker::start(BrokerConfig::default()).expect("broker");
    let bootstrap = broker.bootstrap();
    broker.create_topic("txn-visibility", 2).expect("topic");
    let p = txn_producer(&bootstrap, "visibility", &[]);
    p.begin_transaction().expect("begin");
    send(&p, "txn-visibility", 0, "committed-1");
    send(&p, "txn-visibility", 1, "committed-2");
    p.commit_transaction(TIMEOUT).expect("commit");
    p.begin_transaction().expect("begin");
    send(&p, "txn-visibility", 0, "aborted-1");
    send(&p, "txn-visibility", 1, "aborted-2");
    p.flush(TIMEOUT).expect("flush");
    p.abort_transaction(TIMEOUT).expect("abort");
    p.begin_transaction().expect("begin");
    send(&p, "txn-visibility", 1, "committed-3");
    p.commit_transaction(TIMEOUT).expect("commit");
    write_sentinels(&bootstrap, "txn-visibility", 2);

    assert_eq!(
        read_until_sentinels(&bootstrap, "txn-visibility", 2, "read_committed"),
        sorted(&["committed-1", "committed-2", "committed-3"])
    );
    assert_eq!(
        read_until_sentinels(&bootstrap, "txn-visibility", 2, "read_uncommitted"),
        sorted(&[
            "aborted-1",
            "aborted-2",
            "committed-1",
            "committed-2",
            "committed-3"
        ])
    );
    let (lso, hw) = lso_and_hw(&broker, "txn-visibility", 0);
    assert_eq!(lso, hw, "nothing open");
    drop(p);
    broker.shutdown().expect("shutdown");
}

#[test]
fn an_open_transaction_holds_read_committed_consumers_at_the_stable_offset() {
    let broker = EmbeddedBroker::start(BrokerConfig::default()).expect("broker");
    let bootstrap = broker.bootstrap();
    broker.create_topic("txn-lso", 1).expect("topic");
    let p = txn_producer(&bootstrap, "lso", &[]);
    p.begin_transaction().expect("begin");
    send(&p, "txn-lso", 0, "pending");
    p.flush(TIMEOUT).expect("flush");
    // A plain record after the open transaction's first record.
    let plain = producer(&bootstrap, &[]);
    send(&plain, "txn-lso", 0, "plain");
    plain.flush(TIMEOUT).expect("flush");
    assert_eq!(lso_and_hw(&broker, "txn-lso", 0), (0, 2));
    // "Latest" is the last stable offset for read_committed, the high watermark otherwise.
    let mut raw = RawClient::connect(broker.addr());
    let mut latest = |isolation: i8| {
        let response = raw.request(
            7,
            &ListOffsetsRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_isolation_level(isolation)
                .with_topics(vec![list_offsets_request::ListOffsetsTopic::default()
                    .with_name(TopicName(StrBytes::from_static_str("txn-lso")))
                    .with_partitions(vec![
                        list_offsets_request::ListOffsetsPartition::default()
                            .with_partition_index(0)
                            .with_timestamp(-1),
                    ])]),
        );
        response.topics[0].partitions[0].offset
    };
    assert_eq!((latest(1), latest(0)), (0, 2));

    // read_uncommitted sees both; read_committed nothing while the transaction is open.
    let consumer = |isolation: &str| -> BaseConsumer {
        let c: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", format!("lso-{isolation}"))
            .set("enable.auto.commit", "false")
            .set("isolation.level", isolation)
            .create()
            .expect("consumer");
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset("txn-lso", 0, Offset::Beginning)
            .expect("tpl");
        c.assign(&tpl).expect("assign");
        c
    };
    let poll_values = |c: &BaseConsumer, want: usize, for_at_most: Duration| {
        let deadline = Instant::now() + for_at_most;
        let mut out = Vec::new();
        while out.len() < want && Instant::now() < deadline {
            if let Some(m) = c.poll(Duration::from_millis(100)) {
                let m = m.expect("message");
                out.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
            }
        }
        out
    };
    let uncommitted = consumer("read_uncommitted");
    assert_eq!(poll_values(&uncommitted, 2, TIMEOUT), ["pending", "plain"]);
    let committed = consumer("read_committed");
    assert!(
        poll_values(&committed, 1, Duration::from_secs(2)).is_empty(),
        "held at the last stable offset"
    );
    p.commit_transaction(TIMEOUT).expect("commit");
    assert_eq!(poll_values(&committed, 2, TIMEOUT), ["pending", "plain"]);
    assert_eq!(lso_and_hw(&broker, "txn-lso", 0), (3, 3));
    drop((p, plain));
    broker.shutdown().expect("shutdown");
}

#[test]
fn a_new_producer_with_the_same_transactional_id_fences_the_old_one() {
    let broker = EmbeddedBroker::start(BrokerConfig::default()).expect("broker");
    let bootstrap = broker.bootstrap();
    broker.create_topic("txn-fence", 1).expect("topic");
    let zombie = txn_producer(&bootstrap, "fenced-app", &[]);
    zombie.begin_transaction().expect("begin");
    send(&zombie, "txn-fence", 0, "zombie");
    zombie.flush(TIMEOUT).expect("flush");
    let before = broker
        .describe_transaction("fenced-app")
        .expect("registered");

    let fresh = txn_producer(&bootstrap, "fenced-app", &[]);
    let after = broker
        .describe_transaction("fenced-app")
        .expect("registered");
    assert_eq!(after.producer_id, before.producer_id);
    assert!(after.producer_epoch > before.producer_epoch);
    // The zombie's next operation fails as fenced.
    let err = zombie
        .commit_transaction(TIMEOUT)
        .expect_err("the zombie cannot commit");
    assert!(is_fenced(&err), "fenced error expected, got {err}");

    fresh.begin_transaction().expect("begin");
    send(&fresh, "txn-fence", 0, "fresh");
    fresh.commit_transaction(TIMEOUT).expect("commit");
    write_sentinels(&bootstrap, "txn-fence", 1);
    assert_eq!(
        read_until_sentinels(&bootstrap, "txn-fence", 1, "read_committed"),
        ["fresh"]
    );
    drop((zombie, fresh));
    broker.shutdown().expect("shutdown");
}

#[test]
fn an_abandoned_transaction_is_aborted_after_its_timeout() {
    let mut config = BrokerConfig::default();
    config
        .set(
            "transaction.abort.timed.out.transaction.cleanup.interval.ms",
            "100",
        )
        .expect("config");
    let broker = EmbeddedBroker::start(config).expect("broker");
    let bootstrap = broker.bootstrap();
    broker.create_topic("txn-timeout", 1).expect("topic");
    let p = txn_producer(
        &bootstrap,
        "forgetful",
        &[
            ("transaction.timeout.ms", "1500"),
            ("message.timeout.ms", "1500"),
        ],
    );
    p.begin_transaction().expect("begin");
    send(&p, "txn-timeout", 0, "abandoned");
    p.flush(TIMEOUT).expect("flush");
    assert_eq!(lso_and_hw(&broker, "txn-timeout", 0), (0, 1));
    let started = Instant::now();
    wait_until(TIMEOUT, "the broker aborts the transaction", || {
        let (lso, hw) = lso_and_hw(&broker, "txn-timeout", 0);
        lso == hw
    });
    assert!(started.elapsed() < Duration::from_secs(5));
    let state = broker
        .describe_transaction("forgetful")
        .expect("registered");
    assert_eq!(state.state, TxnState::CompleteAbort);
    write_sentinels(&bootstrap, "txn-timeout", 1);
    assert!(read_until_sentinels(&bootstrap, "txn-timeout", 1, "read_committed").is_empty());
    assert_eq!(
        read_until_sentinels(&bootstrap, "txn-timeout", 1, "read_uncommitted"),
        ["abandoned"]
    );
    assert!(
        p.commit_transaction(TIMEOUT).is_err(),
        "the timed-out producer cannot commit"
    );
    drop(p);
    broker.shutdown().expect("shutdown");
}

#[test]
fn transaction_state_survives_a_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let broker = EmbeddedBroker::start(BrokerConfig::with_data_dir(dir.path())).expect("start");
    let bootstrap = broker.bootstrap();
    broker.create_topic("txn-durable", 1).expect("topic");
    let p = txn_producer(&bootstrap, "durable", &[]);
    p.begin_transaction().expect("begin");
    send(&p, "txn-durable", 0, "before-restart");
    p.commit_transaction(TIMEOUT).expect("commit");
    drop(p);

    // Another instance takes over and is cut off by the restart mid-transaction (a raw
    // client, so that nothing aborts it on the way out).
    let mut c = RawClient::connect(broker.addr());
    let init = c.request(
        4,
        &InitProducerIdRequest::default()
            .with_transactional_id(Some(TransactionalId(StrBytes::from_static_str("durable"))))
            .with_transaction_timeout_ms(60_000)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1),
    );
    assert_eq!(init.error_code, 0);
    let (pid, epoch) = (init.producer_id.0, init.producer_epoch);
    let added = c.request(
        3,
        &AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(TransactionalId(StrBytes::from_static_str(
                "durable",
            )))
            .with_v3_and_below_producer_id(ProducerId(pid))
            .with_v3_and_below_producer_epoch(epoch)
            .with_v3_and_below_topics(vec![
                add_partitions_to_txn_request::AddPartitionsToTxnTopic::default()
                    .with_name(TopicName(StrBytes::from_static_str("txn-durable")))
                    .with_partitions(vec![0]),
            ]),
    );
    assert_eq!(
        added.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code,
        0
    );
    let produced = c.request(
        9,
        &ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(5000)
            .with_transactional_id(Some(TransactionalId(StrBytes::from_static_str("durable"))))
            .with_topic_data(vec![produce_request::TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str("txn-durable")))
                .with_partition_data(vec![
                    produce_request::PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(producer_batch(
                            &[("k", "in-flight", 1)],
                            pid,
                            epoch,
                            0,
                            true,
                        ))),
                ])]),
    );
    assert_eq!(produced.responses[0].partition_responses[0].error_code, 0);
    let (lso, hw) = lso_and_hw(&broker, "txn-durable", 0);
    assert!(lso < hw, "the transaction is open");
    drop(c);
    broker.shutdown().expect("shutdown");

    let broker = EmbeddedBroker::start(BrokerConfig::with_data_dir(dir.path())).expect("restart");
    let bootstrap = broker.bootstrap();
    let (lso, hw) = lso_and_hw(&broker, "txn-durable", 0);
    assert_eq!(lso, hw, "the in-flight transaction was aborted at start-up");
    let state = broker
        .describe_transaction("durable")
        .expect("state persisted");
    assert_eq!(state.state, TxnState::CompleteAbort);
    assert_eq!(state.producer_id, pid, "the producer id stays bound");
    assert!(
        state.producer_epoch > epoch,
        "the cut-off instance is fenced"
    );

    let p = txn_producer(&bootstrap, "durable", &[]);
    p.begin_transaction().expect("begin");
    send(&p, "txn-durable", 0, "after-restart");
    p.commit_transaction(TIMEOUT).expect("commit");
    let state = broker.describe_transaction("durable").expect("state");
    assert_eq!(state.producer_id, pid);
    write_sentinels(&bootstrap, "txn-durable", 1);
    assert_eq!(
        read_until_sentinels(&bootstrap, "txn-durable", 1, "read_committed"),
        ["after-restart", "before-restart"]
    );
    assert_eq!(
        read_until_sentinels(&bootstrap, "txn-durable", 1, "read_uncommitted"),
        ["after-restart", "before-restart", "in-flight"]
    );
    drop(p);
    broker.shutdown().expect("shutdown");
}

#[test]
fn offsets_sent_to_a_transaction_are_committed_with_it_and_only_then() {
    let broker = EmbeddedBroker::start(BrokerConfig::default()).expect("broker");
    let bootstrap = broker.bootstrap();
    broker.create_topic("eos-in", 1).expect("topic");
    broker.create_topic("eos-out", 1).expect("topic");
    let plain = producer(&bootstrap, &[]);
    for i in 0..10 {
        send(&plain, "eos-in", 0, &format!("in-{i}"));
    }
    plain.flush(TIMEOUT).expect("flush");

    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", "eos-app")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()
        .expect("consumer");
    let mut input = TopicPartitionList::new();
    input
        .add_partition_offset("eos-in", 0, Offset::Beginning)
        .expect("tpl");
    consumer.assign(&input).expect("assign");
    let mut consumed = 0;
    let deadline = Instant::now() + TIMEOUT;
    while consumed < 10 {
        assert!(Instant::now() < deadline, "input not consumed");
        if let Some(m) = consumer.poll(Duration::from_millis(100)) {
            m.expect("message");
            consumed += 1;
        }
    }
    // A read_uncommitted view of the same group: its OffsetFetch does not ask for stable
    // offsets, so it answers while a transaction holds them.
    let uncommitted_view: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", "eos-app")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_uncommitted")
        .create()
        .expect("consumer");
    let fetch = |c: &BaseConsumer, timeout: Duration| {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition("eos-in", 0);
        c.committed_offsets(tpl, timeout).map(|result| {
            result
                .find_partition("eos-in", 0)
                .expect("partition")
                .offset()
        })
    };
    let committed = || fetch(&uncommitted_view, TIMEOUT).expect("OffsetFetch");
    // read_committed asks for stable offsets (require_stable): while a transaction holds
    // them the broker answers UNSTABLE_OFFSET_COMMIT and librdkafka keeps retrying.
    let stable_fetch_waits = || fetch(&consumer, Duration::from_secs(1)).is_err();
    let offsets_at = |offset: i64| {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset("eos-in", 0, Offset::Offset(offset))
            .expect("tpl");
        tpl
    };
    let group = consumer.group_metadata().expect("group metadata");
    let p = txn_producer(&bootstrap, "eos-app-0", &[]);

    // An aborted transaction: its output is dropped and its offsets never committed.
    p.begin_transaction().expect("begin");
    for i in 0..5 {
        send(&p, "eos-out", 0, &format!("first-{i}"));
    }
    p.send_offsets_to_transaction(&offsets_at(5), &group, TIMEOUT)
        .expect("send_offsets_to_transaction");
    assert_eq!(
        committed(),
        Offset::Invalid,
        "not before the transaction ends"
    );
    assert!(stable_fetch_waits(), "offsets held by an open transaction");
    p.abort_transaction(TIMEOUT).expect("abort");
    assert_eq!(committed(), Offset::Invalid, "never after an abort");
    assert_eq!(
        fetch(&consumer, TIMEOUT).expect("stable OffsetFetch"),
        Offset::Invalid,
        "stable again after the abort"
    );

    // A committed one: output and offsets together.
    p.begin_transaction().expect("begin");
    for i in 0..10 {
        send(&p, "eos-out", 0, &format!("out-{i}"));
    }
    p.send_offsets_to_transaction(&offsets_at(10), &group, TIMEOUT)
        .expect("send_offsets_to_transaction");
    assert_eq!(committed(), Offset::Invalid, "not before the commit");
    p.commit_transaction(TIMEOUT).expect("commit");
    assert_eq!(
        committed(),
        Offset::Offset(10),
        "committed with the transaction"
    );
    assert_eq!(
        fetch(&consumer, TIMEOUT).expect("stable OffsetFetch"),
        Offset::Offset(10),
        "read_committed sees them once committed"
    );
    write_sentinels(&bootstrap, "eos-out", 1);
    let expected: Vec<String> = (0..10).map(|i| format!("out-{i}")).collect();
    assert_eq!(
        read_until_sentinels(&bootstrap, "eos-out", 1, "read_committed"),
        expected
    );
    drop((p, plain, consumer, uncommitted_view));
    broker.shutdown().expect("shutdown");
}

fn raw_txn_id(id: &'static str) -> TransactionalId {
    TransactionalId(StrBytes::from_static_str(id))
}

fn raw_produce(c: &mut RawClient, topic: &'static str, records: bytes::Bytes) -> i16 {
    let response = c.request(
        9,
        &ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(5000)
            .with_topic_data(vec![produce_request::TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str(topic)))
                .with_partition_data(vec![
                    produce_request::PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(records)),
                ])]),
    );
    response.responses[0].partition_responses[0].error_code
}

#[test]
fn what_a_transactional_producer_may_not_do_is_refused_with_kafkas_codes() {
    const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    const INVALID_REQUEST: i16 = 42;
    const INVALID_TXN_STATE: i16 = 48;
    const INVALID_PRODUCER_ID_MAPPING: i16 = 49;
    const INVALID_TRANSACTION_TIMEOUT: i16 = 50;
    const OPERATION_NOT_ATTEMPTED: i16 = 55;
    const INVALID_RECORD: i16 = 87;
    const PRODUCER_FENCED: i16 = 90;
    let broker = EmbeddedBroker::start(BrokerConfig::default()).expect("broker");
    broker.create_topic("txn-rules", 1).expect("topic");
    let mut c = RawClient::connect(broker.addr());
    let init = |c: &mut RawClient, id: &'static str, timeout: i32| {
        c.request(
            4,
            &InitProducerIdRequest::default()
                .with_transactional_id(Some(raw_txn_id(id)))
                .with_transaction_timeout_ms(timeout)
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1),
        )
    };
    assert_eq!(init(&mut c, "", 60_000).error_code, INVALID_REQUEST);
    assert_eq!(
        init(&mut c, "rules", 24 * 3_600_000).error_code,
        INVALID_TRANSACTION_TIMEOUT,
        "beyond transaction.max.timeout.ms"
    );
    let ok = init(&mut c, "rules", 60_000);
    assert_eq!(ok.error_code, 0);
    let (pid, epoch) = (ok.producer_id.0, ok.producer_epoch);

    // Transactional data for a partition that is not in the transaction.
    let data = producer_batch(&[("k", "v", 1)], pid, epoch, 0, true);
    assert_eq!(
        raw_produce(&mut c, "txn-rules", data.clone()),
        INVALID_TXN_STATE
    );

    // One unknown partition: nothing is added.
    let add = |c: &mut RawClient, id: &'static str, pid: i64, epoch: i16, partitions: Vec<i32>| {
        let response = c.request(
            3,
            &AddPartitionsToTxnRequest::default()
                .with_v3_and_below_transactional_id(raw_txn_id(id))
                .with_v3_and_below_producer_id(ProducerId(pid))
                .with_v3_and_below_producer_epoch(epoch)
                .with_v3_and_below_topics(vec![
                    add_partitions_to_txn_request::AddPartitionsToTxnTopic::default()
                        .with_name(TopicName(StrBytes::from_static_str("txn-rules")))
                        .with_partitions(partitions),
                ]),
        );
        response.results_by_topic_v3_and_below[0]
            .results_by_partition
            .iter()
            .map(|p| p.partition_error_code)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        add(&mut c, "rules", pid, epoch, vec![0, 7]),
        [OPERATION_NOT_ATTEMPTED, UNKNOWN_TOPIC_OR_PARTITION]
    );
    assert_eq!(
        raw_produce(&mut c, "txn-rules", data.clone()),
        INVALID_TXN_STATE
    );
    assert_eq!(
        add(&mut c, "rules", pid + 1, epoch, vec![0]),
        [INVALID_PRODUCER_ID_MAPPING]
    );
    assert_eq!(
        add(&mut c, "rules", pid, epoch - 1, vec![0]),
        [PRODUCER_FENCED]
    );
    assert_eq!(add(&mut c, "rules", pid, epoch, vec![0]), [0]);
    assert_eq!(raw_produce(&mut c, "txn-rules", data), 0);

    // Transaction markers are the coordinator's to write, never a client's.
    let mut marker = bytes::BytesMut::new();
    kafka_protocol::records::RecordBatchEncoder::encode(
        &mut marker,
        &[kafka_protocol::records::Record {
            transactional: true,
            control: true,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: pid,
            producer_epoch: epoch,
            timestamp_type: kafka_protocol::records::TimestampType::Creation,
            offset: 0,
            sequence: -1,
            timestamp: 1,
            key: Some(bytes::Bytes::from_static(&[0, 0, 0, 1])),
            value: Some(bytes::Bytes::from_static(&[0, 0, 0, 0, 0, 0])),
            headers: Default::default(),
        }],
        &kafka_protocol::records::RecordEncodeOptions {
            version: 2,
            compression: kafka_protocol::records::Compression::None,
        },
    )
    .expect("marker");
    assert_eq!(
        raw_produce(&mut c, "txn-rules", marker.freeze()),
        INVALID_RECORD
    );

    let end = |c: &mut RawClient, epoch: i16, committed: bool| {
        c.request(
            1,
            &EndTxnRequest::default()
                .with_transactional_id(raw_txn_id("rules"))
                .with_producer_id(ProducerId(pid))
                .with_producer_epoch(epoch)
                .with_committed(committed),
        )
        .error_code
    };
    assert_eq!(end(&mut c, epoch - 1, true), PRODUCER_FENCED);
    assert_eq!(end(&mut c, epoch, true), 0);
    assert_eq!(end(&mut c, epoch, true), 0, "a retried commit succeeds");
    assert_eq!(
        end(&mut c, epoch, false),
        INVALID_TXN_STATE,
        "an abort after commit does not"
    );
    let (lso, hw) = lso_and_hw(&broker, "txn-rules", 0);
    assert_eq!((lso, hw), (2, 2), "data and commit marker");
    drop(c);
    broker.shutdown().expect("shutdown");
}
