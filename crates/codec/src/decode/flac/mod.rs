//! Our own streaming FLAC decoder (RFC 9639), for native `fLaC` files.
//! (FLAC in Ogg still goes through symphonia, see [`super::media`].)
//!
//! The metadata blocks are checked and skipped at open (STREAMINFO must
//! come first; the others are skipped by seeking, each checked to lie
//! inside the file). Frames are then decoded one at a time from a window
//! of the file read in large pieces, so memory stays bounded whatever the
//! file's size.
//!
//! As a lossless decoder it never passes damage over in silence:
//! - a frame whose CRC-16 fails, or whose subframes are malformed, is an
//!   error naming its sample position;
//! - bytes that are not a frame are skipped to the next valid frame header
//!   (sync code and CRC-8), but if frames were lost on the way (the frame
//!   or sample number jumps) that is an error;
//! - the end checks the length STREAMINFO announces and its MD5 over the
//!   decoded samples (RFC 9639 §8.2);
//! - a stream whose sample rate, channel count or bit depth changes is
//!   refused, as the output spec cannot change.

mod bits;
mod frame;
mod md5sum;

pub(super) use frame::{parse_header as parse_frame_header, Assignment, Header as FrameHeader};

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use aj_core::{AudioSpec, Samples};

use super::{average_bitrate, MediaInfo, PacketDecoder};
use crate::Error;
use bits::ReadError;
use frame::{decode_frame, interleave, parse_header, Header, NotHeader, Scratch};
use md5sum::Md5;

/// The largest frame accepted, in bytes: far above the largest a frame
/// can sensibly be (65535 samples × 8 channels × 33 bits, VERBATIM, is
/// 2.2 MB), and a bound on the read window.
const MAX_FRAME_BYTES: usize = 16 << 20;
/// Frame headers with a valid CRC-8 but the wrong frame number, whose
/// frame then fails to decode, that are passed over (as chance matches
/// inside damaged data) before the stream is given up.
const MAX_FALSE_SYNCS: u32 = 1024;
/// A seek bisects on frame headers until the frame holding the target is
/// known to start in this many bytes (or twice the read window), then
/// decodes from the start of that range.
const BISECT_STOP: u64 = 64 << 10;

/// STREAMINFO (RFC 9639 §8.2).
#[derive(Debug, Clone, Copy)]
struct StreamInfo {
    min_block: u16,
    max_block: u16,
    max_frame: u32,
    rate: u32,
    channels: u8,
    bits: u8,
    /// 0: unknown.
    total: u64,
    /// All zeros: not set.
    md5: [u8; 16],
}

/// The check of STREAMINFO's MD5 signature of the decoded audio (RFC 9639
/// §8.2): every sample, interleaved, as little-endian two's complement in
/// whole bytes (`ceil(bits / 8)` each), the layout of
/// [`crate::decode::canonical_bytes`] at the stream's depth.
pub(crate) struct StreamMd5 {
    md5: Md5,
    /// The signature STREAMINFO holds (never all zeros: that means unset).
    expected: [u8; 16],
}

impl StreamMd5 {
    /// Hashes the next decoded samples, in the layout above.
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.md5.update(bytes);
    }

    /// Compares the digest of everything hashed with STREAMINFO's.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when they differ.
    pub(crate) fn check(self) -> Result<(), Error> {
        if self.md5.finalize() != self.expected {
            return Err(Error::Corrupt(
                "decoded audio does not match the MD5 signature in STREAMINFO".into(),
            ));
        }
        Ok(())
    }
}

/// A metadata block type's name (RFC 9639 §8.1).
fn block_name(t: u8) -> String {
    match t {
        0 => "STREAMINFO".into(),
        1 => "PADDING".into(),
        2 => "APPLICATION".into(),
        3 => "SEEKTABLE".into(),
        4 => "VORBIS_COMMENT".into(),
        5 => "CUESHEET".into(),
        6 => "PICTURE".into(),
        t => format!("reserved type {t}"),
    }
}

