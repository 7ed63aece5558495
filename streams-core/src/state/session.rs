//! The typed session store handle, like Kafka Streams' `SessionStore<K, V>`: aggregates per key
//! and session, and the session updates its record cache flushes ([`FlushedSession`]).

use streams_state::{CachedEntry, CachingSessionStore, SessionStack, SessionStore};

use super::cache::CachedRef;
use super::codec::{store_serde_error, Codec};
use super::{lock, Shared};
use crate::dsl::windows::{Window, Windowed};
use crate::error::Result;
use crate::serde::SerdeError;

/// A typed session store, like Kafka's `SessionStore<K, V>`: aggregates per key and session.
pub struct SessionStoreRef<K, V> {
    pub(super) codec: Codec<K, V>,
    pub(super) store: Shared<SessionStack>,
}

clone_fields!(SessionStoreRef { codec, store });

impl<K, V> CachedRef for SessionStoreRef<K, V> {
    type Store = dyn SessionStore;
    type Cache = CachingSessionStore;

    fn stack(&self) -> &Shared<SessionStack> {
        &self.store
    }
}

impl<K: 'static, V: 'static> SessionStoreRef<K, V> {
    /// The store's name.
    pub fn name(&self) -> &str {
        &self.codec.name
    }

    /// Stores the aggregate of `key`'s session `[start, end]`.
    pub fn put(&self, key: &K, session: Window, value: &V) -> Result<()> {
        let key = self.codec.key(key)?;
        let value = self.codec.value(value)?;
        Ok(lock(&self.store).put(&key, session.start_ms, session.end_ms, &value)?)
    }

    /// Removes `key`'s session `[start, end]`.
    pub fn remove(&self, key: &K, session: Window) -> Result<()> {
        let key = self.codec.key(key)?;
        Ok(lock(&self.store).remove(&key, session.start_ms, session.end_ms)?)
    }

    /// Sessions of `key` that end at or after `earliest_end` and start at or before
    /// `latest_start`: the sessions a record could merge with.
    pub fn find_sessions(
        &self,
        key: &K,
        earliest_end: i64,
        latest_start: i64,
    ) -> Result<Vec<(Windowed<K>, V)>>
    where
        K: Clone,
    {
        let key_bytes = self.codec.key(key)?;
        let store = lock(&self.store);
        let entries = store.find_sessions(&key_bytes, earliest_end, latest_start)?;
        entries
            .map(|entry| {
                let (session, v) = entry?;
                let window = Window::new(session.start, session.end);
                Ok((
                    Windowed::new(key.clone(), window),
                    self.codec.decode_value(v)?,
                ))
            })
            .collect()
    }

    /// Sessions of every key that end at or after `earliest_end` and start at or before
    /// `latest_start`, ordered by segment, then key, then end.
    pub(crate) fn find_sessions_of_all_keys(
        &self,
        earliest_end: i64,
        latest_start: i64,
    ) -> Result<Vec<(Windowed<K>, V)>> {
        self.find_sessions_in_key_range(None, None, earliest_end, latest_start)
    }

    /// Sessions of keys from `key_from` to `key_to` (both inclusive, by serialized key; `None`
    /// leaves that end open) that end at or after `earliest_end` and start at or before
    /// `latest_start` (Kafka's `findSessions(keyFrom, keyTo, …)`).
    pub fn find_sessions_in_key_range(
        &self,
        key_from: Option<&K>,
        key_to: Option<&K>,
        earliest_end: i64,
        latest_start: i64,
    ) -> Result<Vec<(Windowed<K>, V)>> {
        let key_from = key_from.map(|k| self.codec.key(k)).transpose()?;
        let key_to = key_to.map(|k| self.codec.key(k)).transpose()?;
        let store = lock(&self.store);
        let entries = store.find_sessions_in_key_range(
            key_from.as_deref(),
            key_to.as_deref(),
            earliest_end,
            latest_start,
        )?;
        entries
            .map(|entry| {
                let (session, v) = entry?;
                let window = Window::new(session.start, session.end);
                Ok((
                    Windowed::new(self.codec.decode_key(session.key)?, window),
                    self.codec.decode_value(v)?,
                ))
            })
            .collect()
    }

    /// The aggregate of `key`'s session `[start, end]` exactly, if stored (Kafka's
    /// `fetchSession`).
    pub fn fetch_session(&self, key: &K, start: i64, end: i64) -> Result<Option<V>> {
        let key = self.codec.key(key)?;
        let value = lock(&self.store).fetch_session(&key, start, end)?;
        value.map(|v| self.codec.decode_value(v)).transpose()
    }

    /// Every session of `key`.
    pub fn fetch(&self, key: &K) -> Result<Vec<(Windowed<K>, V)>>
    where
        K: Clone,
    {
        self.find_sessions(key, i64::MIN, i64::MAX)
    }

    /// The key `key`'s session has in what the store's record cache flushes (a session
    /// changelog key).
    pub(crate) fn cache_key(&self, key: &K, session: Window) -> Result<Vec<u8>> {
        let key = self.codec.key(key)?;
        Ok(streams_state::keys::session_changelog_key(
            &key,
            session.start_ms,
            session.end_ms,
        ))
    }

    /// A flushed cache entry as a session table update: the session, its new aggregate (`None`
    /// when the session was merged away) and the aggregate the store held before.
    pub(crate) fn decode_flushed(&self, entry: &mut CachedEntry) -> Result<FlushedSession<K, V>> {
        let (key, start, end) = streams_state::keys::parse_session_changelog_key(&entry.key)
            .ok_or_else(|| {
                store_serde_error(
                    &self.codec.name,
                    "cached session key",
                    SerdeError::new("shorter than 16 bytes"),
                )
            })?;
        let key = Windowed::new(self.codec.decode_key(key)?, Window::new(start, end));
        let new = entry
            .new_value
            .take()
            .map(|v| self.codec.decode_value(v))
            .transpose()?;
        let old = entry
            .old_value
            .take()
            .map(|v| self.codec.decode_value(v))
            .transpose()?;
        Ok(FlushedSession { key, new, old })
    }
}

/// A typed entry a session store's record cache flushed.
pub(crate) struct FlushedSession<K, V> {
    pub(crate) key: Windowed<K>,
    /// The new aggregate; `None` when the session was removed.
    pub(crate) new: Option<V>,
    /// The aggregate the store held before.
    pub(crate) old: Option<V>,
}
