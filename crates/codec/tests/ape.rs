//! Monkey's Audio (.ape): our decoder against the signals the fixtures in
//! `tests/data/` were encoded from (bit-exact), against ffmpeg's decoder,
//! on damaged copies (errors, never a panic or a hang), with seeking, and
//! APEv2 tags. How each fixture was made is in `tests/data/README.md`.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use aj_codec::decode::{self, Decoder, MediaInfo};
use aj_codec::tags::{self, TagKey};
use aj_codec::Error;
use aj_core::{AudioSpec, Samples};
use aj_testkit as tk;

const RATE: u32 = 44_100;

/// One fixture and the signal it was encoded from.
struct Fixture {
    file: &'static str,
    channels: u16,
    bits: u8,
    frames: usize,
    /// Bits of the noise added to the sine (its amplitude is `2^(n-1)`).
    noise_bits: u8,
    seed: u64,
    /// The compression level in the header (1000 fast … 5000 insane).
    level: u16,
}

const FIXTURES: [Fixture; 6] = [
    Fixture {
        file: "s16-stereo-fast.ape",
        channels: 2,
        bits: 16,
        frames: 13_230,
        noise_bits: 5,
        seed: 1,
        level: 1000,
    },
    Fixture {
        file: "s16-stereo-normal.ape",
        channels: 2,
        bits: 16,
        frames: 13_230,
        noise_bits: 5,
        seed: 1,
        level: 2000,
    },
    Fixture {
        file: "s16-stereo-extrahigh.ape",
        channels: 2,
        bits: 16,
        frames: 13_230,
        noise_bits: 5,
        seed: 1,
        level: 4000,
    },
    Fixture {
        file: "s24-stereo-high.ape",
        channels: 2,
        bits: 24,
        frames: 6_615,
        noise_bits: 8,
        seed: 2,
        level: 3000,
    },
    Fixture {
        file: "s16-mono-insane.ape",
        channels: 1,
        bits: 16,
        frames: 13_230,
        noise_bits: 5,
        seed: 3,
        level: 5000,
    },
    Fixture {
        file: "u8-mono-normal.ape",
        channels: 1,
        bits: 8,
        frames: 8_820,
        noise_bits: 3,
        seed: 4,
        level: 2000,
    },
];

/// The signal a fixture holds: a sine at a quarter of full scale (each
/// channel at its own frequency) plus white noise of `noise_bits` bits.
fn signal(frames: usize, channels: u16, bits: u8, noise_bits: u8, seed: u64) -> Vec<i32> {
    let sine = tk::sine(frames, channels, RATE, bits, 440.0, 0.25);
    let noise = tk::noise(frames, channels, bits, seed);
    sine.iter()
        .zip(&noise)
        .map(|(&s, &n)| s + (n >> (bits - noise_bits)))
        .collect()
}

fn source(f: &Fixture) -> Vec<i32> {
    signal(f.frames, f.channels, f.bits, f.noise_bits, f.seed)
}

/// The image of `cue-image.ape`: 45 CD frames (0.6 s) of 16-bit stereo.
fn image_signal() -> Vec<i32> {
    signal(45 * 588, 2, 16, 4, 10)
}

/// Blocks (frames of samples) per APE frame at the "normal" level of the
/// encoder that made the fixtures (the header says so; checked below).
const BLOCKS_PER_FRAME: usize = 73_728;

