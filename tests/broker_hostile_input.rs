//! Specification: what a peer sends is checked as Kafka checks it, and costs the broker memory
//! bounded by the size of what was sent, not by what it claims.
//!
//! - A produced batch whose records do not match its header (count, offset deltas), whose
//!   records do not parse, or which declares a codec Kafka does not know or does not
//!   decompress (within a bound) is refused, `INVALID_RECORD` or `CORRUPT_MESSAGE` as in
//!   Kafka's `LogValidator` and `DefaultRecordBatch`, and nothing of it is appended: a real
//!   client then reads exactly what was acknowledged. A partition gets exactly one batch
//!   per request (Kafka's `ProduceRequest.validateRecords`).
//! - A fetch is sized as Kafka sizes it (KIP-74): the request's `max_bytes`, capped by the
//!   broker's `fetch.max.bytes`, and each partition's `partition_max_bytes`; only the first
//!   partition that returns data may go over, by one whole batch; a partition listed twice
//!   is read once.
//! - `Metadata` naming topics by id only (an empty or null name) is answered by id.
//! - Topic names of Kafka's full 249 characters work.
//! - A connection that sends nothing for `connections.max.idle.ms`, or whose request does
//!   not arrive whole within `request.read.timeout.ms`, is closed; past `max.connections`
//!   new connections wait until one closes.
//!
//! The frames are written by hand: no client library sends them.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{Compression, RecordBatchDecoder};
use rill_test_support::protocol::{batch, compressed_batch, raw_batch, raw_record, RawClient};
use rill_test_support::{embedded_broker, TableReader};

/// `CORRUPT_MESSAGE`.
const CORRUPT_MESSAGE: i16 = 2;
/// `INVALID_RECORD`.
const INVALID_RECORD: i16 = 87;

fn topic(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

/// Produces `records` to partition 0 of `name` (Produce v9); the error code and base offset.
fn produce(client: &mut RawClient, name: &str, records: impl Into<Bytes>) -> (i16, i64) {
    let request = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![produce_request::TopicProduceData::default()
            .with_name(topic(name))
            .with_partition_data(vec![
                produce_request::PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(records.into())),
            ])]);
    let response = client.request(9, &request);
    let p = &response.responses[0].partition_responses[0];
    if p.error_code != 0 {
        eprintln!("produce to {name} refused: {:?}", p.error_message);
    }
    (p.error_code, p.base_offset)
}

/// A fetch of `partitions` (partition, offset, partition_max_bytes) of `name`.
fn fetch(name: &str, max_bytes: i32, partitions: &[(i32, i64, i32)]) -> FetchRequest {
    FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(0)
        .with_min_bytes(1)
        .with_max_bytes(max_bytes)
        .with_topics(vec![fetch_request::FetchTopic::default()
            .with_topic(topic(name))
            .with_partitions(
                partitions
                    .iter()
                    .map(|&(p, offset, max)| {
                        fetch_request::FetchPartition::default()
                            .with_partition(p)
                            .with_fetch_offset(offset)
                            .with_partition_max_bytes(max)
                    })
                    .collect(),
            )])
}

/// The high watermark of partition 0 of `name`.
fn high_watermark(client: &mut RawClient, name: &str) -> i64 {
    let response = client.request(12, &fetch(name, 1 << 20, &[(0, 0, 1 << 20)]));
    response.responses[0].partitions[0].high_watermark
}

/// Reads `name` with librdkafka until `expected` (key → value) is what it holds.
fn read_with_rdkafka(bootstrap: &str, name: &str, expected: &[(&str, &str)]) {
    let mut reader = TableReader::new(bootstrap, name);
    let expected: std::collections::BTreeMap<String, String> = expected
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    reader.read_until(Duration::from_secs(30), |latest| *latest == expected);
}

