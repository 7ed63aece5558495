//! Reading a log's segments outside its lock, a chunk at a time.
//!
//! A pass works on a [`SegmentView`] of each segment: a copy of its metadata and its open
//! file, taken under the log's lock in a moment, then read without it, so producers and
//! consumers carry on. [`BatchReader`] walks one segment's batches in order, reading a
//! megabyte at a time and checking between chunks whether the pass was cancelled (Kafka's
//! cleaner reads through `FileRecords` with a read buffer of `log.cleaner.io.buffer.size`).

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::log::batch::{BatchHeader, HEADER_SIZE};

/// How much of a segment is read at once.
const READ_CHUNK: usize = 1024 * 1024;

/// A segment as the cleaner sees it: a consistent copy of its metadata and its open file,
/// taken under the log's lock and read outside it.
#[derive(Debug, Clone)]
pub(super) struct SegmentView {
    pub(super) base: i64,
    /// Where the next segment starts (for the active segment, the log end offset).
    pub(super) end: i64,
    /// Bytes in the segment file.
    pub(super) size: u64,
    /// The largest timestamp in the segment.
    pub(super) max_timestamp: i64,
    /// The segment file, open.
    pub(super) file: Arc<File>,
    /// The segment file's path, for errors and to check it is still in place.
    pub(super) path: PathBuf,
}

/// Reads the batches of one segment, in order, a chunk at a time.
pub(super) struct BatchReader<'a> {
    view: &'a SegmentView,
    cancel: &'a AtomicBool,
    pos: u64,
    chunk: Bytes,
    chunk_pos: u64,
}

impl<'a> BatchReader<'a> {
    pub(super) fn new(view: &'a SegmentView, cancel: &'a AtomicBool) -> Self {
        BatchReader {
            view,
            cancel,
            pos: 0,
            chunk: Bytes::new(),
            chunk_pos: 0,
        }
    }

    fn corrupt(&self, reason: &str) -> Error {
        Error::corrupt_batch(
            self.pos,
            format!("{reason} in {}", self.view.path.display()),
        )
    }

    fn fill(&mut self, at_least: usize) -> Result<()> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(Error::Stopped);
        }
        let remaining = usize::try_from(self.view.size - self.pos).unwrap_or(usize::MAX);
        let len = at_least.max(READ_CHUNK).min(remaining);
        if len < at_least {
            return Err(self.corrupt("truncated batch"));
        }
        let mut buf = vec![0u8; len];
        self.view
            .file
            .read_exact_at(&mut buf, self.pos)
            .map_err(|e| Error::io(&self.view.path, e))?;
        self.chunk = Bytes::from(buf);
        self.chunk_pos = self.pos;
        Ok(())
    }

    /// The next batch: its file position, header and bytes.
    pub(super) fn next(&mut self) -> Result<Option<(u64, BatchHeader, Bytes)>> {
        if self.pos >= self.view.size {
            return Ok(None);
        }
        let mut rel = (self.pos - self.chunk_pos) as usize;
        if self.pos < self.chunk_pos || rel + HEADER_SIZE > self.chunk.len() {
            self.fill(HEADER_SIZE)?;
            rel = 0;
        }
        let h = BatchHeader::parse(&self.chunk[rel..])
            .ok_or_else(|| self.corrupt("unreadable batch header"))?;
        if h.magic != 2 || h.size as u64 > self.view.size - self.pos {
            return Err(self.corrupt("bad batch header"));
        }
        if rel + h.size > self.chunk.len() {
            self.fill(h.size)?;
            rel = 0;
        }
        let bytes = self.chunk.slice(rel..rel + h.size);
        let at = self.pos;
        self.pos += h.size as u64;
        Ok(Some((at, h, bytes)))
    }
}
