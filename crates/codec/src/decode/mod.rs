//! Decoders: every common audio file as a [`Source`].

use std::path::Path;

use aj_core::Source;

use crate::Error;

/// What a file holds, as `aj info` shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MediaInfo {
    /// Container name: "WAVE", "RF64", "AIFF", "AIFF-C", "FLAC", "MP3", "MP4", "Ogg"…
    pub container: String,
    /// Codec name: "PCM", "FLAC", "MP3", "AAC-LC", "ALAC", "Vorbis", "Opus"…
    pub codec: String,
    /// True when the codec keeps every sample (PCM, FLAC, ALAC).
    pub lossless: bool,
    pub sample_rate: u32,
    pub channels: u16,
    /// Bits per sample of lossless codecs; `None` for lossy ones.
    pub bits_per_sample: Option<u8>,
    /// Total frames, when known (after encoder delay and padding are removed).
    pub total_frames: Option<u64>,
    /// Average bitrate in bits per second, when known.
    pub bitrate: Option<u32>,
}

/// An open file decoder.
pub trait Decoder: Source {
    fn info(&self) -> &MediaInfo;
}

/// Opens and probes `path` and returns a decoder positioned at the first frame.
///
/// # Errors
/// [`Error::Io`] when the file cannot be read; [`Error::Corrupt`] when it is
/// empty, truncated or not an audio file; [`Error::Unsupported`] for a codec
/// this suite does not decode.
pub fn open(path: &Path) -> Result<Box<dyn Decoder>, Error> {
    let _ = path;
    Err(Error::Unsupported("decoding is not built yet".into()))
}
