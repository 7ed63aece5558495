//! `Produce`: appending record batches to partition logs.
//!
//! Each partition's records arrive as one raw v2 batch (Kafka refuses more than one, or
//! zstd before Produce v7, in `ProduceRequest.validateRecords`). They are validated (CRC-32C, size
//! against `max.message.bytes`, header consistency), given offsets in place and appended,
//! never rewritten (Kafka's `ReplicaManager.appendRecords` with one replica). Their records
//! are walked, as Kafka's `LogValidator` walks them: a batch whose records do not match its
//! header or do not parse is `INVALID_RECORD`, one with an unknown codec or that does not
//! decompress within its bound `CORRUPT_MESSAGE`, and a compacted topic refuses records
//! without a key (`INVALID_RECORD`). `acks=0`
//! gets no response at all; with one replica `acks=1` and `acks=all` mean the same.
//!
//! Batches of idempotent producers are checked against the partition's producer state: a
//! retried batch is acknowledged with its original offset and not appended again, a gap
//! in the sequence is `OUT_OF_ORDER_SEQUENCE_NUMBER`, a fenced epoch
//! `INVALID_PRODUCER_EPOCH`. A transactional batch is accepted only for a partition of its
//! producer's open transaction (`INVALID_TXN_STATE` otherwise), as Kafka verifies since
//! KIP-890, so no transaction can be left open where its coordinator writes no marker.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse};

use super::Outcome;
use crate::broker::Broker;
use crate::error::{Error, ProducerError};
use crate::log::batch::BatchHeader;
use crate::log::PartitionLog;
use crate::wire::{LegacyProduceRequest, LegacyProduceResponse, Response, ResponseBody};

/// Kafka's `ProduceRequest.validateRecords`, checked before anything else: a partition's
/// records are exactly one v2 batch, and zstd needs Produce v7.
fn check_one_batch(records: &[u8], version: i16) -> Result<(), (ResponseError, String)> {
    let Some(h) = BatchHeader::parse(records).filter(|h| h.size <= records.len()) else {
        return Err((
            ResponseError::InvalidRecord,
            format!("Produce requests with version {version} must have at least one record batch per partition"),
        ));
    };
    if h.magic != 2 {
        return Err((
            ResponseError::InvalidRecord,
            format!("Produce requests with version {version} are only allowed to contain record batches with magic version 2"),
        ));
    }
    if version < 7 && h.compression() == 4 {
        return Err((
            ResponseError::UnsupportedCompressionType,
            format!("Produce requests with version {version} are not allowed to use ZStandard compression"),
        ));
    }
    let rest = &records[h.size..];
    if BatchHeader::parse(rest).is_some_and(|next| next.size <= rest.len()) {
        return Err((
            ResponseError::InvalidRecord,
            format!("Produce requests with version {version} are only allowed to contain exactly one record batch per partition"),
        ));
    }
    Ok(())
}

