//! Specification: no request, however mangled, panics the broker, grows its memory without
//! bound, or stops it serving well-behaved clients.
//!
//! A fixed-seed fuzz of the request decoders and the produce path: valid frames of the APIs
//! clients send most (ApiVersions, Metadata, Produce with uncompressed and compressed
//! batches to a plain and a compacted topic, Fetch, ListOffsets, FindCoordinator,
//! OffsetFetch, InitProducerId, Heartbeat, OffsetCommit, DescribeGroups) are mutated (bytes flipped, inserted, cut, fields set to extremes, size
//! prefixes that lie) and sent over raw TCP. Produce frames are also mutated inside their
//! record batch with the CRC made right again, so that the mutations reach the record
//! validation rather than stopping at the checksum. The run is bounded by a number of
//! frames, the same every time; afterwards librdkafka must read every partition to its
//! end (a stored batch no consumer can get past fails the test: before issue 18's checks
//! it did, at the second offset of `fuzz-0`) and a real client must still write and read.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::Compression;
use rill_test_support::protocol::{batch, compressed_batch, fix_crc, RawClient};
use rill_test_support::{embedded_broker, TableReader};

/// Frames sent in one run: a few seconds in a debug build.
const FRAMES: usize = 4000;
const SEED: u64 = 0x5eed_f022_2026_0018;

/// xorshift64*: small, seeded, the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn topic(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

/// A valid request frame, and where the record batch it carries sits in it.
struct Seed {
    frame: Vec<u8>,
    batch: Option<std::ops::Range<usize>>,
}

fn produce_seed(c: &mut RawClient, name: &str, records: Bytes) -> Seed {
    let request = ProduceRequest::default()
        .with_acks(1)
        .with_timeout_ms(1000)
        .with_topic_data(vec![produce_request::TopicProduceData::default()
            .with_name(topic(name))
            .with_partition_data(vec![
                produce_request::PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(records.clone())),
            ])]);
    let frame = c.encode(9, &request);
    let start = frame
        .windows(records.len())
        .position(|w| w == &records[..])
        .expect("the batch is in the frame");
    Seed {
        frame,
        batch: Some(start..start + records.len()),
    }
}

fn seeds(c: &mut RawClient) -> Vec<Seed> {
    let plain = |frame| Seed { frame, batch: None };
    let mut seeds = vec![
        plain(c.encode(3, &ApiVersionsRequest::default())),
        plain(c.encode(
            12,
            &MetadataRequest::default().with_topics(Some(vec![
                metadata_request::MetadataRequestTopic::default().with_name(Some(topic("fuzz"))),
            ])),
        )),
        plain(
            c.encode(
                12,
                &FetchRequest::default()
                    .with_replica_id(BrokerId(-1))
                    .with_max_wait_ms(0)
                    .with_min_bytes(1)
                    .with_max_bytes(1 << 20)
                    .with_topics(vec![fetch_request::FetchTopic::default()
                        .with_topic(topic("fuzz"))
                        .with_partitions(vec![
                            fetch_request::FetchPartition::default()
                                .with_partition(0)
                                .with_partition_max_bytes(1 << 16),
                            fetch_request::FetchPartition::default()
                                .with_partition(1)
                                .with_partition_max_bytes(1 << 16),
                        ])]),
            ),
        ),
        plain(
            c.encode(
                7,
                &ListOffsetsRequest::default()
                    .with_replica_id(BrokerId(-1))
                    .with_topics(vec![list_offsets_request::ListOffsetsTopic::default()
                        .with_name(topic("fuzz"))
                        .with_partitions(vec![
                            list_offsets_request::ListOffsetsPartition::default()
                                .with_partition_index(0)
                                .with_timestamp(-1),
                        ])]),
            ),
        ),
        plain(c.encode(
            3,
            &FindCoordinatorRequest::default().with_key(StrBytes::from_static_str("fuzz-group")),
        )),
        plain(
            c.encode(
                7,
                &OffsetFetchRequest::default()
                    .with_group_id(GroupId(StrBytes::from_static_str("fuzz-group")))
                    .with_topics(Some(vec![
                        offset_fetch_request::OffsetFetchRequestTopic::default()
                            .with_name(topic("fuzz"))
                            .with_partition_indexes(vec![0, 1]),
                    ])),
            ),
        ),
        plain(
            c.encode(
                4,
                &InitProducerIdRequest::default()
                    .with_transaction_timeout_ms(60_000)
                    .with_producer_id(ProducerId(-1))
                    .with_producer_epoch(-1),
            ),
        ),
        plain(
            c.encode(
                4,
                &HeartbeatRequest::default()
                    .with_group_id(GroupId(StrBytes::from_static_str("fuzz-group")))
                    .with_generation_id(1)
                    .with_member_id(StrBytes::from_static_str("member")),
            ),
        ),
        plain(
            c.encode(
                8,
                &OffsetCommitRequest::default()
                    .with_group_id(GroupId(StrBytes::from_static_str("fuzz-group")))
                    .with_generation_id_or_member_epoch(-1)
                    .with_topics(vec![
                        offset_commit_request::OffsetCommitRequestTopic::default()
                            .with_name(topic("fuzz"))
                            .with_partitions(vec![
                                offset_commit_request::OffsetCommitRequestPartition::default()
                                    .with_partition_index(0)
                                    .with_committed_offset(1),
                            ]),
                    ]),
            ),
        ),
        plain(
            c.encode(
                5,
                &DescribeGroupsRequest::default()
                    .with_groups(vec![GroupId(StrBytes::from_static_str("fuzz-group"))]),
            ),
        ),
    ];
    for name in ["fuzz", "fuzz-compact"] {
        seeds.push(produce_seed(
            c,
            name,
            batch(&[("k", "v", 1), ("l", "w", 2)]),
        ));
        for compression in [Compression::Gzip, Compression::Snappy, Compression::Zstd] {
            let records = compressed_batch(&[("k", "v", 1), ("l", "w", 2)], compression);
            seeds.push(produce_seed(c, name, records));
        }
    }
    seeds
}

