//! RocksDB stores, the default, like Kafka Streams' `RocksDBStore` and
//! `RocksDBSegmentedBytesStore`.
//!
//! Each store of each task is its own RocksDB database, under
//! `state.dir/<application.id>/<task id>/rocksdb/<store>` (see
//! [`StateDirectory`](crate::StateDirectory)). A key-value store uses the default column family; a
//! window or session store keeps each time segment under its own key prefix, so dropping an
//! expired segment is one range delete. All databases of an application share one block cache and
//! one write-buffer manager charged to that cache ([`RocksDbResources`]), which bounds the memory
//! RocksDB uses for the whole application — Kafka Streams' "bounded memory" `RocksDBConfigSetter`
//! recipe, built in.
//!
//! Like Kafka Streams' RocksDB stores, writes skip RocksDB's write-ahead log by default
//! (`rocksdb.wal.enabled`): a store's durable copy is its changelog, and
//! [`flush`](crate::StateStore::flush) persists the memtables as table files before a checkpoint
//! may claim them. A crash loses only what was written since the last flush, and restoring from
//! the checkpointed offset replays exactly that. Restores always write batches without the log.
//! With the log enabled, every write also goes to it (not synced per write) and a flush only
//! hands the log to the operating system.
//!
//! With the log off, every store also holds its latest writes back and hands them to RocksDB as
//! one write batch, newest value per key (`rocksdb.write.batch.bytes`): such a write is not
//! durable before the next flush either way, and RocksDB's cost per write call (a write group, a
//! sequence number, one memtable entry per version of a key) then is paid per batch. Reads see
//! the held writes first.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rocksdb::{
    BlockBasedOptions, Cache, DBCompressionType, DataBlockIndexType, Direction, IteratorMode,
    Options, ReadOptions, WriteBatch, WriteBufferManager, WriteOptions, DB,
};

use crate::keys;
use crate::merge::{merge_over, NewerEntry};
use crate::record::ChangelogRecord;
use crate::segmented::{
    SegmentWrite, SegmentedBytesStore, SegmentedSessionStore, SegmentedWindowStore,
};
use crate::store::{KeyValueIter, KeyValueStore, KeyWrite, StateStore};
use crate::{Error, Result};

const MIB: usize = 1024 * 1024;

/// RocksDB settings shared by all stores of an application.
///
/// Settable by property name with [`set`](Self::set) (a streams application sets them through
/// its `StreamsConfig`); unknown names are an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RocksDbConfig {
    /// `rocksdb.total.memory.bytes`: the bound on block cache plus memtables for the whole
    /// application (default 128 MiB).
    pub total_memory_bytes: usize,
    /// `rocksdb.write.buffer.manager.bytes`: the part of the total that memtables may use before
    /// RocksDB flushes them (default a quarter of the total).
    pub memtable_memory_bytes: usize,
    /// `rocksdb.write.buffer.size`: size of one memtable (default 8 MiB).
    pub write_buffer_size: usize,
    /// `rocksdb.max.write.buffer.number`: memtables per column family (default 3).
    pub max_write_buffer_number: i32,
    /// `rocksdb.block.size`: table block size in bytes (default 16 KiB).
    pub block_size: usize,
    /// `rocksdb.compression`: `lz4` (default) or `none`.
    pub compression_lz4: bool,
    /// `rocksdb.wal.enabled`: write normal (non-restore) writes to the write-ahead log (default
    /// `false`, as in Kafka Streams: only a flush persists data, and the changelog covers what a
    /// crash loses). Enabling it costs a log write per put.
    pub wal_enabled: bool,
    /// `rocksdb.wal.sync.on.flush`: fsync the write-ahead log on every store flush (default
    /// `false`: data survives a process crash, not a power loss).
    pub wal_sync_on_flush: bool,
    /// `rocksdb.max.background.jobs`: compaction and flush threads (default 2).
    pub max_background_jobs: i32,
    /// `rocksdb.write.batch.bytes`: how many bytes of writes all stores of the application may
    /// hold back from RocksDB together, with the write-ahead log off (default 8 MiB; 0 writes
    /// each one at once). The store whose write reaches the bound hands its writes to RocksDB
    /// as one batch; every store hands over the rest at its flush. See the [module docs](self).
    pub write_batch_bytes: usize,
}

impl Default for RocksDbConfig {
    fn default() -> Self {
        RocksDbConfig {
            total_memory_bytes: 128 * MIB,
            memtable_memory_bytes: 32 * MIB,
            write_buffer_size: 8 * MIB,
            max_write_buffer_number: 3,
            block_size: 16 * 1024,
            compression_lz4: true,
            wal_enabled: false,
            wal_sync_on_flush: false,
            max_background_jobs: 2,
            write_batch_bytes: 8 * MIB,
        }
    }
}

