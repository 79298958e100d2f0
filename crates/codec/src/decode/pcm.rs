//! Our own reader for uncompressed PCM in WAV, RF64/BW64, AIFF and AIFF-C.
//!
//! Symphonia reads neither RF64 nor BW64 and does not keep sub-byte depths
//! (20-bit in a 24-bit container) apart, so these containers are parsed here:
//! integer samples come out bit-exact at the depth the file declares, float
//! samples as `f32`.
//!
//! References: Microsoft "Multimedia Programming Interface and Data
//! Specifications 1.0" (RIFF WAVE, 1991) and "WAVEFORMATEXTENSIBLE"; EBU Tech
//! 3306 (RF64) and ITU-R BS.2088 (BW64); Apple "Audio Interchange File Format
//! 1.3" (1989) and "AIFF-C" (1991 draft), with the QuickTime compression
//! types `sowt`, `fl32`, `fl64`, `in24`, `in32`, `23ni`, `42ni` and `raw `.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use aj_core::{AudioSpec, Samples};

use super::{average_bitrate, MediaInfo, PacketDecoder};
use crate::Error;

/// Largest header chunk (`fmt `, `COMM`, `ds64`) we read into memory; real
/// ones are a few dozen bytes.
const MAX_HEADER_CHUNK: u64 = 64 * 1024;
/// Frames decoded per call of `decode_next`.
const FRAMES_PER_READ: usize = 4096;
/// WAVE format tags (RFC 2361 lists them).
const WAVE_FORMAT_PCM: u16 = 0x0001;
const WAVE_FORMAT_IEEE_FLOAT: u16 = 0x0003;
const WAVE_FORMAT_EXTENSIBLE: u16 = 0xFFFE;
/// The tail shared by every `KSDATAFORMAT_SUBTYPE_*` GUID derived from a
/// format tag: `{tag-0000-0010-8000-00AA00389B71}` (bytes 2..16, little-endian layout).
const KSDATAFORMAT_SUBTYPE_TAIL: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
];

/// True when `head` starts like a WAV/RF64/BW64 or AIFF/AIFF-C file.
pub(crate) fn sniff(head: &[u8]) -> bool {
    let (Some(magic), Some(form)) = (head.get(0..4), head.get(8..12)) else {
        return false;
    };
    matches!(
        (magic, form),
        (b"RIFF" | b"RF64" | b"BW64", b"WAVE") | (b"FORM", b"AIFF" | b"AIFC")
    )
}

/// What [`open`] found.
pub(crate) enum Opened {
    Pcm(PcmFile),
    /// A valid container holding a codec other than PCM, named for a person.
    Other {
        codec: String,
    },
}

/// How one sample is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    /// Signed two's complement integer of `bytes` bytes; `unsigned` for
    /// offset-binary 8-bit (WAV, AIFF-C `raw `).
    Int {
        bytes: usize,
        big_endian: bool,
        unsigned: bool,
    },
    F32 {
        big_endian: bool,
    },
    F64 {
        big_endian: bool,
    },
}

impl Encoding {
    fn bytes(self) -> usize {
        match self {
            Encoding::Int { bytes, .. } => bytes,
            Encoding::F32 { .. } => 4,
            Encoding::F64 { .. } => 8,
        }
    }
}

/// An open PCM file positioned in its sample data.
pub(crate) struct PcmFile {
    reader: BufReader<File>,
    info: MediaInfo,
    spec: AudioSpec,
    enc: Encoding,
    /// Right shift from the container width to the declared depth.
    shift: u32,
    /// Bytes of sample data left; `None` reads to the end of the file.
    remaining: Option<u64>,
    frame_bytes: usize,
    buf: Vec<u8>,
}

