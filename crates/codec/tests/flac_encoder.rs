//! Property tests of our FLAC encoder over generated signals: noise,
//! silence, DC, full-scale square waves, clipped sines, sweeps, wasted
//! low bits, impulses, one-sample and odd-length streams, at every depth
//! (4–32 bits), every channel count (1–8) and every level (0–8).
//!
//! Every file must decode bit-exactly with our decoder and pass `flac -t`
//! (frame CRCs, and the MD5 of the decoded samples against the MD5 of the
//! input that STREAMINFO holds), and no frame may be larger than VERBATIM
//! coding would make it. Signals are generated here from fixed seeds.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use aj_codec::encode::{create, EncoderOptions};
use aj_codec::Format;
use aj_core::{AudioSpec, Block, Samples};
use aj_testkit::have_tool;

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in the `bits`-bit signed range.
    fn sample(&mut self, bits: u32) -> i64 {
        (self.next() >> (64 - bits)) as i64 - (1i64 << (bits - 1))
    }
}

const KINDS: [&str; 11] = [
    "noise",
    "silence",
    "dc",
    "square",
    "clipped_sine",
    "sweep",
    "wasted",
    "impulses",
    "one_sample",
    "odd_length",
    "quiet_noise",
];

/// Interleaved samples of `kind` at `bits` per sample.
fn signal(kind: &str, frames: usize, channels: usize, bits: u32, seed: u64) -> Vec<i32> {
    let max = (1i64 << (bits - 1)) - 1;
    let min = -(1i64 << (bits - 1));
    let mut rng = Rng(seed);
    let mut out = Vec::with_capacity(frames * channels);
    for i in 0..frames {
        for c in 0..channels {
            let t = i as f64 / 44100.0;
            let v: i64 = match kind {
                "noise" | "one_sample" | "odd_length" => rng.sample(bits),
                "quiet_noise" => rng.sample(bits.min(4)) + (c as i64),
                "silence" => 0,
                "dc" => {
                    if c % 2 == 0 {
                        max
                    } else {
                        min / 3
                    }
                }
                "square" => {
                    if (i / (25 + c)) % 2 == 0 {
                        max
                    } else {
                        min
                    }
                }
                "clipped_sine" => {
                    let s = 1.7 * (2.0 * std::f64::consts::PI * 440.0 * t + c as f64).sin();
                    ((s.clamp(-1.0, 1.0) * max as f64) as i64).clamp(min, max)
                }
                "sweep" => {
                    let f = 20.0 + 10_000.0 * t;
                    let s = (std::f64::consts::PI * f * t).sin() * 0.8;
                    (s * max as f64) as i64
                }
                "wasted" => {
                    // Low 3 bits always zero (where the depth has room).
                    let k = (bits - 1).min(3);
                    let s = (2.0 * std::f64::consts::PI * 300.0 * t).sin() * 0.7 * max as f64;
                    (((s as i64) >> k) << k).clamp(min, max)
                }
                "impulses" => {
                    if i % 997 == c {
                        max
                    } else if i % 1499 == 0 {
                        min
                    } else {
                        0
                    }
                }
                _ => unreachable!(),
            };
            out.push(v.clamp(min, max) as i32);
        }
    }
    out
}

fn frames_for(kind: &str, i: usize) -> usize {
    match kind {
        "one_sample" => 1,
        "odd_length" => 4097 + 2 * i,
        _ => 2000 + 777 * (i % 5),
    }
}

/// Encodes in uneven blocks (1, 333, 4095, …) to exercise buffering.
fn encode(path: &Path, spec: AudioSpec, samples: &[i32], level: u8) {
    encode_threads(path, spec, samples, level, None);
}

fn encode_threads(
    path: &Path,
    spec: AudioSpec,
    samples: &[i32],
    level: u8,
    threads: Option<usize>,
) {
    let file = std::fs::File::create(path).unwrap();
    let opts = EncoderOptions {
        level: Some(level),
        threads,
        ..Default::default()
    };
    let mut enc = create(Format::Flac, spec, &opts, file).unwrap();
    let ch = usize::from(spec.channels);
    let frames = samples.len() / ch;
    let sizes = [1usize, 333, 4095, 10_000, 7];
    let (mut at, mut i) = (0, 0);
    while at < frames {
        let n = sizes[i % sizes.len()].min(frames - at);
        enc.write(&Block {
            spec,
            samples: Samples::Int(samples[at * ch..(at + n) * ch].to_vec()),
        })
        .unwrap();
        at += n;
        i += 1;
    }
    enc.finish().unwrap();
}

