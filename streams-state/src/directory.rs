//! The state directory: where persistent stores and checkpoints live on disk.
//!
//! Laid out like Kafka Streams' `StateDirectory`: `state.dir/<application.id>/<task id>/` per task
//! (task ids such as `0_1`: sub-topology 0, partition 1), holding the task's `.checkpoint` file and
//! one RocksDB database per store under `rocksdb/<store>`.
//!
//! An instance owns its application's directory through [`StateDirectory::lock`]: an OS lock
//! on `state.dir/<application.id>/.lock`, so that a second instance with the same
//! `application.id` and `state.dir` — in this process or another — fails instead of sharing
//! stores, checkpoints and the process id. [`StateDirectory::clean_removed_tasks`] deletes the
//! directories of tasks the instance no longer owns, as Kafka's `cleanRemovedTasks`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::checkpoint::OffsetCheckpoint;
use crate::files;
use crate::{Error, Result};

/// The directory tree of one application's state; see the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDirectory {
    root: PathBuf,
    application_id: String,
}

impl StateDirectory {
    /// The state of `application_id` under `state_dir` (Kafka's `state.dir`). Nothing is created
    /// until a task directory is asked for.
    pub fn new(state_dir: impl Into<PathBuf>, application_id: impl Into<String>) -> Self {
        StateDirectory {
            root: state_dir.into(),
            application_id: application_id.into(),
        }
    }

    /// The application id.
    pub fn application_id(&self) -> &str {
        &self.application_id
    }

    /// `state.dir/<application.id>`.
    pub fn application_dir(&self) -> PathBuf {
        self.root.join(&self.application_id)
    }

    /// `state.dir/<application.id>/<task id>`, created if missing.
    pub fn task_dir(&self, task_id: &str) -> Result<PathBuf> {
        let dir = self.application_dir().join(task_id);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(dir)
    }

    /// The database directory of a RocksDB store: `<task dir>/rocksdb/<store>`.
    pub fn store_dir(&self, task_id: &str, store: &str) -> Result<PathBuf> {
        Ok(self.task_dir(task_id)?.join("rocksdb").join(store))
    }

    /// The task's checkpoint file.
    pub fn checkpoint(&self, task_id: &str) -> Result<OffsetCheckpoint> {
        Ok(OffsetCheckpoint::in_dir(&self.task_dir(task_id)?))
    }

    /// Deletes a task's whole state (stores and checkpoint), e.g. after corruption. The task's
    /// stores must be closed first.
    pub fn wipe_task(&self, task_id: &str) -> Result<()> {
        files::remove_dir_if_exists(&self.application_dir().join(task_id))
    }

    /// The ids of the tasks that have a directory, sorted.
    pub fn task_ids(&self) -> Result<Vec<String>> {
        let dir = self.application_dir();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(Error::io(&dir, e)),
        };
        let mut ids = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            if entry.path().is_dir() {
                ids.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// The root `state.dir`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Takes the application directory's lock for this instance, creating the directory if
    /// missing; held until the returned guard is dropped. Fails with
    /// [`Error::StateDirectoryLocked`] while another instance (another `StateDirectory` of this
    /// process, or another process) holds it.
    pub fn lock(&self) -> Result<StateDirectoryLock> {
        let dir = self.application_dir();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let path = dir.join(LOCK_FILE);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        try_lock(&file).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock => Error::StateDirectoryLocked { path: dir.clone() },
            _ => Error::io(&path, e),
        })?;
        Ok(StateDirectoryLock { _file: file })
    }

    /// Deletes the directory of every task that `owned` does not claim and that was last
    /// modified at least `delay` ago, like Kafka's `StateDirectory#cleanRemovedTasks` (run
    /// every `state.cleanup.delay.ms`). Only task directories (`<sub-topology>_<partition>`)
    /// are considered. Returns the ids of the deleted tasks. The caller keeps `owned` from
    /// changing meanwhile, so that no task is created in a directory being deleted.
    pub fn clean_removed_tasks(
        &self,
        owned: impl Fn(&str) -> bool,
        delay: Duration,
    ) -> Result<Vec<String>> {
        let now = SystemTime::now();
        let mut deleted = Vec::new();
        for id in self.task_ids()? {
            if !is_task_id(&id) || owned(&id) {
                continue;
            }
            let dir = self.application_dir().join(&id);
            let modified = std::fs::metadata(&dir)
                .and_then(|m| m.modified())
                .map_err(|e| Error::io(&dir, e))?;
            let idle = now.duration_since(modified).unwrap_or_default();
            if idle >= delay {
                tracing::info!(
                    task = %id,
                    dir = %dir.display(),
                    idle_ms = idle.as_millis() as u64,
                    state.cleanup.delay.ms = delay.as_millis() as u64,
                    "deleting the state directory of a task this instance no longer owns"
                );
                self.wipe_task(&id)?;
                deleted.push(id);
            }
        }
        Ok(deleted)
    }
}

