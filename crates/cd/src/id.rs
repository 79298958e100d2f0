//! Disc identities the online services key on: MusicBrainz Disc ID, freedb/CDDB ID,
//! AccurateRip IDs (and the database file's path), CUETools Database TOC ID.
//!
//! Each one treats data tracks the way its reference implementation does:
//!
//! | identity | tracks it counts | lead-out it uses |
//! |---|---|---|
//! | MusicBrainz (libdiscid `toc.c`) | first track (even a data track 1) to the last *audio* track | when a data track follows the last audio track, that track's start minus 11400 sectors; else the disc's lead-out |
//! | CDDB (freedb, EAC, cd-discid) | every track, data included | the disc's lead-out |
//! | AccurateRip (dBpoweramp, EAC; ARver ≥ 0.5) | audio tracks only, numbered 1.. in order (a mixed-mode disc's track 2 is AccurateRip's track 1) | the disc's lead-out, even on an enhanced CD; its CDDB part is the CDDB ID above |
//! | CTDB (CUETools `CDImageLayout.TOCID`) | audio tracks, relative to the first audio track's start | as MusicBrainz: start of the trailing data track minus 11400, else the lead-out |
//!
//! The `cdtoc` crate computes the same four IDs, and the tests check that we agree
//! with it on every disc it can describe. We do not call it here because its model
//! (audio tracks plus at most one data track, first or last) is narrower than
//! [`Disc`] (several data tracks, sessions), and for a mixed-mode disc it leaves the
//! data track out of the MusicBrainz ID where libdiscid — the reference — keeps it
//! (MusicBrainz expects releases to start at track 1). Its newer releases also need a
//! newer Rust than this workspace's `rust-version`.

use std::fmt;

use aj_core::units::{Lba, MSF_LBA_OFFSET, SECTORS_PER_SECOND};
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use crate::disc::{Disc, Track, MAX_TRACKS, SESSION_GAP_SECTORS};

/// Why identities could not be computed, or a TOC string could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The disc has no audio track (a data CD): no service identifies it.
    #[error("the disc has no audio tracks")]
    NoAudio,
    /// The disc model is inconsistent.
    #[error("{0}")]
    Disc(String),
    /// A libdiscid TOC string is malformed.
    #[error("bad TOC string: {0}")]
    TocString(String),
}

/// Every identity of a disc, as `aj disc id --json` and `aj disc info --json` print
/// them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscIds {
    /// MusicBrainz Disc ID (28 characters of MusicBrainz's base64).
    pub musicbrainz: String,
    /// freedb/CDDB disc ID: 8 lowercase hex digits.
    pub cddb: String,
    pub accuraterip: AccurateRipIds,
    /// CUETools Database TOC ID (28 characters, MusicBrainz's base64 alphabet).
    pub ctdb: String,
}

/// The AccurateRip identity in the string forms the database uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccurateRipIds {
    /// Disc ID 1, 8 lowercase hex digits.
    pub id1: String,
    /// Disc ID 2, 8 lowercase hex digits.
    pub id2: String,
    /// The CDDB ID part, 8 lowercase hex digits.
    pub cddb: String,
    /// The database file's path below the server's `accuraterip/` folder:
    /// `a/b/c/dBAR-NNN-XXXXXXXX-XXXXXXXX-XXXXXXXX.bin`.
    pub path: String,
}

/// The AccurateRip identity as numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AccurateRipId {
    /// Audio tracks on the disc (the `NNN` of the file name).
    pub audio_tracks: u8,
    pub id1: u32,
    pub id2: u32,
    pub cddb: u32,
}

impl AccurateRipId {
    /// The database file name, `dBAR-NNN-XXXXXXXX-XXXXXXXX-XXXXXXXX.bin`.
    pub fn file_name(&self) -> String {
        format!(
            "dBAR-{:03}-{:08x}-{:08x}-{:08x}.bin",
            self.audio_tracks, self.id1, self.id2, self.cddb
        )
    }

    /// The path of the database file: the last, second-last and third-last hex digits
    /// of id1 as folders, then [`AccurateRipId::file_name`] (as whipper and EAC request
    /// it).
    pub fn path(&self) -> String {
        let hex = format!("{:08x}", self.id1);
        let d: Vec<char> = hex.chars().rev().take(3).collect();
        let (a, b, c) = match d.as_slice() {
            [a, b, c] => (*a, *b, *c),
            _ => ('0', '0', '0'),
        };
        format!("{a}/{b}/{c}/{}", self.file_name())
    }

    fn strings(&self) -> AccurateRipIds {
        AccurateRipIds {
            id1: format!("{:08x}", self.id1),
            id2: format!("{:08x}", self.id2),
            cddb: format!("{:08x}", self.cddb),
            path: self.path(),
        }
    }
}

