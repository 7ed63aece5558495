//! Specification: a running instance is adjusted as Kafka Streams' `KafkaStreams` is — stream
//! threads added and removed, processing paused and resumed, closed with or without leaving
//! the consumer group.
//!
//! - `add_stream_thread` starts a thread named with the lowest free index; the tasks spread
//!   over the threads and the instance goes REBALANCING → RUNNING. `remove_stream_thread`
//!   stops the oldest thread, whose name the next added thread takes (Kafka's
//!   `AdjustStreamThreadCountTest`: `shouldAddStreamThread`, `shouldRemoveStreamThread`,
//!   `shouldAddAndRemoveStreamThreadsWhileKeepingNamesCorrect`,
//!   `shouldRemoveStreamThreadWithStaticMembership`).
//! - Removing a thread while input flows loses nothing and, under exactly-once, counts
//!   nothing twice: the word counts end equal to the model.
//! - `pause` stops processing while the instance stays in the group (no rebalance, every task
//!   kept); `resume` processes what arrived meanwhile. An instance paused before `start`
//!   processes nothing until resumed, and paused instances hand tasks over as usual (Kafka's
//!   `PauseResumeIntegrationTest`: `shouldPauseAndResumeKafkaStreams`,
//!   `shouldAllowForTopologiesToStartPaused`, `pauseResumeShouldWorkAcrossInstances`, with
//!   their input and expected output).
//! - `close_with(leave_group)` of one of two instances hands its partitions to the other at
//!   once, with `session.timeout.ms` = 45 s; a static member closing without leaving keeps its
//!   partitions. Closing with `LEAVE_GROUP` empties the group even with a session timeout of
//!   half an hour (Kafka's `KafkaStreamsCloseOptionsIntegrationTest`: `testCloseOptions`).
//! - Threads added and removed from two threads at once end at the original count, RUNNING,
//!   with the counts right; a removal that does not finish in time is a `Timeout` error
//!   (`shouldAddAndRemoveThreadsMultipleTimes`, `shouldnNotRemoveStreamThreadWithinTimeout`).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rill::prelude::*;
use rill::streams_core::TaskId;
use rill::GroupMembershipOperation;
use rill_test_support::*;

/// The tasks `streams` runs, over all its threads.
fn task_ids(streams: &KafkaStreams) -> BTreeSet<TaskId> {
    streams
        .local_thread_metadata()
        .iter()
        .flat_map(|t| t.active_tasks.iter().map(|task| task.task_id))
        .collect()
}

/// The thread indexes of `streams`' live threads, sorted (`…-StreamThread-<n>`).
fn thread_indexes(streams: &KafkaStreams) -> Vec<String> {
    let mut indexes: Vec<String> = streams
        .local_thread_metadata()
        .iter()
        .map(|t| index_of(&t.thread_name))
        .collect();
    indexes.sort();
    indexes
}

fn index_of(thread_name: &str) -> String {
    thread_name
        .rsplit_once("-StreamThread-")
        .map(|(_, n)| n.to_string())
        .unwrap_or_else(|| panic!("not a stream thread name: {thread_name}"))
}

/// Records every state `streams` enters.
fn record_states(streams: &KafkaStreams) -> Arc<Mutex<Vec<State>>> {
    let history = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&history);
    streams.set_state_listener(move |new, _| seen.lock().unwrap().push(new));
    history
}

/// Waits until the instance went REBALANCING → RUNNING since `history` was cleared, as
/// Kafka's `waitForTransitionFromRebalancingToRunning`.
fn wait_rebalancing_then_running(streams: &KafkaStreams, history: &Mutex<Vec<State>>) {
    wait_until(Duration::from_secs(30), "REBALANCING then RUNNING", || {
        let h = history.lock().unwrap();
        streams.state() == State::Running
            && h.len() >= 2
            && h[h.len() - 2] == State::Rebalancing
            && h[h.len() - 1] == State::Running
    });
}

/// Waits until every thread of `streams` runs tasks and together they run `tasks`, each once.
fn wait_spread(streams: &KafkaStreams, threads: usize, tasks: usize) {
    wait_until(
        Duration::from_secs(30),
        &format!("{tasks} tasks spread over {threads} threads"),
        || {
            let metadata = streams.local_thread_metadata();
            let all: Vec<TaskId> = metadata
                .iter()
                .flat_map(|t| t.active_tasks.iter().map(|task| task.task_id))
                .collect();
            let distinct: BTreeSet<&TaskId> = all.iter().collect();
            streams.state() == State::Running
                && metadata.len() == threads
                && metadata.iter().all(|t| !t.active_tasks.is_empty())
                && all.len() == tasks
                && distinct.len() == tasks
        },
    );
}

