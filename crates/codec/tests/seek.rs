//! `decode::open_at`: for every format, opening at frame k gives exactly
//! what opening at the start and dropping k frames gives, sample for
//! sample, at the start, inside the first frame, on and around frame
//! boundaries, in the middle, in the last frame and at the end; past the
//! end is a clear error.
//!
//! Files are written here by our own encoders (WAV, AIFF, FLAC, MP3, Ogg
//! Vorbis, Opus) and by the `flac` tool (with and without a SEEKTABLE, with
//! several block sizes; skipped when it is missing unless
//! `AJ_REQUIRE_TOOLS=1`); the FLAC testbench's subset files, when present,
//! add variable block sizes (including the pre-2007 layout), odd block
//! sizes, many channels and files without a total length.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use aj_codec::decode;
use aj_codec::encode::EncoderOptions;
use aj_codec::sink::{FileSink, FileSinkOptions};
use aj_codec::tags::Tags;
use aj_codec::Format;
use aj_core::{AudioSpec, Block, CancelToken, Samples, Sink};
use aj_testkit as tk;

/// Every sample of a decoder from where it stands, as raw bit patterns.
fn drain(d: &mut dyn decode::Decoder) -> Result<Vec<u32>, String> {
    let mut all = Vec::new();
    let mut sizes = [1000usize, 1, 4096, 333].iter().cycle();
    while let Some(b) = d.read(*sizes.next().unwrap()).map_err(|e| e.to_string())? {
        match b.samples {
            Samples::Int(v) => all.extend(v.iter().map(|&s| s as u32)),
            Samples::Float(v) => all.extend(v.iter().map(|s| s.to_bits())),
        }
    }
    Ok(all)
}

/// Checks `open_at(k)` against the whole decode for each of `ks`, and that
/// `total_frames` is the whole file's.
fn check_positions(path: &Path, ks: &[u64]) {
    let mut d = decode::open(path).unwrap();
    let channels = usize::from(d.spec().channels);
    let total = d.total_frames();
    let all = drain(&mut *d).unwrap();
    let len = (all.len() / channels) as u64;
    for &k in ks.iter().filter(|&&k| k <= len) {
        let mut d = decode::open_at(path, k)
            .unwrap_or_else(|e| panic!("{}: open_at({k}): {e}", path.display()));
        assert_eq!(d.total_frames(), total, "{}", path.display());
        let got = drain(&mut *d).unwrap_or_else(|e| panic!("{}: at {k}: {e}", path.display()));
        let want = &all[k as usize * channels..];
        assert!(
            got == want,
            "{}: open_at({k}) differs from open + skip {k} ({} samples against {}; first difference at {:?})",
            path.display(),
            got.len(),
            want.len(),
            got.iter().zip(want).position(|(a, b)| a != b)
        );
    }
    // Past the end: a clear error naming the frame and the length.
    let e = decode::open_at(path, len + 1).err().map(|e| e.to_string());
    let e = e.unwrap_or_else(|| panic!("{}: open_at past the end worked", path.display()));
    assert!(
        e.contains(&(len + 1).to_string()) && e.contains(&len.to_string()),
        "{}: {e}",
        path.display()
    );
}

/// Positions worth checking in a stream of `len` frames cut in blocks of
/// `block` frames.
fn positions(len: u64, block: u64) -> Vec<u64> {
    let mut ks = vec![
        0,
        1,
        100 % block.max(1),
        block - 1,
        block,
        block + 1,
        2 * block,
    ];
    ks.extend([len / 3, len / 2, len / 2 + 7, len - block / 2, len - 1, len]);
    ks.extend([len.saturating_sub(block), len.saturating_sub(block + 1)]);
    ks.sort_unstable();
    ks.dedup();
    ks
}

