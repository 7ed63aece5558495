//! The state directory: where persistent stores and checkpoints live on disk.
//!
//! Laid out like Kafka Streams' `StateDirectory`: `state.dir/<application.id>/<task id>/` per task
//! (task ids such as `0_1`: sub-topology 0, partition 1), holding the task's `.checkpoint` file and
//! one RocksDB database per store under `rocksdb/<store>`.

use std::path::{Path, PathBuf};

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
}
