//! Monkey's Audio (`.ape`), decoded by the `ape-decoder` crate (pure Rust,
//! a port of Matthew T. Ashland's Monkey's Audio SDK).
//!
//! The file is a descriptor and header ("MAC " magic), a seek table giving
//! the byte offset of every APE frame, the original WAV header, then the
//! frames; each frame codes `blocks_per_frame` sample frames (73 728 up to
//! "high", four times as many at "extra high", sixteen times at "insane")
//! independently of the others, so a frame is the unit of decoding and of
//! seeking. What is checked:
//!
//! - every frame's CRC-32 against the samples decoded from it (the crate
//!   compares it; a mismatch is damage);
//! - the length of every frame, so the stream holds exactly the sample
//!   frames the header announces;
//! - at the end of the stream, for files of version 3.98 and later, the
//!   MD5 in the descriptor. Monkey's Audio computes it over the file's
//!   stored WAV header, compressed frames, terminating data, header and
//!   seek table (the SDK's `CAPEInfo` "MD5" and the crate's `verify_md5`),
//!   not over decoded samples: it catches damage to the file anywhere,
//!   and does not depend on where decoding started.
//!
//! Integer samples come out at the file's depth (8, 16, 24 or 32 bits).
//! Files older than version 3.95 (2002) and float files (version 10) are
//! refused as unsupported, as is 32-bit audio in more than two channels
//! (the crate decodes that combination only in mono and stereo).
//!
//! The crate indexes and subtracts on values from the file; should any of
//! that panic on a damaged file, the panic is caught at each call into it
//! and reported as damage, never unwinding into the caller.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use aj_core::{AudioSpec, Samples};
use ape_decoder::{ApeDecoder, ApeError};

use super::{average_bitrate, MediaInfo, PacketDecoder};
use crate::Error;

/// The descriptor's magic (Monkey's Audio SDK `APEInfo.cpp`), "MAC ", and
/// the "MACF" variant of recent versions that the SDK (and the crate) also
/// accept; float samples are told by the header's format flags.
const MAGIC: &[u8; 4] = b"MAC ";
const MAGIC_ALT: &[u8; 4] = b"MACF";
/// The oldest version the crate decodes (3.95: the current predictor).
const OLDEST_VERSION: u16 = 3950;
/// From version 3.98 the descriptor carries an MD5 of the file.
const MD5_VERSION: u16 = 3980;
/// The most bytes of decoded PCM one frame may hold: the crate refuses
/// larger frames too (64 MiB); real files hold at most a few MiB.
const MAX_FRAME_PCM_BYTES: u64 = 64 * 1024 * 1024;

/// Where the descriptor of a Monkey's Audio file starts, when `head` (the
/// start of `path`) is one: the "MAC " magic at the start, or right after
/// an ID3v2 tag (some taggers put one in front); `None` for other files.
///
/// # Errors
/// I/O errors reading past an ID3v2 tag.
pub(crate) fn sniff(path: &Path, head: &[u8]) -> Result<Option<u64>, Error> {
    if is_magic(head) {
        return Ok(Some(0));
    }
    // ID3v2.4 §3.1: "ID3", version (2), flags (1), size (4 × 7 bits);
    // a footer (flag bit 4) adds 10 bytes.
    let Some(h) = head.get(..10) else {
        return Ok(None);
    };
    if &h[..3] != b"ID3" || h[6..10].iter().any(|&b| b & 0x80 != 0) {
        return Ok(None);
    }
    let size = h[6..10]
        .iter()
        .fold(0u64, |acc, &b| (acc << 7) | u64::from(b));
    let footer = if h[5] & 0x10 != 0 { 10 } else { 0 };
    let at = 10 + size + footer;
    let mut magic = [0u8; 4];
    Ok(read_at(path, at, &mut magic)?
        .then_some(at)
        .filter(|_| is_magic(&magic)))
}

