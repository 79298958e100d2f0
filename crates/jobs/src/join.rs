//! Joining tracks into one image with its cue sheet (`aj convert --join`).
//!
//! The inputs are decoded one after the other, each through its own DSP
//! [`Chain`] (as [`crate::convert`] builds it), into one [`FileSink`]: the
//! image holds the tracks back to back, sample for sample. Beside it goes a
//! cue sheet (`NAME.cue`, written by [`CueSheet`]'s writer) whose `INDEX 01`
//! lines say where each track starts; a FLAC image also carries the sheet in
//! a `CUESHEET` Vorbis comment, where foobar2000, DeaDBeeF and others look
//! for it, and in a `CUESHEET` metadata block (RFC 9639 §8.7, as `flac
//! --cuesheet` writes it; see [`flac_cuesheet`]).
//!
//! # Order
//! By `DISCNUMBER`, then `TRACKNUMBER`, when every input has a track number
//! and no two share a disc and track; otherwise the order given (a folder's
//! audio files in natural order of their names: `2` before `10`). The order
//! is reported in a [`Event::Warning`] note and by one [`Event::TrackStarted`]
//! per track as it is appended.
//!
//! # Positions
//! Cue sheet times count CD frames, 1/75 s (588 samples at 44.1 kHz). A
//! track that starts between two frames is written at the nearest frame,
//! with a note that splitting the image with this sheet will not give that
//! track back exactly; tracks of whole frames (CD rips) round-trip exactly.
//!
//! # What goes where
//! The sheet: disc `TITLE` (album), `PERFORMER` (album artist, else the
//! artist all tracks share), `REM GENRE`, `REM DATE`, `REM COMMENT`,
//! `CATALOG` (a 12- or 13-digit barcode, or a catalog number of 13 digits;
//! another catalog number as `REM CATALOGNUMBER`); per track `TITLE`,
//! `PERFORMER` (always, as EAC writes it), `SONGWRITER` (the composer) and
//! `ISRC`. The image's tags: the album-level tags of the first track (album,
//! album artist, date, genre, label, release identifiers…), `ARTIST` set to
//! the album's performer, and its pictures.
//!
//! With ReplayGain asked for, the whole image is measured: its track gain
//! and its album gain are the same value (the image is the album), also
//! written as `REM REPLAYGAIN_ALBUM_*` in the sheet.
//!
//! With `delete_source`, the tracks are deleted only once the image was
//! verified sample for sample (a lossless format, verification on);
//! otherwise they are kept, with a note.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aj_cd::cue::{self, CueFile, CueIndex, CueSheet, CueTrack, FileType, Flags, Rem, TrackType};
use aj_cd::disc::CdTextFields;
use aj_codec::encode;
use aj_codec::output::PendingOutput;
use aj_codec::sink::{FileSink, FileSinkOptions};
use aj_codec::tags::cuesheet::{self, CueSheetBlock};
use aj_codec::tags::{TagKey, Tags};
use aj_codec::{decode, tags, Format};
use aj_core::{AudioSpec, CancelToken, Processor, SampleFormat, Sink};
use aj_dsp::chain::Chain;
use aj_dsp::loudness::{LoudnessMeter, PeakMode, ReplayGain};

use crate::convert::{self, ConvertSpec, Item, OnExists, Planned, AUDIO_EXTENSIONS};
use crate::engine::{Event, Summary};
use crate::naming::{NameContext, Template, TemplateError};
use crate::replaygain;

/// The image's name when none is given: the album's, else the folder's.
pub const DEFAULT_NAME: &str = "{albumartist|artist} - {album}";

/// CD frames per second (Red Book, IEC 60908 §14.1: 75 sectors per second);
/// cue sheet times count them (`MM:SS:FF`).
pub const CD_FRAMES_PER_SECOND: u64 = 75;

/// Tracks a cue sheet can number (`TRACK 01` to `TRACK 99`, as on a CD).
pub const MAX_TRACKS: usize = 99;

/// Frames per block read from a decoder.
const BLOCK_FRAMES: usize = 8192;
/// How often progress is reported.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

/// How to join (see the module docs); set in [`ConvertSpec::join`].
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct JoinOptions {
    /// The image's name, a [`crate::naming`] template rendered from the
    /// album-level tags (the extension is added; the cue sheet takes the
    /// same name with `.cue`); `None`: [`DEFAULT_NAME`], or the folder's
    /// name when the tracks have no album tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Keep the order given even when the tracks are numbered.
    #[serde(default)]
    pub keep_order: bool,
}

/// Why a join cannot start.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum JoinError {
    #[error("nothing to join: {0}")]
    NoInputs(String),
    #[error("{}: {problem}", path.display())]
    Input { path: PathBuf, problem: String },
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("cannot join {}: {problem}", path.display())]
    Mismatch { path: PathBuf, problem: String },
    #[error("{count} tracks: a cue sheet numbers at most {MAX_TRACKS}")]
    TooManyTracks { count: usize },
}

/// One input of a join.
#[derive(Debug, Clone)]
pub struct JoinTrack {
    pub path: PathBuf,
    pub tags: Tags,
    /// The decoder's spec (before DSP).
    pub spec: AudioSpec,
    pub lossless: bool,
    /// Frames the decoder announces, when it does.
    pub frames: Option<u64>,
}

/// How the tracks were put in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinOrder {
    /// By disc and track number.
    Tags,
    /// As given, for this reason (empty when asked).
    Given(String),
}

/// What a join will do.
#[derive(Debug, Clone)]
pub struct JoinPlan {
    /// In join order.
    pub tracks: Vec<JoinTrack>,
    pub order: JoinOrder,
    pub output: PathBuf,
    pub cue: PathBuf,
    /// The image's spec (rate and channels after DSP, the sample format
    /// the encoder takes).
    pub target: AudioSpec,
    /// The image's tags (album level), without ReplayGain or the sheet.
    pub tags: Tags,
    /// The path events name as the job's input.
    pub input: PathBuf,
    /// Inputs left out, and why.
    pub left_out: Vec<(PathBuf, String)>,
}

impl JoinPlan {
    /// The order as a person reads it: `joining 3 tracks in disc and track
    /// number order: 1. a.flac, 2. b.flac, 3. c.flac`.
    pub fn describe_order(&self) -> String {
        let how = match &self.order {
            JoinOrder::Tags => "in disc and track number order".to_string(),
            JoinOrder::Given(why) if why.is_empty() => "in the order given".to_string(),
            JoinOrder::Given(why) => format!("in the order given ({why})"),
        };
        let list: Vec<String> = self
            .tracks
            .iter()
            .enumerate()
            .map(|(i, t)| format!("{}. {}", i + 1, t.path.display()))
            .collect();
        format!(
            "joining {} track{} {how}: {}",
            self.tracks.len(),
            if self.tracks.len() == 1 { "" } else { "s" },
            list.join(", ")
        )
    }
}

