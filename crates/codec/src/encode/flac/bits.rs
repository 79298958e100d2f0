//! Bit writer and the two FLAC checksums (RFC 9639 §9.1.8 CRC-8, §9.3 CRC-16).

/// Writes MSB-first bit fields into a byte buffer.
///
/// Pending bits sit right-aligned in `acc`; after every call fewer than 8
/// of them are pending, the whole bytes having been stored at `pos`. The
/// store is always 8 bytes wide (the buffer keeps 8 bytes of slack), which
/// keeps the hot path free of per-byte loops.
#[derive(Debug, Default)]
pub(super) struct BitWriter {
    buf: Vec<u8>,
    /// Bytes complete so far.
    pos: usize,
    acc: u64,
    /// Pending bits in `acc` (0–7 between calls).
    count: u32,
}

/// A position to rewind to (see [`BitWriter::mark`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct Mark {
    pos: usize,
    acc: u64,
    count: u32,
}

/// Longest field [`BitWriter::put_raw`] takes.
pub(super) const MAX_RAW: u32 = 56;

impl BitWriter {
    pub(super) fn clear(&mut self) {
        self.pos = 0;
        self.acc = 0;
        self.count = 0;
    }

    /// Makes room for at least `bits` more bits without reallocating.
    pub(super) fn reserve_bits(&mut self, bits: u64) {
        let need = self.pos + (bits / 8) as usize + 16;
        if self.buf.len() < need {
            self.buf.resize(need.max(self.buf.len() * 2), 0);
        }
    }

    /// Bits written so far.
    pub(super) fn bit_len(&self) -> u64 {
        self.pos as u64 * 8 + u64::from(self.count)
    }

    pub(super) fn mark(&self) -> Mark {
        Mark {
            pos: self.pos,
            acc: self.acc,
            count: self.count,
        }
    }

    /// Forgets everything written after `m`.
    pub(super) fn rewind(&mut self, m: Mark) {
        self.pos = m.pos;
        self.acc = m.acc;
        self.count = m.count;
    }

    /// Appends `n` bits (`n` at most [`MAX_RAW`]) of `v`, which must have
    /// no bits set above them.
    #[inline(always)]
    pub(super) fn put_raw(&mut self, n: u32, v: u64) {
        debug_assert!(n <= MAX_RAW && (n == 64 || v >> n == 0));
        self.acc = (self.acc << n) | v;
        self.count += n;
        if self.pos + 8 > self.buf.len() {
            self.grow();
        }
        if self.count == 0 {
            return;
        }
        let word = (self.acc << (64 - self.count)).to_be_bytes();
        if let Some(dst) = self.buf.get_mut(self.pos..self.pos + 8) {
            dst.copy_from_slice(&word);
        }
        self.pos += (self.count / 8) as usize;
        self.count %= 8;
    }

    #[cold]
    fn grow(&mut self) {
        let len = (self.buf.len() * 2).max(self.pos + 4096);
        self.buf.resize(len, 0);
    }

    /// Appends the low `n` bits of `v` (`n` at most 32).
    #[inline]
    pub(super) fn put(&mut self, n: u32, v: u64) {
        debug_assert!(n <= 32);
        self.put_raw(n, v & ((1u64 << n) - 1));
    }

    /// Appends the low `n` bits of `v` (`n` up to 64).
    pub(super) fn put_wide(&mut self, n: u32, v: u64) {
        if n > 32 {
            self.put(n - 32, v >> 32);
            self.put(32, v);
        } else {
            self.put(n, v);
        }
    }

    /// Appends `n` zero bits.
    #[inline]
    pub(super) fn zeros(&mut self, mut n: u64) {
        while n > u64::from(MAX_RAW) {
            self.put_raw(MAX_RAW, 0);
            n -= u64::from(MAX_RAW);
        }
        self.put_raw(n as u32, 0);
    }

    /// Appends `q` zero bits then a one (a unary quotient).
    #[inline]
    pub(super) fn unary(&mut self, q: u64) {
        if q < u64::from(MAX_RAW) {
            self.put_raw(q as u32 + 1, 1);
        } else {
            self.zeros(q);
            self.put_raw(1, 1);
        }
    }

    /// Pads with zero bits to the next byte boundary.
    pub(super) fn align(&mut self) {
        if self.count > 0 {
            self.put_raw(8 - self.count, 0);
        }
    }

    /// The complete bytes written so far (call [`Self::align`] first to
    /// include a partial last byte).
    pub(super) fn bytes(&self) -> &[u8] {
        self.buf.get(..self.pos).unwrap_or(&[])
    }
}

pub(super) use crate::flac_crc::{crc16, crc8};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_writer_packs_msb_first() {
        let mut w = BitWriter::default();
        w.put(3, 0b101);
        w.unary(2); // 001
        w.put_wide(34, 0x3_0000_0001);
        w.put(3, 0b001);
        w.align();
        assert_eq!(w.bytes(), &[0b1010_0111, 0, 0, 0, 1, 0b0010_0000]);
        assert_eq!(w.bit_len(), 48);
    }

    #[test]
    fn long_unary_runs_and_rewind() {
        let mut w = BitWriter::default();
        w.put(1, 1);
        let m = w.mark();
        w.unary(200);
        assert_eq!(w.bit_len(), 202);
        w.rewind(m);
        w.unary(100);
        w.align();
        let b = w.bytes();
        assert_eq!(b.len(), 13);
        assert_eq!(b[0], 0x80);
        assert!(b[1..12].iter().all(|&x| x == 0));
        // Bit 101 (0-based) is the stop bit: byte 12, bit 5 from the top.
        assert_eq!(b[12], 0b0000_0100);
    }
}
