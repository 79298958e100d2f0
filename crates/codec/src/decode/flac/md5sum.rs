//! MD5 (RFC 1321), for STREAMINFO's signature of the decoded audio
//! (RFC 9639 §8.2).
//!
//! Checking the signature hashes every decoded byte, and MD5 is a chain of
//! 64 dependent steps per 64-byte block, so its speed is the latency of
//! one step. The round functions are written in forms with a shorter
//! chain from the step's newest input (`x` below) than the textbook ones,
//! and the message word and constant are added off the chain:
//!
//! - F: `(x & y) | (!x & z)` = `((y ^ z) & x) ^ z`
//! - G: `(x & z) | (y & !z)` = `(x & z) + (y & !z)` (no bit is set in
//!   both), so `y & !z` joins the sum early;
//! - H: `x ^ y ^ z` with `y ^ z` first;
//! - I: `y ^ (x | !z)` as it is.
//!
//! The same digest as any MD5; the tests compare it with the `md-5` crate.

/// The constants of the 64 steps (RFC 1321 §3.4: `floor(abs(sin(i + 1)) ·
/// 2^32)`).
const K: [u32; 64] = [
    0xd76a_a478,
    0xe8c7_b756,
    0x2420_70db,
    0xc1bd_ceee,
    0xf57c_0faf,
    0x4787_c62a,
    0xa830_4613,
    0xfd46_9501,
    0x6980_98d8,
    0x8b44_f7af,
    0xffff_5bb1,
    0x895c_d7be,
    0x6b90_1122,
    0xfd98_7193,
    0xa679_438e,
    0x49b4_0821,
    0xf61e_2562,
    0xc040_b340,
    0x265e_5a51,
    0xe9b6_c7aa,
    0xd62f_105d,
    0x0244_1453,
    0xd8a1_e681,
    0xe7d3_fbc8,
    0x21e1_cde6,
    0xc337_07d6,
    0xf4d5_0d87,
    0x455a_14ed,
    0xa9e3_e905,
    0xfcef_a3f8,
    0x676f_02d9,
    0x8d2a_4c8a,
    0xfffa_3942,
    0x8771_f681,
    0x6d9d_6122,
    0xfde5_380c,
    0xa4be_ea44,
    0x4bde_cfa9,
    0xf6bb_4b60,
    0xbebf_bc70,
    0x289b_7ec6,
    0xeaa1_27fa,
    0xd4ef_3085,
    0x0488_1d05,
    0xd9d4_d039,
    0xe6db_99e5,
    0x1fa2_7cf8,
    0xc4ac_5665,
    0xf429_2244,
    0x432a_ff97,
    0xab94_23a7,
    0xfc93_a039,
    0x655b_59c3,
    0x8f0c_cc92,
    0xffef_f47d,
    0x8584_5dd1,
    0x6fa8_7e4f,
    0xfe2c_e6e0,
    0xa301_4314,
    0x4e08_11a1,
    0xf753_7e82,
    0xbd3a_f235,
    0x2ad7_d2bb,
    0xeb86_d391,
];

/// The initial state (RFC 1321 §3.3).
const INIT: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

/// A running MD5.
#[derive(Clone)]
pub(super) struct Md5 {
    state: [u32; 4],
    /// Bytes of an incomplete block.
    pending: [u8; 64],
    pending_len: usize,
    /// Bytes hashed so far.
    len: u64,
}

impl Md5 {
    pub(super) fn new() -> Self {
        Md5 {
            state: INIT,
            pending: [0; 64],
            pending_len: 0,
            len: 0,
        }
    }

    pub(super) fn update(&mut self, mut data: &[u8]) {
        self.len = self.len.wrapping_add(data.len() as u64);
        if self.pending_len > 0 {
            let take = (64 - self.pending_len).min(data.len());
            let (head, rest) = data.split_at(take);
            if let Some(dst) = self
                .pending
                .get_mut(self.pending_len..self.pending_len + take)
            {
                dst.copy_from_slice(head);
            }
            self.pending_len += take;
            data = rest;
            if self.pending_len < 64 {
                return;
            }
            let block = self.pending;
            compress(&mut self.state, &block);
            self.pending_len = 0;
        }
        let mut blocks = data.chunks_exact(64);
        for b in &mut blocks {
            if let Ok(b) = <&[u8; 64]>::try_from(b) {
                compress(&mut self.state, b);
            }
        }
        let rest = blocks.remainder();
        if let Some(dst) = self.pending.get_mut(..rest.len()) {
            dst.copy_from_slice(rest);
        }
        self.pending_len = rest.len();
    }

    /// The digest (RFC 1321 §3.1-3.2: a one bit, zeros to 56 bytes mod
    /// 64, the length in bits, little-endian).
    pub(super) fn finalize(mut self) -> [u8; 16] {
        let bits = self.len.wrapping_mul(8);
        let pad = if self.pending_len < 56 {
            56 - self.pending_len
        } else {
            120 - self.pending_len
        };
        let mut tail = [0u8; 72];
        tail[0] = 0x80;
        self.update(tail.get(..pad).unwrap_or_default());
        self.update(&bits.to_le_bytes());
        let mut out = [0u8; 16];
        for (d, s) in out.chunks_exact_mut(4).zip(self.state) {
            d.copy_from_slice(&s.to_le_bytes());
        }
        out
    }
}

