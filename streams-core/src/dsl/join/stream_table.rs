//! Stream-table joins, like Kafka Streams' `KStream#join(KTable)` and `KStream#leftJoin(KTable)`
//! (`KStreamKTableJoin`, `KStreamKTableJoinProcessor`): each stream record looks its key up in
//! the table's store and, if the join applies, emits the joiner's result with the stream record's
//! timestamp. Only the stream side triggers output; table updates only change what later stream
//! records find. The stream and the table must be co-partitioned, so a stream whose key an
//! upstream operator may have changed goes through a repartition topic first (written with
//! [`Joined`]'s serdes).

use std::sync::Arc;

use crate::dsl::kgrouped::skip_null;
use crate::dsl::kstream::{named_or_generated, KStream};
use crate::dsl::ktable::KTable;
use crate::dsl::view::ValueGetter;
use crate::error::Result;
use crate::processor::{Data, Processor, ProcessorContext};
use crate::record::Record;
use crate::serde::{DefaultSerde, Serde};

const JOIN_NAME: &str = "KSTREAM-JOIN-";
const LEFT_JOIN_NAME: &str = "KSTREAM-LEFTJOIN-";

/// The serdes of a join's stream side, used for its repartition topic if one is needed, and
/// an optional name for that topic (Kafka's `Joined`).
pub struct Joined<K, V> {
    key_serde: Arc<dyn Serde<K>>,
    value_serde: Arc<dyn Serde<V>>,
    name: Option<String>,
}

impl<K, V> Joined<K, V> {
    /// The stream side's key and value serdes.
    pub fn with(key_serde: impl Serde<K>, value_serde: impl Serde<V>) -> Self {
        Joined {
            key_serde: Arc::new(key_serde),
            value_serde: Arc::new(value_serde),
            name: None,
        }
    }

    /// Names the join's processor `<name>` and, if the stream must be repartitioned first, its
    /// repartition topic `<application.id>-<name>-repartition` (Kafka's `Joined.as`).
    ///
    /// ```
    /// use streams_core::prelude::*;
    /// let builder = StreamsBuilder::new();
    /// let regions = builder.table(
    ///     "regions",
    ///     Consumed::with(Serdes::string(), Serdes::string()),
    ///     Materialized::new(),
    /// );
    /// builder
    ///     .stream("clicks", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .select_key(|_, user: &String| user.clone())
    ///     .join(
    ///         &regions,
    ///         |user: &String, region: &String| format!("{user}@{region}"),
    ///         Joined::with(Serdes::string(), Serdes::string()).with_name("clicks-by-user"),
    ///     )
    ///     .to("out", Produced::with(Serdes::string(), Serdes::string()));
    /// let topology = builder.build().unwrap();
    /// assert_eq!(topology.repartition_topics()[0].name, "clicks-by-user-repartition");
    /// assert!(topology.describe().to_string().contains("Processor: clicks-by-user (stores: ["));
    /// ```
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

impl<K: DefaultSerde, V: DefaultSerde> Default for Joined<K, V> {
    /// The default serdes of `K` and `V`.
    fn default() -> Self {
        Joined {
            key_serde: K::default_serde(),
            value_serde: V::default_serde(),
            name: None,
        }
    }
}

/// Combines a stream value with the table's value for its key (`None` when a left join finds
/// none).
type Joiner<V, VT, VR> = Arc<dyn Fn(&V, Option<&VT>) -> VR + Send + Sync>;

impl<K: Data, V: Data> KStream<K, V> {
    /// Inner stream-table join (Kafka's `KStream#join(KTable, ValueJoiner, Joined)`): a record
    /// whose key is in `table` is emitted as `joiner(value, table_value)`; records with a null
    /// key or value, or a key the table does not hold, produce nothing. Any table can be
    /// joined: one with a store (named or not — a source table, an aggregation) is read from
    /// it; one derived without a store (`filter`, `map_values`, a table join) is read through
    /// the stores it derives from, as Kafka's value getters read it.
    pub fn join<VT, VR, F>(
        &self,
        table: &KTable<K, VT>,
        joiner: F,
        joined: Joined<K, V>,
    ) -> KStream<K, VR>
    where
        VT: Data,
        VR: Data,
        F: Fn(&V, &VT) -> VR + Send + Sync + 'static,
    {
        let joiner: Joiner<V, VT, Option<VR>> = Arc::new(move |v, t| t.map(|t| joiner(v, t)));
        self.stream_table_join(table, joiner, joined, false)
    }

