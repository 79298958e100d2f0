//! Decoders: every common audio file as a [`Source`].
//!
//! [`open`] probes a file by its content (never by its extension) and picks a
//! decoder:
//!
//! - WAV, RF64/BW64, AIFF and AIFF-C holding integer or float PCM are read by
//!   our own chunk parser ([`pcm`]), bit-exact and with the declared depth;
//! - Ogg Opus is demuxed here and decoded by libopus ([`opus`]);
//! - native FLAC is read by our own streaming decoder ([`flac`]), which
//!   checks every CRC, the declared length and STREAMINFO's MD5;
//! - everything else (FLAC in Ogg, MP3, AAC and ALAC in MP4, Ogg Vorbis,
//!   CAF, Matroska, A-law/µ-law WAV…) goes through symphonia ([`media`]),
//!   with our own checks on top: FLAC's STREAMINFO MD5, declared lengths,
//!   and stream parameters that change mid-stream.
//!
//! Integer codecs (PCM, FLAC, ALAC) produce [`SampleFormat::Int`] at the
//! file's real depth; lossy codecs and float PCM produce
//! [`SampleFormat::Float`].
//!
//! [`SampleFormat::Int`]: aj_core::SampleFormat::Int
//! [`SampleFormat::Float`]: aj_core::SampleFormat::Float

use std::fs::File;
use std::io::Read;
use std::path::Path;

use aj_core::{AudioSpec, Block, Frames, Samples, Source};

use crate::Error;

mod flac;
mod media;
mod mp4;
mod opus;
mod opus_ffi;
mod pcm;

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
/// The format is recognised by the file's content; the extension is ignored,
/// so a mislabelled file decodes as what it really is.
///
/// Only regular files are accepted: a folder, pipe or device is refused
/// before it is opened (decoders reopen and seek in their input).
///
/// # Errors
/// [`Error::Io`] when the file cannot be read ("cannot open: permission
/// denied"); [`Error::Corrupt`] when it is empty, truncated, not an audio
/// file or not a regular file; [`Error::Unsupported`] for a codec this suite
/// does not decode. Damage found later (a damaged lossy stream, a decoded
/// length short of the declared one) is an error from `read`.
pub fn open(path: &Path) -> Result<Box<dyn Decoder>, Error> {
    check_regular_file(path)?;
    let mut head = [0u8; 64];
    let n = read_head(path, &mut head)?;
    let head = &head[..n];
    if head.is_empty() {
        return Err(Error::Corrupt("the file is empty".into()));
    }
    if pcm::sniff(head) {
        match pcm::open(path)? {
            pcm::Opened::Pcm(d) => return Ok(Box::new(Reader::new(d))),
            // A codec other than PCM inside WAV/AIFF: symphonia may know it
            // (A-law, µ-law…); if it does not, say which codec it was.
            pcm::Opened::Other { codec } => {
                return media::open(path).map_err(|e| match e {
                    Error::Io(e) => Error::Io(e),
                    _ => Error::Unsupported(format!("the {codec} codec is not supported")),
                });
            }
        }
    }
    if opus::sniff(head) {
        return Ok(Box::new(Reader::new(opus::OpusFile::open(path)?)));
    }
    // Native FLAC (RFC 9639 §6: the stream starts with "fLaC"); FLAC in
    // Ogg goes through symphonia below.
    if head.starts_with(b"fLaC") {
        return Ok(Box::new(Reader::new(flac::FlacFile::open(path)?)));
    }
    media::open(path)
}

/// Refuses what is not a regular file before anything opens it: decoders
/// open the file more than once and seek in it, which a pipe or a device
/// cannot do (and opening a FIFO would block until someone writes to it).
fn check_regular_file(path: &Path) -> Result<(), Error> {
    let meta = std::fs::metadata(path).map_err(open_error)?;
    let ft = meta.file_type();
    if ft.is_dir() {
        return Err(Error::Corrupt("is a folder, not an audio file".into()));
    }
    if !ft.is_file() {
        return Err(Error::Corrupt(
            "not a regular file (a pipe, socket or device); save it to a file first".into(),
        ));
    }
    Ok(())
}

/// An error opening the input, worded for a person; the kind is kept.
pub(crate) fn open_error(e: std::io::Error) -> Error {
    use std::io::ErrorKind as K;
    let what = match e.kind() {
        K::NotFound => "cannot open: no such file".to_string(),
        K::PermissionDenied => "cannot open: permission denied".to_string(),
        K::IsADirectory => "is a folder, not an audio file".to_string(),
        _ => format!("cannot open: {e}"),
    };
    Error::Io(std::io::Error::new(e.kind(), what))
}