fn decode_ours(path: &Path) -> (AudioSpec, Vec<i32>) {
    let mut dec = aj_codec::decode::open(path).unwrap();
    let spec = aj_core::Source::spec(dec.as_ref());
    let mut out = Vec::new();
    while let Some(block) = dec.read(4096).unwrap() {
        out.extend_from_slice(block.as_int().unwrap());
    }
    (spec, out)
}

/// STREAMINFO fields: (max block, max frame bytes) and the offset of the
/// first frame.
fn stream_layout(b: &[u8]) -> (u32, u32, usize) {
    assert_eq!(&b[..4], b"fLaC");
    let si = &b[8..42];
    let max_block = u32::from(u16::from_be_bytes([si[2], si[3]]));
    let max_frame = u32::from_be_bytes([0, si[7], si[8], si[9]]);
    let mut at = 4;
    loop {
        let last = b[at] & 0x80 != 0;
        let len = u32::from_be_bytes([0, b[at + 1], b[at + 2], b[at + 3]]) as usize;
        at += 4 + len;
        if last {
            return (max_block, max_frame, at);
        }
    }
}

/// A frame header (at most 16 bytes here), VERBATIM subframes and CRC-16.
fn verbatim_frame_bytes(block: usize, channels: usize, bits: u32) -> u32 {
    let body_bits = channels as u64 * (8 + block as u64 * u64::from(bits));
    (16 + body_bits.div_ceil(8) + 2) as u32
}

fn flac_test(files: &[PathBuf]) {
    if files.is_empty() || !have_tool("flac") {
        return;
    }
    for chunk in files.chunks(100) {
        let out = Command::new("flac")
            .args(["-t", "-s", "-w"])
            .args(chunk)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "flac -t: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn every_depth_channel_count_level_and_signal_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for bits in 4..=32u32 {
        for (i, kind) in KINDS.iter().enumerate() {
            let channels = 1 + (bits as usize + i) % 8;
            let level = ((bits as usize + 3 * i) % 9) as u8;
            let frames = frames_for(kind, i);
            let input = signal(
                kind,
                frames,
                channels,
                bits,
                u64::from(bits) * 100 + i as u64,
            );
            let spec = AudioSpec::int(44100, channels as u16, bits as u8);
            let path = dir
                .path()
                .join(format!("{bits}_{kind}_{channels}ch_l{level}.flac"));
            encode(&path, spec, &input, level);
            let what = format!("{bits} bits, {kind}, {channels} ch, level {level}");

            let (got_spec, got) = decode_ours(&path);
            assert_eq!(got_spec, spec, "{what}");
            assert!(got == input, "{what}: our decoder gives other samples");

            let b = std::fs::read(&path).unwrap();
            let (max_block, max_frame, _) = stream_layout(&b);
            let limit = verbatim_frame_bytes(max_block as usize, channels, bits);
            assert!(max_frame <= limit, "{what}: frame of {max_frame} > {limit}");
            files.push(path);
        }
    }
    flac_test(&files);
}

#[test]
fn every_level_on_stereo_16_and_24_bit() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for bits in [16u32, 24] {
        for level in 0..=8u8 {
            for (i, kind) in ["clipped_sine", "sweep", "noise", "wasted"]
                .iter()
                .enumerate()
            {
                let input = signal(kind, 9000 + i, 2, bits, 7 + i as u64);
                let spec = AudioSpec::int(48000, 2, bits as u8);
                let path = dir.path().join(format!("{bits}_{level}_{kind}.flac"));
                encode(&path, spec, &input, level);
                let (_, got) = decode_ours(&path);
                assert!(got == input, "{bits} bits level {level} {kind}");
                files.push(path);
            }
        }
    }
    flac_test(&files);
}

/// Stereo that changes character every 0.3 s (identical channels, a tone
/// beside noise, full-scale noise that falls back to VERBATIM), so that
/// adaptive stereo makes different choices from one decision to the next.
fn changing_stereo(frames: usize, rate: usize, seed: u64) -> Vec<i32> {
    let mut rng = Rng(seed);
    let mut out = Vec::with_capacity(frames * 2);
    for i in 0..frames {
        let t = i as f64 / rate as f64;
        let tone = ((2.0 * std::f64::consts::PI * 440.0 * t).sin() * 20000.0) as i64;
        let (l, r) = match (i * 10 / (3 * rate)) % 4 {
            0 => (tone, tone + rng.sample(3)),
            1 => (tone, rng.sample(12)),
            2 => (rng.sample(16), rng.sample(16)),
            _ => (tone + rng.sample(8), tone / 2 + rng.sample(8)),
        };
        out.push(l.clamp(-32768, 32767) as i32);
        out.push(r.clamp(-32768, 32767) as i32);
    }
    out
}