impl RocksDbConfig {
    /// Sets a property by name, e.g. `config.set("rocksdb.total.memory.bytes", "67108864")`.
    /// Setting the total also resets the memtable share to a quarter of it. A value that would
    /// make the settings inconsistent is refused and changes nothing.
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let previous = self.clone();
        fn parse<T: std::str::FromStr>(key: &str, value: &str) -> Result<T> {
            value.trim().parse().map_err(|_| Error::Config {
                key: key.to_string(),
                message: format!("cannot parse `{value}`"),
            })
        }
        match key {
            "rocksdb.total.memory.bytes" => {
                self.total_memory_bytes = parse(key, value)?;
                self.memtable_memory_bytes = self.total_memory_bytes / 4;
            }
            "rocksdb.write.buffer.manager.bytes" => self.memtable_memory_bytes = parse(key, value)?,
            "rocksdb.write.buffer.size" => self.write_buffer_size = parse(key, value)?,
            "rocksdb.max.write.buffer.number" => self.max_write_buffer_number = parse(key, value)?,
            "rocksdb.block.size" => self.block_size = parse(key, value)?,
            "rocksdb.compression" => {
                self.compression_lz4 = match value.trim() {
                    "lz4" => true,
                    "none" => false,
                    other => {
                        return Err(Error::Config {
                            key: key.to_string(),
                            message: format!("unsupported compression `{other}` (lz4 or none)"),
                        })
                    }
                }
            }
            "rocksdb.wal.enabled" => self.wal_enabled = parse(key, value)?,
            "rocksdb.wal.sync.on.flush" => self.wal_sync_on_flush = parse(key, value)?,
            "rocksdb.max.background.jobs" => self.max_background_jobs = parse(key, value)?,
            "rocksdb.write.batch.bytes" => self.write_batch_bytes = parse(key, value)?,
            _ => {
                return Err(Error::Config {
                    key: key.to_string(),
                    message: "unknown RocksDB configuration key".to_string(),
                })
            }
        }
        self.validate().inspect_err(|_| *self = previous)
    }

    /// A property's current value by name (the names [`set`](Self::set) takes).
    pub fn get(&self, key: &str) -> Option<String> {
        Some(match key {
            "rocksdb.total.memory.bytes" => self.total_memory_bytes.to_string(),
            "rocksdb.write.buffer.manager.bytes" => self.memtable_memory_bytes.to_string(),
            "rocksdb.write.buffer.size" => self.write_buffer_size.to_string(),
            "rocksdb.max.write.buffer.number" => self.max_write_buffer_number.to_string(),
            "rocksdb.block.size" => self.block_size.to_string(),
            "rocksdb.compression" => {
                let name = if self.compression_lz4 { "lz4" } else { "none" };
                name.to_string()
            }
            "rocksdb.wal.enabled" => self.wal_enabled.to_string(),
            "rocksdb.wal.sync.on.flush" => self.wal_sync_on_flush.to_string(),
            "rocksdb.max.background.jobs" => self.max_background_jobs.to_string(),
            "rocksdb.write.batch.bytes" => self.write_batch_bytes.to_string(),
            _ => return None,
        })
    }

    fn validate(&self) -> Result<()> {
        let bad = |key: &str, message: &str| {
            Err(Error::Config {
                key: key.to_string(),
                message: message.to_string(),
            })
        };
        if self.total_memory_bytes < MIB {
            return bad("rocksdb.total.memory.bytes", "must be at least 1 MiB");
        }
        if self.memtable_memory_bytes > self.total_memory_bytes {
            return bad(
                "rocksdb.write.buffer.manager.bytes",
                "must not exceed rocksdb.total.memory.bytes",
            );
        }
        if self.max_write_buffer_number < 1 || self.max_background_jobs < 1 {
            return bad(
                "rocksdb.max.write.buffer.number",
                "counts must be at least 1",
            );
        }
        if self.block_size == 0 || self.write_buffer_size == 0 {
            return bad("rocksdb.block.size", "sizes must be positive");
        }
        Ok(())
    }
}

/// The block cache and write-buffer manager shared by every RocksDB store of an application.
///
/// Create one per application (or per process) and hand clones to every store; clones share the
/// same memory budget.
#[derive(Clone)]
pub struct RocksDbResources {
    inner: Arc<ResourcesInner>,
}

struct ResourcesInner {
    config: RocksDbConfig,
    cache: Cache,
    write_buffer_manager: WriteBufferManager,
    /// Bytes of writes all stores hold back from RocksDB together (`rocksdb.write.batch.bytes`
    /// bounds it).
    held_bytes: AtomicUsize,
}

impl std::fmt::Debug for RocksDbResources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksDbResources")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Default for RocksDbResources {
    fn default() -> Self {
        Self::with_validated(RocksDbConfig::default())
    }
}