/// One mutation of `seed`; `None` asks for a size prefix that lies (sent separately).
fn mutate(rng: &mut Rng, seed: &Seed) -> Vec<u8> {
    let mut f = seed.frame.clone();
    let extremes = [0i32, -1, 1, i32::MAX, i32::MIN, 0x7fff, 65_536];
    match rng.below(6) {
        0 => {
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(f.len());
                f[at] ^= 1 << rng.below(8);
            }
        }
        1 => f.truncate(rng.below(f.len())),
        2 => {
            let at = rng.below(f.len() + 1);
            let junk: Vec<u8> = (0..1 + rng.below(16)).map(|_| rng.next() as u8).collect();
            f.splice(at..at, junk);
        }
        3 if f.len() >= 4 => {
            let at = rng.below(f.len() - 3);
            let v = extremes[rng.below(extremes.len())];
            f[at..at + 4].copy_from_slice(&v.to_be_bytes());
        }
        _ => match &seed.batch {
            // Inside the batch, past its CRC, then signed again: the records are checked.
            Some(range) if range.len() > 21 => {
                let b = &mut f[range.clone()];
                for _ in 0..1 + rng.below(3) {
                    let at = 21 + rng.below(b.len() - 21);
                    if rng.below(2) == 0 {
                        b[at] ^= 1 << rng.below(8);
                    } else {
                        b[at] = rng.next() as u8;
                    }
                }
                fix_crc(b);
            }
            _ => {
                let at = rng.below(f.len());
                f[at] = rng.next() as u8;
            }
        },
    }
    f
}

/// The resident memory of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_write_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    s
}

