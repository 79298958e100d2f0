//! FLAC encoder (RFC 9639), streaming with bounded memory.
//!
//! The stream is written as it comes: `fLaC`, then STREAMINFO, a SEEKTABLE of
//! [`SEEK_POINTS`] reserved points and an 8 KiB PADDING block (room for tags,
//! which `crate::tags` writes afterwards), then one frame per block size (see
//! the levels below) input frames. [`Encoder::finish`] patches STREAMINFO
//! (sizes, total samples, MD5) in place, and rewrites the reservation as a
//! SEEKTABLE of the points used followed by one PADDING block holding the
//! rest, so that no frame moves. Memory holds one
//! block of samples and one encoded frame, whatever the length of the input.
//!
//! Frames come from our own encoder ([`own`]): CONSTANT, VERBATIM, FIXED
//! and LPC subframes, wasted bits, stereo decorrelation, partitioned Rice
//! coding with escapes, for every depth the format allows (4–32 bits) and
//! 1–8 channels. [`lpc`] holds the linear prediction, [`rice`] the residual
//! coding, [`kernels`] the inner loops and [`simd`] their run-time choice of
//! vector unit.
//!
//! # Compression levels
//!
//! Levels 0–8 are libFLAC 1.4's presets (`flac --help`), with the same
//! meaning for every setting:
//!
//! | level | block | max LPC order | stereo | max Rice partition order | apodization |
//! |---|---|---|---|---|---|
//! | 0 | 1152 | 0 | independent | 3 | |
//! | 1 | 1152 | 0 | adaptive mid-side | 3 | |
//! | 2 | 1152 | 0 | exhaustive | 3 | |
//! | 3 | 4096 | 6 | independent | 4 | tukey(5e-1) |
//! | 4 | 4096 | 8 | adaptive mid-side | 4 | tukey(5e-1) |
//! | 5 | 4096 | 8 | exhaustive | 5 | tukey(5e-1) |
//! | 6 | 4096 | 8 | exhaustive | 6 | subdivide_tukey(2) |
//! | 7 | 4096 | 12 | exhaustive | 6 | subdivide_tukey(2) |
//! | 8 | 4096 | 12 | exhaustive | 6 | subdivide_tukey(3) |
//!
//! As in libFLAC, no level searches coefficient precisions (`-p`) or
//! every model order (`-e`): the LPC order comes from the Levinson-Durbin
//! error estimate and the precision from the block size and depth.

mod bits;
mod kernels;
mod lpc;
mod own;
mod rice;
mod simd;

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};

use aj_core::{AudioSpec, Block, SampleFormat, Samples};
use md5::{Digest, Md5};

use super::{Encoder, EncoderOptions};
use crate::Error;
use bits::BitWriter;
use own::{Apodization, Settings, Stereo};

/// The stream marker (RFC 9639 §6).
const MARKER: &[u8; 4] = b"fLaC";
/// Metadata block types (RFC 9639 §8.1).
const BLOCK_STREAMINFO: u8 = 0;
const BLOCK_PADDING: u8 = 1;
const BLOCK_SEEKTABLE: u8 = 3;
/// STREAMINFO body length (RFC 9639 §8.2).
const STREAMINFO_LEN: usize = 34;
/// Bytes of one seek point (RFC 9639 §8.5).
const SEEK_POINT_LEN: usize = 18;
/// Sample number of a placeholder seek point (RFC 9639 §8.5).
const PLACEHOLDER: u64 = u64::MAX;
/// Seek points reserved: one per [`SEEK_INTERVAL_SECONDS`] covers 42 min;
/// longer streams keep every other point and double the spacing.
const SEEK_POINTS: usize = 256;
const SEEK_INTERVAL_SECONDS: u64 = 10;
/// PADDING left for tags written later.
const PADDING_LEN: usize = 8192;
/// Offset of the STREAMINFO body: marker + block header.
const STREAMINFO_AT: u64 = 8;
/// Offset of the SEEKTABLE body.
const SEEKTABLE_AT: u64 = STREAMINFO_AT + STREAMINFO_LEN as u64 + 4;
/// Frame numbers of a fixed-blocksize stream have 31 bits (RFC 9639 §9.1.5).
const MAX_FRAMES: u64 = 1 << 31;
/// The total samples field has 36 bits; 0 means unknown (RFC 9639 §8.2).
const MAX_TOTAL_SAMPLES: u64 = (1 << 36) - 1;
const DEFAULT_LEVEL: u8 = 5;

const TUKEY: &[Apodization] = &[Apodization::Tukey(0.5)];
const SUBDIVIDE_2: &[Apodization] = &[Apodization::SubdivideTukey(2)];
const SUBDIVIDE_3: &[Apodization] = &[Apodization::SubdivideTukey(3)];

