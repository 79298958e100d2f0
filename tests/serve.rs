//! `aj serve`: the HTTP API against a server bound to 127.0.0.1:0, with a
//! real HTTP client; restart recovery; the daemon binary itself (port
//! taken, SIGTERM).

#![allow(clippy::unwrap_used)]

mod util;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aj_server::store::{JobState, Store};
use aj_server::{App, Config, Server};
use aj_testkit::api::{Client, Reply};
use serde_json::{json, Value};
use util::{aj, decode_all, s};

struct Api {
    server: Server,
    client: Client,
}

impl Api {
    fn start(libraries: &[&Path], data: &Path, token: Option<&str>, encoders: usize) -> Api {
        let app = App::open(Config {
            libraries: libraries.iter().map(|p| p.to_path_buf()).collect(),
            data_dir: data.to_path_buf(),
            token: token.map(str::to_string),
            max_encoders: encoders,
            drives: Vec::new(),
        })
        .unwrap();
        Self::serve(app, token)
    }

    fn serve(app: Arc<App>, token: Option<&str>) -> Api {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = Server::start(listener, app).unwrap();
        let client = Client::new(&server.url(), token);
        Api { server, client }
    }

    fn url(&self, path: &str) -> String {
        self.client.url(path)
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Reply {
        self.client.call(method, path, body)
    }

    fn get(&self, path: &str) -> Reply {
        self.call("GET", path, None)
    }

    fn post(&self, path: &str, body: Option<&Value>) -> Reply {
        self.call("POST", path, body)
    }

    /// Polls a job until it is in one of `states`.
    fn wait_for(&self, id: i64, states: &[&str]) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let r = self.get(&format!("/api/v1/jobs/{id}"));
            assert_eq!(r.status, 200, "{}", r.body);
            if states.iter().any(|s| r.body["state"] == *s) {
                return r.body;
            }
            assert!(
                Instant::now() < deadline,
                "job {id} never reached {states:?}: {}",
                r.body
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Server-sent events from `after`, until `stop` says so.
    fn events(
        &self,
        after: i64,
        stop: impl Fn(&[(i64, String, Value)]) -> bool,
    ) -> Vec<(i64, String, Value)> {
        let mut r = self
            .client
            .agent()
            .get(self.url("/api/v1/events"))
            .header("Last-Event-ID", after.to_string());
        if let Some(a) = self.client.authorization() {
            r = r.header("Authorization", a);
        }
        let resp = r.call().unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let reader = BufReader::new(resp.into_body().into_reader());
        let mut out = Vec::new();
        let (mut id, mut kind) = (0, String::new());
        for line in reader.lines() {
            let line = line.unwrap();
            if let Some(v) = line.strip_prefix("id:") {
                id = v.trim().parse().unwrap();
            } else if let Some(v) = line.strip_prefix("event:") {
                kind = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("data:") {
                out.push((id, kind.clone(), serde_json::from_str(v.trim()).unwrap()));
                if stop(&out) {
                    break;
                }
            }
        }
        out
    }
}

fn job_id(r: &Reply) -> i64 {
    r.body["id"].as_i64().unwrap()
}

/// Half a second of a stereo 16-bit sine.
fn write_input(path: &Path) -> Vec<i32> {
    let samples = aj_testkit::sine(22_050, 2, 44_100, 16, 440.0, 0.5);
    aj_testkit::write_wav(path, &samples, 2, 44_100, 16);
    samples
}

fn convert(inputs: &[&str], format: &str, output_dir: Option<&str>) -> Value {
    json!({ "kind": "convert", "inputs": inputs, "format": format, "output_dir": output_dir })
}

#[test]
fn a_conversion_runs_to_done_with_its_log_and_events() {
    let t = tempfile::tempdir().unwrap();
    let lib = t.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    let samples = write_input(&lib.join("in.wav"));
    let api = Api::start(&[&lib], &t.path().join("data"), None, 2);

    let r = api.post(
        "/api/v1/jobs",
        Some(&convert(&["in.wav"], "flac", Some("out"))),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let id = job_id(&r);
    assert_eq!(
        r.location.as_deref(),
        Some(format!("/api/v1/jobs/{id}").as_str())
    );
    let job = api.wait_for(id, &["done", "failed"]);
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(job["summary"]["ok"], 1);

    // The output is the input, bit for bit.
    let out = lib.join("out/in.flac");
    let (spec, decoded) = decode_all(&out);
    assert_eq!(spec.channels, 2);
    assert_eq!(decoded, samples);

    // The log holds every engine event, ending with the summary.
    let log = api.get(&format!("/api/v1/jobs/{id}/log"));
    assert_eq!(log.status, 200);
    let events = log.body["events"].as_array().unwrap();
    assert_eq!(events[0]["event"]["event"], "job_started");
    assert_eq!(events.last().unwrap()["event"]["event"], "summary");
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());

    let done = api.get("/api/v1/jobs?state=done");
    assert_eq!(done.body["jobs"].as_array().unwrap().len(), 1);
    assert_eq!(api.get("/api/v1/jobs?state=queued").body["jobs"], json!([]));
    assert_eq!(api.get("/api/v1/jobs?state=sleeping").status, 400);

    // Replay from the start of the feed: created, running, done, in order.
    let feed = api.events(0, |seen| {
        seen.iter()
            .any(|(_, k, d)| k == "job.state" && d["state"] == "done")
    });
    let ids: Vec<i64> = feed.iter().map(|e| e.0).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert_eq!(feed[0].1, "job.created");
    let states: Vec<&str> = feed
        .iter()
        .filter(|e| e.1 == "job.state")
        .map(|e| e.2["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["running", "done"]);
    // Replay from the middle starts after the given id.
    let after = feed[0].0;
    let rest = api.events(after, |seen| seen.len() >= feed.len() - 1);
    assert_eq!(rest.first().map(|e| e.0), feed.get(1).map(|e| e.0));

    // A finished job can be deleted, with its log; then it is gone.
    assert_eq!(
        api.call("DELETE", &format!("/api/v1/jobs/{id}"), None)
            .status,
        204
    );
    assert_eq!(api.get(&format!("/api/v1/jobs/{id}")).status, 404);
    assert_eq!(api.get(&format!("/api/v1/jobs/{id}/log")).status, 404);
}

#[test]
fn cancel_is_cooperative_idempotent_and_retry_runs_again() {
    let t = tempfile::tempdir().unwrap();
    let lib = t.path().join("lib");
    let album = lib.join("album");
    std::fs::create_dir_all(&album).unwrap();
    // Enough files, converted one at a time, to still be running when the
    // cancel arrives.
    let samples = aj_testkit::noise(22_050, 2, 16, 7);
    for i in 0..150 {
        aj_testkit::write_wav(&album.join(format!("{i:03}.wav")), &samples, 2, 44_100, 16);
    }
    write_input(&lib.join("single.wav"));
    // One encoder slot: the second job waits in the queue.
    let api = Api::start(&[&lib], &t.path().join("data"), None, 1);

    let mut big = convert(&["album"], "flac", Some("out"));
    big["threads"] = json!(1);
    let a = job_id(&api.post("/api/v1/jobs", Some(&big)));
    let b = job_id(&api.post(
        "/api/v1/jobs",
        Some(&convert(&["single.wav"], "wav", Some("single"))),
    ));
    api.wait_for(a, &["running"]);

    // The queued job is cancelled at once.
    let r = api.post(&format!("/api/v1/jobs/{b}/cancel"), None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["state"], "cancelled");
    // A running job is asked to stop and ends cancelled.
    let r = api.post(&format!("/api/v1/jobs/{a}/cancel"), None);
    assert_eq!(r.status, 200, "{}", r.body);
    let job = api.wait_for(a, &["cancelled", "done", "failed"]);
    assert_eq!(job["state"], "cancelled", "{job}");
    assert_eq!(job["summary"]["cancelled"], true);
    // Again: nothing changes.
    let r = api.post(&format!("/api/v1/jobs/{a}/cancel"), None);
    assert_eq!(
        (r.status, r.body["state"].as_str()),
        (200, Some("cancelled"))
    );

    // Fewer outputs than inputs, and no partial file left behind.
    // (The engine removes an output folder it made and left empty.)
    let outputs = if lib.join("out").exists() {
        util::tree(&lib.join("out"))
    } else {
        Vec::new()
    };
    assert!(outputs.len() < 150, "{} outputs", outputs.len());
    for o in &outputs {
        assert_eq!(
            o.extension().and_then(|e| e.to_str()),
            Some("flac"),
            "{}",
            o.display()
        );
        decode_all(&lib.join("out").join(o));
    }

    // A done job cannot be retried; a cancelled one can.
    let r = api.post(&format!("/api/v1/jobs/{b}/retry"), None);
    assert_eq!(r.status, 202, "{}", r.body);
    let job = api.wait_for(b, &["done", "failed"]);
    assert_eq!(job["state"], "done", "{job}");
    assert!(lib.join("single/single.wav").is_file());
    let r = api.post(&format!("/api/v1/jobs/{b}/retry"), None);
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body["error"].as_str().unwrap().contains("done"));
}

#[test]
fn paths_outside_the_library_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let lib = t.path().join("lib");
    std::fs::create_dir_all(lib.join("album")).unwrap();
    write_input(&lib.join("album/in.wav"));
    write_input(&t.path().join("secret.wav"));
    std::os::unix::fs::symlink(t.path().join("secret.wav"), lib.join("link.wav")).unwrap();
    std::os::unix::fs::symlink(t.path(), lib.join("album/up")).unwrap();
    let api = Api::start(&[&lib], &t.path().join("data"), None, 1);

    let secret = t.path().join("secret.wav");
    let outside = t.path().join("elsewhere");
    for spec in [
        convert(&["../secret.wav"], "flac", None),
        convert(&["album/../../secret.wav"], "flac", None),
        convert(&[s(&secret)], "flac", None),
        convert(&["link.wav"], "flac", None),
        convert(&["album/in.wav"], "flac", Some(s(&outside))),
        convert(&["album/in.wav"], "flac", Some("../out")),
        // A folder input whose links lead out.
        convert(&["album"], "flac", Some("out")),
    ] {
        let r = api.post("/api/v1/jobs", Some(&spec));
        assert_eq!(r.status, 403, "{spec} -> {}", r.body);
        assert!(
            r.body["error"].as_str().unwrap().contains("library")
                || r.body["error"].as_str().unwrap().contains(".."),
            "{}",
            r.body
        );
    }
    assert!(!t.path().join("secret.flac").exists());
    assert!(!outside.exists());
    assert_eq!(api.get("/api/v1/jobs").body["jobs"], json!([]));

    // Other bad requests are JSON errors too.
    let r = api.post("/api/v1/jobs", Some(&json!({"kind": "juggle"})));
    assert_eq!(r.status, 400);
    assert!(r.body["error"].as_str().unwrap().contains("job spec"));
    assert_eq!(api.get("/api/v1/jobs/999").status, 404);
    assert_eq!(api.get("/api/v1/jobs/abc").status, 404);
    assert_eq!(api.post("/api/v1/jobs/999/cancel", None).status, 404);
    let r = api.call("DELETE", "/api/v1/jobs", None);
    assert_eq!(r.status, 405);
    assert!(r.body["error"].is_string());
}

#[test]
fn a_token_is_required_when_configured() {
    let t = tempfile::tempdir().unwrap();
    let lib = t.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    let mut api = Api::start(&[&lib], &t.path().join("data"), Some("s3cret-token"), 1);

    assert_eq!(api.get("/api/v1/status").status, 200);
    assert_eq!(api.get("/api/v1/status").body["token_required"], true);
    api.client.set_token(None);
    let r = api.get("/api/v1/jobs");
    assert_eq!(r.status, 401);
    assert!(r.body["error"].as_str().unwrap().contains("Bearer"));
    api.client.set_token(Some("s3cret-tokem"));
    assert_eq!(api.get("/api/v1/jobs").status, 401);
    assert_eq!(
        api.post("/api/v1/jobs", Some(&convert(&["x.wav"], "flac", None)))
            .status,
        401
    );
    api.client.set_token(Some(""));
    assert_eq!(api.get("/api/v1/events").status, 401);
    api.client.set_token(Some("s3cret-token"));
    assert_eq!(api.get("/api/v1/jobs").status, 200);
}

#[test]
fn after_a_crash_running_jobs_are_interrupted_and_can_be_retried() {
    let t = tempfile::tempdir().unwrap();
    let lib = t.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    write_input(&lib.join("a.wav"));
    let data = t.path().join("data");
    std::fs::create_dir_all(&data).unwrap();

    // What a daemon killed mid-job leaves: one job done, one running.
    let spec = |name: &str| {
        let mut v = convert(&[s(&lib.join(name))], "flac", Some(s(&lib.join("out"))));
        v["threads"] = json!(0);
        v
    };
    let (done, cut) = {
        let store = Store::open(&data.join(aj_server::STORE_FILE)).unwrap();
        let done = store.insert_job(&spec("a.wav")).unwrap().id;
        store
            .set_state(done, JobState::Running, None, None)
            .unwrap();
        store
            .add_event(
                done,
                1,
                &json!({"event": "job_started", "files": 1, "threads": 1}),
            )
            .unwrap();
        store
            .set_state(done, JobState::Done, Some(&json!({"ok": 1})), None)
            .unwrap();
        let cut = store.insert_job(&spec("a.wav")).unwrap().id;
        store.set_state(cut, JobState::Running, None, None).unwrap();
        store
            .add_event(
                cut,
                1,
                &json!({"event": "job_started", "files": 1, "threads": 1}),
            )
            .unwrap();
        (done, cut)
    };

    let api = Api::start(&[&lib], &data, None, 1);
    let r = api.get(&format!("/api/v1/jobs/{cut}"));
    assert_eq!(r.body["state"], "interrupted", "{}", r.body);
    // The finished job is kept and not run again.
    let r = api.get(&format!("/api/v1/jobs/{done}"));
    assert_eq!(r.body["state"], "done");
    assert_eq!(
        api.get(&format!("/api/v1/jobs/{done}/log")).body["events"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(!lib.join("out/a.flac").exists());

    let r = api.post(&format!("/api/v1/jobs/{cut}/retry"), None);
    assert_eq!(r.status, 202, "{}", r.body);
    let job = api.wait_for(cut, &["done", "failed"]);
    assert_eq!(job["state"], "done", "{job}");
    assert!(lib.join("out/a.flac").is_file());
    // The log goes on after the old events.
    let log = api.get(&format!("/api/v1/jobs/{cut}/log"));
    let seqs: Vec<i64> = log.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs[0], 1);
    assert!(seqs.len() > 2);
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
}

#[test]
fn stopping_the_server_interrupts_running_jobs() {
    let t = tempfile::tempdir().unwrap();
    let lib = t.path().join("lib");
    let album = lib.join("album");
    std::fs::create_dir_all(&album).unwrap();
    let samples = aj_testkit::noise(22_050, 2, 16, 3);
    for i in 0..150 {
        aj_testkit::write_wav(&album.join(format!("{i:03}.wav")), &samples, 2, 44_100, 16);
    }
    let data = t.path().join("data");
    let api = Api::start(&[&lib], &data, None, 1);
    let mut spec = convert(&["album"], "flac", Some("out"));
    spec["threads"] = json!(1);
    let id = job_id(&api.post("/api/v1/jobs", Some(&spec)));
    api.wait_for(id, &["running"]);
    api.server.stop().unwrap();

    let store = Store::open(&data.join(aj_server::STORE_FILE)).unwrap();
    let job = store.job(id).unwrap().unwrap();
    assert_eq!(job.state, JobState::Interrupted, "{job:?}");
    assert_eq!(job.summary.unwrap()["cancelled"], true);
}

#[test]
fn jobs_left_queued_run_after_a_restart() {
    let t = tempfile::tempdir().unwrap();
    let lib = t.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    write_input(&lib.join("a.wav"));
    let data = t.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let id = {
        let store = Store::open(&data.join(aj_server::STORE_FILE)).unwrap();
        store
            .insert_job(&convert(
                &[s(&lib.join("a.wav"))],
                "wav",
                Some(s(&lib.join("q"))),
            ))
            .unwrap()
            .id
    };
    let api = Api::start(&[&lib], &data, None, 1);
    let job = api.wait_for(id, &["done", "failed"]);
    assert_eq!(job["state"], "done", "{job}");
    assert!(lib.join("q/a.wav").is_file());
}

/// The daemon binary: names who holds its port, and stops on SIGTERM.
#[test]
fn serve_names_the_holder_of_a_taken_port() {
    let t = tempfile::tempdir().unwrap();
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = held.local_addr().unwrap().to_string();
    let r = util::run(&["serve", "--listen", &addr, "--data", s(t.path())]);
    assert_eq!(r.status, 1, "{}", r.stdout);
    assert!(r.stderr.contains("is taken by"), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("pid {}", std::process::id())),
        "{}",
        r.stderr
    );
}

#[test]
fn serve_stops_cleanly_on_sigterm() {
    let t = tempfile::tempdir().unwrap();
    let lib = t.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    let mut child = aj()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--library",
            s(&lib),
            "--data",
            s(&t.path().join("data")),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .strip_prefix("aj serve: listening on ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_string();
    let status = Client::new(&url, None).get("/api/v1/status").body;
    assert_eq!(status["name"], "AudioJuggler");
    assert_eq!(status["token_required"], false);
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.code();
        }
        assert!(
            Instant::now() < deadline,
            "aj serve did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(code, Some(0));
}

#[test]
fn a_start_that_cannot_bind_makes_no_token() {
    // Binding 0.0.0.0 would expose the test machine, so the LAN address is
    // one whose port is taken: the start fails, and no token is made that
    // nobody would be shown (the next start makes and prints one). Which
    // addresses need a token is checked in src/cmd/serve.rs; making and
    // showing it, on loopback with --token-file, below.
    let t = tempfile::tempdir().unwrap();
    let held = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let data: PathBuf = t.path().join("data");
    let r = util::run(&[
        "serve",
        "--listen",
        &format!("0.0.0.0:{port}"),
        "--data",
        s(&data),
    ]);
    assert_eq!(r.status, 1, "{}", r.stderr);
    assert!(r.stderr.contains("is taken"), "{}", r.stderr);
    assert!(
        !data.join("token").exists(),
        "a token was made before binding"
    );
}

/// Starts `aj serve ARGS`, reads its stdout up to its last start-up line,
/// stops it with SIGTERM; its stdout and stderr.
fn serve_start_up(args: &[&str]) -> (String, String) {
    use std::io::Read;
    let mut child = aj()
        .arg("serve")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = String::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        out.push_str(&line);
        out.push('\n');
        if line.starts_with("Send it as") || line.starts_with("aj serve: requests need") {
            break;
        }
    }
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (out, err)
}

#[test]
fn a_token_is_made_after_binding_shown_once_and_kept_private() {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    let data: PathBuf = t.path().join("data");
    let token_file = data.join("token");
    let args = [
        "--listen",
        "127.0.0.1:0",
        "--data",
        s(&data),
        "--token-file",
        s(&token_file),
    ];
    let (out, err) = serve_start_up(&args);
    let token = std::fs::read_to_string(&token_file).unwrap();
    let token = token.trim();
    assert_eq!(token.len(), 64);
    assert!(out.contains(token), "the new token is not shown: {out}");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&token_file), 0o600);
    assert_eq!(mode(&data), 0o700, "the data folder is not private");
    assert!(!err.contains("warning"), "{err}");

    // Shown once; the next start names the file only.
    let (out, err) = serve_start_up(&args);
    assert!(!out.contains(token), "{out}");
    assert!(out.contains(s(&token_file)), "{out}");
    assert!(!err.contains("warning"), "{err}");

    // A token file others can read is named, with the fix.
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (_, err) = serve_start_up(&args);
    assert!(err.contains("warning"), "{err}");
    assert!(
        err.contains(&format!("chmod 600 {}", s(&token_file))),
        "{err}"
    );
}

#[test]
fn the_library_is_browsed_and_files_are_downloaded_inside_it_only() {
    let t = tempfile::tempdir().unwrap();
    let lib = t.path().join("lib");
    std::fs::create_dir_all(lib.join("album")).unwrap();
    write_input(&lib.join("album/b.wav"));
    std::fs::write(lib.join("album/a.cue"), b"FILE \"b.wav\" WAVE\n").unwrap();
    std::fs::write(t.path().join("secret.txt"), b"secret").unwrap();
    std::os::unix::fs::symlink(t.path().join("secret.txt"), lib.join("leak.txt")).unwrap();
    let api = Api::start(&[&lib], &t.path().join("data"), None, 1);
    let root = lib.canonicalize().unwrap();

    let r = api.get("/api/v1/library");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["path"], Value::Null);
    assert_eq!(r.body["entries"][0]["path"], s(&root));
    assert_eq!(r.body["entries"][0]["kind"], "folder");

