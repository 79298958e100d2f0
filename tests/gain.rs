//! `aj gain` and `aj convert --replaygain`, run for real on temporary folders.

#![allow(clippy::unwrap_used)]

mod util;

use std::f64::consts::PI;
use std::path::{Path, PathBuf};

use aj_codec::tags::{self, TagKey, Tags};
use aj_codec::Format;
use util::{decode_all, run, s};

const RATE: u32 = 44_100;

/// A stereo 16-bit WAV of a 1 kHz sine at `level` dBFS on both channels,
/// which measures `level` LUFS (EBU Tech 3341 case 1), and `quiet` seconds
/// of silence after it.
fn tone_wav(dir: &Path, name: &str, level: f64, secs: f64) -> PathBuf {
    let p = dir.join(name);
    let amp = 10f64.powf(level / 20.0) * 32767.0;
    let frames = (secs * f64::from(RATE)) as usize;
    let mut v = Vec::with_capacity(frames * 2);
    for i in 0..frames {
        let x = (amp * (2.0 * PI * 1000.0 * i as f64 / f64::from(RATE)).sin()).round() as i32;
        v.extend([x, x]);
    }
    aj_testkit::write_wav(&p, &v, 2, RATE, 16);
    p
}

fn convert(input: &Path, fmt: &str, out: &Path, extra: &[&str]) {
    let mut args = vec!["convert", s(input), "-f", fmt, "-o", s(out), "--json"];
    args.extend_from_slice(extra);
    let r = run(&args);
    assert_eq!(r.status, 0, "{}", r.stderr);
}

fn gain_db(t: &Tags, key: &TagKey) -> f64 {
    let v = t.get(key).unwrap_or_else(|| panic!("no {key} in {t:?}"));
    assert!(v.ends_with(" dB"), "{v}");
    let num = v.trim_end_matches(" dB");
    assert!(num.starts_with('+') || num.starts_with('-'), "signed: {v}");
    assert_eq!(
        num.split('.').nth(1).map(str::len),
        Some(2),
        "two decimals: {v}"
    );
    num.parse().unwrap()
}

fn peak(t: &Tags, key: &TagKey) -> f64 {
    let v = t.get(key).unwrap_or_else(|| panic!("no {key} in {t:?}"));
    assert_eq!(
        v.split('.').nth(1).map(str::len),
        Some(6),
        "six decimals: {v}"
    );
    v.parse().unwrap()
}

fn r128(t: &Tags, key: &str) -> Option<i32> {
    t.get(&TagKey::Other(key.into()))
        .map(|v| v.parse().unwrap())
}

#[test]
fn track_and_album_tags_in_flac_and_mp3_without_touching_the_audio() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let loud = tone_wav(d, "loud.wav", -12.0, 3.0);
    let quiet = tone_wav(d, "quiet.wav", -25.0, 3.0);
    let out = d.join("out");
    for w in [&loud, &quiet] {
        convert(w, "flac", &out, &[]);
        convert(w, "mp3", &out, &[]);
    }
    let flacs = [out.join("loud.flac"), out.join("quiet.flac")];
    let mp3s = [out.join("loud.mp3"), out.join("quiet.mp3")];
    let before: Vec<_> = flacs.iter().chain(&mp3s).map(|p| decode_all(p)).collect();
    // A tag already there stays.
    let mut t = tags::read(&flacs[0]).unwrap();
    t.push(TagKey::Artist, "Someone");
    tags::write(&flacs[0], Format::Flac, &t).unwrap();

    for set in [&flacs, &mp3s] {
        let r = run(&["gain", "--album", "--json", s(&set[0]), s(&set[1])]);
        assert_eq!(r.status, 0, "{}", r.stderr);
        let lines = r.events();
        assert_eq!(lines.len(), 3, "{}", r.stdout);
        assert_eq!(lines[0]["file"], s(&set[0]));
        assert_eq!(lines[0]["written"], true);
        assert_eq!(lines[2]["album"], true);
        let l0 = lines[0]["loudness_lufs"].as_f64().unwrap();
        let l1 = lines[1]["loudness_lufs"].as_f64().unwrap();
        assert!((l0 + 12.0).abs() < 0.15, "{l0}");
        assert!((l1 + 25.0).abs() < 0.15, "{l1}");
        // −25 is over 10 LU under the album's loudness: gated out of it.
        let la = lines[2]["loudness_lufs"].as_f64().unwrap();
        assert!((la + 12.0).abs() < 0.15, "album {la}");

        let t0 = tags::read(&set[0]).unwrap();
        let t1 = tags::read(&set[1]).unwrap();
        assert!((gain_db(&t0, &TagKey::ReplayGainTrackGain) + 6.0).abs() < 0.15);
        assert!((gain_db(&t1, &TagKey::ReplayGainTrackGain) - 7.0).abs() < 0.15);
        for t in [&t0, &t1] {
            assert!((gain_db(t, &TagKey::ReplayGainAlbumGain) + 6.0).abs() < 0.15);
            assert!((peak(t, &TagKey::ReplayGainAlbumPeak) - 0.251).abs() < 0.01);
            assert_eq!(r128(t, "R128_TRACK_GAIN"), None);
        }
        assert!((peak(&t1, &TagKey::ReplayGainTrackPeak) - 0.0562).abs() < 0.003);
    }
    assert_eq!(
        tags::read(&flacs[0]).unwrap().get(&TagKey::Artist),
        Some("Someone")
    );
    let after: Vec<_> = flacs.iter().chain(&mp3s).map(|p| decode_all(p)).collect();
    assert!(before == after, "decoded audio changed");
    if aj_testkit::have_tool("flac") {
        for f in &flacs {
            let o = std::process::Command::new("flac")
                .args(["-t", "-s"])
                .arg(f)
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "flac -t {}: {}",
                f.display(),
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
    // No temporary copies left behind.
    let names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.ends_with(".aj-tmp")), "{names:?}");
}

