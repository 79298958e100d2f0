//! Cue sheets, read and written.
//!
//! Two layers:
//!
//! - [`CueSheet`] is the sheet as written: global commands, the FILEs, and the TRACKs
//!   with their indexes as (file, position within the file). [`CueSheet::parse`] reads
//!   text (or bytes: [`CueSheet::parse_bytes`] handles a BOM, UTF-16 and non-UTF-8
//!   files), [`fmt::Display`] writes it. Parsing then writing then parsing gives the same
//!   sheet.
//! - [`CueSheet::to_disc`] maps a sheet onto the [`Disc`] model; it needs the length of
//!   each file in sectors, which the caller supplies (decoding audio files is not this
//!   crate's business). [`CueSheet::from_disc`] writes a disc in one of EAC's layouts
//!   ([`CueLayout`]) and says which range of the disc each file must hold.
//!
//! The syntax is CDRWIN's (the de-facto cue sheet reference, as documented with CDRWIN
//! and followed by EAC, cdrdao, libcue and cuetools): one command per line, keywords in
//! any case, values quoted or not. Times are `MM:SS:FF` with 75 frames per second,
//! counted from the start of the current FILE.
//!
//! A sheet with an error is rejected with its line number ("line 12: INDEX 01 before
//! any TRACK"). Unknown commands are errors too: a sheet we do not understand is not
//! silently misread.

use std::fmt;
use std::ops::Range;

use aj_core::units::{Lba, Msf};
use serde::{Deserialize, Serialize};

use crate::disc::{
    is_valid_isrc, is_valid_mcn, CdTextFields, Control, Disc, Session, Track, TrackMode,
    MAX_TRACKS, SESSION_GAP_SECTORS,
};

/// A cue sheet error: the line it is on (1-based; 0 when the error is not about one
/// line) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct CueError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for CueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "line {}: {}", self.line, self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

fn err<T>(line: usize, message: impl Into<String>) -> Result<T, CueError> {
    Err(CueError {
        line,
        message: message.into(),
    })
}

/// The type of a FILE: how its bytes are audio or sectors.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileType {
    /// Raw sectors, little-endian audio samples.
    Binary,
    /// Raw sectors, big-endian audio samples.
    Motorola,
    /// A WAV file (EAC also writes WAVE for FLAC and other audio files).
    Wave,
    Aiff,
    Mp3,
    Flac,
    /// Any other word (e.g. `OGG`, `APE`), kept as written.
    Other(String),
}

impl FileType {
    fn parse(word: &str) -> FileType {
        match word.to_ascii_uppercase().as_str() {
            "BINARY" => FileType::Binary,
            "MOTOROLA" => FileType::Motorola,
            "WAVE" => FileType::Wave,
            "AIFF" => FileType::Aiff,
            "MP3" => FileType::Mp3,
            "FLAC" => FileType::Flac,
            _ => FileType::Other(word.to_string()),
        }
    }

    /// The keyword as written in a sheet.
    pub fn keyword(&self) -> &str {
        match self {
            FileType::Binary => "BINARY",
            FileType::Motorola => "MOTOROLA",
            FileType::Wave => "WAVE",
            FileType::Aiff => "AIFF",
            FileType::Mp3 => "MP3",
            FileType::Flac => "FLAC",
            FileType::Other(s) => s,
        }
    }

    /// True for raw sector images (BINARY, MOTOROLA), false for audio files.
    pub fn is_raw(&self) -> bool {
        matches!(self, FileType::Binary | FileType::Motorola)
    }
}

/// One FILE command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CueFile {
    /// The name as written (relative to the sheet's folder, usually).
    pub name: String,
    pub kind: FileType,
}

/// A TRACK's data type (CDRWIN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackType {
    Audio,
    /// CD+G: audio with graphics in the sub-channel (2448 bytes per sector).
    Cdg,
    Mode1_2048,
    Mode1_2352,
    Mode2_2048,
    Mode2_2324,
    Mode2_2336,
    Mode2_2352,
    Cdi2336,
    Cdi2352,
}

const TRACK_TYPES: [(TrackType, &str); 10] = [
    (TrackType::Audio, "AUDIO"),
    (TrackType::Cdg, "CDG"),
    (TrackType::Mode1_2048, "MODE1/2048"),
    (TrackType::Mode1_2352, "MODE1/2352"),
    (TrackType::Mode2_2048, "MODE2/2048"),
    (TrackType::Mode2_2324, "MODE2/2324"),
    (TrackType::Mode2_2336, "MODE2/2336"),
    (TrackType::Mode2_2352, "MODE2/2352"),
    (TrackType::Cdi2336, "CDI/2336"),
    (TrackType::Cdi2352, "CDI/2352"),
];

impl TrackType {
    /// The keyword as written in a sheet.
    pub fn keyword(self) -> &'static str {
        TRACK_TYPES
            .iter()
            .find(|(t, _)| *t == self)
            .map_or("AUDIO", |(_, k)| k)
    }

    /// The disc model's sector format.
    pub fn mode(self) -> TrackMode {
        match self {
            TrackType::Audio | TrackType::Cdg => TrackMode::Audio,
            TrackType::Mode1_2048 => TrackMode::Mode1Cooked,
            TrackType::Mode1_2352 => TrackMode::Mode1Raw,
            TrackType::Mode2_2048 => TrackMode::Mode2Form1,
            TrackType::Mode2_2324 => TrackMode::Mode2Form2,
            TrackType::Mode2_2336 => TrackMode::Mode2Formless,
            TrackType::Mode2_2352 => TrackMode::Mode2Raw,
            TrackType::Cdi2336 => TrackMode::CdiCooked,
            TrackType::Cdi2352 => TrackMode::CdiRaw,
        }
    }

    /// The track type for a disc model's sector format.
    pub fn from_mode(mode: TrackMode) -> TrackType {
        match mode {
            TrackMode::Audio => TrackType::Audio,
            TrackMode::Mode1Cooked => TrackType::Mode1_2048,
            TrackMode::Mode1Raw => TrackType::Mode1_2352,
            TrackMode::Mode2Form1 => TrackType::Mode2_2048,
            TrackMode::Mode2Form2 => TrackType::Mode2_2324,
            TrackMode::Mode2Formless | TrackMode::Mode2FormMix => TrackType::Mode2_2336,
            TrackMode::Mode2Raw => TrackType::Mode2_2352,
            TrackMode::CdiCooked => TrackType::Cdi2336,
            TrackMode::CdiRaw => TrackType::Cdi2352,
        }
    }

    /// True for AUDIO and CDG.
    pub fn is_audio(self) -> bool {
        matches!(self, TrackType::Audio | TrackType::Cdg)
    }
}

