//! The record collector: how a stream thread's output reaches Kafka, like Kafka Streams'
//! `RecordCollector`.
//!
//! One producer per stream thread sends what its tasks produce: sink records without a
//! partition go through the producer's `murmur2_random` partitioner (Kafka's default
//! partitioner, so that repartition topics and co-partitioning agree with Java Kafka Streams
//! applications and producers), changelog records go to their task's partition. Delivery
//! reports arrive on the producer's own polling thread; they record the offset of the last
//! write to each changelog partition (what a checkpoint stores) and the first failed send,
//! which the next `send`, `flush` or commit surfaces as an error (Kafka's default production
//! exception handler fails the thread) unless the application's production exception handler
//! says to drop it (sink and repartition records under at-least-once only). Under exactly-once the producer is transactional: a
//! transaction begins at the first send of a commit interval and ends with the commit.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::error::KafkaError;
use rdkafka::message::{DeliveryResult, Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer, ProducerContext, ThreadedProducer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::TopicPartitionList;

use crate::error::{Error, Result};
use crate::handlers::{ProductionError, ProductionExceptionHandler, ProductionExceptionResponse};
use crate::sync::lock;
use streams_core::internals::{Packed, ProducedRecord, Task};
use streams_core::Headers;

/// How long a send waits for room in a full producer queue before failing.
const QUEUE_FULL_TIMEOUT: Duration = Duration::from_secs(60);

/// What delivery reports tell the collector.
#[derive(Default)]
struct Deliveries {
    /// Changelog topic → partition → offset of the last delivered record.
    changelog_offsets: Mutex<HashMap<String, HashMap<i32, i64>>>,
    /// The first send that failed since the last check.
    failure: Mutex<Option<(String, KafkaError)>>,
}

/// Which failed sends the production exception handler may drop, and where drops are counted.
struct DropPolicy {
    handler: Option<Arc<ProductionExceptionHandler>>,
    /// Changelog writes are never dropped, nor anything under exactly-once.
    changelogs: BTreeSet<String>,
    transactional: bool,
    dropped: Arc<AtomicU64>,
}

impl DropPolicy {
    /// Whether the failed send of a record for `topic` is dropped (logged and counted) rather
    /// than failing the thread.
    fn drops(
        &self,
        topic: &str,
        partition: Option<i32>,
        error: &(dyn std::error::Error + 'static),
    ) -> bool {
        let Some(handler) = &self.handler else {
            return false;
        };
        if self.transactional || self.changelogs.contains(topic) {
            return false;
        }
        let response = handler(&ProductionError {
            topic,
            partition,
            error,
        });
        if response == ProductionExceptionResponse::Continue {
            tracing::warn!(topic, partition, %error, "dropping a record the producer could not send, as the production exception handler said");
            self.dropped.fetch_add(1, Ordering::Relaxed);
            true
        } else {
            false
        }
    }
}

/// The producer's context: records delivery reports into [`Deliveries`].
pub(crate) struct CollectorContext {
    deliveries: Arc<Deliveries>,
    policy: Arc<DropPolicy>,
}

impl ClientContext for CollectorContext {}

impl ProducerContext for CollectorContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(message) => {
                let mut offsets = lock(&self.deliveries.changelog_offsets);
                if let Some(partitions) = offsets.get_mut(message.topic()) {
                    let last = partitions.entry(message.partition()).or_insert(-1);
                    *last = (*last).max(message.offset());
                }
            }
            Err((error, message)) => {
                if self
                    .policy
                    .drops(message.topic(), Some(message.partition()), error)
                {
                    return;
                }
                let mut failure = lock(&self.deliveries.failure);
                if failure.is_none() {
                    let what = format!(
                        "sending a record to {}-{}",
                        message.topic(),
                        message.partition()
                    );
                    tracing::error!(error = %error, "{what} failed");
                    *failure = Some((what, error.clone()));
                }
            }
        }
    }
}

