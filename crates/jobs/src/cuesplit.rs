//! Cue sheet splitting: an image (one file holding a whole disc, or several
//! files a cue sheet strings together) converted to one file per track.
//!
//! Where the sheet comes from:
//! - a `.cue` file given as input or found in a folder; its `FILE` lines are
//!   looked up beside it (see [`resolve_file`]: as written, then ignoring case,
//!   then by name alone, then the same stem with another audio extension, as
//!   EAC and foobar2000 users rename `album.wav` to `album.flac`);
//! - a `.cue` beside an audio file, with the same stem and naming it;
//! - a FLAC file's own sheet: a `CUESHEET` Vorbis comment holding cue text
//!   (foobar2000, EAC), else its `CUESHEET` metadata block (RFC 9639 §8.7,
//!   written by `flac --cuesheet` and `metaflac --import-cuesheet-from`).
//!
//! Each track becomes one [`crate::convert::Item`] whose [`CueTrackItem`]
//! says which stretch of which file(s) it is ([`FileSegment`]s, in sample
//! frames) and which tags it gets ([`track_tags`]). Positions in a sheet are
//! CD frames (1/75 s, "MM:SS:FF"), turned into sample frames by
//! [`cd_frames_to_samples`]: exact at every rate that is a multiple of 75 Hz
//! (8 k and 32 k are not: there the position is rounded to the nearest
//! frame).
//!
//! Gaps (INDEX 00 to INDEX 01) go where [`Gaps`] says, as `aj rip` puts them;
//! the audio before track 1's INDEX 01 is hidden track one audio, written as
//! track 0 (`00 - Hidden Track One Audio`) unless it is digital silence —
//! whatever the gap mode, as `aj rip` does. `PREGAP`/`POSTGAP` silence is in
//! no file and is not generated.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use aj_cd::cue::{rem, CueSheet, CueTrack, Flags, TrackType};
use aj_codec::decode::{self, Decoder, MediaInfo};
use aj_codec::tags::cuesheet::{CueSheetBlock, LEADOUT_CD, LEADOUT_OTHER};
use aj_codec::tags::{TagKey, Tags};
use aj_core::{AudioSpec, Block, CancelToken, Frames, Samples, Source};

use crate::rip::Gaps;

/// CD frames (sectors) per second: cue sheet times are `MM:SS:FF` with 75
/// frames to the second (Red Book; CDRWIN's cue sheet syntax).
pub const CD_FRAMES_PER_SECOND: u64 = 75;

/// The title and file name of hidden track one audio, as `aj rip` names it.
pub const HTOA_TITLE: &str = "Hidden Track One Audio";

/// The tag a FLAC (or other) file carries its cue sheet text in.
pub const CUESHEET_TAG: &str = "CUESHEET";

/// Sample frames at `rate` of a position of `frames` CD frames: exact when
/// `rate` is a multiple of 75 (44.1, 48, 88.2, 96, 176.4, 192 kHz…), else
/// rounded to the nearest frame.
pub fn cd_frames_to_samples(frames: u64, rate: u32) -> u64 {
    let n = u128::from(frames) * u128::from(rate);
    let d = u128::from(CD_FRAMES_PER_SECOND);
    u64::try_from((n + d / 2) / d).unwrap_or(u64::MAX)
}

/// A place in the files of a sheet: which file, how many sample frames in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub file: usize,
    pub frame: u64,
}

/// Where a track's indexes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    pub number: u8,
    pub audio: bool,
    /// INDEX 00, when the track has a gap in the files.
    pub index0: Option<Pos>,
    pub index1: Pos,
}

/// The stretch of the files a track's output holds: from `start` to `end`
/// (`None`: to the end of the last file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// 0: hidden track one audio.
    pub number: u8,
    pub start: Pos,
    pub end: Option<Pos>,
}

/// The spans of the audio tracks of a sheet, gaps placed as `gaps` says:
/// appended to the previous track (INDEX 01 to the next INDEX 01),
/// prepended to their own (INDEX 00 to the next INDEX 00), or left out
/// (INDEX 01 to the next INDEX 00). Audio before the first track's INDEX 01
/// is hidden track one audio (span 0), in every mode. Data tracks give no
/// span but end the track before them.
///
/// # Errors
/// When the marks do not come in order (a track that would end before it
/// starts).
pub fn spans(marks: &[Mark], gaps: Gaps) -> Result<Vec<Span>, String> {
    let mut out = Vec::new();
    let Some(first) = marks.first() else {
        return Ok(out);
    };
    let first_file = first.index0.map_or(first.index1.file, |p| p.file);
    let htoa_start = Pos {
        file: first_file,
        frame: 0,
    };
    if first.audio && htoa_start < first.index1 {
        out.push(Span {
            number: 0,
            start: htoa_start,
            end: Some(first.index1),
        });
    }
    for (i, m) in marks.iter().enumerate() {
        if !m.audio {
            continue;
        }
        let start = match gaps {
            // Track 1's gap is hidden track one audio.
            Gaps::Prepend if i > 0 => m.index0.unwrap_or(m.index1),
            _ => m.index1,
        };
        let end = marks.get(i + 1).map(|n| match gaps {
            Gaps::Append => n.index1,
            Gaps::Prepend | Gaps::Discard => n.index0.unwrap_or(n.index1),
        });
        if let Some(e) = end {
            if e < start {
                return Err(format!(
                    "TRACK {:02} ends before it starts (the indexes of the next track come before its own)",
                    m.number
                ));
            }
        }
        out.push(Span {
            number: m.number,
            start,
            end,
        });
    }
    Ok(out)
}

/// A stretch of one file, in sample frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub file: usize,
    pub start: u64,
    /// `None`: to the end of the file.
    pub end: Option<u64>,
}

/// The pieces of `files` files that `span` covers, in order (empty pieces
/// left out).
pub fn segments(span: &Span, files: usize) -> Vec<Segment> {
    let s = span.start;
    let mut out = Vec::new();
    match span.end {
        Some(e) if e.file == s.file => {
            if e.frame > s.frame {
                out.push(Segment {
                    file: s.file,
                    start: s.frame,
                    end: Some(e.frame),
                });
            }
        }
        Some(e) => {
            out.push(Segment {
                file: s.file,
                start: s.frame,
                end: None,
            });
            for f in s.file + 1..e.file {
                out.push(Segment {
                    file: f,
                    start: 0,
                    end: None,
                });
            }
            if e.frame > 0 {
                out.push(Segment {
                    file: e.file,
                    start: 0,
                    end: Some(e.frame),
                });
            }
        }
        None => {
            out.push(Segment {
                file: s.file,
                start: s.frame,
                end: None,
            });
            for f in s.file + 1..files {
                out.push(Segment {
                    file: f,
                    start: 0,
                    end: None,
                });
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Tags
// ---------------------------------------------------------------------------

/// Keys of an image's tags that describe the image as a whole file, or one
/// track of it, and so are not copied into the tracks.
fn image_only(key: &TagKey) -> bool {
    match key {
        TagKey::Title
        | TagKey::TrackNumber
        | TagKey::TrackTotal
        | TagKey::Isrc
        | TagKey::MusicBrainzRecordingId
        | TagKey::MusicBrainzTrackId
        | TagKey::ReplayGainTrackGain
        | TagKey::ReplayGainTrackPeak
        | TagKey::ReplayGainAlbumGain
        | TagKey::ReplayGainAlbumPeak => true,
        TagKey::Other(name) => {
            matches!(
                name.as_str(),
                CUESHEET_TAG
                    | "LOG"
                    | "EACLOG"
                    | "PRE_EMPHASIS"
                    | "R128_TRACK_GAIN"
                    | "R128_ALBUM_GAIN"
                    | "ITUNSMPB"
            ) || name.starts_with("CUE_TRACK")
        }
        _ => false,
    }
}

fn nonempty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn track_rem<'a>(t: &'a CueTrack, name: &str) -> Option<&'a str> {
    t.rems
        .iter()
        .find(|r| r.name.eq_ignore_ascii_case(name))
        .map(|r| r.value.trim())
        .filter(|v| !v.is_empty())
}

fn sheet_rem<'a>(sheet: &'a CueSheet, name: &str) -> Option<&'a str> {
    sheet.rem(name).map(str::trim).filter(|v| !v.is_empty())
}