/// libFLAC's presets (see the module docs).
const LEVELS: [Settings; 9] = {
    const fn l(
        block_size: usize,
        max_lpc_order: usize,
        stereo: Stereo,
        max_partition_order: u32,
        apodizations: &'static [Apodization],
    ) -> Settings {
        Settings {
            block_size,
            max_lpc_order,
            stereo,
            max_partition_order,
            apodizations,
            precision_search: false,
        }
    }
    use Stereo::{Adaptive as A, Exhaustive as E, Independent as I};
    [
        l(1152, 0, I, 3, TUKEY),
        l(1152, 0, A, 3, TUKEY),
        l(1152, 0, E, 3, TUKEY),
        l(4096, 6, I, 4, TUKEY),
        l(4096, 8, A, 4, TUKEY),
        l(4096, 8, E, 5, TUKEY),
        l(4096, 8, E, 6, SUBDIVIDE_2),
        l(4096, 12, E, 6, SUBDIVIDE_2),
        l(4096, 12, E, 6, SUBDIVIDE_3),
    ]
};

pub(super) fn create(
    spec: AudioSpec,
    options: &EncoderOptions,
    file: File,
) -> Result<Box<dyn Encoder>, Error> {
    Ok(Box::new(FlacEncoder::new(spec, options, file)?))
}

/// Builds the frame encoder. 32-bit audio is coded without stereo
/// decorrelation: its side channel would need 33 bits, which RFC 9639
/// allows but libFLAC before 1.4 and our own decoder do not read.
fn frame_encoder(mut settings: Settings, spec: AudioSpec, bits: u32) -> own::FrameEncoder<i32> {
    if bits >= 32 {
        settings.stereo = Stereo::Independent;
    }
    own::FrameEncoder::new(bits, usize::from(spec.channels), spec.sample_rate, settings)
}

#[derive(Debug, Clone, Copy)]
struct SeekPoint {
    sample: u64,
    offset: u64,
    frames: u16,
}

/// Seek points gathered while encoding: one at the first frame starting at or
/// after every `interval` samples, thinned when the reserved room is full.
struct SeekTable {
    points: Vec<SeekPoint>,
    interval: u64,
    next: u64,
}

impl SeekTable {
    fn new(rate: u32) -> Self {
        SeekTable {
            points: Vec::with_capacity(SEEK_POINTS),
            interval: u64::from(rate) * SEEK_INTERVAL_SECONDS,
            next: 0,
        }
    }

    fn on_frame(&mut self, sample: u64, offset: u64, frames: u16) {
        if sample < self.next {
            return;
        }
        if self.points.len() == SEEK_POINTS {
            let mut i = 0;
            self.points.retain(|_| {
                i += 1;
                i % 2 == 1
            });
            self.interval *= 2;
            let last = self.points.last().map_or(0, |p| p.sample);
            self.next = (last / self.interval + 1) * self.interval;
            if sample < self.next {
                return;
            }
        }
        self.points.push(SeekPoint {
            sample,
            offset,
            frames,
        });
        self.next = (sample / self.interval + 1) * self.interval;
    }

    /// What replaces the reserved SEEKTABLE and PADDING blocks at the end of
    /// the stream: a SEEKTABLE of the used points only, then one PADDING block
    /// taking the unused reservation as well (tags can use it), of the same
    /// total size, so no frame moves.
    fn finished_blocks(&self) -> Vec<u8> {
        let used = self.points.len().min(SEEK_POINTS);
        let mut v = Vec::with_capacity(8 + SEEK_POINTS * SEEK_POINT_LEN + PADDING_LEN);
        push_block_header(&mut v, false, BLOCK_SEEKTABLE, used * SEEK_POINT_LEN);
        for p in self.points.iter().take(used) {
            v.extend_from_slice(&p.sample.to_be_bytes());
            v.extend_from_slice(&p.offset.to_be_bytes());
            v.extend_from_slice(&p.frames.to_be_bytes());
        }
        let padding = (SEEK_POINTS - used) * SEEK_POINT_LEN + PADDING_LEN;
        push_block_header(&mut v, true, BLOCK_PADDING, padding);
        v.resize(v.len() + padding, 0);
        v
    }

    /// The SEEKTABLE body: used points, then placeholders.
    fn bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(SEEK_POINTS * SEEK_POINT_LEN);
        for p in &self.points {
            v.extend_from_slice(&p.sample.to_be_bytes());
            v.extend_from_slice(&p.offset.to_be_bytes());
            v.extend_from_slice(&p.frames.to_be_bytes());
        }
        while v.len() < SEEK_POINTS * SEEK_POINT_LEN {
            v.extend_from_slice(&PLACEHOLDER.to_be_bytes());
            v.extend_from_slice(&[0; 10]);
        }
        v
    }
}