impl RocksDbResources {
    /// Resources for `config`: an LRU block cache of `total_memory_bytes`, with memtable memory
    /// charged to it.
    pub fn new(config: RocksDbConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self::with_validated(config))
    }

    fn with_validated(config: RocksDbConfig) -> Self {
        let cache = Cache::new_lru_cache(config.total_memory_bytes);
        let write_buffer_manager = WriteBufferManager::new_write_buffer_manager_with_cache(
            config.memtable_memory_bytes,
            false,
            cache.clone(),
        );
        RocksDbResources {
            inner: Arc::new(ResourcesInner {
                config,
                cache,
                write_buffer_manager,
                held_bytes: AtomicUsize::new(0),
            }),
        }
    }

    /// The configuration these resources were made with.
    pub fn config(&self) -> &RocksDbConfig {
        &self.inner.config
    }

    /// Bytes currently held by the shared block cache (memtables included).
    pub fn cache_usage(&self) -> usize {
        self.inner.cache.get_usage()
    }

    /// Bytes currently used by memtables across all stores.
    pub fn memtable_usage(&self) -> usize {
        self.inner.write_buffer_manager.get_usage()
    }

    /// Bytes of writes the stores hold back from RocksDB right now, all together (at most about
    /// `rocksdb.write.batch.bytes`).
    pub fn held_writes_usage(&self) -> usize {
        self.inner.held_bytes.load(Ordering::Relaxed)
    }

    fn options(&self) -> Options {
        let config = &self.inner.config;
        let mut table = BlockBasedOptions::default();
        table.set_block_cache(&self.inner.cache);
        table.set_block_size(config.block_size);
        table.set_cache_index_and_filter_blocks(true);
        table.set_cache_index_and_filter_blocks_with_high_priority(true);
        table.set_pin_l0_filter_and_index_blocks_in_cache(true);
        table.set_bloom_filter(10.0, false);
        // A hash index in each data block: a point lookup finds its key without a binary search
        // over the block's restart points (state stores are mostly point reads and writes).
        table.set_data_block_index_type(DataBlockIndexType::BinaryAndHash);

        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_block_based_table_factory(&table);
        opts.set_write_buffer_manager(&self.inner.write_buffer_manager);
        opts.set_write_buffer_size(config.write_buffer_size);
        // A bloom filter over the memtable's keys: a get of a key written before the last flush
        // skips the memtable search.
        opts.set_memtable_whole_key_filtering(true);
        opts.set_memtable_prefix_bloom_ratio(0.02);
        opts.set_max_write_buffer_number(config.max_write_buffer_number);
        opts.set_max_background_jobs(config.max_background_jobs);
        opts.set_max_total_wal_size(64 * MIB as u64);
        opts.set_keep_log_file_num(2);
        opts.set_max_log_file_size(MIB);
        opts.set_compression_type(if config.compression_lz4 {
            DBCompressionType::Lz4
        } else {
            DBCompressionType::None
        });
        opts
    }

    fn write_options(&self) -> WriteOptions {
        let mut w = WriteOptions::default();
        w.disable_wal(!self.inner.config.wal_enabled);
        w
    }
}

fn rocks_error(store: &str, path: &Path, e: rocksdb::Error) -> Error {
    Error::RocksDb {
        store: store.to_string(),
        path: path.to_path_buf(),
        message: e.into_string(),
    }
}

/// Writes `batch` to `db`: without the write-ahead log when `restoring`, else with
/// `write_options`. Returns whether the data needs a flush to be durable (it bypassed the WAL).
fn write_batch(
    db: &DB,
    batch: WriteBatch,
    restoring: bool,
    write_options: &WriteOptions,
    resources: &RocksDbResources,
) -> std::result::Result<bool, rocksdb::Error> {
    if restoring {
        db.write_without_wal(batch)?;
    } else {
        db.write_opt(batch, write_options)?;
    }
    Ok(restoring || !resources.config().wal_enabled)
}

fn create_dir(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|e| Error::io(path, e))
}

/// What a held-back write costs beyond its key and value: the map entry and its buffers.
const PENDING_ENTRY_OVERHEAD: usize = 64;

/// Writes a RocksDB store has taken but not yet handed to RocksDB, the newest value per key
/// (`None`: a delete), by the key RocksDB will hold; see the [module docs](self).
struct PendingWrites {
    /// Ordered, so that a range scan finds the held writes in its range without a full pass.
    entries: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// This store's part of what the application holds (`resources`' count).
    bytes: usize,
    /// How many bytes all stores may hold (`rocksdb.write.batch.bytes`); 0, nothing is held,
    /// with the write-ahead log on.
    limit: usize,
    resources: RocksDbResources,
}

impl PendingWrites {
    fn new(resources: &RocksDbResources) -> Self {
        let config = resources.config();
        PendingWrites {
            entries: BTreeMap::new(),
            bytes: 0,
            limit: if config.wal_enabled {
                0
            } else {
                config.write_batch_bytes
            },
            resources: resources.clone(),
        }
    }

    /// Adds `added` bytes to this store's count and the application's, and takes `removed` off
    /// both; returns the application's new total.
    fn account(&mut self, added: usize, removed: usize) -> usize {
        self.bytes = self.bytes + added - removed;
        let held = &self.resources.inner.held_bytes;
        if added >= removed {
            held.fetch_add(added - removed, Ordering::Relaxed) + added - removed
        } else {
            held.fetch_sub(removed - added, Ordering::Relaxed) - (removed - added)
        }
    }

    /// Whether writes are held at all.
    fn holds(&self) -> bool {
        self.limit > 0
    }

    fn entry_size(key: &[u8], value: Option<&[u8]>) -> usize {
        key.len() + value.map_or(0, <[u8]>::len) + PENDING_ENTRY_OVERHEAD
    }

    /// Holds `value` for `key`, replacing what was held for it; returns whether the held writes
    /// are now due for RocksDB.
    fn insert(&mut self, key: &[u8], value: Option<&[u8]>) -> bool {
        let added = Self::entry_size(key, value);
        let mut removed = 0;
        match self.entries.get_mut(key) {
            Some(held) => {
                removed = Self::entry_size(key, held.as_deref());
                match (held.as_mut(), value) {
                    // Reuse the held buffer: a hot key is rewritten without allocating.
                    (Some(buffer), Some(value)) => {
                        buffer.clear();
                        buffer.extend_from_slice(value);
                    }
                    _ => *held = value.map(<[u8]>::to_vec),
                }
            }
            None => {
                self.entries.insert(key.to_vec(), value.map(<[u8]>::to_vec));
            }
        }
        self.account(added, removed) >= self.limit
    }