#[test]
fn added_threads_share_the_tasks_and_removed_ones_give_back_their_names() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let (id, input, output) = word_count_topics(&broker, 4);
    let lines = random_lines(11, 3_000, 300);
    produce_lines(&bootstrap, &input, &lines[..1_000]);
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&format!("threads-{id}"), &bootstrap, dir.path());
    config.set("num.stream.threads", "2").unwrap();
    let streams = KafkaStreams::new(word_count(&input, &output), config).unwrap();
    // Only RUNNING or REBALANCING instances take threads.
    assert_eq!(streams.add_stream_thread().unwrap(), None);
    assert_eq!(streams.remove_stream_thread().unwrap(), None);
    let history = record_states(&streams);
    streams.start().unwrap();
    // 4 partitions × 2 sub-topologies (the count reads a repartition topic).
    wait_spread(&streams, 2, 8);
    assert_eq!(thread_indexes(&streams), ["1", "2"]);

    // shouldAddStreamThread: a third thread, `-StreamThread-3`, takes its share of the tasks.
    history.lock().unwrap().clear();
    let added = streams
        .add_stream_thread()
        .unwrap()
        .expect("a thread is added");
    assert_eq!(index_of(&added), "3");
    assert!(streams
        .local_thread_metadata()
        .iter()
        .any(|t| t.thread_name == added));
    wait_spread(&streams, 3, 8);
    assert_eq!(thread_indexes(&streams), ["1", "2", "3"]);
    wait_rebalancing_then_running(&streams, &history);
    produce_lines(&bootstrap, &input, &lines[1_000..2_000]);
    let mut reader = CountReader::new(&bootstrap, &output, false);
    reader.read_until_equal(&model(&lines[..2_000]), Duration::from_secs(60));

    // shouldRemoveStreamThread: the oldest thread goes; the metadata no longer lists it.
    history.lock().unwrap().clear();
    let removed = streams
        .remove_stream_thread_with_timeout(Duration::from_secs(30))
        .unwrap()
        .expect("a thread is removed");
    assert_eq!(index_of(&removed), "1");
    assert!(removed.starts_with(&format!("threads-{id}-")), "{removed}");
    assert_eq!(streams.local_thread_metadata().len(), 2);
    wait_rebalancing_then_running(&streams, &history);
    wait_spread(&streams, 2, 8);
    assert_eq!(thread_indexes(&streams), ["2", "3"]);

    // shouldAddAndRemoveStreamThreadsWhileKeepingNamesCorrect: the next thread takes the
    // removed one's name.
    history.lock().unwrap().clear();
    let again = streams
        .add_stream_thread()
        .unwrap()
        .expect("a thread is added");
    assert_eq!(again, removed);
    wait_spread(&streams, 3, 8);
    assert_eq!(thread_indexes(&streams), ["1", "2", "3"]);
    wait_rebalancing_then_running(&streams, &history);

    produce_lines(&bootstrap, &input, &lines[2_000..]);
    reader.read_until_equal(&model(&lines), Duration::from_secs(60));
    assert!(streams.close(Duration::from_secs(30)));
    assert_eq!(streams.add_stream_thread().unwrap(), None);
}

#[test]
fn removing_a_thread_while_input_flows_loses_nothing() {
    remove_while_processing("at_least_once");
}

#[test]
fn removing_a_thread_under_exactly_once_counts_nothing_twice() {
    let history = remove_while_processing("exactly_once_v2");
    for (word, counts) in history {
        assert!(
            counts.windows(2).all(|w| w[0] < w[1]),
            "`{word}` counts emitted twice: {counts:?}"
        );
    }
}

