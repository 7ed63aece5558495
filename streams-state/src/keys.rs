//! Key layouts: how window and session entries are laid out in a store and in a changelog.
//!
//! Inside a store, a window entry's key is the record key in an order-preserving, prefix-free
//! encoding, followed by the window start and a sequence number, so that "this key over this time
//! range" is one contiguous range scan and keys never bleed into each other (Kafka Streams'
//! `WindowKeySchema` gets the same effect by filtering). Session entries are ordered by key, then
//! end, then start, like Kafka's `SessionKeySchema`.
//!
//! In a changelog, the keys use Kafka Streams' binary formats unchanged, so that changelog topics
//! are interchangeable with Kafka Streams' ones: window `key ++ start(8) ++ seqnum(4)`, session
//! `key ++ end(8) ++ start(8)`, all big-endian.

/// The hasher of the stores' hash maps keyed by record keys: foldhash, seeded at random per
/// map, so that peers cannot pick keys that collide on purpose, at a fraction of SipHash's cost
/// per lookup (a record cache or in-memory store hashes every key it is asked for).
pub(crate) type KeyHasher = foldhash::fast::RandomState;

/// Bytes kept inline when there are at most 16 of them: the keys of those hash maps and the
/// values of the in-memory store. A map then holds a short key (and value) in its own table,
/// so a lookup compares the key and reaches the value without following a pointer to a
/// separate allocation — a cache miss or two fewer per lookup once a store outgrows the CPU's
/// caches. Longer ones live on the heap as before.
pub(crate) type InlineBytes = smallvec::SmallVec<[u8; INLINE_BYTES]>;

/// How many bytes [`InlineBytes`] keeps inline.
pub(crate) const INLINE_BYTES: usize = 16;

/// Appends `key` to `out` in an encoding that is prefix-free and preserves byte order:
/// `0x00` becomes `0x00 0x01` and the key ends with `0x00 0x00`.
pub(crate) fn encode_ordered(key: &[u8], out: &mut Vec<u8>) {
    for &b in key {
        out.push(b);
        if b == 0 {
            out.push(1);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

/// Decodes a key written by [`encode_ordered`] at the start of `buf`: the key and the number of
/// bytes it took.
pub(crate) fn decode_ordered(buf: &[u8]) -> Option<(Vec<u8>, usize)> {
    let mut key = Vec::with_capacity(buf.len());
    let mut i = 0;
    while i < buf.len() {
        let b = buf[i];
        if b == 0 {
            match buf.get(i + 1) {
                Some(0) => return Some((key, i + 2)),
                Some(1) => {
                    key.push(0);
                    i += 2;
                }
                _ => return None,
            }
        } else {
            key.push(b);
            i += 1;
        }
    }
    None
}

/// A timestamp as 8 bytes whose byte order is the numeric order (sign bit flipped).
pub(crate) fn encode_time(ts: i64) -> [u8; 8] {
    ((ts as u64) ^ (1 << 63)).to_be_bytes()
}

pub(crate) fn decode_time(bytes: &[u8]) -> Option<i64> {
    let arr: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
    Some((u64::from_be_bytes(arr) ^ (1 << 63)) as i64)
}

/// Store key of a window entry: `ordered(key) ++ time(start) ++ seqnum`.
pub(crate) fn window_store_key(key: &[u8], window_start: i64, seqnum: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 14);
    encode_ordered(key, &mut out);
    out.extend_from_slice(&encode_time(window_start));
    out.extend_from_slice(&seqnum.to_be_bytes());
    out
}

/// Parses a store key written by [`window_store_key`].
pub(crate) fn parse_window_store_key(buf: &[u8]) -> Option<(Vec<u8>, i64, u32)> {
    let (key, n) = decode_ordered(buf)?;
    let rest = &buf[n..];
    if rest.len() != 12 {
        return None;
    }
    let start = decode_time(&rest[..8])?;
    let seq = u32::from_be_bytes(rest[8..12].try_into().ok()?);
    Some((key, start, seq))
}

/// Store key of a session: `ordered(key) ++ time(end) ++ time(start)`.
pub(crate) fn session_store_key(key: &[u8], start: i64, end: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 18);
    encode_ordered(key, &mut out);
    out.extend_from_slice(&encode_time(end));
    out.extend_from_slice(&encode_time(start));
    out
}

/// Parses a store key written by [`session_store_key`]: `(key, start, end)`.
pub(crate) fn parse_session_store_key(buf: &[u8]) -> Option<(Vec<u8>, i64, i64)> {
    let (key, n) = decode_ordered(buf)?;
    let rest = &buf[n..];
    if rest.len() != 16 {
        return None;
    }
    let end = decode_time(&rest[..8])?;
    let start = decode_time(&rest[8..16])?;
    Some((key, start, end))
}

/// The smallest store key of all entries of `key` (any time).
pub(crate) fn key_lower_bound(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 2);
    encode_ordered(key, &mut out);
    out
}

