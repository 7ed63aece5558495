//! `KTable<K, V>`: a changelog stream seen as a table — the latest value per key — like Kafka
//! Streams' `KTable`. Updates flow between table operators as changes (new and old value); a
//! deleted key (a tombstone) is a change to `None`. `to_stream` turns the updates back into a
//! stream of `Option<V>`, with `None` for deletes.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::cached::TableStore;
use super::change::Change;
use super::kstream::KStream;
use super::options::Materialized;
use super::view::{Predicate, TableView};
use crate::error::Result;
use crate::processor::{Data, Processor, ProcessorContext};
use crate::record::Record;
use crate::serde::Serde;
use crate::topology::graph::TopologyGraph;

/// What a downstream operator asks of the tables it reads (Kafka's `KTableImpl#valueGetterSupplier`
/// and `enableSendingOldValues(true)`): a source table that nobody reads by key has no store, and
/// sends no old values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Demand {
    /// A join (or other lookup) reads the table by key: its source must be materialized.
    Values,
    /// An operator needs each update's old value (`group_by`, `suppress`, outer table joins):
    /// the source must be materialized, and the operators in between send old values too.
    OldValues,
}

/// Runs when a downstream operator makes a [`Demand`] on a table: materializes a source table
/// (Kafka's `KTableSource#materialize`), or turns on old values in an operator.
pub(crate) type DemandHook = Rc<dyn Fn(&mut TopologyGraph, Demand)>;

const FILTER_NAME: &str = "KTABLE-FILTER-";
const MAPVALUES_NAME: &str = "KTABLE-MAPVALUES-";
const TOSTREAM_NAME: &str = "KTABLE-TOSTREAM-";
pub(crate) const SOURCE_NAME: &str = "KTABLE-SOURCE-";

/// The latest value per key of a changelog stream (Kafka's `KTable`); updates flow between
/// table operators as changes, and `to_stream` turns them back into a stream of `Option<V>`.
pub struct KTable<K, V> {
    stream: KStream<K, Change<V>>,
    key_serde: Arc<dyn Serde<K>>,
    value_serde: Option<Arc<dyn Serde<V>>>,
    store_name: Option<String>,
    /// The store holding the table's current values, queryable or not: what a join reads
    /// (Kafka's `KTableValueGetterSupplier` of a materialized table).
    value_store: Option<String>,
    /// For a table derived without a store of its own: how to read it from its parents' stores.
    derived_view: Option<TableView<K, V>>,
    /// For a windowed table: the grace period of its windows, which `suppress` needs.
    window_grace_ms: Option<i64>,
    /// For a table that reads as a versioned table (Kafka's `isOutputVersioned`) — a source
    /// table in a versioned store, or a table derived from one without a store of its own — the
    /// store's history retention.
    versioned: Option<i64>,
    /// What to do upstream when an operator reads this table by key or needs its old values:
    /// for a table derived from a source table that has no store yet.
    upstream: Vec<DemandHook>,
    /// Whether the updates come without old values until an operator asks for them
    /// ([`Demand::OldValues`]): a table derived from a source table that has no store yet.
    old_values_on_demand: bool,
}

impl<K, V> Clone for KTable<K, V> {
    fn clone(&self) -> Self {
        KTable {
            stream: self.stream.clone(),
            key_serde: Arc::clone(&self.key_serde),
            value_serde: self.value_serde.clone(),
            store_name: self.store_name.clone(),
            value_store: self.value_store.clone(),
            derived_view: self.derived_view.clone(),
            window_grace_ms: self.window_grace_ms,
            versioned: self.versioned,
            upstream: self.upstream.clone(),
            old_values_on_demand: self.old_values_on_demand,
        }
    }
}

impl<K: Data, V: Data> KTable<K, V> {
    pub(crate) fn new(
        stream: KStream<K, Change<V>>,
        key_serde: Arc<dyn Serde<K>>,
        value_serde: Option<Arc<dyn Serde<V>>>,
        store_name: Option<String>,
    ) -> Self {
        KTable {
            stream,
            key_serde,
            value_serde,
            value_store: store_name.clone(),
            derived_view: None,
            store_name,
            window_grace_ms: None,
            versioned: None,
            upstream: Vec::new(),
            old_values_on_demand: false,
        }
    }

