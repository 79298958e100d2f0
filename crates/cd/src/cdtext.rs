//! CD-TEXT packs: parsing what READ TOC format 5 returns into the model of
//! [`crate::disc::CdText`], and building packs from it (for the virtual
//! drive and, later, the burner's lead-in).
//!
//! Format (MMC-6 annex J, "CD-TEXT format in the lead-in area"; Red Book
//! CD-TEXT addendum): 18-byte packs. Byte 0 is the pack type (80h…8Fh);
//! byte 1 the track number of the pack's first character (bit 7: extension
//! flag); byte 2 a sequence number, counting from 0 in each block; byte 3
//! holds the double-byte flag (bit 7), the block number (bits 6…4) and the
//! character position (bits 3…0: characters of the current string already
//! in earlier packs, 15 meaning 15 or more); bytes 4…15 carry 12 bytes of
//! payload; bytes 16…17 a CRC-16/CCITT of bytes 0…15, complemented.
//!
//! Text pack types carry NUL-terminated strings (two NULs in double-byte
//! blocks) for the disc (track 0) and then each track in turn; a lone TAB
//! (two in double-byte blocks) means "the same as the previous track". Each
//! block (up to 8, one per language) ends with three size-information packs
//! (8Fh) giving the character set, the track range, the pack counts per type,
//! the last sequence number of every block and every block's language.

use std::collections::BTreeMap;

use crate::disc::{CdText, CdTextBlock, CdTextFields, Charset, Genre};
use crate::mmc::subq::crc16;

/// Bytes per pack.
pub const PACK_LEN: usize = 18;
/// Payload bytes per pack.
const PAYLOAD: usize = 12;
/// Pack type 80h: title.
pub const PACK_TITLE: u8 = 0x80;
/// Pack type 81h: performer.
pub const PACK_PERFORMER: u8 = 0x81;
/// Pack type 82h: songwriter.
pub const PACK_SONGWRITER: u8 = 0x82;
/// Pack type 83h: composer.
pub const PACK_COMPOSER: u8 = 0x83;
/// Pack type 84h: arranger.
pub const PACK_ARRANGER: u8 = 0x84;
/// Pack type 85h: message.
pub const PACK_MESSAGE: u8 = 0x85;
/// Pack type 86h: disc identification (text, disc only).
pub const PACK_DISC_ID: u8 = 0x86;
/// Pack type 87h: genre (2-byte code, then text).
pub const PACK_GENRE: u8 = 0x87;
/// Pack type 88h: TOC information (binary).
pub const PACK_TOC: u8 = 0x88;
/// Pack type 89h: second TOC information (binary).
pub const PACK_TOC2: u8 = 0x89;
/// Pack type 8Dh: closed information.
pub const PACK_CLOSED: u8 = 0x8D;
/// Pack type 8Eh: UPC/EAN (disc) and ISRC (tracks).
pub const PACK_CODE: u8 = 0x8E;
/// Pack type 8Fh: block size information.
pub const PACK_SIZE_INFO: u8 = 0x8F;
/// Blocks on a disc at most.
pub const MAX_BLOCKS: usize = 8;

/// Why packs could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("CD-TEXT: {0}")]
pub struct CdTextError(pub String);

/// What [`parse`] found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parsed {
    /// The text, `None` when no valid pack was found.
    pub text: Option<CdText>,
    /// Packs dropped because their CRC did not match.
    pub crc_errors: usize,
}

/// True when the pack's CRC matches.
pub fn crc_ok(pack: &[u8; PACK_LEN]) -> bool {
    !crc16(&pack[..16]) == u16::from_be_bytes([pack[16], pack[17]])
}

/// Sets the pack's CRC.
pub fn set_crc(pack: &mut [u8; PACK_LEN]) {
    let c = !crc16(&pack[..16]);
    pack[16..].copy_from_slice(&c.to_be_bytes());
}

