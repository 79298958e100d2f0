//! Decoders against generated signals: every format decodes bit-exactly
//! (integer codecs) or to the exact expected length (lossy codecs).
//!
//! WAV and AIFF files are built here byte by byte; FLAC, MP3, Vorbis, Opus,
//! AAC and ALAC files are made by the peer tools (`flac`, `lame`, `oggenc`,
//! `opusenc`/`opusdec`, `ffmpeg`), skipped when a tool is missing unless
//! `AJ_REQUIRE_TOOLS=1`.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use aj_codec::decode::{self, MediaInfo};
use aj_codec::Error;
use aj_core::{AudioSpec, SampleFormat, Samples};
use aj_testkit as tk;

/// Decodes a whole file in odd-sized blocks.
fn decode_all(path: &Path) -> Result<(MediaInfo, AudioSpec, Samples), aj_core::Error> {
    let mut d = decode::open(path).map_err(aj_core::Error::from)?;
    let spec = d.spec();
    let info = d.info().clone();
    let mut all = match spec.format {
        SampleFormat::Int { .. } => Samples::Int(Vec::new()),
        SampleFormat::Float => Samples::Float(Vec::new()),
    };
    let mut sizes = [1000usize, 1, 4096, 333].iter().cycle();
    while let Some(b) = d.read(*sizes.next().unwrap())? {
        assert!(!b.samples.is_empty(), "blocks are never empty");
        assert_eq!(b.spec, spec);
        match (&mut all, b.samples) {
            (Samples::Int(a), Samples::Int(v)) => a.extend(v),
            (Samples::Float(a), Samples::Float(v)) => a.extend(v),
            _ => panic!("block sample type differs from spec"),
        }
    }
    assert!(d.read(100)?.is_none(), "end of stream repeats");
    Ok((info, spec, all))
}

fn ints(s: &Samples) -> &[i32] {
    match s {
        Samples::Int(v) => v,
        Samples::Float(_) => panic!("expected integer samples"),
    }
}

fn floats(s: &Samples) -> &[f32] {
    match s {
        Samples::Float(v) => v,
        Samples::Int(_) => panic!("expected float samples"),
    }
}

fn rms(v: &[f32]) -> f64 {
    (v.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>() / v.len().max(1) as f64).sqrt()
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// A test signal: a sine on each channel plus a little noise, so every bit
/// of every sample matters.
fn signal(frames: usize, channels: u16, rate: u32, bits: u8) -> Vec<i32> {
    let s = tk::sine(frames, channels, rate, bits, 441.0, 0.5);
    let n = tk::noise(frames, channels, bits, 42);
    s.iter().zip(&n).map(|(&a, &b)| a + b / 4).collect()
}

// ---- WAV ----

#[test]
fn wav_integer_depths_are_bit_exact() {
    let dir = tempfile::tempdir().unwrap();
    for bits in [8u8, 16, 24, 32] {
        let pcm = signal(3001, 2, 44_100, bits);
        let p = write(
            dir.path(),
            &format!("s{bits}.wav"),
            &tk::wav_bytes(&pcm, 2, 44_100, bits),
        );
        let (info, spec, got) = decode_all(&p).unwrap();
        assert_eq!(spec, AudioSpec::int(44_100, 2, bits));
        assert_eq!(ints(&got), &pcm[..], "{bits}-bit WAV");
        assert_eq!(info.container, "WAVE");
        assert_eq!(info.codec, "PCM");
        assert!(info.lossless);
        assert_eq!(info.bits_per_sample, Some(bits));
        assert_eq!(info.total_frames, Some(3001));
        assert_eq!(info.bitrate, Some(44_100 * 2 * u32::from(bits)));
    }
}

#[test]
fn wav_8_bit_unsigned_becomes_signed() {
    let dir = tempfile::tempdir().unwrap();
    let pcm = vec![-128, -1, 0, 1, 127];
    let bytes = tk::wav_bytes(&pcm, 1, 8000, 8);
    assert_eq!(&bytes[44..], &[0, 127, 128, 129, 255]);
    let p = write(dir.path(), "u8.wav", &bytes);
    let (_, _, got) = decode_all(&p).unwrap();
    assert_eq!(ints(&got), &pcm[..]);
}

/// A WAV header with a given fmt chunk body and raw data.
fn wav_with_fmt(fmt: &[u8], data: &[u8]) -> Vec<u8> {
    let mut v = b"RIFF".to_vec();
    v.extend_from_slice(&((4 + 8 + fmt.len() + 8 + data.len()) as u32).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
    v.extend_from_slice(fmt);
    v.extend_from_slice(b"data");
    v.extend_from_slice(&(data.len() as u32).to_le_bytes());
    v.extend_from_slice(data);
    v
}

fn fmt_body(tag: u16, channels: u16, rate: u32, bits: u16, block_bytes: u16) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&tag.to_le_bytes());
    f.extend_from_slice(&channels.to_le_bytes());
    f.extend_from_slice(&rate.to_le_bytes());
    f.extend_from_slice(&(rate * u32::from(channels * block_bytes)).to_le_bytes());
    f.extend_from_slice(&(channels * block_bytes).to_le_bytes());
    f.extend_from_slice(&bits.to_le_bytes());
    f
}

