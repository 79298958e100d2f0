//! `aj jobs`: the jobs of a running daemon — list, show, follow, cancel,
//! retry, log, delete — and the following of a job that `aj convert --server` and
//! `aj rip --server` submit.

use std::io::Write;
use std::time::{Duration, Instant};

use aj_jobs::Event;
use anyhow::{anyhow, bail};
use serde_json::Value;

use crate::cli::{JobsAction, JobsArgs, ServerArgs};
use crate::client::Client;
use crate::cmd::rip::RipReporter;
use crate::progress::Reporter;
use crate::Outcome;

/// How long a follower keeps trying to reach the daemon again after its
/// event stream broke (a daemon being restarted).
const RECONNECT_FOR: Duration = Duration::from_secs(30);

/// Pause between two attempts to reconnect.
const RECONNECT_PAUSE: Duration = Duration::from_millis(500);

pub fn run(args: JobsArgs) -> anyhow::Result<Outcome> {
    let client = Client::new(args.server.as_deref(), args.token_file.as_deref())?;
    match args.action {
        Some(JobsAction::Cancel(a)) => {
            let job = client.cancel(a.id)?;
            print_change(&job, args.json, "cancel requested");
            Ok(Outcome::Ok)
        }
        Some(JobsAction::Retry(a)) => {
            let job = client.retry(a.id)?;
            print_change(&job, args.json, "queued again");
            Ok(Outcome::Ok)
        }
        Some(JobsAction::Delete(a)) => {
            client.delete(a.id)?;
            if args.json {
                println!("{}", serde_json::json!({ "id": a.id, "deleted": true }));
            } else {
                println!("job {}: deleted", a.id);
            }
            Ok(Outcome::Ok)
        }
        Some(JobsAction::Log(a)) => {
            let mut out = std::io::stdout().lock();
            for entry in client.log(a.id, 0)? {
                let event = entry.get("event").cloned().unwrap_or(Value::Null);
                writeln!(out, "{}", event_line(&event))?;
            }
            Ok(Outcome::Ok)
        }
        None => match args.id {
            None => list(&client, args.state.as_deref(), args.json),
            Some(id) if args.follow => follow_and_show(&client, id, args.json),
            Some(id) => {
                let job = client.job(id)?;
                if args.json {
                    println!("{job}");
                } else {
                    print!("{}", describe(&job));
                }
                Ok(Outcome::Ok)
            }
        },
    }
}

/// An engine event as a local `--json` run prints it (the event type's own
/// field order); as stored when it is not one this version knows.
fn event_line(event: &Value) -> String {
    serde_json::from_value::<Event>(event.clone())
        .ok()
        .and_then(|e| serde_json::to_string(&e).ok())
        .unwrap_or_else(|| event.to_string())
}

fn print_change(job: &Value, json: bool, what: &str) {
    if json {
        println!("{job}");
    } else {
        println!(
            "job {}: {what}; now {}",
            job["id"],
            job["state"].as_str().unwrap_or("?")
        );
    }
}

/// `aj jobs [--state S]`: a table, or one JSON object per line.
fn list(client: &Client, state: Option<&str>, json: bool) -> anyhow::Result<Outcome> {
    let jobs = client.jobs(state)?;
    let mut out = std::io::stdout().lock();
    if json {
        for j in &jobs {
            writeln!(out, "{j}")?;
        }
        return Ok(Outcome::Ok);
    }
    if jobs.is_empty() {
        writeln!(out, "no jobs on {}", client.base())?;
        return Ok(Outcome::Ok);
    }
    let rows: Vec<[String; 6]> = jobs
        .iter()
        .map(|j| {
            [
                j["id"].to_string(),
                kind(j).to_string(),
                j["state"].as_str().unwrap_or("?").to_string(),
                progress(j),
                what(j),
                summary(j),
            ]
        })
        .collect();
    let heads = ["ID", "KIND", "STATE", "PROGRESS", "WHAT", "SUMMARY"];
    let mut widths: Vec<usize> = heads.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  "));
            }
        }
        s.trim_end().to_string()
    };
    writeln!(out, "{}", line(heads.to_vec()))?;
    for r in &rows {
        writeln!(out, "{}", line(r.iter().map(String::as_str).collect()))?;
    }
    Ok(Outcome::Ok)
}

