//! `aj rip` with the real binary on the built-in demo disc and the virtual
//! drive's faults, verified against `accuraterip-checksum` (whipper) and
//! against a local server answering in the online services' formats.

#![allow(clippy::unwrap_used)]

mod util;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use aj_lookup::accuraterip::{encode_dbar, ArDatabase, ArRecord, ArTrackEntry};
use aj_testkit::http::{FixtureServer, Route};
use serde_json::Value;
use util::{aj, decode_all, s, Run};

/// Runs `aj` with the services pointed at `base` (or at nothing) and a
/// private configuration file.
fn rip_env(args: &[&str], base: Option<&str>, config: &Path) -> Run {
    let mut c = aj();
    c.args(args).env("AJ_CONFIG", config);
    let base = base.unwrap_or("http://127.0.0.1:9");
    for k in [
        "AJ_ACCURATERIP_URL",
        "AJ_CTDB_URL",
        "AJ_MUSICBRAINZ_URL",
        "AJ_GNUDB_URL",
        "AJ_COVERART_URL",
    ] {
        c.env(k, base);
    }
    let out = c.output().unwrap();
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn offline(drive: &str, out: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["rip", "--drive", drive, "-o", s(out), "--offline", "--json"];
    args.extend_from_slice(extra);
    rip_env(&args, None, &out.with_extension("toml"))
}

/// `track → (crc32, ar_v1, ar_v2)` from a run's `track_done` events.
fn crcs(run: &Run) -> BTreeMap<u64, (String, String, String)> {
    run.named("track_done")
        .iter()
        .map(|d| {
            (
                d["track"].as_u64().unwrap(),
                (
                    d["crc32"].as_str().unwrap().to_string(),
                    d["ar_v1"].as_str().unwrap_or("").to_string(),
                    d["ar_v2"].as_str().unwrap_or("").to_string(),
                ),
            )
        })
        .collect()
}

fn files_of(run: &Run) -> BTreeMap<u64, PathBuf> {
    run.named("track_done")
        .iter()
        .map(|d| {
            (
                d["track"].as_u64().unwrap(),
                PathBuf::from(d["file"].as_str().unwrap()),
            )
        })
        .collect()
}

/// The clean rip of the demo disc, done once per test that needs it.
fn clean(dir: &Path) -> Run {
    let r = offline("demo", &dir.join("clean"), &[]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    r
}

/// The file's samples as 16-bit little-endian bytes.
fn pcm_bytes(path: &Path) -> Vec<u8> {
    let (spec, samples) = decode_all(path);
    assert_eq!((spec.sample_rate, spec.channels), (44_100, 2));
    samples
        .iter()
        .flat_map(|&v| (v as i16).to_le_bytes())
        .collect()
}

fn accuraterip_checksum(wav: &Path, track: u64, total: u64, version: &str) -> String {
    let out = Command::new("accuraterip-checksum")
        .args([version, s(wav), &track.to_string(), &total.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_uppercase()
}

#[test]
fn demo_rip_matches_independent_checksums_and_seals_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let r = clean(dir.path());
    let done = r.named("track_done");
    assert_eq!(done.len(), 5, "{}", r.stdout);
    let summary = r.summary();
    assert_eq!(summary["unverified"], 5);
    assert_eq!(summary["accurate"], 0);
    assert_eq!(summary["ctdb"], "offline");
    for d in &done {
        assert_eq!(d["accuraterip"]["status"], "offline");
        assert!(d["suspicious"].as_array().unwrap().is_empty());
        assert_eq!(d["verified"], true);
        for k in ["crc32", "ar_v1", "ar_v2"] {
            let v = d[k].as_str().unwrap();
            assert!(
                v.len() == 8
                    && v.chars()
                        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()),
                "{k}={v}"
            );
        }
    }
    // The copy CRC is the CRC-32 of the file's samples.
    for (track, path) in files_of(&r) {
        let bytes = pcm_bytes(&path);
        let crc = format!("{:08X}", crc32(&bytes));
        assert_eq!(crc, crcs(&r)[&track].0, "track {track}");
        // AccurateRip, computed by whipper's tool from the decoded file
        // (with gaps appended, each file is exactly the track's range).
        if aj_testkit::have_tool("accuraterip-checksum") {
            let wav = dir.path().join(format!("t{track}.wav"));
            let samples: Vec<i32> = bytes
                .chunks_exact(2)
                .map(|b| i32::from(i16::from_le_bytes([b[0], b[1]])))
                .collect();
            aj_testkit::write_wav(&wav, &samples, 2, 44_100, 16);
            let (_, v1, v2) = &crcs(&r)[&track];
            assert_eq!(
                &accuraterip_checksum(&wav, track, 5, "--accuraterip-v1"),
                v1
            );
            assert_eq!(
                &accuraterip_checksum(&wav, track, 5, "--accuraterip-v2"),
                v2
            );
        }
    }
    // The cue sheet describes the files; the log checks, and an edit is caught.
    let out = dir.path().join("clean");
    let cue = std::fs::read_to_string(out.join("The Virtual Players - AudioJuggler Demo Disc.cue"))
        .unwrap();
    assert!(
        cue.contains("FILE \"02 - Read Offset Blues.flac\" WAVE"),
        "{cue}"
    );
    assert!(
        cue.contains("INDEX 00 00:26:00"),
        "track 3's gap at the end of file 2: {cue}"
    );
    assert!(
        cue.contains("ISRC ZZAJD2600001") && cue.contains("CATALOG 2001234567893"),
        "{cue}"
    );
    let log = out.join("The Virtual Players - AudioJuggler Demo Disc.log");
    let ok = util::run(&["rip", "--check-log", s(&log)]);
    assert_eq!(ok.status, 0, "{}", ok.stdout);
    // It says what a checksum anyone can recompute shows, and no more.
    assert!(
        ok.stdout.contains("the text is as it was sealed")
            && ok.stdout.contains("anyone can recompute it"),
        "{}",
        ok.stdout
    );
    let cache_line = text_of(&log)
        .lines()
        .find(|l| l.starts_with("Cache "))
        .unwrap_or_default()
        .to_string();
    assert!(
        cache_line.starts_with("Cache                   the drive reports no cache")
            && cache_line.contains("not measured: reads come faster than a CD spins")
            && cache_line.ends_with("; reads elsewhere between passes all the same"),
        "{}",
        text_of(&log)
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("Copy CRC") && text.contains("AccurateRip v1/v2"),
        "{text}"
    );
    let edited = dir.path().join("edited.log");
    std::fs::write(&edited, text.replacen("Copy OK", "Copy ok", 1)).unwrap();
    let bad = util::run(&["rip", "--check-log", s(&edited)]);
    assert_eq!(bad.status, 1);
    assert!(bad.stdout.contains("MISMATCH"), "{}", bad.stdout);
    // Tags: CD-TEXT names, ISRC, the AccurateRip verdict.
    let tags = aj_codec::tags::read(&files_of(&r)[&1]).unwrap();
    assert_eq!(tags.get(&aj_codec::tags::TagKey::Title), Some("Power On"));
    assert_eq!(
        tags.get(&aj_codec::tags::TagKey::Isrc),
        Some("ZZAJD2600001")
    );
    // No temporary or state file is left.
    let left: Vec<_> = util::tree(&out)
        .into_iter()
        .filter(|p| p.to_string_lossy().starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

fn text_of(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(bytes);
    h.finalize()
}

#[test]
fn faults_recover_bit_exact_or_are_marked() {
    let dir = tempfile::tempdir().unwrap();
    let reference = crcs(&clean(dir.path()));
    // Transient errors, jitter, corruption with C2 and without: bit-exact.
    for (i, drive) in [
        "demo,flaky=0.02,seed=5",
        // A jittery drive that cannot overread cannot place the disc's last
        // samples (the reader marks them suspicious): this one can.
        "demo,jitter=40,overread=yes,seed=2",
        "demo,corrupt=0.01,seed=9",
        "demo,corrupt=0.01,c2=no,seed=4",
        "demo,cache=300,corrupt=0.01,c2=no,seed=6",
    ]
    .iter()
    .enumerate()
    {
        let r = offline(drive, &dir.path().join(format!("f{i}")), &[]);
        assert_eq!(r.status, 0, "{drive}: {}", r.stderr);
        assert_eq!(crcs(&r), reference, "{drive}");
    }
    // Unreadable sectors: the rip goes on, the track is marked, exit 1.
    let r = offline("demo,bad=2000-2003", &dir.path().join("scratched"), &[]);
    assert_eq!(r.status, 1, "{}", r.stderr);
    let done = r.named("track_done");
    assert_eq!(done.len(), 5);
    let t2 = done.iter().find(|d| d["track"] == 2).unwrap();
    let sus = t2["suspicious"].as_array().unwrap();
    assert!(!sus.is_empty());
    // Sectors 2000-2003 are 500-503 sectors into track 2's file.
    let start = sus[0]["start_frame"].as_u64().unwrap();
    let end = sus.last().unwrap()["end_frame"].as_u64().unwrap();
    assert!(
        start <= 500 * 588 && end >= 504 * 588 && end - start <= 12 * 588,
        "{sus:?}"
    );
    for d in &done {
        if d["track"] != 2 {
            let n = d["track"].as_u64().unwrap();
            assert_eq!(d["crc32"].as_str().unwrap(), reference[&n].0, "track {n}");
        }
    }
    assert!(r.summary()["inaccurate"].as_u64().unwrap() >= 1);
}

#[test]
fn modes_offsets_and_layouts_agree_on_accuraterip() {
    let dir = tempfile::tempdir().unwrap();
    let reference = crcs(&clean(dir.path()));
    let ar = |m: &BTreeMap<u64, (String, String, String)>| -> BTreeMap<u64, (String, String)> {
        m.iter()
            .map(|(k, v)| (*k, (v.1.clone(), v.2.clone())))
            .collect()
    };
    // A drive with an offset, corrected, overreading: every track as clean.
    let r = offline(
        "demo,offset=667,overread=yes",
        &dir.path().join("o1"),
        &["--offset", "667"],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(crcs(&r), reference);
    // Without overread the edges are zeros (said), the middle tracks exact.
    let r = offline(
        "demo,offset=-1164",
        &dir.path().join("o2"),
        &["--offset", "-1164"],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    let got = crcs(&r);
    for t in 2..=4 {
        assert_eq!(got[&t], reference[&t], "track {t}");
    }
    assert!(
        r.named("warning")
            .iter()
            .any(|w| w["message"].as_str().unwrap().contains("zeros")),
        "{}",
        r.stdout
    );
    // Test and copy: both CRCs, equal.
    let r = offline("demo", &dir.path().join("tc"), &["--mode", "test-and-copy"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    for d in r.named("track_done") {
        assert_eq!(d["test_crc32"], d["crc32"]);
    }
    assert_eq!(crcs(&r), reference);
    // Burst, prepended and discarded gaps, an image: AccurateRip is the same.
    for (name, extra) in [
        ("burst", vec!["--mode", "burst"]),
        ("prepend", vec!["--gaps", "prepend"]),
        ("discard", vec!["--gaps", "discard"]),
        ("image", vec!["--image"]),
        ("mp3", vec!["-f", "mp3"]),
    ] {
        let r = offline("demo", &dir.path().join(name), &extra);
        assert_eq!(r.status, 0, "{name}: {}", r.stderr);
        assert_eq!(ar(&crcs(&r)), ar(&reference), "{name}");
    }
    // Prepended: track 3's 2 s gap is at the start of its own file.
    let frames = |run_dir: &str, track: u64| {
        let r = util::tree(&dir.path().join(run_dir));
        let f = r
            .iter()
            .find(|p| p.to_string_lossy().starts_with(&format!("{track:02} ")))
            .unwrap();
        decode_all(&dir.path().join(run_dir).join(f)).1.len() as u64 / 2
    };
    assert_eq!(frames("prepend", 3), frames("clean", 3) + 150 * 588);
    assert_eq!(frames("discard", 2), frames("clean", 2) - 150 * 588);
    let image = util::tree(&dir.path().join("image"));
    assert_eq!(
        image
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "flac"))
            .count(),
        1,
        "{image:?}"
    );
}

#[test]
fn interrupted_rip_keeps_finished_tracks_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let reference = crcs(&clean(dir.path()));
    let out = dir.path().join("vanish");
    let r = offline("demo,vanish=200", &out, &[]);
    assert_eq!(r.status, 1, "{}", r.stderr);
    let failed = r.named("file_failed");
    assert!(
        failed
            .iter()
            .any(|f| f["error"].as_str().unwrap().contains("--resume")),
        "{}",
        r.stdout
    );
    // The drive is named once, by the event's input, not again in the error.
    for f in &failed {
        assert_eq!(f["input"], "demo", "{f}");
        let e = f["error"].as_str().unwrap();
        assert!(!e.contains("demo:") && e.contains("went away"), "{e}");
    }
    let finished = r.named("track_done").len();
    assert!(
        (1..5).contains(&finished),
        "{finished} tracks finished before the drive went"
    );
    // Only finished files, no partial one, no temporary file.
    let flacs: Vec<_> = util::tree(&out)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".flac"))
        .collect();
    assert_eq!(flacs.len(), finished, "{flacs:?}");
    assert!(util::tree(&out)
        .iter()
        .all(|p| !p.to_string_lossy().contains("tmp")));
    // Without --resume the folder is refused; with it the rip completes.
    let again = offline("demo", &out, &[]);
    assert_eq!(again.status, 1);
    assert!(again.stdout.contains("--resume"), "{}", again.stdout);
    let resumed = offline("demo", &out, &["--resume"]);
    assert_eq!(resumed.status, 0, "{}", resumed.stderr);
    assert_eq!(resumed.named("track_done").len(), 5 - finished);
    let log = std::fs::read_to_string(out.join("The Virtual Players - AudioJuggler Demo Disc.log"))
        .unwrap();
    for (t, (crc, _, _)) in &reference {
        assert!(log.contains(crc), "track {t} CRC {crc} in the log");
    }
    let mut all = crcs(&r);
    all.extend(crcs(&resumed));
    assert_eq!(all, reference);
    assert!(!out.join(".aj-rip-state.json").exists());
}

/// The services, answering in their own formats for the demo disc.
fn services(ar_tracks: &[(u32, u32)], mb: bool, ctdb_crc: &str) -> FixtureServer {
    let info = util::run(&["disc", "info", "--drive", "demo", "--json"]);
    let info: Value = serde_json::from_str(&info.stdout).unwrap();
    let ar = &info["accuraterip"];
    let hex = |k: &str| u32::from_str_radix(ar[k].as_str().unwrap(), 16).unwrap();
    let db = ArDatabase {
        records: vec![
            ArRecord {
                id1: hex("id1"),
                id2: hex("id2"),
                cddb: hex("cddb"),
                tracks: ar_tracks
                    .iter()
                    .map(|&(crc, f450)| ArTrackEntry {
                        confidence: 7,
                        crc,
                        frame450_crc: f450,
                    })
                    .collect(),
            },
            // Another pressing, other checksums.
            ArRecord {
                id1: hex("id1"),
                id2: hex("id2"),
                cddb: hex("cddb"),
                tracks: ar_tracks
                    .iter()
                    .map(|_| ArTrackEntry {
                        confidence: 2,
                        crc: 0x1234_5678,
                        frame450_crc: 0x9abc_def0,
                    })
                    .collect(),
            },
        ],
    };
    let mbid = "3b6f1c9e-8c1a-4d2e-9f3a-5b7c8d9e0f12";
    let disc_id = info["musicbrainz"].as_str().unwrap().to_string();
    let tracks: Vec<Value> = (1..=5)
        .map(|n| {
            serde_json::json!({
                "id": format!("00000000-0000-4000-8000-00000000000{n}"),
                "position": n, "number": n.to_string(), "title": format!("MB Song {n}"), "length": 20000,
                "artist-credit": [{"name": "MB Artist", "joinphrase": "", "artist": {"id": "11111111-1111-4111-8111-111111111111", "name": "MB Artist", "sort-name": "Artist, MB"}}],
                "recording": {"id": format!("22222222-2222-4222-8222-22222222222{n}"), "title": format!("MB Song {n}"), "isrcs": mb_isrcs(n)}
            })
        })
        .collect();
    let release = serde_json::json!({"releases": [{
        "id": mbid, "title": "MB Album", "status": "Official", "date": "2001-02-03", "country": "XE",
        "barcode": "2001234567893",
        "artist-credit": [{"name": "MB Artist", "joinphrase": "", "artist": {"id": "11111111-1111-4111-8111-111111111111", "name": "MB Artist", "sort-name": "Artist, MB"}}],
        "release-group": {"id": "33333333-3333-4333-8333-333333333333", "primary-type": "Album"},
        "label-info": [],
        "media": [{"position": 1, "format": "CD", "discs": [{"id": disc_id}], "track-count": 5, "tracks": tracks}]
    }]});
    let png = {
        let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
        v.extend_from_slice(&[0u8; 64]);
        v
    };
    let mut routes = vec![
        Route::get(&format!("/accuraterip/{}", ar["path"].as_str().unwrap())).body("application/octet-stream", encode_dbar(&db)),
        Route::get("/lookup2.php").body(
            "text/xml",
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ctdb xmlns=\"http://db.cuetools.net/ns/mmd-1.0#\"><entry confidence=\"12\" crc32=\"{ctdb_crc}\" id=\"1\" npar=\"8\" stride=\"5880\" toc=\"{}\" trackcrcs=\"\" /></ctdb>",
                ctdb_toc()
            ),
        ),
        Route::get(&format!("/release/{mbid}/*")).body("image/png", png),
    ];
    if mb {
        routes.push(Route::get("/ws/2/discid/*").body("application/json", release.to_string()));
    } else {
        routes.push(Route::get("/ws/2/discid/*").status(404));
        routes.push(Route::get("/~cddb/cddb.cgi").body(
            "text/plain",
            "200 rock 26007005 GnuDB Artist / GnuDB Album\r\n",
        ));
    }
    FixtureServer::start(routes)
}

/// MusicBrainz's ISRCs in the fixture: track 1 has one that differs from
/// the disc's (ZZAJD2600001), track 3 one where the disc has none.
fn mb_isrcs(n: u32) -> Vec<String> {
    match n {
        1 => vec!["ZZMBX2600001".into()],
        3 => vec!["ZZMBX2600003".into()],
        _ => Vec::new(),
    }
}

fn ctdb_toc() -> String {
    let (disc, _) = aj_cd::virtual_drive::demo::build().unwrap();
    aj_lookup::ctdb::ctdb_toc(&disc)
}

#[test]
fn verified_against_the_services() {
    let dir = tempfile::tempdir().unwrap();
    let clean_run = clean(dir.path());
    let reference = crcs(&clean_run);
    // The database's checksums: v2 of our rip for tracks 1-4, track 5 unknown;
    // frame-450 CRCs from the clean files.
    let f450: Vec<u32> = files_of(&clean_run)
        .values()
        .map(|p| {
            let frames: Vec<u32> = aj_cd::checksum::frames_from_le_bytes(&pcm_bytes(p)).collect();
            aj_cd::checksum::frame450_crc(&frames[450 * 588..451 * 588])
        })
        .collect();
    let tracks: Vec<(u32, u32)> = (1..=5u64)
        .map(|t| {
            let v2 = u32::from_str_radix(&reference[&t].2, 16).unwrap();
            (if t == 5 { 0xdead_beef } else { v2 }, f450[t as usize - 1])
        })
        .collect();
    let server = services(&tracks, true, "00000000");
    let out = dir.path().join("online");
    let config = dir.path().join("config.toml");
    let r = rip_env(
        &["rip", "--drive", "demo", "-o", s(&out), "--json"],
        Some(&server.base_url()),
        &config,
    );
    assert_eq!(r.status, 0, "{}\n{}", r.stderr, r.stdout);
    let done = r.named("track_done");
    for d in &done {
        let t = d["track"].as_u64().unwrap();
        if t == 5 {
            assert_eq!(d["accuraterip"]["status"], "mismatch");
        } else {
            assert_eq!(d["accuraterip"]["status"], "match", "{d}");
            assert_eq!(d["accuraterip"]["confidence"], 7);
            assert_eq!(d["accuraterip"]["version"], 2);
        }
        // Submissions over both records: 7 + 2.
        assert_eq!(d["accuraterip"]["total"], 9, "{d}");
    }
    let summary = r.summary();
    assert_eq!(
        (summary["accurate"].as_u64(), summary["inaccurate"].as_u64()),
        (Some(4), Some(1))
    );
    assert_eq!(summary["ctdb"], "mismatch");
    // Names from MusicBrainz, IDs and the cover in the tags and beside them.
    let started = &r.named("rip_started")[0];
    assert_eq!(started["metadata"], "musicbrainz");
    assert_eq!(started["releases"][0]["chosen"], true);
    let file = out.join("01 - MB Song 1.flac");
    let tags = aj_codec::tags::read(&file).unwrap();
    use aj_codec::tags::TagKey;
    assert_eq!(tags.get(&TagKey::Album), Some("MB Album"));
    assert_eq!(
        tags.get(&TagKey::MusicBrainzReleaseId),
        Some("3b6f1c9e-8c1a-4d2e-9f3a-5b7c8d9e0f12")
    );
    assert_eq!(tags.get(&TagKey::DiscNumber), Some("1"));
    assert!(tags
        .get(&TagKey::Other("ACCURATERIPRESULT".into()))
        .unwrap()
        .starts_with("accurate (confidence 7 of 9, v2)"));
    // ISRC: the disc's own wins over MusicBrainz's; MusicBrainz's fills in
    // where the disc has none; the difference is noted.
    assert_eq!(tags.get(&TagKey::Isrc), Some("ZZAJD2600001"));
    let t3 = aj_codec::tags::read(&out.join("03 - MB Song 3.flac")).unwrap();
    assert_eq!(t3.get(&TagKey::Isrc), Some("ZZMBX2600003"));
    assert_eq!(tags.pictures.len(), 1);
    assert!(out.join("folder.png").exists());
    // The requests went to the services' own paths.
    let targets = server.targets();
    assert!(
        targets.iter().any(|t| t.starts_with("/ws/2/discid/")),
        "{targets:?}"
    );
    assert!(
        targets
            .iter()
            .any(|t| t.starts_with("/lookup2.php?version=3")),
        "{targets:?}"
    );

    // CTDB: the disc CRC our log names, when the database has it, matches.
    let log = std::fs::read_to_string(out.join("MB Artist - MB Album.log")).unwrap();
    assert!(
        log.contains(
            "track 1: the disc's ISRC ZZAJD2600001 is used; musicbrainz lists ZZMBX2600001"
        ),
        "{log}"
    );
    assert!(log.contains("confidence 7 of 9, v2"), "{log}");
    let crc = log
        .split("disc CRC ")
        .nth(1)
        .map(|s| s[..8].to_string())
        .unwrap_or_else(|| panic!("{log}"));
    let server = services(&tracks, false, &crc.to_lowercase());
    let out = dir.path().join("gnudb");
    let r = rip_env(
        &["rip", "--drive", "demo", "-o", s(&out), "--json"],
        Some(&server.base_url()),
        &config,
    );
    assert_eq!(r.summary()["ctdb"], "match", "{}", r.stdout);
    // No MusicBrainz release: GnuDB names it (its read answer is missing
    // here, so the rip says so and falls back to CD-TEXT).
    assert!(
        r.named("warning")
            .iter()
            .any(|w| w["message"].as_str().unwrap().contains("GnuDB")),
        "{}",
        r.stdout
    );

    // The offset, found from the frame-450 checksums and remembered.
    let server = services(&tracks, true, "00000000");
    let found = rip_env(
        &[
            "drive",
            "offset",
            "--find",
            "--drive",
            "demo,offset=-1164",
            "--save",
            "--json",
        ],
        Some(&server.base_url()),
        &config,
    );
    assert_eq!(found.status, 0, "{}", found.stderr);
    let v: Value = serde_json::from_str(found.stdout.trim()).unwrap();
    assert_eq!(v["offset"], -1164, "{v}");
    let saved = std::fs::read_to_string(&config).unwrap();
    assert!(saved.contains("offset = -1164"), "{saved}");
    // A rip with that drive now reads corrected without --offset.
    let out = dir.path().join("remembered");
    let r = rip_env(
        &[
            "rip",
            "--drive",
            "demo,offset=-1164",
            "-o",
            s(&out),
            "--json",
            "--offline",
        ],
        None,
        &config,
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.named("rip_started")[0]["offset"], -1164);
    let got = crcs(&r);
    for t in 2..=4 {
        assert_eq!(got[&t], reference[&t]);
    }
}

#[test]
fn ctrl_c_keeps_finished_tracks_and_removes_the_partial_one() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("int");
    // A drive limited to 40× real time: the rip takes a few seconds.
    let mut child = aj()
        .args([
            "rip",
            "--drive",
            "demo,speed=40",
            "-o",
            s(&out),
            "--offline",
            "--json",
        ])
        .env("AJ_CONFIG", dir.path().join("c.toml"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        let first_done = v["event"] == "track_done";
        seen.push(v);
        if first_done {
            let kill = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status()
                .unwrap();
            assert!(kill.success());
            break;
        }
    }
    seen.extend(lines.map(|l| serde_json::from_str::<Value>(&l.unwrap()).unwrap()));
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    let summary = seen.last().unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["cancelled"], true);
    let finished = seen.iter().filter(|e| e["event"] == "track_done").count();
    assert!((1..5).contains(&finished), "{finished}");
    let files = util::tree(&out);
    let flacs = files
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".flac"))
        .count();
    assert_eq!(flacs, finished, "{files:?}");
    assert!(
        files
            .iter()
            .all(|p| !p.to_string_lossy().contains("aj-tmp")),
        "{files:?}"
    );
    let resumed = offline("demo", &out, &["--resume"]);
    assert_eq!(resumed.status, 0, "{}", resumed.stderr);
    assert_eq!(resumed.named("track_done").len(), 5 - finished);
}

