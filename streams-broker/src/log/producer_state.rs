//! Producer state: what each idempotent or transactional producer last wrote to a partition.
//!
//! An idempotent producer numbers its batches per partition (producer id, epoch, sequence).
//! The partition remembers, per producer id, the epoch and the last five batches' sequence
//! ranges and offsets, so that a retried batch is recognised and acknowledged with its
//! original offset instead of being appended twice, a gap in the sequence is refused, and a
//! zombie with an older epoch is fenced. It also tracks the open transaction of each
//! producer (its first offset, which bounds the last stable offset) and the aborted
//! transactions that `read_committed` fetches must skip (Kafka's `.txnindex`). This is
//! Kafka's `ProducerStateManager`. Like Kafka's, the state is snapshotted whenever the log
//! rolls a segment ([`ProducerStateManager::to_snapshot`]), and rebuilt at start-up from
//! the latest snapshot plus the batch headers of the segments after it. A producer that
//! has written nothing for `producer.id.expiration.ms` (and has no open transaction) is
//! forgotten.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::batch::{BatchHeader, ControlType};
use crate::error::ProducerError;

/// How many recent batches per producer are remembered for deduplication: Kafka's
/// `NUM_BATCHES_TO_RETAIN`, matching `max.in.flight.requests.per.connection <= 5`.
pub(crate) const NUM_BATCHES_TO_RETAIN: usize = 5;

/// Where one of a producer's recent batches went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BatchMetadata {
    /// Sequence number of the batch's first record.
    pub first_seq: i32,
    /// Sequence number of the batch's last record.
    pub last_seq: i32,
    /// Offset given to the first record.
    pub first_offset: i64,
    /// Offset given to the last record.
    pub last_offset: i64,
    /// The batch's largest timestamp as stored (the append time under `LogAppendTime`).
    pub max_timestamp: i64,
}

/// An aborted transaction in this partition, like an entry of Kafka's `.txnindex`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AbortedTxn {
    /// The producer whose transaction was aborted.
    pub producer_id: i64,
    /// The transaction's first offset in this partition.
    pub first_offset: i64,
    /// The offset of the abort marker.
    pub last_offset: i64,
    /// The last stable offset right after the marker: every transaction still open then
    /// began at or after it, so a search for transactions overlapping offsets below it can
    /// stop here (Kafka's `lastStableOffset` in `.txnindex` entries).
    pub last_stable_offset: i64,
}

/// What a producer last did on this partition (Kafka's `ProducerStateEntry`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ProducerEntry {
    epoch: i16,
    batches: VecDeque<BatchMetadata>,
    /// First offset of the producer's open transaction here, if one is open.
    current_txn_first_offset: Option<i64>,
    /// Largest timestamp the producer wrote (Kafka's `lastTimestamp`), for expiration.
    last_timestamp: i64,
}

impl ProducerEntry {
    fn new(epoch: i16) -> Self {
        ProducerEntry {
            epoch,
            batches: VecDeque::with_capacity(NUM_BATCHES_TO_RETAIN),
            current_txn_first_offset: None,
            last_timestamp: -1,
        }
    }

    fn last_seq(&self) -> i32 {
        self.batches.back().map_or(-1, |b| b.last_seq)
    }

    /// A new epoch forgets the old epoch's sequence numbers.
    fn set_epoch(&mut self, epoch: i16) {
        if epoch != self.epoch {
            self.epoch = epoch;
            self.batches.clear();
        }
    }

    fn find_duplicate(&self, h: &BatchHeader) -> Option<BatchMetadata> {
        if h.producer_epoch != self.epoch {
            return None;
        }
        let last = h.last_sequence();
        self.batches
            .iter()
            .find(|b| b.first_seq == h.base_sequence && b.last_seq == last)
            .copied()
    }

    fn push(&mut self, meta: BatchMetadata) {
        if self.batches.len() == NUM_BATCHES_TO_RETAIN {
            self.batches.pop_front();
        }
        self.batches.push_back(meta);
    }
}

