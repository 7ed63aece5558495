//! Checkpoint files: how far each changelog of a task has been written into its stores.
//!
//! After a commit flushes a task's stores, the runtime records each changelog partition's offset in
//! the task directory's `.checkpoint` file; on restart, restoration starts from there instead of
//! from the beginning, so a clean restart restores only the tail (nothing, if the task was closed
//! cleanly). The format is Kafka Streams' `OffsetCheckpoint` file, so the files are readable by
//! the same tools: a version line (`0`), an entry-count line, then one `topic partition offset`
//! line per entry. Writes go to a temporary file that is synced and renamed over the old one, so a
//! crash leaves either the old or the new checkpoint, never a torn one. A file that does not parse
//! is reported as [`Error::CorruptCheckpoint`] with the line at fault; the caller then restores
//! from scratch.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use crate::files;
use crate::{Error, Result};

/// The checkpoint format version this crate reads and writes (Kafka's is 0 too).
pub const CHECKPOINT_VERSION: u32 = 0;

/// A topic partition, the key of a checkpoint entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
}

impl TopicPartition {
    /// `topic`/`partition`.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// A checkpoint file of changelog offsets; see the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetCheckpoint {
    path: PathBuf,
}

impl OffsetCheckpoint {
    /// The file name Kafka Streams uses inside a task directory.
    pub const FILE_NAME: &'static str = ".checkpoint";