/// Opens a file that [`sniff`] accepted.
pub(crate) fn open(path: &Path) -> Result<Opened, Error> {
    let file = File::open(path)?;
    let file_len = file.metadata()?.len();
    let mut r = BufReader::new(file);
    let mut magic = [0u8; 12];
    read_exact(&mut r, &mut magic, "file header")?;
    match &magic[0..4] {
        b"FORM" => open_aiff(r, file_len, &magic[8..12] == b"AIFC"),
        id => {
            let container = match id {
                b"RF64" => "RF64",
                b"BW64" => "BW64",
                _ => "WAVE",
            };
            open_wav(r, file_len, container)
        }
    }
}

fn read_exact(r: &mut impl Read, buf: &mut [u8], what: &str) -> Result<(), Error> {
    r.read_exact(buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Error::Corrupt(format!("the file is truncated (in the {what})"))
        } else {
            Error::Io(e)
        }
    })
}

/// Reads a header chunk's payload, refusing absurd sizes.
fn read_chunk(r: &mut impl Read, size: u64, what: &str) -> Result<Vec<u8>, Error> {
    if size > MAX_HEADER_CHUNK {
        return Err(Error::Corrupt(format!(
            "the {what} chunk is implausibly large ({size} bytes)"
        )));
    }
    let mut v = vec![0u8; size as usize];
    read_exact(r, &mut v, &format!("{what} chunk"))?;
    Ok(v)
}

fn le16(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .map_or(0, |s| u16::from_le_bytes([s[0], s[1]]))
}
fn le32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}
fn le64(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8).map_or(0, |s| {
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        u64::from_le_bytes(a)
    })
}
fn be16(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .map_or(0, |s| u16::from_be_bytes([s[0], s[1]]))
}
fn be32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

/// A person's name for a WAVE format tag (RFC 2361), for error messages.
fn wave_tag_name(tag: u16) -> String {
    let name = match tag {
        0x0002 => "Microsoft ADPCM",
        0x0006 => "A-law",
        0x0007 => "µ-law",
        0x0011 => "IMA ADPCM",
        0x0031 => "GSM 6.10",
        0x0050 => "MPEG audio",
        0x0055 => "MP3",
        0x00FF => "AAC",
        0x0160..=0x0163 => "Windows Media Audio",
        0x0092 | 0x2000 => "AC-3",
        0x2001 => "DTS",
        0x6771 => "Vorbis",
        0xF1AC => "FLAC",
        _ => return format!("WAVE format 0x{tag:04X}"),
    };
    format!("{name} (WAVE format 0x{tag:04X})")
}

struct WavFmt {
    tag: u16,
    channels: u16,
    rate: u32,
    block_align: u16,
    bits: u16,
    valid_bits: u16,
}

fn parse_fmt(b: &[u8]) -> Result<WavFmt, Error> {
    if b.len() < 16 {
        return Err(Error::Corrupt("the WAVE fmt chunk is too short".into()));
    }
    let mut f = WavFmt {
        tag: le16(b, 0),
        channels: le16(b, 2),
        rate: le32(b, 4),
        block_align: le16(b, 12),
        bits: le16(b, 14),
        valid_bits: le16(b, 14),
    };
    if f.tag == WAVE_FORMAT_EXTENSIBLE {
        // cbSize(2) validBits(2) channelMask(4) subFormat GUID(16).
        if b.len() < 40 || le16(b, 16) < 22 {
            return Err(Error::Corrupt(
                "the WAVE_FORMAT_EXTENSIBLE fmt chunk is too short".into(),
            ));
        }
        let valid = le16(b, 18);
        if valid != 0 {
            f.valid_bits = valid;
        }
        let sub = le16(b, 24);
        if b.get(26..40) != Some(&KSDATAFORMAT_SUBTYPE_TAIL[..]) {
            return Err(Error::Unsupported(
                "a WAVE_FORMAT_EXTENSIBLE sub-format that is not PCM or float".into(),
            ));
        }
        f.tag = sub;
    }
    Ok(f)
}

