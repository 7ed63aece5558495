//! The processors behind the stateless DSL operators, like Kafka's `KStreamMap`, `KStreamFilter`
//! and friends. Each holds the user's closure behind an `Arc`, shared by all task instances, and
//! is monomorphized for it: calling the closure is a direct call.

use std::sync::Arc;

use crate::error::Result;
use crate::processor::{Data, Processor, ProcessorContext};
use crate::record::Record;

/// `KStream::map`: a new key and value for each record.
pub(crate) struct MapProcessor<F>(pub(crate) Arc<F>);

impl<K, V, K2, V2, F> Processor<K, V, K2, V2> for MapProcessor<F>
where
    K: 'static,
    V: 'static,
    K2: Data,
    V2: Data,
    F: Fn(&K, &V) -> (K2, V2) + Send + Sync + 'static,
{
    #[inline]
    fn process(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, K2, V2>,
    ) -> Result<()> {
        let (key, value) = (self.0)(&record.key, &record.value);
        ctx.forward(record.with_key_value(key, value))
    }
}

/// `KStream::map_values`: a new value for each record, same key.
pub(crate) struct MapValuesProcessor<F>(pub(crate) Arc<F>);

impl<K, V, V2, F> Processor<K, V, K, V2> for MapValuesProcessor<F>
where
    K: Data,
    V: 'static,
    V2: Data,
    F: Fn(&V) -> V2 + Send + Sync + 'static,
{
    #[inline]
    fn process(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, K, V2>,
    ) -> Result<()> {
        let value = (self.0)(&record.value);
        ctx.forward(record.with_value(value))
    }
}

/// `KStream::select_key`: a new key for each record, same value.
pub(crate) struct SelectKeyProcessor<F>(pub(crate) Arc<F>);

impl<K, V, K2, F> Processor<K, V, K2, V> for SelectKeyProcessor<F>
where
    K: 'static,
    V: Data,
    K2: Data,
    F: Fn(&K, &V) -> K2 + Send + Sync + 'static,
{
    #[inline]
    fn process(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, K2, V>,
    ) -> Result<()> {
        let key = (self.0)(&record.key, &record.value);
        ctx.forward(record.with_key(key))
    }
}

/// `KStream::flat_map`: zero or more records for each record, with the input's timestamp and
/// headers.
pub(crate) struct FlatMapProcessor<F>(pub(crate) Arc<F>);

impl<K, V, K2, V2, I, F> Processor<K, V, K2, V2> for FlatMapProcessor<F>
where
    K: 'static,
    V: 'static,
    K2: Data,
    V2: Data,
    I: IntoIterator<Item = (K2, V2)>,
    F: Fn(&K, &V) -> I + Send + Sync + 'static,
{
    fn process(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, K2, V2>,
    ) -> Result<()> {
        for (key, value) in (self.0)(&record.key, &record.value) {
            ctx.forward(Record {
                key,
                value,
                timestamp: record.timestamp,
                headers: record.headers.clone(),
            })?;
        }
        Ok(())
    }
}

/// `KStream::flat_map_values`: zero or more values for each record, same key.
pub(crate) struct FlatMapValuesProcessor<F>(pub(crate) Arc<F>);

impl<K, V, V2, I, F> Processor<K, V, K, V2> for FlatMapValuesProcessor<F>
where
    K: Data,
    V: 'static,
    V2: Data,
    I: IntoIterator<Item = V2>,
    F: Fn(&V) -> I + Send + Sync + 'static,
{
    fn process(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, K, V2>,
    ) -> Result<()> {
        for value in (self.0)(&record.value) {
            ctx.forward(Record {
                key: record.key.clone(),
                value,
                timestamp: record.timestamp,
                headers: record.headers.clone(),
            })?;
        }
        Ok(())
    }
}

