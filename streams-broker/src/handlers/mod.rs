//! Request handlers: one module per Kafka API, and the dispatch that routes a decoded
//! request to its handler.
//!
//! This plays the role of Kafka's `KafkaApis`. The table [`SUPPORTED_APIS`] is the single
//! source of truth for what the broker advertises in `ApiVersions` and what it accepts;
//! adding an API (the group coordinator's `JoinGroup`, say) means adding a row there and
//! an arm in [`dispatch`]. A request for an API the broker does not implement gets an
//! error response where the API has an error field, and a closed connection otherwise,
//! as Kafka does; a request that cannot be decoded closes only that client's connection.

mod admin;
mod api_versions;
mod fetch;
mod list_offsets;
mod metadata;
mod produce;

use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{
    ApiKey, FindCoordinatorResponse, HeartbeatResponse, InitProducerIdResponse, JoinGroupResponse,
    LeaveGroupResponse, ListGroupsResponse, RequestHeader, RequestKind, ResponseHeader,
    ResponseKind, SaslHandshakeResponse, SyncGroupResponse,
};
use kafka_protocol::protocol::{decode_request_header_from_buffer, Encodable};

use crate::broker::Broker;

/// One API the broker serves, with the request versions it accepts.
#[derive(Debug, Clone, Copy)]
pub struct SupportedApi {
    /// The API.
    pub key: ApiKey,
    /// Lowest version advertised.
    pub min: i16,
    /// Highest version advertised.
    pub max: i16,
}

const fn api(key: ApiKey, min: i16, max: i16) -> SupportedApi {
    SupportedApi { key, min, max }
}

/// The APIs the broker implements and advertises. `Produce` is advertised from version 0
/// but versions below 3 (message formats v0/v1) are answered with `UNSUPPORTED_VERSION`,
/// exactly as Kafka 4 does: older librdkafka releases turn compression off when a broker
/// stops advertising them.
pub const SUPPORTED_APIS: &[SupportedApi] = &[
    api(ApiKey::Produce, 0, 13),
    api(ApiKey::Fetch, 4, 17),
    api(ApiKey::ListOffsets, 1, 10),
    api(ApiKey::Metadata, 0, 13),
    api(ApiKey::ApiVersions, 0, 4),
    api(ApiKey::CreateTopics, 2, 7),
    api(ApiKey::DeleteTopics, 1, 6),
    api(ApiKey::DescribeConfigs, 1, 4),
    api(ApiKey::DescribeCluster, 0, 2),
];

/// The supported version range of `key`, if the broker implements it.
pub fn supported(key: ApiKey) -> Option<SupportedApi> {
    SUPPORTED_APIS.iter().copied().find(|a| a.key == key)
}

/// What the connection should do after a frame was handled.
#[derive(Debug)]
pub enum Outcome {
    /// Send this encoded response (size prefix included).
    Respond(BytesMut),
    /// Send nothing (`Produce` with `acks=0`).
    Nothing,
    /// Close the connection; the reason is logged.
    Close(String),
}

/// Encodes a response frame: size, response header, body.
pub(crate) fn encode_response(
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    response: &ResponseKind,
) -> Outcome {
    let mut out = BytesMut::with_capacity(256);
    out.put_i32(0);
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    let header_version = api_key.response_header_version(version);
    if let Err(e) = header.encode(&mut out, header_version) {
        return Outcome::Close(format!("cannot encode response header: {e}"));
    }
    if let Err(e) = response.encode(&mut out, version) {
        return Outcome::Close(format!(
            "cannot encode {api_key:?} v{version} response: {e}"
        ));
    }
    let size = (out.len() - 4) as i32;
    out[..4].copy_from_slice(&size.to_be_bytes());
    Outcome::Respond(out)
}

/// Handles one request frame (without its size prefix).
pub async fn handle_frame(broker: &Arc<Broker>, frame: Bytes) -> Outcome {
    if frame.len() < 8 {
        return Outcome::Close(format!(
            "request of {} bytes is too short for a header",
            frame.len()
        ));
    }
    let raw_key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let Ok(api_key) = ApiKey::try_from(raw_key) else {
        return Outcome::Close(format!("unknown API key {raw_key}"));
    };
    let Some(support) = supported(api_key) else {
        return unsupported_api(api_key, version, frame);
    };
    if api_key == ApiKey::ApiVersions && version > support.max {
        // KIP-511: answer in v0 with the error and our versions so the client can retry.
        return encode_response(
            api_key,
            0,
            correlation_id,
            &ResponseKind::ApiVersions(api_versions::response(
                ResponseError::UnsupportedVersion.code(),
            )),
        );
    }
    if api_key == ApiKey::Produce && (0..3).contains(&version) {
        return produce::reject_old_version(frame, version, correlation_id);
    }
    if version < support.min || version > support.max {
        return Outcome::Close(format!("{api_key:?} v{version} is not supported"));
    }
    let mut body = frame;
    let header = match decode_request_header_from_buffer(&mut body) {
        Ok(h) => h,
        Err(e) => return Outcome::Close(format!("undecodable {api_key:?} request header: {e}")),
    };
    let request = match RequestKind::decode(api_key, &mut body, version) {
        Ok(r) => r,
        Err(e) => {
            return Outcome::Close(format!("undecodable {api_key:?} v{version} request: {e}"))
        }
    };
    match dispatch(broker, &header, request).await {
        Some(response) => encode_response(api_key, version, correlation_id, &response),
        None => Outcome::Nothing,
    }
}