fn open_wav(mut r: BufReader<File>, file_len: u64, container: &str) -> Result<Opened, Error> {
    let rf64 = container != "WAVE";
    let mut fmt: Option<WavFmt> = None;
    let mut ds64_data: Option<u64> = None;
    let mut pos: u64 = 12;
    loop {
        let mut hdr = [0u8; 8];
        match r.read_exact(&mut hdr) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(Error::Corrupt(if fmt.is_none() {
                    "the WAVE file has no fmt chunk (truncated or not audio)".into()
                } else {
                    "the WAVE file has no data chunk (truncated?)".into()
                }));
            }
            Err(e) => return Err(e.into()),
        }
        pos += 8;
        let id = [hdr[0], hdr[1], hdr[2], hdr[3]];
        let size32 = le32(&hdr, 4);
        let mut size = u64::from(size32);
        match &id {
            b"ds64" if rf64 => {
                // ds64 (EBU Tech 3306 §3): riffSize(8) dataSize(8) sampleCount(8) …
                let b = read_chunk(&mut r, size, "ds64")?;
                if b.len() < 24 {
                    return Err(Error::Corrupt("the RF64 ds64 chunk is too short".into()));
                }
                ds64_data = Some(le64(&b, 8));
                pos += size;
            }
            b"fmt " => {
                let b = read_chunk(&mut r, size, "fmt")?;
                fmt = Some(parse_fmt(&b)?);
                pos += size;
            }
            b"data" => {
                let fmt = fmt.ok_or_else(|| {
                    Error::Corrupt("the WAVE data chunk comes before its fmt chunk".into())
                })?;
                if rf64 && size32 == u32::MAX {
                    size = ds64_data.ok_or_else(|| {
                        Error::Corrupt(
                            "the RF64 file has no ds64 chunk giving its data size".into(),
                        )
                    })?;
                }
                let avail = file_len.saturating_sub(pos);
                // Size 0 or 0xFFFFFFFF in a plain RIFF file: written by a
                // recorder that never came back to fix the header; the data
                // runs to the end of the file.
                let to_eof = !rf64 && (size32 == u32::MAX || (size32 == 0 && avail > 0));
                let remaining = if to_eof {
                    None
                } else if size > avail {
                    return Err(Error::Corrupt(format!(
                        "the file is truncated: its data chunk announces {size} bytes but only {avail} are present"
                    )));
                } else {
                    Some(size)
                };
                return wav_pcm(r, fmt, remaining, avail, container);
            }
            _ => {
                // Skip the chunk and its pad byte.
                let skip = size + (size & 1);
                pos = pos.saturating_add(skip);
                if pos > file_len {
                    return Err(Error::Corrupt(format!(
                        "the file is truncated (in the '{}' chunk)",
                        super::fourcc(&id)
                    )));
                }
                r.seek(SeekFrom::Start(pos))?;
                continue;
            }
        }
        if size & 1 == 1 {
            pos += 1;
            r.seek(SeekFrom::Start(pos))?;
        }
    }
}

fn wav_pcm(
    r: BufReader<File>,
    fmt: WavFmt,
    remaining: Option<u64>,
    avail: u64,
    container: &str,
) -> Result<Opened, Error> {
    let bytes = usize::from(fmt.bits.div_ceil(8));
    let enc = match (fmt.tag, fmt.bits) {
        (WAVE_FORMAT_PCM, 1..=32) => Encoding::Int {
            bytes,
            big_endian: false,
            unsigned: bytes == 1,
        },
        (WAVE_FORMAT_IEEE_FLOAT, 32) => Encoding::F32 { big_endian: false },
        (WAVE_FORMAT_IEEE_FLOAT, 64) => Encoding::F64 { big_endian: false },
        (WAVE_FORMAT_PCM | WAVE_FORMAT_IEEE_FLOAT, bits) => {
            return Err(Error::Unsupported(format!(
                "{bits}-bit {} samples in WAVE",
                if fmt.tag == 1 { "integer" } else { "float" }
            )));
        }
        (tag, _) => {
            return Ok(Opened::Other {
                codec: wave_tag_name(tag),
            })
        }
    };
    if usize::from(fmt.block_align) != bytes * usize::from(fmt.channels) {
        return Err(Error::Corrupt(format!(
            "the WAVE block alignment ({}) does not match {} channels of {} bits",
            fmt.block_align, fmt.channels, fmt.bits
        )));
    }
    let depth = match enc {
        Encoding::Int { .. } => Some(fmt.valid_bits.clamp(1, fmt.bits)),
        _ => None,
    };
    finish(
        r,
        container,
        enc,
        fmt.channels,
        fmt.rate,
        depth,
        remaining,
        avail,
    )
    .map(Opened::Pcm)
}

