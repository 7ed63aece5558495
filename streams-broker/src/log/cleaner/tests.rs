//! The cleaner's tests, and the helpers the tests of its sibling modules share: logs of a
//! compacted topic, batches of keyed records, and a consumer's view of a log.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use super::*;
use crate::clock::now_ms;
use crate::config::{FlushPolicy, TopicConfig, DEFAULT_DEDUPE_BUFFER_SIZE};
use crate::error::Error;
use crate::log::batch::{self, BatchHeader};

pub(crate) fn open(dir: &Path, pairs: &[(&str, &str)]) -> PartitionLog {
    let mut c = TopicConfig::default();
    c.set("cleanup.policy", "compact").unwrap();
    c.set("segment.bytes", "1024").unwrap();
    for (k, v) in pairs {
        c.set(k, v).unwrap();
    }
    PartitionLog::open(dir, "t", 0, Arc::new(c), FlushPolicy::Never).unwrap()
}

/// An idempotent or transactional producer's identity.
#[derive(Clone, Copy)]
pub(crate) struct Producer {
    pub(crate) id: i64,
    pub(crate) transactional: bool,
    /// Sequence number of the batch's first record: a producer's batches continue
    /// each other's sequences, or the broker takes a retry for a duplicate.
    pub(crate) first_seq: i32,
}

pub(crate) fn encode_records(records: Vec<Record>, compression: Compression) -> Vec<u8> {
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression,
        },
    )
    .unwrap();
    buf.to_vec()
}

pub(crate) fn record(
    i: usize,
    key: Option<&str>,
    value: Option<&str>,
    ts: i64,
    producer: Option<Producer>,
) -> Record {
    Record {
        transactional: producer.is_some_and(|p| p.transactional),
        control: false,
        delete_horizon: false,
        partition_leader_epoch: -1,
        producer_id: producer.map_or(-1, |p| p.id),
        producer_epoch: producer.map_or(-1, |_| 0),
        timestamp_type: TimestampType::Creation,
        offset: i as i64,
        // The encoder derives the batch's base sequence from the records' and starts a
        // new batch when `offset - sequence` changes: -1 for the first record of a
        // plain producer's batch keeps them all in one batch with base sequence -1.
        sequence: producer.map_or(i as i32 - 1, |p| p.first_seq + i as i32),
        timestamp: ts,
        key: key.map(|k| Bytes::copy_from_slice(k.as_bytes())),
        value: value.map(|v| Bytes::copy_from_slice(v.as_bytes())),
        headers: IndexMap::new(),
    }
}

pub(crate) type Kv<'a> = (Option<&'a str>, Option<&'a str>);