/// The tags of track `number` of `sheet` (0: hidden track one audio), over
/// `image` (the tags of the file the track starts in) for what the sheet
/// does not say:
///
/// | sheet | tag |
/// |---|---|
/// | disc `TITLE` | `ALBUM` |
/// | disc `PERFORMER` | `ALBUMARTIST`, and `ARTIST` when the track has none |
/// | disc `SONGWRITER` (or `COMPOSER`, `REM COMPOSER`) | `COMPOSER` when the track has none |
/// | `REM GENRE`, `REM DATE`, `REM COMMENT` | `GENRE`, `DATE`, `COMMENT` |
/// | `REM DISCNUMBER`, `REM TOTALDISCS` (or `DISCTOTAL`) | `DISCNUMBER`, `DISCTOTAL` |
/// | `CATALOG` (or CD-TEXT `UPC_EAN`) | `BARCODE` (Picard's name for the UPC/EAN the MCN is) and `MCN` (as `aj rip` tags the disc's MCN) |
/// | track `TITLE`, `PERFORMER`, `SONGWRITER`, `ARRANGER` | `TITLE`, `ARTIST`, `COMPOSER`, `ARRANGER` |
/// | track `ISRC` | `ISRC` |
/// | track number, audio tracks | `TRACKNUMBER`, `TRACKTOTAL` |
/// | `FLAGS PRE` | `PRE_EMPHASIS=yes` (as `aj rip`; the samples are not changed) |
///
/// `REM REPLAYGAIN_*` is not copied (it describes the image), nor are the
/// image's own ReplayGain, title, track number, ISRC, `CUESHEET` and log
/// tags. Track-level `REM GENRE/DATE/COMMENT/COMPOSER` win over the disc's.
/// The image's pictures (cover art) are kept.
pub fn track_tags(sheet: &CueSheet, number: u8, image: &Tags) -> Tags {
    let mut tags = Tags::new();
    for item in &image.items {
        if !image_only(&item.key) {
            tags.items.push(item.clone());
        }
    }
    tags.pictures = image.pictures.clone();
    let track = sheet.tracks.iter().find(|t| t.number == number);
    let total = sheet.tracks.iter().filter(|t| t.kind.is_audio()).count();

    if let Some(v) = nonempty(&sheet.text.title) {
        tags.set(TagKey::Album, v);
    }
    let disc_performer = nonempty(&sheet.text.performer);
    if let Some(v) = disc_performer {
        tags.set(TagKey::AlbumArtist, v);
    }
    let track_performer = track.and_then(|t| nonempty(&t.text.performer));
    if let Some(v) = track_performer.or(disc_performer) {
        tags.set(TagKey::Artist, v);
    }
    let composer = track
        .and_then(|t| {
            nonempty(&t.text.songwriter)
                .or(nonempty(&t.text.composer))
                .or(track_rem(t, "COMPOSER"))
        })
        .or(nonempty(&sheet.text.songwriter))
        .or(nonempty(&sheet.text.composer))
        .or(sheet_rem(sheet, "COMPOSER"));
    if let Some(v) = composer {
        tags.set(TagKey::Composer, v);
    }
    for (name, key) in [
        (rem::GENRE, TagKey::Genre),
        (rem::DATE, TagKey::Date),
        (rem::COMMENT, TagKey::Comment),
    ] {
        let v = track
            .and_then(|t| track_rem(t, name))
            .or(sheet_rem(sheet, name));
        if let Some(v) = v {
            tags.set(key, v);
        }
    }
    if let Some(v) = sheet_rem(sheet, "DISCNUMBER") {
        tags.set(TagKey::DiscNumber, v);
    }
    if let Some(v) = sheet_rem(sheet, "TOTALDISCS").or(sheet_rem(sheet, "DISCTOTAL")) {
        tags.set(TagKey::DiscTotal, v);
    }
    let barcode = sheet
        .catalog
        .as_deref()
        .or(nonempty(&sheet.text.code))
        .map(str::trim)
        .filter(|c| !c.is_empty() && c.chars().any(|d| d != '0'));
    if let Some(c) = barcode {
        tags.set(TagKey::Other("BARCODE".into()), c);
        tags.set(TagKey::Other("MCN".into()), c);
    }

    if number == 0 {
        tags.set(TagKey::Title, HTOA_TITLE);
    } else if let Some(v) = track.and_then(|t| nonempty(&t.text.title)) {
        tags.set(TagKey::Title, v);
    }
    if let Some(v) = track.and_then(|t| nonempty(&t.text.arranger)) {
        tags.set(TagKey::Other("ARRANGER".into()), v);
    }
    if let Some(isrc) = track.and_then(|t| t.isrc.as_deref()) {
        if number != 0 {
            tags.set(TagKey::Isrc, isrc);
        }
    }
    tags.set(TagKey::TrackNumber, number.to_string());
    if total > 0 {
        tags.set(TagKey::TrackTotal, total.to_string());
    }
    // Hidden track one audio sits in track 1's pregap: it has track 1's
    // flags on a disc.
    if track.is_some_and(|t| t.flags.pre) {
        tags.set(TagKey::Other("PRE_EMPHASIS".into()), "yes");
    }
    tags
}

// ---------------------------------------------------------------------------
// Finding and reading sheets
// ---------------------------------------------------------------------------

/// Where a sheet came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CueOrigin {
    /// A `.cue` file.
    File(PathBuf),
    /// The sheet inside this audio file.
    Embedded(PathBuf),
}

impl CueOrigin {
    /// The path to report items of this sheet under.
    pub fn path(&self) -> &Path {
        match self {
            CueOrigin::File(p) | CueOrigin::Embedded(p) => p,
        }
    }
}

impl std::fmt::Display for CueOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CueOrigin::File(p) => write!(f, "the cue sheet {}", p.display()),
            CueOrigin::Embedded(p) => write!(f, "the cue sheet embedded in {}", p.display()),
        }
    }
}

/// One file a sheet names, found and probed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFile {
    pub path: PathBuf,
    pub rate: u32,
    /// Its length in sample frames, when the file says.
    pub frames: Option<u64>,
}

/// A sheet, its files found, its indexes in sample frames.
#[derive(Debug, Clone)]
pub struct CueSource {
    pub origin: CueOrigin,
    pub sheet: CueSheet,
    pub files: Vec<ImageFile>,
    pub marks: Vec<Mark>,
}

/// One stretch of one file of a track, ready to decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSegment {
    pub path: PathBuf,
    pub start: u64,
    /// `None`: to the end of the file.
    pub end: Option<u64>,
    /// The file's length, when known.
    pub file_frames: Option<u64>,
}

