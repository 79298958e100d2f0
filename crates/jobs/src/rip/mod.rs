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

pub mod cache;
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
    /// The tracks to rip (0: hidden track one audio); empty: every track.
    /// AccurateRip still checks each one; the cue sheet and the log list
    /// the tracks finished in the folder.
    #[serde(default)]
    pub tracks: Vec<u8>,
    /// Use the drive's C2 error pointers when it has them (default on).
    #[serde(default = "yes")]
    pub use_c2: bool,
    /// Write ReplayGain 2.0 tags (`R128_*` in Opus): each file's track
    /// gain, and the album gain over the disc when every track was ripped
    /// in this run (an image: its own values as both).
    #[serde(default)]
    pub replaygain: bool,
    /// The drive's cache in sectors (0: none), used as given; `None`: the
    /// size remembered for the drive in the configuration, else the one it
    /// reports, measured when it reports none.
    #[serde(default)]
    pub cache_sectors: Option<u32>,
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
            tracks: Vec::new(),
            use_c2: true,
            replaygain: false,
            cache_sectors: None,
        }
    }
}

/// Parses a track list as `--tracks` takes it: numbers and ranges
/// separated by commas (`1-3,5`; `0` is hidden track one audio). The
/// result is sorted, without repeats.
///
/// # Errors
/// A part that is not a number from 0 to 99 or a range of two such
/// numbers in order, named in the message.
pub fn parse_track_list(s: &str) -> Result<Vec<u8>, String> {
    let mut out = std::collections::BTreeSet::new();
    let num = |p: &str| -> Result<u8, String> {
        p.trim()
            .parse::<u8>()
            .ok()
            // Red Book: track numbers run from 1 to 99.
            .filter(|&n| n <= 99)
            .ok_or_else(|| format!("\"{}\" is not a track number from 0 to 99", p.trim()))
    };
    for part in s.split(',') {
        if part.trim().is_empty() {
            return Err(format!("\"{s}\": an empty entry in the track list"));
        }
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return Err(format!("\"{}\": a range must go up ({b}-{a})", part.trim()));
                }
                out.extend(a..=b);
            }
            None => {
                out.insert(num(part)?);
            }
        }
    }
    Ok(out.into_iter().collect())
}

/// Parses a read speed as `--speed` takes it: `max`, a multiple of real
/// time (`8x`, `8×`, `8`) or kB/s (`1411k`, `1411kbs`, `1411kb/s`), into
/// the kB/s SET CD SPEED takes (`None` for `max`).
///
/// MMC-6 §6.37 (SET CD SPEED): the Logical Unit Read Speed is in kbytes/s,
/// and 1× of CD-DA is 176.4 kB/s (75 sectors of 2352 bytes a second), which
/// drives and tools round to 176.
///
/// # Errors
/// Anything else, or a speed outside 1× to 0xFFFE kB/s (0xFFFF means
/// "the maximum" in SET CD SPEED).
pub fn parse_speed(s: &str) -> Result<Option<u16>, String> {
    let t = s.trim().to_ascii_lowercase();
    if t == "max" || t == "maximum" {
        return Ok(None);
    }
    let bad = || {
        format!(
            "\"{s}\" is not a read speed: give a multiple of real time (8x), kB/s (1411k) or max"
        )
    };
    let (number, kbs) = if let Some(n) = t
        .strip_suffix("kb/s")
        .or_else(|| t.strip_suffix("kbs"))
        .or_else(|| t.strip_suffix('k'))
    {
        (n, true)
    } else {
        (
            t.strip_suffix('x')
                .or_else(|| t.strip_suffix('\u{d7}'))
                .unwrap_or(&t),
            false,
        )
    };
    let v: f64 = number.trim().parse().map_err(|_| bad())?;
    if !v.is_finite() || v <= 0.0 {
        return Err(bad());
    }
    let kb = if kbs { v } else { v * SPEED_1X_KBS };
    if !(SPEED_1X_KBS.floor()..=f64::from(u16::MAX - 1)).contains(&kb.round()) {
        return Err(format!(
            "\"{s}\" is out of range (1x to 371x, 176 to 65534 kB/s)"
        ));
    }
    Ok(Some(kb.round() as u16))
}