    /// What is held for `key`: `Some(None)` for a held delete, `None` if nothing is held.
    fn get(&self, key: &[u8]) -> Option<Option<&[u8]>> {
        self.entries.get(key).map(Option::as_deref)
    }

    /// `stored`, RocksDB's entries from `lower` (inclusive) to `upper` (exclusive), with the
    /// held writes in that range over them.
    fn over<'a>(
        &'a self,
        lower: &[u8],
        upper: Option<&[u8]>,
        stored: KeyValueIter<'a>,
    ) -> KeyValueIter<'a> {
        let upper = upper.map_or(Bound::Unbounded, Bound::Excluded);
        let held: Vec<NewerEntry<'a>> = self
            .entries
            .range::<[u8], _>((Bound::Included(lower), upper))
            .map(|(key, value)| (key.as_slice(), value.as_deref()))
            .collect();
        if held.is_empty() {
            stored
        } else {
            merge_over(held, stored)
        }
    }

    /// Forgets the held writes to keys below `key` (their segments were dropped).
    fn drop_below(&mut self, key: &[u8]) {
        let kept = self.entries.split_off(key);
        let dropped = std::mem::replace(&mut self.entries, kept);
        let removed = dropped
            .iter()
            .map(|(key, value)| Self::entry_size(key, value.as_deref()))
            .sum();
        self.account(0, removed);
    }

    /// The held writes as one batch, leaving none held; `None` if none was.
    fn take_batch(&mut self) -> Option<WriteBatch> {
        if self.entries.is_empty() {
            return None;
        }
        let mut batch = WriteBatch::default();
        for (key, value) in std::mem::take(&mut self.entries) {
            match value {
                Some(value) => batch.put(&key, &value),
                None => batch.delete(&key),
            }
        }
        self.account(0, self.bytes);
        Some(batch)
    }
}

/// A store dropped without a flush (after a crash of its task) no longer holds its writes.
impl Drop for PendingWrites {
    fn drop(&mut self) {
        self.account(0, self.bytes);
    }
}

/// One store's RocksDB database and what writing to it takes: the part the key-value store and
/// the segmented stores share.
struct Database {
    name: String,
    path: PathBuf,
    db: Option<DB>,
    resources: RocksDbResources,
    write_options: WriteOptions,
    /// Made once: RocksDB's C API allocates a read-options object per `get` otherwise.
    read_options: ReadOptions,
    /// Data was written without the WAL (a restore, held writes, or every write with the WAL
    /// off) and is not yet in table files.
    unflushed: bool,
    /// Writes held back from RocksDB.
    pending: PendingWrites,
}

impl Database {
    /// Opens (creating if needed) the database of store `name` in directory `path`; `check`
    /// may refuse an existing one first.
    fn open(
        name: String,
        path: PathBuf,
        resources: &RocksDbResources,
        check: impl FnOnce(&Options, &Path) -> Result<()>,
    ) -> Result<Self> {
        create_dir(&path)?;
        let options = resources.options();
        check(&options, &path)?;
        let db = DB::open(&options, &path).map_err(|e| rocks_error(&name, &path, e))?;
        Ok(Database {
            name,
            path,
            db: Some(db),
            resources: resources.clone(),
            write_options: resources.write_options(),
            read_options: ReadOptions::default(),
            unflushed: false,
            pending: PendingWrites::new(resources),
        })
    }

    fn db(&self) -> Result<&DB> {
        self.db.as_ref().ok_or_else(|| Error::closed(&self.name))
    }

    fn err(&self, e: rocksdb::Error) -> Error {
        rocks_error(&self.name, &self.path, e)
    }