/// WAVE_FORMAT_EXTENSIBLE fmt body: container `bits`, `valid` bits, sub-format tag.
fn fmt_extensible(channels: u16, rate: u32, bits: u16, valid: u16, sub: u16) -> Vec<u8> {
    let mut f = fmt_body(0xFFFE, channels, rate, bits, bits / 8);
    f.extend_from_slice(&22u16.to_le_bytes());
    f.extend_from_slice(&valid.to_le_bytes());
    f.extend_from_slice(&3u32.to_le_bytes()); // front left + right
    f.extend_from_slice(&sub.to_le_bytes());
    f.extend_from_slice(&[
        0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
    ]);
    f
}

#[test]
fn wav_float_32_and_64() {
    let dir = tempfile::tempdir().unwrap();
    let vals = [0.0f32, 0.5, -0.25, 1.0, -1.0, 0.125];
    let d32: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
    let p = write(
        dir.path(),
        "f32.wav",
        &wav_with_fmt(&fmt_body(3, 2, 48_000, 32, 4), &d32),
    );
    let (info, spec, got) = decode_all(&p).unwrap();
    assert_eq!(spec, AudioSpec::float(48_000, 2));
    assert_eq!(floats(&got), &vals[..]);
    assert_eq!(info.bits_per_sample, Some(32));
    let d64: Vec<u8> = vals
        .iter()
        .flat_map(|&v| f64::from(v).to_le_bytes())
        .collect();
    let p = write(
        dir.path(),
        "f64.wav",
        &wav_with_fmt(&fmt_body(3, 2, 48_000, 64, 8), &d64),
    );
    let (info, spec, got) = decode_all(&p).unwrap();
    assert_eq!(spec, AudioSpec::float(48_000, 2));
    assert_eq!(floats(&got), &vals[..]);
    assert_eq!(info.bits_per_sample, Some(64));
    // The same floats in WAVE_FORMAT_EXTENSIBLE.
    let p = write(
        dir.path(),
        "fx.wav",
        &wav_with_fmt(&fmt_extensible(2, 48_000, 32, 32, 3), &d32),
    );
    let (_, spec, got) = decode_all(&p).unwrap();
    assert_eq!(spec, AudioSpec::float(48_000, 2));
    assert_eq!(floats(&got), &vals[..]);
}

#[test]
fn wav_extensible_keeps_the_valid_bit_depth() {
    let dir = tempfile::tempdir().unwrap();
    // 20-bit samples, left-justified in 24-bit containers.
    let pcm = signal(500, 2, 96_000, 20);
    let data: Vec<u8> = pcm
        .iter()
        .flat_map(|&s| (s << 4).to_le_bytes()[..3].to_vec())
        .collect();
    let p = write(
        dir.path(),
        "x20.wav",
        &wav_with_fmt(&fmt_extensible(2, 96_000, 24, 20, 1), &data),
    );
    let (info, spec, got) = decode_all(&p).unwrap();
    assert_eq!(spec, AudioSpec::int(96_000, 2, 20));
    assert_eq!(info.bits_per_sample, Some(20));
    assert_eq!(ints(&got), &pcm[..]);
    // Bits set below the declared depth are refused, not dropped.
    let mut bad = data.clone();
    bad[0] |= 1;
    let p = write(
        dir.path(),
        "x20bad.wav",
        &wav_with_fmt(&fmt_extensible(2, 96_000, 24, 20, 1), &bad),
    );
    let e = decode_all(&p).unwrap_err().to_string();
    assert!(e.contains("bits"), "{e}");
}