/// Three threads count words; one is removed while lines are being produced; the counts end
/// equal to the model. Returns every count the output showed per word.
fn remove_while_processing(guarantee: &str) -> std::collections::HashMap<String, Vec<i64>> {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let (id, input, output) = word_count_topics(&broker, 4);
    let lines = random_lines(12, 12_000, 500);
    produce_lines(&bootstrap, &input, &lines[..2_000]);
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&format!("remove-{id}"), &bootstrap, dir.path());
    config
        .set("num.stream.threads", "3")
        .unwrap()
        .set("processing.guarantee", guarantee)
        .unwrap();
    let streams = KafkaStreams::new(word_count(&input, &output), config).unwrap();
    streams.start().unwrap();
    wait_spread(&streams, 3, 8);

    // The rest of the input arrives while the thread leaves.
    let producing = {
        let (bootstrap, input) = (bootstrap.clone(), input.clone());
        let rest = lines[2_000..].to_vec();
        std::thread::spawn(move || {
            for chunk in rest.chunks(500) {
                produce_lines(&bootstrap, &input, chunk);
            }
        })
    };
    let removed = streams
        .remove_stream_thread_with_timeout(Duration::from_secs(60))
        .unwrap()
        .expect("a thread is removed");
    producing.join().unwrap();
    wait_spread(&streams, 2, 8);
    assert!(!streams
        .local_thread_metadata()
        .iter()
        .any(|t| t.thread_name == removed));

    let mut reader = CountReader::new(&bootstrap, &output, guarantee == "exactly_once_v2");
    reader.read_until_equal(&model(&lines), Duration::from_secs(90));
    assert!(streams.close(Duration::from_secs(30)));
    reader.history
}

#[test]
fn a_removed_static_member_leaves_the_group_at_once() {
    // shouldRemoveStreamThreadWithStaticMembership, with a session timeout far longer than
    // the test's waits: the remaining thread gets the tasks because the member left.
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let (id, input, output) = word_count_topics(&broker, 4);
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&format!("static-remove-{id}"), &bootstrap, dir.path());
    config
        .set("num.stream.threads", "2")
        .unwrap()
        .set("group.instance.id", "member-A")
        .unwrap()
        .set("consumer.session.timeout.ms", "45000")
        .unwrap();
    let streams = KafkaStreams::new(word_count(&input, &output), config).unwrap();
    let history = record_states(&streams);
    streams.start().unwrap();
    wait_spread(&streams, 2, 8);
    history.lock().unwrap().clear();
    let started = Instant::now();
    let removed = streams.remove_stream_thread().unwrap().expect("removed");
    assert_eq!(index_of(&removed), "1");
    assert_eq!(streams.local_thread_metadata().len(), 1);
    wait_rebalancing_then_running(&streams, &history);
    wait_spread(&streams, 1, 8);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the tasks moved only after {:?}: the static member did not leave",
        started.elapsed()
    );
    let lines = random_lines(13, 500, 100);
    produce_lines(&bootstrap, &input, &lines);
    CountReader::new(&bootstrap, &output, false)
        .read_until_equal(&model(&lines), Duration::from_secs(60));
    assert!(streams.close(Duration::from_secs(30)));
}

#[test]
fn pause_stops_processing_without_leaving_the_group_and_resume_goes_on() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let (id, input, output) = word_count_topics(&broker, 4);
    let lines = random_lines(14, 2_000, 200);
    produce_lines(&bootstrap, &input, &lines[..1_000]);
    let dir = tempfile::tempdir().unwrap();
    let streams = KafkaStreams::new(
        word_count(&input, &output),
        config(&format!("pause-{id}"), &bootstrap, dir.path()),
    )
    .unwrap();
    let history = record_states(&streams);
    streams.start().unwrap();
    wait_spread(&streams, 1, 8);
    let mut reader = CountReader::new(&bootstrap, &output, false);
    reader.read_until_equal(&model(&lines[..1_000]), Duration::from_secs(60));

    streams.pause();
    assert!(streams.is_paused());
    // Whatever was being processed when pausing settles first.
    std::thread::sleep(Duration::from_millis(500));
    let processed = streams.metrics().records_processed;
    let tasks = task_ids(&streams);
    history.lock().unwrap().clear();
    produce_lines(&bootstrap, &input, &lines[1_000..]);
    // For a few seconds (well past commit.interval.ms and the fetch wait): nothing processed,
    // no new output, no rebalance, every task still here.
    let before = reader.latest.clone();
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        reader.read_until(Duration::from_millis(200), |_| true);
        std::thread::sleep(Duration::from_millis(100));
    }
    reader.read_until(Duration::from_secs(1), |_| true);
    assert_eq!(streams.metrics().records_processed, processed);
    assert_eq!(reader.latest, before, "output appeared while paused");
    assert_eq!(streams.state(), State::Running);
    assert!(history.lock().unwrap().is_empty(), "{:?}", history.lock());
    assert_eq!(task_ids(&streams), tasks);

    streams.resume();
    assert!(!streams.is_paused());
    reader.read_until_equal(&model(&lines), Duration::from_secs(60));
    assert!(streams.close(Duration::from_secs(30)));
}

