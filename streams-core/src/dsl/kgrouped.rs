//! `KGroupedStream<K, V>`: a stream grouped by key, ready to aggregate into a table — like Kafka
//! Streams' `KGroupedStream`. `count`, `reduce` and `aggregate` keep one aggregate per key in a
//! timestamped key-value store (changelogged as `<application.id>-<store>-changelog`) and emit
//! updated aggregates downstream as table updates: each one as it happens without a record
//! cache, else the latest per key whenever the cache flushes (see [`cached`](super::cached)).

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use super::cached::TableStore;
use super::change::Change;
use super::kstream::KStream;
use super::ktable::KTable;
use super::options::{Grouped, Materialized};
use super::windowed::WindowDefinition;
use crate::error::Result;
use crate::processor::{Data, Processor, ProcessorContext};
use crate::record::Record;
use crate::serde::{I64Serde, Serde};
use crate::topology::graph::TopologyGraph;

const AGGREGATE_NAME: &str = "KSTREAM-AGGREGATE-";
const REDUCE_NAME: &str = "KSTREAM-REDUCE-";

/// The first aggregate of a key, from its first record.
pub(super) type Start<K, V, VA> = Arc<dyn Fn(&K, &V) -> VA + Send + Sync>;
/// Folds a record into a key's aggregate.
pub(super) type Add<K, V, VA> = Arc<dyn Fn(&K, &V, VA) -> VA + Send + Sync>;

/// A stream grouped by key, ready to aggregate into a [`KTable`] (Kafka's `KGroupedStream`).
pub struct KGroupedStream<K, V> {
    pub(super) stream: KStream<K, V>,
    pub(super) grouped: Grouped<K, V>,
    /// With a named `Grouped`: the repartition the first aggregation added, which later
    /// aggregations of this grouped stream (and its clones and windowed streams) read too —
    /// Kafka's `GroupedStreamAggregateBuilder#repartitionNode`.
    repartitioned: Rc<RefCell<Option<KStream<K, V>>>>,
}

impl<K, V> Clone for KGroupedStream<K, V> {
    fn clone(&self) -> Self {
        KGroupedStream {
            stream: self.stream.clone(),
            grouped: self.grouped.clone(),
            repartitioned: Rc::clone(&self.repartitioned),
        }
    }
}

/// What every aggregation of a grouped stream settles before adding its processor: names (in
/// Kafka's order), the input (through a repartition topic if the key changed) and serdes.
pub(super) struct AggregationPlan<K, V, VA> {
    pub(super) input: KStream<K, V>,
    pub(super) name: String,
    pub(super) store_name: String,
    pub(super) keys: Arc<dyn Serde<K>>,
    pub(super) values: Arc<dyn Serde<V>>,
    pub(super) aggregates: Arc<dyn Serde<VA>>,
}

impl<K: Data, V: Data, VA: Data> AggregationPlan<K, V, VA> {
    /// Reports a topology error, surfaced by `build()`.
    pub(super) fn report(&self, message: String) {
        self.input.graph().borrow_mut().errors.push(message);
    }

    /// Declares the aggregation's store.
    pub(super) fn add_store(&self, store: crate::state::StoreBuilder) {
        self.input.graph().borrow_mut().add_store(store);
    }
}

impl<K: Data, V: Data> KGroupedStream<K, V> {
    pub(crate) fn new(stream: KStream<K, V>, grouped: Grouped<K, V>) -> Self {
        KGroupedStream {
            stream,
            grouped,
            repartitioned: Rc::default(),
        }
    }

    /// Windows the grouped stream: by [`TimeWindows`](super::TimeWindows) into a
    /// [`TimeWindowedKStream`](super::TimeWindowedKStream), by
    /// [`SessionWindows`](super::SessionWindows) into a
    /// [`SessionWindowedKStream`](super::SessionWindowedKStream) (Kafka's `windowedBy`).
    pub fn windowed_by<W: WindowDefinition<K, V>>(&self, windows: W) -> W::Windowed {
        windows.window(self)
    }

    /// Kafka's `count(Materialized)` without a store name draws one more store name than
    /// `count()` (kept there for compatibility, also by time and session windowed counts but not
    /// by sliding ones); Rill's `count(Materialized::new())` stands for `count()`.
    pub(super) fn burn_count_store_name<VA>(&self, materialized: &Materialized<K, VA>) {
        if materialized.name.is_none() && !materialized.is_default() {
            self.stream.graph().borrow_mut().burn_index();
        }
    }