fn decode_text(bytes: &[u8], charset: Charset) -> String {
    let enc = match charset {
        Charset::MsJis => Some(encoding_rs::SHIFT_JIS),
        Charset::Korean => Some(encoding_rs::EUC_KR),
        Charset::Mandarin => Some(encoding_rs::GBK),
        _ => None,
    };
    match enc {
        Some(e) => e.decode_without_bom_handling(bytes).0.into_owned(),
        // ISO-8859-1 maps each byte to the code point of the same value;
        // ASCII is a subset.
        None => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

fn encode_text(s: &str, charset: Charset) -> Result<Vec<u8>, CdTextError> {
    let enc = match charset {
        Charset::MsJis => Some(encoding_rs::SHIFT_JIS),
        Charset::Korean => Some(encoding_rs::EUC_KR),
        Charset::Mandarin => Some(encoding_rs::GBK),
        _ => None,
    };
    match enc {
        Some(e) => {
            let (b, _, bad) = e.encode(s);
            if bad {
                return Err(CdTextError(format!(
                    "\"{s}\" cannot be written in {}",
                    e.name()
                )));
            }
            Ok(b.into_owned())
        }
        None => s
            .chars()
            .map(|c| {
                let v = u32::from(c);
                let max = if charset == Charset::Ascii {
                    0x7F
                } else {
                    0xFF
                };
                if v == 0 || v > max {
                    Err(CdTextError(format!(
                        "\"{s}\" has a character ({c:?}) outside {}",
                        if max == 0x7F { "ASCII" } else { "ISO-8859-1" }
                    )))
                } else {
                    Ok(v as u8)
                }
            })
            .collect(),
    }
}

/// Splits a text stream into its strings: NUL-terminated (double NUL when
/// `double`). An unterminated tail counts as a last string.
fn split_strings(data: &[u8], double: bool) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    let step = if double { 2 } else { 1 };
    let mut i = 0;
    while i < data.len() {
        let unit = &data[i..(i + step).min(data.len())];
        if unit.iter().all(|&b| b == 0) && unit.len() == step {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.extend_from_slice(unit);
        }
        i += step;
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn field_mut(f: &mut CdTextFields, ty: u8) -> Option<&mut Option<String>> {
    Some(match ty {
        PACK_TITLE => &mut f.title,
        PACK_PERFORMER => &mut f.performer,
        PACK_SONGWRITER => &mut f.songwriter,
        PACK_COMPOSER => &mut f.composer,
        PACK_ARRANGER => &mut f.arranger,
        PACK_MESSAGE => &mut f.message,
        PACK_CODE => &mut f.code,
        _ => return None,
    })
}

fn field(f: &CdTextFields, ty: u8) -> Option<&String> {
    match ty {
        PACK_TITLE => f.title.as_ref(),
        PACK_PERFORMER => f.performer.as_ref(),
        PACK_SONGWRITER => f.songwriter.as_ref(),
        PACK_COMPOSER => f.composer.as_ref(),
        PACK_ARRANGER => f.arranger.as_ref(),
        PACK_MESSAGE => f.message.as_ref(),
        PACK_CODE => f.code.as_ref(),
        _ => None,
    }
}

/// Parses packs (in the order the drive returned them) into CD-TEXT.
///
/// Packs whose CRC does not match are dropped and counted — unless no pack
/// at all has a valid CRC, as with drives that return the CRC field zeroed;
/// then every pack is used. Unknown pack types are ignored. Never panics.
pub fn parse(packs: &[[u8; PACK_LEN]]) -> Parsed {
    let good = packs.iter().filter(|p| crc_ok(p)).count();
    let trust_all = good == 0;
    let mut crc_errors = 0;
    // Per block: per pack type, (first track number, payload bytes), in order.
    let mut blocks: BTreeMap<u8, BTreeMap<u8, (u8, Vec<u8>)>> = BTreeMap::new();
    let mut dbcc: BTreeMap<u8, bool> = BTreeMap::new();
    for p in packs {
        if !trust_all && !crc_ok(p) {
            crc_errors += 1;
            continue;
        }
        let ty = p[0];
        if !(0x80..=0x8F).contains(&ty) {
            continue;
        }
        let block = (p[3] >> 4) & 0x07;
        dbcc.entry(block).or_insert(p[3] & 0x80 != 0);
        let e = blocks
            .entry(block)
            .or_default()
            .entry(ty)
            .or_insert_with(|| (p[1] & 0x7F, Vec::new()));
        e.1.extend_from_slice(&p[4..16]);
    }
    if blocks.is_empty() {
        return Parsed {
            text: None,
            crc_errors,
        };
    }
    let mut out = CdText::default();
    for (bn, types) in &blocks {
        // Size information: charset, languages.
        let size = types.get(&PACK_SIZE_INFO).map(|(_, d)| d.as_slice());
        let charset = match size.and_then(|s| s.first()) {
            Some(&c) => Charset::from_code(c),
            None if dbcc.get(bn) == Some(&true) => Charset::MsJis,
            None => Charset::Iso8859_1,
        };
        let language = size
            .and_then(|s| s.get(28 + usize::from(*bn)))
            .copied()
            .unwrap_or(0);
        let copyright = size.and_then(|s| s.get(3)).copied().unwrap_or(0);
        let double = dbcc.get(bn) == Some(&true) || charset.is_double_byte();
        let mut blk = CdTextBlock::new(language, charset);
        blk.copyright = copyright;
        for (&ty, (first, data)) in types {
            match ty {
                PACK_TITLE..=PACK_MESSAGE | PACK_CODE => {
                    // UPC/EAN and ISRC are ASCII even in double-byte blocks.
                    let dbl = double && ty != PACK_CODE;
                    let cs = if ty == PACK_CODE {
                        Charset::Ascii
                    } else {
                        charset
                    };
                    let mut prev: Option<String> = None;
                    for (i, s) in split_strings(data, dbl).into_iter().enumerate() {
                        let Some(track) = usize::from(*first).checked_add(i) else {
                            break;
                        };
                        if track > 99 {
                            break;
                        }
                        let tab: &[u8] = if dbl { &[9, 9] } else { &[9] };
                        let text = if s == tab {
                            prev.clone()
                        } else if s.is_empty() {
                            None
                        } else {
                            Some(decode_text(&s, cs))
                        };
                        if let Some(t) = &text {
                            prev = Some(t.clone());
                        }
                        let Some(t) = text else { continue };
                        let fields = if track == 0 {
                            &mut blk.disc
                        } else {
                            blk.track_mut(track as u8)
                        };
                        if let Some(f) = field_mut(fields, ty) {
                            *f = Some(t);
                        }
                    }
                }
                PACK_DISC_ID => {
                    blk.disc_id = split_strings(data, double)
                        .into_iter()
                        .next()
                        .filter(|s| !s.is_empty())
                        .map(|s| decode_text(&s, charset));
                }
                PACK_CLOSED => {
                    blk.closed_info = split_strings(data, double)
                        .into_iter()
                        .next()
                        .filter(|s| !s.is_empty())
                        .map(|s| decode_text(&s, charset));
                }
                PACK_GENRE if data.len() >= 2 => {
                    let code = u16::from_be_bytes([data[0], data[1]]);
                    let text = split_strings(&data[2..], false)
                        .into_iter()
                        .next()
                        .map(|s| decode_text(&s, Charset::Iso8859_1))
                        .unwrap_or_default();
                    blk.genre = Some(Genre { code, text });
                }
                _ => {}
            }
        }
        out.blocks.push(blk);
    }
    Parsed {
        text: Some(out),
        crc_errors,
    }
}

struct PackWriter {
    packs: Vec<[u8; PACK_LEN]>,
    block: u8,
    dbcc: bool,
    seq: usize,
    counts: [u8; 16],
}

impl PackWriter {
    /// Writes one pack type's stream: `items` are (track, bytes including
    /// the terminator), in track order.
    fn stream(&mut self, ty: u8, items: &[(u8, Vec<u8>)]) -> Result<(), CdTextError> {
        // Where each byte of the stream belongs: (track, position in string).
        let mut bytes = Vec::new();
        let mut owner = Vec::new();
        for (track, b) in items {
            for (i, &x) in b.iter().enumerate() {
                bytes.push(x);
                owner.push((*track, i));
            }
        }
        for (chunk, own) in bytes.chunks(PAYLOAD).zip(owner.chunks(PAYLOAD)) {
            let (track, pos) = own.first().copied().unwrap_or((0, 0));
            let mut p = [0u8; PACK_LEN];
            p[0] = ty;
            p[1] = track;
            p[2] = u8::try_from(self.seq)
                .map_err(|_| CdTextError("more than 256 packs in one block".into()))?;
            let chars = if self.dbcc { pos / 2 } else { pos };
            p[3] = (u8::from(self.dbcc) << 7) | (self.block << 4) | chars.min(15) as u8;
            p[4..4 + chunk.len()].copy_from_slice(chunk);
            set_crc(&mut p);
            self.packs.push(p);
            self.seq += 1;
            self.counts[usize::from(ty & 0x0F)] += 1;
        }
        Ok(())
    }
}

/// Builds the packs of every block, with valid CRCs and size information,
/// for tracks `first..=last`.
///
/// # Errors
/// [`CdTextError`] for more than 8 blocks, text that the block's character
/// set cannot hold, or a block over 256 packs.
pub fn build(text: &CdText, first: u8, last: u8) -> Result<Vec<[u8; PACK_LEN]>, CdTextError> {
    if text.blocks.len() > MAX_BLOCKS {
        return Err(CdTextError(format!(
            "{} language blocks (8 at most)",
            text.blocks.len()
        )));
    }
    let mut all = Vec::new();
    let mut last_seq = [0u8; MAX_BLOCKS];
    let mut per_block = Vec::new();
    for (bn, blk) in text.blocks.iter().enumerate() {
        let dbcc = blk.charset.is_double_byte();
        let nul: &[u8] = if dbcc { &[0, 0] } else { &[0] };
        let tab: Vec<u8> = if dbcc { vec![9, 9, 0, 0] } else { vec![9, 0] };
        let mut w = PackWriter {
            packs: Vec::new(),
            block: bn as u8,
            dbcc,
            seq: 0,
            counts: [0; 16],
        };
        for ty in [
            PACK_TITLE,
            PACK_PERFORMER,
            PACK_SONGWRITER,
            PACK_COMPOSER,
            PACK_ARRANGER,
            PACK_MESSAGE,
            PACK_DISC_ID,
            PACK_GENRE,
            PACK_CLOSED,
            PACK_CODE,
        ] {
            let mut items = Vec::new();
            match ty {
                PACK_DISC_ID | PACK_CLOSED => {
                    let v = if ty == PACK_DISC_ID {
                        &blk.disc_id
                    } else {
                        &blk.closed_info
                    };
                    if let Some(s) = v {
                        let mut b = encode_text(s, blk.charset)?;
                        b.extend_from_slice(nul);
                        items.push((0, b));
                    }
                }
                PACK_GENRE => {
                    if let Some(g) = &blk.genre {
                        let mut b = g.code.to_be_bytes().to_vec();
                        b.extend(encode_text(&g.text, Charset::Iso8859_1)?);
                        b.push(0);
                        items.push((0, b));
                    }
                }
                _ => {
                    let any = field(&blk.disc, ty).is_some()
                        || blk.tracks.values().any(|f| field(f, ty).is_some());
                    if !any {
                        continue;
                    }
                    let cs = if ty == PACK_CODE {
                        Charset::Ascii
                    } else {
                        blk.charset
                    };
                    let term: &[u8] = if ty == PACK_CODE { &[0] } else { nul };
                    let mut prev: Option<&String> = None;
                    for t in std::iter::once(0).chain(first..=last) {
                        let f = if t == 0 {
                            Some(&blk.disc)
                        } else {
                            blk.tracks.get(&t)
                        };
                        let v = f.and_then(|f| field(f, ty));
                        let b = match v {
                            // Repeats of the previous track's text use TAB.
                            Some(s) if t > first && prev == Some(s) && ty != PACK_CODE => {
                                tab.clone()
                            }
                            Some(s) => {
                                let mut b = encode_text(s, cs)?;
                                b.extend_from_slice(term);
                                b
                            }
                            None => term.to_vec(),
                        };
                        prev = v;
                        items.push((t, b));
                    }
                }
            }
            if !items.is_empty() {
                w.stream(ty, &items)?;
            }
        }
        // Three size-information packs close the block; count them too.
        w.counts[0x0F] += 3;
        let seq_last = w.seq + 2;
        last_seq[bn] = u8::try_from(seq_last)
            .map_err(|_| CdTextError("more than 256 packs in one block".into()))?;
        per_block.push(w);
    }
    for (bn, (w, blk)) in per_block.into_iter().zip(&text.blocks).enumerate() {
        let mut info = [0u8; 36];
        info[0] = blk.charset.code();
        info[1] = first;
        info[2] = last;
        info[3] = blk.copyright;
        info[4..20].copy_from_slice(&w.counts);
        info[20..28].copy_from_slice(&last_seq);
        for (i, b) in text.blocks.iter().enumerate() {
            info[28 + i] = b.language;
        }
        let mut packs = w.packs;
        for (i, chunk) in info.chunks(PAYLOAD).enumerate() {
            let mut p = [0u8; PACK_LEN];
            p[0] = PACK_SIZE_INFO;
            p[1] = i as u8;
            p[2] = (w.seq + i) as u8;
            p[3] = (u8::from(w.dbcc) << 7) | ((bn as u8) << 4);
            p[4..16].copy_from_slice(chunk);
            set_crc(&mut p);
            packs.push(p);
        }
        all.extend(packs);
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sample() -> CdText {
        let mut b = CdTextBlock::new(crate::disc::LANGUAGE_ENGLISH, Charset::Iso8859_1);
        b.disc.title = Some("Café Tacuba".into());
        b.disc.performer = Some("Various Artists".into());
        b.disc.code = Some("0724384260927".into());
        b.track_mut(1).title = Some("A rather long first track title".into());
        b.track_mut(1).performer = Some("Same".into());
        b.track_mut(2).title = Some("Two".into());
        b.track_mut(2).performer = Some("Same".into());
        b.track_mut(3).title = Some("Three".into());
        b.track_mut(2).code = Some("USRC17607839".into());
        b.genre = Some(Genre {
            code: 25,
            text: "Rock".into(),
        });
        b.disc_id = Some("XY-123".into());
        let mut j = CdTextBlock::new(0x69, Charset::MsJis);
        j.disc.title = Some("日本語のアルバム".into());
        j.track_mut(1).title = Some("一".into());
        CdText { blocks: vec![b, j] }
    }

    #[test]
    fn round_trip_two_blocks() {
        let t = sample();
        let packs = build(&t, 1, 3).unwrap();
        assert!(packs.iter().all(crc_ok));
        let p = parse(&packs);
        assert_eq!(p.crc_errors, 0);
        let back = p.text.unwrap();
        assert_eq!(back.blocks.len(), 2);
        let b = &back.blocks[0];
        assert_eq!(b.language, 0x09);
        assert_eq!(b.disc.title.as_deref(), Some("Café Tacuba"));
        assert_eq!(
            b.tracks[&1].title.as_deref(),
            Some("A rather long first track title")
        );
        // The TAB repeat comes back as the text.
        assert_eq!(b.tracks[&2].performer.as_deref(), Some("Same"));
        assert_eq!(b.tracks[&3].title.as_deref(), Some("Three"));
        assert_eq!(b.tracks[&3].performer, None);
        assert_eq!(b.tracks[&2].code.as_deref(), Some("USRC17607839"));
        assert_eq!(b.disc.code.as_deref(), Some("0724384260927"));
        assert_eq!(
            b.genre,
            Some(Genre {
                code: 25,
                text: "Rock".into()
            })
        );
        assert_eq!(b.disc_id.as_deref(), Some("XY-123"));
        let j = &back.blocks[1];
        assert_eq!(j.charset, Charset::MsJis);
        assert_eq!(j.language, 0x69);
        assert_eq!(j.disc.title.as_deref(), Some("日本語のアルバム"));
        assert_eq!(j.tracks[&1].title.as_deref(), Some("一"));
        // Double-byte packs carry the DBCC flag; block numbers are set.
        assert!(packs
            .iter()
            .filter(|p| (p[3] >> 4) & 7 == 1)
            .all(|p| p[3] & 0x80 != 0));
    }

    #[test]
    fn pack_fields() {
        let mut b = CdTextBlock::new(9, Charset::Iso8859_1);
        b.disc.title = Some("ABCDEFGHIJKLMNOP".into()); // 16 chars: spans two packs
        b.track_mut(1).title = Some("Q".into());
        let packs = build(&CdText { blocks: vec![b] }, 1, 1).unwrap();
        // 2 title packs + 3 size packs.
        assert_eq!(packs.len(), 5);
        assert_eq!(&packs[0][..4], &[0x80, 0, 0, 0]);
        assert_eq!(&packs[0][4..16], b"ABCDEFGHIJKL");
        // Second pack: still track 0, 12 characters of it already sent.
        assert_eq!(&packs[1][..4], &[0x80, 0, 1, 12]);
        assert_eq!(&packs[1][4..11], b"MNOP\0Q\0");
        let size = &packs[2];
        assert_eq!(size[0], 0x8F);
        assert_eq!(size[4], 0x00); // charset
        assert_eq!((size[5], size[6]), (1, 1)); // tracks
        assert_eq!(size[8], 2); // two 80h packs
        assert_eq!(packs[3][4 + 7], 3); // 8Fh count (byte 19 of the info)
        assert_eq!(packs[3][4 + 8], 4); // last sequence number of block 0
    }

    #[test]
    fn bad_crcs_dropped_unless_none_is_good() {
        let mut b = CdTextBlock::new(9, Charset::Iso8859_1);
        b.disc.title = Some("Album".into());
        b.track_mut(1).title = Some("Song".into());
        let packs = build(&CdText { blocks: vec![b] }, 1, 1).unwrap();
        let mut damaged = packs.clone();
        damaged[0][5] ^= 0x20;
        let p = parse(&damaged);
        assert_eq!(p.crc_errors, 1);
        assert_eq!(p.text.unwrap().blocks[0].disc.title, None);
        // A drive that zeroes every CRC: packs still used.
        let zeroed: Vec<_> = packs
            .iter()
            .map(|p| {
                let mut p = *p;
                p[16] = 0;
                p[17] = 0;
                p
            })
            .collect();
        let p = parse(&zeroed);
        assert_eq!(p.crc_errors, 0);
        assert_eq!(
            p.text.unwrap().blocks[0].disc.title.as_deref(),
            Some("Album")
        );
    }

    #[test]
    fn garbage_never_panics() {
        let mut x: u32 = 7;
        for n in 0..300 {
            let packs: Vec<[u8; 18]> = (0..n % 20)
                .map(|_| {
                    let mut p = [0u8; 18];
                    for b in p.iter_mut() {
                        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                        *b = (x >> 16) as u8;
                    }
                    p[0] = 0x80 | (p[0] & 0x0F);
                    set_crc(&mut p);
                    p
                })
                .collect();
            let _ = parse(&packs);
        }
        assert_eq!(parse(&[]), Parsed::default());
    }

    #[test]
    fn unencodable_text_is_an_error() {
        let mut b = CdTextBlock::new(9, Charset::Iso8859_1);
        b.disc.title = Some("日本".into());
        assert!(build(&CdText { blocks: vec![b] }, 1, 1).is_err());
    }
}
