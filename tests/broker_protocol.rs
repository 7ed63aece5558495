//! Specification: the broker's protocol edges, limits and bad input, checked on the wire.
//!
//! - `ApiVersions` at a version the broker does not know is answered in v0 with
//!   `UNSUPPORTED_VERSION` and the supported list (KIP-511); `Produce` is advertised from
//!   v0 but v0–v2 are answered with `UNSUPPORTED_VERSION`, as Kafka 4 does.
//! - An API the broker does not implement gets an error response; an unknown API key, a
//!   negative, oversize or truncated frame, or garbage, closes that connection only: the
//!   broker keeps serving everyone else and loses nothing it acknowledged.
//! - Batches with a bad CRC or over `max.message.bytes` are refused; fetches long-poll;
//!   a fetch below the log start offset (after retention) is `OFFSET_OUT_OF_RANGE`.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use proptest::prelude::*;
use rill_test_support::protocol::{batch, RawClient};
use streams_broker::{BrokerConfig, EmbeddedBroker};

fn topic(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

fn produce(client: &mut RawClient, name: &str, partition: i32, records: Bytes) -> (i16, i64) {
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![produce_request::TopicProduceData::default()
            .with_name(topic(name))
            .with_partition_data(vec![
                produce_request::PartitionProduceData::default()
                    .with_index(partition)
                    .with_records(Some(records)),
            ])]);
    let response = client.request(9, &request);
    let p = &response.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

fn fetch_request(name: &str, offset: i64, max_wait_ms: i32) -> FetchRequest {
    FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(max_wait_ms)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_topics(vec![fetch_request::FetchTopic::default()
            .with_topic(topic(name))
            .with_partitions(vec![fetch_request::FetchPartition::default()
                .with_partition(0)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(1 << 20)])])
}

#[test]
fn api_versions_fallback_and_old_produce_versions() {
    let broker = EmbeddedBroker::start(BrokerConfig::default()).expect("broker");
    let mut c = RawClient::connect(broker.addr());

    // A version from the future: v0 answer with the error and our list.
    let mut frame = c.encode(3, &ApiVersionsRequest::default());
    frame[2..4].copy_from_slice(&99i16.to_be_bytes());
    c.send_frame(&frame).expect("send");
    let mut body = Bytes::from(c.read_frame().expect("answer"));
    let _header = <ResponseHeader as kafka_protocol::protocol::Decodable>::decode(&mut body, 0)
        .expect("header");
    let response =
        <ApiVersionsResponse as kafka_protocol::protocol::Decodable>::decode(&mut body, 0)
            .expect("v0 body");
    assert_eq!(response.error_code, 35, "UNSUPPORTED_VERSION");
    let produce = response
        .api_keys
        .iter()
        .find(|k| k.api_key == ApiKey::Produce as i16)
        .expect("Produce advertised");
    assert_eq!((produce.min_version, produce.max_version), (0, 13));
    assert!(!response
        .api_keys
        .iter()
        .any(|k| k.api_key == ApiKey::SaslHandshake as i16));

    // The client retries with v3 and gets a clean answer on the same connection.
    let response = c.request(3, &ApiVersionsRequest::default());
    assert_eq!(response.error_code, 0);

    // Produce v2, written by hand (the codec no longer knows it).
    broker.create_topic("old", 1).expect("topic");
    let mut v2 = Vec::new();
    v2.extend_from_slice(&0i16.to_be_bytes()); // Produce
    v2.extend_from_slice(&2i16.to_be_bytes()); // v2
    v2.extend_from_slice(&42i32.to_be_bytes()); // correlation id
    v2.extend_from_slice(&(-1i16).to_be_bytes()); // null client id
    v2.extend_from_slice(&1i16.to_be_bytes()); // acks
    v2.extend_from_slice(&1000i32.to_be_bytes()); // timeout
    v2.extend_from_slice(&1i32.to_be_bytes()); // one topic
    v2.extend_from_slice(&3i16.to_be_bytes());
    v2.extend_from_slice(b"old");
    v2.extend_from_slice(&1i32.to_be_bytes()); // one partition
    v2.extend_from_slice(&0i32.to_be_bytes());
    v2.extend_from_slice(&4i32.to_be_bytes());
    v2.extend_from_slice(b"junk");
    c.send_frame(&v2).expect("send");
    let body = c.read_frame().expect("answer");
    assert_eq!(&body[0..4], &42i32.to_be_bytes());
    // topics(1) name partitions(1) index error_code
    let error_at = 4 + 4 + 2 + 3 + 4 + 4;
    assert_eq!(i16::from_be_bytes([body[error_at], body[error_at + 1]]), 35);
    assert_eq!(
        broker.topic("old").expect("t").partitions[0].log_end_offset(),
        0
    );
}

#[test]
fn unsupported_and_unknown_apis() {
    let broker = EmbeddedBroker::start(BrokerConfig::default()).expect("broker");
    let mut c = RawClient::connect(broker.addr());
    let response = c.request(1, &SaslHandshakeRequest::default());
    assert_eq!(
        response.error_code, 35,
        "a clean error, not a dropped connection"
    );
    // ACL APIs are served; without an authorizer they answer SECURITY_DISABLED, as Kafka.
    let response = c.request(1, &DescribeAclsRequest::default());
    assert_eq!(response.error_code, 54);
    // Admin APIs are served: DeleteRecords of an unknown topic is UNKNOWN_TOPIC_OR_PARTITION.
    let response = c.request(
        2,
        &DeleteRecordsRequest::default().with_topics(vec![
            delete_records_request::DeleteRecordsTopic::default()
                .with_name(topic("t"))
                .with_partitions(vec![Default::default()]),
        ]),
    );
    assert_eq!(response.topics[0].partitions[0].error_code, 3);
    // Group APIs are served: an empty group id is refused (INVALID_GROUP_ID) ...
    let response = c.request(5, &JoinGroupRequest::default());
    assert_eq!(response.error_code, 24);
    // ... and this broker coordinates every group.
    let response = c.request(2, &FindCoordinatorRequest::default());
    assert_eq!(response.error_code, 0);
    assert_eq!(response.port, i32::from(broker.addr().port()));
    // Still usable.
    let response = c.request(0, &DescribeClusterRequest::default());
    assert_eq!(response.brokers.len(), 1);
    assert_eq!(response.brokers[0].port, i32::from(broker.addr().port()));
    assert_eq!(response.cluster_id.len(), 22);

    // An API key that does not exist at all closes the connection.
    c.send_frame(&[0x03, 0xe7, 0, 0, 0, 0, 0, 1, 0, 0])
        .expect("send");
    assert!(c.is_closed());
}

#[test]
fn bad_frames_close_only_their_connection_and_lose_nothing() {
    let mut config = BrokerConfig::default();
    config
        .set("socket.request.max.bytes", "1048576")
        .expect("config");
    let broker = EmbeddedBroker::start(config).expect("broker");
    broker.create_topic("safe", 1).expect("topic");
    let mut good = RawClient::connect(broker.addr());
    let (code, offset) = produce(&mut good, "safe", 0, batch(&[("k", "acknowledged", 1)]));
    assert_eq!((code, offset), (0, 0));

    // Oversize: refused before reading the body.
    let mut c = RawClient::connect(broker.addr());
    c.send_raw(&(2 * 1024 * 1024i32).to_be_bytes())
        .expect("send");
    assert!(c.is_closed());
    // Negative size.
    let mut c = RawClient::connect(broker.addr());
    c.send_raw(&(-5i32).to_be_bytes()).expect("send");
    assert!(c.is_closed());
    // Truncated: the client gives up half way.
    let mut c = RawClient::connect(broker.addr());
    c.send_raw(&100i32.to_be_bytes()).expect("send");
    c.send_raw(&[0, 18, 0, 3, 0, 0]).expect("send");
    drop(c);
    // Too short for a header.
    let mut c = RawClient::connect(broker.addr());
    c.send_frame(&[0, 18]).expect("send");
    assert!(c.is_closed());

    // Random garbage, each on its own connection.
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 300,
        ..ProptestConfig::default()
    });
    runner
        .run(&proptest::collection::vec(any::<u8>(), 0..200), |garbage| {
            let mut c = RawClient::connect(broker.addr());
            c.send_frame(&garbage).expect("send");
            // Either an answer or a closed connection; never a hang past the timeout.
            let _ = c.read_frame();
            Ok(())
        })
        .expect("garbage handled");

    // The first connection still works and the acknowledged record is intact.
    let response = good.request(12, &fetch_request("safe", 0, 0));
    let p = &response.responses[0].partitions[0];
    assert_eq!(p.error_code, 0);
    assert_eq!(p.high_watermark, 1);
    let mut records = p.records.clone().expect("records");
    let sets =
        kafka_protocol::records::RecordBatchDecoder::decode_all(&mut records).expect("decode");
    assert_eq!(
        sets[0].records[0].value.as_deref(),
        Some(&b"acknowledged"[..])
    );
}