// Kafka's PauseResumeIntegrationTest: its input, topology and expected output.
const STANDARD_INPUT_DATA: [(&str, i64); 5] =
    [("A", 100), ("B", 200), ("A", 300), ("C", 400), ("C", -50)];
const COUNT_OUTPUT_DATA: [(&str, i64); 5] = [("A", 1), ("B", 1), ("A", 2), ("C", 1), ("C", 2)];
const COUNT_OUTPUT_DATA2: [(&str, i64); 5] = [("A", 3), ("B", 2), ("A", 4), ("C", 3), ("C", 4)];

/// `builder.stream(INPUT_STREAM_1).groupByKey().count(Materialized.as("test-store"))
/// .toStream().to(outputTopic)` over String keys and Long values.
fn count_topology(input: &str, output: &str) -> Topology {
    let builder = StreamsBuilder::new();
    builder
        .stream(input, Consumed::with(Serdes::string(), Serdes::i64()))
        .group_by_key(Grouped::with(Serdes::string(), Serdes::i64()))
        .count(Materialized::as_("test-store"))
        .to_stream()
        .to(
            output,
            Produced::with(Serdes::string(), Serdes::option(Serdes::i64())),
        );
    builder.build().unwrap()
}

/// The test's `props()`: no cache, commits every second.
fn pause_config(application_id: &str, bootstrap: &str, dir: &std::path::Path) -> StreamsConfig {
    let mut config = config(application_id, bootstrap, dir);
    config
        .set("statestore.cache.max.bytes", "0")
        .unwrap()
        .set("commit.interval.ms", "1000")
        .unwrap();
    config
}

fn produce_standard_input(bootstrap: &str, topic: &str) {
    let records: Vec<(Option<Vec<u8>>, Vec<u8>)> = STANDARD_INPUT_DATA
        .iter()
        .map(|(k, v)| (Some(k.as_bytes().to_vec()), v.to_be_bytes().to_vec()))
        .collect();
    produce(bootstrap, topic, &records);
}

/// Reads a 1-partition output topic of String keys and Long values in order.
struct OrderedReader {
    consumer: rdkafka::consumer::BaseConsumer,
    topic: String,
}

impl OrderedReader {
    fn new(bootstrap: &str, topic: &str) -> Self {
        use rdkafka::consumer::Consumer;
        let consumer: rdkafka::consumer::BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", format!("ordered-reader-{}", unique()))
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        consumer.subscribe(&[topic]).unwrap();
        OrderedReader {
            consumer,
            topic: topic.to_string(),
        }
    }

    /// The next `n` records (Kafka's `waitUntilMinKeyValueRecordsReceived`).
    fn read(&self, n: usize) -> Vec<(String, i64)> {
        use rdkafka::message::Message;
        let mut records = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while records.len() < n {
            assert!(Instant::now() < deadline, "only {records:?} arrived");
            if let Some(message) = self.consumer.poll(Duration::from_millis(50)) {
                let message = message.unwrap();
                let key = String::from_utf8(message.key().unwrap().to_vec()).unwrap();
                let value = i64::from_be_bytes(message.payload().unwrap().try_into().unwrap());
                records.push((key, value));
            }
        }
        records
    }

    /// The records in the topic (Kafka's `assertTopicSize`: its end offset).
    fn topic_size(&self) -> i64 {
        use rdkafka::consumer::Consumer;
        let (_, high) = self
            .consumer
            .fetch_watermarks(&self.topic, 0, Duration::from_secs(10))
            .unwrap();
        high
    }
}

