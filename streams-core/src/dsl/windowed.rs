//! Windowed aggregations: a grouped stream cut into time windows or sessions, aggregated per key
//! and window into a `KTable<Windowed<K>, V>` — like Kafka Streams' `TimeWindowedKStream` and
//! `SessionWindowedKStream`.
//!
//! Each record updates every window that contains it, as long as the window is still open: a window
//! closes when the stream time seen by the operator passes its end plus the grace period (a
//! session: its end plus the inactivity gap plus the grace period, as it could still grow until
//! then), and a record for a closed window is dropped (and logged), never applied. Time-window
//! aggregates live in a window store (value and timestamp, retention = size + grace unless
//! `Materialized::with_retention` says more); session aggregates in a session store, where a record
//! merges every session within the inactivity gap of it and the merged sessions are deleted
//! downstream with tombstones.
//!
//! The stores have a record cache by default, as in Kafka (`Materialized::with_caching_disabled`
//! turns it off): updates then go downstream when the cache flushes — at commit, or when it is
//! full — one per window or session with its latest aggregate, merged sessions' tombstones only
//! for sessions that had reached the store. Emitting on window close never uses a cache.

use super::cached::{table_update, CacheForwarder};
use super::change::Change;
use super::kgrouped::{skip_null, Add, AggregationPlan, KGroupedStream, Start};
use super::kstream::KStream;
use super::ktable::KTable;
use super::options::Materialized;
use super::windows::{
    SessionWindowedSerde, SessionWindows, SlidingWindows, TimeWindowedSerde, TimeWindows,
};
use super::windows::{Window, Windowed};
use crate::error::Result;
use crate::processor::{Data, Processor, ProcessorContext};
use crate::record::Record;
use crate::serde::{I64Serde, Serde, SharedSerde};
use crate::state::{initialized, CachedRef, SessionStoreRef, TimestampedWindowStoreRef};
use std::sync::Arc;

const AGGREGATE_NAME: &str = "KSTREAM-AGGREGATE-";
const REDUCE_NAME: &str = "KSTREAM-REDUCE-";

/// Merges two session aggregates of one key when a record bridges their sessions.
pub(super) type Merge<K, VA> = Arc<dyn Fn(&K, VA, VA) -> VA + Send + Sync>;
/// A session aggregation's initializer; `None` for `reduce`, whose first session (or value)
/// starts the aggregate, as Kafka's reduce does with its null initial aggregate.
pub(super) type Init<VA> = Option<Arc<dyn Fn() -> VA + Send + Sync>>;

/// When a windowed aggregation emits its results (Kafka's `EmitStrategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EmitStrategy {
    /// Every update of a window's aggregate is emitted as it happens (the default).
    #[default]
    OnWindowUpdate,
    /// Each window's final aggregate is emitted once, when the window closes (stream time passes
    /// its end plus the grace period).
    OnWindowClose,
}

impl EmitStrategy {
    /// Emit every update (Kafka's `EmitStrategy.onWindowUpdate()`).
    pub fn on_window_update() -> Self {
        EmitStrategy::OnWindowUpdate
    }

    /// Emit one final result per window when it closes (Kafka's `EmitStrategy.onWindowClose()`).
    pub fn on_window_close() -> Self {
        EmitStrategy::OnWindowClose
    }
}

impl<K: Data, V: Data, VA: Data> AggregationPlan<K, V, VA> {
    /// The retention of a windowed aggregation's store: `materialized`'s, else `minimum` (the
    /// least that keeps every open window); less than `minimum` is reported for `build()`.
    fn retention(&self, materialized: &Materialized<K, VA>, minimum: i64, least: &str) -> i64 {
        let retention = materialized.retention_ms.unwrap_or(minimum);
        if retention < minimum {
            self.report(format!(
                "the retention of store `{}` ({retention} ms) must be at least {least} ({minimum} ms)",
                self.store_name
            ));
        }
        retention
    }

    /// The table of a windowed aggregation whose processor made `stream`.
    fn windowed_table(
        self,
        stream: KStream<Windowed<K>, Change<VA>>,
        windowed_keys: Arc<dyn Serde<Windowed<K>>>,
        queryable: bool,
        grace_ms: i64,
    ) -> KTable<Windowed<K>, VA> {
        KTable::new(
            stream,
            windowed_keys,
            Some(self.aggregates),
            queryable.then_some(self.store_name),
        )
        .with_window_grace(grace_ms)
    }
}

/// A windowed processor's view of stream time: the largest timestamp it has seen. Windows
/// whose end is before `observed - grace` (the close time) accept no more records.
#[derive(Debug, Clone, Copy)]
struct ObservedStreamTime {
    observed: i64,
    grace_ms: i64,
}

impl ObservedStreamTime {
    fn new(grace_ms: i64) -> Self {
        ObservedStreamTime {
            observed: i64::MIN,
            grace_ms,
        }
    }

    /// Takes `timestamp` into stream time and returns the close time.
    fn observe(&mut self, timestamp: i64) -> i64 {
        self.observed = self.observed.max(timestamp);
        self.observed.saturating_sub(self.grace_ms)
    }
}

/// Window definitions a grouped stream can be windowed by: [`TimeWindows`] give a
/// [`TimeWindowedKStream`], [`SessionWindows`] a [`SessionWindowedKStream`].
pub trait WindowDefinition<K, V> {
    /// The windowed stream this definition makes.
    type Windowed;

    /// Windows `grouped` by this definition.
    fn window(self, grouped: &KGroupedStream<K, V>) -> Self::Windowed;
}

impl<K: Data, V: Data> WindowDefinition<K, V> for TimeWindows {
    type Windowed = TimeWindowedKStream<K, V>;

    fn window(self, grouped: &KGroupedStream<K, V>) -> TimeWindowedKStream<K, V> {
        TimeWindowedKStream {
            grouped: grouped.clone(),
            windows: WindowKind::Time(self),
            emit: EmitStrategy::OnWindowUpdate,
        }
    }
}

