//! One client connection's bytes: request frames in, encoded responses out.
//!
//! Kafka frames every request as a 4-byte big-endian size followed by that many bytes. A
//! [`Connection`] owns the socket and both buffers: it cuts complete request frames out
//! of what it has read (refusing a negative size or one above `socket.request.max.bytes`),
//! and encodes each [`Response`] (size, header in the API's header version, body) straight
//! into its write buffer, so that responses to pipelined requests go out in one write. The
//! record batches of a fetch response are not copied into that buffer: they stay the shared
//! bytes the log read, queued as segments of their own and written with vectored I/O.
//! Like mini-redis' `Connection` and Kafka's `KafkaChannel` with its `NetworkReceive` and
//! `NetworkSend`, it knows nothing of what the requests mean.

use std::collections::VecDeque;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ResponseHeader, ResponseKind};
use kafka_protocol::protocol::buf::SegmentedBuf;
use kafka_protocol::protocol::Encodable;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::wire::{Response, ResponseBody};

/// How much the read buffer grows by when it runs low.
const READ_CHUNK: usize = 64 * 1024;
/// Most room made in the read buffer ahead of bytes that have arrived.
const MAX_RESERVE_AHEAD: usize = 1024 * 1024;
/// Largest write buffer kept for reuse; bigger ones are freed after writing.
const MAX_POOLED_BUFFER: usize = 8 * 1024 * 1024;
/// Fetched record batches at least this large are written from the bytes the log read rather
/// than copied into the write buffer: below it, a copy costs less than another I/O segment.
const MIN_SHARED_RECORDS: usize = 16 * 1024;

thread_local! {
    /// A write buffer kept between responses on this worker thread: fetch responses of a
    /// megabyte or more would otherwise allocate (and page in) fresh memory every time.
    /// Held by a connection only while it has responses to write.
    static WRITE_BUFFER: std::cell::RefCell<BytesMut> = std::cell::RefCell::new(BytesMut::new());
}

/// Hands a written buffer back for reuse by the next response on this thread.
fn recycle(mut buf: BytesMut) {
    if buf.capacity() <= MAX_POOLED_BUFFER {
        buf.clear();
        WRITE_BUFFER.with_borrow_mut(|pooled| {
            if pooled.capacity() < buf.capacity() {
                *pooled = buf;
            }
        });
    }
}

/// A request frame that closes the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// The size prefix is negative.
    NegativeSize(i32),
    /// The size prefix exceeds `socket.request.max.bytes`.
    TooLarge {
        /// The size announced.
        size: usize,
        /// The limit.
        max: usize,
    },
}

/// A client connection: its socket, read and write buffers, and framing.
#[derive(Debug)]
pub(crate) struct Connection {
    stream: TcpStream,
    /// Bytes read and not yet cut into frames.
    rbuf: BytesMut,
    /// Encoded response bytes to write before `wbuf`: whole segments, some of them the record
    /// batches of fetch responses as the log read them.
    queued: Segments,
    /// Encoded responses not yet written (after `queued`).
    wbuf: BytesMut,
    /// `socket.request.max.bytes`.
    max_request_size: usize,
}

impl Connection {
    /// Wraps an accepted socket; requests larger than `max_request_size` are refused.
    pub(crate) fn new(stream: TcpStream, max_request_size: usize) -> Connection {
        // Responses are written whole: Nagle's algorithm would only delay them.
        let _ = stream.set_nodelay(true);
        Connection {
            stream,
            rbuf: BytesMut::with_capacity(READ_CHUNK),
            queued: Segments::default(),
            wbuf: BytesMut::new(),
            max_request_size,
        }
    }