#[test]
fn opus_gets_r128_gains_and_loses_replaygain_tags() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let w = tone_wav(d, "t.wav", -13.0, 3.0);
    convert(&w, "opus", d, &[]);
    let opus = d.join("t.opus");
    let mut t = Tags::new();
    t.push(TagKey::Title, "T");
    t.push(TagKey::ReplayGainTrackGain, "+9.99 dB");
    tags::write(&opus, Format::Opus, &t).unwrap();

    let r = run(&["gain", "--album", s(&opus)]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stdout.contains("LUFS"), "{}", r.stdout);
    let t = tags::read(&opus).unwrap();
    assert_eq!(t.get(&TagKey::Title), Some("T"));
    assert_eq!(t.get(&TagKey::ReplayGainTrackGain), None);
    assert_eq!(t.get(&TagKey::ReplayGainAlbumGain), None);
    // −13 LUFS → −10 dB to −23 LUFS → −2560 in Q7.8 (RFC 7845 §5.2.1).
    let q = r128(&t, "R128_TRACK_GAIN").unwrap();
    assert!((q + 2560).abs() <= 40, "{q}");
    assert_eq!(r128(&t, "R128_ALBUM_GAIN"), Some(q));
}

#[test]
fn dry_run_changes_nothing_and_true_peak_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let w = tone_wav(d, "t.wav", -6.0, 2.0);
    let bytes = std::fs::read(&w).unwrap();
    let r = run(&["gain", "--dry-run", "--true-peak", "--json", s(&w)]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(std::fs::read(&w).unwrap(), bytes);
    let e = &r.events()[0];
    assert_eq!(e["written"], false);
    let tp = e["true_peak"].as_f64().unwrap();
    let sp = e["sample_peak"].as_f64().unwrap();
    assert!(tp >= sp && (tp - 0.501).abs() < 0.01, "{tp} {sp}");
    assert_eq!(e["peak"], e["true_peak"]);
    let g = e["gain_db"].as_f64().unwrap();
    assert!((g + 12.0).abs() < 0.15, "{g}");
}

#[test]
fn a_bad_file_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = tone_wav(d, "good.wav", -20.0, 2.0);
    let junk = d.join("junk.flac");
    std::fs::write(&junk, b"this is not audio at all, not even close").unwrap();
    let missing = d.join("missing.wav");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&good, std::fs::Permissions::from_mode(0o640)).unwrap();
    }
    let r = run(&["gain", s(&junk), s(&good), s(&missing)]);
    assert_eq!(r.status, 1);
    assert!(r.stderr.contains("junk.flac"), "{}", r.stderr);
    assert!(r.stderr.contains("missing.wav"), "{}", r.stderr);
    let t = tags::read(&good).unwrap();
    assert!((gain_db(&t, &TagKey::ReplayGainTrackGain) - 2.0).abs() < 0.15);
    // Not an album: no album tags.
    assert_eq!(t.get(&TagKey::ReplayGainAlbumGain), None);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&good).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o640, "permissions kept");
    }
    // The WAV still decodes to the same samples.
    let (spec, v) = decode_all(&good);
    assert_eq!(spec.channels, 2);
    assert_eq!(v.len(), 2 * 2 * RATE as usize);
}

