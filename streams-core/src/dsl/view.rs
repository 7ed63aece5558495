//! A table's current values as a join reads them, like Kafka Streams'
//! `KTableValueGetterSupplier`: a table materialized in a store reads the store; a table
//! derived without a store of its own (`filter`, `map_values`, an unmaterialized table-table
//! join) reads its parents' views and applies its operator to what they hold. So a join can
//! read any table, and connects the stores at the root of its view — as in Kafka, where the
//! join's processor lists the source table's store, not one of the filter's.
//!
//! A view over a versioned table's store (`Materialized::as_versioned`) also answers what a key
//! held *as of* a timestamp ([`ValueGetter::get_as_of`]), as Kafka's versioned value getters
//! do, through `filter` and `map_values` alike.

use std::sync::Arc;

use crate::error::Result;
use crate::processor::Data;
use crate::serde::Serde;
use crate::state::access;
use crate::state::{StoreHandle, TimestampedKeyValueStoreRef, VersionedKeyValueStoreRef};

/// Reads one table's value (and its timestamp) for a key, for one processor instance (Kafka's
/// `KTableValueGetter`).
pub(crate) trait ValueGetter<K, V>: Send {
    /// Connects the stores the view reads; `stores` gives the processor's store by name.
    fn connect(&mut self, stores: &dyn Fn(&str) -> Result<StoreHandle>) -> Result<()>;

    /// The table's current value for `key`, if it has one.
    fn get(&self, key: &K) -> Result<Option<(V, i64)>>;

    /// Whether the view reads a versioned store, so that [`get_as_of`](Self::get_as_of) looks
    /// into its history (Kafka's `KTableValueGetter#isVersioned`); known once connected.
    fn is_versioned(&self) -> bool {
        false
    }

    /// The table's value for `key` as of `timestamp` (Kafka's `get(key, asOfTimestamp)`): from
    /// a versioned store's history, else the current value.
    fn get_as_of(&self, key: &K, timestamp: i64) -> Result<Option<(V, i64)>> {
        let _ = timestamp;
        self.get(key)
    }
}

/// A filter's predicate.
pub(crate) type Predicate<K, V> = Arc<dyn Fn(&K, &V) -> bool + Send + Sync>;
/// A table join's joiner: each side's value or `None`, the result or `None`.
pub(crate) type PairJoiner<V, VO, VR> =
    Arc<dyn Fn(Option<&V>, Option<&VO>) -> Option<VR> + Send + Sync>;

/// Makes a fresh getter for each processor instance.
type MakeGetter<K, V> = Arc<dyn Fn() -> Box<dyn ValueGetter<K, V>> + Send + Sync>;

/// How a join reads a table: the stores to connect and the getters reading them.
pub(crate) struct TableView<K, V> {
    stores: Vec<String>,
    make: MakeGetter<K, V>,
}

impl<K, V> Clone for TableView<K, V> {
    fn clone(&self) -> Self {
        TableView {
            stores: self.stores.clone(),
            make: Arc::clone(&self.make),
        }
    }
}

impl<K: Data, V: Data> TableView<K, V> {
    /// The table held in store `store`.
    pub(crate) fn of_store(
        store: &str,
        keys: Arc<dyn Serde<K>>,
        values: Arc<dyn Serde<V>>,
    ) -> Self {
        let name: Arc<str> = Arc::from(store);
        TableView {
            stores: vec![store.to_string()],
            make: Arc::new(move || {
                Box::new(StoreGetter {
                    name: Arc::clone(&name),
                    keys: Arc::clone(&keys),
                    values: Arc::clone(&values),
                    store: None,
                })
            }),
        }
    }

    /// The stores a processor reading this view must connect.
    pub(crate) fn stores(&self) -> &[String] {
        &self.stores
    }

    /// A getter for one processor instance, not yet connected.
    pub(crate) fn getter(&self) -> Box<dyn ValueGetter<K, V>> {
        (self.make)()
    }

    /// The rows of this view for which `predicate` holds (`keep`) or fails (Kafka's
    /// `KTableFilter#view`).
    pub(crate) fn filter(&self, predicate: Predicate<K, V>, keep: bool) -> Self {
        self.wrap(move |parent| {
            Box::new(Filtered {
                parent,
                predicate: Arc::clone(&predicate),
                keep,
            })
        })
    }

    /// This view with every value mapped (Kafka's `KTableMapValues#view`).
    pub(crate) fn map<V2: Data>(
        &self,
        mapper: Arc<dyn Fn(&V) -> V2 + Send + Sync>,
    ) -> TableView<K, V2> {
        self.wrap(move |parent| {
            Box::new(Mapped {
                parent,
                mapper: Arc::clone(&mapper),
            })
        })
    }

    /// A view reading the same stores through `wrap`ped getters of this one.
    fn wrap<V2: Data>(
        &self,
        wrap: impl Fn(Box<dyn ValueGetter<K, V>>) -> Box<dyn ValueGetter<K, V2>> + Send + Sync + 'static,
    ) -> TableView<K, V2> {
        let parent = self.clone();
        TableView {
            stores: self.stores.clone(),
            make: Arc::new(move || wrap(parent.getter())),
        }
    }

    /// The join of this view with `other` (Kafka's `KTableKTableJoinMerger#view` over the join
    /// processors' getters): `joiner` sees each side's value, or `None`, and its result carries
    /// the later of the two timestamps.
    pub(crate) fn join<VO: Data, VR: Data>(
        &self,
        other: &TableView<K, VO>,
        joiner: PairJoiner<V, VO, VR>,
    ) -> TableView<K, VR> {
        let (this, other) = (self.clone(), other.clone());
        let mut stores = this.stores.clone();
        stores.extend(
            other
                .stores
                .iter()
                .filter(|s| !this.stores.contains(s))
                .cloned(),
        );
        TableView {
            stores,
            make: Arc::new(move || {
                Box::new(Joined {
                    this: this.getter(),
                    other: other.getter(),
                    joiner: Arc::clone(&joiner),
                })
            }),
        }
    }
}

