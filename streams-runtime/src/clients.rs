//! The configuration of every Kafka client the runtime creates, like the client-config part of
//! Kafka Streams' `StreamsConfig` (`getMainConsumerConfigs`, `getRestoreConsumerConfigs`,
//! `getGlobalConsumerConfigs`, `getProducerConfigs`, `getAdminConfigs`).
//!
//! Each client gets, in order: `bootstrap.servers` and its `client.id`; the runtime's defaults
//! for its kind (overridable); the user's client properties for it (unprefixed, then
//! `consumer.*`, then the client's own prefix — see [`StreamsConfig::client_properties`]);
//! last, what the runtime relies on for correctness (group id, offset handling, isolation
//! level, transactional id), which the configuration refuses to set anyway.
//!
//! Client ids are `<client.id>-<suffix>`, where `client.id` defaults to
//! `<application.id>-<process id>` as in Kafka: `…-StreamThread-1-consumer`, `…-admin`.

use rdkafka::config::ClientConfig;
use streams_core::internals::ClientKind;
use streams_core::{ProcessingGuarantee, StreamsConfig};

/// The prefix of every client id (and stream thread name) of an instance: `client.id`, or
/// `<application.id>-<process id>`.
pub(crate) fn client_id_prefix(config: &StreamsConfig, process_id: &str) -> String {
    match config.client_id() {
        Some(id) => id.to_string(),
        None => format!("{}-{process_id}", config.application_id()),
    }
}

/// The common part: address, id, defaults, then the user's properties for `kind`.
fn base(
    config: &StreamsConfig,
    kind: ClientKind,
    client_id: &str,
    defaults: &[(&str, &str)],
) -> ClientConfig {
    let mut client = ClientConfig::new();
    client
        .set(
            "bootstrap.servers",
            config.bootstrap_servers().unwrap_or_default(),
        )
        .set("client.id", client_id);
    for (key, value) in defaults {
        client.set(*key, *value);
    }
    for (key, value) in config.client_properties(kind) {
        client.set(key, value);
    }
    client
}

/// Defaults of every consumer. librdkafka stops fetching for `fetch.queue.backoff.ms`
/// (default 1 s) whenever its prefetch queue is full; a stream thread drains that queue in a
/// fraction of that, so the default makes the consumer stop and go (measured: it capped a
/// stateless app at ~145k records/s). Java's consumer has no such pause.
const CONSUMER_DEFAULTS: &[(&str, &str)] = &[("fetch.queue.backoff.ms", "10")];

fn isolation_level(config: &StreamsConfig) -> &'static str {
    match config.processing_guarantee() {
        ProcessingGuarantee::ExactlyOnceV2 => "read_committed",
        ProcessingGuarantee::AtLeastOnce => "read_uncommitted",
    }
}

/// A stream thread's group consumer: in the application's consumer group, committing only
/// what the runtime commits, reading from the earliest offset when the group has none (Kafka
/// Streams' default `auto.offset.reset`, overridable). With `group.instance.id` set, thread
/// `thread_index` is the static member `<group.instance.id>-<thread_index>`, as Kafka
/// Streams' `getMainConsumerConfigs` names it.
pub(crate) fn main_consumer(
    config: &StreamsConfig,
    client_id: &str,
    thread_index: usize,
) -> ClientConfig {
    let mut defaults = CONSUMER_DEFAULTS.to_vec();
    defaults.push(("auto.offset.reset", "earliest"));
    let mut client = base(config, ClientKind::MainConsumer, client_id, &defaults);
    client
        .set("group.id", config.application_id())
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("partition.assignment.strategy", "range")
        .set("isolation.level", isolation_level(config));
    if let Some(instance) = config.group_instance_id() {
        client.set("group.instance.id", format!("{instance}-{thread_index}"));
    }
    client
}

/// A consumer outside the group that `assign()`s partitions itself: a stream thread's restore
/// consumer or the global thread's consumer (`kind`). No commits, reading from the earliest
/// offset, and under exactly-once only committed records.
pub(crate) fn assigning_consumer(
    config: &StreamsConfig,
    kind: ClientKind,
    client_id: &str,
) -> ClientConfig {
    let mut client = base(config, kind, client_id, CONSUMER_DEFAULTS);
    // librdkafka's assign() wants a group id even though this consumer never joins the
    // group nor commits.
    client
        .set(
            "group.id",
            format!("{}-restore-consumer", config.application_id()),
        )
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "true")
        .set("auto.offset.reset", "earliest");
    if config.processing_guarantee() == ProcessingGuarantee::ExactlyOnceV2 {
        client.set("isolation.level", "read_committed");
    }
    client
}

/// A stream thread's producer; `transactional_id` under exactly-once. Keys are partitioned
/// with `murmur2_random`, Kafka's default partitioner, so that repartition topics agree with
/// Java Kafka Streams.
pub(crate) fn producer(
    config: &StreamsConfig,
    client_id: &str,
    transactional_id: Option<&str>,
) -> ClientConfig {
    // Kafka Streams' default for its transactional producers: a crashed run's open
    // transaction blocks read_committed readers for at most this long.
    let defaults: &[(&str, &str)] = if transactional_id.is_some() {
        &[("transaction.timeout.ms", "10000")]
    } else {
        &[]
    };
    let mut client = base(config, ClientKind::Producer, client_id, defaults);
    client.set("partitioner", "murmur2_random");
    if let Some(id) = transactional_id {
        client.set("transactional.id", id);
    }
    client
}

