//! The client properties librdkafka knows, by name, with the clients they are for: how an
//! unprefixed key such as `security.protocol` is recognized as a client property (like Kafka
//! Streams, which knows the Java clients' `ConsumerConfig`/`ProducerConfig` names), while a
//! key that is neither a streams property nor a client property stays an error.
//!
//! The names come from the `CONFIGURATION.md` of the librdkafka release that `rdkafka-sys`
//! bundles (2.12.1), global and topic-level properties alike (librdkafka accepts both on a
//! client's configuration); the callbacks that only its C API can set are left out.

/// Which clients a librdkafka property is for (the `C/P` column of librdkafka's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Consumers only (`C`).
    Consumer,
    /// Producers only (`P`).
    Producer,
    /// Every client (`*`), the admin client included.
    Any,
}

/// librdkafka's documented properties, sorted by name.
pub(crate) const PROPERTIES: &[(&str, Role)] = &[
    ("acks", Role::Producer),
    ("allow.auto.create.topics", Role::Any),
    ("api.version.fallback.ms", Role::Any),
    ("api.version.request", Role::Any),
    ("api.version.request.timeout.ms", Role::Any),
    ("auto.commit.enable", Role::Consumer),
    ("auto.commit.interval.ms", Role::Consumer),
    ("auto.offset.reset", Role::Consumer),
    ("batch.num.messages", Role::Producer),
    ("batch.size", Role::Producer),
    ("bootstrap.servers", Role::Any),
    ("broker.address.family", Role::Any),
    ("broker.address.ttl", Role::Any),
    ("broker.version.fallback", Role::Any),
    ("builtin.features", Role::Any),
    ("check.crcs", Role::Consumer),
    ("client.dns.lookup", Role::Any),
    ("client.id", Role::Any),
    ("client.rack", Role::Any),
    ("compression.codec", Role::Producer),
    ("compression.level", Role::Producer),
    ("compression.type", Role::Producer),
    ("connections.max.idle.ms", Role::Any),
    ("consume.callback.max.messages", Role::Consumer),
    ("coordinator.query.interval.ms", Role::Consumer),
    ("debug", Role::Any),
    ("delivery.report.only.error", Role::Producer),
    ("delivery.timeout.ms", Role::Producer),
    ("enable.auto.commit", Role::Consumer),
    ("enable.auto.offset.store", Role::Consumer),
    ("enable.gapless.guarantee", Role::Producer),
    ("enable.idempotence", Role::Producer),
    ("enable.metrics.push", Role::Any),
    ("enable.partition.eof", Role::Consumer),
    ("enable.random.seed", Role::Any),
    ("enable.sasl.oauthbearer.unsecure.jwt", Role::Any),
    ("enable.ssl.certificate.verification", Role::Any),
    ("enabled_events", Role::Any),
    ("fetch.error.backoff.ms", Role::Consumer),
    ("fetch.max.bytes", Role::Consumer),
    ("fetch.message.max.bytes", Role::Consumer),
    ("fetch.min.bytes", Role::Consumer),
    ("fetch.queue.backoff.ms", Role::Consumer),
    ("fetch.wait.max.ms", Role::Consumer),
    ("group.id", Role::Consumer),
    ("group.instance.id", Role::Consumer),
    ("group.protocol", Role::Consumer),
    ("group.protocol.type", Role::Consumer),
    ("group.remote.assignor", Role::Consumer),
    ("heartbeat.interval.ms", Role::Consumer),
    ("https.ca.location", Role::Any),
    ("https.ca.pem", Role::Any),
    ("internal.termination.signal", Role::Any),
    ("isolation.level", Role::Consumer),
    ("linger.ms", Role::Producer),
    ("log.connection.close", Role::Any),
    ("log.queue", Role::Any),
    ("log.thread.name", Role::Any),
    ("log_level", Role::Any),
    ("max.in.flight", Role::Any),
    ("max.in.flight.requests.per.connection", Role::Any),
    ("max.partition.fetch.bytes", Role::Consumer),
    ("max.poll.interval.ms", Role::Consumer),
    ("message.copy.max.bytes", Role::Any),
    ("message.max.bytes", Role::Any),
    ("message.send.max.retries", Role::Producer),
    ("message.timeout.ms", Role::Producer),
    ("metadata.broker.list", Role::Any),
    ("metadata.max.age.ms", Role::Any),
    ("metadata.recovery.rebootstrap.trigger.ms", Role::Any),
    ("metadata.recovery.strategy", Role::Any),
    ("offset.store.method", Role::Consumer),
    ("offset.store.path", Role::Consumer),
    ("offset.store.sync.interval.ms", Role::Consumer),
    ("partition.assignment.strategy", Role::Consumer),
    ("partitioner", Role::Producer),
    ("plugin.library.paths", Role::Any),
    ("produce.offset.report", Role::Producer),
    ("queue.buffering.backpressure.threshold", Role::Producer),
    ("queue.buffering.max.kbytes", Role::Producer),
    ("queue.buffering.max.messages", Role::Producer),
    ("queue.buffering.max.ms", Role::Producer),
    ("queued.max.messages.kbytes", Role::Consumer),
    ("queued.min.messages", Role::Consumer),
    ("queuing.strategy", Role::Producer),
    ("receive.message.max.bytes", Role::Any),
    ("reconnect.backoff.jitter.ms", Role::Any),
    ("reconnect.backoff.max.ms", Role::Any),
    ("reconnect.backoff.ms", Role::Any),
    ("request.required.acks", Role::Producer),
    ("request.timeout.ms", Role::Producer),
    ("retries", Role::Producer),
    ("retry.backoff.max.ms", Role::Any),
    ("retry.backoff.ms", Role::Any),
    ("sasl.kerberos.keytab", Role::Any),
    ("sasl.kerberos.kinit.cmd", Role::Any),
    ("sasl.kerberos.min.time.before.relogin", Role::Any),
    ("sasl.kerberos.principal", Role::Any),
    ("sasl.kerberos.service.name", Role::Any),
    ("sasl.mechanism", Role::Any),
    ("sasl.mechanisms", Role::Any),
    ("sasl.oauthbearer.assertion.algorithm", Role::Any),
    ("sasl.oauthbearer.assertion.claim.aud", Role::Any),
    ("sasl.oauthbearer.assertion.claim.exp.seconds", Role::Any),
    ("sasl.oauthbearer.assertion.claim.iss", Role::Any),
    ("sasl.oauthbearer.assertion.claim.jti.include", Role::Any),
    ("sasl.oauthbearer.assertion.claim.nbf.seconds", Role::Any),
    ("sasl.oauthbearer.assertion.claim.sub", Role::Any),
    ("sasl.oauthbearer.assertion.file", Role::Any),
    ("sasl.oauthbearer.assertion.jwt.template.file", Role::Any),
    ("sasl.oauthbearer.assertion.private.key.file", Role::Any),
    (
        "sasl.oauthbearer.assertion.private.key.passphrase",
        Role::Any,
    ),
    ("sasl.oauthbearer.assertion.private.key.pem", Role::Any),
    ("sasl.oauthbearer.client.credentials.client.id", Role::Any),
    (
        "sasl.oauthbearer.client.credentials.client.secret",
        Role::Any,
    ),
    ("sasl.oauthbearer.client.id", Role::Any),
    ("sasl.oauthbearer.client.secret", Role::Any),
    ("sasl.oauthbearer.config", Role::Any),
    ("sasl.oauthbearer.extensions", Role::Any),
    ("sasl.oauthbearer.grant.type", Role::Any),
    ("sasl.oauthbearer.metadata.authentication.type", Role::Any),
    ("sasl.oauthbearer.method", Role::Any),
    ("sasl.oauthbearer.scope", Role::Any),
    ("sasl.oauthbearer.token.endpoint.url", Role::Any),
    ("sasl.password", Role::Any),
    ("sasl.username", Role::Any),
    ("security.protocol", Role::Any),
    ("session.timeout.ms", Role::Consumer),
    ("socket.blocking.max.ms", Role::Any),
    ("socket.connection.setup.timeout.ms", Role::Any),
    ("socket.keepalive.enable", Role::Any),
    ("socket.max.fails", Role::Any),
    ("socket.nagle.disable", Role::Any),
    ("socket.receive.buffer.bytes", Role::Any),
    ("socket.send.buffer.bytes", Role::Any),
    ("socket.timeout.ms", Role::Any),
    ("ssl.ca.certificate.stores", Role::Any),
    ("ssl.ca.location", Role::Any),
    ("ssl.ca.pem", Role::Any),
    ("ssl.certificate.location", Role::Any),
    ("ssl.certificate.pem", Role::Any),
    ("ssl.cipher.suites", Role::Any),
    ("ssl.crl.location", Role::Any),
    ("ssl.curves.list", Role::Any),
    ("ssl.endpoint.identification.algorithm", Role::Any),
    ("ssl.engine.id", Role::Any),
    ("ssl.engine.location", Role::Any),
    ("ssl.key.location", Role::Any),
    ("ssl.key.password", Role::Any),
    ("ssl.key.pem", Role::Any),
    ("ssl.keystore.location", Role::Any),
    ("ssl.keystore.password", Role::Any),
    ("ssl.providers", Role::Any),
    ("ssl.sigalgs.list", Role::Any),
    ("statistics.interval.ms", Role::Any),
    ("sticky.partitioning.linger.ms", Role::Producer),
    ("topic.blacklist", Role::Any),
    ("topic.metadata.propagation.max.ms", Role::Any),
    ("topic.metadata.refresh.fast.cnt", Role::Any),
    ("topic.metadata.refresh.fast.interval.ms", Role::Any),
    ("topic.metadata.refresh.interval.ms", Role::Any),
    ("topic.metadata.refresh.sparse", Role::Any),
    ("transaction.timeout.ms", Role::Producer),
    ("transactional.id", Role::Producer),
];

/// The role of librdkafka property `name`, if librdkafka documents it.
pub(crate) fn role(name: &str) -> Option<Role> {
    PROPERTIES
        .binary_search_by(|(known, _)| known.cmp(&name))
        .ok()
        .map(|i| PROPERTIES[i].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_answers_by_name() {
        assert!(PROPERTIES.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(role("security.protocol"), Some(Role::Any));
        assert_eq!(role("fetch.wait.max.ms"), Some(Role::Consumer));
        assert_eq!(role("linger.ms"), Some(Role::Producer));
        assert_eq!(role("error_cb"), None);
        assert_eq!(role("no.such.property"), None);
    }
}
