//! A built store: the layers a builder stacked, used as one store of its kind, with its record
//! cache reachable when the top layer is one.
//!
//! Kafka Streams' store builders wrap a store in layers (`CachingKeyValueStore` over
//! `ChangeLoggingKeyValueBytesStore` over the bytes store) and find the cache again through
//! `WrappedStateStore`. A [`StoreStack`] keeps the top layer's type instead: it derefs to the
//! store trait (`dyn KeyValueStore`, ...) for reads and writes, and [`cache`](StoreStack::cache)
//! hands out the caching layer as a `&mut dyn CachedStateStore` when there is one. So the plain
//! store traits carry no cache methods, and reaching the cache costs a branch, not a call through
//! every layer.

use std::ops::{Deref, DerefMut};

use crate::cache::CachingKeyValueStore;
use crate::cached::CachedStateStore;
use crate::store::{KeyValueStore, SessionStore, TimestampedKeyValueStore, WindowStore};
use crate::timestamped::TimestampedKeyValueAdapter;
use crate::versioned::VersionedKeyValueStore;
use crate::window_cache::{CachingSessionStore, CachingWindowStore};

/// A store of kind `S` (a store trait object) whose top layer is either any store of that kind
/// or the caching layer `C`; see the module docs.
pub struct StoreStack<S: ?Sized, C> {
    top: Top<S, C>,
}

/// The top layer of a [`StoreStack`].
enum Top<S: ?Sized, C> {
    /// No record cache.
    Store(Box<S>),
    /// A record cache over the rest of the stack.
    Cache(Box<C>),
}

/// A caching layer seen as the store kind it caches, and as the cache it is: the conversions a
/// [`StoreStack`] makes, which Rust cannot write generically over the store traits.
pub trait CachingLayer<S: ?Sized> {
    /// The layer as a store of its kind.
    fn store(&self) -> &S;

    /// The layer as a store of its kind, to write.
    fn store_mut(&mut self) -> &mut S;

    /// The layer's record cache.
    fn cache(&mut self) -> &mut dyn CachedStateStore;
}

impl<S: ?Sized, C> StoreStack<S, C> {
    /// A stack without a record cache on top.
    pub fn new(store: Box<S>) -> Self {
        StoreStack {
            top: Top::Store(store),
        }
    }

    /// A stack whose top layer is the record cache `cache`.
    pub fn cached(cache: Box<C>) -> Self {
        StoreStack {
            top: Top::Cache(cache),
        }
    }

    /// Whether the top layer is a record cache.
    pub fn is_cached(&self) -> bool {
        matches!(self.top, Top::Cache(_))
    }
}

impl<S: ?Sized, C: CachingLayer<S>> StoreStack<S, C> {
    /// The record cache on top of the stack, if it has one: how the store's owner keeps, takes
    /// and flushes what it flushes.
    #[inline]
    pub fn cache(&mut self) -> Option<&mut dyn CachedStateStore> {
        match &mut self.top {
            Top::Store(_) => None,
            Top::Cache(cache) => Some(cache.cache()),
        }
    }
}

impl<S: ?Sized, C: CachingLayer<S>> Deref for StoreStack<S, C> {
    type Target = S;

    #[inline]
    fn deref(&self) -> &S {
        match &self.top {
            Top::Store(store) => store,
            Top::Cache(cache) => cache.store(),
        }
    }
}

impl<S: ?Sized, C: CachingLayer<S>> DerefMut for StoreStack<S, C> {
    #[inline]
    fn deref_mut(&mut self) -> &mut S {
        match &mut self.top {
            Top::Store(store) => store,
            Top::Cache(cache) => cache.store_mut(),
        }
    }
}

/// The stack as its store kind, as a `Box<S>` is.
impl<S: ?Sized, C: CachingLayer<S>> AsRef<S> for StoreStack<S, C> {
    fn as_ref(&self) -> &S {
        self
    }
}

/// The stack as its store kind, to write, as a `Box<S>` is.
impl<S: ?Sized, C: CachingLayer<S>> AsMut<S> for StoreStack<S, C> {
    fn as_mut(&mut self) -> &mut S {
        self
    }
}

/// Implements [`CachingLayer`] for a caching store that is itself the cache.
macro_rules! caching_layer {
    ($cache:ty => $store:path) => {
        impl CachingLayer<dyn $store> for $cache {
            #[inline]
            fn store(&self) -> &(dyn $store + 'static) {
                self
            }

            #[inline]
            fn store_mut(&mut self) -> &mut (dyn $store + 'static) {
                self
            }

            #[inline]
            fn cache(&mut self) -> &mut dyn CachedStateStore {
                self
            }
        }
    };
}

caching_layer!(CachingKeyValueStore => KeyValueStore);
caching_layer!(CachingWindowStore => WindowStore);
caching_layer!(CachingSessionStore => SessionStore);

/// A timestamped store over a record cache: the cache is the layer below the encoding.
impl CachingLayer<dyn TimestampedKeyValueStore>
    for TimestampedKeyValueAdapter<CachingKeyValueStore>
{
    #[inline]
    fn store(&self) -> &(dyn TimestampedKeyValueStore + 'static) {
        self
    }

    #[inline]
    fn store_mut(&mut self) -> &mut (dyn TimestampedKeyValueStore + 'static) {
        self
    }

    #[inline]
    fn cache(&mut self) -> &mut dyn CachedStateStore {
        self.inner_mut()
    }
}

/// A built [`KeyValueStore`], possibly cached.
pub type KeyValueStack = StoreStack<dyn KeyValueStore, CachingKeyValueStore>;

/// A built [`TimestampedKeyValueStore`], possibly over a record cache.
pub type TimestampedKeyValueStack =
    StoreStack<dyn TimestampedKeyValueStore, TimestampedKeyValueAdapter<CachingKeyValueStore>>;

/// A built [`WindowStore`], possibly cached.
pub type WindowStack = StoreStack<dyn WindowStore, CachingWindowStore>;

/// A built [`SessionStore`], possibly cached.
pub type SessionStack = StoreStack<dyn SessionStore, CachingSessionStore>;

/// The caching layer of a store kind that has none: versioned stores are never cached (Kafka
/// refuses `withCachingEnabled` on their builder). It has no values, so a stack of it is always
/// a plain store.
pub enum NoCache {}

impl CachingLayer<dyn VersionedKeyValueStore> for NoCache {
    fn store(&self) -> &(dyn VersionedKeyValueStore + 'static) {
        match *self {}
    }

    fn store_mut(&mut self) -> &mut (dyn VersionedKeyValueStore + 'static) {
        match *self {}
    }

    fn cache(&mut self) -> &mut dyn CachedStateStore {
        match *self {}
    }
}

/// A built [`VersionedKeyValueStore`] (never cached).
pub type VersionedStack = StoreStack<dyn VersionedKeyValueStore, NoCache>;