impl<K: Data, V: Data> WindowDefinition<K, V> for SlidingWindows {
    type Windowed = TimeWindowedKStream<K, V>;

    fn window(self, grouped: &KGroupedStream<K, V>) -> TimeWindowedKStream<K, V> {
        TimeWindowedKStream {
            grouped: grouped.clone(),
            windows: WindowKind::Sliding(self),
            emit: EmitStrategy::OnWindowUpdate,
        }
    }
}

/// The fixed-size windows a [`TimeWindowedKStream`] aggregates over.
#[derive(Debug, Clone, Copy)]
enum WindowKind {
    /// Tumbling or hopping windows aligned to the epoch.
    Time(TimeWindows),
    /// Windows defined by the records themselves, `time_difference` wide.
    Sliding(SlidingWindows),
}

impl WindowKind {
    fn size_ms(&self) -> i64 {
        match self {
            WindowKind::Time(w) => w.size_ms(),
            WindowKind::Sliding(w) => w.time_difference_ms(),
        }
    }

    fn grace_ms(&self) -> i64 {
        match self {
            WindowKind::Time(w) => w.grace_ms(),
            WindowKind::Sliding(w) => w.grace_ms(),
        }
    }
}

impl<K: Data, V: Data> WindowDefinition<K, V> for SessionWindows {
    type Windowed = SessionWindowedKStream<K, V>;

    fn window(self, grouped: &KGroupedStream<K, V>) -> SessionWindowedKStream<K, V> {
        SessionWindowedKStream {
            grouped: grouped.clone(),
            windows: self,
            emit: EmitStrategy::OnWindowUpdate,
        }
    }
}

/// A grouped stream cut into fixed-size time windows — tumbling, hopping or sliding — ready to
/// aggregate per key and window (Kafka's `TimeWindowedKStream`).
pub struct TimeWindowedKStream<K, V> {
    grouped: KGroupedStream<K, V>,
    windows: WindowKind,
    emit: EmitStrategy,
}

impl<K: Data, V: Data> TimeWindowedKStream<K, V> {
    /// Chooses when results are emitted: every update (default) or once per window at its close
    /// (for tumbling, hopping and sliding windows alike, as in Kafka).
    pub fn emit_strategy(mut self, strategy: EmitStrategy) -> Self {
        self.emit = strategy;
        self
    }

    /// Counts records per key and window.
    pub fn count(&self, materialized: Materialized<K, i64>) -> KTable<Windowed<K>, i64> {
        if !matches!(self.windows, WindowKind::Sliding(_)) {
            self.grouped.burn_count_store_name(&materialized);
        }
        let start: Start<K, V, i64> = Arc::new(|_, _| 1);
        let add: Add<K, V, i64> = Arc::new(|_, _, count| count + 1);
        self.aggregate_with(
            AGGREGATE_NAME,
            start,
            add,
            materialized,
            Some(Arc::new(I64Serde)),
        )
    }

    /// Combines the values of each key and window with `reducer(aggregate, value)`.
    pub fn reduce<F>(&self, reducer: F, materialized: Materialized<K, V>) -> KTable<Windowed<K>, V>
    where
        F: Fn(V, &V) -> V + Send + Sync + 'static,
    {
        let start: Start<K, V, V> = Arc::new(|_, value: &V| value.clone());
        let add: Add<K, V, V> = Arc::new(move |_, value, aggregate| reducer(aggregate, value));
        let values = Some(self.grouped.value_serde());
        self.aggregate_with(REDUCE_NAME, start, add, materialized, values)
    }

    /// Folds the values of each key and window into an aggregate starting from `initializer()`.
    /// `materialized` must give a value serde for `VA`.
    pub fn aggregate<VA, I, A>(
        &self,
        initializer: I,
        aggregator: A,
        materialized: Materialized<K, VA>,
    ) -> KTable<Windowed<K>, VA>
    where
        VA: Data,
        I: Fn() -> VA + Send + Sync + 'static,
        A: Fn(&K, &V, VA) -> VA + Send + Sync + 'static,
    {
        let aggregator: Add<K, V, VA> = Arc::new(aggregator);
        let first = Arc::clone(&aggregator);
        let start: Start<K, V, VA> = Arc::new(move |key, value| first(key, value, initializer()));
        self.aggregate_with(AGGREGATE_NAME, start, aggregator, materialized, None)
    }

    fn aggregate_with<VA: Data>(
        &self,
        prefix: &str,
        start: Start<K, V, VA>,
        add: Add<K, V, VA>,
        materialized: Materialized<K, VA>,
        default_value_serde: Option<Arc<dyn Serde<VA>>>,
    ) -> KTable<Windowed<K>, VA> {
        let kind = self.windows;
        let plan = self
            .grouped
            .plan_aggregation(prefix, &materialized, default_value_serde);
        let (minimum, least) = match kind {
            WindowKind::Time(_) => (
                kind.size_ms().saturating_add(kind.grace_ms()),
                "window size + grace",
            ),
            // A record's right window starts after it, so windows starting up to the time
            // difference + grace before the newest window start are still open: Kafka keeps
            // twice the time difference + grace.
            WindowKind::Sliding(windows) => (
                sliding_minimum_retention(&windows),
                SLIDING_MINIMUM_RETENTION,
            ),
        };
        let retention = plan.retention(&materialized, minimum, least);
        let emit_on_close = self.emit == EmitStrategy::OnWindowClose;
        plan.add_store(materialized.timestamped_window_store(
            &plan.store_name,
            retention,
            !emit_on_close,
        ));
        let windowed_keys: Arc<dyn Serde<Windowed<K>>> = Arc::new(TimeWindowedSerde::new(
            SharedSerde(Arc::clone(&plan.keys)),
            kind.size_ms(),
        ));
        let store_name = Arc::<str>::from(plan.store_name.as_str());
        let (keys, values, aggregates) = (
            Arc::clone(&plan.keys),
            Arc::clone(&plan.values),
            Arc::clone(&plan.aggregates),
        );
        let stream = match kind {
            WindowKind::Time(windows) => plan.input.add_processor::<Windowed<K>, Change<VA>, _, _>(
                plan.name.clone(),
                vec![plan.store_name.clone()],
                move || TimeWindowAggregateProcessor {
                    store_name: Arc::clone(&store_name),
                    keys: Arc::clone(&keys),
                    values: Arc::clone(&values),
                    aggregates: Arc::clone(&aggregates),
                    windows,
                    start: Arc::clone(&start),
                    add: Arc::clone(&add),
                    emit_on_close,
                    stream_time: ObservedStreamTime::new(windows.grace_ms()),
                    emitted_up_to: None,
                    store: None,
                    cache: None,
                },
            ),
            WindowKind::Sliding(windows) => {
                plan.input.add_processor::<Windowed<K>, Change<VA>, _, _>(
                    plan.name.clone(),
                    vec![plan.store_name.clone()],
                    move || {
                        let mut processor = sliding_window_aggregator(
                            Arc::clone(&store_name),
                            Arc::clone(&keys),
                            Arc::clone(&values),
                            Arc::clone(&aggregates),
                            windows,
                            Arc::clone(&start),
                            Arc::clone(&add),
                        );
                        processor.emit_on_close = emit_on_close;
                        processor
                    },
                )
            }
        };
        plan.windowed_table(
            stream,
            windowed_keys,
            materialized.name.is_some(),
            kind.grace_ms(),
        )
    }
}

