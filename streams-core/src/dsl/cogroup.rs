//! `CogroupedKStream`: several grouped streams, of possibly different value types, aggregated
//! into one table with one aggregator each — like Kafka Streams' `KGroupedStream#cogroup`,
//! `CogroupedKStream` (`CogroupedKStreamImpl`, `CogroupedStreamAggregateBuilder`).
//!
//! As in Kafka, each grouped stream gets its own aggregate processor
//! (`COGROUPKSTREAM-AGGREGATE-…`, or `<name>-cogroup-agg-<i>`), all writing one store, and a
//! pass-through node (`COGROUPKSTREAM-MERGE-…`, or `<name>-cogroup-merge`) merges their updates
//! into the resulting table. A grouped stream whose key changed is repartitioned first, through
//! `<store name>-repartition` (or its `Grouped` name). Since the processors share a store, they
//! run in one sub-topology: the grouped streams must be co-partitioned.
//!
//! `windowed_by` aggregates per key and time window — tumbling, hopping or sliding
//! ([`TimeWindowedCogroupedKStream`]) — or session ([`SessionWindowedCogroupedKStream`]).
//! Windowed or not, the store holds only aggregates, so grouped streams of different value
//! types can share it.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use super::cached::TableStore;
use super::change::Change;
use super::kgrouped::{store_serdes, Add, AggregateProcessor, KGroupedStream, Start};
use super::kstream::KStream;
use super::ktable::KTable;
use super::operators::PassThroughProcessor;
use super::options::{Materialized, Named};
use super::windowed::{
    session_window_aggregator, sliding_minimum_retention, sliding_window_aggregator,
    time_window_aggregator, Merge, SLIDING_MINIMUM_RETENTION,
};
use super::windows::{
    SessionWindowedSerde, SessionWindows, SlidingWindows, TimeWindowedSerde, TimeWindows, Windowed,
};
use crate::processor::Data;
use crate::serde::{Serde, SharedSerde};
use crate::topology::graph::TopologyGraph;

const AGGREGATE_NAME: &str = "COGROUPKSTREAM-AGGREGATE-";
const MERGE_NAME: &str = "COGROUPKSTREAM-MERGE-";

/// Makes a key's first aggregate.
type Initializer<VA> = Arc<dyn Fn() -> VA + Send + Sync>;

/// One grouped stream of a cogroup, its value type erased: it routes itself through a
/// repartition topic if needed, then adds its aggregate processor.
trait CogroupPart<K, VA> {
    /// Repartitions the grouped stream if its key changed, naming the topic after `store` unless
    /// its `Grouped` names it (Kafka's `processRepartitions`).
    fn prepare(&mut self, store: &str);

    /// Adds the aggregate processor `name` writing `table`; returns its node.
    fn add_aggregator(
        &self,
        name: String,
        table: TableStore<K, VA>,
        initializer: Initializer<VA>,
    ) -> KStream<K, Change<VA>>;

    /// Adds the time-window aggregate processor `name` writing the window store `store`.
    fn add_window_aggregator(
        &self,
        name: String,
        store: WindowStoreSpec<K, VA>,
        initializer: Initializer<VA>,
    ) -> KStream<Windowed<K>, Change<VA>>;
}

/// The window or session store a windowed cogroup's processors share.
struct WindowStoreSpec<K, VA> {
    name: Arc<str>,
    keys: Arc<dyn Serde<K>>,
    aggregates: Arc<dyn Serde<VA>>,
    windows: CogroupWindowKind<K, VA>,
}

/// How a windowed cogroup windows: by time (tumbling or hopping), by the records' time
/// difference (sliding), or by session (with the merger of two sessions' aggregates).
enum CogroupWindowKind<K, VA> {
    Time(TimeWindows),
    Sliding(SlidingWindows),
    Session(SessionWindows, Merge<K, VA>),
}

impl<K, VA> Clone for CogroupWindowKind<K, VA> {
    fn clone(&self) -> Self {
        match self {
            CogroupWindowKind::Time(windows) => CogroupWindowKind::Time(*windows),
            CogroupWindowKind::Sliding(windows) => CogroupWindowKind::Sliding(*windows),
            CogroupWindowKind::Session(windows, merge) => {
                CogroupWindowKind::Session(*windows, Arc::clone(merge))
            }
        }
    }
}

