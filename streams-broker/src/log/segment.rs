//! One segment of a partition log: a file of record batches plus its two sparse indexes.
//!
//! Like Kafka's `LogSegment`, a segment is named by the first offset it holds
//! (`00000000000000000042.log`) and comes with an offset index (`.index`: 8-byte entries of
//! relative offset and file position, one every `index.interval.bytes`) and a time index
//! (`.timeindex`: 12-byte entries of the largest timestamp so far and the relative offset
//! where it was reached). Only the newest segment of a log is written to; older ones are
//! sealed and read-only until retention deletes them.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::batch::{self, BatchHeader, HEADER_SIZE};
use crate::error::{Error, Result};

const INDEX_ENTRY: usize = 8;
const TIME_ENTRY: usize = 12;
/// How much of a segment is read at once while walking batch headers.
const SCAN_CHUNK: usize = 64 * 1024;

/// The file name of a segment's log, index or time index.
pub(crate) fn file_name(base_offset: i64, ext: &str) -> String {
    format!("{base_offset:020}.{ext}")
}

/// One segment; all fields are guarded by the owning log's lock.
#[derive(Debug)]
pub(crate) struct Segment {
    pub base_offset: i64,
    /// The `.log` file, shared with readers that read outside the log's lock.
    pub file: Arc<File>,
    pub size: u64,
    /// The offset after the last batch (equal to `base_offset` while empty).
    pub next_offset: i64,
    /// Largest record timestamp in the segment, -1 while empty.
    pub max_timestamp: i64,
    /// Last offset of the batch that holds `max_timestamp`.
    pub offset_of_max_timestamp: i64,
    /// Wall-clock creation time in ms (or load time), for `segment.ms`.
    pub created_ms: i64,
    index: Vec<(u32, u32)>,
    time_index: Vec<(i64, u32)>,
    bytes_since_index: u64,
    /// The index files, open only while they are written: a sealed segment's indexes
    /// live in memory, and holding their files open would cost every partition two file
    /// descriptors per segment for nothing.
    index_files: Option<(Arc<File>, Arc<File>)>,
    dir: PathBuf,
}

fn open_rw(path: &Path, append: bool) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .create(true)
        .append(append)
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path, e))
}

fn read_file(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_default()
}

impl Segment {
    /// Creates a new, empty segment.
    pub(super) fn create(dir: &Path, base_offset: i64, now_ms: i64) -> Result<Segment> {
        let log_path = dir.join(file_name(base_offset, "log"));
        let file = open_rw(&log_path, true)?;
        file.set_len(0).map_err(|e| Error::io(&log_path, e))?;
        let mut seg = Self::with_file(dir, base_offset, file, now_ms)?;
        seg.rewrite_indexes()?;
        Ok(seg)
    }

    fn with_file(dir: &Path, base_offset: i64, file: File, now_ms: i64) -> Result<Segment> {
        Ok(Segment {
            base_offset,
            file: Arc::new(file),
            size: 0,
            next_offset: base_offset,
            max_timestamp: -1,
            offset_of_max_timestamp: -1,
            created_ms: now_ms,
            index: Vec::new(),
            time_index: Vec::new(),
            bytes_since_index: 0,
            index_files: None,
            dir: dir.to_path_buf(),
        })
    }

    /// Opens an existing segment. The newest segment (`recover = true`) is validated batch
    /// by batch, CRC included, and truncated at the first torn or corrupt batch; its
    /// indexes are rebuilt. Older segments trust their index files when those are
    /// consistent and are re-scanned (headers only) otherwise.
    pub(super) fn open(
        dir: &Path,
        base_offset: i64,
        next_base: Option<i64>,
        recover: bool,
        index_interval: u64,
        now_ms: i64,
    ) -> Result<Segment> {
        let log_path = dir.join(file_name(base_offset, "log"));
        let file = open_rw(&log_path, true)?;
        let size = file.metadata().map_err(|e| Error::io(&log_path, e))?.len();
        let mut seg = Self::with_file(dir, base_offset, file, now_ms)?;
        seg.size = size;
        if !recover {
            if let Some(next) = next_base {
                if seg.load_indexes(next) {
                    return Ok(seg);
                }
            }
        }
        seg.rebuild(recover, index_interval)?;
        if !recover {
            seg.close_index_files();
        }
        Ok(seg)
    }

