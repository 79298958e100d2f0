//! The two checksums of a FLAC frame (RFC 9639), shared by the encoder and
//! the decoder.

/// CRC-8 with polynomial x^8 + x^2 + x + 1, initial value 0 (RFC 9639 §9.1.8).
pub(crate) fn crc8(data: &[u8]) -> u8 {
    static TABLE: [u8; 256] = crc8_table();
    data.iter().fold(0u8, |crc, &b| TABLE[usize::from(crc ^ b)])
}

/// CRC-16 with polynomial x^16 + x^15 + x^2 + 1, initial value 0 (RFC 9639 §9.3).
///
/// Sixteen bytes per step ("slicing by 16"): table `k` gives the effect of
/// a byte followed by `k` zero bytes. Only the first two lookups of a step
/// wait for the previous one, so the chain is one step per 16 bytes.
pub(crate) fn crc16(data: &[u8]) -> u16 {
    static T: [[u16; 256]; 16] = crc16_tables();
    let mut crc = 0u16;
    let mut chunks = data.chunks_exact(16);
    for c in &mut chunks {
        // Two 8-byte loads, bytes taken out by shifts (fewer loads than
        // one per byte: the table lookups already keep the load ports busy).
        let (Ok(a), Ok(b)) = (<[u8; 8]>::try_from(&c[..8]), <[u8; 8]>::try_from(&c[8..])) else {
            break;
        };
        let a = u64::from_le_bytes(a) ^ u64::from(crc.swap_bytes());
        let b = u64::from_le_bytes(b);
        let byte = |w: u64, k: u32| usize::from((w >> (8 * k)) as u8);
        let mut x = 0u16;
        for k in 0..8 {
            x ^= T[15 - k as usize][byte(a, k)] ^ T[7 - k as usize][byte(b, k)];
        }
        crc = x;
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

const fn crc16_tables() -> [[u16; 256]; 16] {
    let mut t = [[0u16; 256]; 16];
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
    while s < 16 {
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
        for len in [0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 999, 1000] {
            assert_eq!(crc16(&data[..len]), crc16_bytewise(&data[..len]), "{len}");
        }
    }
}
