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

/// CRC-8 with polynomial x^8 + x^2 + x + 1, initial value 0 (RFC 9639 §9.1.8).
pub(super) fn crc8(data: &[u8]) -> u8 {
    static TABLE: [u8; 256] = crc8_table();
    data.iter().fold(0u8, |crc, &b| TABLE[usize::from(crc ^ b)])
}

/// CRC-16 with polynomial x^16 + x^15 + x^2 + 1, initial value 0 (RFC 9639 §9.3).
///
/// Eight bytes per step ("slicing by 8"): table `k` gives the effect of a
/// byte followed by `k` zero bytes.
pub(super) fn crc16(data: &[u8]) -> u16 {
    static T: [[u16; 256]; 8] = crc16_tables();
    let mut crc = 0u16;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let [hi, lo] = crc.to_be_bytes();
        crc = T[7][usize::from(hi ^ c[0])]
            ^ T[6][usize::from(lo ^ c[1])]
            ^ T[5][usize::from(c[2])]
            ^ T[4][usize::from(c[3])]
            ^ T[3][usize::from(c[4])]
            ^ T[2][usize::from(c[5])]
            ^ T[1][usize::from(c[6])]
            ^ T[0][usize::from(c[7])];
    }
    chunks.remainder().iter().fold(crc, |crc, &b| {
        (crc << 8) ^ T[0][usize::from((crc >> 8) as u8 ^ b)]
    })
}

const fn crc8_table() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u8;
        let mut k = 0;
        while k < 8 {
            c = if c & 0x80 != 0 {
                (c << 1) ^ 0x07
            } else {
                c << 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
}

const fn crc16_tables() -> [[u16; 256]; 8] {
    let mut t = [[0u16; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = (i as u16) << 8;
        let mut k = 0;
        while k < 8 {
            c = if c & 0x8000 != 0 {
                (c << 1) ^ 0x8005
            } else {
                c << 1
            };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut s = 1;
    while s < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = t[s - 1][i];
            t[s][i] = (prev << 8) ^ t[0][(prev >> 8) as usize];
            i += 1;
        }
        s += 1;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crc16_bytewise(data: &[u8]) -> u16 {
        data.iter().fold(0u16, |crc, &b| {
            let mut c = crc ^ (u16::from(b) << 8);
            for _ in 0..8 {
                c = if c & 0x8000 != 0 {
                    (c << 1) ^ 0x8005
                } else {
                    c << 1
                };
            }
            c
        })
    }

    #[test]
    fn crcs_match_the_catalogue_check_values() {
        // "123456789": CRC-8/SMBUS = 0xF4, CRC-16/UMTS (BUYPASS) = 0xFEE8.
        assert_eq!(crc8(b"123456789"), 0xF4);
        assert_eq!(crc16(b"123456789"), 0xFEE8);
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7919 % 251) as u8).collect();
        for len in [0, 1, 7, 8, 9, 15, 16, 17, 999, 1000] {
            assert_eq!(crc16(&data[..len]), crc16_bytewise(&data[..len]), "{len}");
        }
    }

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