fn write(dir: &Path, name: &str, format: Format, spec: AudioSpec, samples: &[i32]) -> PathBuf {
    let target = dir.join(name);
    let options = FileSinkOptions {
        format,
        encoder: EncoderOptions::default(),
        tags: Tags::new(),
        overwrite: false,
        verify: false,
    };
    let mut sink = FileSink::create(&target, spec, options).unwrap();
    let samples = match spec.format {
        aj_core::SampleFormat::Int { .. } => Samples::Int(samples.to_vec()),
        aj_core::SampleFormat::Float => {
            Samples::Float(samples.iter().map(|&s| s as f32 / 32768.0).collect())
        }
    };
    sink.write(&Block { spec, samples }).unwrap();
    sink.finish_verified(&CancelToken::new()).unwrap();
    target
}

fn signal(frames: usize, channels: u16, bits: u8) -> Vec<i32> {
    let mut s = tk::sweep(frames, channels, 44_100, bits, 50.0, 15_000.0);
    for (x, n) in s.iter_mut().zip(tk::noise(frames, channels, bits, 7)) {
        *x = (*x / 2).wrapping_add(n / 8);
    }
    s
}

#[test]
fn pcm_seeks_to_the_frame() {
    let dir = tempfile::tempdir().unwrap();
    let frames = 30_000;
    for (format, name, bits, channels) in [
        (Format::Wav, "a.wav", 16u8, 2u16),
        (Format::Wav, "b.wav", 24, 3),
        (Format::Aiff, "c.aiff", 16, 1),
        (Format::Aiff, "d.aiff", 24, 2),
    ] {
        let spec = AudioSpec::int(44_100, channels, bits);
        let p = write(
            dir.path(),
            name,
            format,
            spec,
            &signal(frames, channels, bits),
        );
        check_positions(&p, &positions(frames as u64, 4096));
    }
}

#[test]
fn our_flac_seeks_to_the_sample() {
    let dir = tempfile::tempdir().unwrap();
    let frames = 60_000;
    for (name, bits, channels) in [("a.flac", 16u8, 2u16), ("b.flac", 24, 1)] {
        let spec = AudioSpec::int(44_100, channels, bits);
        let p = write(
            dir.path(),
            name,
            Format::Flac,
            spec,
            &signal(frames, channels, bits),
        );
        check_positions(&p, &positions(frames as u64, 4096));
    }
}

#[test]
fn lossy_formats_read_and_drop() {
    let dir = tempfile::tempdir().unwrap();
    let frames = 20_000;
    let spec = AudioSpec::float(48_000, 2);
    let input = signal(frames, 2, 16);
    for (format, name) in [
        (Format::Mp3, "a.mp3"),
        (Format::Ogg, "b.ogg"),
        (Format::Opus, "c.opus"),
    ] {
        let p = write(dir.path(), name, format, spec, &input);
        let mut d = decode::open(&p).unwrap();
        let len = (drain(&mut *d).unwrap().len() / 2) as u64;
        check_positions(&p, &[0, 1, 1151, 1152, 5000, len / 2, len - 1, len]);
    }
}

fn flac_tool(dir: &Path, wav: &Path, name: &str, args: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let st = Command::new("flac")
        .args(["-s", "-f"])
        .args(args)
        .arg("-o")
        .arg(&out)
        .arg(wav)
        .status()
        .unwrap();
    assert!(st.success(), "flac {args:?}");
    out
}

#[test]
fn flac_with_and_without_seektable_and_block_sizes() {
    if !tk::have_tool("flac") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let frames = 200_000;
    let wav = dir.path().join("in.wav");
    tk::write_wav(&wav, &signal(frames, 2, 16), 2, 44_100, 16);
    for (name, args, block) in [
        ("table.flac", &["-S", "1s"][..], 4096u64),
        ("sparse.flac", &["-S", "3s"][..], 4096),
        ("none.flac", &["--no-seektable"][..], 4096),
        ("b1152.flac", &["--no-seektable", "-b", "1152"][..], 1152),
        ("b192.flac", &["-S", "1x", "-b", "192"][..], 192),
        ("b4608.flac", &["-b", "4608", "-S", "2x"][..], 4608),
        (
            "mono.flac",
            &["--no-seektable", "--lax", "-b", "16384"][..],
            16_384,
        ),
    ] {
        let p = if name == "mono.flac" {
            let mono = dir.path().join("mono.wav");
            tk::write_wav(&mono, &signal(frames, 1, 16), 1, 44_100, 16);
            flac_tool(dir.path(), &mono, name, args)
        } else {
            flac_tool(dir.path(), &wav, name, args)
        };
        let mut ks = positions(frames as u64, block);
        ks.extend((1..40).map(|i| i * 4999));
        check_positions(&p, &ks);
    }
}