pub(crate) fn batch_of(
    kvs: &[Kv<'_>],
    ts: i64,
    compression: Compression,
    p: Option<Producer>,
) -> Vec<u8> {
    let records = kvs
        .iter()
        .enumerate()
        .map(|(i, (k, v))| record(i, *k, *v, ts + i as i64, p))
        .collect();
    encode_records(records, compression)
}

pub(crate) fn batch(kvs: &[Kv<'_>], ts: i64) -> Vec<u8> {
    batch_of(kvs, ts, Compression::None, None)
}

/// A transaction marker: a control batch of one record whose key is
/// `version 0 | type` (0 abort, 1 commit).
pub(crate) fn marker(p: Producer, commit: bool, ts: i64) -> Vec<u8> {
    let mut r = record(0, None, Some("\0\0\0\0\0\0"), ts, Some(p));
    r.control = true;
    r.sequence = -1;
    r.key = Some(Bytes::from(vec![0, 0, 0, u8::from(commit)]));
    encode_records(vec![r], Compression::None)
}

pub(crate) fn append(log: &PartitionLog, mut b: Vec<u8>) -> i64 {
    // Transaction markers are the coordinator's to write, not a producer's.
    if let Some(kind) = batch::control_type(&b) {
        let h = BatchHeader::parse(&b).unwrap();
        return log
            .append_marker(h.producer_id, h.producer_epoch, kind, 0)
            .unwrap();
    }
    log.append(&mut b).unwrap().base_offset
}

/// Appends `n` batches of an unrelated key, enough to roll several segments.
pub(crate) fn fill(log: &PartitionLog, n: usize, ts: i64) {
    for _ in 0..n {
        append(
            log,
            batch(&[(Some("filler"), Some("xxxxxxxxxxxxxxxxxxxx"))], ts),
        );
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seen {
    pub(crate) offset: i64,
    pub(crate) key: Option<String>,
    pub(crate) value: Option<String>,
    pub(crate) control: bool,
}

pub(crate) fn text(b: &Option<Bytes>) -> Option<String> {
    b.as_ref().map(|b| String::from_utf8_lossy(b).into_owned())
}

/// Every batch header and every record of the log, as a consumer reading from the
/// start gets them.
pub(crate) fn read_all(log: &PartitionLog) -> (Vec<BatchHeader>, Vec<Seen>) {
    let (mut headers, mut seen) = (Vec::new(), Vec::new());
    let mut offset = log.log_start_offset();
    while offset < log.log_end_offset() {
        let r = log.read(offset, 1 << 20).unwrap();
        assert!(!r.records.is_empty(), "nothing at {offset}");
        let mut pos = 0;
        while let Some(h) = BatchHeader::parse(&r.records[pos..]) {
            assert!(batch::crc_ok(&r.records[pos..pos + h.size]));
            let mut b = r.records.slice(pos..pos + h.size);
            let set = RecordBatchDecoder::decode(&mut b).unwrap();
            for rec in set.records.iter().filter(|rec| rec.offset >= offset) {
                seen.push(Seen {
                    offset: rec.offset,
                    key: text(&rec.key),
                    value: text(&rec.value),
                    control: rec.control,
                });
            }
            headers.push(h);
            offset = h.next_offset();
            pos += h.size;
            if pos >= r.records.len() {
                break;
            }
        }
    }
    (headers, seen)
}

pub(crate) fn records(log: &PartitionLog) -> Vec<Seen> {
    read_all(log).1
}

pub(crate) fn active_base(log: &PartitionLog) -> i64 {
    log.lock().segments.last().map(|s| s.base_offset).unwrap()
}

/// Twenty rounds of five keys, one batch per round; returns key → (offset, value) of
/// the latest record of each key.
pub(crate) fn rounds(log: &PartitionLog, ts: i64) -> BTreeMap<String, (i64, String)> {
    let mut latest = BTreeMap::new();
    for round in 0..20 {
        let kvs: Vec<(String, String)> = (0..5)
            .map(|k| (format!("key-{k}"), format!("value-{round}-{k}")))
            .collect();
        let refs: Vec<Kv<'_>> = kvs
            .iter()
            .map(|(k, v)| (Some(k.as_str()), Some(v.as_str())))
            .collect();
        let base = append(log, batch(&refs, ts));
        for (i, (k, v)) in kvs.iter().enumerate() {
            latest.insert(k.clone(), (base + i as i64, v.clone()));
        }
    }
    latest
}

pub(crate) fn assert_offsets_increase(seen: &[Seen]) {
    assert!(
        seen.windows(2).all(|w| w[0].offset < w[1].offset),
        "{seen:?}"
    );
}

pub(crate) fn swap_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    found.sort();
    found
}

#[test]
fn keeps_the_latest_record_of_every_key_at_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), &[]);
    let now = now_ms();
    let latest = rounds(&log, now);
    assert!(log.segment_count() > 3, "{} segments", log.segment_count());
    let before = records(&log);
    let active = active_base(&log);
    // The pass reaches up to the active segment: the latest record of each key there.
    let mut latest_cleanable = BTreeMap::new();
    for s in before.iter().filter(|s| s.offset < active) {
        latest_cleanable.insert(s.key.clone().unwrap(), s.offset);
    }
    let stats = log.clean(now).unwrap();
    assert!(stats.records_removed > 0, "{stats:?}");
    assert!(stats.bytes_after < stats.bytes_before, "{stats:?}");
    let after = records(&log);
    assert_offsets_increase(&after);
    for s in &after {
        assert!(before.contains(s), "{s:?} was not in the log");
        if s.offset < active {
            let key = s.key.clone().unwrap();
            assert_eq!(
                latest_cleanable[&key], s.offset,
                "{s:?} is not the latest of its key"
            );
        }
    }
    assert_eq!(
        after.iter().filter(|s| s.offset < active).count(),
        latest_cleanable.len(),
        "one record per key below the active segment"
    );
    for (key, (offset, value)) in &latest {
        let s = after.iter().find(|s| s.offset == *offset).unwrap();
        assert_eq!((s.key.as_ref(), s.value.as_ref()), (Some(key), Some(value)));
    }
    // The active segment is untouched.
    let tail = |v: &[Seen]| {
        v.iter()
            .filter(|s| s.offset >= active)
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(tail(&before), tail(&after));
    assert!(!tail(&after).is_empty());
    assert_eq!(log.log_end_offset(), 100);
    assert_eq!(log.first_dirty_offset(), active);
    // A fetch inside a removed range gets the next batch.
    let removed = (0..active)
        .find(|o| !after.iter().any(|s| s.offset == *o))
        .unwrap();
    let r = log.read(removed, 1 << 20).unwrap();
    let h = BatchHeader::parse(&r.records).unwrap();
    assert!(h.last_offset() >= removed);
    // Nothing more to remove, but the segments the first pass shrank are merged.
    let segments = log.segment_count();
    let again = log.clean(now).unwrap();
    assert_eq!(again.records_removed, 0);
    assert!(again.segments_written < again.segments_read, "{again:?}");
    assert!(log.segment_count() < segments);
    assert_eq!(records(&log), after);
    // The result survives a restart.
    drop(log);
    let log = open(dir.path(), &[]);
    assert_eq!(records(&log), after);
    assert_eq!(
        append(&log, batch(&[(Some("key-0"), Some("new"))], now)),
        100
    );
}

#[test]
fn appends_and_reads_go_on_during_a_clean() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(open(dir.path(), &[]));
    let now = now_ms();
    rounds(&log, now);
    let writer = {
        let log = log.clone();
        std::thread::spawn(move || {
            for i in 0..300 {
                let v = format!("w{i}");
                append(&log, batch(&[(Some("w"), Some(v.as_str()))], now));
            }
        })
    };
    // A reader fetches the whole log again and again meanwhile: every batch it gets is
    // whole and valid, offsets only increase, and a fetch inside a removed range gets
    // the next batch.
    let reader = {
        let log = log.clone();
        std::thread::spawn(move || {
            let mut reads = 0;
            while log.log_end_offset() < 400 || reads < 5 {
                let (headers, seen) = read_all(&log);
                assert!(headers
                    .windows(2)
                    .all(|w| w[0].next_offset() <= w[1].base_offset));
                assert_offsets_increase(&seen);
                reads += 1;
            }
            reads
        })
    };
    let mut passes = 0;
    while !writer.is_finished() {
        log.clean(now).unwrap();
        passes += 1;
    }
    writer.join().unwrap();
    assert!(reader.join().unwrap() >= 5);
    log.clean(now).unwrap();
    assert!(passes > 0);
    assert_eq!(log.log_end_offset(), 400);
    let seen = records(&log);
    assert_offsets_increase(&seen);
    let last = seen.last().unwrap();
    assert_eq!((last.offset, last.value.as_deref()), (399, Some("w299")));
    assert_eq!(
        seen.iter()
            .filter(|s| s.key.as_deref() != Some("w"))
            .count(),
        5,
        "one record per round key"
    );
}

