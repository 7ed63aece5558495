//! The bundled broker, embedded in the test's process: configured for tests (no initial
//! rebalance delay, short session timeouts allowed), or with exactly the settings a test or
//! benchmark names.

use streams_broker::{BrokerConfig, BrokerHandle, EmbeddedBroker};

use crate::unique;

/// A broker on 127.0.0.1 with no initial rebalance delay and session timeouts down to 500 ms
/// allowed. Also sends the runtime's logs to the test output when `RUST_LOG` is set.
pub fn broker() -> BrokerHandle {
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        // Several tests of one binary each try; the first one installs it.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    }
    embedded_broker(&[
        ("group.initial.rebalance.delay.ms", "0"),
        ("group.min.session.timeout.ms", "500"),
    ])
}

/// A broker on 127.0.0.1 (any free port, temporary data directory) with `settings` (Kafka
/// property names and values) over the defaults.
pub fn embedded_broker(settings: &[(&str, &str)]) -> BrokerHandle {
    let mut config = BrokerConfig::default();
    for (key, value) in settings {
        config
            .set(key, value)
            .unwrap_or_else(|e| panic!("broker setting {key}={value}: {e}"));
    }
    EmbeddedBroker::start(config).expect("the embedded broker starts")
}

/// A fresh word count's topics on `broker`, `partitions` each: input `lines-<id>` and output
/// `counts-<id>`. The `id` is unique, for naming the test's other resources.
pub fn word_count_topics(broker: &BrokerHandle, partitions: i32) -> (u64, String, String) {
    let id = unique();
    let (input, output) = (format!("lines-{id}"), format!("counts-{id}"));
    broker
        .create_topic(&input, partitions)
        .expect("input topic");
    broker
        .create_topic(&output, partitions)
        .expect("output topic");
    (id, input, output)
}
