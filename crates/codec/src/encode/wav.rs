//! WAV and RF64 encoder: integer PCM of 1–32 bits and IEEE float 32.
//!
//! Layout written at [`create`] time, sizes patched at [`Encoder::finish`]:
//!
//! ```text
//! RIFF <size> WAVE
//! JUNK <28>  (28 zero bytes, room for a ds64 chunk: EBU Tech 3306 §2)
//! fmt  <16|18|40>
//! fact <4>   (float only: required for every non-PCM format)
//! data <size> samples… [pad byte]
//! ```
//!
//! When the file would exceed what 32-bit RIFF sizes can say, the header
//! becomes RF64 (EBU Tech 3306): the id `RIFF` turns into `RF64`, the JUNK chunk
//! into `ds64` holding the 64-bit sizes, and the 32-bit size fields read
//! 0xFFFFFFFF.
//!
//! Sample layout (Microsoft "Multiple channel audio data and WAVE files"):
//! samples take whole bytes, little-endian, left-justified when the depth is
//! not a multiple of 8; 8-bit containers are unsigned (offset 128), wider ones
//! are two's complement. WAVE_FORMAT_EXTENSIBLE (with wValidBitsPerSample and a
//! channel mask) is written for more than two channels and for every integer
//! depth other than 8 and 16, as common practice asks.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};

use aj_core::{AudioSpec, Block, SampleFormat, Samples};

use super::{Encoder, EncoderOptions};
use crate::Error;

/// WAVE_FORMAT_PCM (mmreg.h).
const FORMAT_PCM: u16 = 0x0001;
/// WAVE_FORMAT_IEEE_FLOAT (mmreg.h).
const FORMAT_IEEE_FLOAT: u16 = 0x0003;
/// WAVE_FORMAT_EXTENSIBLE (mmreg.h).
const FORMAT_EXTENSIBLE: u16 = 0xFFFE;
/// Tail shared by the KSDATAFORMAT_SUBTYPE_* GUIDs (ksmedia.h): the format
/// tag goes in the first two bytes, little-endian.
const SUBTYPE_GUID_TAIL: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
];
/// Size of the ds64 payload without a table (EBU Tech 3306 §2: riffSize,
/// dataSize, sampleCount as 64-bit values, tableLength as 32-bit).
const DS64_SIZE: u32 = 28;
/// The 32-bit size that means "see ds64" in RF64 (EBU Tech 3306 §2).
const RF64_SIZE_MARKER: u32 = 0xFFFF_FFFF;
/// Largest RIFF size a 32-bit field holds; beyond it the file becomes RF64.
const RIFF_LIMIT: u64 = u32::MAX as u64;

/// Default speaker positions (dwChannelMask, ksmedia.h SPEAKER_*) for 1–8
/// channels: mono FC; stereo FL FR; 3.0 FL FR FC; quad FL FR BL BR; 5.0
/// FL FR FC BL BR; 5.1 FL FR FC LFE BL BR; 6.1 FL FR FC LFE BC SL SR; 7.1 FL FR
/// FC LFE BL BR SL SR. More channels: 0 (no assignment).
fn channel_mask(channels: u16) -> u32 {
    match channels {
        1 => 0x4,
        2 => 0x3,
        3 => 0x7,
        4 => 0x33,
        5 => 0x37,
        6 => 0x3F,
        7 => 0x70F,
        8 => 0x63F,
        _ => 0,
    }
}

pub(super) fn create(
    spec: AudioSpec,
    _options: &EncoderOptions,
    file: File,
) -> Result<Box<dyn Encoder>, Error> {
    Ok(Box::new(WavEncoder::new(spec, file, RIFF_LIMIT)?))
}

/// Fails when `block` is not of `spec` or holds integers outside `bits`.
pub(super) fn check_block(spec: AudioSpec, block: &Block) -> Result<(), Error> {
    if block.spec != spec {
        return Err(aj_core::Error::SpecMismatch {
            expected: spec,
            actual: block.spec,
        }
        .into());
    }
    let expected_len = block.samples.len() - block.samples.len() % usize::from(spec.channels);
    if block.samples.len() != expected_len {
        return Err(Error::Encode(format!(
            "a block of {} samples does not hold whole frames of {} channels",
            block.samples.len(),
            spec.channels
        )));
    }
    if let (SampleFormat::Int { bits }, Samples::Int(v)) = (spec.format, &block.samples) {
        if bits < 32 {
            let max = (1i32 << (bits - 1)) - 1;
            let min = -max - 1;
            // Any bit a sign extension from `bits` would change (one pass
            // the compiler vectorises); the offending value only on failure.
            let sh = 32 - u32::from(bits);
            let outside = v.iter().fold(0i32, |acc, &s| acc | ((s << sh) >> sh ^ s));
            if outside != 0 {
                let bad = v.iter().copied().find(|&s| s < min || s > max).unwrap_or(0);
                return Err(Error::Encode(format!(
                    "sample value {bad} does not fit in {bits} bits"
                )));
            }
        }
    }
    Ok(())
}