/// The FLAGS of a track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Flags {
    /// DCP: digital copy permitted.
    pub dcp: bool,
    /// 4CH: four-channel audio.
    pub four_channel: bool,
    /// PRE: pre-emphasis.
    pub pre: bool,
    /// SCMS: serial copy management system (a burner setting; not in the TOC).
    pub scms: bool,
}

impl Flags {
    fn is_empty(self) -> bool {
        self == Flags::default()
    }
}

/// A REM line: `REM NAME value`. EAC and others write GENRE, DATE, DISCID, COMMENT,
/// REPLAYGAIN_ALBUM_GAIN/PEAK, REPLAYGAIN_TRACK_GAIN/PEAK; any REM is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rem {
    /// The first word after REM, upper-cased for the well-known names.
    pub name: String,
    /// The rest of the line, without surrounding quotes.
    pub value: String,
}

/// REM names that EAC, foobar2000 and others write.
pub mod rem {
    pub const GENRE: &str = "GENRE";
    pub const DATE: &str = "DATE";
    pub const DISCID: &str = "DISCID";
    pub const COMMENT: &str = "COMMENT";
    pub const REPLAYGAIN_ALBUM_GAIN: &str = "REPLAYGAIN_ALBUM_GAIN";
    pub const REPLAYGAIN_ALBUM_PEAK: &str = "REPLAYGAIN_ALBUM_PEAK";
    pub const REPLAYGAIN_TRACK_GAIN: &str = "REPLAYGAIN_TRACK_GAIN";
    pub const REPLAYGAIN_TRACK_PEAK: &str = "REPLAYGAIN_TRACK_PEAK";
    /// `REM SESSION nn`: the tracks after it belong to session nn (as ImgBurn and EAC
    /// write multi-session discs).
    pub const SESSION: &str = "SESSION";
    pub(super) const KNOWN: [&str; 9] = [
        GENRE,
        DATE,
        DISCID,
        COMMENT,
        REPLAYGAIN_ALBUM_GAIN,
        REPLAYGAIN_ALBUM_PEAK,
        REPLAYGAIN_TRACK_GAIN,
        REPLAYGAIN_TRACK_PEAK,
        SESSION,
    ];
}

/// One INDEX of a track: its number and where it is (which FILE, how far into it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CueIndex {
    /// 0..=99.
    pub number: u8,
    /// Position in [`CueSheet::files`].
    pub file: usize,
    /// Sectors from the start of the file.
    pub position: u32,
}

/// One TRACK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CueTrack {
    pub number: u8,
    pub kind: TrackType,
    pub flags: Flags,
    pub isrc: Option<String>,
    /// TITLE, PERFORMER, SONGWRITER, COMPOSER, ARRANGER, MESSAGE (`code` unused: the
    /// ISRC is its own command).
    pub text: CdTextFields,
    /// PREGAP: sectors of silence before INDEX 01 that no file holds.
    pub pregap: Option<u32>,
    /// POSTGAP: sectors of silence after the track that no file holds.
    pub postgap: Option<u32>,
    /// INDEX 00..=99 in order; INDEX 01 is always present.
    pub indexes: Vec<CueIndex>,
    /// REM lines inside the track.
    pub rems: Vec<Rem>,
    /// The session (from `REM SESSION nn`; 1 without it).
    pub session: u8,
}

impl CueTrack {
    /// INDEX `number`, if the track has it.
    pub fn index(&self, number: u8) -> Option<&CueIndex> {
        self.indexes.iter().find(|i| i.number == number)
    }
}

/// A whole cue sheet.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CueSheet {
    /// REM lines before the first FILE.
    pub rems: Vec<Rem>,
    /// CATALOG: the disc's MCN (13 digits).
    pub catalog: Option<String>,
    /// CDTEXTFILE: a binary CD-TEXT file to burn.
    pub cdtextfile: Option<String>,
    /// Disc TITLE, PERFORMER, SONGWRITER, COMPOSER, ARRANGER, MESSAGE; `code` is the
    /// CD-TEXT UPC_EAN.
    pub text: CdTextFields,
    pub files: Vec<CueFile>,
    pub tracks: Vec<CueTrack>,
}