struct Part<K, V, VA> {
    grouped: KGroupedStream<K, V>,
    input: Option<KStream<K, V>>,
    aggregator: Add<K, V, VA>,
}

/// What a part's aggregate processor folds: its input (repartitioned if needed), the serde of
/// its values (to skip nulls), its aggregator and the first aggregate of a key.
struct Folding<K, V, VA> {
    input: KStream<K, V>,
    values: Arc<dyn Serde<V>>,
    add: Add<K, V, VA>,
    start: Start<K, V, VA>,
}

impl<K: Data, V: Data, VA: Data> Part<K, V, VA> {
    fn folding(&self, initializer: Initializer<VA>) -> Folding<K, V, VA> {
        let add = Arc::clone(&self.aggregator);
        let first = Arc::clone(&add);
        Folding {
            input: self
                .input
                .clone()
                .unwrap_or_else(|| self.grouped.stream.clone()),
            values: Arc::clone(&self.grouped.grouped.value_serde),
            add,
            start: Arc::new(move |key, value| first(key, value, initializer())),
        }
    }
}

impl<K: Data, V: Data, VA: Data> CogroupPart<K, VA> for Part<K, V, VA> {
    fn prepare(&mut self, store: &str) {
        let stream = &self.grouped.stream;
        self.input = Some(if stream.repartition_required {
            let base = self
                .grouped
                .grouped
                .name
                .clone()
                .unwrap_or_else(|| store.to_string());
            stream.repartition_through(
                Some(base),
                Arc::clone(&self.grouped.grouped.key_serde),
                Arc::clone(&self.grouped.grouped.value_serde),
                None,
            )
        } else {
            stream.clone()
        });
    }

    fn add_window_aggregator(
        &self,
        name: String,
        store: WindowStoreSpec<K, VA>,
        initializer: Initializer<VA>,
    ) -> KStream<Windowed<K>, Change<VA>> {
        let Folding {
            input,
            values,
            add,
            start,
        } = self.folding(Arc::clone(&initializer));
        let stores = vec![store.name.to_string()];
        match store.windows.clone() {
            CogroupWindowKind::Time(windows) => input
                .add_processor::<Windowed<K>, Change<VA>, _, _>(name, stores, move || {
                    time_window_aggregator(
                        Arc::clone(&store.name),
                        Arc::clone(&store.keys),
                        Arc::clone(&values),
                        Arc::clone(&store.aggregates),
                        windows,
                        Arc::clone(&start),
                        Arc::clone(&add),
                    )
                }),
            CogroupWindowKind::Sliding(windows) => input
                .add_processor::<Windowed<K>, Change<VA>, _, _>(name, stores, move || {
                    sliding_window_aggregator(
                        Arc::clone(&store.name),
                        Arc::clone(&store.keys),
                        Arc::clone(&values),
                        Arc::clone(&store.aggregates),
                        windows,
                        Arc::clone(&start),
                        Arc::clone(&add),
                    )
                }),
            CogroupWindowKind::Session(windows, merge) => input
                .add_processor::<Windowed<K>, Change<VA>, _, _>(name, stores, move || {
                    session_window_aggregator(
                        Arc::clone(&store.name),
                        Arc::clone(&store.keys),
                        Arc::clone(&values),
                        Arc::clone(&store.aggregates),
                        windows,
                        Arc::clone(&initializer),
                        Arc::clone(&start),
                        Arc::clone(&add),
                        Arc::clone(&merge),
                    )
                }),
        }
    }

    fn add_aggregator(
        &self,
        name: String,
        table: TableStore<K, VA>,
        initializer: Initializer<VA>,
    ) -> KStream<K, Change<VA>> {
        let Folding {
            input,
            values,
            add,
            start,
        } = self.folding(initializer);
        let store = table.table.store_name.to_string();
        input.add_processor::<K, Change<VA>, _, _>(name, vec![store], move || AggregateProcessor {
            aggregates: table.clone(),
            values: Arc::clone(&values),
            start: Arc::clone(&start),
            add: Arc::clone(&add),
        })
    }
}

/// The names a cogroup's aggregation settled: its store's, its processors' and its merge node's.
struct CogroupPlan {
    store_name: String,
    aggregators: Vec<String>,
    merge: String,
}