    /// Sets `key` to `value` (`None`: deletes it): held back with the WAL off (handed to RocksDB
    /// once the held writes fill `rocksdb.write.batch.bytes`), written at once with it on.
    fn write(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<()> {
        let db = self.db()?;
        if self.pending.holds() {
            // Held writes, like all without the WAL, are durable only after a flush.
            self.unflushed = true;
            if self.pending.insert(key, value) {
                self.write_pending()?;
            }
            return Ok(());
        }
        let written = match value {
            Some(value) => db.put_opt(key, value, &self.write_options),
            None => db.delete_opt(key, &self.write_options),
        };
        written.map_err(|e| self.err(e))?;
        self.unflushed |= !self.resources.config().wal_enabled;
        Ok(())
    }

    /// Hands the held writes to RocksDB as one batch.
    fn write_pending(&mut self) -> Result<()> {
        match self.pending.take_batch() {
            Some(batch) => self.write_batch(batch, false),
            None => Ok(()),
        }
    }

    fn write_batch(&mut self, batch: WriteBatch, restoring: bool) -> Result<()> {
        let written = write_batch(
            self.db()?,
            batch,
            restoring,
            &self.write_options,
            &self.resources,
        );
        self.unflushed |= written.map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Makes everything written durable: the held writes go to RocksDB, then the memtables to
    /// table files (or, with the WAL on, the log to the operating system).
    fn flush(&mut self) -> Result<()> {
        self.write_pending()?;
        let db = self.db()?;
        if self.unflushed {
            db.flush().map_err(|e| self.err(e))?;
            self.unflushed = false;
        } else if self.resources.config().wal_enabled {
            db.flush_wal(self.resources.config().wal_sync_on_flush)
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }
}

/// A RocksDB [`KeyValueStore`]: one database, default column family.
pub struct RocksDbKeyValueStore {
    rocks: Database,
}

impl RocksDbKeyValueStore {
    /// Opens (creating if needed) the store `name` whose database lives in directory `path`.
    pub fn open(
        name: impl Into<String>,
        path: impl Into<PathBuf>,
        resources: &RocksDbResources,
    ) -> Result<Self> {
        let rocks = Database::open(name.into(), path.into(), resources, |_, _| Ok(()))?;
        tracing::debug!(store = %rocks.name, path = %rocks.path.display(),
            "opened RocksDB key-value store");
        Ok(RocksDbKeyValueStore { rocks })
    }

    /// The database directory.
    pub fn path(&self) -> &Path {
        &self.rocks.path
    }

    /// The entries from `lower` (inclusive) to `upper` (exclusive), held writes over RocksDB's.
    fn scan(&self, lower: Option<&[u8]>, upper: Option<Vec<u8>>) -> Result<KeyValueIter<'_>> {
        let db = self.rocks.db()?;
        let mut ro = ReadOptions::default();
        if let Some(u) = &upper {
            ro.set_iterate_upper_bound(u.clone());
        }
        let mode = match lower {
            Some(l) => IteratorMode::From(l, Direction::Forward),
            None => IteratorMode::Start,
        };
        let (name, path) = (self.rocks.name.clone(), self.rocks.path.clone());
        let stored = Box::new(db.iterator_opt(mode, ro).map(move |item| {
            item.map(|(k, v)| (k.into_vec(), v.into_vec()))
                .map_err(|e| rocks_error(&name, &path, e))
        }));
        Ok(self
            .rocks
            .pending
            .over(lower.unwrap_or_default(), upper.as_deref(), stored))
    }
}

impl StateStore for RocksDbKeyValueStore {
    fn name(&self) -> &str {
        &self.rocks.name
    }
    fn persistent(&self) -> bool {
        true
    }
    fn is_open(&self) -> bool {
        self.rocks.db.is_some()
    }

    fn flush(&mut self) -> Result<()> {
        self.rocks.flush()
    }

    fn close(&mut self) -> Result<()> {
        if self.rocks.db.is_some() {
            self.flush()?;
            self.rocks.db = None;
            tracing::debug!(store = %self.rocks.name, "closed RocksDB key-value store");
        }
        Ok(())
    }

    fn restore_batch(&mut self, records: &[ChangelogRecord]) -> Result<()> {
        // Restored records come after anything held: write that first, so theirs win.
        self.rocks.write_pending()?;
        let mut batch = WriteBatch::default();
        for r in records {
            match &r.value {
                Some(v) => batch.put(&r.key, v),
                None => batch.delete(&r.key),
            }
        }
        self.rocks.write_batch(batch, true)
    }
}

impl KeyValueStore for RocksDbKeyValueStore {
    /// Lends held values, and RocksDB's own through a pinned slice: no copy either way.
    fn get_with(&self, key: &[u8], read: &mut dyn FnMut(Option<&[u8]>)) -> Result<()> {
        let db = self.rocks.db()?;
        if let Some(held) = self.rocks.pending.get(key) {
            read(held);
            return Ok(());
        }
        let pinned = db
            .get_pinned_opt(key, &self.rocks.read_options)
            .map_err(|e| self.rocks.err(e))?;
        read(pinned.as_deref());
        Ok(())
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.rocks.write(key, Some(value))
    }

    fn put_all(&mut self, entries: &[KeyWrite<'_>]) -> Result<()> {
        if !self.rocks.pending.holds() {
            let mut batch = WriteBatch::default();
            for &(k, v) in entries {
                match v {
                    Some(v) => batch.put(k, v),
                    None => batch.delete(k),
                }
            }
            return self.rocks.write_batch(batch, false);
        }
        for &(key, value) in entries {
            self.rocks.write(key, value)?;
        }
        Ok(())
    }

    fn delete(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let old = self.get(key)?;
        if old.is_some() {
            self.rocks.write(key, None)?;
        }
        Ok(old)
    }

    fn range(&self, from: Option<&[u8]>, to: Option<&[u8]>) -> Result<KeyValueIter<'_>> {
        if let (Some(f), Some(t)) = (from, to) {
            if f > t {
                self.rocks.db()?;
                return Ok(Box::new(std::iter::empty()));
            }
        }
        let upper = to.map(|t| {
            let mut u = t.to_vec();
            u.push(0);
            u
        });
        self.scan(from, upper)
    }

    fn prefix_scan(&self, prefix: &[u8]) -> Result<KeyValueIter<'_>> {
        self.scan(Some(prefix), keys::prefix_successor(prefix))
    }

    /// RocksDB's estimate, plus held puts and minus held deletes (a held put of a key RocksDB
    /// has already counts twice until written).
    fn approximate_num_entries(&self) -> Result<u64> {
        let stored = self
            .rocks
            .db()?
            .property_int_value("rocksdb.estimate-num-keys")
            .map_err(|e| self.rocks.err(e))?
            .unwrap_or(0);
        let puts = self
            .rocks
            .pending
            .entries
            .values()
            .filter(|v| v.is_some())
            .count() as u64;
        let deletes = self.rocks.pending.entries.len() as u64 - puts;
        Ok((stored + puts).saturating_sub(deletes))
    }
}

/// The key of `key` in `segment`: the segment id, 8 bytes in numeric order, then the key.
fn segment_key(segment: i64, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + key.len());
    k.extend_from_slice(&keys::encode_time(segment));
    k.extend_from_slice(key);
    k
}

