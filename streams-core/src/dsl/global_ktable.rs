//! `GlobalKTable<K, V>` and the stream-global-table joins, like Kafka Streams' `GlobalKTable`
//! and `KStream#join / leftJoin(GlobalKTable, KeyValueMapper, ValueJoiner)`.
//!
//! A global table is fully replicated: every application instance holds every partition of its
//! topic in one global store, shared by all the instance's tasks. So a stream can join it on any
//! key computed from its records — `key_mapper(key, value)` gives the table key to look up —
//! without co-partitioning and without a repartition topic. As in the stream-table join, only
//! the stream side triggers output (with the stream record's key and timestamp); updates of the
//! table only change what later stream records find. The table is not synchronized with stream
//! time: a lookup sees whatever the global store holds at that moment.

use std::marker::PhantomData;
use std::sync::Arc;

use super::cached::ConnectedTable;
use super::kstream::KStream;
use crate::error::Result;
use crate::processor::{Data, Processor, ProcessorContext};
use crate::record::Record;
use crate::serde::Serde;

const JOIN_NAME: &str = "KSTREAM-JOIN-";
const LEFT_JOIN_NAME: &str = "KSTREAM-LEFTJOIN-";

/// A table fully replicated to every application instance (Kafka's `GlobalKTable`), made by
/// [`StreamsBuilder::global_table`](super::StreamsBuilder::global_table) and joined with
/// [`KStream::join_global_table`] / [`KStream::left_join_global_table`].
pub struct GlobalKTable<K, V> {
    store_name: Arc<str>,
    key_serde: Arc<dyn Serde<K>>,
    value_serde: Arc<dyn Serde<V>>,
    /// Whether the store was named with `Materialized::as_` (then it is queryable by name).
    queryable: bool,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> Clone for GlobalKTable<K, V> {
    fn clone(&self) -> Self {
        GlobalKTable {
            store_name: Arc::clone(&self.store_name),
            key_serde: Arc::clone(&self.key_serde),
            value_serde: Arc::clone(&self.value_serde),
            queryable: self.queryable,
            _types: PhantomData,
        }
    }
}

impl<K: Data, V: Data> GlobalKTable<K, V> {
    pub(crate) fn new(
        store_name: String,
        key_serde: Arc<dyn Serde<K>>,
        value_serde: Arc<dyn Serde<V>>,
        queryable: bool,
    ) -> Self {
        GlobalKTable {
            store_name: Arc::from(store_name),
            key_serde,
            value_serde,
            queryable,
            _types: PhantomData,
        }
    }

    /// The name of the global store, if it was named with `Materialized::as_` (Kafka's
    /// `queryableStoreName`): `KafkaStreams::local_store` and the test driver's store getters
    /// read it under that name.
    pub fn queryable_store_name(&self) -> Option<&str> {
        self.queryable.then_some(&*self.store_name)
    }
}

/// Combines a stream value with the global table's value (`None` when a left join finds none),
/// or `None` when the join emits nothing.
type GlobalJoiner<V, VT, VR> = Arc<dyn Fn(&V, Option<&VT>) -> Option<VR> + Send + Sync>;

/// Computes the table key a stream record looks up; `None` is Kafka's null key.
type KeyMapper<K, V, KT> = Arc<dyn Fn(&K, &V) -> Option<KT> + Send + Sync>;

impl<K: Data, V: Data> KStream<K, V> {
    /// Inner stream-global-table join (Kafka's `KStream#join(GlobalKTable, KeyValueMapper,
    /// ValueJoiner)`): each record looks up `key_mapper(key, value)` in `table` and, if the
    /// table holds that key, is emitted as `joiner(value, table_value)` with its own key and
    /// timestamp. A record whose mapped key is null (`None`) or absent from the table produces
    /// nothing. The mapper may return the key itself or an `Option` of it; a stream of `Option`
    /// values maps its `None`s (Kafka's null values, which Kafka drops here) to `None`. No
    /// co-partitioning is needed and no repartition topic is made, whatever the stream's key.
    pub fn join_global_table<KT, VT, VR, R, M, F>(
        &self,
        table: &GlobalKTable<KT, VT>,
        key_mapper: M,
        joiner: F,
    ) -> KStream<K, VR>
    where
        KT: Data,
        VT: Data,
        VR: Data,
        R: Into<Option<KT>>,
        M: Fn(&K, &V) -> R + Send + Sync + 'static,
        F: Fn(&V, &VT) -> VR + Send + Sync + 'static,
    {
        let joiner: GlobalJoiner<V, VT, VR> = Arc::new(move |v, t| t.map(|t| joiner(v, t)));
        self.global_table_join(
            table,
            Arc::new(move |k, v| key_mapper(k, v).into()),
            joiner,
            false,
        )
    }

