//! The disc model: what a CD says about itself, from any source (a drive's TOC and
//! sub-channel, a cue sheet, a cdrdao TOC file).
//!
//! # Addresses
//!
//! Every address is an [`Lba`]: LBA 0 is MSF 00:02:00, the first sector after track
//! 1's 2-second pregap, which MSF time counts from (MMC-6 §6.25, READ TOC/PMA/ATIP:
//! with the MSF bit set an address is LBA + 150 as MM:SS:FF). A sector of CD-DA holds
//! 2352 bytes, 588 stereo frames of 16-bit PCM (Red Book).
//!
//! # Shape
//!
//! A [`Disc`] is a list of [`Track`]s in ascending number, a list of [`Session`]s and
//! the disc's lead-out (the start of the last session's lead-out area, what READ TOC
//! format 0 reports as track AAh). Each track has:
//!
//! - `start`: its INDEX 01, the address the TOC gives;
//! - `pregap`: its INDEX 00, when the track has a pregap (the Q sub-channel counts
//!   down through it). Track 1's 2-second lead-in (LBA -150..0) is *not* a pregap in
//!   this model: a normal disc has `pregap: None` on track 1. A disc with hidden track
//!   one audio ("HTOA") has track 1 INDEX 00 at LBA 0 and INDEX 01 later;
//! - `indexes`: INDEX 02..=99, each with its number and address;
//! - [`Control`] flags (the 4 bits of the Q sub-channel's CONTROL field), the sector
//!   format ([`TrackMode`]), the session, the ISRC.
//!
//! CD-TEXT lives in one place, [`Disc::cdtext`]: a [`CdText`] has one [`CdTextBlock`]
//! per language, each with the disc's fields and a map from track number to that
//! track's fields. Cue sheets and TOC files put their TITLE/PERFORMER/… there too
//! (block 0). [`Disc::track_text`] is the short way to a track's first-block fields.
//!
//! # Invariants
//!
//! [`Disc::validate`] checks them; every reader in this crate returns a valid disc:
//! track numbers ascend by one within 1..=99; each track's `pregap <= start`, its
//! indexes ascend and lie before the next track's first address; starts ascend and lie
//! before the lead-out of the track's session; sessions are numbered 1.. in order, each
//! track's `session` names one of them, and the last session's lead-out is
//! `Disc::leadout`. An MCN has 13 digits, an ISRC 12 characters (ISO 3901).
//!
//! Nothing here does I/O; the model is serde-serialisable for `--json` and job specs.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;

use aj_core::units::Lba;
use serde::{Deserialize, Serialize};

/// Sectors between the end of one session's audio and the next session's first track:
/// the lead-out (6750 sectors) plus the next lead-in (4500) plus its pregap (150) of a
/// multi-session disc (Blue Book / ECMA-394); libdiscid and MusicBrainz take the data
/// track's start minus this as the audio lead-out of an enhanced CD.
pub const SESSION_GAP_SECTORS: i32 = 11_400;

/// The highest track number on a CD (Red Book).
pub const MAX_TRACKS: u8 = 99;

/// The 4-bit CONTROL field of the Q sub-channel and of a TOC entry (IEC 60908 §17.5,
/// the Q channel; ECMA-130 §22.3; MMC-6 §6.25, READ TOC/PMA/ATIP): how a track is to be
/// played and copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Control {
    /// Bit 2: a data track (otherwise audio).
    pub data: bool,
    /// Bit 0 on audio tracks: recorded with 50/15 µs pre-emphasis. (On data tracks the
    /// same bit means "recorded incrementally"; it is kept here unchanged.)
    pub preemphasis: bool,
    /// Bit 1: digital copy permitted (the cue sheet's DCP flag).
    pub copy_permitted: bool,
    /// Bit 3 on audio tracks: four-channel audio (the cue sheet's 4CH flag).
    pub four_channel: bool,
}

