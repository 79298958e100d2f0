//! `aj drive list`, `aj disc info` and `aj disc eject`, through the virtual
//! drive over small generated images.

#![allow(clippy::unwrap_used)]

mod util;

use std::path::Path;

use serde_json::Value;
use util::{run, s};

/// Stereo 16-bit noise, `sectors` long.
fn noise(sectors: usize, seed: u64) -> Vec<i32> {
    aj_testkit::noise(sectors * 588, 2, 16, seed)
}

/// Two WAV files (track 2's pregap at the end of the first, as EAC's "gaps
/// appended" writes it) plus a data track in a second session: an enhanced CD.
fn enhanced_image(dir: &Path) -> std::path::PathBuf {
    aj_testkit::write_wav(&dir.join("01.wav"), &noise(400, 1), 2, 44_100, 16);
    aj_testkit::write_wav(&dir.join("02.wav"), &noise(300, 2), 2, 44_100, 16);
    let data: Vec<u8> = (0..300 * 2352).map(|i| (i % 253) as u8).collect();
    std::fs::write(dir.join("data.bin"), data).unwrap();
    let cue = dir.join("disc.cue");
    std::fs::write(
        &cue,
        "REM GENRE Rock\n\
         CATALOG 0123456789012\n\
         PERFORMER \"Band\"\n\
         TITLE \"Record\"\n\
         FILE \"01.wav\" WAVE\n\
         \x20 TRACK 01 AUDIO\n\
         \x20   TITLE \"Opening\"\n\
         \x20   ISRC DEA123456789\n\
         \x20   INDEX 01 00:00:00\n\
         \x20 TRACK 02 AUDIO\n\
         \x20   TITLE \"Closing\"\n\
         \x20   PERFORMER \"Band feat. Guest\"\n\
         \x20   FLAGS PRE\n\
         \x20   INDEX 00 00:04:30\n\
         FILE \"02.wav\" WAVE\n\
         \x20   INDEX 01 00:00:00\n\
         REM SESSION 02\n\
         FILE \"data.bin\" BINARY\n\
         \x20 TRACK 03 MODE1/2352\n\
         \x20   INDEX 01 00:00:00\n",
    )
    .unwrap();
    cue
}