#[test]
fn a_full_offset_map_spreads_the_dirty_section_over_several_passes() {
    let now = now_ms();
    let reference_dir = tempfile::tempdir().unwrap();
    let reference = open(reference_dir.path(), &[]);
    rounds(&reference, now);
    reference.clean(now).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), &[]);
    rounds(&log, now);
    let active = active_base(&log);
    let no = AtomicBool::new(false);
    let mut passes = 0;
    while log.first_dirty_offset() < active {
        let before = log.first_dirty_offset();
        // A one-byte map holds one segment's keys per pass.
        log.clean_pass(now, 1, &no).unwrap();
        assert!(
            log.first_dirty_offset() > before,
            "each pass makes progress"
        );
        passes += 1;
        if passes == 1 {
            assert!(log.needs_cleaning(now), "the rest waits for the next pass");
        }
    }
    assert!(passes > 1);
    log.clean(now).unwrap();
    reference.clean(now).unwrap();
    assert_eq!(records(&log), records(&reference));
}

#[test]
fn a_cancelled_pass_leaves_the_log_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), &[]);
    let now = now_ms();
    rounds(&log, now);
    let before = records(&log);
    let cancelled = log.clean_pass(now, DEFAULT_DEDUPE_BUFFER_SIZE, &AtomicBool::new(true));
    assert!(matches!(cancelled, Err(Error::Stopped)));
    assert_eq!(records(&log), before);
    assert!(swap_dirs(dir.path()).is_empty());
    assert_eq!(log.first_dirty_offset(), 0);
}