    /// The same table, running `hooks` when an operator makes a [`Demand`] on it; with
    /// `old_values_on_demand`, its updates carry no old values until one asks for them.
    pub(crate) fn with_upstream(
        mut self,
        hooks: Vec<DemandHook>,
        old_values_on_demand: bool,
    ) -> Self {
        self.upstream = hooks;
        self.old_values_on_demand = old_values_on_demand;
        self
    }

    /// The hooks of this table, for a table that derives from it.
    pub(crate) fn upstream_hooks(&self) -> Vec<DemandHook> {
        self.upstream.clone()
    }

    /// Tells the tables upstream of this one what an operator needs of it.
    fn demand(&self, demand: Demand) {
        let mut graph = self.stream.graph().borrow_mut();
        for hook in &self.upstream {
            hook(&mut graph, demand);
        }
    }

    /// Asks this table to send old values with its updates, materializing the source table it
    /// derives from if need be (Kafka's `enableSendingOldValues(true)`), for operators that
    /// need them: `group_by`, `suppress`, left and outer table-table joins.
    pub(crate) fn enable_sending_old_values(&self) {
        self.demand(Demand::OldValues);
    }

    /// The same table, versioned with this history retention, or not.
    pub(crate) fn with_versioned(mut self, history_retention_ms: Option<i64>) -> Self {
        self.versioned = history_retention_ms;
        self
    }

    /// The history retention of the versioned store the table reads, if it is versioned.
    pub(crate) fn versioned_history_retention_ms(&self) -> Option<i64> {
        self.versioned
    }

    /// Whether the table is versioned: a source table materialized in a versioned store
    /// (`Materialized::as_versioned`), or a table derived from one by `filter` or `map_values`
    /// without a store of its own (Kafka's versioned tables, KIP-914).
    pub fn is_versioned(&self) -> bool {
        self.versioned.is_some()
    }

    /// The same table, whose values are held in store `store` even if it is not queryable
    /// (an unnamed source table's or aggregation's generated store).
    pub(crate) fn with_value_store(mut self, store: impl Into<String>) -> Self {
        self.value_store = Some(store.into());
        self
    }

    /// The same table, read (by joins) through `view` as it has no store of its own.
    pub(crate) fn with_derived_view(mut self, view: Option<TableView<K, V>>) -> Self {
        if self.value_store.is_none() {
            self.derived_view = view;
        }
        self
    }

    /// How a join reads this table (Kafka's `valueGetterSupplier`): its store, or — for a table
    /// derived without one — its parents' stores through its operators.
    /// Materializes the source table this one derives from if it has no store yet.
    pub(crate) fn view(&self) -> Option<TableView<K, V>> {
        self.demand(Demand::Values);
        self.stored_view()
    }

    /// Like [`view`](Self::view), without asking for a store: for a table derived from this
    /// one, which reads through it only when it is read itself.
    fn stored_view(&self) -> Option<TableView<K, V>> {
        match (&self.value_store, &self.value_serde) {
            (Some(store), Some(values)) => Some(TableView::of_store(
                store,
                Arc::clone(&self.key_serde),
                Arc::clone(values),
            )),
            _ => self.derived_view.clone(),
        }
    }

    /// Marks a table of windowed aggregates whose windows have this grace period.
    pub(crate) fn with_window_grace(mut self, grace_ms: i64) -> Self {
        self.window_grace_ms = Some(grace_ms);
        self
    }

    /// Keeps `other`'s window grace period: for operators that pass windows through.
    pub(crate) fn with_grace_of<V2>(mut self, other: &KTable<K, V2>) -> Self {
        self.window_grace_ms = other.window_grace_ms;
        self
    }

    /// The grace period of the windows, if this is a windowed aggregation's table.
    pub(crate) fn window_grace_ms(&self) -> Option<i64> {
        self.window_grace_ms
    }