    let r = api.get("/api/v1/library?path=album");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["truncated"], false);
    let entries = r.body["entries"].as_array().unwrap();
    let names: Vec<&str> = entries
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a.cue", "b.wav"]);
    let wav = &entries[1];
    assert_eq!(wav["kind"], "file");
    assert_eq!(wav["audio"], true);
    assert_eq!(entries[0]["audio"], false);
    let wav_bytes = std::fs::read(lib.join("album/b.wav")).unwrap();
    assert_eq!(wav["size"], wav_bytes.len());
    assert!(wav["modified"].as_str().unwrap().ends_with('Z'));
    // The listed path is what a job spec takes.
    assert_eq!(wav["path"], s(&root.join("album/b.wav")));

    // The top folder by an absolute path: the link out is not listed.
    let r = api.get(&format!("/api/v1/library?path={}", s(&root)));
    let names: Vec<&str> = r.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["album"]);

    for (path, status) in [
        ("/api/v1/library?path=..", 403),
        ("/api/v1/library?path=/etc", 403),
        ("/api/v1/library?path=nothing", 404),
        ("/api/v1/library?path=album/a.cue", 400),
        ("/api/v1/files/leak.txt", 403),
        ("/api/v1/files/album/../../secret.txt", 403),
        ("/api/v1/files/album/%2E%2E/%2E%2E/secret.txt", 403),
        ("/api/v1/files/album/nothing.wav", 404),
        ("/api/v1/files/album", 404),
    ] {
        let r = api.get(path);
        assert_eq!(r.status, status, "{path}: {}", r.body);
        assert!(r.body["error"].is_string(), "{path}: {}", r.body);
    }

    let (reply, body) = api.client.raw("GET", "/api/v1/files/album/b.wav", None);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.content_type.as_deref(), Some("audio/wav"));
    assert_eq!(body, wav_bytes);
    let (reply, _) = api.client.raw("GET", "/api/v1/files/album/a.cue", None);
    assert!(reply.content_type.unwrap().starts_with("text/plain"));
}