#[test]
fn tombstones_stay_for_delete_retention_then_go() {
    let dir = tempfile::tempdir().unwrap();
    let pairs = [("delete.retention.ms", "1000")];
    let log = open(dir.path(), &pairs);
    let t0 = now_ms();
    append(
        &log,
        batch(&[(Some("a"), Some("1")), (Some("b"), Some("1"))], t0),
    );
    append(&log, batch(&[(Some("a"), None)], t0));
    fill(&log, 30, t0);
    let first = log.clean(t0).unwrap();
    assert_eq!(first.tombstones_removed, 0);
    let seen = records(&log);
    let a: Vec<_> = seen
        .iter()
        .filter(|s| s.key.as_deref() == Some("a"))
        .collect();
    assert_eq!(a.len(), 1, "only the tombstone is left of `a`: {a:?}");
    assert_eq!((a[0].offset, a[0].value.as_deref()), (2, None));
    assert!(seen.iter().any(|s| s.key.as_deref() == Some("b")));
    // The horizon is in the batch: it survives a restart.
    drop(log);
    let log = open(dir.path(), &pairs);
    assert_eq!(log.clean(t0 + 999).unwrap().tombstones_removed, 0);
    assert!(records(&log).iter().any(|s| s.offset == 2));
    let last = log.clean(t0 + 1000).unwrap();
    assert_eq!(last.tombstones_removed, 1);
    let seen = records(&log);
    assert!(!seen.iter().any(|s| s.key.as_deref() == Some("a")));
    assert!(seen.iter().any(|s| s.key.as_deref() == Some("b")));
    // Record timestamps are unchanged by the horizon in the base timestamp.
    let (headers, _) = read_all(&log);
    assert!(headers.iter().all(|h| h.max_timestamp <= t0 + 100));
}

#[test]
fn the_active_segment_is_never_cleaned() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), &[("segment.bytes", "1048576")]);
    let now = now_ms();
    rounds(&log, now);
    let before = records(&log);
    assert_eq!(log.segment_count(), 1);
    assert_eq!(log.clean(now).unwrap(), CleanStats::default());
    assert_eq!(records(&log), before);
    assert!(!log.needs_cleaning(now));
}

#[test]
fn compressed_batches_are_recompressed_with_their_codec() {
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), &[("segment.bytes", "2048")]);
        let now = now_ms();
        let mut latest = BTreeMap::new();
        for round in 0..40 {
            let kvs: Vec<(String, String)> = (0..6)
                .map(|k| {
                    (
                        format!("key-{}", (round + k) % 9),
                        format!("{codec:?}-{round}-{k}"),
                    )
                })
                .collect();
            let refs: Vec<Kv<'_>> = kvs
                .iter()
                .map(|(k, v)| (Some(k.as_str()), Some(v.as_str())))
                .collect();
            let base = append(&log, batch_of(&refs, now, codec, None));
            for (i, (k, v)) in kvs.iter().enumerate() {
                latest.insert(k.clone(), (base + i as i64, v.clone()));
            }
        }
        assert!(log.segment_count() > 2, "{codec:?}");
        let active = active_base(&log);
        let before = records(&log);
        let mut latest_cleanable = BTreeMap::new();
        for s in before.iter().filter(|s| s.offset < active) {
            latest_cleanable.insert(s.key.clone().unwrap(), s.offset);
        }
        let stats = log.clean(now).unwrap();
        assert!(stats.records_removed > 0, "{codec:?}: {stats:?}");
        let (headers, seen) = read_all(&log);
        assert!(
            headers
                .iter()
                .filter(|h| h.records_count > 0)
                .all(|h| h.compression() == codec as i16),
            "{codec:?}: every batch keeps its codec"
        );
        assert!(
            headers.iter().any(|h| h.base_offset < active
                && h.records_count > 0
                && i64::from(h.records_count) < i64::from(h.last_offset_delta) + 1),
            "{codec:?}: some batches were rewritten with fewer records"
        );
        assert_offsets_increase(&seen);
        for s in seen.iter().filter(|s| s.offset < active) {
            assert_eq!(
                latest_cleanable[s.key.as_deref().unwrap()],
                s.offset,
                "{codec:?}"
            );
        }
        for (key, (offset, value)) in &latest {
            assert!(
                seen.iter().any(|s| s.offset == *offset
                    && s.key.as_ref() == Some(key)
                    && s.value.as_ref() == Some(value)),
                "{codec:?}: latest {key} missing"
            );
        }
    }
}