fn kind(job: &Value) -> &str {
    job["spec"]["kind"].as_str().unwrap_or("?")
}

/// `42.5% 3/8` while running.
fn progress(job: &Value) -> String {
    let p = &job["progress"];
    match p["percent"].as_f64() {
        Some(pc) => format!(
            "{pc:.0}% {}/{}",
            p["finished"].as_u64().unwrap_or(0),
            p["items"].as_u64().unwrap_or(0)
        ),
        None if job["state"] == "done" => "100%".into(),
        None => "-".into(),
    }
}

/// What the job works on, in a few words.
fn what(job: &Value) -> String {
    let spec = &job["spec"];
    let name = |v: &Value| {
        v.as_str()
            .map(|s| {
                std::path::Path::new(s)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| s.to_string())
            })
            .unwrap_or_default()
    };
    match kind(job) {
        "convert" => {
            let inputs = spec["inputs"].as_array().cloned().unwrap_or_default();
            let first = inputs.first().map(name).unwrap_or_default();
            let more = match inputs.len() {
                0 | 1 => String::new(),
                n => format!(" (+{})", n - 1),
            };
            format!(
                "{first}{more} -> {}",
                spec["format"].as_str().unwrap_or("?")
            )
        }
        "rip" => format!(
            "{} -> {} ({})",
            spec["drive"].as_str().unwrap_or("first drive"),
            name(&spec["output_dir"]),
            spec["format"].as_str().unwrap_or("flac")
        ),
        "disc_info" => spec["drive"].as_str().unwrap_or("first drive").to_string(),
        "sync" => format!(
            "{} -> {} ({})",
            name(&spec["source"]),
            name(&spec["mirror"]),
            spec["format"].as_str().unwrap_or("?")
        ),
        "gain" => {
            let files = spec["files"].as_array().cloned().unwrap_or_default();
            let first = files.first().map(name).unwrap_or_default();
            let more = match files.len() {
                0 | 1 => String::new(),
                n => format!(" (+{})", n - 1),
            };
            let album = if spec["album"] == true { ", album" } else { "" };
            format!("ReplayGain {first}{more}{album}")
        }
        _ => String::new(),
    }
}

/// How the job ended, in a few words.
fn summary(job: &Value) -> String {
    let s = &job["summary"];
    let n = |k: &str| s[k].as_u64().unwrap_or(0);
    let mut text = if s.is_object() {
        let mut t = format!(
            "{} ok, {} failed, {} skipped",
            n("ok"),
            n("failed"),
            n("skipped")
        );
        if s.get("accurate").is_some() {
            t.push_str(&format!(
                "; AccurateRip {} accurate, {} not, {} unverified",
                n("accurate"),
                n("inaccurate"),
                n("unverified")
            ));
        }
        t
    } else {
        String::new()
    };
    if let Some(e) = job["error"].as_str() {
        if !text.is_empty() {
            text.push_str("; ");
        }
        text.push_str(e);
    }
    text
}

/// `aj jobs ID`: one job, a field a line.
fn describe(job: &Value) -> String {
    let mut s = format!(
        "job {}: {} {}\n",
        job["id"],
        kind(job),
        job["state"].as_str().unwrap_or("?")
    );
    let field = |s: &mut String, name: &str, v: String| {
        if !v.is_empty() {
            s.push_str(&format!("  {name:<9} {v}\n"));
        }
    };
    field(&mut s, "what", what(job));
    for (name, key) in [
        ("created", "created_at"),
        ("started", "started_at"),
        ("finished", "finished_at"),
    ] {
        field(&mut s, name, job[key].as_str().unwrap_or("").to_string());
    }
    if job["progress"].is_object() {
        field(&mut s, "progress", progress(job));
    }
    field(&mut s, "summary", summary(job));
    s
}

/// True for done, failed, cancelled and interrupted.
fn finished(job: &Value) -> bool {
    matches!(
        job["state"].as_str(),
        Some("done" | "failed" | "cancelled" | "interrupted")
    )
}

/// How a job is shown while followed: as a local run of its kind shows it.
enum Display {
    Files(Reporter),
    Rip(RipReporter),
}