/// The signal of `s16-stereo-frames.ape`: two APE frames, the first
/// digital silence (the encoder codes it as a silent frame, in a few
/// bytes), the second 4000 sample frames of signal.
fn frames_signal() -> Vec<i32> {
    let mut v = signal(BLOCKS_PER_FRAME + 4000, 2, 16, 4, 5);
    v[..BLOCKS_PER_FRAME * 2].fill(0);
    v
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Writes the WAV files the fixtures were encoded from into the folder
/// named by `AJ_APE_SOURCES` (see `tests/data/README.md`).
#[test]
#[ignore = "writes the fixtures' source WAVs; run by hand"]
fn write_fixture_sources() {
    let dir = PathBuf::from(std::env::var("AJ_APE_SOURCES").expect("set AJ_APE_SOURCES"));
    std::fs::create_dir_all(&dir).unwrap();
    for f in &FIXTURES {
        let wav = dir.join(f.file.replace(".ape", ".wav"));
        tk::write_wav(&wav, &source(f), f.channels, RATE, f.bits);
    }
    tk::write_wav(&dir.join("cue-image.wav"), &image_signal(), 2, RATE, 16);
    tk::write_wav(
        &dir.join("s16-stereo-frames.wav"),
        &frames_signal(),
        2,
        RATE,
        16,
    );
}

fn ints(s: &Samples) -> &[i32] {
    match s {
        Samples::Int(v) => v,
        Samples::Float(_) => panic!("Monkey's Audio decodes to integers"),
    }
}

/// Reads a decoder to its end in odd-sized blocks.
fn read_all(d: &mut dyn Decoder) -> Result<Vec<i32>, aj_core::Error> {
    let spec = d.spec();
    let mut all = Vec::new();
    let mut sizes = [1000usize, 1, 4096, 333, 70_000].iter().cycle();
    while let Some(b) = d.read(*sizes.next().unwrap())? {
        assert_eq!(b.spec, spec);
        all.extend_from_slice(ints(&b.samples));
    }
    assert!(d.read(100)?.is_none(), "end of stream repeats");
    Ok(all)
}

fn decode_all(path: &Path) -> Result<(MediaInfo, AudioSpec, Vec<i32>), aj_core::Error> {
    let mut d = decode::open(path).map_err(aj_core::Error::from)?;
    let info = d.info().clone();
    let spec = d.spec();
    Ok((info, spec, read_all(&mut *d)?))
}

/// A copy of a fixture in a temporary folder, changed by `edit`.
fn damaged(dir: &Path, name: &str, edit: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
    let mut v = std::fs::read(data(name)).unwrap();
    edit(&mut v);
    let p = dir.join(name);
    std::fs::write(&p, &v).unwrap();
    p
}

fn le32(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize
}

/// Byte ranges of a 3.98+ file: (stored WAV header, frame data), from its
/// descriptor (Monkey's Audio SDK `APE_DESCRIPTOR`: descriptor, header,
/// seek table, WAV header and frame data sizes at bytes 8, 12, 16, 20, 24).
fn layout(b: &[u8]) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
    let wav = le32(b, 8) + le32(b, 12) + le32(b, 16);
    let frames = wav + le32(b, 20);
    (wav..frames, frames..frames + le32(b, 24))
}

#[test]
fn fixtures_decode_to_their_source_bit_exactly() {
    for f in &FIXTURES {
        let (info, spec, got) = decode_all(&data(f.file)).unwrap();
        assert_eq!(spec, AudioSpec::int(RATE, f.channels, f.bits), "{}", f.file);
        assert_eq!(info.container, "APE");
        assert_eq!(info.codec, "Monkey's Audio");
        assert!(info.lossless);
        assert_eq!(info.bits_per_sample, Some(f.bits));
        assert_eq!(info.channels, f.channels);
        assert_eq!(info.sample_rate, RATE);
        assert_eq!(info.total_frames, Some(f.frames as u64), "{}", f.file);
        assert!(info.bitrate.is_some_and(|b| b > 0));
        let want = source(f);
        assert_eq!(got.len(), want.len(), "{}", f.file);
        assert!(got == want, "{} differs from its source", f.file);
        // The header says which level made it.
        let b = std::fs::read(data(f.file)).unwrap();
        let header = le32(&b, 8);
        assert_eq!(
            u16::from_le_bytes([b[header], b[header + 1]]),
            f.level,
            "{}",
            f.file
        );
    }
    let (_, _, got) = decode_all(&data("cue-image.ape")).unwrap();
    assert!(got == image_signal());
    let (info, _, got) = decode_all(&data("s16-stereo-frames.ape")).unwrap();
    assert_eq!(info.total_frames, Some((BLOCKS_PER_FRAME + 4000) as u64));
    assert!(got == frames_signal());
}