/// A stream thread's producer and what it learned from delivery reports.
pub(crate) struct RecordCollector {
    producer: ThreadedProducer<CollectorContext>,
    deliveries: Arc<Deliveries>,
    policy: Arc<DropPolicy>,
    transactional: bool,
    in_transaction: bool,
    timeout: Duration,
}

impl RecordCollector {
    /// A collector with a producer created from `config` (transactional if it carries a
    /// `transactional.id`), tracking the offsets of `changelog_topics`; failed sends of other
    /// records go to `handler` (if any) and those it drops are counted in `dropped`.
    pub(crate) fn new(
        config: &ClientConfig,
        changelog_topics: &BTreeSet<String>,
        timeout: Duration,
        handler: Option<Arc<ProductionExceptionHandler>>,
        dropped: Arc<AtomicU64>,
    ) -> Result<Self> {
        let transactional = config.get("transactional.id").is_some();
        let policy = Arc::new(DropPolicy {
            handler,
            changelogs: changelog_topics.clone(),
            transactional,
            dropped,
        });
        let deliveries = Arc::new(Deliveries::default());
        lock(&deliveries.changelog_offsets)
            .extend(changelog_topics.iter().map(|t| (t.clone(), HashMap::new())));
        let producer: ThreadedProducer<CollectorContext> = config
            .create_with_context(CollectorContext {
                deliveries: Arc::clone(&deliveries),
                policy: Arc::clone(&policy),
            })
            .map_err(|e| Error::kafka("creating the producer", e))?;
        if transactional {
            producer
                .init_transactions(timeout)
                .map_err(|e| Error::kafka("initializing the transactional producer", e))?;
        }
        Ok(RecordCollector {
            producer,
            deliveries,
            policy,
            transactional,
            in_transaction: false,
            timeout,
        })
    }

    /// Sends what `task` produced since the last call: its sinks' records (drained through
    /// `scratch`), then its stores' changelog records.
    pub(crate) fn send_output(
        &mut self,
        task: &mut Task,
        scratch: &mut Vec<ProducedRecord>,
    ) -> Result<()> {
        task.drain_output(scratch);
        self.send_all(scratch, task.output_topics())?;
        task.drain_changelog(|_, topic, packed, _| self.send_packed(topic, packed))
    }

    /// Sends every record of `records` (draining it), a task's output: their topics are indexes
    /// in `topics`.
    fn send_all(&mut self, records: &mut Vec<ProducedRecord>, topics: &[Arc<str>]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        self.check_failure()?;
        self.begin_if_needed()?;
        for record in records.drain(..) {
            let topic = topics
                .get(record.topic as usize)
                .ok_or_else(|| Error::IllegalState(format!("no output topic #{}", record.topic)))?;
            self.send(topic, record.packed(), &record.headers)?;
        }
        Ok(())
    }

    /// Sends the changelog records for `topic` packed in `packed` (see
    /// [`packed`](streams_core::internals::Packed)).
    fn send_packed(&mut self, topic: &str, packed: &[u8]) -> Result<()> {
        self.check_failure()?;
        self.begin_if_needed()?;
        let no_headers = Headers::new();
        for record in Packed::all(packed) {
            self.send(topic, record, &no_headers)?;
        }
        Ok(())
    }