/// Lists, reads and orders the inputs of a join and names its outputs.
///
/// # Errors
/// [`JoinError`]: no inputs, an input that is missing or does not decode
/// (naming it), a template that does not parse, inputs whose rate or
/// channel count differ after DSP (naming the odd one), too many tracks.
pub fn plan(spec: &ConvertSpec, cancel: &CancelToken) -> Result<JoinPlan, JoinError> {
    let options = spec.join.clone().unwrap_or_default();
    let template = Template::parse(options.name.as_deref().unwrap_or(DEFAULT_NAME))?;
    let paths = list_inputs(&spec.inputs)?;
    let mut tracks = Vec::with_capacity(paths.len());
    for path in paths {
        if cancel.is_cancelled() {
            return Err(JoinError::NoInputs("cancelled".into()));
        }
        tracks.push(read_track(&path)?);
    }
    let Some(first) = tracks.first() else {
        return Err(JoinError::NoInputs(
            "no audio files among the inputs".into(),
        ));
    };

    // The name comes from the first input given: an image joined before
    // carries the same album tags, so it gets the same name and is left out.
    let folder = folder_of(&spec.inputs, &first.path);
    let dir = spec.output_dir.clone().unwrap_or_else(|| folder.clone());
    let folder_name = folder
        .canonicalize()
        .unwrap_or_else(|_| folder.clone())
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "image".into());
    let named_tags = image_tags(&first.tags, &[&first.tags]);
    let rel = if options.name.is_none() && named_tags.get(&TagKey::Album).is_none() {
        // No album: the folder's name, made safe like any rendered name.
        Template::parse("{filename}")?.render(
            &NameContext {
                tags: &Tags::new(),
                filename: &folder_name,
                format: spec.format,
            },
            spec.safe_names,
        )
    } else {
        template.render(
            &NameContext {
                tags: &named_tags,
                filename: &folder_name,
                format: spec.format,
            },
            spec.safe_names,
        )
    };
    let output = dir.join(rel);
    let cue = output.with_extension("cue");
    let mut left_out = Vec::new();
    tracks.retain(|t| {
        let own = same_path(&t.path, &output) || same_path(&t.path, &cue);
        if own {
            left_out.push((
                t.path.clone(),
                "it is the image this join writes".to_string(),
            ));
        }
        !own
    });
    if tracks.is_empty() {
        return Err(JoinError::NoInputs(
            "the only input is the image itself".into(),
        ));
    }
    if tracks.len() > MAX_TRACKS {
        return Err(JoinError::TooManyTracks {
            count: tracks.len(),
        });
    }

    let tag_refs: Vec<&Tags> = tracks.iter().map(|t| &t.tags).collect();
    let (order, how) = if options.keep_order {
        ((0..tracks.len()).collect(), JoinOrder::Given(String::new()))
    } else {
        order_by_tags(&tag_refs)
    };
    let mut slots: Vec<Option<JoinTrack>> = tracks.into_iter().map(Some).collect();
    let tracks: Vec<JoinTrack> = order
        .iter()
        .filter_map(|&i| slots.get_mut(i).and_then(Option::take))
        .collect();

    let target = target_spec(spec, &tracks)?;
    let tag_refs: Vec<&Tags> = tracks.iter().map(|t| &t.tags).collect();
    let tags = match tracks.first() {
        Some(t) => image_tags(&t.tags, &tag_refs),
        None => Tags::new(),
    };
    let input = match spec.inputs.as_slice() {
        [one] => one.clone(),
        _ => folder,
    };
    Ok(JoinPlan {
        tracks,
        order: how,
        output,
        cue,
        target,
        tags,
        input,
        left_out,
    })
}

/// The files to join: files as given, folders' audio files (not their
/// sub-folders; hidden files passed over) in natural order of their names.
fn list_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, JoinError> {
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let entries = std::fs::read_dir(input).map_err(|e| JoinError::Input {
                path: input.clone(),
                problem: format!("cannot read folder: {e}"),
            })?;
            let mut files: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.is_file()
                        && !p
                            .file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                        && convert::has_extension(p, AUDIO_EXTENSIONS)
                })
                .collect();
            if files.is_empty() {
                return Err(JoinError::Input {
                    path: input.clone(),
                    problem: "no audio files in this folder".into(),
                });
            }
            files.sort_by(|a, b| {
                natural_cmp(
                    &a.file_name().unwrap_or_default().to_string_lossy(),
                    &b.file_name().unwrap_or_default().to_string_lossy(),
                )
            });
            out.extend(files);
        } else if input.exists() {
            out.push(input.clone());
        } else {
            return Err(JoinError::Input {
                path: input.clone(),
                problem: "no such file or folder".into(),
            });
        }
    }
    Ok(out)
}

fn read_track(path: &Path) -> Result<JoinTrack, JoinError> {
    let bad = |problem: String| JoinError::Input {
        path: path.to_path_buf(),
        problem,
    };
    let decoder = decode::open(path).map_err(|e| bad(e.to_string()))?;
    let tags = tags::read(path).map_err(|e| bad(e.to_string()))?;
    Ok(JoinTrack {
        path: path.to_path_buf(),
        tags,
        spec: decoder.spec(),
        lossless: decoder.info().lossless,
        frames: decoder.total_frames().map(|f| f.0),
    })
}

/// The folder a join is about: the folder given, else the first track's.
fn folder_of(inputs: &[PathBuf], first_track: &Path) -> PathBuf {
    match inputs.iter().find(|p| p.is_dir()) {
        Some(d) => d.clone(),
        None => first_track
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
    }
}

fn same_path(a: &Path, b: &Path) -> bool {
    let norm = |p: &Path| -> PathBuf {
        let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        match (
            abs.parent().and_then(|d| d.canonicalize().ok()),
            abs.file_name(),
        ) {
            (Some(d), Some(n)) => d.join(n),
            _ => abs,
        }
    };
    norm(a) == norm(b)
}

/// Compares names as people sort them: runs of digits by their value
/// (`track 2` before `track 10`), other text case-insensitively; equal
/// names by their bytes, so that the order is total.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.chars().peekable(), b.chars().peekable());
    loop {
        match (x.peek().copied(), y.peek().copied()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(c), Some(d)) if c.is_ascii_digit() && d.is_ascii_digit() => {
                let take = |it: &mut std::iter::Peekable<std::str::Chars<'_>>| {
                    let mut s = String::new();
                    while let Some(c) = it.peek().copied().filter(char::is_ascii_digit) {
                        s.push(c);
                        it.next();
                    }
                    s
                };
                let (m, n) = (take(&mut x), take(&mut y));
                let (m, n) = (m.trim_start_matches('0'), n.trim_start_matches('0'));
                let by_value = m.len().cmp(&n.len()).then_with(|| m.cmp(n));
                if by_value != Ordering::Equal {
                    return by_value;
                }
            }
            (Some(c), Some(d)) => {
                let by_char = c.to_lowercase().cmp(d.to_lowercase());
                if by_char != Ordering::Equal {
                    return by_char;
                }
                x.next();
                y.next();
            }
        }
    }
}

