//! Our FLAC decoder on streams symphonia could not read, and on damage.
//!
//! Streams come from our encoder (rate code 0 at 700001 and 1048575 Hz, an
//! empty stream, 32-bit stereo) or are built here bit by bit (variable
//! block sizes with sample numbers, a 33-bit side channel, garbage
//! between frames), so each feature is exercised whatever the encoder
//! chooses to write.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use aj_codec::decode;
use aj_codec::encode::{create, EncoderOptions};
use aj_codec::Format;
use aj_core::{AudioSpec, Block, Samples};
use md5::{Digest, Md5};

/// Decodes a whole file: the spec and the samples, or the error message.
fn decode_all(path: &Path) -> Result<(AudioSpec, Vec<i32>), String> {
    let mut d = decode::open(path).map_err(|e| e.to_string())?;
    let spec = d.spec();
    let mut out = Vec::new();
    while let Some(b) = d.read(1000).map_err(|e| e.to_string())? {
        out.extend_from_slice(b.as_int().unwrap());
    }
    Ok((spec, out))
}

/// Encodes with our encoder.
fn encode(dir: &Path, name: &str, spec: AudioSpec, samples: &[i32]) -> PathBuf {
    let path = dir.join(name);
    let file = std::fs::File::create(&path).unwrap();
    let mut enc = create(Format::Flac, spec, &EncoderOptions::default(), file).unwrap();
    if !samples.is_empty() {
        enc.write(&Block {
            spec,
            samples: Samples::Int(samples.to_vec()),
        })
        .unwrap();
    }
    enc.finish().unwrap();
    path
}

fn noise(frames: usize, channels: usize, bits: u32, seed: u64) -> Vec<i32> {
    let mut x = seed;
    (0..frames * channels)
        .map(|i| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            // Smooth-ish (predictable) plus noise, in range.
            let smooth = ((i as f64 * 0.01).sin() * 0.6 * (1u64 << (bits - 1)) as f64) as i64;
            let n = (x >> 40) as i64 >> (24 - (bits.min(24) - 4));
            let max = (1i64 << (bits - 1)) - 1;
            (smooth + n).clamp(-max - 1, max) as i32
        })
        .collect()
}

#[test]
fn rate_code_zero_streams_decode() {
    // Rates no frame header can state: every frame says "see STREAMINFO".
    let dir = tempfile::tempdir().unwrap();
    for rate in [700_001u32, 1_048_575] {
        let spec = AudioSpec::int(rate, 2, 16);
        let pcm = noise(20_000, 2, 16, u64::from(rate));
        let p = encode(dir.path(), &format!("r{rate}.flac"), spec, &pcm);
        let (got_spec, got) = decode_all(&p).unwrap();
        assert_eq!(got_spec, spec);
        assert!(got == pcm, "{rate} Hz: samples differ");
    }
}

#[test]
fn an_empty_stream_decodes_to_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let spec = AudioSpec::int(44_100, 2, 16);
    let p = encode(dir.path(), "empty.flac", spec, &[]);
    let d = decode::open(&p).unwrap();
    assert_eq!(d.spec(), spec);
    let (got_spec, got) = decode_all(&p).unwrap();
    assert_eq!(got_spec, spec);
    assert!(got.is_empty());
}

#[test]
fn thirty_two_bit_stereo_round_trips() {
    // Full-scale, highly correlated channels: side coding (a 33-bit side
    // channel) pays off when the encoder may use it.
    let dir = tempfile::tempdir().unwrap();
    let spec = AudioSpec::int(48_000, 2, 32);
    let mono = noise(10_000, 1, 32, 7);
    let pcm: Vec<i32> = mono
        .iter()
        .flat_map(|&v| [v, v.wrapping_neg().max(-i32::MAX)])
        .collect();
    let p = encode(dir.path(), "s32.flac", spec, &pcm);
    let (got_spec, got) = decode_all(&p).unwrap();
    assert_eq!(got_spec, spec);
    assert!(got == pcm, "32-bit stereo: samples differ");
}

// ---- streams built bit by bit (RFC 9639) ----

#[derive(Default)]
struct Bits {
    bytes: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    fn put(&mut self, bits: u32, v: u64) {
        for i in (0..bits).rev() {
            self.acc = (self.acc << 1) | ((v >> i) & 1);
            self.n += 1;
            if self.n == 8 {
                self.bytes.push(self.acc as u8);
                self.acc = 0;
                self.n = 0;
            }
        }
    }

    fn finish(mut self) -> Vec<u8> {
        while self.n != 0 {
            self.put(1, 0);
        }
        self.bytes
    }
}

fn crc8(d: &[u8]) -> u8 {
    d.iter().fold(0u8, |mut c, &b| {
        c ^= b;
        for _ in 0..8 {
            c = if c & 0x80 != 0 {
                (c << 1) ^ 0x07
            } else {
                c << 1
            };
        }
        c
    })
}

