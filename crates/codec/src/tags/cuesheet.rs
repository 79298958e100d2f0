//! FLAC's `CUESHEET` metadata block (RFC 9639 §8.7): where the tracks of an
//! image start, written by `flac --cuesheet` and `metaflac
//! --import-cuesheet-from`, read by players that split images.
//!
//! [`CueSheetBlock::to_bytes`] and [`CueSheetBlock::parse`] are exact
//! inverses for every block they accept; [`CueSheetBlock::check`] holds the
//! rules the RFC sets (and `flac -t` enforces), CD-DA's included.

/// The block type of a CUESHEET, RFC 9639 §8.1 table 2.
pub const BLOCK_TYPE: u8 = 5;

/// The fixed part: media catalog number (128 bytes), lead-in samples (8),
/// the CD flag with 7 reserved bits and 258 reserved bytes (259), the track
/// count (1). RFC 9639 §8.7.
const HEADER_LEN: usize = 128 + 8 + 259 + 1;
/// A track: offset (8), number (1), ISRC (12), type and pre-emphasis bits
/// with 6 reserved bits and 13 reserved bytes (14), index point count (1).
/// RFC 9639 §8.7.1.
const TRACK_LEN: usize = 8 + 1 + 12 + 14 + 1;
/// An index point: offset (8), number (1), reserved (3). RFC 9639 §8.7.1.1.
const INDEX_LEN: usize = 8 + 1 + 3;
/// The lead-out's track number on a CD-DA sheet, and on any other.
pub const LEADOUT_CD: u8 = 170;
pub const LEADOUT_OTHER: u8 = 255;
/// Samples per CD frame (1/75 s at 44.1 kHz): CD-DA offsets are multiples.
pub const CD_FRAME_SAMPLES: u64 = 588;
/// The lead-in `flac --cuesheet` records for CD-DA: two seconds (the
/// minimum the Red Book allows before track one's pregap).
pub const CD_LEAD_IN: u64 = 88_200;

/// A CUESHEET block's contents.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CueSheetBlock {
    /// The media catalog number (printable ASCII, at most 128 bytes; 13
    /// digits on a CD); empty when unknown.
    pub mcn: String,
    /// Lead-in samples (CD-DA only; 0 otherwise).
    pub lead_in: u64,
    /// Whether the sheet describes a CD (CD-DA rules apply).
    pub is_cd: bool,
    /// The tracks in order, the lead-out last.
    pub tracks: Vec<BlockTrack>,
}

/// One track of a [`CueSheetBlock`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BlockTrack {
    /// Its first sample in the stream.
    pub offset: u64,
    /// 1–99 on a CD ([`LEADOUT_CD`] for the lead-out), else 1–254
    /// ([`LEADOUT_OTHER`]).
    pub number: u8,
    /// 12 characters, or empty.
    pub isrc: String,
    pub audio: bool,
    pub pre_emphasis: bool,
    /// Index points, offsets relative to the track's.
    pub indexes: Vec<BlockIndex>,
}

/// One index point of a [`BlockTrack`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlockIndex {
    /// Samples after the track's offset.
    pub offset: u64,
    pub number: u8,
}

