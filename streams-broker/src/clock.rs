//! The broker's wall clock, in Kafka's unit: milliseconds since the Unix epoch.
//!
//! Record timestamps, retention, compaction lags, session timeouts and transaction
//! timeouts are all compared against it (Kafka's `Time.milliseconds()`). A leaf module, so
//! the log, the coordinators and the broker share one definition.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