/// A SEEKTABLE point (RFC 9639 §8.5): the first sample of a frame and
/// its byte offset from the first frame's first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SeekPoint {
    sample: u64,
    offset: u64,
}

/// The bytes of one seek point (§8.5: sample number, offset, samples in
/// the frame, 8 + 8 + 2 bytes).
const SEEKPOINT_BYTES: usize = 18;

/// The metadata the decoder keeps.
struct Metadata {
    info: StreamInfo,
    /// Where the first frame starts.
    audio_at: u64,
    /// SEEKTABLE points, placeholders left out, sorted by sample.
    seekpoints: Vec<SeekPoint>,
}

/// Reads the metadata blocks.
fn read_metadata(f: &mut File, file_len: u64) -> Result<Metadata, Error> {
    let mut magic = [0u8; 4];
    read_exact(f, &mut magic, "the FLAC signature")?;
    if &magic != b"fLaC" {
        return Err(Error::Corrupt("not a FLAC file".into()));
    }
    let mut at = 4u64;
    let mut info = None;
    let mut seekpoints = Vec::new();
    for index in 0.. {
        let mut h = [0u8; 4];
        read_exact(f, &mut h, "a metadata block header")?;
        let last = h[0] & 0x80 != 0;
        let ty = h[0] & 0x7F;
        let len = u32::from_be_bytes([0, h[1], h[2], h[3]]);
        let name = block_name(ty);
        at += 4;
        if u64::from(len) > file_len.saturating_sub(at) {
            return Err(Error::Corrupt(format!(
                "the FLAC metadata block {index} ({name}) states {len} bytes, more than the {} left in the file",
                file_len.saturating_sub(at)
            )));
        }
        // §8.1: type 127 is forbidden (it could be mistaken for a frame sync).
        if ty == 127 {
            return Err(Error::Corrupt(format!(
                "the FLAC metadata block {index} has the invalid type 127"
            )));
        }
        match (ty, index) {
            (0, 0) => {
                if len != 34 {
                    return Err(Error::Corrupt(format!(
                        "the FLAC STREAMINFO block is {len} bytes long instead of 34"
                    )));
                }
                let mut b = [0u8; 34];
                read_exact(f, &mut b, "STREAMINFO")?;
                info = Some(parse_streaminfo(&b)?);
            }
            (0, _) => {
                return Err(Error::Corrupt(
                    "the FLAC file has a second STREAMINFO block".into(),
                ))
            }
            (_, 0) => {
                return Err(Error::Corrupt(format!(
                    "the first FLAC metadata block is {name}, not STREAMINFO (RFC 9639 §8.1 requires STREAMINFO first)"
                )))
            }
            (3, _) if seekpoints.is_empty() => {
                // The block's length is checked against the file above.
                let mut b = vec![0u8; len as usize];
                read_exact(f, &mut b, "SEEKTABLE")?;
                seekpoints = parse_seektable(&b);
            }
            _ => {
                f.seek(SeekFrom::Current(i64::from(len)))?;
            }
        }
        at += u64::from(len);
        if last {
            break;
        }
    }
    let info = info.ok_or_else(|| Error::Corrupt("the FLAC file has no STREAMINFO".into()))?;
    Ok(Metadata {
        info,
        audio_at: at,
        seekpoints,
    })
}

/// The seek points of a SEEKTABLE block, placeholders (sample number
/// 0xFFFFFFFFFFFFFFFF, §8.5) left out. A table out of order is only a
/// hint: the points are sorted, and every one is checked against the frame
/// it points to before it is used.
fn parse_seektable(b: &[u8]) -> Vec<SeekPoint> {
    let be64 = |x: &[u8]| x.iter().fold(0u64, |a, &v| (a << 8) | u64::from(v));
    let mut points: Vec<SeekPoint> = b
        .chunks_exact(SEEKPOINT_BYTES)
        .map(|p| SeekPoint {
            sample: be64(p.get(0..8).unwrap_or_default()),
            offset: be64(p.get(8..16).unwrap_or_default()),
        })
        .filter(|p| p.sample != u64::MAX)
        .collect();
    points.sort_by_key(|p| p.sample);
    points.dedup_by_key(|p| p.sample);
    points
}