/// Reads `buf.len()` bytes at `at`; false when the file ends before.
fn read_at(path: &Path, at: u64, buf: &mut [u8]) -> Result<bool, Error> {
    let mut f = File::open(path).map_err(super::open_error)?;
    f.seek(SeekFrom::Start(at))?;
    match f.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn is_magic(b: &[u8]) -> bool {
    b.starts_with(MAGIC) || b.starts_with(MAGIC_ALT)
}

/// An open Monkey's Audio file.
pub(crate) struct ApeFile {
    dec: ApeDecoder<BufReader<File>>,
    info: MediaInfo,
    spec: AudioSpec,
    /// Bytes per sample in the crate's output (little-endian; 8-bit is
    /// offset binary as in WAV).
    width: usize,
    /// APE frames in the file, and the next one to decode.
    frames: u32,
    next: u32,
    blocks_per_frame: u64,
    /// True when the file carries an MD5 (version 3.98 and later) to check
    /// at the end of the stream.
    check_md5: bool,
    ended: bool,
}

impl ApeFile {
    /// Opens and checks the header of a file [`sniff`] accepted, whose
    /// descriptor starts at byte `at`.
    ///
    /// # Errors
    /// [`Error::Io`] when it cannot be read, [`Error::Corrupt`] for a
    /// damaged or truncated header or seek table, [`Error::Unsupported`]
    /// for versions and layouts the decoder does not handle.
    pub(crate) fn open(path: &Path, at: u64) -> Result<Self, Error> {
        // The version follows the magic in every layout; refuse what the
        // crate cannot decode before it parses a header it does not know.
        let mut v = [0u8; 2];
        if !read_at(path, at + 4, &mut v)? {
            return Err(Error::Corrupt(
                "the file is truncated (in the Monkey's Audio header)".into(),
            ));
        }
        let version = u16::from_le_bytes(v);
        if version < OLDEST_VERSION {
            return Err(map_error(
                ApeError::UnsupportedVersion(version),
                "the header",
            ));
        }
        let file = File::open(path).map_err(super::open_error)?;
        let file_len = file.metadata()?.len();
        let reader = BufReader::new(file);
        let dec = guard(|| ApeDecoder::new(reader))
            .and_then(|r| r.map_err(|e| map_error(e, "the header")))?;
        let fi = dec.file_info();
        let h = &fi.header;
        let a = dec.info();
        if a.is_floating_point {
            return Err(Error::Unsupported(
                "Monkey's Audio files of float samples".into(),
            ));
        }
        let bits = h.bits_per_sample;
        if !matches!(bits, 8 | 16 | 24 | 32) {
            return Err(Error::Corrupt(format!(
                "the Monkey's Audio header announces {bits} bits per sample (8, 16, 24 or 32 exist)"
            )));
        }
        if bits == 32 && h.channels > 2 {
            return Err(Error::Unsupported(format!(
                "32-bit Monkey's Audio in {} channels (mono and stereo are supported)",
                h.channels
            )));
        }
        let width = usize::from(bits / 8);
        let frames = h.total_frames;
        let bpf = u64::from(h.blocks_per_frame);
        let frame_bytes = bpf * u64::from(h.channels) * width as u64;
        if frame_bytes > MAX_FRAME_PCM_BYTES {
            return Err(Error::Unsupported(format!(
                "Monkey's Audio frames of {} sample frames in {} channels ({} MiB each; at most {} MiB are decoded at once)",
                h.blocks_per_frame,
                h.channels,
                frame_bytes >> 20,
                MAX_FRAME_PCM_BYTES >> 20
            )));
        }
        // The seek table must give every frame a start inside the file, in
        // order; otherwise the crate would read frames from offset 0.
        if fi.seek_table.len() < frames as usize {
            return Err(Error::Corrupt(format!(
                "the Monkey's Audio seek table lists {} frames but the header announces {frames}",
                fi.seek_table.len()
            )));
        }
        let mut prev = 0u64;
        for i in 0..frames {
            let at = fi.seek_byte(i);
            if at < prev {
                return Err(Error::Corrupt(format!(
                    "the Monkey's Audio seek table is damaged (frame {i} starts before frame {})",
                    i.saturating_sub(1)
                )));
            }
            if at >= file_len {
                return Err(Error::Corrupt(format!(
                    "the file is truncated: APE frame {} of {frames} starts at byte {at} but the file has {file_len} bytes",
                    i + 1
                )));
            }
            prev = at;
        }
        if version >= MD5_VERSION && frames > 0 {
            let end = fi
                .seek_byte(0)
                .saturating_add(fi.ape_frame_data_bytes)
                .saturating_add(u64::from(fi.descriptor.terminating_data_bytes));
            if end > file_len {
                return Err(Error::Corrupt(format!(
                    "the file is truncated: its audio data should end at byte {end} but the file has {file_len} bytes"
                )));
            }
        }
        let total = u64::try_from(fi.total_blocks).unwrap_or(0);
        let spec = AudioSpec::int(a.sample_rate, a.channels, bits as u8);
        spec.validate()
            .map_err(|e| Error::Corrupt(format!("Monkey's Audio header: {e}")))?;
        let info = MediaInfo {
            container: "APE".into(),
            codec: "Monkey's Audio".into(),
            lossless: true,
            sample_rate: a.sample_rate,
            channels: a.channels,
            bits_per_sample: Some(bits as u8),
            total_frames: Some(total),
            bitrate: average_bitrate(file_len, Some(total), a.sample_rate),
        };
        let check_md5 = version >= MD5_VERSION && *dec.stored_md5() != [0; 16];
        Ok(ApeFile {
            dec,
            info,
            spec,
            width,
            frames,
            next: 0,
            blocks_per_frame: bpf,
            check_md5,
            ended: false,
        })
    }

    /// The compression level the file was made with, for a person.
    #[cfg(test)]
    fn level(&self) -> u16 {
        self.dec.info().compression_level
    }

    /// Decodes APE frame `self.next` and appends its samples to `out`.
    fn decode_frame(&mut self, out: &mut Vec<i32>) -> Result<(), Error> {
        let i = self.next;
        let (n, frames) = (i + 1, self.frames);
        let what = format!("APE frame {n} of {frames}");
        let pcm = guard(|| self.dec.decode_frame(i)).and_then(|r| {
            r.map_err(|e| match e {
                ApeError::InvalidChecksum => Error::Corrupt(format!(
                    "the file is damaged: {what} does not match its CRC"
                )),
                e => map_error(e, &what),
            })
        })?;
        let want = u64::from(self.dec.file_info().frame_block_count(i))
            * u64::from(self.spec.channels)
            * self.width as u64;
        if pcm.len() as u64 != want {
            return Err(Error::Corrupt(format!(
                "the file is damaged: {what} decoded to {} bytes instead of {want}",
                pcm.len()
            )));
        }
        out.reserve(pcm.len() / self.width);
        match self.width {
            1 => out.extend(pcm.iter().map(|&b| i32::from(b) - 128)),
            2 => out.extend(
                pcm.chunks_exact(2)
                    .map(|c| i32::from(i16::from_le_bytes([c[0], c[1]]))),
            ),
            3 => out.extend(
                pcm.chunks_exact(3)
                    .map(|c| i32::from_le_bytes([0, c[0], c[1], c[2]]) >> 8),
            ),
            _ => out.extend(
                pcm.chunks_exact(4)
                    .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            ),
        }
        self.next += 1;
        Ok(())
    }

    /// The checks at the end of the stream: the file's MD5.
    fn end_checks(&mut self) -> Result<(), Error> {
        if !self.check_md5 {
            return Ok(());
        }
        let ok = guard(|| self.dec.verify_md5())
            .and_then(|r| r.map_err(|e| map_error(e, "the MD5 check")))?;
        if !ok {
            return Err(Error::Corrupt(
                "the file is damaged: its content does not match the MD5 stored in its Monkey's Audio header"
                    .into(),
            ));
        }
        Ok(())
    }
}

impl PacketDecoder for ApeFile {
    fn info(&self) -> &MediaInfo {
        &self.info
    }

    fn spec(&self) -> AudioSpec {
        self.spec
    }

    fn decode_next(&mut self, out: &mut Samples) -> Result<bool, Error> {
        if self.ended {
            return Ok(false);
        }
        let Samples::Int(out) = out else {
            return Err(Error::Corrupt(
                "internal: Monkey's Audio decodes to integers".into(),
            ));
        };
        if self.next < self.frames {
            self.decode_frame(out)?;
            return Ok(true);
        }
        self.ended = true;
        self.end_checks()?;
        Ok(false)
    }

    fn seek(&mut self, frame: u64) -> Result<u64, Error> {
        // Frames are coded independently: decoding starts at the frame
        // holding `frame`, the `Reader` drops the samples before it.
        let total = self.info.total_frames.unwrap_or(0);
        if frame >= total {
            self.next = self.frames;
            return Ok(total);
        }
        let index = frame / self.blocks_per_frame.max(1);
        self.next = u32::try_from(index).unwrap_or(u32::MAX).min(self.frames);
        Ok(u64::from(self.next) * self.blocks_per_frame)
    }
}

/// Runs a call into the crate, turning a panic into an error.
fn guard<T>(f: impl FnOnce() -> T) -> Result<T, Error> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|_| {
        Error::Corrupt("the Monkey's Audio decoder failed on damaged data in the file".into())
    })
}