/// Frames encoded on 2, 3 or 4 threads give the very bytes of one thread
/// (frames, seek table, STREAMINFO with MD5) at every kind of level:
/// independent (0), adaptive stereo (1, 4), exhaustive (5, 8); for streams
/// shorter than one block, exactly a whole number of blocks (one batch and
/// several), and longer with a short last block.
#[test]
fn threads_give_the_bytes_of_one_thread() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, u16, u32, u32); 4] = [
        ("changing", 2, 16, 44100),
        ("changing", 2, 16, 48000),
        ("clipped_sine", 1, 24, 44100),
        ("sweep", 6, 20, 96000),
    ];
    for level in [0u8, 1, 4, 5, 8] {
        let block = if level <= 2 { 1152 } else { 4096 };
        for (ci, &(kind, channels, bits, rate)) in cases.iter().enumerate() {
            let ch = usize::from(channels);
            // Batches are about 64 Ki samples (exactly at levels 3-8): the
            // longest input makes about ten, more than the threads keep in
            // flight.
            let lengths = [1, 1000, 5 * block, 40 * block, 2 * 65_536, 100_003, 640_007];
            for frames in lengths {
                // Longer runs on the stereo cases only: they are where
                // adaptive stereo carries state from frame to frame.
                if (ch != 2 && frames > 5 * block) || (ci > 0 && frames > 200_000) {
                    continue;
                }
                let input = if kind == "changing" {
                    changing_stereo(frames, rate as usize, 5 + ci as u64)
                } else {
                    signal(kind, frames, ch, bits, 11 + ci as u64)
                };
                let spec = AudioSpec::int(rate, channels, bits as u8);
                let what = format!("level {level}, {kind} {ch} ch {rate} Hz, {frames} frames");
                let one = dir.path().join("one.flac");
                encode_threads(&one, spec, &input, level, Some(1));
                let want = std::fs::read(&one).unwrap();
                let (_, got) = decode_ours(&one);
                assert!(got == input, "{what}: one thread does not round-trip");
                for threads in [0usize, 2, 3, 4] {
                    let many = dir.path().join(format!("{threads}.flac"));
                    encode_threads(&many, spec, &input, level, Some(threads));
                    let b = std::fs::read(&many).unwrap();
                    assert!(b == want, "{what}: {threads} threads differ from one");
                }
            }
        }
    }
}

/// Frame bytes of our file and of `flac -N` on the same music-like signal
/// (a few tones, a sweep and a little noise): at most 0.2 % larger at any
/// level, the bar for the benchmark corpus.
#[test]
fn sizes_match_the_reference_encoder() {
    if !have_tool("flac") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let frames = 44100 * 2;
    let mut rng = Rng(99);
    let mut input = Vec::with_capacity(frames * 2);
    for i in 0..frames {
        let t = i as f64 / 44100.0;
        for c in 0..2 {
            let s = 0.3 * (2.0 * std::f64::consts::PI * 220.0 * t).sin()
                + 0.2 * (2.0 * std::f64::consts::PI * (330.0 + c as f64) * t).sin()
                + 0.1 * (std::f64::consts::PI * (100.0 + 2000.0 * t) * t).sin();
            input.push((s * 30000.0) as i32 + (rng.sample(7) as i32));
        }
    }
    let wav = dir.path().join("in.wav");
    aj_testkit::write_wav(&wav, &input, 2, 44100, 16);
    let spec = AudioSpec::int(44100, 2, 16);
    for level in 0..=8u8 {
        let ours = dir.path().join(format!("ours{level}.flac"));
        encode(&ours, spec, &input, level);
        let theirs = dir.path().join(format!("ref{level}.flac"));
        let st = Command::new("flac")
            .args(["-s", "-f", &format!("-{level}"), "-o"])
            .arg(&theirs)
            .arg(&wav)
            .status()
            .unwrap();
        assert!(st.success());
        let frames_len = |p: &Path| {
            let b = std::fs::read(p).unwrap();
            let (_, _, at) = stream_layout(&b);
            (b.len() - at) as f64
        };
        let (a, b) = (frames_len(&ours), frames_len(&theirs));
        assert!(a <= b * 1.002, "level {level}: ours {a} bytes, flac {b}");
        flac_test(&[ours]);
    }
}