/// Aggregates per key and time window, like Kafka's `KStreamWindowAggregate`.
struct TimeWindowAggregateProcessor<K, V, VA> {
    store_name: Arc<str>,
    keys: Arc<dyn Serde<K>>,
    values: Arc<dyn Serde<V>>,
    aggregates: Arc<dyn Serde<VA>>,
    windows: TimeWindows,
    start: Start<K, V, VA>,
    add: Add<K, V, VA>,
    emit_on_close: bool,
    stream_time: ObservedStreamTime,
    /// With `OnWindowClose`: windows starting at or before this were emitted already.
    emitted_up_to: Option<i64>,
    store: Option<TimestampedWindowStoreRef<K, VA>>,
    /// With a record cache: what it flushes is forwarded, rather than each update.
    cache: Option<CacheForwarder>,
}

impl<K: Data, V: Data, VA: Data> TimeWindowAggregateProcessor<K, V, VA> {
    /// Emits, once each, the windows that closed since the last call.
    fn emit_closed_windows(
        &mut self,
        close_time: i64,
        ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>,
    ) -> Result<()> {
        // A window is closed once its end is at or before the close time.
        let upper = close_time.saturating_sub(self.windows.size_ms());
        let lower = match self.emitted_up_to {
            Some(done) if done >= upper => return Ok(()),
            Some(done) => done.saturating_add(1),
            // After a start or restart, windows that closed earlier were emitted by then.
            None => upper
                .saturating_sub(self.windows.advance_ms())
                .saturating_add(1),
        };
        self.emitted_up_to = Some(upper);
        let store = initialized(&self.store, &self.store_name)?;
        for (windowed, (aggregate, timestamp)) in store.fetch_all(lower, upper)? {
            ctx.forward(Record::new(
                windowed,
                Change::new(Some(aggregate), None),
                timestamp,
            ))?;
        }
        Ok(())
    }
}

impl<K: Data, V: Data, VA: Data> Processor<K, V, Windowed<K>, Change<VA>>
    for TimeWindowAggregateProcessor<K, V, VA>
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>) -> Result<()> {
        let store = ctx.timestamped_window_store_shared(
            &self.store_name,
            Arc::clone(&self.keys),
            Arc::clone(&self.aggregates),
            self.windows.size_ms(),
        )?;
        self.cache = CacheForwarder::keeping(store.keep_flushed(), store.name(), ctx);
        self.store = Some(store);
        Ok(())
    }

    fn flush(&mut self, ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>) -> Result<()> {
        flush_windows(&mut self.cache, &self.store, ctx)
    }

    fn process(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>,
    ) -> Result<()> {
        if skip_null(&*self.keys, &*self.values, &record, ctx) {
            return Ok(());
        }
        let close_time = self.stream_time.observe(record.timestamp);
        if self.emit_on_close {
            // Before this record's writes advance the store's time past the windows that close
            // now, which would expire them unseen.
            self.emit_closed_windows(close_time, ctx)?;
        }
        let store = initialized(&self.store, &self.store_name)?.clone();
        for window in self.windows.windows_for(record.timestamp) {
            if window.end_ms <= close_time {
                log_late(ctx, &record, window, close_time);
                continue;
            }
            let previous = store.fetch(&record.key, window.start_ms)?;
            let (aggregate, old, timestamp) =
                fold_record(&self.start, &self.add, &record, previous);
            if let Some(cache) = &mut self.cache {
                // Forwarded when the cache flushes it; what the write evicted goes now.
                cache.writing_with(&record.headers, || {
                    store.cache_key(&record.key, window.start_ms)
                })?;
                store.put(&record.key, &aggregate, timestamp, window.start_ms)?;
                store.take_flushed(cache.taken());
                forward_windows(cache, &store, ctx)?;
                continue;
            }
            store.put(&record.key, &aggregate, timestamp, window.start_ms)?;
            if !self.emit_on_close {
                ctx.forward(Record {
                    key: Windowed::new(record.key.clone(), window),
                    value: Change::new(Some(aggregate), old),
                    timestamp,
                    headers: record.headers.clone(),
                })?;
            }
        }
        Ok(())
    }
}

