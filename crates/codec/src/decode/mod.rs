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
//! - Monkey's Audio (APE) is decoded by the `ape-decoder` crate ([`ape`]),
//!   with every frame's CRC, its length and the file's MD5 checked;
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

mod ape;
mod flac;
mod media;
mod mp4;
mod opus;
mod opus_ffi;
mod pcm;

pub(crate) use flac::StreamMd5;

/// What a file holds, as `aj info` shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MediaInfo {
    /// Container name: "WAVE", "RF64", "AIFF", "AIFF-C", "FLAC", "MP3", "MP4", "Ogg"…
    pub container: String,
    /// Codec name: "PCM", "FLAC", "MP3", "AAC-LC", "ALAC", "Vorbis", "Opus"…
    pub codec: String,
    /// True when the codec keeps every sample (PCM, FLAC, ALAC, APE).
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
    Ok(open_seekable(path)?)
}

/// Opens `path` like [`open`] and positions the decoder at frame `start`:
/// the first `read` returns frame `start` of the file first.
///
/// [`Source::total_frames`] still gives the length of the whole file, not
/// what is left after `start`.
///
/// How the position is reached depends on the format, never the result:
/// - WAV, RF64 and AIFF seek to the byte offset of the frame;
/// - native FLAC finds the frame holding `start` with the SEEKTABLE when
///   the file has one, else by bisecting on frame headers (sync code,
///   CRC-8, a frame that decodes with its CRC-16 and the expected
///   frame or sample number), then drops the samples before `start` in
///   that frame. Every frame decoded is still checked against its CRC-16
///   and the stream's length against STREAMINFO, but STREAMINFO's MD5
///   covers the whole stream and cannot be checked after a seek (a FLAC
///   stream whose frame numbers cannot be mapped to samples, the
///   pre-2007 variable block size streams, is read from the start
///   instead, and its MD5 is checked);
/// - Monkey's Audio starts at the APE frame holding `start` (frames are
///   coded independently; the seek table gives their offsets) and drops
///   the samples before `start` in it; every frame's CRC and the file's
///   MD5 (which covers the compressed file, not the decoded samples) are
///   still checked;
/// - every other format is decoded from the start and the frames before
///   `start` are dropped, with all the usual checks.
///
/// `start` equal to the file's length gives a decoder whose first `read`
/// returns the end of the stream.
///
/// # Errors
/// Those of [`open`]; errors decoding the frames before `start` when they
/// must be decoded; [`Error::Corrupt`] naming `start` and the file's length
/// when `start` is past the end of the audio.
pub fn open_at(path: &Path, start: u64) -> Result<Box<dyn Decoder>, Error> {
    let mut d = open_seekable(path)?;
    if start > 0 {
        d.skip_to(start)?;
    }
    Ok(d)
}

/// A decoder that can move to a frame before its first `read`.
pub(crate) trait Seekable: Decoder {
    /// Positions a decoder that has not been read yet at frame `frame`.
    fn skip_to(&mut self, frame: u64) -> Result<(), Error>;
}

fn open_seekable(path: &Path) -> Result<Box<dyn Seekable>, Error> {
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
    // Monkey's Audio: "MAC " (or "MACF"), possibly after an ID3v2 tag.
    if let Some(at) = ape::sniff(path, head)? {
        return Ok(Box::new(Reader::new(ape::ApeFile::open(path, at)?)));
    }
    media::open(path)
}

/// A WAV, RF64 or AIFF file whose sample data is, byte for byte, what
/// [`open`] decodes it to in the layout of [`canonical_bytes`]: checking
/// those bytes is checking the decoded samples, without decoding them.
pub(crate) struct RawPcm(pcm::PcmFile);

/// Opens `path` as [`open`] would and returns its raw sample data when
/// [`open`] reads it as PCM in the layout of [`canonical_bytes`]; `None`
/// for any other file.
///
/// # Errors
/// As [`open`] for a file that [`open`] reads as PCM.
pub(crate) fn open_raw_pcm(path: &Path) -> Result<Option<RawPcm>, Error> {
    check_regular_file(path)?;
    let mut head = [0u8; 64];
    let n = read_head(path, &mut head)?;
    if !pcm::sniff(head.get(..n).unwrap_or_default()) {
        return Ok(None);
    }
    Ok(match pcm::open(path)? {
        pcm::Opened::Pcm(d) if d.is_canonical() => Some(RawPcm(d)),
        _ => None,
    })
}

