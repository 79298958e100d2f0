//! [`FileSink`]: an encoder writing an output file, as a pipeline [`Sink`].
//!
//! It puts together the pieces every job that writes audio files needs — the
//! converter, later the ripper and the recorder: an encoder writing into a
//! [`PendingOutput`], the tags written once the audio is complete, for lossless
//! formats a second decode of the output compared with what was written, and
//! last the atomic rename.

use std::path::{Path, PathBuf};

use aj_core::{AudioSpec, Block, CancelToken, Samples, Sink};
use md5::{Digest, Md5};

use crate::encode::{self, Encoder, EncoderOptions};
use crate::output::PendingOutput;
use crate::tags::{self, Tags};
use crate::{decode, Error, Format};

/// Frames per block read back when verifying.
const VERIFY_BLOCK_FRAMES: usize = 8192;

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
        let digest = (options.verify && options.format.is_lossless()).then(SampleDigest::default);
        Ok(FileSink {
            target: target.to_path_buf(),
            spec,
            options,
            pending,
            encoder,
            digest,
        })
    }

    /// The tags [`FileSink::finish_verified`] will write. A stage that learns
    /// something from the audio itself (its loudness) adds to them until then.
    pub fn tags_mut(&mut self) -> &mut Tags {
        &mut self.options.tags
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
        } = self;
        encoder.finish()?;
        if !options.tags.is_empty() {
            tags::write(pending.temp_path(), options.format, &options.tags)?;
        }
        let verified = match digest {
            Some(written) => {
                verify(pending.temp_path(), spec, written, cancel)
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
            d.update(block);
        }
        Ok(self.encoder.write(block)?)
    }

    fn finish(self: Box<Self>) -> Result<(), aj_core::Error> {
        self.finish_verified(&CancelToken::new())
            .map(|_| ())
            .map_err(Into::into)
    }
}

/// A running digest of samples (their exact bit patterns) and their count.
#[derive(Default)]
struct SampleDigest {
    md5: Md5,
    samples: u64,
    buf: Vec<u8>,
}

impl SampleDigest {
    fn update(&mut self, block: &Block) {
        self.buf.clear();
        match &block.samples {
            Samples::Int(v) => self.buf.extend(v.iter().flat_map(|s| s.to_le_bytes())),
            Samples::Float(v) => self
                .buf
                .extend(v.iter().flat_map(|s| s.to_bits().to_le_bytes())),
        }
        self.md5.update(&self.buf);
        self.samples += block.samples.len() as u64;
    }

    fn finish(self) -> ([u8; 16], u64) {
        (self.md5.finalize().into(), self.samples)
    }
}

/// Decodes `path` and checks it holds exactly the samples digested in `written`.
fn verify(
    path: &Path,
    spec: AudioSpec,
    written: SampleDigest,
    cancel: &CancelToken,
) -> Result<(), String> {
    let mut decoder = decode::open(path).map_err(|e| e.to_string())?;
    let got = decoder.spec();
    if got != spec {
        return Err(format!(
            "the output reads back as {} Hz, {} channels, {:?} instead of {} Hz, {} channels, {:?}",
            got.sample_rate, got.channels, got.format, spec.sample_rate, spec.channels, spec.format
        ));
    }
    let mut back = SampleDigest::default();
    while let Some(block) = decoder
        .read(VERIFY_BLOCK_FRAMES)
        .map_err(|e| e.to_string())?
    {
        cancel.check().map_err(|e| e.to_string())?;
        back.update(&block);
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
        let mut a = SampleDigest::default();
        let mut b = SampleDigest::default();
        a.update(&Block {
            spec,
            samples: Samples::Float(vec![0.0]),
        });
        b.update(&Block {
            spec,
            samples: Samples::Float(vec![-0.0]),
        });
        assert_ne!(a.finish(), b.finish());
    }
}