#[test]
fn aborted_transactions_go_and_markers_stay_until_their_data_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), &[("delete.retention.ms", "100")]);
    let t0 = now_ms();
    let p7 = Producer {
        id: 7,
        transactional: true,
        first_seq: 0,
    };
    let p8 = Producer {
        id: 8,
        transactional: true,
        first_seq: 0,
    };
    let none = Compression::None;
    append(&log, batch(&[(Some("k1"), Some("v1"))], t0)); // 0
    append(
        &log,
        batch_of(&[(Some("k1"), Some("aborted"))], t0, none, Some(p7)),
    ); // 1
    let abort = append(&log, marker(p7, false, t0)); // 2
    append(
        &log,
        batch_of(&[(Some("k2"), Some("committed"))], t0, none, Some(p8)),
    ); // 3
    let commit = append(&log, marker(p8, true, t0)); // 4
    append(
        &log,
        batch_of(
            &[(Some("k3"), Some("later"))],
            t0,
            none,
            Some(Producer { first_seq: 1, ..p7 }),
        ),
    ); // 5
    let commit7 = append(&log, marker(p7, true, t0)); // 6
    fill(&log, 30, t0);
    let has = |log: &PartitionLog, offset: i64| records(log).iter().any(|s| s.offset == offset);

    log.clean(t0).unwrap();
    let seen = records(&log);
    let k1: Vec<_> = seen
        .iter()
        .filter(|s| s.key.as_deref() == Some("k1"))
        .collect();
    assert_eq!(k1.len(), 1, "{k1:?}");
    assert_eq!(
        k1[0].value.as_deref(),
        Some("v1"),
        "an aborted value never wins"
    );
    assert!(!has(&log, 1), "aborted records are removed");
    assert!(
        has(&log, abort),
        "the abort marker stays while its data was there"
    );
    assert!(has(&log, 3) && has(&log, commit) && has(&log, 5) && has(&log, commit7));

    // Its data gone, the abort marker gets a delete horizon...
    log.clean(t0).unwrap();
    assert!(has(&log, abort));
    // ...and goes when it has passed. Committed data keeps its marker.
    let stats = log.clean(t0 + 100).unwrap();
    assert!(stats.records_removed >= 1);
    assert!(!has(&log, abort));
    assert!(has(&log, 3) && has(&log, commit) && has(&log, 5) && has(&log, commit7));
    let seen = records(&log);
    assert!(seen
        .iter()
        .all(|s| !s.control || s.offset == commit || s.offset == commit7));
}

#[test]
fn open_transactions_hold_the_cleaner_back() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), &[]);
    let now = now_ms();
    let p9 = Producer {
        id: 9,
        transactional: true,
        first_seq: 0,
    };
    fill(&log, 30, now);
    let open_at = append(
        &log,
        batch_of(
            &[(Some("t"), Some("pending"))],
            now,
            Compression::None,
            Some(p9),
        ),
    );
    fill(&log, 20, now);
    log.clean(now).unwrap();
    let seen = records(&log);
    let fillers_before = seen
        .iter()
        .filter(|s| s.key.as_deref() == Some("filler") && s.offset < open_at)
        .count();
    assert!(
        fillers_before < 20,
        "superseded records before the transaction go"
    );
    let fillers_after = seen
        .iter()
        .filter(|s| s.key.as_deref() == Some("filler") && s.offset > open_at)
        .count();
    assert_eq!(
        fillers_after, 20,
        "nothing from the open transaction on is cleaned"
    );
    assert!(log.first_dirty_offset() <= open_at);
    assert!(
        !log.needs_cleaning(now),
        "with nothing appended since, another pass would be in vain"
    );
    // Once committed, the rest can be cleaned.
    append(&log, marker(p9, true, now));
    fill(&log, 20, now);
    log.clean(now).unwrap();
    let fillers = records(&log)
        .iter()
        .filter(|s| s.key.as_deref() == Some("filler") && s.offset < active_base(&log))
        .count();
    assert!(fillers <= 1, "{fillers} fillers left");
    assert!(records(&log).iter().any(|s| s.offset == open_at));
}