impl Control {
    /// Control for a plain two-channel audio track, copy prohibited, no pre-emphasis.
    pub const AUDIO: Control = Control {
        data: false,
        preemphasis: false,
        copy_permitted: false,
        four_channel: false,
    };

    /// Control for a data track recorded uninterrupted.
    pub const DATA: Control = Control {
        data: true,
        preemphasis: false,
        copy_permitted: false,
        four_channel: false,
    };

    /// The flags from the low 4 bits of `bits` (the high bits are ignored).
    pub fn from_bits(bits: u8) -> Control {
        Control {
            preemphasis: bits & 0x1 != 0,
            copy_permitted: bits & 0x2 != 0,
            data: bits & 0x4 != 0,
            four_channel: bits & 0x8 != 0,
        }
    }

    /// The 4-bit field.
    pub fn bits(self) -> u8 {
        u8::from(self.preemphasis)
            | u8::from(self.copy_permitted) << 1
            | u8::from(self.data) << 2
            | u8::from(self.four_channel) << 3
    }
}

/// How a track's sectors are laid out in an image (cue sheet TRACK types, cdrdao
/// track modes). The disc's TOC says only audio or data ([`Control::data`]); this says
/// which data format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackMode {
    /// CD-DA: 2352 bytes of PCM per sector.
    #[default]
    Audio,
    /// Mode 1, user data only (2048 bytes per sector in the image).
    Mode1Cooked,
    /// Mode 1, raw sectors (2352 bytes: sync, header, data, EDC/ECC).
    Mode1Raw,
    /// Mode 2 formless, without sync and header (2336 bytes).
    Mode2Formless,
    /// Mode 2 Form 1, user data only (2048 bytes).
    Mode2Form1,
    /// Mode 2 Form 2, user data only (2324 bytes).
    Mode2Form2,
    /// Mode 2 Form 1 or 2 with sub-header (2336 bytes; cdrdao MODE2_FORM_MIX).
    Mode2FormMix,
    /// Mode 2, raw sectors (2352 bytes).
    Mode2Raw,
    /// CD-I, cooked (2336 bytes).
    CdiCooked,
    /// CD-I, raw (2352 bytes).
    CdiRaw,
}

impl TrackMode {
    /// Bytes one sector of this mode takes in an image file.
    pub fn sector_size(self) -> u32 {
        match self {
            TrackMode::Audio | TrackMode::Mode1Raw | TrackMode::Mode2Raw | TrackMode::CdiRaw => {
                2352
            }
            TrackMode::Mode1Cooked | TrackMode::Mode2Form1 => 2048,
            TrackMode::Mode2Form2 => 2324,
            TrackMode::Mode2Formless | TrackMode::Mode2FormMix | TrackMode::CdiCooked => 2336,
        }
    }

    /// True for CD-DA.
    pub fn is_audio(self) -> bool {
        self == TrackMode::Audio
    }
}

/// One index point of a track after INDEX 01 (INDEX 02..=99).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Index {
    /// 2..=99.
    pub number: u8,
    /// Where the index starts.
    pub start: Lba,
}

/// One track.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Track {
    /// 1..=99.
    pub number: u8,
    /// The session the track belongs to (1-based).
    pub session: u8,
    /// CONTROL flags from the TOC / Q sub-channel.
    pub control: Control,
    /// Sector format in an image.
    pub mode: TrackMode,
    /// INDEX 00: the start of the pregap, when the track has one. `start - pregap` is
    /// the pregap length. `None` means no pregap (track 1 of an ordinary disc, whose
    /// lead-in is not counted as a pregap here).
    pub pregap: Option<Lba>,
    /// INDEX 01: where the track starts (the TOC's address).
    pub start: Lba,
    /// INDEX 02..=99 in ascending order.
    pub indexes: Vec<Index>,
    /// The International Standard Recording Code (12 characters, ISO 3901), as the
    /// Q sub-channel or a cue sheet gives it.
    pub isrc: Option<String>,
}

