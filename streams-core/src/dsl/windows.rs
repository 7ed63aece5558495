//! Window definitions and windowed keys, like Kafka Streams' `TimeWindows`, `SlidingWindows`,
//! `SessionWindows` and `Windowed<K>`.
//!
//! Time windows are half-open, `[start, end)`, and aligned to the epoch: a hopping window of size
//! 5 min advancing by 1 min has starts at every whole minute. A record belongs to every window
//! that contains its timestamp. The grace period says how long after a window's end out-of-order
//! records are still accepted; after `end + grace` (in stream time) the window is closed.

use std::fmt;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::serde::{Serde, SerdeError};

/// `d` in milliseconds, saturating at `i64::MAX`.
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A time interval: `[start, end)` for time windows, `[start, end]` for sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Window {
    /// Start in milliseconds since the epoch.
    pub start_ms: i64,
    /// End in milliseconds since the epoch.
    pub end_ms: i64,
}

impl Window {
    /// A window from `start_ms` to `end_ms`.
    pub fn new(start_ms: i64, end_ms: i64) -> Self {
        Window { start_ms, end_ms }
    }
}

/// A key qualified by the window it was aggregated in, like Kafka's `Windowed<K>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Windowed<K> {
    /// The record key.
    pub key: K,
    /// The window.
    pub window: Window,
}

impl<K> Windowed<K> {
    /// `key` in `window`.
    pub fn new(key: K, window: Window) -> Self {
        Windowed { key, window }
    }
}

impl<K: fmt::Display> fmt::Display for Windowed<K> {
    /// Kafka's format: `[key@start/end]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}@{}/{}]",
            self.key, self.window.start_ms, self.window.end_ms
        )
    }
}

/// Fixed-size windows, tumbling (advance = size) or hopping (advance < size), like Kafka's
/// `TimeWindows`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindows {
    size_ms: i64,
    advance_ms: i64,
    grace_ms: i64,
}

impl TimeWindows {
    /// Tumbling windows of `size` that close as soon as stream time passes their end.
    pub fn of_size_with_no_grace(size: Duration) -> Result<Self> {
        Self::of_size_and_grace(size, Duration::ZERO)
    }

    /// Tumbling windows of `size` that accept out-of-order records until `grace` after their end.
    pub fn of_size_and_grace(size: Duration, grace: Duration) -> Result<Self> {
        let size_ms = millis(size);
        if size_ms <= 0 {
            return Err(Error::InvalidArgument(format!(
                "window size must be at least 1 ms, got {size:?}"
            )));
        }
        Ok(TimeWindows {
            size_ms,
            advance_ms: size_ms,
            grace_ms: millis(grace),
        })
    }

    /// Makes the windows hop: a new window starts every `advance`, which must be positive and
    /// not larger than the size.
    pub fn advance_by(self, advance: Duration) -> Result<Self> {
        let advance_ms = millis(advance);
        if advance_ms <= 0 || advance_ms > self.size_ms {
            return Err(Error::InvalidArgument(format!(
                "window advance must be in (0, size = {} ms], got {advance:?}",
                self.size_ms
            )));
        }
        Ok(TimeWindows { advance_ms, ..self })
    }

    /// The window size in milliseconds.
    pub fn size_ms(&self) -> i64 {
        self.size_ms
    }

    /// The advance in milliseconds.
    pub fn advance_ms(&self) -> i64 {
        self.advance_ms
    }

    /// The grace period in milliseconds.
    pub fn grace_ms(&self) -> i64 {
        self.grace_ms
    }

    /// Every window containing `timestamp`, earliest first.
    pub fn windows_for(&self, timestamp: i64) -> Vec<Window> {
        let mut start =
            (timestamp - self.size_ms + self.advance_ms).max(0) / self.advance_ms * self.advance_ms;
        let mut windows = Vec::new();
        while start <= timestamp {
            windows.push(Window::new(start, start.saturating_add(self.size_ms)));
            start += self.advance_ms;
        }
        windows
    }
}