/// Merges the aggregate processors' updates into one stream through the pass-through node
/// `merge` (Kafka's `KTablePassThrough` under `COGROUPKSTREAM-MERGE-`). A cogroup has at least
/// the grouped stream it started from.
fn merge_into<K: Data, V: Data>(
    aggregators: &[KStream<K, V>],
    merge: String,
) -> Option<KStream<K, V>> {
    let (first, rest) = aggregators.split_first()?;
    let merged = first.add_processor::<K, V, _, _>(merge, Vec::new(), || PassThroughProcessor);
    for other in rest {
        other.feed(merged.node);
    }
    Some(merged)
}

/// Grouped streams cogrouped into one aggregate per key (Kafka's `CogroupedKStream`): add more
/// with [`cogroup`](Self::cogroup), then [`aggregate`](Self::aggregate).
pub struct CogroupedKStream<K, VA> {
    graph: Rc<RefCell<TopologyGraph>>,
    key_serde: Arc<dyn Serde<K>>,
    parts: Vec<Box<dyn CogroupPart<K, VA>>>,
    name: Option<String>,
}

impl<K: Data, V: Data> KGroupedStream<K, V> {
    /// Starts a cogroup of this grouped stream, folded into aggregates of type `VA` by
    /// `aggregator(key, value, aggregate)` (Kafka's `KGroupedStream#cogroup`).
    ///
    /// ```
    /// use streams_core::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// let clicks = builder
    ///     .stream("clicks", Consumed::with(Serdes::string(), Serdes::i64()))
    ///     .group_by_key(Grouped::with(Serdes::string(), Serdes::i64()));
    /// let views = builder
    ///     .stream("views", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .group_by_key(Grouped::with(Serdes::string(), Serdes::string()));
    /// clicks
    ///     .cogroup(|_user: &String, clicks: &i64, total: i64| total + clicks)
    ///     .cogroup(&views, |_user: &String, _page: &String, total: i64| total + 1)
    ///     .aggregate(|| 0, Materialized::as_("activity").with_value_serde(Serdes::i64()))
    ///     .to_stream()
    ///     .to("activity", Produced::with(Serdes::string(), Serdes::option(Serdes::i64())));
    /// let driver = TopologyTestDriver::new(builder.build()?)?;
    /// let clicks = driver.create_input_topic("clicks", Serdes::string(), Serdes::i64());
    /// let views = driver.create_input_topic("views", Serdes::string(), Serdes::string());
    /// let activity = driver.create_output_topic("activity", Serdes::string(), Serdes::option(Serdes::i64()));
    /// clicks.pipe_input("ann", 3i64);
    /// views.pipe_input("ann", "home");
    /// assert_eq!(activity.read_values_to_list(), [Some(3), Some(4)]);
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn cogroup<VA, A>(&self, aggregator: A) -> CogroupedKStream<K, VA>
    where
        VA: Data,
        A: Fn(&K, &V, VA) -> VA + Send + Sync + 'static,
    {
        CogroupedKStream {
            graph: Rc::clone(self.stream.graph()),
            key_serde: Arc::clone(&self.grouped.key_serde),
            parts: Vec::new(),
            name: None,
        }
        .cogroup(self, aggregator)
    }
}

impl<K: Data, VA: Data> CogroupedKStream<K, VA> {
    /// Adds `grouped`, folded into the same aggregates by `aggregator` (Kafka's
    /// `CogroupedKStream#cogroup`); its values may be of another type.
    pub fn cogroup<V, A>(mut self, grouped: &KGroupedStream<K, V>, aggregator: A) -> Self
    where
        V: Data,
        A: Fn(&K, &V, VA) -> VA + Send + Sync + 'static,
    {
        if !Rc::ptr_eq(&self.graph, grouped.stream.graph()) {
            self.graph
                .borrow_mut()
                .errors
                .push("cannot cogroup streams of different StreamsBuilders".to_string());
            return self;
        }
        self.parts.push(Box::new(Part {
            grouped: grouped.clone(),
            input: None,
            aggregator: Arc::new(aggregator),
        }));
        self
    }

    /// Names the aggregation's processors `<name>-cogroup-agg-<i>` and `<name>-cogroup-merge`
    /// (Kafka's `aggregate(initializer, Named, …)`).
    pub fn named(mut self, named: impl Into<Named>) -> Self {
        self.name = Some(named.into().0);
        self
    }