fn expected(records: &[(&str, i64)]) -> Vec<(String, i64)> {
    records.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

/// Waits until the instance's threads have gone round their poll loops `n` more times
/// (Kafka's `waitUntilStreamsHasPolled`): long enough for a record to be fetched and processed
/// if it were going to be.
fn wait_polled(streams: &KafkaStreams, n: u64) {
    let from = streams.metrics().polls;
    wait_until(
        Duration::from_secs(30),
        "the stream threads to poll",
        || streams.metrics().polls >= from + n,
    );
}

/// 1-partition input and output topics, named after the test.
fn pause_topics(broker: &rill::streams_broker::BrokerHandle) -> (u64, String, String) {
    let id = unique();
    let (input, output) = (format!("input-stream-{id}"), format!("output-stream-{id}"));
    broker.create_topic(&input, 1).unwrap();
    broker.create_topic(&output, 1).unwrap();
    (id, input, output)
}

#[test]
fn should_pause_and_resume_kafka_streams() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let (id, input, output) = pause_topics(&broker);
    let dir = tempfile::tempdir().unwrap();
    let streams = KafkaStreams::new(
        count_topology(&input, &output),
        pause_config(&format!("pause-resume-{id}"), &bootstrap, dir.path()),
    )
    .unwrap();
    streams.start().unwrap();
    wait_running(&streams, Duration::from_secs(45));

    produce_standard_input(&bootstrap, &input);
    let reader = OrderedReader::new(&bootstrap, &output);
    assert_eq!(reader.read(5), expected(&COUNT_OUTPUT_DATA));

    streams.pause();
    assert!(streams.is_paused());
    produce_standard_input(&bootstrap, &input);
    // 20 rounds of the poll loop (≥ 2 s while nothing is fetched), not just Kafka's 2: a
    // record fetched in the first round would be processed and committed by the last.
    wait_polled(&streams, 20);
    assert_eq!(reader.topic_size(), 5);

    streams.resume();
    assert!(!streams.is_paused());
    assert_eq!(reader.read(5), expected(&COUNT_OUTPUT_DATA2));
    assert_eq!(reader.topic_size(), 10);
    assert!(streams.close(Duration::from_secs(30)));
}

#[test]
fn should_allow_for_topologies_to_start_paused() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let (id, input, output) = pause_topics(&broker);
    let dir = tempfile::tempdir().unwrap();
    let streams = KafkaStreams::new(
        count_topology(&input, &output),
        pause_config(&format!("start-paused-{id}"), &bootstrap, dir.path()),
    )
    .unwrap();
    streams.pause();
    streams.start().unwrap();
    // Kafka waits for REBALANCING: there paused tasks are not even restored, so the instance
    // stays there. Here tasks are created (and restored) as they are assigned, paused or not,
    // and the instance goes on to RUNNING: wait until it owns the task.
    wait_spread(&streams, 1, 1);
    assert!(streams.is_paused());

    produce_standard_input(&bootstrap, &input);
    wait_polled(&streams, 20);
    let reader = OrderedReader::new(&bootstrap, &output);
    assert_eq!(reader.topic_size(), 0);
    assert_eq!(streams.metrics().records_processed, 0);

    streams.resume();
    assert!(!streams.is_paused());
    assert_eq!(reader.read(5), expected(&COUNT_OUTPUT_DATA));
    assert_eq!(reader.topic_size(), 5);
    assert!(streams.close(Duration::from_secs(30)));
}

#[test]
fn pause_resume_should_work_across_instances() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let (id, input, output) = pause_topics(&broker);
    let other_output = format!("output-stream-2-{id}");
    broker.create_topic(&other_output, 1).unwrap();
    produce_standard_input(&bootstrap, &input);
    let application_id = format!("across-{id}");
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];

    let first = KafkaStreams::new(
        count_topology(&input, &output),
        pause_config(&application_id, &bootstrap, dirs[0].path()),
    )
    .unwrap();
    first.pause();
    first.start().unwrap();
    wait_running(&first, Duration::from_secs(45));
    assert!(first.is_paused());

    let second = KafkaStreams::new(
        count_topology(&input, &other_output),
        pause_config(&application_id, &bootstrap, dirs[1].path()),
    )
    .unwrap();
    second.pause();
    second.start().unwrap();
    // Both in the group, the one task on one of them.
    wait_until(
        Duration::from_secs(45),
        "both instances in the group",
        || {
            first.state() == State::Running
                && second.state() == State::Running
                && task_ids(&first).len() + task_ids(&second).len() == 1
        },
    );
    assert!(second.is_paused());
    let reader = OrderedReader::new(&bootstrap, &output);
    assert_eq!(reader.topic_size(), 0);

    assert!(second.close(Duration::from_secs(30)));
    second.clean_up().unwrap();
    assert_eq!(second.state(), State::NotRunning);

    first.resume();
    wait_spread(&first, 1, 1);
    assert_eq!(reader.read(5), expected(&COUNT_OUTPUT_DATA));
    assert!(first.close(Duration::from_secs(30)));
}

