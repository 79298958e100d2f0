//! The drive routes over real HTTP with the demo drive (the virtual drive
//! holding the built-in demo disc): the list, the disc read now, eject, a
//! drive busy with a rip, one queue per drive beside conversions, and the
//! answers checked against the OpenAPI document.

#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant};

use aj_server::{App, Config, Server};
use aj_testkit::api::{Client, Reply};
use serde_json::{json, Value};

struct Api {
    server: Server,
    client: Client,
    doc: Value,
}

impl Api {
    fn start(root: &Path, drives: &[&str], encoders: usize) -> Api {
        let lib = root.join("lib");
        std::fs::create_dir_all(&lib).unwrap();
        let app = App::open(Config {
            libraries: vec![lib],
            data_dir: root.join("data"),
            token: None,
            max_encoders: encoders,
            drives: drives.iter().map(|d| d.to_string()).collect(),
        })
        .unwrap();
        let server = Server::start(TcpListener::bind("127.0.0.1:0").unwrap(), app).unwrap();
        let client = Client::new(&server.url(), None);
        let doc = client.get("/api/openapi.json").body;
        Api {
            server,
            client,
            doc,
        }
    }

    /// A request whose answer must fit the document (`route` as the
    /// document writes it).
    fn checked(&self, method: &str, route: &str, path: &str, body: Option<&Value>) -> Reply {
        let r = self.client.call(method, path, body);
        conforms(&self.doc, &method.to_lowercase(), route, &r);
        r
    }

    fn get(&self, path: &str) -> Reply {
        self.client.get(path)
    }

    fn submit(&self, spec: &Value) -> i64 {
        let r = self.checked("POST", "/api/v1/jobs", "/api/v1/jobs", Some(spec));
        assert_eq!(r.status, 202, "{}", r.body);
        r.body["id"].as_i64().unwrap()
    }

    fn job(&self, id: i64) -> Value {
        let r = self.get(&format!("/api/v1/jobs/{id}"));
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
    }

