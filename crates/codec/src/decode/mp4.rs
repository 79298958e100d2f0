//! Gapless information of MP4 audio, which symphonia's MP4 reader does not
//! apply: encoder priming at the start and padding at the end.
//!
//! Two sources, read from the `moov` box only (ISO/IEC 14496-12):
//! - the iTunes `iTunSMPB` comment (`moov/udta/meta/ilst/----`): hex fields
//!   ` 00000000 PRIMING PADDING LENGTH …`, in samples;
//! - the edit list (`moov/trak/edts/elst`, §8.6.6): one edit whose
//!   `media_time` skips the priming and whose `segment_duration` (in the
//!   movie timescale) is the real length. ffmpeg writes this one.
//!
//! Only a simple edit list (optional leading empty edits, then one edit at
//! normal rate) is understood; anything else leaves the stream untrimmed.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

/// The largest `moov` box read into memory; a moov holds the sample tables,
/// a few megabytes for hours of audio.
const MAX_MOOV: u64 = 64 << 20;
/// Top-level boxes looked at before giving up on finding `moov`.
const MAX_TOP_BOXES: u32 = 4096;
/// `media_time` of an empty edit (ISO/IEC 14496-12 §8.6.6.3).
const EMPTY_EDIT: i64 = -1;

/// What to keep of a track's decoded samples, in the track's media
/// timescale (`mdhd`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Edit {
    /// Units to drop at the start (encoder priming).
    pub skip: u64,
    /// Units to keep after that.
    pub length: u64,
    /// Units per second (`mdhd` timescale).
    pub timescale: u32,
}

impl Edit {
    /// `(skip, length)` in frames at `rate`.
    pub(crate) fn frames(&self, rate: u32) -> (u64, u64) {
        let conv = |u: u64| {
            let ts = u128::from(self.timescale.max(1));
            u64::try_from((u128::from(u) * u128::from(rate) + ts / 2) / ts).unwrap_or(u64::MAX)
        };
        (conv(self.skip), conv(self.length))
    }
}

/// The gapless edit of track `track_id` (its `tkhd` id), if the file states one.
pub(crate) fn read_edit(f: &mut File, track_id: u32) -> Option<Edit> {
    let moov = read_moov(f)?;
    edit_of(&moov, track_id)
}

/// The body of the top-level `moov` box.
fn read_moov(f: &mut File) -> Option<Vec<u8>> {
    let len = f.metadata().ok()?.len();
    let mut pos = 0u64;
    for _ in 0..MAX_TOP_BOXES {
        if pos.checked_add(8)? > len {
            return None;
        }
        f.seek(SeekFrom::Start(pos)).ok()?;
        let mut h = [0u8; 16];
        f.read_exact(&mut h[..8]).ok()?;
        let size32 = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
        let (size, header) = match size32 {
            0 => (len - pos, 8),
            1 => {
                f.read_exact(&mut h[8..16]).ok()?;
                (u64::from_be_bytes(h[8..16].try_into().ok()?), 16)
            }
            s => (u64::from(s), 8),
        };
        if size < header {
            return None;
        }
        if &h[4..8] == b"moov" {
            let body = size - header;
            if body > MAX_MOOV || pos + size > len {
                return None;
            }
            let mut v = vec![0u8; usize::try_from(body).ok()?];
            f.read_exact(&mut v).ok()?;
            return Some(v);
        }
        pos = pos.checked_add(size)?;
    }
    None
}

/// The child boxes of a box body: `(type, body)`.
fn boxes(mut d: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    std::iter::from_fn(move || {
        let size32 = u32::from_be_bytes(d.get(0..4)?.try_into().ok()?);
        let kind = d.get(4..8)?;
        let (size, header) = match size32 {
            0 => (d.len(), 8),
            1 => (
                usize::try_from(u64::from_be_bytes(d.get(8..16)?.try_into().ok()?)).ok()?,
                16,
            ),
            s => (usize::try_from(s).ok()?, 8),
        };
        let body = d.get(header..size)?;
        let item = (kind, body);
        d = d.get(size..)?;
        Some(item)
    })
}

fn child<'a>(d: &'a [u8], kind: &[u8]) -> Option<&'a [u8]> {
    boxes(d).find(|(k, _)| *k == kind).map(|(_, b)| b)
}