impl CueSheet {
    /// The value of the first global `REM name` (case-insensitive), e.g.
    /// `sheet.rem(cue::rem::GENRE)`.
    pub fn rem(&self, name: &str) -> Option<&str> {
        self.rems
            .iter()
            .find(|r| r.name.eq_ignore_ascii_case(name))
            .map(|r| r.value.as_str())
    }
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

/// Windows-1252's characters at 0x80..=0x9F (where ISO-8859-1 has C1 controls, which no
/// sheet means); 0 where Windows-1252 has none.
const CP1252_HIGH: [u16; 32] = [
    0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039,
    0x0152, 0, 0x017D, 0, 0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC,
    0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
];

/// Decodes the bytes of a sheet: a UTF-8 BOM is dropped; UTF-16 with a BOM (EAC's
/// "Unicode" sheets) is decoded; other text is UTF-8 when valid, else ISO-8859-1 (with
/// Windows-1252's printable characters at 0x80..=0x9F, which is what Windows tools
/// write).
pub fn decode_text(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return String::from_utf8_lossy(rest).into_owned();
    }
    let utf16 = |rest: &[u8], be: bool| -> String {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| {
                let pair = [c[0], c[1]];
                if be {
                    u16::from_be_bytes(pair)
                } else {
                    u16::from_le_bytes(pair)
                }
            })
            .collect();
        String::from_utf16_lossy(&units)
    };
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return utf16(rest, false);
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return utf16(rest, true);
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes
            .iter()
            .map(|&b| match b {
                0x80..=0x9F => {
                    let cp = CP1252_HIGH[usize::from(b - 0x80)];
                    char::from_u32(u32::from(cp))
                        .filter(|_| cp != 0)
                        .unwrap_or(char::from(b))
                }
                _ => char::from(b),
            })
            .collect(),
    }
}

/// Splits off the first word of `s` (ASCII whitespace separated).
fn first_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.find(|c: char| c.is_ascii_whitespace()) {
        Some(i) => (&s[..i], s[i..].trim_start()),
        None => (s, ""),
    }
}

/// A value that is either quoted (the text between the first and the last quote, so a
/// quote inside survives) or the rest of the line.
fn value(rest: &str) -> String {
    let t = rest.trim();
    if t.len() >= 2 && t.starts_with('"') && t.ends_with('"') {
        t[1..t.len() - 1].to_string()
    } else if let Some(stripped) = t.strip_prefix('"') {
        // An unterminated quote: take the rest.
        stripped.to_string()
    } else {
        t.to_string()
    }
}

fn parse_msf(line: usize, text: &str) -> Result<u32, CueError> {
    match Msf::parse(text) {
        Some(m) => Ok(m.sectors() as u32),
        None => err(
            line,
            format!("{text:?} is not a time MM:SS:FF (seconds below 60, frames below 75)"),
        ),
    }
}

fn parse_number(line: usize, what: &str, text: &str, range: Range<u32>) -> Result<u8, CueError> {
    match text.parse::<u32>() {
        Ok(n) if range.contains(&n) && text.len() <= 3 => Ok(n as u8),
        _ => err(
            line,
            format!(
                "{what} {text:?} is not a number from {} to {}",
                range.start,
                range.end - 1
            ),
        ),
    }
}

impl CueSheet {
    /// Reads a sheet from its bytes (see [`decode_text`]).
    ///
    /// # Errors
    /// The first problem, with its line number.
    pub fn parse_bytes(bytes: &[u8]) -> Result<CueSheet, CueError> {
        CueSheet::parse(&decode_text(bytes))
    }