fn read_exact(f: &mut File, buf: &mut [u8], what: &str) -> Result<(), Error> {
    f.read_exact(buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Error::Corrupt(format!("the file is truncated (it ends inside {what})"))
        } else {
            Error::Io(e)
        }
    })
}

fn parse_streaminfo(b: &[u8; 34]) -> Result<StreamInfo, Error> {
    let u = |r: std::ops::Range<usize>| {
        b.get(r)
            .unwrap_or_default()
            .iter()
            .fold(0u64, |a, &x| (a << 8) | u64::from(x))
    };
    // min block (16), max block (16), min frame (24), max frame (24), rate
    // (20), channels - 1 (3), bits - 1 (5), total samples (36), MD5 (128).
    let packed = u(10..18);
    let mut md5 = [0u8; 16];
    md5.copy_from_slice(b.get(18..34).unwrap_or(&[0; 16]));
    let si = StreamInfo {
        min_block: u(0..2) as u16,
        max_block: u(2..4) as u16,
        max_frame: u(7..10) as u32,
        rate: (packed >> 44) as u32,
        channels: ((packed >> 41) & 7) as u8 + 1,
        bits: ((packed >> 36) & 31) as u8 + 1,
        total: packed & ((1 << 36) - 1),
        md5,
    };
    if si.rate == 0 {
        return Err(Error::Corrupt(
            "the FLAC STREAMINFO states a sample rate of 0 Hz".into(),
        ));
    }
    if si.bits < 4 {
        return Err(Error::Corrupt(format!(
            "the FLAC STREAMINFO states {} bits per sample (FLAC holds 4 to 32)",
            si.bits
        )));
    }
    Ok(si)
}

pub(crate) struct FlacFile {
    file: File,
    file_len: u64,
    /// Where the first frame starts.
    audio_at: u64,
    seekpoints: Vec<SeekPoint>,
    /// The read window: `buf[start..end]` is file data not yet consumed.
    buf: Vec<u8>,
    /// The file offset of `buf[0]`.
    buf_at: u64,
    start: usize,
    end: usize,
    /// The file has no more data after `buf[..end]`.
    eof: bool,
    /// Bytes wanted in the window before a frame is decoded.
    window: usize,
    si: StreamInfo,
    info: MediaInfo,
    spec: AudioSpec,
    scratch: Scratch,
    /// STREAMINFO's MD5 check of the output so far, when STREAMINFO has
    /// one and it was not handed to the caller ([`FlacFile::open_deferred_md5`]).
    md5: Option<StreamMd5>,
    md5_buf: Vec<u8>,
    frames: u64,
    samples: u64,
    false_syncs: u32,
    ended: bool,
}