fn crc16(d: &[u8]) -> u16 {
    d.iter().fold(0u16, |mut c, &b| {
        c ^= u16::from(b) << 8;
        for _ in 0..8 {
            c = if c & 0x8000 != 0 {
                (c << 1) ^ 0x8005
            } else {
                c << 1
            };
        }
        c
    })
}

/// The UTF-8-like coded number (RFC 9639 §9.1.5).
fn coded(n: u64) -> Vec<u8> {
    if n < 0x80 {
        return vec![n as u8];
    }
    let extra = (1..=6).find(|&k| n < 1u64 << (6 * k + 6 - k)).unwrap();
    let mut v = vec![(0xFF00u16 >> (extra + 1)) as u8 | (n >> (6 * extra)) as u8];
    for k in (0..extra).rev() {
        v.push(0x80 | ((n >> (6 * k)) & 0x3F) as u8);
    }
    v
}

/// One frame of VERBATIM subframes. `channels` are planar; `assignment`
/// is the channel code (0-7 independent, 8 left/side, 9 right/side, 10
/// mid/side) and the subframes must already be decorrelated. Rate and
/// depth come from STREAMINFO (codes 0); the block size is coded in 16
/// bits.
fn frame(variable: bool, number: u64, assignment: u8, bits: u32, channels: &[Vec<i64>]) -> Vec<u8> {
    let block = channels[0].len();
    let mut h = vec![0xFF, 0xF8 | u8::from(variable), 0x70, assignment << 4];
    h.extend(coded(number));
    h.extend(((block - 1) as u16).to_be_bytes());
    h.push(crc8(&h));
    let mut b = Bits::default();
    for (c, samples) in channels.iter().enumerate() {
        let side = match assignment {
            8 | 10 => c == 1,
            9 => c == 0,
            _ => false,
        };
        let sb = bits + u32::from(side);
        b.put(8, 0b0000_0010); // padding, VERBATIM, no wasted bits
        for &s in samples {
            b.put(sb, (s as u64) & ((1u64 << sb) - 1));
        }
    }
    h.extend(b.finish());
    h.extend(crc16(&h).to_be_bytes());
    h
}

/// "fLaC" and a STREAMINFO; the MD5 over `pcm` (interleaved) when given.
fn stream_header(
    (min_block, max_block): (u16, u16),
    rate: u32,
    channels: u32,
    bits: u32,
    total: u64,
    pcm: Option<&[i32]>,
) -> Vec<u8> {
    let mut b = Bits::default();
    b.put(16, u64::from(min_block));
    b.put(16, u64::from(max_block));
    b.put(24, 0);
    b.put(24, 0);
    b.put(20, u64::from(rate));
    b.put(3, u64::from(channels - 1));
    b.put(5, u64::from(bits - 1));
    b.put(36, total);
    let mut si = b.finish();
    let md5: [u8; 16] = match pcm {
        Some(pcm) => {
            let w = bits.div_ceil(8) as usize;
            let mut h = Md5::new();
            for &s in pcm {
                h.update(&s.to_le_bytes()[..w]);
            }
            h.finalize().into()
        }
        None => [0; 16],
    };
    si.extend(md5);
    let mut out = b"fLaC".to_vec();
    out.push(0x80); // last metadata block, STREAMINFO
    out.extend(&(si.len() as u32).to_be_bytes()[1..]);
    out.extend(si);
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// A variable block size mono stream (sample numbers in the headers):
/// blocks of 100, 37 and 250 samples; returns the file and its samples.
fn variable_stream(md5: bool) -> (Vec<u8>, Vec<i32>, Vec<usize>) {
    let pcm = noise(387, 1, 16, 3);
    let mut file = stream_header((37, 250), 44_100, 1, 16, 387, md5.then_some(&pcm[..]));
    let mut starts = Vec::new();
    let mut at = 0;
    for n in [100usize, 37, 250] {
        starts.push(file.len());
        let ch = vec![pcm[at..at + n].iter().map(|&v| i64::from(v)).collect()];
        file.extend(frame(true, at as u64, 0, 16, &ch));
        at += n;
    }
    (file, pcm, starts)
}

#[test]
fn variable_block_sizes_decode() {
    let dir = tempfile::tempdir().unwrap();
    let (file, pcm, _) = variable_stream(true);
    let (spec, got) = decode_all(&write(dir.path(), "v.flac", &file)).unwrap();
    assert_eq!(spec, AudioSpec::int(44_100, 1, 16));
    assert_eq!(got, pcm);
}

#[test]
fn a_33_bit_side_channel_decodes() {
    // 32-bit stereo, left/side and mid/side, with extreme values whose
    // side needs all 33 bits.
    let dir = tempfile::tempdir().unwrap();
    let left: Vec<i64> = vec![
        i64::from(i32::MAX),
        i64::from(i32::MIN),
        5,
        -7,
        0,
        123_456_789,
    ];
    let right: Vec<i64> = vec![
        i64::from(i32::MIN),
        i64::from(i32::MAX),
        -5,
        7,
        -1,
        -987_654_321,
    ];
    let pcm: Vec<i32> = left
        .iter()
        .zip(&right)
        .flat_map(|(&l, &r)| [l as i32, r as i32])
        .collect();
    let side: Vec<i64> = left.iter().zip(&right).map(|(l, r)| l - r).collect();
    let mid: Vec<i64> = left.iter().zip(&right).map(|(l, r)| (l + r) >> 1).collect();
    let n = left.len() as u16;
    for (name, code, chans) in [
        ("ls", 8u8, vec![left.clone(), side.clone()]),
        ("rs", 9, vec![side.clone(), right.clone()]),
        ("ms", 10, vec![mid.clone(), side.clone()]),
    ] {
        let mut file = stream_header((n, n), 48_000, 2, 32, u64::from(n), Some(&pcm));
        file.extend(frame(false, 0, code, 32, &chans));
        let (spec, got) = decode_all(&write(dir.path(), &format!("{name}.flac"), &file)).unwrap();
        assert_eq!(spec, AudioSpec::int(48_000, 2, 32));
        assert_eq!(got, pcm, "{name}");
    }
}

#[test]
fn a_frame_failing_its_crc_is_an_error_naming_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let (mut file, _, starts) = variable_stream(false);
    // A sample bit inside the second frame (which starts at sample 100).
    file[starts[1] + 12] ^= 0x10;
    let e = decode_all(&write(dir.path(), "crc.flac", &file)).unwrap_err();
    assert!(e.contains("sample 100") && e.contains("CRC"), "{e}");
}