/// Three records; the batch header then claims `count` (and a matching last offset delta).
/// Kafka's `DefaultRecordBatchTest.testInvalidRecordCountTooManyNonCompressedV2` and
/// `…TooLittle…` (counts 5 and 2 for 3 records), with the CRC made right as a peer would.
fn lying_count(count: i32, compression: Compression) -> Vec<u8> {
    let good = compressed_batch(
        &[("a", "hello", 1), ("b", "there", 2), ("c", "beautiful", 3)],
        compression,
    );
    let mut b = good.to_vec();
    b[23..27].copy_from_slice(&(count - 1).to_be_bytes()); // last offset delta
    b[57..61].copy_from_slice(&count.to_be_bytes()); // records count
    rill_test_support::protocol::fix_crc(&mut b);
    b
}

#[test]
fn a_batch_whose_record_count_lies_is_refused_and_nothing_is_appended() {
    let broker = embedded_broker(&[]);
    broker.create_topic("counts", 1).expect("topic");
    let mut c = RawClient::connect(broker.addr());
    for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
        for count in [5, 2] {
            assert_eq!(
                produce(&mut c, "counts", lying_count(count, compression)).0,
                INVALID_RECORD,
                "{count} records claimed for 3, {compression:?}"
            );
        }
    }
    assert_eq!(high_watermark(&mut c, "counts"), 0, "nothing appended");
    // Record offset deltas must run 0, 1, 2…: two records both at delta 0 would share
    // an offset once stored as sent.
    let mut section = raw_record(0, Some(b"x"), Some(b"1"));
    section.extend(raw_record(0, Some(b"y"), Some(b"2")));
    assert_eq!(
        produce(&mut c, "counts", raw_batch(0, 1, 2, &section)).0,
        INVALID_RECORD
    );
    assert_eq!(
        produce(
            &mut c,
            "counts",
            batch(&[("k", "kept", 1), ("l", "too", 2)])
        ),
        (0, 0)
    );
    assert_eq!(high_watermark(&mut c, "counts"), 2);
    read_with_rdkafka(
        &broker.bootstrap(),
        "counts",
        &[("k", "kept"), ("l", "too")],
    );
}

#[test]
fn records_that_do_not_parse_exactly_are_refused() {
    let broker = embedded_broker(&[]);
    broker.create_topic("shapes", 1).expect("topic");
    let mut c = RawClient::connect(broker.addr());
    let good = raw_record(0, Some(b"k"), Some(b"v"));
    // A record whose length claims one byte more than its fields take (Kafka's
    // `DefaultRecord.readFrom`: "Invalid record size: expected to read …").
    let mut long = good.clone();
    long[0] += 2; // zig-zag: +1
    long.push(0);
    // A record length running past the batch.
    let mut past = good.clone();
    past[0] = 0x7e; // zig-zag 63
                    // A negative header count ("Found invalid number of record headers").
    let mut headers = good.clone();
    let last = headers.len() - 1;
    headers[last] = 0x01; // zig-zag -1
                          // A varint longer than five bytes.
    let mut varint = vec![0x1a, 0];
    varint.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    varint.extend_from_slice(&[0; 6]);
    // Bytes left over after the last record ("records still remaining").
    let mut trailing = good.clone();
    trailing.extend_from_slice(&[0, 0, 0]);
    for (what, section) in [
        ("record longer than its fields", long),
        ("record running past the batch", past),
        ("negative header count", headers),
        ("overlong varint", varint),
        ("trailing bytes", trailing),
        ("no records at all", Vec::new()),
    ] {
        assert_eq!(
            produce(&mut c, "shapes", raw_batch(0, 0, 1, &section)).0,
            INVALID_RECORD,
            "{what}"
        );
    }
    assert_eq!(produce(&mut c, "shapes", raw_batch(0, 0, 1, &good)), (0, 0));
    assert_eq!(high_watermark(&mut c, "shapes"), 1);
    read_with_rdkafka(&broker.bootstrap(), "shapes", &[("k", "v")]);
}