impl DiscIds {
    /// Computes every identity of `disc`.
    ///
    /// # Errors
    /// [`IdError::NoAudio`] for a disc without audio tracks; [`IdError::Disc`] when the
    /// disc breaks the model's invariants.
    pub fn compute(disc: &Disc) -> Result<DiscIds, IdError> {
        disc.validate().map_err(|e| IdError::Disc(e.0))?;
        Ok(DiscIds {
            musicbrainz: musicbrainz_id(disc)?,
            cddb: format!("{:08x}", cddb_id(disc)),
            accuraterip: accuraterip_id(disc)?.strings(),
            ctdb: ctdb_id(disc)?,
        })
    }
}

impl fmt::Display for DiscIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "MusicBrainz   {}", self.musicbrainz)?;
        writeln!(f, "CDDB          {}", self.cddb)?;
        writeln!(
            f,
            "AccurateRip   {}-{}-{}",
            self.accuraterip.id1, self.accuraterip.id2, self.accuraterip.cddb
        )?;
        writeln!(f, "  path        {}", self.accuraterip.path)?;
        write!(f, "CTDB          {}", self.ctdb)
    }
}

/// An address as the TOC-based IDs write it: LBA + 150 (MSF sectors from 00:00:00).
fn offset(lba: Lba) -> u32 {
    // Disc::validate keeps every address at or after LBA -150.
    u32::try_from(lba.0 + MSF_LBA_OFFSET).unwrap_or(0)
}

/// The tracks MusicBrainz counts and the lead-out it uses, as libdiscid's
/// `mb_disc_load_toc` picks them: from the first track (whatever its type) to the last
/// audio track; the lead-out is the next track's start minus 11400 sectors when a
/// track follows the last audio track, else the disc's lead-out.
fn musicbrainz_view(disc: &Disc) -> Result<(&[Track], Lba), IdError> {
    let last_audio = disc
        .tracks
        .iter()
        .rposition(Track::is_audio)
        .ok_or(IdError::NoAudio)?;
    let tracks = disc.tracks.get(..=last_audio).ok_or(IdError::NoAudio)?;
    let leadout = match disc.tracks.get(last_audio + 1) {
        Some(next) => Lba(next.start.0 - SESSION_GAP_SECTORS),
        None => disc.leadout,
    };
    Ok((tracks, leadout))
}

/// The libdiscid TOC string of a disc: `FIRST LAST LEADOUT OFFSET1 …` with offsets in
/// LBA + 150, for the tracks MusicBrainz counts (see the module table).
///
/// # Errors
/// [`IdError::NoAudio`] for a disc without audio tracks.
pub fn musicbrainz_toc_string(disc: &Disc) -> Result<String, IdError> {
    let (tracks, leadout) = musicbrainz_view(disc)?;
    let mut s = format!(
        "{} {} {}",
        tracks.first().map_or(0, |t| t.number),
        tracks.last().map_or(0, |t| t.number),
        offset(leadout)
    );
    for t in tracks {
        s.push_str(&format!(" {}", offset(t.start)));
    }
    Ok(s)
}

/// The MusicBrainz Disc ID: SHA-1 over the first and last track numbers (2 upper-case
/// hex digits each), then 100 offsets of 8 upper-case hex digits — the lead-out, tracks
/// 1..=99, 0 for missing ones — in LBA + 150, written in base64 with `.`, `_` and `-`
/// for `+`, `/` and `=` (musicbrainz.org "Disc ID Calculation").
///
/// # Errors
/// [`IdError::NoAudio`] for a disc without audio tracks.
pub fn musicbrainz_id(disc: &Disc) -> Result<String, IdError> {
    let (tracks, leadout) = musicbrainz_view(disc)?;
    let first = tracks.first().map_or(0, |t| t.number);
    let last = tracks.last().map_or(0, |t| t.number);
    let mut offsets = [0u32; 100];
    offsets[0] = offset(leadout);
    for t in tracks {
        if let Some(slot) = offsets.get_mut(usize::from(t.number)) {
            *slot = offset(t.start);
        }
    }
    let mut sha = Sha1::new();
    sha.update(format!("{first:02X}{last:02X}"));
    for o in offsets {
        sha.update(format!("{o:08X}"));
    }
    Ok(musicbrainz_base64(&sha.finalize()))
}

