//! Specification: the runtime depends on Kafka's protocol, not on quirks of the bundled
//! broker: word count runs unchanged against librdkafka's `MockCluster` (3 brokers) and equals
//! the model. The mock broker has no CreateTopics, so the test creates the internal topics the
//! application would otherwise create itself; start-up finds them with the right partition
//! counts and goes on.

use std::time::Duration;

use rdkafka::mocking::MockCluster;
use rill::prelude::*;
use rill_test_support::*;

#[test]
fn word_count_runs_against_rdkafkas_mock_cluster() {
    let mock = MockCluster::new(3).expect("mock cluster");
    let bootstrap = mock.bootstrap_servers();
    let id = unique();
    let (input, output) = (format!("lines-{id}"), format!("counts-{id}"));
    let application_id = format!("mock-{id}");
    let topology = word_count(&input, &output);
    mock.create_topic(&input, 3, 1).unwrap();
    mock.create_topic(&output, 3, 1).unwrap();
    mock.create_topic(&format!("{application_id}-counts-changelog"), 3, 1)
        .unwrap();
    for repartition in topology.repartition_topics() {
        mock.create_topic(&format!("{application_id}-{}", repartition.name), 3, 1)
            .unwrap();
    }
    let lines = random_lines(77, 5_000, 200);
    produce_lines(&bootstrap, &input, &lines);

    let dir = tempfile::tempdir().unwrap();
    let streams =
        KafkaStreams::new(topology, config(&application_id, &bootstrap, dir.path())).unwrap();
    streams.start().unwrap();
    let mut reader = CountReader::new(&bootstrap, &output, false);
    reader.read_until_equal(&model(&lines), Duration::from_secs(60));
    assert!(streams.close(Duration::from_secs(30)));
    assert_eq!(streams.state(), State::NotRunning);
}