fn append(
    broker: &Broker,
    log: &PartitionLog,
    records: Option<Bytes>,
    version: i16,
) -> PartitionProduceResponse {
    let base = PartitionProduceResponse::default()
        .with_base_offset(-1)
        .with_log_append_time_ms(-1)
        .with_log_start_offset(-1);
    let Some(records) = records else {
        return base.with_error_code(ResponseError::CorruptMessage.code());
    };
    if let Err((code, message)) = check_one_batch(&records, version) {
        tracing::warn!(topic = log.topic(), partition = log.partition(), %message, "rejected produce");
        return base
            .with_error_code(code.code())
            .with_error_message(Some(super::str_bytes(&message)));
    }
    let mut buf = records
        .try_into_mut()
        .unwrap_or_else(|shared| BytesMut::from(&shared[..]));
    let transactional = BatchHeader::parse(&buf)
        .filter(|h| h.is_transactional() && h.has_producer_id() && !h.is_control());
    let result = match transactional {
        Some(h) => {
            let verified = broker.transactions().verify_produce(
                h.producer_id,
                h.producer_epoch,
                log.topic(),
                log.partition(),
                || log.append(&mut buf),
            );
            match verified {
                Ok(r) => r,
                Err(code) => {
                    tracing::debug!(
                        topic = log.topic(),
                        partition = log.partition(),
                        producer_id = h.producer_id,
                        ?code,
                        "transactional produce refused"
                    );
                    return base.with_error_code(code.code());
                }
            }
        }
        None => log.append(&mut buf),
    };
    match result {
        Ok(info) => base
            .with_base_offset(info.base_offset)
            .with_log_start_offset(info.log_start_offset)
            .with_log_append_time_ms(info.log_append_time),
        Err(e) => {
            let code = match &e {
                Error::BatchTooLarge { .. } => ResponseError::MessageTooLarge,
                Error::CorruptBatch { .. } => ResponseError::CorruptMessage,
                Error::Producer { source, .. } => match source {
                    ProducerError::OutOfOrderSequence { .. } => {
                        ResponseError::OutOfOrderSequenceNumber
                    }
                    ProducerError::InvalidProducerEpoch { .. } => {
                        ResponseError::InvalidProducerEpoch
                    }
                    ProducerError::InvalidTxnState { .. } => ResponseError::InvalidTxnState,
                    ProducerError::ControlBatchFromClient => ResponseError::InvalidRecord,
                },
                Error::InvalidRecord { .. } => ResponseError::InvalidRecord,
                _ => ResponseError::KafkaStorageError,
            };
            // Kafka names each rejected record by its index in the batch (Produce v8+).
            let record_errors = match &e {
                Error::InvalidRecord {
                    record_indexes,
                    reason,
                    ..
                } => record_indexes
                    .iter()
                    .map(|&i| {
                        BatchIndexAndErrorMessage::default()
                            .with_batch_index(i)
                            .with_batch_index_error_message(Some(super::str_bytes(reason)))
                    })
                    .collect(),
                _ => Vec::new(),
            };
            let message = match &e {
                // Kafka's own summary (`LogValidator.processRecordErrors`).
                Error::InvalidRecord {
                    record_indexes,
                    reason,
                    ..
                } if !record_indexes.is_empty() => {
                    let shown: Vec<String> = record_indexes
                        .iter()
                        .take(3)
                        .map(|i| format!("RecordError(batchIndex={i}, message='{reason}')"))
                        .collect();
                    format!(
                        "One or more records have been rejected due to {} record errors in total, and only showing the first three errors at most: [{}]",
                        record_indexes.len(),
                        shown.join(", ")
                    )
                }
                _ => e.to_string(),
            };
            tracing::warn!(topic = log.topic(), partition = log.partition(), error = %e, "rejected produce");
            base.with_error_code(code.code())
                .with_error_message(Some(super::str_bytes(&message)))
                .with_record_errors(record_errors)
        }
    }
}

pub(super) fn handle(
    broker: &Arc<Broker>,
    request: ProduceRequest,
    version: i16,
) -> Option<ProduceResponse> {
    let acks = request.acks;
    let invalid_acks = !matches!(acks, -1..=1);
    let mut appended = false;
    let mut responses = Vec::with_capacity(request.topic_data.len());
    for topic_data in request.topic_data {
        let topic = if version >= 13 {
            broker.topics().get_by_id(topic_data.topic_id)
        } else {
            broker.topics().get(topic_data.name.0.as_str())
        };
        let unknown = if version >= 13 {
            ResponseError::UnknownTopicId
        } else {
            ResponseError::UnknownTopicOrPartition
        };
        let partitions = topic_data
            .partition_data
            .into_iter()
            .map(|pd| {
                let log = topic.as_ref().and_then(|t| t.partition(pd.index));
                let internal = topic.as_ref().is_some_and(|t| t.is_internal());
                let resp = match log {
                    _ if invalid_acks => PartitionProduceResponse::default()
                        .with_error_code(ResponseError::InvalidRequiredAcks.code()),
                    // Only the broker writes its internal topics, as in Kafka.
                    Some(_) if internal => PartitionProduceResponse::default()
                        .with_error_code(ResponseError::InvalidTopicException.code())
                        .with_base_offset(-1),
                    Some(log) => {
                        let r = append(broker, log, pd.records, version);
                        appended |= r.error_code == 0;
                        r
                    }
                    None => PartitionProduceResponse::default()
                        .with_error_code(unknown.code())
                        .with_base_offset(-1),
                };
                resp.with_index(pd.index)
            })
            .collect();
        responses.push(
            TopicProduceResponse::default()
                .with_name(topic_data.name)
                .with_topic_id(topic_data.topic_id)
                .with_partition_responses(partitions),
        );
    }
    if appended {
        broker.notify_append();
    }
    if acks == 0 {
        return None;
    }
    Some(ProduceResponse::default().with_responses(responses))
}

/// Answers `Produce` v0–v2 (message formats v0/v1, removed in Kafka 4) with
/// `UNSUPPORTED_VERSION` for every partition. These versions are outside what the codec
/// library decodes; see [`LegacyProduceRequest`] for theirs.
pub(super) fn reject_old_version(frame: Bytes, version: i16, correlation_id: i32) -> Outcome {
    let Some(request) = LegacyProduceRequest::decode(frame) else {
        return Outcome::Close(format!("undecodable Produce v{version} request"));
    };
    if request.acks == 0 {
        return Outcome::Nothing;
    }
    Outcome::Respond(Response {
        api_key: ApiKey::Produce,
        version,
        correlation_id,
        body: ResponseBody::LegacyProduce(LegacyProduceResponse {
            version,
            error: ResponseError::UnsupportedVersion,
            topics: request.topics,
        }),
    })
}
