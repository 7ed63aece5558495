//! A minimal blocking Kafka client built on the codec's client side, for requests that the
//! real clients cannot be made to send (old versions, garbage, exact field checks), and
//! builders of the record batches they carry.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::messages::{RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{
    encode_request_header_into_buffer, Decodable, HeaderVersion, Request, StrBytes,
};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

/// One blocking connection to a broker.
pub struct RawClient {
    stream: TcpStream,
    correlation_id: i32,
}

impl RawClient {
    /// Connects to the broker at `addr`; reads time out after 10 s.
    pub fn connect(addr: SocketAddr) -> RawClient {
        let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        RawClient {
            stream,
            correlation_id: 0,
        }
    }

    /// Sends raw bytes as they are (no size prefix added).
    pub fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Sends one frame: a size prefix and `body`.
    pub fn send_frame(&mut self, body: &[u8]) -> std::io::Result<()> {
        let mut buf = (body.len() as i32).to_be_bytes().to_vec();
        buf.extend_from_slice(body);
        self.stream.write_all(&buf)
    }

    /// Reads one response frame (without its size prefix).
    pub fn read_frame(&mut self) -> std::io::Result<Vec<u8>> {
        let mut size = [0u8; 4];
        self.stream.read_exact(&mut size)?;
        let mut body = vec![0u8; i32::from_be_bytes(size) as usize];
        self.stream.read_exact(&mut body)?;
        Ok(body)
    }

    /// True if the broker closed the connection (EOF or reset) within the read timeout.
    pub fn is_closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.stream.read(&mut b), Ok(0) | Err(_))
    }

    /// Encodes a request of type `R` at `version`.
    pub fn encode<R: Request>(&mut self, version: i16, request: &R) -> Vec<u8> {
        self.correlation_id += 1;
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation_id)
            .with_client_id(Some(StrBytes::from_static_str("rill-test")));
        let mut buf = BytesMut::new();
        encode_request_header_into_buffer(&mut buf, &header).expect("header");
        request.encode(&mut buf, version).expect("request");
        buf.to_vec()
    }

    /// Sends a request and decodes its response.
    pub fn request<R: Request>(&mut self, version: i16, request: &R) -> R::Response {
        let frame = self.encode(version, request);
        self.send_frame(&frame).expect("send");
        let body = self.read_frame().expect("response");
        let mut bytes = Bytes::from(body);
        let header = ResponseHeader::decode(&mut bytes, R::Response::header_version(version))
            .expect("response header");
        assert_eq!(header.correlation_id, self.correlation_id);
        R::Response::decode(&mut bytes, version).expect("response body")
    }
}

/// An uncompressed v2 batch of `(key, value, timestamp)` records.
pub fn batch(records: &[(&str, &str, i64)]) -> Bytes {
    producer_batch(records, -1, -1, -1, false)
}

/// Like [`batch`], as producer `producer_id` at `epoch` would send it, the first record
/// numbered `sequence` (transactional or not).
pub fn producer_batch(
    records: &[(&str, &str, i64)],
    producer_id: i64,
    epoch: i16,
    sequence: i32,
    transactional: bool,
) -> Bytes {
    encode_batch(
        records,
        producer_id,
        epoch,
        sequence,
        transactional,
        Compression::None,
    )
}

fn encode_batch(
    records: &[(&str, &str, i64)],
    producer_id: i64,
    epoch: i16,
    sequence: i32,
    transactional: bool,
    compression: Compression,
) -> Bytes {
    let records: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, (k, v, ts))| Record {
            transactional,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id,
            producer_epoch: epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The encoder starts a new batch wherever `offset - sequence` changes, so a
            // producer without sequences is encoded with the offsets as sequences and the
            // batch's base sequence set back to -1 below.
            sequence: if sequence < 0 {
                i as i32
            } else {
                sequence + i as i32
            },
            timestamp: *ts,
            key: Some(Bytes::copy_from_slice(k.as_bytes())),
            value: Some(Bytes::copy_from_slice(v.as_bytes())),
            headers: IndexMap::new(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression,
        },
    )
    .expect("batch");
    if sequence < 0 && !buf.is_empty() {
        buf[53..57].copy_from_slice(&(-1i32).to_be_bytes());
        fix_crc(&mut buf);
    }
    buf.freeze()
}

/// A record batch written field by field, for batches no client would send: a record
/// count that lies, a codec that does not exist, records that do not parse. The
/// `section` is the records section as sent (already compressed, if `attributes` say
/// so); the CRC-32C is computed over what is given, as a hostile client would.
pub fn raw_batch(
    attributes: i16,
    last_offset_delta: i32,
    records_count: i32,
    section: &[u8],
) -> Vec<u8> {
    let mut b = Vec::with_capacity(61 + section.len());
    b.extend_from_slice(&0i64.to_be_bytes()); // base offset
    b.extend_from_slice(&((49 + section.len()) as i32).to_be_bytes()); // batch length
    b.extend_from_slice(&(-1i32).to_be_bytes()); // partition leader epoch
    b.push(2); // magic
    b.extend_from_slice(&0u32.to_be_bytes()); // CRC, below
    b.extend_from_slice(&attributes.to_be_bytes());
    b.extend_from_slice(&last_offset_delta.to_be_bytes());
    b.extend_from_slice(&1i64.to_be_bytes()); // base timestamp
    b.extend_from_slice(&1i64.to_be_bytes()); // max timestamp
    b.extend_from_slice(&(-1i64).to_be_bytes()); // producer id
    b.extend_from_slice(&(-1i16).to_be_bytes()); // producer epoch
    b.extend_from_slice(&(-1i32).to_be_bytes()); // base sequence
    b.extend_from_slice(&records_count.to_be_bytes());
    b.extend_from_slice(section);
    fix_crc(&mut b);
    b
}

/// Recomputes the CRC-32C of the v2 batch at the start of `batch` (after its fields were
/// edited), so that only the edit is wrong with it.
pub fn fix_crc(batch: &mut [u8]) {
    let length = i32::from_be_bytes([batch[8], batch[9], batch[10], batch[11]]);
    let end = (12 + length as usize).min(batch.len());
    let crc = crc32c::crc32c(&batch[21..end]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
}

/// Appends `v` as a zig-zag varint, the encoding of a v2 record's lengths and deltas.
pub fn put_varint(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

/// One v2 record as it sits in a records section (length prefix, attributes, timestamp
/// delta 0, `offset_delta`, key, value, no headers).
pub fn raw_record(offset_delta: i64, key: Option<&[u8]>, value: Option<&[u8]>) -> Vec<u8> {
    let mut body = vec![0u8]; // attributes
    put_varint(&mut body, 0); // timestamp delta
    put_varint(&mut body, offset_delta);
    for field in [key, value] {
        match field {
            Some(f) => {
                put_varint(&mut body, f.len() as i64);
                body.extend_from_slice(f);
            }
            None => put_varint(&mut body, -1),
        }
    }
    put_varint(&mut body, 0); // headers
    let mut record = Vec::with_capacity(body.len() + 5);
    put_varint(&mut record, body.len() as i64);
    record.extend_from_slice(&body);
    record
}

/// A v2 batch of `(key, value, timestamp)` records compressed with `compression`.
pub fn compressed_batch(records: &[(&str, &str, i64)], compression: Compression) -> Bytes {
    encode_batch(records, -1, -1, -1, false, compression)
}
