//! [`FileSink`]: an encoder writing an output file, as a pipeline [`Sink`].
//!
//! It puts together the pieces every job that writes audio files needs — the
//! converter, later the ripper and the recorder: an encoder writing into a
//! [`PendingOutput`], the tags written once the audio is complete, for lossless
//! formats a second decode of the output compared with what was written, and
//! last the atomic rename.

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use aj_core::{AudioSpec, Block, CancelToken, SampleFormat, Samples, Sink, Slot, ThreadBudget};
use xxhash_rust::xxh3::Xxh3;

use crate::encode::{self, Encoder, EncoderOptions};
use crate::output::PendingOutput;
use crate::tags::{self, Tags};
use crate::{decode, Error, Format};

/// Frames per block read back when verifying.
const VERIFY_BLOCK_FRAMES: usize = 8192;
/// Frames per read of raw PCM sample data when verifying.
const VERIFY_RAW_FRAMES: usize = 32_768;
/// Samples (at least) per block handed from the decoding thread to the
/// hashing thread when a FLAC output is verified on two threads: a few
/// frames, small enough to stay in the caches.
const PIPE_BLOCK_SAMPLES: usize = 32_768;
/// Blocks decoded ahead of the hashing thread, at most.
const PIPE_DEPTH: usize = 4;

/// What to write and how.
#[derive(Debug, Clone)]
pub struct FileSinkOptions {
    pub format: Format,
    pub encoder: EncoderOptions,
    pub tags: Tags,
    pub overwrite: bool,
    /// Decode the output again and compare (lossless formats only).
    pub verify: bool,
}

/// An output file being written.
pub struct FileSink {
    target: PathBuf,
    spec: AudioSpec,
    options: FileSinkOptions,
    pending: PendingOutput,
    encoder: Box<dyn Encoder>,
    digest: Option<SampleDigest>,
    /// FLAC metadata blocks written with the tags.
    blocks: Vec<(u8, Vec<u8>)>,
}

impl FileSink {
    /// Starts writing `target` (which must not exist unless overwriting);
    /// `spec` must be what [`encode::input_spec`] gives for the format.
    ///
    /// # Errors
    /// [`Error::Exists`], I/O errors creating the temporary file, and the
    /// encoder's refusal of `spec` or the options.
    pub fn create(target: &Path, spec: AudioSpec, options: FileSinkOptions) -> Result<Self, Error> {
        let pending = PendingOutput::create(target, options.overwrite)?;
        let encoder = encode::create(options.format, spec, &options.encoder, pending.file()?)?;
        let digest =
            (options.verify && options.format.is_lossless()).then(|| SampleDigest::new(spec));
        Ok(FileSink {
            target: target.to_path_buf(),
            spec,
            options,
            pending,
            encoder,
            digest,
            blocks: Vec::new(),
        })
    }

    /// The tags [`FileSink::finish_verified`] will write. A stage that learns
    /// something from the audio itself (its loudness) adds to them until then.
    pub fn tags_mut(&mut self) -> &mut Tags {
        &mut self.options.tags
    }

    /// A FLAC metadata block (type, body) to write with the tags, replacing
    /// any of its type ([`tags::write_with_blocks`]).
    ///
    /// # Errors
    /// [`Error::Unsupported`] when the output is not FLAC.
    pub fn add_flac_block(&mut self, ty: u8, body: Vec<u8>) -> Result<(), Error> {
        if self.options.format != Format::Flac {
            return Err(Error::Unsupported(format!(
                "metadata blocks belong to FLAC, not .{} files",
                self.options.format.extension()
            )));
        }
        self.blocks.push((ty, body));
        Ok(())
    }

    /// True when [`FileSink::finish_verified`] will verify the output.
    pub fn verifies(&self) -> bool {
        self.digest.is_some()
    }

    /// Completes the file: flushes the encoder, writes the tags, verifies
    /// (when asked, stopping early if `cancel` is set) and renames it into
    /// place. Returns whether the output was verified.
    ///
    /// # Errors
    /// I/O, tag writing, a verification mismatch, [`Error::Exists`] if the target
    /// appeared meanwhile, or cancellation; in every case nothing is left at
    /// the target path.
    pub fn finish_verified(self, cancel: &CancelToken) -> Result<bool, Error> {
        let (verified, pending) = self.complete(cancel)?;
        pending.commit()?;
        Ok(verified)
    }