    /// Reads a sheet from text (LF or CRLF line ends; a leading BOM is ignored).
    ///
    /// # Errors
    /// The first problem, with its line number.
    pub fn parse(text: &str) -> Result<CueSheet, CueError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut sheet = CueSheet::default();
        let mut session = 1u8;
        // The line of the current track's TRACK command.
        let mut track_line = 0usize;
        let mut last_line = 0usize;
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            last_line = n;
            let line = raw.trim_end_matches('\r').trim();
            if line.is_empty() {
                continue;
            }
            let (keyword, rest) = first_word(line);
            let key = keyword.to_ascii_uppercase();
            let in_track = !sheet.tracks.is_empty();
            match key.as_str() {
                "REM" => {
                    let (name, v) = first_word(rest);
                    let upper = name.to_ascii_uppercase();
                    let name = if rem::KNOWN.contains(&upper.as_str()) {
                        upper
                    } else {
                        name.to_string()
                    };
                    let r = Rem {
                        name,
                        value: value(v),
                    };
                    if r.name == rem::SESSION {
                        let s = parse_number(n, "session", r.value.trim(), 1..100)?;
                        if s < session {
                            return err(n, format!("REM SESSION {s} after session {session}"));
                        }
                        session = s;
                    }
                    // REM SESSION lives on as each track's `session`.
                    if r.name != rem::SESSION {
                        match sheet.tracks.last_mut() {
                            Some(t) => t.rems.push(r),
                            None => sheet.rems.push(r),
                        }
                    }
                }
                "CATALOG" => {
                    let v = value(rest);
                    if !is_valid_mcn(&v) {
                        return err(n, format!("CATALOG {v:?} is not 13 digits"));
                    }
                    if in_track || !sheet.files.is_empty() {
                        return err(n, "CATALOG after the first FILE or TRACK");
                    }
                    sheet.catalog = Some(v);
                }
                "CDTEXTFILE" => {
                    if in_track || !sheet.files.is_empty() {
                        return err(n, "CDTEXTFILE after the first FILE or TRACK");
                    }
                    sheet.cdtextfile = Some(value(rest));
                }
                "TITLE" | "PERFORMER" | "SONGWRITER" | "COMPOSER" | "ARRANGER" | "MESSAGE"
                | "UPC_EAN" | "DISC_ID" => {
                    let v = value(rest);
                    let fields = match sheet.tracks.last_mut() {
                        Some(t) => {
                            if key == "UPC_EAN" || key == "DISC_ID" {
                                return err(n, format!("{key} inside a TRACK"));
                            }
                            &mut t.text
                        }
                        None => &mut sheet.text,
                    };
                    let slot = match key.as_str() {
                        "TITLE" => &mut fields.title,
                        "PERFORMER" => &mut fields.performer,
                        "SONGWRITER" => &mut fields.songwriter,
                        "COMPOSER" => &mut fields.composer,
                        "ARRANGER" => &mut fields.arranger,
                        "MESSAGE" => &mut fields.message,
                        // UPC_EAN and DISC_ID: the disc's code.
                        _ => &mut fields.code,
                    };
                    *slot = Some(v);
                }
                "FILE" => {
                    let rest = rest.trim();
                    let Some(split) = rest.rfind(|c: char| c.is_ascii_whitespace()) else {
                        return err(n, "FILE needs a name and a type (FILE \"name\" WAVE)");
                    };
                    let (name, kind) = (value(&rest[..split]), rest[split..].trim());
                    if name.is_empty() {
                        return err(n, "FILE has an empty name");
                    }
                    sheet.files.push(CueFile {
                        name,
                        kind: FileType::parse(kind),
                    });
                }
                "TRACK" => {
                    if let Some(prev) = sheet.tracks.last() {
                        if prev.index(1).is_none() {
                            return err(
                                track_line,
                                format!("TRACK {:02} has no INDEX 01", prev.number),
                            );
                        }
                    }
                    if sheet.files.is_empty() {
                        return err(n, "TRACK before any FILE");
                    }
                    let (num, kind) = first_word(rest);
                    let number = parse_number(n, "track number", num, 1..100)?;
                    if let Some(prev) = sheet.tracks.last() {
                        if number != prev.number + 1 {
                            return err(
                                n,
                                format!("TRACK {number:02} follows TRACK {:02}", prev.number),
                            );
                        }
                    }
                    let kind_up = kind.trim().to_ascii_uppercase();
                    let Some((kind, _)) = TRACK_TYPES.iter().find(|(_, k)| *k == kind_up) else {
                        return err(n, format!("unknown track type {:?}", kind.trim()));
                    };
                    track_line = n;
                    sheet.tracks.push(CueTrack {
                        number,
                        kind: *kind,
                        flags: Flags::default(),
                        isrc: None,
                        text: CdTextFields::default(),
                        pregap: None,
                        postgap: None,
                        indexes: Vec::new(),
                        rems: Vec::new(),
                        session,
                    });
                }
                "FLAGS" => {
                    let Some(t) = sheet.tracks.last_mut() else {
                        return err(n, "FLAGS before any TRACK");
                    };
                    for f in rest.split_ascii_whitespace() {
                        match f.to_ascii_uppercase().as_str() {
                            "DCP" => t.flags.dcp = true,
                            "4CH" => t.flags.four_channel = true,
                            "PRE" => t.flags.pre = true,
                            "SCMS" => t.flags.scms = true,
                            // cdrdao's "DATA" flag: the track type already says it.
                            "DATA" => {}
                            other => return err(n, format!("unknown flag {other:?}")),
                        }
                    }
                }
                "ISRC" => {
                    let Some(t) = sheet.tracks.last_mut() else {
                        return err(n, "ISRC before any TRACK");
                    };
                    let v = value(rest);
                    if !is_valid_isrc(&v) {
                        return err(n, format!("ISRC {v:?} is not 12 letters and digits"));
                    }
                    t.isrc = Some(v);
                }
                "PREGAP" | "POSTGAP" => {
                    let Some(t) = sheet.tracks.last_mut() else {
                        return err(n, format!("{key} before any TRACK"));
                    };
                    let len = parse_msf(n, rest.trim())?;
                    if key == "PREGAP" {
                        if !t.indexes.is_empty() {
                            return err(n, "PREGAP after an INDEX (it must come before them)");
                        }
                        t.pregap = Some(len);
                    } else {
                        if t.index(1).is_none() {
                            return err(n, "POSTGAP before INDEX 01");
                        }
                        t.postgap = Some(len);
                    }
                }
                "INDEX" => {
                    let file = sheet.files.len().saturating_sub(1);
                    let prev_in_file = sheet
                        .tracks
                        .iter()
                        .flat_map(|t| t.indexes.iter())
                        .next_back()
                        .filter(|i| i.file == file)
                        .map(|i| i.position);
                    let (num, pos) = first_word(rest);
                    let Some(t) = sheet.tracks.last_mut() else {
                        return err(n, format!("INDEX {num} before any TRACK"));
                    };
                    let number = parse_number(n, "index", num, 0..100)?;
                    let position = parse_msf(n, pos.trim())?;
                    if t.postgap.is_some() {
                        return err(n, "INDEX after POSTGAP");
                    }
                    match t.indexes.last() {
                        None if number > 1 => {
                            return err(
                                n,
                                format!(
                                    "INDEX {number:02} is the first index of TRACK {:02} (expected 00 or 01)",
                                    t.number
                                ),
                            )
                        }
                        Some(last) if number != last.number + 1 => {
                            return err(
                                n,
                                format!("INDEX {number:02} follows INDEX {:02}", last.number),
                            )
                        }
                        _ => {}
                    }
                    if let Some(p) = prev_in_file {
                        if position <= p {
                            return err(
                                n,
                                format!(
                                    "INDEX {number:02} at {} does not come after the previous index at {}",
                                    msf_text(position),
                                    msf_text(p)
                                ),
                            );
                        }
                    }
                    if number == 1 && t.pregap.is_some() && t.index(0).is_some() {
                        return err(n, "a track with PREGAP cannot also have INDEX 00");
                    }
                    t.indexes.push(CueIndex {
                        number,
                        file,
                        position,
                    });
                }
                _ => return err(n, format!("unknown command {keyword:?}")),
            }
        }
        match sheet.tracks.last() {
            None => err(last_line.max(1), "the sheet has no TRACK"),
            Some(t) if t.index(1).is_none() => {
                err(track_line, format!("TRACK {:02} has no INDEX 01", t.number))
            }
            Some(_) => Ok(sheet),
        }
    }
}