    fn wait_for(&self, id: i64, states: &[&str]) -> Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let job = self.job(id);
            if states.iter().any(|s| job["state"] == *s) {
                return job;
            }
            assert!(
                Instant::now() < deadline,
                "job {id} never reached {states:?}: {job}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn conforms(doc: &Value, method: &str, route: &str, r: &Reply) {
    aj_testkit::openapi::conforms(doc, method, route, r.status, &r.body);
}

#[test]
fn the_demo_drive_is_listed_read_and_ejected() {
    let t = tempfile::tempdir().unwrap();
    let api = Api::start(t.path(), &["demo"], 1);

    let r = api.checked("GET", "/api/v1/drives", "/api/v1/drives", None);
    assert_eq!(r.status, 200);
    let drives = r.body["drives"].as_array().unwrap();
    assert_eq!(drives.len(), 1, "{}", r.body);
    let d = &drives[0];
    assert_eq!(
        (d["id"].as_str(), d["spec"].as_str()),
        (Some("demo"), Some("demo"))
    );
    assert_eq!(d["kind"], "demo");
    assert!(
        !d["model"].as_str().unwrap().is_empty(),
        "INQUIRY names it: {d}"
    );
    assert_eq!(
        (d["busy"].as_bool(), d["job"].is_null()),
        (Some(false), true)
    );

    let route = "/api/v1/drives/{id}/disc";
    let r = api.checked("GET", route, "/api/v1/drives/demo/disc", None);
    assert_eq!(r.status, 200, "{}", r.body);
    let disc = &r.body;
    assert_eq!(disc["tracks"].as_array().unwrap().len(), 5);
    assert_eq!(disc["leadout"], 8400);
    assert_eq!(
        disc["cdtext"]["blocks"][0]["disc"]["title"],
        aj_cd::virtual_drive::demo::ALBUM
    );
    assert_eq!(
        disc["cdtext"]["blocks"][0]["disc"]["performer"],
        aj_cd::virtual_drive::demo::PERFORMER
    );
    assert_eq!(disc["mcn"], aj_cd::virtual_drive::demo::MCN);
    assert_eq!(disc["musicbrainz"].as_str().unwrap().len(), 28);

    let eject = "/api/v1/drives/{id}/eject";
    let r = api.checked("POST", eject, "/api/v1/drives/demo/eject", None);
    assert_eq!(r.status, 204, "{}", r.body);

    // Unknown and odd ids: 404 naming the drives there are, never a 5xx.
    for id in [
        "sr0",
        "nope",
        "%2e%2e",
        "demo%2Fx",
        "%00",
        "d%C3%A9mo",
        "x%20y",
    ] {
        let r = api.checked("GET", route, &format!("/api/v1/drives/{id}/disc"), None);
        assert_eq!(r.status, 404, "{id}: {}", r.body);
        assert!(
            r.body["error"].as_str().unwrap().contains("demo"),
            "{}",
            r.body
        );
        let r = api.checked("POST", eject, &format!("/api/v1/drives/{id}/eject"), None);
        assert_eq!(r.status, 404, "{id}: {}", r.body);
    }
    // A disc read through a job names the drive by id, and runs.
    let id = api.submit(&json!({"kind": "disc_info", "drive": "demo"}));
    let job = api.wait_for(id, &["done", "failed"]);
    assert_eq!(job["state"], "done", "{job}");
    // No drive named: the daemon's first drive.
    let id = api.submit(&json!({"kind": "disc_info"}));
    assert_eq!(api.job(id)["spec"]["drive"], "demo");
    api.wait_for(id, &["done"]);
    // A real drive the daemon does not serve is refused.
    let r = api.checked(
        "POST",
        "/api/v1/jobs",
        "/api/v1/jobs",
        Some(&json!({"kind": "rip", "drive": "/dev/sr9", "output_dir": "x"})),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .contains("not one of this server's drives"),
        "{}",
        r.body
    );
}

#[test]
fn a_drive_busy_with_a_rip_refuses_reads_until_the_rip_ends() {
    let t = tempfile::tempdir().unwrap();
    // 20× real time: the 110 s demo disc takes seconds to read.
    let api = Api::start(t.path(), &["demo,speed=20"], 2);
    let id = api.submit(&json!({
        "kind": "rip", "drive": "demo", "output_dir": "slow", "offline": true, "mode": "burst"
    }));
    assert_eq!(
        api.job(id)["spec"]["drive"],
        "demo,speed=20",
        "the id became the spec"
    );
    api.wait_for(id, &["running"]);

    let r = api.checked("GET", "/api/v1/drives", "/api/v1/drives", None);
    let d = &r.body["drives"][0];
    assert_eq!(
        (d["busy"].as_bool(), d["job"].as_i64()),
        (Some(true), Some(id)),
        "{d}"
    );
    let r = api.checked(
        "GET",
        "/api/v1/drives/{id}/disc",
        "/api/v1/drives/demo/disc",
        None,
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.body["error"]
            .as_str()
            .unwrap()
            .contains(&format!("job {id}")),
        "{}",
        r.body
    );
    let r = api.checked(
        "POST",
        "/api/v1/drives/{id}/eject",
        "/api/v1/drives/demo/eject",
        None,
    );
    assert_eq!(r.status, 409, "{}", r.body);

    // The rip's progress counts tracks.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let job = api.job(id);
        if job["progress"]["items"] == 5 {
            break;
        }
        assert!(Instant::now() < deadline, "no track progress: {job}");
        std::thread::sleep(Duration::from_millis(50));
    }

    api.client.post(&format!("/api/v1/jobs/{id}/cancel"), None);
    api.wait_for(id, &["cancelled"]);
    let r = api.get("/api/v1/drives");
    assert_eq!(r.body["drives"][0]["busy"], false, "{}", r.body);
    let r = api.get("/api/v1/drives/demo/disc");
    assert_eq!(r.status, 200, "the drive is free again: {}", r.body);
}

