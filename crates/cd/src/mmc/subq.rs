//! The Q sub-channel: 96 bits per sector, 80 of data and a 16-bit CRC.
//!
//! Layout per IEC 60908 (Red Book) §17.5, the Q channel (ECMA-130 §22.3
//! gives the same for CD-ROM): CONTROL (4 bits) and ADR (4 bits), 72 bits of
//! data whose meaning ADR selects, and a CRC-16 over those 80 bits
//! (polynomial x^16 + x^12 + x^5 + 1, stored inverted). MMC-6 §6.19 (READ CD,
//! Sub-channel Selection field) gives the same layout as drives return it
//! from READ CD: formatted Q is 16 bytes (these 12 and 4 pad bytes), raw P-W
//! is 96 bytes with one bit of each sub-channel per byte (P in bit 7, Q in
//! bit 6, R…W in bits 5…0).

use aj_core::Msf;

/// ADR 1: position (track, index, times) (IEC 60908 §17.5, Q mode 1).
pub const ADR_POSITION: u8 = 1;
/// ADR 2: Media Catalogue Number (IEC 60908 §17.5, Q mode 2).
pub const ADR_MCN: u8 = 2;
/// ADR 3: ISRC (IEC 60908 §17.5, Q mode 3).
pub const ADR_ISRC: u8 = 3;
/// The track number of the lead-out in Q (TNO = AAh).
pub const LEAD_OUT_TRACK: u8 = 0xAA;
/// Bytes of Q data as it sits on the disc (10 data + 2 CRC).
pub const Q_LEN: usize = 12;
/// Bytes of raw P-W sub-channel per sector.
pub const RAW_PW_LEN: usize = 96;

/// CRC-16/CCITT as the Q sub-channel and CD-TEXT packs use it: polynomial
/// 1021h, initial value 0, no reflection. Both store the complement.
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// Binary to BCD (`v` below 100).
pub fn to_bcd(v: u8) -> u8 {
    ((v / 10) << 4) | (v % 10)
}

/// BCD to binary; `None` when a nibble is above 9.
pub fn from_bcd(b: u8) -> Option<u8> {
    let (hi, lo) = (b >> 4, b & 0x0F);
    (hi <= 9 && lo <= 9).then_some(hi * 10 + lo)
}

/// What a Q frame says, by ADR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QData {
    /// ADR 1 in the program area and lead-out: where the laser is.
    Position {
        /// Track number (binary), or [`LEAD_OUT_TRACK`].
        track: u8,
        /// Index (binary): 0 in a pregap, 1…99 in a track.
        index: u8,
        /// Time within the track; counts down towards INDEX 01 in a pregap.
        relative: Msf,
        /// Time on the disc (LBA + 150).
        absolute: Msf,
    },
    /// ADR 2: the 13-digit Media Catalogue Number (UPC/EAN).
    Mcn {
        mcn: String,
        /// The frame part of the absolute time.
        aframe: u8,
    },
    /// ADR 3: the 12-character ISRC of the current track.
    Isrc {
        isrc: String,
        /// The frame part of the absolute time.
        aframe: u8,
    },
    /// Any other ADR (lead-in pointers, ADR 5 multisession…): raw bytes 1..10.
    Other { data: [u8; 9] },
}

/// One decoded Q frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QFrame {
    /// CONTROL bits: 0x1 pre-emphasis, 0x2 copy permitted, 0x4 data track,
    /// 0x8 four-channel audio.
    pub control: u8,
    /// The ADR mode (see [`QData`]).
    pub adr: u8,
    pub data: QData,
}

/// Why a Q frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QError {
    /// Fewer than 12 bytes.
    Short(usize),
    /// The CRC does not match: the frame was misread.
    Crc { stored: u16, computed: u16 },
    /// A field that must be BCD is not, or a character code is out of range.
    Malformed(&'static str),
}