#[test]
fn naming_template_places_tracks_cue_and_log() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("named");
    let r = offline(
        "demo",
        &out,
        &[
            "--name",
            "{albumartist|artist}/{album}/{disc}{track:02}. {title}",
            "-f",
            "opus",
        ],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    let album = out.join("The Virtual Players/AudioJuggler Demo Disc");
    assert!(
        album.join("01. Power On.opus").exists(),
        "{:?}",
        util::tree(&out)
    );
    let cue =
        std::fs::read_to_string(album.join("The Virtual Players - AudioJuggler Demo Disc.cue"))
            .unwrap();
    assert!(
        cue.contains("FILE \"03. Quiet Interlude.opus\" WAVE"),
        "{cue}"
    );
    assert!(album
        .join("The Virtual Players - AudioJuggler Demo Disc.log")
        .exists());
    // A template that names every track alike is refused before reading.
    let r = offline("demo", &dir.path().join("same"), &["--name", "{album}"]);
    assert_eq!(r.status, 1);
    assert!(r.stdout.contains("same file name"), "{}", r.stdout);
    let bad = offline("demo", &dir.path().join("bad"), &["--name", "{album"]);
    assert_eq!(bad.status, 2, "{}", bad.stderr);
}

/// The database's entries for the demo disc: v2 of the clean rip for
/// tracks 1-4 (confidence 7), track 5 unknown, and the frame-450 CRCs.
fn clean_database(clean_run: &Run) -> Vec<(u32, u32)> {
    let reference = crcs(clean_run);
    let f450: Vec<u32> = files_of(clean_run)
        .values()
        .map(|p| {
            let frames: Vec<u32> = aj_cd::checksum::frames_from_le_bytes(&pcm_bytes(p)).collect();
            aj_cd::checksum::frame450_crc(&frames[450 * 588..451 * 588])
        })
        .collect();
    (1..=5u64)
        .map(|t| {
            let v2 = u32::from_str_radix(&reference[&t].2, 16).unwrap();
            (if t == 5 { 0xdead_beef } else { v2 }, f450[t as usize - 1])
        })
        .collect()
}

