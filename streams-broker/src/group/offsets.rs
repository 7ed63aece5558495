//! Committed offsets and their durable home, the internal topic `__consumer_offsets`.
//!
//! A group's committed position in a partition is an [`OffsetAndMetadata`]. Every commit
//! is appended to `__consumer_offsets` as a record keyed by (group, topic, partition)
//! before the in-memory view changes, and the topic is read back in full at start-up, so
//! commits survive restarts. Deleting a group writes tombstones (null values); the topic
//! is `cleanup.policy=compact`, so the cleaner keeps only the latest record per key.
//! This is the storage half of Kafka's `GroupMetadataManager`, and the record layouts are
//! Kafka's own: `OffsetCommitKey` v1 / `OffsetCommitValue` v3 and `GroupMetadataKey` v2 /
//! `GroupMetadataValue` v3 (written without members: membership is not restored), and for
//! groups of the consumer protocol (KIP-848) `ConsumerGroupMetadataKey` v3 with its
//! epoch (again without members: a member rejoins after a restart, with a higher epoch).

use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use crate::clock::now_ms;
use crate::error::{Error, Result};
use crate::log::batch::BatchHeader;
use crate::log::PartitionLog;

/// The internal topic holding committed offsets and group records, as in Kafka.
pub(crate) const OFFSETS_TOPIC: &str = "__consumer_offsets";

/// Topic-level configuration of [`OFFSETS_TOPIC`]: compacted, with Kafka's
/// `offsets.topic.segment.bytes` (100 MiB).
pub(crate) const OFFSETS_TOPIC_CONFIG: &[(&str, &str)] = &[
    ("cleanup.policy", "compact"),
    ("segment.bytes", "104857600"),
];

/// Key versions 0 and 1 are offset commits; version 2 is group metadata (Kafka's schemas).
const OFFSET_KEY_VERSION: i16 = 1;
const GROUP_KEY_VERSION: i16 = 2;
const OFFSET_VALUE_VERSION: i16 = 3;
const GROUP_VALUE_VERSION: i16 = 3;
/// Key version 3 is a consumer-protocol group's metadata (Kafka's `ConsumerGroupMetadataKey`).
const CONSUMER_GROUP_KEY_VERSION: i16 = 3;
const CONSUMER_GROUP_VALUE_VERSION: i16 = 0;

/// Bytes read from the log per step while loading.
const LOAD_CHUNK: usize = 1 << 20;

/// A committed offset, like Kafka's `OffsetAndMetadata`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetAndMetadata {
    /// The next offset the group will consume in the partition.
    pub offset: i64,
    /// The leader epoch of the last consumed record, -1 when unknown.
    pub leader_epoch: i32,
    /// Free-form metadata the client committed with the offset.
    pub metadata: String,
    /// When the broker accepted the commit, in milliseconds since the epoch.
    pub commit_timestamp: i64,
}

/// One partition's offset to commit through
/// [`GroupCoordinator::commit_offsets`](super::GroupCoordinator::commit_offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartitionOffset {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// The next offset to consume.
    pub offset: i64,
    /// The leader epoch of the last consumed record, -1 when unknown.
    pub leader_epoch: i32,
    /// Metadata to store with the offset.
    pub metadata: String,
}

/// What a group record remembers of a group: enough to keep generations increasing
/// across restarts and to list the group before any member rejoins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupRecord {
    /// `consumer`, `connect`, … (empty for groups that only store offsets).
    pub protocol_type: String,
    /// The generation the group had reached.
    pub generation: i32,
    /// The selected protocol (assignor) of that generation.
    pub protocol: Option<String>,
    /// The leader of that generation.
    pub leader: Option<String>,
    /// When the group entered its last state.
    pub state_timestamp: i64,
}

/// One record of `__consumer_offsets`, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StoredRecord {
    /// An offset commit, or its tombstone (`None`).
    Offset {
        /// The group.
        group: String,
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The offset, `None` for a tombstone.
        value: Option<OffsetAndMetadata>,
    },
    /// A group's metadata, or its tombstone (`None`).
    Group {
        /// The group.
        group: String,
        /// The metadata, `None` for a tombstone.
        value: Option<GroupRecord>,
    },
    /// A consumer-protocol group's epoch, or its tombstone (`None`).
    ConsumerGroup {
        /// The group.
        group: String,
        /// The group epoch.
        epoch: Option<i32>,
    },
}