    /// The stream of changes behind the table.
    pub(crate) fn change_stream(&self) -> &KStream<K, Change<V>> {
        &self.stream
    }

    /// The serde of the keys.
    pub(crate) fn key_serde(&self) -> Arc<dyn Serde<K>> {
        Arc::clone(&self.key_serde)
    }

    /// The serde of the values, if known.
    pub(crate) fn value_serde(&self) -> Option<Arc<dyn Serde<V>>> {
        self.value_serde.clone()
    }

    /// The name of the store that holds this table, if it is materialized under a name you can
    /// query (`Materialized::as_`).
    pub fn queryable_store_name(&self) -> Option<&str> {
        self.store_name.as_deref()
    }

    /// Names the node of the next operator, as `KStream::named` does.
    pub fn named(&self, named: impl Into<super::Named>) -> Self {
        KTable {
            stream: self.stream.named(named),
            ..self.clone()
        }
    }

    /// Adds a table operator's node; with `materialized`, the node also keeps its results in
    /// a store (named, or `<prefix>STATE-STORE-<n>`), as Kafka's operators with a queryable
    /// name do.
    fn derive<V2: Data, P, S>(
        &self,
        prefix: &str,
        value_serde: Option<Arc<dyn Serde<V2>>>,
        materialized: Option<Materialized<K, V2>>,
        supplier: S,
    ) -> KTable<K, V2>
    where
        P: Processor<K, Change<V>, K, Change<V2>>,
        S: Fn(Option<TableStore<K, V2>>) -> P + Send + Sync + 'static,
    {
        let store_name = materialized
            .as_ref()
            .map(|m| TableStore::store_name(self.stream.graph(), prefix, m));
        let name = self.stream.node_name(prefix);
        let keys = Arc::clone(&self.key_serde);
        let declared = materialized
            .as_ref()
            .zip(store_name)
            .and_then(|(m, store)| {
                TableStore::declare(
                    self.stream.graph(),
                    &name,
                    store,
                    m,
                    &keys,
                    value_serde.clone(),
                )
            });
        let Some((result, queryable)) = declared else {
            let stream = self
                .stream
                .add_processor(name, Vec::new(), move || supplier(None));
            // A materialized operator without a value serde is a recorded build error.
            let value_serde = value_serde.filter(|_| materialized.is_none());
            // Read through this table's view, it is as versioned as this one.
            return KTable::new(stream, keys, value_serde, None)
                .with_grace_of(self)
                .with_versioned(self.versioned)
                .with_upstream(self.upstream_hooks(), self.old_values_on_demand);
        };
        let store = result.table.store_name.to_string();
        let (keys, values) = (
            Arc::clone(&result.table.keys),
            Arc::clone(&result.table.values),
        );
        let stream =
            self.stream
                .add_processor(name, vec![result.table.store_name.to_string()], move || {
                    supplier(Some(result.clone()))
                });
        // Read through its own store, the table needs no store upstream; but it takes its old
        // values from its input's (Kafka's operator would read its own store instead).
        let parents = self.upstream_hooks();
        let old_values_only: DemandHook = Rc::new(move |graph, demand| {
            if demand == Demand::OldValues {
                for hook in &parents {
                    hook(graph, demand);
                }
            }
        });
        KTable::new(stream, keys, Some(values), queryable)
            .with_value_store(store)
            .with_grace_of(self)
            .with_upstream(vec![old_values_only], self.old_values_on_demand)
    }

    /// Keeps the rows for which `predicate` holds; a row that stops matching is deleted
    /// downstream (Kafka's `KTable#filter`).
    pub fn filter<F>(&self, predicate: F) -> KTable<K, V>
    where
        F: Fn(&K, &V) -> bool + Send + Sync + 'static,
    {
        self.filtered(predicate, true, None)
    }

