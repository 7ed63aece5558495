//! The entries of a record cache and their two orders, shared by the key-value cache
//! ([`cache`](crate::cache)) and the window and session caches
//! ([`window_cache`](crate::window_cache)).
//!
//! Every write to a cache moves its entry to the back of two orders: least recently written
//! first (eviction) and, among the dirty entries, in the order they were last written (flush).
//! The entries live in slots threaded on two intrusive doubly-linked lists, so that a write
//! relinks a few indices instead of moving keys between ordered maps; each cache keeps its own
//! index from key to slot (hashed or ordered, as its reads need).

/// No slot: the end of a list.
const NIL: u32 = u32::MAX;

/// A slot's place in one list. Slot numbers are stored as `u32` to keep the links small (see
/// [`CacheSlots`]); a cache never holds four billion entries.
#[derive(Debug, Clone, Copy)]
struct Links {
    prev: u32,
    next: u32,
}

impl Links {
    const NONE: Links = Links {
        prev: NIL,
        next: NIL,
    };
}

/// A doubly-linked list threaded through the slots; the head is the oldest.
#[derive(Debug, Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
    len: usize,
}

impl List {
    const EMPTY: List = List {
        head: NIL,
        tail: NIL,
        len: 0,
    };
}

/// Which of a slot's two links a list uses.
#[derive(Debug, Clone, Copy)]
enum Order {
    Lru,
    Dirty,
}

/// A slot's places in both lists.
#[derive(Debug, Clone, Copy)]
struct SlotLinks {
    lru: Links,
    dirty: Links,
    is_dirty: bool,
}

impl SlotLinks {
    const NONE: SlotLinks = SlotLinks {
        lru: Links::NONE,
        dirty: Links::NONE,
        is_dirty: false,
    };

    fn of(&mut self, order: Order) -> &mut Links {
        match order {
            Order::Lru => &mut self.lru,
            Order::Dirty => &mut self.dirty,
        }
    }
}

/// A slot number as the links store it. A cache's entries are bounded by its bytes (each
/// accounts for at least `ENTRY_OVERHEAD` bytes), far below `NIL`.
fn link(i: usize) -> u32 {
    u32::try_from(i)
        .ok()
        .filter(|&at| at != NIL)
        .expect("fewer than 2^32 - 1 cache slots")
}

/// Cache entries `E` by slot number, in least-recently-written order and (the dirty ones) in
/// write order.
///
/// The links live apart from the entries, in an array of 20 bytes per slot: moving an entry
/// in a list rewrites its neighbours' links, which are entries written at random times, so
/// those writes land in a small array that stays in the CPU's caches instead of in the
/// neighbours' own (large, cold) entries.
pub(crate) struct CacheSlots<E> {
    entries: Vec<Option<E>>,
    links: Vec<SlotLinks>,
    free: Vec<usize>,
    lru: List,
    dirty: List,
}

impl<E> CacheSlots<E> {
    pub(crate) fn new() -> Self {
        CacheSlots {
            entries: Vec::new(),
            links: Vec::new(),
            free: Vec::new(),
            lru: List::EMPTY,
            dirty: List::EMPTY,
        }
    }

    /// Stores a newly written `entry` (dirty, most recent) and returns its slot.
    pub(crate) fn insert(&mut self, entry: E) -> usize {
        let i = match self.free.pop() {
            Some(i) => {
                self.entries[i] = Some(entry);
                self.links[i] = SlotLinks::NONE;
                i
            }
            None => {
                self.entries.push(Some(entry));
                self.links.push(SlotLinks::NONE);
                self.entries.len() - 1
            }
        };
        self.push_back(Order::Lru, i);
        self.mark_written(i);
        i
    }

    /// Records a new write to slot `i`: most recent, and dirty (last in write order).
    pub(crate) fn written(&mut self, i: usize) {
        self.unlink(Order::Lru, i);
        self.push_back(Order::Lru, i);
        if self.links[i].is_dirty {
            self.unlink(Order::Dirty, i);
        }
        self.mark_written(i);
    }

    fn mark_written(&mut self, i: usize) {
        self.push_back(Order::Dirty, i);
        self.links[i].is_dirty = true;
    }

    /// The entry in slot `i` (which must be in use).
    pub(crate) fn get(&self, i: usize) -> &E {
        self.entries[i]
            .as_ref()
            .expect("cache slot in use: every index entry points at a live slot")
    }