/// One step: `a = x + rotl(a + f + m + k, s)`, with the message word and
/// constant added first (they do not wait for the previous step).
macro_rules! step {
    (F, $a:ident, $x:ident, $y:ident, $z:ident, $m:expr, $k:expr, $s:expr) => {
        $a = $a
            .wrapping_add($m.wrapping_add($k))
            .wrapping_add((($y ^ $z) & $x) ^ $z)
            .rotate_left($s)
            .wrapping_add($x);
    };
    (G, $a:ident, $x:ident, $y:ident, $z:ident, $m:expr, $k:expr, $s:expr) => {
        $a = $a
            .wrapping_add($m.wrapping_add($k))
            .wrapping_add($y & !$z)
            .wrapping_add($x & $z)
            .rotate_left($s)
            .wrapping_add($x);
    };
    (H, $a:ident, $x:ident, $y:ident, $z:ident, $m:expr, $k:expr, $s:expr) => {
        $a = $a
            .wrapping_add($m.wrapping_add($k))
            .wrapping_add(($y ^ $z) ^ $x)
            .rotate_left($s)
            .wrapping_add($x);
    };
    (I, $a:ident, $x:ident, $y:ident, $z:ident, $m:expr, $k:expr, $s:expr) => {
        $a = $a
            .wrapping_add($m.wrapping_add($k))
            .wrapping_add($y ^ ($x | !$z))
            .rotate_left($s)
            .wrapping_add($x);
    };
}

/// Four steps of one round over message words `i0..i3` (RFC 1321 §3.4).
macro_rules! four {
    ($f:ident, $st:ident, $m:ident, $k0:expr, [$i0:expr, $i1:expr, $i2:expr, $i3:expr], [$s0:expr, $s1:expr, $s2:expr, $s3:expr]) => {
        let [mut a, mut b, mut c, mut d] = $st;
        step!($f, a, b, c, d, $m[$i0], K[$k0], $s0);
        step!($f, d, a, b, c, $m[$i1], K[$k0 + 1], $s1);
        step!($f, c, d, a, b, $m[$i2], K[$k0 + 2], $s2);
        step!($f, b, c, d, a, $m[$i3], K[$k0 + 3], $s3);
        $st = [a, b, c, d];
    };
}

fn compress(state: &mut [u32; 4], block: &[u8; 64]) {
    let mut m = [0u32; 16];
    for (w, b) in m.iter_mut().zip(block.chunks_exact(4)) {
        *w = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
    let mut s = *state;
    four!(F, s, m, 0, [0, 1, 2, 3], [7, 12, 17, 22]);
    four!(F, s, m, 4, [4, 5, 6, 7], [7, 12, 17, 22]);
    four!(F, s, m, 8, [8, 9, 10, 11], [7, 12, 17, 22]);
    four!(F, s, m, 12, [12, 13, 14, 15], [7, 12, 17, 22]);
    four!(G, s, m, 16, [1, 6, 11, 0], [5, 9, 14, 20]);
    four!(G, s, m, 20, [5, 10, 15, 4], [5, 9, 14, 20]);
    four!(G, s, m, 24, [9, 14, 3, 8], [5, 9, 14, 20]);
    four!(G, s, m, 28, [13, 2, 7, 12], [5, 9, 14, 20]);
    four!(H, s, m, 32, [5, 8, 11, 14], [4, 11, 16, 23]);
    four!(H, s, m, 36, [1, 4, 7, 10], [4, 11, 16, 23]);
    four!(H, s, m, 40, [13, 0, 3, 6], [4, 11, 16, 23]);
    four!(H, s, m, 44, [9, 12, 15, 2], [4, 11, 16, 23]);
    four!(I, s, m, 48, [0, 7, 14, 5], [6, 10, 15, 21]);
    four!(I, s, m, 52, [12, 3, 10, 1], [6, 10, 15, 21]);
    four!(I, s, m, 56, [8, 15, 6, 13], [6, 10, 15, 21]);
    four!(I, s, m, 60, [4, 11, 2, 9], [6, 10, 15, 21]);
    for (st, v) in state.iter_mut().zip(s) {
        *st = st.wrapping_add(v);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use md5::Digest;

    fn hex(d: [u8; 16]) -> String {
        d.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn rfc_1321_test_suite() {
        // RFC 1321 appendix A.5.
        for (input, want) in [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("a", "0cc175b9c0f1b6a831c399e269772661"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                "abcdefghijklmnopqrstuvwxyz",
                "c3fcd3d76192e4007dfb496cca67e13b",
            ),
            (
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                "d174ab98d277d9f5a5611c2c9f419d9f",
            ),
            (
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ] {
            let mut m = Md5::new();
            m.update(input.as_bytes());
            assert_eq!(hex(m.finalize()), want, "{input:?}");
        }
    }

    #[test]
    fn same_digest_as_the_md5_crate_in_any_pieces() {
        let mut rng = 0x9E37_79B9u32;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 17;
            rng ^= rng << 5;
            rng
        };
        let data: Vec<u8> = (0..5000).map(|_| next() as u8).collect();
        for len in [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 5000] {
            let want: [u8; 16] = md5::Md5::digest(&data[..len]).into();
            // In one piece and in random pieces.
            let mut m = Md5::new();
            m.update(&data[..len]);
            assert_eq!(m.finalize(), want, "length {len}");
            let mut m = Md5::new();
            let mut at = 0;
            while at < len {
                let n = (next() as usize % 150).min(len - at);
                m.update(&data[at..at + n]);
                at += n;
            }
            assert_eq!(m.finalize(), want, "length {len} in pieces");
        }
    }
}
