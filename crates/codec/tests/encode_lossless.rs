//! Lossless encoders (WAV/RF64, AIFF, FLAC) against peer tools: every file
//! written here is decoded by `flac`, `ffmpeg` or `sox` and must give back
//! exactly the samples that went in; headers are also checked byte by byte.
//! Signals come from `aj_testkit` with fixed parameters and seeds.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use aj_codec::encode::{create, EncoderOptions};
use aj_codec::{Error, Format};
use aj_core::{AudioSpec, Block, Samples};
use aj_testkit::{full_scale, have_tool, noise, sine};

/// Encodes `samples` into `dir/name`, feeding blocks of uneven sizes so the
/// encoders' buffering across block boundaries is exercised.
fn encode_to(
    dir: &Path,
    name: &str,
    format: Format,
    spec: AudioSpec,
    samples: Samples,
    options: &EncoderOptions,
) -> PathBuf {
    let path = dir.join(name);
    let file = std::fs::File::create(&path).unwrap();
    let mut enc = create(format, spec, options, file).unwrap();
    let ch = usize::from(spec.channels);
    let frames = samples.len() / ch;
    let sizes = [1usize, 4095, 333, 10_000, 4096, 1152, 7];
    let (mut at, mut i) = (0, 0);
    while at < frames {
        let n = sizes[i % sizes.len()].min(frames - at);
        let part = match &samples {
            Samples::Int(v) => Samples::Int(v[at * ch..(at + n) * ch].to_vec()),
            Samples::Float(v) => Samples::Float(v[at * ch..(at + n) * ch].to_vec()),
        };
        enc.write(&Block {
            spec,
            samples: part,
        })
        .unwrap();
        at += n;
        i += 1;
    }
    enc.finish().unwrap();
    path
}

fn encode_int(
    dir: &Path,
    name: &str,
    format: Format,
    spec: AudioSpec,
    s: &[i32],
    level: Option<u8>,
) -> PathBuf {
    let opts = EncoderOptions {
        level,
        ..Default::default()
    };
    encode_to(dir, name, format, spec, Samples::Int(s.to_vec()), &opts)
}

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Decodes with ffmpeg to 32-bit little-endian and right-justifies to `bits`.
fn ffmpeg_samples(path: &Path, bits: u8) -> Vec<i32> {
    let raw = run(Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "s32le", "-"]));
    raw.chunks_exact(4)
        .map(|c| i32::from_le_bytes(c.try_into().unwrap()) >> (32 - u32::from(bits)))
        .collect()
}

/// Decodes with sox to 32-bit signed raw and right-justifies to `bits`.
fn sox_samples(path: &Path, bits: u8) -> Vec<i32> {
    let raw = run(Command::new("sox").arg(path).args([
        "-t",
        "raw",
        "-e",
        "signed-integer",
        "-b",
        "32",
        "-L",
        "-",
    ]));
    raw.chunks_exact(4)
        .map(|c| i32::from_le_bytes(c.try_into().unwrap()) >> (32 - u32::from(bits)))
        .collect()
}

/// `flac -t -w` (which checks every frame CRC and the MD5 in STREAMINFO,
/// warnings being errors), then `flac -d` to WAV, parsed here: flac writes
/// WAV samples left-justified in whole bytes.
fn flac_samples(path: &Path, bits: u8) -> Vec<i32> {
    run(Command::new("flac").args(["-t", "-s", "-w"]).arg(path));
    flac_decode(path, bits)
}

fn flac_decode(path: &Path, bits: u8) -> Vec<i32> {
    let wav = run(Command::new("flac").args(["-d", "-s", "-c"]).arg(path));
    let (fmt, _) = riff_chunk(&wav, b"fmt ").unwrap();
    let width = usize::from(u16le(&wav, fmt + 12) / u16le(&wav, fmt + 2));
    assert_eq!(width, usize::from(bits).div_ceil(8));
    let (data, size) = riff_chunk(&wav, b"data").unwrap();
    wav[data..data + size]
        .chunks_exact(width)
        .map(|c| {
            let mut b = [0u8; 4];
            b[4 - width..].copy_from_slice(c);
            if width == 1 {
                b[3] ^= 0x80; // 8-bit WAV is unsigned
            }
            i32::from_le_bytes(b) >> (32 - u32::from(bits))
        })
        .collect()
}

