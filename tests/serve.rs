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
use serde_json::{json, Value};
use util::{aj, decode_all, s};

struct Api {
    server: Server,
    agent: ureq::Agent,
    token: Option<String>,
}

struct Reply {
    status: u16,
    location: Option<String>,
    body: Value,
}

impl Api {
    fn start(libraries: &[&Path], data: &Path, token: Option<&str>, encoders: usize) -> Api {
        let app = App::open(Config {
            libraries: libraries.iter().map(|p| p.to_path_buf()).collect(),
            data_dir: data.to_path_buf(),
            token: token.map(str::to_string),
            max_encoders: encoders,
        })
        .unwrap();
        Self::serve(app, token)
    }

    fn serve(app: Arc<App>, token: Option<&str>) -> Api {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = Server::start(listener, app).unwrap();
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Api {
            server,
            agent,
            token: token.map(str::to_string),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Reply {
        let url = self.url(path);
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let resp = match (method, body) {
            ("GET", _) => {
                let mut r = self.agent.get(&url);
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.call()
            }
            ("DELETE", _) => {
                let mut r = self.agent.delete(&url);
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.call()
            }
            ("POST", body) => {
                let mut r = self
                    .agent
                    .post(&url)
                    .header("Content-Type", "application/json");
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                match body {
                    Some(b) => r.send(b.to_string().as_str()),
                    None => r.send_empty(),
                }
            }
            _ => unreachable!(),
        }
        .unwrap();
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string());
        let text = resp.into_body().read_to_string().unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
        };
        Reply {
            status,
            location,
            body,
        }
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
            .agent
            .get(self.url("/api/v1/events"))
            .header("Last-Event-ID", after.to_string());
        if let Some(t) = &self.token {
            r = r.header("Authorization", format!("Bearer {t}"));
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
    api.token = None;
    let r = api.get("/api/v1/jobs");
    assert_eq!(r.status, 401);
    assert!(r.body["error"].as_str().unwrap().contains("Bearer"));
    api.token = Some("s3cret-tokem".into());
    assert_eq!(api.get("/api/v1/jobs").status, 401);
    assert_eq!(
        api.post("/api/v1/jobs", Some(&convert(&["x.wav"], "flac", None)))
            .status,
        401
    );
    api.token = Some(String::new());
    assert_eq!(api.get("/api/v1/events").status, 401);
    api.token = Some("s3cret-token".into());
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
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let status: Value = serde_json::from_str(
        &agent
            .get(format!("{url}/api/v1/status"))
            .call()
            .unwrap()
            .into_body()
            .read_to_string()
            .unwrap(),
    )
    .unwrap();
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
fn a_token_is_made_for_a_lan_address() {
    // Binding 0.0.0.0 would expose the test machine; the token logic is the
    // same for any non-loopback address, so the check is made on a taken
    // port: the token is created before binding fails.
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
    let token = std::fs::read_to_string(data.join("token")).unwrap();
    assert_eq!(token.trim().len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