impl Track {
    /// An audio track in session 1 starting at `start`, with no pregap, indexes or ISRC.
    pub fn audio(number: u8, start: Lba) -> Track {
        Track {
            number,
            session: 1,
            control: Control::AUDIO,
            mode: TrackMode::Audio,
            pregap: None,
            start,
            indexes: Vec::new(),
            isrc: None,
        }
    }

    /// A Mode 1 data track (raw sectors in an image) starting at `start`.
    pub fn data(number: u8, session: u8, start: Lba) -> Track {
        Track {
            number,
            session,
            control: Control::DATA,
            mode: TrackMode::Mode1Raw,
            pregap: None,
            start,
            indexes: Vec::new(),
            isrc: None,
        }
    }

    /// True for an audio track (the CONTROL field's data bit is clear).
    pub fn is_audio(&self) -> bool {
        !self.control.data
    }

    /// The length of the pregap (INDEX 00 to INDEX 01) in sectors; 0 without one.
    pub fn pregap_sectors(&self) -> i32 {
        self.pregap.map_or(0, |p| (self.start.0 - p.0).max(0))
    }

    /// The first address that belongs to this track: INDEX 00 if there is one,
    /// otherwise INDEX 01.
    pub fn first_address(&self) -> Lba {
        self.pregap.unwrap_or(self.start)
    }

    /// Every index of the track with its address, in order: 00 (when present), 01,
    /// then 02..=99.
    pub fn all_indexes(&self) -> impl Iterator<Item = Index> + '_ {
        self.pregap
            .map(|p| Index {
                number: 0,
                start: p,
            })
            .into_iter()
            .chain(std::iter::once(Index {
                number: 1,
                start: self.start,
            }))
            .chain(self.indexes.iter().copied())
    }

    /// The index in force at `lba` (0 in the pregap), or `None` before the track.
    pub fn index_at(&self, lba: Lba) -> Option<u8> {
        self.all_indexes()
            .filter(|i| i.start <= lba)
            .last()
            .map(|i| i.number)
    }
}

/// One session of a (possibly multi-session) disc.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Session {
    /// 1-based.
    pub number: u8,
    /// The start of this session's lead-out area.
    pub leadout: Lba,
}

/// What kind of disc this is, from its tracks and sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscKind {
    /// Audio tracks only.
    Audio,
    /// Audio first, then one or more data tracks at the end, usually in a second
    /// session ("Enhanced CD", CD Extra, CD Plus; Blue Book).
    Enhanced,
    /// A data track 1 followed by audio tracks ("mixed mode").
    Mixed,
    /// Data tracks only.
    Data,
}

/// A whole disc: tracks, sessions, lead-out, MCN, CD-TEXT. See the module doc for the
/// invariants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disc {
    /// The tracks, in ascending number (consecutive; usually starting at 1).
    pub tracks: Vec<Track>,
    /// The sessions, in order; a single-session disc has one. The last one's lead-out
    /// equals `leadout`.
    pub sessions: Vec<Session>,
    /// The disc's lead-out: where the last session's lead-out area begins.
    pub leadout: Lba,
    /// The Media Catalog Number (13 digits, UPC/EAN), from the Q sub-channel or a cue
    /// sheet's CATALOG.
    pub mcn: Option<String>,
    /// CD-TEXT, when the disc (or sheet) has any.
    pub cdtext: Option<CdText>,
}

/// Something wrong with a disc model (see [`Disc::validate`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DiscError(pub String);

impl Disc {
    /// A single-session audio disc with tracks 1.. starting at `starts`, ending at
    /// `leadout`.
    ///
    /// # Errors
    /// When the result would not be valid (no tracks, more than 99, starts not
    /// ascending or not before the lead-out).
    pub fn audio(starts: &[Lba], leadout: Lba) -> Result<Disc, DiscError> {
        let mut tracks = Vec::with_capacity(starts.len());
        for (i, &start) in starts.iter().enumerate() {
            let number = u8::try_from(i + 1)
                .ok()
                .filter(|&n| n <= MAX_TRACKS)
                .ok_or_else(|| DiscError(format!("more than {MAX_TRACKS} tracks")))?;
            tracks.push(Track::audio(number, start));
        }
        let disc = Disc {
            tracks,
            sessions: vec![Session { number: 1, leadout }],
            leadout,
            mcn: None,
            cdtext: None,
        };
        disc.validate()?;
        Ok(disc)
    }