impl FlacFile {
    /// Opens `path` (which starts with `fLaC`) and reads its metadata.
    ///
    /// # Errors
    /// [`Error::Corrupt`] for damaged metadata, [`Error::Io`] when reading fails.
    pub(crate) fn open(path: &Path) -> Result<Self, Error> {
        let mut file = File::open(path).map_err(super::open_error)?;
        let file_len = file.metadata()?.len();
        let Metadata {
            info: si,
            audio_at,
            seekpoints,
        } = read_metadata(&mut file, file_len)?;
        file.seek(SeekFrom::Start(audio_at))?;
        let spec = AudioSpec::int(si.rate, u16::from(si.channels), si.bits);
        spec.validate()
            .map_err(|e| Error::Corrupt(format!("the FLAC STREAMINFO is invalid: {e}")))?;
        let total = (si.total > 0).then_some(si.total);
        let info = MediaInfo {
            container: "FLAC".into(),
            codec: "FLAC".into(),
            lossless: true,
            sample_rate: si.rate,
            channels: u16::from(si.channels),
            bits_per_sample: Some(si.bits),
            total_frames: total,
            bitrate: average_bitrate(file_len.saturating_sub(audio_at), total, si.rate),
        };
        // Room for the largest frame STREAMINFO announces, or else for a
        // VERBATIM frame of the largest block.
        let window = if si.max_frame > 0 {
            si.max_frame as usize + frame::MAX_HEADER + 1024
        } else {
            let block = if si.max_block > 0 {
                usize::from(si.max_block)
            } else {
                frame::MAX_BLOCK
            };
            usize::from(si.channels) * (block * (usize::from(si.bits) + 1) + 64) / 8 + 64
        }
        .min(MAX_FRAME_BYTES);
        Ok(FlacFile {
            file,
            file_len,
            audio_at,
            seekpoints,
            buf: Vec::new(),
            buf_at: audio_at,
            start: 0,
            end: 0,
            eof: false,
            window,
            si,
            info,
            spec,
            scratch: Scratch::default(),
            md5: (si.md5 != [0; 16]).then(|| StreamMd5 {
                md5: Md5::new(),
                expected: si.md5,
            }),
            md5_buf: Vec::new(),
            frames: 0,
            samples: 0,
            false_syncs: 0,
            ended: false,
        })
    }

    /// Moves the unread bytes to the front and reads until the buffer is
    /// full or the file ends.
    fn fill(&mut self) -> Result<(), Error> {
        let want = if self.window > 4 << 20 {
            2 * self.window
        } else {
            (4 * self.window).max(1 << 20)
        };
        self.fill_to(want)
    }