/// What makes an item of a convert job one track of a sheet.
#[derive(Debug, Clone, PartialEq)]
pub struct CueTrackItem {
    /// 0: hidden track one audio (not written when it is digital silence).
    pub number: u8,
    /// The file the track starts in.
    pub image: PathBuf,
    /// The sheet, for messages ("the cue sheet album.cue").
    pub origin: String,
    pub segments: Vec<FileSegment>,
    pub tags: Tags,
    /// The first track of its sheet (notes about the image are given once).
    pub first: bool,
    /// The plain output name without extension: `NN - Title`.
    pub stem: String,
}

impl CueTrackItem {
    /// How events name the track: `album.flac#03`, beside the image.
    pub fn label(&self) -> PathBuf {
        let mut name = self
            .image
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        name.push(format!("#{:02}", self.number));
        self.image.with_file_name(name)
    }

    /// The plain file name stem for track `number` with `title`.
    pub fn plain_stem(number: u8, title: Option<&str>, safe: crate::naming::SafeNames) -> String {
        if number == 0 {
            return format!("00 - {HTOA_TITLE}");
        }
        let title = title
            .map(|t| crate::naming::safe_name(t, safe, 16))
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| format!("Track {number:02}"));
        format!("{number:02} - {title}")
    }
}

fn is_audio_ext(p: &Path) -> bool {
    crate::convert::has_extension(p, crate::convert::AUDIO_EXTENSIONS)
}

/// True for a `.cue` file name.
pub fn is_cue(p: &Path) -> bool {
    p.extension()
        .is_some_and(|e| e.to_string_lossy().eq_ignore_ascii_case("cue"))
}

fn lossless_rank(p: &Path) -> u8 {
    let e = p
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match e.as_str() {
        "flac" => 0,
        "wav" | "wave" | "rf64" | "w64" | "bwf" | "aif" | "aiff" | "aifc" | "ape" => 1,
        "alac" | "caf" | "m4a" => 2,
        _ => 3,
    }
}

/// Entries of `dir` (names and paths), sorted; none when it cannot be read.
fn dir_entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|r| r.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Finds the file a sheet's `FILE "name"` line means, in `cue_dir`: the
/// name as written (Windows `\` separators read as `/`), then ignoring
/// case, then the name alone without its folders, then — as EAC and
/// foobar2000 users rely on when the sheet says `album.wav` and the image
/// was compressed to `album.flac` — an audio file with the same stem and
/// another extension (lossless first).
///
/// # Errors
/// A message naming the file and where it was looked for.
pub fn resolve_file(cue_dir: &Path, name: &str) -> Result<PathBuf, String> {
    let rel = name.replace('\\', "/");
    let written = cue_dir.join(&rel);
    if written.is_file() {
        return Ok(written);
    }
    let base = Path::new(&rel)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = Path::new(&base)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(d) = written.parent() {
        dirs.push(d.to_path_buf());
    }
    if !dirs.iter().any(|d| d == cue_dir) {
        dirs.push(cue_dir.to_path_buf());
    }
    for d in &dirs {
        let found = dir_entries(d).into_iter().find(|p| {
            p.is_file()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().eq_ignore_ascii_case(&base))
        });
        if let Some(p) = found {
            return Ok(p);
        }
    }
    for d in &dirs {
        let mut same_stem: Vec<PathBuf> = dir_entries(d)
            .into_iter()
            .filter(|p| {
                p.is_file()
                    && is_audio_ext(p)
                    && p.file_stem()
                        .is_some_and(|s| s.to_string_lossy().eq_ignore_ascii_case(&stem))
            })
            .collect();
        same_stem.sort_by_key(|p| lossless_rank(p));
        if let Some(p) = same_stem.into_iter().next() {
            return Ok(p);
        }
    }
    Err(format!(
        "the file \"{name}\" it names is not in {} (nor any audio file named {stem}.*)",
        cue_dir.display()
    ))
}

/// Reads a `.cue` file: parsed, its files found and probed.
///
/// # Errors
/// A message naming the sheet and what is wrong (a syntax error with its
/// line, a missing file, an index past the end of its file…).
pub fn load_cue_file(path: &Path) -> Result<CueSource, String> {
    let origin = CueOrigin::File(path.to_path_buf());
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {origin}: {e}"))?;
    let sheet = CueSheet::parse_bytes(&bytes).map_err(|e| format!("{origin}: {e}"))?;
    let dir = path.parent().unwrap_or(Path::new(""));
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let mut paths = Vec::with_capacity(sheet.files.len());
    for f in &sheet.files {
        paths.push(resolve_file(dir, &f.name).map_err(|e| format!("{origin}: {e}"))?);
    }
    from_sheet(origin, sheet, &paths)
}

/// The sheet of text `text` embedded in `image` (its only file).
fn load_embedded_text(image: &Path, text: &str) -> Result<CueSource, String> {
    let origin = CueOrigin::Embedded(image.to_path_buf());
    let sheet = CueSheet::parse(text).map_err(|e| format!("{origin}: {e}"))?;
    // Whatever its FILE lines say, an embedded sheet is about its own file.
    if sheet.files.len() > 1 {
        return Err(format!(
            "{origin} names {} files; an embedded sheet can only describe its own file",
            sheet.files.len()
        ));
    }
    from_sheet(origin, sheet, &[image.to_path_buf()])
}

fn probe(path: &Path) -> Result<ImageFile, String> {
    let d = decode::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(ImageFile {
        path: path.to_path_buf(),
        rate: d.spec().sample_rate,
        frames: d.total_frames().map(|f| f.0),
    })
}

fn msf(sectors: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        sectors / (60 * CD_FRAMES_PER_SECOND),
        sectors / CD_FRAMES_PER_SECOND % 60,
        sectors % CD_FRAMES_PER_SECOND
    )
}

fn duration(frames: u64, rate: u32) -> String {
    let rate = u64::from(rate.max(1));
    let ms = u128::from(frames) * 1000 / u128::from(rate);
    format!("{}:{:02}.{:03}", ms / 60_000, ms / 1000 % 60, ms % 1000)
}

fn from_sheet(origin: CueOrigin, sheet: CueSheet, paths: &[PathBuf]) -> Result<CueSource, String> {
    let files: Vec<ImageFile> = paths.iter().map(|p| probe(p)).collect::<Result<_, _>>()?;
    let mut marks = Vec::with_capacity(sheet.tracks.len());
    for t in &sheet.tracks {
        let pos = |number: u8| -> Result<Option<Pos>, String> {
            let Some(i) = t.index(number) else {
                return Ok(None);
            };
            let Some(f) = files.get(i.file) else {
                return Err(format!(
                    "{origin}: TRACK {:02} INDEX {number:02} is in no FILE",
                    t.number
                ));
            };
            let frame = cd_frames_to_samples(u64::from(i.position), f.rate);
            if let Some(len) = f.frames.filter(|&len| frame > len) {
                return Err(format!(
                    "{origin} puts TRACK {:02} INDEX {number:02} at {}, past the end of {} ({} long): the file is shorter than the sheet says, or the sheet is for another file; nothing was split",
                    t.number,
                    msf(u64::from(i.position)),
                    f.path.display(),
                    duration(len, f.rate)
                ));
            }
            Ok(Some(Pos {
                file: i.file,
                frame,
            }))
        };
        let index1 =
            pos(1)?.ok_or_else(|| format!("{origin}: TRACK {:02} has no INDEX 01", t.number))?;
        marks.push(Mark {
            number: t.number,
            audio: t.kind.is_audio(),
            index0: pos(0)?.filter(|p| *p < index1),
            index1,
        });
    }
    Ok(CueSource {
        origin,
        sheet,
        files,
        marks,
    })
}

