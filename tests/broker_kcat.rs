//! Specification: the bundled broker works with `kcat` (Debian's build on librdkafka
//! 2.0.2, which is strict about `ApiVersions` v3 tagged fields).
//!
//! `-P` produces keyed records with headers, `-C -e` consumes them from the beginning,
//! `-L` lists metadata and `-Q` translates timestamps into offsets via the time index.
//! kcat comes from the Makefile's Debian packages; without it the test is skipped, except
//! in CI (`CI` set), where a missing kcat is a failure.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use rill_test_support::now_ms;
use rill_test_support::process::kcat_available;
use streams_broker::{BrokerConfig, EmbeddedBroker};

fn kcat(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new("kcat")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kcat runs");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).expect("stdin written");
    }
    drop(input);
    let out = child.wait_with_output().expect("kcat finishes");
    assert!(
        out.status.success(),
        "kcat {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn kcat_produces_consumes_lists_and_queries_offsets() {
    if !kcat_available() {
        return;
    }
    let broker = EmbeddedBroker::start(BrokerConfig::default()).expect("broker starts");
    let b = broker.bootstrap();
    broker.create_topic("kc", 1).expect("topic");

    kcat(
        &[
            "-b",
            &b,
            "-P",
            "-t",
            "kc",
            "-p",
            "0",
            "-K",
            ":",
            "-H",
            "source=kcat",
        ],
        Some("k1:one\nk2:two\nk3:three\n"),
    );
    std::thread::sleep(Duration::from_millis(50));
    let between = now_ms();
    std::thread::sleep(Duration::from_millis(50));
    kcat(
        &[
            "-b", &b, "-P", "-t", "kc", "-p", "0", "-K", ":", "-z", "snappy",
        ],
        Some("k4:four\nk5:five\n"),
    );

    let out = kcat(
        &[
            "-b",
            &b,
            "-C",
            "-t",
            "kc",
            "-o",
            "beginning",
            "-e",
            "-f",
            "%k=%s@%o|%h\n",
        ],
        None,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "k1=one@0|source=kcat",
            "k2=two@1|source=kcat",
            "k3=three@2|source=kcat",
            "k4=four@3|",
            "k5=five@4|",
        ]
    );

    // Auto-creation through metadata, then listing.
    let out = kcat(&["-b", &b, "-L", "-t", "auto-created"], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("topic \"auto-created\" with 1 partitions"),
        "{text}"
    );
    let out = kcat(&["-b", &b, "-L"], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1 brokers"), "{text}");
    assert!(text.contains("topic \"kc\" with 1 partitions"), "{text}");
    assert!(
        text.contains("partition 0, leader 0, replicas: 0, isrs: 0"),
        "{text}"
    );

    // Offsets for times: the first record at or after each timestamp.
    let query = |ts: i64| {
        let out = kcat(&["-b", &b, "-Q", "-t", &format!("kc:0:{ts}")], None);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(query(0), "kc [0] offset 0");
    assert_eq!(query(between), "kc [0] offset 3");
    assert_eq!(query(now_ms() + 3_600_000), "kc [0] offset -1");
    broker.shutdown().expect("clean shutdown");
}
