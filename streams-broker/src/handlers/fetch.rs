//! `Fetch`: serving record batches to consumers, with long polling.
//!
//! Each requested partition is read once, in request order, against one budget: the
//! request's `max_bytes` capped by the broker's `fetch.max.bytes` (55 MiB). A partition
//! gets whole batches from the one holding the fetch offset, at most its
//! `partition_max_bytes` and what is left of the budget; only the first partition that
//! returns data may go over, with its first batch whole, so a consumer always progresses
//! (KIP-74, Kafka's `ReplicaManager.readFromLog`). If less than `min_bytes` is
//! available the request waits, up to `max_wait_ms`, for an append to any partition, like
//! Kafka's `DelayedFetch`. Fetch sessions (KIP-227) are not kept: every response is a full
//! response with session id 0, which clients accept as "sessions unavailable".
//!
//! Every partition reports its last stable offset. A `read_committed` fetch
//! (`isolation_level=1`) gets only batches below it and the list of aborted transactions
//! overlapping them, which the client uses to drop aborted records; a `read_uncommitted`
//! one gets everything up to the high watermark.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafka_protocol::messages::ProducerId;
use kafka_protocol::messages::{fetch_request, FetchRequest, FetchResponse};

use crate::broker::Broker;
use crate::error::Error;
use crate::log::Isolation;
use crate::topics::Topic;

thread_local! {
    /// Read buffer reused across fetches on this worker thread (see
    /// [`PartitionLog::read_into`](crate::log::PartitionLog::read_into)).
    static SCRATCH: std::cell::RefCell<bytes::BytesMut> = std::cell::RefCell::new(bytes::BytesMut::new());
}

/// Upper bound on how long a fetch may wait, whatever the client asks.
const MAX_WAIT: Duration = Duration::from_secs(30);

/// One partition to read, with the request's parameters for it.
struct Wanted<'r> {
    topic: &'r fetch_request::FetchTopic,
    partition: &'r fetch_request::FetchPartition,
}

/// What names a topic in a fetch: its id from v13 on, its name before.
type TopicKey<'r> = (&'r str, uuid::Uuid);

fn topic_key(ft: &fetch_request::FetchTopic, version: i16) -> TopicKey<'_> {
    if version >= 13 {
        ("", ft.topic_id)
    } else {
        (ft.topic.0.as_str(), uuid::Uuid::nil())
    }
}

/// The partitions of `request` in request order, each once: a partition listed again
/// keeps its first place and takes the later parameters, as Kafka's `LinkedHashMap` of
/// fetch data does.
fn unique_partitions(request: &FetchRequest, version: i16) -> Vec<Wanted<'_>> {
    let mut wanted: Vec<Wanted<'_>> = Vec::new();
    let mut seen: HashMap<(TopicKey<'_>, i32), usize> = HashMap::new();
    for ft in &request.topics {
        let key = topic_key(ft, version);
        for fp in &ft.partitions {
            match seen.entry((key, fp.partition)) {
                Entry::Occupied(at) => {
                    wanted[*at.get()] = Wanted {
                        topic: ft,
                        partition: fp,
                    }
                }
                Entry::Vacant(slot) => {
                    slot.insert(wanted.len());
                    wanted.push(Wanted {
                        topic: ft,
                        partition: fp,
                    });
                }
            }
        }
    }
    wanted
}

/// The most a response to `request` may hold: its `max_bytes` capped by the broker's
/// `fetch.max.bytes` (Kafka's `KafkaApis.handleFetchRequest`).
fn response_limit(broker: &Broker, request: &FetchRequest) -> usize {
    usize::try_from(request.max_bytes)
        .unwrap_or(0)
        .min(broker.config().fetch_max_bytes)
}

/// Reads every requested partition once, in request order, against one budget as Kafka's
/// `ReplicaManager.readFromLog` does (KIP-74): each partition gets at most its
/// `partition_max_bytes` and what is left of the budget, except that the first partition
/// with data returns its first batch whole whatever its size.
fn gather(broker: &Broker, request: &FetchRequest, version: i16) -> (FetchResponse, usize) {
    let mut limit = response_limit(broker, request);
    let mut min_one_batch = true;
    let mut total = 0usize;
    let isolation = if request.isolation_level == 1 {
        Isolation::ReadCommitted
    } else {
        Isolation::ReadUncommitted
    };
    let unknown = if version >= 13 {
        ResponseError::UnknownTopicId
    } else {
        ResponseError::UnknownTopicOrPartition
    };
    let mut responses: Vec<FetchableTopicResponse> = Vec::with_capacity(request.topics.len());
    let mut current: Option<(TopicKey<'_>, Option<Arc<Topic>>)> = None;
    for Wanted {
        topic: ft,
        partition: fp,
    } in unique_partitions(request, version)
    {
        // Consecutive partitions of one topic share its entry in the response.
        let key = topic_key(ft, version);
        if current.as_ref().map(|(k, _)| *k) != Some(key) {
            let topic = if version >= 13 {
                broker.topics().get_by_id(ft.topic_id)
            } else {
                broker.topics().get(ft.topic.0.as_str())
            };
            current = Some((key, topic));
            responses.push(
                FetchableTopicResponse::default()
                    .with_topic(ft.topic.clone())
                    .with_topic_id(ft.topic_id),
            );
        }
        let topic = current.as_ref().and_then(|(_, t)| t.as_ref());
        let pd = PartitionData::default()
            .with_partition_index(fp.partition)
            .with_high_watermark(-1)
            .with_last_stable_offset(-1)
            .with_log_start_offset(-1)
            .with_aborted_transactions(Some(Vec::new()));
        let pd = match topic.and_then(|t| t.partition(fp.partition)) {
            None => pd.with_error_code(unknown.code()),
            Some(log) => {
                let max = usize::try_from(fp.partition_max_bytes)
                    .unwrap_or(0)
                    .min(limit);
                let result = SCRATCH.with_borrow_mut(|s| {
                    log.read_bounded(fp.fetch_offset, max, min_one_batch, s, isolation)
                });
                match result {
                    Ok(r) => {
                        let read = r.records.len();
                        if read > 0 {
                            min_one_batch = false;
                        }
                        limit = limit.saturating_sub(read);
                        total += read;
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
                    Err(Error::OffsetOutOfRange {
                        log_start, log_end, ..
                    }) => pd
                        .with_error_code(ResponseError::OffsetOutOfRange.code())
                        .with_high_watermark(log_end)
                        .with_last_stable_offset(log_end)
                        .with_log_start_offset(log_start),
                    Err(e) => {
                        tracing::error!(topic = log.topic(), partition = log.partition(), error = %e, "fetch read failed");
                        pd.with_error_code(ResponseError::KafkaStorageError.code())
                    }
                }
            }
        };
        if let Some(last) = responses.last_mut() {
            last.partitions.push(pd);
        }
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
    // Kafka caps the wait condition by the response limit, or a fetch could wait for
    // more than it may return.
    let min_bytes = usize::try_from(request.min_bytes)
        .unwrap_or(0)
        .min(response_limit(broker, &request))
        .max(1);
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
