//! Checksums over CD-DA audio: what a rip is verified with.
//!
//! Every accumulator here is streaming: feed it a track's (or the disc's) audio
//! in chunks of any size, in order, and ask for the result at the end. Memory
//! does not depend on the length of the audio.
//!
//! Audio is fed as stereo *frames*, one `u32` per frame as the disc carries it:
//! `(right as u16) << 16 | (left as u16)` — the 4 little-endian bytes of a
//! CD-DA frame (left sample first) read as one little-endian `u32`.
//! [`pack_frame`] builds one; every accumulator also takes raw little-endian
//! bytes (`update_le_bytes`, which may split a frame between calls).
//!
//! # What is computed, and where the rules come from
//!
//! - [`Crc32`]: EAC's "Copy CRC", CRC-32/ISO-HDLC (the zlib/PNG CRC) of the
//!   track's little-endian bytes, and EAC's "CRC without null samples", the same
//!   CRC over only the 16-bit samples that are not zero (CUETools
//!   `AccurateRipVerify.CalculateCRCs`, `crcwn`, which reproduces EAC's value).
//! - [`AccurateRip`]: the AccurateRip track checksums v1 and v2. With frames
//!   numbered k = 1.. within the track and s the frame's `u32`:
//!   v1 = Σ k·s mod 2³², v2 = Σ (low 32 bits + high 32 bits of the 64-bit
//!   product k·s) mod 2³². Only frames with `from <= k <= to` count: `from` is
//!   5×588 = 2940 on the disc's first audio track (so its first 2939 frames are
//!   skipped) and 0 elsewhere; `to` is the track's length minus 2940 on the last
//!   audio track (its last 2940 frames are skipped) and the length elsewhere.
//!   Sources: the reference code published by the AccurateRip author that
//!   whipper's `accuraterip-checksum.c` (Leo Bogert) carries
//!   (`AR_CRCPosCheckFrom += SectorBytes*5/4`, `MulBy >= CheckFrom && MulBy <=
//!   CheckTo`), ARver's `_audio.c` (`sum_from = 5*588` … `multiplier >= sum_from
//!   && multiplier <= sum_to`) and CUETools' `AccurateRip.cs` (`currentOffset2 <
//!   5 * 588 - 1` skipped on the first track, `>= trackLength - 5 * 588` on the
//!   last). The tests check this against `accuraterip-checksum`.
//! - [`frame450_crc`] / [`find_offsets`]: each AccurateRip database record holds,
//!   beside a track's checksum, the v1-style checksum of one sector of it — 588
//!   frames starting at frame 450×588 from the track's INDEX 01, weighted 1..=588
//!   (CUETools `AccurateRip.cs`: `CRC450` is `crcb - crca - (450 * 588 + oi) *
//!   (sumb - suma)` over running sums weighted by position + 1; ARver
//!   `get_frame450_checksums`, "AccurateRip v1 checksums of a single CD frame (588
//!   samples)"). Because it covers one sector only, it can be computed for every
//!   candidate read offset of a drive from a short read, which is how a drive's
//!   offset is found from any disc that is in the database.
//! - [`CtdbCrc`]: the CUETools Database CRC (the `crc32` attribute of an `<entry>`
//!   in the lookup answer, and per track its `trackcrcs`): CRC-32/ISO-HDLC over
//!   the audio from the first audio track's INDEX 01 to the end of the audio,
//!   leaving out the first 5880 frames (10 sectors: `stride / 2` with CUETools'
//!   stride of `10 * 588 * 2` 16-bit words) and the last `5880 + N mod 5880`
//!   frames, N being the audio's length in frames (`laststride / 2` with
//!   `laststride = stride + (N * 2) % stride`). Per track the first track loses
//!   the leading 5880 frames and the last track the trailing ones; tracks in
//!   between are whole. Sources: CUETools `CUEToolsDB.Init` (`new
//!   CDRepairEncode(ar, 10 * 588 * 2, …)`), `CDRepair.cs` (`laststride`, and
//!   `CDRepairEncode.CRC => ar.CTDBCRC(0)`), `AccurateRip.cs` (`CTDBCRC(int
//!   offset) => CTDBCRC(0, offset, stride / 2, laststride / 2)`, whose disc
//!   branch spans `(AudioLength - Pregap) * 588` samples minus prefix and suffix).
//!   This was not checked against a value from the live database; the tests check
//!   the rule as stated.
//!
//! A ripper corrects its drive's read offset before feeding these; the
//! checksums are of the audio as it should be, not as the drive read it.