#[test]
fn rips_on_one_drive_queue_while_a_conversion_runs_beside_them() {
    let t = tempfile::tempdir().unwrap();
    let api = Api::start(t.path(), &["demo,speed=40"], 4);
    let samples = aj_testkit::sine(22_050, 2, 44_100, 16, 440.0, 0.5);
    aj_testkit::write_wav(&t.path().join("lib/in.wav"), &samples, 2, 44_100, 16);

    // By id and by spec: the same drive, so the same queue.
    let rip = |dir: &str, drive: &str| json!({"kind": "rip", "drive": drive, "output_dir": dir, "offline": true, "mode": "burst", "verify": false});
    let first = api.submit(&rip("one", "demo"));
    let second = api.submit(&rip("two", "demo,speed=40"));
    let convert = api.submit(&json!({"kind": "convert", "inputs": ["in.wav"], "format": "flac"}));

    // The conversion ends while the first rip still runs, the second waits.
    let done = api.wait_for(convert, &["done", "failed"]);
    assert_eq!(done["state"], "done", "{done}");
    let (a, b) = (api.job(first), api.job(second));
    assert_eq!(a["state"], "running", "{a}");
    assert_eq!(b["state"], "queued", "{b}");

    let a = api.wait_for(first, &["done", "failed"]);
    let b = api.wait_for(second, &["done", "failed"]);
    assert_eq!(
        (a["state"].as_str(), b["state"].as_str()),
        (Some("done"), Some("done"))
    );
    let (a_end, b_start) = (
        a["finished_at"].as_str().unwrap(),
        b["started_at"].as_str().unwrap(),
    );
    assert!(a_end <= b_start, "the rips overlapped: {a_end} > {b_start}");
    assert!(done["finished_at"].as_str().unwrap() <= a_end);
    for dir in ["one", "two"] {
        let names: Vec<String> = std::fs::read_dir(t.path().join("lib").join(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names.iter().filter(|n| n.ends_with(".flac")).count(),
            5,
            "{names:?}"
        );
    }
}

#[test]
fn queued_jobs_keep_their_drive_queue_after_a_restart() {
    let t = tempfile::tempdir().unwrap();
    let api = Api::start(t.path(), &["demo,speed=30"], 2);
    let rip = json!({"kind": "rip", "drive": "demo", "output_dir": "r", "offline": true, "mode": "burst", "verify": false});
    let first = api.submit(&rip);
    let second = api.submit(&json!({"kind": "disc_info", "drive": "demo"}));
    api.wait_for(first, &["running"]);
    assert_eq!(api.job(second)["state"], "queued");
    // Stopping interrupts the rip; the disc read stays queued.
    api.server.stop().unwrap();

    let api = Api::start(t.path(), &["demo,speed=30"], 2);
    let r = api.get(&format!("/api/v1/jobs/{first}"));
    assert_eq!(r.body["state"], "interrupted", "{}", r.body);
    let job = api.wait_for(second, &["done", "failed"]);
    assert_eq!(job["state"], "done", "{job}");
}

/// Every job kind that encodes holds its encoder settings to the bounds the
/// document states, so that a stored job always fits its schema when it is
/// read back.
#[test]
fn encoder_settings_beyond_the_documented_bounds_are_refused() {
    let t = tempfile::tempdir().unwrap();
    let api = Api::start(t.path(), &["demo"], 1);
    let lib = t.path().join("lib");
    std::fs::create_dir_all(lib.join("music")).unwrap();
    let max = api.doc["components"]["schemas"]["EncoderOptions"]["properties"]["threads"]
        ["maximum"]
        .as_u64()
        .unwrap();
    let specs = [
        json!({ "kind": "rip", "drive": "demo", "output_dir": "rips" }),
        json!({ "kind": "convert", "inputs": ["music"], "format": "wav" }),
        json!({ "kind": "sync", "source": "music", "mirror": "mirror", "format": "flac" }),
    ];
    for spec in specs {
        for encoder in [json!({ "threads": max + 1 }), json!({ "level": 9 })] {
            let mut spec = spec.clone();
            spec["encoder"] = encoder;
            let r = api.checked("POST", "/api/v1/jobs", "/api/v1/jobs", Some(&spec));
            assert_eq!(r.status, 400, "{spec} → {}", r.body);
            assert!(r.body["error"].is_string(), "{}", r.body);
        }
    }
    // The rip's own bounds: track numbers and the cache size.
    let rip = &api.doc["components"]["schemas"]["RipJob"]["properties"];
    let last_track = rip["tracks"]["items"]["maximum"].as_u64().unwrap();
    let max_cache = rip["cache_sectors"]["maximum"].as_u64().unwrap();
    for (key, value) in [
        ("tracks", json!([1, last_track + 1])),
        ("cache_sectors", json!(max_cache + 1)),
    ] {
        let mut spec = json!({ "kind": "rip", "drive": "demo", "output_dir": "rips" });
        spec[key] = value;
        let r = api.checked("POST", "/api/v1/jobs", "/api/v1/jobs", Some(&spec));
        assert_eq!(r.status, 400, "{spec} → {}", r.body);
        assert!(
            r.body["error"].as_str().unwrap().contains(key),
            "{}",
            r.body
        );
    }
    let r = api.get("/api/v1/jobs");
    assert_eq!(
        r.body["jobs"].as_array().map(Vec::len),
        Some(0),
        "{}",
        r.body
    );
}