/// The number at the start of a tag value (`3/12` gives 3).
fn tag_number(tags: &Tags, key: &TagKey) -> Option<u32> {
    let v = tags.get(key)?.trim();
    let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The order of tracks by disc and track number, when every track has a
/// track number (a missing disc number counts as disc 1) and no two share
/// one; else the order given, with the reason.
pub fn order_by_tags(tags: &[&Tags]) -> (Vec<usize>, JoinOrder) {
    let given = (0..tags.len()).collect::<Vec<_>>();
    let mut keys = Vec::with_capacity(tags.len());
    for (i, t) in tags.iter().enumerate() {
        match tag_number(t, &TagKey::TrackNumber) {
            Some(track) => {
                let disc = tag_number(t, &TagKey::DiscNumber).unwrap_or(1);
                keys.push(((disc, track), i));
            }
            None => {
                return (
                    given,
                    JoinOrder::Given(format!("input {} has no track number", i + 1)),
                )
            }
        }
    }
    let mut sorted = keys.clone();
    sorted.sort();
    if let Some(w) = sorted.windows(2).find(|w| w[0].0 == w[1].0) {
        let ((disc, track), _) = w[0];
        return (
            given,
            JoinOrder::Given(format!("two inputs are disc {disc} track {track}")),
        );
    }
    (
        sorted.into_iter().map(|(_, i)| i).collect(),
        JoinOrder::Tags,
    )
}

/// The image's spec: the rate and channels every input has after DSP (an
/// input that differs is an error naming it), and the sample format: float
/// for lossy formats (and WAV when an input is float), else the highest
/// integer depth of the inputs (lossy inputs count as 16-bit), or what
/// `bits`/`float` ask.
fn target_spec(spec: &ConvertSpec, tracks: &[JoinTrack]) -> Result<AudioSpec, JoinError> {
    let shape = |t: &JoinTrack| {
        (
            spec.dsp.rate.unwrap_or(t.spec.sample_rate),
            spec.dsp.channels.unwrap_or(t.spec.channels),
        )
    };
    let Some(first) = tracks.first() else {
        return Err(JoinError::NoInputs("no tracks".into()));
    };
    let (rate, channels) = shape(first);
    for t in tracks {
        let (r, c) = shape(t);
        if r != rate {
            return Err(JoinError::Mismatch {
                path: t.path.clone(),
                problem: format!(
                    "it is {r} Hz, {} is {rate} Hz (all tracks must share one rate: add --rate to resample them)",
                    first.path.display()
                ),
            });
        }
        if c != channels {
            return Err(JoinError::Mismatch {
                path: t.path.clone(),
                problem: format!(
                    "it has {c} channel{}, {} has {channels} (all tracks must share them: add --channels to mix them)",
                    if c == 1 { "" } else { "s" },
                    first.path.display()
                ),
            });
        }
    }
    let mut float = false;
    let mut bits = 0u8;
    for t in tracks {
        let f = if !t.lossless && spec.format.is_lossless() {
            SampleFormat::Int { bits: 16 }
        } else {
            encode::input_spec(spec.format, t.spec, 24).format
        };
        match f {
            SampleFormat::Float => float = true,
            SampleFormat::Int { bits: b } => bits = bits.max(b),
        }
    }
    let default = if float || bits == 0 {
        SampleFormat::Float
    } else {
        SampleFormat::Int { bits }
    };
    Ok(AudioSpec {
        sample_rate: rate,
        channels,
        format: spec.dsp.output_format(spec.format, default),
    })
}

/// Album-level keys carried from the first track into the image.
const ALBUM_KEYS: &[&str] = &[
    "ALBUM",
    "ALBUMARTIST",
    "DATE",
    "YEAR",
    "ORIGINALDATE",
    "ORIGINALYEAR",
    "GENRE",
    "DISCNUMBER",
    "DISCTOTAL",
    "TOTALDISCS",
    "LABEL",
    "ORGANIZATION",
    "PUBLISHER",
    "BARCODE",
    "UPC",
    "EAN",
    "CATALOGNUMBER",
    "CATALOG",
    "RELEASECOUNTRY",
    "RELEASESTATUS",
    "RELEASETYPE",
    "MEDIA",
    "COPYRIGHT",
    "ALBUMARTISTSORT",
    "ALBUMSORT",
    "SCRIPT",
    "ASIN",
    "MUSICBRAINZ_ALBUMID",
    "MUSICBRAINZ_RELEASEGROUPID",
    "MUSICBRAINZ_ALBUMARTISTID",
    "MUSICBRAINZ_DISCID",
];

/// The album's performer: the album artist, else the artist every track
/// shares.
fn album_performer(first: &Tags, all: &[&Tags]) -> Option<String> {
    if let Some(a) = first.get(&TagKey::AlbumArtist) {
        return Some(a.to_string());
    }
    let artist = first.get(&TagKey::Artist)?;
    all.iter()
        .all(|t| t.get(&TagKey::Artist) == Some(artist))
        .then(|| artist.to_string())
}

/// The image's tags: the album-level tags of `first`, `ARTIST` as the
/// album's performer, and `first`'s pictures.
fn image_tags(first: &Tags, all: &[&Tags]) -> Tags {
    let mut out = Tags::new();
    for item in &first.items {
        if ALBUM_KEYS.contains(&item.key.name()) {
            out.push(item.key.clone(), item.value.clone());
        }
    }
    if let Some(p) = album_performer(first, all) {
        out.set(TagKey::Artist, p);
    }
    out.pictures = first.pictures.clone();
    out
}

/// Where a track starting at `sample` (at `rate` Hz) is in a cue sheet: the
/// nearest CD frame (1/75 s; halves round up), and whether it is exact.
/// `None` past what a cue time can say.
pub fn cue_frame(sample: u64, rate: u32) -> Option<(u32, bool)> {
    if rate == 0 {
        return None;
    }
    let num = u128::from(sample) * u128::from(CD_FRAMES_PER_SECOND);
    let rate = u128::from(rate);
    let (q, r) = (num / rate, num % rate);
    let nearest = if 2 * r >= rate { q + 1 } else { q };
    u32::try_from(nearest).ok().map(|f| (f, r == 0))
}

/// A track whose start is not on a CD frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inexact {
    pub track: u8,
    /// Where it starts, in samples of the image.
    pub sample: u64,
    /// The CD frame the sheet says.
    pub frame: u32,
}