/// The freedb/CDDB disc ID: `(n % 255) << 24 | t << 8 | tracks`, where n sums the
/// decimal digits of each track's start in whole seconds (LBA + 150, every track, data
/// included), and t is the lead-out's second minus the first track's second (freedb
/// "CDDB1 disc ID"; what cd-discid and EAC compute).
pub fn cddb_id(disc: &Disc) -> u32 {
    fn digit_sum(mut n: u32) -> u32 {
        let mut s = 0;
        while n > 0 {
            s += n % 10;
            n /= 10;
        }
        s
    }
    let seconds = |lba: Lba| offset(lba) / SECTORS_PER_SECOND as u32;
    let n: u32 = disc
        .tracks
        .iter()
        .map(|t| digit_sum(seconds(t.start)))
        .sum();
    let first = disc.tracks.first().map_or(0, |t| seconds(t.start));
    let t = seconds(disc.leadout).saturating_sub(first);
    let count = u32::try_from(disc.tracks.len()).unwrap_or(0) & 0xff;
    (n % 255) << 24 | (t & 0xffff) << 8 | count
}

/// The AccurateRip identity. id1 sums the audio tracks' LBAs and the lead-out's LBA;
/// id2 sums each audio track's LBA (1 for LBA 0) times its position among the audio
/// tracks (1..), plus the lead-out's LBA times (audio tracks + 1). The lead-out is the
/// disc's, also on an enhanced CD (as dBpoweramp and EAC compute it); the CDDB part
/// is [`cddb_id`].
///
/// # Errors
/// [`IdError::NoAudio`] for a disc without audio tracks.
pub fn accuraterip_id(disc: &Disc) -> Result<AccurateRipId, IdError> {
    let audio: Vec<&Track> = disc.audio_tracks().collect();
    if audio.is_empty() {
        return Err(IdError::NoAudio);
    }
    // LBAs of audio tracks are not negative on a valid disc; wrapping keeps the
    // arithmetic the reference's 32-bit unsigned arithmetic.
    let lba = |l: Lba| l.0.max(0) as u32;
    let mut id1 = 0u32;
    let mut id2 = 0u32;
    for (i, t) in audio.iter().enumerate() {
        let position = i as u32 + 1;
        id1 = id1.wrapping_add(lba(t.start));
        id2 = id2.wrapping_add(lba(t.start).max(1).wrapping_mul(position));
    }
    let leadout = lba(disc.leadout);
    let count = audio.len() as u32;
    id1 = id1.wrapping_add(leadout);
    id2 = id2.wrapping_add(leadout.max(1).wrapping_mul(count + 1));
    Ok(AccurateRipId {
        audio_tracks: u8::try_from(audio.len()).unwrap_or(MAX_TRACKS),
        id1,
        id2,
        cddb: cddb_id(disc),
    })
}

/// The CUETools Database TOC ID: SHA-1 over 100 entries of 8 upper-case hex digits —
/// the starts of audio tracks 2.. and the audio lead-out, each relative to the first
/// audio track's start, then zeros — in MusicBrainz's base64 (CUETools
/// `CDImageLayout.TOCID`).
///
/// # Errors
/// [`IdError::NoAudio`] for a disc without audio tracks.
pub fn ctdb_id(disc: &Disc) -> Result<String, IdError> {
    let audio: Vec<&Track> = disc.audio_tracks().collect();
    let first = audio.first().ok_or(IdError::NoAudio)?.start;
    let (_, leadout) = musicbrainz_view(disc)?;
    let rel = |l: Lba| (l.0 - first.0).max(0) as u32;
    let mut entries = [0u32; 100];
    for (slot, t) in entries.iter_mut().zip(audio.iter().skip(1)) {
        *slot = rel(t.start);
    }
    if let Some(slot) = entries.get_mut(audio.len() - 1) {
        *slot = rel(leadout);
    }
    let mut sha = Sha1::new();
    for e in entries {
        sha.update(format!("{e:08X}"));
    }
    Ok(musicbrainz_base64(&sha.finalize()))
}

/// Base64 (RFC 4648 alphabet) with `+`, `/`, `=` written as `.`, `_`, `-`, as
/// MusicBrainz and CUETools write their IDs.
fn musicbrainz_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._";
    let sym = |i: u32| char::from(ALPHABET[(i & 63) as usize]);
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = b(0) << 16 | b(1) << 8 | b(2);
        out.push(sym(n >> 18));
        out.push(sym(n >> 12));
        out.push(if chunk.len() > 1 { sym(n >> 6) } else { '-' });
        out.push(if chunk.len() > 2 { sym(n) } else { '-' });
    }
    out
}