struct FlacEncoder {
    spec: AudioSpec,
    bits: u32,
    channels: usize,
    block_size: usize,
    out: BufWriter<File>,
    backend: Box<own::FrameEncoder<i32>>,
    /// Interleaved samples waiting for a whole block.
    pending: Vec<i32>,
    md5: Md5,
    md5_buf: Vec<u8>,
    frame: Vec<u8>,
    frame_number: u64,
    /// Inter-channel samples encoded so far.
    samples: u64,
    /// Bytes of frames written so far.
    frames_len: u64,
    min_frame: u32,
    max_frame: u32,
    seek: SeekTable,
}

impl FlacEncoder {
    fn new(spec: AudioSpec, options: &EncoderOptions, file: File) -> Result<Self, Error> {
        let level_no = options.level.unwrap_or(DEFAULT_LEVEL);
        let level = *LEVELS.get(usize::from(level_no)).ok_or_else(|| {
            Error::Encode(format!(
                "FLAC compression level {level_no} is out of range 0–8"
            ))
        })?;
        let bits = match spec.format {
            SampleFormat::Int { bits } if (4..=32).contains(&bits) => u32::from(bits),
            SampleFormat::Int { bits } => {
                return Err(Error::Unsupported(format!(
                    "{bits}-bit samples in FLAC (it holds 4 to 32 bits)"
                )));
            }
            SampleFormat::Float => {
                return Err(Error::Unsupported(
                    "float samples in FLAC (convert to integers first)".into(),
                ));
            }
        };
        if !(1..=8).contains(&spec.channels) {
            return Err(Error::Unsupported(format!(
                "{} channels in FLAC (it holds 1 to 8)",
                spec.channels
            )));
        }
        // STREAMINFO has 20 bits for the rate (RFC 9639 §8.2).
        if spec.sample_rate == 0 || spec.sample_rate > 1_048_575 {
            return Err(Error::Unsupported(format!(
                "a sample rate of {} Hz in FLAC (it holds 1 to 1048575 Hz)",
                spec.sample_rate
            )));
        }
        let backend = Box::new(frame_encoder(level, spec, bits));
        let channels = usize::from(spec.channels);

        let mut h = Vec::with_capacity(
            4 + 3 * 4 + STREAMINFO_LEN + SEEK_POINTS * SEEK_POINT_LEN + PADDING_LEN,
        );
        h.extend_from_slice(MARKER);
        push_block_header(&mut h, false, BLOCK_STREAMINFO, STREAMINFO_LEN);
        h.extend_from_slice(&[0; STREAMINFO_LEN]);
        push_block_header(&mut h, false, BLOCK_SEEKTABLE, SEEK_POINTS * SEEK_POINT_LEN);
        let seek = SeekTable::new(spec.sample_rate);
        h.extend_from_slice(&seek.bytes());
        push_block_header(&mut h, true, BLOCK_PADDING, PADDING_LEN);
        h.resize(h.len() + PADDING_LEN, 0);
        let mut out = BufWriter::with_capacity(1 << 16, file);
        out.write_all(&h)?;

        let mut enc = FlacEncoder {
            spec,
            bits,
            channels,
            block_size: level.block_size,
            out,
            backend,
            pending: Vec::with_capacity(level.block_size * channels),
            md5: Md5::new(),
            md5_buf: Vec::new(),
            frame: Vec::new(),
            frame_number: 0,
            samples: 0,
            frames_len: 0,
            min_frame: u32::MAX,
            max_frame: 0,
            seek,
        };
        // Write a valid STREAMINFO now, so the file is well-formed even
        // before finish.
        let info = enc.streaminfo();
        enc.out.seek(SeekFrom::Start(STREAMINFO_AT))?;
        enc.out.write_all(&info)?;
        enc.out.seek(SeekFrom::End(0))?;
        Ok(enc)
    }

