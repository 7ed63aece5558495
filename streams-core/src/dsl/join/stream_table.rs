//! Stream-table joins, like Kafka Streams' `KStream#join(KTable)` and `KStream#leftJoin(KTable)`
//! (`KStreamKTableJoin`, `KStreamKTableJoinProcessor`): each stream record looks its key up in
//! the table's store and, if the join applies, emits the joiner's result with the stream record's
//! timestamp. Only the stream side triggers output; table updates only change what later stream
//! records find. The stream and the table must be co-partitioned, so a stream whose key an
//! upstream operator may have changed goes through a repartition topic first (written with
//! [`Joined`]'s serdes).
//!
//! Against a versioned table (`Materialized::as_versioned`), a stream record is joined with the
//! table's version *as of* its timestamp (KIP-914). With a grace period
//! ([`Joined::with_grace_period`], KIP-923) stream records are first held in a time-ordered,
//! changelogged buffer ([`grace_buffer`](super::grace_buffer)) until stream time passes their
//! timestamp plus the grace period, so that table updates arriving late by up to that much are
//! seen too.

use std::sync::Arc;
use std::time::Duration;

use super::grace_buffer::GraceBuffer;
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
    grace: Option<Duration>,
}

impl<K, V> Joined<K, V> {
    /// The stream side's key and value serdes.
    pub fn with(key_serde: impl Serde<K>, value_serde: impl Serde<V>) -> Self {
        Joined {
            key_serde: Arc::new(key_serde),
            value_serde: Arc::new(value_serde),
            name: None,
            grace: None,
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

    /// Holds each stream record back until stream time passes its timestamp plus `grace`, then
    /// joins it with the table as of its timestamp (Kafka's `Joined#withGracePeriod`,
    /// KIP-923): a table update up to `grace` late is still seen by the stream records it
    /// concerns. Records leave the buffer in timestamp order; one already older than stream
    /// time minus `grace` is joined at once. The buffer is a store named `<join name>-Buffer`
    /// (RocksDB, changelogged), so a restart loses nothing.
    ///
    /// Only for a versioned table whose history retention is at least `grace`: anything else
    /// fails `build()` (Kafka's `IllegalArgumentException`s "KTable must be versioned to use a
    /// grace period in a stream table join." and "History retention must be at least grace
    /// period.").
    ///
    /// ```
    /// use std::time::Duration;
    /// use streams_core::prelude::*;
    /// use streams_core::state::Stores;
    ///
    /// let builder = StreamsBuilder::new();
    /// let prices = builder.table(
    ///     "prices",
    ///     Consumed::with(Serdes::string(), Serdes::i64()),
    ///     Materialized::as_versioned(Stores::persistent_versioned_key_value_store(
    ///         "prices",
    ///         Duration::from_secs(60),
    ///     )),
    /// );
    /// builder
    ///     .stream("orders", Consumed::with(Serdes::string(), Serdes::i64()))
    ///     .join(
    ///         &prices,
    ///         |qty: &i64, price: &i64| qty * price,
    ///         Joined::with(Serdes::string(), Serdes::i64())
    ///             .with_name("priced")
    ///             .with_grace_period(Duration::from_millis(10)),
    ///     )
    ///     .to("totals", Produced::with(Serdes::string(), Serdes::i64()));
    /// let driver = TopologyTestDriver::new(builder.build()?)?;
    /// let prices_in = driver.create_input_topic("prices", Serdes::string(), Serdes::i64());
    /// let orders = driver.create_input_topic("orders", Serdes::string(), Serdes::i64());
    /// let totals = driver.create_output_topic("totals", Serdes::string(), Serdes::i64());
    /// prices_in.pipe_input_with_timestamp("apple", 3, 100);
    /// orders.pipe_input_with_timestamp("apple", 2, 105); // held back until stream time 115
    /// prices_in.pipe_input_with_timestamp("apple", 4, 104); // a late price, still in time
    /// assert!(totals.is_empty());
    /// orders.pipe_input_with_timestamp("pear", 1, 115); // stream time 115: joins the first order
    /// assert_eq!(totals.read_value(), 8); // 2 x the price as of 105: 4
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn with_grace_period(mut self, grace: Duration) -> Self {
        self.grace = Some(grace);
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
            grace: None,
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
    /// value for its key — also for a null key, which is not dropped (as in Kafka ≥ 3.7). A
    /// record with a null value is dropped, as in Kafka.
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
        let mut stores = view.stores().to_vec();
        let (keys, values) = (joined.key_serde, joined.value_serde);
        let buffer = joined.grace.map(|grace| {
            let grace_ms = crate::dsl::windows::millis(grace);
            let mut graph = self.graph().borrow_mut();
            // Kafka checks both when the join is added and when the topology is built.
            match table.versioned_history_retention_ms() {
                None => graph.errors.push(format!(
                    "join `{name}`: KTable must be versioned to use a grace period in a stream table join."
                )),
                Some(history) if history < grace_ms => graph.errors.push(format!(
                    "join `{name}`: History retention must be at least grace period."
                )),
                Some(_) => {}
            }
            let store = format!("{name}-Buffer");
            graph.add_store(streams_state::KeyValueStoreBuilder::new(&store).into());
            stores.push(store.clone());
            GraceBuffer::new(
                Arc::from(store.as_str()),
                grace_ms,
                Arc::clone(&keys),
                Arc::clone(&values),
            )
        });
        let joined = input
            .add_processor(name, stores, move || StreamTableJoinProcessor {
                table: view.getter(),
                keys: Arc::clone(&keys),
                values: Arc::clone(&values),
                joiner: Arc::clone(&joiner),
                left,
                buffer: buffer.clone(),
            })
            .requiring_repartition(false);
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

/// Looks each stream record up in the table's store (Kafka's `KStreamKTableJoinProcessor`).
struct StreamTableJoinProcessor<K, V, VT, VR> {
    /// Reads the table (Kafka's `KTableValueGetter`).
    table: Box<dyn ValueGetter<K, VT>>,
    keys: Arc<dyn Serde<K>>,
    values: Arc<dyn Serde<V>>,
    joiner: Joiner<V, VT, Option<VR>>,
    left: bool,
    /// With a grace period: where stream records wait (Kafka's `TimeOrderedKeyValueBuffer`).
    buffer: Option<GraceBuffer<K, V>>,
}

impl<K: Data, V: Data, VT: Data, VR: Data> Processor<K, V, K, VR>
    for StreamTableJoinProcessor<K, V, VT, VR>
{
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, VR>) -> Result<()> {
        self.table.connect(&|name| ctx.store_handle(name))?;
        if let Some(buffer) = &mut self.buffer {
            if !self.table.is_versioned() {
                return Err(crate::Error::InvalidArgument(format!(
                    "`{}`: KTable must be versioned to use a grace period in a stream table join.",
                    ctx.node_name()
                )));
            }
            buffer.connect(ctx)?;
        }
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, K, VR>,
    ) -> Result<()> {
        // Kafka's `maybeDropRecord`: a null value is never joined; a null key only by a left
        // join.
        let kept_by_left = self.left && !self.values.is_null(&record.value);
        if !kept_by_left && skip_null(&*self.keys, &*self.values, &record, ctx) {
            return Ok(());
        }
        let Some(buffer) = &mut self.buffer else {
            return self.join(record, ctx);
        };
        let current = record.timestamp;
        if let Some(late) = buffer.put(record)? {
            // Too late for the buffer: joined at once, nothing is due.
            return self.join(late, ctx);
        }
        let due = buffer.evict()?;
        for record in due {
            // Downstream stores stamp their writes with the joined record's timestamp.
            ctx.set_record_timestamp(record.timestamp);
            self.join(record, ctx)?;
        }
        ctx.set_record_timestamp(current);
        Ok(())
    }
}

impl<K: Data, V: Data, VT: Data, VR: Data> StreamTableJoinProcessor<K, V, VT, VR> {
    /// Looks `record` up in the table and forwards the join result, if any (Kafka's `doJoin`).
    fn join(&mut self, record: Record<K, V>, ctx: &mut ProcessorContext<'_, K, VR>) -> Result<()> {
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
