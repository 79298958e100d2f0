//! A big-endian bit reader over a byte slice, and FLAC's CRCs.
//!
//! The reader keeps up to 63 bits in a `u64` cache, refilled eight bytes at
//! a time while at least eight bytes are left. Past the end of the slice it
//! reads zeros and remembers that it did: [`BitReader::overrun`] tells the
//! caller the data ran out (a truncated file, or a frame longer than the
//! window it was given), and every loop that could run on zeros forever
//! checks it.

/// Why a frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ReadError {
    /// The data ended before the frame did.
    Eof,
    /// The frame is malformed; the message says how.
    Bad(String),
}

pub(super) type ReadResult<T> = Result<T, ReadError>;

pub(super) fn bad<T>(msg: impl Into<String>) -> ReadResult<T> {
    Err(ReadError::Bad(msg.into()))
}

pub(super) struct BitReader<'a> {
    data: &'a [u8],
    /// Next byte to load into the cache (may pass `data.len()` when zeros
    /// were loaded past the end).
    pos: usize,
    /// Unread bits, left-aligned; bits below the top `nbits` are the
    /// following data (or zero), never garbage.
    cache: u64,
    nbits: u32,
}

impl<'a> BitReader<'a> {
    pub(super) fn new(data: &'a [u8]) -> Self {
        let mut r = BitReader {
            data,
            pos: 0,
            cache: 0,
            nbits: 0,
        };
        r.refill();
        r
    }

    /// Bits read so far.
    pub(super) fn bit_pos(&self) -> usize {
        self.pos * 8 - self.nbits as usize
    }

    /// True when more bits were read than the slice holds.
    pub(super) fn overrun(&self) -> bool {
        self.bit_pos() > self.data.len() * 8
    }

    /// Fails with [`ReadError::Eof`] when the data ran out.
    pub(super) fn check(&self) -> ReadResult<()> {
        if self.overrun() {
            Err(ReadError::Eof)
        } else {
            Ok(())
        }
    }

    /// Tops the cache up to at least 56 bits.
    #[inline(always)]
    pub(super) fn refill(&mut self) {
        if let Some(b) = self.data.get(self.pos..self.pos + 8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(b);
            // The bits below the new top `nbits` are the same data loaded
            // again, so OR-ing them in is harmless.
            self.cache |= u64::from_be_bytes(w) >> self.nbits;
            let bytes = (63 - self.nbits) >> 3;
            self.pos += bytes as usize;
            self.nbits += bytes * 8;
        } else {
            self.refill_slow();
        }
    }

    #[cold]
    fn refill_slow(&mut self) {
        while self.nbits <= 56 {
            let b = self.data.get(self.pos).copied().unwrap_or(0);
            self.cache |= u64::from(b) << (56 - self.nbits);
            self.pos += 1;
            self.nbits += 8;
        }
    }

    /// Reads `n` bits (0 to 32) as an unsigned number.
    #[inline(always)]
    pub(super) fn read(&mut self, n: u32) -> u32 {
        debug_assert!(n <= 32);
        if n == 0 {
            return 0;
        }
        if self.nbits < n {
            self.refill();
        }
        let v = (self.cache >> (64 - n)) as u32;
        self.cache <<= n;
        self.nbits -= n;
        v
    }

    /// Reads `n` bits (0 to 33) as a two's complement number.
    #[inline(always)]
    pub(super) fn read_signed(&mut self, n: u32) -> i64 {
        match n {
            0 => 0,
            33 => {
                let hi = i64::from(self.read(1));
                let lo = i64::from(self.read(32));
                ((hi << 63) >> 31) | lo
            }
            _ => {
                let v = i64::from(self.read(n));
                (v << (64 - n)) >> (64 - n)
            }
        }
    }

    /// Reads a unary number: zeros ended by a one (RFC 9639 §9.2.7.1).
    pub(super) fn read_unary(&mut self) -> ReadResult<u32> {
        let mut count = 0u32;
        loop {
            if self.nbits == 0 {
                self.refill();
            }
            let lz = self.cache.leading_zeros();
            if lz < self.nbits {
                self.cache <<= lz;
                self.cache <<= 1;
                self.nbits -= lz + 1;
                return Ok(count.saturating_add(lz));
            }
            count = count.saturating_add(self.nbits);
            self.cache = 0;
            self.nbits = 0;
            self.check()?;
        }
    }

    /// Skips to the next byte boundary.
    pub(super) fn align(&mut self) {
        let r = self.nbits % 8;
        self.cache <<= r;
        self.nbits -= r;
    }

