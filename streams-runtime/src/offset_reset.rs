//! Per-source offset-reset policies, like Kafka Streams' handling of
//! `NoOffsetForPartitionException` in its `StreamThread` with `Consumed#withOffsetResetPolicy`
//! (KIP-1106's `AutoOffsetReset`).
//!
//! The group consumer starts a partition without a committed offset at the earliest offset
//! (Kafka Streams' default `auto.offset.reset`). When the group assigns partitions of a topic
//! whose source has its own policy, the partitions without a committed offset are re-assigned
//! at the offset that policy names: the end (`latest`), the first offset at or after now minus
//! the duration (`by_duration`, the end if there is none), or the start (`earliest`); `none`
//! fails the thread, as Kafka's `none` does. Partitions with a committed offset resume from it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::{Offset, TopicPartitionList};
use streams_core::{AutoOffsetReset, Topology};

use crate::error::{Error, Result};

/// Re-assigns the partitions of `assignment` that have no committed offset and whose source
/// has an offset-reset policy, at the offset the policy names; see the module docs.
pub(crate) fn apply<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topology: &Topology,
    assignment: &TopicPartitionList,
    timeout: Duration,
) -> Result<()> {
    let elements = assignment.elements();
    let with_policy: Vec<(String, i32, AutoOffsetReset)> = elements
        .iter()
        .filter_map(|e| {
            topology
                .offset_reset_policy(e.topic())
                .map(|policy| (e.topic().to_string(), e.partition(), policy))
        })
        .collect();
    if with_policy.is_empty() {
        return Ok(());
    }
    let mut query = TopicPartitionList::new();
    for (topic, partition, _) in &with_policy {
        query.add_partition(topic, *partition);
    }
    let committed = consumer.committed_offsets(query, timeout).map_err(|e| {
        Error::kafka(
            "reading committed offsets to apply offset-reset policies",
            e,
        )
    })?;
    let mut reset = Vec::new();
    for (topic, partition, policy) in with_policy {
        let has_committed = committed
            .find_partition(&topic, partition)
            .is_some_and(|e| matches!(e.offset(), Offset::Offset(o) if o >= 0));
        if !has_committed {
            reset.push((topic, partition, policy));
        }
    }
    if reset.is_empty() {
        return Ok(());
    }
    let mut reassigned = TopicPartitionList::new();
    for e in &elements {
        let policy = reset
            .iter()
            .find(|(t, p, _)| t == e.topic() && *p == e.partition())
            .map(|(_, _, policy)| *policy);
        let offset = match policy {
            None => e.offset(),
            Some(AutoOffsetReset::Earliest) => Offset::Beginning,
            Some(AutoOffsetReset::Latest) => Offset::End,
            Some(AutoOffsetReset::ByDuration(duration)) => {
                by_duration(consumer, e.topic(), e.partition(), duration, timeout)?
            }
            Some(AutoOffsetReset::None) => {
                return Err(Error::IllegalState(format!(
                    "no committed offset for {}-{} and its source's offset-reset policy is `none`",
                    e.topic(),
                    e.partition()
                )))
            }
        };
        reassigned
            .add_partition_offset(e.topic(), e.partition(), offset)
            .map_err(|err| {
                Error::kafka(format!("assigning {}-{}", e.topic(), e.partition()), err)
            })?;
    }
    tracing::info!(partitions = ?reset.iter().map(|(t, p, policy)| format!("{t}-{p}: {policy:?}")).collect::<Vec<_>>(), "applying source offset-reset policies");
    consumer
        .assign(&reassigned)
        .map_err(|e| Error::kafka("re-assigning partitions at their reset offsets", e))
}

/// The first offset of `topic`-`partition` written at or after now minus `duration`, or the
/// end if none is (Kafka's `AutoOffsetReset.byDuration`).
fn by_duration<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
    partition: i32,
    duration: Duration,
    timeout: Duration,
) -> Result<Offset> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let since = now.saturating_sub(duration).as_millis() as i64;
    let mut query = TopicPartitionList::new();
    query
        .add_partition_offset(topic, partition, Offset::Offset(since))
        .map_err(|e| Error::kafka(format!("looking up offsets of {topic}-{partition}"), e))?;
    let found = consumer.offsets_for_times(query, timeout).map_err(|e| {
        Error::kafka(
            format!("looking up offsets by time of {topic}-{partition}"),
            e,
        )
    })?;
    Ok(
        match found.find_partition(topic, partition).map(|e| e.offset()) {
            Some(Offset::Offset(offset)) if offset >= 0 => Offset::Offset(offset),
            _ => Offset::End,
        },
    )
}