struct WavEncoder {
    spec: AudioSpec,
    out: BufWriter<File>,
    /// Bytes per sample in the file.
    container: usize,
    /// Left shift that left-justifies a sample in its container.
    shift: u32,
    /// Offsets of the fields patched at finish.
    fact_offset: Option<u64>,
    data_size_offset: u64,
    data_start: u64,
    data_len: u64,
    /// Above this RIFF size the file is written as RF64.
    limit: u64,
    buf: Vec<u8>,
}

impl WavEncoder {
    fn new(spec: AudioSpec, file: File, limit: u64) -> Result<Self, Error> {
        let (container, valid_bits, is_float) = match spec.format {
            SampleFormat::Int { bits } if (1..=32).contains(&bits) => {
                (usize::from(bits).div_ceil(8), u16::from(bits), false)
            }
            SampleFormat::Int { bits } => {
                return Err(Error::Unsupported(format!("{bits}-bit samples in WAV")));
            }
            SampleFormat::Float => (4, 32, true),
        };
        if spec.channels == 0 {
            return Err(Error::Unsupported("WAV with no channels".into()));
        }
        let block_align = u32::from(spec.channels) * container as u32;
        if block_align > u32::from(u16::MAX) {
            return Err(Error::Unsupported(format!(
                "{} channels in WAV",
                spec.channels
            )));
        }
        let byte_rate = u64::from(spec.sample_rate) * u64::from(block_align);
        let byte_rate = u32::try_from(byte_rate).map_err(|_| {
            Error::Unsupported(format!(
                "{} channels at {} Hz exceed what a WAV header can state",
                spec.channels, spec.sample_rate
            ))
        })?;
        let container_bits = (container * 8) as u16;
        let extensible = spec.channels > 2 || (!is_float && !matches!(valid_bits, 8 | 16));

        let mut h = Vec::with_capacity(96);
        h.extend_from_slice(b"RIFF");
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(b"WAVE");
        // Reserved room for ds64 (EBU Tech 3306 §2).
        h.extend_from_slice(b"JUNK");
        h.extend_from_slice(&DS64_SIZE.to_le_bytes());
        h.extend_from_slice(&[0u8; DS64_SIZE as usize]);
        h.extend_from_slice(b"fmt ");
        let tag = if is_float {
            FORMAT_IEEE_FLOAT
        } else {
            FORMAT_PCM
        };
        let fmt_size: u32 = if extensible {
            40
        } else if is_float {
            18
        } else {
            16
        };
        h.extend_from_slice(&fmt_size.to_le_bytes());
        h.extend_from_slice(&(if extensible { FORMAT_EXTENSIBLE } else { tag }).to_le_bytes());
        h.extend_from_slice(&spec.channels.to_le_bytes());
        h.extend_from_slice(&spec.sample_rate.to_le_bytes());
        h.extend_from_slice(&byte_rate.to_le_bytes());
        h.extend_from_slice(&(block_align as u16).to_le_bytes());
        h.extend_from_slice(&container_bits.to_le_bytes());
        if extensible {
            h.extend_from_slice(&22u16.to_le_bytes()); // cbSize
            h.extend_from_slice(&valid_bits.to_le_bytes());
            h.extend_from_slice(&channel_mask(spec.channels).to_le_bytes());
            h.extend_from_slice(&tag.to_le_bytes());
            h.extend_from_slice(&SUBTYPE_GUID_TAIL);
        } else if is_float {
            h.extend_from_slice(&0u16.to_le_bytes()); // cbSize
        }
        let fact_offset = if is_float {
            h.extend_from_slice(b"fact");
            h.extend_from_slice(&4u32.to_le_bytes());
            let at = h.len() as u64;
            h.extend_from_slice(&0u32.to_le_bytes());
            Some(at)
        } else {
            None
        };
        h.extend_from_slice(b"data");
        let data_size_offset = h.len() as u64;
        h.extend_from_slice(&0u32.to_le_bytes());
        let data_start = h.len() as u64;

        let mut out = BufWriter::with_capacity(1 << 16, file);
        out.write_all(&h)?;
        Ok(WavEncoder {
            spec,
            out,
            container,
            shift: (container as u32 * 8).saturating_sub(u32::from(valid_bits)),
            fact_offset,
            data_size_offset,
            data_start,
            data_len: 0,
            limit,
            buf: Vec::new(),
        })
    }