    /// [`FileSink::finish_verified`], except that the file never replaces
    /// another: when the target exists at the end, the output takes the
    /// first free `STEM (n).EXT` ([`PendingOutput::commit_numbered`]),
    /// whatever `overwrite` said. Returns whether the output was verified
    /// and where it is.
    ///
    /// # Errors
    /// As [`FileSink::finish_verified`], without [`Error::Exists`].
    pub fn finish_numbered(self, cancel: &CancelToken) -> Result<(bool, PathBuf), Error> {
        let (verified, pending) = self.complete(cancel)?;
        let path = pending.commit_numbered()?;
        Ok((verified, path))
    }

    /// Everything but the rename: flush, tags, verification.
    fn complete(self, cancel: &CancelToken) -> Result<(bool, PendingOutput), Error> {
        let FileSink {
            target,
            spec,
            options,
            pending,
            encoder,
            digest,
            blocks,
        } = self;
        encoder.finish()?;
        if !options.tags.is_empty() || !blocks.is_empty() {
            tags::write_with_blocks(pending.temp_path(), options.format, &options.tags, &blocks)?;
        }
        // A FLAC output may be read back on two threads when the job has a
        // thread to spare.
        let budget = match options.format {
            Format::Flac => options.encoder.budget.as_ref(),
            _ => None,
        };
        let verified = match digest {
            Some(written) => {
                verify(pending.temp_path(), spec, written, budget, cancel)
                    .map_err(|e| Error::Corrupt(format!("verifying {}: {e}", target.display())))?;
                true
            }
            None => false,
        };
        cancel.check()?;
        Ok((verified, pending))
    }
}

impl Sink for FileSink {
    fn spec(&self) -> AudioSpec {
        self.spec
    }

    fn write(&mut self, block: &Block) -> Result<(), aj_core::Error> {
        if block.spec != self.spec {
            return Err(aj_core::Error::SpecMismatch {
                expected: self.spec,
                actual: block.spec,
            });
        }
        if let Some(d) = self.digest.as_mut() {
            d.update(&block.samples);
        }
        Ok(self.encoder.write(block)?)
    }

    fn finish(self: Box<Self>) -> Result<(), aj_core::Error> {
        self.finish_verified(&CancelToken::new())
            .map(|_| ())
            .map_err(Into::into)
    }
}

/// A running digest of samples and their count, to compare the samples
/// written with the samples read back. It is never stored, so it needs no
/// cryptographic strength: a 128-bit XXH3 over the samples in the layout of
/// [`decode::canonical_bytes`] (exact bit patterns at the stream's width),
/// which is also the byte layout of most WAV sample data, so that a WAV
/// output is checked from its raw bytes.
struct SampleDigest {
    hash: Xxh3,
    /// Integer samples: their width in bits.
    bits: u8,
    samples: u64,
    /// An integer sample written did not fit in `bits` bits (the canonical
    /// layout would hide its upper bits).
    too_wide: bool,
    buf: Vec<u8>,
}

impl SampleDigest {
    fn new(spec: AudioSpec) -> Self {
        SampleDigest {
            hash: Xxh3::new(),
            bits: match spec.format {
                SampleFormat::Int { bits } => bits,
                SampleFormat::Float => 32,
            },
            samples: 0,
            too_wide: false,
            buf: Vec::new(),
        }
    }

    fn update(&mut self, samples: &Samples) {
        self.buf.clear();
        self.too_wide |= !decode::canonical_bytes(samples, self.bits, &mut self.buf);
        self.hash.update(&self.buf);
        self.samples += samples.len() as u64;
    }

    /// [`SampleDigest::update`] of integer samples; returns the bytes
    /// hashed (the samples in the canonical layout).
    fn update_int(&mut self, samples: &[i32]) -> &[u8] {
        self.buf.clear();
        self.too_wide |= !decode::canonical_int_bytes(samples, self.bits, &mut self.buf);
        self.hash.update(&self.buf);
        self.samples += samples.len() as u64;
        &self.buf
    }

    /// Samples already in the canonical layout, `width` bytes each.
    fn update_raw(&mut self, bytes: &[u8], width: usize) {
        self.hash.update(bytes);
        self.samples += (bytes.len() / width.max(1)) as u64;
    }

    fn finish(self) -> (u128, u64) {
        (self.hash.digest128(), self.samples)
    }
}

