//! Durable transaction coordinator state: a journal of transactional-id records and the
//! producer-id block.
//!
//! Kafka keeps coordinator state in the compacted internal topic `__transaction_state`
//! and hands out producer ids in blocks from the controller. Here both live in
//! `<data-dir>/__transaction_state/`: `transactions.log` is an append-only journal of JSON
//! lines, one full [`TxnMetadata`] per change, the last line per transactional id winning
//! (compacted at start-up and when it grows, like a compacted topic); `producer-id-block`
//! holds the end of the block of producer ids handed out, so ids are never reused after a
//! restart, even a crash. The journal is forced to disk on the broker's flush policy.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::TxnMetadata;
use crate::config::FlushPolicy;
use crate::error::{Error, Result};
use crate::fs::write_atomic;

const DIR: &str = "__transaction_state";
const JOURNAL: &str = "transactions.log";
const PID_BLOCK: &str = "producer-id-block";
/// Producer ids reserved per write of the block file (Kafka's `PRODUCER_ID_BLOCK_SIZE`).
const PID_BLOCK_SIZE: i64 = 1000;

/// The coordinator's files.
#[derive(Debug)]
pub(super) struct TxnStore {
    dir: PathBuf,
    journal: File,
    flush: FlushPolicy,
    /// Journal lines written since the last compaction.
    lines: usize,
    dirty: bool,
    next_producer_id: i64,
    block_end: i64,
}