    /// Byte offset of the next unread byte; call after [`Self::align`].
    pub(super) fn byte_pos(&self) -> usize {
        self.bit_pos() / 8
    }

    /// Reads Rice-coded residuals with parameter `k` (0 to 30) into `out`
    /// (RFC 9639 §9.2.7.3): a unary quotient, `k` low bits, and the
    /// zigzag-folded value.
    pub(super) fn read_rice(&mut self, k: u32, out: &mut [i32]) -> ReadResult<()> {
        // The reader's state lives in locals (registers) for the loop:
        // kept in `self`, every residual would store it and load it back,
        // which puts store-to-load forwarding on the chain from one code
        // to the next.
        let data = self.data;
        let (mut cache, mut nbits, mut pos) = (self.cache, self.nbits, self.pos);
        for o in out.iter_mut() {
            // A code of a few bits (the common case) fits in 32: refill
            // only below that, about every third or fourth residual.
            if nbits < 32 {
                if let Some(b) = data.get(pos..pos + 8) {
                    let mut w = [0u8; 8];
                    w.copy_from_slice(b);
                    cache |= u64::from_be_bytes(w) >> nbits;
                    let bytes = (63 - nbits) >> 3;
                    pos += bytes as usize;
                    nbits += bytes * 8;
                } else {
                    (self.cache, self.nbits, self.pos) = (cache, nbits, pos);
                    self.refill_slow();
                    (cache, nbits, pos) = (self.cache, self.nbits, self.pos);
                }
            }
            let lz = cache.leading_zeros();
            // Fast path: the quotient, its stop bit and the low bits are
            // all in the cache.
            let len = lz + 1 + k;
            let u = if len <= nbits {
                // `len` <= 63 here, so both shifts are in range. The top
                // `len` bits are `lz` zeros, the stop bit and the low
                // bits: `top` is `(1 << k) | low`. Only the shift of the
                // cache is on the chain to the next code.
                let top = cache >> (64 - len);
                cache <<= len;
                nbits -= len;
                (u64::from(lz) << k) + top - (1u64 << k)
            } else {
                (self.cache, self.nbits, self.pos) = (cache, nbits, pos);
                let q = self.read_unary()?;
                let low = u64::from(self.read(k));
                (cache, nbits, pos) = (self.cache, self.nbits, self.pos);
                (u64::from(q) << k) | low
            };
            if u > u64::from(u32::MAX) {
                (self.cache, self.nbits, self.pos) = (cache, nbits, pos);
                self.check()?;
                return bad("a residual is larger than 32 bits");
            }
            let u = u as u32;
            *o = ((u >> 1) as i32) ^ -((u & 1) as i32);
        }
        (self.cache, self.nbits, self.pos) = (cache, nbits, pos);
        self.check()
    }
}

pub(super) use crate::flac_crc::{crc16, crc8};

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_bits_unary_and_signed_values() {
        let data = [0b1010_0000, 0b0000_0001, 0xFF, 0x80];
        let mut r = BitReader::new(&data);
        assert_eq!(r.read(3), 0b101);
        assert_eq!(r.read_unary().unwrap(), 12);
        assert_eq!(r.read_signed(4), -1);
        assert_eq!(r.read(4), 0xF);
        assert_eq!(r.read(1), 1);
        assert!(!r.overrun());
        assert_eq!(r.read(8), 0);
        assert!(r.overrun());
        // A unary run into the end of the data is an end-of-data error.
        let mut r = BitReader::new(&[0, 0]);
        assert_eq!(r.read_unary(), Err(ReadError::Eof));
        // 33-bit two's complement.
        let mut r = BitReader::new(&[0x80, 0, 0, 0, 0]);
        assert_eq!(r.read_signed(33), -(1i64 << 32));
    }

    #[test]
    fn rice_codes_fast_and_slow() {
        // k = 2: 0 -> "1 00", -1 -> "1 01", 1 -> "1 10", then a quotient of
        // 70 (longer than the cache) with low bits 01: 281 -> -141.
        let mut bits = String::from("100101110");
        bits.push_str(&"0".repeat(70));
        bits.push_str("101");
        while bits.len() % 8 != 0 {
            bits.push('0');
        }
        let bytes: Vec<u8> = bits
            .as_bytes()
            .chunks(8)
            .map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap(), 2).unwrap())
            .collect();
        let mut out = [0i32; 4];
        BitReader::new(&bytes).read_rice(2, &mut out).unwrap();
        assert_eq!(out, [0, -1, 1, -141]);
    }
}