/// Decodes `path` and checks it holds exactly the samples digested in `written`.
///
/// A native FLAC file is decoded on two threads when `budget` has a free
/// slot (see [`verify_flac_pipelined`]); otherwise, and for every other
/// file, on the calling thread.
fn verify(
    path: &Path,
    spec: AudioSpec,
    written: SampleDigest,
    budget: Option<&ThreadBudget>,
    cancel: &CancelToken,
) -> Result<(), String> {
    if written.too_wide {
        return Err(format!(
            "a sample written does not fit in {} bits",
            written.bits
        ));
    }
    let mut back = SampleDigest::new(spec);
    let pipelined = match budget.and_then(ThreadBudget::try_acquire) {
        Some(slot) => verify_flac_pipelined(path, spec, slot, cancel)?,
        None => None,
    };
    if let Some(digest) = pipelined {
        back = digest;
    } else if let Some(mut raw) = decode::open_raw_pcm(path).map_err(|e| e.to_string())? {
        // WAV/AIFF-C whose bytes are the canonical layout: hash them as
        // they are, no decoding.
        check_spec(raw.spec(), spec)?;
        let width = match spec.format {
            SampleFormat::Int { bits } => usize::from(bits.div_ceil(8)),
            SampleFormat::Float => 4,
        };
        while let Some(bytes) = raw.read(VERIFY_RAW_FRAMES).map_err(|e| e.to_string())? {
            cancel.check().map_err(|e| e.to_string())?;
            back.update_raw(bytes, width);
        }
    } else {
        let mut decoder = decode::open(path).map_err(|e| e.to_string())?;
        check_spec(decoder.spec(), spec)?;
        while let Some(block) = decoder
            .read(VERIFY_BLOCK_FRAMES)
            .map_err(|e| e.to_string())?
        {
            cancel.check().map_err(|e| e.to_string())?;
            back.update(&block.samples);
        }
    }
    let (written, back) = (written.finish(), back.finish());
    if written.1 != back.1 {
        return Err(format!(
            "the output holds {} samples, {} were written",
            back.1, written.1
        ));
    }
    if written.0 != back.0 {
        return Err("the decoded output differs from the samples written".into());
    }
    Ok(())
}

/// Reads a native FLAC file back on two threads: the calling thread
/// decodes frames (checking CRCs, frame numbers and the length) and hands
/// blocks of samples over a bounded channel to a thread holding `slot`,
/// which computes both STREAMINFO's MD5 and the [`SampleDigest`] from one
/// packing of the samples; the blocks come back to the decoder to be
/// filled again. Returns the digest of the samples read back, once the MD5
/// was checked, or `Ok(None)` when the file is not native FLAC or no thread
/// could be started (the caller then verifies on its own thread).
///
/// Errors are those of the one-thread path, in the same order: damage the
/// decoder finds, cancellation, then a wrong MD5. The hashing thread is
/// joined before this returns, whatever happened, and gives its slot back
/// as it ends.
fn verify_flac_pipelined(
    path: &Path,
    spec: AudioSpec,
    slot: Slot,
    cancel: &CancelToken,
) -> Result<Option<SampleDigest>, String> {
    let Some((mut frames, md5)) =
        decode::open_flac_deferred_md5(path).map_err(|e| e.to_string())?
    else {
        return Ok(None);
    };
    check_spec(frames.spec(), spec)?;
    let (full_tx, full_rx) = mpsc::sync_channel::<Vec<i32>>(PIPE_DEPTH);
    let (empty_tx, empty_rx) = mpsc::channel::<Vec<i32>>();
    std::thread::scope(|scope| {
        let hasher = std::thread::Builder::new()
            .name("flac-verify".into())
            .spawn_scoped(scope, move || {
                let _slot = slot;
                let mut md5 = md5;
                let mut back = SampleDigest::new(spec);
                // Ends when the decoder drops its sender (at the end, on an
                // error or on cancellation).
                for block in full_rx {
                    let bytes = back.update_int(&block);
                    if let Some(m) = md5.as_mut() {
                        m.update(bytes);
                    }
                    // The decoder may have stopped meanwhile: nothing to reuse.
                    let _ = empty_tx.send(block);
                }
                (back, md5)
            });
        let Ok(hasher) = hasher else {
            return Ok(None);
        };
        let decoded = (|| -> Result<(), String> {
            loop {
                cancel.check().map_err(|e| e.to_string())?;
                let mut block = empty_rx
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(2 * PIPE_BLOCK_SAMPLES));
                block.clear();
                let more = frames
                    .decode_frames(&mut block, PIPE_BLOCK_SAMPLES)
                    .map_err(|e| e.to_string())?;
                if !block.is_empty() && full_tx.send(block).is_err() {
                    return Err("the verification's hashing thread stopped early".into());
                }
                if !more {
                    return Ok(());
                }
            }
        })();
        // Closing the channel ends the hashing thread.
        drop(full_tx);
        let hashed = hasher.join();
        decoded?;
        let (back, md5) =
            hashed.map_err(|_| "the verification's hashing thread failed".to_string())?;
        if let Some(m) = md5 {
            m.check().map_err(|e| e.to_string())?;
        }
        Ok(Some(back))
    })
}

