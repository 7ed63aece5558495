//! One client connection: framing, in-order request handling, pipelined responses.
//!
//! Kafka frames every request as a 4-byte big-endian size followed by that many bytes.
//! Requests on one connection are handled one at a time and answered in order, as Kafka
//! does (clients pipeline by sending several before reading). Responses to requests that
//! arrived together are written together. A frame larger than `socket.request.max.bytes`,
//! a negative size or an undecodable request closes this connection only.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::broker::Broker;
use crate::handlers::{handle_frame, Outcome};

const READ_CHUNK: usize = 64 * 1024;
/// Requests that may wait (long-polling fetches, JoinGroup and SyncGroup parked until the
/// group's rebalance gets there): `Fetch`, `JoinGroup`, `SyncGroup`.
const WAITING_KEYS: [i16; 3] = [1, 11, 14];

/// Serves one connection until the client closes it, it misbehaves, or the broker stops.
pub async fn serve(
    broker: Arc<Broker>,
    mut stream: TcpStream,
    peer: SocketAddr,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    tracing::debug!(%peer, "connection opened");
    let max = broker.config().max_request_size;
    let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut wbuf = BytesMut::new();
    loop {
        // Handle every complete frame already read.
        loop {
            if rbuf.len() < 4 {
                break;
            }
            let size = i32::from_be_bytes([rbuf[0], rbuf[1], rbuf[2], rbuf[3]]);
            let Ok(size) = usize::try_from(size) else {
                tracing::warn!(%peer, size, "negative request size; closing connection");
                return;
            };
            if size > max {
                tracing::warn!(%peer, size, max, "request larger than socket.request.max.bytes; closing connection");
                return;
            }
            if rbuf.len() < 4 + size {
                rbuf.reserve(4 + size - rbuf.len());
                break;
            }
            rbuf.advance(4);
            let frame = rbuf.split_to(size).freeze();
            let may_wait = frame.len() >= 2
                && WAITING_KEYS.contains(&i16::from_be_bytes([frame[0], frame[1]]));
            if may_wait && !wbuf.is_empty() {
                // The request may wait: do not hold back earlier answers meanwhile.
                if stream.write_all(&wbuf).await.is_err() {
                    return;
                }
                wbuf.clear();
            }
            let outcome = tokio::select! {
                o = handle_frame(&broker, Some(peer), frame) => o,
                _ = stop.changed() => return,
            };
            match outcome {
                Outcome::Respond(bytes) => {
                    if wbuf.is_empty() {
                        wbuf = bytes;
                    } else {
                        wbuf.extend_from_slice(&bytes);
                    }
                }
                Outcome::Nothing => {}
                Outcome::Close(reason) => {
                    tracing::warn!(%peer, %reason, "closing connection");
                    let _ = stream.write_all(&wbuf).await;
                    return;
                }
            }
        }
        if !wbuf.is_empty() {
            if let Err(e) = stream.write_all(&wbuf).await {
                tracing::debug!(%peer, error = %e, "write failed");
                return;
            }
            crate::handlers::recycle_buffer(std::mem::take(&mut wbuf));
        }
        if rbuf.capacity() - rbuf.len() < 1024 {
            rbuf.reserve(READ_CHUNK);
        }
        let read = tokio::select! {
            r = stream.read_buf(&mut rbuf) => r,
            _ = stop.changed() => return,
        };
        match read {
            Ok(0) => {
                tracing::debug!(%peer, "connection closed by client");
                return;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(%peer, error = %e, "read failed");
                return;
            }
        }
    }
}
