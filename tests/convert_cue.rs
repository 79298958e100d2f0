//! `aj convert` on images with cue sheets: split into tracks sample for
//! sample (checked against the generated signal and against `shntool
//! split`), tagged from the sheet, found beside the image, inside a FLAC, or
//! given as a `.cue`; `--gaps`, `--no-split`, and the errors of a sheet that
//! does not fit its image.

#![allow(clippy::unwrap_used)]

mod util;

use std::path::{Path, PathBuf};

use aj_codec::tags::{self, TagKey};
use util::{decode_all, run, s, tree};

const RATE: u32 = 44_100;
const CHANNELS: usize = 2;
/// Sample frames per CD frame at 44.1 kHz.
const PER_CD_FRAME: usize = 588;

/// The layout of the test image, in CD frames: hidden audio before track 1,
/// track 2 and 3 with gaps (INDEX 00 to INDEX 01).
const HTOA: usize = 30;
const T1: usize = HTOA; // INDEX 01 of track 1
const G2: usize = T1 + 100; // INDEX 00 of track 2
const T2: usize = G2 + 20;
const G3: usize = T2 + 120;
const T3: usize = G3 + 15;
const END: usize = T3 + 90;

fn msf(frames: usize) -> String {
    format!(
        "{:02}:{:02}:{:02}",
        frames / 75 / 60,
        frames / 75 % 60,
        frames % 75
    )
}

/// A stereo 16-bit image: each stretch between marks is noise of its own
/// seed (so that a boundary off by one frame shows), the hidden part
/// silent when asked.
fn image_samples(silent_htoa: bool) -> Vec<i32> {
    let marks = [0, T1, G2, T2, G3, T3, END];
    let mut out = Vec::new();
    for (i, w) in marks.windows(2).enumerate() {
        let frames = (w[1] - w[0]) * PER_CD_FRAME;
        if i == 0 && silent_htoa {
            out.extend(std::iter::repeat_n(0, frames * CHANNELS));
        } else {
            out.extend(aj_testkit::noise(frames, 2, 16, 100 + i as u64));
        }
    }
    out
}

/// Samples of CD frames `a..b` of the image.
fn slice(samples: &[i32], a: usize, b: usize) -> Vec<i32> {
    samples[a * PER_CD_FRAME * CHANNELS..b * PER_CD_FRAME * CHANNELS].to_vec()
}

fn sheet(file: &str) -> String {
    format!(
        r#"REM GENRE "Test Genre"
REM DATE 2001
REM COMMENT "made by tests"
REM REPLAYGAIN_ALBUM_GAIN -7.00 dB
CATALOG 1234567890128
PERFORMER "Disc Artist"
TITLE "Disc Title"
SONGWRITER "Disc Writer"
FILE "{file}" WAVE
  TRACK 01 AUDIO
    TITLE "First"
    ISRC USABC0100001
    INDEX 00 00:00:00
    INDEX 01 {t1}
  TRACK 02 AUDIO
    TITLE "Second"
    PERFORMER "Guest"
    SONGWRITER "Song Writer"
    FLAGS PRE
    REM REPLAYGAIN_TRACK_GAIN -6.00 dB
    INDEX 00 {g2}
    INDEX 01 {t2}
  TRACK 03 AUDIO
    TITLE "Third"
    INDEX 00 {g3}
    INDEX 01 {t3}
"#,
        t1 = msf(T1),
        g2 = msf(G2),
        t2 = msf(T2),
        g3 = msf(G3),
        t3 = msf(T3),
    )
}

/// `dir/image.wav` and `dir/image.cue`.
fn make_image(dir: &Path, silent_htoa: bool) -> (PathBuf, PathBuf, Vec<i32>) {
    std::fs::create_dir_all(dir).unwrap();
    let samples = image_samples(silent_htoa);
    let wav = dir.join("image.wav");
    aj_testkit::write_wav(&wav, &samples, 2, RATE, 16);
    let cue = dir.join("image.cue");
    std::fs::write(&cue, sheet("image.wav")).unwrap();
    (wav, cue, samples)
}