/// ffmpeg's own APE decoder gives the same samples as ours.
#[test]
fn ffmpeg_decodes_the_same_samples() {
    if !tk::have_tool("ffmpeg") {
        return;
    }
    let names = FIXTURES
        .iter()
        .map(|f| f.file)
        .chain(["cue-image.ape", "s16-stereo-frames.ape"]);
    for name in names {
        let (_, spec, ours) = decode_all(&data(name)).unwrap();
        let bits = spec.format.bits();
        let fmt = match bits {
            8 => "u8",
            16 => "s16le",
            24 => "s24le",
            _ => "s32le",
        };
        let out = Command::new("ffmpeg")
            .args(["-v", "error", "-i"])
            .arg(data(name))
            .args(["-f", fmt, "-"])
            .output()
            .unwrap();
        assert!(out.status.success(), "ffmpeg failed on {name}");
        let width = usize::from(bits / 8);
        let theirs: Vec<i32> = out
            .stdout
            .chunks_exact(width)
            .map(|c| match width {
                1 => i32::from(c[0]) - 128,
                2 => i32::from(i16::from_le_bytes([c[0], c[1]])),
                3 => i32::from_le_bytes([0, c[0], c[1], c[2]]) >> 8,
                _ => i32::from_le_bytes([c[0], c[1], c[2], c[3]]),
            })
            .collect();
        assert_eq!(theirs.len(), ours.len(), "{name}: length");
        assert!(theirs == ours, "{name}: ffmpeg decodes other samples");
    }
}

/// `open_at` lands on the exact sample frame, inside the first APE frame,
/// on the boundary and inside the second, and at the end.
#[test]
fn open_at_starts_on_the_exact_frame() {
    let path = data("s16-stereo-frames.ape");
    let all = frames_signal();
    let total = all.len() / 2;
    let b = BLOCKS_PER_FRAME;
    for start in [1, 4321, b - 1, b, b + 1, b + 2500, total - 1, total] {
        let mut d = decode::open_at(&path, start as u64).unwrap();
        assert_eq!(d.total_frames().map(|f| f.0), Some(total as u64));
        let got = read_all(&mut *d).unwrap();
        assert!(got == all[start * 2..], "open_at({start}) starts elsewhere");
    }
    let err = decode::open_at(&path, total as u64 + 1).err().unwrap();
    assert!(
        err.to_string().contains("cannot start at frame"),
        "past the end: {err}"
    );
}

/// The MD5 in the descriptor is checked at the end: a changed byte in the
/// stored WAV header leaves the samples intact but fails the check.
#[test]
fn md5_mismatch_is_reported_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let p = damaged(dir.path(), "s16-stereo-normal.ape", |b| {
        let (wav, _) = layout(b);
        // The stored header's "WAVE" → "WAVF".
        assert_eq!(&b[wav.start + 8..wav.start + 12], b"WAVE");
        b[wav.start + 11] ^= 0x03;
    });
    let mut d = decode::open(&p).unwrap();
    let mut got = Vec::new();
    let err = loop {
        match d.read(4096) {
            Ok(Some(b)) => got.extend_from_slice(ints(&b.samples)),
            Ok(None) => panic!("a file failing its MD5 decoded without an error"),
            Err(e) => break e,
        }
    };
    assert!(err.to_string().contains("MD5"), "{err}");
    let want = source(&FIXTURES[1]);
    assert!(got.len() > want.len() / 2);
    assert!(
        got == want[..got.len()],
        "the samples themselves are intact"
    );
}

