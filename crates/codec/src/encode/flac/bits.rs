//! Bit writer and the two FLAC checksums (RFC 9639 §9.1.8 CRC-8, §9.3 CRC-16).

/// Writes MSB-first bit fields into a byte vector.
#[derive(Debug, Default)]
pub(super) struct BitWriter {
    pub(super) bytes: Vec<u8>,
    /// Pending bits, right-aligned; fewer than 8 between calls.
    acc: u64,
    n: u32,
}

impl BitWriter {
    pub(super) fn clear(&mut self) {
        self.bytes.clear();
        self.acc = 0;
        self.n = 0;
    }

    /// Appends the low `n` bits of `v` (`n` at most 32).
    #[inline]
    pub(super) fn put(&mut self, n: u32, v: u64) {
        debug_assert!(n <= 32);
        if n == 0 {
            return;
        }
        self.acc = (self.acc << n) | (v & ((1u64 << n) - 1));
        self.n += n;
        while self.n >= 8 {
            self.n -= 8;
            self.bytes.push((self.acc >> self.n) as u8);
        }
        self.acc &= (1u64 << self.n) - 1;
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

    /// Appends `q` zero bits then a one (a unary quotient).
    #[inline]
    pub(super) fn unary(&mut self, mut q: u64) {
        while q >= 32 {
            self.put(32, 0);
            q -= 32;
        }
        self.put(q as u32 + 1, 1);
    }

    /// Pads with zero bits to the next byte boundary.
    pub(super) fn align(&mut self) {
        if self.n > 0 {
            let pad = 8 - self.n;
            self.put(pad, 0);
        }
    }
}

/// CRC-8 with polynomial x^8 + x^2 + x + 1, initial value 0 (RFC 9639 §9.1.8).
pub(super) fn crc8(data: &[u8]) -> u8 {
    static TABLE: [u8; 256] = crc8_table();
    data.iter().fold(0u8, |crc, &b| TABLE[usize::from(crc ^ b)])
}

/// CRC-16 with polynomial x^16 + x^15 + x^2 + 1, initial value 0 (RFC 9639 §9.3).
pub(super) fn crc16(data: &[u8]) -> u16 {
    static TABLE: [u16; 256] = crc16_table();
    data.iter().fold(0u16, |crc, &b| {
        (crc << 8) ^ TABLE[usize::from((crc >> 8) as u8 ^ b)]
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

const fn crc16_table() -> [u16; 256] {
    let mut t = [0u16; 256];
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
        t[i] = c;
        i += 1;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crcs_match_the_catalogue_check_values() {
        // "123456789": CRC-8/SMBUS = 0xF4, CRC-16/UMTS (BUYPASS) = 0xFEE8.
        assert_eq!(crc8(b"123456789"), 0xF4);
        assert_eq!(crc16(b"123456789"), 0xFEE8);
    }

    #[test]
    fn bit_writer_packs_msb_first() {
        let mut w = BitWriter::default();
        w.put(3, 0b101);
        w.unary(2); // 001
        w.put_wide(34, 0x3_0000_0001);
        w.put(3, 0b001);
        w.align();
        assert_eq!(w.bytes, vec![0b1010_0111, 0, 0, 0, 1, 0b0010_0000]);
    }
}