    /// Moves the unread bytes to the front and reads until the window
    /// holds `want` bytes (or the file ends).
    fn fill_to(&mut self, want: usize) -> Result<(), Error> {
        if self.buf.len() < want {
            self.buf.resize(want, 0);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.buf_at += self.start as u64;
            self.start = 0;
        }
        while self.end < want {
            let Some(dst) = self.buf.get_mut(self.end..want) else {
                break;
            };
            match self.file.read(dst) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => self.end += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::Io(e)),
            }
        }
        Ok(())
    }

    /// Where the next frame should start, for messages.
    fn position(&self) -> String {
        let secs = self.samples as f64 / f64::from(self.si.rate.max(1));
        format!("sample {} ({secs:.2} s)", self.samples)
    }

    /// Whether a frame header carries the number the next frame must have
    /// (RFC 9639 §9.1.5). Frame numbers count frames; sample numbers (the
    /// variable blocking strategy) count samples. Streams from before 2007
    /// with varying block sizes (min ≠ max block size in STREAMINFO) gave
    /// sample numbers without setting the blocking bit.
    fn expected_number(&self, h: &Header) -> bool {
        if h.variable {
            h.number == self.samples
        } else {
            h.number == self.frames
                || (self.si.min_block != self.si.max_block && h.number == self.samples)
        }
    }

    /// Refuses a frame whose parameters differ from the stream's.
    fn check_params(&self, h: &Header, bits: u32) -> Result<(), Error> {
        let si = &self.si;
        if let Some(r) = h.rate {
            if r != si.rate {
                return Err(Error::Unsupported(format!(
                    "the sample rate changes mid-stream ({} Hz to {r} Hz)",
                    si.rate
                )));
            }
        }
        let ch = h.assignment.channels();
        if ch != usize::from(si.channels) {
            return Err(Error::Unsupported(format!(
                "the number of channels changes mid-stream ({} to {ch})",
                si.channels
            )));
        }
        if bits != u32::from(si.bits) {
            return Err(Error::Unsupported(format!(
                "the bit depth changes mid-stream ({} to {bits} bits)",
                si.bits
            )));
        }
        Ok(())
    }

    /// Hashes the samples just appended (RFC 9639 §8.2: interleaved,
    /// little-endian, in whole bytes).
    fn hash(&mut self, samples: &[i32]) {
        let Some(StreamMd5 { md5, .. }) = &mut self.md5 else {
            return;
        };
        let width = usize::from(self.si.bits.div_ceil(8));
        let buf = &mut self.md5_buf;
        buf.clear();
        buf.resize(samples.len() * width, 0);
        match width {
            1 => {
                for (b, &s) in buf.iter_mut().zip(samples) {
                    *b = s as u8;
                }
            }
            2 => {
                for (b, &s) in buf.chunks_exact_mut(2).zip(samples) {
                    b.copy_from_slice(&(s as i16).to_le_bytes());
                }
            }
            3 => {
                for (b, &s) in buf.chunks_exact_mut(3).zip(samples) {
                    let [x, y, z, _] = s.to_le_bytes();
                    b.copy_from_slice(&[x, y, z]);
                }
            }
            _ => {
                for (b, &s) in buf.chunks_exact_mut(4).zip(samples) {
                    b.copy_from_slice(&s.to_le_bytes());
                }
            }
        }
        md5.update(&*buf);
    }

    /// The checks at the end of the stream.
    fn end_checks(&mut self) -> Result<(), Error> {
        let (n, got) = (self.si.total, self.samples);
        if n > 0 && n != got {
            return Err(Error::Corrupt(if got < n {
                format!(
                    "the file is truncated: STREAMINFO announces {n} samples but only {got} could be decoded"
                )
            } else {
                format!("the stream holds {got} samples but STREAMINFO announces {n}")
            }));
        }
        if let Some(md5) = self.md5.take() {
            md5.check()?;
        }
        Ok(())
    }

    /// Opens `path` as [`FlacFile::open`] does, but leaves STREAMINFO's MD5
    /// check to the caller: the decoder checks everything else (CRCs,
    /// frame numbers, the length), and the returned [`StreamMd5`] (`None`
    /// when STREAMINFO holds no MD5) must be fed every decoded sample, in
    /// order, and checked at the end. So the hashing may run on another
    /// thread than the decoding.
    ///
    /// # Errors
    /// As [`FlacFile::open`].
    pub(crate) fn open_deferred_md5(path: &Path) -> Result<(Self, Option<StreamMd5>), Error> {
        let mut f = Self::open(path)?;
        let md5 = f.md5.take();
        Ok((f, md5))
    }

    /// Appends decoded frames (interleaved, whole frames) to `out` until it
    /// holds at least `min_samples` samples or the stream ends. Returns
    /// `Ok(false)` at the end of the stream, after the end checks passed
    /// (the samples of the last frames are then in `out`).
    ///
    /// # Errors
    /// As [`PacketDecoder::decode_next`].
    pub(crate) fn decode_frames(
        &mut self,
        out: &mut Vec<i32>,
        min_samples: usize,
    ) -> Result<bool, Error> {
        while !self.ended {
            if out.len() >= min_samples {
                return Ok(true);
            }
            if !self.next_frame(out)? {
                self.ended = true;
                self.end_checks()?;
            }
        }
        Ok(false)
    }

    /// Finds and decodes the next frame into `out`. `Ok(false)` at the end.
    fn next_frame(&mut self, out: &mut Vec<i32>) -> Result<bool, Error> {
        loop {
            if self.end - self.start < self.window && !self.eof {
                self.fill()?;
            }
            let data = self.buf.get(self.start..self.end).unwrap_or_default();
            let (i, found) = find_header(data);
            self.start += i;
            let Some(h) = found else {
                if self.eof {
                    // The rest of the file holds no frame (trailing bytes
                    // such as an ID3v1 tag are ignored).
                    return Ok(false);
                }
                // Need more data to see past the window's end.
                self.fill()?;
                continue;
            };
            let bits = h.bits.unwrap_or(u32::from(self.si.bits));
            let data = self.buf.get(self.start..self.end).unwrap_or_default();
            let expected = self.expected_number(&h);
            match decode_frame(data, &h, bits, &mut self.scratch) {
                Ok(len) => {
                    if !expected {
                        let what = if h.variable { "sample" } else { "frame" };
                        return Err(Error::Corrupt(format!(
                            "FLAC frames are missing or damaged at {}: the next readable frame has {what} number {}",
                            self.position(),
                            h.number
                        )));
                    }
                    self.check_params(&h, bits)?;
                    let base = out.len();
                    if !interleave(h.assignment, h.block, bits, &self.scratch, out) {
                        return Err(Error::Corrupt(format!(
                            "the FLAC frame at {} is damaged: it decodes to samples wider than {bits} bits",
                            self.position()
                        )));
                    }
                    self.hash(out.get(base..).unwrap_or_default());
                    self.start += len;
                    self.frames += 1;
                    self.samples += h.block as u64;
                    return Ok(true);
                }
                Err(ReadError::Eof) if !self.eof => {
                    // The frame is longer than the window: widen it.
                    if self.window >= MAX_FRAME_BYTES {
                        return Err(Error::Corrupt(format!(
                            "the FLAC frame at {} is larger than {} MiB",
                            self.position(),
                            MAX_FRAME_BYTES >> 20
                        )));
                    }
                    self.window = (self.window * 2).min(MAX_FRAME_BYTES);
                    self.fill()?;
                }
                Err(ReadError::Eof) if expected => {
                    return Err(Error::Corrupt(format!(
                        "the file is truncated: it ends inside the FLAC frame at {}",
                        self.position()
                    )));
                }
                Err(ReadError::Bad(why)) if expected => {
                    return Err(Error::Corrupt(format!(
                        "the FLAC frame at {} is damaged: {why}",
                        self.position()
                    )));
                }
                Err(_) => {
                    // A chance sync pattern inside damaged or foreign data.
                    self.false_syncs += 1;
                    if self.false_syncs > MAX_FALSE_SYNCS {
                        return Err(Error::Corrupt(format!(
                            "the FLAC stream is damaged after {}: no readable frame follows",
                            self.position()
                        )));
                    }
                    self.start += 1;
                }
            }
        }
    }
}