/// Checks the stream parameters and builds the decoder.
#[allow(clippy::too_many_arguments)]
fn finish(
    reader: BufReader<File>,
    container: &str,
    enc: Encoding,
    channels: u16,
    rate: u32,
    depth: Option<u16>,
    remaining: Option<u64>,
    avail: u64,
) -> Result<PcmFile, Error> {
    let (spec, shift) = match (enc, depth) {
        (Encoding::Int { bytes, .. }, Some(d)) => {
            let d = u8::try_from(d).unwrap_or(32).min(32);
            (
                AudioSpec::int(rate, channels, d),
                (bytes as u32 * 8).saturating_sub(u32::from(d)),
            )
        }
        _ => (AudioSpec::float(rate, channels), 0),
    };
    spec.validate()
        .map_err(|e| Error::Corrupt(format!("{container} header: {e}")))?;
    let frame_bytes = enc.bytes() * usize::from(channels);
    let data_bytes = remaining.unwrap_or(avail);
    if remaining.is_some() && !data_bytes.is_multiple_of(frame_bytes as u64) {
        return Err(Error::Corrupt(format!(
            "the file is truncated: its sample data ends in the middle of a frame ({data_bytes} bytes, {frame_bytes} per frame)"
        )));
    }
    let total = data_bytes / frame_bytes as u64;
    let is_int = matches!(enc, Encoding::Int { .. });
    let info = MediaInfo {
        container: container.to_string(),
        codec: if is_int {
            "PCM".into()
        } else {
            "PCM float".into()
        },
        // Float PCM keeps every sample too (64-bit samples are narrowed to
        // f32 on output, the only precision this suite carries).
        lossless: true,
        sample_rate: rate,
        channels,
        bits_per_sample: Some(if is_int {
            spec.format.bits()
        } else {
            enc.bytes() as u8 * 8
        }),
        total_frames: Some(total),
        bitrate: average_bitrate(data_bytes, Some(total), rate),
    };
    Ok(PcmFile {
        reader,
        info,
        spec,
        enc,
        shift,
        remaining: Some(data_bytes),
        frame_bytes,
        buf: Vec::new(),
    })
}