use crate::disc::Disc;

/// Frames (stereo samples) in one CD-DA sector (Red Book: 2352 bytes).
pub const FRAMES_PER_SECTOR: u64 = 588;

/// Frames AccurateRip leaves out at the start of the first track and the end
/// of the last: 5 sectors (see the module doc for the exact edges).
pub const ACCURATERIP_SKIP_FRAMES: u64 = 5 * FRAMES_PER_SECTOR;

/// The sector of a track (counted from its INDEX 01) whose checksum AccurateRip
/// records for offset finding.
pub const FRAME450_SECTOR: u64 = 450;

/// The largest read offset (in frames, either way) that [`find_offsets`] is
/// usually asked about: 5 sectors, the window ARver searches. A window of
/// sectors 445..=455 of the track (11 sectors, 6468 frames, starting 2940
/// frames before sector 450) covers every offset in −2940..=2940.
pub const OFFSET_SEARCH_RADIUS: i32 = 5 * 588;

/// CUETools' CTDB stride in frames (10 sectors): the frames left out at the
/// start of the audio, and the base of what is left out at its end.
pub const CTDB_STRIDE_FRAMES: u64 = 10 * FRAMES_PER_SECTOR;

/// One stereo frame as a `u32`: the right sample in the high 16 bits, the left
/// in the low 16 (the frame's 4 little-endian bytes read as a little-endian
/// `u32`).
pub fn pack_frame(left: i16, right: i16) -> u32 {
    u32::from(right as u16) << 16 | u32::from(left as u16)
}

/// The frames of little-endian CD-DA bytes (a trailing partial frame is
/// ignored).
pub fn frames_from_le_bytes(bytes: &[u8]) -> impl Iterator<Item = u32> + '_ {
    bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

/// Turns a byte stream split anywhere into whole frames.
#[derive(Debug, Clone, Default)]
struct FrameJoiner {
    pending: [u8; 4],
    len: usize,
}

impl FrameJoiner {
    /// Calls `sink` with the whole frames `bytes` completes, in order.
    fn feed(&mut self, mut bytes: &[u8], mut sink: impl FnMut(&[u32])) {
        if self.len > 0 {
            let take = (4 - self.len).min(bytes.len());
            self.pending[self.len..self.len + take].copy_from_slice(&bytes[..take]);
            self.len += take;
            bytes = &bytes[take..];
            if self.len < 4 {
                return;
            }
            sink(&[u32::from_le_bytes(self.pending)]);
            self.len = 0;
        }
        let whole = bytes.len() / 4 * 4;
        let mut buf = [0u32; 1024];
        for chunk in bytes[..whole].chunks(buf.len() * 4) {
            let n = chunk.len() / 4;
            for (d, s) in buf.iter_mut().zip(frames_from_le_bytes(chunk)) {
                *d = s;
            }
            sink(&buf[..n]);
        }
        let rest = &bytes[whole..];
        self.pending[..rest.len()].copy_from_slice(rest);
        self.len = rest.len();
    }
}

// ---------------------------------------------------------------------------
// CRC-32
// ---------------------------------------------------------------------------

/// EAC's track CRCs: the "Copy CRC" (CRC-32/ISO-HDLC of the little-endian
/// bytes) and the "CRC without null samples".
#[derive(Debug, Clone, Default)]
pub struct Crc32 {
    all: crc32fast::Hasher,
    without_nulls: crc32fast::Hasher,
    joiner: FrameJoiner,
    scratch: Vec<u8>,
}

impl Crc32 {
    /// An empty accumulator.
    pub fn new() -> Crc32 {
        Crc32::default()
    }

