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

pub(super) use frame::{parse_header as parse_frame_header, Assignment, Header as FrameHeader};

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use aj_core::{AudioSpec, Samples};
use md5::{Digest, Md5};

use super::{average_bitrate, MediaInfo, PacketDecoder};
use crate::Error;
use bits::ReadError;
use frame::{decode_frame, interleave, parse_header, Header, NotHeader, Scratch};

/// The largest frame accepted, in bytes: far above the largest a frame
/// can sensibly be (65535 samples × 8 channels × 33 bits, VERBATIM, is
/// 2.2 MB), and a bound on the read window.
const MAX_FRAME_BYTES: usize = 16 << 20;
/// Frame headers with a valid CRC-8 but the wrong frame number, whose
/// frame then fails to decode, that are passed over (as chance matches
/// inside damaged data) before the stream is given up.
const MAX_FALSE_SYNCS: u32 = 1024;

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

/// Reads the metadata blocks; returns STREAMINFO and where frames start.
fn read_metadata(f: &mut File, file_len: u64) -> Result<(StreamInfo, u64), Error> {
    let mut magic = [0u8; 4];
    read_exact(f, &mut magic, "the FLAC signature")?;
    if &magic != b"fLaC" {
        return Err(Error::Corrupt("not a FLAC file".into()));
    }
    let mut at = 4u64;
    let mut info = None;
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
    Ok((info, at))
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
    /// The read window: `buf[start..end]` is file data not yet consumed.
    buf: Vec<u8>,
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
    /// MD5 of the output so far, when STREAMINFO has one.
    md5: Option<Md5>,
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
        let (si, audio_at) = read_metadata(&mut file, file_len)?;
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
            buf: Vec::new(),
            start: 0,
            end: 0,
            eof: false,
            window,
            si,
            info,
            spec,
            scratch: Scratch::default(),
            md5: (si.md5 != [0; 16]).then(Md5::new),
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
        if self.buf.len() < want {
            self.buf.resize(want, 0);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        while self.end < self.buf.len() {
            let Some(dst) = self.buf.get_mut(self.end..) else {
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
        let Some(md5) = &mut self.md5 else {
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
            let got: [u8; 16] = md5.finalize().into();
            if got != self.si.md5 {
                return Err(Error::Corrupt(
                    "decoded audio does not match the MD5 signature in STREAMINFO".into(),
                ));
            }
        }
        Ok(())
    }

    /// Finds and decodes the next frame into `out`. `Ok(false)` at the end.
    fn next_frame(&mut self, out: &mut Vec<i32>) -> Result<bool, Error> {
        loop {
            if self.end - self.start < self.window && !self.eof {
                self.fill()?;
            }
            let data = self.buf.get(self.start..self.end).unwrap_or_default();
            // The next frame header: a 0xFF that starts a valid one.
            let mut i = 0;
            let found = loop {
                let Some(off) = data
                    .get(i..)
                    .and_then(|d| d.iter().position(|&b| b == 0xFF))
                else {
                    i = data.len();
                    break None;
                };
                i += off;
                match parse_header(data.get(i..).unwrap_or_default()) {
                    Ok(h) => break Some(h),
                    Err(NotHeader::Short) => break None,
                    Err(NotHeader::Invalid) => i += 1,
                }
            };
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
}