    /// The serde of the grouped values.
    pub(super) fn value_serde(&self) -> Arc<dyn Serde<V>> {
        Arc::clone(&self.grouped.value_serde)
    }

    /// Counts records per key (Kafka's `count`). Records with a null key or value are skipped.
    pub fn count(&self, materialized: Materialized<K, i64>) -> KTable<K, i64> {
        self.burn_count_store_name(&materialized);
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

    /// Combines the values of each key with `reducer(aggregate, value)` (Kafka's `reduce`); the
    /// first value of a key is its first aggregate.
    pub fn reduce<F>(&self, reducer: F, materialized: Materialized<K, V>) -> KTable<K, V>
    where
        F: Fn(V, &V) -> V + Send + Sync + 'static,
    {
        let start: Start<K, V, V> = Arc::new(|_, value: &V| value.clone());
        let add: Add<K, V, V> = Arc::new(move |_, value, aggregate| reducer(aggregate, value));
        let value_serde = Some(Arc::clone(&self.grouped.value_serde));
        self.aggregate_with(REDUCE_NAME, start, add, materialized, value_serde)
    }

    /// Folds the values of each key into an aggregate of type `VA`, starting from
    /// `initializer()` (Kafka's `aggregate`). `materialized` must give a value serde for `VA`.
    pub fn aggregate<VA, I, A>(
        &self,
        initializer: I,
        aggregator: A,
        materialized: Materialized<K, VA>,
    ) -> KTable<K, VA>
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

    /// Names the aggregation, routes its input through a repartition topic if the key changed
    /// and settles its serdes.
    pub(super) fn plan_aggregation<VA: Data>(
        &self,
        prefix: &str,
        materialized: &Materialized<K, VA>,
        default_value_serde: Option<Arc<dyn Serde<VA>>>,
    ) -> AggregationPlan<K, V, VA> {
        let graph = Rc::clone(self.stream.graph());
        // Kafka draws the store name first, then the processor's, then the repartition's.
        let store_name = match &materialized.name {
            Some(name) => name.clone(),
            None => graph.borrow_mut().next_store_name(prefix),
        };
        let name = self.stream.node_name(prefix);
        let reused = self.repartitioned.borrow().clone();
        let input = match reused {
            Some(repartitioned) if self.stream.repartition_required => {
                // Kafka draws the repartition's three counter values all the same.
                let mut g = graph.borrow_mut();
                for _ in 0..3 {
                    g.burn_index();
                }
                repartitioned
            }
            _ if self.stream.repartition_required => {
                let base = self
                    .grouped
                    .name
                    .clone()
                    .unwrap_or_else(|| store_name.clone());
                let repartitioned = self.stream.repartition_through(
                    Some(base),
                    Arc::clone(&self.grouped.key_serde),
                    Arc::clone(&self.grouped.value_serde),
                    None,
                );
                // Only a named repartition is shared: generated ones are named per store.
                if self.grouped.name.is_some() {
                    *self.repartitioned.borrow_mut() = Some(repartitioned.clone());
                }
                repartitioned
            }
            _ => self.stream.clone(),
        };
        let (keys, aggregates) = store_serdes(
            &graph,
            &name,
            &store_name,
            materialized,
            &self.grouped.key_serde,
            default_value_serde,
        );
        AggregationPlan {
            input,
            name,
            store_name,
            keys,
            values: Arc::clone(&self.grouped.value_serde),
            aggregates,
        }
    }

    fn aggregate_with<VA: Data>(
        &self,
        prefix: &str,
        start: Start<K, V, VA>,
        add: Add<K, V, VA>,
        materialized: Materialized<K, VA>,
        default_value_serde: Option<Arc<dyn Serde<VA>>>,
    ) -> KTable<K, VA> {
        let plan = self.plan_aggregation(prefix, &materialized, default_value_serde);
        plan.add_store(materialized.timestamped_store(&plan.store_name));
        let table = TableStore::new(
            Arc::from(plan.store_name.as_str()),
            Arc::clone(&plan.keys),
            Arc::clone(&plan.aggregates),
        );
        let values = Arc::clone(&plan.values);
        let stream = plan.input.add_processor::<K, Change<VA>, _, _>(
            plan.name.clone(),
            vec![plan.store_name.clone()],
            move || AggregateProcessor {
                aggregates: table.clone(),
                values: Arc::clone(&values),
                start: Arc::clone(&start),
                add: Arc::clone(&add),
            },
        );
        KTable::new(
            stream,
            plan.keys,
            Some(plan.aggregates),
            materialized.name.map(|_| plan.store_name.clone()),
        )
        .with_value_store(plan.store_name)
    }
}

/// The serdes of an aggregation's store: `materialized`'s, else the grouping's keys and the
/// operator's default for values; a missing value serde is reported for `build()`.
pub(super) fn store_serdes<K, VA>(
    graph: &RefCell<TopologyGraph>,
    name: &str,
    store_name: &str,
    materialized: &Materialized<K, VA>,
    grouped_keys: &Arc<dyn Serde<K>>,
    default_value_serde: Option<Arc<dyn Serde<VA>>>,
) -> (Arc<dyn Serde<K>>, Arc<dyn Serde<VA>>) {
    let keys = materialized
        .key_serde
        .clone()
        .unwrap_or_else(|| Arc::clone(grouped_keys));
    materialized.reject_versioned(
        &mut graph.borrow_mut().errors,
        &format!("aggregation `{name}`"),
    );
    let aggregates = match materialized.value_serde.clone().or(default_value_serde) {
        Some(serde) => serde,
        None => {
            graph.borrow_mut().errors.push(format!(
                "aggregation `{name}` needs a value serde for its store `{store_name}`: use Materialized::with_value_serde"
            ));
            Arc::new(MissingSerde)
        }
    };
    (keys, aggregates)
}

/// Stands in for a serde the user did not give; `build()` reports the omission before any
/// record could reach it.
pub(super) struct MissingSerde;

impl<T> Serde<T> for MissingSerde {
    fn serialize(
        &self,
        _topic: &str,
        _data: &T,
    ) -> std::result::Result<Option<Vec<u8>>, crate::serde::SerdeError> {
        Err(crate::serde::SerdeError::new("no serde was configured"))
    }

