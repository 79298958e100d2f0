//! Fuzz checks for AudioJuggler's codecs.
//!
//! [`flac_encode`] reads its input as encoder parameters and a signal,
//! encodes the signal with our FLAC encoder, decodes the file with our
//! decoder and panics unless the samples come back bit-exact and no frame
//! is larger than VERBATIM coding would make it.

use std::io::Write;

use aj_codec::encode::{create, EncoderOptions};
use aj_codec::Format;
use aj_core::{AudioSpec, Block, Samples};

/// Sample rates tried: common ones, and ones that need each frame-header
/// rate code (RFC 9639 §9.1.2), up to the largest STREAMINFO holds.
const RATES: [u32; 16] = [
    44_100, 48_000, 8_000, 96_000, 192_000, 22_050, 11_025, 1, 7, 255_000, 65_535, 65_536, 655_350,
    1_048_575, 88_200, 700_001,
];

/// Bytes before the samples.
const HEADER: usize = 9;

/// What the input asks for.
#[derive(Debug)]
struct Case {
    level: u8,
    bits: u32,
    channels: usize,
    threads: usize,
    rate: u32,
    mode: u8,
    frames: usize,
    chunk: usize,
}

impl Case {
    fn parse(data: &[u8]) -> Self {
        let b = |i: usize| data.get(i).copied().unwrap_or(0);
        let long = b(5) & 0x80 != 0;
        let len = usize::from(u16::from_le_bytes([b(6), b(7)]));
        Case {
            level: b(0) % 9,
            bits: 4 + u32::from(b(1)) % 29,
            channels: 1 + usize::from(b(2)) % 8,
            threads: 1 + usize::from(b(3)) % 4,
            rate: RATES[usize::from(b(4)) % RATES.len()],
            mode: b(5) & 0x7F,
            // Mostly short streams (fast runs); now and then more than
            // the threads' batches.
            frames: if long { 65_536 + len } else { len % 20_000 },
            chunk: 1 + usize::from(b(8)) * 37,
        }
    }
}

/// `v` cut to its low `bits` bits, sign-extended.
fn mask(v: i32, bits: u32) -> i32 {
    let s = 32 - bits;
    (v << s) >> s
}

/// The interleaved signal: the input's samples (4 bytes each, cycled),
/// raw, integrated (smooth-ish), with wasted low bits, or held (runs of
/// equal samples, for CONSTANT and FIXED subframes).
fn signal(c: &Case, body: &[u8]) -> Vec<i32> {
    let raw: Vec<i32> = body
        .chunks_exact(4)
        .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let n = c.frames * c.channels;
    let mut out = Vec::with_capacity(n);
    if raw.is_empty() {
        out.resize(n, 0);
        return out;
    }
    let wasted = u32::from(c.mode >> 2) % c.bits;
    let mut acc = vec![0i32; c.channels];
    for i in 0..n {
        let v = raw[i % raw.len()];
        let ch = i % c.channels;
        let s = match c.mode & 3 {
            0 => v,
            1 => {
                acc[ch] = mask(acc[ch].wrapping_add(v >> (c.bits / 2 + 1)), c.bits);
                acc[ch]
            }
            2 => (mask(v, c.bits) >> wasted) << wasted,
            _ => raw[(i / c.channels / 61 * c.channels + ch) % raw.len()],
        };
        out.push(mask(s, c.bits));
    }
    out
}

/// A frame header (at most 16 bytes), VERBATIM subframes and CRC-16
/// (RFC 9639 §9).
fn verbatim_frame_bytes(block: usize, channels: usize, bits: u32) -> u64 {
    let body_bits = channels as u64 * (8 + block as u64 * u64::from(bits));
    16 + body_bits.div_ceil(8) + 2
}

/// Encodes and decodes one fuzzed case; panics on any mismatch.
pub fn flac_encode(data: &[u8]) {
    let c = Case::parse(data);
    let body = data.get(HEADER..).unwrap_or(&[]);
    let input = signal(&c, body);
    let spec = AudioSpec::int(c.rate, c.channels as u16, c.bits as u8);
    let opts = EncoderOptions {
        level: Some(c.level),
        threads: Some(c.threads),
        ..Default::default()
    };

    let mut file = tempfile::Builder::new()
        .suffix(".flac")
        .tempfile()
        .expect("temporary file");
    let out = file.as_file().try_clone().expect("temporary file");
    let mut enc = create(Format::Flac, spec, &opts, out)
        .unwrap_or_else(|e| panic!("{c:?}: encoder refused: {e}"));
    for part in input.chunks(c.chunk * c.channels) {
        enc.write(&Block {
            spec,
            samples: Samples::Int(part.to_vec()),
        })
        .unwrap_or_else(|e| panic!("{c:?}: write: {e}"));
    }
    enc.finish()
        .unwrap_or_else(|e| panic!("{c:?}: finish: {e}"));
    file.flush().expect("flush");

    let bytes = std::fs::read(file.path()).expect("read back");
    let si = &bytes[8..42];
    let max_block = usize::from(u16::from_be_bytes([si[2], si[3]]));
    let max_frame = u64::from(u32::from_be_bytes([0, si[7], si[8], si[9]]));
    let limit = verbatim_frame_bytes(max_block, c.channels, c.bits);
    assert!(
        max_frame <= limit,
        "{c:?}: a frame of {max_frame} bytes, VERBATIM would take {limit}"
    );

    // STREAMINFO's 36-bit total samples (RFC 9639 §8.2).
    let total = u64::from_be_bytes([0, 0, 0, si[13] & 0x0F, si[14], si[15], si[16], si[17]]);
    assert_eq!(total, c.frames as u64, "{c:?}: total samples");

    let mut dec = aj_codec::decode::open(file.path())
        .unwrap_or_else(|e| panic!("{c:?}: our decoder refused the file: {e}"));
    assert_eq!(dec.spec(), spec, "{c:?}: spec");
    let mut got = Vec::with_capacity(input.len());
    while let Some(block) = dec
        .read(4096)
        .unwrap_or_else(|e| panic!("{c:?}: decode: {e}"))
    {
        got.extend_from_slice(block.as_int().expect("integer samples"));
    }
    assert!(
        got.len() == input.len(),
        "{c:?}: {} samples back of {}",
        got.len(),
        input.len()
    );
    if let Some(i) = got.iter().zip(&input).position(|(a, b)| a != b) {
        panic!(
            "{c:?}: sample {i} decodes as {} instead of {}",
            got[i], input[i]
        );
    }
}
