//! Restore: rebuilding a store from its changelog, batch by batch.
//!
//! When a task is created (at start-up or after a rebalance), the runtime reads each store's
//! changelog partition from just after the checkpointed offset up to its end and feeds the records
//! to a [`StoreRestorer`], one consumer batch at a time. Each batch is applied with
//! [`StateStore::restore_batch`] (for RocksDB, one write batch without the write-ahead log), and
//! progress goes to `tracing` and to an optional [`RestoreListener`] — Kafka Streams'
//! `StoreChangelogReader` and `StateRestoreListener`. [`StoreRestorer::finish`] flushes the store,
//! after which the offset it returns can be checkpointed.
//!
//! Offsets follow Kafka Streams: a checkpoint holds the offset of the last record applied, and
//! restoring resumes at the next one ([`restore_start_offset`]).

use std::sync::Arc;
use std::time::Instant;

use crate::checkpoint::TopicPartition;
use crate::record::ChangelogRecord;
use crate::store::StateStore;
use crate::Result;

/// Progress callbacks of a restore, like Kafka Streams' `StateRestoreListener`. All methods
/// default to doing nothing.
pub trait RestoreListener: Send + Sync {
    /// Restoring `store` from `partition` begins at `start_offset`; the changelog ends at
    /// `end_offset` (exclusive).
    fn on_restore_start(
        &self,
        partition: &TopicPartition,
        store: &str,
        start_offset: i64,
        end_offset: i64,
    ) {
        let _ = (partition, store, start_offset, end_offset);
    }

    /// A batch of `num_restored` records ending at `batch_end_offset` was applied.
    fn on_batch_restored(
        &self,
        partition: &TopicPartition,
        store: &str,
        batch_end_offset: i64,
        num_restored: u64,
    ) {
        let _ = (partition, store, batch_end_offset, num_restored);
    }

    /// Restoring `store` finished after `total_restored` records.
    fn on_restore_end(&self, partition: &TopicPartition, store: &str, total_restored: u64) {
        let _ = (partition, store, total_restored);
    }
}

/// A [`RestoreListener`] that only logs (at `info` for start and end, `debug` per batch).
/// [`StoreRestorer`] always logs like this; use this listener where one is required.
#[derive(Debug, Default, Clone, Copy)]
pub struct LoggingRestoreListener;

impl RestoreListener for LoggingRestoreListener {}

/// Where restoring a store whose changelog `checkpoint` was last checkpointed starts:
/// the offset after the checkpointed one, or 0 without a checkpoint.
pub fn restore_start_offset(checkpoint: Option<i64>) -> i64 {
    checkpoint.map_or(0, |o| o.saturating_add(1))
}

/// Drives the restore of one store from one changelog partition; see the module docs.
pub struct StoreRestorer<'a> {
    store: &'a mut dyn StateStore,
    partition: TopicPartition,
    listener: Option<Arc<dyn RestoreListener>>,
    restored: u64,
    last_offset: Option<i64>,
    started: Instant,
}

impl<'a> StoreRestorer<'a> {
    /// Starts restoring `store` from `partition`, whose records from `start_offset` up to
    /// `end_offset` (exclusive) will follow.
    pub fn start(
        store: &'a mut dyn StateStore,
        partition: TopicPartition,
        start_offset: i64,
        end_offset: i64,
        listener: Option<Arc<dyn RestoreListener>>,
    ) -> Self {
        tracing::info!(store = store.name(), changelog = %partition, start_offset, end_offset,
            "restoring state store");
        if let Some(l) = &listener {
            l.on_restore_start(&partition, store.name(), start_offset, end_offset);
        }
        StoreRestorer {
            store,
            partition,
            listener,
            restored: 0,
            last_offset: None,
            started: Instant::now(),
        }
    }

    /// Applies one batch of changelog records, in offset order.
    pub fn restore_batch(&mut self, records: &[ChangelogRecord]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        self.store.restore_batch(records)?;
        let n = records.len() as u64;
        self.restored += n;
        let batch_end = records.last().map_or(-1, |r| r.offset);
        self.last_offset = Some(batch_end);
        tracing::debug!(store = self.store.name(), changelog = %self.partition,
            batch_end_offset = batch_end, records = n, "restored batch");
        if let Some(l) = &self.listener {
            l.on_batch_restored(&self.partition, self.store.name(), batch_end, n);
        }
        Ok(())
    }

    /// Records restored so far.
    pub fn restored(&self) -> u64 {
        self.restored
    }

    /// Flushes the store and ends the restore. Returns the offset of the last record applied (to
    /// checkpoint), or `None` if there was nothing to restore.
    pub fn finish(self) -> Result<Option<i64>> {
        self.store.flush()?;
        let elapsed = self.started.elapsed();
        tracing::info!(store = self.store.name(), changelog = %self.partition,
            records = self.restored, elapsed_ms = elapsed.as_millis() as u64,
            "finished restoring state store");
        if let Some(l) = &self.listener {
            l.on_restore_end(&self.partition, self.store.name(), self.restored);
        }
        Ok(self.last_offset)
    }
}

