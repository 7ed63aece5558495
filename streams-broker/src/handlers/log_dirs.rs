//! `DescribeLogDirs`: where each partition lives and how much disk it takes (what
//! `kafka-log-dirs.sh` shows). The broker has one log directory, its data directory; its
//! total and usable bytes come from the file system.

use std::sync::Arc;

use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::{DescribeLogDirsRequest, DescribeLogDirsResponse, TopicName};

use super::str_bytes;
use crate::broker::Broker;

pub(super) fn describe_log_dirs(
    broker: &Arc<Broker>,
    request: DescribeLogDirsRequest,
) -> DescribeLogDirsResponse {
    // `None` asks for every partition; a named topic the broker lacks is left out, as Kafka
    // does (it reports only replicas it hosts).
    let wanted: Option<Vec<(String, Vec<i32>)>> = request.topics.map(|topics| {
        topics
            .into_iter()
            .map(|t| (t.topic.0.as_str().to_string(), t.partitions))
            .collect()
    });
    let mut topics = Vec::new();
    for topic in broker.topics().list() {
        let partitions: Vec<i32> = match &wanted {
            None => (0..topic.partitions.len() as i32).collect(),
            Some(list) => match list.iter().find(|(name, _)| *name == topic.name) {
                Some((_, partitions)) => partitions.clone(),
                None => continue,
            },
        };
        let described: Vec<DescribeLogDirsPartition> = partitions
            .iter()
            .filter_map(|&p| topic.partition(p).map(|log| (p, log)))
            .map(|(p, log)| {
                DescribeLogDirsPartition::default()
                    .with_partition_index(p)
                    .with_partition_size(log.size_bytes() as i64)
                    .with_offset_lag(0)
            })
            .collect();
        if !described.is_empty() {
            topics.push(
                DescribeLogDirsTopic::default()
                    .with_name(TopicName(str_bytes(&topic.name)))
                    .with_partitions(described),
            );
        }
    }
    let (total, usable) = disk_space(broker.data_dir());
    let result = DescribeLogDirsResult::default()
        .with_log_dir(str_bytes(&broker.data_dir().display().to_string()))
        .with_topics(topics)
        .with_total_bytes(total)
        .with_usable_bytes(usable);
    let result = if total < 0 {
        result.with_error_code(ResponseError::KafkaStorageError.code())
    } else {
        result
    };
    DescribeLogDirsResponse::default().with_results(vec![result])
}

/// The total and available bytes of the file system holding `dir`; -1 each if unknown.
fn disk_space(dir: &std::path::Path) -> (i64, i64) {
    match rustix::fs::statvfs(dir) {
        Ok(stat) => {
            let block = stat.f_frsize as i64;
            (
                (stat.f_blocks as i64).saturating_mul(block),
                (stat.f_bavail as i64).saturating_mul(block),
            )
        }
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "could not read the file system's size");
            (-1, -1)
        }
    }
}