#[test]
fn convert_with_replaygain_writes_track_and_folder_album_gains() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = d.join("src");
    std::fs::create_dir_all(src.join("a")).unwrap();
    std::fs::create_dir_all(src.join("b")).unwrap();
    tone_wav(&src.join("a"), "1.wav", -12.0, 2.0);
    tone_wav(&src.join("a"), "2.wav", -16.0, 2.0);
    tone_wav(&src.join("b"), "3.wav", -30.0, 2.0);
    for (fmt, ext) in [("flac", "flac"), ("opus", "opus")] {
        let out = d.join(fmt);
        let r = run(&[
            "convert",
            s(&src),
            "-f",
            fmt,
            "-o",
            s(&out),
            "--replaygain",
            "-j",
            "2",
            "--json",
        ]);
        assert_eq!(r.status, 0, "{}", r.stderr);
        assert_eq!(r.summary()["ok"], 3);
        let t1 = tags::read(&out.join(format!("a/1.{ext}"))).unwrap();
        let t2 = tags::read(&out.join(format!("a/2.{ext}"))).unwrap();
        let t3 = tags::read(&out.join(format!("b/3.{ext}"))).unwrap();
        // Album of folder a: −12 and −16 LUFS, equal lengths: the mean
        // energy, 10·log10((10^-1.2 + 10^-1.6)/2) ≈ −13.8 LUFS.
        let album_a = 10.0 * ((10f64.powf(-1.2) + 10f64.powf(-1.6)) / 2.0).log10();
        if ext == "flac" {
            assert!((gain_db(&t1, &TagKey::ReplayGainTrackGain) + 6.0).abs() < 0.15);
            assert!((gain_db(&t2, &TagKey::ReplayGainTrackGain) + 2.0).abs() < 0.15);
            for t in [&t1, &t2] {
                let a = gain_db(t, &TagKey::ReplayGainAlbumGain);
                assert!((a - (-18.0 - album_a)).abs() < 0.15, "{a}");
            }
            assert!((gain_db(&t3, &TagKey::ReplayGainAlbumGain) - 12.0).abs() < 0.15);
            assert!((gain_db(&t3, &TagKey::ReplayGainTrackGain) - 12.0).abs() < 0.15);
            assert!((peak(&t3, &TagKey::ReplayGainTrackPeak) - 0.0316).abs() < 0.002);
        } else {
            assert_eq!(t1.get(&TagKey::ReplayGainTrackGain), None);
            let q1 = r128(&t1, "R128_TRACK_GAIN").unwrap();
            assert!((q1 - (-11 * 256)).abs() <= 40, "{q1}");
            let qa = r128(&t2, "R128_ALBUM_GAIN").unwrap();
            let want = ((-23.0 - album_a) * 256.0).round() as i32;
            assert!((qa - want).abs() <= 40, "{qa} vs {want}");
            assert_eq!(r128(&t1, "R128_ALBUM_GAIN"), Some(qa));
            assert_eq!(r128(&t3, "R128_ALBUM_GAIN"), r128(&t3, "R128_TRACK_GAIN"));
        }
    }
    // Without the flag, no gain tags.
    let out = d.join("plain");
    convert(&src.join("a/1.wav"), "flac", &out, &[]);
    let t = tags::read(&out.join("1.flac")).unwrap();
    assert_eq!(t.get(&TagKey::ReplayGainTrackGain), None);
}

#[test]
fn folders_are_searched_and_each_is_an_album() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let lib = d.join("lib");
    std::fs::create_dir_all(lib.join("a")).unwrap();
    std::fs::create_dir_all(lib.join("b")).unwrap();
    tone_wav(&lib.join("a"), "1.wav", -12.0, 2.0);
    tone_wav(&lib.join("a"), "2.wav", -16.0, 2.0);
    tone_wav(&lib.join("b"), "3.wav", -30.0, 2.0);
    std::fs::write(lib.join("a/cover.jpg"), b"not audio").unwrap();
    let r = run(&["gain", "--album", "--json", s(&lib)]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let lines = r.events();
    assert_eq!(lines.len(), 5, "{}", r.stdout);
    let files: Vec<&str> = lines[..3]
        .iter()
        .map(|l| l["file"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        ["a/1.wav", "a/2.wav", "b/3.wav"].map(|f| s(&lib.join(f)).to_string())
    );
    assert_eq!(lines[3]["album"], true);
    assert_eq!(lines[3]["folder"], s(&lib.join("a")));
    assert_eq!(lines[4]["folder"], s(&lib.join("b")));
    // Folder b is an album of one: its gain is its track's.
    let t3 = tags::read(&lib.join("b/3.wav")).unwrap();
    assert!((gain_db(&t3, &TagKey::ReplayGainAlbumGain) - 12.0).abs() < 0.15);
    let t1 = tags::read(&lib.join("a/1.wav")).unwrap();
    let album_a = 10.0 * ((10f64.powf(-1.2) + 10f64.powf(-1.6)) / 2.0).log10();
    let a = gain_db(&t1, &TagKey::ReplayGainAlbumGain);
    assert!((a - (-18.0 - album_a)).abs() < 0.15, "{a}");

    // The table names each folder's album.
    let r = run(&["gain", "--album", "--dry-run", s(&lib)]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains(&format!("(album) {}", lib.join("b").display())),
        "{}",
        r.stdout
    );
}