#[test]
fn a_truncated_stream_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (file, _, starts) = variable_stream(true);
    // Inside the last frame.
    let cut = &file[..starts[2] + 40];
    let e = decode_all(&write(dir.path(), "cut.flac", cut)).unwrap_err();
    assert!(e.contains("truncated") && e.contains("sample 137"), "{e}");
    // At a frame boundary: STREAMINFO's total says what is missing.
    let cut = &file[..starts[2]];
    let e = decode_all(&write(dir.path(), "cut2.flac", cut)).unwrap_err();
    assert!(e.contains("truncated") && e.contains("387"), "{e}");
}

#[test]
fn garbage_between_frames_is_skipped_but_a_lost_frame_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let (file, pcm, starts) = variable_stream(true);
    // Junk (with sync-like bytes) before the second frame: skipped.
    let mut junk = file[..starts[1]].to_vec();
    junk.extend([0xFF, 0xF8, 0x00, 0xFF, 0x12, 0x34, 0xFF]);
    junk.extend(&file[starts[1]..]);
    let (_, got) = decode_all(&write(dir.path(), "junk.flac", &junk)).unwrap();
    assert_eq!(got, pcm);
    // The second frame's header damaged: its samples are lost, which is an
    // error, not a silent gap.
    let mut lost = file.clone();
    lost[starts[1] + 1] ^= 0x02;
    let e = decode_all(&write(dir.path(), "lost.flac", &lost)).unwrap_err();
    assert!(e.contains("sample 100") && e.contains("missing"), "{e}");
}

#[test]
fn an_md5_mismatch_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (mut file, _, _) = variable_stream(true);
    file[8 + 18] ^= 1;
    let e = decode_all(&write(dir.path(), "md5.flac", &file)).unwrap_err();
    assert_eq!(
        e,
        "decoded audio does not match the MD5 signature in STREAMINFO"
    );
}

#[test]
fn metadata_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let (file, _, _) = variable_stream(true);
    // A STREAMINFO length running past the end of the file.
    let mut bad = file.clone();
    bad[5..8].copy_from_slice(&[0xFF, 0xFF, 0xFF]);
    let e = decode_all(&write(dir.path(), "len.flac", &bad)).unwrap_err();
    assert!(
        e.contains("STREAMINFO") && e.contains("left in the file"),
        "{e}"
    );
    // Another block first.
    let mut bad = file.clone();
    bad[4] = 0x81;
    let e = decode_all(&write(dir.path(), "first.flac", &bad)).unwrap_err();
    assert!(e.contains("not STREAMINFO"), "{e}");
    // Cut inside STREAMINFO.
    let e = decode_all(&write(dir.path(), "short.flac", &file[..20])).unwrap_err();
    assert!(
        e.contains("truncated") || e.contains("left in the file"),
        "{e}"
    );
}
