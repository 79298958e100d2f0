//! cdrdao TOC files, read and written (the format of cdrdao(1), section "TOC FILES").
//!
//! [`TocFile::parse`] reads the file into [`TocFile`]: the session format, CATALOG,
//! CD-TEXT (language map and blocks, into the disc model's [`CdText`]) and each TRACK
//! with its flags, ISRC, data items (FILE/AUDIOFILE, DATAFILE, SILENCE, ZERO), PREGAP or
//! START, and INDEX increments. [`fmt::Display`] writes it back.
//! [`TocFile::to_disc`] maps it onto the [`Disc`] model (the caller gives the lengths
//! of files whose length is not written); [`TocFile::from_disc`] writes a disc as one
//! image (a WAVE file for the audio, raw sectors for data tracks).
//!
//! Lengths and positions: for audio, samples (1/44100 s; a plain number) or
//! `MM:SS:FF` blocks of 588 samples; for data, bytes or blocks. This module keeps
//! audio amounts in samples and data amounts in bytes, as cdrdao does.

use std::fmt;

use aj_core::units::{Lba, Msf};
use serde::{Deserialize, Serialize};

use crate::disc::{
    is_valid_isrc, is_valid_mcn, CdText, CdTextBlock, CdTextFields, Charset, Control, Disc, Genre,
    Index, Session, Track, TrackMode, LANGUAGE_ENGLISH,
};

/// Samples (stereo frames) per CD-DA block (Red Book: 2352 bytes / 4).
pub const SAMPLES_PER_SECTOR: u64 = 588;

/// A TOC file error: its line (1-based; 0 when not about one line) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct TocFileError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for TocFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "line {}: {}", self.line, self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

fn err<T>(line: usize, message: impl Into<String>) -> Result<T, TocFileError> {
    Err(TocFileError {
        line,
        message: message.into(),
    })
}

/// The session format keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionFormat {
    /// CD_DA: audio only.
    #[default]
    CdDa,
    /// CD_ROM: mode 1 (and audio) tracks.
    CdRom,
    /// CD_ROM_XA: mode 2 tracks.
    CdRomXa,
    /// CD_I.
    CdI,
}

impl SessionFormat {
    fn keyword(self) -> &'static str {
        match self {
            SessionFormat::CdDa => "CD_DA",
            SessionFormat::CdRom => "CD_ROM",
            SessionFormat::CdRomXa => "CD_ROM_XA",
            SessionFormat::CdI => "CD_I",
        }
    }
}

const MODES: [(TrackMode, &str); 8] = [
    (TrackMode::Audio, "AUDIO"),
    (TrackMode::Mode1Cooked, "MODE1"),
    (TrackMode::Mode1Raw, "MODE1_RAW"),
    (TrackMode::Mode2Formless, "MODE2"),
    (TrackMode::Mode2Form1, "MODE2_FORM1"),
    (TrackMode::Mode2Form2, "MODE2_FORM2"),
    (TrackMode::Mode2FormMix, "MODE2_FORM_MIX"),
    (TrackMode::Mode2Raw, "MODE2_RAW"),
];

fn mode_keyword(mode: TrackMode) -> &'static str {
    match mode {
        TrackMode::CdiCooked => "MODE2",
        TrackMode::CdiRaw => "MODE2_RAW",
        m => MODES
            .iter()
            .find(|(x, _)| *x == m)
            .map_or("AUDIO", |(_, k)| k),
    }
}

/// One data statement of a track.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TocItem {
    /// `SILENCE length`: audio zeros, in samples.
    Silence { samples: u64 },
    /// `ZERO length`: data zeros, in bytes.
    Zero { bytes: u64 },
    /// `FILE`/`AUDIOFILE "name" [SWAP] [#offset] start [length]`: audio from a file, in
    /// samples (`length: None` means to the end of the file). `offset` is a byte offset to
    /// skip. cdrdao(1) reads raw files as big-endian samples and WAVE files as
    /// little-endian; `SWAP` reverses the byte order of either.
    Audio {
        name: String,
        #[serde(default)]
        swap: bool,
        offset: Option<u64>,
        start: u64,
        length: Option<u64>,
    },
    /// `DATAFILE "name" [#offset] [length]`: data from a file, in bytes.
    Data {
        name: String,
        offset: Option<u64>,
        length: Option<u64>,
    },
}

/// One TRACK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TocTrack {
    pub mode: TrackMode,
    /// The sub-channel mode word (`RW`, `RW_RAW`), when given.
    pub subchannel: Option<String>,
    pub copy: bool,
    pub pre_emphasis: bool,
    pub four_channel: bool,
    pub isrc: Option<String>,
    /// `PREGAP`: silence (zeros) before the track's data, in blocks.
    pub pregap: Option<u32>,
    /// `START`: where INDEX 01 begins, in blocks from the track's first data (what comes
    /// before is the pregap).
    pub start: Option<u32>,
    pub items: Vec<TocItem>,
    /// `INDEX` increments, in blocks from INDEX 01 (INDEX 02, 03, …).
    pub indexes: Vec<u32>,
}

/// A whole TOC file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TocFile {
    pub format: SessionFormat,
    pub catalog: Option<String>,
    /// Global and per-track CD-TEXT, one block per language in language-map order
    /// (track fields keyed by track number, from 1).
    pub cdtext: Option<CdText>,
    pub tracks: Vec<TocTrack>,
}

// ---------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    Str(String),
    Open,
    Close,
    Colon,
    Comma,
}

