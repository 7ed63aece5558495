//! What flows between table operators: a key's new value and, when a downstream operator needs
//! it, its old value — like Kafka Streams' internal `Change<V>`. `None` is a deleted key.

/// A table update.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Change<V> {
    pub(crate) new: Option<V>,
    pub(crate) old: Option<V>,
    /// Whether this is the key's latest value. Only a versioned table forwards updates that
    /// are not (out-of-order ones, older than the key's latest version): stateless operators
    /// and `to_stream` pass them on, aggregations and table-table joins drop them (KIP-914).
    pub(crate) is_latest: bool,
}

impl<V> Change<V> {
    pub(crate) fn new(new: Option<V>, old: Option<V>) -> Self {
        Change {
            new,
            old,
            is_latest: true,
        }
    }

    /// The same change, marked as (not) the key's latest value.
    pub(crate) fn latest(mut self, is_latest: bool) -> Self {
        self.is_latest = is_latest;
        self
    }
}
