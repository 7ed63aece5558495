//! `KTable::group_by` and `KGroupedTable<K, V>`: re-keying a table and aggregating it, like
//! Kafka Streams' `KGroupedTable`.
//!
//! A table row can change its group or leave it, so a table aggregation needs both an adder and
//! a subtractor: an update of a source row that moves it to another group is sent (through a
//! repartition topic keyed by the group) as "remove the old value from its old group", then "add
//! the new value to its new group"; an update that keeps its group is sent as one record carrying
//! both values, which the aggregation applies as one update — subtractor, then adder — with one
//! result (Kafka's KIP-904). Deletes only subtract.

use std::rc::Rc;
use std::sync::Arc;

use super::cached::TableStore;
use super::change::Change;
use super::kgrouped::store_serdes;
use super::kstream::{add_source, KStream, SINK_NAME, SOURCE_NAME};
use super::ktable::KTable;
use super::options::{Grouped, Materialized};
use crate::error::Result;
use crate::processor::{Data, Processor, ProcessorContext};
use crate::record::Record;
use crate::serde::{I64Serde, Serde, SerdeError};
use crate::topology::graph::{RepartitionTopic, TopicRef};

const SELECT_NAME: &str = "KTABLE-SELECT-";
const AGGREGATE_NAME: &str = "KTABLE-AGGREGATE-";
const REDUCE_NAME: &str = "KTABLE-REDUCE-";

/// The first aggregate of a group, from its first value.
type Start<K, V, VA> = Arc<dyn Fn(&K, &V) -> VA + Send + Sync>;
/// Adds a value to, or subtracts it from, a group's aggregate.
type Fold<K, V, VA> = Arc<dyn Fn(&K, &V, VA) -> VA + Send + Sync>;

impl<K: Data, V: Data> KTable<K, V> {
    /// Re-keys the table with `selector(key, value) -> (new key, new value)` for an aggregation
    /// (Kafka's `KTable#groupBy`); `grouped` gives the serdes of the repartition topic. Group
    /// keys are compared (as Kafka compares them with `equals`) to send an update that stays in
    /// its group as one record.
    pub fn group_by<K2, V2, F>(
        &self,
        selector: F,
        grouped: Grouped<K2, V2>,
    ) -> KGroupedTable<K2, V2>
    where
        K2: Data + PartialEq,
        V2: Data,
        F: Fn(&K, &V) -> (K2, V2) + Send + Sync + 'static,
    {
        let stream = self.change_stream();
        // The aggregation subtracts each update's old value (Kafka's `groupBy` calls
        // `enableSendingOldValues(true)`).
        self.enable_sending_old_values();
        // Kafka draws a counter value even for a named grouping.
        let name =
            super::kstream::named_or_generated(stream.graph(), grouped.name.clone(), SELECT_NAME);
        let selector = Arc::new(selector);
        let keys = Arc::clone(&grouped.key_serde);
        let selected = stream.add_processor::<K2, Change<V2>, _, _>(name, Vec::new(), move || {
            TableRepartitionMap {
                selector: Arc::clone(&selector),
                keys: Arc::clone(&keys),
            }
        });
        KGroupedTable { selected, grouped }
    }
}

/// A re-keyed table, ready to aggregate (Kafka's `KGroupedTable`).
pub struct KGroupedTable<K, V> {
    selected: KStream<K, Change<V>>,
    grouped: Grouped<K, V>,
}

impl<K: Data, V: Data> KGroupedTable<K, V> {
    /// Counts the rows of each group.
    pub fn count(&self, materialized: Materialized<K, i64>) -> KTable<K, i64> {
        self.aggregate_with(
            AGGREGATE_NAME,
            Arc::new(|_, _| 1),
            Arc::new(|_, _, count| count + 1),
            Arc::new(|_, _, count| count - 1),
            materialized,
            Some(Arc::new(I64Serde)),
        )
    }

    /// Combines the values of each group with `adder(aggregate, value)`, and takes a value that
    /// left the group (or changed) out again with `subtractor(aggregate, old value)`.
    pub fn reduce<A, S>(
        &self,
        adder: A,
        subtractor: S,
        materialized: Materialized<K, V>,
    ) -> KTable<K, V>
    where
        A: Fn(V, &V) -> V + Send + Sync + 'static,
        S: Fn(V, &V) -> V + Send + Sync + 'static,
    {
        let values = Some(Arc::clone(&self.grouped.value_serde));
        self.aggregate_with(
            REDUCE_NAME,
            Arc::new(|_, value: &V| value.clone()),
            Arc::new(move |_, value, aggregate| adder(aggregate, value)),
            Arc::new(move |_, value, aggregate| subtractor(aggregate, value)),
            materialized,
            values,
        )
    }

