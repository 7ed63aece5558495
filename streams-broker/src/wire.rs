//! Requests and responses as typed values, between the connection and the handlers.
//!
//! The connection cuts the byte stream into request frames and encodes [`Response`]s
//! into it; the handlers decode a frame into a typed request and answer with a typed
//! response, never touching the wire themselves. The messages come from the
//! `kafka-protocol` codec, except `Produce` v0–v2, which Kafka 4 no longer defines and
//! the codec cannot read or write: the broker still answers them (with
//! `UNSUPPORTED_VERSION`), so their small codec is here. Kafka's counterparts are
//! `RequestContext`/`RequestChannel.Request` and `AbstractResponse`.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseKind};
use kafka_protocol::protocol::decode_request_header_from_buffer;

// The codec must be Rill's copy of kafka-protocol, whose array decoders reserve no more than
// the bytes a request holds (the crates.io 0.18.0 release lets a 14-byte request claim 2^31
// elements and abort the process). Depending on it by its own name (`rill-kafka-protocol`)
// rather than through `[patch.crates-io]` is what brings the fix to every application that
// depends on this crate; this makes a build against any other copy fail.
const _: () = assert!(
    kafka_protocol::BOUNDED_ARRAY_RESERVATION,
    "streams-broker needs rill-kafka-protocol (bounded array reservations)"
);

/// The fixed start of every request: API key, API version, correlation id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RequestPrefix {
    /// The API key as sent (possibly one no API has).
    pub(crate) api_key: i16,
    /// The API version.
    pub(crate) version: i16,
    /// Echoed in the response.
    pub(crate) correlation_id: i32,
}

impl RequestPrefix {
    /// Reads the prefix of a request frame; `None` if the frame is too short for one.
    pub(crate) fn parse(frame: &[u8]) -> Option<RequestPrefix> {
        let b: &[u8; 8] = frame.get(..8)?.try_into().ok()?;
        Some(RequestPrefix {
            api_key: i16::from_be_bytes([b[0], b[1]]),
            version: i16::from_be_bytes([b[2], b[3]]),
            correlation_id: i32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        })
    }
}

/// Decodes a request frame's header and body with the codec, for `api_key` at `version`;
/// the error says why the connection should be closed.
pub(crate) fn decode_request(
    api_key: ApiKey,
    version: i16,
    frame: Bytes,
) -> Result<(RequestHeader, RequestKind), String> {
    let mut body = frame;
    let header = decode_request_header_from_buffer(&mut body)
        .map_err(|e| format!("undecodable {api_key:?} request header: {e}"))?;
    let request = RequestKind::decode(api_key, &mut body, version)
        .map_err(|e| format!("undecodable {api_key:?} v{version} request: {e}"))?;
    Ok((header, request))
}

/// A response to one request, ready for the connection to encode.
#[derive(Debug)]
pub(crate) struct Response {
    /// The API answered.
    pub(crate) api_key: ApiKey,
    /// The version to encode the response in (the request's, but for `ApiVersions`
    /// answered in v0 per KIP-511).
    pub(crate) version: i16,
    /// The request's correlation id.
    pub(crate) correlation_id: i32,
    /// The response body.
    pub(crate) body: ResponseBody,
}

/// The body of a [`Response`].
// Almost always a `Message`: boxing it would cost an allocation per response.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum ResponseBody {
    /// A message the codec encodes.
    Message(ResponseKind),
    /// `Produce` v0–v2, which the codec does not know.
    LegacyProduce(LegacyProduceResponse),
}

/// What a `Produce` v0–v2 request asks: the acks and, per topic, the partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LegacyProduceRequest {
    /// `acks`: 0 means no response.
    pub(crate) acks: i16,
    /// Each topic's name and partition indexes, in request order.
    pub(crate) topics: Vec<(Bytes, Vec<i32>)>,
}

impl LegacyProduceRequest {
    /// Decodes a whole `Produce` v0–v2 request frame (header included); `None` if it is
    /// malformed. The record sets are skipped, not read.
    pub(crate) fn decode(mut b: Bytes) -> Option<LegacyProduceRequest> {
        if b.remaining() < 8 {
            return None;
        }
        b.advance(8);
        read_string(&mut b)?; // client id
        if b.remaining() < 10 {
            return None;
        }
        let acks = b.get_i16();
        let _timeout = b.get_i32();
        let topics = b.get_i32();
        let mut out = Vec::new();
        for _ in 0..topics.max(0) {
            let name = read_string(&mut b)?;
            if b.remaining() < 4 {
                return None;
            }
            let n = b.get_i32();
            let mut parts = Vec::new();
            for _ in 0..n.max(0) {
                if b.remaining() < 8 {
                    return None;
                }
                parts.push(b.get_i32());
                let len = b.get_i32();
                if len > 0 {
                    let len = len as usize;
                    if b.remaining() < len {
                        return None;
                    }
                    b.advance(len);
                }
            }
            out.push((name, parts));
        }
        Some(LegacyProduceRequest { acks, topics: out })
    }
}

/// A `Produce` v0–v2 response: every partition answered with one error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LegacyProduceResponse {
    /// The response version (0, 1 or 2: the fields differ).
    pub(crate) version: i16,
    /// The error of every partition.
    pub(crate) error: ResponseError,
    /// Each topic's name and partition indexes, as asked.
    pub(crate) topics: Vec<(Bytes, Vec<i32>)>,
}

impl LegacyProduceResponse {
    /// Appends the response body (after the header) to `out`.
    pub(crate) fn encode(&self, out: &mut BytesMut) {
        out.put_i32(self.topics.len() as i32);
        for (name, parts) in &self.topics {
            out.put_i16(name.len() as i16);
            out.put_slice(name);
            out.put_i32(parts.len() as i32);
            for &p in parts {
                out.put_i32(p);
                out.put_i16(self.error.code());
                out.put_i64(-1);
                if self.version >= 2 {
                    out.put_i64(-1);
                }
            }
        }
        if self.version >= 1 {
            out.put_i32(0);
        }
    }
}

/// Reads a length-prefixed (i16) string from a non-flexible request.
fn read_string(buf: &mut Bytes) -> Option<Bytes> {
    if buf.remaining() < 2 {
        return None;
    }
    let len = buf.get_i16();
    if len < 0 {
        return Some(Bytes::new());
    }
    let len = len as usize;
    if buf.remaining() < len {
        return None;
    }
    Some(buf.split_to(len))
}
