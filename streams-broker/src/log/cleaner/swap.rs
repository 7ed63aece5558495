//! Replacing cleaned segments crash-safely, and finishing a replacement after a crash.
//!
//! A group of segments is cleaned into `<base>.cleaned/` (an ordinary segment, written by
//! the segment code, with a `range` file naming the offsets it replaces), renamed
//! `<base>.swap/` once complete and synced, and only then are the old segments deleted and
//! the new files moved in, indexes first and the log last. On start-up, [`recover`]
//! discards a `.cleaned` directory and completes what a `.swap` one describes. This is
//! Kafka's `.cleaned` → `.swap` protocol (`LocalLog.replaceSegments`, and the swap-file
//! handling of `LogLoader`), done with directories.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::reader::SegmentView;
use crate::config::TopicConfig;
use crate::error::{Error, Result};
use crate::fs::{remove_dir_if_exists, remove_file_if_exists, sync_dir, write_atomic};
use crate::log::segment::{self, Segment};
use crate::log::PartitionLog;

/// Suffix of the directory a group of segments is cleaned into.
pub(super) const CLEANED_SUFFIX: &str = "cleaned";
/// Suffix of that directory once complete: from then on the replacement is completed even
/// after a crash.
pub(super) const SWAP_SUFFIX: &str = "swap";
/// File in a `.cleaned`/`.swap` directory naming the offsets `[base, end)` it replaces.
const RANGE_FILE: &str = "range";

/// How far a swap goes: everything but [`SwapStep::Done`] simulates a crash after that
/// step, for the recovery tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(not(test), allow(dead_code))]
pub(super) enum SwapStep {
    /// The `.cleaned` directory was renamed `.swap`.
    Renamed,
    /// The old segments' files were deleted.
    OldDeleted,
    /// The new index files were moved in, not yet the log.
    IndexesMoved,
    /// The new log was moved in; the `.swap` directory is still there.
    LogMoved,
    /// All done.
    Done,
}

/// Whether `path` still names the file `file` is open on (not a file created in its place,
/// say after the topic was deleted and created again during a pass).
fn same_file(path: &Path, file: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(path), file.metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Moves the files of segment `base` from `from` into `to`: indexes first, the log last,
/// so that a `.swap` directory still holding its log has not been applied yet.
fn move_segment_files(from: &Path, to: &Path, base: i64, stop_after_indexes: bool) -> Result<()> {
    for ext in ["index", "timeindex", "log"] {
        if ext == "log" && stop_after_indexes {
            return Ok(());
        }
        let name = segment::file_name(base, ext);
        match std::fs::rename(from.join(&name), to.join(&name)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && ext != "log" => {}
            Err(e) => return Err(Error::io(from.join(&name), e)),
        }
    }
    Ok(())
}

/// Completes or discards a segment swap that a crash interrupted, in the partition
/// directory `dir`. Called when a log is opened, before its segments are listed.
pub(crate) fn recover(dir: &Path) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut swaps = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if !path.is_dir() {
            continue;
        }
        match path.extension().and_then(|e| e.to_str()) {
            Some(CLEANED_SUFFIX) => {
                tracing::warn!(dir = %path.display(), "discarding an unfinished cleaned segment");
                remove_dir_if_exists(&path)?;
            }
            Some(SWAP_SUFFIX) => swaps.push(path),
            _ => {}
        }
    }
    swaps.sort();
    for swap in swaps {
        complete_swap(dir, &swap)?;
    }
    Ok(())
}

