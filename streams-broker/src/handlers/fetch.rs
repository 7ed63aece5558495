//! `Fetch`: serving record batches to consumers, with long polling.
//!
//! For each requested partition the log returns whole batches from the one holding the
//! fetch offset, bounded by `partition_max_bytes` and the response's `max_bytes` (the first
//! batch is always returned whole so a consumer can progress). If less than `min_bytes` is
//! available the request waits, up to `max_wait_ms`, for an append to any partition, like
//! Kafka's `DelayedFetch`. Fetch sessions (KIP-227) are not kept: every response is a full
//! response with session id 0, which clients accept as "sessions unavailable".
//!
//! Every partition reports its last stable offset. A `read_committed` fetch
//! (`isolation_level=1`) gets only batches below it and the list of aborted transactions
//! overlapping them, which the client uses to drop aborted records; a `read_uncommitted`
//! one gets everything up to the high watermark.

use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::ProducerId;
use kafka_protocol::messages::{FetchRequest, FetchResponse};

use crate::broker::Broker;
use crate::error::Error;
use crate::log::Isolation;

thread_local! {
    /// Read buffer reused across fetches on this worker thread (see
    /// [`PartitionLog::read_into`](crate::log::PartitionLog::read_into)).
    static SCRATCH: std::cell::RefCell<bytes::BytesMut> = std::cell::RefCell::new(bytes::BytesMut::new());
}

/// Upper bound on how long a fetch may wait, whatever the client asks.
const MAX_WAIT: Duration = Duration::from_secs(30);

fn gather(broker: &Broker, request: &FetchRequest, version: i16) -> (FetchResponse, usize) {
    let mut budget = usize::try_from(request.max_bytes).unwrap_or(0);
    if budget == 0 {
        budget = usize::MAX;
    }
    let mut total = 0usize;
    let isolation = if request.isolation_level == 1 {
        Isolation::ReadCommitted
    } else {
        Isolation::ReadUncommitted
    };
    let mut responses = Vec::with_capacity(request.topics.len());
    for ft in &request.topics {
        let topic = if version >= 13 {
            broker.topics().get_by_id(ft.topic_id)
        } else {
            broker.topics().get(ft.topic.0.as_str())
        };
        let unknown = if version >= 13 {
            ResponseError::UnknownTopicId
        } else {
            ResponseError::UnknownTopicOrPartition
        };
        let partitions = ft
            .partitions
            .iter()
            .map(|fp| {
                let pd = PartitionData::default()
                    .with_partition_index(fp.partition)
                    .with_high_watermark(-1)
                    .with_last_stable_offset(-1)
                    .with_log_start_offset(-1)
                    .with_aborted_transactions(Some(Vec::new()));
                let Some(log) = topic.as_ref().and_then(|t| t.partition(fp.partition)) else {
                    return pd.with_error_code(unknown.code());
                };
                let want = usize::try_from(fp.partition_max_bytes).unwrap_or(0);
                // Once the response is full, later partitions report positions only.
                let want = if budget > total { want.min(budget - total) } else { 0 };
                let max = if want == 0 && total > 0 { 0 } else { want.max(1) };
                let result = if max == 0 {
                    log.position(fp.fetch_offset)
                } else {
                    SCRATCH.with_borrow_mut(|s| {
                        log.read_isolated_into(fp.fetch_offset, max, s, isolation)
                    })
                };
                match result {
                    Ok(r) => {
                        total += r.records.len();
                        let aborted = r
                            .aborted
                            .iter()
                            .map(|a| {
                                AbortedTransaction::default()
                                    .with_producer_id(ProducerId(a.producer_id))
                                    .with_first_offset(a.first_offset)
                            })
                            .collect();
                        pd.with_high_watermark(r.high_watermark)
                            .with_last_stable_offset(r.last_stable_offset)
                            .with_log_start_offset(r.log_start_offset)
                            .with_aborted_transactions(Some(aborted))
                            .with_records(Some(r.records))
                    }
                    Err(Error::OffsetOutOfRange { log_start, log_end, .. }) => pd
                        .with_error_code(ResponseError::OffsetOutOfRange.code())
                        .with_high_watermark(log_end)
                        .with_last_stable_offset(log_end)
                        .with_log_start_offset(log_start),
                    Err(e) => {
                        tracing::error!(topic = log.topic(), partition = log.partition(), error = %e, "fetch read failed");
                        pd.with_error_code(ResponseError::KafkaStorageError.code())
                    }
                }
            })
            .collect();
        responses.push(
            FetchableTopicResponse::default()
                .with_topic(ft.topic.clone())
                .with_topic_id(ft.topic_id)
                .with_partitions(partitions),
        );
    }
    (FetchResponse::default().with_responses(responses), total)
}

fn has_error(response: &FetchResponse) -> bool {
    response
        .responses
        .iter()
        .any(|t| t.partitions.iter().any(|p| p.error_code != 0))
}

pub(super) async fn handle(
    broker: &Arc<Broker>,
    request: FetchRequest,
    version: i16,
) -> FetchResponse {
    let wait = Duration::from_millis(u64::try_from(request.max_wait_ms).unwrap_or(0)).min(MAX_WAIT);
    let deadline = tokio::time::Instant::now() + wait;
    let min_bytes = usize::try_from(request.min_bytes).unwrap_or(0).max(1);
    let mut appends = broker.subscribe_appends();
    loop {
        appends.borrow_and_update();
        let (response, total) = gather(broker, &request, version);
        if total >= min_bytes || has_error(&response) || tokio::time::Instant::now() >= deadline {
            return response;
        }
        match tokio::time::timeout_at(deadline, appends.changed()).await {
            Ok(Ok(())) => continue,
            // Timed out or the broker is going away: answer with what there is.
            _ => return gather(broker, &request, version).0,
        }
    }
}
