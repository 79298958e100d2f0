//! Encoders: PCM into WAV/RF64, AIFF, FLAC, MP3, Ogg Vorbis and Opus.

use std::fs::File;

use aj_core::{AudioSpec, Block};

use crate::{Error, Format};

mod aiff;
mod flac;
mod float_input;
mod mp3;
mod opus;
mod opus_ffi;
mod vorbis;
mod vorbis_order;
mod wav;

pub use mp3::MP3_BITRATES;

/// Encoder settings from the command line; `None` means the format's default.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EncoderOptions {
    /// FLAC compression level 0–8 (default 5).
    pub level: Option<u8>,
    /// MP3 VBR quality V0–V9 (default 2); Vorbis quality −1…10 (default 5).
    pub quality: Option<f32>,
    /// Target bitrate in kb/s: MP3 CBR/ABR, Opus (default 128), Vorbis managed.
    pub bitrate: Option<u32>,
    /// With `bitrate`, MP3 only: an average bitrate (LAME's ABR) instead of
    /// a constant one.
    #[serde(default)]
    pub abr: bool,
    /// Worker threads inside one encoder (FLAC); None or 1 = the calling
    /// thread only. With a `budget`, the most it may use (None: the
    /// budget's total).
    #[serde(default)]
    pub threads: Option<usize>,
    /// Threads shared with the rest of a job (not part of the settings):
    /// the FLAC encoder borrows the budget's free slots for its batches of
    /// frames, the calling thread counting as one slot held by the caller.
    #[serde(skip)]
    pub budget: Option<aj_core::ThreadBudget>,
}

/// A running encoder writing one file.
pub trait Encoder: Send {
    /// Encodes one block of the spec given to [`create`].
    ///
    /// # Errors
    /// I/O on the output, or a block of another spec.
    fn write(&mut self, block: &Block) -> Result<(), Error>;

    /// Flushes the encoder and completes the container (headers patched, final
    /// page or frame written). Does not fsync or rename: see [`crate::output`].
    ///
    /// # Errors
    /// I/O on the output.
    fn finish(self: Box<Self>) -> Result<(), Error>;
}

/// The spec an encoder of `format` takes for a source of `spec`: integer
/// formats keep the source's depth (float sources become `float_bits`-bit
/// integers), lossy formats take float. The caller converts to it (aj-dsp).
pub fn input_spec(format: Format, spec: AudioSpec, float_bits: u8) -> AudioSpec {
    use aj_core::SampleFormat::{Float, Int};
    let format_out = match (format, spec.format) {
        (Format::Mp3 | Format::Ogg | Format::Opus, _) => Float,
        (Format::Wav, Float) => Float,
        (Format::Aiff | Format::Flac, Float) => Int { bits: float_bits },
        (Format::Flac, Int { bits }) => Int { bits: bits.max(4) },
        (_, Int { bits }) => Int { bits },
    };
    AudioSpec {
        format: format_out,
        ..spec
    }
}

/// Starts an encoder writing `format` into `file`, which is empty and seekable.
/// `spec` must be what [`input_spec`] returns for this format.
///
/// # Errors
/// [`Error::Unsupported`] when the format cannot hold `spec` (for example MP3
/// with 6 channels); [`Error::Encode`] for options out of range.
pub fn create(
    format: Format,
    spec: AudioSpec,
    options: &EncoderOptions,
    file: File,
) -> Result<Box<dyn Encoder>, Error> {
    spec.validate()?;
    match format {
        Format::Wav => wav::create(spec, options, file),
        Format::Aiff => aiff::create(spec, options, file),
        Format::Flac => flac::create(spec, options, file),
        Format::Mp3 => mp3::create(spec, options, file),
        Format::Ogg => vorbis::create(spec, options, file),
        Format::Opus => opus::create(spec, options, file),
    }
}