    /// Adds samples to the MD5 of the input (RFC 9639 §8.2: interleaved,
    /// little-endian, signed, in whole bytes).
    fn hash(&mut self, samples: &[i32]) {
        let bytes = (self.bits as usize).div_ceil(8);
        let buf = &mut self.md5_buf;
        buf.clear();
        buf.resize(samples.len() * bytes, 0);
        match bytes {
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
                    b.copy_from_slice(&s.to_le_bytes()[..3]);
                }
            }
            _ => {
                for (b, &s) in buf.chunks_exact_mut(4).zip(samples) {
                    b.copy_from_slice(&s.to_le_bytes());
                }
            }
        }
        self.md5.update(&self.md5_buf);
    }

    /// Encodes whole interleaved frames (one block, or the short last one).
    fn encode_block(&mut self, samples: &[i32]) -> Result<(), Error> {
        if self.frame_number >= MAX_FRAMES {
            return Err(Error::Unsupported(
                "the stream is longer than FLAC's frame numbers can count".into(),
            ));
        }
        let n = samples.len() / self.channels;
        self.backend
            .encode(samples, self.frame_number, &mut self.frame);
        self.out.write_all(&self.frame)?;
        let len = self.frame.len() as u32;
        self.min_frame = self.min_frame.min(len);
        self.max_frame = self.max_frame.max(len);
        self.seek.on_frame(self.samples, self.frames_len, n as u16);
        self.frames_len += u64::from(len);
        self.samples += n as u64;
        self.frame_number += 1;
        Ok(())
    }

    fn streaminfo(&self) -> [u8; STREAMINFO_LEN] {
        let mut w = BitWriter::default();
        let bs = self.block_size as u64;
        let (min_frame, max_frame) = if self.max_frame == 0 {
            (0, 0)
        } else {
            (u64::from(self.min_frame), u64::from(self.max_frame))
        };
        // Frame sizes are 24-bit fields; 0 means unknown.
        let fit24 = |v: u64| if v < 1 << 24 { v } else { 0 };
        let total = if self.samples <= MAX_TOTAL_SAMPLES {
            self.samples
        } else {
            0
        };
        w.put(16, bs);
        w.put(16, bs);
        w.put(24, fit24(min_frame));
        w.put(24, fit24(max_frame));
        w.put(20, u64::from(self.spec.sample_rate));
        w.put(3, self.channels as u64 - 1);
        w.put(5, u64::from(self.bits) - 1);
        w.put_wide(36, total);
        w.align();
        let digest = self.md5.clone().finalize();
        let mut out = [0u8; STREAMINFO_LEN];
        for (o, b) in out.iter_mut().zip(w.bytes().iter().chain(digest.iter())) {
            *o = *b;
        }
        out
    }
}

/// A metadata block header (RFC 9639 §8.1): last flag, 7-bit type, 24-bit length.
fn push_block_header(v: &mut Vec<u8>, last: bool, kind: u8, len: usize) {
    v.push(u8::from(last) << 7 | kind);
    v.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
}

impl Encoder for FlacEncoder {
    fn write(&mut self, block: &Block) -> Result<(), Error> {
        super::wav::check_block(self.spec, block)?;
        let Samples::Int(input) = &block.samples else {
            return Err(Error::Encode("FLAC takes integer samples".into()));
        };
        self.hash(input);
        let whole = self.block_size * self.channels;
        let mut rest: &[i32] = input;
        if !self.pending.is_empty() {
            let take = (whole - self.pending.len()).min(rest.len());
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.pending.len() == whole {
                let pending = std::mem::take(&mut self.pending);
                let r = self.encode_block(&pending);
                self.pending = pending;
                self.pending.clear();
                r?;
            }
        }
        while rest.len() >= whole {
            let (now, later) = rest.split_at(whole);
            self.encode_block(now)?;
            rest = later;
        }
        self.pending.extend_from_slice(rest);
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<(), Error> {
        if !self.pending.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            self.encode_block(&pending)?;
        }
        let info = self.streaminfo();
        let tail = self.seek.finished_blocks();
        let out = &mut self.out;
        out.seek(SeekFrom::Start(STREAMINFO_AT))?;
        out.write_all(&info)?;
        out.seek(SeekFrom::Start(SEEKTABLE_AT - 4))?;
        out.write_all(&tail)?;
        out.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seek_table_thins_when_full() {
        let mut t = SeekTable::new(1000); // a point per 10 000 samples
        let mut s = 0;
        while s < 10_000 * (SEEK_POINTS as u64 + 10) {
            t.on_frame(s, s * 2, 4096);
            s += 4096;
        }
        assert!(t.points.len() <= SEEK_POINTS);
        assert_eq!(t.interval, 20_000);
        let samples: Vec<u64> = t.points.iter().map(|p| p.sample).collect();
        assert!(samples.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(samples[0], 0);
        assert!(samples.windows(2).all(|w| w[1] - w[0] <= 20_000 + 4096));
    }

    #[test]
    fn levels_follow_libflac() {
        assert_eq!(LEVELS[0].block_size, 1152);
        assert_eq!(LEVELS[3].block_size, 4096);
        let orders: Vec<usize> = LEVELS.iter().map(|l| l.max_lpc_order).collect();
        assert_eq!(orders, [0, 0, 0, 6, 8, 8, 8, 12, 12]);
    }
}