/// How a stream numbers its frames (RFC 9639 §9.1.5), as far as seeking
/// needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Blocking {
    /// Headers carry the number of their first sample.
    Variable,
    /// Headers carry a frame number; every frame but the last holds this
    /// many samples.
    Fixed(usize),
}

/// A frame found by [`FlacFile::probe`].
#[derive(Debug, Clone, Copy)]
struct Probed {
    /// Its offset in the file.
    at: u64,
    /// Its first sample.
    first: u64,
    /// The number in its header.
    number: u64,
}

impl FlacFile {
    /// Moves the read window to the file offset `at`.
    fn reposition(&mut self, at: u64) -> Result<(), Error> {
        self.file.seek(SeekFrom::Start(at))?;
        self.buf_at = at;
        self.start = 0;
        self.end = 0;
        self.eof = false;
        Ok(())
    }

    /// The first sample of the frame with header `h` in a stream numbered
    /// as `blocking` says, or `None` when the header cannot belong to it.
    fn first_sample(&self, h: &Header, blocking: Blocking) -> Option<u64> {
        let first = match blocking {
            Blocking::Variable => h.variable.then_some(h.number)?,
            Blocking::Fixed(b) => {
                if h.variable || h.block > b {
                    return None;
                }
                h.number.checked_mul(b as u64)?
            }
        };
        let end = first.checked_add(h.block as u64)?;
        let total = self.si.total;
        if total > 0 {
            // Within the stream; with fixed blocking only the last frame
            // may be shorter.
            let short_inside =
                matches!(blocking, Blocking::Fixed(b) if h.block < b && end != total);
            if end > total || short_inside {
                return None;
            }
        }
        Some(first)
    }