#[test]
fn unknown_codecs_and_payloads_that_do_not_decompress_are_corrupt() {
    let broker = embedded_broker(&[]);
    broker.create_topic("codecs", 1).expect("topic");
    let mut c = RawClient::connect(broker.addr());
    let section = raw_record(0, Some(b"k"), Some(b"v"));
    for codec in 5..=7i16 {
        assert_eq!(
            produce(&mut c, "codecs", raw_batch(codec, 0, 1, &section)).0,
            CORRUPT_MESSAGE,
            "codec {codec}"
        );
    }
    for codec in 1..=4i16 {
        assert_eq!(
            produce(
                &mut c,
                "codecs",
                raw_batch(codec, 0, 1, b"not compressed at all")
            )
            .0,
            CORRUPT_MESSAGE,
            "codec {codec} over garbage"
        );
        let compression = [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ][codec as usize - 1];
        // A real batch of this codec, cut in half and re-signed: the decompressor fails
        // (`CORRUPT_MESSAGE`) or the records end early (`INVALID_RECORD`, Kafka's
        // "premature EOF"), depending on where the codec notices.
        let whole = compressed_batch(&[("k", &"v".repeat(500), 1)], compression);
        let section = &whole[61..61 + (whole.len() - 61) / 2];
        let code = produce(&mut c, "codecs", raw_batch(codec, 0, 1, section)).0;
        assert!(
            [CORRUPT_MESSAGE, INVALID_RECORD].contains(&code),
            "codec {codec} truncated: {code}"
        );
    }
    assert_eq!(high_watermark(&mut c, "codecs"), 0, "nothing appended");
    for compression in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let name = format!("{compression:?}");
        assert_eq!(
            produce(
                &mut c,
                "codecs",
                compressed_batch(&[(&name, "ok", 1)], compression)
            )
            .0,
            0
        );
    }
    read_with_rdkafka(
        &broker.bootstrap(),
        "codecs",
        &[
            ("Gzip", "ok"),
            ("Snappy", "ok"),
            ("Lz4", "ok"),
            ("Zstd", "ok"),
        ],
    );
}

#[test]
fn decompression_is_bounded_on_every_topic() {
    let broker = embedded_broker(&[]);
    broker
        .create_topic_with_config("small", 1, &[("max.message.bytes", "20000")])
        .expect("topic");
    broker
        .create_topic_with_config(
            "small-compacted",
            1,
            &[
                ("max.message.bytes", "20000"),
                ("cleanup.policy", "compact"),
            ],
        )
        .expect("topic");
    let mut c = RawClient::connect(broker.addr());
    // Some 4 MiB of zeros compress to a few hundred bytes: far below max.message.bytes,
    // far above what a batch that size may expand to.
    let zeros = "0".repeat(4 << 20);
    for name in ["small", "small-compacted"] {
        for compression in [Compression::Gzip, Compression::Lz4, Compression::Zstd] {
            let bomb = compressed_batch(&[("k", &zeros, 1)], compression);
            assert!(bomb.len() < 20_000, "{compression:?}: {}", bomb.len());
            assert_eq!(
                produce(&mut c, name, bomb).0,
                CORRUPT_MESSAGE,
                "{name} {compression:?}"
            );
        }
        assert_eq!(high_watermark(&mut c, name), 0, "nothing appended");
        let fine = compressed_batch(&[("k", &"z".repeat(50_000), 1)], Compression::Zstd);
        assert_eq!(produce(&mut c, name, fine), (0, 0), "{name}");
    }
}

/// Three partitions, each holding two batches of one ~1 KB record.
fn three_partitions_of_two_batches(c: &mut RawClient, name: &str) -> usize {
    let value = "v".repeat(1000);
    let mut size = 0;
    for p in 0..3 {
        for i in 0..2 {
            let b = batch(&[(&format!("{p}-{i}"), &value, 1)]);
            size = b.len();
            let request = ProduceRequest::default()
                .with_acks(-1)
                .with_timeout_ms(5000)
                .with_topic_data(vec![produce_request::TopicProduceData::default()
                    .with_name(topic(name))
                    .with_partition_data(vec![
                        produce_request::PartitionProduceData::default()
                            .with_index(p)
                            .with_records(Some(b)),
                    ])]);
            let response = c.request(9, &request);
            assert_eq!(response.responses[0].partition_responses[0].error_code, 0);
        }
    }
    size
}

