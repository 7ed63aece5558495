//! File-system helpers the on-disk parts of the state share: writing a file atomically, and
//! removing files and directories that may already be gone.
//!
//! Kafka Streams does the same in `OffsetCheckpoint#write` (temporary file, fsync, atomic move)
//! and `StateDirectory` (wiping a task directory). Kept here, below the checkpoint and the state
//! directory, so that neither has to reach into the other for them.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use crate::{Error, Result};

/// Replaces `path`'s contents with `bytes` so that a crash leaves either the old or the new file,
/// never a torn one: written to `<path>.tmp`, synced, renamed over `path`, then the directory
/// synced so that the rename itself is durable. Creates the parent directory if missing.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let tmp = path.with_extension("tmp");
    {
        let mut file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(|e| Error::io(&tmp, e))?;
    }
    fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    // Not every platform lets a directory be opened: the sync is best effort.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Removes the file `path`; a missing file is fine.
pub(crate) fn remove_file_if_exists(path: &Path) -> Result<()> {
    ignore_not_found(fs::remove_file(path), path)
}

/// Removes the directory `path` and everything under it; a missing directory is fine.
pub(crate) fn remove_dir_if_exists(path: &Path) -> Result<()> {
    ignore_not_found(fs::remove_dir_all(path), path)
}

fn ignore_not_found(result: std::io::Result<()>, path: &Path) -> Result<()> {
    match result {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(path, e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_the_file_and_leaves_no_temporary_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/file");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert!(!path.with_extension("tmp").exists());
        remove_file_if_exists(&path).unwrap();
        remove_file_if_exists(&path).unwrap();
        remove_dir_if_exists(&dir.path().join("nested")).unwrap();
        remove_dir_if_exists(&dir.path().join("nested")).unwrap();
        assert!(!dir.path().join("nested").exists());
    }
}