fn read_range(swap: &Path) -> Result<(i64, i64)> {
    let path = swap.join(RANGE_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let mut parts = text.split_whitespace().map(str::parse::<i64>);
    match (parts.next(), parts.next()) {
        (Some(Ok(base)), Some(Ok(end))) if base <= end => Ok((base, end)),
        _ => Err(Error::CorruptMetadata {
            path,
            reason: "expected `<base offset> <end offset>`".into(),
        }),
    }
}

fn complete_swap(dir: &Path, swap: &Path) -> Result<()> {
    let (base, end) = read_range(swap)?;
    let log_in_swap = swap.join(segment::file_name(base, "log")).exists();
    if log_in_swap {
        // The new log is not in place yet: the old segments of the range may still be
        // there, in whole or in part. They go first.
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        let mut old = vec![base];
        for entry in entries {
            let name = entry.map_err(|e| Error::io(dir, e))?.file_name();
            let name = name.to_string_lossy();
            if let Some(b) = name
                .strip_suffix(".log")
                .and_then(|stem| stem.parse::<i64>().ok())
            {
                if (base..end).contains(&b) {
                    old.push(b);
                }
            }
        }
        for b in old {
            for ext in ["index", "timeindex", "log"] {
                remove_file_if_exists(&dir.join(segment::file_name(b, ext)))?;
            }
        }
    }
    if log_in_swap {
        move_segment_files(swap, dir, base, false)?;
    }
    remove_dir_if_exists(swap)?;
    sync_dir(dir)?;
    tracing::warn!(dir = %dir.display(), base, end, "completed a segment swap interrupted by a crash");
    Ok(())
}

/// The segment written for one group, waiting in its `.cleaned` directory.
pub(super) struct CleanedGroup {
    /// The `.cleaned` directory.
    pub(super) dir: PathBuf,
    /// The first offset of the group.
    pub(super) base: i64,
    /// Where the next segment starts.
    pub(super) end: i64,
}

/// The directory the group starting at `base` is cleaned into, in the partition
/// directory `dir`.
pub(super) fn cleaned_dir(dir: &Path, base: i64) -> PathBuf {
    dir.join(segment::file_name(base, CLEANED_SUFFIX))
}

impl CleanedGroup {
    /// Records the offsets `[base, end)` the cleaned segment replaces; from then on its
    /// directory tells recovery all it needs.
    pub(super) fn write_range(&self) -> Result<()> {
        write_atomic(
            &self.dir.join(RANGE_FILE),
            format!("{} {}\n", self.base, self.end).as_bytes(),
        )
    }
}

impl PartitionLog {
    /// Replaces the group's segments by the cleaned one, under the log's lock: rename the
    /// `.cleaned` directory `.swap`, delete the old segments, move the new files in, remove
    /// the directory. Renames and unlinks only: appends wait for microseconds. Readers that
    /// already hold an old segment's file finish reading it (the data stays until they
    /// close it). `false` if the group is no longer in the log (retention deleted some of
    /// it meanwhile).
    pub(super) fn swap_in(
        &self,
        group: &[&SegmentView],
        cleaned: &CleanedGroup,
        config: &TopicConfig,
        now: i64,
        stop_after: SwapStep,
    ) -> Result<bool> {
        let swap = self.dir.join(segment::file_name(cleaned.base, SWAP_SUFFIX));
        let mut st = self.lock();
        let Some(first) = st
            .segments
            .iter()
            .position(|s| s.base_offset == cleaned.base)
        else {
            return Ok(false);
        };
        let still_there = st.segments.len() > first + group.len()
            && group
                .iter()
                .zip(&st.segments[first..])
                .all(|(v, s)| Arc::ptr_eq(&v.file, &s.file) && same_file(&v.path, &v.file));
        if !still_there {
            return Ok(false);
        }
        std::fs::rename(&cleaned.dir, &swap).map_err(|e| Error::io(&swap, e))?;
        sync_dir(&self.dir)?;
        if stop_after == SwapStep::Renamed {
            return Err(Error::Stopped);
        }
        for old in &st.segments[first..first + group.len()] {
            old.delete()?;
        }
        if stop_after == SwapStep::OldDeleted {
            return Err(Error::Stopped);
        }
        move_segment_files(
            &swap,
            &self.dir,
            cleaned.base,
            stop_after == SwapStep::IndexesMoved,
        )?;
        if stop_after <= SwapStep::LogMoved {
            return Err(Error::Stopped);
        }
        remove_dir_if_exists(&swap)?;
        sync_dir(&self.dir)?;
        let seg = Segment::open(
            &self.dir,
            cleaned.base,
            Some(cleaned.end),
            false,
            config.index_interval_bytes(),
            now,
        )?;
        let replaced: Vec<Segment> = st
            .segments
            .splice(first..first + group.len(), std::iter::once(seg))
            .collect();
        drop(st);
        drop(replaced);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;
    use crate::clock::now_ms;
    use crate::config::DEFAULT_DEDUPE_BUFFER_SIZE;
    use crate::log::cleaner::tests::{
        append, assert_offsets_increase, batch, open, records, rounds, swap_dirs,
    };

    #[test]
    fn a_swap_interrupted_by_a_crash_is_completed_on_start_up() {
        let now = now_ms();
        // The reference: the same log, cleaned without a crash.
        let reference_dir = tempfile::tempdir().unwrap();
        let reference = open(reference_dir.path(), &[]);
        let latest = rounds(&reference, now);
        let original = records(&reference);
        reference.clean(now).unwrap();
        let expected = records(&reference);
        for step in [
            SwapStep::Renamed,
            SwapStep::OldDeleted,
            SwapStep::IndexesMoved,
            SwapStep::LogMoved,
        ] {
            let dir = tempfile::tempdir().unwrap();
            let log = open(dir.path(), &[]);
            rounds(&log, now);
            let crashed = log.clean_until(
                now,
                DEFAULT_DEDUPE_BUFFER_SIZE,
                &AtomicBool::new(false),
                step,
            );
            assert!(matches!(crashed, Err(Error::Stopped)), "{step:?}");
            drop(log);
            let left = swap_dirs(dir.path());
            assert_eq!(left.len(), 1, "{step:?}: {left:?}");
            assert_eq!(
                left[0].extension().and_then(|e| e.to_str()),
                Some(SWAP_SUFFIX)
            );
            // Start-up completes the swap: the first group is cleaned, nothing is lost.
            let log = open(dir.path(), &[]);
            assert!(swap_dirs(dir.path()).is_empty(), "{step:?}");
            let recovered = records(&log);
            assert_offsets_increase(&recovered);
            assert!(
                recovered.len() < original.len(),
                "{step:?}: the cleaned group is in"
            );
            for s in &recovered {
                assert!(original.contains(s), "{step:?}: {s:?}");
            }
            for (offset, _) in latest.values() {
                assert!(recovered.iter().any(|s| s.offset == *offset), "{step:?}");
            }
            // A new pass finishes the job, as if nothing had happened.
            log.clean(now).unwrap();
            assert_eq!(records(&log), expected, "{step:?}");
            assert_eq!(append(&log, batch(&[(Some("k"), Some("v"))], now)), 100);
        }
        // An unfinished `.cleaned` directory is discarded.
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), &[]);
        rounds(&log, now);
        drop(log);
        let cleaned = dir.path().join(segment::file_name(0, CLEANED_SUFFIX));
        std::fs::create_dir(&cleaned).unwrap();
        std::fs::write(cleaned.join(segment::file_name(0, "log")), b"half written").unwrap();
        let log = open(dir.path(), &[]);
        assert!(!cleaned.exists());
        assert_eq!(records(&log), original);
    }
}
