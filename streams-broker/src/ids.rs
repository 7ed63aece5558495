//! Random identifiers: topic ids (KIP-516), the cluster id and group member ids.
//!
//! Kafka draws them from `Uuid.randomUuid()`. A leaf module, so the topic registry, the
//! group coordinator and the broker share one definition without importing each other.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use uuid::Uuid;

/// A fresh random id; the standard library's randomly keyed hasher is the entropy source.
pub(crate) fn random_uuid() -> Uuid {
    let mut bytes = [0u8; 16];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        let mut h = RandomState::new().build_hasher();
        h.write_usize(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        chunk.copy_from_slice(&h.finish().to_be_bytes());
    }
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}