impl CueSheetBlock {
    /// Whether the block keeps the RFC's rules: a lead-out last (and only
    /// there), track numbers unique and in range, offsets rising, every
    /// other track with index points whose numbers rise (the first 0 or 1,
    /// then by one), an ISRC of 12 alphanumerics or none, a printable MCN;
    /// for CD-DA also offsets in whole CD frames, at most 99 tracks and a
    /// lead-in of at least two seconds.
    ///
    /// # Errors
    /// The first rule broken, in words.
    pub fn check(&self) -> Result<(), String> {
        if self.mcn.len() > 128 || !self.mcn.bytes().all(|b| (0x20..0x7F).contains(&b)) {
            return Err("the media catalog number is not up to 128 printable characters".into());
        }
        let leadout = if self.is_cd {
            LEADOUT_CD
        } else {
            LEADOUT_OTHER
        };
        let Some((last, tracks)) = self.tracks.split_last() else {
            return Err("a cue sheet needs at least its lead-out track".into());
        };
        if last.number != leadout || !last.indexes.is_empty() {
            return Err(format!(
                "the last track must be the lead-out, number {leadout}, without index points"
            ));
        }
        if self.is_cd {
            if tracks.len() > 99 {
                return Err(format!("{} tracks: a CD holds at most 99", tracks.len()));
            }
            if self.lead_in < CD_LEAD_IN {
                return Err(format!(
                    "a CD's lead-in is at least {CD_LEAD_IN} samples, not {}",
                    self.lead_in
                ));
            }
        }
        let mut seen = std::collections::HashSet::new();
        let mut previous: Option<u64> = None;
        for t in &self.tracks {
            let number = t.number;
            let whole = |o: u64| !self.is_cd || o.is_multiple_of(CD_FRAME_SAMPLES);
            if !whole(t.offset) {
                return Err(format!(
                    "track {number} starts at sample {}, not on a CD frame ({CD_FRAME_SAMPLES} samples)",
                    t.offset
                ));
            }
            if previous.is_some_and(|p| t.offset < p) {
                return Err(format!("track {number} starts before the track before it"));
            }
            previous = Some(t.offset);
            if t.number == leadout {
                continue;
            }
            let range = if self.is_cd { 1..=99 } else { 1..=254 };
            if !range.contains(&number) || !seen.insert(number) {
                return Err(format!("track number {number} is out of range or repeated"));
            }
            if !t.isrc.is_empty()
                && (t.isrc.len() != 12 || !t.isrc.bytes().all(|b| b.is_ascii_alphanumeric()))
            {
                return Err(format!(
                    "track {number}: the ISRC {:?} is not 12 letters and digits",
                    t.isrc
                ));
            }
            let Some(first) = t.indexes.first() else {
                return Err(format!("track {number} has no index point"));
            };
            if first.number > 1 {
                return Err(format!(
                    "track {number}'s first index is {}, not 0 or 1",
                    first.number
                ));
            }
            for w in t.indexes.windows(2) {
                if w[1].number != w[0].number.wrapping_add(1) || w[1].offset <= w[0].offset {
                    return Err(format!("track {number}'s index points are out of order"));
                }
            }
            if let Some(i) = t.indexes.iter().find(|i| !whole(i.offset)) {
                return Err(format!(
                    "track {number}'s index {} is not on a CD frame",
                    i.number
                ));
            }
            if t.indexes.len() > 255 {
                return Err(format!("track {number} has more than 255 index points"));
            }
        }
        if self.tracks.len() > 255 {
            return Err("more than 255 tracks".into());
        }
        Ok(())
    }

    /// The block's body (without the 4-byte block header).
    ///
    /// # Errors
    /// When [`CueSheetBlock::check`] refuses the block.
    pub fn to_bytes(&self) -> Result<Vec<u8>, String> {
        self.check()?;
        let points: usize = self.tracks.iter().map(|t| t.indexes.len()).sum();
        let mut b =
            Vec::with_capacity(HEADER_LEN + self.tracks.len() * TRACK_LEN + points * INDEX_LEN);
        let mut mcn = [0u8; 128];
        mcn[..self.mcn.len()].copy_from_slice(self.mcn.as_bytes());
        b.extend_from_slice(&mcn);
        b.extend_from_slice(&self.lead_in.to_be_bytes());
        let mut flags = [0u8; 259];
        if self.is_cd {
            flags[0] = 0x80;
        }
        b.extend_from_slice(&flags);
        // check() holds the count under 256.
        b.push(self.tracks.len() as u8);
        for t in &self.tracks {
            b.extend_from_slice(&t.offset.to_be_bytes());
            b.push(t.number);
            let mut isrc = [0u8; 12];
            isrc[..t.isrc.len()].copy_from_slice(t.isrc.as_bytes());
            b.extend_from_slice(&isrc);
            let mut bits = [0u8; 14];
            if !t.audio {
                bits[0] |= 0x80;
            }
            if t.pre_emphasis {
                bits[0] |= 0x40;
            }
            b.extend_from_slice(&bits);
            b.push(t.indexes.len() as u8);
            for i in &t.indexes {
                b.extend_from_slice(&i.offset.to_be_bytes());
                b.push(i.number);
                b.extend_from_slice(&[0u8; 3]);
            }
        }
        Ok(b)
    }