fn corrupt(path: &Path, reason: impl Into<String>) -> Error {
    Error::TransactionState {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

impl TxnStore {
    /// Opens the store under `data_dir`, returning it with the transactions it holds.
    pub(super) fn open(
        data_dir: &Path,
        flush: FlushPolicy,
    ) -> Result<(TxnStore, Vec<TxnMetadata>)> {
        let dir = data_dir.join(DIR);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let path = dir.join(JOURNAL);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Error::io(&path, e)),
        };
        let mut latest: HashMap<String, TxnMetadata> = HashMap::new();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        for (i, line) in lines.iter().enumerate() {
            match serde_json::from_str::<TxnMetadata>(line) {
                Ok(m) => {
                    latest.insert(m.transactional_id.clone(), m);
                }
                // A crash can tear the last line; anything else is corruption.
                Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => {
                    tracing::warn!(journal = %path.display(), "ignoring a torn last record");
                }
                Err(e) => return Err(corrupt(&path, format!("line {}: {e}", i + 1))),
            }
        }
        let pid_path = dir.join(PID_BLOCK);
        let block_end = match std::fs::read_to_string(&pid_path) {
            Ok(t) => t
                .trim()
                .parse::<i64>()
                .map_err(|_| corrupt(&pid_path, "not a number"))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(Error::io(&pid_path, e)),
        };
        // Never hand out an id at or below one already in use.
        let max_used = latest.values().map(|m| m.producer_id).max().unwrap_or(-1);
        let next = block_end.max(max_used + 1);
        let mut txns: Vec<TxnMetadata> = latest.into_values().collect();
        txns.sort_by(|a, b| a.transactional_id.cmp(&b.transactional_id));
        let journal = Self::rewrite(&dir, &txns)?;
        let store = TxnStore {
            dir,
            journal,
            flush,
            lines: txns.len(),
            dirty: false,
            next_producer_id: next,
            block_end: next,
        };
        Ok((store, txns))
    }

    /// Atomically replaces the journal with one line per transaction; returns it opened
    /// for appending.
    fn rewrite(dir: &Path, txns: &[TxnMetadata]) -> Result<File> {
        let path = dir.join(JOURNAL);
        let mut text = String::new();
        for m in txns {
            let line = serde_json::to_string(m).map_err(|e| corrupt(&path, e.to_string()))?;
            text.push_str(&line);
            text.push('\n');
        }
        write_atomic(&path, text.as_bytes())?;
        OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))
    }

    /// A producer id never handed out before, persisting a new block when one runs out.
    pub(super) fn allocate_producer_id(&mut self) -> Result<i64> {
        if self.next_producer_id >= self.block_end {
            let end = self.next_producer_id + PID_BLOCK_SIZE;
            write_atomic(&self.dir.join(PID_BLOCK), end.to_string().as_bytes())?;
            self.block_end = end;
        }
        let id = self.next_producer_id;
        self.next_producer_id += 1;
        Ok(id)
    }

    /// Appends the new state of one transaction.
    pub(super) fn write(&mut self, m: &TxnMetadata) -> Result<()> {
        let path = self.dir.join(JOURNAL);
        let mut line = serde_json::to_string(m).map_err(|e| corrupt(&path, e.to_string()))?;
        line.push('\n');
        self.journal
            .write_all(line.as_bytes())
            .map_err(|e| Error::io(&path, e))?;
        self.lines += 1;
        if self.flush == FlushPolicy::EveryBatch {
            self.journal.sync_data().map_err(|e| Error::io(&path, e))?;
        } else {
            self.dirty = true;
        }
        Ok(())
    }

    /// True when the journal has grown well past one line per live transaction.
    pub(super) fn needs_compaction(&self, live: usize) -> bool {
        self.lines > 10_000 && self.lines > 4 * live
    }

    /// Rewrites the journal with one line per live transaction.
    pub(super) fn compact(&mut self, live: &[TxnMetadata]) -> Result<()> {
        self.journal = Self::rewrite(&self.dir, live)?;
        self.lines = live.len();
        self.dirty = false;
        Ok(())
    }

    /// Forces the journal to disk if it changed (the broker's periodic flush).
    pub(super) fn sync(&mut self) -> Result<()> {
        if self.dirty {
            self.journal
                .sync_data()
                .map_err(|e| Error::io(self.dir.join(JOURNAL), e))?;
            self.dirty = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn::TxnState;
    use std::collections::{BTreeMap, BTreeSet};

    fn txn(id: &str, pid: i64, epoch: i16) -> TxnMetadata {
        TxnMetadata {
            transactional_id: id.into(),
            producer_id: pid,
            producer_epoch: epoch,
            timeout_ms: 60_000,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            pending_offsets: BTreeMap::new(),
            txn_start_ms: -1,
        }
    }

    #[test]
    fn the_last_record_per_id_wins_and_a_torn_tail_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, txns) = TxnStore::open(dir.path(), FlushPolicy::Never).unwrap();
        assert!(txns.is_empty());
        assert_eq!(store.allocate_producer_id().unwrap(), 0);
        store.write(&txn("a", 0, 0)).unwrap();
        store.write(&txn("b", 5, 0)).unwrap();
        store.write(&txn("a", 0, 3)).unwrap();
        drop(store);
        let journal = dir.path().join(DIR).join(JOURNAL);
        let mut f = OpenOptions::new().append(true).open(&journal).unwrap();
        f.write_all(b"{\"transactional_id\":\"a\",\"produc")
            .unwrap();
        drop(f);
        let (mut store, txns) = TxnStore::open(dir.path(), FlushPolicy::Never).unwrap();
        assert_eq!(txns, vec![txn("a", 0, 3), txn("b", 5, 0)]);
        assert!(
            store.allocate_producer_id().unwrap() > 5,
            "ids above every id in use, and above the persisted block"
        );
        // Compacted at open: one line per transactional id.
        let text = std::fs::read_to_string(&journal).unwrap();
        assert_eq!(text.lines().count(), 2);
        // Corruption before the last line is an error, not silently dropped state.
        std::fs::write(&journal, format!("garbage\n{text}")).unwrap();
        assert!(matches!(
            TxnStore::open(dir.path(), FlushPolicy::Never),
            Err(Error::TransactionState { .. })
        ));
    }

    #[test]
    fn compaction_keeps_one_line_per_live_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = TxnStore::open(dir.path(), FlushPolicy::Never).unwrap();
        let live = vec![txn("a", 0, 0)];
        for epoch in 0..10_001 {
            store.write(&txn("a", 0, (epoch % 100) as i16)).unwrap();
        }
        assert!(store.needs_compaction(live.len()));
        store.compact(&live).unwrap();
        assert!(!store.needs_compaction(live.len()));
        drop(store);
        let (_, txns) = TxnStore::open(dir.path(), FlushPolicy::Never).unwrap();
        assert_eq!(txns, live);
    }
}