/// The first key after every key of `segment` (`None` after the last possible segment).
fn segment_end(segment: i64) -> Option<Vec<u8>> {
    segment
        .checked_add(1)
        .map(|next| keys::encode_time(next).to_vec())
}

/// RocksDB segments: one database whose keys start with their segment's id; an expired segment
/// goes with one range delete. Like Kafka Streams' logical segments (`LogicalKeyValueSegments`)
/// rather than its physical ones: a column family (or database) per segment costs a rewrite of
/// RocksDB's OPTIONS file for every segment created and dropped, which dominated processing
/// whenever event time moved fast — catching up on a backlog, replaying history.
pub struct RocksDbSegments {
    rocks: Database,
    segments: BTreeSet<i64>,
    /// Segments below this id are dropped but their keys not yet deleted: the range delete
    /// waits for the next flush, so that a store does not pile up one range tombstone per
    /// dropped segment in its memtable (each iterator would have to sort them all).
    drop_pending: Option<i64>,
}

impl RocksDbSegments {
    /// Opens (creating if needed) the segmented database of store `name` in `path`, finding
    /// the segments it holds.
    pub fn open(
        name: impl Into<String>,
        path: impl Into<PathBuf>,
        resources: &RocksDbResources,
    ) -> Result<Self> {
        let name = name.into();
        let refuse_column_families = |options: &Options, path: &Path| {
            if !path.join("CURRENT").exists() {
                return Ok(());
            }
            let families = DB::list_cf(options, path).map_err(|e| rocks_error(&name, path, e))?;
            match families.iter().find(|cf| cf.as_str() != "default") {
                Some(other) => Err(Error::RocksDb {
                    store: name.clone(),
                    path: path.to_path_buf(),
                    message: format!(
                        "unexpected column family `{other}` (a store written with one column \
                         family per segment by an older Rill): delete the directory to restore \
                         the store from its changelog"
                    ),
                }),
                None => Ok(()),
            }
        };
        let rocks = Database::open(name.clone(), path.into(), resources, refuse_column_families)?;
        let segments = Self::find_segments(rocks.db()?).map_err(|e| rocks.err(e))?;
        tracing::debug!(store = %rocks.name, path = %rocks.path.display(),
            segments = segments.len(), "opened RocksDB segmented store");
        Ok(RocksDbSegments {
            rocks,
            segments,
            drop_pending: None,
        })
    }

    /// The ids of the segments holding at least one key: one seek per segment.
    fn find_segments(db: &DB) -> std::result::Result<BTreeSet<i64>, rocksdb::Error> {
        let mut segments = BTreeSet::new();
        let mut iter = db.raw_iterator();
        iter.seek_to_first();
        while let Some(id) = iter.key().and_then(keys::decode_time) {
            segments.insert(id);
            match segment_end(id) {
                Some(next) => iter.seek(next),
                None => break,
            }
        }
        iter.status()?;
        Ok(segments)
    }
}

impl SegmentedBytesStore for RocksDbSegments {
    fn name(&self) -> &str {
        &self.rocks.name
    }
    fn persistent(&self) -> bool {
        true
    }
    fn is_open(&self) -> bool {
        self.rocks.db.is_some()
    }

    fn get(&self, segment: i64, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let db = self.rocks.db()?;
        if !self.segments.contains(&segment) {
            return Ok(None);
        }
        let key = segment_key(segment, key);
        if let Some(held) = self.rocks.pending.get(&key) {
            return Ok(held.map(<[u8]>::to_vec));
        }
        db.get_opt(key, &self.rocks.read_options)
            .map_err(|e| self.rocks.err(e))
    }

    fn write(&mut self, writes: Vec<SegmentWrite>, restoring: bool) -> Result<()> {
        self.rocks.db()?;
        if restoring {
            // Restored records come after anything held: write that first, so theirs win.
            self.rocks.write_pending()?;
        }
        let hold = !restoring && self.rocks.pending.holds();
        let mut batch = WriteBatch::default();
        let mut due = false;
        for w in &writes {
            if w.value.is_some() {
                self.segments.insert(w.segment);
            } else if !self.segments.contains(&w.segment) {
                continue; // a delete in a segment that does not exist has nothing to delete
            }
            let key = segment_key(w.segment, &w.key);
            match (&w.value, hold) {
                (value, true) => due |= self.rocks.pending.insert(&key, value.as_deref()),
                (Some(value), false) => batch.put(key, value),
                (None, false) => batch.delete(key),
            }
        }
        if !hold {
            return self.rocks.write_batch(batch, restoring);
        }
        // Held writes are durable only after a flush.
        self.rocks.unflushed = true;
        if due {
            self.rocks.write_pending()?;
        }
        Ok(())
    }