#[test]
fn rf64_and_bw64_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let pcm = signal(1234, 2, 48_000, 24);
    let data: Vec<u8> = pcm
        .iter()
        .flat_map(|&s| s.to_le_bytes()[..3].to_vec())
        .collect();
    for magic in [b"RF64", b"BW64"] {
        let fmt = fmt_body(1, 2, 48_000, 24, 3);
        let mut v = magic.to_vec();
        v.extend_from_slice(&u32::MAX.to_le_bytes());
        v.extend_from_slice(b"WAVEds64");
        v.extend_from_slice(&28u32.to_le_bytes());
        let riff_size = (4 + 36 + 8 + fmt.len() + 8 + data.len()) as u64;
        v.extend_from_slice(&riff_size.to_le_bytes());
        v.extend_from_slice(&(data.len() as u64).to_le_bytes());
        v.extend_from_slice(&1234u64.to_le_bytes());
        v.extend_from_slice(&0u32.to_le_bytes());
        v.extend_from_slice(b"fmt ");
        v.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
        v.extend_from_slice(&fmt);
        v.extend_from_slice(b"data");
        v.extend_from_slice(&u32::MAX.to_le_bytes());
        v.extend_from_slice(&data);
        let p = write(dir.path(), "x.wav", &v);
        let (info, spec, got) = decode_all(&p).unwrap();
        assert_eq!(spec, AudioSpec::int(48_000, 2, 24));
        assert_eq!(ints(&got), &pcm[..]);
        assert_eq!(info.container, std::str::from_utf8(magic).unwrap());
        assert_eq!(info.total_frames, Some(1234));
    }
}

#[test]
fn truncated_wav_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = tk::wav_bytes(&signal(1000, 2, 44_100, 16), 2, 44_100, 16);
    let p = write(dir.path(), "t.wav", &bytes[..bytes.len() - 1001]);
    let e = decode_all(&p).unwrap_err().to_string();
    assert!(e.contains("truncated"), "{e}");
}

#[test]
fn mislabelled_file_is_probed_by_content() {
    let dir = tempfile::tempdir().unwrap();
    let pcm = signal(700, 1, 22_050, 16);
    let p = write(
        dir.path(),
        "really-a-wav.mp3",
        &tk::wav_bytes(&pcm, 1, 22_050, 16),
    );
    let (info, _, got) = decode_all(&p).unwrap();
    assert_eq!(info.container, "WAVE");
    assert_eq!(ints(&got), &pcm[..]);
}

#[test]
fn empty_and_random_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "empty.flac", b"");
    let e = decode::open(&p).err().unwrap();
    assert!(
        matches!(e, Error::Corrupt(_)) && e.to_string().contains("empty"),
        "{e}"
    );
    let mut rng = tk::Rng::new(7);
    let junk: Vec<u8> = (0..100_000).map(|_| rng.next_u64() as u8).collect();
    let p = write(dir.path(), "junk.mp3", &junk);
    assert!(decode_all(&p).is_err(), "random bytes must not decode");
}

// ---- AIFF ----

fn ext80(rate: u32) -> [u8; 10] {
    // IEEE 754 extended: exponent 16383 + 31 - leading zeros, mantissa normalised.
    let lz = rate.leading_zeros();
    let exp = 16383 + 31 - lz;
    let mant = u64::from(rate) << (32 + lz);
    let mut b = [0u8; 10];
    b[0..2].copy_from_slice(&(exp as u16).to_be_bytes());
    b[2..10].copy_from_slice(&mant.to_be_bytes());
    b
}

/// An AIFF (`compression` None) or AIFF-C file.
fn aiff(
    channels: u16,
    rate: u32,
    bits: u16,
    frames: u32,
    compression: Option<&[u8; 4]>,
    data: &[u8],
) -> Vec<u8> {
    let mut comm = Vec::new();
    comm.extend_from_slice(&channels.to_be_bytes());
    comm.extend_from_slice(&frames.to_be_bytes());
    comm.extend_from_slice(&bits.to_be_bytes());
    comm.extend_from_slice(&ext80(rate));
    if let Some(c) = compression {
        comm.extend_from_slice(c);
        comm.extend_from_slice(&[0, 0]); // empty Pascal string, padded
    }
    let mut body = if compression.is_some() {
        b"AIFC".to_vec()
    } else {
        b"AIFF".to_vec()
    };
    if compression.is_some() {
        body.extend_from_slice(b"FVER");
        body.extend_from_slice(&4u32.to_be_bytes());
        body.extend_from_slice(&0xA280_5140u32.to_be_bytes());
    }
    body.extend_from_slice(b"COMM");
    body.extend_from_slice(&(comm.len() as u32).to_be_bytes());
    body.extend_from_slice(&comm);
    body.extend_from_slice(b"SSND");
    body.extend_from_slice(&((8 + data.len()) as u32).to_be_bytes());
    body.extend_from_slice(&[0; 8]);
    body.extend_from_slice(data);
    if data.len() % 2 == 1 {
        body.push(0);
    }
    let mut v = b"FORM".to_vec();
    v.extend_from_slice(&(body.len() as u32).to_be_bytes());
    v.extend_from_slice(&body);
    v
}