/// The FLAC `CUESHEET` block (RFC 9639 §8.7) of an image of `total`
/// samples whose tracks start at `starts`, with `sheet` (from [`build_cue`])
/// for their numbers and ISRCs and the catalog number. CD audio (44.1 kHz,
/// stereo, 16-bit, a length of whole CD frames) gets a CD-DA sheet whose
/// offsets are the frames the text sheet says, as `flac --cuesheet` writes
/// it; anything else a sheet of the exact samples.
///
/// # Errors
/// When the sheet and the starts disagree in number.
pub fn flac_cuesheet(
    sheet: &CueSheet,
    spec: AudioSpec,
    starts: &[u64],
    total: u64,
) -> Result<CueSheetBlock, String> {
    use aj_codec::tags::cuesheet::{BlockIndex, BlockTrack, CD_FRAME_SAMPLES, LEADOUT_OTHER};
    if sheet.tracks.len() != starts.len() {
        return Err(format!(
            "{} tracks in the sheet, {} starts",
            sheet.tracks.len(),
            starts.len()
        ));
    }
    let is_cd = spec.sample_rate == 44_100
        && spec.channels == 2
        && spec.format == SampleFormat::Int { bits: 16 }
        && total.is_multiple_of(CD_FRAME_SAMPLES);
    if is_cd {
        // The sheet's own frames: the same block `aj rip --image` writes.
        return cd_cuesheet_block(sheet, total);
    }
    let mut tracks = Vec::with_capacity(starts.len() + 1);
    for (t, &start) in sheet.tracks.iter().zip(starts) {
        tracks.push(BlockTrack {
            offset: start,
            number: t.number,
            isrc: t.isrc.clone().unwrap_or_default(),
            audio: true,
            pre_emphasis: t.flags.pre,
            indexes: vec![BlockIndex {
                offset: 0,
                number: 1,
            }],
        });
    }
    tracks.push(BlockTrack {
        offset: total,
        number: LEADOUT_OTHER,
        ..BlockTrack::default()
    });
    Ok(CueSheetBlock {
        mcn: sheet.catalog.clone().unwrap_or_default(),
        lead_in: 0,
        is_cd: false,
        tracks,
    })
}

/// The FLAC `CUESHEET` block (RFC 9639 §8.7) of a CD-DA image (44.1 kHz,
/// stereo, 16-bit) of `total` samples described by `sheet`, a sheet of one
/// `FILE` (the image), as `flac --cuesheet` writes it: a lead-in of two
/// seconds ([`cuesheet::CD_LEAD_IN`]), each track at its first index
/// (INDEX 00 where it has a gap in the file, else INDEX 01) with every
/// index after it, all in whole CD frames; ISRCs, the catalog number, the
/// PRE flag as the sheet has it; the lead-out (170) at `total`. ISRCs that
/// are not 12 letters and digits are left out rather than lose the block.
///
/// # Errors
/// When the sheet names more than one file, has a track without an index
/// or indexes in another file, or the block breaks a rule of the RFC
/// ([`CueSheetBlock::check`]): `total` not a whole number of CD frames,
/// more than 99 tracks, positions out of order.
pub fn cd_cuesheet_block(sheet: &CueSheet, total: u64) -> Result<CueSheetBlock, String> {
    use aj_codec::tags::cuesheet::{
        BlockIndex, BlockTrack, CD_FRAME_SAMPLES, CD_LEAD_IN, LEADOUT_CD,
    };
    if sheet.files.len() > 1 {
        return Err(format!(
            "the sheet names {} files; a CUESHEET block describes one",
            sheet.files.len()
        ));
    }
    let mut tracks = Vec::with_capacity(sheet.tracks.len() + 1);
    for t in &sheet.tracks {
        if t.indexes.iter().any(|i| i.file != 0) {
            return Err(format!("track {} lies in another file", t.number));
        }
        let Some(first) = t.indexes.first() else {
            return Err(format!("track {} has no index", t.number));
        };
        let offset = u64::from(first.position) * CD_FRAME_SAMPLES;
        let indexes = t
            .indexes
            .iter()
            .map(|i| BlockIndex {
                offset: u64::from(i.position.saturating_sub(first.position)) * CD_FRAME_SAMPLES,
                number: i.number,
            })
            .collect();
        let isrc = t
            .isrc
            .clone()
            .filter(|i| i.len() == 12 && i.bytes().all(|b| b.is_ascii_alphanumeric()))
            .unwrap_or_default();
        tracks.push(BlockTrack {
            offset,
            number: t.number,
            isrc,
            audio: t.kind.is_audio(),
            pre_emphasis: t.flags.pre,
            indexes,
        });
    }
    tracks.push(BlockTrack {
        offset: total,
        number: LEADOUT_CD,
        ..BlockTrack::default()
    });
    let block = CueSheetBlock {
        mcn: sheet.catalog.clone().unwrap_or_default(),
        lead_in: CD_LEAD_IN,
        is_cd: true,
        tracks,
    };
    block.check()?;
    Ok(block)
}

/// The cue sheet of an image named `file` (its file name) holding tracks
/// tagged `tags` that start at `starts` (samples at `rate` Hz; the first is
/// 0). Returns the sheet and the tracks whose start had to be rounded to a
/// CD frame.
///
/// # Errors
/// A message when a start is past what a cue time can say, or when two
/// tracks start on one frame (a track shorter than a CD frame).
pub fn build_cue(
    file: &str,
    format: Format,
    rate: u32,
    tags: &[&Tags],
    starts: &[u64],
) -> Result<(CueSheet, Vec<Inexact>), String> {
    let first = tags.first().copied().cloned().unwrap_or_default();
    let mut sheet = CueSheet::default();
    let text_value = |s: &str| -> Option<String> {
        // A cue value is one line; the reader takes what is between the first
        // and the last quote, so quotes inside survive as written.
        let v: String = s
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let v = v.trim().to_string();
        (!v.is_empty()).then_some(v)
    };
    for (key, name) in [
        (TagKey::Genre, cue::rem::GENRE),
        (TagKey::Date, cue::rem::DATE),
        (TagKey::Comment, cue::rem::COMMENT),
    ] {
        if let Some(v) = first.get(&key).and_then(text_value) {
            sheet.rems.push(Rem {
                name: name.to_string(),
                value: v,
            });
        }
    }
    let (catalog, catalog_rem) = catalog_of(&first);
    sheet.catalog = catalog;
    if let Some(v) = catalog_rem.as_deref().and_then(text_value) {
        sheet.rems.push(Rem {
            name: "CATALOGNUMBER".into(),
            value: v,
        });
    }
    sheet.text = CdTextFields {
        title: first.get(&TagKey::Album).and_then(text_value),
        performer: album_performer(&first, tags)
            .as_deref()
            .and_then(text_value),
        ..CdTextFields::default()
    };
    sheet.files.push(CueFile {
        name: file.to_string(),
        kind: file_type(format),
    });
    let mut inexact = Vec::new();
    let mut last: Option<u32> = None;
    for (i, (t, &start)) in tags.iter().zip(starts).enumerate() {
        let number = u8::try_from(i + 1).map_err(|_| format!("more than {MAX_TRACKS} tracks"))?;
        let (frame, exact) = cue_frame(start, rate).ok_or_else(|| {
            format!("track {number} starts at sample {start}, past what a cue sheet can say")
        })?;
        if last.is_some_and(|l| frame <= l) {
            return Err(format!(
                "track {number} starts on the same CD frame as the one before it (tracks must be at least 1/75 s long)"
            ));
        }
        last = Some(frame);
        if !exact {
            inexact.push(Inexact {
                track: number,
                sample: start,
                frame,
            });
        }
        sheet.tracks.push(CueTrack {
            number,
            kind: TrackType::Audio,
            flags: Flags::default(),
            isrc: t.get(&TagKey::Isrc).and_then(isrc_of),
            text: CdTextFields {
                title: t.get(&TagKey::Title).and_then(text_value),
                performer: t.get(&TagKey::Artist).and_then(text_value),
                songwriter: t.get(&TagKey::Composer).and_then(text_value),
                ..CdTextFields::default()
            },
            pregap: None,
            postgap: None,
            indexes: vec![CueIndex {
                number: 1,
                file: 0,
                position: frame,
            }],
            rems: Vec::new(),
            session: 1,
        });
    }
    Ok((sheet, inexact))
}

