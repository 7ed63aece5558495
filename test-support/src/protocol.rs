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
            sequence: if sequence < 0 {
                -1
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
            compression: Compression::None,
        },
    )
    .expect("batch");
    buf.freeze()
}