/// The number of record batches each partition of the (one-topic) response holds.
fn batches_per_partition(response: &FetchResponse) -> Vec<(i32, usize)> {
    response.responses[0]
        .partitions
        .iter()
        .map(|p| {
            let mut records = p.records.clone().unwrap_or_default();
            let n = if records.is_empty() {
                0
            } else {
                RecordBatchDecoder::decode_all(&mut records)
                    .expect("whole batches")
                    .len()
            };
            (p.partition_index, n)
        })
        .collect()
}

/// KIP-74, as Kafka's `ReplicaManager.readFromLog` applies it: partitions are read in
/// request order against one response budget; the first partition with data returns at
/// least one whole batch even over its `partition_max_bytes` and the budget, and from then
/// on a batch is returned only if it fits.
#[test]
fn fetch_sizes_follow_kip_74() {
    let broker = embedded_broker(&[]);
    broker.create_topic("sized", 3).expect("topic");
    let mut c = RawClient::connect(broker.addr());
    let size = three_partitions_of_two_batches(&mut c, "sized") as i32;

    // Budget for one and a half batches; each partition allows half of one.
    let response = c.request(
        12,
        &fetch(
            "sized",
            size * 3 / 2,
            &[(0, 0, size / 2), (1, 0, size / 2), (2, 0, size)],
        ),
    );
    assert_eq!(batches_per_partition(&response), [(0, 1), (1, 0), (2, 0)]);
    // Partitions after the first still report their positions.
    assert!(response.responses[0]
        .partitions
        .iter()
        .all(|p| p.error_code == 0 && p.high_watermark == 2));

    // Budget for three batches, two per partition: 2 + 1 + 0.
    let response = c.request(
        12,
        &fetch(
            "sized",
            size * 3,
            &[(0, 0, size * 2), (1, 0, size * 2), (2, 0, size * 2)],
        ),
    );
    assert_eq!(batches_per_partition(&response), [(0, 2), (1, 1), (2, 0)]);

    // A partition listed twice is read once and answered once.
    let response = c.request(
        12,
        &fetch("sized", 1 << 20, &[(1, 0, 1 << 20), (1, 0, 1 << 20)]),
    );
    assert_eq!(batches_per_partition(&response), [(1, 2)]);
}

/// The broker's `fetch.max.bytes` caps what a request asks for.
#[test]
fn fetch_max_bytes_of_the_broker_caps_the_request() {
    let broker = embedded_broker(&[("fetch.max.bytes", "2048")]);
    broker.create_topic("capped", 3).expect("topic");
    let mut c = RawClient::connect(broker.addr());
    let size = three_partitions_of_two_batches(&mut c, "capped");
    assert!(size > 1024 && size < 2048, "{size}");
    let all = [(0, 0, i32::MAX), (1, 0, i32::MAX), (2, 0, i32::MAX)];
    let response = c.request(12, &fetch("capped", i32::MAX, &all));
    assert_eq!(batches_per_partition(&response), [(0, 1), (1, 0), (2, 0)]);
    // librdkafka still reads everything, a batch at a time.
    let expected: Vec<(String, String)> = (0..3)
        .flat_map(|p| (0..2).map(move |i| (format!("{p}-{i}"), "v".repeat(1000))))
        .collect();
    let expected: Vec<(&str, &str)> = expected
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    read_with_rdkafka(&broker.bootstrap(), "capped", &expected);
}