    /// Folds the values of each group into an aggregate starting from `initializer()`:
    /// `adder(key, value, aggregate)` for a value joining the group, `subtractor(key, value,
    /// aggregate)` for one leaving it. `materialized` must give a value serde for `VA`.
    pub fn aggregate<VA, I, A, S>(
        &self,
        initializer: I,
        adder: A,
        subtractor: S,
        materialized: Materialized<K, VA>,
    ) -> KTable<K, VA>
    where
        VA: Data,
        I: Fn() -> VA + Send + Sync + 'static,
        A: Fn(&K, &V, VA) -> VA + Send + Sync + 'static,
        S: Fn(&K, &V, VA) -> VA + Send + Sync + 'static,
    {
        let adder: Fold<K, V, VA> = Arc::new(adder);
        let first = Arc::clone(&adder);
        self.aggregate_with(
            AGGREGATE_NAME,
            Arc::new(move |key, value| first(key, value, initializer())),
            adder,
            Arc::new(subtractor),
            materialized,
            None,
        )
    }

    fn aggregate_with<VA: Data>(
        &self,
        prefix: &str,
        start: Start<K, V, VA>,
        add: Fold<K, V, VA>,
        subtract: Fold<K, V, VA>,
        materialized: Materialized<K, VA>,
        default_value_serde: Option<Arc<dyn Serde<VA>>>,
    ) -> KTable<K, VA> {
        let graph = Rc::clone(self.selected.graph());
        // Kafka's order: the store name, then the repartition sink and source, then the
        // aggregation's own name.
        let store_name = match &materialized.name {
            Some(name) => name.clone(),
            None => graph.borrow_mut().next_store_name(prefix),
        };
        let (sink, source, name) = match &self.grouped.name {
            Some(base) => (
                format!("{base}-sink"),
                format!("{base}-source"),
                base.clone(),
            ),
            None => {
                let mut g = graph.borrow_mut();
                (
                    g.next_name(SINK_NAME),
                    g.next_name(SOURCE_NAME),
                    g.next_name(prefix),
                )
            }
        };
        let topic = format!(
            "{}-repartition",
            self.grouped.name.as_deref().unwrap_or(&store_name)
        );
        graph
            .borrow_mut()
            .repartition_topics
            .push(RepartitionTopic {
                name: topic.clone(),
                partitions: None,
            });
        let changes: Arc<dyn Serde<Change<V>>> =
            Arc::new(ChangeSerde(Arc::clone(&self.grouped.value_serde)));
        self.selected.add_sink(
            sink,
            TopicRef::internal(topic.clone()),
            Arc::clone(&self.grouped.key_serde),
            Arc::clone(&changes),
        );
        let input: KStream<K, Change<V>> = add_source(
            &graph,
            source,
            vec![TopicRef::internal(topic)],
            Arc::clone(&self.grouped.key_serde),
            changes,
        );
        let (keys, aggregates) = store_serdes(
            &graph,
            &name,
            &store_name,
            &materialized,
            &self.grouped.key_serde,
            default_value_serde,
        );
        graph
            .borrow_mut()
            .add_store(materialized.timestamped_store(&store_name));
        let table = TableStore::new(
            Arc::from(store_name.as_str()),
            Arc::clone(&keys),
            Arc::clone(&aggregates),
        );
        let stream =
            input.add_processor::<K, Change<VA>, _, _>(name, vec![store_name.clone()], move || {
                TableAggregateProcessor {
                    aggregates: table.clone(),
                    start: Arc::clone(&start),
                    add: Arc::clone(&add),
                    subtract: Arc::clone(&subtract),
                }
            });
        KTable::new(
            stream,
            keys,
            Some(aggregates),
            materialized.name.map(|_| store_name.clone()),
        )
        .with_value_store(store_name)
    }
}

/// Maps each row update to the group it leaves and the group it joins, like Kafka's
/// `KTableRepartitionMap`: when both are the same group, one record with the old and the new
/// value; otherwise the old value for its old group, then the new value for its new group.
struct TableRepartitionMap<F, K2> {
    selector: Arc<F>,
    keys: Arc<dyn Serde<K2>>,
}

impl<K, V, K2, V2, F> Processor<K, Change<V>, K2, Change<V2>> for TableRepartitionMap<F, K2>
where
    K: Data,
    V: Data,
    K2: Data + PartialEq,
    V2: Data,
    F: Fn(&K, &V) -> (K2, V2) + Send + Sync + 'static,
{
    fn process(
        &mut self,
        record: Record<K, Change<V>>,
        ctx: &mut ProcessorContext<'_, K2, Change<V2>>,
    ) -> Result<()> {
        // Out-of-order updates of a versioned table are history, not news (KIP-914).
        if !record.value.is_latest {
            tracing::info!("skipping out-of-order record from versioned table while performing table aggregation");
            return Ok(());
        }
        let Record {
            key,
            value,
            timestamp,
            headers,
        } = record;
        // Kafka maps the new value first, then the old one.
        let new = value
            .new
            .as_ref()
            .map(|new| (self.selector)(&key, new))
            .filter(|(group, _)| !self.keys.is_null(group));
        let old = value
            .old
            .as_ref()
            .map(|old| (self.selector)(&key, old))
            .filter(|(group, _)| !self.keys.is_null(group));
        match (old, new) {
            // Same group: one update, so the aggregate never shows the row subtracted alone.
            (Some((old_group, old)), Some((new_group, new))) if old_group == new_group => ctx
                .forward(Record {
                    key: new_group,
                    value: Change::new(Some(new), Some(old)),
                    timestamp,
                    headers,
                }),
            (old, new) => {
                if let Some((group, old)) = old {
                    ctx.forward(Record {
                        key: group,
                        value: Change::new(None, Some(old)),
                        timestamp,
                        headers: headers.clone(),
                    })?;
                }
                if let Some((group, new)) = new {
                    ctx.forward(Record {
                        key: group,
                        value: Change::new(Some(new), None),
                        timestamp,
                        headers,
                    })?;
                }
                Ok(())
            }
        }
    }
}