/// Aggregates per key over sliding windows, like Kafka's `KStreamSlidingWindowAggregate`.
///
/// The windows are the ones the records define: for each record at `t`, its left window
/// `[t - d, t]` and, once another record falls after it within `d`, its right window
/// `[t + 1, t + 1 + d]`; both ends are inclusive, and records before `d` share the window
/// `[0, d]` (Kafka's "early records"). Only the window aggregates are stored, as in Kafka: a
/// record is added — in arrival order, not timestamp order — to every existing window that
/// contains it, and a window it creates starts from an existing aggregate that holds exactly
/// that window's other records (its left window from the previous record's window ending before
/// it, its right window from the window it fell into) or from the initializer. Each update is
/// emitted — or, with `OnWindowClose`, each window's final aggregate once stream time passes its
/// end plus the grace period.
pub(super) struct SlidingWindowAggregateProcessor<K, V, VA> {
    store_name: Arc<str>,
    keys: Arc<dyn Serde<K>>,
    values: Arc<dyn Serde<V>>,
    aggregates: Arc<dyn Serde<VA>>,
    windows: SlidingWindows,
    start: Start<K, V, VA>,
    add: Add<K, V, VA>,
    emit_on_close: bool,
    stream_time: ObservedStreamTime,
    /// With `OnWindowClose`: windows starting at or before this were emitted already.
    emitted_up_to: Option<i64>,
    store: Option<TimestampedWindowStoreRef<K, VA>>,
    /// With a record cache: what it flushes is forwarded, rather than each update.
    cache: Option<CacheForwarder>,
}

/// A window's aggregate and the largest timestamp of the records in it; `None` for a window the
/// record creates from the initializer.
type Aggregated<VA> = Option<(VA, i64)>;

impl<K: Data, V: Data, VA: Data> SlidingWindowAggregateProcessor<K, V, VA> {
    /// Emits, once each, the windows that closed since the last call: those whose (inclusive)
    /// end is before the close time.
    fn emit_closed_windows(
        &mut self,
        close_time: i64,
        ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>,
    ) -> Result<()> {
        let d = self.windows.time_difference_ms();
        let upper = close_time.saturating_sub(d).saturating_sub(1);
        let lower = match self.emitted_up_to {
            Some(done) if done >= upper => return Ok(()),
            Some(done) => done.saturating_add(1),
            // After a start or restart, like Kafka: every closed window the store still holds.
            None => 0,
        };
        if upper < lower {
            return Ok(());
        }
        self.emitted_up_to = Some(upper);
        let store = initialized(&self.store, &self.store_name)?;
        for (windowed, (aggregate, timestamp)) in store.fetch_all(lower, upper)? {
            ctx.forward(Record::new(
                windowed,
                Change::new(Some(aggregate), None),
                timestamp,
            ))?;
        }
        Ok(())
    }

    /// Adds the record to the window starting at `start` whose aggregate so far is `base`, if
    /// the window is still open (Kafka's `updateWindowAndForward`).
    fn add_to_window(
        &mut self,
        start: i64,
        base: Aggregated<VA>,
        record: &Record<K, V>,
        close_time: i64,
        ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>,
    ) -> Result<()> {
        let end = start.saturating_add(self.windows.time_difference_ms());
        // Sliding windows include their end: one ending at the close time is still open.
        if end < close_time {
            log_late(ctx, record, Window::new(start, end), close_time);
            return Ok(());
        }
        let (aggregate, old, timestamp) = fold_record(&self.start, &self.add, record, base);
        self.write_window(start, aggregate, old, timestamp, record, ctx)
    }

    /// Stores the window starting at `start` and forwards the update — or leaves that to the
    /// record cache, or to the window's close.
    fn write_window(
        &mut self,
        start: i64,
        aggregate: VA,
        old: Option<VA>,
        timestamp: i64,
        record: &Record<K, V>,
        ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>,
    ) -> Result<()> {
        let store = initialized(&self.store, &self.store_name)?.clone();
        if let Some(cache) = &mut self.cache {
            // Forwarded when the cache flushes it; what the write evicted goes now.
            cache.writing_with(&record.headers, || store.cache_key(&record.key, start))?;
            store.put(&record.key, &aggregate, timestamp, start)?;
            store.take_flushed(cache.taken());
            return forward_windows(cache, &store, ctx);
        }
        store.put(&record.key, &aggregate, timestamp, start)?;
        if self.emit_on_close {
            return Ok(());
        }
        let end = start.saturating_add(self.windows.time_difference_ms());
        ctx.forward(Record {
            key: Windowed::new(record.key.clone(), Window::new(start, end)),
            value: Change::new(Some(aggregate), old),
            timestamp,
            headers: record.headers.clone(),
        })
    }

    /// A record at or after the time difference (Kafka's `processReverse`): walks the key's
    /// windows from the latest (the record's right window, if any) back to the first one ending
    /// before the record, adding the record to those containing it, then creates the windows
    /// the record defines.
    fn process_in_time(
        &mut self,
        record: &Record<K, V>,
        close_time: i64,
        ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>,
    ) -> Result<()> {
        let d = self.windows.time_difference_ms();
        let t = record.timestamp;
        let store = initialized(&self.store, &self.store_name)?.clone();
        let found = store.fetch_range(
            &record.key,
            t.saturating_sub(d.saturating_mul(2)).max(0),
            t.saturating_add(1),
        )?;
        let mut right_aggregate: Aggregated<VA> = None;
        let mut left_aggregate: Aggregated<VA> = None;
        let (mut left_exists, mut right_exists) = (false, false);
        let mut previous: Option<i64> = None;
        for (start, (aggregate, max_ts)) in found.iter().rev() {
            let (start, max_ts) = (*start, *max_ts);
            let existing = || Some((aggregate.clone(), max_ts));
            let end = start.saturating_add(d);
            if start == t.saturating_add(1) {
                right_exists = true;
            } else if end > t {
                if right_aggregate.is_none() {
                    right_aggregate = existing();
                }
                self.add_to_window(start, existing(), record, close_time, ctx)?;
            } else if end == t {
                left_exists = true;
                self.add_to_window(start, existing(), record, close_time, ctx)?;
                if max_ts < t {
                    previous = Some(max_ts);
                } else {
                    // A record at `t` came before: it created every window this one defines.
                    return Ok(());
                }
            } else {
                left_aggregate = existing();
                previous = Some(max_ts);
                break;
            }
        }
        // The previous record's right window, if the record falls into it.
        if let Some(previous) = previous {
            let right_start = previous.saturating_add(1);
            let exists = found.iter().any(|(start, _)| *start == right_start);
            if !exists && right_start.saturating_add(d) >= t {
                self.add_to_window(right_start, None, record, close_time, ctx)?;
            }
        }
        if !left_exists {
            // The window ending before the record holds exactly the other records of its left
            // window when the previous record falls into that window.
            let base = match (previous, left_aggregate) {
                (Some(previous), Some((aggregate, _))) if t.saturating_sub(d) <= previous => {
                    Some((aggregate, t))
                }
                _ => None,
            };
            self.add_to_window(t.saturating_sub(d), base, record, close_time, ctx)?;
        }
        self.create_right_window(t, right_exists, right_aggregate, record, ctx)
    }