/// Reads a libdiscid TOC string, `FIRST LAST LEADOUT OFFSET1 … OFFSETn` (offsets in
/// LBA + 150, one per track FIRST..=LAST; what `discid_put` takes and MusicBrainz's
/// `toc=` parameter carries, with spaces or `+` between numbers), as an audio-only
/// single-session disc. Such a string says nothing about data tracks: an enhanced CD's
/// string already ends at its audio lead-out, so the IDs computed from it are the ones
/// libdiscid computes.
///
/// # Errors
/// [`IdError::TocString`] naming what is wrong.
pub fn parse_toc_string(text: &str) -> Result<Disc, IdError> {
    let bad = |m: String| IdError::TocString(m);
    let numbers: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == '+')
        .filter(|s| !s.is_empty())
        .collect();
    let mut values = Vec::with_capacity(numbers.len());
    for n in &numbers {
        let v: u32 = n
            .parse()
            .map_err(|_| bad(format!("{n:?} is not a whole number")))?;
        values.push(v);
    }
    let [first, last, leadout, offsets @ ..] = values.as_slice() else {
        return Err(bad(
            "expected \"FIRST LAST LEADOUT OFFSET1 ...\" (at least 4 numbers)".into(),
        ));
    };
    let max = u32::from(MAX_TRACKS);
    if !(1..=max).contains(first) {
        return Err(bad(format!("first track {first} is outside 1..=99")));
    }
    if !(*first..=max).contains(last) {
        return Err(bad(format!(
            "last track {last} is outside {first}..=99 (it must not be below the first)"
        )));
    }
    let count = (last - first + 1) as usize;
    if offsets.len() != count {
        return Err(bad(format!(
            "tracks {first} to {last} need {count} offsets, found {}",
            offsets.len()
        )));
    }
    let to_lba = |v: u32, what: &str| -> Result<Lba, IdError> {
        if v < MSF_LBA_OFFSET as u32 {
            return Err(bad(format!(
                "{what} offset {v} is below 150 (offsets count the 2-second lead-in)"
            )));
        }
        i32::try_from(v - MSF_LBA_OFFSET as u32)
            .ok()
            .filter(|&l| l < 100 * 60 * SECTORS_PER_SECOND)
            .map(Lba)
            .ok_or_else(|| bad(format!("{what} offset {v} is past the end of any CD")))
    };
    let leadout = to_lba(*leadout, "lead-out")?;
    let mut tracks = Vec::with_capacity(count);
    let mut prev: Option<Lba> = None;
    for (i, &v) in offsets.iter().enumerate() {
        let number = *first as u8 + i as u8;
        let start = to_lba(v, &format!("track {number}'s"))?;
        if prev.is_some_and(|p| start <= p) {
            return Err(bad(format!(
                "track {number}'s offset {v} does not come after the previous track's"
            )));
        }
        prev = Some(start);
        tracks.push(Track::audio(number, start));
    }
    if prev.is_some_and(|p| leadout <= p) {
        return Err(bad(format!(
            "the lead-out offset {} does not come after the last track's",
            offset(leadout)
        )));
    }
    let disc = Disc {
        tracks,
        sessions: vec![crate::disc::Session { number: 1, leadout }],
        leadout,
        mcn: None,
        cdtext: None,
    };
    disc.validate().map_err(|e| bad(e.0))?;
    Ok(disc)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn base64_matches_rfc4648_with_musicbrainz_symbols() {
        // RFC 4648 §10 test vectors, with '=' written as '-'.
        assert_eq!(musicbrainz_base64(b""), "");
        assert_eq!(musicbrainz_base64(b"f"), "Zg--");
        assert_eq!(musicbrainz_base64(b"fo"), "Zm8-");
        assert_eq!(musicbrainz_base64(b"foo"), "Zm9v");
        assert_eq!(musicbrainz_base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(musicbrainz_base64(&[0xfb, 0xff]), "._8-");
    }

    #[test]
    fn accuraterip_path_uses_the_last_three_digits_reversed() {
        let id = AccurateRipId {
            audio_tracks: 12,
            id1: 0x0013_bd5a,
            id2: 0x00b8_d489,
            cddb: 0xc60a_f50d,
        };
        assert_eq!(id.path(), "a/5/d/dBAR-012-0013bd5a-00b8d489-c60af50d.bin");
    }

    #[test]
    fn toc_string_errors_are_specific() {
        let e = |s: &str| parse_toc_string(s).unwrap_err().to_string();
        assert!(e("").contains("at least 4"));
        assert!(e("1 2 300 150").contains("need 2 offsets"));
        assert!(e("1 x 300 150").contains("\"x\" is not a whole number"));
        assert!(e("0 1 300 150").contains("first track 0"));
        assert!(e("2 1 300 150").contains("last track 1"));
        assert!(e("1 2 300 150 150").contains("does not come after"));
        assert!(e("1 1 150 150").contains("lead-out"));
        assert!(e("1 1 300 10").contains("below 150"));
        assert!(parse_toc_string("1+1+300+150").is_ok());
    }

    #[test]
    fn no_audio_no_ids() {
        let mut d = parse_toc_string("1 1 3000 150").unwrap();
        d.tracks[0].control.data = true;
        assert_eq!(DiscIds::compute(&d), Err(IdError::NoAudio));
    }
}