#[test]
fn a_suspicious_track_is_never_called_accurate() {
    let dir = tempfile::tempdir().unwrap();
    let clean_run = clean(dir.path());
    let reference = crcs(&clean_run);
    let server = services(&clean_database(&clean_run), true, "00000000");
    // LBA 3500-3501 lie in track 3's silent pregap, at the end of track 2's
    // file and inside its AccurateRip range: unreadable, filled with the
    // zeros the disc holds there, so the checksum still matches.
    let out = dir.path().join("scratched");
    let r = rip_env(
        &[
            "rip",
            "--drive",
            "demo,bad=3500-3501",
            "-o",
            s(&out),
            "--json",
        ],
        Some(&server.base_url()),
        &dir.path().join("c.toml"),
    );
    assert_eq!(r.status, 1, "{}", r.stderr);
    let done = r.named("track_done");
    let t2 = done.iter().find(|d| d["track"] == 2).unwrap();
    assert!(!t2["suspicious"].as_array().unwrap().is_empty(), "{t2}");
    assert_eq!(t2["ar_v2"].as_str(), Some(reference[&2].2.as_str()));
    assert_eq!(t2["accuraterip"]["status"], "match_with_errors", "{t2}");
    let summary = r.summary();
    assert_eq!(
        (summary["accurate"].as_u64(), summary["inaccurate"].as_u64()),
        (Some(3), Some(2)),
        "{summary}"
    );
    // The tag and the log do not call it accurate.
    let tags = aj_codec::tags::read(&out.join("02 - MB Song 2.flac")).unwrap();
    let verdict = tags
        .get(&aj_codec::tags::TagKey::Other("ACCURATERIPRESULT".into()))
        .unwrap()
        .to_string();
    assert!(
        !verdict.to_lowercase().contains("accurate") && verdict.contains("NOT VERIFIED"),
        "{verdict}"
    );
    let log = text_of(&out.join("MB Artist - MB Album.log"));
    let track2 = log.split("Track  2").nth(1).unwrap();
    let track2 = track2.split("Track  3").next().unwrap();
    assert!(
        !track2.contains("accurate (") && track2.contains("Copy finished with errors"),
        "{track2}"
    );
    assert!(log.contains("3 accurate, 2 not accurate"), "{log}");
    assert!(!log.contains("All tracks accurately ripped"), "{log}");
}