fn tokenize(text: &str) -> Result<Vec<(usize, Tok)>, TocFileError> {
    let mut out = Vec::new();
    let mut line = 1usize;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            c if c.is_whitespace() => {}
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        break;
                    }
                }
            }
            '{' => out.push((line, Tok::Open)),
            '}' => out.push((line, Tok::Close)),
            ',' => out.push((line, Tok::Comma)),
            ':' => out.push((line, Tok::Colon)),
            '"' => {
                let start = line;
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => return err(start, "a string is not closed"),
                        Some('"') => break,
                        Some('\n') => return err(start, "a string runs past the end of the line"),
                        Some('\\') => match chars.next() {
                            Some(d @ '0'..='7') => {
                                // \ooo: an octal byte (cdrdao writes non-ASCII so).
                                let mut v = u32::from(d) - u32::from('0');
                                for _ in 0..2 {
                                    match chars.peek() {
                                        Some(&o @ '0'..='7') => {
                                            v = v * 8 + (u32::from(o) - u32::from('0'));
                                            chars.next();
                                        }
                                        _ => break,
                                    }
                                }
                                // The byte is ISO-8859-1 (the CD-TEXT default charset).
                                s.push(char::from_u32(v & 0xff).unwrap_or('?'));
                            }
                            Some(other) => s.push(other),
                            None => return err(start, "a string is not closed"),
                        },
                        Some(other) => s.push(other),
                    }
                }
                out.push((start, Tok::Str(s)));
            }
            c => {
                let mut w = String::from(c);
                while let Some(&n) = chars.peek() {
                    if n.is_whitespace() || matches!(n, '{' | '}' | '"' | ',') {
                        break;
                    }
                    if n == '/' {
                        // A comment right after a word.
                        let mut look = chars.clone();
                        look.next();
                        if look.peek() == Some(&'/') {
                            break;
                        }
                    }
                    w.push(n);
                    chars.next();
                }
                // "0:EN" or "1:8" in a language map: one colon is a separator (a time
                // MM:SS:FF has two).
                if w.matches(':').count() == 1 {
                    let parts: Vec<&str> = w.split(':').collect();
                    for (i, p) in parts.iter().enumerate() {
                        if i > 0 {
                            out.push((line, Tok::Colon));
                        }
                        if !p.is_empty() {
                            out.push((line, Tok::Word((*p).to_string())));
                        }
                    }
                } else {
                    out.push((line, Tok::Word(w)));
                }
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(_, t)| t)
    }
    fn line(&self) -> usize {
        self.toks
            .get(self.pos)
            .or_else(|| self.toks.last())
            .map_or(1, |(l, _)| *l)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|(_, t)| t.clone());
        self.pos += 1;
        t
    }
    fn peek_word(&self) -> Option<String> {
        match self.peek() {
            Some(Tok::Word(w)) => Some(w.to_ascii_uppercase()),
            _ => None,
        }
    }
    fn expect(&mut self, want: Tok, what: &str) -> Result<(), TocFileError> {
        let line = self.line();
        match self.next() {
            Some(t) if t == want => Ok(()),
            _ => err(line, format!("expected {what}")),
        }
    }
    fn string(&mut self, what: &str) -> Result<String, TocFileError> {
        let line = self.line();
        match self.next() {
            Some(Tok::Str(s)) => Ok(s),
            _ => err(line, format!("expected a quoted {what}")),
        }
    }
    /// A length or position: MM:SS:FF (blocks, times `unit`) or a plain number (`unit`s
    /// already: samples or bytes).
    fn amount(&mut self, unit: u64, what: &str) -> Result<u64, TocFileError> {
        let line = self.line();
        match self.next() {
            Some(Tok::Word(w)) => {
                if let Some(m) = Msf::parse(&w) {
                    Ok(m.sectors() as u64 * unit)
                } else if let Ok(n) = w.parse::<u64>() {
                    Ok(n)
                } else {
                    err(
                        line,
                        format!("{what} {w:?} is neither MM:SS:FF nor a number"),
                    )
                }
            }
            _ => err(line, format!("expected {what}")),
        }
    }
    fn msf(&mut self, what: &str) -> Result<u32, TocFileError> {
        let line = self.line();
        match self.next() {
            Some(Tok::Word(w)) => match Msf::parse(&w) {
                Some(m) => Ok(m.sectors() as u32),
                None => err(line, format!("{what} {w:?} is not MM:SS:FF")),
            },
            _ => err(line, format!("expected {what} as MM:SS:FF")),
        }
    }
    fn is_amount(&self) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if Msf::parse(w).is_some() || w.parse::<u64>().is_ok())
    }
    fn offset(&mut self) -> Result<Option<u64>, TocFileError> {
        let line = self.line();
        match self.peek() {
            Some(Tok::Word(w)) if w.starts_with('#') => {
                let v = w[1..]
                    .parse::<u64>()
                    .or_else(|_| err(line, format!("bad byte offset {w:?}")))?;
                self.pos += 1;
                Ok(Some(v))
            }
            _ => Ok(None),
        }
    }
}

fn language_code(word: &str) -> Option<u8> {
    if word.eq_ignore_ascii_case("EN") {
        return Some(LANGUAGE_ENGLISH);
    }
    word.parse::<u8>().ok()
}