    fn scan<'a>(
        &'a self,
        segment_from: i64,
        segment_to: i64,
        lower: Vec<u8>,
        upper: Option<Vec<u8>>,
    ) -> Result<KeyValueIter<'a>> {
        let db = self.rocks.db()?;
        if segment_from > segment_to {
            return Ok(Box::new(std::iter::empty()));
        }
        if let Some(u) = &upper {
            if *u <= lower {
                return Ok(Box::new(std::iter::empty()));
            }
        }
        let ids: Vec<i64> = self
            .segments
            .range(segment_from..=segment_to)
            .copied()
            .collect();
        Ok(Box::new(ids.into_iter().flat_map(
            move |id| -> KeyValueIter<'a> {
                let from = segment_key(id, &lower);
                let end = upper
                    .as_ref()
                    .map(|u| segment_key(id, u))
                    .or_else(|| segment_end(id));
                let mut ro = ReadOptions::default();
                if let Some(end) = end.clone() {
                    ro.set_iterate_upper_bound(end);
                }
                let iter = db.iterator_opt(IteratorMode::From(&from, Direction::Forward), ro);
                let stored: KeyValueIter<'a> = Box::new(iter.map(move |item| {
                    item.map(|(k, v)| (k.into_vec(), v.into_vec()))
                        .map_err(|e| self.rocks.err(e))
                }));
                let merged = self.rocks.pending.over(&from, end.as_deref(), stored);
                // Without the segment id in front.
                Box::new(merged.map(|item| {
                    item.map(|(mut k, v)| {
                        k.drain(..8);
                        (k, v)
                    })
                }))
            },
        )))
    }

    fn segment_ids(&self) -> Vec<i64> {
        self.segments.iter().copied().collect()
    }

    fn drop_segments_before(&mut self, segment: i64) -> Result<Vec<i64>> {
        let expired: Vec<i64> = self.segments.range(..segment).copied().collect();
        if expired.is_empty() {
            return Ok(expired);
        }
        // Dropped from the bookkeeping now (gets and scans skip them); deleted at the flush.
        for id in &expired {
            self.segments.remove(id);
        }
        self.rocks.pending.drop_below(&keys::encode_time(segment));
        self.drop_pending = Some(segment);
        Ok(expired)
    }

    fn flush(&mut self) -> Result<()> {
        self.rocks.write_pending()?;
        if let Some(segment) = self.drop_pending.take() {
            let mut batch = WriteBatch::default();
            batch.delete_range(&[][..], &keys::encode_time(segment)[..]);
            self.rocks.write_batch(batch, false)?;
        }
        self.rocks.flush()
    }

    fn close(&mut self) -> Result<()> {
        if self.rocks.db.is_some() {
            self.flush()?;
            self.rocks.db = None;
        }
        Ok(())
    }
}

/// A RocksDB [`WindowStore`](crate::WindowStore), segmented by key prefix.
pub type RocksDbWindowStore = SegmentedWindowStore<RocksDbSegments>;

impl RocksDbWindowStore {
    /// Opens the window store `name` in database directory `path`; see
    /// [`InMemoryWindowStore::new`](crate::InMemoryWindowStore) for the other arguments.
    pub fn open(
        name: impl Into<String>,
        path: impl Into<PathBuf>,
        resources: &RocksDbResources,
        retention_ms: i64,
        retain_duplicates: bool,
    ) -> Result<Self> {
        Ok(SegmentedWindowStore::with_backend(
            RocksDbSegments::open(name, path, resources)?,
            retention_ms,
            retain_duplicates,
        ))
    }
}

/// A RocksDB [`SessionStore`](crate::SessionStore), segmented by key prefix.
pub type RocksDbSessionStore = SegmentedSessionStore<RocksDbSegments>;