#[test]
fn some_tracks_rip_alone_and_resume_adds_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let reference = crcs(&clean(dir.path()));
    let out = dir.path().join("some");
    let r = offline("demo", &out, &["--tracks", "2,4"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(
        r.named("rip_started")[0]["tracks"],
        serde_json::json!([2, 4])
    );
    let got = crcs(&r);
    assert_eq!(got.keys().copied().collect::<Vec<_>>(), vec![2, 4]);
    for t in [2, 4] {
        assert_eq!(got[&t], reference[&t], "track {t}");
    }
    let names: Vec<String> = util::tree(&out)
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names.iter().filter(|n| n.ends_with(".flac")).count(),
        2,
        "{names:?}"
    );
    let cue_path = out.join("The Virtual Players - AudioJuggler Demo Disc.cue");
    let cue = text_of(&cue_path);
    assert!(
        cue.contains("FILE \"02 - Read Offset Blues.flac\" WAVE")
            && cue.contains("FILE \"04 - C2 Error Shuffle.flac\" WAVE")
            && !cue.contains("01 - Power On")
            && !cue.contains("TRACK 01")
            && !cue.contains("TRACK 03"),
        "{cue}"
    );
    let log = text_of(&out.join("The Virtual Players - AudioJuggler Demo Disc.log"));
    assert!(
        log.contains("Tracks asked for        2, 4")
            && log.contains("Track  4")
            && !log.contains("Track  1\n"),
        "{log}"
    );
    // The folder keeps what --resume needs to add the others.
    assert!(out.join(".aj-rip-state.json").exists());
    let rest = offline("demo", &out, &["--resume"]);
    assert_eq!(rest.status, 0, "{}", rest.stderr);
    assert_eq!(
        crcs(&rest).keys().copied().collect::<Vec<_>>(),
        vec![1, 3, 5]
    );
    let cue = text_of(&cue_path);
    for t in 1..=5 {
        assert!(cue.contains(&format!("TRACK {t:02} AUDIO")), "{cue}");
    }
    assert!(cue.contains("INDEX 00 00:26:00"), "{cue}");
    assert!(!out.join(".aj-rip-state.json").exists());
    // A track the disc does not have fails the rip, naming it; a list that
    // is not one is a usage error.
    let r = offline("demo", &dir.path().join("none"), &["--tracks", "0,7"]);
    assert_eq!(r.status, 1);
    assert!(
        r.stdout
            .contains("no audio track 0 (it has no hidden track one audio), 7"),
        "{}",
        r.stdout
    );
    for bad in ["3-1", "x", "1,,2", "100"] {
        let r = offline("demo", &dir.path().join("bad"), &["--tracks", bad]);
        assert_eq!(r.status, 2, "{bad}: {}", r.stderr);
        assert!(r.stderr.contains("--tracks"), "{}", r.stderr);
    }
}

