//! Reading a range of a store through writes not yet in it: the merge of newer entries over
//! the store's own, both in key order.
//!
//! A record cache's dirty entries and a RocksDB store's held-back writes are both newer than the
//! store below them; range reads see them merged over it, the newer value winning and a delete
//! hiding the key. Like Kafka Streams' `MergedSortedCacheKeyValueBytesStoreIterator`.

use std::iter::Peekable;

use crate::store::{KeyValue, KeyValueIter};
use crate::Result;

/// Iterates `newer` (writes not yet in the store below, in any order; `None` is a delete) over
/// `store`'s entries, both in key order: a key in `newer` hides the store's entry, and its
/// deletes hide the key altogether. How a record cache, or a store's buffered writes, read
/// ranges.
pub(crate) fn merge_over<'a>(
    mut newer: Vec<NewerEntry<'a>>,
    store: KeyValueIter<'a>,
) -> KeyValueIter<'a> {
    newer.sort_unstable_by(|a, b| a.0.cmp(b.0));
    Box::new(MergedIter {
        newer: newer.into_iter().peekable(),
        store: store.peekable(),
    })
}

/// A key and its newer value (`None`: deleted), for [`merge_over`].
pub(crate) type NewerEntry<'a> = (&'a [u8], Option<&'a [u8]>);

/// See [`merge_over`].
struct MergedIter<'a> {
    newer: Peekable<std::vec::IntoIter<NewerEntry<'a>>>,
    store: Peekable<KeyValueIter<'a>>,
}

impl Iterator for MergedIter<'_> {
    type Item = Result<KeyValue>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let order = match (self.newer.peek(), self.store.peek()) {
                (None, None) => return None,
                (None, Some(_)) => return self.store.next(),
                (Some(_), None) => std::cmp::Ordering::Less,
                (Some(_), Some(Err(_))) => return self.store.next(),
                (Some((nk, _)), Some(Ok((sk, _)))) => (*nk).cmp(sk.as_slice()),
            };
            match order {
                std::cmp::Ordering::Greater => return self.store.next(),
                std::cmp::Ordering::Equal => {
                    self.store.next();
                }
                std::cmp::Ordering::Less => {}
            }
            if let Some((key, Some(value))) = self.newer.next() {
                return Some(Ok((key.to_vec(), value.to_vec())));
            }
        }
    }
}