    /// [`filter`](Self::filter) with its result materialized as `materialized` says (Kafka's
    /// overload with `Materialized`): queryable under its name, joinable like any
    /// materialized table; not cached.
    pub fn filter_materialized<F>(
        &self,
        predicate: F,
        materialized: Materialized<K, V>,
    ) -> KTable<K, V>
    where
        F: Fn(&K, &V) -> bool + Send + Sync + 'static,
    {
        self.filtered(predicate, true, Some(materialized))
    }

    /// Drops the rows for which `predicate` holds (Kafka's `KTable#filterNot`).
    pub fn filter_not<F>(&self, predicate: F) -> KTable<K, V>
    where
        F: Fn(&K, &V) -> bool + Send + Sync + 'static,
    {
        self.filtered(predicate, false, None)
    }

    /// [`filter_not`](Self::filter_not) with its result materialized (see
    /// [`filter_materialized`](Self::filter_materialized)).
    pub fn filter_not_materialized<F>(
        &self,
        predicate: F,
        materialized: Materialized<K, V>,
    ) -> KTable<K, V>
    where
        F: Fn(&K, &V) -> bool + Send + Sync + 'static,
    {
        self.filtered(predicate, false, Some(materialized))
    }

    fn filtered<F>(
        &self,
        predicate: F,
        keep: bool,
        materialized: Option<Materialized<K, V>>,
    ) -> KTable<K, V>
    where
        F: Fn(&K, &V) -> bool + Send + Sync + 'static,
    {
        let predicate = Arc::new(predicate);
        let view_predicate: Predicate<K, V> = predicate.clone();
        let view = self.stored_view().map(|v| v.filter(view_predicate, keep));
        // Kafka (KIP-914) forwards every delete of a versioned table's filter, even of a row
        // that was filtered out already. Without old values (a source table without a store,
        // until an operator asks for them) Kafka's filter cannot tell that a row did not match
        // before either, and forwards the delete too.
        let versioned = self.is_versioned();
        let skip_repeated_deletes =
            Arc::new(AtomicBool::new(!versioned && !self.old_values_on_demand));
        let skip = Arc::clone(&skip_repeated_deletes);
        let filtered = self
            .derive(
                FILTER_NAME,
                self.value_serde.clone(),
                materialized,
                move |result| TableFilter {
                    predicate: Arc::clone(&predicate),
                    keep,
                    skip_repeated_deletes: skip.load(Ordering::Relaxed),
                    result,
                },
            )
            .with_derived_view(view);
        if !self.old_values_on_demand || versioned {
            return filtered;
        }
        let mut hooks = filtered.upstream_hooks();
        hooks.push(Rc::new(move |_, demand| {
            if demand == Demand::OldValues {
                skip_repeated_deletes.store(true, Ordering::Relaxed);
            }
        }));
        filtered.with_upstream(hooks, true)
    }

    /// Transforms every value (Kafka's `KTable#mapValues`); deletes stay deletes.
    pub fn map_values<V2, F>(&self, mapper: F) -> KTable<K, V2>
    where
        V2: Data,
        F: Fn(&V) -> V2 + Send + Sync + 'static,
    {
        self.mapped(mapper, None)
    }

    /// [`map_values`](Self::map_values) with its result materialized (see
    /// [`filter_materialized`](Self::filter_materialized)); needs the new values' serde
    /// (`Materialized::with_value_serde`).
    pub fn map_values_materialized<V2, F>(
        &self,
        mapper: F,
        materialized: Materialized<K, V2>,
    ) -> KTable<K, V2>
    where
        V2: Data,
        F: Fn(&V) -> V2 + Send + Sync + 'static,
    {
        self.mapped(mapper, Some(materialized))
    }

    fn mapped<V2, F>(&self, mapper: F, materialized: Option<Materialized<K, V2>>) -> KTable<K, V2>
    where
        V2: Data,
        F: Fn(&V) -> V2 + Send + Sync + 'static,
    {
        let mapper = Arc::new(mapper);
        let view_mapper: Arc<dyn Fn(&V) -> V2 + Send + Sync> = mapper.clone();
        let view = self.stored_view().map(|v| v.map(view_mapper));
        self.derive(MAPVALUES_NAME, None, materialized, move |result| {
            TableMapValues {
                mapper: Arc::clone(&mapper),
                result,
            }
        })
        .with_derived_view(view)
    }