/// Windows defined by the time difference between records, like Kafka's `SlidingWindows`: two
/// records fall in a common window when their timestamps differ by at most the difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlidingWindows {
    time_difference_ms: i64,
    grace_ms: i64,
}

impl SlidingWindows {
    /// Sliding windows of `time_difference` that close as stream time passes them.
    pub fn of_time_difference_with_no_grace(time_difference: Duration) -> Result<Self> {
        Self::of_time_difference_and_grace(time_difference, Duration::ZERO)
    }

    /// Sliding windows of `time_difference` with a `grace` period for out-of-order records.
    pub fn of_time_difference_and_grace(
        time_difference: Duration,
        grace: Duration,
    ) -> Result<Self> {
        let time_difference_ms = millis(time_difference);
        if time_difference_ms <= 0 {
            return Err(Error::InvalidArgument(format!(
                "sliding window time difference must be at least 1 ms, got {time_difference:?}"
            )));
        }
        Ok(SlidingWindows {
            time_difference_ms,
            grace_ms: millis(grace),
        })
    }

    /// The maximum time difference in milliseconds (the window size).
    pub fn time_difference_ms(&self) -> i64 {
        self.time_difference_ms
    }

    /// The grace period in milliseconds.
    pub fn grace_ms(&self) -> i64 {
        self.grace_ms
    }
}

/// Activity sessions: records of a key closer together than the inactivity gap share a
/// session, like Kafka's `SessionWindows`. Sessions are `[first, last]` record timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionWindows {
    gap_ms: i64,
    grace_ms: i64,
}

impl SessionWindows {
    /// Sessions split by `gap` of inactivity, closed as soon as stream time passes them.
    pub fn of_inactivity_gap_with_no_grace(gap: Duration) -> Result<Self> {
        Self::of_inactivity_gap_and_grace(gap, Duration::ZERO)
    }

    /// Sessions split by `gap` of inactivity, accepting late records for `grace`.
    pub fn of_inactivity_gap_and_grace(gap: Duration, grace: Duration) -> Result<Self> {
        let gap_ms = millis(gap);
        if gap_ms <= 0 {
            return Err(Error::InvalidArgument(format!(
                "session inactivity gap must be at least 1 ms, got {gap:?}"
            )));
        }
        Ok(SessionWindows {
            gap_ms,
            grace_ms: millis(grace),
        })
    }

    /// Shorthand for [`of_inactivity_gap_with_no_grace`](Self::of_inactivity_gap_with_no_grace).
    pub fn with_inactivity_gap(gap: Duration) -> Result<Self> {
        Self::of_inactivity_gap_with_no_grace(gap)
    }

    /// The inactivity gap in milliseconds.
    pub fn inactivity_gap_ms(&self) -> i64 {
        self.gap_ms
    }

    /// The grace period in milliseconds.
    pub fn grace_ms(&self) -> i64 {
        self.grace_ms
    }
}

fn split_suffix<'a>(
    bytes: &'a [u8],
    suffix: usize,
    what: &str,
) -> std::result::Result<(&'a [u8], &'a [u8]), SerdeError> {
    if bytes.len() < suffix {
        return Err(SerdeError::new(format!(
            "{what} needs at least {suffix} bytes, got {}",
            bytes.len()
        )));
    }
    Ok(bytes.split_at(bytes.len() - suffix))
}

fn be_i64(bytes: &[u8]) -> i64 {
    let mut array = [0u8; 8];
    array.copy_from_slice(&bytes[..8]);
    i64::from_be_bytes(array)
}

/// Serde for time-windowed keys in Kafka's format: the inner key's bytes followed by the
/// window start as a big-endian `i64`. The end is the start plus the window size, which the
/// serde must therefore know (Kafka's `TimeWindowedSerde`).
pub struct TimeWindowedSerde<S> {
    inner: S,
    window_size_ms: i64,
}