/// The `.cue` beside `image` with the same stem, when there is one and one
/// of its `FILE` lines names `image`.
pub fn cue_beside(image: &Path) -> Option<PathBuf> {
    let dir = image.parent().filter(|d| !d.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    let stem = image.file_stem()?;
    // Looked up by name, not by listing the folder: a folder walk asks this
    // of every audio file.
    let candidates: Vec<PathBuf> = ["cue", "CUE", "Cue"]
        .iter()
        .map(|ext| {
            let mut name = stem.to_os_string();
            name.push(".");
            name.push(ext);
            dir.join(name)
        })
        .filter(|p| p.is_file())
        .collect();
    let target = image.canonicalize().ok()?;
    candidates.into_iter().find(|cue| {
        let Ok(bytes) = std::fs::read(cue) else {
            return false;
        };
        let Ok(sheet) = CueSheet::parse_bytes(&bytes) else {
            // A damaged sheet with the image's stem is still its sheet:
            // loading it reports the problem.
            return true;
        };
        sheet.files.iter().any(|f| {
            resolve_file(dir, &f.name)
                .ok()
                .and_then(|p| p.canonicalize().ok())
                .is_some_and(|p| p == target)
        })
    })
}

/// The files a sheet names, found (for `--no-split`).
///
/// # Errors
/// A message naming the sheet and the problem.
pub fn referenced_files(cue: &Path) -> Result<Vec<PathBuf>, String> {
    let origin = CueOrigin::File(cue.to_path_buf());
    let bytes = std::fs::read(cue).map_err(|e| format!("cannot read {origin}: {e}"))?;
    let sheet = CueSheet::parse_bytes(&bytes).map_err(|e| format!("{origin}: {e}"))?;
    let dir = cue
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    sheet
        .files
        .iter()
        .map(|f| resolve_file(dir, &f.name).map_err(|e| format!("{origin}: {e}")))
        .collect()
}

// ---------------------------------------------------------------------------
// FLAC: the CUESHEET comment and block
// ---------------------------------------------------------------------------

/// FLAC metadata block types, RFC 9639 §8.1 table 2.
const FLAC_VORBIS_COMMENT: u8 = 4;
const FLAC_CUESHEET: u8 = aj_codec::tags::cuesheet::BLOCK_TYPE;

/// The sheet a FLAC file carries: its `CUESHEET` comment (cue text, which
/// has titles) when present and valid, else its CUESHEET block. `None` for
/// other files and FLAC files without either.
///
/// # Errors
/// When the file holds a sheet that cannot be used (a comment that does not
/// parse and no block, an index past the end of the audio…).
pub fn load_embedded(image: &Path) -> Result<Option<CueSource>, String> {
    let Ok((comment, block)) = flac_sheets(image) else {
        return Ok(None);
    };
    let from_comment = comment.map(|text| load_embedded_text(image, &text));
    match (from_comment, block) {
        (Some(Ok(src)), _) => Ok(Some(src)),
        (_, Some(block)) => from_block(image, &block).map(Some),
        (Some(Err(e)), None) => Err(e),
        (None, None) => Ok(None),
    }
}

/// The `CUESHEET=` comment and the CUESHEET block's bytes of a FLAC file.
fn flac_sheets(path: &Path) -> std::io::Result<(Option<String>, Option<Vec<u8>>)> {
    let mut f = BufReader::new(File::open(path)?);
    let mut magic = [0u8; 4];
    f.read_exact(&mut magic)?;
    if &magic != b"fLaC" {
        return Ok((None, None));
    }
    let (mut comment, mut block) = (None, None);
    // At most 128 blocks: RFC 9639 sets no limit, a sane file needs few.
    for _ in 0..128 {
        let mut h = [0u8; 4];
        f.read_exact(&mut h)?;
        let last = h[0] & 0x80 != 0;
        let ty = h[0] & 0x7F;
        let len = u32::from_be_bytes([0, h[1], h[2], h[3]]);
        match ty {
            FLAC_VORBIS_COMMENT | FLAC_CUESHEET => {
                let mut body = vec![0u8; len as usize];
                f.read_exact(&mut body)?;
                if ty == FLAC_VORBIS_COMMENT {
                    comment = cuesheet_comment(&body);
                } else {
                    block = Some(body);
                }
            }
            _ => {
                f.seek(SeekFrom::Current(i64::from(len)))?;
            }
        }
        if last {
            break;
        }
    }
    Ok((comment, block))
}

fn le32(b: &[u8], at: usize) -> Option<usize> {
    let s = b.get(at..at + 4)?;
    usize::try_from(u32::from_le_bytes([s[0], s[1], s[2], s[3]])).ok()
}

/// The value of a `CUESHEET=` field of a Vorbis comment block (Vorbis I
/// §5.2.1: little-endian lengths).
fn cuesheet_comment(body: &[u8]) -> Option<String> {
    let vendor = le32(body, 0)?;
    let mut at = 4usize.checked_add(vendor)?;
    let count = le32(body, at)?;
    at += 4;
    for _ in 0..count {
        let len = le32(body, at)?;
        at += 4;
        let field = body.get(at..at.checked_add(len)?)?;
        at += len;
        let text = String::from_utf8_lossy(field);
        if let Some((k, v)) = text.split_once('=') {
            if k.eq_ignore_ascii_case(CUESHEET_TAG) && !v.trim().is_empty() {
                return Some(v.to_string());
            }
        }
    }
    None
}

fn from_block(image: &Path, block: &[u8]) -> Result<CueSource, String> {
    let origin = CueOrigin::Embedded(image.to_path_buf());
    let bad = |what: &str| format!("{origin}: the CUESHEET block is damaged ({what})");
    let file = probe(image)?;
    let parsed = CueSheetBlock::parse(block).map_err(|e| format!("{origin}: {e}"))?;
    let mcn = parsed.mcn;
    let mut sheet = CueSheet {
        catalog: (mcn.len() == 13 && mcn.chars().all(|c| c.is_ascii_digit())).then_some(mcn),
        files: vec![aj_cd::cue::CueFile {
            name: image
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            kind: aj_cd::cue::FileType::Flac,
        }],
        ..CueSheet::default()
    };
    let mut marks = Vec::new();
    for t in parsed.tracks {
        let (number, offset) = (t.number, t.offset);
        let mut index0 = None;
        let mut index1 = None;
        for p in &t.indexes {
            let frame = offset
                .checked_add(p.offset)
                .ok_or_else(|| bad("an offset overflows"))?;
            match p.number {
                0 => index0 = Some(frame),
                1 => index1 = Some(frame),
                _ => {}
            }
        }
        if number == LEADOUT_CD || number == LEADOUT_OTHER {
            continue;
        }
        if let Some(len) = file.frames.filter(|&l| offset > l) {
            return Err(format!(
                "{origin} puts track {number:02} at sample {offset}, past the end of the audio ({} long); nothing was split",
                duration(len, file.rate)
            ));
        }
        let index1 = index1.unwrap_or(offset);
        marks.push(Mark {
            number,
            audio: t.audio,
            index0: index0
                .filter(|&f| f < index1)
                .map(|frame| Pos { file: 0, frame }),
            index1: Pos {
                file: 0,
                frame: index1,
            },
        });
        sheet.tracks.push(CueTrack {
            number,
            kind: if t.audio {
                TrackType::Audio
            } else {
                TrackType::Mode1_2352
            },
            flags: Flags {
                pre: t.pre_emphasis,
                ..Flags::default()
            },
            isrc: aj_cd::disc::is_valid_isrc(&t.isrc).then_some(t.isrc),
            text: Default::default(),
            pregap: None,
            postgap: None,
            indexes: Vec::new(),
            rems: Vec::new(),
            session: 1,
        });
    }
    if marks.is_empty() {
        return Err(bad("no tracks"));
    }
    marks.sort_by_key(|m| m.index1);
    Ok(CueSource {
        origin,
        sheet,
        files: vec![file],
        marks,
    })
}

// ---------------------------------------------------------------------------
// Planning
// ---------------------------------------------------------------------------

/// The tracks of a sheet, as converter items' track parts (outputs are
/// named by the caller). `safe` cleans titles for the plain names.
///
/// # Errors
/// When the sheet's indexes are out of order, or the sheet has no audio.
pub fn track_items(
    src: &CueSource,
    gaps: Gaps,
    safe: crate::naming::SafeNames,
) -> Result<Vec<CueTrackItem>, String> {
    let spans = spans(&src.marks, gaps).map_err(|e| format!("{}: {e}", src.origin))?;
    if spans.is_empty() {
        return Err(format!("{} has no audio tracks", src.origin));
    }
    let mut image_tags: std::collections::HashMap<usize, Tags> = Default::default();
    let mut out = Vec::with_capacity(spans.len());
    // Notes about the image go with its first real track.
    let first = spans.iter().position(|s| s.number != 0).unwrap_or(0);
    for (i, span) in spans.iter().enumerate() {
        let file_of_track = src
            .marks
            .iter()
            .find(|m| m.number == span.number)
            .map_or(span.start.file, |m| m.index1.file);
        let fallback = image_tags.entry(file_of_track).or_insert_with(|| {
            src.files
                .get(file_of_track)
                .and_then(|f| aj_codec::tags::read(&f.path).ok())
                .unwrap_or_default()
        });
        // Hidden track one audio is tagged from track 1's entry (flags),
        // with its own title and number.
        let sheet_number = if span.number == 0 {
            src.marks.first().map_or(1, |m| m.number)
        } else {
            span.number
        };
        let mut tags = track_tags(&src.sheet, sheet_number, fallback);
        if span.number == 0 {
            tags.set(TagKey::Title, HTOA_TITLE);
            tags.set(TagKey::TrackNumber, "0");
            tags.remove(&TagKey::Isrc);
        }
        let segments: Vec<FileSegment> = segments(span, src.files.len())
            .into_iter()
            .filter_map(|s| {
                src.files.get(s.file).map(|f| FileSegment {
                    path: f.path.clone(),
                    start: s.start,
                    end: s.end,
                    file_frames: f.frames,
                })
            })
            .collect();
        let image = src
            .files
            .get(span.start.file)
            .map_or_else(|| src.origin.path().to_path_buf(), |f| f.path.clone());
        let stem = CueTrackItem::plain_stem(span.number, tags.get(&TagKey::Title), safe);
        out.push(CueTrackItem {
            number: span.number,
            image,
            origin: src.origin.to_string(),
            segments,
            tags,
            first: i == first,
            stem,
        });
    }
    Ok(out)
}

/// One thing found among the inputs of a convert job.
#[derive(Debug, Clone)]
pub struct Entry {
    pub path: PathBuf,
    /// The folder input it was found in.
    pub root: Option<PathBuf>,
    /// Its folder below `root`.
    pub rel_dir: Option<PathBuf>,
}

/// What the converter does with what was found.
#[derive(Debug)]
pub enum Unit {
    /// An ordinary file, converted whole.
    Plain(Entry),
    /// A sheet and its image(s), split; `entry` is where it was found.
    Split(Entry, Box<CueSource>),
    /// Cannot be converted.
    Failed(PathBuf, String),
}

fn key(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

/// Sorts what the inputs hold into units: with `split`, each sheet and the
/// files it names are one unit (never converted whole as well), and an
/// audio file with a sheet beside it or inside it is split; without, sheets
/// given as inputs stand for the files they name, converted whole (sheets
/// found in folders are passed over). Order is kept (what
/// could not be read, `Err`, fails in its place); a file reached twice is
/// converted once.
pub fn group(entries: Vec<Result<Entry, (PathBuf, String)>>, split: bool) -> Vec<Unit> {
    let mut units: Vec<(usize, Unit)> = Vec::new();
    let mut claimed: std::collections::HashSet<PathBuf> = Default::default();
    let mut loaded_cues: std::collections::HashSet<PathBuf> = Default::default();
    let mut ok = Vec::new();
    for (i, e) in entries.into_iter().enumerate() {
        match e {
            Ok(e) => ok.push((i, e)),
            Err((p, msg)) => units.push((i, Unit::Failed(p, msg))),
        }
    }
    let (cues, audio): (Vec<_>, Vec<_>) = ok.into_iter().partition(|(_, e)| is_cue(&e.path));
    if !split {
        let mut seen: std::collections::HashSet<PathBuf> = Default::default();
        let mut all: Vec<(usize, Entry)> = audio;
        for (i, cue) in cues {
            // A folder's own audio files are found by the walk; its sheets
            // only matter to splitting.
            if cue.root.is_some() {
                continue;
            }
            match referenced_files(&cue.path) {
                Ok(files) => all.extend(files.into_iter().map(|path| {
                    (
                        i,
                        Entry {
                            path,
                            root: cue.root.clone(),
                            rel_dir: cue.rel_dir.clone(),
                        },
                    )
                })),
                Err(e) => units.push((i, Unit::Failed(cue.path.clone(), e))),
            }
        }
        all.sort_by_key(|(i, _)| *i);
        for (i, e) in all {
            if seen.insert(key(&e.path)) {
                units.push((i, Unit::Plain(e)));
            }
        }
        units.sort_by_key(|(i, _)| *i);
        return units.into_iter().map(|(_, u)| u).collect();
    }
    for (i, cue) in cues {
        if !loaded_cues.insert(key(&cue.path)) {
            continue;
        }
        match load_cue_file(&cue.path) {
            Ok(src) => {
                claimed.extend(src.files.iter().map(|f| key(&f.path)));
                units.push((i, Unit::Split(cue, Box::new(src))));
            }
            Err(e) => {
                // The image beside a damaged sheet is not converted whole
                // either: its sheet's failure is reported instead.
                if let Some(stem) = cue.path.file_stem() {
                    let dir = cue.path.parent().map(Path::to_path_buf).unwrap_or_default();
                    for p in dir_entries(&dir) {
                        if is_audio_ext(&p) && p.file_stem() == Some(stem) {
                            claimed.insert(key(&p));
                        }
                    }
                }
                units.push((i, Unit::Failed(cue.path.clone(), e)));
            }
        }
    }
    for (i, e) in audio {
        let k = key(&e.path);
        if claimed.contains(&k) {
            continue;
        }
        if let Some(cue) = cue_beside(&e.path) {
            claimed.insert(k);
            if loaded_cues.insert(key(&cue)) {
                match load_cue_file(&cue) {
                    Ok(src) => {
                        claimed.extend(src.files.iter().map(|f| key(&f.path)));
                        units.push((i, Unit::Split(e, Box::new(src))));
                    }
                    Err(msg) => units.push((i, Unit::Failed(e.path.clone(), msg))),
                }
            }
            continue;
        }
        match load_embedded(&e.path) {
            // A file whose own sheet has one track is that track: nothing
            // to split.
            Ok(Some(src)) if src.marks.iter().filter(|m| m.audio).count() < 2 => {
                units.push((i, Unit::Plain(e)));
            }
            Ok(Some(src)) => {
                claimed.insert(k);
                units.push((i, Unit::Split(e, Box::new(src))));
            }
            Ok(None) => units.push((i, Unit::Plain(e))),
            Err(msg) => {
                claimed.insert(k);
                units.push((
                    i,
                    Unit::Failed(
                        e.path.clone(),
                        format!("{msg} (--no-split converts the file whole)"),
                    ),
                ));
            }
        }
    }
    units.sort_by_key(|(i, _)| *i);
    units.into_iter().map(|(_, u)| u).collect()
}

// ---------------------------------------------------------------------------
// Decoding a track
// ---------------------------------------------------------------------------

/// A track's segments read one after the other as one [`Decoder`]: exactly
/// the frames the sheet gives, or an error naming the file and the sheet
/// when a file ends early.
pub struct SpanSource {
    segments: Vec<FileSegment>,
    origin: String,
    number: u8,
    next: usize,
    current: Option<Current>,
    spec: AudioSpec,
    info: MediaInfo,
    total: Option<u64>,
}

struct Current {
    decoder: Box<dyn Decoder>,
    segment: FileSegment,
    /// Frames still to read; `None`: to the end of the file.
    left: Option<u64>,
    read: u64,
}

impl std::fmt::Debug for SpanSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpanSource")
            .field("segments", &self.segments)
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

fn open_segment(s: &FileSegment) -> Result<Box<dyn Decoder>, String> {
    decode::open_at(&s.path, s.start).map_err(|e| format!("{}: {e}", s.path.display()))
}

impl SpanSource {
    /// Opens the first file of `track` at the track's start.
    ///
    /// # Errors
    /// When the file cannot be opened or positioned.
    pub fn open(track: &CueTrackItem) -> Result<SpanSource, String> {
        let first = track
            .segments
            .first()
            .ok_or_else(|| format!("{}: track {:02} is empty", track.origin, track.number))?;
        let decoder = open_segment(first)?;
        let spec = decoder.spec();
        let mut info = decoder.info().clone();
        let total = track
            .segments
            .iter()
            .map(|s| s.end.or(s.file_frames).map(|e| e.saturating_sub(s.start)))
            .sum::<Option<u64>>();
        info.total_frames = total;
        Ok(SpanSource {
            current: Some(Current {
                decoder,
                segment: first.clone(),
                left: first.end.map(|e| e.saturating_sub(first.start)),
                read: 0,
            }),
            segments: track.segments.clone(),
            origin: track.origin.clone(),
            number: track.number,
            next: 1,
            spec,
            info,
            total,
        })
    }
}

fn take_frames(block: Block, frames: usize) -> Block {
    let n = frames * usize::from(block.spec.channels.max(1));
    let samples = match block.samples {
        Samples::Int(mut v) => {
            v.truncate(n);
            Samples::Int(v)
        }
        Samples::Float(mut v) => {
            v.truncate(n);
            Samples::Float(v)
        }
    };
    Block {
        spec: block.spec,
        samples,
    }
}

impl Source for SpanSource {
    fn spec(&self) -> AudioSpec {
        self.spec
    }

    fn total_frames(&self) -> Option<Frames> {
        self.total.map(Frames)
    }

    fn read(&mut self, max_frames: usize) -> Result<Option<Block>, aj_core::Error> {
        loop {
            let Some(cur) = self.current.as_mut() else {
                let Some(seg) = self.segments.get(self.next) else {
                    return Ok(None);
                };
                self.next += 1;
                let decoder = open_segment(seg).map_err(aj_core::Error::Other)?;
                let s = decoder.spec();
                if (s.sample_rate, s.channels, s.format)
                    != (self.spec.sample_rate, self.spec.channels, self.spec.format)
                {
                    return Err(aj_core::Error::Other(format!(
                        "{}: track {:02} runs on into {}, which is {} Hz, {} channels, {:?}, unlike the file before it ({} Hz, {} channels, {:?})",
                        self.origin,
                        self.number,
                        seg.path.display(),
                        s.sample_rate,
                        s.channels,
                        s.format,
                        self.spec.sample_rate,
                        self.spec.channels,
                        self.spec.format
                    )));
                }
                self.current = Some(Current {
                    decoder,
                    segment: seg.clone(),
                    left: seg.end.map(|e| e.saturating_sub(seg.start)),
                    read: 0,
                });
                continue;
            };
            if cur.left == Some(0) {
                self.current = None;
                continue;
            }
            let want = match cur.left {
                Some(l) => usize::try_from(l)
                    .unwrap_or(usize::MAX)
                    .min(max_frames.max(1)),
                None => max_frames.max(1),
            };
            match cur.decoder.read(want)? {
                Some(block) => {
                    let block = if block.frames() > want {
                        take_frames(block, want)
                    } else {
                        block
                    };
                    let n = block.frames() as u64;
                    cur.read += n;
                    if let Some(l) = cur.left.as_mut() {
                        *l = l.saturating_sub(n);
                    }
                    if n > 0 {
                        return Ok(Some(block));
                    }
                }
                None => {
                    if let (Some(left), Some(end)) = (cur.left, cur.segment.end) {
                        if left > 0 {
                            let at = cur.segment.start + cur.read;
                            return Err(aj_core::Error::Other(format!(
                                "{} ends at frame {at} ({}), before the end of track {:02} that {} gives (frame {end}, {}): the file is shorter than the sheet says",
                                cur.segment.path.display(),
                                duration(at, self.spec.sample_rate),
                                self.number,
                                self.origin,
                                duration(end, self.spec.sample_rate)
                            )));
                        }
                    }
                    self.current = None;
                }
            }
        }
    }
}

impl Decoder for SpanSource {
    fn info(&self) -> &MediaInfo {
        &self.info
    }
}

/// True when every sample of `track` is zero (digital silence): hidden
/// track one audio is then not written, as `aj rip` drops it.
///
/// # Errors
/// When the track cannot be decoded, or the job was cancelled.
pub fn is_silent(track: &CueTrackItem, cancel: &CancelToken) -> Result<bool, String> {
    let mut src = SpanSource::open(track)?;
    while let Some(block) = src.read(8192).map_err(|e| e.to_string())? {
        cancel.check().map_err(|e| e.to_string())?;
        let silent = match &block.samples {
            Samples::Int(v) => v.iter().all(|&s| s == 0),
            Samples::Float(v) => v.iter().all(|&s| s == 0.0),
        };
        if !silent {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pos(file: usize, frame: u64) -> Pos {
        Pos { file, frame }
    }

    fn mark(number: u8, index0: Option<Pos>, index1: Pos) -> Mark {
        Mark {
            number,
            audio: true,
            index0,
            index1,
        }
    }

    /// One file: track 1 at 0, track 2 with a gap 850..1000, track 3 with a
    /// gap 1900..2000.
    fn one_file(htoa: bool) -> Vec<Mark> {
        let first = if htoa { 300 } else { 0 };
        vec![
            mark(1, htoa.then(|| pos(0, 0)), pos(0, first)),
            mark(2, Some(pos(0, 850)), pos(0, 1000)),
            mark(3, Some(pos(0, 1900)), pos(0, 2000)),
        ]
    }

    fn ranges(spans: &[Span]) -> Vec<(u8, u64, Option<u64>)> {
        spans
            .iter()
            .map(|s| (s.number, s.start.frame, s.end.map(|e| e.frame)))
            .collect()
    }

    #[test]
    fn cd_frames_become_samples_exactly() {
        assert_eq!(cd_frames_to_samples(1, 44_100), 588);
        assert_eq!(cd_frames_to_samples(75, 44_100), 44_100);
        // 02:03:45 = (2 * 60 + 3) * 75 + 45 frames.
        let f = (2 * 60 + 3) * 75 + 45;
        assert_eq!(cd_frames_to_samples(f, 44_100), f * 588);
        assert_eq!(cd_frames_to_samples(f, 48_000), f * 640);
        assert_eq!(cd_frames_to_samples(f, 96_000), f * 1280);
        // 32 kHz is not a multiple of 75: rounded to the nearest frame.
        assert_eq!(cd_frames_to_samples(1, 32_000), 427);
        assert_eq!(cd_frames_to_samples(2, 32_000), 853);
        assert_eq!(cd_frames_to_samples(3, 32_000), 1280);
        assert_eq!(cd_frames_to_samples(u64::MAX, 768_000), u64::MAX);
    }

    #[test]
    fn appended_gaps_end_the_previous_track() {
        let s = spans(&one_file(false), Gaps::Append).unwrap();
        assert_eq!(
            ranges(&s),
            vec![(1, 0, Some(1000)), (2, 1000, Some(2000)), (3, 2000, None)]
        );
    }

    #[test]
    fn prepended_gaps_start_their_own_track() {
        let s = spans(&one_file(false), Gaps::Prepend).unwrap();
        assert_eq!(
            ranges(&s),
            vec![(1, 0, Some(850)), (2, 850, Some(1900)), (3, 1900, None)]
        );
    }

    #[test]
    fn discarded_gaps_are_nowhere() {
        let s = spans(&one_file(false), Gaps::Discard).unwrap();
        assert_eq!(
            ranges(&s),
            vec![(1, 0, Some(850)), (2, 1000, Some(1900)), (3, 2000, None)]
        );
    }

    #[test]
    fn hidden_track_one_audio_is_track_zero_in_every_mode() {
        for gaps in [Gaps::Append, Gaps::Prepend, Gaps::Discard] {
            let s = spans(&one_file(true), gaps).unwrap();
            assert_eq!(
                s[0],
                Span {
                    number: 0,
                    start: pos(0, 0),
                    end: Some(pos(0, 300))
                }
            );
            // Track 1 starts at its INDEX 01 whatever the mode.
            assert_eq!(s[1].start, pos(0, 300), "{gaps:?}");
        }
        // Without INDEX 00 too: the audio before INDEX 01 is hidden.
        let mut m = one_file(true);
        m[0].index0 = None;
        let s = spans(&m, Gaps::Append).unwrap();
        assert_eq!(ranges(&s)[0], (0, 0, Some(300)));
        // No hidden track when track 1 starts the file.
        assert_eq!(spans(&one_file(false), Gaps::Append).unwrap()[0].number, 1);
    }

    #[test]
    fn data_tracks_end_the_track_before_and_give_no_span() {
        let mut m = one_file(false);
        m[2].audio = false;
        let s = spans(&m, Gaps::Append).unwrap();
        assert_eq!(ranges(&s), vec![(1, 0, Some(1000)), (2, 1000, Some(2000))]);
    }

    #[test]
    fn out_of_order_marks_are_an_error() {
        let m = vec![mark(1, None, pos(0, 500)), mark(2, None, pos(0, 100))];
        assert!(spans(&m, Gaps::Append).unwrap_err().contains("TRACK 01"));
    }

    /// EAC's "noncompliant" layout: each gap at the end of the previous
    /// track's file (INDEX 00 in file k, INDEX 01 at 0 of file k+1).
    #[test]
    fn multi_file_gaps_at_the_end_of_the_previous_file() {
        let m = vec![
            mark(1, None, pos(0, 0)),
            mark(2, Some(pos(0, 900)), pos(1, 0)),
            mark(3, Some(pos(1, 700)), pos(2, 0)),
        ];
        let a = spans(&m, Gaps::Append).unwrap();
        assert_eq!(
            segments(&a[0], 3),
            vec![Segment {
                file: 0,
                start: 0,
                end: None
            }]
        );
        assert_eq!(
            segments(&a[2], 3),
            vec![Segment {
                file: 2,
                start: 0,
                end: None
            }]
        );
        let p = spans(&m, Gaps::Prepend).unwrap();
        // Track 1 ends at the gap in its own file; track 2 takes the rest
        // of file 0 and file 1 up to its gap.
        assert_eq!(
            segments(&p[0], 3),
            vec![Segment {
                file: 0,
                start: 0,
                end: Some(900)
            }]
        );
        assert_eq!(
            segments(&p[1], 3),
            vec![
                Segment {
                    file: 0,
                    start: 900,
                    end: None
                },
                Segment {
                    file: 1,
                    start: 0,
                    end: Some(700)
                }
            ]
        );
        let d = spans(&m, Gaps::Discard).unwrap();
        assert_eq!(
            segments(&d[1], 3),
            vec![Segment {
                file: 1,
                start: 0,
                end: Some(700)
            }]
        );
    }

    /// Gaps at the start of each file ("corrected gaps"): appended, a
    /// track runs on into the next file.
    #[test]
    fn multi_file_gaps_at_the_start_of_their_own_file() {
        let m = vec![
            mark(1, None, pos(0, 0)),
            mark(2, Some(pos(1, 0)), pos(1, 150)),
        ];
        let a = spans(&m, Gaps::Append).unwrap();
        assert_eq!(
            segments(&a[0], 2),
            vec![
                Segment {
                    file: 0,
                    start: 0,
                    end: None
                },
                Segment {
                    file: 1,
                    start: 0,
                    end: Some(150)
                }
            ]
        );
        assert_eq!(
            segments(&a[1], 2),
            vec![Segment {
                file: 1,
                start: 150,
                end: None
            }]
        );
        // The last track runs to the end of every later file.
        let last = Span {
            number: 9,
            start: pos(0, 10),
            end: None,
        };
        assert_eq!(segments(&last, 3).len(), 3);
    }

    const SHEET: &str = r#"REM GENRE "Progressive Rock"
REM DATE 1994
REM COMMENT "ExactAudioCopy v1.6"
REM DISCNUMBER 2
REM TOTALDISCS 3
REM REPLAYGAIN_ALBUM_GAIN -7.00 dB
CATALOG 0724383958523
PERFORMER "The Band"
TITLE "The Album"
SONGWRITER "Disc Writer"
FILE "album.wav" WAVE
  TRACK 01 AUDIO
    TITLE "Opening"
    ISRC GBAYE9400001
    REM REPLAYGAIN_TRACK_GAIN -6.00 dB
    INDEX 01 00:00:00
  TRACK 02 AUDIO
    TITLE "Guest Song"
    PERFORMER "A Guest"
    SONGWRITER "Track Writer"
    FLAGS PRE
    REM GENRE "Jazz"
    INDEX 00 01:00:00
    INDEX 01 01:02:00
"#;

    #[test]
    fn tags_come_from_the_sheet_over_the_image() {
        let sheet = CueSheet::parse(SHEET).unwrap();
        let mut image = Tags::new();
        image.push(TagKey::Album, "Image Album");
        image.push(TagKey::Title, "Image Title");
        image.push(TagKey::Other("LABEL".into()), "The Label");
        image.push(TagKey::Other(CUESHEET_TAG.into()), "FILE ...");
        image.push(TagKey::ReplayGainAlbumGain, "-7.00 dB");
        image.pictures.push(aj_codec::tags::Picture::new(
            aj_codec::tags::PictureKind::FrontCover,
            "",
            b"\x89PNG\r\n\x1a\nx".to_vec(),
        ));

        let t1 = track_tags(&sheet, 1, &image);
        let get = |t: &Tags, k: TagKey| t.get(&k).map(str::to_string);
        assert_eq!(get(&t1, TagKey::Album).as_deref(), Some("The Album"));
        assert_eq!(get(&t1, TagKey::AlbumArtist).as_deref(), Some("The Band"));
        assert_eq!(get(&t1, TagKey::Artist).as_deref(), Some("The Band"));
        assert_eq!(get(&t1, TagKey::Title).as_deref(), Some("Opening"));
        assert_eq!(get(&t1, TagKey::Composer).as_deref(), Some("Disc Writer"));
        assert_eq!(get(&t1, TagKey::Genre).as_deref(), Some("Progressive Rock"));
        assert_eq!(get(&t1, TagKey::Date).as_deref(), Some("1994"));
        assert_eq!(
            get(&t1, TagKey::Comment).as_deref(),
            Some("ExactAudioCopy v1.6")
        );
        assert_eq!(get(&t1, TagKey::DiscNumber).as_deref(), Some("2"));
        assert_eq!(get(&t1, TagKey::DiscTotal).as_deref(), Some("3"));
        assert_eq!(get(&t1, TagKey::Isrc).as_deref(), Some("GBAYE9400001"));
        assert_eq!(get(&t1, TagKey::TrackNumber).as_deref(), Some("1"));
        assert_eq!(get(&t1, TagKey::TrackTotal).as_deref(), Some("2"));
        assert_eq!(
            get(&t1, TagKey::Other("BARCODE".into())).as_deref(),
            Some("0724383958523")
        );
        assert_eq!(
            get(&t1, TagKey::Other("LABEL".into())).as_deref(),
            Some("The Label")
        );
        // Not copied: ReplayGain (sheet or image), the image's sheet.
        assert_eq!(get(&t1, TagKey::ReplayGainAlbumGain), None);
        assert_eq!(get(&t1, TagKey::ReplayGainTrackGain), None);
        assert_eq!(get(&t1, TagKey::Other(CUESHEET_TAG.into())), None);
        assert!(!t1
            .items
            .iter()
            .any(|i| i.key.name().starts_with("REPLAYGAIN")));
        assert_eq!(t1.pictures.len(), 1);
        assert_eq!(get(&t1, TagKey::Other("PRE_EMPHASIS".into())), None);

        let t2 = track_tags(&sheet, 2, &image);
        assert_eq!(get(&t2, TagKey::Artist).as_deref(), Some("A Guest"));
        assert_eq!(get(&t2, TagKey::AlbumArtist).as_deref(), Some("The Band"));
        assert_eq!(get(&t2, TagKey::Composer).as_deref(), Some("Track Writer"));
        assert_eq!(get(&t2, TagKey::Genre).as_deref(), Some("Jazz"));
        assert_eq!(get(&t2, TagKey::Isrc), None);
        assert_eq!(
            get(&t2, TagKey::Other("PRE_EMPHASIS".into())).as_deref(),
            Some("yes")
        );

        // Without sheet values the image's own disc-level tags stay.
        let bare =
            CueSheet::parse("FILE \"a.wav\" WAVE\n TRACK 01 AUDIO\n INDEX 01 00:00:00\n").unwrap();
        let t = track_tags(&bare, 1, &image);
        assert_eq!(get(&t, TagKey::Album).as_deref(), Some("Image Album"));
        assert_eq!(get(&t, TagKey::Title), None);
    }

    #[test]
    fn plain_names() {
        use crate::naming::SafeNames;
        assert_eq!(
            CueTrackItem::plain_stem(3, Some("A/B"), SafeNames::Posix),
            "03 - A_B"
        );
        assert_eq!(
            CueTrackItem::plain_stem(12, None, SafeNames::Posix),
            "12 - Track 12"
        );
        assert_eq!(
            CueTrackItem::plain_stem(0, Some("x"), SafeNames::Posix),
            "00 - Hidden Track One Audio"
        );
    }

    #[test]
    fn files_are_found_as_eac_users_expect() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("Sub")).unwrap();
        std::fs::write(d.join("Album.FLAC"), b"").unwrap();
        std::fs::write(d.join("Other.mp3"), b"").unwrap();
        std::fs::write(d.join("Other.wav"), b"").unwrap();
        std::fs::write(d.join("Sub/x.wav"), b"").unwrap();
        assert_eq!(resolve_file(d, "Album.FLAC").unwrap(), d.join("Album.FLAC"));
        // Case, a Windows path, another extension (lossless first).
        assert_eq!(resolve_file(d, "album.flac").unwrap(), d.join("Album.FLAC"));
        assert_eq!(resolve_file(d, "Sub\\x.wav").unwrap(), d.join("Sub/x.wav"));
        assert_eq!(
            resolve_file(d, "C:\\Rips\\album.flac").unwrap(),
            d.join("Album.FLAC")
        );
        assert_eq!(resolve_file(d, "album.wav").unwrap(), d.join("Album.FLAC"));
        assert_eq!(resolve_file(d, "other.ape").unwrap(), d.join("Other.wav"));
        let e = resolve_file(d, "gone.wav").unwrap_err();
        assert!(e.contains("\"gone.wav\"") && e.contains("gone.*"), "{e}");
    }

    #[test]
    fn a_file_shorter_than_the_sheet_says_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let wav = dir.path().join("short.wav");
        let samples = aj_testkit::noise(1000, 2, 16, 7);
        aj_testkit::write_wav(&wav, &samples, 2, 44_100, 16);
        let track = |start: u64, end: Option<u64>| CueTrackItem {
            number: 2,
            image: wav.clone(),
            origin: "the cue sheet x.cue".into(),
            segments: vec![FileSegment {
                path: wav.clone(),
                start,
                end,
                file_frames: None,
            }],
            tags: Tags::new(),
            first: true,
            stem: "02 - x".into(),
        };
        let read_all = |t: &CueTrackItem| -> Result<Vec<i32>, String> {
            let mut src = SpanSource::open(t)?;
            let mut out = Vec::new();
            while let Some(b) = src.read(300).map_err(|e| e.to_string())? {
                out.extend_from_slice(b.as_int().unwrap());
            }
            Ok(out)
        };
        // Exactly the frames asked for, from anywhere, to the end too.
        assert_eq!(read_all(&track(10, Some(910))).unwrap(), samples[20..1820]);
        assert_eq!(read_all(&track(990, None)).unwrap(), samples[1980..]);
        let e = read_all(&track(10, Some(1200))).unwrap_err();
        assert!(
            e.contains("short.wav ends at frame 1000") && e.contains("x.cue"),
            "{e}"
        );
        assert!(!is_silent(&track(0, Some(10)), &CancelToken::new()).unwrap());
    }

    #[test]
    fn vorbis_comment_sheets_are_found() {
        let mut body = Vec::new();
        body.extend_from_slice(&3u32.to_le_bytes());
        body.extend_from_slice(b"aj!");
        body.extend_from_slice(&2u32.to_le_bytes());
        for f in ["TITLE=x", "cuesheet=FILE \"a\" WAVE"] {
            body.extend_from_slice(&(f.len() as u32).to_le_bytes());
            body.extend_from_slice(f.as_bytes());
        }
        assert_eq!(cuesheet_comment(&body).as_deref(), Some("FILE \"a\" WAVE"));
        // Damaged lengths give nothing, never a panic.
        assert_eq!(cuesheet_comment(&body[..body.len() - 3]), None);
        assert_eq!(cuesheet_comment(&[0xFF, 0xFF, 0xFF, 0xFF]), None);
    }
}
