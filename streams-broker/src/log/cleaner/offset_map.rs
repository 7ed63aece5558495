//! The offset map: for every key in the dirty section, the offset of its latest record.
//!
//! One pass builds it over the dirty section (records appended since the previous pass),
//! then keeps a record of the cleaned part only if no later record has its key. Its memory
//! is bounded by `log.cleaner.dedupe.buffer.size`: when full, the map covers the dirty
//! section up to a segment boundary and the rest waits for the next pass. Kafka's
//! `OffsetMap` (`SkimpyOffsetMap`) stores key hashes in a fixed array; this one stores the
//! keys, charged at their length plus a fixed overhead.

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;

use bytes::Bytes;

use super::reader::{BatchReader, SegmentView};
use super::txn_scan::TxnScan;
use crate::error::{Error, Result};
use crate::log::batch::CONTROL_FLAG;
use crate::log::records::{records, records_section};

/// Memory charged per offset-map entry on top of the key itself.
const MAP_ENTRY_OVERHEAD: usize = 48;

/// The key → latest offset map of the dirty section, and the offset it covers up to (a
/// segment boundary). Records of aborted transactions and markers are not mapped.
pub(super) fn build_offset_map(
    dirty: &[&SegmentView],
    first_dirty: i64,
    txns: &TxnScan,
    budget: usize,
    cancel: &AtomicBool,
) -> Result<(HashMap<Bytes, i64>, i64)> {
    let mut map: HashMap<Bytes, i64> = HashMap::new();
    let mut used = 0usize;
    let mut end = first_dirty;
    for view in dirty {
        let mut reader = BatchReader::new(view, cancel);
        while let Some((pos, h, bytes)) = reader.next()? {
            if h.last_offset() < first_dirty
                || h.attributes & CONTROL_FLAG != 0
                || txns.is_aborted(&h)
            {
                continue;
            }
            let section = records_section(&bytes, &h, pos)?;
            for r in records(&section, h.records_count) {
                let r = r.ok_or_else(|| Error::corrupt_batch(pos, "malformed records"))?;
                let offset = h.base_offset + r.offset_delta;
                let Some(key) = r.key else { continue };
                if offset < first_dirty {
                    continue;
                }
                match map.get_mut(key) {
                    Some(latest) => *latest = offset,
                    None => {
                        used += key.len() + MAP_ENTRY_OVERHEAD;
                        map.insert(Bytes::copy_from_slice(key), offset);
                    }
                }
            }
        }
        end = view.end;
        if used >= budget {
            tracing::debug!(
                segment = %view.path.display(),
                keys = map.len(),
                "offset map full: the rest of the dirty section waits for the next pass"
            );
            break;
        }
    }
    Ok((map, end))
}