/// Two instances of a word count over 4 partitions, with `session.timeout.ms` = 45 s and,
/// with `static_members`, `group.instance.id`s; returns them once both run tasks.
fn two_instances(
    bootstrap: &str,
    application_id: &str,
    input: &str,
    output: &str,
    dirs: &[tempfile::TempDir; 2],
    static_members: bool,
) -> (KafkaStreams, KafkaStreams) {
    let instance = |dir: &std::path::Path, member: &str| {
        let mut config = config(application_id, bootstrap, dir);
        config.set("consumer.session.timeout.ms", "45000").unwrap();
        if static_members {
            config.set("group.instance.id", member).unwrap();
        }
        KafkaStreams::new(word_count(input, output), config).unwrap()
    };
    let (a, b) = (instance(dirs[0].path(), "a"), instance(dirs[1].path(), "b"));
    a.start().unwrap();
    b.start().unwrap();
    wait_until(
        Duration::from_secs(30),
        "both instances to run tasks",
        || {
            a.state() == State::Running
                && b.state() == State::Running
                && !task_ids(&a).is_empty()
                && !task_ids(&b).is_empty()
                && task_ids(&a).len() + task_ids(&b).len() == 8
        },
    );
    (a, b)
}

#[test]
fn closing_with_leave_group_hands_the_partitions_over_before_the_session_times_out() {
    for static_members in [true, false] {
        let broker = broker();
        let bootstrap = broker.bootstrap();
        let (id, input, output) = word_count_topics(&broker, 4);
        let lines = random_lines(16, 2_000, 200);
        produce_lines(&bootstrap, &input, &lines[..1_000]);
        let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        let (a, b) = two_instances(
            &bootstrap,
            &format!("leave-{id}"),
            &input,
            &output,
            &dirs,
            static_members,
        );
        let mut reader = CountReader::new(&bootstrap, &output, false);
        reader.read_until_equal(&model(&lines[..1_000]), Duration::from_secs(60));

        let started = Instant::now();
        assert!(b.close_with(
            CloseOptions::new()
                .timeout(Duration::from_secs(30))
                .leave_group(true)
        ));
        wait_until(
            Duration::from_secs(15),
            "A to take every task over (45 s before the session would time out)",
            || a.state() == State::Running && task_ids(&a).len() == 8,
        );
        eprintln!(
            "static members: {static_members}; A took over after {:?}",
            started.elapsed()
        );
        produce_lines(&bootstrap, &input, &lines[1_000..]);
        reader.read_until_equal(&model(&lines), Duration::from_secs(60));
        assert!(a.close(Duration::from_secs(30)));
    }
}

#[test]
fn a_static_member_closing_without_leaving_keeps_its_partitions() {
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let (id, input, output) = word_count_topics(&broker, 4);
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let (a, b) = two_instances(
        &bootstrap,
        &format!("remain-{id}"),
        &input,
        &output,
        &dirs,
        true,
    );
    let tasks_a = task_ids(&a);
    // Kafka's default: REMAIN_IN_GROUP. The coordinator keeps B's members, and their
    // partitions, until the session times out: for the next seconds nothing moves to A.
    assert!(b.close(Duration::from_secs(30)));
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        assert_eq!(
            task_ids(&a),
            tasks_a,
            "B's partitions moved: B left the group"
        );
        assert_eq!(a.state(), State::Running);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(a.close(Duration::from_secs(30)));
}

/// Kafka's `AdjustStreamThreadCountTest` topology and input: per-key counts of 1000 records
/// over 50 keys (`key-<i % 50>` → `value-<i>`), on a 1-partition input; 2 threads.
fn adjust_count_app(
    broker: &rill::streams_broker::BrokerHandle,
) -> (KafkaStreams, String, tempfile::TempDir) {
    let bootstrap = broker.bootstrap();
    let id = unique();
    let (input, output) = (format!("input-{id}"), format!("output-{id}"));
    broker.create_topic(&input, 1).unwrap();
    broker.create_topic(&output, 1).unwrap();
    let records: Vec<(Option<Vec<u8>>, Vec<u8>)> = (0..1000)
        .map(|i| {
            (
                Some(format!("key-{}", i % 50).into_bytes()),
                format!("value-{i}").into_bytes(),
            )
        })
        .collect();
    produce(&bootstrap, &input, &records);
    let builder = StreamsBuilder::new();
    builder
        .stream(&input, Consumed::with(Serdes::string(), Serdes::string()))
        .group_by_key(Grouped::with(Serdes::string(), Serdes::string()))
        .count(Materialized::as_("counts-store"))
        .to_stream()
        .to(
            &output,
            Produced::with(Serdes::string(), Serdes::option(Serdes::i64())),
        );
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&format!("appId_{id}"), &bootstrap, dir.path());
    config
        .set("num.stream.threads", "2")
        .unwrap()
        .set("consumer.session.timeout.ms", "10000")
        .unwrap();
    (
        KafkaStreams::new(builder.build().unwrap(), config).unwrap(),
        output,
        dir,
    )
}

