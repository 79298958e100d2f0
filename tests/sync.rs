//! `aj sync`, the real binary: runs, dry runs, a run killed midway and
//! resumed, usage errors, and a sync job run by the daemon.

#![allow(clippy::unwrap_used)]

mod util;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use util::{aj, run, s, tree};

/// A tenth of a second of a stereo 16-bit sine.
fn wav(path: &Path, freq: f64) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let samples = aj_testkit::sine(4410, 2, 44_100, 16, freq, 0.5);
    aj_testkit::write_wav(path, &samples, 2, 44_100, 16);
}

#[test]
fn sync_converts_then_finds_nothing_to_do_and_dry_run_changes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("lib"), t.path().join("mirror"));
    wav(&src.join("A/one.wav"), 440.0);
    wav(&src.join("B/two.wav"), 550.0);
    std::fs::write(src.join("A/folder.jpg"), b"\xff\xd8\xff cover").unwrap();

    let r = run(&["sync", s(&src), s(&dst), "-f", "flac", "--json"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let sum = r.summary();
    assert_eq!(sum["sync"]["converted"], 2, "{}", r.stdout);
    assert_eq!(sum["sync"]["copied"], 1);
    assert_eq!(
        tree(&dst),
        [
            ".aj-sync.sqlite",
            "A/folder.jpg",
            "A/one.flac",
            "B/two.flac"
        ]
        .map(std::path::PathBuf::from)
    );

    let r = run(&["sync", s(&src), s(&dst), "-f", "flac", "--json"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.summary()["sync"]["unchanged"], 3);
    assert!(r.named("file_started").is_empty());
    let skipped = r.named("file_skipped");
    assert!(
        skipped.iter().all(|e| e["reason"] == "unchanged"),
        "{skipped:?}"
    );

    // Plain output: one line per change, a summary.
    std::fs::remove_dir_all(src.join("B")).unwrap();
    let state = std::fs::read(dst.join(".aj-sync.sqlite")).unwrap();
    let r = run(&[
        "sync",
        s(&src),
        s(&dst),
        "-f",
        "flac",
        "--delete",
        "--dry-run",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("would delete the mirror file"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("dry run"), "{}", r.stderr);
    assert!(dst.join("B/two.flac").exists());
    assert_eq!(std::fs::read(dst.join(".aj-sync.sqlite")).unwrap(), state);

    let r = run(&["sync", s(&src), s(&dst), "-f", "flac", "--delete"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stderr.contains("deleted"), "{}", r.stderr);
    assert!(!dst.join("B").exists());
}

#[test]
fn usage_errors_exit_2() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("lib");
    std::fs::create_dir_all(&src).unwrap();
    let dst = t.path().join("mirror");
    for args in [
        vec!["--lossy", "sometimes"],
        vec!["-f", "mp3", "--level", "5"],
        vec!["--art-max", "0"],
        vec!["--name", "{unclosed"],
    ] {
        let mut all = vec!["sync", s(&src), s(&dst)];
        if !args.contains(&"-f") {
            all.extend(["-f", "flac"]);
        }
        all.extend(args.iter().copied());
        let r = run(&all);
        assert_eq!(r.status, 2, "{all:?}: {}", r.stderr);
        assert!(r.stderr.starts_with("aj: "), "{}", r.stderr);
    }
    let r = run(&["sync", s(&t.path().join("nothing")), s(&dst), "-f", "flac"]);
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(!dst.exists());
}

#[test]
fn a_killed_sync_resumes_without_converting_finished_files_again() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("lib"), t.path().join("mirror"));
    let n = 12;
    std::fs::create_dir_all(&src).unwrap();
    for i in 0..n {
        // Five seconds each: long enough to be killed in the middle.
        let samples = aj_testkit::sine(220_500, 2, 44_100, 16, 200.0 + 20.0 * i as f64, 0.5);
        aj_testkit::write_wav(&src.join(format!("{i:02}.wav")), &samples, 2, 44_100, 16);
    }
    let mut child = aj()
        .args(["sync", s(&src), s(&dst), "-f", "flac", "-j", "1", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let mut done = Vec::new();
    for line in BufReader::new(out).lines() {
        let e: Value = serde_json::from_str(&line.unwrap()).unwrap();
        if e["event"] == "file_done" {
            done.push(e["output"].as_str().unwrap().to_string());
            if done.len() == 2 {
                child.kill().unwrap();
                break;
            }
        }
    }
    let _ = child.wait();
    assert_eq!(done.len(), 2);

    let r = run(&["sync", s(&src), s(&dst), "-f", "flac", "--json"]);
    assert_eq!(r.status, 0, "{}\n{}", r.stderr, r.stdout);
    let sum = r.summary();
    let converted = sum["sync"]["converted"].as_u64().unwrap();
    let unchanged = sum["sync"]["unchanged"].as_u64().unwrap();
    assert_eq!(converted + unchanged, n, "{sum}");
    assert!(unchanged >= 2, "{sum}");
    assert!(converted >= 1, "the first run was not interrupted: {sum}");
    let again: Vec<String> = r
        .named("file_done")
        .iter()
        .map(|e| e["output"].as_str().unwrap().to_string())
        .collect();
    for d in &done {
        assert!(!again.contains(d), "{d} was converted again");
    }
    // No temporary files are counted as the user's, and the mirror is whole.
    let flacs = tree(&dst)
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "flac"))
        .count();
    assert_eq!(flacs as u64, n);
}

#[test]
fn the_daemon_runs_a_sync_job_inside_its_library() {
    use aj_server::{App, Config, Server};
    let t = tempfile::tempdir().unwrap();
    let lib = t.path().join("lib");
    wav(&lib.join("music/A/one.wav"), 440.0);
    wav(&lib.join("music/A/two.wav"), 550.0);
    let app = App::open(Config {
        libraries: vec![lib.clone()],
        data_dir: t.path().join("data"),
        token: None,
        max_encoders: 2,
        drives: Vec::new(),
    })
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let _server = Server::start(listener, app).unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let url = |p: &str| format!("http://{addr}{p}");
    let post = |body: Value| -> (u16, Value) {
        let r = agent
            .post(&url("/api/v1/jobs"))
            .header("Content-Type", "application/json")
            .send(body.to_string().as_str())
            .unwrap();
        let status = r.status().as_u16();
        let text = r.into_body().read_to_string().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    };
    let get = |p: &str| -> Value {
        let text = agent
            .get(&url(p))
            .call()
            .unwrap()
            .into_body()
            .read_to_string()
            .unwrap();
        serde_json::from_str(&text).unwrap()
    };
    let wait = |id: i64| -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let job = get(&format!("/api/v1/jobs/{id}"));
            if job["state"] == "done" || job["state"] == "failed" {
                return job;
            }
            assert!(Instant::now() < deadline, "{job}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };

    let spec = json!({"kind": "sync", "source": "music", "mirror": "mirror", "format": "flac"});
    let (status, body) = post(spec.clone());
    assert_eq!(status, 202, "{body}");
    let job = wait(body["id"].as_i64().unwrap());
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(job["summary"]["sync"]["converted"], 2, "{job}");
    assert!(lib.join("mirror/A/one.flac").exists());
    assert!(lib.join("mirror/.aj-sync.sqlite").exists());

    let (_, body) = post(spec);
    let job = wait(body["id"].as_i64().unwrap());
    assert_eq!(job["summary"]["sync"]["unchanged"], 2, "{job}");

    // Both folders must lie inside the library.
    let (status, body) =
        post(json!({"kind": "sync", "source": "music", "mirror": "../outside", "format": "flac"}));
    assert_eq!(status, 403, "{body}");
    let (status, body) =
        post(json!({"kind": "sync", "source": "/", "mirror": "m", "format": "flac"}));
    assert_eq!(status, 403, "{body}");

    // The OpenAPI document knows the job.
    let doc = get("/api/openapi.json");
    assert_eq!(
        doc["components"]["schemas"]["JobSpec"]["discriminator"]["mapping"]["sync"],
        "#/components/schemas/SyncJob"
    );
    assert!(doc["components"]["schemas"]["SyncJob"]["properties"]["lossy"].is_object());
}

#[test]
fn an_image_with_a_cue_sheet_is_synced_as_tracks_and_no_split_keeps_it_whole() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("lib"), t.path().join("mirror"));
    std::fs::create_dir_all(src.join("Album")).unwrap();
    // Two tracks of 30 CD frames each.
    let image = aj_testkit::sine(60 * 588, 2, 44_100, 16, 440.0, 0.5);
    aj_testkit::write_wav(&src.join("Album/album.wav"), &image, 2, 44_100, 16);
    std::fs::write(
        src.join("Album/album.cue"),
        "TITLE \"Album\"\nFILE \"album.wav\" WAVE\n  TRACK 01 AUDIO\n    TITLE \"One\"\n    INDEX 01 00:00:00\n  TRACK 02 AUDIO\n    TITLE \"Two\"\n    INDEX 01 00:00:30\n",
    )
    .unwrap();

    let r = run(&["sync", s(&src), s(&dst), "-f", "flac", "--gaps", "discard"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stderr.contains("2 converted"), "{}", r.stderr);
    assert_eq!(
        tree(&dst),
        [
            ".aj-sync.sqlite",
            "Album/01 - One.flac",
            "Album/02 - Two.flac"
        ]
        .map(std::path::PathBuf::from)
    );

    let r = run(&[
        "sync",
        s(&src),
        s(&dst),
        "-f",
        "flac",
        "--no-split",
        "--delete",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(
        tree(&dst),
        [".aj-sync.sqlite", "Album/album.flac"].map(std::path::PathBuf::from)
    );

    let r = run(&["sync", s(&src), s(&dst), "-f", "flac", "--gaps", "sideways"]);
    assert_eq!(r.status, 2, "{}", r.stderr);
}
