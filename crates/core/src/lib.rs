//! AudioJuggler's core: the PCM model every part of the suite speaks.
//!
//! Data flows `Source` → (`Processor`…) → `Sink`. Sources are file decoders, CD
//! drives and capture devices; processors are DSP stages; sinks are encoders,
//! the burner and live streams. A job (in `aj-jobs`) wires them together and
//! reports [`Event`]s; a [`CancelToken`] stops it cooperatively.
//!
//! Samples are carried as interleaved blocks ([`Block`]). Integer samples stay
//! integers end to end so that lossless paths are bit-exact; float samples appear
//! only where a decoder or a DSP stage produces them.
//!
//! This crate does no I/O.

#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub mod budget;
pub mod units;
pub use budget::{Slot, ThreadBudget};
pub use units::{Frames, Lba, Msf};

/// How the samples of a stream are represented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum SampleFormat {
    /// Signed integers, right-justified in an `i32`: every value lies in
    /// `-(1 << (bits - 1)) ..= (1 << (bits - 1)) - 1`. `bits` is 1 to 32.
    Int { bits: u8 },
    /// 32-bit float, nominally in `-1.0 ..= 1.0` (values outside are kept).
    Float,
}

impl SampleFormat {
    /// Bits per sample: the integer depth, or 32 for float.
    pub fn bits(self) -> u8 {
        match self {
            SampleFormat::Int { bits } => bits,
            SampleFormat::Float => 32,
        }
    }
}

/// The shape of a PCM stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct AudioSpec {
    /// Frames per second.
    pub sample_rate: u32,
    /// Interleaved channels per frame (1 to 8 for most formats).
    pub channels: u16,
    /// How samples are represented.
    pub format: SampleFormat,
}

impl AudioSpec {
    /// An integer spec.
    pub fn int(sample_rate: u32, channels: u16, bits: u8) -> Self {
        AudioSpec {
            sample_rate,
            channels,
            format: SampleFormat::Int { bits },
        }
    }

    /// A float spec.
    pub fn float(sample_rate: u32, channels: u16) -> Self {
        AudioSpec {
            sample_rate,
            channels,
            format: SampleFormat::Float,
        }
    }

    /// Checks the fields are in the ranges this suite handles.
    ///
    /// # Errors
    /// [`Error::InvalidSpec`] naming the field that is out of range.
    pub fn validate(&self) -> Result<(), Error> {
        if self.sample_rate == 0 || self.sample_rate > 1_048_575 {
            return Err(Error::InvalidSpec(format!(
                "sample rate {} Hz",
                self.sample_rate
            )));
        }
        if self.channels == 0 || self.channels > 64 {
            return Err(Error::InvalidSpec(format!("{} channels", self.channels)));
        }
        if let SampleFormat::Int { bits } = self.format {
            if bits == 0 || bits > 32 {
                return Err(Error::InvalidSpec(format!("{bits} bits per sample")));
            }
        }
        Ok(())
    }
}

/// Interleaved sample storage.
#[derive(Debug, Clone, PartialEq)]
pub enum Samples {
    /// Integers, right-justified (see [`SampleFormat::Int`]).
    Int(Vec<i32>),
    /// Floats, nominally in -1.0..=1.0.
    Float(Vec<f32>),
}

impl Samples {
    /// Number of individual samples (frames × channels).
    pub fn len(&self) -> usize {
        match self {
            Samples::Int(v) => v.len(),
            Samples::Float(v) => v.len(),
        }
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A run of interleaved frames, all of one [`AudioSpec`].
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub spec: AudioSpec,
    pub samples: Samples,
}

impl Block {
    /// An empty block of the given spec, with room for `frames` frames.
    pub fn with_capacity(spec: AudioSpec, frames: usize) -> Self {
        let n = frames * spec.channels as usize;
        let samples = match spec.format {
            SampleFormat::Int { .. } => Samples::Int(Vec::with_capacity(n)),
            SampleFormat::Float => Samples::Float(Vec::with_capacity(n)),
        };
        Block { spec, samples }
    }

    /// Frames in this block.
    pub fn frames(&self) -> usize {
        self.samples.len() / self.spec.channels.max(1) as usize
    }