    /// The track numbered `number`.
    pub fn track(&self, number: u8) -> Option<&Track> {
        self.tracks.iter().find(|t| t.number == number)
    }

    /// The first track's number (0 on a disc without tracks).
    pub fn first_track_number(&self) -> u8 {
        self.tracks.first().map_or(0, |t| t.number)
    }

    /// The last track's number (0 on a disc without tracks).
    pub fn last_track_number(&self) -> u8 {
        self.tracks.last().map_or(0, |t| t.number)
    }

    /// The lead-out of session `number` (the disc lead-out when the session is not
    /// listed).
    pub fn session_leadout(&self, number: u8) -> Lba {
        self.sessions
            .iter()
            .find(|s| s.number == number)
            .map_or(self.leadout, |s| s.leadout)
    }

    /// The address after the track's last sector as the TOC sees it: the next track's
    /// INDEX 01 in the same session, else the session's lead-out. The next track's
    /// pregap counts as part of this track ("gaps appended").
    pub fn track_end(&self, number: u8) -> Option<Lba> {
        let pos = self.tracks.iter().position(|t| t.number == number)?;
        let track = self.tracks.get(pos)?;
        Some(match self.tracks.get(pos + 1) {
            Some(next) if next.session == track.session => next.start,
            _ => self.session_leadout(track.session),
        })
    }

    /// The track's length in sectors as the TOC sees it (INDEX 01 to
    /// [`Disc::track_end`]).
    pub fn track_sectors(&self, number: u8) -> Option<i32> {
        let start = self.track(number)?.start;
        Some(self.track_end(number)?.0 - start.0)
    }

    /// The track's sectors without the next track's pregap: INDEX 01 up to the next
    /// track's INDEX 00 (or INDEX 01, or the session lead-out) — "gaps left out".
    pub fn track_range_without_gap(&self, number: u8) -> Option<Range<Lba>> {
        let pos = self.tracks.iter().position(|t| t.number == number)?;
        let track = self.tracks.get(pos)?;
        let end = match self.tracks.get(pos + 1) {
            Some(next) if next.session == track.session => next.first_address(),
            _ => self.session_leadout(track.session),
        };
        Some(track.start..end)
    }

    /// The pregap length of track `number` in sectors (0 without one, `None` without
    /// the track).
    pub fn pregap_sectors(&self, number: u8) -> Option<i32> {
        self.track(number).map(Track::pregap_sectors)
    }