    /// Reads a block's body. Reserved bits are ignored; the rules of
    /// [`CueSheetBlock::check`] are not applied (a reader takes what it can).
    ///
    /// # Errors
    /// When the body is cut short, in words.
    pub fn parse(body: &[u8]) -> Result<CueSheetBlock, String> {
        let short = |what: &str| format!("the CUESHEET block is cut short ({what})");
        let text = |b: &[u8]| -> String {
            let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
            String::from_utf8_lossy(&b[..end]).trim().to_string()
        };
        let be64 = |b: &[u8]| -> u64 {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[..8]);
            u64::from_be_bytes(a)
        };
        let head = body.get(..HEADER_LEN).ok_or_else(|| short("its header"))?;
        let mut block = CueSheetBlock {
            mcn: text(&head[..128]),
            lead_in: be64(&head[128..136]),
            is_cd: head[136] & 0x80 != 0,
            tracks: Vec::new(),
        };
        let count = head[HEADER_LEN - 1];
        let mut at = HEADER_LEN;
        for _ in 0..count {
            let t = body
                .get(at..at + TRACK_LEN)
                .ok_or_else(|| short("a track"))?;
            at += TRACK_LEN;
            let mut track = BlockTrack {
                offset: be64(&t[..8]),
                number: t[8],
                isrc: text(&t[9..21]),
                audio: t[21] & 0x80 == 0,
                pre_emphasis: t[21] & 0x40 != 0,
                indexes: Vec::new(),
            };
            for _ in 0..t[TRACK_LEN - 1] {
                let p = body
                    .get(at..at + INDEX_LEN)
                    .ok_or_else(|| short("an index point"))?;
                at += INDEX_LEN;
                track.indexes.push(BlockIndex {
                    offset: be64(&p[..8]),
                    number: p[8],
                });
            }
            block.tracks.push(track);
        }
        Ok(block)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn cd() -> CueSheetBlock {
        CueSheetBlock {
            mcn: "0123456789012".into(),
            lead_in: CD_LEAD_IN,
            is_cd: true,
            tracks: vec![
                BlockTrack {
                    offset: 0,
                    number: 1,
                    isrc: "ZZAJD2600001".into(),
                    audio: true,
                    pre_emphasis: false,
                    indexes: vec![BlockIndex {
                        offset: 0,
                        number: 1,
                    }],
                },
                BlockTrack {
                    offset: 588 * 1000,
                    number: 2,
                    isrc: String::new(),
                    audio: true,
                    pre_emphasis: true,
                    indexes: vec![
                        BlockIndex {
                            offset: 0,
                            number: 0,
                        },
                        BlockIndex {
                            offset: 588 * 150,
                            number: 1,
                        },
                    ],
                },
                BlockTrack {
                    offset: 588 * 3000,
                    number: LEADOUT_CD,
                    ..BlockTrack::default()
                },
            ],
        }
    }

    #[test]
    fn bytes_parse_back_to_the_block() {
        let b = cd();
        let bytes = b.to_bytes().unwrap();
        assert_eq!(bytes.len(), HEADER_LEN + 3 * TRACK_LEN + 3 * INDEX_LEN);
        assert_eq!(CueSheetBlock::parse(&bytes).unwrap(), b);
        for cut in [
            0,
            10,
            HEADER_LEN,
            HEADER_LEN + TRACK_LEN + 5,
            bytes.len() - 1,
        ] {
            assert!(CueSheetBlock::parse(&bytes[..cut]).is_err(), "{cut}");
        }
    }

    #[test]
    fn the_rules_are_held() {
        type Breaker = Box<dyn Fn(&mut CueSheetBlock)>;
        let broken: Vec<(&str, Breaker)> = vec![
            ("off frame", Box::new(|b| b.tracks[1].offset += 1)),
            (
                "no lead-out",
                Box::new(|b| {
                    b.tracks.pop();
                }),
            ),
            (
                "wrong lead-out",
                Box::new(|b| b.tracks[2].number = LEADOUT_OTHER),
            ),
            ("short lead-in", Box::new(|b| b.lead_in = 0)),
            ("repeated number", Box::new(|b| b.tracks[1].number = 1)),
            ("no index", Box::new(|b| b.tracks[0].indexes.clear())),
            (
                "index order",
                Box::new(|b| b.tracks[1].indexes[1].number = 2),
            ),
            ("bad isrc", Box::new(|b| b.tracks[0].isrc = "ZZ-AJD".into())),
            ("backwards", Box::new(|b| b.tracks[1].offset = 588 * 4000)),
        ];
        assert_eq!(cd().check(), Ok(()));
        for (what, f) in broken {
            let mut b = cd();
            f(&mut b);
            assert!(b.check().is_err(), "{what}");
            assert!(b.to_bytes().is_err(), "{what}");
        }
        // Not a CD: any sample, no lead-in, lead-out 255.
        let mut b = cd();
        b.is_cd = false;
        b.lead_in = 0;
        b.tracks[1].offset += 1;
        b.tracks[2].number = LEADOUT_OTHER;
        assert_eq!(b.check(), Ok(()));
    }
}