/// kB/s of 1× CD-DA (75 sectors × 2352 bytes per second / 1000).
pub const SPEED_1X_KBS: f64 = 176.4;

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
    /// The checksum is in the database, but the read had errors
    /// (suspicious positions, or test and copy CRCs that differ): the
    /// track is not called accurate, and counts as not accurate.
    MatchWithErrors,
    /// AccurateRip does not cover this track (hidden track one audio,
    /// before track 1's INDEX 01, is in no AccurateRip checksum).
    NotApplicable,
}

impl ArStatus {
    /// True only for a clean match: the one status that means "accurate".
    pub fn is_accurate(self) -> bool {
        self == ArStatus::Match
    }
}

/// A track's AccurateRip result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArResult {
    pub status: ArStatus,
    /// Submissions agreeing with this rip (0 unless it matched).
    pub confidence: u32,
    /// Which checksum matched (1 or 2), when one did.
    pub version: Option<u8>,
    /// Submissions the database holds for this track over all its records
    /// (the "of M" of "confidence N of M"; 0 when the disc is not known).
    #[serde(default)]
    pub total: u32,
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

impl TrackDone {
    /// The test pass and the copy pass gave different CRCs.
    pub fn test_differs(&self) -> bool {
        self.test_crc32.as_ref().is_some_and(|t| *t != self.crc32)
    }

    /// The read had errors: suspicious positions, or test and copy differ.
    /// Such a track is never called accurate.
    pub fn has_errors(&self) -> bool {
        !self.suspicious.is_empty() || self.test_differs()
    }
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
    /// Tracks the database knows with other checksums, and tracks whose
    /// read had errors (suspicious positions, test and copy differ)
    /// whatever the database says.
    pub inaccurate: usize,
    /// Tracks that could not be checked (not in the database, offline).
    pub unverified: usize,
    pub ctdb: CtdbStatus,
    pub ctdb_confidence: u32,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn track_lists() {
        assert_eq!(parse_track_list("1-3,5").unwrap(), vec![1, 2, 3, 5]);
        assert_eq!(parse_track_list(" 5, 0,2-2,5").unwrap(), vec![0, 2, 5]);
        for bad in ["", "1,", "3-1", "a", "100", "1-100", "-2"] {
            assert!(parse_track_list(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn speeds() {
        assert_eq!(parse_speed("max").unwrap(), None);
        assert_eq!(parse_speed("1x").unwrap(), Some(176));
        assert_eq!(parse_speed("8X").unwrap(), Some(1411));
        assert_eq!(parse_speed("4\u{d7}").unwrap(), Some(706));
        assert_eq!(parse_speed("24").unwrap(), Some(4234));
        assert_eq!(parse_speed("1411k").unwrap(), Some(1411));
        assert_eq!(parse_speed("2822 kb/s").unwrap(), Some(2822));
        for bad in ["", "fast", "0", "-4x", "0.5x", "100k", "400x", "nan"] {
            assert!(parse_speed(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn old_specs_still_parse_with_the_new_fields_defaulted() {
        let s: RipSpec = serde_json::from_str(r#"{"output_dir": "x"}"#).unwrap();
        assert!(s.tracks.is_empty());
        assert!(s.use_c2);
        assert_eq!(s, RipSpec::new(None, "x".into()));
        let r: ArResult =
            serde_json::from_str(r#"{"status": "match", "confidence": 3, "version": 2}"#).unwrap();
        assert_eq!(r.total, 0);
        assert_eq!(
            serde_json::to_value(ArStatus::MatchWithErrors).unwrap(),
            "match_with_errors"
        );
        assert!(ArStatus::Match.is_accurate() && !ArStatus::MatchWithErrors.is_accurate());
    }
}