/// The admin client that reads metadata and creates internal topics.
pub(crate) fn admin(config: &StreamsConfig, client_id: &str) -> ClientConfig {
    base(config, ClientKind::Admin, client_id, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> StreamsConfig {
        let mut config = StreamsConfig::new("app").unwrap();
        config.set("bootstrap.servers", "127.0.0.1:9092").unwrap();
        for (key, value) in pairs {
            config.set(key, value).unwrap();
        }
        config
    }

    /// Every client a running instance creates, by a short name.
    fn clients(config: &StreamsConfig) -> Vec<(&'static str, ClientConfig)> {
        vec![
            ("main", main_consumer(config, "c", 1)),
            (
                "restore",
                assigning_consumer(config, ClientKind::RestoreConsumer, "r"),
            ),
            (
                "global",
                assigning_consumer(config, ClientKind::GlobalConsumer, "g"),
            ),
            ("producer", producer(config, "p", None)),
            ("admin", admin(config, "a")),
        ]
    }

    #[test]
    fn security_settings_reach_every_client() {
        let config = config(&[
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanisms", "SCRAM-SHA-512"),
            ("sasl.username", "alice"),
            ("sasl.password", "secret"),
            ("ssl.ca.location", "/etc/ca.pem"),
        ]);
        for (name, client) in clients(&config) {
            assert_eq!(client.get("security.protocol"), Some("SASL_SSL"), "{name}");
            assert_eq!(
                client.get("sasl.mechanisms"),
                Some("SCRAM-SHA-512"),
                "{name}"
            );
            assert_eq!(client.get("sasl.username"), Some("alice"), "{name}");
            assert_eq!(client.get("sasl.password"), Some("secret"), "{name}");
            assert_eq!(client.get("ssl.ca.location"), Some("/etc/ca.pem"), "{name}");
            assert_eq!(client.get("bootstrap.servers"), Some("127.0.0.1:9092"));
        }
    }

    #[test]
    fn prefixes_override_per_client() {
        let config = config(&[
            ("socket.timeout.ms", "1000"),
            ("consumer.socket.timeout.ms", "2000"),
            ("main.consumer.socket.timeout.ms", "3000"),
            ("global.consumer.socket.timeout.ms", "4000"),
            ("producer.socket.timeout.ms", "5000"),
            ("fetch.wait.max.ms", "7"),
            ("linger.ms", "9"),
            ("main.consumer.auto.offset.reset", "latest"),
        ]);
        // Per client: socket.timeout.ms, fetch.wait.max.ms, linger.ms.
        type Seen = (Option<String>, Option<String>, Option<String>);
        let got: Vec<(&str, Seen)> = clients(&config)
            .into_iter()
            .map(|(name, c)| {
                let get = |k| c.get(k).map(str::to_string);
                (
                    name,
                    (
                        get("socket.timeout.ms"),
                        get("fetch.wait.max.ms"),
                        get("linger.ms"),
                    ),
                )
            })
            .collect();
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            got,
            [
                ("main", (s("3000"), s("7"), None)),
                ("restore", (s("2000"), s("7"), None)),
                ("global", (s("4000"), s("7"), None)),
                ("producer", (s("5000"), None, s("9"))),
                ("admin", (s("1000"), None, None)),
            ]
        );
        let all = clients(&config);
        // Kafka Streams lets the main consumer's auto.offset.reset be overridden; restoring
        // always starts at the earliest offset.
        assert_eq!(all[0].1.get("auto.offset.reset"), Some("latest"));
        assert_eq!(all[1].1.get("auto.offset.reset"), Some("earliest"));
    }

    #[test]
    fn the_runtime_keeps_what_it_relies_on() {
        let config = config(&[
            ("processing.guarantee", "exactly_once_v2"),
            ("consumer.fetch.queue.backoff.ms", "500"),
            ("producer.transaction.timeout.ms", "60000"),
        ]);
        let main = main_consumer(&config, "c", 1);
        assert_eq!(main.get("group.id"), Some("app"));
        assert_eq!(main.get("enable.auto.commit"), Some("false"));
        assert_eq!(main.get("isolation.level"), Some("read_committed"));
        assert_eq!(main.get("fetch.queue.backoff.ms"), Some("500"));
        let producer = producer(&config, "p", Some("app-tx-0"));
        assert_eq!(producer.get("transactional.id"), Some("app-tx-0"));
        assert_eq!(producer.get("transaction.timeout.ms"), Some("60000"));
        assert_eq!(producer.get("partitioner"), Some("murmur2_random"));
    }

    #[test]
    fn each_thread_is_its_own_static_member() {
        assert_eq!(
            main_consumer(&config(&[]), "c", 1).get("group.instance.id"),
            None
        );
        let config = config(&[("group.instance.id", "member-A")]);
        assert_eq!(
            main_consumer(&config, "c", 2).get("group.instance.id"),
            Some("member-A-2")
        );
        for (name, client) in clients(&config).into_iter().skip(1) {
            assert_eq!(client.get("group.instance.id"), None, "{name}");
        }
    }

    #[test]
    fn client_id_prefixes_every_client_id() {
        let plain = config(&[]);
        assert_eq!(client_id_prefix(&plain, "p1"), "app-p1");
        let named = config(&[("client.id", "billing")]);
        let prefix = client_id_prefix(&named, "p1");
        assert_eq!(prefix, "billing");
        let main = main_consumer(&named, &format!("{prefix}-StreamThread-1-consumer"), 1);
        assert_eq!(
            main.get("client.id"),
            Some("billing-StreamThread-1-consumer")
        );
    }
}
