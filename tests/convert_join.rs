//! `aj convert --join`: tracks joined into one image with its cue sheet.

#![allow(clippy::unwrap_used)]

mod util;

use std::path::{Path, PathBuf};
use std::process::Command;

use aj_cd::cue::CueSheet;
use aj_codec::tags::cuesheet::{self, CueSheetBlock};
use aj_codec::tags::{self, TagKey, Tags};
use aj_codec::Format;
use util::{decode_all, run, s};

/// Samples per CD frame at 44.1 kHz (75 frames per second).
const CD_FRAME: usize = 588;

/// Three stereo 16-bit 44.1 kHz tracks of whole CD frames, distinct
/// signals, tagged; named so that the name order (a, b, c) is not the
/// track order (b=1, c=2, a=3). Returns the folder and the samples in
/// track order.
fn album(dir: &Path) -> (PathBuf, Vec<Vec<i32>>) {
    let d = dir.join("album");
    std::fs::create_dir_all(&d).unwrap();
    let one = aj_testkit::sine(CD_FRAME * 40, 2, 44100, 16, 440.0, 0.5);
    let two = aj_testkit::noise(CD_FRAME * 27, 2, 16, 7);
    let three = aj_testkit::sweep(CD_FRAME * 33, 2, 44100, 16, 100.0, 5000.0);
    for (file, samples, n, title, artist) in [
        ("b.wav", &one, "1", "First \"One\"", "The Band"),
        ("c.wav", &two, "2", "Second", "Guest Star"),
        ("a.wav", &three, "3", "Third", "The Band"),
    ] {
        tagged_wav(
            &d.join(file),
            samples,
            44100,
            &[
                ("ALBUM", "Joined Up"),
                ("ALBUMARTIST", "The Band"),
                ("ARTIST", artist),
                ("TITLE", title),
                ("TRACKNUMBER", n),
                ("DATE", "2001"),
                ("GENRE", "Rock"),
                ("COMPOSER", "Writer"),
                ("BARCODE", "4006381333931"),
            ],
        );
    }
    (d, vec![one, two, three])
}

/// The CUESHEET metadata block of a FLAC file, if it has one.
fn cuesheet_block(path: &Path) -> Option<CueSheetBlock> {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..4], b"fLaC");
    let mut at = 4;
    loop {
        let h = &bytes[at..at + 4];
        let len = u32::from_be_bytes([0, h[1], h[2], h[3]]) as usize;
        if h[0] & 0x7F == cuesheet::BLOCK_TYPE {
            return Some(CueSheetBlock::parse(&bytes[at + 4..at + 4 + len]).unwrap());
        }
        if h[0] & 0x80 != 0 {
            return None;
        }
        at += 4 + len;
    }
}

fn tagged_wav(path: &Path, samples: &[i32], rate: u32, pairs: &[(&str, &str)]) {
    aj_testkit::write_wav(path, samples, 2, rate, 16);
    let mut t = Tags::new();
    for (k, v) in pairs {
        t.push(TagKey::from_name(k), *v);
    }
    tags::write(path, Format::Wav, &t).unwrap();
}

fn concat(parts: &[Vec<i32>]) -> Vec<i32> {
    parts.iter().flatten().copied().collect()
}