    /// Finds the first frame starting at or after the file offset `at`
    /// and before `limit` that decodes (CRC-8, CRC-16, the stream's
    /// parameters) and, with `blocking`, whose number fits the stream.
    /// `None` when there is none (or only damage).
    fn probe(
        &mut self,
        at: u64,
        limit: u64,
        blocking: Option<Blocking>,
    ) -> Result<Option<(Probed, Header)>, Error> {
        self.reposition(at)?;
        let mut want = 2 * self.window;
        let mut misses = 0u32;
        loop {
            if self.end - self.start < want / 2 && !self.eof {
                self.fill_to(want)?;
            }
            let data = self.buf.get(self.start..self.end).unwrap_or_default();
            let (i, found) = find_header(data);
            self.start += i;
            let pos = self.buf_at + self.start as u64;
            if pos >= limit {
                return Ok(None);
            }
            let Some(h) = found else {
                if self.eof {
                    return Ok(None);
                }
                self.fill_to(want)?;
                continue;
            };
            let bits = h.bits.unwrap_or(u32::from(self.si.bits));
            let data = self.buf.get(self.start..self.end).unwrap_or_default();
            let first = match decode_frame(data, &h, bits, &mut self.scratch) {
                Ok(_) if self.check_params(&h, bits).is_ok() => match blocking {
                    Some(b) => self.first_sample(&h, b),
                    None => Some(0),
                },
                Err(ReadError::Eof) if !self.eof && want < 2 * MAX_FRAME_BYTES => {
                    // Perhaps a frame longer than the window: widen it.
                    want *= 2;
                    self.fill_to(want)?;
                    continue;
                }
                _ => None,
            };
            if let Some(first) = first {
                let found = Probed {
                    at: pos,
                    first,
                    number: h.number,
                };
                return Ok(Some((found, h)));
            }
            misses += 1;
            if misses > MAX_FALSE_SYNCS {
                return Ok(None);
            }
            self.start += 1;
        }
    }

    /// A probe for a frame exactly at `at` whose first sample is `first`.
    fn frame_at(
        &mut self,
        at: u64,
        first: u64,
        blocking: Blocking,
    ) -> Result<Option<Probed>, Error> {
        let limit = at.saturating_add(1);
        Ok(self
            .probe(at, limit, Some(blocking))?
            .map(|(p, _)| p)
            .filter(|p| p.first == first))
    }

    /// Positions the decoder at the frame holding sample `t` (see
    /// [`PacketDecoder::seek`]).
    fn seek_to(&mut self, t: u64) -> Result<u64, Error> {
        let audio_at = self.audio_at;
        // The first frame tells how the stream numbers its frames.
        let blocking = match self.probe(audio_at, audio_at.saturating_add(1), None)? {
            Some((p, h)) if p.number == 0 && h.variable => Some(Blocking::Variable),
            Some((p, h))
                if p.number == 0
                    && self.si.min_block == self.si.max_block
                    && h.block == usize::from(self.si.max_block) =>
            {
                Some(Blocking::Fixed(h.block))
            }
            _ => None,
        };
        let Some(blocking) = blocking else {
            // Frame numbers that do not map to samples (varying block
            // sizes numbered by frame, an unreadable first frame): decode
            // from the start.
            self.reposition(audio_at)?;
            return Ok(0);
        };
        // Known bounds: the frame at `lo` starts at or before `t`; the
        // frame holding `t` starts before `hi`.
        let mut lo = Probed {
            at: audio_at,
            first: 0,
            number: 0,
        };
        let mut hi = self.file_len;
        let i = self.seekpoints.partition_point(|p| p.sample <= t);
        let before = i
            .checked_sub(1)
            .and_then(|i| self.seekpoints.get(i))
            .copied();
        let after = self.seekpoints.get(i).copied();
        if let Some(sp) = before.filter(|sp| sp.sample > 0) {
            if let Some(at) = audio_at.checked_add(sp.offset).filter(|&a| a < hi) {
                if let Some(p) = self.frame_at(at, sp.sample, blocking)? {
                    lo = p;
                }
            }
        }
        if let Some(sp) = after {
            if let Some(at) = audio_at
                .checked_add(sp.offset)
                .filter(|&a| a > lo.at && a < hi)
            {
                if self.frame_at(at, sp.sample, blocking)?.is_some() {
                    hi = at;
                }
            }
        }
        // Bisection on frame headers, down to a few frames' worth of bytes.
        let stop = (2 * self.window as u64).max(BISECT_STOP);
        while hi.saturating_sub(lo.at) > stop {
            let mid = lo.at + (hi - lo.at) / 2;
            match self.probe(mid, hi, Some(blocking))? {
                Some((p, _)) if p.first <= t => lo = p,
                // No frame starts between `mid` and the one found.
                _ => hi = mid,
            }
        }
        self.reposition(lo.at)?;
        self.samples = lo.first;
        self.frames = match blocking {
            Blocking::Fixed(_) => lo.number,
            Blocking::Variable => 0,
        };
        self.false_syncs = 0;
        // STREAMINFO's MD5 covers the whole stream.
        self.md5 = None;
        Ok(lo.first)
    }
}

