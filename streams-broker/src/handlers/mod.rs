//! Request handlers: one module per Kafka API, and the dispatch that routes a decoded
//! request to its handler.
//!
//! This plays the role of Kafka's `KafkaApis`. The table [`SUPPORTED_APIS`] is the single
//! source of truth for what the broker advertises in `ApiVersions` and what it accepts;
//! adding an API (the group coordinator's `JoinGroup`, say) means adding a row there and
//! an arm in [`dispatch`]. A request for an API the broker does not implement gets an
//! error response where the API has an error field, and a closed connection otherwise,
//! as Kafka does; a request that cannot be decoded closes only that client's connection.
//! Handlers take typed requests and return typed responses; the connection does the
//! framing and encoding.

mod acls;
mod admin;
mod alter_configs;
mod api_versions;
mod authz;
mod fetch;
mod group;
mod list_offsets;
mod log_dirs;
mod metadata;
mod offset_delete;
mod partitions;
mod produce;
mod records;
mod scram_credentials;
mod txn;
mod txn_admin;
mod unsupported;

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{
    AddOffsetsToTxnResponse, ApiKey, ConsumerGroupHeartbeatResponse, DescribeLogDirsResponse,
    EndTxnResponse, HeartbeatResponse, InitProducerIdResponse, JoinGroupResponse,
    LeaveGroupResponse, ProducerId, RequestHeader, RequestKind, ResponseKind, SyncGroupResponse,
};

use crate::broker::Broker;
use crate::security::acl::AclOperation;
use crate::security::principal::RequestContext;
use crate::wire::{decode_request, RequestPrefix, Response, ResponseBody};

/// One API the broker serves, with the request versions it accepts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SupportedApi {
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
pub(crate) const SUPPORTED_APIS: &[SupportedApi] = &[
    api(ApiKey::Produce, 0, 13),
    api(ApiKey::Fetch, 4, 17),
    api(ApiKey::ListOffsets, 1, 10),
    api(ApiKey::Metadata, 0, 13),
    api(ApiKey::ApiVersions, 0, 4),
    api(ApiKey::CreateTopics, 2, 7),
    api(ApiKey::DeleteTopics, 1, 6),
    api(ApiKey::DescribeConfigs, 1, 4),
    api(ApiKey::DescribeCluster, 0, 2),
    api(ApiKey::FindCoordinator, 0, 6),
    api(ApiKey::JoinGroup, 0, 9),
    api(ApiKey::SyncGroup, 0, 5),
    api(ApiKey::Heartbeat, 0, 4),
    api(ApiKey::LeaveGroup, 0, 5),
    api(ApiKey::OffsetCommit, 2, 9),
    api(ApiKey::OffsetFetch, 1, 9),
    api(ApiKey::ListGroups, 0, 5),
    api(ApiKey::DescribeGroups, 0, 6),
    api(ApiKey::DeleteGroups, 0, 2),
    api(ApiKey::InitProducerId, 0, 5),
    api(ApiKey::AddPartitionsToTxn, 0, 3),
    api(ApiKey::EndTxn, 0, 4),
    api(ApiKey::AddOffsetsToTxn, 0, 3),
    api(ApiKey::TxnOffsetCommit, 0, 3),
    api(ApiKey::CreatePartitions, 0, 3),
    api(ApiKey::AlterConfigs, 0, 2),
    api(ApiKey::IncrementalAlterConfigs, 0, 1),
    api(ApiKey::DeleteRecords, 0, 2),
    api(ApiKey::OffsetDelete, 0, 0),
    api(ApiKey::OffsetForLeaderEpoch, 2, 4),
    api(ApiKey::DescribeProducers, 0, 0),
    api(ApiKey::DescribeTransactions, 0, 0),
    api(ApiKey::ListTransactions, 0, 2),
    api(ApiKey::DescribeTopicPartitions, 0, 0),
    api(ApiKey::DescribeLogDirs, 1, 4),
    api(ApiKey::ConsumerGroupHeartbeat, 0, 1),
    api(ApiKey::ConsumerGroupDescribe, 0, 1),
    api(ApiKey::DescribeAcls, 1, 3),
    api(ApiKey::CreateAcls, 1, 3),
    api(ApiKey::DeleteAcls, 1, 3),
    api(ApiKey::DescribeUserScramCredentials, 0, 0),
    api(ApiKey::AlterUserScramCredentials, 0, 0),
];

/// The APIs a `SASL_PLAINTEXT` listener serves and advertises besides [`SUPPORTED_APIS`];
/// the authenticator answers them (`security::authenticator`). `SaslHandshake` v0 (raw
/// tokens after the handshake) is not served: clients use v1. Plaintext listeners do not
/// advertise them and answer a `SaslHandshake` with `UNSUPPORTED_VERSION`.
pub(crate) const SASL_APIS: &[SupportedApi] = &[
    api(ApiKey::SaslHandshake, 1, 1),
    api(ApiKey::SaslAuthenticate, 0, 2),
];