/// What `DescribeProducers` reports of one producer of a partition (Kafka's
/// `ProducerState` in `DescribeProducersResponse`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProducerSummary {
    /// The producer id.
    pub producer_id: i64,
    /// Its current epoch.
    pub epoch: i16,
    /// The sequence number of its last record here, or -1.
    pub last_sequence: i32,
    /// The largest timestamp it wrote here, or -1.
    pub last_timestamp: i64,
    /// The first offset of its open transaction here, or -1.
    pub current_txn_start_offset: i64,
}

/// The persisted form of the state as of an offset (Kafka's `.snapshot` files).
#[derive(Debug, Serialize, Deserialize)]
struct Snapshot {
    /// The state covers every batch below this offset.
    offset: i64,
    producers: Vec<(i64, ProducerEntry)>,
    aborted: Vec<AbortedTxn>,
}

/// The result of checking a produce request's batches against the producer state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// The batches are new and in order: append them.
    Append,
    /// A batch was appended before: acknowledge it with its original placement.
    Duplicate(BatchMetadata),
}

fn in_sequence(last: i32, next: i32) -> bool {
    i64::from(next) == i64::from(last) + 1 || (next == 0 && last == i32::MAX)
}

/// The producer state of one partition.
#[derive(Debug, Default)]
pub(crate) struct ProducerStateManager {
    producers: HashMap<i64, ProducerEntry>,
    /// Open transactions by first offset: the smallest bounds the last stable offset.
    ongoing: BTreeMap<i64, i64>,
    /// Aborted transactions, in the order of their markers (so by `last_offset`).
    aborted: Vec<AbortedTxn>,
}

impl ProducerStateManager {
    /// An empty state.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Every producer with state here, by producer id.
    pub(crate) fn summaries(&self) -> Vec<ProducerSummary> {
        let mut summaries: Vec<ProducerSummary> = self
            .producers
            .iter()
            .map(|(&producer_id, entry)| ProducerSummary {
                producer_id,
                epoch: entry.epoch,
                last_sequence: entry.last_seq(),
                last_timestamp: entry.last_timestamp,
                current_txn_start_offset: entry.current_txn_first_offset.unwrap_or(-1),
            })
            .collect();
        summaries.sort_by_key(|s| s.producer_id);
        summaries
    }

    /// Checks batches sent by a client, in order, without changing the state: epochs,
    /// sequences, transactional consistency, and whether a batch is a retry of one of the
    /// producer's last [`NUM_BATCHES_TO_RETAIN`] batches. Like Kafka, a producer the
    /// partition has no state for (new, or forgotten after retention) may start at any
    /// sequence.
    pub(crate) fn check(&self, headers: &[BatchHeader]) -> Result<Check, ProducerError> {
        // Entries as they would be after the earlier batches of this request.
        let mut updated: HashMap<i64, ProducerEntry> = HashMap::new();
        for (i, h) in headers.iter().enumerate() {
            if h.is_control() {
                return Err(ProducerError::ControlBatchFromClient);
            }
            if !h.has_producer_id() {
                continue;
            }
            let pid = h.producer_id;
            let current = updated.get(&pid).or_else(|| self.producers.get(&pid));
            if let Some(entry) = current {
                if let Some(dup) = entry.find_duplicate(h) {
                    return Ok(Check::Duplicate(dup));
                }
                if h.producer_epoch < entry.epoch {
                    return Err(ProducerError::InvalidProducerEpoch {
                        producer_id: pid,
                        epoch: h.producer_epoch,
                        current: entry.epoch,
                    });
                }
                if h.producer_epoch != entry.epoch {
                    if h.base_sequence != 0 {
                        return Err(ProducerError::OutOfOrderSequence {
                            producer_id: pid,
                            epoch: h.producer_epoch,
                            sequence: h.base_sequence,
                            expected: 0,
                        });
                    }
                } else if !in_sequence(entry.last_seq(), h.base_sequence) {
                    return Err(ProducerError::OutOfOrderSequence {
                        producer_id: pid,
                        epoch: h.producer_epoch,
                        sequence: h.base_sequence,
                        expected: entry.last_seq().wrapping_add(1).max(0),
                    });
                }
                let open = entry.current_txn_first_offset.is_some();
                if open && !h.is_transactional() && h.producer_epoch == entry.epoch {
                    return Err(ProducerError::InvalidTxnState {
                        producer_id: pid,
                        reason: "a non-transactional batch while a transaction is open".into(),
                    });
                }
            }
            if i + 1 < headers.len() {
                // Later batches of this request are checked against this one.
                let mut entry = current
                    .cloned()
                    .unwrap_or_else(|| ProducerEntry::new(h.producer_epoch));
                Self::note_data(&mut entry, h);
                updated.insert(pid, entry);
            }
        }
        Ok(Check::Append)
    }