    /// Adds frames.
    pub fn update(&mut self, frames: &[u32]) {
        self.scratch.clear();
        self.scratch.reserve(frames.len() * 4);
        for f in frames {
            self.scratch.extend_from_slice(&f.to_le_bytes());
        }
        self.all.update(&self.scratch);
        self.scratch.clear();
        for f in frames {
            for half in [*f as u16, (*f >> 16) as u16] {
                if half != 0 {
                    self.scratch.extend_from_slice(&half.to_le_bytes());
                }
            }
        }
        self.without_nulls.update(&self.scratch);
    }

    /// Adds little-endian CD-DA bytes; a frame may be split between calls.
    pub fn update_le_bytes(&mut self, bytes: &[u8]) {
        let mut joiner = std::mem::take(&mut self.joiner);
        joiner.feed(bytes, |f| self.update(f));
        self.joiner = joiner;
    }

    /// The CRC of everything fed so far ("Copy CRC").
    pub fn crc(&self) -> u32 {
        self.all.clone().finalize()
    }

    /// The CRC of the non-zero 16-bit samples fed so far.
    pub fn crc_without_nulls(&self) -> u32 {
        self.without_nulls.clone().finalize()
    }
}

// ---------------------------------------------------------------------------
// AccurateRip
// ---------------------------------------------------------------------------

/// Where a track lies among the disc's audio tracks: AccurateRip treats the
/// first and the last differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackPosition {
    /// The first audio track of several.
    First,
    /// Neither first nor last.
    Middle,
    /// The last audio track of several.
    Last,
    /// The only audio track (first and last at once).
    Only,
}

impl TrackPosition {
    /// The position of audio track `index` (1-based, counting audio tracks only)
    /// among `audio_tracks`.
    pub fn of(index: usize, audio_tracks: usize) -> TrackPosition {
        match (index <= 1, index >= audio_tracks) {
            (true, true) => TrackPosition::Only,
            (true, false) => TrackPosition::First,
            (false, true) => TrackPosition::Last,
            (false, false) => TrackPosition::Middle,
        }
    }

    /// The position of track `number` on `disc` among its audio tracks (as
    /// AccurateRip numbers them: audio tracks only, in order), or `None` when it
    /// is not an audio track of the disc.
    pub fn on_disc(disc: &Disc, number: u8) -> Option<TrackPosition> {
        let audio: Vec<u8> = disc
            .tracks
            .iter()
            .filter(|t| t.is_audio())
            .map(|t| t.number)
            .collect();
        let i = audio.iter().position(|&n| n == number)?;
        Some(TrackPosition::of(i + 1, audio.len()))
    }

    fn is_first(self) -> bool {
        matches!(self, TrackPosition::First | TrackPosition::Only)
    }

    fn is_last(self) -> bool {
        matches!(self, TrackPosition::Last | TrackPosition::Only)
    }
}

/// AccurateRip v1 and v2 checksums of one track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ArCrcs {
    pub v1: u32,
    pub v2: u32,
}

/// Streaming AccurateRip v1 and v2 of one track (see the module doc for the
/// rule and its sources).
///
/// Frames past `total_frames` are counted in [`AccurateRip::frames_seen`] but
/// do not enter the checksums. A last (or only) track shorter than the frames
/// it skips checksums to 0 (`accuraterip-checksum` wraps its unsigned end
/// position around there and counts every frame instead; a Red Book track is at
/// least 4 seconds long, far more than 2940 frames).
#[derive(Debug, Clone)]
pub struct AccurateRip {
    /// First multiplier that counts.
    from: u64,
    /// Last multiplier that counts.
    to: u64,
    /// Frames seen so far (the multiplier of the last one).
    seen: u64,
    v1: u32,
    v2: u32,
}

impl AccurateRip {
    /// An accumulator for a track of `total_frames` frames at `position`.
    pub fn new(position: TrackPosition, total_frames: u64) -> AccurateRip {
        let from = if position.is_first() {
            ACCURATERIP_SKIP_FRAMES
        } else {
            1
        };
        let to = if position.is_last() {
            total_frames.saturating_sub(ACCURATERIP_SKIP_FRAMES)
        } else {
            total_frames
        };
        AccurateRip {
            from,
            to,
            seen: 0,
            v1: 0,
            v2: 0,
        }
    }

