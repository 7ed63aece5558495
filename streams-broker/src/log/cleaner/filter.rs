//! The cleaner's decision for each batch: keep it, drop it, or rewrite it smaller.
//!
//! A record stays if it is its key's latest (per the offset map) and, for a tombstone,
//! its delete horizon has not passed; records without a key and records of aborted
//! transactions go. A batch left empty is dropped, unless it is its producer's last, which
//! stays empty to keep the producer's sequence and epoch. Transaction markers stay while
//! their data does, then for `delete.retention.ms`. Kafka's `Cleaner.cleanInto` and
//! `shouldRetainRecord` make the same decisions.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;

use super::txn_scan::{TxnScan, CONTROL_ABORT, CONTROL_COMMIT};
use super::CleanStats;
use crate::error::{Error, Result};
use crate::log::batch::{BatchHeader, CONTROL_FLAG, DELETE_HORIZON_FLAG, TRANSACTIONAL_FLAG};
use crate::log::records::{control_record_type, parse_records, records, records_section, rewrite};

/// What becomes of one batch.
pub(super) enum Verdict {
    /// Kept as it is.
    Keep,
    /// Removed entirely.
    Drop,
    /// Replaced by this rewritten batch (same offsets, fewer records or a delete horizon).
    Replace(Vec<u8>),
}

/// The decisions of one pass, batch by batch, in offset order.
pub(super) struct Filter<'a> {
    pub(super) map: &'a HashMap<Bytes, i64>,
    pub(super) txns: &'a TxnScan,
    /// Producers with a transactional batch read since their last marker in this pass: the
    /// marker that follows must stay.
    pub(super) txn_data_seen: HashSet<i64>,
    /// The wall-clock time of the pass.
    pub(super) now: i64,
    /// `delete.retention.ms`.
    pub(super) delete_retention_ms: i64,
    /// The earliest delete horizon among the batches kept.
    pub(super) next_horizon: Option<i64>,
}

impl Filter<'_> {
    fn note_horizon(&mut self, t: i64) {
        self.next_horizon = Some(self.next_horizon.map_or(t, |n| n.min(t)));
    }

    fn new_horizon(&self) -> i64 {
        self.now.saturating_add(self.delete_retention_ms)
    }

    fn emptied(&self, batch: &[u8], h: &BatchHeader, pos: u64) -> Result<Verdict> {
        if self.txns.is_last_of_producer(h) {
            rewrite(batch, h, &[], h.base_timestamp, h.attributes, pos).map(Verdict::Replace)
        } else {
            Ok(Verdict::Drop)
        }
    }

    pub(super) fn apply(
        &mut self,
        pos: u64,
        h: &BatchHeader,
        batch: &[u8],
        stats: &mut CleanStats,
    ) -> Result<Verdict> {
        let count = u64::try_from(h.records_count).unwrap_or(0);
        stats.records_read += count;
        let horizon = (h.attributes & DELETE_HORIZON_FLAG != 0).then_some(h.base_timestamp);
        if h.attributes & CONTROL_FLAG != 0 {
            return self.apply_control(pos, h, batch, horizon, stats);
        }
        if h.producer_id >= 0 && h.attributes & TRANSACTIONAL_FLAG != 0 {
            self.txn_data_seen.insert(h.producer_id);
        }
        if self.txns.is_aborted(h) {
            stats.records_removed += count;
            return self.emptied(batch, h, pos);
        }
        let section = records_section(batch, h, pos)?;
        // Only the records kept are held: a batch of many small records costs its section.
        let mut kept = Vec::new();
        let mut total = 0usize;
        let mut tombstones = false;
        for r in records(&section, h.records_count) {
            let r = r.ok_or_else(|| Error::corrupt_batch(pos, "malformed records"))?;
            total += 1;
            let offset = h.base_offset + r.offset_delta;
            let keep = match r.key {
                // A record without a key has no place in a compacted log (Kafka counts it
                // as invalid and drops it).
                None => false,
                Some(key) => {
                    let latest = self.map.get(key).is_none_or(|&o| offset >= o);
                    let live = r.value.is_some() || horizon.is_none_or(|t| self.now < t);
                    if latest && !live {
                        stats.tombstones_removed += 1;
                    }
                    latest && live
                }
            };
            if keep {
                tombstones |= r.value.is_none();
                kept.push(r);
            } else {
                stats.records_removed += 1;
            }
        }
        let set_horizon = tombstones && horizon.is_none();
        if tombstones {
            let t = horizon.unwrap_or_else(|| self.new_horizon());
            self.note_horizon(t);
        }
        if kept.len() == total && !set_horizon {
            return Ok(Verdict::Keep);
        }
        if kept.is_empty() {
            return self.emptied(batch, h, pos);
        }
        let (base_timestamp, attributes) = if set_horizon {
            (self.new_horizon(), h.attributes | DELETE_HORIZON_FLAG)
        } else {
            (h.base_timestamp, h.attributes)
        };
        rewrite(batch, h, &kept, base_timestamp, attributes, pos).map(Verdict::Replace)
    }

    /// A commit or abort marker stays while a batch of its transaction remains; once none
    /// does, it gets a delete horizon, and goes when that has passed.
    fn apply_control(
        &mut self,
        pos: u64,
        h: &BatchHeader,
        batch: &[u8],
        horizon: Option<i64>,
        stats: &mut CleanStats,
    ) -> Result<Verdict> {
        let kind = control_record_type(batch, h, pos)?;
        if h.producer_id < 0 || !matches!(kind, Some(CONTROL_ABORT | CONTROL_COMMIT)) {
            return Ok(Verdict::Keep);
        }
        if self.txn_data_seen.remove(&h.producer_id) {
            return Ok(Verdict::Keep);
        }
        match horizon {
            None => {
                let t = self.new_horizon();
                self.note_horizon(t);
                let section = records_section(batch, h, pos)?;
                let records = parse_records(&section, h.records_count)
                    .ok_or_else(|| Error::corrupt_batch(pos, "malformed control record"))?;
                rewrite(
                    batch,
                    h,
                    &records,
                    t,
                    h.attributes | DELETE_HORIZON_FLAG,
                    pos,
                )
                .map(Verdict::Replace)
            }
            Some(t) if self.now >= t => {
                stats.records_removed += u64::try_from(h.records_count).unwrap_or(0);
                self.emptied(batch, h, pos)
            }
            Some(t) => {
                self.note_horizon(t);
                Ok(Verdict::Keep)
            }
        }
    }
}