#[test]
fn should_add_and_remove_threads_multiple_times() {
    let broker = broker();
    let (streams, output, _dir) = adjust_count_app(&broker);
    let history = record_states(&streams);
    streams.start().unwrap();
    wait_running(&streams, Duration::from_secs(30));
    wait_until(Duration::from_secs(30), "both threads listed", || {
        streams.local_thread_metadata().len() == 2
    });
    history.lock().unwrap().clear();

    // Two threads of the test add and remove stream threads at the same time, 4 and 6 times.
    std::thread::scope(|scope| {
        for count in [4, 6] {
            let streams = &streams;
            scope.spawn(move || {
                for _ in 0..count {
                    streams.add_stream_thread().unwrap();
                    streams.remove_stream_thread().unwrap();
                }
            });
        }
    });
    wait_until(
        Duration::from_secs(30),
        "the original thread count, RUNNING",
        || streams.local_thread_metadata().len() == 2 && streams.state() == State::Running,
    );
    wait_rebalancing_then_running(&streams, &history);
    assert_eq!(thread_indexes(&streams).len(), 2);
    // And nothing was lost or counted twice in all that: 20 records per key.
    let expected: std::collections::HashMap<String, i64> =
        (0..50).map(|k| (format!("key-{k}"), 20)).collect();
    CountReader::new(&broker.bootstrap(), &output, false)
        .read_until_equal(&expected, Duration::from_secs(60));
    assert!(streams.close(Duration::from_secs(30)));
}

#[test]
fn should_not_remove_stream_thread_within_timeout() {
    // Kafka passes a negative timeout; the shortest here is zero, which no thread stops in.
    let broker = broker();
    let (streams, _, _dir) = adjust_count_app(&broker);
    streams.start().unwrap();
    wait_running(&streams, Duration::from_secs(30));
    let error = streams
        .remove_stream_thread_with_timeout(Duration::ZERO)
        .unwrap_err();
    assert!(matches!(error, Error::Timeout { .. }), "{error}");
    // The thread goes on stopping; the other one gets its task.
    wait_until(Duration::from_secs(30), "one thread left, RUNNING", || {
        streams.local_thread_metadata().len() == 1 && streams.state() == State::Running
    });
    assert!(streams.close(Duration::from_secs(30)));
}

/// Kafka's `KafkaStreamsCloseOptionsIntegrationTest` records: keys 0 and 1 (Longs) in turn,
/// values `aaa` … `jjj`, 10 ms apart.
fn add_10_input_elements(bootstrap: &str, topic: &str) {
    let values = [
        "aaa", "bbb", "ccc", "ddd", "eee", "fff", "ggg", "hhh", "iii", "jjj",
    ];
    let start = now_ms();
    let keys: Vec<[u8; 8]> = (0..10).map(|i| (i as i64 % 2).to_be_bytes()).collect();
    produce_timestamped(
        bootstrap,
        topic,
        values.iter().enumerate().map(|(i, v)| {
            (
                Some(&keys[i][..]),
                Some(v.as_bytes()),
                Some(start + 10 * (i as i64 + 1)),
            )
        }),
    );
}

/// The members of `group` on `broker` and their `group.instance.id`s.
fn group_members(broker: &rill::streams_broker::BrokerHandle, group: &str) -> Vec<Option<String>> {
    let mut members: Vec<Option<String>> = broker
        .describe_group(group)
        .map(|g| g.members.into_iter().map(|m| m.instance_id).collect())
        .unwrap_or_default();
    members.sort();
    members
}