#[test]
fn a_producers_last_batch_stays_as_an_empty_batch() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), &[]);
    let now = now_ms();
    let p5 = Producer {
        id: 5,
        transactional: false,
        first_seq: 0,
    };
    append(
        &log,
        batch_of(
            &[(Some("a"), Some("1")), (Some("b"), Some("1"))],
            now,
            Compression::None,
            Some(p5),
        ),
    );
    append(
        &log,
        batch(&[(Some("a"), Some("2")), (Some("b"), Some("2"))], now),
    );
    fill(&log, 30, now);
    log.clean(now).unwrap();
    let (headers, seen) = read_all(&log);
    assert!(
        !seen.iter().any(|s| s.offset < 2),
        "both records of producer 5 are superseded"
    );
    let first = headers[0];
    assert_eq!(
        (
            first.base_offset,
            first.last_offset(),
            first.records_count,
            first.producer_id
        ),
        (0, 1, 0, 5),
        "its batch stays, empty, with its offsets and producer id"
    );
}

#[test]
fn min_compaction_lag_protects_recent_records() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), &[("min.compaction.lag.ms", "3600000")]);
    let t0 = now_ms();
    rounds(&log, t0);
    assert_eq!(log.clean(t0).unwrap().records_removed, 0);
    assert!(!log.needs_cleaning(t0));
    assert!(log.needs_cleaning(t0 + 7_200_000));
    assert!(log.clean(t0 + 7_200_000).unwrap().records_removed > 0);
}

#[test]
fn the_background_cleaner_waits_for_the_dirty_ratio() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(dir.path(), &[]);
    let now = now_ms();
    rounds(&log, now);
    assert!(log.needs_cleaning(now), "a log never cleaned is all dirty");
    log.clean(now).unwrap();
    assert!(
        !log.needs_cleaning(now),
        "nothing dirty right after a clean"
    );
    // A dirty share above min.cleanable.dirty.ratio (0.5) calls for a pass again.
    rounds(&log, now);
    rounds(&log, now);
    assert!(log.needs_cleaning(now));
    // A delete-only topic is never cleaned.
    let other = tempfile::tempdir().unwrap();
    let mut c = TopicConfig::default();
    c.set("segment.bytes", "1024").unwrap();
    let plain = PartitionLog::open(other.path(), "p", 0, Arc::new(c), FlushPolicy::Never).unwrap();
    rounds(&plain, now);
    assert!(!plain.needs_cleaning(now));
    assert_eq!(plain.clean(now).unwrap(), CleanStats::default());
}

#[test]
fn compact_and_delete_topics_are_also_trimmed_by_retention() {
    let dir = tempfile::tempdir().unwrap();
    let log = open(
        dir.path(),
        &[
            ("cleanup.policy", "compact,delete"),
            ("retention.ms", "60000"),
        ],
    );
    let now = now_ms();
    for i in 0..30 {
        let key = format!("old-{i}");
        append(
            &log,
            batch(&[(Some(key.as_str()), Some("v"))], now - 3_600_000),
        );
    }
    fill(&log, 30, now);
    let fillers = |seen: &[Seen]| {
        seen.iter()
            .filter(|s| s.key.as_deref() == Some("filler"))
            .count()
    };
    assert!(log.clean(now).unwrap().records_removed > 0);
    let compacted = records(&log);
    let deleted = log.enforce_retention(now).unwrap();
    assert!(deleted > 0);
    assert!(log.log_start_offset() > 0);
    let seen = records(&log);
    let old = |seen: &[Seen]| {
        seen.iter()
            .filter(|s| s.key.as_deref().is_some_and(|k| k.starts_with("old-")))
            .count()
    };
    assert_eq!(
        old(&compacted),
        30,
        "distinct keys are all kept by compaction"
    );
    assert!(old(&seen) < 30, "expired segments are deleted");
    assert!(seen.iter().all(|s| s.offset >= log.log_start_offset()));
    assert_eq!(fillers(&seen), fillers(&compacted), "recent records stay");
}