impl std::fmt::Display for QError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QError::Short(n) => write!(f, "Q sub-channel frame of {n} bytes (12 needed)"),
            QError::Crc { stored, computed } => write!(
                f,
                "Q sub-channel CRC mismatch (stored {stored:04X}h, computed {computed:04X}h)"
            ),
            QError::Malformed(what) => write!(f, "Q sub-channel frame with a bad {what}"),
        }
    }
}

impl std::error::Error for QError {}

fn msf_from_bcd(b: &[u8]) -> Option<Msf> {
    let (m, s, f) = (from_bcd(b[0])?, from_bcd(b[1])?, from_bcd(b[2])?);
    (s < 60 && f < 75).then_some(Msf { m, s, f })
}

/// ISRC characters in Q are 6-bit codes: '0'…'9' are 00h…09h and 'A'…'Z'
/// are 11h…2Ah (IEC 60908 §17.5, Q mode 3: the 6-bit ISRC character
/// codes).
fn isrc_char_from_code(c: u8) -> Option<char> {
    match c {
        0x00..=0x09 => Some(char::from(b'0' + c)),
        0x11..=0x2A => Some(char::from(b'A' + (c - 0x11))),
        _ => None,
    }
}

fn isrc_code_from_char(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'A'..=b'Z' => Some(c - b'A' + 0x11),
        b'a'..=b'z' => Some(c - b'a' + 0x11),
        _ => None,
    }
}

/// Decodes 12 bytes of Q (formatted Q from READ CD is these plus 4 pad
/// bytes), checking the CRC.
///
/// # Errors
/// [`QError`] for a short buffer, a CRC mismatch or malformed fields.
pub fn decode(bytes: &[u8]) -> Result<QFrame, QError> {
    let q: &[u8; Q_LEN] = bytes
        .get(..Q_LEN)
        .and_then(|b| b.try_into().ok())
        .ok_or(QError::Short(bytes.len()))?;
    let stored = !u16::from_be_bytes([q[10], q[11]]);
    let computed = crc16(&q[..10]);
    if stored != computed {
        return Err(QError::Crc { stored, computed });
    }
    decode_unchecked(q)
}

/// Decodes 12 bytes of Q without looking at the CRC.
///
/// # Errors
/// [`QError::Malformed`] for fields that are not BCD or not valid characters.
pub fn decode_unchecked(q: &[u8; Q_LEN]) -> Result<QFrame, QError> {
    let control = q[0] >> 4;
    let adr = q[0] & 0x0F;
    let data = match adr {
        ADR_POSITION => {
            let track = if q[1] == LEAD_OUT_TRACK {
                LEAD_OUT_TRACK
            } else {
                from_bcd(q[1]).ok_or(QError::Malformed("track number"))?
            };
            let index = from_bcd(q[2]).ok_or(QError::Malformed("index"))?;
            let relative = msf_from_bcd(&q[3..6]).ok_or(QError::Malformed("relative time"))?;
            let absolute = msf_from_bcd(&q[7..10]).ok_or(QError::Malformed("absolute time"))?;
            QData::Position {
                track,
                index,
                relative,
                absolute,
            }
        }
        ADR_MCN => {
            // 13 BCD digits in bytes 1..7 (the low nibble of byte 7 is zero).
            let mut mcn = String::with_capacity(13);
            for i in 0..13 {
                let b = q[1 + i / 2];
                let d = if i % 2 == 0 { b >> 4 } else { b & 0x0F };
                if d > 9 {
                    return Err(QError::Malformed("catalogue number digit"));
                }
                mcn.push(char::from(b'0' + d));
            }
            QData::Mcn {
                mcn,
                aframe: from_bcd(q[9]).unwrap_or(0),
            }
        }
        ADR_ISRC => {
            // Five 6-bit characters in 30 bits from byte 1, 2 zero bits,
            // then 7 BCD digits (year, serial) and 4 zero bits.
            let bits = u64::from_be_bytes([q[1], q[2], q[3], q[4], q[5], q[6], q[7], q[8]]);
            let mut isrc = String::with_capacity(12);
            for i in 0..5 {
                let code = ((bits >> (58 - 6 * i)) & 0x3F) as u8;
                isrc.push(isrc_char_from_code(code).ok_or(QError::Malformed("ISRC character"))?);
            }
            for i in 0..7 {
                let d = ((bits >> (28 - 4 * i)) & 0x0F) as u8;
                if d > 9 {
                    return Err(QError::Malformed("ISRC digit"));
                }
                isrc.push(char::from(b'0' + d));
            }
            QData::Isrc {
                isrc,
                aframe: from_bcd(q[9]).unwrap_or(0),
            }
        }
        _ => {
            let mut data = [0u8; 9];
            data.copy_from_slice(&q[1..10]);
            QData::Other { data }
        }
    };
    Ok(QFrame { control, adr, data })
}