fn put_string(out: &mut BytesMut, s: &str) {
    // Kafka strings carry an i16 length; group ids, topics and metadata are far shorter
    // (metadata is capped by `offset.metadata.max.bytes` before it gets here).
    let bytes = &s.as_bytes()[..s.len().min(i16::MAX as usize)];
    out.put_i16(bytes.len() as i16);
    out.put_slice(bytes);
}

fn put_nullable_string(out: &mut BytesMut, s: Option<&str>) {
    match s {
        Some(s) => put_string(out, s),
        None => out.put_i16(-1),
    }
}

fn get_nullable_string(b: &mut Bytes) -> Option<Option<String>> {
    if b.remaining() < 2 {
        return None;
    }
    let len = b.get_i16();
    if len < 0 {
        return Some(None);
    }
    let len = len as usize;
    if b.remaining() < len {
        return None;
    }
    let s = b.split_to(len);
    Some(Some(String::from_utf8_lossy(&s).into_owned()))
}

fn get_string(b: &mut Bytes) -> Option<String> {
    get_nullable_string(b)?
}

fn get_i16(b: &mut Bytes) -> Option<i16> {
    (b.remaining() >= 2).then(|| b.get_i16())
}

fn get_i32(b: &mut Bytes) -> Option<i32> {
    (b.remaining() >= 4).then(|| b.get_i32())
}

fn get_i64(b: &mut Bytes) -> Option<i64> {
    (b.remaining() >= 8).then(|| b.get_i64())
}

impl StoredRecord {
    /// The record's key and value (`None` for a tombstone) in Kafka's layouts.
    pub(crate) fn encode(&self) -> (Bytes, Option<Bytes>) {
        let mut key = BytesMut::new();
        match self {
            StoredRecord::Offset {
                group,
                topic,
                partition,
                value,
            } => {
                key.put_i16(OFFSET_KEY_VERSION);
                put_string(&mut key, group);
                put_string(&mut key, topic);
                key.put_i32(*partition);
                let value = value.as_ref().map(|v| {
                    let mut out = BytesMut::new();
                    out.put_i16(OFFSET_VALUE_VERSION);
                    out.put_i64(v.offset);
                    out.put_i32(v.leader_epoch);
                    put_string(&mut out, &v.metadata);
                    out.put_i64(v.commit_timestamp);
                    out.freeze()
                });
                (key.freeze(), value)
            }
            StoredRecord::Group { group, value } => {
                key.put_i16(GROUP_KEY_VERSION);
                put_string(&mut key, group);
                let value = value.as_ref().map(|v| {
                    let mut out = BytesMut::new();
                    out.put_i16(GROUP_VALUE_VERSION);
                    put_string(&mut out, &v.protocol_type);
                    out.put_i32(v.generation);
                    put_nullable_string(&mut out, v.protocol.as_deref());
                    put_nullable_string(&mut out, v.leader.as_deref());
                    out.put_i64(v.state_timestamp);
                    out.put_i32(0); // members: not persisted
                    out.freeze()
                });
                (key.freeze(), value)
            }
            StoredRecord::ConsumerGroup { group, epoch } => {
                key.put_i16(CONSUMER_GROUP_KEY_VERSION);
                put_string(&mut key, group);
                let value = epoch.map(|epoch| {
                    let mut out = BytesMut::new();
                    out.put_i16(CONSUMER_GROUP_VALUE_VERSION);
                    out.put_i32(epoch);
                    out.put_u8(0); // a flexible version: no tagged fields
                    out.freeze()
                });
                (key.freeze(), value)
            }
        }
    }

