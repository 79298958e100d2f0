//! The web page in a real headless Chromium: two servers on 127.0.0.1:0
//! (one without a token, one with), each with a library holding a generated
//! WAV; the Node script in `tests/e2e/` (playwright-core) opens the page,
//! browses the library, starts a FLAC conversion, watches it reach "done"
//! without a reload, opens the job, downloads the output through the page's
//! link, checks a phone-sized view and the token flow, and takes
//! screenshots. The first server also serves the demo drive: the page
//! reads its disc and rips it to FLAC, offline, watching the rip's track
//! progress until it is done. It also joins two generated WAVs into one
//! 24-bit FLAC image with its cue sheet, through the form's join choice and
//! "More options", checks the job detail shows library paths relative to
//! the library, and checks the form's own validation messages. Last, it
//! gives two generated WAVs of different levels ReplayGain tags: measured
//! only, then written with album gain after the page asks; the tags in the
//! files are compared here with the table the page showed.
//!
//! Needs `chromium`, `node` and `npm ci` run in `tests/e2e/`; skipped
//! without them unless AJ_REQUIRE_TOOLS=1. Set AJ_SCREENSHOTS=DIR to keep a
//! copy of the desktop and phone screenshots.

#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aj_codec::tags::TagKey;
use aj_server::{App, Config, Server};
use serde_json::{json, Value};

/// The generated input: a 1 s stereo sine at 44.1 kHz, 16-bit.
const INPUT: &str = "tone.wav";

/// A file named like audio that holds text: its conversion fails.
const BROKEN: &str = "broken.wav";

/// How long the whole browser run may take before it is stopped.
const RUN_LIMIT: Duration = Duration::from_secs(180);

fn e2e_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e")
}