    /// Updates `entry` for a data batch; returns the first offset of a transaction the
    /// batch opens.
    fn note_data(entry: &mut ProducerEntry, h: &BatchHeader) -> Option<i64> {
        entry.set_epoch(h.producer_epoch);
        entry.last_timestamp = entry.last_timestamp.max(h.max_timestamp);
        entry.push(BatchMetadata {
            first_seq: h.base_sequence,
            last_seq: h.last_sequence(),
            first_offset: h.base_offset,
            last_offset: h.last_offset(),
            max_timestamp: h.max_timestamp,
        });
        if h.is_transactional() && entry.current_txn_first_offset.is_none() {
            entry.current_txn_first_offset = Some(h.base_offset);
            return Some(h.base_offset);
        }
        None
    }

    /// Records an appended data batch (its offsets assigned), from a client or replayed
    /// from the log.
    pub(crate) fn apply(&mut self, h: &BatchHeader) {
        if !h.has_producer_id() || h.is_control() {
            return;
        }
        let entry = self
            .producers
            .entry(h.producer_id)
            .or_insert_with(|| ProducerEntry::new(h.producer_epoch));
        if let Some(first) = Self::note_data(entry, h) {
            self.ongoing.insert(first, h.producer_id);
        }
    }

    /// Records an appended transaction marker: the producer's open transaction here (if
    /// any) ends; an aborted one joins the aborted-transaction index.
    pub(crate) fn apply_marker(&mut self, h: &BatchHeader, kind: ControlType) {
        let entry = self
            .producers
            .entry(h.producer_id)
            .or_insert_with(|| ProducerEntry::new(h.producer_epoch));
        entry.set_epoch(h.producer_epoch.max(entry.epoch));
        entry.last_timestamp = entry.last_timestamp.max(h.max_timestamp);
        if let Some(first) = entry.current_txn_first_offset.take() {
            self.ongoing.remove(&first);
            if kind == ControlType::Abort {
                let after = h.base_offset + 1;
                self.aborted.push(AbortedTxn {
                    producer_id: h.producer_id,
                    first_offset: first,
                    last_offset: h.base_offset,
                    last_stable_offset: self
                        .first_unstable_offset()
                        .map_or(after, |o| o.min(after)),
                });
            }
        }
    }

    /// The first offset of the earliest open transaction, if any: the last stable offset
    /// cannot pass it.
    pub(crate) fn first_unstable_offset(&self) -> Option<i64> {
        self.ongoing.keys().next().copied()
    }

    /// True if `producer_id` has a transaction open in this partition.
    #[cfg(test)]
    pub fn has_open_transaction(&self, producer_id: i64) -> bool {
        self.producers
            .get(&producer_id)
            .is_some_and(|e| e.current_txn_first_offset.is_some())
    }

    /// The producer's current epoch on this partition, if it wrote here.
    #[cfg(test)]
    pub fn epoch_of(&self, producer_id: i64) -> Option<i16> {
        self.producers.get(&producer_id).map(|e| e.epoch)
    }

    /// Aborted transactions that overlap `[from, to)`: those a `read_committed` consumer
    /// reading that range must skip (Kafka's `collectAbortedTxns`).
    /// Only the entries that can overlap are visited: the search stops at the first abort
    /// after which nothing that began below `to` was still open.
    pub(crate) fn aborted_between(&self, from: i64, to: i64) -> Vec<AbortedTxn> {
        let start = self.aborted.partition_point(|a| a.last_offset < from);
        let mut found = Vec::new();
        for a in &self.aborted[start..] {
            if a.first_offset < to {
                found.push(*a);
            }
            if a.last_stable_offset >= to {
                break;
            }
        }
        found
    }

