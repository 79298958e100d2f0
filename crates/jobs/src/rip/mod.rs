//! The rip job: a disc read securely, verified against AccurateRip and CTDB,
//! written one file per track (or one image) through the converter's sinks,
//! with a cue sheet and a sealed log.
//!
//! Pipeline: drive (virtual or SG_IO) → [`aj_cd::rip::SecureReader`] (secure
//! reads, offset correction) → checksums (CRC32, AccurateRip v1/v2, CTDB) and
//! per track a [`FileSink`](aj_codec::sink::FileSink) (encoder, tags,
//! verification, atomic rename). Metadata comes from MusicBrainz, GnuDB or
//! CD-TEXT; AccurateRip and CTDB answers decide what "accurate" means.

use std::path::PathBuf;

use aj_codec::encode::EncoderOptions;
use aj_codec::Format;
use serde::{Deserialize, Serialize};

pub mod job;
pub mod layout;
pub mod log;
pub mod meta;
pub mod offset;
pub mod report;

pub use job::{run, RipContext};

/// The AccurateRip disc identity as logs show it: `id1-id2-cddb`.
pub fn ar_disc_id(ids: &aj_cd::id::DiscIds) -> String {
    let a = &ids.accuraterip;
    format!("{}-{}-{}", a.id1, a.id2, a.cddb)
}

/// Where the gaps between tracks (INDEX 00 to INDEX 01) go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gaps {
    /// At the end of the previous track's file (EAC's default).
    #[default]
    Append,
    /// At the start of their own track's file.
    Prepend,
    /// Not written (read all the same: AccurateRip covers them).
    Discard,
}

impl std::str::FromStr for Gaps {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "append" => Ok(Gaps::Append),
            "prepend" => Ok(Gaps::Prepend),
            "discard" => Ok(Gaps::Discard),
            _ => Err(format!(
                "unknown gap handling \"{s}\" (append, prepend or discard)"
            )),
        }
    }
}

/// Rip a disc.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RipSpec {
    /// The drive: `/dev/srN`, `image:PATH[,options]`, `demo[,options]`;
    /// `None`: the first drive found.
    #[serde(default)]
    pub drive: Option<String>,
    /// Where the tracks, cue sheet and log go (created if missing).
    pub output_dir: PathBuf,
    #[serde(default = "flac")]
    pub format: Format,
    #[serde(default)]
    pub encoder: EncoderOptions,
    /// `secure`, `burst` or `test-and-copy`.
    #[serde(default)]
    pub mode: aj_cd::rip::Mode,
    /// Re-reads of a sector that reads differently before giving up on it.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// The drive's read offset in samples; `None`: the value remembered for
    /// the drive in the configuration, else 0 (with a warning).
    #[serde(default)]
    pub offset: Option<i32>,
    #[serde(default)]
    pub gaps: Gaps,
    /// One file for the whole disc and its cue sheet, instead of one per track.
    #[serde(default)]
    pub image: bool,
    /// Undo pre-emphasis on tracks flagged with it (the samples change: the
    /// output is no longer the disc's bits, and AccurateRip checks the bits read).
    #[serde(default)]
    pub deemphasize: bool,
    /// The MusicBrainz release to tag with (one of the disc's releases).
    #[serde(default)]
    pub release: Option<String>,
    /// Carry on with an interrupted rip in the same folder: finished tracks
    /// are kept, the first unfinished one is read again.
    #[serde(default)]
    pub resume: bool,
    /// Do not ask any online service.
    #[serde(default)]
    pub offline: bool,
    /// Decode lossless outputs again and compare (default on).
    #[serde(default = "yes")]
    pub verify: bool,
    /// Reading speed in kB/s (176 = 1×); `None`: the drive's maximum.
    #[serde(default)]
    pub speed_kbs: Option<u16>,
    /// A naming template for the track files (as `aj convert --name`), below
    /// the output folder; `None`: `NN - Title`. The cue sheet and log go in
    /// the folder of the first track.
    #[serde(default)]
    pub name: Option<String>,
    /// Characters replaced in names made by the template.
    #[serde(default)]
    pub safe_names: crate::naming::SafeNames,
}