/// The files in `dir`, by name.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn join_to_flac_and_wav_holds_the_tracks_and_a_cue_sheet() {
    let dir = tempfile::tempdir().unwrap();
    let (album, parts) = album(dir.path());
    let lengths: Vec<usize> = parts.iter().map(|p| p.len() / 2).collect();
    for (format, ext) in [("flac", "flac"), ("wav", "wav")] {
        let out = dir.path().join(format!("out-{format}"));
        let r = run(&[
            "convert",
            "--join",
            s(&album),
            "-f",
            format,
            "-o",
            s(&out),
            "--json",
        ]);
        assert_eq!(r.status, 0, "{}\n{}", r.stdout, r.stderr);
        let image = out.join(format!("The Band - Joined Up.{ext}"));
        let cue_path = out.join("The Band - Joined Up.cue");
        assert_eq!(
            names(&out),
            vec![
                "The Band - Joined Up.cue".to_string(),
                format!("The Band - Joined Up.{ext}")
            ]
        );
        // The order, said before the work and track by track.
        let notes: Vec<String> = r
            .named("warning")
            .iter()
            .map(|w| w["message"].as_str().unwrap().to_string())
            .collect();
        assert!(
            notes
                .iter()
                .any(|n| n.contains("disc and track number order")
                    && n.find("b.wav") < n.find("c.wav")
                    && n.find("c.wav") < n.find("a.wav")),
            "{notes:?}"
        );
        // Whole CD frames: every start is exact.
        assert!(
            !notes.iter().any(|n| n.contains("between two CD frames")),
            "{notes:?}"
        );
        let started: Vec<String> = r
            .named("track_started")
            .iter()
            .map(|e| e["file"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(started.len(), 3);
        assert!(started[0].ends_with("b.wav") && started[2].ends_with("a.wav"));
        let done = r.named("file_done");
        assert_eq!(done.len(), 1);
        assert_eq!(done[0]["verified"], true);
        assert_eq!(done[0]["frames"], lengths.iter().sum::<usize>() as u64);
        assert_eq!(r.summary()["ok"], 1);

        // Sample for sample, the tracks back to back.
        let (spec, samples) = decode_all(&image);
        assert_eq!((spec.sample_rate, spec.channels), (44100, 2));
        assert_eq!(samples, concat(&parts), "{format}");

        // The sheet: one FILE, an INDEX 01 at each track's start, tags.
        let text = std::fs::read_to_string(&cue_path).unwrap();
        let sheet = CueSheet::parse(&text).unwrap();
        assert_eq!(sheet.files.len(), 1);
        assert_eq!(sheet.files[0].name, format!("The Band - Joined Up.{ext}"));
        assert_eq!(sheet.text.title.as_deref(), Some("Joined Up"));
        assert_eq!(sheet.text.performer.as_deref(), Some("The Band"));
        assert_eq!(sheet.catalog.as_deref(), Some("4006381333931"));
        assert_eq!(sheet.rem("GENRE"), Some("Rock"));
        assert_eq!(sheet.rem("DATE"), Some("2001"));
        let titles: Vec<_> = sheet
            .tracks
            .iter()
            .map(|t| t.text.title.clone().unwrap())
            .collect();
        assert_eq!(titles, ["First \"One\"", "Second", "Third"]);
        assert_eq!(
            sheet.tracks[1].text.performer.as_deref(),
            Some("Guest Star")
        );
        assert_eq!(sheet.tracks[0].text.songwriter.as_deref(), Some("Writer"));
        let starts: Vec<u32> = sheet
            .tracks
            .iter()
            .map(|t| t.index(1).unwrap().position)
            .collect();
        let f1 = (lengths[0] / CD_FRAME) as u32;
        let f2 = f1 + (lengths[1] / CD_FRAME) as u32;
        assert_eq!(starts, vec![0, f1, f2]);

        // The image's tags: album level; in FLAC the sheet too.
        let t = tags::read(&image).unwrap();
        assert_eq!(t.get(&TagKey::Album), Some("Joined Up"));
        assert_eq!(t.get(&TagKey::Artist), Some("The Band"));
        assert_eq!(t.get(&TagKey::Title), None);
        assert_eq!(t.get(&TagKey::TrackNumber), None);
        let embedded = t.get(&TagKey::Other("CUESHEET".into()));
        if format == "flac" {
            assert_eq!(CueSheet::parse(embedded.unwrap()).unwrap(), sheet);
            // And a CD-DA CUESHEET block, as flac --cuesheet writes it.
            let block = cuesheet_block(&image).unwrap();
            assert!(block.is_cd);
            assert_eq!(block.lead_in, 88_200);
            assert_eq!(block.mcn, "4006381333931");
            let total = lengths.iter().sum::<usize>() as u64;
            let offsets: Vec<(u8, u64)> =
                block.tracks.iter().map(|t| (t.number, t.offset)).collect();
            let sample = |f: u32| u64::from(f) * CD_FRAME as u64;
            assert_eq!(
                offsets,
                [(1, 0), (2, sample(f1)), (3, sample(f2)), (170, total)]
            );
            // metaflac reads the block back as the same sheet.
            if aj_testkit::have_tool("metaflac") {
                let o = Command::new("metaflac")
                    .arg("--export-cuesheet-to=-")
                    .arg(&image)
                    .output()
                    .unwrap();
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
                let exported = CueSheet::parse(&String::from_utf8_lossy(&o.stdout)).unwrap();
                let positions: Vec<u32> = exported
                    .tracks
                    .iter()
                    .map(|t| t.index(1).unwrap().position)
                    .collect();
                assert_eq!(positions, starts);
                assert_eq!(exported.catalog, sheet.catalog);
            }
            if aj_testkit::have_tool("flac") {
                let o = Command::new("flac")
                    .arg("-t")
                    .arg("-s")
                    .arg(&image)
                    .output()
                    .unwrap();
                assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            }
        } else {
            assert_eq!(embedded, None);
        }

        // cuebreakpoints (libcue) reads the same breakpoints.
        if aj_testkit::have_tool("cuebreakpoints") {
            let o = Command::new("cuebreakpoints")
                .arg(&cue_path)
                .output()
                .unwrap();
            assert!(o.status.success());
            let msf = |f: u32| format!("{}:{:02}.{:02}", f / 4500, (f / 75) % 60, f % 75);
            assert_eq!(
                String::from_utf8_lossy(&o.stdout),
                format!("{}\n{}\n", msf(f1), msf(f2))
            );
        }
    }
    // The inputs are left alone.
    assert_eq!(names(&album), ["a.wav", "b.wav", "c.wav"]);
}

#[test]
fn shntool_splits_the_image_back_into_the_tracks() {
    if !aj_testkit::have_tool("shntool") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (album, parts) = album(dir.path());
    let out = dir.path().join("out");
    let r = run(&[
        "convert",
        "--join",
        s(&album),
        "-f",
        "wav",
        "-o",
        s(&out),
        "--json",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let split = dir.path().join("split");
    std::fs::create_dir_all(&split).unwrap();
    let o = Command::new("shntool")
        .args(["split", "-q", "-O", "never", "-d"])
        .arg(&split)
        .arg("-f")
        .arg(out.join("The Band - Joined Up.cue"))
        .args(["-o", "wav"])
        .arg(out.join("The Band - Joined Up.wav"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        names(&split),
        [
            "split-track01.wav",
            "split-track02.wav",
            "split-track03.wav"
        ]
    );
    for (i, part) in parts.iter().enumerate() {
        let (_, got) = decode_all(&split.join(format!("split-track{:02}.wav", i + 1)));
        assert!(got == *part, "track {} differs after join and split", i + 1);
    }
}

#[test]
fn tracks_of_different_rates_are_refused_unless_resampled() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("in");
    std::fs::create_dir_all(&d).unwrap();
    let a = aj_testkit::sine(4410, 2, 44100, 16, 440.0, 0.5);
    tagged_wav(&d.join("01.wav"), &a, 44100, &[]);
    tagged_wav(&d.join("02.wav"), &a, 48000, &[]);
    let out = dir.path().join("out");
    let r = run(&["convert", "--join", s(&d), "-f", "flac", "-o", s(&out)]);
    assert_eq!(r.status, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("02.wav") && r.stderr.contains("48000 Hz") && r.stderr.contains("--rate"),
        "{}",
        r.stderr
    );
    assert!(!out.exists() || names(&out).is_empty(), "{:?}", names(&out));

    // --rate makes them one rate: joined, and named after the folder.
    let r = run(&[
        "convert",
        "--join",
        s(&d),
        "-f",
        "flac",
        "-o",
        s(&out),
        "--rate",
        "44100",
        "--json",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(names(&out), ["in.cue", "in.flac"]);
    let (spec, _) = decode_all(&out.join("in.flac"));
    assert_eq!(spec.sample_rate, 44100);
}

#[test]
fn a_track_between_cd_frames_is_rounded_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("in");
    std::fs::create_dir_all(&d).unwrap();
    // 10 frames and 400 samples: track 2 starts nearer frame 11 than 10.
    let a = aj_testkit::noise(CD_FRAME * 10 + 400, 2, 16, 1);
    let b = aj_testkit::noise(CD_FRAME * 5, 2, 16, 2);
    tagged_wav(&d.join("1.wav"), &a, 44100, &[("TITLE", "A")]);
    tagged_wav(&d.join("2.wav"), &b, 44100, &[("TITLE", "B")]);
    let out = dir.path().join("out");
    let r = run(&[
        "convert",
        "--join",
        s(&d.join("1.wav")),
        s(&d.join("2.wav")),
        "-f",
        "wav",
        "-o",
        s(&out),
        "--image-name",
        "whole",
        "--json",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let notes: Vec<String> = r
        .named("warning")
        .iter()
        .map(|w| w["message"].as_str().unwrap().to_string())
        .collect();
    assert!(
        notes.iter().any(|n| n.contains("track 2")
            && n.contains("between two CD frames")
            && n.contains("00:00:11")),
        "{notes:?}"
    );
    let sheet = CueSheet::parse(&std::fs::read_to_string(out.join("whole.cue")).unwrap()).unwrap();
    assert_eq!(sheet.tracks[1].index(1).unwrap().position, 11);
    // The image itself stays exact.
    let (_, got) = decode_all(&out.join("whole.wav"));
    assert_eq!(got, concat(&[a.clone(), b.clone()]));

    // In FLAC, the CUESHEET block keeps the exact start: not whole CD
    // frames, so not a CD-DA sheet.
    let r = run(&[
        "convert",
        "--join",
        s(&d.join("1.wav")),
        s(&d.join("2.wav")),
        "-f",
        "flac",
        "-o",
        s(&dir.path().join("flac")),
        "--image-name",
        "whole",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let image = dir.path().join("flac").join("whole.flac");
    let block = cuesheet_block(&image).unwrap();
    assert!(!block.is_cd);
    let first = (a.len() / 2) as u64;
    let offsets: Vec<(u8, u64)> = block.tracks.iter().map(|t| (t.number, t.offset)).collect();
    assert_eq!(
        offsets,
        [(1, 0), (2, first), (255, first + (b.len() / 2) as u64)]
    );
    if aj_testkit::have_tool("flac") {
        let o = Command::new("flac")
            .args(["-t", "-s"])
            .arg(&image)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}

#[test]
fn a_corrupt_track_fails_the_join_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("in");
    std::fs::create_dir_all(&d).unwrap();
    let a = aj_testkit::noise(CD_FRAME * 10, 2, 16, 1);
    tagged_wav(&d.join("1.wav"), &a, 44100, &[]);
    // A WAV header announcing more data than the file holds.
    let mut bytes = aj_testkit::wav_bytes(&a, 2, 44100, 16);
    bytes.truncate(bytes.len() / 3);
    std::fs::write(d.join("2.wav"), &bytes).unwrap();
    std::fs::write(d.join("3.wav"), b"RIFF junk, not audio").unwrap();
    let out = dir.path().join("out");
    for bad in ["2.wav", "3.wav"] {
        let r = run(&[
            "convert",
            "--join",
            s(&d.join("1.wav")),
            s(&d.join(bad)),
            "-f",
            "flac",
            "-o",
            s(&out),
        ]);
        assert_eq!(r.status, 1, "{}", r.stderr);
        assert!(r.stderr.contains(bad), "{}", r.stderr);
        assert!(!out.exists() || names(&out).is_empty(), "{:?}", names(&out));
    }
}

#[test]
fn replaygain_existing_outputs_and_deleting_the_tracks() {
    let dir = tempfile::tempdir().unwrap();
    let (album, _) = album(dir.path());
    let out = dir.path().join("out");
    let r = run(&[
        "convert",
        "--join",
        s(&album),
        "-f",
        "flac",
        "-o",
        s(&out),
        "--replaygain",
        "--json",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let image = out.join("The Band - Joined Up.flac");
    let t = tags::read(&image).unwrap();
    let track = t.get(&TagKey::ReplayGainTrackGain).unwrap();
    assert_eq!(t.get(&TagKey::ReplayGainAlbumGain), Some(track));
    let sheet =
        CueSheet::parse(&std::fs::read_to_string(out.join("The Band - Joined Up.cue")).unwrap())
            .unwrap();
    assert_eq!(sheet.rem("REPLAYGAIN_ALBUM_GAIN"), Some(track));

    // Again: the image exists, so the join is skipped.
    let r = run(&[
        "convert",
        "--join",
        s(&album),
        "-f",
        "flac",
        "-o",
        s(&out),
        "--json",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.summary()["skipped"], 1);
    // With --on-exists rename: a numbered image, its sheet named after it.
    let r = run(&[
        "convert",
        "--join",
        s(&album),
        "-f",
        "flac",
        "-o",
        s(&out),
        "--on-exists",
        "rename",
        "--json",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let renamed = CueSheet::parse(
        &std::fs::read_to_string(out.join("The Band - Joined Up (1).cue")).unwrap(),
    )
    .unwrap();
    assert_eq!(renamed.files[0].name, "The Band - Joined Up (1).flac");
    assert!(out.join("The Band - Joined Up (1).flac").exists());

    // Deleting the tracks needs a verified lossless image.
    let r = run(&[
        "convert",
        "--join",
        s(&album),
        "-f",
        "mp3",
        "-o",
        s(&out),
        "--delete-source",
    ]);
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert_eq!(names(&album).len(), 3);

    // Into the album folder itself, replacing the image; the tracks go.
    let r = run(&[
        "convert",
        "--join",
        s(&album),
        "-f",
        "flac",
        "--delete-source",
        "--json",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.summary()["deleted"], 3);
    assert_eq!(
        names(&album),
        ["The Band - Joined Up.cue", "The Band - Joined Up.flac"]
    );
    // Joining the folder again finds only its own image: nothing to do.
    let r = run(&[
        "convert",
        "--join",
        s(&album),
        "-f",
        "flac",
        "--overwrite",
        "--json",
    ]);
    assert_eq!(r.status, 1, "{}", r.stdout);
    assert!(r.stdout.contains("the image itself"), "{}", r.stdout);
    assert_eq!(names(&album).len(), 2);
}

/// The daemon's way in: the same spec as JSON gives the same bytes; a lossy
/// image asked to delete its tracks keeps them, with a note.
#[test]
fn a_json_spec_joins_like_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let (album, _) = album(dir.path());
    let cli = dir.path().join("cli");
    let r = run(&[
        "convert",
        "--join",
        s(&album),
        "-f",
        "flac",
        "-o",
        s(&cli),
        "--image-name",
        "{album} ({date})",
        "--json",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let lib = dir.path().join("lib");
    let spec: aj_jobs::JobSpec = serde_json::from_value(serde_json::json!({
        "kind": "convert",
        "inputs": [album],
        "format": "flac",
        "output_dir": lib,
        "join": { "name": "{album} ({date})" }
    }))
    .unwrap();
    let summary = aj_jobs::run(&spec, &aj_core::CancelToken::new(), &|_| {});
    assert_eq!(summary.ok, 1);
    for name in ["Joined Up (2001).flac", "Joined Up (2001).cue"] {
        assert_eq!(
            std::fs::read(cli.join(name)).unwrap(),
            std::fs::read(lib.join(name)).unwrap(),
            "{name}"
        );
    }

    let spec: aj_jobs::JobSpec = serde_json::from_value(serde_json::json!({
        "kind": "convert",
        "inputs": [album],
        "format": "mp3",
        "output_dir": lib,
        "delete_source": true,
        "join": {}
    }))
    .unwrap();
    let notes = std::sync::Mutex::new(Vec::new());
    let summary = aj_jobs::run(&spec, &aj_core::CancelToken::new(), &|e| {
        if let aj_jobs::Event::Warning { message } = e {
            notes.lock().unwrap().push(message);
        }
    });
    assert_eq!((summary.ok, summary.deleted), (1, 0));
    assert!(lib.join("The Band - Joined Up.mp3").exists());
    assert!(
        notes.lock().unwrap().iter().any(|n| n.contains("kept")),
        "{notes:?}"
    );
    assert_eq!(names(&album).len(), 3);
}

/// The demo disc ripped two ways: per track and as an image. Splitting the
/// image gives the per-track files' samples and tags back; joining the
/// tracks gives the image's samples and its track starts and catalog.
#[test]
fn a_rip_image_splits_into_its_tracks_and_its_tracks_join_into_the_image() {
    let t = tempfile::tempdir().unwrap();
    let (img, trk) = (t.path().join("img"), t.path().join("trk"));
    for (out, image) in [(&img, true), (&trk, false)] {
        let mut args = vec![
            "rip",
            "--drive",
            "demo",
            "--offline",
            "-o",
            s(out),
            "--json",
        ];
        if image {
            args.push("--image");
        }
        let r = run(&args);
        assert_eq!(r.status, 0, "{}", r.stderr);
    }
    let files = |dir: &Path, ext: &str| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .collect();
        v.sort();
        v
    };
    let image_cue = files(&img, "cue").pop().unwrap();
    let image = files(&img, "flac").pop().unwrap();
    let tracks = files(&trk, "flac");
    assert_eq!(tracks.len(), 5);

    let split = t.path().join("split");
    let r = run(&[
        "convert",
        s(&image_cue),
        "-f",
        "flac",
        "-o",
        s(&split),
        "--json",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let parts = files(&split, "flac");
    let names = |v: &[PathBuf]| -> Vec<String> {
        v.iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    };
    assert_eq!(names(&parts), names(&tracks));
    for (a, b) in parts.iter().zip(&tracks) {
        assert!(decode_all(a) == decode_all(b), "{} differs", a.display());
        let (ta, tb) = (tags::read(a).unwrap(), tags::read(b).unwrap());
        for key in ["TITLE", "ARTIST", "ALBUM", "TRACKNUMBER", "ISRC", "MCN"] {
            let k = TagKey::from_name(key);
            assert_eq!(ta.get(&k), tb.get(&k), "{key} of {}", a.display());
        }
    }

    let joined = t.path().join("joined");
    let mut args = vec!["convert", "--join"];
    args.extend(tracks.iter().map(|p| s(p)));
    args.extend(["-f", "flac", "-o", s(&joined), "--json"]);
    let r = run(&args);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let joined_image = files(&joined, "flac").pop().unwrap();
    assert!(decode_all(&joined_image) == decode_all(&image));
    let a = CueSheet::parse(&std::fs::read_to_string(files(&joined, "cue")[0].clone()).unwrap())
        .unwrap();
    let b = CueSheet::parse(&std::fs::read_to_string(&image_cue).unwrap()).unwrap();
    assert_eq!(a.catalog, b.catalog);
    let starts = |c: &CueSheet| -> Vec<_> {
        c.tracks
            .iter()
            .map(|t| (t.number, t.index(1).map(|i| i.position)))
            .collect()
    };
    assert_eq!(starts(&a), starts(&b));
}