    fn frames(&self) -> u64 {
        self.data_len / (self.container as u64 * u64::from(self.spec.channels))
    }

    fn patch(&mut self) -> Result<(), Error> {
        let pad = self.data_len % 2;
        if pad == 1 {
            // RIFF chunks are padded to an even length; the pad byte is not
            // counted in the data chunk's size.
            self.out.write_all(&[0])?;
        }
        let riff_size = self.data_start + self.data_len + pad - 8;
        let frames = self.frames();
        let f = &mut self.out;
        if riff_size > self.limit {
            f.seek(SeekFrom::Start(0))?;
            f.write_all(b"RF64")?;
            f.write_all(&RF64_SIZE_MARKER.to_le_bytes())?;
            f.seek(SeekFrom::Start(12))?;
            f.write_all(b"ds64")?;
            f.write_all(&DS64_SIZE.to_le_bytes())?;
            f.write_all(&riff_size.to_le_bytes())?;
            f.write_all(&self.data_len.to_le_bytes())?;
            f.write_all(&frames.to_le_bytes())?;
            f.write_all(&0u32.to_le_bytes())?; // table length
            if let Some(at) = self.fact_offset {
                f.seek(SeekFrom::Start(at))?;
                f.write_all(&RF64_SIZE_MARKER.to_le_bytes())?;
            }
            f.seek(SeekFrom::Start(self.data_size_offset))?;
            f.write_all(&RF64_SIZE_MARKER.to_le_bytes())?;
        } else {
            // Both fit: riff_size <= limit <= u32::MAX and data_len < riff_size.
            let small = |v: u64| u32::try_from(v).unwrap_or(RF64_SIZE_MARKER);
            f.seek(SeekFrom::Start(4))?;
            f.write_all(&small(riff_size).to_le_bytes())?;
            if let Some(at) = self.fact_offset {
                f.seek(SeekFrom::Start(at))?;
                f.write_all(&small(frames).to_le_bytes())?;
            }
            f.seek(SeekFrom::Start(self.data_size_offset))?;
            f.write_all(&small(self.data_len).to_le_bytes())?;
        }
        f.flush()?;
        Ok(())
    }
}

