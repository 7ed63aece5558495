//! Specification: configuration for real clusters (issue 17), as Kafka Streams 4.x does it.
//!
//! - One instance per state directory: a second `KafkaStreams` with the same `application.id`
//!   and `state.dir` fails at `new()` with an error naming the directory, whether the first
//!   runs in this process or in another one (the `wordcount` example); once the first is
//!   closed, the directory is free again.
//! - An unreachable `bootstrap.servers` (a closed port on 127.0.0.1) is logged while the
//!   runtime waits (WARN, with the address), and `start()` fails after `task.timeout.ms` with
//!   an error naming the property and the address.
//! - A running instance logs a summary per stream thread every `log.summary.interval.ms`
//!   ("Processed N total records, ran M punctuators, and committed K total tasks since the
//!   last update"), names its threads after `client.id`, and deletes the directories of tasks
//!   it does not own after `state.cleanup.delay.ms`, leaving its own tasks' and other files.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use rill::prelude::*;
use rill_test_support::process::{example, terminate};
use rill_test_support::*;

/// Every log line of this test binary, from every thread.
fn logs() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<&'static Mutex<Vec<u8>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs: &'static Mutex<Vec<u8>> = Box::leak(Box::new(Mutex::new(Vec::new())));
        struct Capture(&'static Mutex<Vec<u8>>);
        impl Write for Capture {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || Capture(logs))
            // Fails only if `RUST_LOG` made `broker()` install its own first: then the log
            // assertions below fail, saying so.
            .try_init()
            .ok();
        logs
    })
}

fn log_lines_containing(needle: &str) -> Vec<String> {
    String::from_utf8_lossy(&logs().lock().unwrap())
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_second_instance_on_the_same_state_dir_fails_in_process() {
    logs();
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let (id, input, output) = word_count_topics(&broker, 1);
    let state_dir = tempfile::tempdir().unwrap();
    let application_id = format!("locked-{id}");
    let first = KafkaStreams::new(
        word_count(&input, &output),
        config(&application_id, &bootstrap, state_dir.path()),
    )
    .unwrap();
    first.start().unwrap();
    wait_running(&first, Duration::from_secs(30));

    let err = KafkaStreams::new(
        word_count(&input, &output),
        config(&application_id, &bootstrap, state_dir.path()),
    )
    .unwrap_err()
    .to_string();
    let dir = state_dir.path().join(&application_id).display().to_string();
    assert!(err.contains(&dir), "{err}");
    assert!(err.contains("another instance"), "{err}");
    // Another application may share the state.dir.
    let other = KafkaStreams::new(
        word_count(&input, &output),
        config(&format!("other-{id}"), &bootstrap, state_dir.path()),
    );
    assert!(other.is_ok());

    // close() releases the directory, as Kafka's; clean_up() takes it back while it deletes.
    assert!(first.close(Duration::from_secs(30)));
    let second = KafkaStreams::new(
        word_count(&input, &output),
        config(&application_id, &bootstrap, state_dir.path()),
    )
    .expect("free again once the first instance is closed");
    let err = first.clean_up().unwrap_err().to_string();
    assert!(err.contains(&dir), "{err}");
    drop(second);
    first.clean_up().unwrap();
}

/// A child process that does not outlive a failed test.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_second_instance_on_the_same_state_dir_fails_across_processes() {
    logs();
    let broker = broker();
    let bootstrap = broker.bootstrap();
    // The example reads and writes these topics.
    broker.create_topic("streams-plaintext-input", 1).unwrap();
    broker.create_topic("streams-wordcount-output", 1).unwrap();
    let state_dir = tempfile::tempdir().unwrap();
    let application_id = format!("locked-process-{}", unique());
    let mut child = KillOnDrop(
        Command::new(example("wordcount"))
            .args(["--bootstrap-servers", &bootstrap])
            .args(["--application-id", &application_id])
            .args(["--state-dir", &state_dir.path().display().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the example"),
    );
    // It holds the lock once it says it is running.
    let stdout = child.0.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("running") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the example runs");

    let err = KafkaStreams::new(
        word_count("streams-plaintext-input", "streams-wordcount-output"),
        config(&application_id, &bootstrap, state_dir.path()),
    )
    .unwrap_err()
    .to_string();
    let dir = state_dir.path().join(&application_id).display().to_string();
    assert!(err.contains(&dir), "{err}");

    let status = terminate(&mut child.0, Duration::from_secs(30));
    assert!(status.success(), "exit after SIGTERM: {status}");
    KafkaStreams::new(
        word_count("streams-plaintext-input", "streams-wordcount-output"),
        config(&application_id, &bootstrap, state_dir.path()),
    )
    .expect("free again once the other process is gone");
}

#[test]
fn an_unreachable_bootstrap_server_is_logged_and_fails_start_in_bounded_time() {
    logs();
    // A port on 127.0.0.1 that nothing listens on any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address = format!("127.0.0.1:{port}");
    let state_dir = tempfile::tempdir().unwrap();
    let mut config = config(
        &format!("unreachable-{}", unique()),
        &address,
        state_dir.path(),
    );
    config.set("task.timeout.ms", "3000").unwrap();
    let streams = KafkaStreams::new(word_count("in", "out"), config).unwrap();
    let started = Instant::now();
    let err = streams.start().unwrap_err().to_string();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(20), "start() took {took:?}");
    assert!(err.contains("bootstrap.servers"), "{err}");
    assert!(err.contains(&address), "{err}");
    let warnings = log_lines_containing(&address);
    assert!(
        warnings.iter().any(|l| l.contains("WARN")),
        "no warning names {address}: {warnings:?}"
    );
}

#[test]
fn threads_log_summaries_and_removed_tasks_state_is_cleaned() {
    logs();
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let (id, input, output) = word_count_topics(&broker, 2);
    let lines = random_lines(17, 2_000, 50);
    produce_lines(&bootstrap, &input, &lines);
    let state_dir = tempfile::tempdir().unwrap();
    let application_id = format!("summary-{id}");
    // State a previous run left: a task this instance will not own, and a file of the user's.
    let app_dir = state_dir.path().join(&application_id);
    std::fs::create_dir_all(app_dir.join("7_3")).unwrap();
    std::fs::write(app_dir.join("notes.txt"), "keep me").unwrap();

    let client_id = format!("billing-{id}");
    let mut config = config(&application_id, &bootstrap, state_dir.path());
    config
        .set("client.id", &client_id)
        .unwrap()
        .set("log.summary.interval.ms", "200")
        .unwrap()
        .set("state.cleanup.delay.ms", "0")
        .unwrap();
    let streams = KafkaStreams::new(word_count(&input, &output), config).unwrap();
    streams.start().unwrap();
    wait_running(&streams, Duration::from_secs(30));
    let mut reader = CountReader::new(&bootstrap, &output, false);
    reader.read_until_equal(&model(&lines), Duration::from_secs(60));

    let thread = format!("{client_id}-StreamThread-1");
    wait_until(Duration::from_secs(10), "a summary with records", || {
        log_lines_containing(&thread).iter().any(|l| {
            l.contains("INFO")
                && l.contains("total records, ran")
                && l.contains("since the last update")
                && !l.contains("Processed 0 total records")
        })
    });
    wait_until(
        Duration::from_secs(10),
        "the removed task's state deleted",
        || !app_dir.join("7_3").exists(),
    );
    assert!(app_dir.join("notes.txt").exists());
    assert!(app_dir.join("1_0").exists(), "an owned task's directory");
    assert!(streams.close(Duration::from_secs(30)));
}
