//! What flows between table operators: a key's new value and, when a downstream operator needs
//! it, its old value — like Kafka Streams' internal `Change<V>`. `None` is a deleted key.

/// A table update.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Change<V> {
    pub(crate) new: Option<V>,
    pub(crate) old: Option<V>,
}

impl<V> Change<V> {
    pub(crate) fn new(new: Option<V>, old: Option<V>) -> Self {
        Change { new, old }
    }
}