/// The FILE type: WAVE for every audio file but MP3 and AIFF, as EAC writes
/// it (libcue and shntool know no FLAC type).
fn file_type(format: Format) -> FileType {
    match format {
        Format::Mp3 => FileType::Mp3,
        Format::Aiff => FileType::Aiff,
        _ => FileType::Wave,
    }
}

/// The MCN for CATALOG (13 digits: an EAN-13, or a 12-digit UPC-A with a 0
/// in front, as the Red Book's MCN is the EAN), and a catalog number that is
/// not one (for `REM CATALOGNUMBER`).
fn catalog_of(tags: &Tags) -> (Option<String>, Option<String>) {
    let digits = |v: &str| -> Option<String> {
        let d: String = v.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if !d.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        match d.len() {
            13 => Some(d),
            12 => Some(format!("0{d}")),
            _ => None,
        }
    };
    // MCN is what `aj rip` (and the cue splitter) write beside BARCODE.
    let barcode = ["BARCODE", "MCN", "UPC", "EAN"]
        .iter()
        .find_map(|k| tags.get(&TagKey::Other((*k).into())))
        .and_then(digits);
    let number = ["CATALOGNUMBER", "CATALOG"]
        .iter()
        .find_map(|k| tags.get(&TagKey::Other((*k).into())));
    match (barcode, number) {
        (Some(b), n) => (Some(b), n.map(str::to_string)),
        (None, Some(n)) => match digits(n).filter(|d| d.len() == 13 && n.trim().len() == 13) {
            Some(d) => (Some(d), None),
            None => (None, Some(n.to_string())),
        },
        (None, None) => (None, None),
    }
}

/// An ISRC as a cue sheet takes it: 12 letters and digits (hyphens and
/// spaces dropped, letters in upper case; ISO 3901).
fn isrc_of(v: &str) -> Option<String> {
    let s: String = v
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (s.len() == 12 && s.chars().all(|c| c.is_ascii_alphanumeric())).then_some(s)
}

/// Runs a join job (a [`ConvertSpec`] with `join` set) as one item and
/// reports its events; the last is [`Event::Summary`].
pub fn run(spec: &ConvertSpec, cancel: &CancelToken, on_event: &(dyn Fn(Event) + Sync)) -> Summary {
    // One item: the job's threads go to its encoder (FLAC frames in parallel).
    let mut spec = spec.clone();
    if spec.encoder.threads.is_none() {
        spec.encoder.threads = Some(spec.threads());
    }
    let spec = &spec;
    on_event(Event::JobStarted {
        files: 1,
        threads: 1,
    });
    let mut summary = Summary::default();
    let plan = match plan(spec, cancel) {
        Ok(p) => p,
        Err(e) => {
            if cancel.is_cancelled() {
                summary.skipped = 1;
            } else {
                on_event(Event::FileFailed {
                    index: 0,
                    input: spec.inputs.first().cloned().unwrap_or_default(),
                    error: e.to_string(),
                });
                summary.failed = 1;
            }
            summary.cancelled = cancel.is_cancelled();
            on_event(Event::Summary(summary));
            return summary;
        }
    };
    for (path, why) in &plan.left_out {
        on_event(Event::Warning {
            message: format!("{} was left out: {why}", path.display()),
        });
    }
    on_event(Event::Warning {
        message: plan.describe_order(),
    });
    let created_dirs = Mutex::new(Vec::new());
    match run_plan(spec, &plan, cancel, on_event, &created_dirs) {
        Ok(Some(deleted)) => {
            summary.ok = 1;
            summary.deleted = deleted;
        }
        Ok(None) => summary.skipped = 1,
        Err(_) if cancel.is_cancelled() => {
            on_event(Event::FileSkipped {
                index: 0,
                input: plan.input.clone(),
                output: Some(plan.output.clone()),
                reason: "cancelled".into(),
            });
            summary.skipped = 1;
        }
        Err(error) => {
            on_event(Event::FileFailed {
                index: 0,
                input: plan.input.clone(),
                error,
            });
            summary.failed = 1;
        }
    }
    convert::remove_empty_dirs(created_dirs.into_inner().unwrap_or_else(|p| p.into_inner()));
    summary.cancelled = cancel.is_cancelled();
    on_event(Event::Summary(summary));
    summary
}