    /// The next complete request frame already read, without its size prefix; `None` if
    /// more bytes are needed. The frame shares the read buffer's memory (no copy).
    pub(crate) fn next_frame(&mut self) -> Result<Option<Bytes>, FrameError> {
        let Some(prefix) = self.rbuf.first_chunk::<4>() else {
            return Ok(None);
        };
        let size = i32::from_be_bytes(*prefix);
        let Ok(size) = usize::try_from(size) else {
            return Err(FrameError::NegativeSize(size));
        };
        if size > self.max_request_size {
            return Err(FrameError::TooLarge {
                size,
                max: self.max_request_size,
            });
        }
        if self.rbuf.len() < 4 + size {
            // Make room for the rest of the frame, but only for what may arrive soon: a
            // size prefix is a claim, and memory follows the bytes actually sent.
            self.rbuf
                .reserve((4 + size - self.rbuf.len()).min(MAX_RESERVE_AHEAD));
            return Ok(None);
        }
        self.rbuf.advance(4);
        Ok(Some(self.rbuf.split_to(size).freeze()))
    }

    /// Changes the largest request accepted from now on (smaller before SASL
    /// authentication, as Kafka's `sasl.server.max.receive.size`).
    pub(crate) fn set_max_request_size(&mut self, max_request_size: usize) {
        self.max_request_size = max_request_size;
    }

    /// Bytes read that do not yet make a whole request frame.
    pub(crate) fn buffered(&self) -> usize {
        self.rbuf.len()
    }

    /// Reads more bytes from the socket into the read buffer; `false` once the client has
    /// closed the connection.
    pub(crate) async fn read(&mut self) -> std::io::Result<bool> {
        if self.rbuf.capacity() - self.rbuf.len() < 1024 {
            self.rbuf.reserve(READ_CHUNK);
        }
        Ok(self.stream.read_buf(&mut self.rbuf).await? > 0)
    }

    /// Encodes `response` (size, header, body) after the responses already buffered; the
    /// error says why it could not be, and leaves the buffer as it was.
    pub(crate) fn write_response(&mut self, response: &Response) -> Result<(), String> {
        if self.wbuf.capacity() == 0 {
            self.wbuf = WRITE_BUFFER.with_borrow_mut(std::mem::take);
        }
        if shares_records(response) {
            return self.write_segmented(response);
        }
        let start = self.wbuf.len();
        let encoded = encode_response(&mut self.wbuf, response);
        if encoded.is_err() {
            self.wbuf.truncate(start);
        }
        encoded
    }

    /// Encodes a fetch response whose large record batches become segments of their own.
    /// Its size is computed first: once a batch is queued, the bytes before it are final.
    fn write_segmented(&mut self, response: &Response) -> Result<(), String> {
        let Response {
            api_key,
            version,
            correlation_id,
            body: ResponseBody::Message(ResponseKind::Fetch(message)),
        } = response
        else {
            return encode_response(&mut self.wbuf, response);
        };
        let header = ResponseHeader::default().with_correlation_id(*correlation_id);
        let header_version = api_key.response_header_version(*version);
        let size = header
            .compute_size(header_version)
            .and_then(|h| Ok(h + message.compute_size(*version)?))
            .map_err(|e| format!("cannot size {api_key:?} v{version} response: {e}"))?;
        let size = i32::try_from(size)
            .map_err(|_| format!("{api_key:?} response of {size} bytes is too large"))?;
        // Responses already encoded go first, whole; this one is only queued once complete.
        if !self.wbuf.is_empty() {
            self.queued.extend(vec![self.wbuf.split().freeze()]);
        }
        let mut out = SegmentedBuf::new(BytesMut::new(), MIN_SHARED_RECORDS);
        out.put_i32(size);
        header
            .encode(&mut out, header_version)
            .and_then(|()| message.encode(&mut out, *version))
            .map_err(|e| format!("cannot encode {api_key:?} v{version} response: {e}"))?;
        let (done, current) = out.into_parts();
        self.queued.extend(done);
        self.queued.extend(vec![current.freeze()]);
        Ok(())
    }

    /// Writes every buffered response to the socket.
    pub(crate) async fn flush(&mut self) -> std::io::Result<()> {
        if self.queued.has_remaining() {
            // Vectored writes: the segments go out without being gathered into one buffer.
            self.stream.write_all_buf(&mut self.queued).await?;
        }
        if self.wbuf.is_empty() {
            return Ok(());
        }
        self.stream.write_all(&self.wbuf).await?;
        recycle(std::mem::take(&mut self.wbuf));
        Ok(())
    }
}