#[test]
fn speed_c2_and_drive_options_are_checked_and_logged() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("slow");
    let r = offline("demo", &out, &["--speed", "4x", "--no-c2"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let log = text_of(&out.join("The Virtual Players - AudioJuggler Demo Disc.log"));
    assert!(
        log.contains("Read speed              706 kB/s (4x)")
            && log.contains("C2 error pointers       available, not used"),
        "{log}"
    );
    for (args, word) in [
        (vec!["--speed", "fast"], "--speed"),
        (vec!["--speed", "0x"], "--speed"),
        (vec!["--speed", "1000x"], "out of range"),
    ] {
        let r = offline("demo", &dir.path().join("bad"), &args);
        assert_eq!(r.status, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(word), "{}", r.stderr);
    }
    // A wrong virtual drive option is a usage error naming it.
    for (drive, word) in [("demo,bogus=1", "bogus"), ("demo,bad=9-1", "bad=9-1")] {
        let r = offline(drive, &dir.path().join("bad"), &[]);
        assert_eq!(r.status, 2, "{drive}: {}", r.stderr);
        assert!(r.stderr.contains(word), "{}", r.stderr);
    }
}

#[test]
fn a_cache_that_cannot_be_defeated_is_said() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cached");
    // A cache larger than the whole disc: no read elsewhere can flush it.
    let r = offline("demo,cache=20000", &out, &[]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let log = text_of(&out.join("The Virtual Players - AudioJuggler Demo Disc.log"));
    let line = log.lines().find(|l| l.starts_with("Cache ")).unwrap();
    assert!(
        line.contains("could not be defeated for tracks 1, 2, 3, 4, 5")
            && !line.contains("defeated by reading elsewhere"),
        "{line}"
    );
    assert!(
        r.named("warning").iter().any(|w| w["message"]
            .as_str()
            .unwrap()
            .contains("could not be defeated")),
        "{}",
        r.stdout
    );
}

#[test]
fn a_cache_the_drive_does_not_report_is_measured_and_logged() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("measured");
    // 1024 sectors of cache, reported as none, on a drive spinning at 40x
    // (so reads take time and cached answers do not): the reader measures.
    let r = offline(
        "demo,cache=1024,buffer=0,speed=40",
        &out,
        &["--tracks", "1", "-f", "wav"],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    let log = text_of(&out.join("The Virtual Players - AudioJuggler Demo Disc.log"));
    let line = log.lines().find(|l| l.starts_with("Cache ")).unwrap();
    let sectors: u32 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(sectors >= 1024, "{line}");
    assert!(
        (line.contains("(measured; the drive reports 0)") || line.contains("(assumed"))
            && line.contains("[measurement: ")
            && line.contains("defeated by reading elsewhere"),
        "{line}"
    );
    // Said before it starts.
    assert!(
        r.named("warning").iter().any(|w| w["message"]
            .as_str()
            .unwrap()
            .contains("measuring the drive's cache")),
        "{}",
        r.stdout
    );
}

#[test]
fn one_bad_service_address_turns_off_only_that_service() {
    let dir = tempfile::tempdir().unwrap();
    let clean_run = clean(dir.path());
    let server = services(&clean_database(&clean_run), true, "00000000");
    let base = server.base_url();
    let out = dir.path().join("one-off");
    let mut c = aj();
    c.args(["rip", "--drive", "demo", "-o", s(&out), "--json"])
        .env("AJ_CONFIG", dir.path().join("c.toml"));
    for k in [
        "AJ_ACCURATERIP_URL",
        "AJ_MUSICBRAINZ_URL",
        "AJ_GNUDB_URL",
        "AJ_COVERART_URL",
    ] {
        c.env(k, &base);
    }
    c.env("AJ_CTDB_URL", "ftp://x");
    let o = c.output().unwrap();
    let r = Run {
        status: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    };
    assert_eq!(r.status, 0, "{}", r.stderr);
    let warnings: Vec<String> = r
        .named("warning")
        .iter()
        .map(|w| w["message"].as_str().unwrap().to_string())
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("AJ_CTDB_URL") && w.contains("ftp://x") && w.contains("not asked")),
        "{warnings:?}"
    );
    // The others were asked: names from MusicBrainz, AccurateRip verdicts.
    assert_eq!(r.named("rip_started")[0]["metadata"], "musicbrainz");
    assert_eq!(r.summary()["accurate"], 4);
    assert!(
        !server
            .targets()
            .iter()
            .any(|t| t.starts_with("/lookup2.php")),
        "{:?}",
        server.targets()
    );
}

