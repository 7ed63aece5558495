//! The cleaner's progress on one log: where its dirty section starts, persisted.
//!
//! Kafka's `LogCleanerManager` keeps, per log, the offset up to which the log was cleaned
//! in a `cleaner-offset-checkpoint` file, and decides from it which logs are dirty enough
//! to clean. Here each partition directory has its own checkpoint, and the in-memory
//! progress also remembers the earliest delete horizon and whether the last pass could
//! have done more, so that the background cleaner does not repeat a pass in vain.

use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::error::Result;
use crate::fs::write_atomic;

/// Per-partition file holding the first dirty offset (Kafka keeps one such checkpoint per
/// log directory; one per partition is simpler and as durable).
const CHECKPOINT_FILE: &str = "cleaner-offset-checkpoint";

/// The cleaner's per-partition state. Its lock is held for a whole pass, so one partition
/// is cleaned by one thread at a time; the log's own lock is taken only briefly.
#[derive(Debug)]
pub(crate) struct CleanerState {
    progress: Mutex<Progress>,
    /// A copy of `Progress::first_dirty`, readable while a pass runs.
    first_dirty: AtomicI64,
}

#[derive(Debug, Clone, Copy)]
/// Where the cleaner stands on one log.
pub(super) struct Progress {
    /// Records from this offset on were appended since the last pass (Kafka's cleaner
    /// checkpoint), persisted in [`CHECKPOINT_FILE`].
    pub(super) first_dirty: i64,
    /// The earliest delete horizon among the batches the last pass kept: the time at which
    /// a tombstone or marker becomes removable. Not persisted, as in Kafka.
    pub(super) next_horizon: Option<i64>,
    /// The log end offset when the last pass started, if that pass cleaned all it could:
    /// while nothing is appended, another pass could only do the same again (an open
    /// transaction can hold it back).
    pub(super) end_at_last_pass: Option<i64>,
}

impl CleanerState {
    /// Loads the checkpoint of the log in `dir` (none means the whole log is dirty).
    pub(crate) fn load(dir: &Path) -> CleanerState {
        let first_dirty = std::fs::read_to_string(dir.join(CHECKPOINT_FILE))
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .unwrap_or(0);
        CleanerState {
            first_dirty: AtomicI64::new(first_dirty),
            progress: Mutex::new(Progress {
                first_dirty,
                next_horizon: None,
                end_at_last_pass: None,
            }),
        }
    }

    /// The progress, waiting for a pass in progress to finish.
    pub(super) fn lock(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The progress, unless a pass is in progress.
    pub(super) fn try_lock(&self) -> Option<Progress> {
        self.progress.try_lock().ok().map(|p| *p)
    }

    /// Records from this offset on were appended since the last pass. Does not wait for a
    /// pass in progress.
    pub(super) fn first_dirty(&self) -> i64 {
        self.first_dirty.load(Ordering::Relaxed)
    }

    /// Moves the checkpoint of the log in `dir` forward to `end`, durably.
    pub(super) fn advance(&self, progress: &mut Progress, dir: &Path, end: i64) -> Result<()> {
        let path = dir.join(CHECKPOINT_FILE);
        write_atomic(&path, format!("{end}\n").as_bytes())?;
        progress.first_dirty = end;
        self.first_dirty.store(end, Ordering::Relaxed);
        Ok(())
    }
}