    /// Adds the track's next frames.
    pub fn update(&mut self, frames: &[u32]) {
        let first_k = self.seen + 1;
        let n = frames.len() as u64;
        self.seen += n;
        // The multipliers first_k..first_k+n that fall within from..=to.
        let lo = self.from.max(first_k);
        let hi = self.to.min(first_k + n - 1);
        if n == 0 || lo > hi {
            return;
        }
        let (start, end) = ((lo - first_k) as usize, (hi - first_k) as usize);
        let (mut v1, mut v2) = (self.v1, self.v2);
        for (k, &s) in (lo..).zip(&frames[start..=end]) {
            // The reference code multiplies by a 32-bit position.
            let p = u64::from(k as u32) * u64::from(s);
            let low = p as u32;
            v1 = v1.wrapping_add(low);
            v2 = v2.wrapping_add(low).wrapping_add((p >> 32) as u32);
        }
        self.v1 = v1;
        self.v2 = v2;
    }

    /// Adds little-endian bytes of the track's next frames. The byte count
    /// should be a multiple of 4; a trailing partial frame is ignored.
    pub fn update_le_bytes(&mut self, bytes: &[u8]) {
        let mut buf = [0u32; 1024];
        for chunk in bytes.chunks(buf.len() * 4) {
            let n = chunk.len() / 4;
            for (d, s) in buf.iter_mut().zip(frames_from_le_bytes(chunk)) {
                *d = s;
            }
            self.update(&buf[..n]);
        }
    }

    /// Frames fed so far.
    pub fn frames_seen(&self) -> u64 {
        self.seen
    }

    /// The checksums of what was fed.
    pub fn finish(&self) -> ArCrcs {
        ArCrcs {
            v1: self.v1,
            v2: self.v2,
        }
    }
}

// ---------------------------------------------------------------------------
// Offset finding
// ---------------------------------------------------------------------------

/// The frame-450 checksum of one sector's frames: Σ k·s for k = 1..=588 over
/// the first 588 frames given (fewer frames: only those; more: the rest is
/// ignored).
pub fn frame450_crc(frames: &[u32]) -> u32 {
    frames
        .iter()
        .take(FRAMES_PER_SECTOR as usize)
        .zip(1u32..)
        .fold(0u32, |acc, (&s, k)| acc.wrapping_add(k.wrapping_mul(s)))
}

/// Every read offset whose frame-450 checksum is one of `wanted`.
///
/// `window` holds a track's frames read *without* offset correction around its
/// sector 450: `window[0]` is the frame `window_start_offset` frames after the
/// first frame of sector 450 (counted from the track's INDEX 01; negative:
/// before). For each offset d with the 588 frames `d - window_start_offset ..`
/// inside the window, the checksum of those frames is compared with `wanted`;
/// the matching offsets are returned in ascending order. Offset d means that
/// the drive returns a disc frame d frames later than it was asked for, i.e.
/// the read offset correction to apply is d, the convention of the AccurateRip
/// drive list (and of the virtual drive's `offset=`).
///
/// For the usual search over −2940..=2940, read sectors 445..=455 of the track
/// and pass `-OFFSET_SEARCH_RADIUS` (see [`OFFSET_SEARCH_RADIUS`]).
///
/// A wanted checksum of 0 is ignored: it is what a silent sector gives, and it
/// would match at every offset. Each window position costs O(1) (a sliding sum),
/// not 588 multiplications.
pub fn find_offsets(window: &[u32], window_start_offset: i32, wanted: &[u32]) -> Vec<i32> {
    let n = FRAMES_PER_SECTOR as usize;
    let mut wanted: Vec<u32> = wanted.iter().copied().filter(|&w| w != 0).collect();
    wanted.sort_unstable();
    wanted.dedup();
    if wanted.is_empty() || window.len() < n {
        return Vec::new();
    }
    // crc = Σ (i+1)·w[d+i], sum = Σ w[d+i] over i in 0..588; sliding by one:
    // crc' = crc − sum + 588·w[d+588], sum' = sum − w[d] + w[d+588].
    let mut crc = frame450_crc(&window[..n]);
    let mut sum = window[..n].iter().fold(0u32, |a, &s| a.wrapping_add(s));
    let mut found = Vec::new();
    let last = window.len() - n;
    for d in 0..=last {
        if wanted.binary_search(&crc).is_ok() {
            let off = i64::from(window_start_offset) + d as i64;
            if let Ok(off) = i32::try_from(off) {
                found.push(off);
            }
        }
        if d < last {
            let incoming = window[d + n];
            crc = crc
                .wrapping_sub(sum)
                .wrapping_add((n as u32).wrapping_mul(incoming));
            sum = sum.wrapping_sub(window[d]).wrapping_add(incoming);
        }
    }
    found
}