/// A four-character code (chunk or codec id) for a message: printable
/// ASCII as is, any other byte as `\xNN`, so a damaged file never puts raw
/// binary on a terminal.
pub(crate) fn fourcc(id: &[u8]) -> String {
    id.iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                char::from(b).to_string()
            } else {
                format!("\\x{b:02X}")
            }
        })
        .collect()
}

/// Reads up to `buf.len()` bytes from the start of the file.
fn read_head(path: &Path, buf: &mut [u8]) -> Result<usize, Error> {
    let mut f = File::open(path).map_err(open_error)?;
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(n)
}

/// The most frames one `read` returns, so that a huge request does not
/// decode a whole file into memory.
const MAX_FRAMES_PER_BLOCK: usize = 1 << 16;

/// A packet-at-a-time decoder. [`Reader`] turns one into a [`Decoder`] that
/// hands out blocks of any requested size.
pub(crate) trait PacketDecoder: Send {
    fn info(&self) -> &MediaInfo;

    /// The spec of every sample appended by [`PacketDecoder::decode_next`].
    fn spec(&self) -> AudioSpec;

    /// Appends the next decoded samples (interleaved, whole frames) to `out`,
    /// which has the variant of [`PacketDecoder::spec`]. Returns `Ok(false)`
    /// at the end of the stream (after all end-of-stream checks passed).
    /// May append nothing and return `Ok(true)`.
    fn decode_next(&mut self, out: &mut Samples) -> Result<bool, Error>;
}

/// Buffers decoded samples and slices them into blocks.
pub(crate) struct Reader<D: PacketDecoder> {
    dec: D,
    spec: AudioSpec,
    pending: Samples,
    /// Index of the first sample of `pending` not yet handed out.
    start: usize,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Running,
    Ended,
    Failed,
}

impl<D: PacketDecoder> Reader<D> {
    pub(crate) fn new(dec: D) -> Self {
        let spec = dec.spec();
        let pending = match spec.format {
            aj_core::SampleFormat::Int { .. } => Samples::Int(Vec::new()),
            aj_core::SampleFormat::Float => Samples::Float(Vec::new()),
        };
        Reader {
            dec,
            spec,
            pending,
            start: 0,
            state: State::Running,
        }
    }

    fn available(&self) -> usize {
        self.pending.len() - self.start
    }

    /// Moves the unread tail of `pending` to its front so it does not grow.
    fn compact(&mut self) {
        if self.start == 0 {
            return;
        }
        match &mut self.pending {
            Samples::Int(v) => {
                v.drain(..self.start);
            }
            Samples::Float(v) => {
                v.drain(..self.start);
            }
        }
        self.start = 0;
    }
}

impl<D: PacketDecoder> Source for Reader<D> {
    fn spec(&self) -> AudioSpec {
        self.spec
    }

    fn total_frames(&self) -> Option<Frames> {
        self.dec.info().total_frames.map(Frames)
    }

    fn read(&mut self, max_frames: usize) -> Result<Option<Block>, aj_core::Error> {
        let channels = usize::from(self.spec.channels.max(1));
        // Memory stays bounded whatever the caller asks for.
        let want = max_frames.clamp(1, MAX_FRAMES_PER_BLOCK) * channels;
        while self.state == State::Running && self.available() < want {
            self.compact();
            match self.dec.decode_next(&mut self.pending) {
                Ok(true) => {}
                Ok(false) => self.state = State::Ended,
                Err(e) => {
                    self.state = State::Failed;
                    return Err(e.into());
                }
            }
        }
        if self.state == State::Failed {
            return Err(aj_core::Error::Other(
                "the decoder stopped after an earlier error".into(),
            ));
        }
        // Whole frames only (decoders always append whole frames).
        let take = want.min(self.available()) / channels * channels;
        if take == 0 {
            return Ok(None);
        }
        let range = self.start..self.start + take;
        let samples = match &self.pending {
            Samples::Int(v) => Samples::Int(v.get(range).unwrap_or_default().to_vec()),
            Samples::Float(v) => Samples::Float(v.get(range).unwrap_or_default().to_vec()),
        };
        self.start += take;
        if self.start == self.pending.len() {
            match &mut self.pending {
                Samples::Int(v) => v.clear(),
                Samples::Float(v) => v.clear(),
            }
            self.start = 0;
        }
        Ok(Some(Block {
            spec: self.spec,
            samples,
        }))
    }
}

impl<D: PacketDecoder> Decoder for Reader<D> {
    fn info(&self) -> &MediaInfo {
        self.dec.info()
    }
}

/// Average bitrate from a byte count and a duration, when both are sane.
pub(crate) fn average_bitrate(bytes: u64, frames: Option<u64>, rate: u32) -> Option<u32> {
    let frames = frames.filter(|&f| f > 0)?;
    let bits = u128::from(bytes) * 8 * u128::from(rate) / u128::from(frames);
    u32::try_from(bits).ok()
}