/// The join's one item: `Ok(Some(sources deleted))` when written,
/// `Ok(None)` when skipped (reported), `Err` worded for a person.
fn run_plan(
    spec: &ConvertSpec,
    plan: &JoinPlan,
    cancel: &CancelToken,
    on_event: &(dyn Fn(Event) + Sync),
    created_dirs: &Mutex<Vec<PathBuf>>,
) -> Result<Option<usize>, String> {
    let when_exists = spec.when_exists();
    let output = &plan.output;
    for path in [output, &plan.cue] {
        if path.is_dir() {
            return Err(format!("a folder is in the way of {}", path.display()));
        }
        if when_exists == OnExists::Skip && path.symlink_metadata().is_ok() {
            on_event(Event::FileSkipped {
                index: 0,
                input: plan.input.clone(),
                output: Some(output.clone()),
                reason: format!(
                    "{} exists (use --overwrite to replace it, or --on-exists rename)",
                    path.display()
                ),
            });
            return Ok(None);
        }
    }
    spec.dsp.check(spec.format)?;
    convert::create_output_dir(output, created_dirs)?;
    let out_err = |e: String| format!("writing {}: {e}", output.display());
    let options = FileSinkOptions {
        format: spec.format,
        encoder: spec.encoder.clone(),
        tags: plan.tags.clone(),
        overwrite: matches!(when_exists, OnExists::Overwrite | OnExists::Rename),
        verify: spec.verify,
    };
    let target = plan.target;
    let mut sink = FileSink::create(output, target, options).map_err(|e| out_err(e.to_string()))?;
    let mut meter = if spec.replaygain {
        Some(LoudnessMeter::new(target, PeakMode::Sample).map_err(|e| e.to_string())?)
    } else {
        None
    };
    let total: Option<u64> = plan.tracks.iter().map(|t| t.frames).sum();
    on_event(Event::FileStarted {
        index: 0,
        input: plan.input.clone(),
        output: output.clone(),
        total_frames: total,
        sample_rate: plan.tracks.first().map_or(0, |t| t.spec.sample_rate),
    });
    let progress = |read: u64, total: Option<u64>| Event::Progress {
        index: 0,
        input: plan.input.clone(),
        frames: read,
        total_frames: total,
        percent: total
            .filter(|&t| t > 0)
            .map(|t| (read as f64 * 100.0 / t as f64).min(100.0)),
        drive: None,
    };
    let mut starts = Vec::with_capacity(plan.tracks.len());
    let mut written = 0u64;
    let mut read = 0u64;
    let mut last_report = Instant::now();
    for (i, track) in plan.tracks.iter().enumerate() {
        let name = track.path.display();
        let in_err = |e: String| format!("{name}: {e}");
        let mut decoder = decode::open(&track.path).map_err(|e| in_err(e.to_string()))?;
        let src = decoder.spec();
        let item = Item {
            index: 0,
            input: track.path.clone(),
            plan: Planned::Convert(output.clone()),
            track: None,
        };
        let settings = convert::dsp_settings(&spec.dsp, &item, &track.tags, src, cancel, on_event)
            .map_err(in_err)?;
        let mut chain =
            Chain::new(src, settings, target.format).map_err(|e| in_err(e.to_string()))?;
        let shape = settings.output_shape(src);
        if shape.sample_rate != target.sample_rate || shape.channels != target.channels {
            return Err(in_err(format!(
                "it became {} Hz, {} channels, while the image is {} Hz, {} channels",
                shape.sample_rate, shape.channels, target.sample_rate, target.channels
            )));
        }
        on_event(Event::TrackStarted {
            index: 0,
            track: u8::try_from(i + 1).unwrap_or(u8::MAX),
            file: track.path.clone(),
            frames: track.frames.unwrap_or(0),
        });
        starts.push(written);
        let before = written;
        let mut put = |block: aj_core::Block, sink: &mut FileSink| -> Result<u64, String> {
            if block.frames() == 0 {
                return Ok(0);
            }
            if let Some(m) = meter.as_mut() {
                m.add(&block).map_err(|e| e.to_string())?;
            }
            sink.write(&block).map_err(|e| out_err(e.to_string()))?;
            Ok(block.frames() as u64)
        };
        while let Some(block) = decoder
            .read(BLOCK_FRAMES)
            .map_err(|e| in_err(e.to_string()))?
        {
            cancel.check().map_err(|e| e.to_string())?;
            read += block.frames() as u64;
            let block = chain.process(block).map_err(|e| in_err(e.to_string()))?;
            written += put(block, &mut sink)?;
            if last_report.elapsed() >= PROGRESS_EVERY {
                last_report = Instant::now();
                on_event(progress(read, total));
            }
        }
        cancel.check().map_err(|e| e.to_string())?;
        if let Some(block) = chain.flush().map_err(|e| in_err(e.to_string()))? {
            written += put(block, &mut sink)?;
        }
        if written == before {
            return Err(in_err("it holds no audio".into()));
        }
    }
    on_event(progress(read, total.or(Some(read))));

    let file_name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tag_refs: Vec<&Tags> = plan.tracks.iter().map(|t| &t.tags).collect();
    let (mut sheet, inexact) = build_cue(
        &file_name,
        spec.format,
        target.sample_rate,
        &tag_refs,
        &starts,
    )?;
    for x in &inexact {
        on_event(Event::Warning {
            message: format!(
                "track {} starts at sample {}, between two CD frames: the cue sheet says {} (the nearest frame), so splitting the image with it will not give this track back exactly",
                x.track,
                x.sample,
                msf(x.frame)
            ),
        });
    }
    let measurement = meter.map(|m| m.measurement());
    if let Some(m) = &measurement {
        let whole = ReplayGain::from_measurement(m, false);
        let album = match &whole {
            Some(g) => replaygain::Album::Set(g),
            None => replaygain::Album::Remove,
        };
        replaygain::set_gain_tags(sink.tags_mut(), spec.format, whole.as_ref(), album);
        if let Some(g) = &whole {
            sheet.rems.push(Rem {
                name: cue::rem::REPLAYGAIN_ALBUM_GAIN.into(),
                value: g.gain_text(),
            });
            sheet.rems.push(Rem {
                name: cue::rem::REPLAYGAIN_ALBUM_PEAK.into(),
                value: g.peak_text(),
            });
        }
    }
    if spec.format == Format::Flac {
        sink.tags_mut()
            .set(TagKey::Other("CUESHEET".into()), sheet.to_string());
        match flac_cuesheet(&sheet, target, &starts, written).and_then(|b| b.to_bytes()) {
            Ok(body) => sink
                .add_flac_block(cuesheet::BLOCK_TYPE, body)
                .map_err(|e| out_err(e.to_string()))?,
            Err(e) => on_event(Event::Warning {
                message: format!(
                    "no CUESHEET metadata block in the image ({e}); the sheet is in its CUESHEET tag and the .cue file"
                ),
            }),
        }
    }
    if sink.verifies() {
        on_event(Event::Stage {
            index: 0,
            input: plan.input.clone(),
            stage: "verify".into(),
        });
    }
    let finished = if when_exists == OnExists::Rename {
        sink.finish_numbered(cancel)
    } else {
        sink.finish_verified(cancel).map(|v| (v, output.clone()))
    };
    let (verified, image) = finished.map_err(|e| match e {
        aj_codec::Error::Corrupt(msg) => msg,
        other => out_err(other.to_string()),
    })?;

    // The sheet names the image as it was finally called.
    let cue_path = image.with_extension("cue");
    if image != *output {
        if let Some(f) = sheet.files.first_mut() {
            f.name = image
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
        }
    }
    if let Err(e) = write_cue(&cue_path, &sheet, when_exists) {
        // An image without its sheet is not what was asked: take it back.
        let _ = std::fs::remove_file(&image);
        return Err(e);
    }

    let deleted = if spec.delete_source {
        delete_sources(plan, &image, &cue_path, verified, cancel, on_event)
    } else {
        0
    };
    on_event(Event::FileDone {
        index: 0,
        input: plan.input.clone(),
        output: image,
        frames: written,
        verified,
        deleted_source: None,
    });
    Ok(Some(deleted))
}

/// Writes the sheet atomically (never replacing a file unless overwriting).
fn write_cue(path: &Path, sheet: &CueSheet, when_exists: OnExists) -> Result<(), String> {
    let err = |e: String| format!("writing {}: {e}", path.display());
    let pending = PendingOutput::create(path, when_exists == OnExists::Overwrite)
        .map_err(|e| err(e.to_string()))?;
    std::fs::write(pending.temp_path(), sheet.to_bytes(false, false))
        .map_err(|e| err(e.to_string()))?;
    pending.commit().map_err(|e| err(e.to_string()))
}

