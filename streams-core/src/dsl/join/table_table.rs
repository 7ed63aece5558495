//! Table-table joins (`KTable::join / left_join / outer_join`), like Kafka Streams'
//! `KTableKTableJoin` family (`KTableKTableInnerJoin`, `…LeftJoin`, `…OuterJoin`,
//! `KTableKTableJoinMerger`): a result table kept up to date from both sides. An update on either
//! side is joined with the other side's current value, and both the new and the old result flow
//! on, so that downstream aggregations can subtract the old one.

use std::rc::Rc;
use std::sync::Arc;

use crate::dsl::cached::TableStore;
use crate::dsl::change::Change;
use crate::dsl::ktable::KTable;
use crate::dsl::options::Materialized;
use crate::dsl::view::ValueGetter;
use crate::error::Result;
use crate::processor::{Data, Processor, ProcessorContext};
use crate::record::Record;

use super::Unreachable;

const JOIN_THIS_NAME: &str = "KTABLE-JOINTHIS-";
const JOIN_OTHER_NAME: &str = "KTABLE-JOINOTHER-";
const TABLE_MERGE_NAME: &str = "KTABLE-MERGE-";

/// Joins a value of each side (`None`: the side holds no value) into a result, or `None` when
/// the join does not apply to that combination (e.g. an inner join missing a side).
type TableJoiner<V, VO, VR> = Arc<dyn Fn(Option<&V>, Option<&VO>) -> Option<VR> + Send + Sync>;

impl<K: Data, V: Data> KTable<K, V> {
    /// Inner table-table join (Kafka's `KTable#join(KTable, ValueJoiner)`): the result holds
    /// `joiner(v, vo)` for every key both tables hold; an update on either side emits the new
    /// result and the old one, and a key that leaves either side is deleted from the result.
    /// Each side reads the other from its store, or, for a table derived without one, through
    /// the stores it derives from (Kafka's value getters).
    pub fn join<VO, VR, F>(&self, other: &KTable<K, VO>, joiner: F) -> KTable<K, VR>
    where
        VO: Data,
        VR: Data,
        F: Fn(&V, &VO) -> VR + Send + Sync + 'static,
    {
        self.table_join(
            (false, false),
            other,
            Arc::new(move |v, o| Some(joiner(v?, o?))),
            None,
        )
    }

    /// Left table-table join (Kafka's `KTable#leftJoin`): every key of this table, joined with
    /// the other table's value if it holds one.
    pub fn left_join<VO, VR, F>(&self, other: &KTable<K, VO>, joiner: F) -> KTable<K, VR>
    where
        VO: Data,
        VR: Data,
        F: Fn(&V, Option<&VO>) -> VR + Send + Sync + 'static,
    {
        self.table_join(
            (true, false),
            other,
            Arc::new(move |v, o| Some(joiner(v?, o))),
            None,
        )
    }

    /// Outer table-table join (Kafka's `KTable#outerJoin`): every key either table holds.
    pub fn outer_join<VO, VR, F>(&self, other: &KTable<K, VO>, joiner: F) -> KTable<K, VR>
    where
        VO: Data,
        VR: Data,
        F: Fn(Option<&V>, Option<&VO>) -> VR + Send + Sync + 'static,
    {
        self.table_join(
            (true, true),
            other,
            Arc::new(move |v, o| (v.is_some() || o.is_some()).then(|| joiner(v, o))),
            None,
        )
    }

    /// [`join`](Self::join) whose result is materialized as `materialized` says (Kafka's
    /// overload with `Materialized`): a store (named, or `KTABLE-MERGE-STATE-STORE-<n>`) on the
    /// join's merge node holding every key's current result, queryable under its name and
    /// joinable like any materialized table. Needs the result's value serde
    /// (`Materialized::with_value_serde`). The store has no record cache: the merge writes and
    /// forwards every result as the joins produce it.
    pub fn join_materialized<VO, VR, F>(
        &self,
        other: &KTable<K, VO>,
        joiner: F,
        materialized: Materialized<K, VR>,
    ) -> KTable<K, VR>
    where
        VO: Data,
        VR: Data,
        F: Fn(&V, &VO) -> VR + Send + Sync + 'static,
    {
        self.table_join(
            (false, false),
            other,
            Arc::new(move |v, o| Some(joiner(v?, o?))),
            Some(materialized),
        )
    }