#[test]
fn corrupt_and_oversize_batches_are_refused() {
    let broker = EmbeddedBroker::start(BrokerConfig::default()).expect("broker");
    broker
        .create_topic_with_config("strict", 1, &[("max.message.bytes", "500")])
        .expect("topic");
    let mut c = RawClient::connect(broker.addr());
    let mut bad = batch(&[("k", "v", 1)]).to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 0x55;
    assert_eq!(
        produce(&mut c, "strict", 0, Bytes::from(bad)).0,
        2,
        "CORRUPT_MESSAGE"
    );
    let big = "x".repeat(600);
    assert_eq!(
        produce(&mut c, "strict", 0, batch(&[("k", &big, 1)])).0,
        10,
        "MESSAGE_TOO_LARGE"
    );
    assert_eq!(
        produce(&mut c, "missing", 0, batch(&[("k", "v", 1)])).0,
        3,
        "UNKNOWN_TOPIC_OR_PARTITION"
    );
    assert_eq!(produce(&mut c, "strict", 7, batch(&[("k", "v", 1)])).0, 3);
    assert_eq!(
        produce(&mut c, "strict", 0, batch(&[("k", "v", 1)])),
        (0, 0)
    );
}

#[test]
fn fetch_long_polls_until_data_arrives() {
    let broker = EmbeddedBroker::start(BrokerConfig::default()).expect("broker");
    broker.create_topic("poll", 1).expect("topic");
    let addr = broker.addr();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        let mut c = RawClient::connect(addr);
        produce(&mut c, "poll", 0, batch(&[("k", "late", 5)]))
    });
    let mut c = RawClient::connect(broker.addr());
    // max_wait is far longer than the client's read timeout (10 s): only the append,
    // from another connection, can complete this fetch in time.
    let response = c.request(12, &fetch_request("poll", 0, 60_000));
    let p = &response.responses[0].partitions[0];
    assert!(
        p.records.as_ref().is_some_and(|r| !r.is_empty()),
        "the append woke the fetch"
    );
    assert_eq!(writer.join().expect("writer"), (0, 0));

    // Nothing new: the fetch returns empty after max_wait.
    let response = c.request(12, &fetch_request("poll", 1, 100));
    let p = &response.responses[0].partitions[0];
    assert_eq!(p.error_code, 0);
    assert!(p.records.as_ref().is_none_or(|r| r.is_empty()));
    // Beyond the end.
    let response = c.request(12, &fetch_request("poll", 5, 0));
    assert_eq!(
        response.responses[0].partitions[0].error_code, 1,
        "OFFSET_OUT_OF_RANGE"
    );
}