fn check_spec(got: AudioSpec, spec: AudioSpec) -> Result<(), String> {
    if got != spec {
        return Err(format!(
            "the output reads back as {} Hz, {} channels, {:?} instead of {} Hz, {} channels, {:?}",
            got.sample_rate, got.channels, got.format, spec.sample_rate, spec.channels, spec.format
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn opts(format: Format) -> FileSinkOptions {
        FileSinkOptions {
            format,
            encoder: EncoderOptions::default(),
            tags: Tags::new(),
            overwrite: false,
            verify: true,
        }
    }

    #[test]
    fn writes_verifies_and_renames() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("x.flac");
        let spec = AudioSpec::int(44100, 2, 16);
        let mut sink = FileSink::create(&target, spec, opts(Format::Flac)).unwrap();
        assert!(sink.verifies());
        let samples = aj_testkit::noise(5000, 2, 16, 3);
        sink.write(&Block {
            spec,
            samples: Samples::Int(samples),
        })
        .unwrap();
        assert!(!target.exists());
        assert!(sink.finish_verified(&CancelToken::new()).unwrap());
        assert!(target.exists());
    }

    #[test]
    fn wrong_spec_and_cancel_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("x.wav");
        let spec = AudioSpec::int(44100, 1, 16);
        let mut sink = FileSink::create(&target, spec, opts(Format::Wav)).unwrap();
        let wrong = Block {
            spec: AudioSpec::int(48000, 1, 16),
            samples: Samples::Int(vec![0; 4]),
        };
        assert!(sink.write(&wrong).is_err());
        sink.write(&Block {
            spec,
            samples: Samples::Int(vec![1; 400]),
        })
        .unwrap();
        let cancel = CancelToken::new();
        cancel.cancel();
        assert!(sink.finish_verified(&cancel).is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn digest_sees_every_bit() {
        let spec = AudioSpec::float(48000, 1);
        let mut a = SampleDigest::new(spec);
        let mut b = SampleDigest::new(spec);
        a.update(&Samples::Float(vec![0.0]));
        b.update(&Samples::Float(vec![-0.0]));
        assert_ne!(a.finish(), b.finish());
        // Integers: every bit of the width, and nothing hidden above it.
        let spec = AudioSpec::int(48000, 1, 24);
        let mut a = SampleDigest::new(spec);
        let mut b = SampleDigest::new(spec);
        a.update(&Samples::Int(vec![-8_388_608, 1, 0x7F_FFFF]));
        b.update(&Samples::Int(vec![-8_388_608, 1, 0x7F_FFFE]));
        assert_ne!(a.finish(), b.finish());
        let mut c = SampleDigest::new(spec);
        c.update(&Samples::Int(vec![1 << 24]));
        assert!(c.too_wide);
    }

    /// Writes `samples` through a verifying sink, then damages the
    /// finished output with `damage` before the read-back.
    fn verify_damaged(
        format: Format,
        spec: AudioSpec,
        samples: Samples,
        damage: impl Fn(&mut Vec<u8>),
    ) -> Result<(), String> {
        verify_damaged_on(format, spec, samples, None, damage)
    }

    /// [`verify_damaged`], verifying with the job's `budget`.
    fn verify_damaged_on(
        format: Format,
        spec: AudioSpec,
        samples: Samples,
        budget: Option<&ThreadBudget>,
        damage: impl Fn(&mut Vec<u8>),
    ) -> Result<(), String> {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join(format!("x.{format}"));
        let mut sink = FileSink::create(&target, spec, opts(format)).unwrap();
        sink.write(&Block { spec, samples }).unwrap();
        let FileSink {
            pending,
            encoder,
            digest,
            ..
        } = sink;
        encoder.finish().unwrap();
        let path = pending.temp_path();
        let mut bytes = std::fs::read(path).unwrap();
        damage(&mut bytes);
        std::fs::write(path, &bytes).unwrap();
        verify(path, spec, digest.unwrap(), budget, &CancelToken::new())
    }

    #[test]
    fn wav_outputs_are_checked_from_their_raw_bytes() {
        let dir = tempfile::tempdir().unwrap();
        for (format, spec, raw) in [
            (Format::Wav, AudioSpec::int(44100, 2, 16), true),
            (Format::Wav, AudioSpec::int(44100, 2, 24), true),
            (Format::Wav, AudioSpec::int(44100, 2, 32), true),
            (Format::Wav, AudioSpec::float(44100, 2), true),
            // Padding bits below the depth, offset-binary 8-bit, big-endian.
            (Format::Wav, AudioSpec::int(44100, 2, 20), false),
            (Format::Wav, AudioSpec::int(44100, 2, 8), false),
            (Format::Aiff, AudioSpec::int(44100, 2, 16), false),
            (Format::Flac, AudioSpec::int(44100, 2, 16), false),
        ] {
            let target = dir.path().join(format!("{}.{format}", spec.format.bits()));
            let mut o = opts(format);
            o.overwrite = true;
            let mut sink = FileSink::create(&target, spec, o).unwrap();
            let samples = match spec.format {
                SampleFormat::Int { bits } => Samples::Int(aj_testkit::noise(100, 2, bits, 1)),
                SampleFormat::Float => Samples::Float(vec![0.25; 200]),
            };
            sink.write(&Block { spec, samples }).unwrap();
            assert!(sink.finish_verified(&CancelToken::new()).unwrap());
            let got = decode::open_raw_pcm(&target).unwrap();
            assert_eq!(got.is_some(), raw, "{format} {spec:?}");
        }
    }

    #[test]
    fn verification_catches_a_damaged_or_truncated_output() {
        let cases = [
            (Format::Wav, AudioSpec::int(44100, 2, 16)),
            (Format::Wav, AudioSpec::int(44100, 2, 24)),
            (Format::Wav, AudioSpec::int(44100, 1, 20)),
            (Format::Wav, AudioSpec::int(44100, 1, 8)),
            (Format::Wav, AudioSpec::float(44100, 2)),
            (Format::Aiff, AudioSpec::int(44100, 2, 16)),
            (Format::Flac, AudioSpec::int(44100, 2, 16)),
        ];
        for (format, spec) in cases {
            let frames = 3000;
            let samples = match spec.format {
                SampleFormat::Int { bits } => {
                    Samples::Int(aj_testkit::noise(frames, spec.channels, bits, 9))
                }
                SampleFormat::Float => Samples::Float(
                    aj_testkit::noise(frames, spec.channels, 16, 9)
                        .iter()
                        .map(|&s| s as f32 / 32768.0)
                        .collect(),
                ),
            };
            let what = format!("{format} {spec:?}");
            verify_damaged(format, spec, samples.clone(), |_| {})
                .unwrap_or_else(|e| panic!("{what}: undamaged: {e}"));
            // One bit flipped in the sample data, near the end (past any
            // header, inside the audio of every format here).
            let e = verify_damaged(format, spec, samples.clone(), |b| {
                let at = b.len() - 300;
                b[at] ^= 0x04;
            });
            assert!(e.is_err(), "{what}: a flipped bit went unnoticed");
            // Truncated by a frame's worth of bytes (the length in the
            // header now lies, or the last FLAC frame is cut).
            let e = verify_damaged(format, spec, samples, |b| {
                let n = b.len() - 200;
                b.truncate(n);
            });
            assert!(e.is_err(), "{what}: a truncated output went unnoticed");
        }
    }

    /// Damage to a FLAC output, by name: none, a flipped bit in the middle
    /// of the audio and near its end, a truncation, and a flipped bit in
    /// STREAMINFO's MD5 (bytes 18 to 33 of the block, after `fLaC` and the
    /// block header: RFC 9639 §8.2), which only the MD5 check can see.
    type Damage = (&'static str, fn(&mut Vec<u8>));
    const FLAC_DAMAGE: [Damage; 5] = [
        ("none", |_| {}),
        ("bit in the middle", |b| {
            let at = b.len() / 2;
            b[at] ^= 0x10;
        }),
        ("bit near the end", |b| {
            let at = b.len() - 300;
            b[at] ^= 0x04;
        }),
        ("truncated", |b| {
            let n = b.len() - 200;
            b.truncate(n);
        }),
        ("STREAMINFO MD5", |b| b[4 + 4 + 18 + 5] ^= 0x01),
    ];

    /// With a free slot the FLAC read-back runs on two threads (a slot is
    /// taken, and given back), catches every damage the one-thread path
    /// catches, with the same message, and passes the undamaged file.
    #[test]
    fn flac_verification_on_two_threads_catches_the_same_damage() {
        let spec = AudioSpec::int(44100, 2, 16);
        // Many blocks of the pipeline, so that the decoder runs ahead of
        // the hashing thread and blocks are reused.
        let samples = Samples::Int(aj_testkit::noise(60_000, 2, 16, 4));
        let budget = ThreadBudget::new(2);
        // The slot of the worker converting the file.
        let _worker = budget.try_acquire().unwrap();
        for (what, damage) in FLAC_DAMAGE {
            let one = verify_damaged(Format::Flac, spec, samples.clone(), damage);
            let taken = budget.taken();
            let two = verify_damaged_on(Format::Flac, spec, samples.clone(), Some(&budget), damage);
            assert_eq!(budget.taken(), taken + 1, "{what}: not on two threads");
            assert_eq!(budget.free(), 1, "{what}: the slot was not given back");
            assert_eq!(one, two, "{what}");
            assert_eq!(two.is_ok(), what == "none", "{what}: {two:?}");
        }
        let e = verify_damaged_on(Format::Flac, spec, samples, Some(&budget), FLAC_DAMAGE[4].1);
        assert!(e.unwrap_err().contains("MD5 signature in STREAMINFO"));
    }

    /// With every slot of the budget held, the read-back runs on the
    /// calling thread as without a budget: no slot taken, damage caught.
    #[test]
    fn flac_verification_without_a_free_slot_stays_on_one_thread() {
        let spec = AudioSpec::int(44100, 1, 24);
        let samples = Samples::Int(aj_testkit::noise(20_000, 1, 24, 6));
        let budget = ThreadBudget::new(1);
        let _worker = budget.try_acquire().unwrap();
        for (what, damage) in FLAC_DAMAGE {
            let r = verify_damaged_on(Format::Flac, spec, samples.clone(), Some(&budget), damage);
            assert_eq!(r.is_ok(), what == "none", "{what}: {r:?}");
        }
        assert_eq!(budget.taken(), 1, "a slot was taken");
        // The sink hands no budget to the read-back of another format: a
        // WAV output takes no slot, even when one is free.
        let dir = tempfile::tempdir().unwrap();
        let free = ThreadBudget::new(2);
        let mut o = opts(Format::Wav);
        o.encoder.budget = Some(free.clone());
        let mut sink = FileSink::create(&dir.path().join("x.wav"), spec, o).unwrap();
        sink.write(&Block { spec, samples }).unwrap();
        assert!(sink.finish_verified(&CancelToken::new()).unwrap());
        assert_eq!(free.taken(), 0);
    }

    /// Cancelled during a two-thread read-back: an error, the hashing
    /// thread joined and its slot back; nothing at the target. The sink
    /// hands the job's budget to the read-back of a FLAC output.
    #[test]
    fn flac_verification_on_two_threads_stops_when_cancelled() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("x.flac");
        let spec = AudioSpec::int(44100, 2, 16);
        let budget = ThreadBudget::new(2);
        let mut o = opts(Format::Flac);
        o.encoder.budget = Some(budget.clone());
        let mut sink = FileSink::create(&target, spec, o).unwrap();
        sink.write(&Block {
            spec,
            samples: Samples::Int(aj_testkit::noise(50_000, 2, 16, 8)),
        })
        .unwrap();
        let FileSink {
            pending,
            encoder,
            digest,
            ..
        } = sink;
        encoder.finish().unwrap();
        let taken = budget.taken();
        let cancel = CancelToken::new();
        cancel.cancel();
        let e = verify(
            pending.temp_path(),
            spec,
            digest.unwrap(),
            Some(&budget),
            &cancel,
        );
        assert!(e.unwrap_err().contains("cancel"));
        assert_eq!(budget.taken(), taken + 1);
        assert_eq!(budget.free(), 2);

        // Through the sink: verified (on a borrowed slot), renamed.
        let mut o = opts(Format::Flac);
        o.encoder.budget = Some(budget.clone());
        let mut sink = FileSink::create(&target, spec, o).unwrap();
        sink.write(&Block {
            spec,
            samples: Samples::Int(aj_testkit::noise(5_000, 2, 16, 8)),
        })
        .unwrap();
        let taken = budget.taken();
        assert!(sink.finish_verified(&CancelToken::new()).unwrap());
        assert!(budget.taken() > taken);
        assert_eq!(budget.free(), 2);
        assert!(target.exists());
    }
}