/// The lock file in the application directory, as Kafka's.
const LOCK_FILE: &str = ".lock";

/// Holds the application directory's lock (see [`StateDirectory::lock`]); dropping it releases
/// the lock (and so does the process ending, however it ends).
#[derive(Debug)]
pub struct StateDirectoryLock {
    _file: File,
}

/// A non-blocking exclusive `flock`: held per open file, so a second open of the same file in
/// this process conflicts too, and released by the OS when the process dies.
#[cfg(unix)]
fn try_lock(file: &File) -> std::io::Result<()> {
    use rustix::fs::{flock, FlockOperation};
    flock(file, FlockOperation::NonBlockingLockExclusive).map_err(|e| {
        if e == rustix::io::Errno::WOULDBLOCK {
            std::io::ErrorKind::WouldBlock.into()
        } else {
            std::io::Error::from(e)
        }
    })
}

/// Without `flock`, instances are not kept apart.
#[cfg(not(unix))]
fn try_lock(_file: &File) -> std::io::Result<()> {
    Ok(())
}

/// Whether a directory name is a task id, `<sub-topology>_<partition>` (not the global stores'
/// directory nor anything else a user keeps there).
fn is_task_id(name: &str) -> bool {
    let Some((sub, partition)) = name.split_once('_') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(sub) && digits(partition)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_kafka_streams() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDirectory::new(tmp.path(), "app");
        assert_eq!(dir.task_ids().unwrap(), Vec::<String>::new());
        let store = dir.store_dir("0_1", "counts").unwrap();
        assert_eq!(store, tmp.path().join("app/0_1/rocksdb/counts"));
        assert_eq!(
            dir.checkpoint("0_1").unwrap().path(),
            tmp.path().join("app/0_1/.checkpoint")
        );
        dir.task_dir("1_0").unwrap();
        assert_eq!(dir.task_ids().unwrap(), vec!["0_1", "1_0"]);
        dir.wipe_task("0_1").unwrap();
        dir.wipe_task("0_1").unwrap();
        assert_eq!(dir.task_ids().unwrap(), vec!["1_0"]);
    }

    #[test]
    fn a_second_lock_on_the_same_directory_fails_until_the_first_is_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let first = StateDirectory::new(tmp.path(), "app");
        let guard = first.lock().unwrap();
        let err = StateDirectory::new(tmp.path(), "app").lock().unwrap_err();
        assert!(
            matches!(&err, Error::StateDirectoryLocked { path } if path == &tmp.path().join("app")),
            "{err}"
        );
        assert!(err
            .to_string()
            .contains(&tmp.path().join("app").display().to_string()));
        // Another application in the same state.dir is not affected.
        let _other = StateDirectory::new(tmp.path(), "other").lock().unwrap();
        drop(guard);
        let _again = StateDirectory::new(tmp.path(), "app").lock().unwrap();
    }

    #[test]
    fn removed_tasks_are_deleted_after_the_delay_owned_ones_never() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = StateDirectory::new(tmp.path(), "app");
        for id in ["0_0", "0_1", "1_0", "global"] {
            dir.task_dir(id).unwrap();
        }
        let owned = |id: &str| id == "0_1";
        assert!(dir
            .clean_removed_tasks(owned, Duration::from_secs(3600))
            .unwrap()
            .is_empty());
        assert_eq!(
            dir.clean_removed_tasks(owned, Duration::ZERO).unwrap(),
            ["0_0", "1_0"]
        );
        assert_eq!(dir.task_ids().unwrap(), ["0_1", "global"]);
    }
}