    /// The integer samples, if this block holds integers.
    pub fn as_int(&self) -> Option<&[i32]> {
        match &self.samples {
            Samples::Int(v) => Some(v),
            Samples::Float(_) => None,
        }
    }

    /// The float samples, if this block holds floats.
    pub fn as_float(&self) -> Option<&[f32]> {
        match &self.samples {
            Samples::Float(v) => Some(v),
            Samples::Int(_) => None,
        }
    }
}

/// A producer of PCM: a file decoder, a CD drive, a capture device.
pub trait Source: Send {
    /// The spec of every block this source returns. It does not change.
    fn spec(&self) -> AudioSpec;

    /// Total frames, when known in advance (used for progress and ETA).
    fn total_frames(&self) -> Option<Frames>;

    /// Reads the next block of at most `max_frames` frames.
    ///
    /// Returns `Ok(None)` at the end of the stream; after that every call returns
    /// `Ok(None)` again. A returned block is never empty.
    ///
    /// # Errors
    /// Corrupt or unreadable input. The source is not usable after an error.
    fn read(&mut self, max_frames: usize) -> Result<Option<Block>, Error>;
}

/// A stage that changes samples (dither, gain, resampling…).
pub trait Processor: Send {
    /// The spec of the blocks this processor emits for a given input spec.
    fn output_spec(&self) -> AudioSpec;

    /// Processes one block. May return an empty block (latency); the tail comes
    /// from [`Processor::flush`].
    ///
    /// # Errors
    /// A block whose spec differs from the one the processor was built for.
    fn process(&mut self, block: Block) -> Result<Block, Error>;

    /// Emits whatever is held back at the end of the stream.
    ///
    /// # Errors
    /// As [`Processor::process`].
    fn flush(&mut self) -> Result<Option<Block>, Error> {
        Ok(None)
    }
}

/// A consumer of PCM: an encoder writing a file, the burner, a live stream.
pub trait Sink: Send {
    /// The spec this sink expects; the pipeline converts to it before `write`.
    fn spec(&self) -> AudioSpec;

    /// Takes one block of [`Sink::spec`].
    ///
    /// # Errors
    /// I/O (disk full, device gone) or a block of the wrong spec.
    fn write(&mut self, block: &Block) -> Result<(), Error>;

    /// Ends the stream. For a file sink: on `Ok` the output is complete, flushed
    /// and durable at its final path; on `Err` nothing is left at that path.
    ///
    /// # Errors
    /// I/O while finishing.
    fn finish(self: Box<Self>) -> Result<(), Error>;
}

/// Errors from the core model and from stages that speak only in its terms.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("unsupported audio format: {0}")]
    InvalidSpec(String),
    #[error("block does not match the stream: expected {expected:?}, got {actual:?}")]
    SpecMismatch {
        expected: AudioSpec,
        actual: AudioSpec,
    },
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// A decoder, encoder or device error, already worded for a person.
    #[error("{0}")]
    Other(String),
}

/// A cooperative cancellation flag shared between a job and whoever may stop it.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every holder to stop at its next check.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// `Err(Error::Cancelled)` once cancelled, so loops can use `?`.
    ///
    /// # Errors
    /// [`Error::Cancelled`] when cancellation was asked.
    pub fn check(&self) -> Result<(), Error> {
        if self.is_cancelled() {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_counts_frames() {
        let b = Block {
            spec: AudioSpec::int(44100, 2, 16),
            samples: Samples::Int(vec![0; 10]),
        };
        assert_eq!(b.frames(), 5);
        assert!(b.as_float().is_none());
    }

    #[test]
    fn spec_validation_names_the_field() {
        let e = AudioSpec::int(0, 2, 16).validate().unwrap_err();
        assert!(e.to_string().contains("sample rate"));
        let e = AudioSpec::int(44100, 2, 33).validate().unwrap_err();
        assert!(e.to_string().contains("33 bits"));
        assert!(AudioSpec::float(48000, 8).validate().is_ok());
    }

    #[test]
    fn cancel_token_is_shared() {
        let t = CancelToken::new();
        let u = t.clone();
        assert!(t.check().is_ok());
        u.cancel();
        assert!(matches!(t.check(), Err(Error::Cancelled)));
    }
}