fn be32(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(d.get(at..at + 4)?.try_into().ok()?))
}

fn be64(d: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(d.get(at..at + 8)?.try_into().ok()?))
}

/// Timescale and duration of an `mvhd` or `mdhd` body (§8.2.2, §8.4.2).
fn timescale_duration(d: &[u8]) -> Option<(u32, u64)> {
    match d.first()? {
        0 => Some((be32(d, 12)?, u64::from(be32(d, 16)?))),
        1 => Some((be32(d, 20)?, be64(d, 24)?)),
        _ => None,
    }
}

fn edit_of(moov: &[u8], track_id: u32) -> Option<Edit> {
    let (movie_ts, _) = timescale_duration(child(moov, b"mvhd")?)?;
    let trak = boxes(moov)
        .filter(|(k, _)| *k == b"trak")
        .find_map(|(_, t)| {
            let tkhd = child(t, b"tkhd")?;
            let id = match tkhd.first()? {
                0 => be32(tkhd, 12)?,
                1 => be32(tkhd, 20)?,
                _ => return None,
            };
            (id == track_id).then_some(t)
        })?;
    let mdia = child(trak, b"mdia")?;
    let (media_ts, media_dur) = timescale_duration(child(mdia, b"mdhd")?)?;
    if media_ts == 0 {
        return None;
    }
    if let Some(e) = itunsmpb(moov).and_then(|s| parse_itunsmpb(&s)) {
        return Some(Edit {
            timescale: media_ts,
            ..e
        });
    }
    let elst = child(child(trak, b"edts")?, b"elst")?;
    let (seg, media_time) = single_edit(elst)?;
    let skip = u64::try_from(media_time).ok()?;
    let rest = media_dur.checked_sub(skip)?;
    let length = if seg == 0 || movie_ts == 0 {
        // A zero duration: the edit runs to the end of the media.
        rest
    } else {
        let seg_media = u128::from(seg) * u128::from(media_ts) / u128::from(movie_ts);
        let seg_media = u64::try_from(seg_media).ok()?;
        // The movie timescale is often coarse (ffmpeg: 1/1000 s), so the
        // segment duration is rounded; when the media duration after the
        // skip agrees with it to within one movie tick, that is the exact
        // length (ffmpeg writes the real duration of the last packet).
        let tick = u64::from(media_ts / movie_ts) + 1;
        if rest.abs_diff(seg_media) <= tick {
            rest
        } else {
            seg_media.min(rest)
        }
    };
    Some(Edit {
        skip,
        length,
        timescale: media_ts,
    })
}

/// `(segment_duration, media_time)` of the one real edit of an `elst` body,
/// after any leading empty edits; `None` for anything more complex.
fn single_edit(elst: &[u8]) -> Option<(u64, i64)> {
    let version = *elst.first()?;
    let count = usize::try_from(be32(elst, 4)?).ok()?;
    let entry = if version == 1 { 20 } else { 12 };
    let mut found = None;
    for i in 0..count {
        let at = 8usize.checked_add(i.checked_mul(entry)?)?;
        let (seg, time, rate) = if version == 1 {
            (
                be64(elst, at)?,
                be64(elst, at + 8)? as i64,
                be32(elst, at + 16)?,
            )
        } else {
            (
                u64::from(be32(elst, at)?),
                i64::from(be32(elst, at + 4)? as i32),
                be32(elst, at + 8)?,
            )
        };
        if time == EMPTY_EDIT {
            if found.is_some() {
                return None;
            }
            continue;
        }
        // media_rate 1.0 in 16.16 fixed point (§8.6.6.3).
        if found.is_some() || rate >> 16 != 1 || time < 0 {
            return None;
        }
        found = Some((seg, time));
    }
    found
}

/// The value of the `iTunSMPB` free-form item, if any.
fn itunsmpb(moov: &[u8]) -> Option<String> {
    let meta = child(child(moov, b"udta")?, b"meta")?;
    // `meta` is a full box in MP4 (4 bytes of version and flags) but a
    // plain one in QuickTime files.
    let meta = if meta.get(4..8) == Some(b"hdlr") {
        meta
    } else {
        meta.get(4..)?
    };
    let ilst = child(meta, b"ilst")?;
    boxes(ilst)
        .filter(|(k, _)| *k == b"----")
        .find_map(|(_, item)| {
            let name = child(item, b"name")?.get(4..)?;
            if name != b"iTunSMPB" {
                return None;
            }
            // data: type(4) locale(4) value.
            let data = child(item, b"data")?.get(8..)?;
            Some(String::from_utf8_lossy(data).into_owned())
        })
}