/// The supported version range of `key`, if the broker implements it.
pub(crate) fn supported(key: ApiKey) -> Option<SupportedApi> {
    SUPPORTED_APIS.iter().copied().find(|a| a.key == key)
}

/// What the connection should do after a frame was handled.
// One per request, moved once to the connection: boxing the response would cost an
// allocation per request for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Send this response.
    Respond(Response),
    /// Send nothing (`Produce` with `acks=0`).
    Nothing,
    /// Close the connection; the reason is logged.
    Close(String),
}

/// A response to send: `message` in `version` of `api_key`.
fn respond(api_key: ApiKey, version: i16, correlation_id: i32, message: ResponseKind) -> Outcome {
    Outcome::Respond(Response {
        api_key,
        version,
        correlation_id,
        body: ResponseBody::Message(message),
    })
}

/// Handles one request frame (without its size prefix) from the connection `ctx`.
pub(crate) async fn handle_frame(
    broker: &Arc<Broker>,
    ctx: &RequestContext,
    frame: Bytes,
) -> Outcome {
    let Some(RequestPrefix {
        api_key: raw_key,
        version,
        correlation_id,
    }) = RequestPrefix::parse(&frame)
    else {
        return Outcome::Close(format!(
            "request of {} bytes is too short for a header",
            frame.len()
        ));
    };
    let Ok(api_key) = ApiKey::try_from(raw_key) else {
        return Outcome::Close(format!("unknown API key {raw_key}"));
    };
    let Some(support) = supported(api_key) else {
        return unsupported_api(api_key, version, frame);
    };
    if api_key == ApiKey::ApiVersions && version > support.max {
        // KIP-511: answer in v0 with the error and our versions so the client can retry.
        return respond(
            api_key,
            0,
            correlation_id,
            ResponseKind::ApiVersions(api_versions::response(
                ResponseError::UnsupportedVersion.code(),
                ctx.sasl,
            )),
        );
    }
    if api_key == ApiKey::Produce && (0..3).contains(&version) {
        return produce::reject_old_version(frame, version, correlation_id);
    }
    if version < support.min || version > support.max {
        return Outcome::Close(format!("{api_key:?} v{version} is not supported"));
    }
    let (header, request) = match decode_request(api_key, version, frame) {
        Ok(decoded) => decoded,
        Err(reason) => return Outcome::Close(reason),
    };
    match dispatch(broker, &header, ctx, request).await {
        Some(response) => respond(api_key, version, correlation_id, response),
        None => Outcome::Nothing,
    }
}