fn samples_of(path: &Path) -> Vec<i32> {
    let (spec, v) = decode_all(path);
    assert_eq!((spec.sample_rate, spec.channels), (RATE, 2));
    v
}

fn convert(args: &[&str]) -> util::Run {
    let mut all = vec!["convert"];
    all.extend_from_slice(args);
    all.push("--json");
    run(&all)
}

const NAMES: [&str; 4] = [
    "00 - Hidden Track One Audio",
    "01 - First",
    "02 - Second",
    "03 - Third",
];

#[test]
fn split_to_wav_is_sample_exact_and_matches_shntool() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (wav, cue, samples) = make_image(&d.join("in"), false);
    let out = d.join("out");
    let r = convert(&[s(&cue), "-f", "wav", "-o", s(&out)]);
    assert_eq!(r.status, 0, "{}\n{}", r.stdout, r.stderr);
    let expected = [
        slice(&samples, 0, T1),
        slice(&samples, T1, T2),
        slice(&samples, T2, T3),
        slice(&samples, T3, END),
    ];
    let files: Vec<PathBuf> = NAMES.iter().map(|n| out.join(format!("{n}.wav"))).collect();
    assert_eq!(
        tree(&out),
        NAMES
            .iter()
            .map(|n| PathBuf::from(format!("{n}.wav")))
            .collect::<Vec<_>>()
    );
    for (f, e) in files.iter().zip(&expected) {
        assert!(samples_of(f) == *e, "{} differs", f.display());
    }
    // Events name the track.
    let started = r.named("file_started");
    assert!(
        started
            .iter()
            .any(|e| e["input"].as_str().unwrap().ends_with("image.wav#02")),
        "{started:?}"
    );

    if !aj_testkit::have_tool("shntool") {
        return;
    }
    // shntool puts each gap at the end of the track before (append) and
    // writes the audio before track 1 as track 00.
    let shn = d.join("shn");
    std::fs::create_dir_all(&shn).unwrap();
    let o = std::process::Command::new("shntool")
        .args([
            "split",
            "-q",
            "-f",
            s(&cue),
            "-o",
            "wav",
            "-d",
            s(&shn),
            s(&wav),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for (n, ours) in files.iter().enumerate() {
        let theirs = shn.join(format!("split-track{n:02}.wav"));
        assert!(
            samples_of(ours) == samples_of(&theirs),
            "{} differs from shntool's {}",
            ours.display(),
            theirs.display()
        );
    }
}

#[test]
fn gaps_prepend_and_discard_to_flac() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, cue, samples) = make_image(&d.join("in"), false);
    for (mode, spans) in [
        ("prepend", [(0, T1), (T1, G2), (G2, G3), (G3, END)]),
        ("discard", [(0, T1), (T1, G2), (T2, G3), (T3, END)]),
    ] {
        let out = d.join(mode);
        let r = convert(&[s(&cue), "-f", "flac", "-o", s(&out), "--gaps", mode]);
        assert_eq!(r.status, 0, "{}\n{}", r.stdout, r.stderr);
        for (name, (a, b)) in NAMES.iter().zip(spans) {
            let f = out.join(format!("{name}.flac"));
            assert!(
                samples_of(&f) == slice(&samples, a, b),
                "{mode}: {} differs",
                f.display()
            );
        }
    }
    let r = convert(&[s(&cue), "-f", "flac", "--gaps", "sideways"]);
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(r.stderr.contains("sideways"), "{}", r.stderr);
}

#[test]
fn silent_hidden_track_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, cue, samples) = make_image(&d.join("in"), true);
    let out = d.join("out");
    let r = convert(&[s(&cue), "-f", "flac", "-o", s(&out)]);
    assert_eq!(r.status, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        tree(&out),
        vec![
            PathBuf::from("01 - First.flac"),
            PathBuf::from("02 - Second.flac"),
            PathBuf::from("03 - Third.flac")
        ]
    );
    let skipped = r.named("file_skipped");
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(skipped[0]["reason"]
        .as_str()
        .unwrap()
        .contains("digital silence"));
    assert!(samples_of(&out.join("01 - First.flac")) == slice(&samples, T1, T2));
}

