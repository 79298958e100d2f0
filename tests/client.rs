//! The CLI as a client of the daemon: `aj convert|rip --server`, `aj jobs`,
//! against the real `aj serve` binary on 127.0.0.1:0; and the daemon's
//! settings over HTTP, kept across a restart.

#![allow(clippy::unwrap_used)]

mod util;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use util::{aj, s, Run};

/// A daemon binary serving a temporary library.
struct Daemon {
    child: Child,
    url: String,
    lib: PathBuf,
    data: PathBuf,
}

impl Daemon {
    fn start(root: &Path, token_file: Option<&Path>) -> Daemon {
        let lib = root.join("lib");
        let data = root.join("data");
        std::fs::create_dir_all(&lib).unwrap();
        Self::start_on(lib, data, token_file, "127.0.0.1:0")
    }

    fn start_on(lib: PathBuf, data: PathBuf, token_file: Option<&Path>, listen: &str) -> Daemon {
        let mut cmd = aj();
        cmd.args([
            "serve",
            "--listen",
            listen,
            "--library",
            s(&lib),
            "--data",
            s(&data),
            "--encoders",
            "1",
        ]);
        if let Some(f) = token_file {
            cmd.args(["--token-file", s(f)]);
        }
        // The daemon's own configuration: nothing remembered from the
        // machine running the tests.
        cmd.env("AJ_CONFIG", data.with_extension("toml"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().unwrap().unwrap();
        let url = first
            .strip_prefix("aj serve: listening on ")
            .unwrap_or_else(|| panic!("{first}"))
            .to_string();
        std::thread::spawn(move || for _ in lines.by_ref() {});
        Daemon {
            child,
            url,
            lib,
            data,
        }
    }

    /// Stops with SIGTERM and waits.
    fn stop(mut self) -> (PathBuf, PathBuf) {
        term(&self.child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "aj serve did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
        (self.lib.clone(), self.data.clone())
    }

    fn http(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let r = aj_testkit::api::Client::new(&self.url, None).call(method, path, body);
        (r.status, r.body)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn term(child: &Child) {
    signal(child, "-TERM");
}

fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// `aj ARGS` with no daemon or token taken from the environment.
fn client() -> Command {
    let mut c = aj();
    c.env_remove("AJ_SERVER").env_remove("AJ_TOKEN");
    c
}

fn output(mut c: Command) -> Run {
    let out = c.output().unwrap();
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn run(args: &[&str]) -> Run {
    let mut c = client();
    c.args(args);
    output(c)
}

fn kinds(r: &Run) -> Vec<String> {
    r.events()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .filter(|k| k != "progress")
        .collect()
}

/// Half a second of a stereo 16-bit sine.
fn write_input(path: &Path) {
    let samples = aj_testkit::sine(22_050, 2, 44_100, 16, 440.0, 0.5);
    aj_testkit::write_wav(path, &samples, 2, 44_100, 16);
}

#[test]
fn a_conversion_through_the_daemon_gives_the_local_bytes_and_events() {
    let t = tempfile::tempdir().unwrap();
    let d = Daemon::start(t.path(), None);
    write_input(&d.lib.join("in.wav"));

    let local = run(&[
        "convert",
        s(&d.lib.join("in.wav")),
        "-f",
        "flac",
        "-o",
        s(&d.lib.join("local")),
        "--json",
    ]);
    assert_eq!(local.status, 0, "{}", local.stderr);

    // Relative paths, from inside the library: made absolute for the daemon.
    let mut c = client();
    c.current_dir(&d.lib).args([
        "convert", "in.wav", "-f", "flac", "-o", "remote", "--server", &d.url, "--json",
    ]);
    let remote = output(c);
    assert_eq!(remote.status, 0, "{}", remote.stderr);
    assert_eq!(kinds(&remote), kinds(&local));
    assert_eq!(remote.summary(), local.summary());
    let started = &remote.named("file_started")[0];
    assert_eq!(started["output"], s(&d.lib.join("remote/in.flac")));
    assert_eq!(
        std::fs::read(d.lib.join("remote/in.flac")).unwrap(),
        std::fs::read(d.lib.join("local/in.flac")).unwrap()
    );

    // Without --json: plain lines on stderr, as locally, and the job's id.
    let plain = run(&[
        "convert",
        s(&d.lib.join("in.wav")),
        "-f",
        "wav",
        "-o",
        s(&d.lib.join("plain")),
        "--server",
        &d.url,
    ]);
    assert_eq!(plain.status, 0, "{}", plain.stderr);
    assert!(plain.stdout.is_empty(), "{}", plain.stdout);
    assert!(
        plain.stderr.contains(&format!("queued on {}", d.url)),
        "{}",
        plain.stderr
    );
    assert!(
        plain.stderr.contains("1 converted, 0 failed, 0 skipped"),
        "{}",
        plain.stderr
    );

    // The jobs, listed.
    let list = run(&["jobs", "--server", &d.url, "--json"]);
    assert_eq!(list.status, 0, "{}", list.stderr);
    let jobs = list.events();
    assert_eq!(jobs.len(), 2);
    assert!(jobs
        .iter()
        .all(|j| j["state"] == "done" && j["spec"]["kind"] == "convert"));
    let table = run(&["jobs", "--server", &d.url]);
    assert_eq!(table.status, 0, "{}", table.stderr);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(lines[0].starts_with("ID  KIND"), "{}", table.stdout);
    assert!(
        lines[1].contains("done") && lines[1].contains("in.wav -> flac"),
        "{}",
        table.stdout
    );
    assert!(lines[1].contains("1 ok, 0 failed, 0 skipped"));
    let filtered = run(&["jobs", "--state", "running", "--server", &d.url, "--json"]);
    assert_eq!(filtered.stdout, "");
    let bad = run(&["jobs", "--state", "sleeping", "--server", &d.url]);
    assert_eq!(bad.status, 1);
    assert!(bad.stderr.contains("unknown state"), "{}", bad.stderr);

    // One job; following a finished one replays its events; its log.
    let id = jobs[0]["id"].to_string();
    let one = run(&["jobs", &id, "--server", &d.url]);
    assert!(
        one.stdout.starts_with(&format!("job {id}: convert done")),
        "{}",
        one.stdout
    );
    let follow = run(&["jobs", &id, "--follow", "--server", &d.url, "--json"]);
    assert_eq!(follow.status, 0, "{}", follow.stderr);
    assert_eq!(follow.stdout, remote.stdout);
    let log = run(&["jobs", "log", &id, "--server", &d.url]);
    assert_eq!(log.stdout, remote.stdout);
    // AJ_SERVER stands for --server.
    let mut c = client();
    c.env("AJ_SERVER", &d.url).args(["jobs", "log", &id]);
    assert_eq!(output(c).stdout, remote.stdout);
    let missing = run(&["jobs", "99", "--server", &d.url]);
    assert_eq!(missing.status, 1);
    assert!(missing.stderr.contains("no job 99"), "{}", missing.stderr);
}

#[test]
fn a_rip_through_the_daemon_completes_with_its_remembered_offset() {
    let t = tempfile::tempdir().unwrap();
    let d = Daemon::start(t.path(), None);
    // The demo drive names itself "AJ Virtual CD".
    let (st, _) = d.http(
        "PUT",
        "/api/v1/settings/drive_offsets",
        Some(&json!({"AJ Virtual CD": 6})),
    );
    assert_eq!(st, 200);
    let r = run(&[
        "rip",
        "--drive",
        "demo,offset=6",
        "-o",
        s(&d.lib.join("rip")),
        "--offline",
        "--mode",
        "burst",
        "--server",
        &d.url,
        "--json",
    ]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let started = &r.named("rip_started")[0];
    assert_eq!(started["offset"], 6, "{started}");
    assert!(
        r.named("warning")
            .iter()
            .all(|w| !w["message"].as_str().unwrap().contains("no read offset")),
        "{}",
        r.stdout
    );
    assert_eq!(r.named("track_done").len(), 5);
    let flacs = std::fs::read_dir(d.lib.join("rip"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "flac")
        })
        .count();
    assert_eq!(flacs, 5);
    let list = run(&["jobs", "--server", &d.url, "--json"]);
    let jobs = list.events();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0]["spec"]["kind"], "rip");
    assert_eq!(jobs[0]["state"], "done");
}

/// Reads a child's stdout lines until one satisfies `want`; the lines read.
fn read_until(
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
    want: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    let mut seen = Vec::new();
    for line in lines {
        let v: Value = serde_json::from_str(&line.unwrap()).unwrap();
        let done = want(&v);
        seen.push(v);
        if done {
            return seen;
        }
    }
    panic!("the stream ended first: {seen:?}");
}

fn wait(child: &mut Child) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st.code().unwrap_or(-1);
        }
        assert!(Instant::now() < deadline, "the client did not end");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_followed_job_is_cancelled_by_aj_jobs_cancel_or_by_ctrl_c() {
    let t = tempfile::tempdir().unwrap();
    let d = Daemon::start(t.path(), None);
    // A slow drive (twice real time): long enough to be cancelled.
    let slow = |out: &str| {
        let mut c = client();
        c.args([
            "rip",
            "--drive",
            "demo,speed=2",
            "-o",
            s(&d.lib.join(out)),
            "--offline",
            "--mode",
            "burst",
            "--server",
            &d.url,
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        c.spawn().unwrap()
    };

    let mut child = slow("a");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    read_until(&mut lines, |e| e["event"] == "track_started");
    // A second follower of the same job.
    let jobs = run(&["jobs", "--state", "running", "--server", &d.url, "--json"]).events();
    assert_eq!(jobs.len(), 1);
    let id = jobs[0]["id"].to_string();
    let mut follower = client();
    follower
        .args(["jobs", &id, "--follow", "--server", &d.url, "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let follower = follower.spawn().unwrap();
    let cancel = run(&["jobs", "cancel", &id, "--server", &d.url]);
    assert_eq!(cancel.status, 0, "{}", cancel.stderr);
    assert!(
        cancel
            .stdout
            .starts_with(&format!("job {id}: cancel requested")),
        "{}",
        cancel.stdout
    );
    let rest = read_until(&mut lines, |e| e["event"] == "summary");
    assert_eq!(rest.last().unwrap()["cancelled"], true);
    assert_eq!(wait(&mut child), 1);
    let out = follower.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let last = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .map(str::to_string)
        .unwrap();
    assert!(last.contains("\"cancelled\":true"), "{last}");
    let job = run(&["jobs", &id, "--server", &d.url, "--json"]).events();
    assert_eq!(job[0]["state"], "cancelled");

    // Retry queues it again; Ctrl-C of a client cancels its own job.
    let retry = run(&["jobs", "retry", &id, "--server", &d.url]);
    assert_eq!(retry.status, 0, "{}", retry.stderr);
    assert!(retry.stdout.contains("queued again"), "{}", retry.stdout);
    let cancel = run(&["jobs", "cancel", &id, "--server", &d.url]);
    assert_eq!(cancel.status, 0, "{}", cancel.stderr);

    let mut child = slow("b");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    read_until(&mut lines, |e| e["event"] == "track_started");
    signal(&child, "-INT");
    let rest = read_until(&mut lines, |e| e["event"] == "summary");
    assert_eq!(rest.last().unwrap()["cancelled"], true);
    assert_eq!(wait(&mut child), 1);
    let states: Vec<String> = run(&["jobs", "--server", &d.url, "--json"])
        .events()
        .iter()
        .map(|j| j["state"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(states, ["cancelled", "cancelled"]);
}

#[test]
fn a_follower_reconnects_when_the_daemon_comes_back() {
    let t = tempfile::tempdir().unwrap();
    let d = Daemon::start(t.path(), None);
    let mut c = client();
    c.args([
        "rip",
        "--drive",
        "demo,speed=2",
        "-o",
        s(&d.lib.join("rip")),
        "--offline",
        "--mode",
        "burst",
        "--server",
        &d.url,
        "--json",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    read_until(&mut lines, |e| e["event"] == "track_started");
    // The daemon stops (the rip ends interrupted) and starts again on the
    // same address: the client finds the job's end there.
    let addr = d.url.trim_start_matches("http://").to_string();
    let (lib, data) = d.stop();
    let d = Daemon::start_on(lib, data, None, &addr);
    let rest = read_until(&mut lines, |e| e["event"] == "summary");
    assert_eq!(rest.last().unwrap()["cancelled"], true);
    assert_eq!(wait(&mut child), 1);
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("interrupted"), "{err}");
    let jobs = run(&["jobs", "--server", &d.url, "--json"]).events();
    assert_eq!(jobs[0]["state"], "interrupted");
}

#[test]
fn errors_name_the_server_and_the_problem() {
    let t = tempfile::tempdir().unwrap();
    // No daemon: a port that was free a moment ago.
    let free = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", free.local_addr().unwrap());
    drop(free);
    let r = run(&["jobs", "--server", &url]);
    assert_eq!(r.status, 1);
    assert!(
        r.stderr.contains(&format!(
            "no daemon listening at {url}; start one with aj serve"
        )),
        "{}",
        r.stderr
    );
    let input = t.path().join("in.wav");
    write_input(&input);
    let r = run(&["convert", s(&input), "-f", "flac", "--server", &url]);
    assert_eq!(r.status, 1);
    assert!(r.stderr.contains("no daemon listening"), "{}", r.stderr);
    // Flags are checked here first: a usage error never reaches a daemon.
    let r = run(&[
        "convert",
        s(&input),
        "-f",
        "flac",
        "--level",
        "9",
        "--server",
        &url,
    ]);
    assert_eq!(r.status, 2, "{}", r.stderr);

    // A daemon with a token.
    let token_file = t.path().join("token");
    let d = Daemon::start(t.path(), Some(&token_file));
    let r = run(&["jobs", "--server", &d.url]);
    assert_eq!(r.status, 1);
    assert!(
        r.stderr
            .contains("the server needs a token: --token-file or AJ_TOKEN"),
        "{}",
        r.stderr
    );
    let mut c = client();
    c.env("AJ_TOKEN", "wrong")
        .args(["jobs", "--server", &d.url]);
    let r = output(c);
    assert_eq!(r.status, 1);
    assert!(r.stderr.contains("refused the token"), "{}", r.stderr);
    let r = run(&["jobs", "--server", &d.url, "--token-file", s(&token_file)]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with("no jobs on"), "{}", r.stdout);

    // A path outside the daemon's library: its 403 message.
    let r = run(&[
        "convert",
        s(&input),
        "-f",
        "flac",
        "--server",
        &d.url,
        "--token-file",
        s(&token_file),
    ]);
    assert_eq!(r.status, 1);
    assert!(
        r.stderr.contains(&d.url) && r.stderr.contains("library"),
        "{}",
        r.stderr
    );
    let mut c = client();
    c.env(
        "AJ_TOKEN",
        std::fs::read_to_string(&token_file).unwrap().trim(),
    )
    .args(["jobs", "--server", &d.url, "--json"]);
    let r = output(c);
    assert_eq!((r.status, r.stdout.as_str()), (0, ""), "{}", r.stderr);
}

#[test]
fn settings_are_checked_kept_across_a_restart_and_removed() {
    let t = tempfile::tempdir().unwrap();
    let d = Daemon::start(t.path(), None);
    assert_eq!(d.http("GET", "/api/v1/settings", None), (200, json!({})));

    let (st, body) = d.http(
        "PUT",
        "/api/v1/settings/default_format",
        Some(&json!("opus")),
    );
    assert_eq!(
        (st, &body),
        (200, &json!({"key": "default_format", "value": "opus"}))
    );
    let (st, _) = d.http(
        "PUT",
        "/api/v1/settings/default_encoder",
        Some(&json!({"bitrate": 96})),
    );
    assert_eq!(st, 200);
    let offsets = json!({"PLEXTOR DVDR PX-716A": 30, "HL-DT-ST BD-RE": -1164});
    let (st, _) = d.http("PUT", "/api/v1/settings/drive_offsets", Some(&offsets));
    assert_eq!(st, 200);
    let rip = json!({"format": "flac", "mode": "secure", "gaps": "prepend", "offline": true});
    assert_eq!(
        d.http("PUT", "/api/v1/settings/rip_defaults", Some(&rip)).0,
        200
    );

    // Wrong values and unknown keys: 400 saying why.
    for (key, value, needle) in [
        ("default_format", json!("wma"), "not a format"),
        ("default_encoder", json!({"level": 12}), "out of range"),
        ("rip_defaults", json!({"gaps": "sometimes"}), "gaps: append"),
        ("drive_offsets", json!({"X": "six"}), "not an offset"),
        (
            "colour",
            json!("blue"),
            "the settings are: default_format, default_encoder, rip_defaults, drive_offsets",
        ),
    ] {
        let (st, body) = d.http("PUT", &format!("/api/v1/settings/{key}"), Some(&value));
        assert_eq!(st, 400, "{key}: {body}");
        let msg = body["error"].as_str().unwrap();
        assert!(msg.contains(needle), "{key}: {msg}");
    }

    // Kept across a restart.
    let (lib, data) = d.stop();
    let d = Daemon::start_on(lib, data, None, "127.0.0.1:0");
    let (st, all) = d.http("GET", "/api/v1/settings", None);
    assert_eq!(st, 200);
    assert_eq!(
        all,
        json!({
            "default_format": "opus",
            "default_encoder": {"bitrate": 96},
            "drive_offsets": offsets,
            "rip_defaults": rip,
        })
    );

    // Removed; removing again is a 404.
    assert_eq!(
        d.http("DELETE", "/api/v1/settings/default_format", None).0,
        204
    );
    assert_eq!(
        d.http("DELETE", "/api/v1/settings/default_format", None).0,
        404
    );
    assert_eq!(d.http("DELETE", "/api/v1/settings/colour", None).0, 400);
    let (_, all) = d.http("GET", "/api/v1/settings", None);
    assert!(all.get("default_format").is_none(), "{all}");
    assert_eq!(all["default_encoder"], json!({"bitrate": 96}));
}

#[test]
fn aj_jobs_lists_syncs_and_deletes_jobs() {
    let t = tempfile::tempdir().unwrap();
    let d = Daemon::start(t.path(), None);
    std::fs::create_dir_all(d.lib.join("music")).unwrap();
    write_input(&d.lib.join("music/a.wav"));
    let spec = json!({"kind": "sync", "source": "music", "mirror": "player", "format": "flac"});
    let (status, job) = d.http("POST", "/api/v1/jobs", Some(&spec));
    assert_eq!(status, 202, "{job}");
    let id = job["id"].as_i64().unwrap().to_string();
    let r = run(&["jobs", &id, "--follow", "--server", &d.url]);
    assert_eq!(r.status, 0, "{}", r.stderr);

    // The sync's row says what it mirrors where.
    let r = run(&["jobs", "--server", &d.url]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let row = r
        .stdout
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(row.contains("music -> player (flac)"), "{row}");

    let r = run(&["jobs", "delete", &id, "--server", &d.url]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.stdout.trim(), format!("job {id}: deleted"));
    assert!(d.lib.join("player/a.flac").is_file(), "outputs stay");
    let r = run(&["jobs", &id, "--server", &d.url]);
    assert_eq!(r.status, 1);
    assert!(r.stderr.contains(&format!("no job {id}")), "{}", r.stderr);
    let r = run(&["jobs", "delete", &id, "--server", &d.url, "--json"]);
    assert_eq!(r.status, 1);
    assert!(r.stderr.contains(&format!("no job {id}")), "{}", r.stderr);
}

#[test]
fn aj_gain_through_the_daemon_prints_the_local_lines() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().canonicalize().unwrap();
    let d = Daemon::start(&root, None);
    std::fs::create_dir_all(d.lib.join("album")).unwrap();
    for (name, amp) in [("1.wav", 0.5), ("2.wav", 0.05)] {
        let samples = aj_testkit::sine(66_150, 2, 44_100, 16, 997.0, amp);
        aj_testkit::write_wav(&d.lib.join("album").join(name), &samples, 2, 44_100, 16);
    }
    let files = [d.lib.join("album/1.wav"), d.lib.join("album/2.wav")];
    let local = run(&["gain", "--album", "--json", s(&files[0]), s(&files[1])]);
    assert_eq!(local.status, 0, "{}", local.stderr);
    let tags = std::fs::read(&files[1]).unwrap();

    // Relative paths, from inside the library: made absolute for the daemon.
    let mut c = client();
    c.current_dir(d.lib.join("album")).args([
        "gain", "--album", "--json", "1.wav", "2.wav", "--server", &d.url,
    ]);
    let remote = output(c);
    assert_eq!(remote.status, 0, "{}", remote.stderr);
    assert_eq!(remote.stdout, local.stdout);
    assert_eq!(remote.events().len(), 3);
    // The same values written again: the same bytes.
    assert_eq!(std::fs::read(&files[1]).unwrap(), tags);

    // The table, as locally, and the job's id on stderr.
    let table = run(&["gain", "--dry-run", s(&d.lib), "--server", &d.url]);
    assert_eq!(table.status, 0, "{}", table.stderr);
    assert!(table.stderr.contains("queued on"), "{}", table.stderr);
    assert!(table.stdout.starts_with("    LOUDNESS"), "{}", table.stdout);
    assert!(table.stdout.contains("album/2.wav"), "{}", table.stdout);

    // Outside the library: the daemon's refusal, and exit status 1.
    let outside = root.join("elsewhere.wav");
    std::fs::copy(&files[0], &outside).unwrap();
    let refused = run(&["gain", s(&outside), "--server", &d.url]);
    assert_eq!(refused.status, 1);
    assert!(refused.stderr.contains("library"), "{}", refused.stderr);

    let list = run(&["jobs", "--server", &d.url, "--json"]);
    let jobs = list.events();
    assert_eq!(jobs.len(), 2, "{}", list.stdout);
    assert!(jobs.iter().all(|j| j["spec"]["kind"] == "gain"));
}