impl PacketDecoder for FlacFile {
    fn info(&self) -> &MediaInfo {
        &self.info
    }

    fn spec(&self) -> AudioSpec {
        self.spec
    }

    fn decode_next(&mut self, out: &mut Samples) -> Result<bool, Error> {
        if self.ended {
            return Ok(false);
        }
        let Samples::Int(out) = out else {
            return Err(Error::Corrupt("internal: FLAC decodes to integers".into()));
        };
        if self.next_frame(out)? {
            return Ok(true);
        }
        self.ended = true;
        self.end_checks()?;
        Ok(false)
    }

    fn seek(&mut self, frame: u64) -> Result<u64, Error> {
        if frame == 0 {
            return Ok(0);
        }
        self.seek_to(frame)
    }
}

/// The next frame header in `data`: a 0xFF that starts a valid one (sync
/// code, no reserved code, CRC-8). Returns its offset, or how far the
/// search went when `data` holds none (it stops before a header cut off
/// by the end of `data`).
fn find_header(data: &[u8]) -> (usize, Option<Header>) {
    let mut i = 0;
    loop {
        let Some(off) = data
            .get(i..)
            .and_then(|d| d.iter().position(|&b| b == 0xFF))
        else {
            return (data.len(), None);
        };
        i += off;
        match parse_header(data.get(i..).unwrap_or_default()) {
            Ok(h) => return (i, Some(h)),
            Err(NotHeader::Short) => return (i, None),
            Err(NotHeader::Invalid) => i += 1,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A seek lands a few frames before its target, not at the start,
    /// with a SEEKTABLE and without one (bisection).
    #[test]
    fn seeks_land_near_the_target() {
        if !aj_testkit::have_tool("flac") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let wav = dir.path().join("in.wav");
        let frames = 300_000;
        aj_testkit::write_wav(&wav, &aj_testkit::noise(frames, 2, 16, 5), 2, 44_100, 16);
        for (name, args) in [
            ("t.flac", &["-S", "1s"][..]),
            ("n.flac", &["--no-seektable"][..]),
        ] {
            let p = dir.path().join(name);
            let ok = std::process::Command::new("flac")
                .args(["-s", "-f", "-b", "4096"])
                .args(args)
                .arg("-o")
                .arg(&p)
                .arg(&wav)
                .status()
                .unwrap()
                .success();
            assert!(ok);
            for t in [1000u64, 4096, 150_000, 299_999] {
                let mut f = FlacFile::open(&p).unwrap();
                assert_eq!(f.seekpoints.is_empty(), name == "n.flac");
                let landed = f.seek(t).unwrap();
                assert!(
                    landed <= t && t - landed < 8 * 4096 && landed % 4096 == 0,
                    "{name}: seek to {t} landed at {landed}"
                );
                let mut out = Samples::Int(Vec::new());
                assert!(f.decode_next(&mut out).unwrap());
                assert_eq!(out.len(), 2 * 4096.min(frames - landed as usize));
            }
        }
    }
}