/// `KStream::filter` (`keep` = true) and `filter_not` (`keep` = false).
pub(crate) struct FilterProcessor<F> {
    pub(crate) predicate: Arc<F>,
    pub(crate) keep: bool,
}

impl<K, V, F> Processor<K, V, K, V> for FilterProcessor<F>
where
    K: Data,
    V: Data,
    F: Fn(&K, &V) -> bool + Send + Sync + 'static,
{
    #[inline]
    fn process(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, K, V>,
    ) -> Result<()> {
        if (self.predicate)(&record.key, &record.value) == self.keep {
            ctx.forward(record)
        } else {
            Ok(())
        }
    }
}

/// `KStream::peek` (`forward` = true) and the terminal `foreach` (`forward` = false).
pub(crate) struct PeekProcessor<F> {
    pub(crate) action: Arc<F>,
    pub(crate) forward: bool,
}

impl<K, V, F> Processor<K, V, K, V> for PeekProcessor<F>
where
    K: Data,
    V: Data,
    F: Fn(&K, &V) + Send + Sync + 'static,
{
    fn process(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, K, V>,
    ) -> Result<()> {
        (self.action)(&record.key, &record.value);
        if self.forward {
            ctx.forward(record)
        } else {
            Ok(())
        }
    }
}

/// Forwards every record unchanged: `merge`, branch children and the repartition filter.
pub(crate) struct PassThroughProcessor;

impl<K: Data, V: Data> Processor<K, V, K, V> for PassThroughProcessor {
    #[inline]
    fn process(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, K, V>,
    ) -> Result<()> {
        ctx.forward(record)
    }
}

/// The filter before a repartition topic when no join downstream keeps null keys: drops records
/// with a null key (Kafka's `KStreamFilter((k, v) -> k != null)` of `rewriteRepartitionNodes`).
pub(crate) struct NullKeyFilter<K> {
    pub(crate) keys: Arc<dyn crate::serde::Serde<K>>,
}

impl<K: Data, V: Data> Processor<K, V, K, V> for NullKeyFilter<K> {
    fn process(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, K, V>,
    ) -> Result<()> {
        if self.keys.is_null(&record.key) {
            return Ok(());
        }
        ctx.forward(record)
    }
}

/// A branch predicate of `split()`.
pub(crate) type BranchPredicate<K, V> = Arc<dyn Fn(&K, &V) -> bool + Send + Sync>;

/// `split()`: sends each record to the first branch whose predicate matches, else to the
/// default branch if there is one, else drops it — like Kafka's `KStreamBranch`.
pub(crate) struct BranchProcessor<K, V> {
    pub(crate) predicates: Arc<Vec<BranchPredicate<K, V>>>,
    /// Child names: one per predicate, in order, then the default branch if any.
    pub(crate) branches: Arc<Vec<String>>,
    pub(crate) child_index: Vec<usize>,
}

impl<K: Data, V: Data> Processor<K, V, K, V> for BranchProcessor<K, V> {
    fn init(&mut self, ctx: &mut ProcessorContext<'_, K, V>) -> Result<()> {
        let children = ctx.child_names();
        self.child_index = self
            .branches
            .iter()
            .map(|branch| {
                children.iter().position(|c| c == branch).ok_or_else(|| {
                    crate::Error::UnknownChild {
                        node: ctx.node_name().to_string(),
                        child: branch.clone(),
                    }
                })
            })
            .collect::<Result<_>>()?;
        Ok(())
    }

    fn process(
        &mut self,
        record: Record<K, V>,
        ctx: &mut ProcessorContext<'_, K, V>,
    ) -> Result<()> {
        let matched = self
            .predicates
            .iter()
            .position(|p| p(&record.key, &record.value));
        let branch = matched.or(if self.branches.len() > self.predicates.len() {
            Some(self.predicates.len())
        } else {
            None
        });
        match branch {
            Some(branch) => ctx.forward_to_index(self.child_index[branch], record),
            None => Ok(()),
        }
    }
}