#[test]
fn tracks_are_tagged_from_the_sheet() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, cue, _) = make_image(&d.join("in"), false);
    let out = d.join("out");
    let r = convert(&[
        s(&cue),
        "-f",
        "flac",
        "-o",
        s(&out),
        "--name",
        "{albumartist}/{album}/{track:02}. {artist} - {title}",
    ]);
    assert_eq!(r.status, 0, "{}\n{}", r.stdout, r.stderr);
    let album = out.join("Disc Artist/Disc Title");
    let t = |name: &str| tags::read(&album.join(name)).unwrap();
    let get = |t: &tags::Tags, k: &str| t.get(&TagKey::from_name(k)).map(str::to_string);

    let t1 = t("01. Disc Artist - First.flac");
    assert_eq!(get(&t1, "ALBUM").as_deref(), Some("Disc Title"));
    assert_eq!(get(&t1, "ALBUMARTIST").as_deref(), Some("Disc Artist"));
    assert_eq!(get(&t1, "ARTIST").as_deref(), Some("Disc Artist"));
    assert_eq!(get(&t1, "TITLE").as_deref(), Some("First"));
    assert_eq!(get(&t1, "COMPOSER").as_deref(), Some("Disc Writer"));
    assert_eq!(get(&t1, "GENRE").as_deref(), Some("Test Genre"));
    assert_eq!(get(&t1, "DATE").as_deref(), Some("2001"));
    assert_eq!(get(&t1, "COMMENT").as_deref(), Some("made by tests"));
    assert_eq!(get(&t1, "BARCODE").as_deref(), Some("1234567890128"));
    assert_eq!(get(&t1, "ISRC").as_deref(), Some("USABC0100001"));
    assert_eq!(get(&t1, "TRACKNUMBER").as_deref(), Some("1"));
    assert_eq!(get(&t1, "TRACKTOTAL").as_deref(), Some("3"));
    assert_eq!(get(&t1, "REPLAYGAIN_ALBUM_GAIN"), None);
    assert_eq!(get(&t1, "PRE_EMPHASIS"), None);

    let t2 = t("02. Guest - Second.flac");
    assert_eq!(get(&t2, "ARTIST").as_deref(), Some("Guest"));
    assert_eq!(get(&t2, "ALBUMARTIST").as_deref(), Some("Disc Artist"));
    assert_eq!(get(&t2, "COMPOSER").as_deref(), Some("Song Writer"));
    assert_eq!(get(&t2, "PRE_EMPHASIS").as_deref(), Some("yes"));
    assert_eq!(get(&t2, "ISRC"), None);
    assert_eq!(get(&t2, "REPLAYGAIN_TRACK_GAIN"), None);

    let t0 = t("00. Disc Artist - Hidden Track One Audio.flac");
    assert_eq!(get(&t0, "TRACKNUMBER").as_deref(), Some("0"));
    assert_eq!(get(&t0, "ISRC"), None);
}