/// An error from the crate, worded for a person; `what` names the part
/// of the file being read.
fn map_error(e: ApeError, what: &str) -> Error {
    match e {
        ApeError::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Error::Corrupt(format!("the file is truncated (in {what})"))
        }
        ApeError::Io(e) => Error::Io(e),
        ApeError::UnsupportedVersion(v) => Error::Unsupported(format!(
            "Monkey's Audio version {}.{:02} (files before {}.{:02}, from 2002, are not decoded)",
            v / 1000,
            v % 1000 / 10,
            OLDEST_VERSION / 1000,
            OLDEST_VERSION % 1000 / 10
        )),
        ApeError::InvalidChecksum => Error::Corrupt(format!(
            "the file is damaged: {what} does not match its CRC"
        )),
        ApeError::DecodingError("short read on frame data") => {
            Error::Corrupt(format!("the file is truncated (in {what})"))
        }
        ApeError::InvalidFormat(m) => Error::Corrupt(format!(
            "the file is damaged or not a Monkey's Audio file ({what}: {m})"
        )),
        ApeError::DecodingError(m) => Error::Corrupt(format!(
            "the file is damaged: {what} cannot be decoded ({m})"
        )),
        e => Error::Corrupt(format!("the Monkey's Audio file is damaged ({what}: {e})")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(name)
    }

    #[test]
    fn header_fields_reach_media_info() {
        let f = ApeFile::open(&fixture("s24-stereo-high.ape"), 0).unwrap();
        assert_eq!(f.level(), 3000);
        assert_eq!(f.spec, AudioSpec::int(44_100, 2, 24));
        assert_eq!(f.info.total_frames, Some(6615));
        assert!(f.check_md5, "a 3.99 file carries an MD5");
        let f = ApeFile::open(&fixture("s16-stereo-frames.ape"), 0).unwrap();
        assert_eq!((f.frames, f.blocks_per_frame), (2, 73_728));
    }

    #[test]
    fn seeking_lands_on_the_frame_start() {
        let mut f = ApeFile::open(&fixture("s16-stereo-frames.ape"), 0).unwrap();
        assert_eq!(f.seek(0).unwrap(), 0);
        assert_eq!(f.seek(73_727).unwrap(), 0);
        assert_eq!(f.seek(73_728).unwrap(), 73_728);
        assert_eq!(f.seek(75_000).unwrap(), 73_728);
        assert_eq!(f.next, 1);
        let total = 73_728 + 4000;
        assert_eq!(f.seek(total).unwrap(), total);
        let mut out = Samples::Int(Vec::new());
        assert!(!f.decode_next(&mut out).unwrap());
    }

    #[test]
    fn sniffs_the_magic_after_an_id3v2_tag() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.ape");
        let ape = std::fs::read(fixture("u8-mono-normal.ape")).unwrap();
        let mut v = b"ID3\x04\x00\x00\x00\x00\x00\x05".to_vec();
        v.extend_from_slice(&[0; 5]);
        v.extend_from_slice(&ape);
        std::fs::write(&p, &v).unwrap();
        assert_eq!(sniff(&p, &v[..64]).unwrap(), Some(15));
        assert_eq!(sniff(&p, &ape[..64]).unwrap(), Some(0));
        assert_eq!(sniff(&p, b"ID3\x04\x00\x00\x00\x00\x00\x06").unwrap(), None);
        assert_eq!(sniff(&p, b"fLaC").unwrap(), None);
    }
}