/// Every truncation is an error (at open or while reading); flipped bits
/// give an error or samples, never a panic or a hang, and any flipped bit
/// in the compressed audio is found (by a frame CRC or the MD5).
#[test]
fn damaged_files_give_errors_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "s16-stereo-fast.ape",
        "s24-stereo-high.ape",
        "u8-mono-normal.ape",
        "s16-stereo-frames.ape",
    ] {
        let len = std::fs::metadata(data(name)).unwrap().len() as usize;
        let mut cuts: Vec<usize> = (0..120).chain((120..len).step_by(len / 40)).collect();
        cuts.push(len - 1);
        for cut in cuts {
            let p = damaged(dir.path(), name, |b| b.truncate(cut));
            match decode_all(&p) {
                Ok(_) => panic!("{name} cut at {cut} of {len} bytes decoded without an error"),
                Err(e) => assert!(!e.to_string().is_empty()),
            }
        }
        let orig = std::fs::read(data(name)).unwrap();
        let (_, frames) = layout(&orig);
        let mut rng = tk::Rng::new(7);
        for i in 0..150 {
            // The first 100 anywhere in the file, the rest in the audio.
            let at = if i < 100 {
                (rng.next_u64() % len as u64) as usize
            } else {
                frames.start + (rng.next_u64() % frames.len() as u64) as usize
            };
            let bit = 1u8 << (rng.next_u64() % 8);
            let p = damaged(dir.path(), name, |b| b[at] ^= bit);
            let r = decode_all(&p);
            if frames.contains(&at) {
                assert!(r.is_err(), "{name}: bit flipped at byte {at} not found");
            }
        }
    }
}

#[test]
fn damage_is_worded_for_a_person() {
    let dir = tempfile::tempdir().unwrap();
    // Cut in the middle of the audio: the header announces more.
    let p = damaged(dir.path(), "s16-stereo-normal.ape", |b| {
        let (_, frames) = layout(b);
        b.truncate(frames.start + frames.len() / 2);
    });
    let err = decode::open(&p).err().unwrap();
    assert!(matches!(err, Error::Corrupt(_)), "{err:?}");
    assert!(err.to_string().contains("truncated"), "{err}");
    // A flipped bit in the audio: the frame's CRC.
    let p = damaged(dir.path(), "s16-stereo-normal.ape", |b| {
        let (_, frames) = layout(b);
        b[frames.start + 1000] ^= 0x10;
    });
    let err = decode_all(&p).err().unwrap().to_string();
    assert!(err.contains("APE frame 1 of 1"), "{err}");
    // An unknown old version.
    let p = damaged(dir.path(), "u8-mono-normal.ape", |b| {
        b[4..6].copy_from_slice(&3930u16.to_le_bytes());
    });
    match decode::open(&p) {
        Err(Error::Unsupported(m)) => assert!(m.contains("3.93"), "{m}"),
        Err(e) => panic!("{e:?}"),
        Ok(_) => panic!("a 3.93 file opened"),
    }
}

/// An ID3v2 tag in front of the file (some taggers write one): found by
/// content, decoded, and its MD5 still checks.
#[test]
fn id3v2_in_front_is_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let p = damaged(dir.path(), "s16-stereo-fast.ape", |b| {
        // ID3v2.3 header with a 20-byte body: one TIT2 frame, then padding.
        let mut id3 = b"ID3\x03\x00\x00\x00\x00\x00\x14".to_vec();
        id3.extend_from_slice(b"TIT2\x00\x00\x00\x04\x00\x00\x00Tit");
        id3.resize(30, 0);
        b.splice(0..0, id3);
    });
    let (info, _, got) = decode_all(&p).unwrap();
    assert_eq!(info.container, "APE");
    assert!(got == source(&FIXTURES[0]));
}

