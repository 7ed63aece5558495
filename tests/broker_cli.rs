//! Specification: `rill broker --data-dir DIR --listen ADDR` runs the broker as a process
//! that logs with `tracing`, exits cleanly (status 0) on SIGTERM and SIGINT, and keeps its
//! data across restarts.

mod broker_support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use broker_support::{batch, RawClient};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

/// Starts `rill broker` on an ephemeral loopback port; returns the child and its address,
/// read from the "broker listening" log line.
fn start(data_dir: &std::path::Path) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rill"))
        .args(["broker", "--data-dir"])
        .arg(data_dir)
        .args(["--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rill starts");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("broker listening") {
                let addr = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("addr="))
                    .and_then(|a| {
                        a.trim_matches(|c: char| !c.is_ascii_digit() && c != '.' && c != ':')
                            .parse()
                            .ok()
                    });
                let _ = tx.send(addr);
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("listening line")
        .expect("address in the log line");
    (child, addr)
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "broker did not exit after the signal"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

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

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
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
    let (mut child, addr) = start(dir.path());
    assert!(addr.ip().is_loopback());
    produce(addr, "before-restart");
    signal(&child, "TERM");
    assert!(wait_exit(&mut child).success(), "clean exit on SIGTERM");

    let (mut child, addr) = start(dir.path());
    assert_eq!(fetch_all(addr), ["before-restart"]);
    produce(addr, "after-restart");
    assert_eq!(fetch_all(addr), ["before-restart", "after-restart"]);
    signal(&child, "INT");
    assert!(wait_exit(&mut child).success(), "clean exit on SIGINT");
}