#[test]
fn aiff_and_aiff_c_variants() {
    let dir = tempfile::tempdir().unwrap();
    let frames = 999u32;
    // 16-bit big-endian AIFF.
    let pcm = signal(frames as usize, 2, 44_100, 16);
    let be: Vec<u8> = pcm.iter().flat_map(|&s| (s as i16).to_be_bytes()).collect();
    let p = write(
        dir.path(),
        "a.aiff",
        &aiff(2, 44_100, 16, frames, None, &be),
    );
    let (info, spec, got) = decode_all(&p).unwrap();
    assert_eq!(
        (info.container.as_str(), spec),
        ("AIFF", AudioSpec::int(44_100, 2, 16))
    );
    assert_eq!(ints(&got), &pcm[..]);
    // AIFF-C 'sowt' (little-endian).
    let le: Vec<u8> = pcm.iter().flat_map(|&s| (s as i16).to_le_bytes()).collect();
    let p = write(
        dir.path(),
        "s.aifc",
        &aiff(2, 44_100, 16, frames, Some(b"sowt"), &le),
    );
    let (info, spec, got) = decode_all(&p).unwrap();
    assert_eq!(
        (info.container.as_str(), spec),
        ("AIFF-C", AudioSpec::int(44_100, 2, 16))
    );
    assert_eq!(ints(&got), &pcm[..]);
    // AIFF-C 'NONE' at 12 bits (left-justified in 2 bytes), mono, 8 kHz.
    let pcm12 = signal(frames as usize, 1, 8000, 12);
    let d12: Vec<u8> = pcm12
        .iter()
        .flat_map(|&s| ((s << 4) as i16).to_be_bytes())
        .collect();
    let p = write(
        dir.path(),
        "n.aifc",
        &aiff(1, 8000, 12, frames, Some(b"NONE"), &d12),
    );
    let (info, spec, got) = decode_all(&p).unwrap();
    assert_eq!(spec, AudioSpec::int(8000, 1, 12));
    assert_eq!(info.bits_per_sample, Some(12));
    assert_eq!(ints(&got), &pcm12[..]);
    // 24-bit AIFF, odd data length (pad byte).
    let pcm24 = signal(3, 1, 96_000, 24);
    let d24: Vec<u8> = pcm24
        .iter()
        .flat_map(|&s| s.to_be_bytes()[1..].to_vec())
        .collect();
    let p = write(dir.path(), "o.aiff", &aiff(1, 96_000, 24, 3, None, &d24));
    let (_, spec, got) = decode_all(&p).unwrap();
    assert_eq!(spec, AudioSpec::int(96_000, 1, 24));
    assert_eq!(ints(&got), &pcm24[..]);
    // AIFF-C 'fl32'.
    let vals = [0.5f32, -0.5, 0.25, 0.0];
    let df: Vec<u8> = vals.iter().flat_map(|v| v.to_be_bytes()).collect();
    let p = write(
        dir.path(),
        "f.aifc",
        &aiff(2, 48_000, 32, 2, Some(b"fl32"), &df),
    );
    let (_, spec, got) = decode_all(&p).unwrap();
    assert_eq!(spec, AudioSpec::float(48_000, 2));
    assert_eq!(floats(&got), &vals[..]);
    // Fewer samples than COMM announces: truncated.
    let p = write(
        dir.path(),
        "t.aiff",
        &aiff(2, 44_100, 16, frames + 10, None, &be),
    );
    assert!(decode_all(&p)
        .unwrap_err()
        .to_string()
        .contains("truncated"));
}

// ---- FLAC ----

