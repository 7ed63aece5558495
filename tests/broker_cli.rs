//! Specification: `rill broker --data-dir DIR --listen ADDR` runs the broker as a process
//! that logs with `tracing`, exits cleanly (status 0) on SIGTERM and SIGINT, and keeps its
//! data across restarts.
//!
//! `rill broker --config server.properties` takes its settings from a Kafka properties file
//! (`log.dirs`, `listeners`, `num.partitions`, topic defaults such as `log.retention.hours`),
//! with `--config KEY=VALUE` and the flags applied after it; a file with an unknown key stops
//! the broker with an error naming the file and the key.

use std::net::SocketAddr;
use std::time::Duration;

use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use rill_test_support::now_ms;
use rill_test_support::process::{
    signal, start_rill_broker, start_rill_broker_with_args, wait_exit,
};
use rill_test_support::protocol::{batch, RawClient};

fn fetch_all(addr: SocketAddr) -> Vec<String> {
    let mut c = RawClient::connect(addr);
    let request = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_bytes(1 << 20)
        .with_topics(vec![fetch_request::FetchTopic::default()
            .with_topic(TopicName(StrBytes::from_static_str("cli")))
            .with_partitions(vec![
                fetch_request::FetchPartition::default().with_partition_max_bytes(1 << 20)
            ])]);
    let response = c.request(12, &request);
    assert_eq!(response.responses[0].partitions[0].error_code, 0);
    let mut records = response.responses[0].partitions[0]
        .records
        .clone()
        .unwrap_or_default();
    kafka_protocol::records::RecordBatchDecoder::decode_all(&mut records)
        .expect("decode")
        .into_iter()
        .flat_map(|set| set.records)
        .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
        .collect()
}

fn produce(addr: SocketAddr, value: &str) {
    let mut c = RawClient::connect(addr);
    // Metadata auto-creates the topic.
    let metadata = c.request(
        12,
        &MetadataRequest::default()
            .with_allow_auto_topic_creation(true)
            .with_topics(Some(vec![metadata_request::MetadataRequestTopic::default(
            )
            .with_name(Some(TopicName(StrBytes::from_static_str("cli"))))])),
    );
    assert_eq!(metadata.topics[0].error_code, 0);
    let request =
        ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(5000)
            .with_topic_data(vec![produce_request::TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_static_str("cli")))
                .with_partition_data(vec![
                    produce_request::PartitionProduceData::default()
                        .with_records(Some(batch(&[("k", value, now_ms())]))),
                ])]);
    let response = c.request(9, &request);
    assert_eq!(response.responses[0].partition_responses[0].error_code, 0);
}

#[test]
fn rill_broker_serves_stops_on_signals_and_keeps_data() {
    let dir = tempfile::tempdir().expect("dir");
    let (mut child, addr) = start_rill_broker(env!("CARGO_BIN_EXE_rill"), dir.path());
    assert!(addr.ip().is_loopback());
    produce(addr, "before-restart");
    signal(&child, "TERM");
    assert!(
        wait_exit(&mut child, Duration::from_secs(15)).success(),
        "clean exit on SIGTERM"
    );

    let (mut child, addr) = start_rill_broker(env!("CARGO_BIN_EXE_rill"), dir.path());
    assert_eq!(fetch_all(addr), ["before-restart"]);
    produce(addr, "after-restart");
    assert_eq!(fetch_all(addr), ["before-restart", "after-restart"]);
    signal(&child, "INT");
    assert!(
        wait_exit(&mut child, Duration::from_secs(15)).success(),
        "clean exit on SIGINT"
    );
}

#[test]
fn rill_broker_reads_a_server_properties_file() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    let file = dir.path().join("server.properties");
    std::fs::write(
        &file,
        format!(
            "# Kafka's names\nlog.dirs={}\nlisteners=PLAINTEXT://127.0.0.1:0\nnum.partitions = 3\nlog.retention.hours: 24\n",
            data.display()
        ),
    )
    .expect("config file");
    let (mut child, addr) = start_rill_broker_with_args(
        env!("CARGO_BIN_EXE_rill"),
        &[
            "--config".as_ref(),
            file.as_os_str(),
            "--config".as_ref(),
            "log.segment.bytes=1048576".as_ref(),
        ],
    );
    produce(addr, "from-a-file");
    let mut c = RawClient::connect(addr);
    let metadata = c.request(
        12,
        &MetadataRequest::default()
            .with_topics(Some(vec![metadata_request::MetadataRequestTopic::default(
            )
            .with_name(Some(TopicName(StrBytes::from_static_str("cli"))))])),
    );
    assert_eq!(metadata.topics[0].partitions.len(), 3, "num.partitions");
    let described = c.request(
        4,
        &DescribeConfigsRequest::default().with_resources(vec![
            describe_configs_request::DescribeConfigsResource::default()
                .with_resource_type(2)
                .with_resource_name(StrBytes::from_static_str("cli"))
                .with_configuration_keys(None),
        ]),
    );
    let value = |name: &str| {
        described.results[0]
            .configs
            .iter()
            .find(|c| c.name.as_str() == name)
            .and_then(|c| c.value.as_ref().map(|v| v.to_string()))
    };
    assert_eq!(value("retention.ms").as_deref(), Some("86400000"));
    assert_eq!(value("segment.bytes").as_deref(), Some("1048576"));
    assert!(
        data.join("cli-0").is_dir(),
        "log.dirs is the data directory"
    );
    signal(&child, "TERM");
    assert!(wait_exit(&mut child, Duration::from_secs(15)).success());

    std::fs::write(&file, "num.partitions=3\nno.such.property=1\n").expect("config file");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rill"))
        .args(["broker", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .arg("--config")
        .arg(&file)
        .output()
        .expect("rill runs");
    assert!(!out.status.success(), "an unknown key stops the broker");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("server.properties") && stderr.contains("no.such.property"),
        "{stderr}"
    );
}