fn msf_text(sectors: u32) -> String {
    i32::try_from(sectors)
        .ok()
        .and_then(Msf::from_sectors)
        .map_or_else(|| format!("{sectors} sectors"), |m| m.to_string())
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

/// Writes `value` quoted (the reader takes the text between the first and last quote,
/// so inner quotes survive).
fn quoted(value: &str) -> String {
    format!("\"{value}\"")
}

fn write_text(
    f: &mut fmt::Formatter<'_>,
    indent: &str,
    t: &CdTextFields,
    disc: bool,
) -> fmt::Result {
    let fields: [(&str, &Option<String>); 6] = [
        ("TITLE", &t.title),
        ("PERFORMER", &t.performer),
        ("SONGWRITER", &t.songwriter),
        ("COMPOSER", &t.composer),
        ("ARRANGER", &t.arranger),
        ("MESSAGE", &t.message),
    ];
    for (k, v) in fields {
        if let Some(v) = v {
            writeln!(f, "{indent}{k} {}", quoted(v))?;
        }
    }
    if disc {
        if let Some(code) = &t.code {
            writeln!(f, "{indent}UPC_EAN {code}")?;
        }
    }
    Ok(())
}

fn write_rem(f: &mut fmt::Formatter<'_>, indent: &str, r: &Rem) -> fmt::Result {
    let plain = r.name.starts_with("REPLAYGAIN_")
        || r.value.is_empty()
        || !r.value.contains(char::is_whitespace);
    if r.value.is_empty() {
        writeln!(f, "{indent}REM {}", r.name)
    } else if plain {
        writeln!(f, "{indent}REM {} {}", r.name, r.value)
    } else {
        writeln!(f, "{indent}REM {} {}", r.name, quoted(&r.value))
    }
}

impl fmt::Display for CueSheet {
    /// The sheet as text, EAC's way (LF line ends; see [`CueSheet::to_bytes`] for CRLF
    /// and a BOM).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in &self.rems {
            write_rem(f, "", r)?;
        }
        if let Some(c) = &self.catalog {
            writeln!(f, "CATALOG {c}")?;
        }
        if let Some(c) = &self.cdtextfile {
            writeln!(f, "CDTEXTFILE {}", quoted(c))?;
        }
        write_text(f, "", &self.text, true)?;
        let mut file: Option<usize> = None;
        let mut session = 1u8;
        let many_sessions = self.tracks.iter().any(|t| t.session != 1);
        for t in &self.tracks {
            if many_sessions && (t.session != session || t.number == self.tracks[0].number) {
                session = t.session;
                writeln!(f, "REM SESSION {:02}", t.session)?;
            }
            let mut indexes = t.indexes.iter().peekable();
            // A FILE that starts before this track's first index.
            if let Some(first) = indexes.peek() {
                if file != Some(first.file) {
                    write_file(f, self, first.file)?;
                    file = Some(first.file);
                }
            }
            writeln!(f, "  TRACK {:02} {}", t.number, t.kind.keyword())?;
            write_text(f, "    ", &t.text, false)?;
            for r in &t.rems {
                write_rem(f, "    ", r)?;
            }
            if !t.flags.is_empty() {
                let mut words = Vec::new();
                if t.flags.dcp {
                    words.push("DCP");
                }
                if t.flags.four_channel {
                    words.push("4CH");
                }
                if t.flags.pre {
                    words.push("PRE");
                }
                if t.flags.scms {
                    words.push("SCMS");
                }
                writeln!(f, "    FLAGS {}", words.join(" "))?;
            }
            if let Some(isrc) = &t.isrc {
                writeln!(f, "    ISRC {isrc}")?;
            }
            if let Some(p) = t.pregap {
                writeln!(f, "    PREGAP {}", msf_text(p))?;
            }
            for i in indexes {
                if file != Some(i.file) {
                    write_file(f, self, i.file)?;
                    file = Some(i.file);
                }
                writeln!(f, "    INDEX {:02} {}", i.number, msf_text(i.position))?;
            }
            if let Some(p) = t.postgap {
                writeln!(f, "    POSTGAP {}", msf_text(p))?;
            }
        }
        Ok(())
    }
}

fn write_file(f: &mut fmt::Formatter<'_>, sheet: &CueSheet, i: usize) -> fmt::Result {
    match sheet.files.get(i) {
        Some(file) => writeln!(f, "FILE {} {}", quoted(&file.name), file.kind.keyword()),
        None => Err(fmt::Error),
    }
}

impl CueSheet {
    /// The sheet as bytes: UTF-8, optionally with a BOM and CRLF line ends (as EAC
    /// writes them for Windows players).
    pub fn to_bytes(&self, bom: bool, crlf: bool) -> Vec<u8> {
        let text = self.to_string();
        let text = if crlf {
            text.replace('\n', "\r\n")
        } else {
            text
        };
        let mut out = Vec::with_capacity(text.len() + 3);
        if bom {
            out.extend_from_slice(&[0xEF, 0xBB, 0xBF]);
        }
        out.extend_from_slice(text.as_bytes());
        out
    }
}

// ---------------------------------------------------------------------------
// Sheet <-> disc model
// ---------------------------------------------------------------------------