impl RocksDbSessionStore {
    /// Opens the session store `name` in database directory `path`, keeping sessions for
    /// `retention_ms` after their end.
    pub fn open(
        name: impl Into<String>,
        path: impl Into<PathBuf>,
        resources: &RocksDbResources,
        retention_ms: i64,
    ) -> Result<Self> {
        Ok(SegmentedSessionStore::with_backend(
            RocksDbSegments::open(name, path, resources)?,
            retention_ms,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_suite::small_resources;

    fn stored(store: &RocksDbKeyValueStore, key: &[u8]) -> Option<Vec<u8>> {
        store.rocks.db().unwrap().get(key).unwrap()
    }

    fn all(store: &RocksDbKeyValueStore) -> Vec<(Vec<u8>, Vec<u8>)> {
        store.all().unwrap().map(|r| r.unwrap()).collect()
    }

    #[test]
    fn held_writes_are_read_before_rocksdb_and_written_on_flush() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = RocksDbKeyValueStore::open("kv", dir.path(), &small_resources()).unwrap();
        store.put(b"a", b"1").unwrap();
        store.put(b"c", b"3").unwrap();
        store.flush().unwrap();
        assert_eq!(stored(&store, b"a"), Some(b"1".to_vec()));

        // Held: an overwrite, a new key, a delete of a stored key, a delete of a held key.
        store.put(b"a", b"11").unwrap();
        store.put(b"b", b"2").unwrap();
        assert_eq!(store.delete(b"c").unwrap(), Some(b"3".to_vec()));
        store.put(b"d", b"4").unwrap();
        assert_eq!(store.delete(b"d").unwrap(), Some(b"4".to_vec()));
        assert_eq!(
            stored(&store, b"a"),
            Some(b"1".to_vec()),
            "not yet in RocksDB"
        );
        assert_eq!(store.get(b"a").unwrap(), Some(b"11".to_vec()));
        assert_eq!(store.get(b"c").unwrap(), None);
        assert_eq!(store.get(b"d").unwrap(), None);
        let expected = vec![
            (b"a".to_vec(), b"11".to_vec()),
            (b"b".to_vec(), b"2".to_vec()),
        ];
        assert_eq!(all(&store), expected);
        let ranged: Vec<_> = store
            .range(Some(b"b"), Some(b"c"))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(ranged, expected[1..]);
        assert_eq!(store.approximate_num_entries().unwrap(), 2);

        // A flush hands them to RocksDB; a reopened store has them.
        store.flush().unwrap();
        assert_eq!(stored(&store, b"a"), Some(b"11".to_vec()));
        assert_eq!(stored(&store, b"c"), None);
        store.put(b"e", b"5").unwrap();
        store.close().unwrap();
        let reopened = RocksDbKeyValueStore::open("kv", dir.path(), &small_resources()).unwrap();
        assert_eq!(all(&reopened).len(), 3);
        assert_eq!(reopened.get(b"e").unwrap(), Some(b"5".to_vec()));
    }

    #[test]
    fn held_writes_are_bounded_and_restores_come_after_them() {
        let dir = tempfile::tempdir().unwrap();
        let resources = small_resources();
        let mut store = RocksDbKeyValueStore::open("kv", dir.path(), &resources).unwrap();
        let value = [7u8; 1000];
        let bound = store.rocks.pending.limit;
        let keys = 2 * bound / value.len();
        for i in 0..keys {
            store.put(format!("k{i:05}").as_bytes(), &value).unwrap();
            assert!(store.rocks.pending.bytes < bound);
            assert_eq!(resources.held_writes_usage(), store.rocks.pending.bytes);
        }
        assert_eq!(stored(&store, b"k00000"), Some(value.to_vec()));
        assert_eq!(all(&store).len(), keys);

        store.put(b"r", b"held").unwrap();
        store
            .restore_batch(&[ChangelogRecord::new(
                b"r".to_vec(),
                Some(b"restored".to_vec()),
                0,
            )])
            .unwrap();
        assert_eq!(store.get(b"r").unwrap(), Some(b"restored".to_vec()));
    }

    /// The bound is the application's: what one store holds leaves less for the others, and a
    /// store closed or dropped no longer counts.
    #[test]
    fn stores_share_the_bound_on_held_writes() {
        use crate::WindowStore;
        let dir = tempfile::tempdir().unwrap();
        let mut config = RocksDbConfig::default();
        config.set("rocksdb.write.batch.bytes", "100000").unwrap();
        let resources = RocksDbResources::new(config).unwrap();
        let mut a = RocksDbKeyValueStore::open("a", dir.path().join("a"), &resources).unwrap();
        let mut b =
            RocksDbWindowStore::open("b", dir.path().join("b"), &resources, MIB as i64, false)
                .unwrap();
        let value = [1u8; 900];
        for i in 0..60u32 {
            a.put(&i.to_be_bytes(), &value).unwrap();
        }
        let held_by_a = resources.held_writes_usage();
        assert!(held_by_a > 50_000 && held_by_a < 100_000, "{held_by_a}");
        // The window store's writes reach the bound sooner: it hands them over itself.
        for i in 0..60u32 {
            b.put(&i.to_be_bytes(), Some(&value), 0).unwrap();
            assert!(resources.held_writes_usage() < 100_000 + 1_000);
        }
        assert_eq!(
            a.rocks.pending.bytes, held_by_a,
            "the key-value store still holds its own"
        );
        assert_eq!(
            b.fetch(&7u32.to_be_bytes(), 0).unwrap(),
            Some(value.to_vec())
        );
        drop(b);
        assert_eq!(resources.held_writes_usage(), held_by_a);
        a.close().unwrap();
        assert_eq!(resources.held_writes_usage(), 0);
    }

    #[test]
    fn write_batch_bytes_is_configurable() {
        let mut config = RocksDbConfig::default();
        assert_eq!(config.write_batch_bytes, 8 * MIB);
        config.set("rocksdb.write.batch.bytes", "0").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let resources = RocksDbResources::new(config).unwrap();
        let mut store = RocksDbKeyValueStore::open("kv", dir.path(), &resources).unwrap();
        store.put(b"a", b"1").unwrap();
        assert_eq!(stored(&store, b"a"), Some(b"1".to_vec()));
        assert!(store.rocks.pending.entries.is_empty());
    }

    #[test]
    fn with_the_write_ahead_log_nothing_is_held() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = RocksDbConfig::default();
        config.set("rocksdb.wal.enabled", "true").unwrap();
        let resources = RocksDbResources::new(config).unwrap();
        let mut store = RocksDbKeyValueStore::open("kv", dir.path(), &resources).unwrap();
        store.put(b"a", b"1").unwrap();
        store.put_all(&[(b"b", Some(b"2")), (b"a", None)]).unwrap();
        assert_eq!(stored(&store, b"a"), None);
        assert_eq!(stored(&store, b"b"), Some(b"2".to_vec()));
        assert!(store.rocks.pending.entries.is_empty());
    }
}