impl Encoder for WavEncoder {
    fn write(&mut self, block: &Block) -> Result<(), Error> {
        check_block(self.spec, block)?;
        let buf = &mut self.buf;
        buf.clear();
        match &block.samples {
            Samples::Int(v) => {
                let shift = self.shift;
                // Sized first, then filled in place: loops the compiler
                // vectorises (pushing sample by sample does not).
                buf.resize(v.len() * self.container, 0);
                match self.container {
                    1 => {
                        for (d, &s) in buf.iter_mut().zip(v) {
                            *d = ((s << shift) + 128) as u8;
                        }
                    }
                    2 => {
                        for (d, &s) in buf.chunks_exact_mut(2).zip(v) {
                            d.copy_from_slice(&((s << shift) as i16).to_le_bytes());
                        }
                    }
                    3 => {
                        for (d, &s) in buf.chunks_exact_mut(3).zip(v) {
                            let [a, b, c, _] = (s << shift).to_le_bytes();
                            d.copy_from_slice(&[a, b, c]);
                        }
                    }
                    _ => {
                        for (d, &s) in buf.chunks_exact_mut(4).zip(v) {
                            d.copy_from_slice(&(s << shift).to_le_bytes());
                        }
                    }
                }
            }
            Samples::Float(v) => {
                buf.reserve(v.len() * 4);
                for &s in v {
                    buf.extend_from_slice(&s.to_le_bytes());
                }
            }
        }
        self.out.write_all(buf)?;
        self.data_len += buf.len() as u64;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<(), Error> {
        self.patch()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::io::Read;

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    fn u64_at(b: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
    }

    fn encode(spec: AudioSpec, samples: Samples, limit: u64) -> Vec<u8> {
        let mut tmp = tempfile::tempfile().unwrap();
        let mut enc = Box::new(WavEncoder::new(spec, tmp.try_clone().unwrap(), limit).unwrap());
        enc.write(&Block { spec, samples }).unwrap();
        Encoder::finish(enc as Box<dyn Encoder>).unwrap();
        let mut bytes = Vec::new();
        tmp.seek(SeekFrom::Start(0)).unwrap();
        tmp.read_to_end(&mut bytes).unwrap();
        bytes
    }

    #[test]
    fn small_file_keeps_riff_and_junk() {
        let spec = AudioSpec::int(44100, 2, 16);
        let b = encode(spec, Samples::Int(vec![1, -1, 2, -2, 3, -3]), RIFF_LIMIT);
        assert_eq!(&b[0..4], b"RIFF");
        assert_eq!(u32_at(&b, 4) as usize, b.len() - 8);
        assert_eq!(&b[12..16], b"JUNK");
        assert_eq!(u32_at(&b, 16), 28);
        assert_eq!(&b[48..52], b"fmt ");
        assert_eq!(u32_at(&b, 52), 16);
        assert_eq!(&b[72..76], b"data");
        assert_eq!(u32_at(&b, 76), 12);
        assert_eq!(&b[80..84], &[1, 0, 0xFF, 0xFF]);
    }

    #[test]
    fn rf64_when_over_the_limit() {
        let spec = AudioSpec::float(48000, 1);
        // 3 frames of mono float: 12 data bytes; header 12+36+26+12+8 = 94.
        let b = encode(spec, Samples::Float(vec![0.5, -0.25, 1.0]), 64);
        assert_eq!(&b[0..4], b"RF64");
        assert_eq!(u32_at(&b, 4), 0xFFFF_FFFF);
        assert_eq!(&b[12..16], b"ds64");
        assert_eq!(u32_at(&b, 16), 28);
        assert_eq!(u64_at(&b, 20), b.len() as u64 - 8, "riffSize");
        assert_eq!(u64_at(&b, 28), 12, "dataSize");
        assert_eq!(u64_at(&b, 36), 3, "sampleCount");
        assert_eq!(u32_at(&b, 44), 0, "tableLength");
        assert_eq!(&b[48..52], b"fmt ");
        assert_eq!(u32_at(&b, 52), 18);
        assert_eq!(u16::from_le_bytes([b[56], b[57]]), FORMAT_IEEE_FLOAT);
        assert_eq!(&b[74..78], b"fact");
        assert_eq!(u32_at(&b, 82), 0xFFFF_FFFF);
        assert_eq!(&b[86..90], b"data");
        assert_eq!(u32_at(&b, 90), 0xFFFF_FFFF);
        assert_eq!(&b[94..98], &0.5f32.to_le_bytes());
        assert_eq!(b.len(), 94 + 12);
    }

    #[test]
    fn rf64_odd_data_is_padded_and_counted() {
        let spec = AudioSpec::int(8000, 1, 8);
        let b = encode(spec, Samples::Int(vec![-128, 0, 127]), 10);
        assert_eq!(&b[0..4], b"RF64");
        assert_eq!(u64_at(&b, 28), 3, "dataSize excludes the pad byte");
        assert_eq!(u64_at(&b, 20), b.len() as u64 - 8, "riffSize includes it");
        assert_eq!(&b[b.len() - 4..], &[0, 128, 255, 0]);
    }

    #[test]
    fn exactly_at_the_limit_stays_riff() {
        let spec = AudioSpec::int(8000, 1, 16);
        let b = encode(spec, Samples::Int(vec![0; 4]), 80);
        // 80-byte header + 8 data bytes - 8 = riff size 80.
        assert_eq!(&b[0..4], b"RIFF");
        assert_eq!(u32_at(&b, 4), 80);
    }

    #[test]
    fn rf64_interop_with_ffmpeg() {
        if !aj_testkit::have_tool("ffmpeg") {
            return;
        }
        let spec = AudioSpec::int(44100, 2, 24);
        let samples: Vec<i32> = (0..2000)
            .map(|i| (i * 4099) % 8_000_000 - 4_000_000)
            .collect();
        let b = encode(spec, Samples::Int(samples.clone()), 1000);
        assert_eq!(&b[0..4], b"RF64");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.wav");
        std::fs::write(&path, &b).unwrap();
        let out = std::process::Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(&path)
            .args(["-f", "s32le", "-"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got: Vec<i32> = out
            .stdout
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(c.try_into().unwrap()) >> 8)
            .collect();
        assert_eq!(got, samples);
    }

    #[test]
    fn out_of_range_samples_are_refused() {
        let spec = AudioSpec::int(8000, 1, 12);
        let mut tmp = tempfile::tempfile().unwrap();
        let mut enc = WavEncoder::new(spec, tmp.try_clone().unwrap(), RIFF_LIMIT).unwrap();
        let err = enc
            .write(&Block {
                spec,
                samples: Samples::Int(vec![2048]),
            })
            .unwrap_err();
        assert!(err.to_string().contains("12 bits"), "{err}");
        let _ = tmp.flush();
    }
}
