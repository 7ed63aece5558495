//! `KStream::to_table`: a stream read as a table — each record upserts its key — like Kafka
//! Streams' `KStream#toTable` (`KStreamImpl#toTable`, `StreamToTableNode`, node
//! `KSTREAM-TOTABLE-…`).
//!
//! As in Kafka, the table is materialized only when `Materialized` names its store: then the
//! node keeps the latest value per key (through the store's record cache, if enabled) and the
//! table can be queried and joined. Unnamed, the node forwards each record as an update without
//! a store (Kafka still draws the store name, so generated names stay aligned). If an upstream
//! operator changed keys, the stream is first repartitioned through
//! `<application.id>-<node name>-repartition`, as Kafka does.
//!
//! A Rill stream's values are never null, so a record never deletes a key here; a stream of
//! `Option<V>` becomes a table of `Option<V>` values. Materialized in a versioned store
//! (`Materialized::as_versioned`), the table is versioned, as a source table would be.

use std::rc::Rc;
use std::sync::Arc;

use super::cached::TableStore;
use super::change::Change;
use super::kgrouped::MissingSerde;
use super::kstream::{processor_factory, KStream};
use super::ktable::{DemandHook, KTable, TableSource};
use super::options::Materialized;
use super::versioned_table::VersionedTableSource;
use crate::error::Result;
use crate::processor::node::Flushing;
use crate::processor::{Data, Processor, ProcessorContext};
use crate::record::Record;
use crate::serde::{DefaultSerde, Serde};

const TOTABLE_NAME: &str = "KSTREAM-TOTABLE-";

impl<K: Data, V: Data> KStream<K, V> {
    /// The stream as a table of the latest value per key, with the default serdes of `K` and
    /// `V` (Kafka's `toTable()`); not materialized. Name the node with
    /// [`named`](Self::named) (Kafka's `toTable(Named)`).
    ///
    /// ```
    /// use streams_core::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("input", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .to_table()
    ///     .to_stream()
    ///     .to("output", Produced::with(Serdes::string(), Serdes::option(Serdes::string())));
    /// let topology = builder.build()?;
    /// assert!(topology.describe().to_string().contains("Processor: KSTREAM-TOTABLE-0000000001 (stores: [])"));
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn to_table(&self) -> KTable<K, V>
    where
        K: DefaultSerde,
        V: DefaultSerde,
    {
        self.to_table_with(Materialized {
            key_serde: Some(K::default_serde()),
            value_serde: Some(V::default_serde()),
            ..Materialized::default()
        })
    }

