//! Small file-system operations the broker's durable state is built from.
//!
//! Metadata files (topic definitions, cleaner checkpoints, producer-state snapshots, the
//! transaction journal's blocks) are replaced whole and atomically: written to a temporary
//! file, synced, renamed over the old one, and the directory synced, so that a crash leaves
//! either the old or the new version, never a torn one. Kafka does the same with its
//! checkpoint files (`CheckpointFile`, `Utils.atomicMoveWithFallback`). This module depends
//! on nothing else in the broker, so every other module can use it.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Writes `data` to `path` atomically: a temporary file, fsync, rename.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(data)
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    if let Some(dir) = path.parent() {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Removes a directory and its contents; one that is already gone is not an error.
pub(crate) fn remove_dir_if_exists(path: &Path) -> Result<()> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Removes a file; one that is already gone is not an error.
pub(crate) fn remove_file_if_exists(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Syncs a directory, making the renames and unlinks done in it durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// Raises this process's soft limit on open files to its hard limit (as `ulimit -n` would
/// allow), since every partition keeps its active segment's files open; returns the limit
/// now in force, `None` if it cannot be read.
pub(crate) fn raise_open_file_limit() -> Option<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        let raised = rustix::process::Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!(error = %e, "could not raise the open-file limit");
        }
    }
    // `None` is unlimited.
    Some(getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX))
}

/// How many files this process has open (Linux: the entries of `/proc/self/fd`).
pub(crate) fn open_file_count() -> Option<u64> {
    std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|entries| entries.count() as u64)
}