    /// Left stream-table join (Kafka's `KStream#leftJoin(KTable, ValueJoiner, Joined)`): every
    /// record is emitted as `joiner(value, table_value)`, with `None` when the table holds no
    /// value for its key — also for a null key, which is not dropped (as in Kafka ≥ 3.7).
    pub fn left_join<VT, VR, F>(
        &self,
        table: &KTable<K, VT>,
        joiner: F,
        joined: Joined<K, V>,
    ) -> KStream<K, VR>
    where
        VT: Data,
        VR: Data,
        F: Fn(&V, Option<&VT>) -> VR + Send + Sync + 'static,
    {
        let joiner: Joiner<V, VT, Option<VR>> = Arc::new(move |v, t| Some(joiner(v, t)));
        self.stream_table_join(table, joiner, joined, true)
    }

    fn stream_table_join<VT: Data, VR: Data>(
        &self,
        table: &KTable<K, VT>,
        joiner: Joiner<V, VT, Option<VR>>,
        joined: Joined<K, V>,
        left: bool,
    ) -> KStream<K, VR> {
        // Kafka's order (`KStreamImpl#join(KTable, …)`): first the repartition, through
        // `<Joined name>-repartition` or `<upstream node>-repartition`, then the join's name —
        // the `Joined` name, else `named`'s, else generated (a counter value is drawn anyway).
        let input = if self.repartition_required {
            self.repartition_for_join(
                joined.name.clone(),
                Arc::clone(&joined.key_serde),
                Arc::clone(&joined.value_serde),
            )
        } else {
            self.clone()
        };
        let name = named_or_generated(
            self.graph(),
            joined
                .name
                .clone()
                .or_else(|| self.pending_name().map(str::to_string)),
            if left { LEFT_JOIN_NAME } else { JOIN_NAME },
        );
        let Some(view) = table.view() else {
            self.graph().borrow_mut().errors.push(format!(
                "join `{name}`: the table is not materialized; give the table a store with Materialized::as_ to join it"
            ));
            return input.add_processor(name, Vec::new(), || super::UnreachableStreamJoin);
        };
        let stores = view.stores().to_vec();
        let (keys, values) = (joined.key_serde, joined.value_serde);
        input
            .add_processor(name, stores, move || StreamTableJoinProcessor {
                table: view.getter(),
                keys: Arc::clone(&keys),
                values: Arc::clone(&values),
                joiner: Arc::clone(&joiner),
                left,
            })
            .requiring_repartition(false)
    }
}

/// Looks each stream record up in the table's store (Kafka's `KStreamKTableJoinProcessor`).
struct StreamTableJoinProcessor<K, V, VT, VR> {
    /// Reads the table (Kafka's `KTableValueGetter`).
    table: Box<dyn ValueGetter<K, VT>>,
    keys: Arc<dyn Serde<K>>,
    values: Arc<dyn Serde<V>>,
    joiner: Joiner<V, VT, Option<VR>>,
    left: bool,
}

impl<K: Data, V: Data, VT: Data, VR: Data> Processor<K, V, K, VR>
    for StreamTableJoinProcessor<K, V, VT, VR>
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, VR>) -> Result<()> {
        self.table.connect(&|name| ctx.store_handle(name))
    }

    fn process(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, K, VR>,
    ) -> Result<()> {
        if !self.left && skip_null(&*self.keys, &*self.values, &record, ctx) {
            return Ok(());
        }
        let null_key = self.keys.is_null(&record.key);
        let found = if null_key {
            None
        } else if self.table.is_versioned() {
            // A versioned table answers as of the stream record's time (KIP-914).
            self.table.get_as_of(&record.key, record.timestamp)?
        } else {
            self.table.get(&record.key)?
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
