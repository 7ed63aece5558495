//! The iteration orders of the Java collections behind Kafka Streams' `describe()`, so that
//! Rill prints stores, predecessors and successors in exactly Kafka's order.
//!
//! Kafka's `InternalTopologyBuilder#describeSubtopology` visits a sub-topology's nodes in the
//! order of a `HashMap` keyed by name, and inserts each edge into the `TreeSet`s of
//! predecessors and successors ordered by `NodeComparator` — larger sub-tree first, then by
//! name — while the sizes are still growing. A `TreeSet` is never re-sorted, so its order is
//! the one the red-black tree of Java's `TreeMap` settled on at insertion time; a processor's
//! stores are a `HashSet<String>`. This module reproduces `String#hashCode`, the bucket order
//! of `HashMap`/`HashSet`, and `TreeMap#put` with its rebalancing.

use std::cmp::Ordering;

/// Java's `String#hashCode`: `s[0]*31^(n-1) + … + s[n-1]` over UTF-16 code units, wrapping.
fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// The table size a `HashMap` grown from 16 buckets by `put` has after `len` entries (it
/// doubles once more than three quarters of the buckets are used).
fn java_capacity(len: usize) -> usize {
    let mut capacity = 16;
    while len * 4 > capacity * 3 {
        capacity *= 2;
    }
    capacity
}

/// The bucket of `s` in a table of `capacity` buckets (`HashMap#hash` spreads the high bits).
fn java_bucket(s: &str, capacity: usize) -> usize {
    let h = java_string_hash(s) as u32;
    ((h ^ (h >> 16)) as usize) & (capacity - 1)
}

/// The iteration order of a Java `HashSet`/`HashMap` into which `names` were inserted in this
/// order: by bucket, and within a bucket by insertion. Returns indexes into `names`.
pub(super) fn hash_order<S: AsRef<str>>(names: &[S]) -> Vec<usize> {
    let capacity = java_capacity(names.len());
    let mut order: Vec<usize> = (0..names.len()).collect();
    order.sort_by_key(|&i| (java_bucket(names[i].as_ref(), capacity), i));
    order
}

/// A set ordered like Java's `TreeSet` — a red-black tree walked with a comparator that is
/// evaluated at insertion time, so elements keep the position they were given even when the
/// comparator would now order them differently.
#[derive(Debug, Default, Clone)]
pub(super) struct TreeSet {
    entries: Vec<Entry>,
    root: Option<usize>,
}

#[derive(Debug, Clone)]
struct Entry {
    key: usize,
    left: Option<usize>,
    right: Option<usize>,
    parent: Option<usize>,
    red: bool,
}

impl TreeSet {
    /// Inserts `key` as `TreeMap#put` does, comparing with `cmp(new, existing)`; a key already
    /// present (by identity) is not inserted again.
    pub(super) fn insert(&mut self, key: usize, cmp: impl Fn(usize, usize) -> Ordering) {
        if self.entries.iter().any(|e| e.key == key) {
            return;
        }
        let Some(mut at) = self.root else {
            self.root = Some(self.push(key, None));
            self.entries[0].red = false;
            return;
        };
        loop {
            let less = cmp(key, self.entries[at].key) == Ordering::Less;
            let next = self.child(Some(at), less);
            match next {
                Some(n) => at = n,
                None => {
                    let e = self.push(key, Some(at));
                    if less {
                        self.entries[at].left = Some(e);
                    } else {
                        self.entries[at].right = Some(e);
                    }
                    self.fix_after_insertion(e);
                    return;
                }
            }
        }
    }