    /// Windows the cogroup (Kafka's `CogroupedKStream#windowedBy`): by [`TimeWindows`] or
    /// [`SlidingWindows`] into a [`TimeWindowedCogroupedKStream`], by [`SessionWindows`] into a
    /// [`SessionWindowedCogroupedKStream`]. Each key and window aggregates separately; results
    /// are emitted on every update.
    pub fn windowed_by<W: CogroupWindows<K, VA>>(self, windows: W) -> W::Windowed {
        windows.window(self)
    }

    /// The windowed aggregation of every cogrouped stream into `store` (declared by the
    /// caller), merged into one table with windowed keys `windowed_keys`.
    fn windowed_aggregate(
        mut self,
        initializer: Initializer<VA>,
        materialized: Materialized<K, VA>,
        windows: CogroupWindowKind<K, VA>,
    ) -> KTable<Windowed<K>, VA> {
        let plan = self.plan(&materialized);
        let (keys, aggregates) = store_serdes(
            &self.graph,
            &plan.merge,
            &plan.store_name,
            &materialized,
            &self.key_serde,
            None,
        );
        let (minimum, least, grace) = match &windows {
            CogroupWindowKind::Time(w) => (
                w.size_ms().saturating_add(w.grace_ms()),
                "window size + grace",
                w.grace_ms(),
            ),
            CogroupWindowKind::Sliding(w) => (
                sliding_minimum_retention(w),
                SLIDING_MINIMUM_RETENTION,
                w.grace_ms(),
            ),
            CogroupWindowKind::Session(w, _) => {
                let gap_and_grace = w.inactivity_gap_ms().saturating_add(w.grace_ms());
                (gap_and_grace, "inactivity gap + grace", gap_and_grace)
            }
        };
        let retention = materialized.retention_ms.unwrap_or(minimum);
        if retention < minimum {
            self.graph.borrow_mut().errors.push(format!(
                "the retention of store `{}` ({retention} ms) must be at least {least} ({minimum} ms)",
                plan.store_name
            ));
        }
        let (store, windowed_keys): (_, Arc<dyn Serde<Windowed<K>>>) = match &windows {
            CogroupWindowKind::Time(w) => (
                materialized.timestamped_window_store(&plan.store_name, retention, true),
                Arc::new(TimeWindowedSerde::new(
                    SharedSerde(Arc::clone(&keys)),
                    w.size_ms(),
                )),
            ),
            CogroupWindowKind::Sliding(w) => (
                materialized.timestamped_window_store(&plan.store_name, retention, true),
                Arc::new(TimeWindowedSerde::new(
                    SharedSerde(Arc::clone(&keys)),
                    w.time_difference_ms(),
                )),
            ),
            CogroupWindowKind::Session(..) => (
                materialized.session_store(&plan.store_name, retention, true),
                Arc::new(SessionWindowedSerde::new(SharedSerde(Arc::clone(&keys)))),
            ),
        };
        self.graph.borrow_mut().add_store(store);
        let store_name: Arc<str> = Arc::from(plan.store_name.as_str());
        let aggregators: Vec<KStream<Windowed<K>, Change<VA>>> = self
            .parts
            .iter()
            .zip(plan.aggregators)
            .map(|(part, name)| {
                let store = WindowStoreSpec {
                    name: Arc::clone(&store_name),
                    keys: Arc::clone(&keys),
                    aggregates: Arc::clone(&aggregates),
                    windows: windows.clone(),
                };
                part.add_window_aggregator(name, store, Arc::clone(&initializer))
            })
            .collect();
        let graph = Rc::clone(&self.graph);
        let merged = merge_into(&aggregators, plan.merge).unwrap_or_else(|| {
            graph
                .borrow_mut()
                .errors
                .push("a cogroup needs a grouped stream".to_string());
            KStream::from_node(Rc::clone(&graph), 0)
        });
        KTable::new(
            merged,
            windowed_keys,
            Some(aggregates),
            materialized.name.map(|_| plan.store_name),
        )
        .with_window_grace(grace)
    }