    /// The table's updates as a stream: each update's new value, `None` for a delete (Kafka's
    /// `toStream`).
    pub fn to_stream(&self) -> KStream<K, Option<V>> {
        self.stream
            .add_processor(self.stream.node_name(TOSTREAM_NAME), Vec::new(), || {
                ToStream
            })
    }
}

struct TableFilter<K, V, F> {
    predicate: Arc<F>,
    keep: bool,
    /// Whether a row that did not match and still does not is dropped (not for a versioned
    /// input table).
    skip_repeated_deletes: bool,
    result: Option<TableStore<K, V>>,
}

impl<K: Data, V: Data, F> Processor<K, Change<V>, K, Change<V>> for TableFilter<K, V, F>
where
    F: Fn(&K, &V) -> bool + Send + Sync + 'static,
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, Change<V>>) -> Result<()> {
        self.result
            .as_mut()
            .map_or(Ok(()), |result| result.connect(ctx))
    }

    fn process(
        &mut self,
        record: Record<K, Change<V>>,
        ctx: &mut ProcessorContext<'_, K, Change<V>>,
    ) -> Result<()> {
        let keep =
            |value: Option<V>| value.filter(|v| (self.predicate)(&record.key, v) == self.keep);
        let new = keep(record.value.new.clone());
        let old = keep(record.value.old.clone());
        if self.skip_repeated_deletes && new.is_none() && old.is_none() {
            // A row that did not match and still does not (or a delete of one): nothing
            // changes downstream (Kafka's `KTableFilter` with old values).
            return Ok(());
        }
        let is_latest = record.value.is_latest;
        let record = record.with_value(Change::new(new, old).latest(is_latest));
        match &mut self.result {
            Some(result) => result.write_and_forward(record, ctx),
            None => ctx.forward(record),
        }
    }

    fn flush(&mut self, ctx: &mut ProcessorContext<'_, K, Change<V>>) -> Result<()> {
        self.result
            .as_mut()
            .map_or(Ok(()), |result| result.flush(ctx))
    }
}

struct TableMapValues<K, V2, F> {
    mapper: Arc<F>,
    result: Option<TableStore<K, V2>>,
}

impl<K: Data, V: Data, V2: Data, F> Processor<K, Change<V>, K, Change<V2>>
    for TableMapValues<K, V2, F>
where
    F: Fn(&V) -> V2 + Send + Sync + 'static,
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, Change<V2>>) -> Result<()> {
        self.result
            .as_mut()
            .map_or(Ok(()), |result| result.connect(ctx))
    }

    fn process(
        &mut self,
        record: Record<K, Change<V>>,
        ctx: &mut ProcessorContext<'_, K, Change<V2>>,
    ) -> Result<()> {
        let change = Change::new(
            record.value.new.as_ref().map(|v| (self.mapper)(v)),
            record.value.old.as_ref().map(|v| (self.mapper)(v)),
        )
        .latest(record.value.is_latest);
        let record = record.with_value(change);
        match &mut self.result {
            Some(result) => result.write_and_forward(record, ctx),
            None => ctx.forward(record),
        }
    }

    fn flush(&mut self, ctx: &mut ProcessorContext<'_, K, Change<V2>>) -> Result<()> {
        self.result
            .as_mut()
            .map_or(Ok(()), |result| result.flush(ctx))
    }
}

/// The store of a materialized table operator (Kafka's operators with a queryable name): every
/// key's current result.
impl<K: Data, V: Data> TableStore<K, V> {
    /// The store name of a materialized operator: `materialized`'s, or `<prefix>STATE-STORE-<n>`.
    /// Kafka draws it (`MaterializedInternal`) before the operator's node name.
    pub(crate) fn store_name(
        graph: &Rc<RefCell<TopologyGraph>>,
        prefix: &str,
        materialized: &Materialized<K, V>,
    ) -> String {
        match &materialized.name {
            Some(name) => name.clone(),
            None => graph.borrow_mut().next_store_name(prefix),
        }
    }