    fn deserialize(
        &self,
        _topic: &str,
        _data: Option<&[u8]>,
    ) -> std::result::Result<T, crate::serde::SerdeError> {
        Err(crate::serde::SerdeError::new("no serde was configured"))
    }
}

/// Keeps one aggregate per key, like Kafka's `KStreamAggregate` and `KStreamReduce`, and
/// forwards each update — or, with a record cache, what the cache flushes.
pub(super) struct AggregateProcessor<K, V, VA> {
    pub(super) aggregates: TableStore<K, VA>,
    pub(super) values: Arc<dyn Serde<V>>,
    pub(super) start: Start<K, V, VA>,
    pub(super) add: Add<K, V, VA>,
}

impl<K: Data, V: Data, VA: Data> Processor<K, V, K, Change<VA>> for AggregateProcessor<K, V, VA> {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, Change<VA>>) -> Result<()> {
        self.aggregates.connect(ctx)
    }

    fn flush(&mut self, ctx: &mut ProcessorContext<'_, K, Change<VA>>) -> Result<()> {
        self.aggregates.flush(ctx)
    }

    fn process(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, K, Change<VA>>,
    ) -> Result<()> {
        if skip_null(&*self.aggregates.table.keys, &*self.values, &record, ctx) {
            return Ok(());
        }
        // A cached update's old value is the one at the last flush, not the one read here.
        let cached = self.aggregates.is_cached();
        let (add, start) = (&self.add, &self.start);
        self.aggregates
            .update_and_forward(record, ctx, |store, key, record| {
                let (aggregate, old, timestamp) = match store.get_raw(key)? {
                    Some((previous, previous_ts)) => {
                        let old = (!cached).then(|| previous.clone());
                        (
                            add(&record.key, &record.value, previous),
                            old,
                            previous_ts.max(record.timestamp),
                        )
                    }
                    None => (start(&record.key, &record.value), None, record.timestamp),
                };
                Ok(Record {
                    key: record.key,
                    value: Change::new(Some(aggregate), old),
                    timestamp,
                    headers: record.headers,
                })
            })
    }
}

/// Skips (and logs, as Kafka does) a record whose key or value is null: it cannot be aggregated.
pub(super) fn skip_null<K: Data, V: Data, KO: Data, VO: Data>(
    keys: &dyn Serde<K>,
    values: &dyn Serde<V>,
    record: &Record<K, V>,
    ctx: &ProcessorContext<'_, KO, VO>,
) -> bool {
    if !keys.is_null(&record.key) && !values.is_null(&record.value) {
        return false;
    }
    let meta = ctx.record_metadata();
    tracing::warn!(
        processor = ctx.node_name(),
        topic = meta.map(|m| &*m.topic),
        partition = meta.map(|m| m.partition),
        offset = meta.map(|m| m.offset),
        "skipping record due to null key or value"
    );
    true
}
