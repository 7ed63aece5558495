//! Zig-zag variable-length integers, the encoding of a v2 record's fields.
//!
//! Kafka calls them `varint` and `varlong` (`ByteUtils.readVarlong`/`writeVarlong`): the
//! sign folded into the lowest bit, then seven bits per byte, least significant first.
//! Record lengths, timestamp and offset deltas, key and value lengths all use it.

/// Reads a zig-zag varint at `pos`, advancing it; `None` if the input ends first or the
/// number runs past 64 bits.
pub(crate) fn read_varint(b: &[u8], pos: &mut usize) -> Option<i64> {
    let mut value: u64 = 0;
    let mut shift = 0;
    loop {
        let byte = *b.get(*pos)?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
    // zig-zag decoding
    Some(((value >> 1) as i64) ^ -((value & 1) as i64))
}

/// Appends `v` zig-zag varint encoded (the record fields Kafka calls `varint`/`varlong`).
pub(crate) fn put_varint(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    loop {
        let b = (z & 0x7f) as u8;
        z >>= 7;
        if z == 0 {
            out.push(b);
            break;
        }
        out.push(b | 0x80);
    }
}