    /// A record before the time difference (Kafka's `processEarly`): its left window would start
    /// before 0, so all such records share the window `[0, d]`.
    fn process_early(
        &mut self,
        record: &Record<K, V>,
        close_time: i64,
        ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>,
    ) -> Result<()> {
        let t = record.timestamp;
        let store = initialized(&self.store, &self.store_name)?.clone();
        let found = store.fetch_range(&record.key, 0, t.saturating_add(1))?;
        let mut combined: Aggregated<VA> = None;
        let mut right_aggregate: Aggregated<VA> = None;
        let mut right_exists = false;
        let mut previous: Option<i64> = None;
        for (start, (aggregate, max_ts)) in &found {
            let (start, max_ts) = (*start, *max_ts);
            let existing = || Some((aggregate.clone(), max_ts));
            if start == 0 {
                combined = existing();
                if max_ts < t {
                    previous = Some(max_ts);
                }
            } else if start <= t {
                right_aggregate = existing();
                self.add_to_window(start, existing(), record, close_time, ctx)?;
            } else if start == t.saturating_add(1) {
                right_exists = true;
            }
        }
        // Without a later window holding the records after this one, the combined window holds
        // exactly them when its latest record is later than this one.
        if right_aggregate.is_none() {
            if let Some((aggregate, max_ts)) = &combined {
                if *max_ts > t {
                    right_aggregate = Some((aggregate.clone(), *max_ts));
                }
            }
        }
        self.create_right_window(t, right_exists, right_aggregate, record, ctx)?;
        if let Some(previous) = previous {
            let right_start = previous.saturating_add(1);
            if !found.iter().any(|(start, _)| *start == right_start) {
                self.add_to_window(right_start, None, record, close_time, ctx)?;
            }
        }
        self.add_to_window(0, combined, record, close_time, ctx)
    }

    /// Creates the record's right window from the aggregate of the records after it, if there
    /// are any and the window does not exist yet; the record itself is not in it.
    fn create_right_window(
        &mut self,
        t: i64,
        exists: bool,
        after: Aggregated<VA>,
        record: &Record<K, V>,
        ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>,
    ) -> Result<()> {
        match after {
            Some((aggregate, max_ts)) if !exists && max_ts > t => {
                self.write_window(t.saturating_add(1), aggregate, None, max_ts, record, ctx)
            }
            _ => Ok(()),
        }
    }
}

impl<K: Data, V: Data, VA: Data> Processor<K, V, Windowed<K>, Change<VA>>
    for SlidingWindowAggregateProcessor<K, V, VA>
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>) -> Result<()> {
        let d = self.windows.time_difference_ms();
        let store = ctx.timestamped_window_store_shared(
            &self.store_name,
            Arc::clone(&self.keys),
            Arc::clone(&self.aggregates),
            d,
        )?;
        self.cache = CacheForwarder::keeping(store.keep_flushed(), store.name(), ctx);
        self.store = Some(store);
        Ok(())
    }

    fn flush(&mut self, ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>) -> Result<()> {
        flush_windows(&mut self.cache, &self.store, ctx)
    }

    fn process(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>,
    ) -> Result<()> {
        if skip_null(&*self.keys, &*self.values, &record, ctx) {
            return Ok(());
        }
        let d = self.windows.time_difference_ms();
        let t = record.timestamp;
        let close_time = self.stream_time.observe(t);
        if self.emit_on_close {
            // Before this record's writes advance the store's time past the windows that close
            // now, which would expire them unseen.
            self.emit_closed_windows(close_time, ctx)?;
        }
        if t.saturating_add(d) < close_time {
            // Even the record's right window has closed.
            log_late(
                ctx,
                &record,
                Window::new(t, t.saturating_add(d)),
                close_time,
            );
            return Ok(());
        }
        if t < d {
            self.process_early(&record, close_time, ctx)
        } else {
            self.process_in_time(&record, close_time, ctx)
        }
    }
}

/// A grouped stream cut into sessions of activity, ready to aggregate per key and session
/// (Kafka's `SessionWindowedKStream`).
pub struct SessionWindowedKStream<K, V> {
    grouped: KGroupedStream<K, V>,
    windows: SessionWindows,
    emit: EmitStrategy,
}

impl<K: Data, V: Data> SessionWindowedKStream<K, V> {
    /// Chooses when results are emitted (Kafka's `SessionWindowedKStream#emitStrategy`): every
    /// update, with tombstones for merged sessions (default), or each session's final aggregate
    /// once, when no record can reach it any more — stream time past its end plus the inactivity
    /// gap plus the grace period.
    pub fn emit_strategy(mut self, strategy: EmitStrategy) -> Self {
        self.emit = strategy;
        self
    }

    /// Counts records per key and session.
    pub fn count(&self, materialized: Materialized<K, i64>) -> KTable<Windowed<K>, i64> {
        self.grouped.burn_count_store_name(&materialized);
        let start: Start<K, V, i64> = Arc::new(|_, _| 1);
        let add: Add<K, V, i64> = Arc::new(|_, _, count| count + 1);
        let merge: Merge<K, i64> = Arc::new(|_, a, b| a + b);
        self.aggregate_with(
            AGGREGATE_NAME,
            (Some(Arc::new(|| 0)), start),
            add,
            merge,
            materialized,
            Some(Arc::new(I64Serde)),
        )
    }

