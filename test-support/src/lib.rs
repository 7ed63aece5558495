//! What Rill's end-to-end tests (`tests/`), benchmarks (`benches/`) and examples share, so that
//! each of them says only what is particular to it.
//!
//! - [`wordcount`]: Kafka's WordCountDemo topology, seeded random input lines and the
//!   `HashMap` model of the counts they must produce.
//! - [`produce`](mod@produce): producing records and lines (with timestamps, tombstones) over rdkafka.
//! - [`numbered`]: numbered records whose place in each partition is known, for the broker's
//!   client tests.
//! - [`read`]: reading an output topic back as word counts or as a table.
//! - [`broker`](mod@broker): the embedded broker configured for tests.
//! - [`streams`]: a `StreamsConfig` for tests, waiting for RUNNING, counting restored records.
//! - [`process`]: child processes: `rill broker`, the example binaries, kcat and kafka-python.
//! - [`protocol`]: a raw blocking Kafka-protocol client and record-batch builders, for requests
//!   the real clients cannot be made to send.
//!
//! This crate is a dev-dependency of the `rill` package only, and is not published
//! (`publish = false`). Its helpers panic, with a message saying what failed, rather than
//! return errors: a failed step fails the test that called it.

#![forbid(unsafe_code)]

pub mod broker;
pub mod numbered;
pub mod process;
pub mod produce;
pub mod protocol;
pub mod read;
pub mod streams;
pub mod wordcount;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

// The helpers most tests use, importable at once with `use rill_test_support::*`.
pub use broker::{broker, embedded_broker, word_count_topics};
pub use produce::{produce, produce_lines, produce_timestamped};
pub use read::{CountReader, TableReader};
pub use streams::{config, restore_counter, wait_running, RestoreCounter};
pub use wordcount::{model, random_lines, word_count, word_count_with, words};

/// A number unique within this process, for topic, group and application names.
pub fn unique() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Polls `condition` every 50 ms until it holds; panics naming `what` after `timeout`.
pub fn wait_until(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for: {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Milliseconds since the Unix epoch, as Kafka's record timestamps count them.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_millis() as i64
}

/// The environment variable `name` as a number, or `default` when it is unset or not a number
/// (the benchmarks' size settings, such as `RILL_BENCH_RECORDS`).
pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The workspace's root directory (where `Makefile` and `target/pyvenv` are).
pub fn workspace_root() -> PathBuf {
    // This crate sits one level below the root.
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("test-support lies inside the workspace")
        .to_path_buf()
}
