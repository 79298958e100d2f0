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