/// 32-bit stereo (left, right) pairs whose side channel L − R takes 33 bits
/// (RFC 9639 §4.2): anti-correlated (a near full-scale tone against its
/// negation, and full-range noise against its negation), correlated,
/// full-scale square waves in opposite phase, and independent full-range
/// noise.
fn stereo_32(kind: &str, frames: usize, seed: u64) -> Vec<i32> {
    let max = i64::from(i32::MAX);
    let mut rng = Rng(seed);
    let mut out = Vec::with_capacity(frames * 2);
    for i in 0..frames {
        let t = i as f64 / 48000.0;
        let tone = ((2.0 * std::f64::consts::PI * 440.0 * t).sin() * 0.9 * max as f64) as i64;
        let (l, r) = match kind {
            "anti_tone" => (tone + rng.sample(10), -tone + rng.sample(10)),
            "anti_noise" => {
                let v = rng.sample(32);
                (v, -v + rng.sample(6))
            }
            "correlated" => (tone + rng.sample(12), tone + rng.sample(12)),
            "full_scale" => {
                if (i / 37) % 2 == 0 {
                    (max, -max - 1)
                } else {
                    (-max - 1, max)
                }
            }
            "random" => (rng.sample(32), rng.sample(32)),
            _ => unreachable!(),
        };
        out.push(l.clamp(-max - 1, max) as i32);
        out.push(r.clamp(-max - 1, max) as i32);
    }
    out
}

/// The channel assignment code of the first frame (RFC 9639 §9.1.3).
fn first_channel_code(path: &Path) -> u8 {
    let b = std::fs::read(path).unwrap();
    let (_, _, at) = stream_layout(&b);
    b[at + 3] >> 4
}

/// 32-bit stereo at every level: stereo decorrelation codes the side
/// channel in 33 bits, and every file decodes bit-exactly with our decoder
/// and with `flac -d`, and passes `flac -t`; on 2 threads, the bytes of
/// one.
#[test]
fn stereo_32_bit_side_channel_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    let kinds = [
        "anti_tone",
        "anti_noise",
        "correlated",
        "full_scale",
        "random",
    ];
    let spec = AudioSpec::int(48000, 2, 32);
    for level in 0..=8u8 {
        for (i, kind) in kinds.iter().enumerate() {
            let input = stereo_32(kind, 9000 + 311 * i, 40 + i as u64);
            let path = dir.path().join(format!("{kind}_l{level}.flac"));
            encode(&path, spec, &input, level);
            let what = format!("32-bit {kind}, level {level}");
            let (got_spec, got) = decode_ours(&path);
            assert_eq!(got_spec, spec, "{what}");
            assert!(got == input, "{what}: our decoder gives other samples");
            let b = std::fs::read(&path).unwrap();
            let (max_block, max_frame, _) = stream_layout(&b);
            let limit = verbatim_frame_bytes(max_block as usize, 2, 32);
            assert!(max_frame <= limit, "{what}: frame of {max_frame} > {limit}");
            // Anti-correlated channels code smallest as mid/side wherever
            // the level decorrelates (all but 0 and 3, independent).
            if kind.starts_with("anti") && ![0, 3].contains(&level) {
                assert_eq!(first_channel_code(&path), 0b1010, "{what}: not mid/side");
            }
            files.push((path, input));
        }
    }
    // Several batches on threads: the bytes of one thread.
    for level in [1u8, 8] {
        let input = stereo_32("anti_tone", 150_001, 9);
        let one = dir.path().join(format!("one{level}.flac"));
        let two = dir.path().join(format!("two{level}.flac"));
        encode_threads(&one, spec, &input, level, Some(1));
        encode_threads(&two, spec, &input, level, Some(2));
        let (a, b) = (std::fs::read(&one).unwrap(), std::fs::read(&two).unwrap());
        assert!(a == b, "32-bit level {level}: 2 threads differ from one");
        let (_, got) = decode_ours(&one);
        assert!(
            got == input,
            "32-bit level {level}, long: our decoder differs"
        );
        files.push((one, input));
    }
    if !have_tool("flac") {
        return;
    }
    let paths: Vec<PathBuf> = files.iter().map(|(p, _)| p.clone()).collect();
    flac_test(&paths);
    for (path, input) in &files {
        let raw = path.with_extension("raw");
        let out = Command::new("flac")
            .args(["-d", "-s", "-f", "--force-raw-format"])
            .args(["--endian=little", "--sign=signed", "-o"])
            .arg(&raw)
            .arg(path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "flac -d {}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let bytes = std::fs::read(&raw).unwrap();
        let got: Vec<i32> = bytes
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert!(
            &got == input,
            "{}: flac -d gives other samples",
            path.display()
        );
    }
}