    /// The stream as a table materialized as `materialized` says (Kafka's
    /// `toTable(Materialized)` and, after [`named`](Self::named), `toTable(Named,
    /// Materialized)`): named with `Materialized::as_`, the table is kept in that store and can
    /// be queried and joined. Its serdes are needed for the store and for a repartition (after a
    /// key change); missing ones are a build error then.
    ///
    /// ```
    /// use streams_core::prelude::*;
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("input", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .to_table_with(
    ///         Materialized::as_("store")
    ///             .with_key_serde(Serdes::string())
    ///             .with_value_serde(Serdes::string()),
    ///     );
    /// let driver = TopologyTestDriver::new(builder.build()?)?;
    /// let input = driver.create_input_topic("input", Serdes::string(), Serdes::string());
    /// input.pipe_input("A", "01");
    /// input.pipe_input("B", "02");
    /// input.pipe_input("A", "03");
    /// let store = driver.get_timestamped_key_value_store("store", Serdes::string(), Serdes::string())?;
    /// assert_eq!(store.get(&"A".to_string())?.map(|(v, _)| v), Some("03".to_string()));
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn to_table_with(&self, materialized: Materialized<K, V>) -> KTable<K, V> {
        let name = self.node_name(TOTABLE_NAME);
        // Kafka's MaterializedInternal draws a store name even when the table stays
        // unmaterialized; drawing it keeps the following generated names aligned.
        let store_name = match &materialized.name {
            Some(store) => store.clone(),
            None => self.graph().borrow_mut().next_store_name(TOTABLE_NAME),
        };
        let keys = materialized.key_serde.clone();
        let values = materialized.value_serde.clone();
        let input = if self.repartition_required {
            match (&keys, &values) {
                (Some(k), Some(v)) => {
                    self.repartition_through(Some(name.clone()), Arc::clone(k), Arc::clone(v), None)
                }
                _ => {
                    self.graph().borrow_mut().errors.push(format!(
                        "`{name}`: to_table after a key change repartitions, which needs key and value serdes; use Materialized::with"
                    ));
                    self.clone()
                }
            }
        } else {
            self.clone()
        };
        let serdes_known = keys.is_some() && values.is_some();
        let key_serde = keys.unwrap_or_else(|| Arc::new(MissingSerde) as Arc<dyn Serde<K>>);
        if materialized.name.is_none() {
            let table =
                input.add_processor::<K, Change<V>, _, _>(name, Vec::new(), || StreamToTable);
            let node = table.node;
            let table = KTable::new(table, key_serde, values, None);
            let Some(values) = table.value_serde().filter(|_| serdes_known) else {
                return table;
            };
            // Like a source table, the table gets its store only when an operator needs it
            // (Kafka's `StreamToTableNode` with `KTableSource#materialize`).
            let builder = materialized.timestamped_store(&store_name);
            let (store, k, v) = (
                Arc::<str>::from(store_name.as_str()),
                table.key_serde(),
                Arc::clone(&values),
            );
            let stored = processor_factory::<K, V, K, Change<V>, _, _>(
                move || {
                    MaterializedStreamToTable(TableSource(TableStore::new(
                        Arc::clone(&store),
                        Arc::clone(&k),
                        Arc::clone(&v),
                    )))
                },
                Flushing::IfItOwnsACache,
            );
            let name = store_name.clone();
            let materialize: DemandHook = Rc::new(move |graph, _| {
                if graph.has_store(&name) {
                    return;
                }
                graph.add_store(builder.clone());
                graph.connect_store(node, &name);
                graph.set_factory(node, Arc::clone(&stored));
            });
            return table
                .with_value_store(store_name)
                .with_upstream(vec![materialize], true);
        }
        let Some(values) = values else {
            self.graph().borrow_mut().errors.push(format!(
                "`{name}`: a materialized table needs its value serde; use Materialized::with_value_serde"
            ));
            let table =
                input.add_processor::<K, Change<V>, _, _>(name, Vec::new(), || StreamToTable);
            return KTable::new(table, key_serde, None, None);
        };
        // A versioned store (`Materialized::as_versioned`) makes a versioned table, as a source
        // table's.
        let history = materialized
            .versioned
            .as_ref()
            .map(|supplier| supplier.history_retention_ms());
        let builder = materialized
            .versioned_store()
            .unwrap_or_else(|| materialized.timestamped_store(&store_name));
        self.graph().borrow_mut().add_store(builder);
        let store = Arc::<str>::from(store_name.as_str());
        let (k, v) = (Arc::clone(&key_serde), Arc::clone(&values));
        let stores = vec![store_name.clone()];
        let table = if history.is_some() {
            input.add_processor(name, stores, move || {
                MaterializedStreamToTable(VersionedTableSource::new(
                    Arc::clone(&store),
                    Arc::clone(&k),
                    Arc::clone(&v),
                ))
            })
        } else {
            input.add_processor(name, stores, move || {
                MaterializedStreamToTable(TableSource(TableStore::new(
                    Arc::clone(&store),
                    Arc::clone(&k),
                    Arc::clone(&v),
                )))
            })
        };
        KTable::new(table, key_serde, Some(values), Some(store_name)).with_versioned(history)
    }
}

/// An unmaterialized `to_table`: every record is an update with no known old value, as Kafka's
/// `KTableSource` forwards without a store.
struct StreamToTable;

impl<K: Data, V: Data> Processor<K, V, K, Change<V>> for StreamToTable {
    fn process(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, K, Change<V>>,
    ) -> Result<()> {
        let value = Change::new(Some(record.value), None);
        ctx.forward(Record {
            key: record.key,
            value,
            timestamp: record.timestamp,
            headers: record.headers,
        })
    }
}

/// A materialized `to_table`: the table source's processor (`P`, a plain or a versioned table's),
/// fed values that are never null.
struct MaterializedStreamToTable<P>(P);

impl<K: Data, V: Data, P> Processor<K, V, K, Change<V>> for MaterializedStreamToTable<P>
where
    P: Processor<K, Option<V>, K, Change<V>>,
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, Change<V>>) -> Result<()> {
        self.0.init(ctx)
    }

    fn process(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, K, Change<V>>,
    ) -> Result<()> {
        let value = Some(record.value);
        let record = Record {
            key: record.key,
            value,
            timestamp: record.timestamp,
            headers: record.headers,
        };
        self.0.process(record, ctx)
    }

    fn flush(&mut self, ctx: &mut ProcessorContext<'_, K, Change<V>>) -> Result<()> {
        self.0.flush(ctx)
    }
}