    /// Combines the values of each key and session with `reducer(aggregate, value)`; merged
    /// sessions are combined with the same reducer.
    pub fn reduce<F>(&self, reducer: F, materialized: Materialized<K, V>) -> KTable<Windowed<K>, V>
    where
        F: Fn(V, &V) -> V + Send + Sync + 'static,
    {
        let reducer = Arc::new(reducer);
        let start: Start<K, V, V> = Arc::new(|_, value: &V| value.clone());
        let adding = Arc::clone(&reducer);
        let add: Add<K, V, V> = Arc::new(move |_, value, aggregate| adding(aggregate, value));
        let merge: Merge<K, V> = Arc::new(move |_, a, b| reducer(a, &b));
        let values = Some(self.grouped.value_serde());
        self.aggregate_with(REDUCE_NAME, (None, start), add, merge, materialized, values)
    }

    /// Folds the values of each key and session into an aggregate starting from `initializer()`;
    /// `merger(key, a, b)` combines the aggregates of two sessions a record joins. As in Kafka,
    /// a record that joins sessions starts from `initializer()`, merges each session's aggregate
    /// into it in session order, then adds its value. `materialized` must give a value serde for
    /// `VA`.
    pub fn aggregate<VA, I, A, M>(
        &self,
        initializer: I,
        aggregator: A,
        merger: M,
        materialized: Materialized<K, VA>,
    ) -> KTable<Windowed<K>, VA>
    where
        VA: Data,
        I: Fn() -> VA + Send + Sync + 'static,
        A: Fn(&K, &V, VA) -> VA + Send + Sync + 'static,
        M: Fn(&K, VA, VA) -> VA + Send + Sync + 'static,
    {
        let aggregator: Add<K, V, VA> = Arc::new(aggregator);
        let initializer: Arc<dyn Fn() -> VA + Send + Sync> = Arc::new(initializer);
        let (first, init) = (Arc::clone(&aggregator), Arc::clone(&initializer));
        let start: Start<K, V, VA> = Arc::new(move |key, value| first(key, value, init()));
        let merge: Merge<K, VA> = Arc::new(merger);
        self.aggregate_with(
            AGGREGATE_NAME,
            (Some(initializer), start),
            aggregator,
            merge,
            materialized,
            None,
        )
    }

    fn aggregate_with<VA: Data>(
        &self,
        prefix: &str,
        (init, start): (Init<VA>, Start<K, V, VA>),
        add: Add<K, V, VA>,
        merge: Merge<K, VA>,
        materialized: Materialized<K, VA>,
        default_value_serde: Option<Arc<dyn Serde<VA>>>,
    ) -> KTable<Windowed<K>, VA> {
        let windows = self.windows;
        let plan = self
            .grouped
            .plan_aggregation(prefix, &materialized, default_value_serde);
        let retention = plan.retention(
            &materialized,
            windows
                .inactivity_gap_ms()
                .saturating_add(windows.grace_ms()),
            "inactivity gap + grace",
        );
        let emit_on_close = self.emit == EmitStrategy::OnWindowClose;
        plan.add_store(materialized.session_store(&plan.store_name, retention, !emit_on_close));
        let windowed_keys: Arc<dyn Serde<Windowed<K>>> = Arc::new(SessionWindowedSerde::new(
            SharedSerde(Arc::clone(&plan.keys)),
        ));
        let store_name = Arc::<str>::from(plan.store_name.as_str());
        let (keys, values, aggregates) = (
            Arc::clone(&plan.keys),
            Arc::clone(&plan.values),
            Arc::clone(&plan.aggregates),
        );
        let stream = plan.input.add_processor::<Windowed<K>, Change<VA>, _, _>(
            plan.name.clone(),
            vec![plan.store_name.clone()],
            move || SessionWindowAggregateProcessor {
                store_name: Arc::clone(&store_name),
                keys: Arc::clone(&keys),
                values: Arc::clone(&values),
                aggregates: Arc::clone(&aggregates),
                windows,
                init: init.clone(),
                start: Arc::clone(&start),
                add: Arc::clone(&add),
                merge: Arc::clone(&merge),
                emit_on_close,
                stream_time: ObservedStreamTime::new(windows.grace_ms()),
                emitted_up_to: None,
                store: None,
                cache: None,
            },
        );
        // A session may still grow until a record an inactivity gap after its end is late, so
        // suppression closes it at end + gap + grace, as Kafka's grace search does for sessions.
        plan.windowed_table(
            stream,
            windowed_keys,
            materialized.name.is_some(),
            windows
                .inactivity_gap_ms()
                .saturating_add(windows.grace_ms()),
        )
    }
}

/// Aggregates per key and session, merging sessions a record bridges, like Kafka's
/// `KStreamSessionWindowAggregate`; with `OnWindowClose`, emits each session once when final.
struct SessionWindowAggregateProcessor<K, V, VA> {
    store_name: Arc<str>,
    keys: Arc<dyn Serde<K>>,
    values: Arc<dyn Serde<V>>,
    aggregates: Arc<dyn Serde<VA>>,
    windows: SessionWindows,
    init: Init<VA>,
    start: Start<K, V, VA>,
    add: Add<K, V, VA>,
    merge: Merge<K, VA>,
    emit_on_close: bool,
    stream_time: ObservedStreamTime,
    /// With `OnWindowClose`: sessions ending at or before this were emitted already.
    emitted_up_to: Option<i64>,
    store: Option<SessionStoreRef<K, VA>>,
    /// With a record cache: what it flushes is forwarded — merged sessions' tombstones included —
    /// rather than each update.
    cache: Option<CacheForwarder>,
}