impl RawPcm {
    /// The spec [`open`] gives the file.
    pub(crate) fn spec(&self) -> AudioSpec {
        self.0.spec()
    }

    /// The next bytes of sample data, whole frames, up to `frames` frames;
    /// `None` at the end.
    ///
    /// # Errors
    /// I/O errors, and a file that shrank since it was opened.
    pub(crate) fn read(&mut self, frames: usize) -> Result<Option<&[u8]>, Error> {
        self.0.read_raw(frames)
    }
}

/// A native FLAC file read by our own decoder, whose STREAMINFO MD5 check
/// the caller runs ([`open_flac_deferred_md5`]).
pub(crate) struct FlacFrames(flac::FlacFile);

/// Opens `path` like [`open`] when it is a native FLAC file (`fLaC`, RFC
/// 9639 §6), with STREAMINFO's MD5 check taken out of the decoder and
/// returned (`None` when STREAMINFO holds no MD5): the caller must feed it
/// every decoded sample, in order, in the layout of [`canonical_bytes`] at
/// the stream's depth, and check it at the end; it may do so on another
/// thread than the decoding. `Ok(None)` for any other file.
///
/// # Errors
/// As [`open`] for a native FLAC file.
pub(crate) fn open_flac_deferred_md5(
    path: &Path,
) -> Result<Option<(FlacFrames, Option<StreamMd5>)>, Error> {
    check_regular_file(path)?;
    let mut head = [0u8; 4];
    let n = read_head(path, &mut head)?;
    if head.get(..n) != Some(b"fLaC".as_slice()) {
        return Ok(None);
    }
    let (f, md5) = flac::FlacFile::open_deferred_md5(path)?;
    Ok(Some((FlacFrames(f), md5)))
}

impl FlacFrames {
    /// The spec of the decoded samples.
    pub(crate) fn spec(&self) -> AudioSpec {
        self.0.spec()
    }

    /// Appends decoded frames (interleaved, whole frames) to `out` until it
    /// holds at least `min_samples` samples or the stream ends. Returns
    /// `Ok(false)` at the end, once the stream's length was checked (the
    /// last samples are then in `out`).
    ///
    /// # Errors
    /// Damage as [`Source::read`] reports it for a FLAC file, except a wrong
    /// MD5, which is the caller's [`StreamMd5`] to find.
    pub(crate) fn decode_frames(
        &mut self,
        out: &mut Vec<i32>,
        min_samples: usize,
    ) -> Result<bool, Error> {
        self.0.decode_frames(out, min_samples)
    }
}

/// Appends `samples` to `out` in one fixed byte layout: integers at `bits`
/// as little-endian two's complement in `ceil(bits / 8)` bytes (the layout
/// of FLAC's MD5, RFC 9639 §8.2, and of WAV's sample data from 9 bits up),
/// floats as their IEEE 754 bits, little-endian. Returns false when an
/// integer sample does not fit in `bits` bits (its upper bits are then not
/// in the layout).
pub(crate) fn canonical_bytes(samples: &Samples, bits: u8, out: &mut Vec<u8>) -> bool {
    match samples {
        Samples::Int(v) => canonical_int_bytes(v, bits, out),
        Samples::Float(v) => {
            let base = out.len();
            out.resize(base + v.len() * 4, 0);
            let dst = out.get_mut(base..).unwrap_or_default();
            for (d, &s) in dst.chunks_exact_mut(4).zip(v) {
                d.copy_from_slice(&s.to_bits().to_le_bytes());
            }
            true
        }
    }
}

