//! What the cleaner must know about transactions and producers, read from batch headers.
//!
//! Records of aborted transactions are removed and never count as a key's latest value;
//! nothing from the first open transaction on may be cleaned; a producer's last batch
//! stays so that its sequence numbers and epoch survive. Kafka's cleaner learns this from
//! the transaction index and the producer state (`CleanedTransactionMetadata`); this one
//! scans the batch headers (and markers' control records) of the whole log once per pass.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;

use super::reader::{BatchReader, SegmentView};
use crate::error::Result;
use crate::log::batch::{BatchHeader, CONTROL_FLAG, TRANSACTIONAL_FLAG};
use crate::log::records::control_record_type;

/// Control record types (the second field of a control record's key).
/// An abort marker.
pub(super) const CONTROL_ABORT: i16 = 0;
/// A commit marker.
pub(super) const CONTROL_COMMIT: i16 = 1;

/// What the whole log says about producers and transactions (Kafka gets this from its
/// producer state and transaction index; the cleaner reads it from the batch headers).
#[derive(Debug, Default)]
pub(super) struct TxnScan {
    /// Per producer, the aborted transactions as `(first offset, marker offset)`, in order.
    aborted: HashMap<i64, Vec<(i64, i64)>>,
    /// Per producer, the first offset of its transaction still open.
    open: HashMap<i64, i64>,
    /// Per producer, the last offset of its last data batch.
    last_data: HashMap<i64, i64>,
    /// Per producer, the offset of its last marker, if that is its latest batch.
    last_marker: HashMap<i64, i64>,
}

impl TxnScan {
    pub(super) fn build(segments: &[&SegmentView], cancel: &AtomicBool) -> Result<TxnScan> {
        let mut scan = TxnScan::default();
        for view in segments {
            let mut reader = BatchReader::new(view, cancel);
            while let Some((pos, h, bytes)) = reader.next()? {
                let pid = h.producer_id;
                if pid < 0 {
                    continue;
                }
                if h.attributes & CONTROL_FLAG != 0 {
                    let kind = control_record_type(&bytes, &h, pos)?;
                    if matches!(kind, Some(CONTROL_ABORT | CONTROL_COMMIT)) {
                        if let Some(first) = scan.open.remove(&pid) {
                            if kind == Some(CONTROL_ABORT) {
                                scan.aborted
                                    .entry(pid)
                                    .or_default()
                                    .push((first, h.last_offset()));
                            }
                        }
                    }
                    scan.last_marker.insert(pid, h.last_offset());
                } else {
                    scan.last_data.insert(pid, h.last_offset());
                    scan.last_marker.remove(&pid);
                    if h.attributes & TRANSACTIONAL_FLAG != 0 {
                        scan.open.entry(pid).or_insert(h.base_offset);
                    }
                }
            }
        }
        Ok(scan)
    }

    /// The first offset of the oldest transaction still open: nothing from there on may be
    /// cleaned, since its outcome is unknown.
    pub(super) fn first_unstable(&self) -> Option<i64> {
        self.open.values().min().copied()
    }

    /// Whether a data batch belongs to an aborted transaction.
    pub(super) fn is_aborted(&self, h: &BatchHeader) -> bool {
        if h.attributes & TRANSACTIONAL_FLAG == 0 || h.attributes & CONTROL_FLAG != 0 {
            return false;
        }
        self.aborted.get(&h.producer_id).is_some_and(|ranges| {
            let i = ranges.partition_point(|&(_, marker)| marker < h.base_offset);
            ranges
                .get(i)
                .is_some_and(|&(first, _)| first <= h.base_offset)
        })
    }

    /// Whether the batch is its producer's latest data batch or latest marker: kept, if
    /// need be empty, so that the producer's sequence numbers and epoch survive.
    pub(super) fn is_last_of_producer(&self, h: &BatchHeader) -> bool {
        if h.producer_id < 0 {
            return false;
        }
        let last = if h.attributes & CONTROL_FLAG != 0 {
            &self.last_marker
        } else {
            &self.last_data
        };
        last.get(&h.producer_id) == Some(&h.last_offset())
    }
}