fn conforms(doc: &Value, method: &str, route: &str, r: &Reply) {
    aj_testkit::openapi::conforms(doc, method, route, r.status, &r.body);
}

#[test]
fn the_openapi_document_describes_what_the_server_answers() {
    let t = tempfile::tempdir().unwrap();
    let lib = t.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    write_input(&lib.join("in.wav"));
    let api = Api::start(&[&lib], &t.path().join("data"), None, 1);
    let r = api.get("/api/openapi.json");
    assert_eq!(r.status, 200);
    let doc = r.body;
    assert_eq!(doc["openapi"], "3.0.3");
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(
        doc["paths"]["/api/v1/events"]["get"]["responses"]["200"]["content"]
            .get("text/event-stream")
            .is_some()
    );

    // Every documented route is served (not the fallback), and the router
    // serves nothing undocumented (checked against the same list in the
    // crate's own tests).
    for (method, route) in aj_server::api::ROUTES {
        assert!(doc["paths"][route][method].is_object(), "{method} {route}");
        let path = route
            .replace("{id}", "999")
            .replace("{path}", "nothing.wav");
        if *route == "/api/v1/events" {
            // An endless stream: its headers say enough.
            let resp = api.client.agent().get(api.url(&path)).call().unwrap();
            assert_eq!(resp.status().as_u16(), 200);
            let ct = resp.headers().get("content-type").unwrap();
            assert!(ct.to_str().unwrap().starts_with("text/event-stream"));
            continue;
        }
        let r = api.call(&method.to_uppercase(), &path, None);
        assert_ne!(r.status, 405, "{method} {route}");
        if r.status == 404 {
            assert!(
                !r.body["error"]
                    .as_str()
                    .unwrap()
                    .contains("no such endpoint"),
                "{method} {route} is not served"
            );
        }
        if *route != "/api/openapi.json" && *route != "/api/v1/files/{path}" {
            conforms(&doc, method, route, &r);
        }
    }
    assert_eq!(api.get("/api/v1/nothing").status, 404);

    // Real answers fit their schemas.
    let r = api.post(
        "/api/v1/jobs",
        Some(&convert(&["in.wav"], "flac", Some("out"))),
    );
    conforms(&doc, "post", "/api/v1/jobs", &r);
    let id = job_id(&r);
    api.wait_for(id, &["done"]);
    for (method, route, path, body) in [
        ("get", "/api/v1/status", "/api/v1/status".to_string(), None),
        ("get", "/api/v1/jobs", "/api/v1/jobs".to_string(), None),
        (
            "get",
            "/api/v1/jobs",
            "/api/v1/jobs?state=bogus".to_string(),
            None,
        ),
        (
            "get",
            "/api/v1/jobs/{id}",
            format!("/api/v1/jobs/{id}"),
            None,
        ),
        (
            "get",
            "/api/v1/jobs/{id}/log",
            format!("/api/v1/jobs/{id}/log"),
            None,
        ),
        (
            "post",
            "/api/v1/jobs/{id}/cancel",
            format!("/api/v1/jobs/{id}/cancel"),
            None,
        ),
        (
            "post",
            "/api/v1/jobs/{id}/retry",
            format!("/api/v1/jobs/{id}/retry"),
            None,
        ),
        (
            "get",
            "/api/v1/library",
            "/api/v1/library?path=out".to_string(),
            None,
        ),
        (
            "get",
            "/api/v1/library",
            "/api/v1/library?path=../x".to_string(),
            None,
        ),
        (
            "post",
            "/api/v1/jobs",
            "/api/v1/jobs".to_string(),
            Some(json!({"kind": "nope"})),
        ),
        (
            "post",
            "/api/v1/jobs",
            "/api/v1/jobs".to_string(),
            Some(convert(&["/etc"], "wav", None)),
        ),
    ] {
        let r = api.call(&method.to_uppercase(), &path, body.as_ref());
        conforms(&doc, method, route, &r);
    }
    // A sync job, and the job document with its summary, fit as well.
    let r = api.post(
        "/api/v1/jobs",
        Some(&json!({"kind": "sync", "source": "out", "mirror": "mirror", "format": "flac"})),
    );
    conforms(&doc, "post", "/api/v1/jobs", &r);
    let sync_id = job_id(&r);
    api.wait_for(sync_id, &["done"]);
    let r = api.get(&format!("/api/v1/jobs/{sync_id}"));
    assert_eq!(r.body["summary"]["sync"]["copied"], 1, "{}", r.body);
    conforms(&doc, "get", "/api/v1/jobs/{id}", &r);
    let r = api.call("DELETE", &format!("/api/v1/jobs/{id}"), None);
    assert_eq!(r.status, 204);
    conforms(&doc, "delete", "/api/v1/jobs/{id}", &r);
}

