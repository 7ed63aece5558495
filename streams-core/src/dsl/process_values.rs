//! `KStream::process_values`: a custom processor that may change values but not keys, like
//! Kafka Streams' `KStream#processValues` with a `FixedKeyProcessorSupplier`
//! (`KStreamImpl#processValues`, node `KSTREAM-PROCESSVALUES-…`).
//!
//! Since the processor cannot rekey (see [`FixedKeyRecord`](crate::processor::FixedKeyRecord)),
//! the stream keeps its partitioning: a `group_by_key` after it needs no repartition topic
//! unless one was needed before.

use super::kstream::KStream;
use crate::processor::node::Flushing;
use crate::processor::{Data, FixedKeyAdapter, FixedKeyProcessor};

const PROCESSVALUES_NAME: &str = "KSTREAM-PROCESSVALUES-";

impl<K: Data, V: Data> KStream<K, V> {
    /// Runs a custom [`FixedKeyProcessor`] on each record (Kafka's `processValues`); `supplier`
    /// makes one processor per task. Name the node with [`named`](Self::named).
    ///
    /// ```
    /// use streams_core::prelude::*;
    /// use streams_core::processor::{FixedKeyProcessor, FixedKeyProcessorContext, FixedKeyRecord};
    ///
    /// /// Upper-cases values: the processor keeps the key, so no repartition follows.
    /// struct Upper;
    /// impl FixedKeyProcessor<String, String, String> for Upper {
    ///     fn process(
    ///         &mut self,
    ///         record: FixedKeyRecord<String, String>,
    ///         ctx: &mut FixedKeyProcessorContext<'_, '_, String, String>,
    ///     ) -> streams_core::Result<()> {
    ///         let upper = record.value().to_uppercase();
    ///         ctx.forward(record.with_value(upper))
    ///     }
    /// }
    ///
    /// let builder = StreamsBuilder::new();
    /// builder
    ///     .stream("in", Consumed::with(Serdes::string(), Serdes::string()))
    ///     .process_values(|| Upper)
    ///     .to("out", Produced::with(Serdes::string(), Serdes::string()));
    /// let driver = TopologyTestDriver::new(builder.build()?)?;
    /// let input = driver.create_input_topic("in", Serdes::string(), Serdes::string());
    /// let output = driver.create_output_topic("out", Serdes::string(), Serdes::string());
    /// input.pipe_input("k", "rill");
    /// assert_eq!(output.read_key_value(), ("k".to_string(), "RILL".to_string()));
    /// # Ok::<(), streams_core::Error>(())
    /// ```
    pub fn process_values<V2, P, S>(&self, supplier: S) -> KStream<K, V2>
    where
        V2: Data,
        P: FixedKeyProcessor<K, V, V2>,
        S: Fn() -> P + Send + Sync + 'static,
    {
        self.process_values_with_stores(supplier, &[])
    }

    /// Like [`process_values`](Self::process_values), with access to the state stores `stores`,
    /// added with `StreamsBuilder::add_state_store` (Kafka's `processValues(supplier, stores…)`).
    pub fn process_values_with_stores<V2, P, S>(
        &self,
        supplier: S,
        stores: &[&str],
    ) -> KStream<K, V2>
    where
        V2: Data,
        P: FixedKeyProcessor<K, V, V2>,
        S: Fn() -> P + Send + Sync + 'static,
    {
        let stores = stores.iter().map(|s| s.to_string()).collect();
        let name = self.processor_node_name(PROCESSVALUES_NAME);
        // Keys are unchanged, so the stream's repartition flag is inherited as it is (Kafka
        // passes `repartitionRequired` through for processValues, and sets it for process).
        self.add_processor_node(
            name,
            stores,
            move || FixedKeyAdapter(supplier()),
            Flushing::Always,
        )
    }
}