    /// [`left_join`](Self::left_join) with its result materialized (see
    /// [`join_materialized`](Self::join_materialized)).
    pub fn left_join_materialized<VO, VR, F>(
        &self,
        other: &KTable<K, VO>,
        joiner: F,
        materialized: Materialized<K, VR>,
    ) -> KTable<K, VR>
    where
        VO: Data,
        VR: Data,
        F: Fn(&V, Option<&VO>) -> VR + Send + Sync + 'static,
    {
        self.table_join(
            (true, false),
            other,
            Arc::new(move |v, o| Some(joiner(v?, o))),
            Some(materialized),
        )
    }

    /// [`outer_join`](Self::outer_join) with its result materialized (see
    /// [`join_materialized`](Self::join_materialized)).
    pub fn outer_join_materialized<VO, VR, F>(
        &self,
        other: &KTable<K, VO>,
        joiner: F,
        materialized: Materialized<K, VR>,
    ) -> KTable<K, VR>
    where
        VO: Data,
        VR: Data,
        F: Fn(Option<&V>, Option<&VO>) -> VR + Send + Sync + 'static,
    {
        self.table_join(
            (true, true),
            other,
            Arc::new(move |v, o| (v.is_some() || o.is_some()).then(|| joiner(v, o))),
            Some(materialized),
        )
    }

    /// `outer`: whether the join keeps this side's rows without a match, and the other's
    /// (left: `(true, false)`, outer: `(true, true)`).
    fn table_join<VO: Data, VR: Data>(
        &self,
        outer: (bool, bool),
        other: &KTable<K, VO>,
        joiner: TableJoiner<V, VO, VR>,
        materialized: Option<Materialized<K, VR>>,
    ) -> KTable<K, VR> {
        let graph = Rc::clone(self.change_stream().graph());
        // Kafka's order (`KTableImpl#doJoin`): the merge node's name, then the two sides', each
        // drawing a counter value also when the join is named (`<name>`, `<name>-join-this`,
        // `<name>-join-other`).
        let result_store = materialized
            .as_ref()
            .map(|m| TableStore::store_name(&graph, TABLE_MERGE_NAME, m));
        let (merge_name, this_name, other_name) = {
            let base = self.change_stream().pending_name().map(str::to_string);
            let mut g = graph.borrow_mut();
            let mut name = |suffix: &str, prefix: &str| {
                let generated = g.next_name(prefix);
                base.as_ref().map_or(generated, |b| format!("{b}{suffix}"))
            };
            (
                name("", TABLE_MERGE_NAME),
                name("-join-this", JOIN_THIS_NAME),
                name("-join-other", JOIN_OTHER_NAME),
            )
        };
        // Kafka's `KTableImpl#doJoin`: a side whose rows are kept without a match sends old
        // values, so that a row that stops matching is deleted downstream.
        if outer.0 {
            self.enable_sending_old_values();
        }
        if outer.1 {
            other.enable_sending_old_values();
        }
        // Each side reads the other through its view (Kafka's `valueGetterSupplier`): its
        // store, or for a table without one, the stores of the tables it derives from.
        let Some((this_view, other_view)) = self.view().zip(other.view()) else {
            graph.borrow_mut().errors.push(format!(
                "join `{this_name}`: both tables must be materialized; give each a store with Materialized::as_"
            ));
            return KTable::new(
                self.change_stream()
                    .add_processor(this_name, Vec::new(), || Unreachable),
                self.key_serde(),
                None,
                None,
            );
        };
        let keys = self.key_serde();
        let from_this = {
            let other = other_view.clone();
            let joiner = Arc::clone(&joiner);
            self.change_stream()
                .add_processor(this_name, other.stores().to_vec(), move || {
                    TableJoinProcessor {
                        other: other.getter(),
                        joiner: Arc::clone(&joiner),
                    }
                })
        };
        let from_other = {
            let this = this_view.clone();
            let joiner = Arc::clone(&joiner);
            other
                .change_stream()
                .add_processor(other_name, this.stores().to_vec(), move || {
                    TableJoinProcessor {
                        other: this.getter(),
                        joiner: {
                            let joiner = Arc::clone(&joiner);
                            Arc::new(move |this: Option<&VO>, other: Option<&V>| {
                                joiner(other, this)
                            }) as TableJoiner<VO, V, VR>
                        },
                    }
                })
        };
        // Kafka's `KTableKTableJoinMerger` with a queryable store: the merge node keeps every
        // key's current result.
        let declared = materialized
            .as_ref()
            .zip(result_store)
            .and_then(|(m, store)| TableStore::declare(&graph, &merge_name, store, m, &keys, None));
        let Some((result, queryable)) = declared else {
            let merged = from_this.merge_as(&from_other, merge_name);
            // Read through both sides, as Kafka's unmaterialized `KTableKTableJoinMerger#view`.
            let view = this_view.join(&other_view, Arc::clone(&joiner));
            let mut upstream = self.upstream_hooks();
            upstream.extend(other.upstream_hooks());
            return KTable::new(merged, keys, None, None)
                .with_derived_view(Some(view))
                .with_upstream(upstream, false);
        };
        let store = result.table.store_name.to_string();
        let (keys, values) = (
            Arc::clone(&result.table.keys),
            Arc::clone(&result.table.values),
        );
        let merged = from_this.add_processor(
            merge_name,
            vec![result.table.store_name.to_string()],
            move || TableJoinMerger(result.clone()),
        );
        from_other.feed(merged.node);
        KTable::new(merged, keys, Some(values), queryable).with_value_store(store)
    }
}

