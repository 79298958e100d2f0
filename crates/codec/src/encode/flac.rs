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
//! # Threads
//!
//! With [`EncoderOptions::threads`] above 1, or a job's
//! [`EncoderOptions::budget`] of more than one thread, frames are encoded
//! in batches of whole blocks on up to that many threads, the calling one
//! included ([`parallel`]): helper threads work while they hold a slot of
//! the budget (a budget of `threads` of the encoder's own, or the job's,
//! whose free slots it borrows one batch at a time, bounded by `threads`
//! when set); the calling thread keeps the MD5 (in input order), writes the
//! frames in order, and encodes what no helper is free to take. A frame's coding depends only on its own
//! samples, except under adaptive stereo (levels 1 and 4), where the
//! assignment chosen on every `period`-th frame number holds until the
//! next: batches start on such frame numbers, so every thread makes the
//! decisions one thread would, and the output is byte-identical to one
//! thread's. A bounded number of batches is in flight (about
//! 3 × threads, each of about 64 Ki inter-channel samples).
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
//! As in libFLAC, no level searches every model order (`-e`) or
//! coefficient precision (`-p`): the LPC order comes from the
//! Levinson-Durbin error estimate and the precision from the block size
//! and depth. The full precision search exists (`Settings::precision_search`,
//! tested to never pick a coding it estimates larger) but stays off: trying
//! the 11 precisions made level 8 six times slower on the benchmark corpus
//! for a file 0.1 % smaller, far below the speed of `flac -8`.
//!
//! Levels 7 and 8 do try a cheap variant (`Settings::precision_steps`, 2):
//! once the best coding of a subframe is chosen, if it is LPC, its
//! predictor is quantised again at 1 and 2 bits below the default
//! precision and kept if it codes smaller. On the corpus, one thread, 3
//! runs each in the same run as `flac`, level 7 went from 0.952 s to
//! 1.058 s (1.44x the speed of `flac -7`'s 1.520 s) and 0.020 % smaller
//! (0.018 % below `flac -7`); level 8 from 1.589 s to 1.672 s (1.27x
//! `flac -8`'s 2.127 s) and 0.015 % smaller (0.039 % below `flac -8`).
//! Both stay at least as fast as the same `flac` level and no larger, the
//! bar for turning it on; levels 0–6 keep libFLAC's single precision.
//! Trying the lower precisions on every window's candidate instead made
//! level 8 0.83x the speed of `flac -8` and was rejected (figures in
//! bench/RESULTS.md).
//!
//! # 32-bit stereo
//!
//! The side channel of 32-bit audio takes 33 bits (RFC 9639 §4.2: side =
//! L − R, coded with one bit more than the input; mid = (L + R) >> 1). Its
//! frame encoder holds the signals in `i64` (`own::Frames::Wide`), so every
//! stereo assignment is tried at 32 bits as at any other depth; files with
//! a 33-bit side channel need libFLAC 1.4 or later (or our decoder) to
//! read.

mod bits;
mod kernels;
mod lpc;
mod own;
mod parallel;
mod rice;
mod simd;

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};

use aj_core::{AudioSpec, Block, SampleFormat, Samples, Slot, ThreadBudget};
use md5::{Digest, Md5};

use super::{Encoder, EncoderOptions};
use crate::Error;
use bits::BitWriter;
use own::{Apodization, Settings, Stereo};
use parallel::{Batch, Pool};

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
/// Inter-channel samples per batch handed to a worker thread (rounded up to
/// whole blocks and to whole adaptive stereo periods).
const BATCH_SAMPLES: usize = 65_536;
/// More threads than this are not used, whatever is asked.
const MAX_THREADS: usize = 64;

/// Precisions below the default also tried at levels 7 and 8 (see the
/// module docs).
const PRECISION_STEPS_7: u32 = 2;
const PRECISION_STEPS_8: u32 = 2;

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
        precision_steps: u32,
    ) -> Settings {
        Settings {
            block_size,
            max_lpc_order,
            stereo,
            max_partition_order,
            apodizations,
            precision_search: false,
            precision_steps,
        }
    }
    use Stereo::{Adaptive as A, Exhaustive as E, Independent as I};
    [
        l(1152, 0, I, 3, TUKEY, 0),
        l(1152, 0, A, 3, TUKEY, 0),
        l(1152, 0, E, 3, TUKEY, 0),
        l(4096, 6, I, 4, TUKEY, 0),
        l(4096, 8, A, 4, TUKEY, 0),
        l(4096, 8, E, 5, TUKEY, 0),
        l(4096, 8, E, 6, SUBDIVIDE_2, 0),
        l(4096, 12, E, 6, SUBDIVIDE_2, PRECISION_STEPS_7),
        l(4096, 12, E, 6, SUBDIVIDE_3, PRECISION_STEPS_8),
    ]
};