fn flac() -> Format {
    Format::Flac
}
fn yes() -> bool {
    true
}
fn default_retries() -> u32 {
    20
}

impl RipSpec {
    /// A spec with the defaults of `aj rip`.
    pub fn new(drive: Option<String>, output_dir: PathBuf) -> RipSpec {
        RipSpec {
            drive,
            output_dir,
            format: Format::Flac,
            encoder: EncoderOptions::default(),
            mode: aj_cd::rip::Mode::default(),
            retries: default_retries(),
            offset: None,
            gaps: Gaps::Append,
            image: false,
            deemphasize: false,
            release: None,
            resume: false,
            offline: false,
            verify: true,
            speed_kbs: None,
            name: None,
            safe_names: crate::naming::SafeNames::default(),
        }
    }
}

/// How a track compares with the AccurateRip database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArStatus {
    /// A record of the database has this track's CRC.
    Match,
    /// The disc is in the database, this track's CRC is not.
    Mismatch,
    /// The disc is not in the database.
    NotFound,
    /// The database could not be asked (offline, or `--offline`).
    Offline,
}

/// A track's AccurateRip result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArResult {
    pub status: ArStatus,
    /// Submissions agreeing with this rip (0 unless it matched).
    pub confidence: u32,
    /// Which checksum matched (1 or 2), when one did.
    pub version: Option<u8>,
}

/// A stretch of a track that never read consistently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suspicious {
    /// Frames from the start of the track's file (or of the track, in an image).
    pub start_frame: u64,
    pub end_frame: u64,
    /// `m:ss.mmm`, as shown in the log.
    pub start: String,
    pub end: String,
}

/// What [`crate::Event::TrackDone`] carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackDone {
    pub index: usize,
    /// 0 for hidden track one audio.
    pub track: u8,
    /// The file holding the track (the image, with `--image`).
    #[serde(default)]
    pub file: Option<PathBuf>,
    pub frames: u64,
    /// CRC32 of the copy, 8 uppercase hex digits.
    pub crc32: String,
    /// CRC32 of the test pass (test-and-copy mode).
    pub test_crc32: Option<String>,
    /// AccurateRip checksums (the track's own range, whatever the gaps);
    /// `None` for hidden track one audio, which AccurateRip does not cover.
    pub ar_v1: Option<String>,
    pub ar_v2: Option<String>,
    pub accuraterip: ArResult,
    /// Peak level, 0–100 %.
    pub peak: f64,
    pub rereads: u64,
    pub suspicious: Vec<Suspicious>,
    /// The output was decoded again and compared.
    pub verified: bool,
}

/// A release the disc belongs to, as listed by the metadata service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseChoice {
    pub id: String,
    pub title: String,
    pub artist: String,
    pub date: Option<String>,
    pub country: Option<String>,
    pub chosen: bool,
}

/// What [`crate::Event::RipStarted`] carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RipStarted {
    pub drive: String,
    /// The audio tracks to rip (0: hidden track one audio).
    pub tracks: Vec<u8>,
    pub musicbrainz_id: Option<String>,
    pub accuraterip_id: Option<String>,
    pub ctdb_id: Option<String>,
    pub cddb_id: String,
    pub artist: String,
    pub album: String,
    /// Where the names came from: `musicbrainz`, `gnudb`, `cd-text` or `none`.
    pub metadata: String,
    pub releases: Vec<ReleaseChoice>,
    pub offset: i32,
    pub mode: String,
    #[serde(with = "crate::engine::lossy_path")]
    pub output_dir: PathBuf,
}

/// CTDB's verdict on the whole disc.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CtdbStatus {
    Match,
    Mismatch,
    NotFound,
    #[default]
    Offline,
    /// Not every track was read in this run (`--resume`), or a track failed.
    NotChecked,
}

/// How a rip's tracks were verified ([`crate::Summary`] of a rip).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RipTotals {
    /// Tracks AccurateRip found accurate.
    pub accurate: usize,
    /// Tracks the database knows with other checksums, or with suspicious
    /// sectors.
    pub inaccurate: usize,
    /// Tracks that could not be checked (not in the database, offline).
    pub unverified: usize,
    pub ctdb: CtdbStatus,
    pub ctdb_confidence: u32,
}