    /// The keys in the tree's order.
    pub(super) fn keys(&self) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.entries.len());
        let mut stack = Vec::new();
        let mut at = self.root;
        while at.is_some() || !stack.is_empty() {
            while let Some(n) = at {
                stack.push(n);
                at = self.entries[n].left;
            }
            if let Some(n) = stack.pop() {
                out.push(self.entries[n].key);
                at = self.entries[n].right;
            }
        }
        out
    }

    fn push(&mut self, key: usize, parent: Option<usize>) -> usize {
        self.entries.push(Entry {
            key,
            left: None,
            right: None,
            parent,
            red: true,
        });
        self.entries.len() - 1
    }

    fn parent(&self, n: Option<usize>) -> Option<usize> {
        n.and_then(|n| self.entries[n].parent)
    }

    fn left(&self, n: Option<usize>) -> Option<usize> {
        self.child(n, true)
    }

    /// The left (`left == true`) or right child of `n`.
    fn child(&self, n: Option<usize>, left: bool) -> Option<usize> {
        n.and_then(|n| {
            let entry = &self.entries[n];
            if left {
                entry.left
            } else {
                entry.right
            }
        })
    }

    /// `colorOf`: a missing node is black.
    fn is_red(&self, n: Option<usize>) -> bool {
        n.is_some_and(|n| self.entries[n].red)
    }

    fn set_red(&mut self, n: Option<usize>, red: bool) {
        if let Some(n) = n {
            self.entries[n].red = red;
        }
    }

    /// `TreeMap#fixAfterInsertion`.
    fn fix_after_insertion(&mut self, inserted: usize) {
        let mut x = Some(inserted);
        self.set_red(x, true);
        while x.is_some() && x != self.root && self.is_red(self.parent(x)) {
            let grandparent = self.parent(self.parent(x));
            // Java writes the two mirrored cases out; `side` is the parent's side under the
            // grandparent, and the uncle hangs on the other one.
            let side = self.parent(x) == self.left(grandparent);
            let uncle = self.child(grandparent, !side);
            if self.is_red(uncle) {
                self.set_red(self.parent(x), false);
                self.set_red(uncle, false);
                self.set_red(grandparent, true);
                x = grandparent;
            } else {
                if x == self.child(self.parent(x), !side) {
                    x = self.parent(x);
                    self.rotate(x, side);
                }
                self.set_red(self.parent(x), false);
                let grandparent = self.parent(self.parent(x));
                self.set_red(grandparent, true);
                self.rotate(grandparent, !side);
            }
        }
        let root = self.root;
        self.set_red(root, false);
    }

    /// `rotateLeft` (`left == true`) or `rotateRight` around `p`.
    fn rotate(&mut self, p: Option<usize>, left: bool) {
        let Some(p) = p else { return };
        let child = if left {
            self.entries[p].right
        } else {
            self.entries[p].left
        };
        let Some(c) = child else { return };
        let inner = if left {
            self.entries[c].left
        } else {
            self.entries[c].right
        };
        if left {
            self.entries[p].right = inner;
        } else {
            self.entries[p].left = inner;
        }
        if let Some(inner) = inner {
            self.entries[inner].parent = Some(p);
        }
        let grand = self.entries[p].parent;
        self.entries[c].parent = grand;
        match grand {
            None => self.root = Some(c),
            Some(g) if self.entries[g].left == Some(p) => self.entries[g].left = Some(c),
            Some(g) => self.entries[g].right = Some(c),
        }
        if left {
            self.entries[c].left = Some(p);
        } else {
            self.entries[c].right = Some(p);
        }
        self.entries[p].parent = Some(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_hashes_are_javas() {
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        // "hello".hashCode() in Java.
        assert_eq!(java_string_hash("hello"), 99_162_322);
        // Wraps like Java's int arithmetic.
        assert_eq!(
            java_string_hash("KSTREAM-OUTERSHARED-0000000004-store"),
            java_string_hash("KSTREAM-OUTERSHARED-0000000004-store")
        );
    }

    #[test]
    fn hash_sets_iterate_by_bucket() {
        // Kafka prints these store sets in this order (TopologyTest's outer joins).
        let stores = [
            "KSTREAM-OUTERSHARED-0000000004-store",
            "KSTREAM-OUTERTHIS-0000000004-store",
        ];
        let order = hash_order(&stores);
        assert_eq!(order, vec![1, 0]);
    }

    #[test]
    fn a_tree_set_with_a_consistent_comparator_is_sorted() {
        let mut set = TreeSet::default();
        for k in [5, 3, 8, 1, 4, 7, 9, 2, 6, 0] {
            set.insert(k, |a, b| a.cmp(&b));
        }
        assert_eq!(set.keys(), (0..10).collect::<Vec<_>>());
    }
}