/// `testCloseOptions`: a static member with two threads and a session timeout far beyond the
/// test closes with `LEAVE_GROUP`; the group is empty right after. Closed without it (Kafka's
/// default), the members stay.
#[test]
fn test_close_options() {
    for leave in [true, false] {
        let broker = broker();
        let bootstrap = broker.bootstrap();
        let id = unique();
        let (input, output) = (format!("inputTopic-{id}"), format!("outputTopic-{id}"));
        broker.create_topic(&input, 2).unwrap();
        broker.create_topic(&output, 2).unwrap();
        add_10_input_elements(&bootstrap, &input);
        let builder = StreamsBuilder::new();
        builder
            .stream(&input, Consumed::with(Serdes::i64(), Serdes::string()))
            .to(&output, Produced::with(Serdes::i64(), Serdes::string()));
        let dir = tempfile::tempdir().unwrap();
        let application_id = format!("close-options-{id}");
        let mut config = config(&application_id, &bootstrap, dir.path());
        for (key, value) in [
            ("group.instance.id", "someGroupInstance"),
            ("num.stream.threads", "2"),
            ("statestore.cache.max.bytes", "0"),
            // The broker's largest session timeout (librdkafka wants the poll interval as long).
            ("consumer.session.timeout.ms", "1800000"),
            ("consumer.max.poll.interval.ms", "1800000"),
        ] {
            config.set(key, value).unwrap();
        }
        let streams = KafkaStreams::new(builder.build().unwrap(), config).unwrap();
        streams.start().unwrap();
        wait_running(&streams, Duration::from_secs(30));
        let mut reader = TableReader::new(&bootstrap, &output);
        // Every record through: each key's last value is there.
        reader.read_until(Duration::from_secs(60), |table| {
            let mut last: Vec<&str> = table.values().map(String::as_str).collect();
            last.sort();
            last == ["iii", "jjj"]
        });
        // Each thread is its own static member: `<group.instance.id>-<thread index>`.
        assert_eq!(
            group_members(&broker, &application_id),
            [
                Some("someGroupInstance-1".to_string()),
                Some("someGroupInstance-2".to_string())
            ]
        );

        let options = CloseOptions::new().timeout(Duration::from_secs(30));
        assert!(streams.close_with(if leave {
            options.with_group_membership_operation(GroupMembershipOperation::LeaveGroup)
        } else {
            options
        }));
        if leave {
            wait_until(Duration::from_secs(10), "an empty consumer group", || {
                group_members(&broker, &application_id).is_empty()
            });
        } else {
            assert_eq!(group_members(&broker, &application_id).len(), 2);
        }
    }
}

/// Counts its wall-clock punctuations (every 50 ms) in a counter the test holds.
struct Ticker(Arc<std::sync::atomic::AtomicU64>);

impl Processor<String, String, String, String> for Ticker {
    fn init(
        &mut self,
        ctx: &mut ProcessorContext<'_, String, String>,
    ) -> rill::streams_core::Result<()> {
        ctx.schedule(Duration::from_millis(50), PunctuationType::WallClockTime)?;
        Ok(())
    }

    fn process(
        &mut self,
        _: Record<String, String>,
        _: &mut ProcessorContext<'_, String, String>,
    ) -> rill::streams_core::Result<()> {
        Ok(())
    }

    fn punctuate(
        &mut self,
        _: PunctuationId,
        _: i64,
        _: &mut ProcessorContext<'_, String, String>,
    ) -> rill::streams_core::Result<()> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn pause_stops_wall_clock_punctuation_and_resume_restarts_it() {
    use std::sync::atomic::{AtomicU64, Ordering};
    let broker = broker();
    let bootstrap = broker.bootstrap();
    let (id, input, _) = pause_topics(&broker);
    let ticks = Arc::new(AtomicU64::new(0));
    let builder = StreamsBuilder::new();
    let counter = Arc::clone(&ticks);
    builder
        .stream(&input, Consumed::with(Serdes::string(), Serdes::string()))
        .process(move || Ticker(Arc::clone(&counter)));
    let dir = tempfile::tempdir().unwrap();
    let streams = KafkaStreams::new(
        builder.build().unwrap(),
        config(&format!("ticks-{id}"), &bootstrap, dir.path()),
    )
    .unwrap();
    streams.start().unwrap();
    wait_spread(&streams, 1, 1);
    wait_until(Duration::from_secs(30), "punctuations", || {
        ticks.load(Ordering::SeqCst) >= 3
    });

    streams.pause();
    // A punctuation under way when pausing may still finish: count from the next round on.
    wait_polled(&streams, 2);
    let paused_at = ticks.load(Ordering::SeqCst);
    // 20 rounds of the poll loop: at least 2 s, 40 punctuation intervals.
    wait_polled(&streams, 20);
    assert_eq!(ticks.load(Ordering::SeqCst), paused_at);

    streams.resume();
    wait_until(Duration::from_secs(30), "punctuations again", || {
        ticks.load(Ordering::SeqCst) >= paused_at + 3
    });
    assert!(streams.close(Duration::from_secs(30)));
}