/// Restores `store` from a whole recorded changelog in batches of `batch_size` records: a
/// convenience over [`StoreRestorer`] for the test driver and tests. Records with offsets below
/// `start_offset` are skipped. Returns the offset of the last record applied.
pub fn restore_from(
    store: &mut dyn StateStore,
    partition: TopicPartition,
    records: &[ChangelogRecord],
    start_offset: i64,
    batch_size: usize,
    listener: Option<Arc<dyn RestoreListener>>,
) -> Result<Option<i64>> {
    let tail: Vec<&ChangelogRecord> = records
        .iter()
        .filter(|r| r.offset >= start_offset)
        .collect();
    let end_offset = records.last().map_or(start_offset, |r| r.offset + 1);
    let mut restorer = StoreRestorer::start(store, partition, start_offset, end_offset, listener);
    let mut batch = Vec::with_capacity(batch_size.max(1));
    for chunk in tail.chunks(batch_size.max(1)) {
        batch.clear();
        batch.extend(chunk.iter().map(|r| (*r).clone()));
        restorer.restore_batch(&batch)?;
    }
    restorer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KeyValueStoreBuilder, RecordingChangelogWriter, StateDirectory, StoreContext};
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder {
        events: Mutex<Vec<String>>,
    }

    impl RestoreListener for Recorder {
        fn on_restore_start(&self, tp: &TopicPartition, store: &str, start: i64, end: i64) {
            self.events
                .lock()
                .unwrap()
                .push(format!("start {tp} {store} {start}..{end}"));
        }
        fn on_batch_restored(&self, _: &TopicPartition, _: &str, batch_end: i64, n: u64) {
            self.events
                .lock()
                .unwrap()
                .push(format!("batch {batch_end} {n}"));
        }
        fn on_restore_end(&self, _: &TopicPartition, _: &str, total: u64) {
            self.events.lock().unwrap().push(format!("end {total}"));
        }
    }

    #[test]
    fn checkpoint_restores_only_the_tail() {
        let tmp = tempfile::tempdir().unwrap();
        let dirs = StateDirectory::new(tmp.path(), "app");
        let changelog = Arc::new(RecordingChangelogWriter::new());
        let res = crate::test_suite::small_resources();
        let ctx = StoreContext::new(dirs.clone(), "0_3", 3, res.clone())
            .with_changelog(changelog.clone());
        let builder = KeyValueStoreBuilder::new("counts");
        let topic = builder.changelog_topic("app").unwrap();
        let tp = TopicPartition::new(&topic, 3);
        let checkpoint = dirs.checkpoint("0_3").unwrap();

        // Run 1: ten writes, a commit (flush + checkpoint), then three more and a crash (the
        // store is dropped without flush or checkpoint: whether those three reached its files
        // or not, restoring the changelog's tail from the checkpoint brings them back).
        {
            let mut store = builder.build(&ctx).unwrap();
            for i in 0..10u8 {
                store.put(&[i], &[i]).unwrap();
            }
            store.flush().unwrap();
            let last = changelog.end_offset(&topic, 3) - 1;
            checkpoint
                .write(&BTreeMap::from([(tp.clone(), last)]))
                .unwrap();
            for i in 10..13u8 {
                store.put(&[i], &[i]).unwrap();
            }
        }

        // Run 2: restore resumes after the checkpoint: only the 3-record tail.
        let listener = Arc::new(Recorder::default());
        let mut store = builder.build(&ctx).unwrap();
        let start = restore_start_offset(checkpoint.read().unwrap().get(&tp).copied());
        assert_eq!(start, 10);
        let records = changelog.records(&topic, 3);
        let last = restore_from(
            store.as_mut(),
            tp.clone(),
            &records,
            start,
            2,
            Some(listener.clone()),
        )
        .unwrap();
        assert_eq!(last, Some(12));
        assert_eq!(
            *listener.events.lock().unwrap(),
            vec![
                "start app-counts-changelog-3 counts 10..13".to_string(),
                "batch 11 2".to_string(),
                "batch 12 1".to_string(),
                "end 3".to_string(),
            ]
        );
        assert_eq!(store.all().unwrap().count(), 13);
        checkpoint
            .write(&BTreeMap::from([(tp.clone(), 12)]))
            .unwrap();
        store.close().unwrap();

        // Run 3: a clean restart restores nothing.
        let listener = Arc::new(Recorder::default());
        let mut store = builder.build(&ctx).unwrap();
        let start = restore_start_offset(checkpoint.read().unwrap().get(&tp).copied());
        let last = restore_from(
            store.as_mut(),
            tp,
            &records,
            start,
            2,
            Some(listener.clone()),
        )
        .unwrap();
        assert_eq!(last, None);
        assert_eq!(listener.events.lock().unwrap().last().unwrap(), "end 0");
        assert_eq!(store.all().unwrap().count(), 13);
    }
}