    /// The audio tracks, in order.
    pub fn audio_tracks(&self) -> impl Iterator<Item = &Track> + '_ {
        self.tracks.iter().filter(|t| t.is_audio())
    }

    /// The data tracks, in order.
    pub fn data_tracks(&self) -> impl Iterator<Item = &Track> + '_ {
        self.tracks.iter().filter(|t| !t.is_audio())
    }

    /// What kind of disc this is.
    pub fn kind(&self) -> DiscKind {
        let first_data = self.tracks.first().is_some_and(|t| !t.is_audio());
        let last_data = self.tracks.last().is_some_and(|t| !t.is_audio());
        let any_audio = self.tracks.iter().any(Track::is_audio);
        match (any_audio, first_data, last_data) {
            (false, _, _) => DiscKind::Data,
            (true, true, _) => DiscKind::Mixed,
            (true, false, true) => DiscKind::Enhanced,
            (true, false, false) => DiscKind::Audio,
        }
    }

    /// True for an enhanced CD (audio first, data at the end).
    pub fn is_enhanced(&self) -> bool {
        self.kind() == DiscKind::Enhanced
    }

    /// True for a mixed-mode disc (data track 1, then audio).
    pub fn is_mixed_mode(&self) -> bool {
        self.kind() == DiscKind::Mixed
    }

    /// The end of the audio part: for an enhanced CD the lead-out of the last session
    /// that holds audio (on a single-session enhanced CD, the first trailing data
    /// track's start minus [`SESSION_GAP_SECTORS`], as libdiscid does); otherwise the
    /// disc's lead-out.
    pub fn audio_leadout(&self) -> Lba {
        if !self.is_enhanced() {
            return self.leadout;
        }
        let Some(last_audio) = self.tracks.iter().rev().find(|t| t.is_audio()) else {
            return self.leadout;
        };
        let first_trailing_data = self
            .tracks
            .iter()
            .find(|t| t.number > last_audio.number && !t.is_audio());
        match first_trailing_data {
            Some(data) if data.session != last_audio.session => {
                self.session_leadout(last_audio.session)
            }
            Some(data) => Lba(data.start.0 - SESSION_GAP_SECTORS),
            None => self.leadout,
        }
    }

    /// The audio of hidden track one ("HTOA"): the sectors from LBA 0 up to track 1's
    /// INDEX 01, when track 1 is audio and starts after LBA 0 (after MSF 00:02:00).
    pub fn hidden_track(&self) -> Option<Range<Lba>> {
        let first = self.tracks.first()?;
        (first.number == 1 && first.is_audio() && first.start.0 > 0).then_some(Lba(0)..first.start)
    }

    /// The fields of track `number` in the first CD-TEXT block.
    pub fn track_text(&self, number: u8) -> Option<&CdTextFields> {
        self.cdtext.as_ref()?.blocks.first()?.tracks.get(&number)
    }

    /// The disc's fields in the first CD-TEXT block.
    pub fn disc_text(&self) -> Option<&CdTextFields> {
        Some(&self.cdtext.as_ref()?.blocks.first()?.disc)
    }

    /// The first CD-TEXT block, created (English, ISO-8859-1) when there is none: where
    /// cue sheets and TOC files put their text.
    pub fn cdtext_block_mut(&mut self) -> &mut CdTextBlock {
        let cdtext = self.cdtext.get_or_insert_with(CdText::default);
        if cdtext.blocks.is_empty() {
            cdtext
                .blocks
                .push(CdTextBlock::new(LANGUAGE_ENGLISH, Charset::Iso8859_1));
        }
        // Not empty: a block was just pushed if there was none.
        &mut cdtext.blocks[0]
    }

    /// Checks the invariants listed in the module documentation.
    ///
    /// # Errors
    /// The first broken invariant, worded for a person.
    pub fn validate(&self) -> Result<(), DiscError> {
        let err = |m: String| Err(DiscError(m));
        if self.tracks.is_empty() {
            return err("the disc has no tracks".into());
        }
        if self.sessions.is_empty() {
            return err("the disc has no sessions".into());
        }
        for (i, s) in self.sessions.iter().enumerate() {
            if usize::from(s.number) != i + 1 {
                return err(format!(
                    "session {} is listed at position {}",
                    s.number,
                    i + 1
                ));
            }
        }
        if self.sessions.last().map(|s| s.leadout) != Some(self.leadout) {
            return err("the last session's lead-out is not the disc's lead-out".into());
        }
        let mut prev: Option<&Track> = None;
        for t in &self.tracks {
            let n = t.number;
            if n == 0 || n > MAX_TRACKS {
                return err(format!("track number {n} is outside 1..=99"));
            }
            if let Some(p) = prev {
                if n != p.number.wrapping_add(1) {
                    return err(format!("track {n} follows track {}", p.number));
                }
                if t.session < p.session {
                    return err(format!(
                        "track {n} is in an earlier session than track {}",
                        p.number
                    ));
                }
                let p_last = p.indexes.last().map_or(p.start, |i| i.start);
                if t.first_address() <= p_last {
                    return err(format!(
                        "track {n} starts at LBA {} but track {} runs until at least LBA {}",
                        t.first_address().0,
                        p.number,
                        p_last.0
                    ));
                }
            }
            if !self.sessions.iter().any(|s| s.number == t.session) {
                return err(format!(
                    "track {n} names session {}, which is not listed",
                    t.session
                ));
            }
            if let Some(p) = t.pregap {
                if p > t.start {
                    return err(format!("track {n}'s INDEX 00 comes after its INDEX 01"));
                }
            }
            if t.first_address().0 < -150 {
                return err(format!("track {n} starts before the lead-in ends"));
            }
            let mut last = (1u8, t.start);
            for i in &t.indexes {
                if i.number != last.0.wrapping_add(1) || i.number > 99 {
                    return err(format!(
                        "track {n} has INDEX {:02} after INDEX {:02}",
                        i.number, last.0
                    ));
                }
                if i.start <= last.1 {
                    return err(format!(
                        "track {n}'s INDEX {:02} does not come after INDEX {:02}",
                        i.number, last.0
                    ));
                }
                last = (i.number, i.start);
            }
            let leadout = self.session_leadout(t.session);
            if last.1 >= leadout {
                return err(format!(
                    "track {n} reaches LBA {}, at or past its session's lead-out at LBA {}",
                    last.1 .0, leadout.0
                ));
            }
            if let Some(isrc) = &t.isrc {
                if !is_valid_isrc(isrc) {
                    return err(format!(
                        "track {n}'s ISRC {isrc:?} is not 12 letters and digits"
                    ));
                }
            }
            prev = Some(t);
        }
        if let Some(mcn) = &self.mcn {
            if !is_valid_mcn(mcn) {
                return err(format!("the MCN {mcn:?} is not 13 digits"));
            }
        }
        Ok(())
    }
}