    /// Names the store (or draws its name), repartitions the grouped streams that need it, and
    /// draws the names of the aggregate processors and the merge node, in Kafka's order.
    fn plan(&mut self, materialized: &Materialized<K, VA>) -> CogroupPlan {
        let graph = Rc::clone(&self.graph);
        let store_name = match &materialized.name {
            Some(name) => name.clone(),
            None => graph.borrow_mut().next_store_name(AGGREGATE_NAME),
        };
        for part in &mut self.parts {
            part.prepare(&store_name);
        }
        let mut g = graph.borrow_mut();
        // Kafka draws a generated name even when the user named the operation, to keep later
        // generated names stable (`NamedInternal#suffixWithOrElseGet`).
        let aggregators = (0..self.parts.len())
            .map(|i| {
                let generated = g.next_name(AGGREGATE_NAME);
                match &self.name {
                    Some(name) => format!("{name}-cogroup-agg-{i}"),
                    None => generated,
                }
            })
            .collect();
        let generated = g.next_name(MERGE_NAME);
        let merge = match &self.name {
            Some(name) => format!("{name}-cogroup-merge"),
            None => generated,
        };
        CogroupPlan {
            store_name,
            aggregators,
            merge,
        }
    }

    /// Aggregates every cogrouped stream into one table, each key starting from
    /// `initializer()` (Kafka's `CogroupedKStream#aggregate`). `materialized` must give the
    /// aggregates' value serde; name its store with `Materialized::as_` to query it.
    pub fn aggregate<I>(
        mut self,
        initializer: I,
        materialized: Materialized<K, VA>,
    ) -> KTable<K, VA>
    where
        I: Fn() -> VA + Send + Sync + 'static,
    {
        let plan = self.plan(&materialized);
        let (keys, aggregates) = store_serdes(
            &self.graph,
            &plan.merge,
            &plan.store_name,
            &materialized,
            &self.key_serde,
            None,
        );
        self.graph
            .borrow_mut()
            .add_store(materialized.timestamped_store(&plan.store_name));
        let table = TableStore::new(
            Arc::from(plan.store_name.as_str()),
            Arc::clone(&keys),
            Arc::clone(&aggregates),
        );
        let initializer: Initializer<VA> = Arc::new(initializer);
        let aggregators: Vec<KStream<K, Change<VA>>> = self
            .parts
            .iter()
            .zip(plan.aggregators)
            .map(|(part, name)| part.add_aggregator(name, table.clone(), Arc::clone(&initializer)))
            .collect();
        let merged = merge_into(&aggregators, plan.merge).unwrap_or_else(|| {
            // Unreachable through the API (a cogroup starts from a grouped stream); kept an
            // error rather than a panic.
            self.graph
                .borrow_mut()
                .errors
                .push("a cogroup needs a grouped stream".to_string());
            KStream::from_node(Rc::clone(&self.graph), 0)
        });
        KTable::new(
            merged,
            keys,
            Some(aggregates),
            materialized.name.map(|_| plan.store_name),
        )
    }
}

/// A cogroup windowed by [`TimeWindows`] or [`SlidingWindows`] (Kafka's
/// `TimeWindowedCogroupedKStream`): one aggregate per key and window, in one window store
/// shared by every grouped stream's processor.
pub struct TimeWindowedCogroupedKStream<K, VA> {
    cogrouped: CogroupedKStream<K, VA>,
    /// `Time` or `Sliding`.
    windows: CogroupWindowKind<K, VA>,
}