/// The INDEX lines of a cue sheet's text, as `(track, index, MM:SS:FF)`.
fn index_lines(text: &str) -> Vec<(String, String, String)> {
    let mut track = String::new();
    let mut out = Vec::new();
    for l in text.lines() {
        let w: Vec<&str> = l.split_whitespace().collect();
        match w.as_slice() {
            ["TRACK", n, ..] => track = (*n).to_string(),
            ["INDEX", n, at] => out.push((track.clone(), (*n).to_string(), (*at).to_string())),
            _ => {}
        }
    }
    out
}

/// The first file below `dir` with extension `ext`.
fn only(dir: &Path, ext: &str) -> PathBuf {
    util::tree(dir)
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == ext))
        .map(|p| dir.join(p))
        .unwrap_or_else(|| panic!("no .{ext} in {}", dir.display()))
}

#[test]
fn a_flac_image_carries_its_cue_sheet_and_splits_alone() {
    use aj_codec::tags::cuesheet::{CD_LEAD_IN, LEADOUT_CD};
    use aj_codec::tags::{self, TagKey};
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("img");
    let r = offline("demo", &img, &["--image"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let cue_text = text_of(&only(&img, "cue"));
    let image = only(&img, "flac");
    let want = index_lines(&cue_text);
    // Track 3's 2 s gap is in the image: INDEX 00 then 01.
    assert!(
        want.contains(&("03".into(), "00".into(), "00:46:00".into()))
            && want.contains(&("03".into(), "01".into(), "00:48:00".into())),
        "{cue_text}"
    );
    // The CUESHEET comment is the sheet written beside the image.
    let t = tags::read(&image).unwrap();
    let comment = t.get(&TagKey::Other("CUESHEET".into())).unwrap();
    assert_eq!(index_lines(comment), want);
    assert!(comment.contains(&format!(
        "FILE \"{}\"",
        image.file_name().unwrap().to_string_lossy()
    )));
    // The block, as our reader sees it: CD-DA, with the disc's numbers.
    let bytes = std::fs::read(&image).unwrap();
    let mut at = 4;
    let block = loop {
        let h = &bytes[at..at + 4];
        let len = u32::from_be_bytes([0, h[1], h[2], h[3]]) as usize;
        if h[0] & 0x7F == aj_codec::tags::cuesheet::BLOCK_TYPE {
            break aj_codec::tags::cuesheet::CueSheetBlock::parse(&bytes[at + 4..at + 4 + len])
                .unwrap();
        }
        assert_eq!(h[0] & 0x80, 0, "no CUESHEET block");
        at += 4 + len;
    };
    assert!(block.is_cd);
    assert_eq!(block.lead_in, CD_LEAD_IN);
    assert_eq!(block.mcn, "2001234567893");
    let leadout = block.tracks.last().unwrap();
    assert_eq!(leadout.number, LEADOUT_CD);
    assert_eq!(leadout.offset, decode_all(&image).1.len() as u64 / 2);
    assert_eq!(block.tracks[0].isrc, "ZZAJD2600001");
    assert_eq!(block.tracks[2].isrc, "");
    assert!(block.tracks.iter().all(|t| !t.pre_emphasis));
    assert_eq!(block.tracks[2].offset, 46 * 75 * 588);
    assert_eq!(block.tracks[2].indexes.len(), 2);
    assert_eq!(block.tracks[2].indexes[1].offset, 2 * 75 * 588);

    if aj_testkit::have_tool("metaflac") {
        let o = Command::new("metaflac")
            .arg("--export-cuesheet-to=-")
            .arg(&image)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let exported = String::from_utf8_lossy(&o.stdout).into_owned();
        assert_eq!(index_lines(&exported), want, "{exported}");
        assert!(exported.contains("ISRC ZZAJD2600004"), "{exported}");
        assert!(exported.contains("CATALOG 2001234567893"), "{exported}");
    }
    if aj_testkit::have_tool("flac") {
        let o = Command::new("flac")
            .args(["-t", "-s"])
            .arg(&image)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }

    // The FLAC alone (no .cue beside it) splits into the per-track rip.
    let alone = dir.path().join("alone");
    std::fs::create_dir_all(&alone).unwrap();
    let copy = alone.join("disc.flac");
    std::fs::copy(&image, &copy).unwrap();
    let split = dir.path().join("split");
    let r = util::run(&["convert", s(&copy), "-f", "flac", "-o", s(&split), "--json"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let tracks = dir.path().join("tracks");
    let r = offline("demo", &tracks, &[]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let flacs = |d: &Path| -> Vec<PathBuf> {
        util::tree(d)
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "flac"))
            .collect()
    };
    assert_eq!(flacs(&split), flacs(&tracks));
    assert_eq!(flacs(&split).len(), 5);
    for p in flacs(&tracks) {
        assert!(
            decode_all(&split.join(&p)) == decode_all(&tracks.join(&p)),
            "{} differs",
            p.display()
        );
    }
}

/// Integrated loudness (LUFS) of a file by ffmpeg's ebur128 filter.
fn ffmpeg_lufs(path: &Path) -> f64 {
    let o = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostats", "-i"])
        .arg(path)
        .args(["-af", "ebur128", "-f", "null", "-"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    // The summary comes last: "I:         -23.0 LUFS".
    err.lines()
        .rev()
        .find_map(|l| {
            l.trim()
                .strip_prefix("I:")
                .and_then(|v| v.trim().strip_suffix("LUFS"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or_else(|| panic!("no integrated loudness in {err}"))
}

fn gain_of(v: Option<&str>) -> f64 {
    let v = v.expect("a gain tag");
    v.trim_end_matches(" dB").parse().unwrap()
}

#[test]
fn replaygain_rips_tag_tracks_and_the_album() {
    use aj_codec::tags::{self, TagKey};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rg");
    let r = offline("demo", &out, &["--replaygain"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let files = files_of(&r);
    assert_eq!(files.len(), 5);
    let mut all: Vec<i32> = Vec::new();
    let mut album_gains = Vec::new();
    for path in files.values() {
        let t = tags::read(path).unwrap();
        let (_, samples) = decode_all(path);
        // The peak is the largest sample, exactly.
        let peak = samples.iter().map(|v| v.unsigned_abs()).max().unwrap() as f64 / 32768.0;
        let tagged: f64 = t
            .get(&TagKey::ReplayGainTrackPeak)
            .unwrap()
            .parse()
            .unwrap();
        assert!((tagged - peak).abs() < 2e-6, "{tagged} vs {peak}");
        let track = gain_of(t.get(&TagKey::ReplayGainTrackGain));
        if aj_testkit::have_tool("ffmpeg") {
            // ReplayGain 2.0: the gain to -18 LUFS.
            let want = -18.0 - ffmpeg_lufs(path);
            assert!(
                (track - want).abs() < 0.15,
                "{}: {track} vs {want}",
                path.display()
            );
        }
        album_gains.push(gain_of(t.get(&TagKey::ReplayGainAlbumGain)));
        all.extend(samples);
    }
    assert!(
        album_gains.windows(2).all(|w| w[0] == w[1]),
        "{album_gains:?}"
    );
    if aj_testkit::have_tool("ffmpeg") {
        let disc = dir.path().join("disc.wav");
        aj_testkit::write_wav(&disc, &all, 2, 44_100, 16);
        let want = -18.0 - ffmpeg_lufs(&disc);
        assert!(
            (album_gains[0] - want).abs() < 0.15,
            "{album_gains:?} vs {want}"
        );
    }
    let cue = text_of(&only(&out, "cue"));
    assert!(cue.contains("REM REPLAYGAIN_ALBUM_GAIN"), "{cue}");
    assert_eq!(cue.matches("REM REPLAYGAIN_TRACK_GAIN").count(), 5, "{cue}");
    let log = text_of(&only(&out, "log"));
    assert!(log.contains("ReplayGain              album "), "{log}");

    // Some tracks: track gain only, and a note saying why.
    let some = dir.path().join("some");
    let r = offline("demo", &some, &["--replaygain", "--tracks", "2"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let t = tags::read(&files_of(&r)[&2]).unwrap();
    let first = tags::read(&files[&2]).unwrap();
    assert_eq!(
        t.get(&TagKey::ReplayGainTrackGain),
        first.get(&TagKey::ReplayGainTrackGain)
    );
    assert_eq!(t.get(&TagKey::ReplayGainAlbumGain), None);
    assert!(
        r.named("warning")
            .iter()
            .any(|w| w["message"].as_str().unwrap().contains("no album gain")),
        "{}",
        r.stdout
    );
    // Without --replaygain, no gain tags.
    let t = tags::read(&files_of(&clean(dir.path()))[&1]).unwrap();
    assert_eq!(t.get(&TagKey::ReplayGainTrackGain), None);
}

#[test]
fn a_measured_cache_is_remembered_per_drive_and_used_by_rips() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let drive = "demo,cache=1024,buffer=0,speed=40";
    let mut c = util::aj();
    c.args(["drive", "cache", "--drive", drive, "--save", "--json"])
        .env("AJ_CONFIG", &config);
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let sectors = v["cache_sectors"].as_u64().unwrap();
    assert!(sectors >= 1024, "{v}");
    assert!(v["summary"].as_str().unwrap().contains("sectors"), "{v}");
    let key = v["drive_key"].as_str().unwrap().to_string();
    let saved = aj_jobs::config::Config::load(&config).unwrap();
    assert_eq!(saved.drive_cache(&key).unwrap(), Some(sectors as u32));

    // A rip uses the remembered size, and measures nothing.
    let out = dir.path().join("remembered");
    let r = rip_env(
        &[
            "rip",
            "--drive",
            drive,
            "-o",
            s(&out),
            "--offline",
            "--json",
            "--tracks",
            "1",
            "-f",
            "wav",
        ],
        None,
        &config,
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    let log = text_of(&only(&out, "log"));
    let line = log.lines().find(|l| l.starts_with("Cache ")).unwrap();
    assert!(
        line.contains(&format!("{sectors} sectors (remembered for this drive)"))
            && !line.contains("[measurement"),
        "{line}"
    );
    assert!(
        !r.named("warning")
            .iter()
            .any(|w| w["message"].as_str().unwrap().contains("measuring")),
        "{}",
        r.stdout
    );

    // --cache wins over the remembered size; 0 is "no cache".
    for (given, words) in [("0", "none (given)"), ("2048", "2048 sectors (given)")] {
        let out = dir.path().join(format!("given{given}"));
        let r = rip_env(
            &[
                "rip",
                "--drive",
                "demo",
                "-o",
                s(&out),
                "--offline",
                "--json",
                "--tracks",
                "1",
                "-f",
                "wav",
                "--cache",
                given,
            ],
            None,
            &config,
        );
        assert_eq!(r.status, 0, "{}", r.stderr);
        let log = text_of(&only(&out, "log"));
        let line = log.lines().find(|l| l.starts_with("Cache ")).unwrap();
        assert!(line.contains(words), "{line}");
    }
    let r = rip_env(
        &[
            "rip",
            "--drive",
            "demo",
            "-o",
            s(&dir.path().join("x")),
            "--cache",
            "lots",
        ],
        None,
        &config,
    );
    assert_eq!(r.status, 2, "{}", r.stderr);
}