/// Parses ` 00000000 PRIMING PADDING LENGTH …` (hex). The timescale is
/// filled in by the caller.
fn parse_itunsmpb(s: &str) -> Option<Edit> {
    let mut f = s.split_whitespace();
    let _zero = f.next()?;
    let priming = u64::from_str_radix(f.next()?, 16).ok()?;
    let _padding = u64::from_str_radix(f.next()?, 16).ok()?;
    let length = u64::from_str_radix(f.next()?, 16).ok()?;
    (length > 0).then_some(Edit {
        skip: priming,
        length,
        timescale: 0,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn bx(kind: &[u8], body: &[u8]) -> Vec<u8> {
        let mut v = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(body);
        v
    }

    fn hd(ts: u32, dur: u32) -> Vec<u8> {
        let mut v = vec![0u8; 12];
        v.extend_from_slice(&ts.to_be_bytes());
        v.extend_from_slice(&dur.to_be_bytes());
        v
    }

    fn moov(elst: &[(u32, i32)], media_dur: u32, udta: Option<Vec<u8>>) -> Vec<u8> {
        let mut tkhd = vec![0u8; 12];
        tkhd.extend_from_slice(&1u32.to_be_bytes());
        let mut el = vec![0u8, 0, 0, 0];
        el.extend_from_slice(&(elst.len() as u32).to_be_bytes());
        for &(seg, time) in elst {
            el.extend_from_slice(&seg.to_be_bytes());
            el.extend_from_slice(&time.to_be_bytes());
            el.extend_from_slice(&0x0001_0000u32.to_be_bytes());
        }
        let trak = [
            bx(b"tkhd", &tkhd),
            bx(b"edts", &bx(b"elst", &el)),
            bx(b"mdia", &bx(b"mdhd", &hd(44_100, media_dur))),
        ]
        .concat();
        let mut m = [bx(b"mvhd", &hd(1000, 0)), bx(b"trak", &trak)].concat();
        if let Some(u) = udta {
            m.extend(bx(b"udta", &u));
        }
        m
    }

    #[test]
    fn ffmpeg_style_edit_list() {
        // 44877 frames: ffmpeg writes 1017 ms and media time 1024.
        let m = moov(&[(1017, 1024)], 45_901, None);
        let e = edit_of(&m, 1).unwrap();
        assert_eq!((e.skip, e.length), (1024, 44_877));
        assert_eq!(e.frames(44_100), (1024, 44_877));
        assert_eq!(e.frames(22_050), (512, 22_439));
        assert!(edit_of(&m, 2).is_none(), "another track");
        // A leading empty edit is ignored; two real edits are not understood.
        let e = edit_of(&moov(&[(5, -1), (1017, 1024)], 45_901, None), 1).unwrap();
        assert_eq!(e.skip, 1024);
        assert!(edit_of(&moov(&[(500, 0), (500, 30_000)], 45_901, None), 1).is_none());
        // A segment much shorter than the media: the segment counts.
        let e = edit_of(&moov(&[(500, 1024)], 45_901, None), 1).unwrap();
        assert_eq!(e.length, 22_050);
    }

    #[test]
    fn itunsmpb_wins_over_the_edit_list() {
        let mut data = vec![0u8; 8];
        data.extend_from_slice(b" 00000000 00000840 000001CA 000000000000AF4D 00000000");
        let mut name = vec![0u8; 4];
        name.extend_from_slice(b"iTunSMPB");
        let item = [
            bx(b"mean", b"\0\0\0\0com.apple.iTunes"),
            bx(b"name", &name),
            bx(b"data", &data),
        ]
        .concat();
        let meta = [vec![0u8; 4], bx(b"ilst", &bx(b"----", &item))].concat();
        let m = moov(&[(1017, 1024)], 47_000, Some(bx(b"meta", &meta)));
        let e = edit_of(&m, 1).unwrap();
        assert_eq!((e.skip, e.length, e.timescale), (2112, 0xAF4D, 44_100));
        assert!(parse_itunsmpb("junk").is_none());
    }
}