    /// The entry in slot `i` (which must be in use), to change in place.
    pub(crate) fn get_mut(&mut self, i: usize) -> &mut E {
        self.entries[i]
            .as_mut()
            .expect("cache slot in use: every index entry points at a live slot")
    }

    /// Whether slot `i` holds a write not yet flushed.
    pub(crate) fn is_dirty(&self, i: usize) -> bool {
        self.links[i].is_dirty
    }

    /// How many entries are dirty.
    pub(crate) fn dirty_len(&self) -> usize {
        self.dirty.len
    }

    /// The least recently written entry's slot.
    pub(crate) fn oldest(&self) -> Option<usize> {
        (self.lru.head != NIL).then_some(self.lru.head as usize)
    }

    /// Takes the dirty entry written longest ago out of the write order (it is clean from now
    /// on) and returns its slot.
    pub(crate) fn pop_dirty(&mut self) -> Option<usize> {
        let head = self.dirty.head;
        if head == NIL {
            return None;
        }
        let head = head as usize;
        self.unlink(Order::Dirty, head);
        self.links[head].is_dirty = false;
        Some(head)
    }

    /// Frees slot `i`, returning its entry.
    pub(crate) fn remove(&mut self, i: usize) -> E {
        self.unlink(Order::Lru, i);
        if self.links[i].is_dirty {
            self.unlink(Order::Dirty, i);
            self.links[i].is_dirty = false;
        }
        self.free.push(i);
        self.entries[i]
            .take()
            .expect("cache slot in use: every index entry points at a live slot")
    }

    /// Forgets every entry.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.links.clear();
        self.free.clear();
        self.lru = List::EMPTY;
        self.dirty = List::EMPTY;
    }

    fn list(&mut self, order: Order) -> &mut List {
        match order {
            Order::Lru => &mut self.lru,
            Order::Dirty => &mut self.dirty,
        }
    }

    fn unlink(&mut self, order: Order, i: usize) {
        let Links { prev, next } = std::mem::replace(self.links[i].of(order), Links::NONE);
        match prev {
            NIL => self.list(order).head = next,
            p => self.links[p as usize].of(order).next = next,
        }
        match next {
            NIL => self.list(order).tail = prev,
            n => self.links[n as usize].of(order).prev = prev,
        }
        self.list(order).len -= 1;
    }

    fn push_back(&mut self, order: Order, i: usize) {
        let tail = self.list(order).tail;
        *self.links[i].of(order) = Links {
            prev: tail,
            next: NIL,
        };
        let at = link(i);
        match tail {
            NIL => self.list(order).head = at,
            t => self.links[t as usize].of(order).next = at,
        }
        let list = self.list(order);
        list.tail = at;
        list.len += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The slots' entries from the least recently written, and the dirty ones in write order.
    fn orders(slots: &mut CacheSlots<&'static str>) -> (Vec<&'static str>, Vec<&'static str>) {
        let mut lru = Vec::new();
        let mut i = slots.lru.head;
        while i != NIL {
            lru.push(*slots.get(i as usize));
            i = slots.links[i as usize].lru.next;
        }
        let mut dirty = Vec::new();
        while let Some(i) = slots.pop_dirty() {
            dirty.push(*slots.get(i));
        }
        (lru, dirty)
    }

    #[test]
    fn writes_move_entries_to_the_back_of_both_orders() {
        let mut slots = CacheSlots::new();
        let a = slots.insert("a");
        let b = slots.insert("b");
        let c = slots.insert("c");
        slots.written(a);
        assert_eq!(slots.dirty_len(), 3);
        assert_eq!(slots.oldest(), Some(b));
        assert_eq!(
            orders(&mut slots),
            (vec!["b", "c", "a"], vec!["b", "c", "a"])
        );
        // Clean now; a write makes one dirty again, and a removal frees its slot for reuse.
        slots.written(c);
        assert!(slots.is_dirty(c) && !slots.is_dirty(b));
        assert_eq!(slots.remove(b), "b");
        let d = slots.insert("d");
        assert_eq!(d, b, "freed slots are reused");
        assert_eq!(orders(&mut slots), (vec!["a", "c", "d"], vec!["c", "d"]));
        slots.clear();
        assert_eq!(slots.oldest(), None);
        assert_eq!(slots.dirty_len(), 0);
    }
}