    /// The state as a snapshot taken at `offset` (every batch below it applied).
    pub(crate) fn to_snapshot(&self, offset: i64) -> Vec<u8> {
        let mut producers: Vec<(i64, ProducerEntry)> = self
            .producers
            .iter()
            .map(|(pid, e)| (*pid, e.clone()))
            .collect();
        producers.sort_by_key(|(pid, _)| *pid);
        let snapshot = Snapshot {
            offset,
            producers,
            aborted: self.aborted.clone(),
        };
        // Plain data with string-free keys: serialising it cannot fail.
        serde_json::to_vec(&snapshot).unwrap_or_default()
    }

    /// Reads a snapshot back: the offset it was taken at and the state, or `None` if the
    /// bytes are not a snapshot (a torn or foreign file).
    pub(crate) fn from_snapshot(bytes: &[u8]) -> Option<(i64, ProducerStateManager)> {
        let snapshot: Snapshot = serde_json::from_slice(bytes).ok()?;
        let mut state = ProducerStateManager::new();
        for (pid, entry) in snapshot.producers {
            if let Some(first) = entry.current_txn_first_offset {
                state.ongoing.insert(first, pid);
            }
            state.producers.insert(pid, entry);
        }
        state.aborted = snapshot.aborted;
        Some((snapshot.offset, state))
    }

    /// Forgets producers whose last write is older than `expiration_ms` before `now` and
    /// that have no open transaction (Kafka's `producer.id.expiration.ms`); a retry from
    /// one of them is then treated as a new producer's write. Returns how many went.
    pub(crate) fn expire_producers(&mut self, now: i64, expiration_ms: i64) -> usize {
        let before = self.producers.len();
        self.producers.retain(|_, e| {
            e.current_txn_first_offset.is_some()
                || now.saturating_sub(e.last_timestamp) < expiration_ms
        });
        before - self.producers.len()
    }