/// Reads `LANGUAGE n { ITEM data ... }` contents into `fields` (and the block's
/// disc-only items when `block` is given).
fn parse_cdtext_items(
    p: &mut Parser,
    fields: &mut CdTextFields,
    mut block: Option<&mut CdTextBlock>,
) -> Result<(), TocFileError> {
    p.expect(Tok::Open, "'{' after LANGUAGE n")?;
    loop {
        let line = p.line();
        match p.next() {
            Some(Tok::Close) => return Ok(()),
            Some(Tok::Word(item)) => {
                let item = item.to_ascii_uppercase();
                // The data: a string, or binary { n, n, ... }.
                let data = match p.next() {
                    Some(Tok::Str(s)) => Ok(s),
                    Some(Tok::Open) => {
                        let mut bytes = Vec::new();
                        loop {
                            let l = p.line();
                            match p.next() {
                                Some(Tok::Close) => break,
                                Some(Tok::Comma) => {}
                                Some(Tok::Word(w)) => match w.parse::<u8>() {
                                    Ok(b) => bytes.push(b),
                                    Err(_) => {
                                        return err(l, format!("{w:?} is not a byte (0..255)"))
                                    }
                                },
                                _ => return err(l, "binary CD-TEXT data is not closed with '}'"),
                            }
                        }
                        Err(bytes)
                    }
                    _ => return err(line, format!("{item} needs a string or {{ bytes }}")),
                };
                // An empty string is how cdrdao pads an item another track uses: absent.
                let text = |d: Result<String, Vec<u8>>| {
                    let s: String = match d {
                        Ok(s) => s,
                        Err(b) => b
                            .iter()
                            .take_while(|&&x| x != 0)
                            .map(|&x| char::from(x))
                            .collect(),
                    };
                    (!s.is_empty()).then_some(s)
                };
                match item.as_str() {
                    "TITLE" => fields.title = text(data),
                    "PERFORMER" => fields.performer = text(data),
                    "SONGWRITER" => fields.songwriter = text(data),
                    "COMPOSER" => fields.composer = text(data),
                    "ARRANGER" => fields.arranger = text(data),
                    "MESSAGE" => fields.message = text(data),
                    "ISRC" | "UPC_EAN" => fields.code = text(data),
                    "DISC_ID" => {
                        if let Some(b) = block.as_deref_mut() {
                            b.disc_id = text(data);
                        }
                    }
                    "GENRE" => {
                        if let Some(b) = block.as_deref_mut() {
                            b.genre = Some(match data {
                                Ok(s) => Genre { code: 0, text: s },
                                Err(bytes) => Genre {
                                    code: u16::from(bytes.first().copied().unwrap_or(0)) << 8
                                        | u16::from(bytes.get(1).copied().unwrap_or(0)),
                                    text: bytes
                                        .iter()
                                        .skip(2)
                                        .take_while(|&&x| x != 0)
                                        .map(|&x| char::from(x))
                                        .collect(),
                                },
                            });
                        }
                    }
                    // Derived when CD-TEXT is built; nothing to keep.
                    "TOC_INFO1" | "TOC_INFO2" | "SIZE_INFO" => {}
                    other => return err(line, format!("unknown CD-TEXT item {other:?}")),
                }
            }
            _ => return err(line, "expected a CD-TEXT item or '}'"),
        }
    }
}

/// `CD_TEXT { [LANGUAGE_MAP { n : code ... }] LANGUAGE n { ... } ... }`. `track` is
/// `None` in the global section.
fn parse_cdtext(
    p: &mut Parser,
    cdtext: &mut CdText,
    track: Option<u8>,
) -> Result<(), TocFileError> {
    p.expect(Tok::Open, "'{' after CD_TEXT")?;
    loop {
        let line = p.line();
        match p.next() {
            Some(Tok::Close) => return Ok(()),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("LANGUAGE_MAP") => {
                if track.is_some() {
                    return err(
                        line,
                        "LANGUAGE_MAP inside a track (it belongs in the header)",
                    );
                }
                p.expect(Tok::Open, "'{' after LANGUAGE_MAP")?;
                loop {
                    let l = p.line();
                    match p.next() {
                        Some(Tok::Close) => break,
                        Some(Tok::Word(n)) => {
                            let Some(idx) = n.parse::<usize>().ok().filter(|&i| i < 8) else {
                                return err(l, format!("language number {n:?} is not 0..7"));
                            };
                            p.expect(Tok::Colon, "':' in the language map")?;
                            let l2 = p.line();
                            let code = match p.next() {
                                Some(Tok::Word(c)) => language_code(&c),
                                _ => None,
                            };
                            let Some(code) = code else {
                                return err(l2, "expected a language code (EN or 0..255)");
                            };
                            while cdtext.blocks.len() <= idx {
                                cdtext.blocks.push(CdTextBlock::new(0, Charset::Iso8859_1));
                            }
                            cdtext.blocks[idx].language = code;
                        }
                        _ => return err(l, "expected 'n : code' or '}' in LANGUAGE_MAP"),
                    }
                }
            }
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("LANGUAGE") => {
                let l = p.line();
                let idx = match p.next() {
                    Some(Tok::Word(n)) => n.parse::<usize>().ok().filter(|&i| i < 8),
                    _ => None,
                };
                let Some(idx) = idx else {
                    return err(l, "LANGUAGE needs a number 0..7");
                };
                while cdtext.blocks.len() <= idx {
                    cdtext.blocks.push(CdTextBlock::new(0, Charset::Iso8859_1));
                }
                let block = &mut cdtext.blocks[idx];
                match track {
                    None => {
                        let mut disc = block.disc.clone();
                        parse_cdtext_items(p, &mut disc, Some(block))?;
                        block.disc = disc;
                    }
                    Some(n) => {
                        let mut fields = block.tracks.get(&n).cloned().unwrap_or_default();
                        parse_cdtext_items(p, &mut fields, None)?;
                        if fields.is_empty() {
                            block.tracks.remove(&n);
                        } else {
                            block.tracks.insert(n, fields);
                        }
                    }
                }
            }
            _ => return err(line, "expected LANGUAGE_MAP, LANGUAGE or '}' in CD_TEXT"),
        }
    }
}