impl<K: Data, V: Data, VA: Data> SessionWindowAggregateProcessor<K, V, VA> {
    /// Emits, once each, the sessions that became final since the last call: those ending
    /// before the close time (stream time − grace − inactivity gap), which no accepted record can
    /// extend.
    fn emit_closed_sessions(
        &mut self,
        close_time: i64,
        ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>,
    ) -> Result<()> {
        let upper = close_time.saturating_sub(1);
        let lower = match self.emitted_up_to {
            Some(done) if done >= upper => return Ok(()),
            Some(done) => done.saturating_add(1),
            // After a start or restart, like Kafka: every final session the store still holds.
            None => i64::MIN,
        };
        self.emitted_up_to = Some(upper);
        let store = initialized(&self.store, &self.store_name)?;
        for (session, aggregate) in store.find_sessions_of_all_keys(lower, upper)? {
            if session.window.end_ms > upper {
                continue;
            }
            let end = session.window.end_ms;
            ctx.forward(Record::new(
                session,
                Change::new(Some(aggregate), None),
                end,
            ))?;
        }
        Ok(())
    }
}

impl<K: Data, V: Data, VA: Data> Processor<K, V, Windowed<K>, Change<VA>>
    for SessionWindowAggregateProcessor<K, V, VA>
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>) -> Result<()> {
        let store = ctx.session_store_shared(
            &self.store_name,
            Arc::clone(&self.keys),
            Arc::clone(&self.aggregates),
        )?;
        self.cache = CacheForwarder::keeping(store.keep_flushed(), store.name(), ctx);
        self.store = Some(store);
        Ok(())
    }

    fn flush(&mut self, ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>) -> Result<()> {
        match (&mut self.cache, &self.store) {
            (Some(cache), Some(store)) => {
                store.flush_cache_taking(cache.taken())?;
                forward_sessions(cache, store, ctx)
            }
            _ => Ok(()),
        }
    }

    fn process(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>,
    ) -> Result<()> {
        if skip_null(&*self.keys, &*self.values, &record, ctx) {
            return Ok(());
        }
        let gap = self.windows.inactivity_gap_ms();
        // As in Kafka since 3.0, a session closes an inactivity gap after its end plus grace:
        // until then a record could still extend it.
        let close_time = self
            .stream_time
            .observe(record.timestamp)
            .saturating_sub(gap);
        if self.emit_on_close {
            // Before this record's writes advance the store's time past the sessions that
            // become final now, which would expire them unseen.
            self.emit_closed_sessions(close_time, ctx)?;
        }
        let store = initialized(&self.store, &self.store_name)?.clone();
        let overlapping = store.find_sessions(
            &record.key,
            record.timestamp.saturating_sub(gap),
            record.timestamp.saturating_add(gap),
        )?;
        let own = Window::new(record.timestamp, record.timestamp);
        let mut merged = own;
        for (session, _) in &overlapping {
            merged.start_ms = merged.start_ms.min(session.window.start_ms);
            merged.end_ms = merged.end_ms.max(session.window.end_ms);
        }
        if merged.end_ms < close_time {
            log_late(ctx, &record, merged, close_time);
            return Ok(());
        }
        // Kafka's order: the initializer, then the merger over each session found, then the
        // aggregator. Unless the record only updates its own `[t, t]` session, every session
        // found is removed — even one whose window the merged session keeps — and deleted
        // downstream with a tombstone of its old window.
        let merging = merged != own;
        let mut aggregate: Option<VA> = self.init.as_ref().map(|init| init());
        for (session, value) in overlapping {
            if !merging {
                aggregate = Some(match aggregate {
                    None => value,
                    Some(acc) => (self.merge)(&record.key, acc, value),
                });
                continue;
            }
            aggregate = Some(match aggregate {
                None => value.clone(),
                Some(acc) => (self.merge)(&record.key, acc, value.clone()),
            });
            if let Some(cache) = &mut self.cache {
                // The tombstone goes downstream when the cache flushes it (and only if the
                // session had reached the store); what the write evicted goes now.
                cache.writing_with(&record.headers, || {
                    store.cache_key(&record.key, session.window)
                })?;
                store.remove(&record.key, session.window)?;
                store.take_flushed(cache.taken());
                forward_sessions(cache, &store, ctx)?;
                continue;
            }
            store.remove(&record.key, session.window)?;
            if self.emit_on_close {
                continue;
            }
            let end = session.window.end_ms;
            ctx.forward(Record {
                key: session,
                value: Change::new(None, Some(value)),
                timestamp: end,
                headers: record.headers.clone(),
            })?;
        }
        let aggregate = match aggregate {
            Some(acc) => (self.add)(&record.key, &record.value, acc),
            None => (self.start)(&record.key, &record.value),
        };
        if let Some(cache) = &mut self.cache {
            cache.writing_with(&record.headers, || store.cache_key(&record.key, merged))?;
            store.put(&record.key, merged, &aggregate)?;
            store.take_flushed(cache.taken());
            return forward_sessions(cache, &store, ctx);
        }
        store.put(&record.key, merged, &aggregate)?;
        if self.emit_on_close {
            return Ok(());
        }
        ctx.forward(Record {
            key: Windowed::new(record.key, merged),
            value: Change::new(Some(aggregate), None),
            timestamp: merged.end_ms,
            headers: record.headers,
        })
    }
}

/// Adds `record` to a window whose aggregate and timestamp so far are `base` (`None`: a new
/// window, started from the record): the new aggregate, the old one, and the window's timestamp
/// (the latest of its records').
fn fold_record<K, V, VA: Clone>(
    start: &Start<K, V, VA>,
    add: &Add<K, V, VA>,
    record: &Record<K, V>,
    base: Option<(VA, i64)>,
) -> (VA, Option<VA>, i64) {
    match base {
        Some((aggregate, ts)) => {
            let old = aggregate.clone();
            let new = add(&record.key, &record.value, aggregate);
            (new, Some(old), ts.max(record.timestamp))
        }
        None => (start(&record.key, &record.value), None, record.timestamp),
    }
}

/// Forwards what was taken from a time-window store's record cache: each window's latest
/// aggregate with the aggregate at the previous flush as the old value, stamped with the
/// aggregate's timestamp.
fn forward_windows<K: Data, VA: Data>(
    cache: &mut CacheForwarder,
    store: &TimestampedWindowStoreRef<K, VA>,
    ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>,
) -> Result<()> {
    cache.forward_taken(ctx, |entry| Ok(table_update(store.decode_flushed(entry)?)))
}

