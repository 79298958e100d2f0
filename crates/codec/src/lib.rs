//! AudioJuggler's codecs: the file-facing ends of the pipeline.
//!
//! Decoders ([`decode`]) are `Source`s that read any common audio file;
//! encoders ([`encode`]) turn PCM into WAV/RF64, AIFF, FLAC, MP3, Ogg Vorbis
//! and Opus; [`tags`] carries metadata and cover art between containers;
//! [`output`] writes files atomically (temporary file, fsync, rename) so a
//! failed or cancelled job never leaves a half-written output; [`sink`] puts
//! encoder, tags, verification and atomic output together as a pipeline `Sink`.
//!
//! This crate does not choose what to convert or in which order (that is the
//! job engine's), does not change samples (that is `aj-dsp`'s), and never
//! writes to an input file.

pub mod decode;
pub mod encode;
mod flac_crc;
mod ogg;
pub mod output;
pub mod sink;
pub mod tags;

use std::fmt;
use std::str::FromStr;

/// An output format `aj convert` can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Wav,
    Aiff,
    Flac,
    Mp3,
    Ogg,
    Opus,
}

impl Format {
    pub const ALL: [Format; 6] = [
        Format::Wav,
        Format::Aiff,
        Format::Flac,
        Format::Mp3,
        Format::Ogg,
        Format::Opus,
    ];

    /// The file extension written, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Wav => "wav",
            Format::Aiff => "aiff",
            Format::Flac => "flac",
            Format::Mp3 => "mp3",
            Format::Ogg => "ogg",
            Format::Opus => "opus",
        }
    }

    /// True for formats that keep every sample (WAV, AIFF, FLAC).
    pub fn is_lossless(self) -> bool {
        matches!(self, Format::Wav | Format::Aiff | Format::Flac)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "wav" | "wave" | "rf64" => Ok(Format::Wav),
            "aiff" | "aif" | "aifc" => Ok(Format::Aiff),
            "flac" => Ok(Format::Flac),
            "mp3" => Ok(Format::Mp3),
            "ogg" | "vorbis" | "oga" => Ok(Format::Ogg),
            "opus" => Ok(Format::Opus),
            other => Err(format!(
                "unknown format '{other}' (expected one of: wav, aiff, flac, mp3, ogg, opus)"
            )),
        }
    }
}

/// Errors of this crate. Messages are worded for a person; the caller adds the
/// file name.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing failed (permission, disk full, device gone…).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The file is valid but holds something this suite cannot handle.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The file is damaged, truncated, empty or not what its name says.
    #[error("{0}")]
    Corrupt(String),
    /// An encoder refused its settings or failed.
    #[error("encoder: {0}")]
    Encode(String),
    /// The output exists and replacing it was not asked for.
    #[error("{} already exists (use --overwrite to replace it)", .0.display())]
    Exists(std::path::PathBuf),
    /// Tags or pictures could not be read or written.
    #[error("tags: {0}")]
    Tags(String),
    #[error(transparent)]
    Core(#[from] aj_core::Error),
}

impl From<Error> for aj_core::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Io(e) => aj_core::Error::Io(e),
            Error::Core(e) => e,
            other => aj_core::Error::Other(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn format_names_round_trip() {
        for f in Format::ALL {
            assert_eq!(f.extension().parse::<Format>(), Ok(f));
        }
        assert!("wma".parse::<Format>().unwrap_err().contains("wma"));
    }
}