impl TocFile {
    /// Reads a TOC file.
    ///
    /// # Errors
    /// The first problem, with its line number.
    pub fn parse(text: &str) -> Result<TocFile, TocFileError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut p = Parser {
            toks: tokenize(text)?,
            pos: 0,
        };
        let mut toc = TocFile::default();
        let mut cdtext = CdText::default();
        while let Some(tok) = p.peek().cloned() {
            let line = p.line();
            let Tok::Word(word) = tok else {
                return err(line, "expected a keyword");
            };
            let key = word.to_ascii_uppercase();
            p.pos += 1;
            let in_track = !toc.tracks.is_empty();
            let track_no = toc.tracks.len() as u8;
            match key.as_str() {
                "CD_DA" | "CD_ROM" | "CD_ROM_XA" | "CD_I" if !in_track => {
                    toc.format = match key.as_str() {
                        "CD_DA" => SessionFormat::CdDa,
                        "CD_ROM" => SessionFormat::CdRom,
                        "CD_ROM_XA" => SessionFormat::CdRomXa,
                        _ => SessionFormat::CdI,
                    };
                }
                "CATALOG" if !in_track => {
                    let c = p.string("catalog number")?;
                    if !is_valid_mcn(&c) {
                        return err(line, format!("CATALOG {c:?} is not 13 digits"));
                    }
                    toc.catalog = Some(c);
                }
                "CD_TEXT" => {
                    parse_cdtext(&mut p, &mut cdtext, in_track.then_some(track_no))?;
                }
                "TRACK" => {
                    if toc.tracks.len() >= 99 {
                        return err(line, "more than 99 tracks");
                    }
                    let l = p.line();
                    let mode = match p.next() {
                        Some(Tok::Word(m)) => MODES
                            .iter()
                            .find(|(_, k)| k.eq_ignore_ascii_case(&m))
                            .map(|(mode, _)| *mode)
                            .ok_or(m),
                        _ => Err(String::new()),
                    };
                    let mode = match mode {
                        Ok(m) => m,
                        Err(m) => return err(l, format!("unknown track mode {m:?}")),
                    };
                    let subchannel = match p.peek_word() {
                        Some(w) if w == "RW" || w == "RW_RAW" => {
                            p.pos += 1;
                            Some(w)
                        }
                        _ => None,
                    };
                    toc.tracks.push(TocTrack {
                        mode,
                        subchannel,
                        copy: false,
                        pre_emphasis: false,
                        four_channel: false,
                        isrc: None,
                        pregap: None,
                        start: None,
                        items: Vec::new(),
                        indexes: Vec::new(),
                    });
                }
                _ if !in_track => {
                    return err(line, format!("{word} before the first TRACK"));
                }
                _ => {
                    let audio_unit = SAMPLES_PER_SECTOR;
                    let Some(t) = toc.tracks.last_mut() else {
                        return err(line, format!("{word} before the first TRACK"));
                    };
                    let data_unit = u64::from(t.mode.sector_size());
                    match key.as_str() {
                        "NO" => {
                            let l = p.line();
                            match p.next() {
                                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("COPY") => {
                                    t.copy = false
                                }
                                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("PRE_EMPHASIS") => {
                                    t.pre_emphasis = false
                                }
                                _ => return err(l, "NO must be followed by COPY or PRE_EMPHASIS"),
                            }
                        }
                        "COPY" => t.copy = true,
                        "PRE_EMPHASIS" => t.pre_emphasis = true,
                        "TWO_CHANNEL_AUDIO" => t.four_channel = false,
                        "FOUR_CHANNEL_AUDIO" => t.four_channel = true,
                        "ISRC" => {
                            let v = p.string("ISRC")?;
                            let compact: String = v.chars().filter(|c| *c != '-').collect();
                            if !is_valid_isrc(&compact) {
                                return err(
                                    line,
                                    format!("ISRC {v:?} is not 12 letters and digits"),
                                );
                            }
                            t.isrc = Some(compact);
                        }
                        "SILENCE" => {
                            let samples = p.amount(audio_unit, "SILENCE length")?;
                            t.items.push(TocItem::Silence { samples });
                        }
                        "ZERO" => {
                            let bytes = p.amount(data_unit, "ZERO length")?;
                            t.items.push(TocItem::Zero { bytes });
                        }
                        "FILE" | "AUDIOFILE" => {
                            let name = p.string("file name")?;
                            let swap = p.peek_word().as_deref() == Some("SWAP");
                            if swap {
                                p.pos += 1;
                            }
                            let offset = p.offset()?;
                            let start = p.amount(audio_unit, "FILE start")?;
                            let length = if p.is_amount() {
                                Some(p.amount(audio_unit, "FILE length")?).filter(|&l| l > 0)
                            } else {
                                None
                            };
                            t.items.push(TocItem::Audio {
                                name,
                                swap,
                                offset,
                                start,
                                length,
                            });
                        }
                        "DATAFILE" => {
                            let name = p.string("file name")?;
                            let offset = p.offset()?;
                            let length = if p.is_amount() {
                                Some(p.amount(data_unit, "DATAFILE length")?)
                            } else {
                                None
                            };
                            t.items.push(TocItem::Data {
                                name,
                                offset,
                                length,
                            });
                        }
                        "PREGAP" => {
                            if !t.items.is_empty() || t.start.is_some() {
                                return err(
                                    line,
                                    "PREGAP must come before the track's data and START",
                                );
                            }
                            t.pregap = Some(p.msf("PREGAP length")?);
                        }
                        "START" => {
                            if t.pregap.is_some() || t.start.is_some() {
                                return err(line, "a track has at most one PREGAP or START");
                            }
                            let at = if p.is_amount() {
                                p.msf("START position")?
                            } else {
                                // The track's length so far, rounded up to a block.
                                let bytes_or_samples = items_length(&t.items, t.mode);
                                let Some(len) = bytes_or_samples else {
                                    return err(
                                        line,
                                        "START without a position after a FILE of unknown length",
                                    );
                                };
                                len as u32
                            };
                            t.start = Some(at);
                        }
                        "INDEX" => {
                            let at = p.msf("INDEX position")?;
                            if t.indexes.len() >= 98 {
                                return err(line, "more than 99 indexes");
                            }
                            if t.indexes.last().is_some_and(|&l| at <= l) || at == 0 {
                                return err(
                                    line,
                                    "INDEX positions must increase and follow INDEX 01",
                                );
                            }
                            t.indexes.push(at);
                        }
                        _ => return err(line, format!("unknown statement {word:?}")),
                    }
                }
            }
        }
        if toc.tracks.is_empty() {
            return err(p.line(), "the TOC file has no TRACK");
        }
        if !cdtext.blocks.is_empty() {
            toc.cdtext = Some(cdtext);
        }
        Ok(toc)
    }
}