/// Routes a decoded request to its handler. `None` means no response is sent.
pub async fn dispatch(
    broker: &Arc<Broker>,
    header: &RequestHeader,
    request: RequestKind,
) -> Option<ResponseKind> {
    let v = header.request_api_version;
    let response = match request {
        RequestKind::ApiVersions(_) => ResponseKind::ApiVersions(api_versions::response(0)),
        RequestKind::Metadata(r) => ResponseKind::Metadata(metadata::handle(broker, r, v)),
        RequestKind::Produce(r) => return produce::handle(broker, r, v).map(ResponseKind::Produce),
        RequestKind::Fetch(r) => ResponseKind::Fetch(fetch::handle(broker, r, v).await),
        RequestKind::ListOffsets(r) => {
            ResponseKind::ListOffsets(list_offsets::handle(broker, r, v))
        }
        RequestKind::CreateTopics(r) => {
            ResponseKind::CreateTopics(admin::create_topics(broker, r, v))
        }
        RequestKind::DeleteTopics(r) => {
            ResponseKind::DeleteTopics(admin::delete_topics(broker, r, v))
        }
        RequestKind::DescribeConfigs(r) => {
            ResponseKind::DescribeConfigs(admin::describe_configs(broker, r, v))
        }
        RequestKind::DescribeCluster(r) => {
            ResponseKind::DescribeCluster(admin::describe_cluster(broker, r, v))
        }
        other => {
            tracing::warn!(request = ?std::mem::discriminant(&other), "request for an API without a handler");
            return None;
        }
    };
    Some(response)
}

/// Answers an API the broker does not implement: with the API's own error field where it
/// has a single one, otherwise by closing the connection (Kafka's behaviour).
fn unsupported_api(api_key: ApiKey, version: i16, frame: Bytes) -> Outcome {
    let range = api_key.valid_versions();
    if version < range.min || version > range.max {
        return Outcome::Close(format!("{api_key:?} v{version} is not supported"));
    }
    let mut body = frame;
    let header = match decode_request_header_from_buffer(&mut body) {
        Ok(h) => h,
        Err(e) => return Outcome::Close(format!("undecodable {api_key:?} request header: {e}")),
    };
    let code = ResponseError::UnsupportedVersion.code();
    let response = match api_key {
        ApiKey::FindCoordinator if version < 4 => {
            ResponseKind::FindCoordinator(FindCoordinatorResponse::default().with_error_code(code))
        }
        ApiKey::JoinGroup => {
            ResponseKind::JoinGroup(JoinGroupResponse::default().with_error_code(code))
        }
        ApiKey::SyncGroup => {
            ResponseKind::SyncGroup(SyncGroupResponse::default().with_error_code(code))
        }
        ApiKey::Heartbeat => {
            ResponseKind::Heartbeat(HeartbeatResponse::default().with_error_code(code))
        }
        ApiKey::LeaveGroup => {
            ResponseKind::LeaveGroup(LeaveGroupResponse::default().with_error_code(code))
        }
        ApiKey::ListGroups => {
            ResponseKind::ListGroups(ListGroupsResponse::default().with_error_code(code))
        }
        ApiKey::InitProducerId => {
            ResponseKind::InitProducerId(InitProducerIdResponse::default().with_error_code(code))
        }
        ApiKey::SaslHandshake => {
            ResponseKind::SaslHandshake(SaslHandshakeResponse::default().with_error_code(code))
        }
        _ => return Outcome::Close(format!("{api_key:?} is not implemented by this broker")),
    };
    tracing::debug!(?api_key, version, "answered unsupported API with an error");
    encode_response(api_key, version, header.correlation_id, &response)
}

/// Reads a length-prefixed (i16) string from a non-flexible request; used by the small
/// hand-written parser for `Produce` v0–v2.
pub(crate) fn read_string(buf: &mut Bytes) -> Option<Bytes> {
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

/// A `StrBytes` from a `&str`.
pub(crate) fn str_bytes(s: &str) -> kafka_protocol::protocol::StrBytes {
    kafka_protocol::protocol::StrBytes::from_string(s.to_string())
}