pub(super) fn create(
    spec: AudioSpec,
    options: &EncoderOptions,
    file: File,
) -> Result<Box<dyn Encoder>, Error> {
    Ok(Box::new(FlacEncoder::new(spec, options, file)?))
}

/// Builds the frame encoder (its signals in `i64` for 32-bit stereo, whose
/// side channel takes 33 bits).
fn frame_encoder(settings: Settings, spec: AudioSpec, bits: u32) -> own::Frames {
    own::Frames::new(bits, usize::from(spec.channels), spec.sample_rate, settings)
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

/// Where frames go, and what STREAMINFO and the seek table learn from them.
struct Output {
    out: BufWriter<File>,
    /// Frames written so far.
    frames: u64,
    /// Inter-channel samples written so far.
    samples: u64,
    /// Bytes of frames written so far.
    frames_len: u64,
    min_frame: u32,
    max_frame: u32,
    seek: SeekTable,
}

impl Output {
    /// Writes one frame of `n` inter-channel samples.
    fn frame(&mut self, frame: &[u8], n: usize) -> Result<(), Error> {
        self.out.write_all(frame)?;
        let len = frame.len() as u32;
        self.min_frame = self.min_frame.min(len);
        self.max_frame = self.max_frame.max(len);
        self.seek.on_frame(self.samples, self.frames_len, n as u16);
        self.frames_len += u64::from(len);
        self.samples += n as u64;
        self.frames += 1;
        Ok(())
    }

    /// Writes the frames of an encoded batch, in order.
    fn batch(&mut self, b: &Batch, block_size: usize, channels: usize) -> Result<(), Error> {
        let mut left = b.samples.len() / channels;
        let mut at = 0usize;
        for &len in &b.lens {
            let end = at + len as usize;
            let frame = b.bytes.get(at..end).ok_or_else(|| {
                Error::Encode("a FLAC encoder thread returned a damaged batch".into())
            })?;
            let n = left.min(block_size);
            self.frame(frame, n)?;
            left -= n;
            at = end;
        }
        Ok(())
    }
}

/// Frames encoded on helper threads ([`parallel`]).
struct Threads {
    /// Helper threads at most: threads in all less the calling one (1 or
    /// more).
    helpers: usize,
    /// Where helpers get a slot for each batch: the job's, or the
    /// encoder's own.
    budget: ThreadBudget,
    /// The calling thread's slot of the encoder's own budget (with a job's
    /// budget, the caller holds its slot).
    _own: Option<Slot>,
    /// Interleaved samples of one batch.
    batch_len: usize,
    /// The batch being filled.
    current: Vec<i32>,
    /// Frame number of the next batch.
    next_frame: u64,
    /// Made with the first full batch: a stream shorter than one batch is
    /// encoded on the calling thread.
    pool: Option<Pool>,
    /// Batches written, kept for their buffers.
    free: Vec<Batch>,
}

struct FlacEncoder {
    spec: AudioSpec,
    bits: u32,
    channels: usize,
    block_size: usize,
    settings: Settings,
    output: Output,
    backend: Box<own::Frames>,
    /// Interleaved samples waiting for a whole block (one thread).
    pending: Vec<i32>,
    md5: Md5,
    md5_buf: Vec<u8>,
    frame: Vec<u8>,
    /// `Some` when encoding on more than one thread.
    threads: Option<Threads>,
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
        // With a job's budget, up to its total (or fewer, as the options
        // say); alone, the threads the options ask for, on a budget of
        // their own of which the calling thread holds one slot.
        let budget = match &options.budget {
            Some(b) => {
                let n = options.threads.unwrap_or(b.total()).min(b.total());
                (n.min(MAX_THREADS), b.clone(), None)
            }
            None => {
                let n = options.threads.unwrap_or(1).min(MAX_THREADS);
                let own = ThreadBudget::new(n);
                let caller = own.try_acquire();
                (n, own, caller)
            }
        };
        let threads = match budget {
            (0 | 1, _, _) => None,
            (n, budget, own) => {
                // Whole blocks, and whole runs of frames that encode alike
                // on any encoder (adaptive stereo periods).
                let run = backend.independent_run() as usize;
                let blocks = BATCH_SAMPLES.div_ceil(level.block_size).div_ceil(run) * run;
                Some(Threads {
                    helpers: n - 1,
                    budget,
                    _own: own,
                    batch_len: blocks * level.block_size * channels,
                    current: Vec::new(),
                    next_frame: 0,
                    pool: None,
                    free: Vec::new(),
                })
            }
        };

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
            settings: level,
            output: Output {
                out,
                frames: 0,
                samples: 0,
                frames_len: 0,
                min_frame: u32::MAX,
                max_frame: 0,
                seek,
            },
            backend,
            pending: Vec::new(),
            md5: Md5::new(),
            md5_buf: Vec::new(),
            frame: Vec::new(),
            threads,
        };
        if enc.threads.is_none() {
            enc.pending.reserve(level.block_size * channels);
        }
        // Write a valid STREAMINFO now, so the file is well-formed even
        // before finish.
        let info = enc.streaminfo();
        let out = &mut enc.output.out;
        out.seek(SeekFrom::Start(STREAMINFO_AT))?;
        out.write_all(&info)?;
        out.seek(SeekFrom::End(0))?;
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

    /// Encodes whole interleaved frames (one block, or the short last one)
    /// on the calling thread.
    fn encode_block(&mut self, samples: &[i32]) -> Result<(), Error> {
        if self.output.frames >= MAX_FRAMES {
            return Err(too_many_frames());
        }
        let n = samples.len() / self.channels;
        self.frame.clear();
        self.backend
            .encode(samples, self.output.frames, &mut self.frame);
        self.output.frame(&self.frame, n)
    }

    /// Sends the batch being filled to the helpers (making the pool the
    /// first time), and writes every batch already encoded.
    fn send_batch(&mut self) -> Result<(), Error> {
        let (settings, spec, bits) = (self.settings, self.spec, self.bits);
        let whole = self.block_size * self.channels;
        let (block_size, channels) = (self.block_size, self.channels);
        let Some(t) = self.threads.as_mut() else {
            return Ok(());
        };
        let blocks = t.current.len().div_ceil(whole) as u64;
        if t.next_frame + blocks > MAX_FRAMES {
            return Err(too_many_frames());
        }
        let mut batch = t.free.pop().unwrap_or_default();
        batch.samples.clear();
        std::mem::swap(&mut batch.samples, &mut t.current);
        batch.first_frame = t.next_frame;
        t.next_frame += blocks;
        let pool = match &mut t.pool {
            Some(p) => p,
            None => t
                .pool
                .insert(Pool::new(t.helpers, whole, t.budget.clone(), move || {
                    frame_encoder(settings, spec, bits)
                })),
        };
        while pool.full() {
            if let Some(done) = pool.take(true, &mut self.backend)? {
                self.output.batch(&done, block_size, channels)?;
                t.free.push(done);
            }
        }
        pool.send(batch, &mut self.backend);
        while let Some(done) = pool.take(false, &mut self.backend)? {
            self.output.batch(&done, block_size, channels)?;
            t.free.push(done);
        }
        Ok(())
    }

    /// Encodes what is left and writes every frame still in flight.
    fn finish_threads(&mut self) -> Result<(), Error> {
        let whole = self.block_size * self.channels;
        let Some(t) = self.threads.as_mut() else {
            return Ok(());
        };
        if t.pool.is_none() {
            // Shorter than one batch: no thread was started.
            if !t.current.is_empty() {
                let mut batch = Batch {
                    first_frame: t.next_frame,
                    samples: std::mem::take(&mut t.current),
                    ..Batch::default()
                };
                parallel::encode_batch(&mut self.backend, &mut batch, whole);
                self.output.batch(&batch, self.block_size, self.channels)?;
            }
            return Ok(());
        }
        if !t.current.is_empty() {
            self.send_batch()?;
        }
        let Some(pool) = self.threads.as_mut().and_then(|t| t.pool.as_mut()) else {
            return Ok(());
        };
        while pool.len() > 0 {
            if let Some(done) = pool.take(true, &mut self.backend)? {
                self.output.batch(&done, self.block_size, self.channels)?;
            }
        }
        Ok(())
    }

    fn streaminfo(&self) -> [u8; STREAMINFO_LEN] {
        let mut w = BitWriter::default();
        let bs = self.block_size as u64;
        let o = &self.output;
        let (min_frame, max_frame) = if o.max_frame == 0 {
            (0, 0)
        } else {
            (u64::from(o.min_frame), u64::from(o.max_frame))
        };
        // Frame sizes are 24-bit fields; 0 means unknown.
        let fit24 = |v: u64| if v < 1 << 24 { v } else { 0 };
        let total = if o.samples <= MAX_TOTAL_SAMPLES {
            o.samples
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

fn too_many_frames() -> Error {
    Error::Unsupported("the stream is longer than FLAC's frame numbers can count".into())
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
        let mut rest: &[i32] = input;
        if let Some(t) = self.threads.as_mut() {
            let batch_len = t.batch_len;
            while !rest.is_empty() {
                let Some(t) = self.threads.as_mut() else {
                    break;
                };
                if t.current.capacity() < batch_len {
                    t.current.reserve_exact(batch_len - t.current.len());
                }
                let take = (batch_len - t.current.len()).min(rest.len());
                t.current.extend_from_slice(&rest[..take]);
                rest = &rest[take..];
                if t.current.len() == batch_len {
                    self.send_batch()?;
                }
            }
            return Ok(());
        }
        let whole = self.block_size * self.channels;
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
        if self.threads.is_some() {
            self.finish_threads()?;
            // Stop the workers before the file is completed.
            self.threads = None;
        } else if !self.pending.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            self.encode_block(&pending)?;
        }
        let info = self.streaminfo();
        let tail = self.output.seek.finished_blocks();
        let out = &mut self.output.out;
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
    #![allow(clippy::unwrap_used)]
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

    /// Frames coded with the precision search decode bit-exactly.
    #[test]
    fn precision_search_round_trips() {
        let spec = AudioSpec::int(44100, 2, 16);
        let x: Vec<i32> = (0..20_000 * 2)
            .map(|i| {
                let t = (i / 2) as f64 / 44100.0;
                let v = (2.0 * std::f64::consts::PI * (440.0 + (i % 2) as f64 * 3.0) * t).sin()
                    * 12_000.0
                    + (i * 7919 % 61) as f64;
                v as i32
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.flac");
        let file = File::create(&path).unwrap();
        let options = EncoderOptions {
            level: Some(8),
            ..Default::default()
        };
        let mut enc = FlacEncoder::new(spec, &options, file).unwrap();
        let settings = Settings {
            precision_search: true,
            ..LEVELS[8]
        };
        enc.backend = Box::new(frame_encoder(settings, spec, 16));
        let mut enc: Box<dyn Encoder> = Box::new(enc);
        enc.write(&Block {
            spec,
            samples: Samples::Int(x.clone()),
        })
        .unwrap();
        enc.finish().unwrap();
        let mut dec = crate::decode::open(&path).unwrap();
        let mut got = Vec::new();
        while let Some(b) = dec.read(4096).unwrap() {
            got.extend_from_slice(b.as_int().unwrap());
        }
        assert!(got == x);
    }

    /// A sweep with a little noise, `frames` long, stereo 16-bit.
    fn signal(frames: usize) -> Vec<i32> {
        let sweep = aj_testkit::sweep(frames, 2, 44100, 16, 50.0, 15_000.0);
        let noise = aj_testkit::noise(frames, 2, 6, 7);
        sweep.iter().zip(&noise).map(|(a, b)| a + b).collect()
    }

    fn block(samples: &[i32]) -> Block {
        Block {
            spec: AudioSpec::int(44100, 2, 16),
            samples: Samples::Int(samples.to_vec()),
        }
    }

    /// Encodes `input` in one piece on the calling thread only.
    fn one_thread(input: &[i32], level: u8) -> Vec<u8> {
        let file = tempfile::tempfile().unwrap();
        let mut read = file.try_clone().unwrap();
        let options = EncoderOptions {
            level: Some(level),
            ..Default::default()
        };
        let mut enc: Box<dyn Encoder> =
            Box::new(FlacEncoder::new(AudioSpec::int(44100, 2, 16), &options, file).unwrap());
        enc.write(&block(input)).unwrap();
        enc.finish().unwrap();
        let mut v = Vec::new();
        read.seek(SeekFrom::Start(0)).unwrap();
        std::io::Read::read_to_end(&mut read, &mut v).unwrap();
        v
    }

    fn helpers(enc: &FlacEncoder) -> usize {
        enc.threads
            .as_ref()
            .and_then(|t| t.pool.as_ref())
            .map_or(0, Pool::helpers)
    }

    /// On a job's budget, helpers start only when a slot is free (here when
    /// another "file" gives its slot back halfway), the bytes are those of
    /// one thread, and every slot comes back.
    #[test]
    fn job_budget_lends_free_slots_and_keeps_the_bytes() {
        let frames = 8 * BATCH_SAMPLES + 1234;
        let input = signal(frames);
        for level in [1u8, 5] {
            let budget = ThreadBudget::new(3);
            let caller = budget.try_acquire().unwrap();
            let others = budget.try_acquire_many(2);
            let file = tempfile::tempfile().unwrap();
            let mut read = file.try_clone().unwrap();
            let options = EncoderOptions {
                level: Some(level),
                budget: Some(budget.clone()),
                ..Default::default()
            };
            let mut enc = FlacEncoder::new(AudioSpec::int(44100, 2, 16), &options, file).unwrap();
            let half = (frames / 2) * 2;
            for piece in input[..half].chunks(10_000) {
                enc.write(&block(piece)).unwrap();
            }
            assert_eq!(helpers(&enc), 0, "no free slot, yet a helper started");
            assert_eq!(budget.free(), 0);
            drop(others);
            for piece in input[half..].chunks(10_000) {
                enc.write(&block(piece)).unwrap();
                assert!(budget.in_use() <= 3);
            }
            assert!(helpers(&enc) >= 1, "slots were free, no helper started");
            Box::new(enc).finish().unwrap();
            assert_eq!(budget.free(), 2, "slots kept after the encoder finished");
            drop(caller);
            let mut got = Vec::new();
            read.seek(SeekFrom::Start(0)).unwrap();
            std::io::Read::read_to_end(&mut read, &mut got).unwrap();
            assert!(
                got == one_thread(&input, level),
                "level {level}: bytes differ"
            );
        }
    }

    /// `threads` stays the most an encoder uses on a larger budget.
    #[test]
    fn threads_bound_a_job_budget() {
        let budget = ThreadBudget::new(4);
        let caller = budget.try_acquire().unwrap();
        let options = EncoderOptions {
            threads: Some(2),
            budget: Some(budget.clone()),
            ..Default::default()
        };
        let input = signal(6 * BATCH_SAMPLES);
        let file = tempfile::tempfile().unwrap();
        let mut enc = FlacEncoder::new(AudioSpec::int(44100, 2, 16), &options, file).unwrap();
        for piece in input.chunks(50_000) {
            enc.write(&block(piece)).unwrap();
            assert!(budget.in_use() <= 2, "more than 2 threads");
        }
        assert_eq!(helpers(&enc), 1);
        Box::new(enc).finish().unwrap();
        drop(caller);
        assert_eq!(budget.free(), 4);
        // Threads 1 on a budget: the calling thread only.
        let options = EncoderOptions {
            threads: Some(1),
            budget: Some(budget),
            ..Default::default()
        };
        let enc = FlacEncoder::new(
            AudioSpec::int(44100, 2, 16),
            &options,
            tempfile::tempfile().unwrap(),
        )
        .unwrap();
        assert!(enc.threads.is_none());
    }

    /// An encoder dropped halfway (a cancelled job) stops its helpers and
    /// gives back every slot it borrowed.
    #[test]
    fn dropped_encoder_gives_back_its_slots() {
        let budget = ThreadBudget::new(4);
        let caller = budget.try_acquire().unwrap();
        let options = EncoderOptions {
            budget: Some(budget.clone()),
            ..Default::default()
        };
        let input = signal(6 * BATCH_SAMPLES);
        let file = tempfile::tempfile().unwrap();
        let mut enc = FlacEncoder::new(AudioSpec::int(44100, 2, 16), &options, file).unwrap();
        for piece in input.chunks(50_000) {
            enc.write(&block(piece)).unwrap();
        }
        assert!(helpers(&enc) >= 1);
        drop(enc);
        assert_eq!(budget.free(), 3);
        drop(caller);
        assert_eq!(budget.free(), 4);
    }

    #[test]
    fn levels_follow_libflac() {
        assert_eq!(LEVELS[0].block_size, 1152);
        assert_eq!(LEVELS[3].block_size, 4096);
        let orders: Vec<usize> = LEVELS.iter().map(|l| l.max_lpc_order).collect();
        assert_eq!(orders, [0, 0, 0, 6, 8, 8, 8, 12, 12]);
    }
}
