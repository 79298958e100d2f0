//! Monkey's Audio through the CLI: `aj info` on an `.ape` file, a plain
//! conversion, and an APE image with its cue sheet split into FLAC tracks
//! sample for sample (also when the sheet names the image by its WAV name,
//! as EAC writes it before the image is compressed). The fixtures and the
//! signals they hold are described in `crates/codec/tests/data/README.md`.

#![allow(clippy::unwrap_used)]

mod util;

use std::path::{Path, PathBuf};

use aj_codec::tags::{self, TagKey};
use util::{decode_all, run, s, tree};

const RATE: u32 = 44_100;
/// Sample frames per CD frame at 44.1 kHz.
const PER_CD_FRAME: usize = 588;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("crates/codec/tests/data")
        .join(name)
}

/// The signal the codec tests' fixtures hold (`crates/codec/tests/ape.rs`):
/// a sine at a quarter of full scale plus noise of `noise_bits` bits.
fn signal(frames: usize, channels: u16, bits: u8, noise_bits: u8, seed: u64) -> Vec<i32> {
    let sine = aj_testkit::sine(frames, channels, RATE, bits, 440.0, 0.25);
    let noise = aj_testkit::noise(frames, channels, bits, seed);
    sine.iter()
        .zip(&noise)
        .map(|(&s, &n)| s + (n >> (bits - noise_bits)))
        .collect()
}

/// `cue-image.ape`: 45 CD frames of 16-bit stereo.
fn image_signal() -> Vec<i32> {
    signal(45 * PER_CD_FRAME, 2, 16, 4, 10)
}

/// Track 2 has a gap (INDEX 00 at 14, INDEX 01 at 16); track 3 starts at 31.
const T2_GAP: usize = 14;
const T2: usize = 16;
const T3: usize = 31;
const END: usize = 45;

fn sheet(file: &str) -> String {
    format!(
        "PERFORMER \"Ape Band\"\r\n\
         TITLE \"Ape Album\"\r\n\
         FILE \"{file}\" WAVE\r\n\
         \x20 TRACK 01 AUDIO\r\n\
         \x20   TITLE \"One\"\r\n\
         \x20   INDEX 01 00:00:00\r\n\
         \x20 TRACK 02 AUDIO\r\n\
         \x20   TITLE \"Two\"\r\n\
         \x20   INDEX 00 00:00:{T2_GAP:02}\r\n\
         \x20   INDEX 01 00:00:{T2:02}\r\n\
         \x20 TRACK 03 AUDIO\r\n\
         \x20   TITLE \"Three\"\r\n\
         \x20   INDEX 01 00:00:{T3:02}\r\n"
    )
}

fn slice(v: &[i32], a: usize, b: usize) -> &[i32] {
    &v[a * PER_CD_FRAME * 2..b * PER_CD_FRAME * 2]
}

#[test]
fn info_shows_monkeys_audio() {
    let r = run(&["info", "--json", s(&fixture("s24-stereo-high.ape"))]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let v = &r.events()[0];
    assert_eq!(v["container"], "APE", "{v}");
    assert_eq!(v["codec"], "Monkey's Audio", "{v}");
    assert_eq!(v["lossless"], true);
    assert_eq!(v["sample_rate"], RATE);
    assert_eq!(v["channels"], 2);
    assert_eq!(v["bits_per_sample"], 24);
    assert_eq!(v["total_frames"], 6615);

    let human = run(&["info", s(&fixture("s24-stereo-high.ape"))]);
    assert_eq!(human.status, 0, "{}", human.stderr);
    assert!(human.stdout.contains("Monkey's Audio"), "{}", human.stdout);
    assert!(
        human.stdout.contains("44100 Hz, 2 channels, 24 bit"),
        "{}",
        human.stdout
    );
}

#[test]
fn ape_converts_to_flac_bit_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let input = fixture("s24-stereo-high.ape");
    let r = run(&["convert", s(&input), "-f", "flac", "-o", s(&out), "--json"]);
    assert_eq!(r.status, 0, "{}\n{}", r.stdout, r.stderr);
    let flac = out.join("s24-stereo-high.flac");
    let (spec, got) = decode_all(&flac);
    assert_eq!((spec.sample_rate, spec.channels), (RATE, 2));
    assert_eq!(spec.format.bits(), 24);
    assert!(got == signal(6615, 2, 24, 8, 2), "the FLAC differs");
}

#[test]
fn ape_image_splits_by_its_cue_sheet() {
    let all = image_signal();
    let (_, image) = decode_all(&fixture("cue-image.ape"));
    assert!(image == all, "the image holds its signal");
    let expected = [
        slice(&all, 0, T2),
        slice(&all, T2, T3),
        slice(&all, T3, END),
    ];
    // The sheet names the image as it is, or by the WAV it was made from.
    for named in ["image.ape", "image.wav"] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::copy(fixture("cue-image.ape"), d.join("image.ape")).unwrap();
        let cue = d.join("image.cue");
        std::fs::write(&cue, sheet(named)).unwrap();
        let out = d.join("out");
        let r = run(&["convert", s(&cue), "-f", "flac", "-o", s(&out), "--json"]);
        assert_eq!(r.status, 0, "{named}: {}\n{}", r.stdout, r.stderr);
        let names = ["01 - One.flac", "02 - Two.flac", "03 - Three.flac"];
        assert_eq!(
            tree(&out),
            names.iter().map(PathBuf::from).collect::<Vec<_>>(),
            "{named}"
        );
        for ((name, want), title) in names.iter().zip(&expected).zip(["One", "Two", "Three"]) {
            let f = out.join(name);
            let (spec, got) = decode_all(&f);
            assert_eq!((spec.sample_rate, spec.channels), (RATE, 2));
            assert!(got == *want, "{named}: {name} differs");
            let t = tags::read(&f).unwrap();
            assert_eq!(t.get(&TagKey::Title), Some(title));
            assert_eq!(t.get(&TagKey::Album), Some("Ape Album"));
            assert_eq!(t.get(&TagKey::Artist), Some("Ape Band"));
        }
    }
}

#[test]
fn damaged_ape_fails_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = std::fs::read(fixture("s16-stereo-normal.ape")).unwrap();
    // A flipped bit in the compressed audio (well past the headers).
    let at = b.len() / 2;
    b[at] ^= 0x20;
    let input = dir.path().join("bad.ape");
    std::fs::write(&input, &b).unwrap();
    let out = dir.path().join("out");
    let r = run(&["convert", s(&input), "-f", "flac", "-o", s(&out), "--json"]);
    assert_eq!(r.status, 1, "{}\n{}", r.stdout, r.stderr);
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(all.contains("bad.ape"), "{all}");
    assert!(all.contains("APE frame 1 of 1"), "{all}");
    assert!(!all.contains("panicked"), "{all}");
    assert!(
        !out.join("bad.flac").exists(),
        "no output from a damaged input"
    );
}