/// Kafka's Java admin client describes topics by id with an empty name (and other
/// clients with a null one): either is answered by id, an unknown id with
/// `UNKNOWN_TOPIC_ID`, and nothing is auto-created.
#[test]
fn metadata_by_topic_id() {
    let broker = embedded_broker(&[]);
    broker.create_topic("by-id", 2).expect("topic");
    let mut c = RawClient::connect(broker.addr());
    let all = c.request(12, &MetadataRequest::default().with_topics(None));
    let id = all
        .topics
        .iter()
        .find(|t| t.name.as_ref().map(|n| n.0.as_str()) == Some("by-id"))
        .expect("listed")
        .topic_id;
    let unknown = uuid_like(7);
    for name in [Some(topic("")), None] {
        let request = MetadataRequest::default()
            .with_allow_auto_topic_creation(true)
            .with_topics(Some(vec![
                metadata_request::MetadataRequestTopic::default()
                    .with_name(name.clone())
                    .with_topic_id(id),
                metadata_request::MetadataRequestTopic::default()
                    .with_name(name.clone())
                    .with_topic_id(unknown),
            ]));
        let response = c.request(12, &request);
        assert_eq!(response.topics.len(), 2, "{name:?}");
        let found = &response.topics[0];
        assert_eq!(found.error_code, 0, "{name:?}");
        assert_eq!(found.name.as_ref().map(|n| n.0.as_str()), Some("by-id"));
        assert_eq!(found.topic_id, id);
        assert_eq!(found.partitions.len(), 2);
        let missing = &response.topics[1];
        assert_eq!(missing.error_code, 100, "UNKNOWN_TOPIC_ID");
        assert_eq!(missing.topic_id, unknown);
    }
    let all = c.request(12, &MetadataRequest::default().with_topics(None));
    assert_eq!(all.topics.len(), 1, "nothing auto-created");
}

fn uuid_like(n: u8) -> uuid::Uuid {
    uuid::Uuid::from_bytes([n; 16])
}

/// True if the broker closes `stream` (end of stream or reset) within `within`; false if
/// the read merely timed out.
fn closed_by_broker(stream: &mut TcpStream, within: Duration) -> bool {
    stream.set_read_timeout(Some(within)).expect("timeout");
    let mut buf = [0u8; 64];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) => {
                return matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                )
            }
        }
    }
}

#[test]
fn idle_and_half_sent_connections_are_closed() {
    let broker = embedded_broker(&[
        ("connections.max.idle.ms", "300"),
        ("request.read.timeout.ms", "1000"),
    ]);
    broker.create_topic("alive", 1).expect("topic");
    let mut silent = TcpStream::connect(broker.addr()).expect("connect");
    let mut half = TcpStream::connect(broker.addr()).expect("connect");
    half.write_all(&100i32.to_be_bytes()).expect("send");
    half.write_all(&[0, 18, 0, 3]).expect("send");
    // A byte every 100 ms: never idle, but the request never completes.
    let mut trickle = TcpStream::connect(broker.addr()).expect("connect");
    let mut writer = trickle.try_clone().expect("clone");
    let dripping = std::thread::spawn(move || {
        writer.write_all(&1000i32.to_be_bytes()).expect("send");
        for _ in 0..100 {
            std::thread::sleep(Duration::from_millis(100));
            if writer.write_all(&[0]).is_err() {
                return true;
            }
        }
        false
    });
    // A client that keeps asking is served throughout.
    let mut active = RawClient::connect(broker.addr());
    for i in 0..10 {
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(produce(&mut active, "alive", batch(&[("k", "v", i)])).0, 0);
    }
    assert!(
        closed_by_broker(&mut silent, Duration::from_secs(5)),
        "silent"
    );
    assert!(
        closed_by_broker(&mut half, Duration::from_secs(5)),
        "half a request"
    );
    assert!(
        closed_by_broker(&mut trickle, Duration::from_secs(5)),
        "trickle"
    );
    assert!(dripping.join().expect("writer"), "the trickle was cut off");
    assert_eq!(
        produce(&mut active, "alive", batch(&[("k", "v", 1)])),
        (0, 10)
    );
}