/// Reads a store.
struct StoreGetter<K, V> {
    name: Arc<str>,
    keys: Arc<dyn Serde<K>>,
    values: Arc<dyn Serde<V>>,
    store: Option<TableStoreRef<K, V>>,
}

/// The store a table is kept in: a timestamped one, or a versioned one.
enum TableStoreRef<K, V> {
    Timestamped(TimestampedKeyValueStoreRef<K, V>),
    Versioned(VersionedKeyValueStoreRef<K, V>),
}

impl<K: Data, V: Data> ValueGetter<K, V> for StoreGetter<K, V> {
    fn connect(&mut self, stores: &dyn Fn(&str) -> Result<StoreHandle>) -> Result<()> {
        let handle = stores(&self.name)?;
        let (keys, values) = (Arc::clone(&self.keys), Arc::clone(&self.values));
        self.store = Some(match handle {
            StoreHandle::Versioned(_) => {
                TableStoreRef::Versioned(access::versioned(&self.name, &handle, keys, values)?)
            }
            _ => {
                TableStoreRef::Timestamped(access::timestamped(&self.name, &handle, keys, values)?)
            }
        });
        Ok(())
    }

    fn get(&self, key: &K) -> Result<Option<(V, i64)>> {
        match crate::state::initialized(&self.store, &self.name)? {
            TableStoreRef::Timestamped(store) => store.get(key),
            TableStoreRef::Versioned(store) => {
                Ok(store.get(key)?.map(|found| (found.value, found.timestamp)))
            }
        }
    }

    fn is_versioned(&self) -> bool {
        matches!(self.store, Some(TableStoreRef::Versioned(_)))
    }

    fn get_as_of(&self, key: &K, timestamp: i64) -> Result<Option<(V, i64)>> {
        match crate::state::initialized(&self.store, &self.name)? {
            TableStoreRef::Timestamped(store) => store.get(key),
            TableStoreRef::Versioned(store) => Ok(store
                .get_as_of(key, timestamp)?
                .map(|found| (found.value, found.timestamp))),
        }
    }
}

struct Filtered<K, V> {
    parent: Box<dyn ValueGetter<K, V>>,
    predicate: Predicate<K, V>,
    keep: bool,
}

impl<K: Data, V: Data> ValueGetter<K, V> for Filtered<K, V> {
    fn connect(&mut self, stores: &dyn Fn(&str) -> Result<StoreHandle>) -> Result<()> {
        self.parent.connect(stores)
    }

    fn get(&self, key: &K) -> Result<Option<(V, i64)>> {
        Ok(self
            .parent
            .get(key)?
            .filter(|(v, _)| (self.predicate)(key, v) == self.keep))
    }

    fn is_versioned(&self) -> bool {
        self.parent.is_versioned()
    }

    fn get_as_of(&self, key: &K, timestamp: i64) -> Result<Option<(V, i64)>> {
        Ok(self
            .parent
            .get_as_of(key, timestamp)?
            .filter(|(v, _)| (self.predicate)(key, v) == self.keep))
    }
}

struct Mapped<K, V, V2> {
    parent: Box<dyn ValueGetter<K, V>>,
    mapper: Arc<dyn Fn(&V) -> V2 + Send + Sync>,
}

impl<K: Data, V: Data, V2: Data> ValueGetter<K, V2> for Mapped<K, V, V2> {
    fn connect(&mut self, stores: &dyn Fn(&str) -> Result<StoreHandle>) -> Result<()> {
        self.parent.connect(stores)
    }

    fn get(&self, key: &K) -> Result<Option<(V2, i64)>> {
        Ok(self.parent.get(key)?.map(|(v, ts)| ((self.mapper)(&v), ts)))
    }

    fn is_versioned(&self) -> bool {
        self.parent.is_versioned()
    }

    fn get_as_of(&self, key: &K, timestamp: i64) -> Result<Option<(V2, i64)>> {
        Ok(self
            .parent
            .get_as_of(key, timestamp)?
            .map(|(v, ts)| ((self.mapper)(&v), ts)))
    }
}

struct Joined<K, V, VO, VR> {
    this: Box<dyn ValueGetter<K, V>>,
    other: Box<dyn ValueGetter<K, VO>>,
    joiner: PairJoiner<V, VO, VR>,
}

impl<K: Data, V: Data, VO: Data, VR: Data> ValueGetter<K, VR> for Joined<K, V, VO, VR> {
    fn connect(&mut self, stores: &dyn Fn(&str) -> Result<StoreHandle>) -> Result<()> {
        self.this.connect(stores)?;
        self.other.connect(stores)
    }

    fn get(&self, key: &K) -> Result<Option<(VR, i64)>> {
        let (this, other) = (self.this.get(key)?, self.other.get(key)?);
        let timestamp = match (&this, &other) {
            (Some((_, a)), Some((_, b))) => (*a).max(*b),
            (Some((_, t)), None) | (None, Some((_, t))) => *t,
            (None, None) => return Ok(None),
        };
        let value = (self.joiner)(
            this.as_ref().map(|(v, _)| v),
            other.as_ref().map(|(v, _)| v),
        );
        Ok(value.map(|v| (v, timestamp)))
    }
}
