//! The transaction coordinator: producer ids, epochs and the two-phase commit of
//! transactions across partitions, like Kafka's `TransactionCoordinator`.
//!
//! A transactional producer registers under its `transactional.id` (`InitProducerId`) and
//! gets a producer id and an epoch; a second registration of the same id bumps the epoch,
//! which fences the older instance (a zombie) and aborts its unfinished transaction. Each
//! transaction registers the partitions it writes to (`AddPartitionsToTxn`) and the groups
//! whose offsets it commits (`AddOffsetsToTxn`, `TxnOffsetCommit`); `EndTxn` records the
//! decision (`PrepareCommit`/`PrepareAbort`) durably, writes a COMMIT or ABORT marker to
//! every partition of the transaction and completes it. Transactions left open longer
//! than their `transaction.timeout.ms` are aborted by a background check. The state is
//! journalled to disk (the `store` module); after a restart, decided transactions are
//! completed and open ones aborted, so none is left hanging. Offsets of committed
//! transactions go to the group coordinator's offset store through [`OffsetSink`].

mod store;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use kafka_protocol::error::ResponseError;
use serde::{Deserialize, Serialize};

use crate::clock::now_ms;
use crate::config::FlushPolicy;
use crate::error::Result;
use crate::group::{GroupCoordinator, PartitionOffset};
use crate::log::batch::ControlType;
use crate::topics::TopicRegistry;
use store::TxnStore;

/// The coordinator epoch written in markers: a single broker is always the coordinator.
const COORDINATOR_EPOCH: i32 = 0;

/// Where a transactional id's current transaction stands (Kafka's `TransactionState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnState {
    /// Registered, no transaction begun since.
    Empty,
    /// A transaction is open: partitions or groups were added to it.
    Ongoing,
    /// Commit decided; markers are being written.
    PrepareCommit,
    /// Abort decided; markers are being written.
    PrepareAbort,
    /// The last transaction committed.
    CompleteCommit,
    /// The last transaction aborted.
    CompleteAbort,
}

impl TxnState {
    /// Kafka's name of the state, as `DescribeTransactions` and `ListTransactions` report it.
    pub fn name(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
        }
    }
}

/// A consumer offset committed as part of a transaction (`TxnOffsetCommit`), applied to
/// the group only if the transaction commits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PendingOffset {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The offset to commit.
    pub offset: i64,
    /// The leader epoch the consumer saw, -1 if unknown.
    pub leader_epoch: i32,
    /// Client metadata stored with the offset.
    pub metadata: Option<String>,
}

/// Everything the coordinator knows about one transactional id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TxnMetadata {
    /// The producer's `transactional.id`.
    pub transactional_id: String,
    /// The producer id bound to it.
    pub producer_id: i64,
    /// The current epoch; older epochs are fenced.
    pub producer_epoch: i16,
    /// `transaction.timeout.ms` as the producer asked.
    pub timeout_ms: i64,
    /// The state of the current (or last) transaction.
    pub state: TxnState,
    /// Partitions written in the current transaction.
    pub partitions: BTreeSet<(String, i32)>,
    /// Offsets to commit per group if the transaction commits.
    pub pending_offsets: BTreeMap<String, Vec<PendingOffset>>,
    /// When the current transaction began (ms since the epoch).
    pub txn_start_ms: i64,
}

/// Where committed transactional offsets go: the group coordinator's offset store.
pub(crate) trait OffsetSink: Send + Sync + std::fmt::Debug {
    /// Commits `offsets` for `group_id`, as a plain `OffsetCommit` would.
    fn commit_offsets(&self, group_id: &str, offsets: &[PendingOffset]) -> Result<()>;

    /// Marks `partitions` of `group_id` as held by the open transaction of `producer_id`:
    /// `require_stable` offset fetches wait for its outcome.
    fn hold_offsets(&self, group_id: &str, producer_id: i64, partitions: &[(String, i32)]);

    /// The transaction of `producer_id` ended: its partitions of `group_id` are stable again.
    fn release_offsets(&self, group_id: &str, producer_id: i64);
}

/// The group coordinator is the sink: offsets are stored as a plain commit would store
/// them, durably in `__consumer_offsets`.
impl OffsetSink for GroupCoordinator {
    fn commit_offsets(&self, group_id: &str, offsets: &[PendingOffset]) -> Result<()> {
        let offsets: Vec<PartitionOffset> = offsets
            .iter()
            .map(|o| PartitionOffset {
                topic: o.topic.clone(),
                partition: o.partition,
                offset: o.offset,
                leader_epoch: o.leader_epoch,
                metadata: o.metadata.clone().unwrap_or_default(),
            })
            .collect();
        GroupCoordinator::commit_offsets(self, group_id, &offsets)
    }

