//! Joins, split as Kafka Streams splits them: [`stream_table`] (`KStreamKTableJoin`),
//! [`table_table`] (`KTableKTableJoin`) and [`stream_stream`] (`KStreamKStreamJoin`); the
//! foreign-key table join lives in [`fk_join`](super::fk_join). What they share stays here.

mod grace_buffer;
mod stream_stream;
mod stream_table;
mod table_table;

pub use stream_stream::StreamJoined;
pub use stream_table::Joined;

use crate::dsl::change::Change;
use crate::error::Result;
use crate::processor::{Data, Processor, ProcessorContext};
use crate::record::Record;

/// Never runs: stands in for the processor of a join the topology rejects at `build()`.
pub(super) struct Unreachable;

impl<K: Data, V: Data, VR: Data> Processor<K, Change<V>, K, Change<VR>> for Unreachable {
    fn process(
        &mut self,
        _: Record<K, Change<V>>,
        _: &mut ProcessorContext<'_, K, Change<VR>>,
    ) -> Result<()> {
        Ok(())
    }
}

/// Never runs: stands in for the processor of a stream-table join the topology rejects at
/// `build()`.
pub(super) struct UnreachableStreamJoin;

impl<K: Data, V: Data, VR: Data> Processor<K, V, K, VR> for UnreachableStreamJoin {
    fn process(&mut self, _: Record<K, V>, _: &mut ProcessorContext<'_, K, VR>) -> Result<()> {
        Ok(())
    }
}