/// Whether `response` is a fetch response with record batches worth keeping by reference.
fn shares_records(response: &Response) -> bool {
    match &response.body {
        ResponseBody::Message(ResponseKind::Fetch(f)) => f
            .responses
            .iter()
            .flat_map(|t| t.partitions.iter())
            .any(|p| {
                p.records
                    .as_ref()
                    .is_some_and(|r| r.len() >= MIN_SHARED_RECORDS)
            }),
        _ => false,
    }
}

/// Byte segments queued for writing, in order; as a [`Buf`] they are written with vectored
/// I/O.
#[derive(Debug, Default)]
struct Segments {
    segments: VecDeque<Bytes>,
    remaining: usize,
}

impl Segments {
    fn extend(&mut self, segments: Vec<Bytes>) {
        for segment in segments.into_iter().filter(|s| !s.is_empty()) {
            self.remaining += segment.len();
            self.segments.push_back(segment);
        }
    }
}

impl Buf for Segments {
    fn remaining(&self) -> usize {
        self.remaining
    }

    fn chunk(&self) -> &[u8] {
        self.segments.front().map_or(&[], |s| s.as_ref())
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [std::io::IoSlice<'a>]) -> usize {
        let mut n = 0;
        for (slot, segment) in dst.iter_mut().zip(self.segments.iter()) {
            *slot = std::io::IoSlice::new(segment);
            n += 1;
        }
        n
    }

    fn advance(&mut self, mut cnt: usize) {
        self.remaining -= cnt.min(self.remaining);
        while cnt > 0 {
            let Some(front) = self.segments.front_mut() else {
                return;
            };
            if cnt < front.len() {
                front.advance(cnt);
                return;
            }
            cnt -= front.len();
            self.segments.pop_front();
        }
    }
}

/// Appends the frame of `response` to `out`: a 4-byte size, the response header in the
/// API's header version (flexible versions add tagged fields), then the body.
pub(crate) fn encode_response(out: &mut BytesMut, response: &Response) -> Result<(), String> {
    let Response {
        api_key,
        version,
        correlation_id,
        body,
    } = response;
    // Size the buffer once: a fetch response is mostly its record batches.
    let capacity = match body {
        ResponseBody::Message(ResponseKind::Fetch(f)) => {
            let records: usize = f
                .responses
                .iter()
                .flat_map(|t| t.partitions.iter())
                .map(|p| p.records.as_ref().map_or(0, |r| r.len()) + 128)
                .sum();
            records + 256
        }
        _ => 256,
    };
    out.reserve(capacity);
    let start = out.len();
    out.put_i32(0);
    let header = ResponseHeader::default().with_correlation_id(*correlation_id);
    header
        .encode(out, api_key.response_header_version(*version))
        .map_err(|e| format!("cannot encode response header: {e}"))?;
    match body {
        ResponseBody::Message(message) => message
            .encode(out, *version)
            .map_err(|e| format!("cannot encode {api_key:?} v{version} response: {e}"))?,
        ResponseBody::LegacyProduce(legacy) => legacy.encode(out),
    }
    let size = (out.len() - start - 4) as i32;
    out[start..start + 4].copy_from_slice(&size.to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::{ApiKey, ApiVersionsResponse, ResponseKind};
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    use super::*;

    /// A fetch response's large record batches are written from the log's bytes, as their
    /// own segments, between responses encoded before and after it; the client reads the same
    /// frames as if everything had been copied.
    #[tokio::test]
    async fn fetch_records_are_written_by_reference_in_order() {
        use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
        use kafka_protocol::messages::FetchResponse;
        let (mut conn, mut client) = pair(1024).await;
        let records = Bytes::from(vec![7u8; MIN_SHARED_RECORDS * 2]);
        let fetch = |correlation_id| Response {
            api_key: ApiKey::Fetch,
            version: 13,
            correlation_id,
            body: ResponseBody::Message(ResponseKind::Fetch(
                FetchResponse::default().with_responses(vec![FetchableTopicResponse::default()
                    .with_partitions(vec![
                        PartitionData::default().with_records(Some(records.clone())),
                        PartitionData::default()
                            .with_partition_index(1)
                            .with_records(Some(Bytes::from_static(b"small"))),
                    ])]),
            )),
        };
        let versions = |correlation_id| Response {
            api_key: ApiKey::ApiVersions,
            version: 0,
            correlation_id,
            body: ResponseBody::Message(ResponseKind::ApiVersions(ApiVersionsResponse::default())),
        };
        let mut expected = BytesMut::new();
        for r in [versions(1), fetch(2), versions(3)] {
            encode_response(&mut expected, &r).unwrap();
            conn.write_response(&r).unwrap();
        }
        assert!(conn
            .queued
            .segments
            .iter()
            .any(|s| s.as_ptr() == records.as_ptr()));
        conn.flush().await.unwrap();
        let mut got = vec![0u8; expected.len()];
        client.read_exact(&mut got).await.unwrap();
        assert_eq!(got, expected.to_vec());
    }

    /// A connection on the server side of a loopback socket, and the client side.
    async fn pair(max_request_size: usize) -> (Connection, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (Connection::new(server, max_request_size), client)
    }

    fn framed(body: &[u8]) -> Vec<u8> {
        let mut f = (body.len() as i32).to_be_bytes().to_vec();
        f.extend_from_slice(body);
        f
    }

    /// Frames split across reads are put back together; frames sent together come out
    /// one by one, in order.
    #[tokio::test]
    async fn frames_are_cut_from_the_byte_stream() {
        let (mut conn, mut client) = pair(1024).await;
        let mut bytes = framed(b"first");
        bytes.extend(framed(b"second"));
        bytes.extend(framed(b"third"));
        let (head, tail) = bytes.split_at(7);
        client.write_all(head).await.unwrap();
        let mut frames = Vec::new();
        while frames.len() < 3 {
            match conn.next_frame().unwrap() {
                Some(frame) => frames.push(frame),
                None => {
                    if frames.is_empty() && conn.rbuf.len() == head.len() {
                        client.write_all(tail).await.unwrap();
                    }
                    assert!(conn.read().await.unwrap());
                }
            }
        }
        assert_eq!(frames, [&b"first"[..], b"second", b"third"]);
        assert!(conn.next_frame().unwrap().is_none());
        drop(client);
        assert!(!conn.read().await.unwrap(), "the client closed");
    }

    /// A negative size or one above `socket.request.max.bytes` is refused as soon as the
    /// prefix is read.
    #[tokio::test]
    async fn bad_sizes_are_refused() {
        let (mut conn, mut client) = pair(16).await;
        client.write_all(&17i32.to_be_bytes()).await.unwrap();
        conn.read().await.unwrap();
        assert_eq!(
            conn.next_frame(),
            Err(FrameError::TooLarge { size: 17, max: 16 })
        );
        let (mut conn, mut client) = pair(16).await;
        client.write_all(&(-1i32).to_be_bytes()).await.unwrap();
        conn.read().await.unwrap();
        assert_eq!(conn.next_frame(), Err(FrameError::NegativeSize(-1)));
    }

    /// Responses are framed one after the other in the write buffer; one that cannot be
    /// encoded leaves what was buffered before it untouched.
    #[tokio::test]
    async fn responses_are_framed_in_order() {
        let (mut conn, _client) = pair(1024).await;
        let response = |correlation_id, version| Response {
            api_key: ApiKey::ApiVersions,
            version,
            correlation_id,
            body: ResponseBody::Message(ResponseKind::ApiVersions(ApiVersionsResponse::default())),
        };
        conn.write_response(&response(1, 0)).unwrap();
        conn.write_response(&response(2, 3)).unwrap();
        let written = conn.wbuf.clone();
        assert!(conn.write_response(&response(3, 99)).is_err());
        assert_eq!(conn.wbuf, written);
        let mut buf = &written[..];
        for correlation_id in [1, 2] {
            let size = buf.get_i32() as usize;
            let (frame, rest) = buf.split_at(size);
            assert_eq!(
                i32::from_be_bytes(frame[..4].try_into().unwrap()),
                correlation_id
            );
            buf = rest;
        }
        assert!(buf.is_empty());
    }
}