/// Routes a decoded request from the connection `ctx` to its handler, after the
/// authorization checks of [`authz`]. `None` means no response is sent.
async fn dispatch(
    broker: &Arc<Broker>,
    header: &RequestHeader,
    ctx: &RequestContext,
    request: RequestKind,
) -> Option<ResponseKind> {
    use authz::GROUP_DENIED;
    let v = header.request_api_version;
    let peer = ctx.peer;
    let group_ok = |id: &str| authz::group(broker, ctx, AclOperation::Read, id);
    let response = match request {
        RequestKind::ApiVersions(_) => {
            ResponseKind::ApiVersions(api_versions::response(0, ctx.sasl))
        }
        RequestKind::Metadata(r) => {
            let all = match &r.topics {
                None => true,
                Some(t) => t.is_empty() && v == 0,
            };
            let (r, denied) = authz::metadata_request(broker, ctx, r);
            let mut response = metadata::handle(broker, ctx.endpoint(broker), r, v);
            authz::metadata_response(broker, ctx, all, &mut response);
            response.topics.extend(denied);
            ResponseKind::Metadata(response)
        }
        RequestKind::Produce(r) => {
            let (r, denied) = authz::produce(broker, ctx, r, v);
            return produce::handle(broker, r, v).map(|mut response| {
                response.responses.extend(denied);
                ResponseKind::Produce(response)
            });
        }
        RequestKind::Fetch(r) => {
            let (r, denied) = authz::fetch(broker, ctx, r, v);
            let mut response = fetch::handle(broker, r, v).await;
            response.responses.extend(denied);
            ResponseKind::Fetch(response)
        }
        RequestKind::ListOffsets(r) => {
            let (r, denied) = authz::list_offsets(broker, ctx, r);
            let mut response = list_offsets::handle(broker, r, v);
            response.topics.extend(denied);
            ResponseKind::ListOffsets(response)
        }
        RequestKind::CreateTopics(r) => {
            let (r, denied) = authz::create_topics(broker, ctx, r);
            let mut response = admin::create_topics(broker, r, v);
            response.topics.extend(denied);
            ResponseKind::CreateTopics(response)
        }
        RequestKind::DeleteTopics(r) => {
            let (r, denied) = authz::delete_topics(broker, ctx, r);
            let mut response = admin::delete_topics(broker, r, v);
            response.responses.extend(denied);
            ResponseKind::DeleteTopics(response)
        }
        RequestKind::DescribeConfigs(r) => {
            let mut response = admin::describe_configs(broker, r, v);
            authz::describe_configs(broker, ctx, &mut response);
            ResponseKind::DescribeConfigs(response)
        }
        RequestKind::DescribeCluster(r) => ResponseKind::DescribeCluster(admin::describe_cluster(
            broker,
            ctx.endpoint(broker),
            r,
            v,
        )),
        RequestKind::CreateAcls(r) => ResponseKind::CreateAcls(acls::create_acls(broker, ctx, r)),
        RequestKind::DescribeAcls(r) => {
            ResponseKind::DescribeAcls(acls::describe_acls(broker, ctx, r))
        }
        RequestKind::DeleteAcls(r) => ResponseKind::DeleteAcls(acls::delete_acls(broker, ctx, r)),
        RequestKind::DescribeUserScramCredentials(r) => {
            ResponseKind::DescribeUserScramCredentials(scram_credentials::describe(broker, ctx, r))
        }
        RequestKind::AlterUserScramCredentials(r) => {
            ResponseKind::AlterUserScramCredentials(scram_credentials::alter(broker, ctx, r))
        }
        RequestKind::JoinGroup(r) if !group_ok(r.group_id.0.as_str()) => ResponseKind::JoinGroup(
            JoinGroupResponse::default()
                .with_error_code(GROUP_DENIED)
                .with_generation_id(-1),
        ),
        RequestKind::SyncGroup(r) if !group_ok(r.group_id.0.as_str()) => {
            ResponseKind::SyncGroup(SyncGroupResponse::default().with_error_code(GROUP_DENIED))
        }
        RequestKind::Heartbeat(r) if !group_ok(r.group_id.0.as_str()) => {
            ResponseKind::Heartbeat(HeartbeatResponse::default().with_error_code(GROUP_DENIED))
        }
        RequestKind::LeaveGroup(r) if !group_ok(r.group_id.0.as_str()) => {
            ResponseKind::LeaveGroup(LeaveGroupResponse::default().with_error_code(GROUP_DENIED))
        }
        RequestKind::ConsumerGroupHeartbeat(r) if !group_ok(r.group_id.0.as_str()) => {
            ResponseKind::ConsumerGroupHeartbeat(
                ConsumerGroupHeartbeatResponse::default().with_error_code(GROUP_DENIED),
            )
        }
        RequestKind::OffsetCommit(r) => {
            let (r, denied) = authz::offset_commit(broker, ctx, r);
            let mut response = group::offset_commit(broker, r, v);
            response.topics.extend(denied);
            ResponseKind::OffsetCommit(response)
        }
        RequestKind::OffsetFetch(r) => match authz::offset_fetch_denied(broker, ctx, &r, v) {
            Some(denied) => ResponseKind::OffsetFetch(denied),
            None => ResponseKind::OffsetFetch(group::offset_fetch(broker, r, v)),
        },
        RequestKind::InitProducerId(r) => match authz::init_producer_id(broker, ctx, &r) {
            Some(code) => ResponseKind::InitProducerId(
                InitProducerIdResponse::default()
                    .with_error_code(code)
                    .with_producer_id(ProducerId(-1))
                    .with_producer_epoch(-1),
            ),
            None => ResponseKind::InitProducerId(txn::init_producer_id(broker, r)),
        },
        RequestKind::EndTxn(r)
            if !authz::txn(
                broker,
                ctx,
                AclOperation::Write,
                r.transactional_id.0.as_str(),
            ) =>
        {
            ResponseKind::EndTxn(EndTxnResponse::default().with_error_code(authz::TXN_DENIED))
        }
        RequestKind::FindCoordinator(r) => {
            let asked = r.clone();
            let mut response = group::find_coordinator(broker, ctx.endpoint(broker), r, v);
            authz::find_coordinator(broker, ctx, &asked, &mut response);
            ResponseKind::FindCoordinator(response)
        }
        RequestKind::AddPartitionsToTxn(r) => {
            match authz::add_partitions_to_txn(broker, ctx, &r, v) {
                Some(denied) => ResponseKind::AddPartitionsToTxn(denied),
                None => ResponseKind::AddPartitionsToTxn(txn::add_partitions_to_txn(broker, r)),
            }
        }
        RequestKind::EndTxn(r) => ResponseKind::EndTxn(txn::end_txn(broker, r)),
        RequestKind::AddOffsetsToTxn(r) => match authz::add_offsets_to_txn(broker, ctx, &r) {
            Some(code) => ResponseKind::AddOffsetsToTxn(
                AddOffsetsToTxnResponse::default().with_error_code(code),
            ),
            None => ResponseKind::AddOffsetsToTxn(txn::add_offsets_to_txn(broker, r)),
        },
        RequestKind::TxnOffsetCommit(r) => {
            let (r, denied) = authz::txn_offset_commit(broker, ctx, r);
            let mut response = txn::txn_offset_commit(broker, r);
            response.topics.extend(denied);
            ResponseKind::TxnOffsetCommit(response)
        }
        RequestKind::JoinGroup(r) => {
            ResponseKind::JoinGroup(group::join_group(broker, header, peer, r, v).await)
        }
        RequestKind::SyncGroup(r) => ResponseKind::SyncGroup(group::sync_group(broker, r, v).await),
        RequestKind::Heartbeat(r) => ResponseKind::Heartbeat(group::heartbeat(broker, r)),
        RequestKind::LeaveGroup(r) => ResponseKind::LeaveGroup(group::leave_group(broker, r, v)),
        RequestKind::ListGroups(r) => {
            let mut response = group::list_groups(broker, r, v);
            authz::list_groups(broker, ctx, &mut response);
            ResponseKind::ListGroups(response)
        }
        RequestKind::DescribeGroups(r) => {
            let mut response = group::describe_groups(broker, r, v);
            authz::describe_groups(broker, ctx, &mut response);
            ResponseKind::DescribeGroups(response)
        }
        RequestKind::DeleteGroups(r) => {
            let (r, denied) = authz::delete_groups(broker, ctx, r);
            let mut response = group::delete_groups(broker, r);
            response.results.extend(denied);
            ResponseKind::DeleteGroups(response)
        }
        RequestKind::CreatePartitions(r) => {
            let (r, denied) = authz::create_partitions(broker, ctx, r);
            let mut response = partitions::create_partitions(broker, r);
            response.results.extend(denied);
            ResponseKind::CreatePartitions(response)
        }
        RequestKind::DescribeTopicPartitions(r) => {
            let mut response = partitions::describe_topic_partitions(broker, r);
            authz::describe_topic_partitions(broker, ctx, &mut response);
            ResponseKind::DescribeTopicPartitions(response)
        }
        RequestKind::AlterConfigs(r) => {
            let (r, denied) = authz::alter_configs(broker, ctx, r);
            let mut response = alter_configs::alter_configs(broker, r);
            response.responses.extend(denied);
            ResponseKind::AlterConfigs(response)
        }
        RequestKind::IncrementalAlterConfigs(r) => {
            let (r, denied) = authz::incremental_alter_configs(broker, ctx, r);
            let mut response = alter_configs::incremental_alter_configs(broker, r);
            response.responses.extend(denied);
            ResponseKind::IncrementalAlterConfigs(response)
        }
        RequestKind::DeleteRecords(r) => {
            let (r, denied) = authz::delete_records(broker, ctx, r);
            let mut response = records::delete_records(broker, r);
            response.topics.extend(denied);
            ResponseKind::DeleteRecords(response)
        }
        RequestKind::OffsetForLeaderEpoch(r) => {
            let (r, denied) = authz::offset_for_leader_epoch(broker, ctx, r);
            let mut response = records::offset_for_leader_epoch(broker, r);
            response.topics.extend(denied);
            ResponseKind::OffsetForLeaderEpoch(response)
        }
        RequestKind::OffsetDelete(r) => match authz::offset_delete(broker, ctx, r) {
            Ok((r, denied)) => {
                let mut response = offset_delete::offset_delete(broker, r);
                response.topics.extend(denied);
                ResponseKind::OffsetDelete(response)
            }
            Err(denied) => ResponseKind::OffsetDelete(denied),
        },
        RequestKind::DescribeProducers(r) => {
            let mut response = txn_admin::describe_producers(broker, r);
            authz::describe_producers(broker, ctx, &mut response);
            ResponseKind::DescribeProducers(response)
        }
        RequestKind::DescribeTransactions(r) => {
            let mut response = txn_admin::describe_transactions(broker, r);
            authz::describe_transactions(broker, ctx, &mut response);
            ResponseKind::DescribeTransactions(response)
        }
        RequestKind::ListTransactions(r) => {
            let mut response = txn_admin::list_transactions(broker, r);
            authz::list_transactions(broker, ctx, &mut response);
            ResponseKind::ListTransactions(response)
        }
        RequestKind::DescribeLogDirs(_) if !authz::cluster(broker, ctx, AclOperation::Describe) => {
            ResponseKind::DescribeLogDirs(
                DescribeLogDirsResponse::default().with_error_code(authz::CLUSTER_DENIED),
            )
        }
        RequestKind::DescribeLogDirs(r) => {
            ResponseKind::DescribeLogDirs(log_dirs::describe_log_dirs(broker, r))
        }
        RequestKind::ConsumerGroupHeartbeat(r) => ResponseKind::ConsumerGroupHeartbeat(
            group::consumer_group_heartbeat(broker, header, peer, r, v),
        ),
        RequestKind::ConsumerGroupDescribe(r) => {
            let mut response = group::consumer_group_describe(broker, r, v);
            authz::consumer_group_describe(broker, ctx, &mut response);
            ResponseKind::ConsumerGroupDescribe(response)
        }
        other => {
            tracing::warn!(request = ?std::mem::discriminant(&other), "request for an API without a handler");
            return None;
        }
    };
    Some(response)
}