/// Applies subtractor then adder per group, like Kafka's `KTableAggregate` and `KTableReduce`;
/// with a record cache, forwards what the cache flushes rather than every update.
struct TableAggregateProcessor<K, V, VA> {
    aggregates: TableStore<K, VA>,
    start: Start<K, V, VA>,
    add: Fold<K, V, VA>,
    subtract: Fold<K, V, VA>,
}

impl<K: Data, V: Data, VA: Data> Processor<K, Change<V>, K, Change<VA>>
    for TableAggregateProcessor<K, V, VA>
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, Change<VA>>) -> Result<()> {
        self.aggregates.connect(ctx)
    }

    fn flush(&mut self, ctx: &mut ProcessorContext<'_, K, Change<VA>>) -> Result<()> {
        self.aggregates.flush(ctx)
    }

    fn process(
        &mut self,
        record: Record<K, Change<V>>,
        ctx: &mut ProcessorContext<'_, K, Change<VA>>,
    ) -> Result<()> {
        let (start, add, subtract) = (&self.start, &self.add, &self.subtract);
        self.aggregates
            .update_and_forward(record, ctx, |store, key, record| {
                let previous = store.get_raw(key)?;
                let timestamp = previous
                    .as_ref()
                    .map_or(record.timestamp, |(_, ts)| (*ts).max(record.timestamp));
                let old_aggregate = previous.map(|(aggregate, _)| aggregate);
                let intermediate = match (&record.value.old, &old_aggregate) {
                    (Some(old), Some(aggregate)) => {
                        Some(subtract(&record.key, old, aggregate.clone()))
                    }
                    _ => old_aggregate.clone(),
                };
                let new_aggregate = match (&record.value.new, intermediate) {
                    (Some(new), Some(aggregate)) => Some(add(&record.key, new, aggregate)),
                    (Some(new), None) => Some(start(&record.key, new)),
                    (None, intermediate) => intermediate,
                };
                Ok(Record {
                    key: record.key,
                    value: Change::new(new_aggregate, old_aggregate),
                    timestamp,
                    headers: record.headers,
                })
            })
    }
}

/// A table update on the wire between re-keying and aggregating: a flag byte (bit 0: new value
/// present, bit 1: old value present), the new value's length (4 bytes, big-endian) and bytes,
/// then the old value's bytes.
struct ChangeSerde<V>(Arc<dyn Serde<V>>);

impl<V: 'static> Serde<Change<V>> for ChangeSerde<V> {
    fn serialize(
        &self,
        topic: &str,
        data: &Change<V>,
    ) -> std::result::Result<Option<Vec<u8>>, SerdeError> {
        let new = match &data.new {
            Some(v) => self.0.serialize(topic, v)?,
            None => None,
        };
        let old = match &data.old {
            Some(v) => self.0.serialize(topic, v)?,
            None => None,
        };
        let flags = u8::from(new.is_some()) | (u8::from(old.is_some()) << 1);
        let new = new.unwrap_or_default();
        let new_len = u32::try_from(new.len())
            .map_err(|_| SerdeError::new("a table value longer than 4 GiB"))?;
        let old = old.unwrap_or_default();
        let mut out = Vec::with_capacity(5 + new.len() + old.len());
        out.push(flags);
        out.extend_from_slice(&new_len.to_be_bytes());
        out.extend_from_slice(&new);
        out.extend_from_slice(&old);
        Ok(Some(out))
    }

    fn deserialize(
        &self,
        topic: &str,
        data: Option<&[u8]>,
    ) -> std::result::Result<Change<V>, SerdeError> {
        let data = data.ok_or_else(|| SerdeError::new("a table update cannot be null"))?;
        let (&flags, rest) = data
            .split_first()
            .ok_or_else(|| SerdeError::new("an empty table update"))?;
        let (len, rest) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| SerdeError::new("a table update without its length"))?;
        let len = u32::from_be_bytes(*len) as usize;
        if rest.len() < len || flags > 3 {
            return Err(SerdeError::new(format!(
                "a corrupt table update ({} bytes, flags {flags})",
                data.len()
            )));
        }
        let (new, old) = rest.split_at(len);
        let new = if flags & 1 != 0 {
            Some(self.0.deserialize(topic, Some(new))?)
        } else {
            None
        };
        let old = if flags & 2 != 0 {
            Some(self.0.deserialize(topic, Some(old))?)
        } else {
            None
        };
        Ok(Change::new(new, old))
    }
}