/// Starts the daemon binary; returns it and its URL.
fn spawn_serve(lib: &Path, data: &Path) -> (std::process::Child, String) {
    let mut child = aj()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--library",
            s(lib),
            "--data",
            s(data),
            "--encoders",
            "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .strip_prefix("aj serve: listening on ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_string();
    // Keep reading, so the daemon never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.by_ref() {});
    (child, url)
}

/// GET on a daemon at `url`: the status and the JSON body.
fn get(url: &str, path: &str) -> (u16, Value) {
    let r = Client::new(url, None).get(path);
    (r.status, r.body)
}

/// POST without a body on a daemon at `url`: the status and the JSON body.
fn post(url: &str, path: &str) -> (u16, Value) {
    let r = Client::new(url, None).post(path, None);
    (r.status, r.body)
}

fn temps_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".aj-tmp"))
        .collect();
    v.sort();
    v
}

#[test]
fn after_kill_9_the_job_is_interrupted_temps_are_removed_and_retry_skips_finished_files() {
    const FILES: usize = 60;
    let t = tempfile::tempdir().unwrap();
    let lib = t.path().join("lib");
    let album = lib.join("album");
    std::fs::create_dir_all(&album).unwrap();
    let inputs: Vec<Vec<i32>> = (0..FILES)
        .map(|i| aj_testkit::noise(44_100, 2, 16, i as u64))
        .collect();
    for (i, samples) in inputs.iter().enumerate() {
        aj_testkit::write_wav(&album.join(format!("{i:03}.wav")), samples, 2, 44_100, 16);
    }
    let data = t.path().join("data");
    let out = lib.join("out");

    let (mut child, url) = spawn_serve(&lib, &data);
    let mut spec = convert(&["album"], "flac", Some("out"));
    spec["threads"] = json!(1);
    let r = Client::new(&url, None).post("/api/v1/jobs", Some(&spec));
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.body["id"].as_i64().unwrap();
    // Running, with a few files finished on disk.
    let (_, job) = get(&url, &format!("/api/v1/jobs/{id}"));
    assert!(
        job["state"] == "queued" || job["state"] == "running",
        "{job}"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let flacs = |dir: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "flac"))
            .collect();
        v.sort();
        v
    };
    while flacs(&out).len() < 3 {
        assert!(Instant::now() < deadline, "no file was converted");
        std::thread::sleep(Duration::from_millis(1));
    }
    let ok = Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    child.wait().unwrap();

    // Whatever was finished is complete.
    let finished = flacs(&out);
    let mut mtimes = Vec::new();
    for f in &finished {
        let i: usize = f.file_stem().unwrap().to_str().unwrap().parse().unwrap();
        let (spec, samples) = decode_all(f);
        assert_eq!(spec.channels, 2);
        assert_eq!(samples, inputs[i], "{}", f.display());
        mtimes.push(std::fs::metadata(f).unwrap().modified().unwrap());
    }
    // kill -9 runs no cleanup: a temporary output may be left. Make sure of
    // one (for a file not yet done), beside names that are not ours.
    let last = format!("{:03}.flac", FILES - 1);
    let planted = out.join(format!(".{last}.Xy12Ab.aj-tmp"));
    std::fs::write(&planted, b"half a file").unwrap();
    let decoys = [
        out.join(".notes.txt.Xy12Ab.aj-tmp"),
        out.join(format!("{last}.aj-tmp")),
        album.join(format!(".{last}.Xy12Ab.aj-tmp")),
    ];
    for d in &decoys {
        std::fs::write(d, b"keep").unwrap();
    }

    let (mut child, url) = spawn_serve(&lib, &data);
    let (_, job) = get(&url, &format!("/api/v1/jobs/{id}"));
    assert_eq!(job["state"], "interrupted", "{job}");
    let left = temps_in(&out);
    let expected: Vec<String> = {
        let mut v = vec![
            ".notes.txt.Xy12Ab.aj-tmp".to_string(),
            format!("{last}.aj-tmp"),
        ];
        v.sort();
        v
    };
    assert_eq!(left, expected, "stale temporary files remain");
    assert!(decoys.iter().all(|d| d.exists()));

    let (status, job) = post(&url, &format!("/api/v1/jobs/{id}/retry"));
    assert_eq!(status, 202, "{job}");
    let deadline = Instant::now() + Duration::from_secs(120);
    let job = loop {
        let (_, job) = get(&url, &format!("/api/v1/jobs/{id}"));
        if job["state"] != "queued" && job["state"] != "running" {
            break job;
        }
        assert!(Instant::now() < deadline, "{job}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(job["summary"]["skipped"], finished.len(), "{job}");
    assert_eq!(job["summary"]["ok"], FILES - finished.len(), "{job}");
    for (f, m) in finished.iter().zip(&mtimes) {
        assert_eq!(
            std::fs::metadata(f).unwrap().modified().unwrap(),
            *m,
            "{} was redone",
            f.display()
        );
    }
    for (i, samples) in inputs.iter().enumerate() {
        let (_, got) = decode_all(&out.join(format!("{i:03}.flac")));
        assert_eq!(&got, samples, "{i:03}.flac");
    }
    assert_eq!(temps_in(&out), expected);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn rip_and_disc_info_jobs_run_through_the_daemon() {
    let t = tempfile::tempdir().unwrap();
    let lib = t.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    let api = Api::start(&[&lib], &t.path().join("data"), None, 2);

    let r = api.post(
        "/api/v1/jobs",
        Some(&json!({"kind": "disc_info", "drive": "demo"})),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let id = job_id(&r);
    let job = api.wait_for(id, &["done", "failed"]);
    assert_eq!(job["state"], "done", "{job}");
    let log = api.get(&format!("/api/v1/jobs/{id}/log"));
    let info = log.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"]["event"] == "disc_info")
        .unwrap_or_else(|| panic!("{}", log.body))
        .clone();
    assert_eq!(info["event"]["info"]["tracks"].as_array().unwrap().len(), 5);

    let r = api.post(
        "/api/v1/jobs",
        Some(&json!({"kind": "rip", "drive": "demo", "output_dir": "rip", "offline": true})),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let id = job_id(&r);
    let job = api.wait_for(id, &["done", "failed"]);
    assert_eq!(job["state"], "done", "{job}");
    let flacs = std::fs::read_dir(lib.join("rip"))
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
    let log = api.get(&format!("/api/v1/jobs/{id}/log"));
    let done = log.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"]["event"] == "track_done")
        .count();
    assert_eq!(done, 5);

    // A rip may not write outside the library, nor read an image from there.
    let r = api.post(
        "/api/v1/jobs",
        Some(&json!({"kind": "rip", "drive": "demo", "output_dir": "../escape", "offline": true})),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let r = api.post(
        "/api/v1/jobs",
        Some(&json!({"kind": "disc_info", "drive": "image:/etc/passwd"})),
    );
    assert_eq!(r.status, 403, "{}", r.body);
}

#[test]
fn serve_with_drive_demo_lists_and_reads_the_demo_disc() {
    let t = tempfile::tempdir().unwrap();
    let lib = t.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    let mut child = aj()
        .args(["serve", "--listen", "127.0.0.1:0", "--library", s(&lib)])
        .args(["--data", s(&t.path().join("data")), "--drive", "demo"])
        .args(["--drive", "demo,offset=6"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .strip_prefix("aj serve: listening on ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_string();
    let said: Vec<String> = lines.by_ref().take(4).map(Result::unwrap).collect();
    std::thread::spawn(move || for _ in lines.by_ref() {});
    assert!(
        said.iter()
            .any(|l| l == "aj serve: drive demo-2 (demo,offset=6)"),
        "{said:?}"
    );
    let (status, list) = get(&url, "/api/v1/drives");
    assert_eq!(status, 200);
    let ids: Vec<&str> = list["drives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["demo", "demo-2"]);
    let (status, disc) = get(&url, "/api/v1/drives/demo-2/disc");
    assert_eq!(status, 200, "{disc}");
    assert_eq!(disc["tracks"].as_array().unwrap().len(), 5);
    child.kill().unwrap();
    child.wait().unwrap();

    // A drive spec that does not parse stops the start, naming it.
    let r = aj()
        .args(["serve", "--listen", "127.0.0.1:0", "--library", s(&lib)])
        .args([
            "--data",
            s(&t.path().join("data")),
            "--drive",
            "demo,offset=x",
        ])
        .output()
        .unwrap();
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("--drive demo,offset=x"), "{err}");
}

/// A join through the daemon: its image and cue sheet land inside the
/// library; a join whose image would land outside is refused before it runs.
#[test]
fn a_join_runs_through_the_daemon_inside_the_library() {
    let t = tempfile::tempdir().unwrap();
    let lib = t.path().join("lib");
    std::fs::create_dir_all(lib.join("album")).unwrap();
    write_input(&lib.join("album/1.wav"));
    write_input(&lib.join("album/2.wav"));
    let api = Api::start(&[&lib], &t.path().join("data"), None, 1);

    let mut spec = convert(&["album/1.wav", "album/2.wav"], "flac", Some("joined"));
    spec["join"] = json!({ "name": "image" });
    let r = api.post("/api/v1/jobs", Some(&spec));
    assert_eq!(r.status, 202, "{}", r.body);
    let job = api.wait_for(job_id(&r), &["done", "failed"]);
    assert_eq!(job["state"], "done", "{job}");
    let cue = std::fs::read_to_string(lib.join("joined/image.cue")).unwrap();
    assert!(cue.contains("FILE \"image.flac\""), "{cue}");
    assert!(cue.contains("TRACK 02 AUDIO"), "{cue}");
    let frames = aj_codec::decode::open(&lib.join("joined/image.flac"))
        .unwrap()
        .total_frames()
        .map(|f| f.0);
    assert_eq!(frames, Some(2 * 22_050));

    let mut outside = convert(&["album/1.wav", "album/2.wav"], "flac", Some("../out"));
    outside["join"] = json!({ "name": "image" });
    let r = api.post("/api/v1/jobs", Some(&outside));
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(!t.path().join("out").exists());
}

/// One HTTP/1.1 request written by hand (headers a browser sends, such as
/// `Host`, `Origin` and `Sec-Fetch-Site`, set as given): the status, the
/// Content-Type and the body as JSON (`Null` when empty or not JSON).
fn raw_request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> (u16, Option<String>, Value) {
    use std::io::{Read, Write};
    let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.write_all(req.as_bytes()).unwrap();
    if let Some(b) = body {
        stream.write_all(b).unwrap();
    }
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("{method} {path}: no header end"));
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let body = &answer[split + 4..];
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let content_type = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("content-type")
            .then(|| v.trim().to_string())
    });
    let value = serde_json::from_slice(body).unwrap_or(Value::Null);
    (status, content_type, value)
}

#[test]
fn cross_site_requests_and_dns_rebinding_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let lib = t.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    write_input(&lib.join("a.wav"));
    let api = Api::start(&[&lib], &t.path().join("data"), None, 1);
    let doc = api.get("/api/openapi.json").body;
    let addr = api.server.addr;
    let host = addr.to_string();
    let mut spec = convert(&["a.wav"], "flac", Some("out"));
    spec["delete_source"] = json!(true);
    let body = spec.to_string();
    let check = |method: &str, route: &str, (status, ct, body): &(u16, Option<String>, Value)| {
        assert_eq!(ct.as_deref(), Some("application/json"), "{status} {body}");
        assert!(
            body["error"].is_string() || *status < 400,
            "{status} {body}"
        );
        aj_testkit::openapi::conforms(&doc, method, route, *status, body);
    };

    // A form or fetch() of another site: text/plain needs no preflight.
    let r = raw_request(
        addr,
        "POST",
        "/api/v1/jobs",
        &[("Host", &host), ("Content-Type", "text/plain")],
        Some(body.as_bytes()),
    );
    assert_eq!(r.0, 415, "{:?}", r);
    assert!(r.2["error"].as_str().unwrap().contains("application/json"));
    check("post", "/api/v1/jobs", &r);
    let r = raw_request(
        addr,
        "POST",
        "/api/v1/jobs",
        &[("Host", &host)],
        Some(body.as_bytes()),
    );
    assert_eq!(r.0, 415, "no Content-Type: {:?}", r);

    // JSON, but from another origin (or marked cross-site by the browser).
    for extra in [
        ("Origin", "http://evil.example"),
        ("Origin", "null"),
        ("Origin", "http://127.0.0.1:1"),
        ("Sec-Fetch-Site", "cross-site"),
    ] {
        let r = raw_request(
            addr,
            "POST",
            "/api/v1/jobs",
            &[("Host", &host), ("Content-Type", "application/json"), extra],
            Some(body.as_bytes()),
        );
        assert_eq!(r.0, 403, "{extra:?}: {:?}", r);
        assert!(r.2["error"].as_str().unwrap().contains("cross"), "{:?}", r);
        check("post", "/api/v1/jobs", &r);
    }
    assert_eq!(api.get("/api/v1/jobs").body["jobs"], json!([]));
    assert!(lib.join("a.wav").is_file(), "a refused job ran");

    // DNS rebinding: evil.example resolved to 127.0.0.1 reads nothing.
    for path in [
        "/api/v1/library?path=.",
        "/api/v1/files/a.wav",
        "/api/v1/jobs",
    ] {
        let r = raw_request(addr, "GET", path, &[("Host", "evil.example:3643")], None);
        assert_eq!(r.0, 403, "{path}: {:?}", r);
        assert!(
            r.2["error"].as_str().unwrap().contains("evil.example"),
            "{:?}",
            r
        );
    }
    let r = raw_request(
        addr,
        "GET",
        "/api/v1/jobs",
        &[("Host", "evil.example")],
        None,
    );
    check("get", "/api/v1/jobs", &r);
    // Loopback names are served, with any port.
    for h in [host.as_str(), "localhost", "[::1]:9", "127.7.7.7"] {
        let r = raw_request(addr, "GET", "/api/v1/status", &[("Host", h)], None);
        assert_eq!(r.0, 200, "{h}: {:?}", r);
    }

    // The server's own page: same origin, JSON.
    let r = raw_request(
        addr,
        "POST",
        "/api/v1/jobs",
        &[
            ("Host", &host),
            ("Origin", &format!("http://{host}")),
            ("Sec-Fetch-Site", "same-origin"),
            ("Content-Type", "application/json"),
        ],
        Some(body.as_bytes()),
    );
    assert_eq!(r.0, 202, "{:?}", r);
    check("post", "/api/v1/jobs", &r);
    let id = r.2["id"].as_i64().unwrap();
    api.wait_for(id, &["done", "failed"]);
    // A POST without a body needs no Content-Type; a cross-site one is
    // refused all the same.
    let path = format!("/api/v1/jobs/{id}/retry");
    let r = raw_request(addr, "POST", &path, &[("Host", &host)], None);
    assert_eq!(r.0, 409, "{:?}", r);
    check("post", "/api/v1/jobs/{id}/retry", &r);
    let path = format!("/api/v1/jobs/{id}");
    let r = raw_request(
        addr,
        "DELETE",
        &path,
        &[("Host", &host), ("Origin", "http://evil.example")],
        None,
    );
    assert_eq!(r.0, 403, "{:?}", r);
    check("delete", "/api/v1/jobs/{id}", &r);
    let r = raw_request(addr, "DELETE", &path, &[("Host", &host)], None);
    assert_eq!(r.0, 204, "{:?}", r);
}

#[test]
fn names_that_are_not_utf8_are_listed_and_fetched() {
    use std::os::unix::ffi::OsStrExt;
    let t = tempfile::tempdir().unwrap();
    let lib = t.path().join("lib");
    let odd = lib.join("odd");
    std::fs::create_dir_all(&odd).unwrap();
    // "café.wav" and "dér" in Latin-1: bytes that are not UTF-8.
    let cafe = odd.join(std::ffi::OsStr::from_bytes(b"caf\xe9.wav"));
    write_input(&cafe);
    let folder = odd.join(std::ffi::OsStr::from_bytes(b"d\xe9r"));
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("notes.txt"), b"inside").unwrap();
    write_input(&odd.join("plain.wav"));
    let api = Api::start(&[&lib], &t.path().join("data"), None, 1);
    let doc = api.get("/api/openapi.json").body;

    let r = api.get("/api/v1/library?path=odd");
    assert_eq!(r.status, 200, "{}", r.body);
    conforms(&doc, "get", "/api/v1/library", &r);
    let entries = r.body["entries"].as_array().unwrap();
    let names: Vec<&str> = entries
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["d\u{fffd}r", "caf\u{fffd}.wav", "plain.wav"]);
    let plain = &entries[2];
    assert_eq!(plain["utf8"], true);
    assert_eq!(
        plain["path"],
        s(&odd.canonicalize().unwrap().join("plain.wav"))
    );
    let file = &entries[1];
    assert_eq!(file["utf8"], false);
    assert_eq!(file["audio"], true);
    let encoded = file["path_encoded"].as_str().unwrap();
    assert!(encoded.ends_with("caf%E9.wav"), "{encoded}");

    // The encoded path fetches the file, and browses the folder.
    let (reply, bytes) = api
        .client
        .raw("GET", &format!("/api/v1/files/{encoded}"), None);
    assert_eq!(reply.status, 200);
    assert_eq!(bytes, std::fs::read(&cafe).unwrap());
    let (reply, bytes) = api.client.raw("GET", "/api/v1/files/odd/caf%E9.wav", None);
    assert_eq!(reply.status, 200, "relative, by hand");
    assert_eq!(bytes, std::fs::read(&cafe).unwrap());
    let dir = entries[0]["path_encoded"].as_str().unwrap();
    let r = api.get(&format!("/api/v1/library?path={dir}"));
    assert_eq!(r.status, 200, "{}", r.body);
    conforms(&doc, "get", "/api/v1/library", &r);
    assert_eq!(r.body["path_encoded"], dir);
    assert_eq!(r.body["entries"][0]["name"], "notes.txt");

    // A name that is not there: a JSON 404, never a 500.
    for path in ["/api/v1/files/odd/caf%E8.wav", "/api/v1/files/%ff"] {
        let r = api.get(path);
        assert_eq!(r.status, 404, "{path}: {}", r.body);
        conforms(&doc, "get", "/api/v1/files/{path}", &r);
    }
    let r = api.get("/api/v1/library?path=odd/%ff");
    assert_eq!(r.status, 404, "{}", r.body);
    conforms(&doc, "get", "/api/v1/library", &r);
}

#[test]
fn rejections_are_json_errors() {
    let t = tempfile::tempdir().unwrap();
    let lib = t.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    let app = App::open(Config {
        libraries: vec![lib.clone()],
        data_dir: t.path().join("data"),
        drives: vec!["demo".into()],
        max_encoders: 1,
        ..Config::default()
    })
    .unwrap();
    let api = Api::serve(app, None);
    let doc = api.get("/api/openapi.json").body;
    for (method, path, route, status) in [
        ("GET", "/api/v1/jobs/%ff", "/api/v1/jobs/{id}", 404),
        ("DELETE", "/api/v1/jobs/%ff", "/api/v1/jobs/{id}", 404),
        (
            "POST",
            "/api/v1/jobs/%ff/cancel",
            "/api/v1/jobs/{id}/cancel",
            404,
        ),
        ("GET", "/api/v1/jobs/%ff/log", "/api/v1/jobs/{id}/log", 404),
        (
            "GET",
            "/api/v1/drives/%ff/disc",
            "/api/v1/drives/{id}/disc",
            404,
        ),
        (
            "POST",
            "/api/v1/drives/%ff/eject",
            "/api/v1/drives/{id}/eject",
            404,
        ),
        ("GET", "/api/v1/files/%ff", "/api/v1/files/{path}", 404),
        (
            "DELETE",
            "/api/v1/settings/%ff",
            "/api/v1/settings/{key}",
            400,
        ),
        ("GET", "/api/v1/jobs?state=%ff", "/api/v1/jobs", 400),
        (
            "GET",
            "/api/v1/jobs/1/log?after=%ff",
            "/api/v1/jobs/{id}/log",
            400,
        ),
    ] {
        let (reply, bytes) = api.client.raw(method, path, None);
        assert_eq!(reply.status, status, "{method} {path}");
        assert_eq!(
            reply.content_type.as_deref(),
            Some("application/json"),
            "{method} {path}"
        );
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert!(body["error"].is_string(), "{method} {path}: {body}");
        aj_testkit::openapi::conforms(&doc, &method.to_lowercase(), route, reply.status, &body);
    }
    // A body over the limit.
    let big = json!({ "kind": "convert", "inputs": ["x".repeat(aj_server::api::BODY_LIMIT)], "format": "flac" });
    for (method, path, route) in [
        ("POST", "/api/v1/jobs", "/api/v1/jobs"),
        (
            "PUT",
            "/api/v1/settings/default_format",
            "/api/v1/settings/{key}",
        ),
    ] {
        let (reply, bytes) = api.client.raw(method, path, Some(&big));
        assert_eq!(reply.status, 413, "{method} {path}");
        assert_eq!(reply.content_type.as_deref(), Some("application/json"));
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert!(body["error"].as_str().unwrap().contains("larger"), "{body}");
        aj_testkit::openapi::conforms(&doc, &method.to_lowercase(), route, 413, &body);
    }
}

/// The feed's events from the first, until one of `kind` about job `id`
/// whose data has `field` = `value` (server-sent events replayed with
/// `Last-Event-ID: 0`).
fn feed_until(url: &str, id: i64, kind: &str, field: &str, value: &str) -> Vec<(String, Value)> {
    let client = Client::new(url, None);
    let resp = client
        .agent()
        .get(client.url("/api/v1/events"))
        .header("Last-Event-ID", "0")
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let mut seen = Vec::new();
    let mut event = String::new();
    for line in BufReader::new(resp.into_body().into_reader()).lines() {
        let line = line.unwrap();
        if let Some(v) = line.strip_prefix("event:") {
            event = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("data:") {
            let data: Value = serde_json::from_str(v.trim()).unwrap();
            let hit = event == kind && data["id"] == id && data[field] == value;
            seen.push((event.clone(), data));
            if hit {
                break;
            }
        }
    }
    seen
}

#[test]
fn after_kill_9_a_retry_skips_finished_items_whatever_on_exists_says() {
    const FILES: usize = 40;
    let t = tempfile::tempdir().unwrap();
    let lib = t.path().join("lib");
    let album = lib.join("album");
    std::fs::create_dir_all(&album).unwrap();
    for i in 0..FILES {
        let samples = aj_testkit::noise(44_100, 2, 16, i as u64);
        aj_testkit::write_wav(&album.join(format!("{i:03}.wav")), &samples, 2, 44_100, 16);
    }
    let data = t.path().join("data");
    let out = lib.join("out/deep");

    let (mut child, url) = spawn_serve(&lib, &data);
    let mut spec = convert(&["album"], "flac", Some("out/deep"));
    spec["threads"] = json!(1);
    spec["on_exists"] = json!("rename");
    let r = Client::new(&url, None).post("/api/v1/jobs", Some(&spec));
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.body["id"].as_i64().unwrap();
    // Kill once a few files are done (and logged as done).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, log) = get(&url, &format!("/api/v1/jobs/{id}/log"));
        let done = log["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["event"]["event"] == "file_done")
            .count();
        if done >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "no file was converted");
        std::thread::sleep(Duration::from_millis(5));
    }
    let ok = Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    child.wait().unwrap();
    let finished: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".flac"))
        .collect();
    assert!(finished.len() >= 3);

    let (mut child, url) = spawn_serve(&lib, &data);
    // Listeners learn that the job was cut off.
    let feed = feed_until(&url, id, "job.state", "state", "interrupted");
    assert!(
        feed.last()
            .is_some_and(|(k, d)| k == "job.state" && d["state"] == "interrupted"),
        "{feed:?}"
    );
    let (status, job) = post(&url, &format!("/api/v1/jobs/{id}/retry"));
    assert_eq!(status, 202, "{job}");
    let deadline = Instant::now() + Duration::from_secs(120);
    let job = loop {
        let (_, job) = get(&url, &format!("/api/v1/jobs/{id}"));
        if job["state"] != "queued" && job["state"] != "running" {
            break job;
        }
        assert!(Instant::now() < deadline, "{job}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(job["state"], "done", "{job}");
    // Each logged item skipped (a file finished on disk but not yet
    // logged when the process died would be numbered: the store cannot
    // know it, so the test waits for the log).
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let expected: Vec<String> = (0..FILES).map(|i| format!("{i:03}.flac")).collect();
    assert_eq!(names, expected, "finished items were converted again");
    let skipped = job["summary"]["skipped"].as_u64().unwrap() as usize;
    assert!(skipped >= 3 && skipped <= finished.len(), "{job}");
    assert_eq!(
        job["summary"]["ok"].as_u64().unwrap() as usize + skipped,
        FILES
    );
    let (_, log) = get(&url, &format!("/api/v1/jobs/{id}/log"));
    let earlier = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"]["reason"] == "done in an earlier run")
        .count();
    assert_eq!(earlier, skipped);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn after_a_crash_empty_folders_the_job_made_are_removed() {
    let t = tempfile::tempdir().unwrap();
    let lib = t.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    write_input(&lib.join("a.wav"));
    let data = t.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // The job had noted three folders it would make; the crash left two
    // empty and one holding a finished file. An empty folder it did not
    // make stays too.
    let made = [lib.join("out"), lib.join("out/x"), lib.join("out/x/y")];
    let kept_full = lib.join("out/full");
    let not_ours = lib.join("mine");
    for d in made.iter().chain([&kept_full, &not_ours]) {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(kept_full.join("a.flac"), b"done").unwrap();
    let id = {
        let store = Store::open(&data.join(aj_server::STORE_FILE)).unwrap();
        let spec = convert(
            &[s(&lib.join("a.wav"))],
            "flac",
            Some(s(&lib.join("out/x/y"))),
        );
        let id = store.insert_job(&spec).unwrap().id;
        store.set_state(id, JobState::Running, None, None).unwrap();
        let mut noted = made.to_vec();
        noted.push(kept_full.clone());
        store.add_job_dirs(id, &noted).unwrap();
        id
    };
    let api = Api::start(&[&lib], &data, None, 1);
    assert_eq!(
        api.get(&format!("/api/v1/jobs/{id}")).body["state"],
        "interrupted"
    );
    assert!(
        !lib.join("out/x").exists(),
        "empty folders the job made stay"
    );
    assert!(kept_full.join("a.flac").is_file());
    assert!(
        lib.join("out").is_dir(),
        "a folder that holds a file was removed"
    );
    assert!(
        not_ours.is_dir(),
        "a folder the job did not make was removed"
    );
    // The feed tells listeners.
    let events = api.events(0, |seen| {
        seen.iter()
            .any(|(_, k, d)| k == "job.state" && d["id"] == id)
    });
    let (_, _, data) = events.last().unwrap();
    assert_eq!(data["state"], "interrupted");
}

#[test]
fn jobs_are_listed_in_pages_on_request() {
    let t = tempfile::tempdir().unwrap();
    let lib = t.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    let data = t.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    {
        let store = Store::open(&data.join(aj_server::STORE_FILE)).unwrap();
        for _ in 0..5 {
            let id = store
                .insert_job(&convert(&["a.wav"], "flac", None))
                .unwrap()
                .id;
            store
                .set_state(id, JobState::Cancelled, None, None)
                .unwrap();
        }
    }
    let api = Api::start(&[&lib], &data, None, 1);
    let doc = api.get("/api/openapi.json").body;
    let page = |q: &str| -> (Vec<i64>, Value) {
        let r = api.get(&format!("/api/v1/jobs{q}"));
        assert_eq!(r.status, 200, "{q}: {}", r.body);
        conforms(&doc, "get", "/api/v1/jobs", &r);
        let ids = r.body["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["id"].as_i64().unwrap())
            .collect();
        (ids, r.body["more"].clone())
    };
    assert_eq!(page(""), (vec![1, 2, 3, 4, 5], json!(false)));
    assert_eq!(page("?limit=2"), (vec![4, 5], json!(true)));
    assert_eq!(page("?limit=2&before=4"), (vec![2, 3], json!(true)));
    assert_eq!(page("?limit=2&before=2"), (vec![1], json!(false)));
    assert_eq!(page("?before=3"), (vec![1, 2], json!(false)));
    assert_eq!(
        page("?state=cancelled&limit=5"),
        (vec![1, 2, 3, 4, 5], json!(false))
    );
    for q in ["?limit=0", "?limit=x", "?before=0", "?limit=10001"] {
        let r = api.get(&format!("/api/v1/jobs{q}"));
        assert_eq!(r.status, 400, "{q}: {}", r.body);
        conforms(&doc, "get", "/api/v1/jobs", &r);
    }
}

#[test]
fn feed_events_fit_the_schemas_the_document_names() {
    let t = tempfile::tempdir().unwrap();
    let lib = t.path().join("lib");
    let album = lib.join("album");
    std::fs::create_dir_all(&album).unwrap();
    for i in 0..8 {
        let samples = aj_testkit::noise(3 * 44_100, 2, 16, i);
        aj_testkit::write_wav(&album.join(format!("{i}.wav")), &samples, 2, 44_100, 16);
    }
    let api = Api::start(&[&lib], &t.path().join("data"), None, 1);
    let doc = api.get("/api/openapi.json").body;
    let mut spec = convert(&["album"], "flac", Some("out"));
    spec["threads"] = json!(1);
    let id = job_id(&api.post("/api/v1/jobs", Some(&spec)));
    let events = api.events(0, |seen| {
        seen.iter()
            .any(|(_, k, d)| k == "job.state" && d["id"] == id && d["state"] == "done")
    });
    let r = api.call("DELETE", &format!("/api/v1/jobs/{id}"), None);
    assert_eq!(r.status, 204);
    let mut all = events;
    all.extend(api.events(all.last().unwrap().0, |seen| {
        seen.iter().any(|(_, k, _)| k == "job.deleted")
    }));

    let data_schema = |name: &str| {
        let target = &doc["components"]["schemas"]["FeedEvent"]["x-event-data"][name];
        assert!(target.is_string(), "{name} has no schema in the document");
        json!({ "$ref": target })
    };
    let mut progress = Vec::new();
    for (n, kind, data) in &all {
        aj_testkit::openapi::check_schema(&doc, &data_schema(kind), data, &format!("{kind} {n}"));
        if kind == "job.progress" && data["id"] == id {
            progress.push(data.clone());
        }
    }
    let kinds: Vec<&str> = all.iter().map(|(_, k, _)| k.as_str()).collect();
    for k in ["job.created", "job.state", "job.deleted"] {
        assert!(kinds.contains(&k), "no {k} in {kinds:?}");
    }
    assert!(!progress.is_empty(), "no job.progress: {kinds:?}");
    let mut last = 0.0;
    for p in &progress {
        assert!(p["stage"].is_string(), "{p}");
        let (item, items) = (p["item"].as_u64().unwrap(), p["items"].as_u64().unwrap());
        assert_eq!(items, 8, "{p}");
        assert!(item <= items, "{p}");
        let percent = p["percent"].as_f64().unwrap();
        assert!(percent >= last, "progress went back: {progress:?}");
        last = percent;
        assert!(p["eta_seconds"].is_null() || p["eta_seconds"].as_f64().unwrap() >= 0.0);
    }
}

/// A stereo 16-bit WAV of a 997 Hz sine at `amp` (of full scale), 2 s.
fn write_tone(path: &Path, amp: f64) {
    let samples = aj_testkit::sine(88_200, 2, 44_100, 16, 997.0, amp);
    aj_testkit::write_wav(path, &samples, 2, 44_100, 16);
}

/// The ReplayGain tags of a file: track and album gain and peak.
fn gain_tags(path: &Path) -> [Option<String>; 4] {
    use aj_codec::tags::TagKey;
    let t = aj_codec::tags::read(path).unwrap();
    [
        TagKey::ReplayGainTrackGain,
        TagKey::ReplayGainTrackPeak,
        TagKey::ReplayGainAlbumGain,
        TagKey::ReplayGainAlbumPeak,
    ]
    .map(|k| t.get(&k).map(str::to_string))
}

#[test]
fn a_gain_job_tags_files_in_the_library_as_aj_gain_does() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().canonicalize().unwrap();
    let lib = root.join("lib");
    let copies = root.join("copies");
    std::fs::create_dir_all(lib.join("album")).unwrap();
    std::fs::create_dir_all(lib.join("linked")).unwrap();
    std::fs::create_dir_all(&copies).unwrap();
    for (name, amp) in [("1.wav", 0.5), ("2.wav", 0.1)] {
        write_tone(&lib.join("album").join(name), amp);
        std::fs::copy(lib.join("album").join(name), copies.join(name)).unwrap();
    }
    std::os::unix::fs::symlink(copies.join("1.wav"), lib.join("linked/out.wav")).unwrap();
    let api = Api::start(&[&lib], &root.join("data"), None, 1);
    let doc = api.get("/api/openapi.json").body;

    // The CLI, here, on the copies.
    let local = util::run(&[
        "gain",
        "--album",
        "--json",
        s(&copies.join("1.wav")),
        s(&copies.join("2.wav")),
    ]);
    assert_eq!(local.status, 0, "{}", local.stderr);

    let spec = json!({ "kind": "gain", "files": ["album/1.wav", "album/2.wav"], "album": true });
    let r = api.post("/api/v1/jobs", Some(&spec));
    assert_eq!(r.status, 202, "{}", r.body);
    conforms(&doc, "post", "/api/v1/jobs", &r);
    let id = job_id(&r);
    let job = api.wait_for(id, &["done", "failed"]);
    assert_eq!(job["state"], "done", "{job}");
    assert_eq!(job["summary"]["ok"], 2);
    assert_eq!(job["spec"]["kind"], "gain");
    conforms(
        &doc,
        "get",
        "/api/v1/jobs/{id}",
        &api.get(&format!("/api/v1/jobs/{id}")),
    );

    // The same tags as `aj gain` wrote into the copies.
    for name in ["1.wav", "2.wav"] {
        let daemon = gain_tags(&lib.join("album").join(name));
        assert!(daemon.iter().all(Option::is_some), "{name}: {daemon:?}");
        assert_eq!(daemon, gain_tags(&copies.join(name)), "{name}");
    }
    // Two tracks 14 dB apart: not one gain.
    assert_ne!(
        gain_tags(&lib.join("album/1.wav"))[0],
        gain_tags(&lib.join("album/2.wav"))[0]
    );

    // The log holds the loudness of each file and of the album, with the
    // values the CLI printed.
    let log = api.get(&format!("/api/v1/jobs/{id}/log"));
    conforms(&doc, "get", "/api/v1/jobs/{id}/log", &log);
    let loudness: Vec<Value> = log.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].clone())
        .filter(|e| e["event"] == "loudness")
        .collect();
    assert_eq!(loudness.len(), 3, "{loudness:?}");
    let printed = local.events();
    for (daemon, here) in loudness.iter().zip(&printed) {
        for key in ["loudness_lufs", "gain_db", "peak", "written", "album"] {
            assert_eq!(daemon.get(key), here.get(key), "{key}: {daemon} vs {here}");
        }
    }
    assert_eq!(loudness[0]["file"], s(&lib.join("album/1.wav")));
    assert_eq!(loudness[2]["album"], true);

    // A folder: its files, one album, the same values.
    let r = api.post(
        "/api/v1/jobs",
        Some(&json!({ "kind": "gain", "files": ["album"], "album": true, "dry_run": true })),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let id = job_id(&r);
    assert_eq!(api.wait_for(id, &["done", "failed"])["state"], "done");
    let log = api.get(&format!("/api/v1/jobs/{id}/log"));
    let album: Vec<&Value> = log.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["event"])
        .filter(|e| e["event"] == "loudness" && e["album"] == true)
        .collect();
    assert_eq!(album.len(), 1);
    assert_eq!(album[0]["folder"], s(&lib.join("album")));
    assert_eq!(album[0]["gain_db"], loudness[2]["gain_db"]);

    // Outside the library, by path or through a link: refused, untouched.
    let before = std::fs::read(copies.join("1.wav")).unwrap();
    for files in [
        json!([s(&copies.join("1.wav"))]),
        json!(["../copies/1.wav"]),
        json!(["linked/out.wav"]),
        json!(["album/1.wav", "linked"]),
    ] {
        let r = api.post(
            "/api/v1/jobs",
            Some(&json!({ "kind": "gain", "files": files })),
        );
        assert_eq!(r.status, 403, "{files} -> {}", r.body);
        conforms(&doc, "post", "/api/v1/jobs", &r);
    }
    let r = api.post(
        "/api/v1/jobs",
        Some(&json!({ "kind": "gain", "files": [] })),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(std::fs::read(copies.join("1.wav")).unwrap(), before);
    assert_eq!(
        api.get("/api/v1/jobs").body["jobs"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

/// Regression: a conversion whose sound options the document does not
/// allow (19 channels, 8-bit MP3) was queued, and its stored spec then fit
/// no schema of the document.
#[test]
fn conversions_with_impossible_sound_options_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let lib = t.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    write_input(&lib.join("in.wav"));
    let api = Api::start(&[&lib], &t.path().join("data"), None, 1);
    let doc = api.get("/api/openapi.json").body;
    for (key, value, format) in [
        ("channels", json!(19), "aiff"),
        ("bits", json!(8), "mp3"),
        ("rate", json!(10), "flac"),
        ("gain_db", json!(99.0), "flac"),
    ] {
        let mut spec = convert(&["in.wav"], format, Some("out"));
        spec[key] = value;
        let r = api.post("/api/v1/jobs", Some(&spec));
        assert_eq!(r.status, 400, "{spec} -> {}", r.body);
        conforms(&doc, "post", "/api/v1/jobs", &r);
    }
    assert_eq!(api.get("/api/v1/jobs").body["jobs"], json!([]));
}