#[test]
fn flac_decodes_bit_exactly_at_its_depth() {
    if !tk::have_tool("flac") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (bits, channels, rate) in [(16u8, 2u16, 44_100u32), (24, 1, 96_000), (8, 2, 8000)] {
        let pcm = signal(20_000, channels, rate, bits);
        let wav = write(
            dir.path(),
            "in.wav",
            &tk::wav_bytes(&pcm, channels, rate, bits),
        );
        let out = dir.path().join(format!("x{bits}.flac"));
        run(Command::new("flac")
            .args(["-s", "-f", "-o"])
            .arg(&out)
            .arg(&wav));
        let (info, spec, got) = decode_all(&out).unwrap();
        assert_eq!(spec, AudioSpec::int(rate, channels, bits));
        assert_eq!(ints(&got), &pcm[..], "{bits}-bit FLAC");
        assert_eq!(
            (info.container.as_str(), info.codec.as_str()),
            ("FLAC", "FLAC")
        );
        assert!(info.lossless);
        assert_eq!(info.total_frames, Some(20_000));
        assert!(info.bitrate.is_some());
    }
    // Other depths (12, 20 bits…) are covered by the FLAC testbench.
}

#[test]
fn ogg_flac_decodes_bit_exactly() {
    // FLAC in Ogg goes through symphonia, with our frame-header checks.
    if !tk::have_tool("flac") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pcm = signal(30_000, 2, 44_100, 16);
    let wav = write(dir.path(), "in.wav", &tk::wav_bytes(&pcm, 2, 44_100, 16));
    let out = dir.path().join("x.oga");
    run(Command::new("flac")
        .args(["-s", "-f", "--ogg", "-o"])
        .arg(&out)
        .arg(&wav));
    let (info, spec, got) = decode_all(&out).unwrap();
    assert_eq!(spec, AudioSpec::int(44_100, 2, 16));
    assert_eq!(ints(&got), &pcm[..]);
    assert!(info.lossless);
}

#[test]
fn flac_md5_mismatch_is_an_error() {
    if !tk::have_tool("flac") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pcm = signal(5000, 2, 44_100, 16);
    let wav = write(dir.path(), "in.wav", &tk::wav_bytes(&pcm, 2, 44_100, 16));
    let out = dir.path().join("x.flac");
    run(Command::new("flac")
        .args(["-s", "-f", "-o"])
        .arg(&out)
        .arg(&wav));
    let mut bytes = std::fs::read(&out).unwrap();
    // "fLaC", block header (4), STREAMINFO: MD5 at bytes 18..34 of its body.
    assert_eq!(&bytes[0..4], b"fLaC");
    bytes[8 + 18] ^= 0x55;
    let bad = write(dir.path(), "bad.flac", &bytes);
    let e = decode_all(&bad).unwrap_err().to_string();
    assert_eq!(
        e,
        "decoded audio does not match the MD5 signature in STREAMINFO"
    );
    // An MD5 of zero means "not set": decodes.
    bytes[8 + 18..8 + 34].fill(0);
    let unset = write(dir.path(), "unset.flac", &bytes);
    let (_, _, got) = decode_all(&unset).unwrap();
    assert_eq!(ints(&got), &pcm[..]);
}

// ---- lossy ----

#[test]
fn mp3_is_gapless() {
    if !tk::have_tool("lame") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let frames = 44_100 + 777;
    let pcm = tk::sine(frames, 2, 44_100, 16, 440.0, 0.5);
    let wav = write(dir.path(), "in.wav", &tk::wav_bytes(&pcm, 2, 44_100, 16));
    let out = dir.path().join("x.mp3");
    run(Command::new("lame")
        .args(["--quiet", "-b", "128"])
        .arg(&wav)
        .arg(&out));
    let (info, spec, got) = decode_all(&out).unwrap();
    assert_eq!(spec, AudioSpec::float(44_100, 2));
    assert_eq!(
        (info.container.as_str(), info.codec.as_str(), info.lossless),
        ("MP3", "MP3", false)
    );
    assert_eq!(info.bits_per_sample, None);
    assert_eq!(info.total_frames, Some(frames as u64));
    assert_eq!(
        floats(&got).len(),
        frames * 2,
        "LAME delay and padding removed"
    );
    assert!(rms(floats(&got)) > 0.2, "not silent");
    let br = info.bitrate.unwrap();
    assert!((110_000..150_000).contains(&br), "bitrate {br}");
}

#[test]
fn vorbis_has_exact_length() {
    if !tk::have_tool("oggenc") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let frames = 48_000 + 123;
    let pcm = tk::sine(frames, 2, 48_000, 16, 440.0, 0.5);
    let wav = write(dir.path(), "in.wav", &tk::wav_bytes(&pcm, 2, 48_000, 16));
    let out = dir.path().join("x.ogg");
    run(Command::new("oggenc")
        .args(["-Q", "-o"])
        .arg(&out)
        .arg(&wav));
    let (info, spec, got) = decode_all(&out).unwrap();
    assert_eq!(spec, AudioSpec::float(48_000, 2));
    assert_eq!(
        (info.container.as_str(), info.codec.as_str()),
        ("Ogg", "Vorbis")
    );
    assert_eq!(floats(&got).len(), frames * 2);
    assert!(rms(floats(&got)) > 0.2, "not silent");
}