#[test]
fn mutated_requests_neither_panic_nor_grow_the_broker_and_clients_still_work() {
    let panics = Arc::new(AtomicUsize::new(0));
    let counted = panics.clone();
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        counted.fetch_add(1, Ordering::SeqCst);
        default_hook(info);
    }));

    let broker = embedded_broker(&[]);
    broker.create_topic("fuzz", 2).expect("topic");
    broker
        .create_topic_with_config("fuzz-compact", 1, &[("cleanup.policy", "compact")])
        .expect("topic");
    let mut good = RawClient::connect(broker.addr());
    let seeds = seeds(&mut good);
    // Acknowledged before the fuzz; must read back intact after it.
    let before = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![produce_request::TopicProduceData::default()
            .with_name(topic("fuzz"))
            .with_partition_data(vec![
                produce_request::PartitionProduceData::default()
                    .with_index(1)
                    .with_records(Some(batch(&[("before", "fuzz", 1)]))),
            ])]);
    let response = good.request(9, &before);
    assert_eq!(response.responses[0].partition_responses[0].error_code, 0);

    let rss_start = rss_kib();
    let mut rng = Rng(SEED);
    let mut pool: Vec<TcpStream> = (0..8).map(|_| connect(broker.addr())).collect();
    for i in 0..FRAMES {
        let seed = &seeds[rng.below(seeds.len())];
        let slot = rng.below(pool.len());
        let sent = if rng.below(50) == 0 {
            // A size prefix that claims far more than follows; the connection is then
            // abandoned half-sent.
            let claim = (rng.below(100 << 20) as i32).to_be_bytes();
            let sent = pool[slot]
                .write_all(&claim)
                .and_then(|_| pool[slot].write_all(&seed.frame[..seed.frame.len() / 2]));
            pool[slot] = connect(broker.addr());
            sent
        } else {
            let frame = mutate(&mut rng, seed);
            let mut framed = (frame.len() as i32).to_be_bytes().to_vec();
            framed.extend_from_slice(&frame);
            pool[slot].write_all(&framed)
        };
        if sent.is_err() {
            // Closed by the broker (as it should for undecodable requests): reconnect.
            pool[slot] = connect(broker.addr());
        }
        if i % 500 == 0 {
            // Responses are never read on the pool, so connections are renewed now and
            // then rather than left to block on full socket buffers.
            pool = (0..8).map(|_| connect(broker.addr())).collect();
            let versions = good.request(3, &ApiVersionsRequest::default());
            assert_eq!(versions.error_code, 0, "still serving after {i} frames");
        }
    }
    drop(pool);

    assert_eq!(panics.load(Ordering::SeqCst), 0, "no panic while fuzzing");
    let grown_mib = rss_kib().saturating_sub(rss_start) / 1024;
    assert!(grown_mib < 512, "memory grew by {grown_mib} MiB");

    // Everything acknowledged, the fuzz's own batches included, is readable by librdkafka
    // to the end of every partition: no batch was stored that a consumer cannot get past.
    let mut ends = Vec::new();
    for (name, partitions) in [("fuzz", 2), ("fuzz-compact", 1)] {
        for p in 0..partitions {
            let fetch = FetchRequest::default()
                .with_replica_id(BrokerId(-1))
                .with_max_bytes(1)
                .with_topics(vec![fetch_request::FetchTopic::default()
                    .with_topic(topic(name))
                    .with_partitions(vec![fetch_request::FetchPartition::default()
                        .with_partition(p)
                        .with_fetch_offset(0)
                        .with_partition_max_bytes(1)])]);
            let hw = good.request(12, &fetch).responses[0].partitions[0].high_watermark;
            ends.push((name, p, hw));
        }
    }
    read_every_partition_to(&broker.bootstrap(), &ends);

    // A real client still writes and reads, and what was acknowledged before is intact.
    rill_test_support::produce(
        &broker.bootstrap(),
        "fuzz",
        &[(Some(b"after".to_vec()), b"fuzz".to_vec())],
    );
    let mut reader = TableReader::new(&broker.bootstrap(), "fuzz");
    reader.read_until(Duration::from_secs(30), |latest| {
        latest.get("before").map(String::as_str) == Some("fuzz")
            && latest.get("after").map(String::as_str) == Some("fuzz")
    });
    assert_eq!(panics.load(Ordering::SeqCst), 0, "no panic afterwards");
}

/// Reads each `(topic, partition, end)` from the beginning with librdkafka
/// (`read_uncommitted`) until it has consumed the record before `end`.
fn read_every_partition_to(bootstrap: &str, ends: &[(&str, i32, i64)]) {
    use rdkafka::config::ClientConfig;
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{Message, Offset, TopicPartitionList};
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "fuzz-check")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_uncommitted")
        .create()
        .expect("consumer");
    let mut assignment = TopicPartitionList::new();
    for (name, p, _) in ends {
        assignment
            .add_partition_offset(name, *p, Offset::Beginning)
            .expect("assign");
    }
    consumer.assign(&assignment).expect("assign");
    let mut read: std::collections::HashMap<(String, i32), i64> = Default::default();
    let done = |read: &std::collections::HashMap<(String, i32), i64>| {
        ends.iter().all(|(name, p, end)| {
            *end == 0 || read.get(&(name.to_string(), *p)).is_some_and(|r| r >= end)
        })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !done(&read) {
        assert!(
            std::time::Instant::now() < deadline,
            "librdkafka did not get to the end of every partition: read up to {read:?}, ends {ends:?}"
        );
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            let at = read
                .entry((m.topic().to_string(), m.partition()))
                .or_default();
            *at = (*at).max(m.offset() + 1);
        }
    }
}