/// Answers an API the broker does not implement with that API's own error fields (see
/// [`unsupported`]); closes the connection when the API has none, as Kafka does.
fn unsupported_api(api_key: ApiKey, version: i16, frame: Bytes) -> Outcome {
    let range = api_key.valid_versions();
    if version < range.min || version > range.max {
        return Outcome::Close(format!("{api_key:?} v{version} is not supported"));
    }
    let (header, request) = match decode_request(api_key, version, frame) {
        Ok(decoded) => decoded,
        Err(reason) => return Outcome::Close(reason),
    };
    match unsupported::error_response(request) {
        Some(response) => {
            tracing::debug!(?api_key, version, "answered unsupported API with an error");
            respond(api_key, version, header.correlation_id, response)
        }
        None => Outcome::Close(format!("{api_key:?} is not implemented by this broker")),
    }
}

/// A `StrBytes` from a `&str`.
pub(crate) fn str_bytes(s: &str) -> kafka_protocol::protocol::StrBytes {
    kafka_protocol::protocol::StrBytes::from_string(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BrokerConfig;
    use proptest::prelude::*;

    fn test_broker() -> (tempfile::TempDir, Arc<Broker>) {
        let dir = tempfile::tempdir().unwrap();
        let config = BrokerConfig::with_data_dir(dir.path());
        let broker = Broker::open(config, dir.path(), "127.0.0.1:9092".parse().unwrap()).unwrap();
        broker.topics().create("fuzz", 2, &[]).unwrap();
        (dir, Arc::new(broker))
    }

    /// Handles a frame as a connection does, encoding the response: a response that
    /// cannot be encoded closes the connection.
    async fn answer(broker: &Arc<Broker>, frame: Bytes) -> Outcome {
        match handle_frame(broker, &RequestContext::anonymous(None), frame).await {
            Outcome::Respond(response) => {
                let mut buf = bytes::BytesMut::new();
                match crate::network::encode_response(&mut buf, &response) {
                    Ok(()) => Outcome::Respond(response),
                    Err(reason) => Outcome::Close(reason),
                }
            }
            other => other,
        }
    }

    fn run(broker: &Arc<Broker>, frame: Vec<u8>) -> Outcome {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(answer(broker, Bytes::from(frame)))
    }

    /// Random bytes after a valid header prefix of every supported API and version, and
    /// entirely random frames, never panic or abort: each is answered or its connection
    /// closed. One broker serves all cases; the run is bounded by the case count.
    #[test]
    fn random_requests_are_answered_or_closed() {
        use proptest::test_runner::{Config, TestRunner};
        let (_dir, broker) = test_broker();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut runner = TestRunner::new(Config {
            cases: 20_000,
            ..Config::default()
        });
        let strategy = (
            0usize..SUPPORTED_APIS.len(),
            any::<u16>(),
            proptest::collection::vec(any::<u8>(), 0..512),
        );
        runner
            .run(&strategy, |(api, version_pick, body)| {
                let a = SUPPORTED_APIS[api];
                let version = a.min + (version_pick as i16).rem_euclid(a.max - a.min + 1);
                let mut frame = Vec::new();
                frame.extend_from_slice(&(a.key as i16).to_be_bytes());
                frame.extend_from_slice(&version.to_be_bytes());
                frame.extend_from_slice(&7i32.to_be_bytes());
                frame.extend_from_slice(&body);
                let _ = rt.block_on(bounded(answer(&broker, Bytes::from(frame))));
                Ok(())
            })
            .unwrap();
        let mut runner = TestRunner::new(Config {
            cases: 5_000,
            ..Config::default()
        });
        runner
            .run(&proptest::collection::vec(any::<u8>(), 0..128), |frame| {
                let _ = rt.block_on(bounded(answer(&broker, Bytes::from(frame))));
                Ok(())
            })
            .unwrap();
    }

    /// Mutated fetches may ask to wait: do not spend the test's time waiting.
    async fn bounded(f: impl std::future::Future<Output = Outcome>) -> Option<Outcome> {
        tokio::time::timeout(std::time::Duration::from_millis(20), f)
            .await
            .ok()
    }

    /// Valid requests of several APIs, encoded by the codec's client side.
    fn valid_requests() -> Vec<Vec<u8>> {
        use bytes::BytesMut;
        use kafka_protocol::messages::*;
        use kafka_protocol::protocol::encode_request_header_into_buffer;
        let topic = TopicName(str_bytes("fuzz"));
        let batch = crate::log::batch::tests::make_batch(&[1, 2, 3]);
        let requests: Vec<(ApiKey, i16, RequestKind)> = vec![
            (
                ApiKey::ApiVersions,
                3,
                RequestKind::ApiVersions(ApiVersionsRequest::default()),
            ),
            (
                ApiKey::Metadata,
                12,
                RequestKind::Metadata(MetadataRequest::default().with_topics(Some(
                    vec![metadata_request::MetadataRequestTopic::default(
                        )
                        .with_name(Some(topic.clone()))],
                ))),
            ),
            (
                ApiKey::Produce,
                9,
                RequestKind::Produce(ProduceRequest::default().with_acks(-1).with_topic_data(
                    vec![
                    produce_request::TopicProduceData::default()
                        .with_name(topic.clone())
                        .with_partition_data(vec![produce_request::PartitionProduceData::default()
                            .with_index(0)
                            .with_records(Some(Bytes::from(batch)))]),
                ],
                )),
            ),
            (
                ApiKey::Fetch,
                12,
                RequestKind::Fetch(FetchRequest::default().with_max_bytes(1 << 20).with_topics(
                    vec![
                    fetch_request::FetchTopic::default()
                        .with_topic(topic.clone())
                        .with_partitions(vec![fetch_request::FetchPartition::default()
                            .with_partition_max_bytes(1 << 20)]),
                ],
                )),
            ),
            (
                ApiKey::ListOffsets,
                7,
                RequestKind::ListOffsets(ListOffsetsRequest::default().with_topics(vec![
                    list_offsets_request::ListOffsetsTopic::default()
                        .with_name(topic.clone())
                        .with_partitions(vec![list_offsets_request::ListOffsetsPartition::default()
                            .with_timestamp(-2)]),
                ])),
            ),
            (
                ApiKey::DescribeConfigs,
                4,
                RequestKind::DescribeConfigs(DescribeConfigsRequest::default().with_resources(
                    vec![
                    describe_configs_request::DescribeConfigsResource::default()
                        .with_resource_type(2)
                        .with_resource_name(str_bytes("fuzz")),
                ],
                )),
            ),
        ];
        requests
            .into_iter()
            .map(|(key, version, request)| {
                let mut buf = BytesMut::new();
                let header = RequestHeader::default()
                    .with_request_api_key(key as i16)
                    .with_request_api_version(version)
                    .with_correlation_id(1)
                    .with_client_id(Some(str_bytes("fuzzer")));
                encode_request_header_into_buffer(&mut buf, &header).unwrap();
                request.encode(&mut buf, version).unwrap();
                buf.to_vec()
            })
            .collect()
    }

    /// Valid requests with random bytes overwritten, or cut short, are answered or
    /// closed; the unmutated requests are answered.
    #[test]
    fn mutated_valid_requests_are_answered_or_closed() {
        use proptest::test_runner::{Config, TestRunner};
        let (_dir, broker) = test_broker();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let requests = valid_requests();
        for r in &requests {
            let outcome = rt.block_on(answer(&broker, Bytes::from(r.clone())));
            assert!(matches!(outcome, Outcome::Respond(_)), "{outcome:?}");
        }
        let mut runner = TestRunner::new(Config {
            cases: 20_000,
            ..Config::default()
        });
        let strategy = (
            0..requests.len(),
            proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
            any::<Option<usize>>(),
        );
        runner
            .run(&strategy, |(which, edits, cut)| {
                let mut frame = requests[which].clone();
                for (at, byte) in edits {
                    let i = at % frame.len();
                    frame[i] = byte;
                }
                if let Some(cut) = cut {
                    frame.truncate(cut % (frame.len() + 1));
                }
                let _ = rt.block_on(bounded(answer(&broker, Bytes::from(frame))));
                Ok(())
            })
            .unwrap();
    }

    /// Encodes `request` for `key` at every version in `versions` the sample can be
    /// written in, and returns how many versions were answered (each must be).
    fn answer_every_version(
        broker: &Arc<Broker>,
        key: ApiKey,
        versions: std::ops::RangeInclusive<i16>,
        request: &RequestKind,
    ) -> usize {
        use bytes::BytesMut;
        use kafka_protocol::protocol::encode_request_header_into_buffer;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut answered = 0;
        for version in versions {
            let mut buf = BytesMut::new();
            let header = RequestHeader::default()
                .with_request_api_key(key as i16)
                .with_request_api_version(version)
                .with_correlation_id(9);
            encode_request_header_into_buffer(&mut buf, &header).unwrap();
            // Some versions cannot carry the sample's fields; skip those.
            if request.encode(&mut buf, version).is_err() {
                continue;
            }
            let outcome = rt.block_on(answer(broker, buf.freeze()));
            assert!(
                matches!(outcome, Outcome::Respond(_)),
                "{key:?} v{version}: {outcome:?}"
            );
            answered += 1;
        }
        answered
    }

    /// Every API with an error answer gets one, at every version the codec knows.
    #[test]
    fn unsupported_apis_get_error_responses() {
        use kafka_protocol::messages::*;
        let (_dir, broker) = test_broker();
        let requests = vec![
            (
                ApiKey::SaslHandshake,
                RequestKind::SaslHandshake(SaslHandshakeRequest::default()),
            ),
            (
                ApiKey::ListPartitionReassignments,
                RequestKind::ListPartitionReassignments(
                    ListPartitionReassignmentsRequest::default(),
                ),
            ),
        ];
        let mut answered = 0;
        for (key, request) in &requests {
            assert!(supported(*key).is_none(), "{key:?} is supported now");
            let range = key.valid_versions();
            answered += answer_every_version(&broker, *key, range.min..=range.max, request);
        }
        assert!(answered >= 3, "only {answered} API versions were exercised");
    }

    /// The admin APIs answer minimal requests at every advertised version.
    #[test]
    fn admin_apis_answer_every_supported_version() {
        use kafka_protocol::messages::*;
        let (_dir, broker) = test_broker();
        let topic = TopicName(str_bytes("fuzz"));
        let requests = vec![
            (
                ApiKey::CreatePartitions,
                RequestKind::CreatePartitions(CreatePartitionsRequest::default()),
            ),
            (
                ApiKey::DeleteRecords,
                RequestKind::DeleteRecords(DeleteRecordsRequest::default().with_topics(vec![
                    delete_records_request::DeleteRecordsTopic::default()
                        .with_name(topic.clone())
                        .with_partitions(vec![Default::default()]),
                ])),
            ),
            (
                ApiKey::AlterConfigs,
                RequestKind::AlterConfigs(AlterConfigsRequest::default()),
            ),
            (
                ApiKey::IncrementalAlterConfigs,
                RequestKind::IncrementalAlterConfigs(IncrementalAlterConfigsRequest::default()),
            ),
            (
                ApiKey::OffsetForLeaderEpoch,
                RequestKind::OffsetForLeaderEpoch(OffsetForLeaderEpochRequest::default()),
            ),
            (
                ApiKey::OffsetDelete,
                RequestKind::OffsetDelete(OffsetDeleteRequest::default()),
            ),
            (
                ApiKey::DescribeProducers,
                RequestKind::DescribeProducers(DescribeProducersRequest::default()),
            ),
            (
                ApiKey::DescribeTransactions,
                RequestKind::DescribeTransactions(DescribeTransactionsRequest::default()),
            ),
            (
                ApiKey::ListTransactions,
                RequestKind::ListTransactions(ListTransactionsRequest::default()),
            ),
            (
                ApiKey::DescribeTopicPartitions,
                RequestKind::DescribeTopicPartitions(DescribeTopicPartitionsRequest::default()),
            ),
            (
                ApiKey::DescribeLogDirs,
                RequestKind::DescribeLogDirs(DescribeLogDirsRequest::default()),
            ),
            (
                ApiKey::DescribeAcls,
                RequestKind::DescribeAcls(DescribeAclsRequest::default()),
            ),
            (
                ApiKey::CreateAcls,
                RequestKind::CreateAcls(
                    CreateAclsRequest::default()
                        .with_creations(vec![create_acls_request::AclCreation::default()]),
                ),
            ),
            (
                ApiKey::DeleteAcls,
                RequestKind::DeleteAcls(
                    DeleteAclsRequest::default()
                        .with_filters(vec![delete_acls_request::DeleteAclsFilter::default()]),
                ),
            ),
        ];
        let mut answered = 0;
        for (key, request) in &requests {
            let support = supported(*key).expect("advertised");
            answered += answer_every_version(&broker, *key, support.min..=support.max, request);
        }
        assert!(answered > 20, "only {answered} API versions were exercised");
    }

    /// The transaction coordinator's APIs answer minimal requests at every advertised
    /// version.
    #[test]
    fn transaction_apis_answer_every_supported_version() {
        use kafka_protocol::messages::*;
        let (_dir, broker) = test_broker();
        let txn = || TransactionalId(str_bytes("t"));
        let requests = vec![
            (
                ApiKey::InitProducerId,
                RequestKind::InitProducerId(
                    InitProducerIdRequest::default()
                        .with_transactional_id(Some(txn()))
                        .with_transaction_timeout_ms(1000),
                ),
            ),
            (
                ApiKey::AddPartitionsToTxn,
                RequestKind::AddPartitionsToTxn(
                    AddPartitionsToTxnRequest::default().with_v3_and_below_transactional_id(txn()),
                ),
            ),
            (
                ApiKey::AddOffsetsToTxn,
                RequestKind::AddOffsetsToTxn(
                    AddOffsetsToTxnRequest::default().with_transactional_id(txn()),
                ),
            ),
            (
                ApiKey::TxnOffsetCommit,
                RequestKind::TxnOffsetCommit(
                    TxnOffsetCommitRequest::default().with_transactional_id(txn()),
                ),
            ),
            (
                ApiKey::EndTxn,
                RequestKind::EndTxn(EndTxnRequest::default().with_transactional_id(txn())),
            ),
        ];
        let mut answered = 0;
        for (key, request) in &requests {
            let api = supported(*key).unwrap();
            answered += answer_every_version(&broker, *key, api.min..=api.max, request);
        }
        assert!(
            answered >= 20,
            "only {answered} API versions were exercised"
        );
    }

    /// The group coordinator's APIs answer minimal requests at every advertised version
    /// (requests that would wait for a rebalance are not among them).
    #[test]
    fn group_apis_answer_every_supported_version() {
        use kafka_protocol::messages::*;
        let (_dir, broker) = test_broker();
        let topic = TopicName(str_bytes("fuzz"));
        let requests = vec![
            RequestKind::FindCoordinator(
                FindCoordinatorRequest::default().with_key(str_bytes("g")),
            ),
            RequestKind::FindCoordinator(
                FindCoordinatorRequest::default().with_coordinator_keys(vec![str_bytes("g")]),
            ),
            RequestKind::FindCoordinator(
                FindCoordinatorRequest::default()
                    .with_key(str_bytes("g"))
                    .with_key_type(1),
            ),
            RequestKind::JoinGroup(JoinGroupRequest::default()),
            RequestKind::SyncGroup(SyncGroupRequest::default()),
            RequestKind::Heartbeat(HeartbeatRequest::default()),
            RequestKind::LeaveGroup(LeaveGroupRequest::default()),
            RequestKind::ListGroups(ListGroupsRequest::default()),
            RequestKind::OffsetCommit(OffsetCommitRequest::default().with_topics(vec![
                offset_commit_request::OffsetCommitRequestTopic::default()
                    .with_name(topic.clone())
                    .with_partitions(vec![Default::default()]),
            ])),
            RequestKind::OffsetFetch(OffsetFetchRequest::default().with_topics(Some(vec![
                        offset_fetch_request::OffsetFetchRequestTopic::default()
                            .with_name(topic.clone())
                            .with_partition_indexes(vec![0]),
                    ]))),
            RequestKind::OffsetFetch(OffsetFetchRequest::default().with_groups(vec![
                offset_fetch_request::OffsetFetchRequestGroup::default()
                    .with_group_id(GroupId(str_bytes("g"))),
            ])),
            RequestKind::DescribeGroups(
                DescribeGroupsRequest::default().with_groups(vec![GroupId(str_bytes("g"))]),
            ),
            RequestKind::DeleteGroups(
                DeleteGroupsRequest::default().with_groups_names(vec![GroupId(str_bytes("g"))]),
            ),
            RequestKind::ConsumerGroupHeartbeat(
                ConsumerGroupHeartbeatRequest::default()
                    .with_group_id(GroupId(str_bytes("kip848")))
                    .with_member_id(str_bytes("m-1"))
                    .with_rebalance_timeout_ms(1000)
                    .with_subscribed_topic_names(Some(vec![topic.clone()]))
                    .with_topic_partitions(Some(Vec::new())),
            ),
            RequestKind::ConsumerGroupDescribe(
                ConsumerGroupDescribeRequest::default()
                    .with_group_ids(vec![GroupId(str_bytes("kip848")), GroupId(str_bytes("g"))]),
            ),
        ];
        let mut answered = 0;
        for request in &requests {
            let key = request_key(request);
            let api = supported(key).unwrap();
            answered += answer_every_version(&broker, key, api.min..=api.max, request);
        }
        assert!(answered > 60, "only {answered} API versions were exercised");
    }

    fn request_key(request: &RequestKind) -> ApiKey {
        match request {
            RequestKind::FindCoordinator(_) => ApiKey::FindCoordinator,
            RequestKind::JoinGroup(_) => ApiKey::JoinGroup,
            RequestKind::SyncGroup(_) => ApiKey::SyncGroup,
            RequestKind::Heartbeat(_) => ApiKey::Heartbeat,
            RequestKind::LeaveGroup(_) => ApiKey::LeaveGroup,
            RequestKind::ListGroups(_) => ApiKey::ListGroups,
            RequestKind::OffsetCommit(_) => ApiKey::OffsetCommit,
            RequestKind::OffsetFetch(_) => ApiKey::OffsetFetch,
            RequestKind::ConsumerGroupHeartbeat(_) => ApiKey::ConsumerGroupHeartbeat,
            RequestKind::ConsumerGroupDescribe(_) => ApiKey::ConsumerGroupDescribe,
            RequestKind::DescribeGroups(_) => ApiKey::DescribeGroups,
            _ => ApiKey::DeleteGroups,
        }
    }

    /// A 14-byte request claiming 2^31 topics used to abort the process inside the codec
    /// (see the workspace's `vendor/README.md`); it must be answered or closed like any other.
    #[test]
    fn huge_array_counts_do_not_abort() {
        let (_dir, broker) = test_broker();
        for (key, version) in [(3i16, 1i16), (0, 3), (1, 4)] {
            let mut frame = Vec::new();
            frame.extend_from_slice(&key.to_be_bytes());
            frame.extend_from_slice(&version.to_be_bytes());
            frame.extend_from_slice(&[0, 0, 0, 7, 0, 0]);
            frame.extend_from_slice(&[0x7f, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff]);
            let _ = run(&broker, frame);
        }
        // Flexible versions count with varints.
        let frame = vec![
            0, 3, 0, 12, 0, 0, 0, 7, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f,
        ];
        let _ = run(&broker, frame);
    }
}