    /// Declares the store `store_name` (see [`store_name`](Self::store_name)) of operator
    /// `node`, materialized as `materialized` says: its serdes are `materialized`'s, else `keys` and `values`.
    /// Returns the store and, if the user named it, its queryable name; without a value serde
    /// the topology records a build error and returns `None`.
    pub(crate) fn declare(
        graph: &Rc<RefCell<TopologyGraph>>,
        node: &str,
        store_name: String,
        materialized: &Materialized<K, V>,
        keys: &Arc<dyn Serde<K>>,
        values: Option<Arc<dyn Serde<V>>>,
    ) -> Option<(Self, Option<String>)> {
        let mut g = graph.borrow_mut();
        materialized.reject_versioned(&mut g.errors, &format!("`{node}`"));
        let Some(values) = materialized.value_serde.clone().or(values) else {
            g.errors.push(format!(
                "`{node}`: a materialized result needs its value serde; use Materialized::with_value_serde"
            ));
            return None;
        };
        g.add_store(materialized.timestamped_store(&store_name));
        let keys = materialized
            .key_serde
            .clone()
            .unwrap_or_else(|| Arc::clone(keys));
        let result = TableStore::new(Arc::from(store_name.as_str()), keys, values);
        Some((result, materialized.name.as_ref().map(|_| store_name)))
    }
}

struct ToStream;

impl<K: Data, V: Data> Processor<K, Change<V>, K, Option<V>> for ToStream {
    fn process(
        &mut self,
        mut record: Record<K, Change<V>>,
        ctx: &mut ProcessorContext<'_, K, Option<V>>,
    ) -> Result<()> {
        let new = record.value.new.take(); // moved, not cloned
        ctx.forward(record.with_value(new))
    }
}

/// Materializes a topic into a table, like Kafka's `KTableSource`: each record upserts its key,
/// a null value deletes it, and the change is forwarded — or, with a record cache, the latest
/// change per key whenever the cache flushes.
pub(crate) struct TableSource<K, V>(pub(crate) TableStore<K, V>);

impl<K: Data, V: Data> Processor<K, Option<V>, K, Change<V>> for TableSource<K, V> {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, Change<V>>) -> Result<()> {
        self.0.connect(ctx)
    }

    fn flush(&mut self, ctx: &mut ProcessorContext<'_, K, Change<V>>) -> Result<()> {
        self.0.flush(ctx)
    }

    fn process(
        &mut self,
        record: Record<K, Option<V>>,
        ctx: &mut ProcessorContext<'_, K, Change<V>>,
    ) -> Result<()> {
        if self.0.table.keys.is_null(&record.key) {
            tracing::warn!(
                processor = ctx.node_name(),
                "skipping table record due to null key"
            );
            return Ok(());
        }
        // A cache knows the old value itself (the one at its last flush).
        let cached = self.0.is_cached();
        self.0
            .update_and_forward(record, ctx, |store, key, mut record| {
                let old = if cached {
                    None
                } else {
                    store.get_raw(key)?.map(|(value, _)| value)
                };
                let new = record.value.take();
                Ok(record.with_value(Change::new(new, old)))
            })
    }
}

/// A source table without a store (Kafka's `KTableSource` when nothing needs it materialized):
/// each record is forwarded as a change without an old value, a null value as a delete.
pub(crate) struct StorelessTableSource<K> {
    pub(crate) keys: Arc<dyn Serde<K>>,
}

impl<K: Data, V: Data> Processor<K, Option<V>, K, Change<V>> for StorelessTableSource<K> {
    fn process(
        &mut self,
        mut record: Record<K, Option<V>>,
        ctx: &mut ProcessorContext<'_, K, Change<V>>,
    ) -> Result<()> {
        if self.keys.is_null(&record.key) {
            tracing::warn!(
                processor = ctx.node_name(),
                "skipping table record due to null key"
            );
            return Ok(());
        }
        let new = record.value.take();
        ctx.forward(record.with_value(Change::new(new, None)))
    }
}