/// Deletes the joined tracks once the image was verified sample for
/// sample; otherwise keeps them, with a note. Returns how many went.
fn delete_sources(
    plan: &JoinPlan,
    image: &Path,
    cue: &Path,
    verified: bool,
    cancel: &CancelToken,
    on_event: &(dyn Fn(Event) + Sync),
) -> usize {
    if !verified {
        on_event(Event::Warning {
            message: "the joined tracks were kept (not deleted): the image was not verified sample for sample (a lossless format with verification is needed)".into(),
        });
        return 0;
    }
    let mut deleted = Vec::new();
    for t in &plan.tracks {
        if cancel.is_cancelled() {
            break;
        }
        if same_path(&t.path, image) || same_path(&t.path, cue) {
            continue;
        }
        match std::fs::remove_file(&t.path) {
            Ok(()) => deleted.push(t.path.display().to_string()),
            Err(e) => on_event(Event::Warning {
                message: format!("{} was kept (not deleted): {e}", t.path.display()),
            }),
        }
    }
    if !deleted.is_empty() {
        on_event(Event::Warning {
            message: format!(
                "deleted the joined tracks, now in {}: {}",
                image.display(),
                deleted.join(", ")
            ),
        });
    }
    deleted.len()
}

/// `MM:SS:FF` of a CD frame count, as a cue sheet writes it.
fn msf(frames: u32) -> String {
    let f = u64::from(frames);
    format!(
        "{:02}:{:02}:{:02}",
        f / (60 * CD_FRAMES_PER_SECOND),
        (f / CD_FRAMES_PER_SECOND) % 60,
        f % CD_FRAMES_PER_SECOND
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn tagged(pairs: &[(&str, &str)]) -> Tags {
        let mut t = Tags::new();
        for (k, v) in pairs {
            t.push(TagKey::from_name(k), *v);
        }
        t
    }

    #[test]
    fn natural_order_counts_numbers() {
        let mut v = vec!["10 x", "2 x", "1 x", "Track 3", "track 20", "01 a"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["01 a", "1 x", "2 x", "10 x", "Track 3", "track 20"]);
        assert_eq!(natural_cmp("a", "a"), Ordering::Equal);
        assert_eq!(natural_cmp("a9", "a10"), Ordering::Less);
    }

    #[test]
    fn order_by_disc_then_track_else_as_given() {
        let a = tagged(&[("DISCNUMBER", "2"), ("TRACKNUMBER", "1")]);
        let b = tagged(&[("DISCNUMBER", "1/2"), ("TRACKNUMBER", "10/12")]);
        let c = tagged(&[("TRACKNUMBER", "2")]);
        let (order, how) = order_by_tags(&[&a, &b, &c]);
        assert_eq!(how, JoinOrder::Tags);
        assert_eq!(order, vec![2, 1, 0]);

        let d = tagged(&[("TITLE", "no number")]);
        let (order, how) = order_by_tags(&[&a, &d, &c]);
        assert_eq!(order, vec![0, 1, 2]);
        assert!(matches!(how, JoinOrder::Given(why) if why.contains("input 2")));

        let e = tagged(&[("TRACKNUMBER", "02")]);
        let (order, how) = order_by_tags(&[&e, &c]);
        assert_eq!(order, vec![0, 1]);
        assert!(matches!(how, JoinOrder::Given(why) if why.contains("disc 1 track 2")));
    }

    #[test]
    fn frames_round_to_the_nearest_and_say_when_inexact() {
        assert_eq!(cue_frame(0, 44100), Some((0, true)));
        assert_eq!(
            cue_frame(588 * 75 * 61 + 588 * 3, 44100),
            Some((75 * 61 + 3, true))
        );
        assert_eq!(cue_frame(588 * 10 + 293, 44100), Some((10, false)));
        assert_eq!(cue_frame(588 * 10 + 294, 44100), Some((11, false)));
        assert_eq!(cue_frame(640 * 7, 48000), Some((7, true)));
        assert_eq!(cue_frame(1, 0), None);
        assert_eq!(cue_frame(u64::MAX, 1), None);
        assert_eq!(msf(75 * 61 + 3), "01:01:03");
    }

    #[test]
    fn a_cd_sheet_block_keeps_gaps_isrcs_and_flags() {
        let sheet = CueSheet::parse(
            "CATALOG 2001234567893\nFILE \"disc.flac\" WAVE\n  TRACK 01 AUDIO\n    ISRC ZZAJD2600001\n    INDEX 01 00:00:00\n  TRACK 02 AUDIO\n    FLAGS PRE\n    INDEX 00 00:20:00\n    INDEX 01 00:22:00\n    INDEX 02 00:30:10\n",
        )
        .unwrap();
        let mut sheet = sheet;
        // A damaged ISRC (the parser refuses them; a disc may still give one).
        sheet.tracks[1].isrc = Some("BAD".into());
        let total = 40 * 75 * 588;
        let b = cd_cuesheet_block(&sheet, total).unwrap();
        assert!(b.is_cd);
        assert_eq!(b.lead_in, cuesheet::CD_LEAD_IN);
        assert_eq!(b.mcn, "2001234567893");
        assert_eq!(b.tracks.len(), 3);
        assert_eq!(b.tracks[0].isrc, "ZZAJD2600001");
        let t2 = &b.tracks[1];
        assert_eq!(t2.offset, 20 * 75 * 588);
        assert!(t2.pre_emphasis && t2.isrc.is_empty());
        let idx: Vec<(u8, u64)> = t2.indexes.iter().map(|i| (i.number, i.offset)).collect();
        assert_eq!(
            idx,
            vec![(0, 0), (1, 2 * 75 * 588), (2, (10 * 75 + 10) * 588)]
        );
        assert_eq!(
            (b.tracks[2].number, b.tracks[2].offset),
            (cuesheet::LEADOUT_CD, total)
        );
        // The bytes read back as the same block.
        assert_eq!(CueSheetBlock::parse(&b.to_bytes().unwrap()).unwrap(), b);
        // Not a whole number of CD frames, or two files: refused.
        assert!(cd_cuesheet_block(&sheet, total + 1).is_err());
        let mut two = sheet.clone();
        two.files.push(two.files[0].clone());
        assert!(cd_cuesheet_block(&two, total).is_err());
    }

    #[test]
    fn cue_carries_the_tags_and_positions() {
        let t1 = tagged(&[
            ("ALBUM", "Say \"Hi\""),
            ("ALBUMARTIST", "The Band"),
            ("ARTIST", "The Band"),
            ("TITLE", "One"),
            ("GENRE", "Rock"),
            ("DATE", "1999-03-01"),
            ("COMMENT", "line one\nline two"),
            ("BARCODE", "012345678905"),
            ("CATALOGNUMBER", "ABC 123"),
            ("COMPOSER", "Writer"),
            ("ISRC", "us-abc-99-00001"),
        ]);
        let t2 = tagged(&[("TITLE", "Two"), ("ARTIST", "Guest"), ("ISRC", "bad")]);
        let (sheet, inexact) = build_cue(
            "The Band - Say.flac",
            Format::Flac,
            44100,
            &[&t1, &t2],
            &[0, 588 * 100],
        )
        .unwrap();
        assert!(inexact.is_empty());
        let text = sheet.to_string();
        let back = CueSheet::parse(&text).unwrap();
        assert_eq!(back, sheet);
        assert_eq!(back.text.title.as_deref(), Some("Say \"Hi\""));
        assert_eq!(back.text.performer.as_deref(), Some("The Band"));
        assert_eq!(back.catalog.as_deref(), Some("0012345678905"));
        assert_eq!(back.rem(cue::rem::GENRE), Some("Rock"));
        assert_eq!(back.rem(cue::rem::DATE), Some("1999-03-01"));
        assert_eq!(back.rem(cue::rem::COMMENT), Some("line one line two"));
        assert_eq!(back.rem("CATALOGNUMBER"), Some("ABC 123"));
        assert_eq!(back.files[0].name, "The Band - Say.flac");
        assert_eq!(back.files[0].kind, FileType::Wave);
        assert_eq!(back.tracks.len(), 2);
        assert_eq!(back.tracks[0].isrc.as_deref(), Some("USABC9900001"));
        assert_eq!(back.tracks[0].text.songwriter.as_deref(), Some("Writer"));
        assert_eq!(back.tracks[0].text.performer.as_deref(), Some("The Band"));
        assert_eq!(back.tracks[1].isrc, None);
        assert_eq!(back.tracks[1].text.performer.as_deref(), Some("Guest"));
        assert_eq!(back.tracks[1].index(1).unwrap().position, 100);
        assert!(text.contains("INDEX 01 00:01:25"), "{text}");
    }

    #[test]
    fn cue_rounds_unaligned_starts_and_refuses_tracks_under_a_frame() {
        let t = Tags::new();
        let (sheet, inexact) =
            build_cue("x.wav", Format::Wav, 44100, &[&t, &t], &[0, 1000]).unwrap();
        assert_eq!(
            inexact,
            vec![Inexact {
                track: 2,
                sample: 1000,
                frame: 2
            }]
        );
        assert_eq!(sheet.tracks[1].indexes[0].position, 2);
        // No album artist, different artists: no disc performer.
        assert_eq!(sheet.text.performer, None);
        assert!(build_cue("x.wav", Format::Wav, 44100, &[&t, &t], &[0, 100]).is_err());
        let (mp3, _) = build_cue("x.mp3", Format::Mp3, 44100, &[&t], &[0]).unwrap();
        assert_eq!(mp3.files[0].kind, FileType::Mp3);
    }

    #[test]
    fn catalog_takes_barcodes_and_thirteen_digit_numbers() {
        assert_eq!(
            catalog_of(&tagged(&[("CATALOGNUMBER", "4006381333931")])),
            (Some("4006381333931".into()), None)
        );
        assert_eq!(catalog_of(&tagged(&[("BARCODE", "123")])), (None, None));
        assert_eq!(
            catalog_of(&tagged(&[("CATALOGNUMBER", "CD-1")])),
            (None, Some("CD-1".into()))
        );
    }

    #[test]
    fn image_tags_are_album_level() {
        let first = tagged(&[
            ("TITLE", "One"),
            ("ARTIST", "A"),
            ("ALBUM", "Alb"),
            ("TRACKNUMBER", "1"),
            ("ISRC", "USABC9900001"),
            ("LABEL", "Lbl"),
            ("REPLAYGAIN_TRACK_GAIN", "-3.00 dB"),
        ]);
        let second = tagged(&[("ARTIST", "A"), ("TITLE", "Two")]);
        let t = image_tags(&first, &[&first, &second]);
        assert_eq!(t.get(&TagKey::Album), Some("Alb"));
        assert_eq!(t.get(&TagKey::Artist), Some("A"));
        assert_eq!(t.get(&TagKey::Other("LABEL".into())), Some("Lbl"));
        assert_eq!(t.get(&TagKey::Title), None);
        assert_eq!(t.get(&TagKey::TrackNumber), None);
        assert_eq!(t.get(&TagKey::Isrc), None);
        assert_eq!(t.get(&TagKey::ReplayGainTrackGain), None);
        let other = tagged(&[("ARTIST", "B")]);
        assert_eq!(
            image_tags(&first, &[&first, &other]).get(&TagKey::Artist),
            None
        );
    }

    #[test]
    fn cancelling_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("in");
        std::fs::create_dir_all(&d).unwrap();
        for name in ["1.wav", "2.wav"] {
            aj_testkit::write_wav(
                &d.join(name),
                &aj_testkit::noise(44100, 2, 16, 3),
                2,
                44100,
                16,
            );
        }
        let out = dir.path().join("out/deeper");
        let mut spec = ConvertSpec::new(vec![d.clone()], Format::Flac);
        spec.output_dir = Some(out.clone());
        spec.join = Some(JoinOptions::default());
        spec.delete_source = true;
        let cancel = CancelToken::new();
        let events = Mutex::new(Vec::new());
        let summary = run(&spec, &cancel, &|e| {
            if matches!(e, Event::TrackStarted { track: 2, .. }) {
                cancel.cancel();
            }
            events.lock().unwrap().push(e);
        });
        assert!(summary.cancelled);
        assert_eq!((summary.ok, summary.failed, summary.skipped), (0, 0, 1));
        // Neither the image, its temporary file, the sheet nor the folders.
        assert!(!dir.path().join("out").exists());
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 2);
        assert!(matches!(
            events.lock().unwrap().last(),
            Some(Event::Summary(_))
        ));
    }

    #[test]
    fn plan_orders_names_and_checks_shapes() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("My Album");
        std::fs::create_dir_all(&d).unwrap();
        for (name, rate) in [("10.wav", 44100), ("2.wav", 44100), ("1.wav", 44100)] {
            aj_testkit::write_wav(
                &d.join(name),
                &aj_testkit::noise(600, 2, 16, 1),
                2,
                rate,
                16,
            );
        }
        std::fs::write(d.join("notes.txt"), b"x").unwrap();
        let mut spec = ConvertSpec::new(vec![d.clone()], Format::Flac);
        spec.join = Some(JoinOptions::default());
        let p = plan(&spec, &CancelToken::new()).unwrap();
        let names: Vec<_> = p
            .tracks
            .iter()
            .map(|t| t.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["1.wav", "2.wav", "10.wav"]);
        // No tags: the folder's name, in the folder.
        assert_eq!(p.output, d.join("My Album.flac"));
        assert_eq!(p.cue, d.join("My Album.cue"));
        assert_eq!(p.target, AudioSpec::int(44100, 2, 16));
        assert!(matches!(p.order, JoinOrder::Given(_)));

        aj_testkit::write_wav(
            &d.join("3.wav"),
            &aj_testkit::noise(600, 2, 16, 1),
            2,
            48000,
            16,
        );
        let e = plan(&spec, &CancelToken::new()).unwrap_err();
        assert!(
            matches!(&e, JoinError::Mismatch { path, problem } if path.ends_with("3.wav") && problem.contains("48000 Hz")),
            "{e}"
        );
        spec.dsp.rate = Some(44100);
        assert!(plan(&spec, &CancelToken::new()).is_ok());

        spec.inputs = vec![d.join("1.wav"), d.join("gone.wav")];
        let e = plan(&spec, &CancelToken::new()).unwrap_err();
        assert!(e.to_string().contains("gone.wav"), "{e}");
    }
}