/// The smallest byte string greater than every string starting with `prefix`, or `None` if
/// there is none (the prefix is all `0xff`).
pub(crate) fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut out = prefix.to_vec();
    while let Some(last) = out.pop() {
        if last < 0xff {
            out.push(last + 1);
            return Some(out);
        }
    }
    None
}

/// Changelog key of a window entry, Kafka's `WindowKeySchema.toStoreKeyBinary`:
/// `key ++ window_start (8 bytes, big-endian) ++ seqnum (4 bytes, big-endian)`.
pub fn window_changelog_key(key: &[u8], window_start: i64, seqnum: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 12);
    out.extend_from_slice(key);
    out.extend_from_slice(&window_start.to_be_bytes());
    out.extend_from_slice(&seqnum.to_be_bytes());
    out
}

/// Parses a window changelog key: `(key, window_start, seqnum)`, or `None` if it is too short.
pub fn parse_window_changelog_key(buf: &[u8]) -> Option<(Vec<u8>, i64, u32)> {
    let n = buf.len().checked_sub(12)?;
    let start = i64::from_be_bytes(buf[n..n + 8].try_into().ok()?);
    let seq = u32::from_be_bytes(buf[n + 8..].try_into().ok()?);
    Some((buf[..n].to_vec(), start, seq))
}

/// Changelog key of a session, Kafka's `SessionKeySchema.toBinary`:
/// `key ++ end (8 bytes, big-endian) ++ start (8 bytes, big-endian)`.
pub fn session_changelog_key(key: &[u8], start: i64, end: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 16);
    out.extend_from_slice(key);
    out.extend_from_slice(&end.to_be_bytes());
    out.extend_from_slice(&start.to_be_bytes());
    out
}

/// Parses a session changelog key: `(key, start, end)`, or `None` if it is too short.
pub fn parse_session_changelog_key(buf: &[u8]) -> Option<(Vec<u8>, i64, i64)> {
    let n = buf.len().checked_sub(16)?;
    let end = i64::from_be_bytes(buf[n..n + 8].try_into().ok()?);
    let start = i64::from_be_bytes(buf[n + 8..].try_into().ok()?);
    Some((buf[..n].to_vec(), start, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn window_keys_round_trip() {
        let k = window_store_key(b"a\x00b", -5, 7);
        assert_eq!(
            parse_window_store_key(&k),
            Some((b"a\x00b".to_vec(), -5, 7))
        );
        let c = window_changelog_key(b"key", 1000, 3);
        assert_eq!(
            parse_window_changelog_key(&c),
            Some((b"key".to_vec(), 1000, 3))
        );
        assert_eq!(parse_window_changelog_key(b"short"), None);
    }

    #[test]
    fn session_keys_round_trip() {
        let k = session_store_key(b"\x00\x00", 10, 20);
        assert_eq!(
            parse_session_store_key(&k),
            Some((b"\x00\x00".to_vec(), 10, 20))
        );
        let c = session_changelog_key(b"user", 10, 20);
        assert_eq!(
            parse_session_changelog_key(&c),
            Some((b"user".to_vec(), 10, 20))
        );
    }

    #[test]
    fn prefix_successor_skips_ff() {
        assert_eq!(prefix_successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_successor(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(b"\xff\xff"), None);
    }

    proptest! {
        #[test]
        fn ordered_encoding_preserves_order(a in proptest::collection::vec(0u8..4, 0..6),
                                            b in proptest::collection::vec(0u8..4, 0..6),
                                            ta in any::<i64>(), tb in any::<i64>()) {
            let ka = window_store_key(&a, ta, 0);
            let kb = window_store_key(&b, tb, 0);
            prop_assert_eq!(ka.cmp(&kb), (a.clone(), ta).cmp(&(b.clone(), tb)));
            prop_assert_eq!(parse_window_store_key(&ka), Some((a, ta, 0)));
        }
    }
}