// ---------------------------------------------------------------------------
// CUETools Database
// ---------------------------------------------------------------------------

/// The CUETools Database CRCs of a rip: the whole disc's (the `crc32` of a
/// database entry) and each audio track's (its `trackcrcs`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct CtdbCrcs {
    pub disc: u32,
    pub tracks: Vec<u32>,
}

/// Streaming CTDB CRCs over a disc's audio (see the module doc for the rule and
/// its sources). Feed the audio from the first audio track's INDEX 01 to the
/// end of the audio ([`Disc::audio_leadout`]), in order; hidden track one audio
/// before it does not belong.
#[derive(Debug, Clone)]
pub struct CtdbCrc {
    /// Frame ranges (within the audio) that enter the disc CRC, and each track's.
    disc_range: (u64, u64),
    track_ranges: Vec<(u64, u64)>,
    disc: crc32fast::Hasher,
    tracks: Vec<crc32fast::Hasher>,
    /// Frames fed so far.
    pos: u64,
    joiner: FrameJoiner,
    scratch: Vec<u8>,
}

impl CtdbCrc {
    /// An accumulator for audio tracks of these lengths in frames (each from its
    /// INDEX 01 to the next audio track's INDEX 01, the last to the end of the
    /// audio).
    pub fn new(track_frames: &[u64]) -> CtdbCrc {
        let total: u64 = track_frames.iter().sum();
        let prefix = CTDB_STRIDE_FRAMES;
        let suffix = CTDB_STRIDE_FRAMES + total % CTDB_STRIDE_FRAMES;
        let disc_end = total.saturating_sub(suffix);
        let disc_range = (prefix.min(disc_end), disc_end);
        let mut track_ranges = Vec::with_capacity(track_frames.len());
        let mut at = 0u64;
        let last = track_frames.len().saturating_sub(1);
        for (i, &len) in track_frames.iter().enumerate() {
            let mut start = at;
            let mut end = at + len;
            if i == 0 {
                start = start.saturating_add(prefix);
            }
            if i == last {
                end = end.saturating_sub(suffix);
            }
            track_ranges.push((start.min(end), end));
            at += len;
        }
        CtdbCrc {
            disc_range,
            tracks: vec![crc32fast::Hasher::new(); track_ranges.len()],
            track_ranges,
            disc: crc32fast::Hasher::new(),
            pos: 0,
            joiner: FrameJoiner::default(),
            scratch: Vec::new(),
        }
    }

    /// An accumulator for the audio tracks of `disc`, with lengths from its TOC.
    pub fn for_disc(disc: &Disc) -> CtdbCrc {
        CtdbCrc::new(&ctdb_track_frames(disc))
    }

    /// Adds the next frames of the audio.
    pub fn update(&mut self, frames: &[u32]) {
        let start = self.pos;
        let end = start + frames.len() as u64;
        self.pos = end;
        self.scratch.clear();
        self.scratch.reserve(frames.len() * 4);
        for f in frames {
            self.scratch.extend_from_slice(&f.to_le_bytes());
        }
        let bytes = &self.scratch;
        let feed = |h: &mut crc32fast::Hasher, (a, b): (u64, u64)| {
            let lo = a.max(start);
            let hi = b.min(end);
            if lo < hi {
                let (i, j) = ((lo - start) as usize * 4, (hi - start) as usize * 4);
                h.update(&bytes[i..j]);
            }
        };
        feed(&mut self.disc, self.disc_range);
        for (h, &r) in self.tracks.iter_mut().zip(&self.track_ranges) {
            if r.1 > start && r.0 < end {
                feed(h, r);
            }
        }
    }