fn open_aiff(mut r: BufReader<File>, file_len: u64, aifc: bool) -> Result<Opened, Error> {
    let container = if aifc { "AIFF-C" } else { "AIFF" };
    let mut comm: Option<Vec<u8>> = None;
    let mut ssnd: Option<(u64, u64)> = None; // (start of chunk payload, payload size)
    let mut pos: u64 = 12;
    while comm.is_none() || ssnd.is_none() {
        let mut hdr = [0u8; 8];
        match r.read_exact(&mut hdr) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(Error::Corrupt(format!(
                    "the {container} file has no {} chunk (truncated or not audio)",
                    if comm.is_none() { "COMM" } else { "SSND" }
                )));
            }
            Err(e) => return Err(e.into()),
        }
        pos += 8;
        let size = u64::from(be32(&hdr, 4));
        match &hdr[0..4] {
            b"COMM" => {
                comm = Some(read_chunk(&mut r, size, "COMM")?);
            }
            b"SSND" => ssnd = Some((pos, size)),
            _ => {}
        }
        pos = pos.saturating_add(size + (size & 1));
        r.seek(SeekFrom::Start(pos))?;
    }
    let (Some(c), Some((ssnd_pos, ssnd_size))) = (comm, ssnd) else {
        return Err(Error::Corrupt(format!(
            "the {container} file lacks a COMM or SSND chunk"
        )));
    };
    // COMM (AIFF 1.3 §"Common Chunk"): numChannels(2) numSampleFrames(4)
    // sampleSize(2) sampleRate(80-bit extended); AIFF-C adds
    // compressionType(4) and a Pascal-string name.
    if c.len() < 18 || (aifc && c.len() < 22) {
        return Err(Error::Corrupt(format!(
            "the {container} COMM chunk is too short"
        )));
    }
    let channels = be16(&c, 0);
    let frames = u64::from(be32(&c, 2));
    let bits = be16(&c, 6);
    let rate = extended_to_rate(&c[8..18]).ok_or_else(|| {
        Error::Corrupt(format!("the {container} sample rate is not a valid number"))
    })?;
    let compression: [u8; 4] = if aifc {
        [c[18], c[19], c[20], c[21]]
    } else {
        *b"NONE"
    };
    let bytes = usize::from(bits.div_ceil(8));
    let int = |big_endian: bool, unsigned: bool| -> Result<Encoding, Error> {
        if !(1..=32).contains(&bits) {
            return Err(Error::Corrupt(format!(
                "{bits} bits per sample in {container}"
            )));
        }
        Ok(Encoding::Int {
            bytes,
            big_endian,
            unsigned,
        })
    };
    let (enc, depth) = match &compression {
        b"NONE" | b"twos" => (int(true, false)?, Some(bits)),
        b"sowt" => (int(false, false)?, Some(bits)),
        b"raw " => (
            Encoding::Int {
                bytes: 1,
                big_endian: true,
                unsigned: true,
            },
            Some(8),
        ),
        b"in24" => (
            Encoding::Int {
                bytes: 3,
                big_endian: true,
                unsigned: false,
            },
            Some(24),
        ),
        b"in32" => (
            Encoding::Int {
                bytes: 4,
                big_endian: true,
                unsigned: false,
            },
            Some(32),
        ),
        b"23ni" => (
            Encoding::Int {
                bytes: 3,
                big_endian: false,
                unsigned: false,
            },
            Some(24),
        ),
        b"42ni" => (
            Encoding::Int {
                bytes: 4,
                big_endian: false,
                unsigned: false,
            },
            Some(32),
        ),
        b"fl32" | b"FL32" => (Encoding::F32 { big_endian: true }, None),
        b"fl64" | b"FL64" => (Encoding::F64 { big_endian: true }, None),
        other => {
            let name = match other {
                b"alaw" | b"ALAW" => "A-law".to_string(),
                b"ulaw" | b"ULAW" => "µ-law".to_string(),
                b"ima4" => "IMA ADPCM".to_string(),
                b"MAC3" | b"MAC6" => "MACE".to_string(),
                _ => format!("AIFF-C '{}'", super::fourcc(other)),
            };
            return Ok(Opened::Other { codec: name });
        }
    };
    // SSND: offset(4) blockSize(4) then sample data starting `offset` bytes in.
    let mut hdr = [0u8; 8];
    r.seek(SeekFrom::Start(ssnd_pos))?;
    read_exact(&mut r, &mut hdr, "SSND chunk")?;
    let offset = u64::from(be32(&hdr, 0));
    let data_start = ssnd_pos + 8 + offset;
    let data_bytes = frames
        .checked_mul((enc.bytes() * usize::from(channels)) as u64)
        .ok_or_else(|| Error::Corrupt("the AIFF frame count is implausible".into()))?;
    let in_chunk = ssnd_size.saturating_sub(8 + offset);
    let in_file = file_len.saturating_sub(data_start);
    if data_bytes > in_chunk.min(in_file) {
        return Err(Error::Corrupt(format!(
            "the file is truncated: COMM announces {frames} frames ({data_bytes} bytes) but only {} bytes of samples are present",
            in_chunk.min(in_file)
        )));
    }
    r.seek(SeekFrom::Start(data_start))?;
    finish(
        r,
        container,
        enc,
        channels,
        rate,
        depth,
        Some(data_bytes),
        data_bytes,
    )
    .map(Opened::Pcm)
}