/// The merge of a materialized table-table join (Kafka's `KTableKTableJoinMerger` with a
/// queryable name): writes each result (or its deletion) to the store, and forwards it (through
/// the store's record cache, if it has one).
struct TableJoinMerger<K, VR>(TableStore<K, VR>);

impl<K: Data, VR: Data> Processor<K, Change<VR>, K, Change<VR>> for TableJoinMerger<K, VR> {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, Change<VR>>) -> Result<()> {
        self.0.connect(ctx)
    }

    fn process(
        &mut self,
        record: Record<K, Change<VR>>,
        ctx: &mut ProcessorContext<'_, K, Change<VR>>,
    ) -> Result<()> {
        self.0.write_and_forward(record, ctx)
    }

    fn flush(&mut self, ctx: &mut ProcessorContext<'_, K, Change<VR>>) -> Result<()> {
        self.0.flush(ctx)
    }
}

/// Joins one side's updates with the other side's current value (Kafka's
/// `KTableKTableJoinProcessor` family): emits the joined new and old values, the latter so that
/// downstream aggregations can subtract it.
struct TableJoinProcessor<K, V, VO, VR> {
    /// Reads the other side (Kafka's `KTableValueGetter`).
    other: Box<dyn ValueGetter<K, VO>>,
    joiner: TableJoiner<V, VO, VR>,
}

impl<K: Data, V: Data, VO: Data, VR: Data> Processor<K, Change<V>, K, Change<VR>>
    for TableJoinProcessor<K, V, VO, VR>
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, Change<VR>>) -> Result<()> {
        self.other.connect(&|name| ctx.store_handle(name))
    }

    fn process(
        &mut self,
        record: Record<K, Change<V>>,
        ctx: &mut ProcessorContext<'_, K, Change<VR>>,
    ) -> Result<()> {
        // Out-of-order updates of a versioned table are history, not news (KIP-914).
        if !record.value.is_latest {
            tracing::info!("skipping out-of-order record from versioned table while performing table-table join");
            return Ok(());
        }
        let other = self.other.get(&record.key)?;
        let (other_value, other_ts) = match &other {
            Some((v, ts)) => (Some(v), *ts),
            None => (None, record.timestamp),
        };
        let new = (self.joiner)(record.value.new.as_ref(), other_value);
        let old = (self.joiner)(record.value.old.as_ref(), other_value);
        if new.is_none() && old.is_none() {
            return Ok(());
        }
        ctx.forward(Record {
            key: record.key,
            value: Change::new(new, old),
            timestamp: record.timestamp.max(other_ts),
            headers: record.headers,
        })
    }
}