fn mixed(frames: usize, channels: u16, rate: u32, bits: u8, seed: u64) -> Vec<i32> {
    let s = sine(frames, channels, rate, bits, 441.0, 0.6);
    let n = noise(frames, channels, bits, seed);
    s.iter().zip(&n).map(|(&a, &b)| a + b / 8).collect()
}

fn square(frames: usize, channels: u16, bits: u8) -> Vec<i32> {
    let fs = full_scale(bits) as i32;
    (0..frames * usize::from(channels))
        .map(|i| if (i / 50) % 2 == 0 { fs } else { -fs - 1 })
        .collect()
}

fn u16le(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32le(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn u32be(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

/// Finds a RIFF chunk after the 12-byte header: (offset of its body, size).
fn riff_chunk(b: &[u8], id: &[u8; 4]) -> Option<(usize, usize)> {
    let mut at = 12;
    while at + 8 <= b.len() {
        let size = u32le(b, at + 4) as usize;
        if &b[at..at + 4] == id {
            return Some((at + 8, size));
        }
        at += 8 + size + size % 2;
    }
    None
}

// ---------------------------------------------------------------- WAV

#[test]
fn wav_round_trips_through_ffmpeg() {
    if !have_tool("ffmpeg") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (bits, channels, rate) in [
        (8, 1, 44100),
        (16, 2, 44100),
        (24, 2, 96000),
        (32, 1, 48000),
        (16, 6, 48000),
        (24, 6, 44100),
        (12, 2, 44100),
        (20, 1, 48000),
    ] {
        let frames = 4801;
        let input = mixed(frames, channels, rate, bits, u64::from(bits));
        let spec = AudioSpec::int(rate, channels, bits);
        let p = encode_int(
            dir.path(),
            &format!("w{bits}_{channels}.wav"),
            Format::Wav,
            spec,
            &input,
            None,
        );
        assert_eq!(
            ffmpeg_samples(&p, bits),
            input,
            "{bits} bits, {channels} ch"
        );
    }
}

#[test]
fn wav_edge_signals_round_trip() {
    if !have_tool("ffmpeg") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let spec = AudioSpec::int(44100, 2, 16);
    let cases: Vec<(&str, Vec<i32>)> = vec![
        ("silence", vec![0; 2000]),
        ("dc", vec![-1234; 2000]),
        ("square", square(1000, 2, 16)),
        ("one", vec![32767, -32768]),
    ];
    for (name, input) in cases {
        let p = encode_int(
            dir.path(),
            &format!("{name}.wav"),
            Format::Wav,
            spec,
            &input,
            None,
        );
        assert_eq!(ffmpeg_samples(&p, 16), input, "{name}");
    }
}

#[test]
fn wav_float_is_bit_exact() {
    if !have_tool("ffmpeg") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for channels in [1u16, 2, 6] {
        let spec = AudioSpec::float(48000, channels);
        let input: Vec<f32> = mixed(3001, channels, 48000, 24, 3)
            .iter()
            .map(|&s| s as f32 / 8_388_608.0)
            .collect();
        let p = encode_to(
            dir.path(),
            &format!("f{channels}.wav"),
            Format::Wav,
            spec,
            Samples::Float(input.clone()),
            &EncoderOptions::default(),
        );
        let raw = run(Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(&p)
            .args(["-f", "f32le", "-"]));
        let got: Vec<u32> = raw
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        let want: Vec<u32> = input.iter().map(|f| f.to_bits()).collect();
        assert_eq!(got, want, "{channels} channels");
    }
}

#[test]
fn wav_headers_are_what_readers_expect() {
    let dir = tempfile::tempdir().unwrap();
    // 16-bit stereo: plain PCM, 16-byte fmt.
    let p = encode_int(
        dir.path(),
        "a.wav",
        Format::Wav,
        AudioSpec::int(44100, 2, 16),
        &[1, 2, 3, 4, 5, 6],
        None,
    );
    let b = std::fs::read(p).unwrap();
    assert_eq!(&b[..4], b"RIFF");
    assert_eq!(u32le(&b, 4) as usize, b.len() - 8);
    assert_eq!(&b[8..12], b"WAVE");
    let (fmt, size) = riff_chunk(&b, b"fmt ").unwrap();
    assert_eq!(size, 16);
    assert_eq!(u16le(&b, fmt), 1);
    assert_eq!(u16le(&b, fmt + 2), 2);
    assert_eq!(u32le(&b, fmt + 4), 44100);
    assert_eq!(u32le(&b, fmt + 8), 44100 * 4);
    assert_eq!(u16le(&b, fmt + 12), 4);
    assert_eq!(u16le(&b, fmt + 14), 16);
    assert_eq!(riff_chunk(&b, b"data").unwrap().1, 12);

    // 20-bit 5.1: EXTENSIBLE, 24-bit container, 20 valid bits, 5.1 mask, PCM GUID.
    let input = vec![-524_288, 524_287, 0, 1, -1, 2];
    let p = encode_int(
        dir.path(),
        "b.wav",
        Format::Wav,
        AudioSpec::int(48000, 6, 20),
        &input,
        None,
    );
    let b = std::fs::read(p).unwrap();
    let (fmt, size) = riff_chunk(&b, b"fmt ").unwrap();
    assert_eq!(size, 40);
    assert_eq!(u16le(&b, fmt), 0xFFFE);
    assert_eq!(u16le(&b, fmt + 12), 18, "block align");
    assert_eq!(u16le(&b, fmt + 14), 24, "container bits");
    assert_eq!(u16le(&b, fmt + 16), 22, "cbSize");
    assert_eq!(u16le(&b, fmt + 18), 20, "valid bits");
    assert_eq!(u32le(&b, fmt + 20), 0x3F, "channel mask");
    assert_eq!(
        &b[fmt + 24..fmt + 40],
        &[1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71]
    );
    let (data, size) = riff_chunk(&b, b"data").unwrap();
    assert_eq!(size, 18);
    // Left-justified: -524288 << 4 = 0x800000.
    assert_eq!(&b[data..data + 6], &[0x00, 0x00, 0x80, 0xF0, 0xFF, 0x7F]);

    // Odd data length is padded, the pad not counted.
    let p = encode_int(
        dir.path(),
        "c.wav",
        Format::Wav,
        AudioSpec::int(8000, 1, 8),
        &[-128, 0, 127],
        None,
    );
    let b = std::fs::read(p).unwrap();
    let (data, size) = riff_chunk(&b, b"data").unwrap();
    assert_eq!(size, 3);
    assert_eq!(&b[data..], &[0, 128, 255, 0]);
    assert_eq!(b.len() % 2, 0);

    // Float stereo: format 3, 18-byte fmt, fact with the frame count.
    let spec = AudioSpec::float(48000, 2);
    let p = encode_to(
        dir.path(),
        "d.wav",
        Format::Wav,
        spec,
        Samples::Float(vec![0.0; 10]),
        &EncoderOptions::default(),
    );
    let b = std::fs::read(p).unwrap();
    let (fmt, size) = riff_chunk(&b, b"fmt ").unwrap();
    assert_eq!((size, u16le(&b, fmt), u16le(&b, fmt + 14)), (18, 3, 32));
    let (fact, size) = riff_chunk(&b, b"fact").unwrap();
    assert_eq!((size, u32le(&b, fact)), (4, 5));
}

// ---------------------------------------------------------------- AIFF

#[test]
fn aiff_round_trips_through_ffmpeg_and_sox() {
    if !have_tool("ffmpeg") || !have_tool("sox") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (bits, channels, rate) in [
        (8, 1, 44100),
        (16, 2, 44100),
        (24, 2, 96000),
        (32, 1, 48000),
        (16, 6, 48000),
        (12, 2, 44100),
        (20, 1, 48000),
    ] {
        let input = mixed(3001, channels, rate, bits, 9);
        let spec = AudioSpec::int(rate, channels, bits);
        let p = encode_int(
            dir.path(),
            &format!("a{bits}_{channels}.aiff"),
            Format::Aiff,
            spec,
            &input,
            None,
        );
        assert_eq!(
            ffmpeg_samples(&p, bits),
            input,
            "ffmpeg: {bits} bits, {channels} ch"
        );
        assert_eq!(
            sox_samples(&p, bits),
            input,
            "sox: {bits} bits, {channels} ch"
        );
    }
}

#[test]
fn aiff_header_fields() {
    let dir = tempfile::tempdir().unwrap();
    let input = [-2048, 2047, 1];
    let p = encode_int(
        dir.path(),
        "x.aiff",
        Format::Aiff,
        AudioSpec::int(44100, 1, 12),
        &input,
        None,
    );
    let b = std::fs::read(p).unwrap();
    assert_eq!(&b[..4], b"FORM");
    assert_eq!(u32be(&b, 4) as usize, b.len() - 8);
    assert_eq!(&b[8..16], b"AIFFCOMM");
    assert_eq!(u32be(&b, 16), 18);
    assert_eq!(&b[20..22], &[0, 1], "channels");
    assert_eq!(u32be(&b, 22), 3, "frames");
    assert_eq!(&b[26..28], &[0, 12], "sample size");
    assert_eq!(
        &b[28..38],
        &[0x40, 0x0E, 0xAC, 0x44, 0, 0, 0, 0, 0, 0],
        "44100 as extended"
    );
    assert_eq!(&b[38..42], b"SSND");
    assert_eq!(u32be(&b, 42), 8 + 6);
    assert_eq!(&b[46..54], &[0; 8], "offset and block size");
    // Big-endian, left-justified: -2048 << 4 = 0x8000, 2047 << 4 = 0x7FF0.
    assert_eq!(&b[54..], &[0x80, 0x00, 0x7F, 0xF0, 0x00, 0x10]);

    // 8-bit odd length: signed bytes and a pad byte.
    let p = encode_int(
        dir.path(),
        "y.aiff",
        Format::Aiff,
        AudioSpec::int(8000, 1, 8),
        &[-128, 0, 127],
        None,
    );
    let b = std::fs::read(p).unwrap();
    assert_eq!(u32be(&b, 42), 8 + 3);
    assert_eq!(&b[54..], &[0x80, 0x00, 0x7F, 0x00]);
    assert_eq!(u32be(&b, 4) as usize, b.len() - 8);
}

#[test]
fn aiff_refuses_float() {
    let dir = tempfile::tempdir().unwrap();
    let file = std::fs::File::create(dir.path().join("f.aiff")).unwrap();
    let err = create(
        Format::Aiff,
        AudioSpec::float(44100, 2),
        &EncoderOptions::default(),
        file,
    )
    .err()
    .unwrap();
    assert!(matches!(err, Error::Unsupported(_)), "{err}");
}

// ---------------------------------------------------------------- FLAC

/// Metadata blocks of a FLAC file: (type, last, body).
fn flac_blocks(b: &[u8]) -> (Vec<(u8, bool, Vec<u8>)>, usize) {
    assert_eq!(&b[..4], b"fLaC");
    let mut at = 4;
    let mut blocks = Vec::new();
    loop {
        let last = b[at] & 0x80 != 0;
        let kind = b[at] & 0x7F;
        let len = u32::from_be_bytes([0, b[at + 1], b[at + 2], b[at + 3]]) as usize;
        blocks.push((kind, last, b[at + 4..at + 4 + len].to_vec()));
        at += 4 + len;
        if last {
            return (blocks, at);
        }
    }
}

struct StreamInfo {
    min_block: u32,
    max_block: u32,
    min_frame: u32,
    max_frame: u32,
    rate: u32,
    channels: u32,
    bits: u32,
    total: u64,
}

fn streaminfo(body: &[u8]) -> StreamInfo {
    let v = u64::from_be_bytes(body[10..18].try_into().unwrap());
    StreamInfo {
        min_block: u32::from(u16::from_be_bytes([body[0], body[1]])),
        max_block: u32::from(u16::from_be_bytes([body[2], body[3]])),
        min_frame: u32::from_be_bytes([0, body[4], body[5], body[6]]),
        max_frame: u32::from_be_bytes([0, body[7], body[8], body[9]]),
        rate: (v >> 44) as u32,
        channels: ((v >> 41) & 7) as u32 + 1,
        bits: ((v >> 36) & 31) as u32 + 1,
        total: v & ((1 << 36) - 1),
    }
}

#[test]
fn flac_every_level_round_trips() {
    if !have_tool("flac") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let spec = AudioSpec::int(44100, 2, 16);
    let input = mixed(44100, 2, 44100, 16, 5);
    let mut sizes = Vec::new();
    for level in 0..=8u8 {
        let p = encode_int(
            dir.path(),
            &format!("l{level}.flac"),
            Format::Flac,
            spec,
            &input,
            Some(level),
        );
        assert_eq!(flac_samples(&p, 16), input, "level {level}");
        let b = std::fs::read(&p).unwrap();
        let si = streaminfo(&flac_blocks(&b).0[0].2);
        let block = if level <= 2 { 1152 } else { 4096 };
        assert_eq!(
            (si.min_block, si.max_block),
            (block, block),
            "level {level}"
        );
        sizes.push(b.len());
    }
    // Any level beats PCM on this signal, and 8 is no worse than 0.
    assert!(sizes.iter().all(|&s| s < 44100 * 4), "{sizes:?}");
    assert!(sizes[8] <= sizes[0], "{sizes:?}");
}

#[test]
fn flac_signals_depths_channels_and_rates() {
    if !have_tool("flac") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, u8, u16, u32, Vec<i32>)> = vec![
        (
            "sine16",
            16,
            2,
            44100,
            sine(10_000, 2, 44100, 16, 997.0, 0.9),
        ),
        ("noise16", 16, 2, 48000, noise(5000, 2, 16, 1)),
        ("silence", 16, 2, 44100, vec![0; 2 * 5000]),
        ("dc", 16, 1, 44100, vec![-321; 4097]),
        ("square", 16, 2, 44100, square(4100, 2, 16)),
        ("one_sample", 16, 2, 44100, vec![32767, -32768]),
        ("odd_len", 24, 2, 96000, mixed(4097, 2, 96000, 24, 2)),
        ("8bit", 8, 1, 44100, mixed(3001, 1, 44100, 8, 3)),
        ("24bit_noise", 24, 2, 48000, noise(4096, 2, 24, 4)),
        ("6ch", 16, 6, 48000, mixed(5000, 6, 48000, 16, 6)),
        ("6ch24", 24, 6, 96000, mixed(2000, 6, 96000, 24, 7)),
        ("12bit", 12, 2, 44100, mixed(3000, 2, 44100, 12, 8)),
        ("192k", 24, 2, 192_000, mixed(5000, 2, 192_000, 24, 9)),
        ("88k2", 16, 1, 88_200, mixed(5000, 1, 88_200, 16, 10)),
        ("odd_rate", 16, 1, 11_025, mixed(3000, 1, 11_025, 16, 11)),
        ("high_rate", 16, 2, 384_000, mixed(3000, 2, 384_000, 16, 12)),
        (
            "max_rate",
            16,
            1,
            1_048_575,
            mixed(3000, 1, 1_048_575, 16, 13),
        ),
        // Uncommon depths.
        ("4bit", 4, 1, 44100, mixed(3000, 1, 44100, 4, 14)),
        ("10bit", 10, 2, 44100, mixed(5000, 2, 44100, 10, 15)),
        ("17bit", 17, 2, 48000, mixed(5000, 2, 48000, 17, 16)),
        ("32bit", 32, 2, 44100, mixed(5000, 2, 44100, 32, 17)),
        ("32bit_noise", 32, 2, 44100, noise(3000, 2, 32, 18)),
        ("32bit_square", 32, 2, 44100, square(3000, 2, 32)),
        (
            "32bit_192k",
            32,
            1,
            192_000,
            mixed(2000, 1, 192_000, 32, 19),
        ),
        ("20bit_odd_len", 20, 1, 44100, mixed(4097, 1, 44100, 20, 20)),
        ("28bit_6ch", 28, 6, 48000, mixed(2000, 6, 48000, 28, 21)),
    ];
    for (name, bits, channels, rate, input) in cases {
        let spec = AudioSpec::int(rate, channels, bits);
        for level in [0u8, 5, 8] {
            let p = encode_int(
                dir.path(),
                &format!("{name}_{level}.flac"),
                Format::Flac,
                spec,
                &input,
                Some(level),
            );
            assert_eq!(flac_samples(&p, bits), input, "{name} level {level}");
            let b = std::fs::read(&p).unwrap();
            let si = streaminfo(&flac_blocks(&b).0[0].2);
            assert_eq!(
                (si.rate, si.channels, si.bits, si.total),
                (
                    rate,
                    u32::from(channels),
                    u32::from(bits),
                    (input.len() / usize::from(channels)) as u64
                ),
                "{name} level {level}"
            );
            assert!(si.min_frame > 0 && si.min_frame <= si.max_frame, "{name}");
        }
    }
}

#[test]
fn flac_metadata_layout_and_seek_table() {
    let dir = tempfile::tempdir().unwrap();
    // 25 s of mono 8 kHz: seek points at 0, 10 s and 20 s.
    let rate = 8000;
    let frames = 25 * rate as usize + 123;
    let input = mixed(frames, 1, rate, 16, 22);
    let spec = AudioSpec::int(rate, 1, 16);
    let p = encode_int(dir.path(), "s.flac", Format::Flac, spec, &input, None);
    let b = std::fs::read(&p).unwrap();
    let (blocks, frames_at) = flac_blocks(&b);
    let kinds: Vec<(u8, bool)> = blocks.iter().map(|(k, l, _)| (*k, *l)).collect();
    assert_eq!(kinds, [(0, false), (3, false), (1, true)]);
    // The unused seek-point reservation (256 points) joins the padding.
    assert_eq!(blocks[1].2.len(), 3 * 18, "only the used seek points");
    assert_eq!(blocks[2].2.len(), 8192 + 253 * 18, "padding for tags");
    assert!(blocks[2].2.iter().all(|&b| b == 0), "padding is zeros");

    let si = streaminfo(&blocks[0].2);
    assert_eq!(
        (si.min_block, si.max_block, si.total),
        (4096, 4096, frames as u64)
    );
    assert!(si.max_frame as usize <= 4096 * 2 + 64);

    let table = &blocks[1].2;
    assert_eq!(table.len() % 18, 0);
    let points: Vec<(u64, u64, u16)> = table
        .chunks_exact(18)
        .map(|c| {
            (
                u64::from_be_bytes(c[..8].try_into().unwrap()),
                u64::from_be_bytes(c[8..16].try_into().unwrap()),
                u16::from_be_bytes([c[16], c[17]]),
            )
        })
        .collect();
    let used: Vec<_> = points.iter().filter(|p| p.0 != u64::MAX).collect();
    let targets: Vec<u64> = used.iter().map(|p| p.0).collect();
    assert_eq!(
        targets,
        [0, 81920, 163_840],
        "first frames at or after 0, 10 s, 20 s"
    );
    assert_eq!(used.len(), points.len(), "no placeholders left");
    for &&(sample, offset, n) in &used {
        let at = frames_at + offset as usize;
        assert_eq!(
            &b[at..at + 2],
            &[0xFF, 0xF8],
            "frame sync at seek point {sample}"
        );
        // Fixed block size: the frame number is sample / 4096 (one UTF-8 byte here).
        assert_eq!(u64::from(b[at + 4]), sample / 4096);
        assert_eq!(n, 4096);
    }

    if have_tool("flac") {
        assert_eq!(flac_samples(&p, 16), input);
    }
}

#[test]
fn flac_md5_matches_the_input() {
    if !have_tool("metaflac") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (bits, channels) in [(16u8, 2u16), (24, 1), (12, 2), (32, 2)] {
        let input = mixed(3000, channels, 44100, bits, 23);
        let p = encode_int(
            dir.path(),
            &format!("m{bits}.flac"),
            Format::Flac,
            AudioSpec::int(44100, channels, bits),
            &input,
            None,
        );
        let md5 = run(Command::new("metaflac").arg("--show-md5sum").arg(&p));
        // Our own MD5 of the same bytes (RFC 9639 §8.2), computed here by sox-free means.
        let width = usize::from(bits).div_ceil(8);
        let bytes: Vec<u8> = input
            .iter()
            .flat_map(|s| s.to_le_bytes()[..width].to_vec())
            .collect();
        let want = md5_hex(&bytes);
        assert_eq!(String::from_utf8_lossy(&md5).trim(), want, "{bits} bits");
    }
}

/// MD5 via the system's md5sum, an independent implementation.
fn md5_hex(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new("md5sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn empty_streams_are_valid_files() {
    let dir = tempfile::tempdir().unwrap();
    let spec = AudioSpec::int(44100, 2, 16);
    for format in [Format::Wav, Format::Aiff, Format::Flac] {
        let p = encode_int(
            dir.path(),
            &format!("empty.{format}"),
            format,
            spec,
            &[],
            None,
        );
        let len = std::fs::metadata(&p).unwrap().len();
        assert!(len > 0, "{format}");
        if format == Format::Flac && have_tool("flac") {
            // Not `-w`: a total of 0 samples reads as "unknown" and warns.
            run(Command::new("flac").args(["-t", "-s"]).arg(&p));
            assert!(flac_decode(&p, 16).is_empty());
        }
        if format != Format::Flac && have_tool("ffmpeg") {
            assert!(ffmpeg_samples(&p, 16).is_empty(), "{format}");
        }
    }
}

#[test]
fn bad_settings_are_refused_with_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let f = || std::fs::File::create(dir.path().join("x")).unwrap();
    let opts = EncoderOptions {
        level: Some(9),
        ..Default::default()
    };
    let err = create(Format::Flac, AudioSpec::int(44100, 2, 16), &opts, f())
        .err()
        .unwrap();
    assert!(
        matches!(err, Error::Encode(_)) && err.to_string().contains("level 9"),
        "{err}"
    );
    let err = create(
        Format::Flac,
        AudioSpec::int(44100, 9, 16),
        &EncoderOptions::default(),
        f(),
    )
    .err()
    .unwrap();
    assert!(
        matches!(err, Error::Unsupported(_)) && err.to_string().contains("9 channels"),
        "{err}"
    );
    let err = create(
        Format::Flac,
        AudioSpec::int(44100, 2, 3),
        &EncoderOptions::default(),
        f(),
    )
    .err()
    .unwrap();
    assert!(
        matches!(err, Error::Unsupported(_)) && err.to_string().contains("3-bit"),
        "{err}"
    );
    let err = create(
        Format::Flac,
        AudioSpec::float(44100, 2),
        &EncoderOptions::default(),
        f(),
    )
    .err()
    .unwrap();
    assert!(matches!(err, Error::Unsupported(_)), "{err}");

    // A block of another spec, or with out-of-range values, is an error, not a panic.
    let spec = AudioSpec::int(44100, 1, 16);
    for format in [Format::Wav, Format::Aiff, Format::Flac] {
        let mut enc = create(format, spec, &EncoderOptions::default(), f()).unwrap();
        let other = AudioSpec::int(48000, 1, 16);
        assert!(enc
            .write(&Block {
                spec: other,
                samples: Samples::Int(vec![0])
            })
            .is_err());
        let e = enc
            .write(&Block {
                spec,
                samples: Samples::Int(vec![40_000]),
            })
            .unwrap_err();
        assert!(e.to_string().contains("16 bits"), "{format}: {e}");
    }
}

// ---------------------------------------------------------------- our decoders

/// Everything the decoders give back, as integers.
fn decode_all(path: &Path) -> (AudioSpec, Vec<i32>) {
    let mut dec = aj_codec::decode::open(path).unwrap();
    let spec = aj_core::Source::spec(dec.as_ref());
    let mut out = Vec::new();
    while let Some(block) = dec.read(4096).unwrap() {
        out.extend_from_slice(block.as_int().unwrap());
    }
    (spec, out)
}

#[test]
fn round_trip_through_our_decoders() {
    let dir = tempfile::tempdir().unwrap();
    for (bits, channels, rate) in [
        (16u8, 2u16, 44100u32),
        (24, 6, 96000),
        (8, 1, 48000),
        (12, 2, 44100),
        (32, 2, 192_000),
    ] {
        let input = mixed(5001, channels, rate, bits, 24);
        let spec = AudioSpec::int(rate, channels, bits);
        for format in [Format::Wav, Format::Aiff, Format::Flac] {
            let p = encode_int(
                dir.path(),
                &format!("rt{bits}.{format}"),
                format,
                spec,
                &input,
                None,
            );
            let (got_spec, got) = decode_all(&p);
            assert_eq!(got_spec, spec, "{format} {bits} bits");
            assert_eq!(got, input, "{format} {bits} bits {channels} ch");
        }
    }
    // Float WAV comes back bit for bit.
    let spec = AudioSpec::float(48000, 2);
    let input: Vec<f32> = mixed(3001, 2, 48000, 24, 25)
        .iter()
        .map(|&s| s as f32 / 8_388_608.0)
        .collect();
    let p = encode_to(
        dir.path(),
        "rtf.wav",
        Format::Wav,
        spec,
        Samples::Float(input.clone()),
        &EncoderOptions::default(),
    );
    let mut dec = aj_codec::decode::open(&p).unwrap();
    assert_eq!(aj_core::Source::spec(dec.as_ref()), spec);
    let mut got = Vec::new();
    while let Some(block) = dec.read(1000).unwrap() {
        got.extend(block.as_float().unwrap().iter().map(|f| f.to_bits()));
    }
    assert_eq!(got, input.iter().map(|f| f.to_bits()).collect::<Vec<_>>());
}