impl<S> TimeWindowedSerde<S> {
    /// Windowed keys over `inner` for windows of `window_size_ms`.
    pub fn new(inner: S, window_size_ms: i64) -> Self {
        TimeWindowedSerde {
            inner,
            window_size_ms,
        }
    }
}

impl<K: 'static, S: Serde<K>> Serde<Windowed<K>> for TimeWindowedSerde<S> {
    fn serialize(
        &self,
        topic: &str,
        data: &Windowed<K>,
    ) -> std::result::Result<Option<Vec<u8>>, SerdeError> {
        let mut bytes = self.inner.serialize(topic, &data.key)?.unwrap_or_default();
        bytes.extend_from_slice(&data.window.start_ms.to_be_bytes());
        Ok(Some(bytes))
    }

    fn deserialize(
        &self,
        topic: &str,
        data: Option<&[u8]>,
    ) -> std::result::Result<Windowed<K>, SerdeError> {
        let bytes =
            data.ok_or_else(|| SerdeError::new("null where a windowed key was expected"))?;
        let (key, start) = split_suffix(bytes, 8, "a time-windowed key")?;
        let start = be_i64(start);
        let key = self.inner.deserialize(topic, Some(key))?;
        Ok(Windowed::new(
            key,
            Window::new(start, start.saturating_add(self.window_size_ms)),
        ))
    }
}

/// Serde for session-windowed keys in Kafka's format: the inner key's bytes, then the session
/// end and start as big-endian `i64`s (Kafka's `SessionWindowedSerde`).
pub struct SessionWindowedSerde<S> {
    inner: S,
}

impl<S> SessionWindowedSerde<S> {
    /// Session-windowed keys over `inner`.
    pub fn new(inner: S) -> Self {
        SessionWindowedSerde { inner }
    }
}