/// Encodes a Q frame with its CRC. `None` when a field cannot be encoded
/// (an MCN that is not 13 digits, an ISRC that is not 5 letters/digits and
/// 7 digits, times out of range).
pub fn encode(frame: &QFrame) -> Option<[u8; Q_LEN]> {
    let mut q = [0u8; Q_LEN];
    q[0] = (frame.control << 4) | (frame.adr & 0x0F);
    match &frame.data {
        QData::Position {
            track,
            index,
            relative,
            absolute,
        } => {
            q[1] = if *track == LEAD_OUT_TRACK {
                LEAD_OUT_TRACK
            } else if *track < 100 {
                to_bcd(*track)
            } else {
                return None;
            };
            if *index >= 100 || relative.m >= 100 || absolute.m >= 100 {
                return None;
            }
            q[2] = to_bcd(*index);
            q[3..6].copy_from_slice(&[to_bcd(relative.m), to_bcd(relative.s), to_bcd(relative.f)]);
            q[7..10].copy_from_slice(&[to_bcd(absolute.m), to_bcd(absolute.s), to_bcd(absolute.f)]);
        }
        QData::Mcn { mcn, aframe } => {
            let digits = mcn.as_bytes();
            if digits.len() != 13 || !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            for (i, d) in digits.iter().enumerate() {
                let d = d - b'0';
                q[1 + i / 2] |= if i % 2 == 0 { d << 4 } else { d };
            }
            q[9] = to_bcd(*aframe % 75);
        }
        QData::Isrc { isrc, aframe } => {
            let c = isrc.as_bytes();
            if c.len() != 12 || !c[5..].iter().all(u8::is_ascii_digit) {
                return None;
            }
            let mut bits: u64 = 0;
            for (i, ch) in c[..5].iter().enumerate() {
                bits |= u64::from(isrc_code_from_char(*ch)?) << (58 - 6 * i);
            }
            for (i, ch) in c[5..].iter().enumerate() {
                bits |= u64::from(ch - b'0') << (28 - 4 * i);
            }
            q[1..9].copy_from_slice(&bits.to_be_bytes());
            q[9] = to_bcd(*aframe % 75);
        }
        QData::Other { data } => q[1..10].copy_from_slice(data),
    }
    let crc = !crc16(&q[..10]);
    q[10..12].copy_from_slice(&crc.to_be_bytes());
    Some(q)
}

/// The Q bits of 96 bytes of raw P-W sub-channel (bit 6 of each byte).
pub fn q_from_raw(raw: &[u8]) -> Option<[u8; Q_LEN]> {
    let raw = raw.get(..RAW_PW_LEN)?;
    let mut q = [0u8; Q_LEN];
    for (i, b) in raw.iter().enumerate() {
        if b & 0x40 != 0 {
            q[i / 8] |= 0x80 >> (i % 8);
        }
    }
    Some(q)
}

