//! Specification: idempotent producers get every record appended exactly once.
//!
//! - An `rdkafka` producer with `enable.idempotence=true` gets a producer id
//!   (`InitProducerId`) and its records are consumed back once each, in order.
//! - A produce request resent byte for byte (what a producer does when a response is lost)
//!   is acknowledged with the original offset and not appended again, also after a broker
//!   restart (the producer state is rebuilt from the log). A gap in the sequence is
//!   `OUT_OF_ORDER_SEQUENCE_NUMBER`; a batch from an older epoch `INVALID_PRODUCER_EPOCH`.
//!   Like Kafka, duplicates are answered with success, never `DUPLICATE_SEQUENCE_NUMBER`.

use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, HeaderVersion, StrBytes};
use rdkafka::config::ClientConfig;
use rdkafka::producer::FutureProducer;
use rill_test_support::numbered::{produce_numbered, read_numbered};
use rill_test_support::protocol::{producer_batch, RawClient};
use streams_broker::{BrokerConfig, EmbeddedBroker};

const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
const INVALID_PRODUCER_EPOCH: i16 = 47;

fn produce_request(topic: &str, records: Bytes) -> ProduceRequest {
    ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![produce_request::TopicProduceData::default()
            .with_name(TopicName(StrBytes::from_string(topic.to_string())))
            .with_partition_data(vec![
                produce_request::PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(records)),
            ])])
}

/// Sends an already encoded Produce v9 frame and returns `(error_code, base_offset)`.
fn send_produce(client: &mut RawClient, frame: &[u8]) -> (i16, i64) {
    client.send_frame(frame).expect("send");
    let mut body = Bytes::from(client.read_frame().expect("response"));
    ResponseHeader::decode(&mut body, ProduceResponse::header_version(9)).expect("header");
    let response = ProduceResponse::decode(&mut body, 9).expect("body");
    let p = &response.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

fn produce(client: &mut RawClient, topic: &str, records: Bytes) -> (i16, i64) {
    let frame = client.encode(9, &produce_request(topic, records));
    send_produce(client, &frame)
}

fn init_producer_id(client: &mut RawClient) -> (i64, i16) {
    let response = client.request(
        4,
        &InitProducerIdRequest::default()
            .with_transactional_id(None)
            .with_transaction_timeout_ms(60_000)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1),
    );
    assert_eq!(response.error_code, 0);
    (response.producer_id.0, response.producer_epoch)
}

#[test]
fn a_resent_batch_is_acknowledged_with_its_original_offset_and_appended_once() {
    let dir = tempfile::tempdir().expect("dir");
    let broker = EmbeddedBroker::start(BrokerConfig::with_data_dir(dir.path())).expect("broker");
    broker.create_topic("dedup", 1).expect("topic");
    let mut c = RawClient::connect(broker.addr());
    let (pid, epoch) = init_producer_id(&mut c);
    assert!(pid >= 0);
    assert_eq!(epoch, 0);
    let (other, _) = init_producer_id(&mut c);
    assert_ne!(other, pid, "every idempotent producer gets its own id");

    let records = [("k", "a", 1), ("k", "b", 2), ("k", "c", 3)];
    let first = c.encode(
        9,
        &produce_request("dedup", producer_batch(&records, pid, epoch, 0, false)),
    );
    assert_eq!(send_produce(&mut c, &first), (0, 0));
    assert_eq!(
        send_produce(&mut c, &first),
        (0, 0),
        "the retry gets offset 0 again"
    );
    let log = broker.topic("dedup").expect("t").partitions[0].clone();
    assert_eq!(log.log_end_offset(), 3, "and is not appended");

    let second = producer_batch(&[("k", "d", 4)], pid, epoch, 3, false);
    assert_eq!(produce(&mut c, "dedup", second.clone()), (0, 3));
    // An older batch, still among the last five, is recognised too.
    assert_eq!(send_produce(&mut c, &first), (0, 0));
    let gap = producer_batch(&[("k", "x", 5)], pid, epoch, 10, false);
    assert_eq!(
        produce(&mut c, "dedup", gap).0,
        OUT_OF_ORDER_SEQUENCE_NUMBER
    );
    // A new epoch starts again at sequence 0 and fences the old one.
    let bumped = producer_batch(&[("k", "e", 6)], pid, epoch + 1, 0, false);
    assert_eq!(produce(&mut c, "dedup", bumped.clone()), (0, 4));
    let stale = producer_batch(&[("k", "y", 7)], pid, epoch, 4, false);
    assert_eq!(produce(&mut c, "dedup", stale).0, INVALID_PRODUCER_EPOCH);
    assert_eq!(log.log_end_offset(), 5);
    drop(log);
    drop(c);
    broker.shutdown().expect("shutdown");

    // After a restart the state is rebuilt from the log: the retry is still recognised.
    let broker = EmbeddedBroker::start(BrokerConfig::with_data_dir(dir.path())).expect("restart");
    let mut c = RawClient::connect(broker.addr());
    assert_eq!(produce(&mut c, "dedup", bumped), (0, 4));
    let next = producer_batch(&[("k", "f", 8)], pid, epoch + 1, 1, false);
    assert_eq!(produce(&mut c, "dedup", next), (0, 5));
    let (fresh, _) = init_producer_id(&mut c);
    assert!(fresh > other, "producer ids are not reused after a restart");

    // Six records, each once.
    let fetch = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_bytes(1 << 20)
        .with_topics(vec![fetch_request::FetchTopic::default()
            .with_topic(TopicName(StrBytes::from_static_str("dedup")))
            .with_partitions(vec![fetch_request::FetchPartition::default()
                .with_partition(0)
                .with_partition_max_bytes(1 << 20)])]);
    let response = c.request(12, &fetch);
    let mut bytes = response.responses[0].partitions[0]
        .records
        .clone()
        .expect("records");
    let values: Vec<String> = kafka_protocol::records::RecordBatchDecoder::decode_all(&mut bytes)
        .expect("decode")
        .into_iter()
        .flat_map(|set| set.records)
        .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
        .collect();
    assert_eq!(values, ["a", "b", "c", "d", "e", "f"]);
    broker.shutdown().expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rdkafka_idempotent_producer_delivers_each_record_once() {
    const PARTITIONS: i32 = 3;
    const RECORDS: usize = 3000;
    let broker = EmbeddedBroker::start(BrokerConfig::default()).expect("broker");
    broker.create_topic("idem", PARTITIONS).expect("topic");
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .set("enable.idempotence", "true")
        .set("linger.ms", "2")
        .create()
        .expect("producer");
    produce_numbered(&producer, "idem", 0..RECORDS, PARTITIONS).await;

    let seen = read_numbered(
        &broker.bootstrap(),
        "idem-reader",
        "idem",
        PARTITIONS,
        RECORDS,
    )
    .await;
    for (p, values) in seen.iter().enumerate() {
        let expected: Vec<String> = (0..RECORDS)
            .filter(|i| i % PARTITIONS as usize == p)
            .map(|i| format!("value-{i}"))
            .collect();
        assert_eq!(values, &expected, "partition {p}");
    }
    let topic = broker.topic("idem").expect("t");
    let total: i64 = topic.partitions.iter().map(|l| l.log_end_offset()).sum();
    assert_eq!(total, RECORDS as i64, "nothing appended twice");
    drop(topic);
    broker.shutdown().expect("shutdown");
}