/// A windowed processor's part of a commit: flushes its store's record cache, if it has one, and
/// forwards what the cache held.
fn flush_windows<K: Data, VA: Data>(
    cache: &mut Option<CacheForwarder>,
    store: &Option<TimestampedWindowStoreRef<K, VA>>,
    ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>,
) -> Result<()> {
    match (cache, store) {
        (Some(cache), Some(store)) => {
            store.flush_cache_taking(cache.taken())?;
            forward_windows(cache, store, ctx)
        }
        _ => Ok(()),
    }
}

/// Forwards what was taken from a session store's record cache: each session's latest aggregate,
/// or a tombstone for a session merged into another, with the aggregate at the previous flush as
/// the old value, stamped with the session's end (as the uncached processor forwards them).
fn forward_sessions<K: Data, VA: Data>(
    cache: &mut CacheForwarder,
    store: &SessionStoreRef<K, VA>,
    ctx: &mut ProcessorContext<'_, Windowed<K>, Change<VA>>,
) -> Result<()> {
    cache.forward_taken(ctx, |entry| {
        let update = store.decode_flushed(entry)?;
        let end = update.key.window.end_ms;
        Ok((update.key, Change::new(update.new, update.old), end))
    })
}

/// Logs a record that arrived after its window closed; Kafka counts these in the
/// `dropped-records` metric and logs "Skipping record for expired window".
pub(super) fn log_late<K, V, KO: Data, VO: Data>(
    ctx: &ProcessorContext<'_, KO, VO>,
    record: &Record<K, V>,
    window: Window,
    close_time: i64,
) {
    let meta = ctx.record_metadata();
    tracing::warn!(
        processor = ctx.node_name(),
        topic = meta.map(|m| &*m.topic),
        partition = meta.map(|m| m.partition),
        offset = meta.map(|m| m.offset),
        timestamp = record.timestamp,
        window_start = window.start_ms,
        window_end = window.end_ms,
        close_time,
        "skipping record for expired window"
    );
}

/// The processor of a time-windowed aggregation writing the window store `store_name`,
/// emitting on window update — for a cogroup, whose processors (one per grouped stream) share
/// one store (Kafka's `KStreamWindowAggregate` in `CogroupedStreamAggregateBuilder`).
#[allow(clippy::too_many_arguments)]
pub(super) fn time_window_aggregator<K: Data, V: Data, VA: Data>(
    store_name: Arc<str>,
    keys: Arc<dyn Serde<K>>,
    values: Arc<dyn Serde<V>>,
    aggregates: Arc<dyn Serde<VA>>,
    windows: TimeWindows,
    start: Start<K, V, VA>,
    add: Add<K, V, VA>,
) -> impl Processor<K, V, Windowed<K>, Change<VA>> {
    TimeWindowAggregateProcessor {
        store_name,
        keys,
        values,
        aggregates,
        windows,
        start,
        add,
        emit_on_close: false,
        stream_time: ObservedStreamTime::new(windows.grace_ms()),
        emitted_up_to: None,
        store: None,
        cache: None,
    }
}

/// How a sliding-window store's minimum retention is described in errors.
pub(super) const SLIDING_MINIMUM_RETENTION: &str = "twice the time difference + grace";

/// The least retention of a sliding-window aggregation's store: a record's right window
/// starts after it, so windows starting up to the time difference + grace before the newest
/// window start are still open — Kafka keeps twice the time difference + grace.
pub(super) fn sliding_minimum_retention(windows: &SlidingWindows) -> i64 {
    let d = windows.time_difference_ms();
    d.saturating_mul(2)
        .max(d.saturating_add(2))
        .saturating_add(windows.grace_ms())
}

/// The processor of a sliding-window aggregation writing the window store `store_name`,
/// emitting on update (the DSL's, and a cogroup's, whose processors share one store — Kafka's
/// `KStreamSlidingWindowAggregate`).
pub(super) fn sliding_window_aggregator<K: Data, V: Data, VA: Data>(
    store_name: Arc<str>,
    keys: Arc<dyn Serde<K>>,
    values: Arc<dyn Serde<V>>,
    aggregates: Arc<dyn Serde<VA>>,
    windows: SlidingWindows,
    start: Start<K, V, VA>,
    add: Add<K, V, VA>,
) -> SlidingWindowAggregateProcessor<K, V, VA> {
    SlidingWindowAggregateProcessor {
        store_name,
        keys,
        values,
        aggregates,
        windows,
        start,
        add,
        emit_on_close: false,
        stream_time: ObservedStreamTime::new(windows.grace_ms()),
        emitted_up_to: None,
        store: None,
        cache: None,
    }
}

/// The processor of a session-windowed aggregation writing the session store `store_name`,
/// emitting on update — for a cogroup, whose processors share one store (Kafka's
/// `KStreamSessionWindowAggregate` in `CogroupedStreamAggregateBuilder`).
#[allow(clippy::too_many_arguments)]
pub(super) fn session_window_aggregator<K: Data, V: Data, VA: Data>(
    store_name: Arc<str>,
    keys: Arc<dyn Serde<K>>,
    values: Arc<dyn Serde<V>>,
    aggregates: Arc<dyn Serde<VA>>,
    windows: SessionWindows,
    initializer: Arc<dyn Fn() -> VA + Send + Sync>,
    start: Start<K, V, VA>,
    add: Add<K, V, VA>,
    merge: Merge<K, VA>,
) -> impl Processor<K, V, Windowed<K>, Change<VA>> {
    SessionWindowAggregateProcessor {
        store_name,
        keys,
        values,
        aggregates,
        windows,
        init: Some(initializer),
        start,
        add,
        merge,
        emit_on_close: false,
        stream_time: ObservedStreamTime::new(windows.grace_ms()),
        emitted_up_to: None,
        store: None,
        cache: None,
    }
}