#[test]
fn connections_beyond_max_connections_wait_to_be_accepted() {
    let broker = embedded_broker(&[("max.connections", "2")]);
    let mut first = RawClient::connect(broker.addr());
    let mut second = RawClient::connect(broker.addr());
    assert_eq!(
        first.request(3, &ApiVersionsRequest::default()).error_code,
        0
    );
    assert_eq!(
        second.request(3, &ApiVersionsRequest::default()).error_code,
        0
    );
    // The third connection completes in the listen backlog, but is not served.
    let frame = first.encode(3, &ApiVersionsRequest::default());
    let mut third = TcpStream::connect(broker.addr()).expect("connect");
    let mut framed = (frame.len() as i32).to_be_bytes().to_vec();
    framed.extend_from_slice(&frame);
    third.write_all(&framed).expect("send");
    third
        .set_read_timeout(Some(Duration::from_millis(1000)))
        .expect("timeout");
    let mut size = [0u8; 4];
    let waiting = third.read_exact(&mut size).unwrap_err();
    assert!(
        matches!(waiting.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{waiting:?}"
    );
    // Once a connection closes, it is accepted and answered.
    drop(first);
    third
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    third.read_exact(&mut size).expect("answered");
    assert!(i32::from_be_bytes(size) > 0);
    assert_eq!(
        second.request(3, &ApiVersionsRequest::default()).error_code,
        0
    );
}

/// Kafka's longest topic name, 249 characters, created over the wire, written and read
/// back by librdkafka.
#[test]
fn topics_with_249_character_names_work() {
    let broker = embedded_broker(&[]);
    let name = "t".repeat(249);
    let mut c = RawClient::connect(broker.addr());
    let request = CreateTopicsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![create_topics_request::CreatableTopic::default()
            .with_name(topic(&name))
            .with_num_partitions(3)
            .with_replication_factor(1)]);
    let response = c.request(5, &request);
    assert_eq!(
        response.topics[0].error_code, 0,
        "{:?}",
        response.topics[0].error_message
    );
    assert_eq!(
        produce(&mut c, &name, batch(&[("long", "name", 1)])),
        (0, 0)
    );
    read_with_rdkafka(&broker.bootstrap(), &name, &[("long", "name")]);
    // One character more is Kafka's INVALID_TOPIC_EXCEPTION.
    let request = CreateTopicsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![create_topics_request::CreatableTopic::default()
            .with_name(topic(&"t".repeat(250)))
            .with_num_partitions(1)
            .with_replication_factor(1)]);
    assert_eq!(c.request(5, &request).topics[0].error_code, 17);
}

/// Kafka's `ProduceRequest.validateRecords`: exactly one v2 batch per partition, and zstd
/// only from Produce v7 (`UNSUPPORTED_COMPRESSION_TYPE`).
#[test]
fn a_partition_gets_exactly_one_batch_per_request() {
    let broker = embedded_broker(&[]);
    broker.create_topic("one", 1).expect("topic");
    let mut c = RawClient::connect(broker.addr());
    let mut two = batch(&[("a", "1", 1)]).to_vec();
    two.extend_from_slice(&batch(&[("b", "2", 2)]));
    assert_eq!(produce(&mut c, "one", two).0, INVALID_RECORD);
    assert_eq!(produce(&mut c, "one", Vec::new()).0, INVALID_RECORD);
    let zstd = compressed_batch(&[("z", "std", 1)], Compression::Zstd);
    let request = |records: Bytes| {
        ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(5000)
            .with_topic_data(vec![produce_request::TopicProduceData::default()
                .with_name(topic("one"))
                .with_partition_data(vec![
                    produce_request::PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(records)),
                ])])
    };
    let response = c.request(6, &request(zstd.clone()));
    assert_eq!(response.responses[0].partition_responses[0].error_code, 76);
    assert_eq!(high_watermark(&mut c, "one"), 0, "nothing appended");
    let response = c.request(7, &request(zstd));
    assert_eq!(response.responses[0].partition_responses[0].error_code, 0);
    read_with_rdkafka(&broker.bootstrap(), "one", &[("z", "std")]);
}