#[test]
fn opus_honours_pre_skip_and_end_trim() {
    if !tk::have_tool("opusenc") || !tk::have_tool("opusdec") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let frames = 44_100 + 555;
    let pcm = tk::sine(frames, 2, 44_100, 16, 440.0, 0.5);
    let wav = write(dir.path(), "in.wav", &tk::wav_bytes(&pcm, 2, 44_100, 16));
    let out = dir.path().join("x.opus");
    run(Command::new("opusenc")
        .args(["--quiet", "--bitrate", "96"])
        .arg(&wav)
        .arg(&out));
    let (info, spec, got) = decode_all(&out).unwrap();
    assert_eq!(spec, AudioSpec::float(48_000, 2));
    assert_eq!(
        (info.container.as_str(), info.codec.as_str()),
        ("Ogg", "Opus")
    );
    let got_frames = floats(&got).len() / 2;
    // What the reference decoder gives for the same file.
    let ref_wav = dir.path().join("ref.wav");
    run(Command::new("opusdec")
        .args(["--quiet", "--rate", "48000", "--float"])
        .arg(&out)
        .arg(&ref_wav));
    let (_, _, reference) = decode_all(&ref_wav).unwrap();
    let ref_frames = reference.len() / 2;
    assert_eq!(got_frames, ref_frames, "same length as opusdec");
    let expected = (frames as f64 * 48_000.0 / 44_100.0).round() as i64;
    assert!(
        (got_frames as i64 - expected).abs() <= 1,
        "{got_frames} vs {expected}"
    );
    assert_eq!(info.total_frames, Some(got_frames as u64));
    assert!(rms(floats(&got)) > 0.2, "not silent");
    // Close to opusdec's own output, sample by sample (same libopus).
    if let Samples::Float(r) = &reference {
        let diff: f64 = floats(&got)
            .iter()
            .zip(r)
            .map(|(a, b)| f64::from((a - b).abs()))
            .fold(0.0, f64::max);
        assert!(diff < 1e-3, "max difference from opusdec {diff}");
    }
}

#[test]
fn opus_multichannel_mapping_family_1() {
    if !tk::have_tool("opusenc") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let frames = 24_000;
    let pcm = tk::sine(frames, 6, 48_000, 16, 300.0, 0.4);
    let wav = write(dir.path(), "in.wav", &tk::wav_bytes(&pcm, 6, 48_000, 16));
    let out = dir.path().join("x.opus");
    run(Command::new("opusenc")
        .args(["--quiet"])
        .arg(&wav)
        .arg(&out));
    let (info, spec, got) = decode_all(&out).unwrap();
    assert_eq!(spec, AudioSpec::float(48_000, 6));
    assert_eq!(info.channels, 6);
    assert_eq!(floats(&got).len(), frames * 6);
    assert!(rms(floats(&got)) > 0.1);
}

#[test]
fn aac_in_mp4_decodes_to_the_exact_length() {
    if !tk::have_tool("ffmpeg") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Regression: the 1024 priming frames and the last packet's padding
    // stayed in (a 2.000 s file decoded to 90112 frames, `info` said 89224).
    for frames in [88_200usize, 44_100 + 777] {
        // A sweep, so that only one lag lines it up with the source.
        let pcm = tk::sweep(frames, 2, 44_100, 16, 200.0, 4000.0);
        let wav = write(dir.path(), "in.wav", &tk::wav_bytes(&pcm, 2, 44_100, 16));
        let out = dir.path().join(format!("x{frames}.m4a"));
        run(Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-i"])
            .arg(&wav)
            .args(["-c:a", "aac", "-b:a", "128k"])
            .arg(&out));
        let (info, spec, got) = decode_all(&out).unwrap();
        assert_eq!(spec, AudioSpec::float(44_100, 2));
        assert_eq!(
            (info.container.as_str(), info.codec.as_str()),
            ("MP4", "AAC-LC")
        );
        let n = floats(&got).len() / 2;
        assert_eq!(n, frames, "decoded frames");
        assert_eq!(info.total_frames, Some(frames as u64), "declared frames");
        assert!(rms(floats(&got)) > 0.2, "not silent");
        // Aligned with the input: the priming was cut, not something else.
        // The best lag against the source sine is 0.
        let src: Vec<f32> = pcm.iter().map(|&v| v as f32 / 32768.0).collect();
        let dec = floats(&got);
        let corr = |lag: i64| -> f64 {
            (4096..20_000i64)
                .map(|i| f64::from(src[2 * i as usize]) * f64::from(dec[2 * (i + lag) as usize]))
                .sum()
        };
        let best = (-2000..2000i64)
            .max_by(|&a, &b| corr(a).total_cmp(&corr(b)))
            .unwrap();
        assert!(best.abs() <= 1, "output is off the input by {best} frames");
    }
}