    /// Adds little-endian CD-DA bytes; a frame may be split between calls.
    pub fn update_le_bytes(&mut self, bytes: &[u8]) {
        let mut joiner = std::mem::take(&mut self.joiner);
        joiner.feed(bytes, |f| self.update(f));
        self.joiner = joiner;
    }

    /// Frames fed so far.
    pub fn frames_seen(&self) -> u64 {
        self.pos
    }

    /// The CRCs of what was fed (meaningful once all the audio was).
    pub fn finish(&self) -> CtdbCrcs {
        CtdbCrcs {
            disc: self.disc.clone().finalize(),
            tracks: self.tracks.iter().map(|h| h.clone().finalize()).collect(),
        }
    }
}

/// The lengths in frames of `disc`'s audio tracks as CTDB counts them: each from
/// its INDEX 01 to the next audio track's INDEX 01, the last to
/// [`Disc::audio_leadout`].
pub fn ctdb_track_frames(disc: &Disc) -> Vec<u64> {
    let audio: Vec<_> = disc.tracks.iter().filter(|t| t.is_audio()).collect();
    let end = disc.audio_leadout();
    audio
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let next = audio.get(i + 1).map_or(end, |n| n.start);
            let sectors = i64::from(next.0) - i64::from(t.start.0);
            u64::try_from(sectors).unwrap_or(0) * FRAMES_PER_SECTOR
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The reference loop, written as plainly as the published code.
    fn reference(frames: &[u32], first: bool, last: bool) -> (u32, u32) {
        let from = if first { 2940u64 } else { 0 };
        let to = if last {
            (frames.len() as u64).saturating_sub(2940)
        } else {
            frames.len() as u64
        };
        let (mut v1, mut v2) = (0u32, 0u32);
        for (i, &s) in frames.iter().enumerate() {
            let k = i as u64 + 1;
            if k >= from && k <= to {
                let p = k * u64::from(s);
                v1 = v1.wrapping_add(p as u32);
                v2 = v2.wrapping_add(p as u32).wrapping_add((p >> 32) as u32);
            }
        }
        (v1, v2)
    }

    fn lcg(n: usize, seed: u32) -> Vec<u32> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                x
            })
            .collect()
    }

    #[test]
    fn pack_frame_is_the_little_endian_frame() {
        assert_eq!(pack_frame(1, 2), 0x0002_0001);
        assert_eq!(pack_frame(-1, 0), 0x0000_FFFF);
        assert_eq!(pack_frame(0, -2), 0xFFFE_0000);
        let bytes = [0x01, 0x00, 0x02, 0x00];
        assert_eq!(frames_from_le_bytes(&bytes).next(), Some(pack_frame(1, 2)));
    }

    #[test]
    fn accuraterip_by_hand() {
        // Middle track of three frames: v1 = 1·1 + 2·2 + 3·3 = 14.
        let mut ar = AccurateRip::new(TrackPosition::Middle, 3);
        ar.update(&[1, 2, 3]);
        assert_eq!(ar.finish(), ArCrcs { v1: 14, v2: 14 });
        // A product past 2^32: 2 · 0xFFFF_FFFF = 0x1_FFFF_FFFE.
        let mut ar = AccurateRip::new(TrackPosition::Middle, 2);
        ar.update(&[0, 0xFFFF_FFFF]);
        assert_eq!(
            ar.finish(),
            ArCrcs {
                v1: 0xFFFF_FFFE,
                v2: 0xFFFF_FFFF
            }
        );
        // First track: frame 2940 is the first that counts.
        let mut frames = vec![0u32; 2941];
        frames[2938] = 7; // k = 2939: skipped
        frames[2939] = 1; // k = 2940: counted
        frames[2940] = 2; // k = 2941
        let mut ar = AccurateRip::new(TrackPosition::First, 2941);
        ar.update(&frames);
        assert_eq!(ar.finish().v1, 2940 + 2 * 2941);
        // Last track: the last 2940 frames are skipped.
        let mut frames = vec![0u32; 2942];
        frames[0] = 3; // k = 1
        frames[1] = 5; // k = 2 = 2942 − 2940: counted
        frames[2] = 11; // k = 3: skipped
        let mut ar = AccurateRip::new(TrackPosition::Last, 2942);
        ar.update(&frames);
        assert_eq!(ar.finish().v1, 3 + 10);
        // Too short a last track: nothing counts.
        let mut ar = AccurateRip::new(TrackPosition::Only, 100);
        ar.update(&[9; 100]);
        assert_eq!(ar.finish(), ArCrcs { v1: 0, v2: 0 });
    }

    #[test]
    fn accuraterip_matches_the_reference_loop_in_any_chunks() {
        let frames = lcg(20_000, 7);
        for (pos, first, last) in [
            (TrackPosition::First, true, false),
            (TrackPosition::Middle, false, false),
            (TrackPosition::Last, false, true),
            (TrackPosition::Only, true, true),
        ] {
            let want = reference(&frames, first, last);
            for chunk in [1usize, 3, 588, 2352, 4096, 20_000] {
                let mut ar = AccurateRip::new(pos, frames.len() as u64);
                for c in frames.chunks(chunk) {
                    ar.update(c);
                }
                assert_eq!((ar.finish().v1, ar.finish().v2), want, "{pos:?} {chunk}");
                assert_eq!(ar.frames_seen(), 20_000);
            }
            let bytes: Vec<u8> = frames.iter().flat_map(|f| f.to_le_bytes()).collect();
            let mut ar = AccurateRip::new(pos, frames.len() as u64);
            for c in bytes.chunks(2352) {
                ar.update_le_bytes(c);
            }
            assert_eq!((ar.finish().v1, ar.finish().v2), want);
        }
    }

    #[test]
    fn extra_frames_do_not_count() {
        let frames = lcg(5000, 3);
        let mut a = AccurateRip::new(TrackPosition::Middle, 4000);
        a.update(&frames);
        let mut b = AccurateRip::new(TrackPosition::Middle, 4000);
        b.update(&frames[..4000]);
        assert_eq!(a.finish(), b.finish());
        assert_eq!(a.frames_seen(), 5000);
    }

    #[test]
    fn positions() {
        assert_eq!(TrackPosition::of(1, 1), TrackPosition::Only);
        assert_eq!(TrackPosition::of(1, 3), TrackPosition::First);
        assert_eq!(TrackPosition::of(2, 3), TrackPosition::Middle);
        assert_eq!(TrackPosition::of(3, 3), TrackPosition::Last);
    }

    #[test]
    fn crc32_known_vector_and_chunking() {
        // CRC-32/ISO-HDLC check value: "123456789" → CBF43926.
        let mut c = Crc32::new();
        c.update_le_bytes(b"12345678");
        assert_eq!(c.crc(), crc32fast::hash(b"12345678"));
        let mut c = Crc32::new();
        c.update_le_bytes(b"1234");
        c.update_le_bytes(b"5");
        c.update_le_bytes(b"678");
        assert_eq!(c.crc(), crc32fast::hash(b"12345678"));
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
        // Known values (zlib's crc32): "12345678" and one silent frame.
        assert_eq!(c.crc(), 0x9AE0_DAAF);
        let mut z = Crc32::new();
        z.update(&[0]);
        assert_eq!(z.crc(), 0x2144_DF1C);

        let frames = lcg(3000, 11);
        let bytes: Vec<u8> = frames.iter().flat_map(|f| f.to_le_bytes()).collect();
        let mut c = Crc32::new();
        for ch in frames.chunks(77) {
            c.update(ch);
        }
        assert_eq!(c.crc(), crc32fast::hash(&bytes));
    }

    #[test]
    fn crc_without_nulls_skips_zero_samples() {
        let frames = [pack_frame(0, 5), pack_frame(0, 0), pack_frame(-3, 0)];
        let mut c = Crc32::new();
        c.update(&frames);
        let mut want = Vec::new();
        want.extend_from_slice(&5i16.to_le_bytes());
        want.extend_from_slice(&(-3i16).to_le_bytes());
        assert_eq!(c.crc_without_nulls(), crc32fast::hash(&want));
        // Silence alone: the CRC of nothing.
        let mut s = Crc32::new();
        s.update(&[0; 100]);
        assert_eq!(s.crc_without_nulls(), 0);
        assert_eq!(s.crc(), crc32fast::hash(&[0u8; 400]));
    }

    #[test]
    fn frame450_by_hand() {
        assert_eq!(frame450_crc(&[1, 2, 3]), 14);
        let mut f = vec![0u32; 600];
        f[587] = 1;
        f[588] = 1000; // past the sector: ignored
        assert_eq!(frame450_crc(&f), 588);
    }

    #[test]
    fn find_offsets_slides_correctly() {
        let window = lcg(588 + 2 * 2940, 5);
        // Brute force over every position must agree with the sliding sum.
        for d in [0usize, 1, 2, 587, 2940, 5879, 5880] {
            let crc = frame450_crc(&window[d..d + 588]);
            let found = find_offsets(&window, -2940, &[crc]);
            assert_eq!(found, vec![d as i32 - 2940], "{d}");
        }
        assert!(find_offsets(&window, 0, &[0]).is_empty());
        assert!(find_offsets(&window[..100], 0, &[1]).is_empty());
        // Two wanted values, found in order.
        let a = frame450_crc(&window[10..598]);
        let b = frame450_crc(&window[3000..3588]);
        assert_eq!(find_offsets(&window, 100, &[b, a, a]), vec![110, 3100]);
    }

    #[test]
    fn ctdb_edges() {
        // 3 tracks: 20000, 588·20, 30000 frames; N = 61760.
        let lens = [20_000u64, 11_760, 30_000];
        let frames = lcg(61_760, 9);
        let bytes: Vec<u8> = frames.iter().flat_map(|f| f.to_le_bytes()).collect();
        let n = 61_760usize;
        let suffix = 5880 + n % 5880;
        let want_disc = crc32fast::hash(&bytes[5880 * 4..(n - suffix) * 4]);
        let want_tracks = vec![
            crc32fast::hash(&bytes[5880 * 4..20_000 * 4]),
            crc32fast::hash(&bytes[20_000 * 4..31_760 * 4]),
            crc32fast::hash(&bytes[31_760 * 4..(n - suffix) * 4]),
        ];
        for chunk in [1usize, 588, 1000, 61_760] {
            let mut c = CtdbCrc::new(&lens);
            for ch in frames.chunks(chunk) {
                c.update(ch);
            }
            let r = c.finish();
            assert_eq!(r.disc, want_disc, "{chunk}");
            assert_eq!(r.tracks, want_tracks, "{chunk}");
        }
        let mut c = CtdbCrc::new(&lens);
        for ch in bytes.chunks(1001) {
            c.update_le_bytes(ch);
        }
        assert_eq!(c.finish().disc, want_disc);
        assert_eq!(c.frames_seen(), 61_760);
        // Too little audio: nothing enters.
        let mut c = CtdbCrc::new(&[1000]);
        c.update(&frames[..1000]);
        assert_eq!(c.finish().disc, 0);
    }

    #[test]
    fn ctdb_track_lengths_from_a_disc() {
        use aj_core::Lba;
        let mut d = Disc::audio(&[Lba(0), Lba(100)], Lba(300)).unwrap();
        d.tracks[1].pregap = Some(Lba(90));
        assert_eq!(ctdb_track_frames(&d), vec![100 * 588, 200 * 588]);
        assert_eq!(TrackPosition::on_disc(&d, 2), Some(TrackPosition::Last));
        assert_eq!(TrackPosition::on_disc(&d, 3), None);
    }
}
