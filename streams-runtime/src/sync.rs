//! Locking as the runtime does it everywhere: a poisoned lock is recovered, not propagated.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, recovering the data of a poisoned lock: a thread that panicked while holding it
/// already fails the client on its own, and refusing later locks would only spread the panic.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