    /// Forgets aborted transactions that ended before `log_start_offset` (retention
    /// deleted them).
    pub(crate) fn truncate_before(&mut self, log_start_offset: i64) {
        let keep = self
            .aborted
            .partition_point(|a| a.last_offset < log_start_offset);
        self.aborted.drain(..keep);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::batch::tests::make_producer_batch;
    use crate::log::batch::{control_batch, BatchHeader};

    /// The header of a batch of `n` records from `pid`/`epoch` starting at `seq`, placed at
    /// `offset`.
    fn header(pid: i64, epoch: i16, seq: i32, n: usize, offset: i64, txn: bool) -> BatchHeader {
        let ts: Vec<i64> = (0..n as i64).collect();
        let mut h = BatchHeader::parse(&make_producer_batch(&ts, pid, epoch, seq, txn)).unwrap();
        h.base_offset = offset;
        h
    }

    fn marker(pid: i64, epoch: i16, offset: i64, kind: ControlType) -> BatchHeader {
        let mut h = BatchHeader::parse(&control_batch(pid, epoch, kind, 0, 0)).unwrap();
        h.base_offset = offset;
        h
    }

    /// Checks and, if new, applies a batch; returns the check.
    fn produce(s: &mut ProducerStateManager, h: BatchHeader) -> Result<Check, ProducerError> {
        let c = s.check(&[h])?;
        if c == Check::Append {
            s.apply(&h);
        }
        Ok(c)
    }

    #[test]
    fn retries_of_the_last_five_batches_are_duplicates() {
        let mut s = ProducerStateManager::new();
        for i in 0..6 {
            let h = header(1, 0, i * 2, 2, i64::from(i) * 2, false);
            assert_eq!(produce(&mut s, h), Ok(Check::Append));
        }
        // Batches 1..=5 are remembered, with their original offsets.
        for i in 1..6 {
            let retry = header(1, 0, i * 2, 2, 999, false);
            match s.check(&[retry]) {
                Ok(Check::Duplicate(m)) => {
                    assert_eq!(
                        (m.first_offset, m.last_offset),
                        (i64::from(i) * 2, i64::from(i) * 2 + 1)
                    )
                }
                other => panic!("batch {i}: {other:?}"),
            }
        }
        // The oldest fell out of the window: it is now simply out of order.
        assert!(matches!(
            s.check(&[header(1, 0, 0, 2, 999, false)]),
            Err(ProducerError::OutOfOrderSequence { expected: 12, .. })
        ));
    }

    #[test]
    fn gaps_are_out_of_order_and_unknown_producers_start_anywhere() {
        let mut s = ProducerStateManager::new();
        assert_eq!(
            produce(&mut s, header(1, 0, 40, 1, 0, false)),
            Ok(Check::Append)
        );
        assert!(matches!(
            s.check(&[header(1, 0, 42, 1, 1, false)]),
            Err(ProducerError::OutOfOrderSequence {
                sequence: 42,
                expected: 41,
                ..
            })
        ));
        assert_eq!(
            produce(&mut s, header(1, 0, 41, 1, 1, false)),
            Ok(Check::Append)
        );
        // Within one request, later batches are checked against the earlier ones.
        let a = header(1, 0, 42, 1, 2, false);
        let b = header(1, 0, 44, 1, 3, false);
        assert!(s.check(&[a, b]).is_err());
        let b = header(1, 0, 43, 1, 3, false);
        assert_eq!(s.check(&[a, b]), Ok(Check::Append));
    }

    #[test]
    fn stale_epochs_are_fenced_and_a_new_epoch_starts_at_zero() {
        let mut s = ProducerStateManager::new();
        produce(&mut s, header(5, 3, 0, 1, 0, false)).unwrap();
        assert!(matches!(
            s.check(&[header(5, 2, 1, 1, 1, false)]),
            Err(ProducerError::InvalidProducerEpoch {
                epoch: 2,
                current: 3,
                ..
            })
        ));
        assert!(matches!(
            s.check(&[header(5, 4, 7, 1, 1, false)]),
            Err(ProducerError::OutOfOrderSequence { expected: 0, .. })
        ));
        assert_eq!(
            produce(&mut s, header(5, 4, 0, 1, 1, false)),
            Ok(Check::Append)
        );
        assert_eq!(s.epoch_of(5), Some(4));
        // The old epoch's batches are no longer recognised as duplicates: fenced instead.
        assert!(matches!(
            s.check(&[header(5, 3, 0, 1, 9, false)]),
            Err(ProducerError::InvalidProducerEpoch { .. })
        ));
    }

    #[test]
    fn transactions_bound_the_stable_offset_and_aborts_are_indexed() {
        let mut s = ProducerStateManager::new();
        produce(&mut s, header(1, 0, 0, 2, 0, true)).unwrap();
        produce(&mut s, header(2, 0, 0, 1, 2, true)).unwrap();
        produce(&mut s, header(1, 0, 2, 1, 3, true)).unwrap();
        assert_eq!(s.first_unstable_offset(), Some(0));
        assert!(s.has_open_transaction(1));
        // A non-transactional write while the transaction is open is refused.
        assert!(matches!(
            s.check(&[header(1, 0, 3, 1, 4, false)]),
            Err(ProducerError::InvalidTxnState { .. })
        ));
        s.apply_marker(&marker(1, 0, 4, ControlType::Abort), ControlType::Abort);
        assert_eq!(
            s.first_unstable_offset(),
            Some(2),
            "producer 2 is still open"
        );
        s.apply_marker(&marker(2, 0, 5, ControlType::Commit), ControlType::Commit);
        assert_eq!(s.first_unstable_offset(), None);
        let aborted = AbortedTxn {
            producer_id: 1,
            first_offset: 0,
            last_offset: 4,
            last_stable_offset: 2,
        };
        assert_eq!(s.aborted_between(0, 6), vec![aborted]);
        assert_eq!(s.aborted_between(4, 6), vec![aborted]);
        assert!(s.aborted_between(5, 9).is_empty());
        // The next transaction continues the sequence.
        assert_eq!(
            produce(&mut s, header(1, 0, 3, 1, 6, true)),
            Ok(Check::Append)
        );
        assert_eq!(s.first_unstable_offset(), Some(6));
        s.truncate_before(5);
        assert!(s.aborted_between(0, 10).is_empty());
        // Clients may not write markers.
        assert_eq!(
            s.check(&[marker(1, 0, 7, ControlType::Commit)]),
            Err(ProducerError::ControlBatchFromClient)
        );
    }

    #[test]
    fn idle_producers_expire_unless_a_transaction_is_open() {
        let mut s = ProducerStateManager::new();
        let idle = header(1, 0, 0, 1, 0, false); // timestamps 0..n
        produce(&mut s, idle).unwrap();
        produce(&mut s, header(2, 0, 0, 1, 1, true)).unwrap();
        let mut recent = header(3, 0, 0, 1, 2, false);
        recent.max_timestamp = 10_000;
        produce(&mut s, recent).unwrap();
        assert_eq!(
            s.expire_producers(10_500, 1_000),
            1,
            "only the idle producer"
        );
        assert_eq!(s.epoch_of(1), None);
        assert!(s.has_open_transaction(2));
        assert_eq!(s.epoch_of(3), Some(0));
        // A forgotten producer's retry is accepted as a new producer's first write.
        assert_eq!(s.check(&[idle]), Ok(Check::Append));
    }

    #[test]
    fn snapshots_round_trip() {
        let mut s = ProducerStateManager::new();
        produce(&mut s, header(1, 0, 0, 2, 0, true)).unwrap();
        s.apply_marker(&marker(1, 0, 2, ControlType::Abort), ControlType::Abort);
        produce(&mut s, header(2, 3, 7, 1, 3, true)).unwrap();
        produce(&mut s, header(4, 0, 0, 1, 4, false)).unwrap();
        let bytes = s.to_snapshot(5);
        let (offset, t) = ProducerStateManager::from_snapshot(&bytes).unwrap();
        assert_eq!(offset, 5);
        assert_eq!(t.first_unstable_offset(), Some(3));
        assert_eq!(t.aborted_between(0, 9), s.aborted_between(0, 9));
        assert!(matches!(
            t.check(&[header(4, 0, 0, 1, 9, false)]),
            Ok(Check::Duplicate(BatchMetadata {
                first_offset: 4,
                ..
            }))
        ));
        assert!(
            t.check(&[header(2, 2, 8, 1, 9, true)]).is_err(),
            "epoch 3 kept"
        );
        assert!(ProducerStateManager::from_snapshot(&bytes[..bytes.len() / 2]).is_none());
    }

    #[test]
    fn the_aborted_index_search_stops_only_when_nothing_older_can_be_open() {
        let mut s = ProducerStateManager::new();
        // Producer 1's long transaction spans producer 2's short aborted one.
        produce(&mut s, header(1, 0, 0, 1, 0, true)).unwrap();
        produce(&mut s, header(2, 0, 0, 1, 1, true)).unwrap();
        s.apply_marker(&marker(2, 0, 2, ControlType::Abort), ControlType::Abort);
        produce(&mut s, header(3, 0, 0, 1, 3, true)).unwrap();
        s.apply_marker(&marker(3, 0, 4, ControlType::Abort), ControlType::Abort);
        s.apply_marker(&marker(1, 0, 5, ControlType::Abort), ControlType::Abort);
        let pids = |v: Vec<AbortedTxn>| v.iter().map(|a| a.producer_id).collect::<Vec<_>>();
        // Offsets [0, 1) hold only producer 1's first batch: its abort comes last in the
        // index, after two entries that do not overlap, and is still found.
        assert_eq!(pids(s.aborted_between(0, 1)), [1]);
        assert_eq!(pids(s.aborted_between(0, 2)), [2, 1]);
        assert_eq!(pids(s.aborted_between(3, 4)), [3, 1]);
        assert_eq!(pids(s.aborted_between(5, 6)), [1]);
        // After producer 1's abort nothing older is open: later entries are not needed.
        produce(&mut s, header(4, 0, 0, 1, 6, true)).unwrap();
        s.apply_marker(&marker(4, 0, 7, ControlType::Abort), ControlType::Abort);
        assert_eq!(pids(s.aborted_between(0, 6)), [2, 3, 1]);
    }

    #[test]
    fn a_fencing_marker_bumps_the_epoch() {
        let mut s = ProducerStateManager::new();
        produce(&mut s, header(1, 0, 0, 1, 0, true)).unwrap();
        s.apply_marker(&marker(1, 1, 1, ControlType::Abort), ControlType::Abort);
        assert!(matches!(
            s.check(&[header(1, 0, 1, 1, 2, true)]),
            Err(ProducerError::InvalidProducerEpoch { current: 1, .. })
        ));
        assert_eq!(
            produce(&mut s, header(1, 1, 0, 1, 2, true)),
            Ok(Check::Append)
        );
    }
}