#[test]
fn retention_advances_log_start_and_old_offsets_are_out_of_range() {
    let mut config = BrokerConfig::default();
    config
        .set("log.retention.check.interval.ms", "100")
        .expect("config");
    let broker = EmbeddedBroker::start(config).expect("broker");
    broker
        .create_topic_with_config(
            "short",
            1,
            &[("segment.bytes", "200"), ("retention.ms", "60000")],
        )
        .expect("topic");
    let mut c = RawClient::connect(broker.addr());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    for i in 0..6 {
        // Three old batches, three recent ones; each fills a segment.
        let ts = if i < 3 { now - 3_600_000 } else { now };
        let value = format!("value-{i}-{}", "p".repeat(120));
        assert_eq!(
            produce(&mut c, "short", 0, batch(&[("k", &value, ts)])),
            (0, i)
        );
    }
    // The background retention task deletes the three old segments.
    let log = broker.topic("short").expect("topic").partitions[0].clone();
    for _ in 0..200 {
        if log.log_start_offset() == 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(log.log_start_offset(), 3);

    let response = c.request(12, &fetch_request("short", 0, 0));
    let p = &response.responses[0].partitions[0];
    assert_eq!(p.error_code, 1, "OFFSET_OUT_OF_RANGE below the log start");
    assert_eq!(p.log_start_offset, 3);
    let response = c.request(12, &fetch_request("short", 3, 0));
    assert_eq!(response.responses[0].partitions[0].error_code, 0);

    let request = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![list_offsets_request::ListOffsetsTopic::default()
            .with_name(topic("short"))
            .with_partitions(vec![
                list_offsets_request::ListOffsetsPartition::default().with_timestamp(-2),
            ])]);
    let response = c.request(7, &request);
    assert_eq!(
        response.topics[0].partitions[0].offset, 3,
        "earliest is the new log start"
    );
}