/// 96 bytes of raw P-W sub-channel holding `q` in bit 6 and the P flag
/// (set during pauses) in bit 7; R…W are zero (no CD-TEXT or CD+G in the
/// program area).
pub fn raw_from_q(p: bool, q: &[u8; Q_LEN]) -> [u8; RAW_PW_LEN] {
    let mut raw = [0u8; RAW_PW_LEN];
    for (i, b) in raw.iter_mut().enumerate() {
        if p {
            *b |= 0x80;
        }
        if q[i / 8] & (0x80 >> (i % 8)) != 0 {
            *b |= 0x40;
        }
    }
    raw
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn msf(m: u8, s: u8, f: u8) -> Msf {
        Msf { m, s, f }
    }

    #[test]
    fn crc_reference_value() {
        // CRC-16/XMODEM ("123456789") = 31C3h: the same polynomial and init.
        assert_eq!(crc16(b"123456789"), 0x31C3);
    }

    #[test]
    fn position_frame_bytes() {
        let f = QFrame {
            control: 0,
            adr: ADR_POSITION,
            data: QData::Position {
                track: 12,
                index: 1,
                relative: msf(3, 5, 70),
                absolute: msf(45, 59, 74),
            },
        };
        let q = encode(&f).unwrap();
        assert_eq!(
            &q[..10],
            &[0x01, 0x12, 0x01, 0x03, 0x05, 0x70, 0, 0x45, 0x59, 0x74]
        );
        assert_eq!(decode(&q).unwrap(), f);
        // One flipped bit: CRC error.
        let mut bad = q;
        bad[4] ^= 0x01;
        assert!(matches!(decode(&bad), Err(QError::Crc { .. })));
        // Not BCD, with a valid CRC: malformed.
        let mut nb = q;
        nb[2] = 0x1A;
        let crc = !crc16(&nb[..10]);
        nb[10..].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(decode(&nb), Err(QError::Malformed("index")));
        assert_eq!(decode(&q[..5]), Err(QError::Short(5)));
    }

    #[test]
    fn mcn_and_isrc_frames() {
        let m = QFrame {
            control: 0,
            adr: ADR_MCN,
            data: QData::Mcn {
                mcn: "0724384260927".into(),
                aframe: 17,
            },
        };
        let q = encode(&m).unwrap();
        assert_eq!(&q[1..8], &[0x07, 0x24, 0x38, 0x42, 0x60, 0x92, 0x70]);
        assert_eq!(decode(&q).unwrap(), m);

        let i = QFrame {
            control: 0,
            adr: ADR_ISRC,
            data: QData::Isrc {
                isrc: "GBAYE0000351".into(),
                aframe: 3,
            },
        };
        let q = encode(&i).unwrap();
        // G=17h B=12h A=11h Y=29h E=15h: 010111 010010 010001 101001 010101 00
        assert_eq!(q[1], 0b0101_1101);
        assert_eq!(q[2], 0b0010_0100);
        assert_eq!(decode(&q).unwrap(), i);
        assert!(encode(&QFrame {
            control: 0,
            adr: ADR_ISRC,
            data: QData::Isrc {
                isrc: "GB-YE0000351".into(),
                aframe: 0
            }
        })
        .is_none());
    }

    #[test]
    fn raw_pw_round_trip() {
        let f = QFrame {
            control: 1,
            adr: 1,
            data: QData::Position {
                track: 1,
                index: 0,
                relative: msf(0, 1, 74),
                absolute: msf(0, 0, 1),
            },
        };
        let q = encode(&f).unwrap();
        let raw = raw_from_q(true, &q);
        assert!(raw.iter().all(|b| b & 0x80 != 0));
        assert_eq!(q_from_raw(&raw), Some(q));
        assert_eq!(q_from_raw(&raw[..95]), None);
    }

    #[test]
    fn garbage_never_panics() {
        let mut x: u32 = 12345;
        for _ in 0..2000 {
            let mut q = [0u8; 12];
            for b in q.iter_mut() {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                *b = (x >> 16) as u8;
            }
            let _ = decode(&q);
            let _ = decode_unchecked(&q);
        }
    }
}