    /// A checkpoint at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        OffsetCheckpoint { path: path.into() }
    }

    /// The `.checkpoint` file of a task directory.
    pub fn in_dir(task_dir: &Path) -> Self {
        Self::new(task_dir.join(Self::FILE_NAME))
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `offsets` atomically (temporary file, fsync, rename, fsync of the directory).
    pub fn write(&self, offsets: &BTreeMap<TopicPartition, i64>) -> Result<()> {
        let mut text = format!("{CHECKPOINT_VERSION}\n{}\n", offsets.len());
        for (tp, offset) in offsets {
            if tp.topic.is_empty() || tp.topic.contains(char::is_whitespace) {
                return Err(Error::InvalidArgument {
                    store: self.path.display().to_string(),
                    message: format!("topic name `{}` cannot be checkpointed", tp.topic),
                });
            }
            text.push_str(&format!("{} {} {}\n", tp.topic, tp.partition, offset));
        }
        files::write_atomically(&self.path, text.as_bytes())?;
        tracing::trace!(path = %self.path.display(), entries = offsets.len(), "wrote checkpoint");
        Ok(())
    }

    /// Reads the offsets; a missing file is an empty checkpoint. Negative offsets are skipped
    /// with a warning, as Kafka Streams does.
    pub fn read(&self) -> Result<BTreeMap<TopicPartition, i64>> {
        let text = match fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(self.corrupt(0, "file is not valid UTF-8"))
            }
            Err(e) => return Err(Error::io(&self.path, e)),
        };
        let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim()));
        let (_, version) = lines
            .next()
            .ok_or_else(|| self.corrupt(1, "empty file, expected a version line"))?;
        match version.parse::<u32>() {
            Ok(CHECKPOINT_VERSION) => {}
            Ok(v) => return Err(self.corrupt(1, &format!("unsupported version {v}"))),
            Err(_) => return Err(self.corrupt(1, &format!("invalid version `{version}`"))),
        }
        let (_, count) = lines
            .next()
            .ok_or_else(|| self.corrupt(2, "missing entry-count line"))?;
        let expected: usize = count
            .parse()
            .map_err(|_| self.corrupt(2, &format!("invalid entry count `{count}`")))?;
        let mut offsets = BTreeMap::new();
        let mut found = 0;
        for (n, line) in lines {
            if line.is_empty() {
                continue;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [topic, partition, offset] = fields[..] else {
                return Err(self.corrupt(n, "expected `topic partition offset`"));
            };
            let partition: i32 = partition
                .parse()
                .map_err(|_| self.corrupt(n, &format!("invalid partition `{partition}`")))?;
            let offset: i64 = offset
                .parse()
                .map_err(|_| self.corrupt(n, &format!("invalid offset `{offset}`")))?;
            found += 1;
            if offset < 0 {
                tracing::warn!(path = %self.path.display(), topic, partition, offset,
                    "skipping negative offset in checkpoint");
                continue;
            }
            offsets.insert(TopicPartition::new(topic, partition), offset);
        }
        if found != expected {
            return Err(self.corrupt(0, &format!("expected {expected} entries but found {found}")));
        }
        Ok(offsets)
    }

    /// Removes the file (a missing file is fine), e.g. when a task's state is wiped.
    pub fn delete(&self) -> Result<()> {
        files::remove_file_if_exists(&self.path)
    }

    fn corrupt(&self, line: usize, reason: &str) -> Error {
        Error::CorruptCheckpoint {
            path: self.path.clone(),
            line,
            reason: reason.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BTreeMap<TopicPartition, i64> {
        BTreeMap::from([
            (TopicPartition::new("app-counts-changelog", 0), 42),
            (TopicPartition::new("app-counts-changelog", 3), 0),
            (TopicPartition::new("app-windows-changelog", 1), 1_000_000),
        ])
    }

    #[test]
    fn round_trip_in_kafka_format() {
        let dir = tempfile::tempdir().unwrap();
        let cp = OffsetCheckpoint::in_dir(dir.path());
        assert!(cp.read().unwrap().is_empty(), "missing file is empty");
        cp.write(&sample()).unwrap();
        assert_eq!(cp.read().unwrap(), sample());
        let text = fs::read_to_string(cp.path()).unwrap();
        assert_eq!(
            text,
            "0\n3\napp-counts-changelog 0 42\napp-counts-changelog 3 0\napp-windows-changelog 1 1000000\n"
        );
        assert!(!dir.path().join(".checkpoint.tmp").exists());
        // Overwrite with fewer entries.
        let one = BTreeMap::from([(TopicPartition::new("t", 0), 7)]);
        cp.write(&one).unwrap();
        assert_eq!(cp.read().unwrap(), one);
        cp.delete().unwrap();
        assert!(cp.read().unwrap().is_empty());
        cp.delete().unwrap();
    }

    fn read_text(text: &[u8]) -> Result<BTreeMap<TopicPartition, i64>> {
        let dir = tempfile::tempdir().unwrap();
        let cp = OffsetCheckpoint::in_dir(dir.path());
        fs::write(cp.path(), text).unwrap();
        cp.read()
    }

    #[test]
    fn corruption_is_a_clear_error() {
        let cases: [(&[u8], usize, &str); 8] = [
            (b"", 1, "empty file"),
            (b"1\n0\n", 1, "unsupported version 1"),
            (b"zero\n", 1, "invalid version"),
            (b"0\n", 2, "missing entry-count"),
            (b"0\n2\nt 0 1\n", 0, "expected 2 entries but found 1"),
            (b"0\n1\nt 0\n", 3, "expected `topic partition offset`"),
            (b"0\n1\nt x 5\n", 3, "invalid partition"),
            (b"0\n1\nt 0 \xff\n", 0, "not valid UTF-8"),
        ];
        for (text, line, reason) in cases {
            match read_text(text) {
                Err(Error::CorruptCheckpoint {
                    line: l, reason: r, ..
                }) => {
                    assert_eq!(l, line, "{r}");
                    assert!(r.contains(reason), "`{r}` should mention `{reason}`");
                }
                other => panic!("expected corruption error for {text:?}, got {other:?}"),
            }
        }
    }

    #[test]
    fn negative_offsets_are_skipped() {
        let offsets = read_text(b"0\n2\nt 0 -1\nt 1 5\n").unwrap();
        assert_eq!(offsets, BTreeMap::from([(TopicPartition::new("t", 1), 5)]));
    }

    #[test]
    fn whitespace_in_topic_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let cp = OffsetCheckpoint::in_dir(dir.path());
        let bad = BTreeMap::from([(TopicPartition::new("a b", 0), 1)]);
        assert!(matches!(cp.write(&bad), Err(Error::InvalidArgument { .. })));
    }
}