    /// Left stream-global-table join (Kafka's `KStream#leftJoin(GlobalKTable, KeyValueMapper,
    /// ValueJoiner)`): every record is emitted as `joiner(value, table_value)`, with `None` when
    /// the table holds no value for `key_mapper(key, value)` — also when the mapped key is null
    /// (`None`), which is not dropped. The output keeps the stream record's key and timestamp.
    /// A record with a null key is kept (KIP-962, Kafka ≥ 3.7), and a repartition before the
    /// join lets it through. (Kafka drops a record whose mapped key is null but whose own key
    /// is not; the join has no serde of the stream's keys to tell them apart, so Rill keeps it.)
    pub fn left_join_global_table<KT, VT, VR, R, M, F>(
        &self,
        table: &GlobalKTable<KT, VT>,
        key_mapper: M,
        joiner: F,
    ) -> KStream<K, VR>
    where
        KT: Data,
        VT: Data,
        VR: Data,
        R: Into<Option<KT>>,
        M: Fn(&K, &V) -> R + Send + Sync + 'static,
        F: Fn(&V, Option<&VT>) -> VR + Send + Sync + 'static,
    {
        let joiner: GlobalJoiner<V, VT, VR> = Arc::new(move |v, t| Some(joiner(v, t)));
        self.global_table_join(
            table,
            Arc::new(move |k, v| key_mapper(k, v).into()),
            joiner,
            true,
        )
    }

    fn global_table_join<KT: Data, VT: Data, VR: Data>(
        &self,
        table: &GlobalKTable<KT, VT>,
        key_mapper: KeyMapper<K, V, KT>,
        joiner: GlobalJoiner<V, VT, VR>,
        left: bool,
    ) -> KStream<K, VR> {
        let name = self.node_name(if left { LEFT_JOIN_NAME } else { JOIN_NAME });
        let table = ConnectedTable::new(
            Arc::clone(&table.store_name),
            Arc::clone(&table.key_serde),
            Arc::clone(&table.value_serde),
        );
        // The global store is not connected to the join (Kafka's describe() shows `stores: []`):
        // global stores are open to every processor, and connecting it would merge this
        // sub-topology with the global one.
        let joined = self.add_processor(name, Vec::new(), move || GlobalTableJoinProcessor {
            table: table.clone(),
            key_mapper: Arc::clone(&key_mapper),
            joiner: Arc::clone(&joiner),
            left,
        });
        if left {
            // Keeps null keys (KIP-962): a repartition before it must not drop them.
            self.graph()
                .borrow_mut()
                .relaxed_null_key_joins
                .insert(joined.node);
        }
        joined
    }
}

/// Looks each stream record's mapped key up in the global store (Kafka's
/// `KStreamKTableJoinProcessor` with a `KStreamGlobalKTableJoin` value getter).
struct GlobalTableJoinProcessor<K, V, KT, VT, VR> {
    /// The global store, read by name: every processor may.
    table: ConnectedTable<KT, VT>,
    key_mapper: KeyMapper<K, V, KT>,
    joiner: GlobalJoiner<V, VT, VR>,
    left: bool,
}

impl<K: Data, V: Data, KT: Data, VT: Data, VR: Data> Processor<K, V, K, VR>
    for GlobalTableJoinProcessor<K, V, KT, VT, VR>
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, VR>) -> Result<()> {
        self.table.connect(ctx).map(drop)
    }

    fn process(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, K, VR>,
    ) -> Result<()> {
        let mapped = (self.key_mapper)(&record.key, &record.value);
        let found = match &mapped {
            Some(key) if !self.table.keys.is_null(key) => self.table.store()?.get(key)?,
            _ => {
                if !self.left {
                    let meta = ctx.record_metadata();
                    tracing::warn!(
                        processor = ctx.node_name(),
                        topic = meta.map(|m| &*m.topic),
                        partition = meta.map(|m| m.partition),
                        offset = meta.map(|m| m.offset),
                        "skipping record due to null join key"
                    );
                    return Ok(());
                }
                None
            }
        };
        let Some(value) = (self.joiner)(&record.value, found.as_ref().map(|(v, _)| v)) else {
            return Ok(());
        };
        ctx.forward(Record {
            key: record.key,
            value,
            timestamp: record.timestamp,
            headers: record.headers,
        })
    }
}
