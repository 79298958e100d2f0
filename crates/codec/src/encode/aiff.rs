//! AIFF encoder: big-endian integer PCM of 1–32 bits.
//!
//! Layout (Audio Interchange File Format 1.3, Apple 1989), sizes patched at
//! [`Encoder::finish`]:
//!
//! ```text
//! FORM <size> AIFF
//! COMM <18> numChannels numSampleFrames sampleSize sampleRate(80-bit extended)
//! SSND <size> offset=0 blockSize=0 samples… [pad byte]
//! ```
//!
//! Samples take whole bytes, two's complement (8-bit too), big-endian, and are
//! left-justified when the depth is not a multiple of 8 (AIFF 1.3 §"Sound Data
//! Chunk": the unused low bits are zero). Float input is not taken: AIFF-C
//! would be needed, and [`super::input_spec`] gives AIFF integers.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};

use aj_core::{AudioSpec, Block, SampleFormat, Samples};

use super::{Encoder, EncoderOptions};
use crate::Error;

/// FORM size field offset, and of the patched COMM/SSND fields.
const FORM_SIZE_AT: u64 = 4;
/// 12 (FORM header) + 8 (COMM header) + 2 (numChannels).
const NUM_FRAMES_AT: u64 = 22;
/// 12 + 26 (COMM chunk) + 4 ("SSND").
const SSND_SIZE_AT: u64 = 42;
/// 46 + 8 (offset, blockSize).
const DATA_START: u64 = 54;

pub(super) fn create(
    spec: AudioSpec,
    _options: &EncoderOptions,
    file: File,
) -> Result<Box<dyn Encoder>, Error> {
    Ok(Box::new(AiffEncoder::new(spec, file)?))
}

/// `rate` as an IEEE 754 80-bit extended float, big-endian (the COMM chunk's
/// sampleRate): sign+15-bit exponent (bias 16383), 64-bit mantissa with an
/// explicit integer bit.
pub(super) fn extended_from_u32(rate: u32) -> [u8; 10] {
    let mut out = [0u8; 10];
    if rate == 0 {
        return out;
    }
    let lz = rate.leading_zeros();
    let exponent = 16383 + 31 - lz;
    let mantissa = u64::from(rate) << (32 + lz);
    out[..2].copy_from_slice(&(exponent as u16).to_be_bytes());
    out[2..].copy_from_slice(&mantissa.to_be_bytes());
    out
}

struct AiffEncoder {
    spec: AudioSpec,
    out: BufWriter<File>,
    container: usize,
    shift: u32,
    data_len: u64,
    buf: Vec<u8>,
}

impl AiffEncoder {
    fn new(spec: AudioSpec, file: File) -> Result<Self, Error> {
        let bits = match spec.format {
            SampleFormat::Int { bits } if (1..=32).contains(&bits) => bits,
            SampleFormat::Int { bits } => {
                return Err(Error::Unsupported(format!("{bits}-bit samples in AIFF")));
            }
            SampleFormat::Float => {
                return Err(Error::Unsupported(
                    "float samples in AIFF (convert to integers first)".into(),
                ));
            }
        };
        if spec.channels == 0 {
            return Err(Error::Unsupported("AIFF with no channels".into()));
        }
        let container = usize::from(bits).div_ceil(8);
        let mut h = Vec::with_capacity(DATA_START as usize);
        h.extend_from_slice(b"FORM");
        h.extend_from_slice(&0u32.to_be_bytes());
        h.extend_from_slice(b"AIFF");
        h.extend_from_slice(b"COMM");
        h.extend_from_slice(&18u32.to_be_bytes());
        h.extend_from_slice(&spec.channels.to_be_bytes());
        h.extend_from_slice(&0u32.to_be_bytes()); // numSampleFrames, patched
        h.extend_from_slice(&u16::from(bits).to_be_bytes());
        h.extend_from_slice(&extended_from_u32(spec.sample_rate));
        h.extend_from_slice(b"SSND");
        h.extend_from_slice(&0u32.to_be_bytes()); // patched
        h.extend_from_slice(&0u32.to_be_bytes()); // offset
        h.extend_from_slice(&0u32.to_be_bytes()); // blockSize
        debug_assert_eq!(h.len() as u64, DATA_START);
        let mut out = BufWriter::with_capacity(1 << 16, file);
        out.write_all(&h)?;
        Ok(AiffEncoder {
            spec,
            out,
            container,
            shift: (container as u32 * 8) - u32::from(bits),
            data_len: 0,
            buf: Vec::new(),
        })
    }
}

impl Encoder for AiffEncoder {
    fn write(&mut self, block: &Block) -> Result<(), Error> {
        super::wav::check_block(self.spec, block)?;
        let Samples::Int(v) = &block.samples else {
            return Err(Error::Encode("AIFF takes integer samples".into()));
        };
        // The FORM size (32 bits) counts everything after its field.
        let new_len = self.data_len + (v.len() * self.container) as u64;
        if DATA_START - 8 + new_len + 1 > u64::from(u32::MAX) {
            return Err(Error::Unsupported(
                "AIFF files cannot exceed 4 GiB; use WAV (RF64) or FLAC for longer recordings"
                    .into(),
            ));
        }
        let buf = &mut self.buf;
        buf.clear();
        buf.reserve(v.len() * self.container);
        let shift = self.shift;
        match self.container {
            1 => buf.extend(v.iter().map(|&s| (s << shift) as u8)),
            2 => {
                for &s in v {
                    buf.extend_from_slice(&((s << shift) as i16).to_be_bytes());
                }
            }
            3 => {
                for &s in v {
                    buf.extend_from_slice(&(s << shift).to_be_bytes()[1..]);
                }
            }
            _ => {
                for &s in v {
                    buf.extend_from_slice(&(s << shift).to_be_bytes());
                }
            }
        }
        self.out.write_all(buf)?;
        self.data_len = new_len;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<(), Error> {
        let pad = self.data_len % 2;
        if pad == 1 {
            // Chunks are padded to an even length; the pad byte is not
            // counted in the SSND size (AIFF 1.3 §"Chunks").
            self.out.write_all(&[0])?;
        }
        let frame_bytes = self.container as u64 * u64::from(self.spec.channels);
        let frames = self.data_len / frame_bytes;
        // Sizes were bounded in `write`, so these conversions cannot fail.
        let fit = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        let form_size = DATA_START - 8 + self.data_len + pad;
        let ssnd_size = 8 + self.data_len;
        let f = &mut self.out;
        f.seek(SeekFrom::Start(FORM_SIZE_AT))?;
        f.write_all(&fit(form_size).to_be_bytes())?;
        f.seek(SeekFrom::Start(NUM_FRAMES_AT))?;
        f.write_all(&fit(frames).to_be_bytes())?;
        f.seek(SeekFrom::Start(SSND_SIZE_AT))?;
        f.write_all(&fit(ssnd_size).to_be_bytes())?;
        f.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extended_rates() {
        // 44100 Hz = 0x400E AC44 0000 0000 0000 (the classic AIFF value).
        assert_eq!(
            extended_from_u32(44100),
            [0x40, 0x0E, 0xAC, 0x44, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            extended_from_u32(48000),
            [0x40, 0x0E, 0xBB, 0x80, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            extended_from_u32(1),
            [0x3F, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(extended_from_u32(0), [0; 10]);
    }
}
