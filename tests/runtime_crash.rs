//! Specification: the `wordcount` example, killed with SIGKILL in the middle of its input and
//! restarted with the same state directory, ends with the right counts.
//!
//! - Under `exactly_once_v2`, a `read_committed` reader sees exactly the model, and no word's
//!   count is ever emitted twice: the killed run's open transaction is aborted (the restarted
//!   producers fence it), and the stores are restored from the committed changelog.
//! - Under `at_least_once`, no final count is lower than the model (records after the last
//!   commit may be counted twice).
//!
//! Both runs end with SIGTERM, to which the example answers with a clean shutdown (exit 0).

mod runtime_support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use runtime_support::*;

fn spawn(
    bootstrap: &str,
    application_id: &str,
    state_dir: &std::path::Path,
    guarantee: &str,
) -> Child {
    Command::new(example("wordcount"))
        .args(["--bootstrap-servers", bootstrap])
        .args(["--application-id", application_id])
        .args(["--state-dir", &state_dir.display().to_string()])
        .args(["--processing-guarantee", guarantee])
        // The killed member must leave the group quickly for the restarted one to get its
        // partitions.
        .args(["--set", "consumer.session.timeout.ms=6000"])
        .args(["--set", "consumer.heartbeat.interval.ms=500"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the wordcount example")
}

/// SIGTERM, then the exit status within 30 s.
fn terminate(mut child: Child) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "no clean exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn crash_and_restart(guarantee: &str) -> (CountReader, std::collections::HashMap<String, i64>) {
    let mut config = rill::streams_broker::BrokerConfig::default();
    config.set("group.initial.rebalance.delay.ms", "0").unwrap();
    config
        .set(
            "transaction.abort.timed.out.transaction.cleanup.interval.ms",
            "1000",
        )
        .unwrap();
    let broker = rill::streams_broker::EmbeddedBroker::start(config).unwrap();
    let bootstrap = broker.bootstrap();
    let (input, output) = ("streams-plaintext-input", "streams-wordcount-output");
    broker.create_topic(input, 2).unwrap();
    broker.create_topic(output, 2).unwrap();
    let lines = random_lines(2024, 30_000, 300);
    let (first, second) = lines.split_at(20_000);
    produce_lines(&bootstrap, input, first);
    let application_id = format!("crash-{guarantee}").replace('_', "-");
    let state_dir = tempfile::tempdir().unwrap();
    let mut reader = CountReader::new(&bootstrap, output, guarantee == "exactly_once_v2");

    // Run 1: killed once a fifth of the words are counted.
    let mut child = spawn(&bootstrap, &application_id, state_dir.path(), guarantee);
    let total: i64 = model(first).values().sum();
    reader.read_until(Duration::from_secs(60), |latest| {
        latest.values().sum::<i64>() > total / 5
    });
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");

    // Run 2: same state directory, more input, until the output is complete.
    produce_lines(&bootstrap, input, second);
    let child = spawn(&bootstrap, &application_id, state_dir.path(), guarantee);
    let model = model(&lines);
    reader.read_until(Duration::from_secs(90), |latest| {
        model
            .iter()
            .all(|(word, count)| latest.get(word).is_some_and(|c| c >= count))
    });
    let status = terminate(child);
    assert!(status.success(), "exit after SIGTERM: {status}");
    (reader, model)
}

#[test]
fn sigkill_under_exactly_once_leaves_exactly_the_model() {
    let (reader, model) = crash_and_restart("exactly_once_v2");
    assert_eq!(reader.latest, model);
    for (word, counts) in &reader.history {
        assert!(
            counts.windows(2).all(|w| w[0] < w[1]),
            "`{word}` counts were emitted more than once: {counts:?}"
        );
    }
}

#[test]
fn sigkill_under_at_least_once_counts_nothing_less_than_the_model() {
    let (reader, model) = crash_and_restart("at_least_once");
    for (word, count) in &model {
        assert!(
            reader.latest[word] >= *count,
            "`{word}`: {} < {count}",
            reader.latest[word]
        );
    }
}