impl Display {
    fn for_job(job: &Value, json: bool) -> Display {
        if kind(job) == "rip" {
            Display::Rip(RipReporter::new(json))
        } else {
            Display::Files(Reporter::new(json))
        }
    }

    fn show(&self, raw: Value, json: bool) {
        match serde_json::from_value::<Event>(raw.clone()) {
            Ok(Event::DiscInfo { info }) if !json => {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&info).unwrap_or_default()
                );
            }
            Ok(event) => match self {
                Display::Files(r) => r.event(event),
                Display::Rip(r) => r.event(event),
            },
            // An event this version does not know: shown as it came.
            Err(_) if json => println!("{raw}"),
            Err(_) => {}
        }
    }

    fn finish(&self) {
        match self {
            Display::Files(r) => r.finish(),
            Display::Rip(r) => r.finish(),
        }
    }
}

/// Follows job `id` to its end, showing its events; the outcome from how
/// it ended.
///
/// # Errors
/// The daemon cannot be reached (for longer than [`RECONNECT_FOR`]), the
/// job does not exist or was deleted.
pub(crate) fn follow_and_show(client: &Client, id: i64, json: bool) -> anyhow::Result<Outcome> {
    let job = client.job(id)?;
    let display = Display::for_job(&job, json);
    let end = follow(client, id, &mut |e| display.show(e, json));
    display.finish();
    let job = end?;
    let state = job["state"].as_str().unwrap_or("?");
    // On stderr, also with --json: stdout holds only the events.
    if let Some(e) = job["error"].as_str() {
        eprintln!("aj: job {id} {state}: {e}");
    } else if state != "done" {
        eprintln!("aj: job {id} {state}");
    }
    Ok(if state == "done" {
        Outcome::Ok
    } else {
        Outcome::Failed
    })
}

/// Follows job `id` through the daemon's event feed: every event of its
/// log goes to `show` once, in order, from the first; returns the job as
/// it ended. A broken feed is opened again with `Last-Event-ID`, so nothing
/// is missed.
///
/// # Errors
/// See [`follow_and_show`].
pub(crate) fn follow(
    client: &Client,
    id: i64,
    show: &mut dyn FnMut(Value),
) -> anyhow::Result<Value> {
    let mut seq = 0;
    let mut last_event: Option<i64> = None;
    let mut broken_since: Option<Instant> = None;
    loop {
        let mut stream = match client.events(last_event) {
            Ok(s) => s,
            Err(e) => {
                let since = *broken_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= RECONNECT_FOR {
                    return Err(e);
                }
                std::thread::sleep(RECONNECT_PAUSE);
                continue;
            }
        };
        // Listening now: catch up with what happened before.
        drain(client, id, &mut seq, show)?;
        let job = client.job(id)?;
        if finished(&job) {
            drain(client, id, &mut seq, show)?;
            return Ok(job);
        }
        broken_since = None;
        // Until the stream ends or breaks: then it is opened again.
        while let Ok(Some(event)) = stream.next_event() {
            if event.id.is_some() {
                last_event = event.id;
            }
            if event.data.get("id").and_then(Value::as_i64) != Some(id) {
                continue;
            }
            match event.kind.as_str() {
                "job.deleted" => bail!("{}: job {id} was deleted", client.base()),
                "job.progress" => drain(client, id, &mut seq, show)?,
                "job.state" => {
                    drain(client, id, &mut seq, show)?;
                    if finished(&event.data) {
                        return Ok(event.data);
                    }
                }
                _ => {}
            }
        }
        broken_since.get_or_insert_with(Instant::now);
        std::thread::sleep(RECONNECT_PAUSE);
    }
}

/// Shows the log entries after `seq`, and moves `seq` on.
fn drain(
    client: &Client,
    id: i64,
    seq: &mut i64,
    show: &mut dyn FnMut(Value),
) -> anyhow::Result<()> {
    for entry in client.log(id, *seq)? {
        let n = entry
            .get("seq")
            .and_then(Value::as_i64)
            .ok_or_else(|| anyhow!("{}: a log entry of job {id} has no seq", client.base()))?;
        if n <= *seq {
            continue;
        }
        *seq = n;
        if let Some(e) = entry.get("event") {
            show(e.clone());
        }
    }
    Ok(())
}