/// The length in blocks of items whose lengths are all known (rounded up).
fn items_length(items: &[TocItem], mode: TrackMode) -> Option<u64> {
    let mut samples = 0u64;
    let mut bytes = 0u64;
    for i in items {
        match i {
            // Saturating: absurd lengths from a file must not overflow; the
            // disc's validation rejects what does not fit on a CD.
            TocItem::Silence { samples: s } => samples = samples.saturating_add(*s),
            TocItem::Zero { bytes: b } => bytes = bytes.saturating_add(*b),
            TocItem::Audio { length, .. } => samples = samples.saturating_add((*length)?),
            TocItem::Data { length, .. } => bytes = bytes.saturating_add((*length)?),
        }
    }
    let size = u64::from(mode.sector_size());
    Some(samples.div_ceil(SAMPLES_PER_SECTOR) + bytes.div_ceil(size))
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

/// A string with `"` and `\` escaped, non-ASCII Latin-1 as octal (as cdrdao writes).
fn escaped(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c if (c as u32) < 256 => out.push_str(&format!("\\{:03o}", c as u32)),
            _ => out.push('?'),
        }
    }
    out.push('"');
    out
}

fn msf(blocks: u64) -> String {
    i32::try_from(blocks)
        .ok()
        .and_then(Msf::from_sectors)
        .map_or_else(|| blocks.to_string(), |m| m.to_string())
}

/// An audio amount: MM:SS:FF when whole blocks, else samples.
fn samples_text(samples: u64) -> String {
    if samples.is_multiple_of(SAMPLES_PER_SECTOR) {
        msf(samples / SAMPLES_PER_SECTOR)
    } else {
        samples.to_string()
    }
}

fn write_fields(
    f: &mut fmt::Formatter<'_>,
    indent: &str,
    t: &CdTextFields,
    code_name: &str,
    required: &[&str],
) -> fmt::Result {
    let fields: [(&str, &Option<String>); 7] = [
        ("TITLE", &t.title),
        ("PERFORMER", &t.performer),
        ("SONGWRITER", &t.songwriter),
        ("COMPOSER", &t.composer),
        ("ARRANGER", &t.arranger),
        ("MESSAGE", &t.message),
        (code_name, &t.code),
    ];
    for (k, v) in fields {
        match v {
            Some(v) => writeln!(f, "{indent}{k} {}", escaped(v))?,
            // cdrdao wants an item used anywhere to be present everywhere.
            None if required.contains(&k) => writeln!(f, "{indent}{k} \"\"")?,
            None => {}
        }
    }
    Ok(())
}

impl TocFile {
    /// The CD-TEXT items used anywhere (cdrdao requires them in every block section).
    fn used_items(&self) -> Vec<&'static str> {
        let mut used = Vec::new();
        if let Some(c) = &self.cdtext {
            for b in &c.blocks {
                for fields in std::iter::once(&b.disc).chain(b.tracks.values()) {
                    for (k, v) in [
                        ("TITLE", &fields.title),
                        ("PERFORMER", &fields.performer),
                        ("SONGWRITER", &fields.songwriter),
                        ("COMPOSER", &fields.composer),
                        ("ARRANGER", &fields.arranger),
                    ] {
                        if v.is_some() && !used.contains(&k) {
                            used.push(k);
                        }
                    }
                }
            }
        }
        used
    }
}