    fn send(&self, topic: &str, record: Packed<'_>, headers: &Headers) -> Result<()> {
        let mut base = BaseRecord::<[u8], [u8]>::to(topic).timestamp(record.timestamp);
        if let Some(key) = record.key {
            base = base.key(key);
        }
        if let Some(value) = record.value {
            base = base.payload(value);
        }
        if let Some(partition) = record.partition {
            base = base.partition(partition);
        }
        if !headers.is_empty() {
            let headers = headers.iter().fold(
                OwnedHeaders::new_with_capacity(headers.len()),
                |headers, h| {
                    headers.insert(Header {
                        key: &h.key,
                        value: h.value.as_deref(),
                    })
                },
            );
            base = base.headers(headers);
        }
        let mut waiting_since = None;
        loop {
            match self.producer.send(base) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    let since = *waiting_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > QUEUE_FULL_TIMEOUT {
                        return Err(Error::kafka(
                            format!("sending to `{topic}`: the producer queue stayed full"),
                            KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull),
                        ));
                    }
                    base = returned;
                    std::thread::sleep(Duration::from_micros(200));
                }
                Err((e, _)) => {
                    if self.policy.drops(topic, record.partition, &e) {
                        return Ok(());
                    }
                    return Err(Error::kafka(format!("sending to `{topic}`"), e));
                }
            }
        }
    }

    /// Waits until every record sent so far is acknowledged (or failed), then reports the first
    /// failure. Waits on the queue length rather than calling rdkafka's `flush`, which sleeps
    /// in steps of 100 ms while a thread already serves the delivery reports.
    pub(crate) fn flush(&self) -> Result<()> {
        let started = Instant::now();
        while self.producer.in_flight_count() > 0 {
            if started.elapsed() > self.timeout {
                return Err(Error::kafka(
                    format!(
                        "flushing the producer ({} records unacknowledged)",
                        self.producer.in_flight_count()
                    ),
                    KafkaError::Flush(RDKafkaErrorCode::RequestTimedOut),
                ));
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        self.check_failure()
    }

    /// The first failed send since the last check, as an error.
    pub(crate) fn check_failure(&self) -> Result<()> {
        match lock(&self.deliveries.failure).take() {
            Some((what, error)) => Err(Error::kafka(what, error)),
            None => Ok(()),
        }
    }

    /// The offset of the last delivered record of changelog `topic` partition `partition`.
    pub(crate) fn changelog_offset(&self, topic: &str, partition: i32) -> Option<i64> {
        lock(&self.deliveries.changelog_offsets)
            .get(topic)
            .and_then(|p| p.get(&partition))
            .copied()
            .filter(|o| *o >= 0)
    }

    /// Forgets what was learned about a changelog partition (its task moved away).
    pub(crate) fn forget_changelog(&self, topic: &str, partition: i32) {
        if let Some(p) = lock(&self.deliveries.changelog_offsets).get_mut(topic) {
            p.remove(&partition);
        }
    }

    /// Whether the producer is transactional (exactly-once).
    pub(crate) fn is_transactional(&self) -> bool {
        self.transactional
    }

    fn begin_if_needed(&mut self) -> Result<()> {
        if self.transactional && !self.in_transaction {
            self.producer
                .begin_transaction()
                .map_err(|e| Error::kafka("beginning a transaction", e))?;
            self.in_transaction = true;
        }
        Ok(())
    }

    /// Exactly-once commit: adds the consumed `offsets` to the open transaction (beginning one
    /// if needed) and commits it, after every record of it was acknowledged.
    pub(crate) fn commit_transaction(
        &mut self,
        offsets: &TopicPartitionList,
        group: Option<ConsumerGroupMetadata>,
    ) -> Result<()> {
        if offsets.count() == 0 && !self.in_transaction {
            return Ok(());
        }
        self.begin_if_needed()?;
        if offsets.count() > 0 {
            let group = group.ok_or_else(|| {
                Error::IllegalState("the consumer has no group metadata to commit with".into())
            })?;
            self.producer
                .send_offsets_to_transaction(offsets, &group, self.timeout)
                .map_err(|e| Error::kafka("adding consumed offsets to the transaction", e))?;
        }
        // Every record acknowledged first: rdkafka's commit then finds nothing to flush and
        // does not sleep (see `flush`).
        self.flush()?;
        self.producer
            .commit_transaction(self.timeout)
            .map_err(|e| Error::kafka("committing the transaction", e))?;
        self.in_transaction = false;
        Ok(())
    }

    /// Aborts the open transaction, if any: its records and offsets are discarded.
    pub(crate) fn abort_transaction(&mut self) -> Result<()> {
        if !self.in_transaction {
            return Ok(());
        }
        self.in_transaction = false;
        self.producer
            .abort_transaction(self.timeout)
            .map_err(|e| Error::kafka("aborting the transaction", e))?;
        // Failures of the aborted records no longer matter.
        lock(&self.deliveries.failure).take();
        Ok(())
    }
}