    fn hold_offsets(&self, group_id: &str, producer_id: i64, partitions: &[(String, i32)]) {
        self.begin_txn_offsets(group_id, producer_id, partitions);
    }

    fn release_offsets(&self, group_id: &str, producer_id: i64) {
        self.end_txn_offsets(group_id, producer_id);
    }
}

/// The outcome of a coordinator request: a Kafka error code on failure.
pub(crate) type TxnResult<T> = std::result::Result<T, ResponseError>;

#[derive(Debug)]
struct Inner {
    txns: HashMap<String, TxnMetadata>,
    by_producer: HashMap<i64, String>,
    store: TxnStore,
}

/// The broker's transaction coordinator. See the module documentation.
#[derive(Debug)]
pub(crate) struct TransactionCoordinator {
    inner: Mutex<Inner>,
    max_timeout_ms: i64,
    offsets: OnceLock<Arc<dyn OffsetSink>>,
}

fn storage_error(e: crate::error::Error) -> ResponseError {
    tracing::error!(error = %e, "transaction state could not be written");
    ResponseError::CoordinatorNotAvailable
}

impl Inner {
    fn persist(&mut self, id: &str) -> Result<()> {
        if let Some(m) = self.txns.get(id) {
            self.store.write(m)?;
        }
        if self.store.needs_compaction(self.txns.len()) {
            let live: Vec<TxnMetadata> = self.txns.values().cloned().collect();
            self.store.compact(&live)?;
        }
        Ok(())
    }

    /// The transaction of `id` if `producer_id` and `epoch` are its current ones.
    fn validate(&mut self, id: &str, producer_id: i64, epoch: i16) -> TxnResult<&mut TxnMetadata> {
        let m = self
            .txns
            .get_mut(id)
            .ok_or(ResponseError::InvalidProducerIdMapping)?;
        if m.producer_id != producer_id {
            return Err(ResponseError::InvalidProducerIdMapping);
        }
        if m.producer_epoch != epoch {
            return Err(ResponseError::ProducerFenced);
        }
        if matches!(m.state, TxnState::PrepareCommit | TxnState::PrepareAbort) {
            return Err(ResponseError::ConcurrentTransactions);
        }
        Ok(m)
    }

    /// Moves `id` into a transaction if it is not in one.
    fn begin(m: &mut TxnMetadata, now: i64) {
        if m.state != TxnState::Ongoing {
            m.state = TxnState::Ongoing;
            m.partitions.clear();
            m.pending_offsets.clear();
            m.txn_start_ms = now;
        }
    }

    /// Decides the outcome of `id`'s open transaction: records `PrepareCommit` or
    /// `PrepareAbort` durably. With `fence`, the epoch is bumped first so that the markers
    /// also fence the current producer (a timeout or a new registration).
    fn prepare(&mut self, id: &str, kind: ControlType, fence: bool) -> Result<()> {
        if let Some(m) = self.txns.get_mut(id) {
            if fence && m.producer_epoch < i16::MAX {
                m.producer_epoch += 1;
            }
            m.state = match kind {
                ControlType::Commit => TxnState::PrepareCommit,
                ControlType::Abort => TxnState::PrepareAbort,
            };
        }
        self.persist(id)
    }

    /// Writes the markers of a prepared transaction, commits its offsets if it commits,
    /// and records it complete. On error the transaction stays prepared and is retried by
    /// the background check.
    fn complete(
        &mut self,
        id: &str,
        topics: &TopicRegistry,
        sink: Option<&Arc<dyn OffsetSink>>,
    ) -> Result<()> {
        let Some(m) = self.txns.get(id) else {
            return Ok(());
        };
        let kind = match m.state {
            TxnState::PrepareCommit => ControlType::Commit,
            TxnState::PrepareAbort => ControlType::Abort,
            _ => return Ok(()),
        };
        for (topic, partition) in &m.partitions {
            let Some(log) = topics
                .get(topic)
                .and_then(|t| t.partition(*partition).cloned())
            else {
                tracing::warn!(%topic, partition, transactional_id = id, "partition of a transaction is gone; no marker written");
                continue;
            };
            log.append_marker(m.producer_id, m.producer_epoch, kind, COORDINATOR_EPOCH)?;
        }
        if kind == ControlType::Commit {
            for (group, offsets) in &m.pending_offsets {
                match sink {
                    Some(sink) => sink.commit_offsets(group, offsets)?,
                    None => tracing::error!(
                        %group,
                        transactional_id = id,
                        "no offset store attached: transactional offsets dropped"
                    ),
                }
            }
        }
        if let Some(sink) = sink {
            for group in m.pending_offsets.keys() {
                sink.release_offsets(group, m.producer_id);
            }
        }
        if let Some(m) = self.txns.get_mut(id) {
            tracing::debug!(
                transactional_id = id,
                producer_id = m.producer_id,
                ?kind,
                partitions = m.partitions.len(),
                "transaction completed"
            );
            m.state = match kind {
                ControlType::Commit => TxnState::CompleteCommit,
                ControlType::Abort => TxnState::CompleteAbort,
            };
            m.partitions.clear();
            m.pending_offsets.clear();
        }
        self.persist(id)
    }
}