#[test]
fn a_folder_walk_splits_an_image_once_and_no_split_converts_it_whole() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let lib = d.join("lib");
    make_image(&lib.join("album"), false);
    // An ordinary file beside it is converted as usual.
    aj_testkit::write_wav(
        &lib.join("single.wav"),
        &aj_testkit::sine(4410, 2, RATE, 16, 440.0, 0.5),
        2,
        RATE,
        16,
    );
    let out = d.join("out");
    let r = convert(&[s(&lib), "-f", "flac", "-o", s(&out)]);
    assert_eq!(r.status, 0, "{}\n{}", r.stdout, r.stderr);
    let mut want: Vec<PathBuf> = NAMES
        .iter()
        .map(|n| PathBuf::from(format!("album/{n}.flac")))
        .collect();
    want.push(PathBuf::from("single.flac"));
    assert_eq!(tree(&out), want);
    assert_eq!(r.summary()["ok"], 5);

    // The image given alone finds the sheet beside it.
    let out2 = d.join("out2");
    let r = convert(&[
        s(&lib.join("album/image.wav")),
        "-f",
        "flac",
        "-o",
        s(&out2),
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(tree(&out2).len(), 4);

    // --no-split: the image whole, once, whether found or named by its
    // sheet; a stale sheet in the folder does not matter then.
    std::fs::write(lib.join("stale.cue"), sheet("gone.wav")).unwrap();
    let whole = d.join("whole");
    let r = convert(&[s(&lib), "-f", "flac", "-o", s(&whole), "--no-split"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(
        tree(&whole),
        vec![
            PathBuf::from("album/image.flac"),
            PathBuf::from("single.flac")
        ]
    );
    let whole2 = d.join("whole2");
    let r = convert(&[
        s(&lib.join("album/image.cue")),
        s(&lib.join("album/image.wav")),
        "-f",
        "flac",
        "-o",
        s(&whole2),
        "--no-split",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(tree(&whole2), vec![PathBuf::from("image.flac")]);
}

#[test]
fn delete_source_keeps_the_image_and_its_sheet() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (wav, cue, _) = make_image(&d.join("in"), false);
    let r = convert(&[
        s(&cue),
        "-f",
        "flac",
        "-o",
        s(&d.join("out")),
        "--delete-source",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(wav.exists() && cue.exists());
    let notes = r.named("warning");
    assert!(
        notes.iter().any(|n| n["message"]
            .as_str()
            .unwrap()
            .contains("never deletes a split image")),
        "{notes:?}"
    );
}

#[test]
fn sheet_names_another_extension_and_other_case() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (wav, cue, samples) = make_image(&d.join("in"), false);
    // The image compressed to FLAC; the sheet still says IMAGE.WAV.
    let r = convert(&[s(&wav), "-f", "flac", "--no-split"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    std::fs::remove_file(&wav).unwrap();
    std::fs::write(&cue, sheet("IMAGE.WAV")).unwrap();
    let out = d.join("out");
    let r = convert(&[s(&cue), "-f", "wav", "-o", s(&out)]);
    assert_eq!(r.status, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(samples_of(&out.join("02 - Second.wav")) == slice(&samples, T2, T3));
}

#[test]
fn a_missing_file_and_a_short_image_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (_, cue, _) = make_image(&d.join("in"), false);
    std::fs::write(&cue, sheet("nothere.wav")).unwrap();
    let out = d.join("out");
    let r = convert(&[s(&cue), "-f", "flac", "-o", s(&out)]);
    assert_eq!(r.status, 1);
    let failed = r.named("file_failed");
    assert_eq!(failed.len(), 1, "{failed:?}");
    let msg = failed[0]["error"].as_str().unwrap();
    assert!(
        msg.contains("image.cue") && msg.contains("nothere.wav"),
        "{msg}"
    );
    assert!(!out.exists() || tree(&out).is_empty());

    // Track 3 starts past the end of the image.
    let text = sheet("image.wav").replace(&format!("INDEX 01 {}", msf(T3)), "INDEX 01 09:00:00");
    std::fs::write(&cue, text).unwrap();
    let r = convert(&[s(&cue), "-f", "flac", "-o", s(&out)]);
    assert_eq!(r.status, 1);
    let failed = r.named("file_failed");
    let msg = failed[0]["error"].as_str().unwrap();
    assert!(
        msg.contains("past the end") && msg.contains("image.wav") && msg.contains("image.cue"),
        "{msg}"
    );
    assert!(!out.exists() || tree(&out).is_empty(), "{:?}", tree(&out));
}

/// EAC's "noncompliant" layout: one file per track, each gap at the end of
/// the file before.
#[test]
fn multi_file_sheets_split_across_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("in");
    std::fs::create_dir_all(&d).unwrap();
    let a = aj_testkit::noise(200 * PER_CD_FRAME, 2, 16, 1);
    let b = aj_testkit::noise(150 * PER_CD_FRAME, 2, 16, 2);
    aj_testkit::write_wav(&d.join("a.wav"), &a, 2, RATE, 16);
    aj_testkit::write_wav(&d.join("b.wav"), &b, 2, RATE, 16);
    let cue = d.join("disc.cue");
    std::fs::write(
        &cue,
        "FILE \"a.wav\" WAVE\n  TRACK 01 AUDIO\n    INDEX 01 00:00:00\n    \
         TRACK 02 AUDIO\n    INDEX 00 00:02:00\nFILE \"b.wav\" WAVE\n    INDEX 01 00:00:00\n",
    )
    .unwrap();
    let gap = 150 * PER_CD_FRAME * 2;
    let out = dir.path().join("append");
    let r = convert(&[s(&cue), "-f", "wav", "-o", s(&out)]);
    assert_eq!(r.status, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(samples_of(&out.join("01 - Track 01.wav")) == a);
    assert!(samples_of(&out.join("02 - Track 02.wav")) == b);
    let out = dir.path().join("prepend");
    let r = convert(&[s(&cue), "-f", "wav", "-o", s(&out), "--gaps", "prepend"]);
    assert_eq!(r.status, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(samples_of(&out.join("01 - Track 01.wav")) == a[..gap]);
    let mut two = a[gap..].to_vec();
    two.extend_from_slice(&b);
    assert!(samples_of(&out.join("02 - Track 02.wav")) == two);
}

#[test]
fn sheets_embedded_in_flac_split_it() {
    if !aj_testkit::have_tool("metaflac") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (wav, cue, samples) = make_image(&d.join("src"), false);
    let img = d.join("img");
    let r = convert(&[s(&wav), "-f", "flac", "-o", s(&img), "--no-split"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let flac = img.join("image.flac");
    let copy = |name: &str| {
        let p = d.join(name).join("image.flac");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::copy(&flac, &p).unwrap();
        p
    };

    // A CUESHEET tag holding the sheet's text: titles and all.
    let tagged = copy("tagged");
    let o = std::process::Command::new("metaflac")
        .arg(format!("--set-tag-from-file=CUESHEET={}", s(&cue)))
        .arg(&tagged)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = d.join("out-tag");
    let r = convert(&[s(&tagged), "-f", "wav", "-o", s(&out)]);
    assert_eq!(r.status, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(samples_of(&out.join("02 - Second.wav")) == slice(&samples, T2, T3));
    let t = tags::read(&out.join("03 - Third.wav")).unwrap();
    assert_eq!(t.get(&TagKey::Other("CUESHEET".into())), None);
    assert_eq!(t.get(&TagKey::Album), Some("Disc Title"));

    // --no-split: converted whole, the sheet kept as a tag.
    let out = d.join("out-whole");
    let r = convert(&[s(&tagged), "-f", "flac", "-o", s(&out), "--no-split"]);
    assert_eq!(r.status, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(tree(&out), vec![PathBuf::from("image.flac")]);
    let whole = tags::read(&out.join("image.flac")).unwrap();
    assert!(whole
        .get(&TagKey::Other("CUESHEET".into()))
        .is_some_and(|c| c.contains("TRACK 03")));

    // A CUESHEET block (no titles): ISRC and flags from the block.
    let block = copy("block");
    let o = std::process::Command::new("metaflac")
        .arg(format!("--import-cuesheet-from={}", s(&cue)))
        .arg(&block)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = d.join("out-block");
    let r = convert(&[s(&block), "-f", "flac", "-o", s(&out)]);
    assert_eq!(r.status, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        tree(&out),
        vec![
            PathBuf::from("00 - Hidden Track One Audio.flac"),
            PathBuf::from("01 - Track 01.flac"),
            PathBuf::from("02 - Track 02.flac"),
            PathBuf::from("03 - Track 03.flac"),
        ]
    );
    assert!(samples_of(&out.join("03 - Track 03.flac")) == slice(&samples, T3, END));
    let t1 = tags::read(&out.join("01 - Track 01.flac")).unwrap();
    assert_eq!(t1.get(&TagKey::Isrc), Some("USABC0100001"));
    let t2 = tags::read(&out.join("02 - Track 02.flac")).unwrap();
    assert_eq!(t2.get(&TagKey::Other("PRE_EMPHASIS".into())), Some("yes"));
}