impl<K: Data, VA: Data> TimeWindowedCogroupedKStream<K, VA> {
    /// Aggregates every cogrouped stream per key and window, each window of a key starting from
    /// `initializer()` (Kafka's `TimeWindowedCogroupedKStream#aggregate`). `materialized` must
    /// give the aggregates' value serde; its retention defaults to window size plus grace.
    ///
    /// ```
    /// use std::time::Duration;
    /// use streams_core::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// let grouped = builder
    ///     .stream("topic", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .group_by_key(Grouped::with(Serdes::string(), Serdes::string()));
    /// grouped
    ///     .cogroup(|_k: &String, v: &String, agg: String| format!("{agg}+{v}"))
    ///     .windowed_by(TimeWindows::of_size_with_no_grace(Duration::from_millis(500))?)
    ///     .aggregate(|| "0".to_string(), Materialized::new().with_value_serde(Serdes::string()))
    ///     .to_stream()
    ///     .map(|k: &Windowed<String>, v: &Option<String>| (k.key.clone(), v.clone().unwrap_or_default()))
    ///     .to("output", Produced::with(Serdes::string(), Serdes::string()));
    /// let driver = TopologyTestDriver::new(builder.build()?)?;
    /// let input = driver.create_input_topic("topic", Serdes::string(), Serdes::string());
    /// input.pipe_input_with_timestamp("k1", "A", 0);
    /// input.pipe_input_with_timestamp("k1", "A", 499);
    /// input.pipe_input_with_timestamp("k1", "A", 500);
    /// let output = driver.create_output_topic("output", Serdes::string(), Serdes::string());
    /// assert_eq!(output.read_values_to_list(), ["0+A", "0+A+A", "0+A"]);
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn aggregate<I>(
        self,
        initializer: I,
        materialized: Materialized<K, VA>,
    ) -> KTable<Windowed<K>, VA>
    where
        I: Fn() -> VA + Send + Sync + 'static,
    {
        self.cogrouped
            .windowed_aggregate(Arc::new(initializer), materialized, self.windows)
    }
}

/// Windows a cogroup can be windowed by (Kafka's `CogroupedKStream#windowedBy` overloads):
/// [`TimeWindows`] and [`SlidingWindows`] make a [`TimeWindowedCogroupedKStream`],
/// [`SessionWindows`] a
/// [`SessionWindowedCogroupedKStream`].
pub trait CogroupWindows<K, VA> {
    /// The windowed cogroup these windows make.
    type Windowed;

    /// Windows `cogrouped`.
    fn window(self, cogrouped: CogroupedKStream<K, VA>) -> Self::Windowed;
}

impl<K: Data, VA: Data> CogroupWindows<K, VA> for TimeWindows {
    type Windowed = TimeWindowedCogroupedKStream<K, VA>;

    fn window(self, cogrouped: CogroupedKStream<K, VA>) -> Self::Windowed {
        TimeWindowedCogroupedKStream {
            cogrouped,
            windows: CogroupWindowKind::Time(self),
        }
    }
}

impl<K: Data, VA: Data> CogroupWindows<K, VA> for SlidingWindows {
    type Windowed = TimeWindowedCogroupedKStream<K, VA>;

    fn window(self, cogrouped: CogroupedKStream<K, VA>) -> Self::Windowed {
        TimeWindowedCogroupedKStream {
            cogrouped,
            windows: CogroupWindowKind::Sliding(self),
        }
    }
}

impl<K: Data, VA: Data> CogroupWindows<K, VA> for SessionWindows {
    type Windowed = SessionWindowedCogroupedKStream<K, VA>;

    fn window(self, cogrouped: CogroupedKStream<K, VA>) -> Self::Windowed {
        SessionWindowedCogroupedKStream {
            cogrouped,
            windows: self,
        }
    }
}

/// A cogroup windowed by [`SessionWindows`] (Kafka's `SessionWindowedCogroupedKStream`): one
/// aggregate per key and session, in one session store shared by every grouped stream's
/// processor; a record that bridges sessions merges them (and deletes the merged ones
/// downstream with tombstones).
pub struct SessionWindowedCogroupedKStream<K, VA> {
    cogrouped: CogroupedKStream<K, VA>,
    windows: SessionWindows,
}

impl<K: Data, VA: Data> SessionWindowedCogroupedKStream<K, VA> {
    /// Aggregates every cogrouped stream per key and session, each session starting from
    /// `initializer()`; `merger(key, a, b)` combines the aggregates of sessions a record
    /// bridges (Kafka's `SessionWindowedCogroupedKStream#aggregate`). `materialized` must give
    /// the aggregates' value serde; its retention defaults to inactivity gap plus grace.
    pub fn aggregate<I, M>(
        self,
        initializer: I,
        merger: M,
        materialized: Materialized<K, VA>,
    ) -> KTable<Windowed<K>, VA>
    where
        I: Fn() -> VA + Send + Sync + 'static,
        M: Fn(&K, VA, VA) -> VA + Send + Sync + 'static,
    {
        let windows = CogroupWindowKind::Session(self.windows, Arc::new(merger));
        self.cogrouped
            .windowed_aggregate(Arc::new(initializer), materialized, windows)
    }
}