#[test]
fn alac_in_mp4_is_bit_exact() {
    if !tk::have_tool("ffmpeg") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for bits in [16u8, 24] {
        let pcm = signal(30_000, 2, 48_000, bits);
        let wav = write(dir.path(), "in.wav", &tk::wav_bytes(&pcm, 2, 48_000, bits));
        let out = dir.path().join(format!("x{bits}.m4a"));
        run(Command::new("ffmpeg")
            .args(["-v", "error", "-y", "-i"])
            .arg(&wav)
            .args(["-c:a", "alac"])
            .arg(&out));
        let (info, spec, got) = decode_all(&out).unwrap();
        assert_eq!(spec, AudioSpec::int(48_000, 2, bits));
        assert_eq!(
            (info.container.as_str(), info.codec.as_str(), info.lossless),
            ("MP4", "ALAC", true)
        );
        assert_eq!(ints(&got), &pcm[..], "{bits}-bit ALAC");
    }
}

#[test]
fn unsupported_codecs_are_named() {
    if !tk::have_tool("ffmpeg") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wav = write(
        dir.path(),
        "in.wav",
        &tk::wav_bytes(&tk::sine(48_000, 2, 48_000, 16, 440.0, 0.5), 2, 48_000, 16),
    );
    let out = dir.path().join("x.mka");
    run(Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(&wav)
        .args(["-c:a", "ac3"])
        .arg(&out));
    let e = decode::open(&out).err().unwrap();
    assert!(matches!(e, Error::Unsupported(_)), "{e:?}");
    assert!(e.to_string().contains("AC-3"), "{e}");
    // A video-only file.
    let vid = dir.path().join("v.mkv");
    run(Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=duration=0.5:size=64x64:rate=10",
        ])
        .args(["-c:v", "mpeg4"])
        .arg(&vid));
    let e = decode::open(&vid).err().unwrap();
    assert!(!e.to_string().is_empty());
    assert!(
        matches!(e, Error::Unsupported(_) | Error::Corrupt(_)),
        "{e:?}"
    );
}

// ---- damaged and unusual inputs (regressions) ----

/// Decodes the whole file; the error message if any read fails.
fn decode_err(path: &Path) -> Option<String> {
    decode_all(path).err().map(|e| e.to_string())
}

#[test]
fn truncated_mp3_with_a_xing_header_is_an_error() {
    if !tk::have_tool("lame") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pcm = tk::sine(88_200, 2, 44_100, 16, 440.0, 0.5);
    let wav = write(dir.path(), "in.wav", &tk::wav_bytes(&pcm, 2, 44_100, 16));
    let out = dir.path().join("id3.mp3");
    run(Command::new("lame")
        .args(["--quiet", "--tt", "Title", "--add-id3v2", "-b", "128"])
        .arg(&wav)
        .arg(&out));
    let good = std::fs::read(&out).unwrap();
    assert!(decode_err(&out).is_none(), "the intact file decodes");
    // Regression: a cut just after the Xing frame decoded to nothing, and
    // half a file to 0.86 s, both without an error.
    for cut in [2982, good.len() / 2, good.len() * 9 / 10] {
        let p = write(dir.path(), &format!("cut{cut}.mp3"), &good[..cut]);
        let msg = decode_err(&p).unwrap_or_else(|| panic!("cut at {cut} decoded without error"));
        assert!(msg.contains("truncated"), "{msg}");
        assert!(msg.contains("2.00 s the header declares"), "{msg}");
    }
}

