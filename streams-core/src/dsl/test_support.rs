//! Helpers the DSL's driver tests share: common serdes, and output topics read as plain tuples.

use std::time::Duration;

use crate::prelude::*;
use crate::serde::StringSerde;

/// Keys and values as strings.
pub(super) fn strings() -> Consumed<String, String> {
    Consumed::with(Serdes::string(), Serdes::string())
}

/// Grouped by string keys with string values.
pub(super) fn grouped() -> Grouped<String, String> {
    Grouped::with(Serdes::string(), Serdes::string())
}

/// `n` milliseconds.
pub(super) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Everything written to the string topic "out" so far, as (key, value, timestamp).
pub(super) fn outputs(driver: &TopologyTestDriver) -> Vec<(String, String, i64)> {
    driver
        .create_output_topic("out", StringSerde, StringSerde)
        .read_records_to_list()
        .into_iter()
        .map(|r| (r.key, r.value, r.timestamp))
        .collect()
}

/// Expected (key, value, timestamp) triples as [`outputs`] returns them.
pub(super) fn owned(expected: &[(&str, &str, i64)]) -> Vec<(String, String, i64)> {
    expected
        .iter()
        .map(|(k, v, t)| (k.to_string(), v.to_string(), *t))
        .collect()
}