/// Converts an IEEE 754 80-bit extended float (big-endian, as in AIFF's COMM
/// chunk) to a whole sample rate in Hz. `None` for zero, negative, infinite,
/// NaN or out-of-range values.
fn extended_to_rate(b: &[u8]) -> Option<u32> {
    let b: &[u8; 10] = b.try_into().ok()?;
    let sign_exp = u16::from_be_bytes([b[0], b[1]]);
    if sign_exp & 0x8000 != 0 {
        return None;
    }
    let exp = i32::from(sign_exp & 0x7FFF);
    let mut m = [0u8; 8];
    m.copy_from_slice(&b[2..10]);
    let mantissa = u64::from_be_bytes(m);
    if exp == 0x7FFF || mantissa == 0 {
        return None;
    }
    // value = mantissa * 2^(exp - 16383 - 63)
    let e = exp - 16383 - 63;
    if !(-126..=0).contains(&e) {
        return None;
    }
    let v = (mantissa as f64) * 2f64.powi(e);
    let hz = v.round();
    (hz >= 1.0 && hz <= f64::from(u32::MAX)).then_some(hz as u32)
}

impl PcmFile {
    /// Reads the next bytes of sample data, up to `frames` frames, into
    /// `self.buf`; returns how many (0 at the end).
    fn read_bytes(&mut self, frames: usize) -> Result<usize, Error> {
        let left = self.remaining.unwrap_or(u64::MAX);
        let want = frames.saturating_mul(self.frame_bytes) as u64;
        let n = left.min(want) as usize;
        if n == 0 {
            return Ok(0);
        }
        self.buf.resize(n, 0);
        let mut got = 0;
        while got < n {
            let Some(dst) = self.buf.get_mut(got..n) else {
                break;
            };
            match self.reader.read(dst) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        if got < n {
            // The file shrank after it was opened.
            return Err(Error::Corrupt(
                "the file ended before its sample data did".into(),
            ));
        }
        if let Some(r) = self.remaining.as_mut() {
            *r -= n as u64;
        }
        Ok(n)
    }

    /// True when the sample data is, byte for byte, what decoding gives
    /// in [`super::canonical_bytes`]'s layout: signed little-endian
    /// integers in exactly `ceil(bits / 8)` bytes (no padding bits), or
    /// little-endian 32-bit floats.
    pub(crate) fn is_canonical(&self) -> bool {
        match self.enc {
            Encoding::Int {
                bytes,
                big_endian,
                unsigned: false,
            } => {
                (bytes == 1 || !big_endian)
                    && self.shift == 0
                    && bytes == usize::from(self.spec.format.bits().div_ceil(8))
            }
            Encoding::F32 { big_endian: false } => true,
            _ => false,
        }
    }

    /// The next raw bytes of sample data (whole frames, up to `frames`);
    /// `None` at the end.
    pub(crate) fn read_raw(&mut self, frames: usize) -> Result<Option<&[u8]>, Error> {
        let n = self.read_bytes(frames)?;
        Ok((n > 0).then(|| self.buf.get(..n).unwrap_or_default()))
    }

    fn convert(&self, bytes: &[u8], out: &mut Samples) {
        match (self.enc, out) {
            (
                Encoding::Int {
                    bytes: n,
                    big_endian,
                    unsigned,
                },
                Samples::Int(v),
            ) => {
                v.reserve(bytes.len() / n);
                let shift = self.shift;
                let top = 32 - 8 * n as u32; // left shift that puts the sample's sign bit at bit 31
                for s in bytes.chunks_exact(n) {
                    let mut raw: u32 = 0;
                    if big_endian {
                        for &b in s {
                            raw = (raw << 8) | u32::from(b);
                        }
                    } else {
                        for &b in s.iter().rev() {
                            raw = (raw << 8) | u32::from(b);
                        }
                    }
                    if unsigned {
                        raw ^= 1 << (8 * n as u32 - 1);
                    }
                    // Sign-extend from n bytes, then drop the padding bits.
                    let x = ((raw << top) as i32) >> top;
                    v.push(x >> shift);
                }
            }
            (Encoding::F32 { big_endian }, Samples::Float(v)) => {
                v.extend(bytes.chunks_exact(4).map(|s| {
                    let a = [s[0], s[1], s[2], s[3]];
                    if big_endian {
                        f32::from_be_bytes(a)
                    } else {
                        f32::from_le_bytes(a)
                    }
                }));
            }
            (Encoding::F64 { big_endian }, Samples::Float(v)) => {
                v.extend(bytes.chunks_exact(8).map(|s| {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(s);
                    (if big_endian {
                        f64::from_be_bytes(a)
                    } else {
                        f64::from_le_bytes(a)
                    }) as f32
                }));
            }
            _ => {}
        }
    }

    /// Checks that the padding bits below the declared depth are zero, as the
    /// WAVE and AIFF specifications require; otherwise the declared depth
    /// would silently drop information.
    fn check_padding(&self, bytes: &[u8]) -> Result<(), Error> {
        let Encoding::Int {
            bytes: n,
            big_endian,
            ..
        } = self.enc
        else {
            return Ok(());
        };
        if self.shift == 0 {
            return Ok(());
        }
        let mask = (1u32 << self.shift) - 1;
        for s in bytes.chunks_exact(n) {
            let low = if big_endian { s[n - 1] } else { s[0] };
            if u32::from(low) & mask != 0 {
                return Err(Error::Corrupt(format!(
                    "samples use more bits than the {} bits per sample the header declares",
                    self.spec.format.bits()
                )));
            }
        }
        Ok(())
    }
}

impl PacketDecoder for PcmFile {
    fn info(&self) -> &MediaInfo {
        &self.info
    }

