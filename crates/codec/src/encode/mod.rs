//! Encoders: PCM into WAV/RF64, AIFF, FLAC, MP3, Ogg Vorbis and Opus.

use std::fs::File;

use aj_core::{AudioSpec, Block};

use crate::{Error, Format};

/// Encoder settings from the command line; `None` means the format's default.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EncoderOptions {
    /// FLAC compression level 0–8 (default 5).
    pub level: Option<u8>,
    /// MP3 VBR quality V0–V9 (default 2); Vorbis quality −1…10 (default 5).
    pub quality: Option<f32>,
    /// Target bitrate in kb/s: MP3 CBR/ABR, Opus (default 128), Vorbis managed.
    pub bitrate: Option<u32>,
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

/// Starts an encoder writing `format` into `file`, which is empty and seekable.
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
    let _ = (spec, options, file);
    Err(Error::Unsupported(format!("{format} encoding is not built yet")))
}