#[test]
fn truncated_ogg_vorbis_is_an_error() {
    if !tk::have_tool("oggenc") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pcm = tk::sine(48_000, 2, 48_000, 16, 440.0, 0.5);
    let wav = write(dir.path(), "in.wav", &tk::wav_bytes(&pcm, 2, 48_000, 16));
    let out = dir.path().join("x.ogg");
    run(Command::new("oggenc")
        .args(["-Q", "-o"])
        .arg(&out)
        .arg(&wav));
    let good = std::fs::read(&out).unwrap();
    let p = write(dir.path(), "half.ogg", &good[..good.len() / 2]);
    assert!(
        decode_err(&p).is_some(),
        "half a Vorbis file must not decode cleanly"
    );
}

/// Byte offsets of the Ogg pages in `data`.
fn ogg_pages(data: &[u8]) -> Vec<usize> {
    let mut at = 0;
    let mut v = Vec::new();
    while at + 27 <= data.len() && &data[at..at + 4] == b"OggS" {
        v.push(at);
        let n = usize::from(data[at + 26]);
        let body: usize = data[at + 27..at + 27 + n]
            .iter()
            .map(|&l| usize::from(l))
            .sum();
        at += 27 + n + body;
    }
    v
}

#[test]
fn damaged_or_truncated_opus_is_an_error() {
    if !tk::have_tool("opusenc") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pcm = tk::sine(96_000, 2, 48_000, 16, 440.0, 0.5);
    let wav = write(dir.path(), "in.wav", &tk::wav_bytes(&pcm, 2, 48_000, 16));
    let out = dir.path().join("x.opus");
    run(Command::new("opusenc").arg("--quiet").arg(&wav).arg(&out));
    let good = std::fs::read(&out).unwrap();
    assert!(decode_err(&out).is_none());
    // Regression: five flipped bytes converted as "done" with 648 of
    // 96000 frames.
    let mut bad = good.clone();
    let mut rng = tk::Rng::new(5);
    for _ in 0..5 {
        let at = good.len() / 4 + (rng.next_u64() % (good.len() as u64 / 2)) as usize;
        bad[at] ^= 0x21;
    }
    let p = write(dir.path(), "flipped.opus", &bad);
    let msg = decode_err(&p).expect("a damaged Opus file is an error");
    assert!(
        msg.contains("damaged Ogg page at byte") && msg.contains("CRC mismatch"),
        "{msg}"
    );
    // Cut at a page boundary: every page is intact, the end is missing.
    let pages = ogg_pages(&good);
    assert!(pages.len() > 4);
    let cut = pages[pages.len() / 2];
    let p = write(dir.path(), "cut.opus", &good[..cut]);
    let msg = decode_err(&p).expect("a truncated Opus file is an error");
    assert!(msg.contains("truncated"), "{msg}");
}

#[cfg(unix)]
#[test]
fn fifo_directory_and_unreadable_inputs_say_what_is_wrong() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    // Regression: a FIFO failed with "truncated (in the '\xe9e=j' chunk)".
    let fifo = dir.path().join("ff.wav");
    run(Command::new("mkfifo").arg(&fifo));
    let msg = decode::open(&fifo).err().unwrap().to_string();
    assert!(msg.contains("not a regular file"), "{msg}");
    // A folder: not "Is a directory (os error 21)".
    let msg = decode::open(dir.path()).err().unwrap().to_string();
    assert_eq!(msg, "is a folder, not an audio file");
    let missing = decode::open(&dir.path().join("nope.wav")).err().unwrap();
    assert_eq!(missing.to_string(), "cannot open: no such file");
    // Unreadable (meaningless when the tests run as root).
    let locked = write(
        dir.path(),
        "locked.wav",
        &tk::wav_bytes(&[0; 8], 2, 8000, 16),
    );
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::File::open(&locked).is_err() {
        let msg = decode::open(&locked).err().unwrap().to_string();
        assert_eq!(msg, "cannot open: permission denied");
    }
}

#[test]
fn binary_chunk_ids_are_escaped_in_messages() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = tk::wav_bytes(&[0; 8], 2, 8000, 16);
    // Replace the data chunk by a junk chunk whose size runs past the end.
    let data_at = bytes.windows(4).position(|w| w == b"data").unwrap();
    bytes[data_at..data_at + 4].copy_from_slice(&[0xE9, b'e', b'=', 0x01]);
    bytes[data_at + 4..data_at + 8].copy_from_slice(&1_000_000u32.to_le_bytes());
    let p = write(dir.path(), "junk.wav", &bytes);
    let msg = decode::open(&p).err().unwrap().to_string();
    assert!(msg.contains(r"'\xE9e=\x01'"), "{msg}");
    assert!(msg.chars().all(|c| !c.is_control()), "{msg:?}");
}