impl CueSheet {
    /// Maps the sheet onto the disc model. `file_sectors` gives the length of each FILE
    /// in sectors (rounded up: a partial last sector is padded on a disc); it is called
    /// once per file, in order. For audio files that is frames / 588; for BINARY files,
    /// bytes / the sector size of its tracks.
    ///
    /// PREGAP and POSTGAP add silence no file holds; the disc's addresses count it.
    /// `REM SESSION nn` starts a new session, which begins 11400 sectors after the
    /// previous one's last sector (lead-out, lead-in and pregap of a multi-session disc).
    ///
    /// # Errors
    /// When `file_sectors` fails (its message, naming the file), when an index lies
    /// past the end of its file, or when the result is not a valid disc.
    pub fn to_disc<F>(&self, mut file_sectors: F) -> Result<Disc, CueError>
    where
        F: FnMut(&CueFile) -> Result<u64, String>,
    {
        // Where each file starts on the disc, before any inserted silence.
        let mut file_start = Vec::with_capacity(self.files.len());
        let mut file_len = Vec::with_capacity(self.files.len());
        let mut total: i64 = 0;
        for file in &self.files {
            let len = file_sectors(file).map_err(|m| CueError {
                line: 0,
                message: format!("{}: {m}", file.name),
            })?;
            let len = i64::try_from(len).unwrap_or(i64::MAX);
            file_start.push(total);
            file_len.push(len);
            total = total.saturating_add(len);
        }
        let limit = i64::from(i32::MAX / 2);
        let lba = |v: i64| -> Result<Lba, CueError> {
            if v > limit {
                return err(0, "the sheet is longer than any CD");
            }
            Ok(Lba(v as i32))
        };
        let mut shift: i64 = 0;
        let mut session = 1u8;
        let mut sessions: Vec<Session> = Vec::new();
        let mut tracks: Vec<Track> = Vec::with_capacity(self.tracks.len());
        for t in &self.tracks {
            if t.session != session {
                // The previous session ends where this track's data starts; the gap
                // between sessions is not in any file.
                let first = t.indexes.first().map_or(0, |i| {
                    file_start.get(i.file).copied().unwrap_or(0) + i64::from(i.position)
                });
                sessions.push(Session {
                    number: session,
                    leadout: lba(first + shift)?,
                });
                shift += i64::from(SESSION_GAP_SECTORS);
                session = t.session;
            }
            let mut addr = Vec::with_capacity(t.indexes.len());
            for i in &t.indexes {
                let start = file_start.get(i.file).copied().unwrap_or(0);
                let len = file_len.get(i.file).copied().unwrap_or(0);
                if i64::from(i.position) > len || (i64::from(i.position) == len && i.number == 1) {
                    return err(
                        0,
                        format!(
                            "TRACK {:02} INDEX {:02} at {} is past the end of {} ({} long)",
                            t.number,
                            i.number,
                            msf_text(i.position),
                            self.files.get(i.file).map_or("?", |f| f.name.as_str()),
                            msf_text(u32::try_from(len).unwrap_or(u32::MAX))
                        ),
                    );
                }
                if i.number == 1 {
                    if let Some(p) = t.pregap {
                        // PREGAP: silence before INDEX 01; INDEX 00 is where it starts.
                        addr.push((0u8, lba(start + i64::from(i.position) + shift)?));
                        shift += i64::from(p);
                    }
                }
                addr.push((i.number, lba(start + i64::from(i.position) + shift)?));
            }
            let mut track = Track {
                number: t.number,
                session: t.session,
                control: Control {
                    data: !t.kind.is_audio(),
                    preemphasis: t.flags.pre,
                    copy_permitted: t.flags.dcp,
                    four_channel: t.flags.four_channel,
                },
                mode: t.kind.mode(),
                pregap: None,
                start: Lba(0),
                indexes: Vec::new(),
                isrc: t.isrc.clone(),
            };
            for (number, at) in addr {
                match number {
                    0 => track.pregap = Some(at),
                    1 => track.start = at,
                    n => track.indexes.push(crate::disc::Index {
                        number: n,
                        start: at,
                    }),
                }
            }
            if track.pregap == Some(track.start) {
                track.pregap = None;
            }
            tracks.push(track);
            if let Some(p) = t.postgap {
                shift += i64::from(p);
            }
        }
        let leadout = lba(total + shift)?;
        sessions.push(Session {
            number: session,
            leadout,
        });
        let mut disc = Disc {
            tracks,
            sessions,
            leadout,
            mcn: self.catalog.clone(),
            cdtext: None,
        };
        if !self.text.is_empty() || self.tracks.iter().any(|t| !t.text.is_empty()) {
            let block = disc.cdtext_block_mut();
            block.disc = self.text.clone();
            for t in &self.tracks {
                if !t.text.is_empty() {
                    block.tracks.insert(t.number, t.text.clone());
                }
            }
        }
        disc.validate().map_err(|e| CueError {
            line: 0,
            message: format!("the sheet does not describe a valid disc: {}", e.0),
        })?;
        Ok(disc)
    }
}

/// How a disc is laid out in files, as EAC names its cue sheet styles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CueLayout {
    /// One file for the whole disc, pregaps included ("Single WAV file"; an image).
    SingleFile,
    /// One file per track; each pregap sits at the end of the previous track's file, and
    /// the sheet puts INDEX 00 in that file ("Multiple WAV files with gaps
    /// (noncompliant)": the "current gap" style). Track 1's pregap (hidden track one
    /// audio) is at the start of its own file.
    GapsAppended,
    /// One file per track; each pregap at the start of its own track's file (INDEX 00 at
    /// 00:00:00; "Multiple WAV files with corrected gaps").
    GapsPrepended,
    /// One file per track without the pregaps, which the sheet writes as PREGAP
    /// (silence on a burn; "Multiple WAV files with left-out gaps").
    GapsLeftOut,
}

/// What [`CueSheet::from_disc`] gives: the sheet, and the range of the disc each of its
/// files must hold (the ripper writes them, the burner reads them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CuePlan {
    pub sheet: CueSheet,
    /// `spans[i]` is the disc range in `sheet.files[i]`.
    pub spans: Vec<Range<Lba>>,
}

impl CuePlan {
    /// The length of file `i` in sectors (what [`CueSheet::to_disc`] asks for).
    pub fn file_sectors(&self, i: usize) -> Option<u64> {
        self.spans
            .get(i)
            .map(|r| u64::try_from(r.end.0 - r.start.0).unwrap_or(0))
    }
}