    /// Loads the index files of a sealed segment, if they are consistent.
    fn load_indexes(&mut self, next_offset: i64) -> bool {
        let idx = read_file(&self.dir.join(file_name(self.base_offset, "index")));
        let tix = read_file(&self.dir.join(file_name(self.base_offset, "timeindex")));
        if idx.len() % INDEX_ENTRY != 0 || tix.len() % TIME_ENTRY != 0 {
            return false;
        }
        let index: Vec<(u32, u32)> = idx
            .chunks_exact(INDEX_ENTRY)
            .map(|c| {
                (
                    u32::from_be_bytes([c[0], c[1], c[2], c[3]]),
                    u32::from_be_bytes([c[4], c[5], c[6], c[7]]),
                )
            })
            .collect();
        let time_index: Vec<(i64, u32)> = tix
            .chunks_exact(TIME_ENTRY)
            .map(|c| {
                let mut t = [0u8; 8];
                t.copy_from_slice(&c[..8]);
                (
                    i64::from_be_bytes(t),
                    u32::from_be_bytes([c[8], c[9], c[10], c[11]]),
                )
            })
            .collect();
        let sane = index.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1)
            && index.iter().all(|e| u64::from(e.1) < self.size)
            && time_index.windows(2).all(|w| w[0].0 <= w[1].0);
        if !sane || (self.size > 0 && (index.is_empty() || time_index.is_empty())) {
            return false;
        }
        self.index = index;
        if let Some(&(ts, rel)) = time_index.last() {
            self.max_timestamp = ts;
            self.offset_of_max_timestamp = self.base_offset + i64::from(rel);
        }
        self.time_index = time_index;
        self.next_offset = next_offset;
        true
    }

    /// Walks the segment from the start, rebuilding both indexes. With `verify`, checks
    /// every batch's CRC and offsets and truncates the file at the first bad one.
    fn rebuild(&mut self, verify: bool, index_interval: u64) -> Result<()> {
        self.index.clear();
        self.time_index.clear();
        self.bytes_since_index = 0;
        self.max_timestamp = -1;
        self.offset_of_max_timestamp = -1;
        self.next_offset = self.base_offset;
        let mut pos = 0u64;
        let mut buf = Vec::new();
        while pos < self.size {
            let header = match self.read_exact(pos, HEADER_SIZE.min((self.size - pos) as usize)) {
                Ok(h) => h,
                Err(_) => break,
            };
            let Some(h) = BatchHeader::parse(&header) else {
                break;
            };
            if h.magic != 2 || pos + h.size as u64 > self.size || h.base_offset < self.next_offset {
                break;
            }
            if verify {
                buf.resize(h.size, 0);
                if self.file.read_exact_at(&mut buf, pos).is_err() || !batch::crc_ok(&buf) {
                    break;
                }
            }
            self.note_batch(&h, pos, index_interval);
            pos += h.size as u64;
        }
        if pos < self.size {
            let path = self.dir.join(file_name(self.base_offset, "log"));
            tracing::warn!(
                segment = %path.display(),
                valid_bytes = pos,
                file_bytes = self.size,
                "truncating torn or corrupt tail of log segment"
            );
            self.file.set_len(pos).map_err(|e| Error::io(&path, e))?;
            self.file.sync_all().map_err(|e| Error::io(&path, e))?;
            self.size = pos;
        }
        self.rewrite_indexes()
    }

    /// Records a batch written at `pos` in the in-memory indexes; returns the index
    /// entries to persist.
    fn note_batch(&mut self, h: &BatchHeader, pos: u64, index_interval: u64) -> (bool, bool) {
        let rel = (h.base_offset - self.base_offset) as u32;
        let mut new_index = false;
        let mut new_time = false;
        if self.index.is_empty() || self.bytes_since_index >= index_interval {
            self.index.push((rel, pos as u32));
            self.bytes_since_index = 0;
            new_index = true;
        }
        self.bytes_since_index += h.size as u64;
        if h.max_timestamp > self.max_timestamp {
            self.max_timestamp = h.max_timestamp;
            self.offset_of_max_timestamp = h.last_offset();
        }
        let last_ts = self.time_index.last().map(|e| e.0).unwrap_or(i64::MIN);
        if new_index && self.max_timestamp > last_ts {
            let rel_max = (self.offset_of_max_timestamp - self.base_offset) as u32;
            self.time_index.push((self.max_timestamp, rel_max));
            new_time = true;
        }
        self.next_offset = h.next_offset();
        (new_index, new_time)
    }

    fn encode_index(e: &(u32, u32), out: &mut Vec<u8>) {
        out.extend_from_slice(&e.0.to_be_bytes());
        out.extend_from_slice(&e.1.to_be_bytes());
    }

    fn encode_time(e: &(i64, u32), out: &mut Vec<u8>) {
        out.extend_from_slice(&e.0.to_be_bytes());
        out.extend_from_slice(&e.1.to_be_bytes());
    }

    fn rewrite_indexes(&mut self) -> Result<()> {
        let mut idx = Vec::with_capacity(self.index.len() * INDEX_ENTRY);
        self.index
            .iter()
            .for_each(|e| Self::encode_index(e, &mut idx));
        let mut tix = Vec::with_capacity(self.time_index.len() * TIME_ENTRY);
        self.time_index
            .iter()
            .for_each(|e| Self::encode_time(e, &mut tix));
        let (index_file, time_file) = self.index_files()?;
        for (file, data, ext) in [
            (&*index_file, idx, "index"),
            (&*time_file, tix, "timeindex"),
        ] {
            let path = self.dir.join(file_name(self.base_offset, ext));
            file.set_len(0)
                .and_then(|_| (&*file).write_all(&data))
                .map_err(|e| Error::io(&path, e))?;
        }
        Ok(())
    }

    /// Appends batches whose offsets are already assigned. `headers` describe the
    /// batches in `data`, in order.
    pub(super) fn append(
        &mut self,
        data: &[u8],
        headers: &[BatchHeader],
        index_interval: u64,
    ) -> Result<()> {
        let path = || self.dir.join(file_name(self.base_offset, "log"));
        (&*self.file)
            .write_all(data)
            .map_err(|e| Error::io(path(), e))?;
        let mut idx = Vec::new();
        let mut tix = Vec::new();
        let mut pos = self.size;
        for h in headers {
            let (new_index, new_time) = self.note_batch(h, pos, index_interval);
            if new_index {
                if let Some(e) = self.index.last() {
                    Self::encode_index(e, &mut idx);
                }
            }
            if new_time {
                if let Some(e) = self.time_index.last() {
                    Self::encode_time(e, &mut tix);
                }
            }
            pos += h.size as u64;
        }
        self.size = pos;
        if !idx.is_empty() {
            (&*self.index_files()?.0)
                .write_all(&idx)
                .map_err(|e| Error::io(self.dir.join(file_name(self.base_offset, "index")), e))?;
        }
        if !tix.is_empty() {
            (&*self.index_files()?.1).write_all(&tix).map_err(|e| {
                Error::io(self.dir.join(file_name(self.base_offset, "timeindex")), e)
            })?;
        }
        Ok(())
    }

    /// Seals the segment: records its final largest timestamp in the time index, so that
    /// the index alone tells the segment's age after a restart.
    pub(super) fn seal(&mut self) -> Result<()> {
        let last_ts = self.time_index.last().map(|e| e.0).unwrap_or(i64::MIN);
        if self.max_timestamp > last_ts {
            let e = (
                self.max_timestamp,
                (self.offset_of_max_timestamp - self.base_offset) as u32,
            );
            self.time_index.push(e);
            let mut tix = Vec::new();
            Self::encode_time(&e, &mut tix);
            (&*self.index_files()?.1).write_all(&tix).map_err(|e| {
                Error::io(self.dir.join(file_name(self.base_offset, "timeindex")), e)
            })?;
        }
        Ok(())
    }

    /// Forces the segment and its indexes to disk.
    pub(super) fn sync(&self) -> Result<()> {
        self.sync_handle().sync()
    }

    /// The offset and time index files, opened (for appending) if they are not.
    fn index_files(&mut self) -> Result<(Arc<File>, Arc<File>)> {
        if let Some(files) = &self.index_files {
            return Ok(files.clone());
        }
        let index = open_rw(&self.dir.join(file_name(self.base_offset, "index")), true)?;
        let time = open_rw(
            &self.dir.join(file_name(self.base_offset, "timeindex")),
            true,
        )?;
        let files = (Arc::new(index), Arc::new(time));
        self.index_files = Some(files.clone());
        Ok(files)
    }

    /// Closes the index files of a segment that is no longer written (after it was
    /// sealed and synced): they are read from memory, and reopened should it be written
    /// again.
    pub(super) fn close_index_files(&mut self) {
        self.index_files = None;
    }

    /// The segment's open files, to sync outside the log's lock.
    pub(super) fn sync_handle(&self) -> SyncHandle {
        let mut files = vec![self.file.clone()];
        if let Some((index, time)) = &self.index_files {
            files.extend([index.clone(), time.clone()]);
        }
        SyncHandle {
            files,
            path: self.dir.join(file_name(self.base_offset, "log")),
        }
    }

    /// Removes the segment's files.
    pub(super) fn delete(&self) -> Result<()> {
        for ext in ["log", "index", "timeindex"] {
            let path = self.dir.join(file_name(self.base_offset, ext));
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(path, e)),
            }
        }
        Ok(())
    }

    /// Reads `len` bytes at `pos`.
    pub(super) fn read_exact(&self, pos: u64, len: usize) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; len];
        self.file
            .read_exact_at(&mut buf, pos)
            .map_err(|e| Error::io(self.dir.join(file_name(self.base_offset, "log")), e))?;
        Ok(buf)
    }

    /// The file position from which to scan for `offset`, from the offset index.
    fn index_position(&self, offset: i64) -> u64 {
        let rel = (offset - self.base_offset).clamp(0, i64::from(u32::MAX)) as u32;
        let i = self.index.partition_point(|e| e.0 <= rel);
        if i == 0 {
            0
        } else {
            u64::from(self.index[i - 1].1)
        }
    }

    /// Walks batch headers from `pos` and returns the first batch for which `stop` holds,
    /// with its position.
    fn scan_from(
        &self,
        mut pos: u64,
        mut stop: impl FnMut(&BatchHeader) -> bool,
    ) -> Result<Option<(u64, BatchHeader)>> {
        while pos < self.size {
            let want = SCAN_CHUNK.min((self.size - pos) as usize);
            let chunk = self.read_exact(pos, want)?;
            let mut at = 0usize;
            while let Some(h) = BatchHeader::parse(&chunk[at..]) {
                if stop(&h) {
                    return Ok(Some((pos + at as u64, h)));
                }
                at += h.size;
                if at + HEADER_SIZE > chunk.len() {
                    break;
                }
            }
            if at == 0 {
                // A header that does not fit the chunk: cannot happen in a valid segment.
                let path = self.dir.join(file_name(self.base_offset, "log"));
                return Err(Error::CorruptBatch {
                    position: pos,
                    reason: format!("unreadable batch header in {}", path.display()),
                });
            }
            pos += at as u64;
        }
        Ok(None)
    }

    /// Calls `f` with the file position and header of every batch, in order (headers only
    /// are read, in large chunks).
    pub(super) fn for_each_batch(&self, mut f: impl FnMut(u64, &BatchHeader)) -> Result<()> {
        let mut pos = 0u64;
        self.scan_from(0, |h| {
            f(pos, h);
            pos += h.size as u64;
            false
        })?;
        Ok(())
    }

    /// The position of the batch that holds `offset`, if this segment has it.
    pub(super) fn find_offset(&self, offset: i64) -> Result<Option<u64>> {
        if offset >= self.next_offset {
            return Ok(None);
        }
        let start = self.index_position(offset);
        Ok(self
            .scan_from(start, |h| h.last_offset() >= offset)?
            .map(|(pos, _)| pos))
    }

    /// The first batch whose largest timestamp is at least `ts`, with its position.
    pub(super) fn find_timestamp(&self, ts: i64) -> Result<Option<(u64, BatchHeader)>> {
        if self.max_timestamp < ts {
            return Ok(None);
        }
        // Time index entries (T, O): every record up to O has a timestamp <= T.
        let i = self.time_index.partition_point(|e| e.0 < ts);
        let start_offset = if i == 0 {
            self.base_offset
        } else {
            self.base_offset + i64::from(self.time_index[i - 1].1)
        };
        let start = self.index_position(start_offset);
        self.scan_from(start, |h| h.max_timestamp >= ts)
    }
}

/// A segment's files, detached from the log's lock so that a slow `fsync` does not block
/// appends and reads.
#[derive(Debug)]
pub(crate) struct SyncHandle {
    files: Vec<Arc<File>>,
    path: PathBuf,
}

impl SyncHandle {
    /// Forces the files to disk.
    pub(super) fn sync(&self) -> Result<()> {
        for f in &self.files {
            f.sync_data().map_err(|e| Error::io(&self.path, e))?;
        }
        Ok(())
    }
}