/// True for a well-formed ISRC: 12 characters, the first 5 letters or digits (country
/// and registrant code), the last 7 digits (ISO 3901).
pub fn is_valid_isrc(isrc: &str) -> bool {
    let b = isrc.as_bytes();
    b.len() == 12
        && b.iter().take(5).all(u8::is_ascii_alphanumeric)
        && b.iter().skip(5).all(u8::is_ascii_digit)
}

/// True for a well-formed Media Catalog Number: 13 digits (UPC/EAN; Red Book).
pub fn is_valid_mcn(mcn: &str) -> bool {
    mcn.len() == 13 && mcn.bytes().all(|b| b.is_ascii_digit())
}

// ---------------------------------------------------------------------------
// CD-TEXT model. The pack format (18-byte packs, CRCs, block size information) is
// in `cdtext`; this is what it parses into and builds from (Red Book annex / MMC-6
// annex J, "CD-TEXT format in the lead-in area").
// ---------------------------------------------------------------------------

/// The character set of a CD-TEXT block (size-information pack, byte 0; MMC-6 J.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Charset {
    /// 0x00: ISO-8859-1.
    #[default]
    Iso8859_1,
    /// 0x01: ISO 646 (ASCII).
    Ascii,
    /// 0x80: MS-JIS (Shift JIS), double-byte.
    MsJis,
    /// 0x81: Korean, double-byte.
    Korean,
    /// 0x82: Mandarin Chinese, double-byte.
    Mandarin,
    /// Any other code, kept as found.
    Other(u8),
}

impl Charset {
    /// The charset for a code byte.
    pub fn from_code(code: u8) -> Charset {
        match code {
            0x00 => Charset::Iso8859_1,
            0x01 => Charset::Ascii,
            0x80 => Charset::MsJis,
            0x81 => Charset::Korean,
            0x82 => Charset::Mandarin,
            c => Charset::Other(c),
        }
    }

    /// The code byte.
    pub fn code(self) -> u8 {
        match self {
            Charset::Iso8859_1 => 0x00,
            Charset::Ascii => 0x01,
            Charset::MsJis => 0x80,
            Charset::Korean => 0x81,
            Charset::Mandarin => 0x82,
            Charset::Other(c) => c,
        }
    }