/// The offset of the first SEEKTABLE block's body, if any.
fn seektable_at(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut at = 4;
    loop {
        let h = bytes.get(at..at + 4)?;
        let len = u32::from_be_bytes([0, h[1], h[2], h[3]]) as usize;
        if h[0] & 0x7F == 3 {
            return Some((at + 4, len));
        }
        if h[0] & 0x80 != 0 {
            return None;
        }
        at += 4 + len;
    }
}

#[test]
fn flac_seektable_that_lies_is_not_trusted() {
    if !tk::have_tool("flac") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let frames = 150_000;
    let wav = dir.path().join("in.wav");
    tk::write_wav(&wav, &signal(frames, 2, 16), 2, 44_100, 16);
    let p = flac_tool(dir.path(), &wav, "x.flac", &["-S", "1s"]);
    let mut bytes = std::fs::read(&p).unwrap();
    let (at, len) = seektable_at(&bytes).unwrap();
    assert!(len >= 18 * 3);
    // Point 1: an offset inside a frame; point 2: the wrong sample
    // number; the last: an offset past the end of the file.
    bytes[at + 18 + 15] ^= 0x05;
    bytes[at + 36 + 7] ^= 0x40;
    let last = at + len - 18;
    bytes[last + 8..last + 16].copy_from_slice(&u64::MAX.to_be_bytes());
    std::fs::write(&p, &bytes).unwrap();
    let mut ks = positions(frames as u64, 4096);
    ks.extend((1..30).map(|i| i * 4999));
    check_positions(&p, &ks);
}

#[test]
fn flac_seek_still_checks_frames() {
    if !tk::have_tool("flac") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let frames = 100_000;
    let wav = dir.path().join("in.wav");
    tk::write_wav(&wav, &signal(frames, 2, 16), 2, 44_100, 16);
    let p = flac_tool(dir.path(), &wav, "x.flac", &["--no-seektable"]);
    // Damage a byte three quarters in: reading from the middle meets it.
    let mut bytes = std::fs::read(&p).unwrap();
    let at = bytes.len() * 3 / 4;
    bytes[at] ^= 0x10;
    std::fs::write(&p, &bytes).unwrap();
    let mut d = decode::open_at(&p, frames as u64 / 2).unwrap();
    let e = drain(&mut *d).unwrap_err();
    assert!(e.contains("damaged") || e.contains("missing"), "{e}");
    // A seek past the damage reads to the end without complaint (the MD5
    // cannot be checked after a seek).
    let mut d = decode::open_at(&p, frames as u64 - 3000).unwrap();
    assert_eq!(drain(&mut *d).unwrap().len(), 3000 * 2);
}

#[test]
fn testbench_subset_files_seek() {
    let Some(bench) = tk::flac_testbench() else {
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(bench.join("subset"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "flac"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for p in files {
        let mut d = decode::open(&p).unwrap();
        let channels = usize::from(d.spec().channels);
        let len = (drain(&mut *d).unwrap().len() / channels) as u64;
        let mut ks = positions(len, 4096.min(len));
        ks.extend([
            15, 16, 17, 191, 192, 193, 1000, 1151, 1152, 4607, 4608, 4609,
        ]);
        ks.extend((1..8).map(|i| len * i / 8 + i));
        check_positions(&p, &ks);
    }
}