impl fmt::Display for TocFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.format.keyword())?;
        if let Some(c) = &self.catalog {
            writeln!(f, "CATALOG \"{c}\"")?;
        }
        let used = self.used_items();
        if let Some(cdtext) = self.cdtext.as_ref().filter(|c| !c.blocks.is_empty()) {
            writeln!(f, "CD_TEXT {{")?;
            writeln!(f, "  LANGUAGE_MAP {{")?;
            for (i, b) in cdtext.blocks.iter().enumerate() {
                if b.language == LANGUAGE_ENGLISH {
                    writeln!(f, "    {i} : EN")?;
                } else {
                    writeln!(f, "    {i} : {}", b.language)?;
                }
            }
            writeln!(f, "  }}")?;
            for (i, b) in cdtext.blocks.iter().enumerate() {
                writeln!(f, "  LANGUAGE {i} {{")?;
                write_fields(f, "    ", &b.disc, "UPC_EAN", &used)?;
                if let Some(d) = &b.disc_id {
                    writeln!(f, "    DISC_ID {}", escaped(d))?;
                }
                if let Some(g) = &b.genre {
                    let mut bytes = vec![(g.code >> 8) as u8, g.code as u8];
                    bytes.extend(
                        g.text
                            .chars()
                            .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?')),
                    );
                    bytes.push(0);
                    let list: Vec<String> = bytes.iter().map(u8::to_string).collect();
                    writeln!(f, "    GENRE {{ {} }}", list.join(", "))?;
                }
                writeln!(f, "  }}")?;
            }
            writeln!(f, "}}")?;
        }
        for (i, t) in self.tracks.iter().enumerate() {
            let number = i as u8 + 1;
            writeln!(f)?;
            writeln!(f, "// Track {number}")?;
            match &t.subchannel {
                Some(s) => writeln!(f, "TRACK {} {s}", mode_keyword(t.mode))?,
                None => writeln!(f, "TRACK {}", mode_keyword(t.mode))?,
            }
            writeln!(f, "{}COPY", if t.copy { "" } else { "NO " })?;
            if t.mode.is_audio() {
                writeln!(f, "{}PRE_EMPHASIS", if t.pre_emphasis { "" } else { "NO " })?;
                writeln!(
                    f,
                    "{}",
                    if t.four_channel {
                        "FOUR_CHANNEL_AUDIO"
                    } else {
                        "TWO_CHANNEL_AUDIO"
                    }
                )?;
            }
            if let Some(isrc) = &t.isrc {
                writeln!(f, "ISRC \"{isrc}\"")?;
            }
            if let Some(cdtext) = &self.cdtext {
                let any = cdtext.blocks.iter().any(|b| b.tracks.contains_key(&number));
                if any || !used.is_empty() {
                    writeln!(f, "CD_TEXT {{")?;
                    for (li, b) in cdtext.blocks.iter().enumerate() {
                        writeln!(f, "  LANGUAGE {li} {{")?;
                        let empty = CdTextFields::default();
                        let fields = b.tracks.get(&number).unwrap_or(&empty);
                        write_fields(f, "    ", fields, "ISRC", &used)?;
                        writeln!(f, "  }}")?;
                    }
                    writeln!(f, "}}")?;
                }
            }
            if let Some(p) = t.pregap {
                writeln!(f, "PREGAP {}", msf(u64::from(p)))?;
            }
            for item in &t.items {
                match item {
                    TocItem::Silence { samples } => {
                        writeln!(f, "SILENCE {}", samples_text(*samples))?
                    }
                    TocItem::Zero { bytes } => {
                        let size = u64::from(t.mode.sector_size());
                        if bytes.is_multiple_of(size) {
                            writeln!(f, "ZERO {}", msf(bytes / size))?;
                        } else {
                            writeln!(f, "ZERO {bytes}")?;
                        }
                    }
                    TocItem::Audio {
                        name,
                        swap,
                        offset,
                        start,
                        length,
                    } => {
                        write!(f, "FILE {}", escaped(name))?;
                        if *swap {
                            write!(f, " SWAP")?;
                        }
                        if let Some(o) = offset {
                            write!(f, " #{o}")?;
                        }
                        write!(f, " {}", samples_text(*start))?;
                        if let Some(l) = length {
                            write!(f, " {}", samples_text(*l))?;
                        }
                        writeln!(f)?;
                    }
                    TocItem::Data {
                        name,
                        offset,
                        length,
                    } => {
                        write!(f, "DATAFILE {}", escaped(name))?;
                        if let Some(o) = offset {
                            write!(f, " #{o}")?;
                        }
                        if let Some(l) = length {
                            // Bytes, exact (blocks of this mode would be MM:SS:FF).
                            write!(f, " {l}")?;
                        }
                        writeln!(f)?;
                    }
                }
            }
            if let Some(s) = t.start {
                writeln!(f, "START {}", msf(u64::from(s)))?;
            }
            for i in &t.indexes {
                writeln!(f, "INDEX {}", msf(u64::from(*i)))?;
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// TOC file <-> disc model
// ---------------------------------------------------------------------------

/// Which file a [`TocFile::to_disc`] length request is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileLengthUnit {
    /// An audio file: answer in samples (stereo frames).
    Samples,
    /// A data file: answer in bytes.
    Bytes,
}

impl TocFile {
    /// Maps the TOC file onto the disc model, a single session starting at LBA 0.
    /// `file_length` is asked for the length of a file whose FILE/DATAFILE statement
    /// gives none (in samples for audio files, bytes for data files; the statement's
    /// start and byte offset are subtracted here).
    ///
    /// # Errors
    /// When `file_length` fails, or the result is not a valid disc.
    pub fn to_disc<F>(&self, mut file_length: F) -> Result<Disc, TocFileError>
    where
        F: FnMut(&str, FileLengthUnit) -> Result<u64, String>,
    {
        let mut at: i64 = 0;
        let mut tracks = Vec::with_capacity(self.tracks.len());
        for (i, t) in self.tracks.iter().enumerate() {
            let number = i as u8 + 1;
            let mut samples = 0u64;
            let mut bytes = 0u64;
            for item in &t.items {
                match item {
                    TocItem::Silence { samples: s } => samples += s,
                    TocItem::Zero { bytes: b } => bytes += b,
                    TocItem::Audio {
                        name,
                        offset,
                        start,
                        length,
                        ..
                    } => {
                        samples +=
                            match length {
                                Some(l) => *l,
                                None => {
                                    let total = file_length(name, FileLengthUnit::Samples)
                                        .map_err(|m| TocFileError {
                                            line: 0,
                                            message: format!("{name}: {m}"),
                                        })?;
                                    let skip = start + offset.unwrap_or(0) / 4;
                                    total.checked_sub(skip).ok_or_else(|| TocFileError {
                                        line: 0,
                                        message: format!(
                                        "{name}: track {number} starts past the end of the file"
                                    ),
                                    })?
                                }
                            }
                    }
                    TocItem::Data {
                        name,
                        offset,
                        length,
                    } => {
                        bytes += match length {
                            Some(l) => *l,
                            None => {
                                let total =
                                    file_length(name, FileLengthUnit::Bytes).map_err(|m| {
                                        TocFileError {
                                            line: 0,
                                            message: format!("{name}: {m}"),
                                        }
                                    })?;
                                total.saturating_sub(offset.unwrap_or(0))
                            }
                        }
                    }
                }
            }
            let size = u64::from(t.mode.sector_size());
            let data_blocks = samples.div_ceil(SAMPLES_PER_SECTOR) + bytes.div_ceil(size);
            let pregap = t.pregap.or(t.start).map_or(0, i64::from);
            let length = i64::try_from(data_blocks).unwrap_or(i64::MAX / 4)
                + i64::from(t.pregap.unwrap_or(0));
            if pregap > length || (pregap == length && length > 0) {
                return err(
                    0,
                    format!("track {number}: START is at or past the end of its data"),
                );
            }
            let first = at;
            let start = at + pregap;
            let lba = |v: i64| -> Result<Lba, TocFileError> {
                i32::try_from(v)
                    .map(Lba)
                    .or_else(|_| err(0, "the TOC is longer than any CD"))
            };
            let mut indexes = Vec::new();
            for (k, pos) in t.indexes.iter().enumerate() {
                indexes.push(Index {
                    number: k as u8 + 2,
                    start: lba(start + i64::from(*pos))?,
                });
            }
            tracks.push(Track {
                number,
                session: 1,
                control: Control {
                    data: !t.mode.is_audio(),
                    preemphasis: t.pre_emphasis,
                    copy_permitted: t.copy,
                    four_channel: t.four_channel,
                },
                mode: t.mode,
                pregap: (pregap > 0).then_some(lba(first)?),
                start: lba(start)?,
                indexes,
                isrc: t.isrc.clone(),
            });
            at += length;
        }
        let leadout = Lba(i32::try_from(at).unwrap_or(i32::MAX));
        let disc = Disc {
            tracks,
            sessions: vec![Session { number: 1, leadout }],
            leadout,
            mcn: self.catalog.clone(),
            cdtext: self.cdtext.clone(),
        };
        disc.validate().map_err(|e| TocFileError {
            line: 0,
            message: format!("the TOC file does not describe a valid disc: {}", e.0),
        })?;
        Ok(disc)
    }

    /// Writes `disc` as a TOC file over one image: audio tracks read from `audio_file`
    /// (a WAVE file holding the disc's audio from LBA 0, data tracks' sectors included
    /// as silence), data tracks from `data_file` (raw sectors of the track's mode, each
    /// track's sectors at the byte offset of its LBA). Each track's pregap goes before
    /// START, as `cdrdao read-toc` writes it. Only the first session is written (a TOC
    /// file describes one session).
    pub fn from_disc(disc: &Disc, audio_file: &str, data_file: &str) -> TocFile {
        let mut toc = TocFile {
            format: if disc.tracks.iter().all(Track::is_audio) {
                SessionFormat::CdDa
            } else if disc.tracks.iter().any(|t| {
                matches!(
                    t.mode,
                    TrackMode::Mode2Form1
                        | TrackMode::Mode2Form2
                        | TrackMode::Mode2FormMix
                        | TrackMode::Mode2Formless
                        | TrackMode::Mode2Raw
                )
            }) {
                SessionFormat::CdRomXa
            } else {
                SessionFormat::CdRom
            },
            catalog: disc.mcn.clone(),
            cdtext: disc.cdtext.clone().filter(|c| !c.blocks.is_empty()),
            tracks: Vec::new(),
        };
        let first_session = disc.tracks.first().map_or(1, |t| t.session);
        for t in disc.tracks.iter().filter(|t| t.session == first_session) {
            // cdrdao's first track begins at LBA 0: anything before track 1's INDEX 01
            // is its pregap.
            let first = if toc.tracks.is_empty() {
                Lba(0).min(t.first_address())
            } else {
                t.first_address()
            };
            let end = disc.track_end(t.number).unwrap_or(disc.leadout);
            // The next track's pregap belongs to the next track here.
            let end = disc
                .tracks
                .iter()
                .find(|n| n.number == t.number.wrapping_add(1) && n.session == t.session)
                .map_or(end, Track::first_address);
            let blocks = u64::try_from(end.0 - first.0).unwrap_or(0);
            let from = u64::try_from(first.0.max(0)).unwrap_or(0);
            let item = if t.mode.is_audio() {
                TocItem::Audio {
                    name: audio_file.to_string(),
                    swap: false,
                    offset: None,
                    start: from * SAMPLES_PER_SECTOR,
                    length: Some(blocks * SAMPLES_PER_SECTOR),
                }
            } else {
                let size = u64::from(t.mode.sector_size());
                TocItem::Data {
                    name: data_file.to_string(),
                    offset: Some(from * size),
                    length: Some(blocks * size),
                }
            };
            let pregap = u32::try_from(t.start.0 - first.0).unwrap_or(0);
            toc.tracks.push(TocTrack {
                mode: t.mode,
                subchannel: None,
                copy: t.control.copy_permitted,
                pre_emphasis: t.control.preemphasis,
                four_channel: t.control.four_channel,
                isrc: t.isrc.clone(),
                pregap: None,
                start: (pregap > 0).then_some(pregap),
                items: vec![item],
                indexes: t
                    .indexes
                    .iter()
                    .map(|i| u32::try_from(i.start.0 - t.start.0).unwrap_or(0))
                    .collect(),
            });
        }
        toc
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const SAMPLE: &str = r#"CD_DA
// a comment
CATALOG "0652637082126"
CD_TEXT {
  LANGUAGE_MAP {
    0 : EN
    1:8
  }
  LANGUAGE 0 {
    TITLE "Caf\351 \"Live\""
    PERFORMER "Band"
    GENRE { 0, 5, 82, 111, 99, 107, 0 }
    SIZE_INFO { 0, 1, 2 }
  }
  LANGUAGE 1 { TITLE "Kaffee" PERFORMER "Band" }
}

TRACK AUDIO
COPY
PRE_EMPHASIS
ISRC "GB-AFL-88-00011"
CD_TEXT { LANGUAGE 0 { TITLE "One" PERFORMER "Band" } }
FILE "a.wav" 0 01:00:00
START 00:02:00

TRACK AUDIO
NO COPY
FOUR_CHANNEL_AUDIO
PREGAP 0:1:0
AUDIOFILE "a.wav" 01:00:00 // to the end
INDEX 0:30:0
INDEX 0:40:0

TRACK MODE1_RAW
DATAFILE "d.bin" #0 00:10:00
ZERO 00:02:00
"#;

    #[test]
    fn reads_every_statement() {
        let t = TocFile::parse(SAMPLE).unwrap();
        assert_eq!(t.format, SessionFormat::CdDa);
        assert_eq!(t.catalog.as_deref(), Some("0652637082126"));
        let c = t.cdtext.as_ref().unwrap();
        assert_eq!(c.blocks.len(), 2);
        assert_eq!(c.blocks[0].language, LANGUAGE_ENGLISH);
        assert_eq!(c.blocks[1].language, 8);
        assert_eq!(
            c.blocks[0].disc.title.as_deref(),
            Some("Caf\u{e9} \"Live\"")
        );
        assert_eq!(
            c.blocks[0].genre,
            Some(Genre {
                code: 5,
                text: "Rock".into()
            })
        );
        assert_eq!(c.blocks[0].tracks[&1].title.as_deref(), Some("One"));
        let t1 = &t.tracks[0];
        assert!(t1.copy && t1.pre_emphasis && !t1.four_channel);
        assert_eq!(t1.isrc.as_deref(), Some("GBAFL8800011"));
        assert_eq!(t1.start, Some(150));
        let t2 = &t.tracks[1];
        assert!(!t2.copy && t2.four_channel);
        assert_eq!(t2.pregap, Some(75));
        assert_eq!(t2.indexes, vec![30 * 75, 40 * 75]);
        assert_eq!(t.tracks[2].mode, TrackMode::Mode1Raw);
        assert_eq!(
            t.tracks[2].items,
            vec![
                TocItem::Data {
                    name: "d.bin".into(),
                    offset: Some(0),
                    length: Some(750 * 2352)
                },
                TocItem::Zero { bytes: 150 * 2352 }
            ]
        );

        // a.wav holds 3 minutes: track 2 takes its last 2.
        let d = t
            .to_disc(|name, unit| {
                assert_eq!((name, unit), ("a.wav", FileLengthUnit::Samples));
                Ok(3 * 60 * 44100)
            })
            .unwrap();
        assert_eq!(d.tracks[0].pregap, Some(Lba(0)));
        assert_eq!(d.tracks[0].start, Lba(150));
        assert_eq!(d.tracks[1].pregap, Some(Lba(4500)));
        assert_eq!(d.tracks[1].start, Lba(4575));
        assert_eq!(d.tracks[1].indexes[1].start, Lba(4575 + 3000));
        assert_eq!(d.tracks[2].start, Lba(4575 + 9000));
        assert_eq!(d.leadout, Lba(4575 + 9000 + 900));
        assert!(d.tracks[2].control.data);

        let again = TocFile::parse(&t.to_string()).unwrap();
        assert_eq!(again, t);
    }

    #[test]
    fn errors_name_the_line() {
        let e = |s: &str| TocFile::parse(s).unwrap_err().to_string();
        assert_eq!(
            e("CD_DA\nFILE \"a.wav\" 0\n"),
            "line 2: FILE before the first TRACK"
        );
        assert_eq!(
            e("CD_DA\nTRACK AUDIO\nFILE \"a.wav\" 0:60:0\n"),
            "line 3: FILE start \"0:60:0\" is neither MM:SS:FF nor a number"
        );
        assert_eq!(e("TRACK VIDEO\n"), "line 1: unknown track mode \"VIDEO\"");
        assert_eq!(
            e("TRACK AUDIO\nFILE \"a.wav\n"),
            "line 2: a string runs past the end of the line"
        );
        assert_eq!(
            e("TRACK AUDIO\nBOGUS\n"),
            "line 2: unknown statement \"BOGUS\""
        );
        assert_eq!(e("CD_DA\n"), "line 1: the TOC file has no TRACK");
        assert_eq!(
            e("TRACK AUDIO\nISRC \"XX\"\n"),
            "line 2: ISRC \"XX\" is not 12 letters and digits"
        );
    }
}
