//! Restoring a task's stores from their changelogs, like Kafka Streams' `StoreChangelogReader`.
//!
//! Each stream thread has a restore consumer that belongs to no group: for every changelog
//! partition of a new task it `assign()`s the partition at the offset after the task's
//! checkpoint (or at the beginning), reads up to the end — the high watermark, or under
//! exactly-once (`isolation.level=read_committed`) the last stable offset, which the consumer
//! signals as the partition's end — and applies the records in batches through
//! `streams-state`'s [`StoreRestorer`] (RocksDB write batches, progress to the
//! [`RestoreListener`] and `tracing`). A task processes nothing before its stores are restored.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use streams_state::{ChangelogRecord, RestoreListener, StateStore, StoreRestorer, TopicPartition};

use crate::error::{Error, Result};
use streams_core::internals::StoreHandle;

/// Records applied per restore batch.
const RESTORE_BATCH: usize = 2_000;

/// How long a changelog may go without delivering anything before restoring fails.
const RESTORE_STALL_TIMEOUT: Duration = Duration::from_secs(120);

/// One of a task's stores seen as a [`StateStore`], so that the restorer can drive it.
struct RestoringStore<'a> {
    name: &'a str,
    handle: &'a StoreHandle,
}

impl StateStore for RestoringStore<'_> {
    fn name(&self) -> &str {
        self.name
    }

    fn persistent(&self) -> bool {
        self.handle.persistent()
    }

    fn is_open(&self) -> bool {
        self.handle.is_open()
    }

    fn flush(&mut self) -> streams_state::Result<()> {
        self.handle.flush().map_err(into_state_error(self.name))
    }

    fn close(&mut self) -> streams_state::Result<()> {
        self.handle.close().map_err(into_state_error(self.name))
    }

    fn restore_batch(&mut self, records: &[ChangelogRecord]) -> streams_state::Result<()> {
        self.handle
            .restore_batch(records)
            .map_err(into_state_error(self.name))
    }
}

fn into_state_error(store: &str) -> impl Fn(streams_core::Error) -> streams_state::Error + '_ {
    move |e| match e {
        streams_core::Error::State(inner) => inner,
        other => streams_state::Error::InvalidArgument {
            store: store.to_string(),
            message: other.to_string(),
        },
    }
}

/// A stream thread's restore consumer; see the module docs.
pub(crate) struct ChangelogReader {
    consumer: BaseConsumer,
    listener: Option<Arc<dyn RestoreListener>>,
    timeout: Duration,
}

impl ChangelogReader {
    /// A reader whose consumer is created from `config` (no group; partition EOF enabled).
    pub(crate) fn new(
        config: &ClientConfig,
        listener: Option<Arc<dyn RestoreListener>>,
        timeout: Duration,
    ) -> Result<Self> {
        let consumer: BaseConsumer = config
            .create()
            .map_err(|e| Error::kafka("creating the restore consumer", e))?;
        Ok(ChangelogReader {
            consumer,
            listener,
            timeout,
        })
    }

    /// Restores store `name` from changelog `partition`, starting at `start_offset`. Returns
    /// the offset of the last record applied and how many records were.
    pub(crate) fn restore(
        &self,
        name: &str,
        handle: &StoreHandle,
        partition: TopicPartition,
        start_offset: i64,
    ) -> Result<(Option<i64>, u64)> {
        let (low, high) = self
            .consumer
            .fetch_watermarks(&partition.topic, partition.partition, self.timeout)
            .map_err(|e| Error::kafka(format!("reading the end offset of {partition}"), e))?;
        let start = start_offset.max(low);
        let mut store = RestoringStore { name, handle };
        let mut restorer = StoreRestorer::start(
            &mut store,
            partition.clone(),
            start,
            high,
            self.listener.clone(),
        );
        if start < high {
            let mut assignment = TopicPartitionList::new();
            assignment
                .add_partition_offset(&partition.topic, partition.partition, Offset::Offset(start))
                .map_err(|e| Error::kafka(format!("assigning {partition}"), e))?;
            self.consumer
                .assign(&assignment)
                .map_err(|e| Error::kafka(format!("assigning {partition}"), e))?;
            let result = self.read_to_end(&mut restorer, &partition, high);
            let unassigned = self.consumer.unassign();
            result?;
            unassigned.map_err(|e| Error::kafka(format!("unassigning {partition}"), e))?;
        }
        let restored = restorer.restored();
        Ok((restorer.finish()?, restored))
    }

    fn read_to_end(
        &self,
        restorer: &mut StoreRestorer<'_>,
        partition: &TopicPartition,
        high: i64,
    ) -> Result<()> {
        let mut batch: Vec<ChangelogRecord> = Vec::with_capacity(RESTORE_BATCH);
        let mut last_progress = Instant::now();
        loop {
            match self.consumer.poll(Duration::from_millis(100)) {
                Some(Ok(message)) => {
                    last_progress = Instant::now();
                    let offset = message.offset();
                    batch.push(ChangelogRecord {
                        key: message.key().map(<[u8]>::to_vec).unwrap_or_default(),
                        value: message.payload().map(<[u8]>::to_vec),
                        timestamp: message.timestamp().to_millis().unwrap_or(0),
                        offset,
                    });
                    if batch.len() >= RESTORE_BATCH {
                        restorer.restore_batch(&batch)?;
                        batch.clear();
                    }
                    if offset >= high - 1 {
                        break;
                    }
                }
                // The end of what this consumer may read: the high watermark, or the last
                // stable offset under read_committed.
                Some(Err(KafkaError::PartitionEOF(_))) => break,
                Some(Err(e)) => {
                    return Err(Error::kafka(format!("restoring from {partition}"), e));
                }
                None => {
                    if last_progress.elapsed() > RESTORE_STALL_TIMEOUT {
                        return Err(Error::IllegalState(format!(
                            "restoring from {partition} made no progress for {RESTORE_STALL_TIMEOUT:?}"
                        )));
                    }
                }
            }
        }
        restorer.restore_batch(&batch)?;
        Ok(())
    }
}