    /// True when text in this set uses two bytes per character (the packs' DBCC flag,
    /// bit 7 of the block-number byte, is set for such blocks).
    pub fn is_double_byte(self) -> bool {
        matches!(self, Charset::MsJis | Charset::Korean | Charset::Mandarin)
    }
}

/// The CD-TEXT genre (pack type 0x87): a code (RIAA-like list in the CD-TEXT spec,
/// 0 = not used, 1 = not defined, 2 = adult contemporary, …) and a supplementary text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Genre {
    pub code: u16,
    pub text: String,
}

/// The text fields of one CD-TEXT pack type family, for the disc or one track.
/// `None` (or absent) means the field is not present.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct CdTextFields {
    /// Pack type 0x80.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Pack type 0x81.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub performer: Option<String>,
    /// Pack type 0x82.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub songwriter: Option<String>,
    /// Pack type 0x83.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub composer: Option<String>,
    /// Pack type 0x84.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arranger: Option<String>,
    /// Pack type 0x85.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Pack type 0x8E: the UPC/EAN for the disc, the ISRC for a track.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

impl CdTextFields {
    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        *self == CdTextFields::default()
    }
}

/// One CD-TEXT block: everything in one language (up to 8 blocks on a disc).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CdTextBlock {
    /// The language code (EBU Tech 3258 / the CD-TEXT spec: 0x09 English, 0x08
    /// German, 0x0F French, 0x69 Japanese, …; 0 unknown).
    pub language: u8,
    /// The character set of every text in the block.
    pub charset: Charset,
    /// The copyright byte of the size-information pack (0 = no copyright flags).
    #[serde(default)]
    pub copyright: u8,
    /// Disc-level fields (the album title, its performer, the UPC/EAN, …).
    pub disc: CdTextFields,
    /// Track-level fields, by track number.
    pub tracks: BTreeMap<u8, CdTextFields>,
    /// Pack type 0x86: the disc's catalogue number as the producer wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disc_id: Option<String>,
    /// Pack type 0x87.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genre: Option<Genre>,
    /// Pack type 0x8D: closed information (not shown to the listener).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_info: Option<String>,
}

impl CdTextBlock {
    /// An empty block for `language` in `charset`.
    pub fn new(language: u8, charset: Charset) -> CdTextBlock {
        CdTextBlock {
            language,
            charset,
            ..CdTextBlock::default()
        }
    }

    /// The fields of track `number`, created empty when missing.
    pub fn track_mut(&mut self, number: u8) -> &mut CdTextFields {
        self.tracks.entry(number).or_default()
    }
}

/// The language code for English (EBU Tech 3258), the default block's language.
pub const LANGUAGE_ENGLISH: u8 = 0x09;

/// All the CD-TEXT of a disc: up to 8 blocks, one per language.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CdText {
    pub blocks: Vec<CdTextBlock>,
}