impl CueSheet {
    /// Writes `disc` in `layout`. `file` names a file and says its type: it is called
    /// with `None` for the single file of [`CueLayout::SingleFile`], else with each
    /// track's number. The disc's MCN, ISRCs, flags, first-block CD-TEXT and sessions go
    /// into the sheet; add REMs to the result as needed.
    ///
    /// # Errors
    /// When `disc` is not valid.
    pub fn from_disc<F>(disc: &Disc, layout: CueLayout, mut file: F) -> Result<CuePlan, CueError>
    where
        F: FnMut(Option<u8>) -> CueFile,
    {
        disc.validate().map_err(|e| CueError {
            line: 0,
            message: e.0,
        })?;
        let mut sheet = CueSheet {
            catalog: disc.mcn.clone(),
            text: disc.disc_text().cloned().unwrap_or_default(),
            ..CueSheet::default()
        };
        let mut spans: Vec<Range<Lba>> = Vec::new();
        let first_track = disc.first_track_number();
        // Disc ranges not in any file: a session gap, or a left-out pregap.
        for (pos, t) in disc.tracks.iter().enumerate() {
            let end = disc.track_end(t.number).unwrap_or(disc.leadout);
            let next_pregap_start = disc
                .tracks
                .get(pos + 1)
                .filter(|n| n.session == t.session)
                .map(|n| n.first_address());
            let session_changed = pos > 0
                && disc
                    .tracks
                    .get(pos - 1)
                    .is_some_and(|p| p.session != t.session);
            let mut ct = CueTrack {
                number: t.number,
                kind: TrackType::from_mode(t.mode),
                flags: Flags {
                    dcp: t.control.copy_permitted,
                    four_channel: t.control.four_channel,
                    pre: t.control.preemphasis,
                    scms: false,
                },
                isrc: t.isrc.clone(),
                text: disc.track_text(t.number).cloned().unwrap_or_default(),
                pregap: None,
                postgap: None,
                indexes: Vec::new(),
                rems: Vec::new(),
                session: t.session,
            };
            if t.is_audio() != ct.kind.is_audio() {
                ct.kind = if t.is_audio() {
                    TrackType::Audio
                } else {
                    TrackType::Mode1_2352
                };
            }
            let push_index = |sheet: &CueSheet, spans: &[Range<Lba>], number: u8, at: Lba| {
                let file = sheet.files.len().saturating_sub(1);
                let base = spans.get(file).map_or(at, |s| s.start);
                CueIndex {
                    number,
                    file,
                    position: u32::try_from(at.0 - base.0).unwrap_or(0),
                }
            };
            let own_file_start = match layout {
                CueLayout::SingleFile => {
                    if pos == 0 {
                        sheet.files.push(file(None));
                        spans.push(Lba(0).min(t.first_address())..disc.leadout);
                    }
                    None
                }
                // The disc's first track keeps everything from LBA 0 (hidden track one
                // audio) in its own file, in every layout; so does the first track of a
                // later session (no previous file to append its pregap to).
                _ if t.number == first_track => Some(Lba(0).min(t.first_address())),
                _ if session_changed => Some(t.first_address()),
                CueLayout::GapsPrepended => Some(t.first_address()),
                CueLayout::GapsAppended => Some(t.start),
                CueLayout::GapsLeftOut => Some(t.start),
            };
            // The pregap, when it lies in the previous track's file (appended) or is
            // left out.
            if let Some(p) = t.pregap {
                match layout {
                    CueLayout::GapsAppended if t.number != first_track && !session_changed => {
                        let i = push_index(&sheet, &spans, 0, p);
                        ct.indexes.push(i);
                    }
                    CueLayout::GapsLeftOut if t.number != first_track && !session_changed => {
                        ct.pregap = Some(t.pregap_sectors() as u32)
                    }
                    _ => {}
                }
            }
            if let Some(start) = own_file_start {
                let file_end = match layout {
                    CueLayout::GapsAppended => end,
                    _ => next_pregap_start.unwrap_or(end),
                };
                sheet.files.push(file(Some(t.number)));
                spans.push(start..file_end);
            }
            if let Some(p) = t.pregap {
                let in_own = match layout {
                    CueLayout::SingleFile | CueLayout::GapsPrepended => true,
                    CueLayout::GapsAppended | CueLayout::GapsLeftOut => {
                        t.number == first_track || session_changed
                    }
                };
                if in_own {
                    let i = push_index(&sheet, &spans, 0, p);
                    ct.indexes.push(i);
                }
            }
            let i = push_index(&sheet, &spans, 1, t.start);
            ct.indexes.push(i);
            for x in &t.indexes {
                let i = push_index(&sheet, &spans, x.number, x.start);
                ct.indexes.push(i);
            }
            sheet.tracks.push(ct);
        }
        // A multi-session single image: the sessions' gap is not in the file, so the
        // span list describes the file's disc ranges only approximately; the sheet's
        // REM SESSION lines and to_disc restore the addresses.
        if layout == CueLayout::SingleFile && disc.sessions.len() > 1 {
            let gaps = (disc.sessions.len() as i32 - 1) * SESSION_GAP_SECTORS;
            if let Some(s) = spans.first_mut() {
                s.end = Lba(s.end.0 - gaps);
            }
            // Positions after a session change count without the gap.
            let mut seen = 0;
            let mut session = disc.tracks.first().map_or(1, |t| t.session);
            for ct in &mut sheet.tracks {
                if ct.session != session {
                    seen += SESSION_GAP_SECTORS as u32;
                    session = ct.session;
                }
                for i in &mut ct.indexes {
                    i.position = i.position.saturating_sub(seen);
                }
            }
        }
        if sheet.tracks.len() > usize::from(MAX_TRACKS) {
            return err(0, "more than 99 tracks");
        }
        Ok(CuePlan { sheet, spans })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const EAC_SINGLE: &str = "REM GENRE \"Alternative Rock\"\r
REM DATE 1988\r
REM DISCID 7F08A409\r
REM COMMENT \"ExactAudioCopy v0.99pb4\"\r
CATALOG 0652637082126\r
PERFORMER \"Pixies\"\r
TITLE \"Surfer Rosa\"\r
FILE \"Pixies - Surfer Rosa.wav\" WAVE\r
  TRACK 01 AUDIO\r
    TITLE \"Bone Machine\"\r
    PERFORMER \"Pixies\"\r
    ISRC GBAFL8800011\r
    INDEX 01 00:00:00\r
  TRACK 02 AUDIO\r
    TITLE \"Break My Body\"\r
    FLAGS DCP PRE\r
    INDEX 00 03:02:62\r
    INDEX 01 03:03:40\r
    INDEX 02 04:00:00\r
";

    #[test]
    fn reads_an_eac_single_file_sheet() {
        let s = CueSheet::parse(EAC_SINGLE).unwrap();
        assert_eq!(s.rem(rem::GENRE), Some("Alternative Rock"));
        assert_eq!(s.rem("date"), Some("1988"));
        assert_eq!(s.catalog.as_deref(), Some("0652637082126"));
        assert_eq!(s.text.title.as_deref(), Some("Surfer Rosa"));
        assert_eq!(s.files.len(), 1);
        assert_eq!(s.files[0].kind, FileType::Wave);
        assert_eq!(s.tracks.len(), 2);
        let t2 = &s.tracks[1];
        assert!(t2.flags.dcp && t2.flags.pre && !t2.flags.four_channel);
        assert_eq!(t2.index(0).unwrap().position, (3 * 60 + 2) * 75 + 62);
        assert_eq!(t2.index(2).unwrap().position, 4 * 60 * 75);
        let d = s.to_disc(|_| Ok(5 * 60 * 75)).unwrap();
        assert_eq!(d.tracks[1].pregap_sectors(), 53);
        assert!(d.tracks[1].control.preemphasis);
        assert_eq!(d.leadout, Lba(5 * 60 * 75));
        assert_eq!(
            d.track_text(1).unwrap().title.as_deref(),
            Some("Bone Machine")
        );
        assert_eq!(d.mcn.as_deref(), Some("0652637082126"));
    }

    #[test]
    fn errors_name_the_line() {
        let e = |s: &str| CueSheet::parse(s).unwrap_err().to_string();
        assert_eq!(
            e("FILE \"a.wav\" WAVE\nINDEX 01 00:00:00\n"),
            "line 2: INDEX 01 before any TRACK"
        );
        assert_eq!(e("TRACK 01 AUDIO\n"), "line 1: TRACK before any FILE");
        assert!(
            e("FILE a.wav WAVE\n  TRACK 01 AUDIO\n    INDEX 01 00:60:00\n")
                .starts_with("line 3: \"00:60:00\" is not a time")
        );
        assert_eq!(
            e("FILE a.wav WAVE\n  TRACK 01 AUDIO\n  TRACK 02 AUDIO\n    INDEX 01 00:00:00\n"),
            "line 2: TRACK 01 has no INDEX 01"
        );
        assert_eq!(
            e("FILE a.wav WAVE\n  TRACK 01 AUDIO\n    INDEX 01 00:00:00\n  TRACK 03 AUDIO\n"),
            "line 4: TRACK 03 follows TRACK 01"
        );
        assert!(e("FILE a.wav WAVE\n  TRACK 01 AUDIO\n    INDEX 01 00:00:10\n  TRACK 02 AUDIO\n    INDEX 01 00:00:05\n")
            .starts_with("line 5: INDEX 01 at 00:00:05 does not come after"));
        assert_eq!(e("BOGUS x\n"), "line 1: unknown command \"BOGUS\"");
        assert_eq!(e("\n\n"), "line 2: the sheet has no TRACK");
        assert!(e("FILE a.wav WAVE\n  TRACK 01 AUDIO\n    ISRC 12\n").starts_with("line 3: ISRC"));
        assert!(e("FILE a.wav WAVE\n  TRACK 01 FOO\n").contains("unknown track type"));
    }

    #[test]
    fn decodes_bom_utf16_and_latin1() {
        let sheet =
            "TITLE \"Caf\u{e9} \u{20ac}\"\nFILE a.wav WAVE\n TRACK 01 AUDIO\n  INDEX 01 00:00:00\n";
        let mut utf8_bom = vec![0xEF, 0xBB, 0xBF];
        utf8_bom.extend_from_slice(sheet.as_bytes());
        let mut utf16 = vec![0xFF, 0xFE];
        for u in sheet.encode_utf16() {
            utf16.extend_from_slice(&u.to_le_bytes());
        }
        let mut latin: Vec<u8> = Vec::new();
        for c in sheet.chars() {
            latin.push(match c {
                '\u{20ac}' => 0x80,
                c => c as u8,
            });
        }
        for bytes in [utf8_bom, utf16, latin] {
            let s = CueSheet::parse_bytes(&bytes).unwrap();
            assert_eq!(s.text.title.as_deref(), Some("Caf\u{e9} \u{20ac}"));
        }
    }

    #[test]
    fn unquoted_values_and_inner_quotes() {
        let s = CueSheet::parse(
            "TITLE My Album\nPERFORMER \"The \"Best\" Band\"\nFILE my file.wav WAVE\n TRACK 01 AUDIO\n  INDEX 01 00:00:00\n",
        )
        .unwrap();
        assert_eq!(s.text.title.as_deref(), Some("My Album"));
        assert_eq!(s.text.performer.as_deref(), Some("The \"Best\" Band"));
        assert_eq!(s.files[0].name, "my file.wav");
        let again = CueSheet::parse(&s.to_string()).unwrap();
        assert_eq!(again, s);
    }
}