impl<K: 'static, S: Serde<K>> Serde<Windowed<K>> for SessionWindowedSerde<S> {
    fn serialize(
        &self,
        topic: &str,
        data: &Windowed<K>,
    ) -> std::result::Result<Option<Vec<u8>>, SerdeError> {
        let mut bytes = self.inner.serialize(topic, &data.key)?.unwrap_or_default();
        bytes.extend_from_slice(&data.window.end_ms.to_be_bytes());
        bytes.extend_from_slice(&data.window.start_ms.to_be_bytes());
        Ok(Some(bytes))
    }

    fn deserialize(
        &self,
        topic: &str,
        data: Option<&[u8]>,
    ) -> std::result::Result<Windowed<K>, SerdeError> {
        let bytes =
            data.ok_or_else(|| SerdeError::new("null where a session-windowed key was expected"))?;
        let (key, times) = split_suffix(bytes, 16, "a session-windowed key")?;
        let (end, start) = (be_i64(&times[..8]), be_i64(&times[8..]));
        let key = self.inner.deserialize(topic, Some(key))?;
        Ok(Windowed::new(key, Window::new(start, end)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serde::StringSerde;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn tumbling_windows_are_epoch_aligned() {
        let w = TimeWindows::of_size_with_no_grace(ms(10)).unwrap();
        assert_eq!(w.windows_for(0), [Window::new(0, 10)]);
        assert_eq!(w.windows_for(9), [Window::new(0, 10)]);
        assert_eq!(w.windows_for(10), [Window::new(10, 20)]);
        assert_eq!(w.windows_for(1234), [Window::new(1230, 1240)]);
    }

    #[test]
    fn hopping_windows_contain_each_timestamp_size_over_advance_times() {
        let w = TimeWindows::of_size_and_grace(ms(10), ms(5))
            .unwrap()
            .advance_by(ms(5))
            .unwrap();
        assert_eq!(w.windows_for(12), [Window::new(5, 15), Window::new(10, 20)]);
        // Near the epoch there are fewer windows: none starts before 0.
        assert_eq!(w.windows_for(3), [Window::new(0, 10)]);
        assert_eq!(w.grace_ms(), 5);
        let w = TimeWindows::of_size_with_no_grace(ms(10))
            .unwrap()
            .advance_by(ms(3))
            .unwrap();
        assert_eq!(
            w.windows_for(20)
                .iter()
                .map(|w| w.start_ms)
                .collect::<Vec<_>>(),
            [12, 15, 18]
        );
    }

    #[test]
    fn invalid_windows_are_errors() {
        assert!(TimeWindows::of_size_with_no_grace(Duration::ZERO).is_err());
        let w = TimeWindows::of_size_with_no_grace(ms(10)).unwrap();
        assert!(w.advance_by(ms(11)).is_err());
        assert!(w.advance_by(Duration::ZERO).is_err());
        assert!(SessionWindows::with_inactivity_gap(Duration::ZERO).is_err());
        assert!(SlidingWindows::of_time_difference_with_no_grace(Duration::ZERO).is_err());
    }

    #[test]
    fn windowed_serdes_use_kafkas_layout() {
        let key = Windowed::new("k".to_string(), Window::new(100, 110));
        let serde = TimeWindowedSerde::new(StringSerde, 10);
        let bytes = serde.serialize("t", &key).unwrap().unwrap();
        assert_eq!(bytes, [b"k".as_slice(), &100i64.to_be_bytes()].concat());
        assert_eq!(serde.deserialize("t", Some(&bytes)).unwrap(), key);
        assert!(serde.deserialize("t", Some(b"short")).is_err());

        let session = Windowed::new("k".to_string(), Window::new(5, 42));
        let serde = SessionWindowedSerde::new(StringSerde);
        let bytes = serde.serialize("t", &session).unwrap().unwrap();
        assert_eq!(
            bytes,
            [b"k".as_slice(), &42i64.to_be_bytes(), &5i64.to_be_bytes()].concat()
        );
        assert_eq!(serde.deserialize("t", Some(&bytes)).unwrap(), session);
        assert_eq!(session.to_string(), "[k@5/42]");
    }
}

/// How far apart in time two records of a stream-stream join may be (Kafka's `JoinWindows`):
/// a record at `t` joins records of the other stream in `[t - before, t + after]`, which are
/// both the time difference unless [`before`](Self::before) / [`after`](Self::after) set them
/// apart; records arriving later than the grace period after their window closed are dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinWindows {
    before_ms: i64,
    after_ms: i64,
    grace_ms: i64,
}

impl JoinWindows {
    /// Joins records at most `time_difference` apart; no out-of-order grace.
    pub fn of_time_difference_with_no_grace(time_difference: Duration) -> Result<Self> {
        Self::of_time_difference_and_grace(time_difference, Duration::ZERO)
    }

    /// Joins records at most `time_difference` apart, accepting out-of-order records for
    /// `grace` after their window closed.
    pub fn of_time_difference_and_grace(
        time_difference: Duration,
        grace: Duration,
    ) -> Result<Self> {
        let difference = millis(time_difference);
        if difference < 0 {
            return Err(Error::InvalidArgument(format!(
                "join window time difference must not be negative, got {time_difference:?}"
            )));
        }
        Ok(JoinWindows {
            before_ms: difference,
            after_ms: difference,
            grace_ms: millis(grace),
        })
    }

    /// Joins a record with the other stream's records up to `before` earlier (Kafka's
    /// `JoinWindows.before`).
    pub fn before(mut self, before: Duration) -> Self {
        self.before_ms = millis(before);
        self
    }

    /// Joins a record with the other stream's records up to `after` later (Kafka's
    /// `JoinWindows.after`).
    pub fn after(mut self, after: Duration) -> Self {
        self.after_ms = millis(after);
        self
    }

    /// How much earlier the other stream's records may be, in milliseconds.
    pub fn before_ms(&self) -> i64 {
        self.before_ms
    }

    /// How much later the other stream's records may be, in milliseconds.
    pub fn after_ms(&self) -> i64 {
        self.after_ms
    }

    /// The grace period in milliseconds.
    pub fn grace_ms(&self) -> i64 {
        self.grace_ms
    }
}