fn tool_path(name: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The folder, inside the library, the page rips the demo disc into.
const RIP_DIR: &str = "rips/demo";

/// The folder holding the two tracks the page joins, and their names: 1 s
/// each at 44.1 kHz (75 CD frames), so the second starts at 00:01:00.
const JOIN_DIR: &str = "tracks";
const JOIN_FILES: [&str; 2] = ["01 low.wav", "02 high.wav"];
/// The image's name the page asks for, and the folder it goes into.
const JOIN_NAME: &str = "Both tones";
const JOIN_OUT: &str = "joined";

/// The folder holding the two files the page writes ReplayGain tags into:
/// 1 s sines, the second 12 dB quieter than the first.
const GAIN_DIR: &str = "gain";
const GAIN_FILES: [(&str, f64); 2] = [("01 loud.wav", 0.5), ("02 quiet.wav", 0.125)];

/// A library with `album/tone.wav` and `album/broken.wav`, and a server on
/// it serving `drives`.
fn start(root: &Path, token: Option<&str>, drives: &[&str]) -> Server {
    let lib = root.join("lib");
    std::fs::create_dir_all(lib.join("album")).unwrap();
    let samples = aj_testkit::sine(44_100, 2, 44_100, 16, 440.0, 0.5);
    aj_testkit::write_wav(&lib.join("album").join(INPUT), &samples, 2, 44_100, 16);
    std::fs::create_dir_all(lib.join(JOIN_DIR)).unwrap();
    for (name, freq) in JOIN_FILES.iter().zip([330.0, 660.0]) {
        let samples = aj_testkit::sine(44_100, 2, 44_100, 16, freq, 0.5);
        aj_testkit::write_wav(&lib.join(JOIN_DIR).join(name), &samples, 2, 44_100, 16);
    }
    std::fs::create_dir_all(lib.join(GAIN_DIR)).unwrap();
    for (name, amplitude) in GAIN_FILES {
        let samples = aj_testkit::sine(44_100, 2, 44_100, 16, 440.0, amplitude);
        aj_testkit::write_wav(&lib.join(GAIN_DIR).join(name), &samples, 2, 44_100, 16);
    }
    // Names that are not UTF-8 (a Latin-1 é): listed, not pickable; the
    // folder opens.
    {
        use std::os::unix::ffi::OsStrExt;
        let odd = lib.join("odd");
        let dir = odd.join(std::ffi::OsStr::from_bytes(b"d\xe9r"));
        std::fs::create_dir_all(&dir).unwrap();
        let samples = aj_testkit::sine(4_410, 2, 44_100, 16, 440.0, 0.5);
        aj_testkit::write_wav(
            &odd.join(std::ffi::OsStr::from_bytes(b"caf\xe9.wav")),
            &samples,
            2,
            44_100,
            16,
        );
        aj_testkit::write_wav(&dir.join("inner.wav"), &samples, 2, 44_100, 16);
    }
    std::fs::write(
        lib.join("album").join(BROKEN),
        "not a WAV file, only text\n".repeat(100),
    )
    .unwrap();
    let app = App::open(Config {
        libraries: vec![lib],
        data_dir: root.join("data"),
        token: token.map(str::to_string),
        max_encoders: 1,
        drives: drives.iter().map(|d| d.to_string()).collect(),
    })
    .unwrap();
    Server::start(TcpListener::bind("127.0.0.1:0").unwrap(), app).unwrap()
}

/// Runs the script, stopping it after [`RUN_LIMIT`]; returns its status,
/// its last line of output and what it wrote to stderr.
fn run_script(config: &Value) -> (bool, String, String) {
    let mut child = Command::new("node")
        .arg("page.mjs")
        .current_dir(e2e_dir())
        .env("AJ_E2E", config.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + RUN_LIMIT;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the browser test took longer than {RUN_LIMIT:?}: {}",
                err.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = out.join().unwrap();
    let last = out.lines().last().unwrap_or_default().to_string();
    (status.success(), last, err.join().unwrap())
}

#[test]
fn the_web_page_converts_a_file_in_a_real_browser() {
    if !(aj_testkit::have_tool("chromium") && aj_testkit::have_tool("node")) {
        return;
    }
    if !e2e_dir().join("node_modules/playwright-core").is_dir() {
        assert!(
            !aj_testkit::tools_required(),
            "playwright-core is required (AJ_REQUIRE_TOOLS=1): run 'npm ci' in {}",
            e2e_dir().display()
        );
        eprintln!("skipping: run 'npm ci' in {}", e2e_dir().display());
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let open = start(&t.path().join("open"), None, &["demo"]);
    let token = "e2e-token-0123456789abcdef";
    let locked = start(&t.path().join("locked"), Some(token), &[]);
    let shots = t.path().join("shots");
    std::fs::create_dir_all(&shots).unwrap();
    let config = json!({
        "url": format!("{}/", open.url()),
        "token_url": format!("{}/", locked.url()),
        "token": token,
        "input": INPUT,
        "broken": BROKEN,
        "chromium": tool_path("chromium"),
        "shots": shots,
        "keep": std::env::var_os("AJ_SCREENSHOTS").map(PathBuf::from),
        "drive": "demo",
        "rip_dir": RIP_DIR,
        "album": aj_cd::virtual_drive::demo::ALBUM,
        "performer": aj_cd::virtual_drive::demo::PERFORMER,
        "join": {
            "folder": JOIN_DIR,
            "files": JOIN_FILES,
            "name": JOIN_NAME,
            "out": JOIN_OUT,
            // The library's absolute path, which the page must not show.
            "root": t.path().join("open/lib").canonicalize().unwrap(),
        },
        "gain": {
            "folder": GAIN_DIR,
            "files": GAIN_FILES.map(|(name, _)| name),
        },
    });
    let (ok, last, stderr) = run_script(&config);
    let result: Value = serde_json::from_str(&last)
        .unwrap_or_else(|e| panic!("the script printed no result ({e}): {last}\n{stderr}"));
    assert!(
        ok && result["ok"] == true,
        "the browser test failed: {}\nsteps: {}\n{stderr}",
        result["error"],
        result["steps"]
    );

    // What the page did, seen from the servers' side.
    for (side, name) in [("open", "the first server"), ("locked", "the token server")] {
        let out = t.path().join(side).join("lib/album/tone.flac");
        let bytes = std::fs::read(&out).unwrap_or_else(|e| panic!("{name}: no output ({e})"));
        assert_eq!(&bytes[..4], b"fLaC", "{name}");
    }
    let downloads = result["downloads"].as_array().unwrap();
    assert_eq!(downloads.len(), 2, "{result}");
    for (d, side) in downloads.iter().zip(["open", "locked"]) {
        assert_eq!(d["name"], "tone.flac");
        assert_eq!(d["magic"], "fLaC");
        let size = std::fs::metadata(t.path().join(side).join("lib/album/tone.flac"))
            .unwrap()
            .len();
        assert_eq!(d["bytes"], size, "{side}");
    }
    // The rip the page started: five tracks, the cue sheet and the log.
    let ripped: Vec<String> = std::fs::read_dir(t.path().join("open/lib").join(RIP_DIR))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let count = |ext: &str| ripped.iter().filter(|n| n.ends_with(ext)).count();
    assert_eq!(
        (count(".flac"), count(".cue"), count(".log")),
        (5, 1, 1),
        "{ripped:?}"
    );
    for name in ripped.iter().filter(|n| n.ends_with(".flac")) {
        let bytes = std::fs::read(t.path().join("open/lib").join(RIP_DIR).join(name)).unwrap();
        assert_eq!(&bytes[..4], b"fLaC", "{name}");
    }

    // The join the page started: one 24-bit FLAC image of both tracks, and
    // a cue sheet naming it with two tracks, the second one second in.
    let out = t.path().join("open/lib").join(JOIN_OUT);
    let image = out.join(format!("{JOIN_NAME}.flac"));
    let info = aj_codec::decode::open(&image)
        .unwrap_or_else(|e| panic!("the joined image {}: {e}", image.display()))
        .info()
        .clone();
    assert_eq!(info.codec, "FLAC");
    assert_eq!(info.bits_per_sample, Some(24), "the page asked for 24-bit");
    assert_eq!((info.sample_rate, info.channels), (44_100, 2));
    assert_eq!(info.total_frames, Some(2 * 44_100));
    let cue_text = std::fs::read_to_string(out.join(format!("{JOIN_NAME}.cue"))).unwrap();
    let sheet = aj_cd::cue::CueSheet::parse(&cue_text).unwrap();
    assert_eq!(sheet.files.len(), 1, "{cue_text}");
    assert_eq!(sheet.files[0].name, format!("{JOIN_NAME}.flac"));
    let starts: Vec<(u8, u32)> = sheet
        .tracks
        .iter()
        .map(|tr| (tr.number, tr.index(1).unwrap().position))
        .collect();
    assert_eq!(starts, [(1, 0), (2, 75)], "{cue_text}");
    assert_eq!(result["join"]["cue_tracks"], 2, "{result}");
    let mut joined: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    joined.sort();
    assert_eq!(
        joined,
        [format!("{JOIN_NAME}.cue"), format!("{JOIN_NAME}.flac")]
    );

    // The ReplayGain tags the page wrote: what its table showed, the same
    // album gain in both files.
    let rows = result["gain"]["rows"].as_array().unwrap();
    let albums = result["gain"]["albums"].as_array().unwrap();
    assert_eq!((rows.len(), albums.len()), (2, 1), "{result}");
    let album_gain = albums[0]["gain"].as_str().unwrap();
    for ((name, _), row) in GAIN_FILES.iter().zip(rows) {
        assert_eq!(row["file"], *name, "{result}");
        let path = t.path().join("open/lib").join(GAIN_DIR).join(name);
        let tags = aj_codec::tags::read(&path)
            .unwrap_or_else(|e| panic!("the tags of {}: {e}", path.display()));
        assert_eq!(
            tags.get(&TagKey::ReplayGainTrackGain),
            row["gain"].as_str(),
            "{name}"
        );
        assert_eq!(
            tags.get(&TagKey::ReplayGainAlbumGain),
            Some(album_gain),
            "{name}"
        );
        let peak = tags.get(&TagKey::ReplayGainTrackPeak).unwrap_or_default();
        assert!(
            row["peak"].as_str().unwrap().starts_with(peak),
            "{name}: peak {peak} in the tags, {} on the page",
            row["peak"]
        );
    }

    // The first server's first job was deleted from the page; its failed
    // job, its join, its two gain jobs, its rip and the token server's job
    // remain.
    open.stop().unwrap();
    locked.stop().unwrap();
    assert_eq!(stored_jobs(&t.path().join("open/data")), 5);
    assert_eq!(stored_jobs(&t.path().join("locked/data")), 1);

    let shots_taken = result["screenshots"].as_array().unwrap();
    assert!(shots_taken.len() >= 5, "{result}");
    for s in shots_taken {
        let png = std::fs::read(s.as_str().unwrap()).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }
}

/// How many jobs a stopped server's store holds.
fn stored_jobs(data: &Path) -> usize {
    let store = aj_server::store::Store::open(&data.join(aj_server::STORE_FILE)).unwrap();
    store.jobs(None).unwrap().len()
}