impl fmt::Display for DiscKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DiscKind::Audio => "audio CD",
            DiscKind::Enhanced => "enhanced CD",
            DiscKind::Mixed => "mixed-mode CD",
            DiscKind::Data => "data CD",
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn lbas(v: &[i32]) -> Vec<Lba> {
        v.iter().map(|&x| Lba(x)).collect()
    }

    #[test]
    fn control_bits_round_trip() {
        for b in 0..16u8 {
            assert_eq!(Control::from_bits(b).bits(), b);
        }
        let c = Control::from_bits(0x4 | 0x1);
        assert!(c.data && c.preemphasis && !c.copy_permitted && !c.four_channel);
        assert_eq!(Control::from_bits(0xF0), Control::AUDIO);
    }

    #[test]
    fn lengths_and_pregaps() {
        let mut d = Disc::audio(&lbas(&[0, 1000, 2500]), Lba(4000)).unwrap();
        d.tracks[1].pregap = Some(Lba(850));
        d.tracks[2].indexes.push(Index {
            number: 2,
            start: Lba(3000),
        });
        d.validate().unwrap();
        assert_eq!(d.track_sectors(1), Some(1000));
        assert_eq!(d.track_sectors(3), Some(1500));
        assert_eq!(d.track_range_without_gap(1), Some(Lba(0)..Lba(850)));
        assert_eq!(d.pregap_sectors(2), Some(150));
        assert_eq!(d.pregap_sectors(1), Some(0));
        assert_eq!(d.track(2).unwrap().index_at(Lba(900)), Some(0));
        assert_eq!(d.track(3).unwrap().index_at(Lba(3001)), Some(2));
        assert_eq!(d.track(3).unwrap().index_at(Lba(10)), None);
        assert_eq!(d.kind(), DiscKind::Audio);
        assert_eq!(d.hidden_track(), None);
    }

    #[test]
    fn hidden_track_one_audio() {
        let mut d = Disc::audio(&lbas(&[2250, 9000]), Lba(20000)).unwrap();
        d.tracks[0].pregap = Some(Lba(0));
        d.validate().unwrap();
        assert_eq!(d.hidden_track(), Some(Lba(0)..Lba(2250)));
        assert_eq!(d.pregap_sectors(1), Some(2250));
    }

    #[test]
    fn enhanced_and_mixed() {
        let mut d = Disc::audio(&lbas(&[0, 5000]), Lba(10000)).unwrap();
        d.tracks.push(Track::data(3, 2, Lba(21400)));
        d.sessions = vec![
            Session {
                number: 1,
                leadout: Lba(10000),
            },
            Session {
                number: 2,
                leadout: Lba(30000),
            },
        ];
        d.leadout = Lba(30000);
        d.validate().unwrap();
        assert_eq!(d.kind(), DiscKind::Enhanced);
        assert_eq!(d.audio_leadout(), Lba(10000));
        assert_eq!(d.track_sectors(2), Some(5000));
        assert_eq!(d.track_sectors(3), Some(8600));
        assert_eq!(d.audio_tracks().count(), 2);

        let mut m = Disc::audio(&lbas(&[0, 20000]), Lba(30000)).unwrap();
        m.tracks[0].control = Control::DATA;
        m.tracks[0].mode = TrackMode::Mode1Raw;
        assert!(m.is_mixed_mode());
        assert_eq!(m.hidden_track(), None);
        assert_eq!(m.audio_leadout(), Lba(30000));
    }

    #[test]
    fn validation_catches_nonsense() {
        assert!(Disc::audio(&lbas(&[0, 0]), Lba(10)).is_err());
        assert!(Disc::audio(&lbas(&[0, 20]), Lba(10)).is_err());
        assert!(Disc::audio(&[], Lba(10)).is_err());
        let mut d = Disc::audio(&lbas(&[0, 100]), Lba(200)).unwrap();
        d.tracks[1].pregap = Some(Lba(101));
        assert!(d.validate().is_err());
        d.tracks[1].pregap = None;
        d.tracks[1].isrc = Some("USRC1".into());
        assert!(d.validate().is_err());
        d.tracks[1].isrc = Some("USRC17607839".into());
        d.mcn = Some("0123".into());
        assert!(d.validate().unwrap_err().0.contains("MCN"));
    }

    #[test]
    fn cdtext_helpers() {
        let mut d = Disc::audio(&lbas(&[0]), Lba(200)).unwrap();
        d.cdtext_block_mut().track_mut(1).title = Some("Song".into());
        d.cdtext_block_mut().disc.title = Some("Album".into());
        assert_eq!(d.track_text(1).unwrap().title.as_deref(), Some("Song"));
        assert_eq!(d.disc_text().unwrap().title.as_deref(), Some("Album"));
        assert_eq!(d.cdtext.as_ref().unwrap().blocks.len(), 1);
        assert!(Charset::MsJis.is_double_byte());
        assert!(!Charset::from_code(0).is_double_byte());
        assert_eq!(Charset::from_code(0x42).code(), 0x42);
    }
}