/// [`canonical_bytes`] of integer samples.
pub(crate) fn canonical_int_bytes(v: &[i32], bits: u8, out: &mut Vec<u8>) -> bool {
    let width = usize::from(bits.div_ceil(8)).clamp(1, 4);
    // Sign extension from `bits` changes a sample that does not fit.
    let sh = 32 - u32::from(bits.clamp(1, 32));
    let mut outside = 0i32;
    let base = out.len();
    out.resize(base + v.len() * width, 0);
    let dst = out.get_mut(base..).unwrap_or_default();
    match width {
        1 => {
            for (d, &s) in dst.iter_mut().zip(v) {
                outside |= (s << sh >> sh) ^ s;
                *d = s as u8;
            }
        }
        2 => {
            for (d, &s) in dst.chunks_exact_mut(2).zip(v) {
                outside |= (s << sh >> sh) ^ s;
                d.copy_from_slice(&(s as i16).to_le_bytes());
            }
        }
        3 => {
            for (d, &s) in dst.chunks_exact_mut(3).zip(v) {
                outside |= (s << sh >> sh) ^ s;
                let [a, b, c, _] = s.to_le_bytes();
                d.copy_from_slice(&[a, b, c]);
            }
        }
        _ => {
            for (d, &s) in dst.chunks_exact_mut(4).zip(v) {
                outside |= (s << sh >> sh) ^ s;
                d.copy_from_slice(&s.to_le_bytes());
            }
        }
    }
    outside == 0
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

    /// Prepares a decoder that has decoded nothing yet to go on from frame
    /// `frame`, and returns the frame the next [`PacketDecoder::decode_next`]
    /// starts with: at most `frame` (the caller drops the frames in
    /// between), and at most the stream's length. The default stays at the
    /// start: everything before `frame` is decoded and dropped.
    fn seek(&mut self, frame: u64) -> Result<u64, Error> {
        let _ = frame;
        Ok(0)
    }
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
        let samples = if self.start == 0 {
            // The buffer itself goes out as the block; only what follows
            // the block is copied (into the next buffer).
            fn front<T: Copy>(v: &mut Vec<T>, n: usize) -> Vec<T> {
                let rest = v.get(n..).unwrap_or_default();
                let mut next = Vec::with_capacity(v.capacity().max(rest.len()));
                next.extend_from_slice(rest);
                v.truncate(n);
                std::mem::replace(v, next)
            }
            match &mut self.pending {
                Samples::Int(v) => Samples::Int(front(v, take)),
                Samples::Float(v) => Samples::Float(front(v, take)),
            }
        } else {
            let range = self.start..self.start + take;
            let samples = match &self.pending {
                Samples::Int(v) => Samples::Int(v.get(range).unwrap_or_default().to_vec()),
                Samples::Float(v) => Samples::Float(v.get(range).unwrap_or_default().to_vec()),
            };
            self.start += take;
            samples
        };
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

impl<D: PacketDecoder> Seekable for Reader<D> {
    fn skip_to(&mut self, frame: u64) -> Result<(), Error> {
        let channels = u64::from(self.spec.channels.max(1));
        let landed = self.dec.seek(frame)?.min(frame);
        // Samples still to drop before `frame`.
        let mut left = (frame - landed).saturating_mul(channels);
        while left > 0 {
            let avail = self.available() as u64;
            if avail > 0 {
                let n = avail.min(left);
                self.start += n as usize;
                left -= n;
                continue;
            }
            self.start = 0;
            match &mut self.pending {
                Samples::Int(v) => v.clear(),
                Samples::Float(v) => v.clear(),
            }
            match self.dec.decode_next(&mut self.pending) {
                Ok(true) => {}
                Ok(false) => {
                    self.state = State::Ended;
                    let len = frame - left / channels;
                    return Err(Error::Corrupt(format!(
                        "cannot start at frame {frame}: the audio holds only {len} frames"
                    )));
                }
                Err(e) => {
                    self.state = State::Failed;
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

/// Average bitrate from a byte count and a duration, when both are sane.
pub(crate) fn average_bitrate(bytes: u64, frames: Option<u64>, rate: u32) -> Option<u32> {
    let frames = frames.filter(|&f| f > 0)?;
    let bits = u128::from(bytes) * 8 * u128::from(rate) / u128::from(frames);
    u32::try_from(bits).ok()
}