#[test]
fn disc_info_json_through_the_virtual_drive() {
    let t = tempfile::tempdir().unwrap();
    let cue = enhanced_image(t.path());
    let spec = format!("image:{}", s(&cue));
    let r = run(&["disc", "info", "--drive", &spec, "--json"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["kind"], "enhanced CD");
    assert_eq!(v["mcn"], "0123456789012");
    let tracks = v["tracks"].as_array().unwrap();
    assert_eq!(tracks.len(), 3);
    assert_eq!(tracks[0]["start"], 0);
    assert_eq!(tracks[0]["isrc"], "DEA123456789");
    assert_eq!(tracks[0]["title"], "Opening");
    assert_eq!(tracks[0]["performer"], Value::Null);
    assert_eq!(tracks[1]["start"], 400);
    assert_eq!(tracks[1]["pregap"], 70); // 00:04:30 → 330, INDEX 01 at 400
    assert_eq!(tracks[1]["preemphasis"], true);
    assert_eq!(tracks[1]["performer"], "Band feat. Guest");
    assert_eq!(tracks[1]["data"], false);
    assert_eq!(tracks[2]["data"], true);
    assert_eq!(tracks[2]["start"], 700 + 11_400);
    assert_eq!(tracks[2]["session"], 2);
    assert_eq!(v["sessions"][0]["leadout"], 700);
    assert_eq!(v["leadout"], 700 + 11_400 + 300);
    assert_eq!(v["cdtext"]["blocks"][0]["disc"]["title"], "Record");
    assert_eq!(v["hidden_track"], 0);

    // The identities are those of the sheet's disc, as `aj disc id` names them.
    let sheet = aj_cd::cue::CueSheet::parse(&std::fs::read_to_string(&cue).unwrap()).unwrap();
    let mut sizes = [400u64, 300, 300].into_iter();
    let disc = sheet.to_disc(|_| Ok(sizes.next().unwrap())).unwrap();
    let ids = aj_cd::id::DiscIds::compute(&disc).unwrap();
    assert_eq!(v["musicbrainz"], ids.musicbrainz);
    assert_eq!(v["cddb"], ids.cddb);
    assert_eq!(v["accuraterip"]["id1"], ids.accuraterip.id1);
    assert_eq!(v["accuraterip"]["path"], ids.accuraterip.path);
    assert_eq!(v["ctdb"], ids.ctdb);
    assert!(v["cddb"].as_str().unwrap().len() == 8);
}

#[test]
fn disc_info_human_with_hidden_track_and_indexes() {
    let t = tempfile::tempdir().unwrap();
    let pcm: Vec<u8> = noise(900, 5)
        .iter()
        .flat_map(|&x| (x as i16).to_le_bytes())
        .collect();
    std::fs::write(t.path().join("disc.bin"), pcm).unwrap();
    let cue = t.path().join("disc.cue");
    std::fs::write(
        &cue,
        "FILE \"disc.bin\" BINARY\n\
         \x20 TRACK 01 AUDIO\n    INDEX 00 00:00:00\n    INDEX 01 00:03:00\n\
         \x20 TRACK 02 AUDIO\n    INDEX 01 00:06:00\n    INDEX 02 00:08:00\n    INDEX 03 00:09:10\n",
    )
    .unwrap();
    let spec = format!("image:{},offset=48,cache=16", s(&cue));
    let r = run(&["disc", "info", "--drive", &spec]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("Hidden track before track 1: 00:03:00 (225 sectors)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("index 02 at 00:10:00 (LBA 600)"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("index 03 at 00:11:10 (LBA 685)"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("MusicBrainz:"), "{}", r.stdout);

    let r = run(&["disc", "info", "--drive", &spec, "--json"]);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["hidden_track"], 225);
    assert_eq!(v["tracks"][0]["pregap"], 225);
    let idx: Vec<i64> = v["tracks"][1]["indexes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["start"].as_i64().unwrap())
        .collect();
    assert_eq!(idx, vec![450, 600, 685]);
}

#[test]
fn disc_eject() {
    let t = tempfile::tempdir().unwrap();
    let cue = enhanced_image(t.path());
    let r = run(&["disc", "eject", "--drive", &format!("image:{}", s(&cue))]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stdout.contains("tray opened"), "{}", r.stdout);
}

#[test]
fn bad_drive_specs() {
    let r = run(&["disc", "info", "--drive", "image:x.cue,offset=lots"]);
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(r.stderr.contains("offset=lots"), "{}", r.stderr);
    let r = run(&["disc", "info", "--drive", "image:/nonexistent/disc.cue"]);
    assert_eq!(r.status, 1);
    assert!(r.stderr.contains("no such file"), "{}", r.stderr);
    let r = run(&["disc", "eject", "--drive", "/dev/aj-no-such-drive"]);
    assert_eq!(r.status, 1);
    assert!(r.stderr.contains("no such device"), "{}", r.stderr);
    // A malformed sheet: its line number.
    let t = tempfile::tempdir().unwrap();
    let cue = t.path().join("bad.cue");
    std::fs::write(&cue, "FILE \"a.bin\" BINARY\n  INDEX 01 00:00:00\n").unwrap();
    let r = run(&["disc", "info", "--drive", &format!("image:{}", s(&cue))]);
    assert_eq!(r.status, 1);
    assert!(r.stderr.contains("line 2"), "{}", r.stderr);
}

fn machine_has_drives() -> bool {
    std::fs::read_dir("/sys/class/block").is_ok_and(|d| {
        d.filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().starts_with("sr"))
    })
}

#[test]
fn drive_list() {
    let r = run(&["drive", "list", "--json"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let list = v.as_array().unwrap();
    let r = run(&["drive", "list"]);
    assert_eq!(r.status, 0);
    if machine_has_drives() {
        assert!(!list.is_empty());
        assert!(list[0]["device"].as_str().unwrap().starts_with("/dev/sr"));
    } else {
        assert!(list.is_empty());
        assert_eq!(r.stdout.trim(), "no CD drives found");
        // Without --drive, the first real drive: there is none.
        let r = run(&["disc", "info"]);
        assert_eq!(r.status, 1);
        assert!(r.stderr.contains("no CD drive found"), "{}", r.stderr);
    }
}

/// `aj disc info` over a cdrdao TOC image says what it says over the cue
/// image of the same disc: the TOC file written by our own writer, and a
/// hand-written one whose statements are sample counts.
#[test]
fn disc_info_from_a_toc_image_matches_the_cue_image() {
    use aj_cd::cue::{CueFile, CueLayout, CueSheet, FileType};
    use aj_cd::disc::{Disc, Index, Track};
    use aj_cd::tocfile::TocFile;
    use aj_core::Lba;

    let t = tempfile::tempdir().unwrap();
    let mut disc = Disc::audio(&[Lba(0)], Lba(1200)).unwrap();
    let mut t1 = Track::audio(1, Lba(100));
    t1.pregap = Some(Lba(0));
    t1.isrc = Some("DEA123456789".into());
    let mut t2 = Track::audio(2, Lba(450));
    t2.pregap = Some(Lba(400));
    t2.control.preemphasis = true;
    t2.indexes.push(Index {
        number: 2,
        start: Lba(600),
    });
    let t3 = Track::audio(3, Lba(800));
    disc.tracks = vec![t1, t2, t3];
    disc.mcn = Some("0123456789012".into());
    let b = disc.cdtext_block_mut();
    b.disc.title = Some("Record".into());
    b.disc.performer = Some("Band".into());
    for (n, title) in [(1, "Opening"), (2, "Middle"), (3, "Closing")] {
        b.track_mut(n).title = Some(title.into());
        b.track_mut(n).performer = Some("Band".into());
    }
    disc.validate().unwrap();
    aj_testkit::write_wav(&t.path().join("image.wav"), &noise(1200, 9), 2, 44_100, 16);
    let plan = CueSheet::from_disc(&disc, CueLayout::SingleFile, |_| CueFile {
        name: "image.wav".into(),
        kind: FileType::Wave,
    })
    .unwrap();
    let cue = t.path().join("disc.cue");
    std::fs::write(&cue, plan.sheet.to_bytes(false, false)).unwrap();
    let toc = t.path().join("disc.toc");
    std::fs::write(
        &toc,
        TocFile::from_disc(&disc, "image.wav", "image.bin").to_string(),
    )
    .unwrap();
    // The same layout by hand, positions in samples (588 a sector).
    let by_hand = t.path().join("by-hand.toc");
    std::fs::write(
        &by_hand,
        "CD_DA\nCATALOG \"0123456789012\"\n\
         CD_TEXT { LANGUAGE_MAP { 0 : EN } LANGUAGE 0 { TITLE \"Record\" PERFORMER \"Band\" } }\n\
         TRACK AUDIO\nISRC \"DEA123456789\"\n\
         CD_TEXT { LANGUAGE 0 { TITLE \"Opening\" PERFORMER \"Band\" } }\n\
         FILE \"image.wav\" 0 235200\nSTART 00:01:25\n\
         TRACK AUDIO\nPRE_EMPHASIS\n\
         CD_TEXT { LANGUAGE 0 { TITLE \"Middle\" PERFORMER \"Band\" } }\n\
         FILE \"image.wav\" 235200 235200\nSTART 00:00:50\nINDEX 00:02:00\n\
         TRACK AUDIO\n\
         CD_TEXT { LANGUAGE 0 { TITLE \"Closing\" PERFORMER \"Band\" } }\n\
         FILE \"image.wav\" 470400\n",
    )
    .unwrap();

    let info = |path: &Path| {
        let r = run(&[
            "disc",
            "info",
            "--drive",
            &format!("image:{}", s(path)),
            "--json",
        ]);
        assert_eq!(r.status, 0, "{}", r.stderr);
        let mut v: Value = serde_json::from_str(r.stdout.trim()).unwrap();
        v.as_object_mut().unwrap().remove("drive");
        v
    };
    let from_cue = info(&cue);
    assert_eq!(from_cue["tracks"][1]["pregap"], 50);
    assert_eq!(from_cue["tracks"][0]["isrc"], "DEA123456789");
    assert_eq!(from_cue["hidden_track"], 100);
    assert_eq!(
        from_cue["cdtext"]["blocks"][0]["tracks"]["3"]["title"],
        "Closing"
    );
    assert_eq!(info(&toc), from_cue);
    assert_eq!(info(&by_hand), from_cue);
}

/// Regression: unreadable sectors over a pregap made `disc info` report a
/// wrong pregap (0 or 124 sectors instead of 150) without a word.
#[test]
fn disc_info_says_when_unreadable_sub_channel_hides_a_pregap() {
    let t = tempfile::tempdir().unwrap();
    aj_testkit::write_wav(&t.path().join("img.wav"), &noise(900, 3), 2, 44_100, 16);
    let cue = t.path().join("img.cue");
    std::fs::write(
        &cue,
        "FILE \"img.wav\" WAVE\n\
         \x20 TRACK 01 AUDIO\n    INDEX 01 00:00:00\n\
         \x20 TRACK 02 AUDIO\n    INDEX 00 00:05:00\n    INDEX 01 00:07:00\n",
    )
    .unwrap();
    let info = |faults: &str| {
        let spec = format!("image:{}{faults}", s(&cue));
        let r = run(&["disc", "info", "--drive", &spec, "--json"]);
        assert_eq!(r.status, 0, "{}", r.stderr);
        serde_json::from_str::<Value>(r.stdout.trim()).unwrap()
    };

    // The sector before track 2's start is unreadable; the readable one
    // before it shows the pregap, found exactly.
    let v = info(",bad=520-530");
    assert_eq!(v["tracks"][1]["pregap"], 150);
    assert_eq!(v["notes"], serde_json::json!([]));
    assert_eq!(v["uncertain"], serde_json::json!([]));

    // The pregap's start is unreadable: the first sector read in the pregap
    // is taken, and the notes and "uncertain" say where it can be.
    let v = info(",bad=300-400");
    assert_eq!(v["tracks"][1]["pregap"], 124);
    assert_eq!(
        v["uncertain"][0],
        serde_json::json!({"track": 2, "index": 0, "first": 300, "last": 401,
                           "unreadable": [300, 400], "taken": 401})
    );
    let notes: Vec<&str> = v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("track 2: pregap start not exact")
                && n.contains("LBA 300–400")
                && n.contains("taken as LBA 401")),
        "{notes:?}"
    );

    // Transient errors are retried to the fault-free answer.
    let clean = info("");
    for seed in 1..=3 {
        let mut v = info(&format!(",flaky=0.3,seed={seed}"));
        v["drive"] = clean["drive"].clone();
        assert_eq!(v, clean, "seed {seed}");
    }

    // Nothing readable: the pregap is unknown ("?" for a person), quickly.
    let spec = format!("image:{},bad=0-899", s(&cue));
    let r = run(&["disc", "info", "--drive", &spec]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let row = r
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("2  00:09:00"))
        .unwrap();
    assert!(row.contains("  ?  "), "{row}");
    assert!(
        r.stdout.contains("note: track 2: pregap unknown"),
        "{}",
        r.stdout
    );
}

#[test]
fn drive_cache_says_the_verdict_and_refuses_bad_drives() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    // A cache the drive reports and reads that come at once (no speed=):
    // timing cannot tell a cache; the reported size is what a rip assumes.
    let o = util::aj()
        .args(["drive", "cache", "--drive", "demo,cache=300"])
        .env("AJ_CONFIG", &config)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        out.contains("not measured: reads come faster than a CD spins"),
        "{out}"
    );
    // 300 sectors of 2352 bytes, reported in whole KiB (689) and read back.
    assert!(out.contains("a rip would assume 300 sectors"), "{out}");
    // Not saved without --save (stdin is not a terminal: no prompt).
    assert!(!config.exists());
    let o = util::aj()
        .args(["drive", "cache", "--drive", "demo,cache=300", "--save"])
        .env("AJ_CONFIG", &config)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("cache_sectors = 300"), "{text}");
    let r = run(&["drive", "cache", "--drive", "demo,cache=lots"]);
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(r.stderr.contains("cache"), "{}", r.stderr);
    let r = run(&[
        "drive",
        "cache",
        "--drive",
        &format!("image:{}", s(&dir.path().join("none.cue"))),
    ]);
    assert_eq!(r.status, 1, "{}", r.stderr);
    assert!(r.stderr.contains("none.cue"), "{}", r.stderr);
}