#[test]
fn acks_zero_gets_no_response_and_bad_acks_are_refused() {
    let broker = EmbeddedBroker::start(BrokerConfig::default()).expect("broker");
    broker.create_topic("fire", 1).expect("topic");
    let mut c = RawClient::connect(broker.addr());
    let request = |acks: i16| {
        ProduceRequest::default()
            .with_acks(acks)
            .with_timeout_ms(5000)
            .with_topic_data(vec![produce_request::TopicProduceData::default()
                .with_name(topic("fire"))
                .with_partition_data(vec![
                    produce_request::PartitionProduceData::default()
                        .with_records(Some(batch(&[("k", "no-ack", 1)]))),
                ])])
    };
    let frame = c.encode(9, &request(0));
    c.send_frame(&frame).expect("send");
    // The next answer on the connection belongs to the next request: acks=0 got none.
    let response = c.request(12, &fetch_request("fire", 0, 0));
    assert_eq!(response.responses[0].partitions[0].high_watermark, 1);
    let response = c.request(9, &request(2));
    let p = &response.responses[0].partition_responses[0];
    assert_eq!(p.error_code, 21, "INVALID_REQUIRED_ACKS");
    let response = c.request(9, &request(1));
    assert_eq!(response.responses[0].partition_responses[0].base_offset, 1);
}

/// The protection against hostile array counts (a request claiming 2^31 elements in a few
/// bytes, which made the crates.io `kafka-protocol` 0.18.0 reserve ~150 GB and abort) comes
/// with `streams-broker` itself, not from a `[patch.crates-io]` that only this workspace
/// would see: the workspace declares no patch, `streams-broker` resolves its codec to the
/// patched package `rill-kafka-protocol`, and the broker survives such requests on the wire.
#[test]
fn the_array_count_fix_reaches_every_user_of_streams_broker() {
    let root = rill_test_support::workspace_root();
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("Cargo.toml");
    assert!(
        !manifest.lines().any(|l| l.trim() == "[patch.crates-io]"),
        "the workspace must not patch crates.io: its users would not get the patch"
    );
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).expect("Cargo.lock");
    let packages: Vec<&str> = lock.split("[[package]]").collect();
    let broker = packages
        .iter()
        .find(|p| p.contains("\nname = \"streams-broker\"\n"))
        .expect("streams-broker in Cargo.lock");
    assert!(
        broker.contains("\"rill-kafka-protocol\""),
        "streams-broker must depend on rill-kafka-protocol: {broker}"
    );
    assert!(
        !packages
            .iter()
            .any(|p| p.contains("\nname = \"kafka-protocol\"\n")),
        "no unpatched kafka-protocol may be in the build"
    );

    let broker = EmbeddedBroker::start(BrokerConfig::default()).expect("broker");
    broker.create_topic("after-hostile", 1).expect("topic");
    // Metadata v1, Produce v3, Fetch v4 and (flexible, varint counts) Metadata v12, each
    // claiming an array of 2^31 - 1 elements right after the header.
    let mut frames: Vec<Vec<u8>> = [(3i16, 1i16), (0, 3), (1, 4)]
        .into_iter()
        .map(|(key, version)| {
            let mut frame = Vec::new();
            frame.extend_from_slice(&key.to_be_bytes());
            frame.extend_from_slice(&version.to_be_bytes());
            frame.extend_from_slice(&[0, 0, 0, 7, 0, 0]);
            frame.extend_from_slice(&[0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff]);
            frame
        })
        .collect();
    frames.push(vec![
        0, 3, 0, 12, 0, 0, 0, 7, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f,
    ]);
    for frame in frames {
        let mut c = RawClient::connect(broker.addr());
        c.send_frame(&frame).expect("send");
        let _ = c.read_frame();
    }
    let mut client = RawClient::connect(broker.addr());
    let (code, offset) = produce(&mut client, "after-hostile", 0, batch(&[("k", "v", 1)]));
    assert_eq!((code, offset), (0, 0), "the broker still serves");
}