/// `aj convert --server` and `aj rip --server`: submits `spec`, then
/// follows the job as `aj jobs ID --follow` does. Ctrl-C cancels the job on
/// the daemon (and keeps following until it has stopped); a second Ctrl-C
/// leaves at once.
///
/// # Errors
/// The daemon cannot be reached or refuses the job (its message is shown).
pub(crate) fn submit_and_follow(
    remote: &ServerArgs,
    spec: &aj_jobs::JobSpec,
    json: bool,
) -> anyhow::Result<Outcome> {
    let (client, id) = submit_cancellable(remote, spec, json)?;
    follow_and_show(&client, id, json)
}

/// Submits `spec` to the daemon (saying so unless `json`) and makes Ctrl-C
/// cancel it there (a second one leaves at once). Returns the client and
/// the job's id, for the caller to follow.
///
/// # Errors
/// The daemon cannot be reached or refuses the job (its message is shown).
pub(crate) fn submit_cancellable(
    remote: &ServerArgs,
    spec: &aj_jobs::JobSpec,
    json: bool,
) -> anyhow::Result<(Client, i64)> {
    let client = Client::new(remote.server.as_deref(), remote.token_file.as_deref())?;
    let job = client.submit(spec)?;
    let id = job["id"]
        .as_i64()
        .ok_or_else(|| anyhow!("{}: the submitted job has no id", client.base()))?;
    if !json {
        eprintln!("job {id} queued on {}", client.base());
    }
    let canceller = client.clone();
    let asked = std::sync::atomic::AtomicBool::new(false);
    let _ = ctrlc::set_handler(move || {
        if asked.swap(true, std::sync::atomic::Ordering::SeqCst) {
            eprintln!("aj: stopped following job {id}; it may still be stopping on the daemon");
            std::process::exit(130);
        }
        eprintln!("aj: interrupted; cancelling job {id} (press Ctrl-C again to stop following)");
        if let Err(e) = canceller.cancel(id) {
            eprintln!("aj: {e:#}");
        }
    });
    Ok((client, id))
}

/// `path` made absolute against the current folder (the daemon has
/// another one).
///
/// # Errors
/// The current folder cannot be known.
pub(crate) fn absolute(path: &std::path::Path) -> anyhow::Result<std::path::PathBuf> {
    std::path::absolute(path).map_err(|e| anyhow!("{}: {e}", path.display()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn table_cells() {
        let job = json!({
            "id": 3, "state": "running",
            "spec": {"kind": "convert", "inputs": ["/m/a.wav", "/m/b.wav"], "format": "flac"},
            "progress": {"percent": 42.4, "finished": 1, "items": 2},
            "summary": null, "error": null
        });
        assert_eq!(progress(&job), "42% 1/2");
        assert_eq!(what(&job), "a.wav (+1) -> flac");
        assert_eq!(summary(&job), "");
        let done = json!({
            "id": 4, "state": "failed",
            "spec": {"kind": "rip", "drive": "demo", "output_dir": "/m/rip", "format": "flac"},
            "summary": {"ok": 4, "failed": 1, "skipped": 0, "accurate": 4, "inaccurate": 0, "unverified": 1},
            "error": "1 of 5 files failed (see the job's log)"
        });
        assert_eq!(what(&done), "demo -> rip (flac)");
        let sync = json!({
            "id": 5, "state": "done",
            "spec": {"kind": "sync", "source": "/m/Music", "mirror": "/m/player", "format": "opus"}
        });
        assert_eq!(what(&sync), "Music -> player (opus)");
        assert_eq!(
            summary(&done),
            "4 ok, 1 failed, 0 skipped; AccurateRip 4 accurate, 0 not, 1 unverified; 1 of 5 files failed (see the job's log)"
        );
        assert!(describe(&done).starts_with("job 4: rip failed\n"));
        assert!(finished(&done) && !finished(&job));
    }

    #[test]
    fn events_keep_the_local_field_order() {
        let e = Event::Warning {
            message: "x".into(),
        };
        let stored = serde_json::to_value(&e).unwrap();
        assert_eq!(event_line(&stored), serde_json::to_string(&e).unwrap());
        let unknown = json!({"event": "from_the_future", "a": 1});
        assert_eq!(event_line(&unknown), unknown.to_string());
    }
}