    fn spec(&self) -> AudioSpec {
        self.spec
    }

    fn decode_next(&mut self, out: &mut Samples) -> Result<bool, Error> {
        let n = self.read_bytes(FRAMES_PER_READ)?;
        if n == 0 {
            return Ok(false);
        }
        let whole = n / self.frame_bytes * self.frame_bytes;
        let bytes = std::mem::take(&mut self.buf);
        let res = self.check_padding(&bytes[..whole]);
        if res.is_ok() {
            self.convert(&bytes[..whole], out);
        }
        self.buf = bytes;
        res.map(|()| true)
    }

    /// Seeks straight to the frame's byte offset in the sample data.
    fn seek(&mut self, frame: u64) -> Result<u64, Error> {
        let Some(left) = self.remaining else {
            return Ok(0);
        };
        let frame_bytes = self.frame_bytes.max(1) as u64;
        let n = frame.min(left / frame_bytes);
        let bytes = n * frame_bytes;
        let offset = i64::try_from(bytes)
            .map_err(|_| Error::Corrupt(format!("cannot seek to frame {frame}")))?;
        self.reader.seek_relative(offset)?;
        self.remaining = Some(left - bytes);
        Ok(n)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn extended_rates() {
        // 44100 Hz: 0x400E AC44 0000 0000 0000
        let b = [0x40, 0x0E, 0xAC, 0x44, 0, 0, 0, 0, 0, 0];
        assert_eq!(extended_to_rate(&b), Some(44100));
        // 8000 Hz: 0x400B FA00 …
        let b = [0x40, 0x0B, 0xFA, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(extended_to_rate(&b), Some(8000));
        assert_eq!(extended_to_rate(&[0; 10]), None);
        assert_eq!(extended_to_rate(&[0xFF; 10]), None);
    }
}