impl TransactionCoordinator {
    /// Opens the coordinator's state under `data_dir`. Call [`recover`](Self::recover)
    /// once the topics are loaded.
    pub(crate) fn open(data_dir: &Path, flush: FlushPolicy, max_timeout_ms: i64) -> Result<Self> {
        let (store, txns) = TxnStore::open(data_dir, flush)?;
        let by_producer = txns
            .iter()
            .map(|m| (m.producer_id, m.transactional_id.clone()))
            .collect();
        let txns = txns
            .into_iter()
            .map(|m| (m.transactional_id.clone(), m))
            .collect();
        Ok(TransactionCoordinator {
            inner: Mutex::new(Inner {
                txns,
                by_producer,
                store,
            }),
            max_timeout_ms,
            offsets: OnceLock::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Attaches the group coordinator's offset store, where committed transactional
    /// offsets go. Only the first call has an effect.
    pub(crate) fn set_offset_sink(&self, sink: Arc<dyn OffsetSink>) {
        let _ = self.offsets.set(sink);
    }

    /// Completes every transaction whose outcome was decided before a restart and aborts
    /// every one that was still open (fencing its producer), so none is left hanging.
    pub(crate) fn recover(&self, topics: &TopicRegistry) -> Result<usize> {
        let mut inner = self.lock();
        let ids: Vec<String> = inner.txns.keys().cloned().collect();
        let mut finished = 0;
        for id in ids {
            let state = inner.txns.get(&id).map(|m| m.state);
            match state {
                Some(TxnState::Ongoing) => {
                    tracing::info!(transactional_id = %id, "aborting a transaction left open by a restart");
                    inner.prepare(&id, ControlType::Abort, true)?;
                }
                Some(TxnState::PrepareCommit | TxnState::PrepareAbort) => {
                    tracing::info!(transactional_id = %id, "completing a transaction decided before a restart");
                }
                _ => continue,
            }
            inner.complete(&id, topics, self.offsets.get())?;
            finished += 1;
        }
        Ok(finished)
    }

    /// `InitProducerId`. Without a transactional id: a fresh producer id at epoch 0 (an
    /// idempotent producer). With one: the id's producer id with its epoch bumped, which
    /// fences older instances; an open transaction of the previous instance is aborted
    /// first. `expected` is the producer id and epoch the client already has (KIP-360),
    /// `(-1, -1)` if none.
    pub(crate) fn init_producer_id(
        &self,
        transactional_id: Option<&str>,
        timeout_ms: i32,
        expected: (i64, i16),
        topics: &TopicRegistry,
    ) -> TxnResult<(i64, i16)> {
        let mut inner = self.lock();
        let Some(id) = transactional_id else {
            let pid = inner.store.allocate_producer_id().map_err(storage_error)?;
            return Ok((pid, 0));
        };
        if id.is_empty() {
            return Err(ResponseError::InvalidRequest);
        }
        if timeout_ms <= 0 || i64::from(timeout_ms) > self.max_timeout_ms {
            return Err(ResponseError::InvalidTransactionTimeout);
        }
        let timeout_ms = i64::from(timeout_ms);
        let Some(m) = inner.txns.get(id).cloned() else {
            let pid = inner.store.allocate_producer_id().map_err(storage_error)?;
            inner.txns.insert(
                id.to_string(),
                TxnMetadata {
                    transactional_id: id.to_string(),
                    producer_id: pid,
                    producer_epoch: 0,
                    timeout_ms,
                    state: TxnState::Empty,
                    partitions: BTreeSet::new(),
                    pending_offsets: BTreeMap::new(),
                    txn_start_ms: -1,
                },
            );
            inner.by_producer.insert(pid, id.to_string());
            inner.persist(id).map_err(storage_error)?;
            tracing::info!(
                transactional_id = id,
                producer_id = pid,
                "registered transactional producer"
            );
            return Ok((pid, 0));
        };
        if expected.0 >= 0 && (expected.0 != m.producer_id || expected.1 != m.producer_epoch) {
            return Err(ResponseError::ProducerFenced);
        }
        match m.state {
            TxnState::Ongoing => {
                // The previous instance's transaction is aborted with a bumped epoch: its
                // markers fence that instance in every partition it wrote to.
                inner
                    .prepare(id, ControlType::Abort, true)
                    .map_err(storage_error)?;
                inner
                    .complete(id, topics, self.offsets.get())
                    .map_err(storage_error)?;
            }
            TxnState::PrepareCommit | TxnState::PrepareAbort => {
                inner
                    .complete(id, topics, self.offsets.get())
                    .map_err(|e| {
                        tracing::warn!(transactional_id = id, error = %e, "markers still pending");
                        ResponseError::ConcurrentTransactions
                    })?;
            }
            _ => {}
        }
        let fresh_pid = match inner.txns.get(id) {
            Some(m) if m.producer_epoch >= i16::MAX - 1 => {
                Some(inner.store.allocate_producer_id().map_err(storage_error)?)
            }
            _ => None,
        };
        let Inner {
            txns, by_producer, ..
        } = &mut *inner;
        let Some(m) = txns.get_mut(id) else {
            return Err(ResponseError::CoordinatorNotAvailable);
        };
        match fresh_pid {
            // Epochs exhausted: a new producer id, as Kafka does.
            Some(pid) => {
                by_producer.remove(&m.producer_id);
                by_producer.insert(pid, id.to_string());
                m.producer_id = pid;
                m.producer_epoch = 0;
            }
            None => m.producer_epoch += 1,
        }
        m.state = TxnState::Empty;
        m.timeout_ms = timeout_ms;
        m.partitions.clear();
        m.pending_offsets.clear();
        let result = (m.producer_id, m.producer_epoch);
        inner.persist(id).map_err(storage_error)?;
        tracing::info!(
            transactional_id = id,
            producer_id = result.0,
            epoch = result.1,
            "transactional producer re-registered; older epochs fenced"
        );
        Ok(result)
    }

    /// `AddPartitionsToTxn`: adds partitions to the producer's transaction, beginning one
    /// if none is open. The caller checks that the partitions exist.
    pub(crate) fn add_partitions(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        partitions: &[(String, i32)],
    ) -> TxnResult<()> {
        let mut inner = self.lock();
        let m = inner.validate(transactional_id, producer_id, epoch)?;
        let before = (m.state, m.partitions.len());
        Inner::begin(m, now_ms());
        m.partitions.extend(partitions.iter().cloned());
        if (m.state, m.partitions.len()) != before {
            inner.persist(transactional_id).map_err(storage_error)?;
        }
        Ok(())
    }

    /// `AddOffsetsToTxn`: the transaction will commit offsets of `group_id`.
    pub(crate) fn add_offsets(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        group_id: &str,
    ) -> TxnResult<()> {
        let mut inner = self.lock();
        let m = inner.validate(transactional_id, producer_id, epoch)?;
        Inner::begin(m, now_ms());
        m.pending_offsets.entry(group_id.to_string()).or_default();
        inner.persist(transactional_id).map_err(storage_error)?;
        Ok(())
    }

    /// `TxnOffsetCommit`: buffers offsets for `group_id` until the transaction ends; they
    /// reach the group only if it commits. The group must have been added to the
    /// transaction (`AddOffsetsToTxn`).
    pub(crate) fn txn_offset_commit(
        &self,
        transactional_id: &str,
        group_id: &str,
        producer_id: i64,
        epoch: i16,
        offsets: Vec<PendingOffset>,
    ) -> TxnResult<()> {
        let mut inner = self.lock();
        let m = inner.validate(transactional_id, producer_id, epoch)?;
        if m.state != TxnState::Ongoing {
            return Err(ResponseError::InvalidTxnState);
        }
        let pending = m
            .pending_offsets
            .get_mut(group_id)
            .ok_or(ResponseError::InvalidTxnState)?;
        let held: Vec<(String, i32)> = offsets
            .iter()
            .map(|o| (o.topic.clone(), o.partition))
            .collect();
        for o in offsets {
            pending.retain(|p| !(p.topic == o.topic && p.partition == o.partition));
            pending.push(o);
        }
        inner.persist(transactional_id).map_err(storage_error)?;
        if let Some(sink) = self.offsets.get() {
            sink.hold_offsets(group_id, producer_id, &held);
        }
        Ok(())
    }

    /// `EndTxn`: commits or aborts the open transaction. Once the decision is journalled
    /// the request succeeds; markers that could not be written are retried in the
    /// background. Retrying a completed `EndTxn` with the same outcome succeeds again.
    pub(crate) fn end_txn(
        &self,
        transactional_id: &str,
        producer_id: i64,
        epoch: i16,
        commit: bool,
        topics: &TopicRegistry,
    ) -> TxnResult<()> {
        let mut inner = self.lock();
        let m = inner.validate(transactional_id, producer_id, epoch)?;
        let kind = if commit {
            ControlType::Commit
        } else {
            ControlType::Abort
        };
        match (m.state, kind) {
            (TxnState::Ongoing, _) => {}
            (TxnState::CompleteCommit, ControlType::Commit)
            | (TxnState::CompleteAbort, ControlType::Abort) => return Ok(()),
            _ => return Err(ResponseError::InvalidTxnState),
        }
        inner
            .prepare(transactional_id, kind, false)
            .map_err(storage_error)?;
        if let Err(e) = inner.complete(transactional_id, topics, self.offsets.get()) {
            tracing::error!(transactional_id, error = %e, "writing transaction markers failed; will retry");
        }
        Ok(())
    }

    /// Runs `append` (a transactional produce to `topic`-`partition`) if the producer's
    /// transaction is open, at this epoch, and includes the partition; markers cannot be
    /// written meanwhile. Otherwise the Kafka error that the produce gets.
    pub(crate) fn verify_produce<R>(
        &self,
        producer_id: i64,
        epoch: i16,
        topic: &str,
        partition: i32,
        append: impl FnOnce() -> R,
    ) -> TxnResult<R> {
        let inner = self.lock();
        let m = inner
            .by_producer
            .get(&producer_id)
            .and_then(|id| inner.txns.get(id))
            .ok_or(ResponseError::InvalidTxnState)?;
        if epoch < m.producer_epoch {
            return Err(ResponseError::InvalidProducerEpoch);
        }
        let key = (topic.to_string(), partition);
        if epoch != m.producer_epoch || m.state != TxnState::Ongoing || !m.partitions.contains(&key)
        {
            return Err(ResponseError::InvalidTxnState);
        }
        Ok(append())
    }

    /// Aborts every transaction open longer than its timeout (fencing its producer, as
    /// Kafka does) and retries the markers of decided ones; returns how many ended.
    pub(crate) fn abort_expired(&self, now: i64, topics: &TopicRegistry) -> usize {
        let mut inner = self.lock();
        let due: Vec<(String, TxnState)> = inner
            .txns
            .values()
            .filter(|m| match m.state {
                TxnState::Ongoing => now.saturating_sub(m.txn_start_ms) > m.timeout_ms,
                TxnState::PrepareCommit | TxnState::PrepareAbort => true,
                _ => false,
            })
            .map(|m| (m.transactional_id.clone(), m.state))
            .collect();
        let mut ended = 0;
        for (id, state) in due {
            if state == TxnState::Ongoing {
                tracing::info!(transactional_id = %id, "aborting a transaction past its transaction.timeout.ms");
                if let Err(e) = inner.prepare(&id, ControlType::Abort, true) {
                    tracing::error!(transactional_id = %id, error = %e, "could not record the abort");
                    continue;
                }
            }
            match inner.complete(&id, topics, self.offsets.get()) {
                Ok(()) => ended += 1,
                Err(e) => {
                    tracing::error!(transactional_id = %id, error = %e, "writing transaction markers failed; will retry")
                }
            }
        }
        ended
    }

    /// The coordinator's record of `transactional_id`.
    pub(crate) fn describe(&self, transactional_id: &str) -> Option<TxnMetadata> {
        self.lock().txns.get(transactional_id).cloned()
    }

    /// Every transactional id the coordinator knows, by id (Kafka's `ListTransactions`).
    pub(crate) fn list(&self) -> Vec<TxnMetadata> {
        let mut all: Vec<TxnMetadata> = self.lock().txns.values().cloned().collect();
        all.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        all
    }

    /// Forces the journal to disk (the broker's periodic flush).
    pub(crate) fn sync(&self) -> Result<()> {
        self.lock().store.sync()
    }
}

#[cfg(test)]
mod tests;