    /// Decodes a record of `__consumer_offsets`; `None` for layouts this broker does not
    /// know (they are skipped with a warning by the loader).
    pub(crate) fn decode(key: &Bytes, value: Option<&Bytes>) -> Option<StoredRecord> {
        let mut k = key.clone();
        match get_i16(&mut k)? {
            0 | 1 => {
                let group = get_string(&mut k)?;
                let topic = get_string(&mut k)?;
                let partition = get_i32(&mut k)?;
                let value = match value {
                    None => None,
                    Some(v) => {
                        let mut v = v.clone();
                        let version = get_i16(&mut v)?;
                        let offset = get_i64(&mut v)?;
                        let leader_epoch = if version >= 3 { get_i32(&mut v)? } else { -1 };
                        let metadata = get_string(&mut v)?;
                        let commit_timestamp = get_i64(&mut v)?;
                        Some(OffsetAndMetadata {
                            offset,
                            leader_epoch,
                            metadata,
                            commit_timestamp,
                        })
                    }
                };
                Some(StoredRecord::Offset {
                    group,
                    topic,
                    partition,
                    value,
                })
            }
            2 => {
                let group = get_string(&mut k)?;
                let value = match value {
                    None => None,
                    Some(v) => {
                        let mut v = v.clone();
                        let version = get_i16(&mut v)?;
                        let protocol_type = get_string(&mut v)?;
                        let generation = get_i32(&mut v)?;
                        let protocol = get_nullable_string(&mut v)?;
                        let leader = get_nullable_string(&mut v)?;
                        let state_timestamp = if version >= 2 { get_i64(&mut v)? } else { -1 };
                        Some(GroupRecord {
                            protocol_type,
                            generation,
                            protocol,
                            leader,
                            state_timestamp,
                        })
                    }
                };
                Some(StoredRecord::Group { group, value })
            }
            CONSUMER_GROUP_KEY_VERSION => {
                let group = get_string(&mut k)?;
                let epoch = match value {
                    None => None,
                    Some(v) => {
                        let mut v = v.clone();
                        let _version = get_i16(&mut v)?;
                        Some(get_i32(&mut v)?)
                    }
                };
                Some(StoredRecord::ConsumerGroup { group, epoch })
            }
            _ => None,
        }
    }
}

/// Appends to and reads back the single partition of `__consumer_offsets`.
#[derive(Debug)]
pub(crate) struct OffsetLog {
    log: Arc<PartitionLog>,
}

impl OffsetLog {
    /// Wraps the partition log of [`OFFSETS_TOPIC`].
    pub(crate) fn new(log: Arc<PartitionLog>) -> OffsetLog {
        OffsetLog { log }
    }