/// APEv2 tags at the end of the file (what Monkey's Audio and foobar2000
/// write) are read, and do not disturb decoding.
#[test]
fn apev2_tags_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let p = damaged(dir.path(), "s16-stereo-normal.ape", |_| {});
    let mut tag = ape_decoder::ApeTag::new();
    tag.set("Title", "Tëst Title");
    tag.set("Artist", "Somebody");
    tag.set("Album", "The Album");
    tag.set("Track", "3/12");
    tag.set("Year", "1999");
    tag.set("Genre", "Ambient");
    let mut art = b"cover.png\0".to_vec();
    art.extend_from_slice(b"\x89PNG\r\n\x1a\n fake picture bytes");
    tag.set_binary("Cover Art (Front)", art);
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&p)
        .unwrap();
    ape_decoder::write_tag(&mut f, &tag).unwrap();
    drop(f);

    let t = tags::read(&p).unwrap();
    assert_eq!(t.get(&TagKey::Title), Some("Tëst Title"));
    assert_eq!(t.get(&TagKey::Artist), Some("Somebody"));
    assert_eq!(t.get(&TagKey::Album), Some("The Album"));
    assert_eq!(t.get(&TagKey::TrackNumber), Some("3"));
    assert_eq!(t.get(&TagKey::TrackTotal), Some("12"));
    assert_eq!(t.get(&TagKey::Date), Some("1999"));
    assert_eq!(t.get(&TagKey::Genre), Some("Ambient"));
    assert_eq!(t.pictures.len(), 1, "{:?}", t.pictures);
    let pic = &t.pictures[0];
    assert_eq!(pic.kind, tags::PictureKind::FrontCover);
    assert_eq!(pic.mime, "image/png");
    assert!(pic.data.starts_with(b"\x89PNG"));

    let (_, _, got) = decode_all(&p).unwrap();
    assert!(
        got == source(&FIXTURES[1]),
        "a tagged file decodes the same"
    );
}

/// A longer run of random damage (bytes anywhere, header fields set to
/// extreme values, truncations), each case decoded under a time limit:
/// `AJ_APE_FUZZ=20000 cargo test -p aj-codec --test ape -- --ignored fuzz`.
#[test]
#[ignore = "a long fuzzing run; run by hand"]
fn fuzz_damaged_files() {
    let n: usize = std::env::var("AJ_APE_FUZZ")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<&str> = FIXTURES
        .iter()
        .map(|f| f.file)
        .chain(["s16-stereo-frames.ape"])
        .collect();
    let extremes = [0u32, 1, 2, 0x7FFF_FFFF, 0x8000_0000, u32::MAX, 73_728, 3990];
    let mut rng = tk::Rng::new(99);
    for i in 0..n {
        let name = names[i % names.len()];
        let mut b = std::fs::read(data(name)).unwrap();
        for _ in 0..1 + rng.next_u64() % 4 {
            let len = b.len();
            match rng.next_u64() % 4 {
                0 => {
                    let at = (rng.next_u64() % 120) as usize & !1;
                    if at + 4 > len {
                        continue;
                    }
                    let v = extremes[(rng.next_u64() % extremes.len() as u64) as usize];
                    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
                }
                1 => {
                    let at = (rng.next_u64() % 120) as usize % len;
                    b[at] = rng.next_u64() as u8;
                }
                2 => {
                    let at = (rng.next_u64() % len as u64) as usize;
                    b[at] ^= 1 << (rng.next_u64() % 8);
                }
                _ => {
                    let cut = (rng.next_u64() % len as u64) as usize;
                    b.truncate(cut.max(8));
                }
            }
        }
        // Keep the magic, so that every case reaches the APE decoder.
        b[..4].copy_from_slice(b"MAC ");
        let p = dir.path().join(format!("f{}.ape", i % 8));
        std::fs::write(&p, &b).unwrap();
        let t = std::time::Instant::now();
        let _ = decode_all(&p);
        let _ = decode::open_at(&p, 5000).map(|mut d| read_all(&mut *d));
        assert!(
            t.elapsed() < std::time::Duration::from_secs(10),
            "case {i} ({name}) took {:?}",
            t.elapsed()
        );
    }
}