    /// Appends `records` as one batch; all of them are durable (per the broker's flush
    /// policy) or none is.
    pub(crate) fn append(&self, records: &[StoredRecord]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let records: Vec<Record> = records
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let (key, value) = r.encode();
                Record {
                    transactional: false,
                    control: false,
                    delete_horizon: false,
                    partition_leader_epoch: -1,
                    producer_id: -1,
                    producer_epoch: -1,
                    timestamp_type: TimestampType::Creation,
                    offset: i as i64,
                    sequence: -1,
                    timestamp: now,
                    key: Some(key),
                    value,
                    headers: IndexMap::new(),
                }
            })
            .collect();
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut buf,
            &records,
            &RecordEncodeOptions {
                version: 2,
                compression: Compression::None,
            },
        )
        .map_err(|e| Error::CorruptBatch {
            position: 0,
            reason: format!("cannot encode a {OFFSETS_TOPIC} batch: {e}"),
        })?;
        self.log.append(&mut buf)?;
        Ok(())
    }

    /// Reads the whole log, oldest first. Records of unknown layouts and batches that
    /// cannot be decoded are skipped with a warning: a bad record must not keep the
    /// broker from starting.
    pub(crate) fn load(&self) -> Result<Vec<StoredRecord>> {
        let mut out = Vec::new();
        let mut offset = self.log.log_start_offset();
        let end = self.log.log_end_offset();
        while offset < end {
            let read = self.log.read(offset, LOAD_CHUNK)?;
            if read.records.is_empty() {
                break;
            }
            // Walk batch by batch so that one undecodable batch is skipped alone.
            let mut pos = 0usize;
            let mut next = offset;
            while let Some(h) = BatchHeader::parse(&read.records[pos..]) {
                if pos + h.size > read.records.len() {
                    break;
                }
                let mut batch = read.records.slice(pos..pos + h.size);
                pos += h.size;
                next = h.next_offset();
                match RecordBatchDecoder::decode(&mut batch) {
                    Ok(set) => {
                        for record in set.records {
                            if record.control || record.offset < offset {
                                continue;
                            }
                            let Some(key) = record.key.as_ref() else {
                                continue;
                            };
                            match StoredRecord::decode(key, record.value.as_ref()) {
                                Some(r) => out.push(r),
                                None => tracing::warn!(
                                    offset = record.offset,
                                    "skipping a {OFFSETS_TOPIC} record of unknown layout"
                                ),
                            }
                        }
                    }
                    Err(e) => tracing::warn!(
                        base_offset = h.base_offset,
                        error = %e,
                        "skipping an undecodable {OFFSETS_TOPIC} batch"
                    ),
                }
            }
            if next <= offset {
                break;
            }
            offset = next;
        }
        tracing::info!(records = out.len(), "loaded {OFFSETS_TOPIC}");
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{FlushPolicy, TopicConfig};

    fn offset(group: &str, p: i32, value: Option<i64>) -> StoredRecord {
        StoredRecord::Offset {
            group: group.into(),
            topic: "t".into(),
            partition: p,
            value: value.map(|o| OffsetAndMetadata {
                offset: o,
                leader_epoch: 3,
                metadata: format!("meta-{o}"),
                commit_timestamp: 1234,
            }),
        }
    }

    #[test]
    fn records_round_trip_in_kafka_layouts() {
        let records = vec![
            offset("g", 0, Some(42)),
            offset("g", 1, None),
            StoredRecord::Group {
                group: "g".into(),
                value: Some(GroupRecord {
                    protocol_type: "consumer".into(),
                    generation: 7,
                    protocol: Some("range".into()),
                    leader: None,
                    state_timestamp: 99,
                }),
            },
            StoredRecord::Group {
                group: "g".into(),
                value: None,
            },
            StoredRecord::ConsumerGroup {
                group: "cg".into(),
                epoch: Some(12),
            },
            StoredRecord::ConsumerGroup {
                group: "cg".into(),
                epoch: None,
            },
        ];
        for r in &records {
            let (k, v) = r.encode();
            assert_eq!(StoredRecord::decode(&k, v.as_ref()).as_ref(), Some(r));
        }
        // OffsetCommitKey v1: version, group, topic, partition.
        let (k, v) = records[0].encode();
        assert_eq!(&k[..], b"\x00\x01\x00\x01g\x00\x01t\x00\x00\x00\x00");
        // OffsetCommitValue v3: version, offset, leader epoch, metadata, commit timestamp.
        let v = v.unwrap();
        assert_eq!(&v[..2], &[0, 3]);
        assert_eq!(v.len(), 2 + 8 + 4 + 2 + "meta-42".len() + 8);
        // Truncated or unknown records are refused, not misread.
        assert_eq!(StoredRecord::decode(&k.slice(..5), None), None);
        assert_eq!(
            StoredRecord::decode(&Bytes::from_static(b"\x00\x09"), None),
            None
        );
    }

    #[test]
    fn appended_records_are_loaded_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = TopicConfig::default();
        for (k, v) in OFFSETS_TOPIC_CONFIG {
            config.set(k, v).unwrap();
        }
        let open = || {
            PartitionLog::open(
                dir.path(),
                OFFSETS_TOPIC,
                0,
                Arc::new(config.clone()),
                FlushPolicy::Never,
            )
            .map(Arc::new)
            .unwrap()
        };
        let store = OffsetLog::new(open());
        store
            .append(&[offset("a", 0, Some(1)), offset("a", 1, Some(2))])
            .unwrap();
        store.append(&[offset("a", 0, None)]).unwrap();
        store.append(&[]).unwrap();
        drop(store);
        let loaded = OffsetLog::new(open()).load().unwrap();
        assert_eq!(
            loaded,
            vec![
                offset("a", 0, Some(1)),
                offset("a", 1, Some(2)),
                offset("a", 0, None)
            ]
        );
    }
}
